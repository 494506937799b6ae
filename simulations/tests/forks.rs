#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

//! The forks simulation's short run: nodes with their own real chains
//! fork more when blocks propagate slower, converge, and never reorganise
//! beyond the finality depth.

use simulations::forks::{ForkParams, run};

#[test]
fn fork_rate_grows_with_delay() {
    let params = ForkParams::short(7);
    let started = std::time::Instant::now();
    let result = run(&params).unwrap();
    eprintln!("{:?}", started.elapsed());
    for cell in &result.cells {
        eprintln!(
            "{} {} created {} main {} rate {} reorgs {:?}",
            cell.frequency,
            cell.delay_ms,
            cell.created,
            cell.on_main,
            cell.fork_rate(),
            cell.reorgs
        );
    }
    let fast = &result.cells[0];
    let slow = &result.cells[1];
    assert!(fast.delay_ms < slow.delay_ms);
    assert_eq!(fast.created, params.blocks as u64);
    assert!(
        slow.fork_rate() > fast.fork_rate() + 0.05,
        "fork rate {} at {} ms is not above {} at {} ms",
        slow.fork_rate(),
        slow.delay_ms,
        fast.fork_rate(),
        fast.delay_ms
    );
    assert!(!slow.reorgs.is_empty());
    for cell in &result.cells {
        if cell.delay_ms < cell.frequency * 1000 / 2 {
            assert!(cell.on_main > cell.created / 2);
        }
        assert_eq!(cell.refused_too_deep, 0);
        assert!(cell.max_reorg() <= cell.finality_depth);
    }
}
