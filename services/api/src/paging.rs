//! Relay connections over SQL with keyset pagination.
//!
//! Every list has a stable order given by a unique key (for blocks the
//! height; for transactions block height and index; …), newest first
//! unless the list says otherwise. A cursor is the key of an item, tagged
//! with the list's name and encoded as opaque base64url text; `after` and
//! `before` become row-value comparisons on the key, which the indexes
//! serve, so a page costs the same wherever it is. `totalCount` is only
//! counted when the query selects it.
//!
//! All values reach PostgreSQL as bind parameters; the only SQL text here
//! is written in this crate.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{OutputType, SimpleObject};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgPool, Postgres, QueryBuilder};

use crate::context::Limits;
use crate::error::{ApiError, ApiResult};

/// The page a client asked for.
#[derive(Debug, Clone, Default)]
pub struct PageArgs {
    pub after: Option<String>,
    pub before: Option<String>,
    pub first: Option<i32>,
    pub last: Option<i32>,
}

impl PageArgs {
    pub fn new(
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> PageArgs {
        PageArgs {
            after,
            before,
            first,
            last,
        }
    }
}

/// One component of a list's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyPart {
    Int(i64),
    Bytes(Vec<u8>),
}

/// A value bound into a filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqlValue {
    Int(i64),
    Bytes(Vec<u8>),
    Text(String),
}

/// Extra fields of every connection.
#[derive(Debug, Clone, SimpleObject)]
pub struct ConnectionTotal {
    /// Items in the whole list (all pages), when selected.
    pub total_count: i64,
}

/// A connection as the schema exposes it.
pub type Page<N> = Connection<String, N, ConnectionTotal>;

/// Encodes a cursor: `<list>:<part>.<part>…`, ints decimal, bytes as
/// `x<hex>`, base64url without padding.
pub fn encode_cursor(list: &str, key: &[KeyPart]) -> String {
    let parts: Vec<String> = key
        .iter()
        .map(|part| match part {
            KeyPart::Int(value) => value.to_string(),
            KeyPart::Bytes(bytes) => format!("x{}", hex::encode(bytes)),
        })
        .collect();
    URL_SAFE_NO_PAD.encode(format!("{list}:{}", parts.join(".")))
}

/// Decodes a cursor of `list` whose key has `arity` parts.
pub fn decode_cursor(list: &str, arity: usize, cursor: &str) -> ApiResult<Vec<KeyPart>> {
    let invalid = || ApiError::InvalidCursor(cursor.chars().take(80).collect());
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor.trim().as_bytes())
        .map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (tag, rest) = text.split_once(':').ok_or_else(invalid)?;
    if tag != list {
        return Err(invalid());
    }
    let parts: Vec<KeyPart> = rest
        .split('.')
        .map(|part| match part.strip_prefix('x') {
            Some(hex_digits) => hex::decode(hex_digits)
                .map(KeyPart::Bytes)
                .map_err(|_| invalid()),
            None => part.parse::<i64>().map(KeyPart::Int).map_err(|_| invalid()),
        })
        .collect::<ApiResult<_>>()?;
    if parts.len() != arity {
        return Err(invalid());
    }
    Ok(parts)
}

/// A list query: which rows, in which order.
pub struct ListQuery<'a> {
    /// Tag of the list's cursors.
    pub list: &'static str,
    /// `SELECT <columns> FROM <tables>` (no WHERE).
    pub select: &'a str,
    /// `FROM <tables>` for the count (no WHERE).
    pub from: &'a str,
    /// Conditions with one bound value each: `("t.kind = ", Text(..))`.
    pub filters: Vec<(&'static str, SqlValue)>,
    /// Conditions without values: `"o.spent_at IS NULL"`.
    pub conditions: Vec<&'static str>,
    /// Key columns, most significant first.
    pub key: &'static [&'static str],
    /// Natural order: descending (newest first) or ascending.
    pub descending: bool,
}

impl ListQuery<'_> {
    fn push_where(&self, builder: &mut QueryBuilder<'_, Postgres>) {
        builder.push(" WHERE TRUE");
        for (fragment, value) in &self.filters {
            builder.push(" AND ");
            builder.push(*fragment);
            match value {
                SqlValue::Int(value) => builder.push_bind(*value),
                SqlValue::Bytes(value) => builder.push_bind(value.clone()),
                SqlValue::Text(value) => builder.push_bind(value.clone()),
            };
        }
        for condition in &self.conditions {
            builder.push(" AND ");
            builder.push(*condition);
        }
    }

    fn push_key_bound(&self, builder: &mut QueryBuilder<'_, Postgres>, op: &str, key: &[KeyPart]) {
        builder.push(" AND (");
        builder.push(self.key.join(", "));
        builder.push(") ");
        builder.push(op);
        builder.push(" (");
        let mut separated = builder.separated(", ");
        for part in key {
            match part {
                KeyPart::Int(value) => separated.push_bind(*value),
                KeyPart::Bytes(value) => separated.push_bind(value.clone()),
            };
        }
        builder.push(")");
    }
}

