//! The compute read model: the compute domain's events
//! (`chain::domains::compute::ComputeEvent`) folded into the PostgreSQL
//! schema `compute`: nodes with capacity (total, used, free), power and
//! report history; deployments with owner, policy, spec and prepaid
//! balance; workloads with desired and reported state and their history;
//! billing history; reschedules with the reason; and the "billed while
//! down" audit (workloads charged for blocks in which their node was down).
//!
//! A deployment's spec is not in its events (they carry the workloads as
//! placed); it is read from the block's `CreateDeployment` /
//! `UpdateDeployment` transaction, so the model holds the exact spec the
//! wallet plans against.
//!
//! Tables in `migrations/compute/`, documented in `docs/compute.md`. Like
//! every model it writes forward only; reverts are the runtime's generic
//! undo.

use std::collections::BTreeMap;

use chain::domains::compute::{CancelCause, ComputeEvent, ComputeParams, DOMAIN, PlacementReason};
use chain::stream::BlockMessage;
use futures::future::BoxFuture;
use ledger::payload::Payload;
use ledger::payload::compute::{
    ComputeAction, DeploymentId, DeploymentSpec, NodeId, Power, Resources, WorkloadState,
};
use ledger::{Address, BlockHeight, CoinOutputId, Currency, codec};
use sqlx::migrate::Migrator;
use sqlx::{PgConnection, Row};

use crate::domain::{ModelError, domain_events};
use crate::explorer::rows::address_bytes;
use crate::model::ReadModel;

/// The compute model's migrations.
pub static COMPUTE_MIGRATOR: Migrator = sqlx::migrate!("../migrations/compute");

/// The model's rows lack what an event names (the stream or the rows are
/// bad): stops the model.
fn unknown(height: BlockHeight, what: &str, id: impl std::fmt::Display) -> ModelError {
    ModelError::Inconsistent {
        domain: DOMAIN,
        height,
        detail: format!("{what} {id} is not in the read model"),
    }
}

/// A deployment was created or updated by a block without the
/// `CreateDeployment`/`UpdateDeployment` transaction carrying its spec.
fn missing_spec(height: BlockHeight, deployment: &DeploymentId) -> ModelError {
    ModelError::Inconsistent {
        domain: DOMAIN,
        height,
        detail: format!(
            "deployment {deployment} was created or updated without a \
             CreateDeployment/UpdateDeployment transaction carrying its spec"
        ),
    }
}

/// The compute read model.
#[derive(Debug, Clone, Default)]
pub struct Compute {
    params: ComputeParams,
}

impl Compute {
    /// The model for a chain with the given compute constants (the silence
    /// limit and prices the audit uses).
    pub fn new(params: ComputeParams) -> Compute {
        Compute { params }
    }
}

