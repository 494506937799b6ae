-- Login challenges already answered (services/api/src/login/used.rs): a
-- challenge is single-use. A row lives until its challenge expires (after
-- that `login` refuses the challenge as expired anyway); the next login
-- deletes expired rows.
CREATE TABLE used_challenge (
    nonce      BYTEA PRIMARY KEY,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT NOT NULL
);
CREATE INDEX used_challenge_expiry ON used_challenge (expires_at);
