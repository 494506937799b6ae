//! Whole objects to and from stor-nodes over HTTP, streaming both ways:
//! the codec runs on a blocking thread and exchanges bounded frames with
//! one HTTP transfer per shard, so memory stays at a few chunks whatever
//! the object's size.
//!
//! * [`put_object`]: two passes over the file. The first encodes without
//!   sending, to learn each shard's length and checksum (a stor-node only
//!   accepts bytes whose length and checksum the owner signed); the second
//!   encodes again (deterministic: same key, salt and nonces) and streams
//!   every shard to its node in parallel. Returns the [`ObjectRecord`] to
//!   register.
//! * [`get_object`]: connects to shards lazily — `k` at first, a spare
//!   only when a shard is missing, corrupt or its node fails — and writes
//!   the plaintext as it is decoded.
//! * [`rebuild_shards_to`]: the repair path; no owner key needed.
//! * [`NodeClient`]: the single-shard calls (put, get, delete, verify,
//!   list, space).

use std::io::{self, Read, Write};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use ledger::payload::storage::ObjectId;
use ledger::{ChainId, Hash32, PublicKey, SecretKey};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use tokio::sync::mpsc;
use tokio_util::io::{StreamReader, SyncIoBridge};

use crate::auth::{HEADER, ShardOperation, WriteAuthorization, WriteRequest};
use crate::codec::{
    CodecError, CodecParams, Compression, DecodeSummary, Encoder, ObjectExpectation, ShardFault,
    decode_stream, encode_stream, rebuild_shards,
};
use crate::keys::{Salt, StorageKey, object_id};

/// How long a write authorization stays valid.
const AUTHORIZATION_SECS: u64 = 900;
/// Frames buffered per shard upload.
const UPLOAD_QUEUE: usize = 4;

/// What is registered for a stored object (on chain once the storage
/// ledger module exists; in the wallet's catalogue until then).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRecord {
    pub object: String,
    pub owner: String,
    pub salt: String,
    pub data_shards: u8,
    pub parity_shards: u8,
    pub chunk_bytes: u32,
    pub compressed: bool,
    pub size: u64,
    pub content_hash: String,
    pub key_fingerprint: String,
    pub shard_checksums: Vec<String>,
    pub shard_bytes: Vec<u64>,
}

/// Why a transfer failed.
#[derive(Debug, Error)]
pub enum TransferError {
    #[error(transparent)]
    Codec(#[from] CodecError),
    #[error("{endpoint}: {reason}")]
    Node { endpoint: String, reason: String },
    #[error("{endpoint} refused {what}: HTTP {status}: {body}")]
    Refused {
        endpoint: String,
        what: String,
        status: u16,
        body: String,
    },
    #[error("{0} shard endpoints for {1} shards")]
    EndpointCount(usize, usize),
    #[error("reading {path}: {source}")]
    File { path: String, source: io::Error },
    #[error("the record is malformed: {0}")]
    Record(String),
    #[error("a transfer task failed: {0}")]
    Task(String),
}

impl ObjectRecord {
    /// A record naming only the object, its owner key and salt: what a
    /// shard delete needs (the rest is empty).
    pub fn naming(object: &ObjectId, owner: &PublicKey, salt: &Salt) -> ObjectRecord {
        ObjectRecord {
            object: object.to_string(),
            owner: hex::encode(owner.0),
            salt: hex::encode(salt),
            data_shards: 0,
            parity_shards: 0,
            chunk_bytes: 0,
            compressed: false,
            size: 0,
            content_hash: String::new(),
            key_fingerprint: String::new(),
            shard_checksums: Vec::new(),
            shard_bytes: Vec::new(),
        }
    }

    pub fn object_id(&self) -> Result<ObjectId, TransferError> {
        Hash32::from_str(&self.object)
            .map(ObjectId)
            .map_err(|error| TransferError::Record(format!("object: {error}")))
    }

