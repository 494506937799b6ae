//! The reconciler: makes what runs on this node match what the chain wants.
//!
//! Each call to [`Reconciler::reconcile`] compares the desired workloads
//! with the managed ones and, through the driver:
//!
//! * starts workloads that are desired but not managed;
//! * replaces (stops, then starts with the new spec) workloads whose spec
//!   changed — and only those;
//! * stops and forgets workloads no longer desired (state `deleted`);
//! * polls the others: a crashed instance is restarted after a back-off
//!   that doubles from [`RestartPolicy::initial`] up to
//!   [`RestartPolicy::max`] (state `error: … restarting` meanwhile), and a
//!   driver that cannot start a workload is retried the same way.
//!
//! It returns only the state *changes*, which the agent reports on chain.
//! It never blocks for long: a poll is a `try_wait` and a file read.
//!
//! With a [`StateStore`] ([`Reconciler::with_state`]) it records every
//! instance it starts (process identity and spec hash) and, on its first
//! pass, adopts the recorded instances an earlier agent left running:
//! a live process whose workload is still desired with the same spec is
//! managed again without a restart (and without a state change to
//! report); a live one whose spec changed or that is no longer desired is
//! stopped; a dead one is started again. At shutdown it then leaves its
//! instances running for the next agent ([`Reconciler::shutdown`]).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ledger::payload::compute::{WorkloadSpec, WorkloadState};

use crate::driver::{Driver, Instance, InstanceStatus, WorkloadKey};
use crate::state::{StateStore, WorkloadRecord, spec_hash};

/// Back-off between restarts of a crashing workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartPolicy {
    pub initial: Duration,
    pub max: Duration,
}

impl Default for RestartPolicy {
    fn default() -> RestartPolicy {
        RestartPolicy {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
        }
    }
}

impl RestartPolicy {
    /// The wait before restart number `attempt` (1-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 1u32
            .checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.initial.saturating_mul(factor).min(self.max)
    }
}

/// A workload's new state, to report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateChange {
    pub key: WorkloadKey,
    pub state: WorkloadState,
}

struct Managed {
    spec: WorkloadSpec,
    instance: Option<Box<dyn Instance>>,
    state: WorkloadState,
    /// Consecutive failed starts or crashes since the last healthy run.
    failures: u32,
    retry_at: Option<Instant>,
}

/// Owns the instances of one node.
pub struct Reconciler {
    driver: Arc<dyn Driver>,
    policy: RestartPolicy,
    managed: BTreeMap<WorkloadKey, Managed>,
    restarts: u64,
    state: Option<StateStore>,
    /// Records an earlier agent left, for the first pass to adopt.
    adoptable: Option<Vec<WorkloadRecord>>,
    adopted: u64,
    state_errors: u64,
    stop_on_exit: bool,
}

impl Reconciler {
    pub fn new(driver: Arc<dyn Driver>, policy: RestartPolicy) -> Reconciler {
        Reconciler {
            driver,
            policy,
            managed: BTreeMap::new(),
            restarts: 0,
            state: None,
            adoptable: None,
            adopted: 0,
            state_errors: 0,
            stop_on_exit: false,
        }
    }

    /// Records instances in `store` and adopts those it already records
    /// on the first [`Reconciler::reconcile`]. Files that are not records
    /// are logged, counted ([`Reconciler::state_errors`]) and deleted.
    pub fn with_state(mut self, store: StateStore) -> Reconciler {
        let (records, errors) = store.load();
        for error in &errors {
            tracing::warn!(%error, "agent state file ignored (deleted)");
        }
        self.state_errors += errors.len() as u64;
        tracing::info!(
            directory = %store.directory().display(),
            records = records.len(),
            "agent state loaded"
        );
        self.adoptable = Some(records);
        self.state = Some(store);
        self
    }

    /// Stops the instances at [`Reconciler::shutdown`] even with a state
    /// store (the default then is to leave them running).
    pub fn stop_on_exit(mut self) -> Reconciler {
        self.stop_on_exit = true;
        self
    }

