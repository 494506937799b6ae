//! Addresses: a kind and a 32-byte hash, and their text form.
//!
//! The text form is bech32m with the network's prefix as human-readable
//! part and `kind byte ‖ hash` (33 bytes) as data, e.g.
//! `bsdev1q…`. The checksum catches typos and the prefix stops a devnet
//! address from being pasted into mainnet. Parsing says exactly what is
//! wrong.

use std::fmt;

use bech32::primitives::decode::UncheckedHrpstring;
use bech32::{Bech32, Bech32m, Hrp};
use thiserror::Error;

use crate::types::Hash32;

/// What an address's hash commits to. The encoded tag is the variant index.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, bincode::Encode, bincode::Decode,
)]
pub enum AddressKind {
    /// Nobody's address (zero hash); outputs to it are unspendable except
    /// through a Nil condition.
    Nil,
    /// `H("blockstake/address/pubkey/v1" ‖ public key)`.
    PubKey,
    /// `H("blockstake/address/multisig/v1" ‖ encoded multisig condition)`.
    Multisig,
    /// `H("blockstake/address/atomic-swap/v1" ‖ encoded atomic swap condition)`.
    AtomicSwap,
}

impl AddressKind {
    /// The first data byte of the text form.
    pub const fn byte(self) -> u8 {
        match self {
            AddressKind::Nil => 0,
            AddressKind::PubKey => 1,
            AddressKind::Multisig => 2,
            AddressKind::AtomicSwap => 3,
        }
    }

    pub const fn from_byte(byte: u8) -> Option<AddressKind> {
        match byte {
            0 => Some(AddressKind::Nil),
            1 => Some(AddressKind::PubKey),
            2 => Some(AddressKind::Multisig),
            3 => Some(AddressKind::AtomicSwap),
            _ => None,
        }
    }
}

/// An address: where coins and blockstakes can be sent.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, bincode::Encode, bincode::Decode,
)]
pub struct Address {
    pub kind: AddressKind,
    pub hash: Hash32,
}

/// Why a text address was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AddressError {
    #[error("address {text:?} is not bech32 text: {reason}")]
    NotBech32 { text: String, reason: String },
    #[error("address {0:?} uses the old bech32 checksum; addresses use bech32m")]
    NotBech32m(String),
    #[error("address {0:?} has a bad checksum (typo?)")]
    BadChecksum(String),
    #[error("address is for network prefix {found:?}, this network uses {expected:?}")]
    WrongNetwork { expected: String, found: String },
    #[error("address carries {0} data bytes; expected 33 (kind byte and 32-byte hash)")]
    WrongLength(usize),
    #[error("address kind {0} is unknown (0 nil, 1 pubkey, 2 multisig, 3 atomic swap)")]
    UnknownKind(u8),
    #[error("nil address must have an all-zero hash")]
    NilWithHash,
    #[error("address {0:?} is not in canonical form (lowercase, zero padding)")]
    NonCanonical(String),
    #[error("network prefix {0:?} is not a valid bech32 human-readable part")]
    InvalidPrefix(String),
}

impl Address {
    pub const NIL: Address = Address {
        kind: AddressKind::Nil,
        hash: Hash32::ZERO,
    };

    pub fn new(kind: AddressKind, hash: Hash32) -> Address {
        Address { kind, hash }
    }

    /// The text form for a network with the given bech32 prefix.
    pub fn to_text(&self, prefix: &str) -> Result<String, AddressError> {
        let hrp = Hrp::parse(prefix).map_err(|_| AddressError::InvalidPrefix(prefix.to_owned()))?;
        let mut data = [0u8; 33];
        data[0] = self.kind.byte();
        data[1..].copy_from_slice(self.hash.as_bytes());
        // 33 data bytes and a short prefix stay far below bech32's 90-character limit.
        bech32::encode::<Bech32m>(hrp, &data)
            .map_err(|_| AddressError::InvalidPrefix(prefix.to_owned()))
    }

    /// Parses the text form, requiring the network's prefix.
    pub fn parse(text: &str, expected_prefix: &str) -> Result<Address, AddressError> {
        let unchecked = UncheckedHrpstring::new(text).map_err(|error| AddressError::NotBech32 {
            text: text.to_owned(),
            reason: error.to_string(),
        })?;
        if unchecked.validate_checksum::<Bech32m>().is_err() {
            if unchecked.has_valid_checksum::<Bech32>() {
                return Err(AddressError::NotBech32m(text.to_owned()));
            }
            return Err(AddressError::BadChecksum(text.to_owned()));
        }
        let found = unchecked.hrp().to_lowercase();
        if found != expected_prefix {
            return Err(AddressError::WrongNetwork {
                expected: expected_prefix.to_owned(),
                found,
            });
        }
        let data: Vec<u8> = unchecked.remove_checksum::<Bech32m>().byte_iter().collect();
        if data.len() != 33 {
            return Err(AddressError::WrongLength(data.len()));
        }
        let kind = AddressKind::from_byte(data[0]).ok_or(AddressError::UnknownKind(data[0]))?;
        let mut hash = [0u8; 32];
        hash.copy_from_slice(&data[1..]);
        let address = Address::new(kind, Hash32(hash));
        if kind == AddressKind::Nil && !address.hash.is_zero() {
            return Err(AddressError::NilWithHash);
        }
        if address.to_text(expected_prefix)? != text.to_ascii_lowercase() {
            return Err(AddressError::NonCanonical(text.to_owned()));
        }
        Ok(address)
    }

