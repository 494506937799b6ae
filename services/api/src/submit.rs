//! Transaction submission to a node: NATS request/reply on
//! `ledger.<network>.submit` (any node of the network answers; queue group
//! `node`). The request is one canonical `Transaction`; the reply a
//! canonical [`SubmitReply`].
//!
//! [`SubmitReply`] and [`RejectReason`] mirror the node's types
//! (`services/node/src/submission.rs`) variant for variant, so their
//! canonical bytes are the same; the API does not depend on the node
//! crate (which carries p2p, store and block creation). The golden test
//! below pins the bytes. (Pool events are part of the stream contract,
//! `chain::stream::PoolEvent`.)
//!
//! Resolvers see the node only through [`Submitter`], so tests and
//! deployments without a node can plug in their own.

use std::time::Duration;

use futures::future::BoxFuture;
use ledger::{Transaction, TransactionId, codec};

use crate::error::{ApiError, ApiResult};

/// Why a node refused a transaction (stable codes; mirror of the node's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum RejectReason {
    Malformed,
    TooLarge,
    InsufficientFee,
    MissingInput,
    BadSignature,
    Unauthorized,
    Conflict,
    AlreadyPooled,
    PoolFull,
    Invalid,
    Unavailable,
}

impl RejectReason {
    /// The code clients see in `extensions.reason`.
    pub fn code(self) -> &'static str {
        match self {
            RejectReason::Malformed => "MALFORMED",
            RejectReason::TooLarge => "TOO_LARGE",
            RejectReason::InsufficientFee => "INSUFFICIENT_FEE",
            RejectReason::MissingInput => "MISSING_INPUT",
            RejectReason::BadSignature => "BAD_SIGNATURE",
            RejectReason::Unauthorized => "UNAUTHORIZED",
            RejectReason::Conflict => "CONFLICT",
            RejectReason::AlreadyPooled => "ALREADY_POOLED",
            RejectReason::PoolFull => "POOL_FULL",
            RejectReason::Invalid => "INVALID",
            RejectReason::Unavailable => "UNAVAILABLE",
        }
    }
}

/// A node's answer to a submission (mirror of the node's).
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum SubmitReply {
    Accepted {
        id: TransactionId,
    },
    Rejected {
        reason: RejectReason,
        message: String,
    },
}

/// Hands a transaction to a node.
pub trait Submitter: Send + Sync + 'static {
    /// Submits a decoded transaction; `Ok` is the node's answer.
    fn submit(&self, transaction: Transaction) -> BoxFuture<'_, ApiResult<SubmitReply>>;
}

/// The subject on which nodes of `network` take submissions.
pub fn submit_subject(network: &str) -> String {
    format!("ledger.{}.submit", subject_token(network))
}

/// The network name as `chain::stream` writes it into subjects.
fn subject_token(network: &str) -> String {
    let applied = chain::stream::applied_subject(network);
    applied
        .strip_prefix("ledger.")
        .and_then(|rest| rest.strip_suffix(".block.applied"))
        .unwrap_or(network)
        .to_owned()
}

/// Submits over NATS request/reply.
pub struct NatsSubmitter {
    pub client: async_nats::Client,
    pub subject: String,
    pub timeout: Duration,
}

impl Submitter for NatsSubmitter {
    fn submit(&self, transaction: Transaction) -> BoxFuture<'_, ApiResult<SubmitReply>> {
        Box::pin(async move {
            let request = self
                .client
                .request(self.subject.clone(), codec::encode(&transaction).into());
            let reply = match tokio::time::timeout(self.timeout, request).await {
                Err(_) => {
                    return Err(ApiError::NodeUnavailable {
                        seconds: self.timeout.as_secs().max(1),
                    });
                }
                Ok(Err(error)) => {
                    return match error.kind() {
                        async_nats::RequestErrorKind::NoResponders
                        | async_nats::RequestErrorKind::TimedOut => {
                            Err(ApiError::NodeUnavailable {
                                seconds: self.timeout.as_secs().max(1),
                            })
                        }
                        _ => Err(ApiError::Nats(error.to_string())),
                    };
                }
                Ok(Ok(reply)) => reply,
            };
            codec::decode::<SubmitReply>(&reply.payload).map_err(|error| {
                ApiError::Nats(format!("the node's reply does not decode: {error}"))
            })
        })
    }
}

/// Used when the API runs without NATS: every submission is refused as
/// "no node".
pub struct NoNode;

impl Submitter for NoNode {
    fn submit(&self, _transaction: Transaction) -> BoxFuture<'_, ApiResult<SubmitReply>> {
        Box::pin(async { Err(ApiError::NodeUnavailable { seconds: 0 }) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger::Hash32;

    #[test]
    fn reply_bytes_match_the_nodes_layout() {
        // bincode 2, fixed-width little-endian integers, u32 enum tags:
        // Accepted = tag 0 then the 32-byte ID; Rejected = tag 1, reason
        // tag, u64 length, UTF-8.
        let accepted = codec::encode(&SubmitReply::Accepted {
            id: TransactionId(Hash32([9; 32])),
        });
        assert_eq!(&accepted[..4], &[0, 0, 0, 0]);
        assert_eq!(&accepted[4..], &[9; 32]);
        let rejected = codec::encode(&SubmitReply::Rejected {
            reason: RejectReason::InsufficientFee,
            message: "fee".into(),
        });
        assert_eq!(
            rejected,
            [
                &[1, 0, 0, 0][..],
                &[2, 0, 0, 0],
                &[3, 0, 0, 0, 0, 0, 0, 0],
                b"fee"
            ]
            .concat()
        );
        assert_eq!(submit_subject("Dev Net"), "ledger.dev_net.submit");
    }
}
