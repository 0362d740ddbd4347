//! `check_replica_identity` and `set_replica_identity`: what a table's
//! replica identity means for Realtime's old records, and changing it.
//!
//! REPLICA IDENTITY FULL on a large table needs the user's confirmation
//! (more WAL on every UPDATE and DELETE). The confirmation check of the call
//! pipeline runs before any database access, so it can only know a table is
//! large once a realtime tool has seen it: tables seen large are remembered
//! (never forgotten, see [`take_assessed`]), and a FULL request for a large
//! table not yet remembered is stopped by the handler with a confirmation
//! token bound to the same call.

use std::collections::{HashMap, HashSet};
use std::sync::{LazyLock, Mutex};

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{
    Identity, LARGE_TABLE_BYTES, LARGE_TABLE_ROWS, TableArgs, TableInfo, apply_ddl, check_ident,
    table_info, table_name,
};
use crate::confirm::binding;
use crate::groups::Group;
use crate::pg::quote_ident;
use crate::result::{ErrorCode, ToolError, ToolOutput};
use crate::server::call::Call;
use crate::tools::functions::WithRaw;
use crate::tools::introspect::col;
use crate::tools::{Kind, ToolDef, tool};

const SET_TOOL: &str = "set_replica_identity";

// ---------------------------------------------------------------------------
// What each identity means
// ---------------------------------------------------------------------------

fn meanings() -> Value {
    json!({
        "default": "The old row is identified by its primary key: UPDATE and DELETE events carry only the primary key \
                    columns in `old`. Without a primary key nothing identifies the row and UPDATE/DELETE fail while the table is published.",
        "full": "The whole old row is written to the WAL: UPDATE and DELETE events can carry every column in `old` \
                 (with RLS enabled Realtime still sends only the primary key). Every UPDATE and DELETE then logs more WAL, \
                 the more so on wide or large tables.",
        "index": "The old row is identified by the columns of one unique, non-partial, non-deferrable index on NOT NULL \
                  columns: events carry those columns in `old`.",
        "nothing": "No old row is recorded: UPDATE and DELETE fail while the table is published for them.",
    })
}

fn size_fields(info: &TableInfo) -> Value {
    json!({
        "size_bytes": info.size_bytes,
        "rows_estimate": info.rows_estimate,
        "large": info.large(),
    })
}

// ---------------------------------------------------------------------------
// check_replica_identity
// ---------------------------------------------------------------------------

pub(super) async fn check_replica_identity(
    call: Call,
    a: TableArgs,
) -> Result<ToolOutput, ToolError> {
    let (schema, table) = table_name(a.schema.as_deref(), &a.table)?;
    let db = call.sql().await?;
    let info = table_info(&db, &schema, &table).await?;
    learn(&info);
    let candidates = candidate_indexes(&db, &schema, &table).await?;
    let name = info.display();
    let problem = info.identity_problem();
    let recommendation = match (&problem, info.identity) {
        (Some(_), _) if candidates.is_empty() => format!(
            "Add a primary key to `{name}`, or call set_replica_identity with identity `full`."
        ),
        (Some(_), _) => format!(
            "Add a primary key to `{name}`, or call set_replica_identity with identity `index` and one of candidate_indexes, or `full`."
        ),
        (None, Identity::Full) if info.large() => {
            "FULL on a large table: keep it only if subscribers need the previous values of non-key columns.".into()
        }
        (None, Identity::Full) => "Fine: UPDATE and DELETE events carry the old row.".into(),
        (None, _) => {
            "Fine for Realtime; choose `full` only if subscribers need previous values of non-key columns.".into()
        }
    };
    let mut data = json!({
        "schema": schema,
        "table": table,
        "replica_identity": info.identity.name(),
        "primary_key": info.primary_key,
        "rls_enabled": info.rls,
        "old_record": info.old_record(),
        "in_realtime": info.in_realtime(),
        "publications": info.publications,
        "table_size": size_fields(&info),
        "candidate_indexes": candidates,
        "identities": meanings(),
        "recommendation": recommendation,
    });
    if let Some(i) = &info.identity_index {
        data["index"] = json!(i);
    }
    let mut out = ToolOutput::untrusted(data);
    if !info.is_table() {
        out = out.warn(format!(
            "`{name}` is not a table: only tables are published and have a meaningful replica identity"
        ));
    }
    if let Some(p) = problem
        && !info.publications.is_empty()
    {
        out = out.warn(format!(
            "`{name}` is published with {p}; fix it now (see recommendation)"
        ));
    }
    Ok(out)
}

