//! What a workload runtime provides: start a workload, then poll and stop
//! the running instance. The [`crate::reconcile::Reconciler`] decides when.

use std::fmt;
use std::path::PathBuf;

use ledger::payload::compute::{DeploymentId, Name, WorkloadSpec};
use thiserror::Error;

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
    fn pid(&self) -> Option<u32>;
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
}

/// A child process as an [`Instance`]: shared by the drivers that run one
/// process per workload.
pub(crate) struct ChildInstance {
    pub(crate) workload: String,
    pub(crate) child: std::process::Child,
}

impl ChildInstance {
    /// `Some(how it ended)` once the child has exited.
    pub(crate) fn exited(&mut self) -> Result<Option<String>, DriverError> {
        match self.child.try_wait() {
            Ok(None) => Ok(None),
            Ok(Some(status)) => Ok(Some(describe_exit(status))),
            Err(source) => Err(DriverError::Control {
                workload: self.workload.clone(),
                source,
            }),
        }
    }

    pub(crate) fn kill(&mut self) -> Result<(), DriverError> {
        if self.child.try_wait().ok().flatten().is_some() {
            return Ok(());
        }
        let control = |source| DriverError::Control {
            workload: self.workload.clone(),
            source,
        };
        self.child.kill().map_err(control)?;
        self.child.wait().map_err(control)?;
        Ok(())
    }
}

impl Drop for ChildInstance {
    fn drop(&mut self) {
        // An instance never outlives its handle (agent shutdown stops all).
        let _ = self.kill();
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
