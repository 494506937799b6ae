//! Decodes arbitrary bytes as a block. Decoding must never panic; if it
//! succeeds the bytes must be the canonical encoding, and stateless
//! validation must not panic either.

#![no_main]

use ledger::validation::validate_block;
use ledger::{Block, NetworkParams, codec};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(block) = codec::decode::<Block>(data) {
        assert_eq!(codec::encode(&block), data, "decode accepted non-canonical bytes");
        let _ = block.id();
        let _ = validate_block(block, &NetworkParams::devnet());
    }
});
