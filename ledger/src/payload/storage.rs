//! Zero storage vocabulary: storage node and object IDs, failure-domain
//! paths (region/datacenter/farm), node states and erasure-coding policies
//! with the failure tolerance they promise.
//!
//! These are the consensus types the storage payloads carry and the input
//! of the placement function (`chain::domains::storage::placement`); their
//! stateless rules live here. Nothing here does I/O.
//!
//! A transaction carries at most one [`StorageOperation`]: a
//! [`StorageAction`], the public key that signs for it and the signature.
//! Owner actions (register or retire a node, register or delete an object,
//! record a repair, authorize or revoke a repairer) are signed by an active
//! key of the owning identity; node state reports by the node's own key; a
//! repair may also be signed by a repairer key the owner authorized, which
//! may then only move shards to where placement puts them. The fee is paid by ordinary
//! coin inputs, at least one of which is required, so the transaction ID is
//! unique and the signature (which commits to it) cannot be replayed.
//!
//! ```text
//! transcript("blockstake/signature/v1")
//!   purpose        = "payload-authorization" (owner) | "node-report" (node)
//!   chain-id       = 32 bytes
//!   domain         = "storage"
//!   transaction-id = 32 bytes (the ID excludes this signature)
//!   action         = canonical encoding of the StorageAction
//!   public-key     = 32 bytes
//! challenge "sig", 64 bytes
//! ```

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

use super::{DomainPayload, Payload, PayloadError};
use crate::codec;
use crate::crypto::hash::{HashTag, tagged_hash, tagged_hash_parts};
use crate::crypto::{
    ChainId, PublicKey, SecretKey, Signature, SigningMessage, SigningPurpose, SigningTranscript,
};
use crate::params::NetworkParams;
use crate::transaction::Transaction;
use crate::types::{Hash32, IdentityId, TransactionId};

/// The longest node endpoint (a URL), in bytes.
pub const MAX_ENDPOINT_BYTES: usize = 256;
/// The most shards one repair may move.
pub const MAX_REPAIR_MOVES: usize = MAX_TOTAL_SHARDS;

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

impl StorageNodeId {
    /// The ID of the node registered by transaction `transaction`.
    pub fn for_registration(transaction: &TransactionId) -> StorageNodeId {
        StorageNodeId(tagged_hash(
            HashTag::StorageNodeId,
            transaction.0.as_bytes(),
        ))
    }
}

