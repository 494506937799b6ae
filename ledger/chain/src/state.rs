//! The chain state: everything validity depends on, as of the tip.
//!
//! Coin and blockstake UTXO sets (blockstake outputs with the position
//! and time they were created, for the lottery and aging), payouts waiting
//! to mature, the mint condition, the address authority and authorized
//! addresses, the notary index, and the state of domain modules behind
//! [`DomainState`].
//!
//! The state changes only through [`StateOp`]s. Applying a block records
//! its ops in a [`BlockDiff`]; [`ChainState::revert_diff`] undoes them in
//! reverse order and restores the state exactly, and
//! [`ChainState::apply_diff`] redoes them without re-validating (reorg
//! restore, store replay). [`ChainState::commitment`] hashes the whole
//! state in a fixed order so tests compare states by one value.

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use ledger::crypto::hash::{HashTag, tagged_hash};
use ledger::crypto::{PublicKey, Signature, SigningMessage};
use ledger::payload::Payload;
use ledger::validation::SpentConditions;
use ledger::{
    Address, BlockHeight, BlockId, BlockStakeOutput, BlockStakeOutputId, BlockStakePosition,
    CoinOutput, CoinOutputId, Condition, Hash32, NetworkParams, Timestamp, Transaction,
    TransactionId, codec,
};
use thiserror::Error;

use crate::config::ChainConfig;
use crate::events::LedgerEvent;

/// An unspent blockstake output and where and when it was created.
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct BlockStakeEntry {
    pub output: BlockStakeOutput,
    pub position: BlockStakePosition,
    /// Timestamp of the block that created it (for aging).
    pub created_at: Timestamp,
}

/// One registration of a document hash.
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct NotaryEntry {
    pub height: BlockHeight,
    pub transaction: TransactionId,
    pub timestamp: Timestamp,
}

/// The tip the state is at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct Tip {
    pub id: BlockId,
    pub height: BlockHeight,
    pub timestamp: Timestamp,
}

/// One invertible change of the state.
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub enum StateOp {
    CreateCoin {
        id: CoinOutputId,
        output: CoinOutput,
    },
    SpendCoin {
        id: CoinOutputId,
        output: CoinOutput,
    },
    CreateBlockStake {
        id: BlockStakeOutputId,
        entry: BlockStakeEntry,
    },
    SpendBlockStake {
        id: BlockStakeOutputId,
        entry: BlockStakeEntry,
    },
    /// A payout waiting until `height`.
    AddMaturing {
        height: BlockHeight,
        id: CoinOutputId,
        output: CoinOutput,
    },
    /// The payouts waiting for `height` become coin outputs.
    Mature {
        height: BlockHeight,
        outputs: Vec<(CoinOutputId, CoinOutput)>,
    },
    SetMintCondition {
        before: Option<Condition>,
        after: Option<Condition>,
    },
    SetAuthority {
        before: Option<Condition>,
        after: Option<Condition>,
    },
    SetAuthorized {
        address: Address,
        authorized: bool,
    },
    AddNotary {
        document_hash: Hash32,
        entry: NotaryEntry,
    },
    /// A domain module's change, opaque to the core.
    Domain {
        domain: u32,
        change: Vec<u8>,
    },
    SetTip {
        before: Tip,
        after: Tip,
    },
}

/// Everything one block changed, and the events it produced.
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct BlockDiff {
    pub block: BlockId,
    pub height: BlockHeight,
    pub ops: Vec<StateOp>,
    pub events: Vec<LedgerEvent>,
}

/// A state op that does not fit the state (a corrupt or misordered diff).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("state op does not fit the current state: {0}")]
pub struct InconsistentDiff(pub String);

/// Why a domain module refused a transaction or a change.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{domain}: {message}")]
pub struct DomainError {
    pub domain: &'static str,
    pub message: String,
}

/// What a domain module sees of the transaction's surroundings.
#[derive(Clone, Copy)]
pub struct DomainContext<'a> {
    pub params: &'a NetworkParams,
    pub height: BlockHeight,
    pub timestamp: Timestamp,
    pub transaction_index: u64,
    pub transaction_id: &'a TransactionId,
    /// Every domain module's state as it stands before this transaction
    /// (the block's earlier transactions applied), so a domain can read
    /// another's (storage and compute check identity keys).
    pub domains: &'a [Box<dyn DomainState>],
}

