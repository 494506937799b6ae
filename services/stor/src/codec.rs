//! The client-side pipeline of zero storage, streaming in fixed-size
//! chunks so objects larger than memory work (a chunk and its `k + m`
//! pieces are the only buffers):
//!
//! ```text
//! read chunk i ─► zstd (kept only if smaller) ─► XChaCha20-Poly1305 ─►
//!   Reed–Solomon k + m ─► piece i of shard 0 … piece i of shard k+m−1
//! ```
//!
//! Each shard is one file (on one stor-node): a [`ShardHeader`] then one
//! framed piece per chunk. A frame carries the chunk index, the plain,
//! compressed-and-encrypted and piece lengths, a flag byte and a BLAKE2b-256
//! checksum of all of it, so a reader knows which piece is corrupt and reads
//! another shard instead. The nonce is `salt ‖ u64le(chunk index)` (unique
//! per key: every object has its own key) and the associated data binds the
//! object ID, chunk index, flags and plain length, so pieces cannot be
//! swapped between chunks or objects undetected.
//!
//! Layouts (all integers little-endian):
//!
//! ```text
//! header (64 bytes): "BSSHARD1" ‖ object id[32] ‖ shard index u8 ‖ k u8 ‖ m u8
//!                    ‖ compression u8 ‖ salt[16] ‖ chunk bytes u32
//! frame:             chunk index u64 ‖ plain len u32 ‖ sealed len u32
//!                    ‖ piece len u32 ‖ flags u8 ‖ 0u8 ×3 ‖ checksum[32] ‖ piece
//! ```

use std::io::{self, Read, Write};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use ledger::Hash32;
use ledger::payload::storage::{MAX_TOTAL_SHARDS, ObjectId};
use reed_solomon_erasure::galois_8::ReedSolomon;
use thiserror::Error;

use crate::keys::{ContentHasher, ObjectKey, Salt, ShardHasher, piece_checksum};

const MAGIC: &[u8; 8] = b"BSSHARD1";
/// Bytes of a shard header.
pub const HEADER_BYTES: usize = 64;
const FRAME_FIELDS_BYTES: usize = 24;
/// Bytes a frame adds to its piece.
pub const FRAME_OVERHEAD_BYTES: usize = FRAME_FIELDS_BYTES + 32;
const FLAG_COMPRESSED: u8 = 1;
const SEAL_TAG_BYTES: usize = 16;
const ZSTD_LEVEL: i32 = 3;

/// The smallest and largest chunk sizes.
pub const MIN_CHUNK_BYTES: u32 = 1024;
pub const MAX_CHUNK_BYTES: u32 = 64 << 20;
/// The default chunk: 4 MiB.
pub const DEFAULT_CHUNK_BYTES: u32 = 4 << 20;

/// Whether chunks are compressed before encryption.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    /// zstd level 3; a chunk that does not shrink is stored as is.
    Zstd,
}

impl Compression {
    fn code(self) -> u8 {
        match self {
            Compression::None => 0,
            Compression::Zstd => 1,
        }
    }
}

/// How an object is coded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodecParams {
    pub data_shards: u8,
    pub parity_shards: u8,
    pub chunk_bytes: u32,
    pub compression: Compression,
}

impl CodecParams {
    pub fn total_shards(&self) -> usize {
        usize::from(self.data_shards) + usize::from(self.parity_shards)
    }

    pub fn validate(&self) -> Result<(), CodecError> {
        if self.data_shards == 0 || self.total_shards() > MAX_TOTAL_SHARDS {
            return Err(CodecError::Shards {
                data: self.data_shards,
                parity: self.parity_shards,
            });
        }
        if !(MIN_CHUNK_BYTES..=MAX_CHUNK_BYTES).contains(&self.chunk_bytes) {
            return Err(CodecError::ChunkSize(self.chunk_bytes));
        }
        Ok(())
    }

    /// How many chunks an object of `size` bytes has.
    pub fn chunks(&self, size: u64) -> u64 {
        size.div_ceil(u64::from(self.chunk_bytes))
    }

