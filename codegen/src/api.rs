//! The set of APIs this project generates clients for, and their file names.

use std::fmt;
use std::str::FromStr;

/// Errors raised when naming an API.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The name is not one of the known APIs.
    #[error("unknown API `{0}` (expected one of: management, auth, storage, dokploy)")]
    Unknown(String),
}

/// One of the HTTP APIs the server talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Api {
    /// Supabase Management API (api.supabase.com).
    Management,
    /// Supabase Auth (GoTrue).
    Auth,
    /// Supabase Storage.
    Storage,
    /// Dokploy.
    Dokploy,
}

impl Api {
    /// Every API, in the order modules are emitted.
    pub const ALL: [Api; 4] = [Api::Management, Api::Auth, Api::Storage, Api::Dokploy];

    /// Short name, also the Rust module name in the `generated` crate.
    pub fn name(self) -> &'static str {
        match self {
            Api::Management => "management",
            Api::Auth => "auth",
            Api::Storage => "storage",
            Api::Dokploy => "dokploy",
        }
    }

    /// File name of our spec inside `specs/`.
    pub fn spec_file(self) -> &'static str {
        match self {
            Api::Management => "supabase-management.yaml",
            Api::Auth => "supabase-auth.yaml",
            Api::Storage => "supabase-storage.yaml",
            Api::Dokploy => "dokploy.yaml",
        }
    }

    /// Workspace-relative path of our spec, as recorded in headers and hash files.
    pub fn spec_path(self) -> String {
        format!("specs/{}", self.spec_file())
    }

    /// File name of the unmodified upstream document kept beside the repository.
    pub fn upstream_file(self) -> &'static str {
        match self {
            Api::Management => "supabase-management-api.json",
            Api::Auth => "supabase-auth.yaml",
            Api::Storage => "supabase-storage.json",
            Api::Dokploy => "dokploy.json",
        }
    }

    /// Human-readable title used in generated documentation.
    pub fn title(self) -> &'static str {
        match self {
            Api::Management => "Supabase Management API",
            Api::Auth => "Supabase Auth API",
            Api::Storage => "Supabase Storage API",
            Api::Dokploy => "Dokploy API",
        }
    }
}

impl fmt::Display for Api {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Api {
    type Err = ApiError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Api::ALL
            .into_iter()
            .find(|api| api.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| ApiError::Unknown(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for api in Api::ALL {
            assert_eq!(api.name().parse::<Api>().unwrap(), api);
        }
        assert!("nope".parse::<Api>().is_err());
    }
}
