//! `list_publications`, `add_table_to_realtime` and
//! `remove_table_from_realtime`: what each publication publishes, and
//! putting a table into or out of `supabase_realtime` (created on first use,
//! as Supabase does).

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    Identity, PUBLICATION, TableArgs, apply_ddl, identity_problem, old_record, qualified,
    realtime_publication, table_info, table_name,
};
use crate::db::backend::Backend;
use crate::pg::quote_ident;
use crate::result::{ErrorCode, ToolError, ToolOutput};
use crate::server::call::Call;
use crate::tools::introspect::{col, plural, put};

/// Tables listed per publication when `limit` is not given.
const DEFAULT_TABLES: u32 = 100;
/// Largest accepted `limit`.
const MAX_TABLES: u32 = 1000;
/// First server version with row filters, column lists and schema publications.
const PG15: i32 = 150_000;

// ---------------------------------------------------------------------------
// list_publications
// ---------------------------------------------------------------------------

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListPublicationsArgs {
    /// Only this publication.
    #[serde(default)]
    pub name: Option<String>,
    /// Tables listed per publication (default 100, at most 1000).
    #[serde(default)]
    pub limit: Option<u32>,
}

pub(super) async fn server_version(db: &Backend) -> Result<i32, ToolError> {
    let row = db
        .query_one(
            "SELECT current_setting('server_version_num')::int4 AS v",
            &[],
        )
        .await?;
    col(&row, "v")
}

fn tables_sql(version: i32) -> String {
    let (extra, join) = if version >= PG15 {
        (
            "pg_get_expr(pr.prqual, pr.prrelid) AS row_filter, \
             CASE WHEN pr.prattrs IS NULL THEN NULL ELSE ARRAY(SELECT a.attname::text \
               FROM unnest(pr.prattrs::int2[]) WITH ORDINALITY k(num, ord) \
               JOIN pg_attribute a ON a.attrelid = pr.prrelid AND a.attnum = k.num ORDER BY k.ord) END AS columns,",
            "LEFT JOIN pg_publication_rel pr ON pr.prpubid = p.oid AND pr.prrelid = c.oid",
        )
    } else {
        ("NULL::text AS row_filter, NULL::text[] AS columns,", "")
    };
    format!(
        "SELECT * FROM ( \
           SELECT pt.pubname::text AS pub, pt.schemaname::text AS schema, pt.tablename::text AS tbl, \
             c.relreplident::text AS identity, c.relrowsecurity AS rls, {extra} \
             ARRAY(SELECT a.attname::text FROM pg_index i \
                     CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY k(num, ord) \
                     JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.num \
                   WHERE i.indrelid = c.oid AND i.indisprimary ORDER BY k.ord) AS primary_key, \
             EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisreplident) AS has_identity_index, \
             row_number() OVER (PARTITION BY pt.pubname ORDER BY pt.schemaname, pt.tablename) AS rn, \
             count(*) OVER (PARTITION BY pt.pubname) AS total \
           FROM pg_publication_tables pt \
             JOIN pg_publication p ON p.pubname = pt.pubname \
             JOIN pg_namespace n ON n.nspname = pt.schemaname \
             JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = pt.tablename \
             {join} \
           WHERE ($1::text IS NULL OR pt.pubname = $1::text) \
         ) q WHERE q.rn <= $2::int8 ORDER BY q.pub, q.schema, q.tbl"
    )
}

