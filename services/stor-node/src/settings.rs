//! Configuration: flags > environment > `--config` TOML file > defaults
//! (a local devnet node on 127.0.0.1:9400 with 1 GiB under
//! `.state/stor-node`).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use ledger::{ChainId, PublicKey};
use serde::Deserialize;
use thiserror::Error;

use crate::store::parse_public_key;

const DEFAULT_LISTEN: &str = "127.0.0.1:9400";
const DEFAULT_DATA_DIR: &str = ".state/stor-node";
const DEFAULT_CAPACITY_MIB: u64 = 1024;

/// The stor-node's command line.
#[derive(Debug, Clone, Default, Parser)]
#[command(
    name = "stor-node",
    about = "Zero storage node: keeps erasure-coded shards on disk and serves them over HTTP"
)]
pub struct Cli {
    /// A TOML file with any of the settings below (snake_case keys).
    #[arg(long, env = "STOR_NODE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address of the HTTP API, health and metrics [default: 127.0.0.1:9400].
    #[arg(long, env = "STOR_NODE_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Directory holding the shards [default: .state/stor-node].
    #[arg(long, env = "STOR_NODE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Space offered, in MiB [default: 1024].
    #[arg(long, env = "STOR_NODE_CAPACITY_MIB")]
    pub capacity_mib: Option<u64>,
    /// Public keys (hex) of repair services allowed to write and delete any
    /// object's shards; comma-separated in the environment.
    #[arg(
        long = "repair-key",
        env = "STOR_NODE_REPAIR_KEYS",
        value_delimiter = ','
    )]
    pub repair_keys: Vec<String>,
    /// Network name; write signatures are bound to its chain ID [default: devnet].
    #[arg(long, env = "BSC_NETWORK")]
    pub network: Option<String>,
    /// Network configuration file for a network that is not shipped.
    #[arg(long, env = "BSC_NETWORK_CONFIG")]
    pub network_config: Option<PathBuf>,
    /// Log one JSON object per line.
    #[arg(long, env = "STOR_NODE_LOG_JSON")]
    pub log_json: Option<bool>,
}

/// The `--config` file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub capacity_mib: Option<u64>,
    pub repair_keys: Option<Vec<String>>,
    pub network: Option<String>,
    pub network_config: Option<PathBuf>,
    pub log_json: Option<bool>,
}

/// Resolved settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub capacity_bytes: u64,
    pub repair_keys: Vec<PublicKey>,
    pub network: String,
    pub chain_id: ChainId,
    pub log_json: bool,
}

/// Why the settings cannot be resolved.
#[derive(Debug, Error)]
pub enum SettingsError {
    #[error(transparent)]
    File(#[from] service::ConfigFileError),
    #[error("repair key {0:?} is not 64 hex characters")]
    RepairKey(String),
    #[error("capacity {0} MiB is too large")]
    Capacity(u64),
    #[error(transparent)]
    Network(#[from] service::SharedConfigError),
}

impl Cli {
    pub fn resolve(&self) -> Result<Settings, SettingsError> {
        let file: FileConfig = service::load_optional_config_file(self.config.as_deref())?;
        let listen = self.listen.or(file.listen).unwrap_or_else(|| {
            DEFAULT_LISTEN
                .parse()
                .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 9400)))
        });
        let data_dir = self
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let capacity_mib = self
            .capacity_mib
            .or(file.capacity_mib)
            .unwrap_or(DEFAULT_CAPACITY_MIB);
        let capacity_bytes = capacity_mib
            .checked_mul(1 << 20)
            .ok_or(SettingsError::Capacity(capacity_mib))?;
        let keys = if self.repair_keys.is_empty() {
            file.repair_keys.unwrap_or_default()
        } else {
            self.repair_keys.clone()
        };
        let repair_keys = keys
            .iter()
            .filter(|key| !key.trim().is_empty())
            .map(|key| parse_public_key(key).ok_or_else(|| SettingsError::RepairKey(key.clone())))
            .collect::<Result<Vec<_>, _>>()?;
        // The network is resolved the way every service resolves it; the
        // database URL is not needed, so a placeholder satisfies the layer.
        let shared = service::SharedConfig {
            database_url: Some(String::new()),
            nats_url: None,
            network: self.network.clone().or(file.network),
            network_config: self.network_config.clone().or(file.network_config),
        }
        .resolve(None)?;
        Ok(Settings {
            listen,
            data_dir,
            capacity_bytes,
            repair_keys,
            chain_id: shared.chain_config.params.chain_id,
            network: shared.network,
            log_json: self.log_json.or(file.log_json).unwrap_or(false),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_over_file_over_defaults_and_bad_keys_refused() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("stor-node.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9999\"\ncapacity_mib = 5\nrepair_keys = [\"0101010101010101010101010101010101010101010101010101010101010101\"]\n",
        )
        .unwrap();
        let cli = Cli {
            config: Some(path.clone()),
            capacity_mib: Some(7),
            ..Cli::default()
        };
        let settings = cli.resolve().unwrap();
        assert_eq!(settings.listen.port(), 9999);
        assert_eq!(settings.capacity_bytes, 7 << 20);
        assert_eq!(settings.repair_keys, vec![PublicKey([1; 32])]);
        assert_eq!(settings.network, "devnet");
        assert_eq!(settings.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
        let bad = Cli {
            repair_keys: vec!["zz".into()],
            ..Cli::default()
        };
        assert!(matches!(bad.resolve(), Err(SettingsError::RepairKey(_))));
        std::fs::write(&path, "colour = 1\n").unwrap();
        assert!(matches!(cli.resolve(), Err(SettingsError::File(_))));
    }
}
