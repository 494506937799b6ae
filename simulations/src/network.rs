//! Simulated networks on the real chain: a [`ChainConfig`] built from a
//! shipped network's constants with a generated genesis stake allocation,
//! staker keys from fixed seeds, and [`Staking`], one real [`Chain`] on a
//! [`ManualClock`] whose blocks the simulated stakers create with the real
//! block creator (signed respends, full validation, fork choice).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use chain::config::{ChainConfig, ConsensusParams, Ratio};
use chain::creator::{build_block, find_winning_timestamp};
use chain::{AcceptOutcome, Chain, ManualClock};
use ledger::crypto::SecretKey;
use ledger::{Address, BlockHeight, BlockStakePosition, Timestamp, Transaction};

use crate::error::SimulationError;

/// The key of simulated staker `index` (a fixed seed: public, for
/// simulations only).
pub fn staker_key(index: usize) -> SecretKey {
    let mut seed = [0x5a; 32];
    seed[..8].copy_from_slice(&(index as u64).to_le_bytes());
    SecretKey::from_seed(seed)
}

fn ratio(value: Ratio) -> String {
    format!("\"{}/{}\"", value.numerator, value.denominator)
}

/// A network with the consensus constants of the shipped network `base`,
/// `overrides` (TOML key and value, e.g. `("target_window", "40")`) on
/// top, one genesis blockstake output per `(value, staker)` of
/// `allocations` and one coin output per `(whole coins, staker)` of
/// `coins`.
pub fn config(
    base: &str,
    overrides: &[(&str, String)],
    allocations: &[(u64, usize)],
    coins: &[(u64, usize)],
) -> Result<Arc<ChainConfig>, SimulationError> {
    let shipped = ChainConfig::shipped(base)?;
    let ConsensusParams {
        block_frequency,
        target_window,
        stake_modifier_delay,
        blockstake_aging,
        maturity_delay,
        finality_depth,
        future_threshold,
        extreme_future_threshold,
        median_timestamp_window,
        surpass_threshold,
        max_adjustment_up,
        max_adjustment_down,
        ..
    } = shipped.consensus;
    let params = &shipped.params;
    let mut consensus: Vec<(&str, String)> = vec![
        ("block_frequency", block_frequency.to_string()),
        ("target_window", target_window.to_string()),
        ("stake_modifier_delay", stake_modifier_delay.to_string()),
        ("blockstake_aging", blockstake_aging.to_string()),
        ("maturity_delay", maturity_delay.to_string()),
        ("finality_depth", finality_depth.to_string()),
        ("block_size_limit", params.block_size_limit.to_string()),
        (
            "transaction_size_limit",
            params.transaction_size_limit.to_string(),
        ),
        (
            "arbitrary_data_limit",
            params.arbitrary_data_limit.to_string(),
        ),
        ("future_threshold", future_threshold.to_string()),
        (
            "extreme_future_threshold",
            extreme_future_threshold.to_string(),
        ),
        (
            "median_timestamp_window",
            median_timestamp_window.to_string(),
        ),
        ("surpass_threshold", ratio(surpass_threshold)),
        ("max_adjustment_up", ratio(max_adjustment_up)),
        ("max_adjustment_down", ratio(max_adjustment_down)),
    ];
    for (key, value) in overrides {
        match consensus.iter_mut().find(|(name, _)| name == key) {
            Some(entry) => entry.1.clone_from(value),
            None => {
                return Err(SimulationError::Parameter {
                    name: "consensus override",
                    problem: format!("`{key}` is not a consensus constant"),
                });
            }
        }
    }
    let mut text = format!(
        "[network]\nname = \"simulation-{base}\"\naddress_prefix = \"bssim\"\ncoin_precision = {}\n\n[consensus]\n",
        params.coin_precision
    );
    for (key, value) in &consensus {
        let _ = writeln!(text, "{key} = {value}");
    }
    let _ = write!(
        text,
        "\n[fees]\nblock_creator_fee = \"1\"\nminimum_fee_base = \"0.01\"\nminimum_fee_per_byte = \"0.000001\"\n\n[genesis]\ntimestamp = {}\n",
        shipped.genesis.header.timestamp.0
    );
    for (value, staker) in coins {
        let _ = write!(
            text,
            "\n[[genesis.coins]]\nvalue = \"{value}\"\npublic_key = \"{}\"\n",
            hex::encode(staker_key(*staker).public_key().0)
        );
    }
    for (value, staker) in allocations {
        let _ = write!(
            text,
            "\n[[genesis.blockstakes]]\nvalue = {value}\npublic_key = \"{}\"\n",
            hex::encode(staker_key(*staker).public_key().0)
        );
    }
    Ok(Arc::new(ChainConfig::from_toml(&text)?))
}

/// One real chain extended by simulated stakers who see every block at
/// once (no network): each block goes to the earliest winning second.
pub struct Staking {
    pub chain: Chain,
    pub clock: Arc<ManualClock>,
    keys: Vec<SecretKey>,
    /// The staker owning each unspent stake output we track.
    owners: HashMap<BlockStakePosition, usize>,
    stakers_by_address: HashMap<Address, usize>,
}

