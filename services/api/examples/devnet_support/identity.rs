//! The identity part of `devnet_transactions`: real signed identity
//! transactions for the explorer's identity and organization pages.
//!
//! A split transaction spends `funding` (a coin output of the genesis
//! wallet) into one 1-coin output per identity transaction for a fee payer
//! (seed 4) plus change back to the genesis wallet (its last output).
//! Then, in waves (a wave's transactions are independent of each other and
//! need the earlier waves in a block):
//!
//! 1. `alice` (key seed 21) and `bob` (seed 31) register;
//! 2. alice adds key 22, adds the attribute `email` (a salted commitment of
//!    [`EMAIL`]) and creates the organization `acme`; bob vouches for alice;
//! 3. alice rotates key 21 to key 23; bob attests alice's `email`;
//! 4. alice (key 23) revokes key 22, creates `acme.sales` and invites bob
//!    to own `acme` (left pending);
//! 5. alice invites bob to `acme.sales` as a member;
//! 6. bob accepts.
//!
//! Then chat: alice creates the broadcast channel `acme-news` with bob as
//! a reader (wave 7) and publishes three news items (wave 8):
//! [`NEWS_DUE`], [`NEWS_SCHEDULED`] (scheduled for 2030, so not in the
//! timeline yet) and [`NEWS_WITHDRAWN`], which she withdraws (wave 9).
//!
//! Printed lines: `identity-wave-<n> <hex>` per transaction and
//! `identity-secret <value>` for the clear attribute value, which must
//! never appear on chain or in the explorer.

use anyhow::Context;
use ledger::crypto::SecretKey;
use ledger::payload::chat::{
    self, ChannelId, ChannelKind, ChatAction, MemberRole, NewsContent, NewsId,
};
use ledger::payload::identity::{
    AttributeLabel, IdentityAction, IdentityName, IdentityOperation, OrganizationPath, Role,
    Subject, sign_into,
};
use ledger::{
    AttributeCommitment, CoinInput, CoinOutput, CoinOutputId, Condition, Currency, Fulfillment,
    IdentityId, NetworkParams, OrganizationId, Timestamp, Transaction, codec,
};

use crate::common::{FEE, coins, key, sign_coin_inputs as sign};

/// The title of the news item that is in the timeline.
pub const NEWS_DUE: &str = "Devnet explorer news is live";
/// The title of the news item scheduled for 2030 (not in the timeline).
pub const NEWS_SCHEDULED: &str = "Scheduled for 2030";
/// The title of the withdrawn news item (not in the timeline).
pub const NEWS_WITHDRAWN: &str = "Withdrawn notice";
/// 2030-01-01T00:00:00Z.
const SCHEDULED_AT: u64 = 1_893_456_000;

/// alice's e-mail address: only its commitment goes on chain.
pub const EMAIL: &str = "alice.private@example.org";
/// The salt of [`EMAIL`]'s commitment (fixed, so runs are reproducible).
const SALT: [u8; 32] = [0x37; 32];
const FEE_PAYER: u8 = 4;

