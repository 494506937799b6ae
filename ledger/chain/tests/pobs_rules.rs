//! Proof-of-BlockStake block rules through the chain: the lottery, aging
//! of transferred blockstakes, the respend of the winning output, the
//! payout sum and address, payout maturity, and the domain hook.

mod common;

use std::sync::Arc;

use chain::creator::build_block;
use chain::pobs::{lottery_hash, winning_bound, wins};
use chain::state::{DomainChange, DomainContext, DomainError, DomainState};
use chain::validation::{BlockRuleError, TransactionRuleError};
use chain::{AcceptOutcome, Chain, ChainError, ChainStore, EventBody, MemoryStore};
use common::{FEE, Net, config_with, key, sign_coin_inputs, test_config};
use ledger::crypto::hash::{HashTag, tagged_hash};
use ledger::fulfillment::{InputKind, SingleSignatureFulfillment, signing_message};
use ledger::payload::{NotaryRecord, Payload};
use ledger::{
    Address, Block, BlockHeight, BlockStakeInput, BlockStakeOutput, BlockStakePosition,
    BlockStakes, CoinInput, CoinOutput, CoinOutputId, Condition, Fulfillment, Hash32, Payout,
    Timestamp, Transaction,
};

fn rule_error(result: Result<chain::ChainUpdate, ChainError>) -> BlockRuleError {
    match result {
        Err(ChainError::Rules { source, .. }) => *source,
        other => panic!("expected a rule error, got {other:?}"),
    }
}

/// Rebuilds `block` with other payouts or transactions (fresh merkle root).
fn rebuilt(block: &Block, payouts: Vec<Payout>, transactions: Vec<Transaction>) -> Block {
    Block::new(
        block.header.parent,
        block.header.timestamp,
        block.header.stake_output,
        payouts,
        transactions,
    )
}

#[test]
fn a_timestamp_that_loses_the_lottery_is_refused() {
    // The derived target: the whole stake wins about once per 10 s.
    let mut net = Net::new(config_with(&[], false));
    let tip = net.chain.tip().clone();
    let (context, _) = net.chain.child_context(&tip.id).expect("tip context");
    let position = BlockStakePosition {
        height: BlockHeight(0),
        transaction_index: 0,
        output_index: 0,
    };
    let bound = winning_bound(context.target, BlockStakes(500));
    let losing = (tip.timestamp.0 + 1..)
        .map(Timestamp)
        .find(|t| {
            !wins(
                &lottery_hash(&context.stake_modifier, &position, *t),
                &bound,
            )
        })
        .expect("some second loses");
    let block = build_block(&net.chain, &key(1), position, losing, Vec::new()).expect("builds");
    assert!(matches!(
        rule_error(net.accept(block)),
        BlockRuleError::LotteryLost { .. }
    ));
    let winning = (tip.timestamp.0 + 1..)
        .map(Timestamp)
        .find(|t| {
            wins(
                &lottery_hash(&context.stake_modifier, &position, *t),
                &bound,
            )
        })
        .expect("some second wins");
    let block = build_block(&net.chain, &key(1), position, winning, Vec::new()).expect("builds");
    net.accept(block).expect("winning block");
}

