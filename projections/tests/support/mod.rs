//! Shared by the tests that fold a ledger stream: a database and a
//! JetStream stream of their own on the local services, and publishing a
//! `BlockMessage` exactly as a node does (subject by kind, `Ledger-Height`
//! header, message ID from kind, block and outbox sequence), and a dump of
//! every table of a model's schema. Included with `#[path]` by the
//! projections and projector tests.

#![allow(dead_code, clippy::unwrap_used)] // test support: not every test uses every helper

use std::collections::BTreeMap;
use std::time::Duration;

use async_nats::jetstream::{self, stream as js_stream};
use chain::stream::{self, BlockMessage, HEIGHT_HEADER};
use devenv::{Settings, TestDatabase, unique_name};
use projections::schema::{self, RUNTIME_TABLES};
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};

/// Connections to the local services and a fresh database.
pub struct TestServices {
    pub settings: Settings,
    pub db: TestDatabase,
    /// Connect options of the fresh database.
    pub options: PgConnectOptions,
    pub client: async_nats::Client,
    pub js: jetstream::Context,
}

impl TestServices {
    pub async fn connect() -> TestServices {
        let settings = Settings::load().expect("local services settings");
        let db = TestDatabase::create(&settings).await.unwrap();
        let options = settings
            .database_url
            .parse::<PgConnectOptions>()
            .unwrap()
            .database(db.name());
        let client = async_nats::connect(&settings.nats_url).await.unwrap();
        let js = jetstream::new(client.clone());
        TestServices {
            settings,
            db,
            options,
            client,
            js,
        }
    }

    /// The fresh database's URL.
    pub fn database_url(&self) -> String {
        format!(
            "{}/{}",
            self.settings.database_url.rsplit_once('/').unwrap().0,
            self.db.name()
        )
    }
}

/// Creates the ledger stream of a new, unique network (prefix + random
/// suffix) and returns the network name.
pub async fn create_stream(js: &jetstream::Context, prefix: &str) -> String {
    let network = unique_name(prefix);
    js.create_stream(js_stream::Config {
        name: stream::stream_name(&network),
        subjects: vec![stream::block_subjects(&network)],
        storage: js_stream::StorageType::File,
        duplicate_window: Duration::from_secs(120),
        ..Default::default()
    })
    .await
    .unwrap();
    network
}

/// Publishes `payload` as `message` (normally `message.encode()`; other
/// bytes for corrupt-message tests) and waits for JetStream's ack.
pub async fn publish(
    js: &jetstream::Context,
    network: &str,
    message: &BlockMessage,
    payload: Vec<u8>,
) {
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(HEIGHT_HEADER, message.height.0.to_string().as_str());
    js.send_publish(
        stream::subject_for(network, message.kind),
        jetstream::message::PublishMessage::build()
            .message_id(stream::message_id(
                message.kind,
                &message.block_id(),
                message.outbox_sequence,
            ))
            .headers(headers)
            .payload(payload.into()),
    )
    .await
    .unwrap()
    .await
    .unwrap();
}

/// The state (first and last sequence, message count) of a network's
/// stream.
pub async fn stream_state(js: &jetstream::Context, network: &str) -> js_stream::State {
    js.get_stream(stream::stream_name(network))
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .state
        .clone()
}

/// The stream's last sequence.
pub async fn last_sequence(js: &jetstream::Context, network: &str) -> u64 {
    stream_state(js, network).await.last_sequence
}

/// Every row of every table of a model's schema except the runtime's own
/// (checkpoint, undo log), as text, in a fixed order.
pub async fn dump(options: &PgConnectOptions, schema_name: &str) -> BTreeMap<String, Vec<String>> {
    let mut connection =
        PgConnection::connect_with(&schema::options_for_schema(options, schema_name))
            .await
            .unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1 AND c.relkind = 'r' ORDER BY 1",
    )
    .bind(schema_name)
    .fetch_all(&mut connection)
    .await
    .unwrap();
    let mut dump = BTreeMap::new();
    for table in tables
        .into_iter()
        .filter(|table| !RUNTIME_TABLES.contains(&table.as_str()))
    {
        let rows: Vec<String> =
            sqlx::query_scalar(&format!("SELECT t::text FROM \"{table}\" t ORDER BY 1"))
                .fetch_all(&mut connection)
                .await
                .unwrap();
        dump.insert(table, rows);
    }
    connection.close().await.unwrap();
    dump
}
