#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

//! The same seed writes byte-identical CSV files and report; another seed
//! writes different data. Runs every simulation through its writer with
//! small parameters.

use std::collections::BTreeMap;
use std::path::Path;

use simulations::output::Outputs;
use simulations::{compute, forks, grinding, stake, storage};

fn write_all(seed: u64, dir: &Path) {
    let mut out = Outputs::create(dir, "all").unwrap();
    let stake = stake::StakeParams {
        stakers: 8,
        fairness_blocks: 200,
        phase_blocks: 20,
        ..stake::StakeParams::short(seed)
    };
    stake::write(&stake::run(&stake).unwrap(), &mut out).unwrap();
    let forks = forks::ForkParams {
        blocks: 60,
        ..forks::ForkParams::short(seed)
    };
    forks::write(&forks::run(&forks).unwrap(), &mut out).unwrap();
    let grinding = grinding::GrindingParams {
        blocks: 60,
        splits: vec![3],
        ..grinding::GrindingParams::short(seed)
    };
    grinding::write(&grinding::run(&grinding).unwrap(), &mut out).unwrap();
    let storage = storage::StorageParams {
        objects: 100,
        runs: 1,
        years: 1.0,
        ..storage::StorageParams::short(seed)
    };
    storage::write(&storage::run(&storage).unwrap(), &mut out).unwrap();
    let compute = compute::ComputeParams {
        hours: 300.0,
        ..compute::ComputeParams::short(seed)
    };
    compute::write(&compute::run(&compute).unwrap(), &mut out).unwrap();
    out.finish().unwrap();
}

/// The CSV files and the report of a directory, by name.
fn texts(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "csv" || e == "md"))
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect()
}

#[test]
fn same_seed_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    write_all(7, &dir.path().join("a"));
    write_all(7, &dir.path().join("b"));
    write_all(8, &dir.path().join("c"));
    let a = texts(&dir.path().join("a"));
    let b = texts(&dir.path().join("b"));
    let c = texts(&dir.path().join("c"));
    assert!(a.len() >= 9, "{:?}", a.keys());
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (name, bytes) in &a {
        assert!(
            bytes == &b[name],
            "{name} differs between two runs of seed 7"
        );
    }
    assert!(a != c, "seed 8 wrote the same data as seed 7");
    assert!(dir.path().join("a/stake_fairness.png").exists());
}
