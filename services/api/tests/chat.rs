//! The chat queries against the real stack: chat operations as real
//! transactions (`Payload::Chat`) mined by a chain of real identities
//! (`chat_support`), their blocks published to a JetStream stream of
//! their own, folded by the projector runtime with the chat model into a
//! fresh database, and queried through the API's schema.
//!
//! Covered: the news timeline (sticky first; an item scheduled a few
//! seconds ahead is absent until due and then present; one scheduled for
//! tomorrow stays absent; a withdrawn item never shows); a broadcast
//! channel's messages and a poll's delivery report are public; a private
//! channel's messages, members, keys and delivery reports need a token
//! (UNAUTHENTICATED without, BAD_TOKEN with a forged one); with login
//! tokens checked against the projected identity model, a member reads
//! the direct channel as ciphertext and seals only, a registered
//! non-member gets FORBIDDEN; channels with unread counts.

#![allow(clippy::unwrap_used)] // test harness: a failed setup step should fail the test loudly

#[path = "../../../ledger/chain/tests/chat_support/mod.rs"]
mod chat_support;
#[path = "../../../ledger/chain/tests/common/mod.rs"]
mod common;
#[path = "../../../projections/tests/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use api::login::{BearerToken, TokenClaims};
use api::submit::NatsSubmitter;
use api::{ApiSchema, ApiState, Limits, Network};
use chain::stream::{self, submit_subject};
use chat_support::{Chat, text};
use common::key;
use ledger::payload::chat::{
    ChannelKind, ChatAction, MemberRole, MessageBody, MessageContent, MessageId, NewsContent,
    NewsId, Receipt, ReceiptStatus, direct_body,
};
use ledger::{IdentityId, Timestamp};
use projections::chat::Chat as ChatModel;
use projections::runner::{ModelMetrics, Runner, RunnerConfig};
use projections::schema;
use rand_core::OsRng;
use serde_json::{Value, json};
use sqlx::postgres::PgPoolOptions;
use support::TestServices;
use tokio_util::sync::CancellationToken;

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Runs a query; returns `data` or the first error's code.
async fn run(
    schema: &ApiSchema,
    query: &str,
    variables: Value,
    token: Option<&str>,
) -> Result<Value, String> {
    let mut request = async_graphql::Request::new(query)
        .variables(async_graphql::Variables::from_json(variables));
    if let Some(token) = token {
        request = request.data(BearerToken(token.to_owned()));
    }
    let response = schema.execute(request).await;
    if let Some(error) = response.errors.first() {
        let code = error
            .extensions
            .as_ref()
            .and_then(|extensions| extensions.get("code"))
            .map(|code| code.to_string())
            .unwrap_or_else(|| format!("no code: {}", error.message));
        return Err(code.trim_matches('"').to_owned());
    }
    Ok(response.data.into_json().unwrap())
}

