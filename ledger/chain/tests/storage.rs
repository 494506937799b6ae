//! The storage domain on a real chain (standard domains: identity, then
//! storage): nodes registered by an identity's key, an object whose
//! placement keeps its promise, node reports signed by the node key, a
//! repair away from a leaving node, deletion and retirement; and the
//! refusals (a layout that breaks the promise, unknown nodes, a stranger's
//! key, a report not signed by the node key). Apply and revert are exact
//! inverses.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use chain::domains::identity::IdentityState;
use chain::domains::storage::placement::{
    PlacementRequest, nominal_shard_bytes, place, rebalance, repair_targets,
};
use chain::domains::storage::{StorageEvent, StorageRuleError, StorageState};
use chain::state::{DomainContext, DomainState};
use common::{FEE, Net, coins, key, sign_coin_inputs, test_config};
use ledger::crypto::SecretKey;
use ledger::payload::identity::{self, IdentityAction, IdentityName, IdentityOperation};
use ledger::payload::storage::{
    DomainLevel, ErasurePolicy, NodeState, ObjectId, StorageAction, StorageNodeId,
    StorageOperation, Tolerance, sign_into,
};
use ledger::{
    CoinInput, CoinOutput, Condition, Fulfillment, Hash32, IdentityId, Transaction, TransactionId,
};

const PAYER: u8 = 4;
const ALICE: u8 = 11;
const STRANGER: u8 = 12;

struct Storage {
    net: Net,
}

impl Storage {
    fn new() -> (Storage, IdentityId) {
        let mut net = Net::new(test_config());
        let payer = key(PAYER);
        let mut split = net.transfer(
            &payer,
            Condition::for_public_key(&payer.public_key()),
            coins(1_000),
            FEE,
        );
        for _ in 0..30 {
            split.coin_outputs.insert(
                0,
                CoinOutput {
                    value: coins(1_000),
                    condition: Condition::for_public_key(&payer.public_key()),
                },
            );
        }
        let change = split.coin_outputs.last_mut().unwrap();
        change.value = change.value.checked_sub(coins(30_000)).unwrap();
        sign_coin_inputs(&mut split, &net.params(), &payer);
        net.mine(vec![split]);
        let mut storage = Storage { net };
        let alice = key(ALICE);
        let mut transaction = storage.paying(0);
        let id = identity::sign_into(
            &mut transaction,
            IdentityOperation::unsigned(
                IdentityAction::Register {
                    name: IdentityName("alice".into()),
                    public_key: alice.public_key(),
                },
                alice.public_key(),
            ),
            &storage.net.params().chain_id,
            &alice,
            None,
        );
        sign_coin_inputs(&mut transaction, &storage.net.params(), &payer);
        storage.net.mine(vec![transaction]);
        (storage, IdentityId::for_registration(&id))
    }

    /// An unsigned transaction spending the payer's `index`-th 1,000-coin output.
    fn paying(&self, index: usize) -> Transaction {
        let payer = key(PAYER);
        let mut outputs: Vec<_> = self
            .net
            .coins_of(&payer)
            .into_iter()
            .filter(|(_, output)| output.value == coins(1_000))
            .collect();
        outputs.sort_by_key(|(id, _)| *id);
        let (parent_id, output) = outputs[index].clone();
        Transaction {
            coin_inputs: vec![CoinInput {
                parent_id,
                fulfillment: Fulfillment::Nil,
            }],
            coin_outputs: vec![CoinOutput {
                value: output.value.checked_sub(FEE).unwrap(),
                condition: Condition::for_public_key(&payer.public_key()),
            }],
            fee: FEE,
            ..Transaction::new()
        }
    }

    fn transaction(
        &self,
        index: usize,
        action: StorageAction,
        signer: &SecretKey,
    ) -> (Transaction, TransactionId) {
        let mut transaction = self.paying(index);
        let id = sign_into(
            &mut transaction,
            StorageOperation::unsigned(action, signer.public_key()),
            &self.net.params().chain_id,
            signer,
        );
        sign_coin_inputs(&mut transaction, &self.net.params(), &key(PAYER));
        (transaction, id)
    }

