//! Stateful validation: applying a block to the chain state.
//!
//! [`apply_block`] checks every rule that needs the state, in this order,
//! and on the first failure undoes what it did, so the state is never left
//! half-changed:
//!
//! 1. the state is at the block's parent;
//! 2. the stake output at `header.stake_output` is unspent, old enough
//!    (aging) and wins the lottery against the parent's child target;
//! 3. the first transaction respends exactly that output (one blockstake
//!    input, one blockstake output of the same value and condition, nothing
//!    else but arbitrary data);
//! 4. payouts maturing at this height become coin outputs;
//! 5. each transaction, in block order against the state as it stands at
//!    that point: inputs exist and are unspent (also within the block),
//!    fulfillments satisfy the spent conditions at the block's height and
//!    time (signatures queued into one batch for the whole block), coins
//!    balance (`inputs = outputs + fee`, minted outputs created apart; for
//!    a destruction `inputs > outputs + fee`), blockstakes balance, authorized addresses
//!    (when the network enables them), minting and authority rules, domain
//!    modules (whose signatures join the same batch);
//! 6. payouts sum to the block creator fee plus all fees, every payout to
//!    the staker's address; they mature after `maturity_delay` blocks;
//! 7. all signatures verify (one batch).

use std::collections::HashMap;

use ledger::crypto::{SignatureBatch, SignatureError};
use ledger::payload::{AuthorizedAddressOperation, MintingOperation, Payload};
use ledger::validation::{SpendError, StatelesslyValidBlock, queue_transaction_signatures};
use ledger::{
    Address, AddressKind, BlockHeight, BlockId, BlockStakeOutputId, BlockStakePosition,
    BlockStakes, CoinOutput, CoinOutputId, Currency, Hash32, Timestamp, Transaction, TransactionId,
};
use thiserror::Error;

use crate::config::ChainConfig;
use crate::events::{EventBody, EventLog};
use crate::pobs::{StakeModifier, Target, lottery_hash, winning_bound, wins};
use crate::state::{
    BlockDiff, BlockStakeEntry, ChainState, DomainCoins, DomainContext, DomainError,
    InconsistentDiff, NotaryEntry, StateOp, Tip,
};

/// What the block tree computes for a block before it is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockContext {
    pub height: BlockHeight,
    /// The parent's child target: what this block's lottery must meet.
    pub target: Target,
    pub stake_modifier: StakeModifier,
}

/// Why a block breaks a stateful rule.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BlockRuleError {
    #[error("block builds on {parent} but the state is at {tip}")]
    NotOnTip { parent: BlockId, tip: BlockId },
    #[error(
        "stake output position (height {}, transaction {}, output {}) holds no unspent blockstake output",
        .position.height, .position.transaction_index, .position.output_index
    )]
    StakeOutputNotFound { position: BlockStakePosition },
    #[error(
        "stake output {id} was created at {created_at} and may stake from {ready_at}; the block's time is {timestamp}"
    )]
    StakeNotAged {
        id: BlockStakeOutputId,
        created_at: Timestamp,
        ready_at: Timestamp,
        timestamp: Timestamp,
    },
    #[error(
        "stake output {id} ({value}) does not win at {timestamp}: lottery hash {hash} is not below target {target} × value"
    )]
    LotteryLost {
        id: BlockStakeOutputId,
        value: BlockStakes,
        timestamp: Timestamp,
        hash: Hash32,
        target: Target,
    },
    #[error("block has no transactions; the first must respend stake output {stake_output}")]
    MissingRespend { stake_output: BlockStakeOutputId },
    #[error("first transaction must respend stake output {stake_output}: {reason}")]
    BadRespend {
        stake_output: BlockStakeOutputId,
        reason: String,
    },
    #[error("transaction {index} ({id}): {source}")]
    Transaction {
        index: usize,
        id: TransactionId,
        source: Box<TransactionRuleError>,
    },
    #[error("the fees of the block sum to more than 2^128 base units")]
    FeeOverflow,
    #[error("payouts total {paid:?} but the block creator fee plus fees is {expected:?}")]
    PayoutMismatch { paid: Currency, expected: Currency },
    #[error("payout {index} goes to {address:?}, not to the staker's address {staker:?}")]
    PayoutNotToStaker {
        index: usize,
        address: Address,
        staker: Address,
    },
    #[error("block signatures: {0}")]
    Signature(SignatureError),
    #[error("block height {0} overflows")]
    HeightOverflow(BlockHeight),
    #[error(transparent)]
    Inconsistent(#[from] InconsistentDiff),
}

