-- A small read model for the runtime's tests: blocks seen and coin totals
-- per address (rows inserted, updated and deleted as outputs come and go).
CREATE TABLE block_seen (
    height    BIGINT PRIMARY KEY,
    block_id  BYTEA  NOT NULL,
    events    INTEGER NOT NULL
);
CREATE TABLE address_total (
    address   BYTEA   PRIMARY KEY,
    coins     NUMERIC NOT NULL,
    outputs   INTEGER NOT NULL
);
