//! Atomic swaps: an output locked by an `AtomicSwapCondition` (sender,
//! receiver, SHA-256 of a secret, lock time). The receiver claims it with
//! the secret (revealing it on chain); after the lock time the sender
//! takes it back. `initiate` makes the secret, `participate` reuses the
//! initiator's hash, `audit` shows a contract, `redeem` and `refund` spend
//! it, `extract-secret` reads the secret a redeem revealed.

use ledger::condition::AtomicSwapCondition;
use ledger::fulfillment::{AtomicSwapClaim, AtomicSwapRefund, InputKind};
use ledger::{
    Address, CoinInput, CoinOutput, CoinOutputId, Condition, Currency, Fulfillment, Hash32,
    PublicKey, Signature, Timestamp, Transaction,
};
use rand_core::{OsRng, RngCore};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::build::{self, Recipient, Request};
use crate::cli::SwapCommand;
use crate::client::{NetworkInfo, bad_answer, text};
use crate::commands::{Context, Report, first_address, to_text};
use crate::error::WalletError;
use crate::funds::Asset;
use crate::txfile::{InputInfo, TransactionFile};

const OUTPUT_QUERY: &str = "query($id: String!) { output(id: $id) { id value spent spentBy address
    condition { type swapSender swapReceiver swapHashedSecret swapTimelock } } }";

fn parse_hash(what: &str, text: &str) -> Result<[u8; 32], WalletError> {
    let hash: Hash32 = text
        .trim()
        .parse()
        .map_err(|_| WalletError::Usage(format!("{what} {text:?} is not 64 hex digits")))?;
    Ok(hash.0)
}

/// A swap output as the API shows it.
struct SwapOutput {
    id: Hash32,
    value: Currency,
    spent_by: Option<String>,
    condition: AtomicSwapCondition,
}