/// Why a transaction breaks a stateful rule.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TransactionRuleError {
    #[error("coin input {input} spends output {parent}, which does not exist or is already spent")]
    UnknownCoinOutput { input: usize, parent: CoinOutputId },
    #[error(
        "coin input {input} spends output {parent}, which transaction {by_transaction} of this block already spent"
    )]
    CoinOutputSpentInBlock {
        input: usize,
        parent: CoinOutputId,
        by_transaction: usize,
    },
    #[error(
        "blockstake input {input} spends output {parent}, which does not exist or is already spent"
    )]
    UnknownBlockStakeOutput {
        input: usize,
        parent: BlockStakeOutputId,
    },
    #[error(
        "blockstake input {input} spends output {parent}, which transaction {by_transaction} of this block already spent"
    )]
    BlockStakeSpentInBlock {
        input: usize,
        parent: BlockStakeOutputId,
        by_transaction: usize,
    },
    #[error(transparent)]
    Spend(#[from] SpendError),
    #[error("coin inputs sum to more than 2^128 base units")]
    CoinInputOverflow,
    #[error(
        "coins do not balance: inputs {inputs:?} ≠ outputs {outputs:?} + fee {fee:?} (minted outputs {minted:?} are created apart)"
    )]
    CoinImbalance {
        inputs: Currency,
        minted: Currency,
        outputs: Currency,
        fee: Currency,
    },
    #[error(
        "coin destruction destroys nothing: inputs {inputs:?} do not exceed outputs plus fee {outputs_and_fee:?}"
    )]
    NothingDestroyed {
        inputs: Currency,
        outputs_and_fee: Currency,
    },
    #[error("blockstakes do not balance: inputs {inputs} ≠ outputs {outputs}")]
    BlockStakeImbalance {
        inputs: BlockStakes,
        outputs: BlockStakes,
    },
    #[error("{what} belongs to {address:?}, which is not an authorized address")]
    UnauthorizedAddress { what: String, address: Address },
    #[error("address {address:?} is already authorized")]
    AlreadyAuthorized { address: Address },
    #[error("address {address:?} is not authorized, so it cannot be deauthorized")]
    NotAuthorized { address: Address },
    #[error("the new authority condition equals the current one")]
    UnchangedAuthority,
    #[error("the new mint condition equals the current one")]
    UnchangedMintCondition,
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error("the {domain} domain moves coins it may not: {reason}")]
    DomainCoins {
        domain: &'static str,
        reason: String,
    },
}

/// Applies `block` to `state` (which must be at the block's parent) and
/// returns its diff, or leaves `state` untouched and says why not.
pub fn apply_block(
    state: &mut ChainState,
    block: &StatelesslyValidBlock,
    context: &BlockContext,
    config: &ChainConfig,
) -> Result<BlockDiff, BlockRuleError> {
    let mut applier = Applier {
        state,
        ops: Vec::new(),
        log: EventLog::new(block.id(), context.height),
    };
    match applier.block(block, context, config) {
        Ok(()) => {
            let Applier { ops, log, .. } = applier;
            Ok(BlockDiff {
                block: block.id(),
                height: context.height,
                ops,
                events: log.into_events(),
            })
        }
        Err(error) => {
            applier.state.revert_ops(&applier.ops)?;
            Err(error)
        }
    }
}

