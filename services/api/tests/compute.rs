//! The compute queries against the real stack: the shared compute
//! scenario (two nodes in two farms, a deployment, reports, one node
//! silent, a bill audited, a heal) mined on the test chain, published to a
//! JetStream stream of its own, folded by the projector runtime with the
//! compute and identity models into a fresh database, and queried through
//! the API's schema: nodes by farm and location with capacity, capacity
//! totals, an owner's deployments (by identity name and by ID), a
//! deployment with workloads and state history, billing, reschedules with
//! their reason, the billed-while-down audit, and typed errors for bad
//! arguments.

#![allow(clippy::unwrap_used)] // test harness: a failed setup step should fail the test loudly

#[path = "../../../ledger/chain/tests/common/mod.rs"]
mod common;
#[path = "../../../projections/tests/support/compute_world.rs"]
mod compute_world;
#[path = "../../../projections/tests/support/harness.rs"]
mod harness;
#[path = "../../../projections/tests/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use api::submit::NatsSubmitter;
use api::{ApiSchema, ApiState, Limits, Network};
use chain::stream::submit_subject;
use common::identity::IdentityNet;
use common::test_config;
use harness::Harness;
use ledger::Currency;
use projections::compute::Compute;
use projections::identity::Identity;
use serde_json::{Value, json};
use sqlx::postgres::PgPoolOptions;

/// Runs a query; returns `data` or the first error's code.
async fn run(schema: &ApiSchema, query: &str, variables: Value) -> Result<Value, String> {
    let request = async_graphql::Request::new(query)
        .variables(async_graphql::Variables::from_json(variables));
    let response = schema.execute(request).await;
    if let Some(error) = response.errors.first() {
        let code = error
            .extensions
            .as_ref()
            .and_then(|extensions| extensions.get("code"))
            .map(|code| code.to_string())
            .unwrap_or_else(|| format!("no code: {}", error.message));
        return Err(code.trim_matches('"').to_owned());
    }
    Ok(response.data.into_json().unwrap())
}

