//! Pending transactions (`explorer.pending_transaction`): accepted by a
//! node's pool, not yet in a block.

use async_graphql::{Context, Object, SimpleObject};

use crate::context::{ApiState, hex_id};
use crate::error::IntoGraphql;
use crate::paging::{KeyPart, ListQuery, Page, PageArgs, fetch_page, wants_total};

/// A transaction waiting in a node's pool.
#[derive(Debug, Clone, SimpleObject)]
pub struct PendingTransaction {
    /// Transaction ID (hex).
    pub id: String,
    /// Decimal coins.
    pub fee: String,
    /// Canonical encoding size in bytes.
    pub size: i32,
    /// Canonical bytes (hex), for `decodeTransaction`.
    pub encoded: String,
    /// When the pool accepted it (unix seconds; none when pushed live).
    pub first_seen_at: Option<i64>,
}

#[derive(Debug, sqlx::FromRow)]
struct PendingRow {
    id: Vec<u8>,
    encoded: Vec<u8>,
    fee: String,
    size: i32,
    first_seen_at: i64,
}

/// Queries over the pool.
#[derive(Default)]
pub struct PendingQuery;

#[Object]
impl PendingQuery {
    /// Transactions accepted by a node's pool and not yet in a block,
    /// ordered by ID.
    #[graphql(complexity = "super::page_complexity(first, last, child_complexity)")]
    async fn pending_transactions(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<Page<PendingTransaction>> {
        let state = ApiState::of(ctx);
        let query = ListQuery {
            list: "pending",
            select: "SELECT p.id, p.encoded, p.fee::text AS fee, p.size,
                            extract(epoch FROM p.first_seen_at)::bigint AS first_seen_at
                       FROM explorer.pending_transaction p",
            from: "FROM explorer.pending_transaction p",
            filters: Vec::new(),
            conditions: Vec::new(),
            key: &["p.id"],
            descending: false,
        };
        fetch_page(
            &state.pool,
            &state.limits,
            query,
            PageArgs::new(after, before, first, last),
            wants_total(ctx),
            |row: &PendingRow| vec![KeyPart::Bytes(row.id.clone())],
            |row| {
                Ok(PendingTransaction {
                    id: hex_id(&row.id),
                    fee: state.network.coins_from_numeric(&row.fee)?,
                    size: row.size,
                    encoded: hex_id(&row.encoded),
                    first_seen_at: Some(row.first_seen_at),
                })
            },
        )
        .await
        .gql()
    }
}
