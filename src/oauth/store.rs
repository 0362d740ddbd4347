//! Where a login's tokens live between runs. The file `oauth-login.json` in
//! the data directory always describes the login (API URL, client id,
//! expiry, where the secrets are) and is created with mode 0600, written to
//! a temporary name and renamed. The secrets (access token, refresh token,
//! and the client secret only when asked for) are in the OS keyring when
//! there is one, otherwise (and always with `--token-store file`) in that
//! same file.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::endpoints::{OAuthApp, TokenResponse};
use crate::secret::Secret;

/// Name of the login file in the data directory.
pub const FILE_NAME: &str = "oauth-login.json";
/// Service name of the keyring entry.
pub const KEYRING_SERVICE: &str = "supabase-mcp";
const FORMAT: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "could not {action} {} ({source}); check that the data directory (--data-dir) is \
         writable",
        path.display()
    )]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the stored login {} cannot be read ({reason}); remove it with `supabase-mcp logout` \
         (or delete the file) and run `supabase-mcp login` again",
        path.display()
    )]
    Corrupt { path: PathBuf, reason: String },
    #[error(
        "the OS keyring could not be used ({reason}); run `supabase-mcp login --token-store \
         file` to keep the tokens in a file only you can read, or unlock (or install) a Secret \
         Service keyring such as GNOME Keyring or KWallet"
    )]
    Keyring { reason: String },
    #[error(
        "the stored login says its tokens are in the OS keyring, but the keyring has no entry \
         `{account}`; run `supabase-mcp login` again"
    )]
    KeyringEntryMissing { account: String },
}

/// Where `login` should put the secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StoreChoice {
    /// The OS keyring if it works, else the file.
    #[default]
    Auto,
    Keyring,
    File,
}

impl StoreChoice {
    /// `auto`, `keyring` or `file`.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" | "" => Some(Self::Auto),
            "keyring" => Some(Self::Keyring),
            "file" => Some(Self::File),
            _ => None,
        }
    }
}

/// Where the secrets of a stored login are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    File,
    Keyring,
}

/// A login as kept between runs. `Debug` shows no secret.
#[derive(Clone)]
pub struct Login {
    pub api_url: String,
    pub client_id: String,
    pub token_type: String,
    pub obtained_at: DateTime<Utc>,
    /// `None` when the service gave no lifetime.
    pub expires_at: Option<DateTime<Utc>>,
    pub access_token: Secret,
    pub refresh_token: Option<Secret>,
    /// Only kept when the user asked for it (`--store-client-secret`).
    pub client_secret: Option<Secret>,
}

impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Login")
            .field("api_url", &self.api_url)
            .field("client_id", &self.client_id)
            .field("expires_at", &self.expires_at)
            .field("has_refresh_token", &self.refresh_token.is_some())
            .field("client_secret_stored", &self.client_secret.is_some())
            .finish_non_exhaustive()
    }
}

impl Login {
    /// The login a code exchange produced.
    pub fn from_response(
        app: &OAuthApp,
        response: TokenResponse,
        now: DateTime<Utc>,
        keep_client_secret: bool,
    ) -> Self {
        Self {
            api_url: app.api_url.clone(),
            client_id: app.client_id.clone(),
            token_type: response.token_type,
            obtained_at: now,
            expires_at: expiry(now, response.expires_in),
            access_token: response.access_token,
            refresh_token: response.refresh_token,
            client_secret: if keep_client_secret {
                app.client_secret.clone()
            } else {
                None
            },
        }
    }

    /// This login after a refresh; keeps the old refresh token when the
    /// service sent no new one.
    pub fn refreshed(&self, response: TokenResponse, now: DateTime<Utc>) -> Self {
        Self {
            token_type: response.token_type,
            obtained_at: now,
            expires_at: expiry(now, response.expires_in),
            access_token: response.access_token,
            refresh_token: response
                .refresh_token
                .or_else(|| self.refresh_token.clone()),
            ..self.clone()
        }
    }

