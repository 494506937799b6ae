//! The transaction pool: chains of unconfirmed transactions, conflicts,
//! fee-rate ordering, size limits and eviction, expiry, and re-admission
//! of the transactions of reverted blocks.

mod common;

use chain::mempool::{Mempool, MempoolConfig, PoolError};
use chain::validation::TransactionRuleError;
use common::{FEE, Net, coins, config_with, key, sign_coin_inputs, test_config};
use ledger::crypto::SecretKey;
use ledger::{CoinInput, CoinOutput, CoinOutputId, Condition, Currency, Fulfillment, Transaction};

/// Splits seed 4's coins into `count` outputs of 10 coins (mined).
fn split(net: &mut Net, count: usize) -> Vec<CoinOutputId> {
    let owner = key(4);
    let (id, output) = net.coins_of(&owner).remove(0);
    let mut tx = Transaction {
        coin_inputs: vec![CoinInput {
            parent_id: id,
            fulfillment: Fulfillment::Nil,
        }],
        fee: FEE,
        ..Transaction::new()
    };
    for _ in 0..count {
        tx.coin_outputs.push(CoinOutput {
            value: coins(10),
            condition: Condition::for_public_key(&owner.public_key()),
        });
    }
    let spent = Currency(coins(10).0 * count as u128 + FEE.0);
    tx.coin_outputs.push(CoinOutput {
        value: output.value.checked_sub(spent).expect("enough"),
        condition: Condition::for_public_key(&owner.public_key()),
    });
    sign_coin_inputs(&mut tx, &net.params(), &owner);
    let txid = tx.id();
    net.mine(vec![tx]);
    (0..count as u64)
        .map(|index| CoinOutputId::for_transaction_output(&txid, index))
        .collect()
}

/// Spends `parent` (worth `value`, owned by `owner`) to `to` paying `fee`.
fn pay(
    net: &Net,
    parent: CoinOutputId,
    value: Currency,
    owner: &SecretKey,
    to: u8,
    fee: Currency,
) -> Transaction {
    let mut tx = Transaction {
        coin_inputs: vec![CoinInput {
            parent_id: parent,
            fulfillment: Fulfillment::Nil,
        }],
        coin_outputs: vec![CoinOutput {
            value: value.checked_sub(fee).expect("value above fee"),
            condition: Condition::for_public_key(&key(to).public_key()),
        }],
        fee,
        ..Transaction::new()
    };
    sign_coin_inputs(&mut tx, &net.params(), owner);
    tx
}

fn pool(net: &Net, max_bytes: u64) -> Mempool {
    Mempool::new(
        MempoolConfig {
            max_bytes,
            max_age: 3600,
        },
        &net.chain,
    )
}

#[test]
fn chains_of_unconfirmed_transactions_and_conflicts() {
    let mut net = Net::new(test_config());
    let outputs = split(&mut net, 2);
    let mut pool = pool(&net, 1_000_000);
    let parent = pay(&net, outputs[0], coins(10), &key(4), 7, FEE);
    let child_input = CoinOutputId::for_transaction_output(&parent.id(), 0);
    // The child pays a much better fee rate but must follow its parent.
    let child = pay(
        &net,
        child_input,
        Currency(coins(10).0 - FEE.0),
        &key(7),
        8,
        Currency(FEE.0 * 5),
    );
    let (parent_id, _) = pool.add(&net.chain, parent.clone()).expect("parent");
    let (child_id, _) = pool
        .add(&net.chain, child.clone())
        .expect("child of a pooled tx");
    assert_eq!(pool.len(), 2);
    let selected = pool.select(2_000_000);
    assert_eq!(
        selected.iter().map(Transaction::id).collect::<Vec<_>>(),
        vec![parent_id, child_id]
    );

    // Spending the parent's input again conflicts.
    let double = pay(&net, outputs[0], coins(10), &key(4), 9, Currency(FEE.0 * 9));
    assert!(matches!(
        pool.add(&net.chain, double),
        Err(PoolError::Conflict { other, .. }) if other == parent_id
    ));
    // An unsigned transaction breaks a stateless rule; a wrong signer a stateful one.
    let mut unsigned = pay(&net, outputs[1], coins(10), &key(4), 9, FEE);
    unsigned.coin_inputs[0].fulfillment = Fulfillment::Nil;
    assert!(matches!(
        pool.add(&net.chain, unsigned),
        Err(PoolError::Stateless { .. })
    ));
    let wrong = pay(&net, outputs[1], coins(10), &key(9), 9, FEE);
    assert!(matches!(
        pool.add(&net.chain, wrong),
        Err(PoolError::Rules { source, .. }) if matches!(*source, TransactionRuleError::Spend(_))
    ));
    assert_eq!(pool.len(), 2);

    // Mining the selection confirms both; the pool empties.
    let block = net.next_block(selected);
    let update = net.accept(block).expect("pool transactions are valid");
    assert!(matches!(
        pool.add(
            &net.chain,
            pay(&net, outputs[1], coins(10), &key(4), 9, FEE)
        ),
        Err(PoolError::StaleTip { .. })
    ));
    let dropped = pool.on_chain_update(&net.chain, &update).expect("update");
    assert!(dropped.is_empty());
    assert!(pool.is_empty());
}

