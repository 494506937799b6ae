//! The compute domain through the real chain: identities own nodes and
//! deployments, the chain places workloads and never overcommits, node
//! reports are checked against the node key (by rule and in the block's
//! signature batch), deposits are escrowed coin outputs, bills pay the
//! hosting nodes' payout conditions and a cancel refunds the rest.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use std::collections::HashSet;

use chain::domains::compute::{ComputeEvent, ComputeState};
use chain::validation::{BlockRuleError, TransactionRuleError};
use chain::{ChainError, ChainStore, ChainUpdate, EventBody};
use common::{FEE, Net, coins, key, sign_coin_inputs, test_config};
use ledger::crypto::{SecretKey, SignatureError};
use ledger::payload::compute::operation::sign_into as sign_compute;
use ledger::payload::compute::{
    ComputeAction, DeploymentId, DeploymentSpec, Location, Name, NodeId, PlacementConstraints,
    Power, ReschedulePolicy, Resources, WorkloadReport, WorkloadSpec, WorkloadState,
    escrow_condition,
};
use ledger::payload::identity::{IdentityAction, IdentityName, IdentityOperation, sign_into};
use ledger::{
    CoinInput, CoinOutput, CoinOutputId, Condition, Currency, Fulfillment, IdentityId, Transaction,
};

const FEE_PAYER: u8 = 4;
const ALICE: u8 = 10;
const FARMER: u8 = 11;
const NODE_A: u8 = 20;
const NODE_B: u8 = 21;

struct World {
    net: Net,
    used: HashSet<CoinOutputId>,
}

impl World {
    fn new() -> World {
        let mut net = Net::new(test_config());
        let payer = key(FEE_PAYER);
        let mut split = net.transfer(
            &payer,
            Condition::for_public_key(&payer.public_key()),
            coins(1_000),
            FEE,
        );
        for _ in 0..20 {
            split.coin_outputs.insert(
                0,
                CoinOutput {
                    value: coins(1_000),
                    condition: Condition::for_public_key(&payer.public_key()),
                },
            );
        }
        let change = split.coin_outputs.last_mut().unwrap();
        change.value = change.value.checked_sub(coins(20_000)).unwrap();
        sign_coin_inputs(&mut split, &net.params(), &payer);
        net.mine(vec![split]);
        World {
            net,
            used: HashSet::new(),
        }
    }

    /// A transaction paid from an unused output of the fee payer, with
    /// `deposit` escrowed as output 0 when given.
    fn funded(&mut self, deposit: Option<Currency>) -> Transaction {
        let payer = key(FEE_PAYER);
        let (id, output) = self
            .net
            .coins_of(&payer)
            .into_iter()
            .filter(|(id, output)| !self.used.contains(id) && output.value == coins(1_000))
            .min_by_key(|(id, _)| *id)
            .expect("fee payer has an unused coin output");
        self.used.insert(id);
        let mut outputs = Vec::new();
        let mut change = output.value.checked_sub(FEE).unwrap();
        if let Some(value) = deposit {
            outputs.push(CoinOutput {
                value,
                condition: escrow_condition(),
            });
            change = change.checked_sub(value).unwrap();
        }
        outputs.push(CoinOutput {
            value: change,
            condition: Condition::for_public_key(&payer.public_key()),
        });
        Transaction {
            coin_inputs: vec![CoinInput {
                parent_id: id,
                fulfillment: Fulfillment::Nil,
            }],
            coin_outputs: outputs,
            fee: FEE,
            ..Transaction::new()
        }
    }

    fn compute_tx(
        &mut self,
        action: ComputeAction,
        signer: Option<&SecretKey>,
        node_key: Option<&SecretKey>,
        deposit: Option<Currency>,
    ) -> Transaction {
        let mut transaction = self.funded(deposit);
        sign_compute(
            &mut transaction,
            action,
            &self.net.params().chain_id,
            signer,
            node_key,
        );
        sign_coin_inputs(&mut transaction, &self.net.params(), &key(FEE_PAYER));
        transaction
    }

