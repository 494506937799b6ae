//! Graph questions answered in SQL with bounded recursive CTEs:
//! membership and ownership with the path of roles that proves them, and
//! trust paths over vouches.
//!
//! Ownership (as `chain::domains::identity::IdentityState::is_owner`): an
//! identity owns O when it, or an organization it owns, holds the owner
//! role in O or in an organization above O. So the organizations an
//! identity owns are the closure of: the organizations where it holds the
//! owner role; the children of an owned organization (inherited); the
//! organizations where an owned organization holds the owner role.
//! Membership (`is_member`): an owner, or it or an organization it is a
//! member of holds any role in O directly (membership is not inherited
//! down the tree). Each walk keeps its path and never revisits an
//! organization on it (cycles of organizations owning each other end),
//! and stops at [`MAX_GRAPH_DEPTH`] steps.

use async_graphql::{Context, Object, SimpleObject};

use super::db;
use super::types::{Identity, Organization};
use crate::context::{ApiState, hex_id};
use crate::error::{ApiError, ApiResult, IntoGraphql};

/// Longest chain of roles followed.
pub const MAX_GRAPH_DEPTH: i32 = 32;
/// Longest trust path asked for.
pub const MAX_TRUST_DEPTH: i32 = 6;

/// One step of a proof: how the walk reached `organization`.
#[derive(Debug, Clone, SimpleObject)]
pub struct MembershipStep {
    /// The organization reached (path).
    pub organization: String,
    /// `owner` / `member`: the previous holder (the identity, or the
    /// organization of the previous step) holds that role here;
    /// `inherited`: the previous step's organization is this one's parent.
    pub via: String,
}

/// Whether an identity is a member or owner of an organization, and why.
#[derive(Debug, Clone)]
pub struct Membership {
    pub identity: Identity,
    pub organization: Organization,
    pub owner: bool,
    pub member: bool,
    pub path: Vec<MembershipStep>,
}

#[Object]
impl Membership {
    async fn identity(&self) -> &Identity {
        &self.identity
    }

    async fn organization(&self) -> &Organization {
        &self.organization
    }

    /// An owner (directly, inherited, or through owned organizations).
    async fn owner(&self) -> bool {
        self.owner
    }

    /// A member (owners are members).
    async fn member(&self) -> bool {
        self.member
    }

    /// The shortest chain of roles that proves it, from the identity to
    /// the organization (the ownership chain when an owner); empty when
    /// neither.
    async fn path(&self) -> &[MembershipStep] {
        &self.path
    }
}

#[derive(sqlx::FromRow)]
struct WalkRow {
    paths: Vec<String>,
    vias: Vec<String>,
}

/// The owned closure of `$1` as `owned(org, orgs, paths, vias)`.
const OWNED: &str = "owned(org, orgs, paths, vias) AS (
        SELECT o.id, ARRAY[o.id], ARRAY[o.path], ARRAY['owner']
          FROM identity.organization_role r JOIN identity.organization o ON o.id = r.organization
         WHERE r.subject = $1 AND r.role = 'owner'
        UNION ALL
        SELECT step.id, w.orgs || step.id, w.paths || step.path, w.vias || step.via
          FROM owned w
          CROSS JOIN LATERAL (
                SELECT c.id, c.path, 'inherited' AS via FROM identity.organization c WHERE c.parent = w.org
                UNION ALL
                SELECT o.id, o.path, 'owner' FROM identity.organization_role r
                  JOIN identity.organization o ON o.id = r.organization
                 WHERE r.subject = w.org AND r.role = 'owner'
          ) step
         WHERE NOT step.id = ANY(w.orgs) AND cardinality(w.orgs) < $3
    )";

