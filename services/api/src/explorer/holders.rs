//! Who holds what, for the explorer UI: blockstake holders
//! (`explorer.blockstake_holder`), multisig members and memberships
//! (`explorer.multisig_member`), an address's coin balance after each
//! change, a block's winning stake output, and a transaction's payload as
//! the read model recorded it (`notary_record`, `mint_event`,
//! `authorization_event`).

use async_graphql::{Context, Object, SimpleObject};
use serde_json::{Value, json};

use super::outputs::{OUTPUT_COLUMNS, Output, OutputRow};
use crate::context::{ApiState, Network, hex_id};
use crate::error::{ApiError, ApiResult, IntoGraphql};

/// An address holding blockstakes.
#[derive(Debug, Clone, SimpleObject)]
pub struct BlockstakeHolder {
    /// Bech32m text.
    pub address: String,
    /// Whole blockstakes held.
    pub blockstakes: String,
    /// Unspent blockstake outputs.
    pub outputs: i32,
    pub blocks_created: i32,
}

#[derive(Debug, sqlx::FromRow)]
struct HolderRow {
    address: Vec<u8>,
    blockstakes: String,
    outputs: i32,
    blocks_created: i32,
}

/// A multisig address and the keys that may sign for it.
#[derive(Debug, Clone, SimpleObject)]
pub struct MultisigInfo {
    /// Signatures required.
    pub required: i32,
    /// Keys that may sign.
    pub key_count: i32,
    /// The members' public-key addresses, in address order.
    pub members: Vec<String>,
}

/// A multisig address that an address's key may sign for.
#[derive(Debug, Clone, SimpleObject)]
pub struct MultisigMembership {
    pub multisig_address: String,
    pub required: i32,
    pub key_count: i32,
    /// Height the multisig address first appeared at.
    pub first_seen: i64,
}

#[derive(Debug, sqlx::FromRow)]
struct MemberRow {
    multisig_address: Vec<u8>,
    member_address: Vec<u8>,
    required: i32,
    key_count: i32,
    first_seen: i64,
}

/// An address's coin balance after a change.
#[derive(Debug, Clone, SimpleObject)]
pub struct BalancePoint {
    pub height: i64,
    /// The block's timestamp (unix seconds).
    pub timestamp: i64,
    /// The transaction that changed it (hex; none for a block payout).
    pub transaction_id: Option<String>,
    /// Coins received minus coins spent (decimal coins, may be negative).
    pub change: String,
    /// Coins after the change: unspent outputs plus maturing payouts (decimal coins).
    pub balance: String,
}

#[derive(Debug, sqlx::FromRow)]
struct BalanceRow {
    height: i64,
    timestamp: i64,
    transaction_id: Option<Vec<u8>>,
    change: String,
    balance: String,
}

/// Signed base units as decimal coins.
fn signed_coins(network: &Network, text: &str) -> ApiResult<String> {
    match text.strip_prefix('-') {
        Some(units) => Ok(format!("-{}", network.coins_from_numeric(units)?)),
        None => network.coins_from_numeric(text),
    }
}

/// The members of a multisig address (stored form); none if it is not one.
pub async fn multisig_info(state: &ApiState, address: &[u8]) -> ApiResult<Option<MultisigInfo>> {
    let rows: Vec<MemberRow> = sqlx::query_as(
        "SELECT multisig_address, member_address, required, key_count, first_seen
           FROM explorer.multisig_member WHERE multisig_address = $1
          ORDER BY member_address",
    )
    .bind(address)
    .fetch_all(&state.pool)
    .await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let (required, key_count) = (first.required, first.key_count);
    let members = rows
        .iter()
        .map(|row| state.network.address_text(&row.member_address))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(Some(MultisigInfo {
        required,
        key_count,
        members,
    }))
}