impl fmt::Debug for DomainContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DomainContext")
            .field("height", &self.height)
            .field("timestamp", &self.timestamp)
            .field("transaction_index", &self.transaction_index)
            .field("transaction_id", self.transaction_id)
            .field("domains", &self.domains.len())
            .finish()
    }
}

impl DomainContext<'_> {
    /// The state of the first domain module of type `T`, if registered.
    pub fn domain<T: DomainState + 'static>(&self) -> Option<&T> {
        self.domains
            .iter()
            .find_map(|domain| domain.as_any().downcast_ref::<T>())
    }
}

/// A domain module's validated change for one transaction: opaque bytes
/// that its `apply` and `revert` understand, the events to publish, and
/// the signatures the change depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainChange {
    pub change: Vec<u8>,
    /// `(kind, data)` pairs, published as [`crate::events::EventBody::Domain`].
    pub events: Vec<(String, Vec<u8>)>,
    /// Signatures that must verify for the change to be valid. The core
    /// queues them into the block's single signature batch (or the
    /// mempool's per-transaction batch), so a domain never verifies one
    /// by one.
    pub signatures: Vec<DomainSignature>,
    /// Coins the domain releases from its escrow: the escrow outputs it
    /// spends and the outputs it creates (payouts, refunds, escrow
    /// change). See [`DomainCoins`].
    pub coins: DomainCoins,
}

/// Coin outputs a domain moves while applying a transaction. The core
/// checks that every spent output exists and is locked by the domain's
/// [`DomainState::escrow_condition`], that the created outputs add up to
/// exactly what is spent (coins are never made or lost), and that each
/// created output may lock coins (authorized addresses). The `k`th created
/// output gets the ID [`ledger::CoinOutputId::for_domain_output`]`(transaction,
/// domain name, k)` and is spendable like any coin output.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DomainCoins {
    pub spend: Vec<CoinOutputId>,
    pub create: Vec<CoinOutput>,
}

impl DomainCoins {
    pub fn is_empty(&self) -> bool {
        self.spend.is_empty() && self.create.is_empty()
    }
}

/// One signature a domain change needs verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainSignature {
    /// What the signature is, for error messages ("identity actor key").
    pub origin: String,
    pub message: SigningMessage,
    pub public_key: PublicKey,
    pub signature: Signature,
}

/// The hook through which a domain (identity, storage, compute, chat)
/// keeps its own consensus state. `prepare` validates a transaction
/// against the domain's state without changing it; `apply` and `revert`
/// are then exact inverses. Domains are registered in a fixed order
/// (their index is recorded in diffs).
pub trait DomainState: Send + Sync {
    fn name(&self) -> &'static str;
    /// Validates `transaction` (the block's transactions before it are
    /// already applied) and returns its change, or `None` if the domain is
    /// not concerned.
    fn prepare(
        &self,
        transaction: &Transaction,
        context: &DomainContext<'_>,
    ) -> Result<Option<DomainChange>, DomainError>;
    fn apply(&mut self, change: &[u8]) -> Result<(), DomainError>;
    fn revert(&mut self, change: &[u8]) -> Result<(), DomainError>;
    /// A hash of the domain's whole state, in a deterministic order.
    fn commitment(&self) -> Hash32;
    fn clone_box(&self) -> Box<dyn DomainState>;
    /// The concrete state, for typed queries ([`ChainState::domain`]).
    fn as_any(&self) -> &dyn Any;
    /// The condition of the coin outputs this domain holds in escrow and
    /// may spend through [`DomainChange::coins`]; `None` (the default)
    /// for a domain that moves no coins.
    fn escrow_condition(&self) -> Option<Condition> {
        None
    }
}

