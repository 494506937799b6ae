//! Zero storage through the wallet binary on a real devnet (testkit:
//! node, projector with every read model, API) and six stor-nodes on
//! loopback (three datacenters × two nodes, each its own HTTP server,
//! runtime and data directory, stopped and restarted like a process):
//! alice registers the nodes on chain and puts a multi-chunk file with a
//! policy surviving a datacenter (4+2, at most 2 shards per datacenter);
//! get returns identical bytes, also with one datacenter's nodes stopped;
//! a shard corrupted on disk makes `check` fail naming it, `check
//! --repair` rewrites it; `ls` and `status` show the object; a stranger's
//! `rm` is refused by the chain, a stranger's key cannot read, write or
//! delete shards on the nodes; the owner's `rm` deletes the object on
//! chain and its shards on disk.

#![allow(clippy::unwrap_used)] // test: a failed step should fail loudly

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::start;
use ledger::payload::storage::ObjectId;
use ledger::{ChainId, SecretKey};
use serde_json::Value;
use stor::transfer::{NodeClient, delete_shard};
use stor::{ObjectRecord, TransferError};
use tokio_util::sync::CancellationToken;

/// One stor-node: its own thread, runtime and data directory.
struct StorNode {
    data_dir: PathBuf,
    listen: SocketAddr,
    domain: String,
    chain_id: ChainId,
    running: Option<(CancellationToken, std::thread::JoinHandle<()>)>,
}

impl StorNode {
    fn start(data_dir: PathBuf, domain: &str, chain_id: ChainId) -> StorNode {
        let mut node = StorNode {
            data_dir,
            listen: "127.0.0.1:0".parse().unwrap(),
            domain: domain.to_owned(),
            chain_id,
            running: None,
        };
        node.run();
        node
    }

    fn run(&mut self) {
        let settings = stor_node::settings::Settings {
            listen: self.listen,
            data_dir: self.data_dir.clone(),
            capacity_bytes: 256 << 20,
            repair_keys: Vec::new(),
            network: "devnet".into(),
            chain_id: self.chain_id,
            log_json: false,
        };
        let token = CancellationToken::new();
        let stop = token.clone();
        let (sender, receiver) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            runtime
                .block_on(stor_node::run(settings, stop, |address| {
                    sender.send(address).unwrap()
                }))
                .unwrap();
        });
        self.listen = receiver.recv_timeout(Duration::from_secs(10)).unwrap();
        self.running = Some((token, thread));
    }

    fn endpoint(&self) -> String {
        format!("http://{}", self.listen)
    }

    /// Stops serving (in-flight requests finish) and closes the port.
    fn stop(&mut self) {
        let (token, thread) = self.running.take().unwrap();
        token.cancel();
        thread.join().unwrap();
    }

    fn shard_file(&self, object: &str, shard: usize) -> PathBuf {
        self.data_dir
            .join("shards")
            .join(object)
            .join(format!("{shard}.shard"))
    }
}

impl Drop for StorNode {
    fn drop(&mut self) {
        if self.running.is_some() {
            self.stop();
        }
    }
}

