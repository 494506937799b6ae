//! Identity (docs/identity.md "Wallet"): `wallet identity …` registers an
//! identity, rotates and revokes its keys, adds attributes as salted
//! commitments, attests, vouches, manages organizations and
//! authorizations, and logs in to the API.
//!
//! Keys are the wallet's identity keys (`ledger::derivation::identity_key`,
//! a derivation separate from coins); the identity acts with the key of
//! the current index, and a rotation moves to the next index. What the
//! chain never sees stays in a file next to the keystore,
//! `<wallet>.identity.json` (mode 0600): the identity's name and ID, the
//! current key index, and every attribute's clear value with its salt, so
//! the owner can later show a verifier the value behind a commitment.
//! Only the commitment `H(tag ‖ salt ‖ value)` goes on chain.
//!
//! Every operation is a transaction carrying `Payload::Identity`, signed
//! by the identity key through the identity-statement transcript
//! (`ledger::payload::identity::sign_into`) and paid for by the wallet's
//! coins.

use std::path::{Path, PathBuf};

use ledger::crypto::{LoginChallenge, SecretKey};
use ledger::payload::identity::{
    AttributeLabel, IdentityAction, IdentityName, IdentityOperation, OrganizationPath, Role,
    Subject, sign_into,
};
use ledger::{AttributeCommitment, Hash32, IdentityId, OrganizationId, Payload, PublicKey};
use rand_core::{OsRng, RngCore};
use serde_json::{Value, json};

use crate::build::{self, Request};
use crate::cli::{IdentityCommand, KeysCommand, OrgCommand, WaitArgs};
use crate::client::{Client, NetworkInfo, bad_answer, text};
use crate::commands::{Context, Report, first_address, sign_file};
use crate::error::WalletError;
use crate::funds;
use crate::keystore::{Keystore, Unlocked, write_private_atomic};
use crate::txfile::TransactionFile;

/// What the wallet remembers about its identity (never on chain in clear).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct IdentityFile {
    pub format: String,
    pub version: u32,
    pub identity: Option<OwnIdentity>,
    #[serde(default)]
    pub attributes: Vec<OwnAttribute>,
}

/// The registered identity.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct OwnIdentity {
    pub name: String,
    /// Hex.
    pub id: String,
    /// Index of the identity key that acts now.
    pub key_index: u64,
}

/// An attribute's clear value and salt (the chain holds the commitment).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct OwnAttribute {
    pub label: String,
    pub value: String,
    /// 32 bytes, hex.
    pub salt: String,
    /// Hex.
    pub commitment: String,
}

const FORMAT: &str = "blockstake-identity";

/// `<wallet>.identity.json` beside the keystore `<wallet>.json`.
pub fn identity_path(keystore: &Path) -> PathBuf {
    let stem = keystore
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_else(|| "wallet".into());
    keystore.with_file_name(format!("{stem}.identity.json"))
}

impl IdentityFile {
    pub fn load(path: &Path) -> Result<IdentityFile, WalletError> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let file: IdentityFile = serde_json::from_str(&text).map_err(|error| {
                    WalletError::Usage(format!(
                        "{} is not an identity file: {error}",
                        path.display()
                    ))
                })?;
                if file.format != FORMAT || file.version != 1 {
                    return Err(WalletError::Usage(format!(
                        "{} is not a version 1 {FORMAT} file",
                        path.display()
                    )));
                }
                Ok(file)
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(IdentityFile {
                format: FORMAT.into(),
                version: 1,
                ..IdentityFile::default()
            }),
            Err(source) => Err(WalletError::Io {
                what: format!("reading {}", path.display()),
                source,
            }),
        }
    }

    pub fn save(&self, path: &Path) -> Result<(), WalletError> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|error| WalletError::Usage(format!("encoding the identity file: {error}")))?;
        write_private_atomic(path, text.as_bytes())
    }

    /// The registered identity, or a USAGE error saying to register.
    pub fn registered(&self) -> Result<&OwnIdentity, WalletError> {
        self.identity.as_ref().ok_or_else(|| {
            WalletError::Usage(
                "this wallet has no identity yet: `wallet identity register NAME`".into(),
            )
        })
    }
}

impl OwnIdentity {
    pub fn identity_id(&self) -> Result<IdentityId, WalletError> {
        parse_hash(&self.id).map(IdentityId)
    }
}

fn parse_hash(text: &str) -> Result<Hash32, WalletError> {
    text.trim()
        .parse()
        .map_err(|_| WalletError::Usage(format!("{text:?} is not 64 hexadecimal digits")))
}

