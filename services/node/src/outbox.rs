//! The outbox: every change of the best chain as the message that will be
//! published ([`chain::stream::BlockMessage`]), in a durable append-only
//! log in the data dir, plus the cursor of what JetStream acknowledged.
//!
//! Why a log of its own: a message must be publishable after a crash even
//! when the chain has moved on (a revert needs the events of a block whose
//! diff the store has dropped), and its outbox sequence and message ID
//! must be the same every time it is sent, so JetStream's duplicate window
//! drops a resend. The log is the stream as the node intends it.
//!
//! Files (`<data dir>/outbox/`):
//!
//! * `log`: records `u32le payload length ‖ u64le sequence ‖ u8 kind (0
//!   applied, 1 reverted) ‖ u64le height ‖ block ID[32] ‖ payload ‖
//!   BLAKE2b-256(everything before)[0..8]`; the payload is the canonical
//!   `BlockMessage`. A torn last record (crash while appending) is cut off
//!   at open; a bad record before the end is corruption and refused.
//! * `cursor`: the last sequence acknowledged by JetStream, 8 bytes LE,
//!   replaced atomically (write a temporary file, fsync, rename, fsync
//!   the directory).
//!
//! [`Outbox::follow`] makes the log catch up with the chain: from the
//! *stream view* (the chain the log describes: applied minus reverted) it
//! appends `Reverted` for view blocks no longer on the main chain (their
//! applied events inverted, newest first) and `Applied` for main-chain
//! blocks above the fork point (events from the stored diff), then fsyncs
//! once. Called after every commit and at start, it also repairs a crash
//! between a chain commit and the log append. Genesis is published as the
//! first `Applied` message (height 0, no events: the chain has no diff
//! for genesis; read models take the allocation from its transaction).
//!
//! Not done yet: compaction. The log grows with the chain (about the size
//! of the block store again); entries acknowledged and below the finality
//! horizon could be dropped.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest};
use chain::stream::{BlockMessage, BlockMessageKind, message_id};
use chain::{Chain, ChainStore};
use ledger::{BlockHeight, BlockId, Hash32};
use thiserror::Error;
use tracing::{info, warn};

const HEADER_BYTES: usize = 4 + 8 + 1 + 8 + 32;
const CHECKSUM_BYTES: usize = 8;
/// Applies appended (and fsynced) at a time when following a long chain.
const FOLLOW_CHUNK: usize = 256;

/// Why the outbox cannot be used.
#[derive(Debug, Error)]
pub enum OutboxError {
    #[error("outbox {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("outbox log {path}: record at byte {offset} is corrupt ({reason})")]
    Corrupt {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    #[error("outbox: sequence {sequence} is not in the log (1..={last})")]
    NoSuchSequence { sequence: u64, last: u64 },
    #[error("outbox: the chain has no block at height {height} on its main chain")]
    MissingMainBlock { height: BlockHeight },
    #[error("outbox: block {id} (height {height}) is not in the chain's store")]
    MissingBlock { id: BlockId, height: BlockHeight },
    #[error("outbox: the store has no diff for main-chain block {id} at height {height}")]
    MissingDiff { id: BlockId, height: BlockHeight },
    #[error("outbox: reading the chain store: {0}")]
    Store(String),
    #[error("outbox: log record {sequence} does not decode: {reason}")]
    Decode { sequence: u64, reason: String },
}

/// What the index keeps of one log record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub sequence: u64,
    pub kind: BlockMessageKind,
    pub height: BlockHeight,
    pub block: BlockId,
    offset: u64,
    length: u32,
}

impl Entry {
    /// The JetStream message ID of this entry.
    pub fn message_id(&self) -> String {
        message_id(self.kind, &self.block, self.sequence)
    }
}

/// The log, its index, the stream view and the acknowledged cursor.
pub struct Outbox {
    dir: PathBuf,
    file: File,
    end: u64,
    entries: Vec<Entry>,
    /// The stream view: index = height, value = (block, sequence of its
    /// `Applied` entry).
    view: Vec<(BlockId, u64)>,
    acked: u64,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("dir", &self.dir)
            .field("last", &self.last_sequence())
            .field("acked", &self.acked)
            .finish()
    }
}

fn checksum(bytes: &[u8]) -> [u8; CHECKSUM_BYTES] {
    let digest = Blake2b::<U32>::digest(bytes);
    let mut out = [0u8; CHECKSUM_BYTES];
    out.copy_from_slice(&digest[..CHECKSUM_BYTES]);
    out
}

fn kind_byte(kind: BlockMessageKind) -> u8 {
    match kind {
        BlockMessageKind::Applied => 0,
        BlockMessageKind::Reverted => 1,
    }
}

