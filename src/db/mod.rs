//! Direct PostgreSQL access: lazily created connection pools per instance,
//! connection strings, TLS, connection checks with classified failures,
//! SQL over the REST API (PostgREST RPC) when there is no database URL, and
//! the backend choice between those and the Management API.

pub mod backend;
pub mod connstr;
pub mod pool;
pub mod probe;
pub mod rows;
pub mod rpc;
pub mod tls;

pub use connstr::{ConnParams, SslMode};
pub use pool::{ConnInfo, Pools};
pub use rpc::RpcClient;