/// Counts stored as BIGINT (PostgreSQL has no unsigned type; values above
/// `i64::MAX` are clamped, which no real capacity or height reaches).
fn big(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn id_bytes(id: &ledger::Hash32) -> Vec<u8> {
    id.0.to_vec()
}

/// Where one event is: its block height and index in the block.
#[derive(Debug, Clone, Copy)]
struct At {
    height: i64,
    index: i64,
}

impl Compute {
    /// Writes what the compute events of one applied block change.
    pub async fn apply_block(
        &self,
        connection: &mut PgConnection,
        message: &BlockMessage,
    ) -> Result<(), ModelError> {
        let height = message.height;
        let specs = block_specs(message);
        for event in domain_events(message, DOMAIN, ComputeEvent::decode)? {
            let at = At {
                height: big(height.0),
                index: big(event.index),
            };
            self.fold(connection, at, &specs, &event.event).await?;
        }
        Ok(())
    }

    async fn fold(
        &self,
        connection: &mut PgConnection,
        at: At,
        specs: &BTreeMap<DeploymentId, DeploymentSpec>,
        event: &ComputeEvent,
    ) -> Result<(), ModelError> {
        let height = BlockHeight(u64::try_from(at.height).unwrap_or_default());
        match event {
            ComputeEvent::NodeRegistered {
                node,
                owner,
                node_key,
                farm,
                location,
                capacity,
                payout,
            } => {
                sqlx::query(
                    "INSERT INTO compute_node (id, owner, node_key, farm, country, city,
                         cores_total, memory_mib_total, disk_gib_total,
                         cores_used, memory_mib_used, disk_gib_used,
                         power_target, power_state, uptime_seconds, last_sequence,
                         registered_height, last_report_height, payout_address)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, 0, 0, 'up', 'up', 0, NULL,
                             $10, $10, $11)",
                )
                .bind(id_bytes(&node.0))
                .bind(id_bytes(&owner.0))
                .bind(node_key.0.to_vec())
                .bind(farm.as_str())
                .bind(location.country())
                .bind(location.city().as_str())
                .bind(i64::from(capacity.cores))
                .bind(big(capacity.memory_mib))
                .bind(big(capacity.disk_gib))
                .bind(at.height)
                .bind(address_bytes(payout).to_vec())
                .execute(&mut *connection)
                .await?;
                insert_report(connection, node, at, None, 0, Power::Up).await?;
            }
            ComputeEvent::NodePowerTargetSet { node, target } => {
                sqlx::query("UPDATE compute_node SET power_target = $2 WHERE id = $1")
                    .bind(id_bytes(&node.0))
                    .bind(target.name())
                    .execute(&mut *connection)
                    .await?;
            }
            ComputeEvent::NodeReported {
                node,
                sequence,
                uptime_seconds,
                power,
            } => {
                sqlx::query(
                    "UPDATE compute_node SET power_state = $2, uptime_seconds = $3,
                         last_sequence = $4, last_report_height = $5
                     WHERE id = $1",
                )
                .bind(id_bytes(&node.0))
                .bind(power.name())
                .bind(big(*uptime_seconds))
                .bind(big(*sequence))
                .bind(at.height)
                .execute(&mut *connection)
                .await?;
                insert_report(
                    connection,
                    node,
                    at,
                    Some(*sequence),
                    *uptime_seconds,
                    *power,
                )
                .await?;
            }
            ComputeEvent::WorkloadStateReported {
                node,
                deployment,
                workload,
                state,
            } => {
                let reason = match state {
                    WorkloadState::Error(reason) => Some(reason.as_str()),
                    _ => None,
                };
                sqlx::query(
                    "UPDATE compute_workload SET reported_state = $3, reported_reason = $4,
                         reported_height = $5
                     WHERE deployment = $1 AND name = $2",
                )
                .bind(id_bytes(&deployment.0))
                .bind(workload.as_str())
                .bind(state.name())
                .bind(reason)
                .bind(at.height)
                .execute(&mut *connection)
                .await?;
                history(
                    connection,
                    deployment,
                    workload.as_str(),
                    at,
                    node,
                    "reported",
                    state.name(),
                    reason,
                )
                .await?;
            }
            ComputeEvent::DeploymentCreated {
                deployment,
                owner,
                name,
                price_per_block,
                balance,
                refund,
            } => {
                let spec = specs
                    .get(deployment)
                    .ok_or_else(|| missing_spec(height, deployment))?;
                sqlx::query(
                    "INSERT INTO compute_deployment (id, owner, name, reschedule, farms, country,
                         city, spec, price_per_block, balance, billed_to, grace_since, status,
                         cancel_cause, created_height, updated_height, canceled_height,
                         refund_address)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::numeric, $10::numeric, $11, NULL,
                             'active', NULL, $11, $11, NULL, $12)",
                )
                .bind(id_bytes(&deployment.0))
                .bind(id_bytes(&owner.0))
                .bind(name.as_str())
                .bind(spec.reschedule.to_string())
                .bind(farms(spec))
                .bind(spec.constraints.country.as_deref())
                .bind(spec.constraints.city.as_ref().map(|city| city.as_str()))
                .bind(codec::encode(spec))
                .bind(price_per_block.0.to_string())
                .bind(balance.0.to_string())
                .bind(at.height)
                .bind(address_bytes(refund).to_vec())
                .execute(&mut *connection)
                .await?;
                billing(
                    connection, deployment, at, "deposit", *balance, None, *balance,
                )
                .await?;
            }
            ComputeEvent::DeploymentUpdated {
                deployment,
                price_per_block,
            } => {
                let spec = specs
                    .get(deployment)
                    .ok_or_else(|| missing_spec(height, deployment))?;
                sqlx::query(
                    "UPDATE compute_deployment SET reschedule = $2, farms = $3, country = $4,
                         city = $5, spec = $6, price_per_block = $7::numeric, updated_height = $8
                     WHERE id = $1",
                )
                .bind(id_bytes(&deployment.0))
                .bind(spec.reschedule.to_string())
                .bind(farms(spec))
                .bind(spec.constraints.country.as_deref())
                .bind(spec.constraints.city.as_ref().map(|city| city.as_str()))
                .bind(codec::encode(spec))
                .bind(price_per_block.0.to_string())
                .bind(at.height)
                .execute(&mut *connection)
                .await?;
            }
            ComputeEvent::WorkloadPlaced {
                deployment,
                node,
                spec,
                reason,
            } => {
                let demand = spec.demand().unwrap_or(spec.resources);
                sqlx::query(
                    "INSERT INTO compute_workload (deployment, name, node, cores, memory_mib,
                         disk_gib, image, network, anti_affinity, desired_state, reported_state,
                         reported_reason, reported_height, placed_height, removed_height)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'running', NULL, NULL, NULL,
                             $10, NULL)
                     ON CONFLICT (deployment, name) DO UPDATE SET
                         node = EXCLUDED.node, cores = EXCLUDED.cores,
                         memory_mib = EXCLUDED.memory_mib, disk_gib = EXCLUDED.disk_gib,
                         image = EXCLUDED.image, network = EXCLUDED.network,
                         anti_affinity = EXCLUDED.anti_affinity, desired_state = 'running',
                         reported_state = NULL, reported_reason = NULL, reported_height = NULL,
                         placed_height = EXCLUDED.placed_height, removed_height = NULL",
                )
                .bind(id_bytes(&deployment.0))
                .bind(spec.name.as_str())
                .bind(id_bytes(&node.0))
                .bind(i64::from(demand.cores))
                .bind(big(demand.memory_mib))
                .bind(big(demand.disk_gib))
                .bind(&spec.image)
                .bind(spec.network.as_ref().map(|network| network.as_str()))
                .bind(spec.anti_affinity.as_ref().map(|group| group.as_str()))
                .bind(at.height)
                .execute(&mut *connection)
                .await?;
                adjust_used(connection, node, demand, 1).await?;
                let (kind, detail) = match reason {
                    PlacementReason::Created => ("created", None),
                    PlacementReason::Updated => ("updated", None),
                    PlacementReason::Rescheduled { from, last_report } => {
                        let why = reschedule_reason(from, *last_report, height, Some(node));
                        sqlx::query(
                            "INSERT INTO compute_reschedule (deployment, height, event_index,
                                 workload, from_node, to_node, last_report_height, reason)
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                        )
                        .bind(id_bytes(&deployment.0))
                        .bind(at.height)
                        .bind(at.index)
                        .bind(spec.name.as_str())
                        .bind(id_bytes(&from.0))
                        .bind(id_bytes(&node.0))
                        .bind(big(last_report.0))
                        .bind(&why)
                        .execute(&mut *connection)
                        .await?;
                        ("rescheduled", Some(why))
                    }
                };
                history(
                    connection,
                    deployment,
                    spec.name.as_str(),
                    at,
                    node,
                    "placed",
                    kind,
                    detail.as_deref(),
                )
                .await?;
            }
            ComputeEvent::WorkloadRemoved {
                deployment,
                workload,
                node,
            } => {
                let row = sqlx::query(
                    "UPDATE compute_workload SET node = NULL, desired_state = 'deleted',
                         removed_height = $3
                     WHERE deployment = $1 AND name = $2
                     RETURNING cores, memory_mib, disk_gib",
                )
                .bind(id_bytes(&deployment.0))
                .bind(workload.as_str())
                .bind(at.height)
                .fetch_optional(&mut *connection)
                .await?
                .ok_or_else(|| {
                    unknown(height, "workload", format_args!("{deployment}/{workload}"))
                })?;
                let demand = Resources::new(
                    u32::try_from(row.get::<i64, _>("cores")).unwrap_or(u32::MAX),
                    u64::try_from(row.get::<i64, _>("memory_mib")).unwrap_or_default(),
                    u64::try_from(row.get::<i64, _>("disk_gib")).unwrap_or_default(),
                );
                adjust_used(connection, node, demand, -1).await?;
                history(
                    connection,
                    deployment,
                    workload.as_str(),
                    at,
                    node,
                    "removed",
                    "deleted",
                    None,
                )
                .await?;
            }
            ComputeEvent::DeploymentCanceled { deployment, cause } => {
                let balance: String = sqlx::query_scalar(
                    "UPDATE compute_deployment SET status = 'canceled', cancel_cause = $2,
                         canceled_height = $3
                     WHERE id = $1 RETURNING balance::text",
                )
                .bind(id_bytes(&deployment.0))
                .bind(cause.name())
                .bind(at.height)
                .fetch_optional(&mut *connection)
                .await?
                .ok_or_else(|| unknown(height, "deployment", deployment))?;
                let balance = Currency(balance.parse().unwrap_or_default());
                let kind = match cause {
                    CancelCause::ByOwner => "canceled",
                    CancelCause::OutOfFunds => "out_of_funds",
                };
                billing(connection, deployment, at, kind, Currency(0), None, balance).await?;
            }
            ComputeEvent::DeploymentToppedUp {
                deployment,
                amount,
                balance,
            } => {
                set_balance(connection, deployment, *balance, None).await?;
                billing(
                    connection, deployment, at, "top_up", *amount, None, *balance,
                )
                .await?;
            }
            ComputeEvent::DeploymentBilled {
                deployment,
                amount,
                from,
                to,
                balance,
            } => {
                set_balance(connection, deployment, *balance, Some(*to)).await?;
                billing(
                    connection,
                    deployment,
                    at,
                    "billed",
                    *amount,
                    Some((*from, *to)),
                    *balance,
                )
                .await?;
                self.audit(connection, deployment, at, *from, *to).await?;
            }
            ComputeEvent::GraceStarted {
                deployment,
                at: since,
            } => {
                sqlx::query("UPDATE compute_deployment SET grace_since = $2 WHERE id = $1")
                    .bind(id_bytes(&deployment.0))
                    .bind(big(since.0))
                    .execute(&mut *connection)
                    .await?;
                let balance = current_balance(connection, deployment, height).await?;
                billing(
                    connection,
                    deployment,
                    at,
                    "grace_started",
                    Currency(0),
                    None,
                    balance,
                )
                .await?;
            }
            ComputeEvent::GraceEnded { deployment } => {
                sqlx::query("UPDATE compute_deployment SET grace_since = NULL WHERE id = $1")
                    .bind(id_bytes(&deployment.0))
                    .execute(&mut *connection)
                    .await?;
                let balance = current_balance(connection, deployment, height).await?;
                billing(
                    connection,
                    deployment,
                    at,
                    "grace_ended",
                    Currency(0),
                    None,
                    balance,
                )
                .await?;
            }
            ComputeEvent::FarmerPaid {
                deployment,
                node,
                amount,
                output,
                address,
            } => {
                let balance = current_balance(connection, deployment, height).await?;
                let payout = Payout {
                    node: Some(node),
                    output,
                    address,
                };
                payment(connection, deployment, at, "paid", *amount, balance, payout).await?;
            }
            ComputeEvent::DeploymentRefunded {
                deployment,
                amount,
                output,
                address,
            } => {
                // The refund empties the balance (the cancel follows).
                set_balance(connection, deployment, Currency(0), None).await?;
                let payout = Payout {
                    node: None,
                    output,
                    address,
                };
                payment(
                    connection,
                    deployment,
                    at,
                    "refunded",
                    *amount,
                    Currency(0),
                    payout,
                )
                .await?;
            }
            ComputeEvent::RescheduleFailed {
                deployment,
                node,
                reason,
            } => {
                let last_report: Option<i64> =
                    sqlx::query_scalar("SELECT last_report_height FROM compute_node WHERE id = $1")
                        .bind(id_bytes(&node.0))
                        .fetch_optional(&mut *connection)
                        .await?;
                let why = match last_report {
                    Some(last) => format!(
                        "{}; could not move: {reason}",
                        reschedule_reason(
                            node,
                            BlockHeight(u64::try_from(last).unwrap_or_default()),
                            height,
                            None
                        )
                    ),
                    None => format!("node {node} silent; could not move: {reason}"),
                };
                sqlx::query(
                    "INSERT INTO compute_reschedule (deployment, height, event_index, workload,
                         from_node, to_node, last_report_height, reason)
                     VALUES ($1, $2, $3, NULL, $4, NULL, $5, $6)",
                )
                .bind(id_bytes(&deployment.0))
                .bind(at.height)
                .bind(at.index)
                .bind(id_bytes(&node.0))
                .bind(last_report)
                .bind(&why)
                .execute(&mut *connection)
                .await?;
            }
        }
        Ok(())
    }

    /// The "billed while down" audit of one billing of `deployment` for
    /// blocks `from..to`: for each workload placed now, the billed blocks
    /// in which its node was down — its last report (the registration
    /// counts) more than `silent_after_blocks` old, or reporting power
    /// down — and their price. Only workloads with such blocks get a row.
    async fn audit(
        &self,
        connection: &mut PgConnection,
        deployment: &DeploymentId,
        at: At,
        from: BlockHeight,
        to: BlockHeight,
    ) -> Result<(), ModelError> {
        let workloads = sqlx::query(
            "SELECT name, node, cores, memory_mib, disk_gib FROM compute_workload
             WHERE deployment = $1 AND node IS NOT NULL ORDER BY name",
        )
        .bind(id_bytes(&deployment.0))
        .fetch_all(&mut *connection)
        .await?;
        let mut downs: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
        for workload in workloads {
            let node: Vec<u8> = workload.get("node");
            let down = match downs.get(&node) {
                Some(down) => *down,
                None => {
                    let reports: Vec<(i64, String)> = sqlx::query_as(
                        "SELECT height, power FROM compute_node_report
                         WHERE node = $1 AND height < $2 ORDER BY height, event_index",
                    )
                    .bind(&node)
                    .bind(big(to.0))
                    .fetch_all(&mut *connection)
                    .await?;
                    let reports: Vec<(u64, bool)> = reports
                        .into_iter()
                        .map(|(height, power)| {
                            (u64::try_from(height).unwrap_or_default(), power == "up")
                        })
                        .collect();
                    let down = down_blocks(&reports, from.0, to.0, self.params.silent_after_blocks);
                    downs.insert(node.clone(), down);
                    down
                }
            };
            if down == 0 {
                continue;
            }
            let demand = Resources::new(
                u32::try_from(workload.get::<i64, _>("cores")).unwrap_or(u32::MAX),
                u64::try_from(workload.get::<i64, _>("memory_mib")).unwrap_or_default(),
                u64::try_from(workload.get::<i64, _>("disk_gib")).unwrap_or_default(),
            );
            let amount = workload_price(&self.params, &demand).saturating_mul(u128::from(down));
            sqlx::query(
                "INSERT INTO compute_billed_while_down (deployment, workload, height, node,
                     from_height, to_height, down_blocks, amount)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8::numeric)",
            )
            .bind(id_bytes(&deployment.0))
            .bind(workload.get::<String, _>("name"))
            .bind(at.height)
            .bind(&node)
            .bind(big(from.0))
            .bind(big(to.0))
            .bind(big(down))
            .bind(amount.to_string())
            .execute(&mut *connection)
            .await?;
        }
        Ok(())
    }
}

