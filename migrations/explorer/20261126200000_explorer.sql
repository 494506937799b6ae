-- The explorer read model: blocks, transactions, inputs, outputs with their
-- conditions decoded, addresses, multisig membership, notary records,
-- minting and authorization history, per-block statistics and pending
-- transactions. Documented column by column in docs/read-models.md.
--
-- Conventions: IDs and hashes are BYTEA (32 bytes); addresses are BYTEA of
-- 33 bytes (kind byte ‖ hash, what the bech32m text encodes); coin amounts
-- are NUMERIC(39,0) base units (u128), blockstakes NUMERIC(20,0) (u64);
-- heights BIGINT; timestamps BIGINT unix seconds. Every table has a
-- natural primary key (the runtime undoes rows by key) and no generated
-- values, so a rebuild writes exactly the rows an incremental run wrote.

CREATE TABLE block (
    height                  BIGINT        PRIMARY KEY,
    id                      BYTEA         NOT NULL UNIQUE,
    parent                  BYTEA         NOT NULL,
    timestamp               BIGINT        NOT NULL,
    -- Address of the winning blockstake output (NULL for genesis).
    staker                  BYTEA,
    stake_output_height     BIGINT        NOT NULL,
    stake_output_tx_index   INTEGER       NOT NULL,
    stake_output_index      INTEGER       NOT NULL,
    transaction_count       INTEGER       NOT NULL,
    fees                    NUMERIC(39,0) NOT NULL,
    payouts_total           NUMERIC(39,0) NOT NULL,
    -- Seconds since the parent's timestamp (NULL for genesis; may be
    -- negative only in theory, the median-time rule bounds it).
    block_time              BIGINT,
    size                    INTEGER       NOT NULL,
    -- The target this block met (its parent's child target; NULL for
    -- genesis), the target its child must meet, the difficulty of the met
    -- target (floor(2^256 / target)) and the sum of difficulties so far.
    target                  BYTEA,
    child_target            BYTEA         NOT NULL,
    difficulty              NUMERIC       NOT NULL,
    cumulative_difficulty   NUMERIC       NOT NULL,
    -- Work over the last (up to) 200 blocks / seconds they took: the
    -- blockstakes that took part in the lottery (Rivine's estimate).
    estimated_active_stake  NUMERIC       NOT NULL
);
CREATE INDEX block_by_staker ON block (staker, height DESC) WHERE staker IS NOT NULL;

-- Running totals after each block, for charts and chain facts.
CREATE TABLE block_statistics (
    height                  BIGINT        PRIMARY KEY,
    timestamp               BIGINT        NOT NULL,
    coin_inputs             INTEGER       NOT NULL,
    coin_outputs            INTEGER       NOT NULL,
    blockstake_inputs       INTEGER       NOT NULL,
    blockstake_outputs      INTEGER       NOT NULL,
    arbitrary_data_bytes    INTEGER       NOT NULL,
    coins_minted            NUMERIC(39,0) NOT NULL,
    coins_destroyed         NUMERIC(39,0) NOT NULL,
    new_addresses           INTEGER       NOT NULL,
    -- Totals from genesis up to and including this block.
    cumulative_transactions BIGINT        NOT NULL,
    cumulative_addresses    BIGINT        NOT NULL,
    -- Every coin in existence: unspent outputs plus maturing payouts.
    coin_supply             NUMERIC(39,0) NOT NULL,
    blockstake_supply       NUMERIC(20,0) NOT NULL
);
CREATE INDEX block_statistics_by_time ON block_statistics (timestamp);

