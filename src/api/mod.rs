//! The hand-written layer over the generated HTTP clients
//! (`supabase-mcp-generated`): one [`Api`] wrapper per remote API
//! (Management, Auth, Storage, Dokploy) with its credential headers,
//! timeouts, retries on 429/503 for idempotent calls, one error type
//! ([`ApiError`]) that never carries a secret, and the calls the generator
//! cannot express (Storage object upload/download, Management multipart
//! function deploy).
//!
//! Typical use from tool code:
//!
//! ```ignore
//! let projects = api.idempotent(|c| c.v1_list_all_projects()).await?;
//! let created = api.call_with(CallOptions::once().slow(), |c| c.v1_create_a_project(&body)).await?;
//! ```

pub mod auth;
pub mod catalog;
pub mod dokploy;
pub mod error;
pub mod http;
pub mod management;
pub mod storage;

pub use auth::AuthApi;
pub use dokploy::DokployApi;
pub use error::{ApiError, ErrorBody, Service};
pub use http::{Api, ApiConfig, CallOptions, RetryPolicy, with_retry};
pub use management::{DEFAULT_MANAGEMENT_URL, FunctionDeployMetadata, FunctionFile, ManagementApi};
pub use storage::{Download, ObjectRoute, StorageApi, UploadOptions};
pub use supabase_mcp_generated as generated;
