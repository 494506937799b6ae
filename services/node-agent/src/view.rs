//! What the agent knows of the chain, folded from the ledger stream: the
//! workloads placed on its node (the desired state), whether the node is
//! registered, and the coin outputs its node key can spend (to pay report
//! fees).
//!
//! Applied blocks are folded forwards and remember what they replaced;
//! reverted blocks restore exactly that (the stream sends a revert before
//! the blocks of the new branch), so a reorg leaves the view as if the
//! reverted blocks never happened.

use std::collections::{BTreeMap, BTreeSet};

use chain::domains::compute::{self, ComputeEvent};
use chain::events::{Direction, EventBody, LedgerEvent};
use chain::stream::{BlockMessage, BlockMessageKind};
use ledger::payload::compute::{NodeId, WorkloadSpec};
use ledger::{Address, BlockHeight, BlockId, CoinOutputId, Currency};

use crate::driver::WorkloadKey;

/// One undoable change of the view.
#[derive(Debug, Clone)]
enum Undo {
    Workload(WorkloadKey, Option<WorkloadSpec>),
    Coin(CoinOutputId, Option<Currency>),
    Registered(bool),
    LastReport(NodeId, Option<BlockHeight>),
    Hosted(NodeId, WorkloadKey, bool),
}

/// The agent's view of its node on chain.
#[derive(Debug)]
pub struct NodeView {
    node: NodeId,
    address: Address,
    registered: bool,
    desired: BTreeMap<WorkloadKey, WorkloadSpec>,
    coins: BTreeMap<CoinOutputId, Currency>,
    undo: BTreeMap<BlockId, Vec<Undo>>,
    height: Option<BlockHeight>,
    /// Every node's last report (registration counts), for healing.
    last_reports: BTreeMap<NodeId, BlockHeight>,
    /// The workloads placed on every node.
    hosted: BTreeMap<NodeId, BTreeSet<WorkloadKey>>,
}

impl NodeView {
    /// The view of `node`, whose key pays from `address`.
    pub fn new(node: NodeId, address: Address) -> NodeView {
        NodeView {
            node,
            address,
            registered: false,
            desired: BTreeMap::new(),
            coins: BTreeMap::new(),
            undo: BTreeMap::new(),
            height: None,
            last_reports: BTreeMap::new(),
            hosted: BTreeMap::new(),
        }
    }

    pub fn node(&self) -> NodeId {
        self.node
    }

    pub fn registered(&self) -> bool {
        self.registered
    }

    /// The workloads the chain places on this node.
    pub fn desired(&self) -> &BTreeMap<WorkloadKey, WorkloadSpec> {
        &self.desired
    }

    /// Spendable coin outputs of the node key.
    pub fn coins(&self) -> &BTreeMap<CoinOutputId, Currency> {
        &self.coins
    }

    /// Height of the last folded block.
    pub fn height(&self) -> Option<BlockHeight> {
        self.height
    }

    /// Other nodes that host workloads and whose last report is more than
    /// `limit` blocks before `height`: candidates for `Heal`.
    pub fn silent_nodes(&self, height: BlockHeight, limit: u64) -> Vec<NodeId> {
        self.hosted
            .iter()
            .filter(|(node, workloads)| **node != self.node && !workloads.is_empty())
            .filter(|(node, _)| {
                self.last_reports
                    .get(*node)
                    .is_some_and(|last| height.0.saturating_sub(last.0) > limit)
            })
            .map(|(node, _)| *node)
            .collect()
    }

    /// Folds one stream message.
    pub fn fold(&mut self, message: &BlockMessage) {
        let block = message.block_id();
        match message.kind {
            BlockMessageKind::Applied => {
                let mut undo = Vec::new();
                for event in &message.events {
                    self.apply(event, &mut undo);
                }
                self.undo.insert(block, undo);
                self.height = Some(message.height);
            }
            BlockMessageKind::Reverted => {
                if let Some(undo) = self.undo.remove(&block) {
                    for step in undo.into_iter().rev() {
                        self.restore(step);
                    }
                }
                self.height = message.height.checked_sub(1);
            }
        }
        // Undo history older than a long reorg is never needed.
        while self.undo.len() > 1_000 {
            self.undo.pop_first();
        }
    }

