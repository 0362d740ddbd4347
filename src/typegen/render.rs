//! The TypeScript file: the `Json` type, the `Database` type supabase-js
//! takes (per schema: `Tables` with `Row`, `Insert`, `Update` and
//! `Relationships`; `Views`; `Functions`; `Enums`; `CompositeTypes`), the
//! `Tables`, `TablesInsert`, `TablesUpdate`, `Enums` and `CompositeTypes`
//! helper types and the `Constants` object of enum values, in the shape
//! and layout of `supabase gen types typescript`.
//!
//! Rules kept here: names are sorted as the CLI sorts them
//! ([`super::order`]); a function's arguments are listed by name; what is
//! printed on one line follows [`super::layout`] at 80 columns; the same
//! catalog always gives the same bytes.

use std::collections::HashSet;

use super::layout::{Doc, align, concat, group, if_break, indent, join, print, text};
use super::model::{Arg, Catalog, Function, Identity, Oid, PgType, RelKind, Relation};
use super::order::locale_cmp;
use super::relationships::{self, Relationship};

/// The schema the helper types default to.
const DEFAULT_SCHEMA: &str = "public";

/// Types an unnamed argument may have (json, jsonb, text).
const UNNAMED_ARG_TYPES: [Oid; 3] = [114, 3802, 25];

const STRING_TYPES: &[&str] = &[
    "bytea",
    "bpchar",
    "varchar",
    "date",
    "text",
    "citext",
    "time",
    "timetz",
    "timestamp",
    "timestamptz",
    "uuid",
    "vector",
    "interval",
    "inet",
    "cidr",
    "macaddr",
    "macaddr8",
];

const NUMBER_TYPES: &[&str] = &["int2", "int4", "int8", "float4", "float8", "numeric"];

const JSON_TYPE: &str = "export type Json =
  | string
  | number
  | boolean
  | null
  | { [key: string]: Json | undefined }
  | Json[]";

/// A string literal as prettier writes it: double quotes, unless the text
/// holds more double quotes than single ones.
pub fn quote_str(s: &str) -> String {
    let doubles = s.matches('"').count();
    let singles = s.matches('\'').count();
    let q = if doubles > singles { '\'' } else { '"' };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(q);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            c if c == q => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push(q);
    out
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_alphabetic() || c == '_' || c == '$' => {}
        _ => return false,
    }
    chars.all(|c| c.is_alphanumeric() || c == '_' || c == '$')
}

/// A property name: bare when it is an identifier, else a string literal.
pub fn key(name: &str) -> String {
    if is_identifier(name) {
        name.to_owned()
    } else {
        quote_str(name)
    }
}

/// An object whose members are each on their own line (`{}` when empty).
fn block(members: Vec<Doc>) -> Doc {
    if members.is_empty() {
        return text("{}");
    }
    let mut inner = Vec::with_capacity(members.len() * 2);
    for m in members {
        inner.push(Doc::HardLine);
        inner.push(m);
    }
    concat(vec![
        text("{"),
        indent(concat(inner)),
        Doc::HardLine,
        text("}"),
    ])
}

/// An object type on one line when it fits (`{ a: T; b: U }`).
fn inline_object(members: Vec<Doc>) -> Doc {
    if members.is_empty() {
        return text("{}");
    }
    let sep = concat(vec![if_break(text(""), text(";")), Doc::Line]);
    let mut inner = vec![Doc::Line];
    inner.extend(join(&sep, members));
    group(concat(vec![
        text("{"),
        indent(concat(inner)),
        Doc::Line,
        text("}"),
    ]))
}

/// A tuple or array on one line when it fits, else one item per line with
/// a trailing comma.
fn list(items: Vec<Doc>) -> Doc {
    if items.is_empty() {
        return text("[]");
    }
    let sep = concat(vec![text(","), Doc::Line]);
    let mut inner = vec![Doc::SoftLine];
    inner.extend(join(&sep, items));
    group(concat(vec![
        text("["),
        indent(concat(inner)),
        if_break(text(","), text("")),
        Doc::SoftLine,
        text("]"),
    ]))
}

fn strings(items: &[String]) -> Doc {
    list(items.iter().map(|s| text(quote_str(s))).collect())
}

