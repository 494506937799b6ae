//! Decodes arbitrary bytes as p2p frames. Must never panic; a frame that
//! decodes must re-encode to exactly its bytes (canonical), both for one
//! whole frame and for a stream of frames fed through the codec in pieces.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use node::p2p::frame::{decode_frame, encode_frame};
use node::p2p::{FrameCodec, MessageLimits};
use tokio_util::codec::Decoder;

/// Devnet block size limit plus the frame margin, as the node configures it.
const MAX_FRAME: usize = 2_000_000 + 64 * 1024;

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = decode_frame(data, MAX_FRAME) {
        let _ = message.check_limits(&MessageLimits::default());
        let again = encode_frame(&message, MAX_FRAME).expect("a decoded message fits its frame");
        assert_eq!(again, data, "frame decode accepted non-canonical bytes");
    }

    // The same bytes as a stream, arriving in chunks of 1..=7 bytes.
    let mut codec = FrameCodec::new(MAX_FRAME);
    let mut buffer = BytesMut::new();
    let mut offset = 0;
    let mut consumed = 0;
    let chunk = usize::from(data.first().copied().unwrap_or(0) % 7) + 1;
    while offset < data.len() {
        let end = (offset + chunk).min(data.len());
        buffer.extend_from_slice(&data[offset..end]);
        offset = end;
        loop {
            let before = buffer.len();
            match codec.decode(&mut buffer) {
                Ok(Some(message)) => {
                    let used = before - buffer.len();
                    let frame = encode_frame(&message, MAX_FRAME).expect("fits");
                    assert_eq!(frame, data[consumed..consumed + used]);
                    consumed += used;
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
});
