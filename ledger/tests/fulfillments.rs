//! Every fulfilment rule and error path: single signatures, multisig (too
//! few, duplicate, unknown keys), time locks before/after by height and by
//! time, atomic swap claims and refunds.

mod common;

use common::{BLOCK_HEIGHT, BLOCK_TIME, input_context, secret};
use ledger::condition::{
    AtomicSwapCondition, MultisigCondition, TimeLockCondition, TimeLockedCondition,
};
use ledger::crypto::{SecretKey, SignatureError};
use ledger::fulfillment::{
    AtomicSwapClaim, AtomicSwapRefund, FulfillContext, FulfillmentError, InputKind, KeySignature,
    MultiSignatureFulfillment, SingleSignatureFulfillment, signing_message,
};
use ledger::{Address, BlockHeight, Condition, Fulfillment, Signature, Timestamp, Transaction};
use sha2::{Digest, Sha256};

fn transaction() -> Transaction {
    Transaction {
        arbitrary_data: b"fulfillment tests".to_vec(),
        ..Transaction::new()
    }
}

fn context_at(height: BlockHeight, timestamp: Timestamp) -> FulfillContext {
    input_context(&transaction(), InputKind::Coin, 0, height, timestamp)
}

fn context() -> FulfillContext {
    context_at(BLOCK_HEIGHT, BLOCK_TIME)
}

fn single(key: &SecretKey, context: &FulfillContext) -> Fulfillment {
    let public_key = key.public_key();
    Fulfillment::SingleSignature(SingleSignatureFulfillment {
        public_key,
        signature: key.sign(&signing_message(context, &public_key, None)),
    })
}

fn multi(keys: &[&SecretKey], context: &FulfillContext) -> Fulfillment {
    Fulfillment::MultiSignature(MultiSignatureFulfillment {
        pairs: keys
            .iter()
            .map(|key| {
                let public_key = key.public_key();
                KeySignature {
                    public_key,
                    signature: key.sign(&signing_message(context, &public_key, None)),
                }
            })
            .collect(),
    })
}

#[test]
fn single_signature_fulfils_its_address_and_nil() {
    let key = secret(1);
    let condition = Condition::for_public_key(&key.public_key());
    assert_eq!(
        condition.verify_fulfillment(&single(&key, &context()), &context()),
        Ok(())
    );
    assert_eq!(
        Condition::Nil.verify_fulfillment(&single(&secret(9), &context()), &context()),
        Ok(())
    );
}

#[test]
fn single_signature_by_another_key_is_refused() {
    let condition = Condition::for_public_key(&secret(1).public_key());
    let wrong = secret(2);
    assert_eq!(
        condition.verify_fulfillment(&single(&wrong, &context()), &context()),
        Err(FulfillmentError::KeyNotForAddress {
            public_key: wrong.public_key(),
            expected: Address::for_public_key(&secret(1).public_key()).hash,
        })
    );
}

#[test]
fn signature_for_another_input_or_chain_is_refused() {
    let key = secret(1);
    let condition = Condition::for_public_key(&key.public_key());
    let other_input = input_context(&transaction(), InputKind::Coin, 1, BLOCK_HEIGHT, BLOCK_TIME);
    let error = condition
        .verify_fulfillment(&single(&key, &other_input), &context())
        .unwrap_err();
    assert!(matches!(
        error,
        FulfillmentError::Signature(SignatureError::Invalid { .. })
    ));
    let other_kind = input_context(
        &transaction(),
        InputKind::BlockStake,
        0,
        BLOCK_HEIGHT,
        BLOCK_TIME,
    );
    assert!(
        condition
            .verify_fulfillment(&single(&key, &other_kind), &context())
            .is_err()
    );
    let mut other_chain = context();
    other_chain.chain_id = ledger::ChainId::for_network("testnet");
    assert!(
        condition
            .verify_fulfillment(&single(&key, &other_chain), &context())
            .is_err()
    );
}

#[test]
fn nil_and_wrong_kind_fulfillments_are_refused() {
    let condition = Condition::for_public_key(&secret(1).public_key());
    assert_eq!(
        condition.verify_fulfillment(&Fulfillment::Nil, &context()),
        Err(FulfillmentError::NilFulfillment)
    );
    assert_eq!(
        condition.verify_fulfillment(&multi(&[&secret(1)], &context()), &context()),
        Err(FulfillmentError::WrongKind {
            condition: "public-key-hash",
            fulfillment: "multisignature"
        })
    );
    assert_eq!(
        condition.verify_fulfillment(
            &Fulfillment::MultiSignature(MultiSignatureFulfillment { pairs: vec![] }),
            &context()
        ),
        Err(FulfillmentError::EmptyMultiSignature)
    );
}

