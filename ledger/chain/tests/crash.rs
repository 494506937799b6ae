//! The redb store under crashes and reopens.
//!
//! * `sigkill_at_random_moments`: a child process (this test binary run
//!   again with `CRASH_CHILD_STORE` set, entering `crash_child`) opens the
//!   store and applies blocks without end; the parent kills it with
//!   SIGKILL at random moments, `CRASH_KILLS` times (default 100), and
//!   after each kill reopens the store and checks that the tip is
//!   consistent (its block and diff exist, the main-chain index is
//!   contiguous up to it and ends there), that the replayed state's
//!   commitment equals that of an in-memory chain fed the same stored
//!   blocks with full validation, and that the next child resumed from
//!   that tip. `CRASH_SEED` fixes the random kill moments.
//! * Reopen tests: same tip and commitment after a clean reopen, side
//!   branches re-indexed, a stored heavier branch adopted, another chain's
//!   store refused, corrupt and missing data reported as typed errors.

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chain::clock::ManualClock;
use chain::redb_store::{OpenError, Reopened};
use chain::{AcceptOutcome, Chain, ChainStore, Clock, RedbStore, RedbStoreError};
use ledger::{BlockHeight, BlockId, Timestamp};
use support::{Workload, workload_config};

const CHILD_ENV: &str = "CRASH_CHILD_STORE";
const GENESIS_OUTPUTS: usize = 20;
const TRANSFERS_PER_BLOCK: usize = 3;

fn clock_for(config: &chain::ChainConfig) -> ManualClock {
    ManualClock::new(config.genesis.header.timestamp)
}

fn open(path: &Path, clock: &ManualClock) -> Result<Reopened, OpenError> {
    let config = workload_config(GENESIS_OUTPUTS);
    let store = RedbStore::open(path, &config)?;
    let domains = chain::domains::standard(&config);
    Chain::open(config, Arc::new(clock.clone()), store, domains)
}

/// Accepts a block with the clock moved up to its timestamp.
fn accept<S: ChainStore>(chain: &mut Chain<S>, clock: &ManualClock, block: ledger::Block) {
    if clock.now() < block.header.timestamp {
        clock.set(block.header.timestamp);
    }
    let outcome = chain.accept_block(block).expect("workload block is valid");
    assert!(
        matches!(outcome, AcceptOutcome::Connected { .. }),
        "{outcome:?}"
    );
}

/// Entry point of the child process; does nothing in a normal test run.
#[test]
#[ignore = "entry point of the child process of sigkill_at_random_moments"]
fn crash_child() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let config = workload_config(GENESIS_OUTPUTS);
    let clock = clock_for(&config);
    let Reopened { mut chain, .. } = open(Path::new(&path), &clock).expect("child reopens");
    println!("ready {} {}", chain.height().0, chain.tip().id);
    let mut workload = Workload::resume(&chain);
    loop {
        let block = workload.next_block(&chain, TRANSFERS_PER_BLOCK);
        accept(&mut chain, &clock, block);
    }
}

/// Checks the store's own records: the tip's block and diff exist, the
/// main-chain index runs without gaps from genesis to the tip, each entry
/// links to the one below, and nothing is indexed above the tip.
fn check_store(path: &Path) -> (BlockHeight, BlockId) {
    let config = workload_config(GENESIS_OUTPUTS);
    let store = RedbStore::open(path, &config).expect("store opens after a kill");
    let tip = store.tip().expect("tip is readable");
    let block = store.block(&tip.id).expect("tip block decodes");
    assert_eq!(block.map(|b| b.id()), Some(tip.id), "tip block stored");
    if tip.height.0 > 0 {
        let diff = store.diff(&tip.id).expect("tip diff decodes");
        assert_eq!(diff.map(|d| d.height), Some(tip.height), "tip diff stored");
    }
    let mut below = None;
    for height in 0..=tip.height.0 {
        let id = store
            .main_chain_id(BlockHeight(height))
            .expect("index readable")
            .unwrap_or_else(|| panic!("main-chain index has a gap at {height}"));
        let link = store
            .link(&id)
            .expect("link readable")
            .expect("link stored");
        if let Some(below) = below {
            assert_eq!(link.parent, below, "main chain links at {height}");
            assert!(
                store.diff(&id).expect("diff decodes").is_some(),
                "diff at {height}"
            );
        }
        below = Some(id);
    }
    assert_eq!(below, Some(tip.id));
    assert_eq!(
        store
            .main_chain_id(BlockHeight(tip.height.0 + 1))
            .expect("index readable"),
        None,
        "nothing indexed above the tip"
    );
    (tip.height, tip.id)
}