    fn run(&mut self, action: StorageAction, signer: &SecretKey) -> TransactionId {
        let (transaction, id) = self.transaction(0, action, signer);
        self.net.mine(vec![transaction]);
        id
    }

    /// Registers nine nodes of `owner` (seed 11), three per datacenter
    /// `eu/dc0..2`, node keys seeds 100..108, in one block.
    fn nine_nodes(&mut self, owner: IdentityId) -> Vec<StorageNodeId> {
        let mut registrations = Vec::new();
        let mut ids = Vec::new();
        for index in 0..9u8 {
            let (transaction, id) = self.transaction(
                usize::from(index),
                StorageAction::RegisterNode {
                    owner,
                    node_key: key(100 + index).public_key(),
                    endpoint: format!("http://127.0.0.1:{}", 9400 + u16::from(index)),
                    domain: format!("eu/dc{}/farm{index}", index / 3).parse().unwrap(),
                    capacity_bytes: 1 << 30,
                },
                &key(ALICE),
            );
            registrations.push(transaction);
            ids.push(StorageNodeId::for_registration(&id));
        }
        self.net.mine(registrations);
        ids
    }

    fn state(&self) -> &StorageState {
        self.net.chain.state().domain::<StorageState>().unwrap()
    }

    /// What the rules say about `action` signed by `signer` at the tip.
    fn check(
        &self,
        action: StorageAction,
        signer: &SecretKey,
    ) -> Result<chain::state::DomainChange, StorageRuleError> {
        let transaction_id = TransactionId(Hash32([77; 32]));
        let mut operation = StorageOperation::unsigned(action, signer.public_key());
        operation.signature =
            signer.sign(&operation.signing_message(&self.net.params().chain_id, &transaction_id));
        let params = self.net.params();
        let state = self.net.chain.state();
        let context = DomainContext {
            params: &params,
            height: state.tip().height,
            timestamp: state.tip().timestamp,
            transaction_index: 1,
            transaction_id: &transaction_id,
            domains: state.domains(),
        };
        self.state().prepare_operation(
            state.domain::<IdentityState>().unwrap(),
            &operation,
            &context,
        )
    }
}

fn policy() -> ErasurePolicy {
    ErasurePolicy {
        data_shards: 4,
        parity_shards: 2,
        tolerance: Tolerance {
            level: DomainLevel::Datacenter,
            domains: 1,
            nodes: 0,
        },
    }
}

