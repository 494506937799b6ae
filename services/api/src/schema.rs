//! The GraphQL schema: the explorer queries, the mutations and the
//! subscriptions, with the depth and complexity limits; and its SDL,
//! which is checked in as `schema/schema.graphql`.

use async_graphql::Schema;

use crate::context::ApiState;
use crate::explorer::ExplorerQuery;
use crate::mutation::Mutation;
use crate::subscription::Subscription;

/// The API's schema type.
pub type ApiSchema = Schema<ExplorerQuery, Mutation, Subscription>;

/// The schema serving `state`, with its limits.
pub fn build_schema(state: ApiState) -> ApiSchema {
    let limits = state.limits.clone();
    Schema::build(ExplorerQuery::default(), Mutation, Subscription)
        .data(state)
        .limit_depth(limits.max_depth)
        .limit_complexity(limits.max_complexity)
        .finish()
}

/// The schema in SDL, as written to `schema/schema.graphql`.
pub fn sdl() -> String {
    Schema::build(ExplorerQuery::default(), Mutation, Subscription)
        .finish()
        .sdl()
}
