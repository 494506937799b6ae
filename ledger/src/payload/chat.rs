//! Chat: direct, group and broadcast channels between identities, signed
//! messages (end-to-end encrypted in direct and group channels),
//! receipts, sealing, and a news timeline in broadcast channels. The full
//! rules are in `docs/chat.md`.
//!
//! A transaction carries at most one [`ChatOperation`]: a [`ChatAction`]
//! naming the acting identity, an active key of that identity and its
//! signature. Like identity operations, a chat operation pays its fee
//! from ordinary coin inputs and needs at least one, so its transaction
//! ID is unique and the signature (which commits to that ID) can never be
//! replayed.
//!
//! What is signed ([`ChatOperation::signing_message`]):
//!
//! ```text
//! transcript("blockstake/signature/v1")
//!   purpose        = "chat-message"
//!   chain-id       = 32 bytes
//!   transaction-id = 32 bytes (the ID excludes this signature)
//!   action         = canonical encoding of the ChatAction
//!   public-key     = 32 bytes
//! challenge "sig", 64 bytes
//! ```
//!
//! **Privacy.** Direct and group messages carry only ciphertext
//! ([`crate::crypto::sealing`]): the clear [`MessageContent`] (text,
//! button captions, attachments) is encrypted under a content key; in a
//! direct channel each message has its own key sealed to both members'
//! identity keys; in a group channel the key of the current *epoch* is
//! sealed to every member when the channel is created, to a member when
//! added, and a fresh key of a new epoch is sealed to the remaining
//! members whenever one is removed. What the chain sees of a private
//! message is its author, channel, epoch, reply target, number of
//! buttons and the ciphertext. Broadcast channels and news are public.
//!
//! This module holds the payload types, the rules that need no chain
//! state, the signing transcript and the encryption helpers wallets use;
//! the stateful rules and the consensus state are in
//! `chain::domains::chat`.

use std::fmt;
use std::str::FromStr;

use rand_core::CryptoRngCore;
use thiserror::Error;

use crate::codec;
use crate::crypto::hash::{HashTag, tagged_hash_parts};
use crate::crypto::sealing::{
    self, Ciphertext, ContentKey, EncryptionPublicKey, SealError, SealedKey,
};
use crate::crypto::{
    ChainId, KeyError, PublicKey, SecretKey, Signature, SigningMessage, SigningPurpose,
    SigningTranscript,
};
use crate::params::NetworkParams;
use crate::payload::{DomainPayload, Payload, PayloadError};
use crate::transaction::Transaction;
use crate::types::{Hash32, HashParseError, IdentityId, Timestamp, TransactionId};

/// Most members a channel may have.
pub const MAX_MEMBERS: usize = 256;
/// Most sealed keys one operation may carry (a member may have several
/// active keys).
pub const MAX_SEALS: usize = 1024;
/// Longest channel name, in bytes of UTF-8.
pub const MAX_CHANNEL_NAME_LEN: usize = 64;
/// Longest message text, in bytes of UTF-8 (clear or before encryption).
pub const MAX_TEXT_LEN: usize = 4096;
/// Largest ciphertext of one private message, in bytes.
pub const MAX_CIPHERTEXT_LEN: usize = 16 * 1024;
/// Most quick-answer buttons on a message.
pub const MAX_BUTTONS: usize = 8;
/// Longest button caption, in bytes of UTF-8.
pub const MAX_BUTTON_CAPTION_LEN: usize = 32;
/// Most attachments of one message.
pub const MAX_ATTACHMENTS: usize = 8;
/// Longest attachment name, in bytes of UTF-8.
pub const MAX_ATTACHMENT_NAME_LEN: usize = 128;
/// Most receipts in one batch.
pub const MAX_RECEIPTS: usize = 256;
/// Longest news title, in bytes of UTF-8.
pub const MAX_NEWS_TITLE_LEN: usize = 80;
/// Longest news body, in bytes of UTF-8.
pub const MAX_NEWS_BODY_LEN: usize = 4096;
/// Most buttons of a news item.
pub const MAX_NEWS_BUTTONS: usize = 3;
/// Longest news button caption, in bytes of UTF-8.
pub const MAX_NEWS_BUTTON_CAPTION_LEN: usize = 15;
/// Most target groups of a news item.
pub const MAX_NEWS_GROUPS: usize = 16;
/// Longest target group name, in bytes of UTF-8.
pub const MAX_NEWS_GROUP_LEN: usize = 32;

macro_rules! chat_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(
            Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, bincode::Encode,
            bincode::Decode,
        )]
        pub struct $name(pub Hash32);

        impl $name {
            /// The ID of what transaction `transaction` created:
            /// `H("blockstake/chat-id/v1" ‖ kind ‖ transaction ID)`.
            pub fn for_transaction(transaction: &TransactionId) -> $name {
                $name(tagged_hash_parts(
                    HashTag::ChatId,
                    &[$kind, transaction.0.as_bytes()],
                ))
            }

            /// The first bytes in hex, for error messages.
            pub fn short(&self) -> String {
                self.0.short()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0.short())
            }
        }

        impl FromStr for $name {
            type Err = HashParseError;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                text.parse().map($name)
            }
        }
    };
}

chat_id!(
    /// A channel: created by one transaction.
    ChannelId,
    b"channel"
);
chat_id!(
    /// A message: posted by one transaction.
    MessageId,
    b"message"
);
chat_id!(
    /// A news item: published by one transaction (updates keep its ID).
    NewsId,
    b"news"
);

/// What kind of channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub enum ChannelKind {
    /// Two members, both writers; every message has its own key sealed
    /// to both. Membership never changes.
    Direct,
    /// Members with roles; messages under the epoch's group key.
    Group,
    /// Public: clear messages and news, written by admins and writers,
    /// readable by anyone.
    Broadcast,
}

