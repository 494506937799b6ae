//! Where a model stands, and what to do with the next message.
//!
//! [`decide`] is the whole continuity rule, as a pure function: given the
//! checkpoint and what the model remembers of the block at the message's
//! height, a message is applied, reverted, skipped (a redelivery or a
//! republish of a change already made) or refused (it does not follow).

use chain::stream::{BlockMessage, BlockMessageKind};
use ledger::{BlockHeight, BlockId};

use crate::error::StreamSequence;

/// A model's position: the block at its tip and the last stream message
/// folded in, and which chain (and stream) they belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    pub height: BlockHeight,
    pub block_id: BlockId,
    pub stream_seq: StreamSequence,
    /// The genesis block of the chain the model folds: the chain ID.
    /// `None` for a checkpoint written before the runtime recorded it.
    pub genesis_id: Option<BlockId>,
    /// The block named by the stream message at `stream_seq`, whatever it
    /// did (applied, reverted, skipped). `None` when no stream message is
    /// at that position for the model (blocks backfilled from a node; a
    /// checkpoint written before the runtime recorded it).
    pub stream_block: Option<BlockId>,
}

impl Checkpoint {
    /// Whether `message`, found at the checkpoint's stream position, can
    /// be the message the model folded there (see [`crate::runner`],
    /// "another chain"). Exact when the checkpoint recorded the block of
    /// that message; otherwise what the checkpoint implies: an applied
    /// message at its height names its block, a reverted one at the
    /// height above is its child. Anything else cannot be judged (true).
    pub fn matches_stream_message(&self, message: &BlockMessage) -> bool {
        if let Some(expected) = self.stream_block {
            return message.block_id() == expected;
        }
        match message.kind {
            BlockMessageKind::Applied if message.height == self.height => {
                message.block_id() == self.block_id
            }
            BlockMessageKind::Reverted
                if Some(message.height.0) == self.height.0.checked_add(1) =>
            {
                message.block.header.parent == self.block_id
            }
            _ => true,
        }
    }
}

/// What the model remembers of the block at a height.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppliedBlock {
    pub block_id: BlockId,
    /// Whether its changes were recorded in the undo log (false for blocks
    /// applied when they were already below the finality horizon).
    pub undo_recorded: bool,
}

/// What to do with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Apply,
    Revert,
    /// Already done (redelivered or republished).
    Skip,
    /// Does not follow; the reason names what was expected.
    Refuse(String),
}

