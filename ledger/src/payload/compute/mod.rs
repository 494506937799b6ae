//! Compute (Zero-OS / cockpit) vocabulary: the resources a node offers and a
//! workload asks for, node and deployment IDs, and the validated names and
//! locations that placement constraints compare.
//!
//! These types are shared by the consensus module (`chain::domains::compute`),
//! the pure scheduler, blueprints, the node agent and the read model. The
//! payload operations themselves (register a node, create a deployment,
//! signed reports) build on them.

pub mod operation;

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

use crate::types::{Hash32, HashParseError};

pub use operation::{
    ComputeAction, ComputeOperation, ComputePayloadError, ComputeSignature, ComputeSigner, Power,
    WorkloadReport, escrow_condition,
};

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

/// A workload's runtime state as its node reports it (0-orchestrator's VM
/// states, condensed, plus `Deleted`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub enum WorkloadState {
    /// Accepted by the node, being prepared (image, disks).
    Deploying,
    /// Started, not yet confirmed up (a VM still booting).
    Starting,
    Running,
    /// Stopped on purpose (e.g. out of funds, node powering down).
    Stopped,
    /// Failed; the reason is the node's (at most [`MAX_REASON_LEN`] bytes).
    Error(String),
    /// Removed from the node; its capacity is free.
    Deleted,
}

/// Longest error reason in a state report, in bytes.
pub const MAX_REASON_LEN: usize = 256;

impl WorkloadState {
    pub fn name(&self) -> &'static str {
        match self {
            WorkloadState::Deploying => "deploying",
            WorkloadState::Starting => "starting",
            WorkloadState::Running => "running",
            WorkloadState::Stopped => "stopped",
            WorkloadState::Error(_) => "error",
            WorkloadState::Deleted => "deleted",
        }
    }

    /// An error state whose reason is cut to [`MAX_REASON_LEN`] bytes (at a
    /// character boundary).
    pub fn error(reason: &str) -> WorkloadState {
        let mut end = reason.len().min(MAX_REASON_LEN);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        WorkloadState::Error(reason[..end].to_owned())
    }
}

impl fmt::Display for WorkloadState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WorkloadState::Error(reason) => write!(f, "error: {reason}"),
            other => f.write_str(other.name()),
        }
    }
}

/// Most workloads in one deployment.
pub const MAX_WORKLOADS: usize = 64;
/// Most networks in one deployment.
pub const MAX_NETWORKS: usize = 16;
/// Most volumes attached to one workload.
pub const MAX_VOLUMES: usize = 16;
/// Most allowed farms in a deployment's constraints.
pub const MAX_FARMS: usize = 16;
/// Longest image reference in bytes.
pub const MAX_IMAGE_LEN: usize = 128;

/// What a deployment's workloads may run on and how it heals.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct PlacementConstraints {
    /// Allowed farms (sorted, no duplicates); empty means any.
    pub farms: Vec<Name>,
    pub country: Option<String>,
    pub city: Option<Name>,
}

/// What self-healing does when a workload's node goes silent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub enum ReschedulePolicy {
    /// Move the workload to another node chosen by the scheduler.
    #[default]
    Move,
    /// Keep it assigned to its node and wait for the node to return.
    Stay,
}

impl fmt::Display for ReschedulePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReschedulePolicy::Move => "move",
            ReschedulePolicy::Stay => "stay",
        })
    }
}

/// A private network of a deployment: an IPv4 prefix.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, bincode::Encode, bincode::Decode)]
pub struct NetworkSpec {
    pub name: Name,
    pub address: [u8; 4],
    pub prefix: u8,
}

impl NetworkSpec {
    /// Parses `a.b.c.d/p`; the address must be the network address.
    pub fn parse(name: Name, cidr: &str) -> Result<NetworkSpec, SpecError> {
        let bad = || SpecError::BadCidr {
            network: name.clone(),
            cidr: cidr.to_owned(),
        };
        let (address, prefix) = cidr.split_once('/').ok_or_else(bad)?;
        let address: std::net::Ipv4Addr = address.parse().map_err(|_| bad())?;
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        let network = NetworkSpec {
            name: name.clone(),
            address: address.octets(),
            prefix,
        };
        network.check()?;
        Ok(network)
    }

    fn check(&self) -> Result<(), SpecError> {
        let bits = u32::from_be_bytes(self.address);
        let host_mask = u32::MAX.checked_shr(u32::from(self.prefix)).unwrap_or(0);
        if self.prefix > 32 || bits & host_mask != 0 {
            return Err(SpecError::BadCidr {
                network: self.name.clone(),
                cidr: self.cidr(),
            });
        }
        Ok(())
    }

    pub fn cidr(&self) -> String {
        format!("{}/{}", std::net::Ipv4Addr::from(self.address), self.prefix)
    }
}

/// A disk attached to a workload (counted in the workload's disk demand).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, bincode::Encode, bincode::Decode)]
pub struct VolumeSpec {
    pub name: Name,
    pub size_gib: u64,
}

