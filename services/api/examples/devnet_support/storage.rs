//! The storage part of `devnet_transactions`: real signed storage
//! transactions for the explorer's storage pages. No stor-node process is
//! involved: the storage read model is built from the chain alone.
//!
//! A split transaction (wave 0) spends `funding` (the identity part's
//! change) into one fee output per transaction. Then:
//!
//! 1. `carol` (key seed 41) registers;
//! 2. carol registers the six nodes of [`NODES`] (node keys seeds 51..56):
//!    two in each of the datacenters `eu/ams`, `eu/fra` and `us/nyc`;
//! 3. every node reports itself healthy with its free bytes; carol
//!    registers [`ARCHIVE`] (4+2, one shard per node) and [`PHOTOS`] (2+2
//!    on `ams-1`, `fra-1`, `nyc-1`, `nyc-2`), both surviving the loss of
//!    any one datacenter;
//! 4. `fra-2` reports `leaving`: the archive keeps 5 of its 6 shards
//!    (degraded). Losing `eu/ams` or `us/nyc` now would leave it 3 of the
//!    4 it needs; losing `eu/fra` loses no object.
//!
//! Printed lines: `storage-wave-<n> <hex>` per transaction,
//! `storage-node <name> <id>` per node and `storage-object <name> <id>`
//! per object.

use anyhow::Context;
use ledger::crypto::SecretKey;
use ledger::payload::identity::{IdentityAction, IdentityName};
use ledger::payload::storage::{
    self, DomainLevel, ErasurePolicy, FailureDomain, NodeState, ObjectId, StorageAction,
    StorageNodeId, StorageOperation, Tolerance,
};
use ledger::{CoinOutputId, Currency, Hash32, IdentityId, NetworkParams};

use crate::common::key;
use crate::identity::Seeder;

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;

/// A seeded node: name, region, datacenter, farm, capacity, reported
/// free bytes.
pub struct Node {
    pub name: &'static str,
    pub region: &'static str,
    pub datacenter: &'static str,
    pub farm: &'static str,
    pub capacity: u64,
    pub free: u64,
}

/// The nodes, in shard order of [`ARCHIVE`].
pub const NODES: [Node; 6] = [
    node("ams-1", "eu", "ams", "ams-a", 100 * GIB, 60 * GIB),
    node("ams-2", "eu", "ams", "ams-b", 100 * GIB, 90 * GIB),
    node("fra-1", "eu", "fra", "fra-a", 200 * GIB, 150 * GIB),
    node("fra-2", "eu", "fra", "fra-a", 200 * GIB, 200 * GIB),
    node("nyc-1", "us", "nyc", "nyc-a", 50 * GIB, 10 * GIB),
    node("nyc-2", "us", "nyc", "nyc-a", 50 * GIB, 45 * GIB),
];

const fn node(
    name: &'static str,
    region: &'static str,
    datacenter: &'static str,
    farm: &'static str,
    capacity: u64,
    free: u64,
) -> Node {
    Node {
        name,
        region,
        datacenter,
        farm,
        capacity,
        free,
    }
}

/// An 8 MiB object, 4+2 over all six nodes.
pub const ARCHIVE: &str = "archive";
/// A 1 MiB object, 2+2 on `ams-1`, `fra-1`, `nyc-1`, `nyc-2`.
pub const PHOTOS: &str = "photos";
/// Key seeds: carol, then the first node key.
const OWNER: u8 = 41;
const NODE_KEYS: u8 = 51;
/// Storage transactions [`seed`] builds (one fee output each).
const TRANSACTIONS: u64 = 16;

