//! Identity: self-owned identities with rotating keys, attributes as
//! salted commitments and their attestations, organizations with owners,
//! members and sub-organizations, trust (vouches) and authorizations
//! granted to organizations. The full rules are in `docs/identity.md`.
//!
//! A transaction carries at most one [`IdentityOperation`]: an
//! [`IdentityAction`] naming the acting identity, the public key that
//! signs for it and the signature. The fee is paid by the transaction's
//! ordinary coin inputs, and an identity payload requires at least one:
//! spent outputs make the transaction ID unique, and the signature commits
//! to that ID, so an operation can never be replayed.
//!
//! What is signed ([`IdentityOperation::signing_message`]):
//!
//! ```text
//! transcript("blockstake/signature/v1")
//!   purpose        = "identity-statement"
//!   chain-id       = 32 bytes
//!   transaction-id = 32 bytes (the ID excludes this signature)
//!   action         = canonical encoding of the IdentityAction
//!   signer-role    = "actor" | "new-key"
//!   public-key     = 32 bytes
//! challenge "sig", 64 bytes
//! ```
//!
//! Adding or rotating to a new key also needs the new key's signature
//! (role `new-key`): a key can only be bound to an identity by its holder.
//!
//! This module holds the payload types and the rules that need no chain
//! state; the stateful rules and the consensus state are in
//! `chain::domains::identity`.

pub mod names;

use thiserror::Error;

use super::{DomainPayload, Payload, PayloadError};
use crate::codec;
use crate::crypto::hash::{HashTag, tagged_hash, tagged_hash_parts};
use crate::crypto::{
    ChainId, KeyError, PublicKey, SecretKey, Signature, SigningMessage, SigningPurpose,
    SigningTranscript,
};
use crate::params::NetworkParams;
use crate::transaction::Transaction;
use crate::types::{AttributeCommitment, IdentityId, OrganizationId, TransactionId};

pub use names::{AttributeLabel, IdentityName, NameError, OrganizationPath};

/// Most scopes one authorization may grant.
pub const MAX_SCOPES: usize = 32;
/// Longest vouch claim, in bytes of UTF-8.
pub const MAX_CLAIM_LEN: usize = 280;
/// Vouch weights run from 1 to this.
pub const MAX_VOUCH_WEIGHT: u8 = 100;
/// Salt length of an attribute commitment.
pub const SALT_LEN: usize = 32;

impl IdentityId {
    /// The ID of the identity registered by transaction `transaction`.
    pub fn for_registration(transaction: &TransactionId) -> IdentityId {
        IdentityId(tagged_hash(HashTag::IdentityId, transaction.0.as_bytes()))
    }
}

impl OrganizationId {
    /// The ID of the organization created by transaction `transaction`.
    pub fn for_creation(transaction: &TransactionId) -> OrganizationId {
        OrganizationId(tagged_hash(
            HashTag::OrganizationId,
            transaction.0.as_bytes(),
        ))
    }
}

impl AttributeCommitment {
    /// `H("blockstake/attribute-commitment/v1" ‖ salt ‖ value)`. The salt
    /// (random, kept by the owner and shown only to whoever should verify
    /// the value) stops anyone from confirming a guessed value.
    pub fn compute(salt: &[u8; SALT_LEN], value: &[u8]) -> AttributeCommitment {
        AttributeCommitment(tagged_hash_parts(
            HashTag::AttributeCommitment,
            &[salt, value],
        ))
    }
}

/// Who holds a role in an organization.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, bincode::Encode, bincode::Decode,
)]
pub enum Subject {
    Identity(IdentityId),
    Organization(OrganizationId),
}

/// A role in an organization. Owners may change the organization and,
/// by inheritance, every organization below it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, bincode::Encode, bincode::Decode,
)]
pub enum Role {
    Member,
    Owner,
}

impl Role {
    pub const fn name(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Owner => "owner",
        }
    }
}

