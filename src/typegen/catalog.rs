//! Reads a [`Catalog`] from a database: one read-only repeatable-read
//! transaction (one snapshot), one query per object class, with
//! `search_path` set to `public` so that deparsed argument lists name
//! types as the Supabase CLI's generator sees them. Only `pg_catalog` is
//! read; nothing is written. Unnamed statements are used throughout, so a
//! connection through a transaction-mode pooler works too.

use std::collections::HashMap;

use tokio_postgres::types::{FromSql, ToSql, Type};
use tokio_postgres::{Client, Row};

use super::TypegenError;
use super::model::*;

/// What to read besides what the TypeScript types need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// Only what the TypeScript types need.
    Types,
    /// Also view definitions, checks, indexes, policies and every function.
    Docs,
}

const BEGIN: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; \
    SET LOCAL search_path = public; SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO, YMD'";

const Q_SCHEMAS: &str =
    "SELECT n.nspname::text FROM pg_catalog.pg_namespace n WHERE n.nspname = ANY($1::text[])";

/// The extension that owns an object (`{oid}` of catalog `{catalog}`).
fn owner_extension(oid: &str, catalog: &str) -> String {
    format!(
        "(SELECT e.extname::text FROM pg_catalog.pg_depend d \
           JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid \
         WHERE d.classid = 'pg_catalog.{catalog}'::pg_catalog.regclass AND d.objid = {oid} \
           AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass AND d.deptype = 'e' LIMIT 1)"
    )
}

fn q_relations() -> String {
    format!(
        "SELECT c.oid, n.nspname::text, c.relname::text, c.relkind::text, c.relispartition,
           CASE WHEN c.relkind = 'v' THEN (pg_catalog.pg_relation_is_updatable(c.oid, false) & 20) = 20
                ELSE false END,
           c.relrowsecurity, c.relforcerowsecurity, pg_catalog.obj_description(c.oid, 'pg_class'),
           CASE WHEN $2::bool AND c.relkind IN ('v', 'm') THEN pg_catalog.pg_get_viewdef(c.oid) END,
           CASE WHEN c.relkind IN ('v', 'm') THEN (SELECT r.ev_action::text FROM pg_catalog.pg_rewrite r
                WHERE r.ev_class = c.oid AND r.rulename = '_RETURN') END,
           {}
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'c')",
        owner_extension("c.oid", "pg_class")
    )
}

const Q_COLUMNS: &str = "SELECT a.attrelid, a.attnum, a.attname::text, a.atttypid,
       pg_catalog.format_type(a.atttypid, a.atttypmod),
       a.attnotnull OR (t.typtype = 'd' AND t.typnotnull),
       CASE WHEN a.atthasdef THEN pg_catalog.pg_get_expr(d.adbin, d.adrelid) END,
       a.attidentity::text, a.attgenerated::text,
       CASE WHEN c.relkind IN ('r', 'p') THEN true
            WHEN c.relkind IN ('v', 'f') THEN pg_catalog.pg_column_is_updatable(c.oid, a.attnum, false)
            ELSE false END,
       pg_catalog.col_description(c.oid, a.attnum)
     FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
       LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
     WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'c')
       AND a.attnum > 0 AND NOT a.attisdropped
     ORDER BY a.attrelid, a.attnum";

const Q_TYPES: &str = "SELECT t.oid, n.nspname::text, t.typname::text, t.typtype::text,
       CASE WHEN t.typelem <> 0 AND t.typlen = -1 AND pg_catalog.left(t.typname::text, 1) = '_'
            THEN t.typelem ELSE 0::oid END,
       t.typbasetype, t.typrelid, coalesce(c.relkind::text, '')
     FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
       LEFT JOIN pg_catalog.pg_class c ON c.oid = t.typrelid
     WHERE c.oid IS NULL OR c.relkind IN ('r', 'p', 'v', 'm', 'f', 'c')";

const Q_ENUMS: &str = "SELECT e.enumtypid, e.enumlabel::text FROM pg_catalog.pg_enum e
     ORDER BY e.enumtypid, e.enumsortorder";

