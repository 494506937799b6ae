-- The chat read model: channels, members and roles with their history,
-- sealed group keys, messages (ciphertext only for direct and group
-- channels), receipts and the news timeline. Folded from the chat
-- domain's events (docs/chat.md); documented in docs/read-models.md.
--
-- Conventions as in the explorer: IDs and keys BYTEA, heights BIGINT,
-- timestamps BIGINT unix seconds, natural primary keys, no generated
-- values (a rebuild writes exactly the rows an incremental run wrote).
-- A sealed key is stored as its 80 bytes (ephemeral key ‖ wrapped key).

CREATE TABLE channel (
    id                  BYTEA   PRIMARY KEY,
    -- direct | group | broadcast
    kind                TEXT    NOT NULL,
    name                TEXT    NOT NULL,
    creator             BYTEA   NOT NULL,
    -- The current group-key epoch (0 for other kinds).
    epoch               INTEGER NOT NULL,
    created_height      BIGINT  NOT NULL,
    created_at          BIGINT  NOT NULL,
    message_count       BIGINT  NOT NULL,
    last_message_at     BIGINT
);
CREATE INDEX channel_by_kind ON channel (kind, created_height DESC);

-- Current members.
CREATE TABLE member (
    channel             BYTEA   NOT NULL,
    identity            BYTEA   NOT NULL,
    -- admin | writer | reader
    role                TEXT    NOT NULL,
    since_height        BIGINT  NOT NULL,
    PRIMARY KEY (channel, identity)
);
CREATE INDEX member_by_identity ON member (identity);

-- Every membership change: created (with the initial role), added,
-- removed, role (changed to `role`).
CREATE TABLE member_history (
    height              BIGINT  NOT NULL,
    event_index         BIGINT  NOT NULL,
    identity            BYTEA   NOT NULL,
    channel             BYTEA   NOT NULL,
    change              TEXT    NOT NULL,
    role                TEXT,
    actor               BYTEA   NOT NULL,
    timestamp           BIGINT  NOT NULL,
    PRIMARY KEY (height, event_index, identity)
);
CREATE INDEX member_history_by_channel ON member_history (channel, height, event_index);

-- Group keys sealed to members' identity keys, per epoch.
CREATE TABLE key_seal (
    channel             BYTEA   NOT NULL,
    epoch               INTEGER NOT NULL,
    public_key          BYTEA   NOT NULL,
    member              BYTEA   NOT NULL,
    sealed              BYTEA   NOT NULL,
    height              BIGINT  NOT NULL,
    PRIMARY KEY (channel, epoch, public_key)
);

CREATE TABLE message (
    id                  BYTEA    PRIMARY KEY,
    channel             BYTEA    NOT NULL,
    author              BYTEA    NOT NULL,
    signer              BYTEA    NOT NULL,
    transaction_id      BYTEA    NOT NULL,
    height              BIGINT   NOT NULL,
    tx_index            INTEGER  NOT NULL,
    timestamp           BIGINT   NOT NULL,
    reply_to            BYTEA,
    buttons             SMALLINT NOT NULL,
    -- clear | group | direct
    body_kind           TEXT     NOT NULL,
    -- Group messages: the key epoch.
    epoch               INTEGER,
    -- Clear (broadcast) messages only: text, button captions and
    -- attachments (JSON: [{name, content_hash | storage_object}]).
    text                TEXT,
    button_captions     TEXT[],
    attachments         TEXT,
    -- Private messages only: XChaCha20-Poly1305 nonce and ciphertext.
    nonce               BYTEA,
    ciphertext          BYTEA,
    sealed              BOOLEAN  NOT NULL
);
CREATE INDEX message_by_channel ON message (channel, height, tx_index);

-- Direct messages: the message key sealed to each recipient key.
CREATE TABLE message_seal (
    message             BYTEA   NOT NULL,
    public_key          BYTEA   NOT NULL,
    member              BYTEA   NOT NULL,
    sealed              BYTEA   NOT NULL,
    PRIMARY KEY (message, public_key)
);

-- One row per (message, member, status); a later answer replaces the
-- button of an earlier one.
CREATE TABLE receipt (
    message             BYTEA    NOT NULL,
    member              BYTEA    NOT NULL,
    -- received | read | answered
    status              TEXT     NOT NULL,
    button              SMALLINT,
    channel             BYTEA    NOT NULL,
    height              BIGINT   NOT NULL,
    timestamp           BIGINT   NOT NULL,
    PRIMARY KEY (message, member, status)
);
CREATE INDEX receipt_by_member ON receipt (member, channel);

-- Live news items (a withdrawn item's row is deleted).
CREATE TABLE news (
    id                  BYTEA   PRIMARY KEY,
    channel             BYTEA   NOT NULL,
    author              BYTEA   NOT NULL,
    title               TEXT    NOT NULL,
    body                TEXT    NOT NULL,
    buttons             TEXT[]  NOT NULL,
    sticky_until        BIGINT,
    -- Not shown before then (NULL: at once).
    scheduled_at        BIGINT,
    target_groups       TEXT[]  NOT NULL,
    published_height    BIGINT  NOT NULL,
    published_at        BIGINT  NOT NULL,
    updated_at          BIGINT  NOT NULL,
    version             INTEGER NOT NULL
);
CREATE INDEX news_by_channel ON news (channel, published_at DESC);