    pub fn salt(&self) -> Result<Salt, TransferError> {
        hex::decode(&self.salt)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| TransferError::Record("salt is not 16 hex bytes".into()))
    }

    pub fn owner(&self) -> Result<PublicKey, TransferError> {
        hex::decode(&self.owner)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .map(PublicKey)
            .ok_or_else(|| TransferError::Record("owner is not 32 hex bytes".into()))
    }

    pub fn params(&self) -> CodecParams {
        CodecParams {
            data_shards: self.data_shards,
            parity_shards: self.parity_shards,
            chunk_bytes: self.chunk_bytes,
            compression: if self.compressed {
                Compression::Zstd
            } else {
                Compression::None
            },
        }
    }

    pub fn checksum(&self, shard: usize) -> Result<Hash32, TransferError> {
        self.shard_checksums
            .get(shard)
            .and_then(|text| Hash32::from_str(text).ok())
            .ok_or_else(|| TransferError::Record(format!("no checksum for shard {shard}")))
    }

    pub fn expectation(&self) -> Result<ObjectExpectation, TransferError> {
        Ok(ObjectExpectation {
            object: self.object_id()?,
            params: self.params(),
            salt: self.salt()?,
            size: self.size,
            content_hash: Some(
                Hash32::from_str(&self.content_hash)
                    .map_err(|error| TransferError::Record(format!("content hash: {error}")))?,
            ),
        })
    }
}

/// A stor-node's answer to `verify`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Verification {
    pub ok: bool,
    pub expected: String,
    pub actual: String,
}

/// HTTP calls to stor-nodes.
#[derive(Debug, Clone, Default)]
pub struct NodeClient {
    http: reqwest::Client,
}

fn shard_url(endpoint: &str, object: &ObjectId, shard: usize) -> String {
    format!(
        "{}/v1/shards/{object}/{shard}",
        endpoint.trim_end_matches('/')
    )
}

fn node_error(endpoint: &str, error: impl std::fmt::Display) -> TransferError {
    TransferError::Node {
        endpoint: endpoint.to_string(),
        reason: error.to_string(),
    }
}

async fn refused(endpoint: &str, what: String, response: reqwest::Response) -> TransferError {
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    TransferError::Refused {
        endpoint: endpoint.to_string(),
        what,
        status,
        body,
    }
}

impl NodeClient {
    pub fn new() -> NodeClient {
        NodeClient::default()
    }

    /// Uploads one shard file.
    pub async fn put_shard(
        &self,
        endpoint: &str,
        authorization: &WriteAuthorization,
        body: reqwest::Body,
    ) -> Result<(), TransferError> {
        let request = &authorization.request;
        let url = shard_url(endpoint, &request.object, usize::from(request.shard));
        let response = self
            .http
            .put(&url)
            .header(HEADER, authorization.to_header())
            .header(reqwest::header::CONTENT_LENGTH, request.length)
            .body(body)
            .send()
            .await
            .map_err(|error| node_error(endpoint, error))?;
        if response.status().is_success() {
            return Ok(());
        }
        Err(refused(endpoint, format!("shard {}", request.shard), response).await)
    }

    /// Deletes one shard.
    pub async fn delete_shard(
        &self,
        endpoint: &str,
        authorization: &WriteAuthorization,
    ) -> Result<(), TransferError> {
        let request = &authorization.request;
        let url = shard_url(endpoint, &request.object, usize::from(request.shard));
        let response = self
            .http
            .delete(&url)
            .header(HEADER, authorization.to_header())
            .send()
            .await
            .map_err(|error| node_error(endpoint, error))?;
        if response.status().is_success() {
            return Ok(());
        }
        Err(refused(
            endpoint,
            format!("deleting shard {}", request.shard),
            response,
        )
        .await)
    }

