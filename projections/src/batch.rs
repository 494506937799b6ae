//! Folding a batch of stream messages into a model in ONE PostgreSQL
//! transaction: each message is checked against the checkpoint
//! ([`crate::checkpoint::decide`]), applied (the model's forward code, with
//! undo recorded by the trigger) or reverted (the undo log replayed), and
//! the new checkpoint is written in the same transaction. If anything in
//! the batch is bad, nothing of the batch is written.

use chain::stream::{BlockMessage, BlockMessageKind};
use ledger::{BlockHeight, BlockId};
use sqlx::{Connection, PgConnection};

use crate::checkpoint::{Checkpoint, Step, decide};
use crate::error::{ProjectionError, StreamSequence};
use crate::model::ReadModel;
use crate::schema::{self, to_i64};

/// One message as read from the stream, or as a node served it.
#[derive(Debug, Clone)]
pub struct StreamMessage {
    /// The stream position the checkpoint takes once the message is
    /// folded in. For a block from a node: the position just before the
    /// stream's first retained message.
    pub stream_seq: StreamSequence,
    pub payload: bytes::Bytes,
    pub source: Source,
}

impl StreamMessage {
    /// A message read from the stream at `stream_seq`.
    pub fn from_stream(stream_seq: StreamSequence, payload: bytes::Bytes) -> StreamMessage {
        StreamMessage {
            stream_seq,
            payload,
            source: Source::Stream,
        }
    }
}

/// Where a message came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The JetStream stream: a redelivery (position at or below the
    /// checkpoint's) is skipped.
    Stream,
    /// A node's block backfill reply: must be an `Applied` block that is
    /// the checkpoint's child; anything else is refused.
    Node,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Source::Stream => "stream message",
            Source::Node => "block from a node at stream position",
        })
    }
}

/// What a committed batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// The checkpoint after the batch (unchanged if everything was skipped).
    pub checkpoint: Option<Checkpoint>,
    pub applied: u64,
    pub reverted: u64,
    pub skipped: u64,
    /// Ledger events folded in (applied blocks).
    pub events: u64,
    /// Transactions folded in (applied blocks).
    pub transactions: u64,
}

/// What the stream says about its newest messages, to decide whether a
/// block's undo history can ever be needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamHint {
    /// Height of the newest applied block in the stream.
    pub head_height: BlockHeight,
    /// Stream sequence of the newest revert in the stream (0 if none).
    pub last_revert_seq: StreamSequence,
}

impl StreamHint {
    /// Whether the block at `height`, at stream position `stream_seq`, can
    /// never be reverted: no revert follows it in the stream, so the chain
    /// only grew from it to the head, and it is at least `finality_depth`
    /// below the head, deeper than any reorg a node accepts.
    pub fn is_final(
        &self,
        height: BlockHeight,
        stream_seq: StreamSequence,
        finality_depth: u64,
    ) -> bool {
        self.last_revert_seq < stream_seq
            && height.0.saturating_add(finality_depth) <= self.head_height.0
    }
}

/// Settings of batch processing.
#[derive(Debug, Clone, Copy)]
pub struct BatchSettings {
    /// The chain's finality depth: blocks more than this below the stream's
    /// head can never be reverted, so their undo history is not kept.
    pub finality_depth: u64,
}

