//! Where a tool's SQL runs. [`Backend`] is one of: a pooled direct
//! connection (any instance with a database URL), the Management API's
//! `POST /v1/projects/{ref}/database/query` (a cloud project without a
//! database URL), or the `public.execute_sql` RPC over the REST API (a
//! self-hosted instance with a Supabase URL and service role key but no
//! database URL). Tools query through it and read [`SqlRow`]s by column
//! name, so the same tool code works on all three.
//!
//! Invariants:
//! - Parameters are always bound on a direct connection. The remote
//!   backends take no parameters, so [`inline_params`] replaces each `$n`
//!   (found with PostgreSQL's own scanner, never inside literals or
//!   comments) with an escaped literal (`E'...'`, `ARRAY[...]::text[]`).
//! - Remote results are read up to `Limits::max_remote_result_bytes` and
//!   refused beyond it; nothing larger is held in memory.
//! - Remote calls for catalog reads always ask for a read-only transaction.

use deadpool_postgres::Object;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::time::Duration;
use tokio_postgres::Row;
use tokio_postgres::types::{FromSql, ToSql};

use crate::api::ManagementApi;
use crate::api::generated::management::types::{ProjectRef, V1RunQueryBody};
use crate::db::rpc::RpcClient;
use crate::result::{ErrorCode, ToolError};
use crate::sql::run::pg_error;

/// Which path a backend takes, for results and messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Direct,
    ManagementApi,
    RestRpc,
}

impl BackendKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Direct => "direct",
            BackendKind::ManagementApi => "management_api",
            BackendKind::RestRpc => "rest_rpc",
        }
    }
}

/// A cloud project reached through the Management API.
#[derive(Debug, Clone)]
pub struct ManagementTarget {
    pub api: ManagementApi,
    pub project: ProjectRef,
}

/// How a remote backend reads results.
#[derive(Debug, Clone, Copy)]
pub struct RemoteLimits {
    pub timeout: Duration,
    pub max_bytes: usize,
}

/// The SQL path of one tool call.
pub enum Backend {
    Direct(Object),
    /// A direct connection through a transaction-mode pooler: no named
    /// prepared statements, so catalog queries go as one simple-protocol
    /// statement with inlined parameters, their rows aggregated to JSON.
    Pooled(Object),
    Management(ManagementTarget, RemoteLimits),
    Rest(RpcClient, RemoteLimits),
}

/// A value that can be bound as a parameter or written as an SQL literal.
pub trait Param: Sync {
    fn as_sql(&self) -> &(dyn ToSql + Sync);
    /// The value as an SQL literal (for the remote backends).
    fn literal(&self) -> String;
}

/// Literal form of a parameter value.
pub trait SqlLiteral {
    fn literal(&self) -> String;
    /// A NULL of this type (for `None`).
    fn null() -> String
    where
        Self: Sized,
    {
        "NULL".to_owned()
    }
}

impl<T: ToSql + Sync + SqlLiteral> Param for T {
    fn as_sql(&self) -> &(dyn ToSql + Sync) {
        self
    }
    fn literal(&self) -> String {
        SqlLiteral::literal(self)
    }
}

/// `E'...'` with backslashes and quotes escaped: the same value whatever
/// `standard_conforming_strings` says. NUL cannot occur in PostgreSQL text
/// and is dropped.
pub fn quote_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 3);
    out.push_str("E'");
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("''"),
            '\0' => {}
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

