//! Transactions: coin and blockstake inputs and outputs, a fee, arbitrary
//! data and an optional domain payload; their IDs and the IDs of the
//! outputs they create.
//!
//! The transaction ID is `H("blockstake/transaction-id/v1" ‖
//! encode(tx without fulfillments))`, where "without fulfillments" means
//! every input fulfillment and every payload authorization replaced by
//! [`Fulfillment::Nil`]. Signatures therefore cannot change an ID, and the
//! ID is what every input signature commits to.

use crate::codec;
use crate::condition::Condition;
use crate::crypto::hash::{HashTag, tagged_hash_parts};
use crate::fulfillment::{FulfillContext, Fulfillment, InputKind, SignedTarget};
use crate::params::NetworkParams;
use crate::payload::Payload;
use crate::types::{
    BlockHeight, BlockStakeOutputId, BlockStakes, CoinOutputId, Currency, Timestamp, TransactionId,
};

/// The transaction format version. Only [`TransactionVersion::V1`] is valid.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, bincode::Encode, bincode::Decode,
)]
pub struct TransactionVersion(pub u8);

impl TransactionVersion {
    pub const V1: TransactionVersion = TransactionVersion(1);
}

/// Spends a coin output.
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct CoinInput {
    pub parent_id: CoinOutputId,
    pub fulfillment: Fulfillment,
}

/// Creates a coin output.
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct CoinOutput {
    pub value: Currency,
    pub condition: Condition,
}

/// Spends a blockstake output.
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct BlockStakeInput {
    pub parent_id: BlockStakeOutputId,
    pub fulfillment: Fulfillment,
}

/// Creates a blockstake output.
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct BlockStakeOutput {
    pub value: BlockStakes,
    pub condition: Condition,
}

/// A transaction. Field order is the encoding order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct Transaction {
    pub version: TransactionVersion,
    pub coin_inputs: Vec<CoinInput>,
    pub coin_outputs: Vec<CoinOutput>,
    pub blockstake_inputs: Vec<BlockStakeInput>,
    pub blockstake_outputs: Vec<BlockStakeOutput>,
    /// Paid to the block creator (or the configured beneficiary).
    pub fee: Currency,
    /// Free bytes for applications (notary, memos), at most
    /// [`NetworkParams::arbitrary_data_limit`].
    pub arbitrary_data: Vec<u8>,
    pub payload: Option<Payload>,
}

impl CoinOutputId {
    /// `H("blockstake/coin-output-id/v1" ‖ transaction ID ‖ u64 LE index)`.
    pub fn for_transaction_output(transaction_id: &TransactionId, index: u64) -> CoinOutputId {
        CoinOutputId(tagged_hash_parts(
            HashTag::CoinOutputId,
            &[transaction_id.0.as_bytes(), &index.to_le_bytes()],
        ))
    }

    /// The ID of the `index`th coin output a domain module creates while
    /// applying a transaction (a compute payout, refund or escrow change):
    /// `H("blockstake/domain-output-id/v1" ‖ transaction ID ‖ u8 domain
    /// name length ‖ domain name ‖ u64 LE index)`. A transaction carries
    /// one payload, so one domain creates outputs for it.
    pub fn for_domain_output(
        transaction_id: &TransactionId,
        domain: &str,
        index: u64,
    ) -> CoinOutputId {
        let name = domain.as_bytes();
        let length = [u8::try_from(name.len()).unwrap_or(u8::MAX)];
        CoinOutputId(tagged_hash_parts(
            HashTag::DomainOutputId,
            &[
                transaction_id.0.as_bytes(),
                &length,
                name,
                &index.to_le_bytes(),
            ],
        ))
    }
}

impl BlockStakeOutputId {
    /// `H("blockstake/blockstake-output-id/v1" ‖ transaction ID ‖ u64 LE index)`.
    pub fn for_transaction_output(
        transaction_id: &TransactionId,
        index: u64,
    ) -> BlockStakeOutputId {
        BlockStakeOutputId(tagged_hash_parts(
            HashTag::BlockStakeOutputId,
            &[transaction_id.0.as_bytes(), &index.to_le_bytes()],
        ))
    }
}

impl Transaction {
    /// An empty version-1 transaction, to be filled in by builders.
    pub fn new() -> Transaction {
        Transaction {
            version: TransactionVersion::V1,
            coin_inputs: Vec::new(),
            coin_outputs: Vec::new(),
            blockstake_inputs: Vec::new(),
            blockstake_outputs: Vec::new(),
            fee: Currency::ZERO,
            arbitrary_data: Vec::new(),
            payload: None,
        }
    }

    /// A copy with every fulfillment (inputs and payload authorization)
    /// replaced by [`Fulfillment::Nil`]: the form the ID is computed over.
    pub fn without_fulfillments(&self) -> Transaction {
        let mut stripped = self.clone();
        for input in &mut stripped.coin_inputs {
            input.fulfillment = Fulfillment::Nil;
        }
        for input in &mut stripped.blockstake_inputs {
            input.fulfillment = Fulfillment::Nil;
        }
        stripped.payload = self.payload.as_ref().map(Payload::without_authorization);
        stripped
    }

