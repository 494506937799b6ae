//! Placement: examples with exact answers, then properties over random
//! clusters (tolerance always holds, refusals are exact, adding a node
//! moves at most one shard per object and only onto it, removing a node
//! moves only its shards).

use ledger::Hash32;
use ledger::payload::storage::Tolerance;
use proptest::prelude::*;

use super::*;

fn node_id(n: u32) -> StorageNodeId {
    let mut bytes = [0u8; 32];
    bytes[..4].copy_from_slice(&n.to_be_bytes());
    bytes[31] = 0x5a;
    StorageNodeId(Hash32(bytes))
}

fn object_id(n: u32) -> ObjectId {
    let mut bytes = [0u8; 32];
    bytes[..4].copy_from_slice(&n.to_be_bytes());
    bytes[31] = 0xa5;
    ObjectId(Hash32(bytes))
}

fn node(n: u32, region: &str, datacenter: &str) -> PlacementNode {
    PlacementNode {
        id: node_id(n),
        domain: FailureDomain {
            region: region.to_string(),
            datacenter: datacenter.to_string(),
            farm: format!("farm-{n}"),
        },
        free_bytes: 1 << 40,
        state: NodeState::Healthy,
    }
}

/// `datacenters` × `per_datacenter` healthy nodes, numbered from 0.
fn cluster(datacenters: u32, per_datacenter: u32) -> Vec<PlacementNode> {
    (0..datacenters * per_datacenter)
        .map(|n| node(n, "eu", &format!("dc{}", n / per_datacenter)))
        .collect()
}

fn policy(k: u8, m: u8, domains: u8, nodes: u8) -> ErasurePolicy {
    ErasurePolicy {
        data_shards: k,
        parity_shards: m,
        tolerance: Tolerance {
            level: DomainLevel::Datacenter,
            domains,
            nodes,
        },
    }
}

fn request(object: u32, policy: ErasurePolicy) -> PlacementRequest {
    PlacementRequest {
        object: object_id(object),
        policy,
        shard_bytes: 1 << 20,
    }
}

fn located(placement: &Placement) -> Vec<Option<StorageNodeId>> {
    placement.shards.iter().copied().map(Some).collect()
}

#[test]
fn four_plus_two_over_three_datacenters_survives_any_one() {
    let nodes = cluster(3, 3);
    for object in 0..50 {
        let request = request(object, policy(4, 2, 1, 0));
        let placement = place(&request, &nodes).unwrap();
        assert_eq!(placement.shards.len(), 6);
        check_tolerance(&request.policy, &located(&placement), &nodes).unwrap();
        for datacenter in ["eu/dc0", "eu/dc1", "eu/dc2"] {
            let left = surviving_shards(
                &located(&placement),
                &nodes,
                DomainLevel::Datacenter,
                datacenter,
            );
            assert!(
                left >= 4,
                "object {object} keeps {left} shards without {datacenter}"
            );
        }
    }
}

#[test]
fn a_policy_the_nodes_cannot_honour_is_refused_with_the_reason() {
    let nodes = cluster(2, 3);
    let error = place(&request(1, policy(4, 2, 1, 0)), &nodes).unwrap_err();
    assert_eq!(
        error.to_string(),
        "policy 4+2 surviving 1 datacenter + 0 nodes allows at most 2 shards per datacenter, \
         so its 6 shards need at least 3 datacenters with 2 eligible nodes each; the 6 eligible \
         nodes (healthy with 1048576 bytes free, or already holding a shard) over 2 datacenters \
         give 4 slots"
    );
    let error = place(&request(1, policy(4, 2, 3, 0)), &nodes).unwrap_err();
    assert!(matches!(
        error,
        PlacementError::Policy(PolicyError::DomainsExceedParity { .. })
    ));
    let mut twice = cluster(3, 3);
    twice.push(twice[0].clone());
    assert_eq!(
        place(&request(1, policy(4, 2, 1, 0)), &twice),
        Err(PlacementError::DuplicateNode { node: node_id(0) })
    );
}

#[test]
fn full_degraded_and_leaving_nodes_get_no_new_shards_but_holders_keep_theirs() {
    // Four per datacenter: the three nodes taken out (at most two in one
    // datacenter) still leave two eligible nodes in every datacenter.
    let mut nodes = cluster(3, 4);
    let request = request(7, policy(4, 2, 1, 0));
    let before = place(&request, &nodes).unwrap();
    let full = before.shards[0];
    let degraded = before.shards[1];
    let leaving = before.shards[2];
    for node in &mut nodes {
        if node.id == full {
            node.state = NodeState::Full;
            node.free_bytes = 0;
        } else if node.id == degraded {
            node.state = NodeState::Degraded;
        } else if node.id == leaving {
            node.state = NodeState::Leaving;
        }
    }
    let fresh = place(&request, &nodes).unwrap();
    for id in [full, degraded, leaving] {
        assert!(!fresh.shards.contains(&id));
    }
    let after = rebalance(&request, &nodes, &located(&before)).unwrap();
    assert_eq!(after.shards[0], full);
    assert_eq!(after.shards[1], degraded);
    assert_ne!(after.shards[2], leaving);
    assert_eq!(before.moved_shards(&after), 1);
    check_tolerance(&request.policy, &located(&after), &nodes).unwrap();
}

