//! Forks under propagation delay: a network of nodes, each with its own
//! real [`Chain`] (block tree, cumulative difficulty, surpass threshold,
//! finality depth) and one staker, on a simulated clock in milliseconds.
//! Each node creates blocks as the real node does (the earliest winning
//! second from `max(tip + 1, now − lookback)` on its own tip), and every
//! block reaches every other node after a random delay. Measured: stale
//! blocks (fork rate), the depths of the reorganisations the nodes
//! perform, and reorganisations refused for exceeding the finality depth.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::sync::Arc;

use chain::config::ChainConfig;
use chain::creator::{build_block, find_winning_timestamp};
use chain::{AcceptOutcome, Chain, ChainError, ManualClock};
use ledger::crypto::SecretKey;
use ledger::{Address, Block, BlockId, BlockStakePosition, Timestamp};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::chart::{Chart, Series};
use crate::error::{SimulationError, require};
use crate::network::{config, staker_key};
use crate::output::{Outputs, Table, fixed};
use crate::rng;

/// Parameters of [`run`].
#[derive(Debug, Clone)]
pub struct ForkParams {
    pub seed: u64,
    /// Shipped network whose constants are used (finality depth included).
    pub network: String,
    pub nodes: usize,
    /// Block frequencies to simulate (seconds).
    pub frequencies: Vec<u64>,
    /// Mean propagation delays to simulate (milliseconds); each delay is
    /// half this mean plus an exponential draw of the other half.
    pub delays_ms: Vec<u64>,
    /// Blocks created per cell of the grid.
    pub blocks: usize,
    pub target_window: u64,
    pub stake_modifier_delay: u64,
    /// Every node holds the same stake (otherwise uniform in 50..=150).
    pub equal_stake: bool,
}

impl ForkParams {
    pub fn full(seed: u64) -> ForkParams {
        ForkParams {
            seed,
            network: "testnet".to_owned(),
            nodes: 8,
            frequencies: vec![2, 5, 10, 30],
            delays_ms: vec![100, 500, 1_000, 2_000, 5_000, 10_000],
            blocks: 2_000,
            target_window: 40,
            stake_modifier_delay: 20,
            equal_stake: false,
        }
    }

    pub fn short(seed: u64) -> ForkParams {
        ForkParams {
            nodes: 4,
            frequencies: vec![5],
            delays_ms: vec![100, 5_000],
            blocks: 300,
            ..ForkParams::full(seed)
        }
    }

    fn check(&self) -> Result<(), SimulationError> {
        require(self.nodes >= 2, "nodes", || "at least 2".to_owned())?;
        require(self.blocks >= 1, "blocks", || "at least 1".to_owned())?;
        require(
            !self.frequencies.is_empty() && self.frequencies.iter().all(|f| *f >= 1),
            "frequencies",
            || "at least one, each at least 1 s".to_owned(),
        )?;
        require(!self.delays_ms.is_empty(), "delays_ms", || {
            "at least one".to_owned()
        })
    }
}

/// The outcome of one (frequency, delay) cell.
#[derive(Debug, Clone)]
pub struct Cell {
    pub frequency: u64,
    pub delay_ms: u64,
    pub created: u64,
    /// Blocks on node 0's best chain at the end.
    pub on_main: u64,
    /// Depth (blocks reverted) of every reorganisation any node performed.
    pub reorgs: Vec<u64>,
    /// Reorganisations refused as deeper than the finality depth.
    pub refused_too_deep: u64,
    pub finality_depth: u64,
    /// Mean seconds between blocks of the final best chain.
    pub mean_block_time: f64,
}

impl Cell {
    /// Share of created blocks not on the final best chain.
    pub fn fork_rate(&self) -> f64 {
        (self.created - self.on_main) as f64 / self.created.max(1) as f64
    }

    pub fn max_reorg(&self) -> u64 {
        self.reorgs.iter().copied().max().unwrap_or(0)
    }
}

#[derive(Debug, Clone)]
pub struct ForkResult {
    pub params: ForkParams,
    pub cells: Vec<Cell>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    /// Node creates its block (if its tip is still the one of `epoch`).
    Create {
        node: usize,
        epoch: u64,
        timestamp: u64,
        position: BlockStakePosition,
    },
    /// Block `block` (index into the created blocks) reaches `node`.
    Deliver { node: usize, block: usize },
}

struct Node {
    chain: Chain,
    clock: Arc<ManualClock>,
    key: SecretKey,
    address: Address,
    epoch: u64,
    /// Blocks received before their parent, by parent.
    waiting: HashMap<BlockId, Vec<usize>>,
}