#[test]
fn transferred_blockstakes_age_before_staking() {
    let mut net = Net::new(test_config());
    net.stakers = vec![key(1)];
    // Staker 2 gives its 300 blockstakes (genesis output 1) to seed 10.
    let genesis = &net.chain.config().genesis.transactions[0];
    let parent = genesis.blockstake_output_ids(&genesis.id())[1];
    let mut give = Transaction {
        coin_inputs: Vec::new(),
        blockstake_inputs: vec![BlockStakeInput {
            parent_id: parent,
            fulfillment: Fulfillment::Nil,
        }],
        blockstake_outputs: vec![BlockStakeOutput {
            value: BlockStakes(300),
            condition: Condition::for_public_key(&key(10).public_key()),
        }],
        fee: FEE,
        ..Transaction::new()
    };
    // The fee comes from seed 4's coins.
    let (coin, output) = net.coins_of(&key(4)).remove(0);
    give.coin_inputs.push(CoinInput {
        parent_id: coin,
        fulfillment: Fulfillment::Nil,
    });
    give.coin_outputs.push(CoinOutput {
        value: output.value.checked_sub(FEE).expect("enough"),
        condition: output.condition.clone(),
    });
    let id = give.id();
    sign_coin_inputs(&mut give, &net.params(), &key(4));
    let context = Transaction::input_context(
        &id,
        &net.params(),
        InputKind::BlockStake,
        0,
        BlockHeight(0),
        Timestamp(0),
    );
    let public_key = key(2).public_key();
    give.blockstake_inputs[0].fulfillment =
        Fulfillment::SingleSignature(SingleSignatureFulfillment {
            public_key,
            signature: key(2).sign(&signing_message(&context, &public_key, None)),
        });
    let block = net.mine(vec![give]);
    let created_at = block.header.timestamp;
    let position = BlockStakePosition {
        height: net.chain.height(),
        transaction_index: 1,
        output_index: 0,
    };
    let early = Timestamp(created_at.0 + 59);
    let young = build_block(&net.chain, &key(10), position, early, Vec::new()).expect("builds");
    assert!(matches!(
        rule_error(net.accept(young)),
        BlockRuleError::StakeNotAged { ready_at, .. } if ready_at == Timestamp(created_at.0 + 60)
    ));
    let aged = Timestamp(created_at.0 + 60);
    let block = build_block(&net.chain, &key(10), position, aged, Vec::new()).expect("builds");
    net.accept(block).expect("aged stake may stake");
    // Its respend at (height, 0, 0) stakes again at once.
    let respent = BlockStakePosition {
        height: net.chain.height(),
        transaction_index: 0,
        output_index: 0,
    };
    let next = Timestamp(aged.0 + 1);
    let block = build_block(&net.chain, &key(10), respent, next, Vec::new()).expect("builds");
    net.accept(block).expect("respent stake is not aged again");
}

#[test]
fn the_first_transaction_must_respend_the_stake() {
    let mut net = Net::new(test_config());
    let good = net.next_block(Vec::new());
    let stake = good.transactions[0].blockstake_inputs[0].parent_id;

    let empty = rebuilt(&good, good.payouts.clone(), Vec::new());
    assert_eq!(
        rule_error(net.accept(empty)),
        BlockRuleError::MissingRespend {
            stake_output: stake
        }
    );

    let mut other_owner = good.transactions[0].clone();
    other_owner.blockstake_outputs[0].condition = Condition::for_public_key(&key(9).public_key());
    let changed = rebuilt(&good, good.payouts.clone(), vec![other_owner]);
    assert!(matches!(
        rule_error(net.accept(changed)),
        BlockRuleError::BadRespend { reason, .. } if reason.contains("different condition")
    ));
    net.accept(good).expect("the original block is valid");
}

#[test]
fn payouts_sum_to_fees_and_go_to_the_staker() {
    let mut net = Net::new(test_config());
    let tx = net.transfer(
        &key(4),
        Condition::for_public_key(&key(8).public_key()),
        common::coins(1),
        FEE,
    );
    let good = net.next_block(vec![tx]);
    let staker = good.payouts[0].address;
    let expected = good.payouts[0].value;

    let mut more = good.payouts.clone();
    more[0].value.0 += 1;
    assert!(matches!(
        rule_error(net.accept(rebuilt(&good, more, good.transactions.clone()))),
        BlockRuleError::PayoutMismatch { expected: e, .. } if e == expected
    ));

    let elsewhere = vec![Payout {
        value: expected,
        address: Address::for_public_key(&key(9).public_key()),
    }];
    assert!(matches!(
        rule_error(net.accept(rebuilt(&good, elsewhere, good.transactions.clone()))),
        BlockRuleError::PayoutNotToStaker { staker: s, .. } if s == staker
    ));
    net.accept(good).expect("the original block is valid");
}