/// The multisig addresses whose keys include `member`'s (stored form).
pub async fn multisig_memberships(
    state: &ApiState,
    member: &[u8],
) -> ApiResult<Vec<MultisigMembership>> {
    let rows: Vec<MemberRow> = sqlx::query_as(
        "SELECT multisig_address, member_address, required, key_count, first_seen
           FROM explorer.multisig_member WHERE member_address = $1
          ORDER BY first_seen, multisig_address",
    )
    .bind(member)
    .fetch_all(&state.pool)
    .await?;
    rows.into_iter()
        .map(|row| {
            Ok(MultisigMembership {
                multisig_address: state.network.address_text(&row.multisig_address)?,
                required: row.required,
                key_count: row.key_count,
                first_seen: row.first_seen,
            })
        })
        .collect()
}

/// The coin balance of `address` (stored form) after each transaction or
/// payout that changed it: the last `last` changes, oldest first.
pub async fn balance_history(
    state: &ApiState,
    address: &[u8],
    last: i32,
) -> ApiResult<Vec<BalancePoint>> {
    let bound = i64::try_from(state.limits.max_statistics_points).unwrap_or(i64::MAX);
    if last < 1 || i64::from(last) > bound {
        return Err(ApiError::bad_input(format!(
            "last must be between 1 and {bound}, got {last}"
        )));
    }
    // Each change: outputs to the address minus inputs from it, per
    // transaction (coins only), plus payouts (no transaction); the running
    // sum over all of them is the balance (unspent plus maturing).
    let rows: Vec<BalanceRow> = sqlx::query_as(
        "WITH changes AS (
            SELECT o.block_height AS height, o.transaction_index AS tx_index,
                   o.transaction_id, sum(o.value) AS delta
              FROM explorer.output o
             WHERE o.address = $1 AND o.currency = 'coin'
             GROUP BY o.block_height, o.transaction_index, o.transaction_id
            UNION ALL
            SELECT i.block_height, t.transaction_index, i.transaction_id, -sum(i.value)
              FROM explorer.input i JOIN explorer.transaction t ON t.id = i.transaction_id
             WHERE i.address = $1 AND i.currency = 'coin'
             GROUP BY i.block_height, t.transaction_index, i.transaction_id),
          merged AS (
            SELECT height, tx_index, transaction_id, sum(delta) AS delta
              FROM changes GROUP BY height, tx_index, transaction_id),
          running AS (
            SELECT height, tx_index, transaction_id, delta,
                   sum(delta) OVER (ORDER BY height, tx_index NULLS LAST, transaction_id) AS balance
              FROM merged)
         SELECT r.height, b.timestamp, r.transaction_id, r.delta::text AS change,
                r.balance::text AS balance
           FROM (SELECT * FROM running
                  ORDER BY height DESC, tx_index DESC NULLS FIRST, transaction_id DESC
                  LIMIT $2) r
           JOIN explorer.block b ON b.height = r.height
          ORDER BY r.height, r.tx_index NULLS LAST, r.transaction_id",
    )
    .bind(address)
    .bind(i64::from(last))
    .fetch_all(&state.pool)
    .await?;
    rows.into_iter()
        .map(|row| {
            Ok(BalancePoint {
                height: row.height,
                timestamp: row.timestamp,
                transaction_id: row.transaction_id.as_deref().map(hex_id),
                change: signed_coins(&state.network, &row.change)?,
                balance: signed_coins(&state.network, &row.balance)?,
            })
        })
        .collect()
}

/// The blockstake output that won the lottery for the block at `height`
/// (none for genesis).
pub async fn stake_output(state: &ApiState, height: i64) -> ApiResult<Option<Output>> {
    if height == 0 {
        return Ok(None);
    }
    let sql = format!(
        "{OUTPUT_COLUMNS} JOIN explorer.block b
            ON o.block_height = b.stake_output_height
           AND o.transaction_index = b.stake_output_tx_index
           AND o.output_index = b.stake_output_index
         WHERE b.height = $1 AND o.currency = 'blockstake' AND o.origin = 'transaction'"
    );
    let row: Option<OutputRow> = sqlx::query_as(&sql)
        .bind(height)
        .fetch_optional(&state.pool)
        .await?;
    row.map(|row| Output::from_row(row, &state.network))
        .transpose()
}

