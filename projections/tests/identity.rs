//! The identity read model against a real chain, real NATS JetStream and
//! real PostgreSQL: identities, keys rotated and revoked, attributes and
//! attestations, organizations with a sub-organization, invitations,
//! roles, vouches and authorizations are mined and published block by
//! block as a node publishes them, and two branches race for one name
//! (the heavier wins after a reorg). Then: the rows agree with the chain
//! state (the name belongs to the winner, key statuses and history,
//! roles, invitations), the losing branch left nothing behind (equal to
//! folding only the final chain), and incremental equals rebuild.

#![allow(clippy::unwrap_used)] // test harness: a failed setup step should fail the test loudly

#[path = "../../ledger/chain/tests/common/mod.rs"]
mod common;
#[path = "support/harness.rs"]
mod harness;
#[path = "support/mod.rs"]
mod support;

use std::sync::Arc;

use common::identity::{IdentityNet, commitment, label, register_action};
use common::{Net, key, test_config};
use harness::Harness;
use ledger::payload::identity::{IdentityAction, IdentityName, Role, Subject};
use ledger::{IdentityId, OrganizationId};
use projections::identity::{IDENTITY_MIGRATOR, Identity};
use sqlx::Row;

/// Publishes every update `ids` produced since the last call.
async fn flush(h: &mut Harness, ids: &mut IdentityNet) {
    for update in std::mem::take(&mut ids.updates) {
        h.publish_update(&ids.net.chain, &update).await;
    }
}

