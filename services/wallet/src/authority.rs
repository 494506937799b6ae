//! Authority conditions: the mint condition and the address authority of
//! PROTOCOL.md. Reads the condition in force from the API, parses a new
//! one from the command line (a single-key address, or `M:KEY,KEY,…` for
//! a multisig), and builds, signs and submits a transaction whose payload
//! is authorized by this wallet's keys. A wallet that lacks the keys gets
//! [`WalletError::NotAuthority`] before it asks for a password or submits.
//! A multisig condition is signed when this wallet holds `M` of its keys.

use ledger::condition::MultisigCondition;
use ledger::fulfillment::{
    FulfillContext, KeySignature, MultiSignatureFulfillment, SignedTarget,
    SingleSignatureFulfillment, signing_message,
};
use ledger::payload::{AuthorizedAddressOperation, MintingOperation, Nonce};
use ledger::{
    Address, AddressKind, BlockHeight, ChainId, Condition, Fulfillment, Payload, PublicKey,
    SecretKey, Signature, Timestamp, Transaction,
};
use rand_core::{OsRng, RngCore};
use serde_json::{Value, json};

use crate::build::{self, Request};
use crate::cli::AuthorityArgs;
use crate::client::{Client, NetworkInfo, text};
use crate::commands::{Context, Report, first_address};
use crate::error::WalletError;
use crate::funds;
use crate::keystore::{Keystore, Unlocked};
use crate::txfile::TransactionFile;

/// Which authority a payload needs.
#[derive(Debug, Clone, Copy)]
pub enum Authority {
    Mint,
    Address,
}

impl Authority {
    fn name(self) -> &'static str {
        match self {
            Authority::Mint => "mint",
            Authority::Address => "address authority",
        }
    }

    fn field(self) -> &'static str {
        match self {
            Authority::Mint => "mintCondition",
            Authority::Address => "addressAuthority",
        }
    }
}

/// The condition in force at the tip, as the API answers it (`condition`,
/// `sinceHeight`, `transactionId`), or an error when the network has none.
async fn in_force_json(client: &Client, authority: Authority) -> Result<Value, WalletError> {
    let field = authority.field();
    let data = client
        .query(
            &format!("{{ {field} {{ condition sinceHeight transactionId }} }}"),
            json!({}),
        )
        .await?;
    let change = data[field].clone();
    if change.is_null() {
        return Err(WalletError::Usage(format!(
            "this network has no {} condition",
            authority.name()
        )));
    }
    Ok(change)
}

/// The condition in force, decoded (single-key or multisig only).
async fn in_force(
    client: &Client,
    network: &NetworkInfo,
    authority: Authority,
) -> Result<Condition, WalletError> {
    let change = in_force_json(client, authority).await?;
    let condition = &change["condition"];
    match condition["type"].as_str() {
        Some("pubkey") => {
            let address = Address::parse(&text(&condition["address"])?, &network.prefix)
                .map_err(|error| WalletError::Address(error.to_string()))?;
            Ok(Condition::PubKeyHash(address.hash))
        }
        Some("multisig") => {
            let keys = condition["keys"]
                .as_array()
                .map(|keys| keys.iter().map(text).collect::<Result<Vec<_>, _>>())
                .transpose()?
                .unwrap_or_default();
            let required = crate::client::number(&condition["required"])?;
            let spec = format!("{required}:{}", keys.join(","));
            Ok(Condition::Multisig(crate::multisig::parse(&spec)?))
        }
        _ => Err(WalletError::Usage(format!(
            "the {} condition is {condition}; this wallet signs single-key and multisig conditions only",
            authority.name()
        ))),
    }
}