    /// The largest piece a chunk can produce (sealed chunk split in `k`).
    fn max_piece_bytes(&self) -> usize {
        // zstd output may exceed its input slightly, but an uncompressible
        // chunk is stored uncompressed, so a sealed chunk is at most
        // chunk + tag bytes.
        (self.chunk_bytes as usize + SEAL_TAG_BYTES).div_ceil(usize::from(self.data_shards))
    }

    /// The exact length of one shard file of an object of `size` bytes,
    /// when no chunk is compressed (an upper bound otherwise).
    pub fn max_shard_bytes(&self, size: u64) -> u64 {
        let mut total = HEADER_BYTES as u64;
        let chunk = u64::from(self.chunk_bytes);
        let full = size / chunk;
        let last = size % chunk;
        let piece = |plain: u64| {
            (plain + SEAL_TAG_BYTES as u64).div_ceil(u64::from(self.data_shards))
                + FRAME_OVERHEAD_BYTES as u64
        };
        total += full * piece(chunk);
        if last > 0 {
            total += piece(last);
        }
        total
    }
}

/// Why encoding or decoding failed.
#[derive(Debug, Error)]
pub enum CodecError {
    #[error(
        "{data} data + {parity} parity shards: need at least 1 data shard and at most {MAX_TOTAL_SHARDS} in all"
    )]
    Shards { data: u8, parity: u8 },
    #[error("chunk size {0} bytes is outside {MIN_CHUNK_BYTES}..={MAX_CHUNK_BYTES}")]
    ChunkSize(u32),
    #[error("reading the object: {0}")]
    Input(#[source] io::Error),
    #[error("writing shard {shard}: {source}")]
    ShardWrite { shard: usize, source: io::Error },
    #[error("writing the object: {0}")]
    Output(#[source] io::Error),
    #[error("{count} shard writers for {expected} shards")]
    WriterCount { count: usize, expected: usize },
    #[error("chunk {chunk}: compression failed: {source}")]
    Compress { chunk: u64, source: io::Error },
    #[error("chunk {chunk} does not decrypt: wrong key or tampered pieces")]
    Decrypt { chunk: u64 },
    #[error("chunk {chunk} does not decompress: {reason}")]
    Decompress { chunk: u64, reason: String },
    #[error("chunk {chunk} is {got} bytes, its frame says {expected}")]
    PlainLength {
        chunk: u64,
        expected: u32,
        got: usize,
    },
    #[error("chunk {chunk}: only {usable} usable shards ({bad}); {needed} are needed")]
    TooFewShards {
        chunk: u64,
        usable: usize,
        needed: usize,
        bad: String,
    },
    #[error("the object's content hash is {got}, its registration says {expected}")]
    ContentMismatch { expected: Hash32, got: Hash32 },
    #[error("erasure coding: {0}")]
    Erasure(String),
}

/// Why one shard was set aside while decoding.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ShardFault {
    #[error("shard {shard}: read failed: {reason}")]
    Read { shard: usize, reason: String },
    #[error("shard {shard}: not a shard file (bad magic)")]
    Magic { shard: usize },
    #[error("shard {shard}: header {field} is {got}, expected {expected}")]
    Header {
        shard: usize,
        field: &'static str,
        got: String,
        expected: String,
    },
    #[error("shard {shard}: piece of chunk {chunk} fails its checksum")]
    Checksum { shard: usize, chunk: u64 },
    #[error("shard {shard}: frame of chunk {chunk} is malformed: {reason}")]
    Frame {
        shard: usize,
        chunk: u64,
        reason: String,
    },
}

impl ShardFault {
    pub fn shard(&self) -> usize {
        match self {
            ShardFault::Read { shard, .. }
            | ShardFault::Magic { shard }
            | ShardFault::Header { shard, .. }
            | ShardFault::Checksum { shard, .. }
            | ShardFault::Frame { shard, .. } => *shard,
        }
    }
}

/// The fields of a shard header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardHeader {
    pub object: ObjectId,
    pub shard_index: u8,
    pub params: CodecParams,
    pub salt: Salt,
}