fn q_functions() -> String {
    format!(
        "SELECT p.oid, n.nspname::text, p.proname::text, p.prokind::text,
           coalesce(p.proargmodes::text[], '{{}}'::text[]), coalesce(p.proargnames, '{{}}'::text[]),
           coalesce(p.proallargtypes, p.proargtypes::oid[]), p.pronargdefaults, p.prorettype,
           p.proretset, p.prorows, pg_catalog.pg_get_function_arguments(p.oid),
           coalesce(pg_catalog.pg_get_function_result(p.oid), ''),
           pg_catalog.pg_get_function_identity_arguments(p.oid), l.lanname::text,
           p.provolatile::text, p.prosecdef, pg_catalog.obj_description(p.oid, 'pg_proc'),
           {}
         FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
           JOIN pg_catalog.pg_language l ON l.oid = p.prolang
         WHERE n.nspname = ANY($1::text[])
           AND (p.prokind = 'f' OR ($2::bool AND p.prokind = 'p'))",
        owner_extension("p.oid", "pg_proc")
    )
}

const Q_CONSTRAINTS: &str = "WITH rel AS (
       SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = ANY($1::text[])),
     fk AS (
       SELECT k.oid, k.conrelid FROM pg_catalog.pg_constraint k
       WHERE k.contype = 'f' AND k.conparentid = 0
         AND (k.conrelid IN (SELECT oid FROM rel) OR k.confrelid IN (SELECT oid FROM rel)))
     SELECT k.conname::text, k.contype::text, k.conrelid, tn.nspname::text, t.relname::text,
       coalesce(k.conkey, '{}'::int2[]),
       ARRAY(SELECT a.attname::text FROM pg_catalog.unnest(k.conkey) WITH ORDINALITY u(num, ord)
             JOIN pg_catalog.pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.num ORDER BY u.ord),
       k.confrelid, coalesce(fn.nspname::text, ''), coalesce(f.relname::text, ''),
       coalesce(k.confkey, '{}'::int2[]),
       ARRAY(SELECT a.attname::text FROM pg_catalog.unnest(k.confkey) WITH ORDINALITY u(num, ord)
             JOIN pg_catalog.pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.num ORDER BY u.ord),
       pg_catalog.pg_get_constraintdef(k.oid), pg_catalog.obj_description(k.oid, 'pg_constraint')
     FROM pg_catalog.pg_constraint k JOIN pg_catalog.pg_class t ON t.oid = k.conrelid
       JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace
       LEFT JOIN pg_catalog.pg_class f ON f.oid = k.confrelid
       LEFT JOIN pg_catalog.pg_namespace fn ON fn.oid = f.relnamespace
     WHERE k.oid IN (SELECT oid FROM fk)
        OR (k.contype IN ('p', 'u')
            AND (k.conrelid IN (SELECT oid FROM rel) OR k.conrelid IN (SELECT conrelid FROM fk)))
        OR ($2::bool AND k.contype IN ('c', 'x') AND k.conislocal AND k.conrelid IN (SELECT oid FROM rel))";

const Q_INDEXES: &str = "SELECT i.indrelid, ic.relname::text, pg_catalog.pg_get_indexdef(i.indexrelid),
       i.indisunique, i.indisprimary,
       EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k
               WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x'))
     FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
       JOIN pg_catalog.pg_class t ON t.oid = i.indrelid
       JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
     WHERE n.nspname = ANY($1::text[])";

const Q_POLICIES: &str = "SELECT p.polrelid, p.polname::text, p.polpermissive,
       CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE'
                     WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,
       ARRAY(SELECT CASE WHEN u = 0 THEN 'public' ELSE pg_catalog.pg_get_userbyid(u)::text END
             FROM pg_catalog.unnest(p.polroles) u ORDER BY 1),
       pg_catalog.pg_get_expr(p.polqual, p.polrelid), pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid)
     FROM pg_catalog.pg_policy p JOIN pg_catalog.pg_class c ON c.oid = p.polrelid
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = ANY($1::text[])";

fn query_error(what: &'static str) -> impl Fn(tokio_postgres::Error) -> TypegenError {
    move |source| TypegenError::Query {
        what,
        detail: crate::pg::describe_error(&source),
        source,
    }
}

