//! The hook the configuration calls: finds the stored login of the data
//! directory and, for a cloud instance without a personal access token,
//! gives its (fresh) access token. Failures are logged, never fatal: the
//! instance is then simply without Management API credentials.

use std::path::Path;

use super::refresh::TokenSource;
use super::settings::OAuthSettings;
use super::store::TokenStore;
use crate::config::file::FileOAuth;
use crate::secret::Secret;

/// The login stored under `data_dir`, if any (reads the login file only).
pub fn stored_login(data_dir: &Path, file: &FileOAuth) -> Option<TokenSource> {
    let settings = match OAuthSettings::from_env(file) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("the stored OAuth login is not used: {e}");
            return None;
        }
    };
    match TokenSource::open(TokenStore::new(data_dir), &settings) {
        Ok(source) => source,
        Err(e) => {
            tracing::warn!("the stored OAuth login is not used: {e}");
            None
        }
    }
}

/// The access token an instance starts with, refreshed first when it is
/// about to expire. When the refresh fails the stored token is kept (the
/// Management API client tries again, and its error says what to do);
/// `None` when the login cannot be read at all. Failures are logged.
pub fn startup_token(source: &TokenSource) -> Option<Secret> {
    match source.current() {
        Ok((_, token)) => Some(token),
        Err(e) => {
            tracing::warn!("the stored OAuth login cannot be used yet: {e}");
            source.stored_token()
        }
    }
}
