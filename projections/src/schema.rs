//! Each read model lives in a PostgreSQL schema of its own, named after the
//! model. Installing a model creates the schema, runs the runtime's
//! migrations (`migrations/projector/`: checkpoint, undo log, applied
//! blocks, the undo trigger function) and then the model's own, with
//! `search_path` set to the schema so every table lands there, and attaches
//! the undo trigger to every table of the model.
//!
//! How undo works: while the runtime applies the block at height H it sets
//! `projection.height = H` for the transaction; the trigger records every
//! inserted, updated or deleted row (as JSON) in the schema's `undo_log`.
//! Reverting H replays those rows newest first (`revert_height`). Blocks
//! that are already below the finality horizon of the stream's head are
//! applied with recording switched off, and the log is pruned below the
//! horizon, so undo history stays bounded.
//!
//! Rebuild builds a second schema (`<model>__rebuild`) from the start of
//! the stream while the live one stays queryable, then swaps the two by
//! renaming in one transaction.

use std::borrow::Cow;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool, Row};

use crate::checkpoint::{AppliedBlock, Checkpoint};
use crate::error::ProjectionError;
use ledger::{BlockHeight, BlockId, Hash32};

/// The runtime's own migrations, installed into every model's schema.
pub static RUNTIME_MIGRATOR: Migrator = sqlx::migrate!("../migrations/projector");

/// Tables of the runtime inside a model's schema (not undo-tracked).
pub const RUNTIME_TABLES: [&str; 4] = [
    "_sqlx_migrations",
    "checkpoint",
    "undo_log",
    "applied_block",
];

/// The schema a rebuild writes into before it is swapped in.
pub fn rebuild_schema(model: &str) -> String {
    format!("{model}__rebuild")
}

/// Connection options whose `search_path` is `schema` (then `public`).
pub fn options_for_schema(base: &PgConnectOptions, schema: &str) -> PgConnectOptions {
    base.clone()
        .options([("search_path", format!("\"{schema}\",public"))])
}

/// A pool whose connections resolve unqualified names in `schema`.
pub async fn pool_for_schema(
    base: &PgConnectOptions,
    schema: &str,
    max_connections: u32,
) -> Result<PgPool, ProjectionError> {
    Ok(PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(std::time::Duration::from_secs(10))
        .connect_with(options_for_schema(base, schema))
        .await?)
}

/// Creates the schema if needed, runs the runtime's and the model's
/// migrations in it and attaches the undo trigger to the model's tables.
pub async fn install(
    base: &PgConnectOptions,
    schema: &str,
    model: &str,
    model_migrator: &Migrator,
) -> Result<(), ProjectionError> {
    let mut admin = PgConnection::connect_with(base).await?;
    sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
        .execute(&mut admin)
        .await?;
    admin.close().await?;

    let mut migrations: Vec<_> = RUNTIME_MIGRATOR
        .iter()
        .chain(model_migrator.iter())
        .cloned()
        .collect();
    migrations.sort_by_key(|migration| migration.version);
    let combined = Migrator {
        migrations: Cow::Owned(migrations),
        ignore_missing: false,
        locking: true,
        no_tx: false,
    };
    let mut connection = PgConnection::connect_with(&options_for_schema(base, schema)).await?;
    combined.run_direct(&mut connection).await?;

    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') ORDER BY c.relname",
    )
    .bind(schema)
    .fetch_all(&mut connection)
    .await?;
    for table in tables
        .iter()
        .filter(|table| !RUNTIME_TABLES.contains(&table.as_str()))
    {
        let has_key: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_index i
                 WHERE i.indrelid = format('%I.%I', $1::text, $2::text)::regclass AND i.indisprimary)",
        )
        .bind(schema)
        .bind(table)
        .fetch_one(&mut connection)
        .await?;
        if !has_key {
            return Err(ProjectionError::NoPrimaryKey {
                model: model.to_owned(),
                table: table.clone(),
            });
        }
        sqlx::query(&format!(
            "CREATE OR REPLACE TRIGGER record_undo AFTER INSERT OR UPDATE OR DELETE ON \"{schema}\".\"{table}\"
             FOR EACH ROW EXECUTE FUNCTION \"{schema}\".record_undo()"
        ))
        .execute(&mut connection)
        .await?;
    }
    connection.close().await?;
    Ok(())
}

/// Drops a schema and everything in it.
pub async fn drop_schema(base: &PgConnectOptions, schema: &str) -> Result<(), ProjectionError> {
    let mut admin = PgConnection::connect_with(base).await?;
    sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
        .execute(&mut admin)
        .await?;
    admin.close().await?;
    Ok(())
}

/// Whether a schema exists.
pub async fn schema_exists(
    connection: &mut PgConnection,
    schema: &str,
) -> Result<bool, ProjectionError> {
    Ok(
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
            .bind(schema)
            .fetch_one(connection)
            .await?,
    )
}

