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
//! The byte layout (bincode 2 as everywhere, `u32` enum tags) is frozen by
//! the golden test below and documented in `docs/node.md`.

use chain::ChainError;
use chain::mempool::PoolError;
use chain::validation::TransactionRuleError;
use ledger::TransactionId;
use ledger::validation::TransactionError;

/// Pool events and their subjects are part of the stream contract.
pub use chain::stream::{PoolEvent, pool_accepted_subject, pool_dropped_subject};

/// The submission subject of a network.
pub fn submit_subject(network: &str) -> String {
    format!("ledger.{}.submit", subject_token(network))
}

/// Same reduction as `chain::stream` applies to network names.
fn subject_token(network: &str) -> String {
    let block = chain::stream::applied_subject(network);
    block
        .strip_prefix("ledger.")
        .and_then(|rest| rest.strip_suffix(".block.applied"))
        .unwrap_or(network)
        .to_owned()
}

/// Why a transaction was refused, as a stable code for programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum RejectReason {
    /// Not a canonical transaction encoding.
    Malformed,
    /// Above the transaction size limit.
    TooLarge,
    /// Fee below the size-based minimum.
    InsufficientFee,
    /// An input spends an output that does not exist or is spent.
    MissingInput,
    /// A signature does not verify.
    BadSignature,
    /// A fulfillment does not satisfy its condition (wrong key, time lock).
    Unauthorized,
    /// Spends an output a pooled transaction already spends.
    Conflict,
    /// Already in the pool.
    AlreadyPooled,
    /// The pool is full of better-paying transactions.
    PoolFull,
    /// Breaks another rule (balance, payload, address rule, …).
    Invalid,
    /// The node could not take it now (shutting down, overloaded).
    Unavailable,
}

/// The answer to a submission.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum SubmitReply {
    Accepted {
        id: TransactionId,
    },
    Rejected {
        reason: RejectReason,
        /// For people: names the value and the rule.
        message: String,
    },
}

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
    use ledger::{Hash32, codec};

    #[test]
    fn reply_bytes_are_frozen() {
        let accepted = SubmitReply::Accepted {
            id: TransactionId(Hash32([0xab; 32])),
        };
        assert_eq!(
            hex::encode(codec::encode(&accepted)),
            format!("00000000{}", "ab".repeat(32))
        );
        let rejected = SubmitReply::Rejected {
            reason: RejectReason::InsufficientFee,
            message: "x".to_owned(),
        };
        assert_eq!(
            hex::encode(codec::encode(&rejected)),
            "01000000020000000100000000000000 78".replace(' ', "")
        );
        let decoded: SubmitReply =
            codec::decode_with_limit(&codec::encode(&rejected), 1024).unwrap();
        assert_eq!(decoded, rejected);
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
