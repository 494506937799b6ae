//! The identity domain through the real chain: registrations (name and
//! key uniqueness, the same name twice in one block, in the pool, and
//! across a reorg), keys (add, rotate, revoke; old and revoked keys
//! cannot act), attributes and attestations, organizations (owners,
//! invitations, inherited ownership of sub-organizations and its loss),
//! vouches and authorizations; signatures checked in the block's batch;
//! reopening a stored chain replays the domain.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use std::sync::Arc;

use chain::creator::assemble_block;
use chain::domains::identity::{IdentityEvent, IdentityRuleError, KeyStatus};
use chain::mempool::{Mempool, MempoolConfig, PoolError};
use chain::state::DomainError;
use chain::validation::{BlockRuleError, TransactionRuleError};
use chain::{Chain, ChainError, ChainUpdate, EventBody, RedbStore};
use common::identity::{IdentityNet, commitment, identity_state, label, register_action};
use common::{Net, key, test_config};
use ledger::crypto::SignatureError;
use ledger::payload::identity::{
    IdentityAction, IdentityName, IdentityOperation, OrganizationPath, Role, Subject, sign_into,
};
use ledger::{IdentityId, OrganizationId, Transaction};

impl IdentityNet {
    /// The rule error a block with `transaction` is refused with.
    fn refused(&mut self, transaction: Transaction) -> BlockRuleError {
        let before = self.net.chain.state().commitment();
        let block = self.net.next_block(vec![transaction]);
        let error = match self.net.accept(block) {
            Err(ChainError::Rules { source, .. }) => *source,
            other => panic!("expected a rule error, got {other:?}"),
        };
        assert_eq!(self.net.chain.state().commitment(), before);
        error
    }

    /// Asserts that `action` signed by `seed` is refused with `expected`.
    fn refused_with(&mut self, action: IdentityAction, seed: u8, expected: IdentityRuleError) {
        let transaction = self.tx(action, &key(seed), None);
        assert_refused_by_rule(self.refused(transaction), &expected);
    }

    /// The error a block with `transaction` is refused with, whatever
    /// kind (a stateless rule, for instance).
    fn rejected(&mut self, transaction: Transaction) -> ChainError {
        let before = self.net.chain.state().commitment();
        let block = self.net.next_block(vec![transaction]);
        let error = self.net.accept(block).unwrap_err();
        assert_eq!(self.net.chain.state().commitment(), before);
        error
    }
}

fn assert_refused_by_rule(error: BlockRuleError, expected: &IdentityRuleError) {
    match error {
        BlockRuleError::Transaction { source, .. } => match *source {
            TransactionRuleError::Domain(DomainError { domain, message }) => {
                assert_eq!(domain, "identity");
                assert_eq!(message, expected.to_string());
            }
            other => panic!("expected an identity rule error, got {other}"),
        },
        other => panic!("expected a transaction rule error, got {other}"),
    }
}

fn identity_events(update: &ChainUpdate) -> Vec<IdentityEvent> {
    update
        .events
        .iter()
        .filter_map(|event| match &event.body {
            EventBody::Domain { domain, kind, data } if domain == "identity" => {
                let decoded = IdentityEvent::decode(data).unwrap();
                assert_eq!(decoded.kind(), kind);
                Some(decoded)
            }
            _ => None,
        })
        .collect()
}

#[test]
fn registration_takes_a_free_name_and_an_unused_key() {
    let mut ids = IdentityNet::new();
    let signer = key(10);
    let transaction = ids.tx(register_action("alice", &signer), &signer, None);
    let alice = IdentityId::for_registration(&transaction.id());
    let update = ids.mine(vec![transaction]);
    assert_eq!(
        identity_events(&update),
        vec![IdentityEvent::IdentityRegistered {
            identity: alice,
            name: IdentityName("alice".into()),
            public_key: signer.public_key(),
        }]
    );
    let state = ids.state();
    assert_eq!(
        state.identity_by_name(&IdentityName("alice".into())),
        Some(alice)
    );
    assert!(state.is_active_key(&alice, &signer.public_key()));

    ids.refused_with(
        register_action("alice", &key(11)),
        11,
        IdentityRuleError::NameTaken {
            name: IdentityName("alice".into()),
            identity: alice,
        },
    );
    ids.refused_with(
        register_action("alicia", &key(10)),
        10,
        IdentityRuleError::KeyInUse {
            public_key: key(10).public_key(),
            identity: alice,
        },
    );
    // Uppercase never reaches the state: the stateless rule refuses it.
    let upper = ids.tx(register_action("Alice", &key(12)), &key(12), None);
    let error = ids.rejected(upper);
    assert!(
        error.to_string().contains("identity name \"Alice\""),
        "{error}"
    );
}

