//! Compute (docs/compute.md "Wallet"): `wallet blueprint plan|apply|destroy`
//! turns a YAML blueprint into the deployment transactions of this
//! wallet's identity, and `wallet compute register-node` registers a node
//! the identity owns.
//!
//! The plan compares the blueprint with the identity's deployments as the
//! API's compute read model has them (`deployments(owner) { specHex }`,
//! the exact ledger spec) through `chain::domains::compute::blueprint::plan`,
//! so `apply` is idempotent: when the chain already matches, nothing is
//! submitted and the answer is "no change". A bad blueprint is a
//! `BAD_BLUEPRINT` error naming its line and field before anything is
//! built. Owner operations are signed with the identity key that acts now
//! (`ledger::payload::compute::sign_into`) and paid by the wallet's coins;
//! a creation escrows `--deposit` coins as output 0.

use std::path::Path;

use chain::domains::compute::blueprint::{self, Action, CurrentDeployment, Diff};
use ledger::crypto::SecretKey;
use ledger::payload::compute::operation::sign_into;
use ledger::payload::compute::{
    ComputeAction, ComputeOperation, DeploymentId, DeploymentSpec, Location, Name, NodeId,
    Resources, escrow_condition,
};
use ledger::{Address, AddressKind, Condition, Hash32, IdentityId, Payload, codec};
use serde_json::{Value, json};

use crate::build::{self, Recipient, Request};
use crate::cli::{BlueprintCommand, ComputeCommand, WaitArgs};
use crate::client::{Client, NetworkInfo, bad_answer, text};
use crate::commands::{Context, Report, first_address, sign_file, to_text};
use crate::error::WalletError;
use crate::funds;
use crate::identity::{IdentityFile, OwnIdentity, ensure_identity_keys, identity_path};
use crate::txfile::TransactionFile;

/// Reads and parses a blueprint file.
fn read_blueprint(path: &Path) -> Result<DeploymentSpec, WalletError> {
    let text = std::fs::read_to_string(path).map_err(|source| WalletError::Io {
        what: format!("reading blueprint {}", path.display()),
        source,
    })?;
    blueprint::parse(&text).map_err(|source| WalletError::Blueprint {
        path: path.to_owned(),
        source,
    })
}

/// The owner's active deployments as the API's compute model has them.
async fn current_deployments(
    client: &Client,
    owner: &IdentityId,
) -> Result<Vec<CurrentDeployment>, WalletError> {
    let data = client
        .query(
            "query($owner: String!) { deployments(owner: $owner, limit: 500) { id specHex } }",
            json!({ "owner": owner.to_string() }),
        )
        .await?;
    let list = data["deployments"]
        .as_array()
        .ok_or_else(|| bad_answer("deployments is not a list"))?;
    list.iter()
        .map(|deployment| {
            let id: Hash32 = text(&deployment["id"])?
                .parse()
                .map_err(|_| bad_answer("a deployment ID is not 64 hex digits"))?;
            let bytes = hex::decode(text(&deployment["specHex"])?)
                .map_err(|_| bad_answer("a deployment's specHex is not hex"))?;
            let spec: DeploymentSpec = codec::decode(&bytes)
                .map_err(|error| bad_answer(format!("a deployment's spec: {error}")))?;
            Ok(CurrentDeployment {
                id: DeploymentId(id),
                spec,
            })
        })
        .collect()
}

/// The plan's lines, for people and for `--json`.
fn describe(diff: &Diff) -> (Value, String) {
    let (action, deployment) = match &diff.action {
        Action::Nothing => ("none", None),
        Action::Create(_) => ("create", None),
        Action::Update { deployment, .. } => ("update", Some(deployment.to_string())),
        Action::Cancel { deployment } => ("cancel", Some(deployment.to_string())),
    };
    let changes: Vec<String> = diff.changes.iter().map(ToString::to_string).collect();
    let human = match &diff.action {
        Action::Nothing => "no change: the chain matches the blueprint".to_owned(),
        _ => {
            let mut lines = vec![match &deployment {
                Some(id) => format!("{action} deployment {id}"),
                None => format!("{action} deployment"),
            }];
            lines.extend(changes.iter().map(|change| format!("  {change}")));
            lines.join("\n")
        }
    };
    (
        json!({ "action": action, "deployment": deployment, "changes": changes }),
        human,
    )
}

