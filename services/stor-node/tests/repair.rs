//! The repair service end to end: a testkit devnet (node, projector with
//! every read model, API), nine stor-node processes over three
//! datacenters, an identity (alice) that registers them, authorizes a
//! repair key and stores a 4+2 object surviving a datacenter, and one
//! (bob) that stores an object without authorizing it.
//!
//! 1. The holder of one of alice's shards is stopped for good (no chain
//!    report says so): the repair service notices it stopped answering,
//!    rebuilds the shard where placement now puts it and records the
//!    move on chain as the authorized repairer; the read model and
//!    GraphQL show the object optimal with one repair; a get without the
//!    stopped node needs no spare shard and returns the identical bytes.
//!    Bob's object on the same node is left alone (not authorized).
//! 2. With the service stopped, alice retires the stopped node and
//!    another holder reports `leaving` on chain: GraphQL shows the object
//!    DEGRADED; a restarted service moves that shard too and it is
//!    OPTIMAL again with two repairs (bob's stays short of shards,
//!    unrepaired).

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chain::domains::storage::placement::{
    PlacementNode, PlacementRequest, nominal_shard_bytes, place,
};
use common::{StorNode, same_contents, write_test_file};
use ledger::derivation::{Derivation, spending_key};
use ledger::payload::identity::{self, IdentityAction, IdentityName, IdentityOperation};
use ledger::payload::storage::{
    DomainLevel, ErasurePolicy, NodeState, ObjectId, StorageAction, StorageNodeId,
    StorageOperation, Tolerance, sign_into,
};
use ledger::{
    CoinOutput, Condition, Currency, Hash32, IdentityId, SecretKey, Transaction, TransactionId,
};
use serde_json::json;
use sqlx::PgPool;
use std::net::SocketAddr;
use std::path::Path;
use stor::{
    CodecParams, Compression, NodeClient, ObjectRecord, PutRequest, StorageKey, get_object,
    put_object,
};
use stor_repair::chain_io::{CoinPicker, submit_paid};
use testkit::{Devnet, DevnetOptions};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const COIN: u128 = 1_000_000_000;

struct Net {
    devnet: Devnet,
    nats: async_nats::Client,
    pool: PgPool,
    genesis: SecretKey,
    coins: CoinPicker,
}

impl Net {
    /// Submits a transaction paid by the genesis key whose payload (and
    /// extra outputs) `payload` adds; retries while the explorer model has
    /// not caught up with the genesis coins.
    async fn submit(&mut self, payload: impl Fn(&mut Transaction)) -> TransactionId {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let result = submit_paid(
                &self.nats,
                &self.devnet.network,
                &self.pool,
                &self.devnet.config.params,
                &mut self.coins,
                &self.genesis,
                &payload,
            )
            .await;
            match result {
                Ok(id) => return id,
                Err(error) => {
                    assert!(Instant::now() < deadline, "submitting: {error:#}");
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
            }
        }
    }

    async fn storage(&mut self, action: StorageAction, signer: &SecretKey) -> TransactionId {
        let chain_id = self.devnet.config.params.chain_id;
        let operation = StorageOperation::unsigned(action, signer.public_key());
        self.submit(|transaction| {
            sign_into(transaction, operation.clone(), &chain_id, signer);
        })
        .await
    }

