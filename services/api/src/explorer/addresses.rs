//! Addresses (`explorer.address`, `address_transaction`, `output`): the
//! `address` query with the balance split into spendable, maturing and
//! time-locked coins at the current tip, unspent outputs and history.

use async_graphql::{ComplexObject, Context, Object, SimpleObject};

use super::outputs::{Asset, OUTPUT_COLUMNS, Output, OutputRow, output_page};
use super::transactions::{Transaction, TransactionFilter, transaction_page};
use crate::context::{ApiState, Network};
use crate::error::{ApiResult, IntoGraphql};
use crate::paging::{KeyPart, ListQuery, Page, PageArgs, SqlValue};

/// Columns of an address row (also what the HTTP benchmark's pgbench
/// script selects).
pub const ADDRESS_FIELDS: &str = "address, kind, blockstake_balance::text AS blockstake_balance,
        coin_outputs_unspent, blockstake_outputs_unspent, outputs_received,
        transaction_count, blocks_created, first_seen, last_seen";

/// A row of `explorer.address`.
#[derive(Debug, sqlx::FromRow)]
struct AddressRow {
    address: Vec<u8>,
    kind: String,
    blockstake_balance: String,
    coin_outputs_unspent: i32,
    blockstake_outputs_unspent: i32,
    outputs_received: i32,
    transaction_count: i32,
    blocks_created: i32,
    first_seen: i64,
    last_seen: i64,
}

/// Coins of an address, split by what the next block could spend.
#[derive(Debug, Clone, SimpleObject)]
pub struct CoinBalance {
    /// Unspent, matured and not time-locked: what the next block may spend.
    pub spendable: String,
    /// Block payouts that have not matured yet.
    pub maturing: String,
    /// Unspent outputs whose time lock the next block does not reach.
    pub time_locked: String,
    /// All of the above.
    pub total: String,
}

/// An address that has received, spent or staked something.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(complex)]
pub struct AddressInfo {
    /// Bech32m text.
    pub address: String,
    /// nil | pubkey | multisig | atomic_swap
    pub kind: String,
    /// Whole blockstakes held.
    pub blockstake_balance: String,
    pub coin_outputs_unspent: i32,
    pub blockstake_outputs_unspent: i32,
    pub outputs_received: i32,
    pub transaction_count: i32,
    pub blocks_created: i32,
    /// Height the address first appeared at.
    pub first_seen: i64,
    /// Height the address last appeared at.
    pub last_seen: i64,
    #[graphql(skip)]
    stored: Vec<u8>,
}

