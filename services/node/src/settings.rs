//! The node's configuration: command-line flags, then environment
//! variables, then a TOML file (`--config`), then defaults that work for a
//! local devnet. Every option and its variable is listed by `node --help`
//! and in `docs/node.md`. Keys never come from the command line: only the
//! path of a key or mnemonic file does.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chain::ChainConfig;
use clap::{Args, Parser, Subcommand};
use ledger::SecretKey;
use serde::Deserialize;
use thiserror::Error;

use crate::keys::{self, KeyError};

/// Default p2p listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:23112";
/// Default health and metrics address.
pub const DEFAULT_HEALTH: &str = "127.0.0.1:23180";
/// Default size of the block store's page cache, in MiB.
pub const DEFAULT_STORE_CACHE_MIB: u64 = 64;
/// Largest accepted page cache, in MiB (64 GiB).
const MAX_STORE_CACHE_MIB: u64 = 65_536;

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "node",
    about = "The blockstake chain node: p2p sync, block creation, events on NATS JetStream, transaction submission.",
    long_about = "The blockstake chain node. Each option can also be given as the environment \
                  variable shown, or as the key of the same name (with '_' for '-') in the TOML \
                  file named by --config; flags win over the environment, which wins over the file."
)]
pub struct Cli {
    #[command(flatten)]
    pub options: Options,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What to do (default: run the node).
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the node (the default).
    Run,
    /// Publish the applied messages of a height range again, from the
    /// outbox in the data dir, with their original outbox sequence and
    /// message ID (JetStream drops those still in its duplicate window).
    Republish {
        /// First height.
        #[arg(long)]
        from: u64,
        /// Last height (inclusive).
        #[arg(long)]
        to: u64,
    },
    /// Write the devnet genesis wallet (public seed, local testing only)
    /// as a mnemonic file and print it.
    DevnetWallet {
        /// Where to write the mnemonic file.
        #[arg(long)]
        out: PathBuf,
    },
}

/// Options shared by every command; all optional so the file can fill in.
#[derive(Debug, Default, Args, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct Options {
    /// TOML configuration file (lowest precedence).
    #[arg(long, env = "NODE_CONFIG", global = true)]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Data directory: block store, outbox, node files [default: .state/node].
    #[arg(long, env = "NODE_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Network: a shipped name (devnet, testnet, mainnet) or a network file [default: devnet].
    #[arg(long, env = "NODE_NETWORK", global = true)]
    pub network: Option<String>,
    /// P2p listen address [default: 127.0.0.1:23112].
    #[arg(long, env = "NODE_LISTEN", global = true)]
    pub listen: Option<SocketAddr>,
    /// Address to advertise to peers (default: the bound address if specific).
    #[arg(long, env = "NODE_ADVERTISE", global = true)]
    pub advertise: Option<SocketAddr>,
    /// Seed peers, comma-separated host:port.
    #[arg(long, env = "NODE_SEEDS", value_delimiter = ',', global = true)]
    pub seeds: Option<Vec<SocketAddr>>,
    /// NATS server URL, or a comma-separated list of a cluster's servers; without it the node neither publishes nor answers submissions.
    #[arg(long, env = "NATS_URL", global = true)]
    pub nats_url: Option<String>,
    /// Publish block events to JetStream (one node per network should) [default: true].
    #[arg(long, env = "NODE_PUBLISH", global = true)]
    pub publish: Option<bool>,
    /// JetStream stream replicas (3 on a NATS cluster) [default: 1].
    #[arg(long, env = "NODE_STREAM_REPLICAS", global = true)]
    pub stream_replicas: Option<usize>,
    /// JetStream duplicate window in seconds [default: 3600].
    #[arg(long, env = "NODE_DUPLICATE_WINDOW", global = true)]
    pub duplicate_window: Option<u64>,
    /// Health and metrics listen address (/healthz, /metrics) [default: 127.0.0.1:23180].
    #[arg(long, env = "NODE_HEALTH_LISTEN", global = true)]
    pub health_listen: Option<SocketAddr>,
    /// File with block-creation keys, one 64-hex-digit ed25519 seed per line.
    #[arg(long, env = "NODE_KEY_FILE", global = true)]
    pub key_file: Option<PathBuf>,
    /// File with a 24-word BIP-39 wallet mnemonic for block-creation keys.
    #[arg(long, env = "NODE_MNEMONIC_FILE", global = true)]
    pub mnemonic_file: Option<PathBuf>,
    /// How many spending keys to derive from the mnemonic [default: 1].
    #[arg(long, env = "NODE_MNEMONIC_KEYS", global = true)]
    pub mnemonic_keys: Option<u64>,
    /// Log one JSON object per line [default: false].
    #[arg(long, env = "NODE_LOG_JSON", global = true)]
    pub log_json: Option<bool>,
    /// Seconds between dial rounds of the p2p layer [default: 5].
    #[arg(long, env = "NODE_DIAL_INTERVAL", global = true)]
    pub dial_interval: Option<f64>,
    /// Seconds before an unanswered p2p request is reported [default: 60].
    #[arg(long, env = "NODE_REQUEST_TIMEOUT", global = true)]
    pub request_timeout: Option<f64>,
    /// Seconds a misbehaving peer's IP stays banned [default: 3600].
    #[arg(long, env = "NODE_BAN_DURATION", global = true)]
    pub ban_duration: Option<f64>,
    /// Page cache of the block store (redb), in MiB: most of the node's
    /// resident memory [default: 64].
    #[arg(long, env = "NODE_STORE_CACHE_MIB", global = true)]
    pub store_cache_mib: Option<u64>,
}

