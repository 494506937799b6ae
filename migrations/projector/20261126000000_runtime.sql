-- The projector runtime's own tables and functions, installed into the
-- schema of every read model (the projector runs these migrations with
-- search_path set to that schema, before the model's own migrations).
-- Everything here refers to tables through the schema of the row being
-- changed, so a model's schema can be renamed (rebuild swaps schemas).

-- Where the model stands. One row; written in the same transaction as the
-- model's rows, so at-least-once delivery plus this check gives
-- exactly-once effect.
CREATE TABLE checkpoint (
    singleton   BOOLEAN     PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    height      BIGINT      NOT NULL CHECK (height >= 0),
    block_id    BYTEA       NOT NULL CHECK (octet_length(block_id) = 32),
    stream_seq  BIGINT      NOT NULL CHECK (stream_seq >= 0),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- How to undo each block that is still within the finality horizon: one row
-- per row changed by the model while applying the block at `height`,
-- recorded by the trigger below. Reverting a block replays its rows in
-- reverse order; rows older than the horizon are pruned.
CREATE TABLE undo_log (
    height      BIGINT   NOT NULL,
    seq         BIGINT   GENERATED ALWAYS AS IDENTITY,
    table_name  TEXT     NOT NULL,
    operation   CHAR(1)  NOT NULL CHECK (operation IN ('I', 'U', 'D')),
    old_row     JSONB,
    new_row     JSONB,
    PRIMARY KEY (height, seq)
);

-- Row trigger attached by the runtime to every table of the model. It
-- records only while the runtime has set `projection.height` for the
-- current transaction and has not switched recording off (blocks below the
-- finality horizon of the chain tip can never be reverted).
CREATE FUNCTION record_undo() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    at_height TEXT := current_setting('projection.height', true);
BEGIN
    IF at_height IS NULL OR at_height = ''
       OR coalesce(current_setting('projection.record_undo', true), 'on') = 'off' THEN
        RETURN NULL;
    END IF;
    EXECUTE format(
        'INSERT INTO %I.undo_log (height, table_name, operation, old_row, new_row) VALUES ($1, $2, $3, $4, $5)',
        TG_TABLE_SCHEMA)
    USING at_height::BIGINT,
          TG_TABLE_NAME,
          left(TG_OP, 1),
          CASE WHEN TG_OP IN ('UPDATE', 'DELETE') THEN to_jsonb(OLD) END,
          CASE WHEN TG_OP IN ('INSERT', 'UPDATE') THEN to_jsonb(NEW) END;
    RETURN NULL;
END;
$$;

-- Undoes everything recorded for `at_height` in schema `model_schema`,
-- newest change first, and forgets it. Returns the number of rows undone.
CREATE FUNCTION revert_height(model_schema TEXT, at_height BIGINT) RETURNS INTEGER
LANGUAGE plpgsql AS $$
DECLARE
    entry       RECORD;
    relation    TEXT;
    key_match   TEXT;
    columns     TEXT;
    undone      INTEGER := 0;
BEGIN
    PERFORM set_config('projection.record_undo', 'off', true);
    FOR entry IN EXECUTE format(
        'SELECT table_name, operation, old_row, new_row FROM %I.undo_log WHERE height = $1 ORDER BY seq DESC',
        model_schema) USING at_height
    LOOP
        relation := format('%I.%I', model_schema, entry.table_name);
        SELECT string_agg(format('%1$I = (jsonb_populate_record(NULL::%2$s, $1)).%1$I', a.attname, relation), ' AND ')
          INTO key_match
          FROM pg_index i
          JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
         WHERE i.indrelid = relation::regclass AND i.indisprimary;
        IF key_match IS NULL THEN
            RAISE EXCEPTION 'read model table % has no primary key; the runtime cannot undo its rows', relation;
        END IF;
        IF entry.operation = 'I' THEN
            EXECUTE format('DELETE FROM %s WHERE %s', relation, key_match) USING entry.new_row;
        ELSIF entry.operation = 'D' THEN
            EXECUTE format('INSERT INTO %1$s SELECT * FROM jsonb_populate_record(NULL::%1$s, $1)', relation)
              USING entry.old_row;
        ELSE
            SELECT string_agg(format('%I', a.attname), ', ' ORDER BY a.attnum)
              INTO columns
              FROM pg_attribute a
             WHERE a.attrelid = relation::regclass AND a.attnum > 0 AND NOT a.attisdropped;
            EXECUTE format('UPDATE %1$s SET (%2$s) = (SELECT %2$s FROM jsonb_populate_record(NULL::%1$s, $2)) WHERE %3$s',
                           relation, columns, key_match)
              USING entry.new_row, entry.old_row;
        END IF;
        undone := undone + 1;
    END LOOP;
    EXECUTE format('DELETE FROM %I.undo_log WHERE height = $1', model_schema) USING at_height;
    PERFORM set_config('projection.record_undo', 'on', true);
    RETURN undone;
END;
$$;

-- The blocks the model has applied and still remembers (pruned with the
-- undo log): tells a redelivered or republished block from a block that
-- does not follow, and whether a block can still be reverted.
CREATE TABLE applied_block (
    height         BIGINT  PRIMARY KEY,
    block_id       BYTEA   NOT NULL CHECK (octet_length(block_id) = 32),
    undo_recorded  BOOLEAN NOT NULL
);
