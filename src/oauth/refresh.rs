//! The stored login as the server's Management API credential
//! ([`TokenSource`]): its secrets are read on first use, and the access
//! token is refreshed with the refresh token when less than
//! [`REFRESH_MARGIN`] remains (at startup and whenever a Management API
//! client is handed out), then saved back where it came from.
//!
//! Refreshing needs the OAuth app's client secret: from
//! `SUPABASE_OAUTH_CLIENT_SECRET`, the config file's `[oauth]` section, or
//! the login itself when it was made with `--store-client-secret`.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::endpoints::{
    ClientAuth, DEFAULT_CALL_TIMEOUT, EndpointError, Endpoints, OAuthApp, normalize_api_url,
};
use super::settings::OAuthSettings;
use super::store::{Login, StoreError, StoreKind, TokenStore};
use crate::result::{ErrorCode, ToolError};
use crate::secret::Secret;

/// Refresh when the access token has less than this left.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    #[error(
        "the stored OAuth login has no refresh token, so its access token (expiring {expires}) \
         cannot be renewed; run `supabase-mcp login` again"
    )]
    NoRefreshToken { expires: String },
    #[error("the stored OAuth login went away while in use; run `supabase-mcp login` again")]
    Gone,
    #[error("the token refresh could not run ({0}); try again")]
    Runtime(String),
}

impl From<RefreshError> for ToolError {
    fn from(e: RefreshError) -> Self {
        ToolError::new(
            ErrorCode::NotConfigured,
            "the stored OAuth login (`supabase-mcp login`) cannot be used",
        )
        .reason(e.to_string())
        .suggestion(
            "Run `supabase-mcp login` again, or pass a personal access token with \
             --access-token (SUPABASE_ACCESS_TOKEN), which takes precedence.",
        )
    }
}

/// What the login file says, before any secret is read.
#[derive(Debug, Clone)]
struct Described {
    api_url: String,
    client_id: String,
}

/// A stored login shared by every instance that uses it. Cloning shares it.
#[derive(Clone)]
pub struct TokenSource {
    inner: Arc<Inner>,
}

