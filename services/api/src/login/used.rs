//! Single-use login challenges: `login` records each answered challenge's
//! nonce in PostgreSQL (`api_login.used_challenge`, migrations in
//! `migrations/api_login/`), and refuses a second answer with
//! CHALLENGE_USED. Rows are kept until the challenge expires (later
//! answers are refused as expired anyway), then deleted by the next login.
//!
//! Durable and shared: every API replica with the same secret and database
//! sees the same table, and a restart forgets nothing. The table is not
//! part of a read model (the projector rebuilds those), so the API
//! installs it itself, on first use.

use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::PgPoolOptions;

use crate::error::{ApiError, ApiResult};

/// The API's own migrations (schema `api_login`).
pub static LOGIN_MIGRATOR: Migrator = sqlx::migrate!("../../migrations/api_login");

/// The schema of the used-challenge table.
pub const SCHEMA: &str = "api_login";

/// Creates the schema and runs [`LOGIN_MIGRATOR`] in it (idempotent; the
/// migrator serialises concurrent runs with an advisory lock).
pub async fn install(pool: &PgPool) -> Result<(), sqlx::Error> {
    let options = pool
        .connect_options()
        .as_ref()
        .clone()
        .options([("search_path", SCHEMA)]);
    // A pool of one connection (the migrator takes a pool or a connection;
    // a pool keeps the future `Send`).
    let installer = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await?;
    sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
        .execute(&installer)
        .await?;
    let migrated = LOGIN_MIGRATOR
        .run(&installer)
        .await
        .map_err(|error| sqlx::Error::Migrate(Box::new(error)));
    installer.close().await;
    migrated
}

/// Whether `error` says the table or its schema does not exist yet.
fn missing_table(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .and_then(|error| error.code())
        .is_some_and(|code| code == "42P01" || code == "3F000")
}

/// Records that the challenge with `nonce` (valid until `expires_at`) has
/// been answered at `now`: CHALLENGE_USED if it was before.
pub async fn consume(pool: &PgPool, nonce: &[u8; 32], expires_at: u64, now: u64) -> ApiResult<()> {
    let insert = || async {
        sqlx::query_scalar::<_, Vec<u8>>(
            "WITH expired AS (
                 DELETE FROM api_login.used_challenge WHERE expires_at < $3
             )
             INSERT INTO api_login.used_challenge (nonce, expires_at, used_at)
             VALUES ($1, $2, $3)
             ON CONFLICT (nonce) DO NOTHING
             RETURNING nonce",
        )
        .bind(nonce.as_slice())
        .bind(i64::try_from(expires_at).unwrap_or(i64::MAX))
        .bind(i64::try_from(now).unwrap_or(i64::MAX))
        .fetch_optional(pool)
        .await
    };
    let recorded = match insert().await {
        Err(error) if missing_table(&error) => {
            install(pool).await.map_err(ApiError::Database)?;
            insert().await
        }
        other => other,
    }
    .map_err(ApiError::Database)?;
    match recorded {
        Some(_) => Ok(()),
        None => Err(ApiError::ChallengeUsed),
    }
}
