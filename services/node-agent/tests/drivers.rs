#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

//! The drivers through the reconciler, with real processes and (where
//! `qemu-system-x86_64` is installed) a real virtual machine: starting,
//! replacing, restarting, limits and CPU pinning, and a restarted
//! reconciler adopting what an earlier one left running.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ledger::Hash32;
use ledger::payload::compute::{DeploymentId, Name, Resources, WorkloadSpec, WorkloadState};
use node_agent::driver::{Driver, WorkloadKey};
use node_agent::host::ProcessIdentity;
use node_agent::process::ProcessDriver;
use node_agent::qemu::{Accelerator, QemuDriver, READY_MARKER};
use node_agent::reconcile::{Reconciler, RestartPolicy, StateChange};
use node_agent::state::StateStore;

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

/// Runs and is not a zombie (a process the test started and a reconciler
/// killed after adopting it stays a zombie of the test).
fn running(pid: u32) -> bool {
    ProcessIdentity::of(pid).is_some_and(|process| process.is_alive())
}

/// A reconciler over `driver` keeping its records in `state`.
fn persistent(driver: impl Driver + 'static, state: &Path) -> Reconciler {
    Reconciler::new(Arc::new(driver), RestartPolicy::default())
        .with_state(StateStore::open(state.to_path_buf()).unwrap())
}

/// The CPUs a process may run on, from `/proc/<pid>/status`.
fn cpus_allowed_list(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix("Cpus_allowed_list:"))
        .unwrap()
        .trim()
        .to_owned()
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
        let state = directory.path().join("state");
        let mut reconciler = persistent(driver.clone(), &state);
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
        let cpus = cpus_allowed_list(pid);
        assert!(
            cpus.parse::<usize>().is_ok(),
            "a one-core VM runs on one CPU, not {cpus}"
        );
        // An agent restart: the VM keeps running and is adopted.
        assert_eq!(reconciler.shutdown().0, 1);
        drop(reconciler);
        let mut reconciler = persistent(driver.clone(), &state).stop_on_exit();
        assert!(reconciler.reconcile(&desired, Instant::now()).is_empty());
        assert_eq!(
            (reconciler.adopted(), reconciler.pid(&key("vm"))),
            (1, Some(pid))
        );
        assert_eq!(reconciler.states()[&key("vm")], WorkloadState::Running);
        let changes = reconciler.reconcile(&BTreeMap::new(), Instant::now());
        assert_eq!(changes[0].state, WorkloadState::Deleted);
        assert!(!running(pid), "the VM was stopped");
    }
}

