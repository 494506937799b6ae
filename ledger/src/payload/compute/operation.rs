//! Compute operations carried by transactions, and who signs them.
//!
//! | action | signed by |
//! |---|---|
//! | `RegisterNode` | an active key of the owner identity, and the node key |
//! | `SetPowerTarget`, `CreateDeployment`, `UpdateDeployment`, `CancelDeployment` | an active key of the owner identity |
//! | `Report` (uptime, power state, workload states) | the node key |
//! | `TopUp`, `Bill`, `Heal` | nobody (whoever pays the fee) |
//!
//! What is signed ([`ComputeOperation::signing_message`]):
//!
//! ```text
//! transcript("blockstake/signature/v1")
//!   purpose        = "identity-statement" (owner) | "node-report" (node key)
//!   chain-id       = 32 bytes
//!   transaction-id = 32 bytes (the ID excludes these signatures)
//!   action         = canonical encoding of the ComputeAction
//!   signer-role    = "compute-owner" | "compute-node"
//!   public-key     = 32 bytes
//! challenge "sig", 64 bytes
//! ```
//!
//! A compute payload needs at least one coin input (it pays its fee), so
//! its transaction ID is unique and a signature can never be replayed.

use thiserror::Error;

use super::{
    DeploymentId, DeploymentSpec, Location, MAX_REASON_LEN, Name, NameError, NodeId, Resources,
    SpecError, WorkloadState,
};
use crate::codec;
use crate::condition::Condition;
use crate::crypto::hash::{HashTag, tagged_hash};
use crate::crypto::{
    ChainId, KeyError, PublicKey, SecretKey, Signature, SigningMessage, SigningPurpose,
    SigningTranscript,
};
use crate::params::NetworkParams;
use crate::payload::{DomainPayload, Payload, PayloadError};
use crate::transaction::Transaction;
use crate::types::{Hash32, IdentityId, TransactionId};

/// Most workload states in one report.
pub const MAX_REPORTED_WORKLOADS: usize = 256;

impl NodeId {
    /// `H("blockstake/compute/node-id/v1" ‖ node key)`: the agent knows its
    /// ID from its key alone.
    pub fn for_key(key: &PublicKey) -> NodeId {
        NodeId(tagged_hash(HashTag::ComputeNodeId, &key.0))
    }
}

impl DeploymentId {
    /// A deployment's ID is the ID of the transaction that created it.
    pub fn for_creation(transaction: &TransactionId) -> DeploymentId {
        DeploymentId(transaction.0)
    }
}

/// The condition compute deposits are paid to: a public-key hash whose
/// preimage nobody knows, so the coins leave circulation and become the
/// deployment's prepaid balance in consensus state.
pub fn escrow_condition() -> Condition {
    Condition::PubKeyHash(escrow_hash())
}

fn escrow_hash() -> Hash32 {
    tagged_hash(HashTag::ComputeEscrow, b"")
}

/// A node's power, as targeted by its owner or reported by the node.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, bincode::Encode, bincode::Decode,
)]
pub enum Power {
    Up,
    Down,
}

impl Power {
    pub fn name(self) -> &'static str {
        match self {
            Power::Up => "up",
            Power::Down => "down",
        }
    }
}

/// One workload's state in a node report.
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct WorkloadReport {
    pub deployment: DeploymentId,
    pub workload: Name,
    pub state: WorkloadState,
}

/// What a compute transaction does. The encoded tag is the variant index.
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub enum ComputeAction {
    /// Registers the node holding `node_key` (its ID is
    /// [`NodeId::for_key`]), owned by `owner`, powered up.
    RegisterNode {
        owner: IdentityId,
        node_key: PublicKey,
        farm: Name,
        location: Location,
        capacity: Resources,
        /// Where the node's share of every bill is paid (a coin output
        /// created when a deployment it hosts is billed).
        payout: Condition,
    },
    SetPowerTarget {
        owner: IdentityId,
        node: NodeId,
        target: Power,
    },
    /// The node's report: strictly increasing `sequence`, seconds up since
    /// boot, actual power, and the states of workloads it runs.
    Report {
        node: NodeId,
        sequence: u64,
        uptime_seconds: u64,
        power: Power,
        workloads: Vec<WorkloadReport>,
    },
    /// Creates a deployment (ID [`DeploymentId::for_creation`]); the
    /// chain places workloads that name no node. `deposit` is the index of
    /// a coin output of this transaction paid to [`escrow_condition`].
    /// What is left of the balance when the deployment ends is paid to
    /// `refund`.
    CreateDeployment {
        owner: IdentityId,
        spec: DeploymentSpec,
        deposit: Option<u32>,
        refund: Condition,
    },
    /// Replaces the spec: unchanged workloads stay where they run.
    UpdateDeployment {
        owner: IdentityId,
        deployment: DeploymentId,
        spec: DeploymentSpec,
    },
    CancelDeployment {
        owner: IdentityId,
        deployment: DeploymentId,
    },
    /// Adds the escrow output `deposit` to the deployment's balance.
    TopUp {
        deployment: DeploymentId,
        deposit: u32,
    },
    /// Draws what the deployment owes since it was last billed; starts the
    /// grace period when the balance falls short, and stops the deployment
    /// when the grace period has run out.
    Bill { deployment: DeploymentId },
    /// Moves the workloads of a node that has been silent too long (per
    /// each deployment's reschedule policy).
    Heal { node: NodeId },
}

