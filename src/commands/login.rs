//! `login` and `logout`: the Management API OAuth sign-in and its stored
//! tokens (see `crate::oauth`). Progress and the authorization URL go to
//! stderr; the outcome is one JSON object on stdout. No token is printed.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use chrono::Utc;
use serde_json::json;

use crate::cli::{LoginArgs, LogoutArgs, Options};
use crate::config::{DEFAULT_API_URL, FileConfig, default_data_dir};
use crate::oauth::callback::{RedirectTarget, human_duration};
use crate::oauth::endpoints::DEFAULT_CALL_TIMEOUT;
use crate::oauth::flow::{AuthorizeOptions, FlowError, LoopbackLogin, PastedLogin};
use crate::oauth::{Endpoints, Login, OAuthApp, OAuthSettings, StoreKind, TokenStore};

/// How long `login` waits for the answer unless --timeout says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// What `login` and `logout` take from the global options and the config
/// file.
struct Context {
    file: FileConfig,
    data_dir: PathBuf,
    api_url: String,
}

impl Context {
    fn resolve(opts: &Options) -> anyhow::Result<Self> {
        let file = match &opts.config {
            Some(path) => FileConfig::load(path)?,
            None => FileConfig::default(),
        };
        let data_dir = opts
            .data_dir
            .clone()
            .or_else(|| file.data_dir.clone())
            .unwrap_or_else(default_data_dir);
        let api_url = opts
            .api_url
            .clone()
            .or_else(|| file.instances.first().and_then(|i| i.api_url.clone()))
            .unwrap_or_else(|| DEFAULT_API_URL.to_owned());
        Ok(Self {
            file,
            data_dir,
            api_url,
        })
    }
}

