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

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ledger::payload::compute::{WorkloadSpec, WorkloadState};

use crate::driver::{Driver, Instance, InstanceStatus, WorkloadKey};

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
}

impl Reconciler {
    pub fn new(driver: Arc<dyn Driver>, policy: RestartPolicy) -> Reconciler {
        Reconciler {
            driver,
            policy,
            managed: BTreeMap::new(),
            restarts: 0,
        }
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
        let gone: Vec<WorkloadKey> = self
            .managed
            .keys()
            .filter(|key| !desired.contains_key(*key))
            .cloned()
            .collect();
        for key in gone {
            if let Some(mut managed) = self.managed.remove(&key) {
                stop(&key, &mut managed);
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

    /// Stops every instance (agent shutdown); their state becomes `stopped`.
    pub fn stop_all(&mut self) -> Vec<StateChange> {
        let mut changes = Vec::new();
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
}

impl Drop for Reconciler {
    fn drop(&mut self) {
        self.stop_all();
    }
}

fn stop(key: &WorkloadKey, managed: &mut Managed) {
    if let Some(mut instance) = managed.instance.take()
        && let Err(error) = instance.stop()
    {
        tracing::warn!(workload = %key, %error, "cannot stop workload");
    }
}

fn step(
    driver: &dyn Driver,
    policy: &RestartPolicy,
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
                fail(policy, key, managed, now, &format!("{how}; restarting"));
            }
            Err(error) => {
                stop(key, managed);
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