impl Context {
    pub(crate) async fn blueprint(&self, command: BlueprintCommand) -> Result<Report, WalletError> {
        let own = IdentityFile::load(&identity_path(self.wallet_path()))?
            .registered()?
            .clone();
        let owner = own.identity_id()?;
        match command {
            BlueprintCommand::Plan { file } => {
                let spec = read_blueprint(&file)?;
                let client = self.client()?;
                self.network(&client).await?;
                let current = current_deployments(&client, &owner).await?;
                let diff = blueprint::plan(&spec, &current)?;
                let (json, human) = describe(&diff);
                Ok(Report {
                    json: json!({ "plan": json }),
                    human,
                })
            }
            BlueprintCommand::Apply {
                file,
                deposit,
                refund,
                wait,
            } => {
                let spec = read_blueprint(&file)?;
                let client = self.client()?;
                let network = self.network(&client).await?;
                let deposit = network.parse_coins(&deposit)?;
                let refund = self.paid_to(&network, refund.as_deref())?;
                let current = current_deployments(&client, &owner).await?;
                let diff = blueprint::plan(&spec, &current)?;
                let (plan, human) = describe(&diff);
                let (action, escrow) = match diff.action {
                    Action::Nothing => {
                        return Ok(Report {
                            json: json!({ "plan": plan, "applied": false }),
                            human,
                        });
                    }
                    Action::Create(spec) => (
                        ComputeAction::CreateDeployment {
                            owner,
                            spec,
                            deposit: (!deposit.is_zero()).then_some(0),
                            refund,
                        },
                        (!deposit.is_zero()).then_some(deposit.0),
                    ),
                    Action::Update { deployment, spec } => (
                        ComputeAction::UpdateDeployment {
                            owner,
                            deployment,
                            spec,
                        },
                        None,
                    ),
                    Action::Cancel { .. } => {
                        return Err(bad_answer("a blueprint plan never cancels"));
                    }
                };
                let created = matches!(action, ComputeAction::CreateDeployment { .. });
                let done = self
                    .submit_compute(&own, action, escrow, None, &wait)
                    .await?;
                let mut report = done.0;
                report.json["plan"] = plan;
                report.json["applied"] = json!(true);
                if created {
                    let id = DeploymentId::for_creation(&done.1);
                    report.json["deployment"] = json!(id.to_string());
                    report.human = format!("{human}\ndeployment {id}\n{}", report.human);
                } else {
                    report.human = format!("{human}\n{}", report.human);
                }
                Ok(report)
            }
            BlueprintCommand::Destroy { file, wait } => {
                let spec = read_blueprint(&file)?;
                let client = self.client()?;
                self.network(&client).await?;
                let current = current_deployments(&client, &owner).await?;
                let diff = blueprint::plan_destroy(&spec.name, &current)?;
                let (plan, human) = describe(&diff);
                let Action::Cancel { deployment } = diff.action else {
                    return Ok(Report {
                        json: json!({ "plan": plan, "applied": false }),
                        human: format!("no change: no deployment named {}", spec.name),
                    });
                };
                let action = ComputeAction::CancelDeployment { owner, deployment };
                let (mut report, _) = self.submit_compute(&own, action, None, None, &wait).await?;
                report.json["plan"] = plan;
                report.json["applied"] = json!(true);
                report.human = format!("{human}\n{}", report.human);
                Ok(report)
            }
        }
    }

