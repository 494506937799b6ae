# Devnet operators (sourced by scripts/devnet; used by devnet-storage.sh
# and devnet-compute.sh): an operator is a wallet folder DIR/wallets with
# the wallet `operator`, funded from the genesis wallet and registered
# under an identity, that registers its nodes on chain.

# operator_wallet DIR ARGS…: the wallet CLI on DIR's wallet folder (the
# devnet password, a cheap KDF), against the devnet API.
operator_wallet() {
    local dir=$1
    shift
    WALLET_DIR="$dir/wallets" WALLET_PASSWORD=devnet WALLET_KDF_MEMORY_KIB=8192 \
        "$target_dir/debug/wallet" --api "http://$api_listen/graphql" "$@"
}

# ensure_operator DIR IDENTITY: once (while DIR/wallets/operator.json is
# missing) recovers the genesis wallet into DIR's folder, creates the
# wallet `operator`, sends it 1000 coins from genesis and registers the
# identity IDENTITY for it.
ensure_operator() {
    local dir=$1 identity=$2 address
    [[ -f "$dir/wallets/operator.json" ]] && return
    operator_wallet "$dir" --wallet genesis recover --from-file "$wallet_file" >/dev/null
    address=$(operator_wallet "$dir" --wallet operator --json init --no-confirm | sed -n 's/.*"addresses":\["\([^"]*\)".*/\1/p')
    [[ -n "$address" ]] || { echo "devnet: could not create the wallet of $identity in $dir/wallets" >&2; exit 1; }
    operator_wallet "$dir" --wallet genesis send 1000 "$address" >/dev/null
    operator_wallet "$dir" --wallet operator identity register "$identity" >/dev/null
}