#[test]
fn a_signature_by_another_key_is_refused_in_the_block_batch() {
    let mut ids = IdentityNet::new();
    let alice = ids.register("alice", 10);
    let mut transaction = ids.tx(
        IdentityAction::Vouch {
            voucher: alice,
            target: alice,
            weight: 1,
            claim: None,
        },
        &key(10),
        None,
    );
    // Self-vouching is a stateless error.
    let error = ids.rejected(transaction);
    assert!(
        error.to_string().contains("cannot vouch for itself"),
        "{error}"
    );
    let bob = ids.register("bob", 11);
    transaction = ids.tx(
        IdentityAction::Vouch {
            voucher: alice,
            target: bob,
            weight: 1,
            claim: None,
        },
        &key(10),
        None,
    );
    // Re-sign the payload with a key that is not the named signer.
    let id = transaction.id();
    let Some(ledger::Payload::Identity(operation)) = &mut transaction.payload else {
        panic!("identity payload");
    };
    operation.sign(&ids.net.params().chain_id, &id, &key(11));
    match ids.refused(transaction) {
        BlockRuleError::Signature(SignatureError::Invalid { origin, public_key }) => {
            assert!(origin.contains("identity vouch signer"), "{origin}");
            assert_eq!(public_key, key(10).public_key());
        }
        other => panic!("expected a signature error, got {other}"),
    }
}

#[test]
fn the_same_name_twice_in_one_block_pool_or_creator_leaves_exactly_one() {
    let mut ids = IdentityNet::new();
    let first = ids.tx(register_action("carol", &key(10)), &key(10), None);
    let second = ids.tx(register_action("carol", &key(11)), &key(11), None);

    // A block carrying both is refused: the second breaks the name rule
    // against the state the first left.
    let error = ids.refused_both(first.clone(), second.clone());
    assert_refused_by_rule(
        error,
        &IdentityRuleError::NameTaken {
            name: IdentityName("carol".into()),
            identity: IdentityId::for_registration(&first.id()),
        },
    );

    // The pool admits the first and refuses the second.
    let mut pool = Mempool::new(MempoolConfig::default(), &ids.net.chain);
    pool.add(&ids.net.chain, first.clone()).unwrap();
    match pool.add(&ids.net.chain, second.clone()) {
        Err(PoolError::Rules { source, .. }) => assert_eq!(
            *source,
            TransactionRuleError::Domain(DomainError {
                domain: "identity",
                message: IdentityRuleError::NameTaken {
                    name: IdentityName("carol".into()),
                    identity: IdentityId::for_registration(&first.id()),
                }
                .to_string(),
            })
        ),
        other => panic!("expected a rule error, got {other:?}"),
    }

    // The block creator handed both (a pool out of step) keeps one.
    let template = ids.net.next_block(Vec::new());
    let staker = ids
        .net
        .stake_positions()
        .into_iter()
        .find(|(position, _)| *position == template.header.stake_output)
        .map(|(_, index)| ids.net.stakers[index].clone())
        .unwrap();
    let assembled = assemble_block(
        &ids.net.chain,
        &staker,
        template.header.stake_output,
        template.header.timestamp,
        vec![second.clone(), first.clone()],
    )
    .unwrap();
    assert_eq!(assembled.block.transactions.len(), 2);
    assert_eq!(assembled.block.transactions[1], second);
    assert_eq!(assembled.skipped.len(), 1);
    assert_eq!(assembled.skipped[0].0, first.id());
    ids.net.accept(assembled.block).unwrap();
    assert_eq!(
        ids.state().identity_by_name(&IdentityName("carol".into())),
        Some(IdentityId::for_registration(&second.id()))
    );
}

