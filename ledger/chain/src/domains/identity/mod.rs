//! The identity domain's consensus state: only what validity needs.
//!
//! * names → identity, identity → name and number of active keys;
//! * every key ever bound → its identity and status (active, retired,
//!   revoked); a key belongs to at most one identity, ever;
//! * attributes (label → commitment) and attestations (who attested
//!   which commitment), so removals and revocations can be checked;
//! * organizations (path ↔ ID, parent), roles, pending invitations;
//! * vouches and authorizations, so withdrawals and revocations can be
//!   checked.
//!
//! The state is one ordered map of [`StateKey`] → [`StateValue`]. A
//! transaction's change ([`IdentityChange`]) is a list of writes that
//! each record the value before and after, so `apply` and `revert` are
//! exact inverses and check that the state is what the change expects.
//! The stateful rules are in [`rules`], the published events in
//! [`events`].

pub mod events;
pub mod rules;

use std::any::Any;
use std::collections::BTreeSet;

use ledger::codec;
use ledger::payload::Payload;
use ledger::payload::identity::{AttributeLabel, IdentityName, OrganizationPath, Role, Subject};
use ledger::{AttributeCommitment, Hash32, IdentityId, OrganizationId, PublicKey, Transaction};

use super::kv::{self, Entries};
use crate::state::{DomainChange, DomainContext, DomainError, DomainState};

pub use events::{DOMAIN, IdentityEvent, InvitationOutcome};
pub use rules::IdentityRuleError;

/// Most active keys one identity may hold at once.
pub const MAX_ACTIVE_KEYS: u32 = 16;

/// Whether a key may act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub enum KeyStatus {
    Active,
    /// Replaced by a rotation: it can no longer act.
    Retired,
    /// Revoked: it can never act again.
    Revoked,
}

impl KeyStatus {
    pub const fn name(self) -> &'static str {
        match self {
            KeyStatus::Active => "active",
            KeyStatus::Retired => "retired",
            KeyStatus::Revoked => "revoked",
        }
    }
}

/// A key and the identity it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct KeyRecord {
    pub identity: IdentityId,
    pub status: KeyStatus,
}

/// An identity.
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct IdentityRecord {
    pub name: IdentityName,
    pub active_keys: u32,
}

/// An organization.
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct OrganizationRecord {
    pub path: OrganizationPath,
    pub parent: Option<OrganizationId>,
}

/// Where a value lives in the identity state.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, bincode::Encode, bincode::Decode)]
pub enum StateKey {
    Name(IdentityName),
    Identity(IdentityId),
    Key(PublicKey),
    Attribute(IdentityId, AttributeLabel),
    /// (subject, label, verifier).
    Attestation(IdentityId, AttributeLabel, IdentityId),
    OrganizationPath(OrganizationPath),
    Organization(OrganizationId),
    Role(OrganizationId, Subject),
    Invitation(OrganizationId, Subject),
    /// (voucher, target).
    Vouch(IdentityId, IdentityId),
    /// (granting identity, organization).
    Authorization(IdentityId, OrganizationId),
}

/// A value of the identity state; each [`StateKey`] kind holds one kind.
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub enum StateValue {
    /// Of `Name`.
    IdentityId(IdentityId),
    /// Of `Identity`.
    Identity(IdentityRecord),
    /// Of `Key`.
    Key(KeyRecord),
    /// Of `Attribute` and `Attestation`.
    Commitment(AttributeCommitment),
    /// Of `OrganizationPath`.
    OrganizationId(OrganizationId),
    /// Of `Organization`.
    Organization(OrganizationRecord),
    /// Of `Role` and `Invitation`.
    Role(Role),
    /// Of `Vouch`.
    Vouch { weight: u8, claim: Option<String> },
    /// Of `Authorization`.
    Scopes(Vec<AttributeLabel>),
}

/// One write of a change: `key` goes from `before` to `after`.
pub type Write = kv::Write<StateKey, StateValue>;

/// What one identity operation changes (the opaque bytes of
/// [`DomainChange::change`], canonically encoded).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, bincode::Encode, bincode::Decode)]
pub struct IdentityChange {
    pub writes: Vec<Write>,
}

