//! TypeScript types of a database, generated from its catalogs: the
//! `Database` type supabase-js expects, in the shape and layout of
//! `supabase gen types typescript` ([`render`]); and Markdown documentation
//! of the same schemas with an entity-relationship diagram ([`docs`]).
//!
//! [`catalog`] reads everything in one read-only snapshot, [`model`] holds
//! it, [`relationships`] derives what supabase-js embeds along,
//! [`order`] and [`layout`] make the output sorted and formatted the way
//! the Supabase CLI's is. Generation is pure: the same catalog gives the
//! same bytes.

pub mod catalog;
pub mod docs;
pub mod layout;
pub mod model;
pub mod order;
pub mod relationships;
pub mod render;

pub use catalog::{Detail, load};
pub use docs::{Summary, markdown};
pub use model::Catalog;
pub use render::typescript;

/// Failure to read the catalogs.
#[derive(Debug, thiserror::Error)]
pub enum TypegenError {
    /// A catalog query failed.
    #[error("reading the {what} from the catalogs failed: {detail}")]
    Query {
        /// What was being read.
        what: &'static str,
        /// Server or driver message.
        detail: String,
        #[source]
        source: tokio_postgres::Error,
    },
    /// A catalog row had an unexpected shape.
    #[error("the catalogs returned an unexpected row for the {what}: {detail}")]
    UnexpectedRow {
        /// What was being read.
        what: &'static str,
        /// Which column and why.
        detail: String,
    },
}

/// Reads `schemas` and renders their TypeScript types.
pub async fn generate(
    client: &tokio_postgres::Client,
    schemas: &[String],
) -> Result<(String, Catalog), TypegenError> {
    let cat = load(client, schemas, Detail::Types).await?;
    Ok((typescript(&cat), cat))
}