/// Builds the transactions (paid from `funding`, worth `value`, owned by
/// `owner`) and returns the lines to print and the change left to `owner`
/// (the split transaction's last output, in wave 0) with its value.
pub fn seed(
    params: &NetworkParams,
    owner: &SecretKey,
    funding: CoinOutputId,
    value: Currency,
) -> anyhow::Result<(Vec<String>, CoinOutputId, Currency)> {
    let mut seeder = Seeder::split(params, owner, funding, value, "identity", TRANSACTIONS)?;
    let (alice1, alice2, alice3, bob_key) = (key(21), key(22), key(23), key(31));
    let name = |text: &str| IdentityName::parse(text).context("a devnet identity name");
    let path = |text: &str| OrganizationPath::parse(text).context("a devnet organization path");
    let email = AttributeLabel::parse("email").context("the email label")?;
    let commitment = AttributeCommitment::compute(&SALT, EMAIL.as_bytes());

    let register_alice = seeder.tx(
        1,
        IdentityAction::Register {
            name: name("alice")?,
            public_key: alice1.public_key(),
        },
        &alice1,
        None,
    )?;
    let alice = IdentityId::for_registration(&register_alice);
    let register_bob = seeder.tx(
        1,
        IdentityAction::Register {
            name: name("bob")?,
            public_key: bob_key.public_key(),
        },
        &bob_key,
        None,
    )?;
    let bob = IdentityId::for_registration(&register_bob);

    seeder.tx(
        2,
        IdentityAction::AddKey {
            identity: alice,
            public_key: alice2.public_key(),
        },
        &alice1,
        Some(&alice2),
    )?;
    seeder.tx(
        2,
        IdentityAction::AddAttribute {
            identity: alice,
            label: email.clone(),
            commitment,
        },
        &alice1,
        None,
    )?;
    let create_acme = seeder.tx(
        2,
        IdentityAction::CreateOrganization {
            creator: alice,
            path: path("acme")?,
        },
        &alice1,
        None,
    )?;
    let acme = OrganizationId::for_creation(&create_acme);
    seeder.tx(
        2,
        IdentityAction::Vouch {
            voucher: bob,
            target: alice,
            weight: 80,
            claim: Some("met in person".to_owned()),
        },
        &bob_key,
        None,
    )?;

    seeder.tx(
        3,
        IdentityAction::RotateKey {
            identity: alice,
            old_key: alice1.public_key(),
            new_key: alice3.public_key(),
        },
        &alice1,
        Some(&alice3),
    )?;
    seeder.tx(
        3,
        IdentityAction::Attest {
            verifier: bob,
            subject: alice,
            label: email,
            commitment,
        },
        &bob_key,
        None,
    )?;

    seeder.tx(
        4,
        IdentityAction::RevokeKey {
            identity: alice,
            public_key: alice2.public_key(),
        },
        &alice3,
        None,
    )?;
    let create_sales = seeder.tx(
        4,
        IdentityAction::CreateOrganization {
            creator: alice,
            path: path("acme.sales")?,
        },
        &alice3,
        None,
    )?;
    let sales = OrganizationId::for_creation(&create_sales);
    seeder.tx(
        4,
        IdentityAction::Invite {
            actor: alice,
            organization: acme,
            subject: Subject::Identity(bob),
            role: Role::Owner,
        },
        &alice3,
        None,
    )?;

    seeder.tx(
        5,
        IdentityAction::Invite {
            actor: alice,
            organization: sales,
            subject: Subject::Identity(bob),
            role: Role::Member,
        },
        &alice3,
        None,
    )?;
    seeder.tx(
        6,
        IdentityAction::AcceptInvitation {
            actor: bob,
            organization: sales,
            subject: Subject::Identity(bob),
        },
        &bob_key,
        None,
    )?;

    let create_news = seeder.chat_tx(
        7,
        ChatAction::CreateChannel {
            creator: alice,
            kind: ChannelKind::Broadcast,
            name: "acme-news".to_owned(),
            members: vec![(bob, MemberRole::Reader)],
            seals: Vec::new(),
        },
        &alice3,
    )?;
    let channel = ChannelId::for_transaction(&create_news);
    let news = |title: &str, scheduled_at: Option<u64>| ChatAction::PublishNews {
        author: alice,
        channel,
        news: NewsContent {
            title: title.to_owned(),
            body: format!("{title}: published by alice on the devnet."),
            buttons: vec!["Thanks".to_owned()],
            sticky_until: None,
            scheduled_at: scheduled_at.map(Timestamp),
            target_groups: Vec::new(),
        },
    };
    seeder.chat_tx(8, news(NEWS_DUE, None), &alice3)?;
    seeder.chat_tx(8, news(NEWS_SCHEDULED, Some(SCHEDULED_AT)), &alice3)?;
    let withdrawn = seeder.chat_tx(8, news(NEWS_WITHDRAWN, None), &alice3)?;
    seeder.chat_tx(
        9,
        ChatAction::WithdrawNews {
            actor: alice,
            channel,
            item: NewsId::for_transaction(&withdrawn),
        },
        &alice3,
    )?;

    let mut lines = seeder.lines;
    lines.push(format!("identity-secret {EMAIL}"));
    Ok((lines, seeder.change, seeder.change_value))
}

/// Transactions paid one fee output each (of the fee payer, seed 4),
/// printed as `<tag>-wave-<n> <hex>` lines.
pub struct Seeder<'a> {
    pub params: &'a NetworkParams,
    tag: &'static str,
    /// Unused fee outputs of the fee payer.
    fees: Vec<CoinOutputId>,
    pub lines: Vec<String>,
    /// The split transaction's change to its owner, and its value.
    pub change: CoinOutputId,
    pub change_value: Currency,
}

