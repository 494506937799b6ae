//! Real `node` processes on loopback with real NATS: shutdown and reopen,
//! a transaction through three nodes, a NATS outage, a late joiner that
//! syncs 2,000 blocks (killed with SIGKILL on the way), a partition
//! that heals onto the heavier chain, and the block backfill endpoint.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use chain::stream::{BlockMessageKind, BlocksRefusal, BlocksReply, BlocksRequest, blocks_subject};
use ledger::BlockHeight;
use ledger::codec;
use node::submission::{RejectReason, SubmitReply, submit_subject};
use support::*;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn sigterm_exits_zero_and_reopens_at_the_same_tip() {
    let dir = tempfile::tempdir().unwrap();
    let network = TestNetwork::new(dir.path(), 1, false);
    let mut node = NodeProcess::start(
        "a",
        &dir.path().join("a"),
        &network,
        NodeOptions::staker(STAKER),
    );
    node.wait_height(3, Duration::from_secs(30));
    let status = node.terminate();
    assert!(
        status.success(),
        "exit status {status:?}; log:\n{}",
        node.log_tail()
    );
    let (tip, height) = stored_tip(&node.dir.join("data"), &network.config);
    assert!(height >= 3);
    node.restart();
    node.wait_until("reopened", Duration::from_secs(20), |n| n.tip().is_some());
    let (reopened, reopened_height) = node.tip().unwrap();
    // The first report after the restart is the stored tip, or a block
    // created on top of it within the first second.
    assert!(reopened_height >= height);
    if reopened_height == height {
        assert_eq!(reopened, tip);
    }
    assert!(node.terminate().success());
}

#[test]
fn three_nodes_include_a_submitted_transaction_and_reach_the_same_tip() {
    let dir = tempfile::tempdir().unwrap();
    let network = TestNetwork::new(dir.path(), 4, false);
    let url = nats_url();
    let a = NodeProcess::start(
        "a",
        &dir.path().join("a"),
        &network,
        NodeOptions::publishing_staker(STAKER, &url),
    );
    let others: Vec<NodeProcess> = ["b", "c"]
        .iter()
        .map(|name| {
            NodeProcess::start(
                name,
                &dir.path().join(name),
                &network,
                NodeOptions {
                    seeds: vec![a.p2p],
                    nats_url: Some(url.clone()),
                    ..NodeOptions::default()
                },
            )
        })
        .collect();
    a.wait_height(2, Duration::from_secs(30));
    for node in &others {
        node.wait_until("connected and synced", Duration::from_secs(30), |n| {
            n.metric("node_peers").unwrap_or(0.0) >= 1.0 && n.height() >= 2
        });
    }

    // Submit to node c (which does not create blocks).
    let genesis_output = {
        let chain = chain::Chain::in_memory(
            network.config.clone(),
            std::sync::Arc::new(chain::SystemClock),
        )
        .unwrap();
        owner_outputs(&chain)[0].clone()
    };
    let transaction = transfer(
        &network.config.params,
        genesis_output.0,
        &genesis_output.1,
        3,
    );
    let id = transaction.id();
    let rt = runtime();
    let replies = rt.block_on(async {
        let client = async_nats::connect(&url).await.unwrap();
        let subject = submit_subject(&network.name);
        let mut replies = Vec::new();
        for payload in [codec::encode(&transaction), vec![1, 2, 3]] {
            let reply = client
                .request(subject.clone(), payload.into())
                .await
                .unwrap();
            replies.push(codec::decode_with_limit::<SubmitReply>(&reply.payload, 1 << 20).unwrap());
        }
        replies
    });
    assert_eq!(replies[0], SubmitReply::Accepted { id });
    assert!(matches!(
        replies[1],
        SubmitReply::Rejected {
            reason: RejectReason::Malformed,
            ..
        }
    ));

    // Included in a block: a's stream carries it.
    let deadline = Instant::now() + Duration::from_secs(30);
    let included_at = loop {
        let messages = rt.block_on(read_stream(&url, &network.name));
        let found = messages.iter().find(|m| {
            m.kind == BlockMessageKind::Applied && m.block.transactions.iter().any(|t| t.id() == id)
        });
        if let Some(message) = found {
            break message.height.0;
        }
        assert!(
            Instant::now() < deadline,
            "transaction not included; a's log:\n{}",
            a.log_tail()
        );
        std::thread::sleep(Duration::from_millis(300));
    };

    // The same tip on all three (blocks come every second: retry until one
    // snapshot agrees).
    let nodes = [&a, &others[0], &others[1]];
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let tips: Vec<_> = nodes.iter().map(|n| n.tip()).collect();
        if tips.iter().all(|t| t.is_some() && *t == tips[0])
            && tips[0].as_ref().is_some_and(|(_, h)| *h >= included_at)
        {
            break;
        }
        assert!(Instant::now() < deadline, "tips differ: {tips:?}");
        std::thread::sleep(Duration::from_millis(50));
    }

    // A second submission of the same transaction is refused with a reason.
    let again = rt.block_on(async {
        let client = async_nats::connect(&url).await.unwrap();
        let reply = client
            .request(
                submit_subject(&network.name),
                codec::encode(&transaction).into(),
            )
            .await
            .unwrap();
        codec::decode_with_limit::<SubmitReply>(&reply.payload, 1 << 20).unwrap()
    });
    assert!(
        matches!(
            again,
            SubmitReply::Rejected {
                reason: RejectReason::MissingInput | RejectReason::AlreadyPooled,
                ..
            }
        ),
        "{again:?}"
    );
}

