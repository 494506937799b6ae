//! The address book: addresses this node may dial, learnt from its seeds,
//! from handshakes and from peer exchange. Bounded; each address has a
//! retry backoff that doubles per failed attempt, and an address that
//! keeps failing is forgotten (seeds never are).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Failures after which a learnt address is forgotten.
pub const MAX_FAILURES: u32 = 8;

#[derive(Debug, Clone)]
struct Entry {
    seed: bool,
    failures: u32,
    next_attempt: Instant,
    ever_connected: bool,
    is_self: bool,
}

/// Known addresses, at most `capacity` of them.
#[derive(Debug)]
pub struct AddressBook {
    entries: HashMap<SocketAddr, Entry>,
    capacity: usize,
    backoff_base: Duration,
}

impl AddressBook {
    pub fn new(capacity: usize, backoff_base: Duration) -> AddressBook {
        AddressBook {
            entries: HashMap::new(),
            capacity,
            backoff_base,
        }
    }

    /// Adds a seed (kept forever, may exceed the capacity).
    pub fn add_seed(&mut self, address: SocketAddr, now: Instant) {
        self.entries
            .entry(address)
            .or_insert_with(|| Entry::new(now))
            .seed = true;
    }

    /// Adds a learnt address; returns whether it was new. When full, a
    /// failing learnt address makes room, or the new one is dropped.
    pub fn add(&mut self, address: SocketAddr, now: Instant) -> bool {
        if self.entries.contains_key(&address) {
            return false;
        }
        if self.entries.len() >= self.capacity {
            let worst = self
                .entries
                .iter()
                .filter(|(_, entry)| !entry.seed && entry.failures > 0)
                .max_by_key(|(address, entry)| (entry.failures, **address))
                .map(|(address, _)| *address);
            match worst {
                Some(worst) => {
                    self.entries.remove(&worst);
                }
                None => return false,
            }
        }
        self.entries.insert(address, Entry::new(now));
        true
    }

    /// Up to `count` addresses due for a dial, fewest failures first,
    /// skipping `exclude` (connected or being dialed) and our own addresses.
    pub fn candidates(
        &self,
        now: Instant,
        exclude: &HashSet<SocketAddr>,
        count: usize,
    ) -> Vec<SocketAddr> {
        let mut due: Vec<(u32, SocketAddr)> = self
            .entries
            .iter()
            .filter(|(address, entry)| {
                !entry.is_self && entry.next_attempt <= now && !exclude.contains(address)
            })
            .map(|(address, entry)| (entry.failures, *address))
            .collect();
        due.sort();
        due.into_iter()
            .take(count)
            .map(|(_, address)| address)
            .collect()
    }

    /// Marks a dial started: the address is not due again before the backoff.
    pub fn record_attempt(&mut self, address: SocketAddr, now: Instant) {
        let base = self.backoff_base;
        if let Some(entry) = self.entries.get_mut(&address) {
            let factor = 1u32 << entry.failures.min(10);
            entry.next_attempt = now + base.saturating_mul(factor);
        }
    }

    /// A dial or handshake failed.
    pub fn record_failure(&mut self, address: SocketAddr) {
        if let Some(entry) = self.entries.get_mut(&address) {
            entry.failures = entry.failures.saturating_add(1);
            if !entry.seed && entry.failures >= MAX_FAILURES {
                self.entries.remove(&address);
            }
        }
    }

    /// A connection to or from this address completed its handshake.
    pub fn record_success(&mut self, address: SocketAddr, now: Instant) {
        self.add(address, now);
        if let Some(entry) = self.entries.get_mut(&address) {
            entry.failures = 0;
            entry.ever_connected = true;
        }
    }

    /// The address turned out to be this node itself: never dial it.
    pub fn mark_self(&mut self, address: SocketAddr, now: Instant) {
        self.entries
            .entry(address)
            .or_insert_with(|| Entry::new(now))
            .is_self = true;
    }

    /// Addresses to share with a peer: ones that worked first, then the
    /// rest with the fewest failures; never our own.
    pub fn share(&self, count: usize, exclude: &HashSet<SocketAddr>) -> Vec<SocketAddr> {
        let mut known: Vec<(bool, u32, SocketAddr)> = self
            .entries
            .iter()
            .filter(|(address, entry)| !entry.is_self && !exclude.contains(address))
            .map(|(address, entry)| (!entry.ever_connected, entry.failures, *address))
            .collect();
        known.sort();
        known
            .into_iter()
            .take(count)
            .map(|(_, _, address)| address)
            .collect()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn contains(&self, address: &SocketAddr) -> bool {
        self.entries.contains_key(address)
    }
}

impl Entry {
    fn new(now: Instant) -> Entry {
        Entry {
            seed: false,
            failures: 0,
            next_attempt: now,
            ever_connected: false,
            is_self: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn bounded_and_evicts_failing_addresses_only() {
        let now = Instant::now();
        let mut book = AddressBook::new(2, Duration::from_secs(1));
        assert!(book.add(address(1), now));
        assert!(!book.add(address(1), now));
        assert!(book.add(address(2), now));
        assert!(!book.add(address(3), now), "full of healthy addresses");
        book.record_failure(address(2));
        assert!(book.add(address(3), now));
        assert!(!book.contains(&address(2)));
        assert_eq!(book.len(), 2);
    }

    #[test]
    fn backoff_doubles_and_failing_addresses_are_forgotten() {
        let now = Instant::now();
        let mut book = AddressBook::new(10, Duration::from_secs(1));
        book.add(address(1), now);
        book.add_seed(address(2), now);
        let none = HashSet::new();
        book.record_attempt(address(1), now);
        assert_eq!(book.candidates(now, &none, 10), [address(2)]);
        book.record_failure(address(1));
        book.record_attempt(address(1), now);
        assert!(
            book.candidates(now + Duration::from_millis(1500), &none, 10)
                .len()
                == 1
        );
        assert_eq!(
            book.candidates(now + Duration::from_secs(2), &none, 10)
                .len(),
            2
        );
        for _ in 0..MAX_FAILURES {
            book.record_failure(address(1));
            book.record_failure(address(2));
        }
        assert!(!book.contains(&address(1)));
        assert!(book.contains(&address(2)), "seeds are kept");
    }

    #[test]
    fn self_addresses_are_never_dialed_or_shared() {
        let now = Instant::now();
        let mut book = AddressBook::new(10, Duration::from_secs(1));
        book.add(address(1), now);
        book.add(address(2), now);
        book.mark_self(address(1), now);
        book.record_success(address(3), now);
        let none = HashSet::new();
        assert_eq!(book.candidates(now, &none, 10), [address(2), address(3)]);
        assert_eq!(book.share(10, &none), [address(3), address(2)]);
        let exclude: HashSet<_> = [address(3)].into();
        assert_eq!(book.share(10, &exclude), [address(2)]);
    }
}
