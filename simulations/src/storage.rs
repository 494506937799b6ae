//! Storage durability: objects stored as Reed–Solomon shards (`k` data +
//! `m` parity, any `k` rebuild the object) or as replicas (`k = 1`), placed
//! across datacenters, while nodes and datacenters fail and are repaired.
//! A continuous-time event simulation (times in seconds, exponential
//! failure and repair times): a node failure destroys its shards; a
//! datacenter outage makes its nodes unreachable for a while and, with a
//! configured probability, destroys them (fire, flood). A lost shard is
//! rebuilt on another node after a repair delay by reading `k` shards
//! (one replica), if the object still has `k` reachable shards then;
//! otherwise the repair retries. An object with fewer than `k` intact
//! shards is lost for good.
//!
//! Every policy sees the same failure trace (same seed), so their losses
//! compare like for like.
//!
//! Placement is the chain's own function
//! ([`chain::domains::storage::placement`]): [`place`] for the first
//! placement, [`rebalance`] for the node a lost shard is rebuilt on. Each
//! policy's tolerance is one whole datacenter plus as many nodes as its
//! parity allows with the fewest shards per datacenter
//! (`⌈n / datacenters⌉`), which fixes the placement's per-datacenter cap.
//! Nodes of a datacenter in an outage are `Degraded` (they keep their
//! shards, take no new ones); destroyed nodes are unregistered until
//! replaced. Repairs rebuild only lost shards; no healthy shard is moved.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use chain::domains::storage::placement::{PlacementNode, PlacementRequest, place, rebalance};
use ledger::Hash32;
use ledger::payload::storage::{
    DomainLevel, ErasurePolicy, FailureDomain, NodeState, ObjectId, StorageNodeId, Tolerance,
};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::chart::{Chart, Series};
use crate::error::{SimulationError, require};
use crate::output::{Outputs, Table, fixed};
use crate::rng;

const HOUR: f64 = 3600.0;
const YEAR: f64 = 365.25 * 24.0 * HOUR;

/// A redundancy policy: `data` shards rebuild the object, `parity` more are stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub data: usize,
    pub parity: usize,
}

impl Policy {
    pub fn shards(&self) -> usize {
        self.data + self.parity
    }

    /// Stored bytes per object byte.
    pub fn overhead(&self) -> f64 {
        self.shards() as f64 / self.data as f64
    }

    pub fn name(&self) -> String {
        if self.data == 1 {
            format!("{}x replication", self.shards())
        } else {
            format!("RS({},{})", self.data, self.parity)
        }
    }
}

/// Parameters of [`run`].
#[derive(Debug, Clone)]
pub struct StorageParams {
    pub seed: u64,
    pub datacenters: usize,
    pub nodes_per_datacenter: usize,
    pub objects: usize,
    /// Object size, for repair traffic.
    pub object_gib: f64,
    /// Simulated years per run; each run is one independent trace.
    pub years: f64,
    pub runs: usize,
    /// Mean time between data-destroying failures of one node.
    pub node_mttf_years: f64,
    /// Mean delay from a shard's loss to its rebuild (detection + transfer).
    pub repair_hours: f64,
    /// Mean time until a failed node is replaced by an empty one.
    pub node_replace_hours: f64,
    /// Mean time between outages of one datacenter.
    pub datacenter_mtbf_years: f64,
    pub datacenter_outage_hours: f64,
    /// Share of datacenter outages that destroy every disk in it.
    pub datacenter_destroy_probability: f64,
    pub policies: Vec<Policy>,
}

impl StorageParams {
    /// The documented full run: harsher than real hardware (node MTTF of
    /// two years, a datacenter outage per datacenter every two years, one
    /// in five destroying it) so that losses become measurable.
    pub fn full(seed: u64) -> StorageParams {
        StorageParams {
            seed,
            datacenters: 8,
            nodes_per_datacenter: 12,
            objects: 1_000,
            object_gib: 1.0,
            years: 10.0,
            runs: 10,
            node_mttf_years: 2.0,
            repair_hours: 72.0,
            node_replace_hours: 168.0,
            datacenter_mtbf_years: 2.0,
            datacenter_outage_hours: 24.0,
            datacenter_destroy_probability: 0.2,
            policies: vec![
                Policy { data: 1, parity: 2 },
                Policy { data: 4, parity: 2 },
                Policy { data: 6, parity: 3 },
                Policy { data: 8, parity: 4 },
                Policy {
                    data: 10,
                    parity: 4,
                },
                Policy { data: 4, parity: 4 },
            ],
        }
    }