    /// True when the access token expires within `margin` of `now` (or has).
    pub fn expires_within(&self, now: DateTime<Utc>, margin: std::time::Duration) -> bool {
        let margin = chrono::Duration::from_std(margin).unwrap_or(chrono::Duration::MAX);
        self.expires_at
            .is_some_and(|at| at <= now.checked_add_signed(margin).unwrap_or(now))
    }

    /// The keyring account of this login.
    pub fn account(&self) -> String {
        account(&self.client_id, &self.api_url)
    }
}

fn expiry(now: DateTime<Utc>, expires_in: Option<u64>) -> Option<DateTime<Utc>> {
    let secs = i64::try_from(expires_in?).ok()?;
    now.checked_add_signed(chrono::Duration::seconds(secs))
}

fn account(client_id: &str, api_url: &str) -> String {
    format!("oauth:{client_id}@{api_url}")
}

/// The login file. Secrets only when `store` is `file`.
#[derive(Serialize, Deserialize)]
struct FileRecord {
    format: u32,
    store: StoreKind,
    api_url: String,
    client_id: String,
    token_type: String,
    obtained_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    has_refresh_token: bool,
    client_secret_stored: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    access_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_secret: Option<String>,
}

/// The keyring entry's value.
#[derive(Serialize, Deserialize)]
struct VaultRecord {
    access_token: String,
    refresh_token: Option<String>,
    client_secret: Option<String>,
}

/// What `login --status` shows. Never a token.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub store: StoreKind,
    /// The file, or the keyring entry.
    pub location: String,
    /// The login file (for the keyring: the file that points at the entry).
    pub file: PathBuf,
    /// The file's permission bits, e.g. `0600`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_mode: Option<String>,
    pub api_url: String,
    pub client_id: String,
    pub obtained_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub expired: bool,
    pub has_refresh_token: bool,
    pub client_secret_stored: bool,
}

/// Where a save went.
#[derive(Debug, Clone)]
pub struct Saved {
    pub kind: StoreKind,
    pub location: String,
    /// Why the keyring was not used, when `auto` fell back to the file.
    pub fallback_reason: Option<String>,
}

/// What a delete removed.
#[derive(Debug, Clone)]
pub struct Deleted {
    pub kind: StoreKind,
    pub location: String,
    /// Set when the keyring entry could not be removed (the file was).
    pub keyring_error: Option<String>,
}

/// A place for secrets outside the file: the OS keyring, or a stand-in.
pub trait Vault: Send + Sync {
    /// Human name, e.g. "the OS keyring".
    fn describe(&self) -> String;
    fn set(&self, account: &str, value: &str) -> Result<(), String>;
    fn get(&self, account: &str) -> Result<Option<String>, String>;
    /// True when an entry was removed.
    fn delete(&self, account: &str) -> Result<bool, String>;
}

/// The platform's keyring through the `keyring` crate: Keychain on macOS,
/// Credential Manager on Windows, the Secret Service (over D-Bus) elsewhere.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsKeyring;

impl OsKeyring {
    fn entry(account: &str) -> Result<keyring::Entry, String> {
        keyring::Entry::new(KEYRING_SERVICE, account).map_err(|e| match e {
            keyring::Error::NoDefaultStore => match keyring::Entry::store_status() {
                Err(cause) => format!("no keyring service is reachable: {cause}"),
                Ok(()) => "no keyring service is reachable".to_owned(),
            },
            other => other.to_string(),
        })
    }
}

impl Vault for OsKeyring {
    fn describe(&self) -> String {
        "the OS keyring".to_owned()
    }

    fn set(&self, account: &str, value: &str) -> Result<(), String> {
        Self::entry(account)?
            .set_password(value)
            .map_err(|e| e.to_string())
    }