/// The consensus state at a tip.
pub struct ChainState {
    tip: Tip,
    coin_outputs: BTreeMap<CoinOutputId, CoinOutput>,
    blockstake_outputs: BTreeMap<BlockStakeOutputId, BlockStakeEntry>,
    blockstake_positions: BTreeMap<BlockStakePosition, BlockStakeOutputId>,
    maturing: BTreeMap<BlockHeight, BTreeMap<CoinOutputId, CoinOutput>>,
    mint_condition: Option<Condition>,
    authority_condition: Option<Condition>,
    authorized: BTreeSet<Address>,
    notary: BTreeMap<Hash32, Vec<NotaryEntry>>,
    domains: Vec<Box<dyn DomainState>>,
}

impl Clone for ChainState {
    fn clone(&self) -> ChainState {
        ChainState {
            tip: self.tip,
            coin_outputs: self.coin_outputs.clone(),
            blockstake_outputs: self.blockstake_outputs.clone(),
            blockstake_positions: self.blockstake_positions.clone(),
            maturing: self.maturing.clone(),
            mint_condition: self.mint_condition.clone(),
            authority_condition: self.authority_condition.clone(),
            authorized: self.authorized.clone(),
            notary: self.notary.clone(),
            domains: self
                .domains
                .iter()
                .map(|domain| domain.clone_box())
                .collect(),
        }
    }
}

impl fmt::Debug for ChainState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChainState")
            .field("tip", &self.tip)
            .field("coin_outputs", &self.coin_outputs.len())
            .field("blockstake_outputs", &self.blockstake_outputs.len())
            .field("maturing", &self.maturing.len())
            .field("commitment", &self.commitment())
            .finish()
    }
}

impl ChainState {
    /// The state right after the genesis block of `config`, with the given
    /// domain modules (in their fixed order).
    pub fn genesis(config: &ChainConfig, domains: Vec<Box<dyn DomainState>>) -> ChainState {
        let mut state = ChainState {
            tip: Tip {
                id: config.genesis_id,
                height: BlockHeight::GENESIS,
                timestamp: config.genesis.header.timestamp,
            },
            coin_outputs: BTreeMap::new(),
            blockstake_outputs: BTreeMap::new(),
            blockstake_positions: BTreeMap::new(),
            maturing: BTreeMap::new(),
            mint_condition: config.mint_condition.clone(),
            authority_condition: config.authority_condition.clone(),
            authorized: config.authorized_addresses.iter().copied().collect(),
            notary: BTreeMap::new(),
            domains,
        };
        for (transaction_index, transaction) in config.genesis.transactions.iter().enumerate() {
            let id = transaction.id();
            for (output, output_id) in transaction
                .created_coin_outputs()
                .zip(transaction.coin_output_ids(&id))
            {
                state.coin_outputs.insert(output_id, output.clone());
            }
            for (index, (output, output_id)) in transaction
                .blockstake_outputs
                .iter()
                .zip(transaction.blockstake_output_ids(&id))
                .enumerate()
            {
                let position = BlockStakePosition {
                    height: BlockHeight::GENESIS,
                    transaction_index: transaction_index as u64,
                    output_index: index as u64,
                };
                state.blockstake_positions.insert(position, output_id);
                state.blockstake_outputs.insert(
                    output_id,
                    BlockStakeEntry {
                        output: output.clone(),
                        position,
                        created_at: config.genesis.header.timestamp,
                    },
                );
            }
        }
        state
    }

    pub fn tip(&self) -> Tip {
        self.tip
    }

    pub fn coin_output(&self, id: &CoinOutputId) -> Option<&CoinOutput> {
        self.coin_outputs.get(id)
    }

    pub fn blockstake_output(&self, id: &BlockStakeOutputId) -> Option<&BlockStakeEntry> {
        self.blockstake_outputs.get(id)
    }

    /// The unspent blockstake output created at `position`, if any.
    pub fn blockstake_at(
        &self,
        position: &BlockStakePosition,
    ) -> Option<(BlockStakeOutputId, &BlockStakeEntry)> {
        let id = self.blockstake_positions.get(position)?;
        self.blockstake_outputs.get(id).map(|entry| (*id, entry))
    }

    pub fn coin_outputs(&self) -> impl Iterator<Item = (&CoinOutputId, &CoinOutput)> {
        self.coin_outputs.iter()
    }