    pub fn short(seed: u64) -> StorageParams {
        StorageParams {
            objects: 300,
            years: 2.0,
            runs: 2,
            ..StorageParams::full(seed)
        }
    }

    /// The node indexes of `datacenter`.
    fn nodes_of(&self, datacenter: usize) -> std::ops::Range<usize> {
        let first = datacenter * self.nodes_per_datacenter;
        first..first + self.nodes_per_datacenter
    }

    fn check(&self) -> Result<(), SimulationError> {
        require(self.datacenters >= 1, "datacenters", || {
            "at least 1".to_owned()
        })?;
        require(
            self.nodes_per_datacenter >= 1,
            "nodes_per_datacenter",
            || "at least 1".to_owned(),
        )?;
        require(self.runs >= 1 && self.years > 0.0, "runs/years", || {
            "at least one run of a positive number of years".to_owned()
        })?;
        for (name, value) in [
            ("node_mttf_years", self.node_mttf_years),
            ("repair_hours", self.repair_hours),
            ("node_replace_hours", self.node_replace_hours),
            ("datacenter_mtbf_years", self.datacenter_mtbf_years),
            ("datacenter_outage_hours", self.datacenter_outage_hours),
        ] {
            require(value > 0.0 && value.is_finite(), name, || {
                format!("{value} must be a positive number")
            })?;
        }
        require(
            (0.0..=1.0).contains(&self.datacenter_destroy_probability),
            "datacenter_destroy_probability",
            || format!("{} is not in [0, 1]", self.datacenter_destroy_probability),
        )?;
        let nodes = self.datacenters * self.nodes_per_datacenter;
        for policy in &self.policies {
            require(policy.data >= 1, "policies", || {
                format!("{}: at least one data shard", policy.name())
            })?;
            require(policy.shards() <= nodes, "policies", || {
                format!(
                    "{} needs {} nodes; there are {nodes}",
                    policy.name(),
                    policy.shards()
                )
            })?;
        }
        Ok(())
    }
}

fn hash_of(kind: u8, index: usize) -> Hash32 {
    let mut bytes = [0u8; 32];
    bytes[0] = kind;
    bytes[24..].copy_from_slice(&(index as u64).to_be_bytes());
    Hash32(bytes)
}

/// The chain's erasure policy for `policy` on `datacenters` datacenters:
/// tolerate one datacenter plus the nodes the parity has left with
/// `⌈n / datacenters⌉` shards per datacenter (no datacenter when the
/// parity cannot cover that many).
pub fn erasure_policy(
    policy: &Policy,
    datacenters: usize,
) -> Result<ErasurePolicy, SimulationError> {
    let cap = policy.shards().div_ceil(datacenters.max(1));
    let (domains, nodes) = if policy.parity >= cap {
        (1, policy.parity - cap)
    } else {
        (0, policy.parity)
    };
    let convert = |value: usize| {
        u8::try_from(value).map_err(|_| SimulationError::Parameter {
            name: "policies",
            problem: format!("{}: {value} does not fit a shard count", policy.name()),
        })
    };
    let erasure = ErasurePolicy {
        data_shards: convert(policy.data)?,
        parity_shards: convert(policy.parity)?,
        tolerance: Tolerance {
            level: DomainLevel::Datacenter,
            domains: convert(domains)?,
            nodes: convert(nodes)?,
        },
    };
    erasure
        .validate()
        .map_err(|error| SimulationError::Parameter {
            name: "policies",
            problem: error.to_string(),
        })?;
    Ok(erasure)
}

