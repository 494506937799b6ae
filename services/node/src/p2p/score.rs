//! Misbehaviour scoring and the transaction relay rate limit.
//!
//! Each offence adds points to the connection's score; at the configured
//! threshold (default 100) the peer is disconnected and its IP banned.
//! Offences that prove malice or a broken implementation cost the whole
//! threshold at once; those that can happen to an honest but slow or
//! slightly out-of-date peer cost a fraction, so only repetition bans.

use std::fmt;
use std::time::Instant;

/// What a peer did wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Misbehaviour {
    /// Bytes that are not a canonical message (garbage, trailing bytes).
    MalformedFrame,
    /// A frame length above the maximum (or zero).
    OversizedFrame,
    /// Handshake for another chain.
    WrongChain,
    /// A first frame that is not a handshake, or a second handshake.
    HandshakeViolation,
    /// A list above its limit, or more blocks than asked for.
    LimitExceeded,
    /// A block the node found invalid (reported through a command).
    InvalidBlock,
    /// A transaction the node found invalid (reported through a command);
    /// honest peers relay some after reorgs, so it costs little.
    InvalidTransaction,
    /// Transactions beyond the relay rate limit.
    TransactionFlood,
    /// An answer nobody asked for (Blocks, Block, Peers, Pong, NotFound).
    Unsolicited,
    /// A request not answered within the request timeout.
    SlowResponse,
}

impl Misbehaviour {
    /// Points for this offence, as a fraction of a threshold of 100.
    pub fn penalty(self) -> u32 {
        match self {
            Misbehaviour::MalformedFrame
            | Misbehaviour::OversizedFrame
            | Misbehaviour::WrongChain
            | Misbehaviour::HandshakeViolation
            | Misbehaviour::InvalidBlock => 100,
            Misbehaviour::LimitExceeded => 50,
            Misbehaviour::TransactionFlood => 25,
            Misbehaviour::Unsolicited => 20,
            Misbehaviour::InvalidTransaction | Misbehaviour::SlowResponse => 10,
        }
    }

    /// Points scaled to a configured threshold (penalty × threshold / 100).
    pub fn points(self, threshold: u32) -> u32 {
        let scaled = u64::from(self.penalty()) * u64::from(threshold) / 100;
        u32::try_from(scaled).unwrap_or(u32::MAX).max(1)
    }
}

impl fmt::Display for Misbehaviour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Misbehaviour::MalformedFrame => "malformed frame",
            Misbehaviour::OversizedFrame => "oversized frame",
            Misbehaviour::WrongChain => "wrong chain",
            Misbehaviour::HandshakeViolation => "handshake violation",
            Misbehaviour::LimitExceeded => "list limit exceeded",
            Misbehaviour::InvalidBlock => "invalid block",
            Misbehaviour::InvalidTransaction => "invalid transaction",
            Misbehaviour::TransactionFlood => "transaction flood",
            Misbehaviour::Unsolicited => "unsolicited message",
            Misbehaviour::SlowResponse => "slow response",
        };
        f.write_str(text)
    }
}

/// A token bucket: `capacity` tokens, refilled at `rate` per second.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    capacity: f64,
    rate_per_second: f64,
    tokens: f64,
    updated: Instant,
}

impl TokenBucket {
    pub fn new(rate_per_second: u32, capacity: u32, now: Instant) -> TokenBucket {
        TokenBucket {
            capacity: f64::from(capacity),
            rate_per_second: f64::from(rate_per_second),
            tokens: f64::from(capacity),
            updated: now,
        }
    }

    /// Takes `count` tokens if that many are available.
    pub fn try_take(&mut self, count: usize, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.updated);
        self.updated = now;
        self.tokens =
            (self.tokens + elapsed.as_secs_f64() * self.rate_per_second).min(self.capacity);
        let wanted = count as f64;
        if wanted <= self.tokens {
            self.tokens -= wanted;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn severe_offences_ban_at_once_and_mild_ones_add_up() {
        assert!(Misbehaviour::MalformedFrame.points(100) >= 100);
        assert_eq!(Misbehaviour::TransactionFlood.points(100), 25);
        assert_eq!(Misbehaviour::Unsolicited.points(10), 2);
        assert_eq!(Misbehaviour::SlowResponse.points(1), 1);
    }

    #[test]
    fn bucket_allows_burst_then_rate() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(10, 100, start);
        assert!(bucket.try_take(100, start));
        assert!(!bucket.try_take(1, start));
        let later = start + Duration::from_millis(500);
        assert!(bucket.try_take(5, later));
        assert!(!bucket.try_take(1, later));
        // Refill never exceeds capacity.
        let much_later = later + Duration::from_secs(3600);
        assert!(bucket.try_take(100, much_later));
        assert!(!bucket.try_take(1, much_later));
    }
}
