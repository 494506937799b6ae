//! What one block message becomes in the explorer's tables, computed
//! without touching the database: the block's structure (transactions,
//! inputs, outputs and their conditions, payouts) comes from the block,
//! and what only the chain state knows (the value and address of spent
//! outputs, the staker, matured payouts, minted and destroyed coins,
//! authority changes) comes from the block's events. Genesis, whose
//! message carries no state events, is read from the block and the
//! network configuration alone.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chain::config::ChainConfig;
use chain::stream::BlockMessage;
use chain::{Direction, EventBody};
use ledger::payload::{AuthorizedAddressOperation, MintingOperation};
use ledger::{
    Address, AddressKind, BlockHeight, CoinOutputId, Condition, Currency, Fulfillment,
    MultisigCondition, Payload, TimeLockedCondition, Transaction,
};
use serde_json::{Value, json};

use super::ExplorerError;

/// 33 bytes: the address kind byte, then its 32-byte hash.
pub type AddressBytes = [u8; 33];

/// An address as stored.
pub fn address_bytes(address: &Address) -> AddressBytes {
    let mut bytes = [0u8; 33];
    bytes[0] = address.kind.byte();
    bytes[1..].copy_from_slice(address.hash.as_bytes());
    bytes
}

/// The stored name of an address kind.
pub fn address_kind_name(kind: AddressKind) -> &'static str {
    match kind {
        AddressKind::Nil => "nil",
        AddressKind::PubKey => "pubkey",
        AddressKind::Multisig => "multisig",
        AddressKind::AtomicSwap => "atomic_swap",
    }
}

/// A signed change of an amount, kept as two sums so u128 never overflows
/// into a sign.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delta {
    pub plus: u128,
    pub minus: u128,
}

impl Delta {
    fn add(&mut self, value: u128) {
        self.plus = self.plus.saturating_add(value);
    }
    fn sub(&mut self, value: u128) {
        self.minus = self.minus.saturating_add(value);
    }
    /// The net change as a decimal string for `::numeric`.
    pub fn to_decimal(self) -> String {
        if self.plus >= self.minus {
            (self.plus - self.minus).to_string()
        } else {
            format!("-{}", self.minus - self.plus)
        }
    }
}

/// How one block changes one address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressChange {
    pub kind: &'static str,
    pub coins: Delta,
    pub maturing: Delta,
    pub blockstakes: Delta,
    pub coin_outputs_unspent: i32,
    pub blockstake_outputs_unspent: i32,
    pub outputs_received: i32,
    pub transactions: i32,
    pub blocks_created: i32,
}

/// A condition decoded into the output table's columns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecodedCondition {
    pub condition_type: &'static str,
    pub timelock: Option<i64>,
    pub timelock_kind: Option<&'static str>,
    pub timelock_inner_type: Option<&'static str>,
    pub multisig_required: Option<i32>,
    pub multisig_key_count: Option<i32>,
    pub swap_sender: Option<Vec<u8>>,
    pub swap_receiver: Option<Vec<u8>>,
    pub swap_hashed_secret: Option<Vec<u8>>,
    pub swap_timelock: Option<i64>,
}

fn multisig_of(condition: &Condition) -> Option<&MultisigCondition> {
    match condition {
        Condition::Multisig(multisig) => Some(multisig),
        Condition::TimeLock(lock) => match &lock.inner {
            TimeLockedCondition::Multisig(multisig) => Some(multisig),
            _ => None,
        },
        _ => None,
    }
}

fn condition_type(condition: &Condition) -> &'static str {
    match condition {
        Condition::Nil => "nil",
        Condition::PubKeyHash(_) => "pubkey",
        Condition::Multisig(_) => "multisig",
        Condition::TimeLock(_) => "timelock",
        Condition::AtomicSwap(_) => "atomic_swap",
    }
}

fn lock_kind(lock: u64) -> &'static str {
    match ledger::condition::LockTime::from_raw(lock) {
        ledger::condition::LockTime::Height(_) => "height",
        ledger::condition::LockTime::Time(_) => "time",
    }
}

/// Chain values stored as BIGINT never reach 2^63; saturate rather than wrap.
pub fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn to_i32(value: usize) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

