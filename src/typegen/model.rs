//! What the generators read from the catalogs: relations with their
//! columns, types, functions, constraints, indexes and policies, keyed by
//! OID where other objects refer to them. Plain data, filled by
//! [`super::catalog`] and read by [`super::render`] and [`super::docs`].

use std::collections::{BTreeMap, HashMap};

pub type Oid = u32;

/// Everything read for a set of schemas.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// The schemas asked for that exist.
    pub schemas: Vec<String>,
    /// The schemas asked for that do not exist.
    pub missing: Vec<String>,
    /// Tables, views, materialized views, foreign tables and composite
    /// types of those schemas.
    pub relations: BTreeMap<Oid, Relation>,
    /// Every type of the database.
    pub types: HashMap<Oid, PgType>,
    /// Functions of those schemas.
    pub functions: Vec<Function>,
    /// Primary keys, unique constraints and foreign keys that touch those
    /// schemas (checks and exclusions too when read for documentation).
    pub constraints: Vec<Constraint>,
    /// Indexes (read for documentation only).
    pub indexes: Vec<Index>,
    /// Row level security policies (read for documentation only).
    pub policies: Vec<Policy>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelKind {
    Table,
    PartitionedTable,
    View,
    MaterializedView,
    ForeignTable,
    Composite,
}

impl RelKind {
    pub fn from_relkind(k: &str) -> Option<RelKind> {
        Some(match k {
            "r" => RelKind::Table,
            "p" => RelKind::PartitionedTable,
            "v" => RelKind::View,
            "m" => RelKind::MaterializedView,
            "f" => RelKind::ForeignTable,
            "c" => RelKind::Composite,
            _ => return None,
        })
    }

    /// Listed under `Tables`.
    pub fn is_table(self) -> bool {
        matches!(
            self,
            RelKind::Table | RelKind::PartitionedTable | RelKind::ForeignTable
        )
    }

    /// Listed under `Views`.
    pub fn is_view(self) -> bool {
        matches!(self, RelKind::View | RelKind::MaterializedView)
    }
}

#[derive(Debug, Clone)]
pub struct Relation {
    pub oid: Oid,
    pub schema: String,
    pub name: String,
    pub kind: RelKind,
    /// A partition of a partitioned table.
    pub partition: bool,
    /// A view that accepts updates and deletes.
    pub updatable: bool,
    pub rls: bool,
    pub force_rls: bool,
    pub comment: Option<String>,
    /// A view's query (read for documentation only).
    pub definition: Option<String>,
    /// The extension that owns it.
    pub extension: Option<String>,
    /// Columns in attribute order.
    pub columns: Vec<Column>,
    /// A view's output columns and where each comes from.
    pub targets: Vec<Target>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identity {
    None,
    Always,
    ByDefault,
}

#[derive(Debug, Clone)]
pub struct Column {
    pub attnum: i16,
    pub name: String,
    pub type_oid: Oid,
    /// The type as SQL writes it (`character varying(80)`).
    pub type_sql: String,
    /// NOT NULL, or a NOT NULL domain.
    pub not_null: bool,
    /// The default (or the generation expression of a generated column).
    pub default: Option<String>,
    pub identity: Identity,
    /// A generated (stored) column.
    pub generated: bool,
    /// Accepts inserts and updates (always true for a table's columns).
    pub updatable: bool,
    pub comment: Option<String>,
}

/// One output column of a view: its position and the column of the
/// relation it passes through unchanged (`origin` 0 when computed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub resno: i16,
    pub origin: Oid,
    pub origin_column: i16,
}

