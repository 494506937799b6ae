//! Framing: each message travels as a `u32` little-endian payload length
//! followed by that many bytes, the canonical encoding of one [`Message`].
//!
//! [`FrameCodec`] is a `tokio_util` codec. It refuses a length above its
//! maximum (or zero) as soon as the four length bytes are in, before
//! reserving or waiting for the payload, and decodes the payload with the
//! strict canonical decoder, so trailing or non-canonical bytes are refused.
//! It counts the bytes it decodes and encodes for the metrics.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use ledger::codec::{self, DecodeError};
use thiserror::Error;
use tokio_util::codec::{Decoder, Encoder};

use super::message::Message;

/// Bytes of the length prefix.
pub const LENGTH_PREFIX_BYTES: usize = 4;

/// Why a frame was refused.
#[derive(Debug, Error)]
pub enum FrameError {
    #[error("frame length {length} exceeds the maximum of {max} bytes")]
    Oversized { length: usize, max: usize },
    #[error("frame length 0: every frame carries a message")]
    Empty,
    #[error("frame payload of {length} bytes is not a canonical message: {source}")]
    Undecodable { length: usize, source: DecodeError },
    #[error("outgoing {kind} message of {length} bytes exceeds the frame maximum of {max}")]
    OutgoingTooLarge {
        kind: &'static str,
        length: usize,
        max: usize,
    },
    #[error("socket error: {0}")]
    Io(#[from] std::io::Error),
}

impl FrameError {
    /// Whether the peer sent bytes that break the protocol (as opposed to a
    /// socket failure or our own message being too large).
    pub fn is_peer_fault(&self) -> bool {
        matches!(
            self,
            FrameError::Oversized { .. } | FrameError::Empty | FrameError::Undecodable { .. }
        )
    }
}

/// A message encoded once (for broadcast to many peers).
#[derive(Debug, Clone)]
pub struct EncodedMessage {
    pub kind: &'static str,
    pub payload: Bytes,
}

impl EncodedMessage {
    pub fn new(message: &Message) -> EncodedMessage {
        EncodedMessage {
            kind: message.kind(),
            payload: Bytes::from(codec::encode(message)),
        }
    }
}

/// Length-prefixed canonical frames with a maximum size.
#[derive(Debug, Clone)]
pub struct FrameCodec {
    max_frame_bytes: usize,
    bytes_decoded: u64,
    bytes_encoded: u64,
}

impl FrameCodec {
    pub fn new(max_frame_bytes: usize) -> FrameCodec {
        FrameCodec {
            max_frame_bytes,
            bytes_decoded: 0,
            bytes_encoded: 0,
        }
    }

    pub fn max_frame_bytes(&self) -> usize {
        self.max_frame_bytes
    }

    /// Changes the maximum (the handshake uses a small one).
    pub fn set_max_frame_bytes(&mut self, max_frame_bytes: usize) {
        self.max_frame_bytes = max_frame_bytes;
    }

    /// Bytes of whole frames decoded since the last call.
    pub fn take_bytes_decoded(&mut self) -> u64 {
        std::mem::take(&mut self.bytes_decoded)
    }

    /// Bytes of frames encoded since the last call.
    pub fn take_bytes_encoded(&mut self) -> u64 {
        std::mem::take(&mut self.bytes_encoded)
    }

