//! The storage domain's consensus state and stateful rules: registered
//! nodes (owner identity, node key, endpoint, failure domain, capacity,
//! last reported state and free space) and registered objects (owner,
//! policy, size, content hash, key fingerprint, shard checksums and the
//! node of every shard).
//!
//! A transaction's change ([`StorageChange`]) lists writes that record the
//! value before and after, so `apply` and `revert` are exact inverses.
//! Owner actions must be signed by an active key of the owning identity
//! (read from the identity domain, which runs before storage); node
//! reports by the node key; a repair also by a repairer key the owner
//! authorized, whose moves must go exactly where
//! [`placement::repair_targets`] puts them. Registering an object or
//! recording a repair
//! must leave a layout that keeps the policy's promise
//! ([`placement::check_tolerance`]) on registered, non-leaving nodes.

use std::any::Any;

use ledger::codec::{self, DecodeError};
use ledger::payload::Payload;
use ledger::payload::storage::{
    ErasurePolicy, FailureDomain, NodeState, ObjectId, StorageAction, StorageNodeId,
    StorageOperation,
};
use ledger::{Hash32, IdentityId, PublicKey, Transaction};
use thiserror::Error;

use super::placement::{self, PlacementNode};
use crate::domains::identity::IdentityState;
use crate::domains::kv::{self, Entries};
use crate::state::{
    DomainChange, DomainCoins, DomainContext, DomainError, DomainSignature, DomainState,
};

/// The domain name events are published under.
pub const DOMAIN: &str = "storage";

/// A registered storage node.
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct NodeRecord {
    pub owner: IdentityId,
    pub node_key: PublicKey,
    pub endpoint: String,
    pub domain: FailureDomain,
    pub capacity_bytes: u64,
    pub state: NodeState,
    pub free_bytes: u64,
}

/// A registered object.
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct ObjectRecord {
    pub owner: IdentityId,
    pub owner_key: PublicKey,
    pub size: u64,
    pub policy: ErasurePolicy,
    pub chunk_bytes: u32,
    pub content_hash: Hash32,
    pub key_fingerprint: Hash32,
    pub shard_checksums: Vec<Hash32>,
    pub shard_nodes: Vec<StorageNodeId>,
}

/// Where a value lives.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, bincode::Encode, bincode::Decode)]
pub enum StorageKey {
    Node(StorageNodeId),
    Object(ObjectId),
    /// An owner's authorized repairer key.
    Repairer(IdentityId, PublicKey),
}

/// A value; `Node` keys hold `Node`, `Object` keys hold `Object`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub enum StorageValue {
    Node(NodeRecord),
    Object(ObjectRecord),
    /// `Repairer` keys hold this.
    Authorized,
}

/// One write: `key` goes from `before` to `after`.
pub type Write = kv::Write<StorageKey, StorageValue>;

/// What one storage operation changes (canonically encoded in
/// [`DomainChange::change`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, bincode::Encode, bincode::Decode)]
pub struct StorageChange {
    pub writes: Vec<Write>,
}

/// One change of the storage domain, published as a domain event with
/// `kind` = [`StorageEvent::kind`] and data = its canonical encoding.
/// Append only.
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub enum StorageEvent {
    NodeRegistered {
        node: StorageNodeId,
        record: NodeRecord,
    },
    NodeReported {
        node: StorageNodeId,
        state: NodeState,
        free_bytes: u64,
    },
    NodeRetired {
        node: StorageNodeId,
    },
    ObjectRegistered {
        object: ObjectId,
        record: ObjectRecord,
    },
    ObjectDeleted {
        object: ObjectId,
    },
    ObjectRepaired {
        object: ObjectId,
        moves: Vec<(u8, StorageNodeId)>,
    },
    RepairerAuthorized {
        owner: IdentityId,
        repairer: PublicKey,
    },
    RepairerRevoked {
        owner: IdentityId,
        repairer: PublicKey,
    },
}

impl StorageEvent {
    pub const fn kind(&self) -> &'static str {
        match self {
            StorageEvent::NodeRegistered { .. } => "node_registered",
            StorageEvent::NodeReported { .. } => "node_reported",
            StorageEvent::NodeRetired { .. } => "node_retired",
            StorageEvent::ObjectRegistered { .. } => "object_registered",
            StorageEvent::ObjectDeleted { .. } => "object_deleted",
            StorageEvent::ObjectRepaired { .. } => "object_repaired",
            StorageEvent::RepairerAuthorized { .. } => "repairer_authorized",
            StorageEvent::RepairerRevoked { .. } => "repairer_revoked",
        }
    }

    pub fn to_domain_event(&self) -> (String, Vec<u8>) {
        (self.kind().to_owned(), codec::encode(self))
    }

    pub fn decode(data: &[u8]) -> Result<StorageEvent, DecodeError> {
        codec::decode(data)
    }
}

