//! Compute (Zero-OS / cockpit) vocabulary: the resources a node offers and a
//! workload asks for, node and deployment IDs, and the validated names and
//! locations that placement constraints compare.
//!
//! These types are shared by the consensus module (`chain::domains::compute`),
//! the pure scheduler, blueprints, the node agent and the read model. The
//! payload operations themselves (register a node, create a deployment,
//! signed reports) build on them.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

use crate::types::{Hash32, HashParseError};

/// Capacity (of a node) or demand (of a workload) in the three dimensions
/// the chain accounts: CPU cores, memory in MiB, disk in GiB.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    bincode::Encode,
    bincode::Decode,
)]
pub struct Resources {
    pub cores: u32,
    pub memory_mib: u64,
    pub disk_gib: u64,
}

impl Resources {
    pub const ZERO: Resources = Resources {
        cores: 0,
        memory_mib: 0,
        disk_gib: 0,
    };

    pub const fn new(cores: u32, memory_mib: u64, disk_gib: u64) -> Resources {
        Resources {
            cores,
            memory_mib,
            disk_gib,
        }
    }

    pub fn is_zero(&self) -> bool {
        *self == Resources::ZERO
    }

    /// Component-wise sum, `None` on overflow.
    pub fn checked_add(self, other: Resources) -> Option<Resources> {
        Some(Resources {
            cores: self.cores.checked_add(other.cores)?,
            memory_mib: self.memory_mib.checked_add(other.memory_mib)?,
            disk_gib: self.disk_gib.checked_add(other.disk_gib)?,
        })
    }

    /// Component-wise difference, `None` if any component would go negative.
    pub fn checked_sub(self, other: Resources) -> Option<Resources> {
        Some(Resources {
            cores: self.cores.checked_sub(other.cores)?,
            memory_mib: self.memory_mib.checked_sub(other.memory_mib)?,
            disk_gib: self.disk_gib.checked_sub(other.disk_gib)?,
        })
    }

    /// Component-wise difference floored at zero.
    pub fn saturating_sub(self, other: Resources) -> Resources {
        Resources {
            cores: self.cores.saturating_sub(other.cores),
            memory_mib: self.memory_mib.saturating_sub(other.memory_mib),
            disk_gib: self.disk_gib.saturating_sub(other.disk_gib),
        }
    }

    /// Whether every component of `self` is at most the one of `available`.
    pub fn fits_in(&self, available: &Resources) -> bool {
        self.cores <= available.cores
            && self.memory_mib <= available.memory_mib
            && self.disk_gib <= available.disk_gib
    }

    /// The dimensions in which `self` exceeds `available`.
    pub fn shortfall(&self, available: &Resources) -> Vec<ResourceKind> {
        let mut short = Vec::new();
        if self.cores > available.cores {
            short.push(ResourceKind::Cores);
        }
        if self.memory_mib > available.memory_mib {
            short.push(ResourceKind::Memory);
        }
        if self.disk_gib > available.disk_gib {
            short.push(ResourceKind::Disk);
        }
        short
    }

    /// Sum of many, `None` on overflow.
    pub fn checked_sum<I: IntoIterator<Item = Resources>>(items: I) -> Option<Resources> {
        items
            .into_iter()
            .try_fold(Resources::ZERO, Resources::checked_add)
    }
}

impl fmt::Display for Resources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} cores, {} MiB memory, {} GiB disk",
            self.cores, self.memory_mib, self.disk_gib
        )
    }
}

/// One accounted dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ResourceKind {
    Cores,
    Memory,
    Disk,
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ResourceKind::Cores => "cores",
            ResourceKind::Memory => "memory",
            ResourceKind::Disk => "disk",
        })
    }
}

macro_rules! compute_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, bincode::Encode,
            bincode::Decode,
        )]
        pub struct $name(pub Hash32);

        impl $name {
            /// The first bytes in hex, for logs and error messages.
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
                write!(f, concat!(stringify!($name), "({})"), self.0.short())
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

compute_id!(
    /// A compute node: the ID of the transaction that registered it.
    NodeId
);
compute_id!(
    /// A deployment: the ID of the transaction that created it.
    DeploymentId
);

/// Longest name (workload, farm, network, volume, city) in bytes.
pub const MAX_NAME_LEN: usize = 63;

/// Why a name or location is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NameError {
    #[error("name is empty")]
    Empty,
    #[error("name {name:?} is {len} bytes long; at most {MAX_NAME_LEN} are allowed")]
    TooLong { name: String, len: usize },
    #[error(
        "name {name:?} has {character:?} at byte {index}; use lowercase ASCII letters, digits and '-' (not first or last)"
    )]
    BadCharacter {
        name: String,
        character: char,
        index: usize,
    },
    #[error("country code {code:?} is not two lowercase ASCII letters (ISO 3166-1 alpha-2)")]
    BadCountry { code: String },
}

