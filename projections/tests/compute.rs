//! The compute read model against a real chain, real NATS JetStream and
//! real PostgreSQL: a farmer registers two nodes in two farms, an owner
//! creates a deployment with a deposit, the nodes report their workloads
//! running, one node falls silent, the deployment is billed (the audit
//! shows the blocks charged while that node was down), the silent node is
//! healed (the reschedule row names why) and a cancel on one branch loses
//! a race against a heavier branch (the reorg leaves nothing of it). Rows
//! follow the chain state; incremental equals folding only the final chain
//! equals rebuild.

#![allow(clippy::unwrap_used)] // test harness: a failed setup step should fail the test loudly

#[path = "../../ledger/chain/tests/common/mod.rs"]
mod common;
#[path = "support/harness.rs"]
mod harness;
#[path = "support/mod.rs"]
mod support;

use std::sync::Arc;

use chain::domains::compute::{ComputeParams, ComputeState};
use common::identity::IdentityNet;
use common::{FEE, Net, coins, key, sign_coin_inputs, test_config};
use harness::Harness;
use ledger::crypto::SecretKey;
use ledger::payload::compute::operation::sign_into;
use ledger::payload::compute::{
    ComputeAction, DeploymentId, DeploymentSpec, Location, Name, NodeId, PlacementConstraints,
    Power, ReschedulePolicy, Resources, WorkloadReport, WorkloadSpec, WorkloadState,
    escrow_condition,
};
use ledger::{CoinInput, CoinOutput, Condition, Currency, Fulfillment, Transaction};
use projections::compute::{COMPUTE_MIGRATOR, Compute, down_blocks};
use sqlx::Row;

/// kind, amount, from, to, balance
type BillingRow = (String, String, Option<i64>, Option<i64>, String);
/// workload, node, from, to, down blocks, amount
type AuditRow = (String, Vec<u8>, i64, i64, i64, String);

const PAYER: u8 = 4;
const ALICE: u8 = 10;
const FARMER: u8 = 11;
const NODE_X: u8 = 20;
const NODE_Y: u8 = 21;

