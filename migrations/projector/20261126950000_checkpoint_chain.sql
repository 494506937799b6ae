-- Which chain and which stream the checkpoint belongs to, so a model whose
-- checkpoint comes from another chain (node data wiped and a new chain
-- started, its stream recreated, while PostgreSQL kept the read models)
-- is refused instead of silently skipping the new chain's blocks
-- (docs/projector.md, "Another chain").
--
-- genesis_id:   the genesis block of the chain the model folds (the chain
--               ID); NULL when unknown (written before this column).
-- stream_block: the block named by the stream message at stream_seq; NULL
--               when no stream message is there for the model (blocks
--               backfilled from a node) or unknown (written before).
ALTER TABLE checkpoint
    ADD COLUMN genesis_id   BYTEA CHECK (octet_length(genesis_id) = 32),
    ADD COLUMN stream_block BYTEA CHECK (octet_length(stream_block) = 32);

-- A model still remembering its genesis block (a young chain) knows it.
UPDATE checkpoint
   SET genesis_id = (SELECT block_id FROM applied_block WHERE height = 0);
