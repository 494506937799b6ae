#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

//! Two node agents on a real devnet (node, NATS JetStream, PostgreSQL):
//! a blueprint with three VMs is applied and every VM is reported
//! running; applying it again plans nothing; a new size replaces only
//! that VM; killing one agent gets its VMs rescheduled onto the other
//! node once the first is silent; destroying the deployment stops every
//! VM and frees the capacity. A deployment whose deposit runs out is
//! billed by the agent, goes into grace and is stopped by the chain once
//! the grace period is over; the agent stops its process and the read
//! model shows why. A node agent process restarted while its workload
//! runs adopts it (same process, no new state on chain); one killed while
//! the agent was down is started again; the workload is pinned to as many
//! CPUs as it has cores.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chain::domains::compute::blueprint::{self, Action, CurrentDeployment};
use chain::domains::compute::{ComputeEvent, PlacementReason};
use chain::events::{Direction, EventBody};
use chain::stream::{self, BlockMessage};
use futures::StreamExt;
use ledger::derivation::{Derivation, spending_key};
use ledger::payload::compute::operation::sign_into;
use ledger::payload::compute::{
    ComputeAction, DeploymentId, DeploymentSpec, Location, Name, NodeId, Resources, WorkloadState,
    escrow_condition,
};
use ledger::payload::identity::{self, IdentityAction, IdentityName, IdentityOperation};
use ledger::{
    Address, CoinInput, CoinOutput, CoinOutputId, Condition, Currency, Fulfillment, IdentityId,
    NetworkParams, SecretKey, Transaction,
};
use node_agent::agent::{self, AgentConfig, AgentStatus};
use node_agent::process::ProcessDriver;
use node_agent::reconcile::{Reconciler, RestartPolicy};
use node_agent::report;
use node_agent::view::NodeView;
use testkit::Devnet;
use tokio_util::sync::CancellationToken;

/// The key seed of the farmer owning [`Cluster::one_node`]'s node (its
/// payout address is this key's).
const FARMER_SEED: u8 = 0x22;

const BLUEPRINT: &str = "\
name: shop
vms:
  - name: web-1
    cores: 1
    memory_mib: 64
    disk_gib: 1
    image: alpine
  - name: web-2
    cores: 1
    memory_mib: 64
    disk_gib: 1
    image: alpine
  - name: db
    cores: 1
    memory_mib: 128
    disk_gib: 2
    image: alpine
";

/// Compute events seen on the stream, in order (applied blocks only; the
/// devnet has one node, so it never reorgs).
type Events = Arc<Mutex<Vec<ComputeEvent>>>;

struct Cluster {
    devnet: Devnet,
    nats: async_nats::Client,
    params: NetworkParams,
    genesis: SecretKey,
    funds: Arc<Mutex<NodeView>>,
    /// Genesis outputs (the stream starts after the genesis block).
    genesis_coins: Vec<(CoinOutputId, Currency)>,
    used: Vec<CoinOutputId>,
    events: Events,
    shutdown: CancellationToken,
}

fn key(byte: u8) -> SecretKey {
    SecretKey::from_seed([byte; 32])
}

impl Cluster {
    async fn start() -> Cluster {
        Cluster::start_with(testkit::DevnetOptions::default()).await
    }

    async fn start_with(options: testkit::DevnetOptions) -> Cluster {
        let devnet = Devnet::start_with(options).await.unwrap();
        let nats_url = devenv::Settings::load().unwrap().nats_url;
        let nats = async_nats::connect(&nats_url).await.unwrap();
        let params = devnet.config.params.clone();
        let genesis = spending_key(&testkit::GENESIS_SEED, Derivation::Raw, 0);
        let address = Condition::for_public_key(&genesis.public_key()).address();
        let funds = Arc::new(Mutex::new(NodeView::new(NodeId::default(), address)));
        let shutdown = CancellationToken::new();
        tokio::spawn(agent::follow(
            nats.clone(),
            devnet.network.clone(),
            funds.clone(),
            Arc::new(AgentStatus::default()),
            shutdown.clone(),
        ));
        let genesis_condition = Condition::for_public_key(&genesis.public_key());
        let genesis_coins = devnet
            .config
            .genesis
            .transactions
            .iter()
            .flat_map(|transaction| {
                let id = transaction.id();
                transaction
                    .coin_outputs
                    .iter()
                    .enumerate()
                    .filter(|(_, output)| output.condition == genesis_condition)
                    .map(move |(index, output)| {
                        (
                            CoinOutputId::for_transaction_output(&id, index as u64),
                            output.value,
                        )
                    })
            })
            .collect();
        let events: Events = Arc::default();
        tokio::spawn(collect_events(
            nats.clone(),
            devnet.network.clone(),
            events.clone(),
        ));
        Cluster {
            devnet,
            nats,
            params,
            genesis,
            funds,
            genesis_coins,
            used: Vec::new(),
            events,
            shutdown,
        }
    }