/// Unique, non-partial, immediate, valid indexes on NOT NULL columns only:
/// the ones `REPLICA IDENTITY USING INDEX` accepts.
async fn candidate_indexes(
    db: &crate::db::backend::Backend,
    schema: &str,
    table: &str,
) -> Result<Vec<String>, ToolError> {
    let (s, t) = (schema.to_owned(), table.to_owned());
    let rows = db
        .query(
            "SELECT ic.relname::text AS name FROM pg_index i \
               JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class c ON c.oid = i.indrelid \
               JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1::text AND c.relname = $2::text AND i.indisunique AND i.indimmediate \
               AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL \
               AND NOT EXISTS (SELECT 1 FROM unnest(i.indkey::int2[]) k(num) \
                   JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.num WHERE NOT a.attnotnull) \
             ORDER BY i.indisprimary DESC, 1",
            &[&s, &t],
        )
        .await?;
    rows.iter().map(|r| col::<String>(r, "name")).collect()
}

// ---------------------------------------------------------------------------
// set_replica_identity
// ---------------------------------------------------------------------------

/// The identity to set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(inline)]
pub enum IdentityArg {
    Default,
    Full,
    Index,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetIdentityArgs {
    /// Default `public`.
    #[serde(default)]
    pub schema: Option<String>,
    /// Table name (case-sensitive).
    pub table: String,
    /// default: primary key; full: whole old row; index: the `index` given.
    pub identity: IdentityArg,
    /// Unique index for identity `index`.
    #[serde(default)]
    pub index: Option<String>,
}

pub(super) fn set_tool() -> ToolDef {
    tool(SET_TOOL, Group::Realtime, Kind::Write)
        .title("Set replica identity")
        .description("Set what UPDATE/DELETE events carry: default, full or index.")
        .idempotent(true)
        .assess(assess_set)
        .handler(set_replica_identity)
}

/// `schema.table` keys of tables seen large; never forgotten.
static LARGE: LazyLock<Mutex<HashSet<String>>> = LazyLock::new(|| Mutex::new(HashSet::new()));
/// Calls (by argument hash) that `assess_set` marked as needing confirmation.
static ASSESSED: LazyLock<Mutex<HashMap<String, usize>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));
const MAX_LARGE: usize = 100_000;
const MAX_ASSESSED: usize = 1_000;

fn key(schema: &str, table: &str) -> String {
    format!("{schema}.{table}")
}

/// Remembers a table as large when it is.
fn learn(info: &TableInfo) {
    if info.large()
        && let Ok(mut l) = LARGE.lock()
        && l.len() < MAX_LARGE
    {
        l.insert(key(&info.schema, &info.table));
    }
}

fn known_large(schema: &str, table: &str) -> bool {
    LARGE
        .lock()
        .map(|l| l.contains(&key(schema, table)))
        .unwrap_or(false)
}

fn call_key(args: &Map<String, Value>) -> String {
    binding(SET_TOOL, "", args)
}

/// Setting FULL on a table known to be large needs confirmation. Invalid
/// arguments are not assessed: the handler refuses them first.
fn assess_set(args: &Map<String, Value>) -> Option<String> {
    let a: SetIdentityArgs = serde_json::from_value(Value::Object(args.clone())).ok()?;
    if a.identity != IdentityArg::Full {
        return None;
    }
    let (schema, table) = table_name(a.schema.as_deref(), &a.table).ok()?;
    if !known_large(&schema, &table) {
        return None;
    }
    if let Ok(mut m) = ASSESSED.lock() {
        if m.len() >= MAX_ASSESSED {
            m.clear();
        }
        *m.entry(call_key(args)).or_insert(0) += 1;
    }
    Some(full_action(&schema, &table))
}

fn full_action(schema: &str, table: &str) -> String {
    format!(
        "set REPLICA IDENTITY FULL on `{schema}.{table}`, a large table (at least {LARGE_TABLE_ROWS} rows or {} GiB): \
         every UPDATE and DELETE on it then writes the whole old row to the WAL (more WAL volume, disk and replication traffic)",
        LARGE_TABLE_BYTES / (1024 * 1024 * 1024)
    )
}

/// True when the pipeline assessed this exact call as needing confirmation
/// (and so checked it). Sound because a table remembered large is never
/// forgotten: a mark left by an earlier identical call means this call's
/// own assessment said the same and marked it too.
fn take_assessed(args: &Map<String, Value>) -> bool {
    let Ok(mut m) = ASSESSED.lock() else {
        return false;
    };
    let k = call_key(args);
    match m.get_mut(&k) {
        Some(n) if *n > 1 => {
            *n -= 1;
            true
        }
        Some(_) => {
            m.remove(&k);
            true
        }
        None => false,
    }
}

