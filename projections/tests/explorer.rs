//! The explorer read model against a real chain, real NATS JetStream and
//! real PostgreSQL: a chain built with the `chain` crate (signed
//! transfers, a multisig, a time-locked and an atomic-swap output, a
//! notary record, arbitrary data, a reorg to a heavier branch) is
//! published block by block as the node publishes it; the live projector
//! folds it. Then: balances and unspent outputs equal the chain state's
//! UTXO sets, conditions and spends read back, targets equal the chain's,
//! the reorged-away transaction left nothing behind (equal to folding only
//! the final chain), and incremental equals rebuild table by table.

#![allow(clippy::unwrap_used)] // test harness: a failed setup step should fail the test loudly

#[path = "../../ledger/chain/tests/common/mod.rs"]
mod common;
#[path = "support/harness.rs"]
mod harness;
#[path = "support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use common::{FEE, Net, coins, config_with, key, sign_coin_inputs};
use harness::Harness;
use ledger::condition::{AtomicSwapCondition, TimeLockCondition};
use ledger::crypto::SecretKey;
use ledger::payload::NotaryRecord;
use ledger::{
    Address, BlockHeight, CoinInput, CoinOutput, Condition, Currency, Fulfillment, Hash32,
    MultisigCondition, Payload, TimeLockedCondition, Timestamp, Transaction,
};
use projections::explorer::rows::address_bytes;
use projections::explorer::{EXPLORER_MIGRATOR, Explorer};
use sqlx::{Connection, Row};

/// A signed payment from `owner`'s largest coin output to `outputs`, the
/// change back to `owner`, with optional data and payload.
fn pay(
    net: &Net,
    owner: &SecretKey,
    outputs: Vec<CoinOutput>,
    arbitrary_data: Vec<u8>,
    payload: Option<Payload>,
) -> Transaction {
    let (id, output) = net
        .coins_of(owner)
        .into_iter()
        .max_by_key(|(_, output)| output.value)
        .expect("owner has coins");
    let spent: u128 = outputs.iter().map(|o| o.value.0).sum::<u128>() + FEE.0;
    let mut transaction = Transaction {
        coin_inputs: vec![CoinInput {
            parent_id: id,
            fulfillment: Fulfillment::Nil,
        }],
        coin_outputs: outputs,
        fee: FEE,
        arbitrary_data,
        payload,
        ..Transaction::new()
    };
    transaction.coin_outputs.push(CoinOutput {
        value: Currency(output.value.0 - spent),
        condition: Condition::for_public_key(&owner.public_key()),
    });
    sign_coin_inputs(&mut transaction, &net.params(), owner);
    transaction
}

/// Builds, accepts and publishes the next block of `net`.
async fn mine(h: &mut Harness, net: &mut Net, transactions: Vec<Transaction>) -> ledger::Block {
    let block = net.next_block(transactions);
    let update = net.accept(block.clone()).expect("own block is valid");
    h.publish_update(&net.chain, &update).await;
    block
}

fn multisig() -> MultisigCondition {
    MultisigCondition::new(
        2,
        vec![
            key(7).public_key(),
            key(8).public_key(),
            key(9).public_key(),
        ],
    )
}

fn time_locked() -> Condition {
    Condition::TimeLock(TimeLockCondition {
        lock: 1_000,
        inner: TimeLockedCondition::PubKeyHash(Address::for_public_key(&key(9).public_key()).hash),
    })
}

