//! The compute domain's events. Each is published as
//! [`crate::events::EventBody::Domain`] with `domain = "compute"`,
//! `kind = `[`ComputeEvent::kind`] and `data` = the canonical encoding of
//! the whole [`ComputeEvent`] ([`ComputeEvent::decode`] reads it). The
//! node agent and the compute read model fold these.

use ledger::codec::{self, DecodeError};
use ledger::payload::compute::{
    DeploymentId, Location, Name, NodeId, Power, Resources, WorkloadSpec, WorkloadState,
};
use ledger::{Address, BlockHeight, CoinOutputId, Currency, IdentityId, PublicKey};

/// Why a workload was placed where it is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub enum PlacementReason {
    Created,
    /// New or changed in a deployment update.
    Updated,
    /// Moved off `from`, silent since its last report at `last_report`.
    Rescheduled {
        from: NodeId,
        last_report: BlockHeight,
    },
}

/// Why a deployment ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub enum CancelCause {
    ByOwner,
    /// The grace period ran out.
    OutOfFunds,
}

impl CancelCause {
    pub const fn name(self) -> &'static str {
        match self {
            CancelCause::ByOwner => "by_owner",
            CancelCause::OutOfFunds => "out_of_funds",
        }
    }
}

/// One change of the compute domain. The encoded tag is the variant
/// index: append only.
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub enum ComputeEvent {
    NodeRegistered {
        node: NodeId,
        owner: IdentityId,
        node_key: PublicKey,
        farm: Name,
        location: Location,
        capacity: Resources,
        /// The address of the node's payout condition.
        payout: Address,
    },
    NodePowerTargetSet {
        node: NodeId,
        target: Power,
    },
    NodeReported {
        node: NodeId,
        sequence: u64,
        uptime_seconds: u64,
        power: Power,
    },
    WorkloadStateReported {
        node: NodeId,
        deployment: DeploymentId,
        workload: Name,
        state: WorkloadState,
    },
    DeploymentCreated {
        deployment: DeploymentId,
        owner: IdentityId,
        name: Name,
        price_per_block: Currency,
        balance: Currency,
        /// The address of the refund condition.
        refund: Address,
    },
    DeploymentUpdated {
        deployment: DeploymentId,
        price_per_block: Currency,
    },
    /// The workload (its full spec) is to run on `node`.
    WorkloadPlaced {
        deployment: DeploymentId,
        node: NodeId,
        spec: WorkloadSpec,
        reason: PlacementReason,
    },
    /// The workload no longer runs on `node` (removed, moved or the
    /// deployment ended); its capacity is free.
    WorkloadRemoved {
        deployment: DeploymentId,
        workload: Name,
        node: NodeId,
    },
    DeploymentCanceled {
        deployment: DeploymentId,
        cause: CancelCause,
    },
    DeploymentToppedUp {
        deployment: DeploymentId,
        amount: Currency,
        balance: Currency,
    },
    /// `amount` drawn for blocks `from..to`.
    DeploymentBilled {
        deployment: DeploymentId,
        amount: Currency,
        from: BlockHeight,
        to: BlockHeight,
        balance: Currency,
    },
    GraceStarted {
        deployment: DeploymentId,
        at: BlockHeight,
    },
    GraceEnded {
        deployment: DeploymentId,
    },
    /// Healing could not move the deployment's workloads off `node`.
    RescheduleFailed {
        deployment: DeploymentId,
        node: NodeId,
        reason: String,
    },
    /// `node`'s share of a bill, paid from the deployment's escrow to the
    /// node's payout condition as coin output `output`.
    FarmerPaid {
        deployment: DeploymentId,
        node: NodeId,
        amount: Currency,
        output: CoinOutputId,
        address: Address,
    },
    /// What was left of the balance when the deployment ended, paid to
    /// its refund condition as coin output `output`.
    DeploymentRefunded {
        deployment: DeploymentId,
        amount: Currency,
        output: CoinOutputId,
        address: Address,
    },
}

impl ComputeEvent {
    pub const fn kind(&self) -> &'static str {
        match self {
            ComputeEvent::NodeRegistered { .. } => "node_registered",
            ComputeEvent::NodePowerTargetSet { .. } => "node_power_target_set",
            ComputeEvent::NodeReported { .. } => "node_reported",
            ComputeEvent::WorkloadStateReported { .. } => "workload_state_reported",
            ComputeEvent::DeploymentCreated { .. } => "deployment_created",
            ComputeEvent::DeploymentUpdated { .. } => "deployment_updated",
            ComputeEvent::WorkloadPlaced { .. } => "workload_placed",
            ComputeEvent::WorkloadRemoved { .. } => "workload_removed",
            ComputeEvent::DeploymentCanceled { .. } => "deployment_canceled",
            ComputeEvent::DeploymentToppedUp { .. } => "deployment_topped_up",
            ComputeEvent::DeploymentBilled { .. } => "deployment_billed",
            ComputeEvent::GraceStarted { .. } => "grace_started",
            ComputeEvent::GraceEnded { .. } => "grace_ended",
            ComputeEvent::RescheduleFailed { .. } => "reschedule_failed",
            ComputeEvent::FarmerPaid { .. } => "farmer_paid",
            ComputeEvent::DeploymentRefunded { .. } => "deployment_refunded",
        }
    }

    /// `(kind, canonical bytes)` as published.
    pub fn to_domain_event(&self) -> (String, Vec<u8>) {
        (self.kind().to_owned(), codec::encode(self))
    }

    pub fn decode(data: &[u8]) -> Result<ComputeEvent, DecodeError> {
        codec::decode(data)
    }
}
