#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

//! The grinding simulation's short run on the real chain: an honest
//! attacker gets its stake share, splitting stake gains nothing, choosing
//! timestamps within the window the rules allow gains a lot, and the aging
//! rule is what stops moving stake to a chosen position.

use simulations::grinding::{GrindingParams, Strategy, run};

#[test]
fn timestamp_window_gains_splitting_does_not_and_aging_stops_repositioning() {
    let params = GrindingParams::short(7);
    let result = run(&params).unwrap();
    let share = params.attacker_shares[0];
    // Binomial standard deviation of the attacker's block share.
    let sigma = (share * (1.0 - share) / params.blocks as f64).sqrt();
    let honest = result.find(Strategy::Honest, share, None).unwrap();
    assert!(
        (honest.attacker_share() - share).abs() <= 4.0 * sigma,
        "honest attacker: {} of blocks for {share} of stake",
        honest.attacker_share()
    );
    for split in &result.splits {
        assert!(
            (split.attacker_share() - share).abs() <= 4.0 * sigma,
            "{} outputs: {} of blocks for {share} of stake",
            split.outputs,
            split.attacker_share()
        );
    }
    let window = result.find(Strategy::TimestampWindow, share, None).unwrap();
    assert!(
        window.attacker_share() > share + 8.0 * sigma,
        "timestamp window: {} of blocks for {share} of stake",
        window.attacker_share()
    );
    assert!(
        window.max_lead > 0,
        "the window attacker never published ahead"
    );
    let aging_on = result.find(Strategy::Reposition, share, None).unwrap();
    let aging_off = result.find(Strategy::Reposition, share, Some(0)).unwrap();
    assert!(
        aging_on.attacker_share() <= share + 4.0 * sigma,
        "repositioning under the aging rule: {}",
        aging_on.attacker_share()
    );
    assert!(
        aging_off.attacker_share() > share + 8.0 * sigma,
        "repositioning without aging: {}",
        aging_off.attacker_share()
    );
}
