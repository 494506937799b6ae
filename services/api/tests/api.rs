//! The API against the real stack: a chain built in memory with the
//! `chain` crate (the fixtures of `ledger/chain/tests/common`), published
//! to a JetStream stream of its own as a node does, folded by the
//! projector runtime with the explorer model into a fresh database, and
//! served on 127.0.0.1:0. Submissions go to a real node (`node::runtime`,
//! in-process, its store preloaded with the same chain) on the same NATS,
//! so acceptance and every rejection reason come from the node's code.
//! Every query and mutation is checked against that known content; a
//! subscription receives the next block after it is folded; limits,
//! garbage and injection attempts get GraphQL errors, never a 500.

#![allow(clippy::unwrap_used)] // test harness: a failed setup step should fail the test loudly

#[path = "../../../ledger/chain/tests/common/mod.rs"]
mod common;
#[path = "../../../projections/tests/support/mod.rs"]
mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use api::submit::NatsSubmitter;
use api::{ApiState, Limits, Network, ServerOptions};
use async_nats::jetstream;
use chain::stream::{self, BlockMessage, BlockMessageKind, submit_subject};
use chain::{Chain, ChainConfig, ChainUpdate, RedbStore, SystemClock};
use common::{FEE, Net, coins, key, sign_coin_inputs, test_toml};
use devenv::TestDatabase;
use futures::{SinkExt, StreamExt};
use ledger::condition::{TimeLockCondition, TimeLockedCondition};
use ledger::payload::NotaryRecord;
use ledger::{Address, BlockHeight, Condition, Fulfillment, Hash32, Payload, Transaction, codec};
use projections::explorer::Explorer;
use projections::runner::{ModelMetrics, Runner, RunnerConfig};
use projections::schema;
use serde_json::{Value, json};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use support::TestServices;
use tokio_util::sync::CancellationToken;

struct Stack {
    db: TestDatabase,
    options: PgConnectOptions,
    client: async_nats::Client,
    js: jetstream::Context,
    network: String,
    outbox: u64,
    shutdown: CancellationToken,
    address: SocketAddr,
    http: reqwest::Client,
}

impl Stack {
    async fn publish(&mut self, mut message: BlockMessage) {
        self.outbox += 1;
        message.outbox_sequence = self.outbox;
        support::publish(&self.js, &self.network, &message, message.encode()).await;
    }

    /// Publishes the applied blocks of an update, as the node does.
    async fn publish_update(&mut self, net: &Net, update: &ChainUpdate) {
        assert!(update.reverted.is_empty());
        for id in &update.applied {
            let block = net.chain.block(id).unwrap().unwrap();
            let height = net.chain.node(id).unwrap().height;
            let events = update
                .events
                .iter()
                .filter(|event| event.block == *id)
                .cloned()
                .collect();
            self.publish(BlockMessage {
                kind: BlockMessageKind::Applied,
                height,
                outbox_sequence: 0,
                block,
                events,
            })
            .await;
        }
    }

    async fn mine(&mut self, net: &mut Net, transactions: Vec<Transaction>) -> ledger::Block {
        let block = net.next_block(transactions);
        let update = net.accept(block.clone()).unwrap();
        self.publish_update(net, &update).await;
        block
    }

