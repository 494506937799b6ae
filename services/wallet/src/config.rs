//! Where the wallet file is and which API and network it talks to:
//! flags, then environment variables, then the config file
//! (`--config`, `WALLET_CONFIG`, or `$XDG_CONFIG_HOME/blockstake/wallet.toml`,
//! `~/.config/blockstake/wallet.toml`), then defaults.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::WalletError;

/// The API `scripts/devnet` serves.
pub const DEFAULT_API: &str = "http://127.0.0.1:8080/graphql";
/// The wallet used when none is named.
pub const DEFAULT_WALLET: &str = "default";

/// The config file's keys (all optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub api: Option<String>,
    pub network: Option<String>,
    pub wallet: Option<String>,
    pub wallet_dir: Option<PathBuf>,
}

/// Resolved settings.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub api: String,
    pub network: Option<String>,
    pub wallet_path: PathBuf,
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|home| !home.is_empty())
        .map(PathBuf::from)
}

fn xdg(variable: &str, fallback: &str) -> Option<PathBuf> {
    std::env::var_os(variable)
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .or_else(|| home().map(|home| home.join(fallback)))
}

/// The default config file path.
pub fn default_config_path() -> Option<PathBuf> {
    xdg("XDG_CONFIG_HOME", ".config").map(|dir| dir.join("blockstake").join("wallet.toml"))
}

/// The default folder of named wallets.
pub fn default_wallet_dir() -> Option<PathBuf> {
    xdg("XDG_DATA_HOME", ".local/share").map(|dir| dir.join("blockstake").join("wallets"))
}

/// Reads the config file; a missing default file is an empty config.
pub fn load_file(explicit: Option<&Path>) -> Result<FileConfig, WalletError> {
    let (path, required) = match explicit {
        Some(path) => (path.to_owned(), true),
        None => match default_config_path() {
            Some(path) => (path, false),
            None => return Ok(FileConfig::default()),
        },
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if !required && error.kind() == std::io::ErrorKind::NotFound => {
            return Ok(FileConfig::default());
        }
        Err(error) => {
            return Err(WalletError::Config {
                path,
                reason: error.to_string(),
            });
        }
    };
    toml::from_str(&text).map_err(|error| WalletError::Config {
        path,
        reason: error.to_string(),
    })
}

/// Flags and environment (clap merges those two) over the file.
pub fn resolve(
    api: Option<String>,
    network: Option<String>,
    wallet: Option<String>,
    wallet_dir: Option<PathBuf>,
    file: FileConfig,
) -> Result<Resolved, WalletError> {
    let wallet = wallet
        .or(file.wallet)
        .unwrap_or_else(|| DEFAULT_WALLET.to_owned());
    let wallet_path = if wallet.contains('/') || wallet.ends_with(".json") {
        PathBuf::from(wallet)
    } else {
        if wallet.is_empty()
            || !wallet
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(WalletError::Usage(format!(
                "wallet name {wallet:?}: use letters, digits, '-', '_' and '.', or give a path"
            )));
        }
        let dir = wallet_dir
            .or(file.wallet_dir)
            .or_else(default_wallet_dir)
            .ok_or_else(|| {
                WalletError::Usage(
                    "no HOME to keep wallets in: set WALLET_DIR or pass --wallet-dir".into(),
                )
            })?;
        dir.join(format!("{wallet}.json"))
    };
    Ok(Resolved {
        api: api.or(file.api).unwrap_or_else(|| DEFAULT_API.to_owned()),
        network: network.or(file.network).filter(|name| !name.is_empty()),
        wallet_path,
    })
}
