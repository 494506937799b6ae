//! Queries over the identity read model (PostgreSQL schema `identity`,
//! table contract in `docs/identity.md`, "Read model"): identities by name
//! or key with their keys (and history), attributes, attestations, vouches,
//! memberships and activity; organizations with their tree and roles;
//! membership and ownership with the path that proves them
//! ([`graph`]: recursive CTEs); trust paths over vouches; authorizations
//! (private: only the logged-in identity's own, see `login::Viewer`).
//!
//! Everything is read at the height the model has folded now; lists are
//! Relay connections with the usual limits. Names and paths are
//! lowercased before lookup (they are stored lowercase).

pub mod graph;
pub mod types;

use async_graphql::{Context, Object};

use crate::context::{ApiState, parse_id};
use crate::error::{ApiError, ApiResult, IntoGraphql};
use crate::login::parse_public_key;
pub use graph::{Membership, TrustPath};
pub use types::{Identity, Organization};

/// The model's name (schema, notifications).
pub const MODEL: &str = "identity";

/// A missing `identity` schema is MODEL_UNAVAILABLE for this model.
pub fn in_model(error: ApiError) -> ApiError {
    match error {
        ApiError::ModelUnavailable { .. } => ApiError::ModelUnavailable { model: MODEL },
        other => other,
    }
}

/// Maps a database error of an identity query.
pub fn db(error: sqlx::Error) -> ApiError {
    ApiError::from_model(MODEL)(error)
}

/// Lowercases and bounds a name or path argument.
pub fn name_argument(what: &str, text: &str) -> ApiResult<String> {
    let name = text.trim().to_ascii_lowercase();
    if name.is_empty() || name.len() > 150 {
        return Err(ApiError::bad_input(format!(
            "{what} {text:?} must be 1 to 150 characters"
        )));
    }
    Ok(name)
}

/// An identity by name (any case).
pub async fn identity_by_name(state: &ApiState, name: &str) -> ApiResult<Option<Identity>> {
    types::identity_where(state, "i.name = $1", name_argument("identity", name)?).await
}

/// An identity by ID (hex).
pub async fn identity_by_id(state: &ApiState, id: &[u8]) -> ApiResult<Option<Identity>> {
    types::identity_where(state, "i.id = $1", id.to_vec()).await
}

/// An organization by path (any case).
pub async fn organization_by_path(state: &ApiState, path: &str) -> ApiResult<Option<Organization>> {
    types::organization_where(state, "o.path = $1", name_argument("organization", path)?).await
}

/// The identity named `name`, or UNKNOWN_IDENTITY.
pub async fn require_identity(state: &ApiState, name: &str) -> ApiResult<Identity> {
    identity_by_name(state, name)
        .await?
        .ok_or_else(|| ApiError::UnknownIdentity(name.trim().to_ascii_lowercase()))
}

/// The organization at `path`, or BAD_USER_INPUT.
pub async fn require_organization(state: &ApiState, path: &str) -> ApiResult<Organization> {
    organization_by_path(state, path)
        .await?
        .ok_or_else(|| ApiError::bad_input(format!("no organization has the path {path:?}")))
}

/// The identity root fields.
#[derive(Default)]
pub struct IdentityQuery;

#[Object]
impl IdentityQuery {
    /// An identity by `name` (any case), `id` (hex) or one of its keys
    /// (`key`, hex; any status). Exactly one argument. None when unknown.
    async fn identity(
        &self,
        ctx: &Context<'_>,
        name: Option<String>,
        id: Option<String>,
        key: Option<String>,
    ) -> async_graphql::Result<Option<Identity>> {
        let state = ApiState::of(ctx);
        async {
            match (name, id, key) {
                (Some(name), None, None) => identity_by_name(state, &name).await,
                (None, Some(id), None) => {
                    identity_by_id(state, &parse_id("identity ID", &id)?).await
                }
                (None, None, Some(key)) => {
                    let key = parse_public_key(&key)?;
                    types::identity_where(
                        state,
                        "i.id = (SELECT identity FROM identity.identity_key WHERE public_key = $1)",
                        key.0.to_vec(),
                    )
                    .await
                }
                _ => Err(ApiError::bad_input(
                    "pass exactly one of `name`, `id` and `key`",
                )),
            }
        }
        .await
        .gql()
    }

    /// An organization by `path` (`acme.sales`, any case) or `id` (hex).
    async fn organization(
        &self,
        ctx: &Context<'_>,
        path: Option<String>,
        id: Option<String>,
    ) -> async_graphql::Result<Option<Organization>> {
        let state = ApiState::of(ctx);
        async {
            match (path, id) {
                (Some(path), None) => organization_by_path(state, &path).await,
                (None, Some(id)) => {
                    types::organization_where(state, "o.id = $1", parse_id("organization ID", &id)?)
                        .await
                }
                _ => Err(ApiError::bad_input("pass exactly one of `path` and `id`")),
            }
        }
        .await
        .gql()
    }

    /// Organizations in path order: the top-level ones, or the children of
    /// `parent` (a path).
    #[graphql(complexity = "crate::explorer::page_complexity(first, last, child_complexity)")]
    async fn organizations(
        &self,
        ctx: &Context<'_>,
        parent: Option<String>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<crate::paging::Page<Organization>> {
        let state = ApiState::of(ctx);
        let parent = match parent {
            Some(path) => Some(require_organization(state, &path).await.gql()?.id),
            None => None,
        };
        types::organization_page(
            ctx,
            parent,
            crate::paging::PageArgs::new(after, before, first, last),
        )
        .await
        .gql()
    }

    /// Whether `identity` (a name) is a member or owner of `organization`
    /// (a path), with the chain of roles that proves it: ownership is
    /// inherited down the tree and through organizations that own
    /// organizations; membership through organizations holding roles.
    async fn is_member(
        &self,
        ctx: &Context<'_>,
        organization: String,
        identity: String,
    ) -> async_graphql::Result<Membership> {
        let state = ApiState::of(ctx);
        async {
            let organization = require_organization(state, &organization).await?;
            let identity = require_identity(state, &identity).await?;
            graph::membership(state, &identity, &organization).await
        }
        .await
        .gql()
    }

    /// The shortest chain of vouches from `from` to `to` (names), at most
    /// `maxDepth` vouches long (1–6, default 4); none when there is none.
    async fn trust_path(
        &self,
        ctx: &Context<'_>,
        from: String,
        to: String,
        #[graphql(default = 4)] max_depth: i32,
    ) -> async_graphql::Result<Option<TrustPath>> {
        let state = ApiState::of(ctx);
        async {
            if !(1..=graph::MAX_TRUST_DEPTH).contains(&max_depth) {
                return Err(ApiError::bad_input(format!(
                    "maxDepth must be 1 to {}, not {max_depth}",
                    graph::MAX_TRUST_DEPTH
                )));
            }
            let from = require_identity(state, &from).await?;
            let to = require_identity(state, &to).await?;
            graph::trust_path(state, &from, &to, max_depth).await
        }
        .await
        .gql()
    }
}