/// Why a storage operation breaks a stateful rule.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StorageRuleError {
    #[error("identity {identity} is not registered")]
    UnknownIdentity { identity: IdentityId },
    #[error("key {key} is not an active key of identity {identity}")]
    NotActiveKey {
        identity: IdentityId,
        key: PublicKey,
    },
    #[error("storage node {node} is not registered")]
    UnknownNode { node: StorageNodeId },
    #[error("storage node {node} is already registered")]
    NodeExists { node: StorageNodeId },
    #[error("report for node {node} is signed by {signer}, not its node key {node_key}")]
    NotNodeKey {
        node: StorageNodeId,
        signer: PublicKey,
        node_key: PublicKey,
    },
    #[error("object {object} is not registered")]
    UnknownObject { object: ObjectId },
    #[error("object {object} is already registered")]
    ObjectExists { object: ObjectId },
    #[error("shard {shard} would go to node {node}, which is leaving")]
    LeavingNode { shard: usize, node: StorageNodeId },
    #[error("repair moves shard {shard}; the object has {total} shards")]
    NoSuchShard { shard: u8, total: usize },
    #[error("the shard layout breaks the object's promise: {0}")]
    Tolerance(#[from] placement::ToleranceViolation),
    #[error("key {repairer} is already an authorized repairer of identity {owner}")]
    RepairerExists {
        owner: IdentityId,
        repairer: PublicKey,
    },
    #[error("key {repairer} is not an authorized repairer of identity {owner}")]
    UnknownRepairer {
        owner: IdentityId,
        repairer: PublicKey,
    },
    #[error(
        "key {key} may not record repairs of object {object}: it is neither an active key of its owner {owner} nor a repairer the owner authorized"
    )]
    NotOwnerOrRepairer {
        object: ObjectId,
        owner: IdentityId,
        key: PublicKey,
    },
    #[error(
        "a delegated repair moves shard {shard} to node {node}; placement puts it on {expected}"
    )]
    UnplacedMove {
        shard: u8,
        node: StorageNodeId,
        expected: StorageNodeId,
    },
    #[error("no placement for the delegated repair: {0}")]
    Placement(#[from] placement::PlacementError),
    #[error("the identity domain is not registered before storage")]
    NoIdentityDomain,
}

/// The storage domain's consensus state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StorageState {
    entries: Entries<StorageKey, StorageValue>,
}

fn domain_error(message: String) -> DomainError {
    DomainError {
        domain: DOMAIN,
        message,
    }
}

impl StorageState {
    pub fn node(&self, node: &StorageNodeId) -> Option<&NodeRecord> {
        match self.entries.get(&StorageKey::Node(*node)) {
            Some(StorageValue::Node(record)) => Some(record),
            _ => None,
        }
    }

    pub fn object(&self, object: &ObjectId) -> Option<&ObjectRecord> {
        match self.entries.get(&StorageKey::Object(*object)) {
            Some(StorageValue::Object(record)) => Some(record),
            _ => None,
        }
    }

    /// Has `owner` authorized `repairer` to record repairs?
    pub fn is_repairer(&self, owner: &IdentityId, repairer: &PublicKey) -> bool {
        self.entries
            .get(&StorageKey::Repairer(*owner, *repairer))
            .is_some()
    }

    /// Every registered node as placement sees it.
    pub fn placement_nodes(&self) -> Vec<PlacementNode> {
        self.entries
            .iter()
            .filter_map(|(key, value)| match (key, value) {
                (StorageKey::Node(id), StorageValue::Node(record)) => Some(PlacementNode {
                    id: *id,
                    domain: record.domain.clone(),
                    free_bytes: record.free_bytes,
                    state: record.state,
                }),
                _ => None,
            })
            .collect()
    }

    fn check_layout(
        &self,
        policy: &ErasurePolicy,
        shard_nodes: &[StorageNodeId],
    ) -> Result<(), StorageRuleError> {
        for (shard, node) in shard_nodes.iter().enumerate() {
            let record = self
                .node(node)
                .ok_or(StorageRuleError::UnknownNode { node: *node })?;
            if record.state == NodeState::Leaving {
                return Err(StorageRuleError::LeavingNode { shard, node: *node });
            }
        }
        let located: Vec<Option<StorageNodeId>> = shard_nodes.iter().copied().map(Some).collect();
        placement::check_tolerance(policy, &located, &self.placement_nodes())?;
        Ok(())
    }

