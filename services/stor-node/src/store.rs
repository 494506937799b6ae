//! Shards on disk and their in-memory index.
//!
//! Layout under the data directory:
//!
//! ```text
//! shards/<object hex>/<index>.shard   u32le meta length ‖ meta JSON ‖ shard bytes
//! tmp/                                files being received
//! ```
//!
//! A write streams into a file in `tmp/` while hashing, checks the length
//! and checksum the owner signed, fsyncs, renames into place (one rename:
//! metadata and bytes land together) and fsyncs the directory, so a crash
//! leaves either the old shard or the new one, never half of one. On start
//! the index is rebuilt from the files' metadata and `tmp/` is emptied. A
//! read re-hashes the bytes it serves; a shard whose checksum no longer
//! matches is marked corrupt, counted and not served again.

use std::collections::BTreeMap;
use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use ledger::payload::storage::ObjectId;
use ledger::{Hash32, PublicKey};
use serde::{Deserialize, Serialize};
use stor::ShardHasher;
use thiserror::Error;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

/// The largest metadata block accepted when reading a shard file.
const MAX_META_BYTES: u32 = 4096;

/// What is known of one stored shard (kept in the file and the index).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardMeta {
    pub object: String,
    pub shard: u8,
    pub length: u64,
    pub checksum: String,
    pub owner: String,
    pub salt: String,
    /// Who signed the write (the owner or a repair key).
    pub written_by: String,
    pub stored_at: u64,
}

/// An index entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShardEntry {
    #[serde(flatten)]
    pub meta: ShardMeta,
    pub corrupt: bool,
}

/// Why a store operation failed.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("shard {shard} of object {object} is not stored here")]
    NotFound { object: ObjectId, shard: u8 },
    #[error("shard {shard} of object {object} failed its checksum and is not served")]
    Corrupt { object: ObjectId, shard: u8 },
    #[error("no room: {length} bytes asked, {free} free of {capacity}")]
    Full {
        length: u64,
        free: u64,
        capacity: u64,
    },
    #[error("the body is {got} bytes, the authorization says {expected}")]
    Length { expected: u64, got: u64 },
    #[error("the body's checksum is {got}, the authorization says {expected}")]
    Checksum { expected: Hash32, got: Hash32 },
    #[error("receiving the body: {0}")]
    Body(String),
    #[error("disk: {context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> StoreError {
    let context = context.into();
    move |source| StoreError::Io { context, source }
}

/// Counters for /metrics.
#[derive(Debug, Default)]
pub struct StoreCounters {
    pub puts: AtomicU64,
    pub gets: AtomicU64,
    pub deletes: AtomicU64,
    pub bytes_written: AtomicU64,
    pub bytes_read: AtomicU64,
    pub corrupt_detected: AtomicU64,
}

/// The shard store.
#[derive(Debug)]
pub struct ShardStore {
    root: PathBuf,
    capacity: u64,
    index: Mutex<BTreeMap<(ObjectId, u8), ShardEntry>>,
    /// Bytes promised to writes in progress.
    reserved: AtomicU64,
    temp_counter: AtomicU64,
    pub counters: StoreCounters,
}

/// Space figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Space {
    pub capacity_bytes: u64,
    pub used_bytes: u64,
    pub free_bytes: u64,
    pub shards: u64,
    pub corrupt_shards: u64,
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0)
}

