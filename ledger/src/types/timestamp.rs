//! `Timestamp`: a moment on the chain, in unix seconds (UTC).

use std::fmt;

/// Seconds since 1970-01-01T00:00:00Z.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, bincode::Encode, bincode::Decode,
)]
pub struct Timestamp(pub u64);

impl Timestamp {
    pub fn checked_add_seconds(self, seconds: u64) -> Option<Timestamp> {
        self.0.checked_add(seconds).map(Timestamp)
    }

    pub fn seconds(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}s", self.0)
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({})", self.0)
    }
}
