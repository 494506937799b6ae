//! Subscriptions, pushed over GraphQL-over-WebSocket.
//!
//! New blocks and address activity are driven by the projector's
//! notifications (`projections.<network>.explorer.height`, sent after each
//! committed batch): on "explorer reached H" the API reads the blocks (or
//! the address's transactions) above the last height it pushed, up to H,
//! from PostgreSQL and pushes them. So whatever a client receives is
//! already queryable. After a reorg (H below the last pushed height) the
//! stream resumes from H, and the new branch's blocks are pushed as they
//! are folded in.
//!
//! Pending transactions come from the nodes' pool events
//! (`ledger.<network>.pool.accepted`, core NATS, not persisted). A chat
//! channel's messages come from both (`crate::chat::message_updates`).

use async_graphql::{Context, Subscription};
use chain::stream::{PoolEvent, pool_accepted_subject};
use futures::{Stream, StreamExt, stream};
use projections::runner::{HeightReached, notification_subject};

use crate::chat::ChatMessage;
use crate::context::{ApiState, hex_id};
use crate::error::{ApiError, ApiResult, IntoGraphql};
use crate::explorer::blocks::{BLOCK_COLUMNS, Block, BlockRow};
use crate::explorer::chain_info::tip_height;
use crate::explorer::pending::PendingTransaction;
use crate::explorer::transactions::{Transaction, TransactionRow};
use crate::identity::types::{self as identity_types, Activity};

/// Most items read per notification; the rest follow with the next one.
const BATCH: i64 = 100;

pub(crate) fn nats(state: &ApiState) -> ApiResult<async_nats::Client> {
    state
        .nats
        .clone()
        .ok_or_else(|| ApiError::Nats("this API runs without NATS; subscriptions are off".into()))
}

async fn explorer_notifications(state: &ApiState) -> ApiResult<async_nats::Subscriber> {
    model_notifications(state, "explorer").await
}

pub(crate) async fn model_notifications(
    state: &ApiState,
    model: &str,
) -> ApiResult<async_nats::Subscriber> {
    nats(state)?
        .subscribe(notification_subject(&state.network.name, model))
        .await
        .map_err(|error| ApiError::Nats(error.to_string()))
}

