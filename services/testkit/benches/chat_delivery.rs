//! Chat delivery benchmark (issue 13) on a devnet (testkit: node,
//! projector with every read model, API).
//!
//! 1. Registers two identities, creates a broadcast channel (public, so
//!    the subscriber needs no login; the delivery path, pool events and
//!    chat model notifications, is the same for private channels) and
//!    waits until the chat model has it.
//! 2. Opens `chatMessageUpdates(channel)` over graphql-transport-ws.
//! 3. Submits `CHAT_BENCH_MESSAGES` posts (default 200) one after the
//!    other through `submitTransaction` (each spending the previous one's
//!    change, as the pool allows), recording when each submission started
//!    and when the API answered (the node's pool accepted it).
//! 4. Waits until every message was delivered `pending` and `confirmed`.
//!
//! Reported: the baseline, `submitTransaction` → pool acknowledgement
//! (latency p50/p99, acknowledgements per second), and, from the start of
//! each submission, the pending and the confirmed delivery latency (p50,
//! p99) with the messages per second delivered, and the ratios against the
//! baseline from the same run.
//!
//! ```text
//! scripts/services up   # the local PostgreSQL and NATS
//! set -a; . .state/services/env; set +a
//! cargo bench -p testkit --bench chat_delivery                     # release
//! CHAT_BENCH_MESSAGES=50 cargo bench -p testkit --profile dev --bench chat_delivery
//! ```

#![allow(clippy::unwrap_used)] // benchmark harness: a failed step should fail loudly

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use futures::{SinkExt, StreamExt};
use ledger::payload::chat::{
    self, ChannelId, ChannelKind, ChatAction, MessageBody, MessageContent, MessageId,
};
use ledger::payload::identity::{self, IdentityAction, IdentityName, IdentityOperation};
use ledger::{IdentityId, SecretKey, Transaction};
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};
use testkit::{Devnet, GenesisPayer};
use tokio_tungstenite::tungstenite::Message;

/// Identity and chat transactions paid by the genesis wallet.
struct Payer(GenesisPayer);

impl Payer {
    fn identity(&mut self, name: &str, key: &SecretKey) -> anyhow::Result<Transaction> {
        let chain_id = self.0.chain_id();
        self.0.pay(|transaction| {
            identity::sign_into(
                transaction,
                IdentityOperation::unsigned(
                    IdentityAction::Register {
                        name: IdentityName(name.into()),
                        public_key: key.public_key(),
                    },
                    key.public_key(),
                ),
                &chain_id,
                key,
                None,
            )
        })
    }

    fn chat(&mut self, action: ChatAction, key: &SecretKey) -> anyhow::Result<Transaction> {
        let chain_id = self.0.chain_id();
        self.0
            .pay(|transaction| chat::sign_into(transaction, action, &chain_id, key))
    }
}

async fn submit(devnet: &Devnet, transaction: &Transaction) -> anyhow::Result<()> {
    devnet.submit(transaction).await.map(|_| ())
}

