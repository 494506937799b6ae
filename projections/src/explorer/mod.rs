//! The explorer read model: everything a chain explorer and a wallet
//! browse (blocks, transactions, inputs, outputs with decoded conditions,
//! address balances and history, multisig membership, blockstake holders,
//! per-block statistics, notary records, minting and authorization
//! history, pending transactions), folded from the ledger event stream
//! into the PostgreSQL schema `explorer`.
//!
//! * [`rows`]: what a block message becomes, computed in memory.
//! * [`difficulty`]: targets, difficulty and the active-stake estimate,
//!   derived from earlier block rows and the consensus constants.
//! * [`write`]: one batched statement per table per block.
//!
//! The tables are in `migrations/explorer/` and documented in
//! `docs/read-models.md`. Like every model, the explorer writes forward
//! only; reverts are the runtime's generic undo.

pub mod difficulty;
pub mod pending;
pub mod rows;
pub mod write;

use std::sync::Arc;

use chain::config::ChainConfig;
use chain::stream::BlockMessage;
use futures::future::BoxFuture;
use ledger::BlockHeight;
use sqlx::PgConnection;
use sqlx::migrate::Migrator;

use crate::model::ReadModel;

/// The explorer's migrations (tables created in the model's schema).
pub static EXPLORER_MIGRATOR: Migrator = sqlx::migrate!("../migrations/explorer");

/// Why the explorer could not fold a block. Surfaced by the runtime as
/// [`crate::ProjectionError::Apply`] (wrapped in `sqlx::Error::Decode`),
/// which stops the model: these are bad data or a wrong configuration,
/// not outages.
#[derive(Debug, thiserror::Error)]
pub enum ExplorerError {
    #[error("PostgreSQL: {0}")]
    Database(#[from] sqlx::Error),
    #[error(
        "the stream's genesis block is {genesis} but the explorer is configured for the network whose genesis is {configured}"
    )]
    OtherNetwork { genesis: String, configured: String },
    #[error("block at height {height}: event {index} is a revert event in an applied block")]
    RevertEventInApply { height: BlockHeight, index: u64 },
    #[error(
        "block at height {height} spends output {output} but carries no spend event for it (value and address unknown)"
    )]
    MissingSpendEvent { height: BlockHeight, output: String },
    #[error("block at height {height} carries a domain coin event outside any transaction")]
    DomainCoinsOutsideTransaction { height: BlockHeight },
    #[error(
        "block at height {height} spends {expected} outputs but only {marked} are unspent outputs known to the explorer"
    )]
    UnknownSpentOutputs {
        height: u64,
        expected: usize,
        marked: u64,
    },
    #[error(
        "block at height {height} needs the explorer's block at height {missing}, which it does not hold"
    )]
    MissingEarlierBlock { height: u64, missing: u64 },
    #[error("stored block at height {height} is corrupt: {detail}")]
    CorruptRow { height: u64, detail: String },
    #[error("an amount in the block overflows 2^128 base units")]
    Overflow,
}

impl From<ExplorerError> for sqlx::Error {
    fn from(error: ExplorerError) -> sqlx::Error {
        match error {
            ExplorerError::Database(error) => error,
            other => sqlx::Error::Decode(Box::new(other)),
        }
    }
}

/// The explorer read model of one network.
#[derive(Debug, Clone)]
pub struct Explorer {
    config: Arc<ChainConfig>,
}

impl Explorer {
    /// The explorer for the network `config` describes: its consensus
    /// constants derive targets and difficulty, its genesis settings (mint
    /// condition, address authority) open the history tables, its address
    /// prefix writes addresses inside JSON conditions.
    pub fn new(config: Arc<ChainConfig>) -> Explorer {
        Explorer { config }
    }

    /// Writes the rows of one applied block.
    pub async fn apply_block(
        &self,
        connection: &mut PgConnection,
        message: &BlockMessage,
    ) -> Result<(), ExplorerError> {
        let rows = rows::block_rows(message, &self.config)?;
        let difficulty = difficulty::block_difficulty(
            connection,
            &self.config.consensus,
            message.height.0,
            message.block.header.timestamp.0,
        )
        .await?;
        write::write_block(connection, &rows, &difficulty).await
    }
}

impl ReadModel for Explorer {
    fn name(&self) -> &'static str {
        "explorer"
    }

    fn migrator(&self) -> &'static Migrator {
        &EXPLORER_MIGRATOR
    }

    fn apply<'a>(
        &'a self,
        connection: &'a mut PgConnection,
        message: &'a BlockMessage,
    ) -> BoxFuture<'a, Result<(), sqlx::Error>> {
        Box::pin(async move { Ok(self.apply_block(connection, message).await?) })
    }
}