fn usage(error: impl std::fmt::Display) -> WalletError {
    WalletError::Usage(error.to_string())
}

/// Makes sure the keystore lists identity keys up to `index` (so that
/// unlocking re-derives and checks them) and saves it when it grew.
pub(crate) fn ensure_identity_keys(
    keystore: &mut Keystore,
    unlocked: &Unlocked,
    index: u64,
) -> Result<(), WalletError> {
    let before = keystore.identity_keys.len();
    while (keystore.identity_keys.len() as u64) <= index {
        let next = keystore.identity_keys.len() as u64;
        keystore
            .identity_keys
            .push(unlocked.identity_key(next)?.public_key());
    }
    if keystore.identity_keys.len() != before {
        keystore.save()?;
    }
    Ok(())
}

/// An identity or organization as the API resolves a name.
async fn identity_id(client: &Client, name: &str) -> Result<IdentityId, WalletError> {
    let name = IdentityName::parse(name).map_err(usage)?;
    let data = client
        .query(
            "query($n: String!) { identity(name: $n) { id } }",
            json!({ "n": name.as_str() }),
        )
        .await?;
    let id = data["identity"]["id"]
        .as_str()
        .ok_or_else(|| WalletError::Usage(format!("no identity is named {:?}", name.as_str())))?;
    Ok(IdentityId(parse_hash(id)?))
}

async fn organization_id(client: &Client, path: &str) -> Result<OrganizationId, WalletError> {
    let path = OrganizationPath::parse(path).map_err(usage)?;
    let data = client
        .query(
            "query($p: String!) { organization(path: $p) { id } }",
            json!({ "p": path.as_str() }),
        )
        .await?;
    let id = data["organization"]["id"].as_str().ok_or_else(|| {
        WalletError::Usage(format!("no organization has the path {:?}", path.as_str()))
    })?;
    Ok(OrganizationId(parse_hash(id)?))
}

/// A subject named on the command line: an identity name, or an
/// organization path with `--organization`.
async fn subject(client: &Client, name: &str, organization: bool) -> Result<Subject, WalletError> {
    Ok(if organization {
        Subject::Organization(organization_id(client, name).await?)
    } else {
        Subject::Identity(identity_id(client, name).await?)
    })
}

fn parse_role(text: &str) -> Result<Role, WalletError> {
    match text.trim().to_ascii_lowercase().as_str() {
        "member" => Ok(Role::Member),
        "owner" => Ok(Role::Owner),
        other => Err(WalletError::Usage(format!(
            "role {other:?}: expected member or owner"
        ))),
    }
}

/// A built and signed identity transaction, submitted.
struct Submitted {
    report: Report,
    transaction_id: ledger::TransactionId,
}

