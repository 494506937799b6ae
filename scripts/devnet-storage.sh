# Zero storage in the devnet (sourced by scripts/devnet; docs/storage.md
# "Devnet"): stor-node processes on loopback, three datacenters × three
# nodes by default, with data and logs under $devnet_dir/stor-J/, and
# their registration on chain by a devnet storage operator (a wallet in
# $devnet_dir/storage/ with the identity `storage-operator`, funded from
# the genesis wallet), so `wallet stor put|get` work against the devnet;
# and the repair service (stor-repair, data and log in $devnet_dir/
# repair/) with a devnet repair key that every stor-node accepts
# (--repair-key), that the operator authorizes (`wallet stor repairer
# authorize`) and funds, so the operator's objects are repaired.
#
#   BSC_DEVNET_STOR_BASE      stor-node J listens on 127.0.0.1:(this + J)  (23400);
#                             the repair service's health/metrics on this + 99 (23499)
#   BSC_DEVNET_STOR_DCS       datacenters eu/dc-1 … (3)
#   BSC_DEVNET_STOR_PER_DC    nodes per datacenter (3: a 4+2 object has a spare
#                             node per datacenter to be repaired onto)
#   BSC_DEVNET_STOR_MIB       capacity of each node in MiB (1024)
#   BSC_DEVNET_STORAGE=0      start no stor-nodes and no repair service
# Health and metrics: http://127.0.0.1:PORT/healthz and /metrics.

stor_base="${BSC_DEVNET_STOR_BASE:-23400}"
stor_dcs="${BSC_DEVNET_STOR_DCS:-3}"
stor_per_dc="${BSC_DEVNET_STOR_PER_DC:-3}"
stor_mib="${BSC_DEVNET_STOR_MIB:-1024}"
stor_bin="$target_dir/debug/stor-node"
stor_dir="$devnet_dir/storage"
repair_bin="$target_dir/debug/stor-repair"
repair_dir="$devnet_dir/repair"
repair_listen="127.0.0.1:$((stor_base + 99))"

stor_port() { echo $((stor_base + $1)); }
stor_count() { echo $((stor_dcs * stor_per_dc)); }
# Node J (from 1) sits in eu/dc-D/farm-F.
stor_domain() { echo "eu/dc-$(( ($1 - 1) / stor_per_dc + 1 ))/farm-$(( ($1 - 1) % stor_per_dc + 1 ))"; }

stor_pid() { dir_pid "$devnet_dir/stor-$1"; }

# The devnet operator's wallet CLI (its own wallet folder and password).
stor_wallet() { operator_wallet "$stor_dir" "$@"; }

