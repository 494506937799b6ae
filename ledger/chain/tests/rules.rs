//! Stateful rules end to end through the chain: atomic swap claim and
//! refund, multisig with too few or duplicate signatures, time locks
//! before and after their time, minting by a non-minter, authorized
//! addresses, coin balance, and that every refused block leaves the state
//! exactly as it was.

mod common;

use chain::ChainError;
use chain::validation::{BlockRuleError, TransactionRuleError};
use common::{FEE, Net, coins, key, sign_coin_inputs, test_config};
use ledger::condition::{
    AtomicSwapCondition, MultisigCondition, TimeLockCondition, TimeLockedCondition,
};
use ledger::crypto::SecretKey;
use ledger::fulfillment::{
    AtomicSwapClaim, AtomicSwapRefund, FulfillContext, FulfillmentError, InputKind, KeySignature,
    MultiSignatureFulfillment, SignedTarget, SingleSignatureFulfillment, signing_message,
};
use ledger::payload::{AuthorizedAddressOperation, MintingOperation, Nonce, Payload};
use ledger::validation::SpendError;
use ledger::{
    Address, BlockHeight, CoinInput, CoinOutput, CoinOutputId, Condition, Currency, Fulfillment,
    Timestamp, Transaction,
};
use sha2::{Digest, Sha256};

fn input_message(
    net: &Net,
    tx: &Transaction,
    index: u64,
    key: &SecretKey,
    secret: Option<&[u8; 32]>,
) -> ledger::Signature {
    let context = Transaction::input_context(
        &tx.id(),
        &net.params(),
        InputKind::Coin,
        index,
        BlockHeight(0),
        Timestamp(0),
    );
    key.sign(&signing_message(&context, &key.public_key(), secret))
}

fn payload_signature(
    net: &Net,
    tx: &Transaction,
    label: &'static [u8],
    key: &SecretKey,
) -> Fulfillment {
    let context = FulfillContext {
        chain_id: net.params().chain_id,
        transaction_id: tx.id(),
        target: SignedTarget::Payload { label },
        height: BlockHeight(0),
        timestamp: Timestamp(0),
    };
    let public_key = key.public_key();
    Fulfillment::SingleSignature(SingleSignatureFulfillment {
        public_key,
        signature: key.sign(&signing_message(&context, &public_key, None)),
    })
}

/// Sends `amount` from seed 1 to `condition` in a mined block; returns the
/// new output's ID.
fn fund(net: &mut Net, condition: Condition, amount: Currency) -> CoinOutputId {
    let tx = net.transfer(&key(1), condition, amount, FEE);
    let id = CoinOutputId::for_transaction_output(&tx.id(), 0);
    net.mine(vec![tx]);
    id
}

/// A transaction spending `parent` (worth `value`) to seed 4, unsigned.
fn spend(parent: CoinOutputId, value: Currency) -> Transaction {
    Transaction {
        coin_inputs: vec![CoinInput {
            parent_id: parent,
            fulfillment: Fulfillment::Nil,
        }],
        coin_outputs: vec![CoinOutput {
            value: value.checked_sub(FEE).expect("value above fee"),
            condition: Condition::for_public_key(&key(4).public_key()),
        }],
        fee: FEE,
        ..Transaction::new()
    }
}

/// Offers a block with `tx`; expects it refused with the transaction rule
/// error `check` accepts, and the state unchanged.
fn refused(net: &mut Net, tx: Transaction, check: impl Fn(&TransactionRuleError) -> bool) {
    let before = net.chain.state().commitment();
    let tip = net.chain.tip().id;
    let block = net.next_block(vec![tx]);
    let error = net
        .accept(block.clone())
        .expect_err("block must be refused");
    match &error {
        ChainError::Rules { source, .. } => match source.as_ref() {
            BlockRuleError::Transaction {
                index: 1, source, ..
            } => {
                assert!(check(source), "unexpected rule error: {source}")
            }
            other => panic!("unexpected block error: {other}"),
        },
        other => panic!("unexpected chain error: {other}"),
    }
    assert!(net.chain.is_known_invalid(&block.id()));
    assert_eq!(
        net.chain.state().commitment(),
        before,
        "state changed by a refused block"
    );
    assert_eq!(net.chain.tip().id, tip);
}

