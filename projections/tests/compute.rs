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
#[path = "support/compute_world.rs"]
mod compute_world;
#[path = "support/harness.rs"]
mod harness;
#[path = "support/mod.rs"]
mod support;

use std::sync::Arc;

use chain::domains::compute::ComputeParams;
use common::identity::IdentityNet;
use common::{Net, coins, key, test_config};
use compute_world::{ALICE, FARMER, Scenario, compute_tx, run, state};
use harness::Harness;
use ledger::Address;
use ledger::payload::compute::{ComputeAction, DeploymentSpec, Name, NodeId};
use projections::compute::{COMPUTE_MIGRATOR, Compute, down_blocks};
use projections::explorer::rows::address_bytes;
use sqlx::Row;

/// kind, amount, from, to, balance
type BillingRow = (String, String, Option<i64>, Option<i64>, String);
/// node, amount, output, address of a `paid` billing row.
type PaidRow = (Vec<u8>, String, Vec<u8>, Vec<u8>);
/// workload, node, from, to, down blocks, amount
type AuditRow = (String, Vec<u8>, i64, i64, i64, String);

async fn flush(h: &mut Harness, ids: &mut IdentityNet) {
    for update in std::mem::take(&mut ids.updates) {
        h.publish_update(&ids.net.chain, &update).await;
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
    let world = compute_world::build(&mut ids);
    let Scenario {
        alice,
        x,
        y,
        ref spec,
        deposit,
        deployment,
        ref placements,
        created_at,
        x_last_report,
        billed_at,
        healed_at,
        ..
    } = world;
    let billed_balance = deposit.0
        - ComputeParams::default().price_per_block(spec).unwrap().0
            * u128::from(billed_at - created_at);
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
    assert_eq!(&stored, spec);
    assert_eq!(row.get::<String, _>("balance"), billed_balance.to_string());
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
          WHERE deployment = $1 AND kind <> 'paid' ORDER BY height, event_index",
    )
    .bind(deployment.0.0.to_vec())
    .fetch_all(&mut db)
    .await
    .unwrap();
    let price = ComputeParams::default().price_per_block(spec).unwrap();
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

    // The bill paid the hosting nodes' payout address (the farmer's), one
    // row per node, adding up to what was drawn.
    let farmer = address_bytes(&Address::for_public_key(&key(FARMER).public_key())).to_vec();
    let paid: Vec<PaidRow> = sqlx::query_as(
        "SELECT node, amount::text, output, address FROM compute_billing
          WHERE deployment = $1 AND kind = 'paid' ORDER BY height, event_index",
    )
    .bind(deployment.0.0.to_vec())
    .fetch_all(&mut db)
    .await
    .unwrap();
    assert!(!paid.is_empty());
    let mut total = 0u128;
    for (node, amount, output, address) in &paid {
        assert_eq!(*address, farmer);
        assert_eq!(output.len(), 32);
        let payout: Vec<u8> =
            sqlx::query_scalar("SELECT payout_address FROM compute_node_capacity WHERE id = $1")
                .bind(node)
                .fetch_one(&mut db)
                .await
                .unwrap();
        assert_eq!(payout, farmer);
        total += amount.parse::<u128>().unwrap();
    }
    assert_eq!(total, due, "the nodes' shares add up to the bill");

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
    // The cancel refunded the rest of the balance to Alice's address.
    let (refunded, address, balance): (String, Vec<u8>, String) = sqlx::query_as(
        "SELECT b.amount::text, b.address, d.balance::text
           FROM compute_billing b JOIN compute_deployment d ON d.id = b.deployment
          WHERE b.deployment = $1 AND b.kind = 'refunded'",
    )
    .bind(deployment.0.0.to_vec())
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(
        address,
        address_bytes(&Address::for_public_key(&key(ALICE).public_key())).to_vec()
    );
    assert!(refunded.parse::<u128>().unwrap() > 0);
    assert_eq!(balance, "0");

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
    let mut expected = vec!["deposit", "billed"];
    expected.extend(std::iter::repeat_n("paid", paid.len()));
    expected.push("top_up");
    assert_eq!(
        kinds, expected,
        "the reverted cancel's draw and refund are gone"
    );
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
