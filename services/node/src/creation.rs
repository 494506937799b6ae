//! Block creation on a timer: the node calls [`Creator::try_create`] once
//! a second. It is `chain::creator::BlockCreator` with one difference that
//! matters to a running node: the search on a new tip starts at most
//! `lookback` seconds before now, not right after the tip's timestamp. A
//! node started long after its network's genesis (every devnet run) would
//! otherwise stamp its blocks with times just after genesis, one block per
//! tick, and never catch up with the clock.

use chain::creator::{BlockCreator, CreatorError, SkipReason};
use chain::mempool::Mempool;
use chain::{Chain, ChainStore};
use ledger::{Block, BlockId, SecretKey, Timestamp};
use tracing::{debug, warn};

/// Finds winning timestamps for our stake outputs and builds blocks.
#[derive(Debug)]
pub struct Creator {
    creator: BlockCreator,
    lookback: u64,
    /// The tip and the last timestamp tried on it.
    tried: Option<(BlockId, Timestamp)>,
}

impl Creator {
    /// A creator for `keys`, searching at most `lookback` seconds back.
    pub fn new(keys: Vec<SecretKey>, lookback: u64) -> Creator {
        Creator {
            creator: BlockCreator::new(keys),
            lookback,
            tried: None,
        }
    }

    /// Whether there is any key to create blocks with.
    pub fn has_keys(&self) -> bool {
        self.creator.has_keys()
    }

    /// A block on the tip if one of our outputs wins at a second not yet
    /// tried, up to the clock's now. The block has passed the rules peers
    /// apply; pooled transactions left out of it are logged and stay in
    /// the pool.
    pub fn try_create<S: ChainStore>(
        &mut self,
        chain: &Chain<S>,
        pool: &Mempool,
    ) -> Result<Option<Block>, CreatorError> {
        if !self.has_keys() {
            return Ok(None);
        }
        let tip = chain.tip();
        let now = chain.clock().now();
        let from = match self.tried {
            Some((tried_tip, last)) if tried_tip == tip.id => Timestamp(last.0 + 1),
            _ => Timestamp((tip.timestamp.0 + 1).max(now.0.saturating_sub(self.lookback))),
        };
        if from > now {
            return Ok(None);
        }
        self.tried = Some((tip.id, now));
        let Some(assembled) =
            self.creator
                .create_between(chain, pool, from, Timestamp(now.0 + 1))?
        else {
            return Ok(None);
        };
        for (id, reason) in &assembled.skipped {
            match reason {
                SkipReason::SpendsStakeInput => {
                    debug!(transaction = %id, %reason, "pooled transaction left out of the block")
                }
                SkipReason::Invalid(_) => {
                    warn!(transaction = %id, %reason, "pooled transaction left out of the block")
                }
            }
        }
        Ok(Some(assembled.block))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chain::mempool::MempoolConfig;
    use chain::{ChainConfig, ManualClock};
    use std::sync::Arc;

    #[test]
    fn a_late_start_stamps_blocks_near_the_clock() {
        let config = Arc::new(ChainConfig::devnet().unwrap());
        let now = config.genesis.header.timestamp.0 + 365 * 24 * 3600;
        let clock = Arc::new(ManualClock::new(Timestamp(now)));
        let mut chain = Chain::in_memory(config, clock.clone()).unwrap();
        let pool = Mempool::new(MempoolConfig::default(), &chain);
        let mut creator = Creator::new(vec![SecretKey::from_seed([1; 32])], 4);
        let mut block = None;
        for _ in 0..60 {
            clock.advance(1);
            block = creator.try_create(&chain, &pool).unwrap();
            if block.is_some() {
                break;
            }
        }
        let block = block.expect("the only staker wins within a minute");
        assert!(block.header.timestamp.0 >= now - 4);
        chain.accept_block(block).unwrap();
        assert_eq!(chain.height().0, 1);
        // Nobody else's keys: nothing.
        let mut stranger = Creator::new(vec![SecretKey::from_seed([7; 32])], 4);
        clock.advance(30);
        assert_eq!(stranger.try_create(&chain, &pool).unwrap(), None);
    }
}