fn fulfillment_error(error: &TransactionRuleError) -> Option<&FulfillmentError> {
    match error {
        TransactionRuleError::Spend(SpendError::Fulfillment { source, .. }) => Some(source),
        _ => None,
    }
}

#[test]
fn atomic_swap_claim_and_refund() {
    let mut net = Net::new(test_config());
    net.mine(Vec::new());
    let secret = [42u8; 32];
    let now = net.chain.tip().timestamp;
    let swap = |timelock| {
        Condition::AtomicSwap(AtomicSwapCondition {
            sender: Address::for_public_key(&key(1).public_key()),
            receiver: Address::for_public_key(&key(4).public_key()),
            hashed_secret: Sha256::digest(secret).into(),
            timelock,
        })
    };
    let timelock = Timestamp(now.0 + 100_000);
    let claimable = fund(&mut net, swap(timelock), coins(10));

    // Claim with the wrong secret.
    let mut tx = spend(claimable, coins(10));
    let wrong = [7u8; 32];
    tx.coin_inputs[0].fulfillment = Fulfillment::AtomicSwapClaim(AtomicSwapClaim {
        public_key: key(4).public_key(),
        signature: input_message(&net, &tx, 0, &key(4), Some(&wrong)),
        secret: wrong,
    });
    refused(&mut net, tx, |e| {
        fulfillment_error(e) == Some(&FulfillmentError::WrongSecret)
    });

    // Refund before the timelock.
    let mut tx = spend(claimable, coins(10));
    tx.coin_inputs[0].fulfillment = Fulfillment::AtomicSwapRefund(AtomicSwapRefund {
        public_key: key(1).public_key(),
        signature: input_message(&net, &tx, 0, &key(1), None),
    });
    refused(&mut net, tx, |e| {
        matches!(
            fulfillment_error(e),
            Some(FulfillmentError::RefundTooEarly { .. })
        )
    });

    // The receiver claims with the secret.
    let mut tx = spend(claimable, coins(10));
    tx.coin_inputs[0].fulfillment = Fulfillment::AtomicSwapClaim(AtomicSwapClaim {
        public_key: key(4).public_key(),
        signature: input_message(&net, &tx, 0, &key(4), Some(&secret)),
        secret,
    });
    let claimed = CoinOutputId::for_transaction_output(&tx.id(), 0);
    net.mine(vec![tx]);
    assert!(net.chain.state().coin_output(&claimable).is_none());
    assert!(net.chain.state().coin_output(&claimed).is_some());

    // A swap whose timelock passes is refunded to the sender.
    let short = Timestamp(net.chain.tip().timestamp.0 + 5);
    let refundable = fund(&mut net, swap(short), coins(3));
    while net.chain.tip().timestamp <= short {
        net.mine(Vec::new());
    }
    let mut tx = spend(refundable, coins(3));
    tx.coin_inputs[0].fulfillment = Fulfillment::AtomicSwapRefund(AtomicSwapRefund {
        public_key: key(1).public_key(),
        signature: input_message(&net, &tx, 0, &key(1), None),
    });
    net.mine(vec![tx]);
    assert!(net.chain.state().coin_output(&refundable).is_none());
}

#[test]
fn multisig_needs_enough_distinct_listed_signers() {
    let mut net = Net::new(test_config());
    let signers = [key(7), key(8), key(9)];
    let condition = Condition::Multisig(MultisigCondition::new(
        2,
        signers.iter().map(SecretKey::public_key).collect(),
    ));
    let locked = fund(&mut net, condition, coins(5));
    let multisig = |net: &Net, tx: &Transaction, keys: &[&SecretKey]| {
        Fulfillment::MultiSignature(MultiSignatureFulfillment {
            pairs: keys
                .iter()
                .map(|k| KeySignature {
                    public_key: k.public_key(),
                    signature: input_message(net, tx, 0, k, None),
                })
                .collect(),
        })
    };

    let mut tx = spend(locked, coins(5));
    tx.coin_inputs[0].fulfillment = multisig(&net, &tx, &[&signers[0]]);
    refused(&mut net, tx, |e| {
        fulfillment_error(e)
            == Some(&FulfillmentError::TooFewSignatures {
                provided: 1,
                required: 2,
            })
    });

    let mut tx = spend(locked, coins(5));
    tx.coin_inputs[0].fulfillment = multisig(&net, &tx, &[&signers[1], &signers[1]]);
    refused(&mut net, tx, |e| {
        matches!(
            fulfillment_error(e),
            Some(FulfillmentError::DuplicateSigner { pair: 1, .. })
        )
    });

    let mut tx = spend(locked, coins(5));
    tx.coin_inputs[0].fulfillment = multisig(&net, &tx, &[&signers[0], &key(10)]);
    refused(&mut net, tx, |e| {
        matches!(
            fulfillment_error(e),
            Some(FulfillmentError::UnknownSigner { pair: 1, .. })
        )
    });

    let mut tx = spend(locked, coins(5));
    tx.coin_inputs[0].fulfillment = multisig(&net, &tx, &[&signers[2], &signers[0]]);
    net.mine(vec![tx]);
    assert!(net.chain.state().coin_output(&locked).is_none());
}