struct Network {
    nodes: Vec<Node>,
    blocks: Vec<Block>,
    queue: BinaryHeap<Reverse<(u64, u64, Event)>>,
    sequence: u64,
    delays: ChaCha8Rng,
    delay_ms: u64,
    lookback: u64,
    reorgs: Vec<u64>,
    refused_too_deep: u64,
}

impl Network {
    fn push(&mut self, at: u64, event: Event) {
        self.sequence += 1;
        self.queue.push(Reverse((at, self.sequence, event)));
    }

    /// Schedules `node`'s next block on its current tip.
    fn schedule(&mut self, index: usize, now_ms: u64) -> Result<(), SimulationError> {
        let node = &mut self.nodes[index];
        node.epoch += 1;
        let positions: Vec<BlockStakePosition> = node
            .chain
            .state()
            .blockstake_outputs()
            .filter(|(_, entry)| entry.output.condition.address() == node.address)
            .map(|(_, entry)| entry.position)
            .collect();
        let now = now_ms / 1000;
        let tip = node.chain.tip().timestamp.0;
        let from = (tip + 1).max(now.saturating_sub(self.lookback));
        let horizon = 10_000_000;
        let Some((timestamp, position)) = find_winning_timestamp(
            &node.chain,
            &positions,
            Timestamp(from),
            Timestamp(from + horizon),
        ) else {
            return Err(SimulationError::NoWinner {
                height: node.chain.height().0 + 1,
                seconds: horizon,
            });
        };
        let at = now_ms.max(timestamp.0 * 1000);
        let epoch = node.epoch;
        self.push(
            at,
            Event::Create {
                node: index,
                epoch,
                timestamp: timestamp.0,
                position,
            },
        );
        Ok(())
    }

    /// `node` accepts block `block` at `now_ms` (and the blocks that were
    /// waiting for it); reschedules its creation if its tip moved.
    fn deliver(&mut self, index: usize, block: usize, now_ms: u64) -> Result<(), SimulationError> {
        let mut pending = vec![block];
        let before = self.nodes[index].chain.tip().id;
        while let Some(block) = pending.pop() {
            let candidate = self.blocks[block].clone();
            let id = candidate.id();
            let node = &mut self.nodes[index];
            if node.chain.node(&id).is_some() {
                continue;
            }
            if node.chain.node(&candidate.header.parent).is_none() {
                node.waiting
                    .entry(candidate.header.parent)
                    .or_default()
                    .push(block);
                continue;
            }
            node.clock.set(Timestamp(now_ms / 1000));
            match node.chain.accept_block(candidate) {
                Ok(AcceptOutcome::Connected { update, .. }) => {
                    if !update.reverted.is_empty() {
                        self.reorgs.push(update.reverted.len() as u64);
                    }
                }
                Ok(other) => {
                    return Err(SimulationError::Invariant(format!(
                        "block {id} was not connected: {other:?}"
                    )));
                }
                Err(ChainError::ReorgTooDeep { .. }) => self.refused_too_deep += 1,
                Err(error) => return Err(error.into()),
            }
            if let Some(children) = node.waiting.remove(&id) {
                // Pushed in reverse so they are accepted in arrival order.
                pending.extend(children.into_iter().rev());
            }
        }
        if self.nodes[index].chain.tip().id != before {
            self.schedule(index, now_ms)?;
        }
        Ok(())
    }

    fn delay(&mut self) -> u64 {
        let half = self.delay_ms as f64 / 2.0;
        (half + rng::exponential(&mut self.delays, half)).round() as u64
    }
}

/// Each node's stake: equal when `equal_stake`, else uniform in 50..=150.
pub fn node_stakes(params: &ForkParams) -> Vec<(u64, usize)> {
    let mut stream = rng::stream(params.seed, "forks/stakes");
    (0..params.nodes)
        .map(|node| {
            let stake = if params.equal_stake {
                100
            } else {
                stream.random_range(50..=150)
            };
            (stake, node)
        })
        .collect()
}