impl ComputeAction {
    pub fn kind(&self) -> &'static str {
        match self {
            ComputeAction::RegisterNode { .. } => "register-node",
            ComputeAction::SetPowerTarget { .. } => "set-power-target",
            ComputeAction::Report { .. } => "report",
            ComputeAction::CreateDeployment { .. } => "create-deployment",
            ComputeAction::UpdateDeployment { .. } => "update-deployment",
            ComputeAction::CancelDeployment { .. } => "cancel-deployment",
            ComputeAction::TopUp { .. } => "top-up",
            ComputeAction::Bill { .. } => "bill",
            ComputeAction::Heal { .. } => "heal",
        }
    }

    /// Who must sign.
    pub fn signer_role(&self) -> Option<ComputeSigner> {
        match self {
            ComputeAction::RegisterNode { .. }
            | ComputeAction::SetPowerTarget { .. }
            | ComputeAction::CreateDeployment { .. }
            | ComputeAction::UpdateDeployment { .. }
            | ComputeAction::CancelDeployment { .. } => Some(ComputeSigner::Owner),
            ComputeAction::Report { .. } => Some(ComputeSigner::Node),
            ComputeAction::TopUp { .. }
            | ComputeAction::Bill { .. }
            | ComputeAction::Heal { .. } => None,
        }
    }
}

/// The role a signature is made in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ComputeSigner {
    /// A key of the owner identity.
    Owner,
    /// The node key.
    Node,
}

impl ComputeSigner {
    pub const fn label(self) -> &'static [u8] {
        match self {
            ComputeSigner::Owner => b"compute-owner",
            ComputeSigner::Node => b"compute-node",
        }
    }

    const fn purpose(self) -> SigningPurpose {
        match self {
            ComputeSigner::Owner => SigningPurpose::IdentityStatement,
            ComputeSigner::Node => SigningPurpose::NodeReport,
        }
    }
}

/// A signature and the key that made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct ComputeSignature {
    pub public_key: PublicKey,
    pub signature: Signature,
}

/// A compute payload: the action and its signatures.
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct ComputeOperation {
    pub action: ComputeAction,
    /// The owner's or node's signature, per [`ComputeAction::signer_role`].
    pub signature: Option<ComputeSignature>,
    /// For `RegisterNode`: the node key's signature.
    pub node_key_signature: Option<Signature>,
}

