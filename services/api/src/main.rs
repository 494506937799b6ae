//! The `api` binary: serves the GraphQL API, or prints its schema. It only
//! layers configuration and wires the `api` library to PostgreSQL and NATS.
//!
//! ```text
//! api [serve]          serve GraphQL, GraphiQL, /healthz, /metrics and the web UI until SIGINT/SIGTERM
//! api schema [--out]   print (or write) the schema in SDL
//! ```
//!
//! Configuration: flags, then environment variables, then a TOML file
//! (`--config`), then defaults that work with `scripts/services up`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use api::login::{LoginConfig, LoginSecret};
use api::submit::{NatsSubmitter, NoNode, Submitter};
use api::{ApiState, Limits, Network, ServerOptions};
use chain::stream::submit_subject;
use clap::{Parser, Subcommand};
use sqlx::ConnectOptions;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tracing::{error, info};

#[derive(Debug, Parser)]
#[command(
    name = "api",
    version,
    about = "Serves the GraphQL API over the read models"
)]
struct Cli {
    /// TOML file with any of: database_url, nats_url, network, listen,
    /// static_dir, cors_origins, log_json, database_connections, and a
    /// [limits] table (max_depth, max_complexity, max_page_size,
    /// default_page_size, max_body_bytes, request_timeout_ms,
    /// max_statistics_points, submit_timeout_ms), and a [login] table
    /// (public_origin, secret_file, challenge_seconds, token_seconds).
    #[arg(long, env = "API_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(flatten)]
    shared: service::SharedArgs,
    /// Log one JSON object per line.
    #[arg(long, env = "API_LOG_JSON", global = true)]
    log_json: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API until SIGINT/SIGTERM (the default).
    Serve {
        /// Address to listen on [default: 127.0.0.1:8080].
        #[arg(long, env = "API_LISTEN")]
        listen: Option<SocketAddr>,
        /// Directory of the explorer web UI (index.html and assets; paths
        /// without a file get index.html) [default: services/explorer-ui/dist
        /// if present].
        #[arg(long, env = "API_STATIC_DIR", alias = "ui-dir")]
        static_dir: Option<PathBuf>,
        /// Origins allowed by CORS, comma separated (`*` for any) [default: none].
        #[arg(long, env = "API_CORS_ORIGINS", value_delimiter = ',')]
        cors_origins: Vec<String>,
        /// Largest page of a connection [default: 100].
        #[arg(long, env = "API_MAX_PAGE_SIZE")]
        max_page_size: Option<usize>,
        /// Deepest query [default: 12].
        #[arg(long, env = "API_MAX_DEPTH")]
        max_depth: Option<usize>,
        /// Most complex query [default: 50000].
        #[arg(long, env = "API_MAX_COMPLEXITY")]
        max_complexity: Option<usize>,
        /// Largest request body in bytes [default: 4 MiB].
        #[arg(long, env = "API_MAX_BODY_BYTES")]
        max_body_bytes: Option<usize>,
        /// Longest a request may run, in milliseconds [default: 10000].
        #[arg(long, env = "API_REQUEST_TIMEOUT_MS")]
        request_timeout_ms: Option<u64>,
        /// The origin clients reach this API at (scheme://host[:port]); login
        /// challenges are bound to it [default: http:// and the listen address].
        #[arg(long, env = "API_PUBLIC_ORIGIN")]
        public_origin: Option<String>,
        /// File holding the login secret (64 hex digits) that signs login
        /// challenges and tokens; every replica needs the same one
        /// [default: API_LOGIN_SECRET, else a random secret per process].
        #[arg(long, env = "API_LOGIN_SECRET_FILE")]
        login_secret_file: Option<PathBuf>,
    },
    /// Print the schema in SDL (or write it to --out).
    Schema {
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// The configuration file: every key optional.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    database_url: Option<String>,
    nats_url: Option<String>,
    network: Option<String>,
    network_config: Option<PathBuf>,
    listen: Option<SocketAddr>,
    static_dir: Option<PathBuf>,
    cors_origins: Option<Vec<String>>,
    log_json: Option<bool>,
    database_connections: Option<u32>,
    limits: Option<Limits>,
    login: Option<LoginFile>,
}

/// The `[login]` table of the configuration file.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginFile {
    public_origin: Option<String>,
    secret_file: Option<PathBuf>,
    challenge_seconds: Option<u64>,
    token_seconds: Option<u64>,
}

