//! Minting and authorized addresses through the wallet binary against a
//! real devnet (testkit, setup shared with e2e.rs in `common`): the
//! devnet's mint key (seed [2; 32]) hands minting to a 2-of-2 multisig
//! held by alice, who then mints; coin destruction; the address authority
//! (seed [3; 32]) authorizes and deauthorizes an address and hands the
//! authority over; each effect read back through the API (`mint show`,
//! `auth show`, `auth status`); and a wallet without the key refused
//! before anything is submitted, with nothing changed.
//!
//! The devnet does not enforce authorized addresses (`enabled = false` in
//! ledger/chain/networks/devnet.toml, and testkit runs the shipped devnet
//! configuration), so the status shows `ruleEnabled: false` and the
//! enforcement itself is left to the chain's own tests.

#![allow(clippy::unwrap_used)] // test: a failed step should fail loudly

mod common;

use common::{spendable, start};
use serde_json::Value;

fn auth_status(env: &common::Env, address: &str) -> Value {
    env.ok("bob", &["auth", "status", address])
}

#[test]
fn minting_and_authorized_addresses_on_a_devnet() {
    let (devnet, env, genesis_file) = start();
    env.ok(
        "genesis",
        &["recover", "--from-file", genesis_file.to_str().unwrap()],
    );
    let minter = env.recover_seed("minter", [2; 32]);
    let authority = env.recover_seed("authority", [3; 32]);
    let alice = env.ok("alice", &["init", "--no-confirm", "--keys", "2"])["addresses"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let bob = env.ok("bob", &["init", "--no-confirm"])["addresses"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let to_authority = format!("{authority}=5");
    let to_alice = format!("{alice}=5");
    env.ok(
        "genesis",
        &[
            "send",
            "5",
            &minter,
            "--to",
            &to_authority,
            "--to",
            &to_alice,
        ],
    );

    // The mint condition in force is the minter's key.
    let shown = env.ok("bob", &["mint", "show"]);
    assert_eq!(shown["condition"]["type"], "pubkey");
    assert_eq!(shown["condition"]["address"], minter);

    // Alice does not hold the mint key: refused before submitting.
    let (code, message) = env.fail("alice", &["mint", "change-condition", &bob], Some("pw"));
    assert_eq!(code, "NOT_AUTHORITY", "{message}");
    assert!(message.contains(&minter), "{message}");
    let (code, _) = env.fail("alice", &["mint", "create", "1", &bob], Some("pw"));
    assert_eq!(code, "NOT_AUTHORITY");
    assert_eq!(env.ok("bob", &["mint", "show"]), shown);
    assert!((spendable(&env.coins("alice")) - 5.0).abs() < 1e-9);
    // A new condition that is neither a key address nor a multisig.
    let (code, _) = env.fail(
        "minter",
        &["mint", "change-condition", "nonsense"],
        Some("pw"),
    );
    assert_eq!(code, "BAD_ADDRESS");
    let (code, _) = env.fail("minter", &["mint", "change-condition", "3:00"], Some("pw"));
    assert_eq!(code, "USAGE");

    // The minter hands minting to alice's two keys, 2 of 2.
    let keys = env.ok("alice", &["address", "keys"])["publicKeys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key.as_str().unwrap().to_owned())
        .collect::<Vec<_>>();
    let spec = format!("2:{}", keys.join(","));
    let changed = env.ok("minter", &["mint", "change-condition", &spec]);
    assert_eq!(changed["status"], "confirmed");
    let shown = env.ok("bob", &["mint", "show"]);
    assert_eq!(shown["condition"]["type"], "multisig");
    assert_eq!(shown["condition"]["required"], 2);
    assert_eq!(shown["transactionId"], changed["id"]);
    assert_eq!(shown["sinceHeight"], changed["height"]);
    let mut shown_keys: Vec<&str> = shown["condition"]["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key.as_str().unwrap())
        .collect();
    shown_keys.sort_unstable();
    let mut expected: Vec<&str> = keys.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(shown_keys, expected);

    // The old key no longer mints; alice (both keys) does.
    let (code, _) = env.fail("minter", &["mint", "create", "1", &bob], Some("pw"));
    assert_eq!(code, "NOT_AUTHORITY");
    let minted = env.ok("alice", &["mint", "create", "10", &bob]);
    assert_eq!(minted["status"], "confirmed");
    assert!((spendable(&env.coins("bob")) - 10.0).abs() < 1e-9);

    // Co-signing across wallets: minting goes to 2 of (alice's first key,
    // carol's key); alice builds an unsigned creation (she pays the fee),
    // each signs a copy, the merge is submitted.
    env.ok("carol", &["init", "--no-confirm"]);
    let carol_key = env.ok("carol", &["address", "keys"])["publicKeys"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let spec = format!("2:{},{carol_key}", keys[0]);
    assert_eq!(
        env.ok("alice", &["mint", "change-condition", &spec])["status"],
        "confirmed"
    );
    let (code, _) = env.fail("carol", &["mint", "create", "1", &bob], Some("pw"));
    assert_eq!(code, "NOT_AUTHORITY");
    let unsigned = env.path("mint.json");
    let unsigned = unsigned.to_str().unwrap();
    let built = env.ok(
        "alice",
        &["mint", "create", "3", &bob, "--unsigned", unsigned],
    );
    let carol_copy = env.path("mint-carol.json");
    let carol_copy = carol_copy.to_str().unwrap();
    std::fs::copy(unsigned, carol_copy).unwrap();
    assert_eq!(env.ok("alice", &["sign", unsigned])["complete"], false);
    let (code, _) = env.fail("alice", &["submit", unsigned], Some("pw"));
    assert_eq!(code, "BAD_TRANSACTION_FILE");
    env.ok("carol", &["sign", carol_copy]);
    let merged = env.path("mint-merged.json");
    let merged = merged.to_str().unwrap();
    let joined = env.ok(
        "bob",
        &["multisig", "merge", carol_copy, unsigned, "--out", merged],
    );
    assert_eq!(joined["complete"], true);
    assert_eq!(joined["id"], built["id"]);
    assert!((spendable(&env.coins("bob")) - 10.0).abs() < 1e-9);
    let submitted = env.ok("bob", &["submit", merged]);
    assert_eq!(submitted["status"], "confirmed");
    assert!((spendable(&env.coins("bob")) - 13.0).abs() < 1e-9);

    // Coin destruction: bob burns 4 of his 13; he pays the fee too.
    let destroyed = env.ok("bob", &["mint", "destroy", "4"]);
    assert_eq!(destroyed["status"], "confirmed");
    assert_eq!(destroyed["destroyed"], "4");
    let fee: f64 = destroyed["fee"].as_str().unwrap().parse().unwrap();
    assert!((spendable(&env.coins("bob")) - (9.0 - fee)).abs() < 1e-9);
    let (code, message) = env.fail("bob", &["mint", "destroy", "10"], Some("pw"));
    assert_eq!(code, "INSUFFICIENT_FUNDS", "{message}");
    let (code, _) = env.fail("bob", &["mint", "destroy", "0"], Some("pw"));
    assert_eq!(code, "BAD_AMOUNT");
    assert!((spendable(&env.coins("bob")) - (9.0 - fee)).abs() < 1e-9);

    // Authorized addresses: the devnet does not enforce them.
    let status = auth_status(&env, &bob);
    assert_eq!(status["ruleEnabled"], false);
    assert_eq!(status["authorized"], false);
    let shown = env.ok("bob", &["auth", "show"]);
    assert_eq!(shown["condition"]["address"], authority);

    // Alice does not hold the authority key: refused, nothing changes.
    let (code, message) = env.fail(
        "alice",
        &["auth", "update", "--authorize", &alice],
        Some("pw"),
    );
    assert_eq!(code, "NOT_AUTHORITY", "{message}");
    assert!(message.contains("address authority"), "{message}");
    assert_eq!(auth_status(&env, &alice)["authorized"], false);
    let (code, _) = env.fail("alice", &["auth", "change-authority", &alice], Some("pw"));
    assert_eq!(code, "NOT_AUTHORITY");
    assert_eq!(env.ok("bob", &["auth", "show"]), shown);

    // Bad requests from the authority: nothing listed, a duplicate.
    let (code, _) = env.fail("authority", &["auth", "update"], Some("pw"));
    assert_eq!(code, "USAGE");
    let (code, _) = env.fail(
        "authority",
        &["auth", "update", "--authorize", &bob, "--deauthorize", &bob],
        Some("pw"),
    );
    assert_eq!(code, "BAD_ADDRESS");

    // The authority authorizes bob and alice, then deauthorizes bob.
    let updated = env.ok(
        "authority",
        &["auth", "update", "--authorize", &bob, "--authorize", &alice],
    );
    assert_eq!(updated["status"], "confirmed");
    let status = auth_status(&env, &bob);
    assert_eq!(status["authorized"], true);
    assert_eq!(status["sinceHeight"], updated["height"]);
    assert_eq!(status["transactionId"], updated["id"]);
    assert_eq!(auth_status(&env, &alice)["authorized"], true);
    // What the chain would refuse is refused before submitting.
    let (code, message) = env.fail(
        "authority",
        &["auth", "update", "--authorize", &alice],
        Some("pw"),
    );
    assert_eq!(code, "USAGE");
    assert!(message.contains("already authorized"), "{message}");
    let (code, message) = env.fail(
        "authority",
        &[
            "auth",
            "update",
            "--deauthorize",
            &common::genesis_address(),
        ],
        Some("pw"),
    );
    assert_eq!(code, "USAGE");
    assert!(message.contains("not authorized"), "{message}");
    let updated = env.ok("authority", &["auth", "update", "--deauthorize", &bob]);
    assert_eq!(updated["status"], "confirmed");
    let status = auth_status(&env, &bob);
    assert_eq!(status["authorized"], false);
    assert_eq!(status["sinceHeight"], updated["height"]);
    assert_eq!(auth_status(&env, &alice)["authorized"], true);

    // The authority hands itself to bob; the old key is refused after.
    let changed = env.ok("authority", &["auth", "change-authority", &bob]);
    assert_eq!(changed["status"], "confirmed");
    let shown = env.ok("bob", &["auth", "show"]);
    assert_eq!(shown["condition"]["address"], bob);
    assert_eq!(shown["transactionId"], changed["id"]);
    let (code, _) = env.fail(
        "authority",
        &["auth", "update", "--authorize", &bob],
        Some("pw"),
    );
    assert_eq!(code, "NOT_AUTHORITY");
    let (code, message) = env.fail("bob", &["auth", "change-authority", &bob], Some("pw"));
    assert_eq!(code, "USAGE");
    assert!(message.contains("already"), "{message}");
    assert_eq!(
        env.ok("bob", &["auth", "show"])["transactionId"],
        changed["id"]
    );
    let updated = env.ok("bob", &["auth", "update", "--authorize", &bob]);
    assert_eq!(updated["status"], "confirmed");
    assert_eq!(auth_status(&env, &bob)["authorized"], true);

    devnet.shutdown().unwrap();
}