    fn get(&self, account: &str) -> Result<Option<String>, String> {
        match Self::entry(account)?.get_password() {
            Ok(v) => Ok(Some(v)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    fn delete(&self, account: &str) -> Result<bool, String> {
        match Self::entry(account)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring::Error::NoEntry) => Ok(false),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// The stored login of one data directory.
#[derive(Clone)]
pub struct TokenStore {
    dir: PathBuf,
    vault: Arc<dyn Vault>,
}

impl fmt::Debug for TokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenStore")
            .field("dir", &self.dir)
            .field("vault", &self.vault.describe())
            .finish()
    }
}

impl TokenStore {
    /// The store of `data_dir`, with the OS keyring.
    pub fn new(data_dir: &Path) -> Self {
        Self::with_vault(data_dir, Arc::new(OsKeyring))
    }

    /// The store of `data_dir` with another vault (tests).
    pub fn with_vault(data_dir: &Path, vault: Arc<dyn Vault>) -> Self {
        Self {
            dir: data_dir.to_owned(),
            vault,
        }
    }

    /// The login file.
    pub fn path(&self) -> PathBuf {
        self.dir.join(FILE_NAME)
    }

    /// Saves a new login where `choice` says, replacing any earlier one.
    pub fn save(&self, login: &Login, choice: StoreChoice) -> Result<Saved, StoreError> {
        let previous = self.read_record().ok().flatten();
        let saved = match choice {
            StoreChoice::File => self.save_file(login, None)?,
            StoreChoice::Keyring => self.save_keyring(login)?,
            StoreChoice::Auto => match self.save_keyring(login) {
                Ok(saved) => saved,
                Err(StoreError::Keyring { reason }) => self.save_file(login, Some(reason))?,
                Err(e) => return Err(e),
            },
        };
        // An earlier login in the keyring under another account would linger.
        if let Some(prev) = previous
            && prev.store == StoreKind::Keyring
        {
            let old = account(&prev.client_id, &prev.api_url);
            if saved.kind == StoreKind::File || old != login.account() {
                let _ = self.vault.delete(&old);
            }
        }
        Ok(saved)
    }

    /// Saves a refreshed login in the place it came from.
    pub fn save_in(&self, login: &Login, kind: StoreKind) -> Result<(), StoreError> {
        match kind {
            StoreKind::File => self.save_file(login, None).map(drop),
            StoreKind::Keyring => self.save_keyring(login).map(drop),
        }
    }

    fn save_file(&self, login: &Login, fallback: Option<String>) -> Result<Saved, StoreError> {
        let record = record(login, StoreKind::File);
        self.write_record(&record)?;
        Ok(Saved {
            kind: StoreKind::File,
            location: self.path().display().to_string(),
            fallback_reason: fallback,
        })
    }

    fn save_keyring(&self, login: &Login) -> Result<Saved, StoreError> {
        let value = serde_json::to_string(&VaultRecord {
            access_token: login.access_token.expose().to_owned(),
            refresh_token: login.refresh_token.as_ref().map(|s| s.expose().to_owned()),
            client_secret: login.client_secret.as_ref().map(|s| s.expose().to_owned()),
        })
        .map_err(|e| StoreError::Keyring {
            reason: e.to_string(),
        })?;
        let account = login.account();
        self.vault
            .set(&account, &value)
            .map_err(|reason| StoreError::Keyring { reason })?;
        if let Err(e) = self.write_record(&record(login, StoreKind::Keyring)) {
            let _ = self.vault.delete(&account);
            return Err(e);
        }
        Ok(Saved {
            kind: StoreKind::Keyring,
            location: format!(
                "{} (service `{KEYRING_SERVICE}`, account `{account}`)",
                self.vault.describe()
            ),
            fallback_reason: None,
        })
    }

    /// The stored login, if any, and where its secrets are.
    pub fn load(&self) -> Result<Option<(Login, StoreKind)>, StoreError> {
        let Some(rec) = self.read_record()? else {
            return Ok(None);
        };
        let (access, refresh, client_secret) = match rec.store {
            StoreKind::File => (
                rec.access_token.clone(),
                rec.refresh_token.clone(),
                rec.client_secret.clone(),
            ),
            StoreKind::Keyring => {
                let account = account(&rec.client_id, &rec.api_url);
                let value = self
                    .vault
                    .get(&account)
                    .map_err(|reason| StoreError::Keyring { reason })?
                    .ok_or_else(|| StoreError::KeyringEntryMissing {
                        account: account.clone(),
                    })?;
                let v: VaultRecord =
                    serde_json::from_str(&value).map_err(|e| StoreError::Corrupt {
                        path: self.path(),
                        reason: format!("the keyring entry `{account}` is not readable: {e}"),
                    })?;
                (Some(v.access_token), v.refresh_token, v.client_secret)
            }
        };
        let Some(access) = access.filter(|a| !a.is_empty()) else {
            return Err(StoreError::Corrupt {
                path: self.path(),
                reason: "it has no access token".to_owned(),
            });
        };
        Ok(Some((
            Login {
                api_url: rec.api_url,
                client_id: rec.client_id,
                token_type: rec.token_type,
                obtained_at: rec.obtained_at,
                expires_at: rec.expires_at,
                access_token: Secret::new(access),
                refresh_token: refresh.filter(|r| !r.is_empty()).map(Secret::new),
                client_secret: client_secret.filter(|s| !s.is_empty()).map(Secret::new),
            },
            rec.store,
        )))
    }

    /// What is stored, read from the login file only (the keyring is not
    /// touched).
    pub fn status(&self, now: DateTime<Utc>) -> Result<Option<Status>, StoreError> {
        let Some(rec) = self.read_record()? else {
            return Ok(None);
        };
        let path = self.path();
        let location = match rec.store {
            StoreKind::File => path.display().to_string(),
            StoreKind::Keyring => format!(
                "{} (service `{KEYRING_SERVICE}`, account `{}`)",
                self.vault.describe(),
                account(&rec.client_id, &rec.api_url)
            ),
        };
        Ok(Some(Status {
            store: rec.store,
            location,
            file_mode: file_mode(&path),
            file: path,
            expired: rec.expires_at.is_some_and(|at| at <= now),
            api_url: rec.api_url,
            client_id: rec.client_id,
            obtained_at: rec.obtained_at,
            expires_at: rec.expires_at,
            has_refresh_token: rec.has_refresh_token,
            client_secret_stored: rec.client_secret_stored,
        }))
    }

    /// Removes the stored login: the keyring entry (if any) and the file.
    /// A file that cannot be parsed is removed too.
    pub fn delete(&self) -> Result<Option<Deleted>, StoreError> {
        let path = self.path();
        let rec = match self.read_record() {
            Ok(Some(rec)) => Some(rec),
            Ok(None) => return Ok(None),
            Err(StoreError::Corrupt { .. }) => None,
            Err(e) => return Err(e),
        };
        let mut deleted = Deleted {
            kind: StoreKind::File,
            location: path.display().to_string(),
            keyring_error: None,
        };
        if let Some(rec) = &rec
            && rec.store == StoreKind::Keyring
        {
            let account = account(&rec.client_id, &rec.api_url);
            deleted.kind = StoreKind::Keyring;
            deleted.location = format!(
                "{} (service `{KEYRING_SERVICE}`, account `{account}`)",
                self.vault.describe()
            );
            if let Err(e) = self.vault.delete(&account) {
                deleted.keyring_error = Some(e);
            }
        }
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(Some(deleted)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Some(deleted)),
            Err(source) => Err(StoreError::Io {
                action: "remove",
                path,
                source,
            }),
        }
    }

    fn read_record(&self) -> Result<Option<FileRecord>, StoreError> {
        let path = self.path();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(StoreError::Io {
                    action: "read",
                    path,
                    source,
                });
            }
        };
        let rec: FileRecord = serde_json::from_str(&text).map_err(|e| StoreError::Corrupt {
            path: path.clone(),
            // serde_json's message names a line and column, never the value.
            reason: format!("not valid JSON for a login: {e}"),
        })?;
        if rec.format != FORMAT {
            return Err(StoreError::Corrupt {
                path,
                reason: format!("format {} is not known to this version", rec.format),
            });
        }
        Ok(Some(rec))
    }

    /// Writes the login file: a temporary file created with mode 0600 in
    /// the same directory, synced, then renamed over the old one.
    fn write_record(&self, rec: &FileRecord) -> Result<(), StoreError> {
        let io = |action, path: &Path| {
            let path = path.to_owned();
            move |source| StoreError::Io {
                action,
                path,
                source,
            }
        };
        std::fs::create_dir_all(&self.dir).map_err(io("create", &self.dir))?;
        let json = serde_json::to_vec_pretty(rec).map_err(|e| StoreError::Corrupt {
            path: self.path(),
            reason: e.to_string(),
        })?;
        let tmp = self
            .dir
            .join(format!(".{FILE_NAME}.{:016x}.tmp", rand::random::<u64>()));
        let result = (|| {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let mut file = options.open(&tmp).map_err(io("create", &tmp))?;
            file.write_all(&json).map_err(io("write", &tmp))?;
            file.write_all(b"\n").map_err(io("write", &tmp))?;
            file.sync_all().map_err(io("write", &tmp))?;
            drop(file);
            std::fs::rename(&tmp, self.path()).map_err(io("replace", &self.path()))
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }
}

fn record(login: &Login, store: StoreKind) -> FileRecord {
    let in_file = store == StoreKind::File;
    let secret = |s: Option<&Secret>| s.filter(|_| in_file).map(|s| s.expose().to_owned());
    FileRecord {
        format: FORMAT,
        store,
        api_url: login.api_url.clone(),
        client_id: login.client_id.clone(),
        token_type: login.token_type.clone(),
        obtained_at: login.obtained_at,
        expires_at: login.expires_at,
        has_refresh_token: login.refresh_token.is_some(),
        client_secret_stored: login.client_secret.is_some(),
        access_token: secret(Some(&login.access_token)),
        refresh_token: secret(login.refresh_token.as_ref()),
        client_secret: secret(login.client_secret.as_ref()),
    }
}

#[cfg(unix)]
fn file_mode(path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o7777;
    Some(format!("{mode:04o}"))
}

#[cfg(not(unix))]
fn file_mode(_path: &Path) -> Option<String> {
    None
}

/// A vault in memory, for tests of the keyring path.
#[cfg(test)]
#[derive(Default)]
pub(crate) struct MemoryVault {
    pub entries: std::sync::Mutex<std::collections::HashMap<String, String>>,
    pub broken: bool,
}

#[cfg(test)]
impl Vault for MemoryVault {
    fn describe(&self) -> String {
        "the test keyring".to_owned()
    }
    fn set(&self, account: &str, value: &str) -> Result<(), String> {
        if self.broken {
            return Err("no keyring service is reachable".to_owned());
        }
        self.entries
            .lock()
            .unwrap()
            .insert(account.to_owned(), value.to_owned());
        Ok(())
    }
    fn get(&self, account: &str) -> Result<Option<String>, String> {
        Ok(self.entries.lock().unwrap().get(account).cloned())
    }
    fn delete(&self, account: &str) -> Result<bool, String> {
        Ok(self.entries.lock().unwrap().remove(account).is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login(now: DateTime<Utc>) -> Login {
        Login {
            api_url: "https://api.example.com".into(),
            client_id: "client-1".into(),
            token_type: "Bearer".into(),
            obtained_at: now,
            expires_at: Some(now + chrono::Duration::hours(1)),
            access_token: Secret::new("access-token-value-1"),
            refresh_token: Some(Secret::new("refresh-token-value-1")),
            client_secret: None,
        }
    }

    #[test]
    fn file_store_round_trip_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::with_vault(dir.path(), Arc::new(MemoryVault::default()));
        assert!(store.load().unwrap().is_none());
        let now = Utc::now();
        let saved = store.save(&login(now), StoreChoice::File).unwrap();
        assert_eq!(saved.kind, StoreKind::File);
        let (back, kind) = store.load().unwrap().unwrap();
        assert_eq!(kind, StoreKind::File);
        assert_eq!(back.access_token.expose(), "access-token-value-1");
        assert_eq!(
            back.refresh_token.unwrap().expose(),
            "refresh-token-value-1"
        );
        assert!(back.client_secret.is_none());
        #[cfg(unix)]
        assert_eq!(file_mode(&store.path()).as_deref(), Some("0600"));
        let status = store.status(now).unwrap().unwrap();
        assert!(!status.expired && status.has_refresh_token && !status.client_secret_stored);
        let json = serde_json::to_string(&status).unwrap();
        assert!(!json.contains("token-value"), "{json}");
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, vec![FILE_NAME.to_owned()]);
        assert!(store.delete().unwrap().is_some());
        assert!(store.load().unwrap().is_none());
        assert!(store.delete().unwrap().is_none());
    }

    #[test]
    fn keyring_store_keeps_secrets_out_of_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let vault = Arc::new(MemoryVault::default());
        let store = TokenStore::with_vault(dir.path(), vault.clone());
        let now = Utc::now();
        let saved = store.save(&login(now), StoreChoice::Auto).unwrap();
        assert_eq!(saved.kind, StoreKind::Keyring);
        let text = std::fs::read_to_string(store.path()).unwrap();
        assert!(!text.contains("token-value"), "{text}");
        assert_eq!(vault.entries.lock().unwrap().len(), 1);
        let (back, kind) = store.load().unwrap().unwrap();
        assert_eq!(kind, StoreKind::Keyring);
        assert_eq!(back.access_token.expose(), "access-token-value-1");
        // Switching to the file removes the keyring entry.
        store.save(&login(now), StoreChoice::File).unwrap();
        assert!(vault.entries.lock().unwrap().is_empty());
        store.save(&login(now), StoreChoice::Keyring).unwrap();
        let deleted = store.delete().unwrap().unwrap();
        assert_eq!(deleted.kind, StoreKind::Keyring);
        assert!(vault.entries.lock().unwrap().is_empty());
        assert!(!store.path().exists());
    }

    #[test]
    fn auto_falls_back_to_the_file_without_a_keyring() {
        let dir = tempfile::tempdir().unwrap();
        let vault = Arc::new(MemoryVault {
            broken: true,
            ..Default::default()
        });
        let store = TokenStore::with_vault(dir.path(), vault);
        let saved = store.save(&login(Utc::now()), StoreChoice::Auto).unwrap();
        assert_eq!(saved.kind, StoreKind::File);
        assert!(saved.fallback_reason.unwrap().contains("keyring"));
        let err = store
            .save(&login(Utc::now()), StoreChoice::Keyring)
            .unwrap_err();
        assert!(err.to_string().contains("--token-store file"), "{err}");
    }

    #[test]
    fn missing_keyring_entry_and_corrupt_files_are_explained() {
        let dir = tempfile::tempdir().unwrap();
        let vault = Arc::new(MemoryVault::default());
        let store = TokenStore::with_vault(dir.path(), vault.clone());
        store
            .save(&login(Utc::now()), StoreChoice::Keyring)
            .unwrap();
        vault.entries.lock().unwrap().clear();
        let err = store.load().unwrap_err();
        assert!(
            matches!(err, StoreError::KeyringEntryMissing { .. }),
            "{err}"
        );
        std::fs::write(store.path(), "{ not json access-token-value-1").unwrap();
        let err = store.load().unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
        assert!(!err.to_string().contains("access-token-value-1"));
        assert!(store.delete().unwrap().is_some());
        assert!(!store.path().exists());
    }

    #[test]
    fn expiry_and_refresh_bookkeeping() {
        let now = Utc::now();
        let l = login(now);
        assert!(!l.expires_within(now, std::time::Duration::from_secs(300)));
        assert!(l.expires_within(now, std::time::Duration::from_secs(3600)));
        let r = l.refreshed(
            TokenResponse {
                access_token: Secret::new("new-access"),
                refresh_token: None,
                expires_in: Some(60),
                token_type: "Bearer".into(),
            },
            now,
        );
        assert_eq!(r.access_token.expose(), "new-access");
        assert_eq!(r.refresh_token.unwrap().expose(), "refresh-token-value-1");
        assert_eq!(r.expires_at, Some(now + chrono::Duration::seconds(60)));
        let none = Login {
            expires_at: None,
            ..login(now)
        };
        assert!(!none.expires_within(now, std::time::Duration::from_secs(3600)));
    }
}
