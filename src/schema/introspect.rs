//! Reads a database's catalog into a [`Catalog`]: one query per object
//! class, all in one read-only repeatable-read transaction (a consistent
//! snapshot) with `search_path` fixed to `pg_catalog`, so every deparsed
//! definition names its objects fully qualified and the result does not
//! depend on the session's settings.
//!
//! Left out: system schemas, objects that belong to an extension, the
//! identity sequences of identity columns, indexes that back a constraint,
//! and what a partition inherits from its parent (constraints, indexes,
//! triggers).

use std::collections::BTreeMap;

use tokio_postgres::types::{FromSql, ToSql};
use tokio_postgres::{Client, Row};

use super::model::*;
use super::{MANAGED_SCHEMAS, SchemaError, Scope};

/// Fixed settings for the snapshot (deparsed text depends on them).
const SETTINGS: &str = "SET LOCAL search_path = pg_catalog, pg_temp; SET LOCAL TimeZone = 'UTC'; \
     SET LOCAL DateStyle = 'ISO, YMD'; SET LOCAL IntervalStyle = 'postgres'; \
     SET LOCAL extra_float_digits = 1; SET LOCAL bytea_output = 'hex'";

/// The schemas in scope (`ns`): `$1` names (empty: all), `$2` excluded;
/// and (`ans`) the schemas whose tables can carry a user's triggers and
/// policies: with no names given, the managed ones too (a trigger on
/// `auth.users` calling a function of the user's, a policy on
/// `storage.objects`).
const NS: &str = "WITH ns AS (SELECT n.oid, n.nspname FROM pg_namespace n
     WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
       AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'
       AND (cardinality($1::text[]) = 0 OR n.nspname = ANY($1::text[]))
       AND NOT n.nspname = ANY($2::text[])
       AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_namespace'::regclass
                       AND d.objid = n.oid AND d.deptype = 'e')),
     ans AS (SELECT n.oid, n.nspname FROM pg_namespace n
     WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
       AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'
       AND (cardinality($1::text[]) = 0 OR n.nspname = ANY($1::text[]))) ";

/// Not owned by an extension (`{c}` is the object's oid expression, `{k}` its catalog).
fn not_ext(oid: &str, catalog: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM pg_depend xd WHERE xd.classid = '{catalog}'::regclass AND xd.objid = {oid} AND xd.deptype = 'e')"
    )
}

/// An exploded ACL as `grantee|privilege|grantable` strings.
fn explode(acl: &str) -> String {
    format!(
        "ARRAY(SELECT format('%s|%s|%s', CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END, \
         a.privilege_type, a.is_grantable) FROM aclexplode({acl}) a)"
    )
}

/// `acl, initial, owner` columns of an object.
fn grants_cols(acl: &str, kind: &str, owner: &str) -> String {
    format!(
        "{}, {}, quote_ident(pg_get_userbyid({owner}))",
        explode(&format!("coalesce({acl}, acldefault('{kind}', {owner}))")),
        explode(&format!("acldefault('{kind}', {owner})"))
    )
}

fn q_schemas() -> String {
    format!(
        "{NS} SELECT quote_ident(n.nspname), {}, obj_description(n.oid, 'pg_namespace')
         FROM ns JOIN pg_namespace n ON n.oid = ns.oid",
        grants_cols("n.nspacl", "n", "n.nspowner")
    )
}

const Q_EXTENSIONS: &str = "SELECT quote_ident(e.extname), quote_ident(n.nspname), e.extversion,
       obj_description(e.oid, 'pg_extension')
     FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
     WHERE cardinality($1::text[]) = 0 OR n.nspname = ANY($1::text[])";