#[test]
fn nats_outage_leaves_every_block_in_the_stream_once_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let network = TestNetwork::new(dir.path(), 1, false);
    let mut nats = PrivateNats::start(&dir.path().join("nats"));
    let url = nats.url();
    let mut node = NodeProcess::start(
        "a",
        &dir.path().join("a"),
        &network,
        NodeOptions::publishing_staker(STAKER, &url),
    );
    node.wait_until("publishing", Duration::from_secs(30), |n| {
        n.height() >= 3 && n.metric("node_outbox_acknowledged").unwrap_or(0.0) >= 3.0
    });
    nats.stop();
    let before = node.height();
    node.wait_height(before + 5, Duration::from_secs(30));
    node.wait_until("reporting the lag", Duration::from_secs(10), |n| {
        n.metric("node_publish_lag_messages").unwrap_or(0.0) >= 3.0
    });
    nats.restart();
    node.wait_until("caught up with JetStream", Duration::from_secs(60), |n| {
        n.metric("node_publish_lag_messages") == Some(0.0)
            && n.metric("node_outbox_acknowledged").unwrap_or(0.0) > (before + 5) as f64
    });
    assert!(node.terminate().success());
    let (tip, height) = stored_tip(&node.dir.join("data"), &network.config);
    let messages = runtime().block_on(read_stream(&url, &network.name));
    let view = check_stream(&messages);
    assert_eq!(view.len() as u64, height + 1);
    assert_eq!(view.last(), Some(&tip));

    // `node republish` sends a range again with the same IDs: all dropped.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_node"))
        .arg("--data-dir")
        .arg(node.dir.join("data"))
        .arg("--network")
        .arg(&network.file)
        .arg("--nats-url")
        .arg(&url)
        .args(["republish", "--from", "1", "--to", &height.to_string()])
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        printed.contains(&format!("0 stored, {height} dropped as duplicates")),
        "{printed}"
    );
    let again = runtime().block_on(read_stream(&url, &network.name));
    assert_eq!(again.len(), messages.len());
}

