//! The identity read model's GraphQL types and their SQL: identities,
//! keys, attributes, attestations, vouches, roles, invitations,
//! authorizations, activity and organizations.

use async_graphql::{ComplexObject, Context, Enum, Object, SimpleObject, Union};
use sqlx::Postgres;

use super::{db, in_model};
use crate::context::{ApiState, hex_id};
use crate::error::{ApiError, ApiResult, IntoGraphql};
use crate::explorer::page_complexity;
use crate::login::Viewer;
use crate::paging::{KeyPart, ListQuery, Page, PageArgs, SqlValue, fetch_page, wants_total};

const IDENTITY_COLUMNS: &str = "SELECT i.id, i.name, i.registered_height, i.registered_tx, i.active_keys FROM identity.identity i";

/// An identity: a unique name and the keys that act for it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Identity {
    pub id: Vec<u8>,
    pub name: String,
    pub registered_height: i64,
    pub registered_tx: Vec<u8>,
    pub active_keys: i32,
}

/// The identity matching `condition` (one bind parameter, `$1`).
pub async fn identity_where<B>(
    state: &ApiState,
    condition: &str,
    bind: B,
) -> ApiResult<Option<Identity>>
where
    B: for<'q> sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres> + Send,
{
    let sql = format!("{IDENTITY_COLUMNS} WHERE {condition}");
    sqlx::query_as(&sql)
        .bind(bind)
        .fetch_optional(&state.pool)
        .await
        .map_err(db)
}

/// An identity by stored ID, which the model's invariants say exists.
async fn identity_of(state: &ApiState, id: &[u8]) -> ApiResult<Identity> {
    super::identity_by_id(state, id).await?.ok_or_else(|| {
        ApiError::CorruptRow(format!("identity {} is referenced but missing", hex_id(id)))
    })
}

async fn organization_of(state: &ApiState, id: &[u8]) -> ApiResult<Organization> {
    organization_where(state, "o.id = $1", id.to_vec())
        .await?
        .ok_or_else(|| {
            ApiError::CorruptRow(format!(
                "organization {} is referenced but missing",
                hex_id(id)
            ))
        })
}

/// A page of an identity list, mapping a missing schema to this model.
async fn page<R, N>(
    ctx: &Context<'_>,
    query: ListQuery<'_>,
    args: PageArgs,
    key_of: impl Fn(&R) -> Vec<KeyPart>,
    node: impl Fn(R) -> ApiResult<N>,
) -> async_graphql::Result<Page<N>>
where
    R: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
    N: async_graphql::OutputType,
{
    let state = ApiState::of(ctx);
    fetch_page(
        &state.pool,
        &state.limits,
        query,
        args,
        wants_total(ctx),
        key_of,
        node,
    )
    .await
    .map_err(in_model)
    .gql()
}

#[Object]
impl Identity {
    /// The identity's ID (hex): from the transaction that registered it.
    async fn id(&self) -> String {
        hex_id(&self.id)
    }

    async fn name(&self) -> &str {
        &self.name
    }

    async fn registered_height(&self) -> i64 {
        self.registered_height
    }

    /// The registering transaction (hex).
    async fn registered_transaction(&self) -> String {
        hex_id(&self.registered_tx)
    }

    /// Keys that act for it now.
    async fn active_key_count(&self) -> i32 {
        self.active_keys
    }

