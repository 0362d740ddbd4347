//! Schema diff: reads two databases' catalogs into a [`Catalog`]
//! ([`introspect`]), compares them and produces an ordered migration
//! ([`diff`]) that turns the first into the second.
//!
//! This module owns the scope of a comparison ([`Scope`]), the plan's shape
//! ([`Plan`], [`Step`]) and its rendering as a script. Rules kept here:
//! - objects that belong to an extension and objects in system schemas are
//!   never compared; Supabase-managed schemas are left out unless named;
//! - a plan's steps are in an order PostgreSQL accepts: drops first, the
//!   dependents before what they depend on, then creates and alters, what is
//!   depended on first;
//! - a step that loses data or objects is marked destructive, and a step that
//!   cannot run inside a transaction block says so.

pub mod diff;
pub mod introspect;
pub mod model;

pub use diff::diff;
pub use introspect::load;
pub use model::Catalog;

use serde::Serialize;

/// Schemas the platform manages; left out of a comparison unless named.
pub const MANAGED_SCHEMAS: &[&str] = &[
    "auth",
    "storage",
    "realtime",
    "_realtime",
    "supabase_functions",
    "supabase_migrations",
    "extensions",
    "graphql",
    "graphql_public",
    "vault",
    "pgsodium",
    "pgsodium_masks",
    "net",
    "cron",
    "_analytics",
    "pgbouncer",
    "pgtle",
    "_supavisor",
];

/// Which schemas a comparison covers.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Only these schemas (empty: every schema not excluded).
    pub schemas: Vec<String>,
    /// Whether the Supabase-managed schemas count when `schemas` is empty.
    pub include_managed: bool,
}

impl Scope {
    /// Every user schema: all but system and Supabase-managed ones.
    pub fn user() -> Scope {
        Scope::default()
    }

    /// Exactly the named schemas.
    pub fn only(schemas: &[&str]) -> Scope {
        Scope {
            schemas: schemas.iter().map(|s| s.to_string()).collect(),
            include_managed: false,
        }
    }
}

/// Failure to read a catalog.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// A catalog query failed.
    #[error("reading the catalog failed: {detail}")]
    Query {
        /// Server or driver message.
        detail: String,
        #[source]
        source: tokio_postgres::Error,
    },
    /// A catalog row had an unexpected shape.
    #[error("the catalog returned an unexpected row: {0}")]
    UnexpectedRow(String),
}

/// What a step does to its object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Drop,
    Alter,
}

/// One statement of a plan.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub action: Action,
    /// Object kind: `schema`, `extension`, `type`, `sequence`, `table`,
    /// `column`, `constraint`, `index`, `view`, `materialized_view`,
    /// `function`, `trigger`, `policy`, `rls`, `grant`, `default_privileges`,
    /// `comment`, `publication`.
    pub kind: &'static str,
    /// The object, qualified (`public.users`, `public.users.email`).
    pub object: String,
    /// One SQL statement, without the trailing semicolon.
    pub sql: String,
    /// Loses data or objects that the target does not have.
    pub destructive: bool,
    /// Cannot run inside a transaction block together with later steps
    /// that use its result (an enum value added and then used).
    pub needs_commit: bool,
}

/// An ordered list of steps turning one schema into another.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    pub steps: Vec<Step>,
}

impl Plan {
    /// No difference.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// How many steps are destructive.
    pub fn destructive_count(&self) -> usize {
        self.steps.iter().filter(|s| s.destructive).count()
    }

    /// The plan as one SQL script: a header, `check_function_bodies` off (so
    /// a function may name a table created later, as `pg_dump` does), then
    /// each statement, destructive ones marked with a comment.
    pub fn script(&self) -> String {
        let mut out = String::new();
        if self.steps.is_empty() {
            out.push_str("-- no differences\n");
            return out;
        }
        out.push_str("SET check_function_bodies = false;\n");
        for step in &self.steps {
            out.push('\n');
            if step.destructive {
                out.push_str("-- destructive: ");
                out.push_str(match step.action {
                    Action::Drop => "drops ",
                    _ => "changes ",
                });
                out.push_str(step.kind);
                out.push(' ');
                out.push_str(&step.object);
                out.push('\n');
            }
            if step.needs_commit {
                out.push_str("-- runs on its own: a later statement uses what it adds\n");
            }
            out.push_str(&step.sql);
            out.push_str(";\n");
        }
        out
    }
}
