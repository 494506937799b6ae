//! Queries over the storage read model (PostgreSQL schema `storage`,
//! tables in `docs/storage.md`, "Read model"):
//!
//! * `storageDomains`: the nodes grouped by failure domain (region →
//!   datacenter → farm) with capacity, used bytes, state and last report;
//!   `storageNode(id)`.
//! * `storageObjects`: the logged-in identity's own objects with their
//!   health and shard locations (private: needs the login token, see
//!   [`crate::login::Viewer`]; naming another owner is FORBIDDEN).
//! * `storageObject(id)`: public metadata and health of one object; its
//!   `shards` (locations) only for its owner.
//! * `whatIfDatacenterLost(datacenter)`: the live objects that would keep
//!   fewer than `k` shards if every node of that datacenter were gone
//!   (empty when placement kept its promise).
//! * `storageOverhead`: stored bytes of each policy against 3× replication.
//!
//! Health is the model's `storage_object_health`: shards on nodes that
//! still serve them (healthy, degraded, full) — `OPTIMAL` (all `k + m`),
//! `DEGRADED` (more than `k`), `AT_RISK` (exactly `k`), `LOST` (fewer).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use async_graphql::{ComplexObject, Context, Enum, Object, SimpleObject};
use chain::domains::storage::placement::nominal_shard_bytes;
use projections::storage::{OBJECT_COLUMNS, StoredObject};

use crate::context::{ApiState, hex_id, parse_id};
use crate::error::{ApiError, ApiResult, IntoGraphql};
use crate::login::Viewer;
use crate::paging::{KeyPart, ListQuery, Page, PageArgs, SqlValue, fetch_page, wants_total};

/// The model's name (schema, errors).
pub const MODEL: &str = "storage";

/// Copies kept by the replication storage is compared with.
pub const REPLICATION_FACTOR: i64 = 3;

fn db(error: sqlx::Error) -> ApiError {
    ApiError::from_model(MODEL)(error)
}

/// A storage node.
#[derive(Debug, Clone, SimpleObject)]
pub struct StorageNode {
    /// Node ID (hex).
    pub id: String,
    /// Owning identity's ID (hex).
    pub owner: String,
    /// The key that signs the node's reports (hex).
    pub node_key: String,
    pub endpoint: String,
    pub region: String,
    pub datacenter: String,
    pub farm: String,
    /// `region/datacenter/farm`.
    pub domain: String,
    pub capacity_bytes: i64,
    /// Last reported free bytes.
    pub free_bytes: i64,
    /// Capacity minus free bytes.
    pub used_bytes: i64,
    /// `healthy`, `degraded`, `full`, `leaving` or `retired`.
    pub state: String,
    /// Shards of live objects recorded on this node.
    pub shards: i64,
    pub registered_height: i64,
    /// Height of the node's last signed report (none before the first).
    pub last_report_height: Option<i64>,
    /// Block time (Unix seconds) of that report.
    pub last_report_at: Option<i64>,
}

#[derive(Debug, sqlx::FromRow)]
struct NodeRow {
    id: Vec<u8>,
    owner: Vec<u8>,
    node_key: Vec<u8>,
    endpoint: String,
    region: String,
    datacenter: String,
    farm: String,
    capacity_bytes: i64,
    free_bytes: i64,
    state: String,
    shards: i64,
    registered_height: i64,
    reported_height: Option<i64>,
    reported_at: Option<i64>,
}

const NODE_SELECT: &str = "SELECT n.id, n.owner, n.node_key, n.endpoint, n.region, n.datacenter,
        n.farm, n.capacity_bytes, n.free_bytes, n.state, n.registered_height, n.reported_height,
        n.reported_at,
        (SELECT count(*) FROM storage.storage_shard s JOIN storage.storage_object o ON o.id = s.object
          WHERE s.node = n.id AND o.deleted_height IS NULL) AS shards
   FROM storage.storage_node n";

