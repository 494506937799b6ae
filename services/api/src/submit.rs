//! Transaction submission to a node: NATS request/reply on
//! `ledger.<network>.submit` (any node of the network answers; queue group
//! `node`). The request is one canonical `Transaction`; the reply a
//! canonical [`SubmitReply`].
//!
//! The subject, [`SubmitReply`] and [`RejectReason`] are the stream
//! contract's (`chain::stream`), the one definition the node answers with.
//!
//! Resolvers see the node only through [`Submitter`], so tests and
//! deployments without a node can plug in their own.

use std::time::Duration;

use futures::future::BoxFuture;
use ledger::{Transaction, codec};

use chain::stream::SubmitReply;

use crate::error::{ApiError, ApiResult};

/// Hands a transaction to a node.
pub trait Submitter: Send + Sync + 'static {
    /// Submits a decoded transaction; `Ok` is the node's answer.
    fn submit(&self, transaction: Transaction) -> BoxFuture<'_, ApiResult<SubmitReply>>;
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
            SubmitReply::decode(&reply.payload).map_err(|error| {
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
