//! Transactions (`explorer.transaction`): the `transaction` and
//! `transactions` queries (filters: address, block range, kind), the
//! `Transaction` type with its inputs and outputs.

use async_graphql::{ComplexObject, Context, Enum, InputObject, Object, SimpleObject};

use super::blocks::{Block, block_by_height};
use super::outputs::{
    INPUT_COLUMNS, Input, InputRow, OUTPUT_COLUMNS, Output, OutputRow, output_page,
};
use crate::context::{ApiState, Network, hex_id, parse_id};
use crate::error::{ApiError, ApiResult, IntoGraphql};
use crate::paging::{KeyPart, ListQuery, Page, PageArgs, SqlValue, fetch_page, wants_total};

/// What a transaction does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum TransactionKind {
    /// Coins (and maybe blockstakes) change hands.
    Transfer,
    /// Only blockstake inputs and outputs (e.g. a staking respend).
    Blockstake,
    /// The genesis allocation.
    Genesis,
    /// Carries a notary record.
    Notary,
    CoinCreation,
    MintCondition,
    CoinDestruction,
    AddressUpdate,
    AuthorityChange,
    /// Carries an identity operation.
    Identity,
    /// Carries a storage operation.
    Storage,
    /// Carries a compute operation.
    Compute,
    /// Carries a chat operation.
    Chat,
}

impl TransactionKind {
    /// The name stored in the read model.
    pub fn stored(self) -> &'static str {
        match self {
            TransactionKind::Transfer => "transfer",
            TransactionKind::Blockstake => "blockstake",
            TransactionKind::Genesis => "genesis",
            TransactionKind::Notary => "notary",
            TransactionKind::CoinCreation => "coin_creation",
            TransactionKind::MintCondition => "mint_condition",
            TransactionKind::CoinDestruction => "coin_destruction",
            TransactionKind::AddressUpdate => "address_update",
            TransactionKind::AuthorityChange => "authority_change",
            TransactionKind::Identity => "identity",
            TransactionKind::Storage => "storage",
            TransactionKind::Compute => "compute",
            TransactionKind::Chat => "chat",
        }
    }

    fn from_stored(text: &str) -> ApiResult<TransactionKind> {
        [
            TransactionKind::Transfer,
            TransactionKind::Blockstake,
            TransactionKind::Genesis,
            TransactionKind::Notary,
            TransactionKind::CoinCreation,
            TransactionKind::MintCondition,
            TransactionKind::CoinDestruction,
            TransactionKind::AddressUpdate,
            TransactionKind::AuthorityChange,
            TransactionKind::Identity,
            TransactionKind::Storage,
            TransactionKind::Compute,
            TransactionKind::Chat,
        ]
        .into_iter()
        .find(|kind| kind.stored() == text)
        .ok_or_else(|| ApiError::CorruptRow(format!("unknown transaction kind {text:?}")))
    }
}

/// Which transactions to list.
#[derive(Debug, Clone, Default, InputObject)]
pub struct TransactionFilter {
    /// Only transactions that spend from or pay to this address.
    pub address: Option<String>,
    /// Lowest block height (inclusive).
    pub from_height: Option<i64>,
    /// Highest block height (inclusive).
    pub to_height: Option<i64>,
    pub kind: Option<TransactionKind>,
}

/// Columns of a transaction row (`t`).
pub const TRANSACTION_FIELDS: &str = "t.id, t.block_height, t.transaction_index, t.kind,
        t.fee::text AS fee, t.arbitrary_data, t.size, t.coin_input_count, t.coin_output_count,
        t.blockstake_input_count, t.blockstake_output_count,
        t.coin_input_total::text AS coin_input_total,
        t.coin_output_total::text AS coin_output_total";

/// A row of `explorer.transaction`.
#[derive(Debug, sqlx::FromRow)]
pub struct TransactionRow {
    pub id: Vec<u8>,
    pub block_height: i64,
    pub transaction_index: i32,
    pub kind: String,
    pub fee: String,
    pub arbitrary_data: Vec<u8>,
    pub size: i32,
    pub coin_input_count: i32,
    pub coin_output_count: i32,
    pub blockstake_input_count: i32,
    pub blockstake_output_count: i32,
    pub coin_input_total: String,
    pub coin_output_total: String,
}