/// One VM of a deployment, as the chain records it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct WorkloadSpec {
    pub name: Name,
    /// Cores, memory and root disk; volumes add to the disk demand.
    pub resources: Resources,
    /// What to boot: an image name the node agent knows (`[a-z0-9._:/-]`).
    pub image: String,
    pub network: Option<Name>,
    /// Attached volumes, sorted by name.
    pub volumes: Vec<VolumeSpec>,
    pub anti_affinity: Option<Name>,
    /// The node the owner chose, if any (otherwise the scheduler picks).
    pub node: Option<NodeId>,
}

impl WorkloadSpec {
    /// What the scheduler and capacity accounting reserve: the root disk
    /// plus every volume.
    pub fn demand(&self) -> Option<Resources> {
        let volumes = self
            .volumes
            .iter()
            .try_fold(0u64, |sum, volume| sum.checked_add(volume.size_gib))?;
        Some(Resources {
            disk_gib: self.resources.disk_gib.checked_add(volumes)?,
            ..self.resources
        })
    }
}

/// A deployment: a named set of workloads with their networks, placement
/// constraints and healing policy.
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct DeploymentSpec {
    pub name: Name,
    pub constraints: PlacementConstraints,
    pub reschedule: ReschedulePolicy,
    /// Sorted by name.
    pub networks: Vec<NetworkSpec>,
    /// Sorted by name.
    pub workloads: Vec<WorkloadSpec>,
}

/// Why a deployment spec breaks a stateless rule. `at` is a path such as
/// `workloads[web-1].network`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SpecError {
    #[error("{at}: {source}")]
    Name { at: String, source: NameError },
    #[error("network {network}: {cidr:?} is not an IPv4 network address with a prefix of 0..=32")]
    BadCidr { network: Name, cidr: String },
    #[error("{at}: {what} {name} is listed twice")]
    Duplicate {
        at: String,
        what: &'static str,
        name: String,
    },
    #[error("{at}: entries are not sorted by name")]
    Unsorted { at: String },
    #[error("{at}: {count} entries; at most {max} are allowed")]
    TooMany {
        at: String,
        count: usize,
        max: usize,
    },
    #[error("a deployment needs at least one workload")]
    NoWorkloads,
    #[error("workloads[{workload}]: {field} must be at least 1")]
    Zero { workload: Name, field: &'static str },
    #[error("workloads[{workload}]: disk demand (root disk plus volumes) overflows")]
    DemandOverflow { workload: Name },
    #[error(
        "workloads[{workload}].image: {image:?} must be 1..={MAX_IMAGE_LEN} bytes of [a-z0-9._:/-]"
    )]
    BadImage { workload: Name, image: String },
    #[error("workloads[{workload}].network: no network named {network} in this deployment")]
    UnknownNetwork { workload: Name, network: Name },
}

fn check_sorted_unique<T, K: Ord + fmt::Display>(
    items: &[T],
    key: impl Fn(&T) -> &K,
    at: &str,
    what: &'static str,
) -> Result<(), SpecError> {
    for pair in items.windows(2) {
        match key(&pair[0]).cmp(key(&pair[1])) {
            std::cmp::Ordering::Less => {}
            std::cmp::Ordering::Equal => {
                return Err(SpecError::Duplicate {
                    at: at.to_owned(),
                    what,
                    name: key(&pair[0]).to_string(),
                });
            }
            std::cmp::Ordering::Greater => {
                return Err(SpecError::Unsorted { at: at.to_owned() });
            }
        }
    }
    Ok(())
}

fn check_count(count: usize, max: usize, at: &str) -> Result<(), SpecError> {
    if count > max {
        return Err(SpecError::TooMany {
            at: at.to_owned(),
            count,
            max,
        });
    }
    Ok(())
}

impl DeploymentSpec {
    /// Every stateless rule; decoded specs are checked the same way.
    pub fn validate(&self) -> Result<(), SpecError> {
        let name_at = |at: String| move |source| SpecError::Name { at, source };
        Name::check(self.name.as_str()).map_err(name_at("name".into()))?;
        let constraints = &self.constraints;
        check_count(constraints.farms.len(), MAX_FARMS, "constraints.farms")?;
        for farm in &constraints.farms {
            Name::check(farm.as_str()).map_err(name_at("constraints.farms".into()))?;
        }
        check_sorted_unique(&constraints.farms, |f| f, "constraints.farms", "farm")?;
        if let Some(country) = &constraints.country {
            Location::check_country(country).map_err(name_at("constraints.country".into()))?;
        }
        if let Some(city) = &constraints.city {
            Name::check(city.as_str()).map_err(name_at("constraints.city".into()))?;
        }
        check_count(self.networks.len(), MAX_NETWORKS, "networks")?;
        for network in &self.networks {
            Name::check(network.name.as_str()).map_err(name_at("networks".into()))?;
            network.check()?;
        }
        check_sorted_unique(&self.networks, |n| &n.name, "networks", "network")?;
        if self.workloads.is_empty() {
            return Err(SpecError::NoWorkloads);
        }
        check_count(self.workloads.len(), MAX_WORKLOADS, "workloads")?;
        check_sorted_unique(&self.workloads, |w| &w.name, "workloads", "workload")?;
        for workload in &self.workloads {
            self.validate_workload(workload)?;
        }
        Ok(())
    }

