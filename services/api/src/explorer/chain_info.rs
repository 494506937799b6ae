//! The `chain` query: the tip and its facts (height, difficulty, supply,
//! active stake estimate), the network's constants from its configuration,
//! and how far each read model has folded the chain (its checkpoint).

use async_graphql::{Context, Object, SimpleObject};
use sqlx::PgPool;

use super::blocks::{Block, block_by_height};
use crate::context::{ApiState, hex_id};
use crate::error::{ApiResult, IntoGraphql};

/// The consensus and stateless constants of the network.
#[derive(Debug, Clone, SimpleObject)]
pub struct NetworkConstants {
    pub network_name: String,
    /// Bech32m prefix of addresses.
    pub address_prefix: String,
    /// Decimal places of one coin.
    pub coin_precision: i32,
    /// Genesis block ID (hex), also the chain ID signatures commit to.
    pub genesis_id: String,
    /// Unix seconds.
    pub genesis_timestamp: i64,
    /// Target seconds between blocks.
    pub block_frequency: i64,
    pub target_window: i64,
    pub stake_modifier_delay: i64,
    /// Seconds a transferred blockstake output waits before it may stake.
    pub blockstake_aging: i64,
    /// Blocks before payouts become spendable.
    pub maturity_delay: i64,
    /// Deepest reorganisation nodes accept.
    pub finality_depth: i64,
    /// Paid to each block's creator on top of fees (decimal coins).
    pub block_creator_fee: String,
    /// Minimum fee: base (decimal coins)…
    pub minimum_fee_base: String,
    /// …plus this per byte of the canonical encoding (decimal coins).
    pub minimum_fee_per_byte: String,
    pub block_size_limit: i64,
    pub transaction_size_limit: i64,
    pub arbitrary_data_limit: i64,
    pub minting_enabled: bool,
    pub authorized_addresses_enabled: bool,
}

/// Where one read model stands.
#[derive(Debug, Clone, SimpleObject)]
pub struct ModelSync {
    /// Read model (PostgreSQL schema) name.
    pub model: String,
    /// Height of the last block folded in.
    pub height: i64,
    /// ID of that block (hex).
    pub block_id: String,
}

/// The chain as the explorer read model sees it.
#[derive(Debug, Clone, SimpleObject)]
pub struct ChainInfo {
    /// Network name (as in NATS subjects).
    pub network: String,
    /// Height of the tip (none before the genesis block is folded in).
    pub height: Option<i64>,
    pub tip: Option<Block>,
    /// Difficulty of the target the tip's child must meet (decimal integer).
    pub difficulty: Option<String>,
    /// Coins in existence: unspent outputs plus maturing payouts (decimal coins).
    pub coin_supply: Option<String>,
    /// Blockstakes in existence.
    pub blockstake_supply: Option<String>,
    /// Blockstakes estimated to take part in the lottery (last 200 blocks).
    pub estimated_active_stake: Option<String>,
    pub constants: NetworkConstants,
    /// Every read model's checkpoint.
    pub sync: Vec<ModelSync>,
}

/// Height of the explorer's tip, if any.
pub async fn tip_height(pool: &PgPool) -> ApiResult<Option<i64>> {
    let height: Option<i64> = sqlx::query_scalar("SELECT max(height) FROM explorer.block")
        .fetch_one(pool)
        .await?;
    Ok(height)
}

/// The checkpoint of every schema that has one (read models).
pub async fn model_sync(pool: &PgPool) -> ApiResult<Vec<ModelSync>> {
    let schemas: Vec<String> = sqlx::query_scalar(
        "SELECT table_schema::text FROM information_schema.tables
          WHERE table_name = 'checkpoint' AND table_schema NOT LIKE '%\\_\\_%'
          ORDER BY 1",
    )
    .fetch_all(pool)
    .await?;
    let mut sync = Vec::with_capacity(schemas.len());
    for schema in schemas {
        // The schema name comes from the catalog, quoted as an identifier.
        let sql = format!(
            "SELECT height, block_id FROM \"{}\".checkpoint",
            schema.replace('"', "\"\"")
        );
        let row: Option<(i64, Vec<u8>)> = sqlx::query_as(&sql).fetch_optional(pool).await?;
        if let Some((height, block_id)) = row {
            sync.push(ModelSync {
                model: schema,
                height,
                block_id: hex_id(&block_id),
            });
        }
    }
    Ok(sync)
}

