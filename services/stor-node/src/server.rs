//! The HTTP API (axum): shards in and out, space, health and metrics.
//!
//! | method | path | what |
//! |---|---|---|
//! | PUT | `/v1/shards/{object}/{shard}` | store a shard (signed `put`; body = shard file) |
//! | GET | `/v1/shards/{object}/{shard}` | the shard file, re-hashed while it streams |
//! | DELETE | `/v1/shards/{object}/{shard}` | remove it (signed `delete`) |
//! | GET | `/v1/shards/{object}/{shard}/verify` | re-read and compare the checksum |
//! | GET | `/v1/shards` | every stored shard with its metadata |
//! | GET | `/v1/space` | capacity, used, free, shard counts |
//! | GET | `/healthz`, `/metrics` | health; Prometheus text |
//!
//! Errors are JSON `{"error": "..."}` with a status chosen in one place
//! ([`ApiError::into_response`]).

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use ledger::payload::storage::ObjectId;
use ledger::{ChainId, Hash32, PublicKey};
use serde::Serialize;
use stor::ShardHasher;
use stor::auth::{AuthError, HEADER, ShardOperation, WriteAuthorization};
use thiserror::Error;
use tokio::io::AsyncReadExt;
use tokio_util::sync::CancellationToken;

use crate::store::{ShardMeta, ShardStore, StoreError};

/// Bytes read from disk per body frame.
const READ_BUFFER: usize = 256 * 1024;

/// Shared by the handlers.
pub struct NodeState {
    pub store: ShardStore,
    pub chain_id: ChainId,
    pub repair_keys: Vec<PublicKey>,
    refused_unauthorized: AtomicU64,
    refused_invalid: AtomicU64,
    refused_full: AtomicU64,
}

impl NodeState {
    pub fn new(store: ShardStore, chain_id: ChainId, repair_keys: Vec<PublicKey>) -> NodeState {
        NodeState {
            store,
            chain_id,
            repair_keys,
            refused_unauthorized: AtomicU64::new(0),
            refused_invalid: AtomicU64::new(0),
            refused_full: AtomicU64::new(0),
        }
    }

    fn metrics(&self) -> String {
        let space = self.store.space();
        let counters = &self.store.counters;
        let mut metrics = service::Metrics::new();
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed) as f64;
        metrics
            .family(
                "stor_node_capacity_bytes",
                "gauge",
                "Bytes this node offers.",
            )
            .sample("stor_node_capacity_bytes", &[], space.capacity_bytes as f64)
            .family(
                "stor_node_used_bytes",
                "gauge",
                "Bytes held or being received.",
            )
            .sample("stor_node_used_bytes", &[], space.used_bytes as f64)
            .family("stor_node_shards", "gauge", "Shards stored.")
            .sample("stor_node_shards", &[], space.shards as f64)
            .family(
                "stor_node_corrupt_shards",
                "gauge",
                "Shards that failed their checksum.",
            )
            .sample("stor_node_corrupt_shards", &[], space.corrupt_shards as f64)
            .family(
                "stor_node_operations_total",
                "counter",
                "Completed operations.",
            )
            .sample(
                "stor_node_operations_total",
                &[("operation", "put")],
                load(&counters.puts),
            )
            .sample(
                "stor_node_operations_total",
                &[("operation", "get")],
                load(&counters.gets),
            )
            .sample(
                "stor_node_operations_total",
                &[("operation", "delete")],
                load(&counters.deletes),
            )
            .family("stor_node_bytes_total", "counter", "Shard bytes moved.")
            .sample(
                "stor_node_bytes_total",
                &[("direction", "written")],
                load(&counters.bytes_written),
            )
            .sample(
                "stor_node_bytes_total",
                &[("direction", "read")],
                load(&counters.bytes_read),
            )
            .family(
                "stor_node_corruption_detected_total",
                "counter",
                "Checksum failures found on read or verify.",
            )
            .sample(
                "stor_node_corruption_detected_total",
                &[],
                load(&counters.corrupt_detected),
            )
            .family(
                "stor_node_refused_total",
                "counter",
                "Requests refused, by reason.",
            )
            .sample(
                "stor_node_refused_total",
                &[("reason", "unauthorized")],
                load(&self.refused_unauthorized),
            )
            .sample(
                "stor_node_refused_total",
                &[("reason", "invalid")],
                load(&self.refused_invalid),
            )
            .sample(
                "stor_node_refused_total",
                &[("reason", "full")],
                load(&self.refused_full),
            );
        metrics.finish()
    }
}

