//! The process driver: each workload is one supervised operating-system
//! process standing in for a VM, started through `prlimit` so the kernel
//! enforces the workload's memory (address space, `RLIMIT_AS`) and disk
//! (largest file, `RLIMIT_FSIZE`) and a bounded number of open files,
//! and through `taskset` so it runs only on as many CPUs as it has cores
//! (CPU affinity; see [`CpuPlan`] for which CPUs). Both wrappers exec the
//! workload's command, so the workload keeps their process ID. Each
//! workload gets its own process group, so a signal to the agent's group
//! (Ctrl-C in a terminal) does not reach it.
//!
//! The image names the command to run: the driver's image table maps image
//! names to argument vectors, and images not in the table run the default
//! command (a process that sleeps until stopped). Each workload gets its
//! environment (`BSC_WORKLOAD`, `BSC_DEPLOYMENT`, `BSC_CORES`,
//! `BSC_MEMORY_MIB`, `BSC_DISK_GIB`, `BSC_IMAGE`) and a working directory
//! and log file under the driver's directory.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Stdio;

use ledger::payload::compute::WorkloadSpec;

use crate::driver::{Driver, DriverError, Instance, InstanceStatus, Supervised, WorkloadKey};
use crate::host::{self, Cpus, ProcessIdentity};

/// The command run for images the table does not name.
pub const DEFAULT_COMMAND: [&str; 2] = ["sleep", "infinity"];
/// Open files a workload may hold.
const MAX_OPEN_FILES: u64 = 1024;

/// Runs workloads as supervised, limited processes.
#[derive(Debug, Clone)]
pub struct ProcessDriver {
    directory: PathBuf,
    images: BTreeMap<String, Vec<String>>,
    default_command: Option<Vec<String>>,
    cpus: Cpus,
}

impl ProcessDriver {
    /// Workloads get their directories under `directory`; images not in
    /// `images` run [`DEFAULT_COMMAND`].
    pub fn new(directory: PathBuf, images: BTreeMap<String, Vec<String>>) -> ProcessDriver {
        ProcessDriver {
            directory,
            images,
            default_command: Some(DEFAULT_COMMAND.iter().map(|s| (*s).to_owned()).collect()),
            cpus: Cpus::of_this_process(),
        }
    }

    /// Refuses images the table does not name instead of running the
    /// default command.
    pub fn strict(mut self) -> ProcessDriver {
        self.default_command = None;
        self
    }

    /// The log file (standard output and error) of a workload.
    pub fn log_path(&self, key: &WorkloadKey) -> PathBuf {
        self.directory.join(format!("{}.log", key.label()))
    }
}

struct ProcessInstance {
    process: Supervised,
    polled: bool,
}

impl Instance for ProcessInstance {
    fn poll(&mut self) -> Result<InstanceStatus, DriverError> {
        if let Some(how) = self.process.exited()? {
            return Ok(InstanceStatus::Exited(how));
        }
        // Alive at a second look: running.
        let status = if self.polled {
            InstanceStatus::Running
        } else {
            InstanceStatus::Starting
        };
        self.polled = true;
        Ok(status)
    }

    fn stop(&mut self) -> Result<(), DriverError> {
        self.process.kill()
    }

    fn identity(&self) -> Option<ProcessIdentity> {
        self.process.identity()
    }

    fn detach(&mut self) {
        self.process.detach();
    }
}

impl Driver for ProcessDriver {
    fn kind(&self) -> &'static str {
        "process"
    }

    fn start(
        &self,
        key: &WorkloadKey,
        spec: &WorkloadSpec,
    ) -> Result<Box<dyn Instance>, DriverError> {
        let argv = match (self.images.get(&spec.image), &self.default_command) {
            (Some(argv), _) | (None, Some(argv)) => argv,
            (None, None) => {
                return Err(DriverError::UnknownImage {
                    workload: key.to_string(),
                    image: spec.image.clone(),
                    driver: "process",
                });
            }
        };
        let Some((program, arguments)) = argv.split_first() else {
            return Err(DriverError::UnknownImage {
                workload: key.to_string(),
                image: spec.image.clone(),
                driver: "process",
            });
        };
        let workdir = self.directory.join(key.label());
        fs::create_dir_all(&workdir).map_err(|source| DriverError::Prepare {
            path: workdir.clone(),
            source,
        })?;
        let log_path = self.log_path(key);
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|source| DriverError::Prepare {
                path: log_path.clone(),
                source,
            })?;
        let log_err = log.try_clone().map_err(|source| DriverError::Prepare {
            path: log_path.clone(),
            source,
        })?;
        let demand = spec.demand().unwrap_or(spec.resources);
        let memory_bytes = demand.memory_mib.saturating_mul(1024 * 1024);
        let disk_bytes = demand.disk_gib.saturating_mul(1024 * 1024 * 1024);
        let pin = self.cpus.pin(key, demand.cores);
        let mut command = pin.command("prlimit");
        command
            .arg(format!("--as={memory_bytes}"))
            .arg(format!("--fsize={disk_bytes}"))
            .arg(format!("--nofile={MAX_OPEN_FILES}"))
            .arg("--")
            .arg(program)
            .args(arguments)
            .current_dir(&workdir)
            .env("BSC_WORKLOAD", spec.name.as_str())
            .env("BSC_DEPLOYMENT", key.deployment.to_string())
            .env("BSC_CORES", demand.cores.to_string())
            .env("BSC_MEMORY_MIB", demand.memory_mib.to_string())
            .env("BSC_DISK_GIB", demand.disk_gib.to_string())
            .env("BSC_IMAGE", &spec.image)
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err);
        let child = command.spawn().map_err(|source| DriverError::Spawn {
            workload: key.to_string(),
            program: format!("taskset prlimit -- {program}"),
            source,
        })?;
        tracing::info!(workload = %key, pid = child.id(), %program, cpus = %host::cpu_list(pin.cpus()), "process started");
        Ok(Box::new(ProcessInstance {
            process: Supervised::child(key.to_string(), child, Some(pin)),
            polled: false,
        }))
    }

    fn adopt(
        &self,
        key: &WorkloadKey,
        _spec: &WorkloadSpec,
        process: ProcessIdentity,
    ) -> Result<Box<dyn Instance>, DriverError> {
        Ok(Box::new(ProcessInstance {
            process: Supervised::adopt_pinned(key, process, &self.cpus, "process"),
            // It ran before the agent restarted: running at once.
            polled: true,
        }))
    }
}
