//! The chat domain's consensus state: only what validity needs.
//!
//! * channels: kind, current group-key epoch, member and admin counts;
//! * members of each channel and their roles;
//! * messages: channel, author, number of buttons, sealed or not (so
//!   replies, receipts, answers and seals can be checked);
//! * live news items: channel and author (so updates and withdrawals can
//!   be checked).
//!
//! Message content and sealed keys are not state: they travel in the
//! events (`events`) to the read model. Like the identity domain, the
//! state is one ordered map of [`StateKey`] → [`StateValue`] and a
//! transaction's change ([`ChatChange`]) lists writes with the values
//! before and after, so `apply` and `revert` are exact inverses. The
//! stateful rules are in [`rules`].

mod domain;
pub mod events;
pub mod rules;

use ledger::codec;
use ledger::payload::chat::{ChannelId, ChannelKind, MemberRole, MessageId, NewsId};
use ledger::{Hash32, IdentityId};

use super::kv::{self, Entries};
use crate::state::DomainError;

pub use events::{ChatEvent, DOMAIN};
pub use rules::{ChatRuleError, prepare};

/// A channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct ChannelRecord {
    pub kind: ChannelKind,
    /// The current group-key epoch (0 for other kinds).
    pub epoch: u32,
    pub members: u32,
    pub admins: u32,
}

/// A message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct MessageRecord {
    pub channel: ChannelId,
    pub author: IdentityId,
    pub buttons: u8,
    pub sealed: bool,
}

/// A live news item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct NewsRecord {
    pub channel: ChannelId,
    pub author: IdentityId,
}

/// Where a value lives in the chat state.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, bincode::Encode, bincode::Decode)]
pub enum StateKey {
    Channel(ChannelId),
    Member(ChannelId, IdentityId),
    Message(MessageId),
    News(NewsId),
}

/// A value of the chat state; each [`StateKey`] kind holds one kind.
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub enum StateValue {
    Channel(ChannelRecord),
    Role(MemberRole),
    Message(MessageRecord),
    News(NewsRecord),
}

/// One write of a change: `key` goes from `before` to `after`.
pub type Write = kv::Write<StateKey, StateValue>;

/// What one chat operation changes (canonically encoded as the opaque
/// bytes of a domain change).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, bincode::Encode, bincode::Decode)]
pub struct ChatChange {
    pub writes: Vec<Write>,
}

/// The chat domain's consensus state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChatState {
    entries: Entries<StateKey, StateValue>,
}

fn domain_error(message: String) -> DomainError {
    DomainError {
        domain: DOMAIN,
        message,
    }
}

impl ChatState {
    pub fn channel(&self, channel: &ChannelId) -> Option<ChannelRecord> {
        match self.entries.get(&StateKey::Channel(*channel)) {
            Some(StateValue::Channel(record)) => Some(*record),
            _ => None,
        }
    }

    /// `member`'s role in `channel`, if a member.
    pub fn role(&self, channel: &ChannelId, member: &IdentityId) -> Option<MemberRole> {
        match self.entries.get(&StateKey::Member(*channel, *member)) {
            Some(StateValue::Role(role)) => Some(*role),
            _ => None,
        }
    }

    /// The members of `channel` with their roles, by identity.
    pub fn members(&self, channel: &ChannelId) -> Vec<(IdentityId, MemberRole)> {
        let start = StateKey::Member(*channel, IdentityId(Hash32::ZERO));
        self.entries
            .range(start..)
            .map_while(|(key, value)| match (key, value) {
                (StateKey::Member(of, member), StateValue::Role(role)) if of == channel => {
                    Some((*member, *role))
                }
                _ => None,
            })
            .collect()
    }

    pub fn message(&self, message: &MessageId) -> Option<MessageRecord> {
        match self.entries.get(&StateKey::Message(*message)) {
            Some(StateValue::Message(record)) => Some(*record),
            _ => None,
        }
    }

    pub fn news(&self, item: &NewsId) -> Option<NewsRecord> {
        match self.entries.get(&StateKey::News(*item)) {
            Some(StateValue::News(record)) => Some(*record),
            _ => None,
        }
    }

    fn decode_change(change: &[u8]) -> Result<ChatChange, DomainError> {
        codec::decode(change)
            .map_err(|error| domain_error(format!("undecodable chat change: {error}")))
    }

    /// Applies a change [`prepare`] returned.
    pub fn apply_change(&mut self, change: &[u8]) -> Result<(), DomainError> {
        let change = Self::decode_change(change)?;
        self.entries.apply(&change.writes, DOMAIN)
    }

    /// Undoes a change applied by [`Self::apply_change`].
    pub fn revert_change(&mut self, change: &[u8]) -> Result<(), DomainError> {
        let change = Self::decode_change(change)?;
        self.entries.revert(&change.writes, DOMAIN)
    }

    /// A hash of the whole state in a deterministic order.
    pub fn state_commitment(&self) -> Hash32 {
        self.entries.commitment(DOMAIN)
    }
}