impl ChannelKind {
    pub const fn name(self) -> &'static str {
        match self {
            ChannelKind::Direct => "direct",
            ChannelKind::Group => "group",
            ChannelKind::Broadcast => "broadcast",
        }
    }
}

/// A member's role. Admins manage members and seal anyone's message;
/// writers post; readers only read (and send receipts).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, bincode::Encode, bincode::Decode,
)]
pub enum MemberRole {
    Reader,
    Writer,
    Admin,
}

impl MemberRole {
    pub const fn name(self) -> &'static str {
        match self {
            MemberRole::Reader => "reader",
            MemberRole::Writer => "writer",
            MemberRole::Admin => "admin",
        }
    }

    pub const fn can_post(self) -> bool {
        matches!(self, MemberRole::Writer | MemberRole::Admin)
    }
}

impl fmt::Display for MemberRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A content key sealed to one active key of a member.
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct MemberSeal {
    pub member: IdentityId,
    /// The member's identity key the content key is sealed to.
    pub public_key: PublicKey,
    pub sealed: SealedKey,
}

/// A file attached to a message: a content hash (any digest the
/// application chooses) or a stored object.
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub enum AttachmentRef {
    ContentHash(Hash32),
    StorageObject(super::storage::ObjectId),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct Attachment {
    pub name: String,
    pub reference: AttachmentRef,
}

/// What a message says. Public in a broadcast channel; encrypted (as
/// its canonical encoding) in direct and group channels.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, bincode::Encode, bincode::Decode)]
pub struct MessageContent {
    pub text: String,
    /// Quick-answer captions; a receipt answers with an index.
    pub buttons: Vec<String>,
    pub attachments: Vec<Attachment>,
}

/// A message's body as it goes on chain.
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub enum MessageBody {
    /// Broadcast channels only.
    Clear(MessageContent),
    /// Group channels only: encrypted under the key of `epoch`, which
    /// must be the channel's current epoch.
    Group { epoch: u32, ciphertext: Ciphertext },
    /// Direct channels only: encrypted under a fresh key sealed to every
    /// active key of both members the author chose (at least one each).
    Direct {
        ciphertext: Ciphertext,
        seals: Vec<MemberSeal>,
    },
}

impl MessageBody {
    pub const fn kind(&self) -> &'static str {
        match self {
            MessageBody::Clear(_) => "clear",
            MessageBody::Group { .. } => "group",
            MessageBody::Direct { .. } => "direct",
        }
    }
}

/// How far a member got with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub enum ReceiptStatus {
    Received,
    Read,
    /// Answered with the button at this index.
    Answered(u8),
}

