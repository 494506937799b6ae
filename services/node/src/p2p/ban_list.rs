//! Temporary bans by IP address. A ban refuses new connections from and
//! dials to that IP until it expires; connections already open from the
//! same IP (other nodes behind one NAT, or on one loopback) stay open,
//! only the offending connection is closed.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

/// Banned IPs with their expiry.
#[derive(Debug, Default)]
pub struct BanList {
    until: HashMap<IpAddr, Instant>,
}

impl BanList {
    /// Bans `ip` until `expiry` (extending, never shortening, a ban).
    pub fn ban(&mut self, ip: IpAddr, expiry: Instant) {
        let entry = self.until.entry(ip).or_insert(expiry);
        *entry = (*entry).max(expiry);
    }

    /// Whether `ip` is banned at `now`; forgets expired bans.
    pub fn is_banned(&mut self, ip: IpAddr, now: Instant) -> bool {
        match self.until.get(&ip) {
            Some(expiry) if *expiry > now => true,
            Some(_) => {
                self.until.remove(&ip);
                false
            }
            None => false,
        }
    }

    /// Bans in force at `now`.
    pub fn active(&mut self, now: Instant) -> usize {
        self.until.retain(|_, expiry| *expiry > now);
        self.until.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bans_expire() {
        let now = Instant::now();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let mut bans = BanList::default();
        bans.ban(ip, now + Duration::from_secs(10));
        bans.ban(ip, now + Duration::from_secs(1));
        assert!(
            bans.is_banned(ip, now + Duration::from_secs(5)),
            "not shortened"
        );
        assert!(!bans.is_banned("10.0.0.2".parse().unwrap(), now));
        assert_eq!(bans.active(now), 1);
        assert!(!bans.is_banned(ip, now + Duration::from_secs(10)));
        assert_eq!(bans.active(now), 0);
    }
}
