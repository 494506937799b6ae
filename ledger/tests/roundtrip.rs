//! Property tests of the codec: every consensus type round-trips
//! (encode → decode gives the original), and decoding arbitrary or
//! mutated bytes never panics and, when it succeeds, the bytes were the
//! value's one canonical encoding.

mod common;

use ledger::codec::{self, Canonical};
use ledger::condition::{
    AtomicSwapCondition, MultisigCondition, TimeLockCondition, TimeLockedCondition,
};
use ledger::fulfillment::{
    AtomicSwapClaim, AtomicSwapRefund, KeySignature, MultiSignatureFulfillment,
    SingleSignatureFulfillment,
};
use ledger::payload::{AuthorizedAddressOperation, MintingOperation, Nonce, NotaryRecord};
use ledger::validation::{FeeRule, validate_block, validate_transaction};
use ledger::{
    Address, AddressKind, Block, BlockHeader, BlockHeight, BlockId, BlockStakeInput,
    BlockStakeOutput, BlockStakeOutputId, BlockStakePosition, BlockStakes, CoinInput, CoinOutput,
    CoinOutputId, Condition, Currency, Fulfillment, Hash32, Payload, Payout, PublicKey, Signature,
    Timestamp, Transaction, TransactionVersion,
};
use proptest::collection::vec;
use proptest::prelude::*;

fn hash() -> impl Strategy<Value = Hash32> {
    any::<[u8; 32]>().prop_map(Hash32)
}

fn public_key() -> impl Strategy<Value = PublicKey> {
    any::<[u8; 32]>().prop_map(PublicKey)
}

fn signature() -> impl Strategy<Value = Signature> {
    (any::<[u8; 32]>(), any::<[u8; 32]>()).prop_map(|(a, b)| {
        let mut bytes = [0u8; 64];
        bytes[..32].copy_from_slice(&a);
        bytes[32..].copy_from_slice(&b);
        Signature(bytes)
    })
}

fn address() -> impl Strategy<Value = Address> {
    (
        prop_oneof![
            Just(AddressKind::Nil),
            Just(AddressKind::PubKey),
            Just(AddressKind::Multisig),
            Just(AddressKind::AtomicSwap)
        ],
        hash(),
    )
        .prop_map(|(kind, hash)| Address { kind, hash })
}

fn multisig() -> impl Strategy<Value = MultisigCondition> {
    (any::<u64>(), vec(public_key(), 0..4))
        .prop_map(|(required, keys)| MultisigCondition { required, keys })
}

fn condition() -> impl Strategy<Value = Condition> {
    let time_locked = prop_oneof![
        Just(TimeLockedCondition::Nil),
        hash().prop_map(TimeLockedCondition::PubKeyHash),
        multisig().prop_map(TimeLockedCondition::Multisig),
    ];
    prop_oneof![
        Just(Condition::Nil),
        hash().prop_map(Condition::PubKeyHash),
        multisig().prop_map(Condition::Multisig),
        (any::<u64>(), time_locked)
            .prop_map(|(lock, inner)| Condition::TimeLock(TimeLockCondition { lock, inner })),
        (address(), address(), any::<[u8; 32]>(), any::<u64>()).prop_map(
            |(sender, receiver, hashed_secret, timelock)| {
                Condition::AtomicSwap(AtomicSwapCondition {
                    sender,
                    receiver,
                    hashed_secret,
                    timelock: Timestamp(timelock),
                })
            }
        ),
    ]
}

fn fulfillment() -> impl Strategy<Value = Fulfillment> {
    prop_oneof![
        Just(Fulfillment::Nil),
        (public_key(), signature()).prop_map(|(public_key, signature)| {
            Fulfillment::SingleSignature(SingleSignatureFulfillment {
                public_key,
                signature,
            })
        }),
        vec(
            (public_key(), signature()).prop_map(|(public_key, signature)| KeySignature {
                public_key,
                signature
            }),
            0..3
        )
        .prop_map(|pairs| Fulfillment::MultiSignature(MultiSignatureFulfillment { pairs })),
        (public_key(), signature(), any::<[u8; 32]>()).prop_map(
            |(public_key, signature, secret)| {
                Fulfillment::AtomicSwapClaim(AtomicSwapClaim {
                    public_key,
                    signature,
                    secret,
                })
            }
        ),
        (public_key(), signature()).prop_map(|(public_key, signature)| {
            Fulfillment::AtomicSwapRefund(AtomicSwapRefund {
                public_key,
                signature,
            })
        }),
    ]
}

