-- The compute read model: nodes with capacity (total, used; free in the
-- view compute_node_capacity), power and their report history;
-- deployments with owner, policy, spec, prepaid balance and billing
-- position; workloads with desired and reported state and the history of
-- both; billing history; reschedules with their reason; and the "billed
-- while down" audit. Folded from the compute domain's events (and, for a
-- deployment's spec, the transaction that created or updated it);
-- documented in docs/compute.md ("Read model").
--
-- Conventions as in the other models: IDs and keys are BYTEA (32 bytes),
-- heights BIGINT, amounts NUMERIC(39,0) base units, natural primary keys
-- (history rows keyed by height and event index), no generated values;
-- reverts are the runtime's generic undo.

CREATE TABLE compute_node (
    id                  BYTEA   PRIMARY KEY,
    owner               BYTEA   NOT NULL,
    node_key            BYTEA   NOT NULL,
    farm                TEXT    NOT NULL,
    country             TEXT    NOT NULL,
    city                TEXT    NOT NULL,
    cores_total         BIGINT  NOT NULL,
    memory_mib_total    BIGINT  NOT NULL,
    disk_gib_total      BIGINT  NOT NULL,
    -- Sum of the demands of the workloads placed on the node.
    cores_used          BIGINT  NOT NULL,
    memory_mib_used     BIGINT  NOT NULL,
    disk_gib_used       BIGINT  NOT NULL,
    -- up | down
    power_target        TEXT    NOT NULL,
    power_state         TEXT    NOT NULL,
    uptime_seconds      BIGINT  NOT NULL,
    last_sequence       BIGINT,
    registered_height   BIGINT  NOT NULL,
    -- The registration counts as a report (as on chain).
    last_report_height  BIGINT  NOT NULL
);
CREATE INDEX compute_node_by_farm ON compute_node (farm);
CREATE INDEX compute_node_by_location ON compute_node (country, city);
CREATE INDEX compute_node_by_owner ON compute_node (owner);

CREATE VIEW compute_node_capacity AS
SELECT n.*,
       n.cores_total - n.cores_used           AS cores_free,
       n.memory_mib_total - n.memory_mib_used AS memory_mib_free,
       n.disk_gib_total - n.disk_gib_used     AS disk_gib_free
FROM compute_node n;

-- Every report of every node (the registration as sequence NULL).
CREATE TABLE compute_node_report (
    node                BYTEA   NOT NULL,
    height              BIGINT  NOT NULL,
    event_index         BIGINT  NOT NULL,
    sequence            BIGINT,
    uptime_seconds      BIGINT  NOT NULL,
    power               TEXT    NOT NULL,
    PRIMARY KEY (node, height, event_index)
);

CREATE TABLE compute_deployment (
    id                  BYTEA   PRIMARY KEY,
    owner               BYTEA   NOT NULL,
    name                TEXT    NOT NULL,
    -- move | stay
    reschedule          TEXT    NOT NULL,
    farms               TEXT[]  NOT NULL,
    country             TEXT,
    city                TEXT,
    -- The canonical encoding of the current ledger DeploymentSpec (what
    -- the wallet plans against).
    spec                BYTEA   NOT NULL,
    price_per_block     NUMERIC(39,0) NOT NULL,
    balance             NUMERIC(39,0) NOT NULL,
    -- Billed up to (excluding) this height.
    billed_to           BIGINT  NOT NULL,
    grace_since         BIGINT,
    -- active | canceled
    status              TEXT    NOT NULL,
    -- by_owner | out_of_funds
    cancel_cause        TEXT,
    created_height      BIGINT  NOT NULL,
    updated_height      BIGINT  NOT NULL,
    canceled_height     BIGINT
);
CREATE INDEX compute_deployment_by_owner ON compute_deployment (owner, name);

-- The current workloads (and removed ones, with removed_height, for history).
CREATE TABLE compute_workload (
    deployment          BYTEA   NOT NULL,
    name                TEXT    NOT NULL,
    -- Where it should run now (NULL once removed).
    node                BYTEA,
    cores               BIGINT  NOT NULL,
    memory_mib          BIGINT  NOT NULL,
    -- Root disk plus volumes.
    disk_gib            BIGINT  NOT NULL,
    image               TEXT    NOT NULL,
    network             TEXT,
    anti_affinity       TEXT,
    -- running (placed on a node) | deleted (removed)
    desired_state       TEXT    NOT NULL,
    -- deploying | starting | running | stopped | error | deleted (NULL: none yet)
    reported_state      TEXT,
    reported_reason     TEXT,
    reported_height     BIGINT,
    placed_height       BIGINT  NOT NULL,
    removed_height      BIGINT,
    PRIMARY KEY (deployment, name)
);
CREATE INDEX compute_workload_by_node ON compute_workload (node);

-- Desired (placed, removed) and reported state changes of every workload.
CREATE TABLE compute_workload_history (
    deployment          BYTEA   NOT NULL,
    workload            TEXT    NOT NULL,
    height              BIGINT  NOT NULL,
    event_index         BIGINT  NOT NULL,
    node                BYTEA   NOT NULL,
    -- placed | removed | reported
    kind                TEXT    NOT NULL,
    -- placed: created | updated | rescheduled; removed: deleted;
    -- reported: the reported state
    state               TEXT    NOT NULL,
    reason              TEXT,
    PRIMARY KEY (deployment, workload, height, event_index)
);

-- Balance changes of every deployment.
CREATE TABLE compute_billing (
    deployment          BYTEA   NOT NULL,
    height              BIGINT  NOT NULL,
    event_index         BIGINT  NOT NULL,
    -- deposit | top_up | billed | grace_started | grace_ended | canceled
    kind                TEXT    NOT NULL,
    amount              NUMERIC(39,0) NOT NULL,
    from_height         BIGINT,
    to_height           BIGINT,
    balance             NUMERIC(39,0) NOT NULL,
    PRIMARY KEY (deployment, height, event_index)
);

-- Self-healing: every workload moved off a silent node (to_node set), and
-- every deployment healing could not move (to_node NULL, reason set).
CREATE TABLE compute_reschedule (
    deployment          BYTEA   NOT NULL,
    height              BIGINT  NOT NULL,
    event_index         BIGINT  NOT NULL,
    workload            TEXT,
    from_node           BYTEA   NOT NULL,
    to_node             BYTEA,
    -- The silent node's last report (NULL for a failed reschedule).
    last_report_height  BIGINT,
    reason              TEXT    NOT NULL,
    PRIMARY KEY (deployment, height, event_index)
);
CREATE INDEX compute_reschedule_by_node ON compute_reschedule (from_node);

-- The "billed while down" audit: per billing and workload, the billed
-- blocks in which the workload's node was down (its last report more than
-- the silence limit old, or reporting power down) and their price.
CREATE TABLE compute_billed_while_down (
    deployment          BYTEA   NOT NULL,
    workload            TEXT    NOT NULL,
    height              BIGINT  NOT NULL,
    node                BYTEA   NOT NULL,
    from_height         BIGINT  NOT NULL,
    to_height           BIGINT  NOT NULL,
    down_blocks         BIGINT  NOT NULL,
    amount              NUMERIC(39,0) NOT NULL,
    PRIMARY KEY (deployment, workload, height)
);
CREATE INDEX compute_billed_while_down_by_node ON compute_billed_while_down (node);