pub(super) async fn list_publications(
    call: Call,
    a: ListPublicationsArgs,
) -> Result<ToolOutput, ToolError> {
    let limit = a.limit.unwrap_or(DEFAULT_TABLES);
    if limit == 0 || limit > MAX_TABLES {
        return Err(ToolError::invalid(format!(
            "`limit` must be from 1 to {MAX_TABLES}, not {limit}"
        ))
        .suggestion("Pass a smaller limit, or `name` to list one publication."));
    }
    if let Some(n) = &a.name {
        super::check_ident("name", n)?;
    }
    let db = call.sql().await?;
    let version = server_version(&db).await?;
    let pubs = db
        .query(
            "SELECT p.pubname::text AS name, pg_get_userbyid(p.pubowner)::text AS owner, p.puballtables AS all_tables, \
               p.pubinsert AS ins, p.pubupdate AS upd, p.pubdelete AS del, p.pubtruncate AS trunc, p.pubviaroot AS via_root \
             FROM pg_publication p WHERE ($1::text IS NULL OR p.pubname = $1::text) ORDER BY 1",
            &[&a.name],
        )
        .await?;
    if let Some(n) = &a.name
        && pubs.is_empty()
    {
        return Err(ToolError::new(
            ErrorCode::NotFound,
            format!("publication `{n}` does not exist"),
        )
        .suggestion("Call list_publications without `name` to see every publication."));
    }
    let limit = i64::from(limit);
    let tables = db.query(&tables_sql(version), &[&a.name, &limit]).await?;
    let schemas = if version >= PG15 {
        db.query(
            "SELECT p.pubname::text AS pub, n.nspname::text AS schema FROM pg_publication_namespace pn \
             JOIN pg_publication p ON p.oid = pn.pnpubid JOIN pg_namespace n ON n.oid = pn.pnnspid \
             WHERE ($1::text IS NULL OR p.pubname = $1::text) ORDER BY 1, 2",
            &[&a.name],
        )
        .await?
    } else {
        Vec::new()
    };

    let mut out_pubs = Vec::with_capacity(pubs.len());
    let mut realtime = json!({"publication": PUBLICATION, "exists": false});
    let mut issues_total = 0usize;
    let mut warnings = Vec::new();
    for p in &pubs {
        let name: String = col(p, "name")?;
        let update: bool = col(p, "upd")?;
        let delete: bool = col(p, "del")?;
        let mut listed = Vec::new();
        let mut issues = Vec::new();
        let mut total = 0i64;
        for t in tables
            .iter()
            .filter(|t| col::<String>(t, "pub").ok().as_deref() == Some(name.as_str()))
        {
            total = col(t, "total")?;
            let schema: String = col(t, "schema")?;
            let table: String = col(t, "tbl")?;
            let identity = Identity::from_code(&col::<String>(t, "identity")?);
            let pk: Vec<String> = col(t, "primary_key")?;
            let rls: bool = col(t, "rls")?;
            let mut item = json!({
                "schema": schema,
                "table": table,
                "replica_identity": identity.name(),
                "rls_enabled": rls,
            });
            put(
                &mut item,
                "row_filter",
                col::<Option<String>>(t, "row_filter")?,
            );
            put(
                &mut item,
                "columns",
                col::<Option<Vec<String>>>(t, "columns")?,
            );
            if update || delete {
                item["old_record"] = json!(old_record(identity, &pk, rls));
                if let Some(problem) =
                    identity_problem(identity, !pk.is_empty(), col(t, "has_identity_index")?)
                {
                    let fix = format!(
                        "ALTER TABLE {} REPLICA IDENTITY FULL;",
                        qualified(&schema, &table)
                    );
                    item["problem"] = json!(problem);
                    item["fix"] = json!(fix);
                    issues.push(
                        json!({"schema": schema, "table": table, "problem": problem, "fix": fix}),
                    );
                }
            }
            listed.push(item);
        }
        let mut entry = json!({
            "name": name,
            "owner": col::<Option<String>>(p, "owner")?,
            "all_tables": col::<bool>(p, "all_tables")?,
            "publishes": {
                "insert": col::<bool>(p, "ins")?,
                "update": update,
                "delete": delete,
                "truncate": col::<bool>(p, "trunc")?,
            },
            "via_root": col::<bool>(p, "via_root")?,
            "table_count": total,
        });
        let in_schemas: Vec<String> = schemas
            .iter()
            .filter(|s| col::<String>(s, "pub").ok().as_deref() == Some(name.as_str()))
            .filter_map(|s| col::<String>(s, "schema").ok())
            .collect();
        if !in_schemas.is_empty() {
            entry["schemas"] = json!(in_schemas);
        }
        let shown = listed.len() as i64;
        entry["tables"] = Value::Array(listed);
        if shown < total {
            entry["omitted"] = json!(total - shown);
            warnings.push(format!(
                "publication `{name}` lists {shown} of {total} tables; pass a larger `limit` (at most {MAX_TABLES}) or `name` to see more"
            ));
        }
        if !issues.is_empty() {
            issues_total += issues.len();
            warnings.push(format!(
                "publication `{name}` publishes UPDATE/DELETE of {} whose replica identity cannot identify the old row: \
                 those statements fail on them. See `problem` and `fix` on each table.",
                plural(issues.len(), "table", "tables")
            ));
        }
        if name == PUBLICATION {
            realtime = json!({
                "publication": PUBLICATION,
                "exists": true,
                "tables": total,
                "replica_identity_issues": issues,
            });
        }
        out_pubs.push(entry);
    }
    if realtime["exists"] == json!(false) {
        realtime["note"] = json!(
            "supabase_realtime does not exist, so Realtime streams no table changes; add_table_to_realtime creates it"
        );
    }
    let mut data = json!({"publications": out_pubs});
    if a.name.is_none() || a.name.as_deref() == Some(PUBLICATION) {
        data["realtime"] = realtime;
    }
    if version < PG15 {
        data["note"] =
            json!("row filters, column lists and schema publications need PostgreSQL 15");
    }
    let mut out = ToolOutput::untrusted(data);
    out.warnings = warnings;
    tracing::debug!(issues = issues_total, "publications listed");
    Ok(out)
}

