//! A compute scenario on the test chain, shared by the compute read
//! model test and the compute API test: a farmer registers node X's and
//! Y's keys in farms farm-a (be/ghent) and farm-b (nl/delft), alice
//! creates deployment "shop" (db 2 cores, web 1 core, 50-coin deposit),
//! both nodes report deploying then running, X falls silent while Y keeps
//! reporting, the deployment is billed (X's blocks beyond the silence
//! limit are "billed while down") and X is healed (its workloads move to
//! Y). X is the node the scheduler gave db.

#![allow(dead_code, clippy::unwrap_used)] // test support: not every test uses every helper

use std::collections::BTreeMap;

use chain::domains::compute::ComputeState;
use ledger::crypto::SecretKey;
use ledger::payload::compute::operation::sign_into;
use ledger::payload::compute::{
    ComputeAction, DeploymentId, DeploymentSpec, Location, Name, NodeId, PlacementConstraints,
    Power, ReschedulePolicy, Resources, WorkloadReport, WorkloadSpec, WorkloadState,
    escrow_condition,
};
use ledger::{CoinInput, CoinOutput, Condition, Currency, Fulfillment, IdentityId, Transaction};

use crate::common::identity::IdentityNet;
use crate::common::{FEE, coins, key, sign_coin_inputs};

pub const PAYER: u8 = 4;
pub const ALICE: u8 = 10;
pub const FARMER: u8 = 11;
pub const NODE_X: u8 = 20;
pub const NODE_Y: u8 = 21;

/// A compute transaction paid by the payer (an unspent 1,000-coin output),
/// with `deposit` escrowed as output 0 when given.
pub fn compute_tx(
    ids: &IdentityNet,
    action: ComputeAction,
    signer: Option<&SecretKey>,
    node_key: Option<&SecretKey>,
    deposit: Option<Currency>,
) -> Transaction {
    let payer = key(PAYER);
    let (parent_id, output) = ids
        .net
        .coins_of(&payer)
        .into_iter()
        .filter(|(_, output)| output.value == coins(1_000))
        .min_by_key(|(id, _)| *id)
        .unwrap();
    let mut outputs = Vec::new();
    let mut change = output.value.checked_sub(FEE).unwrap();
    if let Some(value) = deposit {
        outputs.push(CoinOutput {
            value,
            condition: escrow_condition(),
        });
        change = change.checked_sub(value).unwrap();
    }
    outputs.push(CoinOutput {
        value: change,
        condition: Condition::for_public_key(&payer.public_key()),
    });
    let mut transaction = Transaction {
        coin_inputs: vec![CoinInput {
            parent_id,
            fulfillment: Fulfillment::Nil,
        }],
        coin_outputs: outputs,
        fee: FEE,
        ..Transaction::new()
    };
    sign_into(
        &mut transaction,
        action,
        &ids.net.params().chain_id,
        signer,
        node_key,
    );
    sign_coin_inputs(&mut transaction, &ids.net.params(), &payer);
    transaction
}

/// Mines one compute transaction signed by `signer` (Bill, Heal and
/// TopUp are unsigned).
pub fn run(
    ids: &mut IdentityNet,
    action: ComputeAction,
    signer: Option<&SecretKey>,
) -> Transaction {
    let transaction = compute_tx(ids, action, signer, None, None);
    ids.mine(vec![transaction.clone()]);
    transaction
}

pub fn state(ids: &IdentityNet) -> ComputeState {
    ids.net
        .chain
        .state()
        .domain::<ComputeState>()
        .unwrap()
        .clone()
}

pub fn workload(name: &str, cores: u32, memory_mib: u64) -> WorkloadSpec {
    WorkloadSpec {
        name: Name::new(name).unwrap(),
        resources: Resources::new(cores, memory_mib, 10),
        image: "alpine".into(),
        network: None,
        volumes: Vec::new(),
        anti_affinity: None,
        node: None,
    }
}

pub fn report(node: NodeId, sequence: u64, workloads: Vec<WorkloadReport>) -> ComputeAction {
    ComputeAction::Report {
        node,
        sequence,
        uptime_seconds: sequence * 10,
        power: Power::Up,
        workloads,
    }
}

/// What [`build`] made.
pub struct Scenario {
    pub alice: IdentityId,
    pub farmer: IdentityId,
    /// Node X (holds db, falls silent) and Y.
    pub x: NodeId,
    pub y: NodeId,
    pub spec: DeploymentSpec,
    pub deposit: Currency,
    pub deployment: DeploymentId,
    /// Where the workloads were placed at creation.
    pub placements: BTreeMap<Name, NodeId>,
    pub created_at: u64,
    pub x_last_report: u64,
    pub billed_at: u64,
    pub healed_at: u64,
}