#[test]
fn nodes_objects_reports_repairs_and_refusals_on_a_real_chain() {
    let (mut storage, alice_id) = Storage::new();
    let alice = key(ALICE);

    // Nine nodes, three per datacenter, each with its own node key.
    let ids = storage.nine_nodes(alice_id);
    let nodes = storage.state().placement_nodes();
    assert_eq!(nodes.len(), 9);
    for id in &ids {
        assert!(storage.state().node(id).is_some());
    }
    let node_key_of = |id: &StorageNodeId, storage: &Storage| {
        let record = storage.state().node(id).unwrap();
        (100..109u8)
            .map(key)
            .find(|secret| secret.public_key() == record.node_key)
            .unwrap()
    };

    // An object placed by the placement function.
    let salt = [9; 16];
    let object = ObjectId::derive(&alice.public_key(), &salt);
    let request = PlacementRequest {
        object,
        policy: policy(),
        shard_bytes: 1 << 20,
    };
    let placement = place(&request, &nodes).unwrap();
    let register = |shard_nodes: Vec<StorageNodeId>| StorageAction::RegisterObject {
        owner: alice_id,
        salt,
        size: 4 << 20,
        policy: policy(),
        chunk_bytes: 1 << 20,
        content_hash: Hash32([1; 32]),
        key_fingerprint: Hash32([2; 32]),
        shard_checksums: vec![Hash32([3; 32]); 6],
        shard_nodes,
    };

    // Refusals first: three shards in one datacenter, a stranger's key,
    // an unknown node.
    let mut dc0: Vec<StorageNodeId> = nodes
        .iter()
        .filter(|node| node.domain.datacenter == "dc0")
        .map(|node| node.id)
        .collect();
    dc0.extend(
        nodes
            .iter()
            .filter(|node| node.domain.datacenter != "dc0")
            .take(3)
            .map(|node| node.id),
    );
    assert!(matches!(
        storage.check(register(dc0), &alice),
        Err(StorageRuleError::Tolerance(_))
    ));
    assert!(matches!(
        storage.check(register(placement.shards.clone()), &key(STRANGER)),
        Err(StorageRuleError::NotActiveKey { .. })
    ));
    let mut unknown = placement.shards.clone();
    unknown[0] = StorageNodeId(Hash32([0xee; 32]));
    assert!(matches!(
        storage.check(register(unknown), &alice),
        Err(StorageRuleError::UnknownNode { .. })
    ));

    // Apply then revert is the identity on the state.
    let change = storage
        .check(register(placement.shards.clone()), &alice)
        .unwrap();
    let (kind, data) = &change.events[0];
    assert_eq!(kind, "object_registered");
    assert!(matches!(
        StorageEvent::decode(data).unwrap(),
        StorageEvent::ObjectRegistered { object: o, .. } if o == object
    ));
    let mut scratch = storage.state().clone();
    scratch.apply(&change.change).unwrap();
    assert!(scratch.object(&object).is_some());
    assert!(scratch.apply(&change.change).is_err(), "applied twice");
    scratch.revert(&change.change).unwrap();
    assert_eq!(&scratch, storage.state());

    storage.run(register(placement.shards.clone()), &alice);
    let record = storage.state().object(&object).unwrap();
    assert_eq!(record.shard_nodes, placement.shards);
    assert_eq!(record.owner, alice_id);
    assert!(matches!(
        storage.check(register(placement.shards.clone()), &alice),
        Err(StorageRuleError::ObjectExists { .. })
    ));

    // The holder of shard 0 reports it is leaving; only its node key may.
    let leaving = placement.shards[0];
    let report = StorageAction::ReportNode {
        node: leaving,
        state: NodeState::Leaving,
        free_bytes: 0,
    };
    assert!(matches!(
        storage.check(report.clone(), &alice),
        Err(StorageRuleError::NotNodeKey { .. })
    ));
    let node_key = node_key_of(&leaving, &storage);
    storage.run(report, &node_key);
    assert_eq!(
        storage.state().node(&leaving).unwrap().state,
        NodeState::Leaving
    );

    // Repair: placement now moves shard 0 (only) elsewhere; recorded.
    let current: Vec<Option<StorageNodeId>> = placement.shards.iter().copied().map(Some).collect();
    let repaired = rebalance(&request, &storage.state().placement_nodes(), &current).unwrap();
    assert_eq!(placement.moved_shards(&repaired), 1);
    assert_ne!(repaired.shards[0], leaving);
    let moves = vec![(0u8, repaired.shards[0])];
    // Moving a shard onto the leaving node, or one that does not exist, is refused.
    assert!(matches!(
        storage.check(
            StorageAction::RecordRepair {
                object,
                moves: vec![(1, leaving)],
            },
            &alice
        ),
        Err(StorageRuleError::LeavingNode { .. })
    ));
    assert!(matches!(
        storage.check(
            StorageAction::RecordRepair {
                object,
                moves: vec![(6, repaired.shards[0])],
            },
            &alice
        ),
        Err(StorageRuleError::NoSuchShard { shard: 6, total: 6 })
    ));
    storage.run(StorageAction::RecordRepair { object, moves }, &alice);
    assert_eq!(
        storage.state().object(&object).unwrap().shard_nodes,
        repaired.shards
    );

    // Delete the object, retire the node.
    assert!(matches!(
        storage.check(StorageAction::DeleteObject { object }, &key(STRANGER)),
        Err(StorageRuleError::NotActiveKey { .. })
    ));
    storage.run(StorageAction::DeleteObject { object }, &alice);
    assert!(storage.state().object(&object).is_none());
    storage.run(StorageAction::RetireNode { node: leaving }, &alice);
    assert!(storage.state().node(&leaving).is_none());
    assert_eq!(storage.state().placement_nodes().len(), 8);
}