    fn mine(&mut self, transactions: Vec<Transaction>) -> ChainUpdate {
        let block = self.net.next_block(transactions);
        self.net.accept(block).expect("block is valid")
    }

    fn refused(&mut self, transaction: Transaction) -> BlockRuleError {
        let before = self.net.chain.state().commitment();
        let block = self.net.next_block(vec![transaction]);
        let error = match self.net.accept(block) {
            Err(ChainError::Rules { source, .. }) => *source,
            other => panic!("expected a rule error, got {other:?}"),
        };
        assert_eq!(self.net.chain.state().commitment(), before);
        error
    }

    fn register_identity(&mut self, name: &str, seed: u8) -> IdentityId {
        let signer = key(seed);
        let mut transaction = self.funded(None);
        let operation = IdentityOperation::unsigned(
            IdentityAction::Register {
                name: IdentityName(name.into()),
                public_key: signer.public_key(),
            },
            signer.public_key(),
        );
        let id = sign_into(
            &mut transaction,
            operation,
            &self.net.params().chain_id,
            &signer,
            None,
        );
        sign_coin_inputs(&mut transaction, &self.net.params(), &key(FEE_PAYER));
        self.mine(vec![transaction]);
        IdentityId::for_registration(&id)
    }

    fn register_node(&mut self, owner: IdentityId, seed: u8) -> NodeId {
        let node_key = key(seed);
        let transaction = self.compute_tx(
            ComputeAction::RegisterNode {
                owner,
                node_key: node_key.public_key(),
                farm: Name::new("farm-a").unwrap(),
                location: Location::new("be", "ghent").unwrap(),
                capacity: Resources::new(4, 4096, 100),
                payout: Condition::for_public_key(&key(FARMER).public_key()),
            },
            Some(&key(FARMER)),
            Some(&node_key),
            None,
        );
        self.mine(vec![transaction]);
        NodeId::for_key(&node_key.public_key())
    }

    /// Spends coin output `parent` (worth `value`) to Alice, signed by
    /// `signer`.
    fn spend_to_alice(
        &self,
        parent: CoinOutputId,
        value: Currency,
        signer: &SecretKey,
    ) -> Transaction {
        let mut transaction = Transaction {
            coin_inputs: vec![CoinInput {
                parent_id: parent,
                fulfillment: Fulfillment::Nil,
            }],
            coin_outputs: vec![CoinOutput {
                value: value.checked_sub(FEE).unwrap(),
                condition: Condition::for_public_key(&key(ALICE).public_key()),
            }],
            fee: FEE,
            ..Transaction::new()
        };
        sign_coin_inputs(&mut transaction, &self.net.params(), signer);
        transaction
    }

    fn state(&self) -> &ComputeState {
        self.net.chain.state().domain::<ComputeState>().unwrap()
    }
}

fn compute_events(update: &ChainUpdate) -> Vec<ComputeEvent> {
    update
        .events
        .iter()
        .filter_map(|event| match &event.body {
            EventBody::Domain { domain, kind, data } if domain == "compute" => {
                let decoded = ComputeEvent::decode(data).unwrap();
                assert_eq!(decoded.kind(), kind);
                Some(decoded)
            }
            _ => None,
        })
        .collect()
}

fn spec(name: &str, workloads: &[(&str, u32, u64)]) -> DeploymentSpec {
    let mut workloads: Vec<WorkloadSpec> = workloads
        .iter()
        .map(|(workload, cores, memory_mib)| WorkloadSpec {
            name: Name::new(workload).unwrap(),
            resources: Resources::new(*cores, *memory_mib, 10),
            image: "alpine".into(),
            network: None,
            volumes: Vec::new(),
            anti_affinity: None,
            node: None,
        })
        .collect();
    workloads.sort_by(|a, b| a.name.cmp(&b.name));
    DeploymentSpec {
        name: Name::new(name).unwrap(),
        constraints: PlacementConstraints::default(),
        reschedule: ReschedulePolicy::Move,
        networks: Vec::new(),
        workloads,
    }
}

