//! The compute rules against the state, operation by operation: prepare,
//! verify the signatures the block would, apply, and revert.

use std::collections::{BTreeMap, BTreeSet};

use ledger::payload::compute::{
    ComputeAction, ComputeOperation, DeploymentId, DeploymentSpec, Location, Name, NodeId,
    PlacementConstraints, Power, ReschedulePolicy, Resources, WorkloadReport, WorkloadSpec,
    WorkloadState, escrow_condition,
};
use ledger::{
    Address, BlockHeight, CoinOutput, CoinOutputId, Condition, Currency, Hash32, IdentityId,
    NetworkParams, PublicKey, SecretKey, Timestamp, Transaction, TransactionId, codec,
};

use super::*;
use crate::state::DomainContext;

/// Identities as the rules see them: which keys are active for whom.
#[derive(Default)]
struct Identities(BTreeMap<IdentityId, BTreeSet<PublicKey>>);

impl IdentityKeys for Identities {
    fn identity_exists(&self, identity: &IdentityId) -> bool {
        self.0.contains_key(identity)
    }

    fn is_active_key(&self, identity: &IdentityId, key: &PublicKey) -> bool {
        self.0.get(identity).is_some_and(|keys| keys.contains(key))
    }
}

fn key(byte: u8) -> SecretKey {
    SecretKey::from_seed([byte; 32])
}

fn name(text: &str) -> Name {
    Name::new(text).unwrap()
}

const ALICE: IdentityId = IdentityId(Hash32([0xa1; 32]));
const FARMER: IdentityId = IdentityId(Hash32([0xf1; 32]));

struct World {
    state: ComputeState,
    identities: Identities,
    params: NetworkParams,
    height: u64,
    counter: u8,
    events: Vec<ComputeEvent>,
    /// Coin outputs as the core would keep them: the transactions'
    /// outputs and what the domain spends and creates.
    coins: BTreeMap<CoinOutputId, CoinOutput>,
}

impl World {
    fn new(params: ComputeParams) -> World {
        let mut identities = Identities::default();
        identities
            .0
            .insert(ALICE, BTreeSet::from([key(1).public_key()]));
        identities
            .0
            .insert(FARMER, BTreeSet::from([key(2).public_key()]));
        World {
            state: ComputeState::new(params),
            identities,
            params: NetworkParams::devnet(),
            height: 10,
            counter: 0,
            events: Vec::new(),
            coins: BTreeMap::new(),
        }
    }

    /// Prepares, verifies signatures and applies `action` signed by
    /// `signer` (and `node_key` for registrations) at the current height.
    fn run(
        &mut self,
        action: ComputeAction,
        signer: Option<&SecretKey>,
        node_key: Option<&SecretKey>,
        outputs: Vec<CoinOutput>,
    ) -> Result<ComputeChange, String> {
        self.counter += 1;
        let transaction_id = TransactionId(Hash32([self.counter; 32]));
        let mut operation = ComputeOperation::unsigned(action, signer.map(SecretKey::public_key));
        if let Some(signer) = signer {
            operation.sign(&self.params.chain_id, &transaction_id, signer);
        }
        if let Some(node_key) = node_key {
            operation.sign_node_key(&self.params.chain_id, &transaction_id, node_key);
        }
        let mut transaction = Transaction::new();
        transaction.coin_outputs = outputs.clone();
        let context = DomainContext {
            params: &self.params,
            height: BlockHeight(self.height),
            timestamp: Timestamp(1_700_000_000 + self.height),
            transaction_index: 1,
            transaction_id: &transaction_id,
            domains: &[],
        };
        let prepared = rules::prepare(
            &self.state,
            &self.identities,
            &operation,
            &transaction,
            &context,
        )
        .map_err(|error| error.to_string())?;
        for signature in &prepared.signatures {
            if !signature
                .public_key
                .verify(&signature.message, &signature.signature)
            {
                return Err(format!("bad signature: {}", signature.origin));
            }
        }
        let change: ComputeChange = codec::decode(&prepared.change).unwrap();
        let before = self.state.commitment();
        self.state.apply_change(&change).unwrap();
        // Revert and redo: exact inverses.
        let after = self.state.commitment();
        self.state.revert_change(&change).unwrap();
        assert_eq!(self.state.commitment(), before);
        self.state.apply_change(&change).unwrap();
        assert_eq!(self.state.commitment(), after);
        for (kind, data) in &prepared.events {
            let event = ComputeEvent::decode(data).unwrap();
            assert_eq!(event.kind(), kind);
            self.events.push(event);
        }
        // What the core does with the coins: the transaction's outputs,
        // then the domain's escrow spends and created outputs, which must
        // balance.
        for (index, output) in outputs.into_iter().enumerate() {
            self.coins.insert(
                CoinOutputId::for_transaction_output(&transaction_id, index as u64),
                output,
            );
        }
        let mut spent = Currency::ZERO;
        for id in &prepared.coins.spend {
            let output = self.coins.remove(id).expect("spent escrow output exists");
            assert_eq!(output.condition, escrow_condition());
            spent = spent.checked_add(output.value).unwrap();
        }
        let mut created = Currency::ZERO;
        for (index, output) in prepared.coins.create.iter().enumerate() {
            let id = CoinOutputId::for_domain_output(&transaction_id, DOMAIN, index as u64);
            created = created.checked_add(output.value).unwrap();
            assert!(self.coins.insert(id, output.clone()).is_none());
        }
        assert_eq!(spent, created, "the domain neither makes nor loses coins");
        self.check_escrow();
        Ok(change)
    }

