//! One function per command; each returns a [`Report`]: JSON for
//! `--json`, text for people. Progress goes to stderr.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::Path;
use std::time::{Duration, Instant};

use clap::CommandFactory as _;
use ledger::derivation::{self, Derivation};
use ledger::fulfillment::InputKind;
use ledger::{Address, Currency, codec};
use rand_core::{OsRng, RngCore};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::build::{self, Recipient, Request};
use crate::cli::{
    AddressCommand, Cli, Command, Global, MultisigCommand, NotaryCommand, SendArgs, WaitArgs,
};
use crate::client::{Client, NetworkInfo, text};
use crate::config::{self, Resolved};
use crate::error::WalletError;
use crate::funds::{self, Asset};
use crate::keystore::{KdfCost, Keystore, Unlocked, write_private_atomic};
use crate::txfile::TransactionFile;

/// What a command prints.
pub struct Report {
    pub json: Value,
    pub human: String,
}

/// Runs the command line.
pub async fn run(cli: Cli) -> Result<Report, WalletError> {
    let file = config::load_file(cli.global.config.as_deref())?;
    let settings = config::resolve(
        cli.global.api.clone(),
        cli.global.network.clone(),
        cli.global.wallet.clone(),
        cli.global.wallet_dir.clone(),
        file,
    )?;
    let context = Context {
        global: cli.global,
        settings,
    };
    match cli.command {
        Command::Init { no_confirm, keys } => context.init(no_confirm, keys),
        Command::Recover {
            from_file,
            derivation,
            keys,
        } => context.recover(from_file.as_deref(), derivation.as_deref(), keys),
        Command::ChangePassword { new_password_file } => {
            context.change_password(new_password_file.as_deref())
        }
        Command::Info => context.info(),
        Command::Address(command) => context.address(command).await,
        Command::Balance => context.balance().await,
        Command::History { page, per_page } => context.history(page, per_page).await,
        Command::Send(args) => context.send(args).await,
        Command::Sign { file, out } => context.sign(&file, out.as_deref()),
        Command::Submit { file, wait } => context.submit_file(&file, &wait).await,
        Command::Status { id } => context.status(&id).await,
        Command::ExportWatchOnly { out } => context.export_watch_only(&out),
        Command::ExportStakingKey { out, count } => context.export_staking_key(&out, count),
        Command::Multisig(command) => context.multisig(command).await,
        Command::Swap(command) => context.swap(command).await,
        Command::Mint(command) => context.mint(command).await,
        Command::Auth(command) => context.auth(command).await,
        Command::Notary(NotaryCommand::Register {
            file,
            unsigned,
            wait,
        }) => {
            context
                .notary_register(&file, unsigned.as_deref(), &wait)
                .await
        }
        Command::Notary(NotaryCommand::Verify { file }) => context.notary_verify(&file).await,
        Command::Identity(command) => context.identity(command).await,
        Command::Chat(command) => context.chat(command).await,
        Command::Blueprint(command) => context.blueprint(command).await,
        Command::Compute(command) => context.compute(command).await,
        Command::Stor(command) => context.stor(command).await,
        Command::Completions { shell } => {
            let mut buffer = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "wallet", &mut buffer);
            let script = String::from_utf8_lossy(&buffer).into_owned();
            Ok(Report {
                json: json!({ "shell": shell.to_string(), "script": script }),
                human: script,
            })
        }
    }
}

pub(crate) struct Context {
    global: Global,
    settings: Resolved,
}

fn progress(message: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "{message}");
}

fn read_secret_file(path: &Path) -> Result<Zeroizing<String>, WalletError> {
    let text = std::fs::read_to_string(path).map_err(|source| WalletError::Io {
        what: format!("reading password file {}", path.display()),
        source,
    })?;
    Ok(Zeroizing::new(
        text.trim_end_matches(['\n', '\r']).to_owned(),
    ))
}

impl Context {
    /// Whether `--json` was given (for commands that print as they go).
    pub(crate) fn json_output(&self) -> bool {
        self.global.json
    }

    /// The keystore file this command works on.
    pub(crate) fn wallet_path(&self) -> &Path {
        &self.settings.wallet_path
    }

    pub(crate) fn keystore(&self) -> Result<Keystore, WalletError> {
        Keystore::load(&self.settings.wallet_path)
    }

    pub(crate) fn client(&self) -> Result<Client, WalletError> {
        Client::new(&self.settings.api)
    }

    pub(crate) async fn network(&self, client: &Client) -> Result<NetworkInfo, WalletError> {
        client.network(self.settings.network.as_deref()).await
    }

    /// The password of an existing keystore.
    pub(crate) fn password(&self) -> Result<Zeroizing<String>, WalletError> {
        if let Some(path) = &self.global.password_file {
            return read_secret_file(path);
        }
        if let Ok(password) = std::env::var("WALLET_PASSWORD") {
            return Ok(Zeroizing::new(password));
        }
        if std::io::stdin().is_terminal() {
            return rpassword::prompt_password(format!(
                "password for {}: ",
                self.settings.wallet_path.display()
            ))
            .map(Zeroizing::new)
            .map_err(|source| WalletError::Io {
                what: "reading the password".into(),
                source,
            });
        }
        Err(WalletError::NoPassword)
    }