    pub fn blockstake_outputs(
        &self,
    ) -> impl Iterator<Item = (&BlockStakeOutputId, &BlockStakeEntry)> {
        self.blockstake_outputs.iter()
    }

    /// Payouts not yet spendable, by the height from which they are.
    pub fn maturing(&self) -> &BTreeMap<BlockHeight, BTreeMap<CoinOutputId, CoinOutput>> {
        &self.maturing
    }

    pub fn mint_condition(&self) -> Option<&Condition> {
        self.mint_condition.as_ref()
    }

    pub fn authority_condition(&self) -> Option<&Condition> {
        self.authority_condition.as_ref()
    }

    pub fn is_authorized(&self, address: &Address) -> bool {
        self.authorized.contains(address)
    }

    pub fn notary_entries(&self, document_hash: &Hash32) -> &[NotaryEntry] {
        self.notary
            .get(document_hash)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    pub fn domains(&self) -> &[Box<dyn DomainState>] {
        &self.domains
    }

    /// The first registered domain module of type `T`, if any (e.g.
    /// `state.domain::<IdentityState>()`).
    pub fn domain<T: DomainState + 'static>(&self) -> Option<&T> {
        self.domains
            .iter()
            .find_map(|domain| domain.as_any().downcast_ref::<T>())
    }

    /// A hash of the whole state in a fixed order.
    pub fn commitment(&self) -> Hash32 {
        #[derive(bincode::Encode)]
        struct Snapshot<'a> {
            tip: &'a Tip,
            coins: Vec<(&'a CoinOutputId, &'a CoinOutput)>,
            stakes: Vec<(&'a BlockStakeOutputId, &'a BlockStakeEntry)>,
            positions: Vec<(&'a BlockStakePosition, &'a BlockStakeOutputId)>,
            maturing: Vec<(&'a BlockHeight, Vec<(&'a CoinOutputId, &'a CoinOutput)>)>,
            mint: &'a Option<Condition>,
            authority: &'a Option<Condition>,
            authorized: Vec<&'a Address>,
            notary: Vec<(&'a Hash32, &'a Vec<NotaryEntry>)>,
            domains: Vec<Hash32>,
        }
        let snapshot = Snapshot {
            tip: &self.tip,
            coins: self.coin_outputs.iter().collect(),
            stakes: self.blockstake_outputs.iter().collect(),
            positions: self.blockstake_positions.iter().collect(),
            maturing: self
                .maturing
                .iter()
                .map(|(height, bucket)| (height, bucket.iter().collect()))
                .collect(),
            mint: &self.mint_condition,
            authority: &self.authority_condition,
            authorized: self.authorized.iter().collect(),
            notary: self.notary.iter().collect(),
            domains: self.domains.iter().map(|d| d.commitment()).collect(),
        };
        tagged_hash(HashTag::StateCommitment, &codec::encode(&snapshot))
    }

    /// Redoes a diff's ops in order.
    pub fn apply_diff(&mut self, diff: &BlockDiff) -> Result<(), InconsistentDiff> {
        for (done, op) in diff.ops.iter().enumerate() {
            if let Err(error) = self.apply_op(op) {
                // Leave the state as it was before this diff.
                for undo in diff.ops[..done].iter().rev() {
                    self.revert_op(undo)?;
                }
                return Err(error);
            }
        }
        Ok(())
    }

    /// Undoes a diff's ops in reverse order.
    pub fn revert_diff(&mut self, diff: &BlockDiff) -> Result<(), InconsistentDiff> {
        for (done, op) in diff.ops.iter().rev().enumerate() {
            if let Err(error) = self.revert_op(op) {
                let redo_from = diff.ops.len() - done;
                for redo in &diff.ops[redo_from..] {
                    self.apply_op(redo)?;
                }
                return Err(error);
            }
        }
        Ok(())
    }

    /// Undoes the given ops (most recent last) in reverse order.
    pub fn revert_ops(&mut self, ops: &[StateOp]) -> Result<(), InconsistentDiff> {
        for op in ops.iter().rev() {
            self.revert_op(op)?;
        }
        Ok(())
    }