    /// Every live deployment's escrow outputs exist and add up to its
    /// balance.
    fn check_escrow(&self) {
        for (id, record) in self.state.deployments() {
            let held = record
                .escrow
                .iter()
                .map(|output| {
                    let output = self.coins.get(output).expect("escrow output exists");
                    assert_eq!(output.condition, escrow_condition());
                    output.value
                })
                .try_fold(Currency::ZERO, Currency::checked_add)
                .unwrap();
            assert_eq!(held, record.balance, "escrow of deployment {id}");
        }
    }

    /// The coins held by `condition`.
    fn held_by(&self, condition: &Condition) -> Currency {
        self.coins
            .values()
            .filter(|output| output.condition == *condition)
            .map(|output| output.value)
            .try_fold(Currency::ZERO, Currency::checked_add)
            .unwrap()
    }

    fn register(&mut self, node_key: &SecretKey, farm: &str, capacity: Resources) -> NodeId {
        self.run(
            ComputeAction::RegisterNode {
                owner: FARMER,
                node_key: node_key.public_key(),
                farm: name(farm),
                location: Location::new("be", "ghent").unwrap(),
                capacity,
                payout: payout_of(node_key),
            },
            Some(&key(2)),
            Some(node_key),
            Vec::new(),
        )
        .unwrap();
        NodeId::for_key(&node_key.public_key())
    }

    fn report(
        &mut self,
        node_key: &SecretKey,
        sequence: u64,
        workloads: Vec<WorkloadReport>,
    ) -> Result<ComputeChange, String> {
        self.run(
            ComputeAction::Report {
                node: NodeId::for_key(&node_key.public_key()),
                sequence,
                uptime_seconds: sequence * 10,
                power: Power::Up,
                workloads,
            },
            Some(node_key),
            None,
            Vec::new(),
        )
    }

    fn placements(&self, deployment: &DeploymentId) -> BTreeMap<Name, NodeId> {
        self.state
            .deployment(deployment)
            .unwrap()
            .placements
            .clone()
    }

    fn used(&self, node: &NodeId) -> Resources {
        self.state.node(node).unwrap().used
    }
}

/// Each test node is paid to its own key's address.
fn payout_of(node_key: &SecretKey) -> Condition {
    Condition::for_public_key(&node_key.public_key())
}

/// Alice's refunds go to her key's address.
fn alice_refund() -> Condition {
    Condition::for_public_key(&key(1).public_key())
}