fn run_cell(params: &ForkParams, frequency: u64, delay_ms: u64) -> Result<Cell, SimulationError> {
    let allocations = node_stakes(params);
    let overrides = [
        ("block_frequency", frequency.to_string()),
        ("target_window", params.target_window.to_string()),
        (
            "stake_modifier_delay",
            params.stake_modifier_delay.to_string(),
        ),
    ];
    let config: Arc<ChainConfig> = config(&params.network, &overrides, &allocations, &[])?;
    let finality_depth = config.consensus.finality_depth;
    let genesis_ms = config.genesis.header.timestamp.0 * 1000;
    let nodes = (0..params.nodes)
        .map(|index| {
            let clock = Arc::new(ManualClock::new(config.genesis.header.timestamp));
            let key = staker_key(index);
            let address = Address::for_public_key(&key.public_key());
            Ok(Node {
                chain: Chain::in_memory(config.clone(), clock.clone())?,
                clock,
                key,
                address,
                epoch: 0,
                waiting: HashMap::new(),
            })
        })
        .collect::<Result<Vec<Node>, SimulationError>>()?;
    let mut network = Network {
        nodes,
        blocks: Vec::new(),
        queue: BinaryHeap::new(),
        sequence: 0,
        delays: rng::stream(params.seed, &format!("forks/delays/{frequency}/{delay_ms}")),
        delay_ms,
        lookback: 2 * frequency,
        reorgs: Vec::new(),
        refused_too_deep: 0,
    };
    for index in 0..params.nodes {
        network.schedule(index, genesis_ms)?;
    }
    while let Some(Reverse((now_ms, _, event))) = network.queue.pop() {
        match event {
            Event::Create {
                node: index,
                epoch,
                timestamp,
                position,
            } => {
                if network.nodes[index].epoch != epoch || network.blocks.len() >= params.blocks {
                    continue;
                }
                let node = &network.nodes[index];
                let block = build_block(
                    &node.chain,
                    &node.key,
                    position,
                    Timestamp(timestamp),
                    Vec::new(),
                )?;
                network.blocks.push(block);
                let created = network.blocks.len() - 1;
                network.deliver(index, created, now_ms)?;
                for other in (0..params.nodes).filter(|other| *other != index) {
                    let at = now_ms + network.delay();
                    network.push(
                        at,
                        Event::Deliver {
                            node: other,
                            block: created,
                        },
                    );
                }
            }
            Event::Deliver { node, block } => network.deliver(node, block, now_ms)?,
        }
    }
    let chain = &network.nodes[0].chain;
    let on_main = chain.height().0;
    let mean_block_time = (chain.tip().timestamp.0 - config.genesis.header.timestamp.0) as f64
        / on_main.max(1) as f64;
    Ok(Cell {
        frequency,
        delay_ms,
        created: network.blocks.len() as u64,
        on_main,
        reorgs: network.reorgs,
        refused_too_deep: network.refused_too_deep,
        finality_depth,
        mean_block_time,
    })
}

/// Runs every (frequency, delay) cell.
pub fn run(params: &ForkParams) -> Result<ForkResult, SimulationError> {
    params.check()?;
    let mut cells = Vec::new();
    for frequency in &params.frequencies {
        for delay in &params.delays_ms {
            cells.push(run_cell(params, *frequency, *delay)?);
        }
    }
    Ok(ForkResult {
        params: params.clone(),
        cells,
    })
}