/// `label: A | B`, the union broken into `| A` lines when too long.
fn union_after(label: String, members: Vec<Doc>) -> Doc {
    if members.len() == 1 {
        let mut m = members;
        return concat(vec![text(format!("{label}: ")), m.remove(0)]);
    }
    let sep = concat(vec![Doc::Line, text("| ")]);
    let mut inner = vec![Doc::Line, if_break(text("| "), text(""))];
    inner.extend(join(&sep, members));
    concat(vec![
        text(format!("{label}:")),
        group(indent(concat(inner))),
    ])
}

/// A property whose type is the union of `members`.
fn prop(name: &str, optional: bool, members: Vec<String>) -> Doc {
    let label = format!("{}{}", key(name), if optional { "?" } else { "" });
    union_after(label, members.into_iter().map(text).collect())
}

fn nullable(mut members: Vec<String>, null: bool) -> Vec<String> {
    let unknown = members.len() == 1 && (members[0] == "unknown" || members[0] == "any");
    if null && !unknown {
        members.push("null".to_owned());
    }
    members
}

/// What a function returns: union members, or an object type.
enum Returns {
    Members(Vec<String>),
    Object(Doc),
}

struct Renderer<'a> {
    cat: &'a Catalog,
    included: HashSet<&'a str>,
    relationships: Vec<Relationship>,
}

impl<'a> Renderer<'a> {
    fn new(cat: &'a Catalog) -> Self {
        Renderer {
            cat,
            included: cat.schemas.iter().map(String::as_str).collect(),
            relationships: relationships::relationships(cat),
        }
    }

