//! The wallet binary against a real devnet (testkit: a node creating
//! blocks with the genesis key, every read model, the GraphQL API): the
//! README's three commands, balances on both sides, history, several
//! outputs with data and a time lock, offline signing through a
//! watch-only copy, a double spend refused twice, staking key export,
//! password change, addresses and identity keys; and the bad inputs of
//! issue 8, each a clear error that changes nothing. One devnet for the
//! whole file (steps in order, as a user would run them).

#![allow(clippy::unwrap_used)] // test: a failed step should fail loudly

mod common;

use std::time::Duration;

use common::{file_bytes, genesis_address, spendable, start};
use ledger::{Address, SecretKey};
use serde_json::Value;
use testkit::BackgroundDevnet;

#[test]
fn wallet_end_to_end_on_a_devnet() {
    let (devnet, env, genesis_file) = start();
    let genesis_file = genesis_file.to_str().unwrap();

    // The README's three commands: recover the genesis wallet, create a
    // wallet, send.
    let recovered = env.ok(
        "genesis",
        &[
            "recover",
            "--derivation",
            "raw",
            "--from-file",
            genesis_file,
        ],
    );
    assert_eq!(recovered["addresses"][0], genesis_address().as_str());
    assert_eq!(recovered["derivation"], "raw");
    let created = env.ok("alice", &["init", "--no-confirm"]);
    let words = created["mnemonic"].as_str().unwrap().to_owned();
    assert_eq!(words.split(' ').count(), 24);
    let alice = created["addresses"][0].as_str().unwrap().to_owned();
    assert!(alice.starts_with("bsdev1"));
    let sent = env.ok("genesis", &["send", "1000", &alice]);
    assert_eq!(sent["status"], "confirmed");
    let first_tx = sent["id"].as_str().unwrap().to_owned();

    // Balances on both sides.
    let balance = env.coins("alice");
    assert_eq!(balance["coins"]["spendable"], "1000");
    assert_eq!(balance["blockstakes"]["total"], "0");
    let genesis = env.coins("genesis");
    assert!(spendable(&genesis) > 99_998_999.0, "{genesis}");
    assert_eq!(genesis["blockstakes"]["total"], "1000");
    assert_ne!(genesis["coins"]["maturing"], "0", "block payouts mature");
    assert_eq!(
        env.ok("alice", &["status", &first_tx])["status"],
        "confirmed"
    );

    // History: alice's receipt.
    let history = env.ok("alice", &["history"]);
    assert_eq!(history["transactions"][0]["id"], first_tx.as_str());
    assert_eq!(history["transactions"][0]["change"], "+1000");

    // Several outputs, data, a time-locked output; bob receives.
    let bob = env.ok("bob", &["init", "--no-confirm"])["addresses"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let locked = format!("{}=1@1000000", genesis_address());
    let sent = env.ok(
        "alice",
        &["send", "12.5", &bob, "--to", &locked, "--data", "lunch"],
    );
    assert_eq!(sent["status"], "confirmed");
    let fee: f64 = sent["fee"].as_str().unwrap().parse().unwrap();
    assert!(fee > 0.0 && fee < 0.1, "fee from size: {fee}");
    assert_eq!(env.coins("bob")["coins"]["spendable"], "12.5");
    let alice_left = spendable(&env.coins("alice"));
    assert!((alice_left - (1000.0 - 12.5 - 1.0 - fee)).abs() < 1e-6);
    assert_eq!(env.coins("genesis")["coins"]["timeLocked"], "1");
    let history = env.ok("bob", &["history"]);
    assert_eq!(history["transactions"][0]["data"], "lunch");
    let paged = env.ok("alice", &["history", "--per-page", "1", "--page", "2"]);
    assert_eq!(paged["transactions"][0]["id"], first_tx.as_str());

    // Insufficient funds: says what is available and needed, sends nothing.
    let (code, message) = env.fail("bob", &["send", "20", &alice], Some("pw"));
    assert_eq!(code, "INSUFFICIENT_FUNDS");
    assert!(message.contains("12.5 available"), "{message}");
    assert!(message.contains("needed including a"), "{message}");

    // Bad inputs: each a clear error, nothing changes.
    let alice_store = env.keystore("alice");
    let before = file_bytes(&alice_store);
    let (code, message) = env.fail("alice", &["send", "1.0000000001", &bob], Some("pw"));
    assert_eq!(code, "BAD_AMOUNT");
    assert!(message.contains("decimals"), "{message}");
    let other_network = Address::for_public_key(&SecretKey::from_seed([5; 32]).public_key())
        .to_text("bstest")
        .unwrap();
    let (code, message) = env.fail("alice", &["send", "1", &other_network], Some("pw"));
    assert_eq!(code, "BAD_ADDRESS");
    assert!(
        message.contains("bstest") && message.contains("bsdev"),
        "{message}"
    );
    let (code, _) = env.fail("alice", &["send", "1", &bob], Some("wrong"));
    assert_eq!(code, "WRONG_PASSWORD");
    let (code, _) = env.fail("alice", &["address", "new"], Some("wrong"));
    assert_eq!(code, "WRONG_PASSWORD");
    assert_eq!(file_bytes(&alice_store), before, "keystore unchanged");
    assert!((spendable(&env.coins("alice")) - alice_left).abs() < 1e-9);
    let (code, message) = env.fail("alice", &["--network", "mainnet", "balance"], None);
    assert_eq!(code, "WRONG_NETWORK");
    assert!(message.contains("mainnet"), "{message}");

    // Corrupted keystore: a copy with one ciphertext digit changed, and
    // one cut short.
    let text = String::from_utf8(before.clone()).unwrap();
    let mut json: Value = serde_json::from_str(&text).unwrap();
    let ciphertext = json["secret"]["ciphertext"].as_str().unwrap().to_owned();
    let flipped = format!(
        "{}{}",
        if ciphertext.starts_with('a') {
            "b"
        } else {
            "a"
        },
        &ciphertext[1..]
    );
    json["secret"]["ciphertext"] = flipped.into();
    let damaged = env.path("damaged.json");
    std::fs::write(&damaged, json.to_string()).unwrap();
    let damaged = damaged.to_str().unwrap();
    let (code, _) = env.fail(damaged, &["send", "1", &bob], Some("pw"));
    assert_eq!(code, "WRONG_PASSWORD", "tampering fails authentication");
    let truncated = env.path("truncated.json");
    std::fs::write(&truncated, &text[..text.len() / 2]).unwrap();
    let (code, message) = env.fail(truncated.to_str().unwrap(), &["balance"], None);
    assert_eq!(code, "CORRUPT_KEYSTORE");
    assert!(message.contains("recover"), "{message}");

    // A mnemonic with a wrong checksum word: refused, no wallet written.
    let mut list: Vec<&str> = words.split(' ').collect();
    let last = list[23];
    list[23] = if last == "zoo" { "abandon" } else { "zoo" };
    let output = env.recover_typed("carol", &list.join(" "));
    assert!(!output.status.success());
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["error"]["code"], "BAD_MNEMONIC");
    assert!(
        json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("checksum")
    );
    assert!(!env.keystore("carol").exists());
    // The right words recover alice's address.
    let output = env.recover_typed("alice2", &words);
    assert!(output.status.success());
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["addresses"][0], alice.as_str());
    let (code, _) = env.fail("alice", &["init", "--no-confirm"], Some("pw"));
    assert_eq!(code, "WALLET_EXISTS");
    let (code, message) = env.fail("dave", &["init"], Some("pw"));
    assert_eq!(code, "USAGE", "confirmation needs a terminal: {message}");
    assert!(!env.keystore("dave").exists());

    // Offline signing: build on a watch-only copy (no password), sign with
    // the keystore, submit from anywhere.
    let watch = env.path("alice-watch.json");
    let watch = watch.to_str().unwrap();
    env.ok("alice", &["export-watch-only", "--out", watch]);
    let unsigned = env.path("unsigned.json");
    let unsigned = unsigned.to_str().unwrap();
    let (output, built) = env.run(watch, &["send", "10", &bob, "--unsigned", unsigned], None);
    assert!(output.status.success(), "{built}");
    let (code, _) = env.fail(watch, &["sign", unsigned], Some("pw"));
    assert_eq!(code, "WATCH_ONLY");
    let (code, _) = env.fail("alice", &["submit", unsigned], None);
    assert_eq!(code, "BAD_TRANSACTION_FILE");
    let signed = env.path("signed.json");
    let signed = signed.to_str().unwrap();
    let result = env.ok("alice", &["sign", unsigned, "--out", signed]);
    assert_eq!(result["id"], built["id"]);
    let submitted = env.ok("bob", &["submit", signed]);
    assert_eq!(submitted["status"], "confirmed");
    assert_eq!(env.coins("bob")["coins"]["spendable"], "22.5");

    // A double spend: two transactions built from the same outputs; the
    // second is refused, twice, and only the first pays.
    let first = env.path("first.json");
    let second = env.path("second.json");
    let (first, second) = (first.to_str().unwrap(), second.to_str().unwrap());
    env.ok(watch, &["send", "1", &bob, "--unsigned", first]);
    env.ok(watch, &["send", "2", &bob, "--unsigned", second]);
    env.ok("alice", &["sign", first]);
    env.ok("alice", &["sign", second]);
    let accepted = env.ok("alice", &["submit", first, "--no-wait"]);
    for _ in 0..2 {
        let (code, message) = env.fail("alice", &["submit", second], None);
        assert_eq!(code, "REJECTED", "{message}");
        assert!(message.contains("double spend"), "{message}");
    }
    let status = env.ok("alice", &["status", accepted["id"].as_str().unwrap()]);
    assert!(status["status"] == "pending" || status["status"] == "confirmed");
    let send_wait = env.ok("bob", &["submit", first]);
    let _ = send_wait;
    assert_eq!(env.coins("bob")["coins"]["spendable"], "23.5");

    // Multisig 2 of 2 (alice, bob): fund it, build a spend, each signs a
    // copy, merge, submit.
    let key_of = |wallet: &str| {
        env.ok(wallet, &["address", "keys"])["publicKeys"][0]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let spec = format!("2:{},{}", key_of("alice"), key_of("bob"));
    let multisig = env.ok("bob", &["multisig", "address", &spec])["address"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        env.ok("alice", &["multisig", "address", &spec])["address"],
        multisig.as_str()
    );
    let funded = env.ok("genesis", &["send", "30", "--multisig", &spec]);
    assert_eq!(funded["status"], "confirmed");
    let multisig_balance = |devnet: &BackgroundDevnet| {
        devnet
            .query(
                "query($a: String!) { address(address: $a) { balance { spendable } } }",
                serde_json::json!({ "a": multisig }),
            )
            .unwrap()["address"]["balance"]["spendable"]
            .as_str()
            .unwrap()
            .parse::<f64>()
            .unwrap()
    };
    assert_eq!(multisig_balance(&devnet), 30.0);
    let part_a = env.path("multisig-a.json");
    let part_b = env.path("multisig-b.json");
    let full = env.path("multisig.json");
    let (part_a, part_b, full) = (
        part_a.to_str().unwrap(),
        part_b.to_str().unwrap(),
        full.to_str().unwrap(),
    );
    let genesis = genesis_address();
    env.ok(
        "bob",
        &[
            "multisig",
            "spend",
            &spec,
            "5",
            &genesis,
            "--unsigned",
            part_a,
        ],
    );
    std::fs::copy(part_a, part_b).unwrap();
    let (code, _) = env.fail("carol-less", &["sign", part_a], Some("pw"));
    assert_eq!(code, "NO_WALLET");
    env.ok("alice", &["sign", part_a]);
    let (code, message) = env.fail("alice", &["submit", part_a], None);
    assert_eq!(code, "BAD_TRANSACTION_FILE", "{message}");
    env.ok("bob", &["sign", part_b]);
    let merged = env.ok(
        "alice",
        &["multisig", "merge", part_a, part_b, "--out", full],
    );
    assert_eq!(merged["complete"], true);
    let spent = env.ok("bob", &["submit", full]);
    assert_eq!(spent["status"], "confirmed");
    let fee: f64 = spent["fee"].as_str().unwrap().parse().unwrap();
    assert!((multisig_balance(&devnet) - (25.0 - fee)).abs() < 1e-9);
    let (code, _) = env.fail("alice", &["multisig", "address", "3:ab,cd"], None);
    assert_eq!(code, "USAGE");

    // Atomic swap: alice initiates for bob, bob audits and participates
    // for alice with her hash, alice redeems (revealing the secret), bob
    // extracts it and redeems; a short contract is refunded after its lock.
    let initiated = env.ok(
        "alice",
        &["swap", "initiate", "7", &bob, "--seconds", "600"],
    );
    assert_eq!(initiated["status"], "confirmed");
    let alice_contract = initiated["output"].as_str().unwrap().to_owned();
    let hashed = initiated["hashedSecret"].as_str().unwrap().to_owned();
    let audit = env.ok("bob", &["swap", "audit", &alice_contract]);
    assert_eq!(audit["value"], "7");
    assert_eq!(audit["receiver"], bob.as_str());
    assert_eq!(audit["sender"], alice.as_str());
    assert_eq!(audit["hashedSecret"], hashed.as_str());
    assert_eq!(audit["spent"], false);
    let participated = env.ok(
        "bob",
        &[
            "swap",
            "participate",
            "3",
            &alice,
            "--hashed-secret",
            &hashed,
            "--seconds",
            "300",
        ],
    );
    let bob_contract = participated["output"].as_str().unwrap().to_owned();
    let wrong = "11".repeat(32);
    let (code, message) = env.fail(
        "alice",
        &["swap", "redeem", &bob_contract, "--secret", &wrong],
        Some("pw"),
    );
    assert_eq!(code, "USAGE", "{message}");
    let (code, _) = env.fail("bob", &["swap", "refund", &bob_contract], Some("pw"));
    assert_eq!(code, "USAGE", "too early");
    let secret = initiated["secret"].as_str().unwrap().to_owned();
    let redeemed = env.ok(
        "alice",
        &["swap", "redeem", &bob_contract, "--secret", &secret],
    );
    assert_eq!(redeemed["status"], "confirmed");
    let extracted = env.ok("bob", &["swap", "extract-secret", &bob_contract]);
    assert_eq!(extracted["secret"], secret.as_str());
    let bob_before = spendable(&env.coins("bob"));
    let redeemed = env.ok(
        "bob",
        &["swap", "redeem", &alice_contract, "--secret", &secret],
    );
    let fee: f64 = redeemed["fee"].as_str().unwrap().parse().unwrap();
    assert!((spendable(&env.coins("bob")) - (bob_before + 7.0 - fee)).abs() < 1e-9);
    assert_eq!(
        env.ok("bob", &["swap", "audit", &alice_contract])["spent"],
        true
    );
    let short = env.ok("alice", &["swap", "initiate", "2", &bob, "--seconds", "1"]);
    let lock = short["timelock"].as_u64().unwrap();
    let short = short["output"].as_str().unwrap().to_owned();
    // A refund needs a tip later than the lock (block times may trail the clock).
    let started = std::time::Instant::now();
    loop {
        let tip = devnet
            .query("{ chain { tip { timestamp } } }", serde_json::json!({}))
            .unwrap()["chain"]["tip"]["timestamp"]
            .as_u64()
            .unwrap();
        if tip > lock {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "tip stays at {tip}"
        );
        let next = devnet.height().unwrap().unwrap() + 1;
        devnet.wait_height(next, Duration::from_secs(30)).unwrap();
    }
    let refunded = env.ok("alice", &["swap", "refund", &short]);
    assert_eq!(refunded["status"], "confirmed");
    let (code, _) = env.fail("bob", &["swap", "extract-secret", &short], None);
    assert_eq!(code, "USAGE", "a refund reveals no secret");

    // Minting: the holder of the devnet mint key (public seed [2; 32])
    // creates coins for bob, paying the fee from its own coins.
    let minter = env.recover_seed("minter", [2; 32]);
    env.ok("genesis", &["send", "1", &minter]);
    let bob_before = spendable(&env.coins("bob"));
    let minted = env.ok("minter", &["mint", "create", "100", &bob]);
    assert_eq!(minted["status"], "confirmed");
    assert_eq!(minted["minted"], "100");
    assert!((spendable(&env.coins("bob")) - (bob_before + 100.0)).abs() < 1e-9);
    let (code, message) = env.fail("alice", &["mint", "create", "1", &bob], Some("pw"));
    assert_eq!(code, "NOT_AUTHORITY");
    assert!(message.contains("mint key"), "{message}");

    // Notary: register a file's hash, verify it; another file is unknown.
    let document = env.path("contract.txt");
    std::fs::write(&document, "we agree").unwrap();
    let document = document.to_str().unwrap();
    let registered = env.ok("alice", &["notary", "register", document]);
    assert_eq!(registered["status"], "confirmed");
    let verified = env.ok("bob", &["notary", "verify", document]);
    assert_eq!(verified["recorded"], true);
    assert_eq!(verified["transactionId"], registered["id"]);
    assert_eq!(verified["documentHash"], registered["documentHash"]);
    let other = env.path("other.txt");
    std::fs::write(&other, "we disagree").unwrap();
    let (code, _) = env.fail("bob", &["notary", "verify", other.to_str().unwrap()], None);
    assert_eq!(code, "NOT_RECORDED");

    // Addresses: next unused derives index 1; identity keys apart.
    let next = env.ok("alice", &["address", "next"]);
    assert_eq!(next["index"], 1);
    assert_eq!(next["derived"], true);
    let list = env.ok("alice", &["address", "list"]);
    assert_eq!(list["addresses"].as_array().unwrap().len(), 2);
    assert_eq!(list["addresses"][0], alice.as_str());
    assert_eq!(env.ok("alice", &["address", "next"])["index"], 1);
    let identity = env.ok("alice", &["address", "identity", "--derive", "1"]);
    assert_eq!(identity["identityKeys"].as_array().unwrap().len(), 2);

    // Staking key export in the node's key file format.
    let keys = env.path("staking.keys");
    env.ok(
        "alice",
        &[
            "export-staking-key",
            "--out",
            keys.to_str().unwrap(),
            "--count",
            "1",
        ],
    );
    let seed_line = std::fs::read_to_string(&keys)
        .unwrap()
        .lines()
        .find(|line| !line.starts_with('#'))
        .unwrap()
        .to_owned();
    let seed: [u8; 32] = hex::decode(seed_line).unwrap().try_into().unwrap();
    assert_eq!(
        Address::for_public_key(&SecretKey::from_seed(seed).public_key())
            .to_text("bsdev")
            .unwrap(),
        alice
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&keys).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    // Password change: the old one stops working, the new one works.
    let mut change = env.command("alice", &["change-password"], Some("pw"));
    change.env("WALLET_NEW_PASSWORD", "pw2");
    assert!(change.output().unwrap().status.success());
    let (code, _) = env.fail("alice", &["address", "new"], Some("pw"));
    assert_eq!(code, "WRONG_PASSWORD");
    let (output, json) = env.run("alice", &["address", "new"], Some("pw2"));
    assert!(output.status.success(), "{json}");
    assert_eq!(json["index"], 2);

    // Completions.
    for shell in ["bash", "zsh", "fish"] {
        let json = env.ok("alice", &["completions", shell]);
        assert!(
            json["script"]
                .as_str()
                .unwrap()
                .contains("export-staking-key")
        );
    }

    devnet.shutdown().unwrap();
}