#[test]
fn lost_shards_are_given_to_new_nodes_and_the_rest_stay() {
    let nodes = cluster(3, 4);
    let request = request(3, policy(4, 2, 1, 0));
    let before = place(&request, &nodes).unwrap();
    let mut current = located(&before);
    current[4] = None;
    let after = rebalance(&request, &nodes, &current).unwrap();
    // The holder of shard 4 is still registered and healthy: it is selected
    // again and gets its shard back (the repair rewrites it there).
    assert_eq!(after, before);
    assert!(matches!(
        rebalance(&request, &nodes, &current[..5]),
        Err(PlacementError::CurrentLength {
            expected: 6,
            got: 5,
            ..
        })
    ));
}

#[test]
fn concentrated_locations_break_the_promise() {
    let nodes = cluster(3, 3);
    let shards: Vec<Option<StorageNodeId>> = [0, 1, 2, 3, 6, 7].map(|n| Some(node_id(n))).into();
    let error = check_tolerance(&policy(4, 2, 1, 0), &shards, &nodes).unwrap_err();
    assert_eq!(
        error.to_string(),
        "losing the 1 fullest datacenters (eu/dc0: 3) plus 0 more nodes loses 3 shards; \
         policy 4+2 surviving 1 datacenter + 0 nodes has only 2 parity shards"
    );
    let shared: Vec<Option<StorageNodeId>> = [0, 0, 3, 4, 6, 7].map(|n| Some(node_id(n))).into();
    assert!(matches!(
        check_tolerance(&policy(4, 2, 1, 0), &shared, &nodes),
        Err(ToleranceViolation::SharedNode {
            first: 0,
            second: 1,
            ..
        })
    ));
    let unknown: Vec<Option<StorageNodeId>> = [0, 1, 3, 4, 6, 99].map(|n| Some(node_id(n))).into();
    assert!(matches!(
        check_tolerance(&policy(4, 2, 1, 0), &unknown, &nodes),
        Err(ToleranceViolation::UnknownNode { index: 5, .. })
    ));
    // Two shards already lost use up the parity: one more lost node is too many.
    let degraded: Vec<Option<StorageNodeId>> = vec![
        Some(node_id(0)),
        Some(node_id(3)),
        Some(node_id(4)),
        Some(node_id(6)),
        None,
        None,
    ];
    assert!(check_tolerance(&policy(4, 2, 0, 0), &degraded, &nodes).is_ok());
    assert!(check_tolerance(&policy(4, 2, 1, 0), &degraded, &nodes).is_err());
}

#[test]
fn the_input_order_of_nodes_does_not_matter() {
    let nodes = cluster(4, 3);
    let mut reversed = nodes.clone();
    reversed.reverse();
    for object in 0..20 {
        let request = request(object, policy(5, 3, 1, 1));
        assert_eq!(place(&request, &nodes), place(&request, &reversed));
    }
}

/// Over many objects the shards that move to an added node are about the
/// rendezvous share `(k + m) / (N + 1)` of the objects, never more than one
/// per object.
#[test]
fn adding_a_node_moves_about_the_rendezvous_share() {
    let nodes = cluster(3, 4);
    let mut grown = nodes.clone();
    grown.push(node(100, "eu", "dc1"));
    let objects = 3000;
    let mut moved = 0;
    for object in 0..objects {
        let request = request(object, policy(4, 2, 1, 0));
        let before = place(&request, &nodes).unwrap();
        let after = rebalance(&request, &grown, &located(&before)).unwrap();
        let here = before.moved_shards(&after);
        assert!(here <= 1);
        moved += here;
    }
    let share = objects as usize * 6 / 13;
    assert!(
        moved <= share * 5 / 4 && moved >= share * 3 / 4,
        "{moved} shards moved; the rendezvous share is {share}"
    );
}

fn arbitrary_cluster() -> impl Strategy<Value = Vec<PlacementNode>> {
    (1u32..=2, 1u32..=5, 1u32..=5)
        .prop_flat_map(|(regions, datacenters, per_datacenter)| {
            let count = (regions * datacenters * per_datacenter) as usize;
            (
                Just((regions, datacenters, per_datacenter)),
                proptest::collection::vec((0u8..10, 0u64..4), count),
            )
        })
        .prop_map(|((_, datacenters, per_datacenter), traits)| {
            traits
                .into_iter()
                .enumerate()
                .map(|(n, (state, free_mib))| {
                    let n = n as u32;
                    let datacenter = n / per_datacenter;
                    let mut node = node(
                        n,
                        &format!("r{}", datacenter / datacenters),
                        &format!("dc{}", datacenter % datacenters),
                    );
                    node.state = match state {
                        0 => NodeState::Degraded,
                        1 => NodeState::Full,
                        2 => NodeState::Leaving,
                        _ => NodeState::Healthy,
                    };
                    node.free_bytes = free_mib << 20;
                    node
                })
                .collect()
        })
}

