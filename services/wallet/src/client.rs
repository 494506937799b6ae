//! The GraphQL API client: the wallet's only connection to the chain.

use std::time::Duration;

use ledger::{ChainId, Currency, Hash32, NetworkParams};
use serde_json::{Value, json};

use crate::error::WalletError;

/// What the wallet needs to know about the network it talks to.
#[derive(Debug, Clone)]
pub struct NetworkInfo {
    pub name: String,
    pub prefix: String,
    pub precision: u32,
    pub chain_id: ChainId,
    pub minimum_fee_base: Currency,
    pub minimum_fee_per_byte: Currency,
    pub arbitrary_data_limit: u64,
    pub transaction_size_limit: u64,
    /// Height of the tip the API has folded (none before genesis).
    pub height: u64,
    /// Timestamp of that tip.
    pub tip_time: u64,
}

impl NetworkInfo {
    /// The stateless parameters fees are computed with.
    pub fn params(&self) -> NetworkParams {
        NetworkParams {
            network_name: self.name.clone(),
            address_prefix: self.prefix.clone(),
            chain_id: self.chain_id,
            coin_precision: self.precision,
            minimum_fee_base: self.minimum_fee_base,
            minimum_fee_per_byte: self.minimum_fee_per_byte,
            block_size_limit: u64::MAX,
            transaction_size_limit: self.transaction_size_limit,
            arbitrary_data_limit: self.arbitrary_data_limit,
        }
    }

    /// Coins as decimal text.
    pub fn coins(&self, amount: Currency) -> String {
        amount.display_decimal(self.precision).to_string()
    }

    /// Parses decimal coins.
    pub fn parse_coins(&self, text: &str) -> Result<Currency, WalletError> {
        Currency::parse_decimal(text.trim(), self.precision)
            .map_err(|error| WalletError::Amount(error.to_string()))
    }
}

/// A client of one API endpoint.
pub struct Client {
    pub url: String,
    http: reqwest::Client,
    /// A login token sent as `Authorization: Bearer` with every query.
    token: Option<String>,
}

impl Client {
    /// `url` may name the server (`http://127.0.0.1:8080`) or its
    /// `/graphql` endpoint.
    pub fn new(url: &str) -> Result<Client, WalletError> {
        let trimmed = url.trim().trim_end_matches('/');
        let url = if trimmed.ends_with("/graphql") {
            trimmed.to_owned()
        } else {
            format!("{trimmed}/graphql")
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|error| WalletError::Unreachable {
                url: url.clone(),
                reason: error.to_string(),
            })?;
        Ok(Client {
            url,
            http,
            token: None,
        })
    }

    /// The same client sending `token` with every query.
    pub fn with_token(self, token: String) -> Client {
        Client {
            token: Some(token),
            ..self
        }
    }

    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// Runs a query; returns `data`, or the first error.
    pub async fn query(&self, query: &str, variables: Value) -> Result<Value, WalletError> {
        let unreachable = |error: reqwest::Error| WalletError::Unreachable {
            url: self.url.clone(),
            reason: error.to_string(),
        };
        let mut request = self
            .http
            .post(&self.url)
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        let body: Value = response
            .json()
            .await
            .map_err(|error| WalletError::Unreachable {
                url: self.url.clone(),
                reason: format!("HTTP {status}, not a GraphQL answer ({error})"),
            })?;
        if let Some(error) = body["errors"].as_array().and_then(|errors| errors.first()) {
            return Err(api_error(error));
        }
        Ok(body["data"].clone())
    }

    /// The network's constants and the tip; checks the network name when
    /// one is expected.
    pub async fn network(&self, expected: Option<&str>) -> Result<NetworkInfo, WalletError> {
        let data = self
            .query(
                "{ chain { network height tip { timestamp } constants { addressPrefix coinPrecision genesisId
                   minimumFeeBase minimumFeePerByte arbitraryDataLimit transactionSizeLimit } } }",
                Value::Null,
            )
            .await?;
        let chain = &data["chain"];
        let constants = &chain["constants"];
        let name = text(&chain["network"])?;
        if let Some(expected) = expected
            && expected != name
        {
            return Err(WalletError::WrongNetwork {
                url: self.url.clone(),
                served: name,
                expected: expected.to_owned(),
            });
        }
        let precision = number(&constants["coinPrecision"])? as u32;
        let coins = |value: &Value| -> Result<Currency, WalletError> {
            Currency::parse_decimal(&text(value)?, precision).map_err(bad_answer)
        };
        let genesis: Hash32 = text(&constants["genesisId"])?
            .parse()
            .map_err(|_| bad_answer("genesisId is not 64 hex digits"))?;
        Ok(NetworkInfo {
            name,
            prefix: text(&constants["addressPrefix"])?,
            precision,
            chain_id: ChainId(genesis),
            minimum_fee_base: coins(&constants["minimumFeeBase"])?,
            minimum_fee_per_byte: coins(&constants["minimumFeePerByte"])?,
            arbitrary_data_limit: number(&constants["arbitraryDataLimit"])?,
            transaction_size_limit: number(&constants["transactionSizeLimit"])?,
            height: chain["height"].as_u64().unwrap_or(0),
            tip_time: chain["tip"]["timestamp"].as_u64().unwrap_or(0),
        })
    }
}

/// A GraphQL error (one entry of `errors`) as a wallet error.
pub fn api_error(error: &Value) -> WalletError {
    WalletError::Api {
        code: error["extensions"]["code"]
            .as_str()
            .unwrap_or("UNKNOWN")
            .to_owned(),
        reason: error["extensions"]["reason"].as_str().map(str::to_owned),
        message: error["message"]
            .as_str()
            .unwrap_or("unknown error")
            .to_owned(),
    }
}

/// An answer that does not have the shape the schema promises.
pub fn bad_answer(what: impl std::fmt::Display) -> WalletError {
    WalletError::Api {
        code: "UNEXPECTED_ANSWER".into(),
        reason: None,
        message: what.to_string(),
    }
}

pub fn text(value: &Value) -> Result<String, WalletError> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| bad_answer(format!("expected text, found {value}")))
}

pub fn number(value: &Value) -> Result<u64, WalletError> {
    value
        .as_u64()
        .ok_or_else(|| bad_answer(format!("expected a number, found {value}")))
}