fn get<'a, T: FromSql<'a>>(row: &'a Row, i: usize, what: &'static str) -> Result<T, TypegenError> {
    row.try_get(i).map_err(|e| TypegenError::UnexpectedRow {
        what,
        detail: format!("column {i}: {e}"),
    })
}

fn first_char(s: &str) -> char {
    s.chars().next().unwrap_or(' ')
}

/// Reads the catalog of `schemas` in one snapshot.
pub async fn load(
    client: &Client,
    schemas: &[String],
    detail: Detail,
) -> Result<Catalog, TypegenError> {
    client
        .batch_execute(BEGIN)
        .await
        .map_err(query_error("starting the read-only transaction"))?;
    let result = read(client, schemas, detail).await;
    let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
    let ended = client
        .batch_execute(end)
        .await
        .map_err(query_error("ending the read-only transaction"));
    let catalog = result?;
    ended?;
    Ok(catalog)
}

async fn read(
    client: &Client,
    schemas: &[String],
    detail: Detail,
) -> Result<Catalog, TypegenError> {
    let names: Vec<String> = schemas.to_vec();
    let docs = detail == Detail::Docs;
    let params: [(&(dyn ToSql + Sync), Type); 2] =
        [(&names, Type::TEXT_ARRAY), (&docs, Type::BOOL)];
    let run = |sql: &'static str, what: &'static str, n: usize| {
        let params = &params[..n];
        async move {
            client
                .query_typed(sql, params)
                .await
                .map_err(query_error(what))
        }
    };
    let mut cat = Catalog::default();

    let found: Vec<String> = run(Q_SCHEMAS, "schemas", 1)
        .await?
        .iter()
        .map(|r| get(r, 0, "schemas"))
        .collect::<Result<_, _>>()?;
    for s in schemas {
        if found.contains(s) {
            cat.schemas.push(s.clone());
        } else {
            cat.missing.push(s.clone());
        }
    }
    cat.schemas.sort_by(|a, b| super::order::locale_cmp(a, b));

    let q = q_relations();
    let rows = client
        .query_typed(&q, &params)
        .await
        .map_err(query_error("relations"))?;
    for row in &rows {
        let w = "relations";
        let kind: String = get(row, 3, w)?;
        let Some(kind) = RelKind::from_relkind(&kind) else {
            continue;
        };
        let action: Option<String> = get(row, 10, w)?;
        let oid: Oid = get(row, 0, w)?;
        cat.relations.insert(
            oid,
            Relation {
                oid,
                schema: get(row, 1, w)?,
                name: get(row, 2, w)?,
                kind,
                partition: get(row, 4, w)?,
                updatable: get(row, 5, w)?,
                rls: get(row, 6, w)?,
                force_rls: get(row, 7, w)?,
                comment: get(row, 8, w)?,
                definition: get::<Option<String>>(row, 9, w)?
                    .map(|d| d.trim().trim_end_matches(';').trim_end().to_owned()),
                extension: get(row, 11, w)?,
                columns: Vec::new(),
                targets: action.as_deref().map(parse_targets).unwrap_or_default(),
            },
        );
    }

    for row in &run(Q_COLUMNS, "columns", 1).await? {
        let w = "columns";
        let relid: Oid = get(row, 0, w)?;
        let identity: String = get(row, 7, w)?;
        let generated: String = get(row, 8, w)?;
        let column = Column {
            attnum: get(row, 1, w)?,
            name: get(row, 2, w)?,
            type_oid: get(row, 3, w)?,
            type_sql: get(row, 4, w)?,
            not_null: get(row, 5, w)?,
            default: get(row, 6, w)?,
            identity: match identity.as_str() {
                "a" => Identity::Always,
                "d" => Identity::ByDefault,
                _ => Identity::None,
            },
            generated: !generated.is_empty(),
            updatable: get(row, 9, w)?,
            comment: get(row, 10, w)?,
        };
        if let Some(r) = cat.relations.get_mut(&relid) {
            r.columns.push(column);
        }
    }

    let mut labels: HashMap<Oid, Vec<String>> = HashMap::new();
    for row in &run(Q_ENUMS, "enum labels", 0).await? {
        let oid: Oid = get(row, 0, "enum labels")?;
        labels
            .entry(oid)
            .or_default()
            .push(get(row, 1, "enum labels")?);
    }
    for row in &run(Q_TYPES, "types", 0).await? {
        let w = "types";
        let oid: Oid = get(row, 0, w)?;
        let kind: String = get(row, 3, w)?;
        cat.types.insert(
            oid,
            PgType {
                oid,
                schema: get(row, 1, w)?,
                name: get(row, 2, w)?,
                kind: first_char(&kind),
                element: get(row, 4, w)?,
                base: get(row, 5, w)?,
                relation: get(row, 6, w)?,
                relkind: get(row, 7, w)?,
                labels: labels.remove(&oid).unwrap_or_default(),
            },
        );
    }

    let q = q_functions();
    let rows = client
        .query_typed(&q, &params)
        .await
        .map_err(query_error("functions"))?;
    for row in &rows {
        cat.functions.push(function_of(row)?);
    }

    for row in &run(Q_CONSTRAINTS, "constraints", 2).await? {
        let w = "constraints";
        let kind: String = get(row, 1, w)?;
        cat.constraints.push(Constraint {
            name: get(row, 0, w)?,
            kind: first_char(&kind),
            table: get(row, 2, w)?,
            table_schema: get(row, 3, w)?,
            table_name: get(row, 4, w)?,
            attnums: get(row, 5, w)?,
            columns: get(row, 6, w)?,
            ref_table: get(row, 7, w)?,
            ref_schema: get(row, 8, w)?,
            ref_name: get(row, 9, w)?,
            ref_attnums: get(row, 10, w)?,
            ref_columns: get(row, 11, w)?,
            definition: get(row, 12, w)?,
            comment: get(row, 13, w)?,
        });
    }
    cat.constraints.sort_by(|a, b| {
        (
            a.table_schema.as_str(),
            a.table_name.as_str(),
            a.name.as_str(),
        )
            .cmp(&(
                b.table_schema.as_str(),
                b.table_name.as_str(),
                b.name.as_str(),
            ))
    });

    if docs {
        for row in &run(Q_INDEXES, "indexes", 1).await? {
            let w = "indexes";
            cat.indexes.push(Index {
                table: get(row, 0, w)?,
                name: get(row, 1, w)?,
                definition: get(row, 2, w)?,
                unique: get(row, 3, w)?,
                primary: get(row, 4, w)?,
                constraint: get(row, 5, w)?,
            });
        }
        cat.indexes.sort_by(|a, b| a.name.cmp(&b.name));
        for row in &run(Q_POLICIES, "policies", 1).await? {
            let w = "policies";
            cat.policies.push(Policy {
                table: get(row, 0, w)?,
                name: get(row, 1, w)?,
                permissive: get(row, 2, w)?,
                command: get(row, 3, w)?,
                roles: get(row, 4, w)?,
                using: get(row, 5, w)?,
                check: get(row, 6, w)?,
            });
        }
        cat.policies.sort_by(|a, b| a.name.cmp(&b.name));
    }
    Ok(cat)
}