async fn titles(schema: &ApiSchema, channel: &str) -> Vec<String> {
    let data = run(
        schema,
        "query($c: String) { newsTimeline(channel: $c) { title sticky } }",
        json!({ "c": channel }),
        None,
    )
    .await
    .unwrap();
    data["newsTimeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["title"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn chat_queries_serve_public_channels_and_guard_private_ones() {
    let services = TestServices::connect().await;
    let network = support::create_stream(&services.js, "apichat").await;
    let TestServices {
        settings,
        db,
        options,
        client,
        js,
    } = services;
    let (mut chat, ids) = Chat::new(&[("alice", 10), ("bob", 11), ("eve", 12), ("city", 13)]);
    let (alice, bob, eve, city) = (ids[0], ids[1], ids[2], ids[3]);
    let config = chat.net.chain.config().clone();
    let shutdown = CancellationToken::new();
    let mut runner_config = RunnerConfig::new(network.clone(), 10);
    runner_config.fetch_wait = Duration::from_millis(50);
    runner_config.retry_delay = Duration::from_millis(100);
    let runner = Runner {
        model: Arc::new(ChatModel),
        schema_name: "chat".to_owned(),
        database: options.clone(),
        nats: client.clone(),
        config: runner_config.clone(),
        metrics: Arc::new(ModelMetrics::default()),
    };
    let projector = {
        let shutdown = shutdown.clone();
        tokio::spawn(async move { runner.run(shutdown).await })
    };
    let identity_runner = Runner {
        model: Arc::new(projections::identity::Identity),
        schema_name: "identity".to_owned(),
        database: options.clone(),
        nats: client.clone(),
        config: runner_config,
        metrics: Arc::new(ModelMetrics::default()),
    };
    let identities = {
        let shutdown = shutdown.clone();
        tokio::spawn(async move { identity_runner.run(shutdown).await })
    };
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect_with(options.clone())
        .await
        .unwrap();
    let login = Arc::new(api::login::LoginConfig::ephemeral());
    let state_pool = pool.clone();
    let state = ApiState {
        pool,
        network: Network::new(network.clone(), config.clone()),
        limits: Limits::default(),
        nats: Some(client.clone()),
        submitter: Arc::new(NatsSubmitter {
            client: client.clone(),
            subject: submit_subject(&network),
            timeout: Duration::from_secs(5),
        }),
        login: login.clone(),
    };
    let schema = api::build_schema(state);

    // A broadcast channel with a poll and news; a direct channel.
    let (broadcast, _) = chat.channel(ChannelKind::Broadcast, (city, &key(13)), &[]);
    let (direct, _) = chat.channel(
        ChannelKind::Direct,
        (alice, &key(10)),
        &[(bob, MemberRole::Writer, key(11).public_key())],
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
    let poll_id = MessageId::for_transaction(&poll_tx);
    let body = direct_body(
        &chat.chain_id(),
        &direct,
        &alice,
        &[(alice, key(10).public_key()), (bob, key(11).public_key())],
        &text("the vault code is 7341"),
        &mut OsRng,
    )
    .unwrap();
    chat.run(
        ChatAction::Post {
            author: alice,
            channel: direct,
            reply_to: None,
            buttons: 0,
            body,
        },
        &key(10),
    );
    let now = unix_now();
    let due_in = 5;
    let news = |title: &str, sticky_until: Option<u64>, scheduled_at: Option<u64>| {
        ChatAction::PublishNews {
            author: city,
            channel: broadcast,
            news: NewsContent {
                title: title.into(),
                body: "details".into(),
                buttons: vec![],
                sticky_until: sticky_until.map(Timestamp),
                scheduled_at: scheduled_at.map(Timestamp),
                target_groups: vec![],
            },
        }
    };
    chat.run(news("Now", None, None), &key(13));
    chat.run(news("Sticky", Some(now + 3_600), None), &key(13));
    chat.run(news("Soon", None, Some(now + due_in)), &key(13));
    chat.run(news("Tomorrow", None, Some(now + 86_400)), &key(13));
    let (withdrawn_tx, _) = chat.run(news("Withdrawn", None, None), &key(13));
    let mut messages = chat.mine_operations();
    chat.run(
        ChatAction::WithdrawNews {
            actor: city,
            channel: broadcast,
            item: NewsId::for_transaction(&withdrawn_tx),
        },
        &key(13),
    );
    chat.run(
        ChatAction::Receipts {
            member: alice,
            channel: broadcast,
            receipts: vec![
                Receipt {
                    message: poll_id,
                    status: ReceiptStatus::Read,
                },
                Receipt {
                    message: poll_id,
                    status: ReceiptStatus::Answered(1),
                },
            ],
        },
        &key(10),
    );
    chat.run(
        ChatAction::Receipts {
            member: bob,
            channel: broadcast,
            receipts: vec![Receipt {
                message: poll_id,
                status: ReceiptStatus::Received,
            }],
        },
        &key(11),
    );
    messages.extend(chat.mine_operations());
    for (sequence, mut message) in messages.into_iter().enumerate() {
        message.outbox_sequence = sequence as u64 + 1;
        support::publish(&js, &network, &message, message.encode()).await;
    }
    let tip = chat.net.chain.height().0;
    let mut connection =
        sqlx::Connection::connect_with(&schema::options_for_schema(&options, "chat"))
            .await
            .unwrap();
    let mut identity_connection =
        sqlx::Connection::connect_with(&schema::options_for_schema(&options, "identity"))
            .await
            .unwrap();
    let started = Instant::now();
    loop {
        let at = schema::read_checkpoint(&mut connection, "chat")
            .await
            .ok()
            .flatten();
        let identity_at = schema::read_checkpoint(&mut identity_connection, "identity")
            .await
            .ok()
            .flatten();
        if at.is_some_and(|c| c.height.0 >= tip) && identity_at.is_some_and(|c| c.height.0 >= tip) {
            break;
        }
        assert!(!projector.is_finished(), "the projector stopped");
        assert!(!identities.is_finished(), "the identity projector stopped");
        assert!(started.elapsed() < Duration::from_secs(60));
        tokio::time::sleep(Duration::from_millis(25)).await;
    }

    // The timeline: sticky first, the due item, not the scheduled or the
    // withdrawn ones.
    let broadcast_id = broadcast.0.to_string();
    let shown = titles(&schema, &broadcast_id).await;
    assert_eq!(shown, ["Sticky", "Now"]);
    // Once due, the scheduled item shows.
    tokio::time::sleep(Duration::from_secs(due_in + 1)).await;
    let shown = titles(&schema, &broadcast_id).await;
    assert_eq!(shown.first().map(String::as_str), Some("Sticky"));
    assert!(shown.contains(&"Soon".to_owned()));
    assert!(!shown.contains(&"Tomorrow".to_owned()));
    assert!(!shown.contains(&"Withdrawn".to_owned()));

    // Public: the broadcast channel's messages and the poll's report.
    let data = run(
        &schema,
        "query($c: String!) { chatMessages(channel: $c) { edges { node { text buttonCaptions bodyKind status } } } broadcastChannels { id kind } }",
        json!({ "c": broadcast_id }),
        None,
    )
    .await
    .unwrap();
    let node = &data["chatMessages"]["edges"][0]["node"];
    assert_eq!(node["text"], "Open the pool on Sundays?");
    assert_eq!(node["buttonCaptions"], json!(["yes", "no"]));
    assert_eq!(node["status"], "confirmed");
    assert_eq!(data["broadcastChannels"][0]["id"], broadcast_id);
    let data = run(
        &schema,
        "query($m: String!) { deliveryReport(message: $m) { received read answered answers entries { status button } } }",
        json!({ "m": poll_id.0.to_string() }),
        None,
    )
    .await
    .unwrap();
    let report = &data["deliveryReport"];
    assert_eq!(
        (&report["received"], &report["read"], &report["answered"]),
        (&json!(1), &json!(1), &json!(1))
    );
    assert_eq!(report["answers"], json!([0, 1]));

    // Private: nothing without a token, nothing with a forged one.
    let direct_id = direct.0.to_string();
    for query in [
        "query($c: String!) { chatMessages(channel: $c) { edges { node { ciphertext } } } }",
        "query($c: String!) { chatMembers(channel: $c) { identity } }",
        "query($c: String!) { chatGroupKeys(channel: $c) { sealed } }",
    ] {
        assert_eq!(
            run(&schema, query, json!({ "c": direct_id }), None).await,
            Err("UNAUTHENTICATED".to_owned())
        );
        assert_eq!(
            run(&schema, query, json!({ "c": direct_id }), Some("forged")).await,
            Err("BAD_TOKEN".to_owned())
        );
    }
    assert_eq!(
        run(&schema, "{ chatChannels { id unread } }", json!({}), None).await,
        Err("UNAUTHENTICATED".to_owned())
    );
    assert_eq!(
        run(
            &schema,
            "query($c: String!) { chatMessages(channel: $c) { edges { node { id } } } }",
            json!({ "c": "00".repeat(32) }),
            None
        )
        .await,
        Err("BAD_USER_INPUT".to_owned())
    );

    // With login tokens: members read the direct channel (ciphertext and
    // seals only), a registered non-member is FORBIDDEN.
    let token = |identity: IdentityId, seed: u8| {
        let now = unix_now();
        login.secret.token(&TokenClaims {
            chain_id: config.params.chain_id.0.0,
            identity_id: identity.0.0,
            public_key: key(seed).public_key(),
            issued_at: now,
            expires_at: now + 3_600,
        })
    };
    let messages = "query($c: String!) { chatMessages(channel: $c) { edges { node { text ciphertext nonce bodyKind seals { member publicKey sealed } } } } }";
    let data = run(
        &schema,
        messages,
        json!({ "c": direct_id }),
        Some(&token(bob, 11)),
    )
    .await
    .unwrap();
    let node = &data["chatMessages"]["edges"][0]["node"];
    assert_eq!(node["bodyKind"], "direct");
    assert_eq!(node["text"], Value::Null);
    assert!(
        node["ciphertext"]
            .as_str()
            .is_some_and(|hex| !hex.is_empty())
    );
    assert_eq!(node["seals"].as_array().unwrap().len(), 2);
    assert!(!data.to_string().contains("vault code"));
    assert!(!data.to_string().contains(&hex::encode("vault code")));
    assert_eq!(
        run(
            &schema,
            messages,
            json!({ "c": direct_id }),
            Some(&token(eve, 12))
        )
        .await,
        Err("FORBIDDEN".to_owned())
    );
    assert_eq!(
        run(
            &schema,
            "query($c: String!) { chatMembers(channel: $c) { identity } }",
            json!({ "c": direct_id }),
            Some(&token(eve, 12))
        )
        .await,
        Err("FORBIDDEN".to_owned())
    );
    // Channels with unread counts: Bob has not read Alice's message.
    let data = run(
        &schema,
        "{ chatChannels { id kind role unread } }",
        json!({}),
        Some(&token(bob, 11)),
    )
    .await
    .unwrap();
    assert_eq!(
        data["chatChannels"],
        json!([{ "id": direct_id, "kind": "direct", "role": "writer", "unread": 1 }])
    );
    let data = run(
        &schema,
        "{ chatChannels { id unread } }",
        json!({}),
        Some(&token(alice, 10)),
    )
    .await
    .unwrap();
    assert_eq!(
        data["chatChannels"],
        json!([{ "id": direct_id, "unread": 0 }])
    );

    // Login challenges are single-use: the signed answer logs in once; the
    // same answer again is CHALLENGE_USED (recorded in PostgreSQL, so
    // another replica or a restart refuses it too).
    let issued = run(
        &schema,
        "mutation($k: String!) { loginChallenge(publicKey: $k) { challenge } }",
        json!({ "k": hex::encode(key(10).public_key().0) }),
        None,
    )
    .await
    .unwrap();
    let text = issued["loginChallenge"]["challenge"].as_str().unwrap();
    let (challenge, _) = ledger::crypto::LoginChallenge::from_text(text).unwrap();
    let answer = json!({
        "c": text,
        "k": hex::encode(key(10).public_key().0),
        "s": hex::encode(challenge.sign(&config.params.chain_id, &key(10)).0),
    });
    let login_mutation = "mutation($c: String!, $k: String!, $s: String!) { login(challenge: $c, publicKey: $k, signature: $s) { token identity } }";
    let first = run(&schema, login_mutation, answer.clone(), None)
        .await
        .unwrap();
    let viewer = run(
        &schema,
        "{ viewer { identityId } }",
        json!({}),
        first["login"]["token"].as_str(),
    )
    .await
    .unwrap();
    assert_eq!(viewer["viewer"]["identityId"], hex::encode(alice.0.0));
    assert_eq!(
        run(&schema, login_mutation, answer, None).await,
        Err("CHALLENGE_USED".to_owned())
    );
    let recorded: i64 =
        sqlx::query_scalar("SELECT count(*) FROM api_login.used_challenge WHERE nonce = $1")
            .bind(challenge.nonce.as_slice())
            .fetch_one(&state_pool)
            .await
            .unwrap();
    assert_eq!(recorded, 1);

    shutdown.cancel();
    identities.await.unwrap().unwrap();
    projector.await.unwrap().unwrap();
    let _ = js.delete_stream(stream::stream_name(&network)).await;
    db.drop_database().await.unwrap();
    drop(settings);
}
