//! Queries over the chat read model (PostgreSQL schema `chat`, see
//! `docs/read-models.md` and `docs/chat.md`).
//!
//! * Broadcast channels, their messages and the news timeline are public.
//! * A direct or group channel (its members, messages, key seals and
//!   delivery reports) is readable only with the login token of a current
//!   member ([`crate::login::Viewer`]): no token is UNAUTHENTICATED, a
//!   non-member's token FORBIDDEN. Even then the API only hands out what
//!   the chain has: ciphertext and sealed keys, opened by the member's
//!   wallet.
//! * The news timeline shows items whose `scheduledAt` has come (server
//!   clock), sticky ones (sticky-until in the future) first, then newest
//!   first; withdrawn items are gone from the model.

use async_graphql::{Context, Object, SimpleObject};

use crate::context::{ApiState, hex_id, parse_id};
use crate::error::{ApiError, ApiResult, IntoGraphql};
use crate::login::{Viewer, now};
use crate::paging::{KeyPart, ListQuery, Page, PageArgs, fetch_page, wants_total};

mod live;

pub use live::message_updates;

fn db(error: sqlx::Error) -> ApiError {
    ApiError::from_model("chat")(error)
}

/// A channel.
#[derive(Debug, Clone, SimpleObject)]
pub struct ChatChannel {
    /// Channel ID (hex).
    pub id: String,
    /// `direct`, `group` or `broadcast`.
    pub kind: String,
    pub name: String,
    /// Creator's identity ID (hex).
    pub creator: String,
    /// Current group-key epoch (0 for other kinds).
    pub epoch: i32,
    pub created_height: i64,
    pub created_at: i64,
    pub message_count: i64,
    pub last_message_at: Option<i64>,
    /// The viewer's role (`chatChannels` only).
    pub role: Option<String>,
    /// Messages by others the viewer has not marked read (`chatChannels`
    /// only).
    pub unread: Option<i64>,
}

#[derive(Debug, sqlx::FromRow)]
struct ChannelRow {
    id: Vec<u8>,
    kind: String,
    name: String,
    creator: Vec<u8>,
    epoch: i32,
    created_height: i64,
    created_at: i64,
    message_count: i64,
    last_message_at: Option<i64>,
    role: Option<String>,
    unread: Option<i64>,
}

impl From<ChannelRow> for ChatChannel {
    fn from(row: ChannelRow) -> ChatChannel {
        ChatChannel {
            id: hex_id(&row.id),
            kind: row.kind,
            name: row.name,
            creator: hex_id(&row.creator),
            epoch: row.epoch,
            created_height: row.created_height,
            created_at: row.created_at,
            message_count: row.message_count,
            last_message_at: row.last_message_at,
            role: row.role,
            unread: row.unread,
        }
    }
}

/// A member and their role.
#[derive(Debug, Clone, SimpleObject)]
pub struct ChatMember {
    /// Identity ID (hex).
    pub identity: String,
    pub role: String,
    pub since_height: i64,
}

/// A content key sealed to one identity key (80 bytes: ephemeral X25519
/// key ‖ wrapped key, hex).
#[derive(Debug, Clone, SimpleObject)]
pub struct ChatSeal {
    /// Identity ID (hex).
    pub member: String,
    /// The identity key it is sealed to (hex).
    pub public_key: String,
    pub sealed: String,
    /// Group keys: the epoch.
    pub epoch: Option<i32>,
}

/// A message. Private messages carry only `nonce`, `ciphertext` and (for
/// direct messages) `seals`; clear fields are for broadcast messages.
#[derive(Debug, Clone, SimpleObject)]
pub struct ChatMessage {
    /// Message ID (hex).
    pub id: String,
    pub channel: String,
    /// Author's identity ID (hex).
    pub author: String,
    /// The identity key that signed it (hex).
    pub signer: String,
    pub transaction_id: String,
    pub height: i64,
    pub timestamp: i64,
    pub reply_to: Option<String>,
    /// Number of quick-answer buttons.
    pub buttons: i32,
    /// `clear`, `group` or `direct`.
    pub body_kind: String,
    pub epoch: Option<i32>,
    pub text: Option<String>,
    pub button_captions: Option<Vec<String>>,
    /// JSON list of `{name, content_hash | storage_object}`.
    pub attachments: Option<String>,
    pub nonce: Option<String>,
    pub ciphertext: Option<String>,
    pub seals: Vec<ChatSeal>,
    /// No more answers.
    pub sealed: bool,
    /// `confirmed` (in a block) or `pending` (its transaction is in a
    /// node's pool: `height` is -1 and `timestamp` when the API saw it;
    /// only from the `chatMessageUpdates` subscription).
    pub status: String,
}

