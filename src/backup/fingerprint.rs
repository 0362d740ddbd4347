//! Schema fingerprints: a digest per schema object of a database, taken when
//! a backup is made (and stored in its manifest) and compared after a restore,
//! so that "the restored schema differs from the backup" is reported by
//! object name.
//!
//! This module owns what a fingerprint contains, the catalog queries that
//! take it ([`take`]), the comparison ([`compare`]) and the restriction to a
//! set of schemas ([`Fingerprint::restrict`]).
//!
//! Rules kept here:
//! - a key is `"<kind> <qualified name>"` (`table public.users`,
//!   `function public.add(a integer, b integer)`, `policy public.t."own rows"`);
//!   names are quoted only when they are not plain lowercase identifiers;
//! - a value is the first 16 hex digits of the SHA-256 of the object's
//!   normalised definition, built only from names and deparsed definitions:
//!   never OIDs, physical column numbers, owners, grants, current sequence
//!   values or extension versions;
//! - objects that belong to an extension, and objects in system schemas
//!   (`pg_catalog`, `information_schema`, `pg_toast*`, `pg_temp_*`), are left
//!   out;
//! - deparsed text depends on session settings (`search_path` decides which
//!   names are qualified, `TimeZone`/`DateStyle` how constants print), so
//!   [`take`] sends all its queries as one batch that first sets them
//!   transaction-locally to fixed values and finally sets them back: the
//!   session's state is unchanged afterwards, and the fingerprint does not
//!   depend on the role's or the server's defaults.

use std::collections::BTreeMap;
use std::fmt;

use sha2::{Digest, Sha256};
use tokio_postgres::{Client, SimpleQueryMessage, SimpleQueryRow};

/// Failure to take a fingerprint.
#[derive(Debug, thiserror::Error)]
pub enum FingerprintError {
    /// The catalog queries failed.
    #[error("reading the schema catalog for the schema fingerprint failed: {detail}")]
    Query {
        /// Server or driver message, with detail and hint.
        detail: String,
        /// Underlying driver error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// The server answered with a row this module does not expect.
    #[error("unexpected row in the schema fingerprint query: {0}")]
    UnexpectedRow(String),
}

/// Digest per schema object, keyed by `"<kind> <qualified name>"`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Fingerprint {
    /// Object key → short lowercase hex digest of its normalised definition.
    pub objects: BTreeMap<String, String>,
}

/// Which schemas [`take`] looks at. System schemas are always left out.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// When non-empty, only these schemas (and no extensions).
    pub schemas: Vec<String>,
    /// Schemas left out (extensions installed in them too).
    pub exclude_schemas: Vec<String>,
}

/// One way two fingerprints differ; each holds the object key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    /// In the expected fingerprint only.
    Missing(String),
    /// In the actual fingerprint only.
    Extra(String),
    /// In both, with different definitions.
    Changed(String),
}

impl Difference {
    /// The object key.
    pub fn key(&self) -> &str {
        match self {
            Difference::Missing(k) | Difference::Extra(k) | Difference::Changed(k) => k,
        }
    }
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Difference::Missing(k) => write!(f, "missing: {k}"),
            Difference::Extra(k) => write!(f, "unexpected: {k}"),
            Difference::Changed(k) => write!(f, "changed: {k}"),
        }
    }
}

/// The differences between `expected` (e.g. the backup's) and `actual`
/// (e.g. the restored database's), sorted by key.
pub fn compare(expected: &Fingerprint, actual: &Fingerprint) -> Vec<Difference> {
    let mut out = Vec::new();
    for (key, digest) in &expected.objects {
        match actual.objects.get(key) {
            None => out.push(Difference::Missing(key.clone())),
            Some(other) if other != digest => out.push(Difference::Changed(key.clone())),
            Some(_) => {}
        }
    }
    for key in actual.objects.keys() {
        if !expected.objects.contains_key(key) {
            out.push(Difference::Extra(key.clone()));
        }
    }
    out.sort_by(|a, b| a.key().cmp(b.key()));
    out
}

