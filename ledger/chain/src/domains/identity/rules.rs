//! The identity domain's stateful rules: [`prepare`] checks one
//! operation against the state (which already holds the block's earlier
//! transactions) and returns the writes, events and signatures of its
//! change, or the rule it breaks.
//!
//! Every operation but a registration names its acting identity, which
//! must exist and whose signer key must be active. A registration's
//! signer is the key it registers. Both signatures (actor, and new key
//! for add/rotate) are returned for the block's batch; nothing is
//! verified here.

use ledger::payload::identity::{
    AttributeLabel, IdentityAction, IdentityName, IdentityOperation, OrganizationPath, Role,
    SignerRole, Subject,
};
use ledger::{AttributeCommitment, IdentityId, OrganizationId, PublicKey};
use thiserror::Error;

use super::events::{IdentityEvent, InvitationOutcome};
use super::{
    IdentityChange, IdentityRecord, IdentityState, KeyRecord, KeyStatus, MAX_ACTIVE_KEYS,
    OrganizationRecord, StateKey, StateValue, Write,
};
use crate::state::{DomainChange, DomainCoins, DomainContext, DomainSignature};

/// Why an identity operation breaks a stateful rule.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdentityRuleError {
    #[error("name {name} is already taken by identity {identity}")]
    NameTaken {
        name: IdentityName,
        identity: IdentityId,
    },
    #[error("key {public_key} already belongs to identity {identity} (keys are never reused)")]
    KeyInUse {
        public_key: PublicKey,
        identity: IdentityId,
    },
    #[error("identity {identity} does not exist")]
    UnknownIdentity { identity: IdentityId },
    #[error("key {public_key} belongs to no identity")]
    UnknownKey { public_key: PublicKey },
    #[error("key {public_key} belongs to identity {owner}, not to {identity}")]
    KeyOfOtherIdentity {
        public_key: PublicKey,
        identity: IdentityId,
        owner: IdentityId,
    },
    #[error("key {public_key} of identity {identity} is {} and cannot act", .status.name())]
    KeyNotActive {
        public_key: PublicKey,
        identity: IdentityId,
        status: KeyStatus,
    },
    #[error("key {public_key} of identity {identity} is already revoked")]
    KeyAlreadyRevoked {
        public_key: PublicKey,
        identity: IdentityId,
    },
    #[error("key {public_key} is the last active key of identity {identity}; rotate it instead")]
    LastActiveKey {
        public_key: PublicKey,
        identity: IdentityId,
    },
    #[error("identity {identity} already has {MAX_ACTIVE_KEYS} active keys")]
    TooManyKeys { identity: IdentityId },
    #[error("identity {identity} already has an attribute labelled {label}; remove it first")]
    AttributeExists {
        identity: IdentityId,
        label: AttributeLabel,
    },
    #[error("identity {identity} has no attribute labelled {label}")]
    NoSuchAttribute {
        identity: IdentityId,
        label: AttributeLabel,
    },
    #[error(
        "identity {identity}'s attribute {label} has commitment {current}, not the attested {attested}"
    )]
    CommitmentMismatch {
        identity: IdentityId,
        label: AttributeLabel,
        current: AttributeCommitment,
        attested: AttributeCommitment,
    },
    #[error("identity {verifier} already attested {subject}'s attribute {label}")]
    AlreadyAttested {
        subject: IdentityId,
        label: AttributeLabel,
        verifier: IdentityId,
    },
    #[error("identity {verifier} has no attestation of {subject}'s attribute {label}")]
    NoSuchAttestation {
        subject: IdentityId,
        label: AttributeLabel,
        verifier: IdentityId,
    },
    #[error("organization {path} already exists ({organization})")]
    OrganizationExists {
        path: OrganizationPath,
        organization: OrganizationId,
    },
    #[error("organization {path} needs its parent {parent}, which does not exist")]
    UnknownParent {
        path: OrganizationPath,
        parent: OrganizationPath,
    },
    #[error("organization {organization} does not exist")]
    UnknownOrganization { organization: OrganizationId },
    #[error("identity {identity} does not own organization {path} (nor any organization above it)")]
    NotOwner {
        identity: IdentityId,
        path: OrganizationPath,
    },
    #[error("identity {identity} cannot act for {subject:?}")]
    CannotActFor {
        identity: IdentityId,
        subject: Subject,
    },
    #[error("organization {organization} cannot hold a role in itself")]
    SelfRole { organization: OrganizationId },
    #[error("{subject:?} already holds the {} role in organization {path}", .role.name())]
    AlreadyHoldsRole {
        path: OrganizationPath,
        subject: Subject,
        role: Role,
    },
    #[error("organization {path} has no pending invitation for {subject:?}")]
    NoSuchInvitation {
        path: OrganizationPath,
        subject: Subject,
    },
    #[error("{subject:?} holds no role in organization {path}")]
    NoRole {
        path: OrganizationPath,
        subject: Subject,
    },
    #[error("{subject:?} is the last owner of top-level organization {path}")]
    LastOwner {
        path: OrganizationPath,
        subject: Subject,
    },
    #[error("identity {voucher} does not vouch for {target}")]
    NoSuchVouch {
        voucher: IdentityId,
        target: IdentityId,
    },
    #[error("identity {identity} granted organization {organization} no authorization")]
    NoSuchAuthorization {
        identity: IdentityId,
        organization: OrganizationId,
    },
}