/// Why a request failed.
#[derive(Debug, Error)]
pub enum ApiError {
    #[error("{0}")]
    Auth(#[from] AuthError),
    #[error("{0}")]
    Path(String),
    #[error("{0}")]
    Store(#[from] StoreError),
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::Auth(AuthError::Missing) => StatusCode::UNAUTHORIZED,
            ApiError::Auth(AuthError::Malformed { .. } | AuthError::Operation(_)) => {
                StatusCode::BAD_REQUEST
            }
            ApiError::Auth(_) => StatusCode::FORBIDDEN,
            ApiError::Path(_) => StatusCode::BAD_REQUEST,
            ApiError::Store(StoreError::NotFound { .. }) => StatusCode::NOT_FOUND,
            ApiError::Store(StoreError::Corrupt { .. }) => StatusCode::CONFLICT,
            ApiError::Store(StoreError::Full { .. }) => StatusCode::INSUFFICIENT_STORAGE,
            ApiError::Store(
                StoreError::Length { .. } | StoreError::Checksum { .. } | StoreError::Body(_),
            ) => StatusCode::BAD_REQUEST,
            ApiError::Store(StoreError::Io { .. }) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if matches!(self, ApiError::Store(StoreError::Io { .. })) {
            tracing::error!(error = %self, "request failed");
        } else {
            tracing::info!(error = %self, %status, "request refused");
        }
        (
            status,
            axum::Json(serde_json::json!({ "error": self.to_string() })),
        )
            .into_response()
    }
}

fn parse_target(object: &str, shard: &str) -> Result<(ObjectId, u8), ApiError> {
    let object = Hash32::from_str(object)
        .map(ObjectId)
        .map_err(|error| ApiError::Path(format!("object {object:?}: {error}")))?;
    let shard = shard
        .parse::<u8>()
        .map_err(|_| ApiError::Path(format!("shard index {shard:?} is not 0..=255")))?;
    Ok((object, shard))
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0)
}

fn authorize(
    state: &NodeState,
    headers: &HeaderMap,
    operation: ShardOperation,
    object: &ObjectId,
    shard: u8,
) -> Result<WriteAuthorization, ApiError> {
    let result = (|| {
        let text = headers
            .get(HEADER)
            .and_then(|value| value.to_str().ok())
            .ok_or(AuthError::Missing)?;
        let authorization = WriteAuthorization::from_header(text)?;
        authorization.verify(
            &state.chain_id,
            operation,
            object,
            shard,
            unix_now(),
            &state.repair_keys,
        )?;
        Ok(authorization)
    })();
    if result.is_err() {
        state.refused_unauthorized.fetch_add(1, Ordering::Relaxed);
    }
    result.map_err(ApiError::Auth)
}