/// One policy's totals over every run.
#[derive(Debug, Clone)]
pub struct PolicyResult {
    pub policy: Policy,
    pub lost_objects: u64,
    /// Run-years in which at least one object was lost.
    pub years_with_loss: u64,
    pub years: u64,
    pub repair_gib: f64,
    pub shards_repaired: u64,
    /// Object-hours during which an object had fewer than `k` reachable shards.
    pub unavailable_object_hours: f64,
}

#[derive(Debug, Clone)]
pub struct StorageResult {
    pub params: StorageParams,
    pub policies: Vec<PolicyResult>,
    pub node_failures: u64,
    pub datacenter_outages: u64,
    pub datacenters_destroyed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Failure {
    Node(usize),
    NodeReplaced(usize),
    Outage(usize),
    Restored(usize),
}

/// A run's failure trace: (second, event), from its own stream; whether an
/// outage destroys is decided here too, so every policy sees the same.
fn failure_trace(params: &StorageParams, run: usize) -> Vec<(u64, Failure, bool)> {
    let mut stream = rng::stream(params.seed, &format!("storage/failures/{run}"));
    let horizon = params.years * YEAR;
    let nodes = params.datacenters * params.nodes_per_datacenter;
    let mut trace = Vec::new();
    for node in 0..nodes {
        let mut time = rng::exponential(&mut stream, params.node_mttf_years * YEAR);
        while time < horizon {
            trace.push((time as u64, Failure::Node(node), false));
            let replaced = time + rng::exponential(&mut stream, params.node_replace_hours * HOUR);
            trace.push((replaced as u64, Failure::NodeReplaced(node), false));
            time = replaced + rng::exponential(&mut stream, params.node_mttf_years * YEAR);
        }
    }
    for datacenter in 0..params.datacenters {
        let mut time = rng::exponential(&mut stream, params.datacenter_mtbf_years * YEAR);
        while time < horizon {
            let destroys = stream.random::<f64>() < params.datacenter_destroy_probability;
            trace.push((time as u64, Failure::Outage(datacenter), destroys));
            let restored =
                time + rng::exponential(&mut stream, params.datacenter_outage_hours * HOUR);
            trace.push((restored as u64, Failure::Restored(datacenter), destroys));
            time = restored + rng::exponential(&mut stream, params.datacenter_mtbf_years * YEAR);
        }
    }
    trace.sort();
    trace
}

struct Store<'a> {
    params: &'a StorageParams,
    policy: &'a Policy,
    erasure: ErasurePolicy,
    node_ids: Vec<StorageNodeId>,
    domains: Vec<FailureDomain>,
    /// Cache of the placement view of the nodes.
    registered: Option<Vec<PlacementNode>>,
    /// Per node: failed (no data, awaiting replacement).
    failed: Vec<bool>,
    datacenter_down: Vec<bool>,
    /// Per object: the node of each shard slot (None: lost, being repaired).
    shards: Vec<Vec<Option<usize>>>,
    /// Per node: (object, slot) it holds.
    held: Vec<Vec<(usize, usize)>>,
    lost: Vec<bool>,
    repairs: BinaryHeap<Reverse<(u64, usize, usize)>>,
    repair_stream: ChaCha8Rng,
    result: PolicyResult,
    lost_this_year: Vec<bool>,
}

