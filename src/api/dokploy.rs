//! The Dokploy API client ([`DokployApi`]): the generated client at
//! `<dokploy_url>/api`, authenticated with the `x-api-key` header.

use supabase_mcp_generated::dokploy;

use super::error::{ApiError, Service};
use super::http::{Api, ApiConfig, AuthHeader, base_str, base_url, build_http_client};
use crate::secret::{Redactor, Secret};

/// The Dokploy API behind an API key.
pub type DokployApi = Api<dokploy::Client>;

impl Api<dokploy::Client> {
    /// Builds the client for the Dokploy instance at `dokploy_url` (with or
    /// without the trailing `/api`).
    pub fn new(
        dokploy_url: &str,
        api_key: &Secret,
        config: &ApiConfig,
        redactor: &Redactor,
    ) -> Result<Self, ApiError> {
        let service = Service::Dokploy;
        let url = base_url(service, dokploy_url, "/api")?;
        let http = build_http_client(
            service,
            config,
            &[AuthHeader {
                name: "x-api-key",
                prefix: "",
                secret: api_key,
            }],
            redactor,
        )?;
        let client = dokploy::Client::new_with_client(&base_str(&url), http.clone());
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
