//! Shard placement: which storage node holds which shard of an object, as
//! a pure, deterministic function of the object and the registered nodes.
//!
//! The wallet (where to upload), the repair service (where a lost shard
//! goes), the storage read model (desired placement, "what if datacenter D
//! is lost") and the simulations all call these functions, so they agree
//! without talking to each other.
//!
//! # How
//!
//! * **Rendezvous (HRW) ranking.** Every node gets a score
//!   `BLAKE2b(tag ‖ object ‖ node)`; nodes are ranked by score, highest
//!   first (ties, which need a hash collision, by node ID).
//! * **Eligibility (capacity-aware).** A node may receive a new shard when
//!   it is [`NodeState::Healthy`] and its free space holds one shard. A node
//!   that already holds one of the object's shards (see [`rebalance`]) may
//!   keep it unless it is [`NodeState::Leaving`] (a full or degraded node
//!   keeps serving what it has).
//! * **Failure-domain cap.** No failure domain at the policy's tolerance
//!   level holds more than [`ErasurePolicy::max_shards_per_domain`] shards
//!   and no node holds two, so losing the promised number of domains plus
//!   the promised number of further nodes loses at most `parity` shards.
//! * **Greedy selection.** Walk the ranking and take each eligible node
//!   whose domain is below its cap until `k + m` are taken. Per-domain caps
//!   with one shard per node form a (truncated partition) matroid, so the
//!   greedy set is the best-ranked feasible set, it exists exactly when
//!   `Σ_domains min(eligible nodes, cap) ≥ k + m` (otherwise
//!   [`PlacementError::NotEnoughDomains`] says by how much), and adding
//!   or removing one node exchanges at most one member of the set.
//! * **Stable shard indexes.** [`place`] gives shard `i` to the `i`-th
//!   selected node. [`rebalance`] keeps every shard whose holder is still
//!   selected and gives the freed indexes to the newly selected nodes, so
//!   adding a node moves at most one shard per object (and only onto the new
//!   node: on average `(k + m) / (N + 1)` of all shards, the rendezvous
//!   bound), and removing a node moves only the shards it held.
//!
//! Integer-only: no floating point, so every platform computes the same
//! placement. Capacity is a filter, not a weight (weighted rendezvous needs
//! logarithms; see docs/decisions.md).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use ledger::crypto::{HashTag, tagged_hash_parts};
use ledger::payload::storage::{
    DomainLevel, ErasurePolicy, FailureDomain, NodeState, ObjectId, PolicyError, StorageNodeId,
};
use thiserror::Error;

/// A registered storage node as placement sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacementNode {
    pub id: StorageNodeId,
    pub domain: FailureDomain,
    /// Free space the node last reported, in bytes.
    pub free_bytes: u64,
    pub state: NodeState,
}

/// The object to place: its ID (the rendezvous key), its policy and the
/// size of one shard on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlacementRequest {
    pub object: ObjectId,
    pub policy: ErasurePolicy,
    pub shard_bytes: u64,
}

/// Shard index → node; `shards.len() == k + m`, all nodes distinct.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub shards: Vec<StorageNodeId>,
}

impl Placement {
    /// How many shard indexes sit on a different node in `other`.
    pub fn moved_shards(&self, other: &Placement) -> usize {
        let common = self.shards.len().min(other.shards.len());
        let changed = self.shards[..common]
            .iter()
            .zip(&other.shards[..common])
            .filter(|(a, b)| a != b)
            .count();
        changed + self.shards.len().abs_diff(other.shards.len())
    }
}

/// Why no placement exists.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PlacementError {
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error("node {node} is listed twice")]
    DuplicateNode { node: StorageNodeId },
    #[error(
        "object {object} has {got} current shard locations; its policy {policy} has {expected} shards"
    )]
    CurrentLength {
        object: ObjectId,
        policy: ErasurePolicy,
        expected: usize,
        got: usize,
    },
    #[error(
        "policy {policy} allows at most {cap} shard{s} per {level}, so its {needed} shards need at least {min_domains} {level}s with {cap} eligible node{s} each; the {eligible_nodes} eligible nodes (healthy with {shard_bytes} bytes free, or already holding a shard) over {domains} {level}s give {slots} slots",
        s = if *cap == 1 { "" } else { "s" }
    )]
    NotEnoughDomains {
        policy: ErasurePolicy,
        level: DomainLevel,
        cap: usize,
        needed: usize,
        min_domains: usize,
        eligible_nodes: usize,
        domains: usize,
        slots: usize,
        shard_bytes: u64,
    },
}

/// The rendezvous score of `node` for `object` (higher ranks first).
pub fn rendezvous_score(object: &ObjectId, node: &StorageNodeId) -> u64 {
    let digest = tagged_hash_parts(
        HashTag::StoragePlacement,
        &[object.0.as_bytes(), node.0.as_bytes()],
    );
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest.as_bytes()[..8]);
    u64::from_be_bytes(first)
}

