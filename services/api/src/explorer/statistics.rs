//! `statistics`: per-block figures (`explorer.block_statistics` joined
//! with `explorer.block`) aggregated into buckets of a height or time
//! range. A series is bounded by `max_statistics_points`, so it is a
//! plain list rather than a connection.

use async_graphql::{Context, InputObject, Object, SimpleObject};

use crate::context::ApiState;
use crate::error::{ApiError, ApiResult, IntoGraphql};

/// The range a series covers: heights or unix seconds (one of the two).
#[derive(Debug, Clone, Default, InputObject)]
pub struct StatisticsRange {
    pub from_height: Option<i64>,
    /// Default: the tip.
    pub to_height: Option<i64>,
    pub from_time: Option<i64>,
    /// Default: the tip's timestamp.
    pub to_time: Option<i64>,
}

/// One bucket of a series.
#[derive(Debug, Clone, SimpleObject, sqlx::FromRow)]
pub struct StatisticsPoint {
    /// Bucket number from the start of the range.
    pub bucket: i64,
    pub from_height: i64,
    pub to_height: i64,
    pub from_time: i64,
    pub to_time: i64,
    pub blocks: i64,
    pub transactions: i64,
    pub coin_inputs: i64,
    pub coin_outputs: i64,
    pub blockstake_inputs: i64,
    pub blockstake_outputs: i64,
    pub arbitrary_data_bytes: i64,
    pub new_addresses: i64,
    /// Mean seconds between blocks (none if only genesis).
    pub average_block_time: Option<f64>,
    /// Mean difficulty (decimal integer).
    pub average_difficulty: String,
    /// At the bucket's last block.
    pub estimated_active_stake: String,
    /// Fees paid (decimal coins).
    pub fees: String,
    /// Coins minted (decimal coins).
    pub coins_minted: String,
    /// Coins destroyed (decimal coins).
    pub coins_destroyed: String,
    /// Coin supply at the bucket's last block (decimal coins).
    pub coin_supply: String,
    pub blockstake_supply: String,
    /// Transactions from genesis to the bucket's last block.
    pub cumulative_transactions: i64,
}

const SERIES_SQL: &str = "
SELECT ((KEY - $1) / $2)::bigint AS bucket,
       min(s.height) AS from_height, max(s.height) AS to_height,
       min(s.timestamp) AS from_time, max(s.timestamp) AS to_time,
       count(*)::bigint AS blocks,
       sum(b.transaction_count)::bigint AS transactions,
       sum(s.coin_inputs)::bigint AS coin_inputs, sum(s.coin_outputs)::bigint AS coin_outputs,
       sum(s.blockstake_inputs)::bigint AS blockstake_inputs,
       sum(s.blockstake_outputs)::bigint AS blockstake_outputs,
       sum(s.arbitrary_data_bytes)::bigint AS arbitrary_data_bytes,
       sum(s.new_addresses)::bigint AS new_addresses,
       avg(b.block_time)::float8 AS average_block_time,
       round(avg(b.difficulty))::text AS average_difficulty,
       (array_agg(b.estimated_active_stake::text ORDER BY s.height DESC))[1] AS estimated_active_stake,
       sum(b.fees)::text AS fees,
       sum(s.coins_minted)::text AS coins_minted,
       sum(s.coins_destroyed)::text AS coins_destroyed,
       (array_agg(s.coin_supply::text ORDER BY s.height DESC))[1] AS coin_supply,
       (array_agg(s.blockstake_supply::text ORDER BY s.height DESC))[1] AS blockstake_supply,
       max(s.cumulative_transactions)::bigint AS cumulative_transactions
  FROM explorer.block_statistics s JOIN explorer.block b ON b.height = s.height
 WHERE KEY BETWEEN $1 AND $3
 GROUP BY 1 ORDER BY 1";