    fn put_frame(
        &mut self,
        kind: &'static str,
        payload: &[u8],
        dst: &mut BytesMut,
    ) -> Result<(), FrameError> {
        let length = payload.len();
        let prefix = u32::try_from(length)
            .ok()
            .filter(|_| length <= self.max_frame_bytes && length > 0)
            .ok_or(FrameError::OutgoingTooLarge {
                kind,
                length,
                max: self.max_frame_bytes,
            })?;
        dst.reserve(LENGTH_PREFIX_BYTES + length);
        dst.put_u32_le(prefix);
        dst.put_slice(payload);
        self.bytes_encoded += (LENGTH_PREFIX_BYTES + length) as u64;
        Ok(())
    }
}

impl Decoder for FrameCodec {
    type Item = Message;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Message>, FrameError> {
        let Some(prefix) = src.get(..LENGTH_PREFIX_BYTES) else {
            return Ok(None);
        };
        let mut length_bytes = [0u8; LENGTH_PREFIX_BYTES];
        length_bytes.copy_from_slice(prefix);
        let length = u32::from_le_bytes(length_bytes) as usize;
        if length == 0 {
            return Err(FrameError::Empty);
        }
        if length > self.max_frame_bytes {
            return Err(FrameError::Oversized {
                length,
                max: self.max_frame_bytes,
            });
        }
        // Deliberately no `reserve(length)`: the buffer grows only as bytes
        // actually arrive, so a claimed length costs nothing by itself.
        if src.len() < LENGTH_PREFIX_BYTES + length {
            return Ok(None);
        }
        src.advance(LENGTH_PREFIX_BYTES);
        let payload = src.split_to(length);
        self.bytes_decoded += (LENGTH_PREFIX_BYTES + length) as u64;
        codec::decode_with_limit::<Message>(&payload, self.max_frame_bytes)
            .map(Some)
            .map_err(|source| FrameError::Undecodable { length, source })
    }
}

impl Encoder<&Message> for FrameCodec {
    type Error = FrameError;

    fn encode(&mut self, message: &Message, dst: &mut BytesMut) -> Result<(), FrameError> {
        self.put_frame(message.kind(), &codec::encode(message), dst)
    }
}

impl Encoder<Message> for FrameCodec {
    type Error = FrameError;

    fn encode(&mut self, message: Message, dst: &mut BytesMut) -> Result<(), FrameError> {
        self.encode(&message, dst)
    }
}

impl Encoder<EncodedMessage> for FrameCodec {
    type Error = FrameError;

