//! The GraphQL schema: the root query and mutation types merge each
//! area's fields (explorer, login, and the domains' modules), with the
//! subscriptions and the depth and complexity limits; and its SDL, which
//! is checked in as `schema/schema.graphql`.

use async_graphql::{MergedObject, Schema};

use crate::chat::ChatQuery;
use crate::compute::ComputeQuery;
use crate::context::ApiState;
use crate::explorer::ExplorerQuery;
use crate::identity::IdentityQuery;
use crate::login::{LoginMutation, LoginQuery};
use crate::mutation::TransactionMutation;
use crate::storage::StorageQuery;
use crate::subscription::Subscription;

/// The query root.
#[derive(MergedObject, Default)]
pub struct Query(
    ExplorerQuery,
    LoginQuery,
    ChatQuery,
    IdentityQuery,
    ComputeQuery,
    StorageQuery,
);

/// The mutation root.
#[derive(MergedObject, Default)]
pub struct Mutation(TransactionMutation, LoginMutation);

/// The API's schema type.
pub type ApiSchema = Schema<Query, Mutation, Subscription>;

/// The schema serving `state`, with its limits.
pub fn build_schema(state: ApiState) -> ApiSchema {
    let limits = state.limits.clone();
    Schema::build(Query::default(), Mutation::default(), Subscription)
        .data(state)
        .limit_depth(limits.max_depth)
        .limit_complexity(limits.max_complexity)
        .finish()
}

/// The schema in SDL, as written to `schema/schema.graphql`.
pub fn sdl() -> String {
    Schema::build(Query::default(), Mutation::default(), Subscription)
        .finish()
        .sdl()
}
