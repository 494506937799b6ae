//! Queries over the compute read model (PostgreSQL schema `compute`,
//! table contract in `docs/compute.md`, "Read model"): nodes by farm and
//! location with capacity and uptime reports, capacity totals, an owner's deployments, a
//! deployment with its workloads (desired and reported state, history),
//! billing, reschedules and the "billed while down" audit.
//!
//! Everything is public (the chain is). Lists are bounded by `limit`
//! (default 100, at most [`MAX_LIMIT`]) in a stable order.

use async_graphql::{ComplexObject, Context, Object, SimpleObject};

use crate::context::{ApiState, hex_id, parse_id};
use crate::error::{ApiError, ApiResult, IntoGraphql};

/// The model's name (schema).
pub const MODEL: &str = "compute";
/// Most rows one list returns.
pub const MAX_LIMIT: i32 = 500;
const DEFAULT_LIMIT: i32 = 100;

fn db(error: sqlx::Error) -> ApiError {
    ApiError::from_model(MODEL)(error)
}

fn limit_of(limit: Option<i32>) -> ApiResult<i64> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_input(format!(
            "limit {limit} must be between 1 and {MAX_LIMIT}"
        )));
    }
    Ok(i64::from(limit))
}

fn coins(state: &ApiState, stored: &str) -> ApiResult<String> {
    state.network.coins_from_numeric(stored)
}

fn lower(text: Option<String>) -> Option<String> {
    text.map(|text| text.trim().to_ascii_lowercase())
}

/// A compute node with its capacity.
#[derive(Debug, Clone, SimpleObject, sqlx::FromRow)]
#[graphql(complex)]
pub struct ComputeNode {
    #[graphql(skip)]
    pub id: Vec<u8>,
    #[graphql(skip)]
    pub owner: Vec<u8>,
    #[graphql(skip)]
    pub node_key: Vec<u8>,
    pub farm: String,
    /// ISO 3166-1 alpha-2, lowercase.
    pub country: String,
    pub city: String,
    pub cores_total: i64,
    pub memory_mib_total: i64,
    pub disk_gib_total: i64,
    pub cores_used: i64,
    pub memory_mib_used: i64,
    pub disk_gib_used: i64,
    pub cores_free: i64,
    pub memory_mib_free: i64,
    pub disk_gib_free: i64,
    /// `up` / `down`: what the owner wants.
    pub power_target: String,
    /// `up` / `down`: what the node last reported.
    pub power_state: String,
    pub uptime_seconds: i64,
    pub registered_height: i64,
    /// The last report's height (the registration counts as one).
    pub last_report_height: i64,
    #[graphql(skip)]
    pub payout_address: Option<Vec<u8>>,
}

#[ComplexObject]
impl ComputeNode {
    /// Node ID (hex).
    async fn id(&self) -> String {
        hex_id(&self.id)
    }

    /// The owner's identity ID (hex).
    async fn owner(&self) -> String {
        hex_id(&self.owner)
    }

    /// The node key (hex).
    async fn node_key(&self) -> String {
        hex_id(&self.node_key)
    }