/// A small xorshift generator: the kill moments need no more.
struct Rng(u64);

impl Rng {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}

#[test]
fn sigkill_at_random_moments() {
    let kills: usize = std::env::var("CRASH_KILLS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(100);
    let seed = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|elapsed| elapsed.as_nanos() as u64)
                .unwrap_or(1)
                | 1
        });
    println!("CRASH_SEED={seed}");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("chain.redb");
    let exe = std::env::current_exe().expect("test binary path");

    // The reference: an in-memory chain fed the stored main-chain blocks,
    // with full validation and fork choice.
    let config = workload_config(GENESIS_OUTPUTS);
    let reference_clock = clock_for(&config);
    let mut reference =
        Chain::in_memory(config, Arc::new(reference_clock.clone())).expect("genesis");

    let started = Instant::now();
    let mut previous: Option<(BlockHeight, BlockId)> = None;
    let mut killed_before_ready = 0;
    let mut adopted_branches = 0;
    for round in 0..kills {
        let mut child = Command::new(&exe)
            .args([
                "crash_child",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("child starts");
        if rng.below(10) == 0 {
            // Sometimes while it opens the store.
            std::thread::sleep(Duration::from_millis(rng.below(15)));
            killed_before_ready += 1;
        } else {
            let stdout = child.stdout.take().expect("piped stdout");
            // Read in a thread so a child that hangs before "ready" fails
            // the test after a timeout instead of blocking it forever.
            let (sender, receiver) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    // libtest prints "test crash_child ... " on the same line.
                    if let Some((_, rest)) = line.split_once("ready ") {
                        let _ = sender.send(rest.to_owned());
                        break;
                    }
                }
            });
            let ready = match receiver.recv_timeout(Duration::from_secs(60)) {
                Ok(ready) => ready,
                Err(error) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("child of round {round} never became ready ({error})");
                }
            };
            // The child resumed from the tip the parent checked last round
            // (or a heavier stored branch it adopted on reopen).
            if let Some((height, id)) = previous {
                let (child_height, child_tip) =
                    ready.split_once(' ').expect("ready <height> <tip>");
                let child_height: u64 = child_height.parse().expect("height");
                assert!(
                    child_height >= height.0,
                    "round {round}: child resumed below the tip"
                );
                if child_height == height.0 {
                    assert_eq!(child_tip, id.to_string(), "round {round}: resumed tip");
                }
            }
            std::thread::sleep(Duration::from_millis(rng.below(40)));
        }
        child.kill().expect("SIGKILL the child");
        let status = child.wait().expect("child reaped");
        assert!(!status.success(), "the child ran until killed");

        let (height, tip) = check_store(&path);
        if let Some((previous_height, _)) = previous {
            assert!(
                height >= previous_height,
                "round {round}: the store lost blocks"
            );
        }
        let clock = ManualClock::new(Timestamp(0));
        let Reopened { chain, update } = open(&path, &clock).expect("reopens after a kill");
        if !update.is_empty() {
            adopted_branches += 1;
        }
        let reopened_tip = chain.tip().id;
        assert!(
            reopened_tip == tip || update.applied.last() == Some(&reopened_tip),
            "round {round}: reopened at {reopened_tip}, store tip {tip}"
        );
        // Feed the reference the reopened main chain's blocks it lacks.
        for h in 1..=chain.height().0 {
            let id = chain.main_chain_id(BlockHeight(h)).expect("main chain");
            if reference.main_chain_id(BlockHeight(h)) != Some(id) {
                let block = chain.block(&id).expect("readable").expect("stored");
                accept(&mut reference, &reference_clock, block);
            }
        }
        assert_eq!(
            reference.tip().id,
            reopened_tip,
            "round {round}: reference tip"
        );
        assert_eq!(
            reference.state().commitment(),
            chain.state().commitment(),
            "round {round}: replayed state differs from the validated replay"
        );
        previous = Some((chain.height(), reopened_tip));
    }

    // A last full check against a chain built from scratch.
    let clock = ManualClock::new(Timestamp(0));
    let Reopened { chain, .. } = open(&path, &clock).expect("final reopen");
    let config = workload_config(GENESIS_OUTPUTS);
    let fresh_clock = clock_for(&config);
    let mut fresh = Chain::in_memory(config, Arc::new(fresh_clock.clone())).expect("genesis");
    for h in 1..=chain.height().0 {
        let id = chain.main_chain_id(BlockHeight(h)).expect("main chain");
        accept(
            &mut fresh,
            &fresh_clock,
            chain.block(&id).expect("readable").expect("stored"),
        );
    }
    assert_eq!(fresh.state().commitment(), chain.state().commitment());
    let blocks = chain.height().0;
    println!(
        "crash test: {kills} SIGKILLs ({killed_before_ready} while opening), {blocks} blocks on \
         the main chain, {adopted_branches} reopens adopted a stored heavier branch, {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(
        blocks > kills as u64,
        "the children made progress: {blocks} blocks"
    );
}