#[test]
fn a_restarted_reconciler_adopts_live_workloads_and_replaces_the_rest() {
    let directory = tempfile::tempdir().unwrap();
    let state = directory.path().join("state");
    let mut first = persistent(process_driver(directory.path()), &state);
    let names = ["keep", "resize", "removed", "killed", "gone"];
    let mut desired: BTreeMap<WorkloadKey, WorkloadSpec> = names
        .into_iter()
        .map(|name| (key(name), spec(name, "alpine", 64)))
        .collect();
    reconcile_until(&mut first, &desired, Duration::from_secs(10), all_running);
    let pids: BTreeMap<&str, u32> = names
        .into_iter()
        .map(|name| (name, first.pid(&key(name)).unwrap()))
        .collect();
    // The agent exits: everything keeps running, recorded on disk.
    assert_eq!(first.shutdown().0, 5);
    drop(first);
    assert!(pids.values().all(|pid| running(*pid)));
    assert_eq!(std::fs::read_dir(&state).unwrap().count(), 5);

    // While no agent runs: one workload dies, one is resized, one removed,
    // one dies and is removed, and a state file is corrupt.
    for name in ["killed", "gone"] {
        let status = std::process::Command::new("kill")
            .args(["-KILL", &pids[name].to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(5);
        while running(pids[name]) {
            assert!(Instant::now() < deadline, "SIGKILL did not kill");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    desired.remove(&key("gone"));
    desired.insert(key("resize"), spec("resize", "alpine", 96));
    desired.remove(&key("removed"));
    std::fs::write(state.join("garbage.json"), b"{ not json").unwrap();

    // Stops what it manages when dropped, also when an assertion fails.
    let mut second = persistent(process_driver(directory.path()), &state).stop_on_exit();
    assert_eq!(second.state_errors(), 1, "the corrupt file is reported");
    assert!(!state.join("garbage.json").exists(), "and dropped");
    let changes = reconcile_until(&mut second, &desired, Duration::from_secs(10), all_running);
    assert_eq!(second.adopted(), 1, "only the unchanged live workload");
    assert_eq!(second.pid(&key("keep")), Some(pids["keep"]), "same process");
    assert!(
        changes.iter().all(|change| change.key != key("keep")),
        "an adopted workload goes through no state change: {changes:?}"
    );
    assert!(
        !running(pids["resize"]),
        "the old spec's process is stopped"
    );
    assert_ne!(second.pid(&key("resize")), Some(pids["resize"]));
    assert!(!running(pids["removed"]), "the unassigned one is stopped");
    for name in ["removed", "gone"] {
        assert!(
            changes.contains(&StateChange {
                key: key(name),
                state: WorkloadState::Deleted,
            }),
            "{name} is reported deleted: {changes:?}"
        );
    }
    let killed: Vec<String> = changes
        .iter()
        .filter(|change| change.key == key("killed"))
        .map(|change| change.state.to_string())
        .collect();
    assert_eq!(
        killed,
        ["starting", "running"],
        "the dead one is started again"
    );
    assert_ne!(second.pid(&key("killed")), Some(pids["killed"]));

    // An adopted process is watched like a child: killed, it is restarted.
    let adopted = pids["keep"];
    std::process::Command::new("kill")
        .args(["-KILL", &adopted.to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while second.pid(&key("keep")) == Some(adopted)
        || second.states()[&key("keep")] != WorkloadState::Running
    {
        assert!(Instant::now() < deadline, "{:?}", second.states());
        second.reconcile(&desired, Instant::now());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(second.restarts(), 1);

    let left: Vec<u32> = desired.keys().map(|key| second.pid(key).unwrap()).collect();
    assert_eq!(second.stop_all().len(), 3);
    assert!(left.iter().all(|pid| !running(*pid)));
    assert_eq!(
        std::fs::read_dir(&state).unwrap().count(),
        0,
        "stopped workloads are forgotten"
    );
}

#[test]
fn process_workloads_are_pinned_to_their_cores() {
    let directory = tempfile::tempdir().unwrap();
    let mut reconciler = Reconciler::new(
        Arc::new(process_driver(directory.path())),
        RestartPolicy::default(),
    );
    let machine = cpus_allowed_list(std::process::id());
    let cpus = std::thread::available_parallelism().unwrap().get();
    let mut wide = spec("wide", "alpine", 64);
    wide.resources.cores = u32::try_from(cpus).unwrap() + 2;
    let desired = BTreeMap::from([
        (key("one"), spec("one", "alpine", 64)),
        (key("two"), spec("two", "alpine", 64)),
        (key("wide"), wide),
    ]);
    reconcile_until(
        &mut reconciler,
        &desired,
        Duration::from_secs(10),
        all_running,
    );
    let one = cpus_allowed_list(reconciler.pid(&key("one")).unwrap());
    let two = cpus_allowed_list(reconciler.pid(&key("two")).unwrap());
    println!("machine {machine}; one core: {one} and {two}; more cores than CPUs: all");
    for list in [&one, &two] {
        assert!(list.parse::<usize>().is_ok(), "one core is one CPU: {list}");
    }
    if cpus > 1 {
        assert_ne!(one, two, "single-core workloads are spread over the CPUs");
    }
    assert_eq!(
        cpus_allowed_list(reconciler.pid(&key("wide")).unwrap()),
        machine,
        "a workload with more cores than CPUs runs on all of them"
    );
}