    pub(crate) async fn compute(&self, command: ComputeCommand) -> Result<Report, WalletError> {
        let ComputeCommand::RegisterNode {
            node_key_file,
            farm,
            country,
            city,
            cores,
            memory_mib,
            disk_gib,
            payout,
            wait,
        } = command;
        let usage = |error: &dyn std::fmt::Display| WalletError::Usage(error.to_string());
        let farm = Name::new(&farm.to_ascii_lowercase()).map_err(|error| usage(&error))?;
        let location = Location::new(&country.to_ascii_lowercase(), &city.to_ascii_lowercase())
            .map_err(|error| usage(&error))?;
        if cores == 0 || memory_mib == 0 || disk_gib == 0 {
            return Err(WalletError::Usage(
                "--cores, --memory-mib and --disk-gib must each be at least 1".into(),
            ));
        }
        let node_key = read_node_key(&node_key_file)?;
        let own = IdentityFile::load(&identity_path(self.wallet_path()))?
            .registered()?
            .clone();
        let node = NodeId::for_key(&node_key.public_key());
        let network = self.network(&self.client()?).await?;
        let payout = self.paid_to(&network, payout.as_deref())?;
        let action = ComputeAction::RegisterNode {
            owner: own.identity_id()?,
            node_key: node_key.public_key(),
            farm,
            location,
            capacity: Resources::new(cores, memory_mib, disk_gib),
            payout,
        };
        let (mut report, _) = self
            .submit_compute(&own, action, None, Some(&node_key), &wait)
            .await?;
        report.json["node"] = json!(node.to_string());
        report.human = format!("compute node {node} registered\n{}", report.human);
        Ok(report)
    }

    /// The condition compute pays (a node's payout, a deployment's
    /// refund): `address` (a public-key address), or the wallet's first
    /// address.
    fn paid_to(
        &self,
        network: &NetworkInfo,
        address: Option<&str>,
    ) -> Result<Condition, WalletError> {
        let address = match address {
            Some(text) => Address::parse(text.trim(), &network.prefix)
                .map_err(|error| WalletError::Address(error.to_string()))?,
            None => first_address(&self.keystore()?)?,
        };
        if address.kind != AddressKind::PubKey {
            return Err(WalletError::Address(format!(
                "{}: compute pays public-key addresses only from the wallet",
                to_text(&address, network)?
            )));
        }
        build::condition_for(&address, None)
    }

    /// Builds, signs (identity key; `node_key` for a registration) and
    /// submits one compute operation; `escrow` base units go to the escrow
    /// condition as output 0.
    async fn submit_compute(
        &self,
        own: &OwnIdentity,
        action: ComputeAction,
        escrow: Option<u128>,
        node_key: Option<&SecretKey>,
        wait: &WaitArgs,
    ) -> Result<(Report, ledger::TransactionId), WalletError> {
        let mut keystore = self.keystore()?;
        let unlocked = keystore.unlock(&self.password()?)?;
        ensure_identity_keys(&mut keystore, &unlocked, own.key_index)?;
        let actor = unlocked.identity_key(own.key_index)?;
        let client = self.client()?;
        let network = self.network(&client).await?;
        let change = build::condition_for(&first_address(&keystore)?, None)?;
        let operation = ComputeOperation::unsigned(action.clone(), Some(actor.public_key()));
        let mut request = Request::payload_only(change, Payload::Compute(operation));
        if let Some(value) = escrow {
            request.recipients.push(Recipient {
                address: first_address(&keystore)?,
                value,
                lock: None,
                multisig: None,
                condition: Some(escrow_condition()),
            });
        }
        let funds = funds::load(&client, &network, &keystore).await?;
        let mut file =
            TransactionFile::unsigned(&network, build::build(&network, &funds, &request)?);
        let id = sign_into(
            &mut file.transaction,
            action,
            &network.chain_id,
            Some(&actor),
            node_key,
        );
        sign_file(&keystore, &unlocked, &mut file)?;
        let report = self.submit(&client, &network, &file, wait).await?;
        Ok((report, id))
    }
}

/// A node key file: the 32-byte seed in hex (the node agent's format).
fn read_node_key(path: &Path) -> Result<SecretKey, WalletError> {
    let text = std::fs::read_to_string(path).map_err(|source| WalletError::Io {
        what: format!("reading node key file {}", path.display()),
        source,
    })?;
    let seed = hex::decode(text.trim())
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes.as_slice()).ok())
        .ok_or_else(|| {
            WalletError::Usage(format!(
                "node key file {} must hold a 32-byte seed in hex (64 digits)",
                path.display()
            ))
        })?;
    Ok(SecretKey::from_seed(seed))
}
