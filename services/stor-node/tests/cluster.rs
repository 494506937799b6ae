//! Zero storage end to end on loopback with real stor-node processes:
//! a 50 MiB object over three datacenters survives losing one of them,
//! nodes keep their shards across restarts, repair rebuilds a lost node's
//! shard where placement now puts it, a corrupted shard is detected on
//! read and by verification and repaired, and writes or deletes not
//! signed by the owner (or a trusted repair key) are refused.

#![allow(clippy::unwrap_used, reason = "integration test: a panic is a failure")]

mod common;

use std::path::Path;
use std::sync::Arc;

use chain::domains::storage::placement::{
    PlacementNode, PlacementRequest, check_tolerance, place, rebalance,
};
use common::{StorNode, devnet_chain, same_contents, write_test_file};
use ledger::SecretKey;
use ledger::payload::storage::{DomainLevel, ErasurePolicy, StorageNodeId, Tolerance};
use stor::auth::{HEADER, ShardOperation, WriteRequest};
use stor::transfer::{delete_shard, rebuild_shards_to};
use stor::{
    CodecParams, Compression, NodeClient, ObjectRecord, PutRequest, StorageKey, get_object,
    object_id, put_object,
};

const OWNER_SEED: [u8; 32] = [21; 32];
const REPAIR_SEED: [u8; 32] = [22; 32];

fn repair_key_hex() -> String {
    hex::encode(SecretKey::from_seed(REPAIR_SEED).public_key().0)
}

fn start_cluster(root: &Path, datacenters: usize, per_datacenter: usize) -> Vec<StorNode> {
    let repair = repair_key_hex();
    let mut nodes = Vec::new();
    for datacenter in 0..datacenters {
        for index in 0..per_datacenter {
            let name = format!("dc{datacenter}-n{index}");
            nodes.push(StorNode::start(
                &name,
                &root.join(&name),
                &format!("eu/dc{datacenter}/farm{index}"),
                &["--repair-key", &repair],
            ));
        }
    }
    nodes
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

fn endpoint_of<'a>(nodes: &'a [StorNode], id: &StorageNodeId) -> &'a StorNode {
    nodes.iter().find(|node| node.id() == *id).unwrap()
}

fn no_progress() -> Arc<dyn Fn(u64) + Send + Sync> {
    Arc::new(|_| {})
}

async fn put(
    file: &Path,
    salt: [u8; 16],
    params: CodecParams,
    endpoints: &[String],
) -> ObjectRecord {
    let owner = SecretKey::from_seed(OWNER_SEED);
    let storage_key = StorageKey([5; 32]);
    put_object(
        &NodeClient::new(),
        file,
        PutRequest {
            owner: &owner,
            storage_key: &storage_key,
            params,
            chain_id: devnet_chain(),
            salt,
        },
        endpoints,
        no_progress(),
    )
    .await
    .unwrap()
}