    /// Starts downloading one shard file.
    pub async fn get_shard(
        &self,
        endpoint: &str,
        object: &ObjectId,
        shard: usize,
    ) -> Result<reqwest::Response, TransferError> {
        let response = self
            .http
            .get(shard_url(endpoint, object, shard))
            .send()
            .await
            .map_err(|error| node_error(endpoint, error))?;
        if response.status().is_success() {
            return Ok(response);
        }
        Err(refused(endpoint, format!("reading shard {shard}"), response).await)
    }

    /// Asks a node to re-read a shard and compare its checksum.
    pub async fn verify_shard(
        &self,
        endpoint: &str,
        object: &ObjectId,
        shard: usize,
    ) -> Result<Verification, TransferError> {
        let response = self
            .http
            .get(format!("{}/verify", shard_url(endpoint, object, shard)))
            .send()
            .await
            .map_err(|error| node_error(endpoint, error))?;
        if !response.status().is_success() {
            return Err(refused(endpoint, format!("verifying shard {shard}"), response).await);
        }
        response
            .json()
            .await
            .map_err(|error| node_error(endpoint, error))
    }
}

/// A `Write` feeding an upload body through a bounded channel.
struct UploadWriter {
    sender: mpsc::Sender<Result<Bytes, io::Error>>,
}

