//! Prints two signed devnet transactions (canonical hex, one per line) for
//! the explorer UI's browser tests and for trying the explorer by hand:
//!
//! 1. a transfer from the genesis wallet (seed `[1; 32]`) with arbitrary
//!    data and one output of each condition kind: 2-of-3 multisig, a time
//!    lock until 2027-01-01, an atomic swap, plus change;
//! 2. a notary record of `--document-hash` (64 hex digits; BLAKE2b-256 of
//!    the document, as the explorer's notary page computes it) that spends
//!    the first transaction's change and pays a multisig member.
//!
//! The second spends an output of the first: submit it once the first is
//! in a block. Only valid on a fresh devnet (the genesis output unspent).
//!
//! Then identity transactions (`identity-wave-<n> <hex>` lines, paid from
//! the notary record's change, see `devnet_support/identity.rs`): two
//! identities with key history, an attested attribute, a vouch and an
//! organization with a sub-organization, then a broadcast channel with
//! news items (one due, one scheduled for 2030, one withdrawn); and
//! `identity-secret <value>`, the attribute's clear value that must never
//! show. Then storage transactions (`storage-wave-<n> <hex>` lines, paid
//! from the identity part's change, see `devnet_support/storage.rs`):
//! six nodes in three datacenters, two objects, a node leaving; with
//! `storage-node <name> <id>` and `storage-object <name> <id>` lines.
//!
//! ```sh
//! cargo run -p api --example devnet_transactions -- --document-hash <hex>
//! ```

use anyhow::{Context, bail};
use chain::ChainConfig;
use ledger::condition::{
    AtomicSwapCondition, MultisigCondition, TimeLockCondition, TimeLockedCondition,
};
use ledger::{
    Address, CoinInput, CoinOutput, CoinOutputId, Condition, Fulfillment, Hash32, Payload,
    Timestamp, Transaction, codec,
};

// The chain's test fixtures: keys from fixed seeds, a fee of 0.1 coin
// (well above the devnet minimum for these sizes), signing.
#[path = "../../../ledger/chain/tests/common/mod.rs"]
mod common;
use common::{FEE, coins, key, sign_coin_inputs as sign};

#[path = "devnet_support/compute.rs"]
mod compute;
#[path = "devnet_support/identity.rs"]
mod identity;
#[path = "devnet_support/storage.rs"]
mod storage;

/// 2027-01-01T00:00:00Z.
const LOCKED_UNTIL: u64 = 1_798_761_600;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut document_hash = Hash32([0x42; 32]);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--document-hash" => {
                let text = args.next().context("--document-hash needs 64 hex digits")?;
                let bytes: [u8; 32] = hex::decode(text.trim())
                    .ok()
                    .and_then(|bytes| bytes.try_into().ok())
                    .context("--document-hash needs 64 hex digits")?;
                document_hash = Hash32(bytes);
            }
            other => bail!("unknown argument '{other}' (known: --document-hash HEX)"),
        }
    }
    let config = ChainConfig::devnet().context("the shipped devnet configuration")?;
    let params = config.params.clone();
    let genesis = key(1);
    let genesis_condition = Condition::for_public_key(&genesis.public_key());
    let genesis_tx = config
        .genesis
        .transactions
        .first()
        .context("the devnet genesis block has no transaction")?;
    let genesis_id = genesis_tx.id();
    let (index, funding) = genesis_tx
        .coin_outputs
        .iter()
        .enumerate()
        .find(|(_, output)| output.condition == genesis_condition)
        .context("no genesis coin output belongs to the genesis wallet")?;

    let mut members = vec![
        key(11).public_key(),
        key(12).public_key(),
        key(13).public_key(),
    ];
    members.sort_by_key(|key| key.0);
    let outputs = vec![
        CoinOutput {
            value: coins(1_000),
            condition: Condition::Multisig(MultisigCondition {
                required: 2,
                keys: members,
            }),
        },
        CoinOutput {
            value: coins(50),
            condition: Condition::TimeLock(TimeLockCondition {
                lock: LOCKED_UNTIL,
                inner: TimeLockedCondition::PubKeyHash(
                    Address::for_public_key(&key(14).public_key()).hash,
                ),
            }),
        },
        CoinOutput {
            value: coins(25),
            condition: Condition::AtomicSwap(AtomicSwapCondition {
                sender: Address::for_public_key(&genesis.public_key()),
                receiver: Address::for_public_key(&key(15).public_key()),
                hashed_secret: [0x5a; 32],
                timelock: Timestamp(LOCKED_UNTIL),
            }),
        },
    ];
    let spent = outputs
        .iter()
        .try_fold(FEE, |sum, output| sum.checked_add(output.value))
        .context("amounts overflow")?;
    let change = funding
        .value
        .checked_sub(spent)
        .context("the genesis output is too small")?;
    let mut transfer = Transaction {
        coin_inputs: vec![CoinInput {
            parent_id: CoinOutputId::for_transaction_output(&genesis_id, index as u64),
            fulfillment: Fulfillment::Nil,
        }],
        coin_outputs: outputs,
        fee: FEE,
        arbitrary_data: b"hello from the explorer test".to_vec(),
        ..Transaction::new()
    };
    transfer.coin_outputs.push(CoinOutput {
        value: change,
        condition: genesis_condition.clone(),
    });
    sign(&mut transfer, &params, &genesis);

    let transfer_id = transfer.id();
    let change_index = transfer.coin_outputs.len() as u64 - 1;
    let paid = coins(10);
    let rest = change
        .checked_sub(paid)
        .and_then(|rest| rest.checked_sub(FEE))
        .context("the change is too small")?;
    let mut notary = Transaction {
        coin_inputs: vec![CoinInput {
            parent_id: CoinOutputId::for_transaction_output(&transfer_id, change_index),
            fulfillment: Fulfillment::Nil,
        }],
        coin_outputs: vec![
            CoinOutput {
                value: paid,
                condition: Condition::for_public_key(&key(11).public_key()),
            },
            CoinOutput {
                value: rest,
                condition: genesis_condition,
            },
        ],
        fee: FEE,
        payload: Some(Payload::Notary(ledger::payload::NotaryRecord {
            document_hash,
        })),
        ..Transaction::new()
    };
    sign(&mut notary, &params, &genesis);

    let notary_change = CoinOutputId::for_transaction_output(&notary.id(), 1);
    let (identity_lines, identity_change, identity_rest) =
        identity::seed(&params, &genesis, notary_change, rest)?;
    // The storage split's change funds whatever is seeded after storage.
    let (storage_lines, storage_change, storage_rest) =
        storage::seed(&params, &genesis, identity_change, identity_rest)?;
    // The compute split's change funds whatever is seeded after compute.
    let (compute_lines, _compute_change, _compute_rest) =
        compute::seed(&params, &genesis, storage_change, storage_rest)?;

    println!("{}", hex::encode(codec::encode(&transfer)));
    println!("{}", hex::encode(codec::encode(&notary)));
    for line in identity_lines
        .iter()
        .chain(&storage_lines)
        .chain(&compute_lines)
    {
        println!("{line}");
    }
    Ok(())
}
