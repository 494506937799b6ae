//! Blocks: the `block` and `blocks` queries and the `Block` type, read
//! from `explorer.block` (with payouts from `explorer.output`).

use async_graphql::{ComplexObject, Context, Object, SimpleObject};

use super::outputs::{Output, OutputRow, output_page};
use super::transactions::{Transaction, TransactionFilter, transaction_page};
use crate::context::{ApiState, Network, hex_id, parse_id};
use crate::error::{ApiError, ApiResult, IntoGraphql};
use crate::paging::{KeyPart, ListQuery, Page, PageArgs, SqlValue, fetch_page, wants_total};

/// Columns of a block row.
pub const BLOCK_COLUMNS: &str = "SELECT b.height, b.id, b.parent, b.timestamp, b.staker,
        b.transaction_count, b.fees::text AS fees, b.payouts_total::text AS payouts_total,
        b.block_time, b.size, b.target, b.child_target, b.difficulty::text AS difficulty,
        b.cumulative_difficulty::text AS cumulative_difficulty,
        b.estimated_active_stake::text AS estimated_active_stake
   FROM explorer.block b";

/// A row of `explorer.block`.
#[derive(Debug, sqlx::FromRow)]
pub struct BlockRow {
    pub height: i64,
    pub id: Vec<u8>,
    pub parent: Vec<u8>,
    pub timestamp: i64,
    pub staker: Option<Vec<u8>>,
    pub transaction_count: i32,
    pub fees: String,
    pub payouts_total: String,
    pub block_time: Option<i64>,
    pub size: i32,
    pub target: Option<Vec<u8>>,
    pub child_target: Vec<u8>,
    pub difficulty: String,
    pub cumulative_difficulty: String,
    pub estimated_active_stake: String,
}

/// A block of the best chain.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(complex)]
pub struct Block {
    pub height: i64,
    /// Block ID (hex).
    pub id: String,
    /// Parent block ID (hex).
    pub parent_id: String,
    /// Unix seconds.
    pub timestamp: i64,
    /// Address of the blockstake output that won the lottery (none for genesis).
    pub staker: Option<String>,
    pub transaction_count: i32,
    /// Fees of the block's transactions (decimal coins).
    pub fees: String,
    /// Everything paid to the creator: fees plus the block creator fee (decimal coins).
    pub payouts_total: String,
    /// Seconds since the parent's timestamp (none for genesis).
    pub block_time: Option<i64>,
    /// Canonical encoding size in bytes.
    pub size: i32,
    /// The target this block met (hex; none for genesis).
    pub target: Option<String>,
    /// The target its child must meet (hex).
    pub child_target: String,
    /// Difficulty of the met target, floor(2^256 / target) (decimal integer).
    pub difficulty: String,
    pub cumulative_difficulty: String,
    /// Blockstakes estimated to take part in the lottery around this block.
    pub estimated_active_stake: String,
}

impl Block {
    pub fn from_row(row: BlockRow, network: &Network) -> ApiResult<Block> {
        Ok(Block {
            height: row.height,
            id: hex_id(&row.id),
            parent_id: hex_id(&row.parent),
            timestamp: row.timestamp,
            staker: row
                .staker
                .as_deref()
                .map(|address| network.address_text(address))
                .transpose()?,
            transaction_count: row.transaction_count,
            fees: network.coins_from_numeric(&row.fees)?,
            payouts_total: network.coins_from_numeric(&row.payouts_total)?,
            block_time: row.block_time,
            size: row.size,
            target: row.target.as_deref().map(hex_id),
            child_target: hex_id(&row.child_target),
            difficulty: row.difficulty,
            cumulative_difficulty: row.cumulative_difficulty,
            estimated_active_stake: row.estimated_active_stake,
        })
    }
}

