//! The relationships supabase-js embeds along: one per foreign key, plus
//! the ones PostgREST derives for views. A view that passes a foreign
//! key's columns through unchanged (directly or through other views) takes
//! part in that key's relationship: as the referencing side when it shows
//! the key's columns, as the referenced side when it shows the referenced
//! columns, and both when two views do. A relationship is one-to-one when
//! the referencing columns are also the whole of a primary key or unique
//! constraint.

use std::collections::{BTreeMap, HashMap};

use super::model::{Catalog, Oid};
use super::order::locale_cmp;

/// Most column combinations one view dependency expands to.
const MAX_COMBINATIONS: usize = 64;
/// Deepest chain of views followed back to a table.
const MAX_DEPTH: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relationship {
    pub foreign_key: String,
    pub schema: String,
    pub relation: String,
    pub columns: Vec<String>,
    pub one_to_one: bool,
    pub ref_schema: String,
    pub ref_relation: String,
    pub ref_columns: Vec<String>,
}

/// Where each view column comes from: `(table, attnum)` to the view's
/// column names showing it, per view.
type Exposure = HashMap<(Oid, i16), Vec<String>>;

fn origin(cat: &Catalog, rel: Oid, column: i16, depth: usize) -> Option<(Oid, i16)> {
    let r = cat.relations.get(&rel)?;
    if !r.kind.is_view() {
        return Some((rel, column));
    }
    if depth >= MAX_DEPTH {
        return None;
    }
    let t = r.targets.iter().find(|t| t.resno == column)?;
    if t.origin == 0 {
        return None;
    }
    match cat.relations.get(&t.origin) {
        Some(inner) if inner.kind.is_view() => origin(cat, t.origin, t.origin_column, depth + 1),
        _ => Some((t.origin, t.origin_column)),
    }
}

/// What each view shows, by schema and name.
fn exposures(cat: &Catalog) -> BTreeMap<(String, String), Exposure> {
    let mut out = BTreeMap::new();
    for v in cat.relations.values().filter(|r| r.kind.is_view()) {
        let mut exposed: Exposure = HashMap::new();
        for c in &v.columns {
            if let Some(o) = origin(cat, v.oid, c.attnum, 0) {
                exposed.entry(o).or_default().push(c.name.clone());
            }
        }
        if !exposed.is_empty() {
            out.insert((v.schema.clone(), v.name.clone()), exposed);
        }
    }
    out
}

/// Every combination of one item from each list (at most [`MAX_COMBINATIONS`]).
fn combinations(lists: &[Vec<String>]) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = vec![Vec::new()];
    for list in lists {
        let mut next = Vec::new();
        for prefix in &out {
            for item in list {
                if next.len() >= MAX_COMBINATIONS {
                    break;
                }
                let mut p = prefix.clone();
                p.push(item.clone());
                next.push(p);
            }
        }
        out = next;
    }
    out
}

/// The view columns showing `attnums` of `table` (in that order), one list
/// per column, when the view shows all of them.
fn shown(exposed: &Exposure, table: Oid, attnums: &[i16]) -> Option<Vec<Vec<String>>> {
    attnums
        .iter()
        .map(|n| exposed.get(&(table, *n)).cloned())
        .collect()
}

/// All relationships, sorted as the Supabase CLI sorts them (by foreign
/// key name, then referenced relation, then referenced columns).
pub fn relationships(cat: &Catalog) -> Vec<Relationship> {
    let mut keys: HashMap<Oid, Vec<Vec<i16>>> = HashMap::new();
    for k in cat
        .constraints
        .iter()
        .filter(|k| matches!(k.kind, 'p' | 'u'))
    {
        let mut cols = k.attnums.clone();
        cols.sort_unstable();
        keys.entry(k.table).or_default().push(cols);
    }
    let views = exposures(cat);
    let mut out = Vec::new();
    for fk in cat.constraints.iter().filter(|k| k.kind == 'f') {
        let mut cols = fk.attnums.clone();
        cols.sort_unstable();
        let one_to_one = keys.get(&fk.table).is_some_and(|ks| ks.contains(&cols));
        let base = Relationship {
            foreign_key: fk.name.clone(),
            schema: fk.table_schema.clone(),
            relation: fk.table_name.clone(),
            columns: fk.columns.clone(),
            one_to_one,
            ref_schema: fk.ref_schema.clone(),
            ref_relation: fk.ref_name.clone(),
            ref_columns: fk.ref_columns.clone(),
        };
        let mut referencing = Vec::new();
        let mut referenced = Vec::new();
        for ((schema, name), exposed) in &views {
            if let Some(lists) = shown(exposed, fk.table, &fk.attnums) {
                referencing.push((schema, name, combinations(&lists)));
            }
            if let Some(lists) = shown(exposed, fk.ref_table, &fk.ref_attnums) {
                referenced.push((schema, name, combinations(&lists)));
            }
        }
        let mut derived = Vec::new();
        for (schema, name, combos) in &referencing {
            for columns in combos {
                derived.push(Relationship {
                    schema: (*schema).clone(),
                    relation: (*name).clone(),
                    columns: columns.clone(),
                    ..base.clone()
                });
            }
        }
        for (schema, name, combos) in &referenced {
            for ref_columns in combos {
                derived.push(Relationship {
                    ref_schema: (*schema).clone(),
                    ref_relation: (*name).clone(),
                    ref_columns: ref_columns.clone(),
                    ..base.clone()
                });
            }
        }
        for (schema, name, combos) in &referencing {
            for columns in combos {
                for (ref_schema, ref_name, ref_combos) in &referenced {
                    for ref_columns in ref_combos {
                        derived.push(Relationship {
                            schema: (*schema).clone(),
                            relation: (*name).clone(),
                            columns: columns.clone(),
                            ref_schema: (*ref_schema).clone(),
                            ref_relation: (*ref_name).clone(),
                            ref_columns: ref_columns.clone(),
                            ..base.clone()
                        });
                    }
                }
            }
        }
        out.push(base);
        out.extend(derived);
    }
    // Table relationships first, then the derived ones, each in a fixed
    // order; the sort below is stable.
    out.sort_by(|a, b| {
        locale_cmp(&a.foreign_key, &b.foreign_key)
            .then_with(|| locale_cmp(&a.ref_relation, &b.ref_relation))
            .then_with(|| locale_cmp(&json_list(&a.ref_columns), &json_list(&b.ref_columns)))
    });
    out
}

fn json_list(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// The relationships listed under `schema.name`: those whose both sides
/// are in `schema`.
pub fn of<'a>(all: &'a [Relationship], schema: &str, name: &str) -> Vec<&'a Relationship> {
    all.iter()
        .filter(|r| r.schema == schema && r.ref_schema == schema && r.relation == name)
        .collect()
}