impl From<NodeRow> for StorageNode {
    fn from(row: NodeRow) -> StorageNode {
        StorageNode {
            id: hex_id(&row.id),
            owner: hex_id(&row.owner),
            node_key: hex_id(&row.node_key),
            endpoint: row.endpoint,
            domain: format!("{}/{}/{}", row.region, row.datacenter, row.farm),
            region: row.region,
            datacenter: row.datacenter,
            farm: row.farm,
            capacity_bytes: row.capacity_bytes,
            free_bytes: row.free_bytes,
            used_bytes: row.capacity_bytes.saturating_sub(row.free_bytes).max(0),
            state: row.state,
            shards: row.shards,
            registered_height: row.registered_height,
            last_report_height: row.reported_height,
            last_report_at: row.reported_at,
        }
    }
}

/// Totals of a failure domain's nodes.
#[derive(Debug, Clone, Default, SimpleObject)]
pub struct DomainTotals {
    pub nodes: i64,
    /// Nodes that take new shards.
    pub healthy_nodes: i64,
    pub capacity_bytes: i64,
    pub used_bytes: i64,
    pub free_bytes: i64,
    pub shards: i64,
}

impl DomainTotals {
    fn add(&mut self, node: &StorageNode) {
        self.nodes += 1;
        self.healthy_nodes += i64::from(node.state == "healthy");
        self.capacity_bytes = self.capacity_bytes.saturating_add(node.capacity_bytes);
        self.used_bytes = self.used_bytes.saturating_add(node.used_bytes);
        self.free_bytes = self.free_bytes.saturating_add(node.free_bytes);
        self.shards += node.shards;
    }
}

/// A farm and its nodes.
#[derive(Debug, Clone, SimpleObject)]
pub struct StorageFarm {
    pub name: String,
    /// `region/datacenter/farm`.
    pub path: String,
    pub totals: DomainTotals,
    pub nodes: Vec<StorageNode>,
}

/// A datacenter and its farms.
#[derive(Debug, Clone, SimpleObject)]
pub struct StorageDatacenter {
    pub name: String,
    /// `region/datacenter` (the form `whatIfDatacenterLost` takes).
    pub path: String,
    pub totals: DomainTotals,
    pub farms: Vec<StorageFarm>,
}

/// A region and its datacenters.
#[derive(Debug, Clone, SimpleObject)]
pub struct StorageRegion {
    pub name: String,
    pub totals: DomainTotals,
    pub datacenters: Vec<StorageDatacenter>,
}

/// Groups nodes (any order) into regions → datacenters → farms, each
/// sorted by name, nodes by ID.
pub fn group_by_domain(nodes: Vec<StorageNode>) -> Vec<StorageRegion> {
    let mut tree: BTreeMap<String, BTreeMap<String, BTreeMap<String, Vec<StorageNode>>>> =
        BTreeMap::new();
    for node in nodes {
        tree.entry(node.region.clone())
            .or_default()
            .entry(node.datacenter.clone())
            .or_default()
            .entry(node.farm.clone())
            .or_default()
            .push(node);
    }
    tree.into_iter()
        .map(|(region, datacenters)| {
            let mut region_totals = DomainTotals::default();
            let datacenters = datacenters
                .into_iter()
                .map(|(datacenter, farms)| {
                    let mut datacenter_totals = DomainTotals::default();
                    let farms = farms
                        .into_iter()
                        .map(|(farm, mut nodes)| {
                            nodes.sort_by(|a, b| a.id.cmp(&b.id));
                            let mut totals = DomainTotals::default();
                            for node in &nodes {
                                totals.add(node);
                                datacenter_totals.add(node);
                                region_totals.add(node);
                            }
                            StorageFarm {
                                path: format!("{region}/{datacenter}/{farm}"),
                                name: farm,
                                totals,
                                nodes,
                            }
                        })
                        .collect();
                    StorageDatacenter {
                        path: format!("{region}/{datacenter}"),
                        name: datacenter,
                        totals: datacenter_totals,
                        farms,
                    }
                })
                .collect();
            StorageRegion {
                name: region,
                totals: region_totals,
                datacenters,
            }
        })
        .collect()
}