/// A spec's allowed farms as text.
fn farms(spec: &DeploymentSpec) -> Vec<String> {
    spec.constraints
        .farms
        .iter()
        .map(|farm| farm.as_str().to_owned())
        .collect()
}

/// The specs of the deployments created or updated by the block's
/// transactions, by deployment ID.
fn block_specs(message: &BlockMessage) -> BTreeMap<DeploymentId, DeploymentSpec> {
    let mut specs = BTreeMap::new();
    for transaction in &message.block.transactions {
        let Some(Payload::Compute(operation)) = &transaction.payload else {
            continue;
        };
        match &operation.action {
            ComputeAction::CreateDeployment { spec, .. } => {
                specs.insert(DeploymentId::for_creation(&transaction.id()), spec.clone());
            }
            ComputeAction::UpdateDeployment {
                deployment, spec, ..
            } => {
                specs.insert(*deployment, spec.clone());
            }
            _ => {}
        }
    }
    specs
}

/// Why a workload left `from`: "node <from> silent since height H (N
/// blocks at height T) → moved from <from> to <to>".
pub fn reschedule_reason(
    from: &NodeId,
    last_report: BlockHeight,
    height: BlockHeight,
    to: Option<&NodeId>,
) -> String {
    let silent = height.0.saturating_sub(last_report.0);
    let base = format!(
        "node {} silent since height {} ({silent} blocks at height {})",
        from.short(),
        last_report.0,
        height.0
    );
    match to {
        Some(to) => format!("{base} → moved from {} to {}", from.short(), to.short()),
        None => base,
    }
}