pub async fn login(args: LoginArgs, opts: &Options) -> anyhow::Result<ExitCode> {
    let ctx = Context::resolve(opts)?;
    let store = TokenStore::new(&ctx.data_dir);
    if args.status {
        return status(&store, opts);
    }
    let settings = OAuthSettings::resolve(
        args.client_id.clone(),
        args.client_secret.clone(),
        args.token_store.as_deref(),
        args.client_auth.as_deref(),
        &ctx.file.oauth,
    )?;
    let timeout = parse_timeout(args.timeout.as_deref())?;
    let app = OAuthApp::new(
        &ctx.api_url,
        settings.client_id.as_deref().unwrap_or_default(),
        settings.client_secret.clone(),
        settings.client_auth,
    )?;
    if app.client_secret.is_none() {
        if args.store_client_secret {
            anyhow::bail!(
                "--store-client-secret needs a client secret; pass --client-secret or set \
                 SUPABASE_OAUTH_CLIENT_SECRET"
            );
        }
        eprintln!(
            "• no client secret is set (--client-secret, SUPABASE_OAUTH_CLIENT_SECRET): the code \
             exchange is tried without one"
        );
    }
    let endpoints = Endpoints::new(app.clone(), DEFAULT_CALL_TIMEOUT)?;
    let options = AuthorizeOptions {
        organization_slug: args.organization.clone(),
    };

    let response = if args.no_listen {
        let redirect = args
            .redirect_uri
            .clone()
            .context("--no-listen needs --redirect-uri (a callback URL registered with the app)")?;
        let pending = PastedLogin::start(endpoints, &redirect, &options)?;
        show_url(pending.authorize_url().as_str(), args.open);
        eprintln!(
            "After you approve, the browser is sent to {}?code=...\nPaste that whole address \
             (or only the code) here and press Enter (waiting up to {}):",
            pending.redirect_uri(),
            human_duration(timeout)
        );
        let line = read_line(timeout).await?;
        pending.finish(&line).await?
    } else {
        let target = match &args.redirect_uri {
            Some(uri) => RedirectTarget::Uri(uri.clone()),
            None => RedirectTarget::Loopback {
                port: args.callback_port,
            },
        };
        let pending = LoopbackLogin::start(endpoints, &target, &options).await?;
        show_url(pending.authorize_url().as_str(), args.open);
        eprintln!(
            "Waiting up to {} for the browser to come back to {} ...",
            human_duration(timeout),
            pending.redirect_uri()
        );
        pending.finish(timeout).await?
    };

    let login = Login::from_response(&app, response, Utc::now(), args.store_client_secret);
    let saved = store.save(&login, settings.token_store)?;
    if let Some(reason) = &saved.fallback_reason {
        eprintln!(
            "• the OS keyring is not available ({reason}); the tokens are in {} (readable only \
             by you)",
            saved.location
        );
    }
    eprintln!("• signed in; the tokens are in {}", saved.location);
    if login.client_secret.is_none() && login.refresh_token.is_some() {
        eprintln!(
            "• refreshing the access token needs the client secret: keep \
             SUPABASE_OAUTH_CLIENT_SECRET (or [oauth] client_secret) set where the server runs, \
             or sign in with --store-client-secret"
        );
    }
    if opts.access_token.is_some() {
        eprintln!(
            "• a personal access token is configured (--access-token / SUPABASE_ACCESS_TOKEN); \
             it takes precedence over this login"
        );
    }
    let out = json!({
        "status": "signed_in",
        "store": saved.kind,
        "location": saved.location,
        "api_url": login.api_url,
        "client_id": login.client_id,
        "expires_at": login.expires_at,
        "has_refresh_token": login.refresh_token.is_some(),
        "client_secret_stored": login.client_secret.is_some(),
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(ExitCode::SUCCESS)
}

/// `login --status`: what is stored, where, and when it expires.
fn status(store: &TokenStore, opts: &Options) -> anyhow::Result<ExitCode> {
    let now = Utc::now();
    let Some(st) = store.status(now)? else {
        eprintln!(
            "No OAuth login is stored in {}; run `supabase-mcp login`.",
            store.path().display()
        );
        let out = json!({ "signed_in": false, "file": store.path() });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::FAILURE);
    };
    let mut out = serde_json::to_value(&st)?;
    if let Some(map) = out.as_object_mut() {
        map.insert("signed_in".into(), json!(true));
        if let Some(at) = st.expires_at {
            map.insert(
                "expires_in_secs".into(),
                json!((at - now).num_seconds().max(0)),
            );
        }
        map.insert(
            "in_use".into(),
            json!(if opts.access_token.is_some() {
                "no: a personal access token is configured and takes precedence"
            } else {
                "yes, by cloud instances without a personal access token"
            }),
        );
        if st.store == StoreKind::File && st.file_mode.as_deref().is_some_and(|m| m != "0600") {
            map.insert(
                "warning".into(),
                json!(format!(
                    "the login file is readable by others (mode {}); run chmod 600 {}",
                    st.file_mode.as_deref().unwrap_or("?"),
                    st.file.display()
                )),
            );
        }
    }
    if st.expired {
        eprintln!(
            "The stored access token has expired; it is refreshed on next use when a refresh \
             token and the client secret are available."
        );
    }
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(ExitCode::SUCCESS)
}

pub async fn logout(args: LogoutArgs, opts: &Options) -> anyhow::Result<ExitCode> {
    let ctx = Context::resolve(opts)?;
    let store = TokenStore::new(&ctx.data_dir);
    if store.status(Utc::now()).ok().flatten().is_none() && !store.path().exists() {
        eprintln!(
            "No OAuth login is stored in {}; nothing to do.",
            store.path().display()
        );
        let out = json!({ "status": "signed_out", "was_signed_in": false });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }

    let revoke: Result<bool, String> = if args.no_revoke {
        Ok(false)
    } else {
        match store.load() {
            Err(e) => Err(format!("the stored tokens could not be read ({e})")),
            Ok(None) => Ok(false),
            Ok(Some((login, _))) => revoke(&login, &args, &ctx).await,
        }
    };
    let deleted = store.delete()?;
    let location = deleted
        .as_ref()
        .map(|d| d.location.clone())
        .unwrap_or_else(|| store.path().display().to_string());
    let mut out = json!({
        "status": "signed_out",
        "was_signed_in": true,
        "deleted": location,
        "revoked": matches!(revoke, Ok(true)),
    });
    match &revoke {
        Ok(true) => eprintln!("• revoked the app's authorization"),
        Ok(false) => eprintln!("• not revoked (--no-revoke)"),
        Err(why) => {
            eprintln!(
                "• revoking failed: {why}\n  The tokens were deleted here anyway. To end the \
                 app's access for sure, remove its authorization in the organization settings of \
                 the Supabase dashboard."
            );
            out["revoke_error"] = json!(why);
        }
    }
    if let Some(e) = deleted.as_ref().and_then(|d| d.keyring_error.as_ref()) {
        eprintln!(
            "• the keyring entry could not be removed ({e}); remove it with your keyring tool"
        );
        out["keyring_error"] = json!(e);
    }
    eprintln!("• deleted the stored login ({location})");
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(if revoke.is_err() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Revokes the stored refresh token (the service ends the app's access
/// tokens with it). `Ok(true)` when revoked.
async fn revoke(login: &Login, args: &LogoutArgs, ctx: &Context) -> Result<bool, String> {
    let Some(refresh_token) = &login.refresh_token else {
        return Err("no refresh token is stored, so there is nothing to revoke".to_owned());
    };
    let settings = OAuthSettings::resolve(
        None,
        args.client_secret.clone(),
        None,
        None,
        &ctx.file.oauth,
    )
    .map_err(|e| e.to_string())?;
    let secret = settings
        .client_secret
        .or_else(|| login.client_secret.clone());
    let app = OAuthApp::new(
        &login.api_url,
        &login.client_id,
        secret,
        settings.client_auth,
    )
    .map_err(|e| e.to_string())?;
    let endpoints = Endpoints::new(app, DEFAULT_CALL_TIMEOUT).map_err(|e| e.to_string())?;
    endpoints
        .revoke(refresh_token)
        .await
        .map(|()| true)
        .map_err(|e| e.to_string())
}

/// `300`, `90s`, `5m`, `1h`; default [`DEFAULT_TIMEOUT`].
pub fn parse_timeout(text: Option<&str>) -> anyhow::Result<Duration> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(DEFAULT_TIMEOUT);
    };
    let bad = || {
        anyhow::anyhow!(
            "--timeout `{text}` is not a duration; give seconds (300) or a number with s, m or h \
             (90s, 5m)"
        )
    };
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "m" | "min" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        _ => return Err(bad()),
    };
    if secs == 0 {
        return Err(bad());
    }
    Ok(Duration::from_secs(secs))
}

fn show_url(url: &str, open: bool) {
    eprintln!("Open this URL in a browser to sign in to Supabase:\n\n  {url}\n");
    if open && let Err(e) = open_browser(url) {
        eprintln!("• could not open a browser ({e}); open the URL yourself");
    }
}

fn open_browser(url: &str) -> Result<(), String> {
    #[cfg(target_os = "macos")]
    let mut cmd = std::process::Command::new("open");
    #[cfg(target_os = "windows")]
    let mut cmd = {
        let mut c = std::process::Command::new("rundll32");
        c.arg("url.dll,FileProtocolHandler");
        c
    };
    #[cfg(not(any(target_os = "macos", target_os = "windows")))]
    let mut cmd = std::process::Command::new("xdg-open");
    cmd.arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(drop)
        .map_err(|e| e.to_string())
}

/// One line from standard input, within `timeout`.
async fn read_line(timeout: Duration) -> anyhow::Result<String> {
    use tokio::io::AsyncBufReadExt;
    let mut line = String::new();
    let mut reader = tokio::io::BufReader::new(tokio::io::stdin());
    match tokio::time::timeout(timeout, reader.read_line(&mut line)).await {
        Err(_) => {
            Err(FlowError::Callback(crate::oauth::callback::CallbackError::Timeout(timeout)).into())
        }
        Ok(Err(e)) => Err(anyhow::anyhow!("could not read standard input: {e}")),
        Ok(Ok(_)) => Ok(line),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts() {
        assert_eq!(parse_timeout(None).unwrap(), DEFAULT_TIMEOUT);
        assert_eq!(parse_timeout(Some("90")).unwrap(), Duration::from_secs(90));
        assert_eq!(parse_timeout(Some("90s")).unwrap(), Duration::from_secs(90));
        assert_eq!(parse_timeout(Some("5m")).unwrap(), Duration::from_secs(300));
        assert_eq!(
            parse_timeout(Some("1h")).unwrap(),
            Duration::from_secs(3600)
        );
        for bad in ["0", "5x", "m", "-3"] {
            assert!(parse_timeout(Some(bad)).is_err(), "{bad}");
        }
    }
}
