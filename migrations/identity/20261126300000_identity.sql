-- The identity read model: identities and their keys with history,
-- attributes (label and commitment only: values never reach the chain),
-- attestations, organizations (a tree by path), roles, invitations with
-- their outcome, vouches, authorizations, and a per-identity activity
-- log. Folded from the identity domain's events; documented in
-- docs/identity.md ("Read model").
--
-- Conventions as in the explorer: IDs, keys and commitments are BYTEA (32
-- bytes); heights BIGINT; every table has a natural primary key and no
-- generated values, so a rebuild writes exactly the rows an incremental
-- run wrote. Reverts are the runtime's generic undo.

CREATE TABLE identity (
    id                  BYTEA   PRIMARY KEY,
    -- Lowercase, unique (the chain's name rule).
    name                TEXT    NOT NULL UNIQUE,
    registered_height   BIGINT  NOT NULL,
    registered_tx       BYTEA   NOT NULL,
    active_keys         INTEGER NOT NULL
);
-- Prefix search on names (`search`): name LIKE 'ali%'.
CREATE INDEX identity_by_name_prefix ON identity (name text_pattern_ops);

-- Every key ever bound to an identity (a key is never bound twice).
CREATE TABLE identity_key (
    public_key          BYTEA   PRIMARY KEY,
    identity            BYTEA   NOT NULL,
    -- active | retired (rotated away) | revoked
    status              TEXT    NOT NULL,
    -- registration | added | rotation
    added_by            TEXT    NOT NULL,
    added_height        BIGINT  NOT NULL,
    added_tx            BYTEA   NOT NULL,
    -- Rotation: the key this one replaced / the key that replaced it.
    replaces            BYTEA,
    replaced_by         BYTEA,
    retired_height      BIGINT,
    revoked_height      BIGINT
);
CREATE INDEX identity_key_by_identity ON identity_key (identity, added_height);

CREATE TABLE attribute (
    identity            BYTEA   NOT NULL,
    label               TEXT    NOT NULL,
    commitment          BYTEA   NOT NULL,
    added_height        BIGINT  NOT NULL,
    PRIMARY KEY (identity, label)
);

-- One row per (subject, label, verifier); a new attestation after a
-- revocation or a removed attribute replaces the row.
CREATE TABLE attestation (
    subject             BYTEA   NOT NULL,
    label               TEXT    NOT NULL,
    verifier            BYTEA   NOT NULL,
    commitment          BYTEA   NOT NULL,
    attested_height     BIGINT  NOT NULL,
    -- active | revoked | attribute_removed
    status              TEXT    NOT NULL,
    ended_height        BIGINT,
    PRIMARY KEY (subject, label, verifier)
);
CREATE INDEX attestation_by_verifier ON attestation (verifier);

CREATE TABLE organization (
    id                  BYTEA   PRIMARY KEY,
    -- `parent.child`, lowercase, unique.
    path                TEXT    NOT NULL UNIQUE,
    -- NULL for a top-level organization.
    parent              BYTEA,
    -- Number of path segments (1 for top level).
    depth               INTEGER NOT NULL,
    creator             BYTEA   NOT NULL,
    created_height      BIGINT  NOT NULL,
    created_tx          BYTEA   NOT NULL
);
-- Subtree queries: path = 'acme' OR path LIKE 'acme.%'.
CREATE INDEX organization_by_path_prefix ON organization (path text_pattern_ops);
CREATE INDEX organization_by_parent ON organization (parent) WHERE parent IS NOT NULL;

-- Direct roles (inherited ownership is computed from the tree).
CREATE TABLE organization_role (
    organization        BYTEA   NOT NULL,
    -- identity | organization
    subject_kind        TEXT    NOT NULL,
    subject             BYTEA   NOT NULL,
    -- member | owner
    role                TEXT    NOT NULL,
    granted_height      BIGINT  NOT NULL,
    granted_by          BYTEA   NOT NULL,
    PRIMARY KEY (organization, subject)
);
CREATE INDEX organization_role_by_subject ON organization_role (subject);

-- Every invitation with its outcome.
CREATE TABLE invitation (
    organization        BYTEA   NOT NULL,
    subject_kind        TEXT    NOT NULL,
    subject             BYTEA   NOT NULL,
    invited_height      BIGINT  NOT NULL,
    invited_tx_index    INTEGER NOT NULL,
    role                TEXT    NOT NULL,
    invited_by          BYTEA   NOT NULL,
    -- pending | accepted | rejected | cancelled | replaced (by a newer
    -- invitation of the same subject)
    status              TEXT    NOT NULL,
    resolved_height     BIGINT,
    resolved_by         BYTEA,
    PRIMARY KEY (organization, subject, invited_height, invited_tx_index)
);
CREATE INDEX invitation_pending_by_subject ON invitation (subject) WHERE status = 'pending';
CREATE INDEX invitation_by_organization ON invitation (organization, invited_height DESC);

CREATE TABLE vouch (
    voucher             BYTEA    NOT NULL,
    target              BYTEA    NOT NULL,
    -- 1..100
    weight              SMALLINT NOT NULL,
    claim               TEXT,
    vouched_height      BIGINT   NOT NULL,
    PRIMARY KEY (voucher, target)
);
CREATE INDEX vouch_by_target ON vouch (target);

-- "authorization" is reserved in SQL.
CREATE TABLE authorization_grant (
    identity            BYTEA   NOT NULL,
    organization        BYTEA   NOT NULL,
    -- Attribute labels, strictly increasing.
    scopes              TEXT[]  NOT NULL,
    granted_height      BIGINT  NOT NULL,
    PRIMARY KEY (identity, organization)
);
CREATE INDEX authorization_grant_by_organization ON authorization_grant (organization);

-- Every identity event, once per identity or organization it concerns
-- (the actor, the subject, the target…): the feed of an identity page
-- and of "changes to X" subscriptions.
CREATE TABLE activity (
    height              BIGINT  NOT NULL,
    -- The event's index within its block (EventPosition.index).
    event_index         BIGINT  NOT NULL,
    -- An identity or organization ID.
    concerns            BYTEA   NOT NULL,
    transaction_id      BYTEA   NOT NULL,
    -- The event kind (identity_registered, key_rotated, …).
    kind                TEXT    NOT NULL,
    PRIMARY KEY (height, event_index, concerns)
);
CREATE INDEX activity_by_concerns ON activity (concerns, height DESC, event_index DESC);