#[test]
fn payouts_mature_after_the_maturity_delay() {
    let mut net = Net::new(test_config());
    net.stakers = vec![key(1)];
    let first = net.mine(Vec::new());
    let payout = CoinOutputId::for_payout(&first.id(), 0);
    let value = first.payouts[0].value;
    let spend = |net: &Net| {
        let mut tx = Transaction {
            coin_inputs: vec![CoinInput {
                parent_id: payout,
                fulfillment: Fulfillment::Nil,
            }],
            coin_outputs: vec![CoinOutput {
                value: value.checked_sub(FEE).expect("fee below payout"),
                condition: Condition::for_public_key(&key(8).public_key()),
            }],
            fee: FEE,
            ..Transaction::new()
        };
        sign_coin_inputs(&mut tx, &net.params(), &key(1));
        tx
    };
    // Maturity delay 3: the payout of block 1 is spendable from block 4,
    // not in blocks 2 and 3.
    for _ in 2..=3 {
        let block = net.next_block(vec![spend(&net)]);
        assert!(matches!(
            rule_error(net.accept(block)),
            BlockRuleError::Transaction { ref source, .. }
                if matches!(**source, TransactionRuleError::UnknownCoinOutput { .. })
        ));
        net.mine(Vec::new());
    }
    assert_eq!(net.chain.height(), BlockHeight(3));
    let block = net.next_block(vec![spend(&net)]);
    let update = net.accept(block).expect("matured payout spends");
    assert!(update.events.iter().any(|event| matches!(
        event.body,
        EventBody::PayoutMatured { id, .. } if id == payout
    )));
}

/// A domain that counts notary records and refuses one document hash.
#[derive(Clone, Default)]
struct NotaryCounter {
    count: u64,
}

const FORBIDDEN: Hash32 = Hash32([0x13; 32]);

