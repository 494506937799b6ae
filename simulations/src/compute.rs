//! Compute scheduling: deployments of mixed sizes arrive (Poisson) and
//! leave (exponential lifetimes) on a pool of nodes; every arrival is
//! placed by the chain's real scheduler
//! ([`chain::domains::compute::scheduler::schedule`]) or refused by it.
//! Measured per offered load: time-averaged utilisation of cores, memory
//! and disk, and the share of deployments refused, per size class. After
//! every placement the simulation checks that no node is overcommitted.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use chain::domains::compute::scheduler::{
    Constraints, NodeCandidate, NodeStatus, ScheduleRequest, WorkloadDemand, schedule,
};
use ledger::Hash32;
use ledger::payload::compute::{DeploymentId, Location, Name, NodeId, Resources};
use rand::Rng;

use crate::chart::{Chart, Series};
use crate::error::{SimulationError, require};
use crate::output::{Outputs, Table, fixed};
use crate::rng;

/// A kind of deployment in the stream.
#[derive(Debug, Clone)]
pub struct DeploymentClass {
    pub name: &'static str,
    /// Relative frequency in the stream.
    pub weight: u32,
    /// Workloads, each of these resources, never two on one node.
    pub workloads: usize,
    pub each: Resources,
    pub mean_lifetime_hours: f64,
}

/// Parameters of [`run`].
#[derive(Debug, Clone)]
pub struct ComputeParams {
    pub seed: u64,
    /// Node sizes, repeated round-robin over the nodes.
    pub node_sizes: Vec<Resources>,
    pub nodes: usize,
    pub classes: Vec<DeploymentClass>,
    /// Offered loads (requested cores / total cores, on average).
    pub loads: Vec<f64>,
    pub hours: f64,
    /// Hours at the start left out of the averages.
    pub warm_up_hours: f64,
}

const GIB: u64 = 1024;

impl ComputeParams {
    pub fn full(seed: u64) -> ComputeParams {
        ComputeParams {
            seed,
            node_sizes: vec![
                Resources::new(16, 64 * GIB, 1_000),
                Resources::new(32, 128 * GIB, 2_000),
                Resources::new(64, 256 * GIB, 4_000),
            ],
            nodes: 60,
            classes: vec![
                DeploymentClass {
                    name: "small",
                    weight: 60,
                    workloads: 1,
                    each: Resources::new(1, 2 * GIB, 20),
                    mean_lifetime_hours: 12.0,
                },
                DeploymentClass {
                    name: "medium",
                    weight: 25,
                    workloads: 2,
                    each: Resources::new(4, 8 * GIB, 100),
                    mean_lifetime_hours: 24.0,
                },
                DeploymentClass {
                    name: "large",
                    weight: 10,
                    workloads: 3,
                    each: Resources::new(8, 32 * GIB, 400),
                    mean_lifetime_hours: 48.0,
                },
                DeploymentClass {
                    name: "huge",
                    weight: 5,
                    workloads: 1,
                    each: Resources::new(32, 128 * GIB, 1_500),
                    mean_lifetime_hours: 72.0,
                },
            ],
            loads: vec![0.3, 0.5, 0.7, 0.85, 1.0, 1.2, 1.5],
            hours: 2_000.0,
            warm_up_hours: 300.0,
        }
    }

    pub fn short(seed: u64) -> ComputeParams {
        ComputeParams {
            nodes: 15,
            loads: vec![0.3, 1.5],
            hours: 600.0,
            warm_up_hours: 100.0,
            ..ComputeParams::full(seed)
        }
    }

    fn check(&self) -> Result<(), SimulationError> {
        require(
            self.nodes >= 1 && !self.node_sizes.is_empty(),
            "nodes",
            || "at least one node and one node size".to_owned(),
        )?;
        require(
            !self.classes.is_empty()
                && self.classes.iter().all(|c| c.weight > 0 && c.workloads > 0),
            "classes",
            || "at least one class, each with a weight and a workload".to_owned(),
        )?;
        require(
            self.loads.iter().all(|l| *l > 0.0 && l.is_finite()),
            "loads",
            || "every load must be positive".to_owned(),
        )?;
        require(
            self.hours > self.warm_up_hours && self.warm_up_hours >= 0.0,
            "hours",
            || {
                format!(
                    "{} must exceed the warm-up {}",
                    self.hours, self.warm_up_hours
                )
            },
        )
    }