impl Write for UploadWriter {
    fn write(&mut self, buffer: &[u8]) -> io::Result<usize> {
        self.sender
            .blocking_send(Ok(Bytes::copy_from_slice(buffer)))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the upload stopped"))?;
        Ok(buffer.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Discards bytes (the first, measuring pass of a put).
struct Discard;

impl Write for Discard {
    fn write(&mut self, buffer: &[u8]) -> io::Result<usize> {
        Ok(buffer.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0)
}

/// What a put needs besides the file and the nodes.
pub struct PutRequest<'a> {
    pub owner: &'a SecretKey,
    pub storage_key: &'a StorageKey,
    pub params: CodecParams,
    pub chain_id: ChainId,
    /// Random per object.
    pub salt: Salt,
}

fn open(path: &Path) -> Result<std::fs::File, TransferError> {
    std::fs::File::open(path).map_err(|source| TransferError::File {
        path: path.display().to_string(),
        source,
    })
}

/// Stores the file at `path`: shard `i` goes to `endpoints[i]`.
/// `progress` is told the plaintext bytes sent so far.
pub async fn put_object(
    client: &NodeClient,
    path: &Path,
    request: PutRequest<'_>,
    endpoints: &[String],
    progress: Arc<dyn Fn(u64) + Send + Sync>,
) -> Result<ObjectRecord, TransferError> {
    let params = request.params;
    params.validate()?;
    let total = params.total_shards();
    if endpoints.len() != total {
        return Err(TransferError::EndpointCount(endpoints.len(), total));
    }
    let owner = request.owner.public_key();
    let object = object_id(&owner, &request.salt);
    let key = request.storage_key.object_key(&request.salt);
    let salt = request.salt;

    // Pass 1: lengths and checksums.
    let measured = {
        let file = open(path)?;
        let key = key.clone();
        tokio::task::spawn_blocking(move || {
            let encoder = Encoder::new(params, object, salt, &key)?;
            let mut sinks: Vec<Discard> = (0..total).map(|_| Discard).collect();
            encode_stream(encoder, &key, io::BufReader::new(file), &mut sinks, |_| {})
        })
        .await
        .map_err(|error| TransferError::Task(error.to_string()))??
    };

    // Pass 2: the same bytes, streamed to the nodes.
    let expires_at = unix_now() + AUTHORIZATION_SECS;
    let mut writers = Vec::with_capacity(total);
    let mut uploads = Vec::with_capacity(total);
    for (shard, endpoint) in endpoints.iter().enumerate() {
        let (sender, receiver) = mpsc::channel(UPLOAD_QUEUE);
        writers.push(UploadWriter { sender });
        let authorization = WriteRequest {
            operation: ShardOperation::Put,
            object,
            shard: shard as u8,
            length: measured.shard_bytes[shard],
            checksum: measured.shard_checksums[shard],
            expires_at,
            owner,
            salt,
            signer: owner,
        }
        .sign(request.owner, &request.chain_id);
        let client = client.clone();
        let endpoint = endpoint.clone();
        uploads.push(tokio::spawn(async move {
            let body = reqwest::Body::wrap_stream(tokio_stream_of(receiver));
            client.put_shard(&endpoint, &authorization, body).await
        }));
    }
    let file = open(path)?;
    let encoded = {
        let key = key.clone();
        tokio::task::spawn_blocking(move || {
            let encoder = Encoder::new(params, object, salt, &key)?;
            let result = encode_stream(
                encoder,
                &key,
                io::BufReader::new(file),
                &mut writers,
                |done| progress(done),
            );
            drop(writers);
            result
        })
    };
    let encoded = encoded
        .await
        .map_err(|error| TransferError::Task(error.to_string()))?;
    // An upload's own error explains a broken pipe better than the encoder.
    for upload in uploads {
        upload
            .await
            .map_err(|error| TransferError::Task(error.to_string()))??;
    }
    let summary = encoded?;
    if summary.shard_checksums != measured.shard_checksums {
        return Err(TransferError::Record(
            "the file changed between the two passes of the put".into(),
        ));
    }
    Ok(ObjectRecord {
        object: object.to_string(),
        owner: hex::encode(owner.0),
        salt: hex::encode(salt),
        data_shards: params.data_shards,
        parity_shards: params.parity_shards,
        chunk_bytes: params.chunk_bytes,
        compressed: params.compression == Compression::Zstd,
        size: summary.size,
        content_hash: summary.content_hash.to_string(),
        key_fingerprint: key.fingerprint().to_string(),
        shard_checksums: summary
            .shard_checksums
            .iter()
            .map(ToString::to_string)
            .collect(),
        shard_bytes: summary.shard_bytes,
    })
}

fn tokio_stream_of(
    mut receiver: mpsc::Receiver<Result<Bytes, io::Error>>,
) -> impl futures::Stream<Item = Result<Bytes, io::Error>> {
    futures::stream::poll_fn(move |context| receiver.poll_recv(context))
}

type ShardBody = SyncIoBridge<
    StreamReader<
        std::pin::Pin<Box<dyn futures::Stream<Item = Result<Bytes, io::Error>> + Send>>,
        Bytes,
    >,
>;

/// A shard download that connects on its first read, so spare shards cost
/// nothing unless they are needed. Runs on a blocking thread.
pub struct LazyShard {
    client: NodeClient,
    endpoint: String,
    object: ObjectId,
    shard: usize,
    runtime: tokio::runtime::Handle,
    body: Option<ShardBody>,
}

impl Read for LazyShard {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        if self.body.is_none() {
            let response = self
                .runtime
                .block_on(
                    self.client
                        .get_shard(&self.endpoint, &self.object, self.shard),
                )
                .map_err(io::Error::other)?;
            let stream: std::pin::Pin<
                Box<dyn futures::Stream<Item = Result<Bytes, io::Error>> + Send>,
            > = Box::pin(
                response
                    .bytes_stream()
                    .map(|piece| piece.map_err(io::Error::other)),
            );
            self.body = Some(SyncIoBridge::new_with_handle(
                StreamReader::new(stream),
                self.runtime.clone(),
            ));
        }
        match &mut self.body {
            Some(body) => body.read(buffer),
            None => Err(io::Error::other("shard download not started")),
        }
    }
}

fn lazy_shards(
    client: &NodeClient,
    object: ObjectId,
    endpoints: &[Option<String>],
) -> Vec<Option<LazyShard>> {
    let runtime = tokio::runtime::Handle::current();
    endpoints
        .iter()
        .enumerate()
        .map(|(shard, endpoint)| {
            endpoint.as_ref().map(|endpoint| LazyShard {
                client: client.clone(),
                endpoint: endpoint.clone(),
                object,
                shard,
                runtime: runtime.clone(),
                body: None,
            })
        })
        .collect()
}

/// Reads the object `record` describes from `endpoints` (shard index →
/// node, `None` when unknown or known lost) into `output`.
pub async fn get_object<W: Write + Send + 'static>(
    client: &NodeClient,
    record: &ObjectRecord,
    storage_key: &StorageKey,
    endpoints: &[Option<String>],
    output: W,
    progress: Arc<dyn Fn(u64) + Send + Sync>,
) -> Result<DecodeSummary, TransferError> {
    let expectation = record.expectation()?;
    let key = storage_key.object_key(&expectation.salt);
    let shards = lazy_shards(client, expectation.object, endpoints);
    let summary = tokio::task::spawn_blocking(move || {
        decode_stream(&expectation, &key, shards, output, |done| progress(done))
    })
    .await
    .map_err(|error| TransferError::Task(error.to_string()))??;
    Ok(summary)
}

/// Rebuilds the shards `targets` (shard index → node) from the others and
/// uploads them, signed by `signer` (the owner, or a repair key the nodes
/// trust). Returns the faults met while reading.
pub async fn rebuild_shards_to(
    client: &NodeClient,
    record: &ObjectRecord,
    sources: &[Option<String>],
    targets: &[(usize, String)],
    signer: &SecretKey,
    chain_id: ChainId,
) -> Result<Vec<ShardFault>, TransferError> {
    let expectation = record.expectation()?;
    let owner = record.owner()?;
    let expires_at = unix_now() + AUTHORIZATION_SECS;
    let mut writers = Vec::with_capacity(targets.len());
    let mut uploads = Vec::with_capacity(targets.len());
    for (shard, endpoint) in targets {
        let (sender, receiver) = mpsc::channel(UPLOAD_QUEUE);
        writers.push((*shard, UploadWriter { sender }));
        let authorization = WriteRequest {
            operation: ShardOperation::Put,
            object: expectation.object,
            shard: *shard as u8,
            length: *record
                .shard_bytes
                .get(*shard)
                .ok_or_else(|| TransferError::Record(format!("no length for shard {shard}")))?,
            checksum: record.checksum(*shard)?,
            expires_at,
            owner,
            salt: expectation.salt,
            signer: signer.public_key(),
        }
        .sign(signer, &chain_id);
        let client = client.clone();
        let endpoint = endpoint.clone();
        uploads.push(tokio::spawn(async move {
            let body = reqwest::Body::wrap_stream(tokio_stream_of(receiver));
            client.put_shard(&endpoint, &authorization, body).await
        }));
    }
    let shards = lazy_shards(client, expectation.object, sources);
    let rebuilt = tokio::task::spawn_blocking(move || {
        let result = rebuild_shards(&expectation, shards, &mut writers);
        drop(writers);
        result
    })
    .await
    .map_err(|error| TransferError::Task(error.to_string()))?;
    for upload in uploads {
        upload
            .await
            .map_err(|error| TransferError::Task(error.to_string()))??;
    }
    Ok(rebuilt?)
}

/// Deletes shard `shard` of the object from `endpoint`, signed by `signer`.
pub async fn delete_shard(
    client: &NodeClient,
    record: &ObjectRecord,
    shard: usize,
    endpoint: &str,
    signer: &SecretKey,
    chain_id: ChainId,
) -> Result<(), TransferError> {
    let authorization = WriteRequest {
        operation: ShardOperation::Delete,
        object: record.object_id()?,
        shard: shard as u8,
        length: 0,
        checksum: Hash32::ZERO,
        expires_at: unix_now() + AUTHORIZATION_SECS,
        owner: record.owner()?,
        salt: record.salt()?,
        signer: signer.public_key(),
    }
    .sign(signer, &chain_id);
    client.delete_shard(endpoint, &authorization).await
}