impl Staking {
    /// A chain at genesis of `config`, whose genesis blockstake outputs
    /// belong to the stakers of `allocations` (as given to [`config`]).
    pub fn new(
        config: Arc<ChainConfig>,
        allocations: &[(u64, usize)],
    ) -> Result<Staking, SimulationError> {
        let clock = Arc::new(ManualClock::new(config.genesis.header.timestamp));
        let chain = Chain::in_memory(config, clock.clone())?;
        let stakers = allocations.iter().map(|(_, s)| s + 1).max().unwrap_or(0);
        let owners = allocations
            .iter()
            .enumerate()
            .map(|(index, (_, staker))| {
                let position = BlockStakePosition {
                    height: BlockHeight(0),
                    transaction_index: 0,
                    output_index: index as u64,
                };
                (position, *staker)
            })
            .collect();
        let keys: Vec<SecretKey> = (0..stakers).map(staker_key).collect();
        let stakers_by_address = keys
            .iter()
            .enumerate()
            .map(|(index, key)| (Address::for_public_key(&key.public_key()), index))
            .collect();
        Ok(Staking {
            chain,
            clock,
            keys,
            owners,
            stakers_by_address,
        })
    }

    /// The stake outputs of `staker`, in position order.
    pub fn positions_of(&self, staker: usize) -> Vec<BlockStakePosition> {
        let mut positions: Vec<BlockStakePosition> = self
            .owners
            .iter()
            .filter(|(_, owner)| **owner == staker)
            .map(|(position, _)| *position)
            .collect();
        positions.sort();
        positions
    }

    pub fn owner(&self, position: &BlockStakePosition) -> Option<usize> {
        self.owners.get(position).copied()
    }

    /// The earliest second in `[from, from + horizon)` at which one of
    /// `positions` wins on the tip (the real creator's search; ties in a
    /// second go to the first position listed).
    pub fn earliest_win(
        &self,
        positions: &[BlockStakePosition],
        from: Timestamp,
        horizon: u64,
    ) -> Result<(Timestamp, BlockStakePosition), SimulationError> {
        find_winning_timestamp(
            &self.chain,
            positions,
            from,
            Timestamp(from.0.saturating_add(horizon)),
        )
        .ok_or(SimulationError::NoWinner {
            height: self.chain.height().0 + 1,
            seconds: horizon,
        })
    }

    pub fn key(&self, staker: usize) -> Option<&SecretKey> {
        self.keys.get(staker)
    }

    /// Builds the block staking `position` at `timestamp` with the real
    /// creator, sets the clock to `now` and has the chain accept it; the
    /// block must become the tip.
    pub fn extend(
        &mut self,
        position: BlockStakePosition,
        timestamp: Timestamp,
        now: Timestamp,
    ) -> Result<(), SimulationError> {
        self.extend_with(position, timestamp, now, Vec::new())
    }

    /// [`Staking::extend`] carrying `transactions` after the respend; the
    /// tracked stake outputs are then re-read from the chain state.
    pub fn extend_with(
        &mut self,
        position: BlockStakePosition,
        timestamp: Timestamp,
        now: Timestamp,
        transactions: Vec<Transaction>,
    ) -> Result<(), SimulationError> {
        let moved = !transactions.is_empty();
        let staker = self
            .owner(&position)
            .ok_or(SimulationError::Invariant(format!(
                "{position:?} is not a tracked stake output"
            )))?;
        let block = build_block(
            &self.chain,
            &self.keys[staker],
            position,
            timestamp,
            transactions,
        )?;
        let id = block.id();
        self.clock.set(now);
        match self.chain.accept_block(block)? {
            AcceptOutcome::Connected { update, .. } if update.applied.last() == Some(&id) => {}
            other => {
                return Err(SimulationError::Invariant(format!(
                    "block {id} did not become the tip: {other:?}"
                )));
            }
        }
        if moved {
            self.owners = self
                .chain
                .state()
                .blockstake_outputs()
                .filter_map(|(_, entry)| {
                    let address = entry.output.condition.address();
                    let staker = self.stakers_by_address.get(&address)?;
                    Some((entry.position, *staker))
                })
                .collect();
            return Ok(());
        }
        // The respend recreates the stake at the new block's first output.
        self.owners.remove(&position);
        let height = self.chain.height();
        self.owners.insert(
            BlockStakePosition {
                height,
                transaction_index: 0,
                output_index: 0,
            },
            staker,
        );
        Ok(())
    }

    /// The tip's child target relative to the initial target.
    pub fn target_ratio(&self) -> f64 {
        ratio_of(
            &self.chain.tip().child_target.to_biguint(),
            &self.chain.config().consensus.initial_target.to_biguint(),
        )
    }
}

/// `a / b` as a float, for big integers of any size.
pub fn ratio_of(a: &num_bigint::BigUint, b: &num_bigint::BigUint) -> f64 {
    let shift = a.bits().max(b.bits()).saturating_sub(60);
    let (a, b) = (a >> shift, b >> shift);
    let (Ok(a), Ok(b)) = (u64::try_from(a), u64::try_from(b)) else {
        return f64::NAN;
    };
    a as f64 / b as f64
}
