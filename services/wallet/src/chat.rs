//! Chat (docs/chat.md "Wallet"): `wallet chat …` creates channels, posts
//! messages, reads and follows channels, lists members and publishes news.
//!
//! The wallet acts with its identity's current key (`identity.rs`) and
//! logs in to the API with it for private channels. Everything private is
//! encrypted and decrypted here (`ledger::payload::chat`: `direct_body`,
//! `group_body`, `seal_to`, `open_seal`, `read_body`); the API only ever
//! hands out ciphertext and sealed keys. A direct message's key is sealed
//! to every active key of both members; a group message uses the key of
//! the channel's current epoch, opened from the seals the API lists.
//!
//! `follow` and `open` use the API's `chatMessageUpdates` subscription
//! (graphql-transport-ws): every message arrives as `pending` when a
//! node's pool accepts it and as `confirmed` once its block is in the
//! read model. `open` also posts every line typed.

use std::collections::HashMap;
use std::io::Write as _;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use ledger::crypto::SecretKey;
use ledger::crypto::sealing::{Ciphertext, ContentKey, SealedKey};
use ledger::payload::chat::{
    ChannelId, ChannelKind, ChatAction, ChatCryptoError, ChatOperation, MemberRole, MemberSeal,
    MessageBody, MessageContent, MessageId, NewsContent, direct_body, group_body,
    group_key_context, open_seal, read_body, seal_to, sign_into, transaction_id_for,
};
use ledger::{Hash32, IdentityId, Payload, PublicKey, Timestamp};
use rand_core::OsRng;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::build::{self, Request};
use crate::cli::{ChatCommand, NewsCommand, WaitArgs};
use crate::client::{Client, NetworkInfo, api_error, bad_answer, text};
use crate::commands::{Context, Report, first_address, sign_file};
use crate::error::WalletError;
use crate::funds;
use crate::identity::{IdentityFile, OwnIdentity, identity_path};
use crate::keystore::{Keystore, Unlocked};
use crate::txfile::TransactionFile;

/// The wallet's identity, unlocked: its current key and every identity
/// key it ever listed (older messages may be sealed to a retired one).
struct Me {
    own: OwnIdentity,
    id: IdentityId,
    keystore: Keystore,
    unlocked: Unlocked,
    key: SecretKey,
    keys: Vec<SecretKey>,
}

/// Makes a channel creation's seals once the channel ID is known.
type Sealer<'a> = &'a dyn Fn(&ChannelId) -> Result<Option<Vec<MemberSeal>>, WalletError>;

/// What the API says of a channel the wallet is a member of.
#[derive(Debug, Clone)]
struct ChannelInfo {
    id: ChannelId,
    kind: ChannelKind,
    role: Option<MemberRole>,
    epoch: u32,
}

fn usage(error: impl std::fmt::Display) -> WalletError {
    WalletError::Usage(error.to_string())
}

fn parse_hash(what: &str, value: &str) -> Result<Hash32, WalletError> {
    value
        .trim()
        .parse()
        .map_err(|_| WalletError::Usage(format!("{what} {value:?} is not 64 hex digits")))
}

fn hex_bytes<const N: usize>(value: &Value) -> Result<[u8; N], WalletError> {
    let mut bytes = [0u8; N];
    hex::decode_to_slice(text(value)?, &mut bytes)
        .map_err(|_| bad_answer(format!("expected {N} bytes of hex, found {value}")))?;
    Ok(bytes)
}

fn parse_kind(kind: &str) -> Result<ChannelKind, WalletError> {
    match kind {
        "direct" => Ok(ChannelKind::Direct),
        "group" => Ok(ChannelKind::Group),
        "broadcast" => Ok(ChannelKind::Broadcast),
        other => Err(bad_answer(format!("unknown channel kind {other:?}"))),
    }
}

fn parse_role(role: &str) -> Result<MemberRole, WalletError> {
    match role.trim().to_ascii_lowercase().as_str() {
        "admin" => Ok(MemberRole::Admin),
        "writer" => Ok(MemberRole::Writer),
        "reader" => Ok(MemberRole::Reader),
        other => Err(WalletError::Usage(format!(
            "role {other:?}: expected admin, writer or reader"
        ))),
    }
}

