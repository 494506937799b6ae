//! What a workload runtime provides: start a workload, then poll and stop
//! the running instance. The [`crate::reconcile::Reconciler`] decides when.

use std::fmt;
use std::path::PathBuf;

use ledger::payload::compute::{DeploymentId, Name, WorkloadSpec};
use thiserror::Error;

use crate::host::{Cpus, Pin, ProcessIdentity};

/// A workload on this node: its deployment and its name there.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WorkloadKey {
    pub deployment: DeploymentId,
    pub name: Name,
}

impl WorkloadKey {
    /// A file-name-safe label: `<deployment prefix>-<name>`.
    pub fn label(&self) -> String {
        format!("{}-{}", self.deployment.short(), self.name)
    }
}

impl fmt::Display for WorkloadKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.deployment.short(), self.name)
    }
}

/// What a running instance is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstanceStatus {
    /// Started, not yet confirmed up (a VM still booting).
    Starting,
    Running,
    /// The process ended; the text says how (exit code or signal).
    Exited(String),
}

/// Why a driver could not do what was asked.
#[derive(Debug, Error)]
pub enum DriverError {
    #[error("cannot prepare {path}: {source}")]
    Prepare {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot start {program} for workload {workload}: {source}")]
    Spawn {
        workload: String,
        program: String,
        source: std::io::Error,
    },
    #[error("workload {workload}: image {image:?} is not known to the {driver} driver")]
    UnknownImage {
        workload: String,
        image: String,
        driver: &'static str,
    },
    #[error("cannot watch or stop workload {workload}: {source}")]
    Control {
        workload: String,
        source: std::io::Error,
    },
}

/// One started workload.
pub trait Instance: Send {
    /// Checks the instance without blocking.
    fn poll(&mut self) -> Result<InstanceStatus, DriverError>;
    /// Stops the instance and waits for it to be gone.
    fn stop(&mut self) -> Result<(), DriverError>;
    /// The operating-system process, if any (for logs and tests).
    fn pid(&self) -> Option<u32> {
        self.identity().map(|identity| identity.pid)
    }
    /// The process and its start time, which the agent persists to adopt
    /// the instance after its own restart.
    fn identity(&self) -> Option<ProcessIdentity>;
    /// Lets go of the instance without stopping it (a later agent adopts
    /// it): dropping it afterwards leaves it running.
    fn detach(&mut self);
}

/// A workload runtime.
pub trait Driver: Send + Sync {
    /// `process` or `qemu`, for logs and metrics.
    fn kind(&self) -> &'static str;
    /// Starts `spec` as `key`. The instance may still be booting.
    fn start(
        &self,
        key: &WorkloadKey,
        spec: &WorkloadSpec,
    ) -> Result<Box<dyn Instance>, DriverError>;
    /// Takes over `process`, a live instance of `key` with `spec` that an
    /// earlier agent started (the caller checked that it is alive and
    /// that the spec is unchanged).
    fn adopt(
        &self,
        key: &WorkloadKey,
        spec: &WorkloadSpec,
        process: ProcessIdentity,
    ) -> Result<Box<dyn Instance>, DriverError>;
}

/// The process behind an instance of the drivers that run one process
/// per workload: a child this agent started, or a process an earlier
/// agent started and this one adopted (not its child: watched through
/// `/proc`, stopped with a signal). It gives its CPUs back to the plan
/// once it ended or was stopped.
pub(crate) struct Supervised {
    workload: String,
    process: Process,
    identity: Option<ProcessIdentity>,
    detached: bool,
    pin: Option<Pin>,
}

enum Process {
    Child(std::process::Child),
    Adopted,
}

/// How long a stop waits for an adopted process to go after SIGKILL.
const ADOPTED_STOP_LIMIT: std::time::Duration = std::time::Duration::from_secs(5);

impl Supervised {
    pub(crate) fn child(
        workload: String,
        child: std::process::Child,
        pin: Option<Pin>,
    ) -> Supervised {
        Supervised {
            workload,
            identity: ProcessIdentity::of(child.id()),
            process: Process::Child(child),
            detached: false,
            pin,
        }
    }

    /// Adopts `process` (a `what`, for the log) as workload `key`'s,
    /// recording the CPUs it is pinned to in `cpus`' plan.
    pub(crate) fn adopt_pinned(
        key: &WorkloadKey,
        process: ProcessIdentity,
        cpus: &Cpus,
        what: &str,
    ) -> Supervised {
        let pin = cpus.adopt(key, process.pid);
        tracing::info!(workload = %key, pid = process.pid, cpus = %crate::host::cpu_list(pin.cpus()), "{what} adopted");
        Supervised::adopted(key.to_string(), process, Some(pin))
    }

    pub(crate) fn adopted(
        workload: String,
        identity: ProcessIdentity,
        pin: Option<Pin>,
    ) -> Supervised {
        Supervised {
            workload,
            process: Process::Adopted,
            identity: Some(identity),
            detached: false,
            pin,
        }
    }

    pub(crate) fn identity(&self) -> Option<ProcessIdentity> {
        self.identity
    }

    fn control(&self, source: std::io::Error) -> DriverError {
        DriverError::Control {
            workload: self.workload.clone(),
            source,
        }
    }

    fn release(&self) {
        if let Some(pin) = &self.pin {
            pin.release();
        }
    }

    /// `Some(how it ended)` once the process has exited.
    pub(crate) fn exited(&mut self) -> Result<Option<String>, DriverError> {
        let ended = match &mut self.process {
            Process::Child(child) => match child.try_wait() {
                Ok(status) => status.map(describe_exit),
                Err(source) => return Err(self.control(source)),
            },
            Process::Adopted => (!self.identity.is_some_and(|identity| identity.is_alive()))
                .then(|| "exited (adopted process: status unknown)".to_owned()),
        };
        if ended.is_some() {
            self.release();
        }
        Ok(ended)
    }

    pub(crate) fn kill(&mut self) -> Result<(), DriverError> {
        self.release();
        let result = match &mut self.process {
            Process::Child(child) => {
                if child.try_wait().ok().flatten().is_some() {
                    return Ok(());
                }
                child.kill().and_then(|()| child.wait().map(|_| ()))
            }
            Process::Adopted => match self.identity {
                Some(identity) => identity.kill_and_wait(ADOPTED_STOP_LIMIT),
                None => Ok(()),
            },
        };
        result.map_err(|source| self.control(source))
    }

    pub(crate) fn detach(&mut self) {
        self.detached = true;
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        // An instance never outlives its handle unless detached for a
        // later agent to adopt.
        if !self.detached
            && let Err(error) = self.kill()
        {
            tracing::warn!(workload = %self.workload, %error, "cannot stop workload");
        }
    }
}

fn describe_exit(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => "exited".to_owned(),
    }
}
