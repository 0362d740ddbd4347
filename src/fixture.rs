//! Supabase-like database fixture.
//!
//! Owns the SQL that turns a plain PostgreSQL database into something that
//! looks like a Supabase project database (`fixtures/supabase.sql`: roles,
//! `auth`/`storage`/`realtime`/`vault`/`supabase_migrations` schemas, grants,
//! the `supabase_realtime` publication) and a small sample application on top
//! of it (`fixtures/sample_data.sql`), plus [`load`] to apply them.

use tokio_postgres::Client;

/// SQL that makes a plain PostgreSQL database look like a Supabase database.
///
/// Must be run by a superuser. Idempotent, and safe to run concurrently in
/// several databases of the same cluster (roles are created only when
/// missing).
pub const SUPABASE_SQL: &str = include_str!("../fixtures/supabase.sql");

/// A small sample application (profiles, posts, comments, auth users,
/// storage buckets and objects) on top of [`SUPABASE_SQL`]. Idempotent.
pub const SAMPLE_DATA_SQL: &str = include_str!("../fixtures/sample_data.sql");

/// Failure to load a fixture.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    /// `fixtures/supabase.sql` failed.
    #[error(
        "loading the Supabase fixture (fixtures/supabase.sql) failed: {detail}; \
         connect as a superuser on PostgreSQL 15 or newer and retry"
    )]
    Supabase {
        /// Server message, with detail, hint and context when available.
        detail: String,
        /// Underlying driver error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// `fixtures/sample_data.sql` failed.
    #[error(
        "loading the sample data (fixtures/sample_data.sql) failed: {detail}; \
         check that the Supabase fixture is loaded in this database and retry"
    )]
    SampleData {
        /// Server message, with detail, hint and context when available.
        detail: String,
        /// Underlying driver error.
        #[source]
        source: tokio_postgres::Error,
    },
}

/// Loads [`SUPABASE_SQL`] and, when `with_sample_data` is true,
/// [`SAMPLE_DATA_SQL`] into the database `client` is connected to.
///
/// Each file runs as one implicit transaction, so a failure leaves no partial
/// state behind from that file.
pub async fn load(client: &Client, with_sample_data: bool) -> Result<(), FixtureError> {
    client
        .batch_execute(SUPABASE_SQL)
        .await
        .map_err(|source| FixtureError::Supabase {
            detail: crate::pg::describe_error(&source),
            source,
        })?;
    if with_sample_data {
        client
            .batch_execute(SAMPLE_DATA_SQL)
            .await
            .map_err(|source| FixtureError::SampleData {
                detail: crate::pg::describe_error(&source),
                source,
            })?;
    }
    Ok(())
}

/// A stable 64-bit fingerprint (FNV-1a) of the fixture SQL that
/// [`load`] would run with the same `with_sample_data`.
///
/// Changes whenever a fixture file changes; used to name template databases.
pub fn fingerprint(with_sample_data: bool) -> u64 {
    let mut hash = fnv1a(0xcbf2_9ce4_8422_2325, SUPABASE_SQL.as_bytes());
    if with_sample_data {
        hash = fnv1a(hash, b"\0sample\0");
        hash = fnv1a(hash, SAMPLE_DATA_SQL.as_bytes());
    }
    hash
}

fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_depends_on_sample_data() {
        assert_ne!(fingerprint(false), fingerprint(true));
        assert_eq!(fingerprint(true), fingerprint(true));
    }

    #[test]
    fn fixtures_are_embedded() {
        assert!(SUPABASE_SQL.contains("CREATE PUBLICATION supabase_realtime"));
        assert!(SAMPLE_DATA_SQL.contains("public.profiles"));
    }
}
