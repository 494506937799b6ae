//! Newtypes for every scalar consensus value: hashes and IDs, coin and
//! blockstake amounts, heights and timestamps. Bare integers and byte
//! arrays never cross a module boundary.

mod blockstakes;
mod currency;
mod hash;
mod height;
mod ids;
mod timestamp;

pub use blockstakes::BlockStakes;
pub use currency::{Currency, CurrencyError, DecimalCurrency};
pub use hash::{Hash32, HashParseError};
pub use height::BlockHeight;
pub use ids::{
    AttributeCommitment, BlockId, BlockStakeOutputId, CoinOutputId, IdentityId, OrganizationId,
    TransactionId,
};
pub use timestamp::Timestamp;
