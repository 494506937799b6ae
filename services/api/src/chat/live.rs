//! Live delivery of a channel's messages (`chatMessageUpdates`).
//!
//! * **pending**: the nodes publish every transaction their pool accepts
//!   on `ledger.<network>.pool.accepted` (core NATS). A chat post for the
//!   channel is pushed at once, built from the transaction itself, with
//!   exactly what the read model will hold (ciphertext and seals for a
//!   private channel). Several nodes announce the same transaction; each
//!   is pushed once.
//! * **confirmed**: after the projector commits the chat model up to
//!   height H it announces it (`projections.<network>.chat.height`); the
//!   channel's messages above the last pushed height, up to H, are read
//!   from PostgreSQL and pushed, so a confirmed message is already
//!   queryable.
//!
//! The channel is authorized when the subscription starts, as for
//! `chatMessages`: broadcast channels for anyone, private ones only for a
//! current member's token.

use std::collections::{HashSet, VecDeque};

use async_graphql::Context;
use chain::stream::{PoolEvent, pool_accepted_subject};
use futures::{Stream, StreamExt, stream};
use ledger::payload::Payload;
use ledger::payload::chat::{ChatAction, MessageBody, MessageId};
use ledger::{Transaction, TransactionId};
use projections::chat::{attachments_json, sealed_bytes};

use super::{CONFIRMED, ChatMessage, ChatSeal, MESSAGE_SELECT, MessageRow, PENDING, authorize, db};
use crate::context::{ApiState, hex_id, parse_id};
use crate::error::{ApiError, ApiResult, IntoGraphql};
use crate::login::now;
use crate::subscription::{follow, model_height, model_notifications, nats};

/// The chat read model's schema and notification name.
const MODEL: &str = "chat";
/// Most heights read per notification; the rest follow with the next.
const HEIGHTS_PER_READ: i64 = 100;
/// How many transaction IDs are remembered to push a pending message once.
const SEEN: usize = 4096;

/// A channel's messages as they come: `pending` when a node's pool
/// accepts the transaction, `confirmed` once its block is projected.
pub async fn message_updates(
    ctx: &Context<'_>,
    channel: String,
) -> async_graphql::Result<impl Stream<Item = ChatMessage> + Send + 'static + use<>> {
    let state = ApiState::of(ctx).clone();
    let channel = parse_id("channel", &channel).gql()?;
    authorize(ctx, &channel).await?;
    let pool = nats(&state)
        .gql()?
        .subscribe(pool_accepted_subject(&state.network.name))
        .await
        .map_err(|error| ApiError::Nats(error.to_string()))
        .gql()?;
    let notifications = model_notifications(&state, MODEL).await.gql()?;
    let start = model_height(&state, MODEL).await.gql()?;
    let mut seen = Seen::default();
    let wanted = channel.clone();
    let pending = pool.filter_map(move |message| {
        let found = match PoolEvent::decode(&message.payload) {
            Ok(PoolEvent::Accepted { id, transaction }) => {
                pending_message(&wanted, &id, &transaction).filter(|_| seen.first_time(id))
            }
            Ok(PoolEvent::Dropped { .. }) => None,
            Err(error) => {
                tracing::warn!(%error, "undecodable pool event ignored");
                None
            }
        };
        async move { found }
    });
    let confirmed = follow(notifications, start, state, move |state, last, upto| {
        messages_between(state, channel.clone(), last, upto)
    });
    Ok(stream::select(pending, confirmed))
}

/// Transaction IDs already pushed (the last [`SEEN`]).
#[derive(Default)]
struct Seen {
    set: HashSet<TransactionId>,
    order: VecDeque<TransactionId>,
}

impl Seen {
    fn first_time(&mut self, id: TransactionId) -> bool {
        if !self.set.insert(id) {
            return false;
        }
        self.order.push_back(id);
        if self.order.len() > SEEN
            && let Some(oldest) = self.order.pop_front()
        {
            self.set.remove(&oldest);
        }
        true
    }
}

/// The message `transaction` posts in `channel`, if it does.
fn pending_message(
    channel: &[u8],
    id: &TransactionId,
    transaction: &Transaction,
) -> Option<ChatMessage> {
    let Some(Payload::Chat(operation)) = &transaction.payload else {
        return None;
    };
    let ChatAction::Post {
        author,
        channel: posted_in,
        reply_to,
        buttons,
        body,
    } = &operation.action
    else {
        return None;
    };
    if posted_in.0.as_bytes().as_slice() != channel {
        return None;
    }
    let mut message = ChatMessage {
        id: hex_id(MessageId::for_transaction(id).0.as_bytes()),
        channel: hex_id(channel),
        author: hex_id(author.0.as_bytes()),
        signer: hex_id(&operation.signer.0),
        transaction_id: hex_id(id.0.as_bytes()),
        height: -1,
        timestamp: i64::try_from(now()).unwrap_or(i64::MAX),
        reply_to: reply_to.map(|reply| hex_id(reply.0.as_bytes())),
        buttons: i32::from(*buttons),
        body_kind: body.kind().into(),
        epoch: None,
        text: None,
        button_captions: None,
        attachments: None,
        nonce: None,
        ciphertext: None,
        seals: Vec::new(),
        sealed: false,
        status: PENDING.into(),
    };
    match body {
        MessageBody::Clear(content) => {
            message.text = Some(content.text.clone());
            message.button_captions = Some(content.buttons.clone());
            message.attachments = Some(attachments_json(content));
        }
        MessageBody::Group { epoch, ciphertext } => {
            message.epoch = i32::try_from(*epoch).ok();
            message.nonce = Some(hex_id(&ciphertext.nonce));
            message.ciphertext = Some(hex_id(&ciphertext.bytes));
        }
        MessageBody::Direct { ciphertext, seals } => {
            message.nonce = Some(hex_id(&ciphertext.nonce));
            message.ciphertext = Some(hex_id(&ciphertext.bytes));
            message.seals = seals
                .iter()
                .map(|seal| ChatSeal {
                    member: hex_id(seal.member.0.as_bytes()),
                    public_key: hex_id(&seal.public_key.0),
                    sealed: hex_id(&sealed_bytes(seal)),
                    epoch: None,
                })
                .collect();
        }
    }
    Some(message)
}

/// The channel's messages of heights `last + 1 ..= upto` (at most
/// [`HEIGHTS_PER_READ`] heights, whole heights only), oldest first, and
/// the last height read.
async fn messages_between(
    state: ApiState,
    channel: Vec<u8>,
    last: i64,
    upto: i64,
) -> ApiResult<(Vec<ChatMessage>, Option<i64>)> {
    let upto = upto.min(last.saturating_add(HEIGHTS_PER_READ));
    let sql = format!(
        "{MESSAGE_SELECT} WHERE m.channel = $1 AND m.height > $2 AND m.height <= $3
          ORDER BY m.height, m.tx_index"
    );
    let rows: Vec<MessageRow> = sqlx::query_as(&sql)
        .bind(&channel)
        .bind(last)
        .bind(upto)
        .fetch_all(&state.pool)
        .await
        .map_err(db)?;
    let mut messages = Vec::with_capacity(rows.len());
    for row in rows {
        let id = row.id.clone();
        let mut message = ChatMessage::from(row);
        if message.body_kind == "direct" {
            message.seals = super::direct_seals(&state, &id).await?;
        }
        debug_assert_eq!(message.status, CONFIRMED);
        messages.push(message);
    }
    Ok((messages, Some(upto)))
}