impl ShardStore {
    /// Opens (creating) the store under `root` and rebuilds the index from
    /// the shard files. Files that cannot be parsed are reported and left
    /// out of the index (not deleted: an operator may want them).
    pub async fn open(root: &Path, capacity: u64) -> Result<ShardStore, StoreError> {
        let shards = root.join("shards");
        let tmp = root.join("tmp");
        tokio::fs::create_dir_all(&shards)
            .await
            .map_err(io(format!("creating {}", shards.display())))?;
        if tokio::fs::try_exists(&tmp).await.unwrap_or(false) {
            tokio::fs::remove_dir_all(&tmp)
                .await
                .map_err(io(format!("emptying {}", tmp.display())))?;
        }
        tokio::fs::create_dir_all(&tmp)
            .await
            .map_err(io(format!("creating {}", tmp.display())))?;
        let mut index = BTreeMap::new();
        let mut objects = tokio::fs::read_dir(&shards)
            .await
            .map_err(io("listing shards"))?;
        while let Some(object_dir) = objects.next_entry().await.map_err(io("listing shards"))? {
            let Some(object) = object_dir
                .file_name()
                .to_str()
                .and_then(|name| Hash32::from_str(name).ok())
                .map(ObjectId)
            else {
                tracing::warn!(path = %object_dir.path().display(), "not an object directory; ignored");
                continue;
            };
            let mut files = tokio::fs::read_dir(object_dir.path())
                .await
                .map_err(io("listing an object"))?;
            while let Some(file) = files.next_entry().await.map_err(io("listing an object"))? {
                let path = file.path();
                match read_meta(&path).await {
                    Ok((meta, _)) if meta.object == object.to_string() => {
                        index.insert(
                            (object, meta.shard),
                            ShardEntry {
                                meta,
                                corrupt: false,
                            },
                        );
                    }
                    Ok(_) => {
                        tracing::warn!(path = %path.display(), "shard file names another object; ignored")
                    }
                    Err(error) => {
                        tracing::warn!(path = %path.display(), %error, "unreadable shard file; ignored")
                    }
                }
            }
        }
        tracing::info!(root = %root.display(), shards = index.len(), "shard index rebuilt");
        Ok(ShardStore {
            root: root.to_path_buf(),
            capacity,
            index: Mutex::new(index),
            reserved: AtomicU64::new(0),
            temp_counter: AtomicU64::new(0),
            counters: StoreCounters::default(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<(ObjectId, u8), ShardEntry>> {
        // A panic while holding the lock cannot leave the map half-changed
        // (every change is one insert or remove), so a poisoned lock is safe.
        self.index
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn shard_path(&self, object: &ObjectId, shard: u8) -> PathBuf {
        self.root
            .join("shards")
            .join(object.to_string())
            .join(format!("{shard}.shard"))
    }

    pub fn space(&self) -> Space {
        let index = self.lock();
        let used: u64 = index.values().map(|entry| entry.meta.length).sum();
        let used = used + self.reserved.load(Ordering::Relaxed);
        Space {
            capacity_bytes: self.capacity,
            used_bytes: used,
            free_bytes: self.capacity.saturating_sub(used),
            shards: index.len() as u64,
            corrupt_shards: index.values().filter(|entry| entry.corrupt).count() as u64,
        }
    }

    pub fn list(&self) -> Vec<ShardEntry> {
        self.lock().values().cloned().collect()
    }

    pub fn entry(&self, object: &ObjectId, shard: u8) -> Option<ShardEntry> {
        self.lock().get(&(*object, shard)).cloned()
    }

    /// Stores `body` as shard `shard` of `object` if it is exactly
    /// `meta.length` bytes with checksum `checksum`; replaces any shard
    /// already there (repair rewrites) only once the new one is complete.
    pub async fn put<S, E>(
        &self,
        object: ObjectId,
        meta: ShardMeta,
        checksum: Hash32,
        mut body: S,
    ) -> Result<(), StoreError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let length = meta.length;
        let replaced = self
            .entry(&object, meta.shard)
            .map(|entry| entry.meta.length)
            .unwrap_or(0);
        {
            let space = self.space();
            let needed = length.saturating_sub(replaced);
            if needed > space.free_bytes {
                return Err(StoreError::Full {
                    length,
                    free: space.free_bytes,
                    capacity: self.capacity,
                });
            }
            self.reserved.fetch_add(length, Ordering::Relaxed);
        }
        let result = self.receive(object, meta, checksum, &mut body).await;
        self.reserved.fetch_sub(length, Ordering::Relaxed);
        result
    }

    async fn receive<S, E>(
        &self,
        object: ObjectId,
        mut meta: ShardMeta,
        checksum: Hash32,
        body: &mut S,
    ) -> Result<(), StoreError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let shard = meta.shard;
        meta.stored_at = unix_now();
        let meta_json = serde_json::to_vec(&meta).map_err(|error| StoreError::Io {
            context: "encoding shard metadata".into(),
            source: std::io::Error::other(error),
        })?;
        let temp = self.root.join("tmp").join(format!(
            "{object}-{shard}-{}",
            self.temp_counter.fetch_add(1, Ordering::Relaxed)
        ));
        let outcome = async {
            let mut file = tokio::fs::File::create(&temp)
                .await
                .map_err(io("creating a temporary file"))?;
            file.write_all(&(meta_json.len() as u32).to_le_bytes())
                .await
                .map_err(io("writing a temporary file"))?;
            file.write_all(&meta_json)
                .await
                .map_err(io("writing a temporary file"))?;
            let mut hasher = ShardHasher::new();
            let mut received = 0u64;
            while let Some(piece) = body.next().await {
                let piece = piece.map_err(|error| StoreError::Body(error.to_string()))?;
                received += piece.len() as u64;
                if received > meta.length {
                    return Err(StoreError::Length {
                        expected: meta.length,
                        got: received,
                    });
                }
                hasher.update(&piece);
                file.write_all(&piece)
                    .await
                    .map_err(io("writing a temporary file"))?;
            }
            if received != meta.length {
                return Err(StoreError::Length {
                    expected: meta.length,
                    got: received,
                });
            }
            let got = hasher.finish();
            if got != checksum {
                return Err(StoreError::Checksum {
                    expected: checksum,
                    got,
                });
            }
            file.sync_all().await.map_err(io("syncing a shard"))?;
            let target = self.shard_path(&object, shard);
            let directory = target
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| self.root.clone());
            tokio::fs::create_dir_all(&directory)
                .await
                .map_err(io("creating an object directory"))?;
            tokio::fs::rename(&temp, &target)
                .await
                .map_err(io("moving a shard into place"))?;
            sync_directory(&directory).await?;
            self.counters
                .bytes_written
                .fetch_add(received, Ordering::Relaxed);
            Ok(())
        }
        .await;
        if outcome.is_err() {
            let _ = tokio::fs::remove_file(&temp).await;
            return outcome;
        }
        self.counters.puts.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(
            (object, shard),
            ShardEntry {
                meta,
                corrupt: false,
            },
        );
        Ok(())
    }

    /// Removes a shard.
    pub async fn delete(&self, object: &ObjectId, shard: u8) -> Result<(), StoreError> {
        if self.entry(object, shard).is_none() {
            return Err(StoreError::NotFound {
                object: *object,
                shard,
            });
        }
        let path = self.shard_path(object, shard);
        tokio::fs::remove_file(&path)
            .await
            .map_err(io(format!("removing {}", path.display())))?;
        if let Some(directory) = path.parent() {
            sync_directory(directory).await?;
            // Empty object directories go too; a failure (not empty) is fine.
            let _ = tokio::fs::remove_dir(directory).await;
        }
        self.lock().remove(&(*object, shard));
        self.counters.deletes.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Marks a shard corrupt (its checksum failed).
    pub fn mark_corrupt(&self, object: &ObjectId, shard: u8) {
        if let Some(entry) = self.lock().get_mut(&(*object, shard))
            && !entry.corrupt
        {
            entry.corrupt = true;
            self.counters
                .corrupt_detected
                .fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%object, shard, "shard failed its checksum; marked corrupt");
        }
    }

    /// Opens a shard for reading: its entry and a reader positioned at the
    /// shard bytes. A shard already known corrupt is refused.
    pub async fn open_shard(
        &self,
        object: &ObjectId,
        shard: u8,
    ) -> Result<(ShardEntry, tokio::fs::File), StoreError> {
        let entry = self.entry(object, shard).ok_or(StoreError::NotFound {
            object: *object,
            shard,
        })?;
        if entry.corrupt {
            return Err(StoreError::Corrupt {
                object: *object,
                shard,
            });
        }
        let path = self.shard_path(object, shard);
        let (_, offset) = read_meta(&path).await?;
        let mut file = tokio::fs::File::open(&path)
            .await
            .map_err(io(format!("opening {}", path.display())))?;
        file.seek(SeekFrom::Start(offset))
            .await
            .map_err(io("seeking past shard metadata"))?;
        self.counters.gets.fetch_add(1, Ordering::Relaxed);
        Ok((entry, file))
    }

    /// Re-reads a whole shard and compares its checksum; marks it corrupt
    /// when it differs. Returns (expected, actual).
    pub async fn verify(
        &self,
        object: &ObjectId,
        shard: u8,
    ) -> Result<(Hash32, Hash32), StoreError> {
        let entry = self.entry(object, shard).ok_or(StoreError::NotFound {
            object: *object,
            shard,
        })?;
        let path = self.shard_path(object, shard);
        let (_, offset) = read_meta(&path).await?;
        let mut file = tokio::fs::File::open(&path)
            .await
            .map_err(io(format!("opening {}", path.display())))?;
        file.seek(SeekFrom::Start(offset))
            .await
            .map_err(io("seeking past shard metadata"))?;
        let mut hasher = ShardHasher::new();
        let mut buffer = vec![0u8; 256 * 1024];
        loop {
            let read = file
                .read(&mut buffer)
                .await
                .map_err(io("reading a shard"))?;
            if read == 0 {
                break;
            }
            hasher.update(&buffer[..read]);
        }
        let actual = hasher.finish();
        let expected = Hash32::from_str(&entry.meta.checksum).unwrap_or(Hash32::ZERO);
        if actual != expected {
            self.mark_corrupt(object, shard);
        }
        Ok((expected, actual))
    }
}

async fn sync_directory(directory: &Path) -> Result<(), StoreError> {
    let handle = tokio::fs::File::open(directory)
        .await
        .map_err(io(format!("opening {}", directory.display())))?;
    handle
        .sync_all()
        .await
        .map_err(io(format!("syncing {}", directory.display())))
}

/// A shard file's metadata and the offset of its bytes.
async fn read_meta(path: &Path) -> Result<(ShardMeta, u64), StoreError> {
    let mut file = tokio::fs::File::open(path)
        .await
        .map_err(io(format!("opening {}", path.display())))?;
    let mut length = [0u8; 4];
    file.read_exact(&mut length)
        .await
        .map_err(io(format!("reading {}", path.display())))?;
    let length = u32::from_le_bytes(length);
    if length > MAX_META_BYTES {
        return Err(StoreError::Io {
            context: format!("{}: metadata of {length} bytes", path.display()),
            source: std::io::Error::from(std::io::ErrorKind::InvalidData),
        });
    }
    let mut json = vec![0u8; length as usize];
    file.read_exact(&mut json)
        .await
        .map_err(io(format!("reading {}", path.display())))?;
    let meta: ShardMeta = serde_json::from_slice(&json).map_err(|error| StoreError::Io {
        context: format!("{}: metadata", path.display()),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, error),
    })?;
    Ok((meta, 4 + u64::from(length)))
}

/// Keeps `PublicKey` parsing in one place for the service.
pub fn parse_public_key(text: &str) -> Option<PublicKey> {
    let bytes = hex::decode(text.trim()).ok()?;
    let array: [u8; 32] = bytes.try_into().ok()?;
    Some(PublicKey(array))
}
