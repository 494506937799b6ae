//! Authorized addresses (docs/wallet.md "Authorized addresses"): for the
//! holder of the address authority, `auth update --authorize ADDRESS
//! --deauthorize ADDRESS` and `auth change-authority NEW` (authorized
//! through [`crate::authority`]); for anyone, `auth status ADDRESS` (the
//! API's authorization status) and `auth show` (the authority in force).

use ledger::payload::AuthorizedAddressOperation;
use ledger::{Address, Payload};
use serde_json::{Value, json};

use crate::authority::Authority;
use crate::cli::AuthCommand;
use crate::client::{Client, NetworkInfo};
use crate::commands::{Context, Report};
use crate::error::WalletError;

fn parse_all(list: &[String], network: &NetworkInfo) -> Result<Vec<Address>, WalletError> {
    list.iter()
        .map(|text| {
            Address::parse(text.trim(), &network.prefix)
                .map_err(|error| WalletError::Address(format!("{text}: {error}")))
        })
        .collect()
}

/// The API's authorization status of `address` at the tip.
async fn authorization(
    client: &Client,
    network: &NetworkInfo,
    address: &Address,
) -> Result<Value, WalletError> {
    let data = client
        .query(
            "query($a: String!) { authorization(address: $a) { address ruleEnabled authorized sinceHeight transactionId } }",
            json!({ "a": address.display(&network.prefix).to_string() }),
        )
        .await?;
    Ok(data["authorization"].clone())
}

impl Context {
    pub(crate) async fn auth(&self, command: AuthCommand) -> Result<Report, WalletError> {
        match command {
            AuthCommand::Update {
                authorize,
                deauthorize,
                signing,
            } => {
                let client = self.client()?;
                let network = self.network(&client).await?;
                if authorize.is_empty() && deauthorize.is_empty() {
                    return Err(WalletError::Usage(
                        "nothing to update: give --authorize ADDRESS and/or --deauthorize ADDRESS"
                            .into(),
                    ));
                }
                let to_authorize = parse_all(&authorize, &network)?;
                let to_deauthorize = parse_all(&deauthorize, &network)?;
                let mut all: Vec<&Address> =
                    to_authorize.iter().chain(to_deauthorize.iter()).collect();
                all.sort();
                if let Some(pair) = all.windows(2).find(|pair| pair[0] == pair[1]) {
                    return Err(WalletError::Address(format!(
                        "{} is listed twice: each address once, to authorize or to deauthorize",
                        pair[0].display(&network.prefix)
                    )));
                }
                // The chain refuses authorizing an authorized address and
                // deauthorizing one that is not: say so before submitting.
                for (address, authorizing) in to_authorize
                    .iter()
                    .map(|address| (address, true))
                    .chain(to_deauthorize.iter().map(|address| (address, false)))
                {
                    let status = authorization(&client, &network, address).await?;
                    if status["authorized"].as_bool() == Some(authorizing) {
                        return Err(WalletError::Usage(format!(
                            "{} is {}: nothing was submitted",
                            address.display(&network.prefix),
                            if authorizing {
                                "already authorized"
                            } else {
                                "not authorized (nothing to deauthorize)"
                            }
                        )));
                    }
                }
                let mut report = self
                    .authorized_transaction(
                        &client,
                        &network,
                        Some(Authority::Address),
                        |nonce, authority_fulfillment| {
                            Payload::AuthorizedAddresses(
                                AuthorizedAddressOperation::UpdateAddresses {
                                    authorize: to_authorize.clone(),
                                    deauthorize: to_deauthorize.clone(),
                                    nonce,
                                    authority_fulfillment,
                                },
                            )
                        },
                        0,
                        &signing,
                    )
                    .await?;
                report.json["authorized"] = json!(authorize);
                report.json["deauthorized"] = json!(deauthorize);
                Ok(report)
            }
            AuthCommand::ChangeAuthority { condition, signing } => {
                self.change_condition(
                    Authority::Address,
                    &condition,
                    |new_condition, nonce, authority_fulfillment| {
                        Payload::AuthorizedAddresses(AuthorizedAddressOperation::ChangeAuthority {
                            new_condition,
                            nonce,
                            authority_fulfillment,
                        })
                    },
                    "authority",
                    &signing,
                )
                .await
            }
            AuthCommand::Status { address } => {
                let client = self.client()?;
                let network = self.network(&client).await?;
                let parsed = Address::parse(address.trim(), &network.prefix)
                    .map_err(|error| WalletError::Address(error.to_string()))?;
                let text = parsed.display(&network.prefix).to_string();
                let status = authorization(&client, &network, &parsed).await?;
                let human = format!(
                    "{text}: {}{} (the network {} authorized addresses)",
                    if status["authorized"].as_bool() == Some(true) {
                        "authorized"
                    } else {
                        "not authorized"
                    },
                    status["sinceHeight"]
                        .as_u64()
                        .map(|height| format!(" since height {height}"))
                        .unwrap_or_default(),
                    if status["ruleEnabled"].as_bool() == Some(true) {
                        "enforces"
                    } else {
                        "does not enforce"
                    }
                );
                Ok(Report {
                    json: status,
                    human,
                })
            }
            AuthCommand::Show => self.show_condition(Authority::Address).await,
        }
    }
}
