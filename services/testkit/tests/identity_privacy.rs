//! No attribute value in clear anywhere: on a devnet (real node, stream,
//! read models, API) an identity adds an email, a phone number and a
//! postal address as salted commitments, a verifier attests one, the
//! identity grants an organization access to them. Then every message of
//! the run's ledger stream (the canonical bytes of every block and its
//! events) and every row of every read-model table is scanned for the
//! clear values, as text and as hex: none is found, while the
//! commitments and the public names are (the scan sees the data).

#![allow(clippy::unwrap_used)] // test: a failed step should fail loudly

use std::collections::HashSet;
use std::time::{Duration, Instant};

use chain::stream::{self, BlockMessage, BlockMessageKind};
use ledger::payload::identity::{
    AttributeLabel, IdentityAction, IdentityName, IdentityOperation, OrganizationPath, Subject,
    sign_into,
};
use ledger::{
    AttributeCommitment, IdentityId, OrganizationId, SecretKey, Transaction, TransactionId,
};
use sqlx::{Connection, PgConnection};
use testkit::{Devnet, GenesisPayer};

const SALT: [u8; 32] = [0x5a; 32];
const SECRETS: [(&str, &str); 3] = [
    ("email", "alice.secret@example.com"),
    ("phone", "+32470123456"),
    ("address", "Rue de la Loi 16, 1000 Brussels"),
];

/// Identity transactions paid by the genesis wallet (`GenesisPayer`).
struct Payer(GenesisPayer);

impl Payer {
    fn new(devnet: &Devnet) -> Payer {
        Payer(GenesisPayer::new(devnet).unwrap())
    }

    fn tx(
        &mut self,
        action: IdentityAction,
        signer: &SecretKey,
        new_key: Option<&SecretKey>,
    ) -> Transaction {
        let chain_id = self.0.chain_id();
        self.0
            .pay(|transaction| {
                sign_into(
                    transaction,
                    IdentityOperation::unsigned(action, signer.public_key()),
                    &chain_id,
                    signer,
                    new_key,
                )
            })
            .unwrap()
    }
}

async fn submit(devnet: &Devnet, transaction: &Transaction) -> TransactionId {
    devnet.submit(transaction).await.unwrap()
}

/// Every message of the devnet's ledger stream, raw.
async fn stream_messages(devnet: &Devnet) -> Vec<Vec<u8>> {
    let settings = devenv::Settings::load().unwrap();
    let client = async_nats::connect(&settings.nats_url).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let mut ledger_stream = js
        .get_stream(stream::stream_name(&devnet.network))
        .await
        .unwrap();
    let state = ledger_stream.info().await.unwrap().state.clone();
    let mut messages = Vec::new();
    for sequence in state.first_sequence..=state.last_sequence {
        let raw = ledger_stream.get_raw_message(sequence).await.unwrap();
        messages.push(raw.payload.to_vec());
    }
    messages
}

/// Every row of every table of every schema of the read models'
/// database, as PostgreSQL's text form (BYTEA as `\x` hex).
async fn database_text(devnet: &Devnet) -> Vec<(String, String)> {
    let mut connection = PgConnection::connect_with(&devnet.database_options)
        .await
        .unwrap();
    let tables: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_schema::text, table_name::text FROM information_schema.tables
          WHERE table_type = 'BASE TABLE'
            AND table_schema NOT IN ('pg_catalog', 'information_schema')",
    )
    .fetch_all(&mut connection)
    .await
    .unwrap();
    assert!(tables.iter().any(|(schema, _)| schema == "identity"));
    let mut texts = Vec::new();
    for (schema, table) in tables {
        let text: String = sqlx::query_scalar(&format!(
            "SELECT coalesce(string_agg(t::text, E'\\n'), '') FROM \"{schema}\".\"{table}\" t"
        ))
        .fetch_one(&mut connection)
        .await
        .unwrap();
        texts.push((format!("{schema}.{table}"), text));
    }
    texts
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window.eq_ignore_ascii_case(needle))
}