    async fn wait_for_height(
        &self,
        height: u64,
        projector: &mut tokio::task::JoinHandle<Result<(), projections::ProjectionError>>,
    ) {
        let mut connection =
            sqlx::Connection::connect_with(&schema::options_for_schema(&self.options, "explorer"))
                .await
                .unwrap();
        let started = Instant::now();
        loop {
            let at = schema::read_checkpoint(&mut connection, "explorer")
                .await
                .ok()
                .flatten();
            if at.is_some_and(|c| c.height.0 >= height) {
                return;
            }
            if projector.is_finished() {
                panic!("the projector stopped: {:?}", projector.await);
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "explorer did not reach height {height}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Posts a query; returns the status and the JSON body.
    async fn post(&self, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(self.url("/graphql"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// Runs a query that must succeed; returns `data`.
    async fn query(&self, query: &str, variables: Value) -> Value {
        let (status, body) = self
            .post(json!({ "query": query, "variables": variables }))
            .await;
        assert_eq!(status, 200, "{body}");
        assert!(body.get("errors").is_none(), "{query}: {body}");
        body["data"].clone()
    }

    /// Runs a query that must fail; returns the first error's code.
    async fn error_code(&self, query: &str, variables: Value) -> String {
        let (status, body) = self
            .post(json!({ "query": query, "variables": variables }))
            .await;
        assert!(status < 500, "{status}: {body}");
        let code = &body["errors"][0]["extensions"]["code"];
        assert!(code.is_string(), "no error code for {query}: {body}");
        code.as_str().unwrap().to_owned()
    }
}

fn address_of(seed: u8) -> String {
    Address::for_public_key(&key(seed).public_key())
        .to_text("bstest")
        .unwrap()
}

/// The test network (`common::test_toml`: stakers 1–3, coins of keys 1
/// and 4, mint authority 5, every stake wins) under `name`, so that
/// every subject the node, projector and API use is this test's own.
fn network_config(name: &str, dir: &Path) -> (Arc<ChainConfig>, std::path::PathBuf) {
    let text = test_toml(
        &[("initial_target", &format!("\"{}\"", "f".repeat(64)))],
        false,
    )
    .replace("name = \"chain-tests\"", &format!("name = \"{name}\""));
    let file = dir.join("network.toml");
    std::fs::write(&file, &text).unwrap();
    (Arc::new(ChainConfig::from_toml(&text).unwrap()), file)
}

/// A real node, in-process (`node::runtime::run`), on `nats_url`: its
/// block store in `dir` is first filled with `net`'s main chain through
/// the real store, so it validates submissions against the same state the
/// explorer shows. It does not publish blocks (the test does) and creates
/// none; it answers `submitTransaction` and publishes pool events.
async fn start_node(
    net: &Net,
    network_file: &Path,
    dir: &Path,
    nats_url: &str,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<anyhow::Result<()>> {
    let config = net.chain.config().clone();
    {
        let store = RedbStore::open(dir.join("chain.redb"), &config).unwrap();
        let domains = chain::domains::standard(&config);
        let mut chain = Chain::new(config, Arc::new(SystemClock), store, domains).unwrap();
        for height in 1..=net.chain.height().0 {
            let id = net.chain.main_chain_id(BlockHeight(height)).unwrap();
            chain
                .accept_block(net.chain.block(&id).unwrap().unwrap())
                .unwrap();
        }
        assert_eq!(chain.tip().id, net.chain.tip().id);
    }
    let settings = node::settings::Options {
        data_dir: Some(dir.to_path_buf()),
        network: Some(network_file.display().to_string()),
        listen: Some("127.0.0.1:0".parse().unwrap()),
        health_listen: Some("127.0.0.1:0".parse().unwrap()),
        nats_url: Some(nats_url.to_owned()),
        publish: Some(false),
        ..Default::default()
    }
    .resolve()
    .unwrap();
    let node = tokio::spawn(node::runtime::run(settings, shutdown));
    // Ready once the node itself answers on the submission subject.
    let client = async_nats::connect(nats_url).await.unwrap();
    let subject = submit_subject(&net.chain.config().params.network_name);
    let started = Instant::now();
    loop {
        if let Ok(reply) = client.request(subject.clone(), vec![0xff].into()).await {
            let reply = stream::SubmitReply::decode(&reply.payload).unwrap();
            assert!(
                matches!(
                    reply,
                    stream::SubmitReply::Rejected {
                        reason: stream::RejectReason::Malformed,
                        ..
                    }
                ),
                "{reply:?}"
            );
            return node;
        }
        assert!(!node.is_finished(), "the node stopped: {:?}", node.await);
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the node did not answer submissions within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Submits `transaction`; returns the error's code and the node's reason.
async fn rejection_of(s: &Stack, transaction: &Transaction) -> (Value, Value) {
    let (status, body) = s
        .post(json!({
            "query": "mutation($e: String!) { submitTransaction(encoded: $e) { id } }",
            "variables": { "e": hex::encode(codec::encode(transaction)) }
        }))
        .await;
    assert_eq!(status, 200, "{body}");
    let extensions = &body["errors"][0]["extensions"];
    (extensions["code"].clone(), extensions["reason"].clone())
}

#[tokio::test]
async fn api_serves_a_folded_devnet() {
    let started = Instant::now();
    let services = TestServices::connect().await;
    let network = support::create_stream(&services.js, "api").await;
    let node_dir = tempfile::tempdir().unwrap();
    let (config, network_file) = network_config(&network, node_dir.path());
    let TestServices {
        settings,
        db,
        options,
        client,
        js,
    } = services;
    let shutdown = CancellationToken::new();
    let mut runner_config = RunnerConfig::new(network.clone(), config.consensus.finality_depth);
    runner_config.fetch_wait = Duration::from_millis(50);
    runner_config.retry_delay = Duration::from_millis(100);
    let runner = Runner {
        model: Arc::new(Explorer::new(config.clone())),
        schema_name: "explorer".to_owned(),
        database: options.clone(),
        nats: client.clone(),
        config: runner_config,
        metrics: Arc::new(ModelMetrics::default()),
    };
    let mut projector = {
        let shutdown = shutdown.clone();
        tokio::spawn(async move { runner.run(shutdown).await })
    };

    let pool = PgPoolOptions::new()
        .max_connections(8)
        .connect_with(options.clone())
        .await
        .unwrap();
    let limits = Limits {
        max_body_bytes: 64 * 1024,
        ..Limits::default()
    };
    let state = ApiState {
        pool: pool.clone(),
        network: Network::new(network.clone(), config.clone()),
        limits: limits.clone(),
        nats: Some(client.clone()),
        submitter: Arc::new(NatsSubmitter {
            client: client.clone(),
            subject: submit_subject(&network),
            timeout: Duration::from_secs(5),
        }),
        login: Arc::new(api::login::LoginConfig::ephemeral()),
    };
    let (address, server) = api::spawn(
        "127.0.0.1:0".parse().unwrap(),
        state,
        ServerOptions {
            cors_origins: vec!["https://explorer.example".into()],
            ..ServerOptions::default()
        },
        shutdown.clone(),
    )
    .await
    .unwrap();
    let mut s = Stack {
        db,
        options,
        client: client.clone(),
        js,
        network: network.clone(),
        outbox: 0,
        shutdown: shutdown.clone(),
        address,
        http: reqwest::Client::new(),
    };

    // Known content: genesis; block 1 pays key 4 1,000 coins with data and
    // a notary record; block 2 locks 50 coins for key 9 until height
    // 1,000; blocks 3–5 are empty (payouts mature after 3 blocks).
    let mut net = Net::new(config.clone());
    s.publish(BlockMessage {
        kind: BlockMessageKind::Applied,
        height: BlockHeight(0),
        outbox_sequence: 0,
        block: config.genesis.clone(),
        events: Vec::new(),
    })
    .await;
    let document = Hash32([0x42; 32]);
    let mut transfer = net.transfer(
        &key(1),
        Condition::for_public_key(&key(4).public_key()),
        coins(1_000),
        FEE,
    );
    transfer.arbitrary_data = b"invoice 17".to_vec();
    transfer.payload = Some(Payload::Notary(NotaryRecord {
        document_hash: document,
    }));
    sign_coin_inputs(&mut transfer, &net.params(), &key(1));
    let block1 = s.mine(&mut net, vec![transfer.clone()]).await;
    let locked = net.transfer(
        &key(4),
        Condition::TimeLock(TimeLockCondition {
            lock: 1_000,
            inner: TimeLockedCondition::PubKeyHash(
                Address::for_public_key(&key(9).public_key()).hash,
            ),
        }),
        coins(50),
        FEE,
    );
    s.mine(&mut net, vec![locked.clone()]).await;
    for _ in 0..3 {
        s.mine(&mut net, Vec::new()).await;
    }
    s.wait_for_height(5, &mut projector).await;
    let setup = started.elapsed();

    // chain
    let data = s
        .query(
            "{ chain { network height tip { id height } difficulty coinSupply blockstakeSupply
                 estimatedActiveStake constants { addressPrefix coinPrecision genesisId maturityDelay blockCreatorFee }
                 sync { model height blockId } } }",
            json!({}),
        )
        .await;
    let chain = &data["chain"];
    assert_eq!(chain["network"], network.as_str());
    assert_eq!(chain["height"], 5);
    assert_eq!(chain["tip"]["id"], net.chain.tip().id.to_string());
    assert_eq!(chain["constants"]["addressPrefix"], "bstest");
    assert_eq!(chain["constants"]["coinPrecision"], 9);
    assert_eq!(
        chain["constants"]["genesisId"],
        config.genesis_id.to_string()
    );
    assert_eq!(chain["constants"]["blockCreatorFee"], "1");
    assert_eq!(chain["blockstakeSupply"], "1000");
    assert!(
        chain["difficulty"]
            .as_str()
            .unwrap()
            .parse::<u128>()
            .is_ok()
    );
    assert_eq!(chain["sync"][0]["model"], "explorer");
    assert_eq!(chain["sync"][0]["height"], 5);

    // block by height and by ID, with transactions, outputs and payouts
    let block_query = "query($h: Int, $id: String) { block(height: $h, id: $id) {
        height id parentId staker transactionCount fees confirmations parent { height }
        transactions { totalCount edges { node { id kind fee arbitraryDataText index
            inputs { totalCount edges { node { parentId value address fulfillmentType } } }
            outputs { totalCount edges { node { id value address currency spent } } } } } }
        payouts { totalCount edges { node { value address maturesAt origin } } } } }";
    let by_height = s.query(block_query, json!({ "h": 1 })).await;
    let block = &by_height["block"];
    assert_eq!(block["id"], block1.id().to_string());
    assert_eq!(block["height"], 1);
    assert_eq!(block["confirmations"], 5);
    assert_eq!(block["parent"]["height"], 0);
    assert_eq!(block["fees"], "0.1");
    let transactions = &block["transactions"];
    // The staking respend first, then the transfer.
    assert_eq!(transactions["totalCount"], 2);
    let tx = &transactions["edges"][1]["node"];
    assert_eq!(tx["id"], transfer.id().to_string());
    assert_eq!(tx["kind"], "NOTARY");
    assert_eq!(tx["arbitraryDataText"], "invoice 17");
    assert_eq!(tx["inputs"]["edges"][0]["node"]["address"], address_of(1));
    assert_eq!(
        tx["inputs"]["edges"][0]["node"]["fulfillmentType"],
        "single_signature"
    );
    assert_eq!(tx["outputs"]["totalCount"], 2);
    assert_eq!(tx["outputs"]["edges"][0]["node"]["value"], "1000");
    assert_eq!(tx["outputs"]["edges"][0]["node"]["address"], address_of(4));
    assert_eq!(tx["outputs"]["edges"][0]["node"]["currency"], "COIN");
    assert_eq!(block["payouts"]["edges"][0]["node"]["origin"], "payout");
    let by_id = s
        .query(block_query, json!({ "id": block1.id().to_string() }))
        .await;
    assert_eq!(by_id, by_height);
    assert_eq!(
        s.query("{ block(height: 99) { id } }", json!({})).await["block"],
        Value::Null
    );

    // blocks: pages forward and backward with stable cursors
    let page = s
        .query(
            "query($after: String) { blocks(first: 2, after: $after) { totalCount
                 pageInfo { hasNextPage hasPreviousPage endCursor } edges { cursor node { height } } } }",
            json!({}),
        )
        .await;
    assert_eq!(page["blocks"]["totalCount"], 6);
    assert_eq!(page["blocks"]["edges"][0]["node"]["height"], 5);
    assert_eq!(page["blocks"]["edges"][1]["node"]["height"], 4);
    assert_eq!(page["blocks"]["pageInfo"]["hasNextPage"], true);
    let next = s
        .query(
            "query($after: String) { blocks(first: 2, after: $after) { pageInfo { hasNextPage hasPreviousPage } edges { node { height } } } }",
            json!({ "after": page["blocks"]["pageInfo"]["endCursor"] }),
        )
        .await;
    assert_eq!(next["blocks"]["edges"][0]["node"]["height"], 3);
    assert_eq!(next["blocks"]["pageInfo"]["hasPreviousPage"], true);
    let oldest = s
        .query(
            "{ blocks(last: 2) { pageInfo { hasPreviousPage hasNextPage } edges { node { height } } } }",
            json!({}),
        )
        .await;
    assert_eq!(oldest["blocks"]["edges"][0]["node"]["height"], 1);
    assert_eq!(oldest["blocks"]["edges"][1]["node"]["height"], 0);
    // The last two of the list (newest first): more come before them.
    assert_eq!(oldest["blocks"]["pageInfo"]["hasPreviousPage"], true);
    assert_eq!(oldest["blocks"]["pageInfo"]["hasNextPage"], false);
    let ranged = s
        .query(
            "{ blocks(fromHeight: 2, toHeight: 3) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(ranged["blocks"]["totalCount"], 2);

    // transaction by ID and filtered lists
    let data = s
        .query(
            "query($id: String!) { transaction(id: $id) { id blockHeight kind confirmations block { height } } }",
            json!({ "id": transfer.id().to_string() }),
        )
        .await;
    assert_eq!(data["transaction"]["blockHeight"], 1);
    assert_eq!(data["transaction"]["confirmations"], 5);
    let filtered = s
        .query(
            "query($a: String) { byAddress: transactions(filter: { address: $a }) { totalCount edges { node { id } } }
               notary: transactions(filter: { kind: NOTARY }) { totalCount }
               range: transactions(filter: { fromHeight: 2, toHeight: 2 }) { totalCount } }",
            json!({ "a": address_of(4) }),
        )
        .await;
    // key 4: genesis allocation, the transfer in, the time-locked payment out.
    assert_eq!(filtered["byAddress"]["totalCount"], 3);
    assert_eq!(
        filtered["byAddress"]["edges"][0]["node"]["id"],
        locked.id().to_string()
    );
    assert_eq!(filtered["notary"]["totalCount"], 1);
    assert_eq!(filtered["range"]["totalCount"], 2);

    // address: balance split, unspent outputs, history
    let address_query = "query($a: String!) { address(address: $a) { address kind blockstakeBalance
        balance { spendable maturing timeLocked total }
        unspentOutputs(currency: COIN) { totalCount edges { node { id value } } }
        history(first: 10) { totalCount edges { node { id } } } } }";
    let key4 = s.query(address_query, json!({ "a": address_of(4) })).await;
    // 1,000,000 + 1,000 − 50 − fee 0.1
    assert_eq!(key4["address"]["balance"]["spendable"], "1000949.9");
    assert_eq!(key4["address"]["balance"]["timeLocked"], "0");
    assert_eq!(key4["address"]["history"]["totalCount"], 3);
    let key9 = s.query(address_query, json!({ "a": address_of(9) })).await;
    assert_eq!(key9["address"]["balance"]["timeLocked"], "50");
    assert_eq!(key9["address"]["balance"]["spendable"], "0");
    let stakers: Vec<Value> = futures::future::join_all(
        (1..=3).map(|seed| s.query(address_query, json!({ "a": address_of(seed) }))),
    )
    .await;
    let maturing: f64 = stakers
        .iter()
        .map(|data| {
            data["address"]["balance"]["maturing"]
                .as_str()
                .unwrap()
                .parse::<f64>()
                .unwrap()
        })
        .sum();
    // Payouts of blocks 3, 4 and 5 (1 coin each; fees none) have not matured.
    assert_eq!(maturing, 3.0);
    let output_id = key4["address"]["unspentOutputs"]["edges"][0]["node"]["id"].clone();

    // output by ID
    let data = s
        .query(
            "query($id: String!) { output(id: $id) { id value spent transaction { id } condition { type } } }",
            json!({ "id": output_id }),
        )
        .await;
    assert_eq!(data["output"]["spent"], false);
    assert_eq!(data["output"]["transaction"]["id"], locked.id().to_string());

    // search resolves heights, IDs and addresses
    let search = "query($t: String!) { search(term: $t) { __typename
        ... on Block { height } ... on Transaction { id } ... on Output { id } ... on AddressInfo { address } } }";
    for (term, typename) in [
        ("1".to_owned(), "Block"),
        (block1.id().to_string(), "Block"),
        (transfer.id().to_string(), "Transaction"),
        (output_id.as_str().unwrap().to_owned(), "Output"),
        (address_of(4), "AddressInfo"),
    ] {
        let found = s.query(search, json!({ "t": term })).await;
        assert_eq!(found["search"]["__typename"], typename, "{term}");
    }
    assert_eq!(
        s.query(search, json!({ "t": "no such thing" })).await["search"],
        Value::Null
    );

    // statistics over heights and time
    let stats = s
        .query(
            "{ heights: statistics(range: { fromHeight: 0 }, granularity: 2) { fromHeight toHeight blocks transactions coinSupply }
               times: statistics(range: { fromTime: 0 }, granularity: 1000000000) { blocks } }",
            json!({}),
        )
        .await;
    assert_eq!(stats["heights"].as_array().unwrap().len(), 3);
    assert_eq!(stats["heights"][0]["blocks"], 2);
    assert_eq!(stats["heights"][2]["toHeight"], 5);
    assert_eq!(stats["times"][0]["blocks"], 6);

    // notary, mint condition, authorization
    let data = s
        .query(
            "query($h: String!, $a: String!) { notaryRecord(documentHash: $h) { transactionId blockHeight }
               mintCondition { condition sinceHeight }
               authorization(address: $a) { ruleEnabled authorized } }",
            json!({ "h": hex::encode([0x42; 32]), "a": address_of(4) }),
        )
        .await;
    assert_eq!(
        data["notaryRecord"]["transactionId"],
        transfer.id().to_string()
    );
    assert_eq!(data["notaryRecord"]["blockHeight"], 1);
    assert_eq!(data["mintCondition"]["condition"]["type"], "pubkey");
    assert_eq!(data["mintCondition"]["condition"]["address"], address_of(5));
    assert_eq!(data["authorization"]["ruleEnabled"], false);
    assert_eq!(data["authorization"]["authorized"], false);

    // decodeTransaction and submitTransaction (hex and base64)
    let next_transfer = net.transfer(
        &key(4),
        Condition::for_public_key(&key(7).public_key()),
        coins(5),
        FEE,
    );
    let encoded = hex::encode(codec::encode(&next_transfer));
    let data = s
        .query(
            "mutation($e: String!) { decodeTransaction(encoded: $e) { id kind fee minimumFee
                 coinInputs { parentId signed fulfillmentType } coinOutputs { value address condition } } }",
            json!({ "e": encoded }),
        )
        .await;
    let decoded = &data["decodeTransaction"];
    assert_eq!(decoded["id"], next_transfer.id().to_string());
    assert_eq!(decoded["kind"], "transfer");
    assert_eq!(decoded["coinInputs"][0]["signed"], true);
    assert_eq!(decoded["coinOutputs"][0]["value"], "5");
    assert_eq!(decoded["coinOutputs"][0]["address"], address_of(7));
    assert_eq!(decoded["coinOutputs"][0]["condition"]["type"], "pubkey");
    // From here a real node answers submissions (its store holds blocks
    // 0–5, the chain the explorer shows).
    let node_shutdown = CancellationToken::new();
    let node = start_node(
        &net,
        &network_file,
        node_dir.path(),
        &settings.nats_url,
        node_shutdown.clone(),
    )
    .await;

    // Subscriptions: a new block arrives once it is folded (and queryable);
    // the node's pool event for an accepted submission is pushed as pending.
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(format!(
            "ws://{address}/graphql/ws"
        ))
        .unwrap();
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    use tokio_tungstenite::tungstenite::Message;
    socket
        .send(Message::Text(
            json!({ "type": "connection_init" }).to_string().into(),
        ))
        .await
        .unwrap();
    let ack = socket.next().await.unwrap().unwrap();
    assert!(ack.to_text().unwrap().contains("connection_ack"), "{ack:?}");
    for (id, query) in [
        (
            "blocks",
            "subscription { newBlocks { height id transactionCount } }".to_owned(),
        ),
        (
            "activity",
            format!(
                "subscription {{ addressActivity(address: \"{}\") {{ id blockHeight }} }}",
                address_of(7)
            ),
        ),
    ] {
        socket
            .send(Message::Text(
                json!({ "id": id, "type": "subscribe", "payload": { "query": query } })
                    .to_string()
                    .into(),
            ))
            .await
            .unwrap();
    }
    socket
        .send(Message::Text(
            json!({ "id": "pending", "type": "subscribe",
                    "payload": { "query": "subscription { pendingTransactions { id fee size } }" } })
            .to_string()
            .into(),
        ))
        .await
        .unwrap();
    // Let the subscriptions reach NATS before the block is folded.
    tokio::time::sleep(Duration::from_millis(200)).await;
    submit_to_the_node(&s, &net, &next_transfer).await;
    let mut seen_pending = None;
    let mined_at = Instant::now();
    let block6 = s.mine(&mut net, vec![next_transfer.clone()]).await;
    let mut seen_block = None;
    let mut seen_activity = None;
    while seen_block.is_none() || seen_activity.is_none() || seen_pending.is_none() {
        let message = tokio::time::timeout(Duration::from_secs(20), socket.next())
            .await
            .expect("a subscription message within 20 s")
            .unwrap()
            .unwrap();
        let Ok(text) = message.to_text() else {
            continue;
        };
        let value: Value = serde_json::from_str(text).unwrap();
        match (value["type"].as_str(), value["id"].as_str()) {
            (Some("next"), Some("blocks")) => {
                seen_block = Some(value["payload"]["data"]["newBlocks"].clone())
            }
            (Some("next"), Some("activity")) => {
                seen_activity = Some(value["payload"]["data"]["addressActivity"].clone())
            }
            (Some("next"), Some("pending")) => {
                seen_pending = Some(value["payload"]["data"]["pendingTransactions"].clone())
            }
            (Some("ping"), _) => {}
            other => panic!("unexpected subscription message {other:?}: {value}"),
        }
    }
    let pushed_after = mined_at.elapsed();
    let pushed = seen_block.unwrap();
    assert_eq!(pushed["height"], 6);
    assert_eq!(pushed["id"], block6.id().to_string());
    assert_eq!(seen_activity.unwrap()["id"], next_transfer.id().to_string());
    let pending = seen_pending.unwrap();
    assert_eq!(pending["id"], next_transfer.id().to_string());
    assert_eq!(pending["fee"], "0.1");
    // What was pushed is queryable.
    assert_eq!(
        s.query("{ block(height: 6) { id } }", json!({})).await["block"]["id"],
        block6.id().to_string()
    );
    socket.close(None).await.unwrap();

    check_limits_and_bad_input(&s, &limits).await;
    check_explorer_ui_fields(&mut s, &mut net, &mut projector, &transfer, &limits).await;

    // health, metrics, index page, GraphiQL, CORS
    let health = s.http.get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let metrics = s
        .http
        .get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("api_requests_total{network="), "{metrics}");
    let index = s
        .http
        .get(s.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(index.contains("/graphiql"));
    let graphiql = s.http.get(s.url("/graphiql")).send().await.unwrap();
    assert_eq!(graphiql.status(), 200);
    let preflight = s
        .http
        .request(reqwest::Method::OPTIONS, s.url("/graphql"))
        .header("Origin", "https://explorer.example")
        .header("Access-Control-Request-Method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(
        preflight
            .headers()
            .get("access-control-allow-origin")
            .unwrap(),
        "https://explorer.example"
    );

    // Clean shutdown of the node, the server and the projector.
    node_shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), node)
        .await
        .expect("node stops")
        .unwrap()
        .unwrap();
    s.shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("server stops")
        .unwrap()
        .unwrap();
    projector.await.unwrap().unwrap();
    eprintln!(
        "setup (chain, stream, fold of 6 blocks): {setup:?}; block pushed {pushed_after:?} after mining; total {:?}",
        started.elapsed()
    );
    pool.close().await;
    let _ = s.js.delete_stream(stream::stream_name(&s.network)).await;
    drop(s.client);
    s.db.drop_database().await.unwrap();
}

