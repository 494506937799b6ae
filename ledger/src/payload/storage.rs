//! Zero storage vocabulary: storage node and object IDs, failure-domain
//! paths (region/datacenter/farm), node states and erasure-coding policies
//! with the failure tolerance they promise.
//!
//! These are the consensus types the storage payloads carry and the input
//! of the placement function (`chain::domains::storage::placement`); their
//! stateless rules live here. Nothing here does I/O.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

use crate::types::Hash32;

/// The most shards (data + parity) one object may be coded into. The
/// Reed–Solomon code over GF(2^8) allows 256; 64 keeps metadata and the
/// placement search small while covering every layout 0-stor shipped.
pub const MAX_TOTAL_SHARDS: usize = 64;

/// The longest name of one failure-domain level, in bytes.
pub const MAX_DOMAIN_NAME_BYTES: usize = 64;

/// A registered storage node (the hash its registration defines).
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, bincode::Encode, bincode::Decode,
)]
pub struct StorageNodeId(pub Hash32);

/// A stored object (the hash its registration defines).
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, bincode::Encode, bincode::Decode,
)]
pub struct ObjectId(pub Hash32);

impl fmt::Debug for StorageNodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StorageNodeId({})", self.0.short())
    }
}

impl fmt::Display for StorageNodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectId({})", self.0.short())
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// Where a node sits: `region/datacenter/farm`. Two nodes share a
/// datacenter only when both their region and datacenter names match.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, bincode::Encode, bincode::Decode)]
pub struct FailureDomain {
    pub region: String,
    pub datacenter: String,
    pub farm: String,
}

/// A level of the failure-domain path a tolerance is counted at.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, bincode::Encode, bincode::Decode,
)]
pub enum DomainLevel {
    Region,
    Datacenter,
    Farm,
}

impl DomainLevel {
    pub const fn name(self) -> &'static str {
        match self {
            DomainLevel::Region => "region",
            DomainLevel::Datacenter => "datacenter",
            DomainLevel::Farm => "farm",
        }
    }
}

impl fmt::Display for DomainLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a failure-domain path or one of its names is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FailureDomainError {
    #[error("failure domain {text:?} must have three parts region/datacenter/farm, got {parts}")]
    WrongParts { text: String, parts: usize },
    #[error("failure domain {level} name is empty")]
    EmptyName { level: DomainLevel },
    #[error("failure domain {level} name {name:?} is longer than {MAX_DOMAIN_NAME_BYTES} bytes")]
    NameTooLong { level: DomainLevel, name: String },
    #[error(
        "failure domain {level} name {name:?} may only hold ASCII letters, digits, '-', '_' and '.'"
    )]
    BadCharacter { level: DomainLevel, name: String },
}

impl FailureDomain {
    /// Checks every name: 1 to 64 bytes of `[A-Za-z0-9._-]`.
    pub fn validate(&self) -> Result<(), FailureDomainError> {
        for (level, name) in [
            (DomainLevel::Region, &self.region),
            (DomainLevel::Datacenter, &self.datacenter),
            (DomainLevel::Farm, &self.farm),
        ] {
            if name.is_empty() {
                return Err(FailureDomainError::EmptyName { level });
            }
            if name.len() > MAX_DOMAIN_NAME_BYTES {
                return Err(FailureDomainError::NameTooLong {
                    level,
                    name: name.clone(),
                });
            }
            if !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            {
                return Err(FailureDomainError::BadCharacter {
                    level,
                    name: name.clone(),
                });
            }
        }
        Ok(())
    }

    /// The path down to `level` (`region`, `region/datacenter` or the
    /// whole path): nodes with equal prefixes fail together at that level.
    pub fn prefix(&self, level: DomainLevel) -> String {
        match level {
            DomainLevel::Region => self.region.clone(),
            DomainLevel::Datacenter => format!("{}/{}", self.region, self.datacenter),
            DomainLevel::Farm => self.to_string(),
        }
    }
}

impl fmt::Display for FailureDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.region, self.datacenter, self.farm)
    }
}