/// A transaction in a block of the best chain.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(complex)]
pub struct Transaction {
    /// Transaction ID (hex).
    pub id: String,
    pub block_height: i64,
    /// Position in its block.
    pub index: i32,
    pub kind: TransactionKind,
    /// Decimal coins.
    pub fee: String,
    /// Arbitrary data (hex).
    pub arbitrary_data: String,
    /// Arbitrary data as text, when it is UTF-8.
    pub arbitrary_data_text: Option<String>,
    /// Canonical encoding size in bytes.
    pub size: i32,
    pub coin_input_count: i32,
    pub coin_output_count: i32,
    pub blockstake_input_count: i32,
    pub blockstake_output_count: i32,
    /// Decimal coins spent.
    pub coin_input_total: String,
    /// Decimal coins created.
    pub coin_output_total: String,
}

impl Transaction {
    pub fn from_row(row: TransactionRow, network: &Network) -> ApiResult<Transaction> {
        Ok(Transaction {
            id: hex_id(&row.id),
            block_height: row.block_height,
            index: row.transaction_index,
            kind: TransactionKind::from_stored(&row.kind)?,
            fee: network.coins_from_numeric(&row.fee)?,
            arbitrary_data_text: (!row.arbitrary_data.is_empty())
                .then(|| String::from_utf8(row.arbitrary_data.clone()).ok())
                .flatten(),
            arbitrary_data: hex_id(&row.arbitrary_data),
            size: row.size,
            coin_input_count: row.coin_input_count,
            coin_output_count: row.coin_output_count,
            blockstake_input_count: row.blockstake_input_count,
            blockstake_output_count: row.blockstake_output_count,
            coin_input_total: network.coins_from_numeric(&row.coin_input_total)?,
            coin_output_total: network.coins_from_numeric(&row.coin_output_total)?,
        })
    }

    fn stored_id(&self) -> ApiResult<Vec<u8>> {
        parse_id("transaction ID", &self.id)
    }
}

/// Sort key of inputs and outputs inside a transaction: coins first.
const CURRENCY_RANK_INPUT: &str = "CASE i.currency WHEN 'coin' THEN 0 ELSE 1 END";
const CURRENCY_RANK_OUTPUT: &str = "CASE o.currency WHEN 'coin' THEN 0 ELSE 1 END";

fn currency_rank(currency: &str) -> i64 {
    if currency == "coin" { 0 } else { 1 }
}