impl SqlLiteral for str {
    fn literal(&self) -> String {
        quote_text(self)
    }
}
impl SqlLiteral for String {
    fn null() -> String {
        "NULL::text".to_owned()
    }
    fn literal(&self) -> String {
        quote_text(self)
    }
}
impl SqlLiteral for bool {
    fn null() -> String {
        "NULL::bool".to_owned()
    }
    fn literal(&self) -> String {
        if *self { "true" } else { "false" }.to_owned()
    }
}
impl SqlLiteral for i32 {
    fn null() -> String {
        "NULL::int4".to_owned()
    }
    fn literal(&self) -> String {
        format!("({self})::int4")
    }
}
impl SqlLiteral for i64 {
    fn null() -> String {
        "NULL::int8".to_owned()
    }
    fn literal(&self) -> String {
        format!("({self})::int8")
    }
}
impl SqlLiteral for u32 {
    fn null() -> String {
        "NULL::oid".to_owned()
    }
    fn literal(&self) -> String {
        format!("{self}::oid")
    }
}
impl SqlLiteral for f64 {
    fn null() -> String {
        "NULL::float8".to_owned()
    }
    fn literal(&self) -> String {
        if self.is_finite() {
            format!("'{self}'::float8")
        } else {
            "'NaN'::float8".to_owned()
        }
    }
}
impl SqlLiteral for Vec<String> {
    fn null() -> String {
        "NULL::text[]".to_owned()
    }
    fn literal(&self) -> String {
        if self.is_empty() {
            return "'{}'::text[]".to_owned();
        }
        let items: Vec<String> = self.iter().map(|s| quote_text(s)).collect();
        format!("ARRAY[{}]::text[]", items.join(", "))
    }
}
impl SqlLiteral for [&str] {
    fn literal(&self) -> String {
        if self.is_empty() {
            return "'{}'::text[]".to_owned();
        }
        let items: Vec<String> = self.iter().map(|s| quote_text(s)).collect();
        format!("ARRAY[{}]::text[]", items.join(", "))
    }
}
impl SqlLiteral for Vec<i32> {
    fn null() -> String {
        "NULL::int4[]".to_owned()
    }
    fn literal(&self) -> String {
        let items: Vec<String> = self.iter().map(i32::to_string).collect();
        format!("'{{{}}}'::int4[]", items.join(","))
    }
}
impl<T: SqlLiteral> SqlLiteral for Option<T> {
    fn literal(&self) -> String {
        match self {
            Some(v) => v.literal(),
            None => T::null(),
        }
    }
}
impl<T: SqlLiteral> SqlLiteral for &T {
    fn null() -> String {
        T::null()
    }
    fn literal(&self) -> String {
        (**self).literal()
    }
}
impl SqlLiteral for &str {
    fn null() -> String {
        "NULL::text".to_owned()
    }
    fn literal(&self) -> String {
        quote_text(self)
    }
}
impl SqlLiteral for &[&str] {
    fn null() -> String {
        "NULL::text[]".to_owned()
    }
    fn literal(&self) -> String {
        (**self).literal()
    }
}

/// Replaces the placeholders `$1..$n` of `sql` with `literals[n-1]`.
/// Placeholders are found with PostgreSQL's scanner, so `$1` inside a
/// string, a quoted identifier, a comment or a dollar-quoted body is left
/// alone.
pub fn inline_params(sql: &str, literals: &[String]) -> Result<String, ToolError> {
    if literals.is_empty() {
        return Ok(sql.to_owned());
    }
    let scanned = pg_query::scan(sql).map_err(|e| {
        ToolError::invalid("the SQL could not be scanned for parameters")
            .reason(e.to_string())
            .suggestion("Check the SQL syntax with validate_sql.")
    })?;
    let param = pg_query::protobuf::Token::Param as i32;
    let mut out =
        String::with_capacity(sql.len() + literals.iter().map(String::len).sum::<usize>());
    let mut last = 0usize;
    for t in scanned.tokens.iter().filter(|t| t.token == param) {
        let (start, end) = (t.start as usize, t.end as usize);
        let Some(text) = sql.get(start..end) else {
            continue;
        };
        let n: usize = text
            .trim_start_matches('$')
            .parse()
            .map_err(|_| ToolError::invalid(format!("`{text}` is not a parameter placeholder")))?;
        let Some(lit) = n.checked_sub(1).and_then(|i| literals.get(i)) else {
            return Err(ToolError::invalid(format!(
                "the SQL uses ${n} but only {} parameter(s) were given",
                literals.len()
            ))
            .suggestion("Pass one value in `params` for each placeholder $1, $2, ..."));
        };
        out.push_str(&sql[last..start]);
        out.push('(');
        out.push_str(lit);
        out.push(')');
        last = end;
    }
    out.push_str(&sql[last..]);
    Ok(out)
}

/// One result row: typed from a direct connection, JSON from a remote one.
pub enum SqlRow {
    Pg(Row),
    Json(Map<String, Value>),
}