/// Validates one transaction against `state` as if it were transaction
/// `index` of a block at `height` and `timestamp` (the mempool's view: the
/// tip plus the pool's earlier transactions), verifies its signatures, and
/// applies it. Returns the ops to undo it with
/// [`ChainState::revert_ops`]; on failure `state` is unchanged.
pub fn apply_transaction(
    state: &mut ChainState,
    transaction: &Transaction,
    id: &TransactionId,
    index: usize,
    height: BlockHeight,
    timestamp: Timestamp,
    config: &ChainConfig,
) -> Result<Vec<StateOp>, TransactionRuleError> {
    let mut applier = Applier {
        state,
        ops: Vec::new(),
        log: EventLog::new(BlockId::default(), height),
    };
    let mut batch = SignatureBatch::new();
    let mut spent = SpentInBlock::default();
    let result = applier
        .transaction(
            transaction,
            id,
            index,
            height,
            timestamp,
            config,
            &mut batch,
            &mut spent,
        )
        .and_then(|()| {
            batch
                .verify()
                .map_err(|error| TransactionRuleError::Spend(SpendError::Signature(error)))
        });
    match result {
        Ok(()) => Ok(applier.ops),
        Err(error) => {
            applier
                .state
                .revert_ops(&applier.ops)
                .map_err(inconsistent)?;
            Err(error)
        }
    }
}

struct Applier<'s> {
    state: &'s mut ChainState,
    ops: Vec<StateOp>,
    log: EventLog,
}

