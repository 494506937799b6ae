//! Property tests of the state transition:
//!
//! * random sequences of valid blocks (transfers, notary records, minting,
//!   coin destruction) applied through the chain and then reverted diff by
//!   diff give back the identical state commitment at every height, down
//!   to genesis; redoing the diffs gives the tip state again;
//! * random invalid transactions are refused with the right error and
//!   change nothing.

mod common;

use std::collections::HashSet;

use chain::events::Direction;
use chain::validation::{BlockRuleError, TransactionRuleError};
use chain::{ChainError, ChainStore};
use common::{FEE, Net, coins, key, sign_coin_inputs, test_config};
use ledger::crypto::SecretKey;
use ledger::fulfillment::{
    FulfillContext, FulfillmentError, SignedTarget, SingleSignatureFulfillment, signing_message,
};
use ledger::payload::{MintingOperation, Nonce, NotaryRecord, Payload};
use ledger::validation::SpendError;
use ledger::{
    BlockHeight, CoinInput, CoinOutput, CoinOutputId, Condition, Currency, Fulfillment, Hash32,
    Timestamp, Transaction,
};
use proptest::prelude::*;

const HOLDERS: [u8; 4] = [1, 4, 7, 8];

#[derive(Debug, Clone)]
enum Action {
    Transfer { from: usize, to: usize, percent: u8 },
    Notary(u8),
    Mint(u16),
    Destroy { from: usize, percent: u8 },
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        4 => (0..4usize, 0..4usize, 1..95u8)
            .prop_map(|(from, to, percent)| Action::Transfer { from, to, percent }),
        1 => any::<u8>().prop_map(Action::Notary),
        1 => (1..5000u16).prop_map(Action::Mint),
        1 => (0..4usize, 1..50u8).prop_map(|(from, percent)| Action::Destroy { from, percent }),
    ]
}

struct Builder {
    used: HashSet<CoinOutputId>,
    nonce: u64,
    spent_ever: Vec<CoinOutputId>,
}

impl Builder {
    /// The largest coin output of `owner` not yet used in this block.
    fn take_coin(&mut self, net: &Net, owner: &SecretKey) -> Option<(CoinOutputId, Currency)> {
        let (id, output) = net
            .coins_of(owner)
            .into_iter()
            .filter(|(id, _)| !self.used.contains(id))
            .max_by_key(|(_, output)| output.value)?;
        self.used.insert(id);
        self.spent_ever.push(id);
        Some((id, output.value))
    }

    fn next_nonce(&mut self) -> Nonce {
        self.nonce += 1;
        Nonce(self.nonce.to_le_bytes())
    }

    /// A signed transaction spending one coin of `owner`: `outputs`, then
    /// change of `value − Σ outputs − fee − burn` back to `owner`.
    fn paid_by(
        &mut self,
        net: &Net,
        owner: &SecretKey,
        outputs: Vec<CoinOutput>,
        burn_percent: u8,
        payload: Option<Payload>,
    ) -> Option<Transaction> {
        let (id, value) = self.take_coin(net, owner)?;
        let burn = Currency(value.0 / 100 * u128::from(burn_percent));
        let spent = Currency::checked_sum(outputs.iter().map(|o| o.value))?
            .checked_add(FEE)?
            .checked_add(burn)?;
        let change = value.checked_sub(spent)?;
        let mut tx = Transaction {
            coin_inputs: vec![CoinInput {
                parent_id: id,
                fulfillment: Fulfillment::Nil,
            }],
            coin_outputs: outputs,
            fee: FEE,
            payload,
            ..Transaction::new()
        };
        if !change.is_zero() {
            tx.coin_outputs.push(CoinOutput {
                value: change,
                condition: Condition::for_public_key(&owner.public_key()),
            });
        }
        if tx.coin_outputs.is_empty() && burn_percent == 0 {
            return None;
        }
        sign_coin_inputs(&mut tx, &net.params(), owner);
        Some(tx)
    }

