//! The chat read model: channels, members and roles with their history,
//! sealed group keys, messages, receipts and the news timeline, folded
//! from the chat domain's events (`chain::domains::chat::ChatEvent`) into
//! the PostgreSQL schema `chat`.
//!
//! Private (direct and group) messages are stored exactly as the chain
//! has them: nonce, ciphertext and sealed keys. Only broadcast messages
//! and news have clear columns. Like every model, this one writes forward
//! only; reverts are the runtime's generic undo. The tables are in
//! `migrations/chat/` and documented in `docs/read-models.md`.

use chain::domains::chat::{ChatEvent, DOMAIN};
use chain::stream::BlockMessage;
use futures::future::BoxFuture;
use ledger::payload::chat::{
    AttachmentRef, MemberSeal, MessageBody, MessageContent, NewsContent, ReceiptStatus,
};
use sqlx::PgConnection;
use sqlx::migrate::Migrator;

use crate::domain::{ModelError, TransactionIds, domain_events};
use crate::model::ReadModel;

/// The chat model's migrations.
pub static CHAT_MIGRATOR: Migrator = sqlx::migrate!("../migrations/chat");

/// The chat read model.
#[derive(Debug, Clone, Default)]
pub struct Chat;

/// A sealed key as stored: ephemeral key ‖ wrapped key (80 bytes).
pub fn sealed_bytes(seal: &MemberSeal) -> Vec<u8> {
    let mut bytes = seal.sealed.ephemeral.to_vec();
    bytes.extend_from_slice(&seal.sealed.wrapped);
    bytes
}

/// A message's attachments as the model stores them: a JSON list of
/// `{name, content_hash | storage_object}`.
pub fn attachments_json(content: &MessageContent) -> String {
    let attachments: Vec<serde_json::Value> = content
        .attachments
        .iter()
        .map(|attachment| match &attachment.reference {
            AttachmentRef::ContentHash(hash) => serde_json::json!({
                "name": attachment.name,
                "content_hash": hash.to_string(),
            }),
            AttachmentRef::StorageObject(object) => serde_json::json!({
                "name": attachment.name,
                "storage_object": object.to_string(),
            }),
        })
        .collect();
    serde_json::Value::Array(attachments).to_string()
}

/// Where an event sits: height, transaction index and ID, event index,
/// block timestamp.
struct At {
    height: i64,
    tx_index: i32,
    transaction_id: Vec<u8>,
    event_index: i64,
    timestamp: i64,
}

impl Chat {
    /// Writes the rows of one applied block.
    pub async fn apply_block(
        &self,
        connection: &mut PgConnection,
        message: &BlockMessage,
    ) -> Result<(), ModelError> {
        let height = message.height;
        let mut transaction_ids = TransactionIds::new(message, DOMAIN);
        for event in domain_events(message, DOMAIN, ChatEvent::decode)? {
            let transaction_id = transaction_ids.of(&event)?;
            let at = At {
                height: height.0 as i64,
                tx_index: event.transaction.unwrap_or_default() as i32,
                transaction_id: transaction_id.0.as_bytes().to_vec(),
                event_index: event.index as i64,
                timestamp: message.block.header.timestamp.0 as i64,
            };
            write_event(connection, &event.event, &at).await?;
        }
        Ok(())
    }
}

async fn history(
    connection: &mut PgConnection,
    at: &At,
    channel: &[u8],
    identity: &[u8],
    change: &str,
    role: Option<&str>,
    actor: &[u8],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO member_history (height, event_index, identity, channel, change, role, actor, timestamp)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(at.height)
    .bind(at.event_index)
    .bind(identity)
    .bind(channel)
    .bind(change)
    .bind(role)
    .bind(actor)
    .bind(at.timestamp)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

async fn insert_news(
    connection: &mut PgConnection,
    at: &At,
    item: &[u8],
    channel: &[u8],
    author: &[u8],
    news: &NewsContent,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO news (id, channel, author, title, body, buttons, sticky_until, scheduled_at,
                           target_groups, published_height, published_at, updated_at, version)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, 1)",
    )
    .bind(item)
    .bind(channel)
    .bind(author)
    .bind(&news.title)
    .bind(&news.body)
    .bind(&news.buttons)
    .bind(news.sticky_until.map(|time| time.0 as i64))
    .bind(news.scheduled_at.map(|time| time.0 as i64))
    .bind(&news.target_groups)
    .bind(at.height)
    .bind(at.timestamp)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

