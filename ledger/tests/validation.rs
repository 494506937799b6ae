//! Stateless validation of transactions and blocks, and signature checks
//! given the spent conditions: one test per rule, each asserting the exact
//! error.

mod common;

use common::{BLOCK_HEIGHT, params, secret, sign_coin_input, spent_id, transfer, transfer_block};
use ledger::condition::StandardnessError;
use ledger::crypto::SignatureError;
use ledger::fulfillment::{FulfillmentError, InputKind, SignedTarget, signing_message};
use ledger::payload::{MintingOperation, Nonce, NotaryRecord, PayloadError};
use ledger::validation::{
    BlockError, FeeRule, SpendError, TransactionError, check_block_signatures,
    check_transaction_signatures, validate_block, validate_transaction,
};
use ledger::{
    Address, AddressKind, BlockStakeInput, BlockStakeOutput, BlockStakeOutputId, BlockStakes,
    CoinOutput, Condition, Currency, Fulfillment, Hash32, Payload, Transaction, TransactionVersion,
};

fn check(transaction: &Transaction) -> Result<(), TransactionError> {
    validate_transaction(transaction, &params(), FeeRule::Required)
}

#[test]
fn a_signed_transfer_is_valid() {
    assert_eq!(check(&transfer(1, 1)), Ok(()));
}

#[test]
fn unsupported_version() {
    let mut tx = transfer(1, 1);
    tx.version = TransactionVersion(2);
    assert_eq!(check(&tx), Err(TransactionError::UnsupportedVersion(2)));
}

#[test]
fn arbitrary_data_limit() {
    let mut tx = transfer(1, 1);
    tx.fee = Currency(1_000_000_000);
    tx.arbitrary_data = vec![7; 1024];
    assert_eq!(check(&tx), Ok(()));
    tx.arbitrary_data.push(7);
    assert_eq!(
        check(&tx),
        Err(TransactionError::ArbitraryDataTooLarge {
            length: 1025,
            limit: 1024
        })
    );
}

#[test]
fn transaction_size_limit() {
    let mut tx = transfer(1, 1);
    let small = ledger::NetworkParams {
        transaction_size_limit: 100,
        ..params()
    };
    let size = tx.encoded_size() as u64;
    assert_eq!(
        validate_transaction(&tx, &small, FeeRule::Required),
        Err(TransactionError::TooLarge { size, limit: 100 })
    );
    tx.fee = Currency(u128::MAX);
    assert_eq!(check(&tx), Err(TransactionError::CoinOverflow));
}

#[test]
fn no_inputs() {
    assert_eq!(check(&Transaction::new()), Err(TransactionError::NoInputs));
}

#[test]
fn duplicate_and_zero_inputs() {
    let mut tx = transfer(1, 1);
    tx.coin_inputs.push(tx.coin_inputs[0].clone());
    assert_eq!(
        check(&tx),
        Err(TransactionError::DuplicateInput {
            kind: "coin",
            index: 1,
            first: 0,
            parent: spent_id(1).0
        })
    );
    let mut tx = transfer(1, 1);
    tx.coin_inputs[0].parent_id.0 = Hash32::ZERO;
    assert_eq!(
        check(&tx),
        Err(TransactionError::ZeroParentId {
            kind: "coin",
            index: 0
        })
    );
    let error = check(&{
        let mut tx = transfer(1, 1);
        tx.coin_inputs.push(tx.coin_inputs[0].clone());
        tx
    })
    .unwrap_err();
    assert!(error.to_string().starts_with("coin input 1 spends output"));
    assert!(error.to_string().contains("twice in the same transaction"));
}

#[test]
fn unsigned_input_is_not_standard() {
    let mut tx = transfer(1, 1);
    tx.coin_inputs[0].fulfillment = Fulfillment::Nil;
    assert_eq!(
        check(&tx),
        Err(TransactionError::NonStandardFulfillment {
            kind: "coin",
            index: 0,
            source: FulfillmentError::NilFulfillment
        })
    );
}