fn rule_message(error: BlockRuleError) -> String {
    match error {
        BlockRuleError::Transaction { source, .. } => match *source {
            TransactionRuleError::Domain(error) => {
                assert_eq!(error.domain, "compute");
                error.message
            }
            other => panic!("expected a compute rule error, got {other}"),
        },
        other => panic!("expected a transaction rule error, got {other}"),
    }
}

#[test]
fn deployments_reports_and_overcommit_through_the_chain() {
    let mut world = World::new();
    let alice = world.register_identity("alice", ALICE);
    let farmer = world.register_identity("farmer", FARMER);
    let node_a = world.register_node(farmer, NODE_A);
    let node_b = world.register_node(farmer, NODE_B);

    // A deployment with a deposit: placed, capacity reserved, escrowed.
    let deposit = coins(50);
    let create = world.compute_tx(
        ComputeAction::CreateDeployment {
            owner: alice,
            spec: spec(
                "shop",
                &[("web-1", 2, 1024), ("web-2", 2, 1024), ("db", 2, 2048)],
            ),
            deposit: Some(0),
            refund: Condition::for_public_key(&key(ALICE).public_key()),
        },
        Some(&key(ALICE)),
        None,
        Some(deposit),
    );
    let deployment = DeploymentId::for_creation(&create.id());
    let update = world.mine(vec![create]);
    let events = compute_events(&update);
    assert!(
        matches!(&events[0], ComputeEvent::DeploymentCreated { balance, .. } if *balance == deposit)
    );
    let placed = events
        .iter()
        .filter(|event| matches!(event, ComputeEvent::WorkloadPlaced { .. }))
        .count();
    assert_eq!(placed, 3);
    let record = world.state().deployment(&deployment).unwrap().clone();
    assert_eq!(record.balance, deposit);
    let used = Resources::checked_sum(
        [node_a, node_b]
            .iter()
            .map(|node| world.state().node(node).unwrap().used),
    )
    .unwrap();
    assert_eq!(used, Resources::new(6, 4096, 30));

    // Overcommit: 3 more cores fit on no node (each has at most 2 free).
    let too_big = world.compute_tx(
        ComputeAction::CreateDeployment {
            owner: alice,
            spec: spec("big", &[("big", 3, 512)]),
            deposit: None,
            refund: Condition::for_public_key(&key(ALICE).public_key()),
        },
        Some(&key(ALICE)),
        None,
        None,
    );
    let message = rule_message(world.refused(too_big));
    assert!(
        message.contains("fits no node") && message.contains("lack cores"),
        "{message}"
    );

    // The node reports its workload, signed by its key.
    let on_a: Vec<Name> = record
        .placements
        .iter()
        .filter(|(_, node)| **node == node_a)
        .map(|(name, _)| name.clone())
        .collect();
    assert!(!on_a.is_empty());
    let reports: Vec<WorkloadReport> = on_a
        .iter()
        .map(|workload| WorkloadReport {
            deployment,
            workload: workload.clone(),
            state: WorkloadState::Running,
        })
        .collect();
    let report = |sequence| ComputeAction::Report {
        node: node_a,
        sequence,
        uptime_seconds: 60,
        power: Power::Up,
        workloads: reports.clone(),
    };
    let good = world.compute_tx(report(1), Some(&key(NODE_A)), None, None);
    world.mine(vec![good]);
    let reported = &world.state().deployment(&deployment).unwrap().reported;
    assert_eq!(reported[&on_a[0]], WorkloadState::Running);

    // Signed by another node's key: refused by the rule.
    let other = world.compute_tx(report(2), Some(&key(NODE_B)), None, None);
    let message = rule_message(world.refused(other));
    assert!(message.contains("not by the node key"), "{message}");

    // Naming the node key but signed by another key: refused in the batch.
    let mut forged = world.compute_tx(report(2), Some(&key(NODE_A)), None, None);
    let id = forged.id();
    let Some(ledger::Payload::Compute(operation)) = &mut forged.payload else {
        panic!("compute payload");
    };
    let wrong = key(NODE_B).sign(&operation.signing_message(
        &world.net.params().chain_id,
        &id,
        ledger::payload::compute::ComputeSigner::Node,
        &key(NODE_A).public_key(),
    ));
    operation.signature.as_mut().unwrap().signature = wrong;
    match world.refused(forged) {
        BlockRuleError::Signature(SignatureError::Invalid { origin, public_key }) => {
            assert!(origin.contains("compute node key"), "{origin}");
            assert_eq!(public_key, key(NODE_A).public_key());
        }
        other => panic!("expected a signature error, got {other}"),
    }

    // Cancel: capacity is free again.
    let cancel = world.compute_tx(
        ComputeAction::CancelDeployment {
            owner: alice,
            deployment,
        },
        Some(&key(ALICE)),
        None,
        None,
    );
    world.mine(vec![cancel]);
    for node in [node_a, node_b] {
        assert_eq!(world.state().node(&node).unwrap().used, Resources::ZERO);
    }
}