/// `submitTransaction` against the real node: `transfer` (key 4 pays key
/// 7) is accepted with its ID; then the node's refusals arrive as
/// TRANSACTION_REJECTED with the node's reason: the same transaction
/// again, a double spend of its input, a forged signature, a fee below
/// the minimum, an input that does not exist. Bytes that are not a
/// transaction never reach the node.
async fn submit_to_the_node(s: &Stack, net: &Net, transfer: &Transaction) {
    use base64::Engine as _;
    let base64_text = base64::engine::general_purpose::STANDARD.encode(codec::encode(transfer));
    let submitted = s
        .query(
            "mutation($e: String!) { submitTransaction(encoded: $e) { id } }",
            json!({ "e": base64_text }),
        )
        .await;
    assert_eq!(
        submitted["submitTransaction"]["id"],
        transfer.id().to_string()
    );
    let rejected = |reason: &str| (json!("TRANSACTION_REJECTED"), json!(reason));
    assert_eq!(rejection_of(s, transfer).await, rejected("ALREADY_POOLED"));

    let double_spend = net.transfer(
        &key(4),
        Condition::for_public_key(&key(8).public_key()),
        coins(6),
        FEE,
    );
    assert_eq!(
        double_spend.coin_inputs[0].parent_id,
        transfer.coin_inputs[0].parent_id
    );
    assert_eq!(rejection_of(s, &double_spend).await, rejected("CONFLICT"));

    let mut forged = net.transfer(
        &key(1),
        Condition::for_public_key(&key(8).public_key()),
        coins(3),
        FEE,
    );
    match &mut forged.coin_inputs[0].fulfillment {
        Fulfillment::SingleSignature(fulfillment) => fulfillment.signature.0[0] ^= 1,
        other => panic!("expected a single signature, got {other:?}"),
    }
    assert_eq!(rejection_of(s, &forged).await, rejected("BAD_SIGNATURE"));

    let cheap = net.transfer(
        &key(1),
        Condition::for_public_key(&key(8).public_key()),
        coins(3),
        ledger::Currency(1),
    );
    assert_eq!(rejection_of(s, &cheap).await, rejected("INSUFFICIENT_FEE"));

    let mut unknown_input = net.transfer(
        &key(1),
        Condition::for_public_key(&key(8).public_key()),
        coins(3),
        FEE,
    );
    unknown_input.coin_inputs[0].parent_id = ledger::CoinOutputId(Hash32([0x5a; 32]));
    sign_coin_inputs(&mut unknown_input, &net.params(), &key(1));
    assert_eq!(
        rejection_of(s, &unknown_input).await,
        rejected("MISSING_INPUT")
    );

    assert_eq!(
        s.error_code(
            "mutation { submitTransaction(encoded: \"00ff00ff\") { id } }",
            json!({})
        )
        .await,
        "MALFORMED_TRANSACTION"
    );
}