type RuleResult<T> = Result<T, IdentityRuleError>;

/// A change under construction: reads see earlier writes of the same
/// change.
struct Draft<'s> {
    state: &'s IdentityState,
    writes: Vec<Write>,
    events: Vec<IdentityEvent>,
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
        self.writes.push(Write { key, before, after });
    }

    fn event(&mut self, event: IdentityEvent) {
        self.events.push(event);
    }
}

/// Checks `operation` against `state` and returns its change.
pub fn prepare(
    state: &IdentityState,
    operation: &IdentityOperation,
    context: &DomainContext<'_>,
) -> RuleResult<DomainChange> {
    let mut draft = Draft {
        state,
        writes: Vec::new(),
        events: Vec::new(),
    };
    if let Some(actor) = operation.action.actor() {
        check_actor(state, &actor, &operation.signer)?;
    }
    let transaction_id = context.transaction_id;
    match &operation.action {
        IdentityAction::Register { name, public_key } => {
            if let Some(identity) = state.identity_by_name(name) {
                return Err(IdentityRuleError::NameTaken {
                    name: name.clone(),
                    identity,
                });
            }
            check_key_unused(state, public_key)?;
            let identity = IdentityId::for_registration(transaction_id);
            draft.set(
                StateKey::Name(name.clone()),
                Some(StateValue::IdentityId(identity)),
            );
            draft.set(
                StateKey::Identity(identity),
                Some(StateValue::Identity(IdentityRecord {
                    name: name.clone(),
                    active_keys: 1,
                })),
            );
            draft.set(StateKey::Key(*public_key), Some(active_key(identity)));
            draft.event(IdentityEvent::IdentityRegistered {
                identity,
                name: name.clone(),
                public_key: *public_key,
            });
        }
        IdentityAction::AddKey {
            identity,
            public_key,
        } => {
            check_key_unused(state, public_key)?;
            let mut record = identity_record(state, identity)?;
            if record.active_keys >= MAX_ACTIVE_KEYS {
                return Err(IdentityRuleError::TooManyKeys {
                    identity: *identity,
                });
            }
            record.active_keys += 1;
            draft.set(
                StateKey::Identity(*identity),
                Some(StateValue::Identity(record)),
            );
            draft.set(StateKey::Key(*public_key), Some(active_key(*identity)));
            draft.event(IdentityEvent::KeyAdded {
                identity: *identity,
                public_key: *public_key,
            });
        }
        IdentityAction::RotateKey {
            identity,
            old_key,
            new_key,
        } => {
            let old = key_of(state, identity, old_key)?;
            if old.status != KeyStatus::Active {
                return Err(IdentityRuleError::KeyNotActive {
                    public_key: *old_key,
                    identity: *identity,
                    status: old.status,
                });
            }
            check_key_unused(state, new_key)?;
            draft.set(
                StateKey::Key(*old_key),
                Some(StateValue::Key(KeyRecord {
                    identity: *identity,
                    status: KeyStatus::Retired,
                })),
            );
            draft.set(StateKey::Key(*new_key), Some(active_key(*identity)));
            draft.event(IdentityEvent::KeyRotated {
                identity: *identity,
                old_key: *old_key,
                new_key: *new_key,
            });
        }
        IdentityAction::RevokeKey {
            identity,
            public_key,
        } => {
            let key = key_of(state, identity, public_key)?;
            match key.status {
                KeyStatus::Revoked => {
                    return Err(IdentityRuleError::KeyAlreadyRevoked {
                        public_key: *public_key,
                        identity: *identity,
                    });
                }
                KeyStatus::Active => {
                    let mut record = identity_record(state, identity)?;
                    if record.active_keys <= 1 {
                        return Err(IdentityRuleError::LastActiveKey {
                            public_key: *public_key,
                            identity: *identity,
                        });
                    }
                    record.active_keys -= 1;
                    draft.set(
                        StateKey::Identity(*identity),
                        Some(StateValue::Identity(record)),
                    );
                }
                KeyStatus::Retired => {}
            }
            draft.set(
                StateKey::Key(*public_key),
                Some(StateValue::Key(KeyRecord {
                    identity: *identity,
                    status: KeyStatus::Revoked,
                })),
            );
            draft.event(IdentityEvent::KeyRevoked {
                identity: *identity,
                public_key: *public_key,
            });
        }
        IdentityAction::AddAttribute {
            identity,
            label,
            commitment,
        } => {
            if state.attribute(identity, label).is_some() {
                return Err(IdentityRuleError::AttributeExists {
                    identity: *identity,
                    label: label.clone(),
                });
            }
            draft.set(
                StateKey::Attribute(*identity, label.clone()),
                Some(StateValue::Commitment(*commitment)),
            );
            draft.event(IdentityEvent::AttributeAdded {
                identity: *identity,
                label: label.clone(),
                commitment: *commitment,
            });
        }
        IdentityAction::RemoveAttribute { identity, label } => {
            let commitment =
                state
                    .attribute(identity, label)
                    .ok_or(IdentityRuleError::NoSuchAttribute {
                        identity: *identity,
                        label: label.clone(),
                    })?;
            let verifiers = state.attesters(identity, label);
            for verifier in &verifiers {
                draft.set(
                    StateKey::Attestation(*identity, label.clone(), *verifier),
                    None,
                );
            }
            draft.set(StateKey::Attribute(*identity, label.clone()), None);
            draft.event(IdentityEvent::AttributeRemoved {
                identity: *identity,
                label: label.clone(),
                commitment,
                verifiers,
            });
        }
        IdentityAction::Attest {
            verifier,
            subject,
            label,
            commitment,
        } => {
            identity_record(state, subject)?;
            let current =
                state
                    .attribute(subject, label)
                    .ok_or(IdentityRuleError::NoSuchAttribute {
                        identity: *subject,
                        label: label.clone(),
                    })?;
            if current != *commitment {
                return Err(IdentityRuleError::CommitmentMismatch {
                    identity: *subject,
                    label: label.clone(),
                    current,
                    attested: *commitment,
                });
            }
            if state.attestation(subject, label, verifier).is_some() {
                return Err(IdentityRuleError::AlreadyAttested {
                    subject: *subject,
                    label: label.clone(),
                    verifier: *verifier,
                });
            }
            draft.set(
                StateKey::Attestation(*subject, label.clone(), *verifier),
                Some(StateValue::Commitment(*commitment)),
            );
            draft.event(IdentityEvent::AttributeAttested {
                subject: *subject,
                label: label.clone(),
                verifier: *verifier,
                commitment: *commitment,
            });
        }
        IdentityAction::RevokeAttestation {
            verifier,
            subject,
            label,
        } => {
            if state.attestation(subject, label, verifier).is_none() {
                return Err(IdentityRuleError::NoSuchAttestation {
                    subject: *subject,
                    label: label.clone(),
                    verifier: *verifier,
                });
            }
            draft.set(
                StateKey::Attestation(*subject, label.clone(), *verifier),
                None,
            );
            draft.event(IdentityEvent::AttestationRevoked {
                subject: *subject,
                label: label.clone(),
                verifier: *verifier,
            });
        }
        IdentityAction::CreateOrganization { creator, path } => {
            if let Some(organization) = state.organization_by_path(path) {
                return Err(IdentityRuleError::OrganizationExists {
                    path: path.clone(),
                    organization,
                });
            }
            let parent = match path.parent() {
                None => None,
                Some(parent_path) => {
                    let parent = state.organization_by_path(&parent_path).ok_or_else(|| {
                        IdentityRuleError::UnknownParent {
                            path: path.clone(),
                            parent: parent_path.clone(),
                        }
                    })?;
                    if !state.is_owner(creator, &parent) {
                        return Err(IdentityRuleError::NotOwner {
                            identity: *creator,
                            path: parent_path,
                        });
                    }
                    Some(parent)
                }
            };
            let organization = OrganizationId::for_creation(transaction_id);
            draft.set(
                StateKey::OrganizationPath(path.clone()),
                Some(StateValue::OrganizationId(organization)),
            );
            draft.set(
                StateKey::Organization(organization),
                Some(StateValue::Organization(OrganizationRecord {
                    path: path.clone(),
                    parent,
                })),
            );
            draft.event(IdentityEvent::OrganizationCreated {
                organization,
                path: path.clone(),
                parent,
                creator: *creator,
            });
            // A top-level organization's creator is its first owner;
            // a sub-organization's owners are inherited from above.
            if parent.is_none() {
                let subject = Subject::Identity(*creator);
                draft.set(
                    StateKey::Role(organization, subject),
                    Some(StateValue::Role(Role::Owner)),
                );
                draft.event(IdentityEvent::RoleGranted {
                    organization,
                    subject,
                    role: Role::Owner,
                    previous: None,
                    by: *creator,
                });
            }
        }
        IdentityAction::AddRole {
            actor,
            organization,
            subject,
            role,
        } => {
            let record = owned_organization(state, actor, organization)?;
            check_subject(state, organization, subject)?;
            check_can_act_for(state, actor, subject)?;
            let previous = state.role(organization, subject);
            if previous == Some(*role) {
                return Err(IdentityRuleError::AlreadyHoldsRole {
                    path: record.path,
                    subject: *subject,
                    role: *role,
                });
            }
            draft.set(
                StateKey::Role(*organization, *subject),
                Some(StateValue::Role(*role)),
            );
            draft.event(IdentityEvent::RoleGranted {
                organization: *organization,
                subject: *subject,
                role: *role,
                previous,
                by: *actor,
            });
        }
        IdentityAction::Invite {
            actor,
            organization,
            subject,
            role,
        } => {
            let record = owned_organization(state, actor, organization)?;
            check_subject(state, organization, subject)?;
            if state.role(organization, subject) == Some(*role) {
                return Err(IdentityRuleError::AlreadyHoldsRole {
                    path: record.path,
                    subject: *subject,
                    role: *role,
                });
            }
            draft.set(
                StateKey::Invitation(*organization, *subject),
                Some(StateValue::Role(*role)),
            );
            draft.event(IdentityEvent::MemberInvited {
                organization: *organization,
                subject: *subject,
                role: *role,
                by: *actor,
            });
        }
        IdentityAction::AcceptInvitation {
            actor,
            organization,
            subject,
        } => {
            let record = organization_record(state, organization)?;
            check_can_act_for(state, actor, subject)?;
            let role = state.invitation(organization, subject).ok_or_else(|| {
                IdentityRuleError::NoSuchInvitation {
                    path: record.path.clone(),
                    subject: *subject,
                }
            })?;
            let previous = state.role(organization, subject);
            if previous == Some(role) {
                return Err(IdentityRuleError::AlreadyHoldsRole {
                    path: record.path,
                    subject: *subject,
                    role,
                });
            }
            draft.set(StateKey::Invitation(*organization, *subject), None);
            draft.set(
                StateKey::Role(*organization, *subject),
                Some(StateValue::Role(role)),
            );
            draft.event(IdentityEvent::InvitationResolved {
                organization: *organization,
                subject: *subject,
                role,
                outcome: InvitationOutcome::Accepted,
                by: *actor,
            });
            draft.event(IdentityEvent::RoleGranted {
                organization: *organization,
                subject: *subject,
                role,
                previous,
                by: *actor,
            });
        }
        IdentityAction::RejectInvitation {
            actor,
            organization,
            subject,
        } => {
            let record = organization_record(state, organization)?;
            let outcome = if can_act_for(state, actor, subject) {
                InvitationOutcome::Rejected
            } else if state.is_owner(actor, organization) {
                InvitationOutcome::Cancelled
            } else {
                return Err(IdentityRuleError::CannotActFor {
                    identity: *actor,
                    subject: *subject,
                });
            };
            let role = state.invitation(organization, subject).ok_or_else(|| {
                IdentityRuleError::NoSuchInvitation {
                    path: record.path.clone(),
                    subject: *subject,
                }
            })?;
            draft.set(StateKey::Invitation(*organization, *subject), None);
            draft.event(IdentityEvent::InvitationResolved {
                organization: *organization,
                subject: *subject,
                role,
                outcome,
                by: *actor,
            });
        }
        IdentityAction::RemoveRole {
            actor,
            organization,
            subject,
        } => {
            let record = organization_record(state, organization)?;
            if !can_act_for(state, actor, subject) && !state.is_owner(actor, organization) {
                return Err(IdentityRuleError::NotOwner {
                    identity: *actor,
                    path: record.path,
                });
            }
            let role =
                state
                    .role(organization, subject)
                    .ok_or_else(|| IdentityRuleError::NoRole {
                        path: record.path.clone(),
                        subject: *subject,
                    })?;
            let explicit_owners = state
                .roles(organization)
                .iter()
                .filter(|(_, role)| *role == Role::Owner)
                .count();
            if record.parent.is_none() && role == Role::Owner && explicit_owners <= 1 {
                return Err(IdentityRuleError::LastOwner {
                    path: record.path,
                    subject: *subject,
                });
            }
            draft.set(StateKey::Role(*organization, *subject), None);
            draft.event(IdentityEvent::RoleRevoked {
                organization: *organization,
                subject: *subject,
                role,
                by: *actor,
            });
        }
        IdentityAction::Vouch {
            voucher,
            target,
            weight,
            claim,
        } => {
            identity_record(state, target)?;
            draft.set(
                StateKey::Vouch(*voucher, *target),
                Some(StateValue::Vouch {
                    weight: *weight,
                    claim: claim.clone(),
                }),
            );
            draft.event(IdentityEvent::Vouched {
                voucher: *voucher,
                target: *target,
                weight: *weight,
                claim: claim.clone(),
            });
        }
        IdentityAction::WithdrawVouch { voucher, target } => {
            if state.vouch(voucher, target).is_none() {
                return Err(IdentityRuleError::NoSuchVouch {
                    voucher: *voucher,
                    target: *target,
                });
            }
            draft.set(StateKey::Vouch(*voucher, *target), None);
            draft.event(IdentityEvent::VouchWithdrawn {
                voucher: *voucher,
                target: *target,
            });
        }
        IdentityAction::GrantAuthorization {
            identity,
            organization,
            scopes,
        } => {
            organization_record(state, organization)?;
            draft.set(
                StateKey::Authorization(*identity, *organization),
                Some(StateValue::Scopes(scopes.clone())),
            );
            draft.event(IdentityEvent::AuthorizationGranted {
                identity: *identity,
                organization: *organization,
                scopes: scopes.clone(),
            });
        }
        IdentityAction::RevokeAuthorization {
            identity,
            organization,
        } => {
            if state.authorization(identity, organization).is_none() {
                return Err(IdentityRuleError::NoSuchAuthorization {
                    identity: *identity,
                    organization: *organization,
                });
            }
            draft.set(StateKey::Authorization(*identity, *organization), None);
            draft.event(IdentityEvent::AuthorizationRevoked {
                identity: *identity,
                organization: *organization,
            });
        }
    }
    let signatures = operation
        .required_signatures(&context.params.chain_id, transaction_id)
        .into_iter()
        .map(|(role, public_key, signature, message)| DomainSignature {
            origin: match role {
                SignerRole::Actor => format!("identity {} signer", operation.action.kind()),
                SignerRole::NewKey => format!("identity {} new key", operation.action.kind()),
            },
            message,
            public_key,
            signature,
        })
        .collect();
    Ok(DomainChange {
        change: ledger::codec::encode(&IdentityChange {
            writes: draft.writes,
        }),
        events: draft
            .events
            .iter()
            .map(IdentityEvent::to_domain_event)
            .collect(),
        signatures,
        coins: DomainCoins::default(),
    })
}

