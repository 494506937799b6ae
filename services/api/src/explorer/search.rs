//! `search(term)`: one box for everything a user may paste — a height, a
//! block, transaction or output ID, an address, an identity name or an
//! organization path.

use async_graphql::{Context, Object, Union};

use super::addresses::{AddressInfo, address_info};
use super::blocks::{Block, block_by_height, block_by_id};
use super::outputs::{Output, output_by_id};
use super::transactions::{Transaction, transaction_by_id};
use crate::context::{ApiState, parse_id};
use crate::error::{ApiResult, IntoGraphql};
use crate::identity::{Identity, Organization, identity_by_name, organization_by_path};

/// What a search term resolved to.
#[derive(Union)]
pub enum SearchResult {
    Block(Block),
    Transaction(Transaction),
    Output(Output),
    Address(AddressInfo),
    Identity(Identity),
    Organization(Organization),
}

/// Whether `term` could be an identity name or organization path
/// (letters, digits, `-` and `.`; it starts with a letter).
fn looks_like_a_name(term: &str) -> bool {
    term.len() <= 150
        && term.starts_with(|c: char| c.is_ascii_alphabetic())
        && term
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
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
    if let Ok(stored) = state.network.parse_address(term) {
        return Ok(address_info(state, &stored)
            .await?
            .map(SearchResult::Address));
    }
    if !looks_like_a_name(term) {
        return Ok(None);
    }
    // Names and paths are separate namespaces: a name has no dot.
    let found = if term.contains('.') {
        None
    } else {
        ignore_missing_model(identity_by_name(state, term).await)?.flatten()
    };
    if let Some(identity) = found {
        return Ok(Some(SearchResult::Identity(identity)));
    }
    Ok(
        ignore_missing_model(organization_by_path(state, term).await)?
            .flatten()
            .map(SearchResult::Organization),
    )
}

/// A read model that is not installed yet finds nothing.
fn ignore_missing_model<T>(found: ApiResult<T>) -> ApiResult<Option<T>> {
    match found {
        Ok(found) => Ok(Some(found)),
        Err(crate::error::ApiError::ModelUnavailable { .. }) => Ok(None),
        Err(error) => Err(error),
    }
}

/// The `search` query.
#[derive(Default)]
pub struct SearchQuery;

#[Object]
impl SearchQuery {
    /// Resolves a height, a block, transaction or output ID (hex), an
    /// address, an identity name or an organization path (any case). None
    /// when nothing matches.
    async fn search(
        &self,
        ctx: &Context<'_>,
        term: String,
    ) -> async_graphql::Result<Option<SearchResult>> {
        search(ApiState::of(ctx), &term).await.gql()
    }
}