    /// An unused genesis coin output, waiting for one if needed.
    async fn input(&mut self) -> (CoinOutputId, Currency) {
        if let Some(found) = self.genesis_coins.pop() {
            self.used.push(found.0);
            return found;
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let found = self
                .funds
                .lock()
                .unwrap()
                .coins()
                .iter()
                .filter(|(id, _)| !self.used.contains(id))
                .max_by_key(|(_, value)| **value)
                .map(|(id, value)| (*id, *value));
            if let Some(found) = found {
                self.used.push(found.0);
                return found;
            }
            assert!(Instant::now() < deadline, "no genesis coins to spend");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// A transaction spending one genesis output, paying `outputs` (and
    /// the change back), with the minimum fee.
    async fn paid(&mut self, outputs: Vec<CoinOutput>) -> Transaction {
        let (id, value) = self.input().await;
        let fee = Currency(1_000_000_000);
        let spent = Currency::checked_sum(outputs.iter().map(|o| o.value)).unwrap();
        let mut coin_outputs = outputs;
        coin_outputs.push(CoinOutput {
            value: value
                .checked_sub(fee)
                .and_then(|v| v.checked_sub(spent))
                .unwrap(),
            condition: Condition::for_public_key(&self.genesis.public_key()),
        });
        Transaction {
            coin_inputs: vec![CoinInput {
                parent_id: id,
                fulfillment: Fulfillment::Nil,
            }],
            coin_outputs,
            fee,
            ..Transaction::new()
        }
    }

    async fn submit(&self, mut transaction: Transaction) {
        report::sign_coin_inputs(&mut transaction, &self.genesis, &self.params);
        report::submit(&self.nats, &self.devnet.network, &transaction)
            .await
            .unwrap();
    }

    /// Splits the genesis coins into many outputs and funds the node keys.
    async fn fund(&mut self, node_keys: &[&SecretKey]) {
        let coin = |whole: u128| Currency(whole * 1_000_000_000);
        let mut outputs: Vec<CoinOutput> = (0..12)
            .map(|_| CoinOutput {
                value: coin(1_000),
                condition: Condition::for_public_key(&self.genesis.public_key()),
            })
            .collect();
        for node_key in node_keys {
            for _ in 0..20 {
                outputs.push(CoinOutput {
                    value: coin(10),
                    condition: Condition::for_public_key(&node_key.public_key()),
                });
            }
        }
        let transaction = self.paid(outputs).await;
        self.submit(transaction).await;
        // Wait for the split to be spendable.
        let deadline = Instant::now() + Duration::from_secs(30);
        let big = |view: &NodeView| {
            view.coins()
                .values()
                .filter(|value| **value >= Currency(1_000 * 1_000_000_000))
                .count()
        };
        while big(&self.funds.lock().unwrap()) < 12 {
            assert!(Instant::now() < deadline, "split not mined");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn register_identity(&mut self, name: &str, signer: &SecretKey) -> IdentityId {
        let mut transaction = self.paid(Vec::new()).await;
        let operation = IdentityOperation::unsigned(
            IdentityAction::Register {
                name: IdentityName(name.into()),
                public_key: signer.public_key(),
            },
            signer.public_key(),
        );
        let id = identity::sign_into(
            &mut transaction,
            operation,
            &self.params.chain_id,
            signer,
            None,
        );
        self.submit(transaction).await;
        IdentityId::for_registration(&id)
    }

    /// Submits a compute action (escrowing `deposit` as output 0).
    async fn compute(
        &mut self,
        action: impl FnOnce(Option<u32>) -> ComputeAction,
        signer: Option<&SecretKey>,
        node_key: Option<&SecretKey>,
        deposit: Option<Currency>,
    ) -> ledger::TransactionId {
        let outputs = deposit
            .map(|value| {
                vec![CoinOutput {
                    value,
                    condition: escrow_condition(),
                }]
            })
            .unwrap_or_default();
        let mut transaction = self.paid(outputs).await;
        let action = action(deposit.map(|_| 0));
        let id = sign_into(
            &mut transaction,
            action,
            &self.params.chain_id,
            signer,
            node_key,
        );
        self.submit(transaction).await;
        id
    }

    /// Creates `owner`'s deployment of `spec` with `deposit` escrowed.
    async fn create_deployment(
        &mut self,
        owner: IdentityId,
        owner_key: &SecretKey,
        spec: DeploymentSpec,
        deposit: Currency,
    ) -> DeploymentId {
        let created = self
            .compute(
                |deposit| ComputeAction::CreateDeployment {
                    owner,
                    spec,
                    deposit,
                    refund: Condition::for_public_key(&owner_key.public_key()),
                },
                Some(owner_key),
                None,
                Some(deposit),
            )
            .await;
        DeploymentId::for_creation(&created)
    }

    /// Funds `node_key`, registers its node for the identity `farmer` and
    /// the identity `alice`, who deploys: returns alice and her key.
    async fn one_node(&mut self, node_key: &SecretKey) -> (IdentityId, SecretKey) {
        let (alice_key, farmer_key) = (key(0x11), key(FARMER_SEED));
        self.fund(&[node_key]).await;
        let alice = self.register_identity("alice", &alice_key).await;
        let farmer = self.register_identity("farmer", &farmer_key).await;
        register_node(self, farmer, &farmer_key, node_key).await;
        (alice, alice_key)
    }

    /// Waits until the `count` workloads of `deployment` are reported
    /// running where they are placed.
    async fn wait_running(&self, deployment: DeploymentId, count: usize) {
        self.wait_for(
            &format!("{count} workload(s) running"),
            Duration::from_secs(60),
            |events| all_running_where_placed(events, deployment, count),
        )
        .await;
    }

    /// Waits until `done` holds for the events seen so far.
    async fn wait_for(&self, what: &str, limit: Duration, done: impl Fn(&[ComputeEvent]) -> bool) {
        let deadline = Instant::now() + limit;
        loop {
            if done(&self.events.lock().unwrap()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; events: {:#?}",
                self.events.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    fn start_agent(
        &self,
        node_key: &SecretKey,
        directory: &std::path::Path,
    ) -> (
        CancellationToken,
        tokio::task::JoinHandle<anyhow::Result<()>>,
    ) {
        let token = CancellationToken::new();
        let config = AgentConfig {
            network: self.devnet.network.clone(),
            params: self.params.clone(),
            nats_url: devenv::Settings::load().unwrap().nats_url,
            tick: Duration::from_millis(200),
            report_interval: Duration::from_secs(3),
            compute: self.devnet.config.compute,
        };
        let driver = ProcessDriver::new(directory.to_path_buf(), BTreeMap::new());
        let reconciler = Reconciler::new(Arc::new(driver), RestartPolicy::default());
        let task = tokio::spawn(agent::run(
            config,
            node_key.clone(),
            reconciler,
            Arc::new(AgentStatus::default()),
            token.clone(),
        ));
        (token, task)
    }
}

async fn collect_events(nats: async_nats::Client, network: String, events: Events) {
    let jetstream = async_nats::jetstream::new(nats);
    let deadline = Instant::now() + Duration::from_secs(30);
    let ledger_stream = loop {
        match jetstream.get_stream(stream::stream_name(&network)).await {
            Ok(found) => break found,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(error) => panic!("no ledger stream: {error}"),
        }
    };
    let consumer = ledger_stream
        .create_consumer(async_nats::jetstream::consumer::pull::Config {
            deliver_policy: async_nats::jetstream::consumer::DeliverPolicy::All,
            ack_policy: async_nats::jetstream::consumer::AckPolicy::None,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut messages = consumer.messages().await.unwrap();
    while let Some(Ok(message)) = messages.next().await {
        let block = BlockMessage::decode(&message.payload).unwrap();
        for event in block.events {
            if let (Direction::Apply, EventBody::Domain { domain, data, .. }) =
                (event.direction, &event.body)
                && domain == "compute"
            {
                events
                    .lock()
                    .unwrap()
                    .push(ComputeEvent::decode(data).unwrap());
            }
        }
    }
}

/// The latest reported state of every workload of `deployment`, by node.
fn reported(
    events: &[ComputeEvent],
    deployment: DeploymentId,
) -> BTreeMap<Name, (NodeId, WorkloadState)> {
    let mut states = BTreeMap::new();
    for event in events {
        if let ComputeEvent::WorkloadStateReported {
            node,
            deployment: reported,
            workload,
            state,
        } = event
            && *reported == deployment
        {
            states.insert(workload.clone(), (*node, state.clone()));
        }
    }
    states
}

/// Where each workload of `deployment` is placed now.
fn placements(events: &[ComputeEvent], deployment: DeploymentId) -> BTreeMap<Name, NodeId> {
    let mut placed = BTreeMap::new();
    for event in events {
        match event {
            ComputeEvent::WorkloadPlaced {
                deployment: of,
                node,
                spec,
                ..
            } if *of == deployment => {
                placed.insert(spec.name.clone(), *node);
            }
            ComputeEvent::WorkloadRemoved {
                deployment: of,
                workload,
                node,
            } if *of == deployment && placed.get(workload) == Some(node) => {
                placed.remove(workload);
            }
            _ => {}
        }
    }
    placed
}

fn all_running_where_placed(
    events: &[ComputeEvent],
    deployment: DeploymentId,
    count: usize,
) -> bool {
    let placed = placements(events, deployment);
    let states = reported(events, deployment);
    placed.len() == count
        && placed
            .iter()
            .all(|(name, node)| states.get(name) == Some(&(*node, WorkloadState::Running)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_agents_run_heal_and_destroy_a_blueprint() {
    let mut cluster = Cluster::start().await;
    let (node_key_a, node_key_b) = (key(0xa0), key(0xb0));
    let (alice_key, farmer_key) = (key(0x11), key(0x22));
    cluster.fund(&[&node_key_a, &node_key_b]).await;
    let alice = cluster.register_identity("alice", &alice_key).await;
    let farmer = cluster.register_identity("farmer", &farmer_key).await;
    for node_key in [&node_key_a, &node_key_b] {
        register_node(&mut cluster, farmer, &farmer_key, node_key).await;
    }
    let node_a = NodeId::for_key(&node_key_a.public_key());
    let node_b = NodeId::for_key(&node_key_b.public_key());
    let dir_a = tempfile::tempdir().unwrap();
    let dir_b = tempfile::tempdir().unwrap();
    let (stop_a, agent_a) = cluster.start_agent(&node_key_a, dir_a.path());
    let (stop_b, agent_b) = cluster.start_agent(&node_key_b, dir_b.path());

    // Apply the blueprint: three VMs, all reported running.
    let spec: DeploymentSpec = blueprint::parse(BLUEPRINT).unwrap();
    let diff = blueprint::plan(&spec, &[]).unwrap();
    let Action::Create(create) = diff.action else {
        panic!("a new blueprint creates");
    };
    let deployment = cluster
        .create_deployment(alice, &alice_key, create, Currency(500 * 1_000_000_000))
        .await;
    cluster.wait_running(deployment, 3).await;
    let nodes_used: std::collections::BTreeSet<NodeId> =
        placements(&cluster.events.lock().unwrap(), deployment)
            .values()
            .copied()
            .collect();
    assert_eq!(
        nodes_used,
        [node_a, node_b].into(),
        "the scheduler spreads the VMs over both nodes"
    );

    // Apply again: nothing to do.
    let current = [CurrentDeployment {
        id: deployment,
        spec: spec.clone(),
    }];
    assert!(blueprint::plan(&spec, &current).unwrap().is_empty());

    // A new size for db: only db is replaced.
    let resized =
        blueprint::parse(&BLUEPRINT.replace("memory_mib: 128", "memory_mib: 256")).unwrap();
    let diff = blueprint::plan(&resized, &current).unwrap();
    assert_eq!(diff.changes.len(), 1, "{:?}", diff.changes);
    let before = cluster.events.lock().unwrap().len();
    cluster
        .compute(
            |_| ComputeAction::UpdateDeployment {
                owner: alice,
                deployment,
                spec: resized.clone(),
            },
            Some(&alice_key),
            None,
            None,
        )
        .await;
    cluster
        .wait_for("the update", Duration::from_secs(30), |events| {
            events[before..]
                .iter()
                .any(|e| matches!(e, ComputeEvent::DeploymentUpdated { .. }))
        })
        .await;
    {
        let events = cluster.events.lock().unwrap();
        let touched: Vec<String> = events[before..]
            .iter()
            .filter_map(|event| match event {
                ComputeEvent::WorkloadPlaced { spec, .. } => Some(spec.name.to_string()),
                ComputeEvent::WorkloadRemoved { workload, .. } => Some(workload.to_string()),
                _ => None,
            })
            .collect();
        assert!(touched.iter().all(|name| name == "db"), "{touched:?}");
        assert!(!touched.is_empty());
    }
    cluster
        .wait_for("db running again", Duration::from_secs(30), |events| {
            let after = &events[before..];
            after.iter().any(|e| matches!(e, ComputeEvent::WorkloadStateReported { workload, state: WorkloadState::Running, .. } if workload.as_str() == "db"))
                && all_running_where_placed(events, deployment, 3)
        })
        .await;

    // Kill agent A: once node A is silent, agent B heals it and runs A's VMs.
    let on_a: Vec<Name> = placements(&cluster.events.lock().unwrap(), deployment)
        .into_iter()
        .filter(|(_, node)| *node == node_a)
        .map(|(name, _)| name)
        .collect();
    assert!(!on_a.is_empty());
    stop_a.cancel();
    agent_a.await.unwrap().unwrap();
    let killed = Instant::now();
    cluster
        .wait_for("A's VMs rescheduled and running on B", Duration::from_secs(90), |events| {
            let rescheduled = events.iter().filter(|e| matches!(e, ComputeEvent::WorkloadPlaced { node, reason: PlacementReason::Rescheduled { from, .. }, .. } if *node == node_b && *from == node_a)).count();
            rescheduled == on_a.len() && all_running_where_placed(events, deployment, 3)
        })
        .await;

    for event in cluster.events.lock().unwrap().iter() {
        if let ComputeEvent::WorkloadPlaced {
            spec,
            node,
            reason: reason @ PlacementReason::Rescheduled { .. },
            ..
        } = event
        {
            println!(
                "{} rescheduled onto {}: {reason:?}",
                spec.name,
                node.short()
            );
        }
    }
    println!(
        "agent A killed; its {} VM(s) ran on node B {:?} later",
        on_a.len(),
        killed.elapsed()
    );

    // Destroy: every VM deleted, the capacity free, B runs nothing.
    let diff = blueprint::plan_destroy(
        &spec.name,
        &[CurrentDeployment {
            id: deployment,
            spec: resized,
        }],
    )
    .unwrap();
    assert!(matches!(diff.action, Action::Cancel { .. }));
    cluster
        .compute(
            |_| ComputeAction::CancelDeployment {
                owner: alice,
                deployment,
            },
            Some(&alice_key),
            None,
            None,
        )
        .await;
    cluster
        .wait_for("every VM deleted", Duration::from_secs(30), |events| {
            placements(events, deployment).is_empty()
                && reported(events, deployment)
                    .values()
                    .all(|(_, state)| *state == WorkloadState::Deleted)
        })
        .await;
    assert_eq!(
        workload_processes(deployment),
        0,
        "no workload process is left"
    );
    // Every coin of the deposit went to the hosting nodes' farmer or back
    // to Alice: bills (and the cancel's last one) paid the nodes, the
    // rest was refunded.
    cluster
        .wait_for("the refund", Duration::from_secs(30), |events| {
            events.iter().any(
                |e| matches!(e, ComputeEvent::DeploymentRefunded { deployment: d, .. } if *d == deployment),
            )
        })
        .await;
    {
        let events = cluster.events.lock().unwrap();
        let mut billed = 0u128;
        let mut paid = 0u128;
        let mut refunded = 0u128;
        for event in events.iter() {
            match event {
                ComputeEvent::DeploymentBilled {
                    deployment: d,
                    amount,
                    ..
                } if *d == deployment => billed += amount.0,
                ComputeEvent::FarmerPaid {
                    deployment: d,
                    amount,
                    ..
                } if *d == deployment => paid += amount.0,
                ComputeEvent::DeploymentRefunded {
                    deployment: d,
                    amount,
                    address,
                    ..
                } if *d == deployment => {
                    assert_eq!(*address, Address::for_public_key(&alice_key.public_key()));
                    refunded += amount.0;
                }
                _ => {}
            }
        }
        assert!(billed > 0, "the deployment was billed");
        assert_eq!(paid, billed, "the farmer got every drawn coin");
        assert_eq!(billed + refunded, 500 * 1_000_000_000, "nothing lost");
    }

    stop_b.cancel();
    agent_b.await.unwrap().unwrap();
    cluster.shutdown.cancel();
    cluster.devnet.shutdown().await.unwrap();
}

/// Registers `farmer` with one node (key `node_key`, 4 cores, 1 GiB,
/// 20 GiB) and waits for the registration.
async fn register_node(
    cluster: &mut Cluster,
    farmer: IdentityId,
    farmer_key: &SecretKey,
    node_key: &SecretKey,
) {
    let public = node_key.public_key();
    cluster
        .compute(
            |_| ComputeAction::RegisterNode {
                owner: farmer,
                node_key: public,
                farm: Name::new("farm-a").unwrap(),
                location: Location::new("be", "ghent").unwrap(),
                capacity: Resources::new(4, 1024, 20),
                payout: Condition::for_public_key(&farmer_key.public_key()),
            },
            Some(farmer_key),
            Some(node_key),
            None,
        )
        .await;
    let node = NodeId::for_key(&public);
    cluster
        .wait_for("the node registered", Duration::from_secs(30), |events| {
            events
                .iter()
                .any(|e| matches!(e, ComputeEvent::NodeRegistered { node: n, .. } if *n == node))
        })
        .await;
}

/// Processes whose environment names `deployment` (its workloads).
fn workload_processes(deployment: DeploymentId) -> usize {
    workload_pids(deployment).len()
}

/// The PIDs of the processes whose environment names `deployment` (a
/// zombie's environment reads empty, so only live ones).
fn workload_pids(deployment: DeploymentId) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let pid = entry.file_name().to_str()?.parse().ok()?;
            let environ = std::fs::read_to_string(entry.path().join("environ")).ok()?;
            environ
                .contains(&format!("BSC_DEPLOYMENT={deployment}"))
                .then_some(pid)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deployment_out_of_funds_is_stopped_after_its_grace_period() {
    // Short billing on this devnet: a bill every 3 blocks, 5 blocks of grace.
    let compute = chain::domains::compute::ComputeParams {
        grace_blocks: 5,
        bill_interval_blocks: 3,
        ..chain::domains::compute::ComputeParams::default()
    };
    let mut cluster = Cluster::start_with(testkit::DevnetOptions {
        compute: Some(compute),
        ..testkit::DevnetOptions::default()
    })
    .await;
    assert_eq!(cluster.devnet.config.compute, compute);
    let node_key = key(0xc0);
    let (alice, alice_key) = cluster.one_node(&node_key).await;
    let dir = tempfile::tempdir().unwrap();
    let (stop, agent) = cluster.start_agent(&node_key, dir.path());

    // One small VM with a deposit for 8 blocks: two full bills, then a
    // short one that starts the grace period.
    let spec = blueprint::parse(
        "name: brief\nvms:\n  - name: web\n    cores: 1\n    memory_mib: 64\n    disk_gib: 1\n    image: alpine\n",
    )
    .unwrap();
    let price = compute.price_per_block(&spec).unwrap();
    let deposit = Currency(price.0 * 8);
    let deployment = cluster
        .create_deployment(alice, &alice_key, spec, deposit)
        .await;
    cluster.wait_running(deployment, 1).await;
    assert_eq!(workload_processes(deployment), 1, "the VM's process runs");

    cluster
        .wait_for(
            "the deployment canceled out of funds",
            Duration::from_secs(60),
            |events| {
                events.iter().any(|e| {
                    matches!(e, ComputeEvent::DeploymentCanceled { deployment: d, cause: chain::domains::compute::CancelCause::OutOfFunds } if *d == deployment)
                })
            },
        )
        .await;
    // The chain's story: bills while funded, grace, then the cancel.
    let (bills, grace_at) = {
        let events = cluster.events.lock().unwrap();
        let bills: Vec<(u64, u64, u128, u128)> = events
            .iter()
            .filter_map(|event| match event {
                ComputeEvent::DeploymentBilled {
                    deployment: d,
                    amount,
                    from,
                    to,
                    balance,
                } if *d == deployment => Some((from.0, to.0, amount.0, balance.0)),
                _ => None,
            })
            .collect();
        let grace_at = events.iter().find_map(|event| match event {
            ComputeEvent::GraceStarted { deployment: d, at } if *d == deployment => Some(at.0),
            _ => None,
        });
        (bills, grace_at)
    };
    assert!(bills.len() >= 2, "billed more than once: {bills:?}");
    let drawn: u128 = bills.iter().map(|(_, _, amount, _)| amount).sum();
    assert_eq!(drawn, deposit.0, "the whole deposit was drawn: {bills:?}");
    for (from, to, amount, _) in &bills {
        assert_eq!(*amount, price.0 * u128::from(to - from), "{bills:?}");
    }
    assert_eq!(bills.last().unwrap().3, 0, "nothing left: {bills:?}");
    let grace_at = grace_at.expect("a grace period started");

    // The agent stops the VM and reports it deleted.
    cluster
        .wait_for(
            "the VM reported deleted",
            Duration::from_secs(30),
            |events| {
                placements(events, deployment).is_empty()
                    && reported(events, deployment)
                        .values()
                        .all(|(_, state)| *state == WorkloadState::Deleted)
            },
        )
        .await;
    assert_eq!(
        workload_processes(deployment),
        0,
        "no workload process is left"
    );

    // The read model: canceled out of funds, with the billing history.
    let query = "query($id: String!) { deployment(id: $id) { status cancelCause canceledHeight
        graceSince balance billing { height kind amount fromHeight toHeight balance }
        workloads { name desiredState reportedState } } }";
    let deadline = Instant::now() + Duration::from_secs(30);
    let found = loop {
        let data = cluster
            .devnet
            .query(query, serde_json::json!({ "id": deployment.to_string() }))
            .await
            .unwrap();
        let found = data["deployment"].clone();
        if found["status"] == "canceled" && found["workloads"][0]["reportedState"] == "deleted" {
            break found;
        }
        assert!(Instant::now() < deadline, "read model: {found}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    println!("read model: {found:#}");
    assert_eq!(found["cancelCause"], "out_of_funds");
    assert_eq!(found["graceSince"], grace_at);
    let canceled = found["canceledHeight"].as_u64().unwrap();
    assert!(
        canceled >= grace_at + compute.grace_blocks,
        "canceled at {canceled}, grace from {grace_at}"
    );
    let kinds: Vec<&str> = found["billing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["kind"].as_str().unwrap())
        .collect();
    // Each bill pays the one node its share: the whole amount drawn.
    let mut expected = vec!["deposit"];
    for _ in &bills {
        expected.extend(["billed", "paid"]);
    }
    expected.extend(["grace_started", "out_of_funds"]);
    assert_eq!(kinds, expected);
    let paid: Vec<&str> = found["billing"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|row| row["kind"] == "paid")
        .map(|row| row["amount"].as_str().unwrap())
        .collect();
    let precision = cluster.devnet.config.params.coin_precision;
    let billed: Vec<String> = bills
        .iter()
        .map(|(_, _, amount, _)| Currency(*amount).display_decimal(precision).to_string())
        .collect();
    assert_eq!(paid, billed, "the farmer is paid every bill");

    // The farmer's address holds the whole deposit, as coin outputs the
    // compute domain created (the explorer model shows them).
    let farmer_address = Address::for_public_key(&key(FARMER_SEED).public_key())
        .to_text(&cluster.devnet.config.params.address_prefix)
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let wallet = loop {
        let data = cluster
            .devnet
            .query(
                "query($a: String!) { address(address: $a) { balance { spendable }
                    unspentOutputs(currency: COIN) { edges { node { origin value } } } } }",
                serde_json::json!({ "a": farmer_address }),
            )
            .await
            .unwrap();
        let found = data["address"].clone();
        let outputs = found["unspentOutputs"]["edges"]
            .as_array()
            .map_or(0, Vec::len);
        if outputs == bills.len() {
            break found;
        }
        assert!(Instant::now() < deadline, "farmer's address: {found}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(
        wallet["balance"]["spendable"],
        deposit.display_decimal(precision).to_string(),
        "{wallet}"
    );
    for edge in wallet["unspentOutputs"]["edges"].as_array().unwrap() {
        assert_eq!(edge["node"]["origin"], "compute", "{wallet}");
    }
    assert_eq!(found["workloads"][0]["desiredState"], "deleted");
    println!(
        "bills {bills:?}; grace from height {grace_at}; canceled at {canceled} (grace {} blocks)",
        compute.grace_blocks
    );

    stop.cancel();
    agent.await.unwrap().unwrap();
    cluster.shutdown.cancel();
    cluster.devnet.shutdown().await.unwrap();
}

/// The `node-agent` binary on `cluster`'s devnet, killed on drop.
struct AgentProcess {
    child: std::process::Child,
    metrics: std::net::SocketAddr,
}

impl AgentProcess {
    fn start(cluster: &Cluster, directory: &std::path::Path, listen: std::net::SocketAddr) -> Self {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(directory.join("node-agent.log"))
            .unwrap();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_node-agent"))
            .arg("--node-key-file")
            .arg(directory.join("node.key"))
            .args(["--network", &cluster.devnet.network])
            .arg("--network-config")
            .arg(directory.join("network.toml"))
            .args([
                "run",
                "--driver",
                "process",
                "--tick-ms",
                "200",
                "--report-secs",
                "3",
            ])
            .arg("--work-dir")
            .arg(directory.join("work"))
            .args(["--listen", &listen.to_string()])
            .args(["--nats-url", &devenv::Settings::load().unwrap().nats_url])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        AgentProcess {
            child,
            metrics: listen,
        }
    }

    /// SIGTERM, as `systemctl restart` sends, and wait for the exit.
    fn terminate(mut self) {
        signal(self.child.id(), "-TERM");
        let status = self.child.wait().unwrap();
        assert!(status.success(), "node-agent exited with {status}");
    }

    /// The value of a metric without labels, once the agent serves it.
    async fn metric(&self, name: &str) -> Option<f64> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(self.metrics).await.ok()?;
        stream
            .write_all(b"GET /metrics HTTP/1.0\r\nHost: agent\r\n\r\n")
            .await
            .ok()?;
        let mut text = String::new();
        stream.read_to_string(&mut text).await.ok()?;
        text.lines()
            .find_map(|line| line.strip_prefix(&format!("{name} ")))
            .and_then(|value| value.trim().parse().ok())
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn signal(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill {signal} {pid}");
}

/// The one live workload process of `deployment`, waiting for it.
async fn the_workload_pid(deployment: DeploymentId, other_than: Option<u32>) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let pids = workload_pids(deployment);
        if let [pid] = pids[..]
            && Some(pid) != other_than
        {
            return pid;
        }
        assert!(Instant::now() < deadline, "workload processes: {pids:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The reported states of `deployment`'s workload events from `from` on.
fn reported_since(events: &[ComputeEvent], from: usize, deployment: DeploymentId) -> Vec<String> {
    events[from..]
        .iter()
        .filter_map(|event| match event {
            ComputeEvent::WorkloadStateReported {
                deployment: d,
                state,
                ..
            } if *d == deployment => Some(state.to_string()),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restarted_agent_process_adopts_its_running_workload() {
    let mut cluster = Cluster::start().await;
    let node_key = key(0xd0);
    let (alice, alice_key) = cluster.one_node(&node_key).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("node.key"), hex::encode([0xd0u8; 32])).unwrap();
    let network =
        testkit::devnet_config_text(&cluster.devnet.network, &testkit::DevnetOptions::default())
            .unwrap();
    std::fs::write(dir.path().join("network.toml"), network).unwrap();
    // A process of its own: a port below the ephemeral range.
    let listen = std::net::SocketAddr::from(([127, 0, 0, 1], devenv::free_test_port().unwrap()));
    let agent = AgentProcess::start(&cluster, dir.path(), listen);

    // One VM with one core.
    let spec = blueprint::parse(
        "name: kept\nvms:\n  - name: web\n    cores: 1\n    memory_mib: 64\n    disk_gib: 1\n    image: alpine\n",
    )
    .unwrap();
    let deployment = cluster
        .create_deployment(alice, &alice_key, spec, Currency(500 * 1_000_000_000))
        .await;
    cluster.wait_running(deployment, 1).await;
    let pid = the_workload_pid(deployment, None).await;
    let cpus = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let allowed = cpus
        .lines()
        .find_map(|line| line.strip_prefix("Cpus_allowed_list:"))
        .unwrap()
        .trim()
        .to_owned();
    assert!(
        allowed.parse::<usize>().is_ok(),
        "a one-core workload runs on exactly one CPU, not {allowed}"
    );

    // Restart the agent: the process keeps running and is adopted.
    let before = cluster.events.lock().unwrap().len();
    agent.terminate();
    assert_eq!(
        workload_pids(deployment),
        [pid],
        "the agent's exit left it running"
    );
    let restarted = Instant::now();
    let agent = AgentProcess::start(&cluster, dir.path(), listen);
    let deadline = Instant::now() + Duration::from_secs(30);
    while agent.metric("node_agent_adopted_workloads").await != Some(1.0) {
        assert!(Instant::now() < deadline, "the agent did not adopt the VM");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "agent restarted; adopted 1 workload after {:?}",
        restarted.elapsed()
    );
    // Its periodic report (every 3 s) restates the state: still running.
    cluster
        .wait_for(
            "a report after the restart",
            Duration::from_secs(20),
            |events| !reported_since(events, before, deployment).is_empty(),
        )
        .await;
    assert_eq!(workload_pids(deployment), [pid], "the same process runs");
    let states = reported_since(&cluster.events.lock().unwrap(), before, deployment);
    assert!(
        states.iter().all(|state| state == "running"),
        "the chain saw only running after the restart: {states:?}"
    );
    // The read model's history: started once, never stopped.
    let query = "query($id: String!) { deployment(id: $id) { workloads { reportedState history { kind state } } } }";
    let deadline = Instant::now() + Duration::from_secs(30);
    let workload = loop {
        let data = cluster
            .devnet
            .query(query, serde_json::json!({ "id": deployment.to_string() }))
            .await
            .unwrap();
        let workload = data["deployment"]["workloads"][0].clone();
        if workload["reportedState"] == "running" {
            break workload;
        }
        assert!(Instant::now() < deadline, "read model: {workload}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let reports: Vec<&str> = workload["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|row| row["kind"] == "reported")
        .map(|row| row["state"].as_str().unwrap())
        .collect();
    println!("read model history of the reports: {reports:?}");
    assert_eq!(
        reports.iter().filter(|state| **state != "running").count(),
        reports
            .iter()
            .position(|state| *state == "running")
            .unwrap(),
        "nothing but running once it ran: {reports:?}"
    );

    // Killed while the agent is down: started again when it comes back.
    agent.terminate();
    signal(pid, "-KILL");
    let before = cluster.events.lock().unwrap().len();
    let agent = AgentProcess::start(&cluster, dir.path(), listen);
    let new_pid = the_workload_pid(deployment, Some(pid)).await;
    cluster
        .wait_for("the VM running again", Duration::from_secs(30), |events| {
            reported_since(events, before, deployment)
                .last()
                .is_some_and(|state| state == "running")
        })
        .await;
    assert_eq!(
        agent.metric("node_agent_adopted_workloads").await,
        Some(0.0)
    );
    println!("killed while the agent was down: pid {pid} replaced by {new_pid}");

    // Stopping the agent and its workloads leaves nothing behind.
    agent.terminate();
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_node-agent"))
        .arg("stop-workloads")
        .arg("--work-dir")
        .arg(dir.path().join("work"))
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(
        workload_processes(deployment),
        0,
        "no workload process is left"
    );
    cluster.shutdown.cancel();
    cluster.devnet.shutdown().await.unwrap();
}
