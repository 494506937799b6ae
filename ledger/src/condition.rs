//! Conditions: the locks on outputs (Rivine's unlock conditions).
//!
//! `Nil` (anyone who signs), `PubKeyHash` (pay to a public-key address;
//! the key is revealed when spending, as in Rivine), `Multisig` (m of a
//! sorted set of n keys), `TimeLock` (a height or a unix time before which
//! the wrapped condition cannot be fulfilled) and `AtomicSwap` (hash time
//! lock contract). Whether a condition is *standard* (acceptable in a new
//! output) is checked here; whether a fulfillment *fulfils* it is checked
//! in [`crate::fulfillment`].
//!
//! Time locks wrap a separate [`TimeLockedCondition`] type, so nested time
//! locks and time-locked swaps are unrepresentable rather than rejected,
//! and decoding never recurses.

use thiserror::Error;

use crate::address::{Address, AddressKind};
use crate::codec;
use crate::crypto::hash::{HashTag, tagged_hash};
use crate::crypto::{KeyError, PublicKey};
use crate::types::{Hash32, Timestamp};

/// Lock values below this are block heights, values at or above it unix times.
pub const LOCKTIME_THRESHOLD: u64 = 500_000_000;

/// The most keys a standard multisig condition may list.
pub const MAX_MULTISIG_KEYS: usize = 64;

/// The lock on an output.
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub enum Condition {
    /// Fulfilled by any single signature.
    Nil,
    /// Pay to a public-key address (the hash of [`AddressKind::PubKey`]).
    PubKeyHash(Hash32),
    Multisig(MultisigCondition),
    TimeLock(TimeLockCondition),
    AtomicSwap(AtomicSwapCondition),
}

/// `required` signatures out of `keys` (strictly ascending, no duplicates).
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct MultisigCondition {
    pub required: u64,
    pub keys: Vec<PublicKey>,
}

/// `inner` cannot be fulfilled before `lock` (a height below
/// [`LOCKTIME_THRESHOLD`], a unix time at or above it).
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct TimeLockCondition {
    pub lock: u64,
    pub inner: TimeLockedCondition,
}

/// What a time lock may wrap.
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub enum TimeLockedCondition {
    Nil,
    PubKeyHash(Hash32),
    Multisig(MultisigCondition),
}

/// A hash time lock contract: the receiver claims with the secret whose
/// SHA-256 is `hashed_secret` (at any time); the sender takes the coins back
/// once a block's timestamp is past `timelock`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct AtomicSwapCondition {
    pub sender: Address,
    pub receiver: Address,
    pub hashed_secret: [u8; 32],
    pub timelock: Timestamp,
}

/// What a time lock's `lock` value means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockTime {
    Height(u64),
    Time(u64),
}

impl LockTime {
    pub fn from_raw(lock: u64) -> LockTime {
        if lock < LOCKTIME_THRESHOLD {
            LockTime::Height(lock)
        } else {
            LockTime::Time(lock)
        }
    }
}

/// Why a condition is not standard (cannot lock a new output).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StandardnessError {
    #[error("public-key-hash condition has an all-zero hash")]
    ZeroPubKeyHash,
    #[error("multisig lists {keys} keys; at least 2 are required")]
    MultisigTooFewKeys { keys: usize },
    #[error("multisig lists {keys} keys; at most {MAX_MULTISIG_KEYS} are allowed")]
    MultisigTooManyKeys { keys: usize },
    #[error("multisig requires 0 signatures; at least 1 is required")]
    MultisigRequiresZero,
    #[error("multisig requires {required} signatures but lists only {keys} keys")]
    MultisigRequiresTooMany { required: u64, keys: usize },
    #[error("multisig key {index} ({key}) is listed twice")]
    MultisigDuplicateKey { index: usize, key: PublicKey },
    #[error("multisig key {index} ({key}) is out of order; keys must be sorted ascending")]
    MultisigKeysNotSorted { index: usize, key: PublicKey },
    #[error("multisig key {index}: {source}")]
    MultisigUnusableKey { index: usize, source: KeyError },
    #[error("time lock of 0 is meaningless")]
    ZeroTimeLock,
    #[error("atomic swap {role} must be a public-key address, found {kind:?}")]
    SwapPartyNotPubKey {
        role: &'static str,
        kind: AddressKind,
    },
    #[error("atomic swap {role} address has an all-zero hash")]
    SwapPartyZeroHash { role: &'static str },
    #[error("atomic swap hashed secret is all zero")]
    SwapZeroHashedSecret,
    #[error("atomic swap timelock is 0")]
    SwapZeroTimelock,
}