impl Fingerprint {
    /// Only the objects in `schemas` (a schema itself counts as in it);
    /// objects outside any schema (extensions) are dropped. An empty slice
    /// keeps everything.
    pub fn restrict(&self, schemas: &[String]) -> Fingerprint {
        if schemas.is_empty() {
            return self.clone();
        }
        let objects = self
            .objects
            .iter()
            .filter(|(key, _)| schema_of(key).is_some_and(|s| schemas.contains(&s)))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Fingerprint { objects }
    }
}

/// Kinds of keys, longest first where one is a prefix of another.
const KINDS: [&str; 12] = [
    "materialized view",
    "schema",
    "extension",
    "table",
    "view",
    "sequence",
    "index",
    "constraint",
    "trigger",
    "policy",
    "function",
    "type",
];

/// The schema a key's object lives in; `None` for extensions and unknown kinds.
fn schema_of(key: &str) -> Option<String> {
    let (kind, rest) = KINDS
        .iter()
        .find_map(|k| Some((*k, key.strip_prefix(k)?.strip_prefix(' ')?)))?;
    if kind == "extension" {
        return None;
    }
    let Some(quoted) = rest.strip_prefix('"') else {
        let end = rest.find(['.', '(']).unwrap_or(rest.len());
        return Some(rest[..end].to_string());
    };
    let mut name = String::new();
    let mut chars = quoted.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '"' {
            if chars.peek() != Some(&'"') {
                return Some(name);
            }
            chars.next();
        }
        name.push(c);
    }
    None
}