impl ObjectId {
    /// `H("blockstake/storage/object-id/v1" ‖ owner key ‖ salt)`: the ID
    /// commits to the key that owns the object, so a stor-node can check
    /// a write is the owner's without asking the chain.
    pub fn derive(owner: &PublicKey, salt: &[u8; 16]) -> ObjectId {
        ObjectId(tagged_hash_parts(
            HashTag::StorageObjectId,
            &[&owner.0, salt],
        ))
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

/// What a storage transaction does. The encoded tag is the variant
/// index: append only.
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub enum StorageAction {
    /// Registers a node owned by `owner` (signed by one of its active
    /// keys); its ID is [`StorageNodeId::for_registration`].
    RegisterNode {
        owner: IdentityId,
        node_key: PublicKey,
        endpoint: String,
        domain: FailureDomain,
        capacity_bytes: u64,
    },
    /// The node's own report (signed by its node key).
    ReportNode {
        node: StorageNodeId,
        state: NodeState,
        free_bytes: u64,
    },
    /// The owner takes the node out for good.
    RetireNode {
        node: StorageNodeId,
    },
    /// Registers an object whose ID is [`ObjectId::derive`] of the signing
    /// key and `salt`; shard `i` is on `shard_nodes[i]` with checksum
    /// `shard_checksums[i]`. The placement must keep the policy's promise.
    RegisterObject {
        owner: IdentityId,
        salt: [u8; 16],
        size: u64,
        policy: ErasurePolicy,
        chunk_bytes: u32,
        content_hash: Hash32,
        key_fingerprint: Hash32,
        shard_checksums: Vec<Hash32>,
        shard_nodes: Vec<StorageNodeId>,
    },
    DeleteObject {
        object: ObjectId,
    },
    /// Shards moved by a repair: `(shard index, new node)`. Signed by an
    /// active key of the owner (any layout that keeps the promise), or by
    /// a repairer key the owner authorized (each moved shard must go where
    /// `placement::repair_targets` puts it).
    RecordRepair {
        object: ObjectId,
        moves: Vec<(u8, StorageNodeId)>,
    },
    /// The owner lets `repairer` (a repair service's key) record repairs
    /// of all its objects.
    AuthorizeRepairer {
        owner: IdentityId,
        repairer: PublicKey,
    },
    /// The owner withdraws that authorization.
    RevokeRepairer {
        owner: IdentityId,
        repairer: PublicKey,
    },
}

impl StorageAction {
    pub const fn kind(&self) -> &'static str {
        match self {
            StorageAction::RegisterNode { .. } => "register-node",
            StorageAction::ReportNode { .. } => "report-node",
            StorageAction::RetireNode { .. } => "retire-node",
            StorageAction::RegisterObject { .. } => "register-object",
            StorageAction::DeleteObject { .. } => "delete-object",
            StorageAction::RecordRepair { .. } => "record-repair",
            StorageAction::AuthorizeRepairer { .. } => "authorize-repairer",
            StorageAction::RevokeRepairer { .. } => "revoke-repairer",
        }
    }

    /// Node reports are signed by the node key; everything else by the
    /// owner's identity key.
    pub const fn purpose(&self) -> SigningPurpose {
        match self {
            StorageAction::ReportNode { .. } => SigningPurpose::NodeReport,
            _ => SigningPurpose::PayloadAuthorization,
        }
    }
}

/// A signed storage action.
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct StorageOperation {
    pub action: StorageAction,
    pub signer: PublicKey,
    pub signature: Signature,
}

/// Why a storage payload breaks a stateless rule.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StoragePayloadError {
    #[error(
        "storage {action} has no coin inputs (one is needed to make it unique and pay its fee)"
    )]
    NoCoinInputs { action: &'static str },
    #[error(transparent)]
    Domain(#[from] FailureDomainError),
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error(
        "node endpoint {endpoint:?} must be 1 to {MAX_ENDPOINT_BYTES} bytes of printable ASCII starting with http:// or https://"
    )]
    Endpoint { endpoint: String },
    #[error("node capacity is 0 bytes")]
    ZeroCapacity,
    #[error(
        "object of policy {policy} lists {checksums} shard checksums and {nodes} shard nodes; it has {expected} shards"
    )]
    ShardCount {
        policy: ErasurePolicy,
        expected: usize,
        checksums: usize,
        nodes: usize,
    },
    #[error("node {node} holds shards {first} and {second}")]
    SharedNode {
        node: StorageNodeId,
        first: usize,
        second: usize,
    },
    #[error("chunk size {0} is outside 1024..=67108864 bytes")]
    ChunkSize(u32),
    #[error("a repair records no moves")]
    NoMoves,
    #[error("a repair moves {0} shards; at most {MAX_REPAIR_MOVES}")]
    TooManyMoves(usize),
    #[error("a repair moves shard {0} twice")]
    RepeatedShard(u8),
}

/// The message `public_key` signs for `action` in transaction
/// `transaction_id` on chain `chain_id`.
pub fn signing_message(
    action: &StorageAction,
    chain_id: &ChainId,
    transaction_id: &TransactionId,
    public_key: &PublicKey,
) -> SigningMessage {
    let mut transcript = SigningTranscript::new(action.purpose(), chain_id);
    transcript.append(b"domain", b"storage");
    transcript.append(b"transaction-id", transaction_id.0.as_bytes());
    transcript.append(b"action", &codec::encode(action));
    transcript.append(b"public-key", &public_key.0);
    transcript.challenge()
}

