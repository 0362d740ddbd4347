//! The comparison: two [`Catalog`]s in, the ordered [`Plan`] that turns the
//! first (`from`) into the second (`to`) out.
//!
//! Steps are collected into phases whose order is what PostgreSQL needs:
//! dependents are dropped before what they depend on (publications,
//! policies, triggers, views, constraints, indexes, columns, tables), then
//! objects are created what-is-depended-on first (schemas, extensions,
//! types, functions, sequences, tables, columns), objects that only the
//! source has are dropped once nothing uses them any more, and the rest
//! follows (constraints, indexes, foreign keys, views in dependency order,
//! triggers, row security, policies, grants, default privileges, comments,
//! publications).
//!
//! A view that reads a changed column, calls a replaced function or reads a
//! recreated view is dropped and created again, as are the indexes,
//! triggers, grants and comments on it.

use std::collections::{BTreeMap, BTreeSet};

use super::model::*;
use super::{Action, Plan, Step};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    DropPublication,
    DropPolicy,
    DropTrigger,
    DropView,
    DropForeignKey,
    DropConstraint,
    DropIndex,
    DropColumn,
    DropTable,
    DropReplacedFunction,
    DropReplacedType,
    CreateSchema,
    CreateExtension,
    CreateType,
    CreateFunction,
    CreateSequence,
    CreateTable,
    AlterColumn,
    SequenceOwner,
    DropOldFunction,
    DropOldSequence,
    DropOldType,
    DropOldExtension,
    DropOldSchema,
    CreateConstraint,
    CreateIndex,
    CreateForeignKey,
    CreateLateFunction,
    CreateView,
    CreateViewIndex,
    CreateTrigger,
    RowSecurity,
    CreatePolicy,
    Grant,
    DefaultPrivileges,
    Comment,
    Publication,
}

#[derive(Default)]
struct Steps {
    steps: Vec<(Phase, usize, Step)>,
}

impl Steps {
    fn add(
        &mut self,
        phase: Phase,
        action: Action,
        kind: &'static str,
        object: &str,
        sql: String,
    ) -> &mut Step {
        let seq = self.steps.len();
        self.steps.push((
            phase,
            seq,
            Step {
                action,
                kind,
                object: object.to_string(),
                sql,
                destructive: false,
                needs_commit: false,
            },
        ));
        let last = self.steps.len() - 1;
        &mut self.steps[last].2
    }

    fn destructive(
        &mut self,
        phase: Phase,
        action: Action,
        kind: &'static str,
        object: &str,
        sql: String,
    ) {
        self.add(phase, action, kind, object, sql).destructive = true;
    }

    fn into_plan(mut self) -> Plan {
        self.steps.sort_by_key(|(phase, seq, _)| (*phase, *seq));
        Plan {
            steps: self.steps.into_iter().map(|(_, _, s)| s).collect(),
        }
    }
}

/// A string literal (standard-conforming strings).
fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The name inside a quoted identifier.
fn unquote(ident: &str) -> String {
    match ident.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => ident.to_string(),
    }
}

/// Whether every value of type `from` converts to type `to` without loss
/// or failure (a wider integer, a longer or unlimited string, a numeric
/// with more digits on both sides of the point, a timestamp gaining a time
/// zone is not included: it reinterprets values).
fn widens(from: &str, to: &str) -> bool {
    fn args(t: &str, name: &str) -> Option<Vec<i64>> {
        let rest = t.strip_prefix(name)?;
        if rest.is_empty() {
            return Some(Vec::new());
        }
        let inner = rest.strip_prefix('(')?.strip_suffix(')')?;
        inner.split(',').map(|p| p.trim().parse().ok()).collect()
    }
    let int_rank = |t: &str| match t {
        "smallint" => Some(1),
        "integer" => Some(2),
        "bigint" => Some(3),
        "numeric" => Some(4),
        _ => None,
    };
    if let (Some(a), Some(b)) = (int_rank(from), int_rank(to)) {
        return a < b;
    }
    for name in ["character varying", "character", "text"] {
        if let Some(a) = args(from, name) {
            let text_like = to == "text" || args(to, "character varying").is_some();
            if !text_like {
                return false;
            }
            return match (
                a.first(),
                args(to, "character varying").and_then(|b| b.first().copied()),
            ) {
                (_, None) => true,
                (Some(n), Some(m)) => name != "text" && m >= *n,
                (None, Some(_)) => false,
            };
        }
    }
    if let (Some(a), Some(b)) = (args(from, "numeric"), args(to, "numeric")) {
        return match (a.as_slice(), b.as_slice()) {
            (_, []) => true,
            ([p1, s1], [p2, s2]) => s2 >= s1 && p2 - s2 >= p1 - s1,
            _ => false,
        };
    }
    false
}

/// `table.column` for an `ALTER TABLE` action on a column (`ADD COLUMN c
/// ...`, `DROP COLUMN c`, `ALTER COLUMN c ...`), else the table.
fn column_object(table: &str, action: &str) -> String {
    let rest = ["ADD COLUMN ", "DROP COLUMN ", "ALTER COLUMN "]
        .iter()
        .find_map(|p| action.strip_prefix(p));
    let Some(rest) = rest else {
        return table.to_string();
    };
    let name = if let Some(quoted) = rest.strip_prefix('"') {
        // Up to the closing quote (doubled quotes stay inside).
        let mut end = 0;
        let bytes = quoted.as_bytes();
        while end < bytes.len() {
            if bytes[end] == b'"' {
                if bytes.get(end + 1) == Some(&b'"') {
                    end += 2;
                    continue;
                }
                break;
            }
            end += 1;
        }
        format!("\"{}\"", &quoted[..end.min(quoted.len())])
    } else {
        rest.split(' ').next().unwrap_or(rest).to_string()
    };
    format!("{table}.{name}")
}

/// Whether `text` mentions the identifier `name` (as a whole word).
fn mentions(text: &str, name: &str) -> bool {
    let name = unquote(name);
    if name.is_empty() {
        return false;
    }
    let word = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    let mut start = 0;
    while let Some(pos) = text[start..].find(&name) {
        let at = start + pos;
        let end = at + name.len();
        let before = text[..at].chars().next_back();
        let after = text[end..].chars().next();
        if !before.is_some_and(word) && !after.is_some_and(word) {
            return true;
        }
        start = end;
    }
    false
}

/// Kahn's algorithm over `nodes`, dependencies first; ties and cycles fall
/// back to name order.
fn topological(nodes: &BTreeSet<String>, deps: impl Fn(&str) -> Vec<String>) -> Vec<String> {
    let mut pending: BTreeMap<String, BTreeSet<String>> = nodes
        .iter()
        .map(|n| {
            let d = deps(n)
                .into_iter()
                .filter(|d| d != n && nodes.contains(d))
                .collect();
            (n.clone(), d)
        })
        .collect();
    let mut out = Vec::new();
    while !pending.is_empty() {
        let ready: Vec<String> = pending
            .iter()
            .filter(|(_, d)| d.is_empty())
            .map(|(n, _)| n.clone())
            .collect();
        let batch = if ready.is_empty() {
            // A cycle: take the first remaining name to make progress.
            pending.keys().next().cloned().into_iter().collect()
        } else {
            ready
        };
        for n in batch {
            pending.remove(&n);
            for d in pending.values_mut() {
                d.remove(&n);
            }
            out.push(n);
        }
    }
    out
}

fn privilege_rank(p: &str) -> usize {
    const ORDER: [&str; 13] = [
        "SELECT",
        "INSERT",
        "UPDATE",
        "DELETE",
        "TRUNCATE",
        "REFERENCES",
        "TRIGGER",
        "MAINTAIN",
        "USAGE",
        "CREATE",
        "CONNECT",
        "TEMPORARY",
        "EXECUTE",
    ];
    ORDER.iter().position(|o| *o == p).unwrap_or(ORDER.len())
}

