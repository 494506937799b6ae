//! What the agent asks the host about its workload processes: a process's
//! identity (PID plus start time, so a reused PID is never mistaken for a
//! workload), whether it still runs, stopping one the agent did not start
//! itself (adopted after an agent restart), and which CPUs each workload
//! is pinned to ([`Cpus`]).

use std::collections::BTreeMap;
use std::fs;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sched::{CpuSet, sched_getaffinity};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use crate::driver::WorkloadKey;

/// A process as the kernel knows it: its PID and its start time (clock
/// ticks after boot, field 22 of `/proc/<pid>/stat`). Two processes never
/// share both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessIdentity {
    pub pid: u32,
    pub start_time: u64,
}

/// `/proc/<pid>/stat`: the state letter and the start time.
fn stat(pid: u32) -> Option<(char, u64)> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses; the
    // fields after the last `)` start at field 3 (the state).
    let after = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    let start_time = fields.get(19)?.parse().ok()?;
    Some((state, start_time))
}

impl ProcessIdentity {
    /// The identity of a running process, `None` when it is gone.
    pub fn of(pid: u32) -> Option<ProcessIdentity> {
        let (_, start_time) = stat(pid)?;
        Some(ProcessIdentity { pid, start_time })
    }

    /// Whether this very process still runs (not a zombie, not a new
    /// process that got the PID).
    pub fn is_alive(&self) -> bool {
        matches!(stat(self.pid), Some((state, start)) if start == self.start_time && !matches!(state, 'Z' | 'X' | 'x'))
    }

    /// Kills the process (SIGKILL) and waits up to `limit` for it to be
    /// gone (reaped, or a zombie of whoever started it).
    pub fn kill_and_wait(&self, limit: Duration) -> std::io::Result<()> {
        if !self.is_alive() {
            return Ok(());
        }
        let pid = i32::try_from(self.pid)
            .map_err(|_| std::io::Error::other(format!("pid {} out of range", self.pid)))?;
        match kill(Pid::from_raw(pid), Signal::SIGKILL) {
            Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
            Err(errno) => return Err(std::io::Error::from(errno)),
        }
        let deadline = Instant::now() + limit;
        while self.is_alive() {
            if Instant::now() >= deadline {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("process {} still runs {limit:?} after SIGKILL", self.pid),
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    }
}

/// The CPUs `pid` may run on (this process for `None`), ascending; empty
/// when the kernel does not say.
pub fn allowed_cpus(pid: Option<u32>) -> Vec<usize> {
    let pid = match pid.map(i32::try_from) {
        None => Pid::from_raw(0),
        Some(Ok(pid)) => Pid::from_raw(pid),
        Some(Err(_)) => return Vec::new(),
    };
    let Ok(set) = sched_getaffinity(pid) else {
        return Vec::new();
    };
    (0..CpuSet::count())
        .filter(|cpu| set.is_set(*cpu).unwrap_or(false))
        .collect()
}

/// Which CPUs each workload is pinned to, so that a new workload gets the
/// CPUs the others use least.
#[derive(Debug, Default)]
pub struct CpuPlan {
    cpus: Vec<usize>,
    assigned: BTreeMap<WorkloadKey, Vec<usize>>,
}

impl CpuPlan {
    /// A plan over `cpus` (the CPUs the agent itself may use).
    pub fn new(cpus: Vec<usize>) -> CpuPlan {
        CpuPlan {
            cpus,
            assigned: BTreeMap::new(),
        }
    }

    /// Picks `cores` CPUs for `workload`: those the other workloads use
    /// least, the lowest-numbered first among equals (deterministic). A
    /// workload asking for as many CPUs as there are, or more, gets all.
    pub fn assign(&mut self, workload: &WorkloadKey, cores: u64) -> Vec<usize> {
        self.assigned.remove(workload);
        let wanted = usize::try_from(cores).unwrap_or(usize::MAX).max(1);
        let mut chosen = if wanted >= self.cpus.len() {
            self.cpus.clone()
        } else {
            let mut load: BTreeMap<usize, usize> = self.cpus.iter().map(|cpu| (*cpu, 0)).collect();
            for cpu in self.assigned.values().flatten() {
                if let Some(count) = load.get_mut(cpu) {
                    *count += 1;
                }
            }
            let mut order: Vec<(usize, usize)> =
                load.into_iter().map(|(cpu, count)| (count, cpu)).collect();
            order.sort();
            order.into_iter().take(wanted).map(|(_, cpu)| cpu).collect()
        };
        chosen.sort();
        self.assigned.insert(workload.clone(), chosen.clone());
        chosen
    }

    /// Records the CPUs an adopted workload already runs on.
    pub fn record(&mut self, workload: &WorkloadKey, cpus: Vec<usize>) {
        self.assigned.insert(workload.clone(), cpus);
    }

    /// The workload stopped or ended.
    pub fn release(&mut self, workload: &WorkloadKey) {
        self.assigned.remove(workload);
    }

    /// How many CPUs the plan spreads over.
    pub fn available(&self) -> usize {
        self.cpus.len()
    }
}

/// The CPUs a driver's workloads share: pins each new workload to CPUs by
/// the [`CpuPlan`] over the CPUs the agent itself may use.
#[derive(Debug, Clone)]
pub struct Cpus(Arc<Mutex<CpuPlan>>);

impl Cpus {
    pub fn of_this_process() -> Cpus {
        Cpus(Arc::new(Mutex::new(CpuPlan::new(allowed_cpus(None)))))
    }

    /// Picks CPUs for a workload with `cores` cores (all of them, logged,
    /// when it has more cores than there are CPUs).
    pub fn pin(&self, workload: &WorkloadKey, cores: u32) -> Pin {
        let cpus = match self.0.lock() {
            Ok(mut plan) => {
                if usize::try_from(cores).unwrap_or(usize::MAX) > plan.available() {
                    tracing::warn!(
                        %workload,
                        cores,
                        cpus = plan.available(),
                        "the workload has more cores than the agent has CPUs; it may use them all"
                    );
                }
                plan.assign(workload, u64::from(cores))
            }
            Err(_) => Vec::new(),
        };
        Pin {
            cpus,
            workload: workload.clone(),
            plan: self.clone(),
        }
    }

    /// Records the CPUs an adopted process `pid` runs on.
    pub fn adopt(&self, workload: &WorkloadKey, pid: u32) -> Pin {
        let cpus = allowed_cpus(Some(pid));
        if let Ok(mut plan) = self.0.lock() {
            plan.record(workload, cpus.clone());
        }
        Pin {
            cpus,
            workload: workload.clone(),
            plan: self.clone(),
        }
    }
}

/// The CPUs one workload holds, until [`Pin::release`].
#[derive(Debug)]
pub struct Pin {
    cpus: Vec<usize>,
    workload: WorkloadKey,
    plan: Cpus,
}

impl Pin {
    pub fn cpus(&self) -> &[usize] {
        &self.cpus
    }

    /// `program` started through `taskset --cpu-list` on these CPUs
    /// (`taskset` execs it: same process, pinned before it runs), or
    /// directly when the kernel did not say which CPUs there are.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        if self.cpus.is_empty() {
            return Command::new(program);
        }
        let mut taskset = Command::new("taskset");
        taskset
            .arg("--cpu-list")
            .arg(cpu_list(&self.cpus))
            .arg(program);
        taskset
    }

