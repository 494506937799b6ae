//! The chat domain's stateful rules: [`prepare`] checks one operation
//! against the chat state and the identity state (both already holding
//! the block's earlier transactions) and returns the writes, events and
//! signature of its change, or the rule it breaks.
//!
//! * The signer must be an active key of the acting identity.
//! * Only admins manage members and roles; a direct channel's two
//!   members never change; a channel always keeps an admin.
//! * Only writers and admins post (readers never; removed members are no
//!   longer members). A group post must use the channel's current
//!   epoch; a direct post seals its key to both members; a broadcast post
//!   is clear.
//! * Every sealed key is addressed to an active key of a member; a new
//!   group epoch (removal, rekey) seals its key to every remaining
//!   member and to nobody else.
//! * Receipts come from members (anyone for a broadcast channel), for
//!   messages of that channel; an answer names an existing button of a
//!   message that is not sealed.
//! * The author or an admin seals a message, updates or withdraws news.

use std::collections::BTreeSet;

use ledger::payload::chat::{
    ChannelId, ChannelKind, ChatAction, ChatOperation, MAX_MEMBERS, MemberRole, MemberSeal,
    MessageBody, MessageId, NewsId, ReceiptStatus,
};
use ledger::{IdentityId, PublicKey};
use thiserror::Error;

use super::events::ChatEvent;
use super::{
    ChannelRecord, ChatChange, ChatState, MessageRecord, NewsRecord, StateKey, StateValue, Write,
};
use crate::domains::identity::IdentityState;
use crate::state::{DomainChange, DomainCoins, DomainContext, DomainSignature};

/// Why a chat operation breaks a stateful rule.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ChatRuleError {
    #[error("identity {identity} does not exist")]
    UnknownIdentity { identity: IdentityId },
    #[error("key {public_key} is not an active key of identity {identity}")]
    NotActiveKey {
        public_key: PublicKey,
        identity: IdentityId,
    },
    #[error("channel {channel} does not exist")]
    UnknownChannel { channel: ChannelId },
    #[error("{identity} is not a member of channel {channel}")]
    NotMember {
        channel: ChannelId,
        identity: IdentityId,
    },
    #[error("{identity} is already a member of channel {channel}")]
    AlreadyMember {
        channel: ChannelId,
        identity: IdentityId,
    },
    #[error("{identity} is a {role} of channel {channel}; only admins may {action}")]
    NotAdmin {
        channel: ChannelId,
        identity: IdentityId,
        role: MemberRole,
        action: &'static str,
    },
    #[error("{identity} is a reader of channel {channel} and cannot post")]
    ReaderCannotPost {
        channel: ChannelId,
        identity: IdentityId,
    },
    #[error("the members of direct channel {channel} never change")]
    DirectChannelFixed { channel: ChannelId },
    #[error("channel {channel} would have no admin left")]
    LastAdmin { channel: ChannelId },
    #[error("{identity} already has role {role} in channel {channel}")]
    SameRole {
        channel: ChannelId,
        identity: IdentityId,
        role: MemberRole,
    },
    #[error("channel {channel} would have more than {MAX_MEMBERS} members")]
    ChannelFull { channel: ChannelId },
    #[error("{action} in a {kind} channel {detail}")]
    WrongKind {
        action: &'static str,
        kind: &'static str,
        detail: &'static str,
    },
    #[error("post to channel {channel} uses key epoch {used}; the current epoch is {current}")]
    StaleEpoch {
        channel: ChannelId,
        used: u32,
        current: u32,
    },
    #[error("{what} is sealed to {member}, who is not a member of channel {channel}")]
    SealForNonMember {
        what: &'static str,
        channel: ChannelId,
        member: IdentityId,
    },
    #[error("{what} is not sealed to member {member} of channel {channel}")]
    MissingSeal {
        what: &'static str,
        channel: ChannelId,
        member: IdentityId,
    },
    #[error("message {message} does not exist in channel {channel}")]
    UnknownMessage {
        channel: ChannelId,
        message: MessageId,
    },
    #[error("message {message} is sealed: no more answers")]
    MessageSealed { message: MessageId },
    #[error("message {message} has {buttons} buttons; there is no button {index}")]
    NoSuchButton {
        message: MessageId,
        buttons: u8,
        index: u8,
    },
    #[error("{identity} is neither the author nor an admin and cannot {action}")]
    NotAuthorOrAdmin {
        identity: IdentityId,
        action: &'static str,
    },
    #[error("news item {item} does not exist (or was withdrawn) in channel {channel}")]
    UnknownNews { channel: ChannelId, item: NewsId },
}