    /// Checks `operation` against this state and the identities and
    /// returns its change (its signature goes to the block's batch).
    pub fn prepare_operation(
        &self,
        identities: &IdentityState,
        operation: &StorageOperation,
        context: &DomainContext<'_>,
    ) -> Result<DomainChange, StorageRuleError> {
        let signer = operation.signer;
        let owner_key = |identity: &IdentityId| -> Result<(), StorageRuleError> {
            if identities.identity(identity).is_none() {
                return Err(StorageRuleError::UnknownIdentity {
                    identity: *identity,
                });
            }
            if !identities.is_active_key(identity, &signer) {
                return Err(StorageRuleError::NotActiveKey {
                    identity: *identity,
                    key: signer,
                });
            }
            Ok(())
        };
        let (write, event) = match &operation.action {
            StorageAction::RegisterNode {
                owner,
                node_key,
                endpoint,
                domain,
                capacity_bytes,
            } => {
                owner_key(owner)?;
                let node = StorageNodeId::for_registration(context.transaction_id);
                if self.node(&node).is_some() {
                    return Err(StorageRuleError::NodeExists { node });
                }
                let record = NodeRecord {
                    owner: *owner,
                    node_key: *node_key,
                    endpoint: endpoint.clone(),
                    domain: domain.clone(),
                    capacity_bytes: *capacity_bytes,
                    state: NodeState::Healthy,
                    free_bytes: *capacity_bytes,
                };
                (
                    Write {
                        key: StorageKey::Node(node),
                        before: None,
                        after: Some(StorageValue::Node(record.clone())),
                    },
                    StorageEvent::NodeRegistered { node, record },
                )
            }
            StorageAction::ReportNode {
                node,
                state,
                free_bytes,
            } => {
                let before = self
                    .node(node)
                    .ok_or(StorageRuleError::UnknownNode { node: *node })?;
                if before.node_key != signer {
                    return Err(StorageRuleError::NotNodeKey {
                        node: *node,
                        signer,
                        node_key: before.node_key,
                    });
                }
                let after = NodeRecord {
                    state: *state,
                    free_bytes: *free_bytes,
                    ..before.clone()
                };
                (
                    Write {
                        key: StorageKey::Node(*node),
                        before: Some(StorageValue::Node(before.clone())),
                        after: Some(StorageValue::Node(after)),
                    },
                    StorageEvent::NodeReported {
                        node: *node,
                        state: *state,
                        free_bytes: *free_bytes,
                    },
                )
            }
            StorageAction::RetireNode { node } => {
                let before = self
                    .node(node)
                    .ok_or(StorageRuleError::UnknownNode { node: *node })?;
                owner_key(&before.owner)?;
                (
                    Write {
                        key: StorageKey::Node(*node),
                        before: Some(StorageValue::Node(before.clone())),
                        after: None,
                    },
                    StorageEvent::NodeRetired { node: *node },
                )
            }
            StorageAction::RegisterObject {
                owner,
                salt,
                size,
                policy,
                chunk_bytes,
                content_hash,
                key_fingerprint,
                shard_checksums,
                shard_nodes,
            } => {
                owner_key(owner)?;
                let object = ObjectId::derive(&signer, salt);
                if self.object(&object).is_some() {
                    return Err(StorageRuleError::ObjectExists { object });
                }
                self.check_layout(policy, shard_nodes)?;
                let record = ObjectRecord {
                    owner: *owner,
                    owner_key: signer,
                    size: *size,
                    policy: *policy,
                    chunk_bytes: *chunk_bytes,
                    content_hash: *content_hash,
                    key_fingerprint: *key_fingerprint,
                    shard_checksums: shard_checksums.clone(),
                    shard_nodes: shard_nodes.clone(),
                };
                (
                    Write {
                        key: StorageKey::Object(object),
                        before: None,
                        after: Some(StorageValue::Object(record.clone())),
                    },
                    StorageEvent::ObjectRegistered { object, record },
                )
            }
            StorageAction::DeleteObject { object } => {
                let before = self
                    .object(object)
                    .ok_or(StorageRuleError::UnknownObject { object: *object })?;
                owner_key(&before.owner)?;
                (
                    Write {
                        key: StorageKey::Object(*object),
                        before: Some(StorageValue::Object(before.clone())),
                        after: None,
                    },
                    StorageEvent::ObjectDeleted { object: *object },
                )
            }
            StorageAction::RecordRepair { object, moves } => {
                let before = self
                    .object(object)
                    .ok_or(StorageRuleError::UnknownObject { object: *object })?;
                if owner_key(&before.owner).is_err() {
                    if !self.is_repairer(&before.owner, &signer) {
                        return Err(StorageRuleError::NotOwnerOrRepairer {
                            object: *object,
                            owner: before.owner,
                            key: signer,
                        });
                    }
                    self.check_delegated_repair(object, before, moves)?;
                }
                let mut after = before.clone();
                for (shard, node) in moves {
                    let total = after.shard_nodes.len();
                    let slot = after.shard_nodes.get_mut(usize::from(*shard)).ok_or(
                        StorageRuleError::NoSuchShard {
                            shard: *shard,
                            total,
                        },
                    )?;
                    *slot = *node;
                }
                self.check_layout(&after.policy, &after.shard_nodes)?;
                (
                    Write {
                        key: StorageKey::Object(*object),
                        before: Some(StorageValue::Object(before.clone())),
                        after: Some(StorageValue::Object(after)),
                    },
                    StorageEvent::ObjectRepaired {
                        object: *object,
                        moves: moves.clone(),
                    },
                )
            }
            StorageAction::AuthorizeRepairer { owner, repairer } => {
                owner_key(owner)?;
                let key = StorageKey::Repairer(*owner, *repairer);
                if self.entries.get(&key).is_some() {
                    return Err(StorageRuleError::RepairerExists {
                        owner: *owner,
                        repairer: *repairer,
                    });
                }
                (
                    Write {
                        key,
                        before: None,
                        after: Some(StorageValue::Authorized),
                    },
                    StorageEvent::RepairerAuthorized {
                        owner: *owner,
                        repairer: *repairer,
                    },
                )
            }
            StorageAction::RevokeRepairer { owner, repairer } => {
                owner_key(owner)?;
                let key = StorageKey::Repairer(*owner, *repairer);
                if self.entries.get(&key).is_none() {
                    return Err(StorageRuleError::UnknownRepairer {
                        owner: *owner,
                        repairer: *repairer,
                    });
                }
                (
                    Write {
                        key,
                        before: Some(StorageValue::Authorized),
                        after: None,
                    },
                    StorageEvent::RepairerRevoked {
                        owner: *owner,
                        repairer: *repairer,
                    },
                )
            }
        };
        Ok(DomainChange {
            change: codec::encode(&StorageChange {
                writes: vec![write],
            }),
            events: vec![event.to_domain_event()],
            signatures: vec![DomainSignature {
                origin: format!("storage {} signer", operation.action.kind()),
                message: operation
                    .signing_message(&context.params.chain_id, context.transaction_id),
                public_key: signer,
                signature: operation.signature,
            }],
            coins: DomainCoins::default(),
        })
    }