fn q_types() -> String {
    format!(
        "{NS} SELECT quote_ident(ns.nspname), quote_ident(t.typname), t.typtype::text,
           ARRAY(SELECT e.enumlabel::text FROM pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder),
           CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END,
           pg_get_expr(t.typdefaultbin, 0), t.typnotnull,
           CASE WHEN t.typtype = 'd' AND t.typcollation <> 0
                 AND t.typcollation <> (SELECT b.typcollation FROM pg_type b WHERE b.oid = t.typbasetype)
             THEN (SELECT format('%I.%I', cn.nspname, co.collname) FROM pg_collation co
                   JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = t.typcollation) END,
           ARRAY(SELECT quote_ident(c.conname) || '|' || pg_get_constraintdef(c.oid)
                 FROM pg_constraint c WHERE c.contypid = t.oid ORDER BY c.conname),
           ARRAY(SELECT quote_ident(a.attname) || '|' || format_type(a.atttypid, a.atttypmod)
                 FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
                 ORDER BY a.attnum),
           (SELECT concat_ws(', ', 'subtype = ' || format_type(r.rngsubtype, NULL),
                   CASE WHEN r.rngsubdiff <> 0 THEN 'subtype_diff = ' || r.rngsubdiff::regproc::text END)
              FROM pg_range r WHERE r.rngtypid = t.oid),
           {}, obj_description(t.oid, 'pg_type')
         FROM pg_type t JOIN ns ON ns.oid = t.typnamespace
         WHERE (t.typtype IN ('e', 'd', 'r')
                OR (t.typtype = 'c' AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c'))
           AND {}",
        grants_cols("t.typacl", "T", "t.typowner"),
        not_ext("t.oid", "pg_type")
    )
}

fn q_sequences() -> String {
    format!(
        "{NS} SELECT quote_ident(ns.nspname), quote_ident(c.relname), format_type(s.seqtypid, NULL),
           s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle,
           (SELECT format('%I.%I.%I', tn.nspname, tc.relname, a.attname) FROM pg_depend d
              JOIN pg_class tc ON tc.oid = d.refobjid JOIN pg_namespace tn ON tn.oid = tc.relnamespace
              JOIN pg_attribute a ON a.attrelid = tc.oid AND a.attnum = d.refobjsubid
             WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
               AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'a' LIMIT 1),
           {}, obj_description(c.oid, 'pg_class')
         FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN ns ON ns.oid = c.relnamespace
         WHERE NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                           AND d.objid = c.oid AND d.deptype IN ('e', 'i'))",
        grants_cols("c.relacl", "s", "c.relowner")
    )
}

fn q_tables() -> String {
    format!(
        "{NS} SELECT quote_ident(ns.nspname), quote_ident(c.relname), c.relkind::text, c.relpersistence = 'u',
           CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END,
           (SELECT format('%I.%I', pn.nspname, p.relname) FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent
              JOIN pg_namespace pn ON pn.oid = p.relnamespace WHERE i.inhrelid = c.oid AND c.relispartition LIMIT 1),
           CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END,
           coalesce(c.reloptions, '{{}}')::text[], c.relrowsecurity, c.relforcerowsecurity,
           {}, obj_description(c.oid, 'pg_class'),
           CASE c.relreplident WHEN 'f' THEN 'FULL' WHEN 'n' THEN 'NOTHING'
             WHEN 'i' THEN 'USING INDEX ' || (SELECT quote_ident(ic.relname) FROM pg_index i
                 JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = c.oid AND i.indisreplident LIMIT 1)
             ELSE 'DEFAULT' END
         FROM pg_class c JOIN ns ON ns.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p') AND {}",
        grants_cols("c.relacl", "r", "c.relowner"),
        not_ext("c.oid", "pg_class")
    )
}

fn q_columns() -> String {
    format!(
        "{NS} SELECT format('%I.%I', ns.nspname, c.relname), quote_ident(a.attname),
           format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attcollation <> t.typcollation
             THEN ' COLLATE ' || (SELECT format('%I.%I', cn.nspname, co.collname) FROM pg_collation co
                  JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = a.attcollation) ELSE '' END,
           a.attnotnull, CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, d.adrelid) END,
           a.attidentity::text, CASE WHEN a.attgenerated <> '' THEN pg_get_expr(d.adbin, d.adrelid) END,
           a.attislocal, {}, col_description(c.oid, a.attnum)
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN ns ON ns.oid = c.relnamespace
           JOIN pg_type t ON t.oid = a.atttypid
           LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE c.relkind IN ('r', 'p', 'v', 'm') AND a.attnum > 0 AND NOT a.attisdropped AND {}
         ORDER BY 1, a.attnum",
        explode("a.attacl"),
        not_ext("c.oid", "pg_class")
    )
}

