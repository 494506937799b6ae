//! What every service binary (node, projector, api, …) shares, so each
//! binary only parses its flags and wires its parts:
//!
//! * [`init_tracing`]: structured logs (`RUST_LOG` filter; JSON when asked);
//! * [`shutdown_on_signals`]: a cancellation token fired by SIGINT/SIGTERM;
//! * [`run_main`]: the whole `main` of a service with one job: resolved
//!   settings → tracing → signals → run → exit code;
//! * [`serve_health`]: `/healthz` and Prometheus `/metrics` over HTTP;
//! * [`Metrics`]: a small writer for the Prometheus text format;
//! * [`load_config_file`]: a TOML configuration file, the lowest layer
//!   under environment variables and flags;
//! * [`config`]: the settings the projector and the API share (database
//!   and NATS URLs, network and its configuration), layered flags >
//!   environment > file > local services > defaults.

pub mod config;

pub use config::{
    LocalServices, SharedArgs, SharedConfig, SharedConfigError, SharedSettings,
    load_optional_config_file,
};

use std::fmt::{Display, Write as _};
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

/// Sets up logging to standard error (standard output stays for a
/// command's own output): `RUST_LOG` (default `info`), human-readable
/// lines or one JSON object per line.
pub fn init_tracing(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr);
    // A second initialisation (tests) keeps the first subscriber.
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// A token cancelled on the first SIGINT or SIGTERM. Services pass it to
/// every task and finish their current step before exiting.
pub fn shutdown_on_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let trigger = token.clone();
    tokio::spawn(async move {
        let interrupt = tokio::signal::ctrl_c();
        #[cfg(unix)]
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for SIGTERM");
                    std::future::pending::<()>().await;
                }
            }
        };
        #[cfg(not(unix))]
        let terminate = std::future::pending::<()>();
        tokio::select! {
            _ = interrupt => tracing::info!("SIGINT: shutting down"),
            _ = terminate => tracing::info!("SIGTERM: shutting down"),
        }
        trigger.cancel();
    });
    token
}

/// The `main` of a service binary with one job (`stor-node`,
/// `stor-repair`): given its resolved settings, sets up tracing (JSON when
/// `log_json` says so) and the SIGINT/SIGTERM token, and runs `run` with
/// them and a `ready` callback that prints `listening <address>` on
/// standard output (scripts and tests read the bound port from it, so
/// port 0 works).
///
/// Exit codes: 2 when the settings did not resolve (`<name>: <error>` on
/// standard error, nothing logged, nothing started); 1 when `run` failed
/// (the error with its causes, `{:#}`, logged and printed as
/// `<name>: <error>`); 0 after a clean shutdown.
pub async fn run_main<S, E, F, Fut, R>(
    name: &str,
    settings: Result<S, E>,
    log_json: impl FnOnce(&S) -> bool,
    run: F,
) -> std::process::ExitCode
where
    E: Display,
    F: FnOnce(S, CancellationToken, fn(SocketAddr)) -> Fut,
    Fut: Future<Output = Result<(), R>>,
    R: Display,
{
    let settings = match settings {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("{name}: {error}");
            return std::process::ExitCode::from(2);
        }
    };
    init_tracing(log_json(&settings));
    let shutdown = shutdown_on_signals();
    match run(settings, shutdown, print_listening).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("{name}: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The `ready` callback of [`run_main`]: the bound address on standard
/// output.
fn print_listening(address: SocketAddr) {
    println!("listening {address}");
}

/// Health of a service, as `/healthz` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    Ok,
    /// Running but not serving its purpose; the reason is shown.
    Degraded(String),
}

/// Something that reports health and metrics.
pub trait Observable: Send + Sync + 'static {
    fn health(&self) -> Health;
    /// Prometheus text exposition.
    fn metrics(&self) -> String;
}

