//! The storage queries against the real stack: storage operations checked
//! by the storage domain's rules on a chain of real identities, their
//! blocks published to a JetStream stream of their own, folded by the
//! projector runtime (identity and storage models) into a fresh database,
//! and queried through the API's schema.
//!
//! Covered: nodes grouped by failure domain with totals and last reports;
//! an object's public metadata and health by ID, its shard locations only
//! for the owner's token (UNAUTHENTICATED without, FORBIDDEN for another
//! identity); the owner's object list (others' lists FORBIDDEN);
//! what-if-datacenter-lost (empty while placement holds, the object named
//! once a holder elsewhere leaves, refused for a malformed or unknown
//! datacenter); overhead against 3× replication; health degraded →
//! optimal through a recorded repair, with the desired placement.

#![allow(clippy::unwrap_used)] // test harness: a failed setup step should fail the test loudly

#[path = "../../../ledger/chain/tests/common/mod.rs"]
mod common;
#[path = "../../../projections/tests/support/harness.rs"]
mod harness;
#[path = "../../../projections/tests/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use api::login::{BearerToken, TokenClaims};
use api::submit::NatsSubmitter;
use api::{ApiSchema, ApiState, Limits, Network};
use chain::domains::storage::StorageState;
use chain::domains::storage::placement::{PlacementRequest, place, rebalance};
use chain::stream::submit_subject;
use common::identity::IdentityNet;
use common::key;
use harness::{Harness, Live};
use ledger::IdentityId;
use ledger::payload::storage::{
    DomainLevel, ErasurePolicy, NodeState, ObjectId, StorageAction, StorageNodeId, Tolerance,
};
use ledger::{Hash32, crypto::SecretKey};
use serde_json::{Value, json};
use sqlx::postgres::PgPoolOptions;

/// Runs a query; returns `data` or the first error's code.
async fn run(
    schema: &ApiSchema,
    query: &str,
    variables: Value,
    token: Option<&str>,
) -> Result<Value, String> {
    let mut request = async_graphql::Request::new(query)
        .variables(async_graphql::Variables::from_json(variables));
    if let Some(token) = token {
        request = request.data(BearerToken(token.to_owned()));
    }
    let response = schema.execute(request).await;
    if let Some(error) = response.errors.first() {
        let code = error
            .extensions
            .as_ref()
            .and_then(|extensions| extensions.get("code"))
            .map(|code| code.to_string())
            .unwrap_or_else(|| format!("no code: {}", error.message));
        return Err(code.trim_matches('"').to_owned());
    }
    Ok(response.data.into_json().unwrap())
}

fn policy(k: u8, m: u8, domains: u8, nodes: u8) -> ErasurePolicy {
    ErasurePolicy {
        data_shards: k,
        parity_shards: m,
        tolerance: Tolerance {
            level: DomainLevel::Datacenter,
            domains,
            nodes,
        },
    }
}

fn storage(ids: &IdentityNet) -> StorageState {
    ids.net
        .chain
        .state()
        .domain::<StorageState>()
        .unwrap()
        .clone()
}

/// Registers an object placed by the placement function; returns its ID
/// and shard nodes.
fn put(
    ids: &mut IdentityNet,
    owner: IdentityId,
    signer: &SecretKey,
    salt: u8,
    size: u64,
    policy: ErasurePolicy,
) -> (ObjectId, Vec<StorageNodeId>) {
    let object = ObjectId::derive(&signer.public_key(), &[salt; 16]);
    let request = PlacementRequest {
        object,
        policy,
        shard_bytes: 1 << 20,
    };
    let placement = place(&request, &storage(ids).placement_nodes()).unwrap();
    ids.run_storage(
        StorageAction::RegisterObject {
            owner,
            salt: [salt; 16],
            size,
            policy,
            chunk_bytes: 1 << 20,
            content_hash: Hash32([salt; 32]),
            key_fingerprint: Hash32([salt + 1; 32]),
            shard_checksums: (0..policy.total_shards())
                .map(|i| Hash32([i as u8; 32]))
                .collect(),
            shard_nodes: placement.shards.clone(),
        },
        signer,
    );
    (object, placement.shards)
}

async fn flush(h: &mut Harness, ids: &mut IdentityNet, models: &mut [&mut Live]) {
    for update in std::mem::take(&mut ids.updates) {
        h.publish_update(&ids.net.chain, &update).await;
    }
    let seq = h.last_seq().await;
    for (name, live) in ["identity", "storage"].into_iter().zip(models.iter_mut()) {
        h.wait_for(name, seq, live).await;
    }
}

