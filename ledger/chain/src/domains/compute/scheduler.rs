//! The compute scheduler: a pure, deterministic function from a deployment's
//! workloads and the nodes' capacity to a node per workload.
//!
//! The consensus module calls it when a deployment names no node and when
//! self-healing moves the workloads of a silent node; the wallet calls it to
//! preview a blueprint; the simulations call it to study packing. Everyone
//! gets the same answer from the same input, whatever order the nodes are
//! listed in.
//!
//! # Rules
//!
//! 1. A node is *eligible* for a workload when it is up, not excluded, in one
//!    of the allowed farms (if any are named), in the required country and
//!    city (if named), not already holding a workload of the same
//!    anti-affinity group of this deployment, and has free capacity
//!    (`total - used - placed by this call`) for the workload in every
//!    dimension. A workload pinned to a node is only ever placed there.
//! 2. Workloads are placed one at a time: pinned ones first, then the
//!    largest demand first (cores, then memory, then disk), ties by name.
//! 3. Among eligible nodes the one left with the most *headroom* wins: the
//!    smallest, over the three dimensions, of the free share remaining
//!    after placement, in parts per million (integer arithmetic, no
//!    floats). This spreads load. Equal headroom is broken by the lowest
//!    rank `H("blockstake/compute/scheduler-rank/v1" ‖ deployment ‖
//!    workload name ‖ node)`, a stable pseudo-random order per workload.
//! 4. The result never overcommits a node, or the call fails with a
//!    [`ScheduleError`] naming the workload and counting, per reason, the
//!    nodes that could not take it. Nothing is placed on failure.
//!
//! Greedy placement can refuse a set of workloads that some other
//! assignment would fit (bin packing is NP-hard); the refusal then says
//! which workload did not fit after the larger ones were placed.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use ledger::Hash32;
use ledger::crypto::hash::{HashTag, tagged_hash_parts};
use ledger::payload::compute::{DeploymentId, Location, Name, NodeId, ResourceKind, Resources};
use thiserror::Error;

/// Whether a node can take new workloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeStatus {
    /// Powered up (target and state) and reporting uptime.
    Up,
    /// Powered down, targeted down, or silent past the configured timeout.
    Down,
}

/// One node as the scheduler sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeCandidate {
    pub id: NodeId,
    pub farm: Name,
    pub location: Location,
    pub total: Resources,
    /// Capacity already reserved by other workloads (may exceed `total`
    /// after a capacity decrease; the node then has nothing free).
    pub used: Resources,
    pub status: NodeStatus,
}

impl NodeCandidate {
    /// Capacity not yet reserved.
    pub fn free(&self) -> Resources {
        self.total.saturating_sub(self.used)
    }
}

/// Where a deployment's workloads may go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Constraints {
    /// Allowed farms; empty means any farm.
    pub farms: BTreeSet<Name>,
    /// Required country (ISO 3166-1 alpha-2, lowercase).
    pub country: Option<String>,
    /// Required city (with or without a country).
    pub city: Option<Name>,
    /// Nodes never to use (e.g. the silent node being healed away from).
    pub exclude: BTreeSet<NodeId>,
}

/// One workload to place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadDemand {
    pub name: Name,
    pub resources: Resources,
    /// A node the workload must run on (the deployment named it).
    pub pinned: Option<NodeId>,
    /// Workloads of one deployment sharing a group never share a node.
    pub anti_affinity: Option<Name>,
}

/// A workload of the same deployment that already runs somewhere and stays
/// there: it counts for anti-affinity (its capacity is already in the
/// node's `used`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacedSibling {
    pub node: NodeId,
    pub anti_affinity: Option<Name>,
}

/// Everything the scheduler needs about one deployment.
#[derive(Debug, Clone, Copy)]
pub struct ScheduleRequest<'a> {
    pub deployment: DeploymentId,
    pub constraints: &'a Constraints,
    pub workloads: &'a [WorkloadDemand],
    pub placed: &'a [PlacedSibling],
}

/// The chosen node of every workload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schedule {
    pub placements: BTreeMap<Name, NodeId>,
}