/// The price per block of one workload's demand (as
/// `ComputeParams::price_per_block` counts it for a deployment).
pub fn workload_price(params: &ComputeParams, demand: &Resources) -> u128 {
    u128::from(demand.cores)
        .saturating_mul(params.price_per_core)
        .saturating_add(
            u128::from(demand.memory_mib).saturating_mul(params.price_per_memory_gib) / 1024,
        )
        .saturating_add(u128::from(demand.disk_gib).saturating_mul(params.price_per_disk_gib))
}

/// How many blocks of `from..to` a node with these reports (height, power
/// up) was down: a block `b` is down when the node's last report at or
/// before `b` is more than `silent_after` blocks old or said power down.
/// Blocks before the first report are not counted (the node was not
/// registered).
pub fn down_blocks(reports: &[(u64, bool)], from: u64, to: u64, silent_after: u64) -> u64 {
    let mut down = 0u64;
    for (position, (height, up)) in reports.iter().enumerate() {
        let next = reports
            .get(position + 1)
            .map_or(u64::MAX, |(next, _)| *next);
        // Blocks [height, next) have this report as their last one.
        let down_from = if *up {
            height.saturating_add(silent_after).saturating_add(1)
        } else {
            *height
        };
        let start = down_from.max(from);
        let end = next.min(to);
        if end > start {
            down += end - start;
        }
    }
    down
}