/// A compute transaction paid by the payer (an unspent 1,000-coin output),
/// with `deposit` escrowed as output 0 when given.
fn compute_tx(
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
fn run(ids: &mut IdentityNet, action: ComputeAction, signer: Option<&SecretKey>) -> Transaction {
    let transaction = compute_tx(ids, action, signer, None, None);
    ids.mine(vec![transaction.clone()]);
    transaction
}

async fn flush(h: &mut Harness, ids: &mut IdentityNet) {
    for update in std::mem::take(&mut ids.updates) {
        h.publish_update(&ids.net.chain, &update).await;
    }
}

fn state(ids: &IdentityNet) -> ComputeState {
    ids.net
        .chain
        .state()
        .domain::<ComputeState>()
        .unwrap()
        .clone()
}

fn workload(name: &str, cores: u32, memory_mib: u64) -> WorkloadSpec {
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

fn report(node: NodeId, sequence: u64, workloads: Vec<WorkloadReport>) -> ComputeAction {
    ComputeAction::Report {
        node,
        sequence,
        uptime_seconds: sequence * 10,
        power: Power::Up,
        workloads,
    }
}

#[tokio::test]
async fn compute_model_follows_nodes_deployments_billing_and_healing_and_equals_its_rebuild() {
    let mut h = Harness::new("compute").await;
    let config = test_config();
    let model = Arc::new(Compute::default());
    let mut live = h.start(model.clone(), &config);
    h.publish_genesis(&config).await;

    let mut ids = IdentityNet::new();
    let alice = ids.register("alice", ALICE);
    let farmer = ids.register("farmer", FARMER);
    let mut nodes = Vec::new();
    for (seed, farm, country, city) in [
        (NODE_X, "farm-a", "be", "ghent"),
        (NODE_Y, "farm-b", "nl", "delft"),
    ] {
        let node_key = key(seed);
        let transaction = compute_tx(
            &ids,
            ComputeAction::RegisterNode {
                owner: farmer,
                node_key: node_key.public_key(),
                farm: Name::new(farm).unwrap(),
                location: Location::new(country, city).unwrap(),
                capacity: Resources::new(4, 4096, 100),
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
        &ids,
        ComputeAction::CreateDeployment {
            owner: alice,
            spec: spec.clone(),
            deposit: Some(0),
        },
        Some(&key(ALICE)),
        None,
        Some(deposit),
    );
    let deployment = DeploymentId::for_creation(&create.id());
    ids.mine(vec![create]);
    let created_at = ids.net.chain.height().0;
    let placements = state(&ids)
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
            run(
                &mut ids,
                report(node, sequence, reports),
                Some(&key_of(node)),
            );
            sequence += 1;
        }
    }
    let x_last_report = ids.net.chain.height().0 - 1;
    assert_eq!(state(&ids).node(&x).unwrap().last_report.0, x_last_report);

    // X falls silent; Y keeps reporting every 10 blocks.
    for round in 0..3 {
        for _ in 0..9 {
            ids.mine(Vec::new());
        }
        run(
            &mut ids,
            report(y, 100 + round, Vec::new()),
            Some(&key_of(y)),
        );
    }
    // Billed now: blocks created_at..tip.
    run(&mut ids, ComputeAction::Bill { deployment }, None);
    let billed_at = ids.net.chain.height().0;
    let billed = state(&ids).deployment(&deployment).unwrap().clone();
    assert_eq!(billed.billed_to.0, billed_at);
    // Heal X: its workloads move to Y.
    run(&mut ids, ComputeAction::Heal { node: x }, None);
    let healed_at = ids.net.chain.height().0;
    let after_heal = state(&ids).deployment(&deployment).unwrap().clone();
    assert!(after_heal.placements.values().all(|node| *node == y));
    flush(&mut h, &mut ids).await;
    h.wait_for("compute", h.last_seq().await, &mut live).await;

    let mut db = h.connection("compute").await;
    // Nodes: capacity used and free as the chain has it, by farm.
    let rows = sqlx::query(
        "SELECT id, farm, country, city, cores_used, memory_mib_used, disk_gib_used, cores_free,
                last_report_height
           FROM compute_node_capacity ORDER BY farm",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    assert_eq!(rows.len(), 2);
    for row in &rows {
        let id = NodeId(ledger::Hash32(
            row.get::<Vec<u8>, _>("id").try_into().unwrap(),
        ));
        let record = state(&ids).node(&id).unwrap().clone();
        assert_eq!(row.get::<String, _>("farm"), record.farm.as_str());
        assert_eq!(
            row.get::<i64, _>("cores_used"),
            i64::from(record.used.cores)
        );
        assert_eq!(
            row.get::<i64, _>("memory_mib_used") as u64,
            record.used.memory_mib
        );
        assert_eq!(
            row.get::<i64, _>("disk_gib_used") as u64,
            record.used.disk_gib
        );
        assert_eq!(
            row.get::<i64, _>("cores_free"),
            i64::from(record.capacity.cores - record.used.cores)
        );
        assert_eq!(
            row.get::<i64, _>("last_report_height") as u64,
            record.last_report.0
        );
    }
    assert_eq!(rows[0].get::<String, _>("country"), "be");
    assert_eq!(rows[1].get::<String, _>("city"), "delft");

    // The deployment: owner, policy, spec, balance.
    let row = sqlx::query(
        "SELECT owner, name, reschedule, spec, balance::text AS balance, billed_to, status
           FROM compute_deployment WHERE id = $1",
    )
    .bind(deployment.0.0.to_vec())
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(row.get::<Vec<u8>, _>("owner"), alice.0.0.to_vec());
    assert_eq!(row.get::<String, _>("reschedule"), "move");
    let stored: DeploymentSpec = ledger::codec::decode(&row.get::<Vec<u8>, _>("spec")).unwrap();
    assert_eq!(stored, spec);
    assert_eq!(
        row.get::<String, _>("balance"),
        billed.balance.0.to_string()
    );
    assert_eq!(row.get::<i64, _>("billed_to") as u64, billed_at);
    assert_eq!(row.get::<String, _>("status"), "active");

    // Workloads: desired placed on Y now; reported state reset by the move
    // for db, running for a workload that stayed.
    let workloads: Vec<(String, Vec<u8>, String, Option<String>)> = sqlx::query_as(
        "SELECT name, node, desired_state, reported_state FROM compute_workload
          WHERE deployment = $1 ORDER BY name",
    )
    .bind(deployment.0.0.to_vec())
    .fetch_all(&mut db)
    .await
    .unwrap();
    for (name, node, desired, reported) in &workloads {
        assert_eq!(node, &y.0.0.to_vec(), "{name}");
        assert_eq!(desired, "running");
        if placements[&Name::new(name).unwrap()] == x {
            assert_eq!(reported, &None, "{name} moved: nothing reported yet");
        } else {
            assert_eq!(reported.as_deref(), Some("running"), "{name}");
        }
    }
    // db's history: placed (created), deploying, running, removed, placed (rescheduled).
    let history: Vec<(String, String)> = sqlx::query_as(
        "SELECT kind, state FROM compute_workload_history
          WHERE deployment = $1 AND workload = 'db' ORDER BY height, event_index",
    )
    .bind(deployment.0.0.to_vec())
    .fetch_all(&mut db)
    .await
    .unwrap();
    let history: Vec<(&str, &str)> = history
        .iter()
        .map(|(kind, state)| (kind.as_str(), state.as_str()))
        .collect();
    assert_eq!(
        history,
        [
            ("placed", "created"),
            ("reported", "deploying"),
            ("reported", "running"),
            ("removed", "deleted"),
            ("placed", "rescheduled"),
        ]
    );

    // The reschedule and its reason.
    let moves = sqlx::query(
        "SELECT workload, from_node, to_node, last_report_height, height, reason
           FROM compute_reschedule WHERE deployment = $1 ORDER BY workload",
    )
    .bind(deployment.0.0.to_vec())
    .fetch_all(&mut db)
    .await
    .unwrap();
    let moved_names: Vec<String> = moves.iter().map(|row| row.get("workload")).collect();
    let expected_moved: Vec<String> = placements
        .iter()
        .filter(|(_, node)| **node == x)
        .map(|(name, _)| name.as_str().to_owned())
        .collect();
    assert_eq!(moved_names, expected_moved);
    for row in &moves {
        assert_eq!(row.get::<Vec<u8>, _>("from_node"), x.0.0.to_vec());
        assert_eq!(
            row.get::<Option<Vec<u8>>, _>("to_node"),
            Some(y.0.0.to_vec())
        );
        assert_eq!(
            row.get::<i64, _>("last_report_height") as u64,
            x_last_report
        );
        assert_eq!(row.get::<i64, _>("height") as u64, healed_at);
        let reason: String = row.get("reason");
        assert_eq!(
            reason,
            format!(
                "node {} silent since height {x_last_report} ({} blocks at height {healed_at}) → moved from {} to {}",
                x.short(),
                healed_at - x_last_report,
                x.short(),
                y.short()
            )
        );
    }

    // Billing history: the deposit, then the bill with its block range.
    let billing: Vec<BillingRow> = sqlx::query_as(
        "SELECT kind, amount::text, from_height, to_height, balance::text FROM compute_billing
          WHERE deployment = $1 ORDER BY height, event_index",
    )
    .bind(deployment.0.0.to_vec())
    .fetch_all(&mut db)
    .await
    .unwrap();
    let price = ComputeParams::default().price_per_block(&spec).unwrap();
    let due = price.0 * u128::from(billed_at - created_at);
    assert_eq!(
        billing,
        [
            (
                "deposit".to_string(),
                deposit.0.to_string(),
                None,
                None,
                deposit.0.to_string()
            ),
            (
                "billed".to_string(),
                due.to_string(),
                Some(created_at as i64),
                Some(billed_at as i64),
                (deposit.0 - due).to_string()
            ),
        ]
    );

    // Billed while down: the workloads then on X, for the blocks after
    // X's last report plus the silence limit; nothing for Y's.
    let silent = ComputeParams::default().silent_after_blocks;
    let expected_down = billed_at - (x_last_report + silent + 1);
    assert_eq!(
        down_blocks(&[(x_last_report, true)], created_at, billed_at, silent),
        expected_down
    );
    assert!(expected_down > 0);
    let audit: Vec<AuditRow> = sqlx::query_as(
        "SELECT workload, node, from_height, to_height, down_blocks, amount::text
           FROM compute_billed_while_down WHERE deployment = $1 ORDER BY workload",
    )
    .bind(deployment.0.0.to_vec())
    .fetch_all(&mut db)
    .await
    .unwrap();
    assert_eq!(
        audit.iter().map(|row| row.0.clone()).collect::<Vec<_>>(),
        expected_moved
    );
    for (name, node, from, to, down, amount) in &audit {
        assert_eq!(node, &x.0.0.to_vec());
        assert_eq!((*from as u64, *to as u64), (created_at, billed_at));
        assert_eq!(*down as u64, expected_down);
        let one = DeploymentSpec {
            workloads: vec![spec.workload(&Name::new(name).unwrap()).unwrap().clone()],
            ..spec.clone()
        };
        let per_block = ComputeParams::default().price_per_block(&one).unwrap();
        assert_eq!(
            amount,
            &(per_block.0 * u128::from(expected_down)).to_string()
        );
    }

    // A race: branch a cancels the deployment, the heavier branch b tops
    // it up instead; after the reorg the model shows b's history only.
    let mut b = IdentityNet::follower(Net::new(config.clone()));
    for height in 1..=ids.net.chain.height().0 {
        let id = ids
            .net
            .chain
            .main_chain_id(ledger::BlockHeight(height))
            .unwrap();
        b.net
            .accept(ids.net.chain.block(&id).unwrap().unwrap())
            .unwrap();
    }
    b.updates.clear();
    run(
        &mut ids,
        ComputeAction::CancelDeployment {
            owner: alice,
            deployment,
        },
        Some(&key(ALICE)),
    );
    flush(&mut h, &mut ids).await;
    h.wait_for("compute", h.last_seq().await, &mut live).await;
    let status = || {
        sqlx::query_scalar::<_, String>("SELECT status FROM compute_deployment WHERE id = $1")
            .bind(deployment.0.0.to_vec())
    };
    assert_eq!(status().fetch_one(&mut db).await.unwrap(), "canceled");
    let used_y: i64 = sqlx::query_scalar("SELECT cores_used FROM compute_node WHERE id = $1")
        .bind(y.0.0.to_vec())
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(used_y, 0);

    let top_up = compute_tx(
        &b,
        ComputeAction::TopUp {
            deployment,
            deposit: 0,
        },
        None,
        None,
        Some(coins(7)),
    );
    b.mine(vec![top_up]);
    b.mine(Vec::new());
    for update in std::mem::take(&mut b.updates) {
        for id in &update.applied {
            let block = b.net.chain.block(id).unwrap().unwrap();
            let switched = ids.net.accept(block).unwrap();
            h.publish_update(&ids.net.chain, &switched).await;
        }
    }
    assert!(state(&ids).deployment(&deployment).is_some());
    h.wait_for("compute", h.last_seq().await, &mut live).await;
    assert_eq!(status().fetch_one(&mut db).await.unwrap(), "active");
    let (balance, cores_used): (String, i64) = sqlx::query_as(
        "SELECT d.balance::text, n.cores_used FROM compute_deployment d, compute_node n
          WHERE d.id = $1 AND n.id = $2",
    )
    .bind(deployment.0.0.to_vec())
    .bind(y.0.0.to_vec())
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(
        balance,
        state(&ids)
            .deployment(&deployment)
            .unwrap()
            .balance
            .0
            .to_string()
    );
    assert_eq!(cores_used, 3);
    let kinds: Vec<String> = sqlx::query_scalar(
        "SELECT kind FROM compute_billing WHERE deployment = $1 ORDER BY height, event_index",
    )
    .bind(deployment.0.0.to_vec())
    .fetch_all(&mut db)
    .await
    .unwrap();
    assert_eq!(kinds, ["deposit", "billed", "top_up"]);
    drop(db);

    // Incremental == folding only the final chain == rebuild.
    let incremental = h.dump("compute").await;
    let replayed = h
        .replay_main_chain(model.as_ref(), &COMPUTE_MIGRATOR, &ids.net.chain, 50)
        .await;
    assert_eq!(replayed, incremental);
    let tip = ids.net.chain.height().0;
    h.check_rebuild(model, &live, tip, &incremental).await;
    h.finish(live).await;
}