impl Context {
    pub(crate) async fn identity(&self, command: IdentityCommand) -> Result<Report, WalletError> {
        let path = identity_path(self.wallet_path());
        match command {
            IdentityCommand::Register { name, wait } => self.register(&path, &name, &wait).await,
            IdentityCommand::Show { name } => self.show(&path, name.as_deref()).await,
            IdentityCommand::Keys(KeysCommand::Rotate { wait }) => {
                self.new_key(&path, true, &wait).await
            }
            IdentityCommand::Keys(KeysCommand::Add { wait }) => {
                self.new_key(&path, false, &wait).await
            }
            IdentityCommand::Keys(KeysCommand::Revoke { key, wait }) => {
                let own = IdentityFile::load(&path)?.registered()?.clone();
                let key = parse_key(&key)?;
                let keystore = self.keystore()?;
                if keystore.identity_keys.get(own.key_index as usize) == Some(&key) {
                    return Err(WalletError::Usage(
                        "that is the key this wallet acts with: `wallet identity keys add` (or `rotate`) first, then revoke it".into(),
                    ));
                }
                let action = IdentityAction::RevokeKey {
                    identity: own.identity_id()?,
                    public_key: key,
                };
                let mut done = self.act(&own, action, None, &wait).await?.report;
                done.json["revoked"] = json!(hex::encode(key.0));
                Ok(done)
            }
            IdentityCommand::Keys(KeysCommand::List) => {
                let keystore = self.keystore()?;
                let own = IdentityFile::load(&path)?.identity;
                let keys: Vec<Value> = keystore
                    .identity_keys
                    .iter()
                    .enumerate()
                    .map(|(index, key)| {
                        json!({ "index": index, "publicKey": hex::encode(key.0),
                                "current": own.as_ref().is_some_and(|own| own.key_index == index as u64) })
                    })
                    .collect();
                let human = keys
                    .iter()
                    .map(|key| {
                        format!(
                            "{} {}{}",
                            key["index"],
                            key["publicKey"].as_str().unwrap_or_default(),
                            if key["current"] == json!(true) {
                                " (current)"
                            } else {
                                ""
                            }
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n");
                Ok(Report {
                    json: json!({ "identityKeys": keys }),
                    human,
                })
            }
            IdentityCommand::Attr { label, value, wait } => {
                self.add_attribute(&path, &label, &value, &wait).await
            }
            IdentityCommand::Attest {
                subject: name,
                label,
                commitment,
                wait,
            } => {
                let own = IdentityFile::load(&path)?.registered()?.clone();
                let client = self.client()?;
                let action = IdentityAction::Attest {
                    verifier: own.identity_id()?,
                    subject: identity_id(&client, &name).await?,
                    label: AttributeLabel::parse(&label).map_err(usage)?,
                    commitment: AttributeCommitment(parse_hash(&commitment)?),
                };
                self.act(&own, action, None, &wait)
                    .await
                    .map(|done| done.report)
            }
            IdentityCommand::Vouch {
                target,
                weight,
                claim,
                withdraw,
                wait,
            } => {
                let own = IdentityFile::load(&path)?.registered()?.clone();
                let client = self.client()?;
                let target = identity_id(&client, &target).await?;
                let action = if withdraw {
                    IdentityAction::WithdrawVouch {
                        voucher: own.identity_id()?,
                        target,
                    }
                } else {
                    IdentityAction::Vouch {
                        voucher: own.identity_id()?,
                        target,
                        weight,
                        claim,
                    }
                };
                self.act(&own, action, None, &wait)
                    .await
                    .map(|done| done.report)
            }
            IdentityCommand::Org(command) => self.organization(&path, command).await,
            IdentityCommand::Grant {
                organization,
                scopes,
                wait,
            } => {
                let own = IdentityFile::load(&path)?.registered()?.clone();
                let client = self.client()?;
                let mut labels = scopes
                    .iter()
                    .map(|scope| AttributeLabel::parse(scope).map_err(usage))
                    .collect::<Result<Vec<_>, _>>()?;
                labels.sort();
                labels.dedup();
                let action = IdentityAction::GrantAuthorization {
                    identity: own.identity_id()?,
                    organization: organization_id(&client, &organization).await?,
                    scopes: labels,
                };
                self.act(&own, action, None, &wait)
                    .await
                    .map(|done| done.report)
            }
            IdentityCommand::Revoke { organization, wait } => {
                let own = IdentityFile::load(&path)?.registered()?.clone();
                let client = self.client()?;
                let action = IdentityAction::RevokeAuthorization {
                    identity: own.identity_id()?,
                    organization: organization_id(&client, &organization).await?,
                };
                self.act(&own, action, None, &wait)
                    .await
                    .map(|done| done.report)
            }
            IdentityCommand::Login => self.login(&path).await,
        }
    }

    async fn organization(&self, path: &Path, command: OrgCommand) -> Result<Report, WalletError> {
        let own = IdentityFile::load(path)?.registered()?.clone();
        let client = self.client()?;
        let me = own.identity_id()?;
        let (action, wait) = match command {
            OrgCommand::Create { path: org, wait } => (
                IdentityAction::CreateOrganization {
                    creator: me,
                    path: OrganizationPath::parse(&org).map_err(usage)?,
                },
                wait,
            ),
            OrgCommand::Invite {
                organization,
                subject: name,
                role,
                subject_is_organization,
                wait,
            } => (
                IdentityAction::Invite {
                    actor: me,
                    organization: organization_id(&client, &organization).await?,
                    subject: subject(&client, &name, subject_is_organization).await?,
                    role: parse_role(&role)?,
                },
                wait,
            ),
            OrgCommand::Accept {
                organization,
                on_behalf_of,
                wait,
            } => (
                IdentityAction::AcceptInvitation {
                    actor: me,
                    organization: organization_id(&client, &organization).await?,
                    subject: match on_behalf_of {
                        Some(org) => Subject::Organization(organization_id(&client, &org).await?),
                        None => Subject::Identity(me),
                    },
                },
                wait,
            ),
            OrgCommand::Reject {
                organization,
                subject: name,
                subject_is_organization,
                wait,
            } => (
                IdentityAction::RejectInvitation {
                    actor: me,
                    organization: organization_id(&client, &organization).await?,
                    subject: match name {
                        Some(name) => subject(&client, &name, subject_is_organization).await?,
                        None => Subject::Identity(me),
                    },
                },
                wait,
            ),
            OrgCommand::Remove {
                organization,
                subject: name,
                subject_is_organization,
                wait,
            } => (
                IdentityAction::RemoveRole {
                    actor: me,
                    organization: organization_id(&client, &organization).await?,
                    subject: subject(&client, &name, subject_is_organization).await?,
                },
                wait,
            ),
        };
        let done = self.act(&own, action, None, &wait).await?;
        Ok(done.report)
    }

    async fn register(
        &self,
        path: &Path,
        name: &str,
        wait: &WaitArgs,
    ) -> Result<Report, WalletError> {
        let mut file = IdentityFile::load(path)?;
        if let Some(own) = &file.identity {
            return Err(WalletError::Usage(format!(
                "this wallet already registered the identity {} ({})",
                own.name, own.id
            )));
        }
        let name = IdentityName::parse(name).map_err(usage)?;
        let keystore = self.keystore()?;
        let unlocked = keystore.unlock(&self.password()?)?;
        let key = unlocked.identity_key(0)?;
        let action = IdentityAction::Register {
            name: name.clone(),
            public_key: key.public_key(),
        };
        let done = self
            .submit_operation(keystore, &unlocked, action, 0, None, wait)
            .await?;
        let id = IdentityId::for_registration(&done.transaction_id);
        file.identity = Some(OwnIdentity {
            name: name.as_str().to_owned(),
            id: id.to_string(),
            key_index: 0,
        });
        file.save(path)?;
        let mut report = done.report;
        report.json["identity"] = json!({ "name": name.as_str(), "id": id.to_string(),
                                           "publicKey": hex::encode(key.public_key().0) });
        report.human = format!(
            "identity {} registered (ID {id})\n{}",
            name.as_str(),
            report.human
        );
        Ok(report)
    }

    /// `keys rotate` (`retire`: the current key is retired) or `keys add`:
    /// binds the next identity key never used (every key the wallet used
    /// is listed in the keystore) and acts with it from now on.
    async fn new_key(
        &self,
        path: &Path,
        retire: bool,
        wait: &WaitArgs,
    ) -> Result<Report, WalletError> {
        let mut file = IdentityFile::load(path)?;
        let own = file.registered()?.clone();
        let keystore = self.keystore()?;
        let unlocked = keystore.unlock(&self.password()?)?;
        let old = unlocked.identity_key(own.key_index)?;
        let next_index = (keystore.identity_keys.len() as u64).max(own.key_index + 1);
        let new = unlocked.identity_key(next_index)?;
        let action = if retire {
            IdentityAction::RotateKey {
                identity: own.identity_id()?,
                old_key: old.public_key(),
                new_key: new.public_key(),
            }
        } else {
            IdentityAction::AddKey {
                identity: own.identity_id()?,
                public_key: new.public_key(),
            }
        };
        let done = self
            .submit_operation(
                keystore,
                &unlocked,
                action,
                own.key_index,
                Some(next_index),
                wait,
            )
            .await?;
        if let Some(identity) = file.identity.as_mut() {
            identity.key_index = next_index;
        }
        file.save(path)?;
        let mut report = done.report;
        report.json["oldKey"] = json!(hex::encode(old.public_key().0));
        report.json["newKey"] = json!(hex::encode(new.public_key().0));
        report.json["keyIndex"] = json!(next_index);
        report.human = format!(
            "key {} {}, key {} (identity key {next_index}) acts now\n{}",
            hex::encode(old.public_key().0),
            if retire { "retired" } else { "stays active" },
            hex::encode(new.public_key().0),
            report.human
        );
        Ok(report)
    }

    async fn add_attribute(
        &self,
        path: &Path,
        label: &str,
        value: &str,
        wait: &WaitArgs,
    ) -> Result<Report, WalletError> {
        let mut file = IdentityFile::load(path)?;
        let own = file.registered()?.clone();
        let label = AttributeLabel::parse(label).map_err(usage)?;
        let mut salt = [0u8; ledger::payload::identity::SALT_LEN];
        OsRng.fill_bytes(&mut salt);
        let commitment = AttributeCommitment::compute(&salt, value.as_bytes());
        let action = IdentityAction::AddAttribute {
            identity: own.identity_id()?,
            label: label.clone(),
            commitment,
        };
        let done = self.act(&own, action, None, wait).await?;
        file.attributes
            .retain(|attribute| attribute.label != label.as_str());
        file.attributes.push(OwnAttribute {
            label: label.as_str().to_owned(),
            value: value.to_owned(),
            salt: hex::encode(salt),
            commitment: commitment.to_string(),
        });
        file.save(path)?;
        let mut report = done.report;
        report.json["label"] = json!(label.as_str());
        report.json["commitment"] = json!(commitment.to_string());
        report.human = format!(
            "attribute {} committed as {commitment} (value and salt kept in {})\n{}",
            label.as_str(),
            path.display(),
            report.human
        );
        Ok(report)
    }

    /// Submits `action` signed with the identity's current key (and, for
    /// an action binding a new key, the key of `new_index`).
    async fn act(
        &self,
        own: &OwnIdentity,
        action: IdentityAction,
        new_index: Option<u64>,
        wait: &WaitArgs,
    ) -> Result<Submitted, WalletError> {
        let keystore = self.keystore()?;
        let unlocked = keystore.unlock(&self.password()?)?;
        self.submit_operation(keystore, &unlocked, action, own.key_index, new_index, wait)
            .await
    }

    async fn submit_operation(
        &self,
        mut keystore: Keystore,
        unlocked: &Unlocked,
        action: IdentityAction,
        key_index: u64,
        new_index: Option<u64>,
        wait: &WaitArgs,
    ) -> Result<Submitted, WalletError> {
        ensure_identity_keys(
            &mut keystore,
            unlocked,
            new_index.unwrap_or(key_index).max(key_index),
        )?;
        let actor = unlocked.identity_key(key_index)?;
        let new_key = new_index
            .map(|index| unlocked.identity_key(index))
            .transpose()?;
        let client = self.client()?;
        let network = self.network(&client).await?;
        let mut operation = IdentityOperation::unsigned(action, actor.public_key());
        if operation.action.new_key().is_some() {
            // The size of the signed payload, for the fee.
            operation.new_key_signature = Some(ledger::Signature::default());
        }
        let request = Request::payload_only(
            build::condition_for(&first_address(&keystore)?, None)?,
            Payload::Identity(operation.clone()),
        );
        let funds = funds::load(&client, &network, &keystore).await?;
        let mut file =
            TransactionFile::unsigned(&network, build::build(&network, &funds, &request)?);
        let transaction_id = sign_into(
            &mut file.transaction,
            operation,
            &network.chain_id,
            &actor,
            new_key.as_ref(),
        );
        sign_file(&keystore, unlocked, &mut file)?;
        let report = self.submit(&client, &network, &file, wait).await?;
        Ok(Submitted {
            report,
            transaction_id,
        })
    }

    async fn show(&self, path: &Path, name: Option<&str>) -> Result<Report, WalletError> {
        let file = IdentityFile::load(path)?;
        let name = match name {
            Some(name) => IdentityName::parse(name)
                .map_err(usage)?
                .as_str()
                .to_owned(),
            None => file.registered()?.name.clone(),
        };
        let client = self.client()?;
        self.network(&client).await?;
        let data = client
            .query(
                "query($n: String!) { identity(name: $n) {
                   id name registeredHeight
                   keys { nodes { publicKey status addedHeight retiredHeight revokedHeight } }
                   attributes { label commitment attestations { verifier { name } status } }
                   vouchesReceived { nodes { voucher { name } weight claim } }
                   memberships { nodes { organization { path } role } }
                 } }",
                json!({ "n": name }),
            )
            .await?;
        let identity = data["identity"].clone();
        if identity.is_null() {
            return Err(WalletError::Usage(format!("no identity is named {name:?}")));
        }
        let mut human = format!(
            "identity {} ({}), registered at height {}",
            text(&identity["name"])?,
            text(&identity["id"])?,
            identity["registeredHeight"]
        );
        for key in identity["keys"]["nodes"].as_array().into_iter().flatten() {
            human.push_str(&format!(
                "\n  key {} {}",
                key["publicKey"].as_str().unwrap_or_default(),
                key["status"].as_str().unwrap_or_default()
            ));
        }
        for attribute in identity["attributes"].as_array().into_iter().flatten() {
            human.push_str(&format!(
                "\n  attribute {} = {} ({} attestations)",
                attribute["label"].as_str().unwrap_or_default(),
                attribute["commitment"].as_str().unwrap_or_default(),
                attribute["attestations"].as_array().map_or(0, Vec::len)
            ));
        }
        for vouch in identity["vouchesReceived"]["nodes"]
            .as_array()
            .into_iter()
            .flatten()
        {
            human.push_str(&format!(
                "\n  vouched for by {} (weight {})",
                vouch["voucher"]["name"].as_str().unwrap_or_default(),
                vouch["weight"]
            ));
        }
        for membership in identity["memberships"]["nodes"]
            .as_array()
            .into_iter()
            .flatten()
        {
            human.push_str(&format!(
                "\n  {} of {}",
                membership["role"].as_str().unwrap_or_default(),
                membership["organization"]["path"]
                    .as_str()
                    .unwrap_or_default()
            ));
        }
        let mut json = json!({ "identity": identity });
        if file.identity.as_ref().is_some_and(|own| own.name == name) {
            json["local"] = json!({ "keyIndex": file.identity.as_ref().map(|own| own.key_index),
                                    "attributes": file.attributes });
        }
        Ok(Report { json, human })
    }

    pub(crate) async fn login(&self, path: &Path) -> Result<Report, WalletError> {
        let own = IdentityFile::load(path)?.registered()?.clone();
        let keystore = self.keystore()?;
        let unlocked = keystore.unlock(&self.password()?)?;
        let key = unlocked.identity_key(own.key_index)?;
        let client = self.client()?;
        let network = self.network(&client).await?;
        let data = self.login_answer(&client, &network, &own, &key).await?;
        let login = &data["login"];
        let token = text(&login["token"])?;
        Ok(Report {
            json: json!({ "token": token, "identity": login["identity"], "expiresAt": login["expiresAt"] }),
            human: format!(
                "logged in as {} until {} (unix); send `Authorization: Bearer <token>`:\n{token}",
                login["identity"].as_str().unwrap_or_default(),
                login["expiresAt"]
            ),
        })
    }
}

impl Context {
    /// A login token of `own` with its key `key` (the API's `login`).
    pub(crate) async fn login_token(
        &self,
        client: &Client,
        network: &NetworkInfo,
        own: &OwnIdentity,
        key: &SecretKey,
    ) -> Result<String, WalletError> {
        let data = self.login_answer(client, network, own, key).await?;
        text(&data["login"]["token"])
    }

