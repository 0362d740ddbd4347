//! The `realtime` group: the publications Supabase Realtime reads
//! (`supabase_realtime`), the replica identity that decides what UPDATE and
//! DELETE events carry, the replication slots that hold WAL, and the RLS
//! policies that authorize private channels (`realtime.messages`).
//!
//! Reads go through the instance's SQL path ([`Call::sql`]); changes run as
//! one transaction with a short lock timeout on a direct connection (or as
//! one SQL text on the remote paths). Names are bound parameters in catalog
//! queries and quoted identifiers in DDL. Shared here: argument checks, the
//! one catalog query describing a table, and DDL execution.

mod channels;
mod identity;
mod publications;
mod slots;

use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;

use super::introspect::{col, exposed_filter, managed_list};
use super::{Kind, ToolDef, tool};
use crate::db::backend::Backend;
use crate::groups::Group;
use crate::pg::quote_ident;
use crate::result::{ErrorCode, ToolError};

/// The publication Supabase Realtime streams changes from.
pub const PUBLICATION: &str = "supabase_realtime";
/// How long a change waits for its table lock before giving up.
const LOCK_TIMEOUT: Duration = Duration::from_secs(5);
/// A table with at least this many rows (estimated) counts as large.
pub const LARGE_TABLE_ROWS: i64 = 1_000_000;
/// A table at least this big on disk counts as large.
pub const LARGE_TABLE_BYTES: i64 = 1024 * 1024 * 1024;

pub fn tools() -> Vec<ToolDef> {
    vec![
        tool("list_publications", Group::Realtime, Kind::Read)
            .title("List publications")
            .description(
                "Publications, their operations and tables; flags weak replica identities.",
            )
            .handler(publications::list_publications),
        tool("add_table_to_realtime", Group::Realtime, Kind::Write)
            .title("Add a table to Realtime")
            .description("Publish a table's changes to Realtime (supabase_realtime).")
            .handler(publications::add_table),
        tool("remove_table_from_realtime", Group::Realtime, Kind::Write)
            .title("Remove a table from Realtime")
            .description("Stop publishing a table's changes to Realtime.")
            .handler(publications::remove_table),
        tool("check_replica_identity", Group::Realtime, Kind::Read)
            .title("Check replica identity")
            .description("A table's replica identity and what UPDATE/DELETE events carry.")
            .handler(identity::check_replica_identity),
        identity::set_tool(),
        tool("replication_status", Group::Realtime, Kind::Read)
            .title("Replication status")
            .description("Replication slots, WAL they retain, lag, and WAL settings.")
            .handler(slots::replication_status),
        tool("list_channel_policies", Group::Realtime, Kind::Read)
            .title("List channel policies")
            .description(
                "Who may join and send on private Realtime channels (realtime.messages RLS).",
            )
            .handler(channels::list_channel_policies),
    ]
}

// `schema` and `table` of a table (no doc comment: it would become the
// schema's description in tools/list).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TableArgs {
    /// Default `public`.
    #[serde(default)]
    pub schema: Option<String>,
    /// Table name (case-sensitive).
    pub table: String,
}

/// Longest identifier PostgreSQL keeps (NAMEDATALEN - 1 bytes).
const MAX_IDENT_BYTES: usize = 63;

/// Checks one identifier argument.
pub(crate) fn check_ident(what: &str, value: &str) -> Result<String, ToolError> {
    if value.is_empty() {
        return Err(
            ToolError::invalid(format!("`{what}` is empty")).suggestion(format!(
                "Pass the {what} name exactly as it is in the database."
            )),
        );
    }
    if value.contains('\0') {
        return Err(
            ToolError::invalid(format!("`{what}` contains a NUL character"))
                .suggestion("Pass the plain name, without control characters."),
        );
    }
    if value.len() > MAX_IDENT_BYTES {
        return Err(ToolError::invalid(format!(
            "`{what}` is {} bytes long; PostgreSQL names are at most {MAX_IDENT_BYTES}",
            value.len()
        ))
        .suggestion("Check the name with list_tables."));
    }
    Ok(value.to_owned())
}

/// The checked `(schema, table)` of a call (schema defaults to `public`).
pub(crate) fn table_name(schema: Option<&str>, table: &str) -> Result<(String, String), ToolError> {
    let schema = check_ident("schema", schema.unwrap_or("public"))?;
    let table = check_ident("table", table)?;
    Ok((schema, table))
}