/// Blockstakes from the staking wallet, on the shipped devnet. The genesis
/// wallet is also the node's staker; its blockstakes are two outputs
/// (networks/devnet.toml), so the send spends one and the node's block
/// creator stakes with the other (a block respending the output the send
/// spends could not carry the send). The devnet keeps creating blocks
/// afterwards.
#[test]
fn blockstakes_from_the_staking_wallet() {
    let (devnet, env, genesis_file) = start();
    env.ok(
        "genesis",
        &["recover", "--from-file", genesis_file.to_str().unwrap()],
    );
    let alice = env.ok("alice", &["init", "--no-confirm"])["addresses"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let bob = env.ok("bob", &["init", "--no-confirm"])["addresses"][0]
        .as_str()
        .unwrap()
        .to_owned();
    env.ok("genesis", &["send", "5", &alice]);
    // Blockstakes: the genesis wallet (the staker) sends 10 to alice; the
    // fee is paid in coins.
    let sent = env.ok(
        "genesis",
        &[
            "send",
            "--blockstakes",
            "10",
            &alice,
            "--wait-timeout",
            "30",
        ],
    );
    assert_eq!(sent["status"], "confirmed");
    let balance = env.coins("alice");
    assert_eq!(balance["blockstakes"]["total"], "10");
    assert_eq!(env.coins("genesis")["blockstakes"]["total"], "990");
    let (code, message) = env.fail("alice", &["send", "--blockstakes", "11", &bob], Some("pw"));
    assert_eq!(code, "INSUFFICIENT_BLOCKSTAKES", "{message}");
    let (code, _) = env.fail("alice", &["send", "--blockstakes", "1.5", &bob], Some("pw"));
    assert_eq!(code, "BAD_AMOUNT");
    let before = devnet.height().unwrap().unwrap();
    devnet
        .wait_height(before + 2, Duration::from_secs(30))
        .unwrap();

    devnet.shutdown().unwrap();
}
