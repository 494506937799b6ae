//! Mutations: `submitTransaction` hands a signed transaction to a node
//! (the API never holds keys) and `decodeTransaction` shows what an
//! encoded transaction says, for offline signing.

use async_graphql::{Context, Object, SimpleObject};

use crate::context::ApiState;
use crate::decode::{DecodedTransaction, decode_transaction, view};
use crate::error::{ApiError, ApiResult, IntoGraphql};
use chain::stream::SubmitReply;

/// A transaction a node accepted into its pool.
#[derive(Debug, Clone, SimpleObject)]
pub struct SubmittedTransaction {
    /// Transaction ID (hex).
    pub id: String,
}

async fn submit(state: &ApiState, encoded: &str) -> ApiResult<SubmittedTransaction> {
    let transaction = decode_transaction(&state.network, encoded)?;
    match state.submitter.submit(transaction).await? {
        SubmitReply::Accepted { id } => Ok(SubmittedTransaction { id: id.to_string() }),
        SubmitReply::Rejected { reason, message } => Err(ApiError::Rejected {
            reason: reason.code().to_owned(),
            message,
        }),
    }
}

/// `submitTransaction` and `decodeTransaction`.
#[derive(Default)]
pub struct TransactionMutation;

#[Object]
impl TransactionMutation {
    /// Submits a signed transaction (canonical bytes as hex or base64) to
    /// a node. Errors: MALFORMED_TRANSACTION, TRANSACTION_REJECTED (with
    /// `extensions.reason`, the node's code), NODE_UNAVAILABLE.
    async fn submit_transaction(
        &self,
        ctx: &Context<'_>,
        encoded: String,
    ) -> async_graphql::Result<SubmittedTransaction> {
        submit(ApiState::of(ctx), &encoded).await.gql()
    }

    /// Decodes a transaction (canonical bytes as hex or base64) without
    /// submitting it.
    async fn decode_transaction(
        &self,
        ctx: &Context<'_>,
        encoded: String,
    ) -> async_graphql::Result<DecodedTransaction> {
        let state = ApiState::of(ctx);
        decode_transaction(&state.network, &encoded)
            .map(|transaction| view(&state.network, &transaction))
            .gql()
    }
}