impl Applier<'_> {
    fn push(&mut self, op: StateOp) -> Result<(), InconsistentDiff> {
        self.state.apply_op(&op)?;
        self.ops.push(op);
        Ok(())
    }

    fn block(
        &mut self,
        block: &StatelesslyValidBlock,
        context: &BlockContext,
        config: &ChainConfig,
    ) -> Result<(), BlockRuleError> {
        let header = &block.header;
        let height = context.height;
        let timestamp = header.timestamp;
        let tip = self.state.tip();
        if tip.id != header.parent {
            return Err(BlockRuleError::NotOnTip {
                parent: header.parent,
                tip: tip.id,
            });
        }

        // Proof of BlockStake.
        let position = header.stake_output;
        let (stake_id, stake) = self
            .state
            .blockstake_at(&position)
            .map(|(id, entry)| (id, entry.clone()))
            .ok_or(BlockRuleError::StakeOutputNotFound { position })?;
        let respent = position.transaction_index == 0 && position.output_index == 0;
        if position.height != BlockHeight::GENESIS && !respent {
            let ready_at = stake
                .created_at
                .checked_add_seconds(config.consensus.blockstake_aging)
                .unwrap_or(Timestamp(u64::MAX));
            if timestamp < ready_at {
                return Err(BlockRuleError::StakeNotAged {
                    id: stake_id,
                    created_at: stake.created_at,
                    ready_at,
                    timestamp,
                });
            }
        }
        let hash = lottery_hash(&context.stake_modifier, &position, timestamp);
        if !wins(&hash, &winning_bound(context.target, stake.output.value)) {
            return Err(BlockRuleError::LotteryLost {
                id: stake_id,
                value: stake.output.value,
                timestamp,
                hash,
                target: context.target,
            });
        }
        check_respend(block.transactions.first(), stake_id, &stake)?;
        let staker = stake.output.condition.address();
        self.log.push(
            None,
            EventBody::BlockApplied {
                parent: header.parent,
                timestamp,
                stake_output: position,
                staker,
            },
        );

        // Payouts of earlier blocks that become spendable now.
        if let Some(bucket) = self.state.maturing().get(&height) {
            let outputs: Vec<_> = bucket
                .iter()
                .map(|(id, output)| (*id, output.clone()))
                .collect();
            for (id, output) in &outputs {
                self.log.push(
                    None,
                    EventBody::PayoutMatured {
                        id: *id,
                        value: output.value,
                        address: output.condition.address(),
                    },
                );
            }
            self.push(StateOp::Mature { height, outputs })?;
        }

        let mut batch = SignatureBatch::new();
        let mut spent = SpentInBlock::default();
        let mut fees = Currency::ZERO;
        for (index, (transaction, id)) in block
            .transactions
            .iter()
            .zip(block.transaction_ids())
            .enumerate()
        {
            self.transaction(
                transaction,
                id,
                index,
                height,
                timestamp,
                config,
                &mut batch,
                &mut spent,
            )
            .map_err(|source| BlockRuleError::Transaction {
                index,
                id: *id,
                source: Box::new(source),
            })?;
            fees = fees
                .checked_add(transaction.fee)
                .ok_or(BlockRuleError::FeeOverflow)?;
        }

        let expected = fees
            .checked_add(config.consensus.block_creator_fee)
            .ok_or(BlockRuleError::FeeOverflow)?;
        let paid = Currency::checked_sum(block.payouts.iter().map(|payout| payout.value))
            .ok_or(BlockRuleError::FeeOverflow)?;
        if paid != expected {
            return Err(BlockRuleError::PayoutMismatch { paid, expected });
        }
        let matures_at = height
            .checked_add(config.consensus.maturity_delay)
            .ok_or(BlockRuleError::HeightOverflow(height))?;
        let block_id = block.id();
        for (index, payout) in block.payouts.iter().enumerate() {
            if payout.address != staker {
                return Err(BlockRuleError::PayoutNotToStaker {
                    index,
                    address: payout.address,
                    staker,
                });
            }
            let id = CoinOutputId::for_payout(&block_id, index as u64);
            let output = ledger::CoinOutput {
                value: payout.value,
                condition: ledger::Condition::PubKeyHash(payout.address.hash),
            };
            self.log.push(
                None,
                EventBody::PayoutCreated {
                    id,
                    value: payout.value,
                    address: payout.address,
                    matures_at,
                },
            );
            self.push(StateOp::AddMaturing {
                height: matures_at,
                id,
                output,
            })?;
        }

        batch.verify().map_err(BlockRuleError::Signature)?;
        self.push(StateOp::SetTip {
            before: tip,
            after: Tip {
                id: block_id,
                height,
                timestamp,
            },
        })?;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn transaction(
        &mut self,
        transaction: &Transaction,
        id: &TransactionId,
        index: usize,
        height: BlockHeight,
        timestamp: Timestamp,
        config: &ChainConfig,
        batch: &mut SignatureBatch,
        spent: &mut SpentInBlock,
    ) -> Result<(), TransactionRuleError> {
        let consensus = &config.consensus;
        // Inputs exist and are unspent.
        let mut coin_inputs = Vec::with_capacity(transaction.coin_inputs.len());
        for (input, coin_input) in transaction.coin_inputs.iter().enumerate() {
            let parent = coin_input.parent_id;
            match self.state.coin_output(&parent) {
                Some(output) => coin_inputs.push((parent, output.clone())),
                None => {
                    return Err(match spent.coins.get(&parent) {
                        Some(by) => TransactionRuleError::CoinOutputSpentInBlock {
                            input,
                            parent,
                            by_transaction: *by,
                        },
                        None => TransactionRuleError::UnknownCoinOutput { input, parent },
                    });
                }
            }
        }
        let mut stake_inputs = Vec::with_capacity(transaction.blockstake_inputs.len());
        for (input, stake_input) in transaction.blockstake_inputs.iter().enumerate() {
            let parent = stake_input.parent_id;
            match self.state.blockstake_output(&parent) {
                Some(entry) => stake_inputs.push((parent, entry.clone())),
                None => {
                    return Err(match spent.stakes.get(&parent) {
                        Some(by) => TransactionRuleError::BlockStakeSpentInBlock {
                            input,
                            parent,
                            by_transaction: *by,
                        },
                        None => TransactionRuleError::UnknownBlockStakeOutput { input, parent },
                    });
                }
            }
        }

        // Fulfillments (signatures are verified with the whole block).
        queue_transaction_signatures(
            transaction,
            id,
            &config.params.chain_id,
            height,
            timestamp,
            &*self.state,
            batch,
        )?;

        // Balances.
        let inputs = Currency::checked_sum(coin_inputs.iter().map(|(_, output)| output.value))
            .ok_or(TransactionRuleError::CoinInputOverflow)?;
        let outputs = Currency::checked_sum(transaction.coin_outputs.iter().map(|o| o.value))
            .ok_or(TransactionRuleError::CoinInputOverflow)?;
        let minted_outputs = transaction
            .payload
            .as_ref()
            .map(|payload| payload.as_domain().created_coin_outputs())
            .unwrap_or(&[]);
        let minted = Currency::checked_sum(minted_outputs.iter().map(|o| o.value))
            .ok_or(TransactionRuleError::CoinInputOverflow)?;
        let outputs_and_fee = outputs
            .checked_add(transaction.fee)
            .ok_or(TransactionRuleError::CoinInputOverflow)?;
        let mut destroyed = None;
        if let Some(Payload::Minting(MintingOperation::DestroyCoins { .. })) = &transaction.payload
        {
            if inputs <= outputs_and_fee {
                return Err(TransactionRuleError::NothingDestroyed {
                    inputs,
                    outputs_and_fee,
                });
            }
            destroyed = inputs.checked_sub(outputs_and_fee);
        } else {
            // Minted outputs come from nothing; everything else the
            // transaction creates (its own coin outputs and fee) is paid
            // by its inputs.
            if inputs != outputs_and_fee {
                return Err(TransactionRuleError::CoinImbalance {
                    inputs,
                    minted,
                    outputs,
                    fee: transaction.fee,
                });
            }
        }
        let stake_in = BlockStakes(stake_inputs.iter().map(|(_, e)| e.output.value.0).sum());
        let stake_out =
            BlockStakes::checked_sum(transaction.blockstake_outputs.iter().map(|o| o.value));
        let stake_in_checked =
            BlockStakes::checked_sum(stake_inputs.iter().map(|(_, e)| e.output.value));
        if stake_in_checked.is_none() || stake_in_checked != stake_out {
            return Err(TransactionRuleError::BlockStakeImbalance {
                inputs: stake_in,
                outputs: stake_out.unwrap_or(BlockStakes(u64::MAX)),
            });
        }

        // Authorized addresses.
        if consensus.authorized_addresses_enabled {
            let needs_authorization = |address: &Address| {
                !matches!(address.kind, AddressKind::Nil | AddressKind::AtomicSwap)
            };
            for (input, (_, output)) in coin_inputs.iter().enumerate() {
                let address = output.condition.address();
                if needs_authorization(&address) && !self.state.is_authorized(&address) {
                    return Err(TransactionRuleError::UnauthorizedAddress {
                        what: format!("coin input {input}'s spent output"),
                        address,
                    });
                }
            }
            for (output_index, output) in transaction.created_coin_outputs().enumerate() {
                let address = output.condition.address();
                if needs_authorization(&address) && !self.state.is_authorized(&address) {
                    return Err(TransactionRuleError::UnauthorizedAddress {
                        what: format!("coin output {output_index}"),
                        address,
                    });
                }
            }
        }

        // Payload rules against the state.
        match &transaction.payload {
            Some(Payload::AuthorizedAddresses(AuthorizedAddressOperation::UpdateAddresses {
                authorize,
                deauthorize,
                ..
            })) => {
                if let Some(address) = authorize.iter().find(|a| self.state.is_authorized(a)) {
                    return Err(TransactionRuleError::AlreadyAuthorized { address: *address });
                }
                if let Some(address) = deauthorize.iter().find(|a| !self.state.is_authorized(a)) {
                    return Err(TransactionRuleError::NotAuthorized { address: *address });
                }
            }
            Some(Payload::AuthorizedAddresses(AuthorizedAddressOperation::ChangeAuthority {
                new_condition,
                ..
            })) if self.state.authority_condition() == Some(new_condition) => {
                return Err(TransactionRuleError::UnchangedAuthority);
            }
            Some(Payload::Minting(MintingOperation::ChangeMintCondition {
                new_condition, ..
            })) if self.state.mint_condition() == Some(new_condition) => {
                return Err(TransactionRuleError::UnchangedMintCondition);
            }
            _ => {}
        }

        // Domain modules validate against their own state.
        let domain_context = DomainContext {
            params: &config.params,
            height,
            timestamp,
            transaction_index: index as u64,
            transaction_id: id,
            domains: self.state.domains(),
        };
        let mut domain_changes = Vec::new();
        for (domain_index, domain) in self.state.domains().iter().enumerate() {
            if let Some(mut change) = domain.prepare(transaction, &domain_context)? {
                for signature in std::mem::take(&mut change.signatures) {
                    batch
                        .push(
                            format!("transaction {} {}", id.short(), signature.origin),
                            signature.message,
                            signature.public_key,
                            signature.signature,
                        )
                        .map_err(SpendError::Signature)?;
                }
                let spent = if change.coins.is_empty() {
                    Vec::new()
                } else {
                    self.check_domain_coins(domain_index, domain.name(), &change.coins, id, config)?
                };
                domain_changes.push((domain_index, domain.name(), change, spent));
            }
        }

        // Everything checks out: change the state.
        let tx = Some(index as u64);
        self.log.push(tx, EventBody::Transaction { id: *id });
        for (parent, output) in coin_inputs {
            self.log.push(
                tx,
                EventBody::CoinOutputSpent {
                    id: parent,
                    value: output.value,
                    address: output.condition.address(),
                },
            );
            spent.coins.insert(parent, index);
            self.push(StateOp::SpendCoin { id: parent, output })
                .map_err(inconsistent)?;
        }
        for (parent, entry) in stake_inputs {
            self.log.push(
                tx,
                EventBody::BlockStakeOutputSpent {
                    id: parent,
                    value: entry.output.value,
                    address: entry.output.condition.address(),
                },
            );
            spent.stakes.insert(parent, index);
            self.push(StateOp::SpendBlockStake { id: parent, entry })
                .map_err(inconsistent)?;
        }
        let own_outputs = transaction.coin_outputs.len();
        for (output_index, (output, output_id)) in transaction
            .created_coin_outputs()
            .zip(transaction.coin_output_ids(id))
            .enumerate()
        {
            self.log.push(
                tx,
                EventBody::CoinOutputCreated {
                    id: output_id,
                    value: output.value,
                    address: output.condition.address(),
                    minted: output_index >= own_outputs,
                },
            );
            self.push(StateOp::CreateCoin {
                id: output_id,
                output: output.clone(),
            })
            .map_err(inconsistent)?;
        }
        for (output_index, (output, output_id)) in transaction
            .blockstake_outputs
            .iter()
            .zip(transaction.blockstake_output_ids(id))
            .enumerate()
        {
            let position = BlockStakePosition {
                height,
                transaction_index: index as u64,
                output_index: output_index as u64,
            };
            self.log.push(
                tx,
                EventBody::BlockStakeOutputCreated {
                    id: output_id,
                    value: output.value,
                    address: output.condition.address(),
                    position,
                },
            );
            self.push(StateOp::CreateBlockStake {
                id: output_id,
                entry: BlockStakeEntry {
                    output: output.clone(),
                    position,
                    created_at: timestamp,
                },
            })
            .map_err(inconsistent)?;
        }
        if let Some(amount) = destroyed {
            self.log.push(tx, EventBody::CoinsDestroyed { amount });
        }
        match &transaction.payload {
            Some(Payload::Minting(MintingOperation::ChangeMintCondition {
                new_condition, ..
            })) => {
                let before = self.state.mint_condition().cloned();
                let after = Some(new_condition.clone());
                self.log.push(
                    tx,
                    EventBody::MintConditionChanged {
                        before: before.clone(),
                        after: after.clone(),
                    },
                );
                self.push(StateOp::SetMintCondition { before, after })
                    .map_err(inconsistent)?;
            }
            Some(Payload::AuthorizedAddresses(AuthorizedAddressOperation::ChangeAuthority {
                new_condition,
                ..
            })) => {
                let before = self.state.authority_condition().cloned();
                let after = Some(new_condition.clone());
                self.log.push(
                    tx,
                    EventBody::AuthorityChanged {
                        before: before.clone(),
                        after: after.clone(),
                    },
                );
                self.push(StateOp::SetAuthority { before, after })
                    .map_err(inconsistent)?;
            }
            Some(Payload::AuthorizedAddresses(AuthorizedAddressOperation::UpdateAddresses {
                authorize,
                deauthorize,
                ..
            })) => {
                for address in authorize {
                    self.log
                        .push(tx, EventBody::AddressAuthorized { address: *address });
                    self.push(StateOp::SetAuthorized {
                        address: *address,
                        authorized: true,
                    })
                    .map_err(inconsistent)?;
                }
                for address in deauthorize {
                    self.log
                        .push(tx, EventBody::AddressDeauthorized { address: *address });
                    self.push(StateOp::SetAuthorized {
                        address: *address,
                        authorized: false,
                    })
                    .map_err(inconsistent)?;
                }
            }
            Some(Payload::Notary(record)) => {
                self.log.push(
                    tx,
                    EventBody::NotaryRecorded {
                        document_hash: record.document_hash,
                    },
                );
                self.push(StateOp::AddNotary {
                    document_hash: record.document_hash,
                    entry: NotaryEntry {
                        height,
                        transaction: *id,
                        timestamp,
                    },
                })
                .map_err(inconsistent)?;
            }
            _ => {}
        }
        for (domain_index, name, change, spent) in domain_changes {
            for (parent, output) in spent {
                self.log.push(
                    tx,
                    EventBody::DomainCoinOutputSpent {
                        domain: name.to_owned(),
                        id: parent,
                        value: output.value,
                        address: output.condition.address(),
                    },
                );
                self.push(StateOp::SpendCoin { id: parent, output })
                    .map_err(inconsistent)?;
            }
            for (output_index, output) in change.coins.create.into_iter().enumerate() {
                let output_id = CoinOutputId::for_domain_output(id, name, output_index as u64);
                self.log.push(
                    tx,
                    EventBody::DomainCoinOutputCreated {
                        domain: name.to_owned(),
                        id: output_id,
                        index: output_index as u64,
                        value: output.value,
                        condition: output.condition.clone(),
                    },
                );
                self.push(StateOp::CreateCoin {
                    id: output_id,
                    output,
                })
                .map_err(inconsistent)?;
            }
            for (kind, data) in change.events {
                self.log.push(
                    tx,
                    EventBody::Domain {
                        domain: name.to_owned(),
                        kind,
                        data,
                    },
                );
            }
            self.push(StateOp::Domain {
                domain: domain_index as u32,
                change: change.change,
            })
            .map_err(inconsistent)?;
        }
        Ok(())
    }
}