#[test]
fn zero_value_and_non_standard_outputs() {
    let mut tx = transfer(1, 1);
    tx.coin_outputs[1].value = Currency::ZERO;
    assert_eq!(
        check(&tx),
        Err(TransactionError::ZeroValueOutput {
            kind: "coin",
            index: 1
        })
    );
    let mut tx = transfer(1, 1);
    tx.coin_outputs[0].condition = Condition::PubKeyHash(Hash32::ZERO);
    assert_eq!(
        check(&tx),
        Err(TransactionError::NonStandardCondition {
            kind: "coin",
            index: 0,
            source: StandardnessError::ZeroPubKeyHash
        })
    );
    let mut tx = transfer(1, 1);
    tx.blockstake_outputs.push(BlockStakeOutput {
        value: BlockStakes::ZERO,
        condition: Condition::Nil,
    });
    assert_eq!(
        check(&tx),
        Err(TransactionError::ZeroValueOutput {
            kind: "blockstake",
            index: 0
        })
    );
}

#[test]
fn fee_below_minimum_for_size() {
    let mut tx = transfer(1, 1);
    tx.fee = Currency(10_000_000);
    let size = tx.encoded_size() as u64;
    assert_eq!(
        check(&tx),
        Err(TransactionError::FeeTooLow {
            fee: Currency(10_000_000),
            minimum: Currency(10_000_000 + 1_000 * u128::from(size)),
            size
        })
    );
    assert_eq!(
        validate_transaction(&tx, &params(), FeeRule::Exempt),
        Ok(())
    );
}

#[test]
fn payload_errors_are_reported() {
    let mut tx = transfer(1, 1);
    tx.payload = Some(Payload::Notary(NotaryRecord {
        document_hash: Hash32::ZERO,
    }));
    assert_eq!(
        check(&tx),
        Err(TransactionError::Payload(PayloadError::ZeroDocumentHash))
    );
    tx.payload = Some(Payload::Notary(NotaryRecord {
        document_hash: Hash32([1; 32]),
    }));
    assert_eq!(check(&tx), Ok(()));
}

#[test]
fn valid_block_and_typestate() {
    let (block, conditions) = transfer_block(5);
    let id = block.id();
    let valid = validate_block(block, &params()).unwrap();
    assert_eq!(valid.id(), id);
    assert_eq!(valid.transaction_ids().len(), 5);
    assert_eq!(valid.transaction_ids()[2], valid.transactions[2].id());
    assert_eq!(
        check_block_signatures(&valid, &params().chain_id, BLOCK_HEIGHT, &conditions),
        Ok(())
    );
}

#[test]
fn block_merkle_root_must_match() {
    let (mut block, _) = transfer_block(3);
    let claimed = block.header.merkle_root;
    block.transactions.pop();
    let computed = block.compute_merkle_root();
    assert_eq!(
        validate_block(block, &params()),
        Err(BlockError::MerkleRootMismatch { claimed, computed })
    );
}

#[test]
fn block_size_limit() {
    let (block, _) = transfer_block(3);
    let size = block.encoded_size() as u64;
    let small = ledger::NetworkParams {
        block_size_limit: size - 1,
        ..params()
    };
    assert_eq!(
        validate_block(block, &small),
        Err(BlockError::TooLarge {
            size,
            limit: size - 1
        })
    );
}

fn rebuilt(mut block: ledger::Block) -> ledger::Block {
    block.header.merkle_root = block.compute_merkle_root();
    block
}

#[test]
fn block_payout_rules() {
    let (mut block, _) = transfer_block(1);
    block.payouts[0].value = Currency::ZERO;
    assert_eq!(
        validate_block(rebuilt(block), &params()),
        Err(BlockError::ZeroValuePayout { index: 0 })
    );
    let (mut block, _) = transfer_block(1);
    block.payouts[0].address = Address::NIL;
    assert_eq!(
        validate_block(rebuilt(block), &params()),
        Err(BlockError::PayoutNotToPubKey {
            index: 0,
            kind: AddressKind::Nil
        })
    );
    let (mut block, _) = transfer_block(1);
    block.payouts[0].address.hash = Hash32::ZERO;
    assert_eq!(
        validate_block(rebuilt(block), &params()),
        Err(BlockError::PayoutZeroAddress { index: 0 })
    );
    let (mut block, _) = transfer_block(1);
    block.payouts[0].value = Currency(u128::MAX);
    block.payouts.push(block.payouts[0].clone());
    assert_eq!(
        validate_block(rebuilt(block), &params()),
        Err(BlockError::PayoutOverflow)
    );
}

