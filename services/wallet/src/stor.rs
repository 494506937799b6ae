//! Zero storage (docs/storage.md "Wallet"): `wallet stor put|get|rm|check|
//! ls|status|node register`, built on the `stor` client library.
//!
//! * **Keys.** Objects are encrypted under keys derived from the wallet's
//!   storage key, `BLAKE2b-256("blockstake/wallet/storage-key/v1" ‖
//!   entropy)` ([`crate::keystore::Unlocked::storage_key`]), and each
//!   object's random salt (`stor::keys`): the mnemonic alone opens every
//!   object it stored. Objects are owned by the wallet's identity and
//!   registered with its current identity key, whose public key the
//!   object ID commits to (`H(owner key ‖ salt)`): stor-nodes accept
//!   writes and deletes of the object only when signed by that key.
//! * **Where shards go.** `chain::domains::storage::placement::place`
//!   over the registered nodes the API lists (`storageDomains`), so every
//!   party computes the same layout; the chain checks its tolerance.
//! * **What the chain does not hold** (salt, compression, shard length)
//!   is read from the 64-byte header of any shard, checked against the
//!   registration (object ID = `H(owner key ‖ salt)`, `k`, `m`, chunk
//!   size).

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chain::domains::storage::placement::{PlacementNode, PlacementRequest, place};
use ledger::payload::storage::{
    DomainLevel, ErasurePolicy, FailureDomain, NodeState, ObjectId, StorageAction, StorageNodeId,
    StorageOperation, Tolerance, sign_into,
};
use ledger::{Hash32, Payload, PublicKey, SecretKey, TransactionId};
use rand_core::{OsRng, RngCore};
use serde_json::{Value, json};
use stor::codec::{HEADER_BYTES, ShardHeader};
use stor::transfer::{NodeClient, delete_shard, rebuild_shards_to};
use stor::{CodecParams, Compression, ObjectRecord, PutRequest, TransferError, get_object};

use crate::build::{self, Request};
use crate::cli::{StorCommand, StorNodeCommand, StorRepairerCommand, WaitArgs};
use crate::client::{Client, NetworkInfo, bad_answer, text};
use crate::commands::{Context, Report, first_address, sign_file};
use crate::error::WalletError;
use crate::funds;
use crate::identity::{IdentityFile, OwnIdentity, identity_path};
use crate::keystore::{Keystore, Unlocked};
use crate::txfile::TransactionFile;

const NODE_FIELDS: &str = "id endpoint region datacenter farm capacityBytes freeBytes state";

/// A registered storage node as the API lists it.
#[derive(Debug, Clone)]
struct Node {
    id: StorageNodeId,
    endpoint: String,
    domain: FailureDomain,
    capacity_bytes: u64,
    free_bytes: u64,
    /// `None`: retired.
    state: Option<NodeState>,
}

fn usage(error: impl std::fmt::Display) -> WalletError {
    WalletError::Usage(error.to_string())
}

fn storage(error: TransferError) -> WalletError {
    WalletError::Storage(error.to_string())
}

fn hash(value: &Value, what: &str) -> Result<Hash32, WalletError> {
    text(value)?
        .parse()
        .map_err(|_| bad_answer(format!("{what} is not a 32-byte hex value")))
}

fn decimal(value: &Value, what: &str) -> Result<u64, WalletError> {
    value
        .as_u64()
        .or_else(|| value.as_str().and_then(|text| text.parse().ok()))
        .ok_or_else(|| bad_answer(format!("{what} is not a number")))
}

/// `OPTIMAL` → `optimal` (GraphQL enum values, shown lowercase).
fn lowercase(value: &Value) -> Value {
    value
        .as_str()
        .map_or(Value::Null, |text| json!(text.to_ascii_lowercase()))
}

fn small(value: &Value, what: &str) -> Result<u8, WalletError> {
    value
        .as_u64()
        .and_then(|number| u8::try_from(number).ok())
        .ok_or_else(|| bad_answer(format!("{what} is not a small number")))
}

fn node_state(name: &str) -> Result<Option<NodeState>, WalletError> {
    Ok(Some(match name {
        "healthy" => NodeState::Healthy,
        "degraded" => NodeState::Degraded,
        "full" => NodeState::Full,
        "leaving" => NodeState::Leaving,
        "retired" => return Ok(None),
        other => return Err(bad_answer(format!("unknown node state {other:?}"))),
    }))
}

fn domain_level(name: &str) -> Result<DomainLevel, WalletError> {
    match name.trim().to_ascii_lowercase().as_str() {
        "region" => Ok(DomainLevel::Region),
        "datacenter" => Ok(DomainLevel::Datacenter),
        "farm" => Ok(DomainLevel::Farm),
        other => Err(WalletError::Usage(format!(
            "failure-domain level {other:?}: expected region, datacenter or farm"
        ))),
    }
}

fn parse_node(value: &Value) -> Result<Node, WalletError> {
    let domain = format!(
        "{}/{}/{}",
        text(&value["region"])?,
        text(&value["datacenter"])?,
        text(&value["farm"])?
    );
    Ok(Node {
        id: StorageNodeId(hash(&value["id"], "node ID")?),
        endpoint: text(&value["endpoint"])?,
        domain: domain.parse().map_err(bad_answer)?,
        capacity_bytes: decimal(&value["capacityBytes"], "capacity")?,
        free_bytes: decimal(&value["freeBytes"], "free bytes")?,
        state: node_state(&text(&value["state"])?)?,
    })
}