impl Applier<'_> {
    /// Checks a domain's coin movement ([`DomainCoins`]): the spent
    /// outputs exist, are distinct and are held in the domain's escrow;
    /// the created outputs are new, may lock coins and add up to exactly
    /// what is spent. Returns the spent outputs.
    fn check_domain_coins(
        &self,
        domain_index: usize,
        name: &'static str,
        coins: &DomainCoins,
        id: &TransactionId,
        config: &ChainConfig,
    ) -> Result<Vec<(CoinOutputId, CoinOutput)>, TransactionRuleError> {
        let refuse = |reason: String| TransactionRuleError::DomainCoins {
            domain: name,
            reason,
        };
        let escrow = self
            .state
            .domains()
            .get(domain_index)
            .and_then(|domain| domain.escrow_condition())
            .ok_or_else(|| refuse("it holds no escrow".into()))?;
        let mut spent = Vec::with_capacity(coins.spend.len());
        let mut spent_total = Currency::ZERO;
        for parent in &coins.spend {
            if spent.iter().any(|(seen, _)| seen == parent) {
                return Err(refuse(format!("it spends escrow output {parent} twice")));
            }
            let output = self
                .state
                .coin_output(parent)
                .ok_or_else(|| refuse(format!("escrow output {parent} does not exist")))?;
            if output.condition != escrow {
                return Err(refuse(format!("output {parent} is not held in its escrow")));
            }
            spent_total = spent_total
                .checked_add(output.value)
                .ok_or_else(|| refuse("spent outputs overflow".into()))?;
            spent.push((*parent, output.clone()));
        }
        let mut created_total = Currency::ZERO;
        for (index, output) in coins.create.iter().enumerate() {
            let output_id = CoinOutputId::for_domain_output(id, name, index as u64);
            if self.state.coin_output(&output_id).is_some() {
                return Err(refuse(format!("output {output_id} already exists")));
            }
            let address = output.condition.address();
            if config.consensus.authorized_addresses_enabled
                && !matches!(address.kind, AddressKind::Nil | AddressKind::AtomicSwap)
                && !self.state.is_authorized(&address)
            {
                return Err(TransactionRuleError::UnauthorizedAddress {
                    what: format!("{name} output {index}"),
                    address,
                });
            }
            created_total = created_total
                .checked_add(output.value)
                .ok_or_else(|| refuse("created outputs overflow".into()))?;
        }
        if spent_total != created_total {
            return Err(refuse(format!(
                "it spends {spent_total:?} from escrow but creates {created_total:?}"
            )));
        }
        Ok(spent)
    }
}