    /// A new password: from a file or variable, or typed twice.
    fn new_password(
        &self,
        file: Option<&Path>,
        variable: &str,
    ) -> Result<Zeroizing<String>, WalletError> {
        let password = if let Some(path) = file {
            read_secret_file(path)?
        } else if let Ok(password) = std::env::var(variable) {
            Zeroizing::new(password)
        } else if std::io::stdin().is_terminal() {
            let io = |source| WalletError::Io {
                what: "reading the password".into(),
                source,
            };
            let first = Zeroizing::new(rpassword::prompt_password("new password: ").map_err(io)?);
            let second =
                Zeroizing::new(rpassword::prompt_password("repeat the password: ").map_err(io)?);
            if first != second {
                return Err(WalletError::Usage(
                    "the two passwords differ; nothing was changed".into(),
                ));
            }
            first
        } else {
            return Err(WalletError::NoPassword);
        };
        if password.is_empty() {
            return Err(WalletError::Usage(
                "the password is empty; choose one (it encrypts the keystore)".into(),
            ));
        }
        Ok(password)
    }

    fn refuse_existing(&self) -> Result<(), WalletError> {
        if self.settings.wallet_path.exists() {
            return Err(WalletError::WalletExists {
                path: self.settings.wallet_path.clone(),
            });
        }
        Ok(())
    }

    fn created(&self, keystore: &Keystore, verb: &str, mnemonic: Option<&str>) -> Report {
        let addresses: Vec<String> = keystore
            .addresses()
            .iter()
            .map(|address| {
                address
                    .to_text(&prefix_hint(&self.settings))
                    .unwrap_or_default()
            })
            .collect();
        let mut human = String::new();
        if let Some(words) = mnemonic {
            human.push_str(&format!(
                "Your mnemonic (write it down; it is shown only once and is the only way to recover the wallet):\n\n  {words}\n\n"
            ));
        }
        human.push_str(&format!(
            "{verb} wallet {} ({} derivation)\naddress: {}",
            keystore.path.display(),
            keystore.derivation.name(),
            addresses.first().cloned().unwrap_or_default()
        ));
        Report {
            json: json!({
                "wallet": keystore.path.display().to_string(),
                "derivation": keystore.derivation.name(),
                "addresses": addresses,
                "mnemonic": mnemonic,
            }),
            human,
        }
    }

    /// Writes a new keystore for `unlocked` with `keys` spending keys.
    fn write_new(
        &self,
        unlocked: &Unlocked,
        password: &str,
        keys: u64,
    ) -> Result<Keystore, WalletError> {
        let keystore = Keystore::create(
            &self.settings.wallet_path,
            unlocked,
            password,
            kdf_cost(),
            keys,
        )?;
        keystore.save()?;
        Ok(keystore)
    }

    fn init(&self, no_confirm: bool, keys: u64) -> Result<Report, WalletError> {
        self.refuse_existing()?;
        if !no_confirm && !std::io::stdin().is_terminal() {
            return Err(WalletError::Usage(
                "confirming the mnemonic needs a terminal; pass --no-confirm in scripts".into(),
            ));
        }
        let password =
            self.new_password(self.global.password_file.as_deref(), "WALLET_PASSWORD")?;
        let mut entropy = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(entropy.as_mut());
        let unlocked = Unlocked::new(*entropy, Derivation::V1);
        let mnemonic = unlocked.mnemonic();
        if !no_confirm {
            let mut stderr = std::io::stderr().lock();
            let _ = writeln!(
                stderr,
                "Your mnemonic (write it down; it is the only way to recover the wallet):\n\n  {}\n",
                mnemonic.as_str()
            );
            drop(stderr);
            confirm_mnemonic(&mnemonic)?;
        }
        let keystore = self.write_new(&unlocked, &password, keys)?;
        // The words were shown already when confirming.
        let shown = if no_confirm {
            Some(mnemonic.as_str())
        } else {
            None
        };
        Ok(self.created(&keystore, "created", shown))
    }