fn vm(workload: &str, cores: u32, memory_mib: u64) -> WorkloadSpec {
    WorkloadSpec {
        name: name(workload),
        resources: Resources::new(cores, memory_mib, 10),
        image: "alpine".into(),
        network: None,
        volumes: Vec::new(),
        anti_affinity: Some(name("spread")),
        node: None,
    }
}

fn shop(workloads: Vec<WorkloadSpec>) -> DeploymentSpec {
    let mut workloads = workloads;
    workloads.sort_by(|a, b| a.name.cmp(&b.name));
    DeploymentSpec {
        name: name("shop"),
        constraints: PlacementConstraints::default(),
        reschedule: ReschedulePolicy::Move,
        networks: Vec::new(),
        workloads,
    }
}

const NODE_SIZE: Resources = Resources::new(4, 4096, 100);

fn two_nodes(world: &mut World) -> (NodeId, NodeId) {
    (
        world.register(&key(11), "farm-a", NODE_SIZE),
        world.register(&key(12), "farm-a", NODE_SIZE),
    )
}

fn create(
    world: &mut World,
    spec: DeploymentSpec,
    deposit: Option<Currency>,
) -> Result<DeploymentId, String> {
    let transaction_id = TransactionId(Hash32([world.counter + 1; 32]));
    let outputs = deposit
        .map(|value| {
            vec![CoinOutput {
                value,
                condition: escrow_condition(),
            }]
        })
        .unwrap_or_default();
    world.run(
        ComputeAction::CreateDeployment {
            owner: ALICE,
            spec,
            deposit: deposit.map(|_| 0),
            refund: alice_refund(),
        },
        Some(&key(1)),
        None,
        outputs,
    )?;
    Ok(DeploymentId::for_creation(&transaction_id))
}

#[test]
fn nodes_register_once_with_the_owners_key() {
    let mut world = World::new(ComputeParams::default());
    let node = world.register(&key(11), "farm-a", NODE_SIZE);
    assert_eq!(world.state.node(&node).unwrap().owner, FARMER);
    let again = world.run(
        ComputeAction::RegisterNode {
            owner: FARMER,
            node_key: key(11).public_key(),
            farm: name("farm-a"),
            location: Location::new("be", "ghent").unwrap(),
            capacity: NODE_SIZE,
            payout: payout_of(&key(11)),
        },
        Some(&key(2)),
        Some(&key(11)),
        Vec::new(),
    );
    assert!(again.unwrap_err().contains("already registered"));
    // Alice's key does not act for the farmer.
    let stranger = world.run(
        ComputeAction::RegisterNode {
            owner: FARMER,
            node_key: key(13).public_key(),
            farm: name("farm-a"),
            location: Location::new("be", "ghent").unwrap(),
            capacity: NODE_SIZE,
            payout: payout_of(&key(11)),
        },
        Some(&key(1)),
        Some(&key(13)),
        Vec::new(),
    );
    assert!(
        stranger
            .unwrap_err()
            .contains("not an active key of identity")
    );
}