type RuleResult<T> = Result<T, ChatRuleError>;

/// A change under construction: reads see earlier writes of the same
/// change.
struct Draft<'s> {
    state: &'s ChatState,
    writes: Vec<Write>,
    events: Vec<ChatEvent>,
}

impl Draft<'_> {
    fn current(&self, key: &StateKey) -> Option<StateValue> {
        self.writes
            .iter()
            .rev()
            .find(|write| write.key == *key)
            .map(|write| write.after.clone())
            .unwrap_or_else(|| self.state.entries.get(key).cloned())
    }

    fn set(&mut self, key: StateKey, after: Option<StateValue>) {
        let before = self.current(&key);
        if let Some(write) = self.writes.iter_mut().find(|write| write.key == key) {
            write.after = after;
        } else {
            self.writes.push(Write { key, before, after });
        }
    }

    fn event(&mut self, event: ChatEvent) {
        self.events.push(event);
    }
}

/// The channel and the actor's role in it.
fn channel_of(state: &ChatState, channel: &ChannelId) -> RuleResult<ChannelRecord> {
    state
        .channel(channel)
        .ok_or(ChatRuleError::UnknownChannel { channel: *channel })
}

fn role_of(
    state: &ChatState,
    channel: &ChannelId,
    identity: &IdentityId,
) -> RuleResult<MemberRole> {
    state
        .role(channel, identity)
        .ok_or(ChatRuleError::NotMember {
            channel: *channel,
            identity: *identity,
        })
}

fn require_admin(
    state: &ChatState,
    channel: &ChannelId,
    identity: &IdentityId,
    action: &'static str,
) -> RuleResult<ChannelRecord> {
    let record = channel_of(state, channel)?;
    if record.kind == ChannelKind::Direct {
        return Err(ChatRuleError::DirectChannelFixed { channel: *channel });
    }
    let role = role_of(state, channel, identity)?;
    if role != MemberRole::Admin {
        return Err(ChatRuleError::NotAdmin {
            channel: *channel,
            identity: *identity,
            role,
            action,
        });
    }
    Ok(record)
}

fn require_identity(identities: &IdentityState, identity: &IdentityId) -> RuleResult<()> {
    identities
        .identity(identity)
        .map(|_| ())
        .ok_or(ChatRuleError::UnknownIdentity {
            identity: *identity,
        })
}

/// Every seal goes to an active key of one of `members`, and (when
/// `complete`) every member has at least one.
fn check_seals(
    identities: &IdentityState,
    what: &'static str,
    channel: &ChannelId,
    seals: &[MemberSeal],
    members: &BTreeSet<IdentityId>,
    complete: bool,
) -> RuleResult<()> {
    for seal in seals {
        if !members.contains(&seal.member) {
            return Err(ChatRuleError::SealForNonMember {
                what,
                channel: *channel,
                member: seal.member,
            });
        }
        if !identities.is_active_key(&seal.member, &seal.public_key) {
            return Err(ChatRuleError::NotActiveKey {
                public_key: seal.public_key,
                identity: seal.member,
            });
        }
    }
    if complete
        && let Some(missing) = members
            .iter()
            .find(|member| !seals.iter().any(|seal| seal.member == **member))
    {
        return Err(ChatRuleError::MissingSeal {
            what,
            channel: *channel,
            member: *missing,
        });
    }
    Ok(())
}

fn member_set(state: &ChatState, channel: &ChannelId) -> BTreeSet<IdentityId> {
    state
        .members(channel)
        .into_iter()
        .map(|(member, _)| member)
        .collect()
}

