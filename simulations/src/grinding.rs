//! Timestamp and grinding bounds, on one real chain whose stakers see
//! every block at once: an attacker holding a share of the stake against
//! honest stakers who create blocks as the real node does (the earliest
//! winning second from `max(tip + 1, now − lookback)`, published when the
//! clock reaches it). Whoever publishes first extends the chain; exact ties
//! are settled by a coin flip. The attacker plays one of:
//!
//! * **honest**: as the others;
//! * **timestamp window**: tries every timestamp the rules accept — from
//!   just after the tip's up to `future_threshold` seconds ahead
//!   of its clock — and publishes as soon as one wins (peers accept it, as
//!   the chain here does);
//! * **split**: honest timing with its stake split over many outputs;
//! * **reposition**: whenever it creates a block it also moves its other
//!   stake into a fresh output whose position it chooses (by padding with
//!   one-blockstake outputs) so that it wins the next height early; the
//!   next height's stake modifier is already fixed, so it can compute this
//!   with the real lottery. The chain's aging rule forbids staking such an
//!   output before `blockstake_aging` seconds; the run is repeated with the
//!   rule switched off (`blockstake_aging = 0`).
//!
//! The respend rule cannot be switched off without changing consensus
//! code, so it is not varied here.

use ledger::condition::Condition;
use ledger::crypto::SecretKey;
use ledger::fulfillment::{InputKind, SingleSignatureFulfillment, signing_message};
use ledger::{
    BlockHeight, BlockStakeInput, BlockStakeOutput, BlockStakePosition, BlockStakes, CoinInput,
    CoinOutput, CoinOutputId, Currency, Fulfillment, Timestamp, Transaction,
};
use rand::Rng;

use chain::creator::find_winning_timestamp;
use chain::pobs::{lottery_hash, pre_genesis_id, stake_modifier, winning_bound, wins};

use crate::chart::{Chart, Series};
use crate::error::{SimulationError, require};
use crate::network::{Staking, config};
use crate::output::{Outputs, Table, fixed};
use crate::rng;

/// The attacker's fee per repositioning transaction (0.1 coin).
const FEE: Currency = Currency(100_000_000);

/// What the attacker does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    Honest,
    TimestampWindow,
    Reposition,
}

impl Strategy {
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Honest => "honest",
            Strategy::TimestampWindow => "timestamp window",
            Strategy::Reposition => "reposition",
        }
    }
}

/// Parameters of [`run`].
#[derive(Debug, Clone)]
pub struct GrindingParams {
    pub seed: u64,
    pub network: String,
    pub block_frequency: u64,
    pub target_window: u64,
    pub stake_modifier_delay: u64,
    pub honest_stakers: usize,
    /// Blockstakes of each honest staker.
    pub honest_stake: u64,
    /// Attacker's shares of the total stake to simulate.
    pub attacker_shares: Vec<f64>,
    pub blocks: usize,
    /// Output counts for the split experiment (at `split_share`).
    pub splits: Vec<usize>,
    pub split_share: f64,
    /// Positions the repositioning attacker chooses among.
    pub reposition_choices: usize,
    /// Seconds ahead it looks for an early win.
    pub reposition_horizon: u64,
}

impl GrindingParams {
    pub fn full(seed: u64) -> GrindingParams {
        GrindingParams {
            seed,
            network: "testnet".to_owned(),
            block_frequency: 10,
            target_window: 100,
            stake_modifier_delay: 20,
            honest_stakers: 9,
            honest_stake: 10_000,
            attacker_shares: vec![0.05, 0.1, 0.2, 0.33],
            blocks: 3_000,
            splits: vec![1, 4, 16, 64],
            split_share: 0.2,
            reposition_choices: 32,
            reposition_horizon: 60,
        }
    }

    pub fn short(seed: u64) -> GrindingParams {
        GrindingParams {
            target_window: 20,
            attacker_shares: vec![0.2],
            blocks: 500,
            splits: vec![1, 16],
            ..GrindingParams::full(seed)
        }
    }