/// Applies `messages` (consecutive stream sequences) to the model whose
/// schema the connection's `search_path` points at. `hint` describes the
/// stream's head, if known; without it every block's undo is recorded.
pub async fn apply_batch(
    connection: &mut PgConnection,
    model: &dyn ReadModel,
    schema_name: &str,
    messages: &[StreamMessage],
    hint: Option<StreamHint>,
    settings: BatchSettings,
) -> Result<BatchOutcome, ProjectionError> {
    let name = model.name();
    let mut transaction = connection.begin().await?;
    let mut checkpoint = schema::read_checkpoint(&mut transaction, name).await?;
    let mut outcome = BatchOutcome {
        checkpoint,
        ..BatchOutcome::default()
    };

    for message in messages {
        if message.source == Source::Stream
            && checkpoint.is_some_and(|at| message.stream_seq <= at.stream_seq)
        {
            outcome.skipped += 1;
            continue;
        }
        let block = BlockMessage::decode(&message.payload).map_err(|source| {
            ProjectionError::BadMessage {
                model: name.to_owned(),
                origin: message.source,
                stream_seq: message.stream_seq,
                source,
            }
        })?;
        let remembered = schema::remembered_at(&mut transaction, name, block.height).await?;
        let mut step = decide(checkpoint.as_ref(), remembered.as_ref(), &block);
        if message.source == Source::Node && step != Step::Apply {
            // A node serves exactly the blocks the model misses, in order.
            step = Step::Refuse(match (step, checkpoint) {
                (Step::Refuse(reason), _) => reason,
                (_, Some(at)) => format!(
                    "a node must serve the child of block {} at height {}",
                    at.block_id,
                    at.height.0.saturating_add(1)
                ),
                (_, None) => "a node must serve the genesis block first".to_owned(),
            });
        }
        let block_id = block.block_id();
        match step {
            Step::Apply => {
                let record_undo = !hint.is_some_and(|hint| {
                    hint.is_final(block.height, message.stream_seq, settings.finality_depth)
                });
                sqlx::query(
                    "SELECT set_config('projection.height', $1, true),
                            set_config('projection.record_undo', $2, true)",
                )
                .bind(block.height.0.to_string())
                .bind(if record_undo { "on" } else { "off" })
                .execute(&mut *transaction)
                .await?;
                model
                    .apply(&mut transaction, &block)
                    .await
                    .map_err(|source| ProjectionError::Apply {
                        model: name.to_owned(),
                        stream_seq: message.stream_seq,
                        block: block_id,
                        height: block.height,
                        source,
                    })?;
                sqlx::query(
                    "INSERT INTO applied_block (height, block_id, undo_recorded) VALUES ($1, $2, $3)
                     ON CONFLICT (height) DO UPDATE
                        SET block_id = EXCLUDED.block_id, undo_recorded = EXCLUDED.undo_recorded",
                )
                .bind(to_i64(block.height.0))
                .bind(block_id.0.0.as_slice())
                .bind(record_undo)
                .execute(&mut *transaction)
                .await?;
                checkpoint = Some(Checkpoint {
                    height: block.height,
                    block_id,
                    stream_seq: message.stream_seq,
                    genesis_id: if block.height == BlockHeight(0) {
                        Some(block_id)
                    } else {
                        checkpoint.and_then(|at| at.genesis_id)
                    },
                    stream_block: stream_block(message, block_id),
                });
                outcome.applied += 1;
                outcome.events += block.events.len() as u64;
                outcome.transactions += block.block.transactions.len() as u64;
            }
            Step::Revert => {
                sqlx::query("SELECT revert_height($1, $2)")
                    .bind(schema_name)
                    .bind(to_i64(block.height.0))
                    .execute(&mut *transaction)
                    .await?;
                sqlx::query("DELETE FROM applied_block WHERE height = $1")
                    .bind(to_i64(block.height.0))
                    .execute(&mut *transaction)
                    .await?;
                checkpoint = Some(Checkpoint {
                    height: BlockHeight(block.height.0.saturating_sub(1)),
                    block_id: block.block.header.parent,
                    stream_seq: message.stream_seq,
                    genesis_id: checkpoint.and_then(|at| at.genesis_id),
                    stream_block: stream_block(message, block_id),
                });
                outcome.reverted += 1;
            }
            Step::Skip => {
                // Still advance the stream position so it is not re-read.
                if let Some(at) = checkpoint.as_mut() {
                    at.stream_seq = message.stream_seq;
                    at.stream_block = stream_block(message, block_id);
                }
                outcome.skipped += 1;
            }
            Step::Refuse(reason) => {
                return Err(ProjectionError::DoesNotFollow {
                    model: name.to_owned(),
                    origin: message.source,
                    stream_seq: message.stream_seq,
                    kind: match block.kind {
                        BlockMessageKind::Applied => "applied",
                        BlockMessageKind::Reverted => "reverted",
                    },
                    block: block_id,
                    height: block.height,
                    reason,
                });
            }
        }
    }

    if let Some(at) = checkpoint {
        if outcome.checkpoint != checkpoint {
            schema::write_checkpoint(&mut transaction, &at).await?;
        }
        // A node never reverts more than `finality_depth` blocks below its
        // tip, so below that the model's history is final.
        let horizon = at.height.0.saturating_sub(settings.finality_depth);
        if horizon > 0 {
            sqlx::query("DELETE FROM undo_log WHERE height < $1")
                .bind(to_i64(horizon))
                .execute(&mut *transaction)
                .await?;
            sqlx::query("DELETE FROM applied_block WHERE height < $1")
                .bind(to_i64(horizon))
                .execute(&mut *transaction)
                .await?;
        }
    }
    transaction.commit().await?;
    outcome.checkpoint = checkpoint;
    Ok(outcome)
}

