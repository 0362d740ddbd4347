//! `generate_link`: a sign-in, recovery, sign-up or email change link made
//! by the Auth admin API. The link signs its holder in, so it is a
//! credential: it is written to a 0600 file under the data directory and
//! only the file's path is returned; the link, the one-time code and the
//! hashed token are registered with the redactor.

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::common::{Via, api_configured, email};
use super::password;
use crate::api::generated::auth::types::{GenerateLinkRequest, GenerateLinkRequestType};
use crate::result::{ErrorCode, ToolError, ToolOutput};
use crate::secret::Secret;
use crate::selfhosted::files::{PRIVATE_MODE, write_atomic};
use crate::server::call::Call;

/// Directory under the data directory that holds generated links.
const LINKS_DIR: &str = "auth-links";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LinkType {
    Magiclink,
    Recovery,
    Signup,
    Invite,
    /// Confirms the new address (needs new_email).
    EmailChange,
    EmailChangeCurrent,
    EmailChangeNew,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkArgs {
    #[serde(rename = "type")]
    pub kind: LinkType,
    pub email: String,
    /// The address to change to (email_change types).
    #[serde(default)]
    pub new_email: Option<String>,
    /// Where the link leads after verification (an allowed redirect URL).
    #[serde(default)]
    pub redirect_to: Option<String>,
    /// Signup: file on the server holding the password (else generated, not shown).
    #[serde(default)]
    pub password_file: Option<String>,
    /// Signup: server environment variable holding the password.
    #[serde(default)]
    pub password_env: Option<String>,
}

fn api_type(kind: LinkType) -> Result<GenerateLinkRequestType, ToolError> {
    Ok(match kind {
        LinkType::Magiclink => GenerateLinkRequestType::Magiclink,
        LinkType::Recovery => GenerateLinkRequestType::Recovery,
        LinkType::Signup => GenerateLinkRequestType::Signup,
        LinkType::EmailChange | LinkType::EmailChangeNew => GenerateLinkRequestType::EmailChangeNew,
        LinkType::EmailChangeCurrent => GenerateLinkRequestType::EmailChangeCurrent,
        LinkType::Invite => {
            return Err(ToolError::invalid("invitation links are sent, not generated")
                .reason("the Auth admin API this server speaks makes magic link, recovery, sign-up and email change links")
                .suggestion("Use create_auth_user with invite: true (Auth emails the invitation), or create the user and generate a magiclink for it."));
        }
    })
}

fn check_redirect(raw: &str) -> Result<String, ToolError> {
    let url = reqwest::Url::parse(raw.trim()).map_err(|e| {
        ToolError::invalid(format!("`redirect_to` is not a URL: {e}"))
            .suggestion("Pass an absolute URL such as https://app.example.com/welcome.")
    })?;
    if !matches!(url.scheme(), "http" | "https") && url.cannot_be_a_base() {
        return Err(ToolError::invalid(
            "`redirect_to` must be an http(s) URL or an app scheme URL",
        )
        .suggestion("Pass an absolute URL listed in the project's redirect URLs."));
    }
    Ok(url.to_string())
}

/// The 0700 directory for link files.
fn links_dir(data_dir: &Path) -> Result<PathBuf, ToolError> {
    let dir = data_dir.join(LINKS_DIR);
    std::fs::create_dir_all(&dir).map_err(|e| {
        ToolError::new(
            ErrorCode::Io,
            format!("cannot create {}: {e}", dir.display()),
        )
        .suggestion("Check that the data directory (--data-dir) is writable.")
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| {
            ToolError::new(
                ErrorCode::Io,
                format!("cannot restrict {}: {e}", dir.display()),
            )
        })?;
    }
    Ok(dir)
}

pub async fn generate_link(call: Call, a: LinkArgs) -> Result<ToolOutput, ToolError> {
    let kind = api_type(a.kind)?;
    let address = email(&a.email)?;
    let new_email = a.new_email.as_deref().map(email).transpose()?;
    let is_change = matches!(
        kind,
        GenerateLinkRequestType::EmailChangeNew | GenerateLinkRequestType::EmailChangeCurrent
    );
    if is_change && new_email.is_none() {
        return Err(ToolError::invalid("an email change link needs `new_email`")
            .suggestion("Pass the address the user changes to."));
    }
    if !is_change && new_email.is_some() {
        return Err(
            ToolError::invalid("`new_email` is only for email change links")
                .suggestion("Leave it out, or use type email_change."),
        );
    }
    let src = password::source(a.password_file.as_deref(), a.password_env.as_deref())?;
    if src.is_some() && kind != GenerateLinkRequestType::Signup {
        return Err(
            ToolError::invalid("a password is only taken for signup links")
                .suggestion("Leave out password_file/password_env."),
        );
    }
    let redirect_to = a.redirect_to.as_deref().map(check_redirect).transpose()?;
    if !api_configured(&call) {
        return Err(ToolError::new(
            ErrorCode::NotConfigured,
            format!(
                "instance `{}` has no Auth API configured",
                call.instance.name
            ),
        )
        .reason("links are signed and recorded by the Auth service; SQL cannot make them")
        .suggestion("Pass --supabase-url and --service-role-key."));
    }
    let password = match (&src, kind) {
        (Some(s), _) => Some(s.read(&call).await?),
        (None, GenerateLinkRequestType::Signup) => Some(password::generate(&call)?),
        _ => None,
    };
    let api = call.state.clients.auth(&call.instance)?;
    let body = GenerateLinkRequest {
        data: Default::default(),
        email: address.clone(),
        new_email: new_email.clone(),
        password: password.as_ref().map(|p| p.expose().to_owned()),
        redirect_to: redirect_to.clone(),
        type_: kind,
    };
    let answer = api
        .call(|c| c.admin_generate_link(&body))
        .await
        .map_err(ToolError::from)?;
    drop(body);
    let redactor = &call.state.config.redactor;
    for s in [&answer.action_link, &answer.email_otp, &answer.hashed_token]
        .into_iter()
        .flatten()
    {
        redactor.add(&Secret::new(s.as_str()));
    }
    let Some(link) = answer.action_link.as_deref().filter(|l| !l.is_empty()) else {
        return Err(ToolError::new(ErrorCode::ApiError, "the Auth API answered without a link")
            .suggestion("Check that the user exists (recovery, magiclink) and that email sign-in is enabled."));
    };
    let now = chrono::Utc::now();
    let content = json!({
        "type": kind.to_string(),
        "email": address,
        "new_email": new_email,
        "action_link": link,
        "email_otp": answer.email_otp,
        "hashed_token": answer.hashed_token,
        "redirect_to": answer.redirect_to,
        "verification_type": answer.verification_type,
        "created_at": now.to_rfc3339(),
    });
    let dir = links_dir(&call.state.config.data_dir)?;
    let suffix: u32 = rand::random();
    let file = dir.join(format!(
        "{}-{}-{suffix:08x}.json",
        kind,
        now.format("%Y%m%dT%H%M%SZ")
    ));
    let text = serde_json::to_string_pretty(&content)
        .map_err(|e| ToolError::internal(format!("the link could not be encoded: {e}")))?;
    write_atomic(&file, &text, false, PRIVATE_MODE).map_err(|e| {
        ToolError::new(ErrorCode::Io, format!("the link could not be saved: {e}")).suggestion(
            "Check that the data directory (--data-dir) is writable; no link was shown.",
        )
    })?;
    Ok(ToolOutput::trusted(json!({
        "via": Via::Api.as_str(),
        "type": kind.to_string(),
        "email": address,
        "file": file.display().to_string(),
        "verification_type": answer.verification_type,
        "redirect_to": answer.redirect_to,
        "password": if kind == GenerateLinkRequestType::Signup { Some("set on the new user and not shown") } else { None },
        "note": "The link signs its holder in: it was written to this file (mode 0600) and is not shown. Hand it to the user over a private channel and delete the file; it expires after the project's OTP expiry.",
    })))
}
