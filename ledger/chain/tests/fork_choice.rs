//! Fork choice through the block tree: the heavier branch wins and the
//! state equals a replay of it from genesis; equal work keeps the first
//! seen; a double spend across competing branches; an invalid block in a
//! heavier branch restores the previous chain exactly; reorgs deeper than
//! the finality depth are refused; orphans connect when their parent
//! arrives; near-future blocks are parked, far-future ones refused.

mod common;

use std::sync::Arc;

use chain::config::ChainConfig;
use chain::validation::{BlockRuleError, TransactionRuleError};
use chain::{AcceptOutcome, ChainError, Direction};
use common::{FEE, Net, coins, config_with, key};
use ledger::{Block, BlockHeight, Condition, Timestamp};

/// No retarget during these tests (window far away) and every try wins,
/// so every block weighs the same.
fn flat_config(finality: &str) -> Arc<ChainConfig> {
    config_with(
        &[
            ("initial_target", &format!("\"{}\"", "f".repeat(64))),
            ("target_window", "100000"),
            ("finality_depth", finality),
        ],
        false,
    )
}

fn main_chain_blocks(net: &Net) -> Vec<Block> {
    (1..=net.chain.height().0)
        .map(|height| {
            let id = net.chain.main_chain_id(BlockHeight(height)).expect("main");
            net.chain.block(&id).expect("store").expect("stored")
        })
        .collect()
}

/// Two nets sharing `common` blocks.
fn forked(config: Arc<ChainConfig>, common: usize) -> (Net, Net) {
    let mut a = Net::new(config.clone());
    let mut b = Net::new(config);
    for _ in 0..common {
        let block = a.mine(Vec::new());
        b.accept(block).expect("shared block");
    }
    (a, b)
}

#[test]
fn heavier_branch_wins_and_equals_a_replay_equal_work_keeps_first_seen() {
    let (mut a, mut b) = forked(flat_config("20"), 3);
    // The same coin output spent differently on each branch.
    let to_x = a.transfer(
        &key(4),
        Condition::for_public_key(&key(7).public_key()),
        coins(5),
        FEE,
    );
    let to_y = b.transfer(
        &key(4),
        Condition::for_public_key(&key(8).public_key()),
        coins(6),
        FEE,
    );
    assert_eq!(to_x.coin_inputs[0].parent_id, to_y.coin_inputs[0].parent_id);
    let a1 = a.mine(vec![to_x.clone()]);
    let a2 = a.mine(Vec::new());
    let b_blocks: Vec<Block> = vec![b.mine(vec![to_y]), b.mine(Vec::new()), b.mine(Vec::new())];

    let before = a.chain.state().commitment();
    assert!(
        a.accept(b_blocks[0].clone())
            .expect("side block")
            .is_empty()
    );
    // Equal work: the first seen branch stays.
    assert!(
        a.accept(b_blocks[1].clone())
            .expect("side block")
            .is_empty()
    );
    assert_eq!(a.chain.tip().id, a2.id());
    assert_eq!(a.chain.state().commitment(), before);

    // One block more: the branch out-weighs the tip and wins.
    let update = a.accept(b_blocks[2].clone()).expect("reorg");
    assert_eq!(update.reverted, vec![a2.id(), a1.id()]);
    assert_eq!(
        update.applied,
        b_blocks.iter().map(Block::id).collect::<Vec<_>>()
    );
    let first = update.events.first().expect("events");
    assert_eq!((first.direction, first.block), (Direction::Revert, a2.id()));
    let last = update.events.last().expect("events");
    assert_eq!(
        (last.direction, last.block),
        (Direction::Apply, b_blocks[2].id())
    );
    assert_eq!(a.chain.tip().id, b.chain.tip().id);
    assert_eq!(a.chain.state().commitment(), b.chain.state().commitment());

    // Replaying the winning chain from genesis gives the same state.
    let mut replay = Net::new(a.chain.config().clone());
    for block in main_chain_blocks(&b) {
        replay.accept(block).expect("replay");
    }
    assert_eq!(
        replay.chain.state().commitment(),
        a.chain.state().commitment()
    );

    // The other branch's spend is now a double spend.
    let block = a.next_block(vec![to_x]);
    match a.accept(block) {
        Err(ChainError::Rules { source, .. }) => assert!(matches!(
            *source,
            BlockRuleError::Transaction { ref source, .. }
                if matches!(**source, TransactionRuleError::UnknownCoinOutput { .. })
        )),
        other => panic!("double spend not refused: {other:?}"),
    }
}

#[test]
fn invalid_block_in_heavier_branch_restores_the_previous_chain() {
    let (mut a, mut b) = forked(flat_config("20"), 2);
    a.mine(Vec::new());
    let before = a.chain.state().commitment();
    let tip = a.chain.tip().id;
    let diverge = b.transfer(
        &key(4),
        Condition::for_public_key(&key(9).public_key()),
        coins(1),
        FEE,
    );
    let b1 = b.mine(vec![diverge]);
    let mut bad = b.transfer(
        &key(1),
        Condition::for_public_key(&key(9).public_key()),
        coins(1),
        FEE,
    );
    bad.coin_outputs[0].value = coins(2);
    common::sign_coin_inputs(&mut bad, &b.params(), &key(1));
    let b2 = b.next_block(vec![bad]);

    assert!(a.accept(b1.clone()).expect("side").is_empty());
    let error = a.accept(b2.clone()).expect_err("invalid branch");
    assert!(matches!(error, ChainError::Rules { id, .. } if id == b2.id()));
    assert_eq!(a.chain.tip().id, tip);
    assert_eq!(a.chain.state().commitment(), before);
    assert!(a.chain.is_known_invalid(&b2.id()));
    assert!(!a.chain.is_known_invalid(&b1.id()));
    assert!(matches!(
        a.chain.accept_block(b2),
        Err(ChainError::KnownInvalid { .. })
    ));
}

