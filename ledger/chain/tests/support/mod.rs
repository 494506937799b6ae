//! A reusable block workload for the store's crash test and benchmark:
//! a single-staker network whose genesis funds many coin outputs of one
//! key, and a generator that builds real blocks on top of any chain (the
//! signed respend first, then signed single-input, two-output transfers
//! that split an output between two outputs of the same owner).
//!
//! The benchmark includes this file with `#[path]`; other benches that
//! need funded transfers can do the same.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::Arc;

use chain::config::ChainConfig;
use chain::creator::{build_block, find_winning_timestamp};
use chain::{Chain, ChainStore};
use ledger::crypto::SecretKey;
use ledger::fulfillment::{InputKind, SingleSignatureFulfillment, signing_message};
use ledger::{
    Address, Block, BlockHeight, BlockStakePosition, CoinInput, CoinOutput, CoinOutputId,
    Condition, Currency, Fulfillment, Timestamp, Transaction,
};

/// The seed of the only staker's key.
pub const STAKER_SEED: u8 = 11;
/// The seed of the key that owns every coin output the transfers spend.
pub const OWNER_SEED: u8 = 12;
/// The fee of each transfer: well above the minimum for its ~250 bytes.
pub const TRANSFER_FEE: Currency = Currency(100_000_000);

pub fn key(seed: u8) -> SecretKey {
    SecretKey::from_seed([seed; 32])
}

/// A network with one staker (1,000 blockstakes), an initial target every
/// try meets, and `genesis_outputs` coin outputs of 1,000,000 coins owned
/// by [`OWNER_SEED`].
pub fn workload_config(genesis_outputs: usize) -> Arc<ChainConfig> {
    let staker = hex::encode(key(STAKER_SEED).public_key().0);
    let owner = hex::encode(key(OWNER_SEED).public_key().0);
    let coins: String = (0..genesis_outputs)
        .map(|_| format!("[[genesis.coins]]\nvalue = \"1000000\"\npublic_key = \"{owner}\"\n\n"))
        .collect();
    let text = format!(
        r#"
[network]
name = "store-workload"
address_prefix = "bstest"
coin_precision = 9

[consensus]
block_frequency = 10
target_window = 20
stake_modifier_delay = 5
blockstake_aging = 60
maturity_delay = 3
finality_depth = 20
block_size_limit = 2000000
transaction_size_limit = 1995000
arbitrary_data_limit = 1024
future_threshold = 30
extreme_future_threshold = 120
surpass_threshold = "1/5"
max_adjustment_up = "5/2"
max_adjustment_down = "2/5"
initial_target = "{target}"

[fees]
block_creator_fee = "1"
minimum_fee_base = "0.01"
minimum_fee_per_byte = "0.000001"

[minting]
condition = {{ public_key = "{staker}" }}

[authorized_addresses]
enabled = false
authority = {{ public_key = "{staker}" }}
authorized = []

[genesis]
timestamp = 1_700_000_000

{coins}
[[genesis.blockstakes]]
value = 1000
public_key = "{staker}"
"#,
        target = "f".repeat(64),
    );
    Arc::new(ChainConfig::from_toml(&text).expect("the workload configuration is valid"))
}

/// Builds the blocks of the workload; keeps the owner's spendable outputs
/// oldest first.
pub struct Workload {
    staker: SecretKey,
    owner: SecretKey,
    spendable: VecDeque<(CoinOutputId, CoinOutput)>,
}

impl Workload {
    /// Starts from the owner's unspent outputs in `chain`'s tip state
    /// (genesis, or a reopened chain).
    pub fn resume<S: ChainStore>(chain: &Chain<S>) -> Workload {
        let owner = key(OWNER_SEED);
        let condition = Condition::for_public_key(&owner.public_key());
        let spendable = chain
            .state()
            .coin_outputs()
            .filter(|(_, output)| output.condition == condition)
            .map(|(id, output)| (*id, output.clone()))
            .collect();
        Workload {
            staker: key(STAKER_SEED),
            owner,
            spendable,
        }
    }

    /// The staker's next block on `chain`'s tip with `transfers` transfers
    /// (fewer if the owner runs out of outputs). The transfers' outputs
    /// become spendable for the blocks after this one, so accept each
    /// block before building the next.
    pub fn next_block<S: ChainStore>(&mut self, chain: &Chain<S>, transfers: usize) -> Block {
        let staker = Address::for_public_key(&self.staker.public_key());
        let positions: Vec<BlockStakePosition> = chain
            .state()
            .blockstake_outputs()
            .filter(|(_, entry)| entry.output.condition.address() == staker)
            .map(|(_, entry)| entry.position)
            .collect();
        let from = Timestamp(chain.tip().timestamp.0 + 1);
        let (timestamp, position) =
            find_winning_timestamp(chain, &positions, from, Timestamp(from.0 + 1_000_000))
                .expect("the staker wins within a million seconds");
        let mut transactions = Vec::with_capacity(transfers);
        let mut created = Vec::with_capacity(2 * transfers);
        while transactions.len() < transfers {
            let Some((id, output)) = self.spendable.pop_front() else {
                break;
            };
            let Some(rest) = output.value.checked_sub(TRANSFER_FEE) else {
                continue;
            };
            let half = Currency(rest.0 / 2);
            if half.is_zero() {
                continue;
            }
            let condition = Condition::for_public_key(&self.owner.public_key());
            let mut transaction = Transaction {
                coin_inputs: vec![CoinInput {
                    parent_id: id,
                    fulfillment: Fulfillment::Nil,
                }],
                coin_outputs: vec![
                    CoinOutput {
                        value: half,
                        condition: condition.clone(),
                    },
                    CoinOutput {
                        value: Currency(rest.0 - half.0),
                        condition,
                    },
                ],
                fee: TRANSFER_FEE,
                ..Transaction::new()
            };
            self.sign(&mut transaction, chain);
            let transaction_id = transaction.id();
            created.extend(
                transaction
                    .coin_output_ids(&transaction_id)
                    .into_iter()
                    .zip(transaction.coin_outputs.iter().cloned()),
            );
            transactions.push(transaction);
        }
        self.spendable.extend(created);
        build_block(chain, &self.staker, position, timestamp, transactions)
            .expect("the staker's block builds")
    }

    fn sign<S: ChainStore>(&self, transaction: &mut Transaction, chain: &Chain<S>) {
        let id = transaction.id();
        let context = Transaction::input_context(
            &id,
            &chain.config().params,
            InputKind::Coin,
            0,
            BlockHeight(0),
            Timestamp(0),
        );
        let public_key = self.owner.public_key();
        let signature = self
            .owner
            .sign(&signing_message(&context, &public_key, None));
        transaction.coin_inputs[0].fulfillment =
            Fulfillment::SingleSignature(SingleSignatureFulfillment {
                public_key,
                signature,
            });
    }
}
