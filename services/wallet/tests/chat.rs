//! Chat through the wallet binary on a real devnet (testkit: node,
//! projector with every read model, API): alice and bob register
//! identities; alice opens a direct channel with bob; bob follows it live
//! (`chat follow`, the API's `chatMessageUpdates` subscription) while
//! alice sends a message: bob gets it as `pending` within one second of
//! the submission and as `confirmed` after its block, decrypted by his
//! wallet; `chat read` shows it in clear to bob, while the API hands
//! anyone only ciphertext (and nothing without a member's token). In a
//! broadcast channel where bob is a reader, his `chat send` is refused
//! (NOT_A_WRITER); alice's news appears in the timeline.

#![allow(clippy::unwrap_used)] // test: a failed step should fail loudly

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{Env, graphql, start};
use serde_json::{Value, json};

/// Waits until `check` holds for what `wallet` runs (the read models may
/// trail the explorer the wallet waits for by a batch).
fn wait_for(env: &Env, wallet: &str, args: &[&str], check: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let (output, json) = env.run(wallet, args, Some("pw"));
        if output.status.success() && check(&json) {
            return json;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{args:?} never satisfied the check: {json}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn has_channel(channel: &str) -> impl Fn(&Value) -> bool + '_ {
    move |json| {
        json["channels"]
            .as_array()
            .is_some_and(|channels| channels.iter().any(|c| c["id"] == channel))
    }
}

#[test]
fn two_wallets_chat_live_on_a_devnet() {
    let (devnet, env, genesis_file) = start();
    env.ok(
        "genesis",
        &["recover", "--from-file", genesis_file.to_str().unwrap()],
    );
    let mut addresses = Vec::new();
    for name in ["alice", "bob"] {
        let address = env.ok(name, &["init", "--no-confirm"])["addresses"][0]
            .as_str()
            .unwrap()
            .to_owned();
        addresses.push(address);
    }
    let extra = format!("{}=20", addresses[1]);
    env.ok("genesis", &["send", "20", &addresses[0], "--to", &extra]);
    env.ok("alice", &["identity", "register", "alice"]);
    env.ok("bob", &["identity", "register", "bob"]);
    for name in ["alice", "bob"] {
        wait_for(&env, name, &["identity", "show"], |json| {
            json["identity"]["name"] == name
        });
    }

    // A direct channel; bob sees it among his channels.
    let created = env.ok("alice", &["chat", "create", "--kind", "direct", "bob"]);
    let channel = created["channel"].as_str().unwrap().to_owned();
    wait_for(&env, "bob", &["chat", "channels"], has_channel(&channel));

    // Bob follows the channel live.
    let mut follow = env
        .command(
            "bob",
            &["chat", "follow", &channel, "--count", "2"],
            Some("pw"),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (lines, updates) = mpsc::channel();
    let stdout = follow.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = lines.send((Instant::now(), line));
        }
    });
    let (_, first) = updates.recv_timeout(Duration::from_secs(30)).unwrap();
    assert!(first.contains("following"), "{first}");
    // The subscription is set up by the API once it read the request.
    std::thread::sleep(Duration::from_secs(1));

    let secret = "the vault code is 7341";
    let sent = env.ok("alice", &["chat", "send", &channel, secret, "--no-wait"]);
    let submitted = Instant::now();
    let message = sent["message"].as_str().unwrap().to_owned();
    let (pending_at, pending) = updates.recv_timeout(Duration::from_secs(10)).unwrap();
    let pending: Value = serde_json::from_str(&pending).unwrap();
    assert_eq!(pending["status"], "pending", "{pending}");
    assert_eq!(pending["id"], message.as_str());
    assert_eq!(pending["text"], secret, "bob's wallet decrypts it");
    assert_eq!(pending["author"], "alice");
    let pending_delay = pending_at.saturating_duration_since(submitted);
    assert!(
        pending_delay <= Duration::from_secs(1),
        "pending arrived {pending_delay:?} after the submission returned"
    );
    let (confirmed_at, confirmed) = updates.recv_timeout(Duration::from_secs(30)).unwrap();
    let confirmed: Value = serde_json::from_str(&confirmed).unwrap();
    assert_eq!(confirmed["status"], "confirmed", "{confirmed}");
    assert_eq!(confirmed["id"], message.as_str());
    assert_eq!(confirmed["text"], secret);
    let height = confirmed["height"].as_i64().unwrap();
    assert!(height > 0);
    assert!(confirmed_at >= pending_at);
    assert!(
        follow.wait().unwrap().success(),
        "follow stops after two updates"
    );
    eprintln!(
        "pending {pending_delay:?} after the submission returned, confirmed {:?} later at height {height}",
        confirmed_at - pending_at
    );

    // Bob reads it in clear; the API gives a member only ciphertext, and
    // nothing without a token.
    let read = wait_for(&env, "bob", &["chat", "read", &channel], |json| {
        json["messages"].as_array().is_some_and(|m| !m.is_empty())
    });
    assert_eq!(read["messages"][0]["text"], secret);
    assert_eq!(read["messages"][0]["author"], "alice");
    let token = env.ok("bob", &["identity", "login"])["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let query =
        "query($c: String!) { chatMessages(channel: $c) { nodes { text ciphertext bodyKind } } }";
    let body = graphql(&devnet, Some(&token), query, json!({ "c": channel }));
    let node = &body["data"]["chatMessages"]["nodes"][0];
    assert_eq!(node["bodyKind"], "direct", "{body}");
    assert!(node["text"].is_null());
    assert!(!body.to_string().contains(secret));
    assert!(!body.to_string().contains(&hex::encode(secret)));
    let anonymous = graphql(&devnet, None, query, json!({ "c": channel }));
    assert_eq!(
        anonymous["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{anonymous}"
    );

    // A broadcast channel where bob reads only: his post is refused.
    let city = env.ok(
        "alice",
        &[
            "chat",
            "create",
            "--kind",
            "broadcast",
            "city",
            "bob:reader",
        ],
    )["channel"]
        .as_str()
        .unwrap()
        .to_owned();
    wait_for(&env, "bob", &["chat", "channels"], has_channel(&city));
    let (code, message) = env.fail("bob", &["chat", "send", &city, "hello city"], Some("pw"));
    assert_eq!(code, "NOT_A_WRITER", "{message}");
    let members = env.ok("bob", &["chat", "members", &city]);
    assert_eq!(
        members["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (m["name"].as_str().unwrap(), m["role"].as_str().unwrap()))
            .collect::<Vec<_>>()
            .len(),
        2
    );
    env.ok(
        "alice",
        &[
            "chat",
            "news",
            "publish",
            &city,
            "--title",
            "Road works",
            "--body",
            "Main street",
        ],
    );
    let news = wait_for(&env, "bob", &["chat", "news", "list"], |json| {
        json["news"]
            .as_array()
            .is_some_and(|items| !items.is_empty())
    });
    assert_eq!(news["news"][0]["title"], "Road works");
    devnet.shutdown().unwrap();
}
