//! The agent's run loop: follow the ledger stream into a [`NodeView`],
//! reconcile the node's workloads every tick, and submit what the chain
//! should learn — a report (uptime, power, changed workload states) when
//! states change or the report interval passes, a `Heal` for another
//! node that has gone silent while hosting workloads, and a `Bill` for the
//! deployments this node bills (every `bill_interval_blocks`, and once the
//! grace period of an unpaid one is over, which stops it).
//!
//! Every transaction is paid by the node key from outputs the view saw;
//! an output spent by a submitted transaction is not used again until the
//! stream shows it spent or a minute passes.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer};
use chain::domains::compute::ComputeParams;
use chain::stream::{self, BlockMessage};
use futures::StreamExt;
use ledger::payload::compute::{
    ComputeAction, DeploymentId, NodeId, Power, WorkloadReport, WorkloadState,
};
use ledger::{BlockHeight, CoinOutputId, NetworkParams, SecretKey, Transaction};
use service::{Health, Metrics, Observable};
use tokio_util::sync::CancellationToken;

use crate::driver::WorkloadKey;
use crate::reconcile::Reconciler;
use crate::report;
use crate::view::NodeView;

/// How the agent runs.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub network: String,
    pub params: NetworkParams,
    pub nats_url: String,
    /// Reconcile (and poll workloads) this often.
    pub tick: Duration,
    /// Report at least this often, changed or not (uptime).
    pub report_interval: Duration,
    /// The network's compute constants: heal another node once it has
    /// been silent `silent_after_blocks`; bill hosted deployments every
    /// `bill_interval_blocks` and after `grace_blocks` of grace.
    pub compute: ComputeParams,
}

/// What `/healthz` and `/metrics` show.
#[derive(Debug, Default)]
pub struct AgentStatus {
    view: Mutex<StatusView>,
    pub reports_accepted: AtomicU64,
    pub reports_refused: AtomicU64,
    pub heals_submitted: AtomicU64,
    pub bills_submitted: AtomicU64,
    pub restarts: AtomicU64,
    /// Workloads adopted from the agent's previous run.
    pub adopted: AtomicU64,
    /// Agent state files that were not records (ignored and deleted).
    pub state_errors: AtomicU64,
    /// The follower has folded every block the stream held when it
    /// subscribed: the view is complete, so workloads may be reconciled.
    pub caught_up: AtomicBool,
}

#[derive(Debug, Default, Clone)]
struct StatusView {
    registered: bool,
    height: Option<u64>,
    connected: bool,
    funds: usize,
    states: BTreeMap<String, u64>,
    driver: &'static str,
}

impl Observable for AgentStatus {
    fn health(&self) -> Health {
        let view = self
            .view
            .lock()
            .map(|view| view.clone())
            .unwrap_or_default();
        if !view.connected {
            Health::Degraded("not following the ledger stream".into())
        } else if !self.caught_up.load(Ordering::Relaxed) {
            Health::Degraded("catching up with the ledger stream".into())
        } else if !view.registered {
            Health::Degraded("the node is not registered on chain".into())
        } else if view.funds == 0 {
            Health::Degraded("the node key has no coins to pay report fees".into())
        } else {
            Health::Ok
        }
    }

    fn metrics(&self) -> String {
        let view = self
            .view
            .lock()
            .map(|view| view.clone())
            .unwrap_or_default();
        let mut metrics = Metrics::new();
        metrics
            .family(
                "node_agent_height",
                "gauge",
                "Height of the last folded block.",
            )
            .sample(
                "node_agent_height",
                &[],
                view.height.unwrap_or_default() as f64,
            );
        metrics.family(
            "node_agent_workloads",
            "gauge",
            "Workloads managed on this node, by state.",
        );
        for (state, count) in &view.states {
            metrics.sample(
                "node_agent_workloads",
                &[("state", state), ("driver", view.driver)],
                *count as f64,
            );
        }
        for (name, help, value) in [
            (
                "node_agent_reports_accepted_total",
                "Reports the node accepted.",
                &self.reports_accepted,
            ),
            (
                "node_agent_reports_refused_total",
                "Reports refused or not submitted.",
                &self.reports_refused,
            ),
            (
                "node_agent_heals_submitted_total",
                "Heal transactions submitted for silent nodes.",
                &self.heals_submitted,
            ),
            (
                "node_agent_bills_submitted_total",
                "Bill transactions submitted for deployments this node bills.",
                &self.bills_submitted,
            ),
            (
                "node_agent_restarts_total",
                "Workload restarts after crashes or failed starts.",
                &self.restarts,
            ),
            (
                "node_agent_state_errors_total",
                "Agent state files ignored (corrupt or of another version).",
                &self.state_errors,
            ),
        ] {
            metrics.family(name, "counter", help).sample(
                name,
                &[],
                value.load(Ordering::Relaxed) as f64,
            );
        }
        metrics
            .family(
                "node_agent_adopted_workloads",
                "gauge",
                "Workloads this run adopted still running from the agent's previous run.",
            )
            .sample(
                "node_agent_adopted_workloads",
                &[],
                self.adopted.load(Ordering::Relaxed) as f64,
            );
        metrics.finish()
    }
}