/// The fields the explorer web UI needs beyond the basic queries: a
/// transaction's payload, a block's stake output, blockstake holders,
/// multisig members and memberships, and an address's balance history.
async fn check_explorer_ui_fields(
    s: &mut Stack,
    net: &mut Net,
    projector: &mut tokio::task::JoinHandle<Result<(), projections::ProjectionError>>,
    notarised: &Transaction,
    limits: &Limits,
) {
    // Payload of the notary transfer in block 1; none for the respend.
    let data = s
        .query(
            "query($id: String!) { transaction(id: $id) { payload } }",
            json!({ "id": notarised.id().to_string() }),
        )
        .await;
    assert_eq!(
        data["transaction"]["payload"],
        json!({ "kind": "notary", "documentHash": "42".repeat(32) })
    );
    let block = s
        .query(
            "{ block(height: 1) { staker transactions { nodes { payload } }
                 stakeOutput { currency address blockHeight } } genesis: block(height: 0) { stakeOutput { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        block["block"]["transactions"]["nodes"][0]["payload"],
        Value::Null
    );
    assert_eq!(block["block"]["stakeOutput"]["currency"], "BLOCKSTAKE");
    assert_eq!(
        block["block"]["stakeOutput"]["address"],
        block["block"]["staker"]
    );
    assert_eq!(block["genesis"]["stakeOutput"], Value::Null);
    // An ID of only digits is an ID, not height 0.
    assert_eq!(
        s.query(
            &format!(
                "{{ search(term: \"{}\") {{ __typename }} }}",
                "0".repeat(64)
            ),
            json!({})
        )
        .await["search"],
        Value::Null
    );

    // Holders, most first: seeds 1, 2, 3 with 500, 300, 200.
    let holders = s
        .query(
            "{ blockstakeHolders(first: 2) { address blockstakes outputs } }",
            json!({}),
        )
        .await;
    assert_eq!(
        holders["blockstakeHolders"],
        json!([
            { "address": address_of(1), "blockstakes": "500", "outputs": 1 },
            { "address": address_of(2), "blockstakes": "300", "outputs": 1 },
        ])
    );
    assert_eq!(
        s.error_code("{ blockstakeHolders(first: 0) { address } }", json!({}))
            .await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        s.error_code(
            &format!(
                "{{ blockstakeHolders(first: {}) {{ address }} }}",
                limits.max_page_size + 1
            ),
            json!({})
        )
        .await,
        "PAGE_TOO_LARGE"
    );

    // A 2-of-3 multisig output, and a payment to one member so that the
    // member's address exists.
    let mut members: Vec<_> = [11u8, 12, 13]
        .iter()
        .map(|seed| key(*seed).public_key())
        .collect();
    members.sort_by_key(|key| key.0);
    let multisig = Condition::Multisig(ledger::MultisigCondition {
        required: 2,
        keys: members,
    });
    let multisig_address = multisig
        .address()
        .to_text(&net.params().address_prefix)
        .unwrap();
    // Outputs: 17 to the multisig, the change, 3 to member 11.
    let mut transfer = net.transfer(&key(1), multisig, coins(20), FEE);
    transfer.coin_outputs[0].value = coins(17);
    transfer.coin_outputs.push(ledger::CoinOutput {
        value: coins(3),
        condition: Condition::for_public_key(&key(11).public_key()),
    });
    sign_coin_inputs(&mut transfer, &net.params(), &key(1));
    let mined = s.mine(net, vec![transfer.clone()]).await;
    let height = net.chain.node(&mined.id()).unwrap().height.0;
    s.wait_for_height(height, projector).await;

    let data = s
        .query(
            "query($id: String!) { transaction(id: $id) { outputs { nodes { address value
                 condition { type multisigRequired multisigKeyCount multisigMembers } } } } }",
            json!({ "id": transfer.id().to_string() }),
        )
        .await;
    let outputs = &data["transaction"]["outputs"]["nodes"];
    assert_eq!(outputs[0]["address"], multisig_address);
    assert_eq!(outputs[0]["value"], "17");
    let condition = &outputs[0]["condition"];
    assert_eq!(condition["multisigRequired"], 2);
    let mut listed: Vec<String> =
        serde_json::from_value(condition["multisigMembers"].clone()).unwrap();
    let mut expected: Vec<String> = [11u8, 12, 13]
        .iter()
        .map(|seed| address_of(*seed))
        .collect();
    listed.sort();
    expected.sort();
    assert_eq!(listed, expected);
    // Other conditions list no members.
    assert_eq!(outputs[1]["condition"]["multisigMembers"], json!([]));

    let data = s
        .query(
            "query($m: String!, $k: String!) {
                multisig: address(address: $m) { kind multisig { required keyCount members } multisigMemberships { multisigAddress } }
                member: address(address: $k) { multisig { required } multisigMemberships { multisigAddress required keyCount } } }",
            json!({ "m": multisig_address, "k": address_of(11) }),
        )
        .await;
    assert_eq!(data["multisig"]["kind"], "multisig");
    assert_eq!(data["multisig"]["multisig"]["required"], 2);
    assert_eq!(data["multisig"]["multisig"]["keyCount"], 3);
    assert_eq!(data["multisig"]["multisigMemberships"], json!([]));
    assert_eq!(data["member"]["multisig"], Value::Null);
    assert_eq!(
        data["member"]["multisigMemberships"],
        json!([{ "multisigAddress": multisig_address, "required": 2, "keyCount": 3 }])
    );

    // Balance history: ends at the balance, the changes add up to it, and
    // the heights never go down; `last` bounds it.
    for seed in [1u8, 4, 11] {
        let data = s
            .query(
                "query($a: String!) { address(address: $a) { balance { total }
                    balanceHistory(last: 1000) { height timestamp transactionId change balance } } }",
                json!({ "a": address_of(seed) }),
            )
            .await;
        let points = data["address"]["balanceHistory"].as_array().unwrap();
        assert!(!points.is_empty(), "seed {seed}: no balance history");
        let units = |value: &Value| -> i128 {
            let text = value.as_str().unwrap();
            let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
            let negative = whole.starts_with('-');
            let whole: i128 = whole.trim_start_matches('-').parse().unwrap();
            let fraction: i128 = format!("{fraction:0<9}").parse().unwrap();
            let magnitude = whole * 1_000_000_000 + fraction;
            if negative { -magnitude } else { magnitude }
        };
        let sum: i128 = points.iter().map(|point| units(&point["change"])).sum();
        let last = points.last().unwrap();
        assert_eq!(units(&last["balance"]), sum, "seed {seed}: {points:?}");
        assert_eq!(
            units(&last["balance"]),
            units(&data["address"]["balance"]["total"]),
            "seed {seed}"
        );
        assert!(
            points
                .windows(2)
                .all(|pair| pair[0]["height"].as_i64() <= pair[1]["height"].as_i64())
        );
    }
    let data = s
        .query(
            "query($a: String!) { address(address: $a) { balanceHistory(last: 1) { height transactionId change } } }",
            json!({ "a": address_of(11) }),
        )
        .await;
    assert_eq!(
        data["address"]["balanceHistory"],
        json!([{ "height": height, "transactionId": transfer.id().to_string(), "change": "3" }])
    );
    assert_eq!(
        s.error_code(
            "query($a: String!) { address(address: $a) { balanceHistory(last: 0) { height } } }",
            json!({ "a": address_of(11) })
        )
        .await,
        "BAD_USER_INPUT"
    );
}

