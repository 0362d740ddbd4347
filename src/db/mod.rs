//! Direct PostgreSQL access: lazily created connection pools per instance
//! and the mapping of connection failures to actionable errors.

pub mod pool;
pub mod rows;

pub use pool::Pools;