struct Inner {
    store: TokenStore,
    described: Described,
    /// Secrets, read on first use.
    login: Mutex<Option<(Login, StoreKind)>>,
    /// Counts refreshes; clients built for an older value are stale.
    generation: AtomicU64,
    /// Held while a refresh runs, so only one runs at a time.
    refreshing: Mutex<()>,
    client_secret: Option<Secret>,
    client_auth: ClientAuth,
    margin_secs: AtomicU64,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSource")
            .field("api_url", &self.inner.described.api_url)
            .field("client_id", &self.inner.described.client_id)
            .field("generation", &self.generation())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl TokenSource {
    /// The login stored in `store`, if there is one. Reads only the login
    /// file; the keyring is not touched until the token is needed.
    pub fn open(store: TokenStore, settings: &OAuthSettings) -> Result<Option<Self>, RefreshError> {
        let Some(status) = store.status(Utc::now())? else {
            return Ok(None);
        };
        Ok(Some(Self {
            inner: Arc::new(Inner {
                store,
                described: Described {
                    api_url: status.api_url,
                    client_id: status.client_id,
                },
                login: Mutex::new(None),
                generation: AtomicU64::new(0),
                refreshing: Mutex::new(()),
                client_secret: settings.client_secret.clone(),
                client_auth: settings.client_auth,
                margin_secs: AtomicU64::new(REFRESH_MARGIN.as_secs()),
            }),
        }))
    }

    /// The Management API the login belongs to.
    pub fn api_url(&self) -> &str {
        &self.inner.described.api_url
    }

    /// True when the login belongs to `api_url` (`None`: the default API).
    pub fn serves(&self, api_url: Option<&str>) -> bool {
        let wanted = api_url.unwrap_or(crate::config::DEFAULT_API_URL);
        normalize_api_url(wanted).is_ok_and(|w| w == self.inner.described.api_url)
    }

    /// Goes up by one with every refresh.
    pub fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::SeqCst)
    }

    /// When the current access token expires, once it has been read.
    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        lock(&self.inner.login)
            .as_ref()
            .and_then(|(l, _)| l.expires_at)
    }

    /// The access token as loaded (or last refreshed), without refreshing.
    pub fn stored_token(&self) -> Option<Secret> {
        lock(&self.inner.login)
            .as_ref()
            .map(|(l, _)| l.access_token.clone())
    }

    /// Changes how early before expiry a refresh happens.
    pub fn set_refresh_margin(&self, margin: Duration) {
        self.inner
            .margin_secs
            .store(margin.as_secs(), Ordering::SeqCst);
    }

    fn margin(&self) -> Duration {
        Duration::from_secs(self.inner.margin_secs.load(Ordering::SeqCst))
    }

    /// The access token to send now, with the generation it belongs to:
    /// refreshed first when it expires within the margin. When a refresh
    /// fails but the token has not expired yet, that token is returned (and
    /// the failure logged); once expired, the failure is the error.
    pub fn current(&self) -> Result<(u64, Secret), RefreshError> {
        self.ensure_loaded()?;
        if let Some(ready) = self.fresh(Utc::now()) {
            return Ok(ready);
        }
        let _one_at_a_time = lock(&self.inner.refreshing);
        let now = Utc::now();
        if let Some(ready) = self.fresh(now) {
            return Ok(ready);
        }
        let (login, kind) = lock(&self.inner.login).clone().ok_or(RefreshError::Gone)?;
        match self.refresh(&login, kind, now) {
            Ok(()) => {
                let guard = lock(&self.inner.login);
                let (l, _) = guard.as_ref().ok_or(RefreshError::Gone)?;
                Ok((self.generation(), l.access_token.clone()))
            }
            Err(e) if login.expires_at.is_some_and(|at| at > Utc::now()) => {
                tracing::warn!(
                    "could not refresh the stored OAuth token ({e}); using the current one until \
                     it expires"
                );
                Ok((self.generation(), login.access_token))
            }
            Err(e) => Err(e),
        }
    }

    /// The current token if it does not need a refresh.
    fn fresh(&self, now: DateTime<Utc>) -> Option<(u64, Secret)> {
        let guard = lock(&self.inner.login);
        let (login, _) = guard.as_ref()?;
        (!login.expires_within(now, self.margin()))
            .then(|| (self.generation(), login.access_token.clone()))
    }

    fn ensure_loaded(&self) -> Result<(), RefreshError> {
        let mut guard = lock(&self.inner.login);
        if guard.is_none() {
            let loaded = self.inner.store.load()?.ok_or(RefreshError::Gone)?;
            *guard = Some(loaded);
        }
        Ok(())
    }

    fn install(&self, login: Login, kind: StoreKind) {
        *lock(&self.inner.login) = Some((login, kind));
        self.inner.generation.fetch_add(1, Ordering::SeqCst);
    }

    fn refresh(
        &self,
        login: &Login,
        kind: StoreKind,
        now: DateTime<Utc>,
    ) -> Result<(), RefreshError> {
        // Another process using the same store may have refreshed already
        // (and the old refresh token may be spent).
        if let Ok(Some((stored, stored_kind))) = self.inner.store.load()
            && stored.api_url == login.api_url
            && stored.access_token != login.access_token
            && !stored.expires_within(now, self.margin())
        {
            self.install(stored, stored_kind);
            return Ok(());
        }
        let Some(refresh_token) = login.refresh_token.clone() else {
            return Err(RefreshError::NoRefreshToken {
                expires: login
                    .expires_at
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_else(|| "at an unknown time".to_owned()),
            });
        };
        let app = OAuthApp::new(
            &login.api_url,
            &login.client_id,
            self.inner
                .client_secret
                .clone()
                .or_else(|| login.client_secret.clone()),
            self.inner.client_auth,
        )?;
        let response = run_blocking(move || async move {
            let endpoints = Endpoints::new(app, DEFAULT_CALL_TIMEOUT)?;
            endpoints.refresh(&refresh_token).await
        })??;
        let renewed = login.refreshed(response, Utc::now());
        if let Err(e) = self.inner.store.save_in(&renewed, kind) {
            tracing::warn!(
                "the OAuth token was refreshed but could not be saved ({e}); this process goes \
                 on with it, but the next start may need `supabase-mcp login` again"
            );
        }
        tracing::info!(
            expires_at = renewed
                .expires_at
                .map(|t| t.to_rfc3339())
                .unwrap_or_default(),
            "refreshed the stored OAuth token"
        );
        self.install(renewed, kind);
        Ok(())
    }
}

