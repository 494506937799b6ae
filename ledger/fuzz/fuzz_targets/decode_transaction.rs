//! Decodes arbitrary bytes as a transaction. Decoding must never panic; if
//! it succeeds the bytes must be the canonical encoding, and stateless
//! validation and ID computation must not panic either.

#![no_main]

use ledger::validation::{FeeRule, validate_transaction};
use ledger::{NetworkParams, Transaction, codec};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(transaction) = codec::decode::<Transaction>(data) {
        assert_eq!(codec::encode(&transaction), data, "decode accepted non-canonical bytes");
        let _ = transaction.id();
        let _ = validate_transaction(&transaction, &NetworkParams::devnet(), FeeRule::Required);
    }
});
