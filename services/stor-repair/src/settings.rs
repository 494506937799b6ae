//! Configuration: flags > environment > `--config` TOML file > defaults.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chain::ChainConfig;
use clap::Parser;
use ledger::SecretKey;
use serde::Deserialize;
use thiserror::Error;

const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 9410);

/// The repair service's command line.
#[derive(Debug, Clone, Default, Parser)]
#[command(
    name = "stor-repair",
    about = "Zero storage repair service: rebuilds lost or corrupt shards where placement puts them and records the moves on chain"
)]
pub struct Cli {
    /// A TOML file with any of the settings below (snake_case keys).
    #[arg(long, env = "STOR_REPAIR_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub shared: service::config::SharedArgs,
    /// File holding the repair key's 32-byte secret seed (64 hex digits).
    /// Its public key must be a repair key of the stor-nodes and an
    /// authorized repairer of the owners (`AuthorizeRepairer`).
    #[arg(long, env = "STOR_REPAIR_KEY_FILE")]
    pub key_file: Option<PathBuf>,
    /// Address of the health and metrics endpoints [default: 127.0.0.1:9410].
    #[arg(long, env = "STOR_REPAIR_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Time between passes, in milliseconds [default: 5000].
    #[arg(long, env = "STOR_REPAIR_INTERVAL_MS")]
    pub interval_ms: Option<u64>,
    /// Failed probes in a row after which a node counts as gone [default: 3].
    #[arg(long, env = "STOR_REPAIR_DOWN_AFTER")]
    pub down_after: Option<u32>,
    /// Ask nodes to re-verify their shards every this many passes; 0 never
    /// [default: 60].
    #[arg(long, env = "STOR_REPAIR_SCRUB_EVERY")]
    pub scrub_every: Option<u64>,
    /// Log one JSON object per line.
    #[arg(long, env = "STOR_REPAIR_LOG_JSON")]
    pub log_json: Option<bool>,
    /// Print the repair key's public key and coin address (on --network)
    /// and exit: the stor-nodes' `--repair-key`, the owners'
    /// `wallet stor repairer authorize KEY`, and where to send fee coins.
    #[arg(long)]
    pub show_key: bool,
}

/// The `--config` file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub database_url: Option<String>,
    pub nats_url: Option<String>,
    pub network: Option<String>,
    pub network_config: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
    pub interval_ms: Option<u64>,
    pub down_after: Option<u32>,
    pub scrub_every: Option<u64>,
    pub log_json: Option<bool>,
}

/// Resolved settings.
#[derive(Clone)]
pub struct Settings {
    pub database_url: String,
    pub nats_url: String,
    pub network: String,
    pub chain_config: Arc<ChainConfig>,
    pub key: SecretKey,
    pub listen: SocketAddr,
    pub interval: Duration,
    pub down_after: u32,
    pub scrub_every: u64,
    pub probe_timeout: Duration,
    pub log_json: bool,
}

/// Why the settings cannot be resolved.
#[derive(Debug, Error)]
pub enum SettingsError {
    #[error(transparent)]
    File(#[from] service::ConfigFileError),
    #[error(transparent)]
    Shared(#[from] service::SharedConfigError),
    #[error("no NATS URL: pass --nats-url or set NATS_URL (repairs are submitted over NATS)")]
    NoNats,
    #[error("no repair key: pass --key-file or set STOR_REPAIR_KEY_FILE")]
    NoKey,
    #[error("repair key file {path}: {reason}")]
    KeyFile { path: String, reason: String },
    #[error("{0} must be at least 1")]
    Zero(&'static str),
}

/// Reads a 32-byte seed written as 64 hex digits.
pub fn read_key_file(path: &std::path::Path) -> Result<SecretKey, SettingsError> {
    let error = |reason: String| SettingsError::KeyFile {
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?;
    let bytes = hex::decode(text.trim()).map_err(|e| error(e.to_string()))?;
    let seed: [u8; 32] = bytes
        .try_into()
        .map_err(|_| error("the seed is not 32 bytes".into()))?;
    Ok(SecretKey::from_seed(seed))
}

impl Cli {
    /// `--show-key`: `public-key HEX` and `address ADDRESS` lines.
    pub fn show_key(&self) -> Result<String, SettingsError> {
        let file: FileConfig = service::load_optional_config_file(self.config.as_deref())?;
        let key = read_key_file(
            self.key_file
                .as_deref()
                .or(file.key_file.as_deref())
                .ok_or(SettingsError::NoKey)?,
        )?;
        let network = self
            .shared
            .network
            .clone()
            .or(file.network)
            .unwrap_or_else(|| "devnet".to_owned());
        let config = match self.shared.network_config.clone().or(file.network_config) {
            Some(path) => ChainConfig::from_file(&path).map_err(|reason| {
                service::SharedConfigError::NetworkFile {
                    path: path.display().to_string(),
                    reason,
                }
            })?,
            None => ChainConfig::shipped(&network).map_err(|reason| {
                service::SharedConfigError::NotShipped {
                    name: network.clone(),
                    reason,
                }
            })?,
        };
        let public_key = key.public_key();
        let address = ledger::Condition::for_public_key(&public_key).address();
        Ok(format!(
            "public-key {}\naddress {}",
            hex::encode(public_key.0),
            address.display(&config.params.address_prefix)
        ))
    }

    pub fn resolve(&self) -> Result<Settings, SettingsError> {
        let file: FileConfig = service::load_optional_config_file(self.config.as_deref())?;
        let shared = self
            .shared
            .layer()
            .over(service::SharedConfig {
                database_url: file.database_url,
                nats_url: file.nats_url,
                network: file.network,
                network_config: file.network_config,
            })
            .resolve(None)?;
        let nats_url = shared.nats_url.ok_or(SettingsError::NoNats)?;
        let key = read_key_file(
            self.key_file
                .as_deref()
                .or(file.key_file.as_deref())
                .ok_or(SettingsError::NoKey)?,
        )?;
        let interval_ms = self.interval_ms.or(file.interval_ms).unwrap_or(5_000);
        let down_after = self.down_after.or(file.down_after).unwrap_or(3);
        if interval_ms == 0 {
            return Err(SettingsError::Zero("interval_ms"));
        }
        if down_after == 0 {
            return Err(SettingsError::Zero("down_after"));
        }
        Ok(Settings {
            database_url: shared.database_url,
            nats_url,
            network: shared.network,
            chain_config: Arc::new(shared.chain_config),
            key,
            listen: self.listen.or(file.listen).unwrap_or(DEFAULT_LISTEN),
            interval: Duration::from_millis(interval_ms),
            down_after,
            scrub_every: self.scrub_every.or(file.scrub_every).unwrap_or(60),
            probe_timeout: Duration::from_secs(2),
            log_json: self.log_json.or(file.log_json).unwrap_or(false),
        })
    }
}
