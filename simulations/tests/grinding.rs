#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

//! The grinding simulation's short run on the real chain: an honest
//! attacker gets its stake share, splitting stake gains nothing, choosing
//! timestamps within the window the rules allow gains no more than the
//! few seconds of `future_threshold` are worth, and the aging rule is
//! what stops moving stake to a chosen position.

use chain::config::ChainConfig;
use simulations::grinding::{GrindingParams, Strategy, run};

#[test]
fn timestamp_window_is_bounded_splitting_gains_nothing_and_aging_stops_repositioning() {
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
    // The window attacker tries `future_threshold` seconds more than the
    // honest stakers per block: at most a share of s(T + F) / (T + sF)
    // for block frequency T (with 20 %, 10 s and 2 s: 23 %). Before the
    // rules bounded the window (timestamps after the parent's, a
    // clock-skew-sized threshold) it took 65 % (simulations/README.md).
    let future = ChainConfig::shipped(&params.network)
        .unwrap()
        .consensus
        .future_threshold;
    let frequency = params.block_frequency as f64;
    let bound = share * (frequency + future as f64) / (frequency + share * future as f64);
    let window = result.find(Strategy::TimestampWindow, share, None).unwrap();
    assert!(
        window.attacker_share() <= bound + 4.0 * sigma,
        "timestamp window: {} of blocks for {share} of stake (bound {bound})",
        window.attacker_share()
    );
    assert!(
        window.max_lead <= future as i64,
        "the window attacker published {} s ahead (threshold {future} s)",
        window.max_lead
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