/// Parses a new authority condition: a single-key address, or a multisig
/// `M:KEY,KEY,…`.
pub fn parse_new(spec: &str, network: &NetworkInfo) -> Result<Condition, WalletError> {
    let spec = spec.trim();
    if spec.contains(':') {
        return Ok(Condition::Multisig(crate::multisig::parse(spec)?));
    }
    let address = Address::parse(spec, &network.prefix)
        .map_err(|error| WalletError::Address(error.to_string()))?;
    if address.kind != AddressKind::PubKey {
        return Err(WalletError::Address(format!(
            "{spec} is not a single-key address: give one, or a multisig as M:KEY,KEY,… (`wallet address keys` prints keys)"
        )));
    }
    Ok(Condition::PubKeyHash(address.hash))
}

/// A condition as text: its address, and for a multisig `M of N` and its spec.
pub fn describe(condition: &Condition, network: &NetworkInfo) -> String {
    let address = condition.address().display(&network.prefix).to_string();
    match condition {
        Condition::Multisig(multisig) => format!(
            "{address} ({} of {} keys: {})",
            multisig.required,
            multisig.keys.len(),
            crate::multisig::spec(multisig)
        ),
        _ => address,
    }
}

/// The indexes of this wallet's keys that sign for `condition`, or
/// [`WalletError::NotAuthority`].
fn signing_keys(
    keystore: &Keystore,
    authority: Authority,
    condition: &Condition,
    network: &NetworkInfo,
) -> Result<Vec<usize>, WalletError> {
    let not_held = || WalletError::NotAuthority {
        authority: authority.name(),
        condition: describe(condition, network),
    };
    match condition {
        Condition::PubKeyHash(_) => keystore
            .index_of(&condition.address())
            .map(|index| vec![index])
            .ok_or_else(not_held),
        Condition::Multisig(multisig) => {
            let own: Vec<usize> = multisig
                .keys
                .iter()
                .filter_map(|key| keystore.spending_keys.iter().position(|k| k == key))
                .take(multisig.required as usize)
                .collect();
            if (own.len() as u64) < multisig.required {
                return Err(not_held());
            }
            Ok(own)
        }
        _ => Err(not_held()),
    }
}

/// A fulfillment of the signed size, for the fee.
fn placeholder(condition: &Condition) -> Fulfillment {
    let pair = || KeySignature {
        public_key: PublicKey([0; 32]),
        signature: Signature([0; 64]),
    };
    match condition {
        Condition::Multisig(MultisigCondition { required, .. }) => {
            Fulfillment::MultiSignature(MultiSignatureFulfillment {
                pairs: (0..*required).map(|_| pair()).collect(),
            })
        }
        _ => {
            let KeySignature {
                public_key,
                signature,
            } = pair();
            Fulfillment::SingleSignature(SingleSignatureFulfillment {
                public_key,
                signature,
            })
        }
    }
}

/// A random non-zero nonce (replay protection of authorized payloads).
fn nonce() -> Nonce {
    let mut nonce = [0u8; 8];
    while nonce == [0; 8] {
        OsRng.fill_bytes(&mut nonce);
    }
    Nonce(nonce)
}

/// The authorization slot of a minting or authorized-address payload.
fn authorization_mut(payload: &mut Payload) -> Option<&mut Fulfillment> {
    match payload {
        Payload::Minting(
            MintingOperation::CreateCoins {
                mint_fulfillment, ..
            }
            | MintingOperation::ChangeMintCondition {
                mint_fulfillment, ..
            },
        ) => Some(mint_fulfillment),
        Payload::AuthorizedAddresses(
            AuthorizedAddressOperation::UpdateAddresses {
                authority_fulfillment,
                ..
            }
            | AuthorizedAddressOperation::ChangeAuthority {
                authority_fulfillment,
                ..
            },
        ) => Some(authority_fulfillment),
        _ => None,
    }
}

/// The pairs already in the payload's multisig authorization.
fn payload_pairs(transaction: &Transaction) -> Vec<KeySignature> {
    let mut transaction = transaction.clone();
    match transaction.payload.as_mut().and_then(authorization_mut) {
        Some(Fulfillment::MultiSignature(multi)) => multi.pairs.clone(),
        _ => Vec::new(),
    }
}