    /// The workload stopped or ended: its CPUs count no more.
    pub fn release(&self) {
        if let Ok(mut plan) = self.plan.0.lock() {
            plan.release(&self.workload);
        }
    }
}

/// A CPU list as `taskset --cpu-list` takes it (`0,2,3`).
pub fn cpu_list(cpus: &[usize]) -> String {
    cpus.iter()
        .map(|cpu| cpu.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_wrong_start_time_is_not() {
        let me = ProcessIdentity::of(std::process::id()).unwrap();
        assert!(me.is_alive());
        let reused = ProcessIdentity {
            start_time: me.start_time + 1,
            ..me
        };
        assert!(!reused.is_alive(), "a reused PID is another process");
        assert!(!allowed_cpus(None).is_empty());
        assert_eq!(cpu_list(&[0, 2, 3]), "0,2,3");
    }

    #[test]
    fn cpus_are_spread_over_the_least_used() {
        let key = |name: &str| WorkloadKey {
            deployment: ledger::payload::compute::DeploymentId::default(),
            name: ledger::payload::compute::Name::new(name).unwrap(),
        };
        let mut plan = CpuPlan::new(vec![0, 1, 2, 3]);
        assert_eq!(plan.assign(&key("a"), 1), vec![0]);
        assert_eq!(plan.assign(&key("b"), 2), vec![1, 2]);
        assert_eq!(plan.assign(&key("c"), 2), vec![0, 3]);
        assert_eq!(
            plan.assign(&key("d"), 9),
            vec![0, 1, 2, 3],
            "more than there are: all"
        );
        plan.release(&key("d"));
        plan.release(&key("a"));
        // Loads now: 0:1 (c), 1:1, 2:1, 3:1 — ties go to the lowest.
        assert_eq!(plan.assign(&key("a"), 1), vec![0]);
        // Reassigning a workload first forgets its own CPUs.
        assert_eq!(plan.assign(&key("a"), 1), vec![0]);
    }
}
