//! Queries over the explorer read model (PostgreSQL schema `explorer`,
//! documented in `docs/read-models.md`). Each file holds one area's
//! GraphQL types, their SQL and their root query fields; [`ExplorerQuery`]
//! merges them. Table names are always qualified with the schema, and
//! every value reaches PostgreSQL as a bind parameter.

pub mod addresses;
pub mod blocks;
pub mod chain_info;
pub mod extensions;
pub mod holders;
pub mod outputs;
pub mod pending;
pub mod search;
pub mod statistics;
pub mod transactions;

use async_graphql::MergedObject;

/// Complexity of a connection field: its page size times the cost of one
/// node (so a page of 100 blocks with their transactions is expensive).
pub fn page_complexity(first: Option<i32>, last: Option<i32>, child_complexity: usize) -> usize {
    let size = first.or(last).unwrap_or(20).max(1);
    usize::try_from(size)
        .unwrap_or(1)
        .saturating_mul(child_complexity)
        .saturating_add(1)
}

/// Every explorer query field.
#[derive(MergedObject, Default)]
pub struct ExplorerQuery(
    chain_info::ChainQuery,
    blocks::BlockQuery,
    transactions::TransactionQuery,
    outputs::OutputQuery,
    addresses::AddressQuery,
    search::SearchQuery,
    statistics::StatisticsQuery,
    extensions::ExtensionQuery,
    pending::PendingQuery,
    holders::HolderQuery,
);