    fn build(&mut self, net: &Net, action: &Action) -> Option<Transaction> {
        match action {
            Action::Transfer { from, to, percent } => {
                let owner = key(HOLDERS[*from]);
                let (_, output) = net
                    .coins_of(&owner)
                    .into_iter()
                    .filter(|(id, _)| !self.used.contains(id))
                    .max_by_key(|(_, output)| output.value)?;
                let amount = Currency(output.value.0 / 100 * u128::from(*percent));
                if amount.is_zero() {
                    return None;
                }
                let to = Condition::for_public_key(&key(HOLDERS[*to]).public_key());
                self.paid_by(
                    net,
                    &owner,
                    vec![CoinOutput {
                        value: amount,
                        condition: to,
                    }],
                    0,
                    None,
                )
            }
            Action::Notary(byte) => {
                let record = NotaryRecord {
                    document_hash: Hash32([byte.wrapping_add(1).max(1); 32]),
                };
                self.paid_by(net, &key(1), Vec::new(), 0, Some(Payload::Notary(record)))
            }
            Action::Mint(amount) => {
                let nonce = self.next_nonce();
                let payload = Payload::Minting(MintingOperation::CreateCoins {
                    outputs: vec![CoinOutput {
                        value: coins(u128::from(*amount)),
                        condition: Condition::for_public_key(&key(7).public_key()),
                    }],
                    nonce,
                    mint_fulfillment: Fulfillment::Nil,
                });
                let mut tx = self.paid_by(net, &key(1), Vec::new(), 0, Some(payload))?;
                authorize_mint(net, &mut tx, &key(5));
                Some(tx)
            }
            Action::Destroy { from, percent } => {
                let nonce = self.next_nonce();
                let payload = Payload::Minting(MintingOperation::DestroyCoins { nonce });
                self.paid_by(
                    net,
                    &key(HOLDERS[*from]),
                    Vec::new(),
                    *percent,
                    Some(payload),
                )
            }
        }
    }
}

fn authorize_mint(net: &Net, tx: &mut Transaction, signer: &SecretKey) {
    let context = FulfillContext {
        chain_id: net.params().chain_id,
        transaction_id: tx.id(),
        target: SignedTarget::Payload { label: b"minting" },
        height: BlockHeight(0),
        timestamp: Timestamp(0),
    };
    let public_key = signer.public_key();
    let fulfillment = Fulfillment::SingleSignature(SingleSignatureFulfillment {
        public_key,
        signature: signer.sign(&signing_message(&context, &public_key, None)),
    });
    if let Some(Payload::Minting(MintingOperation::CreateCoins {
        mint_fulfillment, ..
    })) = &mut tx.payload
    {
        *mint_fulfillment = fulfillment;
    }
}