#[test]
fn a_late_node_syncs_2000_blocks_survives_sigkill_and_follows() {
    let dir = tempfile::tempdir().unwrap();
    let network = TestNetwork::new(dir.path(), 1, false);
    let started = Instant::now();
    let (_, preloaded) = preload(&dir.path().join("a/data"), &network.config, 2_000, 0, 0);
    eprintln!("preloaded {preloaded} blocks in {:?}", started.elapsed());
    let a = NodeProcess::start(
        "a",
        &dir.path().join("a"),
        &network,
        NodeOptions::staker(STAKER),
    );
    a.wait_height(2_000, Duration::from_secs(60));
    let started = Instant::now();
    let mut b = NodeProcess::start(
        "b",
        &dir.path().join("b"),
        &network,
        NodeOptions::follower(vec![a.p2p]),
    );
    b.wait_height(200, Duration::from_secs(60));
    let seen = b.height();
    b.kill();
    eprintln!("killed b at height {seen} after {:?}", started.elapsed());
    b.restart();
    b.wait_until("reopened", Duration::from_secs(30), |n| {
        n.metrics().is_some()
    });
    let reopened = b.height();
    assert!(
        reopened >= seen,
        "reopened at {reopened}, below {seen} seen before SIGKILL"
    );
    b.wait_height(2_000, Duration::from_secs(120));
    eprintln!(
        "b synced 2,000 blocks in {:?} (including the restart)",
        started.elapsed()
    );
    // And follows: a keeps creating, b keeps up.
    let target = a.height() + 3;
    b.wait_height(target, Duration::from_secs(30));
}

#[test]
fn a_partition_heals_onto_the_heavier_chain_and_the_stream_reverts() {
    let dir = tempfile::tempdir().unwrap();
    let network = TestNetwork::new(dir.path(), 1, false);
    let url = nats_url();
    // b holds a heavier chain (40 blocks) but is not reachable yet.
    let b_port = free_port();
    let (_, b_height) = preload(&dir.path().join("b/data"), &network.config, 40, 0, 0);
    let mut a = NodeProcess::start(
        "a",
        &dir.path().join("a"),
        &network,
        NodeOptions {
            key_seed: Some(STAKER),
            seeds: vec![b_port],
            nats_url: Some(url.clone()),
            publish: true,
            ..NodeOptions::default()
        },
    );
    a.wait_height(4, Duration::from_secs(30));
    let (own_tip, _) = a.tip().unwrap();
    let b = NodeProcess::start(
        "b",
        &dir.path().join("b"),
        &network,
        NodeOptions {
            p2p: Some(b_port),
            ..NodeOptions::default()
        },
    );
    a.wait_height(b_height + 2, Duration::from_secs(60));
    wait_same_tip(&a, &b, Duration::from_secs(30), |_| true);
    let (messages, _) = stop_and_read_stream(&mut a, &network, &url);
    let reverted: Vec<_> = messages
        .iter()
        .filter(|m| m.kind == BlockMessageKind::Reverted)
        .map(|m| m.block_id().to_string())
        .collect();
    assert!(
        reverted.contains(&own_tip),
        "a's own tip {own_tip} was not reverted"
    );
}

#[test]
fn two_groups_produce_apart_then_converge_on_the_heavier_chain() {
    let dir = tempfile::tempdir().unwrap();
    let network = TestNetwork::contested(dir.path());
    let url = nats_url();
    // b holds three quarters of the stake, a one quarter; apart at first.
    let b = NodeProcess::start(
        "b",
        &dir.path().join("b"),
        &network,
        NodeOptions::staker(STAKER_TWO),
    );
    let mut a = NodeProcess::start(
        "a",
        &dir.path().join("a"),
        &network,
        NodeOptions::publishing_staker(STAKER, &url),
    );
    a.wait_height(2, Duration::from_secs(60));
    b.wait_until("well ahead of a", Duration::from_secs(60), |b| {
        b.height() >= a.height() + 4
    });
    // Reconnect: a comes back with b as its seed.
    assert!(a.terminate().success());
    let (own_tip, _) = stored_tip(&a.dir.join("data"), &network.config);
    a.set_seeds(vec![b.p2p]);
    a.restart();
    wait_same_tip(&a, &b, Duration::from_secs(60), |(id, _)| *id != own_tip);
    let (messages, _) = stop_and_read_stream(&mut a, &network, &url);
    assert!(
        messages
            .iter()
            .any(|m| m.kind == BlockMessageKind::Reverted && m.block_id().to_string() == own_tip),
        "a's own branch was not reverted in its stream"
    );
}

