//! A chain holding real identities and chat channels, shared by the chat
//! domain's tests and the chat read model's tests (included with
//! `#[path]`; the including crate has `mod common;` at its root).
//!
//! Identities are registered (and keys rotated) by mined identity
//! transactions. A chat operation is put into a real fee-paying
//! transaction (`Payload::Chat`), signed, checked statelessly and by
//! `chain::domains::chat::prepare` against a working copy of the chat
//! state (the chain's, plus the operations not mined yet) so refusals come
//! back typed, its change applied to that copy (and reverted and
//! re-applied, to check the two are exact inverses). [`Chat::mine_operations`]
//! mines the pending transactions into one block through the chain, which
//! checks them again, verifies their signatures in the block's batch and
//! emits their events; the harness checks that the chain's chat state and
//! events equal its own.

#![allow(dead_code, clippy::unwrap_used)] // test support: not every test uses every helper

use std::collections::HashSet;

use chain::domains::chat::{self, ChatEvent, ChatRuleError, ChatState};
use chain::domains::identity::IdentityState;
use chain::events::{EventBody, LedgerEvent};
use chain::state::DomainContext;
use chain::stream::{BlockMessage, BlockMessageKind};
use ledger::crypto::SecretKey;
use ledger::crypto::sealing::ContentKey;
use ledger::payload::Payload;
use ledger::payload::chat::{
    self as chat_payload, ChannelId, ChannelKind, ChatAction, MemberRole, MessageBody,
    MessageContent, MessageId, group_key_context, seal_to,
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
    /// The fee-paying transaction (no payload yet) the next operation
    /// goes into, once asked for.
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

    /// The ID the transaction of the next operation will have when it
    /// carries `action` signed by `signer`.
    pub fn next_transaction_id(
        &mut self,
        action: &ChatAction,
        signer: &SecretKey,
    ) -> TransactionId {
        if self.upcoming.is_none() {
            self.upcoming = Some(self.paying_transaction());
        }
        let transaction = self.upcoming.as_ref().unwrap();
        chat_payload::transaction_id_for(transaction, action, signer.public_key())
    }

    /// The chat state of the chain's tip (without the operations not
    /// mined yet).
    pub fn chain_chat(&self) -> &ChatState {
        self.net
            .chain
            .state()
            .domain::<ChatState>()
            .expect("standard domains include chat")
    }

    /// Puts `action` signed by `signer` into a transaction, checks it
    /// (stateless and stateful, against the chain's identities and the
    /// working chat state), applies it to the working state and queues the
    /// transaction for [`Self::mine_operations`]; returns its ID and the
    /// events the rules made. A refused operation leaves its fee-paying
    /// transaction for the next one.
    pub fn try_run(
        &mut self,
        action: ChatAction,
        signer: &SecretKey,
    ) -> Result<(TransactionId, Vec<ChatEvent>), ChatRuleError> {
        let paying = match self.upcoming.take() {
            Some(transaction) => transaction,
            None => self.paying_transaction(),
        };
        let transaction = self.signed(&paying, action, signer);
        match self.check(&transaction) {
            Ok(events) => Ok((transaction.id(), events)),
            Err(error) => {
                self.upcoming = Some(paying);
                Err(error)
            }
        }
    }

    /// `paying` carrying `action` signed by `signer`, its inputs signed.
    fn signed(&self, paying: &Transaction, action: ChatAction, signer: &SecretKey) -> Transaction {
        let mut transaction = paying.clone();
        let transaction_id =
            chat_payload::sign_into(&mut transaction, action, &self.chain_id(), signer);
        sign_coin_inputs(&mut transaction, &self.net.params(), &key(FEE_PAYER));
        assert_eq!(
            transaction.id(),
            transaction_id,
            "input signatures keep the ID"
        );
        transaction
    }

    /// Checks a signed chat transaction against the working state and, if
    /// the rules accept it, applies it and queues it.
    fn check(&mut self, transaction: &Transaction) -> Result<Vec<ChatEvent>, ChatRuleError> {
        let transaction_id = transaction.id();
        let Some(Payload::Chat(operation)) = transaction.payload.clone() else {
            unreachable!("sign_into sets a chat payload");
        };
        let params = self.net.params();
        operation
            .check(transaction)
            .expect("the test's operations keep the stateless rules");
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
        self.done.push((transaction.clone(), events.clone()));
        Ok(events)
    }

    pub fn run(
        &mut self,
        action: ChatAction,
        signer: &SecretKey,
    ) -> (TransactionId, Vec<ChatEvent>) {
        self.try_run(action, signer).unwrap()
    }

    /// `action` is refused with `expected` by the rules, and a block
    /// holding its transaction is refused by the chain (the operations
    /// run before are mined first, so the chain's state is the working
    /// one); nothing changes.
    pub fn refused(&mut self, action: ChatAction, signer: &SecretKey, expected: ChatRuleError) {
        self.mine_pending();
        let before = self.chat.clone();
        let tip = self.net.chain.tip().id;
        let paying = match self.upcoming.take() {
            Some(transaction) => transaction,
            None => self.paying_transaction(),
        };
        let transaction = self.signed(&paying, action, signer);
        assert_eq!(self.check(&transaction).unwrap_err(), expected);
        assert_eq!(self.chat, before, "a refused operation changes nothing");
        let block = self.net.next_block(vec![transaction]);
        let error = self.net.accept(block).unwrap_err();
        assert!(
            error.to_string().contains(&expected.to_string()),
            "the chain refuses the block for the same reason: {error}"
        );
        assert_eq!(
            self.net.chain.tip().id,
            tip,
            "the refused block is not applied"
        );
        assert_eq!(self.chain_chat(), &before);
        self.upcoming = Some(paying);
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

    /// Mines the operations run since the last block (if any) into one
    /// block through the chain, checking that the chain emits the rules'
    /// events of the operations in order and that its chat state is the
    /// working one.
    pub fn mine_pending(&mut self) {
        let operations = self.take_transactions();
        if operations.is_empty() {
            return;
        }
        let transactions = operations.iter().map(|(tx, _)| tx.clone()).collect();
        self.mine_recorded(transactions);
        let id = self.net.chain.tip().id;
        let chain_events: Vec<ChatEvent> = self.events_of[&id]
            .iter()
            .filter_map(|event| match &event.body {
                EventBody::Domain { domain, data, .. } if domain == chat::DOMAIN => {
                    Some(ChatEvent::decode(data).unwrap())
                }
                _ => None,
            })
            .collect();
        let expected: Vec<ChatEvent> = operations
            .iter()
            .flat_map(|(_, events)| events.iter().cloned())
            .collect();
        assert_eq!(chain_events, expected, "the chain emits the rules' events");
        assert_eq!(
            self.chain_chat(),
            &self.chat,
            "the chain's chat state is the working one"
        );
    }

    /// Mines the operations run since the last block into one block and
    /// returns the messages to publish, as a node publishes them: the
    /// blocks not handed out yet, this one last, each with its events.
    pub fn mine_operations(&mut self) -> Vec<BlockMessage> {
        self.mine_pending();
        self.unpublished_blocks()
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
        let mut action = ChatAction::CreateChannel {
            creator: creator.0,
            kind,
            name: format!("{} channel", kind.name()),
            members: members.iter().map(|(id, role, _)| (*id, *role)).collect(),
            seals: Vec::new(),
        };
        // The channel ID follows from the transaction ID (which does not
        // cover the seals), and the seals' context names the channel.
        let channel = ChannelId::for_transaction(&self.next_transaction_id(&action, creator.1));
        if kind == ChannelKind::Group {
            let mut recipients = vec![(creator.0, creator.1.public_key())];
            recipients.extend(members.iter().map(|(member, _, key)| (*member, *key)));
            let sealed = seal_to(
                &group_key,
                &recipients,
                &group_key_context(&self.chain_id(), &channel, 0),
                &mut OsRng,
            )
            .unwrap();
            if let ChatAction::CreateChannel { seals, .. } = &mut action {
                *seals = sealed;
            }
        }
        let (id, _) = self.run(action, creator.1);
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