impl Store<'_> {
    fn datacenter_of(&self, node: usize) -> usize {
        node / self.params.nodes_per_datacenter
    }

    /// [`Store::placement_nodes`], rebuilt only after a node or
    /// datacenter changed state.
    fn registered(&mut self) -> &[PlacementNode] {
        if self.registered.is_none() {
            self.registered = Some(self.placement_nodes());
        }
        self.registered.as_deref().unwrap_or_default()
    }

    /// The registered nodes as placement sees them: destroyed ones are
    /// absent, those of a datacenter in an outage are degraded.
    fn placement_nodes(&self) -> Vec<PlacementNode> {
        (0..self.failed.len())
            .filter(|node| !self.failed[*node])
            .map(|node| PlacementNode {
                id: self.node_ids[node],
                domain: self.domains[node].clone(),
                free_bytes: u64::MAX,
                state: if self.datacenter_down[self.datacenter_of(node)] {
                    NodeState::Degraded
                } else {
                    NodeState::Healthy
                },
            })
            .collect()
    }

    fn request(&self, object: usize) -> PlacementRequest {
        PlacementRequest {
            object: ObjectId(hash_of(2, object)),
            policy: self.erasure,
            shard_bytes: 1,
        }
    }

    fn reachable(&self, object: usize) -> usize {
        self.shards[object]
            .iter()
            .flatten()
            .filter(|node| !self.datacenter_down[self.datacenter_of(**node)])
            .count()
    }

    fn destroy_node(&mut self, node: usize, now: u64) {
        self.failed[node] = true;
        self.registered = None;
        for (object, slot) in std::mem::take(&mut self.held[node]) {
            self.shards[object][slot] = None;
            if self.lost[object] {
                continue;
            }
            let intact = self.shards[object].iter().flatten().count();
            if intact < self.policy.data {
                self.lost[object] = true;
                self.result.lost_objects += 1;
                let year = (now as f64 / YEAR) as usize;
                if let Some(flag) = self.lost_this_year.get_mut(year) {
                    *flag = true;
                }
            } else {
                let delay =
                    rng::exponential(&mut self.repair_stream, self.params.repair_hours * HOUR);
                self.repairs
                    .push(Reverse((now + delay as u64, object, slot)));
            }
        }
    }

    fn repair(&mut self, now: u64, object: usize, slot: usize) {
        if self.lost[object] || self.shards[object][slot].is_some() {
            return;
        }
        let current: Vec<Option<StorageNodeId>> = self.shards[object]
            .iter()
            .map(|holder| holder.map(|node| self.node_ids[node]))
            .collect();
        let request = self.request(object);
        let target = rebalance(&request, self.registered(), &current)
            .ok()
            .and_then(|placement| placement.shards.get(slot).copied())
            .and_then(|id| self.node_ids.iter().position(|node| *node == id));
        match target {
            Some(node) if self.reachable(object) >= self.policy.data => {
                self.shards[object][slot] = Some(node);
                self.held[node].push((object, slot));
                self.result.shards_repaired += 1;
                // Reading k shards of size object/k: one object's worth.
                let shard_gib = self.params.object_gib / self.policy.data as f64;
                self.result.repair_gib += shard_gib * self.policy.data as f64;
            }
            _ => self
                .repairs
                .push(Reverse((now + HOUR as u64, object, slot))),
        }
    }

    /// Adds the object-hours of unavailability between `from` and `to`.
    fn account_unavailable(&mut self, from: u64, to: u64) {
        if to <= from {
            return;
        }
        let unavailable = (0..self.shards.len())
            .filter(|object| !self.lost[*object] && self.reachable(*object) < self.policy.data)
            .count();
        self.result.unavailable_object_hours += unavailable as f64 * (to - from) as f64 / HOUR;
    }
}