async fn set_replica_identity(
    call: Call,
    a: WithRaw<SetIdentityArgs>,
) -> Result<ToolOutput, ToolError> {
    let WithRaw { raw, args: a } = a;
    // Taken first, whatever happens next: the mark belongs to this call.
    let confirmed = take_assessed(&raw) || call.state.config.allow_destructive;
    let (schema, table) = table_name(a.schema.as_deref(), &a.table)?;
    let index = match (a.identity, a.index.as_deref()) {
        (IdentityArg::Index, Some(i)) => Some(check_ident("index", i)?),
        (IdentityArg::Index, None) => {
            return Err(ToolError::invalid(
                "identity `index` needs `index`: the unique index to use",
            )
            .suggestion("check_replica_identity lists the usable indexes as candidate_indexes."));
        }
        (_, Some(_)) => {
            return Err(
                ToolError::invalid("`index` applies only to identity `index`")
                    .suggestion("Leave out `index`, or pass identity `index`."),
            );
        }
        (_, None) => None,
    };
    let db = call.sql().await?;
    let info = table_info(&db, &schema, &table).await?;
    learn(&info);
    let name = info.display();
    if !info.is_table() {
        return Err(ToolError::invalid(format!(
            "`{name}` is not a table (relkind `{}`)",
            info.kind
        ))
        .suggestion("Replica identity applies to tables only."));
    }
    if let Some(i) = &index {
        let candidates = candidate_indexes(&db, &schema, &table).await?;
        if !candidates.contains(i) {
            let listed = if candidates.is_empty() {
                "This table has none: add a primary key or a unique index on NOT NULL columns, or use `full`.".to_owned()
            } else {
                format!("Usable indexes: {}.", candidates.join(", "))
            };
            return Err(ToolError::invalid(format!(
                "`{i}` cannot serve as the replica identity of `{name}`"
            ))
            .reason("the index must exist on this table, be unique, valid, not partial, not deferrable, and cover only NOT NULL columns")
            .suggestion(listed));
        }
    }
    let target = match a.identity {
        IdentityArg::Default => Identity::Default,
        IdentityArg::Full => Identity::Full,
        IdentityArg::Index => Identity::Index,
    };
    let unchanged = target == info.identity
        && (target != Identity::Index || index.as_deref() == info.identity_index.as_deref());
    if unchanged {
        return Ok(ToolOutput::untrusted(json!({
            "schema": schema,
            "table": table,
            "changed": false,
            "replica_identity": target.name(),
            "old_record": info.old_record(),
        }))
        .warn(format!(
            "`{name}` already has replica identity {}; nothing changed",
            target.name()
        )));
    }
    if target == Identity::Full && info.large() && !confirmed {
        let token = call
            .state
            .confirmations
            .issue(binding(call.tool, &call.instance.name, &raw));
        let ttl = call.state.confirmations.ttl().as_secs();
        return Err(ToolError::new(
            ErrorCode::ConfirmationRequired,
            format!(
                "{} (about {} rows, {} bytes)",
                full_action(&schema, &table),
                info.rows_estimate,
                info.size_bytes
            ),
        )
        .reason("REPLICA IDENTITY FULL on a large table needs the user's confirmation")
        .suggestion(format!(
            "Show the user what will change and ask them. If they agree, call set_replica_identity again with the same arguments plus confirmation_token \"{token}\" (valid {ttl} s)."
        )));
    }
    let clause = match (target, &index) {
        (Identity::Index, Some(i)) => format!("USING INDEX {}", quote_ident(i)),
        (Identity::Full, _) => "FULL".into(),
        _ => "DEFAULT".into(),
    };
    let statement = format!("ALTER TABLE {} REPLICA IDENTITY {clause}", info.qualified());
    apply_ddl(&db, std::slice::from_ref(&statement), call.timeout).await?;
    let after = TableInfo {
        identity: target,
        identity_index: index.clone(),
        ..info.clone()
    };
    let mut data = json!({
        "schema": schema,
        "table": table,
        "changed": true,
        "before": info.identity.name(),
        "replica_identity": target.name(),
        "old_record": after.old_record(),
        "statement": statement,
        "table_size": size_fields(&info),
    });
    if let Some(i) = &index {
        data["index"] = json!(i);
    }
    let mut out = ToolOutput::untrusted(data);
    if target == Identity::Full && info.large() {
        out = out.warn(format!(
            "`{name}` is large: watch WAL volume and replication lag (replication_status) after this change"
        ));
    }
    if info.publications.is_empty() {
        out = out.warn(format!(
            "no publication includes `{name}`: the identity matters once it is published (add_table_to_realtime)"
        ));
    }
    if let Some(p) = after.identity_problem() {
        out = out.warn(format!("`{name}` now has {p}"));
    }
    Ok(out)
}