    /// Polls `query` (one BIGINT) until it reaches `at_least`.
    async fn wait_count(&self, what: &str, query: &str, at_least: i64) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let count: Option<i64> = sqlx::query_scalar(query)
                .fetch_one(&self.pool)
                .await
                .ok()
                .flatten();
            if count.unwrap_or(0) >= at_least {
                return;
            }
            assert!(Instant::now() < deadline, "{what}: {count:?} < {at_least}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

const POLICY: ErasurePolicy = ErasurePolicy {
    data_shards: 4,
    parity_shards: 2,
    tolerance: Tolerance {
        level: DomainLevel::Datacenter,
        domains: 1,
        nodes: 0,
    },
};

impl Net {
    /// Registers identity `name` for `key`; returns its ID.
    async fn identity(&mut self, name: &str, key: &SecretKey) -> IdentityId {
        let chain_id = self.devnet.config.params.chain_id;
        let registration = self
            .submit(|transaction| {
                identity::sign_into(
                    transaction,
                    IdentityOperation::unsigned(
                        IdentityAction::Register {
                            name: IdentityName(name.into()),
                            public_key: key.public_key(),
                        },
                        key.public_key(),
                    ),
                    &chain_id,
                    key,
                    None,
                );
            })
            .await;
        self.wait_count(
            name,
            &format!("SELECT count(*) FROM identity.identity WHERE name = '{name}'"),
            1,
        )
        .await;
        IdentityId::for_registration(&registration)
    }

    /// Writes `size` bytes to `input`, uploads them as `owner`'s object
    /// with `salt` where `placement` puts them, and registers it.
    #[allow(clippy::too_many_arguments, reason = "one test's helper")]
    async fn store(
        &mut self,
        owner: &SecretKey,
        owner_id: IdentityId,
        salt: [u8; 16],
        input: &Path,
        size: u64,
        shards: &[StorageNodeId],
        endpoint_of: &dyn Fn(&StorageNodeId) -> String,
    ) -> ObjectRecord {
        write_test_file(input, size as usize, salt[0].into());
        let endpoints: Vec<String> = shards.iter().map(endpoint_of).collect();
        let record = put_object(
            &NodeClient::new(),
            input,
            PutRequest {
                owner,
                storage_key: &StorageKey([9; 32]),
                params: CodecParams {
                    data_shards: 4,
                    parity_shards: 2,
                    chunk_bytes: 1 << 20,
                    compression: Compression::Zstd,
                },
                chain_id: self.devnet.config.params.chain_id,
                salt,
            },
            &endpoints,
            Arc::new(|_| {}),
        )
        .await
        .unwrap();
        let hash = |text: &str| text.parse::<Hash32>().unwrap();
        self.storage(
            StorageAction::RegisterObject {
                owner: owner_id,
                salt,
                size,
                policy: POLICY,
                chunk_bytes: record.chunk_bytes,
                content_hash: hash(&record.content_hash),
                key_fingerprint: hash(&record.key_fingerprint),
                shard_checksums: record.shard_checksums.iter().map(|c| hash(c)).collect(),
                shard_nodes: shards.to_vec(),
            },
            owner,
        )
        .await;
        record
    }

    /// An object's health and repairs in GraphQL.
    async fn health(&self, object: &ObjectId) -> serde_json::Value {
        self.devnet
            .query(
                "query($id: String!) { storageObject(id: $id) { health liveShards repairs movesWanted } }",
                json!({ "id": object.0.to_string() }),
            )
            .await
            .unwrap()["storageObject"]
            .clone()
    }

    /// Waits until GraphQL shows `object` with `health` and `repairs`.
    async fn wait_health(&self, object: &ObjectId, health: &str, repairs: u64) -> Duration {
        let started = Instant::now();
        loop {
            let seen = self.health(object).await;
            if seen["health"] == health && seen["repairs"] == repairs {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "waiting for {health} with {repairs} repairs: {seen}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn holder(&self, object: &ObjectId, shard: i32) -> StorageNodeId {
        let holder: Vec<u8> = sqlx::query_scalar(
            "SELECT node FROM storage.storage_shard WHERE object = $1 AND shard_index = $2",
        )
        .bind(object.0.0.to_vec())
        .bind(shard)
        .fetch_one(&self.pool)
        .await
        .unwrap();
        StorageNodeId(Hash32(holder.try_into().unwrap()))
    }
}

/// The repair service in process as `key`: its task, its stop token and
/// its health address.
async fn start_repair(
    net: &Net,
    settings: &devenv::Settings,
    key: &SecretKey,
) -> (
    JoinHandle<anyhow::Result<()>>,
    CancellationToken,
    SocketAddr,
) {
    let database_url = {
        let base = settings.database_url.rsplit_once('/').unwrap().0;
        format!(
            "{base}/{}",
            net.devnet.database_options.get_database().unwrap()
        )
    };
    let shutdown = CancellationToken::new();
    let (listening, listened) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(stor_repair::run(
        stor_repair::Settings {
            database_url,
            nats_url: settings.nats_url.clone(),
            network: net.devnet.network.clone(),
            chain_config: net.devnet.config.clone(),
            key: key.clone(),
            listen: "127.0.0.1:0".parse().unwrap(),
            interval: Duration::from_millis(500),
            down_after: 2,
            scrub_every: 0,
            probe_timeout: Duration::from_secs(1),
            log_json: false,
        },
        shutdown.clone(),
        move |address| {
            let _ = listening.send(address);
        },
    ));
    (task, shutdown, listened.await.unwrap())
}

async fn metrics(health: SocketAddr) -> String {
    reqwest::get(format!("http://{health}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_repair_service_rebuilds_lost_shards_where_placement_puts_them_and_records_the_moves() {
    let devnet = Devnet::start().await.unwrap();
    let settings = devenv::Settings::load().unwrap();
    let nats = async_nats::connect(&settings.nats_url).await.unwrap();
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .connect_with(devnet.database_options.clone())
        .await
        .unwrap();
    let genesis = spending_key(&testkit::GENESIS_SEED, Derivation::Raw, 0);
    let mut net = Net {
        coins: CoinPicker::new(&genesis),
        devnet,
        nats,
        pool,
        genesis,
    };
    let dir = tempfile::tempdir().unwrap();
    let network_file = dir.path().join("network.toml");
    std::fs::write(
        &network_file,
        testkit::devnet_config_text(&net.devnet.network, &DevnetOptions::default()).unwrap(),
    )
    .unwrap();
    let alice = SecretKey::from_seed([31; 32]);
    let bob = SecretKey::from_seed([33; 32]);
    let repairer = SecretKey::from_seed([32; 32]);
    let node_key = |index: usize| SecretKey::from_seed([40 + index as u8; 32]);

    // Coins: many outputs for the genesis key, a few for the repair key.
    let genesis_condition = Condition::for_public_key(&net.genesis.public_key());
    let repairer_condition = Condition::for_public_key(&repairer.public_key());
    net.submit(|transaction| {
        for _ in 0..30 {
            transaction.coin_outputs.push(CoinOutput {
                value: Currency(100 * COIN),
                condition: genesis_condition.clone(),
            });
        }
        for _ in 0..3 {
            transaction.coin_outputs.push(CoinOutput {
                value: Currency(10 * COIN),
                condition: repairer_condition.clone(),
            });
        }
    })
    .await;
    net.wait_count(
        "the split",
        "SELECT count(*) FROM explorer.output WHERE spent_at IS NULL AND value = 100000000000",
        30,
    )
    .await;

    // Alice and bob register; alice registers nine nodes and authorizes
    // the repairer (bob does not).
    let alice_id = net.identity("alice", &alice).await;
    let bob_id = net.identity("bob", &bob).await;
    let repair_key = hex::encode(repairer.public_key().0);
    let network_file_text = network_file.display().to_string();
    let mut nodes = Vec::new();
    let mut ids = Vec::new();
    for datacenter in 0..3 {
        for index in 0..3 {
            let name = format!("dc{datacenter}-n{index}");
            let node = StorNode::start(
                &name,
                &dir.path().join(&name),
                &format!("eu/dc{datacenter}/farm{index}"),
                &[
                    "--repair-key",
                    &repair_key,
                    "--network",
                    &net.devnet.network,
                    "--network-config",
                    &network_file_text,
                ],
            );
            let transaction = net
                .storage(
                    StorageAction::RegisterNode {
                        owner: alice_id,
                        node_key: node_key(ids.len()).public_key(),
                        endpoint: node.endpoint.clone(),
                        domain: node.domain.clone(),
                        capacity_bytes: 1 << 30,
                    },
                    &alice,
                )
                .await;
            ids.push(StorageNodeId::for_registration(&transaction));
            nodes.push(node);
        }
    }
    net.storage(
        StorageAction::AuthorizeRepairer {
            owner: alice_id,
            repairer: repairer.public_key(),
        },
        &alice,
    )
    .await;
    net.wait_count(
        "nodes and the repairer",
        "SELECT (SELECT count(*) FROM storage.storage_node) + (SELECT count(*) FROM storage.storage_repairer)",
        10,
    )
    .await;

    // Alice stores 8 MiB where the placement function puts it; bob stores
    // 1 MiB (with a salt whose placement shares the node stopped below).
    let placement_nodes: Vec<PlacementNode> = ids
        .iter()
        .zip(&nodes)
        .map(|(id, node)| PlacementNode {
            id: *id,
            domain: node.domain.clone(),
            free_bytes: 1 << 30,
            state: NodeState::Healthy,
        })
        .collect();
    let placed = |owner: &SecretKey, salt: [u8; 16], size: u64| {
        let object = ObjectId::derive(&owner.public_key(), &salt);
        let request = PlacementRequest {
            object,
            policy: POLICY,
            shard_bytes: nominal_shard_bytes(size, 4),
        };
        (object, place(&request, &placement_nodes).unwrap().shards)
    };
    let all_endpoints: Vec<String> = nodes.iter().map(|node| node.endpoint.clone()).collect();
    let endpoint_of = |id: &StorageNodeId| {
        all_endpoints[ids.iter().position(|candidate| candidate == id).unwrap()].clone()
    };
    let size = 8u64 << 20;
    let (object, shards) = placed(&alice, [3; 16], size);
    let input = dir.path().join("input.bin");
    let record = net
        .store(
            &alice,
            alice_id,
            [3; 16],
            &input,
            size,
            &shards,
            &endpoint_of,
        )
        .await;
    assert_eq!(record.object_id().unwrap(), object);
    let lost = shards[0];
    let (bob_salt, (bob_object, bob_shards)) = (1u8..)
        .map(|salt| ([salt; 16], placed(&bob, [salt; 16], 1 << 20)))
        .find(|(_, (_, shards))| shards.contains(&lost))
        .unwrap();
    net.store(
        &bob,
        bob_id,
        bob_salt,
        &dir.path().join("bob.bin"),
        1 << 20,
        &bob_shards,
        &endpoint_of,
    )
    .await;
    net.wait_health(&object, "OPTIMAL", 0).await;
    net.wait_health(&bob_object, "OPTIMAL", 0).await;

    // 1. The repair service runs; shard 0's holder stops for good.
    let (task, shutdown, health) = start_repair(&net, &settings, &repairer).await;
    let stopped = ids.iter().position(|id| *id == lost).unwrap();
    nodes[stopped].stop();
    let repaired_in = net.wait_health(&object, "OPTIMAL", 1).await;
    eprintln!("repaired {repaired_in:?} after the node stopped");
    let holder = net.holder(&object, 0).await;
    assert_ne!(holder, lost);
    // The chain still holds the stopped node healthy (nobody reported it),
    // so the desired placement (`rebalance` over the registered nodes)
    // still ranks it for shard 0: one move wanted until it is retired.
    assert_eq!(
        net.health(&object).await,
        json!({ "health": "OPTIMAL", "liveShards": 6, "repairs": 1, "movesWanted": 1 })
    );
    let seen = metrics(health).await;
    assert!(
        seen.contains("stor_repair_repairs_recorded_total 1\n"),
        "{seen}"
    );
    assert!(
        seen.contains("stor_repair_shards_rebuilt_total 1\n"),
        "{seen}"
    );
    assert!(seen.contains("stor_repair_nodes_down 1\n"), "{seen}");
    assert!(seen.contains("stor_repair_objects_watched 1\n"), "{seen}");
    // Every shard is where the chain says; a get needs no spare.
    let mut current: Vec<String> = shards.iter().map(endpoint_of).collect();
    current[0] = endpoint_of(&holder);
    let output = dir.path().join("output.bin");
    let summary = get_object(
        &NodeClient::new(),
        &record,
        &StorageKey([9; 32]),
        &current.into_iter().map(Some).collect::<Vec<_>>(),
        std::io::BufWriter::new(std::fs::File::create(&output).unwrap()),
        Arc::new(|_| {}),
    )
    .await
    .unwrap();
    assert!(summary.faults.is_empty(), "{:?}", summary.faults);
    assert!(same_contents(&input, &output));
    // Bob never authorized the repairer: his shard stays on the stopped node.
    let bob_lost = bob_shards.iter().position(|id| *id == lost).unwrap() as i32;
    assert_eq!(net.holder(&bob_object, bob_lost).await, lost);
    assert_eq!(net.health(&bob_object).await["repairs"], 0);
    shutdown.cancel();
    task.await.unwrap().unwrap();

    // 2. With the service stopped, alice retires the stopped node (else
    // placement may choose it again), and a holder in another datacenter
    // (which has a spare node) reports leaving, signed by its node key:
    // the read model shows the object degraded, and bob's too (his
    // shard's node is retired).
    net.storage(StorageAction::RetireNode { node: lost }, &alice)
        .await;
    let stopped_dc = nodes[stopped].domain.datacenter.clone();
    let (leaving_shard, leaving) = shards
        .iter()
        .enumerate()
        .map(|(index, id)| (index, *id))
        .find(|(_, id)| {
            nodes[ids.iter().position(|candidate| candidate == id).unwrap()]
                .domain
                .datacenter
                != stopped_dc
        })
        .unwrap();
    let leaving_index = ids.iter().position(|id| *id == leaving).unwrap();
    net.storage(
        StorageAction::ReportNode {
            node: leaving,
            state: NodeState::Leaving,
            free_bytes: 1 << 30,
        },
        &node_key(leaving_index),
    )
    .await;
    net.wait_health(&object, "DEGRADED", 1).await;
    let bob_before = net.health(&bob_object).await;
    assert!(
        bob_before["liveShards"].as_u64().unwrap() < 6,
        "{bob_before}"
    );
    assert_eq!(bob_before["repairs"], 0);
    let (task, shutdown, _) = start_repair(&net, &settings, &repairer).await;
    net.wait_health(&object, "OPTIMAL", 2).await;
    let moved = net.holder(&object, leaving_shard as i32).await;
    assert_ne!(moved, leaving);
    assert_ne!(moved, lost);
    assert_eq!(
        net.health(&object).await,
        json!({ "health": "OPTIMAL", "liveShards": 6, "repairs": 2, "movesWanted": 0 })
    );
    assert_eq!(net.health(&bob_object).await, bob_before);
    shutdown.cancel();
    task.await.unwrap().unwrap();

    for node in &mut nodes {
        node.stop();
    }
    net.devnet.shutdown().await.unwrap();
}
