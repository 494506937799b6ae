//! Fairness and retarget simulation: three stakers holding 50/30/20 % of
//! the stake create blocks through the real chain (signed respends,
//! stateful validation, fork choice) on a manual clock.
//!
//! * Each staker's share of blocks is within ±2 percentage points of its
//!   share of the stake.
//! * Once retargeting has settled, the mean block time is within ±5 % of
//!   the target.
//! * When the 50 % staker goes offline, the mean block time over the third
//!   retarget window after the drop is back within ±10 % of the target.
//!
//! `SIMULATION_BLOCKS` overrides the number of blocks (default 20,000).

mod common;

use std::time::Instant;

use chain::creator::{build_block, find_winning_timestamp};
use common::{Net, config_with};
use ledger::{BlockStakePosition, Timestamp};

const FREQUENCY: u64 = 10;
const WINDOW: u64 = 1000;

struct Run {
    winners: Vec<usize>,
    times: Vec<u64>,
}

/// Creates `count` blocks with the stakers in `online`; ties in the same
/// second go to the staker first in an order rotated by height.
fn run(net: &mut Net, count: usize, online: &[bool; 3], run: &mut Run) {
    for _ in 0..count {
        let height = net.chain.height().0 as usize;
        let mut positions: Vec<(BlockStakePosition, usize)> = net
            .stake_positions()
            .into_iter()
            .filter(|(_, staker)| online[*staker])
            .collect();
        let count = positions.len();
        positions.rotate_left(height % count);
        let only: Vec<BlockStakePosition> = positions.iter().map(|(p, _)| *p).collect();
        let tip_time = net.chain.tip().timestamp;
        let from = Timestamp(tip_time.0 + 1);
        let (timestamp, position) =
            find_winning_timestamp(&net.chain, &only, from, Timestamp(from.0 + 100_000))
                .expect("a stake wins");
        let staker = positions
            .iter()
            .find(|(p, _)| *p == position)
            .map(|(_, s)| *s)
            .expect("ours");
        let block = build_block(
            &net.chain,
            &net.stakers[staker],
            position,
            timestamp,
            Vec::new(),
        )
        .expect("builds");
        net.accept(block).expect("valid");
        run.winners.push(staker);
        run.times.push(timestamp.0 - tip_time.0);
    }
}

fn mean(values: &[u64]) -> f64 {
    values.iter().sum::<u64>() as f64 / values.len() as f64
}

#[test]
fn fairness_and_retarget() {
    let blocks: usize = std::env::var("SIMULATION_BLOCKS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(20_000);
    let config = config_with(
        &[
            ("block_frequency", &FREQUENCY.to_string()),
            ("target_window", &WINDOW.to_string()),
            ("stake_modifier_delay", "20"),
        ],
        false,
    );
    let mut net = Net::new(config);
    let started = Instant::now();
    let mut all = Run {
        winners: Vec::new(),
        times: Vec::new(),
    };
    run(&mut net, blocks, &[true, true, true], &mut all);
    let elapsed = started.elapsed();

    let stake = [0.5, 0.3, 0.2];
    for (staker, expected) in stake.iter().enumerate() {
        let share = all.winners.iter().filter(|w| **w == staker).count() as f64 / blocks as f64;
        println!(
            "staker {staker}: {:.2} % of {blocks} blocks (stake {:.0} %)",
            share * 100.0,
            expected * 100.0
        );
        assert!(
            (share - expected).abs() <= 0.02,
            "staker {staker} created {:.2} % of blocks, stake {:.0} %",
            share * 100.0,
            expected * 100.0
        );
    }
    let settled = &all.times[(blocks / 10).max(5 * WINDOW as usize).min(blocks / 2)..];
    let settled_mean = mean(settled);
    println!(
        "{blocks} blocks in {elapsed:?}; settled mean block time {settled_mean:.3} s (target {FREQUENCY} s)"
    );
    assert!(
        (settled_mean - FREQUENCY as f64).abs() <= 0.05 * FREQUENCY as f64,
        "mean block time {settled_mean:.3} s is not within 5 % of {FREQUENCY} s"
    );

    // Half the stake goes offline.
    let mut offline = Run {
        winners: Vec::new(),
        times: Vec::new(),
    };
    let window = WINDOW as usize;
    run(&mut net, 3 * window, &[false, true, true], &mut offline);
    for (index, chunk) in offline.times.chunks(window).enumerate() {
        println!(
            "window {} after the drop: mean block time {:.3} s",
            index + 1,
            mean(chunk)
        );
    }
    let third = mean(&offline.times[2 * window..]);
    assert!(
        (third - FREQUENCY as f64).abs() <= 0.10 * FREQUENCY as f64,
        "third window after the drop: mean block time {third:.3} s is not within 10 % of {FREQUENCY} s"
    );
    assert!(offline.winners.iter().all(|w| *w != 0));
}