CREATE TABLE transaction (
    id                      BYTEA         PRIMARY KEY,
    block_height            BIGINT        NOT NULL,
    transaction_index       INTEGER       NOT NULL,
    -- transfer | blockstake (only blockstake inputs/outputs, e.g. a
    -- staking respend) | genesis | notary | coin_creation |
    -- mint_condition | coin_destruction | address_update | authority_change
    kind                    TEXT          NOT NULL,
    fee                     NUMERIC(39,0) NOT NULL,
    arbitrary_data          BYTEA         NOT NULL,
    size                    INTEGER       NOT NULL,
    coin_input_count        INTEGER       NOT NULL,
    coin_output_count       INTEGER       NOT NULL,
    blockstake_input_count  INTEGER       NOT NULL,
    blockstake_output_count INTEGER       NOT NULL,
    coin_input_total        NUMERIC(39,0) NOT NULL,
    coin_output_total       NUMERIC(39,0) NOT NULL,
    UNIQUE (block_height, transaction_index)
);
CREATE INDEX transaction_by_kind ON transaction (kind, block_height DESC, transaction_index DESC)
    WHERE kind <> 'transfer';

-- Coin and blockstake outputs: created by transactions, by minting, or as
-- block payouts.
CREATE TABLE output (
    id                      BYTEA         PRIMARY KEY,
    -- coin | blockstake
    currency                TEXT          NOT NULL,
    -- transaction | minted | payout
    origin                  TEXT          NOT NULL,
    block_height            BIGINT        NOT NULL,
    -- NULL for payouts.
    transaction_id          BYTEA,
    transaction_index       INTEGER,
    -- Index among the transaction's created outputs of this currency (the
    -- ID's index), or the payout's index in the block.
    output_index            INTEGER       NOT NULL,
    value                   NUMERIC(39,0) NOT NULL,
    address                 BYTEA         NOT NULL,
    -- nil | pubkey | multisig | timelock | atomic_swap
    condition_type          TEXT          NOT NULL,
    -- Time lock: raw lock value (< 500000000: height, else unix time),
    -- its meaning, and the wrapped condition's type.
    timelock                BIGINT,
    timelock_kind           TEXT,
    timelock_inner_type     TEXT,
    -- Multisig (plain or time-locked): m of n public keys (the keys are
    -- in multisig_member, by the output's address).
    multisig_required       INTEGER,
    multisig_key_count      INTEGER,
    -- Atomic swap.
    swap_sender             BYTEA,
    swap_receiver           BYTEA,
    swap_hashed_secret      BYTEA,
    swap_timelock           BIGINT,
    -- Payouts: first height at which they can be spent.
    matures_at              BIGINT,
    spent_by                BYTEA,
    spent_at                BIGINT
);
CREATE INDEX output_by_address ON output (address, block_height DESC);
CREATE INDEX output_by_transaction ON output (transaction_id) WHERE transaction_id IS NOT NULL;
CREATE INDEX output_payouts_by_block ON output (block_height) WHERE origin = 'payout';
CREATE INDEX output_unspent_by_address ON output (address, currency, block_height DESC)
    WHERE spent_at IS NULL;

CREATE VIEW unspent_output AS
    SELECT * FROM output WHERE spent_at IS NULL;

CREATE TABLE input (
    transaction_id          BYTEA         NOT NULL,
    -- coin | blockstake
    currency                TEXT          NOT NULL,
    input_index             INTEGER       NOT NULL,
    block_height            BIGINT        NOT NULL,
    parent_id               BYTEA         NOT NULL,
    value                   NUMERIC(39,0) NOT NULL,
    address                 BYTEA         NOT NULL,
    -- nil | single_signature | multi_signature | atomic_swap_claim |
    -- atomic_swap_refund
    fulfillment_type        TEXT          NOT NULL,
    -- Signing key (single signature, swap claim/refund); every key of a
    -- multi-signature fulfillment.
    public_keys             BYTEA[]       NOT NULL,
    -- The revealed secret of an atomic swap claim.
    secret                  BYTEA,
    PRIMARY KEY (transaction_id, currency, input_index)
);

CREATE TABLE address (
    address                 BYTEA         PRIMARY KEY,
    -- nil | pubkey | multisig | atomic_swap
    kind                    TEXT          NOT NULL,
    -- Unspent coin outputs in the UTXO set (time-locked ones included,
    -- maturing payouts not).
    coin_balance            NUMERIC(39,0) NOT NULL,
    -- Payouts created for this address that have not matured yet.
    coin_maturing           NUMERIC(39,0) NOT NULL,
    blockstake_balance      NUMERIC(20,0) NOT NULL,
    coin_outputs_unspent    INTEGER       NOT NULL,
    blockstake_outputs_unspent INTEGER    NOT NULL,
    outputs_received        INTEGER       NOT NULL,
    transaction_count       INTEGER       NOT NULL,
    blocks_created          INTEGER       NOT NULL,
    first_seen              BIGINT        NOT NULL,
    last_seen               BIGINT        NOT NULL
);
CREATE INDEX address_blockstake_holders ON address (blockstake_balance DESC, address)
    WHERE blockstake_balance > 0;

CREATE VIEW blockstake_holder AS
    SELECT address, blockstake_balance, blockstake_outputs_unspent, blocks_created
      FROM address WHERE blockstake_balance > 0;

-- Which transactions touch an address (spends from it or pays to it).
CREATE TABLE address_transaction (
    address                 BYTEA         NOT NULL,
    block_height            BIGINT        NOT NULL,
    transaction_index       INTEGER       NOT NULL,
    transaction_id          BYTEA         NOT NULL,
    PRIMARY KEY (address, block_height, transaction_index)
);

CREATE TABLE multisig_member (
    multisig_address        BYTEA         NOT NULL,
    member_address          BYTEA         NOT NULL,
    public_key              BYTEA         NOT NULL,
    required                INTEGER       NOT NULL,
    key_count               INTEGER       NOT NULL,
    first_seen              BIGINT        NOT NULL,
    PRIMARY KEY (multisig_address, member_address)
);
CREATE INDEX multisig_member_by_member ON multisig_member (member_address);

CREATE TABLE notary_record (
    document_hash           BYTEA         NOT NULL,
    transaction_id          BYTEA         NOT NULL,
    block_height            BIGINT        NOT NULL,
    timestamp               BIGINT        NOT NULL,
    PRIMARY KEY (document_hash, transaction_id)
);

-- Mint condition changes, coins created and destroyed (and the mint
-- condition of the genesis configuration, event_index -1).
CREATE TABLE mint_event (
    block_height            BIGINT        NOT NULL,
    event_index             BIGINT        NOT NULL,
    transaction_id          BYTEA,
    -- genesis_condition | condition_changed | coins_created | coins_destroyed
    kind                    TEXT          NOT NULL,
    -- Decoded condition (JSON) for condition events.
    condition               JSONB,
    amount                  NUMERIC(39,0),
    PRIMARY KEY (block_height, event_index)
);

-- Address authority changes and (de)authorizations (and the genesis
-- configuration's authority and authorized addresses, event_index < 0).
CREATE TABLE authorization_event (
    block_height            BIGINT        NOT NULL,
    event_index             BIGINT        NOT NULL,
    transaction_id          BYTEA,
    -- genesis_authority | authority_changed | authorized | deauthorized
    kind                    TEXT          NOT NULL,
    address                 BYTEA,
    condition               JSONB,
    PRIMARY KEY (block_height, event_index)
);
CREATE INDEX authorization_event_by_address ON authorization_event (address, block_height DESC, event_index DESC)
    WHERE address IS NOT NULL;

-- Transactions accepted by a node's pool but not yet in a block. Filled
-- by the projector from pool events; applying a block deletes the rows of
-- the transactions it contains (and reverting it restores them).
CREATE TABLE pending_transaction (
    id                      BYTEA         PRIMARY KEY,
    encoded                 BYTEA         NOT NULL,
    fee                     NUMERIC(39,0) NOT NULL,
    size                    INTEGER       NOT NULL,
    first_seen_at           TIMESTAMPTZ   NOT NULL
);
