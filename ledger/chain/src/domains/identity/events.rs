//! The identity domain's events. Each is published as
//! [`crate::events::EventBody::Domain`] with `domain = "identity"`,
//! `kind = `[`IdentityEvent::kind`] and `data` = the canonical encoding
//! of the whole [`IdentityEvent`] ([`IdentityEvent::decode`] reads it).
//! Read models fold these; they never carry an attribute's value, only
//! its commitment.

use ledger::codec::{self, DecodeError};
use ledger::payload::identity::{AttributeLabel, IdentityName, OrganizationPath, Role, Subject};
use ledger::{AttributeCommitment, IdentityId, OrganizationId, PublicKey};

/// The domain name events are published under.
pub const DOMAIN: &str = "identity";

/// How an invitation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub enum InvitationOutcome {
    Accepted,
    /// By the subject (or an owner of the subject organization).
    Rejected,
    /// By an owner of the inviting organization.
    Cancelled,
}

impl InvitationOutcome {
    pub const fn name(self) -> &'static str {
        match self {
            InvitationOutcome::Accepted => "accepted",
            InvitationOutcome::Rejected => "rejected",
            InvitationOutcome::Cancelled => "cancelled",
        }
    }
}

/// One change of the identity domain. The encoded tag is the variant
/// index: append only.
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub enum IdentityEvent {
    IdentityRegistered {
        identity: IdentityId,
        name: IdentityName,
        public_key: PublicKey,
    },
    KeyAdded {
        identity: IdentityId,
        public_key: PublicKey,
    },
    /// `old_key` is retired (it can never act again), `new_key` active.
    KeyRotated {
        identity: IdentityId,
        old_key: PublicKey,
        new_key: PublicKey,
    },
    KeyRevoked {
        identity: IdentityId,
        public_key: PublicKey,
    },
    AttributeAdded {
        identity: IdentityId,
        label: AttributeLabel,
        commitment: AttributeCommitment,
    },
    /// The attribute and every attestation of it are gone; `verifiers`
    /// lists the attestations removed with it.
    AttributeRemoved {
        identity: IdentityId,
        label: AttributeLabel,
        commitment: AttributeCommitment,
        verifiers: Vec<IdentityId>,
    },
    AttributeAttested {
        subject: IdentityId,
        label: AttributeLabel,
        verifier: IdentityId,
        commitment: AttributeCommitment,
    },
    AttestationRevoked {
        subject: IdentityId,
        label: AttributeLabel,
        verifier: IdentityId,
    },
    OrganizationCreated {
        organization: OrganizationId,
        path: OrganizationPath,
        parent: Option<OrganizationId>,
        creator: IdentityId,
    },
    /// A pending invitation (replacing an earlier one for the subject).
    MemberInvited {
        organization: OrganizationId,
        subject: Subject,
        role: Role,
        by: IdentityId,
    },
    InvitationResolved {
        organization: OrganizationId,
        subject: Subject,
        role: Role,
        outcome: InvitationOutcome,
        by: IdentityId,
    },
    /// `subject` now holds `role` (replacing `previous`, if it held one).
    RoleGranted {
        organization: OrganizationId,
        subject: Subject,
        role: Role,
        previous: Option<Role>,
        by: IdentityId,
    },
    RoleRevoked {
        organization: OrganizationId,
        subject: Subject,
        role: Role,
        by: IdentityId,
    },
    /// A vouch (replacing an earlier one by the same voucher).
    Vouched {
        voucher: IdentityId,
        target: IdentityId,
        weight: u8,
        claim: Option<String>,
    },
    VouchWithdrawn {
        voucher: IdentityId,
        target: IdentityId,
    },
    /// The organization may see these attributes (replacing an earlier grant).
    AuthorizationGranted {
        identity: IdentityId,
        organization: OrganizationId,
        scopes: Vec<AttributeLabel>,
    },
    AuthorizationRevoked {
        identity: IdentityId,
        organization: OrganizationId,
    },
}

impl IdentityEvent {
    /// The `kind` string the event is published with.
    pub const fn kind(&self) -> &'static str {
        match self {
            IdentityEvent::IdentityRegistered { .. } => "identity_registered",
            IdentityEvent::KeyAdded { .. } => "key_added",
            IdentityEvent::KeyRotated { .. } => "key_rotated",
            IdentityEvent::KeyRevoked { .. } => "key_revoked",
            IdentityEvent::AttributeAdded { .. } => "attribute_added",
            IdentityEvent::AttributeRemoved { .. } => "attribute_removed",
            IdentityEvent::AttributeAttested { .. } => "attribute_attested",
            IdentityEvent::AttestationRevoked { .. } => "attestation_revoked",
            IdentityEvent::OrganizationCreated { .. } => "organization_created",
            IdentityEvent::MemberInvited { .. } => "member_invited",
            IdentityEvent::InvitationResolved { .. } => "invitation_resolved",
            IdentityEvent::RoleGranted { .. } => "role_granted",
            IdentityEvent::RoleRevoked { .. } => "role_revoked",
            IdentityEvent::Vouched { .. } => "vouched",
            IdentityEvent::VouchWithdrawn { .. } => "vouch_withdrawn",
            IdentityEvent::AuthorizationGranted { .. } => "authorization_granted",
            IdentityEvent::AuthorizationRevoked { .. } => "authorization_revoked",
        }
    }

    /// The `(kind, data)` pair of a domain change.
    pub fn to_domain_event(&self) -> (String, Vec<u8>) {
        (self.kind().to_owned(), codec::encode(self))
    }

    /// Reads an event's `data` (strict canonical decoding).
    pub fn decode(data: &[u8]) -> Result<IdentityEvent, DecodeError> {
        codec::decode(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger::Hash32;

    #[test]
    fn events_round_trip_with_their_kind() {
        let event = IdentityEvent::Vouched {
            voucher: IdentityId(Hash32([1; 32])),
            target: IdentityId(Hash32([2; 32])),
            weight: 7,
            claim: Some("colleague".into()),
        };
        let (kind, data) = event.to_domain_event();
        assert_eq!(kind, "vouched");
        assert_eq!(IdentityEvent::decode(&data), Ok(event));
        assert!(IdentityEvent::decode(&data[..data.len() - 1]).is_err());
    }
}
