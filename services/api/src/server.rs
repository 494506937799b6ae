//! The HTTP server: routes, limits and shutdown.
//!
//! | route | what |
//! |---|---|
//! | `POST /graphql` | queries and mutations (JSON body, single or batch) |
//! | `GET /graphql`, `GET /graphql/ws` | subscriptions (graphql-transport-ws, also graphql-ws) |
//! | `GET /graphiql` | GraphiQL |
//! | `GET /healthz`, `GET /metrics` | health (PostgreSQL, NATS) and Prometheus metrics |
//! | `/` and below | the explorer web UI's static files, or a small index page |
//!
//! The GraphQL handler reads the body itself, so that an oversized,
//! non-JSON or non-GraphQL body gets a GraphQL error response (with
//! `extensions.code`) and a 4xx status rather than a bare rejection, and
//! runs each request under the configured timeout.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_graphql::http::GraphiQLSource;
use async_graphql::{BatchRequest, BatchResponse, Data, ServerError};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State, WebSocketUpgrade};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use service::{Health, Metrics, Observable};
use tokio_util::sync::CancellationToken;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};
use tower_http::services::{ServeDir, ServeFile};

use crate::context::ApiState;
use crate::error::code_for_engine_error;
use crate::login::BearerToken;
use crate::schema::{ApiSchema, build_schema};

/// How the server is reached and what it serves besides GraphQL.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Directory of the explorer web UI (`index.html` and assets); when it
    /// does not exist a small index page is served.
    pub static_dir: Option<PathBuf>,
    /// Origins allowed by CORS: empty for none, `*` for any.
    pub cors_origins: Vec<String>,
    /// How long open WebSocket connections get to finish after shutdown.
    pub shutdown_grace: Duration,
}

impl Default for ServerOptions {
    fn default() -> ServerOptions {
        ServerOptions {
            static_dir: None,
            cors_origins: Vec::new(),
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

/// Request counters for `/metrics`.
#[derive(Debug, Default)]
pub struct ApiMetrics {
    pub requests: AtomicU64,
    pub requests_with_errors: AtomicU64,
    pub rejected_bodies: AtomicU64,
    pub timeouts: AtomicU64,
    pub request_micros: AtomicU64,
}

#[derive(Clone)]
struct AppState {
    schema: ApiSchema,
    api: ApiState,
    metrics: Arc<ApiMetrics>,
}

impl Observable for AppState {
    fn health(&self) -> Health {
        if self.api.pool.is_closed() {
            return Health::Degraded("PostgreSQL pool closed".into());
        }
        match &self.api.nats {
            Some(nats) => match nats.connection_state() {
                async_nats::connection::State::Connected => Health::Ok,
                other => Health::Degraded(format!("NATS {other}")),
            },
            None => Health::Ok,
        }
    }

    fn metrics(&self) -> String {
        let mut out = Metrics::new();
        let counters: [(&str, &str, &AtomicU64); 5] = [
            (
                "api_requests_total",
                "GraphQL HTTP requests.",
                &self.metrics.requests,
            ),
            (
                "api_requests_with_errors_total",
                "GraphQL HTTP requests answered with at least one error.",
                &self.metrics.requests_with_errors,
            ),
            (
                "api_rejected_bodies_total",
                "Requests refused before execution (too large, not JSON, not GraphQL).",
                &self.metrics.rejected_bodies,
            ),
            (
                "api_timeouts_total",
                "Requests that ran out of time.",
                &self.metrics.timeouts,
            ),
            (
                "api_request_microseconds_total",
                "Time spent executing GraphQL requests.",
                &self.metrics.request_micros,
            ),
        ];
        for (name, help, value) in counters {
            out.family(name, "counter", help).sample(
                name,
                &[("network", &self.api.network.name)],
                value.load(Ordering::Relaxed) as f64,
            );
        }
        out.family(
            "api_database_connections",
            "gauge",
            "Open PostgreSQL connections.",
        )
        .sample(
            "api_database_connections",
            &[("network", &self.api.network.name)],
            f64::from(self.api.pool.size()),
        );
        out.finish()
    }
}

/// Builds the router for `api` (the schema is built here).
pub fn router(api: ApiState, options: &ServerOptions) -> Router {
    let schema = build_schema(api.clone());
    let state = AppState {
        schema: schema.clone(),
        api: api.clone(),
        metrics: Arc::new(ApiMetrics::default()),
    };
    let mut app = Router::new()
        .route("/graphql", post(graphql).get(subscriptions))
        .route("/graphql/ws", get(subscriptions))
        .route("/graphiql", get(graphiql))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(state);

    let static_dir = options.static_dir.as_ref().filter(|dir| dir.is_dir());
    app = match static_dir {
        Some(dir) => app
            .fallback_service(ServeDir::new(dir).fallback(ServeFile::new(dir.join("index.html")))),
        None => app.route("/", get(index)),
    };
    app = app.layer(DefaultBodyLimit::max(api.limits.max_body_bytes));
    if let Some(cors) = cors_layer(&options.cors_origins) {
        app = app.layer(cors);
    }
    app
}

fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let layer = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION]);
    if origins.iter().any(|origin| origin == "*") {
        return Some(layer.allow_origin(Any));
    }
    let allowed: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|origin| match HeaderValue::from_str(origin) {
            Ok(value) => Some(value),
            Err(_) => {
                tracing::warn!(%origin, "CORS origin is not a valid header value; ignored");
                None
            }
        })
        .collect();
    Some(layer.allow_origin(AllowOrigin::list(allowed)))
}