/// Builds `count` workload blocks on `chain`.
fn grow<S: ChainStore>(chain: &mut Chain<S>, clock: &ManualClock, count: usize) {
    let mut workload = Workload::resume(chain);
    for _ in 0..count {
        let block = workload.next_block(chain, TRANSFERS_PER_BLOCK);
        accept(chain, clock, block);
    }
}

/// Replays `chain`'s main chain up to `height` into a new in-memory chain.
fn memory_copy<S: ChainStore>(chain: &Chain<S>, clock: &ManualClock, height: u64) -> Chain {
    let mut memory =
        Chain::in_memory(chain.config().clone(), Arc::new(clock.clone())).expect("genesis");
    for h in 1..=height {
        let id = chain.main_chain_id(BlockHeight(h)).expect("main chain");
        accept(
            &mut memory,
            clock,
            chain.block(&id).expect("read").expect("stored"),
        );
    }
    memory
}

#[test]
fn reopen_gives_the_same_tip_state_and_side_branches() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("chain.redb");
    let config = workload_config(GENESIS_OUTPUTS);
    let clock = clock_for(&config);
    let Reopened { mut chain, update } = open(&path, &clock).expect("new store");
    assert!(update.is_empty());
    assert_eq!(chain.height(), BlockHeight(0));
    grow(&mut chain, &clock, 29);

    // Two children of block 29 with equal work: the first seen stays.
    let main_30 = Workload::resume(&chain).next_block(&chain, TRANSFERS_PER_BLOCK);
    let side_30 = Workload::resume(&chain).next_block(&chain, 0);
    assert_ne!(main_30.id(), side_30.id());
    accept(&mut chain, &clock, main_30.clone());
    accept(&mut chain, &clock, side_30.clone());
    assert_eq!(chain.tip().id, main_30.id());

    // The side branch grows by one block in another chain.
    let mut memory = memory_copy(&chain, &clock, 29);
    accept(&mut memory, &clock, side_30.clone());
    let side_31 = Workload::resume(&memory).next_block(&memory, 2);
    accept(&mut memory, &clock, side_31.clone());

    let tip = chain.tip().clone();
    let commitment = chain.state().commitment();
    drop(chain);

    let Reopened { chain, update } = open(&path, &clock).expect("reopens");
    assert!(update.is_empty(), "equal work keeps the stored tip");
    assert_eq!(chain.tip(), &tip);
    assert_eq!(chain.state().commitment(), commitment);
    let side = chain.node(&side_30.id()).expect("side block re-indexed");
    assert_eq!(side.height, BlockHeight(30));
    drop(chain);

    // Stored but never committed (as when the process dies between the
    // two): the heavier branch is adopted on reopen.
    let mut store = RedbStore::open(&path, &workload_config(GENESIS_OUTPUTS)).expect("opens");
    store.put_block(side_31.id(), &side_31).expect("stores");
    drop(store);
    let Reopened { mut chain, update } = open(&path, &clock).expect("reopens");
    assert_eq!(update.reverted, vec![main_30.id()]);
    assert_eq!(update.applied, vec![side_30.id(), side_31.id()]);
    assert_eq!(chain.tip().id, side_31.id());
    assert_eq!(chain.state().commitment(), memory.state().commitment());

    // The chain goes on from there, and a reopen agrees.
    grow(&mut chain, &clock, 3);
    let tip = chain.tip().clone();
    let commitment = chain.state().commitment();
    drop(chain);
    let Reopened { chain, update } = open(&path, &clock).expect("reopens");
    assert!(update.is_empty());
    assert_eq!(chain.tip(), &tip);
    assert_eq!(chain.state().commitment(), commitment);
}