impl IdentityNet {
    fn refused_both(&mut self, a: Transaction, b: Transaction) -> BlockRuleError {
        let before = self.net.chain.state().commitment();
        let block = self.net.next_block(vec![a, b]);
        let error = match self.net.accept(block) {
            Err(ChainError::Rules { source, .. }) => *source,
            other => panic!("expected a rule error, got {other:?}"),
        };
        assert_eq!(self.net.chain.state().commitment(), before);
        error
    }
}

#[test]
fn a_reorg_hands_the_name_to_the_winning_branch_and_equals_a_replay() {
    let mut a = IdentityNet::new();
    let mut b = IdentityNet::follower(Net::new(test_config()));
    let shared = a.net.chain.block(&a.net.chain.tip().id).unwrap().unwrap();
    b.net.accept(shared).unwrap();

    let for_x = a.tx(register_action("dave", &key(10)), &key(10), None);
    let for_y = b.tx(register_action("dave", &key(11)), &key(11), None);
    let x = IdentityId::for_registration(&for_x.id());
    let y = IdentityId::for_registration(&for_y.id());
    assert_ne!(x, y);
    a.mine(vec![for_x]);
    assert_eq!(
        a.state().identity_by_name(&IdentityName("dave".into())),
        Some(x)
    );

    let b1 = b.net.mine(vec![for_y]);
    let b2 = b.net.mine(Vec::new());
    a.net.accept(b1.clone()).unwrap();
    let update = a.net.accept(b2.clone()).unwrap();
    assert_eq!(update.reverted.len(), 1);
    assert_eq!(update.applied, vec![b1.id(), b2.id()]);

    let state = a.state();
    assert_eq!(
        state.identity_by_name(&IdentityName("dave".into())),
        Some(y)
    );
    assert_eq!(state.key(&key(10).public_key()), None);
    assert!(state.is_active_key(&y, &key(11).public_key()));
    assert_eq!(state.identity(&x), None);
    assert_eq!(
        a.net.chain.state().commitment(),
        b.net.chain.state().commitment()
    );

    // A fresh chain fed branch B from genesis ends in the same state.
    let mut fresh = Net::new(test_config());
    for height in 1..=b.net.chain.height().0 {
        let id = b
            .net
            .chain
            .main_chain_id(ledger::BlockHeight(height))
            .unwrap();
        fresh
            .accept(b.net.chain.block(&id).unwrap().unwrap())
            .unwrap();
    }
    assert_eq!(
        fresh.chain.state().commitment(),
        a.net.chain.state().commitment()
    );

    // The events undo X's registration before applying Y's.
    let reverted: Vec<_> = update
        .events
        .iter()
        .filter(|event| matches!(&event.body, EventBody::Domain { .. }))
        .map(|event| {
            (
                event.direction,
                IdentityEvent::decode(match &event.body {
                    EventBody::Domain { data, .. } => data,
                    _ => unreachable!(),
                })
                .unwrap(),
            )
        })
        .collect();
    assert_eq!(reverted.len(), 2);
    assert_eq!(reverted[0].0, chain::Direction::Revert);
    assert!(
        matches!(reverted[0].1, IdentityEvent::IdentityRegistered { identity, .. } if identity == x)
    );
    assert_eq!(reverted[1].0, chain::Direction::Apply);
    assert!(
        matches!(reverted[1].1, IdentityEvent::IdentityRegistered { identity, .. } if identity == y)
    );
}

