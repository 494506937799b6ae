//! Login for private data: a challenge signed by an identity key, exchanged
//! for a short-lived bearer token (`docs/identity.md`, "Login").
//!
//! 1. `loginChallenge(identity | publicKey)` issues a
//!    [`ledger::crypto::LoginChallenge`]: the API's public origin, 32 random
//!    bytes, issue and expiry times, and what the client said it is. Its
//!    text carries a MAC under the server secret, so the API keeps no state
//!    and any replica with the same secret accepts it.
//! 2. The client signs it through the login-purpose transcript (chain ID,
//!    origin, every field, its key) and calls `login(challenge, publicKey,
//!    signature)`. The API checks its MAC, the origin, the expiry, the
//!    signature, and that the key is an active key of an identity in the
//!    identity read model, records the challenge as used ([`used`]: a
//!    second answer is refused); it answers a [`token`] (MAC'd claims:
//!    identity, key, expiry).
//! 3. Every use of a token ([`viewer::Viewer::require`]) checks the MAC and
//!    the expiry and looks the key up again in the read model at its
//!    current height, so a key rotated away or revoked on chain stops
//!    working as soon as the projector has folded that block.
//!
//! The [`viewer`] module carries the token from the request (HTTP
//! `Authorization: Bearer`, or the graphql-ws `connection_init` payload)
//! to resolvers; [`keys`] is the read-model lookup.

pub mod keys;
pub mod token;
pub mod used;
pub mod viewer;

use std::time::{SystemTime, UNIX_EPOCH};

use async_graphql::{Context, Object, SimpleObject};
use ledger::PublicKey;
use ledger::crypto::{LoginChallenge, LoginError, Signature};
use rand_core::{OsRng, RngCore};

use crate::context::ApiState;
use crate::error::{ApiError, ApiResult, IntoGraphql};
use keys::{KeyHolder, key_holder};
pub use token::{LoginSecret, TokenClaims};
pub use viewer::{BearerToken, Viewer};

/// How login behaves: the secret that signs challenges and tokens, the
/// origin challenges are bound to, and lifetimes.
#[derive(Clone)]
pub struct LoginConfig {
    pub secret: LoginSecret,
    /// The API's public origin (`scheme://host[:port]`, what clients
    /// connect to). `None`: `http://` and the address the server bound.
    pub origin: Option<String>,
    /// Seconds a challenge may be answered.
    pub challenge_seconds: u64,
    /// Seconds a token lives.
    pub token_seconds: u64,
}

impl LoginConfig {
    /// Default lifetimes: 5 minutes to answer, 15 minutes per token.
    pub const DEFAULT_CHALLENGE_SECONDS: u64 = 300;
    pub const DEFAULT_TOKEN_SECONDS: u64 = 900;

    /// A configuration with a fresh random secret (tokens then only work
    /// on this process, until it stops).
    pub fn ephemeral() -> LoginConfig {
        LoginConfig {
            secret: LoginSecret::random(),
            origin: None,
            challenge_seconds: Self::DEFAULT_CHALLENGE_SECONDS,
            token_seconds: Self::DEFAULT_TOKEN_SECONDS,
        }
    }

    /// The origin challenges are bound to.
    pub fn origin(&self) -> &str {
        self.origin.as_deref().unwrap_or("http://unconfigured")
    }
}

impl std::fmt::Debug for LoginConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginConfig")
            .field("origin", &self.origin)
            .field("challenge_seconds", &self.challenge_seconds)
            .field("token_seconds", &self.token_seconds)
            .finish_non_exhaustive()
    }
}

/// Unix seconds now.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// Parses a public key argument: 64 hex digits, optionally `ed25519:`.
pub fn parse_public_key(text: &str) -> ApiResult<PublicKey> {
    let text = text.trim();
    let hex_part = text.strip_prefix("ed25519:").unwrap_or(text);
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(hex_part, &mut bytes).map_err(|_| {
        ApiError::bad_input(format!("public key {text:?} is not 64 hexadecimal digits"))
    })?;
    let key = PublicKey(bytes);
    key.check_usable()
        .map_err(|error| ApiError::bad_input(error.to_string()))?;
    Ok(key)
}