#[test]
fn time_lock_before_and_after_its_height_and_time() {
    let mut net = Net::new(test_config());
    let owner = key(4);
    let until_height = net.chain.height().0 + 6;
    let by_height = fund(
        &mut net,
        Condition::TimeLock(TimeLockCondition {
            lock: until_height,
            inner: TimeLockedCondition::PubKeyHash(
                Address::for_public_key(&owner.public_key()).hash,
            ),
        }),
        coins(2),
    );
    let until_time = net.chain.tip().timestamp.0 + 200;
    let by_time = fund(
        &mut net,
        Condition::TimeLock(TimeLockCondition {
            lock: until_time,
            inner: TimeLockedCondition::PubKeyHash(
                Address::for_public_key(&owner.public_key()).hash,
            ),
        }),
        coins(2),
    );
    let signed = |net: &Net, parent| {
        let mut tx = spend(parent, coins(2));
        sign_coin_inputs(&mut tx, &net.params(), &owner);
        tx
    };
    let tx = signed(&net, by_height);
    refused(&mut net, tx, |e| {
        matches!(
            fulfillment_error(e),
            Some(FulfillmentError::LockedUntilHeight { .. })
        )
    });
    let tx = signed(&net, by_time);
    refused(&mut net, tx, |e| {
        matches!(
            fulfillment_error(e),
            Some(FulfillmentError::LockedUntilTime { .. })
        )
    });
    while net.chain.height().0 + 1 < until_height || net.chain.tip().timestamp.0 + 1 < until_time {
        net.mine(Vec::new());
    }
    let a = signed(&net, by_height);
    let b = signed(&net, by_time);
    net.mine(vec![a, b]);
    assert!(net.chain.state().coin_output(&by_height).is_none());
    assert!(net.chain.state().coin_output(&by_time).is_none());
}

fn mint_transaction(net: &Net, signer: &SecretKey, amount: Currency, nonce: u8) -> Transaction {
    // The fee comes from seed 1's coins; minted outputs come from nothing.
    let mut tx = net.transfer(
        &key(1),
        Condition::for_public_key(&key(1).public_key()),
        coins(1),
        FEE,
    );
    tx.payload = Some(Payload::Minting(MintingOperation::CreateCoins {
        outputs: vec![CoinOutput {
            value: amount,
            condition: Condition::for_public_key(&key(4).public_key()),
        }],
        nonce: Nonce([nonce; 8]),
        mint_fulfillment: Fulfillment::Nil,
    }));
    sign_coin_inputs(&mut tx, &net.params(), &key(1));
    let authorization = payload_signature(net, &tx, b"minting", signer);
    if let Some(Payload::Minting(MintingOperation::CreateCoins {
        mint_fulfillment, ..
    })) = &mut tx.payload
    {
        *mint_fulfillment = authorization;
    }
    tx
}