#[ComplexObject]
impl Block {
    /// The block's transactions, in block order.
    #[graphql(complexity = "super::page_complexity(first, last, child_complexity)")]
    async fn transactions(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<Page<Transaction>> {
        let filter = TransactionFilter {
            from_height: Some(self.height),
            to_height: Some(self.height),
            ..TransactionFilter::default()
        };
        transaction_page(
            ctx,
            filter,
            PageArgs::new(after, before, first, last),
            false,
        )
        .await
        .gql()
    }

    /// The block's payouts (creator fee and transaction fees), in index order.
    #[graphql(complexity = "super::page_complexity(first, last, child_complexity)")]
    async fn payouts(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<Page<Output>> {
        let query = ListQuery {
            list: "payout",
            select: super::outputs::OUTPUT_COLUMNS,
            from: "FROM explorer.output o",
            filters: vec![("o.block_height = ", SqlValue::Int(self.height))],
            conditions: vec!["o.origin = 'payout'"],
            key: &["o.output_index"],
            descending: false,
        };
        output_page(
            ctx,
            query,
            PageArgs::new(after, before, first, last),
            |row: &OutputRow| vec![KeyPart::Int(i64::from(row.output_index))],
        )
        .await
        .gql()
    }

    /// The blockstake output that won the lottery (none for genesis).
    async fn stake_output(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Output>> {
        super::holders::stake_output(ApiState::of(ctx), self.height)
            .await
            .gql()
    }

    /// Blocks on top of this one (1 for the tip).
    async fn confirmations(&self, ctx: &Context<'_>) -> async_graphql::Result<i64> {
        let tip = super::chain_info::tip_height(&ApiState::of(ctx).pool)
            .await
            .gql()?;
        Ok(tip.map_or(0, |tip| tip - self.height + 1))
    }

    /// The parent block (none for genesis).
    async fn parent(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Block>> {
        if self.height == 0 {
            return Ok(None);
        }
        block_by_height(ApiState::of(ctx), self.height - 1)
            .await
            .gql()
    }
}

/// The block at `height`.
pub async fn block_by_height(state: &ApiState, height: i64) -> ApiResult<Option<Block>> {
    let sql = format!("{BLOCK_COLUMNS} WHERE b.height = $1");
    let row: Option<BlockRow> = sqlx::query_as(&sql)
        .bind(height)
        .fetch_optional(&state.pool)
        .await?;
    row.map(|row| Block::from_row(row, &state.network))
        .transpose()
}

/// The block with ID `id` (stored bytes).
pub async fn block_by_id(state: &ApiState, id: &[u8]) -> ApiResult<Option<Block>> {
    let sql = format!("{BLOCK_COLUMNS} WHERE b.id = $1");
    let row: Option<BlockRow> = sqlx::query_as(&sql)
        .bind(id)
        .fetch_optional(&state.pool)
        .await?;
    row.map(|row| Block::from_row(row, &state.network))
        .transpose()
}

/// Queries over blocks.
#[derive(Default)]
pub struct BlockQuery;

#[Object]
impl BlockQuery {
    /// A block of the best chain by height or by ID (exactly one of them).
    async fn block(
        &self,
        ctx: &Context<'_>,
        height: Option<i64>,
        id: Option<String>,
    ) -> async_graphql::Result<Option<Block>> {
        let state = ApiState::of(ctx);
        let found = match (height, id) {
            (Some(height), None) => block_by_height(state, height).await,
            (None, Some(id)) => match parse_id("block ID", &id) {
                Ok(id) => block_by_id(state, &id).await,
                Err(error) => Err(error),
            },
            _ => Err(ApiError::bad_input("pass exactly one of `height` and `id`")),
        };
        found.gql()
    }

    /// Blocks of the best chain, newest first, optionally within a height range.
    #[graphql(complexity = "super::page_complexity(first, last, child_complexity)")]
    #[allow(clippy::too_many_arguments)]
    async fn blocks(
        &self,
        ctx: &Context<'_>,
        from_height: Option<i64>,
        to_height: Option<i64>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<Page<Block>> {
        let state = ApiState::of(ctx);
        let mut filters = Vec::new();
        if let Some(from) = from_height {
            filters.push(("b.height >= ", SqlValue::Int(from)));
        }
        if let Some(to) = to_height {
            filters.push(("b.height <= ", SqlValue::Int(to)));
        }
        let query = ListQuery {
            list: "block",
            select: BLOCK_COLUMNS,
            from: "FROM explorer.block b",
            filters,
            conditions: Vec::new(),
            key: &["b.height"],
            descending: true,
        };
        fetch_page(
            &state.pool,
            &state.limits,
            query,
            PageArgs::new(after, before, first, last),
            wants_total(ctx),
            |row: &BlockRow| vec![KeyPart::Int(row.height)],
            |row| Block::from_row(row, &state.network),
        )
        .await
        .gql()
    }
}
