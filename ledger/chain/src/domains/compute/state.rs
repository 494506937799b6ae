//! The compute domain's consensus state: nodes (owner, key, farm,
//! location, capacity and what is reserved on it, power target and state,
//! last report) and deployments (owner, spec, where each workload is
//! placed, prepaid balance and billing position, grace, reported workload
//! states).
//!
//! A transaction's change ([`ComputeChange`]) is a list of [`Write`]s that
//! each record a record's value before and after, so `apply` and `revert`
//! are exact inverses that check the state is what the change expects.
//! The rules that build changes are in [`super::rules`].

use std::any::Any;
use std::collections::BTreeMap;

use ledger::codec;
use ledger::crypto::hash::{HashTag, tagged_hash_parts};
use ledger::payload::compute::escrow_condition;
use ledger::payload::compute::{
    DeploymentId, DeploymentSpec, Location, Name, NodeId, Power, Resources, WorkloadSpec,
    WorkloadState,
};
use ledger::{BlockHeight, CoinOutputId, Condition, Currency, Hash32, IdentityId, PublicKey};

use ledger::Transaction;
use ledger::payload::Payload;

use super::rules;
use crate::domains::identity::IdentityState;
use crate::state::{DomainChange, DomainContext, DomainError, DomainState};

/// The domain name events are published under.
pub const DOMAIN: &str = "compute";

/// Constants of the compute rules (see `docs/compute.md`, "Price model").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct ComputeParams {
    /// A node whose last report is more than this many blocks old is
    /// *silent*: nothing new is placed on it and `Heal` may move its
    /// workloads.
    pub silent_after_blocks: u64,
    /// Blocks a deployment may stay unpaid before it is stopped.
    pub grace_blocks: u64,
    /// How often the node agents bill a deployment they host (blocks
    /// between `Bill`s). Not a consensus rule: anyone may bill at any
    /// height; this is the cadence the agents keep.
    pub bill_interval_blocks: u64,
    /// Base units per block for one core.
    pub price_per_core: u128,
    /// Base units per block for one GiB of memory (charged per MiB, /1024).
    pub price_per_memory_gib: u128,
    /// Base units per block for one GiB of disk (root disk and volumes).
    pub price_per_disk_gib: u128,
}

impl Default for ComputeParams {
    fn default() -> ComputeParams {
        ComputeParams {
            silent_after_blocks: 20,
            grace_blocks: 100,
            bill_interval_blocks: 10,
            price_per_core: 1_000_000,
            price_per_memory_gib: 500_000,
            price_per_disk_gib: 10_000,
        }
    }
}

impl ComputeParams {
    /// What a deployment costs per block: the sum over its workloads of
    /// cores × core price + memory GiB × memory price + disk GiB × disk
    /// price (disk including volumes), memory charged per MiB. `None` on
    /// overflow (refused).
    pub fn price_per_block(&self, spec: &DeploymentSpec) -> Option<Currency> {
        spec.workloads
            .iter()
            .try_fold(Currency::ZERO, |total, workload| {
                total.checked_add(self.workload_price_per_block(workload)?)
            })
    }

    /// One workload's share of [`Self::price_per_block`]: what the node
    /// hosting it is paid per block.
    pub fn workload_price_per_block(&self, workload: &WorkloadSpec) -> Option<Currency> {
        let demand = workload.demand()?;
        let cores = u128::from(demand.cores).checked_mul(self.price_per_core)?;
        let memory = u128::from(demand.memory_mib)
            .checked_mul(self.price_per_memory_gib)?
            .checked_div(1024)?;
        let disk = u128::from(demand.disk_gib).checked_mul(self.price_per_disk_gib)?;
        Some(Currency(cores.checked_add(memory)?.checked_add(disk)?))
    }
}