fn q_constraints() -> String {
    format!(
        "{NS} SELECT format('%I.%I', ns.nspname, c.relname), quote_ident(con.conname), con.contype::text,
           pg_get_constraintdef(con.oid),
           CASE WHEN con.contype = 'f' THEN (SELECT format('%I.%I', rn.nspname, rc.relname) FROM pg_class rc
             JOIN pg_namespace rn ON rn.oid = rc.relnamespace WHERE rc.oid = con.confrelid) END,
           obj_description(con.oid, 'pg_constraint')
         FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN ns ON ns.oid = c.relnamespace
         WHERE con.conparentid = 0 AND con.conislocal AND con.contype <> 't'
           AND c.relkind IN ('r', 'p') AND {}",
        not_ext("c.oid", "pg_class")
    )
}

fn q_indexes() -> String {
    format!(
        "{NS} SELECT quote_ident(ns.nspname), quote_ident(ic.relname), format('%I.%I', tn.nspname, tc.relname),
           pg_get_indexdef(i.indexrelid), tc.relkind = 'm', obj_description(ic.oid, 'pg_class')
         FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN ns ON ns.oid = ic.relnamespace
           JOIN pg_class tc ON tc.oid = i.indrelid JOIN pg_namespace tn ON tn.oid = tc.relnamespace
         WHERE tc.relkind IN ('r', 'p', 'm')
           AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid
                           AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x'))
           AND NOT EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = i.indexrelid)
           AND {} AND {}",
        not_ext("tc.oid", "pg_class"),
        not_ext("ic.oid", "pg_class")
    )
}

fn q_views() -> String {
    format!(
        "{NS} SELECT quote_ident(ns.nspname), quote_ident(c.relname), c.relkind = 'm', pg_get_viewdef(c.oid),
           ARRAY(SELECT o FROM unnest(coalesce(c.reloptions, '{{}}')) o WHERE o NOT LIKE 'check\\_option=%' ORDER BY o),
           (SELECT upper(substr(o, 14)) FROM unnest(c.reloptions) o WHERE o LIKE 'check\\_option=%' LIMIT 1),
           c.relispopulated,
           ARRAY(SELECT DISTINCT format('%I.%I', rn.nspname, rc.relname) FROM pg_rewrite r
                   JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
                    AND d.refclassid = 'pg_class'::regclass
                   JOIN pg_class rc ON rc.oid = d.refobjid JOIN pg_namespace rn ON rn.oid = rc.relnamespace
                 WHERE r.ev_class = c.oid AND d.refobjid <> c.oid),
           ARRAY(SELECT DISTINCT format('%I.%I(%s)', pn.nspname, p.proname, pg_get_function_identity_arguments(p.oid))
                 FROM pg_rewrite r JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
                    AND d.refclassid = 'pg_proc'::regclass
                   JOIN pg_proc p ON p.oid = d.refobjid JOIN pg_namespace pn ON pn.oid = p.pronamespace
                 WHERE r.ev_class = c.oid),
           {}, obj_description(c.oid, 'pg_class')
         FROM pg_class c JOIN ns ON ns.oid = c.relnamespace
         WHERE c.relkind IN ('v', 'm') AND {}",
        grants_cols("c.relacl", "r", "c.relowner"),
        not_ext("c.oid", "pg_class")
    )
}

fn q_functions(server_version: i32) -> String {
    let sql_body = if server_version >= 140000 {
        "p.prosqlbody IS NOT NULL"
    } else {
        "false"
    };
    format!(
        "{NS} SELECT format('%I.%I(%s)', ns.nspname, p.proname, pg_get_function_identity_arguments(p.oid)),
           p.prokind::text, pg_get_functiondef(p.oid), coalesce(pg_get_function_result(p.oid), ''),
           coalesce(p.proargnames, '{{}}')::text[],
           {sql_body} OR EXISTS (SELECT 1 FROM pg_depend d JOIN pg_type t ON t.oid = d.refobjid
              WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.refclassid = 'pg_type'::regclass
                AND t.typrelid <> 0 AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) IN ('r', 'p', 'v', 'm')),
           {}, obj_description(p.oid, 'pg_proc')
         FROM pg_proc p JOIN ns ON ns.oid = p.pronamespace
         WHERE p.prokind IN ('f', 'p', 'w') AND {}",
        grants_cols("p.proacl", "f", "p.proowner"),
        not_ext("p.oid", "pg_proc")
    )
}