#[tokio::test]
async fn compute_queries_serve_nodes_deployments_history_billing_and_audit() {
    let mut h = Harness::new("apicompute").await;
    let config = test_config();
    let mut live = h.start(Arc::new(Compute::default()), &config);
    let mut identities = h.start(Arc::new(Identity::new()), &config);
    h.publish_genesis(&config).await;
    let mut ids = IdentityNet::new();
    let world = compute_world::build(&mut ids);
    for update in std::mem::take(&mut ids.updates) {
        h.publish_update(&ids.net.chain, &update).await;
    }
    let seq = h.last_seq().await;
    h.wait_for("compute", seq, &mut live).await;
    h.wait_for("identity", seq, &mut identities).await;

    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect_with(h.options.clone())
        .await
        .unwrap();
    let state = ApiState {
        pool,
        network: Network::new(h.network.clone(), config.clone()),
        limits: Limits::default(),
        nats: Some(h.client.clone()),
        submitter: Arc::new(NatsSubmitter {
            client: h.client.clone(),
            subject: submit_subject(&h.network),
            timeout: Duration::from_secs(5),
        }),
        login: Arc::new(api::login::LoginConfig::ephemeral()),
    };
    let network = state.network.clone();
    let schema = api::build_schema(state);
    let hex = |bytes: &[u8]| hex::encode(bytes);
    let (x, y) = (hex(&world.x.0.0), hex(&world.y.0.0));

    // Nodes by farm and location, with capacity.
    let data = run(
        &schema,
        "{ all: computeNodes { id farm country city coresTotal coresUsed coresFree
                               memoryMibFree lastReportHeight workloads { name }
                               payoutAddress earned }
           a: computeNodes(farm: \"FARM-A\") { id }
           delft: computeNodes(country: \"nl\", city: \"delft\") { id }
           none: computeNodes(farm: \"farm-z\") { id } }",
        json!({}),
    )
    .await
    .unwrap();
    let all = data["all"].as_array().unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(
        all.iter()
            .map(|node| node["farm"].clone())
            .collect::<Vec<_>>(),
        [json!("farm-a"), json!("farm-b")]
    );
    let by_id = |id: &str| all.iter().find(|node| node["id"] == json!(id)).unwrap();
    // After the heal every workload (3 cores, 3072 MiB) is on Y.
    assert_eq!(by_id(&y)["coresUsed"], json!(3));
    assert_eq!(by_id(&y)["coresFree"], json!(1));
    assert_eq!(by_id(&y)["memoryMibFree"], json!(4096 - 3072));
    assert_eq!(by_id(&x)["coresUsed"], json!(0));
    assert_eq!(by_id(&x)["workloads"], json!([]));
    assert_eq!(
        by_id(&y)["workloads"],
        json!([{ "name": "db" }, { "name": "web" }])
    );
    assert_eq!(by_id(&x)["lastReportHeight"], json!(world.x_last_report));
    let node_a = hex(&compute_world::node_id(compute_world::NODE_X).0.0);
    assert_eq!(data["a"], json!([{ "id": node_a }]));
    assert_eq!(data["delft"].as_array().unwrap().len(), 1);
    assert_eq!(data["none"], json!([]));

    // Capacity totals: two nodes; X is silent at the model's height.
    let data = run(
        &schema,
        "{ computeCapacity { nodes nodesReporting coresTotal coresUsed coresFree diskGibUsed } }",
        json!({}),
    )
    .await
    .unwrap();
    assert_eq!(
        data["computeCapacity"],
        json!({ "nodes": 2, "nodesReporting": 1, "coresTotal": 8, "coresUsed": 3,
                "coresFree": 5, "diskGibUsed": 20 })
    );

    // The owner's deployments, by name and by ID.
    let query = "query($owner: String!) { deployments(owner: $owner) { id name status reschedule
                     specHex pricePerBlock balance } }";
    let by_name = run(&schema, query, json!({ "owner": "alice" }))
        .await
        .unwrap();
    let by_id = run(&schema, query, json!({ "owner": hex(&world.alice.0.0) }))
        .await
        .unwrap();
    assert_eq!(by_name, by_id);
    let deployments = by_name["deployments"].as_array().unwrap();
    assert_eq!(deployments.len(), 1);
    let deployment = &deployments[0];
    assert_eq!(deployment["id"], json!(hex(&world.deployment.0.0)));
    assert_eq!(deployment["name"], json!("shop"));
    assert_eq!(deployment["status"], json!("active"));
    assert_eq!(deployment["reschedule"], json!("move"));
    assert_eq!(
        deployment["specHex"],
        json!(hex(&ledger::codec::encode(&world.spec)))
    );
    let price = chain::domains::compute::ComputeParams::default()
        .price_per_block(&world.spec)
        .unwrap();
    assert_eq!(deployment["pricePerBlock"], json!(network.coins(price)));
    let due = price.0 * u128::from(world.billed_at - world.created_at);
    assert_eq!(
        deployment["balance"],
        json!(network.coins(Currency(world.deposit.0 - due)))
    );
    assert_eq!(
        run(&schema, query, json!({ "owner": "nobody" })).await,
        Err("UNKNOWN_IDENTITY".to_string())
    );

    // One deployment with workloads, history, billing, reschedules and the audit.
    let data = run(
        &schema,
        "query($id: String!) { deployment(id: $id) {
            workloads { name node desiredState reportedState
                        history { kind state node reason } }
            billing { kind amount fromHeight toHeight balance node address }
            reschedules { workload fromNode toNode lastReportHeight reason }
            billedWhileDown { workload node downBlocks amount } } }",
        json!({ "id": hex(&world.deployment.0.0) }),
    )
    .await
    .unwrap();
    let deployment = &data["deployment"];
    let db = &deployment["workloads"][0];
    assert_eq!(db["name"], json!("db"));
    assert_eq!(db["node"], json!(y));
    assert_eq!(db["desiredState"], json!("running"));
    assert_eq!(db["reportedState"], Value::Null);
    let history: Vec<(String, String, String)> = db["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|change| {
            (
                change["kind"].as_str().unwrap().to_owned(),
                change["state"].as_str().unwrap().to_owned(),
                change["node"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let step =
        |kind: &str, state: &str, node: &str| (kind.to_owned(), state.to_owned(), node.to_owned());
    assert_eq!(
        history,
        [
            step("placed", "created", &x),
            step("reported", "deploying", &x),
            step("reported", "running", &x),
            step("removed", "deleted", &x),
            step("placed", "rescheduled", &y),
        ]
    );
    let reason = format!(
        "node {} silent since height {} ({} blocks at height {}) → moved from {} to {}",
        world.x.short(),
        world.x_last_report,
        world.healed_at - world.x_last_report,
        world.healed_at,
        world.x.short(),
        world.y.short()
    );
    assert_eq!(db["history"][4]["reason"], json!(reason));
    // The deposit, the bill, then each hosting node's share of it (the
    // workloads' prices × the blocks billed), paid to the farmer's address.
    let params = chain::domains::compute::ComputeParams::default();
    let blocks = u128::from(world.billed_at - world.created_at);
    let mut shares: std::collections::BTreeMap<String, u128> = Default::default();
    for workload in &world.spec.workloads {
        let node = world.placements[&workload.name];
        *shares.entry(hex(&node.0.0)).or_default() +=
            params.workload_price_per_block(workload).unwrap().0 * blocks;
    }
    assert_eq!(shares.values().sum::<u128>(), due);
    let farmer_address =
        ledger::Address::for_public_key(&common::key(compute_world::FARMER).public_key())
            .to_text(network.prefix())
            .unwrap();
    let balance_after = network.coins(Currency(world.deposit.0 - due));
    let mut expected = vec![
        json!({ "kind": "deposit", "amount": network.coins(world.deposit), "fromHeight": null,
                "toHeight": null, "balance": network.coins(world.deposit), "node": null,
                "address": null }),
        json!({ "kind": "billed", "amount": network.coins(Currency(due)),
                "fromHeight": world.created_at, "toHeight": world.billed_at,
                "balance": balance_after, "node": null, "address": null }),
    ];
    for (node, share) in &shares {
        expected.push(
            json!({ "kind": "paid", "amount": network.coins(Currency(*share)),
            "fromHeight": null, "toHeight": null, "balance": balance_after, "node": node,
            "address": farmer_address }),
        );
    }
    assert_eq!(deployment["billing"], json!(expected));
    // Each node shows where it is paid and what it earned.
    for node in all {
        let id = node["id"].as_str().unwrap();
        assert_eq!(node["payoutAddress"], json!(farmer_address));
        let earned = shares.get(id).copied().unwrap_or_default();
        assert_eq!(
            node["earned"],
            json!(network.coins(Currency(earned))),
            "{id}"
        );
    }
    let moved: Vec<&str> = world
        .placements
        .iter()
        .filter(|(_, node)| **node == world.x)
        .map(|(name, _)| name.as_str())
        .collect();
    let reschedules = deployment["reschedules"].as_array().unwrap();
    assert_eq!(reschedules.len(), moved.len());
    for (row, name) in reschedules.iter().zip(&moved) {
        assert_eq!(
            row,
            &json!({ "workload": name, "fromNode": x, "toNode": y,
                     "lastReportHeight": world.x_last_report, "reason": reason })
        );
    }
    let silent = chain::domains::compute::ComputeParams::default().silent_after_blocks;
    let down = world.billed_at - (world.x_last_report + silent + 1);
    let audit = deployment["billedWhileDown"].as_array().unwrap();
    assert_eq!(
        audit
            .iter()
            .map(|row| row["workload"].clone())
            .collect::<Vec<_>>(),
        moved.iter().map(|name| json!(name)).collect::<Vec<_>>()
    );
    assert!(
        audit
            .iter()
            .all(|row| row["node"] == json!(x) && row["downBlocks"] == json!(down))
    );

    // The same audit and reschedules by node.
    let data = run(
        &schema,
        "query($x: String!) { billedWhileDown(node: $x) { workload }
                              everything: billedWhileDown { workload }
                              reschedules(node: $x) { workload } }",
        json!({ "x": x }),
    )
    .await
    .unwrap();
    assert_eq!(
        data["billedWhileDown"].as_array().unwrap().len(),
        moved.len()
    );
    assert_eq!(data["everything"], data["billedWhileDown"]);
    assert_eq!(data["reschedules"].as_array().unwrap().len(), moved.len());

    // Bad arguments are typed errors.
    for (query, code) in [
        ("{ deployment(id: \"zz\") { name } }", "BAD_USER_INPUT"),
        ("{ computeNodes(limit: 0) { id } }", "BAD_USER_INPUT"),
        ("{ reschedules(node: \"12\") { reason } }", "BAD_USER_INPUT"),
    ] {
        assert_eq!(
            run(&schema, query, json!({})).await,
            Err(code.to_string()),
            "{query}"
        );
    }
    assert_eq!(
        run(
            &schema,
            "query($id: String!) { deployment(id: $id) { name } }",
            json!({ "id": "00".repeat(32) })
        )
        .await
        .unwrap(),
        json!({ "deployment": null })
    );

    identities.shutdown.cancel();
    identities.handle.await.unwrap().unwrap();
    h.finish(live).await;
}
