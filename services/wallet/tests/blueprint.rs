//! Blueprints through the wallet binary on a real devnet (testkit: node,
//! projector with every read model, API): a farmer's identity registers a
//! compute node (`wallet compute register-node`), an owner plans and
//! applies a blueprint of two VMs (the deployment appears in the compute
//! read model with the exact spec), applying it again submits nothing ("no
//! change"), a resized VM plans and applies as an update of that VM only,
//! destroy cancels it (capacity freed, the farmer paid, the rest refunded); bad YAML is a BAD_BLUEPRINT error
//! naming its line and field, and nothing is submitted.

#![allow(clippy::unwrap_used)] // test: a failed step should fail loudly

mod common;

use std::time::{Duration, Instant};

use common::start;
use serde_json::{Value, json};
use testkit::BackgroundDevnet;

fn graphql(devnet: &BackgroundDevnet, query: &str, variables: Value) -> Value {
    let url = devnet.api_url();
    devnet.block_on(async move {
        reqwest::Client::new()
            .post(url)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    })
}

/// Waits until `check` holds for the owner's deployments (the compute
/// model may trail the explorer, which the wallet waits for).
fn wait_deployments(
    devnet: &BackgroundDevnet,
    owner: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let started = Instant::now();
    loop {
        let body = graphql(
            devnet,
            "query($o: String!) { deployments(owner: $o, includeCanceled: true) {
                id name status workloads { name cores memoryMib desiredState node } } }",
            json!({ "o": owner }),
        );
        if check(&body["data"]["deployments"]) {
            return body["data"]["deployments"].clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "deployments never matched: {body}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

const BLUEPRINT: &str = "name: shop
reschedule: move
networks:
  - name: private
    cidr: 10.1.0.0/24
vms:
  - name: web
    cores: 1
    memory_mib: 512
    disk_gib: 5
    image: alpine
    network: private
  - name: db
    cores: 1
    memory_mib: 1024
    disk_gib: 10
    image: debian-12
";

#[test]
fn blueprint_plan_apply_again_resize_and_destroy_on_a_devnet() {
    let (devnet, env, genesis_file) = start();
    env.ok(
        "genesis",
        &["recover", "--from-file", genesis_file.to_str().unwrap()],
    );
    let mut addresses = Vec::new();
    for name in ["farmer", "owner"] {
        let address = env.ok(name, &["init", "--no-confirm"])["addresses"][0]
            .as_str()
            .unwrap()
            .to_owned();
        addresses.push(address);
    }
    let extra = format!("{}=100", addresses[1]);
    env.ok("genesis", &["send", "100", &addresses[0], "--to", &extra]);
    env.ok("farmer", &["identity", "register", "farmer"]);
    let owner = env.ok("owner", &["identity", "register", "owner"])["identity"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // A bad blueprint: typed error with line and field, nothing submitted.
    let bad = env.path("bad.yaml");
    std::fs::write(&bad, BLUEPRINT.replace("name: db", "name: Db_1")).unwrap();
    let (code, message) = env.fail(
        "owner",
        &["blueprint", "plan", bad.to_str().unwrap()],
        Some("pw"),
    );
    assert_eq!(code, "BAD_BLUEPRINT", "{message}");
    assert!(
        message.contains("line 13") && message.contains("vms[1].name"),
        "{message}"
    );
    let unknown = env.path("unknown.yaml");
    std::fs::write(
        &unknown,
        BLUEPRINT.replace("reschedule: move", "reschedul: move"),
    )
    .unwrap();
    let (code, message) = env.fail(
        "owner",
        &["blueprint", "apply", unknown.to_str().unwrap()],
        Some("pw"),
    );
    assert_eq!(code, "BAD_BLUEPRINT", "{message}");
    assert!(message.contains("line 2"), "{message}");

    // The farmer registers a node (its key is the node agent's), paid to
    // its wallet's first address; a payout address that is not one is a
    // BAD_ADDRESS error and nothing is submitted.
    let node_key = env.path("node.key");
    std::fs::write(&node_key, hex::encode([42u8; 32])).unwrap();
    let register: Vec<&str> = vec![
        "compute",
        "register-node",
        "--node-key-file",
        node_key.to_str().unwrap(),
        "--farm",
        "farm-a",
        "--country",
        "BE",
        "--city",
        "ghent",
        "--cores",
        "4",
        "--memory-mib",
        "8192",
        "--disk-gib",
        "100",
    ];
    let mut bad_payout = register.clone();
    bad_payout.extend(["--payout", "not-an-address"]);
    let (code, message) = env.fail("farmer", &bad_payout, Some("pw"));
    assert_eq!(code, "BAD_ADDRESS", "{message}");
    let registered = env.ok("farmer", &register);
    let node = registered["node"].as_str().unwrap().to_owned();

    // Plan, apply: the deployment with both VMs on the node.
    let file = env.path("shop.yaml");
    std::fs::write(&file, BLUEPRINT).unwrap();
    let path = file.to_str().unwrap();
    let plan = env.ok("owner", &["blueprint", "plan", path]);
    assert_eq!(plan["plan"]["action"], "create");
    assert_eq!(
        plan["plan"]["changes"],
        json!(["+ create db", "+ create web"])
    );
    let applied = env.ok("owner", &["blueprint", "apply", path, "--deposit", "5"]);
    assert_eq!(applied["applied"], true);
    let deployment = applied["deployment"].as_str().unwrap().to_owned();
    let listed = wait_deployments(&devnet, &owner, |list| {
        list.as_array().is_some_and(|l| l.len() == 1)
    });
    assert_eq!(listed[0]["id"], deployment.as_str());
    assert_eq!(listed[0]["status"], "active");
    assert_eq!(
        listed[0]["workloads"],
        json!([
            { "name": "db", "cores": 1, "memoryMib": 1024, "desiredState": "running", "node": node },
            { "name": "web", "cores": 1, "memoryMib": 512, "desiredState": "running", "node": node },
        ])
    );

    // Again: no change, nothing submitted.
    let again = env.ok("owner", &["blueprint", "apply", path]);
    assert_eq!(again["applied"], false);
    assert_eq!(again["plan"]["action"], "none");

    // Resize db: only db changes.
    std::fs::write(
        &file,
        BLUEPRINT.replace("memory_mib: 1024", "memory_mib: 2048"),
    )
    .unwrap();
    let plan = env.ok("owner", &["blueprint", "plan", path]);
    assert_eq!(plan["plan"]["action"], "update");
    assert_eq!(plan["plan"]["deployment"], deployment.as_str());
    assert_eq!(plan["plan"]["changes"], json!(["~ update db (memory_mib)"]));
    let applied = env.ok("owner", &["blueprint", "apply", path]);
    assert_eq!(applied["applied"], true);
    let listed = wait_deployments(&devnet, &owner, |list| {
        list[0]["workloads"][0]["memoryMib"] == json!(2048)
    });
    assert_eq!(listed[0]["workloads"][1]["memoryMib"], 512);
    assert_eq!(
        env.ok("owner", &["blueprint", "apply", path])["applied"],
        false
    );

    // Destroy: canceled, capacity free; destroying again changes nothing.
    let destroyed = env.ok("owner", &["blueprint", "destroy", path]);
    assert_eq!(destroyed["plan"]["action"], "cancel");
    let listed = wait_deployments(&devnet, &owner, |list| {
        list[0]["status"] == json!("canceled")
    });
    assert!(
        listed[0]["workloads"]
            .as_array()
            .unwrap()
            .iter()
            .all(|workload| workload["desiredState"] == "deleted")
    );
    let capacity = graphql(
        &devnet,
        "query($n: String!) { computeNode(id: $n) { coresUsed memoryMibUsed } }",
        json!({ "n": node }),
    );
    assert_eq!(
        capacity["data"]["computeNode"],
        json!({ "coresUsed": 0, "memoryMibUsed": 0 })
    );
    assert_eq!(
        env.ok("owner", &["blueprint", "destroy", path])["applied"],
        false
    );

    // The money: every bill (and the cancel's last draw) paid the node's
    // farmer, the rest of the 5 coins came back to the owner's address.
    let billing = graphql(
        &devnet,
        "query($d: String!) { deployment(id: $d) { billing { kind amount address } } }",
        json!({ "d": deployment }),
    );
    let rows = billing["data"]["deployment"]["billing"]
        .as_array()
        .unwrap()
        .clone();
    let units = |row: &Value| base_units(row["amount"].as_str().unwrap());
    let paid: Vec<&Value> = rows.iter().filter(|row| row["kind"] == "paid").collect();
    let billed: u128 = rows
        .iter()
        .filter(|row| row["kind"] == "billed")
        .map(units)
        .sum();
    assert!(!paid.is_empty(), "{rows:?}");
    assert!(
        paid.iter().all(|row| row["address"] == json!(addresses[0])),
        "{rows:?}"
    );
    assert_eq!(paid.iter().map(|row| units(row)).sum::<u128>(), billed);
    let refunded: Vec<&Value> = rows
        .iter()
        .filter(|row| row["kind"] == "refunded")
        .collect();
    assert_eq!(refunded.len(), 1, "{rows:?}");
    assert_eq!(refunded[0]["address"], json!(addresses[1]));
    assert_eq!(billed + units(refunded[0]), 5_000_000_000, "{rows:?}");
}

/// "4.99631" coins as base units (9 decimals on the devnet).
fn base_units(coins: &str) -> u128 {
    let (whole, fraction) = coins.split_once('.').unwrap_or((coins, ""));
    let fraction = format!("{fraction:0<9}");
    whole.parse::<u128>().unwrap() * 1_000_000_000 + fraction.parse::<u128>().unwrap()
}