fn arbitrary_policy() -> impl Strategy<Value = ErasurePolicy> {
    (1u8..=8, 0u8..=5, 0u8..=2, 0u8..=2, 0u8..3).prop_filter_map(
        "valid policies only",
        |(k, m, domains, nodes, level)| {
            let policy = ErasurePolicy {
                data_shards: k,
                parity_shards: m,
                tolerance: Tolerance {
                    level: [
                        DomainLevel::Region,
                        DomainLevel::Datacenter,
                        DomainLevel::Farm,
                    ][usize::from(level)],
                    domains,
                    nodes,
                },
            };
            policy.validate().ok().map(|()| policy)
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn every_placement_keeps_its_promise_and_every_refusal_is_exact(
        nodes in arbitrary_cluster(),
        policy in arbitrary_policy(),
        object in 0u32..1000,
    ) {
        let request = request(object, policy);
        let cap = policy.max_shards_per_domain();
        let mut eligible_per_domain: BTreeMap<String, usize> = BTreeMap::new();
        for node in &nodes {
            if node.state == NodeState::Healthy && node.free_bytes >= request.shard_bytes {
                *eligible_per_domain.entry(node.domain.prefix(policy.tolerance.level)).or_insert(0) += 1;
            }
        }
        let slots: usize = eligible_per_domain.values().map(|n| (*n).min(cap)).sum();
        match place(&request, &nodes) {
            Ok(placement) => {
                prop_assert!(slots >= policy.total_shards());
                prop_assert_eq!(placement.shards.len(), policy.total_shards());
                check_tolerance(&policy, &located(&placement), &nodes).unwrap();
                for id in &placement.shards {
                    let node = nodes.iter().find(|node| node.id == *id).unwrap();
                    prop_assert_eq!(node.state, NodeState::Healthy);
                    prop_assert!(node.free_bytes >= request.shard_bytes);
                }
            }
            Err(PlacementError::NotEnoughDomains { slots: reported, .. }) => {
                prop_assert!(slots < policy.total_shards());
                prop_assert_eq!(reported, slots);
            }
            Err(other) => prop_assert!(false, "unexpected error {other}"),
        }
    }

    #[test]
    fn adding_a_node_moves_at_most_one_shard_and_only_onto_it(
        nodes in arbitrary_cluster(),
        policy in arbitrary_policy(),
        object in 0u32..1000,
        datacenter in 0u32..6,
    ) {
        let request = request(object, policy);
        let Ok(before) = place(&request, &nodes) else { return Ok(()) };
        let added = node(10_000, "r0", &format!("dc{datacenter}"));
        let mut grown = nodes.clone();
        grown.push(added.clone());
        let after = rebalance(&request, &grown, &located(&before)).unwrap();
        prop_assert!(before.moved_shards(&after) <= 1);
        for (old, new) in before.shards.iter().zip(&after.shards) {
            if old != new {
                prop_assert_eq!(*new, added.id);
            }
        }
        check_tolerance(&policy, &located(&after), &grown).unwrap();
        // The same set a fresh placement would choose: rebalancing converges.
        let fresh: BTreeSet<_> = place(&request, &grown).unwrap().shards.into_iter().collect();
        let kept: BTreeSet<_> = after.shards.iter().copied().collect();
        prop_assert_eq!(fresh, kept);
    }

    #[test]
    fn removing_a_node_moves_only_its_shards(
        nodes in arbitrary_cluster(),
        policy in arbitrary_policy(),
        object in 0u32..1000,
        victim in 0usize..64,
    ) {
        let request = request(object, policy);
        let Ok(before) = place(&request, &nodes) else { return Ok(()) };
        let removed = before.shards[victim % before.shards.len()];
        let shrunk: Vec<PlacementNode> =
            nodes.iter().filter(|node| node.id != removed).cloned().collect();
        let mut current = located(&before);
        for slot in &mut current {
            if *slot == Some(removed) {
                *slot = None;
            }
        }
        match rebalance(&request, &shrunk, &current) {
            Ok(after) => {
                for (old, new) in before.shards.iter().zip(&after.shards) {
                    prop_assert!(old == new || *old == removed);
                }
                prop_assert_eq!(before.moved_shards(&after), 1);
                check_tolerance(&policy, &located(&after), &shrunk).unwrap();
            }
            Err(PlacementError::NotEnoughDomains { .. }) => {}
            Err(other) => prop_assert!(false, "unexpected error {other}"),
        }
    }
}