/// An object's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum ObjectHealth {
    /// All `k + m` shards on nodes that serve them.
    Optimal,
    /// More than `k`, fewer than `k + m`.
    Degraded,
    /// Exactly `k`: one more loss and it is gone.
    AtRisk,
    /// Fewer than `k`.
    Lost,
    /// Deleted by its owner.
    Deleted,
}

fn health(name: Option<&str>) -> ApiResult<ObjectHealth> {
    Ok(match name {
        None => ObjectHealth::Deleted,
        Some("optimal") => ObjectHealth::Optimal,
        Some("degraded") => ObjectHealth::Degraded,
        Some("at_risk") => ObjectHealth::AtRisk,
        Some("lost") => ObjectHealth::Lost,
        Some(other) => return Err(ApiError::CorruptRow(format!("object health {other:?}"))),
    })
}

/// A stored object: public metadata and health; `shards` for its owner.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(complex)]
pub struct StorageObject {
    /// Object ID (hex).
    pub id: String,
    /// Owning identity's ID (hex).
    pub owner: String,
    /// The key the object ID commits to (hex).
    pub owner_key: String,
    pub size: i64,
    /// `k`.
    pub data_shards: i32,
    /// `m`.
    pub parity_shards: i32,
    /// `region`, `datacenter` or `farm`.
    pub tolerance_level: String,
    /// Whole failure domains it survives losing.
    pub tolerance_domains: i32,
    /// Further nodes it survives losing.
    pub tolerance_nodes: i32,
    /// e.g. `4+2 surviving 1 datacenter + 0 nodes`.
    pub policy: String,
    pub chunk_bytes: i32,
    /// Keyed content hash (hex; reveals nothing without the object key).
    pub content_hash: String,
    pub key_fingerprint: String,
    pub registered_height: i64,
    /// Recorded repairs.
    pub repairs: i32,
    pub deleted_height: Option<i64>,
    pub health: ObjectHealth,
    /// Shards on nodes that serve them.
    pub live_shards: i32,
    /// Why the current nodes cannot place it (none when they can).
    pub placement_error: Option<String>,
    /// Shards whose desired node (placement now) differs from their holder.
    pub moves_wanted: i32,
}

/// An object as the API shows it: the stored row and its health and
/// pending moves.
#[derive(Debug, sqlx::FromRow)]
struct ObjectRow {
    #[sqlx(flatten)]
    object: StoredObject,
    health: Option<String>,
    live_shards: Option<i32>,
    moves_wanted: i64,
}

static OBJECT_SELECT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {OBJECT_COLUMNS}, h.health, h.live_shards,
        (SELECT count(*) FROM storage.storage_shard s
          WHERE s.object = o.id AND o.deleted_height IS NULL
            AND s.desired_node IS DISTINCT FROM s.node) AS moves_wanted
   FROM storage.storage_object o LEFT JOIN storage.storage_object_health h ON h.id = o.id"
    )
});

const OBJECT_FROM: &str = "FROM storage.storage_object o";

impl TryFrom<ObjectRow> for StorageObject {
    type Error = ApiError;

