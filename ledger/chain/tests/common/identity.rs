//! Identity operations on the test network: a fee payer (seed 4) whose
//! coins are split so many identity transactions fit in one block, and
//! helpers that build, sign and mine them.

use std::collections::HashSet;

use chain::domains::identity::IdentityState;
use chain::{Chain, ChainUpdate};
use ledger::crypto::SecretKey;
use ledger::payload::identity::{
    AttributeLabel, IdentityAction, IdentityName, IdentityOperation, OrganizationPath, sign_into,
};
use ledger::payload::storage::{self, StorageAction, StorageOperation};
use ledger::{
    AttributeCommitment, CoinInput, CoinOutput, CoinOutputId, Condition, Fulfillment, IdentityId,
    OrganizationId, Transaction, TransactionId,
};

use super::{FEE, Net, coins, key, sign_coin_inputs, test_config};

/// A test network whose fee payer (seed 4) holds many coin outputs, so
/// several identity transactions fit in one block.
pub struct IdentityNet {
    pub net: Net,
    used: HashSet<CoinOutputId>,
    /// Every update of every block mined through this helper, for tests
    /// that publish them (drained by the caller).
    pub updates: Vec<ChainUpdate>,
}

const FEE_PAYER: u8 = 4;

impl IdentityNet {
    /// The test network with the fee payer's coins split.
    pub fn new() -> IdentityNet {
        IdentityNet::on(Net::new(test_config()))
    }

    /// `net` (at genesis or on a shared block) without the split: for a
    /// second branch that received the first branch's split block.
    pub fn follower(net: Net) -> IdentityNet {
        IdentityNet {
            net,
            used: HashSet::new(),
            updates: Vec::new(),
        }
    }

    fn on(mut net: Net) -> IdentityNet {
        let payer = key(FEE_PAYER);
        let mut split = net.transfer(
            &payer,
            Condition::for_public_key(&payer.public_key()),
            coins(1_000),
            FEE,
        );
        for _ in 0..40 {
            split.coin_outputs.insert(
                0,
                CoinOutput {
                    value: coins(1_000),
                    condition: Condition::for_public_key(&payer.public_key()),
                },
            );
        }
        let change = split.coin_outputs.last_mut().expect("the change output");
        change.value = change
            .value
            .checked_sub(coins(40_000))
            .expect("the payer holds enough");
        sign_coin_inputs(&mut split, &net.params(), &payer);
        let block = net.next_block(vec![split]);
        let update = net.accept(block).expect("split block is valid");
        IdentityNet {
            net,
            used: HashSet::new(),
            updates: vec![update],
        }
    }

    /// An unsigned transaction paid from an unused coin output of the fee
    /// payer (a payload goes in, then [`IdentityNet::pay`] signs the coins).
    pub fn paying(&mut self) -> Transaction {
        let payer = key(FEE_PAYER);
        let (id, output) = self
            .net
            .coins_of(&payer)
            .into_iter()
            .filter(|(id, output)| !self.used.contains(id) && output.value == coins(1_000))
            .min_by_key(|(id, _)| *id)
            .expect("fee payer has an unused coin output");
        self.used.insert(id);
        Transaction {
            coin_inputs: vec![CoinInput {
                parent_id: id,
                fulfillment: Fulfillment::Nil,
            }],
            coin_outputs: vec![CoinOutput {
                value: output
                    .value
                    .checked_sub(FEE)
                    .expect("outputs exceed the fee"),
                condition: Condition::for_public_key(&payer.public_key()),
            }],
            fee: FEE,
            ..Transaction::new()
        }
    }

    /// Signs the fee payer's coin inputs of `transaction`.
    pub fn pay(&self, transaction: &mut Transaction) {
        sign_coin_inputs(transaction, &self.net.params(), &key(FEE_PAYER));
    }

    /// A transaction carrying `action`, signed by `signer` (and `new_key`),
    /// paid from an unused coin output of the fee payer.
    pub fn tx(
        &mut self,
        action: IdentityAction,
        signer: &SecretKey,
        new_key: Option<&SecretKey>,
    ) -> Transaction {
        let mut transaction = self.paying();
        let operation = IdentityOperation::unsigned(action, signer.public_key());
        sign_into(
            &mut transaction,
            operation,
            &self.net.params().chain_id,
            signer,
            new_key,
        );
        self.pay(&mut transaction);
        transaction
    }

    /// A storage transaction carrying `action` signed by `signer`, paid by
    /// the fee payer.
    pub fn storage_tx(&mut self, action: StorageAction, signer: &SecretKey) -> Transaction {
        let mut transaction = self.paying();
        storage::sign_into(
            &mut transaction,
            StorageOperation::unsigned(action, signer.public_key()),
            &self.net.params().chain_id,
            signer,
        );
        self.pay(&mut transaction);
        transaction
    }

    /// Mines one storage transaction and returns its ID.
    pub fn run_storage(&mut self, action: StorageAction, signer: &SecretKey) -> TransactionId {
        let transaction = self.storage_tx(action, signer);
        let id = transaction.id();
        self.mine(vec![transaction]);
        id
    }

    /// Mines `transactions` in one block; panics if refused.
    pub fn mine(&mut self, transactions: Vec<Transaction>) -> ChainUpdate {
        let block = self.net.next_block(transactions);
        let update = self.net.accept(block).expect("block is valid");
        self.updates.push(update.clone());
        update
    }

    /// Mines one transaction and returns its ID.
    pub fn run(&mut self, action: IdentityAction, signer: &SecretKey) -> TransactionId {
        let transaction = self.tx(action, signer, None);
        let id = transaction.id();
        self.mine(vec![transaction]);
        id
    }

    /// Registers `name` with key `seed`.
    pub fn register(&mut self, name: &str, seed: u8) -> IdentityId {
        let signer = key(seed);
        let id = self.run(register_action(name, &signer), &signer);
        IdentityId::for_registration(&id)
    }

    pub fn create_organization(
        &mut self,
        path: &str,
        creator: IdentityId,
        seed: u8,
    ) -> OrganizationId {
        let id = self.run(
            IdentityAction::CreateOrganization {
                creator,
                path: OrganizationPath(path.into()),
            },
            &key(seed),
        );
        OrganizationId::for_creation(&id)
    }
}

pub fn identity_state<S: chain::ChainStore>(chain: &Chain<S>) -> &IdentityState {
    chain
        .state()
        .domain::<IdentityState>()
        .expect("standard domains include identity")
}

pub fn register_action(name: &str, signer: &SecretKey) -> IdentityAction {
    IdentityAction::Register {
        name: IdentityName(name.into()),
        public_key: signer.public_key(),
    }
}

impl IdentityNet {
    pub fn state(&self) -> &IdentityState {
        identity_state(&self.net.chain)
    }
}

pub fn label(text: &str) -> AttributeLabel {
    AttributeLabel(text.into())
}

/// The commitment of `value` under a fixed test salt.
pub fn commitment(value: &str) -> AttributeCommitment {
    AttributeCommitment::compute(&[7; 32], value.as_bytes())
}
