//! Real stor-node processes on loopback for the integration tests.

#![allow(dead_code, reason = "each test file uses a different part")]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chain::domains::storage::placement::PlacementNode;
use ledger::payload::storage::{FailureDomain, NodeState, StorageNodeId};
use ledger::{ChainId, Hash32};

/// One stor-node process.
pub struct StorNode {
    pub name: String,
    pub data_dir: PathBuf,
    pub endpoint: String,
    pub domain: FailureDomain,
    child: Option<Child>,
    extra: Vec<String>,
}

impl StorNode {
    /// Starts a node on a free port with `data_dir`.
    pub fn start(name: &str, data_dir: &Path, domain: &str, extra: &[&str]) -> StorNode {
        let mut node = StorNode {
            name: name.to_string(),
            data_dir: data_dir.to_path_buf(),
            endpoint: String::new(),
            domain: domain.parse().unwrap(),
            child: None,
            extra: extra.iter().map(ToString::to_string).collect(),
        };
        node.spawn("127.0.0.1:0");
        node
    }

    fn spawn(&mut self, listen: &str) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_stor-node"))
            .arg("--listen")
            .arg(listen)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(if self.extra.iter().any(|arg| arg == "--capacity-mib") {
                &[][..]
            } else {
                &["--capacity-mib", "1024"][..]
            })
            .args(&self.extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let address = line
            .trim()
            .strip_prefix("listening ")
            .unwrap_or_else(|| panic!("{} printed {line:?}", self.name))
            .to_string();
        self.endpoint = format!("http://{address}");
        self.child = Some(child);
    }

    /// SIGTERM; returns once the process exited, asserting it exits 0 in
    /// time (clean shutdown).
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                assert!(status.success(), "{} exited with {status}", self.name);
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not stop on SIGTERM",
                self.name
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts the node again on the same address and data directory.
    pub fn restart(&mut self) {
        assert!(self.child.is_none());
        let listen = self.endpoint.trim_start_matches("http://").to_string();
        self.spawn(&listen);
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// A node ID for placement: the hash of its name.
    pub fn id(&self) -> StorageNodeId {
        let mut bytes = [0u8; 32];
        for (index, byte) in self.name.bytes().enumerate() {
            bytes[index % 32] ^= byte;
        }
        bytes[31] ^= 0x77;
        StorageNodeId(Hash32(bytes))
    }

    pub fn placement_node(&self) -> PlacementNode {
        PlacementNode {
            id: self.id(),
            domain: self.domain.clone(),
            free_bytes: 1 << 30,
            state: NodeState::Healthy,
        }
    }
}

impl Drop for StorNode {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The devnet's chain ID (stor-nodes default to the devnet).
pub fn devnet_chain() -> ChainId {
    chain::ChainConfig::devnet().unwrap().params.chain_id
}

/// Writes `len` pseudo-random bytes (partly compressible) to `path`.
pub fn write_test_file(path: &Path, len: usize, seed: u32) {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut state = seed.wrapping_mul(2_654_435_761) | 1;
    let mut block = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        for (index, byte) in block.iter_mut().enumerate() {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            *byte = if index % 512 < 128 { 0 } else { state as u8 };
        }
        let take = left.min(block.len());
        file.write_all(&block[..take]).unwrap();
        left -= take;
    }
    file.flush().unwrap();
}

/// Whether two files hold the same bytes.
pub fn same_contents(a: &Path, b: &Path) -> bool {
    let mut a = BufReader::new(std::fs::File::open(a).unwrap());
    let mut b = BufReader::new(std::fs::File::open(b).unwrap());
    let mut left = vec![0u8; 1 << 16];
    let mut right = vec![0u8; 1 << 16];
    loop {
        let read = a.read(&mut left).unwrap();
        let mut filled = 0;
        while filled < read {
            let more = b.read(&mut right[filled..read]).unwrap();
            if more == 0 {
                return false;
            }
            filled += more;
        }
        if left[..read] != right[..read] {
            return false;
        }
        if read == 0 {
            return b.read(&mut right).unwrap() == 0;
        }
    }
}