fn coin_output() -> impl Strategy<Value = CoinOutput> {
    (any::<u128>(), condition()).prop_map(|(value, condition)| CoinOutput {
        value: Currency(value),
        condition,
    })
}

fn nonce() -> impl Strategy<Value = Nonce> {
    any::<[u8; 8]>().prop_map(Nonce)
}

fn payload() -> impl Strategy<Value = Payload> {
    prop_oneof![
        hash().prop_map(|document_hash| Payload::Notary(NotaryRecord { document_hash })),
        (vec(coin_output(), 0..3), nonce(), fulfillment()).prop_map(
            |(outputs, nonce, mint_fulfillment)| {
                Payload::Minting(MintingOperation::CreateCoins {
                    outputs,
                    nonce,
                    mint_fulfillment,
                })
            }
        ),
        (condition(), nonce(), fulfillment()).prop_map(
            |(new_condition, nonce, mint_fulfillment)| {
                Payload::Minting(MintingOperation::ChangeMintCondition {
                    new_condition,
                    nonce,
                    mint_fulfillment,
                })
            }
        ),
        nonce().prop_map(|nonce| Payload::Minting(MintingOperation::DestroyCoins { nonce })),
        (
            vec(address(), 0..3),
            vec(address(), 0..3),
            nonce(),
            fulfillment()
        )
            .prop_map(|(authorize, deauthorize, nonce, authority_fulfillment)| {
                Payload::AuthorizedAddresses(AuthorizedAddressOperation::UpdateAddresses {
                    authorize,
                    deauthorize,
                    nonce,
                    authority_fulfillment,
                })
            }),
        (condition(), nonce(), fulfillment()).prop_map(
            |(new_condition, nonce, authority_fulfillment)| {
                Payload::AuthorizedAddresses(AuthorizedAddressOperation::ChangeAuthority {
                    new_condition,
                    nonce,
                    authority_fulfillment,
                })
            }
        ),
    ]
}

fn transaction() -> impl Strategy<Value = Transaction> {
    (
        any::<u8>(),
        vec(
            (hash(), fulfillment()).prop_map(|(h, fulfillment)| CoinInput {
                parent_id: CoinOutputId(h),
                fulfillment,
            }),
            0..3,
        ),
        vec(coin_output(), 0..3),
        vec(
            (hash(), fulfillment()).prop_map(|(h, fulfillment)| BlockStakeInput {
                parent_id: BlockStakeOutputId(h),
                fulfillment,
            }),
            0..2,
        ),
        vec(
            (any::<u64>(), condition()).prop_map(|(value, condition)| BlockStakeOutput {
                value: BlockStakes(value),
                condition,
            }),
            0..2,
        ),
        any::<u128>(),
        vec(any::<u8>(), 0..40),
        proptest::option::of(payload()),
    )
        .prop_map(
            |(version, coin_inputs, coin_outputs, bs_inputs, bs_outputs, fee, data, payload)| {
                Transaction {
                    version: TransactionVersion(version),
                    coin_inputs,
                    coin_outputs,
                    blockstake_inputs: bs_inputs,
                    blockstake_outputs: bs_outputs,
                    fee: Currency(fee),
                    arbitrary_data: data,
                    payload,
                }
            },
        )
}

fn header() -> impl Strategy<Value = BlockHeader> {
    (hash(), any::<u64>(), any::<(u64, u64, u64)>(), hash()).prop_map(
        |(parent, timestamp, (height, tx, out), merkle_root)| BlockHeader {
            parent: BlockId(parent),
            timestamp: Timestamp(timestamp),
            stake_output: BlockStakePosition {
                height: BlockHeight(height),
                transaction_index: tx,
                output_index: out,
            },
            merkle_root,
        },
    )
}

