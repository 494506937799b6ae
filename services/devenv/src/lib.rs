//! The local development environment as the Rust code sees it.
//!
//! `scripts/services up` starts PostgreSQL and nats-server and writes their
//! connection settings to `<state>/env` (`KEY=value` lines). Binaries and
//! tests find them here: a variable set in the process environment wins,
//! otherwise the file is read. The file is looked for in `$BSC_STATE_DIR`,
//! then in a `.state/` folder in the current directory or any parent, then
//! next to this crate's workspace.
//!
//! Tests get isolation from [`TestDatabase`] (a fresh database per test,
//! dropped at the end), [`unique_name`] (names for streams, subjects and
//! consumers that no other test uses) and [`free_test_port`] (a port for a
//! server a test starts, outside the range outgoing connections use).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};

/// Name of the settings file inside the state folder.
const ENV_FILE: &str = "env";
/// Name of the default state folder at the repository root.
const STATE_DIR: &str = ".state";

/// Why the settings could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// Neither the environment nor a settings file names the variable.
    #[error(
        "{variable} is not set and no settings file was found (looked in: {looked}); run `scripts/services up`"
    )]
    Missing {
        /// The variable that is missing.
        variable: &'static str,
        /// The places that were searched.
        looked: String,
    },
    /// The settings file exists but names no value for the variable.
    #[error("{variable} is not set and {file} does not define it; run `scripts/services up`")]
    NotInFile {
        /// The variable that is missing.
        variable: &'static str,
        /// The settings file that was read.
        file: PathBuf,
    },
    /// The settings file could not be read.
    #[error("cannot read settings file {file}: {source}")]
    Unreadable {
        /// The settings file.
        file: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A line of the settings file is not `KEY=value`.
    #[error("{file}:{line}: expected KEY=value, found {text:?}")]
    Malformed {
        /// The settings file.
        file: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The offending line.
        text: String,
    },
}

/// Connection settings of the local services.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// PostgreSQL URL of the application database.
    pub database_url: String,
    /// NATS client URL.
    pub nats_url: String,
}

impl Settings {
    /// Loads the settings from the environment, falling back to the file
    /// written by `scripts/services up`.
    pub fn load() -> Result<Self, SettingsError> {
        let file = find_settings_file();
        let from_file = match &file {
            Some(path) => Some(parse_settings_file(path)?),
            None => None,
        };
        let lookup = |variable: &'static str| -> Result<String, SettingsError> {
            if let Ok(value) = std::env::var(variable)
                && !value.is_empty()
            {
                return Ok(value);
            }
            match (&file, &from_file) {
                (Some(path), Some(values)) => {
                    values
                        .get(variable)
                        .cloned()
                        .ok_or_else(|| SettingsError::NotInFile {
                            variable,
                            file: path.clone(),
                        })
                }
                _ => Err(SettingsError::Missing {
                    variable,
                    looked: search_locations()
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                }),
            }
        };
        Ok(Self {
            database_url: lookup("DATABASE_URL")?,
            nats_url: lookup("NATS_URL")?,
        })
    }
}

/// Parses a settings file of `KEY=value` lines (blank lines and `#`
/// comments allowed).
pub fn parse_settings_file(path: &Path) -> Result<BTreeMap<String, String>, SettingsError> {
    let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Unreadable {
        file: path.to_path_buf(),
        source,
    })?;
    parse_settings(path, &text)
}

fn parse_settings(path: &Path, text: &str) -> Result<BTreeMap<String, String>, SettingsError> {
    let mut values = BTreeMap::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        match line.split_once('=') {
            Some((key, value))
                if !key.is_empty()
                    && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
            {
                values.insert(key.to_owned(), value.to_owned());
            }
            _ => {
                return Err(SettingsError::Malformed {
                    file: path.to_path_buf(),
                    line: index + 1,
                    text: raw.to_owned(),
                });
            }
        }
    }
    Ok(values)
}

fn search_locations() -> Vec<PathBuf> {
    let mut places = Vec::new();
    if let Some(dir) = std::env::var_os("BSC_STATE_DIR") {
        places.push(PathBuf::from(dir).join(ENV_FILE));
    }
    if let Ok(cwd) = std::env::current_dir() {
        for dir in cwd.ancestors() {
            places.push(dir.join(STATE_DIR).join(ENV_FILE));
        }
    }
    // services/devenv -> repository root
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    places.push(workspace.join(STATE_DIR).join(ENV_FILE));
    places
}

fn find_settings_file() -> Option<PathBuf> {
    search_locations().into_iter().find(|p| p.is_file())
}

/// The ports [`free_test_port`] hands out. Below Linux's ephemeral range
/// (32768–60999, `net.ipv4.ip_local_port_range`), from which the kernel
/// takes the local port of every outgoing connection: a port there (like
/// one from binding port 0) can be taken by a connection between the test
/// choosing it and its server binding it, or while the server restarts.
/// Clear of the ports the repository's scripts use (devnet 23110–23499,
/// services 24222–28232, `scripts/check-services` 26010–26022,
/// `scripts/test-ui` 27300–27399, the projector resilience test
/// 29000–29899).
pub const TEST_PORTS: std::ops::Range<u16> = 30_000..32_700;