fn parse_object_id(text: &str) -> Result<ObjectId, WalletError> {
    text.trim()
        .parse()
        .map(ObjectId)
        .map_err(|_| WalletError::Usage(format!("{text:?} is not an object ID (64 hex digits)")))
}

/// An object as registered, with what its shard headers add.
struct Registered {
    record: ObjectRecord,
    owner_key: PublicKey,
    /// Shard index → its node.
    nodes: Vec<Node>,
    health: Value,
    deleted: bool,
}

impl Registered {
    fn object(&self) -> Result<ObjectId, WalletError> {
        self.record.object_id().map_err(storage)
    }

    fn endpoints(&self) -> Vec<Option<String>> {
        self.nodes
            .iter()
            .map(|node| Some(node.endpoint.clone()))
            .collect()
    }
}

/// Reads shard `shard`'s header: its salt and coding, and the shard's
/// length (every shard of an object has the same length).
async fn read_header(
    node: &NodeClient,
    endpoint: &str,
    object: &ObjectId,
    shard: usize,
) -> Result<(ShardHeader, u64), WalletError> {
    let mut response = node
        .get_shard(endpoint, object, shard)
        .await
        .map_err(storage)?;
    let length = response.content_length().unwrap_or(0);
    let mut bytes = Vec::with_capacity(HEADER_BYTES);
    while bytes.len() < HEADER_BYTES {
        match response.chunk().await {
            Ok(Some(piece)) => bytes.extend_from_slice(&piece),
            Ok(None) => break,
            Err(error) => return Err(WalletError::Storage(format!("{endpoint}: {error}"))),
        }
    }
    let header = ShardHeader::from_bytes(&bytes).ok_or_else(|| {
        WalletError::Storage(format!("{endpoint}: shard {shard} is not a shard file"))
    })?;
    Ok((header, length))
}

impl Context {
    pub(crate) async fn stor(&self, command: StorCommand) -> Result<Report, WalletError> {
        match command {
            StorCommand::Put {
                file,
                data_shards,
                parity_shards,
                tolerate_domains,
                tolerate_nodes,
                level,
                chunk_kib,
                compress,
                wait,
            } => {
                let policy = ErasurePolicy {
                    data_shards,
                    parity_shards,
                    tolerance: Tolerance {
                        level: domain_level(&level)?,
                        domains: tolerate_domains,
                        nodes: tolerate_nodes,
                    },
                };
                let params = CodecParams {
                    data_shards,
                    parity_shards,
                    chunk_bytes: chunk_kib.saturating_mul(1024),
                    compression: if compress {
                        Compression::Zstd
                    } else {
                        Compression::None
                    },
                };
                self.stor_put(&file, policy, params, &wait).await
            }
            StorCommand::Get { object, out } => self.stor_get(&object, &out).await,
            StorCommand::Rm { object, wait } => self.stor_rm(&object, &wait).await,
            StorCommand::Check { object, repair } => self.stor_check(&object, repair).await,
            StorCommand::Ls => self.stor_ls().await,
            StorCommand::Status { object } => match object {
                Some(object) => self.stor_object_status(&object).await,
                None => self.stor_node_status().await,
            },
            StorCommand::Node(StorNodeCommand::Register {
                endpoint,
                domain,
                capacity_mib,
                node_key,
                wait,
            }) => {
                self.stor_register_node(&endpoint, &domain, capacity_mib, node_key, &wait)
                    .await
            }
            StorCommand::Node(StorNodeCommand::Retire { node, wait }) => {
                self.stor_retire_node(&node, &wait).await
            }
            StorCommand::Repairer(StorRepairerCommand::Authorize { key, wait }) => {
                self.stor_repairer(&key, true, &wait).await
            }
            StorCommand::Repairer(StorRepairerCommand::Revoke { key, wait }) => {
                self.stor_repairer(&key, false, &wait).await
            }
        }
    }

    /// The identity, the unlocked keystore and the identity key that acts.
    fn storage_owner(&self) -> Result<(OwnIdentity, Keystore, Unlocked, SecretKey), WalletError> {
        let own = IdentityFile::load(&identity_path(self.wallet_path()))?
            .registered()?
            .clone();
        let keystore = self.keystore()?;
        let unlocked = keystore.unlock(&self.password()?)?;
        let key = unlocked.identity_key(own.key_index)?;
        Ok((own, keystore, unlocked, key))
    }

    async fn storage_nodes(&self, client: &Client) -> Result<Vec<Node>, WalletError> {
        let data = client
            .query(
                &format!(
                    "{{ storageDomains(includeRetired: true) {{ datacenters {{ farms {{ nodes {{ {NODE_FIELDS} }} }} }} }} }}"
                ),
                json!({}),
            )
            .await?;
        let mut nodes = Vec::new();
        let list = |value: &Value, what: &str| -> Result<Vec<Value>, WalletError> {
            value
                .as_array()
                .cloned()
                .ok_or_else(|| bad_answer(format!("{what} is not a list")))
        };
        for region in list(&data["storageDomains"], "storageDomains")? {
            for datacenter in list(&region["datacenters"], "datacenters")? {
                for farm in list(&datacenter["farms"], "farms")? {
                    for node in list(&farm["nodes"], "nodes")? {
                        nodes.push(parse_node(&node)?);
                    }
                }
            }
        }
        Ok(nodes)
    }