impl SqlRow {
    /// Column `name` as `T`; an error (never a panic) when the column is
    /// missing or holds something else. JSON numbers sent as strings (as
    /// the Management API does for `bigint`) are accepted.
    pub fn get<T>(&self, name: &str) -> Result<T, ToolError>
    where
        T: for<'a> FromSql<'a> + DeserializeOwned,
    {
        match self {
            SqlRow::Pg(row) => row
                .try_get(name)
                .map_err(|e| unexpected(name, &e.to_string())),
            SqlRow::Json(map) => {
                let v = map.get(name).cloned().unwrap_or(Value::Null);
                match serde_json::from_value::<T>(v.clone()) {
                    Ok(t) => Ok(t),
                    Err(first) => match &v {
                        Value::String(s) => serde_json::from_str::<T>(s)
                            .map_err(|_| unexpected(name, &first.to_string())),
                        _ => Err(unexpected(name, &first.to_string())),
                    },
                }
            }
        }
    }
}

/// Runs one SELECT over the simple query protocol (nothing prepared) with
/// its rows aggregated into one JSON text value, and parses them.
async fn pooled_rows(db: &Object, select: &str) -> Result<Vec<Value>, ToolError> {
    let body = select.trim().trim_end_matches(';');
    let wrapped = format!("SELECT coalesce(pg_catalog.json_agg(q), '[]')::text FROM ({body}\n) q");
    let messages = db.simple_query(&wrapped).await.map_err(|e| pg_error(&e))?;
    let text = messages.iter().find_map(|m| match m {
        tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_owned),
        _ => None,
    });
    match text.map(|t| serde_json::from_str::<Value>(&t)) {
        Some(Ok(Value::Array(rows))) => Ok(rows),
        _ => Err(ToolError::internal("the catalog query gave no JSON rows")),
    }
}

fn unexpected(name: &str, why: &str) -> ToolError {
    ToolError::internal(format!("unexpected value in column `{name}`"))
        .reason(why.to_owned())
        .suggestion(
            "This PostgreSQL version may answer differently; report the server version (health_check shows it).",
        )
}

impl Backend {
    pub fn kind(&self) -> BackendKind {
        match self {
            Backend::Direct(_) | Backend::Pooled(_) => BackendKind::Direct,
            Backend::Management(..) => BackendKind::ManagementApi,
            Backend::Rest(..) => BackendKind::RestRpc,
        }
    }

    /// The direct connection, when this backend is one.
    pub fn direct(&self) -> Option<&Object> {
        match self {
            Backend::Direct(db) | Backend::Pooled(db) => Some(db),
            _ => None,
        }
    }

