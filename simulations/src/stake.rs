//! Stake fairness and difficulty: many stakers with Pareto-distributed
//! stake create blocks on one real chain (the real lottery, stake
//! modifier, respend and retarget). Measures each staker's share of blocks
//! against its share of stake, then drops participation to 50 % and 20 %
//! of the stake and back to 100 %, once with the network's retarget clamps
//! and once with them widened, recording block time and target.

use ledger::Timestamp;

use crate::chart::{Chart, Series};
use crate::error::{SimulationError, require};
use crate::network::{Staking, config};
use crate::output::{Outputs, Table, fixed};
use crate::rng;

/// Parameters of [`run`].
#[derive(Debug, Clone)]
pub struct StakeParams {
    pub seed: u64,
    /// Shipped network whose constants are used.
    pub network: String,
    pub block_frequency: u64,
    pub target_window: u64,
    pub stakers: usize,
    /// Pareto shape of the stake distribution (1.16: 80 % held by 20 %).
    pub pareto_alpha: f64,
    /// Smallest stake.
    pub minimum_stake: u64,
    /// Blocks with everyone online (the fairness measurement).
    pub fairness_blocks: usize,
    /// Blocks in each participation phase after that.
    pub phase_blocks: usize,
    /// The widened clamps, `(up, down)` as TOML fractions.
    pub widened_clamps: (String, String),
}

impl StakeParams {
    /// The documented full run.
    pub fn full(seed: u64) -> StakeParams {
        StakeParams {
            seed,
            network: "testnet".to_owned(),
            block_frequency: 10,
            target_window: 100,
            stakers: 200,
            pareto_alpha: 1.16,
            minimum_stake: 100,
            fairness_blocks: 20_000,
            phase_blocks: 1_500,
            widened_clamps: ("\"10/1\"".to_owned(), "\"1/10\"".to_owned()),
        }
    }

    /// A short run for tests.
    pub fn short(seed: u64) -> StakeParams {
        StakeParams {
            stakers: 30,
            target_window: 20,
            fairness_blocks: 2_500,
            phase_blocks: 300,
            ..StakeParams::full(seed)
        }
    }

    fn check(&self) -> Result<(), SimulationError> {
        require(self.stakers >= 2, "stakers", || "at least 2".to_owned())?;
        require(self.pareto_alpha > 0.0, "pareto_alpha", || {
            format!("{} must be above 0", self.pareto_alpha)
        })?;
        require(self.minimum_stake >= 1, "minimum_stake", || {
            "at least 1".to_owned()
        })?;
        require(self.fairness_blocks >= 1, "fairness_blocks", || {
            "at least 1".to_owned()
        })?;
        require(
            self.target_window >= 2 && self.target_window.is_multiple_of(2),
            "target_window",
            || format!("{} must be even and at least 2", self.target_window),
        )?;
        require(
            self.phase_blocks as u64 >= self.target_window,
            "phase_blocks",
            || format!("{} must be at least the target window", self.phase_blocks),
        )
    }
}

/// Participation phases after the fairness phase: share of stake online.
pub const PHASES: [f64; 4] = [1.0, 0.5, 0.2, 1.0];

/// One created block.
#[derive(Debug, Clone)]
pub struct BlockRecord {
    pub height: u64,
    pub phase: usize,
    pub online_share: f64,
    pub block_time: u64,
    pub staker: usize,
    /// The tip's child target over the initial target after this block.
    pub target_ratio: f64,
}

/// One clamp setting's run.
#[derive(Debug, Clone)]
pub struct Variant {
    pub name: String,
    pub up: String,
    pub down: String,
    pub blocks: Vec<BlockRecord>,
}

#[derive(Debug, Clone)]
pub struct StakeResult {
    pub params: StakeParams,
    pub stakes: Vec<u64>,
    /// Blocks each staker created in the fairness phase (first variant).
    pub won: Vec<u64>,
    pub variants: Vec<Variant>,
}

/// Draws the stakes: Pareto, rounded down, at least the minimum.
pub fn draw_stakes(params: &StakeParams) -> Vec<u64> {
    let mut stream = rng::stream(params.seed, "stake/distribution");
    (0..params.stakers)
        .map(|_| {
            let value = rng::pareto(
                &mut stream,
                params.minimum_stake as f64,
                params.pareto_alpha,
            );
            // Cap so the total stays far from u64 overflow.
            value.min(1e12) as u64
        })
        .collect()
}

