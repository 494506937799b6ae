//! Typed domain payloads carried by transactions.
//!
//! Each domain lives in its own module and implements [`DomainPayload`]:
//! its stateless rules, its authorization fulfillment (if any) and the coin
//! outputs it creates (if any). The core (transaction IDs, stateless
//! validation, signature checks) only talks to payloads through that trait
//! via [`Payload::as_domain`].
//!
//! Adding a domain (identity, storage, compute, chat, …) means: a new
//! module implementing [`DomainPayload`], one new variant at the END of
//! [`Payload`] (the variant index is the encoded tag, so existing tags
//! never move), and one arm in [`Payload::as_domain`]. Nothing else.

pub mod authorized;
pub mod chat;
pub mod compute;
pub mod identity;
pub mod minting;
pub mod notary;
pub mod storage;

use std::fmt;

use thiserror::Error;

use crate::address::Address;
use crate::condition::StandardnessError;
use crate::fulfillment::{Fulfillment, FulfillmentError};
use crate::params::NetworkParams;
use crate::transaction::{CoinOutput, Transaction};

pub use authorized::AuthorizedAddressOperation;
pub use chat::{ChatOperation, ChatPayloadError};
pub use compute::{ComputeOperation, ComputePayloadError};
pub use identity::{IdentityAction, IdentityOperation, IdentityPayloadError};
pub use minting::MintingOperation;
pub use notary::NotaryRecord;
pub use storage::{StorageAction, StorageOperation, StoragePayloadError};

/// The payload of a transaction. The encoded tag is the variant index.
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub enum Payload {
    Notary(NotaryRecord),
    Minting(MintingOperation),
    AuthorizedAddresses(AuthorizedAddressOperation),
    Identity(IdentityOperation),
    Storage(StorageOperation),
    Compute(ComputeOperation),
    Chat(ChatOperation),
}

/// The behaviour every domain payload provides to the core.
pub trait DomainPayload {
    /// The payload's label, used in signing transcripts and messages.
    fn label(&self) -> &'static [u8];

    /// Rules that need no chain state. `transaction` is the enclosing one.
    fn validate_stateless(
        &self,
        transaction: &Transaction,
        params: &NetworkParams,
    ) -> Result<(), PayloadError>;

    /// The fulfillment authorizing this payload against a condition held
    /// in consensus state (mint condition, address authority), if any.
    fn authorization(&self) -> Option<&Fulfillment> {
        None
    }

    /// A copy with the authorization replaced by [`Fulfillment::Nil`] (for
    /// the transaction ID).
    fn without_authorization(&self) -> Payload;

    /// Coin outputs created out of nothing (minting); their IDs follow the
    /// transaction's own coin outputs.
    fn created_coin_outputs(&self) -> &[CoinOutput] {
        &[]
    }
}

impl Payload {
    /// The single dispatch point from the enum to its domain.
    pub fn as_domain(&self) -> &dyn DomainPayload {
        match self {
            Payload::Notary(record) => record,
            Payload::Minting(operation) => operation,
            Payload::AuthorizedAddresses(operation) => operation,
            Payload::Identity(operation) => operation,
            Payload::Storage(operation) => operation,
            Payload::Compute(operation) => operation,
            Payload::Chat(operation) => operation,
        }
    }

    pub fn label(&self) -> &'static [u8] {
        self.as_domain().label()
    }

    pub fn validate_stateless(
        &self,
        transaction: &Transaction,
        params: &NetworkParams,
    ) -> Result<(), PayloadError> {
        self.as_domain().validate_stateless(transaction, params)
    }

    pub fn authorization(&self) -> Option<&Fulfillment> {
        self.as_domain().authorization()
    }

    pub fn without_authorization(&self) -> Payload {
        self.as_domain().without_authorization()
    }
}

/// An 8-byte nonce making otherwise identical authority operations
/// distinct (they have no inputs to make their IDs unique). Never zero.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, bincode::Encode, bincode::Decode,
)]
pub struct Nonce(pub [u8; 8]);

impl Nonce {
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 8]
    }
}

impl fmt::Debug for Nonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Nonce({})", hex::encode(self.0))
    }
}

/// Why a payload breaks a stateless rule.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PayloadError {
    #[error("{payload} payload has an all-zero nonce")]
    ZeroNonce { payload: &'static str },
    #[error("{payload} authorization is not standard: {source}")]
    NonStandardAuthorization {
        payload: &'static str,
        source: FulfillmentError,
    },
    #[error("{payload} new condition is not standard: {source}")]
    NonStandardNewCondition {
        payload: &'static str,
        source: StandardnessError,
    },
    #[error(
        "{payload} new condition is a {kind} condition; only public-key-hash, multisig or a time lock of those may hold authority"
    )]
    UnsupportedNewCondition {
        payload: &'static str,
        kind: &'static str,
    },
    #[error("coin creation creates no outputs")]
    NoMintedOutputs,
    #[error("minted coin output {index} has value 0")]
    ZeroValueMintedOutput { index: usize },
    #[error("minted coin output {index} condition is not standard: {source}")]
    NonStandardMintedOutput {
        index: usize,
        source: StandardnessError,
    },
    #[error("minted coin outputs sum to more than 2^128 base units")]
    MintedSumOverflow,
    #[error("coin destruction has no coin inputs to destroy")]
    DestroyWithoutInputs,
    #[error("address update neither authorizes nor deauthorizes any address")]
    NoAddresses,
    #[error("address update lists {address:?} twice (entries {first} and {second})")]
    DuplicateAddress {
        address: Address,
        first: usize,
        second: usize,
    },
    #[error("address update entry {index} is the nil address")]
    NilAddress { index: usize },
    #[error("notary record has an all-zero document hash")]
    ZeroDocumentHash,
    #[error("identity payload: {0}")]
    Identity(IdentityPayloadError),
    #[error("storage payload: {0}")]
    Storage(StoragePayloadError),
    #[error("compute payload: {0}")]
    Compute(ComputePayloadError),
    #[error("chat payload: {0}")]
    Chat(ChatPayloadError),
}