fn function_of(row: &Row) -> Result<Function, TypegenError> {
    let w = "functions";
    let kind: String = get(row, 3, w)?;
    let modes: Vec<String> = get(row, 4, w)?;
    let names: Vec<String> = get(row, 5, w)?;
    let types: Vec<Oid> = get(row, 6, w)?;
    let defaults: i16 = get(row, 7, w)?;
    let mut args: Vec<Arg> = types
        .iter()
        .enumerate()
        .map(|(i, &type_oid)| Arg {
            name: names.get(i).cloned().unwrap_or_default(),
            mode: modes
                .get(i)
                .map(|m| ArgMode::from_code(m))
                .unwrap_or(ArgMode::In),
            type_oid,
            has_default: false,
        })
        .collect();
    // The last `pronargdefaults` input arguments have defaults.
    let mut left = usize::try_from(defaults).unwrap_or(0);
    for a in args.iter_mut().rev() {
        if left == 0 {
            break;
        }
        if a.mode.is_input() {
            a.has_default = true;
            left -= 1;
        }
    }
    let volatility: String = get(row, 15, w)?;
    Ok(Function {
        oid: get(row, 0, w)?,
        schema: get(row, 1, w)?,
        name: get(row, 2, w)?,
        kind: first_char(&kind),
        args,
        return_type: get(row, 8, w)?,
        returns_set: get(row, 9, w)?,
        rows: get(row, 10, w)?,
        arguments: get(row, 11, w)?,
        result: get(row, 12, w)?,
        identity_arguments: get(row, 13, w)?,
        language: get(row, 14, w)?,
        volatility: first_char(&volatility),
        security_definer: get(row, 16, w)?,
        comment: get(row, 17, w)?,
        extension: get(row, 18, w)?,
    })
}

