//! What every resolver needs, shared through the schema's data: the
//! PostgreSQL pool, the network (for amounts, addresses and constants),
//! the limits, the NATS client (subscriptions) and the submitter
//! (mutations). Also the conversions between the read model's stored
//! forms (bytes, NUMERIC text) and the API's text forms (hex IDs, bech32m
//! addresses, decimal amounts).

use std::sync::Arc;
use std::time::Duration;

use chain::ChainConfig;
use ledger::{Address, AddressKind, Currency, Hash32};
use sqlx::PgPool;

use crate::error::{ApiError, ApiResult};
use crate::login::LoginConfig;
use crate::submit::Submitter;

/// Sizes and times the API enforces.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Deepest selection set nesting accepted.
    pub max_depth: usize,
    /// Largest query complexity (fields, lists weighted by page size).
    pub max_complexity: usize,
    /// Most items one page of a connection may hold.
    pub max_page_size: usize,
    /// Items in a page when neither `first` nor `last` is given.
    pub default_page_size: usize,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Longest a request may run, in milliseconds.
    pub request_timeout_ms: u64,
    /// Most points a statistics series may hold.
    pub max_statistics_points: usize,
    /// How long a submission waits for a node's answer, in milliseconds.
    pub submit_timeout_ms: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_depth: 12,
            max_complexity: 50_000,
            max_page_size: 100,
            default_page_size: 20,
            max_body_bytes: 4 * 1024 * 1024,
            request_timeout_ms: 10_000,
            max_statistics_points: 1_000,
            submit_timeout_ms: 5_000,
        }
    }
}

impl Limits {
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    pub fn submit_timeout(&self) -> Duration {
        Duration::from_millis(self.submit_timeout_ms)
    }
}

/// The network the API serves, with the text conventions that follow
/// from it.
#[derive(Debug, Clone)]
pub struct Network {
    /// The name used in NATS subjects (`devnet`, or a test's unique name).
    pub name: String,
    pub config: Arc<ChainConfig>,
}

impl Network {
    pub fn new(name: impl Into<String>, config: Arc<ChainConfig>) -> Network {
        Network {
            name: name.into(),
            config,
        }
    }

    /// Decimal places of one coin.
    pub fn precision(&self) -> u32 {
        self.config.params.coin_precision
    }

    /// The bech32m prefix of addresses.
    pub fn prefix(&self) -> &str {
        &self.config.params.address_prefix
    }

    /// A coin amount as a decimal string of coins.
    pub fn coins(&self, amount: Currency) -> String {
        amount.display_decimal(self.precision()).to_string()
    }

    /// A stored NUMERIC base-unit amount (read as text) as decimal coins.
    pub fn coins_from_numeric(&self, text: &str) -> ApiResult<String> {
        let units: u128 = text
            .parse()
            .map_err(|_| ApiError::CorruptRow(format!("amount {text:?} is not base units")))?;
        Ok(self.coins(Currency(units)))
    }

    /// A stored 33-byte address (kind byte ‖ hash) as bech32m text.
    pub fn address_text(&self, stored: &[u8]) -> ApiResult<String> {
        let address = stored_address(stored)?;
        address
            .to_text(self.prefix())
            .map_err(|error| ApiError::CorruptRow(error.to_string()))
    }

    /// Parses an address argument into its stored form.
    pub fn parse_address(&self, text: &str) -> ApiResult<Vec<u8>> {
        let address = Address::parse(text.trim(), self.prefix())
            .map_err(|error| ApiError::bad_input(error.to_string()))?;
        Ok(stored_form(&address))
    }
}

/// The stored form of an address: kind byte ‖ hash.
pub fn stored_form(address: &Address) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(33);
    bytes.push(address.kind.byte());
    bytes.extend_from_slice(address.hash.as_bytes());
    bytes
}

/// Reads a stored address.
pub fn stored_address(stored: &[u8]) -> ApiResult<Address> {
    let corrupt = || {
        ApiError::CorruptRow(format!(
            "address {} is not 33 bytes of kind and hash",
            hex::encode(stored)
        ))
    };
    let (kind, hash) = stored.split_first().ok_or_else(corrupt)?;
    let kind = AddressKind::from_byte(*kind).ok_or_else(corrupt)?;
    let hash: [u8; 32] = hash.try_into().map_err(|_| corrupt())?;
    Ok(Address::new(kind, Hash32(hash)))
}

/// Parses a 32-byte ID argument given as 64 hex digits.
pub fn parse_id(what: &str, text: &str) -> ApiResult<Vec<u8>> {
    let text = text.trim();
    let hash: Hash32 = text.parse().map_err(|_| {
        ApiError::bad_input(format!(
            "{what} {text:?} is not an ID (64 hexadecimal digits)"
        ))
    })?;
    Ok(hash.0.to_vec())
}

/// Stored bytes as lowercase hex.
pub fn hex_id(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// Everything resolvers share.
#[derive(Clone)]
pub struct ApiState {
    pub pool: PgPool,
    pub network: Network,
    pub limits: Limits,
    /// Absent when the API runs without NATS (queries only).
    pub nats: Option<async_nats::Client>,
    pub submitter: Arc<dyn Submitter>,
    /// Login: the secret signing challenges and tokens, the origin.
    pub login: Arc<LoginConfig>,
}

impl ApiState {
    /// The state from a resolver's context.
    pub fn of<'a>(ctx: &async_graphql::Context<'a>) -> &'a ApiState {
        // The schema is always built with an `ApiState` (see `schema::build`).
        ctx.data_unchecked::<ApiState>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn devnet() -> Network {
        Network::new(
            "devnet",
            Arc::new(ChainConfig::shipped("devnet").expect("devnet ships")),
        )
    }

    #[test]
    fn amounts_and_addresses_round_trip() {
        let network = devnet();
        assert_eq!(
            network.coins_from_numeric("12500000000").ok(),
            Some("12.5".into())
        );
        assert!(network.coins_from_numeric("-1").is_err());
        let address = Address::new(AddressKind::PubKey, Hash32([7; 32]));
        let text = network
            .address_text(&stored_form(&address))
            .expect("prints");
        assert_eq!(
            network.parse_address(&text).ok(),
            Some(stored_form(&address))
        );
        assert!(network.parse_address("bsdev1garbage").is_err());
        assert!(parse_id("block ID", "zz").is_err());
        assert_eq!(
            parse_id("block ID", &"ab".repeat(32)).ok(),
            Some(vec![0xab; 32])
        );
    }
}