/// The identity domain's consensus state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdentityState {
    entries: Entries<StateKey, StateValue>,
}

fn domain_error(message: String) -> DomainError {
    DomainError {
        domain: DOMAIN,
        message,
    }
}

impl IdentityState {
    /// The identity holding `name`.
    pub fn identity_by_name(&self, name: &IdentityName) -> Option<IdentityId> {
        match self.entries.get(&StateKey::Name(name.clone())) {
            Some(StateValue::IdentityId(id)) => Some(*id),
            _ => None,
        }
    }

    pub fn identity(&self, identity: &IdentityId) -> Option<&IdentityRecord> {
        match self.entries.get(&StateKey::Identity(*identity)) {
            Some(StateValue::Identity(record)) => Some(record),
            _ => None,
        }
    }

    /// The identity and status of a key (any key ever bound).
    pub fn key(&self, public_key: &PublicKey) -> Option<KeyRecord> {
        match self.entries.get(&StateKey::Key(*public_key)) {
            Some(StateValue::Key(record)) => Some(*record),
            _ => None,
        }
    }

    /// Whether `public_key` may act for `identity` now.
    pub fn is_active_key(&self, identity: &IdentityId, public_key: &PublicKey) -> bool {
        self.key(public_key).is_some_and(|record| {
            record.identity == *identity && record.status == KeyStatus::Active
        })
    }

    pub fn attribute(
        &self,
        identity: &IdentityId,
        label: &AttributeLabel,
    ) -> Option<AttributeCommitment> {
        match self
            .entries
            .get(&StateKey::Attribute(*identity, label.clone()))
        {
            Some(StateValue::Commitment(commitment)) => Some(*commitment),
            _ => None,
        }
    }

    pub fn attestation(
        &self,
        subject: &IdentityId,
        label: &AttributeLabel,
        verifier: &IdentityId,
    ) -> Option<AttributeCommitment> {
        match self
            .entries
            .get(&StateKey::Attestation(*subject, label.clone(), *verifier))
        {
            Some(StateValue::Commitment(commitment)) => Some(*commitment),
            _ => None,
        }
    }

    /// The verifiers that attested `subject`'s attribute `label`.
    pub fn attesters(&self, subject: &IdentityId, label: &AttributeLabel) -> Vec<IdentityId> {
        let from = StateKey::Attestation(*subject, label.clone(), IdentityId(Hash32::ZERO));
        self.entries
            .range(from..)
            .map_while(|(key, _)| match key {
                StateKey::Attestation(s, l, verifier) if s == subject && l == label => {
                    Some(*verifier)
                }
                _ => None,
            })
            .collect()
    }

    pub fn organization_by_path(&self, path: &OrganizationPath) -> Option<OrganizationId> {
        match self.entries.get(&StateKey::OrganizationPath(path.clone())) {
            Some(StateValue::OrganizationId(id)) => Some(*id),
            _ => None,
        }
    }

    pub fn organization(&self, organization: &OrganizationId) -> Option<&OrganizationRecord> {
        match self.entries.get(&StateKey::Organization(*organization)) {
            Some(StateValue::Organization(record)) => Some(record),
            _ => None,
        }
    }

    /// The role `subject` holds directly in `organization`.
    pub fn role(&self, organization: &OrganizationId, subject: &Subject) -> Option<Role> {
        match self.entries.get(&StateKey::Role(*organization, *subject)) {
            Some(StateValue::Role(role)) => Some(*role),
            _ => None,
        }
    }

    /// Every direct role holder of `organization`, in key order.
    pub fn roles(&self, organization: &OrganizationId) -> Vec<(Subject, Role)> {
        let from = StateKey::Role(*organization, Subject::Identity(IdentityId(Hash32::ZERO)));
        self.entries
            .range(from..)
            .map_while(|(key, value)| match (key, value) {
                (StateKey::Role(org, subject), StateValue::Role(role)) if org == organization => {
                    Some((*subject, *role))
                }
                _ => None,
            })
            .collect()
    }

    /// The role a pending invitation offers `subject`.
    pub fn invitation(&self, organization: &OrganizationId, subject: &Subject) -> Option<Role> {
        match self
            .entries
            .get(&StateKey::Invitation(*organization, *subject))
        {
            Some(StateValue::Role(role)) => Some(*role),
            _ => None,
        }
    }