async fn insert_report(
    connection: &mut PgConnection,
    node: &NodeId,
    at: At,
    sequence: Option<u64>,
    uptime_seconds: u64,
    power: Power,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO compute_node_report (node, height, event_index, sequence, uptime_seconds,
             power)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id_bytes(&node.0))
    .bind(at.height)
    .bind(at.index)
    .bind(sequence.map(big))
    .bind(big(uptime_seconds))
    .bind(power.name())
    .execute(&mut *connection)
    .await?;
    Ok(())
}

async fn adjust_used(
    connection: &mut PgConnection,
    node: &NodeId,
    demand: Resources,
    sign: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE compute_node SET cores_used = cores_used + $2, memory_mib_used = memory_mib_used + $3,
             disk_gib_used = disk_gib_used + $4
         WHERE id = $1",
    )
    .bind(id_bytes(&node.0))
    .bind(sign * i64::from(demand.cores))
    .bind(sign * big(demand.memory_mib))
    .bind(sign * big(demand.disk_gib))
    .execute(&mut *connection)
    .await?;
    Ok(())
}

#[allow(clippy::too_many_arguments)] // one history row's columns
async fn history(
    connection: &mut PgConnection,
    deployment: &DeploymentId,
    workload: &str,
    at: At,
    node: &NodeId,
    kind: &str,
    state: &str,
    reason: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO compute_workload_history (deployment, workload, height, event_index, node,
             kind, state, reason)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id_bytes(&deployment.0))
    .bind(workload)
    .bind(at.height)
    .bind(at.index)
    .bind(id_bytes(&node.0))
    .bind(kind)
    .bind(state)
    .bind(reason)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