    fn validate_workload(&self, workload: &WorkloadSpec) -> Result<(), SpecError> {
        let name = &workload.name;
        let at = |field: &str| format!("workloads[{name}]{field}");
        Name::check(name.as_str()).map_err(|source| SpecError::Name { at: at(""), source })?;
        let zero = |field| SpecError::Zero {
            workload: name.clone(),
            field,
        };
        if workload.resources.cores == 0 {
            return Err(zero("cores"));
        }
        if workload.resources.memory_mib == 0 {
            return Err(zero("memory_mib"));
        }
        if workload.resources.disk_gib == 0 {
            return Err(zero("disk_gib"));
        }
        let image_ok = !workload.image.is_empty()
            && workload.image.len() <= MAX_IMAGE_LEN
            && workload.image.bytes().all(|byte| {
                byte.is_ascii_lowercase() || byte.is_ascii_digit() || b"._:/-".contains(&byte)
            });
        if !image_ok {
            return Err(SpecError::BadImage {
                workload: name.clone(),
                image: workload.image.clone(),
            });
        }
        if let Some(network) = &workload.network
            && !self.networks.iter().any(|n| &n.name == network)
        {
            return Err(SpecError::UnknownNetwork {
                workload: name.clone(),
                network: network.clone(),
            });
        }
        if let Some(group) = &workload.anti_affinity {
            Name::check(group.as_str()).map_err(|source| SpecError::Name {
                at: at(".anti_affinity"),
                source,
            })?;
        }
        check_count(workload.volumes.len(), MAX_VOLUMES, &at(".volumes"))?;
        for volume in &workload.volumes {
            Name::check(volume.name.as_str()).map_err(|source| SpecError::Name {
                at: at(".volumes"),
                source,
            })?;
            if volume.size_gib == 0 {
                return Err(zero("volume size_gib"));
            }
        }
        check_sorted_unique(&workload.volumes, |v| &v.name, &at(".volumes"), "volume")?;
        if workload.demand().is_none() {
            return Err(SpecError::DemandOverflow {
                workload: name.clone(),
            });
        }
        Ok(())
    }

    pub fn workload(&self, name: &Name) -> Option<&WorkloadSpec> {
        self.workloads
            .binary_search_by(|w| w.name.cmp(name))
            .ok()
            .and_then(|index| self.workloads.get(index))
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
    #[test]
    fn specs_check_order_references_and_cidrs() {
        let workload = |name: &str| WorkloadSpec {
            name: Name::new(name).unwrap(),
            resources: Resources::new(1, 512, 5),
            image: "alpine".into(),
            network: None,
            volumes: Vec::new(),
            anti_affinity: None,
            node: None,
        };
        let mut spec = DeploymentSpec {
            name: Name::new("shop").unwrap(),
            constraints: PlacementConstraints::default(),
            reschedule: ReschedulePolicy::Move,
            networks: Vec::new(),
            workloads: vec![workload("a"), workload("b")],
        };
        assert_eq!(spec.validate(), Ok(()));
        assert_eq!(
            spec.workload(&Name::new("b").unwrap()),
            Some(&spec.workloads[1])
        );
        spec.workloads.reverse();
        assert!(matches!(spec.validate(), Err(SpecError::Unsorted { .. })));
        spec.workloads = vec![workload("a"), workload("a")];
        assert!(matches!(spec.validate(), Err(SpecError::Duplicate { .. })));
        spec.workloads = vec![workload("a")];
        spec.workloads[0].network = Some(Name::new("lan").unwrap());
        assert!(matches!(
            spec.validate(),
            Err(SpecError::UnknownNetwork { .. })
        ));
        let lan = Name::new("lan").unwrap();
        spec.networks = vec![NetworkSpec::parse(lan.clone(), "192.168.0.0/16").unwrap()];
        assert_eq!(spec.validate(), Ok(()));
        for bad in ["192.168.0.1/16", "10.0.0.0/33", "10.0.0.0", "x/8"] {
            assert!(NetworkSpec::parse(lan.clone(), bad).is_err(), "{bad}");
        }
        assert!(NetworkSpec::parse(lan.clone(), "0.0.0.0/0").is_ok());
        assert!(NetworkSpec::parse(lan, "10.0.0.7/32").is_ok());
        spec.workloads[0].volumes = vec![VolumeSpec {
            name: Name::new("data").unwrap(),
            size_gib: u64::MAX,
        }];
        assert!(matches!(
            spec.validate(),
            Err(SpecError::DemandOverflow { .. })
        ));
    }
}
