//! Notary: a document's hash is the unkeyed BLAKE2b-256 of its bytes (what
//! `b2sum -l 256` prints and the explorer computes in the browser),
//! recorded by a transaction carrying a notary payload.

use std::io::Read as _;
use std::path::Path;

use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest};
use ledger::payload::NotaryRecord;
use ledger::{Hash32, Payload};

use crate::error::WalletError;

/// BLAKE2b-256 of the file's bytes, read in chunks.
pub fn document_hash(path: &Path) -> Result<Hash32, WalletError> {
    let io = |source| WalletError::Io {
        what: format!("reading {}", path.display()),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hasher = Blake2b::<U32>::new();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = file.read(&mut buffer).map_err(io)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(Hash32(hasher.finalize().into()))
}

/// The payload recording `hash`.
pub fn payload(hash: Hash32) -> Payload {
    Payload::Notary(NotaryRecord {
        document_hash: hash,
    })
}
