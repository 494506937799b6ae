//! A chain holding real identities and a chat state next to it, shared by
//! the chat domain's tests and the chat read model's tests (included with
//! `#[path]`; the including crate has `mod common;` at its root).
//!
//! Identities are registered (and keys rotated) by mined identity
//! transactions. Chat operations are signed over a transaction ID, checked
//! by `chain::domains::chat::prepare` against the chain's identity state,
//! their signature verified, and applied to the chat state (every change
//! is also reverted and re-applied to check that the two are exact
//! inverses). Each operation's transaction ID is that of a real,
//! fee-paying transaction of the fee payer ([`Chat::take_transactions`]
//! hands them out for mining), so the read model's tests can place the
//! operation's events in a real block.

#![allow(dead_code, clippy::unwrap_used)] // test support: not every test uses every helper

use std::collections::HashSet;

use chain::domains::chat::{self, ChatEvent, ChatRuleError, ChatState};
use chain::domains::identity::IdentityState;
use chain::events::{Direction, EventBody, EventPosition, LedgerEvent};
use chain::state::DomainContext;
use chain::stream::{BlockMessage, BlockMessageKind};
use ledger::crypto::SecretKey;
use ledger::crypto::sealing::ContentKey;
use ledger::payload::chat::{
    ChannelId, ChannelKind, ChatAction, ChatOperation, MemberRole, MessageBody, MessageContent,
    MessageId, group_key_context, seal_to,
};
use ledger::payload::identity::{IdentityAction, IdentityName, IdentityOperation, sign_into};
use ledger::{
    BlockHeight, CoinInput, CoinOutput, CoinOutputId, Condition, Fulfillment, IdentityId,
    PublicKey, Timestamp, Transaction, TransactionId,
};
use rand_core::OsRng;

use crate::common::{FEE, Net, coins, key, sign_coin_inputs, test_config};

pub const FEE_PAYER: u8 = 4;
const SPLIT_OUTPUTS: usize = 60;

/// A chain holding identities, and a chat state next to it.
pub struct Chat {
    pub net: Net,
    pub chat: ChatState,
    used: HashSet<CoinOutputId>,
    /// The transaction the next operation is signed over, once asked for.
    upcoming: Option<Transaction>,
    /// Operations' transactions and events not yet handed out.
    done: Vec<(Transaction, Vec<ChatEvent>)>,
    /// The height of the last block handed out as a message.
    published: Option<u64>,
    /// The events of the blocks this harness mined (identity events).
    events_of: std::collections::HashMap<ledger::BlockId, Vec<LedgerEvent>>,
}

impl Chat {
    /// Registers one identity per `(name, key seed)`, all in one block.
    pub fn new(people: &[(&str, u8)]) -> (Chat, Vec<IdentityId>) {
        let net = Net::new(test_config());
        let payer = key(FEE_PAYER);
        let mut split = net.transfer(
            &payer,
            Condition::for_public_key(&payer.public_key()),
            coins(1_000),
            FEE,
        );
        for _ in 0..SPLIT_OUTPUTS {
            split.coin_outputs.insert(
                0,
                CoinOutput {
                    value: coins(1_000),
                    condition: Condition::for_public_key(&payer.public_key()),
                },
            );
        }
        let change = split.coin_outputs.last_mut().unwrap();
        change.value = change
            .value
            .checked_sub(coins(1_000 * SPLIT_OUTPUTS as u128))
            .unwrap();
        sign_coin_inputs(&mut split, &net.params(), &payer);
        let mut chat = Chat {
            net,
            chat: ChatState::default(),
            used: HashSet::new(),
            upcoming: None,
            done: Vec::new(),
            published: None,
            events_of: std::collections::HashMap::new(),
        };
        chat.mine_recorded(vec![split]);
        let registrations: Vec<(Transaction, TransactionId)> = people
            .iter()
            .map(|(name, seed)| {
                let signer = key(*seed);
                chat.identity_tx(
                    IdentityAction::Register {
                        name: IdentityName((*name).into()),
                        public_key: signer.public_key(),
                    },
                    &signer,
                    None,
                )
            })
            .collect();
        let ids = registrations
            .iter()
            .map(|(_, id)| IdentityId::for_registration(id))
            .collect();
        chat.mine_recorded(registrations.into_iter().map(|(tx, _)| tx).collect());
        (chat, ids)
    }

    /// Mines `transactions` in one block, keeping its events for
    /// [`Self::unpublished_blocks`].
    pub fn mine_recorded(&mut self, transactions: Vec<Transaction>) {
        let block = self.net.next_block(transactions);
        let update = self.net.accept(block.clone()).unwrap();
        let id = block.id();
        let events = update
            .events
            .into_iter()
            .filter(|event| event.block == id)
            .collect();
        self.events_of.insert(id, events);
    }