/// Which stakers are online for each phase: stakers in a random order join
/// while the online stake stays within the phase's share of the total.
fn online_sets(params: &StakeParams, stakes: &[u64]) -> Vec<Vec<bool>> {
    let total: u64 = stakes.iter().sum();
    let mut stream = rng::stream(params.seed, "stake/participation");
    let mut order: Vec<usize> = (0..stakes.len()).collect();
    rng::shuffle(&mut stream, &mut order);
    PHASES
        .iter()
        .map(|share| {
            let limit = (total as f64 * share).round() as u64;
            let mut online = vec![false; stakes.len()];
            let mut sum = 0u64;
            for staker in &order {
                if sum + stakes[*staker] <= limit {
                    sum += stakes[*staker];
                    online[*staker] = true;
                }
            }
            online
        })
        .collect()
}

/// Runs the simulation.
pub fn run(params: &StakeParams) -> Result<StakeResult, SimulationError> {
    params.check()?;
    let stakes = draw_stakes(params);
    let total: u64 = stakes.iter().sum();
    let online = online_sets(params, &stakes);
    let allocations: Vec<(u64, usize)> = stakes.iter().copied().zip(0..).collect();
    let clamps = [
        ("network clamps", None),
        ("widened clamps", Some(params.widened_clamps.clone())),
    ];
    let mut variants = Vec::new();
    let mut won = vec![0u64; stakes.len()];
    for (index, (name, widened)) in clamps.into_iter().enumerate() {
        let mut overrides = vec![
            ("block_frequency", params.block_frequency.to_string()),
            ("target_window", params.target_window.to_string()),
        ];
        if let Some((up, down)) = &widened {
            overrides.push(("max_adjustment_up", up.clone()));
            overrides.push(("max_adjustment_down", down.clone()));
        }
        let config = config(&params.network, &overrides, &allocations, &[])?;
        let consensus = &config.consensus;
        let (up, down) = (
            format!(
                "{}/{}",
                consensus.max_adjustment_up.numerator, consensus.max_adjustment_up.denominator
            ),
            format!(
                "{}/{}",
                consensus.max_adjustment_down.numerator, consensus.max_adjustment_down.denominator
            ),
        );
        let mut staking = Staking::new(config, &allocations)?;
        let mut ties = rng::stream(params.seed, &format!("stake/ties/{index}"));
        let mut blocks = Vec::new();
        let phases = std::iter::once((usize::MAX, params.fairness_blocks))
            .chain((0..PHASES.len()).map(|phase| (phase, params.phase_blocks)));
        for (phase, count) in phases {
            let everyone = vec![true; stakes.len()];
            let set = online.get(phase).unwrap_or(&everyone);
            let online_stake: u64 = (0..stakes.len())
                .filter(|s| set[*s])
                .map(|s| stakes[s])
                .sum();
            for _ in 0..count {
                let mut positions: Vec<_> = (0..stakes.len())
                    .filter(|s| set[*s])
                    .flat_map(|s| staking.positions_of(s))
                    .collect();
                // Who wins a second that several outputs win is random.
                rng::shuffle(&mut ties, &mut positions);
                let tip = staking.chain.tip().timestamp;
                let from = Timestamp(tip.0 + 1);
                let (timestamp, position) = staking.earliest_win(&positions, from, 1_000_000)?;
                let staker = staking.owner(&position).unwrap_or(usize::MAX);
                staking.extend(position, timestamp, timestamp)?;
                if phase == usize::MAX && index == 0 && staker < won.len() {
                    won[staker] += 1;
                }
                blocks.push(BlockRecord {
                    height: staking.chain.height().0,
                    phase: if phase == usize::MAX { 0 } else { phase + 1 },
                    online_share: online_stake as f64 / total as f64,
                    block_time: timestamp.0 - tip.0,
                    staker,
                    target_ratio: staking.target_ratio(),
                });
            }
        }
        variants.push(Variant {
            name: name.to_owned(),
            up,
            down,
            blocks,
        });
    }
    Ok(StakeResult {
        params: params.clone(),
        stakes,
        won,
        variants,
    })
}

