//! The settings every service that serves or folds the chain's data (the
//! projector, the API) takes the same way, layered highest first:
//!
//! 1. a flag, or its environment variable (clap merges the two; flags win);
//! 2. the key of the same name in the TOML file given by `--config`;
//! 3. for the URLs, the local services' settings (`.state/env`, written by
//!    `scripts/services up`), which the binary looks up and passes in;
//! 4. a default (network `devnet`, its shipped configuration).
//!
//! Each binary flattens [`SharedArgs`] into its command line (the same
//! flags and environment variables everywhere), keeps its own file struct,
//! takes a [`SharedConfig`] from each ([`SharedArgs::layer`],
//! [`shared_layer!`]), stacks them with [`SharedConfig::over`] and calls
//! [`SharedConfig::resolve`].

use std::path::{Path, PathBuf};

use chain::ChainConfig;
use serde::de::DeserializeOwned;

use crate::{ConfigFileError, load_config_file};

/// The shared settings as one layer gives them (any may be missing).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SharedConfig {
    pub database_url: Option<String>,
    pub nats_url: Option<String>,
    /// A shipped network's name, or the name of the network a
    /// `network_config` file describes.
    pub network: Option<String>,
    /// A network configuration file (TOML) for a network that is not shipped.
    pub network_config: Option<PathBuf>,
}

/// The shared flags, flattened into each binary's command line
/// (`#[command(flatten)]`).
#[derive(Debug, Default, Clone, PartialEq, Eq, clap::Args)]
pub struct SharedArgs {
    /// PostgreSQL URL (default: from `.state/env`, written by scripts/services).
    #[arg(long, env = "DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// NATS URL (default: from `.state/env`); `none` runs without NATS
    /// where the service allows it.
    #[arg(long, env = "NATS_URL", global = true)]
    pub nats_url: Option<String>,
    /// Network name [default: devnet].
    #[arg(long, env = "BSC_NETWORK", global = true)]
    pub network: Option<String>,
    /// A network configuration file (TOML) for a network that is not
    /// shipped; its name is still given by --network.
    #[arg(long, env = "BSC_NETWORK_CONFIG", global = true)]
    pub network_config: Option<PathBuf>,
}

impl SharedArgs {
    /// The layer these flags give.
    pub fn layer(&self) -> SharedConfig {
        crate::shared_layer!(self)
    }
}

/// The [`SharedConfig`] layer of any struct with the four fields
/// `database_url`, `nats_url`, `network` (`Option<String>`) and
/// `network_config` (`Option<PathBuf>`): a binary's flags or its file.
#[macro_export]
macro_rules! shared_layer {
    ($source:expr) => {
        $crate::SharedConfig {
            database_url: $source.database_url.clone(),
            nats_url: $source.nats_url.clone(),
            network: $source.network.clone(),
            network_config: $source.network_config.clone(),
        }
    };
}

/// What the local services (`scripts/services up`) offer as the lowest
/// layer for the URLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalServices {
    pub database_url: String,
    pub nats_url: String,
}

impl From<(String, String)> for LocalServices {
    /// From (database URL, NATS URL).
    fn from((database_url, nats_url): (String, String)) -> LocalServices {
        LocalServices {
            database_url,
            nats_url,
        }
    }
}

/// The shared settings, resolved.
#[derive(Debug, Clone)]
pub struct SharedSettings {
    pub database_url: String,
    /// None when no layer names NATS (a service that needs it says so).
    pub nats_url: Option<String>,
    pub network: String,
    pub chain_config: ChainConfig,
}

/// Why the shared settings cannot be resolved.
#[derive(Debug, thiserror::Error)]
pub enum SharedConfigError {
    #[error(
        "no PostgreSQL URL: pass --database-url, set DATABASE_URL, put database_url in the --config file, or run scripts/services up"
    )]
    NoDatabaseUrl,
    #[error("network configuration {path}: {reason}")]
    NetworkFile {
        path: String,
        reason: chain::ConfigError,
    },
    #[error("{reason}; pass --network-config FILE for a network that is not shipped")]
    NotShipped {
        name: String,
        reason: chain::ConfigError,
    },
}

impl SharedConfig {
    /// This layer, with what it leaves open taken from `lower`.
    pub fn over(self, lower: SharedConfig) -> SharedConfig {
        SharedConfig {
            database_url: self.database_url.or(lower.database_url),
            nats_url: self.nats_url.or(lower.nats_url),
            network: self.network.or(lower.network),
            network_config: self.network_config.or(lower.network_config),
        }
    }

    /// Fills the URLs still open from the local services, defaults the
    /// network to `devnet` and loads its configuration (the file when one
    /// is named, else the shipped network of that name).
    pub fn resolve(
        self,
        local: Option<LocalServices>,
    ) -> Result<SharedSettings, SharedConfigError> {
        let database_url = self
            .database_url
            .or_else(|| local.as_ref().map(|local| local.database_url.clone()))
            .ok_or(SharedConfigError::NoDatabaseUrl)?;
        let nats_url = self.nats_url.or_else(|| local.map(|local| local.nats_url));
        let network = self.network.unwrap_or_else(|| "devnet".to_owned());
        let chain_config = match &self.network_config {
            Some(path) => {
                ChainConfig::from_file(path).map_err(|reason| SharedConfigError::NetworkFile {
                    path: path.display().to_string(),
                    reason,
                })?
            }
            None => {
                ChainConfig::shipped(&network).map_err(|reason| SharedConfigError::NotShipped {
                    name: network.clone(),
                    reason,
                })?
            }
        };
        Ok(SharedSettings {
            database_url,
            nats_url,
            network,
            chain_config,
        })
    }
}