/// Replaces the live schema `model` by `replacement` in one transaction:
/// readers see the old rows until the commit and the new ones after it.
pub async fn swap_in(
    connection: &mut PgConnection,
    model: &str,
    replacement: &str,
) -> Result<(), ProjectionError> {
    let retired = format!("{model}__retired");
    let mut transaction = connection.begin().await?;
    sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{retired}\" CASCADE"))
        .execute(&mut *transaction)
        .await?;
    sqlx::query(&format!("ALTER SCHEMA \"{model}\" RENAME TO \"{retired}\""))
        .execute(&mut *transaction)
        .await?;
    sqlx::query(&format!(
        "ALTER SCHEMA \"{replacement}\" RENAME TO \"{model}\""
    ))
    .execute(&mut *transaction)
    .await?;
    sqlx::query(&format!("DROP SCHEMA \"{retired}\" CASCADE"))
        .execute(&mut *transaction)
        .await?;
    transaction.commit().await?;
    Ok(())
}

fn block_id_from(model: &str, bytes: &[u8]) -> Result<BlockId, ProjectionError> {
    let array: [u8; 32] = bytes.try_into().map_err(|_| ProjectionError::Corrupt {
        model: model.to_owned(),
        detail: format!("a stored block id has {} bytes, not 32", bytes.len()),
    })?;
    Ok(BlockId(Hash32(array)))
}

fn non_negative(model: &str, what: &str, value: i64) -> Result<u64, ProjectionError> {
    u64::try_from(value).map_err(|_| ProjectionError::Corrupt {
        model: model.to_owned(),
        detail: format!("stored {what} is negative ({value})"),
    })
}

/// Reads the checkpoint (`None` for a model that has applied nothing).
pub async fn read_checkpoint(
    connection: &mut PgConnection,
    model: &str,
) -> Result<Option<Checkpoint>, ProjectionError> {
    let row = sqlx::query(
        "SELECT height, block_id, stream_seq, genesis_id, stream_block FROM checkpoint",
    )
    .fetch_optional(connection)
    .await?;
    row.map(|row| {
        let optional_id = |column: &str| -> Result<Option<BlockId>, ProjectionError> {
            row.try_get::<Option<&[u8]>, _>(column)?
                .map(|bytes| block_id_from(model, bytes))
                .transpose()
        };
        Ok(Checkpoint {
            height: BlockHeight(non_negative(model, "height", row.try_get("height")?)?),
            block_id: block_id_from(model, row.try_get::<&[u8], _>("block_id")?)?,
            stream_seq: non_negative(model, "stream sequence", row.try_get("stream_seq")?)?,
            genesis_id: optional_id("genesis_id")?,
            stream_block: optional_id("stream_block")?,
        })
    })
    .transpose()
}

/// Writes the checkpoint.
pub async fn write_checkpoint(
    connection: &mut PgConnection,
    checkpoint: &Checkpoint,
) -> Result<(), ProjectionError> {
    sqlx::query(
        "INSERT INTO checkpoint
            (singleton, height, block_id, stream_seq, genesis_id, stream_block, updated_at)
         VALUES (TRUE, $1, $2, $3, $4, $5, now())
         ON CONFLICT (singleton) DO UPDATE
            SET height = EXCLUDED.height, block_id = EXCLUDED.block_id,
                stream_seq = EXCLUDED.stream_seq, genesis_id = EXCLUDED.genesis_id,
                stream_block = EXCLUDED.stream_block, updated_at = now()",
    )
    .bind(to_i64(checkpoint.height.0))
    .bind(checkpoint.block_id.0.0.as_slice())
    .bind(to_i64(checkpoint.stream_seq))
    .bind(checkpoint.genesis_id.map(|id| id.0.0.to_vec()))
    .bind(checkpoint.stream_block.map(|id| id.0.0.to_vec()))
    .execute(connection)
    .await?;
    Ok(())
}

/// What the model remembers at `height`.
pub async fn remembered_at(
    connection: &mut PgConnection,
    model: &str,
    height: BlockHeight,
) -> Result<Option<AppliedBlock>, ProjectionError> {
    let row = sqlx::query("SELECT block_id, undo_recorded FROM applied_block WHERE height = $1")
        .bind(to_i64(height.0))
        .fetch_optional(connection)
        .await?;
    row.map(|row| {
        Ok(AppliedBlock {
            block_id: block_id_from(model, row.try_get::<&[u8], _>("block_id")?)?,
            undo_recorded: row.try_get("undo_recorded")?,
        })
    })
    .transpose()
}

/// Heights and counters are stored as BIGINT; chain values never reach
/// 2^63, and saturating keeps a corrupt value from wrapping negative.
pub(crate) fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
