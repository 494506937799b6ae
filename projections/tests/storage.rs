//! The storage read model against a real chain, real NATS JetStream and
//! real PostgreSQL: an identity registers nine nodes over three
//! datacenters and an object placed by the placement function; a holder
//! reports it is leaving (the object turns degraded), the repair is
//! recorded (optimal again), a node retires. Rows follow the chain, and
//! incremental equals rebuild.

#![allow(clippy::unwrap_used)] // test harness: a failed setup step should fail the test loudly

#[path = "../../ledger/chain/tests/common/mod.rs"]
mod common;
#[path = "support/harness.rs"]
mod harness;
#[path = "support/mod.rs"]
mod support;

use std::sync::Arc;

use chain::domains::storage::StorageState;
use chain::domains::storage::placement::{PlacementRequest, place, rebalance};
use common::identity::IdentityNet;
use common::key;
use harness::Harness;
use ledger::crypto::SecretKey;
use ledger::payload::storage::{
    DomainLevel, ErasurePolicy, NodeState, ObjectId, StorageAction, StorageNodeId, Tolerance,
};
use ledger::{Hash32, TransactionId};
use projections::storage::Storage;
use sqlx::Row;

fn run(ids: &mut IdentityNet, action: StorageAction, signer: &SecretKey) -> TransactionId {
    ids.run_storage(action, signer)
}

async fn flush(h: &mut Harness, ids: &mut IdentityNet) {
    for update in std::mem::take(&mut ids.updates) {
        h.publish_update(&ids.net.chain, &update).await;
    }
}

/// Shards whose desired node differs from their holder: (index, desired).
async fn moves_wanted(h: &Harness, object: &ObjectId) -> Vec<(i32, Option<Vec<u8>>)> {
    let mut connection = h.connection("storage").await;
    sqlx::query(
        "SELECT shard_index, desired_node FROM storage_shard
         WHERE object = $1 AND desired_node IS DISTINCT FROM node ORDER BY shard_index",
    )
    .bind(object.0.0.to_vec())
    .fetch_all(&mut connection)
    .await
    .unwrap()
    .iter()
    .map(|row| (row.get("shard_index"), row.get("desired_node")))
    .collect()
}

async fn health(h: &Harness, object: &ObjectId) -> (String, i32) {
    let mut connection = h.connection("storage").await;
    let row = sqlx::query("SELECT health, live_shards FROM storage_object_health WHERE id = $1")
        .bind(object.0.0.to_vec())
        .fetch_one(&mut connection)
        .await
        .unwrap();
    (row.get("health"), row.get("live_shards"))
}