#[derive(Debug, Clone)]
pub struct PgType {
    pub oid: Oid,
    pub schema: String,
    pub name: String,
    /// `b` base, `c` composite, `d` domain, `e` enum, `p` pseudo, `r` range, `m` multirange.
    pub kind: char,
    /// The element type of an array type (0 otherwise).
    pub element: Oid,
    /// The base type of a domain (0 otherwise).
    pub base: Oid,
    /// The relation of a composite type (0 otherwise).
    pub relation: Oid,
    /// `relkind` of that relation.
    pub relkind: String,
    /// An enum's labels in their order.
    pub labels: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgMode {
    In,
    Out,
    InOut,
    Variadic,
    Table,
}

impl ArgMode {
    pub fn from_code(c: &str) -> ArgMode {
        match c {
            "o" => ArgMode::Out,
            "b" => ArgMode::InOut,
            "v" => ArgMode::Variadic,
            "t" => ArgMode::Table,
            _ => ArgMode::In,
        }
    }

    /// Passed by the caller.
    pub fn is_input(self) -> bool {
        matches!(self, ArgMode::In | ArgMode::InOut | ArgMode::Variadic)
    }
}

#[derive(Debug, Clone)]
pub struct Arg {
    /// Empty for an unnamed argument.
    pub name: String,
    pub mode: ArgMode,
    pub type_oid: Oid,
    pub has_default: bool,
}

#[derive(Debug, Clone)]
pub struct Function {
    pub oid: Oid,
    pub schema: String,
    pub name: String,
    /// `f` function, `p` procedure, `a` aggregate, `w` window.
    pub kind: char,
    /// Arguments in declaration order.
    pub args: Vec<Arg>,
    pub return_type: Oid,
    pub returns_set: bool,
    /// Estimated rows of a set-returning function.
    pub rows: f32,
    /// `pg_get_function_arguments` (with `public` on the search path).
    pub arguments: String,
    /// `pg_get_function_result`.
    pub result: String,
    /// `pg_get_function_identity_arguments`.
    pub identity_arguments: String,
    pub language: String,
    /// `i` immutable, `s` stable, `v` volatile.
    pub volatility: char,
    pub security_definer: bool,
    pub comment: Option<String>,
    pub extension: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Constraint {
    pub name: String,
    /// `p`, `u`, `f`, `c` or `x`.
    pub kind: char,
    pub table: Oid,
    pub table_schema: String,
    pub table_name: String,
    pub columns: Vec<String>,
    pub attnums: Vec<i16>,
    /// The referenced table of a foreign key (0 otherwise).
    pub ref_table: Oid,
    pub ref_schema: String,
    pub ref_name: String,
    pub ref_columns: Vec<String>,
    pub ref_attnums: Vec<i16>,
    pub definition: String,
    pub comment: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Index {
    pub table: Oid,
    pub name: String,
    pub definition: String,
    pub unique: bool,
    pub primary: bool,
    /// Backs a primary key, unique or exclusion constraint.
    pub constraint: bool,
}

#[derive(Debug, Clone)]
pub struct Policy {
    pub table: Oid,
    pub name: String,
    pub permissive: bool,
    /// `SELECT`, `INSERT`, `UPDATE`, `DELETE` or `ALL`.
    pub command: String,
    pub roles: Vec<String>,
    pub using: Option<String>,
    pub check: Option<String>,
}

impl Catalog {
    /// Relations of `schema` sorted by name.
    pub fn relations_in<'a>(&'a self, schema: &'a str) -> Vec<&'a Relation> {
        let mut v: Vec<&Relation> = self
            .relations
            .values()
            .filter(|r| r.schema == schema)
            .collect();
        v.sort_by(|a, b| super::order::locale_cmp(&a.name, &b.name).then(a.oid.cmp(&b.oid)));
        v
    }

    /// The relation whose row type is `type_oid`, when it was read.
    pub fn relation_of_type(&self, type_oid: Oid) -> Option<&Relation> {
        let t = self.types.get(&type_oid)?;
        self.relations.get(&t.relation)
    }

    /// The enums of `schema` (with at least one value) sorted by name.
    pub fn enums_in(&self, schema: &str) -> Vec<&PgType> {
        let mut v: Vec<&PgType> = self
            .types
            .values()
            .filter(|t| t.schema == schema && t.kind == 'e' && !t.labels.is_empty())
            .collect();
        v.sort_by(|a, b| super::order::locale_cmp(&a.name, &b.name).then(a.oid.cmp(&b.oid)));
        v
    }
}