/// A GraphQL error response that did not come from execution.
fn refusal(status: StatusCode, code: &str, message: String) -> Response {
    let body = serde_json::json!({
        "errors": [{ "message": message, "extensions": { "code": code } }]
    });
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// The bearer token of an `Authorization` header, unchecked.
fn bearer_token(headers: &axum::http::HeaderMap) -> Option<BearerToken> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(BearerToken::from_header)
}

/// GraphQL over WebSocket. A bearer token comes from the upgrade
/// request's `Authorization` header or, as browsers cannot set headers on
/// WebSockets, from the `connection_init` payload.
async fn subscriptions(
    State(state): State<AppState>,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
    headers: axum::http::HeaderMap,
) -> Response {
    let from_header = bearer_token(&headers);
    let schema = state.schema.clone();
    upgrade
        .protocols(async_graphql::http::ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| {
            GraphQLWebSocket::new(socket, schema, protocol)
                .on_connection_init(move |payload| async move {
                    let mut data = Data::default();
                    if let Some(token) = BearerToken::from_init_payload(&payload).or(from_header) {
                        data.insert(token);
                    }
                    Ok(data)
                })
                .serve()
        })
}

async fn graphql(State(state): State<AppState>, request: Request) -> Response {
    state.metrics.requests.fetch_add(1, Ordering::Relaxed);
    let token = bearer_token(request.headers());
    let limits = &state.api.limits;
    let body = match axum::body::to_bytes(request.into_body(), limits.max_body_bytes).await {
        Ok(body) => body,
        Err(_) => {
            state
                .metrics
                .rejected_bodies
                .fetch_add(1, Ordering::Relaxed);
            return refusal(
                StatusCode::PAYLOAD_TOO_LARGE,
                "REQUEST_TOO_LARGE",
                format!("the request body exceeds {} bytes", limits.max_body_bytes),
            );
        }
    };
    let batch: BatchRequest = match serde_json::from_slice::<BatchRequest>(&body) {
        Ok(batch) => match token {
            Some(token) => batch.data(token),
            None => batch,
        },
        Err(error) => {
            state
                .metrics
                .rejected_bodies
                .fetch_add(1, Ordering::Relaxed);
            return refusal(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                format!(
                    "the body is not a GraphQL request (JSON with `query`, optional `variables` and `operationName`): {error}"
                ),
            );
        }
    };
    let started = Instant::now();
    let executed =
        tokio::time::timeout(limits.request_timeout(), state.schema.execute_batch(batch)).await;
    state.metrics.request_micros.fetch_add(
        u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        Ordering::Relaxed,
    );
    let mut response = match executed {
        Ok(response) => response,
        Err(_) => {
            state.metrics.timeouts.fetch_add(1, Ordering::Relaxed);
            return refusal(
                StatusCode::OK,
                "TIMEOUT",
                format!(
                    "the request ran longer than {} ms",
                    limits.request_timeout_ms
                ),
            );
        }
    };
    let mut any_error = false;
    let mut mark = |errors: &mut Vec<ServerError>| {
        any_error |= !errors.is_empty();
        errors.iter_mut().for_each(code_for_engine_error);
    };
    match &mut response {
        BatchResponse::Single(single) => mark(&mut single.errors),
        BatchResponse::Batch(all) => all.iter_mut().for_each(|single| mark(&mut single.errors)),
    }
    if any_error {
        state
            .metrics
            .requests_with_errors
            .fetch_add(1, Ordering::Relaxed);
    }
    match serde_json::to_vec(&response) {
        Ok(bytes) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            Body::from(bytes),
        )
            .into_response(),
        Err(error) => refusal(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_ERROR",
            format!("the response could not be serialized: {error}"),
        ),
    }
}