impl Address {
    /// The address of a public key: `H("blockstake/address/pubkey/v1" ‖ key)`.
    pub fn for_public_key(key: &PublicKey) -> Address {
        Address::new(
            AddressKind::PubKey,
            tagged_hash(HashTag::PubKeyAddress, &key.0),
        )
    }
}

impl Condition {
    /// A short name for error messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Condition::Nil => "nil",
            Condition::PubKeyHash(_) => "public-key-hash",
            Condition::Multisig(_) => "multisig",
            Condition::TimeLock(_) => "time lock",
            Condition::AtomicSwap(_) => "atomic swap",
        }
    }

    /// A single-key condition paying to `key`'s address.
    pub fn for_public_key(key: &PublicKey) -> Condition {
        Condition::PubKeyHash(Address::for_public_key(key).hash)
    }

    /// The address this condition pays to (a time lock's is its inner one).
    pub fn address(&self) -> Address {
        match self {
            Condition::Nil => Address::NIL,
            Condition::PubKeyHash(hash) => Address::new(AddressKind::PubKey, *hash),
            Condition::Multisig(multisig) => multisig.address(),
            Condition::TimeLock(time_lock) => time_lock.inner.address(),
            Condition::AtomicSwap(swap) => swap.address(),
        }
    }

    /// Checks that the condition may lock a new output.
    pub fn check_standard(&self) -> Result<(), StandardnessError> {
        match self {
            Condition::Nil => Ok(()),
            Condition::PubKeyHash(hash) => check_pubkey_hash(hash),
            Condition::Multisig(multisig) => multisig.check_standard(),
            Condition::TimeLock(time_lock) => time_lock.check_standard(),
            Condition::AtomicSwap(swap) => swap.check_standard(),
        }
    }
}

fn check_pubkey_hash(hash: &Hash32) -> Result<(), StandardnessError> {
    if hash.is_zero() {
        Err(StandardnessError::ZeroPubKeyHash)
    } else {
        Ok(())
    }
}

impl MultisigCondition {
    /// A condition over `keys` in any order (sorted here).
    pub fn new(required: u64, mut keys: Vec<PublicKey>) -> MultisigCondition {
        keys.sort();
        MultisigCondition { required, keys }
    }

    /// `H("blockstake/address/multisig/v1" ‖ encode(required, sorted keys))`.
    /// The key order in the condition does not change the address.
    pub fn address(&self) -> Address {
        let mut sorted = self.clone();
        sorted.keys.sort();
        Address::new(
            AddressKind::Multisig,
            tagged_hash(HashTag::MultisigAddress, &codec::encode(&sorted)),
        )
    }

    pub fn check_standard(&self) -> Result<(), StandardnessError> {
        let keys = self.keys.len();
        if keys < 2 {
            return Err(StandardnessError::MultisigTooFewKeys { keys });
        }
        if keys > MAX_MULTISIG_KEYS {
            return Err(StandardnessError::MultisigTooManyKeys { keys });
        }
        if self.required == 0 {
            return Err(StandardnessError::MultisigRequiresZero);
        }
        if self.required > keys as u64 {
            return Err(StandardnessError::MultisigRequiresTooMany {
                required: self.required,
                keys,
            });
        }
        for (index, key) in self.keys.iter().enumerate() {
            if index > 0 {
                let previous = &self.keys[index - 1];
                if key == previous {
                    return Err(StandardnessError::MultisigDuplicateKey { index, key: *key });
                }
                if key < previous {
                    return Err(StandardnessError::MultisigKeysNotSorted { index, key: *key });
                }
            }
            key.to_verifying_key()
                .map_err(|source| StandardnessError::MultisigUnusableKey { index, source })?;
        }
        Ok(())
    }
}