impl FromStr for FailureDomain {
    type Err = FailureDomainError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = text.split('/').collect();
        let [region, datacenter, farm] = parts.as_slice() else {
            return Err(FailureDomainError::WrongParts {
                text: text.to_string(),
                parts: parts.len(),
            });
        };
        let domain = FailureDomain {
            region: (*region).to_string(),
            datacenter: (*datacenter).to_string(),
            farm: (*farm).to_string(),
        };
        domain.validate()?;
        Ok(domain)
    }
}

/// What a storage node reports about itself (signed by its node key).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, bincode::Encode, bincode::Decode,
)]
pub enum NodeState {
    /// Accepts new shards and serves its own.
    Healthy,
    /// Serves its shards but should get no new ones (slow disk, errors).
    Degraded,
    /// Serves its shards; no room for new ones.
    Full,
    /// Going away: its shards must move elsewhere.
    Leaving,
}

impl NodeState {
    pub const fn name(self) -> &'static str {
        match self {
            NodeState::Healthy => "healthy",
            NodeState::Degraded => "degraded",
            NodeState::Full => "full",
            NodeState::Leaving => "leaving",
        }
    }

    /// May the node receive new shards?
    pub const fn accepts_new_shards(self) -> bool {
        matches!(self, NodeState::Healthy)
    }

    /// May the node keep the shards it holds?
    pub const fn keeps_shards(self) -> bool {
        !matches!(self, NodeState::Leaving)
    }
}

impl fmt::Display for NodeState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The failures an object promises to survive: any `domains` whole
/// failure domains at `level`, plus any `nodes` further nodes.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, bincode::Encode, bincode::Decode,
)]
pub struct Tolerance {
    pub level: DomainLevel,
    pub domains: u8,
    pub nodes: u8,
}

/// Reed–Solomon `data_shards` + `parity_shards`: any `data_shards` of the
/// shards rebuild the data; plus the tolerance the placement must keep.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, bincode::Encode, bincode::Decode,
)]
pub struct ErasurePolicy {
    pub data_shards: u8,
    pub parity_shards: u8,
    pub tolerance: Tolerance,
}

/// Why an erasure policy can never be honoured, whatever the nodes.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PolicyError {
    #[error("policy {policy} has no data shards")]
    NoDataShards { policy: ErasurePolicy },
    #[error("policy {policy} has {total} shards; at most {MAX_TOTAL_SHARDS} are allowed")]
    TooManyShards { policy: ErasurePolicy, total: usize },
    #[error(
        "policy {policy} promises to survive {nodes} lost nodes but has only {parity} parity shards"
    )]
    NodesExceedParity {
        policy: ErasurePolicy,
        nodes: u8,
        parity: u8,
    },
    #[error(
        "policy {policy} cannot survive {domains} lost {level}s: after the {nodes} extra lost nodes, {spare} parity shards are left, fewer than one per lost {level}"
    )]
    DomainsExceedParity {
        policy: ErasurePolicy,
        level: DomainLevel,
        domains: u8,
        nodes: u8,
        spare: u8,
    },
}

impl ErasurePolicy {
    pub fn total_shards(&self) -> usize {
        usize::from(self.data_shards) + usize::from(self.parity_shards)
    }

    /// Checks the policy can be honoured by some set of nodes.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let policy = *self;
        if self.data_shards == 0 {
            return Err(PolicyError::NoDataShards { policy });
        }
        if self.total_shards() > MAX_TOTAL_SHARDS {
            return Err(PolicyError::TooManyShards {
                policy,
                total: self.total_shards(),
            });
        }
        let Tolerance {
            level,
            domains,
            nodes,
        } = self.tolerance;
        if nodes > self.parity_shards {
            return Err(PolicyError::NodesExceedParity {
                policy,
                nodes,
                parity: self.parity_shards,
            });
        }
        let spare = self.parity_shards - nodes;
        if domains > spare {
            return Err(PolicyError::DomainsExceedParity {
                policy,
                level,
                domains,
                nodes,
                spare,
            });
        }
        Ok(())
    }

    /// The most shards one failure domain (at the tolerance's level) may
    /// hold: `(parity − nodes) / domains`, so that losing the `domains`
    /// fullest domains plus `nodes` more nodes loses at most `parity`
    /// shards. Every shard when the policy tolerates no domain loss.
    /// Meaningful only for a valid policy.
    pub fn max_shards_per_domain(&self) -> usize {
        let Tolerance { domains, nodes, .. } = self.tolerance;
        if domains == 0 {
            return self.total_shards();
        }
        usize::from(self.parity_shards.saturating_sub(nodes) / domains)
    }

    /// Stored bytes per original byte (before compression), e.g. 1.5 for
    /// 4+2; 3-way replication is 3.0.
    pub fn overhead(&self) -> f64 {
        self.total_shards() as f64 / f64::from(self.data_shards.max(1))
    }
}

