//! The Supabase Management API client ([`ManagementApi`]): the generated
//! client behind a bearer personal access token, plus the hand-written
//! multipart edge function deploy (`POST /v1/projects/{ref}/functions/deploy`),
//! which the generator cannot express, and SQL through
//! `POST /v1/projects/{ref}/database/query` with the generated body type but
//! a size-capped read of the rows (the generated call would buffer any size).

use std::path::Path;

use reqwest::multipart::{Form, Part};
use serde::Serialize;
use supabase_mcp_generated::management;

use super::error::{ApiError, Service};
use super::http::{Api, ApiConfig, AuthHeader, base_str, base_url, build_http_client};
use crate::secret::{Redactor, Secret};

/// The Supabase Management API behind a personal access token.
pub type ManagementApi = Api<management::Client>;

/// Where the hosted Management API lives.
pub const DEFAULT_MANAGEMENT_URL: &str = "https://api.supabase.com";

/// The `metadata` part of a function deploy.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct FunctionDeployMetadata {
    /// Entry file, relative like the file names (for example `index.ts`).
    pub entrypoint_path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub import_map_path: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub static_patterns: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify_jwt: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// One source file of a function deploy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionFile {
    /// Name the service sees (a relative path such as `index.ts` or
    /// `lib/util.ts`).
    pub name: String,
    pub contents: Vec<u8>,
}

impl FunctionFile {
    pub fn new(name: impl Into<String>, contents: impl Into<Vec<u8>>) -> Self {
        Self {
            name: name.into(),
            contents: contents.into(),
        }
    }

    /// Reads a local file into a deploy part named `name`.
    pub async fn read(name: impl Into<String>, path: &Path) -> Result<Self, ApiError> {
        let contents = tokio::fs::read(path).await.map_err(|e| ApiError::Io {
            service: Service::Management,
            message: format!("could not read '{}' for the deploy: {e}", path.display()),
        })?;
        Ok(Self::new(name, contents))
    }
}

impl Api<management::Client> {
    /// Builds the client. `base_url` is usually [`DEFAULT_MANAGEMENT_URL`];
    /// every request carries `Authorization: Bearer <access_token>`.
    pub fn new(
        base_url_raw: &str,
        access_token: &Secret,
        config: &ApiConfig,
        redactor: &Redactor,
    ) -> Result<Self, ApiError> {
        let service = Service::Management;
        let url = base_url(service, base_url_raw, "")?;
        let http = build_http_client(
            service,
            config,
            &[AuthHeader {
                name: "authorization",
                prefix: "Bearer ",
                secret: access_token,
            }],
            redactor,
        )?;
        let client = management::Client::new_with_client(&base_str(&url), http.clone());
        Ok(Self::from_parts(
            client,
            http,
            url,
            service,
            config.clone(),
            redactor.clone(),
        ))
    }