fn two_of_three() -> (Condition, [SecretKey; 3]) {
    let keys = [secret(1), secret(2), secret(3)];
    let condition = Condition::Multisig(MultisigCondition::new(
        2,
        keys.iter().map(SecretKey::public_key).collect(),
    ));
    (condition, keys)
}

#[test]
fn multisig_accepts_enough_distinct_listed_keys() {
    let (condition, keys) = two_of_three();
    assert_eq!(
        condition.verify_fulfillment(&multi(&[&keys[2], &keys[0]], &context()), &context()),
        Ok(())
    );
    assert_eq!(
        condition.verify_fulfillment(
            &multi(&[&keys[0], &keys[1], &keys[2]], &context()),
            &context()
        ),
        Ok(())
    );
}

#[test]
fn multisig_too_few_signatures() {
    let (condition, keys) = two_of_three();
    assert_eq!(
        condition.verify_fulfillment(&multi(&[&keys[0]], &context()), &context()),
        Err(FulfillmentError::TooFewSignatures {
            provided: 1,
            required: 2
        })
    );
}

#[test]
fn multisig_duplicate_signer() {
    let (condition, keys) = two_of_three();
    assert_eq!(
        condition.verify_fulfillment(&multi(&[&keys[0], &keys[0]], &context()), &context()),
        Err(FulfillmentError::DuplicateSigner {
            pair: 1,
            public_key: keys[0].public_key()
        })
    );
}

#[test]
fn multisig_unknown_signer() {
    let (condition, keys) = two_of_three();
    let stranger = secret(4);
    assert_eq!(
        condition.verify_fulfillment(&multi(&[&keys[0], &stranger], &context()), &context()),
        Err(FulfillmentError::UnknownSigner {
            pair: 1,
            public_key: stranger.public_key()
        })
    );
}

#[test]
fn multisig_bad_signature_is_named() {
    let (condition, keys) = two_of_three();
    let mut fulfillment = multi(&[&keys[0], &keys[1]], &context());
    if let Fulfillment::MultiSignature(multi) = &mut fulfillment {
        multi.pairs[1].signature = Signature([7; 64]);
    }
    let error = condition
        .verify_fulfillment(&fulfillment, &context())
        .unwrap_err();
    assert_eq!(
        error,
        FulfillmentError::Signature(SignatureError::Invalid {
            origin: format!("transaction {} coin input 0", transaction().id().short()),
            public_key: keys[1].public_key()
        })
    );
}

#[test]
fn time_lock_by_height() {
    let key = secret(1);
    let condition = Condition::TimeLock(TimeLockCondition {
        lock: 100,
        inner: TimeLockedCondition::PubKeyHash(Address::for_public_key(&key.public_key()).hash),
    });
    let before = context_at(BlockHeight(99), BLOCK_TIME);
    assert_eq!(
        condition.verify_fulfillment(&single(&key, &before), &before),
        Err(FulfillmentError::LockedUntilHeight {
            until: 100,
            height: BlockHeight(99)
        })
    );
    let at = context_at(BlockHeight(100), BLOCK_TIME);
    assert_eq!(
        condition.verify_fulfillment(&single(&key, &at), &at),
        Ok(())
    );
}

#[test]
fn time_lock_by_time() {
    let key = secret(1);
    let condition = Condition::TimeLock(TimeLockCondition {
        lock: 1_700_000_000,
        inner: TimeLockedCondition::Nil,
    });
    let before = context_at(BLOCK_HEIGHT, Timestamp(1_699_999_999));
    assert_eq!(
        condition.verify_fulfillment(&single(&key, &before), &before),
        Err(FulfillmentError::LockedUntilTime {
            until: 1_700_000_000,
            timestamp: Timestamp(1_699_999_999)
        })
    );
    let at = context_at(BLOCK_HEIGHT, Timestamp(1_700_000_000));
    assert_eq!(
        condition.verify_fulfillment(&single(&key, &at), &at),
        Ok(())
    );
}