/// What an identity does. The first field of every variant but
/// `Register` is the acting identity. The encoded tag is the variant index.
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub enum IdentityAction {
    /// Registers a new identity named `name` whose first key is
    /// `public_key` (which must be the signer). Its ID is
    /// [`IdentityId::for_registration`] of the transaction.
    Register {
        name: IdentityName,
        public_key: PublicKey,
    },
    /// Adds another active key (signed also by the new key).
    AddKey {
        identity: IdentityId,
        public_key: PublicKey,
    },
    /// Retires `old_key` and activates `new_key` (signed also by the new
    /// key). A retired key can never act again.
    RotateKey {
        identity: IdentityId,
        old_key: PublicKey,
        new_key: PublicKey,
    },
    /// Revokes an active or retired key, for good.
    RevokeKey {
        identity: IdentityId,
        public_key: PublicKey,
    },
    /// Adds an attribute under `label` as a salted commitment.
    AddAttribute {
        identity: IdentityId,
        label: AttributeLabel,
        commitment: AttributeCommitment,
    },
    /// Removes an attribute and every attestation of it.
    RemoveAttribute {
        identity: IdentityId,
        label: AttributeLabel,
    },
    /// `verifier` attests that `subject`'s attribute `label` with
    /// `commitment` holds the value it was shown.
    Attest {
        verifier: IdentityId,
        subject: IdentityId,
        label: AttributeLabel,
        commitment: AttributeCommitment,
    },
    RevokeAttestation {
        verifier: IdentityId,
        subject: IdentityId,
        label: AttributeLabel,
    },
    /// Creates an organization: top level (the creator becomes its owner)
    /// or a sub-organization `parent.child` (the creator must own the
    /// parent; owners are inherited). Its ID is
    /// [`OrganizationId::for_creation`] of the transaction.
    CreateOrganization {
        creator: IdentityId,
        path: OrganizationPath,
    },
    /// Gives `subject` a role directly: the actor must own the
    /// organization and be able to accept for the subject (be it, or own
    /// it when it is an organization).
    AddRole {
        actor: IdentityId,
        organization: OrganizationId,
        subject: Subject,
        role: Role,
    },
    /// Invites `subject` to take `role` (the actor owns the organization).
    Invite {
        actor: IdentityId,
        organization: OrganizationId,
        subject: Subject,
        role: Role,
    },
    /// The subject (or an owner of the subject organization) accepts.
    AcceptInvitation {
        actor: IdentityId,
        organization: OrganizationId,
        subject: Subject,
    },
    /// The subject rejects, or an owner of the organization cancels.
    RejectInvitation {
        actor: IdentityId,
        organization: OrganizationId,
        subject: Subject,
    },
    /// An owner removes a role holder, or the subject leaves.
    RemoveRole {
        actor: IdentityId,
        organization: OrganizationId,
        subject: Subject,
    },
    /// Vouches for `target` with a weight (1–100) and an optional public
    /// claim; vouching again replaces the earlier vouch.
    Vouch {
        voucher: IdentityId,
        target: IdentityId,
        weight: u8,
        claim: Option<String>,
    },
    WithdrawVouch {
        voucher: IdentityId,
        target: IdentityId,
    },
    /// Lets `organization` see the attributes with the labels in `scopes`
    /// (strictly increasing); replaces an earlier grant.
    GrantAuthorization {
        identity: IdentityId,
        organization: OrganizationId,
        scopes: Vec<AttributeLabel>,
    },
    RevokeAuthorization {
        identity: IdentityId,
        organization: OrganizationId,
    },
}

impl IdentityAction {
    /// The acting identity, or `None` for a registration (the actor is
    /// the identity being created).
    pub fn actor(&self) -> Option<IdentityId> {
        match self {
            IdentityAction::Register { .. } => None,
            IdentityAction::AddKey { identity, .. }
            | IdentityAction::RotateKey { identity, .. }
            | IdentityAction::RevokeKey { identity, .. }
            | IdentityAction::AddAttribute { identity, .. }
            | IdentityAction::RemoveAttribute { identity, .. }
            | IdentityAction::GrantAuthorization { identity, .. }
            | IdentityAction::RevokeAuthorization { identity, .. } => Some(*identity),
            IdentityAction::Attest { verifier, .. }
            | IdentityAction::RevokeAttestation { verifier, .. } => Some(*verifier),
            IdentityAction::CreateOrganization { creator, .. } => Some(*creator),
            IdentityAction::AddRole { actor, .. }
            | IdentityAction::Invite { actor, .. }
            | IdentityAction::AcceptInvitation { actor, .. }
            | IdentityAction::RejectInvitation { actor, .. }
            | IdentityAction::RemoveRole { actor, .. } => Some(*actor),
            IdentityAction::Vouch { voucher, .. }
            | IdentityAction::WithdrawVouch { voucher, .. } => Some(*voucher),
        }
    }