fn hex32(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

#[tokio::test]
async fn identity_model_follows_the_chain_through_a_name_race_and_equals_its_rebuild() {
    let mut h = Harness::new("identity").await;
    let config = test_config();
    let model = Arc::new(Identity::new());
    let mut live = h.start(model.clone(), &config);
    h.publish_genesis(&config).await;

    // Branch a: everything but the race.
    let mut a = IdentityNet::new();
    let mut b = IdentityNet::follower(Net::new(config.clone()));
    let split = a.net.chain.block(&a.net.chain.tip().id).unwrap().unwrap();
    b.net.accept(split).unwrap();
    let alice = a.register("alice", 10);
    let bob = a.register("bob", 20);
    let verifier = a.register("verifier", 30);
    // Keys: add 11, rotate 10 → 12, revoke 11.
    let add = a.tx(
        IdentityAction::AddKey {
            identity: alice,
            public_key: key(11).public_key(),
        },
        &key(10),
        Some(&key(11)),
    );
    a.mine(vec![add]);
    let rotate = a.tx(
        IdentityAction::RotateKey {
            identity: alice,
            old_key: key(10).public_key(),
            new_key: key(12).public_key(),
        },
        &key(10),
        Some(&key(12)),
    );
    a.mine(vec![rotate]);
    a.run(
        IdentityAction::RevokeKey {
            identity: alice,
            public_key: key(11).public_key(),
        },
        &key(12),
    );
    // Attributes and attestations: phone attested then revoked, email
    // attested then removed with its attestation.
    for (name, value) in [
        ("email", "alice@example.com"),
        ("phone", "+32 470 00 00 00"),
    ] {
        a.run(
            IdentityAction::AddAttribute {
                identity: alice,
                label: label(name),
                commitment: commitment(value),
            },
            &key(12),
        );
        a.run(
            IdentityAction::Attest {
                verifier,
                subject: alice,
                label: label(name),
                commitment: commitment(value),
            },
            &key(30),
        );
    }
    a.run(
        IdentityAction::RevokeAttestation {
            verifier,
            subject: alice,
            label: label("phone"),
        },
        &key(30),
    );
    a.run(
        IdentityAction::RemoveAttribute {
            identity: alice,
            label: label("email"),
        },
        &key(12),
    );
    // Organizations: acme (alice), acme.sales (bob after accepting
    // ownership), carol's invitation replaced then rejected.
    let acme = a.create_organization("acme", alice, 12);
    a.run(
        IdentityAction::Invite {
            actor: alice,
            organization: acme,
            subject: Subject::Identity(bob),
            role: Role::Owner,
        },
        &key(12),
    );
    a.run(
        IdentityAction::AcceptInvitation {
            actor: bob,
            organization: acme,
            subject: Subject::Identity(bob),
        },
        &key(20),
    );
    let sales = a.create_organization("acme.sales", bob, 20);
    for role in [Role::Owner, Role::Member] {
        a.run(
            IdentityAction::Invite {
                actor: alice,
                organization: sales,
                subject: Subject::Identity(verifier),
                role,
            },
            &key(12),
        );
    }
    a.run(
        IdentityAction::RejectInvitation {
            actor: verifier,
            organization: sales,
            subject: Subject::Identity(verifier),
        },
        &key(30),
    );
    // Trust and consent.
    a.run(
        IdentityAction::Vouch {
            voucher: bob,
            target: alice,
            weight: 80,
            claim: Some("colleague since 2019".into()),
        },
        &key(20),
    );
    a.run(
        IdentityAction::Vouch {
            voucher: verifier,
            target: alice,
            weight: 5,
            claim: None,
        },
        &key(30),
    );
    a.run(
        IdentityAction::GrantAuthorization {
            identity: alice,
            organization: acme,
            scopes: vec![label("email"), label("phone")],
        },
        &key(12),
    );
    // Shared so far with branch b.
    for update in &a.updates {
        for id in &update.applied {
            let block = a.net.chain.block(id).unwrap().unwrap();
            if b.net.chain.node(id).is_none() {
                b.net.accept(block).unwrap();
            }
        }
    }
    flush(&mut h, &mut a).await;

    // The race: a registers "dave" for key 40, b for key 41 and b's
    // branch is heavier.
    let for_x = a.tx(register_action("dave", &key(40)), &key(40), None);
    let for_y = b.tx(register_action("dave", &key(41)), &key(41), None);
    let (x, y) = (
        IdentityId::for_registration(&for_x.id()),
        IdentityId::for_registration(&for_y.id()),
    );
    a.mine(vec![for_x]);
    flush(&mut h, &mut a).await;
    let seq = h.last_seq().await;
    h.wait_for("identity", seq, &mut live).await;
    let mut db = h.connection("identity").await;
    let owner_of_dave =
        || sqlx::query_scalar::<_, Vec<u8>>("SELECT id FROM identity WHERE name = 'dave'");
    assert_eq!(
        owner_of_dave().fetch_one(&mut db).await.unwrap(),
        x.0.0.to_vec()
    );

    b.mine(vec![for_y]);
    b.mine(Vec::new());
    for update in std::mem::take(&mut b.updates) {
        for id in &update.applied {
            let block = b.net.chain.block(id).unwrap().unwrap();
            let switched = a.net.accept(block).unwrap();
            h.publish_update(&a.net.chain, &switched).await;
        }
    }
    assert_eq!(
        a.state().identity_by_name(&IdentityName("dave".into())),
        Some(y)
    );
    let tip = a.net.chain.height().0;
    let seq = h.last_seq().await;
    h.wait_for("identity", seq, &mut live).await;

    // The read model agrees with the chain after the reorg.
    assert_eq!(
        owner_of_dave().fetch_one(&mut db).await.unwrap(),
        y.0.0.to_vec()
    );
    let dave_keys: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT public_key FROM identity_key WHERE identity = $1")
            .bind(y.0.0.to_vec())
            .fetch_all(&mut db)
            .await
            .unwrap();
    assert_eq!(dave_keys, vec![key(41).public_key().0.to_vec()]);
    let x_left: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM identity WHERE id = $1)
              + (SELECT count(*) FROM identity_key WHERE identity = $1)
              + (SELECT count(*) FROM activity WHERE concerns = $1)",
    )
    .bind(x.0.0.to_vec())
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(x_left, 0, "the losing registration left rows behind");
    // Every identity of the chain state, by name, and nothing else.
    let names: Vec<(String, Vec<u8>)> =
        sqlx::query_as("SELECT name, id FROM identity ORDER BY name")
            .fetch_all(&mut db)
            .await
            .unwrap();
    for (name, id) in &names {
        assert_eq!(
            a.state()
                .identity_by_name(&IdentityName(name.clone()))
                .map(|id| id.0.0.to_vec()),
            Some(id.clone())
        );
    }
    assert_eq!(
        names
            .iter()
            .map(|(name, _)| name.as_str())
            .collect::<Vec<_>>(),
        ["alice", "bob", "dave", "verifier"]
    );

    // Keys: status and history equal the chain's.
    let keys = sqlx::query(
        "SELECT public_key, status, added_by, replaces, replaced_by, retired_height,
                revoked_height
           FROM identity_key WHERE identity = $1 ORDER BY added_height",
    )
    .bind(alice.0.0.to_vec())
    .fetch_all(&mut db)
    .await
    .unwrap();
    let summary: Vec<(String, String, String)> = keys
        .iter()
        .map(|row| {
            (
                hex32(&row.get::<Vec<u8>, _>(0)),
                row.get::<String, _>(1),
                row.get::<String, _>(2),
            )
        })
        .collect();
    let hexkey = |seed: u8| hex32(&key(seed).public_key().0);
    assert_eq!(
        summary,
        [
            (hexkey(10), "retired".into(), "registration".into()),
            (hexkey(11), "revoked".into(), "added".into()),
            (hexkey(12), "active".into(), "rotation".into()),
        ]
    );
    for row in &keys {
        let public_key: [u8; 32] = row.get::<Vec<u8>, _>(0).try_into().unwrap();
        let status = a
            .state()
            .key(&ledger::PublicKey(public_key))
            .unwrap()
            .status
            .name();
        assert_eq!(row.get::<String, _>(1), status);
    }
    assert_eq!(
        keys[0].get::<Option<Vec<u8>>, _>(4),
        Some(key(12).public_key().0.to_vec())
    );
    assert_eq!(
        keys[2].get::<Option<Vec<u8>>, _>(3),
        Some(key(10).public_key().0.to_vec())
    );
    assert!(keys[0].get::<Option<i64>, _>(5).is_some());
    assert!(keys[1].get::<Option<i64>, _>(6).is_some());
    let active_keys: i32 = sqlx::query_scalar("SELECT active_keys FROM identity WHERE id = $1")
        .bind(alice.0.0.to_vec())
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(
        active_keys as u32,
        a.state().identity(&alice).unwrap().active_keys
    );

    // Attributes: only the phone remains; attestations say why they ended.
    let attributes: Vec<(String, Vec<u8>)> =
        sqlx::query_as("SELECT label, commitment FROM attribute WHERE identity = $1")
            .bind(alice.0.0.to_vec())
            .fetch_all(&mut db)
            .await
            .unwrap();
    assert_eq!(
        attributes,
        [(
            "phone".to_owned(),
            commitment("+32 470 00 00 00").0.0.to_vec()
        )]
    );
    let attestations: Vec<(String, String)> =
        sqlx::query_as("SELECT label, status FROM attestation WHERE subject = $1 ORDER BY label")
            .bind(alice.0.0.to_vec())
            .fetch_all(&mut db)
            .await
            .unwrap();
    assert_eq!(
        attestations,
        [
            ("email".into(), "attribute_removed".into()),
            ("phone".into(), "revoked".into())
        ]
    );

    // Organizations: the tree by path prefix, roles, invitations.
    let tree: Vec<(String, Option<Vec<u8>>, i32)> = sqlx::query_as(
        "SELECT path, parent, depth FROM organization
          WHERE path = 'acme' OR path LIKE 'acme.%' ORDER BY path",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    assert_eq!(
        tree,
        [
            ("acme".into(), None, 1),
            ("acme.sales".into(), Some(acme.0.0.to_vec()), 2)
        ]
    );
    let roles: Vec<(Vec<u8>, String, String)> = sqlx::query_as(
        "SELECT subject, subject_kind, role FROM organization_role
          WHERE organization = $1 ORDER BY role DESC, subject",
    )
    .bind(acme.0.0.to_vec())
    .fetch_all(&mut db)
    .await
    .unwrap();
    let mut expected_roles: Vec<(Vec<u8>, String, String)> = a
        .state()
        .roles(&acme)
        .into_iter()
        .map(|(subject, role)| match subject {
            Subject::Identity(id) => (id.0.0.to_vec(), "identity".into(), role.name().into()),
            Subject::Organization(OrganizationId(id)) => {
                (id.0.to_vec(), "organization".into(), role.name().into())
            }
        })
        .collect();
    expected_roles.sort_by(|l, r| r.2.cmp(&l.2).then(l.0.cmp(&r.0)));
    assert_eq!(roles, expected_roles);
    assert_eq!(roles.len(), 2);
    let invitations: Vec<(String, String)> = sqlx::query_as(
        "SELECT role, status FROM invitation WHERE organization = $1
          ORDER BY invited_height, invited_tx_index",
    )
    .bind(sales.0.0.to_vec())
    .fetch_all(&mut db)
    .await
    .unwrap();
    assert_eq!(
        invitations,
        [
            ("owner".into(), "replaced".into()),
            ("member".into(), "rejected".into())
        ]
    );
    let accepted: String = sqlx::query_scalar(
        "SELECT status FROM invitation WHERE organization = $1 AND subject = $2",
    )
    .bind(acme.0.0.to_vec())
    .bind(bob.0.0.to_vec())
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(accepted, "accepted");

    // Vouches by target, authorizations with scopes.
    let vouches: Vec<(Vec<u8>, i16, Option<String>)> = sqlx::query_as(
        "SELECT voucher, weight, claim FROM vouch WHERE target = $1 ORDER BY weight DESC",
    )
    .bind(alice.0.0.to_vec())
    .fetch_all(&mut db)
    .await
    .unwrap();
    assert_eq!(
        vouches,
        [
            (
                bob.0.0.to_vec(),
                80,
                Some("colleague since 2019".to_owned())
            ),
            (verifier.0.0.to_vec(), 5, None)
        ]
    );
    let scopes: Vec<String> = sqlx::query_scalar(
        "SELECT scopes FROM authorization_grant WHERE identity = $1 AND organization = $2",
    )
    .bind(alice.0.0.to_vec())
    .bind(acme.0.0.to_vec())
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(scopes, ["email", "phone"]);
    let feed: i64 = sqlx::query_scalar("SELECT count(*) FROM activity WHERE concerns = $1")
        .bind(alice.0.0.to_vec())
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert!(feed >= 15, "alice's activity feed has {feed} entries");
    drop(db);

    // Folding only the final chain gives the same rows, and so does a
    // rebuild while the live writer runs.
    let incremental = h.dump("identity").await;
    let replayed = h
        .replay_main_chain(
            model.as_ref(),
            &IDENTITY_MIGRATOR,
            &a.net.chain,
            config.consensus.finality_depth,
        )
        .await;
    assert_eq!(replayed, incremental);
    let rebuild_took = h
        .check_rebuild(model.clone(), &live, tip, &incremental)
        .await;
    eprintln!(
        "identity: {tip} blocks; rebuild took {rebuild_took:?}; rows per table: {:?}",
        incremental
            .iter()
            .map(|(table, rows)| (table.as_str(), rows.len()))
            .collect::<Vec<_>>()
    );
    h.finish(live).await;
}