    fn restore(&mut self, step: Undo) {
        match step {
            Undo::Workload(key, Some(spec)) => {
                self.desired.insert(key, spec);
            }
            Undo::Workload(key, None) => {
                self.desired.remove(&key);
            }
            Undo::Coin(id, Some(value)) => {
                self.coins.insert(id, value);
            }
            Undo::Coin(id, None) => {
                self.coins.remove(&id);
            }
            Undo::Registered(registered) => self.registered = registered,
            Undo::LastReport(node, Some(height)) => {
                self.last_reports.insert(node, height);
            }
            Undo::LastReport(node, None) => {
                self.last_reports.remove(&node);
            }
            Undo::Hosted(node, key, true) => {
                self.hosted.entry(node).or_default().insert(key);
            }
            Undo::Hosted(node, key, false) => {
                if let Some(keys) = self.hosted.get_mut(&node) {
                    keys.remove(&key);
                }
            }
        }
    }

    fn set_workload(&mut self, key: WorkloadKey, spec: Option<WorkloadSpec>, undo: &mut Vec<Undo>) {
        let before = match spec {
            Some(spec) => self.desired.insert(key.clone(), spec),
            None => self.desired.remove(&key),
        };
        undo.push(Undo::Workload(key, before));
    }

    fn set_coin(&mut self, id: CoinOutputId, value: Option<Currency>, undo: &mut Vec<Undo>) {
        let before = match value {
            Some(value) => self.coins.insert(id, value),
            None => self.coins.remove(&id),
        };
        undo.push(Undo::Coin(id, before));
    }

    fn apply(&mut self, event: &LedgerEvent, undo: &mut Vec<Undo>) {
        if event.direction != Direction::Apply {
            return;
        }
        match &event.body {
            EventBody::CoinOutputCreated {
                id, value, address, ..
            }
            | EventBody::PayoutMatured { id, value, address }
                if *address == self.address =>
            {
                self.set_coin(*id, Some(*value), undo);
            }
            EventBody::CoinOutputSpent { id, address, .. } if *address == self.address => {
                self.set_coin(*id, None, undo);
            }
            EventBody::Domain { domain, data, .. } if domain == compute::DOMAIN => {
                let Ok(decoded) = ComputeEvent::decode(data) else {
                    tracing::warn!("undecodable compute event in the stream; ignored");
                    return;
                };
                self.apply_compute(decoded, event.position.height, undo);
            }
            _ => {}
        }
    }

    fn set_last_report(&mut self, node: NodeId, height: BlockHeight, undo: &mut Vec<Undo>) {
        let before = self.last_reports.insert(node, height);
        undo.push(Undo::LastReport(node, before));
    }

    fn set_hosted(&mut self, node: NodeId, key: WorkloadKey, present: bool, undo: &mut Vec<Undo>) {
        let keys = self.hosted.entry(node).or_default();
        let was = if present {
            !keys.insert(key.clone())
        } else {
            keys.remove(&key)
        };
        undo.push(Undo::Hosted(node, key, was));
    }

    fn apply_compute(&mut self, event: ComputeEvent, height: BlockHeight, undo: &mut Vec<Undo>) {
        match event {
            ComputeEvent::NodeRegistered { node, .. } => {
                self.set_last_report(node, height, undo);
                if node == self.node {
                    undo.push(Undo::Registered(self.registered));
                    self.registered = true;
                }
            }
            ComputeEvent::NodeReported { node, .. } => self.set_last_report(node, height, undo),
            ComputeEvent::WorkloadPlaced {
                deployment,
                node,
                spec,
                ..
            } => {
                let key = WorkloadKey {
                    deployment,
                    name: spec.name.clone(),
                };
                self.set_hosted(node, key.clone(), true, undo);
                if node == self.node {
                    self.set_workload(key, Some(spec), undo);
                }
            }
            ComputeEvent::WorkloadRemoved {
                deployment,
                workload,
                node,
            } => {
                let key = WorkloadKey {
                    deployment,
                    name: workload,
                };
                self.set_hosted(node, key.clone(), false, undo);
                if node == self.node {
                    self.set_workload(key, None, undo);
                }
            }
            _ => {}
        }
    }
}