/// `"schema"."table"`.
pub(crate) fn qualified(schema: &str, table: &str) -> String {
    format!("{}.{}", quote_ident(schema), quote_ident(table))
}

/// A table's replica identity (`pg_class.relreplident`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identity {
    Default,
    Full,
    Index,
    Nothing,
}

impl Identity {
    pub fn from_code(code: &str) -> Identity {
        match code {
            "f" => Identity::Full,
            "i" => Identity::Index,
            "n" => Identity::Nothing,
            _ => Identity::Default,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Identity::Default => "default",
            Identity::Full => "full",
            Identity::Index => "index",
            Identity::Nothing => "nothing",
        }
    }
}

/// Everything the realtime tools need to know about one table.
#[derive(Debug, Clone)]
pub struct TableInfo {
    pub schema: String,
    pub table: String,
    /// `pg_class.relkind`: r, p, v, m, f...
    pub kind: String,
    pub rls: bool,
    pub identity: Identity,
    /// The index of `REPLICA IDENTITY USING INDEX`, while it exists.
    pub identity_index: Option<String>,
    pub primary_key: Vec<String>,
    pub size_bytes: i64,
    pub rows_estimate: i64,
    /// In a Supabase-managed schema (auth, storage, realtime...).
    pub managed: bool,
    /// `anon` or `authenticated` may SELECT from it.
    pub api_readable: bool,
    /// Its schema is reachable through the Data API.
    pub exposed: bool,
    /// Publications that include it (directly, by schema, or all tables).
    pub publications: Vec<String>,
    /// Listed by name in `supabase_realtime` (not only through a schema or parent).
    pub in_realtime_directly: bool,
    pub wal_level: String,
}

impl TableInfo {
    pub fn qualified(&self) -> String {
        qualified(&self.schema, &self.table)
    }

    /// `schema.table` for messages.
    pub fn display(&self) -> String {
        format!("{}.{}", self.schema, self.table)
    }

    pub fn in_realtime(&self) -> bool {
        self.in_realtime_directly || self.publications.iter().any(|p| p == PUBLICATION)
    }

    pub fn is_table(&self) -> bool {
        matches!(self.kind.as_str(), "r" | "p")
    }

    pub fn large(&self) -> bool {
        self.rows_estimate >= LARGE_TABLE_ROWS || self.size_bytes >= LARGE_TABLE_BYTES
    }

    /// Why UPDATE and DELETE cannot be published with the current identity.
    pub fn identity_problem(&self) -> Option<String> {
        identity_problem(
            self.identity,
            !self.primary_key.is_empty(),
            self.identity_index.is_some(),
        )
    }

    /// What the `old` record of UPDATE and DELETE events holds.
    pub fn old_record(&self) -> String {
        old_record(self.identity, &self.primary_key, self.rls)
    }
}

/// Why a table with this identity cannot publish UPDATE and DELETE.
pub fn identity_problem(identity: Identity, has_pk: bool, has_index: bool) -> Option<String> {
    match identity {
        Identity::Default if !has_pk => Some(
            "no primary key and replica identity DEFAULT: nothing identifies the old row, so UPDATE and DELETE \
             fail on the table while a publication publishes them"
                .into(),
        ),
        Identity::Nothing => Some(
            "replica identity NOTHING: no old row is recorded, so UPDATE and DELETE fail on the table while a \
             publication publishes them"
                .into(),
        ),
        Identity::Index if !has_index => Some(
            "replica identity USING INDEX, but that index no longer exists: UPDATE and DELETE fail on the table \
             while a publication publishes them"
                .into(),
        ),
        _ => None,
    }
}

/// What Realtime's `old` record carries for this identity.
pub fn old_record(identity: Identity, primary_key: &[String], rls: bool) -> String {
    match identity {
        Identity::Default if primary_key.is_empty() => {
            "none: without a primary key UPDATE and DELETE cannot be published".into()
        }
        Identity::Default => format!(
            "only the primary key ({}) of the old row",
            primary_key.join(", ")
        ),
        Identity::Full if rls => {
            "the whole old row is logged, but with RLS enabled Realtime sends only the \
             primary key of the old row"
                .into()
        }
        Identity::Full => "every column of the old row".into(),
        Identity::Index => "the columns of the replica identity index of the old row".into(),
        Identity::Nothing => "none: UPDATE and DELETE cannot be published".into(),
    }
}

