//! Coin and blockstake outputs (`explorer.output`): the `output` query,
//! the `Output` type with its decoded condition, and inputs
//! (`explorer.input`).

use async_graphql::{ComplexObject, Context, Enum, Object, SimpleObject};

use super::transactions::{Transaction, transaction_by_id};
use crate::context::{ApiState, Network, hex_id, parse_id};
use crate::error::{ApiError, ApiResult, IntoGraphql};
use crate::paging::{KeyPart, ListQuery, Page, PageArgs, fetch_page, wants_total};

/// Columns of an output row.
pub const OUTPUT_COLUMNS: &str = "SELECT o.id, o.currency, o.origin, o.block_height,
        o.transaction_id, o.transaction_index, o.output_index, o.value::text AS value, o.address,
        o.condition_type, o.timelock, o.timelock_kind, o.timelock_inner_type,
        o.multisig_required, o.multisig_key_count, o.swap_sender, o.swap_receiver, o.swap_hashed_secret,
        o.swap_timelock, o.matures_at, o.spent_by, o.spent_at
   FROM explorer.output o";

/// A row of `explorer.output`.
#[derive(Debug, sqlx::FromRow)]
pub struct OutputRow {
    pub id: Vec<u8>,
    pub currency: String,
    pub origin: String,
    pub block_height: i64,
    pub transaction_id: Option<Vec<u8>>,
    pub transaction_index: Option<i32>,
    pub output_index: i32,
    pub value: String,
    pub address: Vec<u8>,
    pub condition_type: String,
    pub timelock: Option<i64>,
    pub timelock_kind: Option<String>,
    pub timelock_inner_type: Option<String>,
    pub multisig_required: Option<i32>,
    pub multisig_key_count: Option<i32>,
    pub swap_sender: Option<Vec<u8>>,
    pub swap_receiver: Option<Vec<u8>>,
    pub swap_hashed_secret: Option<Vec<u8>>,
    pub swap_timelock: Option<i64>,
    pub matures_at: Option<i64>,
    pub spent_by: Option<Vec<u8>>,
    pub spent_at: Option<i64>,
}

/// Which of the two currencies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum Asset {
    Coin,
    Blockstake,
}

impl Asset {
    /// The name stored in the read model.
    pub fn stored(self) -> &'static str {
        match self {
            Asset::Coin => "coin",
            Asset::Blockstake => "blockstake",
        }
    }

    fn from_stored(text: &str) -> ApiResult<Asset> {
        match text {
            "coin" => Ok(Asset::Coin),
            "blockstake" => Ok(Asset::Blockstake),
            other => Err(ApiError::CorruptRow(format!("unknown currency {other:?}"))),
        }
    }

    /// Formats a stored amount: coins as decimal coins, blockstakes as a
    /// whole number.
    pub fn amount(self, network: &Network, stored: &str) -> ApiResult<String> {
        match self {
            Asset::Coin => network.coins_from_numeric(stored),
            Asset::Blockstake => Ok(stored.to_owned()),
        }
    }
}

/// An output's condition, decoded.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(complex)]
pub struct ConditionView {
    /// nil | pubkey | multisig | timelock | atomic_swap
    pub r#type: String,
    /// Time lock: the raw lock value (a height below 500,000,000, else unix seconds).
    pub timelock: Option<i64>,
    /// Time lock: `height` or `time`.
    pub timelock_kind: Option<String>,
    /// Time lock: the type of the wrapped condition.
    pub timelock_inner_type: Option<String>,
    /// Multisig: signatures required.
    pub multisig_required: Option<i32>,
    /// Multisig: keys that may sign.
    pub multisig_key_count: Option<i32>,
    /// Atomic swap: sender address.
    pub swap_sender: Option<String>,
    /// Atomic swap: receiver address.
    pub swap_receiver: Option<String>,
    /// Atomic swap: the hashed secret (hex).
    pub swap_hashed_secret: Option<String>,
    /// Atomic swap: unix seconds after which the sender may refund.
    pub swap_timelock: Option<i64>,
    /// The output's address (stored form), for the multisig members.
    #[graphql(skip)]
    owner: Vec<u8>,
}