    /// Where the node's share of every bill is paid (bech32m).
    async fn payout_address(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<String>> {
        let state = ApiState::of(ctx);
        self.payout_address
            .as_deref()
            .map(|stored| state.network.address_text(stored))
            .transpose()
            .gql()
    }

    /// Coins paid to the node's payout address for the workloads it
    /// hosted, over all deployments.
    async fn earned(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        let state = ApiState::of(ctx);
        let total: String = sqlx::query_scalar(
            "SELECT COALESCE(SUM(amount), 0)::text FROM compute.compute_billing
              WHERE node = $1 AND kind = 'paid'",
        )
        .bind(&self.id)
        .fetch_one(&state.pool)
        .await
        .map_err(db)
        .gql()?;
        coins(state, &total).gql()
    }

    /// The workloads placed on the node now.
    async fn workloads(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Workload>> {
        workloads_where(ApiState::of(ctx), "w.node = $1", self.id.clone())
            .await
            .gql()
    }

    /// Uptime reports, newest first (the registration is the oldest, with
    /// no sequence).
    async fn reports(
        &self,
        ctx: &Context<'_>,
        limit: Option<i32>,
    ) -> async_graphql::Result<Vec<NodeReport>> {
        node_reports(ApiState::of(ctx), &self.id, limit).await.gql()
    }
}

async fn node_reports(
    state: &ApiState,
    node: &[u8],
    limit: Option<i32>,
) -> ApiResult<Vec<NodeReport>> {
    sqlx::query_as(
        "SELECT height, sequence, uptime_seconds, power
           FROM compute.compute_node_report WHERE node = $1
          ORDER BY height DESC, event_index DESC LIMIT $2",
    )
    .bind(node)
    .bind(limit_of(limit)?)
    .fetch_all(&state.pool)
    .await
    .map_err(db)
}

/// One uptime report of a node (or its registration).
#[derive(Debug, Clone, SimpleObject, sqlx::FromRow)]
pub struct NodeReport {
    pub height: i64,
    /// The report's sequence; none for the registration.
    pub sequence: Option<i64>,
    pub uptime_seconds: i64,
    /// `up` / `down`.
    pub power: String,
}

const NODE_COLUMNS: &str = "SELECT id, owner, node_key, farm, country, city, cores_total,
        memory_mib_total, disk_gib_total, cores_used, memory_mib_used, disk_gib_used, cores_free,
        memory_mib_free, disk_gib_free, power_target, power_state, uptime_seconds,
        registered_height, last_report_height, payout_address
   FROM compute.compute_node_capacity";

/// Capacity summed over nodes.
#[derive(Debug, Clone, SimpleObject, sqlx::FromRow)]
pub struct CapacityTotals {
    pub nodes: i64,
    /// Nodes whose last report is within the silence limit of the
    /// model's height (not silent).
    pub nodes_reporting: i64,
    pub cores_total: i64,
    pub cores_used: i64,
    pub cores_free: i64,
    pub memory_mib_total: i64,
    pub memory_mib_used: i64,
    pub memory_mib_free: i64,
    pub disk_gib_total: i64,
    pub disk_gib_used: i64,
    pub disk_gib_free: i64,
}

/// A deployment.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(complex)]
pub struct Deployment {
    #[graphql(skip)]
    pub id: Vec<u8>,
    #[graphql(skip)]
    pub owner: Vec<u8>,
    pub name: String,
    /// `move` (self-healing moves workloads) or `stay`.
    pub reschedule: String,
    /// Allowed farms (empty: any).
    pub farms: Vec<String>,
    pub country: Option<String>,
    pub city: Option<String>,
    /// The canonical encoding of the ledger `DeploymentSpec` (hex): what
    /// `wallet blueprint plan` compares a blueprint with.
    pub spec_hex: String,
    /// Coins per block.
    pub price_per_block: String,
    /// Prepaid coins not yet drawn.
    pub balance: String,
    /// Billed up to (excluding) this height.
    pub billed_to: i64,
    /// Unpaid since this height (stopped after the grace period).
    pub grace_since: Option<i64>,
    /// `active` or `canceled`.
    pub status: String,
    /// `by_owner` or `out_of_funds`.
    pub cancel_cause: Option<String>,
    pub created_height: i64,
    pub updated_height: i64,
    pub canceled_height: Option<i64>,
    /// Where what is left of the balance is paid when it ends (bech32m).
    pub refund_address: Option<String>,
}

#[derive(Debug, sqlx::FromRow)]
struct DeploymentRow {
    id: Vec<u8>,
    owner: Vec<u8>,
    name: String,
    reschedule: String,
    farms: Vec<String>,
    country: Option<String>,
    city: Option<String>,
    spec: Vec<u8>,
    price_per_block: String,
    balance: String,
    billed_to: i64,
    grace_since: Option<i64>,
    status: String,
    cancel_cause: Option<String>,
    created_height: i64,
    updated_height: i64,
    canceled_height: Option<i64>,
    refund_address: Option<Vec<u8>>,
}

const DEPLOYMENT_COLUMNS: &str = "SELECT id, owner, name, reschedule, farms, country, city, spec,
        price_per_block::text AS price_per_block, balance::text AS balance, billed_to,
        grace_since, status, cancel_cause, created_height, updated_height, canceled_height,
        refund_address
   FROM compute.compute_deployment";

fn deployment(state: &ApiState, row: DeploymentRow) -> ApiResult<Deployment> {
    Ok(Deployment {
        id: row.id,
        owner: row.owner,
        name: row.name,
        reschedule: row.reschedule,
        farms: row.farms,
        country: row.country,
        city: row.city,
        spec_hex: hex::encode(row.spec),
        price_per_block: coins(state, &row.price_per_block)?,
        balance: coins(state, &row.balance)?,
        billed_to: row.billed_to,
        grace_since: row.grace_since,
        status: row.status,
        cancel_cause: row.cancel_cause,
        created_height: row.created_height,
        updated_height: row.updated_height,
        canceled_height: row.canceled_height,
        refund_address: row
            .refund_address
            .as_deref()
            .map(|stored| state.network.address_text(stored))
            .transpose()?,
    })
}

#[ComplexObject]
impl Deployment {
    /// Deployment ID (hex).
    async fn id(&self) -> String {
        hex_id(&self.id)
    }

    /// The owner's identity ID (hex).
    async fn owner(&self) -> String {
        hex_id(&self.owner)
    }

    /// Its workloads (removed ones too, with `desiredState: "deleted"`).
    async fn workloads(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Workload>> {
        workloads_where(ApiState::of(ctx), "w.deployment = $1", self.id.clone())
            .await
            .gql()
    }

    /// Balance changes, oldest first.
    async fn billing(
        &self,
        ctx: &Context<'_>,
        limit: Option<i32>,
    ) -> async_graphql::Result<Vec<BillingEntry>> {
        billing(ApiState::of(ctx), &self.id, limit).await.gql()
    }

    /// Workloads moved off silent nodes (and failed attempts), oldest first.
    async fn reschedules(
        &self,
        ctx: &Context<'_>,
        limit: Option<i32>,
    ) -> async_graphql::Result<Vec<Reschedule>> {
        reschedules_where(ApiState::of(ctx), "deployment = $1", self.id.clone(), limit)
            .await
            .gql()
    }

    /// Blocks charged while a workload's node was down.
    async fn billed_while_down(
        &self,
        ctx: &Context<'_>,
        limit: Option<i32>,
    ) -> async_graphql::Result<Vec<BilledWhileDown>> {
        billed_while_down_where(ApiState::of(ctx), "deployment = $1", self.id.clone(), limit)
            .await
            .gql()
    }
}

/// A workload with its desired and reported state.
#[derive(Debug, Clone, SimpleObject, sqlx::FromRow)]
#[graphql(complex)]
pub struct Workload {
    #[graphql(skip)]
    pub deployment: Vec<u8>,
    pub name: String,
    #[graphql(skip)]
    pub node: Option<Vec<u8>>,
    pub cores: i64,
    pub memory_mib: i64,
    /// Root disk plus volumes.
    pub disk_gib: i64,
    pub image: String,
    pub network: Option<String>,
    pub anti_affinity: Option<String>,
    /// `running` (placed on a node) or `deleted` (removed).
    pub desired_state: String,
    /// The node's last report: deploying, starting, running, stopped,
    /// error, deleted; none yet after a (re)placement.
    pub reported_state: Option<String>,
    pub reported_reason: Option<String>,
    pub reported_height: Option<i64>,
    pub placed_height: i64,
    pub removed_height: Option<i64>,
}

#[ComplexObject]
impl Workload {
    /// The deployment's ID (hex).
    async fn deployment(&self) -> String {
        hex_id(&self.deployment)
    }

    /// The node it should run on (hex), none once removed.
    async fn node(&self) -> Option<String> {
        self.node.as_deref().map(hex_id)
    }

    /// Desired (placed, removed) and reported state changes, oldest first.
    async fn history(
        &self,
        ctx: &Context<'_>,
        limit: Option<i32>,
    ) -> async_graphql::Result<Vec<WorkloadStateChange>> {
        history(ApiState::of(ctx), &self.deployment, &self.name, limit)
            .await
            .gql()
    }
}

async fn workloads_where(
    state: &ApiState,
    condition: &str,
    id: Vec<u8>,
) -> ApiResult<Vec<Workload>> {
    sqlx::query_as(&format!(
        "SELECT w.deployment, w.name, w.node, w.cores, w.memory_mib, w.disk_gib, w.image,
                w.network, w.anti_affinity, w.desired_state, w.reported_state, w.reported_reason,
                w.reported_height, w.placed_height, w.removed_height
           FROM compute.compute_workload w WHERE {condition} ORDER BY w.deployment, w.name"
    ))
    .bind(id)
    .fetch_all(&state.pool)
    .await
    .map_err(db)
}

/// One change of a workload's desired or reported state.
#[derive(Debug, Clone, SimpleObject, sqlx::FromRow)]
#[graphql(complex)]
pub struct WorkloadStateChange {
    pub height: i64,
    pub event_index: i64,
    #[graphql(skip)]
    pub node: Vec<u8>,
    /// `placed`, `removed` (desired) or `reported`.
    pub kind: String,
    /// placed: `created` | `updated` | `rescheduled`; removed: `deleted`;
    /// reported: the state.
    pub state: String,
    /// An error report's reason, or why a workload was rescheduled.
    pub reason: Option<String>,
}

#[ComplexObject]
impl WorkloadStateChange {
    /// The node (hex).
    async fn node(&self) -> String {
        hex_id(&self.node)
    }
}

async fn history(
    state: &ApiState,
    deployment: &[u8],
    workload: &str,
    limit: Option<i32>,
) -> ApiResult<Vec<WorkloadStateChange>> {
    sqlx::query_as(
        "SELECT height, event_index, node, kind, state, reason
           FROM compute.compute_workload_history
          WHERE deployment = $1 AND workload = $2
          ORDER BY height, event_index LIMIT $3",
    )
    .bind(deployment)
    .bind(workload)
    .bind(limit_of(limit)?)
    .fetch_all(&state.pool)
    .await
    .map_err(db)
}

/// One balance change of a deployment.
#[derive(Debug, Clone, SimpleObject)]
pub struct BillingEntry {
    pub height: i64,
    /// `deposit`, `top_up`, `billed`, `paid` (a node's share of the bill
    /// before it), `grace_started`, `grace_ended`, `refunded`, `canceled`,
    /// `out_of_funds`.
    pub kind: String,
    /// Coins.
    pub amount: String,
    /// `billed`: the blocks paid for, `fromHeight..toHeight`.
    pub from_height: Option<i64>,
    pub to_height: Option<i64>,
    /// The balance after, in coins.
    pub balance: String,
    /// `paid`: the node paid (hex).
    pub node: Option<String>,
    /// `paid`, `refunded`: the coin output created (hex).
    pub output: Option<String>,
    /// `paid`, `refunded`: the address paid (bech32m).
    pub address: Option<String>,
}

#[derive(sqlx::FromRow)]
struct BillingRow {
    height: i64,
    kind: String,
    amount: String,
    from_height: Option<i64>,
    to_height: Option<i64>,
    balance: String,
    node: Option<Vec<u8>>,
    output: Option<Vec<u8>>,
    address: Option<Vec<u8>>,
}

async fn billing(
    state: &ApiState,
    deployment: &[u8],
    limit: Option<i32>,
) -> ApiResult<Vec<BillingEntry>> {
    let rows: Vec<BillingRow> = sqlx::query_as(
        "SELECT height, kind, amount::text AS amount, from_height, to_height,
                balance::text AS balance, node, output, address
           FROM compute.compute_billing WHERE deployment = $1
          ORDER BY height, event_index LIMIT $2",
    )
    .bind(deployment)
    .bind(limit_of(limit)?)
    .fetch_all(&state.pool)
    .await
    .map_err(db)?;
    rows.into_iter()
        .map(|row| {
            Ok(BillingEntry {
                height: row.height,
                kind: row.kind,
                amount: coins(state, &row.amount)?,
                from_height: row.from_height,
                to_height: row.to_height,
                balance: coins(state, &row.balance)?,
                node: row.node.as_deref().map(hex_id),
                output: row.output.as_deref().map(hex_id),
                address: row
                    .address
                    .as_deref()
                    .map(|stored| state.network.address_text(stored))
                    .transpose()?,
            })
        })
        .collect()
}

/// A workload moved off a silent node, or a deployment healing could not
/// move.
#[derive(Debug, Clone, SimpleObject, sqlx::FromRow)]
#[graphql(complex)]
pub struct Reschedule {
    #[graphql(skip)]
    pub deployment: Vec<u8>,
    pub height: i64,
    /// None for a failed reschedule (the whole deployment stayed).
    pub workload: Option<String>,
    #[graphql(skip)]
    pub from_node: Vec<u8>,
    #[graphql(skip)]
    pub to_node: Option<Vec<u8>>,
    /// The silent node's last report.
    pub last_report_height: Option<i64>,
    /// E.g. `node 3f2a… silent since height 18 (31 blocks at height 49) →
    /// moved from 3f2a… to 9c01…`.
    pub reason: String,
}

#[ComplexObject]
impl Reschedule {
    async fn deployment(&self) -> String {
        hex_id(&self.deployment)
    }

    async fn from_node(&self) -> String {
        hex_id(&self.from_node)
    }

    async fn to_node(&self) -> Option<String> {
        self.to_node.as_deref().map(hex_id)
    }
}

async fn reschedules_where(
    state: &ApiState,
    condition: &str,
    id: Vec<u8>,
    limit: Option<i32>,
) -> ApiResult<Vec<Reschedule>> {
    sqlx::query_as(&format!(
        "SELECT deployment, height, workload, from_node, to_node, last_report_height, reason
           FROM compute.compute_reschedule WHERE {condition}
          ORDER BY height, event_index LIMIT $2"
    ))
    .bind(id)
    .bind(limit_of(limit)?)
    .fetch_all(&state.pool)
    .await
    .map_err(db)
}

/// A workload charged for blocks in which its node was down.
#[derive(Debug, Clone, SimpleObject)]
pub struct BilledWhileDown {
    /// Deployment ID (hex).
    pub deployment: String,
    pub workload: String,
    /// Node ID (hex).
    pub node: String,
    /// Height of the bill.
    pub height: i64,
    /// The bill's range `fromHeight..toHeight`.
    pub from_height: i64,
    pub to_height: i64,
    /// Blocks of the range in which the node was down.
    pub down_blocks: i64,
    /// Their price in coins.
    pub amount: String,
}

async fn billed_while_down_where(
    state: &ApiState,
    condition: &str,
    id: Vec<u8>,
    limit: Option<i32>,
) -> ApiResult<Vec<BilledWhileDown>> {
    #[allow(clippy::type_complexity)] // one row's columns
    let rows: Vec<(Vec<u8>, String, Vec<u8>, i64, i64, i64, i64, String)> =
        sqlx::query_as(&format!(
            "SELECT deployment, workload, node, height, from_height, to_height, down_blocks,
                    amount::text
               FROM compute.compute_billed_while_down WHERE {condition}
              ORDER BY height, deployment, workload LIMIT $2"
        ))
        .bind(id)
        .bind(limit_of(limit)?)
        .fetch_all(&state.pool)
        .await
        .map_err(db)?;
    rows.into_iter()
        .map(
            |(deployment, workload, node, height, from_height, to_height, down_blocks, amount)| {
                Ok(BilledWhileDown {
                    deployment: hex_id(&deployment),
                    workload,
                    node: hex_id(&node),
                    height,
                    from_height,
                    to_height,
                    down_blocks,
                    amount: coins(state, &amount)?,
                })
            },
        )
        .collect()
}

/// Resolves an owner given as identity ID (hex) or identity name.
async fn owner_id(state: &ApiState, owner: &str) -> ApiResult<Vec<u8>> {
    if let Ok(id) = parse_id("owner", owner) {
        return Ok(id);
    }
    crate::identity::require_identity(state, owner)
        .await
        .map(|identity| identity.id)
}

/// The compute root fields.
#[derive(Default)]
pub struct ComputeQuery;

#[Object]
impl ComputeQuery {
    /// Compute nodes, by farm, country, city and ID; optionally only one
    /// farm and/or location (exact, any case).
    async fn compute_nodes(
        &self,
        ctx: &Context<'_>,
        farm: Option<String>,
        country: Option<String>,
        city: Option<String>,
        limit: Option<i32>,
    ) -> async_graphql::Result<Vec<ComputeNode>> {
        let state = ApiState::of(ctx);
        async {
            sqlx::query_as(&format!(
                "{NODE_COLUMNS}
                  WHERE ($1::text IS NULL OR farm = $1) AND ($2::text IS NULL OR country = $2)
                    AND ($3::text IS NULL OR city = $3)
                  ORDER BY farm, country, city, id LIMIT $4"
            ))
            .bind(lower(farm))
            .bind(lower(country))
            .bind(lower(city))
            .bind(limit_of(limit)?)
            .fetch_all(&state.pool)
            .await
            .map_err(db)
        }
        .await
        .gql()
    }

    /// A compute node by ID (hex); none when unknown.
    async fn compute_node(
        &self,
        ctx: &Context<'_>,
        id: String,
    ) -> async_graphql::Result<Option<ComputeNode>> {
        let state = ApiState::of(ctx);
        async {
            let id = parse_id("node ID", &id)?;
            sqlx::query_as(&format!("{NODE_COLUMNS} WHERE id = $1"))
                .bind(id)
                .fetch_optional(&state.pool)
                .await
                .map_err(db)
        }
        .await
        .gql()
    }

    /// Capacity totals over the nodes (optionally of one farm and/or
    /// country). `silentAfterBlocks` (default 20, the devnet's limit)
    /// decides which nodes count as reporting.
    async fn compute_capacity(
        &self,
        ctx: &Context<'_>,
        farm: Option<String>,
        country: Option<String>,
        silent_after_blocks: Option<i32>,
    ) -> async_graphql::Result<CapacityTotals> {
        let state = ApiState::of(ctx);
        async {
            sqlx::query_as(
                "WITH tip AS (SELECT COALESCE(MAX(last_report_height), 0) AS height
                                FROM compute.compute_node)
                 SELECT COUNT(*) AS nodes,
                        COUNT(*) FILTER (WHERE tip.height - last_report_height <= $3)
                            AS nodes_reporting,
                        COALESCE(SUM(cores_total), 0)::bigint AS cores_total,
                        COALESCE(SUM(cores_used), 0)::bigint AS cores_used,
                        COALESCE(SUM(cores_free), 0)::bigint AS cores_free,
                        COALESCE(SUM(memory_mib_total), 0)::bigint AS memory_mib_total,
                        COALESCE(SUM(memory_mib_used), 0)::bigint AS memory_mib_used,
                        COALESCE(SUM(memory_mib_free), 0)::bigint AS memory_mib_free,
                        COALESCE(SUM(disk_gib_total), 0)::bigint AS disk_gib_total,
                        COALESCE(SUM(disk_gib_used), 0)::bigint AS disk_gib_used,
                        COALESCE(SUM(disk_gib_free), 0)::bigint AS disk_gib_free
                   FROM compute.compute_node_capacity, tip
                  WHERE ($1::text IS NULL OR farm = $1) AND ($2::text IS NULL OR country = $2)",
            )
            .bind(lower(farm))
            .bind(lower(country))
            .bind(i64::from(silent_after_blocks.unwrap_or(20).max(0)))
            .fetch_one(&state.pool)
            .await
            .map_err(db)
        }
        .await
        .gql()
    }

    /// The deployments of an owner (identity ID in hex, or identity
    /// name), by name; canceled ones only with `includeCanceled`.
    async fn deployments(
        &self,
        ctx: &Context<'_>,
        owner: String,
        include_canceled: Option<bool>,
        limit: Option<i32>,
    ) -> async_graphql::Result<Vec<Deployment>> {
        let state = ApiState::of(ctx);
        async {
            let owner = owner_id(state, &owner).await?;
            let rows: Vec<DeploymentRow> = sqlx::query_as(&format!(
                "{DEPLOYMENT_COLUMNS}
                  WHERE owner = $1 AND ($2 OR status = 'active')
                  ORDER BY name, created_height LIMIT $3"
            ))
            .bind(owner)
            .bind(include_canceled.unwrap_or(false))
            .bind(limit_of(limit)?)
            .fetch_all(&state.pool)
            .await
            .map_err(db)?;
            rows.into_iter()
                .map(|row| deployment(state, row))
                .collect::<ApiResult<Vec<_>>>()
        }
        .await
        .gql()
    }

    /// A deployment by ID (hex); none when unknown.
    async fn deployment(
        &self,
        ctx: &Context<'_>,
        id: String,
    ) -> async_graphql::Result<Option<Deployment>> {
        let state = ApiState::of(ctx);
        async {
            let id = parse_id("deployment ID", &id)?;
            let row: Option<DeploymentRow> =
                sqlx::query_as(&format!("{DEPLOYMENT_COLUMNS} WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(&state.pool)
                    .await
                    .map_err(db)?;
            row.map(|row| deployment(state, row)).transpose()
        }
        .await
        .gql()
    }

    /// Workloads moved off (or stuck on) a silent node, oldest first.
    async fn reschedules(
        &self,
        ctx: &Context<'_>,
        node: String,
        limit: Option<i32>,
    ) -> async_graphql::Result<Vec<Reschedule>> {
        let state = ApiState::of(ctx);
        async {
            let node = parse_id("node ID", &node)?;
            reschedules_where(state, "from_node = $1", node, limit).await
        }
        .await
        .gql()
    }

    /// The "billed while down" audit of a node's workloads (or all, when
    /// no node is given), oldest first.
    async fn billed_while_down(
        &self,
        ctx: &Context<'_>,
        node: Option<String>,
        limit: Option<i32>,
    ) -> async_graphql::Result<Vec<BilledWhileDown>> {
        let state = ApiState::of(ctx);
        async {
            match node {
                Some(node) => {
                    let node = parse_id("node ID", &node)?;
                    billed_while_down_where(state, "node = $1", node, limit).await
                }
                None => {
                    billed_while_down_where(state, "$1::bytea IS NOT NULL", Vec::new(), limit).await
                }
            }
        }
        .await
        .gql()
    }
}