/// Identity transactions [`seed`] builds (one fee output each).
const TRANSACTIONS: u64 = 18;

impl<'a> Seeder<'a> {
    /// The split transaction (wave 0): `count` fee outputs, change to
    /// `owner` (its last output).
    pub fn split(
        params: &'a NetworkParams,
        owner: &SecretKey,
        funding: CoinOutputId,
        value: Currency,
        tag: &'static str,
        count: u64,
    ) -> anyhow::Result<Seeder<'a>> {
        let payer = Condition::for_public_key(&key(FEE_PAYER).public_key());
        let mut outputs: Vec<CoinOutput> = (0..count)
            .map(|_| CoinOutput {
                value: coins(1),
                condition: payer.clone(),
            })
            .collect();
        let change_value = value
            .checked_sub(coins(u128::from(count)))
            .and_then(|rest| rest.checked_sub(FEE))
            .with_context(|| {
                format!("the funding output is too small for the {tag} transactions")
            })?;
        outputs.push(CoinOutput {
            value: change_value,
            condition: Condition::for_public_key(&owner.public_key()),
        });
        let mut split = Transaction {
            coin_inputs: vec![CoinInput {
                parent_id: funding,
                fulfillment: Fulfillment::Nil,
            }],
            coin_outputs: outputs,
            fee: FEE,
            ..Transaction::new()
        };
        sign(&mut split, params, owner);
        let id = split.id();
        Ok(Seeder {
            params,
            tag,
            fees: (0..count)
                .rev()
                .map(|index| CoinOutputId::for_transaction_output(&id, index))
                .collect(),
            lines: vec![format!(
                "{tag}-wave-0 {}",
                hex::encode(codec::encode(&split))
            )],
            change: CoinOutputId::for_transaction_output(&id, count),
            change_value,
        })
    }

    /// A transaction carrying `action` signed by `signer` (and `new_key`),
    /// printed in `wave`; returns its ID.
    pub fn tx(
        &mut self,
        wave: u32,
        action: IdentityAction,
        signer: &SecretKey,
        new_key: Option<&SecretKey>,
    ) -> anyhow::Result<ledger::TransactionId> {
        let mut transaction = self.paid()?;
        let operation = IdentityOperation::unsigned(action, signer.public_key());
        let id = sign_into(
            &mut transaction,
            operation,
            &self.params.chain_id,
            signer,
            new_key,
        );
        self.push(wave, transaction);
        Ok(id)
    }

    /// A chat transaction of `wave`, signed by `signer`.
    fn chat_tx(
        &mut self,
        wave: u32,
        action: ChatAction,
        signer: &SecretKey,
    ) -> anyhow::Result<ledger::TransactionId> {
        let mut transaction = self.paid()?;
        let id = chat::sign_into(&mut transaction, action, &self.params.chain_id, signer);
        self.push(wave, transaction);
        Ok(id)
    }

    /// A transaction spending the next fee output (paying the fee) with
    /// no payload yet.
    pub fn paid(&mut self) -> anyhow::Result<Transaction> {
        let payer = key(FEE_PAYER);
        let fee_output = self
            .fees
            .pop()
            .with_context(|| format!("more {} transactions than fee outputs", self.tag))?;
        let transaction = Transaction {
            coin_inputs: vec![CoinInput {
                parent_id: fee_output,
                fulfillment: Fulfillment::Nil,
            }],
            coin_outputs: vec![CoinOutput {
                value: coins(1)
                    .checked_sub(FEE)
                    .context("the fee exceeds a coin")?,
                condition: Condition::for_public_key(&payer.public_key()),
            }],
            fee: FEE,
            ..Transaction::new()
        };
        Ok(transaction)
    }

    /// Signs the fee input of `transaction` (its payload is final) and
    /// prints it in `wave`.
    pub fn push(&mut self, wave: u32, mut transaction: Transaction) {
        sign(&mut transaction, self.params, &key(FEE_PAYER));
        self.lines.push(format!(
            "{}-wave-{wave} {}",
            self.tag,
            hex::encode(codec::encode(&transaction))
        ));
    }
}
