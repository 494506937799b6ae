//! The logged-in identity of a request: the guard private data uses.
//!
//! The HTTP handler (`Authorization: Bearer <token>`) and the WebSocket
//! handler (`connection_init` payload `{"authorization": "Bearer <token>"}`
//! or `{"token": "<token>"}`) only put the raw [`BearerToken`] into the
//! request's data; nothing is checked until a resolver asks. A resolver of
//! private data calls [`Viewer::require`], which checks the token's MAC,
//! chain and expiry and then looks its key up in the identity read model
//! *now*, so a key revoked or rotated away on chain stops opening private
//! data within one block. Subscriptions of private data call
//! [`Viewer::check`] again for every item they push.

use async_graphql::{Context, Object};
use ledger::PublicKey;

use super::keys::key_holder;
use super::now;
use crate::context::ApiState;
use crate::error::{ApiError, ApiResult, IntoGraphql};

/// The token a request carried, unchecked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BearerToken(pub String);

impl BearerToken {
    /// From an `Authorization` header value: `Bearer <token>`.
    pub fn from_header(value: &str) -> Option<BearerToken> {
        let (scheme, token) = value.trim().split_once(' ')?;
        (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty())
            .then(|| BearerToken(token.trim().to_owned()))
    }

    /// From a graphql-ws `connection_init` payload: `authorization`
    /// (`Bearer <token>`, any case of the key) or `token`.
    pub fn from_init_payload(payload: &serde_json::Value) -> Option<BearerToken> {
        let object = payload.as_object()?;
        for (key, value) in object {
            let Some(text) = value.as_str() else { continue };
            if key.eq_ignore_ascii_case("authorization") {
                return BearerToken::from_header(text);
            }
            if key == "token" && !text.trim().is_empty() {
                return Some(BearerToken(text.trim().to_owned()));
            }
        }
        None
    }
}

/// An identity logged in through a valid token whose key is active now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    pub identity_id: [u8; 32],
    pub name: String,
    pub public_key: PublicKey,
    pub expires_at: u64,
}

impl Viewer {
    /// The viewer of the request, or UNAUTHENTICATED / BAD_TOKEN /
    /// LOGIN_EXPIRED / UNKNOWN_KEY / KEY_REVOKED.
    pub async fn require(ctx: &Context<'_>) -> async_graphql::Result<Viewer> {
        let state = ApiState::of(ctx);
        let Some(token) = ctx.data_opt::<BearerToken>() else {
            return Err(ApiError::Unauthenticated.into_graphql());
        };
        Viewer::check(state, &token.0).await.gql()
    }

    /// The viewer of the request if it carries a valid token, `None` when
    /// it carries none (a bad token is still an error).
    pub async fn optional(ctx: &Context<'_>) -> async_graphql::Result<Option<Viewer>> {
        match ctx.data_opt::<BearerToken>() {
            None => Ok(None),
            Some(token) => Viewer::check(ApiState::of(ctx), &token.0)
                .await
                .map(Some)
                .gql(),
        }
    }

    /// Checks a token now: MAC, chain, expiry, and the key's status in the
    /// identity read model.
    pub async fn check(state: &ApiState, token: &str) -> ApiResult<Viewer> {
        let claims = state
            .login
            .secret
            .verify_token(token)
            .map_err(|error| ApiError::BadToken(error.to_string()))?;
        if claims.chain_id != state.network.config.params.chain_id.0.0 {
            return Err(ApiError::BadToken(
                "the token was issued for another chain".into(),
            ));
        }
        let now = now();
        if now > claims.expires_at {
            return Err(ApiError::LoginExpired {
                what: "token",
                expires_at: claims.expires_at,
                now,
            });
        }
        let identity = key_holder(state, &claims.public_key)
            .await?
            .active_for(&claims.public_key, None)?;
        if identity.id != claims.identity_id {
            return Err(ApiError::KeyRevoked {
                key: hex::encode(claims.public_key.0),
                identity: identity.name,
                reason: "it no longer acts for the identity that logged in".into(),
            });
        }
        Ok(Viewer {
            identity_id: identity.id,
            name: identity.name,
            public_key: claims.public_key,
            expires_at: claims.expires_at,
        })
    }
}

#[Object]
impl Viewer {
    /// The identity's name.
    async fn identity(&self) -> &str {
        &self.name
    }

    /// The identity's ID (hex).
    async fn identity_id(&self) -> String {
        hex::encode(self.identity_id)
    }

    /// The key that logged in (hex).
    async fn public_key(&self) -> String {
        hex::encode(self.public_key.0)
    }

    /// Unix seconds after which the token is refused.
    async fn expires_at(&self) -> u64 {
        self.expires_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_read_from_headers_and_init_payloads() {
        assert_eq!(
            BearerToken::from_header("Bearer abc"),
            Some(BearerToken("abc".into()))
        );
        assert_eq!(
            BearerToken::from_header("bearer  abc "),
            Some(BearerToken("abc".into()))
        );
        assert_eq!(BearerToken::from_header("Basic abc"), None);
        assert_eq!(BearerToken::from_header("Bearer "), None);
        let payload = serde_json::json!({ "Authorization": "Bearer t1" });
        assert_eq!(
            BearerToken::from_init_payload(&payload),
            Some(BearerToken("t1".into()))
        );
        let payload = serde_json::json!({ "token": "t2" });
        assert_eq!(
            BearerToken::from_init_payload(&payload),
            Some(BearerToken("t2".into()))
        );
        assert_eq!(
            BearerToken::from_init_payload(&serde_json::json!(null)),
            None
        );
        assert_eq!(
            BearerToken::from_init_payload(&serde_json::json!({"token": 3})),
            None
        );
    }
}
