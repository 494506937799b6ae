//! Put and get throughput of zero storage on loopback (k + m real
//! stor-node processes, each with its own data directory) against a
//! baseline measured in the same run on the same file: the same chunks
//! Reed–Solomon-encoded with the same crate and written to k + m local
//! files (fsynced), with no encryption, checksums, HTTP or second pass.
//! Also reports the stored bytes per original byte against 3×
//! replication. `services/stor-node/bench/run`; docs/storage.md.
//!
//! Knobs: STOR_BENCH_MIB (object size, 256), STOR_BENCH_K (4),
//! STOR_BENCH_M (2), STOR_BENCH_CHUNK_MIB (4), STOR_BENCH_ZSTD (0).

#![allow(clippy::unwrap_used, reason = "benchmark: a panic is a failed run")]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use ledger::SecretKey;
use reed_solomon_erasure::galois_8::ReedSolomon;
use stor::{CodecParams, Compression, NodeClient, PutRequest, StorageKey, get_object, put_object};

fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

struct Node(Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.0.id().to_string())
            .status();
        let _ = self.0.wait();
    }
}

fn start_node(data_dir: &Path) -> (Node, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stor-node"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--capacity-mib",
            "65536",
            "--data-dir",
        ])
        .arg(data_dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let address = line.trim().strip_prefix("listening ").unwrap().to_string();
    (Node(child), format!("http://{address}"))
}

fn write_input(path: &Path, bytes: u64) {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut state = 0x9e37_79b9_u32;
    let mut block = vec![0u8; 1 << 20];
    let mut left = bytes;
    while left > 0 {
        for byte in block.iter_mut() {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            *byte = state as u8;
        }
        let take = left.min(block.len() as u64) as usize;
        file.write_all(&block[..take]).unwrap();
        left -= take as u64;
    }
    file.flush().unwrap();
}

/// The baseline: chunk, Reed–Solomon encode, write k + m files, fsync.
fn raw_encode_and_write(input: &Path, out: &Path, k: usize, m: usize, chunk: usize) -> u64 {
    std::fs::create_dir_all(out).unwrap();
    let coder = ReedSolomon::new(k, m).unwrap();
    let mut files: Vec<std::io::BufWriter<std::fs::File>> = (0..k + m)
        .map(|index| {
            std::io::BufWriter::new(
                std::fs::File::create(out.join(format!("{index}.raw"))).unwrap(),
            )
        })
        .collect();
    let mut reader = std::fs::File::open(input).unwrap();
    let mut buffer = vec![0u8; chunk];
    let mut written = 0u64;
    loop {
        let mut filled = 0;
        while filled < chunk {
            let read = reader.read(&mut buffer[filled..]).unwrap();
            if read == 0 {
                break;
            }
            filled += read;
        }
        if filled == 0 {
            break;
        }
        let piece = filled.div_ceil(k);
        let mut shards: Vec<Vec<u8>> = (0..k + m)
            .map(|index| {
                let mut shard = vec![0u8; piece];
                if index < k {
                    let start = (index * piece).min(filled);
                    let end = ((index + 1) * piece).min(filled);
                    shard[..end - start].copy_from_slice(&buffer[start..end]);
                }
                shard
            })
            .collect();
        if m > 0 {
            coder.encode(&mut shards).unwrap();
        }
        for (file, shard) in files.iter_mut().zip(&shards) {
            file.write_all(shard).unwrap();
            written += shard.len() as u64;
        }
        if filled < chunk {
            break;
        }
    }
    for file in files {
        file.into_inner().unwrap().sync_all().unwrap();
    }
    written
}

fn mb_per_s(bytes: u64, seconds: f64) -> f64 {
    bytes as f64 / 1e6 / seconds
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mib = knob("STOR_BENCH_MIB", 256);
    let k = knob("STOR_BENCH_K", 4) as u8;
    let m = knob("STOR_BENCH_M", 2) as u8;
    let chunk_mib = knob("STOR_BENCH_CHUNK_MIB", 4) as u32;
    let zstd = knob("STOR_BENCH_ZSTD", 0) == 1;
    let size = mib << 20;
    let root = tempfile::tempdir().unwrap();
    let root_path: PathBuf = root.path().to_path_buf();
    let input = root_path.join("input.bin");
    write_input(&input, size);
    eprintln!("bench: {mib} MiB object, {k}+{m}, {chunk_mib} MiB chunks, zstd {zstd}");

    let started = Instant::now();
    let raw_bytes = raw_encode_and_write(
        &input,
        &root_path.join("raw"),
        usize::from(k),
        usize::from(m),
        (chunk_mib as usize) << 20,
    );
    let raw_seconds = started.elapsed().as_secs_f64();

    let total = usize::from(k) + usize::from(m);
    let mut nodes = Vec::new();
    let mut endpoints = Vec::new();
    for index in 0..total {
        let (node, endpoint) = start_node(&root_path.join(format!("node{index}")));
        nodes.push(node);
        endpoints.push(endpoint);
    }
    let owner = SecretKey::from_seed([1; 32]);
    let storage_key = StorageKey([2; 32]);
    let chain_id = chain::ChainConfig::devnet().unwrap().params.chain_id;
    let params = CodecParams {
        data_shards: k,
        parity_shards: m,
        chunk_bytes: chunk_mib << 20,
        compression: if zstd {
            Compression::Zstd
        } else {
            Compression::None
        },
    };
    let client = NodeClient::new();
    let started = Instant::now();
    let record = put_object(
        &client,
        &input,
        PutRequest {
            owner: &owner,
            storage_key: &storage_key,
            params,
            chain_id,
            salt: [3; 16],
        },
        &endpoints,
        Arc::new(|_| {}),
    )
    .await
    .unwrap();
    let put_seconds = started.elapsed().as_secs_f64();

    let output = root_path.join("output.bin");
    let started = Instant::now();
    let all: Vec<Option<String>> = endpoints.iter().cloned().map(Some).collect();
    let summary = get_object(
        &client,
        &record,
        &storage_key,
        &all,
        std::io::BufWriter::new(std::fs::File::create(&output).unwrap()),
        Arc::new(|_| {}),
    )
    .await
    .unwrap();
    let get_seconds = started.elapsed().as_secs_f64();
    assert_eq!(summary.size, size);
    drop(nodes);

    let stored: u64 = record.shard_bytes.iter().sum();
    let raw = mb_per_s(size, raw_seconds);
    let put = mb_per_s(size, put_seconds);
    let get = mb_per_s(size, get_seconds);
    println!("| measure | MB/s | ratio to raw RS + disk |");
    println!("|---|---|---|");
    println!("| raw RS encode + write {total} files (baseline) | {raw:.1} | 1.00 |");
    println!(
        "| put (2 passes, encrypt, checksum, HTTP to {total} stor-nodes, fsync) | {put:.1} | {:.2} |",
        put / raw
    );
    println!(
        "| get (HTTP from {k} stor-nodes, verify, decrypt) | {get:.1} | {:.2} |",
        get / raw
    );
    println!();
    println!(
        "stored bytes per original byte: {:.3} (policy {k}+{m}: {:.3}; raw baseline wrote {:.3}); 3x replication: 3.000, so {:.2}x less than replication",
        stored as f64 / size as f64,
        f64::from(total as u32) / f64::from(k),
        raw_bytes as f64 / size as f64,
        3.0 / (stored as f64 / size as f64),
    );
}