    fn total(&self) -> Resources {
        (0..self.nodes).fold(Resources::ZERO, |sum, index| {
            let size = self.node_sizes[index % self.node_sizes.len()];
            Resources::new(
                sum.cores + size.cores,
                sum.memory_mib + size.memory_mib,
                sum.disk_gib + size.disk_gib,
            )
        })
    }

    /// Mean cores requested per hour of arrivals at one deployment per hour.
    fn core_hours_per_arrival(&self) -> f64 {
        let weights: u32 = self.classes.iter().map(|c| c.weight).sum();
        self.classes
            .iter()
            .map(|c| {
                f64::from(c.weight) / f64::from(weights)
                    * (c.workloads as f64 * f64::from(c.each.cores))
                    * c.mean_lifetime_hours
            })
            .sum()
    }
}

/// The outcome at one offered load.
#[derive(Debug, Clone)]
pub struct LoadResult {
    pub load: f64,
    /// Time-averaged used / total after the warm-up: cores, memory, disk.
    pub utilisation: [f64; 3],
    /// Per class: (arrived, refused) after the warm-up.
    pub per_class: Vec<(u64, u64)>,
    /// (hour, core utilisation) samples, one per 10 hours.
    pub samples: Vec<(f64, f64)>,
    /// Largest used / total of any node in any dimension, ever.
    pub peak_node_fill: f64,
}

impl LoadResult {
    pub fn refused_share(&self) -> f64 {
        let (arrived, refused) = self
            .per_class
            .iter()
            .fold((0, 0), |(a, r), (ca, cr)| (a + ca, r + cr));
        refused as f64 / arrived.max(1) as f64
    }
}

#[derive(Debug, Clone)]
pub struct ComputeResult {
    pub params: ComputeParams,
    pub loads: Vec<LoadResult>,
}

fn node_id(index: usize) -> NodeId {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&(index as u64).to_be_bytes());
    NodeId(Hash32(bytes))
}

fn name(text: &str) -> Result<Name, SimulationError> {
    Name::new(text).map_err(|error| SimulationError::Parameter {
        name: "name",
        problem: error.to_string(),
    })
}