    fn recover(
        &self,
        from_file: Option<&Path>,
        derivation: Option<&str>,
        keys: u64,
    ) -> Result<Report, WalletError> {
        self.refuse_existing()?;
        let chosen = derivation
            .map(|name| {
                Derivation::from_name(name).ok_or_else(|| {
                    WalletError::Usage(format!("derivation {name:?}: use v1 or raw"))
                })
            })
            .transpose()?;
        let (entropy, from_text) = match from_file {
            Some(path) => {
                let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|source| {
                    WalletError::Io {
                        what: format!("reading {}", path.display()),
                        source,
                    }
                })?);
                derivation::parse_mnemonic_file(&text).map_err(|error| match error {
                    derivation::MnemonicFileError::Mnemonic(error) => WalletError::Mnemonic(error),
                    other => WalletError::Usage(format!("{}: {other}", path.display())),
                })?
            }
            None => {
                let mut line = Zeroizing::new(String::new());
                if std::io::stdin().is_terminal() {
                    line = Zeroizing::new(
                        rpassword::prompt_password("mnemonic (24 words): ").map_err(|source| {
                            WalletError::Io {
                                what: "reading the mnemonic".into(),
                                source,
                            }
                        })?,
                    );
                } else {
                    std::io::stdin()
                        .lock()
                        .read_line(&mut line)
                        .map_err(|source| WalletError::Io {
                            what: "reading the mnemonic from stdin".into(),
                            source,
                        })?;
                }
                (derivation::entropy_from_mnemonic(&line)?, Derivation::V1)
            }
        };
        let derivation = chosen.unwrap_or(from_text);
        let password =
            self.new_password(self.global.password_file.as_deref(), "WALLET_PASSWORD")?;
        let unlocked = Unlocked::new(entropy, derivation);
        let keystore = self.write_new(&unlocked, &password, keys)?;
        Ok(self.created(&keystore, "recovered", None))
    }

    fn change_password(&self, new_file: Option<&Path>) -> Result<Report, WalletError> {
        let mut keystore = self.keystore()?;
        let unlocked = keystore.unlock(&self.password()?)?;
        let password = self.new_password(new_file, "WALLET_NEW_PASSWORD")?;
        keystore.rekey(&unlocked, &password, kdf_cost())?;
        keystore.save()?;
        Ok(Report {
            json: json!({ "wallet": keystore.path.display().to_string(), "changed": true }),
            human: format!("password of {} changed", keystore.path.display()),
        })
    }

    fn info(&self) -> Result<Report, WalletError> {
        let keystore = self.keystore()?;
        Ok(Report {
            json: json!({
                "wallet": keystore.path.display().to_string(),
                "derivation": keystore.derivation.name(),
                "spendingKeys": keystore.spending_keys.len(),
                "identityKeys": keystore.identity_keys.len(),
                "watchOnly": keystore.is_watch_only(),
                "api": self.settings.api,
                "network": self.settings.network,
            }),
            human: format!(
                "wallet: {}\nderivation: {}\nspending keys: {}\nidentity keys: {}\nwatch-only: {}\napi: {}",
                keystore.path.display(),
                keystore.derivation.name(),
                keystore.spending_keys.len(),
                keystore.identity_keys.len(),
                keystore.is_watch_only(),
                self.settings.api
            ),
        })
    }

    async fn address(&self, command: AddressCommand) -> Result<Report, WalletError> {
        let mut keystore = self.keystore()?;
        match command {
            AddressCommand::List => {
                let client = self.client()?;
                let network = self.network(&client).await?;
                let list = address_texts(&keystore, &network)?;
                Ok(Report {
                    json: json!({ "addresses": list }),
                    human: list.join("\n"),
                })
            }
            AddressCommand::Keys => {
                let keys: Vec<String> = keystore
                    .spending_keys
                    .iter()
                    .map(|key| hex::encode(key.0))
                    .collect();
                Ok(Report {
                    json: json!({ "publicKeys": keys }),
                    human: keys.join("\n"),
                })
            }
            AddressCommand::New => {
                let client = self.client()?;
                let network = self.network(&client).await?;
                let address = self.derive_next(&mut keystore)?;
                let text = to_text(&address, &network)?;
                Ok(Report {
                    json: json!({ "address": text, "index": keystore.spending_keys.len() - 1 }),
                    human: text,
                })
            }
            AddressCommand::Next => {
                let client = self.client()?;
                let network = self.network(&client).await?;
                for (index, address) in keystore.addresses().iter().enumerate() {
                    let text = to_text(address, &network)?;
                    let data = client
                        .query(
                            "query($a: String!) { address(address: $a) { address } }",
                            json!({ "a": text }),
                        )
                        .await?;
                    if data["address"].is_null() {
                        return Ok(Report {
                            json: json!({ "address": text, "index": index, "derived": false }),
                            human: text,
                        });
                    }
                }
                let address = self.derive_next(&mut keystore)?;
                let text = to_text(&address, &network)?;
                Ok(Report {
                    json: json!({ "address": text, "index": keystore.spending_keys.len() - 1, "derived": true }),
                    human: text,
                })
            }
            AddressCommand::Identity { derive } => {
                if let Some(up_to) = derive {
                    let unlocked = keystore.unlock(&self.password()?)?;
                    let wanted = usize::try_from(up_to.saturating_add(1)).unwrap_or(usize::MAX);
                    while keystore.identity_keys.len() < wanted {
                        let index = keystore.identity_keys.len() as u64;
                        keystore
                            .identity_keys
                            .push(unlocked.identity_key(index)?.public_key());
                    }
                    keystore.save()?;
                }
                let keys: Vec<String> = keystore
                    .identity_keys
                    .iter()
                    .map(|key| key.to_string())
                    .collect();
                Ok(Report {
                    json: json!({ "identityKeys": keys }),
                    human: if keys.is_empty() {
                        "no identity keys yet: derive with `wallet address identity --derive 0`"
                            .into()
                    } else {
                        keys.join("\n")
                    },
                })
            }
        }
    }

    fn derive_next(&self, keystore: &mut Keystore) -> Result<Address, WalletError> {
        let unlocked = keystore.unlock(&self.password()?)?;
        let index = keystore.spending_keys.len() as u64;
        if index >= unlocked.max_spending_keys() {
            return Err(WalletError::Usage(
                "a raw-derivation wallet (the devnet genesis wallet) has exactly one address"
                    .into(),
            ));
        }
        let key = unlocked.spending_key(index).public_key();
        keystore.spending_keys.push(key);
        keystore.save()?;
        Ok(Address::for_public_key(&key))
    }

    async fn balance(&self) -> Result<Report, WalletError> {
        let keystore = self.keystore()?;
        let client = self.client()?;
        let network = self.network(&client).await?;
        let funds = funds::load(&client, &network, &keystore).await?;
        let coins = funds.totals(Asset::Coin);
        let stakes = funds.totals(Asset::BlockStake);
        let show = |value: u128| network.coins(Currency(value));
        let blockstakes =
            stakes.spendable + stakes.maturing + stakes.time_locked + stakes.pending_spent;
        let json = json!({
            "network": network.name,
            "height": network.height,
            "coins": {
                "spendable": show(coins.spendable),
                "pendingIncoming": show(funds.pending_in.0),
                "pendingOutgoing": show(funds.pending_out.0),
                "maturing": show(coins.maturing),
                "timeLocked": show(coins.time_locked),
                "total": show(coins.spendable + coins.maturing + coins.time_locked + coins.pending_spent),
            },
            "blockstakes": {
                "total": blockstakes.to_string(),
                "spendable": stakes.spendable.to_string(),
                "timeLocked": stakes.time_locked.to_string(),
                "pendingIncoming": funds.pending_in.1.to_string(),
                "pendingOutgoing": funds.pending_out.1.to_string(),
            },
            "pendingTransactions": funds.pending_transactions,
        });
        let human = format!(
            "coins at height {}:\n  spendable        {}\n  pending in       {}\n  pending out      {}\n  maturing payouts {}\n  time-locked      {}\nblockstakes        {} ({} spendable, {} time-locked)",
            network.height,
            show(coins.spendable),
            show(funds.pending_in.0),
            show(funds.pending_out.0),
            show(coins.maturing),
            show(coins.time_locked),
            blockstakes,
            stakes.spendable,
            stakes.time_locked
        );
        Ok(Report { json, human })
    }

    async fn history(&self, page: usize, per_page: usize) -> Result<Report, WalletError> {
        if page == 0 || per_page == 0 || per_page > 100 {
            return Err(WalletError::Usage(
                "--page starts at 1 and --per-page is 1 to 100".into(),
            ));
        }
        let keystore = self.keystore()?;
        let client = self.client()?;
        let network = self.network(&client).await?;
        let ours = address_texts(&keystore, &network)?;
        let wanted = page.saturating_mul(per_page);
        // Newest first per address; merged, the first `wanted` of the
        // union are within the first `wanted` of each address.
        let mut seen = std::collections::BTreeMap::new();
        let mut total_hint = 0u64;
        for address in &ours {
            let mut after: Option<String> = None;
            let mut fetched = 0usize;
            loop {
                let data = client
                    .query(
                        HISTORY_QUERY,
                        json!({ "f": { "address": address }, "after": after }),
                    )
                    .await?;
                let connection = &data["transactions"];
                if after.is_none() {
                    total_hint += connection["totalCount"].as_u64().unwrap_or(0);
                }
                for node in connection["nodes"].as_array().into_iter().flatten() {
                    fetched += 1;
                    let id = text(&node["id"])?;
                    let key = (
                        node["blockHeight"].as_u64().unwrap_or(0),
                        node["index"].as_u64().unwrap_or(0),
                    );
                    seen.insert(std::cmp::Reverse(key), (id, node.clone()));
                }
                if fetched >= wanted
                    || connection["pageInfo"]["hasNextPage"].as_bool() != Some(true)
                {
                    break;
                }
                after = Some(text(&connection["pageInfo"]["endCursor"])?);
            }
        }
        let mut entries = Vec::new();
        let mut lines = Vec::new();
        for (_, (id, node)) in seen.into_iter().skip((page - 1) * per_page).take(per_page) {
            let (incoming, outgoing) = net_effect(&node, &ours, &network)?;
            let (sign, amount) = if incoming >= outgoing {
                ("+", incoming - outgoing)
            } else {
                ("-", outgoing - incoming)
            };
            let change = format!("{sign}{}", network.coins(Currency(amount)));
            lines.push(format!(
                "{:>8}  {}  {:>20}  {}{}",
                node["blockHeight"].as_u64().unwrap_or(0),
                id,
                change,
                node["kind"].as_str().unwrap_or(""),
                node["arbitraryDataText"]
                    .as_str()
                    .map(|data| format!("  {data:?}"))
                    .unwrap_or_default()
            ));
            entries.push(json!({
                "id": id,
                "height": node["blockHeight"],
                "kind": node["kind"],
                "fee": node["fee"],
                "change": change,
                "data": node["arbitraryDataText"],
            }));
        }
        Ok(Report {
            json: json!({ "page": page, "perPage": per_page, "transactions": entries }),
            human: if lines.is_empty() {
                format!("no transactions on page {page}")
            } else {
                format!(
                    "{:>8}  {:64}  {:>20}  kind\n{}\n(page {page}; about {total_hint} in all)",
                    "height",
                    "transaction",
                    "change",
                    lines.join("\n")
                )
            },
        })
    }

    async fn send(&self, args: SendArgs) -> Result<Report, WalletError> {
        let keystore = self.keystore()?;
        let client = self.client()?;
        let network = self.network(&client).await?;
        let asset = if args.blockstakes {
            Asset::BlockStake
        } else {
            Asset::Coin
        };
        let mut recipients = Vec::new();
        match (&args.amount, &args.address, &args.multisig) {
            (Some(amount), Some(address), None) => {
                recipients.push(recipient(&network, asset, address, amount, args.lock)?)
            }
            (Some(amount), None, Some(spec)) => {
                let condition = crate::multisig::parse(spec)?;
                let address = condition
                    .address()
                    .to_text(&network.prefix)
                    .map_err(|error| WalletError::Address(error.to_string()))?;
                let mut output = recipient(&network, asset, &address, amount, args.lock)?;
                output.multisig = Some(condition);
                recipients.push(output);
            }
            (None, None, None) => {}
            _ => {
                return Err(WalletError::Usage(
                    "give both AMOUNT and ADDRESS (`wallet send 12.5 bsdev1…`), or use --to ADDRESS=AMOUNT".into(),
                ));
            }
        }
        for output in &args.to {
            let (address, rest) = output.split_once('=').ok_or_else(|| {
                WalletError::Usage(format!("--to {output:?}: expected ADDRESS=AMOUNT[@LOCK]"))
            })?;
            let (amount, lock) = match rest.split_once('@') {
                Some((amount, lock)) => (
                    amount,
                    Some(lock.trim().parse::<u64>().map_err(|_| {
                        WalletError::Usage(format!(
                            "--to {output:?}: the lock is a height or unix seconds"
                        ))
                    })?),
                ),
                None => (rest, None),
            };
            recipients.push(recipient(&network, asset, address, amount, lock)?);
        }
        let data = match (&args.data, &args.data_hex) {
            (Some(text), _) => text.as_bytes().to_vec(),
            (None, Some(hex_text)) => hex::decode(hex_text.trim())
                .map_err(|_| WalletError::Usage("--data-hex is not hex".into()))?,
            (None, None) => Vec::new(),
        };
        let fee = args
            .fee
            .as_deref()
            .map(|fee| network.parse_coins(fee))
            .transpose()?;
        let request = Request {
            asset,
            recipients,
            data,
            fee,
            change: build::condition_for(&first_address(&keystore)?, None)?,
            multisig: None,
            payload: None,
            burn: 0,
        };
        self.build_and_send(
            &keystore,
            &client,
            &network,
            &request,
            args.unsigned.as_deref(),
            &args.wait,
        )
        .await
    }

    /// Builds `request` from the wallet's funds; writes it unsigned to
    /// `unsigned`, or signs, submits and waits.
    pub async fn build_and_send(
        &self,
        keystore: &Keystore,
        client: &Client,
        network: &NetworkInfo,
        request: &Request,
        unsigned: Option<&Path>,
        wait: &WaitArgs,
    ) -> Result<Report, WalletError> {
        let funds = funds::load(client, network, keystore).await?;
        let mut file = TransactionFile::unsigned(network, build::build(network, &funds, request)?);
        if let Some(path) = unsigned {
            file.write(path)?;
            let id = file.transaction.id().to_string();
            return Ok(Report {
                json: json!({ "unsigned": path.display().to_string(), "id": id,
                              "fee": network.coins(file.transaction.fee) }),
                human: format!(
                    "unsigned transaction {id} (fee {}) written to {}; sign it with `wallet sign {}` on the machine with the keys",
                    network.coins(file.transaction.fee),
                    path.display(),
                    path.display()
                ),
            });
        }
        let unlocked = keystore.unlock(&self.password()?)?;
        sign_file(keystore, &unlocked, &mut file)?;
        self.submit(client, network, &file, wait).await
    }

    async fn multisig(&self, command: MultisigCommand) -> Result<Report, WalletError> {
        match command {
            MultisigCommand::Address { spec } => {
                let condition = crate::multisig::parse(&spec)?;
                let client = self.client()?;
                let network = self.network(&client).await?;
                let address = to_text(&condition.address(), &network)?;
                Ok(Report {
                    json: json!({ "address": address, "spec": crate::multisig::spec(&condition),
                                  "required": condition.required, "keys": condition.keys.len() }),
                    human: address,
                })
            }
            MultisigCommand::Spend {
                spec,
                amount,
                address,
                unsigned,
                fee,
            } => {
                let condition = crate::multisig::parse(&spec)?;
                let client = self.client()?;
                let network = self.network(&client).await?;
                let fee = fee
                    .as_deref()
                    .map(|fee| network.parse_coins(fee))
                    .transpose()?;
                let funds =
                    funds::load_addresses(&client, &network, &[condition.address()]).await?;
                let request = Request {
                    asset: Asset::Coin,
                    recipients: vec![recipient(&network, Asset::Coin, &address, &amount, None)?],
                    data: Vec::new(),
                    fee,
                    change: ledger::Condition::Multisig(condition.clone()),
                    multisig: Some(condition),
                    payload: None,
                    burn: 0,
                };
                let file =
                    TransactionFile::unsigned(&network, build::build(&network, &funds, &request)?);
                file.write(&unsigned)?;
                let id = file.transaction.id().to_string();
                Ok(Report {
                    json: json!({ "unsigned": unsigned.display().to_string(), "id": id }),
                    human: format!(
                        "unsigned multisig spend {id} written to {}; each co-signer runs `wallet sign`",
                        unsigned.display()
                    ),
                })
            }
            MultisigCommand::Merge { files, out } => {
                let mut paths = files.iter();
                let first = paths.next().ok_or_else(|| {
                    WalletError::Usage("give the transaction files to merge".into())
                })?;
                let mut merged = TransactionFile::read(first)?;
                for path in paths {
                    crate::multisig::merge(&mut merged, &TransactionFile::read(path)?)?;
                }
                merged.signed = crate::multisig::complete(&merged)?;
                merged.write(&out)?;
                Ok(Report {
                    json: json!({ "merged": out.display().to_string(), "complete": merged.signed,
                                  "id": merged.transaction.id().to_string() }),
                    human: format!(
                        "merged into {} ({})",
                        out.display(),
                        if merged.signed {
                            "fully signed: `wallet submit` it"
                        } else {
                            "more signatures needed"
                        }
                    ),
                })
            }
        }
    }

    /// `notary register FILE`: records the file's BLAKE2b-256 on chain.
    pub async fn notary_register(
        &self,
        path: &Path,
        unsigned: Option<&Path>,
        wait: &WaitArgs,
    ) -> Result<Report, WalletError> {
        let keystore = self.keystore()?;
        let client = self.client()?;
        let network = self.network(&client).await?;
        let hash = crate::notary::document_hash(path)?;
        let request = Request::payload_only(
            build::condition_for(&first_address(&keystore)?, None)?,
            crate::notary::payload(hash),
        );
        let mut report = self
            .build_and_send(&keystore, &client, &network, &request, unsigned, wait)
            .await?;
        report.json["documentHash"] = json!(hash.to_string());
        report.human = format!("document hash {hash}\n{}", report.human);
        Ok(report)
    }

    /// `notary verify FILE`: when (and by which transaction) the file's
    /// hash was first recorded.
    pub async fn notary_verify(&self, path: &Path) -> Result<Report, WalletError> {
        let client = self.client()?;
        self.network(&client).await?;
        let hash = crate::notary::document_hash(path)?;
        let data = client
            .query(
                "query($h: String!) { notaryRecord(documentHash: $h) { transactionId blockHeight timestamp } }",
                json!({ "h": hash.to_string() }),
            )
            .await?;
        let record = &data["notaryRecord"];
        if record.is_null() {
            return Err(WalletError::NotRecorded {
                hash: hash.to_string(),
            });
        }
        Ok(Report {
            json: json!({ "documentHash": hash.to_string(), "recorded": true,
                          "transactionId": record["transactionId"], "height": record["blockHeight"],
                          "timestamp": record["timestamp"] }),
            human: format!(
                "{} existed by unix time {} (block {}, transaction {})",
                path.display(),
                record["timestamp"],
                record["blockHeight"],
                record["transactionId"].as_str().unwrap_or("")
            ),
        })
    }

    fn sign(&self, path: &Path, out: Option<&Path>) -> Result<Report, WalletError> {
        let keystore = self.keystore()?;
        let mut file = TransactionFile::read(path)?;
        if let Some(expected) = &self.settings.network
            && *expected != file.network
        {
            return Err(WalletError::TransactionFile {
                path: path.to_owned(),
                reason: format!("it is for network {:?}, not {expected:?}", file.network),
            });
        }
        let unlocked = keystore.unlock(&self.password()?)?;
        sign_file(&keystore, &unlocked, &mut file)?;
        let out = out.unwrap_or(path);
        file.write(out)?;
        let outputs: Vec<Value> = file
            .transaction
            .coin_outputs
            .iter()
            .map(|output| {
                json!({ "asset": "coin", "baseUnits": output.value.0.to_string(),
                        "address": output.condition.address().to_text(&file.address_prefix).unwrap_or_default() })
            })
            .chain(file.transaction.blockstake_outputs.iter().map(|output| {
                json!({ "asset": "blockstake", "value": output.value.0.to_string(),
                        "address": output.condition.address().to_text(&file.address_prefix).unwrap_or_default() })
            }))
            .collect();
        let id = file.transaction.id().to_string();
        Ok(Report {
            json: json!({ "signed": out.display().to_string(), "id": id, "outputs": outputs,
                          "feeBaseUnits": file.transaction.fee.0.to_string(),
                          "complete": file.signed }),
            human: format!(
                "signed transaction {id} ({} outputs) written to {}; submit it from any machine with `wallet submit {}`",
                outputs.len(),
                out.display(),
                out.display()
            ),
        })
    }

    async fn submit_file(&self, path: &Path, wait: &WaitArgs) -> Result<Report, WalletError> {
        let file = TransactionFile::read(path)?;
        if !file.signed {
            return Err(WalletError::TransactionFile {
                path: path.to_owned(),
                reason: "it is not fully signed yet: run `wallet sign` on the machine with the keys (multisig: every co-signer, then `wallet multisig merge`)"
                    .into(),
            });
        }
        let client = self.client()?;
        let network = self.network(&client).await?;
        if network.chain_id != file.chain_id {
            return Err(WalletError::TransactionFile {
                path: path.to_owned(),
                reason: format!(
                    "it was built for network {:?}, and the API serves {:?} (another chain)",
                    file.network, network.name
                ),
            });
        }
        self.submit(&client, &network, &file, wait).await
    }

    pub(crate) async fn submit(
        &self,
        client: &Client,
        network: &NetworkInfo,
        file: &TransactionFile,
        wait: &WaitArgs,
    ) -> Result<Report, WalletError> {
        let encoded = hex::encode(codec::encode(&file.transaction));
        let id = file.transaction.id().to_string();
        let submitted = client
            .query(
                "mutation($e: String!) { submitTransaction(encoded: $e) { id } }",
                json!({ "e": encoded }),
            )
            .await;
        if let Err(error) = submitted {
            match error {
                WalletError::Api {
                    code,
                    reason,
                    message,
                } if code == "TRANSACTION_REJECTED" => {
                    let reason = reason.unwrap_or_default();
                    // Submitting again what a pool already holds is no error.
                    if reason != "ALREADY_POOLED" {
                        return Err(WalletError::Rejected {
                            hint: rejection_hint(&reason).into(),
                            reason,
                            message,
                        });
                    }
                }
                other => return Err(other),
            }
        }
        let fee = network.coins(file.transaction.fee);
        if wait.no_wait {
            return Ok(Report {
                json: json!({ "id": id, "fee": fee, "status": "pending" }),
                human: format!("submitted transaction {id} (fee {fee}); it waits for a block"),
            });
        }
        let height = self.wait_for(client, &id, wait.wait_timeout).await?;
        Ok(Report {
            json: json!({ "id": id, "fee": fee, "status": "confirmed", "height": height }),
            human: format!("transaction {id} (fee {fee}) is in block {height}"),
        })
    }

    /// Polls until the transaction is in a block, with progress on stderr.
    async fn wait_for(&self, client: &Client, id: &str, timeout: u64) -> Result<u64, WalletError> {
        let started = Instant::now();
        let mut last_tip = None;
        loop {
            let data = client
                .query(
                    "query($id: String!) { transaction(id: $id) { blockHeight } chain { height } }",
                    json!({ "id": id }),
                )
                .await?;
            if let Some(height) = data["transaction"]["blockHeight"].as_u64() {
                return Ok(height);
            }
            let tip = data["chain"]["height"].as_u64();
            if tip != last_tip && !self.global.json {
                progress(&format!(
                    "waiting for transaction {} to enter a block (tip {}, {} s)",
                    &id[..id.len().min(12)],
                    tip.map(|t| t.to_string()).unwrap_or_default(),
                    started.elapsed().as_secs()
                ));
                last_tip = tip;
            }
            if started.elapsed() > Duration::from_secs(timeout) {
                return Err(WalletError::WaitTimeout {
                    id: id.to_owned(),
                    seconds: timeout,
                });
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    async fn status(&self, id: &str) -> Result<Report, WalletError> {
        let client = self.client()?;
        self.network(&client).await?;
        let data = client
            .query(
                "query($id: String!) { transaction(id: $id) { blockHeight confirmations } }",
                json!({ "id": id.trim() }),
            )
            .await?;
        if let Some(height) = data["transaction"]["blockHeight"].as_u64() {
            let confirmations = data["transaction"]["confirmations"].as_u64().unwrap_or(0);
            return Ok(Report {
                json: json!({ "id": id, "status": "confirmed", "height": height, "confirmations": confirmations }),
                human: format!("in block {height} ({confirmations} confirmations)"),
            });
        }
        let mut after: Option<String> = None;
        loop {
            let data = client
                .query(
                    "query($after: String) { pendingTransactions(first: 100, after: $after) { pageInfo { hasNextPage endCursor } nodes { id } } }",
                    json!({ "after": after }),
                )
                .await?;
            let connection = &data["pendingTransactions"];
            if connection["nodes"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|node| node["id"].as_str() == Some(id.trim()))
            {
                return Ok(Report {
                    json: json!({ "id": id, "status": "pending" }),
                    human: "pending: waiting in a node's pool for a block".into(),
                });
            }
            if connection["pageInfo"]["hasNextPage"].as_bool() != Some(true) {
                break;
            }
            after = Some(text(&connection["pageInfo"]["endCursor"])?);
        }
        Ok(Report {
            json: json!({ "id": id, "status": "unknown" }),
            human: "unknown: neither in a block nor pending".into(),
        })
    }

    fn export_watch_only(&self, out: &Path) -> Result<Report, WalletError> {
        let keystore = self.keystore()?;
        if out.exists() {
            return Err(WalletError::WalletExists {
                path: out.to_owned(),
            });
        }
        keystore.watch_only(out).save()?;
        Ok(Report {
            json: json!({ "watchOnly": out.display().to_string() }),
            human: format!(
                "watch-only copy written to {} (no secret: it can build unsigned transactions, not sign)",
                out.display()
            ),
        })
    }

    fn export_staking_key(&self, out: &Path, count: Option<u64>) -> Result<Report, WalletError> {
        let keystore = self.keystore()?;
        let unlocked = keystore.unlock(&self.password()?)?;
        let count = count
            .unwrap_or(keystore.spending_keys.len() as u64)
            .clamp(1, unlocked.max_spending_keys());
        let mut text = Zeroizing::new(String::from(
            "# blockstake node key file (docs/node.md): one ed25519 seed per line.\n\
             # Exported by `wallet export-staking-key`: these keys spend the wallet's coins too; keep it private.\n",
        ));
        let mut addresses = Vec::new();
        for index in 0..count {
            let seed = Zeroizing::new(unlocked.spending_seed(index));
            text.push_str(&hex::encode(seed.as_ref()));
            text.push('\n');
            addresses.push(hex::encode(unlocked.spending_key(index).public_key().0));
        }
        write_private_atomic(out, text.as_bytes())?;
        Ok(Report {
            json: json!({ "keyFile": out.display().to_string(), "keys": count, "publicKeys": addresses }),
            human: format!(
                "{count} staking key(s) written to {} (mode 0600); run the node with --key-file {}",
                out.display(),
                out.display()
            ),
        })
    }
}

/// What to do about a refusal, by the node's reason code.
fn rejection_hint(reason: &str) -> &'static str {
    match reason {
        "CONFLICT" => {
            "; an output it spends is already spent by a pending transaction (a double spend): nothing was sent. Wait for the next block and check `wallet balance`"
        }
        "MISSING_INPUT" => {
            "; an output it spends is already spent or unknown (a double spend, or a stale view): nothing was sent. Run `wallet balance` and build it again"
        }
        "INSUFFICIENT_FEE" => "; pass a higher --fee",
        "BAD_SIGNATURE" | "UNAUTHORIZED" => "; sign it with the wallet that owns the inputs",
        _ => "",
    }
}

const HISTORY_QUERY: &str = "query($f: TransactionFilter, $after: String) {
  transactions(filter: $f, first: 20, after: $after) { totalCount pageInfo { hasNextPage endCursor }
    nodes { id blockHeight index kind fee arbitraryDataText
      inputs(first: 50) { nodes { currency value address } }
      outputs(first: 50) { nodes { currency value address } } } } }";