    /// A display adapter for the text form on a network.
    pub fn display<'a>(&'a self, prefix: &'a str) -> AddressDisplay<'a> {
        AddressDisplay {
            address: self,
            prefix,
        }
    }
}

/// See [`Address::display`]; falls back to `kind:hex` if the prefix is invalid.
pub struct AddressDisplay<'a> {
    address: &'a Address,
    prefix: &'a str,
}

impl fmt::Display for AddressDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.address.to_text(self.prefix) {
            Ok(text) => f.write_str(&text),
            Err(_) => write!(f, "{:?}:{}", self.address.kind, self.address.hash),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Address {
        Address::new(AddressKind::PubKey, Hash32([0x5a; 32]))
    }

    #[test]
    fn text_round_trip_for_every_kind() {
        for kind in [
            AddressKind::PubKey,
            AddressKind::Multisig,
            AddressKind::AtomicSwap,
        ] {
            let address = Address::new(kind, Hash32([kind.byte(); 32]));
            let text = address.to_text("bsdev").unwrap();
            assert!(text.starts_with("bsdev1"));
            assert_eq!(Address::parse(&text, "bsdev"), Ok(address));
            assert_eq!(
                Address::parse(&text.to_ascii_uppercase(), "bsdev"),
                Ok(address)
            );
        }
        let nil = Address::NIL.to_text("bs").unwrap();
        assert_eq!(Address::parse(&nil, "bs"), Ok(Address::NIL));
    }

    #[test]
    fn wrong_network() {
        let text = sample().to_text("bstest").unwrap();
        assert_eq!(
            Address::parse(&text, "bs"),
            Err(AddressError::WrongNetwork {
                expected: "bs".into(),
                found: "bstest".into()
            })
        );
    }

    #[test]
    fn bad_checksum() {
        let mut text = sample().to_text("bsdev").unwrap();
        let last = text.pop().unwrap();
        text.push(if last == 'q' { 'p' } else { 'q' });
        assert_eq!(
            Address::parse(&text, "bsdev"),
            Err(AddressError::BadChecksum(text.clone()))
        );
    }

    #[test]
    fn bech32_instead_of_bech32m() {
        let mut data = vec![1u8];
        data.extend_from_slice(&[0x5a; 32]);
        let text = bech32::encode::<Bech32>(Hrp::parse("bsdev").unwrap(), &data).unwrap();
        assert_eq!(
            Address::parse(&text, "bsdev"),
            Err(AddressError::NotBech32m(text.clone()))
        );
    }

    #[test]
    fn unknown_kind_and_wrong_length() {
        let hrp = Hrp::parse("bsdev").unwrap();
        let mut data = vec![9u8];
        data.extend_from_slice(&[1; 32]);
        let text = bech32::encode::<Bech32m>(hrp, &data).unwrap();
        assert_eq!(
            Address::parse(&text, "bsdev"),
            Err(AddressError::UnknownKind(9))
        );
        let short = bech32::encode::<Bech32m>(hrp, &[1u8; 20]).unwrap();
        assert_eq!(
            Address::parse(&short, "bsdev"),
            Err(AddressError::WrongLength(20))
        );
        let mut nil = vec![0u8];
        nil.extend_from_slice(&[1; 32]);
        let text = bech32::encode::<Bech32m>(hrp, &nil).unwrap();
        assert_eq!(
            Address::parse(&text, "bsdev"),
            Err(AddressError::NilWithHash)
        );
    }

    #[test]
    fn not_bech32_at_all() {
        assert!(matches!(
            Address::parse("hello world", "bsdev"),
            Err(AddressError::NotBech32 { .. })
        ));
        assert!(matches!(
            Address::parse("", "bsdev"),
            Err(AddressError::NotBech32 { .. })
        ));
        assert!(matches!(
            sample().to_text("BAD PREFIX"),
            Err(AddressError::InvalidPrefix(_))
        ));
    }

    #[test]
    fn display_uses_the_prefix() {
        let text = sample().display("bsdev").to_string();
        assert_eq!(Address::parse(&text, "bsdev"), Ok(sample()));
    }
}