fn run_load(params: &ComputeParams, load: f64) -> Result<LoadResult, SimulationError> {
    let total = params.total();
    let location = Location::new("be", "gent").map_err(|error| SimulationError::Parameter {
        name: "location",
        problem: error.to_string(),
    })?;
    let mut nodes: Vec<NodeCandidate> = (0..params.nodes)
        .map(|index| {
            Ok(NodeCandidate {
                id: node_id(index),
                farm: name(&format!("farm-{}", index % 4))?,
                location: location.clone(),
                total: params.node_sizes[index % params.node_sizes.len()],
                used: Resources::ZERO,
                status: NodeStatus::Up,
            })
        })
        .collect::<Result<_, SimulationError>>()?;
    let index_of: BTreeMap<NodeId, usize> =
        nodes.iter().enumerate().map(|(i, n)| (n.id, i)).collect();
    let workload_names: Vec<Name> = (0..params
        .classes
        .iter()
        .map(|c| c.workloads)
        .max()
        .unwrap_or(1))
        .map(|i| name(&format!("w{i}")))
        .collect::<Result<_, _>>()?;
    let group = name("spread")?;
    let constraints = Constraints::default();
    let arrivals_per_hour = load * f64::from(total.cores) / params.core_hours_per_arrival();
    let weights: u32 = params.classes.iter().map(|c| c.weight).sum();
    let mut stream = rng::stream(params.seed, &format!("compute/{load}"));
    // Departures: (second, sequence, node placements).
    let mut departures: BinaryHeap<Reverse<(u64, u64)>> = BinaryHeap::new();
    let mut leaving: BTreeMap<u64, Vec<(usize, Resources)>> = BTreeMap::new();
    let mut per_class = vec![(0u64, 0u64); params.classes.len()];
    let mut used_integral = [0f64; 3];
    let mut samples = Vec::new();
    let mut next_sample = 0.0;
    let mut peak: f64 = 0.0;
    let warm_up = params.warm_up_hours * 3600.0;
    let horizon = params.hours * 3600.0;
    let mut now: f64 = 0.0;
    let mut next_arrival = rng::exponential(&mut stream, 3600.0 / arrivals_per_hour);
    let mut sequence = 0u64;
    let used_total = |nodes: &[NodeCandidate]| -> [f64; 3] {
        let mut sum = [0f64; 3];
        for node in nodes {
            sum[0] += f64::from(node.used.cores);
            sum[1] += node.used.memory_mib as f64;
            sum[2] += node.used.disk_gib as f64;
        }
        [
            sum[0] / f64::from(total.cores),
            sum[1] / total.memory_mib as f64,
            sum[2] / total.disk_gib as f64,
        ]
    };
    loop {
        let departure = departures.peek().map(|Reverse((time, _))| *time as f64);
        let next = match departure {
            Some(time) if time <= next_arrival => time,
            _ => next_arrival,
        };
        if next >= horizon {
            break;
        }
        let fill = used_total(&nodes);
        if next > warm_up {
            let from = now.max(warm_up);
            for (integral, share) in used_integral.iter_mut().zip(fill) {
                *integral += share * (next - from);
            }
        }
        while next_sample <= next / 3600.0 {
            samples.push((next_sample, fill[0]));
            next_sample += 10.0;
        }
        now = next;
        if departure == Some(next) {
            if let Some(Reverse((_, key))) = departures.pop() {
                for (node, resources) in leaving.remove(&key).unwrap_or_default() {
                    nodes[node].used = nodes[node].used.saturating_sub(resources);
                }
            }
            continue;
        }
        next_arrival = now + rng::exponential(&mut stream, 3600.0 / arrivals_per_hour);
        let mut pick = stream.random_range(0..weights);
        let class_index = params
            .classes
            .iter()
            .position(|c| {
                if pick < c.weight {
                    true
                } else {
                    pick -= c.weight;
                    false
                }
            })
            .unwrap_or(0);
        let class = &params.classes[class_index];
        let counted = now >= warm_up;
        if counted {
            per_class[class_index].0 += 1;
        }
        let workloads: Vec<WorkloadDemand> = workload_names[..class.workloads]
            .iter()
            .map(|workload| WorkloadDemand {
                name: workload.clone(),
                resources: class.each,
                pinned: None,
                anti_affinity: Some(group.clone()),
            })
            .collect();
        sequence += 1;
        let mut deployment = [0u8; 32];
        deployment[..8].copy_from_slice(&sequence.to_be_bytes());
        let request = ScheduleRequest {
            deployment: DeploymentId(Hash32(deployment)),
            constraints: &constraints,
            workloads: &workloads,
            placed: &[],
        };
        match schedule(&request, &nodes) {
            Ok(placed) => {
                let mut held = Vec::new();
                for (_, node) in placed.placements {
                    let index = *index_of
                        .get(&node)
                        .ok_or(SimulationError::Invariant(format!(
                            "placed a workload on unknown node {node}"
                        )))?;
                    let candidate = &mut nodes[index];
                    candidate.used = candidate
                        .used
                        .checked_add(class.each)
                        .unwrap_or(Resources::ZERO);
                    if !candidate.used.fits_in(&candidate.total) {
                        return Err(SimulationError::Invariant(format!(
                            "node {index} overcommitted: {:?} used of {:?}",
                            candidate.used, candidate.total
                        )));
                    }
                    peak = peak.max(fill_of(candidate));
                    held.push((index, class.each));
                }
                let lifetime = rng::exponential(&mut stream, class.mean_lifetime_hours * 3600.0);
                let leaves = (now + lifetime) as u64;
                departures.push(Reverse((leaves, sequence)));
                leaving.insert(sequence, held);
            }
            Err(_) => {
                if counted {
                    per_class[class_index].1 += 1;
                }
            }
        }
    }
    let span = horizon - warm_up;
    Ok(LoadResult {
        load,
        utilisation: used_integral.map(|integral| integral / span),
        per_class,
        samples,
        peak_node_fill: peak,
    })
}

/// The fullest dimension of a node.
fn fill_of(node: &NodeCandidate) -> f64 {
    let shares = [
        f64::from(node.used.cores) / f64::from(node.total.cores.max(1)),
        node.used.memory_mib as f64 / node.total.memory_mib.max(1) as f64,
        node.used.disk_gib as f64 / node.total.disk_gib.max(1) as f64,
    ];
    shares.into_iter().fold(0.0, f64::max)
}

/// Runs every offered load.
pub fn run(params: &ComputeParams) -> Result<ComputeResult, SimulationError> {
    params.check()?;
    let loads = params
        .loads
        .iter()
        .map(|load| run_load(params, *load))
        .collect::<Result<_, _>>()?;
    Ok(ComputeResult {
        params: params.clone(),
        loads,
    })
}

