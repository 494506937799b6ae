//! `schema/schema.graphql` is the SDL generated from the code. This test
//! fails when they differ; `UPDATE_SCHEMA=1 cargo test -p api --test
//! schema` (or `api schema --out schema/schema.graphql`) rewrites it.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

#[test]
fn checked_in_schema_matches_the_code() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schema/schema.graphql");
    let generated = api::sdl();
    if std::env::var_os("UPDATE_SCHEMA").is_some_and(|value| value == "1") {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "schema/schema.graphql is out of date with the code; run `UPDATE_SCHEMA=1 cargo test -p api --test schema` and commit it"
    );
}