#[test]
fn selection_by_fee_rate_within_a_size_budget() {
    let mut net = Net::new(test_config());
    let outputs = split(&mut net, 3);
    let mut pool = pool(&net, 1_000_000);
    let fees = [1u128, 3, 2];
    let ids: Vec<_> = outputs
        .iter()
        .zip(fees)
        .map(|(output, factor)| {
            let tx = pay(
                &net,
                *output,
                coins(10),
                &key(4),
                7,
                Currency(FEE.0 * factor),
            );
            pool.add(&net.chain, tx).expect("admitted").0
        })
        .collect();
    let order: Vec<_> = pool.select(u64::MAX).iter().map(Transaction::id).collect();
    assert_eq!(order, vec![ids[1], ids[2], ids[0]]);
    let one = pool.select(pool.total_bytes() / 3);
    assert_eq!(
        one.iter().map(Transaction::id).collect::<Vec<_>>(),
        vec![ids[1]]
    );
}

#[test]
fn a_full_pool_evicts_the_worst_fee_rate_and_refuses_worse() {
    let mut net = Net::new(test_config());
    let outputs = split(&mut net, 4);
    let size = pay(&net, outputs[0], coins(10), &key(4), 7, FEE).encoded_size() as u64;
    let mut pool = pool(&net, size * 2);
    let tx = |net: &Net, index: usize, factor: u128| {
        pay(
            net,
            outputs[index],
            coins(10),
            &key(4),
            7,
            Currency(FEE.0 * factor),
        )
    };
    let (low, _) = pool.add(&net.chain, tx(&net, 0, 2)).expect("fits");
    let (mid, _) = pool.add(&net.chain, tx(&net, 1, 3)).expect("fits");
    let (high, evicted) = pool.add(&net.chain, tx(&net, 2, 4)).expect("evicts");
    assert_eq!(evicted, vec![low]);
    assert!(pool.contains(&mid) && pool.contains(&high) && !pool.contains(&low));
    assert!(matches!(
        pool.add(&net.chain, tx(&net, 3, 1)),
        Err(PoolError::PoolFull { .. })
    ));
    assert_eq!(pool.len(), 2);
    // The evicted transaction's input is free again.
    let again = pay(&net, outputs[0], coins(10), &key(4), 8, Currency(FEE.0 * 5));
    pool.add(&net.chain, again)
        .expect("input released by eviction");
}

#[test]
fn old_transactions_expire() {
    let mut net = Net::new(test_config());
    let outputs = split(&mut net, 1);
    let mut pool = pool(&net, 1_000_000);
    let (id, _) = pool
        .add(
            &net.chain,
            pay(&net, outputs[0], coins(10), &key(4), 7, FEE),
        )
        .expect("admitted");
    net.clock.advance(3600);
    assert!(pool.expire(&net.chain).expect("expire").is_empty());
    net.clock.advance(1);
    assert_eq!(pool.expire(&net.chain).expect("expire"), vec![id]);
    assert!(pool.is_empty());
}

#[test]
fn transactions_of_reverted_blocks_return_to_the_pool() {
    let config = config_with(
        &[
            ("initial_target", &format!("\"{}\"", "f".repeat(64))),
            ("target_window", "100000"),
        ],
        false,
    );
    let mut a = Net::new(config.clone());
    let mut b = Net::new(config);
    let outputs = split(&mut a, 1);
    let shared = a.chain.tip().id;
    let block = a.chain.block(&shared).expect("store").expect("block");
    b.accept(block).expect("shared");

    let mut pool = pool(&a, 1_000_000);
    let tx = pay(&a, outputs[0], coins(10), &key(4), 7, FEE);
    let (id, _) = pool.add(&a.chain, tx).expect("admitted");
    let block = a.next_block(pool.select(1_000_000));
    let update = a.accept(block).expect("mined");
    pool.on_chain_update(&a.chain, &update).expect("update");
    assert!(pool.is_empty());

    // A heavier branch without the transaction wins: it comes back.
    let other = b.transfer(
        &key(1),
        Condition::for_public_key(&key(9).public_key()),
        coins(1),
        FEE,
    );
    let b1 = b.mine(vec![other]);
    let b2 = b.mine(Vec::new());
    assert!(a.accept(b1).expect("side").is_empty());
    let update = a.accept(b2).expect("reorg");
    assert_eq!(update.reverted.len(), 1);
    pool.on_chain_update(&a.chain, &update).expect("update");
    assert!(pool.contains(&id));
    assert_eq!(pool.select(1_000_000).len(), 1);
}

#[test]
fn the_block_creator_stakes_each_second_and_fills_blocks_from_the_pool() {
    use chain::creator::BlockCreator;
    // The derived target: about one block per 10 s for the whole stake.
    let mut net = Net::new(config_with(&[], false));
    let outputs = split(&mut net, 1);
    let mut pool = pool(&net, 1_000_000);
    let tx = pay(&net, outputs[0], coins(10), &key(4), 7, FEE);
    let (id, _) = pool.add(&net.chain, tx).expect("admitted");
    let mut creator = BlockCreator::new(vec![key(1), key(2), key(3)]);
    assert_eq!(creator.owned_positions(&net.chain).len(), 3);
    let start = net.chain.height();
    let mut seconds = 0;
    while net.chain.height().0 < start.0 + 5 {
        net.clock.advance(1);
        seconds += 1;
        assert!(seconds < 10_000, "no block in 10,000 seconds");
        let Some(block) = creator.try_create(&net.chain, &pool).expect("creates") else {
            continue;
        };
        assert_eq!(block.header.timestamp, chain::Clock::now(&net.clock));
        let update = net.accept(block.clone()).expect("own block is valid");
        pool.on_chain_update(&net.chain, &update)
            .expect("pool follows");
        if block.transactions.len() > 1 {
            assert_eq!(block.transactions[1].id(), id);
        }
        // Nothing more to try on the new tip for this second.
        assert!(
            creator
                .try_create(&net.chain, &pool)
                .expect("tries")
                .is_none()
        );
    }
    assert!(!pool.contains(&id), "the pool transaction was mined");
}