impl ShardHeader {
    pub fn to_bytes(&self) -> [u8; HEADER_BYTES] {
        let mut bytes = [0u8; HEADER_BYTES];
        bytes[..8].copy_from_slice(MAGIC);
        bytes[8..40].copy_from_slice(self.object.0.as_bytes());
        bytes[40] = self.shard_index;
        bytes[41] = self.params.data_shards;
        bytes[42] = self.params.parity_shards;
        bytes[43] = self.params.compression.code();
        bytes[44..60].copy_from_slice(&self.salt);
        bytes[60..64].copy_from_slice(&self.params.chunk_bytes.to_le_bytes());
        bytes
    }

    /// Parses a header (`None`: not a shard file or an unknown
    /// compression). Checks nothing else: compare with what is expected.
    pub fn from_bytes(bytes: &[u8]) -> Option<ShardHeader> {
        let bytes: &[u8; HEADER_BYTES] = bytes.get(..HEADER_BYTES)?.try_into().ok()?;
        if &bytes[..8] != MAGIC {
            return None;
        }
        let compression = match bytes[43] {
            0 => Compression::None,
            1 => Compression::Zstd,
            _ => return None,
        };
        Some(ShardHeader {
            object: ObjectId(Hash32(bytes[8..40].try_into().ok()?)),
            shard_index: bytes[40],
            params: CodecParams {
                data_shards: bytes[41],
                parity_shards: bytes[42],
                chunk_bytes: u32::from_le_bytes(bytes[60..64].try_into().ok()?),
                compression,
            },
            salt: bytes[44..60].try_into().ok()?,
        })
    }
}

/// Everything a finished encode tells the caller (what gets registered).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodeSummary {
    pub size: u64,
    pub chunks: u64,
    pub content_hash: Hash32,
    /// Checksum of each whole shard file, by shard index.
    pub shard_checksums: Vec<Hash32>,
    /// Bytes of each shard file.
    pub shard_bytes: Vec<u64>,
}

/// Codes one object chunk by chunk.
pub struct Encoder {
    params: CodecParams,
    object: ObjectId,
    salt: Salt,
    cipher: XChaCha20Poly1305,
    erasure: Option<ReedSolomon>,
    next_chunk: u64,
}

fn erasure(params: &CodecParams) -> Result<Option<ReedSolomon>, CodecError> {
    if params.parity_shards == 0 {
        return Ok(None);
    }
    ReedSolomon::new(
        usize::from(params.data_shards),
        usize::from(params.parity_shards),
    )
    .map(Some)
    .map_err(|error| CodecError::Erasure(format!("{error:?}")))
}

fn nonce(salt: &Salt, chunk: u64) -> XNonce {
    let mut bytes = [0u8; 24];
    bytes[..16].copy_from_slice(salt);
    bytes[16..].copy_from_slice(&chunk.to_le_bytes());
    XNonce::from(bytes)
}

fn associated_data(object: &ObjectId, chunk: u64, flags: u8, plain_len: u32) -> [u8; 45] {
    let mut bytes = [0u8; 45];
    bytes[..32].copy_from_slice(object.0.as_bytes());
    bytes[32..40].copy_from_slice(&chunk.to_le_bytes());
    bytes[40] = flags;
    bytes[41..45].copy_from_slice(&plain_len.to_le_bytes());
    bytes
}

impl Encoder {
    pub fn new(
        params: CodecParams,
        object: ObjectId,
        salt: Salt,
        key: &ObjectKey,
    ) -> Result<Encoder, CodecError> {
        params.validate()?;
        Ok(Encoder {
            params,
            object,
            salt,
            cipher: XChaCha20Poly1305::new(&key.0.into()),
            erasure: erasure(&params)?,
            next_chunk: 0,
        })
    }

    pub fn header(&self, shard_index: u8) -> ShardHeader {
        ShardHeader {
            object: self.object,
            shard_index,
            params: self.params,
            salt: self.salt,
        }
    }