/// Waits until `sql` (one bytea parameter) finds a row.
async fn wait_row(devnet: &Devnet, sql: &str, id: &[u8]) -> anyhow::Result<()> {
    let mut connection = PgConnection::connect_with(&devnet.database_options).await?;
    let started = Instant::now();
    loop {
        let found: Option<i32> = sqlx::query_scalar(sql)
            .bind(id)
            .fetch_optional(&mut connection)
            .await
            .unwrap_or(None);
        if found.is_some() {
            return Ok(());
        }
        ensure!(
            started.elapsed() < Duration::from_secs(60),
            "no row for {sql}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

#[derive(Default)]
struct Arrivals {
    pending: HashMap<String, Instant>,
    confirmed: HashMap<String, Instant>,
}

async fn run() -> anyhow::Result<()> {
    let messages: usize = std::env::var("CHAT_BENCH_MESSAGES")
        .ok()
        .map(|text| text.parse())
        .transpose()
        .context("CHAT_BENCH_MESSAGES")?
        .unwrap_or(200);
    let devnet = Devnet::start().await?;
    let mut payer = Payer(GenesisPayer::new(&devnet)?);
    let (city_key, reader_key) = (
        SecretKey::from_seed([10; 32]),
        SecretKey::from_seed([11; 32]),
    );
    let city_tx = payer.identity("city", &city_key)?;
    let reader_tx = payer.identity("reader", &reader_key)?;
    submit(&devnet, &city_tx).await?;
    submit(&devnet, &reader_tx).await?;
    let city = IdentityId::for_registration(&city_tx.id());
    let reader = IdentityId::for_registration(&reader_tx.id());
    wait_row(
        &devnet,
        "SELECT 1 FROM identity.identity WHERE id = $1",
        city.0.as_bytes(),
    )
    .await?;
    let create = payer.chat(
        ChatAction::CreateChannel {
            creator: city,
            kind: ChannelKind::Broadcast,
            name: "bench".into(),
            members: vec![(reader, ledger::payload::chat::MemberRole::Reader)],
            seals: Vec::new(),
        },
        &city_key,
    )?;
    submit(&devnet, &create).await?;
    let channel = ChannelId::for_transaction(&create.id());
    wait_row(
        &devnet,
        "SELECT 1 FROM chat.channel WHERE id = $1",
        channel.0.as_bytes(),
    )
    .await?;

    // The subscription.
    let url = format!("ws://{}/graphql/ws", devnet.api_address);
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(url)?;
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
    socket
        .send(Message::Text(
            json!({ "type": "connection_init" }).to_string().into(),
        ))
        .await?;
    socket
        .send(Message::Text(
            json!({ "id": "1", "type": "subscribe", "payload": {
                "query": "subscription($c: String!) { chatMessageUpdates(channel: $c) { id status } }",
                "variables": { "c": channel.to_string() } } })
            .to_string()
            .into(),
        ))
        .await?;
    let arrivals = Arc::new(Mutex::new(Arrivals::default()));
    let recorder = {
        let arrivals = arrivals.clone();
        tokio::spawn(async move {
            while let Some(Ok(frame)) = socket.next().await {
                let Message::Text(frame) = frame else {
                    continue;
                };
                let Ok(frame) = serde_json::from_str::<Value>(frame.as_str()) else {
                    continue;
                };
                if frame["type"] != "next" {
                    continue;
                }
                let update = &frame["payload"]["data"]["chatMessageUpdates"];
                let (Some(id), Some(status)) = (update["id"].as_str(), update["status"].as_str())
                else {
                    continue;
                };
                let now = Instant::now();
                let mut arrivals = arrivals.lock().unwrap();
                let slot = if status == "pending" {
                    &mut arrivals.pending
                } else {
                    &mut arrivals.confirmed
                };
                slot.entry(id.to_owned()).or_insert(now);
            }
        })
    };
    // Let the API subscribe to the pool and model subjects.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let posts = (0..messages)
        .map(|index| {
            payer.chat(
                ChatAction::Post {
                    author: city,
                    channel,
                    reply_to: None,
                    buttons: 0,
                    body: MessageBody::Clear(MessageContent {
                        text: format!("bench message {index}"),
                        ..MessageContent::default()
                    }),
                },
                &city_key,
            )
        })
        .collect::<anyhow::Result<Vec<Transaction>>>()?;
    let mut submitted = Vec::with_capacity(messages);
    let started = Instant::now();
    for post in &posts {
        let at = Instant::now();
        submit(&devnet, post).await?;
        let acknowledged = Instant::now();
        let id = MessageId::for_transaction(&post.id()).to_string();
        submitted.push((id, at, acknowledged));
    }
    let acknowledged_all = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let done = {
            let arrivals = arrivals.lock().unwrap();
            submitted.iter().all(|(id, _, _)| {
                arrivals.pending.contains_key(id) && arrivals.confirmed.contains_key(id)
            })
        };
        if done {
            break;
        }
        if Instant::now() > deadline {
            let arrivals = arrivals.lock().unwrap();
            bail!(
                "after 120 s: {} of {messages} pending, {} confirmed",
                arrivals.pending.len(),
                arrivals.confirmed.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    recorder.abort();
    let arrivals = std::mem::take(&mut *arrivals.lock().unwrap());
    let mut acks = Vec::new();
    let mut pending = Vec::new();
    let mut confirmed = Vec::new();
    let mut last_pending = started;
    let mut last_confirmed = started;
    for (id, at, acknowledged) in &submitted {
        let pending_at = arrivals.pending[id];
        let confirmed_at = arrivals.confirmed[id];
        acks.push(*acknowledged - *at);
        pending.push(pending_at.saturating_duration_since(*at));
        confirmed.push(confirmed_at.saturating_duration_since(*at));
        last_pending = last_pending.max(pending_at);
        last_confirmed = last_confirmed.max(confirmed_at);
    }
    acks.sort();
    pending.sort();
    confirmed.sort();
    let rate = |until: Instant| messages as f64 / (until - started).as_secs_f64();
    let (ack_rate, pending_rate, confirmed_rate) = (
        rate(acknowledged_all),
        rate(last_pending),
        rate(last_confirmed),
    );
    println!(
        "chat delivery, {messages} messages, one subscriber, devnet with 1 s blocks ({} build)",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    println!("                           p50 ms    p99 ms    msg/s");
    for (name, sorted, per_second) in [
        ("baseline submit -> ack", &acks, ack_rate),
        ("submit -> pending", &pending, pending_rate),
        ("submit -> confirmed", &confirmed, confirmed_rate),
    ] {
        println!(
            "{name:<26} {:>8.1}  {:>8.1}  {:>7.1}",
            millis(percentile(sorted, 0.5)),
            millis(percentile(sorted, 0.99)),
            per_second
        );
    }
    println!(
        "ratios: pending p50 / ack p50 = {:.2}, pending msg/s / ack msg/s = {:.2}, confirmed msg/s / ack msg/s = {:.2}",
        percentile(&pending, 0.5).as_secs_f64() / percentile(&acks, 0.5).as_secs_f64(),
        pending_rate / ack_rate,
        confirmed_rate / ack_rate
    );
    devnet.shutdown().await?;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run())
}