async fn series(
    state: &ApiState,
    range: StatisticsRange,
    granularity: i64,
) -> ApiResult<Vec<StatisticsPoint>> {
    if granularity <= 0 {
        return Err(ApiError::bad_input(format!(
            "granularity must be positive (blocks or seconds per point), not {granularity}"
        )));
    }
    let by_height = range.from_height.is_some() || range.to_height.is_some();
    let by_time = range.from_time.is_some() || range.to_time.is_some();
    let tip: Option<(i64, i64)> =
        sqlx::query_as("SELECT height, timestamp FROM explorer.block ORDER BY height DESC LIMIT 1")
            .fetch_optional(&state.pool)
            .await?;
    let Some((tip_height, tip_time)) = tip else {
        return Ok(Vec::new());
    };
    let (key, from, to) = match (by_height, by_time) {
        (true, true) => {
            return Err(ApiError::bad_input(
                "give a height range or a time range, not both",
            ));
        }
        (false, true) => (
            "s.timestamp",
            range.from_time.unwrap_or(0),
            range.to_time.unwrap_or(tip_time),
        ),
        _ => (
            "s.height",
            range.from_height.unwrap_or(0),
            range.to_height.unwrap_or(tip_height),
        ),
    };
    if to < from {
        return Err(ApiError::bad_input(format!(
            "the range ends ({to}) before it starts ({from})"
        )));
    }
    let points = (to - from) / granularity + 1;
    let max = state.limits.max_statistics_points;
    if usize::try_from(points).map_or(true, |points| points > max) {
        return Err(ApiError::bad_input(format!(
            "the range {from}..={to} in steps of {granularity} gives {points} points; at most {max} are served (raise the granularity)"
        )));
    }
    let sql = SERIES_SQL.replace("KEY", key);
    let rows: Vec<StatisticsRow> = sqlx::query_as(&sql)
        .bind(from)
        .bind(granularity)
        .bind(to)
        .fetch_all(&state.pool)
        .await?;
    rows.into_iter()
        .map(|row| row.into_point(&state.network))
        .collect()
}

/// A bucket as read, amounts in base units.
#[derive(Debug, sqlx::FromRow)]
struct StatisticsRow {
    bucket: i64,
    from_height: i64,
    to_height: i64,
    from_time: i64,
    to_time: i64,
    blocks: i64,
    transactions: i64,
    coin_inputs: i64,
    coin_outputs: i64,
    blockstake_inputs: i64,
    blockstake_outputs: i64,
    arbitrary_data_bytes: i64,
    new_addresses: i64,
    average_block_time: Option<f64>,
    average_difficulty: String,
    estimated_active_stake: String,
    fees: String,
    coins_minted: String,
    coins_destroyed: String,
    coin_supply: String,
    blockstake_supply: String,
    cumulative_transactions: i64,
}

impl StatisticsRow {
    fn into_point(self, network: &crate::context::Network) -> ApiResult<StatisticsPoint> {
        Ok(StatisticsPoint {
            bucket: self.bucket,
            from_height: self.from_height,
            to_height: self.to_height,
            from_time: self.from_time,
            to_time: self.to_time,
            blocks: self.blocks,
            transactions: self.transactions,
            coin_inputs: self.coin_inputs,
            coin_outputs: self.coin_outputs,
            blockstake_inputs: self.blockstake_inputs,
            blockstake_outputs: self.blockstake_outputs,
            arbitrary_data_bytes: self.arbitrary_data_bytes,
            new_addresses: self.new_addresses,
            average_block_time: self.average_block_time,
            average_difficulty: self.average_difficulty,
            estimated_active_stake: self.estimated_active_stake,
            fees: network.coins_from_numeric(&self.fees)?,
            coins_minted: network.coins_from_numeric(&self.coins_minted)?,
            coins_destroyed: network.coins_from_numeric(&self.coins_destroyed)?,
            coin_supply: network.coins_from_numeric(&self.coin_supply)?,
            blockstake_supply: self.blockstake_supply,
            cumulative_transactions: self.cumulative_transactions,
        })
    }
}

/// The `statistics` query.
#[derive(Default)]
pub struct StatisticsQuery;

#[Object]
impl StatisticsQuery {
    /// Chain figures over a height range (granularity in blocks per point)
    /// or a time range (granularity in seconds per point). Empty buckets
    /// are left out.
    async fn statistics(
        &self,
        ctx: &Context<'_>,
        range: Option<StatisticsRange>,
        granularity: i64,
    ) -> async_graphql::Result<Vec<StatisticsPoint>> {
        series(ApiState::of(ctx), range.unwrap_or_default(), granularity)
            .await
            .gql()
    }
}