    /// The weight and claim of `voucher`'s vouch for `target`.
    pub fn vouch(&self, voucher: &IdentityId, target: &IdentityId) -> Option<(u8, Option<&str>)> {
        match self.entries.get(&StateKey::Vouch(*voucher, *target)) {
            Some(StateValue::Vouch { weight, claim }) => Some((*weight, claim.as_deref())),
            _ => None,
        }
    }

    /// The scopes `identity` granted `organization`.
    pub fn authorization(
        &self,
        identity: &IdentityId,
        organization: &OrganizationId,
    ) -> Option<&[AttributeLabel]> {
        match self
            .entries
            .get(&StateKey::Authorization(*identity, *organization))
        {
            Some(StateValue::Scopes(scopes)) => Some(scopes),
            _ => None,
        }
    }

    /// Whether `identity` owns `organization`: it (or an organization it
    /// owns, recursively) holds the owner role in `organization` or in
    /// any organization above it.
    pub fn is_owner(&self, identity: &IdentityId, organization: &OrganizationId) -> bool {
        self.owns(identity, organization, &mut BTreeSet::new())
    }

    fn owns(
        &self,
        identity: &IdentityId,
        organization: &OrganizationId,
        visited: &mut BTreeSet<OrganizationId>,
    ) -> bool {
        // Each organization is explored once: ends cycles of
        // organizations owning each other.
        if !visited.insert(*organization) {
            return false;
        }
        let mut current = Some(*organization);
        while let Some(org) = current {
            for (subject, role) in self.roles(&org) {
                if role != Role::Owner {
                    continue;
                }
                let owns = match subject {
                    Subject::Identity(holder) => holder == *identity,
                    Subject::Organization(owner) => self.owns(identity, &owner, visited),
                };
                if owns {
                    return true;
                }
            }
            current = self.organization(&org).and_then(|record| record.parent);
        }
        false
    }

    /// Whether `identity` is a member of `organization`: an owner, or it
    /// (or an organization it is a member of, recursively) holds a role
    /// in `organization` directly.
    pub fn is_member(&self, identity: &IdentityId, organization: &OrganizationId) -> bool {
        self.is_owner(identity, organization)
            || self.member_of(identity, organization, &mut BTreeSet::new())
    }

    fn member_of(
        &self,
        identity: &IdentityId,
        organization: &OrganizationId,
        visited: &mut BTreeSet<OrganizationId>,
    ) -> bool {
        if !visited.insert(*organization) {
            return false;
        }
        self.roles(organization)
            .into_iter()
            .any(|(subject, _)| match subject {
                Subject::Identity(holder) => holder == *identity,
                Subject::Organization(member) => {
                    self.is_owner(identity, &member) || self.member_of(identity, &member, visited)
                }
            })
    }

    fn decode_change(change: &[u8]) -> Result<IdentityChange, DomainError> {
        codec::decode(change)
            .map_err(|error| domain_error(format!("undecodable identity change: {error}")))
    }
}

impl DomainState for IdentityState {
    fn name(&self) -> &'static str {
        DOMAIN
    }

    fn prepare(
        &self,
        transaction: &Transaction,
        context: &DomainContext<'_>,
    ) -> Result<Option<DomainChange>, DomainError> {
        let Some(Payload::Identity(operation)) = &transaction.payload else {
            return Ok(None);
        };
        let prepared = rules::prepare(self, operation, context)
            .map_err(|error| domain_error(error.to_string()))?;
        Ok(Some(prepared))
    }

    fn apply(&mut self, change: &[u8]) -> Result<(), DomainError> {
        let change = Self::decode_change(change)?;
        self.entries.apply(&change.writes, DOMAIN)
    }

    fn revert(&mut self, change: &[u8]) -> Result<(), DomainError> {
        let change = Self::decode_change(change)?;
        self.entries.revert(&change.writes, DOMAIN)
    }

    fn commitment(&self) -> Hash32 {
        self.entries.commitment(DOMAIN)
    }

    fn clone_box(&self) -> Box<dyn DomainState> {
        Box::new(self.clone())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
