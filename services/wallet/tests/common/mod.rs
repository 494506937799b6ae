//! What the wallet's end-to-end tests share: a devnet with a wallet
//! environment (a fresh HOME against its API) and helpers that run the
//! binary with `--json`.

#![allow(clippy::unwrap_used)] // test: a failed step should fail loudly
#![allow(dead_code)] // each test file uses some of the helpers

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use ledger::{Address, SecretKey};
use serde_json::{Value, json};
use testkit::{BackgroundDevnet, DevnetOptions};

pub struct Env {
    pub home: tempfile::TempDir,
    pub api: String,
}

impl Env {
    pub fn command(&self, wallet: &str, args: &[&str], password: Option<&str>) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_wallet"));
        command
            .env_clear()
            .env("HOME", self.home.path())
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("WALLET_API", &self.api)
            .env("WALLET_KDF_MEMORY_KIB", "1024")
            .arg("--json")
            .arg("--wallet")
            .arg(wallet)
            .args(args)
            .stdin(Stdio::null());
        if let Some(password) = password {
            command.env("WALLET_PASSWORD", password);
        }
        command
    }

    pub fn run(&self, wallet: &str, args: &[&str], password: Option<&str>) -> (Output, Value) {
        let output = self.command(wallet, args, password).output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let json = serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
            panic!(
                "{args:?}: not JSON: {stdout}\nstderr: {}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
        (output, json)
    }

    /// Runs a command that must succeed (password "pw").
    pub fn ok(&self, wallet: &str, args: &[&str]) -> Value {
        let (output, json) = self.run(wallet, args, Some("pw"));
        assert!(output.status.success(), "{args:?} failed: {json}");
        json
    }

    /// Runs a command that must fail; returns the error code and message.
    pub fn fail(&self, wallet: &str, args: &[&str], password: Option<&str>) -> (String, String) {
        let (output, json) = self.run(wallet, args, password);
        assert!(!output.status.success(), "{args:?} should fail: {json}");
        (
            json["error"]["code"].as_str().unwrap().to_owned(),
            json["error"]["message"].as_str().unwrap().to_owned(),
        )
    }

    /// `recover` with the words on stdin.
    pub fn recover_typed(&self, wallet: &str, words: &str) -> Output {
        use std::io::Write as _;
        let mut recover = self.command(wallet, &["recover"], Some("pw"));
        recover.stdin(Stdio::piped()).stdout(Stdio::piped());
        let mut child = recover.spawn().unwrap();
        writeln!(child.stdin.take().unwrap(), "{words}").unwrap();
        child.wait_with_output().unwrap()
    }

    /// `init` of a new wallet `name`; returns its first address.
    pub fn init(&self, name: &str) -> String {
        self.ok(name, &["init", "--no-confirm"])["addresses"][0]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.home.path().join(name)
    }

    pub fn keystore(&self, name: &str) -> PathBuf {
        self.home
            .path()
            .join(".local/share/blockstake/wallets")
            .join(format!("{name}.json"))
    }

    /// Recovers wallet `name` from a fixed public seed (raw derivation,
    /// like the devnet's keys: [2; 32] mints, [3; 32] authorizes
    /// addresses); returns its address.
    pub fn recover_seed(&self, name: &str, seed: [u8; 32]) -> String {
        let file = self.path(&format!("{name}-key.txt"));
        std::fs::write(
            &file,
            format!(
                "# derivation: raw\n{}\n",
                ledger::derivation::mnemonic_for(&seed)
            ),
        )
        .unwrap();
        self.ok(name, &["recover", "--from-file", file.to_str().unwrap()])["addresses"][0]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub fn coins(&self, wallet: &str) -> Value {
        self.ok(wallet, &["balance"])
    }
}

pub fn spendable(balance: &Value) -> f64 {
    balance["coins"]["spendable"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

pub fn genesis_address() -> String {
    Address::for_public_key(&SecretKey::from_seed(testkit::GENESIS_SEED).public_key())
        .to_text("bsdev")
        .unwrap()
}

pub fn file_bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

/// A devnet with a few blocks, a wallet environment with a fresh HOME
/// against its API, and the genesis wallet file in that HOME.
pub fn start() -> (BackgroundDevnet, Env, PathBuf) {
    start_with(DevnetOptions::default())
}

/// [`start`] on a devnet with `options`.
pub fn start_with(options: DevnetOptions) -> (BackgroundDevnet, Env, PathBuf) {
    let devnet = BackgroundDevnet::start_with(options).unwrap();
    devnet.wait_height(2, Duration::from_secs(30)).unwrap();
    let env = Env {
        home: tempfile::tempdir().unwrap(),
        api: devnet.api_url(),
    };
    let genesis_file = devnet.write_genesis_wallet(env.home.path()).unwrap();
    (devnet, env, genesis_file)
}

/// Posts a query with an optional bearer token; returns the whole body.
pub fn graphql(
    devnet: &BackgroundDevnet,
    token: Option<&str>,
    query: &str,
    variables: Value,
) -> Value {
    let url = devnet.api_url();
    devnet.block_on(async move {
        let mut request = reqwest::Client::new()
            .post(url)
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap().json::<Value>().await.unwrap()
    })
}
