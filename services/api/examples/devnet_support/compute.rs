//! The compute part of `devnet_transactions`: real signed compute
//! transactions for the explorer's compute pages, paid like the identity
//! ones (the identity module's `Seeder`, lines `compute-wave-<n> <hex>`).
//!
//! 1. the identities `farmer` (key seed 51) and `dave` (seed 52) register;
//! 2. farmer registers two nodes: [`NODE_A`] (node key seed 53) in farm
//!    `farm-ghent` (be/ghent) and [`NODE_B`] (seed 54) in `farm-austin`
//!    (us/austin), capacities [`CAPACITY_A`] and [`CAPACITY_B`];
//! 3. both report uptime (sequence 1);
//! 4. dave creates the deployment `shop` from [`BLUEPRINT`] with a
//!    [`DEPOSIT`]; the chain places its three workloads (the example runs
//!    the same scheduler on the same state to know where, and prints
//!    `compute-placement <workload> <node ID>`);
//! 5. each node reports its workloads `starting` (sequence 2);
//! 6. they report `running`, except `db`: `error` with [`DB_ERROR`]
//!    (sequence 3);
//! 7. a bill;
//! 8. node B reports power down with its workload `stopped` (sequence 4;
//!    a wave of its own, so the first bill covers no down block);
//! 9. a second bill, which the "billed while down" audit flags for the
//!    workload on node B.
//!
//! Also printed: `compute-node a|b <node ID>`, `compute-deployment <ID>`.

use anyhow::Context;
use chain::domains::compute::blueprint;
use chain::domains::compute::scheduler::{
    Constraints, NodeCandidate, NodeStatus, ScheduleRequest, WorkloadDemand, schedule,
};
use ledger::crypto::SecretKey;
use ledger::payload::compute::escrow_condition;
use ledger::payload::compute::operation::sign_into;
use ledger::payload::compute::{
    ComputeAction, DeploymentId, Location, Name, NodeId, Power, Resources, WorkloadReport,
    WorkloadState,
};
use ledger::payload::identity::{IdentityAction, IdentityName};
use ledger::{
    CoinOutput, CoinOutputId, Condition, Currency, IdentityId, NetworkParams, TransactionId,
};

use crate::common::key;
use crate::identity::Seeder;

/// Node A: farm, country, city.
pub const NODE_A: (&str, &str, &str) = ("farm-ghent", "be", "ghent");
/// Node B: farm, country, city.
pub const NODE_B: (&str, &str, &str) = ("farm-austin", "us", "austin");
pub const CAPACITY_A: Resources = Resources {
    cores: 16,
    memory_mib: 32_768,
    disk_gib: 1_000,
};
pub const CAPACITY_B: Resources = Resources {
    cores: 8,
    memory_mib: 16_384,
    disk_gib: 500,
};
/// dave's deployment: two web VMs kept apart, a database with a volume.
pub const BLUEPRINT: &str = "\
name: shop
networks:
  - name: private
    cidr: 10.1.0.0/24
vms:
  - name: web-1
    cores: 1
    memory_mib: 1024
    disk_gib: 10
    image: alpine
    network: private
    anti_affinity: web
  - name: web-2
    cores: 1
    memory_mib: 1024
    disk_gib: 10
    image: alpine
    network: private
    anti_affinity: web
  - name: db
    cores: 4
    memory_mib: 8192
    disk_gib: 20
    image: debian-12
    network: private
    volumes: [{ name: data, size_gib: 100 }]
";
/// The reason node reports for `db`.
pub const DB_ERROR: &str = "image debian-12: checksum mismatch";
/// dave's prepaid balance: 0.5 coin (base units).
pub const DEPOSIT: Currency = Currency(500_000_000);

/// Compute transactions [`seed`] builds (one fee output each).
const TRANSACTIONS: u64 = 14;