async fn get(
    record: &ObjectRecord,
    endpoints: &[Option<String>],
    out: &Path,
) -> Result<stor::DecodeSummary, stor::TransferError> {
    let output = std::fs::File::create(out).unwrap();
    get_object(
        &NodeClient::new(),
        record,
        &StorageKey([5; 32]),
        endpoints,
        std::io::BufWriter::new(output),
        no_progress(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_mib_survive_a_datacenter_restarts_and_a_lost_node_is_repaired() {
    let root = tempfile::tempdir().unwrap();
    let mut nodes = start_cluster(root.path(), 3, 3);
    let input = root.path().join("input.bin");
    write_test_file(&input, 50 << 20, 1);

    let salt = [1; 16];
    let owner = SecretKey::from_seed(OWNER_SEED).public_key();
    let policy = policy(4, 2, 1, 0);
    let request = PlacementRequest {
        object: object_id(&owner, &salt),
        policy,
        shard_bytes: 14 << 20,
    };
    let registered: Vec<PlacementNode> = nodes.iter().map(StorNode::placement_node).collect();
    let placement = place(&request, &registered).unwrap();
    let endpoints: Vec<String> = placement
        .shards
        .iter()
        .map(|id| endpoint_of(&nodes, id).endpoint.clone())
        .collect();
    let params = CodecParams {
        data_shards: 4,
        parity_shards: 2,
        chunk_bytes: 4 << 20,
        compression: Compression::Zstd,
    };
    let record = put(&input, salt, params, &endpoints).await;
    assert_eq!(record.size, 50 << 20);

    // Every datacenter holds at most two shards; stop all of dc1.
    let lost_datacenter = "eu/dc1";
    for node in nodes.iter_mut() {
        if node.domain.prefix(DomainLevel::Datacenter) == lost_datacenter {
            node.stop();
        }
    }
    let output = root.path().join("output.bin");
    let all: Vec<Option<String>> = endpoints.iter().cloned().map(Some).collect();
    let summary = get(&record, &all, &output).await.unwrap();
    assert!(
        same_contents(&input, &output),
        "bytes differ after losing {lost_datacenter}"
    );
    let lost_here = placement
        .shards
        .iter()
        .filter(|id| {
            endpoint_of(&nodes, id)
                .domain
                .prefix(DomainLevel::Datacenter)
                == lost_datacenter
        })
        .count();
    assert!(lost_here <= 2);
    assert_eq!(summary.faults.len(), lost_here, "{:?}", summary.faults);

    // The datacenter comes back (restarted nodes rebuild their index from
    // disk), except one node of it that is gone for good, data and all.
    let gone = placement
        .shards
        .iter()
        .position(|id| {
            endpoint_of(&nodes, id)
                .domain
                .prefix(DomainLevel::Datacenter)
                == lost_datacenter
        })
        .unwrap();
    let gone_id = placement.shards[gone];
    for node in nodes.iter_mut() {
        if !node.is_running() && node.id() != gone_id {
            node.restart();
        }
    }
    let remaining: Vec<PlacementNode> = nodes
        .iter()
        .filter(|node| node.id() != gone_id)
        .map(StorNode::placement_node)
        .collect();
    let mut current: Vec<Option<StorageNodeId>> =
        placement.shards.iter().copied().map(Some).collect();
    current[gone] = None;
    let repaired = rebalance(&request, &remaining, &current).unwrap();
    assert_eq!(placement.moved_shards(&repaired), 1);
    let new_home = endpoint_of(&nodes, &repaired.shards[gone]);
    assert_ne!(new_home.id(), gone_id);
    let sources: Vec<Option<String>> = current
        .iter()
        .map(|holder| holder.map(|id| endpoint_of(&nodes, &id).endpoint.clone()))
        .collect();
    let repair_key = SecretKey::from_seed(REPAIR_SEED);
    let faults = rebuild_shards_to(
        &NodeClient::new(),
        &record,
        &sources,
        &[(gone, new_home.endpoint.clone())],
        &repair_key,
        devnet_chain(),
    )
    .await
    .unwrap();
    assert!(faults.is_empty(), "{faults:?}");

    // Optimal again: every shard verifies where the new placement puts it,
    // the placement keeps its promise, and a read needs no spare.
    let client = NodeClient::new();
    let object = record.object_id().unwrap();
    for (shard, id) in repaired.shards.iter().enumerate() {
        let verification = client
            .verify_shard(&endpoint_of(&nodes, id).endpoint, &object, shard)
            .await
            .unwrap();
        assert!(verification.ok, "shard {shard}: {verification:?}");
        assert_eq!(verification.expected, record.shard_checksums[shard]);
    }
    let located: Vec<Option<StorageNodeId>> = repaired.shards.iter().copied().map(Some).collect();
    check_tolerance(&policy, &located, &remaining).unwrap();
    let endpoints: Vec<Option<String>> = repaired
        .shards
        .iter()
        .map(|id| Some(endpoint_of(&nodes, id).endpoint.clone()))
        .collect();
    let again = root.path().join("again.bin");
    let summary = get(&record, &endpoints, &again).await.unwrap();
    assert!(summary.faults.is_empty(), "{:?}", summary.faults);
    assert!(same_contents(&input, &again));

    for node in nodes.iter_mut() {
        node.stop();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupted_shard_is_detected_on_read_and_by_verify_and_repaired() {
    let root = tempfile::tempdir().unwrap();
    let mut nodes = start_cluster(root.path(), 1, 6);
    let input = root.path().join("input.bin");
    write_test_file(&input, 3 << 20, 2);
    let endpoints: Vec<String> = nodes.iter().map(|node| node.endpoint.clone()).collect();
    let params = CodecParams {
        data_shards: 4,
        parity_shards: 2,
        chunk_bytes: 1 << 20,
        compression: Compression::None,
    };
    let record = put(&input, [2; 16], params, &endpoints).await;
    let object = record.object_id().unwrap();

    // Flip one byte near the end of shard 1's file on disk.
    let path = nodes[1]
        .data_dir
        .join("shards")
        .join(&record.object)
        .join("1.shard");
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.len() - 100;
    bytes[at] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();

    // The object still reads back, and the read names the bad shard.
    let all: Vec<Option<String>> = endpoints.iter().cloned().map(Some).collect();
    let output = root.path().join("output.bin");
    let summary = get(&record, &all, &output).await.unwrap();
    assert!(same_contents(&input, &output));
    assert_eq!(summary.faults.len(), 1, "{:?}", summary.faults);
    assert_eq!(summary.faults[0].shard(), 1);

    // The node's own check finds it, and it no longer serves the shard.
    let client = NodeClient::new();
    let verification = client
        .verify_shard(&endpoints[1], &object, 1)
        .await
        .unwrap();
    assert!(!verification.ok);
    assert_eq!(verification.expected, record.shard_checksums[1]);
    let refused = client
        .get_shard(&endpoints[1], &object, 1)
        .await
        .unwrap_err();
    assert!(
        matches!(refused, stor::TransferError::Refused { status: 409, .. }),
        "{refused}"
    );
    let metrics = reqwest::get(format!("{}/metrics", endpoints[1]))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("stor_node_corruption_detected_total 1"),
        "{metrics}"
    );

    // Repair (the owner's key here) rewrites it in place.
    let mut sources = all.clone();
    sources[1] = None;
    rebuild_shards_to(
        &client,
        &record,
        &sources,
        &[(1, endpoints[1].clone())],
        &SecretKey::from_seed(OWNER_SEED),
        devnet_chain(),
    )
    .await
    .unwrap();
    assert!(
        client
            .verify_shard(&endpoints[1], &object, 1)
            .await
            .unwrap()
            .ok
    );
    let summary = get(&record, &all, &output).await.unwrap();
    assert!(summary.faults.is_empty(), "{:?}", summary.faults);
    assert!(same_contents(&input, &output));

    for node in nodes.iter_mut() {
        node.stop();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_foreign_and_mismatched_writes_and_deletes_are_refused() {
    let root = tempfile::tempdir().unwrap();
    let repair = repair_key_hex();
    let mut node = StorNode::start(
        "lonely",
        &root.path().join("lonely"),
        "eu/dc0/farm0",
        &["--repair-key", &repair, "--capacity-mib", "1"],
    );
    let http = reqwest::Client::new();
    let owner = SecretKey::from_seed(OWNER_SEED);
    let stranger = SecretKey::from_seed([23; 32]);
    let salt = [3; 16];
    let object = object_id(&owner.public_key(), &salt);
    let body = b"not really a shard".to_vec();
    let mut hasher = stor::ShardHasher::new();
    hasher.update(&body);
    let checksum = hasher.finish();
    let url = format!("{}/v1/shards/{object}/0", node.endpoint);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let request = |operation, signer: &SecretKey, length, checksum| WriteRequest {
        operation,
        object,
        shard: 0,
        length,
        checksum,
        expires_at: now + 600,
        owner: owner.public_key(),
        salt,
        signer: signer.public_key(),
    };
    let chain = devnet_chain();
    let status = |response: reqwest::Response| response.status().as_u16();
    let list = || async {
        reqwest::get(format!("{}/v1/shards", node.endpoint))
            .await
            .unwrap()
            .json::<Vec<serde_json::Value>>()
            .await
            .unwrap()
    };

    let unsigned = http.put(&url).body(body.clone()).send().await.unwrap();
    assert_eq!(status(unsigned), 401);
    let foreign = request(ShardOperation::Put, &stranger, body.len() as u64, checksum)
        .sign(&stranger, &chain);
    let response = http
        .put(&url)
        .header(HEADER, foreign.to_header())
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(status(response), 403);
    let wrong_bytes =
        request(ShardOperation::Put, &owner, body.len() as u64, checksum).sign(&owner, &chain);
    let response = http
        .put(&url)
        .header(HEADER, wrong_bytes.to_header())
        .body(b"other bytes, same length!!".to_vec()[..body.len()].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(status(response), 400);
    let too_big = request(ShardOperation::Put, &owner, 2 << 20, checksum).sign(&owner, &chain);
    let response = http
        .put(&url)
        .header(HEADER, too_big.to_header())
        .body(vec![0u8; 16])
        .send()
        .await
        .unwrap();
    assert_eq!(status(response), 507);
    assert!(
        list().await.is_empty(),
        "refused writes left something behind"
    );

    let good =
        request(ShardOperation::Put, &owner, body.len() as u64, checksum).sign(&owner, &chain);
    let response = http
        .put(&url)
        .header(HEADER, good.to_header())
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(status(response), 201);
    assert_eq!(list().await.len(), 1);
    assert_eq!(
        http.get(&url).send().await.unwrap().bytes().await.unwrap(),
        body
    );

    let unsigned_delete = http.delete(&url).send().await.unwrap();
    assert_eq!(status(unsigned_delete), 401);
    let foreign_delete =
        request(ShardOperation::Delete, &stranger, 0, ledger::Hash32::ZERO).sign(&stranger, &chain);
    let response = http
        .delete(&url)
        .header(HEADER, foreign_delete.to_header())
        .send()
        .await
        .unwrap();
    assert_eq!(status(response), 403);
    // A put authorization does not delete.
    let response = http
        .delete(&url)
        .header(HEADER, good.to_header())
        .send()
        .await
        .unwrap();
    assert_eq!(status(response), 403);
    assert_eq!(list().await.len(), 1);

    // The repair service's key may delete.
    let record = ObjectRecord {
        object: object.to_string(),
        owner: hex::encode(owner.public_key().0),
        salt: hex::encode(salt),
        data_shards: 1,
        parity_shards: 0,
        chunk_bytes: 4096,
        compressed: false,
        size: 0,
        content_hash: ledger::Hash32::ZERO.to_string(),
        key_fingerprint: ledger::Hash32::ZERO.to_string(),
        shard_checksums: vec![checksum.to_string()],
        shard_bytes: vec![body.len() as u64],
    };
    delete_shard(
        &NodeClient::new(),
        &record,
        0,
        &node.endpoint,
        &SecretKey::from_seed(REPAIR_SEED),
        chain,
    )
    .await
    .unwrap();
    assert!(list().await.is_empty());
    let metrics = reqwest::get(format!("{}/metrics", node.endpoint))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("stor_node_refused_total{reason=\"unauthorized\"} 5"),
        "{metrics}"
    );
    let health = reqwest::get(format!("{}/healthz", node.endpoint))
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
    node.stop();
}