async fn put_shard(
    State(state): State<Arc<NodeState>>,
    Path((object, shard)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let (object, shard) = parse_target(&object, &shard)?;
    let authorization = authorize(&state, &headers, ShardOperation::Put, &object, shard)?;
    let request = authorization.request;
    let meta = ShardMeta {
        object: object.to_string(),
        shard,
        length: request.length,
        checksum: request.checksum.to_string(),
        owner: hex::encode(request.owner.0),
        salt: hex::encode(request.salt),
        written_by: hex::encode(request.signer.0),
        stored_at: 0,
    };
    let stored = state
        .store
        .put(object, meta, request.checksum, body.into_data_stream())
        .await;
    match &stored {
        Err(StoreError::Full { .. }) => {
            state.refused_full.fetch_add(1, Ordering::Relaxed);
        }
        Err(StoreError::Length { .. } | StoreError::Checksum { .. }) => {
            state.refused_invalid.fetch_add(1, Ordering::Relaxed);
        }
        _ => {}
    }
    stored?;
    tracing::info!(%object, shard, bytes = request.length, "shard stored");
    Ok(StatusCode::CREATED)
}

async fn delete_shard(
    State(state): State<Arc<NodeState>>,
    Path((object, shard)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let (object, shard) = parse_target(&object, &shard)?;
    authorize(&state, &headers, ShardOperation::Delete, &object, shard)?;
    state.store.delete(&object, shard).await?;
    tracing::info!(%object, shard, "shard deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// Reading state of a streamed shard.
struct Reading {
    state: Arc<NodeState>,
    object: ObjectId,
    shard: u8,
    file: tokio::fs::File,
    hasher: Option<ShardHasher>,
    remaining: u64,
    expected: Hash32,
}

async fn get_shard(
    State(state): State<Arc<NodeState>>,
    Path((object, shard)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (object, shard) = parse_target(&object, &shard)?;
    let (entry, file) = state.store.open_shard(&object, shard).await?;
    let length = entry.meta.length;
    let expected = Hash32::from_str(&entry.meta.checksum).unwrap_or(Hash32::ZERO);
    let reading = Reading {
        state: state.clone(),
        object,
        shard,
        file,
        hasher: Some(ShardHasher::new()),
        remaining: length,
        expected,
    };
    // Each frame is hashed as it goes out; after the last one the checksum
    // is compared and a mismatch ends the body with an error (the client
    // sees a broken transfer) and marks the shard corrupt.
    let stream = futures::stream::unfold(reading, |mut reading| async move {
        let hasher = reading.hasher.as_mut()?;
        if reading.remaining == 0 {
            let actual = reading.hasher.take()?.finish();
            if actual == reading.expected {
                return None;
            }
            reading
                .state
                .store
                .mark_corrupt(&reading.object, reading.shard);
            let error = std::io::Error::other(format!(
                "shard {} of {} failed its checksum while being served",
                reading.shard, reading.object
            ));
            return Some((Err(error), reading));
        }
        let want = reading.remaining.min(READ_BUFFER as u64) as usize;
        let mut buffer = vec![0u8; want];
        match reading.file.read(&mut buffer).await {
            Ok(0) => {
                reading.hasher = None;
                reading
                    .state
                    .store
                    .mark_corrupt(&reading.object, reading.shard);
                let error = std::io::Error::other("shard file is shorter than its metadata says");
                Some((Err(error), reading))
            }
            Ok(read) => {
                buffer.truncate(read);
                hasher.update(&buffer);
                reading.remaining -= read as u64;
                reading
                    .state
                    .store
                    .counters
                    .bytes_read
                    .fetch_add(read as u64, Ordering::Relaxed);
                Some((Ok(Bytes::from(buffer)), reading))
            }
            Err(error) => {
                reading.hasher = None;
                Some((Err(error), reading))
            }
        }
    });
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_LENGTH, length.to_string()),
            (
                header::HeaderName::from_static("x-bsc-shard-checksum"),
                entry.meta.checksum.clone(),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

#[derive(Serialize)]
struct Verification {
    object: String,
    shard: u8,
    ok: bool,
    expected: String,
    actual: String,
}

async fn verify_shard(
    State(state): State<Arc<NodeState>>,
    Path((object, shard)): Path<(String, String)>,
) -> Result<axum::Json<Verification>, ApiError> {
    let (object, shard) = parse_target(&object, &shard)?;
    let (expected, actual) = state.store.verify(&object, shard).await?;
    Ok(axum::Json(Verification {
        object: object.to_string(),
        shard,
        ok: expected == actual,
        expected: expected.to_string(),
        actual: actual.to_string(),
    }))
}

async fn list_shards(State(state): State<Arc<NodeState>>) -> impl IntoResponse {
    axum::Json(state.store.list())
}

async fn space(State(state): State<Arc<NodeState>>) -> impl IntoResponse {
    axum::Json(state.store.space())
}

async fn healthz(State(state): State<Arc<NodeState>>) -> Response {
    let space = state.store.space();
    if space.free_bytes == 0 {
        (StatusCode::SERVICE_UNAVAILABLE, "degraded: full\n").into_response()
    } else {
        (StatusCode::OK, "ok\n").into_response()
    }
}

async fn metrics(State(state): State<Arc<NodeState>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics(),
    )
        .into_response()
}

pub fn router(state: Arc<NodeState>) -> Router {
    Router::new()
        .route(
            "/v1/shards/{object}/{shard}",
            get(get_shard).put(put_shard).delete(delete_shard),
        )
        .route("/v1/shards/{object}/{shard}/verify", get(verify_shard))
        .route("/v1/shards", get(list_shards))
        .route("/v1/space", get(space))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// Serves on `listener` until `shutdown`; in-flight requests finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<NodeState>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let address: SocketAddr = listener.local_addr()?;
    tracing::info!(%address, "stor-node listening");
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}