fn constants(state: &ApiState) -> NetworkConstants {
    let config = &state.network.config;
    let params = &config.params;
    let consensus = &config.consensus;
    let int = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
    NetworkConstants {
        network_name: params.network_name.clone(),
        address_prefix: params.address_prefix.clone(),
        coin_precision: i32::try_from(params.coin_precision).unwrap_or(i32::MAX),
        genesis_id: config.genesis_id.to_string(),
        genesis_timestamp: int(config.genesis.header.timestamp.0),
        block_frequency: int(consensus.block_frequency),
        target_window: int(consensus.target_window),
        stake_modifier_delay: int(consensus.stake_modifier_delay),
        blockstake_aging: int(consensus.blockstake_aging),
        maturity_delay: int(consensus.maturity_delay),
        finality_depth: int(consensus.finality_depth),
        block_creator_fee: state.network.coins(consensus.block_creator_fee),
        minimum_fee_base: state.network.coins(params.minimum_fee_base),
        minimum_fee_per_byte: state.network.coins(params.minimum_fee_per_byte),
        block_size_limit: int(params.block_size_limit),
        transaction_size_limit: int(params.transaction_size_limit),
        arbitrary_data_limit: int(params.arbitrary_data_limit),
        minting_enabled: config.mint_condition.is_some(),
        authorized_addresses_enabled: consensus.authorized_addresses_enabled,
    }
}

async fn chain_info(state: &ApiState) -> ApiResult<ChainInfo> {
    let tip = match tip_height(&state.pool).await? {
        Some(height) => block_by_height(state, height).await?,
        None => None,
    };
    let supply: Option<(String, String)> = match &tip {
        Some(tip) => {
            sqlx::query_as(
                "SELECT coin_supply::text, blockstake_supply::text
                   FROM explorer.block_statistics WHERE height = $1",
            )
            .bind(tip.height)
            .fetch_optional(&state.pool)
            .await?
        }
        None => None,
    };
    let difficulty = match &tip {
        Some(tip) => Some(child_difficulty(&tip.child_target)?),
        None => None,
    };
    let (coin_supply, blockstake_supply) = match supply {
        Some((coins, blockstakes)) => (
            Some(state.network.coins_from_numeric(&coins)?),
            Some(blockstakes),
        ),
        None => (None, None),
    };
    Ok(ChainInfo {
        network: state.network.name.clone(),
        height: tip.as_ref().map(|tip| tip.height),
        estimated_active_stake: tip.as_ref().map(|tip| tip.estimated_active_stake.clone()),
        tip,
        difficulty,
        coin_supply,
        blockstake_supply,
        constants: constants(state),
        sync: model_sync(&state.pool).await?,
    })
}

/// floor(2^256 / target) for a hex target, as a decimal integer.
fn child_difficulty(target_hex: &str) -> ApiResult<String> {
    let bytes: [u8; 32] = hex::decode(target_hex)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| {
            crate::error::ApiError::CorruptRow(format!(
                "target {target_hex:?} is not 32 bytes of hex"
            ))
        })?;
    Ok(chain::pobs::Target(bytes).difficulty().to_string())
}

/// The `chain` query.
#[derive(Default)]
pub struct ChainQuery;

#[Object]
impl ChainQuery {
    /// The tip, supply, network constants and read-model sync heights.
    async fn chain(&self, ctx: &Context<'_>) -> async_graphql::Result<ChainInfo> {
        chain_info(ApiState::of(ctx)).await.gql()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn difficulty_is_two_to_the_256_over_target() {
        // target 2^255 → 2; target 2^256 - 1 → 1; target 1 → 2^256.
        let mut half = vec![0u8; 32];
        half[0] = 0x80;
        assert_eq!(child_difficulty(&hex::encode(&half)).ok(), Some("2".into()));
        assert_eq!(child_difficulty(&"ff".repeat(32)).ok(), Some("1".into()));
        let mut one = vec![0u8; 32];
        one[31] = 1;
        assert_eq!(
            child_difficulty(&hex::encode(&one)).ok(),
            Some(
                "115792089237316195423570985008687907853269984665640564039457584007913129639936"
                    .into()
            )
        );
    }
}