async fn write_event(
    connection: &mut PgConnection,
    event: &ChatEvent,
    at: &At,
) -> Result<(), sqlx::Error> {
    let channel = event.channel().0.as_bytes().as_slice();
    match event {
        ChatEvent::ChannelCreated {
            creator,
            kind,
            name,
            members,
            ..
        } => {
            sqlx::query(
                "INSERT INTO channel (id, kind, name, creator, epoch, created_height, created_at, message_count)
                 VALUES ($1, $2, $3, $4, 0, $5, $6, 0)",
            )
            .bind(channel)
            .bind(kind.name())
            .bind(name)
            .bind(creator.0.as_bytes().as_slice())
            .bind(at.height)
            .bind(at.timestamp)
            .execute(&mut *connection)
            .await?;
            for (member, role) in members {
                let member = member.0.as_bytes().as_slice();
                sqlx::query(
                    "INSERT INTO member (channel, identity, role, since_height) VALUES ($1, $2, $3, $4)",
                )
                .bind(channel)
                .bind(member)
                .bind(role.name())
                .bind(at.height)
                .execute(&mut *connection)
                .await?;
                history(
                    connection,
                    at,
                    channel,
                    member,
                    "created",
                    Some(role.name()),
                    creator.0.as_bytes(),
                )
                .await?;
            }
        }
        ChatEvent::MemberAdded {
            actor,
            member,
            role,
            ..
        } => {
            let member = member.0.as_bytes().as_slice();
            sqlx::query(
                "INSERT INTO member (channel, identity, role, since_height) VALUES ($1, $2, $3, $4)",
            )
            .bind(channel)
            .bind(member)
            .bind(role.name())
            .bind(at.height)
            .execute(&mut *connection)
            .await?;
            history(
                connection,
                at,
                channel,
                member,
                "added",
                Some(role.name()),
                actor.0.as_bytes(),
            )
            .await?;
        }
        ChatEvent::MemberRemoved { actor, member, .. } => {
            let member = member.0.as_bytes().as_slice();
            sqlx::query("DELETE FROM member WHERE channel = $1 AND identity = $2")
                .bind(channel)
                .bind(member)
                .execute(&mut *connection)
                .await?;
            history(
                connection,
                at,
                channel,
                member,
                "removed",
                None,
                actor.0.as_bytes(),
            )
            .await?;
        }
        ChatEvent::RoleChanged {
            actor,
            member,
            role,
            ..
        } => {
            let member = member.0.as_bytes().as_slice();
            sqlx::query("UPDATE member SET role = $3 WHERE channel = $1 AND identity = $2")
                .bind(channel)
                .bind(member)
                .bind(role.name())
                .execute(&mut *connection)
                .await?;
            history(
                connection,
                at,
                channel,
                member,
                "role",
                Some(role.name()),
                actor.0.as_bytes(),
            )
            .await?;
        }
        ChatEvent::GroupKeySealed {
            epoch,
            started,
            seals,
            ..
        } => {
            if *started {
                sqlx::query("UPDATE channel SET epoch = $2 WHERE id = $1")
                    .bind(channel)
                    .bind(*epoch as i32)
                    .execute(&mut *connection)
                    .await?;
            }
            for seal in seals {
                sqlx::query(
                    "INSERT INTO key_seal (channel, epoch, public_key, member, sealed, height)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(channel)
                .bind(*epoch as i32)
                .bind(seal.public_key.0.as_slice())
                .bind(seal.member.0.as_bytes().as_slice())
                .bind(sealed_bytes(seal))
                .bind(at.height)
                .execute(&mut *connection)
                .await?;
            }
        }
        ChatEvent::MessagePosted {
            message,
            author,
            signer,
            reply_to,
            buttons,
            body,
            ..
        } => {
            let id = message.0.as_bytes().as_slice();
            let (epoch, text, captions, attachments, nonce, ciphertext) = match body {
                MessageBody::Clear(content) => (
                    None,
                    Some(content.text.clone()),
                    Some(content.buttons.clone()),
                    Some(attachments_json(content)),
                    None,
                    None,
                ),
                MessageBody::Group { epoch, ciphertext } => (
                    Some(*epoch as i32),
                    None,
                    None,
                    None,
                    Some(ciphertext.nonce.to_vec()),
                    Some(ciphertext.bytes.clone()),
                ),
                MessageBody::Direct { ciphertext, .. } => (
                    None,
                    None,
                    None,
                    None,
                    Some(ciphertext.nonce.to_vec()),
                    Some(ciphertext.bytes.clone()),
                ),
            };
            sqlx::query(
                "INSERT INTO message (id, channel, author, signer, transaction_id, height, tx_index,
                     timestamp, reply_to, buttons, body_kind, epoch, text, button_captions,
                     attachments, nonce, ciphertext, sealed)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, FALSE)",
            )
            .bind(id)
            .bind(channel)
            .bind(author.0.as_bytes().as_slice())
            .bind(signer.0.as_slice())
            .bind(&at.transaction_id)
            .bind(at.height)
            .bind(at.tx_index)
            .bind(at.timestamp)
            .bind(reply_to.map(|parent| parent.0.as_bytes().to_vec()))
            .bind(i16::from(*buttons))
            .bind(body.kind())
            .bind(epoch)
            .bind(text)
            .bind(captions)
            .bind(attachments)
            .bind(nonce)
            .bind(ciphertext)
            .execute(&mut *connection)
            .await?;
            if let MessageBody::Direct { seals, .. } = body {
                for seal in seals {
                    sqlx::query(
                        "INSERT INTO message_seal (message, public_key, member, sealed) VALUES ($1, $2, $3, $4)",
                    )
                    .bind(id)
                    .bind(seal.public_key.0.as_slice())
                    .bind(seal.member.0.as_bytes().as_slice())
                    .bind(sealed_bytes(seal))
                    .execute(&mut *connection)
                    .await?;
                }
            }
            sqlx::query(
                "UPDATE channel SET message_count = message_count + 1, last_message_at = $2 WHERE id = $1",
            )
            .bind(channel)
            .bind(at.timestamp)
            .execute(&mut *connection)
            .await?;
        }
        ChatEvent::ReceiptsRecorded {
            member, receipts, ..
        } => {
            for receipt in receipts {
                let button = match receipt.status {
                    ReceiptStatus::Answered(index) => Some(i16::from(index)),
                    _ => None,
                };
                sqlx::query(
                    "INSERT INTO receipt (message, member, status, button, channel, height, timestamp)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (message, member, status) DO UPDATE SET button = EXCLUDED.button,
                         height = EXCLUDED.height, timestamp = EXCLUDED.timestamp
                     WHERE receipt.status = 'answered'",
                )
                .bind(receipt.message.0.as_bytes().as_slice())
                .bind(member.0.as_bytes().as_slice())
                .bind(receipt.status.name())
                .bind(button)
                .bind(channel)
                .bind(at.height)
                .bind(at.timestamp)
                .execute(&mut *connection)
                .await?;
            }
        }
        ChatEvent::MessageSealed { message, .. } => {
            sqlx::query("UPDATE message SET sealed = TRUE WHERE id = $1")
                .bind(message.0.as_bytes().as_slice())
                .execute(&mut *connection)
                .await?;
        }
        ChatEvent::NewsPublished {
            item, author, news, ..
        } => {
            insert_news(
                connection,
                at,
                item.0.as_bytes(),
                channel,
                author.0.as_bytes(),
                news,
            )
            .await?;
        }
        ChatEvent::NewsUpdated { item, news, .. } => {
            sqlx::query(
                "UPDATE news SET title = $2, body = $3, buttons = $4, sticky_until = $5,
                     scheduled_at = $6, target_groups = $7, updated_at = $8, version = version + 1
                 WHERE id = $1",
            )
            .bind(item.0.as_bytes().as_slice())
            .bind(&news.title)
            .bind(&news.body)
            .bind(&news.buttons)
            .bind(news.sticky_until.map(|time| time.0 as i64))
            .bind(news.scheduled_at.map(|time| time.0 as i64))
            .bind(&news.target_groups)
            .bind(at.timestamp)
            .execute(&mut *connection)
            .await?;
        }
        ChatEvent::NewsWithdrawn { item, .. } => {
            sqlx::query("DELETE FROM news WHERE id = $1")
                .bind(item.0.as_bytes().as_slice())
                .execute(&mut *connection)
                .await?;
        }
    }
    Ok(())
}

impl ReadModel for Chat {
    fn name(&self) -> &'static str {
        "chat"
    }

    fn migrator(&self) -> &'static Migrator {
        &CHAT_MIGRATOR
    }

    fn apply<'a>(
        &'a self,
        connection: &'a mut PgConnection,
        message: &'a BlockMessage,
    ) -> BoxFuture<'a, Result<(), sqlx::Error>> {
        Box::pin(async move { Ok(self.apply_block(connection, message).await?) })
    }
}