#[test]
fn rotated_keys_cannot_act_and_revoked_keys_never_again() {
    let mut ids = IdentityNet::new();
    let alice = ids.register("alice", 10);
    let bob = ids.register("bob", 20);

    // Adding a key needs its holder's signature.
    let mut add = ids.tx(
        IdentityAction::AddKey {
            identity: alice,
            public_key: key(11).public_key(),
        },
        &key(10),
        Some(&key(12)),
    );
    match ids.refused(add.clone()) {
        BlockRuleError::Signature(SignatureError::Invalid { origin, public_key }) => {
            assert!(origin.contains("new key"), "{origin}");
            assert_eq!(public_key, key(11).public_key());
        }
        other => panic!("expected a signature error, got {other}"),
    }
    add = ids.tx(
        IdentityAction::AddKey {
            identity: alice,
            public_key: key(11).public_key(),
        },
        &key(10),
        Some(&key(11)),
    );
    ids.mine(vec![add]);
    assert_eq!(ids.state().identity(&alice).unwrap().active_keys, 2);

    // Rotate 10 → 13: 10 is retired and cannot act any more.
    let rotate = ids.tx(
        IdentityAction::RotateKey {
            identity: alice,
            old_key: key(10).public_key(),
            new_key: key(13).public_key(),
        },
        &key(10),
        Some(&key(13)),
    );
    let update = ids.mine(vec![rotate]);
    assert_eq!(
        identity_events(&update),
        vec![IdentityEvent::KeyRotated {
            identity: alice,
            old_key: key(10).public_key(),
            new_key: key(13).public_key(),
        }]
    );
    let vouch = IdentityAction::Vouch {
        voucher: alice,
        target: bob,
        weight: 3,
        claim: None,
    };
    ids.refused_with(
        vouch.clone(),
        10,
        IdentityRuleError::KeyNotActive {
            public_key: key(10).public_key(),
            identity: alice,
            status: KeyStatus::Retired,
        },
    );
    ids.run(vouch.clone(), &key(13));

    // Revoke 11: it never acts again, and cannot be bound again.
    ids.run(
        IdentityAction::RevokeKey {
            identity: alice,
            public_key: key(11).public_key(),
        },
        &key(13),
    );
    assert_eq!(
        ids.state().key(&key(11).public_key()).unwrap().status,
        KeyStatus::Revoked
    );
    ids.refused_with(
        vouch.clone(),
        11,
        IdentityRuleError::KeyNotActive {
            public_key: key(11).public_key(),
            identity: alice,
            status: KeyStatus::Revoked,
        },
    );
    let readd = ids.tx(
        IdentityAction::AddKey {
            identity: alice,
            public_key: key(11).public_key(),
        },
        &key(13),
        Some(&key(11)),
    );
    assert_refused_by_rule(
        ids.refused(readd),
        &IdentityRuleError::KeyInUse {
            public_key: key(11).public_key(),
            identity: alice,
        },
    );
    ids.refused_with(
        IdentityAction::RevokeKey {
            identity: alice,
            public_key: key(11).public_key(),
        },
        13,
        IdentityRuleError::KeyAlreadyRevoked {
            public_key: key(11).public_key(),
            identity: alice,
        },
    );
    // A retired key can still be revoked; the last active one cannot.
    ids.run(
        IdentityAction::RevokeKey {
            identity: alice,
            public_key: key(10).public_key(),
        },
        &key(13),
    );
    ids.refused_with(
        IdentityAction::RevokeKey {
            identity: alice,
            public_key: key(13).public_key(),
        },
        13,
        IdentityRuleError::LastActiveKey {
            public_key: key(13).public_key(),
            identity: alice,
        },
    );
    // Keys of another identity neither act nor get revoked for it.
    ids.refused_with(
        vouch,
        20,
        IdentityRuleError::KeyOfOtherIdentity {
            public_key: key(20).public_key(),
            identity: alice,
            owner: bob,
        },
    );
    ids.refused_with(
        IdentityAction::RevokeKey {
            identity: alice,
            public_key: key(20).public_key(),
        },
        13,
        IdentityRuleError::KeyOfOtherIdentity {
            public_key: key(20).public_key(),
            identity: alice,
            owner: bob,
        },
    );
}

