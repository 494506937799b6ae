//! The command line.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "wallet",
    version,
    about = "The blockstake wallet: keys from a 24-word mnemonic in an encrypted keystore; talks only to the GraphQL API.",
    long_about = "The blockstake wallet. Keys stay on this machine in an encrypted keystore; the wallet \
                  reads the chain and submits transactions through the GraphQL API. --api, --network, \
                  --wallet and --wallet-dir come from the flag, else the environment variable shown, else \
                  the config file (~/.config/blockstake/wallet.toml: api, network, wallet, wallet_dir). \
                  Passwords come from WALLET_PASSWORD, --password-file, or a prompt."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// Wallet name (a file in the wallet folder) or path of a keystore file [default: default].
    #[arg(long, short = 'w', env = "WALLET", global = true)]
    pub wallet: Option<String>,
    /// Folder of named wallets [default: ~/.local/share/blockstake/wallets].
    #[arg(long, env = "WALLET_DIR", global = true)]
    pub wallet_dir: Option<PathBuf>,
    /// GraphQL API URL [default: http://127.0.0.1:8080/graphql].
    #[arg(long, env = "WALLET_API", global = true)]
    pub api: Option<String>,
    /// Network the API must serve (refuses another).
    #[arg(long, env = "WALLET_NETWORK", global = true)]
    pub network: Option<String>,
    /// Config file [default: ~/.config/blockstake/wallet.toml].
    #[arg(long, env = "WALLET_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// File holding the wallet password (else WALLET_PASSWORD, else a prompt).
    #[arg(long, env = "WALLET_PASSWORD_FILE", global = true)]
    pub password_file: Option<PathBuf>,
    /// Print one JSON object (results, or {"error": {code, message}}).
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a wallet: a new 24-word mnemonic, shown once, and an encrypted keystore.
    Init {
        /// Skip retyping words of the mnemonic (for scripts).
        #[arg(long)]
        no_confirm: bool,
        /// Spending keys (addresses) to derive now.
        #[arg(long, default_value_t = 1)]
        keys: u64,
    },
    /// Restore a wallet from its mnemonic (typed, piped on stdin, or a mnemonic file).
    Recover {
        /// Mnemonic file (24 words, `#` comments, optional `# derivation: raw|v1` line),
        /// e.g. .state/devnet/genesis-wallet.txt.
        #[arg(long)]
        from_file: Option<PathBuf>,
        /// Key derivation: v1 (wallets) or raw (the devnet genesis wallet) [default: the file's, else v1].
        #[arg(long)]
        derivation: Option<String>,
        /// Spending keys (addresses) to derive now.
        #[arg(long, default_value_t = 1)]
        keys: u64,
    },
    /// Re-encrypt the keystore under a new password (from WALLET_NEW_PASSWORD,
    /// --new-password-file or a prompt); the file is replaced atomically.
    ChangePassword {
        #[arg(long, env = "WALLET_NEW_PASSWORD_FILE")]
        new_password_file: Option<PathBuf>,
    },
    /// The wallet file, derivation, key counts and whether it is watch-only.
    Info,
    /// Addresses and identity keys.
    #[command(subcommand)]
    Address(AddressCommand),
    /// Coins (spendable, pending, maturing payouts, time-locked) and blockstakes.
    Balance,
    /// Transactions that touch the wallet, newest first.
    History {
        /// Page number, from 1.
        #[arg(long, default_value_t = 1)]
        page: usize,
        /// Transactions per page (at most 100).
        #[arg(long, default_value_t = 20)]
        per_page: usize,
    },
    /// Send coins or blockstakes: `wallet send AMOUNT ADDRESS`, more outputs with --to.
    Send(SendArgs),
    /// Sign a transaction file (offline: needs only the keystore).
    Sign {
        /// Transaction file written by `send --unsigned`.
        file: PathBuf,
        /// Where to write the signed file [default: replace FILE].
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Submit a signed transaction file.
    Submit {
        file: PathBuf,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Whether a transaction is pending or in a block.
    Status {
        /// Transaction ID (hex).
        id: String,
    },
    /// Write a copy of the keystore without the secret, for a watching machine.
    ExportWatchOnly {
        #[arg(long)]
        out: PathBuf,
    },
    /// Write the spending keys as a node key file (`node --key-file`, docs/node.md).
    ExportStakingKey {
        #[arg(long)]
        out: PathBuf,
        /// How many spending keys, from index 0 [default: all derived].
        #[arg(long)]
        count: Option<u64>,
    },
    /// Multisig: address of M-of-N keys, spend from it, merge signatures.
    #[command(subcommand)]
    Multisig(MultisigCommand),
    /// Atomic swaps (hash time lock contracts) with another chain or wallet.
    #[command(subcommand)]
    Swap(SwapCommand),
    /// Minting, for the holder of the network's mint key; coin destruction.
    #[command(subcommand)]
    Mint(MintCommand),
    /// Authorized addresses: status, and updates by the holder of the address authority.
    #[command(subcommand)]
    Auth(AuthCommand),
    /// Notary: record a file's hash on chain, or check when it was recorded.
    #[command(subcommand)]
    Notary(NotaryCommand),
    /// Identity: register, keys, attributes, attestations, vouches,
    /// organizations, authorizations, login (docs/identity.md).
    #[command(subcommand)]
    Identity(IdentityCommand),
    /// Chat: channels, end-to-end encrypted messages (decrypted here), live
    /// delivery, news (docs/chat.md).
    #[command(subcommand)]
    Chat(ChatCommand),
    /// Blueprints: plan, apply or destroy a virtual datacenter described in
    /// YAML (docs/compute.md), owned by this wallet's identity.
    #[command(subcommand)]
    Blueprint(BlueprintCommand),
    /// Compute nodes: register one owned by this wallet's identity.
    #[command(subcommand)]
    Compute(ComputeCommand),
    /// Zero storage: erasure-coded, encrypted objects on stor-nodes (docs/storage.md "Wallet").
    #[command(subcommand)]
    Stor(StorCommand),
    /// Print shell completions.
    Completions { shell: clap_complete::Shell },
}

#[derive(Debug, Subcommand)]
pub enum ChatCommand {
    /// Your channels with your role and unread counts (logs in with your identity key).
    Channels,
    /// Create a channel: `--kind direct NAME` with the identity NAME, or a group or
    /// broadcast channel called NAME with MEMBERS (`name` or `name:role`, role
    /// writer, reader or admin; default writer).
    Create {
        #[arg(long, value_parser = ["direct", "group", "broadcast"])]
        kind: String,
        name: String,
        members: Vec<String>,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Post TEXT in CHANNEL (encrypted in direct and group channels).
    Send {
        channel: String,
        text: String,
        /// The message ID this answers.
        #[arg(long)]
        reply_to: Option<String>,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// The last messages of CHANNEL, decrypted here, oldest first.
    Read {
        channel: String,
        #[arg(long, default_value_t = 20)]
        last: i32,
    },
    /// The members of CHANNEL and their roles.
    Members { channel: String },
    /// Follow CHANNEL live: each message as pending (in a pool) and confirmed (in a block).
    Follow {
        channel: String,
        /// Stop after this many updates.
        #[arg(long)]
        count: Option<usize>,
    },
    /// Follow CHANNEL live and send every line typed (until end of input).
    Open { channel: String },
    /// News of broadcast channels.
    #[command(subcommand)]
    News(NewsCommand),
}

#[derive(Debug, Subcommand)]
pub enum NewsCommand {
    /// Publish a news item in a broadcast channel you write to.
    Publish {
        channel: String,
        #[arg(long)]
        title: String,
        #[arg(long, default_value = "")]
        body: String,
        /// Not in the timeline before this unix time.
        #[arg(long)]
        scheduled_at: Option<u64>,
        /// Shown first until this unix time.
        #[arg(long)]
        sticky_until: Option<u64>,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// The news timeline (sticky first; scheduled items once due).
    List {
        #[arg(long)]
        channel: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum BlueprintCommand {
    /// Show what `apply` would change on chain (nothing is submitted).
    Plan { file: PathBuf },
    /// Create or update the deployment so the chain matches FILE; "no change"
    /// when it already does.
    Apply {
        file: PathBuf,
        /// Coins escrowed as the prepaid balance when the deployment is created.
        #[arg(long, default_value = "10")]
        deposit: String,
        /// Where what is left of the balance is paid when the deployment ends
        /// (destroyed or out of funds) [default: the wallet's first address].
        #[arg(long, value_name = "ADDRESS")]
        refund: Option<String>,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Cancel the deployment FILE names (its workloads stop, capacity is freed).
    Destroy {
        file: PathBuf,
        #[command(flatten)]
        wait: WaitArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum ComputeCommand {
    /// Register the node holding NODE_KEY_FILE (32-byte seed, hex; the node
    /// agent's key) as a compute node owned by this wallet's identity.
    RegisterNode {
        #[arg(long)]
        node_key_file: PathBuf,
        #[arg(long)]
        farm: String,
        /// ISO 3166-1 alpha-2 country code.
        #[arg(long)]
        country: String,
        #[arg(long)]
        city: String,
        #[arg(long)]
        cores: u32,
        #[arg(long)]
        memory_mib: u64,
        #[arg(long)]
        disk_gib: u64,
        /// Where the node's share of every bill is paid
        /// [default: the wallet's first address].
        #[arg(long, value_name = "ADDRESS")]
        payout: Option<String>,
        #[command(flatten)]
        wait: WaitArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum IdentityCommand {
    /// Register NAME with this wallet's identity key 0 (3–32 of a-z, 0-9, -).
    Register {
        name: String,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// An identity as the API shows it (keys, attributes, vouches, memberships)
    /// [default: this wallet's].
    Show { name: Option<String> },
    /// The identity's keys: list, rotate, revoke.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Add an attribute: only a salted commitment goes on chain; the value and
    /// salt stay in <wallet>.identity.json.
    Attr {
        /// Label (e.g. email, email:work, ssh.laptop).
        label: String,
        /// The clear value (never sent).
        value: String,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Attest that SUBJECT's attribute LABEL with COMMITMENT holds the value you checked.
    Attest {
        subject: String,
        label: String,
        /// The commitment (hex) the subject showed you the value and salt of.
        #[arg(long)]
        commitment: String,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Vouch for TARGET (or withdraw a vouch with --withdraw).
    Vouch {
        target: String,
        /// Weight 1–100.
        #[arg(long, default_value_t = 50)]
        weight: u8,
        /// A public claim (at most 280 bytes).
        #[arg(long)]
        claim: Option<String>,
        #[arg(long)]
        withdraw: bool,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Organizations: create, invite, accept, reject, remove.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Let ORGANIZATION see the attributes labelled SCOPES (replaces an earlier grant).
    Grant {
        organization: String,
        #[arg(required = true)]
        scopes: Vec<String>,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Revoke ORGANIZATION's authorization.
    Revoke {
        organization: String,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Log in to the API with the current identity key: prints a bearer token.
    Login,
}

#[derive(Debug, Subcommand)]
pub enum StorCommand {
    /// Store FILE: chunk, compress (--compress), encrypt with a key derived from this
    /// wallet's seed, Reed–Solomon encode, upload the shards to the nodes placement
    /// chooses, verify them, and register the object on chain. Prints the object ID.
    Put {
        file: PathBuf,
        /// Data shards k.
        #[arg(long, short = 'k', default_value_t = 4)]
        data_shards: u8,
        /// Parity shards m.
        #[arg(long, short = 'm', default_value_t = 2)]
        parity_shards: u8,
        /// Failure domains the object must survive losing.
        #[arg(long, default_value_t = 1)]
        tolerate_domains: u8,
        /// Further single nodes it must survive losing.
        #[arg(long, default_value_t = 0)]
        tolerate_nodes: u8,
        /// Failure-domain level: region, datacenter or farm.
        #[arg(long, default_value = "datacenter")]
        level: String,
        /// Chunk size in KiB (1 KiB to 64 MiB).
        #[arg(long, default_value_t = 4096)]
        chunk_kib: u32,
        /// zstd-compress chunks (kept only where it shrinks them).
        #[arg(long)]
        compress: bool,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Fetch OBJECT: any k shards per chunk, checksums verified, decoded, decrypted,
    /// streamed to --out (or standard output with `--out -`).
    Get {
        object: String,
        #[arg(long, short = 'o')]
        out: PathBuf,
    },
    /// Delete OBJECT on chain, then its shards on the nodes.
    Rm {
        object: String,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Verify every shard of OBJECT on its node (fails when one is corrupt, missing or
    /// unreachable); --repair rewrites corrupt or missing shards from the others.
    Check {
        object: String,
        #[arg(long)]
        repair: bool,
    },
    /// This identity's objects (logs in to the API with the identity key).
    Ls,
    /// An object's health and its shards' nodes, or (without OBJECT) the nodes'
    /// health: registered state and a live /healthz probe.
    Status { object: Option<String> },
    /// Storage nodes: register one owned by this wallet's identity.
    #[command(subcommand)]
    Node(StorNodeCommand),
    /// Repair services: let one (by its key) move this identity's shards off
    /// nodes that are gone and record the moves on chain, or stop letting it.
    #[command(subcommand)]
    Repairer(StorRepairerCommand),
}

#[derive(Debug, Subcommand)]
pub enum StorRepairerCommand {
    /// Authorize the repair service whose public key is KEY (64 hex digits).
    Authorize {
        key: String,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Revoke the authorization of the repair service whose public key is KEY.
    Revoke {
        key: String,
        #[command(flatten)]
        wait: WaitArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum StorNodeCommand {
    /// Register the stor-node at ENDPOINT (http://host:port) in failure domain
    /// REGION/DATACENTER/FARM.
    Register {
        endpoint: String,
        #[arg(long)]
        domain: String,
        #[arg(long, default_value_t = 1024)]
        capacity_mib: u64,
        /// The node's report key (hex public key) [default: derived from this wallet's
        /// seed and the endpoint].
        #[arg(long)]
        node_key: Option<String>,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Retire NODE (its ID): it takes no more shards, and the repair service moves
    /// the ones it holds.
    Retire {
        node: String,
        #[command(flatten)]
        wait: WaitArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// The wallet's identity keys and which one acts now.
    List,
    /// Bind the next unused identity key as another active key; it acts from now on
    /// (the previous one stays active until revoked).
    Add {
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Retire the current key and act with the next unused identity key from now on.
    Rotate {
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Revoke a key (hex) of the identity for good.
    Revoke {
        key: String,
        #[command(flatten)]
        wait: WaitArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create an organization (top level, or parent.child as an owner of parent).
    Create {
        path: String,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Invite SUBJECT (an identity, or an organization with --organization) to ORGANIZATION.
    Invite {
        organization: String,
        subject: String,
        /// member or owner.
        #[arg(long, default_value = "member")]
        role: String,
        /// SUBJECT is an organization path.
        #[arg(long = "organization")]
        subject_is_organization: bool,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Accept an invitation to ORGANIZATION (for yourself, or for an organization you own).
    Accept {
        organization: String,
        #[arg(long)]
        on_behalf_of: Option<String>,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Reject an invitation (yours by default), or cancel SUBJECT's as an owner.
    Reject {
        organization: String,
        subject: Option<String>,
        #[arg(long = "organization")]
        subject_is_organization: bool,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Remove SUBJECT's role (as an owner), or leave (SUBJECT = yourself).
    Remove {
        organization: String,
        subject: String,
        #[arg(long = "organization")]
        subject_is_organization: bool,
        #[command(flatten)]
        wait: WaitArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum AddressCommand {
    /// Every derived address.
    List,
    /// The public keys of the addresses (for multisig conditions).
    Keys,
    /// Derive one more address.
    New,
    /// The first address never seen on chain (derives one if all are used).
    Next,
    /// Identity keys (a separate derivation; for identities, not for coins).
    Identity {
        /// Derive identity keys up to this index.
        #[arg(long)]
        derive: Option<u64>,
    },
}

#[derive(Debug, Subcommand)]
pub enum MultisigCommand {
    /// The address of a multisig condition SPEC = M:KEY,KEY,… (hex public keys;
    /// `wallet address keys` prints yours).
    Address { spec: String },
    /// Build an unsigned spend from the multisig's outputs (change returns to it);
    /// each co-signer then runs `wallet sign FILE`, `multisig merge` joins copies.
    Spend {
        spec: String,
        /// Amount in decimal coins.
        amount: String,
        /// Recipient address.
        address: String,
        /// Where to write the unsigned transaction.
        #[arg(long)]
        unsigned: PathBuf,
        /// Fee (decimal coins) [default: the network minimum].
        #[arg(long)]
        fee: Option<String>,
    },
    /// Join the signatures of copies of one transaction file.
    Merge {
        files: Vec<PathBuf>,
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum SwapCommand {
    /// Lock AMOUNT for RECEIVER under a new secret (printed: keep it until you redeem
    /// the other side); you may refund after the lock time.
    Initiate {
        amount: String,
        receiver: String,
        /// Seconds until you may refund [default: 48 hours].
        #[arg(long, default_value_t = 172_800)]
        seconds: u64,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Lock AMOUNT for RECEIVER under the initiator's hashed secret (use a shorter
    /// lock time than the initiator's).
    Participate {
        amount: String,
        receiver: String,
        /// The initiator's hashed secret (SHA-256, hex).
        #[arg(long)]
        hashed_secret: String,
        /// Seconds until you may refund [default: 24 hours].
        #[arg(long, default_value_t = 86_400)]
        seconds: u64,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Show a swap output: amount, parties, hashed secret, lock time, spent or not.
    Audit { output: String },
    /// Claim a swap output paid to you, revealing the secret.
    Redeem {
        output: String,
        /// The secret (hex).
        #[arg(long)]
        secret: String,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Take back a swap output you locked, after its lock time.
    Refund {
        output: String,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// The secret revealed by the transaction that redeemed a swap output.
    ExtractSecret { output: String },
}

#[derive(Debug, Subcommand)]
pub enum MintCommand {
    /// Create AMOUNT new coins for ADDRESS (the fee is paid from this wallet's coins).
    Create {
        amount: String,
        address: String,
        #[command(flatten)]
        signing: AuthorityArgs,
    },
    /// Hand the minting power to NEW: a single-key address, or a multisig M:KEY,KEY,….
    ChangeCondition {
        condition: String,
        #[command(flatten)]
        signing: AuthorityArgs,
    },
    /// Destroy AMOUNT of this wallet's coins (burned; anyone may).
    Destroy {
        amount: String,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// The mint condition in force.
    Show,
}

#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Whether ADDRESS is authorized, and whether the network enforces it.
    Status { address: String },
    /// The address authority in force.
    Show,
    /// Authorize and/or deauthorize addresses (holder of the address authority).
    Update {
        /// An address to authorize (repeatable).
        #[arg(long)]
        authorize: Vec<String>,
        /// An address to deauthorize (repeatable).
        #[arg(long)]
        deauthorize: Vec<String>,
        #[command(flatten)]
        signing: AuthorityArgs,
    },
    /// Hand the address authority to NEW: a single-key address, or a multisig M:KEY,KEY,….
    ChangeAuthority {
        condition: String,
        #[command(flatten)]
        signing: AuthorityArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum NotaryCommand {
    /// Record the file's BLAKE2b-256 hash (the fee is the only cost).
    Register {
        file: PathBuf,
        /// Write the unsigned transaction to this file instead.
        #[arg(long)]
        unsigned: Option<PathBuf>,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Check the file against the chain: when its hash was first recorded.
    Verify { file: PathBuf },
}

#[derive(Debug, Args)]
pub struct SendArgs {
    /// Amount: decimal coins, or whole blockstakes with --blockstakes.
    pub amount: Option<String>,
    /// Recipient address.
    pub address: Option<String>,
    /// Pay the positional AMOUNT to a multisig condition M:KEY,KEY,… instead of an address.
    #[arg(long, conflicts_with = "address")]
    pub multisig: Option<String>,
    /// Another output: ADDRESS=AMOUNT, or ADDRESS=AMOUNT@LOCK (repeatable).
    #[arg(long = "to")]
    pub to: Vec<String>,
    /// Send blockstakes instead of coins (the fee is paid in coins).
    #[arg(long)]
    pub blockstakes: bool,
    /// Time-lock the positional output: a height (below 500000000) or unix seconds.
    #[arg(long)]
    pub lock: Option<u64>,
    /// Arbitrary data as text.
    #[arg(long, conflicts_with = "data_hex")]
    pub data: Option<String>,
    /// Arbitrary data as hex.
    #[arg(long)]
    pub data_hex: Option<String>,
    /// Fee (decimal coins) [default: the network minimum for the size].
    #[arg(long)]
    pub fee: Option<String>,
    /// Write the unsigned transaction to this file instead of signing and submitting
    /// (works on a watch-only wallet).
    #[arg(long)]
    pub unsigned: Option<PathBuf>,
    #[command(flatten)]
    pub wait: WaitArgs,
}

/// Signing of a payload authorized by a mint condition or address authority.
#[derive(Debug, Clone, Args)]
pub struct AuthorityArgs {
    /// For a multisig condition whose keys are in several wallets: write
    /// the transaction unsigned to this file; this wallet (which pays the
    /// fee) and each key holder run `wallet sign`, then `multisig merge`
    /// and `submit`.
    #[arg(long)]
    pub unsigned: Option<PathBuf>,
    #[command(flatten)]
    pub wait: WaitArgs,
}

#[derive(Debug, Clone, Args)]
pub struct WaitArgs {
    /// Return once the node accepted the transaction, without waiting for a block.
    #[arg(long)]
    pub no_wait: bool,
    /// Seconds to wait for inclusion.
    #[arg(long, default_value_t = 120)]
    pub wait_timeout: u64,
}