/// Fairness figures of the first phase.
#[derive(Debug, Clone)]
pub struct Fairness {
    /// Stakers whose block count is outside expected ± 4σ (binomial).
    pub outliers: Vec<usize>,
    /// Pearson's χ² over stakers, and its degrees of freedom.
    pub chi_square: f64,
    pub degrees: usize,
    /// Largest |block share − stake share|, in percentage points.
    pub max_deviation_points: f64,
}

impl StakeResult {
    pub fn fairness(&self) -> Fairness {
        let total_stake: u64 = self.stakes.iter().sum();
        let blocks: u64 = self.won.iter().sum();
        let mut outliers = Vec::new();
        let mut chi_square = 0.0;
        let mut max_deviation: f64 = 0.0;
        for (staker, (stake, won)) in self.stakes.iter().zip(&self.won).enumerate() {
            let share = *stake as f64 / total_stake as f64;
            let expected = share * blocks as f64;
            let sigma = (expected * (1.0 - share)).sqrt();
            if (*won as f64 - expected).abs() > 4.0 * sigma + 1.0 {
                outliers.push(staker);
            }
            if expected > 0.0 {
                chi_square += (*won as f64 - expected).powi(2) / expected;
            }
            max_deviation = max_deviation.max((*won as f64 / blocks as f64 - share).abs());
        }
        Fairness {
            outliers,
            chi_square,
            degrees: self.stakes.len().saturating_sub(1),
            max_deviation_points: max_deviation * 100.0,
        }
    }

    /// Mean block time of each retarget interval of phases 1.. of a
    /// variant: `(phase, first height, mean seconds)`.
    pub fn interval_means(&self, variant: &Variant) -> Vec<(usize, u64, f64)> {
        let interval = (self.params.target_window / 2) as usize;
        let phased: Vec<&BlockRecord> = variant.blocks.iter().filter(|b| b.phase > 0).collect();
        let mut means = Vec::new();
        for phase in 1..=PHASES.len() {
            let blocks: Vec<&&BlockRecord> = phased.iter().filter(|b| b.phase == phase).collect();
            for chunk in blocks.chunks(interval) {
                let mean =
                    chunk.iter().map(|b| b.block_time as f64).sum::<f64>() / chunk.len() as f64;
                means.push((phase, chunk[0].height, mean));
            }
        }
        means
    }

    /// Intervals after the start of `phase` until an interval's mean block
    /// time is within `tolerance` of the frequency (None: never).
    pub fn intervals_to_recover(
        &self,
        variant: &Variant,
        phase: usize,
        tolerance: f64,
    ) -> Option<usize> {
        let frequency = self.params.block_frequency as f64;
        self.interval_means(variant)
            .iter()
            .filter(|(p, _, _)| *p == phase)
            .position(|(_, _, mean)| (mean - frequency).abs() <= tolerance * frequency)
    }
}