impl ReceiptStatus {
    pub const fn name(self) -> &'static str {
        match self {
            ReceiptStatus::Received => "received",
            ReceiptStatus::Read => "read",
            ReceiptStatus::Answered(_) => "answered",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct Receipt {
    pub message: MessageId,
    pub status: ReceiptStatus,
}

/// A news item of a broadcast channel (public).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, bincode::Encode, bincode::Decode)]
pub struct NewsContent {
    pub title: String,
    pub body: String,
    pub buttons: Vec<String>,
    /// Shown first in the timeline until then.
    pub sticky_until: Option<Timestamp>,
    /// Not in the timeline before then.
    pub scheduled_at: Option<Timestamp>,
    /// Audience groups (empty: everyone).
    pub target_groups: Vec<String>,
}

/// What a chat operation does. The first field of every variant is the
/// acting identity. The encoded tag is the variant index: append only.
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub enum ChatAction {
    /// Creates a channel whose ID is [`ChannelId::for_transaction`]; the
    /// creator is an admin (a writer in a direct channel) and must not
    /// appear in `members`. A group channel's epoch-0 key is sealed in
    /// `seals` to every member including the creator; other kinds carry
    /// no seals.
    CreateChannel {
        creator: IdentityId,
        kind: ChannelKind,
        name: String,
        members: Vec<(IdentityId, MemberRole)>,
        seals: Vec<MemberSeal>,
    },
    /// An admin adds a member (group: with the current epoch's key
    /// sealed to the new member).
    AddMember {
        actor: IdentityId,
        channel: ChannelId,
        member: IdentityId,
        role: MemberRole,
        seals: Vec<MemberSeal>,
    },
    /// An admin removes another member. In a group channel this starts a
    /// new epoch whose key is sealed to every remaining member.
    RemoveMember {
        actor: IdentityId,
        channel: ChannelId,
        member: IdentityId,
        seals: Vec<MemberSeal>,
    },
    /// An admin changes a member's role (a channel keeps an admin).
    ChangeRole {
        actor: IdentityId,
        channel: ChannelId,
        member: IdentityId,
        role: MemberRole,
    },
    /// An admin starts a new group epoch without removing anyone (for
    /// example after a member rotated a compromised key).
    Rekey {
        actor: IdentityId,
        channel: ChannelId,
        seals: Vec<MemberSeal>,
    },
    /// A writer or admin posts; its ID is [`MessageId::for_transaction`].
    Post {
        author: IdentityId,
        channel: ChannelId,
        reply_to: Option<MessageId>,
        /// How many quick-answer buttons the content has (public, so
        /// answers can be checked without reading the content).
        buttons: u8,
        body: MessageBody,
    },
    /// A member's receipts for messages of one channel.
    Receipts {
        member: IdentityId,
        channel: ChannelId,
        receipts: Vec<Receipt>,
    },
    /// The author or an admin seals a message: no more answers.
    SealMessage {
        actor: IdentityId,
        channel: ChannelId,
        message: MessageId,
    },
    /// A writer or admin of a broadcast channel publishes news; its ID is
    /// [`NewsId::for_transaction`].
    PublishNews {
        author: IdentityId,
        channel: ChannelId,
        news: NewsContent,
    },
    /// The author or an admin replaces a news item's content.
    UpdateNews {
        actor: IdentityId,
        channel: ChannelId,
        item: NewsId,
        news: NewsContent,
    },
    /// The author or an admin withdraws a news item for good.
    WithdrawNews {
        actor: IdentityId,
        channel: ChannelId,
        item: NewsId,
    },
}

impl ChatAction {
    /// The acting identity.
    pub fn actor(&self) -> IdentityId {
        match self {
            ChatAction::CreateChannel { creator, .. } => *creator,
            ChatAction::AddMember { actor, .. }
            | ChatAction::RemoveMember { actor, .. }
            | ChatAction::ChangeRole { actor, .. }
            | ChatAction::Rekey { actor, .. }
            | ChatAction::SealMessage { actor, .. }
            | ChatAction::UpdateNews { actor, .. }
            | ChatAction::WithdrawNews { actor, .. } => *actor,
            ChatAction::Post { author, .. } | ChatAction::PublishNews { author, .. } => *author,
            ChatAction::Receipts { member, .. } => *member,
        }
    }

    /// The channel acted on (`None` for a creation).
    pub fn channel(&self) -> Option<ChannelId> {
        match self {
            ChatAction::CreateChannel { .. } => None,
            ChatAction::AddMember { channel, .. }
            | ChatAction::RemoveMember { channel, .. }
            | ChatAction::ChangeRole { channel, .. }
            | ChatAction::Rekey { channel, .. }
            | ChatAction::Post { channel, .. }
            | ChatAction::Receipts { channel, .. }
            | ChatAction::SealMessage { channel, .. }
            | ChatAction::PublishNews { channel, .. }
            | ChatAction::UpdateNews { channel, .. }
            | ChatAction::WithdrawNews { channel, .. } => Some(*channel),
        }
    }

    /// A short name of the action for messages and read models.
    pub const fn kind(&self) -> &'static str {
        match self {
            ChatAction::CreateChannel { .. } => "create_channel",
            ChatAction::AddMember { .. } => "add_member",
            ChatAction::RemoveMember { .. } => "remove_member",
            ChatAction::ChangeRole { .. } => "change_role",
            ChatAction::Rekey { .. } => "rekey",
            ChatAction::Post { .. } => "post",
            ChatAction::Receipts { .. } => "receipts",
            ChatAction::SealMessage { .. } => "seal_message",
            ChatAction::PublishNews { .. } => "publish_news",
            ChatAction::UpdateNews { .. } => "update_news",
            ChatAction::WithdrawNews { .. } => "withdraw_news",
        }
    }
}

/// A chat payload: the action, the acting key and its signature.
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct ChatOperation {
    pub action: ChatAction,
    /// An active key of the acting identity.
    pub signer: PublicKey,
    pub signature: Signature,
}

/// Why a chat payload breaks a stateless rule.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ChatPayloadError {
    #[error("chat {action} pays no fee from coin inputs; a chat payload needs at least one")]
    NoCoinInputs { action: &'static str },
    #[error("{what} {public_key} is not usable: {source}")]
    UnusableKey {
        what: &'static str,
        public_key: PublicKey,
        source: KeyError,
    },
    #[error("{what} has {length} bytes; at most {max}")]
    TooLong {
        what: &'static str,
        length: usize,
        max: usize,
    },
    #[error("{what} is empty")]
    Empty { what: &'static str },
    #[error("{what} contains a control character at byte {index}")]
    ControlCharacter { what: &'static str, index: usize },
    #[error("{what} has {count} entries; at most {max}")]
    TooMany {
        what: &'static str,
        count: usize,
        max: usize,
    },
    #[error("member {member} is listed twice")]
    DuplicateMember { member: IdentityId },
    #[error("the creator {creator} is listed among the members")]
    CreatorListed { creator: IdentityId },
    #[error("a direct channel has exactly one other member, writer; got {count}")]
    DirectMembers { count: usize },
    #[error("a {kind} channel carries no sealed keys when created")]
    UnexpectedSeals { kind: &'static str },
    #[error("{what} is sealed to {member} who is not concerned")]
    SealForStranger {
        what: &'static str,
        member: IdentityId,
    },
    #[error("{what} has no sealed key for member {member}")]
    MissingSeal {
        what: &'static str,
        member: IdentityId,
    },
    #[error("{what} seals to key {public_key} twice")]
    DuplicateSeal {
        what: &'static str,
        public_key: PublicKey,
    },
    #[error("message declares {declared} buttons but its clear content has {actual}")]
    ButtonCount { declared: u8, actual: usize },
    #[error("{identity} cannot {action} itself")]
    SelfReference {
        identity: IdentityId,
        action: &'static str,
    },
    #[error("news is sticky until {sticky_until} but scheduled at {scheduled_at}, later")]
    StickyBeforeSchedule {
        sticky_until: Timestamp,
        scheduled_at: Timestamp,
    },
    #[error("message {message} has two receipts of the same kind in one batch")]
    DuplicateReceipt { message: MessageId },
}

impl ChatOperation {
    /// An unsigned operation by `signer`; sign it with [`Self::sign`] once
    /// the rest of the transaction is final.
    pub fn unsigned(action: ChatAction, signer: PublicKey) -> ChatOperation {
        ChatOperation {
            action,
            signer,
            signature: Signature::default(),
        }
    }

    /// The message the signer signs for this operation in transaction
    /// `transaction_id` on chain `chain_id`.
    pub fn signing_message(
        &self,
        chain_id: &ChainId,
        transaction_id: &TransactionId,
    ) -> SigningMessage {
        let mut transcript = SigningTranscript::new(SigningPurpose::ChatMessage, chain_id);
        transcript.append(b"transaction-id", transaction_id.0.as_bytes());
        transcript.append(b"action", &codec::encode(&self.action));
        transcript.append(b"public-key", &self.signer.0);
        transcript.challenge()
    }

    /// Signs with `key` (which must be [`Self::signer`]'s secret).
    pub fn sign(&mut self, chain_id: &ChainId, transaction_id: &TransactionId, key: &SecretKey) {
        let message = self.signing_message(chain_id, transaction_id);
        self.signature = key.sign(&message);
    }

    /// The rules that need no chain state (`transaction` is the
    /// enclosing one).
    pub fn check(&self, transaction: &Transaction) -> Result<(), ChatPayloadError> {
        let action = self.action.kind();
        if transaction.coin_inputs.is_empty() {
            return Err(ChatPayloadError::NoCoinInputs { action });
        }
        usable("signing key", &self.signer)?;
        match &self.action {
            ChatAction::CreateChannel {
                creator,
                kind,
                name,
                members,
                seals,
            } => {
                text("channel name", name, MAX_CHANNEL_NAME_LEN, true)?;
                if members.len() > MAX_MEMBERS - 1 {
                    return Err(ChatPayloadError::TooMany {
                        what: "channel members",
                        count: members.len() + 1,
                        max: MAX_MEMBERS,
                    });
                }
                let mut listed = std::collections::BTreeSet::new();
                for (member, _) in members {
                    if member == creator {
                        return Err(ChatPayloadError::CreatorListed { creator: *creator });
                    }
                    if !listed.insert(*member) {
                        return Err(ChatPayloadError::DuplicateMember { member: *member });
                    }
                }
                match kind {
                    ChannelKind::Direct => {
                        if members.len() != 1
                            || members.iter().any(|(_, role)| *role != MemberRole::Writer)
                        {
                            return Err(ChatPayloadError::DirectMembers {
                                count: members.len(),
                            });
                        }
                    }
                    ChannelKind::Group => {
                        listed.insert(*creator);
                        check_seals("channel key", seals, &listed)?;
                    }
                    ChannelKind::Broadcast => {}
                }
                if *kind != ChannelKind::Group && !seals.is_empty() {
                    return Err(ChatPayloadError::UnexpectedSeals { kind: kind.name() });
                }
            }
            ChatAction::AddMember {
                actor,
                member,
                seals,
                ..
            } => {
                if actor == member {
                    return Err(ChatPayloadError::SelfReference {
                        identity: *actor,
                        action: "add",
                    });
                }
                // Whether seals are needed depends on the channel's kind
                // (stateful); here only their shape.
                if !seals.is_empty() {
                    check_seals("added member's key", seals, &[*member].into())?;
                }
            }
            ChatAction::RemoveMember {
                actor,
                member,
                seals,
                ..
            } => {
                if actor == member {
                    return Err(ChatPayloadError::SelfReference {
                        identity: *actor,
                        action: "remove",
                    });
                }
                check_seal_shape("new epoch key", seals)?;
                if seals.iter().any(|seal| seal.member == *member) {
                    return Err(ChatPayloadError::SealForStranger {
                        what: "new epoch key",
                        member: *member,
                    });
                }
            }
            ChatAction::ChangeRole { .. } | ChatAction::SealMessage { .. } => {}
            ChatAction::Rekey { seals, .. } => {
                if seals.is_empty() {
                    return Err(ChatPayloadError::Empty {
                        what: "new epoch key seals",
                    });
                }
                check_seal_shape("new epoch key", seals)?;
            }
            ChatAction::Post { buttons, body, .. } => match body {
                MessageBody::Clear(content) => {
                    check_content(content)?;
                    if usize::from(*buttons) != content.buttons.len() {
                        return Err(ChatPayloadError::ButtonCount {
                            declared: *buttons,
                            actual: content.buttons.len(),
                        });
                    }
                }
                MessageBody::Group { ciphertext, .. } => {
                    check_ciphertext(ciphertext, *buttons)?;
                }
                MessageBody::Direct { ciphertext, seals } => {
                    check_ciphertext(ciphertext, *buttons)?;
                    if seals.is_empty() {
                        return Err(ChatPayloadError::Empty {
                            what: "direct message seals",
                        });
                    }
                    check_seal_shape("direct message key", seals)?;
                }
            },
            ChatAction::Receipts { receipts, .. } => {
                if receipts.is_empty() {
                    return Err(ChatPayloadError::Empty { what: "receipts" });
                }
                if receipts.len() > MAX_RECEIPTS {
                    return Err(ChatPayloadError::TooMany {
                        what: "receipts",
                        count: receipts.len(),
                        max: MAX_RECEIPTS,
                    });
                }
                let mut seen = std::collections::BTreeSet::new();
                for receipt in receipts {
                    if !seen.insert((receipt.message, receipt.status.name())) {
                        return Err(ChatPayloadError::DuplicateReceipt {
                            message: receipt.message,
                        });
                    }
                }
            }
            ChatAction::PublishNews { news, .. } | ChatAction::UpdateNews { news, .. } => {
                check_news(news)?;
            }
            ChatAction::WithdrawNews { .. } => {}
        }
        Ok(())
    }
}

fn usable(what: &'static str, public_key: &PublicKey) -> Result<(), ChatPayloadError> {
    public_key
        .encryption_key()
        .map(|_| ())
        .map_err(|source| ChatPayloadError::UnusableKey {
            what,
            public_key: *public_key,
            source,
        })
}

/// Checks a piece of text: length, emptiness (when `required`), no
/// control characters.
fn text(
    what: &'static str,
    value: &str,
    max: usize,
    required: bool,
) -> Result<(), ChatPayloadError> {
    if value.len() > max {
        return Err(ChatPayloadError::TooLong {
            what,
            length: value.len(),
            max,
        });
    }
    if required && value.trim().is_empty() {
        return Err(ChatPayloadError::Empty { what });
    }
    Ok(())
}

/// Like [`text`] but refusing control characters (names, captions,
/// titles — single-line fields).
fn line(
    what: &'static str,
    value: &str,
    max: usize,
    required: bool,
) -> Result<(), ChatPayloadError> {
    text(what, value, max, required)?;
    if let Some((index, _)) = value.char_indices().find(|(_, c)| c.is_control()) {
        return Err(ChatPayloadError::ControlCharacter { what, index });
    }
    Ok(())
}

fn count(what: &'static str, count: usize, max: usize) -> Result<(), ChatPayloadError> {
    if count > max {
        return Err(ChatPayloadError::TooMany { what, count, max });
    }
    Ok(())
}

fn check_seal_shape(what: &'static str, seals: &[MemberSeal]) -> Result<(), ChatPayloadError> {
    count(what, seals.len(), MAX_SEALS)?;
    let mut keys = std::collections::BTreeSet::new();
    for seal in seals {
        if !keys.insert(seal.public_key) {
            return Err(ChatPayloadError::DuplicateSeal {
                what,
                public_key: seal.public_key,
            });
        }
        usable("sealing key", &seal.public_key)?;
    }
    Ok(())
}

/// Seals that cover exactly `members` (each at least once, nobody else).
fn check_seals(
    what: &'static str,
    seals: &[MemberSeal],
    members: &std::collections::BTreeSet<IdentityId>,
) -> Result<(), ChatPayloadError> {
    check_seal_shape(what, seals)?;
    if let Some(stranger) = seals.iter().find(|seal| !members.contains(&seal.member)) {
        return Err(ChatPayloadError::SealForStranger {
            what,
            member: stranger.member,
        });
    }
    if let Some(missing) = members
        .iter()
        .find(|member| !seals.iter().any(|seal| seal.member == **member))
    {
        return Err(ChatPayloadError::MissingSeal {
            what,
            member: *missing,
        });
    }
    Ok(())
}

fn check_ciphertext(ciphertext: &Ciphertext, buttons: u8) -> Result<(), ChatPayloadError> {
    if ciphertext.bytes.len() > MAX_CIPHERTEXT_LEN {
        return Err(ChatPayloadError::TooLong {
            what: "ciphertext",
            length: ciphertext.bytes.len(),
            max: MAX_CIPHERTEXT_LEN,
        });
    }
    if ciphertext.bytes.is_empty() {
        return Err(ChatPayloadError::Empty { what: "ciphertext" });
    }
    count("message buttons", usize::from(buttons), MAX_BUTTONS)
}

/// The rules of a message's content (checked on chain for clear
/// content, by the sender's wallet before encrypting private content).
pub fn check_content(content: &MessageContent) -> Result<(), ChatPayloadError> {
    text("message text", &content.text, MAX_TEXT_LEN, false)?;
    count("message buttons", content.buttons.len(), MAX_BUTTONS)?;
    for caption in &content.buttons {
        line("button caption", caption, MAX_BUTTON_CAPTION_LEN, true)?;
    }
    count(
        "message attachments",
        content.attachments.len(),
        MAX_ATTACHMENTS,
    )?;
    for attachment in &content.attachments {
        line(
            "attachment name",
            &attachment.name,
            MAX_ATTACHMENT_NAME_LEN,
            true,
        )?;
    }
    if content.text.trim().is_empty() && content.attachments.is_empty() {
        return Err(ChatPayloadError::Empty {
            what: "message (no text, no attachment)",
        });
    }
    Ok(())
}

fn check_news(news: &NewsContent) -> Result<(), ChatPayloadError> {
    line("news title", &news.title, MAX_NEWS_TITLE_LEN, true)?;
    text("news body", &news.body, MAX_NEWS_BODY_LEN, false)?;
    count("news buttons", news.buttons.len(), MAX_NEWS_BUTTONS)?;
    for caption in &news.buttons {
        line(
            "news button caption",
            caption,
            MAX_NEWS_BUTTON_CAPTION_LEN,
            true,
        )?;
    }
    count(
        "news target groups",
        news.target_groups.len(),
        MAX_NEWS_GROUPS,
    )?;
    for group in &news.target_groups {
        line("news target group", group, MAX_NEWS_GROUP_LEN, true)?;
    }
    if let (Some(sticky_until), Some(scheduled_at)) = (news.sticky_until, news.scheduled_at)
        && sticky_until < scheduled_at
    {
        return Err(ChatPayloadError::StickyBeforeSchedule {
            sticky_until,
            scheduled_at,
        });
    }
    Ok(())
}

// ---- Encryption as members use it -------------------------------------

/// Where a group key is sealed: chain, channel and epoch.
pub fn group_key_context(chain_id: &ChainId, channel: &ChannelId, epoch: u32) -> Vec<u8> {
    let mut context = b"blockstake/chat/group-key/v1".to_vec();
    context.extend_from_slice(chain_id.0.as_bytes());
    context.extend_from_slice(channel.0.as_bytes());
    context.extend_from_slice(&epoch.to_le_bytes());
    context
}

/// Where a direct message's key is sealed: chain and channel.
pub fn direct_key_context(chain_id: &ChainId, channel: &ChannelId) -> Vec<u8> {
    let mut context = b"blockstake/chat/direct-key/v1".to_vec();
    context.extend_from_slice(chain_id.0.as_bytes());
    context.extend_from_slice(channel.0.as_bytes());
    context
}

/// What a private message's ciphertext is bound to: chain, channel,
/// author and epoch (0 for direct messages), so a ciphertext cannot be
/// re-posted in another channel or under another author.
pub fn message_associated_data(
    chain_id: &ChainId,
    channel: &ChannelId,
    author: &IdentityId,
    epoch: u32,
) -> Vec<u8> {
    let mut associated = b"blockstake/chat/message/v1".to_vec();
    associated.extend_from_slice(chain_id.0.as_bytes());
    associated.extend_from_slice(channel.0.as_bytes());
    associated.extend_from_slice(author.0.as_bytes());
    associated.extend_from_slice(&epoch.to_le_bytes());
    associated
}

/// Why a member cannot encrypt or read a private message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ChatCryptoError {
    #[error("member {member}'s key {public_key}: {source}")]
    Recipient {
        member: IdentityId,
        public_key: PublicKey,
        source: KeyError,
    },
    #[error(transparent)]
    Seal(#[from] SealError),
    #[error("no key of this message or epoch is sealed to key {public_key}")]
    NotARecipient { public_key: PublicKey },
    #[error("the decrypted content does not decode: {0}")]
    Content(String),
    #[error("the content breaks a rule: {0}")]
    Invalid(#[from] ChatPayloadError),
    #[error("a clear message has nothing to decrypt")]
    NotEncrypted,
}

/// Seals `key` to every `(member, key)` recipient in `context`.
pub fn seal_to(
    key: &ContentKey,
    recipients: &[(IdentityId, PublicKey)],
    context: &[u8],
    rng: &mut impl CryptoRngCore,
) -> Result<Vec<MemberSeal>, ChatCryptoError> {
    recipients
        .iter()
        .map(|(member, public_key)| {
            let encryption: EncryptionPublicKey =
                public_key
                    .encryption_key()
                    .map_err(|source| ChatCryptoError::Recipient {
                        member: *member,
                        public_key: *public_key,
                        source,
                    })?;
            Ok(MemberSeal {
                member: *member,
                public_key: *public_key,
                sealed: sealing::seal_key(key, &encryption, context, rng)?,
            })
        })
        .collect()
}

/// Opens the seal addressed to `secret`'s public key among `seals`.
pub fn open_seal(
    seals: &[MemberSeal],
    secret: &SecretKey,
    context: &[u8],
) -> Result<ContentKey, ChatCryptoError> {
    let public_key = secret.public_key();
    let seal = seals
        .iter()
        .find(|seal| seal.public_key == public_key)
        .ok_or(ChatCryptoError::NotARecipient { public_key })?;
    Ok(sealing::open_key(
        &seal.sealed,
        &secret.encryption_secret(),
        context,
    )?)
}

/// Encrypts `content` under `key` for `channel` by `author` in `epoch`.
pub fn encrypt_content(
    key: &ContentKey,
    chain_id: &ChainId,
    channel: &ChannelId,
    author: &IdentityId,
    epoch: u32,
    content: &MessageContent,
    rng: &mut impl CryptoRngCore,
) -> Result<Ciphertext, ChatCryptoError> {
    check_content(content)?;
    let associated = message_associated_data(chain_id, channel, author, epoch);
    Ok(sealing::encrypt(
        key,
        &associated,
        &codec::encode(content),
        rng,
    )?)
}

/// Decrypts what [`encrypt_content`] produced.
pub fn decrypt_content(
    key: &ContentKey,
    chain_id: &ChainId,
    channel: &ChannelId,
    author: &IdentityId,
    epoch: u32,
    ciphertext: &Ciphertext,
) -> Result<MessageContent, ChatCryptoError> {
    let associated = message_associated_data(chain_id, channel, author, epoch);
    let clear = sealing::decrypt(key, &associated, ciphertext)?;
    codec::decode_with_limit(&clear, MAX_CIPHERTEXT_LEN)
        .map_err(|error| ChatCryptoError::Content(error.to_string()))
}

/// A direct message body: a fresh key sealed to `recipients` (every key
/// of both members the author wants to read it) and the encrypted
/// content.
pub fn direct_body(
    chain_id: &ChainId,
    channel: &ChannelId,
    author: &IdentityId,
    recipients: &[(IdentityId, PublicKey)],
    content: &MessageContent,
    rng: &mut impl CryptoRngCore,
) -> Result<MessageBody, ChatCryptoError> {
    let key = ContentKey::random(rng);
    let ciphertext = encrypt_content(&key, chain_id, channel, author, 0, content, rng)?;
    let seals = seal_to(
        &key,
        recipients,
        &direct_key_context(chain_id, channel),
        rng,
    )?;
    Ok(MessageBody::Direct { ciphertext, seals })
}

/// A group message body under the epoch's `key`.
pub fn group_body(
    key: &ContentKey,
    chain_id: &ChainId,
    channel: &ChannelId,
    author: &IdentityId,
    epoch: u32,
    content: &MessageContent,
    rng: &mut impl CryptoRngCore,
) -> Result<MessageBody, ChatCryptoError> {
    let ciphertext = encrypt_content(key, chain_id, channel, author, epoch, content, rng)?;
    Ok(MessageBody::Group { epoch, ciphertext })
}

/// Reads a message body with `secret`. For a group message,
/// `group_key` is the key of the message's epoch (see
/// [`open_seal`] with [`group_key_context`]).
pub fn read_body(
    body: &MessageBody,
    chain_id: &ChainId,
    channel: &ChannelId,
    author: &IdentityId,
    secret: &SecretKey,
    group_key: Option<&ContentKey>,
) -> Result<MessageContent, ChatCryptoError> {
    match body {
        MessageBody::Clear(content) => Ok(content.clone()),
        MessageBody::Direct { ciphertext, seals } => {
            let key = open_seal(seals, secret, &direct_key_context(chain_id, channel))?;
            decrypt_content(&key, chain_id, channel, author, 0, ciphertext)
        }
        MessageBody::Group { epoch, ciphertext } => {
            let key = group_key.ok_or(ChatCryptoError::NotARecipient {
                public_key: secret.public_key(),
            })?;
            decrypt_content(key, chain_id, channel, author, *epoch, ciphertext)
        }
    }
}

// ---- The payload in a transaction ------------------------------------

impl DomainPayload for ChatOperation {
    fn label(&self) -> &'static [u8] {
        b"chat"
    }

    fn validate_stateless(
        &self,
        transaction: &Transaction,
        _params: &NetworkParams,
    ) -> Result<(), PayloadError> {
        self.check(transaction).map_err(PayloadError::Chat)
    }

    /// The form the transaction ID covers: the signature as 64 zero bytes
    /// and, for a channel creation, no seals. A group's epoch-0 key is
    /// sealed in a context naming the channel, whose ID follows from the
    /// transaction ID, so the ID cannot cover those seals; the signature
    /// (over the whole action) does.
    fn without_authorization(&self) -> Payload {
        let mut stripped = self.clone();
        stripped.signature = Signature::default();
        if let ChatAction::CreateChannel { seals, .. } = &mut stripped.action {
            seals.clear();
        }
        Payload::Chat(stripped)
    }
}

/// The ID `transaction` will have once it carries `action` signed by
/// `signer` (what [`sign_into`] returns). A group channel's creator calls
/// it with the seals still empty to learn the channel ID
/// ([`ChannelId::for_transaction`]) the seals' context needs.
pub fn transaction_id_for(
    transaction: &Transaction,
    action: &ChatAction,
    signer: PublicKey,
) -> TransactionId {
    let mut draft = transaction.clone();
    draft.payload = Some(Payload::Chat(ChatOperation::unsigned(
        action.clone(),
        signer,
    )));
    draft.id()
}

/// Puts `action` into `transaction` and signs it with `signer` (an active
/// key of the acting identity). Call after every other field is final
/// and before signing the coin inputs (whose signatures commit to the
/// same ID). Returns the transaction ID, from which the created
/// channel's, message's or news item's ID follows.
pub fn sign_into(
    transaction: &mut Transaction,
    action: ChatAction,
    chain_id: &ChainId,
    signer: &SecretKey,
) -> TransactionId {
    let mut operation = ChatOperation::unsigned(action, signer.public_key());
    transaction.payload = Some(Payload::Chat(operation.clone()));
    let id = transaction.id();
    operation.sign(chain_id, &id, signer);
    transaction.payload = Some(Payload::Chat(operation));
    id
}

#[cfg(test)]
mod tests {
    use rand_core::OsRng;

    use super::*;
    use crate::transaction::CoinInput;

    fn key(seed: u8) -> SecretKey {
        SecretKey::from_seed([seed; 32])
    }

    fn identity(seed: u8) -> IdentityId {
        IdentityId(Hash32([seed; 32]))
    }

    fn paying() -> Transaction {
        let mut transaction = Transaction::new();
        transaction.coin_inputs.push(CoinInput {
            parent_id: crate::types::CoinOutputId(Hash32([1; 32])),
            fulfillment: crate::fulfillment::Fulfillment::Nil,
        });
        transaction
    }

    fn check(action: ChatAction) -> Result<(), ChatPayloadError> {
        ChatOperation::unsigned(action, key(1).public_key()).check(&paying())
    }

    fn clear(text: &str) -> MessageContent {
        MessageContent {
            text: text.into(),
            ..MessageContent::default()
        }
    }

    #[test]
    fn a_direct_message_opens_for_both_members_only() {
        let chain = ChainId::for_network("devnet");
        let channel = ChannelId(Hash32([9; 32]));
        let (alice, bob, eve) = (key(1), key(2), key(3));
        let recipients = [
            (identity(1), alice.public_key()),
            (identity(2), bob.public_key()),
        ];
        let content = clear("meet at noon");
        let body = direct_body(
            &chain,
            &channel,
            &identity(1),
            &recipients,
            &content,
            &mut OsRng,
        )
        .unwrap();
        let encoded = codec::encode(&body);
        assert!(!encoded.windows(12).any(|window| window == b"meet at noon"));
        for reader in [&alice, &bob] {
            assert_eq!(
                read_body(&body, &chain, &channel, &identity(1), reader, None).unwrap(),
                content
            );
        }
        assert_eq!(
            read_body(&body, &chain, &channel, &identity(1), &eve, None),
            Err(ChatCryptoError::NotARecipient {
                public_key: eve.public_key()
            })
        );
        // Another author or channel: the associated data differs.
        assert!(read_body(&body, &chain, &channel, &identity(3), &bob, None).is_err());
        let elsewhere = ChannelId(Hash32([8; 32]));
        assert!(read_body(&body, &chain, &elsewhere, &identity(1), &bob, None).is_err());
    }

    #[test]
    fn a_group_key_opens_in_its_epoch_only() {
        let chain = ChainId::for_network("devnet");
        let channel = ChannelId(Hash32([9; 32]));
        let group_key = ContentKey::random(&mut OsRng);
        let seals = seal_to(
            &group_key,
            &[(identity(2), key(2).public_key())],
            &group_key_context(&chain, &channel, 3),
            &mut OsRng,
        )
        .unwrap();
        let opened = open_seal(&seals, &key(2), &group_key_context(&chain, &channel, 3)).unwrap();
        assert_eq!(opened, group_key);
        assert!(open_seal(&seals, &key(2), &group_key_context(&chain, &channel, 4)).is_err());
        let body = group_body(
            &opened,
            &chain,
            &channel,
            &identity(1),
            3,
            &clear("hello group"),
            &mut OsRng,
        )
        .unwrap();
        assert_eq!(
            read_body(
                &body,
                &chain,
                &channel,
                &identity(1),
                &key(2),
                Some(&opened)
            )
            .unwrap()
            .text,
            "hello group"
        );
        let other = ContentKey::random(&mut OsRng);
        assert!(read_body(&body, &chain, &channel, &identity(1), &key(2), Some(&other)).is_err());
    }

    #[test]
    fn stateless_rules_refuse_bad_shapes() {
        let creator = identity(1);
        // The creator listed, a duplicate, a direct channel with two others.
        assert_eq!(
            check(ChatAction::CreateChannel {
                creator,
                kind: ChannelKind::Broadcast,
                name: "news".into(),
                members: vec![(creator, MemberRole::Reader)],
                seals: vec![],
            }),
            Err(ChatPayloadError::CreatorListed { creator })
        );
        assert_eq!(
            check(ChatAction::CreateChannel {
                creator,
                kind: ChannelKind::Direct,
                name: "dm".into(),
                members: vec![
                    (identity(2), MemberRole::Writer),
                    (identity(3), MemberRole::Writer)
                ],
                seals: vec![],
            }),
            Err(ChatPayloadError::DirectMembers { count: 2 })
        );
        // A group channel must seal its key to every member.
        let group_key = ContentKey::random(&mut OsRng);
        let seals = seal_to(
            &group_key,
            &[(creator, key(1).public_key())],
            b"x",
            &mut OsRng,
        )
        .unwrap();
        assert_eq!(
            check(ChatAction::CreateChannel {
                creator,
                kind: ChannelKind::Group,
                name: "team".into(),
                members: vec![(identity(2), MemberRole::Writer)],
                seals,
            }),
            Err(ChatPayloadError::MissingSeal {
                what: "channel key",
                member: identity(2)
            })
        );
        assert!(matches!(
            check(ChatAction::CreateChannel {
                creator,
                kind: ChannelKind::Group,
                name: "x".repeat(MAX_CHANNEL_NAME_LEN + 1),
                members: vec![],
                seals: vec![],
            }),
            Err(ChatPayloadError::TooLong { .. })
        ));
        // Clear content must declare its buttons; captions are bounded.
        let mut content = clear("vote");
        content.buttons = vec!["yes".into(), "no".into()];
        let post = |buttons: u8, content: MessageContent| ChatAction::Post {
            author: creator,
            channel: ChannelId(Hash32([9; 32])),
            reply_to: None,
            buttons,
            body: MessageBody::Clear(content),
        };
        assert_eq!(check(post(2, content.clone())), Ok(()));
        assert_eq!(
            check(post(1, content.clone())),
            Err(ChatPayloadError::ButtonCount {
                declared: 1,
                actual: 2
            })
        );
        content.buttons.push("a\ncaption".into());
        assert!(matches!(
            check(post(3, content)),
            Err(ChatPayloadError::ControlCharacter { .. })
        ));
        assert_eq!(
            check(post(0, clear(" "))),
            Err(ChatPayloadError::Empty {
                what: "message (no text, no attachment)"
            })
        );
        // Receipts: not empty, no duplicates.
        let message = MessageId(Hash32([5; 32]));
        assert_eq!(
            check(ChatAction::Receipts {
                member: creator,
                channel: ChannelId(Hash32([9; 32])),
                receipts: vec![
                    Receipt {
                        message,
                        status: ReceiptStatus::Read
                    };
                    2
                ],
            }),
            Err(ChatPayloadError::DuplicateReceipt { message })
        );
        // News: title bounds, at most three buttons.
        let news = NewsContent {
            title: "Road works".into(),
            buttons: vec!["a".into(), "b".into(), "c".into(), "d".into()],
            ..NewsContent::default()
        };
        assert!(matches!(
            check(ChatAction::PublishNews {
                author: creator,
                channel: ChannelId(Hash32([9; 32])),
                news,
            }),
            Err(ChatPayloadError::TooMany {
                what: "news buttons",
                ..
            })
        ));
        // No coin input: refused.
        let operation = ChatOperation::unsigned(
            ChatAction::SealMessage {
                actor: creator,
                channel: ChannelId(Hash32([9; 32])),
                message,
            },
            key(1).public_key(),
        );
        assert_eq!(
            operation.check(&Transaction::new()),
            Err(ChatPayloadError::NoCoinInputs {
                action: "seal_message"
            })
        );
    }

    #[test]
    fn the_signature_commits_to_chain_transaction_and_action() {
        let chain = ChainId::for_network("devnet");
        let transaction = TransactionId(Hash32([4; 32]));
        let action = ChatAction::SealMessage {
            actor: identity(1),
            channel: ChannelId(Hash32([9; 32])),
            message: MessageId(Hash32([5; 32])),
        };
        let mut operation = ChatOperation::unsigned(action, key(1).public_key());
        operation.sign(&chain, &transaction, &key(1));
        let message = operation.signing_message(&chain, &transaction);
        assert!(
            crate::crypto::verify_signature(
                &operation.signer,
                message.as_bytes(),
                &operation.signature
            )
            .is_ok()
        );
        assert_ne!(
            message,
            operation.signing_message(&ChainId::for_network("testnet"), &transaction)
        );
        assert_ne!(
            message,
            operation.signing_message(&chain, &TransactionId(Hash32([5; 32])))
        );
    }
}