/// Serves `/healthz` (200 "ok" or 503 with the reason) and `/metrics` on
/// `address` until `shutdown`. Returns the bound address (port 0 picks a
/// free one) and the server task.
pub async fn serve_health(
    address: SocketAddr,
    observed: Arc<dyn Observable>,
    shutdown: CancellationToken,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let health = observed.clone();
    let metrics = observed;
    let app = Router::new()
        .route(
            "/healthz",
            get(move || {
                let health = health.clone();
                async move {
                    match health.health() {
                        Health::Ok => (StatusCode::OK, "ok\n".to_owned()).into_response(),
                        Health::Degraded(reason) => (
                            StatusCode::SERVICE_UNAVAILABLE,
                            format!("degraded: {reason}\n"),
                        )
                            .into_response(),
                    }
                }
            }),
        )
        .route(
            "/metrics",
            get(move || {
                let metrics = metrics.clone();
                async move {
                    (
                        [("content-type", "text/plain; version=0.0.4")],
                        metrics.metrics(),
                    )
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind(address).await?;
    let bound = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
        if let Err(error) = served {
            tracing::warn!(%error, "health endpoint stopped");
        }
    });
    Ok((bound, task))
}

/// A writer for the Prometheus text format.
#[derive(Debug, Default)]
pub struct Metrics {
    text: String,
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics::default()
    }

    /// Declares a metric family (`kind`: "gauge" or "counter").
    pub fn family(&mut self, name: &str, kind: &str, help: &str) -> &mut Metrics {
        let _ = writeln!(self.text, "# HELP {name} {help}");
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
        self
    }

    /// One sample with labels.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) -> &mut Metrics {
        if labels.is_empty() {
            let _ = writeln!(self.text, "{name} {value}");
        } else {
            let rendered: Vec<String> = labels
                .iter()
                .map(|(key, value)| format!("{key}=\"{}\"", escape_label(value)))
                .collect();
            let _ = writeln!(self.text, "{name}{{{}}} {value}", rendered.join(","));
        }
        self
    }

    pub fn finish(self) -> String {
        self.text
    }
}

fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Why a configuration file was not loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("configuration file {path}: {source}")]
    Parse {
        path: String,
        source: toml::de::Error,
    },
}

/// Reads a TOML configuration file into `T` (whose fields are all
/// optional, so flags and environment can override any of them). Unknown
/// keys are an error when `T` says `#[serde(deny_unknown_fields)]`.
pub fn load_config_file<T: DeserializeOwned>(path: &Path) -> Result<T, ConfigFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigFileError::Read {
        path: path.display().to_string(),
        source,
    })?;
    toml::from_str(&text).map_err(|source| ConfigFileError::Parse {
        path: path.display().to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(Health);

    impl Observable for Fixed {
        fn health(&self) -> Health {
            self.0.clone()
        }
        fn metrics(&self) -> String {
            let mut metrics = Metrics::new();
            metrics.family("demo_height", "gauge", "Height.").sample(
                "demo_height",
                &[("model", "ex\"plorer")],
                7.0,
            );
            metrics.finish()
        }
    }

    #[tokio::test]
    async fn serves_health_and_metrics_and_stops_on_shutdown() {
        let shutdown = CancellationToken::new();
        let (address, task) = serve_health(
            "127.0.0.1:0".parse().unwrap(),
            Arc::new(Fixed(Health::Degraded("no NATS".into()))),
            shutdown.clone(),
        )
        .await
        .unwrap();
        let health = reqwest::get(format!("http://{address}/healthz"))
            .await
            .unwrap();
        assert_eq!(health.status(), 503);
        assert_eq!(health.text().await.unwrap(), "degraded: no NATS\n");
        let metrics = reqwest::get(format!("http://{address}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(metrics.contains("# TYPE demo_height gauge"));
        assert!(metrics.contains("demo_height{model=\"ex\\\"plorer\"} 7"));
        shutdown.cancel();
        task.await.unwrap();
        assert!(
            reqwest::get(format!("http://{address}/healthz"))
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn run_main_maps_settings_and_run_results_to_exit_codes() {
        use std::process::ExitCode;
        let unresolved: Result<bool, &str> = Err("no database");
        let started = std::sync::atomic::AtomicBool::new(false);
        let code = run_main(
            "demo",
            unresolved,
            |json| *json,
            |_, _, _| async {
                started.store(true, std::sync::atomic::Ordering::SeqCst);
                Ok::<(), String>(())
            },
        )
        .await;
        assert_eq!(code, ExitCode::from(2));
        assert!(!started.load(std::sync::atomic::Ordering::SeqCst));
        let code = run_main(
            "demo",
            Ok::<bool, String>(false),
            |json| *json,
            |_, shutdown, ready| async move {
                assert!(!shutdown.is_cancelled());
                ready("127.0.0.1:1".parse().unwrap());
                Ok::<(), String>(())
            },
        )
        .await;
        assert_eq!(code, ExitCode::SUCCESS);
        let code = run_main(
            "demo",
            Ok::<bool, String>(false),
            |json| *json,
            |_, _, _| async { Err("disk full".to_owned()) },
        )
        .await;
        assert_eq!(code, ExitCode::FAILURE);
    }

    #[test]
    fn config_file_errors_name_the_file() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Settings {
            port: Option<u16>,
        }
        let dir = std::env::temp_dir().join(format!("service-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bad.toml");
        std::fs::write(&path, "colour = 3\n").unwrap();
        let error = load_config_file::<Settings>(&path).unwrap_err();
        assert!(error.to_string().contains("bad.toml"), "{error}");
        let missing = load_config_file::<Settings>(&dir.join("missing.toml")).unwrap_err();
        assert!(matches!(missing, ConfigFileError::Read { .. }));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