/// The shard size placement assumes for an object of `size` bytes coded
/// into `data_shards` data shards: `⌈size / k⌉`. The chain does not know
/// the client's file format (headers, frames, compression), so the read
/// model's desired placement, the repair service and the delegated-repair
/// rule all use this one figure for the "has room" test.
pub fn nominal_shard_bytes(size: u64, data_shards: u8) -> u64 {
    size.div_ceil(u64::from(data_shards.max(1)))
}

/// A fresh placement: shard `i` on the `i`-th selected node.
pub fn place(
    request: &PlacementRequest,
    nodes: &[PlacementNode],
) -> Result<Placement, PlacementError> {
    let selected = select(request, nodes, &BTreeSet::new())?;
    Ok(Placement { shards: selected })
}

/// The placement an object should move to from `current` (shard index →
/// its holder, `None` when lost): shards whose holder is still selected
/// stay; the others go to the newly selected nodes in rank order. A
/// holder may keep its shard while full or degraded, but not when leaving
/// or no longer registered (absent from `nodes`).
pub fn rebalance(
    request: &PlacementRequest,
    nodes: &[PlacementNode],
    current: &[Option<StorageNodeId>],
) -> Result<Placement, PlacementError> {
    let expected = request.policy.total_shards();
    if current.len() != expected {
        return Err(PlacementError::CurrentLength {
            object: request.object,
            policy: request.policy,
            expected,
            got: current.len(),
        });
    }
    let holders: BTreeSet<StorageNodeId> = current.iter().flatten().copied().collect();
    let selected = select(request, nodes, &holders)?;
    let selected_set: BTreeSet<StorageNodeId> = selected.iter().copied().collect();

    let mut shards: Vec<Option<StorageNodeId>> = vec![None; expected];
    let mut kept = BTreeSet::new();
    for (index, holder) in current.iter().enumerate() {
        if let Some(node) = holder
            && selected_set.contains(node)
            && kept.insert(*node)
        {
            shards[index] = Some(*node);
        }
    }
    let mut newcomers = selected.iter().filter(|node| !kept.contains(*node));
    let shards = shards
        .into_iter()
        .map(|slot| slot.or_else(|| newcomers.next().copied()))
        .collect::<Option<Vec<_>>>()
        .expect("select returns exactly one node per shard index, distinct");
    Ok(Placement { shards })
}

/// Where a repair of the `lost` shards (indexes) goes: [`rebalance`] with
/// those shards' holders treated as gone (left out of `nodes`, their
/// slots empty), so a node that stopped answering is not chosen again.
/// The delegated-repair rule and the repair service both call this, so a
/// repairer decides *which* shards to move, never *where*.
pub fn repair_targets(
    request: &PlacementRequest,
    nodes: &[PlacementNode],
    current: &[StorageNodeId],
    lost: &BTreeSet<usize>,
) -> Result<Placement, PlacementError> {
    let gone: BTreeSet<StorageNodeId> = lost
        .iter()
        .filter_map(|index| current.get(*index).copied())
        .collect();
    let nodes: Vec<PlacementNode> = nodes
        .iter()
        .filter(|node| !gone.contains(&node.id))
        .cloned()
        .collect();
    let current: Vec<Option<StorageNodeId>> = current
        .iter()
        .enumerate()
        .map(|(index, node)| (!lost.contains(&index)).then_some(*node))
        .collect();
    rebalance(request, &nodes, &current)
}

/// The `k + m` best-ranked nodes that respect eligibility and the
/// per-domain cap, in rank order. `holders` may keep their shards even
/// when they could not take a new one.
fn select(
    request: &PlacementRequest,
    nodes: &[PlacementNode],
    holders: &BTreeSet<StorageNodeId>,
) -> Result<Vec<StorageNodeId>, PlacementError> {
    let policy = request.policy;
    policy.validate()?;
    let mut seen = BTreeSet::new();
    for node in nodes {
        if !seen.insert(node.id) {
            return Err(PlacementError::DuplicateNode { node: node.id });
        }
    }
    let level = policy.tolerance.level;
    let cap = policy.max_shards_per_domain();
    let needed = policy.total_shards();

    let mut eligible: Vec<(u64, StorageNodeId, String)> = nodes
        .iter()
        .filter(|node| {
            let fits = node.state.accepts_new_shards() && node.free_bytes >= request.shard_bytes;
            let keeps = holders.contains(&node.id) && node.state.keeps_shards();
            fits || keeps
        })
        .map(|node| {
            (
                rendezvous_score(&request.object, &node.id),
                node.id,
                node.domain.prefix(level),
            )
        })
        .collect();
    eligible.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));

    let mut per_domain: HashMap<&str, usize> = HashMap::new();
    let mut selected = Vec::with_capacity(needed);
    for (_, id, domain) in &eligible {
        if selected.len() == needed {
            break;
        }
        let count = per_domain.entry(domain.as_str()).or_insert(0);
        if *count < cap {
            *count += 1;
            selected.push(*id);
        }
    }
    if selected.len() < needed {
        let mut nodes_per_domain: BTreeMap<&str, usize> = BTreeMap::new();
        for (_, _, domain) in &eligible {
            *nodes_per_domain.entry(domain.as_str()).or_insert(0) += 1;
        }
        return Err(PlacementError::NotEnoughDomains {
            policy,
            level,
            cap,
            needed,
            min_domains: needed.div_ceil(cap.max(1)),
            eligible_nodes: eligible.len(),
            domains: nodes_per_domain.len(),
            slots: nodes_per_domain.values().map(|n| (*n).min(cap)).sum(),
            shard_bytes: request.shard_bytes,
        });
    }
    Ok(selected)
}

