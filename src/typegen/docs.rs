//! Markdown documentation of a [`Catalog`]: an overview, an
//! entity-relationship diagram in Mermaid (`erDiagram`, one line per
//! foreign key), then per schema its tables (columns with types,
//! nullability, defaults and comments; keys, checks, indexes; row level
//! security and each policy in plain words with its SQL), views,
//! functions, enums and composite types. Objects that belong to an
//! extension are counted, not described. The same catalog always gives the
//! same text.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;

use super::model::{
    Catalog, Column, Constraint, Function, Identity, Oid, Policy, RelKind, Relation,
};
use super::order::locale_cmp;

/// Counts of what a document describes.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    pub tables: usize,
    pub views: usize,
    pub functions: usize,
    pub enums: usize,
    pub composite_types: usize,
    pub policies: usize,
    pub foreign_keys: usize,
    /// Objects owned by extensions, left out.
    pub extension_objects: usize,
}

/// `s` as inline code (longer backtick fences when it holds backticks).
fn code(s: &str) -> String {
    let s = s.replace('\n', " ");
    let mut fence = "`".to_owned();
    while s.contains(&fence) {
        fence.push('`');
    }
    if s.starts_with('`') || s.ends_with('`') {
        format!("{fence} {s} {fence}")
    } else {
        format!("{fence}{s}{fence}")
    }
}

/// Text for a table cell: pipes escaped, lines joined.
fn cell(s: &str) -> String {
    s.replace('|', "\\|")
        .replace("\r\n", "<br>")
        .replace('\n', "<br>")
}

/// An identifier as SQL needs it: bare when plain lowercase, else quoted.
pub fn ident(s: &str) -> String {
    let plain = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        s.to_owned()
    } else {
        crate::pg::quote_ident(s)
    }
}

fn qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", ident(schema), ident(name))
}

/// A name Mermaid accepts: letters, digits, `_` and `-`, starting with a letter.
fn mermaid_name(s: &str) -> String {
    mermaid_word(s, &['_', '-'])
}

/// A column type Mermaid accepts: as a name, plus brackets (`text[]`).
fn mermaid_type(s: &str) -> String {
    mermaid_word(s, &['_', '-', '[', ']', '(', ')'])
}

fn mermaid_word(s: &str, allowed: &[char]) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || allowed.contains(&c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if !out.starts_with(|c: char| c.is_ascii_alphabetic()) {
        out.insert_str(0, "x_");
    }
    out
}

struct Writer<'a> {
    cat: &'a Catalog,
    out: String,
    summary: Summary,
    /// Constraints by table.
    constraints: HashMap<Oid, Vec<&'a Constraint>>,
}

impl<'a> Writer<'a> {
    fn documented(&self, r: &Relation) -> bool {
        r.extension.is_none()
    }

    fn line(&mut self, s: &str) {
        self.out.push_str(s);
        self.out.push('\n');
    }

    /// A short type name for the diagram (`int8`, `text[]`).
    fn short_type(&self, oid: Oid) -> String {
        match self.cat.types.get(&oid) {
            Some(t) if t.element != 0 => format!("{}[]", self.short_type(t.element)),
            Some(t) => t.name.clone(),
            None => "unknown".to_owned(),
        }
    }

    fn overview(&mut self) {
        self.line("# Database schema");
        self.line("");
        let list: Vec<String> = self.cat.schemas.iter().map(|s| code(s)).collect();
        if list.is_empty() {
            self.line("None of the schemas asked for exists.");
            return;
        }
        self.line(&format!("Schemas: {}.", list.join(", ")));
        self.line("");
        self.line("| Schema | Tables | Views | Functions | Enums | Composite types |");
        self.line("|---|---|---|---|---|---|");
        for s in self.cat.schemas.clone() {
            let rels = self.cat.relations_in(&s);
            let count = |f: &dyn Fn(&Relation) -> bool| {
                rels.iter()
                    .filter(|r| r.extension.is_none() && f(r))
                    .count()
            };
            let tables = count(&|r| r.kind.is_table());
            let views = count(&|r| r.kind.is_view());
            let composites = count(&|r| r.kind == RelKind::Composite);
            let functions = self
                .cat
                .functions
                .iter()
                .filter(|f| f.schema == s && f.extension.is_none())
                .count();
            let enums = self.cat.enums_in(&s).len();
            self.line(&format!(
                "| {} | {tables} | {views} | {functions} | {enums} | {composites} |",
                code(&s)
            ));
        }
        self.line("");
    }