#[test]
fn the_blocks_endpoint_serves_the_published_messages_and_refuses_bad_requests() {
    let dir = tempfile::tempdir().unwrap();
    let network = TestNetwork::new(dir.path(), 4, false);
    let (tip, height) = preload(&dir.path().join("a/data"), &network.config, 30, 2, 0);
    let url = nats_url();
    let node = NodeProcess::start(
        "a",
        &dir.path().join("a"),
        &network,
        NodeOptions {
            nats_url: Some(url.clone()),
            publish: true,
            ..NodeOptions::default()
        },
    );
    node.wait_until("published the chain", Duration::from_secs(30), |n| {
        n.metric("node_outbox_acknowledged").unwrap_or(0.0) >= (height + 1) as f64
    });
    let stream = runtime().block_on(read_stream(&url, &network.name));
    assert_eq!(check_stream(&stream).last(), Some(&tip));
    let subject = blocks_subject(&network.name);
    runtime().block_on(async {
        let client = async_nats::connect(&url).await.unwrap();
        let ask = |payload: Vec<u8>| {
            let client = client.clone();
            let subject = subject.clone();
            async move {
                let reply = client.request(subject, payload.into()).await.unwrap();
                BlocksReply::decode(&reply.payload).unwrap()
            }
        };
        let range = |from, to, max_bytes| {
            BlocksRequest::new(BlockHeight(from), BlockHeight(to), max_bytes).encode()
        };
        let blocks = |reply: BlocksReply| match reply {
            BlocksReply::Blocks { tip, messages } => (tip.0, messages),
            BlocksReply::Refused { reason, message } => panic!("refused: {reason:?}: {message}"),
        };
        let refusal = |reply: BlocksReply| match reply {
            BlocksReply::Refused { reason, message } => {
                assert!(!message.is_empty());
                reason
            }
            BlocksReply::Blocks { messages, .. } => panic!("served {} blocks", messages.len()),
        };

        // The very bytes the node published, in height order.
        let (served_tip, messages) = blocks(ask(range(3, 12, 1 << 20)).await);
        assert_eq!(served_tip, height);
        assert_eq!(messages.len(), 10);
        for (bytes, at) in messages.iter().zip(3..) {
            assert_eq!(bytes, &stream[at].encode(), "height {at}");
        }
        // Up to the tip when asked for more; from genesis.
        let (_, all) = blocks(ask(range(0, 1_000_000, 1 << 20)).await);
        assert_eq!(all.len() as u64, height + 1);
        // A small max_bytes: fewer blocks, never an empty list, never more
        // bytes than allowed.
        let two = chain::stream::BlocksReply::blocks_encoded_len([all[1].len(), all[2].len()]);
        let reply = ask(range(1, 30, two as u32)).await;
        assert!(reply.encode().len() <= two);
        assert_eq!(blocks(reply).1, all[1..3].to_vec());
        assert_eq!(
            refusal(ask(range(1, 30, 16)).await),
            BlocksRefusal::TooLarge
        );
        // Unknown heights, a reversed range, garbage, another version.
        assert_eq!(
            refusal(ask(range(height + 1, height + 5, 1 << 20)).await),
            BlocksRefusal::Unavailable
        );
        assert_eq!(
            refusal(ask(range(9, 3, 1 << 20)).await),
            BlocksRefusal::BadRange
        );
        assert_eq!(
            refusal(ask(b"not a request at all".to_vec()).await),
            BlocksRefusal::Malformed
        );
        let mut future = BlocksRequest::new(BlockHeight(1), BlockHeight(2), 1 << 20);
        future.version += 1;
        assert_eq!(
            refusal(ask(future.encode()).await),
            BlocksRefusal::UnsupportedVersion
        );
    });
    assert!(node.metric("node_blocks_served_total").unwrap() >= (10 + height + 1 + 2) as f64);
    assert_eq!(node.metric("node_block_requests_refused_total"), Some(5.0));
    assert!(
        node.tip().is_some(),
        "the node still runs after bad requests"
    );
}