/// How many nodes could not take a workload, by the first reason that
/// ruled each one out (in the order of the fields).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Refusals {
    pub down: usize,
    pub excluded: usize,
    pub other_farm: usize,
    pub other_location: usize,
    pub anti_affinity: usize,
    pub lacks_cores: usize,
    pub lacks_memory: usize,
    pub lacks_disk: usize,
}

impl Refusals {
    fn count(&mut self, reason: Ineligible) {
        match reason {
            Ineligible::Down => self.down += 1,
            Ineligible::Excluded => self.excluded += 1,
            Ineligible::OtherFarm => self.other_farm += 1,
            Ineligible::OtherLocation => self.other_location += 1,
            Ineligible::AntiAffinity => self.anti_affinity += 1,
            Ineligible::Lacks(ResourceKind::Cores) => self.lacks_cores += 1,
            Ineligible::Lacks(ResourceKind::Memory) => self.lacks_memory += 1,
            Ineligible::Lacks(ResourceKind::Disk) => self.lacks_disk += 1,
        }
    }

    /// Nodes counted in total.
    pub fn total(&self) -> usize {
        self.down
            + self.excluded
            + self.other_farm
            + self.other_location
            + self.anti_affinity
            + self.lacks_cores
            + self.lacks_memory
            + self.lacks_disk
    }
}

