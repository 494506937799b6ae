//! Golden byte vectors: the canonical encoding of one fixed instance of
//! every consensus type, and every derived ID, address and signing
//! message. The test fails if any byte changes. To change the format on
//! purpose, regenerate with `UPDATE_GOLDEN=1 cargo test -p ledger --test
//! golden` and review the diff.

mod common;

use common::{BLOCK_HEIGHT, BLOCK_TIME, secret, transfer_block};
use ledger::codec;
use ledger::condition::{
    AtomicSwapCondition, MultisigCondition, TimeLockCondition, TimeLockedCondition,
};
use ledger::fulfillment::{
    AtomicSwapClaim, AtomicSwapRefund, FulfillContext, InputKind, KeySignature,
    MultiSignatureFulfillment, SignedTarget, SingleSignatureFulfillment, signing_message,
};
use ledger::payload::{AuthorizedAddressOperation, MintingOperation, Nonce, NotaryRecord};
use ledger::{
    Address, AddressKind, BlockHeight, BlockStakeInput, BlockStakeOutput, BlockStakeOutputId,
    BlockStakePosition, BlockStakes, ChainId, CoinInput, CoinOutput, CoinOutputId, Condition,
    Currency, Fulfillment, Hash32, Payload, Payout, Signature, Timestamp, Transaction,
    TransactionId,
};

const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/vectors.txt");

fn hash(byte: u8) -> Hash32 {
    Hash32([byte; 32])
}

fn conditions() -> Vec<(&'static str, Condition)> {
    let keys: Vec<_> = (1..=3).map(|s| secret(s).public_key()).collect();
    let multisig = MultisigCondition::new(2, keys);
    vec![
        ("condition/nil", Condition::Nil),
        ("condition/pubkey-hash", Condition::PubKeyHash(hash(0x11))),
        ("condition/multisig", Condition::Multisig(multisig.clone())),
        (
            "condition/time-lock-height",
            Condition::TimeLock(TimeLockCondition {
                lock: 1234,
                inner: TimeLockedCondition::PubKeyHash(hash(0x12)),
            }),
        ),
        (
            "condition/time-lock-time-multisig",
            Condition::TimeLock(TimeLockCondition {
                lock: 1_800_000_000,
                inner: TimeLockedCondition::Multisig(multisig),
            }),
        ),
        (
            "condition/time-lock-nil",
            Condition::TimeLock(TimeLockCondition {
                lock: 7,
                inner: TimeLockedCondition::Nil,
            }),
        ),
        (
            "condition/atomic-swap",
            Condition::AtomicSwap(AtomicSwapCondition {
                sender: Address::new(AddressKind::PubKey, hash(0x13)),
                receiver: Address::new(AddressKind::PubKey, hash(0x14)),
                hashed_secret: [0x15; 32],
                timelock: Timestamp(1_700_000_000),
            }),
        ),
    ]
}

fn fulfillments() -> Vec<(&'static str, Fulfillment)> {
    let key = secret(1).public_key();
    vec![
        ("fulfillment/nil", Fulfillment::Nil),
        (
            "fulfillment/single",
            Fulfillment::SingleSignature(SingleSignatureFulfillment {
                public_key: key,
                signature: Signature([0x21; 64]),
            }),
        ),
        (
            "fulfillment/multi",
            Fulfillment::MultiSignature(MultiSignatureFulfillment {
                pairs: vec![
                    KeySignature {
                        public_key: key,
                        signature: Signature([0x22; 64]),
                    },
                    KeySignature {
                        public_key: secret(2).public_key(),
                        signature: Signature([0x23; 64]),
                    },
                ],
            }),
        ),
        (
            "fulfillment/swap-claim",
            Fulfillment::AtomicSwapClaim(AtomicSwapClaim {
                public_key: key,
                signature: Signature([0x24; 64]),
                secret: [0x25; 32],
            }),
        ),
        (
            "fulfillment/swap-refund",
            Fulfillment::AtomicSwapRefund(AtomicSwapRefund {
                public_key: key,
                signature: Signature([0x26; 64]),
            }),
        ),
    ]
}