/// Builds the transactions (paid from `funding`, worth `value`, owned by
/// `owner`) and returns the lines to print and the change left to `owner`
/// (the split transaction's last output, in wave 0) with its value: the
/// funding of whatever is seeded next.
pub fn seed(
    params: &NetworkParams,
    owner: &SecretKey,
    funding: CoinOutputId,
    value: Currency,
) -> anyhow::Result<(Vec<String>, CoinOutputId, Currency)> {
    let mut seeder = Seeder::split(params, owner, funding, value, "storage", TRANSACTIONS)?;
    let carol_key = key(OWNER);
    let register_carol = seeder.tx(
        1,
        IdentityAction::Register {
            name: IdentityName::parse("carol").context("a devnet identity name")?,
            public_key: carol_key.public_key(),
        },
        &carol_key,
        None,
    )?;
    let carol = IdentityId::for_registration(&register_carol);
    let mut names = Vec::new();

    let mut nodes = Vec::new();
    for (index, spec) in (0u8..).zip(NODES.iter()) {
        let node_key = key(NODE_KEYS + index);
        let registration = storage_tx(
            &mut seeder,
            2,
            StorageAction::RegisterNode {
                owner: carol,
                node_key: node_key.public_key(),
                endpoint: format!("http://{}.storage.devnet.invalid:9400", spec.name),
                domain: FailureDomain {
                    region: spec.region.to_owned(),
                    datacenter: spec.datacenter.to_owned(),
                    farm: spec.farm.to_owned(),
                },
                capacity_bytes: spec.capacity,
            },
            &carol_key,
        )?;
        let id = StorageNodeId::for_registration(&registration);
        names.push(format!("storage-node {} {id}", spec.name));
        nodes.push((id, node_key));
    }

    for ((id, node_key), spec) in nodes.iter().zip(NODES.iter()) {
        report(&mut seeder, 3, *id, NodeState::Healthy, spec.free, node_key)?;
    }
    let survives_a_datacenter = |data_shards: u8, parity_shards: u8| ErasurePolicy {
        data_shards,
        parity_shards,
        tolerance: Tolerance {
            level: DomainLevel::Datacenter,
            domains: 1,
            nodes: 0,
        },
    };
    let on = |indexes: &[usize]| indexes.iter().map(|&index| nodes[index].0).collect();
    for (name, size, policy, shard_nodes, salt) in [
        (
            ARCHIVE,
            8 * MIB,
            survives_a_datacenter(4, 2),
            on(&[0, 1, 2, 3, 4, 5]),
            [0xa1; 16],
        ),
        (
            PHOTOS,
            MIB,
            survives_a_datacenter(2, 2),
            on(&[0, 2, 4, 5]),
            [0xb2; 16],
        ),
    ] {
        let shards = policy.total_shards();
        storage_tx(
            &mut seeder,
            3,
            StorageAction::RegisterObject {
                owner: carol,
                salt,
                size,
                policy,
                chunk_bytes: 1 << 20,
                content_hash: Hash32([salt[0]; 32]),
                key_fingerprint: Hash32([salt[0] ^ 0xff; 32]),
                shard_checksums: (0u8..).take(shards).map(|i| Hash32([i; 32])).collect(),
                shard_nodes,
            },
            &carol_key,
        )?;
        let id = ObjectId::derive(&carol_key.public_key(), &salt);
        names.push(format!("storage-object {name} {id}"));
    }

    let (leaving, leaving_key) = &nodes[3];
    report(
        &mut seeder,
        4,
        *leaving,
        NodeState::Leaving,
        NODES[3].free,
        leaving_key,
    )?;

    let mut lines = seeder.lines;
    lines.extend(names);
    Ok((lines, seeder.change, seeder.change_value))
}

/// A storage transaction of `wave` signed by `signer`; its ID.
fn storage_tx(
    seeder: &mut Seeder<'_>,
    wave: u32,
    action: StorageAction,
    signer: &SecretKey,
) -> anyhow::Result<ledger::TransactionId> {
    let mut transaction = seeder.paid()?;
    let operation = StorageOperation::unsigned(action, signer.public_key());
    let id = storage::sign_into(&mut transaction, operation, &seeder.params.chain_id, signer);
    seeder.push(wave, transaction);
    Ok(id)
}

/// `node`'s own report (signed by its node key).
fn report(
    seeder: &mut Seeder<'_>,
    wave: u32,
    node: StorageNodeId,
    state: NodeState,
    free_bytes: u64,
    node_key: &SecretKey,
) -> anyhow::Result<()> {
    let action = StorageAction::ReportNode {
        node,
        state,
        free_bytes,
    };
    storage_tx(seeder, wave, action, node_key).map(|_| ())
}