/// The login configuration: flags, environment, file, defaults.
fn login_config(
    public_origin: Option<String>,
    secret_file: Option<PathBuf>,
    file: Option<&LoginFile>,
) -> anyhow::Result<LoginConfig> {
    let public_origin = public_origin.or_else(|| file.and_then(|file| file.public_origin.clone()));
    let secret_file = secret_file.or_else(|| file.and_then(|file| file.secret_file.clone()));
    let secret = match (secret_file, std::env::var("API_LOGIN_SECRET").ok()) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read the login secret {}", path.display()))?;
            LoginSecret::from_hex(&text)
                .map_err(|error| anyhow::anyhow!("{}: {error}", path.display()))?
        }
        (None, Some(text)) => LoginSecret::from_hex(&text)
            .map_err(|error| anyhow::anyhow!("API_LOGIN_SECRET: {error}"))?,
        (None, None) => {
            tracing::warn!(
                "no login secret configured (API_LOGIN_SECRET_FILE): a random one is used, so login tokens die with this process and other replicas refuse them"
            );
            LoginSecret::random()
        }
    };
    let origin = public_origin
        .map(|origin| origin.trim().trim_end_matches('/').to_owned())
        .filter(|origin| !origin.is_empty());
    if let Some(origin) = &origin {
        anyhow::ensure!(
            (origin.starts_with("http://") || origin.starts_with("https://"))
                && !origin["https://".len().min(origin.len())..].contains('/'),
            "the public origin must be scheme://host[:port], not {origin:?}"
        );
    }
    let defaults = LoginConfig::ephemeral();
    Ok(LoginConfig {
        secret,
        origin,
        challenge_seconds: file
            .and_then(|file| file.challenge_seconds)
            .unwrap_or(defaults.challenge_seconds),
        token_seconds: file
            .and_then(|file| file.token_seconds)
            .unwrap_or(defaults.token_seconds),
    })
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let file = match service::load_optional_config_file::<FileConfig>(cli.config.as_deref()) {
        Ok(file) => file,
        Err(error) => {
            eprintln!("api: {error}");
            return std::process::ExitCode::from(2);
        }
    };
    if let Some(Command::Schema { out }) = &cli.command {
        let sdl = api::sdl();
        return match out {
            Some(path) => match std::fs::write(path, sdl) {
                Ok(()) => std::process::ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("api: cannot write {}: {error}", path.display());
                    std::process::ExitCode::FAILURE
                }
            },
            None => {
                print!("{sdl}");
                std::process::ExitCode::SUCCESS
            }
        };
    }
    service::init_tracing(cli.log_json || file.log_json.unwrap_or(false));
    match serve(cli, file).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            error!("{error:#}");
            eprintln!("api: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve(cli: Cli, file: FileConfig) -> anyhow::Result<()> {
    let local = devenv::Settings::load().ok();
    let local = local.map(|local| (local.database_url, local.nats_url).into());
    let shared = cli.shared.layer().over(service::shared_layer!(file));
    let shared = shared.resolve(local)?;
    let database_url = shared.database_url;
    let nats_url = shared.nats_url.filter(|url| url != "none");
    let network_name = shared.network;
    let config = shared.chain_config;
    let mut limits = file.limits.clone().unwrap_or_default();
    let (listen, static_dir, cors_origins, public_origin, login_secret_file) = match cli.command {
        Some(Command::Serve {
            listen,
            static_dir,
            cors_origins,
            max_page_size,
            max_depth,
            max_complexity,
            max_body_bytes,
            request_timeout_ms,
            public_origin,
            login_secret_file,
        }) => {
            limits.max_page_size = max_page_size.unwrap_or(limits.max_page_size);
            limits.max_depth = max_depth.unwrap_or(limits.max_depth);
            limits.max_complexity = max_complexity.unwrap_or(limits.max_complexity);
            limits.max_body_bytes = max_body_bytes.unwrap_or(limits.max_body_bytes);
            limits.request_timeout_ms = request_timeout_ms.unwrap_or(limits.request_timeout_ms);
            (
                listen,
                static_dir,
                if cors_origins.is_empty() {
                    None
                } else {
                    Some(cors_origins)
                },
                public_origin,
                login_secret_file,
            )
        }
        _ => (None, None, None, None, None),
    };
    let login = login_config(public_origin, login_secret_file, file.login.as_ref())?;
    let listen = listen
        .or(file.listen)
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
    let static_dir = static_dir
        .or(file.static_dir.clone())
        .or_else(|| Some(PathBuf::from("services/explorer-ui/dist")));
    let cors_origins = cors_origins
        .or(file.cors_origins.clone())
        .unwrap_or_default();

    let database: PgConnectOptions = database_url
        .parse()
        .context("DATABASE_URL is not a PostgreSQL URL")?;
    let pool = PgPoolOptions::new()
        .max_connections(file.database_connections.unwrap_or(16))
        .acquire_timeout(Duration::from_secs(5))
        .connect_lazy_with(database.log_statements(tracing::log::LevelFilter::Debug));
    let nats = match &nats_url {
        Some(url) => Some(
            async_nats::ConnectOptions::new()
                .name("api")
                .retry_on_initial_connect()
                .connect(url)
                .await
                .with_context(|| format!("cannot connect to NATS at {url}"))?,
        ),
        None => None,
    };
    let submitter: Arc<dyn Submitter> = match &nats {
        Some(client) => Arc::new(NatsSubmitter {
            client: client.clone(),
            subject: submit_subject(&network_name),
            timeout: limits.submit_timeout(),
        }),
        None => Arc::new(NoNode),
    };
    let state = ApiState {
        pool,
        network: Network::new(network_name.clone(), Arc::new(config)),
        limits,
        nats: nats.clone(),
        submitter,
        login: Arc::new(login),
    };
    let options = ServerOptions {
        static_dir,
        cors_origins,
        ..ServerOptions::default()
    };
    let shutdown = service::shutdown_on_signals();
    let (bound, task) = api::spawn(listen, state, options, shutdown.clone())
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    info!(network = %network_name, nats = nats.is_some(), "serving GraphQL on http://{bound}/graphql, GraphiQL on http://{bound}/graphiql");
    println!("GraphQL: http://{bound}/graphql  GraphiQL: http://{bound}/graphiql");
    task.await.context("the server task failed")??;
    if let Some(nats) = nats {
        let _ = nats.flush().await;
    }
    info!("api stopped cleanly");
    Ok(())
}