const OBJECT: &str = "query($id: String!) { storageObject(id: $id) { id owner size dataShards parityShards policy health liveShards repairs movesWanted placementError } }";
const SHARDS: &str = "query($id: String!) { storageObject(id: $id) { shards { index checksum live desiredNode node { id datacenter state } } } }";
const WHAT_IF: &str = "query($dc: String!) { whatIfDatacenterLost(datacenter: $dc) { datacenter nodes objectsTouched lostCount objectsLost { survivingShards neededShards object { id health } } } }";

#[tokio::test]
async fn storage_queries_group_nodes_guard_objects_and_answer_what_if() {
    let mut h = Harness::new("apistorage").await;
    let config = common::test_config();
    let mut identities = h.start(Arc::new(projections::identity::Identity), &config);
    let mut storage_live = h.start(Arc::new(projections::storage::Storage), &config);
    h.publish_genesis(&config).await;

    let mut ids = IdentityNet::new();
    let alice = ids.register("alice", 10);
    let bob = ids.register("bob", 11);
    let owner = key(10);
    for index in 0..9u8 {
        ids.run_storage(
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
    let survive_dc = policy(4, 2, 1, 0);
    let (first, first_nodes) = put(&mut ids, alice, &owner, 1, 4 << 20, survive_dc);
    let (second, _) = put(&mut ids, alice, &owner, 2, 3 << 20, policy(2, 1, 1, 0));
    flush(&mut h, &mut ids, &mut [&mut identities, &mut storage_live]).await;

    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect_with(h.options.clone())
        .await
        .unwrap();
    let login = Arc::new(api::login::LoginConfig::ephemeral());
    let state = ApiState {
        pool,
        network: Network::new(h.network.clone(), config.clone()),
        limits: Limits::default(),
        nats: Some(h.client.clone()),
        submitter: Arc::new(NatsSubmitter {
            client: h.client.clone(),
            subject: submit_subject(&h.network),
            timeout: Duration::from_secs(5),
        }),
        login: login.clone(),
    };
    let schema = api::build_schema(state);
    let token = |identity: IdentityId, seed: u8| {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        login.secret.token(&TokenClaims {
            chain_id: config.params.chain_id.0.0,
            identity_id: identity.0.0,
            public_key: key(seed).public_key(),
            issued_at: now,
            expires_at: now + 3_600,
        })
    };
    let (alice_token, bob_token) = (token(alice, 10), token(bob, 11));

    // Nodes by failure domain, with totals.
    let data = run(
        &schema,
        "{ storageDomains { name totals { nodes capacityBytes shards } datacenters { path totals { nodes healthyNodes capacityBytes usedBytes shards } farms { path nodes { domain state capacityBytes shards lastReportHeight } } } } }",
        json!({}),
        None,
    )
    .await
    .unwrap();
    let regions = data["storageDomains"].as_array().unwrap();
    assert_eq!(regions.len(), 1);
    assert_eq!(regions[0]["name"], "eu");
    assert_eq!(
        regions[0]["totals"],
        json!({ "nodes": 9, "capacityBytes": 9i64 << 30, "shards": 9 })
    );
    let datacenters = regions[0]["datacenters"].as_array().unwrap();
    let paths: Vec<&str> = datacenters
        .iter()
        .map(|dc| dc["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["eu/dc0", "eu/dc1", "eu/dc2"]);
    for dc in datacenters {
        assert_eq!(dc["totals"]["nodes"], 3);
        assert_eq!(dc["totals"]["healthyNodes"], 3);
        assert_eq!(dc["totals"]["capacityBytes"], 3i64 << 30);
        // The 4+2 object keeps at most two shards per datacenter.
        assert!(dc["totals"]["shards"].as_i64().unwrap() <= 3);
        assert_eq!(dc["farms"].as_array().unwrap().len(), 3);
        let node = &dc["farms"][0]["nodes"][0];
        assert_eq!(node["state"], "healthy");
        assert_eq!(node["lastReportHeight"], Value::Null);
    }

    // An object's public metadata; its shards only for the owner.
    let first_id = first.0.to_string();
    let data = run(&schema, OBJECT, json!({ "id": first_id }), None)
        .await
        .unwrap();
    assert_eq!(
        data["storageObject"],
        json!({
            "id": first_id, "owner": alice.0.to_string(), "size": 4 << 20, "dataShards": 4,
            "parityShards": 2, "policy": "4+2 surviving 1 datacenter + 0 nodes",
            "health": "OPTIMAL", "liveShards": 6, "repairs": 0, "movesWanted": 0,
            "placementError": null,
        })
    );
    assert_eq!(
        run(&schema, SHARDS, json!({ "id": first_id }), None).await,
        Err("UNAUTHENTICATED".to_owned())
    );
    assert_eq!(
        run(&schema, SHARDS, json!({ "id": first_id }), Some(&bob_token)).await,
        Err("FORBIDDEN".to_owned())
    );
    let data = run(
        &schema,
        SHARDS,
        json!({ "id": first_id }),
        Some(&alice_token),
    )
    .await
    .unwrap();
    let shards = data["storageObject"]["shards"].as_array().unwrap();
    let nodes: Vec<String> = shards
        .iter()
        .map(|shard| shard["node"]["id"].as_str().unwrap().to_owned())
        .collect();
    let expected: Vec<String> = first_nodes.iter().map(|node| node.0.to_string()).collect();
    assert_eq!(nodes, expected);
    assert!(
        shards
            .iter()
            .all(|shard| shard["live"] == true && shard["desiredNode"] == shard["node"]["id"])
    );
    assert_eq!(
        run(&schema, OBJECT, json!({ "id": "00".repeat(32) }), None)
            .await
            .unwrap()["storageObject"],
        Value::Null
    );
    assert_eq!(
        run(&schema, OBJECT, json!({ "id": "xyz" }), None).await,
        Err("BAD_USER_INPUT".to_owned())
    );

    // The owner's list: private.
    let list = "query($owner: String) { storageObjects(owner: $owner) { totalCount edges { node { id health } } } }";
    assert_eq!(
        run(&schema, list, json!({}), None).await,
        Err("UNAUTHENTICATED".to_owned())
    );
    assert_eq!(
        run(&schema, list, json!({ "owner": "alice" }), Some(&bob_token)).await,
        Err("FORBIDDEN".to_owned())
    );
    let data = run(&schema, list, json!({}), Some(&bob_token))
        .await
        .unwrap();
    assert_eq!(data["storageObjects"]["totalCount"], 0);
    let data = run(
        &schema,
        list,
        json!({ "owner": "Alice" }),
        Some(&alice_token),
    )
    .await
    .unwrap();
    assert_eq!(data["storageObjects"]["totalCount"], 2);
    let listed: Vec<&str> = data["storageObjects"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| edge["node"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [second.0.to_string(), first_id.clone()]);

    // What if a datacenter is lost: nothing falls below k.
    for dc in ["eu/dc0", "eu/dc1", "eu/dc2"] {
        let data = run(&schema, WHAT_IF, json!({ "dc": dc }), None)
            .await
            .unwrap();
        let loss = &data["whatIfDatacenterLost"];
        assert_eq!(loss["nodes"], 3);
        assert_eq!(loss["lostCount"], 0, "{dc}: {loss}");
        assert_eq!(loss["objectsLost"], json!([]));
        assert!(loss["objectsTouched"].as_i64().unwrap() >= 1);
    }
    for bad in ["eu", "eu/dc0/farm0", "us/dc9"] {
        assert_eq!(
            run(&schema, WHAT_IF, json!({ "dc": bad }), None).await,
            Err("BAD_USER_INPUT".to_owned()),
            "{bad}"
        );
    }

    // Overhead against 3× replication.
    let data = run(
        &schema,
        "{ storageOverhead { policies { dataShards parityShards objects bytes storedBytes replicatedBytes overhead savingFactor } total { objects bytes storedBytes replicatedBytes overhead replicationOverhead } } }",
        json!({}),
        None,
    )
    .await
    .unwrap();
    let overhead = &data["storageOverhead"];
    assert_eq!(
        overhead["policies"],
        json!([
            { "dataShards": 2, "parityShards": 1, "objects": 1, "bytes": 3 << 20,
              "storedBytes": 3 * (3 << 19), "replicatedBytes": 9 << 20, "overhead": 1.5,
              "savingFactor": 2.0 },
            { "dataShards": 4, "parityShards": 2, "objects": 1, "bytes": 4 << 20,
              "storedBytes": 6 << 20, "replicatedBytes": 12 << 20, "overhead": 1.5,
              "savingFactor": 2.0 },
        ])
    );
    assert_eq!(
        overhead["total"],
        json!({ "objects": 2, "bytes": 7 << 20, "storedBytes": (6 << 20) + 3 * (3 << 19),
                "replicatedBytes": 21 << 20, "overhead": 1.5, "replicationOverhead": 3.0 })
    );

    // The holder of the 4+2 object's shard 0 leaves: degraded, one move
    // wanted (where the placement function puts it); losing another
    // datacenter with two of its shards would now lose it.
    let leaving = first_nodes[0];
    let node_key = (100..109u8)
        .map(key)
        .find(|secret| storage(&ids).node(&leaving).unwrap().node_key == secret.public_key())
        .unwrap();
    ids.run_storage(
        StorageAction::ReportNode {
            node: leaving,
            state: NodeState::Leaving,
            free_bytes: 0,
        },
        &node_key,
    );
    flush(&mut h, &mut ids, &mut [&mut identities, &mut storage_live]).await;
    let reported_at = ids.net.chain.height().0 as i64;
    let request = PlacementRequest {
        object: first,
        policy: survive_dc,
        shard_bytes: 1 << 20,
    };
    let current: Vec<Option<StorageNodeId>> = first_nodes.iter().copied().map(Some).collect();
    let target = rebalance(&request, &storage(&ids).placement_nodes(), &current)
        .unwrap()
        .shards[0];
    let data = run(&schema, OBJECT, json!({ "id": first_id }), None)
        .await
        .unwrap();
    assert_eq!(data["storageObject"]["health"], "DEGRADED");
    assert_eq!(data["storageObject"]["liveShards"], 5);
    assert_eq!(data["storageObject"]["movesWanted"], 1);
    let data = run(
        &schema,
        SHARDS,
        json!({ "id": first_id }),
        Some(&alice_token),
    )
    .await
    .unwrap();
    let shard = &data["storageObject"]["shards"][0];
    assert_eq!(shard["live"], false);
    assert_eq!(shard["node"]["state"], "leaving");
    assert_eq!(shard["desiredNode"], target.0.to_string());
    let data = run(
        &schema,
        "query($id: String!) { storageNode(id: $id) { state lastReportHeight lastReportAt } }",
        json!({ "id": leaving.0.to_string() }),
        None,
    )
    .await
    .unwrap();
    assert_eq!(data["storageNode"]["state"], "leaving");
    assert_eq!(data["storageNode"]["lastReportHeight"], reported_at);
    assert!(data["storageNode"]["lastReportAt"].as_i64().unwrap() > 0);
    let leaving_dc = shard["node"]["datacenter"].as_str().unwrap().to_owned();
    let other_dc = ["dc0", "dc1", "dc2"]
        .into_iter()
        .find(|dc| *dc != leaving_dc)
        .unwrap();
    let data = run(
        &schema,
        WHAT_IF,
        json!({ "dc": format!("eu/{other_dc}") }),
        None,
    )
    .await
    .unwrap();
    let loss = &data["whatIfDatacenterLost"];
    assert_eq!(loss["lostCount"], 1, "{loss}");
    assert_eq!(
        loss["objectsLost"],
        json!([{ "survivingShards": 3, "neededShards": 4,
                 "object": { "id": first_id, "health": "DEGRADED" } }])
    );

    // The owner records the repair: optimal again, nothing at risk.
    ids.run_storage(
        StorageAction::RecordRepair {
            object: first,
            moves: vec![(0, target)],
        },
        &owner,
    );
    flush(&mut h, &mut ids, &mut [&mut identities, &mut storage_live]).await;
    let data = run(&schema, OBJECT, json!({ "id": first_id }), None)
        .await
        .unwrap();
    assert_eq!(data["storageObject"]["health"], "OPTIMAL");
    assert_eq!(data["storageObject"]["repairs"], 1);
    assert_eq!(data["storageObject"]["movesWanted"], 0);
    let data = run(
        &schema,
        WHAT_IF,
        json!({ "dc": format!("eu/{other_dc}") }),
        None,
    )
    .await
    .unwrap();
    assert_eq!(data["whatIfDatacenterLost"]["lostCount"], 0);

    identities.shutdown.cancel();
    identities.handle.await.unwrap().unwrap();
    h.finish(storage_live).await;
}