fn active_key(identity: IdentityId) -> StateValue {
    StateValue::Key(KeyRecord {
        identity,
        status: KeyStatus::Active,
    })
}

/// The actor exists and `signer` is one of its active keys.
fn check_actor(state: &IdentityState, actor: &IdentityId, signer: &PublicKey) -> RuleResult<()> {
    identity_record(state, actor)?;
    let key = key_of(state, actor, signer)?;
    if key.status != KeyStatus::Active {
        return Err(IdentityRuleError::KeyNotActive {
            public_key: *signer,
            identity: *actor,
            status: key.status,
        });
    }
    Ok(())
}

fn identity_record(state: &IdentityState, identity: &IdentityId) -> RuleResult<IdentityRecord> {
    state
        .identity(identity)
        .cloned()
        .ok_or(IdentityRuleError::UnknownIdentity {
            identity: *identity,
        })
}

/// The record of `public_key`, which must belong to `identity`.
fn key_of(
    state: &IdentityState,
    identity: &IdentityId,
    public_key: &PublicKey,
) -> RuleResult<KeyRecord> {
    let record = state.key(public_key).ok_or(IdentityRuleError::UnknownKey {
        public_key: *public_key,
    })?;
    if record.identity != *identity {
        return Err(IdentityRuleError::KeyOfOtherIdentity {
            public_key: *public_key,
            identity: *identity,
            owner: record.identity,
        });
    }
    Ok(record)
}

