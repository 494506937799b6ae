//! The compute domain's stateful rules: [`prepare`] checks a
//! [`ComputeOperation`] against the state (and the identity state, for
//! owners' keys) and returns its change, its events and the signatures the
//! block must verify. Nothing is changed here.

use std::collections::{BTreeMap, BTreeSet};

use ledger::payload::compute::escrow_condition;
use ledger::payload::compute::operation::deposit_value;
use ledger::payload::compute::{
    ComputeAction, ComputeOperation, ComputeSigner, DeploymentId, DeploymentSpec, Name, NodeId,
    Power, Resources, WorkloadSpec, WorkloadState,
};
use ledger::{
    BlockHeight, CoinOutput, CoinOutputId, Condition, Currency, IdentityId, PublicKey, Transaction,
    TransactionId, codec,
};
use thiserror::Error;

use super::events::{CancelCause, ComputeEvent, PlacementReason};
use super::scheduler::{
    self, Constraints, NodeCandidate, NodeStatus, PlacedSibling, ScheduleError, ScheduleRequest,
    WorkloadDemand,
};
use super::state::{
    BillingState, ComputeChange, ComputeState, DOMAIN, DeploymentRecord, NodeRecord, Write,
};
use crate::state::{DomainChange, DomainCoins, DomainContext, DomainSignature};

/// What the compute rules need to know about identities.
pub trait IdentityKeys {
    fn identity_exists(&self, identity: &IdentityId) -> bool;
    fn is_active_key(&self, identity: &IdentityId, key: &PublicKey) -> bool;
}

impl IdentityKeys for super::super::identity::IdentityState {
    fn identity_exists(&self, identity: &IdentityId) -> bool {
        self.identity(identity).is_some()
    }

    fn is_active_key(&self, identity: &IdentityId, key: &PublicKey) -> bool {
        super::super::identity::IdentityState::is_active_key(self, identity, key)
    }
}

/// Why a compute operation is refused against the state.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ComputeRuleError {
    #[error("identity {identity} is not registered")]
    UnknownIdentity { identity: IdentityId },
    #[error("key {key} is not an active key of identity {identity}")]
    NotOwnerKey {
        identity: IdentityId,
        key: PublicKey,
    },
    #[error("node {node} is already registered")]
    NodeExists { node: NodeId },
    #[error("node {node} is not registered")]
    UnknownNode { node: NodeId },
    #[error("node {node} belongs to identity {owner}, not {actor}")]
    NotNodeOwner {
        node: NodeId,
        owner: IdentityId,
        actor: IdentityId,
    },
    #[error("report for node {node} is signed by {signer}, not by the node key {node_key}")]
    NotNodeKey {
        node: NodeId,
        signer: PublicKey,
        node_key: PublicKey,
    },
    #[error("report sequence {sequence} of node {node} does not exceed its last {last}")]
    StaleReport {
        node: NodeId,
        sequence: u64,
        last: u64,
    },
    #[error(
        "node {node} reports workload {workload} of deployment {deployment}, which is not placed on it"
    )]
    NotPlacedHere {
        node: NodeId,
        deployment: DeploymentId,
        workload: Name,
    },
    #[error("power target of node {node} is already {target}")]
    UnchangedPowerTarget { node: NodeId, target: &'static str },
    #[error("identity {owner} already has a deployment named {name} ({deployment})")]
    DuplicateName {
        owner: IdentityId,
        name: Name,
        deployment: DeploymentId,
    },
    #[error("deployment {deployment} does not exist")]
    UnknownDeployment { deployment: DeploymentId },
    #[error("deployment {deployment} belongs to identity {owner}, not {actor}")]
    NotDeploymentOwner {
        deployment: DeploymentId,
        owner: IdentityId,
        actor: IdentityId,
    },
    #[error("deployment {deployment} is named {current}; an update may not rename it to {new}")]
    Rename {
        deployment: DeploymentId,
        current: Name,
        new: Name,
    },
    #[error("update of deployment {deployment} changes nothing")]
    UnchangedDeployment { deployment: DeploymentId },
    #[error("cannot place deployment: {0}")]
    Schedule(#[from] ScheduleError),
    #[error("deployment price per block overflows")]
    PriceOverflow,
    #[error("deposit: {0}")]
    Deposit(String),
    #[error("deployment {deployment} owes nothing at height {height} and is not in grace")]
    NothingToBill {
        deployment: DeploymentId,
        height: BlockHeight,
    },
    #[error(
        "node {node} last reported at height {last_report}; it is not silent at height {height} (limit {limit} blocks)"
    )]
    NotSilent {
        node: NodeId,
        last_report: BlockHeight,
        height: BlockHeight,
        limit: u64,
    },
    #[error("node {node} runs no workload that its deployments allow to move")]
    NothingToHeal { node: NodeId },
    #[error("capacity arithmetic overflows on node {node}")]
    CapacityOverflow { node: NodeId },
}

