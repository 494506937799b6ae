//! The chat read model against real NATS JetStream and real PostgreSQL.
//!
//! Blocks are real: built and accepted by a chain holding real
//! identities, each chat operation a real transaction (`Payload::Chat`)
//! whose events the chain emits at its position (`chat_support`), the
//! block messages published as the node publishes them. The live projector
//! folds the stream. Then: a direct message's clear text appears nowhere
//! in the model (only ciphertext and sealed keys) yet the recipient opens
//! it from the rows; a removed member is gone with history kept and no
//! seal of the next epoch; receipts; news updated, withdrawn, scheduled;
//! a reverted block's rows are undone and re-applied; and a rebuild
//! equals the incremental rows.

#![allow(clippy::unwrap_used)] // test harness: a failed setup step should fail the test loudly

#[path = "../../ledger/chain/tests/chat_support/mod.rs"]
mod chat_support;
#[path = "../../ledger/chain/tests/common/mod.rs"]
mod common;
#[path = "support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream;
use chain::events::invert;
use chain::stream::{self, BlockMessage, BlockMessageKind};
use chat_support::{Chat, text};
use common::key;
use devenv::{Settings, TestDatabase};
use ledger::crypto::sealing::{Ciphertext, SealedKey};
use ledger::payload::chat::{
    ChannelKind, ChatAction, MemberRole, MemberSeal, MessageBody, MessageContent, NewsContent,
    NewsId, Receipt, ReceiptStatus, direct_body, group_body, group_key_context, read_body, seal_to,
};
use ledger::{Hash32, IdentityId, PublicKey, Timestamp};
use projections::ProjectionError;
use projections::chat::Chat as ChatModel;
use projections::runner::{ModelMetrics, Runner, RunnerConfig, rebuild};
use projections::schema;
use rand_core::OsRng;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection, Row};
use support::TestServices;
use tokio_util::sync::CancellationToken;

struct Harness {
    settings: Settings,
    db: TestDatabase,
    options: PgConnectOptions,
    client: async_nats::Client,
    js: jetstream::Context,
    network: String,
    outbox: u64,
}

impl Harness {
    async fn new() -> Harness {
        let TestServices {
            settings,
            db,
            options,
            client,
            js,
        } = TestServices::connect().await;
        let network = support::create_stream(&js, "chat").await;
        Harness {
            settings,
            db,
            options,
            client,
            js,
            network,
            outbox: 0,
        }
    }

    async fn publish(&mut self, mut message: BlockMessage) {
        self.outbox += 1;
        message.outbox_sequence = self.outbox;
        support::publish(&self.js, &self.network, &message, message.encode()).await;
    }

    /// Mines the operations run since the last block and publishes the
    /// messages; returns the new block's.
    async fn mine_chat(&mut self, chat: &mut Chat) -> BlockMessage {
        let messages = chat.mine_operations();
        for message in &messages {
            self.publish(message.clone()).await;
        }
        messages.last().cloned().unwrap()
    }

    async fn connection(&self) -> PgConnection {
        PgConnection::connect_with(&schema::options_for_schema(&self.options, "chat"))
            .await
            .unwrap()
    }

