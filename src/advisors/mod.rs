//! Advisor lints run as SQL against the catalogs of any PostgreSQL
//! database (self-hosted instances): security and performance findings.
//!
//! `lints` holds one catalog query per lint with its level, category and
//! the reason it matters; `run` executes the lints of one category through
//! an instance's SQL path and groups the findings the way Supabase's hosted
//! advisors do, each object with the SQL that fixes it. `get_advisors` uses
//! this when the instance has a database connection and no cloud project.

pub mod lints;
pub mod run;

pub use lints::{Category, Level, Lint};
pub use run::{LintResult, Report, run};