impl Scenario {
    /// The key of node `node`.
    pub fn key_of(&self, node: NodeId) -> SecretKey {
        if NodeId::for_key(&key(NODE_X).public_key()) == node {
            key(NODE_X)
        } else {
            key(NODE_Y)
        }
    }
}

/// Mines the scenario on `ids` (identities "alice" and "farmer" are
/// registered here).
pub fn build(ids: &mut IdentityNet) -> Scenario {
    let alice = ids.register("alice", ALICE);
    let farmer = ids.register("farmer", FARMER);
    let mut nodes = Vec::new();
    for (seed, farm, country, city) in [
        (NODE_X, "farm-a", "be", "ghent"),
        (NODE_Y, "farm-b", "nl", "delft"),
    ] {
        let node_key = key(seed);
        let transaction = compute_tx(
            ids,
            ComputeAction::RegisterNode {
                owner: farmer,
                node_key: node_key.public_key(),
                farm: Name::new(farm).unwrap(),
                location: Location::new(country, city).unwrap(),
                capacity: Resources::new(4, 4096, 100),
                payout: Condition::for_public_key(&key(FARMER).public_key()),
            },
            Some(&key(FARMER)),
            Some(&node_key),
            None,
        );
        ids.mine(vec![transaction]);
        nodes.push(NodeId::for_key(&node_key.public_key()));
    }

    // A deployment of two workloads with a 50-coin deposit.
    let spec = DeploymentSpec {
        name: Name::new("shop").unwrap(),
        constraints: PlacementConstraints::default(),
        reschedule: ReschedulePolicy::Move,
        networks: Vec::new(),
        workloads: vec![workload("db", 2, 2048), workload("web", 1, 1024)],
    };
    let deposit = coins(50);
    let create = compute_tx(
        ids,
        ComputeAction::CreateDeployment {
            owner: alice,
            spec: spec.clone(),
            deposit: Some(0),
            refund: Condition::for_public_key(&key(ALICE).public_key()),
        },
        Some(&key(ALICE)),
        None,
        Some(deposit),
    );
    let deployment = DeploymentId::for_creation(&create.id());
    ids.mine(vec![create]);
    let created_at = ids.net.chain.height().0;
    let placements = state(ids)
        .deployment(&deployment)
        .unwrap()
        .placements
        .clone();
    // X: the node holding db (the scheduler's choice); Y the other.
    let x = placements[&Name::new("db").unwrap()];
    let y = *nodes.iter().find(|node| **node != x).unwrap();
    let key_of = |node: NodeId| {
        if node == nodes[0] {
            key(NODE_X)
        } else {
            key(NODE_Y)
        }
    };

    // Each node reports its workloads deploying, then running.
    let mut sequence = 1;
    for state_now in [WorkloadState::Deploying, WorkloadState::Running] {
        for node in [x, y] {
            let reports = placements
                .iter()
                .filter(|(_, placed)| **placed == node)
                .map(|(name, _)| WorkloadReport {
                    deployment,
                    workload: name.clone(),
                    state: state_now.clone(),
                })
                .collect();
            run(ids, report(node, sequence, reports), Some(&key_of(node)));
            sequence += 1;
        }
    }
    let x_last_report = ids.net.chain.height().0 - 1;
    assert_eq!(state(ids).node(&x).unwrap().last_report.0, x_last_report);

    // X falls silent; Y keeps reporting every 10 blocks.
    for round in 0..3 {
        for _ in 0..9 {
            ids.mine(Vec::new());
        }
        run(ids, report(y, 100 + round, Vec::new()), Some(&key_of(y)));
    }
    // Billed now: blocks created_at..tip.
    run(ids, ComputeAction::Bill { deployment }, None);
    let billed_at = ids.net.chain.height().0;
    let billed = state(ids).deployment(&deployment).unwrap().clone();
    assert_eq!(billed.billed_to.0, billed_at);
    // Heal X: its workloads move to Y.
    run(ids, ComputeAction::Heal { node: x }, None);
    let healed_at = ids.net.chain.height().0;
    let after_heal = state(ids).deployment(&deployment).unwrap().clone();
    assert!(after_heal.placements.values().all(|node| *node == y));
    Scenario {
        alice,
        farmer,
        x,
        y,
        spec,
        deposit,
        deployment,
        placements,
        created_at,
        x_last_report,
        billed_at,
        healed_at,
    }
}

/// The node ID of the node key with seed `seed`.
pub fn node_id(seed: u8) -> NodeId {
    NodeId::for_key(&key(seed).public_key())
}