    pub(crate) fn apply_op(&mut self, op: &StateOp) -> Result<(), InconsistentDiff> {
        let fail = |what: String| Err(InconsistentDiff(what));
        match op {
            StateOp::CreateCoin { id, output } => {
                if self.coin_outputs.contains_key(id) {
                    return fail(format!("coin output {id} already exists"));
                }
                self.coin_outputs.insert(*id, output.clone());
            }
            StateOp::SpendCoin { id, output } => {
                if self.coin_outputs.get(id) != Some(output) {
                    return fail(format!("coin output {id} is not unspent as recorded"));
                }
                self.coin_outputs.remove(id);
            }
            StateOp::CreateBlockStake { id, entry } => {
                if self.blockstake_outputs.contains_key(id)
                    || self.blockstake_positions.contains_key(&entry.position)
                {
                    return fail(format!("blockstake output {id} already exists"));
                }
                self.blockstake_outputs.insert(*id, entry.clone());
                self.blockstake_positions.insert(entry.position, *id);
            }
            StateOp::SpendBlockStake { id, entry } => {
                if self.blockstake_outputs.get(id) != Some(entry) {
                    return fail(format!("blockstake output {id} is not unspent as recorded"));
                }
                self.blockstake_outputs.remove(id);
                self.blockstake_positions.remove(&entry.position);
            }
            StateOp::AddMaturing { height, id, output } => {
                let bucket = self.maturing.entry(*height).or_default();
                if bucket.contains_key(id) {
                    return fail(format!("payout {id} already maturing"));
                }
                bucket.insert(*id, output.clone());
            }
            StateOp::Mature { height, outputs } => {
                let bucket = self.maturing.get(height).cloned().unwrap_or_default();
                let recorded: BTreeMap<CoinOutputId, CoinOutput> =
                    outputs.iter().cloned().collect();
                if bucket != recorded
                    || outputs
                        .iter()
                        .any(|(id, _)| self.coin_outputs.contains_key(id))
                {
                    return fail(format!(
                        "payouts maturing at {height} differ from the record"
                    ));
                }
                self.maturing.remove(height);
                self.coin_outputs.extend(recorded);
            }
            StateOp::SetMintCondition { before, after } => {
                if self.mint_condition != *before {
                    return fail("mint condition differs from the record".into());
                }
                self.mint_condition = after.clone();
            }
            StateOp::SetAuthority { before, after } => {
                if self.authority_condition != *before {
                    return fail("authority condition differs from the record".into());
                }
                self.authority_condition = after.clone();
            }
            StateOp::SetAuthorized {
                address,
                authorized,
            } => {
                let changed = if *authorized {
                    self.authorized.insert(*address)
                } else {
                    self.authorized.remove(address)
                };
                if !changed {
                    return fail(format!(
                        "address {address:?} authorization already {authorized}"
                    ));
                }
            }
            StateOp::AddNotary {
                document_hash,
                entry,
            } => self
                .notary
                .entry(*document_hash)
                .or_default()
                .push(entry.clone()),
            StateOp::Domain { domain, change } => {
                let module = self
                    .domains
                    .get_mut(*domain as usize)
                    .ok_or_else(|| InconsistentDiff(format!("no domain module {domain}")))?;
                module
                    .apply(change)
                    .map_err(|error| InconsistentDiff(error.to_string()))?;
            }
            StateOp::SetTip { before, after } => {
                if self.tip != *before {
                    return fail(format!(
                        "tip is {} at {}, the record expects {} at {}",
                        self.tip.id, self.tip.height, before.id, before.height
                    ));
                }
                self.tip = *after;
            }
        }
        Ok(())
    }