async fn billing(
    connection: &mut PgConnection,
    deployment: &DeploymentId,
    at: At,
    kind: &str,
    amount: Currency,
    range: Option<(BlockHeight, BlockHeight)>,
    balance: Currency,
) -> Result<(), sqlx::Error> {
    insert_billing(
        connection, deployment, at, kind, amount, range, balance, None,
    )
    .await
}

/// Where coins paid out of the deployment's escrow went: the node (for a
/// share of a bill), the coin output made and the address paid.
struct Payout<'a> {
    node: Option<&'a NodeId>,
    output: &'a CoinOutputId,
    address: &'a Address,
}

/// A billing row for coins paid out of the deployment's escrow: a node's
/// share (`paid`) or the refund (`refunded`).
async fn payment(
    connection: &mut PgConnection,
    deployment: &DeploymentId,
    at: At,
    kind: &str,
    amount: Currency,
    balance: Currency,
    payout: Payout<'_>,
) -> Result<(), sqlx::Error> {
    insert_billing(
        connection,
        deployment,
        at,
        kind,
        amount,
        None,
        balance,
        Some(payout),
    )
    .await
}

#[allow(clippy::too_many_arguments)] // one row's columns
async fn insert_billing(
    connection: &mut PgConnection,
    deployment: &DeploymentId,
    at: At,
    kind: &str,
    amount: Currency,
    range: Option<(BlockHeight, BlockHeight)>,
    balance: Currency,
    payout: Option<Payout<'_>>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO compute_billing (deployment, height, event_index, kind, amount, from_height,
             to_height, balance, node, output, address)
         VALUES ($1, $2, $3, $4, $5::numeric, $6, $7, $8::numeric, $9, $10, $11)",
    )
    .bind(id_bytes(&deployment.0))
    .bind(at.height)
    .bind(at.index)
    .bind(kind)
    .bind(amount.0.to_string())
    .bind(range.map(|(from, _)| big(from.0)))
    .bind(range.map(|(_, to)| big(to.0)))
    .bind(balance.0.to_string())
    .bind(
        payout
            .as_ref()
            .and_then(|paid| paid.node)
            .map(|node| id_bytes(&node.0)),
    )
    .bind(payout.as_ref().map(|paid| paid.output.0.0.to_vec()))
    .bind(
        payout
            .as_ref()
            .map(|paid| address_bytes(paid.address).to_vec()),
    )
    .execute(&mut *connection)
    .await?;
    Ok(())
}