fn set_payload_pairs(transaction: &mut Transaction, pairs: Vec<KeySignature>) {
    if let Some(slot) = transaction.payload.as_mut().and_then(authorization_mut) {
        *slot = Fulfillment::MultiSignature(MultiSignatureFulfillment { pairs });
    }
}

/// `key`'s signature authorizing the payload of a transaction.
fn payload_signature(
    transaction: &Transaction,
    chain_id: ChainId,
    key: &SecretKey,
) -> Option<KeySignature> {
    let label = transaction.payload.as_ref()?.label();
    let context = FulfillContext {
        chain_id,
        transaction_id: transaction.id(),
        target: SignedTarget::Payload { label },
        height: BlockHeight(0),
        timestamp: Timestamp(0),
    };
    let public_key = key.public_key();
    Some(KeySignature {
        public_key,
        signature: key.sign(&signing_message(&context, &public_key, None)),
    })
}

/// Adds this wallet's pairs to a file's multisig payload authorization
/// (up to `M`); returns how many it added.
pub fn sign_payload(
    keystore: &Keystore,
    unlocked: &Unlocked,
    file: &mut TransactionFile,
) -> Result<usize, WalletError> {
    let Some(spec) = &file.payload_multisig else {
        return Ok(0);
    };
    let condition = crate::multisig::parse(spec)?;
    let mut pairs = payload_pairs(&file.transaction);
    let transaction = file.transaction.clone();
    let added = crate::multisig::add_pairs(keystore, unlocked, &condition, &mut pairs, |secret| {
        payload_signature(&transaction, file.chain_id, secret)
    });
    set_payload_pairs(&mut file.transaction, pairs);
    Ok(added)
}

/// Whether a file's multisig payload authorization (if any) has `M` pairs.
pub fn payload_complete(file: &TransactionFile) -> Result<bool, WalletError> {
    match &file.payload_multisig {
        None => Ok(true),
        Some(spec) => {
            Ok(payload_pairs(&file.transaction).len() as u64
                >= crate::multisig::parse(spec)?.required)
        }
    }
}

/// Joins `other`'s payload pairs into `file` (the same transaction).
pub fn merge_payload(
    file: &mut TransactionFile,
    other: &TransactionFile,
) -> Result<(), WalletError> {
    let Some(spec) = &file.payload_multisig else {
        return Ok(());
    };
    let required = crate::multisig::parse(spec)?.required;
    let mut pairs = payload_pairs(&file.transaction);
    crate::multisig::join_pairs(&mut pairs, payload_pairs(&other.transaction), required);
    set_payload_pairs(&mut file.transaction, pairs);
    Ok(())
}

impl Context {
    /// `mint show` / `auth show`: the condition in force, as the API has it.
    pub(crate) async fn show_condition(&self, authority: Authority) -> Result<Report, WalletError> {
        let client = self.client()?;
        self.network(&client).await?;
        let change = in_force_json(&client, authority).await?;
        Ok(Report {
            human: format!(
                "{} condition: {} (since height {})",
                authority.name(),
                change["condition"],
                change["sinceHeight"]
            ),
            json: change,
        })
    }

    /// Hands `authority` to the condition `spec` (see [`parse_new`]) with
    /// the payload `payload(new condition, nonce, fulfillment)`; the
    /// report carries the new condition under `key`.
    pub(crate) async fn change_condition(
        &self,
        authority: Authority,
        spec: &str,
        payload: impl Fn(Condition, Nonce, Fulfillment) -> Payload,
        key: &str,
        signing: &AuthorityArgs,
    ) -> Result<Report, WalletError> {
        let client = self.client()?;
        let network = self.network(&client).await?;
        let new_condition = parse_new(spec, &network)?;
        let described = describe(&new_condition, &network);
        if in_force(&client, &network, authority).await.ok().as_ref() == Some(&new_condition) {
            return Err(WalletError::Usage(format!(
                "the {} condition is already {described}: nothing was submitted",
                authority.name()
            )));
        }
        let mut report = self
            .authorized_transaction(
                &client,
                &network,
                Some(authority),
                |nonce, fulfillment| payload(new_condition.clone(), nonce, fulfillment),
                0,
                signing,
            )
            .await?;
        report.json[key] = json!(described);
        report.human = format!(
            "{}\nnew {} condition: {described}",
            report.human,
            authority.name()
        );
        Ok(report)
    }