    pub(crate) fn revert_op(&mut self, op: &StateOp) -> Result<(), InconsistentDiff> {
        let fail = |what: String| Err(InconsistentDiff(what));
        match op {
            StateOp::CreateCoin { id, output } => {
                if self.coin_outputs.get(id) != Some(output) {
                    return fail(format!("created coin output {id} is missing"));
                }
                self.coin_outputs.remove(id);
            }
            StateOp::SpendCoin { id, output } => {
                if self.coin_outputs.contains_key(id) {
                    return fail(format!("spent coin output {id} is present"));
                }
                self.coin_outputs.insert(*id, output.clone());
            }
            StateOp::CreateBlockStake { id, entry } => {
                if self.blockstake_outputs.get(id) != Some(entry) {
                    return fail(format!("created blockstake output {id} is missing"));
                }
                self.blockstake_outputs.remove(id);
                self.blockstake_positions.remove(&entry.position);
            }
            StateOp::SpendBlockStake { id, entry } => {
                if self.blockstake_outputs.contains_key(id) {
                    return fail(format!("spent blockstake output {id} is present"));
                }
                self.blockstake_outputs.insert(*id, entry.clone());
                self.blockstake_positions.insert(entry.position, *id);
            }
            StateOp::AddMaturing { height, id, output } => {
                let Some(bucket) = self.maturing.get_mut(height) else {
                    return fail(format!("no payouts maturing at {height}"));
                };
                if bucket.get(id) != Some(output) {
                    return fail(format!("maturing payout {id} is missing"));
                }
                bucket.remove(id);
                if bucket.is_empty() {
                    self.maturing.remove(height);
                }
            }
            StateOp::Mature { height, outputs } => {
                if self.maturing.contains_key(height)
                    || outputs
                        .iter()
                        .any(|(id, output)| self.coin_outputs.get(id) != Some(output))
                {
                    return fail(format!("matured payouts of {height} are not as recorded"));
                }
                for (id, _) in outputs {
                    self.coin_outputs.remove(id);
                }
                if !outputs.is_empty() {
                    self.maturing
                        .insert(*height, outputs.iter().cloned().collect());
                }
            }
            StateOp::SetMintCondition { before, after } => {
                if self.mint_condition != *after {
                    return fail("mint condition differs from the record".into());
                }
                self.mint_condition = before.clone();
            }
            StateOp::SetAuthority { before, after } => {
                if self.authority_condition != *after {
                    return fail("authority condition differs from the record".into());
                }
                self.authority_condition = before.clone();
            }
            StateOp::SetAuthorized {
                address,
                authorized,
            } => {
                let changed = if *authorized {
                    self.authorized.remove(address)
                } else {
                    self.authorized.insert(*address)
                };
                if !changed {
                    return fail(format!("address {address:?} authorization not as recorded"));
                }
            }
            StateOp::AddNotary {
                document_hash,
                entry,
            } => {
                let Some(entries) = self.notary.get_mut(document_hash) else {
                    return fail(format!("no notary entry for {document_hash}"));
                };
                if entries.last() != Some(entry) {
                    return fail(format!("last notary entry for {document_hash} differs"));
                }
                entries.pop();
                if entries.is_empty() {
                    self.notary.remove(document_hash);
                }
            }
            StateOp::Domain { domain, change } => {
                let module = self
                    .domains
                    .get_mut(*domain as usize)
                    .ok_or_else(|| InconsistentDiff(format!("no domain module {domain}")))?;
                module
                    .revert(change)
                    .map_err(|error| InconsistentDiff(error.to_string()))?;
            }
            StateOp::SetTip { before, after } => {
                if self.tip != *after {
                    return fail("tip differs from the record".into());
                }
                self.tip = *before;
            }
        }
        Ok(())
    }
}

impl SpentConditions for ChainState {
    fn coin_output_condition(&self, id: &CoinOutputId) -> Option<Condition> {
        self.coin_outputs
            .get(id)
            .map(|output| output.condition.clone())
    }

    fn blockstake_output_condition(&self, id: &BlockStakeOutputId) -> Option<Condition> {
        self.blockstake_outputs
            .get(id)
            .map(|entry| entry.output.condition.clone())
    }

    fn payload_condition(&self, payload: &Payload) -> Option<Condition> {
        match payload {
            Payload::Minting(_) => self.mint_condition.clone(),
            Payload::AuthorizedAddresses(_) => self.authority_condition.clone(),
            Payload::Notary(_)
            | Payload::Identity(_)
            | Payload::Storage(_)
            | Payload::Compute(_)
            | Payload::Chat(_) => None,
        }
    }
}