#[test]
fn reorg_deeper_than_finality_is_refused() {
    let (mut a, mut b) = forked(flat_config("3"), 1);
    for _ in 0..4 {
        a.mine(Vec::new());
    }
    let tip = a.chain.tip().id;
    let before = a.chain.state().commitment();
    // Make b's branch differ: spend coins in its first block.
    let tx = b.transfer(
        &key(4),
        Condition::for_public_key(&key(9).public_key()),
        coins(1),
        FEE,
    );
    let mut branch = vec![b.mine(vec![tx])];
    for _ in 0..4 {
        branch.push(b.mine(Vec::new()));
    }
    for block in &branch[..4] {
        assert!(a.accept(block.clone()).expect("side").is_empty());
    }
    let error = a.accept(branch[4].clone()).expect_err("too deep");
    assert!(matches!(
        error,
        ChainError::ReorgTooDeep {
            depth: 4,
            limit: 3,
            ..
        }
    ));
    assert_eq!(a.chain.tip().id, tip);
    assert_eq!(a.chain.state().commitment(), before);
}

#[test]
fn orphans_connect_when_the_parent_arrives() {
    let mut source = Net::new(flat_config("20"));
    let blocks: Vec<Block> = (0..4).map(|_| source.mine(Vec::new())).collect();
    let mut target = Net::new(source.chain.config().clone());
    target.clock.set(blocks[3].header.timestamp);
    for block in blocks[1..].iter().rev() {
        match target
            .chain
            .accept_block(block.clone())
            .expect("orphan kept")
        {
            AcceptOutcome::Orphan { missing_parent } => {
                assert_eq!(missing_parent, block.header.parent)
            }
            other => panic!("expected an orphan, got {other:?}"),
        }
    }
    assert_eq!(target.chain.orphan_count(), 3);
    match target
        .chain
        .accept_block(blocks[0].clone())
        .expect("connects")
    {
        AcceptOutcome::Connected {
            update,
            rejected_orphans,
        } => {
            assert!(rejected_orphans.is_empty());
            assert_eq!(
                update.applied,
                blocks.iter().map(Block::id).collect::<Vec<_>>()
            );
        }
        other => panic!("expected connection, got {other:?}"),
    }
    assert_eq!(target.chain.orphan_count(), 0);
    assert_eq!(
        target.chain.state().commitment(),
        source.chain.state().commitment()
    );
}

#[test]
fn future_blocks_are_parked_and_far_future_blocks_refused() {
    let mut net = Net::new(flat_config("20"));
    let block = net.next_block(Vec::new());
    let timestamp = block.header.timestamp;
    // future threshold 30 s, extreme 120 s in the test network.
    net.clock.set(Timestamp(timestamp.0 - 200));
    assert!(matches!(
        net.chain.accept_block(block.clone()),
        Err(ChainError::ExtremeFuture { .. })
    ));
    assert!(!net.chain.is_known_invalid(&block.id()));
    net.clock.set(Timestamp(timestamp.0 - 40));
    assert_eq!(
        net.chain.accept_block(block.clone()).expect("parked"),
        AcceptOutcome::Parked {
            retry_at: Timestamp(timestamp.0 - 30)
        }
    );
    assert!(net.chain.poll_parked().is_empty());
    net.clock.set(Timestamp(timestamp.0 - 30));
    let results = net.chain.poll_parked();
    assert_eq!(results.len(), 1);
    assert!(matches!(results[0].1, Ok(AcceptOutcome::Connected { .. })));
    assert_eq!(net.chain.tip().id, block.id());
}

#[test]
fn timestamp_before_the_median_is_refused() {
    let mut net = Net::new(flat_config("20"));
    for _ in 0..12 {
        net.mine(Vec::new());
    }
    let mut block = net.next_block(Vec::new());
    block.header.timestamp = Timestamp(net.chain.tip().timestamp.0 - 8);
    assert!(matches!(
        net.chain.accept_block(block),
        Err(ChainError::TimestampBeforeMedian { .. })
    ));
}

#[test]
fn timestamp_not_after_the_parent_is_refused() {
    let mut net = Net::new(flat_config("20"));
    for _ in 0..12 {
        net.mine(Vec::new());
    }
    let mut block = net.next_block(Vec::new());
    block.header.timestamp = net.chain.tip().timestamp;
    let id = block.id();
    assert!(matches!(
        net.chain.accept_block(block.clone()),
        Err(ChainError::TimestampNotAfterParent { .. })
    ));
    assert!(matches!(
        net.chain.accept_block(block),
        Err(ChainError::KnownInvalid { id: known }) if known == id
    ));
}