fn block() -> impl Strategy<Value = Block> {
    (
        header(),
        vec(
            (any::<u128>(), address()).prop_map(|(value, address)| Payout {
                value: Currency(value),
                address,
            }),
            0..3,
        ),
        vec(transaction(), 0..3),
    )
        .prop_map(|(header, payouts, transactions)| Block {
            header,
            payouts,
            transactions,
        })
}

fn round_trips<T: Canonical + PartialEq + std::fmt::Debug>(value: &T) -> Result<(), TestCaseError> {
    let bytes = codec::encode(value);
    prop_assert_eq!(codec::encoded_len(value), bytes.len());
    let decoded: T = codec::decode(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(&decoded, value);
    Ok(())
}

fn decode_is_canonical<T: Canonical>(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(value) = codec::decode::<T>(bytes) {
        prop_assert_eq!(codec::encode(&value), bytes);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn scalars_round_trip(h in hash(), c in any::<u128>(), b in any::<u64>(), n in nonce(),
                          k in public_key(), s in signature(), a in address()) {
        round_trips(&h)?;
        round_trips(&Currency(c))?;
        round_trips(&BlockStakes(b))?;
        round_trips(&BlockHeight(b))?;
        round_trips(&Timestamp(b))?;
        round_trips(&n)?;
        round_trips(&k)?;
        round_trips(&s)?;
        round_trips(&a)?;
        round_trips(&CoinOutputId(h))?;
        round_trips(&BlockStakeOutputId(h))?;
        round_trips(&BlockId(h))?;
    }

    #[test]
    fn conditions_round_trip(value in condition()) {
        round_trips(&value)?;
    }

    #[test]
    fn fulfillments_round_trip(value in fulfillment()) {
        round_trips(&value)?;
    }

    #[test]
    fn payloads_round_trip(value in payload()) {
        round_trips(&value)?;
    }

    #[test]
    fn transactions_round_trip(value in transaction()) {
        round_trips(&value)?;
        prop_assert_eq!(value.id(), value.without_fulfillments().id());
    }

    #[test]
    fn headers_and_blocks_round_trip(h in header(), value in block()) {
        round_trips(&h)?;
        round_trips(&value)?;
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..512)) {
        decode_is_canonical::<Transaction>(&bytes)?;
        decode_is_canonical::<Block>(&bytes)?;
        decode_is_canonical::<Condition>(&bytes)?;
        decode_is_canonical::<Fulfillment>(&bytes)?;
        decode_is_canonical::<Payload>(&bytes)?;
        decode_is_canonical::<Address>(&bytes)?;
    }

    #[test]
    fn mutated_transactions_never_panic(value in transaction(),
                                        flips in vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
                                        cut in any::<prop::sample::Index>()) {
        let mut bytes = codec::encode(&value);
        for (index, byte) in flips {
            let at = index.index(bytes.len());
            bytes[at] = byte;
        }
        decode_is_canonical::<Transaction>(&bytes)?;
        if let Ok(decoded) = codec::decode::<Transaction>(&bytes) {
            let _ = validate_transaction(&decoded, &ledger::NetworkParams::devnet(), FeeRule::Required);
        }
        let truncated = &bytes[..cut.index(bytes.len())];
        prop_assert!(codec::decode::<Transaction>(truncated).is_err());
    }

    #[test]
    fn mutated_blocks_never_panic(value in block(),
                                  flips in vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)) {
        let mut bytes = codec::encode(&value);
        for (index, byte) in flips {
            let at = index.index(bytes.len());
            bytes[at] = byte;
        }
        decode_is_canonical::<Block>(&bytes)?;
        if let Ok(decoded) = codec::decode::<Block>(&bytes) {
            let _ = validate_block(decoded, &ledger::NetworkParams::devnet());
        }
    }
}