/// The columns of [`MessageRow`].
const MESSAGE_SELECT: &str = "SELECT m.id, m.channel, m.author, m.signer, m.transaction_id,
        m.height, m.tx_index, m.timestamp, m.reply_to, m.buttons, m.body_kind, m.epoch, m.text,
        m.button_captions, m.attachments, m.nonce, m.ciphertext, m.sealed
   FROM chat.message m";

#[derive(Debug, sqlx::FromRow)]
struct MessageRow {
    id: Vec<u8>,
    channel: Vec<u8>,
    author: Vec<u8>,
    signer: Vec<u8>,
    transaction_id: Vec<u8>,
    height: i64,
    tx_index: i32,
    timestamp: i64,
    reply_to: Option<Vec<u8>>,
    buttons: i16,
    body_kind: String,
    epoch: Option<i32>,
    text: Option<String>,
    button_captions: Option<Vec<String>>,
    attachments: Option<String>,
    nonce: Option<Vec<u8>>,
    ciphertext: Option<Vec<u8>>,
    sealed: bool,
}

impl From<MessageRow> for ChatMessage {
    /// A confirmed message (its direct seals are read separately).
    fn from(row: MessageRow) -> ChatMessage {
        ChatMessage {
            id: hex_id(&row.id),
            channel: hex_id(&row.channel),
            author: hex_id(&row.author),
            signer: hex_id(&row.signer),
            transaction_id: hex_id(&row.transaction_id),
            height: row.height,
            timestamp: row.timestamp,
            reply_to: row.reply_to.as_deref().map(hex_id),
            buttons: i32::from(row.buttons),
            body_kind: row.body_kind,
            epoch: row.epoch,
            text: row.text,
            button_captions: row.button_captions,
            attachments: row.attachments,
            nonce: row.nonce.as_deref().map(hex_id),
            ciphertext: row.ciphertext.as_deref().map(hex_id),
            seals: Vec::new(),
            sealed: row.sealed,
            status: CONFIRMED.into(),
        }
    }
}

/// [`ChatMessage::status`] of a message in a block.
pub const CONFIRMED: &str = "confirmed";
/// [`ChatMessage::status`] of a message whose transaction is in a pool.
pub const PENDING: &str = "pending";

/// A news item.
#[derive(Debug, Clone, SimpleObject)]
pub struct NewsItem {
    pub id: String,
    pub channel: String,
    pub author: String,
    pub title: String,
    pub body: String,
    pub buttons: Vec<String>,
    pub sticky_until: Option<i64>,
    pub scheduled_at: Option<i64>,
    pub target_groups: Vec<String>,
    pub published_at: i64,
    pub updated_at: i64,
    pub version: i32,
    /// Sticky now.
    pub sticky: bool,
}

#[derive(Debug, sqlx::FromRow)]
struct NewsRow {
    id: Vec<u8>,
    channel: Vec<u8>,
    author: Vec<u8>,
    title: String,
    body: String,
    buttons: Vec<String>,
    sticky_until: Option<i64>,
    scheduled_at: Option<i64>,
    target_groups: Vec<String>,
    published_at: i64,
    updated_at: i64,
    version: i32,
    sticky: bool,
}

/// One member's progress on a message.
#[derive(Debug, Clone, SimpleObject)]
pub struct DeliveryEntry {
    pub member: String,
    /// `received`, `read` or `answered`.
    pub status: String,
    pub button: Option<i32>,
    pub timestamp: i64,
}