    async fn wait(&self, live: &mut tokio::task::JoinHandle<Result<(), ProjectionError>>) {
        let seq = support::last_sequence(&self.js, &self.network).await;
        let mut connection = self.connection().await;
        let started = Instant::now();
        loop {
            let at = schema::read_checkpoint(&mut connection, "chat")
                .await
                .ok()
                .flatten();
            if at.is_some_and(|c| c.stream_seq >= seq) {
                return;
            }
            if live.is_finished() {
                panic!("the projector stopped: {:?}", live.await);
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "chat model did not reach stream sequence {seq} (at {at:?})"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn dump(&self) -> BTreeMap<String, Vec<String>> {
        support::dump(&self.options, "chat").await
    }

    async fn finish(self) {
        let _ = self
            .js
            .delete_stream(stream::stream_name(&self.network))
            .await;
        self.db.drop_database().await.unwrap();
        drop(self.settings);
    }
}

fn bytes(id: &IdentityId) -> Vec<u8> {
    id.0.as_bytes().to_vec()
}

fn sealed_key(stored: &[u8]) -> SealedKey {
    SealedKey {
        ephemeral: stored[..32].try_into().unwrap(),
        wrapped: stored[32..].try_into().unwrap(),
    }
}

#[tokio::test]
async fn chat_model_folds_channels_messages_receipts_and_news_and_equals_its_rebuild() {
    let mut h = Harness::new().await;
    let (mut chat, ids) = Chat::new(&[("alice", 10), ("bob", 11), ("mallory", 12), ("city", 13)]);
    let (alice, bob, mallory, city) = (ids[0], ids[1], ids[2], ids[3]);
    let chain_id = chat.chain_id();
    let model = Arc::new(ChatModel);
    let mut runner_config = RunnerConfig::new(h.network.clone(), 10);
    runner_config.batch_size = 4;
    runner_config.fetch_wait = Duration::from_millis(200);
    runner_config.retry_delay = Duration::from_millis(200);
    let shutdown = CancellationToken::new();
    let mut live = {
        let runner = Runner {
            model: model.clone(),
            schema_name: "chat".to_owned(),
            database: h.options.clone(),
            nats: h.client.clone(),
            config: runner_config.clone(),
            metrics: Arc::new(ModelMetrics::default()),
        };
        let shutdown = shutdown.clone();
        tokio::spawn(async move { runner.run(shutdown).await })
    };

    // Block A: a direct channel, a group of three, a broadcast channel.
    let (direct, _) = chat.channel(
        ChannelKind::Direct,
        (alice, &key(10)),
        &[(bob, MemberRole::Writer, key(11).public_key())],
    );
    let (group, epoch0) = chat.group(
        (alice, &key(10)),
        &[
            (bob, MemberRole::Writer, key(11).public_key()),
            (mallory, MemberRole::Writer, key(12).public_key()),
        ],
    );
    let (broadcast, _) = chat.channel(ChannelKind::Broadcast, (city, &key(13)), &[]);
    h.mine_chat(&mut chat).await;

    // Block B: a direct message, a group message, a poll, news.
    let secret = "the vault code is 7341";
    let body = direct_body(
        &chain_id,
        &direct,
        &alice,
        &[(alice, key(10).public_key()), (bob, key(11).public_key())],
        &text(secret),
        &mut OsRng,
    )
    .unwrap();
    let (dm_tx, _) = chat.run(
        ChatAction::Post {
            author: alice,
            channel: direct,
            reply_to: None,
            buttons: 0,
            body,
        },
        &key(10),
    );
    let group_secret = "group plans before the split";
    let body = group_body(
        &epoch0,
        &chain_id,
        &group,
        &bob,
        0,
        &text(group_secret),
        &mut OsRng,
    )
    .unwrap();
    chat.run(
        ChatAction::Post {
            author: bob,
            channel: group,
            reply_to: None,
            buttons: 0,
            body,
        },
        &key(11),
    );
    let poll = MessageContent {
        text: "Open the pool on Sundays?".into(),
        buttons: vec!["yes".into(), "no".into()],
        attachments: vec![],
    };
    let (poll_tx, _) = chat.run(
        ChatAction::Post {
            author: city,
            channel: broadcast,
            reply_to: None,
            buttons: 2,
            body: MessageBody::Clear(poll),
        },
        &key(13),
    );
    let poll_id = ledger::payload::chat::MessageId::for_transaction(&poll_tx);
    let news = |title: &str, scheduled_at: Option<u64>| NewsContent {
        title: title.into(),
        body: "details".into(),
        buttons: vec![],
        sticky_until: None,
        scheduled_at: scheduled_at.map(Timestamp),
        target_groups: vec![],
    };
    let (kept_tx, _) = chat.run(
        ChatAction::PublishNews {
            author: city,
            channel: broadcast,
            news: news("Road works", None),
        },
        &key(13),
    );
    let (withdrawn_tx, _) = chat.run(
        ChatAction::PublishNews {
            author: city,
            channel: broadcast,
            news: news("Cancelled fair", Some(4_000_000_000)),
        },
        &key(13),
    );
    h.mine_chat(&mut chat).await;

    // Block C: receipts, Mallory removed (new epoch sealed to Alice and
    // Bob), the news updated and one withdrawn.
    chat.run(
        ChatAction::Receipts {
            member: bob,
            channel: broadcast,
            receipts: vec![
                Receipt {
                    message: poll_id,
                    status: ReceiptStatus::Read,
                },
                Receipt {
                    message: poll_id,
                    status: ReceiptStatus::Answered(0),
                },
            ],
        },
        &key(11),
    );
    let epoch1 = ledger::crypto::sealing::ContentKey::random(&mut OsRng);
    let seals = seal_to(
        &epoch1,
        &[(alice, key(10).public_key()), (bob, key(11).public_key())],
        &group_key_context(&chain_id, &group, 1),
        &mut OsRng,
    )
    .unwrap();
    chat.run(
        ChatAction::RemoveMember {
            actor: alice,
            channel: group,
            member: mallory,
            seals,
        },
        &key(10),
    );
    let kept = NewsId::for_transaction(&kept_tx);
    chat.run(
        ChatAction::UpdateNews {
            actor: city,
            channel: broadcast,
            item: kept,
            news: news("Road works until Friday", None),
        },
        &key(13),
    );
    let withdrawn = NewsId::for_transaction(&withdrawn_tx);
    chat.run(
        ChatAction::WithdrawNews {
            actor: city,
            channel: broadcast,
            item: withdrawn,
        },
        &key(13),
    );
    let last = h.mine_chat(&mut chat).await;
    h.wait(&mut live).await;

    let mut db = h.connection().await;
    // Only ciphertext: neither clear text appears in any row, in text or
    // in hex.
    let dump = h.dump().await;
    let everything = format!("{dump:?}");
    for clear in [secret, group_secret] {
        assert!(!everything.contains(clear));
        assert!(!everything.contains(&hex::encode(clear.as_bytes())));
    }
    assert!(everything.contains("Open the pool on Sundays?"));
    // Bob opens the direct message from the rows.
    let dm_id = ledger::payload::chat::MessageId::for_transaction(&dm_tx);
    let row =
        sqlx::query("SELECT author, nonce, ciphertext, body_kind, text FROM message WHERE id = $1")
            .bind(dm_id.0.as_bytes().as_slice())
            .fetch_one(&mut db)
            .await
            .unwrap();
    assert_eq!(row.get::<String, _>("body_kind"), "direct");
    assert_eq!(row.get::<Option<String>, _>("text"), None);
    let seals: Vec<MemberSeal> =
        sqlx::query("SELECT public_key, member, sealed FROM message_seal WHERE message = $1")
            .bind(dm_id.0.as_bytes().as_slice())
            .fetch_all(&mut db)
            .await
            .unwrap()
            .into_iter()
            .map(|seal| MemberSeal {
                member: IdentityId(Hash32(seal.get::<Vec<u8>, _>("member").try_into().unwrap())),
                public_key: PublicKey(seal.get::<Vec<u8>, _>("public_key").try_into().unwrap()),
                sealed: sealed_key(&seal.get::<Vec<u8>, _>("sealed")),
            })
            .collect();
    assert_eq!(seals.len(), 2);
    let body = MessageBody::Direct {
        ciphertext: Ciphertext {
            nonce: row.get::<Vec<u8>, _>("nonce").try_into().unwrap(),
            bytes: row.get("ciphertext"),
        },
        seals,
    };
    assert_eq!(
        read_body(&body, &chain_id, &direct, &alice, &key(11), None)
            .unwrap()
            .text,
        secret
    );
    assert!(read_body(&body, &chain_id, &direct, &alice, &key(12), None).is_err());

    // Mallory is no member any more; her history stays; epoch 1 has no
    // seal for her.
    let members: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT identity FROM member WHERE channel = $1 ORDER BY identity")
            .bind(group.0.as_bytes().as_slice())
            .fetch_all(&mut db)
            .await
            .unwrap();
    let mut expected = vec![bytes(&alice), bytes(&bob)];
    expected.sort();
    assert_eq!(members, expected);
    let changes: Vec<String> = sqlx::query_scalar(
        "SELECT change FROM member_history WHERE channel = $1 AND identity = $2 ORDER BY height",
    )
    .bind(group.0.as_bytes().as_slice())
    .bind(bytes(&mallory))
    .fetch_all(&mut db)
    .await
    .unwrap();
    assert_eq!(changes, ["created", "removed"]);
    let epoch: i32 = sqlx::query_scalar("SELECT epoch FROM channel WHERE id = $1")
        .bind(group.0.as_bytes().as_slice())
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(epoch, 1);
    let sealed_to: Vec<Vec<u8>> = sqlx::query_scalar(
        "SELECT member FROM key_seal WHERE channel = $1 AND epoch = 1 ORDER BY member",
    )
    .bind(group.0.as_bytes().as_slice())
    .fetch_all(&mut db)
    .await
    .unwrap();
    assert_eq!(sealed_to, expected);

    // Receipts: Bob read and answered "yes".
    let receipts: Vec<(String, Option<i16>)> = sqlx::query(
        "SELECT status, button FROM receipt WHERE message = $1 AND member = $2 ORDER BY status",
    )
    .bind(poll_id.0.as_bytes().as_slice())
    .bind(bytes(&bob))
    .fetch_all(&mut db)
    .await
    .unwrap()
    .into_iter()
    .map(|row| (row.get("status"), row.get("button")))
    .collect();
    assert_eq!(
        receipts,
        [("answered".to_owned(), Some(0)), ("read".to_owned(), None)]
    );

    // News: the kept item updated (version 2), the withdrawn one gone.
    let news_rows: Vec<(String, i32)> = sqlx::query("SELECT title, version FROM news")
        .fetch_all(&mut db)
        .await
        .unwrap()
        .into_iter()
        .map(|row| (row.get("title"), row.get("version")))
        .collect();
    assert_eq!(news_rows, [("Road works until Friday".to_owned(), 2)]);

    // A reorg takes block C away: its rows are undone (Mallory is back,
    // the withdrawn item too); applying it again restores the rows.
    let incremental = h.dump().await;
    h.publish(BlockMessage {
        kind: BlockMessageKind::Reverted,
        events: invert(&last.events),
        ..last.clone()
    })
    .await;
    h.wait(&mut live).await;
    let titles: Vec<String> = sqlx::query_scalar("SELECT title FROM news ORDER BY title")
        .fetch_all(&mut db)
        .await
        .unwrap();
    assert_eq!(titles, ["Cancelled fair", "Road works"]);
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM member WHERE channel = $1")
        .bind(group.0.as_bytes().as_slice())
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(count, 3);
    h.publish(last.clone()).await;
    h.wait(&mut live).await;
    assert_eq!(h.dump().await, incremental);

    // A rebuild writes exactly the incremental rows.
    let rebuilt = rebuild(
        model.clone(),
        h.options.clone(),
        h.client.clone(),
        runner_config,
        CancellationToken::new(),
        Arc::new(ModelMetrics::default()),
    )
    .await
    .unwrap();
    assert_eq!(rebuilt.map(|c| c.height), Some(last.height));
    assert_eq!(h.dump().await, incremental);
    for table in [
        "channel",
        "member",
        "member_history",
        "key_seal",
        "message",
        "receipt",
    ] {
        assert!(
            incremental.get(table).is_some_and(|rows| !rows.is_empty()),
            "table {table} has rows"
        );
    }

    shutdown.cancel();
    live.await.unwrap().unwrap();
    h.finish().await;
}