/// Whether `identity` is an owner or member of `organization`, with the
/// shortest proof.
pub async fn membership(
    state: &ApiState,
    identity: &Identity,
    organization: &Organization,
) -> ApiResult<Membership> {
    let owner: Option<WalkRow> = sqlx::query_as(&format!(
        "WITH RECURSIVE {OWNED}
         SELECT paths, vias FROM owned WHERE org = $2 ORDER BY cardinality(orgs) LIMIT 1"
    ))
    .bind(&identity.id)
    .bind(&organization.id)
    .bind(MAX_GRAPH_DEPTH)
    .fetch_optional(&state.pool)
    .await
    .map_err(db)?;
    let (owner, proof) = match owner {
        Some(row) => (true, Some(row)),
        None => {
            let member: Option<WalkRow> = sqlx::query_as(&format!(
                "WITH RECURSIVE {OWNED},
                 member(org, orgs, paths, vias) AS (
                     SELECT org, orgs, paths, vias FROM owned
                     UNION ALL
                     SELECT o.id, ARRAY[o.id], ARRAY[o.path], ARRAY[r.role]
                       FROM identity.organization_role r JOIN identity.organization o ON o.id = r.organization
                      WHERE r.subject = $1
                     UNION ALL
                     SELECT o.id, w.orgs || o.id, w.paths || o.path, w.vias || r.role
                       FROM member w
                       JOIN identity.organization_role r ON r.subject = w.org
                       JOIN identity.organization o ON o.id = r.organization
                      WHERE NOT o.id = ANY(w.orgs) AND cardinality(w.orgs) < $3
                 )
                 SELECT paths, vias FROM member WHERE org = $2 ORDER BY cardinality(orgs) LIMIT 1"
            ))
            .bind(&identity.id)
            .bind(&organization.id)
            .bind(MAX_GRAPH_DEPTH)
            .fetch_optional(&state.pool)
            .await
            .map_err(db)?;
            (false, member)
        }
    };
    let member = proof.is_some();
    let path = proof
        .map(|row| {
            row.paths
                .into_iter()
                .zip(row.vias)
                .map(|(organization, via)| MembershipStep { organization, via })
                .collect()
        })
        .unwrap_or_default();
    Ok(Membership {
        identity: identity.clone(),
        organization: organization.clone(),
        owner,
        member,
        path,
    })
}

/// A chain of vouches from one identity to another.
#[derive(Debug, Clone)]
pub struct TrustPath {
    /// The identities from the first to the last (IDs).
    pub identities: Vec<Vec<u8>>,
    /// The weight of each vouch along the chain.
    pub weights: Vec<i32>,
}

#[Object]
impl TrustPath {
    /// Vouches in the chain.
    async fn length(&self) -> i32 {
        i32::try_from(self.weights.len()).unwrap_or(i32::MAX)
    }

    /// The identities from `from` to `to`.
    async fn identities(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Identity>> {
        let state = ApiState::of(ctx);
        let mut identities = Vec::with_capacity(self.identities.len());
        for id in &self.identities {
            let identity = super::identity_by_id(state, id)
                .await
                .gql()?
                .ok_or_else(|| {
                    ApiError::CorruptRow(format!(
                        "identity {} is on a path but missing",
                        hex_id(id)
                    ))
                    .into_graphql()
                })?;
            identities.push(identity);
        }
        Ok(identities)
    }

    /// The weight (1–100) of each vouch, in order.
    async fn weights(&self) -> &[i32] {
        &self.weights
    }

    /// The smallest weight along the chain.
    async fn weakest(&self) -> i32 {
        self.weights.iter().copied().min().unwrap_or(0)
    }
}

#[derive(sqlx::FromRow)]
struct TrustRow {
    nodes: Vec<Vec<u8>>,
    weights: Vec<i32>,
}

/// The shortest vouch chain from `from` to `to` of at most `max_depth`
/// vouches (a breadth-first walk in SQL: simple paths only, not expanded
/// past the target, ordered by length then by the heaviest weakest link).
pub async fn trust_path(
    state: &ApiState,
    from: &Identity,
    to: &Identity,
    max_depth: i32,
) -> ApiResult<Option<TrustPath>> {
    if from.id == to.id {
        return Ok(Some(TrustPath {
            identities: vec![from.id.clone()],
            weights: Vec::new(),
        }));
    }
    let row: Option<TrustRow> = sqlx::query_as(
        "WITH RECURSIVE walk(node, nodes, weights) AS (
             SELECT $1::bytea, ARRAY[$1::bytea], ARRAY[]::int[]
             UNION ALL
             SELECT v.target, w.nodes || v.target, w.weights || v.weight::int
               FROM walk w JOIN identity.vouch v ON v.voucher = w.node
              WHERE w.node <> $2 AND NOT v.target = ANY(w.nodes) AND cardinality(w.weights) < $3
         )
         SELECT nodes, weights FROM walk WHERE node = $2
          ORDER BY cardinality(weights), (SELECT min(x) FROM unnest(weights) x) DESC
          LIMIT 1",
    )
    .bind(&from.id)
    .bind(&to.id)
    .bind(max_depth)
    .fetch_optional(&state.pool)
    .await
    .map_err(db)?;
    Ok(row.map(|row| TrustPath {
        identities: row.nodes,
        weights: row.weights,
    }))
}
