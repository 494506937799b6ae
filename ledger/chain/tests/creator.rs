//! The block creator against pool content that must not reach a block:
//! a pooled transaction spending the stake output the block respends (the
//! staker sending its blockstakes), and a pool out of step with the chain.
//! Every block the creator returns is accepted by the chain.

mod common;

use chain::creator::{BlockCreator, SkipReason, build_block};
use chain::mempool::{Mempool, MempoolConfig};
use chain::{ChainError, Clock};
use common::{FEE, Net, key, sign_coin_inputs, test_config};
use ledger::crypto::SecretKey;
use ledger::fulfillment::{InputKind, SingleSignatureFulfillment, signing_message};
use ledger::{
    Address, BlockHeight, BlockStakeInput, BlockStakeOutput, BlockStakeOutputId,
    BlockStakePosition, BlockStakes, CoinInput, CoinOutput, Condition, Fulfillment, Timestamp,
    Transaction,
};

/// `owner`'s unspent blockstake outputs in the tip state: ID, value and
/// position.
fn stakes_of(net: &Net, owner: &SecretKey) -> Vec<(BlockStakeOutputId, u64, BlockStakePosition)> {
    let address = Address::for_public_key(&owner.public_key());
    net.chain
        .state()
        .blockstake_outputs()
        .filter(|(_, entry)| entry.output.condition.address() == address)
        .map(|(id, entry)| (*id, entry.output.value.0, entry.position))
        .collect()
}

/// `owner` sends `amount` of its blockstake output `parent` (worth
/// `value`) to seed `to`, the rest back to itself; seed 4 pays the fee.
fn send_blockstakes(
    net: &Net,
    owner: &SecretKey,
    parent: BlockStakeOutputId,
    value: u64,
    to: u8,
    amount: u64,
) -> Transaction {
    let mut blockstake_outputs = vec![BlockStakeOutput {
        value: BlockStakes(amount),
        condition: Condition::for_public_key(&key(to).public_key()),
    }];
    if value > amount {
        blockstake_outputs.push(BlockStakeOutput {
            value: BlockStakes(value - amount),
            condition: Condition::for_public_key(&owner.public_key()),
        });
    }
    let (coin, output) = net
        .coins_of(&key(4))
        .into_iter()
        .max_by_key(|(_, output)| output.value)
        .expect("seed 4 has coins");
    let mut transaction = Transaction {
        coin_inputs: vec![CoinInput {
            parent_id: coin,
            fulfillment: Fulfillment::Nil,
        }],
        coin_outputs: vec![CoinOutput {
            value: output.value.checked_sub(FEE).expect("enough"),
            condition: output.condition.clone(),
        }],
        blockstake_inputs: vec![BlockStakeInput {
            parent_id: parent,
            fulfillment: Fulfillment::Nil,
        }],
        blockstake_outputs,
        fee: FEE,
        ..Transaction::new()
    };
    sign_coin_inputs(&mut transaction, &net.params(), &key(4));
    let context = Transaction::input_context(
        &transaction.id(),
        &net.params(),
        InputKind::BlockStake,
        0,
        BlockHeight(0),
        Timestamp(0),
    );
    let public_key = owner.public_key();
    transaction.blockstake_inputs[0].fulfillment =
        Fulfillment::SingleSignature(SingleSignatureFulfillment {
            public_key,
            signature: owner.sign(&signing_message(&context, &public_key, None)),
        });
    transaction
}

/// The seconds the creator searches: from just after the tip, far ahead.
fn search_window(net: &Net) -> (Timestamp, Timestamp) {
    let from = Timestamp(net.chain.tip().timestamp.0 + 1);
    (from, Timestamp(from.0 + 100_000))
}

