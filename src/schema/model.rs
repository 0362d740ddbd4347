//! The catalog model a comparison works on: every object the differ knows,
//! keyed by its qualified, quoted SQL name, holding exactly what the
//! generated statements need. Owners are not compared (a plan's objects are
//! owned by whoever applies it); object identifiers never appear.

use std::collections::{BTreeMap, BTreeSet};

/// One privilege: `(grantee, privilege, grantable)`; grantee is a quoted
/// role name or `PUBLIC`.
pub type Privilege = (String, String, bool);

/// A set of privileges on one object.
pub type Acl = BTreeSet<Privilege>;

/// Everything read from one database.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub schemas: BTreeMap<String, Schema>,
    pub extensions: BTreeMap<String, Extension>,
    pub types: BTreeMap<String, TypeDef>,
    pub sequences: BTreeMap<String, Sequence>,
    pub tables: BTreeMap<String, Table>,
    pub indexes: BTreeMap<String, Index>,
    pub views: BTreeMap<String, View>,
    pub functions: BTreeMap<String, Function>,
    pub triggers: BTreeMap<String, Trigger>,
    pub policies: BTreeMap<String, Policy>,
    pub default_privileges: BTreeMap<String, DefaultPrivileges>,
    pub publications: BTreeMap<String, Publication>,
}

/// Privileges of an object as they are, and as they would be on a fresh
/// object of the same owner with no default privileges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    pub acl: Acl,
    pub initial: Acl,
    /// Quoted owner role (decides which default privileges a new object gets).
    pub owner: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schema {
    /// Quoted name.
    pub name: String,
    pub grants: Grants,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    /// Quoted name.
    pub name: String,
    /// Quoted schema.
    pub schema: String,
    pub version: String,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeKind {
    /// Labels in sort order.
    Enum(Vec<String>),
    Domain {
        base: String,
        default: Option<String>,
        not_null: bool,
        collation: Option<String>,
        /// Constraint name (quoted) → definition.
        checks: BTreeMap<String, String>,
    },
    /// Attribute name (quoted) and type, in order.
    Composite(Vec<(String, String)>),
    /// The text after `AS RANGE`.
    Range(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeDef {
    /// Quoted schema.
    pub schema: String,
    pub name: String,
    pub kind: TypeKind,
    pub grants: Grants,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sequence {
    pub schema: String,
    pub name: String,
    pub data_type: String,
    pub start: i64,
    pub increment: i64,
    pub min: i64,
    pub max: i64,
    pub cache: i64,
    pub cycle: bool,
    /// `table.column` (quoted, qualified) of an owning column.
    pub owned_by: Option<String>,
    pub grants: Grants,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Quoted name.
    pub name: String,
    /// `format_type` text, with `COLLATE` when not the type's default.
    pub data_type: String,
    pub not_null: bool,
    pub default: Option<String>,
    /// `a` (always), `d` (by default) or empty.
    pub identity: String,
    /// Expression of a stored generated column.
    pub generated: Option<String>,
    /// Declared on this table (not only inherited from a parent).
    pub local: bool,
    /// Column-level privileges.
    pub acl: Acl,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraint {
    /// Quoted name.
    pub name: String,
    /// `p`, `u`, `c`, `x`, `f`, `t`.
    pub kind: String,
    /// `pg_get_constraintdef` text.
    pub definition: String,
    /// Referenced table of a foreign key.
    pub references: Option<String>,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub schema: String,
    pub name: String,
    /// `r` (table) or `p` (partitioned).
    pub kind: String,
    pub unlogged: bool,
    pub partition_key: Option<String>,
    /// Parent and bound of a partition.
    pub partition_of: Option<(String, String)>,
    pub options: Vec<String>,
    pub columns: Vec<Column>,
    pub constraints: BTreeMap<String, Constraint>,
    pub rls: bool,
    pub force_rls: bool,
    pub grants: Grants,
    pub comment: Option<String>,
    /// What follows `REPLICA IDENTITY`: `DEFAULT`, `FULL`, `NOTHING` or
    /// `USING INDEX <name>` (what logical replication and Realtime send
    /// of an old row).
    pub replica_identity: String,
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Index {
    pub schema: String,
    pub name: String,
    /// Qualified table or materialized view.
    pub table: String,
    pub definition: String,
    /// On a materialized view (created after views).
    pub on_view: bool,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    pub schema: String,
    pub name: String,
    pub materialized: bool,
    pub definition: String,
    pub options: Vec<String>,
    /// `LOCAL` or `CASCADED` check option.
    pub check_option: Option<String>,
    pub populated: bool,
    /// Relations (qualified) the query reads.
    pub depends_on: BTreeSet<String>,
    /// Functions (keys of [`Catalog::functions`]) the query calls.
    pub calls: BTreeSet<String>,
    pub column_comments: BTreeMap<String, String>,
    pub grants: Grants,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Function {
    /// `schema.name(identity arguments)`, the key and the `DROP` target.
    pub signature: String,
    /// `f` function, `p` procedure, `w` window function.
    pub kind: String,
    /// The complete `CREATE OR REPLACE` statement.
    pub definition: String,
    /// Result type text; a change needs a drop first.
    pub result: String,
    /// Argument names; a change needs a drop first.
    pub arg_names: Vec<String>,
    /// Needs tables or views to exist first (SQL-standard body, or a row
    /// type of a relation in its signature).
    pub late: bool,
    pub grants: Grants,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    pub name: String,
    pub table: String,
    pub definition: String,
    /// `O` enabled, `D` disabled, `R` replica, `A` always.
    pub enabled: String,
    /// Function key it calls.
    pub function: String,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub name: String,
    pub table: String,
    pub permissive: bool,
    /// `ALL`, `SELECT`, `INSERT`, `UPDATE`, `DELETE`.
    pub command: String,
    /// Quoted role names, or `public`.
    pub roles: Vec<String>,
    pub using: Option<String>,
    pub check: Option<String>,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultPrivileges {
    /// Quoted role.
    pub role: String,
    /// Quoted schema, or none for the role's global defaults.
    pub schema: Option<String>,
    /// `TABLES`, `SEQUENCES`, `FUNCTIONS`, `TYPES`, `SCHEMAS`.
    pub object_type: String,
    pub acl: Acl,
    /// What applies without an entry (the built-in default for global
    /// entries, nothing for per-schema ones).
    pub absent: Acl,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    pub name: String,
    pub all_tables: bool,
    /// `insert, update, delete, truncate` as enabled.
    pub publish: String,
    pub via_root: bool,
    /// Published tables (qualified) → what follows the name after `TABLE`
    /// (column list, row filter), often empty.
    pub tables: BTreeMap<String, String>,
    /// Quoted schemas of `TABLES IN SCHEMA`.
    pub schemas: BTreeSet<String>,
    pub comment: Option<String>,
}