#[test]
fn attributes_are_commitments_attested_and_revoked() {
    let mut ids = IdentityNet::new();
    let alice = ids.register("alice", 10);
    let verifier = ids.register("verifier", 20);
    let email = label("email");
    ids.run(
        IdentityAction::AddAttribute {
            identity: alice,
            label: email.clone(),
            commitment: commitment("alice@example.com"),
        },
        &key(10),
    );
    ids.refused_with(
        IdentityAction::AddAttribute {
            identity: alice,
            label: email.clone(),
            commitment: commitment("other@example.com"),
        },
        10,
        IdentityRuleError::AttributeExists {
            identity: alice,
            label: email.clone(),
        },
    );
    let attest = |value: &str| IdentityAction::Attest {
        verifier,
        subject: alice,
        label: email.clone(),
        commitment: commitment(value),
    };
    ids.refused_with(
        attest("wrong@example.com"),
        20,
        IdentityRuleError::CommitmentMismatch {
            identity: alice,
            label: email.clone(),
            current: commitment("alice@example.com"),
            attested: commitment("wrong@example.com"),
        },
    );
    ids.refused_with(
        IdentityAction::Attest {
            verifier,
            subject: alice,
            label: label("phone"),
            commitment: commitment("+32"),
        },
        20,
        IdentityRuleError::NoSuchAttribute {
            identity: alice,
            label: label("phone"),
        },
    );
    ids.run(attest("alice@example.com"), &key(20));
    assert_eq!(
        ids.state().attestation(&alice, &email, &verifier),
        Some(commitment("alice@example.com"))
    );
    ids.refused_with(
        attest("alice@example.com"),
        20,
        IdentityRuleError::AlreadyAttested {
            subject: alice,
            label: email.clone(),
            verifier,
        },
    );
    let revoke = IdentityAction::RevokeAttestation {
        verifier,
        subject: alice,
        label: email.clone(),
    };
    ids.run(revoke.clone(), &key(20));
    ids.refused_with(
        revoke,
        20,
        IdentityRuleError::NoSuchAttestation {
            subject: alice,
            label: email.clone(),
            verifier,
        },
    );

    // Removing an attribute removes its attestations with it.
    ids.run(attest("alice@example.com"), &key(20));
    let transaction = ids.tx(
        IdentityAction::RemoveAttribute {
            identity: alice,
            label: email.clone(),
        },
        &key(10),
        None,
    );
    let update = ids.mine(vec![transaction]);
    assert_eq!(
        identity_events(&update),
        vec![IdentityEvent::AttributeRemoved {
            identity: alice,
            label: email.clone(),
            commitment: commitment("alice@example.com"),
            verifiers: vec![verifier],
        }]
    );
    assert_eq!(ids.state().attestation(&alice, &email, &verifier), None);
    assert_eq!(ids.state().attribute(&alice, &email), None);
    // The verifier cannot act on the subject's attributes.
    ids.refused_with(
        IdentityAction::AddAttribute {
            identity: alice,
            label: email.clone(),
            commitment: commitment("x"),
        },
        20,
        IdentityRuleError::KeyOfOtherIdentity {
            public_key: key(20).public_key(),
            identity: alice,
            owner: verifier,
        },
    );
}