    /// The framed piece of every shard for the next chunk (at most
    /// `chunk_bytes` of plaintext).
    pub fn encode_chunk(&mut self, plain: &[u8]) -> Result<Vec<Vec<u8>>, CodecError> {
        let chunk = self.next_chunk;
        let plain_len = u32::try_from(plain.len())
            .ok()
            .filter(|len| *len <= self.params.chunk_bytes)
            .ok_or(CodecError::ChunkSize(self.params.chunk_bytes))?;
        let mut flags = 0;
        let mut compressed = None;
        if self.params.compression == Compression::Zstd {
            let packed = zstd::bulk::compress(plain, ZSTD_LEVEL)
                .map_err(|source| CodecError::Compress { chunk, source })?;
            if packed.len() < plain.len() {
                flags |= FLAG_COMPRESSED;
                compressed = Some(packed);
            }
        }
        let message = compressed.as_deref().unwrap_or(plain);
        let aad = associated_data(&self.object, chunk, flags, plain_len);
        let sealed = self
            .cipher
            .encrypt(
                &nonce(&self.salt, chunk),
                Payload {
                    msg: message,
                    aad: &aad,
                },
            )
            .map_err(|_| CodecError::Decrypt { chunk })?;
        let k = usize::from(self.params.data_shards);
        let piece_len = sealed.len().div_ceil(k);
        let mut pieces: Vec<Vec<u8>> = (0..self.params.total_shards())
            .map(|index| {
                let start = (index * piece_len).min(sealed.len());
                let end = ((index + 1) * piece_len).min(sealed.len());
                let mut piece = vec![0u8; piece_len];
                if index < k {
                    piece[..end - start].copy_from_slice(&sealed[start..end]);
                }
                piece
            })
            .collect();
        if let Some(erasure) = &self.erasure {
            erasure
                .encode(&mut pieces)
                .map_err(|error| CodecError::Erasure(format!("{error:?}")))?;
        }
        // Both fit: a sealed chunk is at most MAX_CHUNK_BYTES + 16 bytes.
        let sealed_len = sealed.len() as u32;
        self.next_chunk += 1;
        Ok(pieces
            .iter()
            .map(|piece| frame_piece(chunk, plain_len, sealed_len, flags, piece))
            .collect())
    }
}

/// Frames one piece: its fields, their checksum, the piece.
fn frame_piece(chunk: u64, plain_len: u32, sealed_len: u32, flags: u8, piece: &[u8]) -> Vec<u8> {
    let mut fields = [0u8; FRAME_FIELDS_BYTES];
    fields[..8].copy_from_slice(&chunk.to_le_bytes());
    fields[8..12].copy_from_slice(&plain_len.to_le_bytes());
    fields[12..16].copy_from_slice(&sealed_len.to_le_bytes());
    fields[16..20].copy_from_slice(&(piece.len() as u32).to_le_bytes());
    fields[20] = flags;
    let mut frame = Vec::with_capacity(FRAME_OVERHEAD_BYTES + piece.len());
    frame.extend_from_slice(&fields);
    frame.extend_from_slice(piece_checksum(&fields, piece).as_bytes());
    frame.extend_from_slice(piece);
    frame
}

