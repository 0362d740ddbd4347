//! Realistic fake rows for a database's tables (`seed_database`): the
//! catalog facts that shape them (`catalog.rs`), simple CHECK constraints
//! understood ahead of time (`checks.rs`), the deterministic value
//! generator (`values.rs`) and the run: tables in foreign-key order,
//! multi-row INSERTs in batches inside one transaction (`run.rs`).

pub mod catalog;
pub mod checks;
pub mod run;
pub mod values;

/// What can go wrong while seeding.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// A catalog or insert query failed.
    #[error("{action} failed: {message}")]
    Db {
        /// What was being done.
        action: String,
        /// The database's message.
        message: String,
        /// Its SQLSTATE, when it has one.
        code: Option<String>,
    },
    /// A requested table does not exist or is not a plain table.
    #[error("table `{0}` was not found among ordinary tables of the chosen schemas")]
    UnknownTable(String),
    /// The call was cancelled.
    #[error("the run was cancelled; everything was rolled back")]
    Cancelled,
}

impl SeedError {
    pub(crate) fn db(action: impl Into<String>, e: tokio_postgres::Error) -> Self {
        let (message, code) = match e.as_db_error() {
            Some(d) => (d.message().to_owned(), Some(d.code().code().to_owned())),
            None => (e.to_string(), None),
        };
        SeedError::Db {
            action: action.into(),
            message,
            code,
        }
    }
}

/// Quotes an identifier for SQL.
pub(crate) fn ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Quotes a text as an SQL string literal.
pub(crate) fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}
