//! Network configuration: every consensus constant and the genesis
//! allocation, read from TOML. The three shipped networks (devnet,
//! testnet, mainnet) are embedded from `networks/*.toml`; custom networks
//! load from a file by path.
//!
//! The genesis block is built from the file: one transaction without
//! inputs holding the allocated coin and blockstake outputs, whose
//! arbitrary data is the network name, a zero byte and a hash of all the
//! rules (so two networks that differ in any constant have different
//! genesis IDs). **The genesis block ID is the chain ID** committed into
//! every signature ([`ChainConfig::params`] carries it).

use std::path::Path;

use ledger::condition::{MultisigCondition, TimeLockCondition, TimeLockedCondition};
use ledger::crypto::hash::{HashTag, tagged_hash};
use ledger::{
    Address, AddressKind, Block, BlockId, BlockStakeOutput, BlockStakePosition, BlockStakes,
    ChainId, CoinOutput, Condition, Currency, Hash32, NetworkParams, PublicKey, Timestamp,
    Transaction, codec,
};
use serde::Deserialize;
use thiserror::Error;

use crate::domains::compute::ComputeParams;
use crate::pobs::Target;

/// The devnet configuration shipped with the crate.
pub const DEVNET_TOML: &str = include_str!("../networks/devnet.toml");
/// The testnet configuration shipped with the crate.
pub const TESTNET_TOML: &str = include_str!("../networks/testnet.toml");
/// The mainnet configuration shipped with the crate.
pub const MAINNET_TOML: &str = include_str!("../networks/mainnet.toml");

/// The earliest genesis time accepted (Rivine's rule: Bitcoin's genesis).
pub const MIN_GENESIS_TIMESTAMP: u64 = 1_231_006_505;

/// A non-negative fraction, written `"5/2"` in configuration files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct Ratio {
    pub numerator: u64,
    pub denominator: u64,
}

impl Ratio {
    fn parse(key: &str, text: &str) -> Result<Ratio, ConfigError> {
        let invalid = |problem: &str| ConfigError::Invalid {
            key: key.to_owned(),
            problem: format!("{text:?} {problem}"),
        };
        let (numerator, denominator) = text
            .split_once('/')
            .ok_or_else(|| invalid("is not a fraction like \"5/2\""))?;
        let numerator: u64 = numerator
            .trim()
            .parse()
            .map_err(|_| invalid("has a numerator that is not a whole number"))?;
        let denominator: u64 = denominator
            .trim()
            .parse()
            .map_err(|_| invalid("has a denominator that is not a whole number"))?;
        if denominator == 0 {
            return Err(invalid("has a zero denominator"));
        }
        Ok(Ratio {
            numerator,
            denominator,
        })
    }

    fn compare_with_one(self) -> std::cmp::Ordering {
        self.numerator.cmp(&self.denominator)
    }
}

/// The consensus constants of a network (everything but the stateless
/// limits, which live in [`NetworkParams`]).
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct ConsensusParams {
    /// Target seconds between blocks.
    pub block_frequency: u64,
    /// Blocks the retarget looks back over; it runs every `target_window / 2` blocks.
    pub target_window: u64,
    /// Blocks between a block and the newest block feeding its stake modifier.
    pub stake_modifier_delay: u64,
    /// Seconds a transferred blockstake output waits before it may stake.
    pub blockstake_aging: u64,
    /// Blocks before a block's payouts become spendable.
    pub maturity_delay: u64,
    /// Deepest reorganisation the node accepts, in blocks.
    pub finality_depth: u64,
    /// Blocks further than this many seconds ahead of the clock are parked.
    pub future_threshold: u64,
    /// Blocks further than this many seconds ahead of the clock are rejected.
    pub extreme_future_threshold: u64,
    /// Number of ancestors whose median bounds a block's timestamp from below.
    pub median_timestamp_window: u64,
    /// A competing branch must out-weigh the tip by this fraction of one block.
    pub surpass_threshold: Ratio,
    /// Largest retarget factor (blocks slow: target grows).
    pub max_adjustment_up: Ratio,
    /// Smallest retarget factor (blocks fast: target shrinks).
    pub max_adjustment_down: Ratio,
    /// The target the first block must meet.
    pub initial_target: Target,
    /// Coins paid to every block's creator on top of the fees.
    pub block_creator_fee: Currency,
    /// Whether coin outputs and spent coin outputs must belong to authorized addresses.
    pub authorized_addresses_enabled: bool,
}