/// A registered compute node.
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct NodeRecord {
    pub owner: IdentityId,
    pub key: PublicKey,
    pub farm: Name,
    pub location: Location,
    pub capacity: Resources,
    /// Sum of the demands of the workloads placed on it.
    pub used: Resources,
    pub power_target: Power,
    pub power_state: Power,
    pub registered_at: BlockHeight,
    /// Height of the last report (the registration counts as one).
    pub last_report: BlockHeight,
    /// The last report's sequence number (reports must increase it).
    pub last_sequence: u64,
    pub uptime_seconds: u64,
    /// Where the node's share of every bill is paid.
    pub payout: Condition,
}

/// Whether a deployment is paid up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub enum BillingState {
    Paid,
    /// Unpaid since the given height; stopped after the grace period.
    Grace {
        since: BlockHeight,
    },
}

/// A live deployment.
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct DeploymentRecord {
    pub owner: IdentityId,
    pub spec: DeploymentSpec,
    /// Node of every workload.
    pub placements: BTreeMap<Name, NodeId>,
    pub created_at: BlockHeight,
    /// Prepaid coins not yet drawn.
    pub balance: Currency,
    /// The escrow coin outputs that hold `balance` (their values add up
    /// to it): the deposits and top-ups, or the escrow change of the last
    /// bill.
    pub escrow: Vec<CoinOutputId>,
    /// Where what is left of the balance is paid when the deployment ends.
    pub refund: Condition,
    /// Billed up to (excluding) this height.
    pub billed_to: BlockHeight,
    pub billing: BillingState,
    /// The last state each workload's node reported.
    pub reported: BTreeMap<Name, WorkloadState>,
}

/// One record's value before and after a change.
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub enum Write {
    Node {
        id: NodeId,
        before: Option<NodeRecord>,
        after: Option<NodeRecord>,
    },
    Deployment {
        id: DeploymentId,
        before: Option<DeploymentRecord>,
        after: Option<DeploymentRecord>,
    },
}

/// A transaction's change, as stored in block diffs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct ComputeChange {
    pub writes: Vec<Write>,
}

/// The compute domain's state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComputeState {
    pub(crate) params: ComputeParams,
    pub(crate) nodes: BTreeMap<NodeId, NodeRecord>,
    pub(crate) deployments: BTreeMap<DeploymentId, DeploymentRecord>,
    /// (owner, name) → deployment: names are unique per owner.
    pub(crate) names: BTreeMap<(IdentityId, Name), DeploymentId>,
}

pub(crate) fn domain_error(message: String) -> DomainError {
    DomainError {
        domain: DOMAIN,
        message,
    }
}

impl ComputeState {
    pub fn new(params: ComputeParams) -> ComputeState {
        ComputeState {
            params,
            ..ComputeState::default()
        }
    }

    pub fn params(&self) -> &ComputeParams {
        &self.params
    }

    pub fn node(&self, id: &NodeId) -> Option<&NodeRecord> {
        self.nodes.get(id)
    }

    pub fn nodes(&self) -> impl Iterator<Item = (&NodeId, &NodeRecord)> {
        self.nodes.iter()
    }

    pub fn deployment(&self, id: &DeploymentId) -> Option<&DeploymentRecord> {
        self.deployments.get(id)
    }

    pub fn deployments(&self) -> impl Iterator<Item = (&DeploymentId, &DeploymentRecord)> {
        self.deployments.iter()
    }

    pub fn deployment_by_name(&self, owner: &IdentityId, name: &Name) -> Option<DeploymentId> {
        self.names.get(&(*owner, name.clone())).copied()
    }

    /// Whether the node's last report is older than the silence limit.
    pub fn is_silent(&self, node: &NodeRecord, height: BlockHeight) -> bool {
        height.0.saturating_sub(node.last_report.0) > self.params.silent_after_blocks
    }

    fn set_node(&mut self, id: &NodeId, value: Option<&NodeRecord>) {
        match value {
            Some(record) => {
                self.nodes.insert(*id, record.clone());
            }
            None => {
                self.nodes.remove(id);
            }
        }
    }

