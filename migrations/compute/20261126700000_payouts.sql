-- Farmer payouts and refunds (docs/compute.md "Payouts and refunds"):
-- every node's payout address, every deployment's refund address, and the
-- coin output each payout or refund created. Addresses are BYTEA of 33
-- bytes (kind byte ‖ hash), as in the explorer model.

ALTER TABLE compute_node
    ADD COLUMN payout_address BYTEA;

-- The view's n.* was expanded when it was created: recreate it so it
-- carries the new column.
DROP VIEW compute_node_capacity;
CREATE VIEW compute_node_capacity AS
SELECT n.*,
       n.cores_total - n.cores_used           AS cores_free,
       n.memory_mib_total - n.memory_mib_used AS memory_mib_free,
       n.disk_gib_total - n.disk_gib_used     AS disk_gib_free
FROM compute_node n;

ALTER TABLE compute_deployment
    ADD COLUMN refund_address BYTEA;

-- New kinds: paid (a node's share of a bill: node, output, address set)
-- and refunded (what was left when the deployment ended: output, address).
ALTER TABLE compute_billing
    ADD COLUMN node    BYTEA,
    ADD COLUMN output  BYTEA,
    ADD COLUMN address BYTEA;
CREATE INDEX compute_billing_paid_by_node ON compute_billing (node, height DESC)
    WHERE node IS NOT NULL;