fn q_triggers() -> String {
    format!(
        "{NS} SELECT quote_ident(t.tgname), format('%I.%I', ns.nspname, c.relname), pg_get_triggerdef(t.oid),
           t.tgenabled::text,
           (SELECT format('%I.%I(%s)', pn.nspname, p.proname, pg_get_function_identity_arguments(p.oid))
              FROM pg_proc p JOIN pg_namespace pn ON pn.oid = p.pronamespace WHERE p.oid = t.tgfoid),
           obj_description(t.oid, 'pg_trigger')
         FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN ans ns ON ns.oid = c.relnamespace
         WHERE NOT t.tgisinternal AND t.tgparentid = 0 AND {}
           AND (c.relnamespace IN (SELECT oid FROM ns)
                OR (SELECT pronamespace FROM pg_proc WHERE oid = t.tgfoid) IN (SELECT oid FROM ns))",
        not_ext("c.oid", "pg_class")
    )
}

fn q_policies() -> String {
    format!(
        "{NS} SELECT quote_ident(p.polname), format('%I.%I', ns.nspname, c.relname), p.polpermissive,
           CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE'
                         WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,
           ARRAY(SELECT CASE WHEN u = 0 THEN 'public' ELSE quote_ident(pg_get_userbyid(u)) END
                 FROM unnest(p.polroles) u ORDER BY 1),
           pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid),
           obj_description(p.oid, 'pg_policy')
         FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN ans ns ON ns.oid = c.relnamespace
         WHERE {}",
        not_ext("c.oid", "pg_class")
    )
}

fn q_default_privileges() -> String {
    format!(
        "{NS} SELECT quote_ident(pg_get_userbyid(d.defaclrole)),
           (SELECT quote_ident(nspname) FROM pg_namespace WHERE oid = d.defaclnamespace),
           d.defaclobjtype::text, {},
           CASE WHEN d.defaclnamespace = 0 THEN {} ELSE '{{}}'::text[] END
         FROM pg_default_acl d
         WHERE d.defaclnamespace = 0 OR d.defaclnamespace IN (SELECT oid FROM ns)",
        explode("d.defaclacl"),
        explode(
            "acldefault(CASE d.defaclobjtype WHEN 'S' THEN 's' ELSE d.defaclobjtype END, d.defaclrole)"
        )
    )
}

fn q_publications(server_version: i32) -> String {
    let (columns, filter, schemas) = if server_version >= 150000 {
        (
            "CASE WHEN pr.prattrs IS NOT NULL THEN ' (' || (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum)
               FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum = ANY(pr.prattrs)) || ')' ELSE '' END",
            "CASE WHEN pr.prqual IS NOT NULL THEN ' WHERE (' || pg_get_expr(pr.prqual, c.oid) || ')' ELSE '' END",
            "ARRAY(SELECT quote_ident(n.nspname) FROM pg_publication_namespace pn JOIN pg_namespace n ON n.oid = pn.pnnspid
                   WHERE pn.pnpubid = p.oid AND n.oid IN (SELECT oid FROM ns))",
        )
    } else {
        ("''", "''", "'{}'::text[]")
    };
    format!(
        "{NS} SELECT quote_ident(p.pubname), p.puballtables,
           concat_ws(', ', CASE WHEN p.pubinsert THEN 'insert' END, CASE WHEN p.pubupdate THEN 'update' END,
                     CASE WHEN p.pubdelete THEN 'delete' END, CASE WHEN p.pubtruncate THEN 'truncate' END),
           p.pubviaroot,
           ARRAY(SELECT format('%I.%I', n.nspname, c.relname) || chr(1) || {columns} || {filter}
                 FROM pg_publication_rel pr JOIN pg_class c ON c.oid = pr.prrelid
                   JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE pr.prpubid = p.oid AND n.oid IN (SELECT oid FROM ns)),
           {schemas}, obj_description(p.oid, 'pg_publication')
         FROM pg_publication p"
    )
}

fn get<'a, T: FromSql<'a>>(row: &'a Row, i: usize) -> Result<T, SchemaError> {
    row.try_get(i)
        .map_err(|e| SchemaError::UnexpectedRow(format!("column {i}: {e}")))
}

