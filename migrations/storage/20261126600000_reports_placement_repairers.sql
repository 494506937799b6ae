-- Last report of every node (height and block time), and the desired
-- placement of every live object: where `rebalance` (the placement
-- function, `chain::domains::storage::placement`) puts each shard given
-- the nodes now; `desired_node` differs from `node` for shards that should
-- move (their holder is leaving, retired, or lost), and is NULL with
-- `placement_error` set when the current nodes cannot honour the policy.
-- Recomputed by the model after every block with storage events (all live
-- objects when a node changed, otherwise the objects the block touched).

ALTER TABLE storage_node
    ADD COLUMN reported_height BIGINT,
    ADD COLUMN reported_at     BIGINT;

ALTER TABLE storage_shard
    ADD COLUMN desired_node BYTEA;

ALTER TABLE storage_object
    ADD COLUMN placement_error TEXT;

-- Repairer keys an owner authorized to record repairs of its objects
-- (moves only to where placement puts them; docs/storage.md).
CREATE TABLE storage_repairer (
    owner               BYTEA   NOT NULL,
    repairer            BYTEA   NOT NULL,
    authorized_height   BIGINT  NOT NULL,
    PRIMARY KEY (owner, repairer)
);
