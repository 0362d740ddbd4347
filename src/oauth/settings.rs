//! The OAuth app settings outside the `login` flags: the `[oauth]` section
//! of the config file and the environment (`SUPABASE_OAUTH_CLIENT_ID`,
//! `SUPABASE_OAUTH_CLIENT_SECRET`), as `serve` and the other subcommands
//! read them to refresh a stored login.

use super::endpoints::ClientAuth;
use super::store::StoreChoice;
use crate::config::file::FileOAuth;
use crate::secret::Secret;

pub const ENV_CLIENT_ID: &str = "SUPABASE_OAUTH_CLIENT_ID";
pub const ENV_CLIENT_SECRET: &str = "SUPABASE_OAUTH_CLIENT_SECRET";

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("unknown token store `{0}`; use auto, keyring or file")]
    TokenStore(String),
    #[error("unknown client authentication `{0}`; use basic or body")]
    ClientAuth(String),
}

/// The OAuth app as configured (flags are applied on top by `login`).
#[derive(Debug, Clone, Default)]
pub struct OAuthSettings {
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    pub token_store: StoreChoice,
    pub client_auth: ClientAuth,
}

impl OAuthSettings {
    /// Flags (already holding their environment variables) over the config
    /// file's `[oauth]` section.
    pub fn resolve(
        client_id: Option<String>,
        client_secret: Option<String>,
        token_store: Option<&str>,
        client_auth: Option<&str>,
        file: &FileOAuth,
    ) -> Result<Self, SettingsError> {
        let nonempty = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
        let store = token_store
            .or(file.token_store.as_deref())
            .unwrap_or("auto");
        let auth = client_auth
            .or(file.client_auth.as_deref())
            .unwrap_or("basic");
        Ok(Self {
            client_id: nonempty(client_id).or_else(|| nonempty(file.client_id.clone())),
            client_secret: nonempty(client_secret)
                .or_else(|| nonempty(file.client_secret.clone()))
                .map(Secret::new),
            token_store: StoreChoice::parse(store)
                .ok_or_else(|| SettingsError::TokenStore(store.to_owned()))?,
            client_auth: ClientAuth::parse(auth)
                .ok_or_else(|| SettingsError::ClientAuth(auth.to_owned()))?,
        })
    }

    /// The process environment over the config file: what the server uses.
    pub fn from_env(file: &FileOAuth) -> Result<Self, SettingsError> {
        let var = |name| std::env::var(name).ok();
        Self::resolve(var(ENV_CLIENT_ID), var(ENV_CLIENT_SECRET), None, None, file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_file() {
        let file = FileOAuth {
            client_id: Some("file-id".into()),
            client_secret: Some("file-secret".into()),
            token_store: Some("file".into()),
            client_auth: Some("body".into()),
        };
        let s = OAuthSettings::resolve(Some("flag-id".into()), None, None, None, &file).unwrap();
        assert_eq!(s.client_id.as_deref(), Some("flag-id"));
        assert_eq!(s.client_secret.unwrap().expose(), "file-secret");
        assert_eq!(s.token_store, StoreChoice::File);
        assert_eq!(s.client_auth, ClientAuth::Body);
        let s = OAuthSettings::resolve(
            None,
            Some(String::new()),
            Some("keyring"),
            Some("basic"),
            &FileOAuth::default(),
        )
        .unwrap();
        assert!(s.client_id.is_none() && s.client_secret.is_none());
        assert_eq!(s.token_store, StoreChoice::Keyring);
        assert!(
            OAuthSettings::resolve(None, None, Some("vault"), None, &FileOAuth::default()).is_err()
        );
        assert!(
            OAuthSettings::resolve(None, None, None, Some("jwt"), &FileOAuth::default()).is_err()
        );
    }
}
