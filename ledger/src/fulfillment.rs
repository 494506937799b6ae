//! Fulfillments: what a spender shows to satisfy a condition, and the
//! rules deciding whether it does.
//!
//! Checking a fulfillment does everything except the ed25519 arithmetic:
//! it checks keys against addresses, secrets against hashes and locks
//! against the block's height and time, then queues each needed signature
//! into a [`SignatureBatch`]. The caller verifies the batch once per
//! transaction or once per block.
//!
//! Every signature signs a transcript (see [`signing_message`]) over the
//! transaction ID (which excludes fulfillments), what is being authorized
//! (which input, or which payload), the signer's public key and, for an
//! atomic swap claim, the secret.

use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::address::Address;
use crate::condition::{
    AtomicSwapCondition, Condition, LockTime, MultisigCondition, TimeLockedCondition,
};
use crate::crypto::{
    ChainId, PublicKey, Signature, SignatureBatch, SignatureError, SigningMessage, SigningPurpose,
    SigningTranscript,
};
use crate::types::{BlockHeight, Hash32, Timestamp, TransactionId};

/// The most signature pairs a multisig fulfillment may carry.
pub const MAX_MULTISIG_PAIRS: usize = crate::condition::MAX_MULTISIG_KEYS;

/// What a spender presents for a condition.
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub enum Fulfillment {
    /// Placeholder in unsigned transactions and in the ID encoding; never
    /// standard.
    Nil,
    SingleSignature(SingleSignatureFulfillment),
    MultiSignature(MultiSignatureFulfillment),
    AtomicSwapClaim(AtomicSwapClaim),
    AtomicSwapRefund(AtomicSwapRefund),
}

/// Fulfils `Nil` (any key) and `PubKeyHash` (the key's address).
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct SingleSignatureFulfillment {
    pub public_key: PublicKey,
    pub signature: Signature,
}

/// One signer of a multisig fulfillment.
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct KeySignature {
    pub public_key: PublicKey,
    pub signature: Signature,
}

/// Fulfils `Multisig`: at least `required` distinct listed keys.
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct MultiSignatureFulfillment {
    pub pairs: Vec<KeySignature>,
}

/// The receiver claims an atomic swap by revealing the secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct AtomicSwapClaim {
    pub public_key: PublicKey,
    pub signature: Signature,
    pub secret: [u8; 32],
}

/// The sender takes an expired atomic swap back.
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct AtomicSwapRefund {
    pub public_key: PublicKey,
    pub signature: Signature,
}

/// Which kind of input a signature spends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InputKind {
    Coin,
    BlockStake,
}

impl InputKind {
    pub const fn label(self) -> &'static [u8] {
        match self {
            InputKind::Coin => b"coin",
            InputKind::BlockStake => b"blockstake",
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            InputKind::Coin => "coin",
            InputKind::BlockStake => "blockstake",
        }
    }
}

/// What a fulfillment's signatures authorize.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignedTarget {
    /// Spending input `index` of the given kind.
    Input { kind: InputKind, index: u64 },
    /// The authorization of a payload (e.g. `b"minting"`).
    Payload { label: &'static [u8] },
}

/// The transaction, target and chain/block context a fulfillment is checked in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FulfillContext {
    pub chain_id: ChainId,
    pub transaction_id: TransactionId,
    pub target: SignedTarget,
    /// Height of the block containing the transaction.
    pub height: BlockHeight,
    /// Timestamp of the block containing the transaction.
    pub timestamp: Timestamp,
}