/// Why the configuration is unusable.
#[derive(Debug, Error)]
pub enum SettingsError {
    #[error(transparent)]
    File(#[from] service::ConfigFileError),
    #[error("network '{name}': {source}")]
    Network {
        name: String,
        source: chain::ConfigError,
    },
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error("give either a key file or a mnemonic file, not both ({key} and {mnemonic})")]
    TwoKeySources { key: PathBuf, mnemonic: PathBuf },
    #[error("{option} = {value}: {rule}")]
    Invalid {
        option: &'static str,
        value: String,
        rule: &'static str,
    },
}

/// Everything the node runs with, resolved.
#[derive(Debug, Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub network: Arc<ChainConfig>,
    pub listen: SocketAddr,
    pub advertise: Option<SocketAddr>,
    pub seeds: Vec<SocketAddr>,
    pub nats_url: Option<String>,
    pub publish: bool,
    pub stream_replicas: usize,
    pub duplicate_window: Duration,
    pub health_listen: SocketAddr,
    pub keys: Vec<SecretKey>,
    pub log_json: bool,
    pub dial_interval: Duration,
    pub request_timeout: Duration,
    pub ban_duration: Duration,
    /// Page cache of the block store, in MiB.
    pub store_cache_mib: u64,
}

fn or<T>(first: Option<T>, second: Option<T>) -> Option<T> {
    first.or(second)
}

fn seconds(
    option: &'static str,
    value: Option<f64>,
    default: f64,
) -> Result<Duration, SettingsError> {
    let value = value.unwrap_or(default);
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or(SettingsError::Invalid {
            option,
            value: value.to_string(),
            rule: "must be a positive number of seconds",
        })
}

impl Options {
    /// Fills what flags and environment left open from the file.
    pub fn merged(self) -> Result<Options, SettingsError> {
        let Some(path) = self.config.clone() else {
            return Ok(self);
        };
        let file: Options = service::load_config_file(&path)?;
        Ok(Options {
            config: self.config,
            data_dir: or(self.data_dir, file.data_dir),
            network: or(self.network, file.network),
            listen: or(self.listen, file.listen),
            advertise: or(self.advertise, file.advertise),
            seeds: or(self.seeds, file.seeds),
            nats_url: or(self.nats_url, file.nats_url),
            publish: or(self.publish, file.publish),
            stream_replicas: or(self.stream_replicas, file.stream_replicas),
            duplicate_window: or(self.duplicate_window, file.duplicate_window),
            health_listen: or(self.health_listen, file.health_listen),
            key_file: or(self.key_file, file.key_file),
            mnemonic_file: or(self.mnemonic_file, file.mnemonic_file),
            mnemonic_keys: or(self.mnemonic_keys, file.mnemonic_keys),
            log_json: or(self.log_json, file.log_json),
            dial_interval: or(self.dial_interval, file.dial_interval),
            request_timeout: or(self.request_timeout, file.request_timeout),
            ban_duration: or(self.ban_duration, file.ban_duration),
            store_cache_mib: or(self.store_cache_mib, file.store_cache_mib),
        })
    }

