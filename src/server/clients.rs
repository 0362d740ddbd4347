//! HTTP API clients per instance, built on first use (never at
//! `initialize`), with the instance's credentials and the server's redactor.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::api::{ApiConfig, AuthApi, DokployApi, ManagementApi, StorageApi};
use crate::config::Instance;
use crate::result::{ErrorCode, ToolError};
use crate::secret::Redactor;

#[derive(Debug, Default)]
pub struct Clients {
    config: ApiConfig,
    redactor: Redactor,
    management: Mutex<HashMap<String, ManagementApi>>,
    /// Clients of instances signed in with OAuth, with the token generation
    /// they were built for.
    oauth_management: Mutex<HashMap<String, (u64, ManagementApi)>>,
    auth: Mutex<HashMap<String, AuthApi>>,
    storage: Mutex<HashMap<String, StorageApi>>,
    dokploy: Mutex<HashMap<String, DokployApi>>,
}

fn not_configured(inst: &Instance, what: &str, fix: &str) -> ToolError {
    ToolError::new(
        ErrorCode::NotConfigured,
        format!("instance `{}` has no {what}", inst.name),
    )
    .suggestion(fix)
}

fn cached<T: Clone>(
    map: &Mutex<HashMap<String, T>>,
    name: &str,
    build: impl FnOnce() -> Result<T, ToolError>,
) -> Result<T, ToolError> {
    if let Ok(m) = map.lock()
        && let Some(c) = m.get(name)
    {
        return Ok(c.clone());
    }
    let c = build()?;
    if let Ok(mut m) = map.lock() {
        m.insert(name.to_owned(), c.clone());
    }
    Ok(c)
}

impl Clients {
    pub fn new(config: ApiConfig, redactor: Redactor) -> Self {
        Self {
            config,
            redactor,
            ..Self::default()
        }
    }

    /// The Management API client of `inst` (needs an access token).
    pub fn management(&self, inst: &Instance) -> Result<ManagementApi, ToolError> {
        if let Some(login) = &inst.oauth {
            return self.management_oauth(inst, login);
        }
        let Some(token) = &inst.access_token else {
            return Err(not_configured(
                inst,
                "Management API access token",
                "Pass --access-token (or SUPABASE_ACCESS_TOKEN); create one at https://supabase.com/dashboard/account/tokens.",
            ));
        };
        cached(&self.management, &inst.name, || {
            ManagementApi::new(&inst.api_url, token, &self.config, &self.redactor)
                .map_err(ToolError::from)
        })
    }

    /// The Management API client of an instance using the stored OAuth
    /// login (only set when no personal access token is configured): the
    /// token is refreshed before it expires, and the client rebuilt when it
    /// changed.
    fn management_oauth(
        &self,
        inst: &Instance,
        login: &crate::oauth::TokenSource,
    ) -> Result<ManagementApi, ToolError> {
        let (generation, token) = login.current()?;
        if let Ok(m) = self.oauth_management.lock()
            && let Some((built_for, client)) = m.get(&inst.name)
            && *built_for == generation
        {
            return Ok(client.clone());
        }
        let client = ManagementApi::new(&inst.api_url, &token, &self.config, &self.redactor)?;
        if let Ok(mut m) = self.oauth_management.lock() {
            m.insert(inst.name.clone(), (generation, client.clone()));
        }
        Ok(client)
    }

    fn supabase_key<'a>(
        &self,
        inst: &'a Instance,
    ) -> Result<(&'a str, &'a crate::secret::Secret), ToolError> {
        match (&inst.supabase_url, &inst.service_role_key) {
            (Some(u), Some(k)) => Ok((u.as_str(), k)),
            _ => Err(not_configured(
                inst,
                "Supabase URL and service role key",
                "Pass --supabase-url and --service-role-key (or --env-file with SUPABASE_PUBLIC_URL and SERVICE_ROLE_KEY).",
            )),
        }
    }

    /// The Auth (GoTrue) admin client of `inst`.
    pub fn auth(&self, inst: &Instance) -> Result<AuthApi, ToolError> {
        let (url, key) = self.supabase_key(inst)?;
        cached(&self.auth, &inst.name, || {
            AuthApi::new(url, key, &self.config, &self.redactor).map_err(ToolError::from)
        })
    }

    /// The Storage client of `inst`.
    pub fn storage(&self, inst: &Instance) -> Result<StorageApi, ToolError> {
        let (url, key) = self.supabase_key(inst)?;
        cached(&self.storage, &inst.name, || {
            StorageApi::new(url, key, &self.config, &self.redactor).map_err(ToolError::from)
        })
    }

    /// The Dokploy client of `inst`.
    pub fn dokploy(&self, inst: &Instance) -> Result<DokployApi, ToolError> {
        let (Some(url), Some(key)) = (&inst.dokploy_url, &inst.dokploy_api_key) else {
            return Err(not_configured(
                inst,
                "Dokploy URL and API key",
                "Pass --dokploy-url and --dokploy-api-key (or DOKPLOY_URL / DOKPLOY_API_KEY).",
            ));
        };
        cached(&self.dokploy, &inst.name, || {
            DokployApi::new(url, key, &self.config, &self.redactor).map_err(ToolError::from)
        })
    }
}