/// The `--config` file when one is named, else every key missing
/// (`T::default()`).
pub fn load_optional_config_file<T: DeserializeOwned + Default>(
    path: Option<&Path>,
) -> Result<T, ConfigFileError> {
    match path {
        Some(path) => load_config_file(path),
        None => Ok(T::default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> LocalServices {
        LocalServices {
            database_url: "postgres://local/db".into(),
            nats_url: "nats://local:4222".into(),
        }
    }

    #[test]
    fn flags_win_over_the_file_which_wins_over_the_local_services() {
        let flags = SharedConfig {
            database_url: Some("postgres://flag/db".into()),
            ..SharedConfig::default()
        };
        let file = SharedConfig {
            database_url: Some("postgres://file/db".into()),
            nats_url: Some("nats://file:4222".into()),
            network: Some("testnet".into()),
            network_config: None,
        };
        let settings = flags.over(file).resolve(Some(local())).unwrap();
        assert_eq!(settings.database_url, "postgres://flag/db");
        assert_eq!(settings.nats_url.as_deref(), Some("nats://file:4222"));
        assert_eq!(settings.network, "testnet");
        assert_eq!(settings.chain_config.params.network_name, "testnet");
    }

    #[test]
    fn a_layer_comes_from_any_struct_with_the_four_fields() {
        struct Flags {
            database_url: Option<String>,
            nats_url: Option<String>,
            network: Option<String>,
            network_config: Option<PathBuf>,
            #[allow(dead_code)]
            listen: Option<u16>,
        }
        let flags = Flags {
            database_url: None,
            nats_url: Some("nats://flag:4222".into()),
            network: Some("testnet".into()),
            network_config: Some(PathBuf::from("net.toml")),
            listen: Some(1),
        };
        assert_eq!(
            crate::shared_layer!(flags),
            SharedConfig {
                database_url: None,
                nats_url: Some("nats://flag:4222".into()),
                network: Some("testnet".into()),
                network_config: Some(PathBuf::from("net.toml")),
            }
        );
    }

    #[test]
    fn local_services_and_defaults_fill_the_rest() {
        let settings = SharedConfig::default().resolve(Some(local())).unwrap();
        assert_eq!(settings.database_url, "postgres://local/db");
        assert_eq!(settings.nats_url.as_deref(), Some("nats://local:4222"));
        assert_eq!(settings.network, "devnet");
        assert_eq!(settings.chain_config.params.network_name, "devnet");

        let no_nats = SharedConfig {
            database_url: Some("postgres://flag/db".into()),
            ..SharedConfig::default()
        }
        .resolve(None)
        .unwrap();
        assert_eq!(no_nats.nats_url, None);
    }

    #[test]
    fn missing_or_bad_settings_are_typed_errors() {
        assert!(matches!(
            SharedConfig::default().resolve(None),
            Err(SharedConfigError::NoDatabaseUrl)
        ));
        let unknown = SharedConfig {
            network: Some("moonnet".into()),
            ..SharedConfig::default()
        }
        .resolve(Some(local()))
        .unwrap_err();
        assert!(matches!(unknown, SharedConfigError::NotShipped { .. }));
        assert!(unknown.to_string().contains("moonnet"), "{unknown}");

        let dir = std::env::temp_dir().join(format!("service-shared-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = dir.join("missing-network.toml");
        let error = SharedConfig {
            network: Some("custom".into()),
            network_config: Some(missing.clone()),
            ..SharedConfig::default()
        }
        .resolve(Some(local()))
        .unwrap_err();
        assert!(matches!(error, SharedConfigError::NetworkFile { .. }));
        assert!(
            error.to_string().contains("missing-network.toml"),
            "{error}"
        );

        // A network file wins over the shipped network of the name.
        let file = dir.join("custom.toml");
        std::fs::write(&file, chain::config::TESTNET_TOML).unwrap();
        let custom = SharedConfig {
            network: Some("devnet".into()),
            network_config: Some(file),
            ..SharedConfig::default()
        }
        .resolve(Some(local()))
        .unwrap();
        assert_eq!(custom.network, "devnet");
        assert_eq!(custom.chain_config.params.network_name, "testnet");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_absent_config_file_is_every_key_missing() {
        #[derive(Debug, Default, PartialEq, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            network: Option<String>,
        }
        assert_eq!(
            load_optional_config_file::<File>(None).unwrap(),
            File::default()
        );
        let dir = std::env::temp_dir().join(format!("service-optional-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("api.toml");
        std::fs::write(&path, "network = \"testnet\"\n").unwrap();
        assert_eq!(
            load_optional_config_file::<File>(Some(&path)).unwrap(),
            File {
                network: Some("testnet".into())
            }
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