#[ComplexObject]
impl ConditionView {
    /// Multisig (plain or time-locked): the members' public-key addresses
    /// (empty for other conditions).
    async fn multisig_members(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<String>> {
        if self.multisig_required.is_none() {
            return Ok(Vec::new());
        }
        let info = super::holders::multisig_info(ApiState::of(ctx), &self.owner)
            .await
            .gql()?;
        Ok(info.map(|info| info.members).unwrap_or_default())
    }
}

/// A coin or blockstake output.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(complex)]
pub struct Output {
    /// Output ID (hex).
    pub id: String,
    pub currency: Asset,
    /// transaction | minted | payout
    pub origin: String,
    pub block_height: i64,
    /// The creating transaction (hex; none for payouts).
    pub transaction_id: Option<String>,
    /// Index among the transaction's outputs of this currency, or the payout's index.
    pub index: i32,
    /// Decimal coins, or whole blockstakes.
    pub value: String,
    /// Bech32m address the condition resolves to.
    pub address: String,
    pub condition: ConditionView,
    /// Payouts: the first height at which they can be spent.
    pub matures_at: Option<i64>,
    pub spent: bool,
    /// The spending transaction (hex).
    pub spent_by: Option<String>,
    /// Height of the block that spent it.
    pub spent_at: Option<i64>,
}

impl Output {
    pub fn from_row(row: OutputRow, network: &Network) -> ApiResult<Output> {
        let currency = Asset::from_stored(&row.currency)?;
        Ok(Output {
            id: hex_id(&row.id),
            currency,
            origin: row.origin,
            block_height: row.block_height,
            transaction_id: row.transaction_id.as_deref().map(hex_id),
            index: row.output_index,
            value: currency.amount(network, &row.value)?,
            address: network.address_text(&row.address)?,
            condition: ConditionView {
                r#type: row.condition_type,
                timelock: row.timelock,
                timelock_kind: row.timelock_kind,
                timelock_inner_type: row.timelock_inner_type,
                multisig_required: row.multisig_required,
                multisig_key_count: row.multisig_key_count,
                swap_sender: row
                    .swap_sender
                    .as_deref()
                    .map(|address| network.address_text(address))
                    .transpose()?,
                swap_receiver: row
                    .swap_receiver
                    .as_deref()
                    .map(|address| network.address_text(address))
                    .transpose()?,
                swap_hashed_secret: row.swap_hashed_secret.as_deref().map(hex_id),
                swap_timelock: row.swap_timelock,
                owner: row.address.clone(),
            },
            matures_at: row.matures_at,
            spent: row.spent_at.is_some(),
            spent_by: row.spent_by.as_deref().map(hex_id),
            spent_at: row.spent_at,
        })
    }
}

#[ComplexObject]
impl Output {
    /// The creating transaction (none for payouts).
    async fn transaction(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Transaction>> {
        match &self.transaction_id {
            Some(id) => {
                transaction_by_id(ApiState::of(ctx), &parse_id("transaction ID", id).gql()?)
                    .await
                    .gql()
            }
            None => Ok(None),
        }
    }
}

/// A page of outputs for `query`.
pub async fn output_page(
    ctx: &Context<'_>,
    query: ListQuery<'_>,
    args: PageArgs,
    key_of: impl Fn(&OutputRow) -> Vec<KeyPart>,
) -> ApiResult<Page<Output>> {
    let state = ApiState::of(ctx);
    fetch_page(
        &state.pool,
        &state.limits,
        query,
        args,
        wants_total(ctx),
        key_of,
        |row| Output::from_row(row, &state.network),
    )
    .await
}

/// The output with ID `id` (stored bytes).
pub async fn output_by_id(state: &ApiState, id: &[u8]) -> ApiResult<Option<Output>> {
    let sql = format!("{OUTPUT_COLUMNS} WHERE o.id = $1");
    let row: Option<OutputRow> = sqlx::query_as(&sql)
        .bind(id)
        .fetch_optional(&state.pool)
        .await?;
    row.map(|row| Output::from_row(row, &state.network))
        .transpose()
}

/// Columns of an input row.
pub const INPUT_COLUMNS: &str = "SELECT i.transaction_id, i.currency, i.input_index,
        i.block_height, i.parent_id, i.value::text AS value, i.address, i.fulfillment_type,
        i.public_keys, i.secret
   FROM explorer.input i";

/// A row of `explorer.input`.
#[derive(Debug, sqlx::FromRow)]
pub struct InputRow {
    pub transaction_id: Vec<u8>,
    pub currency: String,
    pub input_index: i32,
    pub block_height: i64,
    pub parent_id: Vec<u8>,
    pub value: String,
    pub address: Vec<u8>,
    pub fulfillment_type: String,
    pub public_keys: Vec<Vec<u8>>,
    pub secret: Option<Vec<u8>>,
}

/// An input: the output it spends and how it was unlocked.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(complex)]
pub struct Input {
    pub currency: Asset,
    pub index: i32,
    /// The spent output's ID (hex).
    pub parent_id: String,
    /// Decimal coins, or whole blockstakes.
    pub value: String,
    /// The address the spent output belonged to.
    pub address: String,
    /// nil | single_signature | multi_signature | atomic_swap_claim | atomic_swap_refund
    pub fulfillment_type: String,
    /// Signing keys (hex).
    pub public_keys: Vec<String>,
    /// Revealed atomic swap secret (hex).
    pub secret: Option<String>,
}

impl Input {
    pub fn from_row(row: InputRow, network: &Network) -> ApiResult<Input> {
        let currency = Asset::from_stored(&row.currency)?;
        Ok(Input {
            currency,
            index: row.input_index,
            parent_id: hex_id(&row.parent_id),
            value: currency.amount(network, &row.value)?,
            address: network.address_text(&row.address)?,
            fulfillment_type: row.fulfillment_type,
            public_keys: row.public_keys.iter().map(|key| hex_id(key)).collect(),
            secret: row.secret.as_deref().map(hex_id),
        })
    }
}

#[ComplexObject]
impl Input {
    /// The spent output.
    async fn parent(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Output>> {
        output_by_id(
            ApiState::of(ctx),
            &parse_id("output ID", &self.parent_id).gql()?,
        )
        .await
        .gql()
    }
}

/// Queries over outputs.
#[derive(Default)]
pub struct OutputQuery;

#[Object]
impl OutputQuery {
    /// A coin or blockstake output by ID (spent or not).
    async fn output(&self, ctx: &Context<'_>, id: String) -> async_graphql::Result<Option<Output>> {
        let id = parse_id("output ID", &id).gql()?;
        output_by_id(ApiState::of(ctx), &id).await.gql()
    }
}