/// `name` as it appears in a key: bare when it is a plain lowercase
/// identifier, otherwise double-quoted (keywords are not special, so keys do
/// not change with the server's keyword list).
fn ident(name: &str) -> String {
    let mut chars = name.chars();
    let plain = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$');
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

fn digest(definition: &str) -> String {
    let mut hex = hex::encode(Sha256::digest(definition.as_bytes()));
    hex.truncate(16);
    hex
}

/// Settings that change deparsed text, and the fixed values [`take`] uses.
/// `pg_temp` last, so a temporary table cannot shadow a catalog.
const SETTINGS: [(&str, &str); 6] = [
    ("search_path", "pg_catalog, pg_temp"),
    ("TimeZone", "UTC"),
    ("DateStyle", "ISO, YMD"),
    ("IntervalStyle", "postgres"),
    ("extra_float_digits", "1"),
    ("bytea_output", "hex"),
];
/// Prefix of the transaction-local placeholders holding the caller's values.
const SAVED: &str = "smcp_fingerprint.";

/// One query per object class. Every query yields `kind, schema, parent,
/// name, suffix, definition`; `{ns}` becomes the CTE of schemas in scope,
/// `{ext}` the extensions' schema filter.
const CLASS_QUERIES: [&str; 11] = [
    // schemas
    "{ns} SELECT 'schema', NULL, NULL, ns.nspname, NULL, ns.nspname FROM ns
     WHERE ns.oid NOT IN (SELECT objid FROM pg_depend WHERE classid = 'pg_namespace'::regclass AND deptype = 'e')",
    // extensions
    "SELECT 'extension', NULL, NULL, e.extname, NULL, format('schema=%L', n.nspname)
     FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE {ext}",
    // tables, partitioned tables, foreign tables
    r#"{ns} SELECT 'table', ns.nspname, NULL, c.relname, NULL,
       format('relkind=%s rls=%s force_rls=%s persistence=%s partkey=%L bound=%L inherits=%L',
         c.relkind, c.relrowsecurity, c.relforcerowsecurity, c.relpersistence, pg_get_partkeydef(c.oid),
         CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END,
         (SELECT string_agg(format('%L.%L', pn.nspname, p.relname), ',' ORDER BY pn.nspname COLLATE "C", p.relname COLLATE "C")
            FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = p.relnamespace
           WHERE i.inhrelid = c.oid))
       || coalesce((SELECT string_agg(format(E'\ncolumn %L %s notnull=%s default=%L identity=%s generated=%s collation=%L',
             a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid),
             a.attidentity, a.attgenerated,
             CASE WHEN a.attcollation <> t.typcollation THEN format('%s.%s', cn.nspname, co.collname) END), '' ORDER BY a.attnum)
           FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
           LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
           LEFT JOIN pg_collation co ON co.oid = a.attcollation LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
          WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '')
     FROM pg_class c JOIN ns ON ns.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p', 'f')
       AND c.oid NOT IN (SELECT objid FROM pg_depend WHERE classid = 'pg_class'::regclass AND deptype = 'e')"#,
    // views and materialized views
    r#"{ns} SELECT CASE c.relkind WHEN 'v' THEN 'view' ELSE 'materialized view' END, ns.nspname, NULL, c.relname, NULL,
       format(E'options=%L\n', array_to_string(ARRAY(SELECT o FROM unnest(c.reloptions) o ORDER BY o COLLATE "C"), ','))
       || pg_get_viewdef(c.oid, true)
     FROM pg_class c JOIN ns ON ns.oid = c.relnamespace
     WHERE c.relkind IN ('v', 'm')
       AND c.oid NOT IN (SELECT objid FROM pg_depend WHERE classid = 'pg_class'::regclass AND deptype = 'e')"#,
    // sequences (not their current value)
    "{ns} SELECT 'sequence', ns.nspname, NULL, c.relname, NULL,
       format('type=%s increment=%s min=%s max=%s cycle=%s',
         format_type(s.seqtypid, NULL), s.seqincrement, s.seqmin, s.seqmax, s.seqcycle)
     FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN ns ON ns.oid = c.relnamespace
     WHERE c.oid NOT IN (SELECT objid FROM pg_depend WHERE classid = 'pg_class'::regclass AND deptype = 'e')",
    // indexes, constraint-backed ones included
    "{ns} SELECT 'index', ns.nspname, NULL, ic.relname, NULL, pg_get_indexdef(i.indexrelid)
     FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN ns ON ns.oid = ic.relnamespace
     WHERE i.indrelid NOT IN (SELECT objid FROM pg_depend WHERE classid = 'pg_class'::regclass AND deptype = 'e')
       AND i.indexrelid NOT IN (SELECT objid FROM pg_depend WHERE classid = 'pg_class'::regclass AND deptype = 'e')",
    // constraints of tables and domains; those a partition inherits are the parent's
    "{ns} SELECT 'constraint', ns.nspname, coalesce(tc.relname, ty.typname), con.conname, NULL,
       format('%s %s', con.contype, pg_get_constraintdef(con.oid))
     FROM pg_constraint con LEFT JOIN pg_class tc ON tc.oid = con.conrelid LEFT JOIN pg_type ty ON ty.oid = con.contypid
     JOIN ns ON ns.oid = coalesce(tc.relnamespace, ty.typnamespace)
     WHERE con.conparentid = 0
       AND con.conrelid NOT IN (SELECT objid FROM pg_depend WHERE classid = 'pg_class'::regclass AND deptype = 'e')
       AND con.contypid NOT IN (SELECT objid FROM pg_depend WHERE classid = 'pg_type'::regclass AND deptype = 'e')",
    // triggers, not the internal ones of foreign keys
    r"{ns} SELECT 'trigger', ns.nspname, c.relname, t.tgname, NULL,
       format(E'enabled=%s\n', t.tgenabled) || pg_get_triggerdef(t.oid, false)
     FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN ns ON ns.oid = c.relnamespace
     WHERE NOT t.tgisinternal
       AND c.oid NOT IN (SELECT objid FROM pg_depend WHERE classid = 'pg_class'::regclass AND deptype = 'e')",
    // row-level security policies
    r#"{ns} SELECT 'policy', ns.nspname, c.relname, p.polname, NULL,
       format('cmd=%s permissive=%s roles=%s using=%L check=%L', p.polcmd, p.polpermissive,
         (SELECT string_agg(r, ',' ORDER BY r COLLATE "C") FROM (
            SELECT CASE WHEN u.oid = 0 THEN 'public' ELSE coalesce(quote_literal(a.rolname), '?') END AS r
              FROM unnest(p.polroles) AS u(oid) LEFT JOIN pg_roles a ON a.oid = u.oid) roles),
         pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid))
     FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN ns ON ns.oid = c.relnamespace
     WHERE c.oid NOT IN (SELECT objid FROM pg_depend WHERE classid = 'pg_class'::regclass AND deptype = 'e')"#,
    // functions, procedures, aggregates, window functions
    "{ns} SELECT 'function', ns.nspname, NULL, p.proname, '(' || pg_get_function_identity_arguments(p.oid) || ')',
       CASE WHEN p.prokind = 'a' THEN
         format('aggregate args=%s returns=%s kind=%s transfn=%s finalfn=%s combinefn=%s stype=%s initval=%L sortop=%s',
           pg_get_function_arguments(p.oid), format_type(p.prorettype, NULL), g.aggkind, g.aggtransfn, g.aggfinalfn,
           g.aggcombinefn, format_type(g.aggtranstype, NULL), g.agginitval, g.aggsortop::regoperator)
       ELSE pg_get_functiondef(p.oid) END
     FROM pg_proc p JOIN ns ON ns.oid = p.pronamespace LEFT JOIN pg_aggregate g ON g.aggfnoid = p.oid
     WHERE p.oid NOT IN (SELECT objid FROM pg_depend WHERE classid = 'pg_proc'::regclass AND deptype = 'e')",
    // enums, domains, composite types and ranges; not arrays, row types of tables, base types
    r#"{ns} SELECT 'type', ns.nspname, NULL, t.typname, NULL,
       CASE t.typtype
         WHEN 'e' THEN 'enum ' || coalesce((SELECT string_agg(quote_literal(e.enumlabel), ',' ORDER BY e.enumsortorder)
                                              FROM pg_enum e WHERE e.enumtypid = t.oid), '')
         WHEN 'd' THEN format('domain base=%s notnull=%s default=%L collation=%L', format_type(t.typbasetype, t.typtypmod),
                              t.typnotnull, pg_get_expr(t.typdefaultbin, 0),
                              (SELECT format('%s.%s', cn.nspname, co.collname) FROM pg_type b, pg_collation co
                                 JOIN pg_namespace cn ON cn.oid = co.collnamespace
                                WHERE b.oid = t.typbasetype AND co.oid = t.typcollation AND t.typcollation <> b.typcollation))
         WHEN 'r' THEN (SELECT format('range subtype=%s canonical=%s subdiff=%s', format_type(r.rngsubtype, NULL),
                                      r.rngcanonical, r.rngsubdiff) FROM pg_range r WHERE r.rngtypid = t.oid)
         ELSE 'composite' || coalesce((SELECT string_agg(format(E'\nattribute %L %s collation=%L', a.attname,
                    format_type(a.atttypid, a.atttypmod),
                    CASE WHEN a.attcollation <> at.typcollation THEN format('%s.%s', cn.nspname, co.collname) END), '' ORDER BY a.attnum)
                FROM pg_attribute a JOIN pg_type at ON at.oid = a.atttypid
                LEFT JOIN pg_collation co ON co.oid = a.attcollation LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
               WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped), '')
       END
     FROM pg_type t JOIN ns ON ns.oid = t.typnamespace
     WHERE (t.typtype IN ('e', 'd', 'r') OR (t.typtype = 'c' AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c'))
       AND t.oid NOT IN (SELECT objid FROM pg_depend WHERE classid = 'pg_type'::regclass AND deptype = 'e')"#,
];

/// A text literal that cannot break out of its quotes whatever the session's
/// `standard_conforming_strings`: the bytes go as hex.
fn literal(value: &str) -> String {
    format!(
        "pg_catalog.convert_from(pg_catalog.decode('{}', 'hex'), 'UTF8')",
        hex::encode(value.as_bytes())
    )
}

fn text_array(values: &[String]) -> String {
    let items: Vec<String> = values.iter().map(|v| literal(v)).collect();
    format!("ARRAY[{}]::text[]", items.join(", "))
}

/// The whole batch: save the settings, fix them, the class queries, restore.
fn batch(scope: &Scope) -> String {
    let mut ns = String::from(
        "WITH ns AS (SELECT oid, nspname FROM pg_namespace WHERE nspname NOT IN ('pg_catalog', 'information_schema') \
         AND NOT starts_with(nspname, 'pg_toast') AND NOT starts_with(nspname, 'pg_temp_')",
    );
    let mut ext = String::from("true");
    if !scope.schemas.is_empty() {
        ns.push_str(&format!(
            " AND nspname = ANY({})",
            text_array(&scope.schemas)
        ));
        ext = "false".into();
    }
    if !scope.exclude_schemas.is_empty() {
        let excluded = text_array(&scope.exclude_schemas);
        ns.push_str(&format!(" AND NOT nspname = ANY({excluded})"));
        ext = format!("{ext} AND NOT n.nspname = ANY({excluded})");
    }
    ns.push(')');

    let names: Vec<String> = SETTINGS.iter().map(|(n, _)| format!("'{n}'")).collect();
    let names = names.join(", ");
    let values: Vec<String> = SETTINGS
        .iter()
        .map(|(n, v)| format!("('{n}', '{v}')"))
        .collect();
    let mut sql = format!(
        "SELECT pg_catalog.set_config('{SAVED}' || n, pg_catalog.current_setting(n), true) FROM pg_catalog.unnest(ARRAY[{names}]) n;\n\
         SELECT pg_catalog.set_config(n, v, true) FROM (VALUES {}) s(n, v);\n",
        values.join(", ")
    );
    for query in CLASS_QUERIES {
        sql.push_str(&query.replace("{ns}", &ns).replace("{ext}", &ext));
        sql.push_str(";\n");
    }
    sql.push_str(&format!(
        "SELECT pg_catalog.set_config(n, pg_catalog.current_setting('{SAVED}' || n), true) FROM pg_catalog.unnest(ARRAY[{names}]) n;"
    ));
    sql
}

/// Takes the fingerprint of the database `client` is connected to.
///
/// One round trip (a multi-statement simple query, so one implicit
/// transaction); inside an explicit transaction of the caller the settings
/// are set back to the caller's values before returning.
pub async fn take(client: &Client, scope: &Scope) -> Result<Fingerprint, FingerprintError> {
    let messages =
        client
            .simple_query(&batch(scope))
            .await
            .map_err(|source| FingerprintError::Query {
                detail: crate::pg::describe_error(&source),
                source,
            })?;
    // Statements 0 and 1 save and fix the settings; the class queries follow.
    let classes = 2..2 + CLASS_QUERIES.len();
    let mut statement = 0;
    let mut entries = Vec::new();
    for message in messages {
        match message {
            SimpleQueryMessage::CommandComplete(_) => statement += 1,
            SimpleQueryMessage::Row(row) if classes.contains(&statement) => {
                entries.push(entry(&row)?)
            }
            _ => {}
        }
    }
    // Keys are unique in practice; should two objects share one, both
    // definitions count (in a stable order).
    entries.sort();
    let mut merged: BTreeMap<String, String> = BTreeMap::new();
    for (key, definition) in entries {
        merged
            .entry(key)
            .and_modify(|d| {
                d.push('\n');
                d.push_str(&definition);
            })
            .or_insert(definition);
    }
    let objects = merged.into_iter().map(|(k, d)| (k, digest(&d))).collect();
    Ok(Fingerprint { objects })
}

/// `(key, definition)` of one row of a class query.
fn entry(row: &SimpleQueryRow) -> Result<(String, String), FingerprintError> {
    let field = |i: usize| row.try_get(i).ok().flatten();
    let (Some(kind), Some(name), Some(definition)) = (field(0), field(3), field(5)) else {
        return Err(FingerprintError::UnexpectedRow(format!(
            "{} columns, kind {:?}, name {:?}",
            row.len(),
            field(0),
            field(3)
        )));
    };
    let mut key = format!("{kind} ");
    for part in [field(1), field(2)].into_iter().flatten() {
        key.push_str(&ident(part));
        key.push('.');
    }
    key.push_str(&ident(name));
    key.push_str(field(4).unwrap_or(""));
    Ok((key, definition.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(items: &[(&str, &str)]) -> Fingerprint {
        Fingerprint {
            objects: items
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn compare_reports_missing_extra_and_changed_sorted_by_key() {
        let expected = fp(&[
            ("table public.b", "1"),
            ("index public.a_idx", "2"),
            ("view public.v", "3"),
            ("type public.mood", "4"),
        ]);
        let actual = fp(&[
            ("table public.b", "1"),
            ("view public.v", "x"),
            ("table public.aa", "5"),
            ("type public.mood", "4"),
        ]);
        assert_eq!(
            compare(&expected, &actual),
            vec![
                Difference::Missing("index public.a_idx".into()),
                Difference::Extra("table public.aa".into()),
                Difference::Changed("view public.v".into()),
            ]
        );
        assert!(compare(&expected, &expected).is_empty());
        assert_eq!(
            compare(&Fingerprint::default(), &fp(&[("schema app", "1")])),
            vec![Difference::Extra("schema app".into())]
        );
    }

    #[test]
    fn differences_display_with_their_key() {
        assert_eq!(
            Difference::Missing("table public.x".into()).to_string(),
            "missing: table public.x"
        );
        assert_eq!(
            Difference::Extra("index public.i".into()).to_string(),
            "unexpected: index public.i"
        );
        assert_eq!(
            Difference::Changed("function public.f()".into()).to_string(),
            "changed: function public.f()"
        );
    }

    #[test]
    fn restrict_keeps_the_objects_of_the_schemas() {
        let all = fp(&[
            ("schema app", "1"),
            ("schema public", "1"),
            ("extension pgcrypto", "2"),
            ("table app.t", "3"),
            ("materialized view app.m", "3"),
            ("policy app.t.\"own rows\"", "4"),
            ("function app.f(a integer)", "5"),
            ("table public.t", "6"),
            ("table \"My.Schema\".t", "7"),
            ("index \"we\"\"ird\".i", "8"),
            ("table application.t", "9"),
            ("something app.x", "10"),
        ]);
        let app = all.restrict(&["app".to_string()]);
        let keys: Vec<&str> = app.objects.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "function app.f(a integer)",
                "materialized view app.m",
                "policy app.t.\"own rows\"",
                "schema app",
                "table app.t",
            ]
        );
        let odd = all.restrict(&["My.Schema".to_string(), "we\"ird".to_string()]);
        assert_eq!(odd.objects.len(), 2, "{odd:?}");
        assert_eq!(all.restrict(&[]), all);
        assert!(all.restrict(&["none".to_string()]).objects.is_empty());
    }

    #[test]
    fn names_are_quoted_only_when_needed() {
        assert_eq!(ident("users"), "users");
        assert_eq!(ident("_a1$"), "_a1$");
        assert_eq!(ident("own rows"), "\"own rows\"");
        assert_eq!(ident("Users"), "\"Users\"");
        assert_eq!(ident("1st"), "\"1st\"");
        assert_eq!(ident("a.b"), "\"a.b\"");
        assert_eq!(ident("we\"ird"), "\"we\"\"ird\"");
        assert_eq!(ident(""), "\"\"");
        assert_eq!(
            schema_of(&format!("table {}.t", ident("a.b"))).as_deref(),
            Some("a.b")
        );
    }

    #[test]
    fn digests_are_16_lowercase_hex_digits() {
        let d = digest("CREATE TABLE t ()");
        assert_eq!(d.len(), 16);
        assert!(
            d.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(d, digest("CREATE TABLE t (a int)"));
    }

    #[test]
    fn scope_names_cannot_escape_their_literal() {
        let sql = batch(&Scope {
            schemas: vec!["x'); DROP TABLE t; --".into()],
            exclude_schemas: vec!["y\\'".into()],
        });
        assert!(!sql.contains("DROP TABLE"), "{sql}");
        assert!(!sql.contains("y\\'"), "{sql}");
    }

    #[test]
    fn fingerprints_round_trip_through_json() {
        let f = fp(&[("table public.t", "0123456789abcdef")]);
        let json = serde_json::to_string(&f).unwrap_or_default();
        assert_eq!(json, r#"{"objects":{"table public.t":"0123456789abcdef"}}"#);
        let back: Fingerprint = serde_json::from_str(&json).unwrap_or_default();
        assert_eq!(back, f);
    }
}