fn parse_signature(text: &str) -> ApiResult<Signature> {
    let mut bytes = [0u8; 64];
    hex::decode_to_slice(text.trim(), &mut bytes).map_err(|_| {
        ApiError::bad_input("the signature is not 128 hexadecimal digits (64 bytes)")
    })?;
    Ok(Signature(bytes))
}

/// A challenge to sign (`loginChallenge`).
#[derive(Debug, Clone, SimpleObject)]
pub struct LoginChallengeView {
    /// What to pass back to `login` (opaque to clients, who read the
    /// fields below or decode it with `ledger::crypto::LoginChallenge`).
    pub challenge: String,
    /// The origin the signature is bound to.
    pub origin: String,
    /// The chain ID the signature is bound to (hex).
    pub chain_id: String,
    /// The random nonce (hex).
    pub nonce: String,
    pub issued_at: u64,
    /// Unix seconds after which `login` refuses it.
    pub expires_at: u64,
    pub identity: Option<String>,
    pub public_key: Option<String>,
}

/// A bearer token (`login`).
#[derive(Debug, Clone, SimpleObject)]
pub struct LoginToken {
    /// Send as `Authorization: Bearer <token>` (HTTP) or as
    /// `{"authorization": "Bearer <token>"}` in the graphql-ws
    /// `connection_init` payload.
    pub token: String,
    /// The identity the token acts for (its name).
    pub identity: String,
    /// The key that logged in (hex).
    pub public_key: String,
    /// Unix seconds after which the token is refused.
    pub expires_at: u64,
}

async fn issue_challenge(
    state: &ApiState,
    identity: Option<String>,
    public_key: Option<String>,
) -> ApiResult<LoginChallengeView> {
    let identity = identity
        .map(|name| name.trim().to_lowercase())
        .filter(|name| !name.is_empty());
    if identity
        .as_ref()
        .is_some_and(|name| name.len() > ledger::crypto::login::MAX_IDENTITY_LENGTH)
    {
        return Err(ApiError::bad_input("the identity name is too long"));
    }
    let public_key = public_key.as_deref().map(parse_public_key).transpose()?;
    if identity.is_none() && public_key.is_none() {
        return Err(ApiError::bad_input(
            "name the identity or the public key that will sign",
        ));
    }
    // Refuse early what `login` would refuse anyway.
    if let Some(key) = &public_key {
        let holder = key_holder(state, key).await?;
        holder.active_for(key, identity.as_deref())?;
    } else if let Some(name) = &identity
        && !keys::identity_exists(state, name).await?
    {
        return Err(ApiError::UnknownIdentity(name.clone()));
    }
    let mut nonce = [0u8; 32];
    OsRng.fill_bytes(&mut nonce);
    let issued_at = now();
    let challenge = LoginChallenge {
        origin: state.login.origin().to_owned(),
        nonce,
        issued_at,
        expires_at: issued_at.saturating_add(state.login.challenge_seconds),
        identity,
        public_key,
    };
    let tag = state.login.secret.challenge_tag(&challenge.encode());
    Ok(LoginChallengeView {
        challenge: challenge.to_text(&tag),
        origin: challenge.origin.clone(),
        chain_id: state.network.config.params.chain_id.to_string(),
        nonce: hex::encode(challenge.nonce),
        issued_at: challenge.issued_at,
        expires_at: challenge.expires_at,
        identity: challenge.identity.clone(),
        public_key: challenge.public_key.map(|key| hex::encode(key.0)),
    })
}

