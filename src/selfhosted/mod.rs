//! Self-hosted configuration: the Supabase `.env` checks, JWT keys and
//! generated secrets.
//!
//! `envfile` reads a `.env` keeping its text so a fix rewrites only values;
//! `rules` holds the checks and `finding` what they report; `jwt` decodes,
//! verifies and signs the API keys; `secrets` and `strength` make and judge
//! random secrets; `protocols` handles http/https; `project_name` the
//! deployment's name; `connstrings` connection strings; `fix` applies
//! fixes; `template` writes a new `.env`; `files` writes files atomically;
//! `mask` decides how a value may be shown. No value of a secret variable
//! leaves this module except inside a written file.

pub mod connstrings;
pub mod envfile;
pub mod files;
pub mod finding;
pub mod fix;
pub mod jwt;
pub mod mask;
pub mod project_name;
pub mod protocols;
pub mod rules;
pub mod secrets;
pub mod strength;
pub mod template;

pub use envfile::EnvFile;
pub use finding::{Finding, Report, Severity};
pub use rules::{Options, validate};