fn check_key_unused(state: &IdentityState, public_key: &PublicKey) -> RuleResult<()> {
    match state.key(public_key) {
        Some(record) => Err(IdentityRuleError::KeyInUse {
            public_key: *public_key,
            identity: record.identity,
        }),
        None => Ok(()),
    }
}

fn organization_record(
    state: &IdentityState,
    organization: &OrganizationId,
) -> RuleResult<OrganizationRecord> {
    state
        .organization(organization)
        .cloned()
        .ok_or(IdentityRuleError::UnknownOrganization {
            organization: *organization,
        })
}

/// The organization, which `actor` must own (directly or inherited).
fn owned_organization(
    state: &IdentityState,
    actor: &IdentityId,
    organization: &OrganizationId,
) -> RuleResult<OrganizationRecord> {
    let record = organization_record(state, organization)?;
    if !state.is_owner(actor, organization) {
        return Err(IdentityRuleError::NotOwner {
            identity: *actor,
            path: record.path,
        });
    }
    Ok(record)
}

/// The subject exists and is not the organization itself.
fn check_subject(
    state: &IdentityState,
    organization: &OrganizationId,
    subject: &Subject,
) -> RuleResult<()> {
    match subject {
        Subject::Identity(identity) => identity_record(state, identity).map(|_| ()),
        Subject::Organization(member) if member == organization => {
            Err(IdentityRuleError::SelfRole {
                organization: *organization,
            })
        }
        Subject::Organization(member) => organization_record(state, member).map(|_| ()),
    }
}

/// Whether `actor` speaks for `subject`: it is the subject, or owns the
/// subject organization.
fn can_act_for(state: &IdentityState, actor: &IdentityId, subject: &Subject) -> bool {
    match subject {
        Subject::Identity(identity) => identity == actor,
        Subject::Organization(organization) => state.is_owner(actor, organization),
    }
}

fn check_can_act_for(
    state: &IdentityState,
    actor: &IdentityId,
    subject: &Subject,
) -> RuleResult<()> {
    if can_act_for(state, actor, subject) {
        Ok(())
    } else {
        Err(IdentityRuleError::CannotActFor {
            identity: *actor,
            subject: *subject,
        })
    }
}