/// Follows the explorer's height: for each notification, `read(last, H)`
/// returns the items above `last` up to `H` and the height of the last
/// one (or `None` when there were none).
pub(crate) fn follow<T, F, Fut>(
    subscriber: async_nats::Subscriber,
    start: i64,
    state: ApiState,
    read: F,
) -> impl Stream<Item = T>
where
    T: Send + 'static,
    F: Fn(ApiState, i64, i64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ApiResult<(Vec<T>, Option<i64>)>> + Send,
{
    stream::unfold(
        (subscriber, start, state, read),
        |(mut subscriber, mut last, state, read)| async move {
            loop {
                let message = subscriber.next().await?;
                let Ok(reached) = serde_json::from_slice::<HeightReached>(&message.payload) else {
                    tracing::warn!("undecodable projector notification ignored");
                    continue;
                };
                let height = i64::try_from(reached.height).unwrap_or(i64::MAX);
                if height < last {
                    last = height;
                    continue;
                }
                match read(state.clone(), last, height).await {
                    Ok((items, upto)) => {
                        if let Some(upto) = upto {
                            last = upto;
                        }
                        if items.is_empty() {
                            continue;
                        }
                        return Some((stream::iter(items), (subscriber, last, state, read)));
                    }
                    Err(error) => {
                        tracing::warn!(%error, "subscription read failed; waiting for the next notification");
                    }
                }
            }
        },
    )
    .flatten()
}

async fn blocks_between(
    state: ApiState,
    last: i64,
    upto: i64,
) -> ApiResult<(Vec<Block>, Option<i64>)> {
    let sql = format!(
        "{BLOCK_COLUMNS} WHERE b.height > $1 AND b.height <= $2 ORDER BY b.height LIMIT $3"
    );
    let rows: Vec<BlockRow> = sqlx::query_as(&sql)
        .bind(last)
        .bind(upto)
        .bind(BATCH)
        .fetch_all(&state.pool)
        .await?;
    let highest = rows.last().map(|row| row.height);
    let blocks = rows
        .into_iter()
        .map(|row| Block::from_row(row, &state.network))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok((blocks, highest))
}

async fn activity_between(
    state: ApiState,
    address: Vec<u8>,
    last: i64,
    upto: i64,
) -> ApiResult<(Vec<Transaction>, Option<i64>)> {
    // Whole blocks only: with a batch cut inside a block the rest of that
    // block would be skipped, so read heights, not rows.
    let rows: Vec<TransactionRow> = sqlx::query_as(
        "SELECT t.id, t.block_height, t.transaction_index, t.kind, t.fee::text AS fee,
                t.arbitrary_data, t.size, t.coin_input_count, t.coin_output_count,
                t.blockstake_input_count, t.blockstake_output_count,
                t.coin_input_total::text AS coin_input_total,
                t.coin_output_total::text AS coin_output_total
           FROM explorer.address_transaction a
           JOIN explorer.transaction t ON t.id = a.transaction_id
          WHERE a.address = $1 AND a.block_height > $2 AND a.block_height <= $3
          ORDER BY a.block_height, a.transaction_index",
    )
    .bind(address)
    .bind(last)
    .bind(upto.min(last.saturating_add(BATCH)))
    .fetch_all(&state.pool)
    .await?;
    let transactions = rows
        .into_iter()
        .map(|row| Transaction::from_row(row, &state.network))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok((transactions, Some(upto.min(last.saturating_add(BATCH)))))
}

/// The checkpoint height of `model` now (-1 before its first block).
pub(crate) async fn model_height(state: &ApiState, model: &'static str) -> ApiResult<i64> {
    // `model` is one of this crate's constant schema names.
    let sql = format!("SELECT height FROM \"{model}\".checkpoint");
    let height: Option<i64> = sqlx::query_scalar(&sql)
        .fetch_optional(&state.pool)
        .await
        .map_err(ApiError::from_model(model))?;
    Ok(height.unwrap_or(-1))
}

/// The subscription root.
#[derive(Default)]
pub struct Subscription;

#[Subscription]
impl Subscription {
    /// Every block the explorer folds in from now on, lowest first.
    async fn new_blocks(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<impl Stream<Item = Block>> {
        let state = ApiState::of(ctx).clone();
        let subscriber = explorer_notifications(&state).await.gql()?;
        let start = tip_height(&state.pool).await.gql()?.unwrap_or(-1);
        Ok(follow(subscriber, start, state, blocks_between))
    }

    /// Transactions that touch `address`, as their blocks are folded in.
    async fn address_activity(
        &self,
        ctx: &Context<'_>,
        address: String,
    ) -> async_graphql::Result<impl Stream<Item = Transaction>> {
        let state = ApiState::of(ctx).clone();
        let stored = state.network.parse_address(&address).gql()?;
        let subscriber = explorer_notifications(&state).await.gql()?;
        let start = tip_height(&state.pool).await.gql()?.unwrap_or(-1);
        Ok(follow(
            subscriber,
            start,
            state,
            move |state, last, upto| activity_between(state, stored.clone(), last, upto),
        ))
    }

    /// Changes that concern the identity named `identity` (or the
    /// organization at that path), as the identity read model folds them
    /// in, oldest first.
    async fn identity_changes(
        &self,
        ctx: &Context<'_>,
        identity: String,
    ) -> async_graphql::Result<impl Stream<Item = Activity>> {
        let state = ApiState::of(ctx).clone();
        let id = match crate::identity::identity_by_name(&state, &identity)
            .await
            .gql()?
        {
            Some(found) => found.id,
            None => {
                crate::identity::require_organization(&state, &identity)
                    .await
                    .map_err(|_| ApiError::UnknownIdentity(identity.trim().to_ascii_lowercase()))
                    .gql()?
                    .id
            }
        };
        let subscriber = model_notifications(&state, crate::identity::MODEL)
            .await
            .gql()?;
        let start = model_height(&state, crate::identity::MODEL).await.gql()?;
        Ok(follow(
            subscriber,
            start,
            state,
            move |state, last, upto| {
                let id = id.clone();
                async move {
                    let items = identity_types::activity_between(&state, &id, last, upto).await?;
                    Ok((items, Some(upto)))
                }
            },
        ))
    }

    /// A channel's new messages: each as `pending` as soon as a node's
    /// pool accepts its transaction, then as `confirmed` once its block
    /// is in the chat read model (private channels: a current member's
    /// token, and only ciphertext and seals; see `chatMessages`).
    async fn chat_message_updates(
        &self,
        ctx: &Context<'_>,
        channel: String,
    ) -> async_graphql::Result<impl Stream<Item = ChatMessage> + use<>> {
        crate::chat::message_updates(ctx, channel).await
    }

    /// Transactions nodes accept into their pools (not yet in a block).
    async fn pending_transactions(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<impl Stream<Item = PendingTransaction>> {
        let state = ApiState::of(ctx).clone();
        let subscriber = nats(&state)
            .gql()?
            .subscribe(pool_accepted_subject(&state.network.name))
            .await
            .map_err(|error| ApiError::Nats(error.to_string()))
            .gql()?;
        Ok(subscriber.filter_map(move |message| {
            let network = state.network.clone();
            async move {
                match PoolEvent::decode(&message.payload) {
                    Ok(PoolEvent::Accepted { id, transaction }) => Some(PendingTransaction {
                        id: id.to_string(),
                        fee: network.coins(transaction.fee),
                        size: i32::try_from(transaction.encoded_size()).unwrap_or(i32::MAX),
                        encoded: hex_id(&ledger::codec::encode(&transaction)),
                        first_seen_at: None,
                    }),
                    Ok(PoolEvent::Dropped { .. }) => None,
                    Err(error) => {
                        tracing::warn!(%error, "undecodable pool event ignored");
                        None
                    }
                }
            }
        }))
    }
}