/// A seal as the API lists it.
fn seal_from(value: &Value) -> Result<MemberSeal, WalletError> {
    let sealed: [u8; 80] = hex_bytes(&value["sealed"])?;
    let mut ephemeral = [0u8; 32];
    let mut wrapped = [0u8; 48];
    ephemeral.copy_from_slice(&sealed[..32]);
    wrapped.copy_from_slice(&sealed[32..]);
    Ok(MemberSeal {
        member: IdentityId(Hash32(hex_bytes(&value["member"])?)),
        public_key: PublicKey(hex_bytes(&value["publicKey"])?),
        sealed: SealedKey { ephemeral, wrapped },
    })
}

/// The body of a message as the API lists it.
fn body_from(message: &Value) -> Result<MessageBody, WalletError> {
    let ciphertext = || -> Result<Ciphertext, WalletError> {
        Ok(Ciphertext {
            nonce: hex_bytes(&message["nonce"])?,
            bytes: hex::decode(text(&message["ciphertext"])?).map_err(bad_answer)?,
        })
    };
    match message["bodyKind"].as_str() {
        Some("clear") => Ok(MessageBody::Clear(MessageContent {
            text: message["text"].as_str().unwrap_or_default().to_owned(),
            buttons: message["buttonCaptions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|caption| caption.as_str().map(str::to_owned))
                .collect(),
            attachments: Vec::new(),
        })),
        Some("group") => Ok(MessageBody::Group {
            epoch: message["epoch"].as_u64().unwrap_or(0) as u32,
            ciphertext: ciphertext()?,
        }),
        Some("direct") => Ok(MessageBody::Direct {
            ciphertext: ciphertext()?,
            seals: message["seals"]
                .as_array()
                .into_iter()
                .flatten()
                .map(seal_from)
                .collect::<Result<_, _>>()?,
        }),
        other => Err(bad_answer(format!("unknown message body kind {other:?}"))),
    }
}

const MESSAGE_FIELDS: &str = "id channel author transactionId height timestamp replyTo buttons
    bodyKind epoch text buttonCaptions nonce ciphertext status
    seals { member publicKey sealed }";

impl Me {
    /// Opens `body` with any of the wallet's identity keys.
    fn read(
        &self,
        network: &NetworkInfo,
        channel: &ChannelId,
        author: &IdentityId,
        body: &MessageBody,
        group_keys: &HashMap<u32, ContentKey>,
    ) -> Result<MessageContent, ChatCryptoError> {
        let group_key = match body {
            MessageBody::Group { epoch, .. } => group_keys.get(epoch),
            _ => None,
        };
        let mut last = ChatCryptoError::NotARecipient {
            public_key: self.key.public_key(),
        };
        for key in &self.keys {
            match read_body(body, &network.chain_id, channel, author, key, group_key) {
                Ok(content) => return Ok(content),
                Err(error) => last = error,
            }
        }
        Err(last)
    }
}

impl Context {
    pub(crate) async fn chat(&self, command: ChatCommand) -> Result<Report, WalletError> {
        match command {
            ChatCommand::Channels => self.chat_channels().await,
            ChatCommand::Create {
                kind,
                name,
                members,
                wait,
            } => self.chat_create(&kind, &name, &members, &wait).await,
            ChatCommand::Send {
                channel,
                text,
                reply_to,
                wait,
            } => {
                let (me, client, network) = self.chat_session().await?;
                let info = channel_info(&client, &channel).await?;
                self.chat_send(
                    &me,
                    &client,
                    &network,
                    &info,
                    &text,
                    reply_to.as_deref(),
                    &wait,
                )
                .await
            }
            ChatCommand::Read { channel, last } => self.chat_read(&channel, last).await,
            ChatCommand::Members { channel } => self.chat_members(&channel).await,
            ChatCommand::Follow { channel, count } => {
                self.chat_follow(&channel, count, false).await
            }
            ChatCommand::Open { channel } => self.chat_follow(&channel, None, true).await,
            ChatCommand::News(NewsCommand::Publish {
                channel,
                title,
                body,
                scheduled_at,
                sticky_until,
                wait,
            }) => {
                let (me, client, network) = self.chat_session().await?;
                let info = channel_info(&client, &channel).await?;
                writer(&info, &me)?;
                let action = ChatAction::PublishNews {
                    author: me.id,
                    channel: info.id,
                    news: NewsContent {
                        title,
                        body,
                        buttons: Vec::new(),
                        sticky_until: sticky_until.map(Timestamp),
                        scheduled_at: scheduled_at.map(Timestamp),
                        target_groups: Vec::new(),
                    },
                };
                let (report, transaction_id) = self
                    .submit_chat(&me, &client, &network, action, None, &wait)
                    .await?;
                let item = ledger::payload::chat::NewsId::for_transaction(&transaction_id);
                let mut report = report;
                report.json["news"] = json!(item.to_string());
                report.human = format!("news {item} published\n{}", report.human);
                Ok(report)
            }
            ChatCommand::News(NewsCommand::List { channel }) => {
                let client = self.client()?;
                self.network(&client).await?;
                let data = client
                    .query(
                        "query($c: String) { newsTimeline(channel: $c) { id channel title body sticky scheduledAt publishedAt } }",
                        json!({ "c": channel }),
                    )
                    .await?;
                let items = data["newsTimeline"].clone();
                let human = items
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|item| {
                        format!(
                            "{}{}: {}",
                            if item["sticky"].as_bool() == Some(true) {
                                "[sticky] "
                            } else {
                                ""
                            },
                            item["title"].as_str().unwrap_or_default(),
                            item["body"].as_str().unwrap_or_default()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n");
                Ok(Report {
                    json: json!({ "news": items }),
                    human,
                })
            }
        }
    }

    /// The wallet's identity, unlocked, and an API client logged in with
    /// its current key.
    async fn chat_session(&self) -> Result<(Me, Client, NetworkInfo), WalletError> {
        let own = IdentityFile::load(&identity_path(self.wallet_path()))?
            .registered()?
            .clone();
        let keystore = self.keystore()?;
        let unlocked = keystore.unlock(&self.password()?)?;
        let key = unlocked.identity_key(own.key_index)?;
        let listed = (keystore.identity_keys.len() as u64).max(own.key_index + 1);
        let keys = (0..listed)
            .map(|index| unlocked.identity_key(index))
            .collect::<Result<Vec<_>, _>>()?;
        let client = self.client()?;
        let network = self.network(&client).await?;
        let token = self.login_token(&client, &network, &own, &key).await?;
        let me = Me {
            id: own.identity_id()?,
            own,
            keystore,
            unlocked,
            key,
            keys,
        };
        Ok((me, client.with_token(token), network))
    }

    async fn chat_channels(&self) -> Result<Report, WalletError> {
        let (_, client, _) = self.chat_session().await?;
        let data = client
            .query(
                "{ chatChannels { id kind name role unread messageCount epoch } }",
                Value::Null,
            )
            .await?;
        let channels = data["chatChannels"].clone();
        let human = channels
            .as_array()
            .into_iter()
            .flatten()
            .map(|channel| {
                format!(
                    "{} {} {:?} ({}, {} unread of {})",
                    channel["id"].as_str().unwrap_or_default(),
                    channel["kind"].as_str().unwrap_or_default(),
                    channel["name"].as_str().unwrap_or_default(),
                    channel["role"].as_str().unwrap_or_default(),
                    channel["unread"],
                    channel["messageCount"]
                )
            })
            .collect::<Vec<_>>()
            .join("\n");
        Ok(Report {
            json: json!({ "channels": channels }),
            human,
        })
    }

    async fn chat_create(
        &self,
        kind: &str,
        name: &str,
        members: &[String],
        wait: &WaitArgs,
    ) -> Result<Report, WalletError> {
        let kind = parse_kind(kind).map_err(|_| usage(format!("unknown kind {kind:?}")))?;
        let (me, client, network) = self.chat_session().await?;
        let (channel_name, members) = if kind == ChannelKind::Direct {
            if !members.is_empty() {
                return Err(usage(
                    "a direct channel is with one identity: `chat create --kind direct NAME`",
                ));
            }
            let other = identity_keys(&client, name).await?;
            (
                format!("{}-{}", me.own.name, name),
                vec![(other.0, MemberRole::Writer, other.1)],
            )
        } else {
            let mut listed = Vec::new();
            for member in members {
                let (member_name, role) = match member.split_once(':') {
                    Some((member_name, role)) => (member_name, parse_role(role)?),
                    None => (member.as_str(), MemberRole::Writer),
                };
                let (id, keys) = identity_keys(&client, member_name).await?;
                listed.push((id, role, keys));
            }
            (name.to_owned(), listed)
        };
        let mut action = ChatAction::CreateChannel {
            creator: me.id,
            kind,
            name: channel_name,
            members: members.iter().map(|(id, role, _)| (*id, *role)).collect(),
            seals: Vec::new(),
        };
        let group_key = ContentKey::random(&mut OsRng);
        let mut recipients = vec![(me.id, me.key.public_key())];
        for (id, _, keys) in &members {
            recipients.extend(keys.iter().map(|key| (*id, *key)));
        }
        let seal = |channel: &ChannelId| -> Result<Vec<MemberSeal>, WalletError> {
            seal_to(
                &group_key,
                &recipients,
                &group_key_context(&network.chain_id, channel, 0),
                &mut OsRng,
            )
            .map_err(usage)
        };
        if kind == ChannelKind::Group {
            // Placeholder seals of the final size, for the fee; the real
            // ones need the channel ID, which follows from the
            // transaction ID.
            if let ChatAction::CreateChannel { seals, .. } = &mut action {
                *seals = seal(&ChannelId(Hash32::ZERO))?;
            }
        }
        let seals = |channel: &ChannelId| -> Result<Option<Vec<MemberSeal>>, WalletError> {
            if kind == ChannelKind::Group {
                seal(channel).map(Some)
            } else {
                Ok(None)
            }
        };
        let (mut report, transaction_id) = self
            .submit_chat(&me, &client, &network, action, Some(&seals), wait)
            .await?;
        let channel = ChannelId::for_transaction(&transaction_id);
        report.json["channel"] = json!(channel.to_string());
        report.human = format!(
            "{} channel {channel} created\n{}",
            kind.name(),
            report.human
        );
        Ok(report)
    }

    /// Posts `text` in the channel.
    #[allow(clippy::too_many_arguments)] // one call site per command
    async fn chat_send(
        &self,
        me: &Me,
        client: &Client,
        network: &NetworkInfo,
        info: &ChannelInfo,
        message: &str,
        reply_to: Option<&str>,
        wait: &WaitArgs,
    ) -> Result<Report, WalletError> {
        writer(info, me)?;
        let content = MessageContent {
            text: message.to_owned(),
            ..MessageContent::default()
        };
        let body = match info.kind {
            ChannelKind::Broadcast => MessageBody::Clear(content),
            ChannelKind::Direct => {
                let mut recipients = Vec::new();
                for (member, _) in channel_members(client, &info.id).await? {
                    let keys = active_keys(client, &json!({ "i": member.to_string() })).await?;
                    recipients.extend(keys.1.into_iter().map(|key| (member, key)));
                }
                direct_body(
                    &network.chain_id,
                    &info.id,
                    &me.id,
                    &recipients,
                    &content,
                    &mut OsRng,
                )
                .map_err(usage)?
            }
            ChannelKind::Group => {
                let keys = group_keys(client, me, network, &info.id).await?;
                let key = keys.get(&info.epoch).ok_or_else(|| {
                    usage(format!(
                        "no key of channel {}'s epoch {} is sealed to this wallet's keys",
                        info.id, info.epoch
                    ))
                })?;
                group_body(
                    key,
                    &network.chain_id,
                    &info.id,
                    &me.id,
                    info.epoch,
                    &content,
                    &mut OsRng,
                )
                .map_err(usage)?
            }
        };
        let action = ChatAction::Post {
            author: me.id,
            channel: info.id,
            reply_to: reply_to
                .map(|reply| parse_hash("message", reply).map(MessageId))
                .transpose()?,
            buttons: 0,
            body,
        };
        let (mut report, transaction_id) = self
            .submit_chat(me, client, network, action, None, wait)
            .await?;
        let message_id = MessageId::for_transaction(&transaction_id);
        report.json["message"] = json!(message_id.to_string());
        report.human = format!("message {message_id} posted\n{}", report.human);
        Ok(report)
    }

    async fn chat_read(&self, channel: &str, last: i32) -> Result<Report, WalletError> {
        let (me, client, network) = self.chat_session().await?;
        let info = channel_info(&client, channel).await?;
        let data = client
            .query(
                &format!(
                    "query($c: String!, $n: Int) {{ chatMessages(channel: $c, first: $n) {{ nodes {{ {MESSAGE_FIELDS} }} }} }}"
                ),
                json!({ "c": info.id.to_string(), "n": last }),
            )
            .await?;
        let group_keys = if info.kind == ChannelKind::Group {
            group_keys(&client, &me, &network, &info.id).await?
        } else {
            HashMap::new()
        };
        let mut names = Names::default();
        let mut messages = Vec::new();
        let mut lines = Vec::new();
        let nodes = data["chatMessages"]["nodes"].as_array().cloned();
        for message in nodes.into_iter().flatten().rev() {
            let opened = open_message(&me, &network, &info, &message, &group_keys)?;
            let author = names.name(&client, &opened.author).await?;
            lines.push(format!("{author}: {}", opened.text));
            messages.push(json!({ "id": message["id"], "author": author,
                                  "text": opened.text, "height": message["height"] }));
        }
        Ok(Report {
            json: json!({ "channel": info.id.to_string(), "messages": messages }),
            human: lines.join("\n"),
        })
    }

    async fn chat_members(&self, channel: &str) -> Result<Report, WalletError> {
        let (_, client, _) = self.chat_session().await?;
        let info = channel_info(&client, channel).await?;
        let mut names = Names::default();
        let mut members = Vec::new();
        let mut lines = Vec::new();
        for (member, role) in channel_members(&client, &info.id).await? {
            let name = names.name(&client, &member).await?;
            lines.push(format!("{name} {role}"));
            members.push(
                json!({ "identity": member.to_string(), "name": name, "role": role.to_string() }),
            );
        }
        Ok(Report {
            json: json!({ "channel": info.id.to_string(), "members": members }),
            human: lines.join("\n"),
        })
    }

    /// Follows a channel (and with `send`, posts each line of standard
    /// input); prints one line per update as it arrives.
    async fn chat_follow(
        &self,
        channel: &str,
        count: Option<usize>,
        send: bool,
    ) -> Result<Report, WalletError> {
        let (me, client, network) = self.chat_session().await?;
        let info = channel_info(&client, channel).await?;
        let mut group_keys = if info.kind == ChannelKind::Group {
            group_keys(&client, &me, &network, &info.id).await?
        } else {
            HashMap::new()
        };
        let mut socket = subscribe(&client, &info.id).await?;
        let json_lines = self.json_output();
        emit(
            json_lines,
            &json!({ "following": info.id.to_string() }),
            &format!("following {} channel {}", info.kind.name(), info.id),
        );
        let mut lines = if send { Some(stdin_lines()) } else { None };
        let mut names = Names::default();
        let mut updates = 0usize;
        let no_wait = WaitArgs {
            no_wait: true,
            wait_timeout: 0,
        };
        loop {
            if count.is_some_and(|count| updates >= count) {
                break;
            }
            tokio::select! {
                frame = socket.next() => {
                    let Some(frame) = frame else { break };
                    let frame = frame.map_err(|error| WalletError::Unreachable {
                        url: client.url.clone(),
                        reason: error.to_string(),
                    })?;
                    let Message::Text(frame) = frame else { continue };
                    let frame: Value = serde_json::from_str(frame.as_str()).map_err(bad_answer)?;
                    match frame["type"].as_str() {
                        Some("next") => {}
                        Some("ping") => {
                            let pong = json!({ "type": "pong" }).to_string();
                            let _ = socket.send(Message::Text(pong.into())).await;
                            continue;
                        }
                        Some("error") => return Err(subscription_error(&frame["payload"])),
                        Some("complete") => break,
                        _ => continue,
                    }
                    if let Some(errors) = frame["payload"]["errors"].as_array()
                        && let Some(error) = errors.first()
                    {
                        return Err(api_error(error));
                    }
                    let message = &frame["payload"]["data"]["chatMessageUpdates"];
                    if info.kind == ChannelKind::Group
                        && let Some(epoch) = message["epoch"].as_u64()
                        && !group_keys.contains_key(&(epoch as u32))
                    {
                        group_keys = group_keys_or_empty(&client, &me, &network, &info.id).await;
                    }
                    let opened = open_message(&me, &network, &info, message, &group_keys)?;
                    let author = names.name(&client, &opened.author).await?;
                    let status = message["status"].as_str().unwrap_or_default();
                    emit(
                        json_lines,
                        &json!({ "status": status, "id": message["id"], "author": author,
                                 "text": opened.text, "height": message["height"] }),
                        &format!("[{status}] {author}: {}", opened.text),
                    );
                    updates += 1;
                }
                line = async { match lines.as_mut() { Some(lines) => lines.recv().await, None => std::future::pending().await } } => {
                    match line {
                        Some(line) if !line.trim().is_empty() => {
                            let info = channel_info(&client, &info.id.to_string()).await?;
                            if let Err(error) = self
                                .chat_send(&me, &client, &network, &info, line.trim_end(), None, &no_wait)
                                .await
                            {
                                eprintln!("error: {error}");
                            }
                        }
                        Some(_) => {}
                        None => break,
                    }
                }
            }
        }
        let _ = socket.close(None).await;
        Ok(Report {
            json: json!({ "channel": info.id.to_string(), "updates": updates }),
            human: String::new(),
        })
    }

    /// Builds, signs and submits a transaction carrying `action` signed by
    /// the identity's current key. `seals(channel)` replaces a channel
    /// creation's (placeholder) seals once the channel ID is known.
    async fn submit_chat(
        &self,
        me: &Me,
        client: &Client,
        network: &NetworkInfo,
        action: ChatAction,
        seals: Option<Sealer<'_>>,
        wait: &WaitArgs,
    ) -> Result<(Report, ledger::TransactionId), WalletError> {
        let request = Request::payload_only(
            build::condition_for(&first_address(&me.keystore)?, None)?,
            Payload::Chat(ChatOperation::unsigned(action.clone(), me.key.public_key())),
        );
        let funds = funds::load(client, network, &me.keystore).await?;
        let mut file = TransactionFile::unsigned(network, build::build(network, &funds, &request)?);
        let mut action = action;
        if let Some(seals) = seals {
            let channel = ChannelId::for_transaction(&transaction_id_for(
                &file.transaction,
                &action,
                me.key.public_key(),
            ));
            if let (Some(sealed), ChatAction::CreateChannel { seals, .. }) =
                (seals(&channel)?, &mut action)
            {
                *seals = sealed;
            }
        }
        let transaction_id = sign_into(&mut file.transaction, action, &network.chain_id, &me.key);
        sign_file(&me.keystore, &me.unlocked, &mut file)?;
        let report = self.submit(client, network, &file, wait).await?;
        Ok((report, transaction_id))
    }
}

/// The member may post (writers and admins), or NOT_A_WRITER.
fn writer(info: &ChannelInfo, me: &Me) -> Result<(), WalletError> {
    match info.role {
        Some(MemberRole::Admin | MemberRole::Writer) => Ok(()),
        role => Err(WalletError::NotAWriter {
            identity: me.own.name.clone(),
            channel: info.id.to_string(),
            role: role.map_or_else(|| "not a member".to_owned(), |role| format!("a {role}")),
        }),
    }
}

fn subscription_error(payload: &Value) -> WalletError {
    api_error(&payload[0])
}

/// Prints one update line (JSON or text) at once.
fn emit(json_lines: bool, json: &Value, human: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = if json_lines {
        writeln!(stdout, "{json}")
    } else {
        writeln!(stdout, "{human}")
    };
    let _ = stdout.flush();
}

/// Lines of standard input, read on a thread of their own.
fn stdin_lines() -> tokio::sync::mpsc::Receiver<String> {
    let (sender, receiver) = tokio::sync::mpsc::channel(16);
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { break };
            if sender.blocking_send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

/// An opened message: its author and clear text (or why it cannot be
/// read, in brackets).
struct Opened {
    author: IdentityId,
    text: String,
}

fn open_message(
    me: &Me,
    network: &NetworkInfo,
    info: &ChannelInfo,
    message: &Value,
    group_keys: &HashMap<u32, ContentKey>,
) -> Result<Opened, WalletError> {
    let author = IdentityId(Hash32(hex_bytes(&message["author"])?));
    let body = body_from(message)?;
    let text = match me.read(network, &info.id, &author, &body, group_keys) {
        Ok(content) => content.text,
        Err(error) => format!("[cannot be read: {error}]"),
    };
    Ok(Opened { author, text })
}

/// The channel as the logged-in wallet sees it (`chatChannels`), or a
/// public broadcast channel it is not a member of.
async fn channel_info(client: &Client, channel: &str) -> Result<ChannelInfo, WalletError> {
    let id = ChannelId(parse_hash("channel", channel)?);
    let data = client
        .query("{ chatChannels { id kind role epoch } }", Value::Null)
        .await?;
    let wanted = id.to_string();
    if let Some(found) = data["chatChannels"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|candidate| candidate["id"].as_str() == Some(wanted.as_str()))
    {
        return Ok(ChannelInfo {
            id,
            kind: parse_kind(&text(&found["kind"])?)?,
            role: found["role"].as_str().map(parse_role).transpose()?,
            epoch: found["epoch"].as_u64().unwrap_or(0) as u32,
        });
    }
    let data = client
        .query("{ broadcastChannels { id } }", Value::Null)
        .await?;
    if data["broadcastChannels"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|candidate| candidate["id"].as_str() == Some(wanted.as_str()))
    {
        return Ok(ChannelInfo {
            id,
            kind: ChannelKind::Broadcast,
            role: None,
            epoch: 0,
        });
    }
    Err(WalletError::Usage(format!(
        "no channel {wanted} among this identity's channels or the public broadcast channels"
    )))
}

async fn channel_members(
    client: &Client,
    channel: &ChannelId,
) -> Result<Vec<(IdentityId, MemberRole)>, WalletError> {
    let data = client
        .query(
            "query($c: String!) { chatMembers(channel: $c) { identity role } }",
            json!({ "c": channel.to_string() }),
        )
        .await?;
    data["chatMembers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|member| {
            Ok((
                IdentityId(Hash32(hex_bytes(&member["identity"])?)),
                parse_role(&text(&member["role"])?)?,
            ))
        })
        .collect()
}

/// An identity's ID and active keys, by name.
async fn identity_keys(
    client: &Client,
    name: &str,
) -> Result<(IdentityId, Vec<PublicKey>), WalletError> {
    active_keys(client, &json!({ "n": name })).await
}

/// An identity's ID and active keys (`{"n": name}` or `{"i": id}`).
async fn active_keys(
    client: &Client,
    variables: &Value,
) -> Result<(IdentityId, Vec<PublicKey>), WalletError> {
    let data = client
        .query(
            "query($n: String, $i: String) { identity(name: $n, id: $i) { id keys { nodes { publicKey status } } } }",
            variables.clone(),
        )
        .await?;
    let identity = &data["identity"];
    if identity.is_null() {
        return Err(WalletError::Usage(format!("no identity {variables}")));
    }
    let keys = identity["keys"]["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|key| key["status"].as_str() == Some("active"))
        .map(|key| hex_bytes(&key["publicKey"]).map(PublicKey))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((IdentityId(Hash32(hex_bytes(&identity["id"])?)), keys))
}

/// The group keys of every epoch sealed to one of the wallet's keys.
async fn group_keys(
    client: &Client,
    me: &Me,
    network: &NetworkInfo,
    channel: &ChannelId,
) -> Result<HashMap<u32, ContentKey>, WalletError> {
    let data = client
        .query(
            "query($c: String!) { chatGroupKeys(channel: $c) { member publicKey sealed epoch } }",
            json!({ "c": channel.to_string() }),
        )
        .await?;
    let mut keys = HashMap::new();
    for seal in data["chatGroupKeys"].as_array().into_iter().flatten() {
        let epoch = seal["epoch"].as_u64().unwrap_or(0) as u32;
        if keys.contains_key(&epoch) {
            continue;
        }
        let sealed = [seal_from(seal)?];
        let context = group_key_context(&network.chain_id, channel, epoch);
        if let Some(key) = me
            .keys
            .iter()
            .find_map(|secret| open_seal(&sealed, secret, &context).ok())
        {
            keys.insert(epoch, key);
        }
    }
    Ok(keys)
}

async fn group_keys_or_empty(
    client: &Client,
    me: &Me,
    network: &NetworkInfo,
    channel: &ChannelId,
) -> HashMap<u32, ContentKey> {
    group_keys(client, me, network, channel)
        .await
        .unwrap_or_default()
}

/// Identity names by ID, asked once each.
#[derive(Default)]
struct Names(HashMap<IdentityId, String>);

impl Names {
    async fn name(&mut self, client: &Client, id: &IdentityId) -> Result<String, WalletError> {
        if let Some(name) = self.0.get(id) {
            return Ok(name.clone());
        }
        let data = client
            .query(
                "query($i: String) { identity(id: $i) { name } }",
                json!({ "i": id.to_string() }),
            )
            .await?;
        let name = data["identity"]["name"]
            .as_str()
            .map_or_else(|| id.to_string(), str::to_owned);
        self.0.insert(*id, name.clone());
        Ok(name)
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens `chatMessageUpdates(channel)` over graphql-transport-ws with the
/// client's token; returns once the server acknowledged the connection.
async fn subscribe(client: &Client, channel: &ChannelId) -> Result<Socket, WalletError> {
    let unreachable = |reason: String| WalletError::Unreachable {
        url: client.url.clone(),
        reason,
    };
    let url = format!(
        "{}/ws",
        client
            .url
            .replacen("http://", "ws://", 1)
            .replacen("https://", "wss://", 1)
    );
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(url)
            .map_err(|error| unreachable(error.to_string()))?;
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        tokio_tungstenite::tungstenite::http::HeaderValue::from_static("graphql-transport-ws"),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .map_err(|error| unreachable(error.to_string()))?;
    let init = match client.token() {
        Some(token) => json!({ "type": "connection_init",
                               "payload": { "authorization": format!("Bearer {token}") } }),
        None => json!({ "type": "connection_init" }),
    };
    socket
        .send(Message::Text(init.to_string().into()))
        .await
        .map_err(|error| unreachable(error.to_string()))?;
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .map_err(|_| unreachable("no connection_ack within 10 s".into()))?
            .ok_or_else(|| unreachable("closed before connection_ack".into()))?
            .map_err(|error| unreachable(error.to_string()))?;
        if let Message::Text(frame) = frame
            && serde_json::from_str::<Value>(frame.as_str())
                .ok()
                .is_some_and(|frame| frame["type"] == "connection_ack")
        {
            break;
        }
    }
    let subscribe = json!({ "id": "1", "type": "subscribe", "payload": {
        "query": format!("subscription($c: String!) {{ chatMessageUpdates(channel: $c) {{ {MESSAGE_FIELDS} }} }}"),
        "variables": { "c": channel.to_string() } } });
    socket
        .send(Message::Text(subscribe.to_string().into()))
        .await
        .map_err(|error| unreachable(error.to_string()))?;
    Ok(socket)
}