/// Coins paid to and spent from `ours` by a history entry (base units).
fn net_effect(
    node: &Value,
    ours: &[String],
    network: &NetworkInfo,
) -> Result<(u128, u128), WalletError> {
    let sum = |list: &Value| -> Result<u128, WalletError> {
        let mut total = 0u128;
        for item in list["nodes"].as_array().into_iter().flatten() {
            if item["currency"].as_str() == Some("COIN")
                && item["address"]
                    .as_str()
                    .is_some_and(|address| ours.iter().any(|o| o == address))
            {
                total += network.parse_coins(&text(&item["value"])?)?.0;
            }
        }
        Ok(total)
    };
    Ok((sum(&node["outputs"])?, sum(&node["inputs"])?))
}

pub(crate) fn recipient(
    network: &NetworkInfo,
    asset: Asset,
    address: &str,
    amount: &str,
    lock: Option<u64>,
) -> Result<Recipient, WalletError> {
    let address = Address::parse(address.trim(), &network.prefix)
        .map_err(|error| WalletError::Address(error.to_string()))?;
    let value = match asset {
        Asset::Coin => network.parse_coins(amount)?.0,
        Asset::BlockStake => amount.trim().parse::<u64>().map_err(|_| {
            WalletError::Amount(format!("{amount:?}: blockstakes are whole numbers"))
        })? as u128,
    };
    Ok(Recipient {
        address,
        value,
        lock,
        multisig: None,
        condition: None,
    })
}