impl Outbox {
    /// Opens (or creates) the outbox in `dir`, cutting a torn last record.
    pub fn open(dir: &Path) -> Result<Outbox, OutboxError> {
        Outbox::open_with(dir, true)
    }

    /// Opens an existing outbox for reading only (`node republish` next to
    /// a running node): nothing is created or cut.
    pub fn open_read_only(dir: &Path) -> Result<Outbox, OutboxError> {
        Outbox::open_with(dir, false)
    }

    fn open_with(dir: &Path, writable: bool) -> Result<Outbox, OutboxError> {
        let io = |source| OutboxError::Io {
            path: dir.to_owned(),
            source,
        };
        if writable {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let path = dir.join("log");
        let file = OpenOptions::new()
            .create(writable)
            .truncate(false)
            .read(true)
            .append(writable)
            .open(&path)
            .map_err(|source| OutboxError::Io {
                path: path.clone(),
                source,
            })?;
        let length = file
            .metadata()
            .map_err(|source| OutboxError::Io {
                path: path.clone(),
                source,
            })?
            .len();
        let mut outbox = Outbox {
            dir: dir.to_owned(),
            file,
            end: 0,
            entries: Vec::new(),
            view: Vec::new(),
            acked: 0,
        };
        let good_end = outbox.scan(&path, length)?;
        if good_end < length && writable {
            warn!(
                path = %path.display(),
                cut = length - good_end,
                "outbox: cutting a torn last record (crash while appending)"
            );
            outbox
                .file
                .set_len(good_end)
                .and_then(|()| outbox.file.sync_all())
                .map_err(|source| OutboxError::Io {
                    path: path.clone(),
                    source,
                })?;
        }
        outbox.end = good_end;
        outbox.acked = read_cursor(dir)?.min(outbox.last_sequence());
        info!(
            entries = outbox.entries.len(),
            acked = outbox.acked,
            view_height = outbox.view.len().saturating_sub(1),
            "outbox opened"
        );
        Ok(outbox)
    }

    /// Reads every record; returns the end of the last good one.
    fn scan(&mut self, path: &Path, length: u64) -> Result<u64, OutboxError> {
        let file = self.file.try_clone().map_err(|source| OutboxError::Io {
            path: path.to_owned(),
            source,
        })?;
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let mut offset = 0u64;
        let mut header = [0u8; HEADER_BYTES];
        let mut body = Vec::new();
        loop {
            if offset == length {
                return Ok(offset);
            }
            if length - offset < (HEADER_BYTES + CHECKSUM_BYTES) as u64 {
                return Ok(offset);
            }
            reader
                .read_exact(&mut header)
                .map_err(|source| OutboxError::Io {
                    path: path.to_owned(),
                    source,
                })?;
            let payload_length = u32::from_le_bytes(header[0..4].try_into().unwrap_or([0; 4]));
            let record_length = (HEADER_BYTES + CHECKSUM_BYTES) as u64 + u64::from(payload_length);
            if length - offset < record_length {
                return Ok(offset);
            }
            body.resize(payload_length as usize + CHECKSUM_BYTES, 0);
            reader
                .read_exact(&mut body)
                .map_err(|source| OutboxError::Io {
                    path: path.to_owned(),
                    source,
                })?;
            let mut hasher = Blake2b::<U32>::new();
            hasher.update(header);
            hasher.update(&body[..payload_length as usize]);
            let digest = hasher.finalize();
            let last = offset + record_length == length;
            if digest[..CHECKSUM_BYTES] != body[payload_length as usize..] {
                if last {
                    return Ok(offset);
                }
                return Err(OutboxError::Corrupt {
                    path: path.to_owned(),
                    offset,
                    reason: "checksum mismatch".to_owned(),
                });
            }
            let sequence = u64::from_le_bytes(header[4..12].try_into().unwrap_or([0; 8]));
            let kind = match header[12] {
                0 => BlockMessageKind::Applied,
                1 => BlockMessageKind::Reverted,
                other => {
                    return Err(OutboxError::Corrupt {
                        path: path.to_owned(),
                        offset,
                        reason: format!("unknown kind byte {other}"),
                    });
                }
            };
            let height = BlockHeight(u64::from_le_bytes(
                header[13..21].try_into().unwrap_or([0; 8]),
            ));
            let block = BlockId(Hash32(header[21..53].try_into().unwrap_or([0; 32])));
            let expected = self.last_sequence() + 1;
            if sequence != expected {
                return Err(OutboxError::Corrupt {
                    path: path.to_owned(),
                    offset,
                    reason: format!("sequence {sequence}, expected {expected}"),
                });
            }
            self.index(Entry {
                sequence,
                kind,
                height,
                block,
                offset,
                length: payload_length,
            })
            .map_err(|reason| OutboxError::Corrupt {
                path: path.to_owned(),
                offset,
                reason,
            })?;
            offset += record_length;
        }
    }

    /// Adds an entry to the index and the stream view.
    fn index(&mut self, entry: Entry) -> Result<(), String> {
        match entry.kind {
            BlockMessageKind::Applied => {
                if entry.height.0 != self.view.len() as u64 {
                    return Err(format!(
                        "applied block {} at height {} on a stream view of height {}",
                        entry.block,
                        entry.height,
                        self.view.len() as i128 - 1
                    ));
                }
                self.view.push((entry.block, entry.sequence));
            }
            BlockMessageKind::Reverted => match self.view.last() {
                Some((top, _)) if *top == entry.block => {
                    self.view.pop();
                }
                _ => {
                    return Err(format!(
                        "reverted block {} is not the stream view's tip",
                        entry.block
                    ));
                }
            },
        }
        self.entries.push(entry);
        Ok(())
    }

    /// The folder of the outbox.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The sequence of the last logged message (0: none).
    pub fn last_sequence(&self) -> u64 {
        self.entries.len() as u64
    }

    /// The last sequence acknowledged by JetStream.
    pub fn acked(&self) -> u64 {
        self.acked
    }

    /// The tip of the stream view (the chain the log describes).
    pub fn view_tip(&self) -> Option<(BlockId, BlockHeight)> {
        let height = self.view.len().checked_sub(1)?;
        self.view
            .last()
            .map(|(id, _)| (*id, BlockHeight(height as u64)))
    }

    /// The entry with `sequence`.
    pub fn entry(&self, sequence: u64) -> Result<Entry, OutboxError> {
        sequence
            .checked_sub(1)
            .and_then(|index| self.entries.get(index as usize))
            .copied()
            .ok_or(OutboxError::NoSuchSequence {
                sequence,
                last: self.last_sequence(),
            })
    }

    /// The `Applied` entry of the stream view's block at `height`.
    pub fn applied_at(&self, height: BlockHeight) -> Option<Entry> {
        let (_, sequence) = self.view.get(usize::try_from(height.0).ok()?)?;
        self.entry(*sequence).ok()
    }

    /// The canonical message bytes of `sequence`.
    pub fn payload(&self, sequence: u64) -> Result<(Entry, Vec<u8>), OutboxError> {
        let entry = self.entry(sequence)?;
        let mut bytes = vec![0u8; entry.length as usize];
        self.file
            .read_exact_at(&mut bytes, entry.offset + HEADER_BYTES as u64)
            .map_err(|source| OutboxError::Io {
                path: self.dir.join("log"),
                source,
            })?;
        Ok((entry, bytes))
    }

    /// The decoded message of `sequence`.
    pub fn message(&self, sequence: u64) -> Result<BlockMessage, OutboxError> {
        let (_, bytes) = self.payload(sequence)?;
        BlockMessage::decode(&bytes).map_err(|error| OutboxError::Decode {
            sequence,
            reason: error.to_string(),
        })
    }

    /// Records that JetStream acknowledged everything up to `sequence`.
    pub fn set_acked(&mut self, sequence: u64) -> Result<(), OutboxError> {
        let sequence = sequence.min(self.last_sequence());
        if sequence == self.acked {
            return Ok(());
        }
        write_cursor(&self.dir, sequence)?;
        self.acked = sequence;
        Ok(())
    }

    /// Appends the messages that bring the stream view to the chain's main
    /// chain; fsyncs once. Returns how many were appended.
    pub fn follow<S: ChainStore>(&mut self, chain: &Chain<S>) -> Result<usize, OutboxError> {
        let mut total = 0;
        loop {
            let appended = self.follow_some(chain, FOLLOW_CHUNK)?;
            total += appended;
            if appended < FOLLOW_CHUNK {
                return Ok(total);
            }
        }
    }

    /// One step of [`Outbox::follow`]: at most about `limit` messages
    /// (all reverts down to the fork point, then up to `limit` applies),
    /// so a first follow of a long chain never holds it all in memory.
    fn follow_some<S: ChainStore>(
        &mut self,
        chain: &Chain<S>,
        limit: usize,
    ) -> Result<usize, OutboxError> {
        let mut buffer = Vec::new();
        let mut staged: Vec<Entry> = Vec::new();
        // Work on copies of the view so a failure leaves the outbox as it was.
        let mut view = self.view.clone();
        let mut next = self.last_sequence() + 1;
        let mut offset = self.end;
        while let Some(&(id, applied_sequence)) = view.last() {
            let height = BlockHeight(view.len() as u64 - 1);
            if chain.main_chain_id(height) == Some(id) {
                break;
            }
            let applied = self.message(applied_sequence)?;
            let message = BlockMessage {
                kind: BlockMessageKind::Reverted,
                height,
                outbox_sequence: next,
                events: chain::events::invert(&applied.events),
                block: applied.block,
            };
            staged.push(encode_record(&mut buffer, &message, id, offset));
            offset = self.end + buffer.len() as u64;
            view.pop();
            next += 1;
        }
        let tip = chain.height();
        for height in view.len() as u64..=tip.0 {
            if staged.len() >= limit {
                break;
            }
            let height = BlockHeight(height);
            let id = chain
                .main_chain_id(height)
                .ok_or(OutboxError::MissingMainBlock { height })?;
            let block = chain
                .block(&id)
                .map_err(|error| OutboxError::Store(error.to_string()))?
                .ok_or(OutboxError::MissingBlock { id, height })?;
            let events = if height.0 == 0 {
                Vec::new()
            } else {
                chain
                    .store()
                    .diff(&id)
                    .map_err(|error| OutboxError::Store(error.to_string()))?
                    .ok_or(OutboxError::MissingDiff { id, height })?
                    .events
            };
            let message = BlockMessage {
                kind: BlockMessageKind::Applied,
                height,
                outbox_sequence: next,
                block,
                events,
            };
            staged.push(encode_record(&mut buffer, &message, id, offset));
            offset = self.end + buffer.len() as u64;
            view.push((id, next));
            next += 1;
        }
        if staged.is_empty() {
            return Ok(0);
        }
        let path = self.dir.join("log");
        let io = |source| OutboxError::Io {
            path: path.clone(),
            source,
        };
        let written = self
            .file
            .write_all(&buffer)
            .and_then(|()| self.file.sync_data());
        if let Err(source) = written {
            // Cut whatever part was written, so the log stays whole.
            let _ = self.file.set_len(self.end);
            return Err(io(source));
        }
        self.end += buffer.len() as u64;
        let count = staged.len();
        for entry in staged {
            self.index(entry).map_err(|reason| OutboxError::Corrupt {
                path: path.clone(),
                offset: entry.offset,
                reason,
            })?;
        }
        debug_assert_eq!(view, self.view);
        Ok(count)
    }
}

/// Appends one record for `message` to `buffer`; returns its index entry.
fn encode_record(buffer: &mut Vec<u8>, message: &BlockMessage, id: BlockId, offset: u64) -> Entry {
    let payload = message.encode();
    let start = buffer.len();
    let length = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    buffer.extend_from_slice(&length.to_le_bytes());
    buffer.extend_from_slice(&message.outbox_sequence.to_le_bytes());
    buffer.push(kind_byte(message.kind));
    buffer.extend_from_slice(&message.height.0.to_le_bytes());
    buffer.extend_from_slice(&id.0.0);
    buffer.extend_from_slice(&payload);
    let sum = checksum(&buffer[start..]);
    buffer.extend_from_slice(&sum);
    Entry {
        sequence: message.outbox_sequence,
        kind: message.kind,
        height: message.height,
        block: id,
        offset,
        length,
    }
}

fn read_cursor(dir: &Path) -> Result<u64, OutboxError> {
    let path = dir.join("cursor");
    match std::fs::read(&path) {
        Ok(bytes) => {
            let bytes: [u8; 8] = bytes
                .as_slice()
                .try_into()
                .map_err(|_| OutboxError::Corrupt {
                    path: path.clone(),
                    offset: 0,
                    reason: format!("cursor file has {} bytes, expected 8", bytes.len()),
                })?;
            Ok(u64::from_le_bytes(bytes))
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(source) => Err(OutboxError::Io { path, source }),
    }
}

fn write_cursor(dir: &Path, sequence: u64) -> Result<(), OutboxError> {
    let path = dir.join("cursor");
    let temporary = dir.join("cursor.tmp");
    let io = |source| OutboxError::Io {
        path: path.clone(),
        source,
    };
    let mut file = File::create(&temporary).map_err(io)?;
    file.write_all(&sequence.to_le_bytes()).map_err(io)?;
    file.sync_data().map_err(io)?;
    std::fs::rename(&temporary, &path).map_err(io)?;
    File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chain::mempool::{Mempool, MempoolConfig};
    use chain::{ChainConfig, ManualClock, MemoryStore};
    use ledger::{SecretKey, Timestamp};
    use std::sync::Arc;

    fn grow(chain: &mut Chain<MemoryStore>, clock: &ManualClock, blocks: usize) {
        let mut creator = crate::creation::Creator::new(vec![SecretKey::from_seed([1; 32])], 2);
        let pool = Mempool::new(MempoolConfig::default(), chain);
        let target = chain.height().0 + blocks as u64;
        while chain.height().0 < target {
            clock.advance(1);
            if let Some(block) = creator.try_create(chain, &pool).unwrap() {
                chain.accept_block(block).unwrap();
            }
        }
    }

    #[test]
    fn follows_the_chain_survives_reopen_and_cuts_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let config = Arc::new(ChainConfig::devnet().unwrap());
        let clock = Arc::new(ManualClock::new(Timestamp(
            config.genesis.header.timestamp.0 + 100,
        )));
        let mut chain = Chain::in_memory(config, clock.clone()).unwrap();
        grow(&mut chain, &clock, 3);
        let mut outbox = Outbox::open(dir.path()).unwrap();
        assert_eq!(outbox.follow(&chain).unwrap(), 4);
        assert_eq!(outbox.follow(&chain).unwrap(), 0);
        assert_eq!(outbox.view_tip(), Some((chain.tip().id, BlockHeight(3))));
        let message = outbox.message(2).unwrap();
        assert_eq!(message.kind, BlockMessageKind::Applied);
        assert_eq!(message.height, BlockHeight(1));
        assert_eq!(message.outbox_sequence, 2);
        assert!(!message.events.is_empty());
        outbox.set_acked(3).unwrap();
        drop(outbox);

        // A torn record at the end is cut; the cursor survives.
        let log = dir.path().join("log");
        let mut file = OpenOptions::new().append(true).open(&log).unwrap();
        file.write_all(&[9, 9, 9, 0, 0, 0, 0]).unwrap();
        drop(file);
        let outbox = Outbox::open(dir.path()).unwrap();
        assert_eq!(outbox.last_sequence(), 4);
        assert_eq!(outbox.acked(), 3);
        assert_eq!(outbox.applied_at(BlockHeight(2)).unwrap().sequence, 3);
    }

    #[test]
    fn a_long_chain_is_followed_in_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let config = Arc::new(ChainConfig::devnet().unwrap());
        let clock = Arc::new(ManualClock::new(Timestamp(
            config.genesis.header.timestamp.0 + 100,
        )));
        let mut chain = Chain::in_memory(config, clock.clone()).unwrap();
        grow(&mut chain, &clock, FOLLOW_CHUNK + 20);
        let mut outbox = Outbox::open(dir.path()).unwrap();
        assert_eq!(outbox.follow(&chain).unwrap(), FOLLOW_CHUNK + 21);
        assert_eq!(
            outbox.view_tip(),
            Some((chain.tip().id, BlockHeight(FOLLOW_CHUNK as u64 + 20)))
        );
        drop(outbox);
        let reopened = Outbox::open(dir.path()).unwrap();
        assert_eq!(reopened.last_sequence(), FOLLOW_CHUNK as u64 + 21);
    }