#[test]
fn minting_only_by_the_mint_condition_and_it_can_change_hands() {
    let mut net = Net::new(test_config());
    let not_minter = key(4);
    let minter = key(5);
    let tx = mint_transaction(&net, &not_minter, coins(1000), 1);
    refused(&mut net, tx, |e| {
        matches!(
            fulfillment_error(e),
            Some(FulfillmentError::KeyNotForAddress { .. })
        )
    });

    let tx = mint_transaction(&net, &minter, coins(1000), 2);
    let minted = CoinOutputId::for_transaction_output(&tx.id(), 2);
    let update_events = {
        let block = net.next_block(vec![tx]);
        net.accept(block).expect("valid mint").events
    };
    assert_eq!(
        net.chain.state().coin_output(&minted).map(|o| o.value),
        Some(coins(1000))
    );
    assert!(update_events.iter().any(|e| matches!(
        e.body,
        chain::EventBody::CoinOutputCreated { minted: true, .. }
    )));

    // Hand minting to seed 4; seed 5 can no longer mint.
    let mut change = net.transfer(
        &key(1),
        Condition::for_public_key(&key(1).public_key()),
        coins(1),
        FEE,
    );
    change.payload = Some(Payload::Minting(MintingOperation::ChangeMintCondition {
        new_condition: Condition::for_public_key(&not_minter.public_key()),
        nonce: Nonce([3; 8]),
        mint_fulfillment: Fulfillment::Nil,
    }));
    sign_coin_inputs(&mut change, &net.params(), &key(1));
    let authorization = payload_signature(&net, &change, b"minting", &minter);
    if let Some(Payload::Minting(MintingOperation::ChangeMintCondition {
        mint_fulfillment, ..
    })) = &mut change.payload
    {
        *mint_fulfillment = authorization;
    }
    net.mine(vec![change]);
    let tx = mint_transaction(&net, &minter, coins(1), 4);
    refused(&mut net, tx, |e| {
        matches!(
            fulfillment_error(e),
            Some(FulfillmentError::KeyNotForAddress { .. })
        )
    });
    net.mine(vec![mint_transaction(&net, &not_minter, coins(1), 5)]);
}

#[test]
fn coins_must_balance_and_inputs_must_exist() {
    let mut net = Net::new(test_config());
    let mut tx = net.transfer(
        &key(1),
        Condition::for_public_key(&key(4).public_key()),
        coins(1),
        FEE,
    );
    tx.coin_outputs[0].value = Currency(tx.coin_outputs[0].value.0 + 1);
    sign_coin_inputs(&mut tx, &net.params(), &key(1));
    refused(&mut net, tx, |e| {
        matches!(e, TransactionRuleError::CoinImbalance { .. })
    });

    let mut tx = spend(CoinOutputId(ledger::Hash32([9; 32])), coins(1));
    sign_coin_inputs(&mut tx, &net.params(), &key(1));
    refused(&mut net, tx, |e| {
        matches!(e, TransactionRuleError::UnknownCoinOutput { input: 0, .. })
    });

    // Someone else's key cannot spend seed 1's coins.
    let mut tx = net.transfer(
        &key(1),
        Condition::for_public_key(&key(4).public_key()),
        coins(1),
        FEE,
    );
    sign_coin_inputs(&mut tx, &net.params(), &key(4));
    refused(&mut net, tx, |e| {
        matches!(
            fulfillment_error(e),
            Some(FulfillmentError::KeyNotForAddress { .. })
        )
    });
}

#[test]
fn authorized_addresses_gate_coin_transfers() {
    let config = common::config_with(
        &[("initial_target", &format!("\"{}\"", "f".repeat(64)))],
        true,
    );
    let mut net = Net::new(config);
    let stranger = Condition::for_public_key(&key(7).public_key());
    let tx = net.transfer(&key(1), stranger.clone(), coins(1), FEE);
    refused(&mut net, tx, |e| {
        matches!(e, TransactionRuleError::UnauthorizedAddress { .. })
    });

    let address = Address::for_public_key(&key(7).public_key());
    let mut update = net.transfer(
        &key(1),
        Condition::for_public_key(&key(1).public_key()),
        coins(1),
        FEE,
    );
    update.payload = Some(Payload::AuthorizedAddresses(
        AuthorizedAddressOperation::UpdateAddresses {
            authorize: vec![address],
            deauthorize: Vec::new(),
            nonce: Nonce([1; 8]),
            authority_fulfillment: Fulfillment::Nil,
        },
    ));
    sign_coin_inputs(&mut update, &net.params(), &key(1));
    let authorization = payload_signature(&net, &update, b"authorized-addresses", &key(6));
    if let Some(Payload::AuthorizedAddresses(AuthorizedAddressOperation::UpdateAddresses {
        authority_fulfillment,
        ..
    })) = &mut update.payload
    {
        *authority_fulfillment = authorization;
    }
    net.mine(vec![update]);
    assert!(net.chain.state().is_authorized(&address));
    let tx = net.transfer(&key(1), stranger, coins(1), FEE);
    net.mine(vec![tx]);
}