    /// Builds, signs and submits a transaction carrying `payload(nonce,
    /// fulfillment)` (a fresh random nonce) authorized by `authority` (or
    /// no authority: `None`, e.g. a coin destruction), paying the fee (and
    /// `burn`) from this wallet's coins.
    pub(crate) async fn authorized_transaction(
        &self,
        client: &Client,
        network: &NetworkInfo,
        authority: Option<Authority>,
        payload: impl Fn(Nonce, Fulfillment) -> Payload,
        burn: u128,
        signing: &AuthorityArgs,
    ) -> Result<Report, WalletError> {
        let keystore = self.keystore()?;
        let nonce = nonce();
        let payload = |fulfillment| payload(nonce, fulfillment);
        let signer = match authority {
            Some(authority) => {
                let condition = in_force(client, network, authority).await?;
                let keys = match (&signing.unsigned, &condition) {
                    (None, _) => signing_keys(&keystore, authority, &condition, network)?,
                    (Some(_), Condition::Multisig(_)) => Vec::new(),
                    (Some(_), _) => {
                        return Err(WalletError::Usage(format!(
                            "--unsigned is for a multisig {} condition; its single key signs directly (drop --unsigned)",
                            authority.name()
                        )));
                    }
                };
                Some((condition, keys))
            }
            None => None,
        };
        let stand_in = signer
            .as_ref()
            .map(|(condition, _)| placeholder(condition))
            .unwrap_or(Fulfillment::Nil);
        let mut request = Request::payload_only(
            build::condition_for(&first_address(&keystore)?, None)?,
            payload(stand_in),
        );
        request.burn = burn;
        let funds = funds::load(client, network, &keystore).await?;
        let mut file = TransactionFile::unsigned(network, build::build(network, &funds, &request)?);
        if let (Some(path), Some((Condition::Multisig(multisig), _))) = (&signing.unsigned, &signer)
        {
            file.transaction.payload = Some(payload(Fulfillment::MultiSignature(
                MultiSignatureFulfillment { pairs: Vec::new() },
            )));
            file.payload_multisig = Some(crate::multisig::spec(multisig));
            file.write(path)?;
            let id = file.transaction.id().to_string();
            let fee = network.coins(file.transaction.fee);
            return Ok(Report {
                json: json!({ "unsigned": path.display().to_string(), "id": id, "fee": fee }),
                human: format!(
                    "unsigned transaction {id} (fee {fee}) written to {}; this wallet and {} key holders of the condition run `wallet sign`, then `wallet multisig merge` and `wallet submit`",
                    path.display(),
                    multisig.required
                ),
            });
        }
        let unlocked = keystore.unlock(&self.password()?)?;
        if let Some((condition, keys)) = signer {
            let mut pairs = Vec::new();
            for index in keys {
                let key = unlocked.spending_key(index as u64);
                pairs.extend(payload_signature(&file.transaction, network.chain_id, &key));
            }
            let fulfillment = match condition {
                Condition::Multisig(_) => {
                    Fulfillment::MultiSignature(MultiSignatureFulfillment { pairs })
                }
                _ => {
                    let pair = pairs
                        .into_iter()
                        .next()
                        .ok_or_else(|| WalletError::Usage("no signing key".into()))?;
                    Fulfillment::SingleSignature(SingleSignatureFulfillment {
                        public_key: pair.public_key,
                        signature: pair.signature,
                    })
                }
            };
            file.transaction.payload = Some(payload(fulfillment));
        }
        crate::commands::sign_file(&keystore, &unlocked, &mut file)?;
        self.submit(client, network, &file, &signing.wait).await
    }
}
