#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

//! The storage simulation: a policy that tolerates the simulated failures
//! loses nothing, one that tolerates none loses objects under the same
//! trace, repairs read one object's worth per rebuilt shard, and placement
//! spreads an object's shards over the datacenters.

use simulations::storage::{NodeView, Placement, Policy, Rendezvous, StorageParams, run};

#[test]
fn tolerant_policy_loses_nothing_and_fragile_one_does() {
    let params = StorageParams {
        // Node failures only, repaired quickly: RS(4,4) over 8 datacenters
        // would need 5 of an object's nodes to fail within hours.
        datacenter_destroy_probability: 0.0,
        repair_hours: 6.0,
        policies: vec![Policy { data: 4, parity: 4 }, Policy { data: 8, parity: 0 }],
        ..StorageParams::short(7)
    };
    let result = run(&params).unwrap();
    assert!(
        result.node_failures > 50,
        "{} node failures",
        result.node_failures
    );
    let tolerant = &result.policies[0];
    let fragile = &result.policies[1];
    assert_eq!(tolerant.lost_objects, 0);
    assert!(tolerant.shards_repaired > 0);
    assert!(
        (tolerant.repair_gib - tolerant.shards_repaired as f64 * params.object_gib).abs() < 1e-6
    );
    assert!(
        fragile.lost_objects > 0,
        "a policy without parity lost nothing"
    );
    assert_eq!(fragile.shards_repaired, 0);
}

#[test]
fn rendezvous_spreads_shards_over_datacenters() {
    let nodes: Vec<NodeView> = (0..96)
        .map(|index| NodeView {
            datacenter: index / 12,
            usable: index % 13 != 0,
        })
        .collect();
    let placement = Rendezvous {
        shards: 12,
        datacenters: 8,
    };
    for object in 0..200 {
        let chosen = placement.place(object, 12, &[], &nodes);
        assert_eq!(chosen.len(), 12);
        assert_eq!(chosen, placement.place(object, 12, &[], &nodes));
        let mut per_datacenter = [0; 8];
        for node in &chosen {
            assert!(nodes[*node].usable);
            per_datacenter[nodes[*node].datacenter] += 1;
        }
        assert!(
            per_datacenter.iter().all(|count| *count <= 2),
            "{per_datacenter:?}"
        );
        let mut distinct = chosen.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), 12);
    }
}
