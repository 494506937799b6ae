-- Where each read model stands. The projector writes a model's checkpoint in
-- the same transaction as the model's rows (at-least-once delivery plus
-- idempotent apply gives exactly-once effect).
CREATE TABLE projection_checkpoint (
    model        TEXT        PRIMARY KEY,
    height       BIGINT      NOT NULL CHECK (height >= 0),
    block_id     BYTEA       NOT NULL CHECK (octet_length(block_id) = 32),
    stream_seq   BIGINT      NOT NULL CHECK (stream_seq >= 0),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