/// Builds the transactions (paid from `funding`, worth `value`, owned by
/// `owner`) and returns the lines to print and the change (and its value)
/// for the next domain.
pub fn seed(
    params: &NetworkParams,
    owner: &SecretKey,
    funding: CoinOutputId,
    value: Currency,
) -> anyhow::Result<(Vec<String>, CoinOutputId, Currency)> {
    let mut seeder = Seeder::split(params, owner, funding, value, "compute", TRANSACTIONS)?;
    let (farmer_key, dave_key, key_a, key_b) = (key(51), key(52), key(53), key(54));
    let mut lines = Vec::new();

    let register = |seeder: &mut Seeder<'_>, name: &str, signer: &SecretKey| {
        let action = IdentityAction::Register {
            name: IdentityName::parse(name).context("a devnet identity name")?,
            public_key: signer.public_key(),
        };
        seeder
            .tx(1, action, signer, None)
            .map(|id| IdentityId::for_registration(&id))
    };
    let farmer = register(&mut seeder, "farmer", &farmer_key)?;
    let dave = register(&mut seeder, "dave", &dave_key)?;

    let mut candidates = Vec::new();
    for (label, node_key, (farm, country, city), capacity) in [
        ("a", &key_a, NODE_A, CAPACITY_A),
        ("b", &key_b, NODE_B, CAPACITY_B),
    ] {
        let farm = Name::new(farm).context("a devnet farm")?;
        let location = Location::new(country, city).context("a devnet location")?;
        compute_tx(
            &mut seeder,
            2,
            |_| ComputeAction::RegisterNode {
                owner: farmer,
                node_key: node_key.public_key(),
                farm: farm.clone(),
                location: location.clone(),
                capacity,
                payout: Condition::for_public_key(&farmer_key.public_key()),
            },
            None,
            Some(&farmer_key),
            Some(node_key),
        )?;
        let id = NodeId::for_key(&node_key.public_key());
        lines.push(format!("compute-node {label} {id}"));
        candidates.push(NodeCandidate {
            id,
            farm,
            location,
            total: capacity,
            used: Resources::default(),
            status: NodeStatus::Up,
        });
    }
    let nodes = [(&key_a, candidates[0].id), (&key_b, candidates[1].id)];
    for (node_key, node) in nodes {
        report(&mut seeder, 3, node_key, node, 1, Power::Up, Vec::new())?;
    }

    let spec = blueprint::parse(BLUEPRINT).context("the devnet blueprint")?;
    let create = compute_tx(
        &mut seeder,
        4,
        |deposit| ComputeAction::CreateDeployment {
            owner: dave,
            spec: spec.clone(),
            deposit,
            refund: Condition::for_public_key(&dave_key.public_key()),
        },
        Some(DEPOSIT),
        Some(&dave_key),
        None,
    )?;
    let deployment = DeploymentId::for_creation(&create);
    lines.push(format!("compute-deployment {deployment}"));
    // The chain's own placement rule on the state it will see: both nodes
    // up and empty.
    let demands: Vec<WorkloadDemand> = spec
        .workloads
        .iter()
        .map(|workload| {
            Ok(WorkloadDemand {
                name: workload.name.clone(),
                resources: workload.demand().context("a workload's demand")?,
                pinned: workload.node,
                anti_affinity: workload.anti_affinity.clone(),
            })
        })
        .collect::<anyhow::Result<_>>()?;
    let placements = schedule(
        &ScheduleRequest {
            deployment,
            constraints: &Constraints::default(),
            workloads: &demands,
            placed: &[],
        },
        &candidates,
    )
    .context("the devnet deployment fits the two nodes")?
    .placements;
    for (workload, node) in &placements {
        lines.push(format!("compute-placement {workload} {node}"));
    }
    let on = |node: NodeId, state: &dyn Fn(&Name) -> WorkloadState| -> Vec<WorkloadReport> {
        placements
            .iter()
            .filter(|(_, placed)| **placed == node)
            .map(|(workload, _)| WorkloadReport {
                deployment,
                workload: workload.clone(),
                state: state(workload),
            })
            .collect()
    };

    for (node_key, node) in nodes {
        let starting = on(node, &|_| WorkloadState::Starting);
        report(&mut seeder, 5, node_key, node, 2, Power::Up, starting)?;
        let running = on(node, &|workload| {
            if workload.as_str() == "db" {
                WorkloadState::Error(DB_ERROR.to_owned())
            } else {
                WorkloadState::Running
            }
        });
        report(&mut seeder, 6, node_key, node, 3, Power::Up, running)?;
    }
    let bill = |seeder: &mut Seeder<'_>, wave| {
        compute_tx(
            seeder,
            wave,
            |_| ComputeAction::Bill { deployment },
            None,
            None,
            None,
        )
    };
    bill(&mut seeder, 7)?;
    let (key_b, node_b) = nodes[1];
    let stopped = on(node_b, &|_| WorkloadState::Stopped);
    report(&mut seeder, 8, key_b, node_b, 4, Power::Down, stopped)?;
    bill(&mut seeder, 9)?;

    let mut printed = seeder.lines;
    printed.append(&mut lines);
    Ok((printed, seeder.change, seeder.change_value))
}

/// A compute transaction of `wave`, signed by `signer` (owner or node
/// key, per the action) and `node_key` (a registration); `deposit`
/// becomes coin output 0, paid to the escrow condition, out of the fee
/// output's change.
fn compute_tx(
    seeder: &mut Seeder<'_>,
    wave: u32,
    action: impl FnOnce(Option<u32>) -> ComputeAction,
    deposit: Option<Currency>,
    signer: Option<&SecretKey>,
    node_key: Option<&SecretKey>,
) -> anyhow::Result<TransactionId> {
    let mut transaction = seeder.paid()?;
    if let Some(deposit) = deposit {
        let change = transaction
            .coin_outputs
            .first_mut()
            .context("a paid transaction has its change output")?;
        change.value = change
            .value
            .checked_sub(deposit)
            .context("the deposit exceeds a fee output")?;
        transaction.coin_outputs.insert(
            0,
            CoinOutput {
                value: deposit,
                condition: escrow_condition(),
            },
        );
    }
    let action = action(deposit.map(|_| 0));
    let id = sign_into(
        &mut transaction,
        action,
        &seeder.params.chain_id,
        signer,
        node_key,
    );
    seeder.push(wave, transaction);
    Ok(id)
}

/// A report of `node` signed by its key.
fn report(
    seeder: &mut Seeder<'_>,
    wave: u32,
    node_key: &SecretKey,
    node: NodeId,
    sequence: u64,
    power: Power,
    workloads: Vec<WorkloadReport>,
) -> anyhow::Result<()> {
    compute_tx(
        seeder,
        wave,
        |_| ComputeAction::Report {
            node,
            sequence,
            uptime_seconds: 3_600 * sequence,
            power,
            workloads,
        },
        None,
        Some(node_key),
        None,
    )?;
    Ok(())
}