impl fmt::Display for ErasurePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Tolerance {
            level,
            domains,
            nodes,
        } = self.tolerance;
        write!(
            f,
            "{}+{} surviving {domains} {level}{} + {nodes} node{}",
            self.data_shards,
            self.parity_shards,
            if domains == 1 { "" } else { "s" },
            if nodes == 1 { "" } else { "s" },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(k: u8, m: u8, domains: u8, nodes: u8) -> ErasurePolicy {
        ErasurePolicy {
            data_shards: k,
            parity_shards: m,
            tolerance: Tolerance {
                level: DomainLevel::Datacenter,
                domains,
                nodes,
            },
        }
    }

    #[test]
    fn policies_that_no_nodes_can_honour_are_refused() {
        assert_eq!(policy(4, 2, 1, 0).validate(), Ok(()));
        assert_eq!(policy(4, 2, 1, 0).max_shards_per_domain(), 2);
        assert_eq!(policy(4, 3, 1, 1).max_shards_per_domain(), 2);
        assert_eq!(policy(10, 5, 2, 1).max_shards_per_domain(), 2);
        assert_eq!(policy(3, 0, 0, 0).max_shards_per_domain(), 3);
        assert!(matches!(
            policy(0, 2, 0, 0).validate(),
            Err(PolicyError::NoDataShards { .. })
        ));
        assert!(matches!(
            policy(60, 5, 0, 0).validate(),
            Err(PolicyError::TooManyShards { total: 65, .. })
        ));
        assert!(matches!(
            policy(4, 2, 0, 3).validate(),
            Err(PolicyError::NodesExceedParity { .. })
        ));
        let error = policy(4, 2, 2, 1).validate().unwrap_err();
        assert!(matches!(
            error,
            PolicyError::DomainsExceedParity { spare: 1, .. }
        ));
        assert_eq!(
            error.to_string(),
            "policy 4+2 surviving 2 datacenters + 1 node cannot survive 2 lost datacenters: after the 1 extra lost nodes, 1 parity shards are left, fewer than one per lost datacenter"
        );
        assert_eq!(policy(4, 2, 1, 0).overhead(), 1.5);
    }

    #[test]
    fn failure_domains_parse_and_validate() {
        let domain: FailureDomain = "eu/ams-1/farm_7".parse().unwrap();
        assert_eq!(domain.prefix(DomainLevel::Region), "eu");
        assert_eq!(domain.prefix(DomainLevel::Datacenter), "eu/ams-1");
        assert_eq!(domain.prefix(DomainLevel::Farm), "eu/ams-1/farm_7");
        assert_eq!(domain.to_string(), "eu/ams-1/farm_7");
        assert!(matches!(
            "eu/ams".parse::<FailureDomain>(),
            Err(FailureDomainError::WrongParts { parts: 2, .. })
        ));
        assert!(matches!(
            "eu//f".parse::<FailureDomain>(),
            Err(FailureDomainError::EmptyName {
                level: DomainLevel::Datacenter
            })
        ));
        assert!(matches!(
            "eu/a b/f".parse::<FailureDomain>(),
            Err(FailureDomainError::BadCharacter { .. })
        ));
        let long = "x".repeat(65);
        assert!(matches!(
            format!("eu/{long}/f").parse::<FailureDomain>(),
            Err(FailureDomainError::NameTooLong { .. })
        ));
    }
}