#[test]
fn a_pooled_spend_of_the_only_stake_output_is_left_out_and_the_chain_goes_on() {
    let mut net = Net::new(test_config());
    net.stakers = vec![key(2)];
    net.mine(Vec::new());
    let mut pool = Mempool::new(MempoolConfig::default(), &net.chain);
    let stakes = stakes_of(&net, &key(2));
    assert_eq!(stakes.len(), 1, "seed 2 holds one stake output");
    let (stake, value, position) = stakes[0];
    let send = send_blockstakes(&net, &key(2), stake, value, 10, 10);
    let send_id = send.id();
    pool.add(&net.chain, send.clone())
        .expect("the pool admits it");

    // What the creator used to build: the respend and the send together,
    // a double spend every peer refuses.
    let (from, until) = search_window(&net);
    let creator = BlockCreator::new(vec![key(2)]);
    let assembled = creator
        .create_between(&net.chain, &pool, from, until)
        .expect("assembles")
        .expect("the only stake wins within the window");
    let naive = build_block(
        &net.chain,
        &key(2),
        position,
        assembled.block.header.timestamp,
        vec![send],
    )
    .expect("builds");
    net.clock.set(naive.header.timestamp);
    let refused = net.chain.accept_block(naive);
    assert!(
        matches!(refused, Err(ChainError::Stateless { .. })),
        "{refused:?}"
    );

    // The creator stakes its only output and leaves the send out.
    assert_eq!(assembled.block.header.stake_output, position);
    assert_eq!(assembled.block.transactions.len(), 1);
    assert_eq!(
        assembled.skipped,
        vec![(send_id, SkipReason::SpendsStakeInput)]
    );
    let update = net.accept(assembled.block).expect("the block is valid");
    // The respend spent the send's input: the pool drops it.
    let dropped = pool.on_chain_update(&net.chain, &update).expect("updates");
    assert_eq!(dropped, vec![send_id]);
    assert!(pool.is_empty());
    // And the next block follows.
    let (from, until) = search_window(&net);
    let next = creator
        .create_between(&net.chain, &pool, from, until)
        .expect("assembles")
        .expect("wins");
    net.accept(next.block).expect("valid");
}

#[test]
fn the_creator_stakes_another_output_so_the_pooled_spend_goes_in() {
    let mut net = Net::new(test_config());
    // Seed 3 gives its 200 blockstakes to seed 1, which then holds two
    // stake outputs: 500 from genesis and 200 that must age.
    // Only seed 1 stakes, so no block respends seed 3's output.
    net.stakers = vec![key(1)];
    let (stake3, value3, _) = stakes_of(&net, &key(3))[0];
    let give = send_blockstakes(&net, &key(3), stake3, value3, 1, value3);
    assert_eq!(give.blockstake_outputs.len(), 1);
    net.mine(vec![give]);
    let now = net.clock.now();
    net.clock.set(Timestamp(now.0 + 61));
    net.mine(Vec::new());
    let stakes = stakes_of(&net, &key(1));
    assert_eq!(stakes.len(), 2);
    let (big, big_value, big_position) = *stakes
        .iter()
        .find(|(_, value, _)| *value == 500)
        .expect("the genesis 500");
    let (_, _, small_position) = *stakes
        .iter()
        .find(|(_, value, _)| *value == 200)
        .expect("the 200 received");

    let mut pool = Mempool::new(MempoolConfig::default(), &net.chain);
    let send = send_blockstakes(&net, &key(1), big, big_value, 10, 10);
    let send_id = send.id();
    pool.add(&net.chain, send).expect("the pool admits it");

    let (from, until) = search_window(&net);
    let creator = BlockCreator::new(vec![key(1)]);
    let assembled = creator
        .create_between(&net.chain, &pool, from, until)
        .expect("assembles")
        .expect("the free output wins within the window");
    assert_eq!(assembled.block.header.stake_output, small_position);
    assert_ne!(assembled.block.header.stake_output, big_position);
    assert!(assembled.skipped.is_empty());
    let ids: Vec<_> = assembled
        .block
        .transactions
        .iter()
        .map(Transaction::id)
        .collect();
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[1], send_id);
    let update = net.accept(assembled.block).expect("the block is valid");
    assert!(
        pool.on_chain_update(&net.chain, &update)
            .expect("updates")
            .is_empty()
    );
    assert!(pool.is_empty());
    let stakes: Vec<u64> = stakes_of(&net, &key(1)).iter().map(|s| s.1).collect();
    assert_eq!(stakes.len(), 2);
    assert!(stakes.contains(&490) && stakes.contains(&200), "{stakes:?}");
}

#[test]
fn a_pool_out_of_step_cannot_make_an_invalid_block() {
    let mut net = Net::new(test_config());
    net.stakers = vec![key(1)];
    net.mine(Vec::new());
    let mut pool = Mempool::new(MempoolConfig::default(), &net.chain);
    let to = Condition::for_public_key(&key(9).public_key());
    let pooled = net.transfer(&key(4), to.clone(), common::coins(5), FEE);
    let pooled_id = pooled.id();
    pool.add(&net.chain, pooled).expect("admitted");
    // Another spend of the same coins reaches a block; the pool is not told.
    let rival = net.transfer(&key(4), to, common::coins(6), FEE);
    net.mine(vec![rival]);

    let (from, until) = search_window(&net);
    let assembled = BlockCreator::new(vec![key(1)])
        .create_between(&net.chain, &pool, from, until)
        .expect("assembles")
        .expect("wins");
    assert_eq!(assembled.block.transactions.len(), 1);
    assert_eq!(assembled.skipped.len(), 1);
    assert_eq!(assembled.skipped[0].0, pooled_id);
    assert!(matches!(assembled.skipped[0].1, SkipReason::Invalid(_)));
    net.accept(assembled.block).expect("the block is valid");
}