/// Checks `operation` against the chat and identity states and returns
/// its change (whose signature is for the block's batch: nothing is
/// verified here).
pub fn prepare(
    state: &ChatState,
    identities: &IdentityState,
    operation: &ChatOperation,
    context: &DomainContext<'_>,
) -> RuleResult<DomainChange> {
    let mut draft = Draft {
        state,
        writes: Vec::new(),
        events: Vec::new(),
    };
    let actor = operation.action.actor();
    if !identities.is_active_key(&actor, &operation.signer) {
        require_identity(identities, &actor)?;
        return Err(ChatRuleError::NotActiveKey {
            public_key: operation.signer,
            identity: actor,
        });
    }
    let transaction_id = context.transaction_id;
    match &operation.action {
        ChatAction::CreateChannel {
            creator,
            kind,
            name,
            members,
            seals,
        } => {
            let channel = ChannelId::for_transaction(transaction_id);
            let creator_role = match kind {
                ChannelKind::Direct => MemberRole::Writer,
                ChannelKind::Group | ChannelKind::Broadcast => MemberRole::Admin,
            };
            let mut all = vec![(*creator, creator_role)];
            all.extend(members.iter().copied());
            for (member, _) in members {
                require_identity(identities, member)?;
            }
            if *kind == ChannelKind::Group {
                let everyone = all.iter().map(|(member, _)| *member).collect();
                check_seals(identities, "channel key", &channel, seals, &everyone, true)?;
            }
            let admins = all
                .iter()
                .filter(|(_, role)| *role == MemberRole::Admin)
                .count();
            draft.set(
                StateKey::Channel(channel),
                Some(StateValue::Channel(ChannelRecord {
                    kind: *kind,
                    epoch: 0,
                    members: all.len() as u32,
                    admins: admins as u32,
                })),
            );
            for (member, role) in &all {
                draft.set(
                    StateKey::Member(channel, *member),
                    Some(StateValue::Role(*role)),
                );
            }
            draft.event(ChatEvent::ChannelCreated {
                channel,
                creator: *creator,
                kind: *kind,
                name: name.clone(),
                members: all,
            });
            if *kind == ChannelKind::Group {
                draft.event(ChatEvent::GroupKeySealed {
                    channel,
                    epoch: 0,
                    started: true,
                    seals: seals.clone(),
                });
            }
        }
        ChatAction::AddMember {
            actor,
            channel,
            member,
            role,
            seals,
        } => {
            let mut record = require_admin(state, channel, actor, "add members")?;
            require_identity(identities, member)?;
            if state.role(channel, member).is_some() {
                return Err(ChatRuleError::AlreadyMember {
                    channel: *channel,
                    identity: *member,
                });
            }
            if record.members as usize >= MAX_MEMBERS {
                return Err(ChatRuleError::ChannelFull { channel: *channel });
            }
            match record.kind {
                ChannelKind::Group => check_seals(
                    identities,
                    "current epoch key",
                    channel,
                    seals,
                    &[*member].into(),
                    true,
                )?,
                _ if !seals.is_empty() => {
                    return Err(ChatRuleError::WrongKind {
                        action: "adding a member",
                        kind: record.kind.name(),
                        detail: "carries no sealed keys",
                    });
                }
                _ => {}
            }
            record.members += 1;
            if *role == MemberRole::Admin {
                record.admins += 1;
            }
            draft.set(
                StateKey::Channel(*channel),
                Some(StateValue::Channel(record)),
            );
            draft.set(
                StateKey::Member(*channel, *member),
                Some(StateValue::Role(*role)),
            );
            draft.event(ChatEvent::MemberAdded {
                channel: *channel,
                actor: *actor,
                member: *member,
                role: *role,
            });
            if record.kind == ChannelKind::Group {
                draft.event(ChatEvent::GroupKeySealed {
                    channel: *channel,
                    epoch: record.epoch,
                    started: false,
                    seals: seals.clone(),
                });
            }
        }
        ChatAction::RemoveMember {
            actor,
            channel,
            member,
            seals,
        } => {
            let mut record = require_admin(state, channel, actor, "remove members")?;
            let role = role_of(state, channel, member)?;
            let mut remaining = member_set(state, channel);
            remaining.remove(member);
            match record.kind {
                ChannelKind::Group => {
                    check_seals(
                        identities,
                        "new epoch key",
                        channel,
                        seals,
                        &remaining,
                        true,
                    )?;
                    record.epoch += 1;
                }
                _ if !seals.is_empty() => {
                    return Err(ChatRuleError::WrongKind {
                        action: "removing a member",
                        kind: record.kind.name(),
                        detail: "carries no sealed keys",
                    });
                }
                _ => {}
            }
            record.members -= 1;
            if role == MemberRole::Admin {
                record.admins -= 1;
            }
            draft.set(
                StateKey::Channel(*channel),
                Some(StateValue::Channel(record)),
            );
            draft.set(StateKey::Member(*channel, *member), None);
            draft.event(ChatEvent::MemberRemoved {
                channel: *channel,
                actor: *actor,
                member: *member,
            });
            if record.kind == ChannelKind::Group {
                draft.event(ChatEvent::GroupKeySealed {
                    channel: *channel,
                    epoch: record.epoch,
                    started: true,
                    seals: seals.clone(),
                });
            }
        }
        ChatAction::ChangeRole {
            actor,
            channel,
            member,
            role,
        } => {
            let mut record = require_admin(state, channel, actor, "change roles")?;
            let old = role_of(state, channel, member)?;
            if old == *role {
                return Err(ChatRuleError::SameRole {
                    channel: *channel,
                    identity: *member,
                    role: *role,
                });
            }
            if old == MemberRole::Admin {
                if record.admins <= 1 {
                    return Err(ChatRuleError::LastAdmin { channel: *channel });
                }
                record.admins -= 1;
            }
            if *role == MemberRole::Admin {
                record.admins += 1;
            }
            draft.set(
                StateKey::Channel(*channel),
                Some(StateValue::Channel(record)),
            );
            draft.set(
                StateKey::Member(*channel, *member),
                Some(StateValue::Role(*role)),
            );
            draft.event(ChatEvent::RoleChanged {
                channel: *channel,
                actor: *actor,
                member: *member,
                role: *role,
            });
        }
        ChatAction::Rekey {
            actor,
            channel,
            seals,
        } => {
            let mut record = require_admin(state, channel, actor, "rekey")?;
            if record.kind != ChannelKind::Group {
                return Err(ChatRuleError::WrongKind {
                    action: "rekeying",
                    kind: record.kind.name(),
                    detail: "is not possible (only group channels have keys)",
                });
            }
            let members = member_set(state, channel);
            check_seals(identities, "new epoch key", channel, seals, &members, true)?;
            record.epoch += 1;
            draft.set(
                StateKey::Channel(*channel),
                Some(StateValue::Channel(record)),
            );
            draft.event(ChatEvent::GroupKeySealed {
                channel: *channel,
                epoch: record.epoch,
                started: true,
                seals: seals.clone(),
            });
        }
        ChatAction::Post {
            author,
            channel,
            reply_to,
            buttons,
            body,
        } => {
            let record = channel_of(state, channel)?;
            let role = role_of(state, channel, author)?;
            if !role.can_post() {
                return Err(ChatRuleError::ReaderCannotPost {
                    channel: *channel,
                    identity: *author,
                });
            }
            match (record.kind, body) {
                (ChannelKind::Broadcast, MessageBody::Clear(_)) => {}
                (ChannelKind::Group, MessageBody::Group { epoch, .. }) => {
                    if *epoch != record.epoch {
                        return Err(ChatRuleError::StaleEpoch {
                            channel: *channel,
                            used: *epoch,
                            current: record.epoch,
                        });
                    }
                }
                (ChannelKind::Direct, MessageBody::Direct { seals, .. }) => {
                    let members = member_set(state, channel);
                    check_seals(
                        identities,
                        "direct message key",
                        channel,
                        seals,
                        &members,
                        true,
                    )?;
                }
                (kind, _) => {
                    return Err(ChatRuleError::WrongKind {
                        action: "posting",
                        kind: kind.name(),
                        detail: match kind {
                            ChannelKind::Broadcast => "must be in clear",
                            ChannelKind::Group => "must be encrypted under the group key",
                            ChannelKind::Direct => "must be sealed to both members",
                        },
                    });
                }
            }
            if let Some(parent) = reply_to {
                message_in(state, channel, parent)?;
            }
            let message = MessageId::for_transaction(transaction_id);
            draft.set(
                StateKey::Message(message),
                Some(StateValue::Message(MessageRecord {
                    channel: *channel,
                    author: *author,
                    buttons: *buttons,
                    sealed: false,
                })),
            );
            draft.event(ChatEvent::MessagePosted {
                channel: *channel,
                message,
                author: *author,
                signer: operation.signer,
                reply_to: *reply_to,
                buttons: *buttons,
                body: body.clone(),
            });
        }
        ChatAction::Receipts {
            member,
            channel,
            receipts,
        } => {
            let record = channel_of(state, channel)?;
            if record.kind != ChannelKind::Broadcast {
                role_of(state, channel, member)?;
            }
            for receipt in receipts {
                let message = message_in(state, channel, &receipt.message)?;
                if let ReceiptStatus::Answered(index) = receipt.status {
                    if message.sealed {
                        return Err(ChatRuleError::MessageSealed {
                            message: receipt.message,
                        });
                    }
                    if index >= message.buttons {
                        return Err(ChatRuleError::NoSuchButton {
                            message: receipt.message,
                            buttons: message.buttons,
                            index,
                        });
                    }
                }
            }
            draft.event(ChatEvent::ReceiptsRecorded {
                channel: *channel,
                member: *member,
                receipts: receipts.clone(),
            });
        }
        ChatAction::SealMessage {
            actor,
            channel,
            message,
        } => {
            channel_of(state, channel)?;
            let mut record = message_in(state, channel, message)?;
            author_or_admin(state, channel, actor, &record.author, "seal a message")?;
            if record.sealed {
                return Err(ChatRuleError::MessageSealed { message: *message });
            }
            record.sealed = true;
            draft.set(
                StateKey::Message(*message),
                Some(StateValue::Message(record)),
            );
            draft.event(ChatEvent::MessageSealed {
                channel: *channel,
                message: *message,
                actor: *actor,
            });
        }
        ChatAction::PublishNews {
            author,
            channel,
            news,
        } => {
            let record = channel_of(state, channel)?;
            if record.kind != ChannelKind::Broadcast {
                return Err(ChatRuleError::WrongKind {
                    action: "publishing news",
                    kind: record.kind.name(),
                    detail: "is not possible (news lives in broadcast channels)",
                });
            }
            let role = role_of(state, channel, author)?;
            if !role.can_post() {
                return Err(ChatRuleError::ReaderCannotPost {
                    channel: *channel,
                    identity: *author,
                });
            }
            let item = NewsId::for_transaction(transaction_id);
            draft.set(
                StateKey::News(item),
                Some(StateValue::News(NewsRecord {
                    channel: *channel,
                    author: *author,
                })),
            );
            draft.event(ChatEvent::NewsPublished {
                channel: *channel,
                item,
                author: *author,
                news: news.clone(),
            });
        }
        ChatAction::UpdateNews {
            actor,
            channel,
            item,
            news,
        } => {
            let record = news_in(state, channel, item)?;
            author_or_admin(state, channel, actor, &record.author, "update news")?;
            draft.event(ChatEvent::NewsUpdated {
                channel: *channel,
                item: *item,
                actor: *actor,
                news: news.clone(),
            });
        }
        ChatAction::WithdrawNews {
            actor,
            channel,
            item,
        } => {
            let record = news_in(state, channel, item)?;
            author_or_admin(state, channel, actor, &record.author, "withdraw news")?;
            draft.set(StateKey::News(*item), None);
            draft.event(ChatEvent::NewsWithdrawn {
                channel: *channel,
                item: *item,
                actor: *actor,
            });
        }
    }
    let signatures = vec![DomainSignature {
        origin: format!("chat {} signer", operation.action.kind()),
        message: operation.signing_message(&context.params.chain_id, transaction_id),
        public_key: operation.signer,
        signature: operation.signature,
    }];
    Ok(DomainChange {
        change: ledger::codec::encode(&ChatChange {
            writes: draft.writes,
        }),
        events: draft
            .events
            .iter()
            .map(ChatEvent::to_domain_event)
            .collect(),
        signatures,
        coins: DomainCoins::default(),
    })
}

fn message_in(
    state: &ChatState,
    channel: &ChannelId,
    message: &MessageId,
) -> RuleResult<MessageRecord> {
    state
        .message(message)
        .filter(|record| record.channel == *channel)
        .ok_or(ChatRuleError::UnknownMessage {
            channel: *channel,
            message: *message,
        })
}

fn news_in(state: &ChatState, channel: &ChannelId, item: &NewsId) -> RuleResult<NewsRecord> {
    state
        .news(item)
        .filter(|record| record.channel == *channel)
        .ok_or(ChatRuleError::UnknownNews {
            channel: *channel,
            item: *item,
        })
}

/// The actor wrote it (and is still a member), or is an admin.
fn author_or_admin(
    state: &ChatState,
    channel: &ChannelId,
    actor: &IdentityId,
    author: &IdentityId,
    action: &'static str,
) -> RuleResult<()> {
    match state.role(channel, actor) {
        Some(MemberRole::Admin) => Ok(()),
        Some(_) if actor == author => Ok(()),
        _ => Err(ChatRuleError::NotAuthorOrAdmin {
            identity: *actor,
            action,
        }),
    }
}