/// Decodes a condition into columns.
pub fn decode_condition(condition: &Condition) -> DecodedCondition {
    let mut decoded = DecodedCondition {
        condition_type: condition_type(condition),
        ..DecodedCondition::default()
    };
    if let Some(multisig) = multisig_of(condition) {
        decoded.multisig_required = Some(i32::try_from(multisig.required).unwrap_or(i32::MAX));
        decoded.multisig_key_count = Some(to_i32(multisig.keys.len()));
    }
    match condition {
        Condition::TimeLock(lock) => {
            decoded.timelock = Some(to_i64(lock.lock));
            decoded.timelock_kind = Some(lock_kind(lock.lock));
            decoded.timelock_inner_type = Some(condition_type(&lock.inner.to_condition()));
        }
        Condition::AtomicSwap(swap) => {
            decoded.swap_sender = Some(address_bytes(&swap.sender).to_vec());
            decoded.swap_receiver = Some(address_bytes(&swap.receiver).to_vec());
            decoded.swap_hashed_secret = Some(swap.hashed_secret.to_vec());
            decoded.swap_timelock = Some(to_i64(swap.timelock.0));
        }
        _ => {}
    }
    decoded
}

/// A condition as JSON, with addresses in the network's text form.
pub fn condition_json(condition: &Condition, prefix: &str) -> Value {
    let text = |address: &Address| address.display(prefix).to_string();
    match condition {
        Condition::Nil => json!({ "type": "nil" }),
        Condition::PubKeyHash(_) => {
            json!({ "type": "pubkey", "address": text(&condition.address()) })
        }
        Condition::Multisig(multisig) => json!({
            "type": "multisig",
            "address": text(&multisig.address()),
            "required": multisig.required,
            "keys": multisig.keys.iter().map(|key| hex::encode(key.0)).collect::<Vec<_>>(),
        }),
        Condition::TimeLock(lock) => json!({
            "type": "timelock",
            "lock": lock.lock,
            "lock_kind": lock_kind(lock.lock),
            "inner": condition_json(&lock.inner.to_condition(), prefix),
        }),
        Condition::AtomicSwap(swap) => json!({
            "type": "atomic_swap",
            "address": text(&swap.address()),
            "sender": text(&swap.sender),
            "receiver": text(&swap.receiver),
            "hashed_secret": hex::encode(swap.hashed_secret),
            "timelock": swap.timelock.0,
        }),
    }
}

/// The kind column of a transaction.
pub fn transaction_kind(transaction: &Transaction, height: BlockHeight) -> &'static str {
    match &transaction.payload {
        Some(Payload::Notary(_)) => "notary",
        Some(Payload::Minting(MintingOperation::CreateCoins { .. })) => "coin_creation",
        Some(Payload::Minting(MintingOperation::ChangeMintCondition { .. })) => "mint_condition",
        Some(Payload::Minting(MintingOperation::DestroyCoins { .. })) => "coin_destruction",
        Some(Payload::AuthorizedAddresses(AuthorizedAddressOperation::UpdateAddresses {
            ..
        })) => "address_update",
        Some(Payload::AuthorizedAddresses(AuthorizedAddressOperation::ChangeAuthority {
            ..
        })) => "authority_change",
        Some(Payload::Identity(_)) => "identity",
        Some(Payload::Storage(_)) => "storage",
        Some(Payload::Compute(_)) => "compute",
        Some(Payload::Chat(_)) => "chat",
        None if height == BlockHeight::GENESIS => "genesis",
        None if transaction.is_blockstake_only() => "blockstake",
        None => "transfer",
    }
}