    fn check(&self) -> Result<(), SimulationError> {
        require(self.honest_stakers >= 1, "honest_stakers", || {
            "at least 1".to_owned()
        })?;
        require(
            self.attacker_shares
                .iter()
                .chain(std::iter::once(&self.split_share))
                .all(|s| *s > 0.0 && *s < 1.0),
            "attacker_shares",
            || "every share must be in (0, 1)".to_owned(),
        )?;
        require(self.splits.iter().all(|s| *s >= 1), "splits", || {
            "at least one output".to_owned()
        })?;
        require(
            self.stake_modifier_delay >= 2,
            "stake_modifier_delay",
            || "at least 2 (the attacker reads the next modifier from the chain)".to_owned(),
        )?;
        require(self.blocks >= 1, "blocks", || "at least 1".to_owned())
    }

    fn attacker_stake(&self, share: f64) -> u64 {
        let honest = self.honest_stake as f64 * self.honest_stakers as f64;
        (honest * share / (1.0 - share)).round().max(1.0) as u64
    }
}

/// One run's outcome.
#[derive(Debug, Clone)]
pub struct RunResult {
    pub strategy: Strategy,
    pub share: f64,
    pub outputs: usize,
    /// `None`: the network's aging.
    pub aging: Option<u64>,
    pub blocks: u64,
    pub attacker_blocks: u64,
    /// Mean seconds between blocks on the simulated clock.
    pub mean_block_seconds: f64,
    /// Mean and largest (timestamp − publication time) of attacker blocks.
    pub mean_lead: f64,
    pub max_lead: i64,
}

impl RunResult {
    pub fn attacker_share(&self) -> f64 {
        self.attacker_blocks as f64 / self.blocks.max(1) as f64
    }
}

#[derive(Debug, Clone)]
pub struct GrindingResult {
    pub params: GrindingParams,
    pub runs: Vec<RunResult>,
    /// Honest runs at `split_share` with the stake over `splits` outputs.
    pub splits: Vec<RunResult>,
    /// The network's aging (seconds) used unless switched off.
    pub network_aging: u64,
}

struct Attacker {
    key: SecretKey,
    condition: Condition,
    coin: Option<(CoinOutputId, Currency)>,
}