    /// Deploys (creates or updates) an edge function from source files with
    /// `POST /v1/projects/{ref}/functions/deploy?slug=...` as
    /// `multipart/form-data`: one `metadata` JSON part and one `file` part per
    /// file. Uses the slow timeout and is not retried. Returns the service's
    /// JSON answer (id, slug, version, status...).
    pub async fn deploy_function(
        &self,
        project_ref: &str,
        slug: &str,
        metadata: &FunctionDeployMetadata,
        files: &[FunctionFile],
    ) -> Result<serde_json::Value, ApiError> {
        let service = self.service();
        project_ref
            .parse::<management::types::ProjectRef>()
            .map_err(|e| {
                ApiError::invalid_request(
                    service,
                    format!(
                        "project ref '{project_ref}' is not valid ({e}); it is 20 lowercase letters"
                    ),
                )
            })?;
        if !valid_slug(slug) {
            return Err(ApiError::invalid_request(
                service,
                format!(
                    "function slug '{slug}' is not valid: start with a letter, then use letters, \
                     digits, '-' or '_'"
                ),
            ));
        }
        if files.is_empty() {
            return Err(ApiError::invalid_request(
                service,
                "a deploy needs at least one source file",
            ));
        }
        if metadata.entrypoint_path.trim().is_empty() {
            return Err(ApiError::invalid_request(
                service,
                "the deploy metadata needs an entrypoint_path (for example index.ts)",
            ));
        }
        let metadata_json = serde_json::to_string(metadata)
            .map_err(|e| ApiError::invalid_request(service, format!("metadata: {e}")))?;
        let mut form = Form::new().text("metadata", metadata_json);
        for file in files {
            let part = Part::bytes(file.contents.clone())
                .file_name(file.name.clone())
                .mime_str("application/octet-stream")
                .map_err(|e| ApiError::invalid_request(service, format!("file part: {e}")))?;
            form = form.part("file", part);
        }
        let mut url = self.url_with(["v1", "projects", project_ref, "functions", "deploy"]);
        url.query_pairs_mut().append_pair("slug", slug);
        let limit = self.config().slow_timeout;
        let request = self.http().post(url).multipart(form);
        let response = tokio::time::timeout(limit, async {
            let response = self.send(request).await?;
            response
                .json::<serde_json::Value>()
                .await
                .map_err(|e| ApiError::from_reqwest(service, e, self.redactor()))
        })
        .await
        .unwrap_or_else(|_| Err(ApiError::timeout(service, limit)))?;
        Ok(response)
    }
}

impl Api<management::Client> {
    /// Runs SQL on a project with `POST /v1/projects/{ref}/database/query`
    /// and returns the result rows. Not retried (the SQL may write). A body
    /// larger than `max_bytes` is an error, never read whole.
    pub async fn run_query(
        &self,
        project_ref: &management::types::ProjectRef,
        body: &management::types::V1RunQueryBody,
        timeout: std::time::Duration,
        max_bytes: usize,
    ) -> Result<Vec<serde_json::Value>, ApiError> {
        let service = self.service();
        let url = self.url_with(["v1", "projects", project_ref.as_str(), "database", "query"]);
        let request = self.http().post(url).json(body);
        tokio::time::timeout(timeout, async {
            let response = self.send(request).await?;
            let status = response.status().as_u16();
            let Some(bytes) = self.read_capped(response, max_bytes).await? else {
                return Err(ApiError::InvalidResponse {
                    service,
                    status: Some(status),
                    message: format!(
                        "the result is larger than {} MiB",
                        max_bytes / (1024 * 1024)
                    ),
                    suggestion: "Select fewer rows or columns (add LIMIT), raise --max-remote-result-mb, \
                                 or configure a database URL (--db-url) so results stream and spill to a file."
                        .to_owned(),
                });
            };
            match serde_json::from_slice::<serde_json::Value>(&bytes) {
                Ok(serde_json::Value::Array(rows)) => Ok(rows),
                Ok(serde_json::Value::Null) => Ok(Vec::new()),
                Ok(_) => Err(ApiError::InvalidResponse {
                    service,
                    status: Some(status),
                    message: "expected a JSON array of result rows".to_owned(),
                    suggestion: "Check that --api-url points at the Supabase Management API.".to_owned(),
                }),
                Err(e) => Err(ApiError::InvalidResponse {
                    service,
                    status: Some(status),
                    message: format!("the result is not JSON ({e})"),
                    suggestion: "Check that --api-url points at the Supabase Management API.".to_owned(),
                }),
            }
        })
        .await
        .unwrap_or_else(|_| Err(ApiError::timeout(service, timeout)))
    }
}

/// `^[A-Za-z][A-Za-z0-9_-]*$`, the slug rule of the Management API.
fn valid_slug(slug: &str) -> bool {
    let mut chars = slug.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slug_rule() {
        assert!(valid_slug("hello-world_2"));
        assert!(!valid_slug("2fast"));
        assert!(!valid_slug(""));
        assert!(!valid_slug("a/b"));
    }
}