/// Signs every input of `file` the wallet can sign: single-key inputs of
/// its addresses, and its share of multisig inputs.
pub(crate) fn sign_file(
    keystore: &Keystore,
    unlocked: &Unlocked,
    file: &mut TransactionFile,
) -> Result<(), WalletError> {
    let coin_inputs = file.transaction.coin_inputs.len();
    let mut signed_any = false;
    for (position, input) in file.inputs.clone().iter().enumerate() {
        let (kind, at) = if position < coin_inputs {
            (InputKind::Coin, position)
        } else {
            (InputKind::BlockStake, position - coin_inputs)
        };
        if let Some(spec) = &input.multisig {
            let condition = crate::multisig::parse(spec)?;
            let added =
                crate::multisig::sign_input(keystore, unlocked, file, &condition, kind, at)?;
            signed_any |= added > 0;
            continue;
        }
        let address = Address::parse(&input.address, &file.address_prefix)
            .map_err(|error| WalletError::Address(error.to_string()))?;
        // Co-signers of a multisig payload leave the inputs to the wallet
        // that pays the fee.
        if file.payload_multisig.is_some() && keystore.index_of(&address).is_none() {
            continue;
        }
        let index = keystore.index_of(&address).ok_or_else(|| {
            WalletError::Usage(format!(
                "input {position} spends from {}, which is not one of this wallet's {} addresses; sign with the wallet that owns it",
                input.address,
                keystore.spending_keys.len()
            ))
        })?;
        let key = unlocked.spending_key(index as u64);
        build::sign_input(&mut file.transaction, file.chain_id, kind, at, &key);
        signed_any = true;
    }
    signed_any |= crate::authority::sign_payload(keystore, unlocked, file)? > 0;
    if !signed_any {
        return Err(WalletError::Usage(
            "this wallet holds none of the keys the transaction still needs".into(),
        ));
    }
    file.signed = crate::multisig::complete(file)?;
    Ok(())
}