#[test]
fn organizations_change_only_by_owners_and_ownership_is_inherited() {
    let mut ids = IdentityNet::new();
    let alice = ids.register("alice", 10);
    let bob = ids.register("bob", 20);
    let carol = ids.register("carol", 30);
    let acme = ids.create_organization("acme", alice, 10);
    assert!(ids.state().is_owner(&alice, &acme));
    ids.refused_with(
        IdentityAction::CreateOrganization {
            creator: bob,
            path: OrganizationPath("acme".into()),
        },
        20,
        IdentityRuleError::OrganizationExists {
            path: OrganizationPath("acme".into()),
            organization: acme,
        },
    );
    ids.refused_with(
        IdentityAction::CreateOrganization {
            creator: alice,
            path: OrganizationPath("nowhere.sub".into()),
        },
        10,
        IdentityRuleError::UnknownParent {
            path: OrganizationPath("nowhere.sub".into()),
            parent: OrganizationPath("nowhere".into()),
        },
    );
    // A non-owner can neither invite nor create a sub-organization.
    ids.refused_with(
        IdentityAction::Invite {
            actor: bob,
            organization: acme,
            subject: Subject::Identity(carol),
            role: Role::Member,
        },
        20,
        IdentityRuleError::NotOwner {
            identity: bob,
            path: OrganizationPath("acme".into()),
        },
    );
    ids.refused_with(
        IdentityAction::CreateOrganization {
            creator: bob,
            path: OrganizationPath("acme.sales".into()),
        },
        20,
        IdentityRuleError::NotOwner {
            identity: bob,
            path: OrganizationPath("acme".into()),
        },
    );
    // Alice cannot add Bob without his consent: she invites, he accepts.
    ids.refused_with(
        IdentityAction::AddRole {
            actor: alice,
            organization: acme,
            subject: Subject::Identity(bob),
            role: Role::Owner,
        },
        10,
        IdentityRuleError::CannotActFor {
            identity: alice,
            subject: Subject::Identity(bob),
        },
    );
    ids.run(
        IdentityAction::Invite {
            actor: alice,
            organization: acme,
            subject: Subject::Identity(bob),
            role: Role::Owner,
        },
        &key(10),
    );
    ids.refused_with(
        IdentityAction::AcceptInvitation {
            actor: carol,
            organization: acme,
            subject: Subject::Identity(bob),
        },
        30,
        IdentityRuleError::CannotActFor {
            identity: carol,
            subject: Subject::Identity(bob),
        },
    );
    let accept = ids.tx(
        IdentityAction::AcceptInvitation {
            actor: bob,
            organization: acme,
            subject: Subject::Identity(bob),
        },
        &key(20),
        None,
    );
    let update = ids.mine(vec![accept]);
    assert!(matches!(
        identity_events(&update)[..],
        [
            IdentityEvent::InvitationResolved {
                outcome: chain::domains::identity::InvitationOutcome::Accepted,
                ..
            },
            IdentityEvent::RoleGranted {
                role: Role::Owner,
                previous: None,
                ..
            }
        ]
    ));
    assert_eq!(ids.state().invitation(&acme, &Subject::Identity(bob)), None);

    // Bob, now an owner, creates a sub-organization; its owners are
    // inherited: Alice owns it too without holding a role there.
    let sales = ids.create_organization("acme.sales", bob, 20);
    assert_eq!(ids.state().roles(&sales), Vec::new());
    assert!(ids.state().is_owner(&alice, &sales));
    assert!(ids.state().is_owner(&bob, &sales));
    assert!(!ids.state().is_owner(&carol, &sales));
    ids.run(
        IdentityAction::Invite {
            actor: alice,
            organization: sales,
            subject: Subject::Identity(carol),
            role: Role::Member,
        },
        &key(10),
    );
    // Carol rejects; a second invitation is cancelled by an owner.
    ids.run(
        IdentityAction::RejectInvitation {
            actor: carol,
            organization: sales,
            subject: Subject::Identity(carol),
        },
        &key(30),
    );
    ids.run(
        IdentityAction::Invite {
            actor: bob,
            organization: sales,
            subject: Subject::Identity(carol),
            role: Role::Member,
        },
        &key(20),
    );
    let cancel = ids.tx(
        IdentityAction::RejectInvitation {
            actor: alice,
            organization: sales,
            subject: Subject::Identity(carol),
        },
        &key(10),
        None,
    );
    let update = ids.mine(vec![cancel]);
    assert!(matches!(
        identity_events(&update)[..],
        [IdentityEvent::InvitationResolved {
            outcome: chain::domains::identity::InvitationOutcome::Cancelled,
            ..
        }]
    ));
    ids.refused_with(
        IdentityAction::AcceptInvitation {
            actor: carol,
            organization: sales,
            subject: Subject::Identity(carol),
        },
        30,
        IdentityRuleError::NoSuchInvitation {
            path: OrganizationPath("acme.sales".into()),
            subject: Subject::Identity(carol),
        },
    );
    // Carol joins herself? Only with an owner's consent: AddRole needs both.
    ids.refused_with(
        IdentityAction::AddRole {
            actor: carol,
            organization: sales,
            subject: Subject::Identity(carol),
            role: Role::Member,
        },
        30,
        IdentityRuleError::NotOwner {
            identity: carol,
            path: OrganizationPath("acme.sales".into()),
        },
    );

    // Removing Bob from the parent removes his inherited rights below it.
    ids.run(
        IdentityAction::RemoveRole {
            actor: alice,
            organization: acme,
            subject: Subject::Identity(bob),
        },
        &key(10),
    );
    assert!(!ids.state().is_owner(&bob, &sales));
    ids.refused_with(
        IdentityAction::Invite {
            actor: bob,
            organization: sales,
            subject: Subject::Identity(carol),
            role: Role::Member,
        },
        20,
        IdentityRuleError::NotOwner {
            identity: bob,
            path: OrganizationPath("acme.sales".into()),
        },
    );
    // The last owner of a top-level organization stays.
    ids.refused_with(
        IdentityAction::RemoveRole {
            actor: alice,
            organization: acme,
            subject: Subject::Identity(alice),
        },
        10,
        IdentityRuleError::LastOwner {
            path: OrganizationPath("acme".into()),
            subject: Subject::Identity(alice),
        },
    );
    ids.refused_with(
        IdentityAction::RemoveRole {
            actor: alice,
            organization: acme,
            subject: Subject::Identity(carol),
        },
        10,
        IdentityRuleError::NoRole {
            path: OrganizationPath("acme".into()),
            subject: Subject::Identity(carol),
        },
    );
}