/// A fully loaded network: parameters, consensus constants, the genesis
/// block and the initial extension state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainConfig {
    /// Stateless parameters; `chain_id` is the genesis block ID.
    pub params: NetworkParams,
    pub consensus: ConsensusParams,
    pub genesis: Block,
    pub genesis_id: BlockId,
    /// The mint condition at genesis; `None` disables minting.
    pub mint_condition: Option<Condition>,
    /// The address authority at genesis; `None` disables authority operations.
    pub authority_condition: Option<Condition>,
    /// Addresses authorized at genesis.
    pub authorized_addresses: Vec<Address>,
    /// The compute domain's prices, grace period and silence limit (the
    /// `[compute]` section; `ComputeParams::default()` where absent).
    pub compute: ComputeParams,
}

/// Why a configuration file was refused. `key` is the dotted TOML path.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read network configuration {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("network configuration is not valid TOML for this schema: {0}")]
    Toml(String),
    #[error("network configuration key `{key}`: {problem}")]
    Invalid { key: String, problem: String },
    #[error("unknown network {0:?}; shipped networks are devnet, testnet and mainnet")]
    UnknownNetwork(String),
}

fn invalid(key: impl Into<String>, problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        problem: problem.into(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    network: NetworkSection,
    consensus: ConsensusSection,
    fees: FeesSection,
    #[serde(default)]
    minting: Option<MintingSection>,
    #[serde(default)]
    authorized_addresses: Option<AuthorizedSection>,
    #[serde(default)]
    compute: Option<ComputeSection>,
    genesis: GenesisSection,
}

/// `[compute]`: every key optional, `ComputeParams::default()` otherwise.
/// Prices are base units per block.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ComputeSection {
    silent_after_blocks: Option<u64>,
    grace_blocks: Option<u64>,
    bill_interval_blocks: Option<u64>,
    price_per_core: Option<u128>,
    price_per_memory_gib: Option<u128>,
    price_per_disk_gib: Option<u128>,
}