/// A loopback TCP port in [`TEST_PORTS`] that nothing listens on, for a
/// server a test starts as a process of its own (nats-server, a node, the
/// projector). Each call in a process gets another port (a counter from a
/// random start, so parallel tests in one binary never share one and
/// separate processes rarely meet); a port something already binds is
/// skipped. Servers a test runs in-process bind port 0 instead.
pub fn free_test_port() -> std::io::Result<u16> {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU32, Ordering};
    static START: OnceLock<u32> = OnceLock::new();
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let span = u32::from(TEST_PORTS.end - TEST_PORTS.start);
    let start = *START.get_or_init(|| rand_core::RngCore::next_u32(&mut rand_core::OsRng) % span);
    let candidates = (0..span).map(|_| {
        let offset = (start + NEXT.fetch_add(1, Ordering::Relaxed)) % span;
        TEST_PORTS.start + u16::try_from(offset).unwrap_or(0)
    });
    first_unbound(candidates).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::AddrInUse,
            format!(
                "no free loopback port in {}..{}",
                TEST_PORTS.start, TEST_PORTS.end
            ),
        )
    })
}

/// The first of `ports` that nothing binds on the loopback address.
fn first_unbound(mut ports: impl Iterator<Item = u16>) -> Option<u16> {
    ports.find(|&port| std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, port)).is_ok())
}

/// A name no other test or process uses: `prefix` plus 12 random hex digits.
/// Valid as a PostgreSQL identifier, a JetStream stream or consumer name and
/// a NATS subject token.
pub fn unique_name(prefix: &str) -> String {
    let mut bytes = [0u8; 6];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
    format!("{prefix}_{}", hex::encode(bytes))
}

/// A database of its own for one test, created on the local PostgreSQL and
/// dropped by [`TestDatabase::drop_database`].
pub struct TestDatabase {
    admin: PgConnectOptions,
    name: String,
    pool: PgPool,
}

impl TestDatabase {
    /// Creates a fresh, empty database.
    pub async fn create(settings: &Settings) -> Result<Self, sqlx::Error> {
        let admin: PgConnectOptions = settings.database_url.parse()?;
        let name = unique_name("test");
        let mut conn = PgConnection::connect_with(&admin).await?;
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .connect_with(admin.clone().database(&name))
            .await?;
        Ok(Self { admin, name, pool })
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A pool connected to the database.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Closes the pool and drops the database.
    pub async fn drop_database(self) -> Result<(), sqlx::Error> {
        self.pool.close().await;
        let mut conn = PgConnection::connect_with(&self.admin).await?;
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
            self.name
        ))
        .execute(&mut conn)
        .await?;
        conn.close().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_key_value_lines_comments_and_exports() {
        let values = parse_settings(
            Path::new("env"),
            "# comment\n\nDATABASE_URL=postgres://a:b@127.0.0.1:1/x\nexport NATS_URL=nats://127.0.0.1:2\n",
        )
        .unwrap();
        assert_eq!(values["DATABASE_URL"], "postgres://a:b@127.0.0.1:1/x");
        assert_eq!(values["NATS_URL"], "nats://127.0.0.1:2");
    }

    #[test]
    fn rejects_a_line_without_equals_sign_naming_its_line() {
        let err = parse_settings(Path::new("env"), "A=1\nnot a setting\n").unwrap_err();
        match err {
            SettingsError::Malformed { line, text, .. } => {
                assert_eq!(line, 2);
                assert_eq!(text, "not a setting");
            }
            other => panic!("unexpected error {other}"),
        }
    }

    #[test]
    fn unique_names_differ_and_are_identifiers() {
        let a = unique_name("t");
        let b = unique_name("t");
        assert_ne!(a, b);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        assert_eq!(a.len(), "t_".len() + 12);
    }

    #[test]
    fn test_ports_differ_lie_below_the_ephemeral_range_and_skip_bound_ones() {
        let ports: Vec<u16> = (0..40).map(|_| free_test_port().unwrap()).collect();
        let distinct: std::collections::BTreeSet<u16> = ports.iter().copied().collect();
        assert_eq!(distinct.len(), ports.len(), "{ports:?}");
        assert!(ports.iter().all(|port| TEST_PORTS.contains(port)));
        const { assert!(TEST_PORTS.end <= 32_768) };
        // A port something listens on is skipped.
        let held = std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, ports[0])).unwrap();
        let busy = held.local_addr().unwrap().port();
        assert_eq!(first_unbound([busy, ports[1]].into_iter()), Some(ports[1]));
        assert_eq!(first_unbound([busy].into_iter()), None);
    }
}
