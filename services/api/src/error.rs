//! The API's one error type and its mapping to GraphQL errors.
//!
//! Every resolver returns [`ApiError`]; [`ApiError::into_graphql`] (used by
//! the `From` conversion) is the one place that decides what a client
//! sees: a clear message and an `extensions.code` a program can switch
//! on. Database and NATS failures are logged in full and reported to the
//! client without internals.

use async_graphql::ErrorExtensions;

/// Why a request could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// An argument is malformed (ID, address, amount, cursor, range, …).
    #[error("{0}")]
    BadInput(String),
    /// A page was asked for with more items than the limit allows.
    #[error("a page holds at most {max} items; {asked} were asked for")]
    PageTooLarge { asked: i64, max: usize },
    /// A cursor did not come from this list.
    #[error(
        "cursor {0:?} does not belong to this list (cursors are opaque; pass back what a page returned)"
    )]
    InvalidCursor(String),
    /// Bytes that are not a canonical transaction.
    #[error("not a canonical transaction: {0}")]
    UndecodableTransaction(String),
    /// The node refused a submitted transaction.
    #[error("the node rejected the transaction ({reason}): {message}")]
    Rejected { reason: String, message: String },
    /// No node answered a submission in time.
    #[error("no node answered the submission within {seconds} s")]
    NodeUnavailable { seconds: u64 },
    /// The read model is not installed yet (projector not run).
    #[error("the {model} read model is not available yet (is the projector running?)")]
    ModelUnavailable { model: &'static str },
    /// The database failed; details are in the server log.
    #[error("the database failed to answer; try again")]
    Database(#[source] sqlx::Error),
    /// NATS failed; details are in the server log.
    #[error("the message bus failed: {0}")]
    Nats(String),
    /// A stored row violates the read model's invariants.
    #[error("stored data is inconsistent: {0}")]
    CorruptRow(String),
    /// Private data was asked for without a bearer token.
    #[error(
        "log in first: this needs `Authorization: Bearer <token>` (see `loginChallenge` and `login`)"
    )]
    Unauthenticated,
    /// A token this API did not issue, altered, or for another chain.
    #[error("bad token: {0}")]
    BadToken(String),
    /// A login challenge this API did not issue, altered, or for another origin.
    #[error("bad login challenge: {0}")]
    BadChallenge(String),
    /// A login challenge that was already answered (challenges are single-use).
    #[error("this login challenge was already answered; ask for a new one (loginChallenge)")]
    ChallengeUsed,
    /// A challenge or token past its expiry.
    #[error("the login {what} expired at {expires_at} (now {now}); log in again")]
    LoginExpired {
        what: &'static str,
        expires_at: u64,
        now: u64,
    },
    /// A login signature that does not verify.
    #[error("{0}")]
    BadSignature(String),
    /// No identity has this key.
    #[error("no identity has the key {0}")]
    UnknownKey(String),
    /// No identity has this name.
    #[error("no identity is named {0:?}")]
    UnknownIdentity(String),
    /// The key was rotated away or revoked on chain.
    #[error("key {key} of {identity} no longer acts for it: {reason}")]
    KeyRevoked {
        key: String,
        identity: String,
        reason: String,
    },
    #[error("not allowed: {0}")]
    Forbidden(String),
}

