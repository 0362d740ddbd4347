//! The three OAuth endpoints of the Management API, called by hand with
//! reqwest: the authorization URL the browser opens (`GET
//! /v1/oauth/authorize`), the token endpoint (`POST /v1/oauth/token`, a
//! form-encoded body, for the code exchange and for refreshing) and the
//! revocation (`POST /v1/oauth/revoke`, a JSON body). Failures become
//! [`EndpointError`]s that say what to do next; none carries a token or the
//! client secret.

use std::time::Duration;

use futures::StreamExt;
use serde::Deserialize;
use url::Url;

use crate::secret::{Redactor, Secret};

pub const AUTHORIZE_PATH: &str = "/v1/oauth/authorize";
pub const TOKEN_PATH: &str = "/v1/oauth/token";
pub const REVOKE_PATH: &str = "/v1/oauth/revoke";

/// Limit for one call to the token or revocation endpoint.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Most bytes read from an answer.
const BODY_LIMIT: usize = 64 * 1024;
/// Longest message kept from an error answer, in characters.
const DETAIL_CHARS: usize = 300;

#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    #[error(
        "the Management API URL `{url}` is not usable ({reason}); pass an http(s) URL with \
         --api-url (default https://api.supabase.com)"
    )]
    BadApiUrl { url: String, reason: String },
    #[error(
        "no OAuth client id is set; pass --client-id or set SUPABASE_OAUTH_CLIENT_ID (the id \
         of the OAuth app in the organization settings of the Supabase dashboard, OAuth Apps)"
    )]
    MissingClientId,
    #[error(
        "the OAuth app's client secret is needed to {action}, and none is set; set \
         SUPABASE_OAUTH_CLIENT_SECRET (or pass --client-secret to login and logout), put \
         `client_secret` under [oauth] in the config file, or sign in again with \
         `supabase-mcp login --store-client-secret`"
    )]
    MissingSecret { action: &'static str },
    #[error(
        "the OAuth app's credentials were refused ({endpoint} answered {status}{detail}); check \
         --client-id and --client-secret against the app in the dashboard (organization \
         settings, OAuth Apps) and use the current secret if it was regenerated"
    )]
    InvalidClient {
        endpoint: &'static str,
        status: u16,
        detail: String,
    },
    #[error(
        "the {what} was refused ({endpoint} answered {status}{detail}): it has expired, was \
         already used, does not belong to this redirect URI, or the app's access was revoked; \
         run `supabase-mcp login` again"
    )]
    InvalidGrant {
        what: &'static str,
        endpoint: &'static str,
        status: u16,
        detail: String,
    },
    #[error("{endpoint} answered {status}{detail}; {hint}")]
    Rejected {
        endpoint: &'static str,
        status: u16,
        detail: String,
        hint: &'static str,
    },
    #[error(
        "could not reach {url} ({detail}); check the network connection and --api-url, then \
         try again"
    )]
    Network { url: String, detail: String },
    #[error(
        "{endpoint} answered with something that is not a token response ({detail}); check \
         that --api-url points at the Supabase Management API"
    )]
    Malformed {
        endpoint: &'static str,
        detail: String,
    },
}

/// How the client proves itself at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuth {
    /// `Authorization: Basic base64(client_id:client_secret)` (RFC 6749
    /// section 2.3.1; what the Supabase integration guide shows).
    #[default]
    Basic,
    /// `client_id` and `client_secret` as form fields of the body.
    Body,
}

impl ClientAuth {
    /// `basic` or `body`.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "basic" | "" => Some(Self::Basic),
            "body" | "post" => Some(Self::Body),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Basic => "basic",
            Self::Body => "body",
        }
    }
}

/// The registered OAuth app and the Management API it belongs to.
#[derive(Debug, Clone)]
pub struct OAuthApp {
    /// Base URL without a trailing slash, e.g. `https://api.supabase.com`.
    pub api_url: String,
    pub client_id: String,
    pub client_secret: Option<Secret>,
    pub client_auth: ClientAuth,
}