/// Who received, read and answered a message.
#[derive(Debug, Clone, SimpleObject)]
pub struct DeliveryReport {
    pub message: String,
    pub received: i64,
    pub read: i64,
    pub answered: i64,
    /// Answers per button index.
    pub answers: Vec<i64>,
    pub entries: Vec<DeliveryEntry>,
}

/// The channel's kind, or `None` if it does not exist.
async fn channel_kind(state: &ApiState, channel: &[u8]) -> ApiResult<Option<String>> {
    sqlx::query_scalar("SELECT kind FROM chat.channel WHERE id = $1")
        .bind(channel)
        .fetch_optional(&state.pool)
        .await
        .map_err(db)
}

/// Allows a broadcast channel to anyone; a private one only to a current
/// member's token. Returns the viewer when there is one.
pub(crate) async fn authorize(
    ctx: &Context<'_>,
    channel: &[u8],
) -> async_graphql::Result<(String, Option<Viewer>)> {
    let state = ApiState::of(ctx);
    let Some(kind) = channel_kind(state, channel).await.gql()? else {
        return Err(ApiError::bad_input(format!("no channel {}", hex_id(channel))).into_graphql());
    };
    if kind == "broadcast" {
        return Ok((kind, Viewer::optional(ctx).await?));
    }
    let viewer = Viewer::require(ctx).await?;
    let member: Option<String> =
        sqlx::query_scalar("SELECT role FROM chat.member WHERE channel = $1 AND identity = $2")
            .bind(channel)
            .bind(viewer.identity_id.as_slice())
            .fetch_optional(&state.pool)
            .await
            .map_err(db)
            .gql()?;
    if member.is_none() {
        return Err(ApiError::Forbidden(format!(
            "{} is not a member of {} channel {}",
            viewer.name,
            kind,
            hex_id(channel)
        ))
        .into_graphql());
    }
    Ok((kind, Some(viewer)))
}

#[derive(Debug, sqlx::FromRow)]
struct SealRow {
    member: Vec<u8>,
    public_key: Vec<u8>,
    sealed: Vec<u8>,
    epoch: Option<i32>,
}

impl From<SealRow> for ChatSeal {
    fn from(row: SealRow) -> ChatSeal {
        ChatSeal {
            member: hex_id(&row.member),
            public_key: hex_id(&row.public_key),
            sealed: hex_id(&row.sealed),
            epoch: row.epoch,
        }
    }
}

async fn direct_seals(state: &ApiState, message: &[u8]) -> ApiResult<Vec<ChatSeal>> {
    let rows: Vec<SealRow> = sqlx::query_as(
        "SELECT member, public_key, sealed, NULL::integer AS epoch FROM chat.message_seal
          WHERE message = $1 ORDER BY public_key",
    )
    .bind(message)
    .fetch_all(&state.pool)
    .await
    .map_err(db)?;
    Ok(rows.into_iter().map(ChatSeal::from).collect())
}

/// Queries over the chat read model.
#[derive(Default)]
pub struct ChatQuery;

