//! Typed IDs: a block ID can never be passed where a transaction ID is
//! expected. Each is a [`Hash32`] computed with its own domain tag (see
//! `crypto::hash` and `docs/protocol.md`).

use std::fmt;
use std::str::FromStr;

use super::hash::{Hash32, HashParseError};

macro_rules! hash_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, bincode::Encode,
            bincode::Decode,
        )]
        pub struct $name(pub Hash32);

        impl $name {
            pub const fn hash(&self) -> &Hash32 {
                &self.0
            }

            /// The first bytes in hex, for error messages.
            pub fn short(&self) -> String {
                self.0.short()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0)
            }
        }

        impl FromStr for $name {
            type Err = HashParseError;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                text.parse().map($name)
            }
        }
    };
}

hash_id!(
    /// The ID of a block: the tagged hash of its header.
    BlockId
);
hash_id!(
    /// The ID of a transaction: the tagged hash of its encoding without
    /// fulfillments.
    TransactionId
);
hash_id!(
    /// The ID of a coin output (transaction output or block payout).
    CoinOutputId
);
hash_id!(
    /// The ID of a blockstake output.
    BlockStakeOutputId
);
hash_id!(
    /// An identity: `H("blockstake/identity-id/v1" ‖ ID of the transaction
    /// that registered it)`. Unique per registration, so an identity
    /// registered on a losing branch never shares its ID with the one that
    /// took the name on the winning branch.
    IdentityId
);
hash_id!(
    /// An organization: `H("blockstake/organization-id/v1" ‖ ID of the
    /// transaction that created it)`.
    OrganizationId
);
hash_id!(
    /// A salted commitment to an attribute value:
    /// `H("blockstake/attribute-commitment/v1" ‖ salt ‖ value)`.
    AttributeCommitment
);
