//! Transaction submission and pool events over core NATS (not JetStream).
//!
//! * `ledger.<network>.submit` (request/reply, queue group `node`, so any
//!   one node of the network answers): the request body is one canonical
//!   `Transaction` (at most the network's transaction size limit); the
//!   reply is a canonical [`SubmitReply`].
//! * `ledger.<network>.pool.accepted` / `ledger.<network>.pool.dropped`:
//!   one canonical `chain::stream::PoolEvent` per transaction the pool
//!   admitted or let go (confirmed transactions are not "dropped": they
//!   are in a block). Not persisted; a read model may show them as
//!   pending.
//!
//! This module maps the pool's refusals to the contract's stable
//! [`RejectReason`] codes. The byte layout (bincode 2 as everywhere, `u32`
//! enum tags) is frozen by the golden test in `chain::stream` and
//! documented in `docs/node.md`.

use chain::ChainError;
use chain::mempool::PoolError;
use chain::validation::TransactionRuleError;
use ledger::validation::TransactionError;

/// Pool events, the submission subject and the reply are part of the
/// stream contract (`chain::stream`), shared with the API and wallets.
pub use chain::stream::{
    PoolEvent, RejectReason, SubmitReply, pool_accepted_subject, pool_dropped_subject,
    submit_subject,
};

/// The reply for a pool refusal.
pub fn rejection(error: &PoolError) -> SubmitReply {
    SubmitReply::Rejected {
        reason: classify(error),
        message: error.to_string(),
    }
}

/// The stable code of a pool refusal.
pub fn classify(error: &PoolError) -> RejectReason {
    match error {
        PoolError::AlreadyPooled(_) => RejectReason::AlreadyPooled,
        PoolError::Conflict { .. } => RejectReason::Conflict,
        PoolError::PoolFull { .. } => RejectReason::PoolFull,
        PoolError::StaleTip { .. } | PoolError::Chain(ChainError::Store(_)) => {
            RejectReason::Unavailable
        }
        PoolError::Chain(_) => RejectReason::Invalid,
        PoolError::Stateless { source, .. } => match source.as_ref() {
            TransactionError::TooLarge { .. } | TransactionError::ArbitraryDataTooLarge { .. } => {
                RejectReason::TooLarge
            }
            TransactionError::FeeTooLow { .. } => RejectReason::InsufficientFee,
            _ => RejectReason::Invalid,
        },
        PoolError::Rules { source, .. } => match source.as_ref() {
            TransactionRuleError::UnknownCoinOutput { .. }
            | TransactionRuleError::UnknownBlockStakeOutput { .. } => RejectReason::MissingInput,
            TransactionRuleError::CoinOutputSpentInBlock { .. }
            | TransactionRuleError::BlockStakeSpentInBlock { .. } => RejectReason::Conflict,
            TransactionRuleError::Spend(spend) => match spend {
                ledger::validation::SpendError::Signature(_) => RejectReason::BadSignature,
                ledger::validation::SpendError::UnknownCoinOutput { .. }
                | ledger::validation::SpendError::UnknownBlockStakeOutput { .. } => {
                    RejectReason::MissingInput
                }
                _ => RejectReason::Unauthorized,
            },
            _ => RejectReason::Invalid,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger::{Hash32, TransactionId};

    #[test]
    fn pool_refusals_map_to_stable_codes() {
        let id = TransactionId(Hash32([1; 32]));
        assert_eq!(
            classify(&PoolError::AlreadyPooled(id)),
            RejectReason::AlreadyPooled
        );
        match rejection(&PoolError::AlreadyPooled(id)) {
            SubmitReply::Rejected { reason, message } => {
                assert_eq!(reason, RejectReason::AlreadyPooled);
                assert!(message.contains(&id.to_string()), "{message}");
            }
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[test]
    fn subjects_follow_the_network() {
        assert_eq!(submit_subject("devnet"), "ledger.devnet.submit");
        assert_eq!(
            pool_accepted_subject("Dev Net"),
            "ledger.dev_net.pool.accepted"
        );
        assert_eq!(pool_dropped_subject("devnet"), "ledger.devnet.pool.dropped");
    }
}
