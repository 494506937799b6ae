//! The wallet's one error type: every message says what went wrong and
//! what to do; `code` is the stable name printed with `--json`.

use std::path::PathBuf;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum WalletError {
    #[error("{0}")]
    Usage(String),
    #[error(
        "no wallet at {path}: create one with `wallet init` or `wallet recover` (or pick another with --wallet)"
    )]
    NoWallet { path: PathBuf },
    #[error(
        "a wallet already exists at {path}: choose another name with --wallet, or delete the file if you hold its mnemonic"
    )]
    WalletExists { path: PathBuf },
    #[error("wrong password for {path} (or the keystore was altered); nothing was changed")]
    WrongPassword { path: PathBuf },
    #[error(
        "keystore {path} is damaged: {reason}; restore it from a backup or recover the wallet from its mnemonic"
    )]
    CorruptKeystore { path: PathBuf, reason: String },
    #[error(
        "{path} is a watch-only wallet (no secret): sign on the machine that holds the keys (`wallet sign FILE`)"
    )]
    WatchOnly { path: PathBuf },
    #[error("mnemonic: {0}")]
    Mnemonic(#[from] ledger::derivation::MnemonicError),
    #[error(
        "no password: run in a terminal to be asked, or set WALLET_PASSWORD or --password-file"
    )]
    NoPassword,
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("configuration file {path}: {reason}")]
    Config { path: PathBuf, reason: String },
    #[error(
        "cannot reach the API at {url}: {reason}; is it running? (`scripts/devnet` serves one at http://127.0.0.1:8080/graphql; set --api or WALLET_API)"
    )]
    Unreachable { url: String, reason: String },
    #[error("the API answered: {message}")]
    Api {
        code: String,
        /// The node's reason code, for refused submissions.
        reason: Option<String>,
        message: String,
    },
    #[error(
        "the API at {url} serves network {served:?}, not {expected:?}: pass the right --api or --network"
    )]
    WrongNetwork {
        url: String,
        served: String,
        expected: String,
    },
    #[error("invalid amount: {0}")]
    Amount(String),
    #[error("invalid address: {0}")]
    Address(String),
    #[error(
        "insufficient funds: {available} available, {needed} needed including a {fee} fee{hint}"
    )]
    InsufficientFunds {
        available: String,
        needed: String,
        fee: String,
        hint: String,
    },
    #[error("insufficient blockstakes: {available} available, {needed} needed{hint}")]
    InsufficientBlockstakes {
        available: u64,
        needed: u64,
        hint: String,
    },
    #[error("{message}{hint}")]
    Rejected {
        reason: String,
        message: String,
        hint: String,
    },
    #[error("transaction file {path}: {reason}")]
    TransactionFile { path: PathBuf, reason: String },
    #[error(
        "transaction {id} was not included within {seconds} s; it may still be; check with `wallet history` or `wallet status {id}`"
    )]
    WaitTimeout { id: String, seconds: u64 },
    #[error(
        "document hash {hash} is not recorded on this chain (register it with `wallet notary register FILE`)"
    )]
    NotRecorded { hash: String },
    #[error(
        "this wallet does not hold the {authority} key: the {authority} condition is {condition}; run the command with the wallet that holds it (nothing was submitted)"
    )]
    NotAuthority {
        /// `mint` or `address authority`.
        authority: &'static str,
        /// The condition in force, as text.
        condition: String,
    },
    #[error("{identity} is {role} of channel {channel} and cannot post there")]
    NotAWriter {
        identity: String,
        channel: String,
        role: String,
    },
    #[error("blueprint {path}: {source}; nothing was submitted")]
    Blueprint {
        path: PathBuf,
        source: chain::domains::compute::blueprint::BlueprintError,
    },
    #[error("blueprint plan: {0}; nothing was submitted")]
    Plan(#[from] chain::domains::compute::blueprint::PlanError),
    #[error("storage: {0}")]
    Storage(String),
    #[error("object {object}: {healthy} of {total} shards verify; {problems}{hint}")]
    Unhealthy {
        object: String,
        healthy: usize,
        total: usize,
        problems: String,
        hint: String,
    },
}

impl WalletError {
    /// The stable code printed with `--json`.
    pub fn code(&self) -> &'static str {
        match self {
            WalletError::Usage(_) => "USAGE",
            WalletError::NoWallet { .. } => "NO_WALLET",
            WalletError::WalletExists { .. } => "WALLET_EXISTS",
            WalletError::WrongPassword { .. } => "WRONG_PASSWORD",
            WalletError::CorruptKeystore { .. } => "CORRUPT_KEYSTORE",
            WalletError::WatchOnly { .. } => "WATCH_ONLY",
            WalletError::Mnemonic(_) => "BAD_MNEMONIC",
            WalletError::NoPassword => "NO_PASSWORD",
            WalletError::Io { .. } => "IO",
            WalletError::Config { .. } => "CONFIG",
            WalletError::Unreachable { .. } => "API_UNREACHABLE",
            WalletError::Api { .. } => "API_ERROR",
            WalletError::WrongNetwork { .. } => "WRONG_NETWORK",
            WalletError::Amount(_) => "BAD_AMOUNT",
            WalletError::Address(_) => "BAD_ADDRESS",
            WalletError::InsufficientFunds { .. } => "INSUFFICIENT_FUNDS",
            WalletError::InsufficientBlockstakes { .. } => "INSUFFICIENT_BLOCKSTAKES",
            WalletError::Rejected { .. } => "REJECTED",
            WalletError::TransactionFile { .. } => "BAD_TRANSACTION_FILE",
            WalletError::WaitTimeout { .. } => "WAIT_TIMEOUT",
            WalletError::NotRecorded { .. } => "NOT_RECORDED",
            WalletError::NotAuthority { .. } => "NOT_AUTHORITY",
            WalletError::NotAWriter { .. } => "NOT_A_WRITER",
            WalletError::Blueprint { .. } => "BAD_BLUEPRINT",
            WalletError::Plan(_) => "BAD_PLAN",
            WalletError::Storage(_) => "STORAGE",
            WalletError::Unhealthy { .. } => "UNHEALTHY",
        }
    }
}