/// GRANT and REVOKE statements turning `from` into `to`. `on` is what
/// follows `ON` (`TABLE public.t`); `columns` a column list for column
/// privileges.
fn acl_statements(on: &str, columns: Option<&str>, from: &Acl, to: &Acl) -> Vec<String> {
    let mut revoke: BTreeMap<(String, bool), Vec<String>> = BTreeMap::new();
    let mut grant: BTreeMap<(String, bool), Vec<String>> = BTreeMap::new();
    for (grantee, privilege, grantable) in from {
        if to.contains(&(grantee.clone(), privilege.clone(), *grantable)) {
            continue;
        }
        let kept = to.contains(&(grantee.clone(), privilege.clone(), !*grantable));
        if kept && !*grantable {
            continue; // becomes grantable: the GRANT below does it
        }
        revoke
            .entry((grantee.clone(), kept))
            .or_default()
            .push(privilege.clone());
    }
    for (grantee, privilege, grantable) in to {
        let had = from.contains(&(grantee.clone(), privilege.clone(), *grantable))
            || (!*grantable && from.contains(&(grantee.clone(), privilege.clone(), true)));
        if !had {
            grant
                .entry((grantee.clone(), *grantable))
                .or_default()
                .push(privilege.clone());
        }
    }
    let cols = columns.map(|c| format!(" ({c})")).unwrap_or_default();
    let list = |mut privs: Vec<String>| {
        privs.sort_by_key(|p| privilege_rank(p));
        privs
            .iter()
            .map(|p| format!("{p}{cols}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut out = Vec::new();
    for ((grantee, option_only), privs) in revoke {
        let option = if option_only { "GRANT OPTION FOR " } else { "" };
        out.push(format!(
            "REVOKE {option}{} ON {on} FROM {grantee}",
            list(privs)
        ));
    }
    for ((grantee, grantable), privs) in grant {
        let option = if grantable { " WITH GRANT OPTION" } else { "" };
        out.push(format!(
            "GRANT {} ON {on} TO {grantee}{option}",
            list(privs)
        ));
    }
    out
}

struct Differ<'a> {
    from: &'a Catalog,
    to: &'a Catalog,
    out: Steps,
    /// Relations that are dropped (tables and views only the source has,
    /// and views recreated).
    gone: BTreeSet<String>,
    /// Views dropped and created again.
    recreated_views: BTreeSet<String>,
    /// Functions dropped and created again.
    recreated_functions: BTreeSet<String>,
    /// Tables whose columns change type or are dropped → the column names.
    reshaped: BTreeMap<String, BTreeSet<String>>,
}

/// The steps that turn `from` into `to`.
pub fn diff(from: &Catalog, to: &Catalog) -> Plan {
    let mut d = Differ {
        from,
        to,
        out: Steps::default(),
        gone: BTreeSet::new(),
        recreated_views: BTreeSet::new(),
        recreated_functions: BTreeSet::new(),
        reshaped: BTreeMap::new(),
    };
    d.schemas();
    d.extensions();
    d.types();
    d.functions();
    d.sequences();
    d.tables();
    d.views();
    d.indexes();
    d.triggers();
    d.policies();
    d.default_privileges();
    d.publications();
    let mut plan = d.out.into_plan();
    mark_needs_commit(&mut plan);
    plan
}

/// An enum label added by one step and named by a later one (a default, a
/// check, a policy) must be committed first: PostgreSQL refuses to use a
/// label added in the same transaction.
fn mark_needs_commit(plan: &mut Plan) {
    for i in 0..plan.steps.len() {
        let step = &plan.steps[i];
        if step.kind != "type" || !step.sql.contains(" ADD VALUE ") {
            continue;
        }
        let Some(label) = step
            .sql
            .split(" ADD VALUE ")
            .nth(1)
            .and_then(literal_prefix)
        else {
            continue;
        };
        let used = plan.steps[i + 1..].iter().any(|s| s.sql.contains(&label));
        plan.steps[i].needs_commit = used;
    }
}

/// The SQL string literal at the start of `text`, quotes included.
fn literal_prefix(text: &str) -> Option<String> {
    let rest = text.strip_prefix('\'')?;
    let mut out = String::from("'");
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '\'' {
            if chars.peek() == Some(&'\'') {
                out.push('\'');
                chars.next();
            } else {
                return Some(out);
            }
        }
    }
    None
}

impl Differ<'_> {
    /// Privileges a new object gets when created: the owner's global default
    /// privileges (or the built-in ones) plus its per-schema defaults, as
    /// the source database has them when the plan runs.
    fn initial_acl(&self, grants: &Grants, schema: Option<&str>, object_type: &str) -> Acl {
        let global = format!("{} * {object_type}", grants.owner);
        let mut acl = self
            .from
            .default_privileges
            .get(&global)
            .map(|d| d.acl.clone())
            .unwrap_or_else(|| grants.initial.clone());
        if let Some(schema) = schema {
            let key = format!("{} {schema} {object_type}", grants.owner);
            if let Some(d) = self.from.default_privileges.get(&key) {
                acl.extend(d.acl.iter().cloned());
            }
        }
        acl
    }

    fn grants(&mut self, object: &str, on: &str, from: &Acl, to: &Acl) {
        for sql in acl_statements(on, None, from, to) {
            self.out
                .add(Phase::Grant, Action::Alter, "grant", object, sql);
        }
    }

    fn comment(&mut self, object: &str, on: &str, from: Option<&String>, to: Option<&String>) {
        if from == to {
            return;
        }
        let value = to.map(|c| literal(c)).unwrap_or_else(|| "NULL".into());
        self.out.add(
            Phase::Comment,
            Action::Alter,
            "comment",
            object,
            format!("COMMENT ON {on} IS {value}"),
        );
    }

    // --- schemas and extensions ------------------------------------------

    fn schemas(&mut self) {
        for name in self.from.schemas.keys() {
            if !self.to.schemas.contains_key(name) {
                self.out.destructive(
                    Phase::DropOldSchema,
                    Action::Drop,
                    "schema",
                    name,
                    format!("DROP SCHEMA {name}"),
                );
            }
        }
        for (name, s) in &self.to.schemas {
            let on = format!("SCHEMA {name}");
            match self.from.schemas.get(name) {
                None => {
                    self.out.add(
                        Phase::CreateSchema,
                        Action::Create,
                        "schema",
                        name,
                        format!("CREATE SCHEMA {name}"),
                    );
                    let initial = self.initial_acl(&s.grants, None, "SCHEMAS");
                    self.grants(name, &on, &initial, &s.grants.acl);
                    self.comment(name, &on, None, s.comment.as_ref());
                }
                Some(old) => {
                    self.grants(name, &on, &old.grants.acl, &s.grants.acl);
                    self.comment(name, &on, old.comment.as_ref(), s.comment.as_ref());
                }
            }
        }
    }

    fn extensions(&mut self) {
        for name in self.from.extensions.keys() {
            if !self.to.extensions.contains_key(name) {
                self.out.destructive(
                    Phase::DropOldExtension,
                    Action::Drop,
                    "extension",
                    name,
                    format!("DROP EXTENSION {name}"),
                );
            }
        }
        for (name, e) in &self.to.extensions {
            let on = format!("EXTENSION {name}");
            match self.from.extensions.get(name) {
                None => {
                    self.out.add(
                        Phase::CreateExtension,
                        Action::Create,
                        "extension",
                        name,
                        format!(
                            "CREATE EXTENSION IF NOT EXISTS {name} WITH SCHEMA {} VERSION {}",
                            e.schema,
                            literal(&e.version)
                        ),
                    );
                    // A new extension comes with its control file's comment.
                    if let Some(c) = &e.comment {
                        self.comment(name, &on, None, Some(c));
                    }
                }
                Some(old) => {
                    if old.schema != e.schema {
                        self.out.add(
                            Phase::CreateExtension,
                            Action::Alter,
                            "extension",
                            name,
                            format!("ALTER EXTENSION {name} SET SCHEMA {}", e.schema),
                        );
                    }
                    if old.version != e.version {
                        self.out.add(
                            Phase::CreateExtension,
                            Action::Alter,
                            "extension",
                            name,
                            format!("ALTER EXTENSION {name} UPDATE TO {}", literal(&e.version)),
                        );
                    }
                    self.comment(name, &on, old.comment.as_ref(), e.comment.as_ref());
                }
            }
        }
    }

    // --- types ------------------------------------------------------------

    fn type_word(t: &TypeDef) -> &'static str {
        match t.kind {
            TypeKind::Domain { .. } => "DOMAIN",
            _ => "TYPE",
        }
    }

    fn create_type(key: &str, t: &TypeDef) -> String {
        match &t.kind {
            TypeKind::Enum(values) => {
                let values: Vec<String> = values.iter().map(|v| literal(v)).collect();
                format!("CREATE TYPE {key} AS ENUM ({})", values.join(", "))
            }
            TypeKind::Domain {
                base,
                default,
                not_null,
                collation,
                checks,
            } => {
                let mut sql = format!("CREATE DOMAIN {key} AS {base}");
                if let Some(c) = collation {
                    sql.push_str(&format!(" COLLATE {c}"));
                }
                if let Some(d) = default {
                    sql.push_str(&format!(" DEFAULT {d}"));
                }
                if *not_null {
                    sql.push_str(" NOT NULL");
                }
                for (name, def) in checks {
                    sql.push_str(&format!(" CONSTRAINT {name} {def}"));
                }
                sql
            }
            TypeKind::Composite(attributes) => {
                let attrs: Vec<String> = attributes
                    .iter()
                    .map(|(n, t)| format!("\n    {n} {t}"))
                    .collect();
                format!("CREATE TYPE {key} AS ({}\n)", attrs.join(","))
            }
            TypeKind::Range(spec) => format!("CREATE TYPE {key} AS RANGE ({spec})"),
        }
    }

    fn type_rank(t: &TypeDef) -> u8 {
        match t.kind {
            TypeKind::Enum(_) => 0,
            TypeKind::Range(_) => 1,
            TypeKind::Domain { .. } => 2,
            TypeKind::Composite(_) => 3,
        }
    }

    fn types(&mut self) {
        for (key, t) in &self.from.types {
            if !self.to.types.contains_key(key) {
                self.out.destructive(
                    Phase::DropOldType,
                    Action::Drop,
                    "type",
                    key,
                    format!("DROP {} {key}", Self::type_word(t)),
                );
            }
        }
        let mut order: Vec<(&String, &TypeDef)> = self.to.types.iter().collect();
        order.sort_by_key(|(k, t)| (Self::type_rank(t), (*k).clone()));
        for (key, t) in order {
            let word = Self::type_word(t);
            let on = format!("{word} {key}");
            let old = self.from.types.get(key);
            let recreate = match old {
                None => true,
                Some(old) => self.alter_type(key, old, t),
            };
            if recreate {
                if let Some(old) = old {
                    self.out.destructive(
                        Phase::DropReplacedType,
                        Action::Drop,
                        "type",
                        key,
                        format!("DROP {} {key}", Self::type_word(old)),
                    );
                }
                self.out.add(
                    Phase::CreateType,
                    Action::Create,
                    "type",
                    key,
                    Self::create_type(key, t),
                );
                let initial = self.initial_acl(&t.grants, Some(&t.schema), "TYPES");
                self.grants(key, &on, &initial, &t.grants.acl);
                self.comment(key, &on, None, t.comment.as_ref());
            } else if let Some(old) = old {
                self.grants(key, &on, &old.grants.acl, &t.grants.acl);
                self.comment(key, &on, old.comment.as_ref(), t.comment.as_ref());
            }
        }
    }

    /// Alters a type in place; `true` when it must be dropped and created.
    fn alter_type(&mut self, key: &str, old: &TypeDef, new: &TypeDef) -> bool {
        match (&old.kind, &new.kind) {
            (TypeKind::Enum(a), TypeKind::Enum(b)) => {
                if a != b {
                    self.alter_enum(key, a, b);
                }
                false
            }
            (
                TypeKind::Domain {
                    base: b1,
                    default: d1,
                    not_null: n1,
                    collation: c1,
                    checks: k1,
                },
                TypeKind::Domain {
                    base: b2,
                    default: d2,
                    not_null: n2,
                    collation: c2,
                    checks: k2,
                },
            ) => {
                if b1 != b2 || c1 != c2 {
                    return true;
                }
                let mut alter = |sql: String| {
                    self.out
                        .add(Phase::CreateType, Action::Alter, "type", key, sql);
                };
                if d1 != d2 {
                    match d2 {
                        Some(d) => alter(format!("ALTER DOMAIN {key} SET DEFAULT {d}")),
                        None => alter(format!("ALTER DOMAIN {key} DROP DEFAULT")),
                    }
                }
                if n1 != n2 {
                    let what = if *n2 { "SET" } else { "DROP" };
                    alter(format!("ALTER DOMAIN {key} {what} NOT NULL"));
                }
                for (name, def) in k1 {
                    if k2.get(name) != Some(def) {
                        alter(format!("ALTER DOMAIN {key} DROP CONSTRAINT {name}"));
                    }
                }
                for (name, def) in k2 {
                    if k1.get(name) != Some(def) {
                        alter(format!("ALTER DOMAIN {key} ADD CONSTRAINT {name} {def}"));
                    }
                }
                false
            }
            (TypeKind::Composite(a), TypeKind::Composite(b)) => {
                for (name, ty) in a {
                    match b.iter().find(|(n, _)| n == name) {
                        None => self.out.destructive(
                            Phase::CreateType,
                            Action::Alter,
                            "type",
                            key,
                            format!("ALTER TYPE {key} DROP ATTRIBUTE {name}"),
                        ),
                        Some((_, t2)) if t2 != ty => self.out.destructive(
                            Phase::CreateType,
                            Action::Alter,
                            "type",
                            key,
                            format!("ALTER TYPE {key} ALTER ATTRIBUTE {name} TYPE {t2}"),
                        ),
                        Some(_) => {}
                    }
                }
                for (name, ty) in b {
                    if !a.iter().any(|(n, _)| n == name) {
                        self.out.add(
                            Phase::CreateType,
                            Action::Alter,
                            "type",
                            key,
                            format!("ALTER TYPE {key} ADD ATTRIBUTE {name} {ty}"),
                        );
                    }
                }
                false
            }
            (TypeKind::Range(a), TypeKind::Range(b)) => a != b,
            _ => true,
        }
    }

    /// New labels where they belong; labels removed or reordered need the
    /// type rebuilt and every column using it converted.
    fn alter_enum(&mut self, key: &str, old: &[String], new: &[String]) {
        let kept: Vec<&String> = new.iter().filter(|v| old.contains(v)).collect();
        let additive = kept.len() == old.len() && kept.iter().zip(old).all(|(a, b)| *a == b);
        if additive {
            for (i, value) in new.iter().enumerate() {
                if old.contains(value) {
                    continue;
                }
                let place = match new[..i].last() {
                    Some(prev) => format!(" AFTER {}", literal(prev)),
                    None => match new[i + 1..].iter().find(|v| old.contains(v)) {
                        Some(next) => format!(" BEFORE {}", literal(next)),
                        None => String::new(),
                    },
                };
                self.out.add(
                    Phase::CreateType,
                    Action::Alter,
                    "type",
                    key,
                    format!("ALTER TYPE {key} ADD VALUE {}{place}", literal(value)),
                );
            }
            return;
        }
        // Rebuild: rename the old type away, create the new one, convert
        // each column through text, drop the old type.
        let (schema, name) = key.split_once('.').unwrap_or(("public", key));
        let old_name = format!("{}_old", unquote(name));
        let old_ident = crate::pg::quote_ident(&old_name);
        let mut sqls = vec![format!("ALTER TYPE {key} RENAME TO {old_ident}")];
        let values: Vec<String> = new.iter().map(|v| literal(v)).collect();
        sqls.push(format!("CREATE TYPE {key} AS ENUM ({})", values.join(", ")));
        let array = format!("{key}[]");
        for (table_key, table) in &self.from.tables {
            let Some(target) = self.to.tables.get(table_key) else {
                continue;
            };
            for col in &table.columns {
                let is_array = col.data_type == array;
                if col.data_type != key && !is_array {
                    continue;
                }
                let Some(new_col) = target.column(&col.name) else {
                    continue;
                };
                self.reshaped
                    .entry(table_key.clone())
                    .or_default()
                    .insert(col.name.clone());
                let c = &col.name;
                if col.default.is_some() {
                    sqls.push(format!(
                        "ALTER TABLE {table_key} ALTER COLUMN {c} DROP DEFAULT"
                    ));
                }
                let using = if is_array {
                    format!("{c}::text[]::{array}")
                } else {
                    format!("{c}::text::{key}")
                };
                sqls.push(format!(
                    "ALTER TABLE {table_key} ALTER COLUMN {c} TYPE {} USING {using}",
                    col.data_type
                ));
                if col.default.is_some()
                    && let Some(d) = &new_col.default
                {
                    sqls.push(format!(
                        "ALTER TABLE {table_key} ALTER COLUMN {c} SET DEFAULT {d}"
                    ));
                }
            }
        }
        sqls.push(format!("DROP TYPE {schema}.{old_ident}"));
        for sql in sqls {
            self.out
                .destructive(Phase::CreateType, Action::Alter, "type", key, sql);
        }
    }

    // --- functions --------------------------------------------------------

    fn function_word(f: &Function) -> &'static str {
        if f.kind == "p" {
            "PROCEDURE"
        } else {
            "FUNCTION"
        }
    }

    fn functions(&mut self) {
        for (key, f) in &self.from.functions {
            if !self.to.functions.contains_key(key) {
                self.out.destructive(
                    Phase::DropOldFunction,
                    Action::Drop,
                    "function",
                    key,
                    format!("DROP {} {key}", Self::function_word(f)),
                );
            }
        }
        for (key, f) in &self.to.functions {
            let on = format!("{} {key}", Self::function_word(f));
            let create_phase = if f.late {
                Phase::CreateLateFunction
            } else {
                Phase::CreateFunction
            };
            let schema = key.split_once('.').map(|(s, _)| s);
            match self.from.functions.get(key) {
                None => {
                    self.out.add(
                        create_phase,
                        Action::Create,
                        "function",
                        key,
                        f.definition.clone(),
                    );
                    let initial = self.initial_acl(&f.grants, schema, "FUNCTIONS");
                    self.grants(key, &on, &initial, &f.grants.acl);
                    self.comment(key, &on, None, f.comment.as_ref());
                }
                Some(old) => {
                    let replace_in_place = old.kind == f.kind
                        && old.result == f.result
                        && old.arg_names == f.arg_names;
                    if old.definition != f.definition {
                        if replace_in_place {
                            self.out.add(
                                create_phase,
                                Action::Alter,
                                "function",
                                key,
                                f.definition.clone(),
                            );
                        } else {
                            self.recreated_functions.insert(key.clone());
                            self.out.add(
                                Phase::DropReplacedFunction,
                                Action::Drop,
                                "function",
                                key,
                                format!("DROP {} {key}", Self::function_word(old)),
                            );
                            self.out.add(
                                create_phase,
                                Action::Create,
                                "function",
                                key,
                                f.definition.clone(),
                            );
                            let initial = self.initial_acl(&f.grants, schema, "FUNCTIONS");
                            self.grants(key, &on, &initial, &f.grants.acl);
                            self.comment(key, &on, None, f.comment.as_ref());
                            continue;
                        }
                    }
                    self.grants(key, &on, &old.grants.acl, &f.grants.acl);
                    self.comment(key, &on, old.comment.as_ref(), f.comment.as_ref());
                }
            }
        }
    }

    // --- sequences --------------------------------------------------------

    /// Whether the source drops the owner of a sequence along with a table
    /// or column the plan drops.
    fn owner_dropped(&self, owned_by: &str) -> bool {
        let Some((table, column)) = owned_by.rsplit_once('.') else {
            return false;
        };
        match self.to.tables.get(table) {
            None => true,
            Some(t) => t.column(column).is_none(),
        }
    }

    fn sequences(&mut self) {
        for (key, s) in &self.from.sequences {
            if self.to.sequences.contains_key(key) {
                continue;
            }
            if s.owned_by.as_deref().is_some_and(|o| self.owner_dropped(o)) {
                continue; // goes with its table or column
            }
            self.out.destructive(
                Phase::DropOldSequence,
                Action::Drop,
                "sequence",
                key,
                format!("DROP SEQUENCE {key}"),
            );
        }
        for (key, s) in &self.to.sequences {
            let on = format!("SEQUENCE {key}");
            match self.from.sequences.get(key) {
                None => {
                    self.out.add(
                        Phase::CreateSequence,
                        Action::Create,
                        "sequence",
                        key,
                        format!(
                            "CREATE SEQUENCE {key} AS {} START WITH {} INCREMENT BY {} MINVALUE {} MAXVALUE {} CACHE {}{}",
                            s.data_type,
                            s.start,
                            s.increment,
                            s.min,
                            s.max,
                            s.cache,
                            if s.cycle { " CYCLE" } else { "" }
                        ),
                    );
                    if let Some(owner) = &s.owned_by {
                        self.out.add(
                            Phase::SequenceOwner,
                            Action::Alter,
                            "sequence",
                            key,
                            format!("ALTER SEQUENCE {key} OWNED BY {owner}"),
                        );
                    }
                    let initial = self.initial_acl(&s.grants, Some(&s.schema), "SEQUENCES");
                    self.grants(key, &on, &initial, &s.grants.acl);
                    self.comment(key, &on, None, s.comment.as_ref());
                }
                Some(old) => {
                    let mut parts = Vec::new();
                    if old.data_type != s.data_type {
                        parts.push(format!("AS {}", s.data_type));
                    }
                    if old.start != s.start {
                        parts.push(format!("START WITH {}", s.start));
                    }
                    if old.increment != s.increment {
                        parts.push(format!("INCREMENT BY {}", s.increment));
                    }
                    if old.min != s.min || old.data_type != s.data_type {
                        parts.push(format!("MINVALUE {}", s.min));
                    }
                    if old.max != s.max || old.data_type != s.data_type {
                        parts.push(format!("MAXVALUE {}", s.max));
                    }
                    if old.cache != s.cache {
                        parts.push(format!("CACHE {}", s.cache));
                    }
                    if old.cycle != s.cycle {
                        parts.push(if s.cycle { "CYCLE" } else { "NO CYCLE" }.to_string());
                    }
                    if !parts.is_empty() {
                        self.out.add(
                            Phase::CreateSequence,
                            Action::Alter,
                            "sequence",
                            key,
                            format!("ALTER SEQUENCE {key} {}", parts.join(" ")),
                        );
                    }
                    if old.owned_by != s.owned_by {
                        let owner = s.owned_by.clone().unwrap_or_else(|| "NONE".into());
                        self.out.add(
                            Phase::SequenceOwner,
                            Action::Alter,
                            "sequence",
                            key,
                            format!("ALTER SEQUENCE {key} OWNED BY {owner}"),
                        );
                    }
                    self.grants(key, &on, &old.grants.acl, &s.grants.acl);
                    self.comment(key, &on, old.comment.as_ref(), s.comment.as_ref());
                }
            }
        }
    }

    // --- tables -----------------------------------------------------------

    fn column_sql(c: &Column) -> String {
        let mut sql = format!("{} {}", c.name, c.data_type);
        if let Some(g) = &c.generated {
            sql.push_str(&format!(" GENERATED ALWAYS AS ({g}) STORED"));
        }
        if let Some(d) = &c.default {
            sql.push_str(&format!(" DEFAULT {d}"));
        }
        match c.identity.as_str() {
            "a" => sql.push_str(" GENERATED ALWAYS AS IDENTITY"),
            "d" => sql.push_str(" GENERATED BY DEFAULT AS IDENTITY"),
            _ => {}
        }
        if c.not_null {
            sql.push_str(" NOT NULL");
        }
        sql
    }

    fn create_table(key: &str, t: &Table) -> String {
        let unlogged = if t.unlogged { "UNLOGGED " } else { "" };
        let mut sql = if let Some((parent, bound)) = &t.partition_of {
            format!("CREATE {unlogged}TABLE {key} PARTITION OF {parent} {bound}")
        } else {
            let cols: Vec<String> = t
                .columns
                .iter()
                .map(|c| format!("\n    {}", Self::column_sql(c)))
                .collect();
            let mut sql = format!("CREATE {unlogged}TABLE {key} ({}\n)", cols.join(","));
            if let Some(k) = &t.partition_key {
                sql.push_str(&format!(" PARTITION BY {k}"));
            }
            sql
        };
        if !t.options.is_empty() {
            sql.push_str(&format!(" WITH ({})", t.options.join(", ")));
        }
        sql
    }

    fn constraint_phase(c: &Constraint) -> (Phase, Phase) {
        if c.kind == "f" {
            (Phase::DropForeignKey, Phase::CreateForeignKey)
        } else {
            (Phase::DropConstraint, Phase::CreateConstraint)
        }
    }

    fn tables(&mut self) {
        // Drops: tables only the source has (a partition goes with its parent).
        for (key, t) in &self.from.tables {
            if self.to.tables.contains_key(key) {
                continue;
            }
            self.gone.insert(key.clone());
            let parent_dropped = t
                .partition_of
                .as_ref()
                .is_some_and(|(p, _)| !self.to.tables.contains_key(p));
            if !parent_dropped {
                self.out.destructive(
                    Phase::DropTable,
                    Action::Drop,
                    "table",
                    key,
                    format!("DROP TABLE {key}"),
                );
            }
            // Foreign keys between dropped tables go first, so the tables
            // can be dropped in any order.
            for c in t.constraints.values() {
                let into_other_dropped = c
                    .references
                    .as_ref()
                    .is_some_and(|r| r != key && !self.to.tables.contains_key(r));
                if c.kind == "f" && into_other_dropped {
                    self.out.add(
                        Phase::DropForeignKey,
                        Action::Drop,
                        "constraint",
                        &format!("{key}.{}", c.name),
                        format!("ALTER TABLE {key} DROP CONSTRAINT {}", c.name),
                    );
                }
            }
        }
        // Creates, parents before partitions.
        let added: BTreeSet<String> = self
            .to
            .tables
            .keys()
            .filter(|k| !self.from.tables.contains_key(*k))
            .cloned()
            .collect();
        let order = topological(&added, |k| {
            self.to
                .tables
                .get(k)
                .and_then(|t| t.partition_of.as_ref().map(|(p, _)| vec![p.clone()]))
                .unwrap_or_default()
        });
        for key in order {
            let Some(t) = self.to.tables.get(&key) else {
                continue;
            };
            self.out.add(
                Phase::CreateTable,
                Action::Create,
                "table",
                &key,
                Self::create_table(&key, t),
            );
            self.table_extras(&key, None, t);
        }
        for (key, t) in &self.to.tables {
            if let Some(old) = self.from.tables.get(key) {
                self.alter_table(key, old, t);
                self.table_extras(key, Some(old), t);
            }
        }
    }

    /// Constraints, row security, grants and comments of a table (created
    /// when `old` is none).
    fn table_extras(&mut self, key: &str, old: Option<&Table>, t: &Table) {
        let on = format!("TABLE {key}");
        for (name, c) in &t.constraints {
            let object = format!("{key}.{name}");
            let before = old.and_then(|o| o.constraints.get(name));
            if before.is_some_and(|b| b.definition == c.definition && b.kind == c.kind) {
                let b_comment = before.and_then(|b| b.comment.as_ref());
                self.comment(
                    &object,
                    &format!("CONSTRAINT {name} ON {key}"),
                    b_comment,
                    c.comment.as_ref(),
                );
                continue;
            }
            let (_, create) = Self::constraint_phase(c);
            self.out.add(
                create,
                Action::Create,
                "constraint",
                &object,
                format!("ALTER TABLE {key} ADD CONSTRAINT {name} {}", c.definition),
            );
            self.comment(
                &object,
                &format!("CONSTRAINT {name} ON {key}"),
                None,
                c.comment.as_ref(),
            );
        }
        if let Some(old) = old {
            for (name, c) in &old.constraints {
                let same = t
                    .constraints
                    .get(name)
                    .is_some_and(|n| n.definition == c.definition && n.kind == c.kind);
                if !same {
                    let (drop, _) = Self::constraint_phase(c);
                    self.out.add(
                        drop,
                        Action::Drop,
                        "constraint",
                        &format!("{key}.{name}"),
                        format!("ALTER TABLE {key} DROP CONSTRAINT {name}"),
                    );
                }
            }
        }
        let (rls, force) = old.map(|o| (o.rls, o.force_rls)).unwrap_or((false, false));
        if rls != t.rls {
            let what = if t.rls { "ENABLE" } else { "DISABLE" };
            self.out.add(
                Phase::RowSecurity,
                Action::Alter,
                "rls",
                key,
                format!("ALTER TABLE {key} {what} ROW LEVEL SECURITY"),
            );
        }
        if force != t.force_rls {
            let what = if t.force_rls { "FORCE" } else { "NO FORCE" };
            self.out.add(
                Phase::RowSecurity,
                Action::Alter,
                "rls",
                key,
                format!("ALTER TABLE {key} {what} ROW LEVEL SECURITY"),
            );
        }
        let identity = old
            .map(|o| o.replica_identity.as_str())
            .unwrap_or("DEFAULT");
        if identity != t.replica_identity {
            self.out.add(
                Phase::RowSecurity,
                Action::Alter,
                "table",
                key,
                format!("ALTER TABLE {key} REPLICA IDENTITY {}", t.replica_identity),
            );
        }
        let from_acl = match old {
            Some(o) => o.grants.acl.clone(),
            None => self.initial_acl(&t.grants, Some(&t.schema), "TABLES"),
        };
        self.grants(key, &on, &from_acl, &t.grants.acl);
        self.comment(
            key,
            &on,
            old.and_then(|o| o.comment.as_ref()),
            t.comment.as_ref(),
        );
        let empty = Acl::new();
        for c in &t.columns {
            let before = old.and_then(|o| o.column(&c.name));
            let object = format!("{key}.{}", c.name);
            for sql in acl_statements(
                &on,
                Some(&c.name),
                before.map(|b| &b.acl).unwrap_or(&empty),
                &c.acl,
            ) {
                self.out
                    .add(Phase::Grant, Action::Alter, "grant", &object, sql);
            }
            self.comment(
                &object,
                &format!("COLUMN {object}"),
                before.and_then(|b| b.comment.as_ref()),
                c.comment.as_ref(),
            );
        }
    }

    fn alter_table(&mut self, key: &str, old: &Table, t: &Table) {
        let alter = |out: &mut Steps, phase: Phase, destructive: bool, sql: String| {
            // The column's name follows the first keyword pair, when there is one.
            let object = column_object(key, &sql);
            let action = if sql.starts_with("DROP COLUMN") {
                Action::Drop
            } else {
                Action::Alter
            };
            let step = out.add(
                phase,
                action,
                "column",
                &object,
                format!("ALTER TABLE {key} {sql}"),
            );
            step.destructive = destructive;
        };
        if old.partition_of != t.partition_of {
            if let Some((parent, _)) = &old.partition_of {
                self.out.add(
                    Phase::CreateTable,
                    Action::Alter,
                    "table",
                    key,
                    format!("ALTER TABLE {parent} DETACH PARTITION {key}"),
                );
            }
            if let Some((parent, bound)) = &t.partition_of {
                self.out.add(
                    Phase::CreateTable,
                    Action::Alter,
                    "table",
                    key,
                    format!("ALTER TABLE {parent} ATTACH PARTITION {key} {bound}"),
                );
            }
        }
        if old.unlogged != t.unlogged {
            let what = if t.unlogged { "UNLOGGED" } else { "LOGGED" };
            alter(
                &mut self.out,
                Phase::AlterColumn,
                false,
                format!("SET {what}"),
            );
        }
        if old.options != t.options {
            let keys = |opts: &[String]| -> BTreeSet<String> {
                opts.iter()
                    .map(|o| o.split('=').next().unwrap_or(o).to_string())
                    .collect()
            };
            let removed: Vec<String> = keys(&old.options)
                .difference(&keys(&t.options))
                .cloned()
                .collect();
            if !removed.is_empty() {
                alter(
                    &mut self.out,
                    Phase::AlterColumn,
                    false,
                    format!("RESET ({})", removed.join(", ")),
                );
            }
            if !t.options.is_empty() {
                alter(
                    &mut self.out,
                    Phase::AlterColumn,
                    false,
                    format!("SET ({})", t.options.join(", ")),
                );
            }
        }
        for c in &old.columns {
            if !c.local {
                continue;
            }
            let replaced = t
                .column(&c.name)
                .is_some_and(|n| n.generated != c.generated);
            if t.column(&c.name).is_none() || replaced {
                self.reshaped
                    .entry(key.to_string())
                    .or_default()
                    .insert(c.name.clone());
                alter(
                    &mut self.out,
                    Phase::DropColumn,
                    true,
                    format!("DROP COLUMN {}", c.name),
                );
            }
        }
        for c in &t.columns {
            if !c.local {
                continue;
            }
            let Some(o) = old.column(&c.name).filter(|o| o.generated == c.generated) else {
                alter(
                    &mut self.out,
                    Phase::AlterColumn,
                    false,
                    format!("ADD COLUMN {}", Self::column_sql(c)),
                );
                continue;
            };
            let name = &c.name;
            let retype = o.data_type != c.data_type;
            let default_changes = o.default != c.default;
            if o.default.is_some() && retype {
                alter(
                    &mut self.out,
                    Phase::AlterColumn,
                    false,
                    format!("ALTER COLUMN {name} DROP DEFAULT"),
                );
            }
            if retype {
                self.reshaped
                    .entry(key.to_string())
                    .or_default()
                    .insert(c.name.clone());
                let base = c
                    .data_type
                    .split(" COLLATE ")
                    .next()
                    .unwrap_or(&c.data_type);
                alter(
                    &mut self.out,
                    Phase::AlterColumn,
                    !widens(&o.data_type, &c.data_type),
                    format!(
                        "ALTER COLUMN {name} TYPE {} USING {name}::{base}",
                        c.data_type
                    ),
                );
            }
            if (retype && o.default.is_some()) || default_changes {
                match &c.default {
                    Some(d) => alter(
                        &mut self.out,
                        Phase::AlterColumn,
                        false,
                        format!("ALTER COLUMN {name} SET DEFAULT {d}"),
                    ),
                    None if !retype => alter(
                        &mut self.out,
                        Phase::AlterColumn,
                        false,
                        format!("ALTER COLUMN {name} DROP DEFAULT"),
                    ),
                    None => {}
                }
            }
            if o.identity != c.identity && !o.identity.is_empty() && c.identity.is_empty() {
                alter(
                    &mut self.out,
                    Phase::AlterColumn,
                    false,
                    format!("ALTER COLUMN {name} DROP IDENTITY"),
                );
            }
            if o.not_null != c.not_null {
                let what = if c.not_null { "SET" } else { "DROP" };
                alter(
                    &mut self.out,
                    Phase::AlterColumn,
                    false,
                    format!("ALTER COLUMN {name} {what} NOT NULL"),
                );
            }
            if o.identity != c.identity && !c.identity.is_empty() {
                let kind = if c.identity == "a" {
                    "ALWAYS"
                } else {
                    "BY DEFAULT"
                };
                let sql = if o.identity.is_empty() {
                    format!("ALTER COLUMN {name} ADD GENERATED {kind} AS IDENTITY")
                } else {
                    format!("ALTER COLUMN {name} SET GENERATED {kind}")
                };
                alter(&mut self.out, Phase::AlterColumn, false, sql);
            }
        }
    }

    // --- views ------------------------------------------------------------

    fn view_word(v: &View) -> &'static str {
        if v.materialized {
            "MATERIALIZED VIEW"
        } else {
            "VIEW"
        }
    }

    fn create_view(key: &str, v: &View) -> String {
        let options = if v.options.is_empty() {
            String::new()
        } else {
            format!(" WITH ({})", v.options.join(", "))
        };
        let mut sql = format!(
            "CREATE {} {key}{options} AS\n{}",
            Self::view_word(v),
            v.definition
        );
        if v.materialized {
            sql.push_str(if v.populated {
                "\nWITH DATA"
            } else {
                "\nWITH NO DATA"
            });
        } else if let Some(check) = &v.check_option {
            sql.push_str(&format!("\nWITH {check} CHECK OPTION"));
        }
        sql
    }

    fn views(&mut self) {
        // What must be recreated: changed definitions, views that read a
        // reshaped column or call a replaced function, and (transitively)
        // views that read those.
        let mut redo: BTreeSet<String> = BTreeSet::new();
        for (key, v) in &self.from.views {
            let Some(new) = self.to.views.get(key) else {
                continue;
            };
            let changed = v.definition != new.definition
                || v.options != new.options
                || v.check_option != new.check_option
                || v.materialized != new.materialized;
            let reads_reshaped = v.depends_on.iter().any(|rel| {
                self.reshaped
                    .get(rel)
                    .is_some_and(|cols| cols.iter().any(|c| mentions(&v.definition, c)))
            });
            let calls_replaced = v.calls.iter().any(|f| {
                self.recreated_functions.contains(f) || !self.to.functions.contains_key(f)
            });
            if changed || reads_reshaped || calls_replaced {
                redo.insert(key.clone());
            }
        }
        loop {
            let before = redo.len();
            for (key, v) in &self.from.views {
                if !self.to.views.contains_key(key) {
                    continue;
                }
                if v.depends_on.iter().any(|d| {
                    redo.contains(d)
                        || (self.from.views.contains_key(d) && !self.to.views.contains_key(d))
                }) {
                    redo.insert(key.clone());
                }
            }
            if redo.len() == before {
                break;
            }
        }
        let dropped: BTreeSet<String> = self
            .from
            .views
            .keys()
            .filter(|k| redo.contains(*k) || !self.to.views.contains_key(*k))
            .cloned()
            .collect();
        // Drop dependents first: reverse of the dependency order.
        let mut order = topological(&dropped, |k| {
            self.from
                .views
                .get(k)
                .map(|v| v.depends_on.iter().cloned().collect())
                .unwrap_or_default()
        });
        order.reverse();
        for key in order {
            let Some(v) = self.from.views.get(&key) else {
                continue;
            };
            let sql = format!("DROP {} {key}", Self::view_word(v));
            if redo.contains(&key) {
                self.out
                    .add(Phase::DropView, Action::Drop, "view", &key, sql);
            } else {
                let step = self
                    .out
                    .add(Phase::DropView, Action::Drop, "view", &key, sql);
                step.destructive = v.materialized;
            }
            self.gone.insert(key.clone());
        }
        self.recreated_views = redo.clone();
        let created: BTreeSet<String> = self
            .to
            .views
            .keys()
            .filter(|k| redo.contains(*k) || !self.from.views.contains_key(*k))
            .cloned()
            .collect();
        let order = topological(&created, |k| {
            self.to
                .views
                .get(k)
                .map(|v| v.depends_on.iter().cloned().collect())
                .unwrap_or_default()
        });
        for key in &order {
            let Some(v) = self.to.views.get(key) else {
                continue;
            };
            let kind = if v.materialized {
                "materialized_view"
            } else {
                "view"
            };
            self.out.add(
                Phase::CreateView,
                Action::Create,
                kind,
                key,
                Self::create_view(key, v),
            );
        }
        for (key, v) in &self.to.views {
            let on = format!("{} {key}", Self::view_word(v));
            // GRANT and REVOKE name views and materialized views as tables.
            let grant_on = format!("TABLE {key}");
            let old = self.from.views.get(key).filter(|_| !created.contains(key));
            let from_acl = match old {
                Some(o) => o.grants.acl.clone(),
                None => self.initial_acl(&v.grants, Some(&v.schema), "TABLES"),
            };
            self.grants(key, &grant_on, &from_acl, &v.grants.acl);
            self.comment(
                key,
                &on,
                old.and_then(|o| o.comment.as_ref()),
                v.comment.as_ref(),
            );
            for (col, comment) in &v.column_comments {
                let before = old.and_then(|o| o.column_comments.get(col));
                let object = format!("{key}.{col}");
                self.comment(&object, &format!("COLUMN {object}"), before, Some(comment));
            }
            if let Some(o) = old {
                for (col, comment) in &o.column_comments {
                    if !v.column_comments.contains_key(col) {
                        let object = format!("{key}.{col}");
                        self.comment(&object, &format!("COLUMN {object}"), Some(comment), None);
                    }
                }
            }
        }
    }

    // --- indexes ----------------------------------------------------------

    fn indexes(&mut self) {
        for (key, i) in &self.from.indexes {
            let same = self
                .to
                .indexes
                .get(key)
                .is_some_and(|n| n.definition == i.definition && !self.gone.contains(&n.table));
            if !same && !self.gone.contains(&i.table) {
                self.out.add(
                    Phase::DropIndex,
                    Action::Drop,
                    "index",
                    key,
                    format!("DROP INDEX {key}"),
                );
            }
        }
        for (key, i) in &self.to.indexes {
            let on = format!("INDEX {key}");
            let old = self
                .from
                .indexes
                .get(key)
                .filter(|o| o.definition == i.definition && !self.gone.contains(&i.table));
            if old.is_none() {
                let phase = if i.on_view {
                    Phase::CreateViewIndex
                } else {
                    Phase::CreateIndex
                };
                self.out.add(
                    phase,
                    Action::Create,
                    "index",
                    key,
                    i.definition.replacen(" ON ONLY ", " ON ", 1),
                );
            }
            self.comment(
                key,
                &on,
                old.and_then(|o| o.comment.as_ref()),
                i.comment.as_ref(),
            );
        }
    }

    // --- triggers and policies ---------------------------------------------

    fn triggers(&mut self) {
        let keep = |d: &Self, old: &Trigger, new: &Trigger| {
            old.definition == new.definition
                && !d.gone.contains(&old.table)
                && !d.recreated_functions.contains(&old.function)
                && !d
                    .reshaped
                    .get(&old.table)
                    .is_some_and(|cols| cols.iter().any(|c| mentions(&old.definition, c)))
        };
        for (key, t) in &self.from.triggers {
            let kept = self.to.triggers.get(key).is_some_and(|n| keep(self, t, n));
            if !kept && !self.gone.contains(&t.table) {
                self.out.add(
                    Phase::DropTrigger,
                    Action::Drop,
                    "trigger",
                    key,
                    format!("DROP TRIGGER {} ON {}", t.name, t.table),
                );
            }
        }
        for (key, t) in &self.to.triggers {
            let on = format!("TRIGGER {key}");
            let old = self.from.triggers.get(key).filter(|o| keep(self, o, t));
            if old.is_none() {
                self.out.add(
                    Phase::CreateTrigger,
                    Action::Create,
                    "trigger",
                    key,
                    t.definition.clone(),
                );
            }
            let was = old.map(|o| o.enabled.as_str()).unwrap_or("O");
            if was != t.enabled {
                let what = match t.enabled.as_str() {
                    "D" => "DISABLE TRIGGER",
                    "R" => "ENABLE REPLICA TRIGGER",
                    "A" => "ENABLE ALWAYS TRIGGER",
                    _ => "ENABLE TRIGGER",
                };
                self.out.add(
                    Phase::CreateTrigger,
                    Action::Alter,
                    "trigger",
                    key,
                    format!("ALTER TABLE {} {what} {}", t.table, t.name),
                );
            }
            self.comment(
                key,
                &on,
                old.and_then(|o| o.comment.as_ref()),
                t.comment.as_ref(),
            );
        }
    }

    fn create_policy(p: &Policy) -> String {
        let mode = if p.permissive {
            "PERMISSIVE"
        } else {
            "RESTRICTIVE"
        };
        let mut sql = format!(
            "CREATE POLICY {} ON {} AS {mode} FOR {} TO {}",
            p.name,
            p.table,
            p.command,
            p.roles.join(", ")
        );
        if let Some(u) = &p.using {
            sql.push_str(&format!(" USING ({u})"));
        }
        if let Some(c) = &p.check {
            sql.push_str(&format!(" WITH CHECK ({c})"));
        }
        sql
    }

    fn policies(&mut self) {
        let keep = |d: &Self, old: &Policy, new: &Policy| {
            let mut a = old.clone();
            a.comment = None;
            let mut b = new.clone();
            b.comment = None;
            a == b
                && !d.reshaped.get(&old.table).is_some_and(|cols| {
                    cols.iter().any(|c| {
                        old.using.as_deref().is_some_and(|u| mentions(u, c))
                            || old.check.as_deref().is_some_and(|u| mentions(u, c))
                    })
                })
        };
        for (key, p) in &self.from.policies {
            let kept = self.to.policies.get(key).is_some_and(|n| keep(self, p, n));
            if !kept && !self.gone.contains(&p.table) {
                self.out.add(
                    Phase::DropPolicy,
                    Action::Drop,
                    "policy",
                    key,
                    format!("DROP POLICY {} ON {}", p.name, p.table),
                );
            }
        }
        for (key, p) in &self.to.policies {
            let on = format!("POLICY {key}");
            let old = self.from.policies.get(key).filter(|o| keep(self, o, p));
            if old.is_none() {
                self.out.add(
                    Phase::CreatePolicy,
                    Action::Create,
                    "policy",
                    key,
                    Self::create_policy(p),
                );
            }
            self.comment(
                key,
                &on,
                old.and_then(|o| o.comment.as_ref()),
                p.comment.as_ref(),
            );
        }
    }

    // --- default privileges and publications --------------------------------

    fn default_privileges(&mut self) {
        let keys: BTreeSet<&String> = self
            .from
            .default_privileges
            .keys()
            .chain(self.to.default_privileges.keys())
            .collect();
        for key in keys {
            let (a, b) = (
                self.from.default_privileges.get(key),
                self.to.default_privileges.get(key),
            );
            let Some(any) = a.or(b) else { continue };
            let from_acl = a.map(|d| &d.acl).unwrap_or(&any.absent);
            let to_acl = b.map(|d| &d.acl).unwrap_or(&any.absent);
            let schema = any
                .schema
                .as_ref()
                .map(|s| format!(" IN SCHEMA {s}"))
                .unwrap_or_default();
            let prefix = format!("ALTER DEFAULT PRIVILEGES FOR ROLE {}{schema} ", any.role);
            let marker = "\u{1}";
            for sql in acl_statements(marker, None, from_acl, to_acl) {
                let sql = sql.replace(&format!("ON {marker}"), &format!("ON {}", any.object_type));
                self.out.add(
                    Phase::DefaultPrivileges,
                    Action::Alter,
                    "default_privileges",
                    key,
                    format!("{prefix}{sql}"),
                );
            }
        }
    }

    fn publications(&mut self) {
        for (key, p) in &self.from.publications {
            let Some(new) = self.to.publications.get(key) else {
                self.out.destructive(
                    Phase::DropPublication,
                    Action::Drop,
                    "publication",
                    key,
                    format!("DROP PUBLICATION {key}"),
                );
                continue;
            };
            if new.all_tables != p.all_tables {
                self.out.add(
                    Phase::DropPublication,
                    Action::Drop,
                    "publication",
                    key,
                    format!("DROP PUBLICATION {key}"),
                );
                continue;
            }
            for (table, rest) in &p.tables {
                if new.tables.get(table) != Some(rest) && !self.gone.contains(table) {
                    self.out.add(
                        Phase::DropPublication,
                        Action::Alter,
                        "publication",
                        key,
                        format!("ALTER PUBLICATION {key} DROP TABLE {table}"),
                    );
                }
            }
            for schema in p.schemas.difference(&new.schemas) {
                self.out.add(
                    Phase::DropPublication,
                    Action::Alter,
                    "publication",
                    key,
                    format!("ALTER PUBLICATION {key} DROP TABLES IN SCHEMA {schema}"),
                );
            }
        }
        for (key, p) in &self.to.publications {
            let on = format!("PUBLICATION {key}");
            let with = format!(
                "publish = {}, publish_via_partition_root = {}",
                literal(&p.publish),
                p.via_root
            );
            let old = self
                .from
                .publications
                .get(key)
                .filter(|o| o.all_tables == p.all_tables);
            let Some(old) = old else {
                let mut targets: Vec<String> = p
                    .tables
                    .iter()
                    .map(|(t, rest)| format!("TABLE {t}{rest}"))
                    .collect();
                targets.extend(p.schemas.iter().map(|s| format!("TABLES IN SCHEMA {s}")));
                let what = if p.all_tables {
                    " FOR ALL TABLES".to_string()
                } else if targets.is_empty() {
                    String::new()
                } else {
                    format!(" FOR {}", targets.join(", "))
                };
                self.out.add(
                    Phase::Publication,
                    Action::Create,
                    "publication",
                    key,
                    format!("CREATE PUBLICATION {key}{what} WITH ({with})"),
                );
                self.comment(key, &on, None, p.comment.as_ref());
                continue;
            };
            if old.publish != p.publish || old.via_root != p.via_root {
                self.out.add(
                    Phase::Publication,
                    Action::Alter,
                    "publication",
                    key,
                    format!("ALTER PUBLICATION {key} SET ({with})"),
                );
            }
            for (table, rest) in &p.tables {
                if old.tables.get(table) != Some(rest) {
                    self.out.add(
                        Phase::Publication,
                        Action::Alter,
                        "publication",
                        key,
                        format!("ALTER PUBLICATION {key} ADD TABLE {table}{rest}"),
                    );
                }
            }
            for schema in p.schemas.difference(&old.schemas) {
                self.out.add(
                    Phase::Publication,
                    Action::Alter,
                    "publication",
                    key,
                    format!("ALTER PUBLICATION {key} ADD TABLES IN SCHEMA {schema}"),
                );
            }
            self.comment(key, &on, old.comment.as_ref(), p.comment.as_ref());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acl(items: &[(&str, &str, bool)]) -> Acl {
        items
            .iter()
            .map(|(g, p, o)| (g.to_string(), p.to_string(), *o))
            .collect()
    }

    #[test]
    fn grants_and_revokes_are_grouped_per_grantee() {
        let from = acl(&[
            ("anon", "SELECT", false),
            ("anon", "INSERT", false),
            ("bob", "SELECT", true),
        ]);
        let to = acl(&[
            ("anon", "SELECT", false),
            ("bob", "SELECT", false),
            ("carol", "UPDATE", false),
            ("carol", "SELECT", false),
        ]);
        assert_eq!(
            acl_statements("TABLE public.t", None, &from, &to),
            [
                "REVOKE INSERT ON TABLE public.t FROM anon",
                "REVOKE GRANT OPTION FOR SELECT ON TABLE public.t FROM bob",
                "GRANT SELECT, UPDATE ON TABLE public.t TO carol",
            ]
        );
    }

    #[test]
    fn a_privilege_that_becomes_grantable_is_granted_with_the_option() {
        let from = acl(&[("anon", "SELECT", false)]);
        let to = acl(&[("anon", "SELECT", true)]);
        assert_eq!(
            acl_statements("TABLE t", Some("c"), &from, &to),
            ["GRANT SELECT (c) ON TABLE t TO anon WITH GRANT OPTION"]
        );
    }

    #[test]
    fn widening_conversions_are_not_destructive() {
        for (a, b) in [
            ("integer", "bigint"),
            ("smallint", "integer"),
            ("integer", "numeric"),
            ("character varying(20)", "character varying(40)"),
            ("character varying(20)", "text"),
            ("character varying", "text"),
            ("text", "character varying"),
            ("numeric(10,2)", "numeric(12,2)"),
            ("numeric(10,2)", "numeric(12,4)"),
            ("numeric(10,2)", "numeric"),
        ] {
            assert!(widens(a, b), "{a} -> {b}");
        }
        for (a, b) in [
            ("bigint", "integer"),
            ("numeric", "integer"),
            ("character varying(40)", "character varying(20)"),
            ("text", "character varying(10)"),
            ("numeric(10,2)", "numeric(10,4)"),
            ("numeric", "numeric(10,2)"),
            ("timestamp without time zone", "timestamp with time zone"),
            ("integer", "text"),
            ("text", "integer"),
        ] {
            assert!(!widens(a, b), "{a} -> {b}");
        }
    }

    #[test]
    fn column_steps_name_their_column() {
        assert_eq!(column_object("public.t", "DROP COLUMN a"), "public.t.a");
        assert_eq!(
            column_object("public.t", "ADD COLUMN \"A \"\"b\" text NOT NULL"),
            "public.t.\"A \"\"b\""
        );
        assert_eq!(column_object("public.t", "SET LOGGED"), "public.t");
    }

    #[test]
    fn mentions_matches_whole_identifiers_only() {
        assert!(mentions("(t.owner_id = auth.uid())", "owner_id"));
        assert!(!mentions("(t.owner_id2 = 1)", "owner_id"));
        assert!(mentions("SELECT \"Weird Name\" FROM x", "\"Weird Name\""));
        assert!(!mentions("SELECT ab FROM x", "a"));
    }

    #[test]
    fn topological_puts_dependencies_first_and_survives_cycles() {
        let nodes: BTreeSet<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let order = topological(&nodes, |n| match n {
            "a" => vec!["c".into()],
            "c" => vec!["b".into()],
            _ => vec![],
        });
        assert_eq!(order, ["b", "c", "a"]);
        let order = topological(&nodes, |n| match n {
            "a" => vec!["b".into()],
            "b" => vec!["a".into()],
            _ => vec![],
        });
        assert_eq!(order.len(), 3);
    }

    fn enum_catalog(values: &[&str]) -> Catalog {
        let mut c = Catalog::default();
        c.types.insert(
            "public.mood".into(),
            TypeDef {
                schema: "public".into(),
                name: "mood".into(),
                kind: TypeKind::Enum(values.iter().map(|s| s.to_string()).collect()),
                grants: Grants::default(),
                comment: None,
            },
        );
        c
    }

    #[test]
    fn enum_values_are_added_in_place() {
        let plan = diff(
            &enum_catalog(&["b", "d"]),
            &enum_catalog(&["a", "b", "c", "d", "e"]),
        );
        let sql: Vec<&str> = plan.steps.iter().map(|s| s.sql.as_str()).collect();
        assert_eq!(
            sql,
            [
                "ALTER TYPE public.mood ADD VALUE 'a' BEFORE 'b'",
                "ALTER TYPE public.mood ADD VALUE 'c' AFTER 'b'",
                "ALTER TYPE public.mood ADD VALUE 'e' AFTER 'd'",
            ]
        );
        assert!(plan.steps.iter().all(|s| !s.needs_commit && !s.destructive));
    }

    #[test]
    fn a_removed_enum_value_rebuilds_the_type() {
        let plan = diff(&enum_catalog(&["a", "b"]), &enum_catalog(&["b"]));
        let sql: Vec<&str> = plan.steps.iter().map(|s| s.sql.as_str()).collect();
        assert_eq!(
            sql,
            [
                "ALTER TYPE public.mood RENAME TO \"mood_old\"",
                "CREATE TYPE public.mood AS ENUM ('b')",
                "DROP TYPE public.\"mood_old\"",
            ]
        );
        assert!(plan.steps.iter().all(|s| s.destructive));
    }
}