/// The coin outputs of a block's update: (created, spent) as the core
/// reported them.
fn coin_moves(update: &ChainUpdate) -> (Vec<(CoinOutputId, Currency)>, Vec<CoinOutputId>) {
    let mut created = Vec::new();
    let mut spent = Vec::new();
    for event in &update.events {
        match &event.body {
            EventBody::CoinOutputCreated { id, value, .. }
            | EventBody::DomainCoinOutputCreated { id, value, .. } => created.push((*id, *value)),
            EventBody::CoinOutputSpent { id, .. } | EventBody::DomainCoinOutputSpent { id, .. } => {
                spent.push(*id)
            }
            _ => {}
        }
    }
    (created, spent)
}

#[test]
fn bills_pay_the_farmer_who_can_spend_it_and_a_cancel_refunds_the_rest() {
    let mut world = World::new();
    let alice = world.register_identity("alice", ALICE);
    let farmer = world.register_identity("farmer", FARMER);
    let node = world.register_node(farmer, NODE_A);
    let deposit = coins(1);
    let refund_to = Condition::for_public_key(&key(ALICE).public_key());
    let create = world.compute_tx(
        ComputeAction::CreateDeployment {
            owner: alice,
            spec: spec("shop", &[("web", 4, 4096)]),
            deposit: Some(0),
            refund: refund_to.clone(),
        },
        Some(&key(ALICE)),
        None,
        Some(deposit),
    );
    let deployment = DeploymentId::for_creation(&create.id());
    let deposit_output = CoinOutputId::for_transaction_output(&create.id(), 0);
    world.mine(vec![create]);
    assert_eq!(
        world.state().deployment(&deployment).unwrap().escrow,
        vec![deposit_output]
    );
    let price = world
        .state()
        .params()
        .price_per_block(&world.state().deployment(&deployment).unwrap().spec)
        .unwrap();
    // Enough blocks that the farmer's share pays a transaction fee.
    for _ in 0..19 {
        world.net.mine(Vec::new());
    }

    // Anyone bills: the farmer's share becomes a coin output of theirs.
    let bill = world.compute_tx(ComputeAction::Bill { deployment }, None, None, None);
    let bill_id = bill.id();
    let update = world.mine(vec![bill]);
    let events = compute_events(&update);
    let (amount, output) = events
        .iter()
        .find_map(|event| match event {
            ComputeEvent::FarmerPaid {
                node: paid,
                amount,
                output,
                address,
                ..
            } => {
                assert_eq!(*paid, node);
                assert_eq!(
                    *address,
                    Condition::for_public_key(&key(FARMER).public_key()).address()
                );
                Some((*amount, *output))
            }
            _ => None,
        })
        .expect("the farmer is paid");
    assert_eq!(
        amount,
        price.checked_mul(20).unwrap(),
        "twenty blocks hosted"
    );
    assert_eq!(
        output,
        CoinOutputId::for_domain_output(&bill_id, "compute", 0)
    );
    let (created, spent) = coin_moves(&update);
    assert!(spent.contains(&deposit_output), "the deposit left escrow");
    assert!(created.contains(&(output, amount)));
    let change = CoinOutputId::for_domain_output(&bill_id, "compute", 1);
    let balance = deposit.checked_sub(amount).unwrap();
    assert!(created.contains(&(change, balance)), "escrow change");
    assert_eq!(
        world.state().deployment(&deployment).unwrap().escrow,
        vec![change]
    );
    assert_eq!(
        world
            .net
            .chain
            .state()
            .coin_output(&change)
            .unwrap()
            .condition,
        escrow_condition()
    );

    // The farmer spends the payout like any coin output.
    let spend = world.spend_to_alice(output, amount, &key(FARMER));
    world.mine(vec![spend]);
    assert!(world.net.chain.state().coin_output(&output).is_none());

    // Nobody spends the escrow change: it is locked by the escrow condition.
    let steal = world.spend_to_alice(change, balance, &key(ALICE));
    let error = world.refused(steal);
    assert!(
        matches!(
            &error,
            BlockRuleError::Transaction { source, .. }
                if matches!(**source, TransactionRuleError::Spend(_))
        ),
        "{error}"
    );

    // Cancel: the blocks since the bill are paid, the rest goes to Alice.
    let alice_before = world.net.coins_of(&key(ALICE)).len();
    let cancel = world.compute_tx(
        ComputeAction::CancelDeployment {
            owner: alice,
            deployment,
        },
        Some(&key(ALICE)),
        None,
        None,
    );
    let cancel_id = cancel.id();
    let block = world.net.next_block(vec![cancel]);
    let before_cancel = world.net.chain.state().commitment();
    let update = world.net.accept(block.clone()).expect("cancel is valid");
    let events = compute_events(&update);
    let paid_now: Currency = events
        .iter()
        .filter_map(|event| match event {
            ComputeEvent::FarmerPaid { amount, .. } => Some(*amount),
            _ => None,
        })
        .fold(Currency::ZERO, |sum, amount| {
            sum.checked_add(amount).unwrap()
        });
    // Two blocks since the bill: the farmer's spend and the cancel.
    assert_eq!(paid_now, price.checked_mul(2).unwrap());
    let refunded = balance.checked_sub(paid_now).unwrap();
    let refund_output = CoinOutputId::for_domain_output(&cancel_id, "compute", 1);
    assert!(events.contains(&ComputeEvent::DeploymentRefunded {
        deployment,
        amount: refunded,
        output: refund_output,
        address: refund_to.address(),
    }));
    let (_, spent) = coin_moves(&update);
    assert_eq!(spent.iter().filter(|id| **id == change).count(), 1);
    let alice_coins = world.net.coins_of(&key(ALICE));
    assert_eq!(alice_coins.len(), alice_before + 1);
    assert!(alice_coins.contains(&(
        refund_output,
        CoinOutput {
            value: refunded,
            condition: refund_to.clone(),
        }
    )));
    assert!(world.state().deployment(&deployment).is_none());
    // Every escrowed coin went to the farmer or back to Alice.
    assert_eq!(
        amount
            .checked_add(paid_now)
            .unwrap()
            .checked_add(refunded)
            .unwrap(),
        deposit
    );
    let escrowed = world
        .net
        .chain
        .state()
        .coin_outputs()
        .filter(|(_, output)| output.condition == escrow_condition())
        .count();
    assert_eq!(escrowed, 0);

    // Reverting the cancel block restores the escrow exactly.
    let diff = world
        .net
        .chain
        .store()
        .diff(&block.id())
        .expect("store")
        .expect("diff");
    let mut state = world.net.chain.state().clone();
    state.revert_diff(&diff).expect("reverts");
    assert_eq!(state.commitment(), before_cancel);
    assert!(state.coin_output(&change).is_some());
    assert!(state.coin_output(&refund_output).is_none());
}