    /// A fee-paying transaction of the payer from an unused split output.
    fn paying_transaction(&mut self) -> Transaction {
        let payer = key(FEE_PAYER);
        let (parent_id, output) = self
            .net
            .coins_of(&payer)
            .into_iter()
            .filter(|(id, output)| !self.used.contains(id) && output.value == coins(1_000))
            .min_by_key(|(id, _)| *id)
            .expect("the fee payer has an unused split output");
        self.used.insert(parent_id);
        Transaction {
            coin_inputs: vec![CoinInput {
                parent_id,
                fulfillment: Fulfillment::Nil,
            }],
            coin_outputs: vec![CoinOutput {
                value: output.value.checked_sub(FEE).unwrap(),
                condition: Condition::for_public_key(&payer.public_key()),
            }],
            fee: FEE,
            ..Transaction::new()
        }
    }

    /// A signed identity transaction.
    pub fn identity_tx(
        &mut self,
        action: IdentityAction,
        signer: &SecretKey,
        new_key: Option<&SecretKey>,
    ) -> (Transaction, TransactionId) {
        let mut transaction = self.paying_transaction();
        let id = sign_into(
            &mut transaction,
            IdentityOperation::unsigned(action, signer.public_key()),
            &self.net.params().chain_id,
            signer,
            new_key,
        );
        sign_coin_inputs(&mut transaction, &self.net.params(), &key(FEE_PAYER));
        (transaction, id)
    }

    pub fn identities(&self) -> &IdentityState {
        self.net
            .chain
            .state()
            .domain::<IdentityState>()
            .expect("standard domains include identity")
    }

    pub fn chain_id(&self) -> ledger::ChainId {
        self.net.params().chain_id
    }

    /// The ID of the transaction the next operation is signed over.
    pub fn next_transaction_id(&mut self) -> TransactionId {
        if self.upcoming.is_none() {
            let mut transaction = self.paying_transaction();
            sign_coin_inputs(&mut transaction, &self.net.params(), &key(FEE_PAYER));
            self.upcoming = Some(transaction);
        }
        self.upcoming.as_ref().map(Transaction::id).unwrap()
    }

    /// Signs `action` with `signer`, checks it (stateless and stateful),
    /// verifies its signature, applies it, and returns its transaction ID
    /// and events. A refused operation leaves its transaction for the
    /// next one.
    pub fn try_run(
        &mut self,
        action: ChatAction,
        signer: &SecretKey,
    ) -> Result<(TransactionId, Vec<ChatEvent>), ChatRuleError> {
        let transaction_id = self.next_transaction_id();
        let mut operation = ChatOperation::unsigned(action, signer.public_key());
        operation.sign(&self.chain_id(), &transaction_id, signer);
        operation
            .check(self.upcoming.as_ref().expect("asked for above"))
            .unwrap();
        let params = self.net.params();
        let context = DomainContext {
            params: &params,
            height: BlockHeight(self.net.chain.tip().height.0 + 1),
            timestamp: Timestamp(self.net.chain.tip().timestamp.0 + 1),
            transaction_index: 0,
            transaction_id: &transaction_id,
            domains: &[],
        };
        let change = chat::prepare(&self.chat, self.identities(), &operation, &context)?;
        for signature in &change.signatures {
            ledger::crypto::verify_signature(
                &signature.public_key,
                signature.message.as_bytes(),
                &signature.signature,
            )
            .unwrap();
        }
        let before = self.chat.clone();
        self.chat.apply_change(&change.change).unwrap();
        let after = self.chat.clone();
        self.chat.revert_change(&change.change).unwrap();
        assert_eq!(self.chat, before, "revert restores the state");
        self.chat.apply_change(&change.change).unwrap();
        assert_eq!(self.chat.state_commitment(), after.state_commitment());
        let events: Vec<ChatEvent> = change
            .events
            .iter()
            .map(|(kind, data)| {
                let event = ChatEvent::decode(data).unwrap();
                assert_eq!(event.kind(), kind);
                event
            })
            .collect();
        let transaction = self.upcoming.take().expect("asked for above");
        self.done.push((transaction, events.clone()));
        Ok((transaction_id, events))
    }

    pub fn run(
        &mut self,
        action: ChatAction,
        signer: &SecretKey,
    ) -> (TransactionId, Vec<ChatEvent>) {
        self.try_run(action, signer).unwrap()
    }

    pub fn refused(&mut self, action: ChatAction, signer: &SecretKey, expected: ChatRuleError) {
        let before = self.chat.clone();
        assert_eq!(self.try_run(action, signer).unwrap_err(), expected);
        assert_eq!(self.chat, before, "a refused operation changes nothing");
    }