fn simulate_policy(
    params: &StorageParams,
    policy: &Policy,
    traces: &[Vec<(u64, Failure, bool)>],
) -> Result<PolicyResult, SimulationError> {
    let nodes = params.datacenters * params.nodes_per_datacenter;
    let erasure = erasure_policy(policy, params.datacenters)?;
    let years = params.years.ceil() as usize;
    let mut result = PolicyResult {
        policy: policy.clone(),
        lost_objects: 0,
        years_with_loss: 0,
        years: 0,
        repair_gib: 0.0,
        shards_repaired: 0,
        unavailable_object_hours: 0.0,
    };
    for (run, trace) in traces.iter().enumerate() {
        let mut store = Store {
            params,
            policy,
            erasure,
            node_ids: (0..nodes)
                .map(|node| StorageNodeId(hash_of(1, node)))
                .collect(),
            domains: (0..nodes)
                .map(|node| FailureDomain {
                    region: "sim".to_owned(),
                    datacenter: format!("dc{}", node / params.nodes_per_datacenter),
                    farm: format!("farm{node}"),
                })
                .collect(),
            registered: None,
            failed: vec![false; nodes],
            datacenter_down: vec![false; params.datacenters],
            shards: Vec::with_capacity(params.objects),
            held: vec![Vec::new(); nodes],
            lost: vec![false; params.objects],
            repairs: BinaryHeap::new(),
            repair_stream: rng::stream(
                params.seed,
                &format!("storage/repairs/{run}/{}", policy.name()),
            ),
            result,
            lost_this_year: vec![false; years],
        };
        let registered = store.placement_nodes();
        for object in 0..params.objects {
            let placed = place(&store.request(object), &registered).map_err(|error| {
                SimulationError::Parameter {
                    name: "policies",
                    problem: format!("{}: {error}", policy.name()),
                }
            })?;
            let chosen: Vec<usize> = placed
                .shards
                .iter()
                .filter_map(|id| store.node_ids.iter().position(|node| node == id))
                .collect();
            for (slot, node) in chosen.iter().enumerate() {
                store.held[*node].push((object, slot));
            }
            store
                .shards
                .push(chosen.into_iter().map(Some).collect::<Vec<_>>());
        }
        let horizon = (params.years * YEAR) as u64;
        let mut now = 0u64;
        let mut failures = trace.iter().peekable();
        loop {
            let next_failure = failures.peek().map(|(time, _, _)| *time);
            let next_repair = store.repairs.peek().map(|Reverse((time, _, _))| *time);
            let next = match (next_failure, next_repair) {
                (Some(f), Some(r)) => f.min(r),
                (Some(f), None) => f,
                (None, Some(r)) => r,
                (None, None) => break,
            };
            if next >= horizon {
                break;
            }
            if store.datacenter_down.iter().any(|down| *down) {
                store.account_unavailable(now, next);
            }
            now = next;
            if next_repair == Some(next) && next_failure.is_none_or(|f| f > next) {
                if let Some(Reverse((_, object, slot))) = store.repairs.pop() {
                    store.repair(now, object, slot);
                }
                continue;
            }
            let Some((_, failure, destroys)) = failures.next() else {
                break;
            };
            match *failure {
                Failure::Node(node) => store.destroy_node(node, now),
                Failure::NodeReplaced(node) => {
                    store.failed[node] = false;
                    store.registered = None;
                }
                Failure::Outage(datacenter) => {
                    store.datacenter_down[datacenter] = true;
                    store.registered = None;
                    if *destroys {
                        for node in params.nodes_of(datacenter) {
                            store.destroy_node(node, now);
                        }
                    }
                }
                Failure::Restored(datacenter) => {
                    store.datacenter_down[datacenter] = false;
                    store.registered = None;
                    if *destroys {
                        // Rebuilt with new, empty nodes.
                        for node in params.nodes_of(datacenter) {
                            store.failed[node] = false;
                        }
                    }
                }
            }
        }
        result = store.result;
        result.years_with_loss += store.lost_this_year.iter().filter(|l| **l).count() as u64;
        result.years += years as u64;
    }
    Ok(result)
}

/// Runs every policy over the same failure traces.
pub fn run(params: &StorageParams) -> Result<StorageResult, SimulationError> {
    params.check()?;
    let traces: Vec<_> = (0..params.runs)
        .map(|run| failure_trace(params, run))
        .collect();
    let count = |wanted: fn(&Failure, bool) -> bool| {
        traces
            .iter()
            .flatten()
            .filter(|(_, failure, destroys)| wanted(failure, *destroys))
            .count() as u64
    };
    let node_failures = count(|f, _| matches!(f, Failure::Node(_)));
    let datacenter_outages = count(|f, _| matches!(f, Failure::Outage(_)));
    let datacenters_destroyed = count(|f, d| matches!(f, Failure::Outage(_)) && d);
    let policies = params
        .policies
        .iter()
        .map(|policy| simulate_policy(params, policy, &traces))
        .collect::<Result<_, _>>()?;
    Ok(StorageResult {
        params: params.clone(),
        policies,
        node_failures,
        datacenter_outages,
        datacenters_destroyed,
    })
}