async fn set_balance(
    connection: &mut PgConnection,
    deployment: &DeploymentId,
    balance: Currency,
    billed_to: Option<BlockHeight>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE compute_deployment SET balance = $2::numeric,
             billed_to = COALESCE($3, billed_to)
         WHERE id = $1",
    )
    .bind(id_bytes(&deployment.0))
    .bind(balance.0.to_string())
    .bind(billed_to.map(|to| big(to.0)))
    .execute(&mut *connection)
    .await?;
    Ok(())
}

async fn current_balance(
    connection: &mut PgConnection,
    deployment: &DeploymentId,
    height: BlockHeight,
) -> Result<Currency, ModelError> {
    let balance: Option<String> =
        sqlx::query_scalar("SELECT balance::text FROM compute_deployment WHERE id = $1")
            .bind(id_bytes(&deployment.0))
            .fetch_optional(&mut *connection)
            .await?;
    let balance = balance.ok_or_else(|| unknown(height, "deployment", deployment))?;
    Ok(Currency(balance.parse().unwrap_or_default()))
}

impl ReadModel for Compute {
    fn name(&self) -> &'static str {
        "compute"
    }

    fn migrator(&self) -> &'static Migrator {
        &COMPUTE_MIGRATOR
    }

    fn apply<'a>(
        &'a self,
        connection: &'a mut PgConnection,
        message: &'a BlockMessage,
    ) -> BoxFuture<'a, Result<(), sqlx::Error>> {
        Box::pin(async move { Ok(self.apply_block(connection, message).await?) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn down_blocks_counts_silence_beyond_the_limit_and_power_down() {
        // Registered at 10, reports at 15 and 50 (silent limit 20).
        let reports = [(10, true), (15, true), (50, true)];
        // Up to 35 the report of 15 covers; 36..50 are down (14 blocks).
        assert_eq!(down_blocks(&reports, 10, 60, 20), 14);
        assert_eq!(down_blocks(&reports, 40, 45, 20), 5);
        assert_eq!(down_blocks(&reports, 10, 36, 20), 0);
        // Power down from 20 until the report of 50.
        let reports = [(10, true), (20, false), (50, true)];
        assert_eq!(down_blocks(&reports, 10, 60, 20), 30);
        // Nothing before registration; silent to the end.
        assert_eq!(down_blocks(&[(100, true)], 0, 130, 20), 9);
        assert_eq!(down_blocks(&[], 0, 130, 20), 0);
    }

    #[test]
    fn workload_price_matches_the_chain_price() {
        let params = ComputeParams::default();
        let demand = Resources::new(2, 1536, 30);
        assert_eq!(
            workload_price(&params, &demand),
            2 * 1_000_000 + 1536 * 500_000 / 1024 + 30 * 10_000
        );
    }
}
