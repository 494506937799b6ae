//! The ordered key–value state that the identity, storage and chat
//! domains keep, and the write log their changes consist of.
//!
//! A domain's state is one ordered map ([`Entries`]); a transaction's
//! change is a list of [`Write`]s, each naming a key with its value
//! before and after. Applying checks every `before` and reverting checks
//! every `after`, so `apply` and `revert` are exact inverses, and a change
//! that does not fit the state fails without leaving a partial write.
//!
//! The encodings are consensus: a [`Write`] encodes as its three fields in
//! order and the state commitment hashes the domain name and the encoded
//! map, exactly as the domains did before they shared this module.

use std::collections::BTreeMap;
use std::collections::btree_map::Range;
use std::fmt::Debug;
use std::ops::RangeBounds;

use ledger::Hash32;
use ledger::codec;
use ledger::crypto::hash::{HashTag, tagged_hash_parts};

use crate::state::DomainError;

/// One write of a change: `key` goes from `before` to `after` (`None`
/// means absent).
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct Write<K, V> {
    pub key: K,
    pub before: Option<V>,
    pub after: Option<V>,
}

/// A domain's state: an ordered map from keys to values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entries<K, V> {
    map: BTreeMap<K, V>,
}

impl<K, V> Default for Entries<K, V> {
    fn default() -> Self {
        Self {
            map: BTreeMap::new(),
        }
    }
}

impl<K, V> Entries<K, V>
where
    K: Ord + Clone + Debug + bincode::Encode,
    V: Clone + PartialEq + bincode::Encode,
{
    pub fn get(&self, key: &K) -> Option<&V> {
        self.map.get(key)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.map.iter()
    }

    pub fn range<R: RangeBounds<K>>(&self, range: R) -> Range<'_, K, V> {
        self.map.range(range)
    }

    /// Applies `writes` in order, each checking its `before`; on a
    /// mismatch undoes what it did and fails (`domain` names the state in
    /// the error).
    pub fn apply(
        &mut self,
        writes: &[Write<K, V>],
        domain: &'static str,
    ) -> Result<(), DomainError> {
        for (done, write) in writes.iter().enumerate() {
            if self.map.get(&write.key) != write.before.as_ref() {
                self.revert(&writes[..done], domain)?;
                return Err(DomainError {
                    domain,
                    message: format!(
                        "{domain} state at {:?} is not as the change expects",
                        write.key
                    ),
                });
            }
            self.set(&write.key, write.after.as_ref());
        }
        Ok(())
    }

    /// Undoes `writes` in reverse order, each checking its `after`; on a
    /// mismatch redoes what it undid and fails.
    pub fn revert(
        &mut self,
        writes: &[Write<K, V>],
        domain: &'static str,
    ) -> Result<(), DomainError> {
        for (done, write) in writes.iter().rev().enumerate() {
            if self.map.get(&write.key) != write.after.as_ref() {
                for redo in &writes[writes.len() - done..] {
                    self.set(&redo.key, redo.after.as_ref());
                }
                return Err(DomainError {
                    domain,
                    message: format!(
                        "{domain} state at {:?} is not as the change left it",
                        write.key
                    ),
                });
            }
            self.set(&write.key, write.before.as_ref());
        }
        Ok(())
    }

    /// A hash of the whole state in key order, bound to the domain name.
    pub fn commitment(&self, domain: &str) -> Hash32 {
        tagged_hash_parts(
            HashTag::StateCommitment,
            &[domain.as_bytes(), &codec::encode(&self.map)],
        )
    }

    fn set(&mut self, key: &K, value: Option<&V>) {
        match value {
            Some(value) => {
                self.map.insert(key.clone(), value.clone());
            }
            None => {
                self.map.remove(key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Log = Entries<u8, u32>;

    fn write(key: u8, before: Option<u32>, after: Option<u32>) -> Write<u8, u32> {
        Write { key, before, after }
    }

    #[test]
    fn apply_then_revert_restores_the_state() {
        let mut state = Log::default();
        let empty = state.clone();
        let writes = [
            write(1, None, Some(10)),
            write(2, None, Some(20)),
            write(1, Some(10), None),
        ];
        state.apply(&writes, "test").unwrap();
        assert_eq!(state.get(&1), None);
        assert_eq!(state.get(&2), Some(&20));
        state.revert(&writes, "test").unwrap();
        assert_eq!(state, empty);
    }

    #[test]
    fn a_mismatched_write_leaves_no_partial_state() {
        let mut state = Log::default();
        state.apply(&[write(3, None, Some(3))], "test").unwrap();
        let before = state.clone();
        let error = state
            .apply(&[write(1, None, Some(1)), write(3, Some(4), None)], "test")
            .unwrap_err();
        assert!(
            error.message.contains("is not as the change expects"),
            "{error:?}"
        );
        assert_eq!(state, before);
        let error = state
            .revert(&[write(3, None, Some(3)), write(1, None, Some(1))], "test")
            .unwrap_err();
        assert!(
            error.message.contains("is not as the change left it"),
            "{error:?}"
        );
        assert_eq!(state, before);
    }

    #[test]
    fn commitment_encodes_the_map_and_the_domain() {
        let mut state = Log::default();
        state.apply(&[write(1, None, Some(1))], "test").unwrap();
        let mut map = BTreeMap::new();
        map.insert(1u8, 1u32);
        let expected =
            tagged_hash_parts(HashTag::StateCommitment, &[b"test", &codec::encode(&map)]);
        assert_eq!(state.commitment("test"), expected);
        assert_ne!(state.commitment("other"), expected);
    }
}