pub(crate) fn first_address(keystore: &Keystore) -> Result<Address, WalletError> {
    keystore
        .address(0)
        .ok_or_else(|| WalletError::Usage("the wallet has no address".into()))
}

pub(crate) fn to_text(address: &Address, network: &NetworkInfo) -> Result<String, WalletError> {
    address
        .to_text(&network.prefix)
        .map_err(|error| WalletError::Address(error.to_string()))
}

fn address_texts(keystore: &Keystore, network: &NetworkInfo) -> Result<Vec<String>, WalletError> {
    keystore
        .addresses()
        .iter()
        .map(|address| to_text(address, network))
        .collect()
}

/// The address prefix to show before any API is asked: devnet's unless
/// the network is named (the shipped networks' prefixes).
fn prefix_hint(settings: &Resolved) -> String {
    match settings.network.as_deref() {
        Some("testnet") => "bstest".into(),
        Some("mainnet") => "bs".into(),
        _ => "bsdev".into(),
    }
}

/// KDF cost: the default, or `WALLET_KDF_MEMORY_KIB` (tests use less).
fn kdf_cost() -> KdfCost {
    let mut cost = KdfCost::default();
    if let Some(memory) = std::env::var("WALLET_KDF_MEMORY_KIB")
        .ok()
        .and_then(|value| value.parse::<u32>().ok())
    {
        cost.memory_kib = memory.max(8);
    }
    cost
}

/// Asks for three words of the mnemonic back.
fn confirm_mnemonic(mnemonic: &str) -> Result<(), WalletError> {
    let words: Vec<&str> = mnemonic.split(' ').collect();
    let mut positions = Vec::new();
    while positions.len() < 3 {
        let position = (OsRng.next_u32() as usize) % words.len();
        if !positions.contains(&position) {
            positions.push(position);
        }
    }
    positions.sort_unstable();
    for position in positions {
        let mut stderr = std::io::stderr().lock();
        let _ = write!(stderr, "confirm: word #{}: ", position + 1);
        let _ = stderr.flush();
        drop(stderr);
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|source| WalletError::Io {
                what: "reading the confirmation".into(),
                source,
            })?;
        if line.trim().to_lowercase() != words[position] {
            return Err(WalletError::Usage(format!(
                "word #{} does not match: no wallet was written; run `wallet init` again and copy the words carefully",
                position + 1
            )));
        }
    }
    Ok(())
}