async fn log_in(
    state: &ApiState,
    challenge: &str,
    public_key: &str,
    signature: &str,
) -> ApiResult<LoginToken> {
    let signer = parse_public_key(public_key)?;
    let signature = parse_signature(signature)?;
    let (challenge, tag) = LoginChallenge::from_text(challenge)
        .map_err(|error| ApiError::BadChallenge(error.to_string()))?;
    if !state
        .login
        .secret
        .check_challenge_tag(&challenge.encode(), &tag)
    {
        return Err(ApiError::BadChallenge(
            "this API did not issue the challenge (or it was altered)".into(),
        ));
    }
    let chain_id = state.network.config.params.chain_id;
    challenge
        .verify_answer(&chain_id, state.login.origin(), now(), &signer, &signature)
        .map_err(|error| match error {
            LoginError::Expired { expires_at, now } => ApiError::LoginExpired {
                what: "challenge",
                expires_at,
                now,
            },
            LoginError::BadSignature(_) => ApiError::BadSignature(error.to_string()),
            other => ApiError::BadChallenge(other.to_string()),
        })?;
    let holder = key_holder(state, &signer).await?;
    let identity = holder.active_for(&signer, challenge.identity.as_deref())?;
    // Single use: a second answer (replayed, or raced) is CHALLENGE_USED.
    used::consume(&state.pool, &challenge.nonce, challenge.expires_at, now()).await?;
    let issued_at = now();
    let claims = TokenClaims {
        chain_id: chain_id.0.0,
        identity_id: identity.id,
        public_key: signer,
        issued_at,
        expires_at: issued_at.saturating_add(state.login.token_seconds),
    };
    tracing::info!(identity = %identity.name, key = %signer, "login");
    Ok(LoginToken {
        token: state.login.secret.token(&claims),
        identity: identity.name,
        public_key: hex::encode(signer.0),
        expires_at: claims.expires_at,
    })
}

/// `loginChallenge` and `login`.
#[derive(Default)]
pub struct LoginMutation;

#[Object]
impl LoginMutation {
    /// A challenge for `identity` (its name) or `publicKey` (hex), to be
    /// signed through the login-purpose transcript and answered with
    /// `login` before `expiresAt`. Errors: UNKNOWN_IDENTITY, UNKNOWN_KEY,
    /// KEY_REVOKED, BAD_USER_INPUT.
    async fn login_challenge(
        &self,
        ctx: &Context<'_>,
        identity: Option<String>,
        public_key: Option<String>,
    ) -> async_graphql::Result<LoginChallengeView> {
        issue_challenge(ApiState::of(ctx), identity, public_key)
            .await
            .gql()
    }

    /// Exchanges a signed challenge for a bearer token; a challenge is
    /// answered once. Errors: BAD_CHALLENGE (not issued by this API,
    /// another origin), CHALLENGE_USED (answered before), LOGIN_EXPIRED,
    /// BAD_SIGNATURE, UNKNOWN_KEY, KEY_REVOKED.
    async fn login(
        &self,
        ctx: &Context<'_>,
        challenge: String,
        public_key: String,
        signature: String,
    ) -> async_graphql::Result<LoginToken> {
        log_in(ApiState::of(ctx), &challenge, &public_key, &signature)
            .await
            .gql()
    }
}

/// `viewer`: who the request's token logs in as.
#[derive(Default)]
pub struct LoginQuery;

#[Object]
impl LoginQuery {
    /// The identity the request's bearer token acts for, checked against
    /// the identity read model now. Errors: UNAUTHENTICATED, BAD_TOKEN,
    /// LOGIN_EXPIRED, UNKNOWN_KEY, KEY_REVOKED.
    async fn viewer(&self, ctx: &Context<'_>) -> async_graphql::Result<Viewer> {
        Viewer::require(ctx).await
    }
}

impl KeyHolder {
    /// The identity `key` acts for, if it is an active key of the identity
    /// named `expected` (any identity when `None`).
    pub fn active_for(
        self,
        key: &PublicKey,
        expected: Option<&str>,
    ) -> ApiResult<keys::IdentityRef> {
        match self {
            KeyHolder::Unknown => Err(ApiError::UnknownKey(hex::encode(key.0))),
            KeyHolder::Inactive { identity, reason } => Err(ApiError::KeyRevoked {
                key: hex::encode(key.0),
                identity: identity.name,
                reason,
            }),
            KeyHolder::Active(identity) => match expected {
                Some(name) if name != identity.name => Err(ApiError::UnknownKey(format!(
                    "{} (it is a key of {}, not of {name})",
                    hex::encode(key.0),
                    identity.name
                ))),
                _ => Ok(identity),
            },
        }
    }
}