/// The continuity rule. `remembered` is what the model holds at the
/// message's height (`None` if nothing, or if pruned below the horizon).
pub fn decide(
    checkpoint: Option<&Checkpoint>,
    remembered: Option<&AppliedBlock>,
    message: &BlockMessage,
) -> Step {
    let id = message.block_id();
    let height = message.height;
    match (message.kind, checkpoint) {
        (BlockMessageKind::Applied, None) => {
            if height == BlockHeight(0) {
                Step::Apply
            } else {
                Step::Refuse(format!(
                    "the model is empty and expects the genesis block, not height {height}"
                ))
            }
        }
        (BlockMessageKind::Reverted, None) => {
            Step::Refuse("the model is empty; there is nothing to revert".to_owned())
        }
        (BlockMessageKind::Applied, Some(at)) => {
            if height == BlockHeight(0)
                && let Some(genesis) = at.genesis_id
                && genesis != id
            {
                // Never pruned: the chain ID. Another genesis is another chain.
                Step::Refuse(format!(
                    "the model folds the chain of genesis block {genesis}; this is another chain's genesis"
                ))
            } else if Some(height) == at.height.0.checked_add(1).map(BlockHeight)
                && message.block.header.parent == at.block_id
            {
                Step::Apply
            } else if height <= at.height {
                match remembered {
                    Some(known) if known.block_id == id => Step::Skip,
                    // Below the horizon: already final and pruned.
                    None => Step::Skip,
                    Some(known) => Step::Refuse(format!(
                        "height {height} holds block {} and was not reverted first",
                        known.block_id
                    )),
                }
            } else {
                Step::Refuse(format!(
                    "expected a child of block {} at height {}",
                    at.block_id,
                    at.height.0.saturating_add(1)
                ))
            }
        }
        (BlockMessageKind::Reverted, Some(at)) => {
            if at.height == height && at.block_id == id {
                match remembered {
                    Some(known) if !known.undo_recorded => Step::Refuse(format!(
                        "block {id} was applied below the finality horizon; its undo history was not kept"
                    )),
                    None => Step::Refuse(format!(
                        "block {id} is beyond the finality horizon; its undo history is pruned"
                    )),
                    Some(_) => Step::Revert,
                }
            } else if remembered.is_some_and(|known| known.block_id == id) {
                Step::Refuse(format!(
                    "block {id} at height {height} is not the tip ({} at {}); blocks above it must be reverted first",
                    at.block_id, at.height
                ))
            } else {
                // Reverted already (redelivery), or never applied here.
                Step::Skip
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger::{Block, BlockStakePosition, Hash32, Timestamp};

    fn block(parent: BlockId, salt: u64) -> Block {
        Block::new(
            parent,
            Timestamp(1_000 + salt),
            BlockStakePosition {
                height: BlockHeight(0),
                transaction_index: 0,
                output_index: 0,
            },
            Vec::new(),
            Vec::new(),
        )
    }

    fn message(kind: BlockMessageKind, height: u64, block: &Block) -> BlockMessage {
        BlockMessage {
            kind,
            height: BlockHeight(height),
            outbox_sequence: 1,
            block: block.clone(),
            events: Vec::new(),
        }
    }

    fn at(height: u64, block: &Block) -> Checkpoint {
        Checkpoint {
            height: BlockHeight(height),
            block_id: block.id(),
            stream_seq: 10,
            genesis_id: None,
            stream_block: None,
        }
    }

    fn remembered(block: &Block) -> AppliedBlock {
        AppliedBlock {
            block_id: block.id(),
            undo_recorded: true,
        }
    }

    #[test]
    fn empty_model_takes_only_genesis() {
        let genesis = block(BlockId(Hash32::ZERO), 0);
        let applied = BlockMessageKind::Applied;
        assert_eq!(
            decide(None, None, &message(applied, 0, &genesis)),
            Step::Apply
        );
        assert!(matches!(
            decide(None, None, &message(applied, 1, &genesis)),
            Step::Refuse(_)
        ));
        assert!(matches!(
            decide(
                None,
                None,
                &message(BlockMessageKind::Reverted, 0, &genesis)
            ),
            Step::Refuse(_)
        ));
    }

    #[test]
    fn applies_children_skips_repeats_refuses_gaps_and_strangers() {
        let genesis = block(BlockId(Hash32::ZERO), 0);
        let one = block(genesis.id(), 1);
        let other_one = block(genesis.id(), 2);
        let two = block(one.id(), 3);
        let applied = BlockMessageKind::Applied;
        let cp = at(1, &one);
        assert_eq!(
            decide(Some(&cp), None, &message(applied, 2, &two)),
            Step::Apply
        );
        // A repeat of the tip, or of a pruned old block.
        assert_eq!(
            decide(
                Some(&cp),
                Some(&remembered(&one)),
                &message(applied, 1, &one)
            ),
            Step::Skip
        );
        assert_eq!(
            decide(Some(&cp), None, &message(applied, 0, &genesis)),
            Step::Skip
        );
        // Another block at a height the model holds, without a revert first.
        assert!(matches!(
            decide(
                Some(&cp),
                Some(&remembered(&one)),
                &message(applied, 1, &other_one)
            ),
            Step::Refuse(_)
        ));
        // A gap: height 3 while at 1.
        let three = block(two.id(), 4);
        assert!(matches!(
            decide(Some(&cp), None, &message(applied, 3, &three)),
            Step::Refuse(_)
        ));
        // Right height, wrong parent.
        let stranger = block(other_one.id(), 5);
        assert!(matches!(
            decide(Some(&cp), None, &message(applied, 2, &stranger)),
            Step::Refuse(_)
        ));
    }

    #[test]
    fn reverts_only_the_tip_with_undo_history() {
        let genesis = block(BlockId(Hash32::ZERO), 0);
        let one = block(genesis.id(), 1);
        let two = block(one.id(), 2);
        let reverted = BlockMessageKind::Reverted;
        let cp = at(2, &two);
        assert_eq!(
            decide(
                Some(&cp),
                Some(&remembered(&two)),
                &message(reverted, 2, &two)
            ),
            Step::Revert
        );
        // Not the tip while it is still applied below: refused.
        assert!(matches!(
            decide(
                Some(&cp),
                Some(&remembered(&one)),
                &message(reverted, 1, &one)
            ),
            Step::Refuse(_)
        ));
        // Already reverted (redelivery): the model is at 1 now.
        let back = at(1, &one);
        assert_eq!(
            decide(Some(&back), None, &message(reverted, 2, &two)),
            Step::Skip
        );
        // Tip without undo history: refused, never silently wrong.
        let final_two = AppliedBlock {
            block_id: two.id(),
            undo_recorded: false,
        };
        assert!(matches!(
            decide(Some(&cp), Some(&final_two), &message(reverted, 2, &two)),
            Step::Refuse(_)
        ));
        assert!(matches!(
            decide(Some(&cp), None, &message(reverted, 2, &two)),
            Step::Refuse(_)
        ));
    }

    #[test]
    fn another_genesis_is_refused_even_below_the_horizon() {
        let genesis = block(BlockId(Hash32::ZERO), 0);
        let other_genesis = block(BlockId(Hash32::ZERO), 9);
        let one = block(genesis.id(), 1);
        let applied = BlockMessageKind::Applied;
        let cp = Checkpoint {
            genesis_id: Some(genesis.id()),
            ..at(1, &one)
        };
        // Height 0 is pruned (nothing remembered): the own genesis is a
        // republish, another one is another chain.
        assert_eq!(
            decide(Some(&cp), None, &message(applied, 0, &genesis)),
            Step::Skip
        );
        assert!(matches!(
            decide(Some(&cp), None, &message(applied, 0, &other_genesis)),
            Step::Refuse(reason) if reason.contains("another chain")
        ));
    }

    #[test]
    fn the_message_at_the_checkpoint_position_names_the_checkpoint() {
        let genesis = block(BlockId(Hash32::ZERO), 0);
        let one = block(genesis.id(), 1);
        let other_one = block(genesis.id(), 2);
        let two = block(one.id(), 3);
        let applied = BlockMessageKind::Applied;
        let reverted = BlockMessageKind::Reverted;
        // Recorded: exact.
        let recorded = Checkpoint {
            stream_block: Some(two.id()),
            ..at(1, &one)
        };
        assert!(recorded.matches_stream_message(&message(reverted, 2, &two)));
        assert!(!recorded.matches_stream_message(&message(applied, 1, &one)));
        // Not recorded: what the checkpoint implies.
        let legacy = at(1, &one);
        assert!(legacy.matches_stream_message(&message(applied, 1, &one)));
        assert!(!legacy.matches_stream_message(&message(applied, 1, &other_one)));
        assert!(legacy.matches_stream_message(&message(reverted, 2, &two)));
        let stranger = block(other_one.id(), 4);
        assert!(!legacy.matches_stream_message(&message(reverted, 2, &stranger)));
        // A skipped republish below the tip cannot be judged.
        assert!(legacy.matches_stream_message(&message(applied, 0, &genesis)));
    }
}