    /// The key this action binds to the identity, whose holder must sign
    /// too (add, rotate; a registration's key is the signer itself).
    pub fn new_key(&self) -> Option<PublicKey> {
        match self {
            IdentityAction::AddKey { public_key, .. } => Some(*public_key),
            IdentityAction::RotateKey { new_key, .. } => Some(*new_key),
            _ => None,
        }
    }

    /// A short name of the action for messages and read models.
    pub const fn kind(&self) -> &'static str {
        match self {
            IdentityAction::Register { .. } => "register",
            IdentityAction::AddKey { .. } => "add_key",
            IdentityAction::RotateKey { .. } => "rotate_key",
            IdentityAction::RevokeKey { .. } => "revoke_key",
            IdentityAction::AddAttribute { .. } => "add_attribute",
            IdentityAction::RemoveAttribute { .. } => "remove_attribute",
            IdentityAction::Attest { .. } => "attest",
            IdentityAction::RevokeAttestation { .. } => "revoke_attestation",
            IdentityAction::CreateOrganization { .. } => "create_organization",
            IdentityAction::AddRole { .. } => "add_role",
            IdentityAction::Invite { .. } => "invite",
            IdentityAction::AcceptInvitation { .. } => "accept_invitation",
            IdentityAction::RejectInvitation { .. } => "reject_invitation",
            IdentityAction::RemoveRole { .. } => "remove_role",
            IdentityAction::Vouch { .. } => "vouch",
            IdentityAction::WithdrawVouch { .. } => "withdraw_vouch",
            IdentityAction::GrantAuthorization { .. } => "grant_authorization",
            IdentityAction::RevokeAuthorization { .. } => "revoke_authorization",
        }
    }
}

/// Who signs, in the transcript's `signer-role` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignerRole {
    /// A key of the acting identity.
    Actor,
    /// The key being added or rotated to.
    NewKey,
}

impl SignerRole {
    pub const fn label(self) -> &'static [u8] {
        match self {
            SignerRole::Actor => b"actor",
            SignerRole::NewKey => b"new-key",
        }
    }
}

/// An identity payload: the action, the acting key and its signature,
/// and (for add/rotate) the new key's signature.
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct IdentityOperation {
    pub action: IdentityAction,
    /// An active key of the acting identity (for a registration: the
    /// registered key).
    pub signer: PublicKey,
    pub signature: Signature,
    /// Present exactly when the action binds a new key.
    pub new_key_signature: Option<Signature>,
}