    pub fn id(&self) -> TransactionId {
        TransactionId(tagged_hash_parts(
            HashTag::TransactionId,
            &[&codec::encode(&self.without_fulfillments())],
        ))
    }

    /// Canonical encoding length in bytes (what fees and limits count).
    pub fn encoded_size(&self) -> usize {
        codec::encoded_len(self)
    }

    /// The minimum fee for this transaction on `params`' network, or
    /// `None` if it overflows.
    pub fn minimum_fee(&self, params: &NetworkParams) -> Option<Currency> {
        params.minimum_fee(self.encoded_size() as u64)
    }

    /// Every coin output this transaction creates, in ID index order: its
    /// `coin_outputs`, then those its payload creates (minting).
    pub fn created_coin_outputs(&self) -> impl Iterator<Item = &CoinOutput> {
        let from_payload = self
            .payload
            .as_ref()
            .map(|payload| payload.as_domain().created_coin_outputs())
            .unwrap_or(&[]);
        self.coin_outputs.iter().chain(from_payload.iter())
    }

    /// The IDs of [`Self::created_coin_outputs`], given this transaction's ID.
    pub fn coin_output_ids(&self, transaction_id: &TransactionId) -> Vec<CoinOutputId> {
        (0..self.created_coin_outputs().count() as u64)
            .map(|index| CoinOutputId::for_transaction_output(transaction_id, index))
            .collect()
    }

    /// The IDs of the blockstake outputs, given this transaction's ID.
    pub fn blockstake_output_ids(&self, transaction_id: &TransactionId) -> Vec<BlockStakeOutputId> {
        (0..self.blockstake_outputs.len() as u64)
            .map(|index| BlockStakeOutputId::for_transaction_output(transaction_id, index))
            .collect()
    }

    /// The context in which an input's fulfillment is checked and signed.
    pub fn input_context(
        transaction_id: &TransactionId,
        params: &NetworkParams,
        kind: InputKind,
        index: u64,
        height: BlockHeight,
        timestamp: Timestamp,
    ) -> FulfillContext {
        FulfillContext {
            chain_id: params.chain_id,
            transaction_id: *transaction_id,
            target: SignedTarget::Input { kind, index },
            height,
            timestamp,
        }
    }

    /// True for the shape of a block's staking respend: only blockstake
    /// inputs and outputs. Such a transaction may be a block's first and
    /// then pays no fee.
    pub fn is_blockstake_only(&self) -> bool {
        self.coin_inputs.is_empty()
            && self.coin_outputs.is_empty()
            && self.payload.is_none()
            && !self.blockstake_inputs.is_empty()
    }
}

impl Default for Transaction {
    fn default() -> Self {
        Transaction::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{PublicKey, Signature};
    use crate::fulfillment::SingleSignatureFulfillment;
    use crate::types::Hash32;

    fn signed_transfer(signature_byte: u8) -> Transaction {
        Transaction {
            coin_inputs: vec![CoinInput {
                parent_id: CoinOutputId(Hash32([1; 32])),
                fulfillment: Fulfillment::SingleSignature(SingleSignatureFulfillment {
                    public_key: PublicKey([2; 32]),
                    signature: Signature([signature_byte; 64]),
                }),
            }],
            coin_outputs: vec![CoinOutput {
                value: Currency(5),
                condition: Condition::Nil,
            }],
            fee: Currency(1),
            ..Transaction::new()
        }
    }

    #[test]
    fn id_ignores_fulfillments() {
        let a = signed_transfer(3);
        let b = signed_transfer(4);
        assert_ne!(codec::encode(&a), codec::encode(&b));
        assert_eq!(a.id(), b.id());
        assert_eq!(a.id(), a.without_fulfillments().id());
        let mut c = signed_transfer(3);
        c.fee = Currency(2);
        assert_ne!(a.id(), c.id());
    }

    #[test]
    fn output_ids_differ_by_kind_and_index() {
        let id = signed_transfer(0).id();
        let coin0 = CoinOutputId::for_transaction_output(&id, 0);
        let coin1 = CoinOutputId::for_transaction_output(&id, 1);
        let stake0 = BlockStakeOutputId::for_transaction_output(&id, 0);
        assert_ne!(coin0, coin1);
        assert_ne!(coin0.0, stake0.0);
        assert_eq!(signed_transfer(0).coin_output_ids(&id), vec![coin0]);
    }

    #[test]
    fn size_and_fee() {
        let tx = signed_transfer(0);
        assert_eq!(tx.encoded_size(), codec::encode(&tx).len());
        let params = NetworkParams::devnet();
        assert_eq!(
            tx.minimum_fee(&params),
            params.minimum_fee(tx.encoded_size() as u64)
        );
        assert!(!tx.is_blockstake_only());
    }
}