/// The block the checkpoint records for the stream message at its
/// position: the message's block when it came from the stream, none for a
/// block from a node (its position is just before the stream's first
/// retained message, which is not that block).
fn stream_block(message: &StreamMessage, block_id: BlockId) -> Option<BlockId> {
    (message.source == Source::Stream).then_some(block_id)
}

/// Reverts the model's own blocks above `ancestor` (height and block ID),
/// newest first, through the generic undo (the same `revert_height` a
/// `reverted` stream message runs), and makes `ancestor` the checkpoint,
/// keeping its stream position: all in ONE PostgreSQL transaction. Used
/// when the model's tip lies on a branch a node's main chain left. Every
/// reverted block must still have its undo history, and the model must
/// hold `ancestor` itself; otherwise nothing is written.
pub async fn revert_to(
    connection: &mut PgConnection,
    model: &dyn ReadModel,
    schema_name: &str,
    ancestor: (BlockHeight, BlockId),
) -> Result<BatchOutcome, ProjectionError> {
    let name = model.name();
    let (ancestor_height, ancestor_id) = ancestor;
    let mut transaction = connection.begin().await?;
    let Some(tip) = schema::read_checkpoint(&mut transaction, name).await? else {
        return Ok(BatchOutcome::default());
    };
    let cannot =
        |height: BlockHeight, block: BlockId, reason: String| ProjectionError::CannotRevert {
            model: name.to_owned(),
            height,
            block,
            ancestor: ancestor_height,
            reason,
        };
    if ancestor_height > tip.height {
        return Err(cannot(
            tip.height,
            tip.block_id,
            "the ancestor lies above the model's tip".to_owned(),
        ));
    }
    let held = if ancestor_height == tip.height {
        Some(tip.block_id)
    } else {
        schema::remembered_at(&mut transaction, name, ancestor_height)
            .await?
            .map(|known| known.block_id)
    };
    if held != Some(ancestor_id) {
        return Err(cannot(
            tip.height,
            tip.block_id,
            format!("the model does not hold block {ancestor_id} at height {ancestor_height}"),
        ));
    }
    let mut outcome = BatchOutcome::default();
    let mut height = tip.height;
    while height > ancestor_height {
        match schema::remembered_at(&mut transaction, name, height).await? {
            Some(known) if known.undo_recorded => {
                sqlx::query("SELECT revert_height($1, $2)")
                    .bind(schema_name)
                    .bind(to_i64(height.0))
                    .execute(&mut *transaction)
                    .await?;
                sqlx::query("DELETE FROM applied_block WHERE height = $1")
                    .bind(to_i64(height.0))
                    .execute(&mut *transaction)
                    .await?;
                outcome.reverted += 1;
            }
            Some(known) => {
                return Err(cannot(
                    height,
                    known.block_id,
                    "it was applied below the finality horizon; its undo history was not kept"
                        .to_owned(),
                ));
            }
            None => {
                return Err(cannot(
                    height,
                    tip.block_id,
                    "the model no longer remembers the block (pruned below the finality horizon)"
                        .to_owned(),
                ));
            }
        }
        height = BlockHeight(height.0 - 1);
    }
    let checkpoint = Checkpoint {
        height: ancestor_height,
        block_id: ancestor_id,
        ..tip
    };
    schema::write_checkpoint(&mut transaction, &checkpoint).await?;
    transaction.commit().await?;
    outcome.checkpoint = Some(checkpoint);
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_is_final_only_deep_below_the_head_with_no_revert_after_it() {
        let hint = StreamHint {
            head_height: BlockHeight(100),
            last_revert_seq: 40,
        };
        // Deep enough and after the last revert.
        assert!(hint.is_final(BlockHeight(90), 50, 10));
        // Within the finality depth of the head.
        assert!(!hint.is_final(BlockHeight(91), 50, 10));
        // A revert follows it in the stream: it may be the one reverted.
        assert!(!hint.is_final(BlockHeight(10), 30, 10));
    }
}