/// Why an identity payload breaks a stateless rule.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdentityPayloadError {
    #[error(transparent)]
    Name(#[from] NameError),
    #[error(
        "identity {action} pays no fee from coin inputs; an identity payload needs at least one"
    )]
    NoCoinInputs { action: &'static str },
    #[error("registration is signed by {signer} but registers key {public_key}")]
    RegistrationSigner {
        signer: PublicKey,
        public_key: PublicKey,
    },
    #[error("{what} {public_key} is not usable: {source}")]
    UnusableKey {
        what: &'static str,
        public_key: PublicKey,
        source: KeyError,
    },
    #[error("identity {action} needs the new key's signature and carries none")]
    MissingNewKeySignature { action: &'static str },
    #[error("identity {action} binds no new key but carries a new-key signature")]
    UnexpectedNewKeySignature { action: &'static str },
    #[error("rotation from key {key} to itself")]
    RotateToSameKey { key: PublicKey },
    #[error("attribute commitment is all zeros")]
    ZeroCommitment,
    #[error("identity {identity} cannot {action} itself")]
    SelfReference {
        identity: IdentityId,
        action: &'static str,
    },
    #[error("vouch weight {weight} is outside 1..={MAX_VOUCH_WEIGHT}")]
    VouchWeight { weight: u8 },
    #[error("vouch claim has {length} bytes; at most {MAX_CLAIM_LEN}")]
    ClaimTooLong { length: usize },
    #[error("vouch claim is empty (omit it instead)")]
    EmptyClaim,
    #[error("vouch claim contains a control character at byte {index}")]
    ClaimControlCharacter { index: usize },
    #[error("authorization grants no scopes (revoke it instead)")]
    NoScopes,
    #[error("authorization grants {count} scopes; at most {MAX_SCOPES}")]
    TooManyScopes { count: usize },
    #[error("authorization scopes must be strictly increasing; {label} at {index} is not")]
    UnsortedScopes { index: usize, label: AttributeLabel },
}

impl IdentityOperation {
    /// An unsigned operation by `signer`: the form whose transaction ID
    /// the signatures commit to. Sign it with [`Self::sign`] (and
    /// [`Self::sign_new_key`] when the action binds a new key) once the
    /// rest of the transaction is final.
    pub fn unsigned(action: IdentityAction, signer: PublicKey) -> IdentityOperation {
        let new_key_signature = action.new_key().map(|_| Signature::default());
        IdentityOperation {
            action,
            signer,
            signature: Signature::default(),
            new_key_signature,
        }
    }

    /// The message `public_key` signs in `role` for this operation in
    /// transaction `transaction_id` on chain `chain_id`.
    pub fn signing_message(
        &self,
        chain_id: &ChainId,
        transaction_id: &TransactionId,
        role: SignerRole,
        public_key: &PublicKey,
    ) -> SigningMessage {
        let mut transcript = SigningTranscript::new(SigningPurpose::IdentityStatement, chain_id);
        transcript.append(b"transaction-id", transaction_id.0.as_bytes());
        transcript.append(b"action", &codec::encode(&self.action));
        transcript.append(b"signer-role", role.label());
        transcript.append(b"public-key", &public_key.0);
        transcript.challenge()
    }

    /// Signs as the actor with `key` (which must be [`Self::signer`]'s secret).
    pub fn sign(&mut self, chain_id: &ChainId, transaction_id: &TransactionId, key: &SecretKey) {
        let message =
            self.signing_message(chain_id, transaction_id, SignerRole::Actor, &self.signer);
        self.signature = key.sign(&message);
    }

    /// Signs as the holder of the key the action binds.
    pub fn sign_new_key(
        &mut self,
        chain_id: &ChainId,
        transaction_id: &TransactionId,
        new_key: &SecretKey,
    ) {
        let message = self.signing_message(
            chain_id,
            transaction_id,
            SignerRole::NewKey,
            &new_key.public_key(),
        );
        self.new_key_signature = Some(new_key.sign(&message));
    }

    /// The signatures this operation needs verified: (role, key,
    /// signature, message).
    pub fn required_signatures(
        &self,
        chain_id: &ChainId,
        transaction_id: &TransactionId,
    ) -> Vec<(SignerRole, PublicKey, Signature, SigningMessage)> {
        let mut required = vec![(
            SignerRole::Actor,
            self.signer,
            self.signature,
            self.signing_message(chain_id, transaction_id, SignerRole::Actor, &self.signer),
        )];
        if let (Some(new_key), Some(signature)) = (self.action.new_key(), self.new_key_signature) {
            required.push((
                SignerRole::NewKey,
                new_key,
                signature,
                self.signing_message(chain_id, transaction_id, SignerRole::NewKey, &new_key),
            ));
        }
        required
    }

    fn check(&self, transaction: &Transaction) -> Result<(), IdentityPayloadError> {
        let action = self.action.kind();
        if transaction.coin_inputs.is_empty() {
            return Err(IdentityPayloadError::NoCoinInputs { action });
        }
        usable("signing key", &self.signer)?;
        match (self.action.new_key(), self.new_key_signature) {
            (Some(_), None) => return Err(IdentityPayloadError::MissingNewKeySignature { action }),
            (None, Some(_)) => {
                return Err(IdentityPayloadError::UnexpectedNewKeySignature { action });
            }
            _ => {}
        }
        match &self.action {
            IdentityAction::Register { name, public_key } => {
                name.check()?;
                if *public_key != self.signer {
                    return Err(IdentityPayloadError::RegistrationSigner {
                        signer: self.signer,
                        public_key: *public_key,
                    });
                }
            }
            IdentityAction::AddKey { public_key, .. } => usable("new key", public_key)?,
            IdentityAction::RotateKey {
                old_key, new_key, ..
            } => {
                if old_key == new_key {
                    return Err(IdentityPayloadError::RotateToSameKey { key: *old_key });
                }
                usable("new key", new_key)?;
            }
            IdentityAction::RevokeKey { .. } => {}
            IdentityAction::AddAttribute {
                label, commitment, ..
            } => {
                label.check()?;
                if commitment.0.is_zero() {
                    return Err(IdentityPayloadError::ZeroCommitment);
                }
            }
            IdentityAction::RemoveAttribute { label, .. }
            | IdentityAction::RevokeAttestation { label, .. } => label.check()?,
            IdentityAction::Attest {
                verifier,
                subject,
                label,
                commitment,
            } => {
                label.check()?;
                if commitment.0.is_zero() {
                    return Err(IdentityPayloadError::ZeroCommitment);
                }
                if verifier == subject {
                    return Err(IdentityPayloadError::SelfReference {
                        identity: *verifier,
                        action: "attest",
                    });
                }
            }
            IdentityAction::CreateOrganization { path, .. } => path.check()?,
            IdentityAction::AddRole { .. }
            | IdentityAction::Invite { .. }
            | IdentityAction::AcceptInvitation { .. }
            | IdentityAction::RejectInvitation { .. }
            | IdentityAction::RemoveRole { .. }
            | IdentityAction::RevokeAuthorization { .. } => {}
            IdentityAction::Vouch {
                voucher,
                target,
                weight,
                claim,
            } => {
                if voucher == target {
                    return Err(IdentityPayloadError::SelfReference {
                        identity: *voucher,
                        action: "vouch for",
                    });
                }
                if !(1..=MAX_VOUCH_WEIGHT).contains(weight) {
                    return Err(IdentityPayloadError::VouchWeight { weight: *weight });
                }
                if let Some(claim) = claim {
                    check_claim(claim)?;
                }
            }
            IdentityAction::WithdrawVouch { voucher, target } => {
                if voucher == target {
                    return Err(IdentityPayloadError::SelfReference {
                        identity: *voucher,
                        action: "withdraw a vouch for",
                    });
                }
            }
            IdentityAction::GrantAuthorization { scopes, .. } => {
                if scopes.is_empty() {
                    return Err(IdentityPayloadError::NoScopes);
                }
                if scopes.len() > MAX_SCOPES {
                    return Err(IdentityPayloadError::TooManyScopes {
                        count: scopes.len(),
                    });
                }
                for scope in scopes {
                    scope.check()?;
                }
                for (index, pair) in scopes.windows(2).enumerate() {
                    if pair[0] >= pair[1] {
                        return Err(IdentityPayloadError::UnsortedScopes {
                            index: index + 1,
                            label: pair[1].clone(),
                        });
                    }
                }
            }
        }
        Ok(())
    }
}

fn usable(what: &'static str, public_key: &PublicKey) -> Result<(), IdentityPayloadError> {
    public_key
        .check_usable()
        .map_err(|source| IdentityPayloadError::UnusableKey {
            what,
            public_key: *public_key,
            source,
        })
}

fn check_claim(claim: &str) -> Result<(), IdentityPayloadError> {
    if claim.is_empty() {
        return Err(IdentityPayloadError::EmptyClaim);
    }
    if claim.len() > MAX_CLAIM_LEN {
        return Err(IdentityPayloadError::ClaimTooLong {
            length: claim.len(),
        });
    }
    if let Some((index, _)) = claim.char_indices().find(|(_, c)| c.is_control()) {
        return Err(IdentityPayloadError::ClaimControlCharacter { index });
    }
    Ok(())
}

impl DomainPayload for IdentityOperation {
    fn label(&self) -> &'static [u8] {
        b"identity"
    }

    fn validate_stateless(
        &self,
        transaction: &Transaction,
        _params: &NetworkParams,
    ) -> Result<(), PayloadError> {
        self.check(transaction).map_err(PayloadError::Identity)
    }

    fn without_authorization(&self) -> Payload {
        let mut stripped = self.clone();
        stripped.signature = Signature::default();
        if stripped.new_key_signature.is_some() {
            stripped.new_key_signature = Some(Signature::default());
        }
        Payload::Identity(stripped)
    }
}

/// Puts `operation` into `transaction` and signs it: with `actor` (the
/// secret of `operation.signer`) and, when the action binds a new key,
/// with `new_key`. Call after every other field is final and before
/// signing the coin inputs (whose signatures commit to the same ID).
/// Returns the transaction ID, from which [`IdentityId::for_registration`]
/// and [`OrganizationId::for_creation`] follow.
pub fn sign_into(
    transaction: &mut Transaction,
    mut operation: IdentityOperation,
    chain_id: &ChainId,
    actor: &SecretKey,
    new_key: Option<&SecretKey>,
) -> TransactionId {
    if operation.action.new_key().is_some() && operation.new_key_signature.is_none() {
        operation.new_key_signature = Some(Signature::default());
    }
    transaction.payload = Some(Payload::Identity(operation.clone()));
    let id = transaction.id();
    operation.sign(chain_id, &id, actor);
    if let Some(new_key) = new_key {
        operation.sign_new_key(chain_id, &id, new_key);
    }
    transaction.payload = Some(Payload::Identity(operation));
    id
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fulfillment::Fulfillment;
    use crate::transaction::CoinInput;
    use crate::types::{CoinOutputId, Hash32};

    fn paying() -> Transaction {
        Transaction {
            coin_inputs: vec![CoinInput {
                parent_id: CoinOutputId(Hash32([9; 32])),
                fulfillment: Fulfillment::Nil,
            }],
            ..Transaction::new()
        }
    }

    fn key(seed: u8) -> SecretKey {
        SecretKey::from_seed([seed; 32])
    }

    fn check(operation: &IdentityOperation) -> Result<(), IdentityPayloadError> {
        operation.check(&paying())
    }

    fn id(byte: u8) -> IdentityId {
        IdentityId(Hash32([byte; 32]))
    }

    fn register(name: &str) -> IdentityOperation {
        let public_key = key(1).public_key();
        IdentityOperation::unsigned(
            IdentityAction::Register {
                name: IdentityName(name.into()),
                public_key,
            },
            public_key,
        )
    }

    #[test]
    fn registration_rules() {
        assert_eq!(check(&register("alice")), Ok(()));
        assert!(matches!(
            check(&register("Alice")),
            Err(IdentityPayloadError::Name(NameError::Character { .. }))
        ));
        let mut other_signer = register("alice");
        other_signer.signer = key(2).public_key();
        assert!(matches!(
            check(&other_signer),
            Err(IdentityPayloadError::RegistrationSigner { .. })
        ));
        assert_eq!(
            register("alice").check(&Transaction::new()),
            Err(IdentityPayloadError::NoCoinInputs { action: "register" })
        );
        let mut weak = register("alice");
        let mut identity = [0u8; 32];
        identity[0] = 1;
        weak.signer = PublicKey(identity);
        assert!(matches!(
            check(&weak),
            Err(IdentityPayloadError::UnusableKey { .. })
        ));
        let mut extra = register("alice");
        extra.new_key_signature = Some(Signature::default());
        assert_eq!(
            check(&extra),
            Err(IdentityPayloadError::UnexpectedNewKeySignature { action: "register" })
        );
    }

    #[test]
    fn new_keys_need_their_holders_signature() {
        let add = IdentityOperation::unsigned(
            IdentityAction::AddKey {
                identity: id(1),
                public_key: key(2).public_key(),
            },
            key(1).public_key(),
        );
        assert_eq!(check(&add), Ok(()));
        let mut missing = add.clone();
        missing.new_key_signature = None;
        assert_eq!(
            check(&missing),
            Err(IdentityPayloadError::MissingNewKeySignature { action: "add_key" })
        );
        let same = IdentityOperation::unsigned(
            IdentityAction::RotateKey {
                identity: id(1),
                old_key: key(1).public_key(),
                new_key: key(1).public_key(),
            },
            key(1).public_key(),
        );
        assert!(matches!(
            check(&same),
            Err(IdentityPayloadError::RotateToSameKey { .. })
        ));
    }

    #[test]
    fn attribute_vouch_and_scope_rules() {
        let signer = key(1).public_key();
        let op = |action| IdentityOperation::unsigned(action, signer);
        assert_eq!(
            check(&op(IdentityAction::AddAttribute {
                identity: id(1),
                label: AttributeLabel("email".into()),
                commitment: AttributeCommitment(Hash32::ZERO),
            })),
            Err(IdentityPayloadError::ZeroCommitment)
        );
        assert!(matches!(
            check(&op(IdentityAction::Attest {
                verifier: id(1),
                subject: id(1),
                label: AttributeLabel("email".into()),
                commitment: AttributeCommitment(Hash32([1; 32])),
            })),
            Err(IdentityPayloadError::SelfReference { .. })
        ));
        let vouch = |weight, claim: Option<&str>| {
            op(IdentityAction::Vouch {
                voucher: id(1),
                target: id(2),
                weight,
                claim: claim.map(str::to_owned),
            })
        };
        assert_eq!(check(&vouch(100, Some("met in person"))), Ok(()));
        assert_eq!(
            check(&vouch(0, None)),
            Err(IdentityPayloadError::VouchWeight { weight: 0 })
        );
        assert_eq!(
            check(&vouch(101, None)),
            Err(IdentityPayloadError::VouchWeight { weight: 101 })
        );
        assert_eq!(
            check(&vouch(5, Some(""))),
            Err(IdentityPayloadError::EmptyClaim)
        );
        assert_eq!(
            check(&vouch(5, Some(&"x".repeat(281)))),
            Err(IdentityPayloadError::ClaimTooLong { length: 281 })
        );
        assert_eq!(
            check(&vouch(5, Some("a\nb"))),
            Err(IdentityPayloadError::ClaimControlCharacter { index: 1 })
        );
        let grant = |scopes: &[&str]| {
            op(IdentityAction::GrantAuthorization {
                identity: id(1),
                organization: OrganizationId(Hash32([2; 32])),
                scopes: scopes.iter().map(|s| AttributeLabel((*s).into())).collect(),
            })
        };
        assert_eq!(check(&grant(&["email", "phone"])), Ok(()));
        assert_eq!(check(&grant(&[])), Err(IdentityPayloadError::NoScopes));
        assert!(matches!(
            check(&grant(&["phone", "email"])),
            Err(IdentityPayloadError::UnsortedScopes { index: 1, .. })
        ));
        assert!(matches!(
            check(&grant(&["email", "email"])),
            Err(IdentityPayloadError::UnsortedScopes { index: 1, .. })
        ));
    }

    #[test]
    fn signatures_commit_to_chain_transaction_and_action_but_not_to_themselves() {
        let chain_id = ChainId::for_network("test");
        let mut transaction = paying();
        let id = sign_into(
            &mut transaction,
            register("alice"),
            &chain_id,
            &key(1),
            None,
        );
        assert_eq!(transaction.id(), id);
        let Some(Payload::Identity(signed)) = &transaction.payload else {
            panic!("identity payload");
        };
        let required = signed.required_signatures(&chain_id, &id);
        assert_eq!(required.len(), 1);
        let (_, public_key, signature, message) = required[0];
        assert!(public_key.verify(&message, &signature));
        let other_chain = signed.required_signatures(&ChainId::for_network("other"), &id);
        assert!(!public_key.verify(&other_chain[0].3, &signature));
        let mut renamed = signed.clone();
        renamed.action = register("alicia").action;
        let renamed_message = renamed.required_signatures(&chain_id, &id)[0].3;
        assert!(!public_key.verify(&renamed_message, &signature));

        let mut rotate = paying();
        let rotation = IdentityOperation::unsigned(
            IdentityAction::RotateKey {
                identity: IdentityId::for_registration(&id),
                old_key: key(1).public_key(),
                new_key: key(2).public_key(),
            },
            key(1).public_key(),
        );
        let rotate_id = sign_into(&mut rotate, rotation, &chain_id, &key(1), Some(&key(2)));
        assert_eq!(rotate.id(), rotate_id);
        let Some(Payload::Identity(signed)) = &rotate.payload else {
            panic!("identity payload");
        };
        let required = signed.required_signatures(&chain_id, &rotate_id);
        assert_eq!(required.len(), 2);
        for (role, public_key, signature, message) in required {
            assert!(public_key.verify(&message, &signature), "{role:?}");
        }
        assert_ne!(
            IdentityId::for_registration(&id).0,
            OrganizationId::for_creation(&id).0
        );
    }

    #[test]
    fn commitments_hide_the_value_behind_the_salt() {
        let a = AttributeCommitment::compute(&[1; 32], b"alice@example.com");
        assert_eq!(
            a,
            AttributeCommitment::compute(&[1; 32], b"alice@example.com")
        );
        assert_ne!(
            a,
            AttributeCommitment::compute(&[2; 32], b"alice@example.com")
        );
        assert_ne!(
            a,
            AttributeCommitment::compute(&[1; 32], b"bob@example.com")
        );
    }
}