fn acl_of(items: Vec<String>) -> Acl {
    items
        .into_iter()
        .filter_map(|item| {
            let mut parts = item.rsplitn(3, '|');
            let grantable = parts.next()? == "true";
            let privilege = parts.next()?.to_string();
            let grantee = parts.next()?.to_string();
            Some((grantee, privilege, grantable))
        })
        .collect()
}

/// `acl, initial, owner` read from columns `i..i+3`.
fn grants_at(row: &Row, i: usize) -> Result<Grants, SchemaError> {
    Ok(Grants {
        acl: acl_of(get(row, i)?),
        initial: acl_of(get(row, i + 1)?),
        owner: get(row, i + 2)?,
    })
}

/// `name|definition` pairs.
fn pairs(items: Vec<String>) -> Vec<(String, String)> {
    items
        .into_iter()
        .filter_map(|item| {
            let (name, def) = item.split_once('|')?;
            Some((name.to_string(), def.to_string()))
        })
        .collect()
}

fn qualified(schema: &str, name: &str) -> String {
    format!("{schema}.{name}")
}

/// The settings [`SETTINGS`] fixes, saved under this prefix by
/// [`load_in_transaction`] and restored afterwards.
const SAVED: &str = "smcp_schema.";
const SETTING_NAMES: &str = "ARRAY['search_path', 'TimeZone', 'DateStyle', 'IntervalStyle', 'extra_float_digits', 'bytea_output']";

/// Reads the catalog inside the caller's open transaction (a dry run sees
/// its own uncommitted changes): the settings are fixed for the reading and
/// set back to the caller's values afterwards, also on error.
pub async fn load_in_transaction(client: &Client, scope: &Scope) -> Result<Catalog, SchemaError> {
    client
        .batch_execute(&format!(
            "SELECT pg_catalog.set_config('{SAVED}' || n, pg_catalog.current_setting(n), true) \
             FROM pg_catalog.unnest({SETTING_NAMES}) n; {SETTINGS}"
        ))
        .await
        .map_err(query_error)?;
    let result = read(client, scope).await;
    let restored = client
        .batch_execute(&format!(
            "SELECT pg_catalog.set_config(n, pg_catalog.current_setting('{SAVED}' || n), true) \
             FROM pg_catalog.unnest({SETTING_NAMES}) n"
        ))
        .await
        .map_err(query_error);
    let catalog = result?;
    restored?;
    Ok(catalog)
}

/// Reads the catalog of the database `client` is connected to, in a
/// transaction of its own (so not inside one the caller holds open: use
/// [`load_in_transaction`] there).
pub async fn load(client: &Client, scope: &Scope) -> Result<Catalog, SchemaError> {
    client
        .batch_execute(&format!(
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; {SETTINGS}"
        ))
        .await
        .map_err(query_error)?;
    let result = read(client, scope).await;
    let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
    let ended = client.batch_execute(end).await.map_err(query_error);
    let catalog = result?;
    ended?;
    Ok(catalog)
}

fn query_error(source: tokio_postgres::Error) -> SchemaError {
    SchemaError::Query {
        detail: crate::pg::describe_error(&source),
        source,
    }
}