impl StorageOperation {
    pub fn unsigned(action: StorageAction, signer: PublicKey) -> StorageOperation {
        StorageOperation {
            action,
            signer,
            signature: Signature::default(),
        }
    }

    pub fn signing_message(
        &self,
        chain_id: &ChainId,
        transaction_id: &TransactionId,
    ) -> SigningMessage {
        signing_message(&self.action, chain_id, transaction_id, &self.signer)
    }

    fn check(&self, transaction: &Transaction) -> Result<(), StoragePayloadError> {
        if transaction.coin_inputs.is_empty() {
            return Err(StoragePayloadError::NoCoinInputs {
                action: self.action.kind(),
            });
        }
        match &self.action {
            StorageAction::RegisterNode {
                endpoint,
                domain,
                capacity_bytes,
                ..
            } => {
                let printable = endpoint.bytes().all(|b| b.is_ascii_graphic());
                let scheme = endpoint.starts_with("http://") || endpoint.starts_with("https://");
                if endpoint.len() > MAX_ENDPOINT_BYTES || !printable || !scheme {
                    return Err(StoragePayloadError::Endpoint {
                        endpoint: endpoint.clone(),
                    });
                }
                domain.validate()?;
                if *capacity_bytes == 0 {
                    return Err(StoragePayloadError::ZeroCapacity);
                }
            }
            StorageAction::RegisterObject {
                policy,
                chunk_bytes,
                shard_checksums,
                shard_nodes,
                ..
            } => {
                policy.validate()?;
                if !(1024..=64 << 20).contains(chunk_bytes) {
                    return Err(StoragePayloadError::ChunkSize(*chunk_bytes));
                }
                let expected = policy.total_shards();
                if shard_checksums.len() != expected || shard_nodes.len() != expected {
                    return Err(StoragePayloadError::ShardCount {
                        policy: *policy,
                        expected,
                        checksums: shard_checksums.len(),
                        nodes: shard_nodes.len(),
                    });
                }
                for (second, node) in shard_nodes.iter().enumerate() {
                    if let Some(first) = shard_nodes[..second].iter().position(|n| n == node) {
                        return Err(StoragePayloadError::SharedNode {
                            node: *node,
                            first,
                            second,
                        });
                    }
                }
            }
            StorageAction::RecordRepair { moves, .. } => {
                if moves.is_empty() {
                    return Err(StoragePayloadError::NoMoves);
                }
                if moves.len() > MAX_REPAIR_MOVES {
                    return Err(StoragePayloadError::TooManyMoves(moves.len()));
                }
                for (index, (shard, _)) in moves.iter().enumerate() {
                    if moves[..index].iter().any(|(other, _)| other == shard) {
                        return Err(StoragePayloadError::RepeatedShard(*shard));
                    }
                }
            }
            StorageAction::ReportNode { .. }
            | StorageAction::RetireNode { .. }
            | StorageAction::DeleteObject { .. }
            | StorageAction::AuthorizeRepairer { .. }
            | StorageAction::RevokeRepairer { .. } => {}
        }
        Ok(())
    }
}

impl DomainPayload for StorageOperation {
    fn label(&self) -> &'static [u8] {
        b"storage"
    }

    fn validate_stateless(
        &self,
        transaction: &Transaction,
        _params: &NetworkParams,
    ) -> Result<(), PayloadError> {
        self.check(transaction).map_err(PayloadError::Storage)
    }

    fn without_authorization(&self) -> Payload {
        let mut stripped = self.clone();
        stripped.signature = Signature::default();
        Payload::Storage(stripped)
    }
}