    /// Every key ever bound, oldest first, with its status (active,
    /// retired: rotated away, revoked) and history.
    #[graphql(complexity = "page_complexity(first, last, child_complexity)")]
    async fn keys(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<Page<IdentityKey>> {
        let query = ListQuery {
            list: "identity-key",
            select:
                "SELECT k.public_key, k.status, k.added_by, k.added_height, k.added_tx, k.replaces,
                            k.replaced_by, k.retired_height, k.revoked_height
                       FROM identity.identity_key k",
            from: "FROM identity.identity_key k",
            filters: vec![("k.identity = ", SqlValue::Bytes(self.id.clone()))],
            conditions: vec![],
            key: &["k.added_height", "k.public_key"],
            descending: false,
        };
        page(
            ctx,
            query,
            PageArgs::new(after, before, first, last),
            |row: &IdentityKey| {
                vec![
                    KeyPart::Int(row.added_height),
                    KeyPart::Bytes(row.public_key.clone()),
                ]
            },
            Ok,
        )
        .await
    }

    /// Attributes (label and salted commitment; values are never on
    /// chain), in label order, each with its attestations.
    async fn attributes(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Attribute>> {
        let state = ApiState::of(ctx);
        sqlx::query_as(
            "SELECT identity, label, commitment, added_height FROM identity.attribute
              WHERE identity = $1 ORDER BY label LIMIT 1000",
        )
        .bind(&self.id)
        .fetch_all(&state.pool)
        .await
        .map_err(db)
        .gql()
    }

    /// Attestations of this identity's attributes (any status), newest first.
    #[graphql(complexity = "page_complexity(first, last, child_complexity)")]
    async fn attestations(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<Page<Attestation>> {
        attestation_page(
            ctx,
            "a.subject = ",
            &self.id,
            PageArgs::new(after, before, first, last),
        )
        .await
    }

    /// Attestations this identity made as a verifier, newest first.
    #[graphql(complexity = "page_complexity(first, last, child_complexity)")]
    async fn attestations_given(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<Page<Attestation>> {
        attestation_page(
            ctx,
            "a.verifier = ",
            &self.id,
            PageArgs::new(after, before, first, last),
        )
        .await
    }

    /// Who vouches for this identity, newest first.
    #[graphql(complexity = "page_complexity(first, last, child_complexity)")]
    async fn vouches_received(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<Page<Vouch>> {
        vouch_page(
            ctx,
            "v.target = ",
            "v.voucher",
            &self.id,
            PageArgs::new(after, before, first, last),
        )
        .await
    }

    /// Whom this identity vouches for, newest first.
    #[graphql(complexity = "page_complexity(first, last, child_complexity)")]
    async fn vouches_given(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<Page<Vouch>> {
        vouch_page(
            ctx,
            "v.voucher = ",
            "v.target",
            &self.id,
            PageArgs::new(after, before, first, last),
        )
        .await
    }

    /// Roles this identity holds directly, newest first (inherited
    /// ownership: `isMember`).
    #[graphql(complexity = "page_complexity(first, last, child_complexity)")]
    async fn memberships(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<Page<OrganizationRole>> {
        role_page(
            ctx,
            "r.subject = ",
            &self.id,
            PageArgs::new(after, before, first, last),
        )
        .await
    }

    /// Invitations addressed to this identity that wait for an answer.
    async fn pending_invitations(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<Invitation>> {
        invitations(
            ApiState::of(ctx),
            "n.subject = $1 AND n.status = 'pending'",
            &self.id,
        )
        .await
        .gql()
    }

    /// The organizations this identity lets see its attributes, with the
    /// labels. Private: only with a token of this identity (UNAUTHENTICATED,
    /// FORBIDDEN otherwise).
    #[graphql(complexity = "page_complexity(first, last, child_complexity)")]
    async fn authorizations(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<Page<AuthorizationGrant>> {
        let viewer = Viewer::require(ctx).await?;
        if viewer.identity_id[..] != self.id[..] {
            return Err(ApiError::Forbidden(format!(
                "the authorizations of {} are private; {} is logged in",
                self.name, viewer.name
            ))
            .into_graphql());
        }
        let query = ListQuery {
            list: "authorization",
            select: "SELECT g.identity, g.organization, g.scopes, g.granted_height
                       FROM identity.authorization_grant g",
            from: "FROM identity.authorization_grant g",
            filters: vec![("g.identity = ", SqlValue::Bytes(self.id.clone()))],
            conditions: vec![],
            key: &["g.granted_height", "g.organization"],
            descending: true,
        };
        page(
            ctx,
            query,
            PageArgs::new(after, before, first, last),
            |row: &AuthorizationGrant| {
                vec![
                    KeyPart::Int(row.granted_height),
                    KeyPart::Bytes(row.organization.clone()),
                ]
            },
            Ok,
        )
        .await
    }

    /// Every change that concerns this identity, newest first.
    #[graphql(complexity = "page_complexity(first, last, child_complexity)")]
    async fn activity(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<Page<Activity>> {
        activity_page(ctx, &self.id, PageArgs::new(after, before, first, last)).await
    }
}

/// A key of an identity with its history.
#[derive(Debug, Clone, sqlx::FromRow, SimpleObject)]
#[graphql(complex)]
pub struct IdentityKey {
    #[graphql(skip)]
    pub public_key: Vec<u8>,
    /// active | retired (rotated away) | revoked.
    pub status: String,
    /// registration | added | rotation.
    pub added_by: String,
    pub added_height: i64,
    #[graphql(skip)]
    pub added_tx: Vec<u8>,
    #[graphql(skip)]
    pub replaces: Option<Vec<u8>>,
    #[graphql(skip)]
    pub replaced_by: Option<Vec<u8>>,
    pub retired_height: Option<i64>,
    pub revoked_height: Option<i64>,
}

#[ComplexObject]
impl IdentityKey {
    /// The ed25519 public key (hex).
    async fn public_key(&self) -> String {
        hex_id(&self.public_key)
    }

    /// The transaction that bound it (hex).
    async fn added_transaction(&self) -> String {
        hex_id(&self.added_tx)
    }

    /// The key this one replaced in a rotation (hex).
    async fn replaces(&self) -> Option<String> {
        self.replaces.as_deref().map(hex_id)
    }

    /// The key that replaced this one in a rotation (hex).
    async fn replaced_by(&self) -> Option<String> {
        self.replaced_by.as_deref().map(hex_id)
    }
}

/// An attribute: a label and a salted commitment to its value.
#[derive(Debug, Clone, sqlx::FromRow, SimpleObject)]
#[graphql(complex)]
pub struct Attribute {
    #[graphql(skip)]
    pub identity: Vec<u8>,
    pub label: String,
    #[graphql(skip)]
    pub commitment: Vec<u8>,
    pub added_height: i64,
}

#[ComplexObject]
impl Attribute {
    /// `H(tag ‖ salt ‖ value)` (hex); the owner keeps salt and value.
    async fn commitment(&self) -> String {
        hex_id(&self.commitment)
    }

    /// Attestations of this attribute (any status).
    async fn attestations(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Attestation>> {
        let state = ApiState::of(ctx);
        sqlx::query_as(&format!(
            "{ATTESTATION_COLUMNS} WHERE a.subject = $1 AND a.label = $2
              ORDER BY a.attested_height, a.verifier LIMIT 1000"
        ))
        .bind(&self.identity)
        .bind(&self.label)
        .fetch_all(&state.pool)
        .await
        .map_err(db)
        .gql()
    }
}

const ATTESTATION_COLUMNS: &str =
    "SELECT a.subject, a.label, a.verifier, a.commitment, a.attested_height,
        a.status, a.ended_height FROM identity.attestation a";

/// A verifier's attestation of a subject's attribute.
#[derive(Debug, Clone, sqlx::FromRow, SimpleObject)]
#[graphql(complex)]
pub struct Attestation {
    #[graphql(skip)]
    pub subject: Vec<u8>,
    pub label: String,
    #[graphql(skip)]
    pub verifier: Vec<u8>,
    #[graphql(skip)]
    pub commitment: Vec<u8>,
    pub attested_height: i64,
    /// active | revoked | attribute_removed.
    pub status: String,
    pub ended_height: Option<i64>,
}

#[ComplexObject]
impl Attestation {
    async fn subject(&self, ctx: &Context<'_>) -> async_graphql::Result<Identity> {
        identity_of(ApiState::of(ctx), &self.subject).await.gql()
    }

    async fn verifier(&self, ctx: &Context<'_>) -> async_graphql::Result<Identity> {
        identity_of(ApiState::of(ctx), &self.verifier).await.gql()
    }

    /// The commitment attested (hex).
    async fn commitment(&self) -> String {
        hex_id(&self.commitment)
    }
}

async fn attestation_page(
    ctx: &Context<'_>,
    filter: &'static str,
    id: &[u8],
    args: PageArgs,
) -> async_graphql::Result<Page<Attestation>> {
    let query = ListQuery {
        list: "attestation",
        select: ATTESTATION_COLUMNS,
        from: "FROM identity.attestation a",
        filters: vec![(filter, SqlValue::Bytes(id.to_vec()))],
        conditions: vec![],
        key: &[
            "a.attested_height",
            "a.subject",
            "a.verifier",
            "convert_to(a.label, 'UTF8')",
        ],
        descending: true,
    };
    page(
        ctx,
        query,
        args,
        |row: &Attestation| {
            vec![
                KeyPart::Int(row.attested_height),
                KeyPart::Bytes(row.subject.clone()),
                KeyPart::Bytes(row.verifier.clone()),
                KeyPart::Bytes(row.label.as_bytes().to_vec()),
            ]
        },
        Ok,
    )
    .await
}

/// A vouch: `voucher` trusts `target` with a weight and an optional claim.
#[derive(Debug, Clone, sqlx::FromRow, SimpleObject)]
#[graphql(complex)]
pub struct Vouch {
    #[graphql(skip)]
    pub voucher: Vec<u8>,
    #[graphql(skip)]
    pub target: Vec<u8>,
    /// 1–100.
    pub weight: i16,
    pub claim: Option<String>,
    pub vouched_height: i64,
}

#[ComplexObject]
impl Vouch {
    async fn voucher(&self, ctx: &Context<'_>) -> async_graphql::Result<Identity> {
        identity_of(ApiState::of(ctx), &self.voucher).await.gql()
    }

    async fn target(&self, ctx: &Context<'_>) -> async_graphql::Result<Identity> {
        identity_of(ApiState::of(ctx), &self.target).await.gql()
    }
}

async fn vouch_page(
    ctx: &Context<'_>,
    filter: &'static str,
    other: &'static str,
    id: &[u8],
    args: PageArgs,
) -> async_graphql::Result<Page<Vouch>> {
    let other_is_voucher = other == "v.voucher";
    let query = ListQuery {
        list: if other_is_voucher {
            "vouch-in"
        } else {
            "vouch-out"
        },
        select: "SELECT v.voucher, v.target, v.weight, v.claim, v.vouched_height FROM identity.vouch v",
        from: "FROM identity.vouch v",
        filters: vec![(filter, SqlValue::Bytes(id.to_vec()))],
        conditions: vec![],
        key: if other_is_voucher {
            &["v.vouched_height", "v.voucher"]
        } else {
            &["v.vouched_height", "v.target"]
        },
        descending: true,
    };
    page(
        ctx,
        query,
        args,
        move |row: &Vouch| {
            vec![
                KeyPart::Int(row.vouched_height),
                KeyPart::Bytes(if other_is_voucher {
                    row.voucher.clone()
                } else {
                    row.target.clone()
                }),
            ]
        },
        Ok,
    )
    .await
}

/// Who holds a role: an identity or an organization.
#[derive(Union)]
pub enum RoleSubject {
    Identity(Identity),
    Organization(Organization),
}

/// member or owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum RoleKind {
    Member,
    Owner,
}

/// A role held directly in an organization.
#[derive(Debug, Clone, sqlx::FromRow, SimpleObject)]
#[graphql(complex)]
pub struct OrganizationRole {
    #[graphql(skip)]
    pub organization: Vec<u8>,
    /// identity | organization.
    pub subject_kind: String,
    #[graphql(skip)]
    pub subject: Vec<u8>,
    /// member | owner.
    pub role: String,
    pub granted_height: i64,
    #[graphql(skip)]
    pub granted_by: Vec<u8>,
}

/// The identity or organization a stored subject names.
async fn subject_of(state: &ApiState, kind: &str, id: &[u8]) -> ApiResult<RoleSubject> {
    Ok(match kind {
        "organization" => RoleSubject::Organization(organization_of(state, id).await?),
        _ => RoleSubject::Identity(identity_of(state, id).await?),
    })
}

#[ComplexObject]
impl OrganizationRole {
    async fn organization(&self, ctx: &Context<'_>) -> async_graphql::Result<Organization> {
        organization_of(ApiState::of(ctx), &self.organization)
            .await
            .gql()
    }

    async fn subject(&self, ctx: &Context<'_>) -> async_graphql::Result<RoleSubject> {
        subject_of(ApiState::of(ctx), &self.subject_kind, &self.subject)
            .await
            .gql()
    }

    async fn granted_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Identity> {
        identity_of(ApiState::of(ctx), &self.granted_by).await.gql()
    }
}

const ROLE_COLUMNS: &str =
    "SELECT r.organization, r.subject_kind, r.subject, r.role, r.granted_height,
        r.granted_by FROM identity.organization_role r";

async fn role_page(
    ctx: &Context<'_>,
    filter: &'static str,
    id: &[u8],
    args: PageArgs,
) -> async_graphql::Result<Page<OrganizationRole>> {
    let query = ListQuery {
        list: "role",
        select: ROLE_COLUMNS,
        from: "FROM identity.organization_role r",
        filters: vec![(filter, SqlValue::Bytes(id.to_vec()))],
        conditions: vec![],
        key: &["r.granted_height", "r.organization", "r.subject"],
        descending: true,
    };
    page(
        ctx,
        query,
        args,
        |row: &OrganizationRole| {
            vec![
                KeyPart::Int(row.granted_height),
                KeyPart::Bytes(row.organization.clone()),
                KeyPart::Bytes(row.subject.clone()),
            ]
        },
        Ok,
    )
    .await
}

/// An invitation to take a role, with its outcome.
#[derive(Debug, Clone, sqlx::FromRow, SimpleObject)]
#[graphql(complex)]
pub struct Invitation {
    #[graphql(skip)]
    pub organization: Vec<u8>,
    pub subject_kind: String,
    #[graphql(skip)]
    pub subject: Vec<u8>,
    pub invited_height: i64,
    pub role: String,
    #[graphql(skip)]
    pub invited_by: Vec<u8>,
    /// pending | accepted | rejected | cancelled | replaced.
    pub status: String,
    pub resolved_height: Option<i64>,
}

#[ComplexObject]
impl Invitation {
    async fn organization(&self, ctx: &Context<'_>) -> async_graphql::Result<Organization> {
        organization_of(ApiState::of(ctx), &self.organization)
            .await
            .gql()
    }

    async fn subject(&self, ctx: &Context<'_>) -> async_graphql::Result<RoleSubject> {
        subject_of(ApiState::of(ctx), &self.subject_kind, &self.subject)
            .await
            .gql()
    }

    async fn invited_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Identity> {
        identity_of(ApiState::of(ctx), &self.invited_by).await.gql()
    }
}

async fn invitations(state: &ApiState, condition: &str, id: &[u8]) -> ApiResult<Vec<Invitation>> {
    sqlx::query_as(&format!(
        "SELECT n.organization, n.subject_kind, n.subject, n.invited_height, n.role, n.invited_by,
                n.status, n.resolved_height
           FROM identity.invitation n WHERE {condition}
          ORDER BY n.invited_height DESC, n.invited_tx_index DESC LIMIT 100"
    ))
    .bind(id)
    .fetch_all(&state.pool)
    .await
    .map_err(db)
}

/// Labels an identity lets an organization see.
#[derive(Debug, Clone, sqlx::FromRow, SimpleObject)]
#[graphql(complex)]
pub struct AuthorizationGrant {
    #[graphql(skip)]
    pub identity: Vec<u8>,
    #[graphql(skip)]
    pub organization: Vec<u8>,
    /// Attribute labels.
    pub scopes: Vec<String>,
    pub granted_height: i64,
}

#[ComplexObject]
impl AuthorizationGrant {
    async fn organization(&self, ctx: &Context<'_>) -> async_graphql::Result<Organization> {
        organization_of(ApiState::of(ctx), &self.organization)
            .await
            .gql()
    }
}

/// A change concerning an identity or organization.
#[derive(Debug, Clone, sqlx::FromRow, SimpleObject)]
#[graphql(complex)]
pub struct Activity {
    pub height: i64,
    /// Position of the event in its block.
    pub event_index: i64,
    #[graphql(skip)]
    pub concerns: Vec<u8>,
    #[graphql(skip)]
    pub transaction_id: Vec<u8>,
    /// identity_registered, key_rotated, vouched, …
    pub kind: String,
}

#[ComplexObject]
impl Activity {
    /// The identity or organization it concerns (hex ID).
    async fn concerns(&self) -> String {
        hex_id(&self.concerns)
    }

    async fn transaction_id(&self) -> String {
        hex_id(&self.transaction_id)
    }
}

/// Activity rows of `id` above `last` up to `upto` (oldest first), for
/// subscriptions.
pub async fn activity_between(
    state: &ApiState,
    id: &[u8],
    last: i64,
    upto: i64,
) -> ApiResult<Vec<Activity>> {
    sqlx::query_as(
        "SELECT a.height, a.event_index, a.concerns, a.transaction_id, a.kind FROM identity.activity a
          WHERE a.concerns = $1 AND a.height > $2 AND a.height <= $3
          ORDER BY a.height, a.event_index LIMIT 1000",
    )
    .bind(id)
    .bind(last)
    .bind(upto)
    .fetch_all(&state.pool)
    .await
    .map_err(db)
}

async fn activity_page(
    ctx: &Context<'_>,
    id: &[u8],
    args: PageArgs,
) -> async_graphql::Result<Page<Activity>> {
    let query = ListQuery {
        list: "activity",
        select: "SELECT a.height, a.event_index, a.concerns, a.transaction_id, a.kind FROM identity.activity a",
        from: "FROM identity.activity a",
        filters: vec![("a.concerns = ", SqlValue::Bytes(id.to_vec()))],
        conditions: vec![],
        key: &["a.height", "a.event_index"],
        descending: true,
    };
    page(
        ctx,
        query,
        args,
        |row: &Activity| vec![KeyPart::Int(row.height), KeyPart::Int(row.event_index)],
        Ok,
    )
    .await
}

const ORGANIZATION_COLUMNS: &str =
    "SELECT o.id, o.path, o.parent, o.depth, o.creator, o.created_height,
        o.created_tx FROM identity.organization o";

/// An organization: a node of the tree of paths (`acme`, `acme.sales`).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Organization {
    pub id: Vec<u8>,
    pub path: String,
    pub parent: Option<Vec<u8>>,
    pub depth: i32,
    pub creator: Vec<u8>,
    pub created_height: i64,
    pub created_tx: Vec<u8>,
}

/// The organization matching `condition` (one bind parameter, `$1`).
pub async fn organization_where<B>(
    state: &ApiState,
    condition: &str,
    bind: B,
) -> ApiResult<Option<Organization>>
where
    B: for<'q> sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres> + Send,
{
    let sql = format!("{ORGANIZATION_COLUMNS} WHERE {condition}");
    sqlx::query_as(&sql)
        .bind(bind)
        .fetch_optional(&state.pool)
        .await
        .map_err(db)
}

/// Organizations in path order: children of `parent`, or the top level.
pub async fn organization_page(
    ctx: &Context<'_>,
    parent: Option<Vec<u8>>,
    args: PageArgs,
) -> ApiResult<Page<Organization>> {
    let (filters, conditions) = match parent {
        Some(parent) => (vec![("o.parent = ", SqlValue::Bytes(parent))], vec![]),
        None => (vec![], vec!["o.parent IS NULL"]),
    };
    let query = ListQuery {
        list: "organization",
        select: ORGANIZATION_COLUMNS,
        from: "FROM identity.organization o",
        filters,
        conditions,
        key: &["convert_to(o.path, 'UTF8')"],
        descending: false,
    };
    let state = ApiState::of(ctx);
    fetch_page(
        &state.pool,
        &state.limits,
        query,
        args,
        wants_total(ctx),
        |row: &Organization| vec![KeyPart::Bytes(row.path.as_bytes().to_vec())],
        Ok,
    )
    .await
    .map_err(in_model)
}

#[Object]
impl Organization {
    /// The organization's ID (hex): from the transaction that created it.
    async fn id(&self) -> String {
        hex_id(&self.id)
    }

    /// `parent.child` path.
    async fn path(&self) -> &str {
        &self.path
    }

    /// The last segment of the path.
    async fn name(&self) -> &str {
        self.path.rsplit('.').next().unwrap_or(&self.path)
    }

    /// Segments in the path (1 for a top-level organization).
    async fn depth(&self) -> i32 {
        self.depth
    }

    async fn parent(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Organization>> {
        match &self.parent {
            Some(parent) => organization_of(ApiState::of(ctx), parent)
                .await
                .map(Some)
                .gql(),
            None => Ok(None),
        }
    }

    async fn creator(&self, ctx: &Context<'_>) -> async_graphql::Result<Identity> {
        identity_of(ApiState::of(ctx), &self.creator).await.gql()
    }

    async fn created_height(&self) -> i64 {
        self.created_height
    }

    async fn created_transaction(&self) -> String {
        hex_id(&self.created_tx)
    }

    /// Direct sub-organizations, in path order.
    #[graphql(complexity = "page_complexity(first, last, child_complexity)")]
    async fn children(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<Page<Organization>> {
        organization_page(
            ctx,
            Some(self.id.clone()),
            PageArgs::new(after, before, first, last),
        )
        .await
        .gql()
    }

    /// The whole subtree below (not including) this organization, in path
    /// order (at most 1,000).
    async fn descendants(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Organization>> {
        let state = ApiState::of(ctx);
        let prefix = format!(
            "{}.",
            self.path
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        sqlx::query_as(&format!(
            "{ORGANIZATION_COLUMNS} WHERE o.path LIKE $1 || '%' ORDER BY o.path LIMIT 1000"
        ))
        .bind(prefix)
        .fetch_all(&state.pool)
        .await
        .map_err(db)
        .gql()
    }

    /// Roles held directly (members and owners), newest first. Owners of
    /// a parent are owners here too (see `isMember`, `owners`).
    #[graphql(complexity = "page_complexity(first, last, child_complexity)")]
    async fn roles(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<Page<OrganizationRole>> {
        role_page(
            ctx,
            "r.organization = ",
            &self.id,
            PageArgs::new(after, before, first, last),
        )
        .await
    }

    /// The owner roles that apply here: those held in this organization
    /// and in every organization above it (inherited), nearest first.
    async fn owners(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<OrganizationRole>> {
        let state = ApiState::of(ctx);
        sqlx::query_as(&format!(
            "WITH RECURSIVE up(id, distance) AS (
                 SELECT $1::bytea, 0
                 UNION ALL
                 SELECT o.parent, up.distance + 1 FROM identity.organization o
                   JOIN up ON o.id = up.id WHERE o.parent IS NOT NULL AND up.distance < 16
             )
             {ROLE_COLUMNS} JOIN up ON up.id = r.organization
              WHERE r.role = 'owner' ORDER BY up.distance, r.granted_height LIMIT 1000"
        ))
        .bind(&self.id)
        .fetch_all(&state.pool)
        .await
        .map_err(db)
        .gql()
    }

    /// Invitations of this organization that wait for an answer.
    async fn pending_invitations(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<Invitation>> {
        invitations(
            ApiState::of(ctx),
            "n.organization = $1 AND n.status = 'pending'",
            &self.id,
        )
        .await
        .gql()
    }

    /// Every change that concerns this organization, newest first.
    #[graphql(complexity = "page_complexity(first, last, child_complexity)")]
    async fn activity(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<Page<Activity>> {
        activity_page(ctx, &self.id, PageArgs::new(after, before, first, last)).await
    }
}