#[test]
fn time_locked_multisig_and_wrong_inner_kind() {
    let (Condition::Multisig(multisig), keys) = two_of_three() else {
        unreachable!()
    };
    let condition = Condition::TimeLock(TimeLockCondition {
        lock: 5,
        inner: TimeLockedCondition::Multisig(multisig),
    });
    assert_eq!(
        condition.verify_fulfillment(&multi(&[&keys[0], &keys[1]], &context()), &context()),
        Ok(())
    );
    assert_eq!(
        condition.verify_fulfillment(&single(&keys[0], &context()), &context()),
        Err(FulfillmentError::WrongKind {
            condition: "time lock",
            fulfillment: "single signature"
        })
    );
}

const SECRET: [u8; 32] = [0x5e; 32];
const TIMELOCK: Timestamp = Timestamp(1_700_000_000);

fn swap() -> (Condition, SecretKey, SecretKey) {
    let sender = secret(10);
    let receiver = secret(11);
    let condition = Condition::AtomicSwap(AtomicSwapCondition {
        sender: Address::for_public_key(&sender.public_key()),
        receiver: Address::for_public_key(&receiver.public_key()),
        hashed_secret: Sha256::digest(SECRET).into(),
        timelock: TIMELOCK,
    });
    (condition, sender, receiver)
}

fn claim(key: &SecretKey, secret_bytes: [u8; 32], context: &FulfillContext) -> Fulfillment {
    let public_key = key.public_key();
    Fulfillment::AtomicSwapClaim(AtomicSwapClaim {
        public_key,
        signature: key.sign(&signing_message(context, &public_key, Some(&secret_bytes))),
        secret: secret_bytes,
    })
}

fn refund(key: &SecretKey, context: &FulfillContext) -> Fulfillment {
    let public_key = key.public_key();
    Fulfillment::AtomicSwapRefund(AtomicSwapRefund {
        public_key,
        signature: key.sign(&signing_message(context, &public_key, None)),
    })
}

#[test]
fn swap_claim_with_secret_any_time() {
    let (condition, _, receiver) = swap();
    for time in [TIMELOCK.0 - 1, TIMELOCK.0 + 1_000] {
        let context = context_at(BLOCK_HEIGHT, Timestamp(time));
        assert_eq!(
            condition.verify_fulfillment(&claim(&receiver, SECRET, &context), &context),
            Ok(())
        );
    }
}

#[test]
fn swap_claim_with_wrong_secret_or_by_sender() {
    let (condition, sender, receiver) = swap();
    assert_eq!(
        condition.verify_fulfillment(&claim(&receiver, [1; 32], &context()), &context()),
        Err(FulfillmentError::WrongSecret)
    );
    assert_eq!(
        condition.verify_fulfillment(&claim(&sender, SECRET, &context()), &context()),
        Err(FulfillmentError::ClaimNotByReceiver {
            public_key: sender.public_key()
        })
    );
    assert_eq!(
        condition.verify_fulfillment(&claim(&receiver, [0; 32], &context()), &context()),
        Err(FulfillmentError::ZeroSecret)
    );
}

#[test]
fn swap_claim_signature_commits_to_the_secret() {
    let (condition, _, receiver) = swap();
    let public_key = receiver.public_key();
    let unbound = Fulfillment::AtomicSwapClaim(AtomicSwapClaim {
        public_key,
        signature: receiver.sign(&signing_message(&context(), &public_key, None)),
        secret: SECRET,
    });
    assert!(matches!(
        condition.verify_fulfillment(&unbound, &context()),
        Err(FulfillmentError::Signature(_))
    ));
}

#[test]
fn swap_refund_only_after_timelock_and_by_sender() {
    let (condition, sender, receiver) = swap();
    let at_lock = context_at(BLOCK_HEIGHT, TIMELOCK);
    assert_eq!(
        condition.verify_fulfillment(&refund(&sender, &at_lock), &at_lock),
        Err(FulfillmentError::RefundTooEarly {
            timelock: TIMELOCK,
            timestamp: TIMELOCK
        })
    );
    let after = context_at(BLOCK_HEIGHT, Timestamp(TIMELOCK.0 + 1));
    assert_eq!(
        condition.verify_fulfillment(&refund(&sender, &after), &after),
        Ok(())
    );
    assert_eq!(
        condition.verify_fulfillment(&refund(&receiver, &after), &after),
        Err(FulfillmentError::RefundNotBySender {
            public_key: receiver.public_key()
        })
    );
}