    fn set_deployment(&mut self, id: &DeploymentId, value: Option<&DeploymentRecord>) {
        if let Some(old) = self.deployments.remove(id) {
            self.names.remove(&(old.owner, old.spec.name));
        }
        if let Some(record) = value {
            self.names
                .insert((record.owner, record.spec.name.clone()), *id);
            self.deployments.insert(*id, record.clone());
        }
    }

    fn write_matches(&self, write: &Write, after: bool) -> bool {
        match write {
            Write::Node {
                id,
                before,
                after: new,
            } => self.nodes.get(id) == if after { new } else { before }.as_ref(),
            Write::Deployment {
                id,
                before,
                after: new,
            } => self.deployments.get(id) == if after { new } else { before }.as_ref(),
        }
    }

    fn put(&mut self, write: &Write, after: bool) {
        match write {
            Write::Node {
                id,
                before,
                after: new,
            } => self.set_node(id, if after { new } else { before }.as_ref()),
            Write::Deployment {
                id,
                before,
                after: new,
            } => self.set_deployment(id, if after { new } else { before }.as_ref()),
        }
    }

    /// Applies a change's writes, checking each record is as expected;
    /// on a mismatch the state is left as it was.
    pub fn apply_change(&mut self, change: &ComputeChange) -> Result<(), DomainError> {
        for (done, write) in change.writes.iter().enumerate() {
            if !self.write_matches(write, false) {
                for undo in change.writes[..done].iter().rev() {
                    self.put(undo, false);
                }
                return Err(domain_error(format!(
                    "compute state is not as write {done} of the change expects"
                )));
            }
            self.put(write, true);
        }
        Ok(())
    }

    /// Undoes a change's writes in reverse order.
    pub fn revert_change(&mut self, change: &ComputeChange) -> Result<(), DomainError> {
        for (done, write) in change.writes.iter().rev().enumerate() {
            if !self.write_matches(write, true) {
                let redo_from = change.writes.len() - done;
                for redo in &change.writes[redo_from..] {
                    self.put(redo, true);
                }
                return Err(domain_error(format!(
                    "compute state is not as write {} of the change left it",
                    change.writes.len() - 1 - done
                )));
            }
            self.put(write, false);
        }
        Ok(())
    }

    pub fn decode_change(bytes: &[u8]) -> Result<ComputeChange, DomainError> {
        codec::decode(bytes)
            .map_err(|error| domain_error(format!("undecodable compute change: {error}")))
    }

    /// A hash of the whole state in key order.
    pub fn commitment(&self) -> Hash32 {
        tagged_hash_parts(
            HashTag::StateCommitment,
            &[
                DOMAIN.as_bytes(),
                &codec::encode(&self.params),
                &codec::encode(&self.nodes.iter().collect::<Vec<_>>()),
                &codec::encode(&self.deployments.iter().collect::<Vec<_>>()),
            ],
        )
    }
}

impl DomainState for ComputeState {
    fn name(&self) -> &'static str {
        DOMAIN
    }

    fn prepare(
        &self,
        transaction: &Transaction,
        context: &DomainContext<'_>,
    ) -> Result<Option<DomainChange>, DomainError> {
        let Some(Payload::Compute(operation)) = &transaction.payload else {
            return Ok(None);
        };
        let Some(identities) = context.domain::<IdentityState>() else {
            return Err(domain_error(
                "the identity domain is not registered; compute needs it".into(),
            ));
        };
        rules::prepare(self, identities, operation, transaction, context)
            .map(Some)
            .map_err(|error| domain_error(error.to_string()))
    }

    fn apply(&mut self, change: &[u8]) -> Result<(), DomainError> {
        let change = Self::decode_change(change)?;
        self.apply_change(&change)
    }

    fn revert(&mut self, change: &[u8]) -> Result<(), DomainError> {
        let change = Self::decode_change(change)?;
        self.revert_change(&change)
    }

    fn commitment(&self) -> Hash32 {
        ComputeState::commitment(self)
    }

    fn clone_box(&self) -> Box<dyn DomainState> {
        Box::new(self.clone())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn escrow_condition(&self) -> Option<Condition> {
        Some(escrow_condition())
    }
}
