//! Which identity a key acts for, read from the identity read model
//! (schema `identity`, table contract in `docs/identity.md`) at the
//! height it has folded now.

use ledger::PublicKey;

use crate::context::ApiState;
use crate::error::{ApiError, ApiResult};

/// An identity as login sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityRef {
    pub id: [u8; 32],
    pub name: String,
}

/// A key's status now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyHolder {
    /// No identity ever had this key.
    Unknown,
    /// The key acts for this identity.
    Active(IdentityRef),
    /// The key was this identity's and no longer acts (`reason`: rotated
    /// away or revoked, at which height).
    Inactive {
        identity: IdentityRef,
        reason: String,
    },
}

fn identity_ref(id: Vec<u8>, name: String) -> ApiResult<IdentityRef> {
    let id: [u8; 32] = id.try_into().map_err(|bytes: Vec<u8>| {
        ApiError::CorruptRow(format!(
            "identity ID {} is not 32 bytes",
            hex::encode(bytes)
        ))
    })?;
    Ok(IdentityRef { id, name })
}

#[derive(sqlx::FromRow)]
struct KeyRow {
    id: Vec<u8>,
    name: String,
    active: bool,
    removal: Option<String>,
    removed_height: Option<i64>,
}

/// The status of `key` in the identity read model now.
pub async fn key_holder(state: &ApiState, key: &PublicKey) -> ApiResult<KeyHolder> {
    // A key is bound to at most one identity, ever (its row is keyed by
    // the key): active, retired (rotated away) or revoked.
    let row: Option<KeyRow> = sqlx::query_as(
        "SELECT i.id, i.name, k.status = 'active' AS active,
                CASE k.status WHEN 'retired' THEN 'rotated away' WHEN 'revoked' THEN 'revoked' END
                    AS removal,
                coalesce(k.revoked_height, k.retired_height) AS removed_height
           FROM identity.identity_key k
           JOIN identity.identity i ON i.id = k.identity
          WHERE k.public_key = $1
          LIMIT 1",
    )
    .bind(&key.0[..])
    .fetch_optional(&state.pool)
    .await
    .map_err(ApiError::from_model("identity"))?;
    let Some(row) = row else {
        return Ok(KeyHolder::Unknown);
    };
    let identity = identity_ref(row.id, row.name)?;
    if row.active {
        return Ok(KeyHolder::Active(identity));
    }
    let reason = format!(
        "{} at height {}",
        row.removal.as_deref().unwrap_or("removed"),
        row.removed_height.unwrap_or_default()
    );
    Ok(KeyHolder::Inactive { identity, reason })
}

/// Whether an identity of this name exists now.
pub async fn identity_exists(state: &ApiState, name: &str) -> ApiResult<bool> {
    let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM identity.identity WHERE name = $1")
        .bind(name)
        .fetch_optional(&state.pool)
        .await
        .map_err(ApiError::from_model("identity"))?;
    Ok(found.is_some())
}
