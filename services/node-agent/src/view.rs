//! What the agent knows of the chain, folded from the ledger stream: the
//! workloads placed on its node (the desired state), whether the node is
//! registered, the coin outputs its node key can spend (to pay report
//! fees) and the billing state of every deployment (to bill those it
//! hosts).
//!
//! Applied blocks are folded forwards and remember what they replaced;
//! reverted blocks restore exactly that (the stream sends a revert before
//! the blocks of the new branch), so a reorg leaves the view as if the
//! reverted blocks never happened.

use std::collections::{BTreeMap, BTreeSet};

use chain::domains::compute::{self, ComputeEvent};
use chain::events::{Direction, EventBody, LedgerEvent};
use chain::stream::{BlockMessage, BlockMessageKind};
use ledger::payload::compute::{DeploymentId, NodeId, WorkloadSpec};
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
    Billing(DeploymentId, Option<Billing>),
}

/// A deployment's billing state as the chain's events tell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Billing {
    pub price_per_block: Currency,
    pub balance: Currency,
    /// Billed up to (excluding) this height.
    pub billed_to: BlockHeight,
    /// Unpaid since this height.
    pub grace_since: Option<BlockHeight>,
}

impl Billing {
    /// Whether a `Bill` at `height` does something: `interval` blocks
    /// since the last bill when paid up; in grace once the grace period
    /// is over (the chain then stops the deployment) or when a top-up
    /// covers a block again.
    pub fn due(&self, height: BlockHeight, interval: u64, grace_blocks: u64) -> bool {
        match self.grace_since {
            Some(since) => {
                height.0.saturating_sub(since.0) >= grace_blocks
                    || (!self.price_per_block.is_zero() && self.balance >= self.price_per_block)
            }
            None => height.0.saturating_sub(self.billed_to.0) >= interval,
        }
    }
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
    /// Every active deployment's billing state.
    billing: BTreeMap<DeploymentId, Billing>,
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
            billing: BTreeMap::new(),
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

    /// A deployment's billing state (`None` once it ended).
    pub fn billing(&self, deployment: &DeploymentId) -> Option<&Billing> {
        self.billing.get(deployment)
    }