    /// A repairer's moves must go exactly where
    /// [`placement::repair_targets`] puts the moved shards.
    fn check_delegated_repair(
        &self,
        object: &ObjectId,
        record: &ObjectRecord,
        moves: &[(u8, StorageNodeId)],
    ) -> Result<(), StorageRuleError> {
        let total = record.shard_nodes.len();
        let mut lost = std::collections::BTreeSet::new();
        for (shard, _) in moves {
            if usize::from(*shard) >= total {
                return Err(StorageRuleError::NoSuchShard {
                    shard: *shard,
                    total,
                });
            }
            lost.insert(usize::from(*shard));
        }
        let request = placement::PlacementRequest {
            object: *object,
            policy: record.policy,
            shard_bytes: placement::nominal_shard_bytes(record.size, record.policy.data_shards),
        };
        let expected = placement::repair_targets(
            &request,
            &self.placement_nodes(),
            &record.shard_nodes,
            &lost,
        )?;
        for (shard, node) in moves {
            let target = expected.shards[usize::from(*shard)];
            if target != *node {
                return Err(StorageRuleError::UnplacedMove {
                    shard: *shard,
                    node: *node,
                    expected: target,
                });
            }
        }
        Ok(())
    }

    fn decode_change(change: &[u8]) -> Result<StorageChange, DomainError> {
        codec::decode(change)
            .map_err(|error| domain_error(format!("undecodable storage change: {error}")))
    }
}

impl DomainState for StorageState {
    fn name(&self) -> &'static str {
        DOMAIN
    }

    fn prepare(
        &self,
        transaction: &Transaction,
        context: &DomainContext<'_>,
    ) -> Result<Option<DomainChange>, DomainError> {
        let Some(Payload::Storage(operation)) = &transaction.payload else {
            return Ok(None);
        };
        let identities = context
            .domain::<IdentityState>()
            .ok_or_else(|| domain_error(StorageRuleError::NoIdentityDomain.to_string()))?;
        self.prepare_operation(identities, operation, context)
            .map(Some)
            .map_err(|error| domain_error(error.to_string()))
    }

    fn apply(&mut self, change: &[u8]) -> Result<(), DomainError> {
        let change = Self::decode_change(change)?;
        self.entries.apply(&change.writes, DOMAIN)
    }

    fn revert(&mut self, change: &[u8]) -> Result<(), DomainError> {
        let change = Self::decode_change(change)?;
        self.entries.revert(&change.writes, DOMAIN)
    }

    fn commitment(&self) -> Hash32 {
        self.entries.commitment(DOMAIN)
    }

    fn clone_box(&self) -> Box<dyn DomainState> {
        Box::new(self.clone())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