/// The repositioning transaction: spends every attacker stake output but
/// `winning`, and the attacker's coin output for the fee; recreates the
/// stake as `padding` one-blockstake outputs and one output with the rest,
/// padded so the rest lands where it wins the next height soonest.
fn reposition(
    staking: &Staking,
    attacker: &mut Attacker,
    winning: BlockStakePosition,
    timestamp: Timestamp,
    params: &GrindingParams,
) -> Option<Transaction> {
    let (coin_id, coin_value) = attacker.coin?;
    let others: Vec<(ledger::BlockStakeOutputId, BlockStakes)> = staking
        .positions_of(0)
        .into_iter()
        .filter(|position| *position != winning)
        .filter_map(|position| {
            let (id, entry) = staking.chain.state().blockstake_at(&position)?;
            Some((id, entry.output.value))
        })
        .collect();
    let total: u64 = others.iter().map(|(_, value)| value.0).sum();
    if others.is_empty() || total <= params.reposition_choices as u64 {
        return None;
    }
    let chain = &staking.chain;
    let tip = chain.tip();
    let height = tip.height.0 + 1;
    let config = chain.config();
    // The next height's modifier depends only on blocks already on chain.
    let modifier = stake_modifier(
        height + 1,
        config.consensus.stake_modifier_delay,
        |source| chain.main_chain_id(BlockHeight(source)).unwrap_or_default(),
        |k| pre_genesis_id(&config.genesis_id, k),
    );
    let target = tip.child_target;
    let mut best: Option<(u64, usize)> = None;
    for padding in 0..params.reposition_choices {
        let position = BlockStakePosition {
            height: BlockHeight(height),
            transaction_index: 1,
            output_index: padding as u64,
        };
        let bound = winning_bound(target, BlockStakes(total - padding as u64));
        let first = (timestamp.0 + 1..=timestamp.0 + params.reposition_horizon).find(|second| {
            wins(
                &lottery_hash(&modifier, &position, Timestamp(*second)),
                &bound,
            )
        });
        if let Some(second) = first
            && best.is_none_or(|(earliest, _)| second < earliest)
        {
            best = Some((second, padding));
        }
    }
    let padding = best.map_or(0, |(_, padding)| padding);
    let mut outputs: Vec<BlockStakeOutput> = (0..padding)
        .map(|_| BlockStakeOutput {
            value: BlockStakes(1),
            condition: attacker.condition.clone(),
        })
        .collect();
    outputs.push(BlockStakeOutput {
        value: BlockStakes(total - padding as u64),
        condition: attacker.condition.clone(),
    });
    let change = coin_value.checked_sub(FEE)?;
    let mut transaction = Transaction {
        coin_inputs: vec![CoinInput {
            parent_id: coin_id,
            fulfillment: Fulfillment::Nil,
        }],
        coin_outputs: vec![CoinOutput {
            value: change,
            condition: attacker.condition.clone(),
        }],
        blockstake_inputs: others
            .iter()
            .map(|(id, _)| BlockStakeInput {
                parent_id: *id,
                fulfillment: Fulfillment::Nil,
            })
            .collect(),
        blockstake_outputs: outputs,
        fee: FEE,
        ..Transaction::new()
    };
    let id = transaction.id();
    let public_key = attacker.key.public_key();
    let sign = |kind: InputKind, index: usize| {
        let context = Transaction::input_context(
            &id,
            &config.params,
            kind,
            index as u64,
            BlockHeight(0),
            Timestamp(0),
        );
        Fulfillment::SingleSignature(SingleSignatureFulfillment {
            public_key,
            signature: attacker
                .key
                .sign(&signing_message(&context, &public_key, None)),
        })
    };
    transaction.coin_inputs[0].fulfillment = sign(InputKind::Coin, 0);
    for index in 0..transaction.blockstake_inputs.len() {
        transaction.blockstake_inputs[index].fulfillment = sign(InputKind::BlockStake, index);
    }
    attacker.coin = transaction
        .coin_output_ids(&id)
        .first()
        .map(|output| (*output, change));
    Some(transaction)
}