    /// Runs a read-only query and returns its rows.
    pub async fn query(&self, sql: &str, params: &[&dyn Param]) -> Result<Vec<SqlRow>, ToolError> {
        match self {
            Backend::Direct(db) => {
                let bound: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_sql()).collect();
                let rows = db.query(sql, &bound).await.map_err(|e| pg_error(&e))?;
                Ok(rows.into_iter().map(SqlRow::Pg).collect())
            }
            _ => {
                let literals: Vec<String> = params.iter().map(|p| p.literal()).collect();
                let sql = inline_params(sql, &literals)?;
                let rows = match self {
                    Backend::Pooled(db) => pooled_rows(db, &sql).await?,
                    _ => self.remote_rows(&sql, true).await?,
                };
                rows.into_iter()
                    .map(|r| match r {
                        Value::Object(m) => Ok(SqlRow::Json(m)),
                        other => Err(ToolError::new(
                            ErrorCode::ApiError,
                            "the SQL result is not a list of rows",
                        )
                        .reason(format!(
                            "a row came back as JSON {}",
                            crate::db::rpc::kind_of(&other)
                        ))),
                    })
                    .collect()
            }
        }
    }

    /// Exactly one row.
    pub async fn query_one(&self, sql: &str, params: &[&dyn Param]) -> Result<SqlRow, ToolError> {
        self.query_opt(sql, params).await?.ok_or_else(|| {
            ToolError::internal("the catalog query returned no row").suggestion(
                "This PostgreSQL version may answer differently; report the server version.",
            )
        })
    }

    /// The first row, if any.
    pub async fn query_opt(
        &self,
        sql: &str,
        params: &[&dyn Param],
    ) -> Result<Option<SqlRow>, ToolError> {
        Ok(self.query(sql, params).await?.into_iter().next())
    }

    /// Runs SQL (parameters already inlined) on a remote backend and returns
    /// the rows as JSON values. On a direct backend this is an internal error:
    /// callers stream from the connection instead.
    pub async fn remote_rows(&self, sql: &str, read_only: bool) -> Result<Vec<Value>, ToolError> {
        match self {
            Backend::Direct(_) | Backend::Pooled(_) => Err(ToolError::internal(
                "remote_rows called on a direct connection",
            )),
            Backend::Management(t, limits) => {
                let body = V1RunQueryBody {
                    parameters: Vec::new(),
                    query: sql.parse().map_err(|_| {
                        ToolError::invalid("the query is empty").suggestion("Pass the SQL to run.")
                    })?,
                    read_only: Some(read_only),
                };
                t.api
                    .run_query(&t.project, &body, limits.timeout, limits.max_bytes)
                    .await
                    .map_err(ToolError::from)
            }
            Backend::Rest(rpc, limits) => rpc
                .execute_sql(sql, read_only, limits.max_bytes)
                .await
                .map_err(|e| e.to_tool_error()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lits(p: &[&dyn Param]) -> Vec<String> {
        p.iter().map(|p| p.literal()).collect()
    }

    #[test]
    fn literals_escape_quotes_and_backslashes() {
        assert_eq!(quote_text("it's"), "E'it''s'");
        assert_eq!(quote_text(r"a\'; DROP"), r"E'a\\''; DROP'");
        assert_eq!(quote_text("nul\0byte"), "E'nulbyte'");
        let names = vec!["public".to_owned(), "o'k".to_owned()];
        assert_eq!(
            SqlLiteral::literal(&names),
            "ARRAY[E'public', E'o''k']::text[]"
        );
        assert_eq!(SqlLiteral::literal(&Vec::<String>::new()), "'{}'::text[]");
        assert_eq!(SqlLiteral::literal(&None::<Vec<String>>), "NULL::text[]");
        assert_eq!(SqlLiteral::literal(&None::<&String>), "NULL::text");
        assert_eq!(SqlLiteral::literal(&-5i64), "(-5)::int8");
        assert_eq!(SqlLiteral::literal(&16384u32), "16384::oid");
        assert_eq!(SqlLiteral::literal(&f64::INFINITY), "'NaN'::float8");
    }

    #[test]
    fn placeholders_are_replaced_outside_literals_only() {
        let schema = "pub'lic".to_owned();
        let limit = 10i64;
        let sql = "SELECT '$1' AS s, \"$2\" AS q, $1::text AS a /* $2 */ FROM t WHERE x = $2 LIMIT $2 -- $1";
        let out = inline_params(sql, &lits(&[&schema, &limit])).unwrap();
        assert_eq!(
            out,
            "SELECT '$1' AS s, \"$2\" AS q, (E'pub''lic')::text AS a /* $2 */ FROM t WHERE x = ((10)::int8) LIMIT ((10)::int8) -- $1"
        );
        let dollar = "SELECT $f$ $1 $f$, $1";
        assert_eq!(
            inline_params(dollar, &lits(&[&true])).unwrap(),
            "SELECT $f$ $1 $f$, (true)"
        );
    }

    #[test]
    fn missing_parameters_are_an_error() {
        let e = inline_params("SELECT $1, $3", &lits(&[&1i32, &2i32])).unwrap_err();
        assert!(e.message.contains("$3"), "{}", e.message);
        assert_eq!(inline_params("SELECT 1", &[]).unwrap(), "SELECT 1");
    }

    #[test]
    fn json_rows_read_strings_as_numbers() {
        let mut m = Map::new();
        m.insert("n".into(), Value::String("12345678901".into()));
        m.insert("s".into(), Value::String("x".into()));
        m.insert("a".into(), serde_json::json!(["a", "b"]));
        m.insert("z".into(), Value::Null);
        let r = SqlRow::Json(m);
        assert_eq!(r.get::<i64>("n").unwrap(), 12_345_678_901);
        assert_eq!(r.get::<String>("s").unwrap(), "x");
        assert_eq!(r.get::<Vec<String>>("a").unwrap(), vec!["a", "b"]);
        assert_eq!(r.get::<Option<String>>("z").unwrap(), None);
        assert_eq!(r.get::<Option<i64>>("missing").unwrap(), None);
        assert!(r.get::<i64>("s").is_err());
        assert!(r.get::<bool>("missing").is_err());
    }
}