fn inconsistent(error: InconsistentDiff) -> TransactionRuleError {
    TransactionRuleError::Domain(DomainError {
        domain: "core",
        message: error.to_string(),
    })
}

#[derive(Default)]
struct SpentInBlock {
    coins: HashMap<CoinOutputId, usize>,
    stakes: HashMap<BlockStakeOutputId, usize>,
}

fn check_respend(
    first: Option<&Transaction>,
    stake_output: BlockStakeOutputId,
    stake: &BlockStakeEntry,
) -> Result<(), BlockRuleError> {
    let Some(first) = first else {
        return Err(BlockRuleError::MissingRespend { stake_output });
    };
    let bad = |reason: &str| BlockRuleError::BadRespend {
        stake_output,
        reason: reason.to_owned(),
    };
    if !first.coin_inputs.is_empty() || !first.coin_outputs.is_empty() || first.payload.is_some() {
        return Err(bad("it must not move coins or carry a payload"));
    }
    if first.blockstake_inputs.len() != 1 || first.blockstake_outputs.len() != 1 {
        return Err(bad(&format!(
            "it must have exactly one blockstake input and one blockstake output, it has {} and {}",
            first.blockstake_inputs.len(),
            first.blockstake_outputs.len()
        )));
    }
    if first.blockstake_inputs[0].parent_id != stake_output {
        return Err(bad(&format!(
            "its blockstake input spends {} instead",
            first.blockstake_inputs[0].parent_id
        )));
    }
    let recreated = &first.blockstake_outputs[0];
    if recreated.value != stake.output.value {
        return Err(bad(&format!(
            "it recreates {} instead of {}",
            recreated.value, stake.output.value
        )));
    }
    if recreated.condition != stake.output.condition {
        return Err(bad("it recreates the output under a different condition"));
    }
    Ok(())
}