impl DomainState for NotaryCounter {
    fn name(&self) -> &'static str {
        "notary-counter"
    }

    fn prepare(
        &self,
        transaction: &Transaction,
        _context: &DomainContext<'_>,
    ) -> Result<Option<DomainChange>, DomainError> {
        match &transaction.payload {
            Some(Payload::Notary(record)) if record.document_hash == FORBIDDEN => {
                Err(DomainError {
                    domain: "notary-counter",
                    message: "this document may not be notarised".into(),
                })
            }
            Some(Payload::Notary(_)) => Ok(Some(DomainChange {
                change: vec![1],
                events: vec![("counted".into(), (self.count + 1).to_le_bytes().to_vec())],
                signatures: Vec::new(),
                coins: Default::default(),
            })),
            _ => Ok(None),
        }
    }

    fn apply(&mut self, change: &[u8]) -> Result<(), DomainError> {
        self.count += u64::from(change[0]);
        Ok(())
    }

    fn revert(&mut self, change: &[u8]) -> Result<(), DomainError> {
        self.count -= u64::from(change[0]);
        Ok(())
    }

    fn commitment(&self) -> Hash32 {
        tagged_hash(HashTag::StateCommitment, &self.count.to_le_bytes())
    }

    fn clone_box(&self) -> Box<dyn DomainState> {
        Box::new(self.clone())
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[test]
fn domain_modules_validate_apply_and_revert_through_the_hook() {
    let config = test_config();
    let mut net = Net::new(config.clone());
    net.chain = Chain::new(
        config,
        Arc::new(net.clock.clone()),
        MemoryStore::new(),
        vec![Box::new(NotaryCounter::default())],
    )
    .expect("genesis");
    let notary = |net: &Net, hash: Hash32| {
        let mut tx = net.transfer(
            &key(4),
            Condition::for_public_key(&key(4).public_key()),
            common::coins(1),
            FEE,
        );
        tx.payload = Some(Payload::Notary(NotaryRecord {
            document_hash: hash,
        }));
        sign_coin_inputs(&mut tx, &net.params(), &key(4));
        tx
    };
    let before = net.chain.state().commitment();
    let block = net.next_block(vec![notary(&net, FORBIDDEN)]);
    assert!(matches!(
        rule_error(net.accept(block)),
        BlockRuleError::Transaction { ref source, .. }
            if matches!(**source, TransactionRuleError::Domain(_))
    ));
    assert_eq!(net.chain.state().commitment(), before);

    let document = Hash32([0x21; 32]);
    let block = net.next_block(vec![notary(&net, document)]);
    let update = net.accept(block.clone()).expect("notarised");
    assert!(update.events.iter().any(|event| matches!(
        &event.body,
        EventBody::Domain { domain, kind, .. } if domain == "notary-counter" && kind == "counted"
    )));
    assert_eq!(net.chain.state().notary_entries(&document).len(), 1);
    assert_ne!(net.chain.state().commitment(), before);
    let diff = net
        .chain
        .store()
        .diff(&block.id())
        .expect("store")
        .expect("diff");
    let mut state = net.chain.state().clone();
    state.revert_diff(&diff).expect("reverts");
    assert_eq!(state.commitment(), before);
    assert!(state.notary_entries(&document).is_empty());
    // Accepting the same block again is a no-op.
    assert_eq!(
        net.chain.accept_block(block).expect("known"),
        AcceptOutcome::AlreadyKnown
    );
}

/// A domain that holds coins paid to [`ESCROW`] and moves them as the
/// test tells it (the plan is shared with the test) on every notary
/// transaction.
#[derive(Clone)]
struct CoinMover {
    plan: Arc<std::sync::Mutex<chain::state::DomainCoins>>,
}

fn escrow() -> Condition {
    Condition::PubKeyHash(Hash32([0xe5; 32]))
}

impl DomainState for CoinMover {
    fn name(&self) -> &'static str {
        "coin-mover"
    }

    fn prepare(
        &self,
        transaction: &Transaction,
        _context: &DomainContext<'_>,
    ) -> Result<Option<DomainChange>, DomainError> {
        let Some(Payload::Notary(_)) = &transaction.payload else {
            return Ok(None);
        };
        let coins = self
            .plan
            .lock()
            .map(|plan| plan.clone())
            .unwrap_or_default();
        Ok(Some(DomainChange {
            change: Vec::new(),
            events: Vec::new(),
            signatures: Vec::new(),
            coins,
        }))
    }

    fn apply(&mut self, _change: &[u8]) -> Result<(), DomainError> {
        Ok(())
    }

    fn revert(&mut self, _change: &[u8]) -> Result<(), DomainError> {
        Ok(())
    }

    fn commitment(&self) -> Hash32 {
        Hash32::ZERO
    }

    fn clone_box(&self) -> Box<dyn DomainState> {
        Box::new(self.clone())
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn escrow_condition(&self) -> Option<Condition> {
        Some(escrow())
    }
}

#[test]
fn domains_move_only_their_escrow_and_never_make_coins() {
    let config = test_config();
    let mut net = Net::new(config.clone());
    let plan = Arc::new(std::sync::Mutex::new(chain::state::DomainCoins::default()));
    net.chain = Chain::new(
        config,
        Arc::new(net.clock.clone()),
        MemoryStore::new(),
        vec![Box::new(CoinMover { plan: plan.clone() })],
    )
    .expect("genesis");
    let set_plan = |spend: Vec<CoinOutputId>, create: Vec<CoinOutput>| {
        *plan.lock().unwrap() = chain::state::DomainCoins { spend, create };
    };
    let to = |seed: u8, value: u128| CoinOutput {
        value: ledger::Currency(value),
        condition: Condition::for_public_key(&key(seed).public_key()),
    };
    // A notary transaction that also pays 1000 base units into escrow.
    let notary = |net: &Net, document: u8| {
        let mut tx = net.transfer(
            &key(4),
            Condition::for_public_key(&key(4).public_key()),
            common::coins(1),
            FEE,
        );
        tx.coin_outputs.insert(
            0,
            CoinOutput {
                value: ledger::Currency(1_000),
                condition: escrow(),
            },
        );
        let change = tx.coin_outputs.last_mut().unwrap();
        change.value = change.value.checked_sub(ledger::Currency(1_000)).unwrap();
        tx.payload = Some(Payload::Notary(NotaryRecord {
            document_hash: Hash32([document; 32]),
        }));
        sign_coin_inputs(&mut tx, &net.params(), &key(4));
        tx
    };
    let deposit_tx = notary(&net, 1);
    let deposit = CoinOutputId::for_transaction_output(&deposit_tx.id(), 0);
    net.mine(vec![deposit_tx]);
    assert_eq!(
        net.chain.state().coin_output(&deposit).unwrap().condition,
        escrow()
    );
    let refused = |net: &mut Net, document: u8, reason: &str| {
        let before = net.chain.state().commitment();
        let block = net.next_block(vec![notary(net, document)]);
        match rule_error(net.accept(block)) {
            BlockRuleError::Transaction { source, .. } => match *source {
                TransactionRuleError::DomainCoins {
                    domain,
                    reason: got,
                } => {
                    assert_eq!(domain, "coin-mover");
                    assert!(got.contains(reason), "{got}");
                }
                other => panic!("expected a domain coin error, got {other}"),
            },
            other => panic!("expected a transaction error, got {other}"),
        }
        assert_eq!(net.chain.state().commitment(), before, "no partial state");
    };

    // Coins that are not in its escrow.
    let not_escrow = net.coins_of(&key(4))[0].0;
    set_plan(vec![not_escrow], vec![to(5, 1)]);
    refused(&mut net, 10, "is not held in its escrow");
    // Outputs that do not exist.
    set_plan(vec![CoinOutputId(Hash32([9; 32]))], Vec::new());
    refused(&mut net, 11, "does not exist");
    // The same output twice.
    set_plan(vec![deposit, deposit], vec![to(5, 2_000)]);
    refused(&mut net, 12, "twice");
    // More out than in, and less out than in.
    set_plan(vec![deposit], vec![to(5, 600), to(6, 401)]);
    refused(&mut net, 13, "creates");
    set_plan(vec![deposit], vec![to(5, 999)]);
    refused(&mut net, 14, "creates");

    // Balanced: the escrow output is spent and the new outputs exist.
    set_plan(vec![deposit], vec![to(5, 600), to(6, 400)]);
    let tx = notary(&net, 3);
    let id = tx.id();
    let block = net.next_block(vec![tx]);
    let update = net.accept(block.clone()).expect("balanced move");
    let paid = CoinOutputId::for_domain_output(&id, "coin-mover", 0);
    assert!(update.events.iter().any(|event| matches!(
        event.body,
        EventBody::DomainCoinOutputSpent { id, .. } if id == deposit
    )));
    assert!(update.events.iter().any(|event| matches!(
        &event.body,
        EventBody::DomainCoinOutputCreated { domain, id, index: 0, value, condition }
            if domain == "coin-mover" && *id == paid && *value == ledger::Currency(600)
                && *condition == to(5, 600).condition
    )));
    assert!(net.chain.state().coin_output(&deposit).is_none());
    assert_eq!(net.chain.state().coin_output(&paid), Some(&to(5, 600)));
    // Reverting the block puts the escrow output back.
    let diff = net
        .chain
        .store()
        .diff(&block.id())
        .expect("store")
        .expect("diff");
    let mut state = net.chain.state().clone();
    state.revert_diff(&diff).expect("reverts");
    assert!(state.coin_output(&deposit).is_some());
    assert!(state.coin_output(&paid).is_none());
}