/// Why a fulfillment does not fulfil a condition, or is not standard.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FulfillmentError {
    #[error("nil fulfillment never fulfils anything (unsigned input?)")]
    NilFulfillment,
    #[error("multisig fulfillment carries no signatures")]
    EmptyMultiSignature,
    #[error(
        "multisig fulfillment carries {pairs} signatures; at most {MAX_MULTISIG_PAIRS} are allowed"
    )]
    TooManySignatures { pairs: usize },
    #[error("atomic swap claim reveals an all-zero secret")]
    ZeroSecret,
    #[error("a {condition} condition cannot be fulfilled by a {fulfillment} fulfillment")]
    WrongKind {
        condition: &'static str,
        fulfillment: &'static str,
    },
    #[error("public key {public_key} does not hash to the condition's address {expected}")]
    KeyNotForAddress {
        public_key: PublicKey,
        expected: Hash32,
    },
    #[error("output is locked until height {until}; the block is at height {height}")]
    LockedUntilHeight { until: u64, height: BlockHeight },
    #[error("output is locked until unix time {until}; the block's time is {timestamp}")]
    LockedUntilTime { until: u64, timestamp: Timestamp },
    #[error("multisig has {provided} signatures but requires {required}")]
    TooFewSignatures { provided: usize, required: u64 },
    #[error("multisig signature {pair} repeats key {public_key}")]
    DuplicateSigner { pair: usize, public_key: PublicKey },
    #[error("multisig signature {pair} is by {public_key}, which the condition does not list")]
    UnknownSigner { pair: usize, public_key: PublicKey },
    #[error("atomic swap claim signed by {public_key}, which is not the receiver")]
    ClaimNotByReceiver { public_key: PublicKey },
    #[error("atomic swap claim reveals a secret whose SHA-256 is not the hashed secret")]
    WrongSecret,
    #[error("atomic swap refund signed by {public_key}, which is not the sender")]
    RefundNotBySender { public_key: PublicKey },
    #[error("atomic swap refund before its timelock {timelock} (block time {timestamp})")]
    RefundTooEarly {
        timelock: Timestamp,
        timestamp: Timestamp,
    },
    #[error(transparent)]
    Signature(#[from] SignatureError),
}

/// Signs every coin input of `transaction` with `key` as a single
/// signature (the inputs spend outputs locked to `key`). Call after the
/// payload is signed: the input signatures commit to the same
/// transaction ID.
pub fn sign_coin_inputs(
    transaction: &mut crate::transaction::Transaction,
    key: &crate::crypto::SecretKey,
    params: &crate::params::NetworkParams,
) {
    let id = transaction.id();
    let public_key = key.public_key();
    for (index, input) in transaction.coin_inputs.iter_mut().enumerate() {
        let context = FulfillContext {
            chain_id: params.chain_id,
            transaction_id: id,
            target: SignedTarget::Input {
                kind: InputKind::Coin,
                index: index as u64,
            },
            height: BlockHeight(0),
            timestamp: Timestamp(0),
        };
        let signature = key.sign(&signing_message(&context, &public_key, None));
        input.fulfillment = Fulfillment::SingleSignature(SingleSignatureFulfillment {
            public_key,
            signature,
        });
    }
}

/// The message `public_key` signs for a fulfillment in `context`:
///
/// ```text
/// transcript("blockstake/signature/v1")
///   purpose        = "transaction-input" | "payload-authorization"
///   chain-id       = 32 bytes
///   transaction-id = 32 bytes
///   input-kind     = "coin" | "blockstake"      (inputs only)
///   input-index    = u64 LE                      (inputs only)
///   payload        = payload label               (payloads only)
///   public-key     = 32 bytes
///   secret         = 32 bytes                    (atomic swap claims only)
/// challenge "sig", 64 bytes
/// ```
pub fn signing_message(
    context: &FulfillContext,
    public_key: &PublicKey,
    secret: Option<&[u8; 32]>,
) -> SigningMessage {
    let purpose = match context.target {
        SignedTarget::Input { .. } => SigningPurpose::TransactionInput,
        SignedTarget::Payload { .. } => SigningPurpose::PayloadAuthorization,
    };
    let mut transcript = SigningTranscript::new(purpose, &context.chain_id);
    transcript.append(b"transaction-id", context.transaction_id.0.as_bytes());
    match context.target {
        SignedTarget::Input { kind, index } => {
            transcript.append(b"input-kind", kind.label());
            transcript.append_u64(b"input-index", index);
        }
        SignedTarget::Payload { label } => transcript.append(b"payload", label),
    }
    transcript.append(b"public-key", &public_key.0);
    if let Some(secret) = secret {
        transcript.append(b"secret", secret);
    }
    transcript.challenge()
}