impl fmt::Display for Refusals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = [
            (self.down, "down"),
            (self.excluded, "excluded"),
            (self.other_farm, "in another farm"),
            (self.other_location, "in another location"),
            (self.anti_affinity, "already hold its anti-affinity group"),
            (self.lacks_cores, "lack cores"),
            (self.lacks_memory, "lack memory"),
            (self.lacks_disk, "lack disk"),
        ]
        .iter()
        .filter(|(count, _)| *count > 0)
        .map(|(count, reason)| format!("{count} {reason}"))
        .collect();
        if parts.is_empty() {
            f.write_str("no nodes are registered")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

/// Why a deployment cannot be scheduled. Nothing is placed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ScheduleError {
    #[error("workload {workload} ({demand}) fits no node: {refusals}")]
    NoNode {
        workload: Name,
        demand: Resources,
        refusals: Refusals,
    },
    #[error("workload {workload} is pinned to node {node}, which cannot take it: {refusals}")]
    PinnedNodeRefuses {
        workload: Name,
        node: NodeId,
        refusals: Refusals,
    },
    #[error("workload {workload} is pinned to node {node}, which is not registered")]
    UnknownPinnedNode { workload: Name, node: NodeId },
    #[error("workload {workload} is listed twice")]
    DuplicateWorkload { workload: Name },
    #[error("node {node} is listed twice among the candidates")]
    DuplicateNode { node: NodeId },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ineligible {
    Down,
    Excluded,
    OtherFarm,
    OtherLocation,
    AntiAffinity,
    Lacks(ResourceKind),
}

/// Places every workload of `request` on one of `nodes`, or explains why not.
pub fn schedule(
    request: &ScheduleRequest<'_>,
    nodes: &[NodeCandidate],
) -> Result<Schedule, ScheduleError> {
    let mut free: BTreeMap<NodeId, (Resources, &NodeCandidate)> = BTreeMap::new();
    for node in nodes {
        if free.insert(node.id, (node.free(), node)).is_some() {
            return Err(ScheduleError::DuplicateNode { node: node.id });
        }
    }
    let mut names = BTreeSet::new();
    for workload in request.workloads {
        if !names.insert(&workload.name) {
            return Err(ScheduleError::DuplicateWorkload {
                workload: workload.name.clone(),
            });
        }
    }
    // Anti-affinity groups already present on each node.
    let mut groups: BTreeSet<(NodeId, &Name)> = request
        .placed
        .iter()
        .filter_map(|sibling| sibling.anti_affinity.as_ref().map(|g| (sibling.node, g)))
        .collect();

    let mut order: Vec<&WorkloadDemand> = request.workloads.iter().collect();
    order.sort_by(|a, b| {
        b.pinned
            .is_some()
            .cmp(&a.pinned.is_some())
            .then_with(|| b.resources.cmp(&a.resources))
            .then_with(|| a.name.cmp(&b.name))
    });

    let mut schedule = Schedule::default();
    for workload in order {
        let check = |node: &NodeCandidate, available: &Resources| {
            eligibility(request.constraints, workload, node, available, &groups)
        };
        let chosen = if let Some(pinned) = workload.pinned {
            let Some((available, node)) = free.get(&pinned) else {
                return Err(ScheduleError::UnknownPinnedNode {
                    workload: workload.name.clone(),
                    node: pinned,
                });
            };
            if let Err(reason) = check(node, available) {
                let mut refusals = Refusals::default();
                refusals.count(reason);
                return Err(ScheduleError::PinnedNodeRefuses {
                    workload: workload.name.clone(),
                    node: pinned,
                    refusals,
                });
            }
            pinned
        } else {
            let mut refusals = Refusals::default();
            let mut best: Option<((u64, std::cmp::Reverse<Hash32>), NodeId)> = None;
            for (id, (available, node)) in &free {
                match check(node, available) {
                    Err(reason) => refusals.count(reason),
                    Ok(()) => {
                        let after = available.saturating_sub(workload.resources);
                        let key = (
                            headroom_ppm(&after, &node.total),
                            std::cmp::Reverse(rank(&request.deployment, &workload.name, id)),
                        );
                        if best.as_ref().is_none_or(|(best_key, _)| key > *best_key) {
                            best = Some((key, *id));
                        }
                    }
                }
            }
            match best {
                Some((_, id)) => id,
                None => {
                    return Err(ScheduleError::NoNode {
                        workload: workload.name.clone(),
                        demand: workload.resources,
                        refusals,
                    });
                }
            }
        };
        if let Some((available, _)) = free.get_mut(&chosen) {
            *available = available.saturating_sub(workload.resources);
        }
        if let Some(group) = &workload.anti_affinity {
            groups.insert((chosen, group));
        }
        schedule.placements.insert(workload.name.clone(), chosen);
    }
    Ok(schedule)
}

fn eligibility(
    constraints: &Constraints,
    workload: &WorkloadDemand,
    node: &NodeCandidate,
    available: &Resources,
    groups: &BTreeSet<(NodeId, &Name)>,
) -> Result<(), Ineligible> {
    if node.status != NodeStatus::Up {
        return Err(Ineligible::Down);
    }
    if constraints.exclude.contains(&node.id) {
        return Err(Ineligible::Excluded);
    }
    if !constraints.farms.is_empty() && !constraints.farms.contains(&node.farm) {
        return Err(Ineligible::OtherFarm);
    }
    let wrong_country = constraints
        .country
        .as_deref()
        .is_some_and(|country| node.location.country() != country);
    let wrong_city = constraints
        .city
        .as_ref()
        .is_some_and(|city| node.location.city() != city);
    if wrong_country || wrong_city {
        return Err(Ineligible::OtherLocation);
    }
    if let Some(group) = &workload.anti_affinity
        && groups.contains(&(node.id, group))
    {
        return Err(Ineligible::AntiAffinity);
    }
    match workload.resources.shortfall(available).first() {
        Some(kind) => Err(Ineligible::Lacks(*kind)),
        None => Ok(()),
    }
}

/// The smallest free share over the three dimensions, in parts per
/// million of the node's total. A dimension the node has none of counts as
/// fully free (the workload, having passed the fit check, needs none).
fn headroom_ppm(after: &Resources, total: &Resources) -> u64 {
    fn share(free: u64, total: u64) -> u64 {
        if total == 0 {
            return 1_000_000;
        }
        // free <= total, so the product fits in u128 and the result in u64.
        u64::try_from(u128::from(free) * 1_000_000 / u128::from(total)).unwrap_or(u64::MAX)
    }
    share(u64::from(after.cores), u64::from(total.cores))
        .min(share(after.memory_mib, total.memory_mib))
        .min(share(after.disk_gib, total.disk_gib))
}

/// The stable tie-break: lowest rank wins.
fn rank(deployment: &DeploymentId, workload: &Name, node: &NodeId) -> Hash32 {
    let name = workload.as_str().as_bytes();
    let length = (name.len() as u64).to_le_bytes();
    tagged_hash_parts(
        HashTag::ComputeSchedulerRank,
        &[deployment.0.as_bytes(), &length, name, node.0.as_bytes()],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn name(text: &str) -> Name {
        Name::new(text).unwrap()
    }

    fn node(byte: u8, farm: &str, city: &str, total: Resources) -> NodeCandidate {
        NodeCandidate {
            id: NodeId(Hash32([byte; 32])),
            farm: name(farm),
            location: Location::new("be", city).unwrap(),
            total,
            used: Resources::ZERO,
            status: NodeStatus::Up,
        }
    }

    fn vm(workload: &str, cores: u32, memory_mib: u64, disk_gib: u64) -> WorkloadDemand {
        WorkloadDemand {
            name: name(workload),
            resources: Resources::new(cores, memory_mib, disk_gib),
            pinned: None,
            anti_affinity: None,
        }
    }

    fn run(
        constraints: &Constraints,
        workloads: &[WorkloadDemand],
        nodes: &[NodeCandidate],
    ) -> Result<Schedule, ScheduleError> {
        schedule(
            &ScheduleRequest {
                deployment: DeploymentId(Hash32([7; 32])),
                constraints,
                workloads,
                placed: &[],
            },
            nodes,
        )
    }

    const BIG: Resources = Resources::new(8, 16_384, 200);

    #[test]
    fn spreads_to_the_node_with_most_headroom() {
        let mut busy = node(1, "farm", "ghent", BIG);
        busy.used = Resources::new(6, 1024, 10);
        let idle = node(2, "farm", "ghent", BIG);
        let schedule = run(
            &Constraints::default(),
            &[vm("a", 1, 512, 5)],
            &[busy, idle],
        )
        .unwrap();
        assert_eq!(schedule.placements[&name("a")], NodeId(Hash32([2; 32])));
    }

    #[test]
    fn refusal_counts_every_reason() {
        let mut down = node(1, "farm", "ghent", BIG);
        down.status = NodeStatus::Down;
        let other_farm = node(2, "elsewhere", "ghent", BIG);
        let other_city = node(3, "farm", "brussels", BIG);
        let small = node(4, "farm", "ghent", Resources::new(8, 512, 200));
        let excluded = node(5, "farm", "ghent", BIG);
        let constraints = Constraints {
            farms: [name("farm")].into(),
            city: Some(name("ghent")),
            exclude: [excluded.id].into(),
            ..Constraints::default()
        };
        let error = run(
            &constraints,
            &[vm("db", 2, 4096, 20)],
            &[down, other_farm, other_city, small, excluded],
        )
        .unwrap_err();
        let ScheduleError::NoNode { refusals, .. } = &error else {
            panic!("{error}");
        };
        assert_eq!(
            *refusals,
            Refusals {
                down: 1,
                excluded: 1,
                other_farm: 1,
                other_location: 1,
                lacks_memory: 1,
                ..Refusals::default()
            }
        );
        assert_eq!(
            error.to_string(),
            "workload db (2 cores, 4096 MiB memory, 20 GiB disk) fits no node: 1 down, 1 excluded, \
             1 in another farm, 1 in another location, 1 lack memory"
        );
        assert_eq!(
            run(&constraints, &[vm("db", 1, 1, 1)], &[])
                .unwrap_err()
                .to_string(),
            "workload db (1 cores, 1 MiB memory, 1 GiB disk) fits no node: no nodes are registered"
        );
    }

    #[test]
    fn anti_affinity_spreads_a_group_and_refuses_when_nodes_run_out() {
        let nodes = [node(1, "farm", "ghent", BIG), node(2, "farm", "ghent", BIG)];
        let mut web = vec![vm("web-1", 1, 256, 1), vm("web-2", 1, 256, 1)];
        for workload in &mut web {
            workload.anti_affinity = Some(name("web"));
        }
        let schedule = run(&Constraints::default(), &web, &nodes).unwrap();
        assert_ne!(
            schedule.placements[&name("web-1")],
            schedule.placements[&name("web-2")]
        );
        let mut third = vm("web-3", 1, 256, 1);
        third.anti_affinity = Some(name("web"));
        web.push(third);
        let error = run(&Constraints::default(), &web, &nodes).unwrap_err();
        assert!(
            matches!(&error, ScheduleError::NoNode { refusals, .. } if refusals.anti_affinity == 2),
            "{error}"
        );
        // A sibling that stays where it runs counts too.
        let placed = [PlacedSibling {
            node: nodes[0].id,
            anti_affinity: Some(name("web")),
        }];
        let healed = super::schedule(
            &ScheduleRequest {
                deployment: DeploymentId(Hash32([7; 32])),
                constraints: &Constraints::default(),
                workloads: &web[..1],
                placed: &placed,
            },
            &nodes,
        )
        .unwrap();
        assert_eq!(healed.placements[&name("web-1")], nodes[1].id);
    }

    #[test]
    fn pinned_workloads_go_where_named_or_are_refused() {
        let nodes = [
            node(1, "farm", "ghent", BIG),
            node(2, "farm", "ghent", Resources::new(1, 1024, 10)),
        ];
        let mut pinned = vm("db", 1, 1024, 10);
        pinned.pinned = Some(nodes[1].id);
        let schedule = run(
            &Constraints::default(),
            std::slice::from_ref(&pinned),
            &nodes,
        )
        .unwrap();
        assert_eq!(schedule.placements[&name("db")], nodes[1].id);
        pinned.resources.cores = 2;
        assert!(matches!(
            run(&Constraints::default(), std::slice::from_ref(&pinned), &nodes),
            Err(ScheduleError::PinnedNodeRefuses { refusals, .. }) if refusals.lacks_cores == 1
        ));
        pinned.pinned = Some(NodeId(Hash32([9; 32])));
        assert!(matches!(
            run(&Constraints::default(), &[pinned], &nodes),
            Err(ScheduleError::UnknownPinnedNode { .. })
        ));
    }

    #[test]
    fn duplicates_are_refused() {
        let nodes = [node(1, "farm", "ghent", BIG), node(1, "farm", "ghent", BIG)];
        assert!(matches!(
            run(&Constraints::default(), &[vm("a", 1, 1, 1)], &nodes),
            Err(ScheduleError::DuplicateNode { .. })
        ));
        assert!(matches!(
            run(
                &Constraints::default(),
                &[vm("a", 1, 1, 1), vm("a", 2, 1, 1)],
                &nodes[..1]
            ),
            Err(ScheduleError::DuplicateWorkload { .. })
        ));
    }

    #[test]
    fn larger_workloads_are_placed_first() {
        // One node with room for the big VM only if it goes first.
        let nodes = [node(1, "farm", "ghent", Resources::new(4, 4096, 40))];
        let schedule = run(
            &Constraints::default(),
            &[vm("small", 1, 1024, 10), vm("big", 3, 3072, 30)],
            &nodes,
        )
        .unwrap();
        assert_eq!(schedule.placements.len(), 2);
    }

    fn arb_node() -> impl Strategy<Value = NodeCandidate> {
        (
            any::<u8>(),
            0..3u8,
            0..2u8,
            (0..16u32, 0..16_384u64, 0..500u64),
            (0..16u32, 0..16_384u64, 0..500u64),
            prop::bool::weighted(0.85),
        )
            .prop_map(|(byte, farm, city, total, used, up)| NodeCandidate {
                id: NodeId(Hash32([byte; 32])),
                farm: name(&format!("farm-{farm}")),
                location: Location::new("be", ["ghent", "brussels"][usize::from(city)]).unwrap(),
                total: Resources::new(total.0, total.1, total.2),
                used: Resources::new(used.0, used.1, used.2),
                status: if up { NodeStatus::Up } else { NodeStatus::Down },
            })
    }

    fn arb_nodes() -> impl Strategy<Value = Vec<NodeCandidate>> {
        prop::collection::vec(arb_node(), 0..12).prop_map(|nodes| {
            let mut seen = BTreeSet::new();
            nodes.into_iter().filter(|n| seen.insert(n.id)).collect()
        })
    }

    fn arb_workloads() -> impl Strategy<Value = Vec<WorkloadDemand>> {
        prop::collection::vec(
            ((0..6u32, 0..6_000u64, 0..150u64), prop::option::of(0..2u8)),
            1..8,
        )
        .prop_map(|items| {
            items
                .into_iter()
                .enumerate()
                .map(|(index, ((cores, memory, disk), group))| WorkloadDemand {
                    name: name(&format!("vm-{index}")),
                    resources: Resources::new(cores, memory, disk),
                    pinned: None,
                    anti_affinity: group.map(|g| name(&format!("group-{g}"))),
                })
                .collect()
        })
    }

    fn arb_constraints() -> impl Strategy<Value = Constraints> {
        (prop::option::of(0..3u8), prop::option::of(0..2u8)).prop_map(|(farm, city)| Constraints {
            farms: farm
                .map(|f| name(&format!("farm-{f}")))
                .into_iter()
                .collect(),
            city: city.map(|c| name(["ghent", "brussels"][usize::from(c)])),
            ..Constraints::default()
        })
    }

    proptest! {
        #[test]
        fn placements_never_overcommit_and_honour_constraints(
            nodes in arb_nodes(),
            workloads in arb_workloads(),
            constraints in arb_constraints(),
        ) {
            let Ok(schedule) = run(&constraints, &workloads, &nodes) else {
                return Ok(());
            };
            prop_assert_eq!(schedule.placements.len(), workloads.len());
            let mut added: BTreeMap<NodeId, Resources> = BTreeMap::new();
            let mut groups = BTreeSet::new();
            for workload in &workloads {
                let chosen = schedule.placements[&workload.name];
                let node = nodes.iter().find(|n| n.id == chosen).unwrap();
                prop_assert_eq!(node.status, NodeStatus::Up);
                prop_assert!(constraints.farms.is_empty() || constraints.farms.contains(&node.farm));
                prop_assert!(constraints.city.as_ref().is_none_or(|c| node.location.city() == c));
                let sum = added.entry(chosen).or_default();
                *sum = sum.checked_add(workload.resources).unwrap();
                if let Some(group) = &workload.anti_affinity {
                    prop_assert!(groups.insert((chosen, group.clone())), "anti-affinity broken");
                }
            }
            for (id, sum) in added {
                let node = nodes.iter().find(|n| n.id == id).unwrap();
                prop_assert!(sum.fits_in(&node.free()), "node {} overcommitted", id);
            }
        }

        #[test]
        fn the_result_does_not_depend_on_node_order(
            nodes in arb_nodes(),
            workloads in arb_workloads(),
            constraints in arb_constraints(),
            rotation in 0..12usize,
        ) {
            let first = run(&constraints, &workloads, &nodes);
            let mut shuffled = nodes.clone();
            shuffled.reverse();
            if !shuffled.is_empty() {
                let by = rotation % shuffled.len();
                shuffled.rotate_left(by);
            }
            let mut reordered = workloads.clone();
            reordered.reverse();
            prop_assert_eq!(first, run(&constraints, &reordered, &shuffled));
        }

        #[test]
        fn a_single_workload_is_placed_whenever_some_node_can_take_it(
            nodes in arb_nodes(),
            workloads in arb_workloads(),
            constraints in arb_constraints(),
        ) {
            let workload = &workloads[..1];
            let fits_somewhere = nodes.iter().any(|node| {
                eligibility(&constraints, &workload[0], node, &node.free(), &BTreeSet::new()).is_ok()
            });
            let result = run(&constraints, workload, &nodes);
            prop_assert_eq!(fits_somewhere, result.is_ok(), "{:?}", result);
            if let Err(ScheduleError::NoNode { refusals, .. }) = result {
                prop_assert_eq!(refusals.total(), nodes.len());
            }
        }
    }
}