#[tokio::test]
async fn explorer_folds_a_real_chain_with_a_reorg_and_equals_its_rebuild() {
    let mut h = Harness::new("explorer").await;
    // Retarget every 10 blocks, so derived targets are exercised.
    let config = config_with(
        &[("initial_target", &format!("\"{}\"", "f".repeat(64)))],
        false,
    );
    let explorer = Arc::new(Explorer::new(config.clone()));
    let mut a = Net::new(config.clone());
    let mut b = Net::new(config.clone());

    let mut live = h.start(explorer.clone(), &config);

    let started = Instant::now();
    // Genesis: the node publishes the configured block; it carries no
    // state events.
    h.publish_genesis(&config).await;

    // Block 1: a plain transfer with arbitrary data and a notary record.
    let document = Hash32([0x42; 32]);
    let transfer = pay(
        &a,
        &key(1),
        vec![CoinOutput {
            value: coins(1_000),
            condition: Condition::for_public_key(&key(4).public_key()),
        }],
        b"invoice 17".to_vec(),
        Some(Payload::Notary(NotaryRecord {
            document_hash: document,
        })),
    );
    let block = mine(&mut h, &mut a, vec![transfer.clone()]).await;
    b.accept(block).unwrap();
    // Block 2: multisig, time-locked and atomic-swap outputs.
    let swap = Condition::AtomicSwap(AtomicSwapCondition {
        sender: Address::for_public_key(&key(4).public_key()),
        receiver: Address::for_public_key(&key(7).public_key()),
        hashed_secret: [3; 32],
        timelock: Timestamp(1_800_000_000),
    });
    let locks = pay(
        &a,
        &key(4),
        vec![
            CoinOutput {
                value: coins(300),
                condition: Condition::Multisig(multisig()),
            },
            CoinOutput {
                value: coins(200),
                condition: time_locked(),
            },
            CoinOutput {
                value: coins(100),
                condition: swap.clone(),
            },
        ],
        Vec::new(),
        None,
    );
    let block = mine(&mut h, &mut a, vec![locks.clone()]).await;
    b.accept(block).unwrap();
    for _ in 0..3 {
        let block = mine(&mut h, &mut a, Vec::new()).await;
        b.accept(block).unwrap();
    }

    // Fork at height 5: `a` mines two blocks spending key 4's coins one
    // way, `b` three blocks spending them another way; `b` wins.
    let to_x = a.transfer(
        &key(4),
        Condition::for_public_key(&key(10).public_key()),
        coins(5),
        FEE,
    );
    let to_y = b.transfer(
        &key(4),
        Condition::for_public_key(&key(11).public_key()),
        coins(6),
        FEE,
    );
    mine(&mut h, &mut a, vec![to_x.clone()]).await;
    mine(&mut h, &mut a, Vec::new()).await;
    let branch = vec![
        b.mine(vec![to_y.clone()]),
        b.mine(Vec::new()),
        b.mine(Vec::new()),
    ];
    let mut reverted = 0;
    for block in branch {
        let update = a.accept(block).expect("branch block");
        reverted += update.reverted.len();
        h.publish_update(&a.chain, &update).await;
    }
    assert_eq!(reverted, 2, "the heavier branch replaced two blocks");
    // Pending: the pool announced a transfer and something else; mining
    // the transfer removes its pending row only.
    let pending = a.transfer(
        &key(1),
        Condition::for_public_key(&key(12).public_key()),
        coins(7),
        FEE,
    );
    h.wait_for("explorer", h.last_seq().await, &mut live).await;
    let mut db = h.connection("explorer").await;
    for (id, encoded) in [
        (pending.id().0.0.to_vec(), ledger::codec::encode(&pending)),
        (vec![0xee; 32], vec![1, 2, 3]),
    ] {
        sqlx::query(
            "INSERT INTO pending_transaction (id, encoded, fee, size, first_seen_at)
             VALUES ($1, $2, 1, 3, now())",
        )
        .bind(id)
        .bind(encoded)
        .execute(&mut db)
        .await
        .unwrap();
    }
    mine(&mut h, &mut a, vec![pending.clone()]).await;
    h.wait_for("explorer", h.last_seq().await, &mut live).await;
    let still_pending: Vec<Vec<u8>> =
        sqlx::query_scalar("DELETE FROM pending_transaction RETURNING id")
            .fetch_all(&mut db)
            .await
            .unwrap();
    assert_eq!(still_pending, vec![vec![0xee; 32]]);
    db.close().await.unwrap();

    // Beyond the next retargets, and payouts mature.
    for _ in 0..16 {
        mine(&mut h, &mut a, Vec::new()).await;
    }
    let tip = a.chain.height().0;
    assert_eq!(tip, 25);
    let last = h.last_seq().await;
    h.wait_for("explorer", last, &mut live).await;
    let incremental_took = started.elapsed();

    let mut db = h.connection("explorer").await;
    let state = a.chain.state();

    // Balances per address equal the chain state's UTXO sums.
    let mut expected: BTreeMap<Vec<u8>, (u128, u128, u128)> = BTreeMap::new();
    for (_, output) in state.coin_outputs() {
        let entry = expected
            .entry(address_bytes(&output.condition.address()).to_vec())
            .or_default();
        entry.0 += output.value.0;
    }
    for bucket in state.maturing().values() {
        for output in bucket.values() {
            let entry = expected
                .entry(address_bytes(&output.condition.address()).to_vec())
                .or_default();
            entry.1 += output.value.0;
        }
    }
    for (_, entry) in state.blockstake_outputs() {
        let slot = expected
            .entry(address_bytes(&entry.output.condition.address()).to_vec())
            .or_default();
        slot.2 += u128::from(entry.output.value.0);
    }
    let rows = sqlx::query(
        "SELECT address, coin_balance::text, coin_maturing::text, blockstake_balance::text
           FROM address
          WHERE coin_balance <> 0 OR coin_maturing <> 0 OR blockstake_balance <> 0",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    let actual: BTreeMap<Vec<u8>, (u128, u128, u128)> = rows
        .iter()
        .map(|row| {
            let number = |i: usize| row.get::<String, _>(i).parse::<u128>().unwrap();
            (row.get::<Vec<u8>, _>(0), (number(1), number(2), number(3)))
        })
        .collect();
    assert_eq!(actual, expected);
    assert!(expected.len() >= 8, "a varied set of holders: {expected:?}");

    // Unspent outputs equal the state's (maturing payouts included).
    let mut expected_unspent: Vec<Vec<u8>> = state
        .coin_outputs()
        .map(|(id, _)| id.0.0.to_vec())
        .chain(
            state
                .maturing()
                .values()
                .flat_map(|bucket| bucket.keys().map(|id| id.0.0.to_vec())),
        )
        .chain(state.blockstake_outputs().map(|(id, _)| id.0.0.to_vec()))
        .collect();
    expected_unspent.sort();
    let unspent: Vec<Vec<u8>> = sqlx::query_scalar("SELECT id FROM unspent_output ORDER BY id")
        .fetch_all(&mut db)
        .await
        .unwrap();
    assert_eq!(unspent, expected_unspent);

    // The lock outputs read back with their conditions decoded.
    let locks_id = locks.id();
    let outputs = sqlx::query(
        "SELECT output_index, value::text, address, condition_type, multisig_required,
                multisig_key_count, timelock, timelock_kind, timelock_inner_type,
                swap_sender, swap_receiver, swap_hashed_secret, swap_timelock, block_height
           FROM output WHERE transaction_id = $1 ORDER BY output_index",
    )
    .bind(locks_id.0.0.to_vec())
    .fetch_all(&mut db)
    .await
    .unwrap();
    assert_eq!(outputs.len(), 4, "three locked outputs and the change");
    let multisig_row = &outputs[0];
    assert_eq!(multisig_row.get::<String, _>(1), coins(300).0.to_string());
    assert_eq!(
        multisig_row.get::<Vec<u8>, _>(2),
        address_bytes(&multisig().address()).to_vec()
    );
    assert_eq!(multisig_row.get::<String, _>(3), "multisig");
    assert_eq!(multisig_row.get::<Option<i32>, _>(4), Some(2));
    assert_eq!(multisig_row.get::<Option<i32>, _>(5), Some(3));
    assert_eq!(multisig_row.get::<i64, _>(13), 2);
    let locked_row = &outputs[1];
    assert_eq!(locked_row.get::<String, _>(3), "timelock");
    assert_eq!(locked_row.get::<Option<i64>, _>(6), Some(1_000));
    assert_eq!(
        locked_row.get::<Option<String>, _>(7).as_deref(),
        Some("height")
    );
    assert_eq!(
        locked_row.get::<Option<String>, _>(8).as_deref(),
        Some("pubkey")
    );
    assert_eq!(
        locked_row.get::<Vec<u8>, _>(2),
        address_bytes(&Address::for_public_key(&key(9).public_key())).to_vec()
    );
    let swap_row = &outputs[2];
    assert_eq!(swap_row.get::<String, _>(3), "atomic_swap");
    assert_eq!(
        swap_row.get::<Option<Vec<u8>>, _>(10),
        Some(address_bytes(&Address::for_public_key(&key(7).public_key())).to_vec())
    );
    assert_eq!(swap_row.get::<Option<Vec<u8>>, _>(11), Some(vec![3; 32]));
    assert_eq!(swap_row.get::<Option<i64>, _>(12), Some(1_800_000_000));
    assert_eq!(
        swap_row.get::<Vec<u8>, _>(2),
        address_bytes(&swap.address()).to_vec()
    );

    // Multisig membership: the three keys' addresses.
    let members: Vec<Vec<u8>> = sqlx::query_scalar(
        "SELECT member_address FROM multisig_member WHERE multisig_address = $1 ORDER BY 1",
    )
    .bind(address_bytes(&multisig().address()).to_vec())
    .fetch_all(&mut db)
    .await
    .unwrap();
    let mut expected_members: Vec<Vec<u8>> = [7u8, 8, 9]
        .iter()
        .map(|seed| address_bytes(&Address::for_public_key(&key(*seed).public_key())).to_vec())
        .collect();
    expected_members.sort();
    assert_eq!(members, expected_members);

    // The input of the lock transaction: signed by key 4, and the output it
    // spends is marked spent by it at height 2.
    let input = sqlx::query(
        "SELECT i.parent_id, i.fulfillment_type, i.public_keys, i.value::text, i.address,
                o.spent_by, o.spent_at
           FROM input i JOIN output o ON o.id = i.parent_id
          WHERE i.transaction_id = $1",
    )
    .bind(locks_id.0.0.to_vec())
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(
        input.get::<Vec<u8>, _>(0),
        locks.coin_inputs[0].parent_id.0.0.to_vec()
    );
    assert_eq!(input.get::<String, _>(1), "single_signature");
    assert_eq!(
        input.get::<Vec<Vec<u8>>, _>(2),
        vec![key(4).public_key().0.to_vec()]
    );
    assert_eq!(input.get::<String, _>(3), coins(1_000_000).0.to_string());
    assert_eq!(
        input.get::<Vec<u8>, _>(4),
        address_bytes(&Address::for_public_key(&key(4).public_key())).to_vec()
    );
    assert_eq!(
        input.get::<Option<Vec<u8>>, _>(5),
        Some(locks_id.0.0.to_vec())
    );
    assert_eq!(input.get::<Option<i64>, _>(6), Some(2));

    // The transfer: kind, data, notary record.
    let row = sqlx::query(
        "SELECT t.kind, t.arbitrary_data, t.block_height, n.block_height
           FROM transaction t JOIN notary_record n ON n.transaction_id = t.id
          WHERE n.document_hash = $1",
    )
    .bind(document.0.to_vec())
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(row.get::<String, _>(0), "notary");
    assert_eq!(row.get::<Vec<u8>, _>(1), b"invoice 17".to_vec());
    assert_eq!((row.get::<i64, _>(2), row.get::<i64, _>(3)), (1, 1));

    // The reorg: the losing branch's transaction is gone, the winner's in.
    let present = |id: ledger::TransactionId| {
        sqlx::query_scalar::<_, bool>("SELECT EXISTS (SELECT 1 FROM transaction WHERE id = $1)")
            .bind(id.0.0.to_vec())
    };
    assert!(!present(to_x.id()).fetch_one(&mut db).await.unwrap());
    assert!(present(to_y.id()).fetch_one(&mut db).await.unwrap());

    // Blocks: ids, stakers and derived targets equal the chain's.
    let blocks = sqlx::query(
        "SELECT height, id, child_target, cumulative_difficulty::text, staker, block_time
           FROM block ORDER BY height",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    assert_eq!(blocks.len() as u64, tip + 1);
    for row in &blocks {
        let height = BlockHeight(row.get::<i64, _>(0) as u64);
        let id = a.chain.main_chain_id(height).unwrap();
        let node = a.chain.node(&id).unwrap();
        assert_eq!(row.get::<Vec<u8>, _>(1), id.0.0.to_vec(), "id at {height}");
        assert_eq!(
            row.get::<Vec<u8>, _>(2),
            node.child_target.0.to_vec(),
            "child target at {height}"
        );
        assert_eq!(
            row.get::<String, _>(3),
            node.cumulative.to_string(),
            "cumulative difficulty at {height}"
        );
        if height.0 > 0 {
            assert!(row.get::<Option<Vec<u8>>, _>(4).is_some());
            assert!(row.get::<Option<i64>, _>(5).is_some());
        }
    }
    // The active-stake estimate of every block: the work of the blocks
    // after the window's start divided by the seconds they took, the
    // window (200 blocks) never starting at genesis, whose timestamp is
    // configured rather than found by the lottery.
    let estimates =
        sqlx::query("SELECT height, estimated_active_stake::text FROM block ORDER BY height")
            .fetch_all(&mut db)
            .await
            .unwrap();
    for row in &estimates {
        let height = row.get::<i64, _>(0) as u64;
        let node_at = |h: u64| {
            a.chain
                .node(&a.chain.main_chain_id(BlockHeight(h)).unwrap())
                .unwrap()
        };
        let start = height.saturating_sub(200).max(1);
        let expected = if start >= height {
            "0".to_owned()
        } else {
            let (tip_node, start_node) = (node_at(height), node_at(start));
            let seconds = tip_node.timestamp.0 - start_node.timestamp.0;
            assert!(seconds > 0, "blocks {start}..{height} took no time");
            ((&tip_node.cumulative.0 - &start_node.cumulative.0) / seconds).to_string()
        };
        assert_eq!(
            row.get::<String, _>(1),
            expected,
            "estimated active stake at {height}"
        );
        if height >= 3 {
            assert_ne!(expected, "0", "a window of blocks estimates some stake");
        }
    }
    let distinct_targets: i64 =
        sqlx::query_scalar("SELECT count(DISTINCT child_target) FROM block")
            .fetch_one(&mut db)
            .await
            .unwrap();
    assert!(distinct_targets > 1, "a retarget happened");

    // Running supply equals what the state holds.
    let supply: String = sqlx::query_scalar(
        "SELECT coin_supply::text FROM block_statistics ORDER BY height DESC LIMIT 1",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    let held: u128 = expected.values().map(|(c, m, _)| c + m).sum();
    assert_eq!(supply, held.to_string());
    db.close().await.unwrap();

    let incremental = h.dump("explorer").await;
    assert!(incremental["pending_transaction"].is_empty());

    // Folding only the final chain (no reorg) gives the same rows: the
    // reverted blocks left nothing behind.
    let replayed = h
        .replay_main_chain(
            explorer.as_ref(),
            &EXPLORER_MIGRATOR,
            &a.chain,
            config.consensus.finality_depth,
        )
        .await;
    assert_eq!(replayed, incremental);

    // Rebuild while the live writer runs: swapped in, same rows.
    let rebuild_took = h
        .check_rebuild(explorer.clone(), &live, tip, &incremental)
        .await;
    eprintln!(
        "explorer: {} messages folded live in {incremental_took:?} (including chain building); rebuild took {rebuild_took:?}; rows per table: {:?}",
        last,
        incremental
            .iter()
            .map(|(table, rows)| (table.as_str(), rows.len()))
            .collect::<Vec<_>>()
    );

    h.finish(live).await;
}