async fn rows(
    client: &Client,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Row>, SchemaError> {
    client.query(sql, params).await.map_err(query_error)
}

async fn read(client: &Client, scope: &Scope) -> Result<Catalog, SchemaError> {
    let version: i32 = {
        let row = client
            .query_one("SELECT current_setting('server_version_num')::int", &[])
            .await
            .map_err(query_error)?;
        get(&row, 0)?
    };
    let only: Vec<String> = scope.schemas.clone();
    let excluded: Vec<String> = if only.is_empty() && !scope.include_managed {
        MANAGED_SCHEMAS.iter().map(|s| s.to_string()).collect()
    } else {
        Vec::new()
    };
    let p: [&(dyn ToSql + Sync); 2] = [&only, &excluded];
    let mut cat = Catalog::default();

    for row in rows(client, &q_schemas(), &p).await? {
        let name: String = get(&row, 0)?;
        cat.schemas.insert(
            name.clone(),
            Schema {
                name,
                grants: grants_at(&row, 1)?,
                comment: get(&row, 4)?,
            },
        );
    }
    for row in rows(client, Q_EXTENSIONS, &p[..1]).await? {
        let name: String = get(&row, 0)?;
        cat.extensions.insert(
            name.clone(),
            Extension {
                name,
                schema: get(&row, 1)?,
                version: get(&row, 2)?,
                comment: get(&row, 3)?,
            },
        );
    }
    for row in rows(client, &q_types(), &p).await? {
        let schema: String = get(&row, 0)?;
        let name: String = get(&row, 1)?;
        let typtype: String = get(&row, 2)?;
        let kind = match typtype.as_str() {
            "e" => TypeKind::Enum(get(&row, 3)?),
            "d" => TypeKind::Domain {
                base: get::<Option<String>>(&row, 4)?.unwrap_or_default(),
                default: get(&row, 5)?,
                not_null: get(&row, 6)?,
                collation: get(&row, 7)?,
                checks: pairs(get(&row, 8)?).into_iter().collect(),
            },
            "r" => TypeKind::Range(get::<Option<String>>(&row, 10)?.unwrap_or_default()),
            _ => TypeKind::Composite(pairs(get(&row, 9)?)),
        };
        cat.types.insert(
            qualified(&schema, &name),
            TypeDef {
                schema,
                name,
                kind,
                grants: grants_at(&row, 11)?,
                comment: get(&row, 14)?,
            },
        );
    }
    for row in rows(client, &q_sequences(), &p).await? {
        let schema: String = get(&row, 0)?;
        let name: String = get(&row, 1)?;
        cat.sequences.insert(
            qualified(&schema, &name),
            Sequence {
                schema,
                name,
                data_type: get(&row, 2)?,
                start: get(&row, 3)?,
                increment: get(&row, 4)?,
                min: get(&row, 5)?,
                max: get(&row, 6)?,
                cache: get(&row, 7)?,
                cycle: get(&row, 8)?,
                owned_by: get(&row, 9)?,
                grants: grants_at(&row, 10)?,
                comment: get(&row, 13)?,
            },
        );
    }
    for row in rows(client, &q_tables(), &p).await? {
        let schema: String = get(&row, 0)?;
        let name: String = get(&row, 1)?;
        let parent: Option<String> = get(&row, 5)?;
        let bound: Option<String> = get(&row, 6)?;
        cat.tables.insert(
            qualified(&schema, &name),
            Table {
                schema,
                name,
                kind: get(&row, 2)?,
                unlogged: get(&row, 3)?,
                partition_key: get(&row, 4)?,
                partition_of: parent.map(|p| (p, bound.unwrap_or_default())),
                options: get(&row, 7)?,
                columns: Vec::new(),
                constraints: BTreeMap::new(),
                rls: get(&row, 8)?,
                force_rls: get(&row, 9)?,
                grants: grants_at(&row, 10)?,
                comment: get(&row, 13)?,
                replica_identity: get::<Option<String>>(&row, 14)?
                    .unwrap_or_else(|| "DEFAULT".into()),
            },
        );
    }
    let mut view_columns: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for row in rows(client, &q_columns(), &p).await? {
        let relation: String = get(&row, 0)?;
        let column = Column {
            name: get(&row, 1)?,
            data_type: get(&row, 2)?,
            not_null: get(&row, 3)?,
            default: get(&row, 4)?,
            identity: get(&row, 5)?,
            generated: get(&row, 6)?,
            local: get(&row, 7)?,
            acl: acl_of(get(&row, 8)?),
            comment: get(&row, 9)?,
        };
        if let Some(table) = cat.tables.get_mut(&relation) {
            table.columns.push(column);
        } else if let Some(comment) = column.comment {
            view_columns
                .entry(relation)
                .or_default()
                .insert(column.name, comment);
        }
    }
    for row in rows(client, &q_constraints(), &p).await? {
        let relation: String = get(&row, 0)?;
        let name: String = get(&row, 1)?;
        if let Some(table) = cat.tables.get_mut(&relation) {
            table.constraints.insert(
                name.clone(),
                Constraint {
                    name,
                    kind: get(&row, 2)?,
                    definition: get(&row, 3)?,
                    references: get(&row, 4)?,
                    comment: get(&row, 5)?,
                },
            );
        }
    }
    for row in rows(client, &q_indexes(), &p).await? {
        let schema: String = get(&row, 0)?;
        let name: String = get(&row, 1)?;
        cat.indexes.insert(
            qualified(&schema, &name),
            Index {
                schema,
                name,
                table: get(&row, 2)?,
                definition: get(&row, 3)?,
                on_view: get(&row, 4)?,
                comment: get(&row, 5)?,
            },
        );
    }
    for row in rows(client, &q_views(), &p).await? {
        let schema: String = get(&row, 0)?;
        let name: String = get(&row, 1)?;
        let key = qualified(&schema, &name);
        let definition: String = get(&row, 3)?;
        let definition = definition
            .trim()
            .trim_end_matches(';')
            .trim_end()
            .to_string();
        let depends_on: Vec<String> = get(&row, 7)?;
        let calls: Vec<String> = get(&row, 8)?;
        cat.views.insert(
            key.clone(),
            View {
                schema,
                name,
                materialized: get(&row, 2)?,
                definition,
                options: get(&row, 4)?,
                check_option: get(&row, 5)?,
                populated: get(&row, 6)?,
                depends_on: depends_on.into_iter().collect(),
                calls: calls.into_iter().collect(),
                column_comments: view_columns.remove(&key).unwrap_or_default(),
                grants: grants_at(&row, 9)?,
                comment: get(&row, 12)?,
            },
        );
    }
    for row in rows(client, &q_functions(version), &p).await? {
        let signature: String = get(&row, 0)?;
        let definition: String = get(&row, 2)?;
        cat.functions.insert(
            signature.clone(),
            Function {
                signature,
                kind: get(&row, 1)?,
                definition: definition.trim_end().to_string(),
                result: get(&row, 3)?,
                arg_names: get(&row, 4)?,
                late: get(&row, 5)?,
                grants: grants_at(&row, 6)?,
                comment: get(&row, 9)?,
            },
        );
    }
    for row in rows(client, &q_triggers(), &p).await? {
        let name: String = get(&row, 0)?;
        let table: String = get(&row, 1)?;
        cat.triggers.insert(
            format!("{name} ON {table}"),
            Trigger {
                name,
                table,
                definition: get(&row, 2)?,
                enabled: get(&row, 3)?,
                function: get::<Option<String>>(&row, 4)?.unwrap_or_default(),
                comment: get(&row, 5)?,
            },
        );
    }
    for row in rows(client, &q_policies(), &p).await? {
        let name: String = get(&row, 0)?;
        let table: String = get(&row, 1)?;
        cat.policies.insert(
            format!("{name} ON {table}"),
            Policy {
                name,
                table,
                permissive: get(&row, 2)?,
                command: get(&row, 3)?,
                roles: get(&row, 4)?,
                using: get(&row, 5)?,
                check: get(&row, 6)?,
                comment: get(&row, 7)?,
            },
        );
    }
    for row in rows(client, &q_default_privileges(), &p).await? {
        let role: String = get(&row, 0)?;
        let schema: Option<String> = get(&row, 1)?;
        let objtype: String = get(&row, 2)?;
        let object_type = match objtype.as_str() {
            "r" => "TABLES",
            "S" => "SEQUENCES",
            "f" => "FUNCTIONS",
            "T" => "TYPES",
            "n" => "SCHEMAS",
            _ => continue,
        };
        cat.default_privileges.insert(
            format!("{role} {} {object_type}", schema.as_deref().unwrap_or("*")),
            DefaultPrivileges {
                role,
                schema,
                object_type: object_type.to_string(),
                acl: acl_of(get(&row, 3)?),
                absent: acl_of(get(&row, 4)?),
            },
        );
    }
    for row in rows(client, &q_publications(version), &p).await? {
        let name: String = get(&row, 0)?;
        let tables: Vec<String> = get(&row, 4)?;
        let schemas: Vec<String> = get(&row, 5)?;
        cat.publications.insert(
            name.clone(),
            Publication {
                name,
                all_tables: get(&row, 1)?,
                publish: get(&row, 2)?,
                via_root: get(&row, 3)?,
                tables: tables
                    .into_iter()
                    .filter_map(|t| {
                        let (name, rest) = t.split_once('\u{1}')?;
                        Some((name.to_string(), rest.to_string()))
                    })
                    .collect(),
                schemas: schemas.into_iter().collect(),
                comment: get(&row, 6)?,
            },
        );
    }
    Ok(cat)
}