/// Looks a table up; `not_found` (with similarly named tables) when missing.
pub(crate) async fn table_info(
    db: &Backend,
    schema: &str,
    table: &str,
) -> Result<TableInfo, ToolError> {
    let sql = format!(
        "SELECT c.relkind::text AS kind, c.relrowsecurity AS rls, c.relreplident::text AS identity, \
           (SELECT ic.relname::text FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid \
              WHERE i.indrelid = c.oid AND i.indisreplident LIMIT 1) AS identity_index, \
           ARRAY(SELECT a.attname::text FROM pg_index i \
                   CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY k(num, ord) \
                   JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.num \
                 WHERE i.indrelid = c.oid AND i.indisprimary ORDER BY k.ord) AS primary_key, \
           pg_total_relation_size(c.oid)::int8 AS size_bytes, \
           greatest(c.reltuples::int8, coalesce((SELECT s.n_live_tup FROM pg_stat_all_tables s WHERE s.relid = c.oid), 0), 0)::int8 AS rows_estimate, \
           n.nspname IN {managed} AS managed, \
           EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname IN ('anon', 'authenticated') \
                     AND has_table_privilege(r.oid, c.oid, 'SELECT')) AS api_readable, \
           {exposed} AS exposed, \
           ARRAY(SELECT DISTINCT pt.pubname::text FROM pg_publication_tables pt \
                 WHERE pt.schemaname = n.nspname AND pt.tablename = c.relname ORDER BY 1) AS publications, \
           EXISTS (SELECT 1 FROM pg_publication_rel pr JOIN pg_publication p ON p.oid = pr.prpubid \
                   WHERE p.pubname = $3::text AND pr.prrelid = c.oid) AS in_realtime_directly, \
           current_setting('wal_level') AS wal_level \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = $1::text AND c.relname = $2::text",
        managed = managed_list(),
        exposed = exposed_filter(),
    );
    let schema_s = schema.to_owned();
    let table_s = table.to_owned();
    let publication = PUBLICATION.to_owned();
    let row = db
        .query_opt(&sql, &[&schema_s, &table_s, &publication])
        .await?;
    let Some(r) = row else {
        return Err(not_found(db, schema, table).await);
    };
    Ok(TableInfo {
        schema: schema.to_owned(),
        table: table.to_owned(),
        kind: col(&r, "kind")?,
        rls: col(&r, "rls")?,
        identity: Identity::from_code(&col::<String>(&r, "identity")?),
        identity_index: col(&r, "identity_index")?,
        primary_key: col(&r, "primary_key")?,
        size_bytes: col(&r, "size_bytes")?,
        rows_estimate: col(&r, "rows_estimate")?,
        managed: col(&r, "managed")?,
        api_readable: col(&r, "api_readable")?,
        exposed: col(&r, "exposed")?,
        publications: col(&r, "publications")?,
        in_realtime_directly: col(&r, "in_realtime_directly")?,
        wal_level: col(&r, "wal_level")?,
    })
}