    pub fn driver_kind(&self) -> &'static str {
        self.driver.kind()
    }

    /// One pass; returns the state changes it caused or observed.
    pub fn reconcile(
        &mut self,
        desired: &BTreeMap<WorkloadKey, WorkloadSpec>,
        now: Instant,
    ) -> Vec<StateChange> {
        let mut changes = Vec::new();
        self.adopt(desired, &mut changes);
        let gone: Vec<WorkloadKey> = self
            .managed
            .keys()
            .filter(|key| !desired.contains_key(*key))
            .cloned()
            .collect();
        for key in gone {
            if let Some(mut managed) = self.managed.remove(&key) {
                stop(&key, &mut managed);
                self.forget(&key);
                tracing::info!(workload = %key, "workload removed");
                changes.push(StateChange {
                    key,
                    state: WorkloadState::Deleted,
                });
            }
        }
        for (key, spec) in desired {
            let replace = self
                .managed
                .get(key)
                .is_some_and(|managed| managed.spec != *spec);
            if replace && let Some(mut old) = self.managed.remove(key) {
                tracing::info!(workload = %key, "workload spec changed; replacing it");
                stop(key, &mut old);
                self.forget(key);
            }
            let managed = self.managed.entry(key.clone()).or_insert_with(|| Managed {
                spec: spec.clone(),
                instance: None,
                state: WorkloadState::Deploying,
                failures: 0,
                retry_at: None,
            });
            let before = managed.state.clone();
            step(
                &*self.driver,
                &self.policy,
                self.state.as_ref(),
                key,
                managed,
                now,
                &mut self.restarts,
            );
            if managed.state != before {
                changes.push(StateChange {
                    key: key.clone(),
                    state: managed.state.clone(),
                });
            }
        }
        changes
    }

    /// The first pass with a state store: adopts, stops or forgets what
    /// the store records (see the module documentation).
    fn adopt(
        &mut self,
        desired: &BTreeMap<WorkloadKey, WorkloadSpec>,
        changes: &mut Vec<StateChange>,
    ) {
        let Some(records) = self.adoptable.take() else {
            return;
        };
        let kind = self.driver.kind();
        for record in records {
            let key = record.key.clone();
            let wanted = desired.get(&key);
            let same =
                wanted.filter(|spec| record.driver == kind && spec_hash(spec) == record.spec_hash);
            let pid = record.process.pid;
            if !record.process.is_alive() {
                if wanted.is_some() {
                    tracing::info!(workload = %key, pid, "workload ended while the agent was down; starting it again");
                }
            } else if let Some(spec) = same {
                match self.driver.adopt(&key, spec, record.process) {
                    Ok(instance) => {
                        tracing::info!(workload = %key, pid, "workload adopted");
                        self.adopted += 1;
                        self.managed.insert(
                            key,
                            Managed {
                                spec: spec.clone(),
                                instance: Some(instance),
                                state: WorkloadState::Running,
                                failures: 0,
                                retry_at: None,
                            },
                        );
                        continue;
                    }
                    Err(error) => {
                        tracing::warn!(workload = %key, pid, %error, "cannot adopt workload; replacing it");
                        kill_recorded(&record);
                    }
                }
            } else {
                let why = if wanted.is_some() {
                    "its spec or driver changed"
                } else {
                    "it is no longer assigned to this node"
                };
                tracing::info!(workload = %key, pid, reason = why, "stopping a workload left from before the restart");
                kill_recorded(&record);
            }
            if wanted.is_none() {
                // Removed while the agent was down: the chain last heard
                // of it running.
                changes.push(StateChange {
                    key: key.clone(),
                    state: WorkloadState::Deleted,
                });
            }
            self.forget(&key);
        }
    }

    fn forget(&self, key: &WorkloadKey) {
        forget_in(self.state.as_ref(), key);
    }

    /// At agent shutdown: with a state store (and without
    /// [`Reconciler::stop_on_exit`]) leaves every instance running for the
    /// next agent to adopt, otherwise stops them all. Returns how many it
    /// left running and the changes of those it stopped.
    pub fn shutdown(&mut self) -> (usize, Vec<StateChange>) {
        if self.state.is_some() && !self.stop_on_exit {
            let left = self.managed.len();
            for (key, mut managed) in std::mem::take(&mut self.managed) {
                if let Some(instance) = managed.instance.as_mut() {
                    instance.detach();
                    tracing::info!(workload = %key, pid = ?instance.pid(), "workload left running for the next agent");
                }
            }
            (left, Vec::new())
        } else {
            (0, self.stop_all())
        }
    }

    /// Stops every instance (agent shutdown); their state becomes `stopped`.
    pub fn stop_all(&mut self) -> Vec<StateChange> {
        let mut changes = Vec::new();
        let keys: Vec<WorkloadKey> = self.managed.keys().cloned().collect();
        for key in keys {
            self.forget(&key);
        }
        for (key, managed) in &mut self.managed {
            stop(key, managed);
            managed.state = WorkloadState::Stopped;
            changes.push(StateChange {
                key: key.clone(),
                state: WorkloadState::Stopped,
            });
        }
        changes
    }

    /// Every managed workload's current state.
    pub fn states(&self) -> BTreeMap<WorkloadKey, WorkloadState> {
        self.managed
            .iter()
            .map(|(key, managed)| (key.clone(), managed.state.clone()))
            .collect()
    }

    /// The operating-system process of a workload, if it runs.
    pub fn pid(&self, key: &WorkloadKey) -> Option<u32> {
        self.managed
            .get(key)
            .and_then(|managed| managed.instance.as_ref())
            .and_then(|instance| instance.pid())
    }

    /// Restarts after crashes or failed starts, since the agent started.
    pub fn restarts(&self) -> u64 {
        self.restarts
    }

    /// Workloads adopted from an earlier agent.
    pub fn adopted(&self) -> u64 {
        self.adopted
    }

    /// State files that were not records (ignored and deleted).
    pub fn state_errors(&self) -> u64 {
        self.state_errors
    }
}

