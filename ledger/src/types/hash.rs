//! `Hash32`: the 32-byte digest every ID and address is built from.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// A 32-byte digest (BLAKE2b-256 unless stated otherwise).
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, bincode::Encode, bincode::Decode,
)]
pub struct Hash32(pub [u8; 32]);

impl Hash32 {
    /// The all-zero hash, used as "none" (genesis parent, empty merkle tree).
    pub const ZERO: Hash32 = Hash32([0; 32]);

    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn is_zero(&self) -> bool {
        self.0 == [0; 32]
    }

    /// The first bytes in hex, for error messages ("ab12cd34…").
    pub fn short(&self) -> String {
        format!("{}…", hex::encode(&self.0[..4]))
    }
}

impl fmt::Display for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash32({self})")
    }
}

/// Why a hex string is not a 32-byte hash.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HashParseError {
    #[error("hash must be 64 hex characters, got {0}")]
    WrongLength(usize),
    #[error("hash is not valid hex: {0}")]
    NotHex(String),
}

impl FromStr for Hash32 {
    type Err = HashParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.len() != 64 {
            return Err(HashParseError::WrongLength(text.len()));
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes)
            .map_err(|error| HashParseError::NotHex(error.to_string()))?;
        Ok(Hash32(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_errors() {
        let hash = Hash32([0xab; 32]);
        assert_eq!(hash.to_string().parse::<Hash32>().unwrap(), hash);
        assert_eq!(hash.short(), "abababab…");
        assert_eq!("abc".parse::<Hash32>(), Err(HashParseError::WrongLength(3)));
        assert!(matches!(
            "zz".repeat(32).parse::<Hash32>(),
            Err(HashParseError::NotHex(_))
        ));
        assert!(Hash32::ZERO.is_zero());
    }
}