/// Writes CSV files, charts and the report section.
pub fn write(result: &StorageResult, out: &mut Outputs) -> Result<(), SimulationError> {
    let p = &result.params;
    out.text(&format!(
        "Seed {}; {} datacenters × {} nodes, {} objects of {} GiB, {} runs of {} years (every policy sees the same failure trace). Node MTTF {} years (data destroyed; replaced empty after a mean {} h); shard rebuild after a mean {} h; each datacenter fails every {} years on average for a mean {} h, destroying its disks with probability {}. Over all runs: {} node failures, {} datacenter outages, {} datacenters destroyed. Placement: the chain's `chain::domains::storage::placement` (rendezvous ranking, per-datacenter cap from each policy's tolerance of one datacenter plus the nodes its parity leaves; `rebalance` picks the node a lost shard is rebuilt on).",
        p.seed,
        p.datacenters,
        p.nodes_per_datacenter,
        p.objects,
        p.object_gib,
        p.runs,
        p.years,
        p.node_mttf_years,
        p.node_replace_hours,
        p.repair_hours,
        p.datacenter_mtbf_years,
        p.datacenter_outage_hours,
        p.datacenter_destroy_probability,
        result.node_failures,
        result.datacenter_outages,
        result.datacenters_destroyed
    ));
    let mut table = Table::new(&[
        "policy",
        "overhead",
        "lost_objects",
        "years_with_loss",
        "loss_probability_per_year",
        "lost_objects_per_million_per_year",
        "repair_gib_per_year",
        "shards_repaired",
        "unavailable_object_hours",
    ]);
    let mut points = Vec::new();
    for policy in &result.policies {
        let years = policy.years.max(1) as f64;
        let probability = policy.years_with_loss as f64 / years;
        table.push(vec![
            policy.policy.name(),
            fixed(policy.policy.overhead(), 2),
            policy.lost_objects.to_string(),
            policy.years_with_loss.to_string(),
            fixed(probability, 4),
            fixed(
                policy.lost_objects as f64 / p.objects as f64 * 1e6 / years,
                1,
            ),
            fixed(policy.repair_gib / years, 1),
            policy.shards_repaired.to_string(),
            fixed(policy.unavailable_object_hours, 1),
        ]);
        points.push((policy.policy.overhead(), probability));
    }
    out.csv("storage_policies", &table)?;
    out.text(&table.to_markdown());
    let zero_bound = 3.0 / result.policies.first().map_or(1, |p| p.years.max(1)) as f64;
    out.text(&format!(
        "A policy with no loss year in {} run-years has a loss probability per year below {} (95 % upper bound, rule of three) under these rates.",
        result.policies.first().map_or(0, |p| p.years),
        fixed(zero_bound, 3)
    ));
    out.chart(
        "storage_policies",
        &Chart {
            title: "Storage overhead against yearly loss probability".to_owned(),
            x_label: "storage overhead (stored / object bytes)".to_owned(),
            y_label: "share of years with a lost object".to_owned(),
            series: result
                .policies
                .iter()
                .zip(&points)
                .map(|(policy, point)| Series::points(policy.policy.name(), vec![*point]))
                .collect(),
            x_log: false,
            y_log: false,
            y_range: Some((-0.05, 1.05)),
        },
        "Each policy's storage overhead against the share of simulated years in which it lost at least one object.",
    )?;
    out.chart(
        "storage_repair",
        &Chart {
            title: "Repair traffic per year".to_owned(),
            x_label: "storage overhead (stored / object bytes)".to_owned(),
            y_label: "GiB read for repairs per year".to_owned(),
            series: result
                .policies
                .iter()
                .map(|policy| {
                    Series::points(
                        policy.policy.name(),
                        vec![(
                            policy.policy.overhead(),
                            policy.repair_gib / policy.years.max(1) as f64,
                        )],
                    )
                })
                .collect(),
            x_log: false,
            y_log: false,
            y_range: None,
        },
        "Repair traffic: each rebuilt shard reads k shards (one object's worth) for Reed–Solomon, one replica for replication.",
    )?;
    Ok(())
}