#[test]
fn a_repairer_the_owner_authorized_may_only_move_shards_where_placement_puts_them() {
    let (mut storage, alice_id) = Storage::new();
    let alice = key(ALICE);
    let repairer = key(STRANGER);
    storage.nine_nodes(alice_id);
    let nodes = storage.state().placement_nodes();
    let salt = [5; 16];
    let object = ObjectId::derive(&alice.public_key(), &salt);
    let size = 4 << 20;
    let request = PlacementRequest {
        object,
        policy: policy(),
        shard_bytes: nominal_shard_bytes(size, 4),
    };
    let placement = place(&request, &nodes).unwrap();
    storage.run(
        StorageAction::RegisterObject {
            owner: alice_id,
            salt,
            size,
            policy: policy(),
            chunk_bytes: 1 << 20,
            content_hash: Hash32([1; 32]),
            key_fingerprint: Hash32([2; 32]),
            shard_checksums: vec![Hash32([3; 32]); 6],
            shard_nodes: placement.shards.clone(),
        },
        &alice,
    );
    // Shard 2's holder stopped answering (no chain report says so): the
    // repair goes where placement puts shard 2 without that node.
    let lost = std::collections::BTreeSet::from([2usize]);
    let target = repair_targets(
        &request,
        &storage.state().placement_nodes(),
        &placement.shards,
        &lost,
    )
    .unwrap();
    assert_eq!(placement.moved_shards(&target), 1);
    assert_ne!(target.shards[2], placement.shards[2]);
    let good = StorageAction::RecordRepair {
        object,
        moves: vec![(2, target.shards[2])],
    };
    let elsewhere = nodes
        .iter()
        .map(|node| node.id)
        .find(|id| !target.shards.contains(id) && *id != placement.shards[2])
        .unwrap();
    let steered = StorageAction::RecordRepair {
        object,
        moves: vec![(2, elsewhere)],
    };

    // Not authorized yet; only the owner may authorize.
    assert!(matches!(
        storage.check(good.clone(), &repairer),
        Err(StorageRuleError::NotOwnerOrRepairer { .. })
    ));
    let authorize = StorageAction::AuthorizeRepairer {
        owner: alice_id,
        repairer: repairer.public_key(),
    };
    assert!(matches!(
        storage.check(authorize.clone(), &repairer),
        Err(StorageRuleError::NotActiveKey { .. })
    ));
    let change = storage.check(authorize.clone(), &alice).unwrap();
    assert_eq!(change.events[0].0, "repairer_authorized");
    let mut scratch = storage.state().clone();
    scratch.apply(&change.change).unwrap();
    scratch.revert(&change.change).unwrap();
    assert_eq!(&scratch, storage.state());
    storage.run(authorize.clone(), &alice);
    assert!(
        storage
            .state()
            .is_repairer(&alice_id, &repairer.public_key())
    );
    assert!(matches!(
        storage.check(authorize, &alice),
        Err(StorageRuleError::RepairerExists { .. })
    ));

    // The repairer cannot choose where a shard goes.
    assert!(matches!(
        storage.check(steered, &repairer),
        Err(StorageRuleError::UnplacedMove { shard: 2, .. })
    ));
    storage.run(good, &repairer);
    assert_eq!(
        storage.state().object(&object).unwrap().shard_nodes,
        target.shards
    );

    // Revoked: refused again.
    let revoke = StorageAction::RevokeRepairer {
        owner: alice_id,
        repairer: repairer.public_key(),
    };
    storage.run(revoke.clone(), &alice);
    assert!(matches!(
        storage.check(revoke, &alice),
        Err(StorageRuleError::UnknownRepairer { .. })
    ));
    let again = StorageAction::RecordRepair {
        object,
        moves: vec![(3, target.shards[3])],
    };
    assert!(matches!(
        storage.check(again, &repairer),
        Err(StorageRuleError::NotOwnerOrRepairer { .. })
    ));
}