/// The output columns of a view, from its query tree as text
/// (`pg_rewrite.ev_action`): for each entry of the top query's target
/// list that is not junk, its position and the relation column it passes
/// through (`resorigtbl`, `resorigcol`).
pub fn parse_targets(tree: &str) -> Vec<Target> {
    let bytes = tree.as_bytes();
    let mut depth = 0i32;
    let mut i = 0;
    let mut start = None;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 1,
            b'(' | b'{' => depth += 1,
            b')' | b'}' => depth -= 1,
            b':' if depth == 2 && tree[i..].starts_with(":targetList ") => {
                start = Some(i + ":targetList ".len());
                break;
            }
            _ => {}
        }
        i += 1;
    }
    let Some(start) = start else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut entry: Option<(Option<i16>, Oid, i16, bool)> = None;
    let mut i = start;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 1,
            b'(' | b'{' => {
                depth += 1;
                if depth == 4 && bytes[i] == b'{' {
                    entry = Some((None, 0, 0, false));
                }
            }
            b')' | b'}' => {
                if depth == 4
                    && bytes[i] == b'}'
                    && let Some((Some(resno), origin, origin_column, junk)) = entry.take()
                    && !junk
                {
                    out.push(Target {
                        resno,
                        origin,
                        origin_column,
                    });
                }
                depth -= 1;
                if depth <= 2 {
                    break;
                }
            }
            b':' if depth == 4 => {
                let rest = &tree[i + 1..];
                let key_end = rest.find(' ').unwrap_or(rest.len());
                let key = &rest[..key_end];
                let value = rest[key_end..]
                    .trim_start()
                    .split([' ', '}'])
                    .next()
                    .unwrap_or("");
                if let Some(e) = entry.as_mut() {
                    match key {
                        "resno" => e.0 = value.parse().ok(),
                        "resorigtbl" => e.1 = value.parse().unwrap_or(0),
                        "resorigcol" => e.2 = value.parse().unwrap_or(0),
                        "resjunk" => e.3 = value == "true",
                        _ => {}
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn view_targets_are_read_from_the_top_query() {
        let tree = "({QUERY :commandType 1 :rtable ({RANGETBLENTRY :subquery {QUERY :targetList \
            ({TARGETENTRY :expr {VAR :varno 1} :resno 1 :resname x :ressortgroupref 0 :resorigtbl 99 \
            :resorigcol 9 :resjunk false})}}) :targetList ({TARGETENTRY :expr {VAR :varno 1 :varattno 2} \
            :resno 1 :resname id :ressortgroupref 0 :resorigtbl 16385 :resorigcol 2 :resjunk false} \
            {TARGETENTRY :expr {FUNCEXPR :args ({CONST :constvalue 4 [ 1 0 0 0 ]})} :resno 2 \
            :resname n\\(x :ressortgroupref 0 :resorigtbl 0 :resorigcol 0 :resjunk false} \
            {TARGETENTRY :expr {VAR} :resno 3 :resname j :ressortgroupref 1 :resorigtbl 16385 \
            :resorigcol 1 :resjunk true}) :override 0})";
        assert_eq!(
            parse_targets(tree),
            vec![
                Target {
                    resno: 1,
                    origin: 16385,
                    origin_column: 2
                },
                Target {
                    resno: 2,
                    origin: 0,
                    origin_column: 0
                },
            ]
        );
        assert!(parse_targets("<>").is_empty());
    }
}
