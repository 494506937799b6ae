//! The chain's extensions as the explorer recorded them: notary records
//! (`explorer.notary_record`), the mint condition (`explorer.mint_event`)
//! and address authorization (`explorer.authorization_event`), each
//! answerable at any height.

use async_graphql::{Context, Json, Object, SimpleObject};

use crate::context::{ApiState, hex_id, parse_id};
use crate::error::{ApiError, ApiResult, IntoGraphql};

/// A document hash recorded on chain.
#[derive(Debug, Clone, SimpleObject, sqlx::FromRow)]
pub struct NotaryRecord {
    /// Hex.
    pub document_hash: String,
    /// The recording transaction (hex).
    pub transaction_id: String,
    pub block_height: i64,
    /// The block's timestamp: the document existed by then (unix seconds).
    pub timestamp: i64,
}

/// A condition as the read model decoded it (JSON: `type`, `address`, …).
#[derive(Debug, Clone, SimpleObject)]
pub struct ConditionChange {
    pub condition: Json<serde_json::Value>,
    /// Height of the change (0 for the genesis configuration).
    pub since_height: i64,
    /// The transaction that made the change (hex; none at genesis).
    pub transaction_id: Option<String>,
}

/// Whether an address is authorized at a height.
#[derive(Debug, Clone, SimpleObject)]
pub struct AuthorizationStatus {
    pub address: String,
    /// Whether the network enforces authorized addresses at all.
    pub rule_enabled: bool,
    pub authorized: bool,
    /// Height of the last (de)authorization of the address, if any.
    pub since_height: Option<i64>,
    /// The transaction that made it (hex; none at genesis).
    pub transaction_id: Option<String>,
}

fn parse_condition(text: Option<String>) -> ApiResult<Json<serde_json::Value>> {
    let text = text.unwrap_or_else(|| "null".to_owned());
    serde_json::from_str(&text)
        .map(Json)
        .map_err(|error| ApiError::CorruptRow(format!("stored condition is not JSON: {error}")))
}

async fn latest_condition(
    state: &ApiState,
    table: &'static str,
    kinds: &'static [&'static str],
    height: Option<i64>,
) -> ApiResult<Option<ConditionChange>> {
    let sql = format!(
        "SELECT block_height, transaction_id, condition::text FROM explorer.{table}
          WHERE kind = ANY($1) AND ($2::bigint IS NULL OR block_height <= $2)
          ORDER BY block_height DESC, event_index DESC LIMIT 1"
    );
    let kinds: Vec<String> = kinds.iter().map(|kind| (*kind).to_owned()).collect();
    let row: Option<(i64, Option<Vec<u8>>, Option<String>)> = sqlx::query_as(&sql)
        .bind(kinds)
        .bind(height)
        .fetch_optional(&state.pool)
        .await?;
    row.map(|(since_height, transaction_id, condition)| {
        Ok(ConditionChange {
            condition: parse_condition(condition)?,
            since_height,
            transaction_id: transaction_id.as_deref().map(hex_id),
        })
    })
    .transpose()
}

/// Queries over notary, minting and authorization history.
#[derive(Default)]
pub struct ExtensionQuery;

#[Object]
impl ExtensionQuery {
    /// The earliest record of a document hash (hex); none if never recorded.
    async fn notary_record(
        &self,
        ctx: &Context<'_>,
        document_hash: String,
    ) -> async_graphql::Result<Option<NotaryRecord>> {
        let state = ApiState::of(ctx);
        let hash = parse_id("document hash", &document_hash).gql()?;
        let row: Option<(Vec<u8>, Vec<u8>, i64, i64)> = sqlx::query_as(
            "SELECT document_hash, transaction_id, block_height, timestamp
               FROM explorer.notary_record WHERE document_hash = $1
              ORDER BY block_height, transaction_id LIMIT 1",
        )
        .bind(hash)
        .fetch_optional(&state.pool)
        .await
        .map_err(ApiError::from)
        .gql()?;
        Ok(row.map(
            |(hash, transaction, block_height, timestamp)| NotaryRecord {
                document_hash: hex_id(&hash),
                transaction_id: hex_id(&transaction),
                block_height,
                timestamp,
            },
        ))
    }

    /// The mint condition in force at `height` (default: the tip); none
    /// when the network has no minting.
    async fn mint_condition(
        &self,
        ctx: &Context<'_>,
        height: Option<i64>,
    ) -> async_graphql::Result<Option<ConditionChange>> {
        latest_condition(
            ApiState::of(ctx),
            "mint_event",
            &["genesis_condition", "condition_changed"],
            height,
        )
        .await
        .gql()
    }

    /// The address authority in force at `height` (default: the tip).
    async fn address_authority(
        &self,
        ctx: &Context<'_>,
        height: Option<i64>,
    ) -> async_graphql::Result<Option<ConditionChange>> {
        latest_condition(
            ApiState::of(ctx),
            "authorization_event",
            &["genesis_authority", "authority_changed"],
            height,
        )
        .await
        .gql()
    }

    /// Whether `address` is authorized at `height` (default: the tip).
    async fn authorization(
        &self,
        ctx: &Context<'_>,
        address: String,
        height: Option<i64>,
    ) -> async_graphql::Result<AuthorizationStatus> {
        let state = ApiState::of(ctx);
        let stored = state.network.parse_address(&address).gql()?;
        let row: Option<(String, i64, Option<Vec<u8>>)> = sqlx::query_as(
            "SELECT kind, block_height, transaction_id FROM explorer.authorization_event
              WHERE address = $1 AND kind IN ('authorized', 'deauthorized')
                AND ($2::bigint IS NULL OR block_height <= $2)
              ORDER BY block_height DESC, event_index DESC LIMIT 1",
        )
        .bind(&stored)
        .bind(height)
        .fetch_optional(&state.pool)
        .await
        .map_err(ApiError::from)
        .gql()?;
        Ok(AuthorizationStatus {
            address: state.network.address_text(&stored).gql()?,
            rule_enabled: state.network.config.consensus.authorized_addresses_enabled,
            authorized: row
                .as_ref()
                .is_some_and(|(kind, _, _)| kind == "authorized"),
            since_height: row.as_ref().map(|(_, height, _)| *height),
            transaction_id: row
                .as_ref()
                .and_then(|(_, _, transaction)| transaction.as_deref().map(hex_id)),
        })
    }
}