/// Runs until `shutdown`: then leaves the workloads running for the next
/// agent to adopt (a reconciler with a state store) or stops them, and
/// returns. Workloads are reconciled only once the follower has caught up
/// with the stream, so a restarted agent compares what runs with the
/// complete assignment, not a prefix of it.
pub async fn run(
    config: AgentConfig,
    key: SecretKey,
    mut reconciler: Reconciler,
    status: Arc<AgentStatus>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let node = NodeId::for_key(&key.public_key());
    let address = ledger::Condition::for_public_key(&key.public_key()).address();
    let view = Arc::new(Mutex::new(NodeView::new(node, address)));
    let client = async_nats::connect(&config.nats_url).await?;
    tracing::info!(%node, network = %config.network, driver = reconciler.driver_kind(), "node agent started");
    let follower = tokio::spawn(follow(
        client.clone(),
        config.network.clone(),
        view.clone(),
        status.clone(),
        shutdown.clone(),
    ));
    let started = Instant::now();
    let mut sequence = started_sequence();
    let mut pending_states: BTreeMap<WorkloadKey, WorkloadState> = BTreeMap::new();
    let mut spent: BTreeMap<CoinOutputId, Instant> = BTreeMap::new();
    let mut last_report: Option<Instant> = None;
    let mut healed: BTreeMap<NodeId, BlockHeight> = BTreeMap::new();
    let mut billed: BTreeMap<DeploymentId, BlockHeight> = BTreeMap::new();
    let mut ticker = tokio::time::interval(config.tick);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = ticker.tick() => {}
        }
        let (desired, registered, coins, height, silent, bills) = {
            let view = view
                .lock()
                .map_err(|_| anyhow::anyhow!("view lock poisoned"))?;
            let height = view.height();
            let silent = height
                .map(|h| view.silent_nodes(h, config.compute.silent_after_blocks))
                .unwrap_or_default();
            let bills = height
                .map(|h| {
                    view.bills_due(
                        h,
                        config.compute.bill_interval_blocks,
                        config.compute.grace_blocks,
                        config.compute.silent_after_blocks,
                    )
                })
                .unwrap_or_default();
            (
                view.desired().clone(),
                view.registered(),
                view.coins().clone(),
                height,
                silent,
                bills,
            )
        };
        status
            .state_errors
            .store(reconciler.state_errors(), Ordering::Relaxed);
        if !status.caught_up.load(Ordering::Relaxed) {
            update_status(&status, &reconciler, registered, &coins, height);
            continue;
        }
        for change in reconciler.reconcile(&desired, Instant::now()) {
            tracing::info!(workload = %change.key, state = %change.state, "workload state");
            pending_states.insert(change.key, change.state);
        }
        status
            .restarts
            .store(reconciler.restarts(), Ordering::Relaxed);
        status
            .adopted
            .store(reconciler.adopted(), Ordering::Relaxed);
        update_status(&status, &reconciler, registered, &coins, height);
        spent.retain(|id, at| coins.contains_key(id) && at.elapsed() < Duration::from_secs(60));
        if !registered {
            continue;
        }
        let mut spendable = coins
            .iter()
            .filter(|(id, _)| !spent.contains_key(*id))
            .map(|(id, value)| (*id, *value));
        let report_due = last_report.is_none_or(|at| at.elapsed() >= config.report_interval);
        if report_due {
            // Periodic reports restate everything, so a lost one heals.
            for (key, state) in reconciler.states() {
                pending_states.entry(key).or_insert(state);
            }
        }
        if (!pending_states.is_empty() || report_due)
            && let Some(input) = spendable.next()
        {
            sequence += 1;
            let workloads: Vec<WorkloadReport> = pending_states
                .iter()
                .map(|(key, state)| WorkloadReport {
                    deployment: key.deployment,
                    workload: key.name.clone(),
                    state: state.clone(),
                })
                .collect();
            let action = ComputeAction::Report {
                node,
                sequence,
                uptime_seconds: started.elapsed().as_secs(),
                power: Power::Up,
                workloads,
            };
            match build_and_submit(&client, &config, action, true, &key, input).await {
                Ok(()) => {
                    status.reports_accepted.fetch_add(1, Ordering::Relaxed);
                    spent.insert(input.0, Instant::now());
                    pending_states.clear();
                    last_report = Some(Instant::now());
                }
                Err(error) => {
                    status.reports_refused.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%error, "report not accepted; retrying next tick");
                }
            }
        }
        if let Some(height) = height {
            // Each at most once per window: a heal per silence limit, a
            // bill per 3 blocks (it lands in a block or two; then the view
            // shows it).
            let mut chores: Vec<(ComputeAction, &AtomicU64)> = Vec::new();
            for node in silent {
                let silent_after = config.compute.silent_after_blocks;
                if healed
                    .get(&node)
                    .is_none_or(|at| height.0.saturating_sub(at.0) >= silent_after)
                {
                    healed.insert(node, height);
                    chores.push((ComputeAction::Heal { node }, &status.heals_submitted));
                }
            }
            for deployment in bills {
                if billed
                    .get(&deployment)
                    .is_none_or(|at| height.0.saturating_sub(at.0) >= 3)
                {
                    billed.insert(deployment, height);
                    chores.push((ComputeAction::Bill { deployment }, &status.bills_submitted));
                }
            }
            for (action, counter) in chores {
                let Some(input) = coins
                    .iter()
                    .find(|(id, _)| !spent.contains_key(*id))
                    .map(|(id, value)| (*id, *value))
                else {
                    break;
                };
                let what = format!("{action:?}");
                match build_and_submit(&client, &config, action, false, &key, input).await {
                    Ok(()) => {
                        spent.insert(input.0, Instant::now());
                        counter.fetch_add(1, Ordering::Relaxed);
                        tracing::info!(action = %what, "submitted");
                    }
                    Err(error) => tracing::info!(action = %what, %error, "not accepted"),
                }
            }
        }
    }
    let (left, stopped) = reconciler.shutdown();
    for change in stopped {
        tracing::info!(workload = %change.key, "workload stopped for shutdown");
    }
    if left > 0 {
        tracing::info!(
            workloads = left,
            "workloads left running for the next agent to adopt"
        );
    }
    follower.abort();
    tracing::info!("node agent stopped");
    Ok(())
}