fn run_one(
    params: &GrindingParams,
    strategy: Strategy,
    share: f64,
    outputs: usize,
    aging: Option<u64>,
) -> Result<RunResult, SimulationError> {
    let stake = params.attacker_stake(share);
    let outputs = outputs.max(1).min(stake as usize);
    let mut allocations: Vec<(u64, usize)> = (0..outputs)
        .map(|index| {
            let base = stake / outputs as u64;
            let extra = u64::from((index as u64) < stake % outputs as u64);
            (base + extra, 0)
        })
        .collect();
    allocations.extend((1..=params.honest_stakers).map(|staker| (params.honest_stake, staker)));
    let mut overrides = vec![
        ("block_frequency", params.block_frequency.to_string()),
        ("target_window", params.target_window.to_string()),
        (
            "stake_modifier_delay",
            params.stake_modifier_delay.to_string(),
        ),
    ];
    if let Some(aging) = aging {
        overrides.push(("blockstake_aging", aging.to_string()));
    }
    let config = config(&params.network, &overrides, &allocations, &[(1_000_000, 0)])?;
    let future_threshold = config.consensus.future_threshold;
    let lookback = 2 * params.block_frequency;
    let genesis = config.genesis.header.timestamp.0;
    let mut staking = Staking::new(config, &allocations)?;
    let key = staking
        .key(0)
        .cloned()
        .ok_or(SimulationError::Invariant("no key".to_owned()))?;
    let condition = Condition::for_public_key(&key.public_key());
    let coin = staking
        .chain
        .state()
        .coin_outputs()
        .find(|(_, output)| output.condition == condition)
        .map(|(id, output)| (*id, output.value));
    let mut attacker = Attacker {
        key,
        condition,
        coin,
    };
    let mut ties = rng::stream(
        params.seed,
        &format!(
            "grinding/ties/{}/{share}/{outputs}/{aging:?}",
            strategy.name()
        ),
    );
    let mut real = genesis;
    let mut attacker_blocks = 0u64;
    let mut leads: Vec<i64> = Vec::new();
    let horizon = 1_000_000;
    for _ in 0..params.blocks {
        let tip = staking.chain.tip().timestamp.0;
        let honest: Vec<BlockStakePosition> = (1..=params.honest_stakers)
            .flat_map(|staker| staking.positions_of(staker))
            .collect();
        let mine = staking.positions_of(0);
        let from = (tip + 1).max(real.saturating_sub(lookback));
        let (honest_time, honest_position) =
            staking.earliest_win(&honest, Timestamp(from), horizon)?;
        let honest_publish = honest_time.0.max(real);
        let attacker_try = match strategy {
            Strategy::TimestampWindow => find_winning_timestamp(
                &staking.chain,
                &mine,
                Timestamp(0),
                Timestamp(from + horizon),
            )
            .map(|(time, position)| {
                (
                    time,
                    position,
                    real.max(time.0.saturating_sub(future_threshold)),
                )
            }),
            _ => find_winning_timestamp(
                &staking.chain,
                &mine,
                Timestamp(from),
                Timestamp(from + horizon),
            )
            .map(|(time, position)| (time, position, time.0.max(real))),
        };
        let attacker_wins = match attacker_try {
            Some((_, _, publish)) => {
                publish < honest_publish || (publish == honest_publish && ties.random::<bool>())
            }
            None => false,
        };
        match attacker_try {
            Some((time, position, publish)) if attacker_wins => {
                let transactions = if strategy == Strategy::Reposition {
                    reposition(&staking, &mut attacker, position, time, params)
                        .into_iter()
                        .collect()
                } else {
                    Vec::new()
                };
                staking.extend_with(position, time, Timestamp(publish), transactions)?;
                attacker_blocks += 1;
                leads.push(time.0 as i64 - publish as i64);
                real = publish;
            }
            _ => {
                staking.extend(honest_position, honest_time, Timestamp(honest_publish))?;
                real = honest_publish;
            }
        }
    }
    let blocks = params.blocks as u64;
    Ok(RunResult {
        strategy,
        share,
        outputs,
        aging,
        blocks,
        attacker_blocks,
        mean_block_seconds: (real - genesis) as f64 / blocks as f64,
        mean_lead: leads.iter().sum::<i64>() as f64 / leads.len().max(1) as f64,
        max_lead: leads.iter().copied().max().unwrap_or(0),
    })
}

/// Runs every experiment.
pub fn run(params: &GrindingParams) -> Result<GrindingResult, SimulationError> {
    params.check()?;
    let network_aging = chain::ChainConfig::shipped(&params.network)?
        .consensus
        .blockstake_aging;
    let mut runs = Vec::new();
    for share in &params.attacker_shares {
        runs.push(run_one(params, Strategy::Honest, *share, 2, None)?);
        runs.push(run_one(params, Strategy::TimestampWindow, *share, 2, None)?);
        runs.push(run_one(params, Strategy::Reposition, *share, 2, None)?);
        runs.push(run_one(params, Strategy::Reposition, *share, 2, Some(0))?);
    }
    let splits = params
        .splits
        .iter()
        .map(|outputs| run_one(params, Strategy::Honest, params.split_share, *outputs, None))
        .collect::<Result<_, _>>()?;
    Ok(GrindingResult {
        params: params.clone(),
        runs,
        splits,
        network_aging,
    })
}

impl GrindingResult {
    /// The run of `strategy` at `share` with 2 outputs and `aging`.
    pub fn find(&self, strategy: Strategy, share: f64, aging: Option<u64>) -> Option<&RunResult> {
        self.runs.iter().find(|r| {
            r.strategy == strategy && r.share == share && r.aging == aging && r.outputs == 2
        })
    }
}

fn describe_aging(aging: Option<u64>, network: u64) -> String {
    match aging {
        Some(0) => "off".to_owned(),
        Some(seconds) => format!("{seconds} s"),
        None => format!("{network} s"),
    }
}