#[Object]
impl ChatQuery {
    /// The logged-in identity's channels with its role and unread counts,
    /// most recently active first.
    async fn chat_channels(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ChatChannel>> {
        let state = ApiState::of(ctx);
        let viewer = Viewer::require(ctx).await?;
        let rows: Vec<ChannelRow> = sqlx::query_as(
            "SELECT c.id, c.kind, c.name, c.creator, c.epoch, c.created_height, c.created_at,
                    c.message_count, c.last_message_at, m.role,
                    (SELECT count(*) FROM chat.message g
                      WHERE g.channel = c.id AND g.author <> m.identity
                        AND NOT EXISTS (SELECT 1 FROM chat.receipt r
                                         WHERE r.message = g.id AND r.member = m.identity
                                           AND r.status = 'read')) AS unread
               FROM chat.member m JOIN chat.channel c ON c.id = m.channel
              WHERE m.identity = $1
              ORDER BY coalesce(c.last_message_at, c.created_at) DESC, c.id",
        )
        .bind(viewer.identity_id.as_slice())
        .fetch_all(&state.pool)
        .await
        .map_err(db)
        .gql()?;
        Ok(rows.into_iter().map(ChatChannel::from).collect())
    }

    /// Public broadcast channels, newest first.
    async fn broadcast_channels(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<ChatChannel>> {
        let state = ApiState::of(ctx);
        let rows: Vec<ChannelRow> = sqlx::query_as(
            "SELECT id, kind, name, creator, epoch, created_height, created_at, message_count,
                    last_message_at, NULL::text AS role, NULL::bigint AS unread
               FROM chat.channel WHERE kind = 'broadcast'
              ORDER BY created_height DESC, id LIMIT $1",
        )
        .bind(state.limits.max_page_size as i64)
        .fetch_all(&state.pool)
        .await
        .map_err(db)
        .gql()?;
        Ok(rows.into_iter().map(ChatChannel::from).collect())
    }

    /// A channel's members (private channels: members only).
    async fn chat_members(
        &self,
        ctx: &Context<'_>,
        channel: String,
    ) -> async_graphql::Result<Vec<ChatMember>> {
        let state = ApiState::of(ctx);
        let channel = parse_id("channel", &channel).gql()?;
        authorize(ctx, &channel).await?;
        let rows: Vec<(Vec<u8>, String, i64)> = sqlx::query_as(
            "SELECT identity, role, since_height FROM chat.member WHERE channel = $1 ORDER BY identity",
        )
        .bind(&channel)
        .fetch_all(&state.pool)
        .await
        .map_err(db)
        .gql()?;
        Ok(rows
            .into_iter()
            .map(|(identity, role, since_height)| ChatMember {
                identity: hex_id(&identity),
                role,
                since_height,
            })
            .collect())
    }

    /// The group keys sealed to the logged-in member's identity keys, by
    /// epoch (members only).
    async fn chat_group_keys(
        &self,
        ctx: &Context<'_>,
        channel: String,
    ) -> async_graphql::Result<Vec<ChatSeal>> {
        let state = ApiState::of(ctx);
        let channel = parse_id("channel", &channel).gql()?;
        let (_, viewer) = authorize(ctx, &channel).await?;
        let Some(viewer) = viewer else {
            return Ok(Vec::new());
        };
        let rows: Vec<SealRow> = sqlx::query_as(
            "SELECT member, public_key, sealed, epoch FROM chat.key_seal
              WHERE channel = $1 AND member = $2 ORDER BY epoch, public_key",
        )
        .bind(&channel)
        .bind(viewer.identity_id.as_slice())
        .fetch_all(&state.pool)
        .await
        .map_err(db)
        .gql()?;
        Ok(rows.into_iter().map(ChatSeal::from).collect())
    }

    /// A channel's messages, newest first (private channels: members
    /// only, and only ciphertext).
    #[graphql(complexity = "crate::explorer::page_complexity(first, last, child_complexity)")]
    async fn chat_messages(
        &self,
        ctx: &Context<'_>,
        channel: String,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<Page<ChatMessage>> {
        let state = ApiState::of(ctx);
        let channel = parse_id("channel", &channel).gql()?;
        authorize(ctx, &channel).await?;
        let query = ListQuery {
            list: "chat_messages",
            select: MESSAGE_SELECT,
            from: "FROM chat.message m",
            filters: vec![(
                "m.channel = ",
                crate::paging::SqlValue::Bytes(channel.clone()),
            )],
            conditions: Vec::new(),
            key: &["m.height", "m.tx_index"],
            descending: true,
        };
        let page = fetch_page(
            &state.pool,
            &state.limits,
            query,
            PageArgs::new(after, before, first, last),
            wants_total(ctx),
            |row: &MessageRow| {
                vec![
                    KeyPart::Int(row.height),
                    KeyPart::Int(i64::from(row.tx_index)),
                ]
            },
            |row| Ok(ChatMessage::from(row)),
        )
        .await
        .gql()?;
        let mut page = page;
        for edge in &mut page.edges {
            if edge.node.body_kind == "direct" {
                let id = parse_id("message", &edge.node.id).gql()?;
                edge.node.seals = direct_seals(state, &id).await.gql()?;
            }
        }
        Ok(page)
    }

    /// The news timeline: items whose scheduled time has come, sticky
    /// ones first, then newest first; of one channel or of every
    /// broadcast channel.
    async fn news_timeline(
        &self,
        ctx: &Context<'_>,
        channel: Option<String>,
        first: Option<i32>,
    ) -> async_graphql::Result<Vec<NewsItem>> {
        let state = ApiState::of(ctx);
        let channel = channel
            .map(|channel| parse_id("channel", &channel))
            .transpose()
            .gql()?;
        let limit = first.unwrap_or(state.limits.default_page_size as i32);
        if limit < 0 || limit as usize > state.limits.max_page_size {
            return Err(ApiError::PageTooLarge {
                asked: i64::from(limit),
                max: state.limits.max_page_size,
            }
            .into_graphql());
        }
        let now = now() as i64;
        let rows: Vec<NewsRow> = sqlx::query_as(
            "SELECT id, channel, author, title, body, buttons, sticky_until, scheduled_at,
                    target_groups, published_at, updated_at, version,
                    coalesce(sticky_until > $1, FALSE) AS sticky
               FROM chat.news
              WHERE (scheduled_at IS NULL OR scheduled_at <= $1)
                AND ($2::bytea IS NULL OR channel = $2)
              ORDER BY sticky DESC, coalesce(scheduled_at, published_at) DESC, id
              LIMIT $3",
        )
        .bind(now)
        .bind(channel)
        .bind(i64::from(limit))
        .fetch_all(&state.pool)
        .await
        .map_err(db)
        .gql()?;
        Ok(rows
            .into_iter()
            .map(|row| NewsItem {
                id: hex_id(&row.id),
                channel: hex_id(&row.channel),
                author: hex_id(&row.author),
                title: row.title,
                body: row.body,
                buttons: row.buttons,
                sticky_until: row.sticky_until,
                scheduled_at: row.scheduled_at,
                target_groups: row.target_groups,
                published_at: row.published_at,
                updated_at: row.updated_at,
                version: row.version,
                sticky: row.sticky,
            })
            .collect())
    }

    /// Who received, read and answered a message (private channels:
    /// members only).
    async fn delivery_report(
        &self,
        ctx: &Context<'_>,
        message: String,
    ) -> async_graphql::Result<DeliveryReport> {
        let state = ApiState::of(ctx);
        let id = parse_id("message", &message).gql()?;
        let found: Option<(Vec<u8>, i16)> =
            sqlx::query_as("SELECT channel, buttons FROM chat.message WHERE id = $1")
                .bind(&id)
                .fetch_optional(&state.pool)
                .await
                .map_err(db)
                .gql()?;
        let Some((channel, buttons)) = found else {
            return Err(ApiError::bad_input(format!("no message {message}")).into_graphql());
        };
        authorize(ctx, &channel).await?;
        let rows: Vec<(Vec<u8>, String, Option<i16>, i64)> = sqlx::query_as(
            "SELECT member, status, button, timestamp FROM chat.receipt
              WHERE message = $1 ORDER BY status, member",
        )
        .bind(&id)
        .fetch_all(&state.pool)
        .await
        .map_err(db)
        .gql()?;
        let count = |status: &str| rows.iter().filter(|row| row.1 == status).count() as i64;
        let mut answers = vec![0i64; usize::try_from(buttons).unwrap_or(0)];
        for (_, status, button, _) in &rows {
            if let (true, Some(button)) = (status == "answered", button)
                && let Some(slot) = answers.get_mut(usize::try_from(*button).unwrap_or(usize::MAX))
            {
                *slot += 1;
            }
        }
        Ok(DeliveryReport {
            message: hex_id(&id),
            received: count("received"),
            read: count("read"),
            answered: count("answered"),
            answers,
            entries: rows
                .into_iter()
                .map(|(member, status, button, timestamp)| DeliveryEntry {
                    member: hex_id(&member),
                    status,
                    button: button.map(i32::from),
                    timestamp,
                })
                .collect(),
        })
    }
}