/// Writes CSV files, charts and the report section.
pub fn write(result: &StakeResult, out: &mut Outputs) -> Result<(), SimulationError> {
    let p = &result.params;
    let total_stake: u64 = result.stakes.iter().sum();
    let blocks: u64 = result.won.iter().sum();
    out.text(&format!(
        "Seed {}; {} stakers, Pareto stake (shape {}, minimum {}), total {} blockstakes; constants of `{}` with block frequency {} s and target window {} blocks (retarget every {}). {} blocks with everyone online, then {} blocks at each participation level {:?}. Every block is built by the real creator, signed and accepted by the real chain.",
        p.seed,
        p.stakers,
        p.pareto_alpha,
        p.minimum_stake,
        total_stake,
        p.network,
        p.block_frequency,
        p.target_window,
        p.target_window / 2,
        p.fairness_blocks,
        p.phase_blocks,
        PHASES
    ));
    let fairness = result.fairness();
    out.text(&format!(
        "Fairness over {blocks} blocks: χ² = {} with {} degrees of freedom (mean of χ² is its degrees of freedom); largest |block share − stake share| {} percentage points; stakers outside expected ± 4σ: {}.",
        fixed(fairness.chi_square, 1),
        fairness.degrees,
        fixed(fairness.max_deviation_points, 3),
        fairness.outliers.len()
    ));
    let mut table = Table::new(&["staker", "stake", "stake_share", "blocks", "block_share"]);
    let mut points = Vec::new();
    for (staker, (stake, won)) in result.stakes.iter().zip(&result.won).enumerate() {
        let stake_share = *stake as f64 / total_stake as f64;
        let block_share = *won as f64 / blocks.max(1) as f64;
        table.push(vec![
            staker.to_string(),
            stake.to_string(),
            fixed(stake_share, 6),
            won.to_string(),
            fixed(block_share, 6),
        ]);
        points.push((stake_share, block_share));
    }
    out.csv("stake_fairness", &table)?;
    let low = points
        .iter()
        .map(|p| p.0)
        .fold(f64::INFINITY, f64::min)
        .max(1e-6);
    let high = points.iter().map(|p| p.0).fold(0.0, f64::max);
    out.chart(
        "stake_fairness",
        &Chart {
            title: format!("Share of blocks against share of stake ({blocks} blocks)"),
            x_label: "share of stake".to_owned(),
            y_label: "share of blocks".to_owned(),
            series: vec![
                Series::points("staker", points),
                Series::reference("block share = stake share", vec![(low, low), (high, high)]),
            ],
            x_log: true,
            y_log: true,
            y_range: None,
        },
        "Each staker's share of blocks against its share of stake (log-log; stakers without a block are not drawn).",
    )?;

    let mut series = Vec::new();
    let mut table = Table::new(&[
        "clamps",
        "height",
        "phase",
        "online_share",
        "block_time",
        "target_ratio",
    ]);
    let mut summary = Table::new(&[
        "clamps (up, down)",
        "phase",
        "online stake",
        "first interval mean (s)",
        "largest interval mean (s)",
        "intervals to within ±10 %",
    ]);
    let interval = (p.target_window / 2) as usize;
    for variant in &result.variants {
        for block in variant.blocks.iter().filter(|b| b.phase > 0) {
            table.push(vec![
                variant.name.clone(),
                block.height.to_string(),
                block.phase.to_string(),
                fixed(block.online_share, 4),
                block.block_time.to_string(),
                fixed(block.target_ratio, 6),
            ]);
        }
        let means = result.interval_means(variant);
        for phase in 1..=PHASES.len() {
            let of_phase: Vec<f64> = means
                .iter()
                .filter(|(q, _, _)| *q == phase)
                .map(|(_, _, m)| *m)
                .collect();
            let share = variant
                .blocks
                .iter()
                .find(|b| b.phase == phase)
                .map(|b| b.online_share)
                .unwrap_or(0.0);
            summary.push(vec![
                format!("{} ({}, {})", variant.name, variant.up, variant.down),
                phase.to_string(),
                format!("{} %", fixed(share * 100.0, 1)),
                fixed(of_phase.first().copied().unwrap_or(f64::NAN), 2),
                fixed(of_phase.iter().copied().fold(0.0, f64::max), 2),
                result
                    .intervals_to_recover(variant, phase, 0.10)
                    .map_or("never".to_owned(), |n| n.to_string()),
            ]);
        }
        series.push(Series::line(
            format!(
                "{} (up {}, down {})",
                variant.name, variant.up, variant.down
            ),
            means
                .iter()
                .map(|(_, height, mean)| (*height as f64, *mean))
                .collect(),
        ));
    }
    if let (Some(first), Some(last)) = (
        series.first().and_then(|s| s.points.first()),
        series.first().and_then(|s| s.points.last()),
    ) {
        series.push(Series::reference(
            "block frequency",
            vec![
                (first.0, p.block_frequency as f64),
                (last.0, p.block_frequency as f64),
            ],
        ));
    }
    out.csv("stake_participation", &table)?;
    out.text(&format!(
        "Participation phases (phase 1 = everyone, 2 = 50 %, 3 = 20 %, 4 = everyone again), mean block time per retarget interval of {interval} blocks:\n\n{}",
        summary.to_markdown()
    ));
    out.chart(
        "stake_participation",
        &Chart {
            title: "Block time when participation drops to 50 % and 20 % and recovers".to_owned(),
            x_label: "height".to_owned(),
            y_label: format!("mean block time per {interval} blocks (s)"),
            series,
            x_log: false,
            y_log: false,
            y_range: None,
        },
        "Mean block time per retarget interval through the participation phases, with the network's clamps and widened clamps.",
    )?;
    Ok(())
}