#[tokio::test]
async fn storage_model_follows_nodes_objects_and_health_and_equals_its_rebuild() {
    let mut h = Harness::new("storage").await;
    let config = common::test_config();
    let model = Arc::new(Storage);
    let mut live = h.start(model.clone(), &config);
    h.publish_genesis(&config).await;

    let mut ids = IdentityNet::new();
    let alice = ids.register("alice", 10);
    let owner = key(10);
    for index in 0..9u8 {
        run(
            &mut ids,
            StorageAction::RegisterNode {
                owner: alice,
                node_key: key(100 + index).public_key(),
                endpoint: format!("http://127.0.0.1:{}", 9400 + u16::from(index)),
                domain: format!("eu/dc{}/farm{index}", index / 3).parse().unwrap(),
                capacity_bytes: 1 << 30,
            },
            &owner,
        );
    }
    let state = |ids: &IdentityNet| {
        ids.net
            .chain
            .state()
            .domain::<StorageState>()
            .unwrap()
            .clone()
    };
    let nodes = state(&ids).placement_nodes();
    let policy = ErasurePolicy {
        data_shards: 4,
        parity_shards: 2,
        tolerance: Tolerance {
            level: DomainLevel::Datacenter,
            domains: 1,
            nodes: 0,
        },
    };
    let salt = [7; 16];
    let object = ObjectId::derive(&owner.public_key(), &salt);
    let request = PlacementRequest {
        object,
        policy,
        shard_bytes: 1 << 20,
    };
    let placement = place(&request, &nodes).unwrap();
    run(
        &mut ids,
        StorageAction::RegisterObject {
            owner: alice,
            salt,
            size: 4 << 20,
            policy,
            chunk_bytes: 1 << 20,
            content_hash: Hash32([1; 32]),
            key_fingerprint: Hash32([2; 32]),
            shard_checksums: (0..6u8).map(|i| Hash32([i + 10; 32])).collect(),
            shard_nodes: placement.shards.clone(),
        },
        &owner,
    );
    flush(&mut h, &mut ids).await;
    h.wait_for("storage", h.last_seq().await, &mut live).await;

    let mut connection = h.connection("storage").await;
    let per_datacenter: Vec<(String, i64)> = sqlx::query(
        "SELECT datacenter, COUNT(*) AS nodes FROM storage_node GROUP BY datacenter ORDER BY datacenter",
    )
    .fetch_all(&mut connection)
    .await
    .unwrap()
    .iter()
    .map(|row| (row.get("datacenter"), row.get("nodes")))
    .collect();
    assert_eq!(
        per_datacenter,
        vec![("dc0".into(), 3), ("dc1".into(), 3), ("dc2".into(), 3)]
    );
    let shards: Vec<Vec<u8>> =
        sqlx::query("SELECT node FROM storage_shard WHERE object = $1 ORDER BY shard_index")
            .bind(object.0.0.to_vec())
            .fetch_all(&mut connection)
            .await
            .unwrap()
            .iter()
            .map(|row| row.get("node"))
            .collect();
    let expected: Vec<Vec<u8>> = placement.shards.iter().map(|id| id.0.0.to_vec()).collect();
    assert_eq!(shards, expected);
    assert_eq!(health(&h, &object).await, ("optimal".to_string(), 6));
    // The desired placement is where the shards are.
    assert_eq!(moves_wanted(&h, &object).await, vec![]);

    // The holder of shard 0 is leaving: degraded.
    let leaving = placement.shards[0];
    let node_key = (100..109u8)
        .map(key)
        .find(|secret| state(&ids).node(&leaving).unwrap().node_key == secret.public_key())
        .unwrap();
    run(
        &mut ids,
        StorageAction::ReportNode {
            node: leaving,
            state: NodeState::Leaving,
            free_bytes: 0,
        },
        &node_key,
    );
    flush(&mut h, &mut ids).await;
    h.wait_for("storage", h.last_seq().await, &mut live).await;
    assert_eq!(health(&h, &object).await, ("degraded".to_string(), 5));
    let reported: Option<i64> =
        sqlx::query("SELECT reported_height FROM storage_node WHERE id = $1")
            .bind(leaving.0.0.to_vec())
            .fetch_one(&mut connection)
            .await
            .unwrap()
            .get("reported_height");
    assert_eq!(reported, Some(ids.net.chain.height().0 as i64));

    // The repair is recorded: optimal again; then the node retires.
    let current: Vec<Option<StorageNodeId>> = placement.shards.iter().copied().map(Some).collect();
    let repaired = rebalance(&request, &state(&ids).placement_nodes(), &current).unwrap();
    // The read model's desired placement moves exactly shard 0, where the
    // chain's placement function puts it.
    assert_ne!(repaired.shards[0], leaving);
    assert_eq!(
        moves_wanted(&h, &object).await,
        vec![(0, Some(repaired.shards[0].0.0.to_vec()))]
    );
    run(
        &mut ids,
        StorageAction::RecordRepair {
            object,
            moves: vec![(0, repaired.shards[0])],
        },
        &owner,
    );
    run(
        &mut ids,
        StorageAction::RetireNode { node: leaving },
        &owner,
    );
    flush(&mut h, &mut ids).await;
    h.wait_for("storage", h.last_seq().await, &mut live).await;
    assert_eq!(health(&h, &object).await, ("optimal".to_string(), 6));
    assert_eq!(moves_wanted(&h, &object).await, vec![]);
    let row = sqlx::query("SELECT repairs FROM storage_object WHERE id = $1")
        .bind(object.0.0.to_vec())
        .fetch_one(&mut connection)
        .await
        .unwrap();
    assert_eq!(row.get::<i32, _>("repairs"), 1);
    let retired: String = sqlx::query("SELECT state FROM storage_node WHERE id = $1")
        .bind(leaving.0.0.to_vec())
        .fetch_one(&mut connection)
        .await
        .unwrap()
        .get("state");
    assert_eq!(retired, "retired");
    drop(connection);

    let incremental = h.dump("storage").await;
    let tip = ids.net.chain.height().0;
    h.check_rebuild(model, &live, tip, &incremental).await;
    h.finish(live).await;
}