/// `not_found` for a table, naming tables whose names differ only in case.
async fn not_found(db: &Backend, schema: &str, table: &str) -> ToolError {
    let schema_s = schema.to_owned();
    let table_s = table.to_owned();
    let similar = db
        .query(
            "SELECT format('%I.%I', n.nspname, c.relname) AS name FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p') AND lower(c.relname) = lower($2::text) \
               AND (n.nspname = $1::text OR lower(n.nspname) = lower($1::text) OR $1::text = 'public') \
             ORDER BY 1 LIMIT 5",
            &[&schema_s, &table_s],
        )
        .await
        .ok()
        .map(|rows| {
            rows.iter()
                .filter_map(|r| col::<String>(r, "name").ok())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let mut suggestion = String::new();
    if !similar.is_empty() {
        suggestion.push_str(&format!(
            "Names are case-sensitive: did you mean {}? ",
            similar.join(", ")
        ));
    }
    suggestion.push_str("Use list_tables to see the tables and their schemas.");
    ToolError::new(
        ErrorCode::NotFound,
        format!("table `{schema}.{table}` does not exist"),
    )
    .suggestion(suggestion)
}

/// The `supabase_realtime` publication's settings, when it exists.
#[derive(Debug, Clone)]
pub struct PublicationInfo {
    pub all_tables: bool,
    pub update: bool,
    pub delete: bool,
}

pub(crate) async fn realtime_publication(
    db: &Backend,
) -> Result<Option<PublicationInfo>, ToolError> {
    let name = PUBLICATION.to_owned();
    let row = db
        .query_opt(
            "SELECT puballtables AS all_tables, pubupdate AS upd, pubdelete AS del \
             FROM pg_publication WHERE pubname = $1::text",
            &[&name],
        )
        .await?;
    row.map(|r| {
        Ok(PublicationInfo {
            all_tables: col(&r, "all_tables")?,
            update: col(&r, "upd")?,
            delete: col(&r, "del")?,
        })
    })
    .transpose()
}

/// Runs DDL statements as one transaction. On a direct connection the
/// transaction waits at most [`LOCK_TIMEOUT`] for locks and `timeout` in
/// all; on the remote paths the statements travel as one SQL text.
pub(crate) async fn apply_ddl(
    db: &Backend,
    statements: &[String],
    timeout: Duration,
) -> Result<(), ToolError> {
    match db.direct() {
        Some(conn) => {
            let script = format!(
                "BEGIN; SET LOCAL lock_timeout = '{}ms'; SET LOCAL statement_timeout = '{}ms';\n{};\nCOMMIT;",
                LOCK_TIMEOUT.as_millis(),
                timeout.as_millis().max(1),
                statements.join(";\n")
            );
            if let Err(e) = conn.batch_execute(&script).await {
                // Leave the pooled connection outside any failed transaction.
                if let Err(rollback) = conn.batch_execute("ROLLBACK").await {
                    tracing::debug!("rollback after a failed change: {rollback}");
                }
                return Err(ddl_error(&e));
            }
            Ok(())
        }
        None => {
            let sql = format!("{};", statements.join(";\n"));
            db.remote_rows(&sql, false).await.map(|_| ())
        }
    }
}

/// A failed change, with the next step for the usual causes.
fn ddl_error(e: &tokio_postgres::Error) -> ToolError {
    let mut err = crate::sql::run::pg_error(e);
    err.message = "the change failed and was rolled back".into();
    if let Some(db) = e.as_db_error() {
        match db.code().code() {
            "55P03" => err = err.suggestion(format!(
                "Another session holds a lock on the table (waited {} s). Retry when it is idle; \
                     health_check shows blocking sessions.",
                LOCK_TIMEOUT.as_secs()
            )),
            "42501" => {
                err = err.suggestion(
                    "Connect as the owner of the table and of the publication (or a superuser); \
                     creating the publication needs CREATE on the database.",
                )
            }
            _ => {}
        }
    }
    err
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_checked() {
        assert!(check_ident("table", "").is_err());
        assert!(check_ident("table", &"x".repeat(64)).is_err());
        assert!(check_ident("table", "a\0b").is_err());
        assert_eq!(
            check_ident("table", "Weird \"name\"").unwrap(),
            "Weird \"name\""
        );
        assert_eq!(
            table_name(None, "t").unwrap(),
            ("public".to_owned(), "t".to_owned())
        );
        assert_eq!(qualified("a b", "T\"x"), "\"a b\".\"T\"\"x\"");
    }

    #[test]
    fn identity_problems() {
        assert!(identity_problem(Identity::Default, false, false).is_some());
        assert!(identity_problem(Identity::Default, true, false).is_none());
        assert!(identity_problem(Identity::Nothing, true, false).is_some());
        assert!(identity_problem(Identity::Index, true, false).is_some());
        assert!(identity_problem(Identity::Index, false, true).is_none());
        assert!(identity_problem(Identity::Full, false, false).is_none());
    }

    #[test]
    fn old_records_are_explained() {
        let pk = vec!["id".to_owned()];
        assert!(old_record(Identity::Default, &pk, false).contains("(id)"));
        assert!(old_record(Identity::Full, &pk, false).contains("every column"));
        assert!(old_record(Identity::Full, &pk, true).contains("only the primary key"));
        assert!(old_record(Identity::Default, &[], false).starts_with("none"));
    }
}
