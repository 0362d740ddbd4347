//! The Supabase Auth (GoTrue) admin API client ([`AuthApi`]): the generated
//! client at `<supabase_url>/auth/v1`, authenticated with the service role
//! key sent both as `apikey` and as a bearer token.

use supabase_mcp_generated::auth;

use super::error::{ApiError, Service};
use super::http::{Api, ApiConfig, AuthHeader, base_str, base_url, build_http_client};
use crate::secret::{Redactor, Secret};

/// The Supabase Auth admin API behind the service role key.
pub type AuthApi = Api<auth::Client>;

impl Api<auth::Client> {
    /// Builds the client for the project or instance at `supabase_url`
    /// (for example `https://<ref>.supabase.co` or a self-hosted gateway).
    pub fn new(
        supabase_url: &str,
        service_role_key: &Secret,
        config: &ApiConfig,
        redactor: &Redactor,
    ) -> Result<Self, ApiError> {
        let service = Service::Auth;
        let url = base_url(service, supabase_url, "/auth/v1")?;
        let http = build_http_client(
            service,
            config,
            &service_key_headers(service_role_key),
            redactor,
        )?;
        let client = auth::Client::new_with_client(&base_str(&url), http.clone());
        Ok(Self::from_parts(
            client,
            http,
            url,
            service,
            config.clone(),
            redactor.clone(),
        ))
    }
}

/// `apikey: <key>` and `Authorization: Bearer <key>`, as the Supabase
/// gateway wants for Auth and Storage.
pub(crate) fn service_key_headers(key: &Secret) -> [AuthHeader<'_>; 2] {
    [
        AuthHeader {
            name: "apikey",
            prefix: "",
            secret: key,
        },
        AuthHeader {
            name: "authorization",
            prefix: "Bearer ",
            secret: key,
        },
    ]
}
