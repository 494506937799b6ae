//! Deterministic fixtures shared by the integration tests, the golden
//! vector generator and the benchmarks: keys from fixed seeds, signed
//! transfers, blocks.

#![allow(dead_code)]

use ledger::crypto::SecretKey;
use ledger::fulfillment::{FulfillContext, InputKind, SingleSignatureFulfillment, signing_message};
use ledger::validation::InMemoryConditions;
use ledger::{
    Address, Block, BlockHeight, BlockId, BlockStakePosition, CoinInput, CoinOutput, CoinOutputId,
    Condition, Currency, Fulfillment, Hash32, NetworkParams, Payout, Timestamp, Transaction,
};

pub const BLOCK_TIME: Timestamp = Timestamp(1_700_000_000);
pub const BLOCK_HEIGHT: BlockHeight = BlockHeight(100);

pub fn secret(seed: u8) -> SecretKey {
    SecretKey::from_seed([seed; 32])
}

pub fn params() -> NetworkParams {
    NetworkParams::devnet()
}

pub fn input_context(
    transaction: &Transaction,
    kind: InputKind,
    index: u64,
    height: BlockHeight,
    timestamp: Timestamp,
) -> FulfillContext {
    Transaction::input_context(&transaction.id(), &params(), kind, index, height, timestamp)
}

/// Signs coin input `index` of `transaction` with a single signature.
pub fn sign_coin_input(transaction: &mut Transaction, index: usize, key: &SecretKey) {
    let context = input_context(
        transaction,
        InputKind::Coin,
        index as u64,
        BLOCK_HEIGHT,
        BLOCK_TIME,
    );
    let public_key = key.public_key();
    let signature = key.sign(&signing_message(&context, &public_key, None));
    transaction.coin_inputs[index].fulfillment =
        Fulfillment::SingleSignature(SingleSignatureFulfillment {
            public_key,
            signature,
        });
}

/// A spent-output ID that differs per `n`.
pub fn spent_id(n: u64) -> CoinOutputId {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&n.to_le_bytes());
    bytes[31] = 0xee;
    CoinOutputId(Hash32(bytes))
}

/// A signed one-input, two-output transfer spending `spent_id(n)` owned by
/// `secret(seed)`, paying the minimum fee.
pub fn transfer(n: u64, seed: u8) -> Transaction {
    let key = secret(seed);
    let mut transaction = Transaction {
        coin_inputs: vec![CoinInput {
            parent_id: spent_id(n),
            fulfillment: Fulfillment::Nil,
        }],
        coin_outputs: vec![
            CoinOutput {
                value: Currency(1_000_000_000 + u128::from(n)),
                condition: Condition::for_public_key(&secret(seed.wrapping_add(1)).public_key()),
            },
            CoinOutput {
                value: Currency(5_000_000),
                condition: Condition::for_public_key(&key.public_key()),
            },
        ],
        fee: Currency(20_000_000),
        ..Transaction::new()
    };
    sign_coin_input(&mut transaction, 0, &key);
    transaction
}

/// A block of `count` signed transfers plus the conditions they spend.
pub fn transfer_block(count: u64) -> (Block, InMemoryConditions) {
    let mut conditions = InMemoryConditions::default();
    let transactions: Vec<Transaction> = (0..count)
        .map(|n| {
            let seed = (n % 200) as u8 + 1;
            conditions.coin_outputs.insert(
                spent_id(n),
                Condition::for_public_key(&secret(seed).public_key()),
            );
            transfer(n, seed)
        })
        .collect();
    let fees = Currency(20_000_000 * u128::from(count));
    let block = Block::new(
        BlockId(Hash32([0x42; 32])),
        BLOCK_TIME,
        BlockStakePosition {
            height: BlockHeight(7),
            transaction_index: 0,
            output_index: 0,
        },
        vec![Payout {
            value: fees.checked_add(Currency(1)).expect("small"),
            address: Address::for_public_key(&secret(250).public_key()),
        }],
        transactions,
    );
    (block, conditions)
}