/// Reads up to `buffer.len()` bytes, fewer only at the end of the input.
fn fill(reader: &mut impl Read, buffer: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match reader.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

/// Encodes all of `input` into one writer per shard (shard index order),
/// chunk by chunk. `progress` is told the plaintext bytes done so far.
pub fn encode_stream<R: Read, W: Write>(
    mut encoder: Encoder,
    key: &ObjectKey,
    mut input: R,
    writers: &mut [W],
    mut progress: impl FnMut(u64),
) -> Result<EncodeSummary, CodecError> {
    let expected = encoder.params.total_shards();
    if writers.len() != expected {
        return Err(CodecError::WriterCount {
            count: writers.len(),
            expected,
        });
    }
    let mut hashers = vec![ShardHasher::new(); expected];
    let mut shard_bytes = vec![0u64; expected];
    let mut emit = |shard: usize, bytes: &[u8], writers: &mut [W]| {
        hashers[shard].update(bytes);
        shard_bytes[shard] += bytes.len() as u64;
        writers[shard]
            .write_all(bytes)
            .map_err(|source| CodecError::ShardWrite { shard, source })
    };
    for shard in 0..expected {
        let header = encoder.header(shard as u8).to_bytes();
        emit(shard, &header, writers)?;
    }
    let mut content = ContentHasher::new(key);
    let mut buffer = vec![0u8; encoder.params.chunk_bytes as usize];
    let mut size = 0u64;
    loop {
        let read = fill(&mut input, &mut buffer).map_err(CodecError::Input)?;
        if read == 0 {
            break;
        }
        content.update(&buffer[..read]);
        for (shard, frame) in encoder.encode_chunk(&buffer[..read])?.iter().enumerate() {
            emit(shard, frame, writers)?;
        }
        size += read as u64;
        progress(size);
        if read < buffer.len() {
            break;
        }
    }
    for (shard, writer) in writers.iter_mut().enumerate() {
        writer
            .flush()
            .map_err(|source| CodecError::ShardWrite { shard, source })?;
    }
    Ok(EncodeSummary {
        size,
        chunks: encoder.next_chunk,
        content_hash: content.finish(),
        shard_checksums: hashers.into_iter().map(ShardHasher::finish).collect(),
        shard_bytes,
    })
}

/// One piece read back from a shard.
#[derive(Debug, Clone)]
struct Piece {
    chunk: u64,
    plain_len: u32,
    sealed_len: u32,
    flags: u8,
    bytes: Vec<u8>,
}

/// A shard being read piece by piece.
struct ShardReader<R> {
    shard: usize,
    reader: R,
    next_chunk: u64,
}

fn read_err(shard: usize, error: io::Error) -> ShardFault {
    ShardFault::Read {
        shard,
        reason: error.to_string(),
    }
}

impl<R: Read> ShardReader<R> {
    fn open(
        shard: usize,
        mut reader: R,
        expected: &ShardHeader,
    ) -> Result<ShardReader<R>, ShardFault> {
        let mut bytes = [0u8; HEADER_BYTES];
        reader
            .read_exact(&mut bytes)
            .map_err(|error| read_err(shard, error))?;
        if &bytes[..8] != MAGIC {
            return Err(ShardFault::Magic { shard });
        }
        let wanted = ShardHeader {
            shard_index: shard as u8,
            ..*expected
        }
        .to_bytes();
        for (field, range) in [
            ("object", 8..40),
            ("shard index", 40..41),
            ("data shards", 41..42),
            ("parity shards", 42..43),
            ("compression", 43..44),
            ("salt", 44..60),
            ("chunk bytes", 60..64),
        ] {
            if bytes[range.clone()] != wanted[range.clone()] {
                return Err(ShardFault::Header {
                    shard,
                    field,
                    got: hex::encode(&bytes[range.clone()]),
                    expected: hex::encode(&wanted[range]),
                });
            }
        }
        Ok(ShardReader {
            shard,
            reader,
            next_chunk: 0,
        })
    }

    /// The piece of chunk `chunk`, skipping earlier ones.
    fn piece(&mut self, chunk: u64, max_piece: usize) -> Result<Piece, ShardFault> {
        loop {
            let piece = self.next(max_piece)?;
            if piece.chunk == chunk {
                return Ok(piece);
            }
            if piece.chunk > chunk {
                return Err(ShardFault::Frame {
                    shard: self.shard,
                    chunk,
                    reason: format!("chunk {} follows chunk {}", piece.chunk, chunk),
                });
            }
        }
    }

    fn next(&mut self, max_piece: usize) -> Result<Piece, ShardFault> {
        let shard = self.shard;
        let chunk = self.next_chunk;
        let mut fields = [0u8; FRAME_FIELDS_BYTES];
        self.reader
            .read_exact(&mut fields)
            .map_err(|error| read_err(shard, error))?;
        let mut checksum = [0u8; 32];
        self.reader
            .read_exact(&mut checksum)
            .map_err(|error| read_err(shard, error))?;
        let u32_at = |at: usize| {
            let mut four = [0u8; 4];
            four.copy_from_slice(&fields[at..at + 4]);
            u32::from_le_bytes(four)
        };
        let mut eight = [0u8; 8];
        eight.copy_from_slice(&fields[..8]);
        let frame_chunk = u64::from_le_bytes(eight);
        let piece_len = u32_at(16) as usize;
        if frame_chunk != chunk || piece_len > max_piece {
            return Err(ShardFault::Frame {
                shard,
                chunk,
                reason: format!(
                    "frame says chunk {frame_chunk} with a {piece_len}-byte piece (at most {max_piece})"
                ),
            });
        }
        let mut bytes = vec![0u8; piece_len];
        self.reader
            .read_exact(&mut bytes)
            .map_err(|error| read_err(shard, error))?;
        if piece_checksum(&fields, &bytes).0 != checksum {
            return Err(ShardFault::Checksum { shard, chunk });
        }
        self.next_chunk += 1;
        Ok(Piece {
            chunk,
            plain_len: u32_at(8),
            sealed_len: u32_at(12),
            flags: fields[20],
            bytes,
        })
    }
}

/// The shards of one object being read in step: `k` open at a time, a
/// spare opened when one fails.
struct ShardSet<R> {
    /// Not opened yet, last = lowest index.
    waiting: Vec<(usize, R)>,
    active: Vec<ShardReader<R>>,
    header: ShardHeader,
    max_piece: usize,
    faults: Vec<ShardFault>,
}

impl<R: Read> ShardSet<R> {
    fn new(shards: Vec<Option<R>>, header: ShardHeader, max_piece: usize) -> ShardSet<R> {
        let waiting = shards
            .into_iter()
            .take(header.params.total_shards())
            .enumerate()
            .filter_map(|(index, reader)| reader.map(|reader| (index, reader)))
            .rev()
            .collect();
        ShardSet {
            waiting,
            active: Vec::new(),
            header,
            max_piece,
            faults: Vec::new(),
        }
    }

    /// Up to `k` verified pieces of `chunk` (by shard index) and how many.
    fn gather(&mut self, chunk: u64, k: usize) -> (Vec<Option<Piece>>, usize) {
        let mut pieces: Vec<Option<Piece>> = vec![None; self.header.params.total_shards()];
        let mut have = 0;
        let mut cursor = 0;
        while have < k {
            if cursor == self.active.len() {
                let Some((index, reader)) = self.waiting.pop() else {
                    break;
                };
                match ShardReader::open(index, reader, &self.header) {
                    Ok(opened) => self.active.push(opened),
                    Err(fault) => self.faults.push(fault),
                }
                continue;
            }
            let reader = &mut self.active[cursor];
            match reader.piece(chunk, self.max_piece) {
                Ok(piece) => {
                    pieces[reader.shard] = Some(piece);
                    have += 1;
                    cursor += 1;
                }
                Err(fault) => {
                    self.faults.push(fault);
                    self.active.remove(cursor);
                }
            }
        }
        (pieces, have)
    }

    fn describe_faults(&self) -> String {
        self.faults
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// What the reader expects of an object (from its registration).
#[derive(Debug, Clone, Copy)]
pub struct ObjectExpectation {
    pub object: ObjectId,
    pub params: CodecParams,
    pub salt: Salt,
    pub size: u64,
    /// Checked at the end when known.
    pub content_hash: Option<Hash32>,
}

/// What a finished decode found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeSummary {
    pub size: u64,
    pub content_hash: Hash32,
    /// Shards set aside (corrupt, unreadable, wrong header), with why.
    pub faults: Vec<ShardFault>,
}

/// Decodes an object from its shard readers (`None` for shards not
/// available), reading `k` of them and opening a spare one when a piece
/// is corrupt or a read fails. Writes the plaintext to `output` chunk by
/// chunk; `progress` is told the bytes written so far.
pub fn decode_stream<R: Read, W: Write>(
    expectation: &ObjectExpectation,
    key: &ObjectKey,
    shards: Vec<Option<R>>,
    mut output: W,
    mut progress: impl FnMut(u64),
) -> Result<DecodeSummary, CodecError> {
    let params = expectation.params;
    params.validate()?;
    let k = usize::from(params.data_shards);
    let header = ShardHeader {
        object: expectation.object,
        shard_index: 0,
        params,
        salt: expectation.salt,
    };
    let cipher = XChaCha20Poly1305::new(&key.0.into());
    let erasure = erasure(&params)?;
    let mut set = ShardSet::new(shards, header, params.max_piece_bytes());
    let mut content = ContentHasher::new(key);
    let mut written = 0u64;
    let chunks = params.chunks(expectation.size);
    for chunk in 0..chunks {
        let (pieces, have) = set.gather(chunk, k);
        if have < k {
            return Err(CodecError::TooFewShards {
                chunk,
                usable: have,
                needed: k,
                bad: set.describe_faults(),
            });
        }
        let plain = decode_chunk(
            chunk,
            &expectation.object,
            &expectation.salt,
            &cipher,
            erasure.as_ref(),
            k,
            pieces,
        )?;
        content.update(&plain);
        output.write_all(&plain).map_err(CodecError::Output)?;
        written += plain.len() as u64;
        progress(written);
    }
    output.flush().map_err(CodecError::Output)?;
    let content_hash = content.finish();
    if let Some(expected) = expectation.content_hash
        && expected != content_hash
    {
        return Err(CodecError::ContentMismatch {
            expected,
            got: content_hash,
        });
    }
    Ok(DecodeSummary {
        size: written,
        content_hash,
        faults: set.faults,
    })
}

fn decode_chunk(
    chunk: u64,
    object: &ObjectId,
    salt: &Salt,
    cipher: &XChaCha20Poly1305,
    erasure: Option<&ReedSolomon>,
    k: usize,
    pieces: Vec<Option<Piece>>,
) -> Result<Vec<u8>, CodecError> {
    let Some(first) = pieces.iter().flatten().next().cloned() else {
        return Err(CodecError::TooFewShards {
            chunk,
            usable: 0,
            needed: k,
            bad: String::new(),
        });
    };
    let consistent = pieces.iter().flatten().all(|piece| {
        piece.plain_len == first.plain_len
            && piece.sealed_len == first.sealed_len
            && piece.flags == first.flags
            && piece.bytes.len() == first.bytes.len()
    });
    if !consistent || first.sealed_len as usize > first.bytes.len() * k {
        return Err(CodecError::Decrypt { chunk });
    }
    let mut shards: Vec<Option<Vec<u8>>> = pieces
        .into_iter()
        .map(|piece| piece.map(|piece| piece.bytes))
        .collect();
    if let Some(erasure) = erasure
        && shards[..k].iter().any(Option::is_none)
    {
        erasure
            .reconstruct_data(&mut shards)
            .map_err(|error| CodecError::Erasure(format!("{error:?}")))?;
    }
    let mut sealed = Vec::with_capacity(first.bytes.len() * k);
    for shard in shards.into_iter().take(k) {
        sealed.extend_from_slice(&shard.ok_or(CodecError::Decrypt { chunk })?);
    }
    sealed.truncate(first.sealed_len as usize);
    let aad = associated_data(object, chunk, first.flags, first.plain_len);
    let message = cipher
        .decrypt(
            &nonce(salt, chunk),
            Payload {
                msg: &sealed,
                aad: &aad,
            },
        )
        .map_err(|_| CodecError::Decrypt { chunk })?;
    let plain = if first.flags & FLAG_COMPRESSED != 0 {
        zstd::bulk::decompress(&message, first.plain_len as usize).map_err(|error| {
            CodecError::Decompress {
                chunk,
                reason: error.to_string(),
            }
        })?
    } else {
        message
    };
    if plain.len() != first.plain_len as usize {
        return Err(CodecError::PlainLength {
            chunk,
            expected: first.plain_len,
            got: plain.len(),
        });
    }
    Ok(plain)
}

/// Checks one shard file completely (header, every frame's checksum, the
/// whole-file checksum when given) without decrypting: what `check` and
/// the repair service use on a single shard.
pub fn verify_shard<R: Read>(
    expectation: &ObjectExpectation,
    shard: usize,
    reader: R,
    checksum: Option<Hash32>,
) -> Result<(), ShardFault> {
    struct Hashing<R> {
        inner: R,
        hasher: ShardHasher,
    }
    impl<R: Read> Read for Hashing<R> {
        fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
            let read = self.inner.read(buffer)?;
            self.hasher.update(&buffer[..read]);
            Ok(read)
        }
    }
    let header = ShardHeader {
        object: expectation.object,
        shard_index: 0,
        params: expectation.params,
        salt: expectation.salt,
    };
    let hashing = Hashing {
        inner: reader,
        hasher: ShardHasher::new(),
    };
    let mut opened = ShardReader::open(shard, hashing, &header)?;
    let max_piece = expectation.params.max_piece_bytes();
    for chunk in 0..expectation.params.chunks(expectation.size) {
        opened.piece(chunk, max_piece)?;
    }
    let mut rest = [0u8; 1];
    match opened.reader.read(&mut rest) {
        Ok(0) => {}
        Ok(_) => {
            return Err(ShardFault::Frame {
                shard,
                chunk: opened.next_chunk,
                reason: "bytes after the last chunk".to_string(),
            });
        }
        Err(error) => return Err(read_err(shard, error)),
    }
    if let Some(expected) = checksum {
        let got = opened.reader.hasher.finish();
        if got != expected {
            return Err(ShardFault::Header {
                shard,
                field: "whole-shard checksum",
                got: got.to_string(),
                expected: expected.to_string(),
            });
        }
    }
    Ok(())
}

/// Rebuilds shards from the others without the key (the repair service
/// holds no owner keys): reads `k` good shards chunk by chunk, recomputes
/// every missing piece and writes the complete shard files of `targets`
/// (shard index, writer), byte-identical to what the owner's put wrote.
/// Returns the faults met on the way.
pub fn rebuild_shards<R: Read, W: Write>(
    expectation: &ObjectExpectation,
    shards: Vec<Option<R>>,
    targets: &mut [(usize, W)],
) -> Result<Vec<ShardFault>, CodecError> {
    let params = expectation.params;
    params.validate()?;
    let total = params.total_shards();
    let k = usize::from(params.data_shards);
    let header = ShardHeader {
        object: expectation.object,
        shard_index: 0,
        params,
        salt: expectation.salt,
    };
    for (index, writer) in targets.iter_mut() {
        let bytes = ShardHeader {
            shard_index: *index as u8,
            ..header
        }
        .to_bytes();
        writer
            .write_all(&bytes)
            .map_err(|source| CodecError::ShardWrite {
                shard: *index,
                source,
            })?;
    }
    let erasure = erasure(&params)?;
    let mut set = ShardSet::new(shards, header, params.max_piece_bytes());
    for chunk in 0..params.chunks(expectation.size) {
        let (pieces, have) = set.gather(chunk, k);
        let Some(first) = pieces
            .iter()
            .flatten()
            .next()
            .cloned()
            .filter(|_| have >= k)
        else {
            return Err(CodecError::TooFewShards {
                chunk,
                usable: have,
                needed: k,
                bad: set.describe_faults(),
            });
        };
        let mut bytes: Vec<Option<Vec<u8>>> = pieces
            .into_iter()
            .map(|piece| piece.map(|piece| piece.bytes))
            .collect();
        if let Some(erasure) = &erasure {
            erasure
                .reconstruct(&mut bytes)
                .map_err(|error| CodecError::Erasure(format!("{error:?}")))?;
        }
        for (index, writer) in targets.iter_mut() {
            let piece =
                bytes
                    .get(*index)
                    .and_then(Option::as_ref)
                    .ok_or(CodecError::TooFewShards {
                        chunk,
                        usable: have,
                        needed: total,
                        bad: format!("shard {index} cannot be rebuilt without parity"),
                    })?;
            let frame = frame_piece(chunk, first.plain_len, first.sealed_len, first.flags, piece);
            writer
                .write_all(&frame)
                .map_err(|source| CodecError::ShardWrite {
                    shard: *index,
                    source,
                })?;
        }
    }
    for (index, writer) in targets.iter_mut() {
        writer.flush().map_err(|source| CodecError::ShardWrite {
            shard: *index,
            source,
        })?;
    }
    Ok(set.faults)
}

#[cfg(test)]
mod tests;