#[test]
fn deployments_are_placed_accounted_updated_and_canceled() {
    let mut world = World::new(ComputeParams::default());
    let (a, b) = two_nodes(&mut world);
    let three = shop(vec![
        vm("web-1", 1, 512),
        vm("web-2", 1, 512),
        vm("db", 2, 1024),
    ]);
    // Anti-affinity over three workloads needs three nodes.
    let refused = create(&mut world, three.clone(), None).unwrap_err();
    assert!(refused.contains("fits no node"), "{refused}");
    assert!(
        refused.contains("2 already hold its anti-affinity group"),
        "{refused}"
    );
    assert_eq!(
        world.used(&a),
        Resources::ZERO,
        "nothing reserved on refusal"
    );

    let c = world.register(&key(13), "farm-a", NODE_SIZE);
    let deployment = create(&mut world, three, None).unwrap();
    let placements = world.placements(&deployment);
    let nodes: BTreeSet<NodeId> = placements.values().copied().collect();
    assert_eq!(nodes, BTreeSet::from([a, b, c]));
    let total = Resources::checked_sum([a, b, c].iter().map(|n| world.used(n))).unwrap();
    assert_eq!(total, Resources::new(4, 2048, 30));

    // Overcommit: a deployment bigger than any node's free capacity.
    let mut huge = shop(vec![vm("big", 4, 4096)]);
    huge.name = name("huge");
    let refused = create(&mut world, huge, None).unwrap_err();
    assert!(refused.contains("lack"), "{refused}");

    // Resize db: only db moves (it is replaced; the web VMs stay).
    let db_node = placements[&name("db")];
    world.events.clear();
    world
        .run(
            ComputeAction::UpdateDeployment {
                owner: ALICE,
                deployment,
                spec: shop(vec![
                    vm("web-1", 1, 512),
                    vm("web-2", 1, 512),
                    vm("db", 2, 2048),
                ]),
            },
            Some(&key(1)),
            None,
            Vec::new(),
        )
        .unwrap();
    let touched: BTreeSet<String> = world
        .events
        .iter()
        .filter_map(|event| match event {
            ComputeEvent::WorkloadPlaced { spec, .. } => Some(spec.name.to_string()),
            ComputeEvent::WorkloadRemoved { workload, .. } => Some(workload.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(touched, BTreeSet::from(["db".to_owned()]));
    let after = world.placements(&deployment);
    assert_eq!(after[&name("web-1")], placements[&name("web-1")]);
    assert_eq!(
        after[&name("db")],
        db_node,
        "anti-affinity keeps db on the free node"
    );
    assert_eq!(world.used(&db_node).memory_mib, 2048);

    // Only the owner cancels; canceling frees every node.
    let stranger = world.run(
        ComputeAction::CancelDeployment {
            owner: FARMER,
            deployment,
        },
        Some(&key(2)),
        None,
        Vec::new(),
    );
    assert!(stranger.unwrap_err().contains("belongs to identity"));
    world
        .run(
            ComputeAction::CancelDeployment {
                owner: ALICE,
                deployment,
            },
            Some(&key(1)),
            None,
            Vec::new(),
        )
        .unwrap();
    for node in [a, b, c] {
        assert_eq!(world.used(&node), Resources::ZERO);
    }
    assert!(world.state.deployment(&deployment).is_none());
    assert!(
        world
            .state
            .deployment_by_name(&ALICE, &name("shop"))
            .is_none()
    );
}

#[test]
fn reports_must_come_from_the_node_key_in_sequence() {
    let mut world = World::new(ComputeParams::default());
    let (a, _) = two_nodes(&mut world);
    let deployment = create(&mut world, shop(vec![vm("web-1", 1, 512)]), None).unwrap();
    let node = world.placements(&deployment)[&name("web-1")];
    let node_key = if node == a { key(11) } else { key(12) };
    let other_key = if node == a { key(12) } else { key(11) };
    let running = vec![WorkloadReport {
        deployment,
        workload: name("web-1"),
        state: WorkloadState::Running,
    }];
    world.report(&node_key, 1, running.clone()).unwrap();
    assert_eq!(
        world.state.deployment(&deployment).unwrap().reported[&name("web-1")],
        WorkloadState::Running
    );
    // Signed by another (registered) node's key, claiming this node.
    let forged = world.run(
        ComputeAction::Report {
            node,
            sequence: 2,
            uptime_seconds: 1,
            power: Power::Up,
            workloads: running.clone(),
        },
        Some(&other_key),
        None,
        Vec::new(),
    );
    assert!(forged.unwrap_err().contains("not by the node key"));
    // A replayed or old sequence.
    let stale = world.report(&node_key, 1, running.clone());
    assert!(stale.unwrap_err().contains("does not exceed its last 1"));
    // The other node cannot report this workload.
    let elsewhere = world.report(&other_key, 1, running);
    assert!(elsewhere.unwrap_err().contains("not placed on it"));
}

#[test]
fn billing_draws_the_balance_then_grace_then_stops() {
    let params = ComputeParams {
        grace_blocks: 5,
        ..ComputeParams::default()
    };
    let mut world = World::new(params);
    let (a, b) = two_nodes(&mut world);
    let spec = shop(vec![vm("web-1", 1, 1024)]);
    let price = params.price_per_block(&spec).unwrap();
    // 1 core + 1 GiB + 10 GiB disk.
    assert_eq!(price, Currency(1_000_000 + 500_000 + 100_000));
    let deployment = create(&mut world, spec, Some(price.checked_mul(4).unwrap())).unwrap();
    world.height += 3;
    world
        .run(ComputeAction::Bill { deployment }, None, None, Vec::new())
        .unwrap();
    let record = world.state.deployment(&deployment).unwrap();
    assert_eq!(record.balance, price);
    assert_eq!(record.billing, BillingState::Paid);
    // Nothing more is due in the same block.
    let nothing = world.run(ComputeAction::Bill { deployment }, None, None, Vec::new());
    assert!(nothing.unwrap_err().contains("owes nothing"));
    world.height += 3;
    world
        .run(ComputeAction::Bill { deployment }, None, None, Vec::new())
        .unwrap();
    let record = world.state.deployment(&deployment).unwrap();
    assert_eq!(record.balance, Currency(0));
    assert_eq!(
        record.billing,
        BillingState::Grace {
            since: BlockHeight(world.height)
        }
    );
    // Grace runs out: the deployment is stopped and capacity freed.
    world.height += 5;
    world
        .run(ComputeAction::Bill { deployment }, None, None, Vec::new())
        .unwrap();
    assert!(world.state.deployment(&deployment).is_none());
    assert_eq!(world.used(&a), Resources::ZERO);
    assert_eq!(world.used(&b), Resources::ZERO);
    assert!(world.events.contains(&ComputeEvent::DeploymentCanceled {
        deployment,
        cause: CancelCause::OutOfFunds
    }));
}

#[test]
fn an_update_bills_the_blocks_before_it_at_the_old_price() {
    let params = ComputeParams::default();
    let mut world = World::new(params);
    two_nodes(&mut world);
    let small = shop(vec![vm("web-1", 1, 1024)]);
    let big = shop(vec![vm("web-1", 2, 2048)]);
    let (old_price, new_price) = (
        params.price_per_block(&small).unwrap(),
        params.price_per_block(&big).unwrap(),
    );
    let deposit = new_price.checked_mul(100).unwrap();
    let deployment = create(&mut world, small, Some(deposit)).unwrap();
    let created = world.height;
    world.height += 4;
    world.events.clear();
    let update = |spec| ComputeAction::UpdateDeployment {
        owner: ALICE,
        deployment,
        spec,
    };
    world
        .run(update(big.clone()), Some(&key(1)), None, Vec::new())
        .unwrap();
    let first = old_price.checked_mul(4).unwrap();
    let balance = deposit.checked_sub(first).unwrap();
    assert_eq!(
        world.events.first(),
        Some(&ComputeEvent::DeploymentBilled {
            deployment,
            amount: first,
            from: BlockHeight(created),
            to: BlockHeight(world.height),
            balance,
        }),
        "{:?}",
        world.events
    );
    world.height += 2;
    world
        .run(ComputeAction::Bill { deployment }, None, None, Vec::new())
        .unwrap();
    let record = world.state.deployment(&deployment).unwrap();
    assert_eq!(
        record.balance,
        balance
            .checked_sub(new_price.checked_mul(2).unwrap())
            .unwrap()
    );
    assert_eq!(record.billed_to, BlockHeight(world.height));
    // An unfunded deployment updated later starts its grace period.
    let mut unfunded = shop(vec![vm("web-1", 1, 512)]);
    unfunded.name = name("unfunded");
    let unfunded_id = create(&mut world, unfunded.clone(), None).unwrap();
    world.height += 1;
    unfunded.workloads[0].resources.memory_mib = 768;
    world.events.clear();
    world
        .run(
            ComputeAction::UpdateDeployment {
                owner: ALICE,
                deployment: unfunded_id,
                spec: unfunded,
            },
            Some(&key(1)),
            None,
            Vec::new(),
        )
        .unwrap();
    assert_eq!(
        world.state.deployment(&unfunded_id).unwrap().billing,
        BillingState::Grace {
            since: BlockHeight(world.height)
        }
    );
}

#[test]
fn silent_nodes_are_healed_per_policy() {
    let params = ComputeParams {
        silent_after_blocks: 5,
        ..ComputeParams::default()
    };
    let mut world = World::new(params);
    let (a, b) = two_nodes(&mut world);
    let mut spec = shop(vec![vm("web-1", 1, 512), vm("web-2", 1, 512)]);
    for workload in &mut spec.workloads {
        workload.anti_affinity = None;
    }
    let deployment = create(&mut world, spec.clone(), None).unwrap();
    let mut patient = spec.clone();
    patient.name = name("patient");
    patient.reschedule = ReschedulePolicy::Stay;
    let patient_id = create(&mut world, patient, None).unwrap();

    world.height += 3;
    let not_yet = world.run(ComputeAction::Heal { node: a }, None, None, Vec::new());
    assert!(not_yet.unwrap_err().contains("is not silent"));
    // b keeps reporting; a falls silent.
    world.height += 4;
    world.report(&key(12), 1, Vec::new()).unwrap();
    let on_a: Vec<Name> = world
        .placements(&deployment)
        .into_iter()
        .filter(|(_, node)| *node == a)
        .map(|(name, _)| name)
        .collect();
    world
        .run(ComputeAction::Heal { node: a }, None, None, Vec::new())
        .unwrap();
    for (_, node) in world.placements(&deployment) {
        assert_eq!(node, b, "every workload of the movable deployment is on b");
    }
    // The patient deployment stays where it was.
    let patient_on_a = world
        .placements(&patient_id)
        .values()
        .filter(|node| **node == a)
        .count();
    assert!(patient_on_a > 0 || on_a.is_empty());
    let rescheduled = world
        .events
        .iter()
        .filter(|event| {
            matches!(event, ComputeEvent::WorkloadPlaced { reason: PlacementReason::Rescheduled { from, .. }, .. } if *from == a)
        })
        .count();
    assert_eq!(rescheduled, on_a.len());
    let again = world.run(ComputeAction::Heal { node: a }, None, None, Vec::new());
    assert!(again.unwrap_err().contains("runs no workload"));
}

#[test]
fn bills_pay_the_hosting_nodes_and_a_cancel_refunds_the_rest() {
    let params = ComputeParams::default();
    let mut world = World::new(params);
    let (a, b) = two_nodes(&mut world);
    let spec = shop(vec![vm("web-1", 1, 1024), vm("db", 2, 2048)]);
    let web_price = params.workload_price_per_block(&spec.workloads[1]).unwrap();
    let db_price = params.workload_price_per_block(&spec.workloads[0]).unwrap();
    assert_eq!(spec.workloads[0].name, name("db"));
    let price = params.price_per_block(&spec).unwrap();
    assert_eq!(price, web_price.checked_add(db_price).unwrap());
    let deposit = price.checked_mul(100).unwrap();
    let deployment = create(&mut world, spec, Some(deposit)).unwrap();
    let placements = world.placements(&deployment);
    let (web_node, db_node) = (placements[&name("web-1")], placements[&name("db")]);
    assert_ne!(web_node, db_node, "anti-affinity spreads them");
    let node_key = |node: NodeId| if node == a { key(11) } else { key(12) };
    assert!([a, b].contains(&web_node) && [a, b].contains(&db_node));
    let paid = |world: &World, node: NodeId| world.held_by(&payout_of(&node_key(node)));

    // A bill pays each node its workloads' share of the blocks.
    world.height += 7;
    world.events.clear();
    world
        .run(ComputeAction::Bill { deployment }, None, None, Vec::new())
        .unwrap();
    assert_eq!(paid(&world, web_node), web_price.checked_mul(7).unwrap());
    assert_eq!(paid(&world, db_node), db_price.checked_mul(7).unwrap());
    let farmer_paid: Vec<(NodeId, Currency, Address)> = world
        .events
        .iter()
        .filter_map(|event| match event {
            ComputeEvent::FarmerPaid {
                node,
                amount,
                address,
                output,
                ..
            } => {
                assert_eq!(world.coins[output].value, *amount);
                Some((*node, *amount, *address))
            }
            _ => None,
        })
        .collect();
    assert_eq!(farmer_paid.len(), 2, "{:?}", world.events);
    for (node, amount, address) in farmer_paid {
        assert_eq!(address, payout_of(&node_key(node)).address());
        assert_eq!(amount, paid(&world, node));
    }
    // The escrow holds exactly the rest, in one change output.
    let record = world.state.deployment(&deployment).unwrap();
    assert_eq!(record.escrow.len(), 1);
    assert_eq!(
        record.balance,
        deposit.checked_sub(price.checked_mul(7).unwrap()).unwrap()
    );

    // A top-up adds a second escrow output.
    let top_up = Currency(12_345);
    world
        .run(
            ComputeAction::TopUp {
                deployment,
                deposit: 0,
            },
            None,
            None,
            vec![CoinOutput {
                value: top_up,
                condition: escrow_condition(),
            }],
        )
        .unwrap();
    assert_eq!(world.state.deployment(&deployment).unwrap().escrow.len(), 2);

    // Cancel: the blocks since the last bill are paid, the rest refunded.
    world.height += 3;
    world.events.clear();
    world
        .run(
            ComputeAction::CancelDeployment {
                owner: ALICE,
                deployment,
            },
            Some(&key(1)),
            None,
            Vec::new(),
        )
        .unwrap();
    assert_eq!(paid(&world, web_node), web_price.checked_mul(10).unwrap());
    assert_eq!(paid(&world, db_node), db_price.checked_mul(10).unwrap());
    let refund = deposit
        .checked_add(top_up)
        .and_then(|total| total.checked_sub(price.checked_mul(10).unwrap()))
        .unwrap();
    assert_eq!(world.held_by(&alice_refund()), refund);
    assert!(world.events.contains(&ComputeEvent::DeploymentRefunded {
        deployment,
        amount: refund,
        output: CoinOutputId::for_domain_output(
            &TransactionId(Hash32([world.counter; 32])),
            DOMAIN,
            2
        ),
        address: alice_refund().address(),
    }));
    assert_eq!(
        world.held_by(&escrow_condition()),
        Currency::ZERO,
        "nothing is left in escrow"
    );
    // Every coin deposited is accounted for.
    let total = paid(&world, web_node)
        .checked_add(paid(&world, db_node))
        .and_then(|sum| sum.checked_add(world.held_by(&alice_refund())))
        .unwrap();
    assert_eq!(total, deposit.checked_add(top_up).unwrap());
}

#[test]
fn out_of_funds_pays_the_covered_blocks_and_refunds_the_remainder() {
    let params = ComputeParams {
        grace_blocks: 3,
        ..ComputeParams::default()
    };
    let mut world = World::new(params);
    let (a, _) = two_nodes(&mut world);
    let mut spec = shop(vec![vm("web-1", 1, 1024)]);
    spec.workloads[0].node = Some(a);
    let price = params.price_per_block(&spec).unwrap();
    // Two blocks and a bit.
    let deposit = price
        .checked_mul(2)
        .and_then(|two| two.checked_add(Currency(7)))
        .unwrap();
    let deployment = create(&mut world, spec, Some(deposit)).unwrap();
    world.height += 5;
    world
        .run(ComputeAction::Bill { deployment }, None, None, Vec::new())
        .unwrap();
    assert_eq!(
        world.held_by(&payout_of(&key(11))),
        price.checked_mul(2).unwrap()
    );
    assert!(matches!(
        world.state.deployment(&deployment).unwrap().billing,
        BillingState::Grace { .. }
    ));
    world.height += 3;
    world
        .run(ComputeAction::Bill { deployment }, None, None, Vec::new())
        .unwrap();
    assert!(world.state.deployment(&deployment).is_none());
    assert_eq!(
        world.held_by(&payout_of(&key(11))),
        price.checked_mul(2).unwrap()
    );
    assert_eq!(world.held_by(&alice_refund()), Currency(7));
    assert_eq!(world.held_by(&escrow_condition()), Currency::ZERO);
}
