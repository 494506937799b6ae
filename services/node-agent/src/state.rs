//! The agent's own state on disk, so a restarted agent adopts the
//! workloads that still run instead of starting them again.
//!
//! One JSON file per running workload in the state directory
//! (`<work dir>/state/<deployment>-<name>.json`): the driver, the
//! workload's key, the hash of the spec it was started with and its
//! process identity (PID and start time, see
//! [`crate::host::ProcessIdentity`]). A file is written to a temporary
//! name, synced and renamed over the old one, so a reader sees the old
//! record or the new one, never half of one. A file that is not a record
//! of this version (corrupt, truncated, from another version) is a typed
//! [`StateError`]: the agent logs it and deletes the file; it never adopts
//! from a part of one.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest};
use ledger::Hash32;
use ledger::payload::compute::{DeploymentId, Name, WorkloadSpec};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::driver::WorkloadKey;
use crate::host::ProcessIdentity;

/// The record format this agent writes and reads.
pub const STATE_VERSION: u32 = 1;

/// Why a state file was not used.
#[derive(Debug, Error)]
pub enum StateError {
    #[error("cannot read the agent state {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the agent state {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("state file {path} is not a workload record: {source}")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error(
        "state file {path} has format version {found}; this agent reads version {STATE_VERSION}"
    )]
    UnknownVersion { path: PathBuf, found: u64 },
    #[error("state file {path}: {what}")]
    Invalid { path: PathBuf, what: String },
}

/// What the agent remembers about one running workload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadRecord {
    pub key: WorkloadKey,
    /// The driver that started it (`process`, `qemu`).
    pub driver: String,
    /// [`spec_hash`] of the spec it runs.
    pub spec_hash: String,
    pub process: ProcessIdentity,
}

/// The file format (all text, so an operator can read it).
#[derive(Debug, Serialize, Deserialize)]
struct RecordFile {
    version: u32,
    driver: String,
    deployment: String,
    workload: String,
    spec_hash: String,
    pid: u32,
    start_time: u64,
}

/// The hash of a spec's canonical encoding (hex): a record whose hash
/// differs from the desired spec's is replaced, not adopted.
pub fn spec_hash(spec: &WorkloadSpec) -> String {
    let mut hasher = Blake2b::<U32>::new();
    hasher.update(ledger::codec::encode(spec));
    hex::encode(hasher.finalize())
}

/// The state directory.
#[derive(Debug, Clone)]
pub struct StateStore {
    directory: PathBuf,
}

impl StateStore {
    /// Opens (creates) `directory` and deletes temporary files a crash
    /// left behind.
    pub fn open(directory: PathBuf) -> Result<StateStore, StateError> {
        fs::create_dir_all(&directory).map_err(|source| StateError::Write {
            path: directory.clone(),
            source,
        })?;
        let store = StateStore { directory };
        for path in store.files("tmp")? {
            let _ = fs::remove_file(path);
        }
        Ok(store)
    }

    pub fn directory(&self) -> &Path {
        &self.directory
    }

    fn files(&self, extension: &str) -> Result<Vec<PathBuf>, StateError> {
        let read = |source| StateError::Read {
            path: self.directory.clone(),
            source,
        };
        let mut files = Vec::new();
        for entry in fs::read_dir(&self.directory).map_err(read)? {
            let path = entry.map_err(read)?.path();
            if path.extension().is_some_and(|found| found == extension) {
                files.push(path);
            }
        }
        files.sort();
        Ok(files)
    }

    fn path(&self, key: &WorkloadKey) -> PathBuf {
        self.directory
            .join(format!("{}-{}.json", key.deployment, key.name))
    }

    /// Every record, and the errors of the files that were not records
    /// (those files are deleted).
    pub fn load(&self) -> (Vec<WorkloadRecord>, Vec<StateError>) {
        let files = match self.files("json") {
            Ok(files) => files,
            Err(error) => return (Vec::new(), vec![error]),
        };
        let mut records = Vec::new();
        let mut errors = Vec::new();
        for path in files {
            match read_record(&path) {
                Ok(record) => records.push(record),
                Err(error) => {
                    let _ = fs::remove_file(&path);
                    errors.push(error);
                }
            }
        }
        (records, errors)
    }