    fn diagram(&mut self) {
        let mut entities: Vec<&Relation> = Vec::new();
        for s in &self.cat.schemas {
            entities.extend(
                self.cat
                    .relations_in(s)
                    .into_iter()
                    .filter(|r| r.kind.is_table() && !r.partition && r.extension.is_none()),
            );
        }
        self.line("## Entity-relationship diagram");
        self.line("");
        if entities.is_empty() {
            self.line("No tables.");
            self.line("");
            return;
        }
        let mut ids: HashMap<Oid, String> = HashMap::new();
        let mut used: BTreeSet<String> = BTreeSet::new();
        for r in &entities {
            let base = mermaid_name(&format!("{}_{}", r.schema, r.name));
            let mut id = base.clone();
            let mut n = 2;
            while !used.insert(id.clone()) {
                id = format!("{base}_{n}");
                n += 1;
            }
            ids.insert(r.oid, id);
        }
        self.line("```mermaid");
        self.line("erDiagram");
        for r in &entities {
            let keys = self.constraints.get(&r.oid).cloned().unwrap_or_default();
            let mut body = Vec::new();
            for c in &r.columns {
                let mut marks = Vec::new();
                for (kind, mark) in [('p', "PK"), ('f', "FK"), ('u', "UK")] {
                    if keys
                        .iter()
                        .any(|k| k.kind == kind && k.attnums.contains(&c.attnum))
                    {
                        marks.push(mark);
                    }
                }
                let mut line = format!(
                    "        {} {}",
                    mermaid_type(&self.short_type(c.type_oid)),
                    mermaid_name(&c.name)
                );
                if !marks.is_empty() {
                    line.push(' ');
                    line.push_str(&marks.join(", "));
                }
                body.push(line);
            }
            let id = ids.get(&r.oid).cloned().unwrap_or_default();
            self.line(&format!("    {id} {{"));
            for l in body {
                self.line(&l);
            }
            self.line("    }");
        }
        let mut relationships = Vec::new();
        for r in &entities {
            for k in self
                .constraints
                .get(&r.oid)
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|k| k.kind == 'f')
            {
                let child = ids.get(&r.oid).cloned().unwrap_or_default();
                let parent = ids
                    .get(&k.ref_table)
                    .cloned()
                    .unwrap_or_else(|| mermaid_name(&format!("{}_{}", k.ref_schema, k.ref_name)));
                let required = k.attnums.iter().all(|n| {
                    r.columns
                        .iter()
                        .find(|c| c.attnum == *n)
                        .is_some_and(|c| c.not_null)
                });
                let mut fk_cols = k.attnums.clone();
                fk_cols.sort_unstable();
                let unique = self.constraints.get(&r.oid).is_some_and(|ks| {
                    ks.iter().any(|u| {
                        matches!(u.kind, 'p' | 'u') && {
                            let mut c = u.attnums.clone();
                            c.sort_unstable();
                            c == fk_cols
                        }
                    })
                });
                relationships.push(format!(
                    "    {parent} {}--{} {child} : {}",
                    if required { "||" } else { "|o" },
                    if unique { "o|" } else { "o{" },
                    mermaid_label(&k.name)
                ));
            }
        }
        relationships.sort();
        for l in relationships {
            self.line(&l);
        }
        self.line("```");
        self.line("");
    }

    fn default_of(c: &Column) -> String {
        match c.identity {
            Identity::Always => return "identity (always)".to_owned(),
            Identity::ByDefault => return "identity (by default)".to_owned(),
            Identity::None => {}
        }
        match &c.default {
            Some(d) if c.generated => format!("generated: {}", code(d)),
            Some(d) => code(d),
            None => String::new(),
        }
    }

    fn columns_table(&mut self, r: &Relation, nullability: bool) {
        if r.columns.is_empty() {
            self.line("No columns.");
            self.line("");
            return;
        }
        if nullability {
            self.line("| Column | Type | Nullable | Default | Description |");
            self.line("|---|---|---|---|---|");
        } else {
            self.line("| Column | Type | Description |");
            self.line("|---|---|---|");
        }
        for c in &r.columns {
            let comment = cell(c.comment.as_deref().unwrap_or(""));
            if nullability {
                self.line(&format!(
                    "| {} | {} | {} | {} | {comment} |",
                    cell(&code(&c.name)),
                    cell(&code(&c.type_sql)),
                    if c.not_null { "no" } else { "yes" },
                    cell(&Self::default_of(c)),
                ));
            } else {
                self.line(&format!(
                    "| {} | {} | {comment} |",
                    cell(&code(&c.name)),
                    cell(&code(&c.type_sql)),
                ));
            }
        }
        self.line("");
    }

    fn keys(&mut self, r: &Relation) {
        let keys = self.constraints.get(&r.oid).cloned().unwrap_or_default();
        let cols = |k: &Constraint| {
            k.columns
                .iter()
                .map(|c| code(c))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut lines = Vec::new();
        for k in keys.iter().filter(|k| k.kind == 'p') {
            lines.push(format!(
                "- **Primary key:** {} ({})",
                cols(k),
                code(&k.name)
            ));
        }
        for k in keys.iter().filter(|k| k.kind == 'f') {
            self.summary.foreign_keys += 1;
            lines.push(format!(
                "- **Foreign key** {}: {} → {} ({}): {}",
                code(&k.name),
                cols(k),
                code(&qualified(&k.ref_schema, &k.ref_name)),
                k.ref_columns
                    .iter()
                    .map(|c| code(c))
                    .collect::<Vec<_>>()
                    .join(", "),
                code(&k.definition)
            ));
        }
        for k in keys.iter().filter(|k| k.kind == 'u') {
            lines.push(format!("- **Unique** {}: {}", code(&k.name), cols(k)));
        }
        for k in keys.iter().filter(|k| k.kind == 'c') {
            lines.push(format!(
                "- **Check** {}: {}",
                code(&k.name),
                code(&k.definition)
            ));
        }
        for k in keys.iter().filter(|k| k.kind == 'x') {
            lines.push(format!(
                "- **Exclusion** {}: {}",
                code(&k.name),
                code(&k.definition)
            ));
        }
        let indexes: Vec<String> = self
            .cat
            .indexes
            .iter()
            .filter(|i| i.table == r.oid)
            .map(|i| {
                let what = if i.primary {
                    "primary key"
                } else if i.unique {
                    "unique"
                } else {
                    "index"
                };
                format!("  - {} ({what}): {}", code(&i.name), code(&i.definition))
            })
            .collect();
        if !indexes.is_empty() {
            lines.push("- **Indexes:**".to_owned());
            lines.extend(indexes);
        }
        if !lines.is_empty() {
            for l in lines {
                self.line(&l);
            }
            self.line("");
        }
    }

    fn rls(&mut self, r: &Relation) {
        let policies: Vec<&Policy> = self
            .cat
            .policies
            .iter()
            .filter(|p| p.table == r.oid)
            .collect();
        if !r.rls {
            self.line(
                "Row level security: **disabled**. Any role with privileges on the table reads and writes every row.",
            );
            self.line("");
            if !policies.is_empty() {
                self.line("Its policies below have no effect until row level security is enabled.");
                self.line("");
            }
        } else {
            let forced = if r.force_rls {
                ", and forced (it applies to the table's owner too)"
            } else {
                ""
            };
            if policies.is_empty() {
                self.line(&format!(
                    "Row level security: **enabled**{forced}. No policy grants access: only roles that bypass row level security (such as `service_role`) see or change rows."
                ));
            } else {
                self.line(&format!(
                    "Row level security: **enabled**{forced}. Policies ({}):",
                    policies.len()
                ));
            }
            self.line("");
        }
        for p in policies {
            self.summary.policies += 1;
            self.line(&format!("- **{}**: {}", cell(&p.name), policy_words(p)));
            self.line("");
            self.line("  ```sql");
            self.line(&format!("  {}", policy_sql(p, r)));
            self.line("  ```");
            self.line("");
        }
    }

    fn table(&mut self, r: &Relation) {
        self.summary.tables += 1;
        let kind = match r.kind {
            RelKind::PartitionedTable => " (partitioned)",
            RelKind::ForeignTable => " (foreign table)",
            _ if r.partition => " (partition)",
            _ => "",
        };
        self.line(&format!(
            "#### {}{kind}",
            code(&qualified(&r.schema, &r.name))
        ));
        self.line("");
        if let Some(c) = &r.comment {
            self.line(&format!("> {}", c.replace('\n', "\n> ")));
            self.line("");
        }
        self.columns_table(r, true);
        self.keys(r);
        self.rls(r);
    }

    fn view(&mut self, r: &Relation) {
        self.summary.views += 1;
        let kind = if r.kind == RelKind::MaterializedView {
            "materialized view"
        } else if r.updatable {
            "view, updatable"
        } else {
            "view"
        };
        self.line(&format!(
            "#### {} ({kind})",
            code(&qualified(&r.schema, &r.name))
        ));
        self.line("");
        if let Some(c) = &r.comment {
            self.line(&format!("> {}", c.replace('\n', "\n> ")));
            self.line("");
        }
        self.columns_table(r, false);
        self.keys(r);
        if let Some(d) = &r.definition {
            self.line("```sql");
            self.line(d);
            self.line("```");
            self.line("");
        }
    }

    fn functions(&mut self, schema: &str) {
        let mut fns: Vec<&Function> = self
            .cat
            .functions
            .iter()
            .filter(|f| f.schema == schema && f.extension.is_none())
            .collect();
        fns.sort_by(|a, b| {
            locale_cmp(&a.name, &b.name)
                .then_with(|| a.identity_arguments.cmp(&b.identity_arguments))
        });
        if fns.is_empty() {
            return;
        }
        self.line("### Functions");
        self.line("");
        self.line("| Function | Returns | Language | Behaviour | Description |");
        self.line("|---|---|---|---|---|");
        for f in fns {
            self.summary.functions += 1;
            let mut behaviour = vec![match f.volatility {
                'i' => "immutable",
                's' => "stable",
                _ => "volatile",
            }];
            if f.security_definer {
                behaviour.push("security definer");
            }
            if f.kind == 'p' {
                behaviour.push("procedure");
            }
            self.line(&format!(
                "| {} | {} | {} | {} | {} |",
                cell(&code(&format!(
                    "{}({})",
                    qualified(&f.schema, &f.name),
                    f.arguments
                ))),
                cell(&if f.result.is_empty() {
                    String::new()
                } else {
                    code(&f.result)
                }),
                cell(&f.language),
                behaviour.join(", "),
                cell(f.comment.as_deref().unwrap_or("")),
            ));
        }
        self.line("");
    }

    fn types(&mut self, schema: &str) {
        let enums = self.cat.enums_in(schema);
        let composites: Vec<&Relation> = self
            .cat
            .relations_in(schema)
            .into_iter()
            .filter(|r| r.kind == RelKind::Composite && r.extension.is_none())
            .collect();
        if !enums.is_empty() {
            self.line("### Enums");
            self.line("");
            self.line("| Enum | Values |");
            self.line("|---|---|");
            for e in enums {
                self.summary.enums += 1;
                let values: Vec<String> = e.labels.iter().map(|l| code(l)).collect();
                self.line(&format!(
                    "| {} | {} |",
                    cell(&code(&qualified(&e.schema, &e.name))),
                    cell(&values.join(", "))
                ));
            }
            self.line("");
        }
        if !composites.is_empty() {
            self.line("### Composite types");
            self.line("");
            for r in composites {
                self.summary.composite_types += 1;
                self.line(&format!("#### {}", code(&qualified(&r.schema, &r.name))));
                self.line("");
                self.columns_table(r, false);
            }
        }
    }

    fn schema(&mut self, schema: &str) {
        self.line(&format!("## Schema {}", code(schema)));
        self.line("");
        let rels = self.cat.relations_in(schema);
        self.summary.extension_objects += rels.iter().filter(|r| r.extension.is_some()).count()
            + self
                .cat
                .functions
                .iter()
                .filter(|f| f.schema == schema && f.extension.is_some())
                .count();
        let tables: Vec<&Relation> = rels
            .iter()
            .copied()
            .filter(|r| r.kind.is_table() && self.documented(r))
            .collect();
        let views: Vec<&Relation> = rels
            .iter()
            .copied()
            .filter(|r| r.kind.is_view() && self.documented(r))
            .collect();
        if !tables.is_empty() {
            self.line("### Tables");
            self.line("");
            for r in tables {
                self.table(r);
            }
        }
        if !views.is_empty() {
            self.line("### Views");
            self.line("");
            for r in views {
                self.view(r);
            }
        }
        self.functions(schema);
        self.types(schema);
    }
}

