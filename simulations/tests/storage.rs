#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

//! The storage simulation: a policy that tolerates the simulated failures
//! loses nothing, one that tolerates none loses objects under the same
//! trace, and repairs read one object's worth per rebuilt shard. Placement
//! is the chain's own function.

use simulations::storage::{Policy, StorageParams, erasure_policy, run};

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
fn policies_map_to_the_chains_tolerances() {
    let replication = erasure_policy(&Policy { data: 1, parity: 2 }, 8).unwrap();
    assert_eq!(replication.max_shards_per_domain(), 1);
    let wide = erasure_policy(
        &Policy {
            data: 10,
            parity: 4,
        },
        8,
    )
    .unwrap();
    assert_eq!(wide.max_shards_per_domain(), 2);
    assert_eq!(wide.tolerance.domains, 1);
    // Not enough parity for a whole datacenter's shards: nodes only.
    let thin = erasure_policy(&Policy { data: 8, parity: 0 }, 8).unwrap();
    assert_eq!(thin.tolerance.domains, 0);
    let params = StorageParams {
        policies: vec![Policy {
            data: 40,
            parity: 40,
        }],
        ..StorageParams::short(1)
    };
    assert!(
        run(&params).is_err(),
        "a policy with 80 shards on 96 nodes was accepted"
    );
}