fn fulfillment_columns(fulfillment: &Fulfillment) -> (&'static str, Vec<u8>, Option<Vec<u8>>) {
    match fulfillment {
        Fulfillment::Nil => ("nil", Vec::new(), None),
        Fulfillment::SingleSignature(single) => {
            ("single_signature", single.public_key.0.to_vec(), None)
        }
        Fulfillment::MultiSignature(multi) => (
            "multi_signature",
            multi
                .pairs
                .iter()
                .flat_map(|pair| pair.public_key.0)
                .collect(),
            None,
        ),
        Fulfillment::AtomicSwapClaim(claim) => (
            "atomic_swap_claim",
            claim.public_key.0.to_vec(),
            Some(claim.secret.to_vec()),
        ),
        Fulfillment::AtomicSwapRefund(refund) => {
            ("atomic_swap_refund", refund.public_key.0.to_vec(), None)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionRow {
    pub id: Vec<u8>,
    pub index: i32,
    pub kind: &'static str,
    pub fee: String,
    pub arbitrary_data: Vec<u8>,
    pub size: i32,
    pub coin_inputs: i32,
    pub coin_outputs: i32,
    pub blockstake_inputs: i32,
    pub blockstake_outputs: i32,
    pub coin_input_total: String,
    pub coin_output_total: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputRow {
    pub id: Vec<u8>,
    pub currency: &'static str,
    pub origin: &'static str,
    pub transaction_id: Option<Vec<u8>>,
    pub transaction_index: Option<i32>,
    pub output_index: i32,
    pub value: String,
    pub address: Vec<u8>,
    pub condition: DecodedCondition,
    pub matures_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputRow {
    pub transaction_id: Vec<u8>,
    pub currency: &'static str,
    pub index: i32,
    pub parent_id: Vec<u8>,
    pub value: String,
    pub address: Vec<u8>,
    pub fulfillment_type: &'static str,
    /// Public keys concatenated (32 bytes each), split by the SQL.
    pub public_keys: Vec<u8>,
    pub secret: Option<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultisigMemberRow {
    pub public_key: Vec<u8>,
    pub required: i32,
    pub key_count: i32,
}

/// A row of `mint_event` or `authorization_event`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRow {
    pub event_index: i64,
    pub transaction_id: Option<Vec<u8>>,
    pub kind: &'static str,
    pub address: Option<Vec<u8>>,
    pub condition: Option<String>,
    pub amount: Option<String>,
}

/// Everything one applied block writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlockRows {
    pub height: i64,
    pub id: Vec<u8>,
    pub parent: Vec<u8>,
    pub timestamp: i64,
    pub staker: Option<Vec<u8>>,
    pub stake_output: (i64, i32, i32),
    pub fees: Currency,
    pub payouts_total: Currency,
    pub size: i32,
    pub transactions: Vec<TransactionRow>,
    pub outputs: Vec<OutputRow>,
    pub inputs: Vec<InputRow>,
    /// Spent output ID → spending transaction ID.
    pub spends: Vec<(Vec<u8>, Vec<u8>)>,
    pub addresses: BTreeMap<AddressBytes, AddressChange>,
    /// (address, transaction index) → transaction ID.
    pub address_transactions: BTreeMap<(AddressBytes, i32), Vec<u8>>,
    pub multisig_members: BTreeMap<(AddressBytes, AddressBytes), MultisigMemberRow>,
    /// (document hash, transaction ID).
    pub notary: BTreeSet<(Vec<u8>, Vec<u8>)>,
    pub mint_events: Vec<HistoryRow>,
    pub authorization_events: Vec<HistoryRow>,
    pub coin_inputs: i32,
    pub coin_outputs: i32,
    pub blockstake_inputs: i32,
    pub blockstake_outputs: i32,
    pub arbitrary_data_bytes: i32,
    pub minted: Currency,
    pub destroyed: Currency,
    /// Blockstakes created minus spent (non-zero only at genesis).
    pub blockstake_created: u128,
    pub blockstake_spent: u128,
    /// Coins in genesis outputs (the supply's starting point).
    pub genesis_coins: Currency,
}

/// What a spent output was, from its spend event.
#[derive(Debug, Clone, Copy)]
struct Spent {
    value: u128,
    address: Address,
}

impl BlockRows {
    fn touch(&mut self, address: &Address) -> &mut AddressChange {
        let change = self.addresses.entry(address_bytes(address)).or_default();
        change.kind = address_kind_name(address.kind);
        change
    }

    fn link(&mut self, address: &Address, index: i32, transaction_id: &[u8]) {
        self.address_transactions
            .entry((address_bytes(address), index))
            .or_insert_with(|| transaction_id.to_vec());
    }

    fn add_multisig(&mut self, condition: &Condition) {
        if let Some(multisig) = multisig_of(condition) {
            let multisig_address = address_bytes(&multisig.address());
            for key in &multisig.keys {
                let member = address_bytes(&Address::for_public_key(key));
                self.multisig_members
                    .entry((multisig_address, member))
                    .or_insert_with(|| MultisigMemberRow {
                        public_key: key.0.to_vec(),
                        required: i32::try_from(multisig.required).unwrap_or(i32::MAX),
                        key_count: to_i32(multisig.keys.len()),
                    });
            }
        }
    }
}

/// The `output.origin` of a coin output a domain module created: the
/// domain's name (`compute` for payouts, refunds and escrow change).
fn domain_origin(domain: &str) -> &'static str {
    match domain {
        "compute" => "compute",
        "storage" => "storage",
        "identity" => "identity",
        "chat" => "chat",
        _ => "domain",
    }
}

/// Computes the rows of an applied block.
pub fn block_rows(
    message: &BlockMessage,
    config: &ChainConfig,
) -> Result<BlockRows, ExplorerError> {
    let block = &message.block;
    let height = message.height;
    let block_id = message.block_id();
    let prefix = config.params.address_prefix.as_str();
    let header = &block.header;
    let mut rows = BlockRows {
        height: to_i64(height.0),
        id: block_id.0.0.to_vec(),
        parent: header.parent.0.0.to_vec(),
        timestamp: to_i64(header.timestamp.0),
        stake_output: (
            to_i64(header.stake_output.height.0),
            i32::try_from(header.stake_output.transaction_index).unwrap_or(i32::MAX),
            i32::try_from(header.stake_output.output_index).unwrap_or(i32::MAX),
        ),
        size: to_i32(block.encoded_size()),
        ..BlockRows::default()
    };

    // What the events say.
    let mut transaction_ids: HashMap<u64, ledger::TransactionId> = HashMap::new();
    let mut spent: HashMap<[u8; 32], Spent> = HashMap::new();
    let mut matures_at: HashMap<[u8; 32], BlockHeight> = HashMap::new();
    // Coins domain modules moved (compute payouts, refunds, escrow), by
    // transaction index: no input or output of the transaction shows them.
    let mut domain_spent: Vec<(u64, CoinOutputId, Spent)> = Vec::new();
    let mut domain_created: Vec<(u64, &str, CoinOutputId, u64, Currency, &Condition)> = Vec::new();
    for event in &message.events {
        if event.direction != Direction::Apply {
            return Err(ExplorerError::RevertEventInApply {
                height,
                index: event.position.index,
            });
        }
        match &event.body {
            EventBody::BlockApplied { staker, .. } => {
                rows.staker = Some(address_bytes(staker).to_vec());
                rows.touch(staker).blocks_created += 1;
            }
            EventBody::Transaction { id } => {
                if let Some(index) = event.position.transaction {
                    transaction_ids.insert(index, *id);
                }
            }
            EventBody::CoinOutputSpent { id, value, address } => {
                spent.insert(
                    id.0.0,
                    Spent {
                        value: value.0,
                        address: *address,
                    },
                );
            }
            EventBody::BlockStakeOutputSpent { id, value, address } => {
                spent.insert(
                    id.0.0,
                    Spent {
                        value: u128::from(value.0),
                        address: *address,
                    },
                );
            }
            EventBody::PayoutCreated {
                id, matures_at: at, ..
            } => {
                matures_at.insert(id.0.0, *at);
            }
            EventBody::DomainCoinOutputSpent {
                id, value, address, ..
            } => {
                let index = event
                    .position
                    .transaction
                    .ok_or(ExplorerError::DomainCoinsOutsideTransaction { height })?;
                domain_spent.push((
                    index,
                    *id,
                    Spent {
                        value: value.0,
                        address: *address,
                    },
                ));
            }
            EventBody::DomainCoinOutputCreated {
                domain,
                id,
                index: output_index,
                value,
                condition,
            } => {
                let index = event
                    .position
                    .transaction
                    .ok_or(ExplorerError::DomainCoinsOutsideTransaction { height })?;
                domain_created.push((index, domain, *id, *output_index, *value, condition));
            }
            EventBody::PayoutMatured { value, address, .. } => {
                let change = rows.touch(address);
                change.coins.add(value.0);
                change.maturing.sub(value.0);
                change.coin_outputs_unspent += 1;
            }
            _ => {}
        }
    }
    let transaction_id = |index: usize, transaction: &Transaction| {
        transaction_ids
            .get(&(index as u64))
            .copied()
            .unwrap_or_else(|| transaction.id())
    };

    // Transactions, their inputs and outputs.
    for (index, transaction) in block.transactions.iter().enumerate() {
        let id = transaction_id(index, transaction);
        let id_bytes = id.0.0.to_vec();
        let tx_index = to_i32(index);
        let mut coin_input_total = Currency::ZERO;
        for (input_index, input) in transaction.coin_inputs.iter().enumerate() {
            let parent = input.parent_id.0.0;
            let what = spent.get(&parent).ok_or(ExplorerError::MissingSpendEvent {
                height,
                output: hex::encode(parent),
            })?;
            coin_input_total = coin_input_total
                .checked_add(Currency(what.value))
                .ok_or(ExplorerError::Overflow)?;
            let change = rows.touch(&what.address);
            change.coins.sub(what.value);
            change.coin_outputs_unspent -= 1;
            let (fulfillment_type, public_keys, secret) = fulfillment_columns(&input.fulfillment);
            rows.inputs.push(InputRow {
                transaction_id: id_bytes.clone(),
                currency: "coin",
                index: to_i32(input_index),
                parent_id: parent.to_vec(),
                value: what.value.to_string(),
                address: address_bytes(&what.address).to_vec(),
                fulfillment_type,
                public_keys,
                secret,
            });
            rows.spends.push((parent.to_vec(), id_bytes.clone()));
            rows.link(&what.address, tx_index, &id_bytes);
        }
        for (input_index, input) in transaction.blockstake_inputs.iter().enumerate() {
            let parent = input.parent_id.0.0;
            let what = spent.get(&parent).ok_or(ExplorerError::MissingSpendEvent {
                height,
                output: hex::encode(parent),
            })?;
            rows.blockstake_spent = rows.blockstake_spent.saturating_add(what.value);
            let change = rows.touch(&what.address);
            change.blockstakes.sub(what.value);
            change.blockstake_outputs_unspent -= 1;
            let (fulfillment_type, public_keys, secret) = fulfillment_columns(&input.fulfillment);
            rows.inputs.push(InputRow {
                transaction_id: id_bytes.clone(),
                currency: "blockstake",
                index: to_i32(input_index),
                parent_id: parent.to_vec(),
                value: what.value.to_string(),
                address: address_bytes(&what.address).to_vec(),
                fulfillment_type,
                public_keys,
                secret,
            });
            rows.spends.push((parent.to_vec(), id_bytes.clone()));
            rows.link(&what.address, tx_index, &id_bytes);
        }

        let own_outputs = transaction.coin_outputs.len();
        let mut coin_output_total = Currency::ZERO;
        let mut minted = Currency::ZERO;
        for (output_index, (output, output_id)) in transaction
            .created_coin_outputs()
            .zip(transaction.coin_output_ids(&id))
            .enumerate()
        {
            let is_minted = output_index >= own_outputs;
            if is_minted {
                minted = minted
                    .checked_add(output.value)
                    .ok_or(ExplorerError::Overflow)?;
            } else {
                coin_output_total = coin_output_total
                    .checked_add(output.value)
                    .ok_or(ExplorerError::Overflow)?;
            }
            let address = output.condition.address();
            let change = rows.touch(&address);
            change.coins.add(output.value.0);
            change.coin_outputs_unspent += 1;
            change.outputs_received += 1;
            rows.add_multisig(&output.condition);
            rows.outputs.push(OutputRow {
                id: output_id.0.0.to_vec(),
                currency: "coin",
                origin: if is_minted { "minted" } else { "transaction" },
                transaction_id: Some(id_bytes.clone()),
                transaction_index: Some(tx_index),
                output_index: to_i32(output_index),
                value: output.value.0.to_string(),
                address: address_bytes(&address).to_vec(),
                condition: decode_condition(&output.condition),
                matures_at: None,
            });
            rows.link(&address, tx_index, &id_bytes);
        }
        for (output_index, (output, output_id)) in transaction
            .blockstake_outputs
            .iter()
            .zip(transaction.blockstake_output_ids(&id))
            .enumerate()
        {
            rows.blockstake_created = rows
                .blockstake_created
                .saturating_add(u128::from(output.value.0));
            let address = output.condition.address();
            let change = rows.touch(&address);
            change.blockstakes.add(u128::from(output.value.0));
            change.blockstake_outputs_unspent += 1;
            change.outputs_received += 1;
            rows.add_multisig(&output.condition);
            rows.outputs.push(OutputRow {
                id: output_id.0.0.to_vec(),
                currency: "blockstake",
                origin: "transaction",
                transaction_id: Some(id_bytes.clone()),
                transaction_index: Some(tx_index),
                output_index: to_i32(output_index),
                value: output.value.0.to_string(),
                address: address_bytes(&address).to_vec(),
                condition: decode_condition(&output.condition),
                matures_at: None,
            });
            rows.link(&address, tx_index, &id_bytes);
        }

        // Coins a domain module moved in this transaction: escrow outputs
        // spent (marked spent by the transaction) and outputs created.
        for (_, parent, what) in domain_spent.iter().filter(|(at, _, _)| *at == index as u64) {
            let change = rows.touch(&what.address);
            change.coins.sub(what.value);
            change.coin_outputs_unspent -= 1;
            rows.spends.push((parent.0.0.to_vec(), id_bytes.clone()));
            rows.link(&what.address, tx_index, &id_bytes);
        }
        for (_, domain, output_id, output_index, value, condition) in
            domain_created.iter().filter(|(at, ..)| *at == index as u64)
        {
            let address = condition.address();
            let change = rows.touch(&address);
            change.coins.add(value.0);
            change.coin_outputs_unspent += 1;
            change.outputs_received += 1;
            rows.add_multisig(condition);
            rows.outputs.push(OutputRow {
                id: output_id.0.0.to_vec(),
                currency: "coin",
                origin: domain_origin(domain),
                transaction_id: Some(id_bytes.clone()),
                transaction_index: Some(tx_index),
                output_index: i32::try_from(*output_index).unwrap_or(i32::MAX),
                value: value.0.to_string(),
                address: address_bytes(&address).to_vec(),
                condition: decode_condition(condition),
                matures_at: None,
            });
            rows.link(&address, tx_index, &id_bytes);
        }

        if height == BlockHeight::GENESIS {
            rows.genesis_coins = rows
                .genesis_coins
                .checked_add(coin_output_total)
                .ok_or(ExplorerError::Overflow)?;
        }
        rows.minted = rows
            .minted
            .checked_add(minted)
            .ok_or(ExplorerError::Overflow)?;
        rows.fees = rows
            .fees
            .checked_add(transaction.fee)
            .ok_or(ExplorerError::Overflow)?;
        rows.coin_inputs += to_i32(transaction.coin_inputs.len());
        rows.coin_outputs += to_i32(transaction.created_coin_outputs().count());
        rows.blockstake_inputs += to_i32(transaction.blockstake_inputs.len());
        rows.blockstake_outputs += to_i32(transaction.blockstake_outputs.len());
        rows.arbitrary_data_bytes += to_i32(transaction.arbitrary_data.len());
        rows.transactions.push(TransactionRow {
            id: id_bytes,
            index: tx_index,
            kind: transaction_kind(transaction, height),
            fee: transaction.fee.0.to_string(),
            arbitrary_data: transaction.arbitrary_data.clone(),
            size: to_i32(transaction.encoded_size()),
            coin_inputs: to_i32(transaction.coin_inputs.len()),
            coin_outputs: to_i32(transaction.created_coin_outputs().count()),
            blockstake_inputs: to_i32(transaction.blockstake_inputs.len()),
            blockstake_outputs: to_i32(transaction.blockstake_outputs.len()),
            coin_input_total: coin_input_total.0.to_string(),
            coin_output_total: coin_output_total.0.to_string(),
        });
    }
    let linked: Vec<AddressBytes> = rows
        .address_transactions
        .keys()
        .map(|(address, _)| *address)
        .collect();
    for address in linked {
        if let Some(change) = rows.addresses.get_mut(&address) {
            change.transactions += 1;
        }
    }

    // Payouts: maturing until `matures_at`.
    for (index, (payout, payout_id)) in block.payouts.iter().zip(block.payout_ids()).enumerate() {
        rows.payouts_total = rows
            .payouts_total
            .checked_add(payout.value)
            .ok_or(ExplorerError::Overflow)?;
        let at = matures_at
            .get(&payout_id.0.0)
            .copied()
            .or_else(|| height.checked_add(config.consensus.maturity_delay))
            .unwrap_or(BlockHeight(u64::MAX));
        let change = rows.touch(&payout.address);
        change.maturing.add(payout.value.0);
        change.outputs_received += 1;
        let condition = Condition::PubKeyHash(payout.address.hash);
        rows.outputs.push(OutputRow {
            id: payout_id.0.0.to_vec(),
            currency: "coin",
            origin: "payout",
            transaction_id: None,
            transaction_index: None,
            output_index: to_i32(index),
            value: payout.value.0.to_string(),
            address: address_bytes(&payout.address).to_vec(),
            condition: decode_condition(&condition),
            matures_at: Some(to_i64(at.0)),
        });
    }

    // Minting, authority and notary history, from the events.
    let mut minted_by_tx: BTreeMap<u64, (i64, u128)> = BTreeMap::new();
    for event in &message.events {
        let tx_id = || {
            event
                .position
                .transaction
                .and_then(|index| transaction_ids.get(&index))
                .map(|id| id.0.0.to_vec())
        };
        let event_index = to_i64(event.position.index);
        match &event.body {
            EventBody::CoinOutputCreated {
                value,
                minted: true,
                ..
            } => {
                if let Some(index) = event.position.transaction {
                    let entry = minted_by_tx.entry(index).or_insert((event_index, 0));
                    entry.1 = entry.1.saturating_add(value.0);
                }
            }
            EventBody::CoinsDestroyed { amount } => {
                rows.destroyed = rows
                    .destroyed
                    .checked_add(*amount)
                    .ok_or(ExplorerError::Overflow)?;
                rows.mint_events.push(HistoryRow {
                    event_index,
                    transaction_id: tx_id(),
                    kind: "coins_destroyed",
                    address: None,
                    condition: None,
                    amount: Some(amount.0.to_string()),
                });
            }
            EventBody::MintConditionChanged { after, .. } => rows.mint_events.push(HistoryRow {
                event_index,
                transaction_id: tx_id(),
                kind: "condition_changed",
                address: None,
                condition: after
                    .as_ref()
                    .map(|condition| condition_json(condition, prefix).to_string()),
                amount: None,
            }),
            EventBody::AuthorityChanged { after, .. } => {
                rows.authorization_events.push(HistoryRow {
                    event_index,
                    transaction_id: tx_id(),
                    kind: "authority_changed",
                    address: None,
                    condition: after
                        .as_ref()
                        .map(|condition| condition_json(condition, prefix).to_string()),
                    amount: None,
                })
            }
            EventBody::AddressAuthorized { address } => {
                rows.authorization_events.push(HistoryRow {
                    event_index,
                    transaction_id: tx_id(),
                    kind: "authorized",
                    address: Some(address_bytes(address).to_vec()),
                    condition: None,
                    amount: None,
                })
            }
            EventBody::AddressDeauthorized { address } => {
                rows.authorization_events.push(HistoryRow {
                    event_index,
                    transaction_id: tx_id(),
                    kind: "deauthorized",
                    address: Some(address_bytes(address).to_vec()),
                    condition: None,
                    amount: None,
                })
            }
            EventBody::NotaryRecorded { document_hash } => {
                if let Some(id) = tx_id() {
                    rows.notary.insert((document_hash.0.to_vec(), id));
                }
            }
            _ => {}
        }
    }
    for (index, (event_index, amount)) in minted_by_tx {
        rows.mint_events.push(HistoryRow {
            event_index,
            transaction_id: transaction_ids.get(&index).map(|id| id.0.0.to_vec()),
            kind: "coins_created",
            address: None,
            condition: None,
            amount: Some(amount.to_string()),
        });
    }

    // Genesis: what the configuration sets besides the block.
    if height == BlockHeight::GENESIS {
        if block_id != config.genesis_id {
            return Err(ExplorerError::OtherNetwork {
                genesis: block_id.to_string(),
                configured: config.genesis_id.to_string(),
            });
        }
        if let Some(condition) = &config.mint_condition {
            rows.mint_events.push(HistoryRow {
                event_index: -1,
                transaction_id: None,
                kind: "genesis_condition",
                address: None,
                condition: Some(condition_json(condition, prefix).to_string()),
                amount: None,
            });
        }
        if let Some(condition) = &config.authority_condition {
            rows.authorization_events.push(HistoryRow {
                event_index: -1,
                transaction_id: None,
                kind: "genesis_authority",
                address: None,
                condition: Some(condition_json(condition, prefix).to_string()),
                amount: None,
            });
        }
        for (index, address) in config.authorized_addresses.iter().enumerate() {
            rows.authorization_events.push(HistoryRow {
                event_index: -2 - to_i64(index as u64),
                transaction_id: None,
                kind: "authorized",
                address: Some(address_bytes(address).to_vec()),
                condition: None,
                amount: None,
            });
        }
    }
    rows.mint_events.sort_by_key(|row| row.event_index);
    rows.authorization_events.sort_by_key(|row| row.event_index);
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger::condition::{AtomicSwapCondition, TimeLockCondition};
    use ledger::crypto::SecretKey;
    use ledger::{Hash32, Timestamp};

    fn key(seed: u8) -> ledger::PublicKey {
        SecretKey::from_seed([seed; 32]).public_key()
    }

    #[test]
    fn deltas_render_signed_decimals() {
        let mut delta = Delta::default();
        delta.add(5);
        delta.sub(7);
        assert_eq!(delta.to_decimal(), "-2");
        delta.add(u128::MAX - 10);
        assert_eq!(delta.to_decimal(), (u128::MAX - 12).to_string());
    }

    #[test]
    fn conditions_decode_into_columns() {
        let multisig = MultisigCondition::new(2, vec![key(1), key(2), key(3)]);
        let locked = Condition::TimeLock(TimeLockCondition {
            lock: 1_800_000_000,
            inner: TimeLockedCondition::Multisig(multisig.clone()),
        });
        let decoded = decode_condition(&locked);
        assert_eq!(decoded.condition_type, "timelock");
        assert_eq!(decoded.timelock, Some(1_800_000_000));
        assert_eq!(decoded.timelock_kind, Some("time"));
        assert_eq!(decoded.timelock_inner_type, Some("multisig"));
        assert_eq!(decoded.multisig_required, Some(2));
        assert_eq!(decoded.multisig_key_count, Some(3));

        let swap = Condition::AtomicSwap(AtomicSwapCondition {
            sender: Address::for_public_key(&key(1)),
            receiver: Address::for_public_key(&key(2)),
            hashed_secret: [9; 32],
            timelock: Timestamp(1_700_000_500),
        });
        let decoded = decode_condition(&swap);
        assert_eq!(decoded.condition_type, "atomic_swap");
        assert_eq!(
            decoded.swap_receiver,
            Some(address_bytes(&Address::for_public_key(&key(2))).to_vec())
        );
        assert_eq!(decoded.swap_timelock, Some(1_700_000_500));
        let json = condition_json(&swap, "bsdev");
        assert_eq!(json["type"], "atomic_swap");
        assert!(
            json["sender"]
                .as_str()
                .is_some_and(|s| s.starts_with("bsdev1"))
        );

        let single = decode_condition(&Condition::PubKeyHash(Hash32([4; 32])));
        assert_eq!(single.condition_type, "pubkey");
        assert_eq!(single.timelock, None);
    }

    #[test]
    fn address_bytes_carry_the_kind() {
        let multisig = MultisigCondition::new(1, vec![key(1), key(2)]).address();
        let bytes = address_bytes(&multisig);
        assert_eq!(bytes[0], AddressKind::Multisig.byte());
        assert_eq!(&bytes[1..], multisig.hash.as_bytes());
    }
}
