//! The harness itself: a devnet starts, creates blocks with the genesis
//! key, the API serves them with the genesis allocation, and shutdown
//! stops everything and removes the stream and the database.

#![allow(clippy::unwrap_used)] // test: a failed step should fail loudly

use std::time::Duration;

use ledger::{Address, SecretKey};
use serde_json::json;
use testkit::{Devnet, GENESIS_SEED};

#[tokio::test]
async fn a_devnet_creates_blocks_and_serves_them() {
    let devnet = Devnet::start().await.unwrap();
    let height = devnet
        .wait_height(3, Duration::from_secs(30))
        .await
        .unwrap();
    assert!(height >= 3);
    let data = devnet
        .query(
            "{ chain { network constants { addressPrefix blockFrequency } } }",
            json!({}),
        )
        .await
        .unwrap();
    assert_eq!(data["chain"]["network"], devnet.network.as_str());
    assert_eq!(data["chain"]["constants"]["addressPrefix"], "bsdev");
    assert_eq!(data["chain"]["constants"]["blockFrequency"], 1);
    let genesis = Address::for_public_key(&SecretKey::from_seed(GENESIS_SEED).public_key())
        .to_text("bsdev")
        .unwrap();
    let data = devnet
        .query(
            "query($a: String!) { address(address: $a) { blockstakeBalance blocksCreated balance { spendable } } }",
            json!({ "a": genesis }),
        )
        .await
        .unwrap();
    assert_eq!(data["address"]["blockstakeBalance"], "1000");
    assert!(data["address"]["blocksCreated"].as_u64().unwrap() >= 3);
    assert_eq!(data["address"]["balance"]["spendable"], "100000000");
    // A mnemonic of the genesis wallet file names the same key.
    let (entropy, derivation) = node::keys::parse_mnemonic(
        std::path::Path::new("genesis"),
        &testkit::genesis_wallet_file(),
    )
    .unwrap();
    assert_eq!(
        ledger::derivation::spending_key(&entropy, derivation, 0).public_key(),
        SecretKey::from_seed(GENESIS_SEED).public_key()
    );
    let network = devnet.network.clone();
    devnet.shutdown().await.unwrap();
    let settings = devenv::Settings::load().unwrap();
    let client = async_nats::connect(&settings.nats_url).await.unwrap();
    let js = async_nats::jetstream::new(client);
    assert!(
        js.get_stream(chain::stream::stream_name(&network))
            .await
            .is_err(),
        "the stream is deleted"
    );
}