    fn try_from(row: ObjectRow) -> ApiResult<StorageObject> {
        let ObjectRow {
            object: row,
            health: row_health,
            live_shards,
            moves_wanted,
        } = row;
        let plural = |n: i32| if n == 1 { "" } else { "s" };
        Ok(StorageObject {
            id: hex_id(&row.id),
            owner: hex_id(&row.owner),
            owner_key: hex_id(&row.owner_key),
            size: row.size,
            policy: format!(
                "{}+{} surviving {} {}{} + {} node{}",
                row.data_shards,
                row.parity_shards,
                row.tolerance_domains,
                row.tolerance_level,
                plural(row.tolerance_domains),
                row.tolerance_nodes,
                plural(row.tolerance_nodes)
            ),
            data_shards: row.data_shards,
            parity_shards: row.parity_shards,
            tolerance_level: row.tolerance_level,
            tolerance_domains: row.tolerance_domains,
            tolerance_nodes: row.tolerance_nodes,
            chunk_bytes: row.chunk_bytes,
            content_hash: hex_id(&row.content_hash),
            key_fingerprint: hex_id(&row.key_fingerprint),
            registered_height: row.registered_height,
            repairs: row.repairs,
            deleted_height: row.deleted_height,
            health: health(row_health.as_deref())?,
            live_shards: live_shards.unwrap_or(0),
            placement_error: row.placement_error,
            moves_wanted: i32::try_from(moves_wanted).unwrap_or(i32::MAX),
        })
    }
}

/// One shard of an object: where it is and where placement wants it.
#[derive(Debug, Clone, SimpleObject)]
pub struct StorageShard {
    pub index: i32,
    /// The node holding it (as recorded on chain).
    pub node: StorageNode,
    /// Shard file checksum (hex).
    pub checksum: String,
    pub placed_height: i64,
    /// Its node serves it (healthy, degraded or full).
    pub live: bool,
    /// Where placement puts it now (hex node ID; none when the nodes
    /// cannot honour the policy).
    pub desired_node: Option<String>,
}

#[derive(Debug, sqlx::FromRow)]
struct ShardRow {
    shard_index: i32,
    checksum: Vec<u8>,
    placed_height: i64,
    desired_node: Option<Vec<u8>>,
    #[sqlx(flatten)]
    node: NodeRow,
}