fn origin(context: &FulfillContext) -> String {
    match context.target {
        SignedTarget::Input { kind, index } => format!(
            "transaction {} {} input {index}",
            context.transaction_id.short(),
            kind.name()
        ),
        SignedTarget::Payload { label } => format!(
            "transaction {} {} authorization",
            context.transaction_id.short(),
            String::from_utf8_lossy(label)
        ),
    }
}

impl Fulfillment {
    pub fn kind_name(&self) -> &'static str {
        match self {
            Fulfillment::Nil => "nil",
            Fulfillment::SingleSignature(_) => "single signature",
            Fulfillment::MultiSignature(_) => "multisignature",
            Fulfillment::AtomicSwapClaim(_) => "atomic swap claim",
            Fulfillment::AtomicSwapRefund(_) => "atomic swap refund",
        }
    }

    /// Checks the shape rules that need no condition.
    pub fn check_standard(&self) -> Result<(), FulfillmentError> {
        match self {
            Fulfillment::Nil => Err(FulfillmentError::NilFulfillment),
            Fulfillment::MultiSignature(multi) if multi.pairs.is_empty() => {
                Err(FulfillmentError::EmptyMultiSignature)
            }
            Fulfillment::MultiSignature(multi) if multi.pairs.len() > MAX_MULTISIG_PAIRS => {
                Err(FulfillmentError::TooManySignatures {
                    pairs: multi.pairs.len(),
                })
            }
            Fulfillment::AtomicSwapClaim(claim) if claim.secret == [0; 32] => {
                Err(FulfillmentError::ZeroSecret)
            }
            _ => Ok(()),
        }
    }
}

impl Condition {
    /// Checks that `fulfillment` fulfils this condition in `context`,
    /// queueing the signatures to verify into `batch`.
    pub fn check_fulfillment(
        &self,
        fulfillment: &Fulfillment,
        context: &FulfillContext,
        batch: &mut SignatureBatch,
    ) -> Result<(), FulfillmentError> {
        fulfillment.check_standard()?;
        match (self, fulfillment) {
            (Condition::Nil, Fulfillment::SingleSignature(single)) => {
                queue(batch, context, &single.public_key, &single.signature, None)
            }
            (Condition::PubKeyHash(hash), Fulfillment::SingleSignature(single)) => {
                check_single(hash, single, context, batch)
            }
            (Condition::Multisig(multisig), Fulfillment::MultiSignature(multi)) => {
                check_multisig(multisig, multi, context, batch)
            }
            (Condition::TimeLock(time_lock), _) => {
                match time_lock.lock_time() {
                    LockTime::Height(until) if context.height.0 < until => {
                        return Err(FulfillmentError::LockedUntilHeight {
                            until,
                            height: context.height,
                        });
                    }
                    LockTime::Time(until) if context.timestamp.0 < until => {
                        return Err(FulfillmentError::LockedUntilTime {
                            until,
                            timestamp: context.timestamp,
                        });
                    }
                    _ => {}
                }
                match (&time_lock.inner, fulfillment) {
                    (TimeLockedCondition::Nil, Fulfillment::SingleSignature(single)) => {
                        queue(batch, context, &single.public_key, &single.signature, None)
                    }
                    (TimeLockedCondition::PubKeyHash(hash), Fulfillment::SingleSignature(s)) => {
                        check_single(hash, s, context, batch)
                    }
                    (TimeLockedCondition::Multisig(multisig), Fulfillment::MultiSignature(m)) => {
                        check_multisig(multisig, m, context, batch)
                    }
                    _ => Err(FulfillmentError::WrongKind {
                        condition: self.kind_name(),
                        fulfillment: fulfillment.kind_name(),
                    }),
                }
            }
            (Condition::AtomicSwap(swap), Fulfillment::AtomicSwapClaim(claim)) => {
                check_claim(swap, claim, context, batch)
            }
            (Condition::AtomicSwap(swap), Fulfillment::AtomicSwapRefund(refund)) => {
                check_refund(swap, refund, context, batch)
            }
            _ => Err(FulfillmentError::WrongKind {
                condition: self.kind_name(),
                fulfillment: fulfillment.kind_name(),
            }),
        }
    }