// ---------------------------------------------------------------------------
// add_table_to_realtime / remove_table_from_realtime
// ---------------------------------------------------------------------------

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddTableArgs {
    /// Default `public`.
    #[serde(default)]
    pub schema: Option<String>,
    /// Table name (case-sensitive).
    pub table: String,
    /// Also set REPLICA IDENTITY FULL (old rows with every column).
    #[serde(default)]
    pub replica_identity_full: bool,
}

pub(super) async fn add_table(call: Call, a: AddTableArgs) -> Result<ToolOutput, ToolError> {
    let (schema, table) = table_name(a.schema.as_deref(), &a.table)?;
    let db = call.sql().await?;
    let info = table_info(&db, &schema, &table).await?;
    let name = info.display();
    if !info.is_table() {
        return Err(ToolError::invalid(format!(
            "`{name}` is not a table (relkind `{}`): only tables can be published",
            info.kind
        ))
        .suggestion("Publish the table the view or materialized view reads from."));
    }
    let publication = realtime_publication(&db).await?;
    if publication.as_ref().is_some_and(|p| p.all_tables) {
        return Err(ToolError::invalid(format!(
            "`{PUBLICATION}` is a FOR ALL TABLES publication: `{name}` is already published"
        ))
        .suggestion("Nothing to do; list_publications shows what it publishes."));
    }
    if info.in_realtime() {
        return Err(ToolError::invalid(format!(
            "`{name}` is already in publication `{PUBLICATION}`"
        ))
        .suggestion(
            "Nothing to do. To change what UPDATE/DELETE events carry, use set_replica_identity.",
        ));
    }
    let publishes_changes = publication.as_ref().is_none_or(|p| p.update || p.delete);
    if publishes_changes
        && !a.replica_identity_full
        && let Some(problem) = info.identity_problem()
    {
        return Err(ToolError::invalid(format!(
            "adding `{name}` would make every UPDATE and DELETE on it fail"
        ))
        .reason(problem)
        .suggestion(
            "Pass replica_identity_full: true (old rows are then logged whole), or add a primary key first \
             (ALTER TABLE ... ADD PRIMARY KEY (...)), then call add_table_to_realtime again.",
        ));
    }

    let mut statements = Vec::new();
    let created = publication.is_none();
    if created {
        statements.push(format!("CREATE PUBLICATION {}", quote_ident(PUBLICATION)));
    }
    statements.push(format!(
        "ALTER PUBLICATION {} ADD TABLE {}",
        quote_ident(PUBLICATION),
        info.qualified()
    ));
    let set_full = a.replica_identity_full && info.identity != Identity::Full;
    if set_full {
        statements.push(format!(
            "ALTER TABLE {} REPLICA IDENTITY FULL",
            info.qualified()
        ));
    }
    apply_ddl(&db, &statements, call.timeout).await?;

    let identity = if a.replica_identity_full {
        Identity::Full
    } else {
        info.identity
    };
    let mut out = ToolOutput::untrusted(json!({
        "schema": schema,
        "table": table,
        "publication": PUBLICATION,
        "added": true,
        "created_publication": created,
        "replica_identity": identity.name(),
        "old_record": old_record(identity, &info.primary_key, info.rls),
        "statements": statements,
    }));
    if !info.rls {
        let who = if info.api_readable {
            "anon and authenticated can SELECT it, so anyone with the anon key can subscribe to every change"
        } else {
            "its changes reach every subscriber whose role may SELECT it"
        };
        out = out.warn(format!(
            "row level security is off on `{name}`: {who}. Enable it and add SELECT policies: \
             ALTER TABLE {} ENABLE ROW LEVEL SECURITY;",
            info.qualified()
        ));
    }
    if info.managed {
        out = out.warn(format!(
            "`{name}` is in a Supabase-managed schema; its services own that table, publish your own tables instead"
        ));
    }
    if set_full && info.large() {
        out = out.warn(format!(
            "`{name}` is large: with REPLICA IDENTITY FULL every UPDATE and DELETE writes the whole old row to the WAL"
        ));
    }
    if info.wal_level != "logical" {
        out = out.warn(format!(
            "wal_level is `{}`: Realtime needs `logical` to stream changes (ALTER SYSTEM SET wal_level = logical, then restart PostgreSQL)",
            info.wal_level
        ));
    }
    Ok(out)
}