    /// Resolves defaults, the network and the keys.
    pub fn resolve(self) -> Result<Settings, SettingsError> {
        let options = self.merged()?;
        let network_name = options.network.unwrap_or_else(|| "devnet".to_owned());
        let network = load_network(&network_name)?;
        let keys = match (&options.key_file, &options.mnemonic_file) {
            (Some(key), Some(mnemonic)) => {
                return Err(SettingsError::TwoKeySources {
                    key: key.clone(),
                    mnemonic: mnemonic.clone(),
                });
            }
            (Some(key), None) => keys::load_key_file(key)?,
            (None, Some(mnemonic)) => {
                keys::load_mnemonic_file(mnemonic, options.mnemonic_keys.unwrap_or(1))?
            }
            (None, None) => Vec::new(),
        };
        let store_cache_mib = options.store_cache_mib.unwrap_or(DEFAULT_STORE_CACHE_MIB);
        if !(1..=MAX_STORE_CACHE_MIB).contains(&store_cache_mib) {
            return Err(SettingsError::Invalid {
                option: "store_cache_mib",
                value: store_cache_mib.to_string(),
                rule: "must be 1 to 65536 MiB",
            });
        }
        let stream_replicas = options.stream_replicas.unwrap_or(1);
        if !(1..=5).contains(&stream_replicas) {
            return Err(SettingsError::Invalid {
                option: "stream_replicas",
                value: stream_replicas.to_string(),
                rule: "JetStream allows 1 to 5 replicas",
            });
        }
        let default_listen: SocketAddr =
            DEFAULT_LISTEN.parse().map_err(|_| SettingsError::Invalid {
                option: "listen",
                value: DEFAULT_LISTEN.to_owned(),
                rule: "default must parse",
            })?;
        let default_health: SocketAddr =
            DEFAULT_HEALTH.parse().map_err(|_| SettingsError::Invalid {
                option: "health_listen",
                value: DEFAULT_HEALTH.to_owned(),
                rule: "default must parse",
            })?;
        Ok(Settings {
            data_dir: options
                .data_dir
                .unwrap_or_else(|| PathBuf::from(".state/node")),
            network: Arc::new(network),
            listen: options.listen.unwrap_or(default_listen),
            advertise: options.advertise,
            seeds: options.seeds.unwrap_or_default(),
            nats_url: options.nats_url.filter(|url| !url.is_empty()),
            publish: options.publish.unwrap_or(true),
            stream_replicas,
            duplicate_window: Duration::from_secs(options.duplicate_window.unwrap_or(3600).max(1)),
            health_listen: options.health_listen.unwrap_or(default_health),
            keys,
            log_json: options.log_json.unwrap_or(false),
            dial_interval: seconds("dial_interval", options.dial_interval, 5.0)?,
            request_timeout: seconds("request_timeout", options.request_timeout, 60.0)?,
            ban_duration: seconds("ban_duration", options.ban_duration, 3600.0)?,
            store_cache_mib,
        })
    }
}

/// A shipped network by name, or a network file by path.
pub fn load_network(name: &str) -> Result<ChainConfig, SettingsError> {
    let error = |source| SettingsError::Network {
        name: name.to_owned(),
        source,
    };
    if matches!(name, "devnet" | "testnet" | "mainnet") {
        ChainConfig::shipped(name).map_err(error)
    } else {
        ChainConfig::from_file(Path::new(name)).map_err(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_file_and_defaults_fill_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("node.toml");
        std::fs::write(
            &file,
            "data_dir = \"/from/file\"\nlisten = \"127.0.0.1:1\"\nseeds = [\"127.0.0.1:9\"]\npublish = false\n",
        )
        .unwrap();
        let cli = Cli::parse_from([
            "node",
            "--config",
            file.to_str().unwrap(),
            "--listen",
            "127.0.0.1:2",
        ]);
        let settings = cli.options.resolve().unwrap();
        assert_eq!(settings.listen, "127.0.0.1:2".parse().unwrap());
        assert_eq!(settings.data_dir, PathBuf::from("/from/file"));
        assert_eq!(settings.seeds, vec!["127.0.0.1:9".parse().unwrap()]);
        assert!(!settings.publish);
        assert_eq!(settings.network.params.network_name, "devnet");
        assert!(settings.keys.is_empty());
    }

    #[test]
    fn unknown_file_keys_and_bad_values_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("node.toml");
        std::fs::write(&file, "lisen = \"x\"\n").unwrap();
        let cli = Cli::parse_from(["node", "--config", file.to_str().unwrap()]);
        let error = cli.options.resolve().unwrap_err().to_string();
        assert!(error.contains("lisen"), "{error}");
        let cli = Cli::parse_from(["node", "--stream-replicas", "7"]);
        let error = cli.options.resolve().unwrap_err().to_string();
        assert!(error.contains("stream_replicas = 7"), "{error}");
        let cli = Cli::parse_from(["node", "--network", "/no/such/net.toml"]);
        assert!(cli.options.resolve().is_err());
        let cli = Cli::parse_from(["node", "--store-cache-mib", "0"]);
        let error = cli.options.resolve().unwrap_err().to_string();
        assert!(error.contains("store_cache_mib = 0"), "{error}");
    }

    #[test]
    fn the_store_cache_defaults_to_64_mib_and_is_configurable() {
        let cli = Cli::parse_from(["node"]);
        assert_eq!(
            cli.options.resolve().unwrap().store_cache_mib,
            DEFAULT_STORE_CACHE_MIB
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("node.toml");
        std::fs::write(&file, "store_cache_mib = 256\n").unwrap();
        let cli = Cli::parse_from(["node", "--config", file.to_str().unwrap()]);
        assert_eq!(cli.options.resolve().unwrap().store_cache_mib, 256);
    }
}