    /// The transactions of the operations run since the last call, with
    /// their events, in order.
    pub fn take_transactions(&mut self) -> Vec<(Transaction, Vec<ChatEvent>)> {
        std::mem::take(&mut self.done)
    }

    /// Applied messages of the main chain's blocks not handed out yet
    /// (blocks without chat operations), with their events when this
    /// harness mined them.
    pub fn unpublished_blocks(&mut self) -> Vec<BlockMessage> {
        let chain = &self.net.chain;
        let start = self.published.map_or(0, |height| height + 1);
        let messages: Vec<BlockMessage> = (start..=chain.height().0)
            .map(|height| {
                let id = chain.main_chain_id(BlockHeight(height)).unwrap();
                BlockMessage {
                    kind: BlockMessageKind::Applied,
                    height: BlockHeight(height),
                    outbox_sequence: 0,
                    block: chain.block(&id).unwrap().unwrap(),
                    events: self.events_of.get(&id).cloned().unwrap_or_default(),
                }
            })
            .collect();
        self.published = Some(chain.height().0);
        messages
    }

    /// Mines the operations run since the last block into one block and
    /// returns the messages to publish, as a node publishes them: the
    /// blocks not handed out yet, then this block with its events and the
    /// operations' events at their transactions' positions.
    pub fn mine_operations(&mut self) -> Vec<BlockMessage> {
        let mut messages = self.unpublished_blocks();
        let operations = self.take_transactions();
        let transactions = operations.iter().map(|(tx, _)| tx.clone()).collect();
        let block = self.net.next_block(transactions);
        let update = self.net.accept(block.clone()).unwrap();
        let id = block.id();
        let height = self.net.chain.node(&id).unwrap().height;
        let mut events: Vec<LedgerEvent> = update
            .events
            .iter()
            .filter(|event| event.block == id)
            .cloned()
            .collect();
        let mut index = events
            .iter()
            .map(|event| event.position.index + 1)
            .max()
            .unwrap_or(0);
        for (transaction, chat_events) in &operations {
            let position = block
                .transactions
                .iter()
                .position(|candidate| candidate.id() == transaction.id())
                .unwrap();
            for event in chat_events {
                let (kind, data) = event.to_domain_event();
                events.push(LedgerEvent {
                    direction: Direction::Apply,
                    block: id,
                    position: EventPosition {
                        height,
                        transaction: Some(position as u64),
                        index,
                    },
                    body: EventBody::Domain {
                        domain: chat::DOMAIN.into(),
                        kind,
                        data,
                    },
                });
                index += 1;
            }
        }
        self.published = Some(height.0);
        messages.push(BlockMessage {
            kind: BlockMessageKind::Applied,
            height,
            outbox_sequence: 0,
            block,
            events,
        });
        messages
    }

    /// A channel of `kind` created by `creator` with `members`; for a
    /// group, its epoch-0 key sealed to everyone's given key.
    pub fn channel(
        &mut self,
        kind: ChannelKind,
        creator: (IdentityId, &SecretKey),
        members: &[(IdentityId, MemberRole, PublicKey)],
    ) -> (ChannelId, ContentKey) {
        let group_key = ContentKey::random(&mut OsRng);
        // The channel ID follows from the transaction ID, which the seal
        // context needs.
        let channel = ChannelId::for_transaction(&self.next_transaction_id());
        let seals = if kind == ChannelKind::Group {
            let mut recipients = vec![(creator.0, creator.1.public_key())];
            recipients.extend(members.iter().map(|(member, _, key)| (*member, *key)));
            seal_to(
                &group_key,
                &recipients,
                &group_key_context(&self.chain_id(), &channel, 0),
                &mut OsRng,
            )
            .unwrap()
        } else {
            Vec::new()
        };
        let (id, _) = self.run(
            ChatAction::CreateChannel {
                creator: creator.0,
                kind,
                name: format!("{} channel", kind.name()),
                members: members.iter().map(|(id, role, _)| (*id, *role)).collect(),
                seals,
            },
            creator.1,
        );
        assert_eq!(ChannelId::for_transaction(&id), channel);
        (channel, group_key)
    }

    /// A group channel (see [`Self::channel`]).
    pub fn group(
        &mut self,
        creator: (IdentityId, &SecretKey),
        members: &[(IdentityId, MemberRole, PublicKey)],
    ) -> (ChannelId, ContentKey) {
        self.channel(ChannelKind::Group, creator, members)
    }
}

pub fn text(text: &str) -> MessageContent {
    MessageContent {
        text: text.into(),
        ..MessageContent::default()
    }
}

pub fn posted(events: &[ChatEvent]) -> (MessageId, MessageBody) {
    events
        .iter()
        .find_map(|event| match event {
            ChatEvent::MessagePosted { message, body, .. } => Some((*message, body.clone())),
            _ => None,
        })
        .unwrap()
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}