#[test]
fn another_chains_store_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("chain.redb");
    drop(RedbStore::open(&path, &workload_config(GENESIS_OUTPUTS)).expect("new store"));
    let other = workload_config(GENESIS_OUTPUTS + 1);
    match RedbStore::open(&path, &other) {
        Err(RedbStoreError::OtherChain { stored, expected }) => {
            assert_eq!(stored, workload_config(GENESIS_OUTPUTS).genesis_id);
            assert_eq!(expected, other.genesis_id);
        }
        other => panic!("expected OtherChain, got {other:?}"),
    }
}

#[test]
fn outbox_cursor_survives_a_reopen() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("chain.redb");
    let config = workload_config(GENESIS_OUTPUTS);
    let store = RedbStore::open(&path, &config).expect("new store");
    assert_eq!(store.outbox_cursor().expect("readable"), None);
    store.set_outbox_cursor(7).expect("writes");
    drop(store);
    let store = RedbStore::open(&path, &config).expect("reopens");
    assert_eq!(store.outbox_cursor().expect("readable"), Some(7));
}

const DIFFS: redb::TableDefinition<'_, &[u8; 32], &[u8]> = redb::TableDefinition::new("diffs");
const MAIN_CHAIN: redb::TableDefinition<'_, u64, &[u8; 32]> =
    redb::TableDefinition::new("main_chain");

/// Edits the store file behind the store's back.
fn tamper(path: &Path, edit: impl FnOnce(&redb::WriteTransaction)) {
    let db = redb::Database::open(path).expect("store file opens");
    let txn = db.begin_write().expect("write");
    edit(&txn);
    txn.commit().expect("commit");
}

#[test]
fn corrupt_or_missing_data_is_a_typed_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("chain.redb");
    let config = workload_config(GENESIS_OUTPUTS);
    let clock = clock_for(&config);
    let Reopened { mut chain, .. } = open(&path, &clock).expect("new store");
    grow(&mut chain, &clock, 5);
    let id_3 = chain.main_chain_id(BlockHeight(3)).expect("height 3");
    let id_4 = chain.main_chain_id(BlockHeight(4)).expect("height 4");
    drop(chain);
    let copies: Vec<_> = (0..3)
        .map(|index| {
            let copy = dir.path().join(format!("copy-{index}.redb"));
            std::fs::copy(&path, &copy).expect("copy");
            copy
        })
        .collect();

    tamper(&copies[0], |txn| {
        let mut diffs = txn.open_table(DIFFS).expect("diffs");
        diffs
            .insert(&id_3.0.0, [1u8, 2, 3].as_slice())
            .expect("insert");
    });
    match open(&copies[0], &clock) {
        Err(OpenError::Store(RedbStoreError::Corrupt { table, key, .. })) => {
            assert_eq!(table, "diffs");
            assert_eq!(key, id_3.to_string());
        }
        other => panic!("expected a corrupt diff, got {:?}", other.err()),
    }

    tamper(&copies[1], |txn| {
        let mut diffs = txn.open_table(DIFFS).expect("diffs");
        diffs.remove(&id_4.0.0).expect("remove");
    });
    match open(&copies[1], &clock) {
        Err(OpenError::Store(RedbStoreError::Missing { table, id, height })) => {
            assert_eq!((table, id, height), ("diffs", id_4, BlockHeight(4)));
        }
        other => panic!("expected a missing diff, got {:?}", other.err()),
    }

    tamper(&copies[2], |txn| {
        let mut main = txn.open_table(MAIN_CHAIN).expect("main_chain");
        main.remove(2).expect("remove");
    });
    match open(&copies[2], &clock) {
        Err(OpenError::Store(RedbStoreError::MainChainGap { height, tip })) => {
            assert_eq!((height, tip), (BlockHeight(2), BlockHeight(5)));
        }
        other => panic!("expected a gap, got {:?}", other.err()),
    }
}