#[test]
fn block_double_spend_and_duplicate_transaction() {
    let (mut block, _) = transfer_block(2);
    block.transactions.push(block.transactions[0].clone());
    let id = block.transactions[0].id();
    assert_eq!(
        validate_block(rebuilt(block), &params()),
        Err(BlockError::DuplicateTransaction {
            index: 2,
            first: 0,
            id
        })
    );
    let (mut block, _) = transfer_block(2);
    let mut respend = transfer(0, 9);
    respend.arbitrary_data = b"other".to_vec();
    sign_coin_input(&mut respend, 0, &secret(9));
    block.transactions.push(respend);
    assert_eq!(
        validate_block(rebuilt(block), &params()),
        Err(BlockError::DoubleSpend {
            index: 2,
            kind: "coin",
            input: 0,
            parent: spent_id(0).0,
            first_transaction: 0
        })
    );
}

#[test]
fn block_transaction_error_is_located() {
    let (mut block, _) = transfer_block(2);
    block.transactions[1].fee = Currency(1);
    let id = block.transactions[1].id();
    let error = validate_block(rebuilt(block), &params()).unwrap_err();
    assert!(matches!(
        &error,
        BlockError::Transaction { index: 1, id: found, source }
            if *found == id && matches!(**source, TransactionError::FeeTooLow { .. })
    ));
    assert!(error.to_string().starts_with("transaction 1 ("));
}

fn staking_respend() -> Transaction {
    let key = secret(3);
    let mut tx = Transaction {
        blockstake_inputs: vec![BlockStakeInput {
            parent_id: BlockStakeOutputId(Hash32([9; 32])),
            fulfillment: Fulfillment::Nil,
        }],
        blockstake_outputs: vec![BlockStakeOutput {
            value: BlockStakes(100),
            condition: Condition::for_public_key(&key.public_key()),
        }],
        ..Transaction::new()
    };
    let context = common::input_context(
        &tx,
        InputKind::BlockStake,
        0,
        BLOCK_HEIGHT,
        common::BLOCK_TIME,
    );
    let public_key = key.public_key();
    tx.blockstake_inputs[0].fulfillment =
        Fulfillment::SingleSignature(ledger::fulfillment::SingleSignatureFulfillment {
            public_key,
            signature: key.sign(&signing_message(&context, &public_key, None)),
        });
    tx
}

#[test]
fn first_blockstake_only_transaction_is_fee_exempt() {
    let (mut block, mut conditions) = transfer_block(2);
    block.transactions.insert(0, staking_respend());
    let valid = validate_block(rebuilt(block.clone()), &params()).unwrap();
    conditions.blockstake_outputs.insert(
        BlockStakeOutputId(Hash32([9; 32])),
        Condition::for_public_key(&secret(3).public_key()),
    );
    assert_eq!(
        check_block_signatures(&valid, &params().chain_id, BLOCK_HEIGHT, &conditions),
        Ok(())
    );
    // Anywhere else it must pay.
    block.transactions.swap(0, 1);
    assert!(matches!(
        validate_block(rebuilt(block), &params()),
        Err(BlockError::Transaction { index: 1, .. })
    ));
}

#[test]
fn block_signatures_name_the_failing_input() {
    let (mut block, conditions) = transfer_block(4);
    block.transactions[2].coin_outputs[0].value = Currency(1);
    let tampered = block.transactions[2].id();
    let valid = validate_block(rebuilt(block), &params()).unwrap();
    let error =
        check_block_signatures(&valid, &params().chain_id, BLOCK_HEIGHT, &conditions).unwrap_err();
    assert_eq!(
        error,
        SpendError::Signature(SignatureError::Invalid {
            origin: format!("transaction {} coin input 0", tampered.short()),
            public_key: secret(3).public_key()
        })
    );
}