/// A DNS-label-like name: 1 to 63 bytes of `[a-z0-9-]`, not starting or
/// ending with `-`. Workloads, farms, networks and volumes are named so.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, bincode::Encode, bincode::Decode)]
pub struct Name(String);

impl Name {
    pub fn new(name: &str) -> Result<Name, NameError> {
        Name::check(name)?;
        Ok(Name(name.to_owned()))
    }

    /// Checks the rule without allocating (decoded names are re-checked by
    /// the payload's stateless rules).
    pub fn check(name: &str) -> Result<(), NameError> {
        if name.is_empty() {
            return Err(NameError::Empty);
        }
        if name.len() > MAX_NAME_LEN {
            return Err(NameError::TooLong {
                name: name.to_owned(),
                len: name.len(),
            });
        }
        let last = name.len() - 1;
        for (index, character) in name.char_indices() {
            let allowed = character.is_ascii_lowercase()
                || character.is_ascii_digit()
                || (character == '-' && index != 0 && index != last);
            if !allowed {
                return Err(NameError::BadCharacter {
                    name: name.to_owned(),
                    character,
                    index,
                });
            }
        }
        Ok(())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl FromStr for Name {
    type Err = NameError;

    fn from_str(text: &str) -> Result<Name, NameError> {
        Name::new(text)
    }
}

/// Where a node stands: a country (ISO 3166-1 alpha-2, lowercase) and a
/// city (a [`Name`], e.g. `ghent`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, bincode::Encode, bincode::Decode)]
pub struct Location {
    country: String,
    city: Name,
}

impl Location {
    pub fn new(country: &str, city: &str) -> Result<Location, NameError> {
        Location::check_country(country)?;
        Ok(Location {
            country: country.to_owned(),
            city: Name::new(city)?,
        })
    }

    pub fn check_country(code: &str) -> Result<(), NameError> {
        if code.len() == 2 && code.bytes().all(|byte| byte.is_ascii_lowercase()) {
            Ok(())
        } else {
            Err(NameError::BadCountry {
                code: code.to_owned(),
            })
        }
    }

    /// Re-checks a decoded value.
    pub fn check(&self) -> Result<(), NameError> {
        Location::check_country(&self.country)?;
        Name::check(self.city.as_str())
    }

    pub fn country(&self) -> &str {
        &self.country
    }

    pub fn city(&self) -> &Name {
        &self.city
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.country, self.city)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_arithmetic() {
        let a = Resources::new(2, 1024, 10);
        let b = Resources::new(1, 2048, 5);
        assert_eq!(a.checked_add(b), Some(Resources::new(3, 3072, 15)));
        assert_eq!(a.checked_sub(b), None);
        assert_eq!(a.saturating_sub(b), Resources::new(1, 0, 5));
        assert!(!b.fits_in(&a));
        assert_eq!(b.shortfall(&a), vec![ResourceKind::Memory]);
        assert!(Resources::new(2, 1024, 10).fits_in(&a));
        assert_eq!(
            Resources::new(u32::MAX, 0, 0).checked_add(Resources::new(1, 0, 0)),
            None
        );
        assert_eq!(
            Resources::checked_sum([a, b]),
            Some(Resources::new(3, 3072, 15))
        );
    }

    #[test]
    fn names_are_dns_labels() {
        assert!(Name::new("web-1").is_ok());
        assert_eq!(Name::new(""), Err(NameError::Empty));
        assert!(matches!(
            Name::new("-web"),
            Err(NameError::BadCharacter { index: 0, .. })
        ));
        assert!(matches!(
            Name::new("web-"),
            Err(NameError::BadCharacter { index: 3, .. })
        ));
        assert!(matches!(
            Name::new("Web"),
            Err(NameError::BadCharacter { character: 'W', .. })
        ));
        assert!(matches!(
            Name::new(&"a".repeat(64)),
            Err(NameError::TooLong { len: 64, .. })
        ));
        assert!(Name::new(&"a".repeat(63)).is_ok());
    }

    #[test]
    fn locations_check_country_and_city() {
        let location = Location::new("be", "ghent").unwrap();
        assert_eq!(location.to_string(), "be/ghent");
        assert!(matches!(
            Location::new("BEL", "ghent"),
            Err(NameError::BadCountry { .. })
        ));
        assert!(Location::new("be", "Ghent").is_err());
    }
}
