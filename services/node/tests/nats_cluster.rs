//! The stream on a three-server NATS cluster (loopback, stream replicas
//! 3): one server is killed while blocks flow; the stream still holds
//! every block exactly once, in order.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use support::*;

struct ClusterServer {
    port: u16,
    child: Option<Child>,
}

impl ClusterServer {
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for ClusterServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn start_cluster(dir: &Path) -> Vec<ClusterServer> {
    let clients: Vec<u16> = (0..3).map(|_| free_port().port()).collect();
    let routes: Vec<u16> = (0..3).map(|_| free_port().port()).collect();
    let route_list: Vec<String> = routes
        .iter()
        .map(|p| format!("\"nats-route://127.0.0.1:{p}\""))
        .collect();
    (0..3)
        .map(|i| {
            let own = dir.join(format!("n{i}"));
            std::fs::create_dir_all(&own).unwrap();
            let config = own.join("nats.conf");
            std::fs::write(
                &config,
                format!(
                    "server_name: n{i}\nlisten: \"127.0.0.1:{}\"\nmax_payload: 8MB\n\
                     jetstream {{ store_dir: \"{}\" }}\n\
                     cluster {{ name: ledger_test, listen: \"127.0.0.1:{}\", routes: [{}] }}\n",
                    clients[i],
                    own.join("js").display(),
                    routes[i],
                    route_list.join(", ")
                ),
            )
            .unwrap();
            let log = std::fs::File::create(own.join("nats.log")).unwrap();
            let child = Command::new(nats_server_binary())
                .arg("-c")
                .arg(&config)
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap();
            ClusterServer {
                port: clients[i],
                child: Some(child),
            }
        })
        .collect()
}

#[test]
fn a_killed_cluster_server_loses_nothing_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let network = TestNetwork::new(dir.path(), 1, false);
    let mut servers = start_cluster(&dir.path().join("nats"));
    let deadline = Instant::now() + Duration::from_secs(20);
    for server in &servers {
        while TcpStream::connect(("127.0.0.1", server.port)).is_err() {
            assert!(Instant::now() < deadline, "cluster did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let urls: Vec<String> = servers
        .iter()
        .map(|s| format!("nats://127.0.0.1:{}", s.port))
        .collect();
    let mut node = NodeProcess::start(
        "a",
        &dir.path().join("a"),
        &network,
        NodeOptions {
            stream_replicas: Some(3),
            ..NodeOptions::publishing_staker(STAKER, &urls.join(","))
        },
    );
    // JetStream needs its meta leader before the stream can be created.
    node.wait_until("publishing on the cluster", Duration::from_secs(60), |n| {
        n.metric("node_outbox_acknowledged").unwrap_or(0.0) >= 3.0
    });
    servers[0].kill();
    let height = node.height();
    node.wait_until("publishing after the kill", Duration::from_secs(60), |n| {
        n.metric("node_outbox_acknowledged").unwrap_or(0.0) >= (height + 4) as f64
            && n.metric("node_publish_lag_messages") == Some(0.0)
    });
    let (messages, stored) = stop_and_read_stream(&mut node, &network, &urls[1]);
    assert_eq!(check_stream(&messages).len() as u64, stored + 1);
}