#[derive(Debug, sqlx::FromRow)]
struct EventRow {
    kind: String,
    condition: Option<Value>,
    amount: Option<String>,
    address: Option<Vec<u8>>,
}

/// The domain payload of transaction `id` (stored form) as the read model
/// recorded it: `{kind: "notary", documentHash}`, `{kind: "minting",
/// events: [{kind, condition?, amount?}]}` or `{kind:
/// "authorized_addresses", events: [{kind, address?, condition?}]}`.
pub async fn transaction_payload(state: &ApiState, id: &[u8]) -> ApiResult<Option<Value>> {
    let notary: Option<(Vec<u8>,)> = sqlx::query_as(
        "SELECT document_hash FROM explorer.notary_record WHERE transaction_id = $1 LIMIT 1",
    )
    .bind(id)
    .fetch_optional(&state.pool)
    .await?;
    if let Some((hash,)) = notary {
        return Ok(Some(
            json!({ "kind": "notary", "documentHash": hex_id(&hash) }),
        ));
    }
    let mint: Vec<EventRow> = sqlx::query_as(
        "SELECT kind, condition, amount::text AS amount, NULL::bytea AS address
           FROM explorer.mint_event WHERE transaction_id = $1 ORDER BY event_index",
    )
    .bind(id)
    .fetch_all(&state.pool)
    .await?;
    let authorization: Vec<EventRow> = sqlx::query_as(
        "SELECT kind, condition, NULL::text AS amount, address
           FROM explorer.authorization_event WHERE transaction_id = $1 ORDER BY event_index",
    )
    .bind(id)
    .fetch_all(&state.pool)
    .await?;
    let (kind, rows) = match (mint.is_empty(), authorization.is_empty()) {
        (false, _) => ("minting", mint),
        (true, false) => ("authorized_addresses", authorization),
        (true, true) => return Ok(None),
    };
    let events = rows
        .into_iter()
        .map(|row| {
            let mut event = json!({ "kind": row.kind });
            if let Some(condition) = row.condition {
                event["condition"] = condition;
            }
            if let Some(amount) = row.amount {
                event["amount"] = Value::String(state.network.coins_from_numeric(&amount)?);
            }
            if let Some(address) = row.address {
                event["address"] = Value::String(state.network.address_text(&address)?);
            }
            Ok(event)
        })
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(Some(json!({ "kind": kind, "events": events })))
}

/// Queries over holders.
#[derive(Default)]
pub struct HolderQuery;

#[Object]
impl HolderQuery {
    /// Addresses holding blockstakes, most first (at most the maximum page
    /// size; default the default page size).
    async fn blockstake_holders(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
    ) -> async_graphql::Result<Vec<BlockstakeHolder>> {
        let state = ApiState::of(ctx);
        let max = state.limits.max_page_size;
        let size = match first {
            None => state.limits.default_page_size,
            Some(n) => match usize::try_from(n) {
                Ok(n) if (1..=max).contains(&n) => n,
                Ok(n) if n > max => {
                    return Err(ApiError::PageTooLarge {
                        asked: i64::try_from(n).unwrap_or(i64::MAX),
                        max,
                    })
                    .gql();
                }
                _ => {
                    return Err(ApiError::bad_input(format!(
                        "first must be at least 1, got {n}"
                    )))
                    .gql();
                }
            },
        };
        let rows: Vec<HolderRow> = sqlx::query_as(
            "SELECT address, blockstake_balance::text AS blockstakes,
                    blockstake_outputs_unspent AS outputs, blocks_created
               FROM explorer.blockstake_holder
              ORDER BY blockstake_balance DESC, address
              LIMIT $1",
        )
        .bind(i64::try_from(size).unwrap_or(i64::MAX))
        .fetch_all(&state.pool)
        .await
        .map_err(ApiError::from)
        .gql()?;
        rows.into_iter()
            .map(|row| {
                Ok(BlockstakeHolder {
                    address: state.network.address_text(&row.address)?,
                    blockstakes: row.blockstakes,
                    outputs: row.outputs,
                    blocks_created: row.blocks_created,
                })
            })
            .collect::<ApiResult<Vec<_>>>()
            .gql()
    }
}
