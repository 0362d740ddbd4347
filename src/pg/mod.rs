//! Local PostgreSQL helpers: throwaway databases for tests ([`testdb`]) and a
//! throwaway local cluster for the `demo` command ([`cluster`]), plus small
//! connection utilities they share.

pub mod cluster;
pub mod testdb;

pub use cluster::{ClusterError, ClusterOptions, TempCluster};
pub use testdb::{TestDb, TestDbError};

use std::time::Duration;

use tokio_postgres::{Client, Config, NoTls};

/// Connects to `url` without TLS and drives the connection on a task of the
/// current tokio runtime. The task ends when the returned client is dropped.
///
/// `connect_timeout` bounds the TCP connect and startup handshake.
pub async fn connect(
    url: &str,
    connect_timeout: Duration,
) -> Result<Client, tokio_postgres::Error> {
    let mut config: Config = url.parse()?;
    config.connect_timeout(connect_timeout);
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "postgres connection closed with an error");
        }
    });
    Ok(client)
}

/// Renders a driver error with the server's message, detail, hint and
/// context (the plain `Display` of `tokio_postgres::Error` only says
/// "db error").
pub fn describe_error(error: &tokio_postgres::Error) -> String {
    if let Some(db) = error.as_db_error() {
        let mut out = format!("{} ({}): {}", db.severity(), db.code().code(), db.message());
        if let Some(detail) = db.detail() {
            out.push_str("; detail: ");
            out.push_str(detail);
        }
        if let Some(hint) = db.hint() {
            out.push_str("; hint: ");
            out.push_str(hint);
        }
        if let Some(context) = db.where_() {
            out.push_str("; context: ");
            out.push_str(&context.replace('\n', " / "));
        }
        return out;
    }
    let mut out = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

/// Quotes an SQL identifier (database, role or schema name).
pub fn quote_ident(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_identifiers() {
        assert_eq!(quote_ident("plain"), "\"plain\"");
        assert_eq!(quote_ident("we\"ird"), "\"we\"\"ird\"");
    }
}