impl OAuthApp {
    /// Checks and normalizes the parts.
    pub fn new(
        api_url: &str,
        client_id: &str,
        client_secret: Option<Secret>,
        client_auth: ClientAuth,
    ) -> Result<Self, EndpointError> {
        let client_id = client_id.trim();
        if client_id.is_empty() {
            return Err(EndpointError::MissingClientId);
        }
        Ok(Self {
            api_url: normalize_api_url(api_url)?,
            client_id: client_id.to_owned(),
            client_secret: client_secret.filter(|s| !s.expose().trim().is_empty()),
            client_auth,
        })
    }
}

/// `api_url` checked (http or https, no query) and without a trailing slash.
pub fn normalize_api_url(api_url: &str) -> Result<String, EndpointError> {
    let trimmed = api_url.trim().trim_end_matches('/');
    let bad = |reason: &str| EndpointError::BadApiUrl {
        url: trimmed.to_owned(),
        reason: reason.to_owned(),
    };
    let url = Url::parse(trimmed).map_err(|e| bad(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || !url.has_host() {
        return Err(bad("it must be an http or https URL"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("it must not have a query or fragment"));
    }
    Ok(trimmed.to_owned())
}

/// A successful answer of the token endpoint.
#[derive(Debug, Clone)]
pub struct TokenResponse {
    pub access_token: Secret,
    /// Absent only if the service sends none (it always does today).
    pub refresh_token: Option<Secret>,
    /// Seconds until the access token expires.
    pub expires_in: Option<u64>,
    pub token_type: String,
}

#[derive(Deserialize)]
struct RawToken {
    access_token: Option<String>,
    refresh_token: Option<String>,
    expires_in: Option<serde_json::Value>,
    token_type: Option<String>,
}

#[derive(Deserialize, Default)]
struct RawError {
    error: Option<String>,
    error_description: Option<String>,
    message: Option<serde_json::Value>,
}

/// Calls the OAuth endpoints of one Management API for one app.
#[derive(Debug, Clone)]
pub struct Endpoints {
    app: OAuthApp,
    http: reqwest::Client,
    redactor: Redactor,
}

impl Endpoints {
    pub fn new(app: OAuthApp, timeout: Duration) -> Result<Self, EndpointError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("supabase-mcp/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| EndpointError::Network {
                url: app.api_url.clone(),
                detail: format!("the HTTP client could not be built: {e}"),
            })?;
        let redactor = Redactor::new();
        if let Some(s) = &app.client_secret {
            redactor.add(s);
        }
        Ok(Self {
            app,
            http,
            redactor,
        })
    }

    pub fn app(&self) -> &OAuthApp {
        &self.app
    }

    /// The URL the user opens to approve the app.
    pub fn authorize_url(
        &self,
        redirect_uri: &str,
        state: &str,
        code_challenge: &str,
        organization_slug: Option<&str>,
    ) -> Result<Url, EndpointError> {
        let mut url = self.url(AUTHORIZE_PATH)?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("client_id", &self.app.client_id)
                .append_pair("response_type", "code")
                .append_pair("redirect_uri", redirect_uri)
                .append_pair("state", state)
                .append_pair("code_challenge", code_challenge)
                .append_pair("code_challenge_method", super::pkce::METHOD);
            if let Some(slug) = organization_slug.filter(|s| !s.is_empty()) {
                q.append_pair("organization_slug", slug);
            }
        }
        Ok(url)
    }

    /// Trades an authorization code for tokens (`grant_type=authorization_code`).
    pub async fn exchange_code(
        &self,
        code: &Secret,
        code_verifier: &Secret,
        redirect_uri: &str,
    ) -> Result<TokenResponse, EndpointError> {
        self.redactor.add(code);
        self.redactor.add(code_verifier);
        self.token_call(
            "authorization code",
            &[
                ("grant_type", "authorization_code"),
                ("code", code.expose()),
                ("redirect_uri", redirect_uri),
                ("code_verifier", code_verifier.expose()),
            ],
        )
        .await
    }

    /// Gets a new access token (and a new refresh token) with
    /// `grant_type=refresh_token`.
    pub async fn refresh(&self, refresh_token: &Secret) -> Result<TokenResponse, EndpointError> {
        if self.app.client_secret.is_none() {
            return Err(EndpointError::MissingSecret {
                action: "refresh the access token",
            });
        }
        self.redactor.add(refresh_token);
        self.token_call(
            "refresh token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token.expose()),
            ],
        )
        .await
    }

    /// Revokes the app's authorization behind `refresh_token` (which ends
    /// its access tokens too). The service takes a JSON body with the
    /// client id, the client secret and the refresh token.
    pub async fn revoke(&self, refresh_token: &Secret) -> Result<(), EndpointError> {
        let Some(secret) = &self.app.client_secret else {
            return Err(EndpointError::MissingSecret {
                action: "revoke the tokens",
            });
        };
        self.redactor.add(refresh_token);
        let url = self.url(REVOKE_PATH)?;
        let body = serde_json::json!({
            "client_id": self.app.client_id,
            "client_secret": secret.expose(),
            "refresh_token": refresh_token.expose(),
        });
        let request = self
            .http
            .post(url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .json(&body);
        let response = request.send().await.map_err(|e| self.network(&url, &e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let bytes = read_capped(response).await;
        Err(self.error_for(REVOKE_PATH, "refresh token", status.as_u16(), &bytes))
    }

    async fn token_call(
        &self,
        what: &'static str,
        fields: &[(&str, &str)],
    ) -> Result<TokenResponse, EndpointError> {
        let url = self.url(TOKEN_PATH)?;
        let mut request = self
            .http
            .post(url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            );
        let body = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.extend_pairs(fields.iter().copied());
            form.append_pair("client_id", &self.app.client_id);
            match (&self.app.client_secret, self.app.client_auth) {
                (Some(secret), ClientAuth::Basic) => {
                    request = request.basic_auth(&self.app.client_id, Some(secret.expose()));
                }
                (Some(secret), ClientAuth::Body) => {
                    form.append_pair("client_secret", secret.expose());
                }
                (None, _) => {}
            }
            form.finish()
        };
        let response = request
            .body(body)
            .send()
            .await
            .map_err(|e| self.network(&url, &e))?;
        let status = response.status();
        let bytes = read_capped(response).await;
        if !status.is_success() {
            return Err(self.error_for(TOKEN_PATH, what, status.as_u16(), &bytes));
        }
        parse_token(&bytes).map_err(|detail| EndpointError::Malformed {
            endpoint: TOKEN_PATH,
            detail: self.redactor.scrub(&detail),
        })
    }

    fn url(&self, path: &str) -> Result<Url, EndpointError> {
        Url::parse(&format!("{}{path}", self.app.api_url)).map_err(|e| EndpointError::BadApiUrl {
            url: self.app.api_url.clone(),
            reason: e.to_string(),
        })
    }

    fn network(&self, url: &Url, e: &reqwest::Error) -> EndpointError {
        let detail = if e.is_timeout() {
            "no answer in time".to_owned()
        } else {
            let mut parts = Vec::new();
            let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
            while let Some(s) = source {
                parts.push(s.to_string());
                source = s.source();
            }
            if parts.is_empty() {
                e.to_string()
            } else {
                parts.join(": ")
            }
        };
        EndpointError::Network {
            url: url.to_string(),
            detail: self.redactor.scrub(&detail),
        }
    }

    fn error_for(
        &self,
        endpoint: &'static str,
        what: &'static str,
        status: u16,
        body: &[u8],
    ) -> EndpointError {
        let raw: RawError = serde_json::from_slice(body).unwrap_or_default();
        let code = raw.error.clone().unwrap_or_default();
        let description = raw
            .error_description
            .clone()
            .or_else(|| match &raw.message {
                Some(serde_json::Value::String(s)) => Some(s.clone()),
                Some(serde_json::Value::Array(a)) => Some(
                    a.iter()
                        .filter_map(|v| v.as_str())
                        .collect::<Vec<_>>()
                        .join("; "),
                ),
                _ => None,
            })
            .or_else(|| {
                let text = String::from_utf8_lossy(body).trim().to_owned();
                (!text.is_empty() && !text.starts_with('<')).then_some(text)
            })
            .unwrap_or_default();
        let joined = match (code.is_empty(), description.is_empty()) {
            (true, true) => String::new(),
            (false, true) => format!(": {code}"),
            (true, false) => format!(": {description}"),
            (false, false) => format!(": {code}, {description}"),
        };
        let detail: String = self
            .redactor
            .scrub(&joined)
            .chars()
            .take(DETAIL_CHARS)
            .collect();
        let lower = format!("{code} {description}").to_ascii_lowercase();
        if code == "invalid_client" || status == 401 || lower.contains("invalid client") {
            return EndpointError::InvalidClient {
                endpoint,
                status,
                detail,
            };
        }
        if code == "invalid_grant" {
            return EndpointError::InvalidGrant {
                what,
                endpoint,
                status,
                detail,
            };
        }
        let hint = match status {
            429 => "too many requests: wait a minute and try again",
            500..=599 => "the service is having trouble: try again in a few minutes",
            _ if endpoint == TOKEN_PATH => {
                "check --client-id, the redirect URI (it must be one of the app's callback URLs) \
                 and --api-url; if the sign-in is stale, run `supabase-mcp login` again"
            }
            _ => "check --client-id, --client-secret and --api-url",
        };
        EndpointError::Rejected {
            endpoint,
            status,
            detail,
            hint,
        }
    }
}

/// Reads at most [`BODY_LIMIT`] bytes of an answer; a broken body reads as
/// what arrived.
async fn read_capped(response: reqwest::Response) -> Vec<u8> {
    let mut out = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else { break };
        let room = BODY_LIMIT.saturating_sub(out.len());
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() >= BODY_LIMIT {
            break;
        }
    }
    out
}