/// Pseudo-random bytes (xorshift), not compressible.
fn random_bytes(len: usize, mut state: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn get_bytes(env: &common::Env, wallet: &str, object: &str, out: &Path) -> (Value, Vec<u8>) {
    let _ = std::fs::remove_file(out);
    let answer = env.ok(
        wallet,
        &["stor", "get", object, "--out", out.to_str().unwrap()],
    );
    (answer, std::fs::read(out).unwrap())
}

#[test]
fn put_get_survive_a_datacenter_check_repair_and_rm_on_a_devnet() {
    let (devnet, env, genesis_file) = start();
    let chain_id = devnet.devnet().config.params.chain_id;
    env.ok(
        "genesis",
        &["recover", "--from-file", genesis_file.to_str().unwrap()],
    );
    let alice = env.init("alice");
    let mallory = env.init("mallory");
    env.ok(
        "genesis",
        &["send", "50", &alice, "--to", &format!("{mallory}=20")],
    );
    env.ok("alice", &["identity", "register", "alice"]);
    env.ok("mallory", &["identity", "register", "mallory"]);

    // Nothing registered yet: put says why it cannot place the shards.
    let file = env.path("data.bin");
    let plain = random_bytes(3 * 1024 * 1024 + 12_345, 0x5eed);
    std::fs::write(&file, &plain).unwrap();
    let put_args = [
        "stor",
        "put",
        file.to_str().unwrap(),
        "-k",
        "4",
        "-m",
        "2",
        "--tolerate-domains",
        "1",
        "--chunk-kib",
        "512",
    ];
    let (code, message) = env.fail("alice", &put_args, Some("pw"));
    assert_eq!(code, "USAGE", "{message}");
    assert!(
        message.contains("at most 2 shards per datacenter"),
        "{message}"
    );

    // Three datacenters × two nodes, registered on chain by alice.
    let disks = tempfile::tempdir().unwrap();
    let mut nodes = Vec::new();
    for datacenter in ["ams-1", "fra-1", "par-1"] {
        for farm in ["a", "b"] {
            let domain = format!("eu/{datacenter}/{farm}");
            let node = StorNode::start(
                disks.path().join(format!("{datacenter}-{farm}")),
                &domain,
                chain_id,
            );
            env.ok(
                "alice",
                &[
                    "stor",
                    "node",
                    "register",
                    &node.endpoint(),
                    "--domain",
                    &domain,
                    "--capacity-mib",
                    "256",
                ],
            );
            nodes.push(node);
        }
    }
    let started = Instant::now();
    loop {
        let status = env.ok("alice", &["stor", "status"]);
        let listed = status["nodes"].as_array().unwrap();
        if listed.len() == 6 {
            assert!(listed.iter().all(|node| node["probe"] == "up"), "{status}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{status}");
        std::thread::sleep(Duration::from_millis(200));
    }

    // Put: 7 chunks of 512 KiB, 6 shards, two per datacenter.
    let put = env.ok("alice", &put_args);
    let object = put["object"].as_str().unwrap().to_owned();
    assert_eq!(put["size"], plain.len() as u64);
    assert_eq!(put["policy"], "4+2 surviving 1 datacenter + 0 nodes");
    let shards = put["shards"].as_array().unwrap();
    assert_eq!(shards.len(), 6);
    for datacenter in ["ams-1", "fra-1", "par-1"] {
        let here = shards
            .iter()
            .filter(|shard| {
                let endpoint = shard["endpoint"].as_str().unwrap();
                nodes
                    .iter()
                    .any(|node| node.endpoint() == endpoint && node.domain.contains(datacenter))
            })
            .count();
        assert_eq!(here, 2, "{datacenter}: {put}");
    }
    // Shard files hold ~1/4 of the data each (1.5x in all), encrypted.
    let stored: u64 = put["storedBytes"].as_u64().unwrap();
    assert!(stored > plain.len() as u64 * 3 / 2 && stored < plain.len() as u64 * 16 / 10);
    let (answer, bytes) = get_bytes(&env, "alice", &object, &env.path("out-1.bin"));
    assert!(bytes == plain, "get returned other bytes");
    assert_eq!(answer["faults"].as_array().unwrap().len(), 0);

    // ls (with the login token) and status.
    let listed = env.ok("alice", &["stor", "ls"]);
    assert_eq!(listed["objects"][0]["id"], object.as_str(), "{listed}");
    assert_eq!(listed["objects"][0]["health"], "optimal");
    assert_eq!(
        env.ok("mallory", &["stor", "ls"])["objects"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let status = env.ok("alice", &["stor", "status", &object]);
    assert_eq!(status["health"], "optimal", "{status}");
    assert_eq!(status["verified"], 6);

    // One datacenter down: both its nodes stop; get still returns the bytes.
    let holders: Vec<usize> = shards
        .iter()
        .map(|shard| {
            let endpoint = shard["endpoint"].as_str().unwrap();
            nodes
                .iter()
                .position(|node| node.endpoint() == endpoint)
                .unwrap()
        })
        .collect();
    let holder = |shard: usize| holders[shard];
    let down_domain = nodes[holder(0)].domain.clone();
    let down_dc = down_domain.rsplit_once('/').unwrap().0.to_owned();
    for node in nodes.iter_mut() {
        if node.domain.starts_with(&down_dc) {
            node.stop();
        }
    }
    let (answer, bytes) = get_bytes(&env, "alice", &object, &env.path("out-2.bin"));
    assert!(bytes == plain, "get without {down_dc} returned other bytes");
    assert!(
        !answer["faults"].as_array().unwrap().is_empty(),
        "shard 0's node is down, so the read went around it: {answer}"
    );
    let (code, message) = env.fail("alice", &["stor", "check", &object], Some("pw"));
    assert_eq!(code, "UNHEALTHY", "{message}");
    assert!(message.contains("4 of 6 shards verify"), "{message}");
    for node in nodes.iter_mut() {
        if node.running.is_none() {
            node.run();
        }
    }
    env.ok("alice", &["stor", "check", &object]);

    // A byte flipped on disk: check names the shard, --repair rewrites it.
    let victim = 1;
    let path = nodes[holder(victim)].shard_file(&object, victim);
    let mut raw = std::fs::read(&path).unwrap();
    let last = raw.len() - 1;
    raw[last] ^= 0x40;
    std::fs::write(&path, &raw).unwrap();
    let (code, message) = env.fail("alice", &["stor", "check", &object], Some("pw"));
    assert_eq!(code, "UNHEALTHY", "{message}");
    assert!(message.contains("5 of 6 shards verify"), "{message}");
    assert!(message.contains("shard 1: corrupt"), "{message}");
    let (_, bytes) = get_bytes(&env, "alice", &object, &env.path("out-3.bin"));
    assert!(bytes == plain, "get around a corrupt shard");
    let repaired = env.ok("alice", &["stor", "check", &object, "--repair"]);
    assert_eq!(
        repaired["repaired"],
        serde_json::json!([victim]),
        "{repaired}"
    );
    let checked = env.ok("alice", &["stor", "check", &object]);
    assert_eq!(checked["found"].as_array().unwrap().len(), 0, "{checked}");

    // Strangers: mallory's wallet cannot open it, the chain refuses her
    // delete, and the nodes refuse writes and deletes not signed by the
    // owner's key.
    let (code, message) = env.fail(
        "mallory",
        &[
            "stor",
            "get",
            &object,
            "--out",
            env.path("stolen.bin").to_str().unwrap(),
        ],
        Some("pw"),
    );
    assert_eq!(code, "USAGE", "{message}");
    assert!(message.contains("another identity"), "{message}");
    assert!(!env.path("stolen.bin").exists());
    let (code, message) = env.fail("mallory", &["stor", "rm", &object], Some("pw"));
    assert_eq!(code, "REJECTED", "{message}");
    let status = env.ok("alice", &["stor", "status", &object]);
    assert_eq!(status["health"], "optimal");
    let owner: [u8; 32] = hex::decode(status["ownerKey"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let salt: [u8; 16] = hex::decode(status["salt"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let record = ObjectRecord::naming(
        &ObjectId(object.parse().unwrap()),
        &ledger::PublicKey(owner),
        &salt,
    );
    let stranger = SecretKey::from_seed([9; 32]);
    let refused = devnet.block_on(delete_shard(
        &NodeClient::new(),
        &record,
        0,
        &nodes[holder(0)].endpoint(),
        &stranger,
        chain_id,
    ));
    assert!(
        matches!(refused, Err(TransferError::Refused { status: 403, .. })),
        "{refused:?}"
    );
    // A stranger's write over a shard: a put authorization signed by
    // another key for the same object.
    let forged = stor::WriteRequest {
        operation: stor::ShardOperation::Put,
        object: record.object_id().unwrap(),
        shard: 0,
        length: 3,
        checksum: ledger::Hash32::ZERO,
        expires_at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 600,
        owner: record.owner().unwrap(),
        salt: record.salt().unwrap(),
        signer: stranger.public_key(),
    }
    .sign(&stranger, &chain_id);
    let refused = devnet.block_on(NodeClient::new().put_shard(
        &nodes[holder(0)].endpoint(),
        &forged,
        reqwest::Body::from(vec![1u8, 2, 3]),
    ));
    assert!(
        matches!(refused, Err(TransferError::Refused { status: 403, .. })),
        "{refused:?}"
    );
    env.ok("alice", &["stor", "check", &object]);

    // Repairers (`stor repairer`): alice authorizes a repair service's key (the chain
    // refuses it twice), revokes it (refused twice too); a malformed key
    // is a usage error.
    let repairer = hex::encode(SecretKey::from_seed([10; 32]).public_key().0);
    let authorized = env.ok("alice", &["stor", "repairer", "authorize", &repairer]);
    assert_eq!(authorized["repairer"], repairer.as_str(), "{authorized}");
    assert_eq!(authorized["authorized"], true);
    let (code, message) = env.fail(
        "alice",
        &["stor", "repairer", "authorize", &repairer],
        Some("pw"),
    );
    assert_eq!(code, "REJECTED", "{message}");
    env.ok("alice", &["stor", "repairer", "revoke", &repairer]);
    let (code, message) = env.fail(
        "alice",
        &["stor", "repairer", "revoke", &repairer],
        Some("pw"),
    );
    assert_eq!(code, "REJECTED", "{message}");
    let (code, message) = env.fail(
        "alice",
        &["stor", "repairer", "authorize", "12ab"],
        Some("pw"),
    );
    assert_eq!(code, "USAGE", "{message}");

    // The owner deletes it: gone on chain and from every node's disk.
    let removed = env.ok("alice", &["stor", "rm", &object]);
    assert_eq!(
        removed["shardsLeft"].as_array().unwrap().len(),
        0,
        "{removed}"
    );
    for shard in 0..6 {
        assert!(!nodes[holder(shard)].shard_file(&object, shard).exists());
    }
    let status = env.ok("alice", &["stor", "status", &object]);
    assert_eq!(status["health"], "deleted");
    let (code, _) = env.fail(
        "alice",
        &[
            "stor",
            "get",
            &object,
            "--out",
            env.path("out-4.bin").to_str().unwrap(),
        ],
        Some("pw"),
    );
    assert_eq!(code, "USAGE");
    assert_eq!(
        env.ok("alice", &["stor", "ls"])["objects"]
            .as_array()
            .unwrap()
            .len(),
        0
    );

    // Retiring a node: only its owner may (mallory is REJECTED, a
    // malformed ID is USAGE); then `status` shows it retired.
    let retired = env.ok("alice", &["stor", "status"])["nodes"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (code, message) = env.fail("mallory", &["stor", "node", "retire", &retired], Some("pw"));
    assert_eq!(code, "REJECTED", "{message}");
    let (code, message) = env.fail("alice", &["stor", "node", "retire", "node-1"], Some("pw"));
    assert_eq!(code, "USAGE", "{message}");
    assert_eq!(
        env.ok("alice", &["stor", "node", "retire", &retired])["node"],
        retired.as_str()
    );
    let started = Instant::now();
    loop {
        let status = env.ok("alice", &["stor", "status"]);
        let state = status["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|node| node["id"] == retired.as_str())
            .map(|node| node["state"].clone());
        if state == Some(Value::from("retired")) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{status}");
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(nodes);
    devnet.shutdown().unwrap();
}