impl ApiError {
    /// The stable code clients see in `extensions.code`.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadInput(_) => "BAD_USER_INPUT",
            ApiError::PageTooLarge { .. } => "PAGE_TOO_LARGE",
            ApiError::InvalidCursor(_) => "INVALID_CURSOR",
            ApiError::UndecodableTransaction(_) => "MALFORMED_TRANSACTION",
            ApiError::Rejected { .. } => "TRANSACTION_REJECTED",
            ApiError::NodeUnavailable { .. } => "NODE_UNAVAILABLE",
            ApiError::ModelUnavailable { .. } => "MODEL_UNAVAILABLE",
            ApiError::Database(_) => "DATABASE_ERROR",
            ApiError::Nats(_) => "BUS_ERROR",
            ApiError::CorruptRow(_) => "INTERNAL_ERROR",
            ApiError::Unauthenticated => "UNAUTHENTICATED",
            ApiError::BadToken(_) => "BAD_TOKEN",
            ApiError::BadChallenge(_) => "BAD_CHALLENGE",
            ApiError::ChallengeUsed => "CHALLENGE_USED",
            ApiError::LoginExpired { .. } => "LOGIN_EXPIRED",
            ApiError::BadSignature(_) => "BAD_SIGNATURE",
            ApiError::UnknownKey(_) => "UNKNOWN_KEY",
            ApiError::UnknownIdentity(_) => "UNKNOWN_IDENTITY",
            ApiError::KeyRevoked { .. } => "KEY_REVOKED",
            ApiError::Forbidden(_) => "FORBIDDEN",
        }
    }

    /// Builds a bad-input error.
    pub fn bad_input(message: impl Into<String>) -> ApiError {
        ApiError::BadInput(message.into())
    }

    /// The GraphQL error a client sees.
    pub fn into_graphql(self) -> async_graphql::Error {
        match &self {
            ApiError::Database(source) => {
                tracing::warn!(error = %source, "database error answering a request");
            }
            ApiError::CorruptRow(detail) => tracing::error!(%detail, "inconsistent stored row"),
            ApiError::Nats(detail) => tracing::warn!(%detail, "NATS error answering a request"),
            _ => {}
        }
        let code = self.code();
        let rejection = match &self {
            ApiError::Rejected { reason, .. } => Some(reason.clone()),
            _ => None,
        };
        async_graphql::Error::new(self.to_string()).extend_with(|_, extensions| {
            extensions.set("code", code);
            if let Some(reason) = &rejection {
                extensions.set("reason", reason.as_str());
            }
        })
    }
}

impl ApiError {
    /// A database error of a query over `model`'s schema: a missing
    /// schema or table (42P01 undefined_table, 3F000 invalid_schema_name)
    /// means the projector has not installed the model yet.
    pub fn from_model(model: &'static str) -> impl Fn(sqlx::Error) -> ApiError {
        move |error| {
            if let sqlx::Error::Database(db) = &error
                && matches!(db.code().as_deref(), Some("42P01") | Some("3F000"))
            {
                return ApiError::ModelUnavailable { model };
            }
            ApiError::Database(error)
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> ApiError {
        ApiError::from_model("explorer")(error)
    }
}

/// Result of the API's internal functions.
pub type ApiResult<T> = Result<T, ApiError>;

/// Turns an [`ApiResult`] into what a resolver returns, through
/// [`ApiError::into_graphql`]. (async-graphql converts any `Display`
/// error by its message alone, which would drop the code; resolvers end
/// with `.gql()` instead of `?` on an `ApiError`.)
pub trait IntoGraphql<T> {
    fn gql(self) -> async_graphql::Result<T>;
}

impl<T> IntoGraphql<T> for ApiResult<T> {
    fn gql(self) -> async_graphql::Result<T> {
        self.map_err(ApiError::into_graphql)
    }
}

/// Gives a code to errors async-graphql raised itself (parse,
/// validation, limits), so every error a client sees has one.
pub fn code_for_engine_error(error: &mut async_graphql::ServerError) {
    let has_code = error
        .extensions
        .as_ref()
        .is_some_and(|extensions| extensions.get("code").is_some());
    if has_code {
        return;
    }
    let code = if error.message.contains("nested too deep") {
        "QUERY_TOO_DEEP"
    } else if error.message.contains("too complex") {
        "QUERY_TOO_COMPLEX"
    } else if error.message.contains("timed out") {
        "TIMEOUT"
    } else if error.path.is_empty() {
        "GRAPHQL_VALIDATION_FAILED"
    } else {
        "INTERNAL_ERROR"
    };
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", code);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_carry_a_code_extension() {
        let error = ApiError::PageTooLarge {
            asked: 500,
            max: 100,
        }
        .into_graphql();
        assert!(error.message.contains("at most 100"));
        let extensions = error.extensions.expect("extensions set");
        assert_eq!(
            extensions.get("code"),
            Some(&async_graphql::Value::from("PAGE_TOO_LARGE"))
        );
    }
}
