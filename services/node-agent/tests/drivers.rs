#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

//! The drivers through the reconciler, with real processes and (where
//! `qemu-system-x86_64` is installed) a real virtual machine.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ledger::Hash32;
use ledger::payload::compute::{DeploymentId, Name, Resources, WorkloadSpec, WorkloadState};
use node_agent::driver::{Driver, WorkloadKey};
use node_agent::process::ProcessDriver;
use node_agent::qemu::{Accelerator, QemuDriver, READY_MARKER};
use node_agent::reconcile::{Reconciler, RestartPolicy, StateChange};

fn key(name: &str) -> WorkloadKey {
    WorkloadKey {
        deployment: DeploymentId(Hash32([3; 32])),
        name: Name::new(name).unwrap(),
    }
}

fn spec(name: &str, image: &str, memory_mib: u64) -> WorkloadSpec {
    WorkloadSpec {
        name: Name::new(name).unwrap(),
        resources: Resources::new(1, memory_mib, 1),
        image: image.into(),
        network: None,
        volumes: Vec::new(),
        anti_affinity: None,
        node: None,
    }
}

fn alive(pid: u32) -> bool {
    // A reaped process has no /proc entry; a zombie would, but the
    // reconciler waits for what it kills.
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Reconciles until `done` holds for the states, or panics after `limit`.
fn reconcile_until(
    reconciler: &mut Reconciler,
    desired: &BTreeMap<WorkloadKey, WorkloadSpec>,
    limit: Duration,
    done: impl Fn(&BTreeMap<WorkloadKey, WorkloadState>) -> bool,
) -> Vec<StateChange> {
    let deadline = Instant::now() + limit;
    let mut changes = Vec::new();
    loop {
        changes.extend(reconciler.reconcile(desired, Instant::now()));
        if done(&reconciler.states()) {
            return changes;
        }
        assert!(
            Instant::now() < deadline,
            "not done after {limit:?}: {:?}",
            reconciler.states()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn all_running(states: &BTreeMap<WorkloadKey, WorkloadState>) -> bool {
    states
        .values()
        .all(|state| *state == WorkloadState::Running)
}

fn process_driver(directory: &Path) -> ProcessDriver {
    let images = BTreeMap::from([
        (
            "crashy".to_owned(),
            vec!["sh".into(), "-c".into(), "sleep 0.3; exit 3".into()],
        ),
        (
            "limits".to_owned(),
            vec![
                "sh".into(),
                "-c".into(),
                "echo as=$(ulimit -v) fsize=$(ulimit -f) workload=$BSC_WORKLOAD; exec sleep infinity"
                    .into(),
            ],
        ),
    ]);
    ProcessDriver::new(directory.to_path_buf(), images)
}

#[test]
fn process_workloads_start_update_only_what_changed_and_are_deleted() {
    let directory = tempfile::tempdir().unwrap();
    let driver = process_driver(directory.path());
    let mut reconciler = Reconciler::new(Arc::new(driver.clone()), RestartPolicy::default());
    let mut desired: BTreeMap<WorkloadKey, WorkloadSpec> = ["web-1", "web-2", "db"]
        .into_iter()
        .map(|name| (key(name), spec(name, "alpine", 64)))
        .collect();
    let changes = reconcile_until(
        &mut reconciler,
        &desired,
        Duration::from_secs(10),
        all_running,
    );
    for name in ["web-1", "web-2", "db"] {
        let states: Vec<&WorkloadState> = changes
            .iter()
            .filter(|change| change.key == key(name))
            .map(|change| &change.state)
            .collect();
        assert_eq!(
            states,
            [&WorkloadState::Starting, &WorkloadState::Running],
            "{name}"
        );
    }
    let pids: BTreeMap<WorkloadKey, u32> = desired
        .keys()
        .map(|key| (key.clone(), reconciler.pid(key).unwrap()))
        .collect();
    assert!(pids.values().all(|pid| alive(*pid)));

    // Nothing changes when nothing changed.
    assert!(reconciler.reconcile(&desired, Instant::now()).is_empty());

    // A new size replaces that workload only.
    desired.insert(key("db"), spec("db", "alpine", 128));
    let changes = reconcile_until(
        &mut reconciler,
        &desired,
        Duration::from_secs(10),
        all_running,
    );
    assert!(
        changes.iter().all(|change| change.key == key("db")),
        "{changes:?}"
    );
    assert!(!alive(pids[&key("db")]), "the old db process was stopped");
    assert_ne!(reconciler.pid(&key("db")), Some(pids[&key("db")]));
    assert_eq!(reconciler.pid(&key("web-1")), Some(pids[&key("web-1")]));

    // Removed from the desired set: stopped and reported deleted.
    desired.remove(&key("web-2"));
    let changes = reconciler.reconcile(&desired, Instant::now());
    assert_eq!(
        changes,
        [StateChange {
            key: key("web-2"),
            state: WorkloadState::Deleted
        }]
    );
    assert!(!alive(pids[&key("web-2")]));

    // Shutdown stops the rest.
    let web_1 = reconciler.pid(&key("web-1")).unwrap();
    let stopped = reconciler.stop_all();
    assert_eq!(stopped.len(), 2);
    assert!(!alive(web_1));
}

#[test]
fn crashed_processes_are_restarted_with_back_off() {
    let directory = tempfile::tempdir().unwrap();
    let policy = RestartPolicy {
        initial: Duration::from_millis(100),
        max: Duration::from_millis(400),
    };
    let mut reconciler = Reconciler::new(Arc::new(process_driver(directory.path())), policy);
    let desired = BTreeMap::from([(key("flaky"), spec("flaky", "crashy", 64))]);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut changes = Vec::new();
    while reconciler.restarts() < 2 {
        assert!(Instant::now() < deadline, "no restarts: {changes:?}");
        changes.extend(reconciler.reconcile(&desired, Instant::now()));
        std::thread::sleep(Duration::from_millis(20));
    }
    let states: Vec<String> = changes
        .iter()
        .map(|change| change.state.to_string())
        .collect();
    let crashed = "error: exited with status 3; restarting".to_owned();
    assert!(states.contains(&crashed), "{states:?}");
    let first_crash = states.iter().position(|s| *s == crashed).unwrap();
    assert!(
        states[first_crash..].contains(&"starting".to_owned()),
        "restarted after the crash: {states:?}"
    );
}

#[test]
fn process_limits_are_applied() {
    let directory = tempfile::tempdir().unwrap();
    let driver = process_driver(directory.path());
    let mut reconciler = Reconciler::new(Arc::new(driver.clone()), RestartPolicy::default());
    let mut limited = spec("limited", "limits", 96);
    limited.resources.disk_gib = 2;
    let desired = BTreeMap::from([(key("limited"), limited)]);
    reconcile_until(
        &mut reconciler,
        &desired,
        Duration::from_secs(10),
        all_running,
    );
    let log_path = driver.log_path(&key("limited"));
    let deadline = Instant::now() + Duration::from_secs(10);
    let log = loop {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        if log.contains("workload=") || Instant::now() > deadline {
            break log;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // `ulimit -v` is KiB, `ulimit -f` 512-byte blocks in POSIX sh (dash).
    let fsize_blocks = 2u64 * 1024 * 1024 * 1024 / 512;
    let fsize_kib = 2u64 * 1024 * 1024;
    let expected_as = format!("as={} ", 96 * 1024);
    assert!(log.contains(&expected_as), "{log}");
    assert!(
        log.contains(&format!("fsize={fsize_blocks} "))
            || log.contains(&format!("fsize={fsize_kib} ")),
        "{log}"
    );
    assert!(log.contains("workload=limited"), "{log}");

    // A strict driver refuses images it does not know.
    let strict = process_driver(directory.path()).strict();
    let error = strict
        .start(&key("x"), &spec("x", "unknown", 64))
        .err()
        .unwrap();
    assert!(
        error.to_string().contains("image \"unknown\" is not known"),
        "{error}"
    );
}

#[test]
fn qemu_boots_a_real_guest() {
    let Some(binary) = QemuDriver::find_binary() else {
        println!(
            "SKIPPED qemu_boots_a_real_guest: qemu-system-x86_64 is not on PATH \
             (Debian: apt-get install --no-install-recommends qemu-system-x86)"
        );
        return;
    };
    // Software emulation always (what a machine without KVM runs), KVM too
    // where it is usable.
    let mut accelerators = vec![Accelerator::Tcg];
    if Accelerator::detect() == Accelerator::Kvm {
        accelerators.push(Accelerator::Kvm);
    }
    for accelerator in accelerators {
        let directory = tempfile::tempdir().unwrap();
        let driver = QemuDriver::new(binary.clone(), directory.path().to_path_buf(), accelerator);
        let mut reconciler = Reconciler::new(Arc::new(driver.clone()), RestartPolicy::default());
        let desired = BTreeMap::from([(key("vm"), spec("vm", "alpine", 32))]);
        let started = Instant::now();
        reconcile_until(
            &mut reconciler,
            &desired,
            Duration::from_secs(90),
            all_running,
        );
        println!(
            "guest booted with {} in {:?}",
            accelerator.as_str(),
            started.elapsed()
        );
        let console = std::fs::read_to_string(driver.console_path(&key("vm"))).unwrap();
        assert!(console.contains(READY_MARKER), "{console}");
        let pid = reconciler.pid(&key("vm")).unwrap();
        assert!(alive(pid));
        let changes = reconciler.reconcile(&BTreeMap::new(), Instant::now());
        assert_eq!(changes[0].state, WorkloadState::Deleted);
        assert!(!alive(pid), "the VM was stopped");
    }
}