#[test]
fn unknown_spent_output() {
    let tx = transfer(1, 1);
    let conditions = ledger::validation::InMemoryConditions::default();
    assert_eq!(
        check_transaction_signatures(
            &tx,
            &params().chain_id,
            BLOCK_HEIGHT,
            common::BLOCK_TIME,
            &conditions
        ),
        Err(SpendError::UnknownCoinOutput {
            transaction: tx.id(),
            input: 0,
            parent: spent_id(1)
        })
    );
}

#[test]
fn spent_condition_mismatch_is_a_fulfillment_error() {
    let tx = transfer(1, 1);
    let mut conditions = ledger::validation::InMemoryConditions::default();
    conditions.coin_outputs.insert(
        spent_id(1),
        Condition::for_public_key(&secret(2).public_key()),
    );
    let error = check_transaction_signatures(
        &tx,
        &params().chain_id,
        BLOCK_HEIGHT,
        common::BLOCK_TIME,
        &conditions,
    )
    .unwrap_err();
    assert!(matches!(
        &error,
        SpendError::Fulfillment { what, source, .. }
            if what == "coin input 0"
                && matches!(**source, FulfillmentError::KeyNotForAddress { .. })
    ));
}

fn minting_transaction(mint_key: &ledger::SecretKey) -> Transaction {
    let mut tx = transfer(1, 1);
    tx.fee = Currency(100_000_000);
    tx.payload = Some(Payload::Minting(MintingOperation::CreateCoins {
        outputs: vec![CoinOutput {
            value: Currency(77),
            condition: Condition::for_public_key(&secret(5).public_key()),
        }],
        nonce: Nonce([1; 8]),
        mint_fulfillment: Fulfillment::Nil,
    }));
    sign_coin_input(&mut tx, 0, &secret(1));
    let context = ledger::fulfillment::FulfillContext {
        chain_id: params().chain_id,
        transaction_id: tx.id(),
        target: SignedTarget::Payload { label: b"minting" },
        height: BLOCK_HEIGHT,
        timestamp: common::BLOCK_TIME,
    };
    let public_key = mint_key.public_key();
    let signature = mint_key.sign(&signing_message(&context, &public_key, None));
    if let Some(Payload::Minting(MintingOperation::CreateCoins {
        mint_fulfillment, ..
    })) = &mut tx.payload
    {
        *mint_fulfillment =
            Fulfillment::SingleSignature(ledger::fulfillment::SingleSignatureFulfillment {
                public_key,
                signature,
            });
    }
    tx
}

#[test]
fn payload_authorization_is_checked_against_state_condition() {
    let mint_key = secret(40);
    let tx = minting_transaction(&mint_key);
    assert_eq!(check(&tx), Ok(()));
    assert_eq!(tx.created_coin_outputs().count(), 3);
    let mut conditions = ledger::validation::InMemoryConditions::default();
    conditions.coin_outputs.insert(
        spent_id(1),
        Condition::for_public_key(&secret(1).public_key()),
    );
    let chain = params().chain_id;
    let run = |conditions: &ledger::validation::InMemoryConditions| {
        check_transaction_signatures(&tx, &chain, BLOCK_HEIGHT, common::BLOCK_TIME, conditions)
    };
    assert_eq!(
        run(&conditions),
        Err(SpendError::NoPayloadCondition {
            transaction: tx.id(),
            payload: "minting".into()
        })
    );
    conditions.payload_conditions.insert(
        b"minting",
        Condition::for_public_key(&mint_key.public_key()),
    );
    assert_eq!(run(&conditions), Ok(()));
    conditions.payload_conditions.insert(
        b"minting",
        Condition::for_public_key(&secret(41).public_key()),
    );
    assert!(matches!(
        run(&conditions),
        Err(SpendError::Fulfillment { what, .. }) if what == "minting authorization"
    ));
}