/// Runs `fut` to completion from synchronous code, on a helper thread with
/// its own runtime (so it works inside and outside any tokio runtime). On a
/// multi-threaded runtime the calling worker hands its other tasks off first.
fn run_blocking<T, F, Fut>(make: F) -> Result<T, RefreshError>
where
    T: Send,
    F: FnOnce() -> Fut + Send,
    Fut: Future<Output = T>,
{
    let work = move || {
        std::thread::scope(|s| {
            s.spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map(|rt| rt.block_on(make()))
                    .map_err(|e| RefreshError::Runtime(e.to_string()))
            })
            .join()
            .unwrap_or_else(|_| {
                Err(RefreshError::Runtime(
                    "the refresh thread failed".to_owned(),
                ))
            })
        })
    };
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        _ => work(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::store::{MemoryVault, StoreChoice};

    fn stored(dir: &std::path::Path, expires_in: i64, refresh: Option<&str>) -> TokenStore {
        let store = TokenStore::with_vault(dir, Arc::new(MemoryVault::default()));
        let now = Utc::now();
        let login = Login {
            api_url: "http://127.0.0.1:9".into(),
            client_id: "client-1".into(),
            token_type: "Bearer".into(),
            obtained_at: now,
            expires_at: Some(now + chrono::Duration::seconds(expires_in)),
            access_token: Secret::new("old-access-token"),
            refresh_token: refresh.map(Secret::new),
            client_secret: None,
        };
        store.save(&login, StoreChoice::File).unwrap();
        store
    }

    #[test]
    fn a_fresh_token_is_used_as_is() {
        let dir = tempfile::tempdir().unwrap();
        let source = TokenSource::open(
            stored(dir.path(), 3600, Some("r")),
            &OAuthSettings::default(),
        )
        .unwrap()
        .unwrap();
        assert!(source.serves(Some("http://127.0.0.1:9/")));
        assert!(!source.serves(None));
        let (generation, token) = source.current().unwrap();
        assert_eq!((generation, token.expose()), (0, "old-access-token"));
        assert!(source.expires_at().is_some());
        assert!(!format!("{source:?}").contains("old-access-token"));
    }

    #[test]
    fn an_expired_token_without_refresh_token_says_to_log_in() {
        let dir = tempfile::tempdir().unwrap();
        let source = TokenSource::open(stored(dir.path(), -10, None), &OAuthSettings::default())
            .unwrap()
            .unwrap();
        let err = source.current().unwrap_err();
        assert!(matches!(err, RefreshError::NoRefreshToken { .. }), "{err}");
        let tool: ToolError = err.into();
        assert!(tool.to_text().contains("login"));
    }

    #[test]
    fn a_refresh_without_client_secret_is_explained_but_a_valid_token_still_works() {
        let dir = tempfile::tempdir().unwrap();
        let source = TokenSource::open(
            stored(dir.path(), 120, Some("r")),
            &OAuthSettings::default(),
        )
        .unwrap()
        .unwrap();
        // 2 minutes left, inside the margin: the refresh fails (no secret),
        // the token is still valid, so it is used.
        let (_, token) = source.current().unwrap();
        assert_eq!(token.expose(), "old-access-token");
        let dir = tempfile::tempdir().unwrap();
        let source =
            TokenSource::open(stored(dir.path(), -1, Some("r")), &OAuthSettings::default())
                .unwrap()
                .unwrap();
        let err = source.current().unwrap_err();
        assert!(
            err.to_string().contains("SUPABASE_OAUTH_CLIENT_SECRET"),
            "{err}"
        );
    }

    #[test]
    fn no_login_no_source() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::with_vault(dir.path(), Arc::new(MemoryVault::default()));
        assert!(
            TokenSource::open(store, &OAuthSettings::default())
                .unwrap()
                .is_none()
        );
    }
}