/// Writes CSV files, charts and the report section.
pub fn write(result: &GrindingResult, out: &mut Outputs) -> Result<(), SimulationError> {
    let p = &result.params;
    out.text(&format!(
        "Seed {}; an attacker against {} honest stakers of {} blockstakes each, constants of `{}` (future threshold, median window, aging {} s) with block frequency {} s, target window {}, stake modifier delay {}; {} blocks per run on the real chain. The repositioning attacker chooses among {} positions, looking {} s ahead.",
        p.seed,
        p.honest_stakers,
        p.honest_stake,
        p.network,
        result.network_aging,
        p.block_frequency,
        p.target_window,
        p.stake_modifier_delay,
        p.blocks,
        p.reposition_choices,
        p.reposition_horizon
    ));
    let mut table = Table::new(&[
        "strategy",
        "aging",
        "stake_share",
        "outputs",
        "attacker_blocks",
        "block_share",
        "gain",
        "mean_block_seconds",
        "mean_timestamp_lead_s",
        "max_timestamp_lead_s",
    ]);
    for run in result.runs.iter().chain(&result.splits) {
        table.push(vec![
            run.strategy.name().to_owned(),
            describe_aging(run.aging, result.network_aging),
            fixed(run.share, 3),
            run.outputs.to_string(),
            run.attacker_blocks.to_string(),
            fixed(run.attacker_share(), 4),
            fixed(run.attacker_share() / run.share, 3),
            fixed(run.mean_block_seconds, 3),
            fixed(run.mean_lead, 2),
            run.max_lead.to_string(),
        ]);
    }
    out.csv("grinding_runs", &table)?;
    out.text(&format!(
        "`gain` = share of blocks / share of stake; `timestamp lead` = block timestamp − the simulated time it was published (attacker blocks only).\n\n{}",
        table.to_markdown()
    ));
    let line = |strategy: Strategy, aging: Option<u64>, label: String| {
        Series::line(
            label,
            p.attacker_shares
                .iter()
                .filter_map(|share| result.find(strategy, *share, aging))
                .map(|run| (run.share, run.attacker_share()))
                .collect(),
        )
    };
    let high = p.attacker_shares.iter().copied().fold(0.0, f64::max);
    let low = p.attacker_shares.iter().copied().fold(1.0, f64::min);
    out.chart(
        "grinding_shares",
        &Chart {
            title: "Attacker's share of blocks by strategy".to_owned(),
            x_label: "attacker's share of stake".to_owned(),
            y_label: "attacker's share of blocks".to_owned(),
            series: vec![
                line(Strategy::Honest, None, "honest".to_owned()),
                line(
                    Strategy::TimestampWindow,
                    None,
                    "timestamp window".to_owned(),
                ),
                line(
                    Strategy::Reposition,
                    None,
                    format!("reposition, aging {} s", result.network_aging),
                ),
                line(
                    Strategy::Reposition,
                    Some(0),
                    "reposition, aging off".to_owned(),
                ),
                Series::reference(
                    "share of blocks = share of stake",
                    vec![(low, low), (high, high)],
                ),
            ],
            x_log: false,
            y_log: false,
            y_range: Some((0.0, 1.05)),
        },
        "The attacker's share of blocks against its share of stake for each strategy.",
    )?;
    out.chart(
        "grinding_splits",
        &Chart {
            title: format!(
                "Splitting {} % of the stake over many outputs",
                fixed(p.split_share * 100.0, 0)
            ),
            x_label: "number of outputs".to_owned(),
            y_label: "attacker's share of blocks".to_owned(),
            series: vec![
                Series::line(
                    "honest timing",
                    result
                        .splits
                        .iter()
                        .map(|run| (run.outputs as f64, run.attacker_share()))
                        .collect(),
                ),
                Series::reference(
                    "share of stake",
                    vec![
                        (1.0, p.split_share),
                        (
                            p.splits.iter().copied().max().unwrap_or(1) as f64,
                            p.split_share,
                        ),
                    ],
                ),
            ],
            x_log: true,
            y_log: false,
            y_range: Some((0.0, (p.split_share * 2.0).min(1.0))),
        },
        "The attacker's share of blocks when its stake is split over many outputs (honest timing).",
    )?;
    Ok(())
}