fn payloads() -> Vec<(&'static str, Payload)> {
    let single = fulfillments()[1].1.clone();
    let output = CoinOutput {
        value: Currency(5),
        condition: Condition::PubKeyHash(hash(0x31)),
    };
    vec![
        (
            "payload/notary",
            Payload::Notary(NotaryRecord {
                document_hash: hash(0x32),
            }),
        ),
        (
            "payload/mint-create",
            Payload::Minting(MintingOperation::CreateCoins {
                outputs: vec![output],
                nonce: Nonce([1, 2, 3, 4, 5, 6, 7, 8]),
                mint_fulfillment: single.clone(),
            }),
        ),
        (
            "payload/mint-change",
            Payload::Minting(MintingOperation::ChangeMintCondition {
                new_condition: Condition::PubKeyHash(hash(0x33)),
                nonce: Nonce([9; 8]),
                mint_fulfillment: single.clone(),
            }),
        ),
        (
            "payload/mint-destroy",
            Payload::Minting(MintingOperation::DestroyCoins {
                nonce: Nonce([10; 8]),
            }),
        ),
        (
            "payload/auth-update",
            Payload::AuthorizedAddresses(AuthorizedAddressOperation::UpdateAddresses {
                authorize: vec![Address::new(AddressKind::PubKey, hash(0x34))],
                deauthorize: vec![Address::new(AddressKind::Multisig, hash(0x35))],
                nonce: Nonce([11; 8]),
                authority_fulfillment: single.clone(),
            }),
        ),
        (
            "payload/auth-change",
            Payload::AuthorizedAddresses(AuthorizedAddressOperation::ChangeAuthority {
                new_condition: Condition::PubKeyHash(hash(0x36)),
                nonce: Nonce([12; 8]),
                authority_fulfillment: single,
            }),
        ),
    ]
}

fn full_transaction() -> Transaction {
    Transaction {
        coin_inputs: vec![CoinInput {
            parent_id: CoinOutputId(hash(0x41)),
            fulfillment: fulfillments()[1].1.clone(),
        }],
        coin_outputs: vec![CoinOutput {
            value: Currency(1_000_000_000),
            condition: conditions()[2].1.clone(),
        }],
        blockstake_inputs: vec![BlockStakeInput {
            parent_id: BlockStakeOutputId(hash(0x42)),
            fulfillment: fulfillments()[4].1.clone(),
        }],
        blockstake_outputs: vec![BlockStakeOutput {
            value: BlockStakes(3000),
            condition: conditions()[6].1.clone(),
        }],
        fee: Currency(20_000_000),
        arbitrary_data: b"golden".to_vec(),
        payload: Some(payloads()[1].1.clone()),
        version: ledger::TransactionVersion::V1,
    }
}