type RuleResult<T> = Result<T, ComputeRuleError>;

/// A change under construction: reads see earlier writes of the change.
struct Draft<'s> {
    state: &'s ComputeState,
    nodes: BTreeMap<NodeId, Option<NodeRecord>>,
    deployments: BTreeMap<DeploymentId, Option<DeploymentRecord>>,
    order: Vec<Key>,
    events: Vec<ComputeEvent>,
    /// Coin outputs released from escrow, in creation order (the `k`th
    /// gets [`CoinOutputId::for_domain_output`]`(transaction, "compute", k)`).
    released: Vec<CoinOutput>,
    /// Deployments whose escrow is settled at the end of the change, each
    /// with the escrow outputs it held before (all spent; the balance left
    /// goes into one new escrow output).
    settled: Vec<(DeploymentId, Vec<CoinOutputId>)>,
    transaction: TransactionId,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Key {
    Node(NodeId),
    Deployment(DeploymentId),
}

impl<'s> Draft<'s> {
    fn new(state: &'s ComputeState, transaction: TransactionId) -> Draft<'s> {
        Draft {
            state,
            nodes: BTreeMap::new(),
            deployments: BTreeMap::new(),
            order: Vec::new(),
            events: Vec::new(),
            released: Vec::new(),
            settled: Vec::new(),
            transaction,
        }
    }

    /// Marks `deployment`'s escrow (as `record` holds it before this
    /// change) to be settled by [`Self::settle`].
    fn settle_later(&mut self, deployment: DeploymentId, record: &DeploymentRecord) {
        if !self.settled.iter().any(|(id, _)| *id == deployment) {
            self.settled.push((deployment, record.escrow.clone()));
        }
    }

    /// Pays `amount` out of `record`'s escrow to `condition` and returns
    /// the new output's ID. The record's balance is the caller's business.
    fn release(
        &mut self,
        deployment: DeploymentId,
        record: &DeploymentRecord,
        condition: Condition,
        amount: Currency,
    ) -> CoinOutputId {
        self.settle_later(deployment, record);
        let id =
            CoinOutputId::for_domain_output(&self.transaction, DOMAIN, self.released.len() as u64);
        self.released.push(CoinOutput {
            value: amount,
            condition,
        });
        id
    }

    fn node(&self, id: &NodeId) -> Option<NodeRecord> {
        match self.nodes.get(id) {
            Some(value) => value.clone(),
            None => self.state.nodes.get(id).cloned(),
        }
    }

    fn deployment(&self, id: &DeploymentId) -> Option<DeploymentRecord> {
        match self.deployments.get(id) {
            Some(value) => value.clone(),
            None => self.state.deployments.get(id).cloned(),
        }
    }

    fn set_node(&mut self, id: NodeId, value: Option<NodeRecord>) {
        if self.nodes.insert(id, value).is_none() {
            self.order.push(Key::Node(id));
        }
    }

    fn set_deployment(&mut self, id: DeploymentId, value: Option<DeploymentRecord>) {
        if self.deployments.insert(id, value).is_none() {
            self.order.push(Key::Deployment(id));
        }
    }

    fn event(&mut self, event: ComputeEvent) {
        self.events.push(event);
    }

    /// Adds (`reserve`) or frees capacity of `demand` on `node`.
    fn account(&mut self, node: &NodeId, demand: Resources, reserve: bool) -> RuleResult<()> {
        let Some(mut record) = self.node(node) else {
            // A node is never removed, but be safe: nothing to account.
            return Ok(());
        };
        record.used = if reserve {
            record
                .used
                .checked_add(demand)
                .ok_or(ComputeRuleError::CapacityOverflow { node: *node })?
        } else {
            record.used.saturating_sub(demand)
        };
        self.set_node(*node, Some(record));
        Ok(())
    }

    /// The scheduler's view of every node at `height`.
    fn candidates(&self, height: BlockHeight) -> Vec<NodeCandidate> {
        let mut ids: BTreeSet<NodeId> = self.state.nodes.keys().copied().collect();
        ids.extend(self.nodes.keys().copied());
        ids.into_iter()
            .filter_map(|id| self.node(&id).map(|record| (id, record)))
            .map(|(id, record)| {
                let up = record.power_target == Power::Up
                    && record.power_state == Power::Up
                    && !self.state.is_silent(&record, height);
                NodeCandidate {
                    id,
                    farm: record.farm.clone(),
                    location: record.location.clone(),
                    total: record.capacity,
                    used: record.used,
                    status: if up { NodeStatus::Up } else { NodeStatus::Down },
                }
            })
            .collect()
    }

    /// Settles the escrow of every deployment that paid something: its
    /// old escrow outputs are spent and what is left of its balance goes
    /// into one new escrow output, after the released outputs.
    fn settle(&mut self) -> DomainCoins {
        let mut coins = DomainCoins {
            spend: Vec::new(),
            create: std::mem::take(&mut self.released),
        };
        for (deployment, escrow) in std::mem::take(&mut self.settled) {
            coins.spend.extend(escrow);
            if let Some(mut record) = self.deployment(&deployment) {
                record.escrow = if record.balance.is_zero() {
                    Vec::new()
                } else {
                    let id = CoinOutputId::for_domain_output(
                        &self.transaction,
                        DOMAIN,
                        coins.create.len() as u64,
                    );
                    coins.create.push(CoinOutput {
                        value: record.balance,
                        condition: escrow_condition(),
                    });
                    vec![id]
                };
                self.set_deployment(deployment, Some(record));
            }
        }
        coins
    }

    fn finish(self) -> (ComputeChange, Vec<ComputeEvent>) {
        let writes = self
            .order
            .iter()
            .map(|key| match key {
                Key::Node(id) => Write::Node {
                    id: *id,
                    before: self.state.nodes.get(id).cloned(),
                    after: self.nodes.get(id).cloned().flatten(),
                },
                Key::Deployment(id) => Write::Deployment {
                    id: *id,
                    before: self.state.deployments.get(id).cloned(),
                    after: self.deployments.get(id).cloned().flatten(),
                },
            })
            .collect();
        (ComputeChange { writes }, self.events)
    }
}

/// Checks `operation` in `transaction` and returns the domain change.
pub fn prepare(
    state: &ComputeState,
    identities: &dyn IdentityKeys,
    operation: &ComputeOperation,
    transaction: &Transaction,
    context: &DomainContext<'_>,
) -> RuleResult<DomainChange> {
    let mut draft = Draft::new(state, *context.transaction_id);
    let height = context.height;
    let signer = operation.signature.map(|signed| signed.public_key);
    let owner_check = |owner: &IdentityId| -> RuleResult<()> {
        if !identities.identity_exists(owner) {
            return Err(ComputeRuleError::UnknownIdentity { identity: *owner });
        }
        let key = signer.unwrap_or_default();
        if !identities.is_active_key(owner, &key) {
            return Err(ComputeRuleError::NotOwnerKey {
                identity: *owner,
                key,
            });
        }
        Ok(())
    };
    match &operation.action {
        ComputeAction::RegisterNode {
            owner,
            node_key,
            farm,
            location,
            capacity,
            payout,
        } => {
            owner_check(owner)?;
            let node = NodeId::for_key(node_key);
            if draft.node(&node).is_some() {
                return Err(ComputeRuleError::NodeExists { node });
            }
            draft.set_node(
                node,
                Some(NodeRecord {
                    owner: *owner,
                    key: *node_key,
                    farm: farm.clone(),
                    location: location.clone(),
                    capacity: *capacity,
                    used: Resources::ZERO,
                    power_target: Power::Up,
                    power_state: Power::Up,
                    registered_at: height,
                    last_report: height,
                    last_sequence: 0,
                    uptime_seconds: 0,
                    payout: payout.clone(),
                }),
            );
            draft.event(ComputeEvent::NodeRegistered {
                node,
                owner: *owner,
                node_key: *node_key,
                farm: farm.clone(),
                location: location.clone(),
                capacity: *capacity,
                payout: payout.address(),
            });
        }
        ComputeAction::SetPowerTarget {
            owner,
            node,
            target,
        } => {
            owner_check(owner)?;
            let mut record = owned_node(&draft, node, owner)?;
            if record.power_target == *target {
                return Err(ComputeRuleError::UnchangedPowerTarget {
                    node: *node,
                    target: target.name(),
                });
            }
            record.power_target = *target;
            draft.set_node(*node, Some(record));
            draft.event(ComputeEvent::NodePowerTargetSet {
                node: *node,
                target: *target,
            });
        }
        ComputeAction::Report {
            node,
            sequence,
            uptime_seconds,
            power,
            workloads,
        } => {
            let mut record = draft
                .node(node)
                .ok_or(ComputeRuleError::UnknownNode { node: *node })?;
            let signer = signer.unwrap_or_default();
            if signer != record.key {
                return Err(ComputeRuleError::NotNodeKey {
                    node: *node,
                    signer,
                    node_key: record.key,
                });
            }
            if *sequence <= record.last_sequence {
                return Err(ComputeRuleError::StaleReport {
                    node: *node,
                    sequence: *sequence,
                    last: record.last_sequence,
                });
            }
            record.last_sequence = *sequence;
            record.last_report = height;
            record.uptime_seconds = *uptime_seconds;
            record.power_state = *power;
            draft.set_node(*node, Some(record));
            draft.event(ComputeEvent::NodeReported {
                node: *node,
                sequence: *sequence,
                uptime_seconds: *uptime_seconds,
                power: *power,
            });
            for report in workloads {
                let placed_here = draft
                    .deployment(&report.deployment)
                    .filter(|deployment| deployment.placements.get(&report.workload) == Some(node));
                match placed_here {
                    Some(mut deployment) => {
                        deployment
                            .reported
                            .insert(report.workload.clone(), report.state.clone());
                        draft.set_deployment(report.deployment, Some(deployment));
                    }
                    // A workload removed from this node may still be
                    // reported deleted or stopped (history only).
                    None if matches!(
                        report.state,
                        WorkloadState::Deleted | WorkloadState::Stopped
                    ) => {}
                    None => {
                        return Err(ComputeRuleError::NotPlacedHere {
                            node: *node,
                            deployment: report.deployment,
                            workload: report.workload.clone(),
                        });
                    }
                }
                draft.event(ComputeEvent::WorkloadStateReported {
                    node: *node,
                    deployment: report.deployment,
                    workload: report.workload.clone(),
                    state: report.state.clone(),
                });
            }
        }
        ComputeAction::CreateDeployment {
            owner,
            spec,
            deposit,
            refund,
        } => {
            owner_check(owner)?;
            if let Some(existing) = state.deployment_by_name(owner, &spec.name) {
                return Err(ComputeRuleError::DuplicateName {
                    owner: *owner,
                    name: spec.name.clone(),
                    deployment: existing,
                });
            }
            let deployment = DeploymentId::for_creation(context.transaction_id);
            let price = state
                .params
                .price_per_block(spec)
                .ok_or(ComputeRuleError::PriceOverflow)?;
            let (balance, escrow) = match deposit {
                Some(index) => (
                    deposit_value(transaction, *index)
                        .map_err(|error| ComputeRuleError::Deposit(error.to_string()))?,
                    vec![CoinOutputId::for_transaction_output(
                        context.transaction_id,
                        u64::from(*index),
                    )],
                ),
                None => (Currency(0), Vec::new()),
            };
            let placements = place(
                &mut draft,
                deployment,
                spec,
                &spec.workloads,
                &[],
                &BTreeSet::new(),
                height,
                PlacementReason::Created,
            )?;
            draft.set_deployment(
                deployment,
                Some(DeploymentRecord {
                    owner: *owner,
                    spec: spec.clone(),
                    placements,
                    created_at: height,
                    balance,
                    escrow,
                    refund: refund.clone(),
                    billed_to: height,
                    billing: BillingState::Paid,
                    reported: BTreeMap::new(),
                }),
            );
            draft.events.insert(
                0,
                ComputeEvent::DeploymentCreated {
                    deployment,
                    owner: *owner,
                    name: spec.name.clone(),
                    price_per_block: price,
                    balance,
                    refund: refund.address(),
                },
            );
        }
        ComputeAction::UpdateDeployment {
            owner,
            deployment,
            spec,
        } => {
            owner_check(owner)?;
            let mut record = owned_deployment(&draft, deployment, owner)?;
            if record.spec.name != spec.name {
                return Err(ComputeRuleError::Rename {
                    deployment: *deployment,
                    current: record.spec.name.clone(),
                    new: spec.name.clone(),
                });
            }
            if record.spec == *spec {
                return Err(ComputeRuleError::UnchangedDeployment {
                    deployment: *deployment,
                });
            }
            // The blocks so far are paid at the old price.
            let old_price = state
                .params
                .price_per_block(&record.spec)
                .ok_or(ComputeRuleError::PriceOverflow)?;
            draw(
                &mut draft,
                *deployment,
                &mut record,
                old_price,
                height,
                false,
            )?;
            let price = state
                .params
                .price_per_block(spec)
                .ok_or(ComputeRuleError::PriceOverflow)?;
            draft.event(ComputeEvent::DeploymentUpdated {
                deployment: *deployment,
                price_per_block: price,
            });
            // Workloads that keep their node: same spec, or only fields
            // that do not change the demand or placement constraints.
            let mut kept = BTreeMap::new();
            let mut moved = Vec::new();
            for old in &record.spec.workloads {
                let node = record.placements.get(&old.name).copied();
                let new = spec.workload(&old.name);
                match (node, new) {
                    (Some(node), Some(new)) if keeps_node(old, new, &record.spec, spec) => {
                        if old != new {
                            // Same node, new spec: the agent replaces it.
                            draft.event(ComputeEvent::WorkloadPlaced {
                                deployment: *deployment,
                                node,
                                spec: new.clone(),
                                reason: PlacementReason::Updated,
                            });
                        }
                        kept.insert(old.name.clone(), node);
                    }
                    (Some(node), _) => {
                        draft.account(&node, demand(old), false)?;
                        draft.event(ComputeEvent::WorkloadRemoved {
                            deployment: *deployment,
                            workload: old.name.clone(),
                            node,
                        });
                        record.reported.remove(&old.name);
                        if new.is_some() {
                            moved.push(old.name.clone());
                        }
                    }
                    (None, _) => {}
                }
            }
            let to_place: Vec<WorkloadSpec> = spec
                .workloads
                .iter()
                .filter(|workload| !kept.contains_key(&workload.name))
                .cloned()
                .collect();
            let siblings: Vec<PlacedSibling> = kept
                .iter()
                .filter_map(|(name, node)| {
                    spec.workload(name).map(|workload| PlacedSibling {
                        node: *node,
                        anti_affinity: workload.anti_affinity.clone(),
                    })
                })
                .collect();
            let placed = place(
                &mut draft,
                *deployment,
                spec,
                &to_place,
                &siblings,
                &BTreeSet::new(),
                height,
                PlacementReason::Updated,
            )?;
            kept.extend(placed);
            record.placements = kept;
            record.spec = spec.clone();
            draft.set_deployment(*deployment, Some(record));
        }
        ComputeAction::CancelDeployment { owner, deployment } => {
            owner_check(owner)?;
            let mut record = owned_deployment(&draft, deployment, owner)?;
            // The blocks so far are paid; the rest is refunded.
            let price = state
                .params
                .price_per_block(&record.spec)
                .ok_or(ComputeRuleError::PriceOverflow)?;
            draw(&mut draft, *deployment, &mut record, price, height, true)?;
            end_deployment(&mut draft, *deployment, record, CancelCause::ByOwner)?;
        }
        ComputeAction::TopUp {
            deployment,
            deposit,
        } => {
            let mut record =
                draft
                    .deployment(deployment)
                    .ok_or(ComputeRuleError::UnknownDeployment {
                        deployment: *deployment,
                    })?;
            let amount = deposit_value(transaction, *deposit)
                .map_err(|error| ComputeRuleError::Deposit(error.to_string()))?;
            record.balance = record
                .balance
                .checked_add(amount)
                .ok_or_else(|| ComputeRuleError::Deposit("balance overflows".into()))?;
            record.escrow.push(CoinOutputId::for_transaction_output(
                context.transaction_id,
                u64::from(*deposit),
            ));
            draft.event(ComputeEvent::DeploymentToppedUp {
                deployment: *deployment,
                amount,
                balance: record.balance,
            });
            draft.set_deployment(*deployment, Some(record));
        }
        ComputeAction::Bill { deployment } => {
            bill(&mut draft, *deployment, height)?;
        }
        ComputeAction::Heal { node } => {
            heal(&mut draft, *node, height)?;
        }
    }
    let signatures = operation
        .required_signatures(&context.params.chain_id, context.transaction_id)
        .into_iter()
        .map(|(role, public_key, signature, message)| DomainSignature {
            origin: match role {
                ComputeSigner::Owner => "compute owner key".to_owned(),
                ComputeSigner::Node => "compute node key".to_owned(),
            },
            message,
            public_key,
            signature,
        })
        .collect();
    let coins = draft.settle();
    let (change, events) = draft.finish();
    Ok(DomainChange {
        change: codec::encode(&change),
        events: events.iter().map(ComputeEvent::to_domain_event).collect(),
        signatures,
        coins,
    })
}

fn demand(workload: &WorkloadSpec) -> Resources {
    // Validated specs never overflow (DeploymentSpec::validate).
    workload.demand().unwrap_or(workload.resources)
}

/// Whether an updated workload may stay on its node: same demand, pin and
/// anti-affinity group, and the deployment's constraints unchanged.
fn keeps_node(
    old: &WorkloadSpec,
    new: &WorkloadSpec,
    old_spec: &DeploymentSpec,
    new_spec: &DeploymentSpec,
) -> bool {
    demand(old) == demand(new)
        && old.node == new.node
        && old.anti_affinity == new.anti_affinity
        && old_spec.constraints == new_spec.constraints
}

fn owned_node(draft: &Draft<'_>, node: &NodeId, actor: &IdentityId) -> RuleResult<NodeRecord> {
    let record = draft
        .node(node)
        .ok_or(ComputeRuleError::UnknownNode { node: *node })?;
    if record.owner != *actor {
        return Err(ComputeRuleError::NotNodeOwner {
            node: *node,
            owner: record.owner,
            actor: *actor,
        });
    }
    Ok(record)
}

fn owned_deployment(
    draft: &Draft<'_>,
    deployment: &DeploymentId,
    actor: &IdentityId,
) -> RuleResult<DeploymentRecord> {
    let record = draft
        .deployment(deployment)
        .ok_or(ComputeRuleError::UnknownDeployment {
            deployment: *deployment,
        })?;
    if record.owner != *actor {
        return Err(ComputeRuleError::NotDeploymentOwner {
            deployment: *deployment,
            owner: record.owner,
            actor: *actor,
        });
    }
    Ok(record)
}

/// Schedules `workloads` of `spec`, reserves their capacity and emits
/// their placements.
#[allow(clippy::too_many_arguments)]
fn place(
    draft: &mut Draft<'_>,
    deployment: DeploymentId,
    spec: &DeploymentSpec,
    workloads: &[WorkloadSpec],
    placed: &[PlacedSibling],
    exclude: &BTreeSet<NodeId>,
    height: BlockHeight,
    reason: PlacementReason,
) -> RuleResult<BTreeMap<Name, NodeId>> {
    if workloads.is_empty() {
        return Ok(BTreeMap::new());
    }
    let constraints = Constraints {
        farms: spec.constraints.farms.iter().cloned().collect(),
        country: spec.constraints.country.clone(),
        city: spec.constraints.city.clone(),
        exclude: exclude.clone(),
    };
    let demands: Vec<WorkloadDemand> = workloads
        .iter()
        .map(|workload| WorkloadDemand {
            name: workload.name.clone(),
            resources: demand(workload),
            pinned: workload.node,
            anti_affinity: workload.anti_affinity.clone(),
        })
        .collect();
    let schedule = scheduler::schedule(
        &ScheduleRequest {
            deployment,
            constraints: &constraints,
            workloads: &demands,
            placed,
        },
        &draft.candidates(height),
    )?;
    for workload in workloads {
        if let Some(node) = schedule.placements.get(&workload.name) {
            draft.account(node, demand(workload), true)?;
            draft.event(ComputeEvent::WorkloadPlaced {
                deployment,
                node: *node,
                spec: workload.clone(),
                reason: reason.clone(),
            });
        }
    }
    Ok(schedule.placements)
}

fn end_deployment(
    draft: &mut Draft<'_>,
    deployment: DeploymentId,
    record: DeploymentRecord,
    cause: CancelCause,
) -> RuleResult<()> {
    for workload in &record.spec.workloads {
        if let Some(node) = record.placements.get(&workload.name) {
            draft.account(node, demand(workload), false)?;
            draft.event(ComputeEvent::WorkloadRemoved {
                deployment,
                workload: workload.name.clone(),
                node: *node,
            });
        }
    }
    if !record.balance.is_zero() {
        let address = record.refund.address();
        let output = draft.release(deployment, &record, record.refund.clone(), record.balance);
        draft.event(ComputeEvent::DeploymentRefunded {
            deployment,
            amount: record.balance,
            output,
            address,
        });
    } else {
        // Empty escrow outputs (a zero deposit) are spent all the same.
        draft.settle_later(deployment, &record);
    }
    draft.set_deployment(deployment, None);
    draft.event(ComputeEvent::DeploymentCanceled { deployment, cause });
    Ok(())
}

fn bill(draft: &mut Draft<'_>, deployment: DeploymentId, height: BlockHeight) -> RuleResult<()> {
    let mut record = draft
        .deployment(&deployment)
        .ok_or(ComputeRuleError::UnknownDeployment { deployment })?;
    let params = *draft.state.params();
    let price = params
        .price_per_block(&record.spec)
        .ok_or(ComputeRuleError::PriceOverflow)?;
    let blocks = height.0.saturating_sub(record.billed_to.0);
    let due = price
        .checked_mul(u128::from(blocks))
        .ok_or(ComputeRuleError::PriceOverflow)?;
    if let BillingState::Grace { since } = record.billing
        && height.0.saturating_sub(since.0) >= params.grace_blocks
        && record.balance < due
    {
        // Whole blocks the balance still covers are paid, the rest refunded.
        draw(draft, deployment, &mut record, price, height, true)?;
        return end_deployment(draft, deployment, record, CancelCause::OutOfFunds);
    }
    if due.is_zero() || !draw(draft, deployment, &mut record, price, height, false)? {
        return Err(ComputeRuleError::NothingToBill { deployment, height });
    }
    draft.set_deployment(deployment, Some(record));
    Ok(())
}

/// Draws `price` per block from `record.billed_to` up to `height`: all of
/// it when the balance covers it (ending a grace period), otherwise the
/// whole blocks the balance covers, starting the grace period if it has
/// not started (unless the deployment is `ending`). The drawn amount is
/// paid to the hosting nodes ([`pay_nodes`]). Returns whether anything
/// changed (events emitted).
fn draw(
    draft: &mut Draft<'_>,
    deployment: DeploymentId,
    record: &mut DeploymentRecord,
    price: Currency,
    height: BlockHeight,
    ending: bool,
) -> RuleResult<bool> {
    let blocks = height.0.saturating_sub(record.billed_to.0);
    let due = price
        .checked_mul(u128::from(blocks))
        .ok_or(ComputeRuleError::PriceOverflow)?;
    let from = record.billed_to;
    if record.balance >= due {
        if due.is_zero() {
            return Ok(false);
        }
        record.balance = record.balance.checked_sub(due).unwrap_or_default();
        record.billed_to = height;
        draft.event(ComputeEvent::DeploymentBilled {
            deployment,
            amount: due,
            from,
            to: height,
            balance: record.balance,
        });
        pay_nodes(draft, deployment, record, blocks)?;
        if matches!(record.billing, BillingState::Grace { .. }) {
            record.billing = BillingState::Paid;
            draft.event(ComputeEvent::GraceEnded { deployment });
        }
        return Ok(true);
    }
    // Draw whole blocks the balance covers, then wait in grace.
    let covered = if price.is_zero() {
        0
    } else {
        u64::try_from(record.balance.0 / price.0).unwrap_or(u64::MAX)
    };
    let amount = price
        .checked_mul(u128::from(covered))
        .ok_or(ComputeRuleError::PriceOverflow)?;
    if covered > 0 {
        record.balance = record.balance.checked_sub(amount).unwrap_or_default();
        record.billed_to = BlockHeight(from.0 + covered);
        draft.event(ComputeEvent::DeploymentBilled {
            deployment,
            amount,
            from,
            to: record.billed_to,
            balance: record.balance,
        });
        pay_nodes(draft, deployment, record, covered)?;
    }
    if record.billing == BillingState::Paid && !ending {
        record.billing = BillingState::Grace { since: height };
        draft.event(ComputeEvent::GraceStarted {
            deployment,
            at: height,
        });
        return Ok(true);
    }
    Ok(covered > 0)
}

/// Pays each node hosting `record`'s workloads its workloads' share of
/// `blocks` blocks (per-workload price × blocks, one output per node, in
/// node order) out of the deployment's escrow. The shares add up to
/// exactly what was drawn; a workload without a node (never the case
/// after a successful placement) has its share refunded.
fn pay_nodes(
    draft: &mut Draft<'_>,
    deployment: DeploymentId,
    record: &DeploymentRecord,
    blocks: u64,
) -> RuleResult<()> {
    let params = *draft.state.params();
    let mut shares: BTreeMap<Option<NodeId>, Currency> = BTreeMap::new();
    for workload in &record.spec.workloads {
        let share = params
            .workload_price_per_block(workload)
            .and_then(|price| price.checked_mul(u128::from(blocks)))
            .ok_or(ComputeRuleError::PriceOverflow)?;
        let entry = shares
            .entry(record.placements.get(&workload.name).copied())
            .or_default();
        *entry = entry
            .checked_add(share)
            .ok_or(ComputeRuleError::PriceOverflow)?;
    }
    for (node, amount) in shares {
        if amount.is_zero() {
            continue;
        }
        let payee = node.and_then(|node| draft.node(&node).map(|record| (node, record.payout)));
        match payee {
            Some((node, condition)) => {
                let address = condition.address();
                let output = draft.release(deployment, record, condition, amount);
                draft.event(ComputeEvent::FarmerPaid {
                    deployment,
                    node,
                    amount,
                    output,
                    address,
                });
            }
            None => {
                let address = record.refund.address();
                let output = draft.release(deployment, record, record.refund.clone(), amount);
                draft.event(ComputeEvent::DeploymentRefunded {
                    deployment,
                    amount,
                    output,
                    address,
                });
            }
        }
    }
    Ok(())
}

fn heal(draft: &mut Draft<'_>, node: NodeId, height: BlockHeight) -> RuleResult<()> {
    let record = draft
        .node(&node)
        .ok_or(ComputeRuleError::UnknownNode { node })?;
    let limit = draft.state.params().silent_after_blocks;
    if !draft.state.is_silent(&record, height) {
        return Err(ComputeRuleError::NotSilent {
            node,
            last_report: record.last_report,
            height,
            limit,
        });
    }
    let affected: Vec<DeploymentId> = draft
        .state
        .deployments
        .iter()
        .filter(|(_, deployment)| {
            deployment.spec.reschedule == ledger::payload::compute::ReschedulePolicy::Move
                && deployment.placements.values().any(|placed| *placed == node)
        })
        .map(|(id, _)| *id)
        .collect();
    let mut moved_any = false;
    for id in affected {
        let Some(mut deployment) = draft.deployment(&id) else {
            continue;
        };
        let leaving: Vec<WorkloadSpec> = deployment
            .spec
            .workloads
            .iter()
            .filter(|workload| deployment.placements.get(&workload.name) == Some(&node))
            .cloned()
            .collect();
        let staying: Vec<PlacedSibling> = deployment
            .spec
            .workloads
            .iter()
            .filter_map(|workload| {
                let placed = *deployment.placements.get(&workload.name)?;
                (placed != node).then(|| PlacedSibling {
                    node: placed,
                    anti_affinity: workload.anti_affinity.clone(),
                })
            })
            .collect();
        // Try on a copy so a failure leaves this deployment untouched.
        let mut trial = Draft {
            state: draft.state,
            nodes: draft.nodes.clone(),
            deployments: draft.deployments.clone(),
            order: draft.order.clone(),
            events: Vec::new(),
            released: Vec::new(),
            settled: Vec::new(),
            transaction: draft.transaction,
        };
        for workload in &leaving {
            trial.account(&node, demand(workload), false)?;
            trial.event(ComputeEvent::WorkloadRemoved {
                deployment: id,
                workload: workload.name.clone(),
                node,
            });
        }
        let unpinned: Vec<WorkloadSpec> = leaving
            .iter()
            .map(|workload| WorkloadSpec {
                node: None,
                ..workload.clone()
            })
            .collect();
        let result = place(
            &mut trial,
            id,
            &deployment.spec,
            &unpinned,
            &staying,
            &BTreeSet::from([node]),
            height,
            PlacementReason::Rescheduled {
                from: node,
                last_report: record.last_report,
            },
        );
        match result {
            Ok(placements) => {
                for workload in &leaving {
                    deployment.reported.remove(&workload.name);
                }
                deployment.placements.extend(placements);
                let Draft {
                    nodes,
                    deployments,
                    order,
                    events,
                    ..
                } = trial;
                draft.nodes = nodes;
                draft.deployments = deployments;
                draft.order = order;
                draft.events.extend(events);
                draft.set_deployment(id, Some(deployment));
                moved_any = true;
            }
            Err(error) => draft.event(ComputeEvent::RescheduleFailed {
                deployment: id,
                node,
                reason: error.to_string(),
            }),
        }
    }
    if !moved_any {
        return Err(ComputeRuleError::NothingToHeal { node });
    }
    Ok(())
}
