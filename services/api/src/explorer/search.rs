//! `search(term)`: one box for everything a user may paste — a height, a
//! block, transaction or output ID, or an address.

use async_graphql::{Context, Object, Union};

use super::addresses::{AddressInfo, address_info};
use super::blocks::{Block, block_by_height, block_by_id};
use super::outputs::{Output, output_by_id};
use super::transactions::{Transaction, transaction_by_id};
use crate::context::{ApiState, parse_id};
use crate::error::{ApiResult, IntoGraphql};

/// What a search term resolved to.
#[derive(Union)]
pub enum SearchResult {
    Block(Block),
    Transaction(Transaction),
    Output(Output),
    Address(AddressInfo),
}

/// Resolves `term`; none when it names nothing the explorer holds.
pub async fn search(state: &ApiState, term: &str) -> ApiResult<Option<SearchResult>> {
    let term = term.trim();
    if term.is_empty() || term.len() > 128 {
        return Ok(None);
    }
    // 64 digits are an ID (a hash may be all digits), fewer a height.
    if term.len() != 64 && term.bytes().all(|byte| byte.is_ascii_digit()) {
        return match term.parse::<i64>() {
            Ok(height) => Ok(block_by_height(state, height)
                .await?
                .map(SearchResult::Block)),
            Err(_) => Ok(None),
        };
    }
    if let Ok(id) = parse_id("ID", term) {
        if let Some(block) = block_by_id(state, &id).await? {
            return Ok(Some(SearchResult::Block(block)));
        }
        if let Some(transaction) = transaction_by_id(state, &id).await? {
            return Ok(Some(SearchResult::Transaction(transaction)));
        }
        return Ok(output_by_id(state, &id).await?.map(SearchResult::Output));
    }
    match state.network.parse_address(term) {
        Ok(stored) => Ok(address_info(state, &stored)
            .await?
            .map(SearchResult::Address)),
        Err(_) => Ok(None),
    }
}

/// The `search` query.
#[derive(Default)]
pub struct SearchQuery;

#[Object]
impl SearchQuery {
    /// Resolves a height, a block, transaction or output ID (hex), or an
    /// address. None when nothing matches.
    async fn search(
        &self,
        ctx: &Context<'_>,
        term: String,
    ) -> async_graphql::Result<Option<SearchResult>> {
        search(ApiState::of(ctx), &term).await.gql()
    }
}
