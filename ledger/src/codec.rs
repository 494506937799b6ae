//! The one canonical encoding of every consensus value.
//!
//! All consensus bytes go through [`encode`] and [`decode`]; nothing else in
//! the project may call bincode directly. The configuration is fixed
//! forever (changing it changes every ID): bincode 2.0.1, little endian,
//! fixed-width integers, and an allocation limit. Decoding is strict: the
//! input must not exceed the caller's size limit, must be consumed
//! completely, and must re-encode to exactly the same bytes, so every value
//! has one and only one byte form.

use bincode::config::{Configuration, Fixint, Limit, LittleEndian};
use thiserror::Error;

/// The most memory one decode may reserve for containers (bincode counts
/// `length × size_of::<T>()` before allocating). Bounds allocation bombs
/// such as a length prefix of 2^60 in a 40-byte input.
pub const DECODE_ALLOCATION_LIMIT: usize = 64 * 1024 * 1024;

/// The default cap on the length of an input handed to [`decode`]. Callers
/// that know a tighter bound (a block size limit, a frame size) use
/// [`decode_with_limit`].
pub const DEFAULT_INPUT_LIMIT: usize = 4 * 1024 * 1024;

type CodecConfig = Configuration<LittleEndian, Fixint, Limit<DECODE_ALLOCATION_LIMIT>>;

const fn config() -> CodecConfig {
    bincode::config::standard()
        .with_little_endian()
        .with_fixed_int_encoding()
        .with_limit::<DECODE_ALLOCATION_LIMIT>()
}

/// A consensus value: encodable and decodable with the canonical codec.
pub trait Canonical: bincode::Encode + bincode::Decode<()> {}
impl<T: bincode::Encode + bincode::Decode<()>> Canonical for T {}

/// Why bytes were refused as a canonical encoding.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    #[error("input of {length} bytes exceeds the limit of {limit} bytes")]
    TooLarge { length: usize, limit: usize },
    #[error("malformed encoding: {0}")]
    Malformed(String),
    #[error("{trailing} trailing bytes after a complete value of {consumed} bytes")]
    TrailingBytes { consumed: usize, trailing: usize },
    #[error("non-canonical encoding: the value re-encodes to different bytes")]
    NonCanonical,
}

/// Encodes a value canonically.
pub fn encode<T: bincode::Encode + ?Sized>(value: &T) -> Vec<u8> {
    // Encoding into a Vec cannot fail for our types: the writer grows as
    // needed and no consensus type has a fallible `Encode` impl.
    bincode::encode_to_vec(value, config())
        .expect("encoding a consensus value into a Vec cannot fail")
}

/// The length in bytes of a value's canonical encoding, without allocating.
pub fn encoded_len<T: bincode::Encode + ?Sized>(value: &T) -> usize {
    let mut counter = LengthCounter::default();
    bincode::encode_into_writer(value, &mut counter, config())
        .expect("counting encoded bytes cannot fail");
    counter.length
}

#[derive(Default)]
struct LengthCounter {
    length: usize,
}

impl bincode::enc::write::Writer for LengthCounter {
    fn write(&mut self, bytes: &[u8]) -> Result<(), bincode::error::EncodeError> {
        self.length += bytes.len();
        Ok(())
    }
}

/// Decodes a value from bytes no longer than [`DEFAULT_INPUT_LIMIT`].
pub fn decode<T: Canonical>(bytes: &[u8]) -> Result<T, DecodeError> {
    decode_with_limit(bytes, DEFAULT_INPUT_LIMIT)
}

/// Decodes a value, refusing inputs longer than `limit`, trailing bytes and
/// any input that does not re-encode to itself.
pub fn decode_with_limit<T: Canonical>(bytes: &[u8], limit: usize) -> Result<T, DecodeError> {
    if bytes.len() > limit {
        return Err(DecodeError::TooLarge {
            length: bytes.len(),
            limit,
        });
    }
    let (value, consumed): (T, usize) = bincode::decode_from_slice(bytes, config())
        .map_err(|error| DecodeError::Malformed(error.to_string()))?;
    if consumed != bytes.len() {
        return Err(DecodeError::TrailingBytes {
            consumed,
            trailing: bytes.len() - consumed,
        });
    }
    if encode(&value) != bytes {
        return Err(DecodeError::NonCanonical);
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, bincode::Encode, bincode::Decode)]
    struct Sample {
        small: u8,
        wide: u64,
        huge: u128,
        flag: bool,
        items: Vec<u16>,
        maybe: Option<u32>,
    }

    fn sample() -> Sample {
        Sample {
            small: 7,
            wide: 0x0102_0304_0506_0708,
            huge: 1,
            flag: true,
            items: vec![1, 2],
            maybe: None,
        }
    }

    #[test]
    fn layout_is_little_endian_fixed_width() {
        let bytes = encode(&sample());
        let expected = hex::decode(concat!(
            "07",
            "0807060504030201",
            "01000000000000000000000000000000",
            "01",
            "0200000000000000",
            "01000200",
            "00"
        ))
        .unwrap();
        assert_eq!(bytes, expected);
        assert_eq!(encoded_len(&sample()), expected.len());
        assert_eq!(decode::<Sample>(&bytes).unwrap(), sample());
    }

    #[test]
    fn rejects_trailing_bytes() {
        let mut bytes = encode(&sample());
        bytes.push(0);
        assert_eq!(
            decode::<Sample>(&bytes),
            Err(DecodeError::TrailingBytes {
                consumed: bytes.len() - 1,
                trailing: 1
            })
        );
    }

    #[test]
    fn rejects_oversized_input() {
        let bytes = encode(&sample());
        assert_eq!(
            decode_with_limit::<Sample>(&bytes, 4),
            Err(DecodeError::TooLarge {
                length: bytes.len(),
                limit: 4
            })
        );
    }

    #[test]
    fn rejects_truncated_input_and_bad_bool() {
        let bytes = encode(&sample());
        assert!(matches!(
            decode::<Sample>(&bytes[..bytes.len() - 1]),
            Err(DecodeError::Malformed(_))
        ));
        let mut bad_bool = bytes.clone();
        bad_bool[25] = 2;
        assert!(matches!(
            decode::<Sample>(&bad_bool),
            Err(DecodeError::Malformed(_))
        ));
    }

    #[test]
    fn rejects_allocation_bomb() {
        // A vector claiming 2^60 elements in a handful of bytes.
        let mut bytes = vec![0u8; 26];
        bytes.extend_from_slice(&(1u64 << 60).to_le_bytes());
        assert!(matches!(
            decode::<Sample>(&bytes),
            Err(DecodeError::Malformed(_))
        ));
    }

    #[derive(Debug, PartialEq)]
    struct Lenient(u8);

    impl bincode::Encode for Lenient {
        fn encode<E: bincode::enc::Encoder>(
            &self,
            encoder: &mut E,
        ) -> Result<(), bincode::error::EncodeError> {
            bincode::Encode::encode(&(self.0 & 1), encoder)
        }
    }

    impl<Context> bincode::Decode<Context> for Lenient {
        fn decode<D: bincode::de::Decoder<Context = Context>>(
            decoder: &mut D,
        ) -> Result<Self, bincode::error::DecodeError> {
            Ok(Lenient(u8::decode(decoder)?))
        }
    }

    #[test]
    fn rejects_non_canonical_input() {
        assert_eq!(decode::<Lenient>(&[1]), Ok(Lenient(1)));
        assert_eq!(decode::<Lenient>(&[3]), Err(DecodeError::NonCanonical));
    }
}