/// Reports continue the sequence across restarts: seconds since the epoch
/// times 1000 is larger than any sequence an earlier run reached unless it
/// sent more than 1000 reports a second.
fn started_sequence() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs().saturating_mul(1000))
        .unwrap_or_default()
}

fn update_status(
    status: &AgentStatus,
    reconciler: &Reconciler,
    registered: bool,
    coins: &BTreeMap<CoinOutputId, ledger::Currency>,
    height: Option<BlockHeight>,
) {
    let mut states: BTreeMap<String, u64> = BTreeMap::new();
    for state in reconciler.states().values() {
        *states.entry(state.name().to_owned()).or_default() += 1;
    }
    if let Ok(mut view) = status.view.lock() {
        view.registered = registered;
        view.funds = coins.len();
        view.height = height.map(|h| h.0);
        view.states = states;
        view.driver = reconciler.driver_kind();
    }
}

async fn build_and_submit(
    client: &async_nats::Client,
    config: &AgentConfig,
    action: ComputeAction,
    signs: bool,
    key: &SecretKey,
    input: (CoinOutputId, ledger::Currency),
) -> anyhow::Result<()> {
    let transaction: Transaction = report::build(action, signs, key, input, &config.params)?;
    report::submit(client, &config.network, &transaction).await
}

/// Folds the whole ledger stream (from its first message) into the view,
/// re-subscribing after errors until `shutdown`.
pub async fn follow(
    client: async_nats::Client,
    network: String,
    view: Arc<Mutex<NodeView>>,
    status: Arc<AgentStatus>,
    shutdown: CancellationToken,
) {
    let mut next_sequence = 1u64;
    while !shutdown.is_cancelled() {
        let result = follow_once(&client, &network, &view, &status, &mut next_sequence).await;
        if let Ok(mut status) = status.view.lock() {
            status.connected = false;
        }
        if let Err(error) = result {
            tracing::warn!(%error, "ledger stream interrupted; resubscribing");
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

async fn follow_once(
    client: &async_nats::Client,
    network: &str,
    view: &Mutex<NodeView>,
    status: &AgentStatus,
    next_sequence: &mut u64,
) -> anyhow::Result<()> {
    let jetstream = jetstream::new(client.clone());
    let ledger_stream = jetstream.get_stream(stream::stream_name(network)).await?;
    let consumer = ledger_stream
        .create_consumer(consumer::pull::Config {
            filter_subject: stream::block_subjects(network),
            deliver_policy: consumer::DeliverPolicy::ByStartSequence {
                start_sequence: *next_sequence,
            },
            ack_policy: consumer::AckPolicy::None,
            inactive_threshold: Duration::from_secs(60),
            ..Default::default()
        })
        .await?;
    if consumer.cached_info().num_pending == 0 {
        status.caught_up.store(true, Ordering::Relaxed);
    }
    let mut messages = consumer.messages().await?;
    if let Ok(mut status) = status.view.lock() {
        status.connected = true;
    }
    while let Some(message) = messages.next().await {
        let message = message?;
        let (stream_sequence, pending) = message
            .info()
            .map(|info| (Some(info.stream_sequence), info.pending))
            .unwrap_or((None, 1));
        match BlockMessage::decode(&message.payload) {
            Ok(block) => {
                let mut view = view
                    .lock()
                    .map_err(|_| anyhow::anyhow!("view lock poisoned"))?;
                view.fold(&block);
            }
            Err(error) => tracing::warn!(%error, "undecodable ledger message; skipped"),
        }
        if let Some(sequence) = stream_sequence {
            *next_sequence = sequence + 1;
        }
        if pending == 0 && !status.caught_up.swap(true, Ordering::Relaxed) {
            tracing::info!(
                next_sequence = *next_sequence,
                "caught up with the ledger stream"
            );
        }
    }
    Ok(())
}
