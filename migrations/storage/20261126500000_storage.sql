-- The storage read model: storage nodes with their failure domain,
-- capacity and last reported state; objects with their policy; the node
-- of every shard (actual locations as recorded on chain); and per-object
-- health derived from the nodes' states. Folded from the storage domain's
-- events; documented in docs/storage.md ("Read model").
--
-- Conventions as in the other models: IDs and keys are BYTEA (32 bytes),
-- heights BIGINT, natural primary keys, no generated values; reverts are
-- the runtime's generic undo.

CREATE TABLE storage_node (
    id                  BYTEA   PRIMARY KEY,
    owner               BYTEA   NOT NULL,
    node_key            BYTEA   NOT NULL,
    endpoint            TEXT    NOT NULL,
    region              TEXT    NOT NULL,
    datacenter          TEXT    NOT NULL,
    farm                TEXT    NOT NULL,
    capacity_bytes      BIGINT  NOT NULL,
    free_bytes          BIGINT  NOT NULL,
    -- healthy | degraded | full | leaving | retired
    state               TEXT    NOT NULL,
    registered_height   BIGINT  NOT NULL,
    updated_height      BIGINT  NOT NULL
);
CREATE INDEX storage_node_by_domain ON storage_node (region, datacenter, farm);
CREATE INDEX storage_node_by_owner ON storage_node (owner);

CREATE TABLE storage_object (
    id                  BYTEA   PRIMARY KEY,
    owner               BYTEA   NOT NULL,
    owner_key           BYTEA   NOT NULL,
    size                BIGINT  NOT NULL,
    data_shards         INTEGER NOT NULL,
    parity_shards       INTEGER NOT NULL,
    -- region | datacenter | farm
    tolerance_level     TEXT    NOT NULL,
    tolerance_domains   INTEGER NOT NULL,
    tolerance_nodes     INTEGER NOT NULL,
    chunk_bytes         INTEGER NOT NULL,
    content_hash        BYTEA   NOT NULL,
    key_fingerprint     BYTEA   NOT NULL,
    registered_height   BIGINT  NOT NULL,
    repairs             INTEGER NOT NULL,
    deleted_height      BIGINT
);
CREATE INDEX storage_object_by_owner ON storage_object (owner, registered_height);

-- Actual shard locations (kept after a delete, for history).
CREATE TABLE storage_shard (
    object              BYTEA   NOT NULL,
    shard_index         INTEGER NOT NULL,
    node                BYTEA   NOT NULL,
    checksum            BYTEA   NOT NULL,
    placed_height       BIGINT  NOT NULL,
    PRIMARY KEY (object, shard_index)
);
CREATE INDEX storage_shard_by_node ON storage_shard (node);

-- Per live object: shards on nodes that still serve them (registered and
-- not leaving or retired), and the health that gives:
-- optimal (all k + m), degraded (more than k), at_risk (exactly k),
-- lost (fewer than k).
CREATE VIEW storage_object_health AS
SELECT o.id,
       o.owner,
       o.data_shards,
       o.parity_shards,
       COUNT(n.id) FILTER (WHERE n.state IN ('healthy', 'degraded', 'full'))::INTEGER AS live_shards,
       CASE
           WHEN COUNT(n.id) FILTER (WHERE n.state IN ('healthy', 'degraded', 'full'))
                = o.data_shards + o.parity_shards THEN 'optimal'
           WHEN COUNT(n.id) FILTER (WHERE n.state IN ('healthy', 'degraded', 'full'))
                > o.data_shards THEN 'degraded'
           WHEN COUNT(n.id) FILTER (WHERE n.state IN ('healthy', 'degraded', 'full'))
                = o.data_shards THEN 'at_risk'
           ELSE 'lost'
       END AS health
FROM storage_object o
JOIN storage_shard s ON s.object = o.id
LEFT JOIN storage_node n ON n.id = s.node
WHERE o.deleted_height IS NULL
GROUP BY o.id, o.owner, o.data_shards, o.parity_shards;