    /// A login token of this wallet's identity (shard locations are the owner's).
    async fn storage_token(&self) -> Result<String, WalletError> {
        let login = self.login(&identity_path(self.wallet_path())).await?;
        text(&login.json["token"])
    }

    /// The registered object `id` with its salt and coding from a shard
    /// header (checked against the registration).
    async fn registered(&self, client: &Client, id: &str) -> Result<Registered, WalletError> {
        let object = parse_object_id(id)?;
        let token = self.storage_token().await?;
        let data = Client::new(&client.url)?
            .with_token(token)
            .query(
                &format!(
                    "query($id: String!) {{ storageObject(id: $id) {{
                       id ownerKey size dataShards parityShards chunkBytes contentHash
                       keyFingerprint deletedHeight health liveShards repairs registeredHeight
                       toleranceLevel toleranceDomains toleranceNodes
                       shards {{ index checksum node {{ {NODE_FIELDS} }} }} }} }}"
                ),
                json!({ "id": object.to_string() }),
            )
            .await
            .map_err(|error| match error {
                WalletError::Api { code, message, .. } if code == "FORBIDDEN" => {
                    WalletError::Usage(format!(
                        "object {object} belongs to another identity: {message}"
                    ))
                }
                other => other,
            })?;
        let value = &data["storageObject"];
        if value.is_null() {
            return Err(WalletError::Usage(format!(
                "no object {object} is registered on this chain"
            )));
        }
        let owner_key = PublicKey(hash(&value["ownerKey"], "owner key")?.0);
        let data_shards = small(&value["dataShards"], "dataShards")?;
        let parity_shards = small(&value["parityShards"], "parityShards")?;
        let chunk_bytes = value["chunkBytes"]
            .as_u64()
            .and_then(|number| u32::try_from(number).ok())
            .ok_or_else(|| bad_answer("chunkBytes is not a number"))?;
        let shards = value["shards"]
            .as_array()
            .ok_or_else(|| bad_answer("shards is not a list"))?;
        let total = usize::from(data_shards) + usize::from(parity_shards);
        if shards.len() != total {
            return Err(bad_answer(format!(
                "object {object} lists {} shards for {data_shards}+{parity_shards}",
                shards.len()
            )));
        }
        let mut nodes = Vec::with_capacity(total);
        let mut checksums = Vec::with_capacity(total);
        for (index, shard) in shards.iter().enumerate() {
            if shard["index"].as_u64() != Some(index as u64) {
                return Err(bad_answer(format!("shard {index} is missing")));
            }
            nodes.push(parse_node(&shard["node"])?);
            checksums.push(hash(&shard["checksum"], "checksum")?.to_string());
        }
        let size = decimal(&value["size"], "size")?;
        let content_hash = hash(&value["contentHash"], "content hash")?.to_string();
        let key_fingerprint = hash(&value["keyFingerprint"], "key fingerprint")?.to_string();
        let record = |salt: String, compressed: bool, shard_length: u64| ObjectRecord {
            object: object.to_string(),
            owner: hex::encode(owner_key.0),
            salt,
            data_shards,
            parity_shards,
            chunk_bytes,
            compressed,
            size,
            content_hash: content_hash.clone(),
            key_fingerprint: key_fingerprint.clone(),
            shard_checksums: checksums.clone(),
            shard_bytes: vec![shard_length; total],
        };
        let deleted = !value["deletedHeight"].is_null();
        if deleted {
            // Its shards are gone: only the registration is left to show.
            return Ok(Registered {
                record: record(String::new(), false, 0),
                owner_key,
                nodes,
                health: value.clone(),
                deleted,
            });
        }
        // Salt, compression and length from the first shard that answers.
        let client_nodes = NodeClient::new();
        let mut found = None;
        let mut failures = Vec::new();
        for (index, node) in nodes.iter().enumerate() {
            match read_header(&client_nodes, &node.endpoint, &object, index).await {
                Ok(header) => {
                    found = Some(header);
                    break;
                }
                Err(error) => failures.push(error.to_string()),
            }
        }
        let (header, shard_length) = found.ok_or_else(|| {
            WalletError::Storage(format!(
                "no node serves a shard of {object}: {}",
                failures.join("; ")
            ))
        })?;
        if header.object != object
            || header.params.data_shards != data_shards
            || header.params.parity_shards != parity_shards
            || header.params.chunk_bytes != chunk_bytes
            || stor::object_id(&owner_key, &header.salt) != object
        {
            return Err(WalletError::Storage(format!(
                "the shard headers of {object} do not match its registration (owner key, salt, k, m or chunk size)"
            )));
        }
        let record = record(
            hex::encode(header.salt),
            header.params.compression == Compression::Zstd,
            shard_length,
        );
        Ok(Registered {
            record,
            owner_key,
            nodes,
            health: value.clone(),
            deleted,
        })
    }

    /// Signs `action` with `signer` into a transaction paid by this
    /// wallet's coins and submits it.
    async fn submit_storage(
        &self,
        keystore: &Keystore,
        unlocked: &Unlocked,
        action: StorageAction,
        signer: &SecretKey,
        wait: &WaitArgs,
    ) -> Result<(Report, TransactionId), WalletError> {
        let client = self.client()?;
        let network = self.network(&client).await?;
        let operation = StorageOperation::unsigned(action, signer.public_key());
        let request = Request::payload_only(
            build::condition_for(&first_address(keystore)?, None)?,
            Payload::Storage(operation.clone()),
        );
        let funds = funds::load(&client, &network, keystore).await?;
        let mut file =
            TransactionFile::unsigned(&network, build::build(&network, &funds, &request)?);
        let id = sign_into(&mut file.transaction, operation, &network.chain_id, signer);
        sign_file(keystore, unlocked, &mut file)?;
        let report = self.submit(&client, &network, &file, wait).await?;
        Ok((report, id))
    }

    /// Waits (up to the wait timeout) until the storage read model shows
    /// `object` registered (`deleted` false) or deleted.
    async fn wait_object(
        &self,
        client: &Client,
        object: &ObjectId,
        deleted: bool,
        wait: &WaitArgs,
    ) -> Result<(), WalletError> {
        if wait.no_wait {
            return Ok(());
        }
        let started = Instant::now();
        loop {
            let data = client
                .query(
                    "query($id: String!) { storageObject(id: $id) { deletedHeight } }",
                    json!({ "id": object.to_string() }),
                )
                .await?;
            let value = &data["storageObject"];
            if !value.is_null() && value["deletedHeight"].is_null() != deleted {
                return Ok(());
            }
            if started.elapsed() > Duration::from_secs(wait.wait_timeout) {
                return Err(WalletError::Storage(format!(
                    "the transaction is in a block but the API's storage model does not show object {object} {} after {} s",
                    if deleted { "deleted" } else { "registered" },
                    wait.wait_timeout
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn progress_bar(&self, total: u64, what: &str) -> indicatif::ProgressBar {
        if self.json_output() {
            return indicatif::ProgressBar::hidden();
        }
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(total),
            indicatif::ProgressDrawTarget::stderr(),
        );
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(what.to_owned());
        bar
    }

    async fn stor_put(
        &self,
        path: &Path,
        policy: ErasurePolicy,
        params: CodecParams,
        wait: &WaitArgs,
    ) -> Result<Report, WalletError> {
        policy.validate().map_err(usage)?;
        params.validate().map_err(usage)?;
        let size = std::fs::metadata(path)
            .map_err(|source| WalletError::Io {
                what: format!("reading {}", path.display()),
                source,
            })?
            .len();
        let (own, keystore, unlocked, key) = self.storage_owner()?;
        let client = self.client()?;
        let network = self.network(&client).await?;
        let nodes = self.storage_nodes(&client).await?;
        let mut salt = [0u8; 16];
        OsRng.fill_bytes(&mut salt);
        let object = stor::object_id(&key.public_key(), &salt);
        let candidates: Vec<PlacementNode> = nodes
            .iter()
            .filter_map(|node| {
                node.state.map(|state| PlacementNode {
                    id: node.id,
                    domain: node.domain.clone(),
                    free_bytes: node.free_bytes,
                    state,
                })
            })
            .collect();
        let request = PlacementRequest {
            object,
            policy,
            shard_bytes: params.max_shard_bytes(size),
        };
        let placement = place(&request, &candidates).map_err(|error| {
            WalletError::Usage(format!(
                "the {} registered storage nodes cannot hold this object: {error}",
                candidates.len()
            ))
        })?;
        let by_id: HashMap<StorageNodeId, &Node> =
            nodes.iter().map(|node| (node.id, node)).collect();
        let endpoints: Vec<String> = placement
            .shards
            .iter()
            .filter_map(|id| by_id.get(id).map(|node| node.endpoint.clone()))
            .collect();
        let storage_key = unlocked.storage_key();
        let bar = self.progress_bar(size, "uploading");
        let shown = bar.clone();
        let node_client = NodeClient::new();
        let started = Instant::now();
        let put = stor::put_object(
            &node_client,
            path,
            PutRequest {
                owner: &key,
                storage_key: &storage_key,
                params,
                chain_id: network.chain_id,
                salt,
            },
            &endpoints,
            Arc::new(move |done| shown.set_position(done)),
        )
        .await;
        bar.finish_and_clear();
        let uploaded = started.elapsed();
        let record = match put {
            Ok(record) => record,
            Err(error) => {
                self.remove_shards(&node_client, &object, &salt, &endpoints, &key, &network)
                    .await;
                return Err(storage(error));
            }
        };
        // Every node must hold exactly the bytes the owner signed.
        let mut bad = Vec::new();
        for (shard, endpoint) in endpoints.iter().enumerate() {
            match node_client.verify_shard(endpoint, &object, shard).await {
                Ok(answer) if answer.ok && answer.actual == record.shard_checksums[shard] => {}
                Ok(answer) => bad.push(format!(
                    "shard {shard} on {endpoint}: checksum {} (expected {})",
                    answer.actual, record.shard_checksums[shard]
                )),
                Err(error) => bad.push(format!("shard {shard}: {error}")),
            }
        }
        if !bad.is_empty() {
            self.remove_shards(&node_client, &object, &salt, &endpoints, &key, &network)
                .await;
            return Err(WalletError::Storage(format!(
                "the uploaded shards did not verify (removed; nothing registered): {}",
                bad.join("; ")
            )));
        }
        let action = StorageAction::RegisterObject {
            owner: own.identity_id()?,
            salt,
            size: record.size,
            policy,
            chunk_bytes: params.chunk_bytes,
            content_hash: hash(&json!(record.content_hash), "content hash")?,
            key_fingerprint: hash(&json!(record.key_fingerprint), "key fingerprint")?,
            shard_checksums: record
                .shard_checksums
                .iter()
                .map(|checksum| hash(&json!(checksum), "checksum"))
                .collect::<Result<_, _>>()?,
            shard_nodes: placement.shards.clone(),
        };
        let submitted = match self
            .submit_storage(&keystore, &unlocked, action, &key, wait)
            .await
        {
            Ok((report, _)) => report,
            Err(error) => {
                self.remove_shards(&node_client, &object, &salt, &endpoints, &key, &network)
                    .await;
                return Err(error);
            }
        };
        self.wait_object(&client, &object, false, wait).await?;
        let stored: u64 = record.shard_bytes.iter().sum();
        let seconds = uploaded.as_secs_f64().max(1e-6);
        let mut report = submitted;
        report.json["object"] = json!(object.to_string());
        report.json["size"] = json!(record.size);
        report.json["policy"] = json!(policy.to_string());
        report.json["storedBytes"] = json!(stored);
        report.json["uploadSeconds"] = json!(seconds);
        report.json["shards"] = json!(
            endpoints
                .iter()
                .zip(&placement.shards)
                .map(|(endpoint, node)| json!({ "node": node.to_string(), "endpoint": endpoint }))
                .collect::<Vec<_>>()
        );
        report.human = format!(
            "stored {} ({} bytes, {policy}) as object {object}\n{} shards, {stored} bytes on {} nodes, uploaded in {seconds:.1} s ({:.1} MB/s)\n{}",
            path.display(),
            record.size,
            endpoints.len(),
            endpoints.len(),
            record.size as f64 / seconds / 1e6,
            report.human
        );
        Ok(report)
    }

    /// Best-effort removal of an upload that will not be registered.
    async fn remove_shards(
        &self,
        node_client: &NodeClient,
        object: &ObjectId,
        salt: &[u8; 16],
        endpoints: &[String],
        key: &SecretKey,
        network: &NetworkInfo,
    ) {
        let record = ObjectRecord::naming(object, &key.public_key(), salt);
        for (shard, endpoint) in endpoints.iter().enumerate() {
            // A shard that never arrived answers 404; nothing to do.
            let _ =
                delete_shard(node_client, &record, shard, endpoint, key, network.chain_id).await;
        }
    }

    async fn stor_get(&self, id: &str, out: &Path) -> Result<Report, WalletError> {
        let to_stdout = out == Path::new("-");
        if to_stdout && self.json_output() {
            return Err(WalletError::Usage(
                "--json and `--out -` both use standard output: write to a file".into(),
            ));
        }
        let client = self.client()?;
        self.network(&client).await?;
        let registered = self.registered(&client, id).await?;
        if registered.deleted {
            return Err(WalletError::Usage(format!(
                "object {} was deleted",
                registered.record.object
            )));
        }
        let keystore = self.keystore()?;
        let unlocked = keystore.unlock(&self.password()?)?;
        let storage_key = unlocked.storage_key();
        let salt = registered.record.salt().map_err(storage)?;
        if storage_key.object_key(&salt).fingerprint().to_string()
            != registered.record.key_fingerprint
        {
            return Err(WalletError::Usage(format!(
                "this wallet's storage key does not open object {} (its key fingerprint differs): it was stored by another wallet",
                registered.record.object
            )));
        }
        let bar = self.progress_bar(registered.record.size, "downloading");
        let shown = bar.clone();
        let progress: Arc<dyn Fn(u64) + Send + Sync> =
            Arc::new(move |done| shown.set_position(done));
        let node_client = NodeClient::new();
        let started = Instant::now();
        let (summary, written) = if to_stdout {
            let output = std::io::BufWriter::new(std::io::stdout());
            let summary = get_object(
                &node_client,
                &registered.record,
                &storage_key,
                &registered.endpoints(),
                output,
                progress,
            )
            .await
            .map_err(storage);
            (summary, None)
        } else {
            // Written beside the target and renamed: no partial file on failure.
            let partial = partial_path(out);
            let file = std::fs::File::create(&partial).map_err(|source| WalletError::Io {
                what: format!("creating {}", partial.display()),
                source,
            })?;
            let summary = get_object(
                &node_client,
                &registered.record,
                &storage_key,
                &registered.endpoints(),
                std::io::BufWriter::new(file),
                progress,
            )
            .await
            .map_err(storage);
            (summary, Some(partial))
        };
        bar.finish_and_clear();
        let summary = match summary {
            Ok(summary) => summary,
            Err(error) => {
                if let Some(partial) = &written {
                    let _ = std::fs::remove_file(partial);
                }
                return Err(error);
            }
        };
        if let Some(partial) = &written {
            std::fs::rename(partial, out).map_err(|source| WalletError::Io {
                what: format!("renaming {} to {}", partial.display(), out.display()),
                source,
            })?;
        } else {
            let _ = std::io::stdout().flush();
        }
        let seconds = started.elapsed().as_secs_f64().max(1e-6);
        let faults: Vec<String> = summary.faults.iter().map(ToString::to_string).collect();
        let mut human = format!(
            "object {} ({} bytes) written to {} in {seconds:.1} s ({:.1} MB/s)",
            registered.record.object,
            summary.size,
            out.display(),
            summary.size as f64 / seconds / 1e6
        );
        for fault in &faults {
            human.push_str(&format!("\n  read around: {fault}"));
        }
        Ok(Report {
            json: json!({ "object": registered.record.object, "size": summary.size,
                          "out": out.display().to_string(), "faults": faults,
                          "seconds": seconds }),
            human: if to_stdout { String::new() } else { human },
        })
    }

    /// The identity key (any index this wallet used) whose public key is `owner`.
    fn key_for(
        &self,
        keystore: &Keystore,
        unlocked: &Unlocked,
        owner: &PublicKey,
    ) -> Result<Option<SecretKey>, WalletError> {
        let known = keystore.identity_keys.len() as u64 + 1;
        for index in 0..known.max(1) {
            let key = unlocked.identity_key(index)?;
            if key.public_key() == *owner {
                return Ok(Some(key));
            }
        }
        Ok(None)
    }

    async fn stor_rm(&self, id: &str, wait: &WaitArgs) -> Result<Report, WalletError> {
        let client = self.client()?;
        let network = self.network(&client).await?;
        let object = parse_object_id(id)?;
        let data = client
            .query(
                "query($id: String!) { storageObject(id: $id) { deletedHeight } }",
                json!({ "id": object.to_string() }),
            )
            .await?;
        match &data["storageObject"] {
            Value::Null => {
                return Err(WalletError::Usage(format!(
                    "no object {object} is registered on this chain"
                )));
            }
            value if !value["deletedHeight"].is_null() => {
                return Err(WalletError::Usage(format!(
                    "object {object} was already deleted"
                )));
            }
            _ => {}
        }
        // Where the shards are and their salt (the owner's to read), before
        // the delete; another identity cannot read them, but the chain is
        // what refuses its delete.
        let located = self.registered(&client, id).await;
        let (_own, keystore, unlocked, key) = self.storage_owner()?;
        // The chain decides who may delete (an active key of the owner).
        let (mut report, _) = self
            .submit_storage(
                &keystore,
                &unlocked,
                StorageAction::DeleteObject { object },
                &key,
                wait,
            )
            .await?;
        let mut left = Vec::new();
        let mut total = 0;
        match located {
            Ok(registered) => {
                total = registered.nodes.len();
                // Signed by the key the object ID commits to.
                let signer = self
                    .key_for(&keystore, &unlocked, &registered.owner_key)?
                    .unwrap_or(key);
                let node_client = NodeClient::new();
                for (shard, node) in registered.nodes.iter().enumerate() {
                    if let Err(error) = delete_shard(
                        &node_client,
                        &registered.record,
                        shard,
                        &node.endpoint,
                        &signer,
                        network.chain_id,
                    )
                    .await
                    {
                        left.push(format!("shard {shard}: {error}"));
                    }
                }
            }
            Err(error) => left.push(format!("the shards could not be located: {error}")),
        }
        self.wait_object(&client, &object, true, wait).await?;
        report.json["object"] = json!(object.to_string());
        report.json["shardsLeft"] = json!(left);
        report.human = format!(
            "object {object} deleted; {} of {total} shards removed from their nodes{}\n{}",
            total.saturating_sub(left.len()),
            left.iter()
                .map(|line| format!("\n  not removed: {line}"))
                .collect::<String>(),
            report.human
        );
        Ok(report)
    }

    /// Verifies every shard on its node; returns (shard, problem, node reachable).
    async fn shard_faults(
        &self,
        node_client: &NodeClient,
        registered: &Registered,
    ) -> Result<Vec<(usize, String, bool)>, WalletError> {
        let object = registered.object()?;
        let mut faults = Vec::new();
        for (shard, node) in registered.nodes.iter().enumerate() {
            let expected = &registered.record.shard_checksums[shard];
            match node_client
                .verify_shard(&node.endpoint, &object, shard)
                .await
            {
                Ok(answer) if answer.ok && &answer.actual == expected => {}
                Ok(answer) => faults.push((
                    shard,
                    format!(
                        "corrupt on {}: checksum {} (registered {expected})",
                        node.endpoint, answer.actual
                    ),
                    true,
                )),
                Err(TransferError::Refused { status, body, .. }) => faults.push((
                    shard,
                    format!(
                        "{} on {}: HTTP {status} {}",
                        if status == 404 { "missing" } else { "refused" },
                        node.endpoint,
                        body.trim()
                    ),
                    true,
                )),
                Err(error) => faults.push((shard, format!("unreachable: {error}"), false)),
            }
        }
        Ok(faults)
    }

    async fn stor_check(&self, id: &str, repair: bool) -> Result<Report, WalletError> {
        let client = self.client()?;
        let network = self.network(&client).await?;
        let registered = self.registered(&client, id).await?;
        let object = registered.object()?;
        if registered.deleted {
            return Err(WalletError::Usage(format!("object {object} was deleted")));
        }
        let node_client = NodeClient::new();
        let faults = self.shard_faults(&node_client, &registered).await?;
        let total = registered.nodes.len();
        let mut repaired = Vec::new();
        let mut remaining = faults.clone();
        if repair && !faults.is_empty() {
            // Rewrite in place what a reachable node lost or corrupted;
            // moving a shard off a dead node is the repair service's job.
            let targets: Vec<(usize, String)> = faults
                .iter()
                .filter(|(_, _, reachable)| *reachable)
                .map(|(shard, _, _)| (*shard, registered.nodes[*shard].endpoint.clone()))
                .collect();
            if !targets.is_empty() {
                let keystore = self.keystore()?;
                let unlocked = keystore.unlock(&self.password()?)?;
                let signer = self
                    .key_for(&keystore, &unlocked, &registered.owner_key)?
                    .ok_or_else(|| {
                        WalletError::Usage(format!(
                            "object {object} was stored with a key this wallet does not hold; only its owner (or the repair service) can rewrite its shards"
                        ))
                    })?;
                let mut sources = registered.endpoints();
                for (shard, _, _) in &faults {
                    sources[*shard] = None;
                }
                rebuild_shards_to(
                    &node_client,
                    &registered.record,
                    &sources,
                    &targets,
                    &signer,
                    network.chain_id,
                )
                .await
                .map_err(storage)?;
                repaired = targets.iter().map(|(shard, _)| *shard).collect();
            }
            remaining = self.shard_faults(&node_client, &registered).await?;
        }
        let problems: Vec<String> = remaining
            .iter()
            .map(|(shard, problem, _)| format!("shard {shard}: {problem}"))
            .collect();
        let found: Vec<String> = faults
            .iter()
            .map(|(shard, problem, _)| format!("shard {shard}: {problem}"))
            .collect();
        if !problems.is_empty() {
            return Err(WalletError::Unhealthy {
                object: object.to_string(),
                healthy: total - remaining.len(),
                total,
                problems: problems.join("; "),
                hint: if repair {
                    String::new()
                } else {
                    " (`wallet stor check --repair` rewrites corrupt or missing shards)".into()
                },
            });
        }
        let human = if found.is_empty() {
            format!("object {object}: all {total} shards verify")
        } else {
            format!(
                "object {object}: repaired {}; all {total} shards verify now",
                found.join("; ")
            )
        };
        Ok(Report {
            json: json!({ "object": object.to_string(), "shards": total, "ok": true,
                          "found": found, "repaired": repaired }),
            human,
        })
    }

    async fn stor_ls(&self) -> Result<Report, WalletError> {
        let client = self.client()?.with_token(self.storage_token().await?);
        let data = client
            .query(
                "{ storageObjects(first: 100) { nodes { id size dataShards parityShards
                   toleranceLevel toleranceDomains toleranceNodes health liveShards
                   registeredHeight repairs } } }",
                json!({}),
            )
            .await?;
        let mut objects = data["storageObjects"]["nodes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for object in &mut objects {
            object["health"] = lowercase(&object["health"]);
        }
        let human = if objects.is_empty() {
            "no objects".to_owned()
        } else {
            objects
                .iter()
                .map(|object| {
                    format!(
                        "{} {:>12} bytes {}+{} {} ({} of {} shards live), height {}",
                        object["id"].as_str().unwrap_or_default(),
                        object["size"],
                        object["dataShards"],
                        object["parityShards"],
                        object["health"].as_str().unwrap_or("unknown"),
                        object["liveShards"],
                        object["dataShards"].as_u64().unwrap_or(0)
                            + object["parityShards"].as_u64().unwrap_or(0),
                        object["registeredHeight"]
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")
        };
        Ok(Report {
            json: json!({ "objects": objects }),
            human,
        })
    }

    async fn stor_object_status(&self, id: &str) -> Result<Report, WalletError> {
        let client = self.client()?;
        self.network(&client).await?;
        let registered = self.registered(&client, id).await?;
        let node_client = NodeClient::new();
        let faults = if registered.deleted {
            Vec::new()
        } else {
            self.shard_faults(&node_client, &registered).await?
        };
        let value = &registered.health;
        let mut shards = Vec::new();
        let mut human = format!(
            "object {} {} bytes {}+{} (survives {} {}s + {} nodes): {}, {} of {} shards on serving nodes, {} repairs",
            registered.record.object,
            registered.record.size,
            registered.record.data_shards,
            registered.record.parity_shards,
            value["toleranceDomains"],
            value["toleranceLevel"].as_str().unwrap_or_default(),
            value["toleranceNodes"],
            lowercase(&value["health"]).as_str().unwrap_or("unknown"),
            value["liveShards"],
            registered.nodes.len(),
            value["repairs"]
        );
        for (shard, node) in registered.nodes.iter().enumerate() {
            let problem = faults
                .iter()
                .find(|(index, _, _)| *index == shard)
                .map(|(_, problem, _)| problem.clone());
            let state = node.state.map_or("retired", NodeState::name);
            human.push_str(&format!(
                "\n  shard {shard}: {} ({}, {state}) {}",
                node.endpoint,
                node.domain,
                problem.as_deref().unwrap_or("verifies")
            ));
            shards.push(json!({ "shard": shard, "node": node.id.to_string(),
                                "endpoint": node.endpoint, "domain": node.domain.to_string(),
                                "nodeState": state, "problem": problem }));
        }
        Ok(Report {
            json: json!({ "object": registered.record.object,
                          "ownerKey": registered.record.owner, "salt": registered.record.salt,
                          "health": lowercase(&value["health"]),
                          "liveShards": value["liveShards"], "repairs": value["repairs"],
                          "size": registered.record.size, "shards": shards,
                          "verified": registered.nodes.len() - faults.len() }),
            human,
        })
    }

    async fn stor_node_status(&self) -> Result<Report, WalletError> {
        let client = self.client()?;
        self.network(&client).await?;
        let nodes = self.storage_nodes(&client).await?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(3))
            .build()
            .map_err(|error| WalletError::Storage(error.to_string()))?;
        let mut rows = Vec::new();
        let mut human = Vec::new();
        for node in &nodes {
            let probe = match http
                .get(format!("{}/healthz", node.endpoint.trim_end_matches('/')))
                .send()
                .await
            {
                Ok(response) if response.status().is_success() => "up".to_owned(),
                Ok(response) => format!("HTTP {}", response.status().as_u16()),
                Err(_) => "unreachable".to_owned(),
            };
            let state = node.state.map_or("retired", NodeState::name);
            human.push(format!(
                "{} {} {} {state}, probe {probe}, {} of {} MiB free",
                node.id.to_string().get(..16).unwrap_or_default(),
                node.domain,
                node.endpoint,
                node.free_bytes >> 20,
                node.capacity_bytes >> 20
            ));
            rows.push(
                json!({ "id": node.id.to_string(), "endpoint": node.endpoint,
                              "domain": node.domain.to_string(), "state": state, "probe": probe,
                              "freeBytes": node.free_bytes, "capacityBytes": node.capacity_bytes }),
            );
        }
        Ok(Report {
            json: json!({ "nodes": rows }),
            human: if human.is_empty() {
                "no storage nodes are registered".into()
            } else {
                human.join("\n")
            },
        })
    }

    async fn stor_register_node(
        &self,
        endpoint: &str,
        domain: &str,
        capacity_mib: u64,
        node_key: Option<String>,
        wait: &WaitArgs,
    ) -> Result<Report, WalletError> {
        let domain: FailureDomain = domain.parse().map_err(usage)?;
        let (own, keystore, unlocked, key) = self.storage_owner()?;
        let endpoint = endpoint.trim().trim_end_matches('/').to_owned();
        let node_key = match node_key {
            Some(text) => public_key(&text)?,
            None => unlocked.storage_node_key(&endpoint).public_key(),
        };
        let action = StorageAction::RegisterNode {
            owner: own.identity_id()?,
            node_key,
            endpoint: endpoint.clone(),
            domain: domain.clone(),
            capacity_bytes: capacity_mib.saturating_mul(1 << 20),
        };
        let (mut report, id) = self
            .submit_storage(&keystore, &unlocked, action, &key, wait)
            .await?;
        let node = StorageNodeId::for_registration(&id);
        report.json["node"] = json!(node.to_string());
        report.json["nodeKey"] = json!(hex::encode(node_key.0));
        report.human = format!(
            "storage node {node} registered: {endpoint} in {domain}, {capacity_mib} MiB\n{}",
            report.human
        );
        Ok(report)
    }

    /// `RetireNode`, signed by the identity key (the chain refuses a node
    /// this identity does not own).
    async fn stor_retire_node(&self, node: &str, wait: &WaitArgs) -> Result<Report, WalletError> {
        let node = StorageNodeId(node.trim().parse().map_err(|_| {
            WalletError::Usage(format!("{node:?} is not a storage node ID (64 hex digits)"))
        })?);
        let (_, keystore, unlocked, signer) = self.storage_owner()?;
        let (mut report, _) = self
            .submit_storage(
                &keystore,
                &unlocked,
                StorageAction::RetireNode { node },
                &signer,
                wait,
            )
            .await?;
        report.json["node"] = json!(node.to_string());
        report.human = format!("storage node {node} retired\n{}", report.human);
        Ok(report)
    }

    /// `AuthorizeRepairer` (or `RevokeRepairer`) for the repair service
    /// key `key`, signed by the identity key. The chain refuses a
    /// repeated authorization and a revocation of a key not authorized.
    async fn stor_repairer(
        &self,
        key: &str,
        authorize: bool,
        wait: &WaitArgs,
    ) -> Result<Report, WalletError> {
        let repairer = public_key(key)?;
        let (own, keystore, unlocked, signer) = self.storage_owner()?;
        let owner = own.identity_id()?;
        let action = if authorize {
            StorageAction::AuthorizeRepairer { owner, repairer }
        } else {
            StorageAction::RevokeRepairer { owner, repairer }
        };
        let (mut report, _) = self
            .submit_storage(&keystore, &unlocked, action, &signer, wait)
            .await?;
        let key = hex::encode(repairer.0);
        report.json["repairer"] = json!(key);
        report.json["authorized"] = json!(authorize);
        report.human = format!(
            "repairer {key} {}\n{}",
            if authorize { "authorized" } else { "revoked" },
            report.human
        );
        Ok(report)
    }
}

/// A public key given as 64 hex digits.
fn public_key(text: &str) -> Result<PublicKey, WalletError> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut bytes)
        .map_err(|_| WalletError::Usage(format!("{text:?} is not a public key (64 hex digits)")))?;
    Ok(PublicKey(bytes))
}

/// `DIR/.NAME.partial` beside `out`.
fn partial_path(out: &Path) -> PathBuf {
    let name = out
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "object".into());
    out.with_file_name(format!(".{name}.partial"))
}