#[ComplexObject]
impl StorageObject {
    /// Its shards in index order: only for the owner (login token);
    /// UNAUTHENTICATED without one, FORBIDDEN for anyone else.
    async fn shards(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<StorageShard>> {
        let viewer = Viewer::require(ctx).await?;
        if hex_id(&viewer.identity_id) != self.owner {
            return Err(ApiError::Forbidden(format!(
                "the shard locations of object {} are its owner's",
                self.id
            ))
            .into_graphql());
        }
        shards_of(ApiState::of(ctx), &self.id).await.gql()
    }
}

async fn shards_of(state: &ApiState, object: &str) -> ApiResult<Vec<StorageShard>> {
    let rows: Vec<ShardRow> = sqlx::query_as(&format!(
        "SELECT x.shard_index, x.checksum, x.placed_height, x.desired_node, n.*
           FROM storage.storage_shard x
           JOIN ({NODE_SELECT}) n ON n.id = x.node
          WHERE x.object = $1 ORDER BY x.shard_index"
    ))
    .bind(parse_id("object ID", object)?)
    .fetch_all(&state.pool)
    .await
    .map_err(db)?;
    Ok(rows
        .into_iter()
        .map(|row| StorageShard {
            index: row.shard_index,
            checksum: hex_id(&row.checksum),
            placed_height: row.placed_height,
            live: matches!(row.node.state.as_str(), "healthy" | "degraded" | "full"),
            desired_node: row.desired_node.as_deref().map(hex_id),
            node: row.node.into(),
        })
        .collect())
}

/// An object that would fall below `k` shards.
#[derive(Debug, Clone, SimpleObject)]
pub struct ObjectAtRisk {
    pub object: StorageObject,
    /// Shards left on serving nodes outside the lost datacenter.
    pub surviving_shards: i32,
    /// Shards it needs (`k`).
    pub needed_shards: i32,
}

/// What losing a datacenter would do.
#[derive(Debug, Clone, SimpleObject)]
pub struct DatacenterLoss {
    /// `region/datacenter`.
    pub datacenter: String,
    /// Nodes in it (not retired).
    pub nodes: i64,
    /// Live objects with at least one shard there.
    pub objects_touched: i64,
    /// Live objects that would keep fewer than `k` shards (at most the
    /// API's page size, most damaged first); empty when placement is right.
    pub objects_lost: Vec<ObjectAtRisk>,
    /// How many objects would fall below `k` in all.
    pub lost_count: i64,
}

/// Stored bytes of one policy (`k + m`) against replication.
#[derive(Debug, Clone, SimpleObject)]
pub struct PolicyOverhead {
    pub data_shards: i32,
    pub parity_shards: i32,
    /// Live objects.
    pub objects: i64,
    /// Their bytes.
    pub bytes: i64,
    /// Bytes their shards take (`k + m` nominal shards of `⌈size / k⌉`).
    pub stored_bytes: i64,
    /// Bytes 3× replication would take.
    pub replicated_bytes: i64,
    /// Stored per original byte (`(k + m) / k` up to rounding).
    pub overhead: f64,
    /// 3× replication's stored per original byte.
    pub replication_overhead: f64,
    /// How many times fewer bytes than replication (`replicated / stored`).
    pub saving_factor: f64,
}

/// Storage overhead by policy and in total.
#[derive(Debug, Clone, SimpleObject)]
pub struct StorageOverhead {
    pub policies: Vec<PolicyOverhead>,
    pub total: PolicyOverhead,
}

fn overhead(
    data_shards: i32,
    parity_shards: i32,
    objects: i64,
    bytes: i64,
    stored: i64,
) -> PolicyOverhead {
    let replicated = bytes.saturating_mul(REPLICATION_FACTOR);
    let ratio = |a: i64, b: i64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    PolicyOverhead {
        data_shards,
        parity_shards,
        objects,
        bytes,
        stored_bytes: stored,
        replicated_bytes: replicated,
        overhead: ratio(stored, bytes),
        replication_overhead: REPLICATION_FACTOR as f64,
        saving_factor: ratio(replicated, stored),
    }
}

/// Parses `region/datacenter`.
fn datacenter_argument(text: &str) -> ApiResult<(String, String)> {
    let text = text.trim();
    let parts: Vec<&str> = text.split('/').collect();
    let valid = |name: &str| {
        !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    };
    match parts.as_slice() {
        [region, datacenter] if valid(region) && valid(datacenter) => {
            Ok(((*region).to_owned(), (*datacenter).to_owned()))
        }
        _ => Err(ApiError::bad_input(format!(
            "datacenter {text:?} must be region/datacenter (names of letters, digits, '-', '_', '.')"
        ))),
    }
}

/// The storage root fields.
#[derive(Default)]
pub struct StorageQuery;

#[Object]
impl StorageQuery {
    /// Storage nodes grouped by failure domain: regions → datacenters →
    /// farms → nodes, with totals at every level. Retired nodes only with
    /// `includeRetired`.
    async fn storage_domains(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = false)] include_retired: bool,
    ) -> async_graphql::Result<Vec<StorageRegion>> {
        let state = ApiState::of(ctx);
        let rows: Vec<NodeRow> =
            sqlx::query_as(&format!("{NODE_SELECT} WHERE $1 OR n.state <> 'retired'"))
                .bind(include_retired)
                .fetch_all(&state.pool)
                .await
                .map_err(db)
                .gql()?;
        Ok(group_by_domain(rows.into_iter().map(Into::into).collect()))
    }

    /// A storage node by ID (hex).
    async fn storage_node(
        &self,
        ctx: &Context<'_>,
        id: String,
    ) -> async_graphql::Result<Option<StorageNode>> {
        let state = ApiState::of(ctx);
        let id = parse_id("storage node ID", &id).gql()?;
        let row: Option<NodeRow> = sqlx::query_as(&format!("{NODE_SELECT} WHERE n.id = $1"))
            .bind(id)
            .fetch_optional(&state.pool)
            .await
            .map_err(db)
            .gql()?;
        Ok(row.map(Into::into))
    }

    /// An object's public metadata and health by ID (hex); its `shards`
    /// only for the owner. None when unknown.
    async fn storage_object(
        &self,
        ctx: &Context<'_>,
        id: String,
    ) -> async_graphql::Result<Option<StorageObject>> {
        let state = ApiState::of(ctx);
        async {
            let id = parse_id("object ID", &id)?;
            let row: Option<ObjectRow> =
                sqlx::query_as(&format!("{} WHERE o.id = $1", *OBJECT_SELECT))
                    .bind(id)
                    .fetch_optional(&state.pool)
                    .await
                    .map_err(db)?;
            row.map(StorageObject::try_from).transpose()
        }
        .await
        .gql()
    }

    /// The logged-in identity's objects, newest first (private: needs the
    /// login token). `owner` (an identity name) may only name the viewer;
    /// deleted objects only with `includeDeleted`.
    #[graphql(complexity = "crate::explorer::page_complexity(first, last, child_complexity)")]
    #[allow(clippy::too_many_arguments)]
    async fn storage_objects(
        &self,
        ctx: &Context<'_>,
        owner: Option<String>,
        #[graphql(default = false)] include_deleted: bool,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<Page<StorageObject>> {
        let viewer = Viewer::require(ctx).await?;
        if let Some(owner) = owner
            && !owner.trim().eq_ignore_ascii_case(&viewer.name)
        {
            return Err(ApiError::Forbidden(format!(
                "{:?}'s objects are private; you are logged in as {:?}",
                owner.trim(),
                viewer.name
            ))
            .into_graphql());
        }
        let state = ApiState::of(ctx);
        let query = ListQuery {
            list: "storage_objects",
            select: &OBJECT_SELECT,
            from: OBJECT_FROM,
            filters: vec![("o.owner = ", SqlValue::Bytes(viewer.identity_id.to_vec()))],
            conditions: if include_deleted {
                Vec::new()
            } else {
                vec!["o.deleted_height IS NULL"]
            },
            key: &["o.registered_height", "o.id"],
            descending: true,
        };
        fetch_page(
            &state.pool,
            &state.limits,
            query,
            PageArgs::new(after, before, first, last),
            wants_total(ctx),
            |row: &ObjectRow| {
                vec![
                    KeyPart::Int(row.object.registered_height),
                    KeyPart::Bytes(row.object.id.clone()),
                ]
            },
            StorageObject::try_from,
        )
        .await
        .gql()
    }

    /// The live objects that would keep fewer than `k` shards if every
    /// node of `datacenter` (`region/datacenter`) were lost — empty when
    /// placement kept every object's promise (and its nodes are up).
    async fn what_if_datacenter_lost(
        &self,
        ctx: &Context<'_>,
        datacenter: String,
    ) -> async_graphql::Result<DatacenterLoss> {
        let state = ApiState::of(ctx);
        async {
            let (region, name) = datacenter_argument(&datacenter)?;
            let nodes: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM storage.storage_node
                  WHERE region = $1 AND datacenter = $2 AND state <> 'retired'",
            )
            .bind(&region)
            .bind(&name)
            .fetch_one(&state.pool)
            .await
            .map_err(db)?;
            if nodes == 0 {
                return Err(ApiError::bad_input(format!(
                    "no storage node is in datacenter {region}/{name}"
                )));
            }
            #[derive(sqlx::FromRow)]
            struct Loss {
                id: Vec<u8>,
                touched: bool,
                surviving: i64,
                needed: i32,
            }
            let losses: Vec<Loss> = sqlx::query_as(
                "SELECT o.id, o.data_shards AS needed,
                        bool_or(n.region = $1 AND n.datacenter = $2) AS touched,
                        count(*) FILTER (WHERE n.state IN ('healthy', 'degraded', 'full')
                                          AND NOT (n.region = $1 AND n.datacenter = $2)) AS surviving
                   FROM storage.storage_object o
                   JOIN storage.storage_shard s ON s.object = o.id
                   JOIN storage.storage_node n ON n.id = s.node
                  WHERE o.deleted_height IS NULL
                  GROUP BY o.id, o.data_shards",
            )
            .bind(&region)
            .bind(&name)
            .fetch_all(&state.pool)
            .await
            .map_err(db)?;
            let objects_touched = losses.iter().filter(|loss| loss.touched).count() as i64;
            let mut lost: Vec<&Loss> = losses
                .iter()
                .filter(|loss| loss.surviving < i64::from(loss.needed))
                .collect();
            lost.sort_by(|a, b| a.surviving.cmp(&b.surviving).then(a.id.cmp(&b.id)));
            let lost_count = lost.len() as i64;
            let mut objects_lost = Vec::new();
            for loss in lost.into_iter().take(state.limits.max_page_size) {
                let row: ObjectRow = sqlx::query_as(&format!("{} WHERE o.id = $1", *OBJECT_SELECT))
                    .bind(&loss.id)
                    .fetch_one(&state.pool)
                    .await
                    .map_err(db)?;
                objects_lost.push(ObjectAtRisk {
                    object: row.try_into()?,
                    surviving_shards: i32::try_from(loss.surviving).unwrap_or(i32::MAX),
                    needed_shards: loss.needed,
                });
            }
            Ok(DatacenterLoss {
                datacenter: format!("{region}/{name}"),
                nodes,
                objects_touched,
                objects_lost,
                lost_count,
            })
        }
        .await
        .gql()
    }

    /// Bytes stored by each policy of the live objects against 3×
    /// replication, and in total.
    async fn storage_overhead(&self, ctx: &Context<'_>) -> async_graphql::Result<StorageOverhead> {
        let state = ApiState::of(ctx);
        #[derive(sqlx::FromRow)]
        struct Row {
            size: i64,
            data_shards: i32,
            parity_shards: i32,
        }
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT size, data_shards, parity_shards FROM storage.storage_object
              WHERE deleted_height IS NULL",
        )
        .fetch_all(&state.pool)
        .await
        .map_err(db)
        .gql()?;
        // (k, m) → (objects, bytes, stored)
        let mut by_policy: BTreeMap<(i32, i32), (i64, i64, i64)> = BTreeMap::new();
        for row in rows {
            let k = u8::try_from(row.data_shards).unwrap_or(u8::MAX);
            let shard = nominal_shard_bytes(u64::try_from(row.size).unwrap_or(0), k);
            let stored = i64::try_from(shard)
                .unwrap_or(i64::MAX)
                .saturating_mul(i64::from(row.data_shards + row.parity_shards));
            let entry = by_policy
                .entry((row.data_shards, row.parity_shards))
                .or_default();
            entry.0 += 1;
            entry.1 = entry.1.saturating_add(row.size);
            entry.2 = entry.2.saturating_add(stored);
        }
        let (mut objects, mut bytes, mut stored) = (0i64, 0i64, 0i64);
        let policies = by_policy
            .into_iter()
            .map(|((k, m), (count, size, used))| {
                objects += count;
                bytes = bytes.saturating_add(size);
                stored = stored.saturating_add(used);
                overhead(k, m, count, size, used)
            })
            .collect();
        Ok(StorageOverhead {
            policies,
            total: overhead(0, 0, objects, bytes, stored),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datacenter_arguments_are_region_slash_datacenter() {
        assert_eq!(
            datacenter_argument(" eu/ams-1 ").ok(),
            Some(("eu".to_owned(), "ams-1".to_owned()))
        );
        assert!(datacenter_argument("eu").is_err());
        assert!(datacenter_argument("eu/ams/f1").is_err());
        assert!(datacenter_argument("eu/a b").is_err());
        assert!(datacenter_argument("/x").is_err());
    }

    #[test]
    fn overhead_compares_with_three_copies() {
        let row = overhead(4, 2, 1, 400, 600);
        assert_eq!(row.replicated_bytes, 1200);
        assert!((row.overhead - 1.5).abs() < 1e-9);
        assert!((row.saving_factor - 2.0).abs() < 1e-9);
        assert_eq!(overhead(0, 0, 0, 0, 0).overhead, 0.0);
    }
}