/// Why a set of shard locations breaks its policy's promise.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ToleranceViolation {
    #[error("node {node} holds shards {first} and {second}")]
    SharedNode {
        node: StorageNodeId,
        first: usize,
        second: usize,
    },
    #[error("shard {index} is on node {node}, which is not registered")]
    UnknownNode { index: usize, node: StorageNodeId },
    #[error(
        "losing the {domains} fullest {level}s ({worst}) plus {nodes} more nodes loses {lost} shards; policy {policy} has only {parity} parity shards"
    )]
    TooConcentrated {
        policy: ErasurePolicy,
        level: DomainLevel,
        domains: u8,
        nodes: u8,
        worst: String,
        lost: usize,
        parity: u8,
    },
}

/// Checks that `shards` (index → holder, `None` = lost) keep `policy`'s
/// promise: losing any `domains` failure domains plus any `nodes` more
/// nodes leaves at least `k` shards. A lost shard counts as already lost.
pub fn check_tolerance(
    policy: &ErasurePolicy,
    shards: &[Option<StorageNodeId>],
    nodes: &[PlacementNode],
) -> Result<(), ToleranceViolation> {
    let by_id: HashMap<StorageNodeId, &PlacementNode> =
        nodes.iter().map(|node| (node.id, node)).collect();
    let level = policy.tolerance.level;
    let mut first_index: HashMap<StorageNodeId, usize> = HashMap::new();
    let mut per_domain: BTreeMap<String, usize> = BTreeMap::new();
    let mut missing = policy.total_shards().saturating_sub(shards.len());
    for (index, holder) in shards.iter().enumerate() {
        let Some(node_id) = holder else {
            missing += 1;
            continue;
        };
        if let Some(first) = first_index.insert(*node_id, index) {
            return Err(ToleranceViolation::SharedNode {
                node: *node_id,
                first,
                second: index,
            });
        }
        let node = by_id.get(node_id).ok_or(ToleranceViolation::UnknownNode {
            index,
            node: *node_id,
        })?;
        *per_domain.entry(node.domain.prefix(level)).or_insert(0) += 1;
    }
    let mut counts: Vec<(usize, String)> = per_domain
        .into_iter()
        .map(|(domain, count)| (count, domain))
        .collect();
    counts.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let domains = policy.tolerance.domains;
    let worst: Vec<&(usize, String)> = counts.iter().take(usize::from(domains)).collect();
    let in_worst: usize = worst.iter().map(|(count, _)| count).sum();
    let placed = shards.iter().flatten().count();
    let lost = (missing + in_worst + usize::from(policy.tolerance.nodes))
        .min(missing + placed)
        .min(policy.total_shards());
    if lost > usize::from(policy.parity_shards) {
        return Err(ToleranceViolation::TooConcentrated {
            policy: *policy,
            level,
            domains,
            nodes: policy.tolerance.nodes,
            worst: worst
                .iter()
                .map(|(count, domain)| format!("{domain}: {count}"))
                .collect::<Vec<_>>()
                .join(", "),
            lost,
            parity: policy.parity_shards,
        });
    }
    Ok(())
}

/// How many of `shards` survive losing every node in failure domain
/// `domain` (a prefix at `level`, e.g. `eu/ams-1` for a datacenter) — the
/// "what if datacenter D is lost" question. Unknown nodes count as lost.
pub fn surviving_shards(
    shards: &[Option<StorageNodeId>],
    nodes: &[PlacementNode],
    level: DomainLevel,
    domain: &str,
) -> usize {
    let by_id: HashMap<StorageNodeId, &PlacementNode> =
        nodes.iter().map(|node| (node.id, node)).collect();
    shards
        .iter()
        .flatten()
        .filter(|id| {
            by_id
                .get(id)
                .is_some_and(|node| node.domain.prefix(level) != domain)
        })
        .count()
}

#[cfg(test)]
mod tests;
