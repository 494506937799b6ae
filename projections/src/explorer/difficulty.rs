//! Targets, difficulty and the active-stake estimate of a block, derived
//! the way the chain derives them (`chain::pobs::retarget`, the rule in
//! docs/protocol.md) from the explorer's own earlier block rows and the
//! network's consensus constants: a block message does not carry its
//! target, but the target follows from the timestamps and targets of the
//! blocks before it, which the model already holds.

use chain::ConsensusParams;
use chain::pobs::{Difficulty, Target, retarget};
use sqlx::{PgConnection, Row};

use super::ExplorerError;
use super::rows::to_i64;

/// Blocks over which the active stake is estimated (Rivine's
/// `ActiveBSEstimationBlocks`).
pub const ACTIVE_STAKE_WINDOW: u64 = 200;

/// The difficulty columns of a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockDifficulty {
    /// The target the block met (None for genesis).
    pub target: Option<Target>,
    pub child_target: Target,
    pub difficulty: Difficulty,
    pub cumulative: Difficulty,
    pub estimated_active_stake: String,
}

#[derive(Debug, Clone)]
struct Earlier {
    timestamp: u64,
    child_target: Target,
    cumulative: Difficulty,
}

fn parse_difficulty(height: u64, text: &str) -> Result<Difficulty, ExplorerError> {
    let mut difficulty = Difficulty::zero();
    difficulty.0 = text.parse().map_err(|_| ExplorerError::CorruptRow {
        height,
        detail: format!("cumulative difficulty {text:?} is not a whole number"),
    })?;
    Ok(difficulty)
}

/// Reads the rows of the blocks at `heights` (all below `height`).
async fn earlier_blocks(
    connection: &mut PgConnection,
    heights: &[u64],
) -> Result<Vec<(u64, Earlier)>, ExplorerError> {
    let wanted: Vec<i64> = heights.iter().map(|h| to_i64(*h)).collect();
    let rows = sqlx::query(
        "SELECT height, timestamp, child_target, cumulative_difficulty::text AS cumulative
           FROM block WHERE height = ANY($1)",
    )
    .bind(&wanted)
    .fetch_all(connection)
    .await?;
    let mut found = Vec::with_capacity(rows.len());
    for row in rows {
        let height = u64::try_from(row.try_get::<i64, _>("height")?).unwrap_or(0);
        let target: Vec<u8> = row.try_get("child_target")?;
        let child_target = Target(target.try_into().map_err(|_| ExplorerError::CorruptRow {
            height,
            detail: "child target is not 32 bytes".to_owned(),
        })?);
        let cumulative: String = row.try_get("cumulative")?;
        found.push((
            height,
            Earlier {
                timestamp: u64::try_from(row.try_get::<i64, _>("timestamp")?).unwrap_or(0),
                child_target,
                cumulative: parse_difficulty(height, &cumulative)?,
            },
        ));
    }
    Ok(found)
}

/// Computes the difficulty columns of the block at `height` with
/// `timestamp`, reading its parent and the window starts from the table.
pub async fn block_difficulty(
    connection: &mut PgConnection,
    consensus: &ConsensusParams,
    height: u64,
    timestamp: u64,
) -> Result<BlockDifficulty, ExplorerError> {
    if height == 0 {
        return Ok(BlockDifficulty {
            target: None,
            child_target: consensus.initial_target,
            difficulty: Difficulty::zero(),
            cumulative: Difficulty::zero(),
            estimated_active_stake: "0".to_owned(),
        });
    }
    let parent_height = height - 1;
    let interval = consensus.target_window / 2;
    let retargets = height.is_multiple_of(interval);
    let window_start = height - consensus.target_window.min(height);
    // The window never starts at genesis: its timestamp is a configured
    // constant (on the devnet, a date long before block 1), so the seconds
    // between genesis and block 1 say nothing about the stake. Block 1's
    // estimate is therefore 0 (an empty window).
    let stake_start = height.saturating_sub(ACTIVE_STAKE_WINDOW).max(1);
    let mut wanted = vec![parent_height, stake_start];
    if retargets {
        wanted.push(window_start);
    }
    let earlier = earlier_blocks(connection, &wanted).await?;
    let find = |at: u64| {
        earlier
            .iter()
            .find(|(h, _)| *h == at)
            .map(|(_, row)| row)
            .ok_or(ExplorerError::MissingEarlierBlock {
                height,
                missing: at,
            })
    };
    let parent = find(parent_height)?;
    let below = |start: &Earlier, at: u64| {
        if start.cumulative > parent.cumulative {
            return Err(ExplorerError::CorruptRow {
                height: at,
                detail: "cumulative difficulty exceeds a later block's".to_owned(),
            });
        }
        Ok(())
    };
    let target = parent.child_target;
    let difficulty = target.difficulty();
    let cumulative = parent.cumulative.plus(&difficulty);
    let child_target = if retargets {
        let start = find(window_start)?;
        below(start, window_start)?;
        let actual = i128::from(timestamp) - i128::from(start.timestamp);
        let work = Difficulty(&cumulative.0 - &start.cumulative.0);
        retarget(
            parent.child_target,
            actual,
            consensus.block_frequency,
            &work,
            consensus.max_adjustment_up,
            consensus.max_adjustment_down,
        )
    } else {
        parent.child_target
    };
    let estimated_active_stake = if stake_start >= height {
        "0".to_owned()
    } else {
        let stake = find(stake_start)?;
        below(stake, stake_start)?;
        let elapsed = timestamp.saturating_sub(stake.timestamp);
        if elapsed == 0 {
            "0".to_owned()
        } else {
            ((&cumulative.0 - &stake.cumulative.0) / elapsed).to_string()
        }
    };
    Ok(BlockDifficulty {
        target: Some(target),
        child_target,
        difficulty,
        cumulative,
        estimated_active_stake,
    })
}