    /// Checks a fulfillment and verifies its signatures at once.
    pub fn verify_fulfillment(
        &self,
        fulfillment: &Fulfillment,
        context: &FulfillContext,
    ) -> Result<(), FulfillmentError> {
        let mut batch = SignatureBatch::new();
        self.check_fulfillment(fulfillment, context, &mut batch)?;
        batch.verify_each()?;
        Ok(())
    }
}

fn queue(
    batch: &mut SignatureBatch,
    context: &FulfillContext,
    public_key: &PublicKey,
    signature: &Signature,
    secret: Option<&[u8; 32]>,
) -> Result<(), FulfillmentError> {
    let message = signing_message(context, public_key, secret);
    batch.push(origin(context), message, *public_key, *signature)?;
    Ok(())
}

fn check_single(
    hash: &Hash32,
    single: &SingleSignatureFulfillment,
    context: &FulfillContext,
    batch: &mut SignatureBatch,
) -> Result<(), FulfillmentError> {
    if Address::for_public_key(&single.public_key).hash != *hash {
        return Err(FulfillmentError::KeyNotForAddress {
            public_key: single.public_key,
            expected: *hash,
        });
    }
    queue(batch, context, &single.public_key, &single.signature, None)
}

fn check_multisig(
    condition: &MultisigCondition,
    fulfillment: &MultiSignatureFulfillment,
    context: &FulfillContext,
    batch: &mut SignatureBatch,
) -> Result<(), FulfillmentError> {
    if (fulfillment.pairs.len() as u64) < condition.required {
        return Err(FulfillmentError::TooFewSignatures {
            provided: fulfillment.pairs.len(),
            required: condition.required,
        });
    }
    for (pair, signer) in fulfillment.pairs.iter().enumerate() {
        if fulfillment.pairs[..pair]
            .iter()
            .any(|earlier| earlier.public_key == signer.public_key)
        {
            return Err(FulfillmentError::DuplicateSigner {
                pair,
                public_key: signer.public_key,
            });
        }
        if !condition.keys.contains(&signer.public_key) {
            return Err(FulfillmentError::UnknownSigner {
                pair,
                public_key: signer.public_key,
            });
        }
    }
    for signer in &fulfillment.pairs {
        queue(batch, context, &signer.public_key, &signer.signature, None)?;
    }
    Ok(())
}

fn check_claim(
    swap: &AtomicSwapCondition,
    claim: &AtomicSwapClaim,
    context: &FulfillContext,
    batch: &mut SignatureBatch,
) -> Result<(), FulfillmentError> {
    if Address::for_public_key(&claim.public_key) != swap.receiver {
        return Err(FulfillmentError::ClaimNotByReceiver {
            public_key: claim.public_key,
        });
    }
    let hashed: [u8; 32] = Sha256::digest(claim.secret).into();
    if hashed != swap.hashed_secret {
        return Err(FulfillmentError::WrongSecret);
    }
    queue(
        batch,
        context,
        &claim.public_key,
        &claim.signature,
        Some(&claim.secret),
    )
}

fn check_refund(
    swap: &AtomicSwapCondition,
    refund: &AtomicSwapRefund,
    context: &FulfillContext,
    batch: &mut SignatureBatch,
) -> Result<(), FulfillmentError> {
    if Address::for_public_key(&refund.public_key) != swap.sender {
        return Err(FulfillmentError::RefundNotBySender {
            public_key: refund.public_key,
        });
    }
    if context.timestamp <= swap.timelock {
        return Err(FulfillmentError::RefundTooEarly {
            timelock: swap.timelock,
            timestamp: context.timestamp,
        });
    }
    queue(batch, context, &refund.public_key, &refund.signature, None)
}