/// Why a compute payload breaks a stateless rule.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ComputePayloadError {
    #[error("compute {action} pays no fee from coin inputs; a compute payload needs at least one")]
    NoCoinInputs { action: &'static str },
    #[error("compute {action} must be signed and is not")]
    MissingSignature { action: &'static str },
    #[error("compute {action} is signed by nobody's role and must carry no signature")]
    UnexpectedSignature { action: &'static str },
    #[error("node registration needs the node key's signature")]
    MissingNodeKeySignature,
    #[error("only a node registration carries a node-key signature")]
    UnexpectedNodeKeySignature,
    #[error("{what} {public_key} is not usable: {source}")]
    UnusableKey {
        what: &'static str,
        public_key: PublicKey,
        source: KeyError,
    },
    #[error(transparent)]
    Name(#[from] NameError),
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error("node capacity must be at least 1 in every dimension, not {capacity}")]
    EmptyCapacity { capacity: Resources },
    #[error("report lists {count} workloads; at most {MAX_REPORTED_WORKLOADS}")]
    TooManyReports { count: usize },
    #[error("report lists workload {workload} of deployment {deployment} twice")]
    DuplicateReport {
        deployment: DeploymentId,
        workload: Name,
    },
    #[error("report of {workload}: error reason has {length} bytes; at most {MAX_REASON_LEN}")]
    ReasonTooLong { workload: Name, length: usize },
    #[error("deposit output {index} does not exist or is not paid to the compute escrow condition")]
    BadDeposit { index: u32 },
    #[error("{what} condition cannot receive coins: {reason}")]
    BadPayoutCondition { what: &'static str, reason: String },
}

impl ComputeOperation {
    /// An unsigned operation whose signature slot names `signer` (the
    /// transaction ID covers the key, not the signature); sign with
    /// [`Self::sign`] (and [`Self::sign_node_key`] for a registration)
    /// once the rest of the transaction is final, or use [`sign_into`].
    pub fn unsigned(action: ComputeAction, signer: Option<PublicKey>) -> ComputeOperation {
        let registers = matches!(action, ComputeAction::RegisterNode { .. });
        let signature = signer.map(|public_key| ComputeSignature {
            public_key,
            signature: Signature::default(),
        });
        ComputeOperation {
            action,
            signature,
            node_key_signature: registers.then(Signature::default),
        }
    }

    /// The message `public_key` signs in `role`.
    pub fn signing_message(
        &self,
        chain_id: &ChainId,
        transaction_id: &TransactionId,
        role: ComputeSigner,
        public_key: &PublicKey,
    ) -> SigningMessage {
        let mut transcript = SigningTranscript::new(role.purpose(), chain_id);
        transcript.append(b"transaction-id", transaction_id.0.as_bytes());
        transcript.append(b"action", &codec::encode(&self.action));
        transcript.append(b"signer-role", role.label());
        transcript.append(b"public-key", &public_key.0);
        transcript.challenge()
    }

    /// Signs in the action's role with `key`.
    pub fn sign(&mut self, chain_id: &ChainId, transaction_id: &TransactionId, key: &SecretKey) {
        let Some(role) = self.action.signer_role() else {
            return;
        };
        let public_key = key.public_key();
        let message = self.signing_message(chain_id, transaction_id, role, &public_key);
        self.signature = Some(ComputeSignature {
            public_key,
            signature: key.sign(&message),
        });
    }

    /// Signs a registration with the node key.
    pub fn sign_node_key(
        &mut self,
        chain_id: &ChainId,
        transaction_id: &TransactionId,
        node_key: &SecretKey,
    ) {
        let message = self.signing_message(
            chain_id,
            transaction_id,
            ComputeSigner::Node,
            &node_key.public_key(),
        );
        self.node_key_signature = Some(node_key.sign(&message));
    }

    /// The signatures to verify: (role, key, signature, message).
    pub fn required_signatures(
        &self,
        chain_id: &ChainId,
        transaction_id: &TransactionId,
    ) -> Vec<(ComputeSigner, PublicKey, Signature, SigningMessage)> {
        let mut required = Vec::new();
        if let (Some(role), Some(signed)) = (self.action.signer_role(), self.signature) {
            required.push((
                role,
                signed.public_key,
                signed.signature,
                self.signing_message(chain_id, transaction_id, role, &signed.public_key),
            ));
        }
        if let (ComputeAction::RegisterNode { node_key, .. }, Some(signature)) =
            (&self.action, self.node_key_signature)
        {
            required.push((
                ComputeSigner::Node,
                *node_key,
                signature,
                self.signing_message(chain_id, transaction_id, ComputeSigner::Node, node_key),
            ));
        }
        required
    }

    /// The copy whose encoding the transaction ID covers: signatures
    /// zeroed, keys kept.
    pub fn without_signatures(&self) -> ComputeOperation {
        let mut stripped = self.clone();
        if let Some(signed) = stripped.signature.as_mut() {
            signed.signature = Signature::default();
        }
        if stripped.node_key_signature.is_some() {
            stripped.node_key_signature = Some(Signature::default());
        }
        stripped
    }

    /// Every rule that needs no chain state.
    pub fn check(&self, transaction: &Transaction) -> Result<(), ComputePayloadError> {
        let action = self.action.kind();
        if transaction.coin_inputs.is_empty() {
            return Err(ComputePayloadError::NoCoinInputs { action });
        }
        match (self.action.signer_role(), &self.signature) {
            (Some(_), None) => return Err(ComputePayloadError::MissingSignature { action }),
            (None, Some(_)) => return Err(ComputePayloadError::UnexpectedSignature { action }),
            (Some(_), Some(signed)) => usable("signing key", &signed.public_key)?,
            (None, None) => {}
        }
        let registers = matches!(self.action, ComputeAction::RegisterNode { .. });
        match (registers, self.node_key_signature) {
            (true, None) => return Err(ComputePayloadError::MissingNodeKeySignature),
            (false, Some(_)) => return Err(ComputePayloadError::UnexpectedNodeKeySignature),
            _ => {}
        }
        match &self.action {
            ComputeAction::RegisterNode {
                node_key,
                farm,
                location,
                capacity,
                payout,
                ..
            } => {
                usable("node key", node_key)?;
                check_payout("payout", payout)?;
                Name::check(farm.as_str())?;
                location.check()?;
                if capacity.cores == 0 || capacity.memory_mib == 0 || capacity.disk_gib == 0 {
                    return Err(ComputePayloadError::EmptyCapacity {
                        capacity: *capacity,
                    });
                }
            }
            ComputeAction::Report { workloads, .. } => {
                if workloads.len() > MAX_REPORTED_WORKLOADS {
                    return Err(ComputePayloadError::TooManyReports {
                        count: workloads.len(),
                    });
                }
                let mut seen = std::collections::BTreeSet::new();
                for report in workloads {
                    Name::check(report.workload.as_str())?;
                    if !seen.insert((report.deployment, &report.workload)) {
                        return Err(ComputePayloadError::DuplicateReport {
                            deployment: report.deployment,
                            workload: report.workload.clone(),
                        });
                    }
                    if let WorkloadState::Error(reason) = &report.state
                        && reason.len() > MAX_REASON_LEN
                    {
                        return Err(ComputePayloadError::ReasonTooLong {
                            workload: report.workload.clone(),
                            length: reason.len(),
                        });
                    }
                }
            }
            ComputeAction::CreateDeployment {
                spec,
                deposit,
                refund,
                ..
            } => {
                spec.validate()?;
                check_payout("refund", refund)?;
                if let Some(index) = deposit {
                    deposit_value(transaction, *index)?;
                }
            }
            ComputeAction::UpdateDeployment { spec, .. } => spec.validate()?,
            ComputeAction::TopUp { deposit, .. } => {
                deposit_value(transaction, *deposit)?;
            }
            ComputeAction::SetPowerTarget { .. }
            | ComputeAction::CancelDeployment { .. }
            | ComputeAction::Bill { .. }
            | ComputeAction::Heal { .. } => {}
        }
        Ok(())
    }
}

/// The value of coin output `index` if it is paid to the escrow condition.
pub fn deposit_value(
    transaction: &Transaction,
    index: u32,
) -> Result<crate::types::Currency, ComputePayloadError> {
    let output = usize::try_from(index)
        .ok()
        .and_then(|index| transaction.coin_outputs.get(index))
        .filter(|output| output.condition == escrow_condition())
        .ok_or(ComputePayloadError::BadDeposit { index })?;
    Ok(output.value)
}

/// A payout or refund condition must be standard, must not be `Nil`
/// (anyone could take the coins) and must not be the escrow condition
/// (the coins would be locked again).
fn check_payout(what: &'static str, condition: &Condition) -> Result<(), ComputePayloadError> {
    let bad = |reason: String| ComputePayloadError::BadPayoutCondition { what, reason };
    if *condition == Condition::Nil {
        return Err(bad("a nil condition lets anyone spend the coins".into()));
    }
    if *condition == escrow_condition() {
        return Err(bad("it is the compute escrow condition".into()));
    }
    condition
        .check_standard()
        .map_err(|error| bad(error.to_string()))
}

fn usable(what: &'static str, public_key: &PublicKey) -> Result<(), ComputePayloadError> {
    public_key
        .check_usable()
        .map_err(|source| ComputePayloadError::UnusableKey {
            what,
            public_key: *public_key,
            source,
        })
}

impl DomainPayload for ComputeOperation {
    fn label(&self) -> &'static [u8] {
        b"compute"
    }

    fn validate_stateless(
        &self,
        transaction: &Transaction,
        _params: &NetworkParams,
    ) -> Result<(), PayloadError> {
        self.check(transaction).map_err(PayloadError::Compute)
    }

    fn without_authorization(&self) -> Payload {
        Payload::Compute(self.without_signatures())
    }
}

/// Puts `action` into `transaction` and signs it with `signer` (the
/// owner's or node's key, per [`ComputeAction::signer_role`]) and, for a
/// registration, `node_key`. Call after every other field is final and
/// before signing the coin inputs. Returns the transaction ID.
pub fn sign_into(
    transaction: &mut Transaction,
    action: ComputeAction,
    chain_id: &ChainId,
    signer: Option<&SecretKey>,
    node_key: Option<&SecretKey>,
) -> TransactionId {
    let mut operation = ComputeOperation::unsigned(action, signer.map(SecretKey::public_key));
    transaction.payload = Some(Payload::Compute(operation.clone()));
    let id = transaction.id();
    if let Some(signer) = signer {
        operation.sign(chain_id, &id, signer);
    }
    if let Some(node_key) = node_key {
        operation.sign_node_key(chain_id, &id, node_key);
    }
    transaction.payload = Some(Payload::Compute(operation));
    id
}