    /// The deployments this node bills at `height` (one biller per
    /// deployment, so agents do not race), among those whose bill is
    /// [`Billing::due`]: the node of the deployment's first workload (by
    /// name) that is not silent (last report at most `silent_after` blocks
    /// old; this node always counts as live); when every node hosting it
    /// is silent, the live node with the lowest ID — so a deployment whose
    /// nodes all stopped is still billed and, once its deposit and grace
    /// run out, stopped, freeing their capacity.
    pub fn bills_due(
        &self,
        height: BlockHeight,
        interval: u64,
        grace_blocks: u64,
        silent_after: u64,
    ) -> Vec<DeploymentId> {
        let live = |node: &NodeId| {
            *node == self.node
                || self
                    .last_reports
                    .get(node)
                    .is_some_and(|last| height.0.saturating_sub(last.0) <= silent_after)
        };
        let mut hosts: BTreeMap<DeploymentId, Vec<(&WorkloadKey, NodeId)>> = BTreeMap::new();
        for (node, keys) in &self.hosted {
            for key in keys {
                hosts.entry(key.deployment).or_default().push((key, *node));
            }
        }
        let fallback = self
            .last_reports
            .keys()
            .chain(std::iter::once(&self.node))
            .filter(|node| live(node))
            .min()
            .copied();
        hosts
            .into_iter()
            .filter_map(|(deployment, mut placed)| {
                placed.sort_by(|a, b| a.0.name.cmp(&b.0.name));
                let biller = placed
                    .iter()
                    .map(|(_, node)| *node)
                    .find(|node| live(node))
                    .or(fallback)?;
                (biller == self.node).then_some(deployment)
            })
            .filter(|deployment| {
                self.billing
                    .get(deployment)
                    .is_some_and(|billing| billing.due(height, interval, grace_blocks))
            })
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
            Undo::Billing(deployment, Some(billing)) => {
                self.billing.insert(deployment, billing);
            }
            Undo::Billing(deployment, None) => {
                self.billing.remove(&deployment);
            }
        }
    }

    fn set_billing(
        &mut self,
        deployment: DeploymentId,
        billing: Option<Billing>,
        undo: &mut Vec<Undo>,
    ) {
        let before = match billing {
            Some(billing) => self.billing.insert(deployment, billing),
            None => self.billing.remove(&deployment),
        };
        undo.push(Undo::Billing(deployment, before));
    }

    /// Changes a known deployment's billing state.
    fn update_billing(
        &mut self,
        deployment: DeploymentId,
        change: impl FnOnce(&mut Billing),
        undo: &mut Vec<Undo>,
    ) {
        if let Some(mut billing) = self.billing.get(&deployment).copied() {
            change(&mut billing);
            self.set_billing(deployment, Some(billing), undo);
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
            EventBody::DomainCoinOutputCreated {
                id,
                value,
                condition,
                ..
            } if condition.address() == self.address => {
                // A payout to the agent's own address pays its fees too.
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
            ComputeEvent::DeploymentCreated {
                deployment,
                price_per_block,
                balance,
                ..
            } => self.set_billing(
                deployment,
                Some(Billing {
                    price_per_block,
                    balance,
                    billed_to: height,
                    grace_since: None,
                }),
                undo,
            ),
            ComputeEvent::DeploymentUpdated {
                deployment,
                price_per_block,
            } => self.update_billing(
                deployment,
                |billing| billing.price_per_block = price_per_block,
                undo,
            ),
            ComputeEvent::DeploymentToppedUp {
                deployment,
                balance,
                ..
            } => self.update_billing(deployment, |billing| billing.balance = balance, undo),
            ComputeEvent::DeploymentBilled {
                deployment,
                to,
                balance,
                ..
            } => self.update_billing(
                deployment,
                |billing| {
                    billing.billed_to = to;
                    billing.balance = balance;
                },
                undo,
            ),
            ComputeEvent::GraceStarted { deployment, at } => {
                self.update_billing(deployment, |billing| billing.grace_since = Some(at), undo)
            }
            ComputeEvent::GraceEnded { deployment } => {
                self.update_billing(deployment, |billing| billing.grace_since = None, undo)
            }
            ComputeEvent::DeploymentCanceled { deployment, .. } => {
                self.set_billing(deployment, None, undo)
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

    use chain::domains::compute::PlacementReason;
    use chain::events::EventPosition;
    use ledger::payload::compute::{Location, Name, Resources};
    use ledger::{Block, BlockStakePosition, Hash32, IdentityId, PublicKey, Timestamp};

    use super::*;

    fn node(byte: u8) -> NodeId {
        NodeId(Hash32([byte; 32]))
    }

    /// An applied block at `height` carrying `events` (compute events).
    fn message(height: u64, events: Vec<ComputeEvent>) -> BlockMessage {
        let block = Block::new(
            BlockId(Hash32([height as u8; 32])),
            Timestamp(1_700_000_000 + height),
            BlockStakePosition {
                height: BlockHeight(0),
                transaction_index: 0,
                output_index: 0,
            },
            Vec::new(),
            Vec::new(),
        );
        let id = block.id();
        BlockMessage {
            kind: BlockMessageKind::Applied,
            height: BlockHeight(height),
            outbox_sequence: height,
            block,
            events: events
                .iter()
                .enumerate()
                .map(|(index, event)| {
                    let (kind, data) = event.to_domain_event();
                    LedgerEvent {
                        direction: Direction::Apply,
                        block: id,
                        position: EventPosition {
                            height: BlockHeight(height),
                            transaction: Some(0),
                            index: index as u64,
                        },
                        body: EventBody::Domain {
                            domain: compute::DOMAIN.to_owned(),
                            kind,
                            data,
                        },
                    }
                })
                .collect(),
        }
    }

    fn registered(id: NodeId) -> ComputeEvent {
        ComputeEvent::NodeRegistered {
            node: id,
            owner: IdentityId(Hash32([1; 32])),
            node_key: PublicKey([id.0.0[0]; 32]),
            farm: Name::new("farm").unwrap(),
            location: Location::new("be", "ghent").unwrap(),
            capacity: Resources::new(4, 4096, 100),
            payout: Address::NIL,
        }
    }

    fn deployment(byte: u8, workloads: &[(&str, NodeId)]) -> Vec<ComputeEvent> {
        let id = DeploymentId(Hash32([byte; 32]));
        let mut events = vec![ComputeEvent::DeploymentCreated {
            deployment: id,
            owner: IdentityId(Hash32([2; 32])),
            name: Name::new(&format!("d{byte}")).unwrap(),
            price_per_block: Currency(10),
            balance: Currency(1_000_000),
            refund: Address::NIL,
        }];
        for (name, node) in workloads {
            events.push(ComputeEvent::WorkloadPlaced {
                deployment: id,
                node: *node,
                spec: WorkloadSpec {
                    name: Name::new(name).unwrap(),
                    resources: Resources::new(1, 512, 1),
                    image: "alpine".into(),
                    network: None,
                    volumes: Vec::new(),
                    anti_affinity: None,
                    node: None,
                },
                reason: PlacementReason::Created,
            });
        }
        events
    }

    fn report(id: NodeId, sequence: u64) -> ComputeEvent {
        ComputeEvent::NodeReported {
            node: id,
            sequence,
            uptime_seconds: sequence,
            power: ledger::payload::compute::Power::Up,
        }
    }

    #[test]
    fn one_live_node_bills_each_deployment_even_when_its_hosts_are_silent() {
        // Nodes 1, 2 (this agent's), 3; deployment 7 runs "a" on 1 and "b"
        // on 2, deployment 8 only on 1.
        let (one, two, three) = (node(1), node(2), node(3));
        let views: Vec<NodeView> = [one, two, three]
            .into_iter()
            .map(|me| {
                let mut view = NodeView::new(me, Address::NIL);
                let mut events = vec![registered(one), registered(two), registered(three)];
                events.extend(deployment(7, &[("a", one), ("b", two)]));
                events.extend(deployment(8, &[("only", one)]));
                view.fold(&message(1, events));
                view
            })
            .collect();
        let due = |view: &NodeView, height: u64| view.bills_due(BlockHeight(height), 10, 100, 20);
        let (d7, d8) = (DeploymentId(Hash32([7; 32])), DeploymentId(Hash32([8; 32])));

        // Everyone live: the first workload's node bills, once due.
        assert!(views.iter().all(|view| due(view, 5).is_empty()));
        assert_eq!(due(&views[0], 11), [d7, d8]);
        assert!(due(&views[1], 11).is_empty() && due(&views[2], 11).is_empty());

        // Node 1 falls silent (nodes 2 and 3 keep reporting): node 2 bills
        // deployment 7 (its "b"); deployment 8's only node is silent, so
        // the live node with the lowest ID, 2, bills it.
        let mut views = views;
        for view in &mut views {
            view.fold(&message(25, vec![report(two, 1), report(three, 1)]));
        }
        assert_eq!(due(&views[1], 30), [d7, d8]);
        assert!(due(&views[2], 30).is_empty());
        // Node 1's agent (if it still runs) counts itself live and keeps
        // billing what it hosts first; the chain refuses the second bill
        // of the same block as "owes nothing".
        assert_eq!(due(&views[0], 30), [d7, d8]);

        // Then node 2 falls silent too: node 3 bills both.
        for view in &mut views {
            view.fold(&message(50, vec![report(three, 2)]));
        }
        assert_eq!(due(&views[2], 55), [d7, d8]);
    }
}
