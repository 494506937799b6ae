#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

//! The compute simulation with the chain's scheduler: no node is ever
//! overcommitted (the simulation fails if one is), utilisation follows the
//! offered load while it is low, and refusals appear only under overload,
//! first for the largest deployments.

use simulations::compute::{ComputeParams, run};

#[test]
fn scheduler_never_overcommits_and_utilisation_is_sane() {
    let params = ComputeParams::short(7);
    let result = run(&params).unwrap();
    let light = &result.loads[0];
    let heavy = &result.loads[1];
    assert!(light.load < 0.5 && heavy.load > 1.0);
    for load in &result.loads {
        assert!(
            load.peak_node_fill <= 1.0,
            "a node was filled to {}",
            load.peak_node_fill
        );
        for share in load.utilisation {
            assert!((0.0..=1.0).contains(&share), "utilisation {share}");
        }
    }
    assert!(
        (light.utilisation[0] - light.load).abs() < 0.1,
        "core utilisation {} at offered load {}",
        light.utilisation[0],
        light.load
    );
    assert!(light.refused_share() < 0.01, "{}", light.refused_share());
    assert!(heavy.refused_share() > 0.02, "{}", heavy.refused_share());
    assert!(heavy.utilisation[0] > light.utilisation[0] + 0.2);
    let refused = |index: usize| {
        let (arrived, refused) = heavy.per_class[index];
        refused as f64 / arrived.max(1) as f64
    };
    // Classes are listed smallest first.
    assert!(refused(params.classes.len() - 1) > refused(0));
}