async fn graphiql() -> Html<String> {
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql")
            .subscription_endpoint("/graphql/ws")
            .title("BlockStake GraphQL")
            .finish(),
    )
}

async fn healthz(State(state): State<AppState>) -> Response {
    let database = tokio::time::timeout(
        Duration::from_secs(2),
        sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(&state.api.pool),
    )
    .await;
    let health = match database {
        Ok(Ok(_)) => state.health(),
        Ok(Err(error)) => Health::Degraded(format!("PostgreSQL: {error}")),
        Err(_) => Health::Degraded("PostgreSQL does not answer".into()),
    };
    match health {
        Health::Ok => (StatusCode::OK, "ok\n".to_owned()).into_response(),
        Health::Degraded(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("degraded: {reason}\n"),
        )
            .into_response(),
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics(),
    )
        .into_response()
}

async fn index() -> Html<&'static str> {
    Html(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>BlockStake API</title></head>\
         <body><h1>BlockStake API</h1><ul>\
         <li><a href=\"/graphiql\">GraphiQL</a> (explore the schema and run queries)</li>\
         <li><code>POST /graphql</code>, subscriptions on <code>/graphql/ws</code></li>\
         <li><a href=\"/healthz\">/healthz</a>, <a href=\"/metrics\">/metrics</a></li>\
         </ul></body></html>",
    )
}

/// Serves `router` on `listener` until `shutdown`; open WebSocket
/// connections get `grace` to finish, then are dropped.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: CancellationToken,
    grace: Duration,
) -> std::io::Result<()> {
    let signal = shutdown.clone();
    let server = axum::serve(listener, router)
        .with_graceful_shutdown(async move { signal.cancelled().await });
    tokio::select! {
        served = server => served,
        () = async {
            shutdown.cancelled().await;
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!("connections still open {grace:?} after shutdown; closing them");
            Ok(())
        }
    }
}

/// Binds `address` and serves the API in a task; returns the bound address.
pub async fn spawn(
    address: SocketAddr,
    api: ApiState,
    options: ServerOptions,
    shutdown: CancellationToken,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<std::io::Result<()>>)> {
    let listener = tokio::net::TcpListener::bind(address).await?;
    let bound = listener.local_addr()?;
    let mut api = api;
    if api.login.origin.is_none() {
        let mut login = (*api.login).clone();
        login.origin = Some(format!("http://{bound}"));
        api.login = Arc::new(login);
    }
    let app = router(api, &options);
    let task = tokio::spawn(serve(listener, app, shutdown, options.shutdown_grace));
    Ok((bound, task))
}