    /// Writes `record` atomically (temporary file, sync, rename).
    pub fn save(&self, record: &WorkloadRecord) -> Result<(), StateError> {
        let path = self.path(&record.key);
        let file = RecordFile {
            version: STATE_VERSION,
            driver: record.driver.clone(),
            deployment: record.key.deployment.to_string(),
            workload: record.key.name.to_string(),
            spec_hash: record.spec_hash.clone(),
            pid: record.process.pid,
            start_time: record.process.start_time,
        };
        let temporary = path.with_extension("tmp");
        let write = |source| StateError::Write {
            path: path.clone(),
            source,
        };
        let text = serde_json::to_vec_pretty(&file).map_err(|error| write(error.into()))?;
        let mut out = fs::File::create(&temporary).map_err(write)?;
        out.write_all(&text).map_err(write)?;
        out.sync_all().map_err(write)?;
        drop(out);
        fs::rename(&temporary, &path).map_err(write)?;
        Ok(())
    }

    /// Forgets `key` (no error when there is no record).
    pub fn remove(&self, key: &WorkloadKey) -> Result<(), StateError> {
        let path = self.path(key);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(StateError::Write { path, source }),
        }
    }
}

fn read_record(path: &Path) -> Result<WorkloadRecord, StateError> {
    let bytes = fs::read(path).map_err(|source| StateError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let corrupt = |source| StateError::Corrupt {
        path: path.to_path_buf(),
        source,
    };
    let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(corrupt)?;
    let found = value.get("version").and_then(serde_json::Value::as_u64);
    if found != Some(u64::from(STATE_VERSION)) {
        return Err(StateError::UnknownVersion {
            path: path.to_path_buf(),
            found: found.unwrap_or_default(),
        });
    }
    let file: RecordFile = serde_json::from_value(value).map_err(corrupt)?;
    let invalid = |what: String| StateError::Invalid {
        path: path.to_path_buf(),
        what,
    };
    let deployment = hex::decode(&file.deployment)
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes.as_slice()).ok())
        .ok_or_else(|| {
            invalid(format!(
                "deployment {:?} is not a deployment ID",
                file.deployment
            ))
        })?;
    let name = Name::new(&file.workload)
        .map_err(|error| invalid(format!("workload name {:?}: {error}", file.workload)))?;
    if file.pid == 0 {
        return Err(invalid("pid 0".to_owned()));
    }
    Ok(WorkloadRecord {
        key: WorkloadKey {
            deployment: DeploymentId(Hash32(deployment)),
            name,
        },
        driver: file.driver,
        spec_hash: file.spec_hash,
        process: ProcessIdentity {
            pid: file.pid,
            start_time: file.start_time,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> WorkloadRecord {
        WorkloadRecord {
            key: WorkloadKey {
                deployment: DeploymentId(Hash32([7; 32])),
                name: Name::new("web").unwrap(),
            },
            driver: "process".into(),
            spec_hash: "ab".repeat(32),
            process: ProcessIdentity {
                pid: 42,
                start_time: 1234,
            },
        }
    }

    #[test]
    fn records_round_trip_and_bad_files_are_typed_errors_and_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::open(dir.path().join("state")).unwrap();
        store.save(&record()).unwrap();
        let root = store.directory().to_path_buf();
        fs::write(root.join("truncated.json"), b"{\"version\":1,\"dri").unwrap();
        fs::write(root.join("future.json"), b"{\"version\":9}").unwrap();
        fs::write(
            root.join("bad-id.json"),
            br#"{"version":1,"driver":"process","deployment":"zz","workload":"web","spec_hash":"","pid":1,"start_time":1}"#,
        )
        .unwrap();
        fs::write(root.join("left.tmp"), b"partial").unwrap();
        let (records, errors) = store.load();
        assert_eq!(records, vec![record()]);
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(
            errors
                .iter()
                .any(|e| matches!(e, StateError::Corrupt { .. }))
        );
        assert!(
            errors
                .iter()
                .any(|e| matches!(e, StateError::UnknownVersion { found: 9, .. }))
        );
        assert!(
            errors
                .iter()
                .any(|e| matches!(e, StateError::Invalid { .. }))
        );
        // The bad files are gone; a reopened store also drops the temporary file.
        let store = StateStore::open(root.clone()).unwrap();
        let (records, errors) = store.load();
        assert_eq!((records.len(), errors.len()), (1, 0));
        assert!(!root.join("left.tmp").exists());
        store.remove(&record().key).unwrap();
        store.remove(&record().key).unwrap();
        assert!(store.load().0.is_empty());
    }
}