pub(super) async fn remove_table(call: Call, a: TableArgs) -> Result<ToolOutput, ToolError> {
    let (schema, table) = table_name(a.schema.as_deref(), &a.table)?;
    let db = call.sql().await?;
    let info = table_info(&db, &schema, &table).await?;
    let name = info.display();
    let Some(publication) = realtime_publication(&db).await? else {
        return Err(ToolError::new(
            ErrorCode::NotFound,
            format!("publication `{PUBLICATION}` does not exist, so `{name}` is not published to Realtime"),
        )
        .suggestion("Nothing to do; list_publications shows the publications that exist."));
    };
    if publication.all_tables {
        return Err(ToolError::invalid(format!(
            "`{PUBLICATION}` is a FOR ALL TABLES publication: one table cannot be dropped from it"
        ))
        .suggestion(
            "Recreate the publication with an explicit table list (DROP PUBLICATION, then CREATE PUBLICATION \
             supabase_realtime FOR TABLE ...), which interrupts Realtime briefly.",
        ));
    }
    if !info.in_realtime() {
        return Err(
            ToolError::invalid(format!("`{name}` is not in publication `{PUBLICATION}`"))
                .suggestion("Nothing to do; list_publications shows the tables it publishes."),
        );
    }
    if !info.in_realtime_directly {
        return Err(ToolError::invalid(format!(
            "`{name}` is published through its schema or its partitioned parent, not by name"
        ))
        .suggestion(format!(
            "Drop the schema (ALTER PUBLICATION {PUBLICATION} DROP TABLES IN SCHEMA ...) or the parent table instead; \
             list_publications shows how it is included."
        )));
    }
    let statements = vec![format!(
        "ALTER PUBLICATION {} DROP TABLE {}",
        quote_ident(PUBLICATION),
        info.qualified()
    )];
    apply_ddl(&db, &statements, call.timeout).await?;
    let others: Vec<&String> = info
        .publications
        .iter()
        .filter(|p| *p != PUBLICATION)
        .collect();
    let mut out = ToolOutput::untrusted(json!({
        "schema": schema,
        "table": table,
        "publication": PUBLICATION,
        "removed": true,
        "replica_identity": info.identity.name(),
        "statements": statements,
        "other_publications": others,
    }));
    if info.identity == Identity::Full && others.is_empty() {
        out = out.warn(format!(
            "`{name}` keeps REPLICA IDENTITY FULL, which logs whole old rows for nothing now; to stop it: \
             ALTER TABLE {} REPLICA IDENTITY DEFAULT;",
            info.qualified()
        ));
    }
    Ok(out)
}