/// Mines the blocks described by `plan`; returns the commitment after
/// genesis and after each block.
fn run(net: &mut Net, plan: &[Vec<Action>], builder: &mut Builder) -> Vec<Hash32> {
    let mut commitments = vec![net.chain.state().commitment()];
    for actions in plan {
        builder.used.clear();
        let transactions: Vec<Transaction> = actions
            .iter()
            .filter_map(|a| builder.build(net, a))
            .collect();
        // Seed 1 always has a coin for the first notary or mint of a block,
        // so such blocks are never empty: the generator really generates.
        if actions
            .iter()
            .any(|a| matches!(a, Action::Notary(_) | Action::Mint(_)))
        {
            assert!(!transactions.is_empty());
        }
        let block = net.next_block(transactions);
        let update = net.accept(block).expect("generated block is valid");
        for (index, event) in update.events.iter().enumerate() {
            assert_eq!(event.position.index, index as u64);
            assert_eq!(event.direction, Direction::Apply);
        }
        commitments.push(net.chain.state().commitment());
    }
    commitments
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn applying_then_reverting_restores_every_state(
        plan in prop::collection::vec(prop::collection::vec(action(), 0..5), 1..14)
    ) {
        let mut net = Net::new(test_config());
        let mut builder = Builder { used: HashSet::new(), nonce: 0, spent_ever: Vec::new() };
        let commitments = run(&mut net, &plan, &mut builder);
        let tip_state = net.chain.state().clone();
        let mut state = tip_state.clone();
        let mut diffs = Vec::new();
        for height in (1..=net.chain.height().0).rev() {
            let id = net.chain.main_chain_id(BlockHeight(height)).expect("main chain");
            let diff = net.chain.store().diff(&id).expect("store").expect("diff stored");
            state.revert_diff(&diff).expect("diff reverts");
            prop_assert_eq!(state.commitment(), commitments[height as usize - 1]);
            diffs.push(diff);
        }
        for diff in diffs.iter().rev() {
            state.apply_diff(diff).expect("diff redoes");
        }
        prop_assert_eq!(state.commitment(), tip_state.commitment());
    }

    #[test]
    fn invalid_transactions_are_refused_and_change_nothing(
        plan in prop::collection::vec(prop::collection::vec(action(), 0..3), 1..6),
        mutation in 0..6u8,
        delta in 1..1_000_000u64,
    ) {
        let mut net = Net::new(test_config());
        let mut builder = Builder { used: HashSet::new(), nonce: 0, spent_ever: Vec::new() };
        run(&mut net, &plan, &mut builder);
        let before = net.chain.state().commitment();
        let tip = net.chain.tip().id;
        builder.used.clear();
        let owner = key(4);
        let to = Condition::for_public_key(&key(8).public_key());
        let mut tx = net.transfer(&owner, to.clone(), coins(1), FEE);
        let expect: Box<dyn Fn(&ChainError) -> bool> = match mutation {
            0 => {
                tx.coin_inputs[0].parent_id = CoinOutputId(Hash32([0xab; 32]));
                sign_coin_inputs(&mut tx, &net.params(), &owner);
                Box::new(|e| tx_error(e, |t| matches!(t, TransactionRuleError::UnknownCoinOutput { input: 0, .. })))
            }
            1 => {
                tx.coin_outputs[0].value = Currency(tx.coin_outputs[0].value.0 + u128::from(delta));
                sign_coin_inputs(&mut tx, &net.params(), &owner);
                Box::new(|e| tx_error(e, |t| matches!(t, TransactionRuleError::CoinImbalance { .. })))
            }
            2 => {
                sign_coin_inputs(&mut tx, &net.params(), &key(9));
                Box::new(|e| tx_error(e, |t| matches!(
                    t,
                    TransactionRuleError::Spend(SpendError::Fulfillment { source, .. })
                        if matches!(**source, FulfillmentError::KeyNotForAddress { .. })
                )))
            }
            3 => {
                if let Fulfillment::SingleSignature(single) = &mut tx.coin_inputs[0].fulfillment {
                    single.signature.0[(delta % 32) as usize] ^= 1;
                }
                Box::new(|e| matches!(
                    e,
                    ChainError::Rules { source, .. } if matches!(**source, BlockRuleError::Signature(_))
                ))
            }
            4 => {
                // Spend an output that an earlier block spent (or, if
                // none did, one that never existed).
                let spent = builder.spent_ever.first().copied()
                    .unwrap_or(CoinOutputId(Hash32([0xcd; 32])));
                tx = Transaction {
                    coin_inputs: vec![CoinInput { parent_id: spent, fulfillment: Fulfillment::Nil }],
                    coin_outputs: vec![CoinOutput { value: coins(1), condition: to }],
                    fee: FEE,
                    ..Transaction::new()
                };
                sign_coin_inputs(&mut tx, &net.params(), &key(1));
                Box::new(|e| tx_error(e, |t| matches!(t, TransactionRuleError::UnknownCoinOutput { .. })))
            }
            _ => {
                let nonce = builder.next_nonce();
                tx.payload = Some(Payload::Minting(MintingOperation::CreateCoins {
                    outputs: vec![CoinOutput { value: coins(u128::from(delta)), condition: to }],
                    nonce,
                    mint_fulfillment: Fulfillment::Nil,
                }));
                sign_coin_inputs(&mut tx, &net.params(), &owner);
                authorize_mint(&net, &mut tx, &key(4));
                Box::new(|e| tx_error(e, |t| matches!(
                    t,
                    TransactionRuleError::Spend(SpendError::Fulfillment { source, .. })
                        if matches!(**source, FulfillmentError::KeyNotForAddress { .. })
                )))
            }
        };
        let block = net.next_block(vec![tx]);
        let error = net.accept(block).expect_err("invalid transaction refused");
        prop_assert!(expect(&error), "wrong error for mutation {}: {}", mutation, error);
        prop_assert_eq!(net.chain.state().commitment(), before);
        prop_assert_eq!(net.chain.tip().id, tip);
        // The chain goes on.
        net.mine(Vec::new());
    }
}

fn tx_error(error: &ChainError, check: impl Fn(&TransactionRuleError) -> bool) -> bool {
    match error {
        ChainError::Rules { source, .. } => match source.as_ref() {
            BlockRuleError::Transaction { source, .. } => check(source),
            _ => false,
        },
        _ => false,
    }
}