/// Writes CSV files, charts and the report section.
pub fn write(result: &ForkResult, out: &mut Outputs) -> Result<(), SimulationError> {
    let p = &result.params;
    let finality = result.cells.first().map_or(0, |c| c.finality_depth);
    out.text(&format!(
        "Seed {}; {} nodes ({}), each running its own real chain (fork choice by cumulative difficulty with the surpass threshold, finality depth {finality} from `{}`) and creating blocks as the node does; target window {}, stake modifier delay {}. Each cell creates {} blocks; a block reaches each other node after half the mean delay plus an exponential draw of the other half. Fork rate = share of created blocks not on the final best chain.",
        p.seed,
        p.nodes,
        if p.equal_stake {
            "equal stakes".to_owned()
        } else {
            let stakes: Vec<String> = node_stakes(p).iter().map(|(s, _)| s.to_string()).collect();
            format!("stakes {}", stakes.join(", "))
        },
        p.network,
        p.target_window,
        p.stake_modifier_delay,
        p.blocks
    ));
    let mut table = Table::new(&[
        "frequency_s",
        "mean_delay_ms",
        "delay_over_frequency",
        "created",
        "on_main",
        "fork_rate",
        "reorgs",
        "max_reorg_depth",
        "reorgs_deeper_than_2",
        "refused_beyond_finality",
        "mean_block_time_s",
    ]);
    for cell in &result.cells {
        table.push(vec![
            cell.frequency.to_string(),
            cell.delay_ms.to_string(),
            fixed(cell.delay_ms as f64 / 1000.0 / cell.frequency as f64, 4),
            cell.created.to_string(),
            cell.on_main.to_string(),
            fixed(cell.fork_rate(), 4),
            cell.reorgs.len().to_string(),
            cell.max_reorg().to_string(),
            cell.reorgs.iter().filter(|d| **d > 2).count().to_string(),
            cell.refused_too_deep.to_string(),
            fixed(cell.mean_block_time, 3),
        ]);
    }
    out.csv("forks_grid", &table)?;
    out.text(&table.to_markdown());

    let mut depths: BTreeMap<u64, u64> = BTreeMap::new();
    let mut total_reorgs = 0u64;
    let mut refused = 0u64;
    for cell in &result.cells {
        for depth in &cell.reorgs {
            *depths.entry(*depth).or_default() += 1;
        }
        total_reorgs += cell.reorgs.len() as u64;
        refused += cell.refused_too_deep;
    }
    let mut table = Table::new(&["depth", "reorgs", "share_at_least_this_deep"]);
    let mut remaining = total_reorgs;
    let mut ccdf = Vec::new();
    for (depth, count) in &depths {
        let share = remaining as f64 / total_reorgs.max(1) as f64;
        table.push(vec![depth.to_string(), count.to_string(), fixed(share, 6)]);
        ccdf.push((*depth as f64, share));
        remaining -= count;
    }
    out.csv("forks_reorg_depths", &table)?;
    let mut limits = Table::new(&[
        "network",
        "finality_depth",
        "reorgs_deeper",
        "share_of_reorgs",
        "cells_with_one",
    ]);
    for name in ["devnet", "testnet", "mainnet"] {
        let depth = ChainConfig::shipped(name)?.consensus.finality_depth;
        let deeper = |cell: &Cell| cell.reorgs.iter().filter(|d| **d > depth).count();
        let count: usize = result.cells.iter().map(deeper).sum();
        limits.push(vec![
            name.to_owned(),
            depth.to_string(),
            count.to_string(),
            fixed(count as f64 / total_reorgs.max(1) as f64, 6),
            result
                .cells
                .iter()
                .filter(|cell| deeper(cell) > 0)
                .map(|cell| format!("{} s / {} ms", cell.frequency, cell.delay_ms))
                .collect::<Vec<_>>()
                .join("; "),
        ]);
    }
    out.csv("forks_finality", &limits)?;
    out.text(&format!(
        "Reorganisations that would exceed each shipped network's finality depth (on a network with that depth a node refuses such a reorganisation and stays on its branch):\n\n{}",
        limits.to_markdown()
    ));
    let deepest = depths.keys().next_back().copied().unwrap_or(0);
    out.text(&format!(
        "Over all cells the nodes performed {total_reorgs} reorganisations, the deepest {deepest} blocks; {refused} were refused for exceeding the finality depth of {finality} blocks. With no deep reorganisation observed in {total_reorgs}, the rate of reorganisations beyond the finality depth is below {} per reorganisation (95 % upper bound, rule of three) for these delays.",
        if refused == 0 {
            fixed(3.0 / total_reorgs.max(1) as f64, 5)
        } else {
            fixed(refused as f64 / total_reorgs.max(1) as f64, 5)
        }
    ));

    let series = p
        .frequencies
        .iter()
        .map(|frequency| {
            Series::line(
                format!("block frequency {frequency} s"),
                result
                    .cells
                    .iter()
                    .filter(|c| c.frequency == *frequency)
                    .map(|c| (c.delay_ms as f64 / 1000.0, c.fork_rate()))
                    .collect(),
            )
        })
        .collect();
    out.chart(
        "forks_rate",
        &Chart {
            title: "Fork rate against mean propagation delay".to_owned(),
            x_label: "mean propagation delay (s)".to_owned(),
            y_label: "share of blocks not on the best chain".to_owned(),
            series,
            x_log: true,
            y_log: false,
            y_range: None,
        },
        "Fork rate (stale blocks / created blocks) against mean propagation delay, one line per block frequency.",
    )?;
    out.chart(
        "forks_reorg_depths",
        &Chart {
            title: "Reorganisation depths (all cells)".to_owned(),
            x_label: "depth (blocks reverted)".to_owned(),
            y_label: "share of reorganisations at least this deep".to_owned(),
            series: vec![Series::line("all cells", ccdf)],
            x_log: false,
            y_log: true,
            y_range: None,
        },
        "Complementary distribution of reorganisation depths over all cells.",
    )?;
    Ok(())
}