#[ComplexObject]
impl Transaction {
    /// The block holding the transaction.
    async fn block(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Block>> {
        block_by_height(ApiState::of(ctx), self.block_height)
            .await
            .gql()
    }

    /// Coin inputs, then blockstake inputs, in index order.
    #[graphql(complexity = "super::page_complexity(first, last, child_complexity)")]
    async fn inputs(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<Page<Input>> {
        let state = ApiState::of(ctx);
        let id = self.stored_id().gql()?;
        static KEY: [&str; 2] = [CURRENCY_RANK_INPUT, "i.input_index"];
        let query = ListQuery {
            list: "input",
            select: INPUT_COLUMNS,
            from: "FROM explorer.input i",
            filters: vec![("i.transaction_id = ", SqlValue::Bytes(id))],
            conditions: Vec::new(),
            key: &KEY,
            descending: false,
        };
        fetch_page(
            &state.pool,
            &state.limits,
            query,
            PageArgs::new(after, before, first, last),
            wants_total(ctx),
            |row: &InputRow| {
                vec![
                    KeyPart::Int(currency_rank(&row.currency)),
                    KeyPart::Int(i64::from(row.input_index)),
                ]
            },
            |row| Input::from_row(row, &state.network),
        )
        .await
        .gql()
    }

    /// Coin outputs (including minted ones), then blockstake outputs, in index order.
    #[graphql(complexity = "super::page_complexity(first, last, child_complexity)")]
    async fn outputs(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<Page<Output>> {
        let id = self.stored_id().gql()?;
        static KEY: [&str; 2] = [CURRENCY_RANK_OUTPUT, "o.output_index"];
        let query = ListQuery {
            list: "output",
            select: OUTPUT_COLUMNS,
            from: "FROM explorer.output o",
            filters: vec![("o.transaction_id = ", SqlValue::Bytes(id))],
            conditions: Vec::new(),
            key: &KEY,
            descending: false,
        };
        output_page(
            ctx,
            query,
            PageArgs::new(after, before, first, last),
            |row: &OutputRow| {
                vec![
                    KeyPart::Int(currency_rank(&row.currency)),
                    KeyPart::Int(i64::from(row.output_index)),
                ]
            },
        )
        .await
        .gql()
    }

    /// The domain payload as recorded (JSON): `{kind: "notary",
    /// documentHash}`, `{kind: "minting", events}` or `{kind:
    /// "authorized_addresses", events}`; none without a payload.
    async fn payload(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<async_graphql::Json<serde_json::Value>>> {
        let id = self.stored_id().gql()?;
        Ok(super::holders::transaction_payload(ApiState::of(ctx), &id)
            .await
            .gql()?
            .map(async_graphql::Json))
    }

    /// Blocks on top of the transaction's block, plus one.
    async fn confirmations(&self, ctx: &Context<'_>) -> async_graphql::Result<i64> {
        let tip = super::chain_info::tip_height(&ApiState::of(ctx).pool)
            .await
            .gql()?;
        Ok(tip.map_or(0, |tip| tip - self.block_height + 1))
    }
}

/// The transaction with ID `id` (stored bytes).
pub async fn transaction_by_id(state: &ApiState, id: &[u8]) -> ApiResult<Option<Transaction>> {
    let sql = format!("SELECT {TRANSACTION_FIELDS} FROM explorer.transaction t WHERE t.id = $1");
    let row: Option<TransactionRow> = sqlx::query_as(&sql)
        .bind(id)
        .fetch_optional(&state.pool)
        .await?;
    row.map(|row| Transaction::from_row(row, &state.network))
        .transpose()
}

/// A page of transactions matching `filter`, newest first (or in block
/// order with `ascending`).
pub async fn transaction_page(
    ctx: &Context<'_>,
    filter: TransactionFilter,
    args: PageArgs,
    descending: bool,
) -> ApiResult<Page<Transaction>> {
    let state = ApiState::of(ctx);
    let by_address = match &filter.address {
        Some(address) => Some(state.network.parse_address(address)?),
        None => None,
    };
    // With an address, the address index drives the page; without, the
    // (block_height, transaction_index) key of the transaction table.
    static ADDRESS_KEY: [&str; 2] = ["a.block_height", "a.transaction_index"];
    static TRANSACTION_KEY: [&str; 2] = ["t.block_height", "t.transaction_index"];
    let address_select = format!(
        "SELECT {TRANSACTION_FIELDS} FROM explorer.address_transaction a
           JOIN explorer.transaction t ON t.id = a.transaction_id"
    );
    let plain_select = format!("SELECT {TRANSACTION_FIELDS} FROM explorer.transaction t");
    let mut filters = Vec::new();
    let (select, from, key, height_column): (&str, &str, &'static [&'static str], _) =
        match by_address {
            Some(address) => {
                filters.push(("a.address = ", SqlValue::Bytes(address)));
                (
                    address_select.as_str(),
                    "FROM explorer.address_transaction a JOIN explorer.transaction t ON t.id = a.transaction_id",
                    &ADDRESS_KEY,
                    ("a.block_height >= ", "a.block_height <= "),
                )
            }
            None => (
                plain_select.as_str(),
                "FROM explorer.transaction t",
                &TRANSACTION_KEY,
                ("t.block_height >= ", "t.block_height <= "),
            ),
        };
    if let Some(from_height) = filter.from_height {
        filters.push((height_column.0, SqlValue::Int(from_height)));
    }
    if let Some(to_height) = filter.to_height {
        filters.push((height_column.1, SqlValue::Int(to_height)));
    }
    if let Some(kind) = filter.kind {
        filters.push(("t.kind = ", SqlValue::Text(kind.stored().to_owned())));
    }
    let query = ListQuery {
        list: "tx",
        select,
        from,
        filters,
        conditions: Vec::new(),
        key,
        descending,
    };
    fetch_page(
        &state.pool,
        &state.limits,
        query,
        args,
        wants_total(ctx),
        |row: &TransactionRow| {
            vec![
                KeyPart::Int(row.block_height),
                KeyPart::Int(i64::from(row.transaction_index)),
            ]
        },
        |row| Transaction::from_row(row, &state.network),
    )
    .await
}

/// Queries over transactions.
#[derive(Default)]
pub struct TransactionQuery;

#[Object]
impl TransactionQuery {
    /// A confirmed transaction by ID.
    async fn transaction(
        &self,
        ctx: &Context<'_>,
        id: String,
    ) -> async_graphql::Result<Option<Transaction>> {
        let id = parse_id("transaction ID", &id).gql()?;
        transaction_by_id(ApiState::of(ctx), &id).await.gql()
    }

    /// Confirmed transactions, newest first.
    #[graphql(complexity = "super::page_complexity(first, last, child_complexity)")]
    async fn transactions(
        &self,
        ctx: &Context<'_>,
        filter: Option<TransactionFilter>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<Page<Transaction>> {
        transaction_page(
            ctx,
            filter.unwrap_or_default(),
            PageArgs::new(after, before, first, last),
            true,
        )
        .await
        .gql()
    }
}
