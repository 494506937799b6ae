//! Identity through the wallet binary on a real devnet (testkit: node,
//! projector with every read model, API), setup shared with e2e.rs in
//! `common`: three wallets register identities, a taken name is refused;
//! `identity show` reads keys back through the API; a login token opens
//! `viewer`; a rotation retires the old key (the token made with it stops
//! working, and an operation signed with it is refused by the chain); an
//! organization is created, a member invited and accepted, a
//! sub-organization inherits its owner (`isMember` with the proving path);
//! vouches give a trust path; an attribute is committed (its clear value
//! stays in the wallet's identity file) and attested; authorizations are private to
//! their identity's token; a revoked key's token is refused within one
//! block; `search` resolves names.

#![allow(clippy::unwrap_used)] // test: a failed step should fail loudly

mod common;

use std::time::{Duration, Instant};

use common::{graphql, start};
use serde_json::{Value, json};
use testkit::BackgroundDevnet;

fn error_code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("none")
}

const VIEWER: &str = "{ viewer { identity publicKey } }";

/// Waits until the identity read model shows `name` (it may trail the
/// explorer, which the wallet waits for, by a batch).
fn wait_identity(devnet: &BackgroundDevnet, name: &str) -> Value {
    let started = Instant::now();
    loop {
        let body = graphql(
            devnet,
            None,
            "query($n: String!) { identity(name: $n) { id name keys { nodes { publicKey status } } } }",
            json!({ "n": name }),
        );
        if !body["data"]["identity"].is_null() {
            return body["data"]["identity"].clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{name} never appeared: {body}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn identities_organizations_trust_and_login_on_a_devnet() {
    let (devnet, env, genesis_file) = start();
    env.ok(
        "genesis",
        &["recover", "--from-file", genesis_file.to_str().unwrap()],
    );
    let mut addresses = Vec::new();
    for name in ["alice", "bob", "carol", "mallory"] {
        let address = env.ok(name, &["init", "--no-confirm"])["addresses"][0]
            .as_str()
            .unwrap()
            .to_owned();
        addresses.push(format!("{address}=20"));
    }
    let mut send = vec!["send", "20", addresses[0].split('=').next().unwrap()];
    for extra in &addresses[1..] {
        send.extend(["--to", extra.as_str()]);
    }
    env.ok("genesis", &send);

    // Registration; the same name again is refused by the chain.
    let registered = env.ok("alice", &["identity", "register", "Alice"]);
    let alice_id = registered["identity"]["id"].as_str().unwrap().to_owned();
    assert_eq!(registered["identity"]["name"], "alice");
    env.ok("bob", &["identity", "register", "bob"]);
    env.ok("carol", &["identity", "register", "carol"]);
    let (code, message) = env.fail("mallory", &["identity", "register", "alice"], Some("pw"));
    assert_eq!(code, "REJECTED", "{message}");
    assert!(message.to_lowercase().contains("alice"), "{message}");
    let (code, _) = env.fail("mallory", &["identity", "register", "no"], Some("pw"));
    assert_eq!(
        code, "USAGE",
        "a two-letter name is refused before submitting"
    );

    let alice = wait_identity(&devnet, "alice");
    assert_eq!(alice["id"], alice_id.as_str());
    let first_key = alice["keys"]["nodes"][0]["publicKey"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(alice["keys"]["nodes"][0]["status"], "active");
    let shown = env.ok("bob", &["identity", "show", "alice"]);
    assert_eq!(shown["identity"]["id"], alice_id.as_str());
    assert_eq!(
        shown["identity"]["keys"]["nodes"][0]["publicKey"],
        first_key.as_str()
    );

    // Login: the token opens `viewer`; none, garbage or a forged token do not.
    let login = env.ok("alice", &["identity", "login"]);
    let old_token = login["token"].as_str().unwrap().to_owned();
    assert_eq!(login["identity"], "alice");
    let body = graphql(&devnet, Some(&old_token), VIEWER, Value::Null);
    assert_eq!(body["data"]["viewer"]["identity"], "alice", "{body}");
    assert_eq!(body["data"]["viewer"]["publicKey"], first_key.as_str());
    assert_eq!(
        error_code(&graphql(&devnet, None, VIEWER, Value::Null)),
        "UNAUTHENTICATED"
    );
    assert_eq!(
        error_code(&graphql(
            &devnet,
            Some("bst1.garbage.x"),
            VIEWER,
            Value::Null
        )),
        "BAD_TOKEN"
    );
    let mut forged = old_token.clone();
    forged.push('A');
    assert_eq!(
        error_code(&graphql(&devnet, Some(&forged), VIEWER, Value::Null)),
        "BAD_TOKEN"
    );

    // A challenge answered by the wrong key, or altered, is refused.
    let challenge = graphql(
        &devnet,
        None,
        "mutation { loginChallenge(identity: \"alice\") { challenge origin expiresAt } }",
        Value::Null,
    );
    let text = challenge["data"]["loginChallenge"]["challenge"]
        .as_str()
        .unwrap();
    let bad = graphql(
        &devnet,
        None,
        "mutation($c: String!, $k: String!, $s: String!) { login(challenge: $c, publicKey: $k, signature: $s) { token } }",
        json!({ "c": text, "k": first_key, "s": "00".repeat(64) }),
    );
    assert_eq!(error_code(&bad), "BAD_SIGNATURE", "{bad}");
    let unknown = graphql(
        &devnet,
        None,
        "mutation { loginChallenge(identity: \"nobody\") { challenge } }",
        Value::Null,
    );
    assert_eq!(error_code(&unknown), "UNKNOWN_IDENTITY");

    // Rotation: the old key is retired; its token and its signatures stop working.
    let rotated = env.ok("alice", &["identity", "keys", "rotate"]);
    assert_eq!(rotated["oldKey"], first_key.as_str());
    let new_key = rotated["newKey"].as_str().unwrap().to_owned();
    let started = Instant::now();
    loop {
        let body = graphql(&devnet, Some(&old_token), VIEWER, Value::Null);
        if error_code(&body) == "KEY_REVOKED" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "old token still works: {body}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let shown = env.ok("bob", &["identity", "show", "alice"]);
    let keys = shown["identity"]["keys"]["nodes"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0]["status"], "retired");
    assert_eq!(keys[1]["publicKey"], new_key.as_str());
    assert_eq!(keys[1]["status"], "active");
    // The old key acting again (the wallet's file pointed back at it) is refused on chain.
    let identity_file = env.keystore("alice").with_file_name("alice.identity.json");
    let saved = std::fs::read_to_string(&identity_file).unwrap();
    let mut stale: Value = serde_json::from_str(&saved).unwrap();
    stale["identity"]["key_index"] = json!(0);
    std::fs::write(&identity_file, stale.to_string()).unwrap();
    let (code, message) = env.fail("alice", &["identity", "vouch", "bob"], Some("pw"));
    assert_eq!(code, "REJECTED", "{message}");
    std::fs::write(&identity_file, saved).unwrap();
    let login = env.ok("alice", &["identity", "login"]);
    let alice_token = login["token"].as_str().unwrap().to_owned();

    // Organizations: alice creates acme and invites bob, who accepts;
    // acme.sales inherits alice's ownership; mallory (no identity) and
    // carol (not an owner) cannot change it.
    env.ok("alice", &["identity", "org", "create", "acme"]);
    wait_identity(&devnet, "bob");
    env.ok("alice", &["identity", "org", "invite", "acme", "bob"]);
    env.ok("bob", &["identity", "org", "accept", "acme"]);
    env.ok("alice", &["identity", "org", "create", "acme.sales"]);
    let (code, _) = env.fail(
        "carol",
        &["identity", "org", "invite", "acme", "carol"],
        Some("pw"),
    );
    assert_eq!(code, "REJECTED");
    let (code, _) = env.fail(
        "mallory",
        &["identity", "org", "create", "other"],
        Some("pw"),
    );
    assert_eq!(code, "USAGE", "no identity in the wallet");
    let is_member = "query($o: String!, $i: String!) { isMember(organization: $o, identity: $i) {
                        member owner path { organization via } } }";
    let started = Instant::now();
    let owner = loop {
        let body = graphql(
            &devnet,
            None,
            is_member,
            json!({ "o": "acme.sales", "i": "alice" }),
        );
        if body["data"]["isMember"]["owner"] == true {
            break body["data"]["isMember"].clone();
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{body}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        owner["path"],
        json!([{ "organization": "acme", "via": "owner" },
               { "organization": "acme.sales", "via": "inherited" }])
    );
    let bob_in_acme = graphql(&devnet, None, is_member, json!({ "o": "acme", "i": "bob" }));
    assert_eq!(
        bob_in_acme["data"]["isMember"]["member"], true,
        "{bob_in_acme}"
    );
    assert_eq!(bob_in_acme["data"]["isMember"]["owner"], false);
    let bob_in_sales = graphql(
        &devnet,
        None,
        is_member,
        json!({ "o": "acme.sales", "i": "bob" }),
    );
    assert_eq!(
        bob_in_sales["data"]["isMember"]["member"], false,
        "membership is not inherited"
    );
    let tree = graphql(
        &devnet,
        None,
        "{ organization(path: \"ACME\") { path children { nodes { path } } owners { subject { ... on Identity { name } } } } }",
        Value::Null,
    );
    assert_eq!(
        tree["data"]["organization"]["children"]["nodes"][0]["path"],
        "acme.sales"
    );
    assert_eq!(
        tree["data"]["organization"]["owners"][0]["subject"]["name"],
        "alice"
    );

    // Trust: carol vouches for bob, bob for alice.
    env.ok(
        "carol",
        &[
            "identity",
            "vouch",
            "bob",
            "--weight",
            "80",
            "--claim",
            "colleague",
        ],
    );
    env.ok("bob", &["identity", "vouch", "alice", "--weight", "60"]);
    let path = "query($f: String!, $t: String!) { trustPath(from: $f, to: $t) { length weakest identities { name } } }";
    let started = Instant::now();
    loop {
        let body = graphql(&devnet, None, path, json!({ "f": "carol", "t": "alice" }));
        if !body["data"]["trustPath"].is_null() {
            assert_eq!(body["data"]["trustPath"]["length"], 2);
            assert_eq!(body["data"]["trustPath"]["weakest"], 60);
            assert_eq!(
                body["data"]["trustPath"]["identities"],
                json!([{ "name": "carol" }, { "name": "bob" }, { "name": "alice" }])
            );
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{body}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let none = graphql(&devnet, None, path, json!({ "f": "alice", "t": "carol" }));
    assert!(none["data"]["trustPath"].is_null(), "{none}");

    // An attribute: only the commitment goes on chain; bob attests it.
    let secret = "alice.private@example.com";
    let added = env.ok("alice", &["identity", "attr", "email", secret]);
    let commitment = added["commitment"].as_str().unwrap().to_owned();
    env.ok(
        "bob",
        &[
            "identity",
            "attest",
            "alice",
            "email",
            "--commitment",
            &commitment,
        ],
    );
    let shown = env.ok("alice", &["identity", "show"]);
    assert_eq!(
        shown["identity"]["attributes"][0]["commitment"],
        commitment.as_str()
    );
    assert_eq!(
        shown["identity"]["attributes"][0]["attestations"][0]["verifier"]["name"],
        "bob"
    );
    assert_eq!(shown["local"]["attributes"][0]["value"], secret);
    // The clear value stays in the wallet's identity file (mode 0600);
    // the API's view of alice has only the commitment.
    assert!(!shown["identity"].to_string().contains(secret));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&identity_file)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // Authorizations are private to their identity.
    env.ok("alice", &["identity", "grant", "acme", "email"]);
    let grants = "{ identity(name: \"alice\") { authorizations { nodes { scopes organization { path } } } } }";
    assert_eq!(
        error_code(&graphql(&devnet, None, grants, Value::Null)),
        "UNAUTHENTICATED"
    );
    let bob_token = env.ok("bob", &["identity", "login"])["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        error_code(&graphql(&devnet, Some(&bob_token), grants, Value::Null)),
        "FORBIDDEN"
    );
    let started = Instant::now();
    loop {
        let body = graphql(&devnet, Some(&alice_token), grants, Value::Null);
        let nodes = &body["data"]["identity"]["authorizations"]["nodes"];
        if nodes.as_array().is_some_and(|nodes| !nodes.is_empty()) {
            assert_eq!(nodes[0]["scopes"], json!(["email"]));
            assert_eq!(nodes[0]["organization"]["path"], "acme");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{body}");
        std::thread::sleep(Duration::from_millis(100));
    }

    // A revoked key's token is refused within one block: bob adds a key
    // (the wallet acts with it from now on) and revokes the one he logged in with.
    let bob_first = wait_identity(&devnet, "bob")["keys"]["nodes"][0]["publicKey"]
        .as_str()
        .unwrap()
        .to_owned();
    env.ok("bob", &["identity", "keys", "add"]);
    let body = graphql(&devnet, Some(&bob_token), VIEWER, Value::Null);
    assert_eq!(
        body["data"]["viewer"]["identity"], "bob",
        "an added key leaves the token working"
    );
    let revoked = env.ok("bob", &["identity", "keys", "revoke", &bob_first]);
    let revoked_at = revoked["height"].as_u64().unwrap();
    loop {
        let body = graphql(&devnet, Some(&bob_token), VIEWER, Value::Null);
        let tip = devnet.height().unwrap().unwrap();
        if error_code(&body) == "KEY_REVOKED" {
            assert!(
                tip <= revoked_at + 1,
                "the token worked until height {tip}; revoked in block {revoked_at}"
            );
            break;
        }
        assert!(
            tip <= revoked_at + 1,
            "still accepted at height {tip}: {body}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // Search resolves names and paths.
    let found = graphql(
        &devnet,
        None,
        "query($t: String!) { search(term: $t) { __typename ... on Identity { name } ... on Organization { path } } }",
        json!({ "t": "Alice" }),
    );
    assert_eq!(found["data"]["search"]["name"], "alice", "{found}");
    let found = graphql(
        &devnet,
        None,
        "query($t: String!) { search(term: $t) { __typename ... on Organization { path } } }",
        json!({ "t": "acme.sales" }),
    );
    assert_eq!(found["data"]["search"]["path"], "acme.sales", "{found}");

    devnet.shutdown().unwrap();
}