/// Writes CSV files, charts and the report section.
pub fn write(result: &ComputeResult, out: &mut Outputs) -> Result<(), SimulationError> {
    let p = &result.params;
    let total = p.total();
    let classes: Vec<String> = p
        .classes
        .iter()
        .map(|c| {
            format!(
                "{} (weight {}, {} × {} cores / {} GiB / {} GiB disk, mean life {} h)",
                c.name,
                c.weight,
                c.workloads,
                c.each.cores,
                c.each.memory_mib / GIB,
                c.each.disk_gib,
                c.mean_lifetime_hours
            )
        })
        .collect();
    out.text(&format!(
        "Seed {}; {} nodes ({} cores, {} GiB memory, {} GiB disk in total) scheduled by the chain's scheduler (`chain::domains::compute::scheduler`), deployments arriving as a Poisson stream for {} h (the first {} h left out): {}. Workloads of one deployment never share a node. Offered load = requested core-hours per hour / total cores.",
        p.seed,
        p.nodes,
        total.cores,
        total.memory_mib / GIB,
        total.disk_gib,
        p.hours,
        p.warm_up_hours,
        classes.join("; ")
    ));
    let mut header = vec![
        "offered_load",
        "core_utilisation",
        "memory_utilisation",
        "disk_utilisation",
        "refused_share",
        "peak_node_fill",
    ];
    let class_headers: Vec<String> = p
        .classes
        .iter()
        .map(|c| format!("refused_{}", c.name))
        .collect();
    header.extend(class_headers.iter().map(String::as_str));
    let mut table = Table::new(&header);
    for load in &result.loads {
        let mut row = vec![
            fixed(load.load, 2),
            fixed(load.utilisation[0], 4),
            fixed(load.utilisation[1], 4),
            fixed(load.utilisation[2], 4),
            fixed(load.refused_share(), 4),
            fixed(load.peak_node_fill, 4),
        ];
        for (arrived, refused) in &load.per_class {
            row.push(fixed(*refused as f64 / (*arrived).max(1) as f64, 4));
        }
        table.push(row);
    }
    out.csv("compute_loads", &table)?;
    out.text(&table.to_markdown());
    let loads: Vec<f64> = result.loads.iter().map(|l| l.load).collect();
    let mut series = vec![
        Series::line(
            "core utilisation",
            result
                .loads
                .iter()
                .map(|l| (l.load, l.utilisation[0]))
                .collect(),
        ),
        Series::line(
            "memory utilisation",
            result
                .loads
                .iter()
                .map(|l| (l.load, l.utilisation[1]))
                .collect(),
        ),
        Series::line(
            "refused (all)",
            result
                .loads
                .iter()
                .map(|l| (l.load, l.refused_share()))
                .collect(),
        ),
    ];
    for (index, class) in p.classes.iter().enumerate() {
        series.push(Series::points(
            format!("refused {}", class.name),
            result
                .loads
                .iter()
                .map(|l| {
                    let (arrived, refused) = l.per_class[index];
                    (l.load, refused as f64 / arrived.max(1) as f64)
                })
                .collect(),
        ));
    }
    if let (Some(low), Some(high)) = (loads.first(), loads.last()) {
        series.push(Series::reference(
            "utilisation = offered load",
            vec![(*low, *low), (high.min(1.0), high.min(1.0))],
        ));
    }
    out.chart(
        "compute_loads",
        &Chart {
            title: "Utilisation and refused deployments against offered load".to_owned(),
            x_label: "offered load (requested / total cores)".to_owned(),
            y_label: "share".to_owned(),
            series,
            x_log: false,
            y_log: false,
            y_range: Some((0.0, 1.05)),
        },
        "Time-averaged utilisation and the share of refused deployments (overall and per class) at each offered load.",
    )?;
    let mut table = Table::new(&["offered_load", "hour", "core_utilisation"]);
    for load in &result.loads {
        for (hour, share) in &load.samples {
            table.push(vec![fixed(load.load, 2), fixed(*hour, 0), fixed(*share, 4)]);
        }
    }
    out.csv("compute_utilisation_over_time", &table)?;
    out.chart(
        "compute_utilisation_over_time",
        &Chart {
            title: "Core utilisation over time".to_owned(),
            x_label: "hour".to_owned(),
            y_label: "used / total cores".to_owned(),
            series: result
                .loads
                .iter()
                .map(|l| {
                    Series::line(
                        format!("offered load {}", fixed(l.load, 2)),
                        l.samples.clone(),
                    )
                })
                .collect(),
            x_log: false,
            y_log: false,
            y_range: Some((0.0, 1.05)),
        },
        "Core utilisation sampled every 10 hours at each offered load.",
    )?;
    Ok(())
}