#[test]
fn an_organization_owning_another_passes_ownership_to_its_owners() {
    let mut ids = IdentityNet::new();
    let alice = ids.register("alice", 10);
    let dave = ids.register("dave", 40);
    let acme = ids.create_organization("acme", alice, 10);
    let ops = ids.create_organization("ops", dave, 40);
    ids.refused_with(
        IdentityAction::Invite {
            actor: alice,
            organization: acme,
            subject: Subject::Organization(acme),
            role: Role::Owner,
        },
        10,
        IdentityRuleError::SelfRole { organization: acme },
    );
    // Alice invites the organization ops; its owner Dave accepts for it.
    ids.run(
        IdentityAction::Invite {
            actor: alice,
            organization: acme,
            subject: Subject::Organization(ops),
            role: Role::Owner,
        },
        &key(10),
    );
    assert!(!ids.state().is_owner(&dave, &acme));
    ids.run(
        IdentityAction::AcceptInvitation {
            actor: dave,
            organization: acme,
            subject: Subject::Organization(ops),
        },
        &key(40),
    );
    assert!(ids.state().is_owner(&dave, &acme));
    let sales = ids.create_organization("acme.sales", dave, 40);
    assert!(ids.state().is_owner(&dave, &sales));
    assert!(ids.state().is_member(&dave, &sales));
    // Ops owning acme while acme owns ops is a cycle the check survives.
    ids.run(
        IdentityAction::Invite {
            actor: dave,
            organization: ops,
            subject: Subject::Organization(acme),
            role: Role::Owner,
        },
        &key(40),
    );
    ids.run(
        IdentityAction::AcceptInvitation {
            actor: alice,
            organization: ops,
            subject: Subject::Organization(acme),
        },
        &key(10),
    );
    let eve = ids.register("eve", 50);
    assert!(!ids.state().is_owner(&eve, &acme));
    assert!(ids.state().is_owner(&alice, &ops));
}