/// Puts `operation` into `transaction` and signs it with `key` (the
/// secret of `operation.signer`). Call after every other field is final
/// and before signing the coin inputs. Returns the transaction ID.
pub fn sign_into(
    transaction: &mut Transaction,
    mut operation: StorageOperation,
    chain_id: &ChainId,
    key: &SecretKey,
) -> TransactionId {
    transaction.payload = Some(Payload::Storage(operation.clone()));
    let id = transaction.id();
    operation.signature = key.sign(&operation.signing_message(chain_id, &id));
    transaction.payload = Some(Payload::Storage(operation));
    id
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

    #[test]
    fn storage_operations_follow_their_stateless_rules() {
        use crate::fulfillment::Fulfillment;
        use crate::transaction::CoinInput;
        use crate::types::CoinOutputId;

        let paying = Transaction {
            coin_inputs: vec![CoinInput {
                parent_id: CoinOutputId(Hash32([9; 32])),
                fulfillment: Fulfillment::Nil,
            }],
            ..Transaction::new()
        };
        let key = SecretKey::from_seed([3; 32]);
        let node = |endpoint: &str, capacity_bytes| {
            StorageOperation::unsigned(
                StorageAction::RegisterNode {
                    owner: IdentityId(Hash32([1; 32])),
                    node_key: key.public_key(),
                    endpoint: endpoint.into(),
                    domain: "eu/dc1/f1".parse().unwrap(),
                    capacity_bytes,
                },
                key.public_key(),
            )
        };
        assert_eq!(node("http://127.0.0.1:9400", 1).check(&paying), Ok(()));
        assert!(matches!(
            node("ftp://x", 1).check(&paying),
            Err(StoragePayloadError::Endpoint { .. })
        ));
        assert_eq!(
            node("http://x", 0).check(&paying),
            Err(StoragePayloadError::ZeroCapacity)
        );
        assert!(matches!(
            node("http://x", 1).check(&Transaction::new()),
            Err(StoragePayloadError::NoCoinInputs { .. })
        ));
        let object = |nodes: Vec<StorageNodeId>| {
            StorageOperation::unsigned(
                StorageAction::RegisterObject {
                    owner: IdentityId(Hash32([1; 32])),
                    salt: [2; 16],
                    size: 10,
                    policy: policy(2, 1, 0, 1),
                    chunk_bytes: 4096,
                    content_hash: Hash32([4; 32]),
                    key_fingerprint: Hash32([5; 32]),
                    shard_checksums: vec![Hash32([6; 32]); 3],
                    shard_nodes: nodes,
                },
                key.public_key(),
            )
        };
        let n = |byte| StorageNodeId(Hash32([byte; 32]));
        assert_eq!(object(vec![n(1), n(2), n(3)]).check(&paying), Ok(()));
        assert!(matches!(
            object(vec![n(1), n(2)]).check(&paying),
            Err(StoragePayloadError::ShardCount { .. })
        ));
        assert!(matches!(
            object(vec![n(1), n(2), n(1)]).check(&paying),
            Err(StoragePayloadError::SharedNode {
                first: 0,
                second: 2,
                ..
            })
        ));
        let repair = |moves| {
            StorageOperation::unsigned(
                StorageAction::RecordRepair {
                    object: ObjectId(Hash32([7; 32])),
                    moves,
                },
                key.public_key(),
            )
        };
        assert_eq!(
            repair(vec![]).check(&paying),
            Err(StoragePayloadError::NoMoves)
        );
        assert_eq!(
            repair(vec![(1, n(1)), (1, n(2))]).check(&paying),
            Err(StoragePayloadError::RepeatedShard(1))
        );

        // The signature commits to the chain, the transaction and the action.
        let chain = ChainId::for_network("devnet");
        let mut transaction = paying.clone();
        let id = sign_into(&mut transaction, node("http://x", 1), &chain, &key);
        let Some(Payload::Storage(signed)) = &transaction.payload else {
            panic!("no storage payload");
        };
        assert!(
            key.public_key()
                .verify(&signed.signing_message(&chain, &id), &signed.signature)
        );
        assert_eq!(transaction.id(), id);
        assert_eq!(
            ObjectId::derive(&key.public_key(), &[2; 16]),
            ObjectId(tagged_hash_parts(
                HashTag::StorageObjectId,
                &[&key.public_key().0, &[2; 16]]
            ))
        );
    }
}