impl TimeLockCondition {
    pub fn lock_time(&self) -> LockTime {
        LockTime::from_raw(self.lock)
    }

    pub fn check_standard(&self) -> Result<(), StandardnessError> {
        if self.lock == 0 {
            return Err(StandardnessError::ZeroTimeLock);
        }
        match &self.inner {
            TimeLockedCondition::Nil => Ok(()),
            TimeLockedCondition::PubKeyHash(hash) => check_pubkey_hash(hash),
            TimeLockedCondition::Multisig(multisig) => multisig.check_standard(),
        }
    }
}

impl TimeLockedCondition {
    pub fn address(&self) -> Address {
        self.to_condition().address()
    }

    /// The wrapped condition as a plain [`Condition`].
    pub fn to_condition(&self) -> Condition {
        match self {
            TimeLockedCondition::Nil => Condition::Nil,
            TimeLockedCondition::PubKeyHash(hash) => Condition::PubKeyHash(*hash),
            TimeLockedCondition::Multisig(multisig) => Condition::Multisig(multisig.clone()),
        }
    }
}

impl AtomicSwapCondition {
    /// `H("blockstake/address/atomic-swap/v1" ‖ encode(condition))`.
    pub fn address(&self) -> Address {
        Address::new(
            AddressKind::AtomicSwap,
            tagged_hash(HashTag::AtomicSwapAddress, &codec::encode(self)),
        )
    }