/// Runs `query` for the page `args` asks for; `key_of` gives an item's
/// key (matching `query.key`), `node` turns a row into the GraphQL node.
pub async fn fetch_page<R, N>(
    pool: &PgPool,
    limits: &Limits,
    query: ListQuery<'_>,
    args: PageArgs,
    want_total: bool,
    key_of: impl Fn(&R) -> Vec<KeyPart>,
    node: impl Fn(R) -> ApiResult<N>,
) -> ApiResult<Page<N>>
where
    R: for<'r> FromRow<'r, PgRow> + Send + Unpin,
    N: OutputType,
{
    let (limit, forward) = page_size(&args, limits)?;
    let after = args
        .after
        .as_deref()
        .map(|cursor| decode_cursor(query.list, query.key.len(), cursor))
        .transpose()?;
    let before = args
        .before
        .as_deref()
        .map(|cursor| decode_cursor(query.list, query.key.len(), cursor))
        .transpose()?;

    let mut builder = QueryBuilder::<Postgres>::new(query.select);
    query.push_where(&mut builder);
    // In natural order, "after" means further along the order.
    let (after_op, before_op) = if query.descending {
        ("<", ">")
    } else {
        (">", "<")
    };
    if let Some(key) = &after {
        query.push_key_bound(&mut builder, after_op, key);
    }
    if let Some(key) = &before {
        query.push_key_bound(&mut builder, before_op, key);
    }
    let ascending_sql = forward != query.descending;
    builder.push(" ORDER BY ");
    let direction = if ascending_sql { " ASC" } else { " DESC" };
    let order: Vec<String> = query
        .key
        .iter()
        .map(|column| format!("{column}{direction}"))
        .collect();
    builder.push(order.join(", "));
    builder.push(" LIMIT ");
    builder.push_bind(limit as i64 + 1);
    let mut rows: Vec<R> = builder.build_query_as::<R>().fetch_all(pool).await?;

    let more = rows.len() > limit;
    rows.truncate(limit);
    if !forward {
        rows.reverse();
    }
    let (has_previous, has_next) = if forward {
        (after.is_some(), more)
    } else {
        (more, before.is_some())
    };

    let total_count = if want_total {
        let mut count = QueryBuilder::<Postgres>::new("SELECT count(*) ");
        count.push(query.from);
        query.push_where(&mut count);
        let (total,): (i64,) = count.build_query_as().fetch_one(pool).await?;
        total
    } else {
        0
    };
    let mut connection =
        Connection::with_additional_fields(has_previous, has_next, ConnectionTotal { total_count });
    for row in rows {
        let cursor = encode_cursor(query.list, &key_of(&row));
        connection.edges.push(Edge::new(cursor, node(row)?));
    }
    Ok(connection)
}

/// The number of items to fetch and whether the page runs forward
/// (`first`) or backward (`last`).
fn page_size(args: &PageArgs, limits: &Limits) -> ApiResult<(usize, bool)> {
    let (asked, forward) = match (args.first, args.last) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_input(
                "pass either `first` or `last`, not both",
            ));
        }
        (Some(first), None) => (first, true),
        (None, Some(last)) => (last, false),
        (None, None) => (
            i32::try_from(limits.default_page_size).unwrap_or(i32::MAX),
            args.before.is_none() || args.after.is_some(),
        ),
    };
    if asked < 0 {
        return Err(ApiError::bad_input(format!(
            "a page size cannot be negative ({asked})"
        )));
    }
    let asked_size = usize::try_from(asked).unwrap_or(usize::MAX);
    if asked_size > limits.max_page_size {
        return Err(ApiError::PageTooLarge {
            asked: i64::from(asked),
            max: limits.max_page_size,
        });
    }
    Ok((asked_size, forward))
}

/// Whether the current field's selection asks for `totalCount`.
pub fn wants_total(ctx: &async_graphql::Context<'_>) -> bool {
    ctx.look_ahead().field("totalCount").exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_name_their_list() {
        let key = vec![KeyPart::Int(42), KeyPart::Bytes(vec![1, 2, 255])];
        let cursor = encode_cursor("tx", &key);
        assert_eq!(decode_cursor("tx", 2, &cursor).ok(), Some(key));
        assert!(matches!(
            decode_cursor("block", 2, &cursor),
            Err(ApiError::InvalidCursor(_))
        ));
        assert!(decode_cursor("tx", 1, &cursor).is_err());
        assert!(decode_cursor("tx", 1, "'; DROP TABLE block; --").is_err());
        assert!(decode_cursor("tx", 1, "").is_err());
    }

    #[test]
    fn page_sizes_are_bounded() {
        let limits = Limits::default();
        let args = |first, last| PageArgs::new(None, None, first, last);
        assert_eq!(
            page_size(&args(Some(5), None), &limits).ok(),
            Some((5, true))
        );
        assert_eq!(
            page_size(&args(None, Some(3)), &limits).ok(),
            Some((3, false))
        );
        assert_eq!(page_size(&args(None, None), &limits).ok(), Some((20, true)));
        assert!(matches!(
            page_size(&args(Some(101), None), &limits),
            Err(ApiError::PageTooLarge { .. })
        ));
        assert!(page_size(&args(Some(-1), None), &limits).is_err());
        assert!(page_size(&args(Some(1), Some(1)), &limits).is_err());
    }
}