    #[test]
    fn a_new_chain_under_an_old_log_is_reverted_then_applied() {
        let dir = tempfile::tempdir().unwrap();
        let config = Arc::new(ChainConfig::devnet().unwrap());
        let start = config.genesis.header.timestamp.0 + 100;
        let clock = Arc::new(ManualClock::new(Timestamp(start)));
        let mut first = Chain::in_memory(config.clone(), clock.clone()).unwrap();
        grow(&mut first, &clock, 2);
        let mut outbox = Outbox::open(dir.path()).unwrap();
        outbox.follow(&first).unwrap();
        let old_tip = first.tip().id;

        // Another chain from the same genesis (later timestamps).
        clock.set(Timestamp(start + 1_000));
        let mut second = Chain::in_memory(config, clock.clone()).unwrap();
        grow(&mut second, &clock, 3);
        let appended = outbox.follow(&second).unwrap();
        assert_eq!(appended, 2 + 3);
        let first_revert = outbox.message(4).unwrap();
        assert_eq!(first_revert.kind, BlockMessageKind::Reverted);
        assert_eq!(first_revert.block_id(), old_tip);
        assert!(
            first_revert
                .events
                .iter()
                .all(|e| e.direction == chain::Direction::Revert)
        );
        assert_eq!(outbox.view_tip(), Some((second.tip().id, BlockHeight(3))));
        drop(outbox);
        let reopened = Outbox::open(dir.path()).unwrap();
        assert_eq!(reopened.view_tip(), Some((second.tip().id, BlockHeight(3))));
    }
}