    pub fn check_standard(&self) -> Result<(), StandardnessError> {
        for (role, party) in [("sender", &self.sender), ("receiver", &self.receiver)] {
            if party.kind != AddressKind::PubKey {
                return Err(StandardnessError::SwapPartyNotPubKey {
                    role,
                    kind: party.kind,
                });
            }
            if party.hash.is_zero() {
                return Err(StandardnessError::SwapPartyZeroHash { role });
            }
        }
        if self.hashed_secret == [0; 32] {
            return Err(StandardnessError::SwapZeroHashedSecret);
        }
        if self.timelock == Timestamp(0) {
            return Err(StandardnessError::SwapZeroTimelock);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::SecretKey;

    fn key(seed: u8) -> PublicKey {
        SecretKey::from_seed([seed; 32]).public_key()
    }

    fn multisig(required: u64, seeds: &[u8]) -> MultisigCondition {
        MultisigCondition::new(required, seeds.iter().map(|s| key(*s)).collect())
    }

    fn swap() -> AtomicSwapCondition {
        AtomicSwapCondition {
            sender: Address::for_public_key(&key(1)),
            receiver: Address::for_public_key(&key(2)),
            hashed_secret: [9; 32],
            timelock: Timestamp(1_700_000_000),
        }
    }

    #[test]
    fn standard_conditions() {
        assert_eq!(Condition::Nil.check_standard(), Ok(()));
        assert_eq!(Condition::for_public_key(&key(1)).check_standard(), Ok(()));
        assert_eq!(
            Condition::Multisig(multisig(2, &[1, 2, 3])).check_standard(),
            Ok(())
        );
        assert_eq!(Condition::AtomicSwap(swap()).check_standard(), Ok(()));
        let locked = TimeLockCondition {
            lock: 10,
            inner: TimeLockedCondition::Multisig(multisig(1, &[1, 2])),
        };
        assert_eq!(Condition::TimeLock(locked).check_standard(), Ok(()));
    }

    #[test]
    fn multisig_standardness_errors() {
        assert_eq!(
            multisig(1, &[1]).check_standard(),
            Err(StandardnessError::MultisigTooFewKeys { keys: 1 })
        );
        let many: Vec<u8> = (1..=65).collect();
        assert_eq!(
            multisig(1, &many).check_standard(),
            Err(StandardnessError::MultisigTooManyKeys { keys: 65 })
        );
        assert_eq!(
            multisig(0, &[1, 2]).check_standard(),
            Err(StandardnessError::MultisigRequiresZero)
        );
        assert_eq!(
            multisig(3, &[1, 2]).check_standard(),
            Err(StandardnessError::MultisigRequiresTooMany {
                required: 3,
                keys: 2
            })
        );
        let duplicate = multisig(1, &[1, 1, 2]);
        assert!(matches!(
            duplicate.check_standard(),
            Err(StandardnessError::MultisigDuplicateKey { .. })
        ));
        let mut unsorted = multisig(1, &[1, 2]);
        unsorted.keys.reverse();
        assert!(matches!(
            unsorted.check_standard(),
            Err(StandardnessError::MultisigKeysNotSorted { index: 1, .. })
        ));
        let mut weak = [0u8; 32];
        weak[0] = 1;
        let with_weak = MultisigCondition::new(1, vec![PublicKey(weak), key(1)]);
        assert!(matches!(
            with_weak.check_standard(),
            Err(StandardnessError::MultisigUnusableKey { .. })
        ));
    }

    #[test]
    fn multisig_address_ignores_key_order_but_not_required() {
        let sorted = multisig(2, &[1, 2, 3]);
        let mut reversed = sorted.clone();
        reversed.keys.reverse();
        assert_eq!(sorted.address(), reversed.address());
        assert_ne!(sorted.address(), multisig(1, &[1, 2, 3]).address());
        assert_eq!(sorted.address().kind, AddressKind::Multisig);
    }

    #[test]
    fn time_lock_and_swap_errors() {
        let zero = TimeLockCondition {
            lock: 0,
            inner: TimeLockedCondition::Nil,
        };
        assert_eq!(zero.check_standard(), Err(StandardnessError::ZeroTimeLock));
        let zero_hash = TimeLockCondition {
            lock: 5,
            inner: TimeLockedCondition::PubKeyHash(Hash32::ZERO),
        };
        assert_eq!(
            zero_hash.check_standard(),
            Err(StandardnessError::ZeroPubKeyHash)
        );
        assert_eq!(
            LockTime::from_raw(499_999_999),
            LockTime::Height(499_999_999)
        );
        assert_eq!(LockTime::from_raw(500_000_000), LockTime::Time(500_000_000));

        let mut bad = swap();
        bad.sender = Address::NIL;
        assert_eq!(
            bad.check_standard(),
            Err(StandardnessError::SwapPartyNotPubKey {
                role: "sender",
                kind: AddressKind::Nil
            })
        );
        let mut bad = swap();
        bad.receiver.hash = Hash32::ZERO;
        assert_eq!(
            bad.check_standard(),
            Err(StandardnessError::SwapPartyZeroHash { role: "receiver" })
        );
        let mut bad = swap();
        bad.hashed_secret = [0; 32];
        assert_eq!(
            bad.check_standard(),
            Err(StandardnessError::SwapZeroHashedSecret)
        );
        let mut bad = swap();
        bad.timelock = Timestamp(0);
        assert_eq!(
            bad.check_standard(),
            Err(StandardnessError::SwapZeroTimelock)
        );
    }

    #[test]
    fn addresses_of_conditions() {
        assert_eq!(Condition::Nil.address(), Address::NIL);
        let single = Condition::for_public_key(&key(4));
        assert_eq!(single.address(), Address::for_public_key(&key(4)));
        let locked = Condition::TimeLock(TimeLockCondition {
            lock: 1,
            inner: TimeLockedCondition::PubKeyHash(single.address().hash),
        });
        assert_eq!(locked.address(), single.address());
        assert_eq!(
            Condition::AtomicSwap(swap()).address().kind,
            AddressKind::AtomicSwap
        );
    }
}