impl Drop for Reconciler {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Stops a recorded process that is not managed (its identity guards
/// against a reused PID).
fn kill_recorded(record: &WorkloadRecord) {
    if let Err(error) = record.process.kill_and_wait(Duration::from_secs(5)) {
        tracing::warn!(workload = %record.key, pid = record.process.pid, %error, "cannot stop workload");
    }
}

fn remember(state: Option<&StateStore>, driver: &str, key: &WorkloadKey, managed: &Managed) {
    let (Some(store), Some(process)) = (
        state,
        managed
            .instance
            .as_ref()
            .and_then(|instance| instance.identity()),
    ) else {
        return;
    };
    let record = WorkloadRecord {
        key: key.clone(),
        driver: driver.to_owned(),
        spec_hash: spec_hash(&managed.spec),
        process,
    };
    if let Err(error) = store.save(&record) {
        tracing::warn!(workload = %key, %error, "cannot record workload state; it will be restarted after an agent restart");
    }
}

fn forget_in(state: Option<&StateStore>, key: &WorkloadKey) {
    if let Some(store) = state
        && let Err(error) = store.remove(key)
    {
        tracing::warn!(workload = %key, %error, "cannot forget workload state");
    }
}

fn stop(key: &WorkloadKey, managed: &mut Managed) {
    if let Some(mut instance) = managed.instance.take()
        && let Err(error) = instance.stop()
    {
        tracing::warn!(workload = %key, %error, "cannot stop workload");
    }
}

#[allow(clippy::too_many_arguments)] // the reconciler's parts, borrowed apart
fn step(
    driver: &dyn Driver,
    policy: &RestartPolicy,
    state: Option<&StateStore>,
    key: &WorkloadKey,
    managed: &mut Managed,
    now: Instant,
    restarts: &mut u64,
) {
    if let Some(instance) = managed.instance.as_mut() {
        match instance.poll() {
            Ok(InstanceStatus::Starting) => managed.state = WorkloadState::Starting,
            Ok(InstanceStatus::Running) => {
                managed.state = WorkloadState::Running;
                managed.failures = 0;
            }
            Ok(InstanceStatus::Exited(how)) => {
                managed.instance = None;
                forget_in(state, key);
                fail(policy, key, managed, now, &format!("{how}; restarting"));
            }
            Err(error) => {
                stop(key, managed);
                forget_in(state, key);
                fail(policy, key, managed, now, &error.to_string());
            }
        }
        return;
    }
    if managed.retry_at.is_some_and(|at| at > now) {
        return;
    }
    if managed.retry_at.is_some() {
        *restarts += 1;
    }
    managed.retry_at = None;
    match driver.start(key, &managed.spec) {
        Ok(instance) => {
            managed.instance = Some(instance);
            managed.state = WorkloadState::Starting;
            remember(state, driver.kind(), key, managed);
        }
        Err(error) => fail(policy, key, managed, now, &error.to_string()),
    }
}

fn fail(policy: &RestartPolicy, key: &WorkloadKey, managed: &mut Managed, now: Instant, why: &str) {
    managed.failures = managed.failures.saturating_add(1);
    let delay = policy.delay(managed.failures);
    managed.retry_at = Some(now + delay);
    managed.state = WorkloadState::error(why);
    tracing::warn!(workload = %key, reason = why, retry_in = ?delay, "workload failed");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_up_to_the_maximum() {
        let policy = RestartPolicy {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
        };
        assert_eq!(policy.delay(1), Duration::from_millis(100));
        assert_eq!(policy.delay(2), Duration::from_millis(200));
        assert_eq!(policy.delay(4), Duration::from_millis(800));
        assert_eq!(policy.delay(5), Duration::from_secs(1));
        assert_eq!(policy.delay(200), Duration::from_secs(1));
    }
}