fn vectors() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut add = |name: &str, bytes: &[u8]| out.push((name.to_owned(), hex::encode(bytes)));

    add("hash32", &codec::encode(&hash(0xab)));
    add("currency", &codec::encode(&Currency(12_500_000_000)));
    add("blockstakes", &codec::encode(&BlockStakes(3000)));
    add("block-height", &codec::encode(&BlockHeight(77)));
    add("timestamp", &codec::encode(&Timestamp(1_700_000_000)));
    add("public-key", &codec::encode(&secret(1).public_key()));
    add("signature", &codec::encode(&Signature([0x5a; 64])));
    add(
        "address",
        &codec::encode(&Address::new(AddressKind::Multisig, hash(0x01))),
    );
    add("nonce", &codec::encode(&Nonce([1, 2, 3, 4, 5, 6, 7, 8])));
    add(
        "address-text/pubkey",
        Address::for_public_key(&secret(1).public_key())
            .to_text("bsdev")
            .expect("valid prefix")
            .as_bytes(),
    );
    add(
        "chain-id/devnet",
        ChainId::for_network("devnet").0.as_bytes(),
    );
    for (name, condition) in conditions() {
        add(name, &codec::encode(&condition));
        add(
            &format!("{name}/address"),
            &codec::encode(&condition.address()),
        );
    }
    for (name, fulfillment) in fulfillments() {
        add(name, &codec::encode(&fulfillment));
    }
    for (name, payload) in payloads() {
        add(name, &codec::encode(&payload));
    }
    let transaction = full_transaction();
    let id = transaction.id();
    add("transaction", &codec::encode(&transaction));
    add("transaction/id", id.0.as_bytes());
    add(
        "transaction/coin-output-id-1",
        CoinOutputId::for_transaction_output(&id, 1).0.as_bytes(),
    );
    add(
        "transaction/blockstake-output-id-0",
        BlockStakeOutputId::for_transaction_output(&id, 0)
            .0
            .as_bytes(),
    );
    for (name, target) in [
        (
            "signing-message/coin-input-0",
            SignedTarget::Input {
                kind: InputKind::Coin,
                index: 0,
            },
        ),
        (
            "signing-message/blockstake-input-0",
            SignedTarget::Input {
                kind: InputKind::BlockStake,
                index: 0,
            },
        ),
        (
            "signing-message/minting",
            SignedTarget::Payload { label: b"minting" },
        ),
    ] {
        let context = FulfillContext {
            chain_id: ChainId::for_network("devnet"),
            transaction_id: id,
            target,
            height: BLOCK_HEIGHT,
            timestamp: BLOCK_TIME,
        };
        add(
            name,
            signing_message(&context, &secret(1).public_key(), None).as_bytes(),
        );
    }
    let claim_context = FulfillContext {
        chain_id: ChainId::for_network("devnet"),
        transaction_id: TransactionId(hash(0x77)),
        target: SignedTarget::Input {
            kind: InputKind::Coin,
            index: 3,
        },
        height: BLOCK_HEIGHT,
        timestamp: BLOCK_TIME,
    };
    add(
        "signing-message/swap-claim",
        signing_message(&claim_context, &secret(1).public_key(), Some(&[0x25; 32])).as_bytes(),
    );
    let signature = secret(1).sign(&signing_message(
        &claim_context,
        &secret(1).public_key(),
        None,
    ));
    add("signature/ed25519-over-message", &signature.0);

    let payout = Payout {
        value: Currency(99),
        address: Address::new(AddressKind::PubKey, hash(0x51)),
    };
    add("payout", &codec::encode(&payout));
    add(
        "block-stake-position",
        &codec::encode(&BlockStakePosition {
            height: BlockHeight(1),
            transaction_index: 2,
            output_index: 3,
        }),
    );
    let (block, _) = transfer_block(3);
    add("block/header", &codec::encode(&block.header));
    add("block/id", block.id().0.as_bytes());
    add("block/merkle-root", block.header.merkle_root.as_bytes());
    add("block/payout-id-0", block.payout_ids()[0].0.as_bytes());
    add("block", &codec::encode(&block));
    out
}

fn render(vectors: &[(String, String)]) -> String {
    let mut text = String::from(
        "# Golden vectors of the canonical encoding (name, then hex). Generated by\n\
         # ledger/tests/golden.rs; regenerate only on purpose with UPDATE_GOLDEN=1.\n",
    );
    for (name, hex) in vectors {
        text.push_str(name);
        text.push(' ');
        text.push_str(hex);
        text.push('\n');
    }
    text
}

#[test]
fn golden_vectors_are_unchanged() {
    let rendered = render(&vectors());
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(PATH, &rendered).expect("write golden vectors");
        return;
    }
    let stored = std::fs::read_to_string(PATH)
        .expect("tests/golden/vectors.txt missing: run with UPDATE_GOLDEN=1 once");
    let stored_lines: Vec<&str> = stored.lines().collect();
    for line in rendered.lines().filter(|line| !line.starts_with('#')) {
        let name = line.split(' ').next().unwrap_or_default();
        let found = stored_lines
            .iter()
            .find(|stored| stored.split(' ').next() == Some(name));
        assert_eq!(
            found.copied(),
            Some(line),
            "golden vector {name} changed or is missing"
        );
    }
    assert_eq!(stored, rendered, "golden file has extra or reordered lines");
}

#[test]
fn golden_encodings_decode_back() {
    let transaction = full_transaction();
    let bytes = codec::encode(&transaction);
    assert_eq!(codec::decode::<Transaction>(&bytes), Ok(transaction));
    let (block, _) = transfer_block(3);
    let bytes = codec::encode(&block);
    assert_eq!(codec::decode::<ledger::Block>(&bytes), Ok(block));
}