/// Reads a token answer: `access_token` required, `token_type` Bearer if
/// present, `expires_in` a number of seconds (a numeric string is accepted).
fn parse_token(body: &[u8]) -> Result<TokenResponse, String> {
    let raw: RawToken =
        serde_json::from_slice(body).map_err(|e| format!("not a JSON object: {e}"))?;
    let access_token = raw
        .access_token
        .filter(|t| !t.trim().is_empty())
        .ok_or("no access_token")?;
    let token_type = raw.token_type.unwrap_or_else(|| "bearer".to_owned());
    if !token_type.eq_ignore_ascii_case("bearer") {
        return Err(format!("token_type `{token_type}`, expected Bearer"));
    }
    let expires_in = match raw.expires_in {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::Number(n)) => Some(
            n.as_u64()
                .ok_or("expires_in is not a positive whole number")?,
        ),
        Some(serde_json::Value::String(s)) => Some(
            s.trim()
                .parse::<u64>()
                .map_err(|_| "expires_in is not a number")?,
        ),
        Some(_) => return Err("expires_in is not a number".to_owned()),
    };
    Ok(TokenResponse {
        access_token: Secret::new(access_token),
        refresh_token: raw
            .refresh_token
            .filter(|t| !t.trim().is_empty())
            .map(Secret::new),
        expires_in,
        token_type,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoints() -> Endpoints {
        let app = OAuthApp::new(
            "https://api.example.com/",
            "client-1",
            Some(Secret::new("shh-client-secret")),
            ClientAuth::Basic,
        )
        .unwrap();
        Endpoints::new(app, Duration::from_secs(5)).unwrap()
    }

    #[test]
    fn authorize_url_carries_every_parameter() {
        let url = endpoints()
            .authorize_url("http://127.0.0.1:5555/callback", "st", "ch", Some("acme"))
            .unwrap();
        assert_eq!(url.path(), AUTHORIZE_PATH);
        assert_eq!(url.host_str(), Some("api.example.com"));
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(q["client_id"], "client-1");
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["redirect_uri"], "http://127.0.0.1:5555/callback");
        assert_eq!(q["state"], "st");
        assert_eq!(q["code_challenge"], "ch");
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["organization_slug"], "acme");
        assert!(!url.as_str().contains("shh-client-secret"));
    }

    #[test]
    fn api_urls_are_checked() {
        assert_eq!(
            normalize_api_url("https://api.supabase.com/").unwrap(),
            "https://api.supabase.com"
        );
        assert!(normalize_api_url("ftp://x").is_err());
        assert!(normalize_api_url("not a url").is_err());
        assert!(normalize_api_url("https://x/?a=b").is_err());
        assert!(matches!(
            OAuthApp::new("https://x", " ", None, ClientAuth::Basic),
            Err(EndpointError::MissingClientId)
        ));
    }

    #[test]
    fn token_answers_are_parsed() {
        let t = parse_token(
            br#"{"access_token":"a","refresh_token":"r","expires_in":3600,"token_type":"Bearer"}"#,
        )
        .unwrap();
        assert_eq!(t.access_token.expose(), "a");
        assert_eq!(t.refresh_token.unwrap().expose(), "r");
        assert_eq!(t.expires_in, Some(3600));
        let t = parse_token(br#"{"access_token":"a","expires_in":"60"}"#).unwrap();
        assert_eq!(t.expires_in, Some(60));
        assert!(t.refresh_token.is_none());
        assert!(parse_token(b"[]").is_err());
        assert!(parse_token(br#"{"refresh_token":"r"}"#).is_err());
        assert!(parse_token(br#"{"access_token":"a","token_type":"mac"}"#).is_err());
        assert!(parse_token(br#"{"access_token":"a","expires_in":-5}"#).is_err());
    }

    #[test]
    fn error_answers_are_classified_and_scrubbed() {
        let e = endpoints();
        e.redactor.add(&Secret::new("the-refresh-token"));
        let err = e.error_for(
            TOKEN_PATH,
            "refresh token",
            400,
            br#"{"error":"invalid_grant","error_description":"bad the-refresh-token"}"#,
        );
        assert!(matches!(err, EndpointError::InvalidGrant { .. }), "{err}");
        let text = err.to_string();
        assert!(!text.contains("the-refresh-token"), "{text}");
        assert!(text.contains("login"), "{text}");

        let err = e.error_for(TOKEN_PATH, "authorization code", 401, b"");
        assert!(matches!(err, EndpointError::InvalidClient { .. }), "{err}");
        let err = e.error_for(
            TOKEN_PATH,
            "authorization code",
            400,
            br#"{"error":"invalid_client"}"#,
        );
        assert!(matches!(err, EndpointError::InvalidClient { .. }), "{err}");

        let err = e.error_for(REVOKE_PATH, "refresh token", 503, br#"{"message":"down"}"#);
        let text = err.to_string();
        assert!(text.contains("503") && text.contains("down"), "{text}");
        assert!(text.contains("try again"), "{text}");

        let err = e.error_for(TOKEN_PATH, "x", 400, b"<html>oops</html>");
        assert!(!err.to_string().contains("html"), "{err}");
    }

    #[test]
    fn client_auth_names() {
        assert_eq!(ClientAuth::parse("basic"), Some(ClientAuth::Basic));
        assert_eq!(ClientAuth::parse("BODY"), Some(ClientAuth::Body));
        assert_eq!(ClientAuth::parse("jwt"), None);
        assert_eq!(ClientAuth::default().name(), "basic");
    }
}