# The devnet repair key (a random seed kept in $repair_dir/repair.key,
# its public key in $repair_dir/public-key); prints the public key.
repair_key() {
    mkdir -p "$repair_dir"
    if [[ ! -s "$repair_dir/repair.key" ]]; then
        (umask 077; od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$repair_dir/repair.key")
    fi
    "$repair_bin" --key-file "$repair_dir/repair.key" --network devnet --show-key |
        sed -n 's/^public-key //p' | tee "$repair_dir/public-key"
}

repair_pid() { dir_pid "$repair_dir"; }

start_storage() {
    [[ "${BSC_DEVNET_STORAGE:-1}" == 0 ]] && return
    local index dir pid key
    key=$(repair_key)
    [[ -n "$key" ]] || { echo "devnet: could not read the repair key in $repair_dir/repair.key" >&2; exit 1; }
    for index in $(seq 1 "$(stor_count)"); do
        dir="$devnet_dir/stor-$index"
        if pid=$(stor_pid "$index"); then
            echo "devnet: stor-node $index already runs (pid $pid)"
            continue
        fi
        mkdir -p "$dir"
        nohup "$stor_bin" --listen "127.0.0.1:$(stor_port "$index")" --data-dir "$dir/data" \
            --capacity-mib "$stor_mib" --network devnet --repair-key "$key" \
            >>"$dir/stor-node.log" 2>&1 </dev/null &
        echo $! >"$dir/pid"
        echo "devnet: stor-node $index started (pid $!, http://127.0.0.1:$(stor_port "$index") in $(stor_domain "$index"), log $dir/stor-node.log)"
    done
    for index in $(seq 1 "$(stor_count)"); do
        wait_healthy "http://127.0.0.1:$(stor_port "$index")" "$devnet_dir/stor-$index" \
            "stor-node $index" "$devnet_dir/stor-$index/stor-node.log"
    done
    register_storage
    authorize_repairer "$key"
    start_repair
}

# The operator authorizes the repair key once (recorded in
# $stor_dir/repairer) and sends it coins for the RecordRepair fees.
authorize_repairer() {
    local key=$1 address
    grep -qxF "$key" "$stor_dir/repairer" 2>/dev/null && return
    address=$("$repair_bin" --key-file "$repair_dir/repair.key" --network devnet --show-key |
        sed -n 's/^address //p')
    stor_wallet --wallet operator send 100 "$address" >/dev/null
    stor_wallet --wallet operator stor repairer authorize "$key" >/dev/null
    echo "$key" >"$stor_dir/repairer"
    echo "devnet: repair key $key authorized by storage-operator and funded (100 coins)"
}

start_repair() {
    local pid
    if pid=$(repair_pid); then
        echo "devnet: stor-repair already runs (pid $pid)"
        return
    fi
    mkdir -p "$repair_dir"
    DATABASE_URL=$(sed -n 's/^DATABASE_URL=//p' "$state_dir/env") NATS_URL=$(nats_url) \
        nohup "$repair_bin" --key-file "$repair_dir/repair.key" --network devnet \
        --listen "$repair_listen" --interval-ms 2000 \
        >>"$repair_dir/stor-repair.log" 2>&1 </dev/null &
    echo $! >"$repair_dir/pid"
    wait_healthy "http://$repair_listen" "$repair_dir" stor-repair "$repair_dir/stor-repair.log"
    echo "devnet: stor-repair started (pid $(cat "$repair_dir/pid"), health and metrics http://$repair_listen/healthz /metrics, log $repair_dir/stor-repair.log)"
}

# Registers every node not yet registered (recorded in $stor_dir/registered).
register_storage() {
    mkdir -p "$stor_dir"
    touch "$stor_dir/registered"
    local index endpoint missing=()
    for index in $(seq 1 "$(stor_count)"); do
        endpoint="http://127.0.0.1:$(stor_port "$index")"
        grep -qxF "$endpoint" "$stor_dir/registered" || missing+=("$index")
    done
    [[ ${#missing[@]} -eq 0 ]] && return
    echo "devnet: registering ${#missing[@]} stor-nodes on chain (operator wallet in $stor_dir/wallets)"
    ensure_operator "$stor_dir" storage-operator
    for index in "${missing[@]}"; do
        endpoint="http://127.0.0.1:$(stor_port "$index")"
        stor_wallet --wallet operator stor node register "$endpoint" \
            --domain "$(stor_domain "$index")" --capacity-mib "$stor_mib" >/dev/null
        echo "$endpoint" >>"$stor_dir/registered"
    done
    echo "devnet: stor-nodes registered; store a file with: wallet stor put FILE (docs/storage.md)"
}

stop_storage() {
    local dir
    stop_dir "$repair_dir" "stor-repair"
    for dir in "$devnet_dir"/stor-*; do
        [[ -d "$dir" ]] && stop_dir "$dir" "stor-node ${dir##*-}"
    done
    return 0
}

storage_status() {
    local dir index pid port shards
    for dir in "$devnet_dir"/stor-*; do
        [[ -d "$dir" ]] || continue
        index=${dir##*-}
        port=$(stor_port "$index")
        if pid=$(stor_pid "$index"); then
            shards=$(curl -fsS --max-time 2 "http://127.0.0.1:$port/metrics" 2>/dev/null |
                awk '$1 == "stor_node_shards" { print $2; exit }')
            printf 'stor-%s    running  pid %s  http://127.0.0.1:%s  %s  health %s  shards %s  log %s\n' \
                "$index" "$pid" "$port" "$(stor_domain "$index")" \
                "$(curl -fsS --max-time 2 "http://127.0.0.1:$port/healthz" 2>/dev/null || echo down)" \
                "${shards:-?}" "$dir/stor-node.log"
        else
            printf 'stor-%s    stopped\n' "$index"
        fi
    done
    if pid=$(repair_pid); then
        local metrics
        metrics=$(curl -fsS --max-time 2 "http://$repair_listen/metrics" 2>/dev/null || true)
        printf 'stor-repair running  pid %s  http://%s  health %s  repairs %s  shards rebuilt %s  failures %s  nodes down %s  log %s\n' \
            "$pid" "$repair_listen" \
            "$(curl -fsS --max-time 2 "http://$repair_listen/healthz" 2>/dev/null || echo down)" \
            "$(awk '$1 == "stor_repair_repairs_recorded_total" { print $2 }' <<<"$metrics")" \
            "$(awk '$1 == "stor_repair_shards_rebuilt_total" { print $2 }' <<<"$metrics")" \
            "$(awk '$1 == "stor_repair_failures_total" { print $2 }' <<<"$metrics")" \
            "$(awk '$1 == "stor_repair_nodes_down" { print $2 }' <<<"$metrics")" \
            "$repair_dir/stor-repair.log"
    elif [[ -d "$repair_dir" ]]; then
        printf 'stor-repair stopped\n'
    fi
}
