//! The stor-node service: keeps the shards of erasure-coded objects on
//! disk ([`store`]) and serves them over HTTP ([`server`]), accepting
//! writes and deletes only when signed by the object's owner or a trusted
//! repair key (`stor::auth`). Configuration in [`settings`].

pub mod server;
pub mod settings;
pub mod store;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::server::NodeState;
use crate::settings::Settings;
use crate::store::ShardStore;

/// Opens the store, binds and serves until `shutdown`. Calls `ready` with
/// the bound address once it accepts connections.
pub async fn run(
    settings: Settings,
    shutdown: CancellationToken,
    ready: impl FnOnce(std::net::SocketAddr),
) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let store = ShardStore::open(&settings.data_dir, settings.capacity_bytes)
        .await
        .with_context(|| format!("opening the shard store in {}", settings.data_dir.display()))?;
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("binding {}", settings.listen))?;
    let address = listener.local_addr().context("reading the bound address")?;
    tracing::info!(
        network = %settings.network,
        data_dir = %settings.data_dir.display(),
        capacity_bytes = settings.capacity_bytes,
        repair_keys = settings.repair_keys.len(),
        "stor-node starting"
    );
    ready(address);
    let state = Arc::new(NodeState::new(
        store,
        settings.chain_id,
        settings.repair_keys,
    ));
    server::serve(listener, state, shutdown)
        .await
        .context("serving HTTP")?;
    tracing::info!("stor-node stopped");
    Ok(())
}