    fn type_of(&self, oid: Oid) -> Option<&'a PgType> {
        self.cat.types.get(&oid)
    }

    /// The TypeScript type of a PostgreSQL type, as union members.
    fn ts(&self, oid: Oid) -> Vec<String> {
        self.ts_at(oid, 0)
    }

    fn ts_at(&self, oid: Oid, depth: usize) -> Vec<String> {
        let unknown = || vec!["unknown".to_owned()];
        let Some(t) = self.type_of(oid) else {
            return unknown();
        };
        if depth > 8 {
            return unknown();
        }
        if t.kind == 'd' && t.base != 0 {
            return self.ts_at(t.base, depth + 1);
        }
        if t.element != 0 {
            let inner = self.ts_at(t.element, depth + 1);
            let element = if inner.len() == 1 {
                inner[0].clone()
            } else {
                format!("({})", inner.join(" | "))
            };
            return vec![format!("{element}[]")];
        }
        let r = |section: &str| {
            vec![format!(
                "Database[{}][\"{section}\"][{}]",
                quote_str(&t.schema),
                quote_str(&t.name)
            )]
        };
        let included = self.included.contains(t.schema.as_str());
        match t.kind {
            'b' | 'p' => {
                let name = t.name.as_str();
                let s = if name == "bool" {
                    "boolean"
                } else if NUMBER_TYPES.contains(&name) {
                    "number"
                } else if STRING_TYPES.contains(&name) {
                    "string"
                } else if name == "json" || name == "jsonb" {
                    "Json"
                } else if name == "void" {
                    "undefined"
                } else if name == "record" {
                    "Record<string, unknown>"
                } else {
                    "unknown"
                };
                vec![s.to_owned()]
            }
            'e' if !t.labels.is_empty() => {
                if included {
                    r("Enums")
                } else {
                    t.labels.iter().map(|l| quote_str(l)).collect()
                }
            }
            'c' if included => match t.relkind.as_str() {
                "c" if self
                    .cat
                    .relations
                    .get(&t.relation)
                    .is_some_and(|rel| !rel.columns.is_empty()) =>
                {
                    r("CompositeTypes")
                }
                "r" | "p" | "f" => vec![format!("{}[\"Row\"]", r("Tables")[0])],
                "v" | "m" => vec![format!("{}[\"Row\"]", r("Views")[0])],
                _ => unknown(),
            },
            _ => unknown(),
        }
    }

    /// The relation of a composite type (table, view or composite type).
    fn is_row_type(&self, oid: Oid) -> bool {
        self.type_of(oid).is_some_and(|t| t.relation != 0)
    }

    /// A type's name as `format_type` writes it with `public` on the
    /// search path.
    fn formatted(&self, oid: Oid) -> String {
        let Some(t) = self.type_of(oid) else {
            return String::new();
        };
        let ident = |s: &str| {
            let plain = s
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$');
            if plain {
                s.to_owned()
            } else {
                crate::pg::quote_ident(s)
            }
        };
        if t.schema == DEFAULT_SCHEMA || t.schema == "pg_catalog" {
            ident(&t.name)
        } else {
            format!("{}.{}", ident(&t.schema), ident(&t.name))
        }
    }

    fn render(&self) -> String {
        let schemas: Vec<Doc> = self
            .cat
            .schemas
            .iter()
            .map(|s| concat(vec![text(format!("{}: ", key(s))), self.schema(s)]))
            .collect();
        let database = concat(vec![text("export type Database = "), block(schemas)]);
        let mut out = String::new();
        out.push_str(JSON_TYPE);
        out.push_str("\n\n");
        out.push_str(&print(&database));
        out.push_str("\n\n");
        out.push_str(&helpers());
        out.push_str("\n\n");
        out.push_str(&print(&self.constants()));
        out.push('\n');
        out
    }

    fn schema(&self, schema: &str) -> Doc {
        let relations = self.cat.relations_in(schema);
        let functions = self.functions_in(schema);
        let section = |name: &str, entries: Vec<Doc>| {
            let body = if entries.is_empty() {
                block(vec![text("[_ in never]: never")])
            } else {
                block(entries)
            };
            concat(vec![text(format!("{name}: ")), body])
        };
        let tables = relations
            .iter()
            .filter(|r| r.kind.is_table())
            .map(|r| self.table(r, &functions))
            .collect();
        let views = relations
            .iter()
            .filter(|r| r.kind.is_view())
            .map(|r| self.view(r, &functions))
            .collect();
        let enums = self
            .cat
            .enums_in(schema)
            .into_iter()
            .map(|e| {
                prop(
                    &e.name,
                    false,
                    e.labels.iter().map(|l| quote_str(l)).collect(),
                )
            })
            .collect();
        let composites = relations
            .iter()
            .filter(|r| r.kind == RelKind::Composite && !r.columns.is_empty())
            .map(|r| {
                let attrs = r
                    .columns
                    .iter()
                    .map(|c| prop(&c.name, false, nullable(self.ts(c.type_oid), true)))
                    .collect();
                concat(vec![text(format!("{}: ", key(&r.name))), block(attrs)])
            })
            .collect();
        block(vec![
            section("Tables", tables),
            section("Views", views),
            section("Functions", self.function_entries(schema, &functions)),
            section("Enums", enums),
            section("CompositeTypes", composites),
        ])
    }

    fn sorted_columns(r: &Relation) -> Vec<&super::model::Column> {
        let mut cols: Vec<_> = r.columns.iter().collect();
        cols.sort_by(|a, b| locale_cmp(&a.name, &b.name).then(a.attnum.cmp(&b.attnum)));
        cols
    }

    /// `Row`: every column, and the functions that act as computed fields.
    fn row(&self, r: &Relation, functions: &[Sig<'_>]) -> Doc {
        let mut members: Vec<Doc> = Self::sorted_columns(r)
            .into_iter()
            .map(|c| prop(&c.name, false, nullable(self.ts(c.type_oid), !c.not_null)))
            .collect();
        for sig in functions.iter().filter(|s| s.f.arguments == r.name) {
            let label = key(&sig.f.name);
            members.push(match self.returns(&r.schema, sig.f) {
                Returns::Members(m) => {
                    union_after(label, nullable(m, true).into_iter().map(text).collect())
                }
                Returns::Object(o) => concat(vec![text(format!("{label}: ")), o, text(" | null")]),
            });
        }
        concat(vec![text("Row: "), block(members)])
    }

    fn relationships_of(&self, r: &Relation) -> Doc {
        let items = relationships::of(&self.relationships, &r.schema, &r.name)
            .into_iter()
            .map(|rel| {
                block(vec![
                    text(format!("foreignKeyName: {}", quote_str(&rel.foreign_key))),
                    concat(vec![text("columns: "), strings(&rel.columns)]),
                    text(format!("isOneToOne: {}", rel.one_to_one)),
                    text(format!(
                        "referencedRelation: {}",
                        quote_str(&rel.ref_relation)
                    )),
                    concat(vec![text("referencedColumns: "), strings(&rel.ref_columns)]),
                ])
            })
            .collect();
        concat(vec![text("Relationships: "), list(items)])
    }

    fn table(&self, r: &Relation, functions: &[Sig<'_>]) -> Doc {
        let cols = Self::sorted_columns(r);
        let never = |name: &str| text(format!("{}?: never", key(name)));
        let insert = cols
            .iter()
            .map(|c| {
                if c.identity == Identity::Always {
                    return never(&c.name);
                }
                let optional = !c.not_null || c.identity != Identity::None || c.default.is_some();
                prop(
                    &c.name,
                    optional,
                    nullable(self.ts(c.type_oid), !c.not_null),
                )
            })
            .collect();
        let update = cols
            .iter()
            .map(|c| {
                if c.identity == Identity::Always {
                    return never(&c.name);
                }
                prop(&c.name, true, nullable(self.ts(c.type_oid), !c.not_null))
            })
            .collect();
        concat(vec![
            text(format!("{}: ", key(&r.name))),
            block(vec![
                self.row(r, functions),
                concat(vec![text("Insert: "), block(insert)]),
                concat(vec![text("Update: "), block(update)]),
                self.relationships_of(r),
            ]),
        ])
    }

    fn view(&self, r: &Relation, functions: &[Sig<'_>]) -> Doc {
        let mut members = vec![self.row(r, functions)];
        if r.kind == RelKind::View && r.updatable {
            let writable = |_: ()| -> Vec<Doc> {
                Self::sorted_columns(r)
                    .into_iter()
                    .map(|c| {
                        if c.updatable {
                            prop(&c.name, true, nullable(self.ts(c.type_oid), true))
                        } else {
                            text(format!("{}?: never", key(&c.name)))
                        }
                    })
                    .collect()
            };
            members.push(concat(vec![text("Insert: "), block(writable(()))]));
            members.push(concat(vec![text("Update: "), block(writable(()))]));
        }
        members.push(self.relationships_of(r));
        concat(vec![text(format!("{}: ", key(&r.name))), block(members)])
    }

    /// The functions of `schema` that are listed, sorted by name, then
    /// arguments, then result.
    fn functions_in(&self, schema: &str) -> Vec<Sig<'a>> {
        let mut out: Vec<Sig<'a>> = self
            .cat
            .functions
            .iter()
            .filter(|f| f.schema == schema && f.kind == 'f' && !self.is_trigger(f))
            .filter_map(|f| {
                let mut args: Vec<&Arg> = f.args.iter().collect();
                args.sort_by(|a, b| locale_cmp(&a.name, &b.name));
                let inputs: Vec<&Arg> =
                    args.iter().copied().filter(|a| a.mode.is_input()).collect();
                let unnamed_ok = |a: &Arg| {
                    a.name.is_empty() && a.has_default && UNNAMED_ARG_TYPES.contains(&a.type_oid)
                };
                let listed = inputs.is_empty()
                    || inputs.iter().all(|a| !a.name.is_empty())
                    || inputs.iter().all(|a| !a.name.is_empty() || unnamed_ok(a))
                    || (inputs.len() == 1
                        && inputs[0].name.is_empty()
                        && (UNNAMED_ARG_TYPES.contains(&inputs[0].type_oid)
                            || self.is_row_type(inputs[0].type_oid)));
                listed.then_some(Sig { f, inputs })
            })
            .collect();
        out.sort_by(|a, b| {
            locale_cmp(&a.f.name, &b.f.name)
                .then_with(|| locale_cmp(&a.f.arguments, &b.f.arguments))
                .then_with(|| locale_cmp(&a.f.result, &b.f.result))
                .then(a.f.oid.cmp(&b.f.oid))
        });
        out
    }

    fn is_trigger(&self, f: &Function) -> bool {
        self.type_of(f.return_type).is_some_and(|t| {
            t.schema == "pg_catalog" && (t.name == "trigger" || t.name == "event_trigger")
        })
    }

    /// What `f` returns, without the `[]` of a set.
    fn returns(&self, schema: &str, f: &Function) -> Returns {
        let mut table_args: Vec<&Arg> = f
            .args
            .iter()
            .filter(|a| a.mode == super::model::ArgMode::Table)
            .collect();
        if !table_args.is_empty() {
            table_args.sort_by(|a, b| locale_cmp(&a.name, &b.name));
            return Returns::Object(block(
                table_args
                    .into_iter()
                    .map(|a| prop(&a.name, false, self.ts(a.type_oid)))
                    .collect(),
            ));
        }
        if let Some(rel) = self.cat.relation_of_type(f.return_type)
            && rel.schema == schema
            && (rel.kind.is_table() || rel.kind.is_view())
        {
            return Returns::Object(block(
                Self::sorted_columns(rel)
                    .into_iter()
                    .map(|c| prop(&c.name, false, nullable(self.ts(c.type_oid), !c.not_null)))
                    .collect(),
            ));
        }
        Returns::Members(self.ts(f.return_type))
    }

    /// The error type a call gets when PostgREST cannot pick among
    /// overloads.
    fn conflict(&self, schema: &str, group: &[&Sig<'_>], sig: &Sig<'_>) -> Option<String> {
        if group.len() <= 1 {
            return None;
        }
        let name = &sig.f.name;
        let type_name = |oid: Oid| {
            self.type_of(oid)
                .map(|t| t.name.clone())
                .unwrap_or_else(|| "unknown".to_owned())
        };
        let tail = "Try renaming the parameters or the function itself in the database so function overloading can be resolved";
        if sig.inputs.is_empty()
            && let Some(other) = group.iter().find(|o| {
                o.f.oid != sig.f.oid
                    && o.inputs.len() == 1
                    && o.inputs[0].name.is_empty()
                    && o.inputs[0].has_default
            })
        {
            return Some(format!(
                "Could not choose the best candidate function between: {schema}.{name}(), {schema}.{name}( => {}). {tail}",
                type_name(other.f.return_type)
            ));
        }
        if sig.inputs.len() == 1 && !sig.inputs[0].name.is_empty() {
            let arg = sig.inputs[0];
            let mut all: Vec<&Sig<'_>> = vec![sig];
            all.extend(group.iter().copied().filter(|o| {
                o.f.oid != sig.f.oid
                    && o.inputs.len() == 1
                    && o.inputs[0].name == arg.name
                    && o.inputs[0].type_oid != arg.type_oid
            }));
            if all.len() > 1 {
                all.sort_by_key(|o| o.inputs.first().map(|a| a.type_oid).unwrap_or(0));
                let list: Vec<String> = all
                    .iter()
                    .map(|o| {
                        let args: Vec<String> = o
                            .inputs
                            .iter()
                            .map(|a| format!("{} => {}", a.name, type_name(a.type_oid)))
                            .collect();
                        format!("{schema}.{name}({})", args.join(", "))
                    })
                    .collect();
                return Some(format!(
                    "Could not choose the best candidate function between: {}. {tail}",
                    list.join(", ")
                ));
            }
        }
        None
    }

    /// `SetofOptions` (from, to, one-to-one, set) of a function that
    /// returns rows of a relation.
    fn setof(&self, sig: &Sig<'_>) -> Option<(String, String, bool, bool)> {
        let f = sig.f;
        let ret = self.type_of(f.return_type).filter(|t| t.relation != 0)?;
        let target = self
            .cat
            .relations
            .get(&ret.relation)
            .map(|r| r.name.clone())
            .unwrap_or_else(|| ret.name.clone());
        let multiple = f.rows > 1.0;
        let mut out = ("*".to_owned(), target, !multiple, f.returns_set);
        if f.args.len() == 1 && self.is_row_type(f.args[0].type_oid) {
            let source = self.formatted(f.args[0].type_oid);
            out = if f.returns_set {
                (source, out.1, !multiple, true)
            } else {
                (source, out.1, true, false)
            };
        }
        Some(out)
    }

    fn signature(&self, schema: &str, group: &[&Sig<'_>], sig: &Sig<'_>) -> Doc {
        let f = sig.f;
        let args = if sig.inputs.is_empty() {
            text("never")
        } else {
            inline_object(
                sig.inputs
                    .iter()
                    .map(|a| prop(&a.name, a.has_default, self.ts(a.type_oid)))
                    .collect(),
            )
        };
        let table_row_error = sig.inputs.len() == 1
            && sig.inputs[0].name.is_empty()
            && self.is_row_type(sig.inputs[0].type_oid)
            && !self.is_row_type(f.return_type);
        let error = self.conflict(schema, group, sig).or_else(|| {
            table_row_error.then(|| {
                format!(
                    "the function {schema}.{} with parameter or with a single unnamed json/jsonb parameter, but no matches were found in the schema cache",
                    f.name
                )
            })
        });
        let set = f.returns_set && f.rows > 1.0;
        let suffix = if set { "[]" } else { "" };
        let returns = match error {
            Some(message) => text(format!(
                "Returns: {{ error: true }} & {}{suffix}",
                quote_str(&message)
            )),
            None => match self.returns(schema, f) {
                Returns::Object(o) => concat(vec![text("Returns: "), o, text(suffix)]),
                Returns::Members(m) if set => {
                    let one = if m.len() == 1 {
                        m[0].clone()
                    } else {
                        format!("({})", m.join(" | "))
                    };
                    text(format!("Returns: {one}[]"))
                }
                Returns::Members(m) => {
                    union_after("Returns".to_owned(), m.into_iter().map(text).collect())
                }
            },
        };
        let mut members = vec![concat(vec![text("Args: "), args]), returns];
        if let Some((from, to, one, setof)) = self.setof(sig) {
            members.push(concat(vec![
                text("SetofOptions: "),
                block(vec![
                    text(format!("from: {}", quote_str(&from))),
                    text(format!("to: {}", quote_str(&to))),
                    text(format!("isOneToOne: {one}")),
                    text(format!("isSetofReturn: {setof}")),
                ]),
            ]));
        }
        inline_object(members)
    }

    fn function_entries(&self, schema: &str, functions: &[Sig<'_>]) -> Vec<Doc> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < functions.len() {
            let name = &functions[i].f.name;
            let mut j = i;
            while j < functions.len() && &functions[j].f.name == name {
                j += 1;
            }
            let group: Vec<&Sig<'_>> = functions[i..j].iter().collect();
            let sigs: Vec<Doc> = group
                .iter()
                .map(|s| self.signature(schema, &group, s))
                .collect();
            out.push(if sigs.len() == 1 {
                concat(vec![
                    text(format!("{}: ", key(name))),
                    sigs.into_iter().next().unwrap_or(text("{}")),
                ])
            } else {
                union_after(key(name), sigs.into_iter().map(|s| align(2, s)).collect())
            });
            i = j;
        }
        out
    }

    fn constants(&self) -> Doc {
        let object = |members: Vec<Doc>| {
            if members.is_empty() {
                return text("{}");
            }
            let mut inner = Vec::new();
            for m in members {
                inner.push(Doc::HardLine);
                inner.push(m);
                inner.push(text(","));
            }
            concat(vec![
                text("{"),
                indent(concat(inner)),
                Doc::HardLine,
                text("}"),
            ])
        };
        let schemas = self
            .cat
            .schemas
            .iter()
            .map(|s| {
                let enums = self
                    .cat
                    .enums_in(s)
                    .into_iter()
                    .map(|e| {
                        concat(vec![
                            text(format!("{}: ", key(&e.name))),
                            strings(&e.labels),
                        ])
                    })
                    .collect();
                concat(vec![
                    text(format!("{}: ", key(s))),
                    object(vec![concat(vec![text("Enums: "), object(enums)])]),
                ])
            })
            .collect();
        concat(vec![
            text("export const Constants = "),
            object(schemas),
            text(" as const"),
        ])
    }
}

/// A listed function and its input arguments, sorted by name.
struct Sig<'a> {
    f: &'a Function,
    inputs: Vec<&'a Arg>,
}

/// `Tables`: a relation's `Row` by name, in the default schema or another.
fn tables_helper() -> String {
    let p = "DefaultSchemaTableNameOrOptions";
    let w = "DatabaseWithoutInternals";
    format!(
        "export type Tables<
  {p} extends
    | keyof (DefaultSchema[\"Tables\"] & DefaultSchema[\"Views\"])
    | {{ schema: keyof {w} }},
  TableName extends {p} extends {{
    schema: keyof {w}
  }}
    ? keyof ({w}[{p}[\"schema\"]][\"Tables\"] &
        {w}[{p}[\"schema\"]][\"Views\"])
    : never = never,
> = {p} extends {{
  schema: keyof {w}
}}
  ? ({w}[{p}[\"schema\"]][\"Tables\"] &
      {w}[{p}[\"schema\"]][\"Views\"])[TableName] extends {{
      Row: infer R
    }}
    ? R
    : never
  : {p} extends keyof (DefaultSchema[\"Tables\"] &
        DefaultSchema[\"Views\"])
    ? (DefaultSchema[\"Tables\"] &
        DefaultSchema[\"Views\"])[{p}] extends {{
        Row: infer R
      }}
      ? R
      : never
    : never"
    )
}

/// `TablesInsert` / `TablesUpdate`: a table's `field` type by name.
fn table_field_helper(name: &str, field: &str, var: &str) -> String {
    let p = "DefaultSchemaTableNameOrOptions";
    let w = "DatabaseWithoutInternals";
    format!(
        "export type {name}<
  {p} extends
    | keyof DefaultSchema[\"Tables\"]
    | {{ schema: keyof {w} }},
  TableName extends {p} extends {{
    schema: keyof {w}
  }}
    ? keyof {w}[{p}[\"schema\"]][\"Tables\"]
    : never = never,
> = {p} extends {{
  schema: keyof {w}
}}
  ? {w}[{p}[\"schema\"]][\"Tables\"][TableName] extends {{
      {field}: infer {var}
    }}
    ? {var}
    : never
  : {p} extends keyof DefaultSchema[\"Tables\"]
    ? DefaultSchema[\"Tables\"][{p}] extends {{
        {field}: infer {var}
      }}
      ? {var}
      : never
    : never"
    )
}

/// `Enums` / `CompositeTypes`: an entry of `section` by name.
fn section_helper(name: &str, p: &str, entry: &str, section: &str) -> String {
    let w = "DatabaseWithoutInternals";
    format!(
        "export type {name}<
  {p} extends
    | keyof DefaultSchema[\"{section}\"]
    | {{ schema: keyof {w} }},
  {entry} extends {p} extends {{
    schema: keyof {w}
  }}
    ? keyof {w}[{p}[\"schema\"]][\"{section}\"]
    : never = never,
> = {p} extends {{
  schema: keyof {w}
}}
  ? {w}[{p}[\"schema\"]][\"{section}\"][{entry}]
  : {p} extends keyof DefaultSchema[\"{section}\"]
    ? DefaultSchema[\"{section}\"][{p}]
    : never"
    )
}

fn helpers() -> String {
    [
        "type DatabaseWithoutInternals = Omit<Database, \"__InternalSupabase\">".to_owned(),
        format!(
            "type DefaultSchema = DatabaseWithoutInternals[Extract<keyof Database, {}>]",
            quote_str(DEFAULT_SCHEMA)
        ),
        tables_helper(),
        table_field_helper("TablesInsert", "Insert", "I"),
        table_field_helper("TablesUpdate", "Update", "U"),
        section_helper(
            "Enums",
            "DefaultSchemaEnumNameOrOptions",
            "EnumName",
            "Enums",
        ),
        section_helper(
            "CompositeTypes",
            "PublicCompositeTypeNameOrOptions",
            "CompositeTypeName",
            "CompositeTypes",
        ),
    ]
    .join("\n\n")
}

/// The TypeScript file for `cat`.
pub fn typescript(cat: &Catalog) -> String {
    Renderer::new(cat).render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_and_keys_are_written_as_prettier_writes_them() {
        assert_eq!(quote_str("plain"), "\"plain\"");
        assert_eq!(quote_str("it's"), "\"it's\"");
        assert_eq!(quote_str("say \"hi\""), "'say \"hi\"'");
        assert_eq!(quote_str("a\\b\nc"), "\"a\\\\b\\nc\"");
        assert_eq!(key("user_id"), "user_id");
        assert_eq!(key("$x1"), "$x1");
        assert_eq!(key("Created At"), "\"Created At\"");
        assert_eq!(key("1st"), "\"1st\"");
        assert_eq!(key(""), "\"\"");
    }

    #[test]
    fn unions_break_when_too_long() {
        let short = prop("status", false, vec!["\"a\"".into(), "\"b\"".into()]);
        assert_eq!(print(&short), "status: \"a\" | \"b\"");
        let long: Vec<String> = (0..12).map(|i| format!("\"value_{i}\"")).collect();
        let printed = print(&prop("status", true, long));
        assert!(
            printed.starts_with("status?:\n  | \"value_0\"\n  | \"value_1\""),
            "{printed}"
        );
    }

    #[test]
    fn an_empty_catalog_still_compiles_to_a_whole_file() {
        let out = typescript(&Catalog::default());
        assert!(out.starts_with("export type Json =\n"), "{out}");
        assert!(out.contains("\nexport type Database = {}\n"), "{out}");
        assert!(
            out.ends_with("export const Constants = {} as const\n"),
            "{out}"
        );
    }
}