impl Context {
    pub(crate) async fn swap(&self, command: SwapCommand) -> Result<Report, WalletError> {
        match command {
            SwapCommand::Initiate {
                amount,
                receiver,
                seconds,
                wait,
            } => {
                let mut secret = [0u8; 32];
                OsRng.fill_bytes(&mut secret);
                let hashed: [u8; 32] = Sha256::digest(secret).into();
                let mut report = self
                    .lock(&amount, &receiver, hashed, seconds, &wait)
                    .await?;
                report.json["secret"] = json!(hex::encode(secret));
                report.human = format!(
                    "secret (keep it private; redeem the other side with it): {}\n{}",
                    hex::encode(secret),
                    report.human
                );
                Ok(report)
            }
            SwapCommand::Participate {
                amount,
                receiver,
                hashed_secret,
                seconds,
                wait,
            } => {
                let hashed = parse_hash("hashed secret", &hashed_secret)?;
                self.lock(&amount, &receiver, hashed, seconds, &wait).await
            }
            SwapCommand::Audit { output } => {
                let client = self.client()?;
                let network = self.network(&client).await?;
                let swap = self.swap_output(&client, &network, &output).await?;
                let contract = &swap.condition;
                let json = json!({
                    "output": swap.id.to_string(),
                    "value": network.coins(swap.value),
                    "sender": to_text(&contract.sender, &network)?,
                    "receiver": to_text(&contract.receiver, &network)?,
                    "hashedSecret": hex::encode(contract.hashed_secret),
                    "timelock": contract.timelock.0,
                    "spent": swap.spent_by.is_some(),
                    "spentBy": swap.spent_by,
                });
                let human = format!(
                    "swap output {}\n  value        {}\n  sender       {}\n  receiver     {}\n  hashed secret {}\n  refundable after unix time {}\n  spent        {}",
                    json["output"].as_str().unwrap_or(""),
                    json["value"].as_str().unwrap_or(""),
                    json["sender"].as_str().unwrap_or(""),
                    json["receiver"].as_str().unwrap_or(""),
                    json["hashedSecret"].as_str().unwrap_or(""),
                    contract.timelock.0,
                    swap.spent_by.as_deref().unwrap_or("no")
                );
                Ok(Report { json, human })
            }
            SwapCommand::Redeem {
                output,
                secret,
                wait,
            } => {
                let secret = parse_hash("secret", &secret)?;
                self.spend(&output, Some(secret), &wait).await
            }
            SwapCommand::Refund { output, wait } => self.spend(&output, None, &wait).await,
            SwapCommand::ExtractSecret { output } => {
                let client = self.client()?;
                let network = self.network(&client).await?;
                let swap = self.swap_output(&client, &network, &output).await?;
                let spender = swap.spent_by.ok_or_else(|| {
                    WalletError::Usage(format!(
                        "swap output {} is not spent yet: no secret revealed",
                        swap.id
                    ))
                })?;
                let data = client
                    .query(
                        "query($id: String!) { transaction(id: $id) { inputs(first: 100) { nodes { parentId secret } } } }",
                        json!({ "id": spender }),
                    )
                    .await?;
                let secret = data["transaction"]["inputs"]["nodes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|input| input["parentId"].as_str() == Some(&swap.id.to_string()))
                    .and_then(|input| input["secret"].as_str().map(str::to_owned))
                    .ok_or_else(|| {
                        WalletError::Usage(format!(
                            "transaction {spender} refunded the swap: no secret was revealed"
                        ))
                    })?;
                Ok(Report {
                    json: json!({ "output": swap.id.to_string(), "transaction": spender, "secret": secret }),
                    human: secret,
                })
            }
        }
    }

    /// Pays `amount` into a swap contract with `receiver`.
    async fn lock(
        &self,
        amount: &str,
        receiver: &str,
        hashed: [u8; 32],
        seconds: u64,
        wait: &crate::cli::WaitArgs,
    ) -> Result<Report, WalletError> {
        let keystore = self.keystore()?;
        let client = self.client()?;
        let network = self.network(&client).await?;
        let receiver = Address::parse(receiver.trim(), &network.prefix)
            .map_err(|error| WalletError::Address(error.to_string()))?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs())
            .unwrap_or(network.tip_time);
        let contract = AtomicSwapCondition {
            sender: first_address(&keystore)?,
            receiver,
            hashed_secret: hashed,
            timelock: Timestamp(now.max(network.tip_time) + seconds),
        };
        let condition = Condition::AtomicSwap(contract.clone());
        condition
            .check_standard()
            .map_err(|error| WalletError::Address(error.to_string()))?;
        let request = Request {
            asset: Asset::Coin,
            recipients: vec![Recipient {
                address: contract.address(),
                value: network.parse_coins(amount)?.0,
                lock: None,
                multisig: None,
                condition: Some(condition),
            }],
            data: Vec::new(),
            fee: None,
            change: build::condition_for(&first_address(&keystore)?, None)?,
            multisig: None,
            payload: None,
            burn: 0,
        };
        let mut report = self
            .build_and_send(&keystore, &client, &network, &request, None, wait)
            .await?;
        let id: Hash32 = text(&report.json["id"])?
            .parse()
            .map_err(|_| bad_answer("transaction ID"))?;
        // The swap output is the transaction's first coin output.
        let output = CoinOutputId::for_transaction_output(&ledger::TransactionId(id), 0);
        report.json["output"] = json!(output.0.to_string());
        report.json["hashedSecret"] = json!(hex::encode(hashed));
        report.json["timelock"] = json!(contract.timelock.0);
        report.human = format!(
            "{}\nswap output {} (hashed secret {}, refundable after unix time {})",
            report.human,
            output.0,
            hex::encode(hashed),
            contract.timelock.0
        );
        Ok(report)
    }

    async fn swap_output(
        &self,
        client: &crate::client::Client,
        network: &NetworkInfo,
        output: &str,
    ) -> Result<SwapOutput, WalletError> {
        let data = client
            .query(OUTPUT_QUERY, json!({ "id": output.trim() }))
            .await?;
        let node: &Value = &data["output"];
        if node.is_null() {
            return Err(WalletError::Usage(format!(
                "no output {output} on chain (yet?)"
            )));
        }
        let condition = &node["condition"];
        if condition["type"].as_str() != Some("atomic_swap") {
            return Err(WalletError::Usage(format!(
                "output {output} is not an atomic swap contract"
            )));
        }
        let address = |field: &str| -> Result<Address, WalletError> {
            Address::parse(&text(&condition[field])?, &network.prefix)
                .map_err(|error| bad_answer(error.to_string()))
        };
        Ok(SwapOutput {
            id: text(&node["id"])?
                .parse()
                .map_err(|_| bad_answer("output ID"))?,
            value: network.parse_coins(&text(&node["value"])?)?,
            spent_by: node["spentBy"].as_str().map(str::to_owned),
            condition: AtomicSwapCondition {
                sender: address("swapSender")?,
                receiver: address("swapReceiver")?,
                hashed_secret: parse_hash("hashed secret", &text(&condition["swapHashedSecret"])?)?,
                timelock: Timestamp(
                    condition["swapTimelock"]
                        .as_u64()
                        .ok_or_else(|| bad_answer("swap lock time"))?,
                ),
            },
        })
    }