/// A Mermaid relationship label (quoted).
fn mermaid_label(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "'"))
}

fn roles_in_words(roles: &[String]) -> String {
    if roles.is_empty() || roles.iter().any(|r| r == "public") {
        return "every role".to_owned();
    }
    let list: Vec<String> = roles.iter().map(|r| code(r)).collect();
    match list.len() {
        1 => list[0].clone(),
        n => format!("{} and {}", list[..n - 1].join(", "), list[n - 1]),
    }
}

/// A policy in plain words.
pub fn policy_words(p: &Policy) -> String {
    let verb = match p.command.as_str() {
        "SELECT" => "read",
        "INSERT" => "insert",
        "UPDATE" => "update",
        "DELETE" => "delete",
        _ => "read, insert, update and delete",
    };
    let who = roles_in_words(&p.roles);
    let rows = match p.using.as_deref() {
        Some("true") => "every row".to_owned(),
        Some(u) => format!("rows where {}", code(u)),
        None if p.command == "INSERT" => "rows".to_owned(),
        None => "no row".to_owned(),
    };
    let mut s = if p.permissive {
        format!("lets {who} {verb} {rows}")
    } else {
        format!("restricts {who}: whatever other policies allow, they {verb} only {rows}")
    };
    if let Some(c) = &p.check {
        if c == "true" {
            s.push_str("; any new or changed row is accepted");
        } else {
            let _ = write!(s, "; new and changed rows must satisfy {}", code(c));
        }
    }
    s.push('.');
    s
}

