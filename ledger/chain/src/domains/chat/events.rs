//! The chat domain's events. Each is published as
//! [`crate::events::EventBody::Domain`] with `domain = "chat"`,
//! `kind = `[`ChatEvent::kind`] and `data` = the canonical encoding of
//! the whole [`ChatEvent`] ([`ChatEvent::decode`] reads it). A private
//! message's event carries its ciphertext and sealed keys only.

use ledger::codec::{self, DecodeError};
use ledger::payload::chat::{
    ChannelId, ChannelKind, MemberRole, MemberSeal, MessageBody, MessageId, NewsContent, NewsId,
    Receipt,
};
use ledger::{IdentityId, PublicKey};

/// The domain name events are published under.
pub const DOMAIN: &str = "chat";

/// One change of the chat domain. The encoded tag is the variant index:
/// append only.
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub enum ChatEvent {
    /// `members` includes the creator with its role.
    ChannelCreated {
        channel: ChannelId,
        creator: IdentityId,
        kind: ChannelKind,
        name: String,
        members: Vec<(IdentityId, MemberRole)>,
    },
    MemberAdded {
        channel: ChannelId,
        actor: IdentityId,
        member: IdentityId,
        role: MemberRole,
    },
    MemberRemoved {
        channel: ChannelId,
        actor: IdentityId,
        member: IdentityId,
    },
    RoleChanged {
        channel: ChannelId,
        actor: IdentityId,
        member: IdentityId,
        role: MemberRole,
    },
    /// Keys of a group epoch sealed to members: all members when an
    /// epoch starts (`started`), the added member otherwise.
    GroupKeySealed {
        channel: ChannelId,
        epoch: u32,
        started: bool,
        seals: Vec<MemberSeal>,
    },
    MessagePosted {
        channel: ChannelId,
        message: MessageId,
        author: IdentityId,
        signer: PublicKey,
        reply_to: Option<MessageId>,
        buttons: u8,
        body: MessageBody,
    },
    ReceiptsRecorded {
        channel: ChannelId,
        member: IdentityId,
        receipts: Vec<Receipt>,
    },
    MessageSealed {
        channel: ChannelId,
        message: MessageId,
        actor: IdentityId,
    },
    NewsPublished {
        channel: ChannelId,
        item: NewsId,
        author: IdentityId,
        news: NewsContent,
    },
    NewsUpdated {
        channel: ChannelId,
        item: NewsId,
        actor: IdentityId,
        news: NewsContent,
    },
    NewsWithdrawn {
        channel: ChannelId,
        item: NewsId,
        actor: IdentityId,
    },
}

impl ChatEvent {
    pub const fn kind(&self) -> &'static str {
        match self {
            ChatEvent::ChannelCreated { .. } => "channel_created",
            ChatEvent::MemberAdded { .. } => "member_added",
            ChatEvent::MemberRemoved { .. } => "member_removed",
            ChatEvent::RoleChanged { .. } => "role_changed",
            ChatEvent::GroupKeySealed { .. } => "group_key_sealed",
            ChatEvent::MessagePosted { .. } => "message_posted",
            ChatEvent::ReceiptsRecorded { .. } => "receipts_recorded",
            ChatEvent::MessageSealed { .. } => "message_sealed",
            ChatEvent::NewsPublished { .. } => "news_published",
            ChatEvent::NewsUpdated { .. } => "news_updated",
            ChatEvent::NewsWithdrawn { .. } => "news_withdrawn",
        }
    }

    /// The channel the event belongs to.
    pub const fn channel(&self) -> &ChannelId {
        match self {
            ChatEvent::ChannelCreated { channel, .. }
            | ChatEvent::MemberAdded { channel, .. }
            | ChatEvent::MemberRemoved { channel, .. }
            | ChatEvent::RoleChanged { channel, .. }
            | ChatEvent::GroupKeySealed { channel, .. }
            | ChatEvent::MessagePosted { channel, .. }
            | ChatEvent::ReceiptsRecorded { channel, .. }
            | ChatEvent::MessageSealed { channel, .. }
            | ChatEvent::NewsPublished { channel, .. }
            | ChatEvent::NewsUpdated { channel, .. }
            | ChatEvent::NewsWithdrawn { channel, .. } => channel,
        }
    }

    /// The `(kind, data)` pair of a domain change.
    pub fn to_domain_event(&self) -> (String, Vec<u8>) {
        (self.kind().to_owned(), codec::encode(self))
    }

    /// Reads an event's `data` (strict canonical decoding).
    pub fn decode(data: &[u8]) -> Result<ChatEvent, DecodeError> {
        codec::decode(data)
    }
}
