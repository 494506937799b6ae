//! The network parameters the stateless rules need. A plain struct: the
//! node loads it from its configuration file; tests use [`NetworkParams::devnet`].

use crate::crypto::ChainId;
use crate::types::Currency;

/// Per-network constants for encoding, addresses and stateless validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkParams {
    /// The network's name, e.g. "devnet"; the chain ID is derived from it.
    pub network_name: String,
    /// The bech32m human-readable part of addresses ("bsdev", "bstest", "bs").
    pub address_prefix: String,
    /// Committed into every signature so none replays across chains.
    pub chain_id: ChainId,
    /// Decimal places of one coin: 1 coin = 10^precision base units.
    pub coin_precision: u32,
    /// Minimum fee of any transaction, in base units…
    pub minimum_fee_base: Currency,
    /// …plus this many base units per byte of its canonical encoding.
    pub minimum_fee_per_byte: Currency,
    /// Maximum canonical encoding size of a block, in bytes.
    pub block_size_limit: u64,
    /// Maximum canonical encoding size of one transaction, in bytes.
    pub transaction_size_limit: u64,
    /// Maximum length of a transaction's arbitrary data, in bytes.
    pub arbitrary_data_limit: u64,
}

impl NetworkParams {
    /// The local development network.
    pub fn devnet() -> NetworkParams {
        let network_name = "devnet".to_owned();
        NetworkParams {
            chain_id: ChainId::for_network(&network_name),
            network_name,
            address_prefix: "bsdev".to_owned(),
            coin_precision: 9,
            // 0.01 coin + 0.000001 coin per byte: a 300-byte transfer pays 0.0103.
            minimum_fee_base: Currency(10_000_000),
            minimum_fee_per_byte: Currency(1_000),
            block_size_limit: 2_000_000,
            transaction_size_limit: 1_995_000,
            arbitrary_data_limit: 1024,
        }
    }

    /// The minimum fee of a transaction whose canonical encoding is
    /// `encoded_size` bytes, or `None` if it overflows.
    pub fn minimum_fee(&self, encoded_size: u64) -> Option<Currency> {
        self.minimum_fee_per_byte
            .checked_mul(u128::from(encoded_size))
            .and_then(|per_byte| per_byte.checked_add(self.minimum_fee_base))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimum_fee_is_base_plus_per_byte() {
        let params = NetworkParams::devnet();
        assert_eq!(params.minimum_fee(0), Some(Currency(10_000_000)));
        assert_eq!(params.minimum_fee(300), Some(Currency(10_300_000)));
        let greedy = NetworkParams {
            minimum_fee_per_byte: Currency(u128::MAX),
            ..NetworkParams::devnet()
        };
        assert_eq!(greedy.minimum_fee(2), None);
    }
}
