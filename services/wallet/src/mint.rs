//! Minting (docs/wallet.md "Minting"): for the holder of the network's
//! mint condition, `mint create AMOUNT ADDRESS` creates coins and `mint
//! change-condition NEW` hands the minting power to a new single-key or
//! multisig condition (both authorized through [`crate::authority`]);
//! `mint destroy AMOUNT` burns coins of this wallet (anyone may);
//! `mint show` prints the condition in force. The wallet pays the fee.

use ledger::payload::MintingOperation;
use ledger::{CoinOutput, Payload};
use serde_json::json;

use crate::authority::Authority;
use crate::cli::{AuthorityArgs, MintCommand};
use crate::commands::{Context, Report};
use crate::error::WalletError;

impl Context {
    pub(crate) async fn mint(&self, command: MintCommand) -> Result<Report, WalletError> {
        match command {
            MintCommand::Create {
                amount,
                address,
                signing,
            } => {
                let client = self.client()?;
                let network = self.network(&client).await?;
                let recipient = ledger::Address::parse(address.trim(), &network.prefix)
                    .map_err(|error| WalletError::Address(error.to_string()))?;
                if recipient.kind != ledger::AddressKind::PubKey {
                    return Err(WalletError::Address(
                        "minted coins go to a single-key address".into(),
                    ));
                }
                let value = network.parse_coins(&amount)?;
                if value.is_zero() {
                    return Err(WalletError::Amount("minting 0 coins is not allowed".into()));
                }
                let mut report = self
                    .authorized_transaction(
                        &client,
                        &network,
                        Some(Authority::Mint),
                        |nonce, mint_fulfillment| {
                            Payload::Minting(MintingOperation::CreateCoins {
                                outputs: vec![CoinOutput {
                                    value,
                                    condition: ledger::Condition::PubKeyHash(recipient.hash),
                                }],
                                nonce,
                                mint_fulfillment,
                            })
                        },
                        0,
                        &signing,
                    )
                    .await?;
                report.json["minted"] = json!(network.coins(value));
                Ok(report)
            }
            MintCommand::ChangeCondition { condition, signing } => {
                self.change_condition(
                    Authority::Mint,
                    &condition,
                    |new_condition, nonce, mint_fulfillment| {
                        Payload::Minting(MintingOperation::ChangeMintCondition {
                            new_condition,
                            nonce,
                            mint_fulfillment,
                        })
                    },
                    "mint_condition",
                    &signing,
                )
                .await
            }
            MintCommand::Destroy { amount, wait } => {
                let client = self.client()?;
                let network = self.network(&client).await?;
                let value = network.parse_coins(&amount)?;
                if value.is_zero() {
                    return Err(WalletError::Amount(
                        "destroying 0 coins is not allowed".into(),
                    ));
                }
                let mut report = self
                    .authorized_transaction(
                        &client,
                        &network,
                        None,
                        |nonce, _| Payload::Minting(MintingOperation::DestroyCoins { nonce }),
                        value.0,
                        &AuthorityArgs {
                            unsigned: None,
                            wait,
                        },
                    )
                    .await?;
                report.json["destroyed"] = json!(network.coins(value));
                Ok(report)
            }
            MintCommand::Show => self.show_condition(Authority::Mint).await,
        }
    }
}
