//! Proves the local services are wired the way the platform uses them:
//! sqlx migrations run against the local PostgreSQL, and JetStream delivers
//! published messages to a durable pull consumer that acknowledges them
//! explicitly, with duplicate message IDs dropped and nothing redelivered
//! after acknowledgement. Needs `scripts/services up`.

use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};
use devenv::{Settings, TestDatabase, unique_name};
use futures::StreamExt;

#[tokio::test]
async fn migrations_apply_to_local_postgres() {
    let settings = Settings::load().expect("local services settings");
    let db = TestDatabase::create(&settings)
        .await
        .expect("test database");

    let migrator = sqlx::migrate!("../../migrations/projector");
    migrator.run(db.pool()).await.expect("migrations apply");
    // Running them again is a no-op.
    migrator
        .run(db.pool())
        .await
        .expect("migrations are idempotent");

    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(applied, migrator.iter().count() as i64);

    sqlx::query("INSERT INTO checkpoint (height, block_id, stream_seq) VALUES ($1, $2, $3)")
        .bind(7_i64)
        .bind(vec![0xab_u8; 32])
        .bind(12_i64)
        .execute(db.pool())
        .await
        .unwrap();
    let height: i64 = sqlx::query_scalar("SELECT height FROM checkpoint")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(height, 7);

    // The schema's constraints hold: a block ID must be 32 bytes.
    let bad = sqlx::query("UPDATE checkpoint SET block_id = $1")
        .bind(vec![1_u8; 5])
        .execute(db.pool())
        .await;
    assert!(bad.is_err(), "a 5-byte block id must be rejected");

    db.drop_database().await.expect("drop test database");
}

#[tokio::test]
async fn jetstream_durable_consumer_round_trip_with_explicit_acks() {
    let settings = Settings::load().expect("local services settings");
    let client = async_nats::connect(&settings.nats_url)
        .await
        .expect("connect to local nats-server");
    let js = jetstream::new(client.clone());

    let name = unique_name("wiring");
    let subject_root = format!("test.{name}");
    js.create_stream(stream::Config {
        name: name.clone(),
        subjects: vec![format!("{subject_root}.>")],
        storage: stream::StorageType::File,
        duplicate_window: Duration::from_secs(120),
        ..Default::default()
    })
    .await
    .expect("create stream");

    // Publish ten messages with deterministic IDs, then one of them again:
    // JetStream must drop the duplicate.
    for i in 0..10u32 {
        let ack = js
            .send_publish(
                format!("{subject_root}.block"),
                jetstream::message::PublishMessage::build()
                    .message_id(format!("block-{i}"))
                    .payload(i.to_be_bytes().to_vec().into()),
            )
            .await
            .expect("publish")
            .await
            .expect("publish ack");
        assert!(!ack.duplicate);
        assert_eq!(ack.sequence, u64::from(i) + 1);
    }
    let again = js
        .send_publish(
            format!("{subject_root}.block"),
            jetstream::message::PublishMessage::build()
                .message_id("block-3")
                .payload(3u32.to_be_bytes().to_vec().into()),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert!(
        again.duplicate,
        "same message id within the window is a duplicate"
    );

    let stream = js.get_stream(&name).await.unwrap();
    let consumer: consumer::PullConsumer = stream
        .create_consumer(consumer::pull::Config {
            durable_name: Some("reader".into()),
            ack_policy: consumer::AckPolicy::Explicit,
            ack_wait: Duration::from_secs(30),
            ..Default::default()
        })
        .await
        .expect("create durable consumer");

    let mut seen = Vec::new();
    let mut messages = consumer
        .fetch()
        .max_messages(20)
        .expires(Duration::from_secs(2))
        .messages()
        .await
        .unwrap();
    while let Some(message) = messages.next().await {
        let message = message.unwrap();
        let payload: [u8; 4] = message.payload.as_ref().try_into().unwrap();
        seen.push(u32::from_be_bytes(payload));
        message.double_ack().await.expect("ack confirmed by server");
    }
    assert_eq!(seen, (0..10).collect::<Vec<_>>());

    // A second connection binding to the same durable consumer gets nothing:
    // every message was acknowledged.
    let other = jetstream::new(async_nats::connect(&settings.nats_url).await.unwrap());
    let mut durable: consumer::PullConsumer = other
        .get_stream(&name)
        .await
        .unwrap()
        .get_consumer("reader")
        .await
        .unwrap();
    let info = durable.info().await.unwrap();
    assert_eq!(info.num_ack_pending, 0);
    assert_eq!(info.delivered.stream_sequence, 10);
    assert_eq!(info.ack_floor.stream_sequence, 10);
    let mut rest = durable
        .fetch()
        .max_messages(5)
        .expires(Duration::from_millis(500))
        .messages()
        .await
        .unwrap();
    assert!(
        rest.next().await.is_none(),
        "nothing is redelivered after acks"
    );

    js.delete_stream(&name).await.expect("delete stream");
}