#[tokio::test]
async fn no_attribute_value_appears_in_clear_on_chain_or_in_the_read_models() {
    let devnet = Devnet::start().await.unwrap();
    let mut payer = Payer::new(&devnet);
    let alice_key = SecretKey::from_seed([21; 32]);
    let verifier_key = SecretKey::from_seed([22; 32]);
    let register = |name: &str, key: &SecretKey| IdentityAction::Register {
        name: IdentityName(name.into()),
        public_key: key.public_key(),
    };

    let mut submitted = Vec::new();
    let transaction = payer.tx(register("alice", &alice_key), &alice_key, None);
    let alice = IdentityId::for_registration(&transaction.id());
    submitted.push(submit(&devnet, &transaction).await);
    let transaction = payer.tx(register("verifier", &verifier_key), &verifier_key, None);
    let verifier = IdentityId::for_registration(&transaction.id());
    submitted.push(submit(&devnet, &transaction).await);
    let commitments: Vec<AttributeCommitment> = SECRETS
        .iter()
        .map(|(_, value)| AttributeCommitment::compute(&SALT, value.as_bytes()))
        .collect();
    for ((label, _), commitment) in SECRETS.iter().zip(&commitments) {
        let transaction = payer.tx(
            IdentityAction::AddAttribute {
                identity: alice,
                label: AttributeLabel((*label).into()),
                commitment: *commitment,
            },
            &alice_key,
            None,
        );
        submitted.push(submit(&devnet, &transaction).await);
    }
    let transaction = payer.tx(
        IdentityAction::Attest {
            verifier,
            subject: alice,
            label: AttributeLabel("email".into()),
            commitment: commitments[0],
        },
        &verifier_key,
        None,
    );
    submitted.push(submit(&devnet, &transaction).await);
    let transaction = payer.tx(
        IdentityAction::CreateOrganization {
            creator: verifier,
            path: OrganizationPath("kyc-office".into()),
        },
        &verifier_key,
        None,
    );
    let office = OrganizationId::for_creation(&transaction.id());
    submitted.push(submit(&devnet, &transaction).await);
    let transaction = payer.tx(
        IdentityAction::GrantAuthorization {
            identity: alice,
            organization: office,
            scopes: vec![
                AttributeLabel("address".into()),
                AttributeLabel("email".into()),
                AttributeLabel("phone".into()),
            ],
        },
        &alice_key,
        None,
    );
    submitted.push(submit(&devnet, &transaction).await);
    let transaction = payer.tx(
        IdentityAction::Invite {
            actor: verifier,
            organization: office,
            subject: Subject::Identity(alice),
            role: ledger::payload::identity::Role::Member,
        },
        &verifier_key,
        None,
    );
    submitted.push(submit(&devnet, &transaction).await);

    // Wait until every transaction is in an applied block of the stream
    // and the identity read model has folded that block.
    let wanted: HashSet<TransactionId> = submitted.iter().copied().collect();
    let started = Instant::now();
    let (messages, last_height) = loop {
        let messages = stream_messages(&devnet).await;
        let mut found = HashSet::new();
        let mut last_height = 0;
        for raw in &messages {
            let message = BlockMessage::decode(raw).unwrap();
            if message.kind != BlockMessageKind::Applied {
                continue;
            }
            for transaction in &message.block.transactions {
                if wanted.contains(&transaction.id()) {
                    found.insert(transaction.id());
                    last_height = last_height.max(message.height.0);
                }
            }
        }
        if found == wanted {
            break (messages, last_height);
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "only {} of {} transactions were mined",
            found.len(),
            wanted.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mut connection = PgConnection::connect_with(&devnet.database_options)
        .await
        .unwrap();
    let started = Instant::now();
    loop {
        let at: Option<i64> = sqlx::query_scalar("SELECT height FROM identity.checkpoint")
            .fetch_optional(&mut connection)
            .await
            .ok()
            .flatten();
        if at.is_some_and(|at| at as u64 >= last_height) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the identity model did not reach height {last_height} (at {at:?})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let attributes: i64 = sqlx::query_scalar("SELECT count(*) FROM identity.attribute")
        .fetch_one(&mut connection)
        .await
        .unwrap();
    assert_eq!(attributes, 3);
    connection.close().await.unwrap();
    let tables = database_text(&devnet).await;

    // The scan sees the data: commitments and public names are there.
    let stream_bytes: Vec<u8> = messages.concat();
    for commitment in &commitments {
        assert!(contains(&stream_bytes, &commitment.0.0));
        let hex = hex::encode(commitment.0.0);
        assert!(tables.iter().any(|(_, text)| text.contains(&hex)));
    }
    assert!(contains(&stream_bytes, b"alice"));
    assert!(tables.iter().any(|(_, text)| text.contains("kyc-office")));

    // No clear value, as text or as hex, in any block, event or row.
    for (label, value) in SECRETS {
        let hex = hex::encode(value.as_bytes());
        assert!(
            !contains(&stream_bytes, value.as_bytes()),
            "the {label} value is in the ledger stream"
        );
        assert!(
            !contains(&stream_bytes, hex.as_bytes()),
            "the {label} value's hex is in the ledger stream"
        );
        for (table, text) in &tables {
            let lower = text.to_lowercase();
            assert!(
                !lower.contains(&value.to_lowercase()),
                "the {label} value is in {table}"
            );
            assert!(
                !lower.contains(&hex),
                "the {label} value's hex is in {table}"
            );
        }
    }
    eprintln!(
        "scanned {} stream messages ({} bytes, {} blocks up to height {last_height}) and {} tables",
        messages.len(),
        stream_bytes.len(),
        messages.len(),
        tables.len()
    );
    devnet.shutdown().await.unwrap();
}