impl AddressInfo {
    fn from_row(row: AddressRow, network: &Network) -> ApiResult<AddressInfo> {
        Ok(AddressInfo {
            address: network.address_text(&row.address)?,
            kind: row.kind,
            blockstake_balance: row.blockstake_balance,
            coin_outputs_unspent: row.coin_outputs_unspent,
            blockstake_outputs_unspent: row.blockstake_outputs_unspent,
            outputs_received: row.outputs_received,
            transaction_count: row.transaction_count,
            blocks_created: row.blocks_created,
            first_seen: row.first_seen,
            last_seen: row.last_seen,
            stored: row.address,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
struct SplitRow {
    maturing: String,
    time_locked: String,
    total: String,
}

#[ComplexObject]
impl AddressInfo {
    /// Coin balance at the current tip.
    async fn balance(&self, ctx: &Context<'_>) -> async_graphql::Result<CoinBalance> {
        coin_balance(ApiState::of(ctx), &self.stored).await.gql()
    }

    /// Unspent outputs, newest first, optionally of one currency.
    #[graphql(complexity = "super::page_complexity(first, last, child_complexity)")]
    async fn unspent_outputs(
        &self,
        ctx: &Context<'_>,
        currency: Option<Asset>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<Page<Output>> {
        let mut filters = vec![("o.address = ", SqlValue::Bytes(self.stored.clone()))];
        if let Some(currency) = currency {
            filters.push((
                "o.currency = ",
                SqlValue::Text(currency.stored().to_owned()),
            ));
        }
        let query = ListQuery {
            list: "utxo",
            select: OUTPUT_COLUMNS,
            from: "FROM explorer.output o",
            filters,
            conditions: vec!["o.spent_at IS NULL"],
            key: &["o.block_height", "o.id"],
            descending: true,
        };
        output_page(
            ctx,
            query,
            PageArgs::new(after, before, first, last),
            |row: &OutputRow| {
                vec![
                    KeyPart::Int(row.block_height),
                    KeyPart::Bytes(row.id.clone()),
                ]
            },
        )
        .await
        .gql()
    }

    /// For a multisig address: the signatures required and the members.
    async fn multisig(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<super::holders::MultisigInfo>> {
        super::holders::multisig_info(ApiState::of(ctx), &self.stored)
            .await
            .gql()
    }

    /// Multisig addresses whose keys include this address's key.
    async fn multisig_memberships(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<super::holders::MultisigMembership>> {
        super::holders::multisig_memberships(ApiState::of(ctx), &self.stored)
            .await
            .gql()
    }

    /// The coin balance after each transaction or payout that changed it:
    /// the last `last` changes (default 100, at most the statistics
    /// points limit), oldest first.
    async fn balance_history(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 100)] last: i32,
    ) -> async_graphql::Result<Vec<super::holders::BalancePoint>> {
        super::holders::balance_history(ApiState::of(ctx), &self.stored, last)
            .await
            .gql()
    }

    /// Transactions that spend from or pay to the address, newest first.
    #[graphql(complexity = "super::page_complexity(first, last, child_complexity)")]
    #[allow(clippy::too_many_arguments)]
    async fn history(
        &self,
        ctx: &Context<'_>,
        from_height: Option<i64>,
        to_height: Option<i64>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<Page<Transaction>> {
        let filter = TransactionFilter {
            address: Some(self.address.clone()),
            from_height,
            to_height,
            kind: None,
        };
        transaction_page(ctx, filter, PageArgs::new(after, before, first, last), true)
            .await
            .gql()
    }
}

/// The coin balance split of an address (stored form) at the tip.
async fn coin_balance(state: &ApiState, address: &[u8]) -> ApiResult<CoinBalance> {
    // Maturing: payouts whose maturity height is above the tip. Time
    // locked: a height lock above the next block's height, or a time lock
    // above the tip's timestamp.
    let row: SplitRow = sqlx::query_as(
        "WITH tip AS (SELECT height, timestamp FROM explorer.block ORDER BY height DESC LIMIT 1),
              split AS (
                SELECT o.value,
                       (o.origin = 'payout' AND o.matures_at > tip.height) AS maturing,
                       (o.condition_type = 'timelock' AND
                        ((o.timelock_kind = 'height' AND o.timelock > tip.height + 1) OR
                         (o.timelock_kind = 'time' AND o.timelock > tip.timestamp))) AS locked
                  FROM explorer.output o CROSS JOIN tip
                 WHERE o.address = $1 AND o.currency = 'coin' AND o.spent_at IS NULL)
         SELECT COALESCE(sum(value) FILTER (WHERE maturing), 0)::text AS maturing,
                COALESCE(sum(value) FILTER (WHERE locked AND NOT maturing), 0)::text AS time_locked,
                COALESCE(sum(value), 0)::text AS total
           FROM split",
    )
    .bind(address)
    .fetch_one(&state.pool)
    .await?;
    let network = &state.network;
    let units = |text: &str| -> ApiResult<u128> {
        text.parse::<u128>().map_err(|_| {
            crate::error::ApiError::CorruptRow(format!("amount {text:?} is not base units"))
        })
    };
    let total = units(&row.total)?;
    let maturing = units(&row.maturing)?;
    let time_locked = units(&row.time_locked)?;
    let spendable = total.saturating_sub(maturing).saturating_sub(time_locked);
    Ok(CoinBalance {
        spendable: network.coins(ledger::Currency(spendable)),
        maturing: network.coins(ledger::Currency(maturing)),
        time_locked: network.coins(ledger::Currency(time_locked)),
        total: network.coins(ledger::Currency(total)),
    })
}

/// The address row for a stored address.
pub async fn address_info(state: &ApiState, stored: &[u8]) -> ApiResult<Option<AddressInfo>> {
    let sql = format!("SELECT {ADDRESS_FIELDS} FROM explorer.address WHERE address = $1");
    let row: Option<AddressRow> = sqlx::query_as(&sql)
        .bind(stored)
        .fetch_optional(&state.pool)
        .await?;
    row.map(|row| AddressInfo::from_row(row, &state.network))
        .transpose()
}

/// Queries over addresses.
#[derive(Default)]
pub struct AddressQuery;

#[Object]
impl AddressQuery {
    /// An address (bech32m text with this network's prefix); none if it
    /// never appeared on chain.
    async fn address(
        &self,
        ctx: &Context<'_>,
        address: String,
    ) -> async_graphql::Result<Option<AddressInfo>> {
        let state = ApiState::of(ctx);
        let stored = state.network.parse_address(&address).gql()?;
        address_info(state, &stored).await.gql()
    }
}