impl ComputeSection {
    fn to_params(&self) -> Result<ComputeParams, ConfigError> {
        let defaults = ComputeParams::default();
        let params = ComputeParams {
            silent_after_blocks: self
                .silent_after_blocks
                .unwrap_or(defaults.silent_after_blocks),
            grace_blocks: self.grace_blocks.unwrap_or(defaults.grace_blocks),
            bill_interval_blocks: self
                .bill_interval_blocks
                .unwrap_or(defaults.bill_interval_blocks),
            price_per_core: self.price_per_core.unwrap_or(defaults.price_per_core),
            price_per_memory_gib: self
                .price_per_memory_gib
                .unwrap_or(defaults.price_per_memory_gib),
            price_per_disk_gib: self
                .price_per_disk_gib
                .unwrap_or(defaults.price_per_disk_gib),
        };
        for (key, value) in [
            ("compute.silent_after_blocks", params.silent_after_blocks),
            ("compute.grace_blocks", params.grace_blocks),
            ("compute.bill_interval_blocks", params.bill_interval_blocks),
        ] {
            if value == 0 {
                return Err(invalid(key, "must be at least 1"));
            }
        }
        Ok(params)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NetworkSection {
    name: String,
    address_prefix: String,
    coin_precision: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsensusSection {
    block_frequency: u64,
    target_window: u64,
    stake_modifier_delay: u64,
    blockstake_aging: u64,
    maturity_delay: u64,
    finality_depth: u64,
    block_size_limit: u64,
    transaction_size_limit: u64,
    arbitrary_data_limit: u64,
    future_threshold: u64,
    extreme_future_threshold: u64,
    #[serde(default = "default_median_window")]
    median_timestamp_window: u64,
    surpass_threshold: String,
    max_adjustment_up: String,
    max_adjustment_down: String,
    #[serde(default)]
    initial_target: Option<String>,
}

fn default_median_window() -> u64 {
    11
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FeesSection {
    block_creator_fee: String,
    minimum_fee_base: String,
    minimum_fee_per_byte: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MintingSection {
    condition: ConditionSpec,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthorizedSection {
    enabled: bool,
    authority: ConditionSpec,
    #[serde(default)]
    authorized: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GenesisSection {
    timestamp: u64,
    #[serde(default)]
    coins: Vec<CoinAllocation>,
    #[serde(default)]
    blockstakes: Vec<BlockStakeAllocation>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CoinAllocation {
    /// Decimal coins, e.g. "1000000" or "0.5".
    value: String,
    #[serde(flatten)]
    condition: ConditionSpec,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BlockStakeAllocation {
    value: u64,
    #[serde(flatten)]
    condition: ConditionSpec,
}

/// One of `address` (a public-key address in text form), `public_key`
/// (64 hex characters) or `multisig`, optionally `locked_until` (a height
/// below 500,000,000, else a unix time).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConditionSpec {
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    public_key: Option<String>,
    #[serde(default)]
    multisig: Option<MultisigSpec>,
    #[serde(default)]
    locked_until: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MultisigSpec {
    required: u64,
    public_keys: Vec<String>,
}

fn parse_public_key(key: &str, text: &str) -> Result<PublicKey, ConfigError> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(text, &mut bytes)
        .map_err(|_| invalid(key, format!("{text:?} is not 64 hex characters")))?;
    let public_key = PublicKey(bytes);
    public_key
        .to_verifying_key()
        .map_err(|error| invalid(key, error.to_string()))?;
    Ok(public_key)
}

impl ConditionSpec {
    fn to_condition(&self, key: &str, prefix: &str) -> Result<Condition, ConfigError> {
        let given = [
            self.address.is_some(),
            self.public_key.is_some(),
            self.multisig.is_some(),
        ]
        .iter()
        .filter(|given| **given)
        .count();
        if given != 1 {
            return Err(invalid(
                key,
                "needs exactly one of `address`, `public_key` or `multisig`",
            ));
        }
        let inner = if let Some(text) = &self.address {
            let address = Address::parse(text, prefix)
                .map_err(|error| invalid(format!("{key}.address"), error.to_string()))?;
            if address.kind != AddressKind::PubKey {
                return Err(invalid(
                    format!("{key}.address"),
                    format!(
                        "{text} is a {:?} address; only public-key addresses can be given by address (use `multisig` for a multisig)",
                        address.kind
                    ),
                ));
            }
            TimeLockedCondition::PubKeyHash(address.hash)
        } else if let Some(text) = &self.public_key {
            let public_key = parse_public_key(&format!("{key}.public_key"), text)?;
            TimeLockedCondition::PubKeyHash(Address::for_public_key(&public_key).hash)
        } else if let Some(multisig) = &self.multisig {
            let keys = multisig
                .public_keys
                .iter()
                .enumerate()
                .map(|(index, text)| {
                    parse_public_key(&format!("{key}.multisig.public_keys[{index}]"), text)
                })
                .collect::<Result<Vec<_>, _>>()?;
            TimeLockedCondition::Multisig(MultisigCondition::new(multisig.required, keys))
        } else {
            return Err(invalid(key, "no condition given"));
        };
        let condition = match self.locked_until {
            Some(lock) => Condition::TimeLock(TimeLockCondition { lock, inner }),
            None => inner.to_condition(),
        };
        condition
            .check_standard()
            .map_err(|error| invalid(key, format!("condition is not standard: {error}")))?;
        Ok(condition)
    }
}

fn parse_coins(key: &str, text: &str, precision: u32) -> Result<Currency, ConfigError> {
    Currency::parse_decimal(text, precision).map_err(|error| invalid(key, error.to_string()))
}

impl ChainConfig {
    /// One of the shipped networks by name.
    pub fn shipped(name: &str) -> Result<ChainConfig, ConfigError> {
        match name {
            "devnet" => ChainConfig::from_toml(DEVNET_TOML),
            "testnet" => ChainConfig::from_toml(TESTNET_TOML),
            "mainnet" => ChainConfig::from_toml(MAINNET_TOML),
            other => Err(ConfigError::UnknownNetwork(other.to_owned())),
        }
    }

    pub fn devnet() -> Result<ChainConfig, ConfigError> {
        ChainConfig::from_toml(DEVNET_TOML)
    }

    /// Loads a custom network from a TOML file.
    pub fn from_file(path: &Path) -> Result<ChainConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.display().to_string(),
            source,
        })?;
        ChainConfig::from_toml(&text)
    }

    /// Parses and checks a configuration, and builds its genesis block.
    pub fn from_toml(text: &str) -> Result<ChainConfig, ConfigError> {
        let file: ConfigFile =
            toml::from_str(text).map_err(|error| ConfigError::Toml(error.to_string()))?;
        build(file)
    }

    /// Total blockstakes allocated at genesis.
    pub fn genesis_blockstakes(&self) -> BlockStakes {
        BlockStakes(
            self.genesis
                .transactions
                .iter()
                .flat_map(|tx| tx.blockstake_outputs.iter())
                .map(|output| output.value.0)
                .sum(),
        )
    }
}

fn build(file: ConfigFile) -> Result<ChainConfig, ConfigError> {
    let network = &file.network;
    if network.name.is_empty() || network.name.len() > 64 {
        return Err(invalid("network.name", "must be 1 to 64 characters"));
    }
    if Currency::from_coins(1, network.coin_precision).is_none() {
        return Err(invalid(
            "network.coin_precision",
            format!("{} is larger than 38", network.coin_precision),
        ));
    }
    let prefix = network.address_prefix.as_str();
    Address::NIL
        .to_text(prefix)
        .map_err(|error| invalid("network.address_prefix", error.to_string()))?;
    let precision = network.coin_precision;

    let c = &file.consensus;
    let positive = |key: &str, value: u64| {
        if value == 0 {
            Err(invalid(format!("consensus.{key}"), "must be at least 1"))
        } else {
            Ok(value)
        }
    };
    positive("block_frequency", c.block_frequency)?;
    positive("stake_modifier_delay", c.stake_modifier_delay)?;
    positive("maturity_delay", c.maturity_delay)?;
    positive("finality_depth", c.finality_depth)?;
    positive("block_size_limit", c.block_size_limit)?;
    positive("transaction_size_limit", c.transaction_size_limit)?;
    if c.target_window < 2 || !c.target_window.is_multiple_of(2) {
        return Err(invalid(
            "consensus.target_window",
            format!("{} must be an even number of at least 2", c.target_window),
        ));
    }
    if c.median_timestamp_window == 0 || c.median_timestamp_window.is_multiple_of(2) {
        return Err(invalid(
            "consensus.median_timestamp_window",
            format!("{} must be odd", c.median_timestamp_window),
        ));
    }
    if c.transaction_size_limit > c.block_size_limit {
        return Err(invalid(
            "consensus.transaction_size_limit",
            format!(
                "{} exceeds the block size limit {}",
                c.transaction_size_limit, c.block_size_limit
            ),
        ));
    }
    if c.future_threshold >= c.extreme_future_threshold {
        return Err(invalid(
            "consensus.extreme_future_threshold",
            format!(
                "{} must be larger than future_threshold {}",
                c.extreme_future_threshold, c.future_threshold
            ),
        ));
    }
    let surpass_threshold = Ratio::parse("consensus.surpass_threshold", &c.surpass_threshold)?;
    let max_adjustment_up = Ratio::parse("consensus.max_adjustment_up", &c.max_adjustment_up)?;
    let max_adjustment_down =
        Ratio::parse("consensus.max_adjustment_down", &c.max_adjustment_down)?;
    if max_adjustment_up.compare_with_one() == std::cmp::Ordering::Less {
        return Err(invalid(
            "consensus.max_adjustment_up",
            "must be at least 1/1",
        ));
    }
    if max_adjustment_down.compare_with_one() == std::cmp::Ordering::Greater
        || max_adjustment_down.numerator == 0
    {
        return Err(invalid(
            "consensus.max_adjustment_down",
            "must be above 0 and at most 1/1",
        ));
    }

    let fees = &file.fees;
    let block_creator_fee =
        parse_coins("fees.block_creator_fee", &fees.block_creator_fee, precision)?;
    let minimum_fee_base = parse_coins("fees.minimum_fee_base", &fees.minimum_fee_base, precision)?;
    let minimum_fee_per_byte = parse_coins(
        "fees.minimum_fee_per_byte",
        &fees.minimum_fee_per_byte,
        precision,
    )?;

    let g = &file.genesis;
    if g.timestamp < MIN_GENESIS_TIMESTAMP {
        return Err(invalid(
            "genesis.timestamp",
            format!("{} is before {MIN_GENESIS_TIMESTAMP}", g.timestamp),
        ));
    }
    if g.blockstakes.is_empty() {
        return Err(invalid(
            "genesis.blockstakes",
            "at least one blockstake allocation is needed, or no block can ever be created",
        ));
    }
    let mut genesis_tx = Transaction::new();
    for (index, coin) in g.coins.iter().enumerate() {
        let key = format!("genesis.coins[{index}]");
        let value = parse_coins(&format!("{key}.value"), &coin.value, precision)?;
        if value.is_zero() {
            return Err(invalid(format!("{key}.value"), "must be above 0"));
        }
        let condition = coin.condition.to_condition(&key, prefix)?;
        genesis_tx
            .coin_outputs
            .push(CoinOutput { value, condition });
    }
    Currency::checked_sum(genesis_tx.coin_outputs.iter().map(|o| o.value))
        .ok_or_else(|| invalid("genesis.coins", "values sum to more than 2^128 base units"))?;
    for (index, stake) in g.blockstakes.iter().enumerate() {
        let key = format!("genesis.blockstakes[{index}]");
        if stake.value == 0 {
            return Err(invalid(format!("{key}.value"), "must be above 0"));
        }
        let condition = stake.condition.to_condition(&key, prefix)?;
        genesis_tx.blockstake_outputs.push(BlockStakeOutput {
            value: BlockStakes(stake.value),
            condition,
        });
    }
    let total_stake =
        BlockStakes::checked_sum(genesis_tx.blockstake_outputs.iter().map(|o| o.value))
            .ok_or_else(|| invalid("genesis.blockstakes", "values sum to more than 2^64"))?;

    let initial_target = match &c.initial_target {
        Some(text) => Target::from_hex(text).ok_or_else(|| {
            invalid(
                "consensus.initial_target",
                format!("{text:?} is not 64 hex characters"),
            )
        })?,
        None => Target::initial(c.block_frequency, total_stake),
    };
    if initial_target.to_biguint() == num_bigint::BigUint::from(0u8) {
        return Err(invalid("consensus.initial_target", "must not be zero"));
    }

    let mint_condition = match &file.minting {
        Some(minting) => Some(
            minting
                .condition
                .to_condition("minting.condition", prefix)?,
        ),
        None => None,
    };
    let (authorized_enabled, authority_condition, authorized_addresses) =
        match &file.authorized_addresses {
            Some(section) => {
                let condition = section
                    .authority
                    .to_condition("authorized_addresses.authority", prefix)?;
                let mut addresses = Vec::new();
                for (index, text) in section.authorized.iter().enumerate() {
                    let address = Address::parse(text, prefix).map_err(|error| {
                        invalid(
                            format!("authorized_addresses.authorized[{index}]"),
                            error.to_string(),
                        )
                    })?;
                    if address.kind == AddressKind::Nil || addresses.contains(&address) {
                        return Err(invalid(
                            format!("authorized_addresses.authorized[{index}]"),
                            format!("{text} is nil or listed twice"),
                        ));
                    }
                    addresses.push(address);
                }
                (section.enabled, Some(condition), addresses)
            }
            None => (false, None, Vec::new()),
        };
    if authorized_enabled {
        for (index, output) in genesis_tx.coin_outputs.iter().enumerate() {
            let address = output.condition.address();
            if !authorized_addresses.contains(&address) {
                return Err(invalid(
                    format!("genesis.coins[{index}]"),
                    format!(
                        "address {} is not in authorized_addresses.authorized, but the network requires authorized addresses",
                        address.display(prefix)
                    ),
                ));
            }
        }
    }

    let consensus = ConsensusParams {
        block_frequency: c.block_frequency,
        target_window: c.target_window,
        stake_modifier_delay: c.stake_modifier_delay,
        blockstake_aging: c.blockstake_aging,
        maturity_delay: c.maturity_delay,
        finality_depth: c.finality_depth,
        future_threshold: c.future_threshold,
        extreme_future_threshold: c.extreme_future_threshold,
        median_timestamp_window: c.median_timestamp_window,
        surpass_threshold,
        max_adjustment_up,
        max_adjustment_down,
        initial_target,
        block_creator_fee,
        authorized_addresses_enabled: authorized_enabled,
    };
    let mut params = NetworkParams {
        network_name: network.name.clone(),
        address_prefix: network.address_prefix.clone(),
        chain_id: ChainId(Hash32::ZERO),
        coin_precision: precision,
        minimum_fee_base,
        minimum_fee_per_byte,
        block_size_limit: c.block_size_limit,
        transaction_size_limit: c.transaction_size_limit,
        arbitrary_data_limit: c.arbitrary_data_limit,
    };

    // The genesis commits to every rule, so networks differing in any
    // constant never share a chain ID.
    let rules = RulesCommitment {
        network_name: &params.network_name,
        address_prefix: &params.address_prefix,
        coin_precision: params.coin_precision,
        minimum_fee_base: params.minimum_fee_base,
        minimum_fee_per_byte: params.minimum_fee_per_byte,
        block_size_limit: params.block_size_limit,
        transaction_size_limit: params.transaction_size_limit,
        arbitrary_data_limit: params.arbitrary_data_limit,
        consensus: &consensus,
        mint_condition: &mint_condition,
        authority_condition: &authority_condition,
        authorized_addresses: &authorized_addresses,
    };
    let mut committed = codec::encode(&rules);
    // A `[compute]` section is committed too; networks without one keep
    // the chain ID they had before the section existed.
    let compute = match &file.compute {
        Some(section) => {
            let compute = section.to_params()?;
            committed.extend_from_slice(&codec::encode(&compute));
            compute
        }
        None => ComputeParams::default(),
    };
    let rules_hash = tagged_hash(HashTag::ChainId, &committed);
    genesis_tx.arbitrary_data = network.name.as_bytes().to_vec();
    genesis_tx.arbitrary_data.push(0);
    genesis_tx
        .arbitrary_data
        .extend_from_slice(rules_hash.as_bytes());

    let genesis = Block::new(
        BlockId(Hash32::ZERO),
        Timestamp(g.timestamp),
        BlockStakePosition::default(),
        Vec::new(),
        vec![genesis_tx],
    );
    let genesis_id = genesis.id();
    params.chain_id = ChainId(genesis_id.0);
    Ok(ChainConfig {
        params,
        consensus,
        genesis,
        genesis_id,
        mint_condition,
        authority_condition,
        authorized_addresses,
        compute,
    })
}

#[derive(bincode::Encode)]
struct RulesCommitment<'a> {
    network_name: &'a String,
    address_prefix: &'a String,
    coin_precision: u32,
    minimum_fee_base: Currency,
    minimum_fee_per_byte: Currency,
    block_size_limit: u64,
    transaction_size_limit: u64,
    arbitrary_data_limit: u64,
    consensus: &'a ConsensusParams,
    mint_condition: &'a Option<Condition>,
    authority_condition: &'a Option<Condition>,
    authorized_addresses: &'a Vec<Address>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_networks_load_and_genesis_id_is_the_chain_id() {
        let mut ids = Vec::new();
        for name in ["devnet", "testnet", "mainnet"] {
            let config = ChainConfig::shipped(name).expect("shipped config is valid");
            assert_eq!(config.params.network_name, name);
            assert_eq!(config.genesis_id, config.genesis.id());
            assert_eq!(config.params.chain_id.0, config.genesis_id.0);
            assert_eq!(config.genesis_blockstakes(), BlockStakes(1000));
            ids.push(config.genesis_id);
        }
        ids.dedup();
        assert_eq!(ids.len(), 3);
        let devnet = ChainConfig::devnet().expect("devnet");
        assert_eq!(devnet.consensus.block_frequency, 2);
        assert_eq!(devnet.consensus.target_window, 20);
        assert_eq!(
            devnet.consensus.initial_target,
            Target::initial(2, BlockStakes(1000))
        );
        assert!(matches!(
            ChainConfig::shipped("moonnet"),
            Err(ConfigError::UnknownNetwork(_))
        ));
    }

    #[test]
    fn any_rule_change_changes_the_chain_id() {
        let base = ChainConfig::devnet().expect("devnet").genesis_id;
        let slower = DEVNET_TOML.replace("maturity_delay = 10", "maturity_delay = 11");
        let changed = ChainConfig::from_toml(&slower).expect("valid");
        assert_ne!(changed.genesis_id, base);
    }

    #[test]
    fn a_compute_section_sets_the_compute_params_and_the_chain_id() {
        let base = ChainConfig::devnet().expect("devnet");
        assert_eq!(base.compute, ComputeParams::default());
        let short =
            format!("{DEVNET_TOML}\n[compute]\ngrace_blocks = 5\nbill_interval_blocks = 3\n");
        let changed = ChainConfig::from_toml(&short).expect("valid");
        assert_eq!(
            changed.compute,
            ComputeParams {
                grace_blocks: 5,
                bill_interval_blocks: 3,
                ..ComputeParams::default()
            }
        );
        assert_ne!(changed.genesis_id, base.genesis_id);
        let other = ChainConfig::from_toml(&short.replace("= 5", "= 6")).expect("valid");
        assert_ne!(other.genesis_id, changed.genesis_id);
        for bad in [
            "grace_blocks = 0",
            "silent_after_blocks = 0",
            "bill_interval_blocks = 0",
        ] {
            let text = format!("{DEVNET_TOML}\n[compute]\n{bad}\n");
            let message = ChainConfig::from_toml(&text).expect_err(bad).to_string();
            let key = bad.split(' ').next().expect("a key");
            assert!(message.contains(&format!("compute.{key}")), "{message}");
        }
        let unknown = format!("{DEVNET_TOML}\n[compute]\nfree_lunch = 1\n");
        assert!(
            ChainConfig::from_toml(&unknown)
                .expect_err("unknown key")
                .to_string()
                .contains("free_lunch")
        );
    }

    fn error_for(from: &str, to: &str) -> String {
        assert!(DEVNET_TOML.contains(from), "{from} not in devnet.toml");
        match ChainConfig::from_toml(&DEVNET_TOML.replace(from, to)) {
            Err(error) => error.to_string(),
            Ok(_) => panic!("{to} was accepted"),
        }
    }

    #[test]
    fn errors_name_the_key_and_the_problem() {
        let cases = [
            (
                "target_window = 20 ",
                "target_window = 21 ",
                "consensus.target_window",
            ),
            (
                "block_frequency = 2 ",
                "block_frequency = 0 ",
                "consensus.block_frequency",
            ),
            (
                "surpass_threshold = \"1/5\"",
                "surpass_threshold = \"1/0\"",
                "zero denominator",
            ),
            (
                "max_adjustment_up = \"5/2\"",
                "max_adjustment_up = \"1/2\"",
                "consensus.max_adjustment_up",
            ),
            (
                "max_adjustment_down = \"2/5\"",
                "max_adjustment_down = \"0/5\"",
                "consensus.max_adjustment_down",
            ),
            (
                "extreme_future_threshold = 120",
                "extreme_future_threshold = 1 ",
                "extreme_future_threshold",
            ),
            (
                "block_creator_fee = \"1\"",
                "block_creator_fee = \"1.0000000001\"",
                "fees.block_creator_fee",
            ),
            (
                "timestamp = 1_764_115_200",
                "timestamp = 1000",
                "genesis.timestamp",
            ),
            ("value = 500", "value = 0", "genesis.blockstakes[0].value"),
            (
                "public_key = \"8a88e3dd",
                "public_key = \"zz88e3dd",
                "genesis.coins[0].public_key",
            ),
            (
                "address_prefix = \"bsdev\"",
                "address_prefix = \"BAD PREFIX\"",
                "network.address_prefix",
            ),
            (
                "median_timestamp_window = 11",
                "median_timestamp_window = 10",
                "median_timestamp_window",
            ),
        ];
        for (from, to, expected) in cases {
            let message = error_for(from, to);
            assert!(
                message.contains(expected),
                "replacing {from:?} by {to:?}: {message:?} does not name {expected:?}"
            );
        }
        let unknown = error_for("[fees]", "[fees]\nsurprise = 1");
        assert!(unknown.contains("surprise"), "{unknown}");
    }

    #[test]
    fn authorized_networks_need_authorized_genesis_coins() {
        let enabled = DEVNET_TOML.replace("enabled = false", "enabled = true");
        let message = match ChainConfig::from_toml(&enabled) {
            Err(error) => error.to_string(),
            Ok(_) => panic!("unauthorized genesis coins accepted"),
        };
        assert!(message.contains("genesis.coins[0]"), "{message}");
    }
}