#[test]
fn vouches_and_authorizations_are_granted_replaced_and_withdrawn() {
    let mut ids = IdentityNet::new();
    let alice = ids.register("alice", 10);
    let bob = ids.register("bob", 20);
    let acme = ids.create_organization("acme", bob, 20);
    let vouch = |weight| IdentityAction::Vouch {
        voucher: alice,
        target: bob,
        weight,
        claim: Some("worked together".into()),
    };
    ids.run(vouch(10), &key(10));
    ids.run(vouch(90), &key(10));
    assert_eq!(
        ids.state().vouch(&alice, &bob),
        Some((90, Some("worked together")))
    );
    let withdraw = IdentityAction::WithdrawVouch {
        voucher: alice,
        target: bob,
    };
    ids.run(withdraw.clone(), &key(10));
    ids.refused_with(
        withdraw,
        10,
        IdentityRuleError::NoSuchVouch {
            voucher: alice,
            target: bob,
        },
    );
    let nobody = IdentityId(ledger::Hash32([9; 32]));
    ids.refused_with(
        IdentityAction::Vouch {
            voucher: alice,
            target: nobody,
            weight: 1,
            claim: None,
        },
        10,
        IdentityRuleError::UnknownIdentity { identity: nobody },
    );

    let grant = |scopes: &[&str]| IdentityAction::GrantAuthorization {
        identity: alice,
        organization: acme,
        scopes: scopes.iter().map(|s| label(s)).collect(),
    };
    ids.run(grant(&["email"]), &key(10));
    ids.run(grant(&["email", "phone"]), &key(10));
    assert_eq!(
        ids.state().authorization(&alice, &acme),
        Some(&[label("email"), label("phone")][..])
    );
    let revoke = IdentityAction::RevokeAuthorization {
        identity: alice,
        organization: acme,
    };
    ids.run(revoke.clone(), &key(10));
    ids.refused_with(
        revoke,
        10,
        IdentityRuleError::NoSuchAuthorization {
            identity: alice,
            organization: acme,
        },
    );
    let unknown = OrganizationId(ledger::Hash32([8; 32]));
    ids.refused_with(
        IdentityAction::GrantAuthorization {
            identity: alice,
            organization: unknown,
            scopes: vec![label("email")],
        },
        10,
        IdentityRuleError::UnknownOrganization {
            organization: unknown,
        },
    );
}

#[test]
fn a_reopened_store_replays_the_identity_domain() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("chain.redb");
    let mut ids = IdentityNet::new();
    let alice = ids.register("alice", 10);
    let acme = ids.create_organization("acme", alice, 10);
    ids.run(
        IdentityAction::AddAttribute {
            identity: alice,
            label: label("email"),
            commitment: commitment("alice@example.com"),
        },
        &key(10),
    );
    let config = ids.net.chain.config().clone();
    let clock = Arc::new(ids.net.clock.clone());
    let commitment_before = {
        let store = RedbStore::open(&path, &config).unwrap();
        let domains = chain::domains::standard(&config);
        let mut stored = Chain::open(config.clone(), clock.clone(), store, domains)
            .unwrap()
            .chain;
        for height in 1..=ids.net.chain.height().0 {
            let id = ids
                .net
                .chain
                .main_chain_id(ledger::BlockHeight(height))
                .unwrap();
            stored
                .accept_block(ids.net.chain.block(&id).unwrap().unwrap())
                .unwrap();
        }
        assert_eq!(
            stored.state().commitment(),
            ids.net.chain.state().commitment()
        );
        stored.state().commitment()
    };
    let store = RedbStore::open(&path, &config).unwrap();
    let domains = chain::domains::standard(&config);
    let reopened = Chain::open(config, clock, store, domains).unwrap().chain;
    assert_eq!(reopened.state().commitment(), commitment_before);
    let state = identity_state(&reopened);
    assert_eq!(
        state.identity_by_name(&IdentityName("alice".into())),
        Some(alice)
    );
    assert!(state.is_owner(&alice, &acme));
    assert_eq!(
        state.attribute(&alice, &label("email")),
        Some(commitment("alice@example.com"))
    );
}

#[test]
fn an_identity_payload_needs_a_coin_input() {
    let ids = IdentityNet::new();
    let mut transaction = Transaction::new();
    sign_into(
        &mut transaction,
        IdentityOperation::unsigned(register_action("frank", &key(10)), key(10).public_key()),
        &ids.net.params().chain_id,
        &key(10),
        None,
    );
    let error = ledger::validation::validate_transaction(
        &transaction,
        &ids.net.params(),
        ledger::validation::FeeRule::Exempt,
    )
    .unwrap_err();
    assert!(error.to_string().contains("needs at least one"), "{error}");
}