/// Limits, garbage and injection attempts: GraphQL errors with codes,
/// never a 500; the tables are intact afterwards.
async fn check_limits_and_bad_input(s: &Stack, limits: &Limits) {
    // Too deep: parent of parent of … (depth limit 12).
    let deep = format!(
        "{{ block(height: 6) {{ {} height {} }} }}",
        "parent { ".repeat(14),
        "}".repeat(14)
    );
    assert_eq!(s.error_code(&deep, json!({})).await, "QUERY_TOO_DEEP");
    // Too complex: 100 blocks × 100 transactions × 100 outputs.
    let complex = "{ blocks(first: 100) { edges { node { transactions(first: 100) { edges { node {
        outputs(first: 100) { edges { node { id value address } } } } } } } } } }";
    assert_eq!(s.error_code(complex, json!({})).await, "QUERY_TOO_COMPLEX");
    // Page too large.
    assert_eq!(
        s.error_code("{ blocks(first: 1000) { totalCount } }", json!({}))
            .await,
        "PAGE_TOO_LARGE"
    );
    assert_eq!(
        s.error_code("{ blocks(first: 1, last: 1) { totalCount } }", json!({}))
            .await,
        "BAD_USER_INPUT"
    );
    // Body too large: a 100 KiB query string.
    let huge = json!({ "query": format!("{{ chain {{ height }} }} #{}", "x".repeat(100 * 1024)) });
    let response = s
        .http
        .post(s.url("/graphql"))
        .json(&huge)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "REQUEST_TOO_LARGE");
    assert!(limits.max_body_bytes < 100 * 1024);
    // Garbage bodies and random variables.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for round in 0..40 {
        let length = 1 + (round * 37) % 300;
        let bytes: Vec<u8> = (0..length)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed & 0xff) as u8
            })
            .collect();
        let response = s
            .http
            .post(s.url("/graphql"))
            .header("content-type", "application/json")
            .body(bytes)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().as_u16() < 500,
            "round {round}: {}",
            response.status()
        );
        let body: Value = response.json().await.unwrap();
        assert!(
            body["errors"][0]["extensions"]["code"].is_string(),
            "{body}"
        );
    }
    let queries = [
        "query($id: String!) { transaction(id: $id) { id } }",
        "query($h: Int) { block(height: $h) { id } }",
        "query($a: String!) { address(address: $a) { address } }",
        "query($f: TransactionFilter) { transactions(filter: $f) { totalCount } }",
        "query($r: StatisticsRange, $g: Int!) { statistics(range: $r, granularity: $g) { blocks } }",
    ];
    let variables = [
        json!({}),
        json!({ "id": 5, "h": "x", "a": [1, 2], "f": { "kind": "DROP" }, "r": 7, "g": -1 }),
        json!({ "id": "zz", "h": -9_007_199_254_740_991i64, "a": "bstest1qqqq", "f": { "fromHeight": "1" }, "g": 0 }),
        json!({ "id": "a".repeat(64), "h": 1.5, "a": "", "f": { "address": "nope" }, "r": { "fromHeight": 5, "toHeight": 1 }, "g": 1 }),
        json!({ "id": null, "h": null, "a": null, "f": null, "r": { "fromHeight": 0, "fromTime": 0 }, "g": 9_999_999_999i64 }),
    ];
    for query in queries {
        for variables in &variables {
            let (status, body) = s
                .post(json!({ "query": query, "variables": variables }))
                .await;
            assert!(status < 500, "{query} {variables}: {status} {body}");
            if let Some(errors) = body["errors"].as_array() {
                for error in errors {
                    assert!(
                        error["extensions"]["code"].is_string(),
                        "{query} {variables}: {body}"
                    );
                }
            }
        }
    }
    // Injection attempts reach PostgreSQL only as parameters.
    assert_eq!(
        s.error_code(
            "query($a: String) { transactions(filter: { address: $a }) { totalCount } }",
            json!({ "a": "bstest1' OR '1'='1" })
        )
        .await,
        "BAD_USER_INPUT"
    );
    let search = s
        .query(
            "query($t: String!) { search(term: $t) { __typename } }",
            json!({ "t": "1; DROP TABLE explorer.block; --" }),
        )
        .await;
    assert_eq!(search["search"], Value::Null);
    assert_eq!(
        s.error_code(
            "query($c: String) { blocks(after: $c) { totalCount } }",
            json!({ "c": "YmxvY2s6MSkgT1IgKDE9MQ" }) // "block:1) OR (1=1"
        )
        .await,
        "INVALID_CURSOR"
    );
    let intact = s.query("{ blocks { totalCount } }", json!({})).await;
    assert_eq!(intact["blocks"]["totalCount"], 7);
}