    /// Asks for a challenge, checks its origin, signs it and logs in.
    async fn login_answer(
        &self,
        client: &Client,
        network: &NetworkInfo,
        own: &OwnIdentity,
        key: &SecretKey,
    ) -> Result<Value, WalletError> {
        let data = client
            .query(
                "mutation($i: String, $k: String) { loginChallenge(identity: $i, publicKey: $k) { challenge } }",
                json!({ "i": own.name, "k": hex::encode(key.public_key().0) }),
            )
            .await?;
        let text_challenge = text(&data["loginChallenge"]["challenge"])?;
        let (challenge, _tag) = LoginChallenge::from_text(&text_challenge).map_err(bad_answer)?;
        // Sign only for the API this wallet talks to.
        let expected = api_origin(&client.url)?;
        if challenge.origin != expected {
            return Err(WalletError::Usage(format!(
                "the API at {} sent a challenge for {:?}; refusing to sign it for another origin",
                client.url, challenge.origin
            )));
        }
        let signature = challenge.sign(&network.chain_id, key);
        client
            .query(
                "mutation($c: String!, $k: String!, $s: String!) { login(challenge: $c, publicKey: $k, signature: $s) { token identity expiresAt } }",
                json!({ "c": text_challenge, "k": hex::encode(key.public_key().0),
                        "s": hex::encode(signature.0) }),
            )
            .await
    }
}

fn parse_key(text: &str) -> Result<PublicKey, WalletError> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(text.trim().trim_start_matches("ed25519:"), &mut bytes)
        .map_err(|_| WalletError::Usage(format!("{text:?} is not a public key (64 hex digits)")))?;
    Ok(PublicKey(bytes))
}

/// `scheme://host[:port]` of an API URL.
fn api_origin(url: &str) -> Result<String, WalletError> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| WalletError::Usage(format!("API URL {url:?} has no scheme")))?;
    let host = rest.split('/').next().unwrap_or_default();
    Ok(format!("{scheme}://{host}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_and_paths() {
        assert_eq!(
            api_origin("http://127.0.0.1:8080/graphql").ok(),
            Some("http://127.0.0.1:8080".into())
        );
        assert!(api_origin("127.0.0.1").is_err());
        assert_eq!(
            identity_path(Path::new("/w/alice.json")),
            PathBuf::from("/w/alice.identity.json")
        );
    }
}