    fn encode(&mut self, message: EncodedMessage, dst: &mut BytesMut) -> Result<(), FrameError> {
        self.put_frame(message.kind, &message.payload, dst)
    }
}

/// Decodes one complete frame (prefix + payload) from `bytes`, refusing
/// leftovers: the function the fuzz target drives.
pub fn decode_frame(bytes: &[u8], max_frame_bytes: usize) -> Result<Message, FrameError> {
    let mut codec = FrameCodec::new(max_frame_bytes);
    let mut buffer = BytesMut::from(bytes);
    match codec.decode(&mut buffer)? {
        Some(message) if buffer.is_empty() => Ok(message),
        Some(_) => Err(FrameError::Undecodable {
            length: bytes.len(),
            source: DecodeError::TrailingBytes {
                consumed: bytes.len() - buffer.len(),
                trailing: buffer.len(),
            },
        }),
        None => Err(FrameError::Undecodable {
            length: bytes.len(),
            source: DecodeError::Malformed("incomplete frame".to_owned()),
        }),
    }
}

/// Encodes one message as a complete frame.
pub fn encode_frame(message: &Message, max_frame_bytes: usize) -> Result<Vec<u8>, FrameError> {
    let mut codec = FrameCodec::new(max_frame_bytes);
    let mut buffer = BytesMut::new();
    codec.encode(message, &mut buffer)?;
    Ok(buffer.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::p2p::message::{DisconnectReason, PeerAddress};
    use ledger::{Block, BlockHeight, BlockId, BlockStakePosition, Hash32, Timestamp, Transaction};
    use proptest::prelude::*;

    const MAX: usize = 1 << 20;

    fn sample_messages() -> Vec<Message> {
        let block = Block::new(
            BlockId(Hash32([9; 32])),
            Timestamp(1_700_000_000),
            BlockStakePosition::default(),
            vec![],
            vec![Transaction::new()],
        );
        vec![
            Message::Ping { nonce: 1 },
            Message::Pong { nonce: u64::MAX },
            Message::GetPeers,
            Message::Peers(vec![PeerAddress::V4 {
                ip: [127, 0, 0, 1],
                port: 9000,
            }]),
            Message::BlockAnnouncement {
                header: block.header,
                height: BlockHeight(5),
            },
            Message::GetBlocks {
                locator: vec![block.id()],
                limit: 10,
            },
            Message::Blocks(vec![block.clone()]),
            Message::GetBlock(block.id()),
            Message::Block(block.clone()),
            Message::Transactions(vec![Transaction::new()]),
            Message::NotFound(block.id()),
            Message::Disconnect {
                reason: DisconnectReason::Timeout,
            },
        ]
    }

    #[test]
    fn every_message_round_trips() {
        for message in sample_messages() {
            let frame = encode_frame(&message, MAX).unwrap();
            assert_eq!(
                u32::from_le_bytes(frame[..4].try_into().unwrap()) as usize,
                frame.len() - 4
            );
            assert_eq!(decode_frame(&frame, MAX).unwrap(), message);
        }
    }

    #[test]
    fn partial_frames_wait_for_more_bytes() {
        let frame = encode_frame(&Message::Ping { nonce: 3 }, MAX).unwrap();
        let mut codec = FrameCodec::new(MAX);
        let mut buffer = BytesMut::new();
        for (index, byte) in frame.iter().enumerate() {
            buffer.put_u8(*byte);
            let result = codec.decode(&mut buffer).unwrap();
            assert_eq!(result.is_some(), index == frame.len() - 1);
        }
        assert_eq!(codec.take_bytes_decoded(), frame.len() as u64);
        assert_eq!(codec.take_bytes_decoded(), 0);
    }

    #[test]
    fn oversized_length_is_refused_before_payload_and_allocation() {
        let mut codec = FrameCodec::new(1000);
        let mut buffer = BytesMut::with_capacity(4);
        buffer.put_u32_le(u32::MAX);
        let capacity = buffer.capacity();
        assert!(matches!(
            codec.decode(&mut buffer),
            Err(FrameError::Oversized {
                length: 4_294_967_295,
                max: 1000
            })
        ));
        assert_eq!(
            buffer.capacity(),
            capacity,
            "nothing reserved for the claim"
        );
        // A length just inside the limit waits without reserving either.
        let mut buffer = BytesMut::with_capacity(4);
        buffer.put_u32_le(1000);
        assert!(codec.decode(&mut buffer).unwrap().is_none());
        assert_eq!(buffer.capacity(), capacity);
    }

    #[test]
    fn empty_garbage_trailing_and_non_canonical_payloads_are_refused() {
        assert!(matches!(
            decode_frame(&[0, 0, 0, 0], MAX),
            Err(FrameError::Empty)
        ));
        // Unknown variant tag 200.
        assert!(matches!(
            decode_frame(&[4, 0, 0, 0, 200, 0, 0, 0], MAX),
            Err(FrameError::Undecodable { .. })
        ));
        // A Ping with one byte too many inside the frame.
        let mut payload = codec::encode(&Message::Ping { nonce: 1 });
        payload.push(0);
        let mut frame = (payload.len() as u32).to_le_bytes().to_vec();
        frame.extend_from_slice(&payload);
        assert!(matches!(
            decode_frame(&frame, MAX),
            Err(FrameError::Undecodable {
                source: DecodeError::TrailingBytes { .. },
                ..
            })
        ));
        // Disconnect with an unknown reason tag (99).
        let mut frame = encode_frame(
            &Message::Disconnect {
                reason: DisconnectReason::Banned,
            },
            MAX,
        )
        .unwrap();
        frame[8] = 99;
        assert!(decode_frame(&frame, MAX).unwrap_err().is_peer_fault());
    }

    #[test]
    fn outgoing_messages_over_the_limit_are_refused() {
        let message = Message::Transactions(vec![Transaction::new(); 100]);
        assert!(matches!(
            encode_frame(&message, 64),
            Err(FrameError::OutgoingTooLarge {
                kind: "Transactions",
                ..
            })
        ));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_and_accepted_frames_are_canonical(
            bytes in proptest::collection::vec(any::<u8>(), 0..256)
        ) {
            if let Ok(message) = decode_frame(&bytes, MAX) {
                prop_assert_eq!(encode_frame(&message, MAX).unwrap(), bytes);
            }
        }

        #[test]
        fn ping_frames_round_trip(nonce in any::<u64>()) {
            let message = Message::Ping { nonce };
            let frame = encode_frame(&message, MAX).unwrap();
            prop_assert_eq!(decode_frame(&frame, MAX).unwrap(), message);
        }
    }
}