    /// Redeems (with the secret) or refunds a swap output to the wallet.
    async fn spend(
        &self,
        output: &str,
        secret: Option<[u8; 32]>,
        wait: &crate::cli::WaitArgs,
    ) -> Result<Report, WalletError> {
        let keystore = self.keystore()?;
        let client = self.client()?;
        let network = self.network(&client).await?;
        let swap = self.swap_output(&client, &network, output).await?;
        if let Some(spender) = &swap.spent_by {
            return Err(WalletError::Usage(format!(
                "swap output {} is already spent by transaction {spender}",
                swap.id
            )));
        }
        let contract = &swap.condition;
        let party = match secret {
            Some(secret) => {
                let hashed: [u8; 32] = Sha256::digest(secret).into();
                if hashed != contract.hashed_secret {
                    return Err(WalletError::Usage(
                        "the secret's SHA-256 is not the contract's hashed secret".into(),
                    ));
                }
                contract.receiver
            }
            None => {
                if network.tip_time <= contract.timelock.0 {
                    return Err(WalletError::Usage(format!(
                        "too early to refund: possible once a block is later than unix time {} (the tip is at {})",
                        contract.timelock.0, network.tip_time
                    )));
                }
                contract.sender
            }
        };
        let index = keystore.index_of(&party).ok_or_else(|| {
            WalletError::Usage(format!(
                "{} is not one of this wallet's addresses: {} it with the wallet that is the contract's {}",
                to_text(&party, &network).unwrap_or_default(),
                if secret.is_some() { "redeem" } else { "refund" },
                if secret.is_some() { "receiver" } else { "sender" }
            ))
        })?;
        let stand_in = |public_key: PublicKey| match secret {
            Some(secret) => Fulfillment::AtomicSwapClaim(AtomicSwapClaim {
                public_key,
                signature: Signature([0; 64]),
                secret,
            }),
            None => Fulfillment::AtomicSwapRefund(AtomicSwapRefund {
                public_key,
                signature: Signature([0; 64]),
            }),
        };
        let key = keystore
            .spending_keys
            .get(index)
            .copied()
            .ok_or_else(|| WalletError::Usage("no such key".into()))?;
        let mut transaction = Transaction::new();
        transaction.coin_inputs.push(CoinInput {
            parent_id: CoinOutputId(swap.id),
            fulfillment: stand_in(key),
        });
        transaction.coin_outputs.push(CoinOutput {
            value: swap.value,
            condition: build::condition_for(&first_address(&keystore)?, None)?,
        });
        let fee = transaction
            .minimum_fee(&network.params())
            .ok_or_else(|| WalletError::Amount("fee overflows".into()))?;
        let value = swap
            .value
            .checked_sub(fee)
            .filter(|v| !v.is_zero())
            .ok_or_else(|| WalletError::InsufficientFunds {
                available: network.coins(swap.value),
                needed: network.coins(fee),
                fee: network.coins(fee),
                hint: "; the swap output does not cover its own fee".into(),
            })?;
        transaction.fee = fee;
        if let Some(output) = transaction.coin_outputs.first_mut() {
            output.value = value;
        }
        let unlocked = keystore.unlock(&self.password()?)?;
        let pair = build::input_signature(
            &transaction,
            network.chain_id,
            InputKind::Coin,
            0,
            &unlocked.spending_key(index as u64),
            secret.as_ref(),
        );
        if let Some(input) = transaction.coin_inputs.first_mut() {
            input.fulfillment = match secret {
                Some(secret) => Fulfillment::AtomicSwapClaim(AtomicSwapClaim {
                    public_key: pair.public_key,
                    signature: pair.signature,
                    secret,
                }),
                None => Fulfillment::AtomicSwapRefund(AtomicSwapRefund {
                    public_key: pair.public_key,
                    signature: pair.signature,
                }),
            };
        }
        let file = TransactionFile {
            network: network.name.clone(),
            address_prefix: network.prefix.clone(),
            chain_id: network.chain_id,
            transaction,
            inputs: vec![InputInfo {
                asset: Asset::Coin,
                address: to_text(&contract.address(), &network)?,
                value: network.coins(swap.value),
                multisig: None,
            }],
            payload_multisig: None,
            signed: true,
        };
        self.submit(&client, &network, &file, wait).await
    }
}