/// The statement that creates a policy.
pub fn policy_sql(p: &Policy, r: &Relation) -> String {
    let roles: Vec<String> = if p.roles.is_empty() || p.roles.iter().any(|r| r == "public") {
        vec!["PUBLIC".to_owned()]
    } else {
        p.roles.iter().map(|r| ident(r)).collect()
    };
    let mut sql = format!(
        "CREATE POLICY {} ON {} AS {} FOR {} TO {}",
        ident(&p.name),
        qualified(&r.schema, &r.name),
        if p.permissive {
            "PERMISSIVE"
        } else {
            "RESTRICTIVE"
        },
        p.command,
        roles.join(", ")
    );
    if let Some(u) = &p.using {
        let _ = write!(sql, " USING ({u})");
    }
    if let Some(c) = &p.check {
        let _ = write!(sql, " WITH CHECK ({c})");
    }
    sql.push(';');
    sql.replace('\n', " ")
}

/// The Markdown document for `cat`, and what it describes.
pub fn markdown(cat: &Catalog) -> (String, Summary) {
    let mut constraints: HashMap<Oid, Vec<&Constraint>> = HashMap::new();
    for k in &cat.constraints {
        constraints.entry(k.table).or_default().push(k);
    }
    let mut w = Writer {
        cat,
        out: String::new(),
        summary: Summary::default(),
        constraints,
    };
    w.overview();
    if !cat.schemas.is_empty() {
        w.diagram();
        for s in &cat.schemas {
            w.schema(s);
        }
    }
    if w.summary.extension_objects > 0 {
        w.line(&format!(
            "_{} objects that belong to extensions are not described._",
            w.summary.extension_objects
        ));
        w.line("");
    }
    let trimmed = w.out.trim_end().len();
    w.out.truncate(trimmed);
    w.out.push('\n');
    (w.out, w.summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(command: &str, using: Option<&str>, check: Option<&str>, roles: &[&str]) -> Policy {
        Policy {
            table: 1,
            name: "p".into(),
            permissive: true,
            command: command.into(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            using: using.map(str::to_owned),
            check: check.map(str::to_owned),
        }
    }

    #[test]
    fn policies_read_as_sentences() {
        let p = policy(
            "SELECT",
            Some("(auth.uid() = owner_id)"),
            None,
            &["authenticated"],
        );
        assert_eq!(
            policy_words(&p),
            "lets `authenticated` read rows where `(auth.uid() = owner_id)`."
        );
        let p = policy("INSERT", None, Some("true"), &["public"]);
        assert_eq!(
            policy_words(&p),
            "lets every role insert rows; any new or changed row is accepted."
        );
        let p = policy("ALL", Some("true"), None, &["anon", "authenticated"]);
        assert!(policy_words(&p).starts_with("lets `anon` and `authenticated` read, insert"));
    }

    #[test]
    fn inline_code_survives_backticks_and_names_are_mermaid_safe() {
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("x"), "`x`");
        assert_eq!(cell("a|b\nc"), "a\\|b<br>c");
        assert_eq!(mermaid_name("public_my table"), "public_my_table");
        assert_eq!(mermaid_name("1x"), "x_1x");
        assert_eq!(mermaid_type("text[]"), "text[]");
        assert_eq!(mermaid_name("text[]"), "text__");
        assert_eq!(ident("Users"), "\"Users\"");
        assert_eq!(ident("users"), "users");
    }
}
