//! The shared HTTP machinery of the API client layer: [`ApiConfig`]
//! (timeouts, retry policy), building the `reqwest::Client` each API uses
//! (credential headers marked sensitive, no redirects), the retry loop
//! [`with_retry`], and the generic wrapper [`Api`] that runs a generated
//! client's call with a timeout, retries and error mapping.

use std::future::Future;
use std::time::Duration;

use rand::Rng;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use supabase_mcp_generated::progenitor_client::{Error as ProgenitorError, ResponseValue};
use url::Url;

use super::error::{ApiError, ErrorBody, Service};
use crate::secret::{Redactor, Secret};

/// When and how often a call is retried. Only 429 and 503 answers are
/// retried, and only for calls marked idempotent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts, the first one included (1 = never retry).
    pub max_attempts: u32,
    /// Wait before the first retry; doubles for each further retry.
    pub initial_backoff: Duration,
    /// Longest computed wait between attempts.
    pub max_backoff: Duration,
    /// Longest wait honoured from a `Retry-After` header.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Wait before retry number `retry` (1 for the first retry): exponential
    /// backoff with jitter (between half and all of the computed wait), or
    /// the server's `Retry-After`, capped.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(wait) = retry_after {
            return wait.min(self.max_retry_after);
        }
        let factor = 2u32.saturating_pow(retry.saturating_sub(1));
        let full = self
            .initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff);
        let half = full / 2;
        let jitter_ms = u64::try_from((full - half).as_millis()).unwrap_or(u64::MAX);
        half + Duration::from_millis(rand::rng().random_range(0..=jitter_ms))
    }
}

/// Runs `f` until it succeeds, fails with an error that is not worth
/// retrying, or `policy.max_attempts` is reached. Only idempotent calls are
/// retried, and only on 429 and 503.
pub async fn with_retry<T, F, Fut>(
    policy: &RetryPolicy,
    idempotent: bool,
    mut f: F,
) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    let max = policy.max_attempts.max(1);
    let mut attempt = 1;
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(err) if idempotent && attempt < max && err.is_retryable() => {
                let wait = policy.delay(attempt, err.retry_after());
                tracing::debug!(
                    service = %err.service(),
                    status = err.status(),
                    attempt,
                    wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                    "retrying API call"
                );
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            Err(err) => return Err(err),
        }
    }
}

/// Timeouts and retries for the API clients.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Limit for an ordinary call, from sending to the end of the answer.
    pub timeout: Duration,
    /// Limit for calls known to be slow (project creation, deploys, restores).
    /// Also the longest the client waits for the next byte on any call.
    pub slow_timeout: Duration,
    /// Limit for opening the TCP/TLS connection.
    pub connect_timeout: Duration,
    /// Limit for a whole object upload or download.
    pub transfer_timeout: Duration,
    pub retry: RetryPolicy,
    pub user_agent: String,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            slow_timeout: Duration::from_secs(120),
            connect_timeout: Duration::from_secs(10),
            transfer_timeout: Duration::from_secs(30 * 60),
            retry: RetryPolicy::default(),
            user_agent: concat!("supabase-mcp/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

impl ApiConfig {
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn with_slow_timeout(mut self, timeout: Duration) -> Self {
        self.slow_timeout = timeout;
        self
    }

    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    pub fn with_transfer_timeout(mut self, timeout: Duration) -> Self {
        self.transfer_timeout = timeout;
        self
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }
}

/// How one call runs: retried or not, ordinary or slow timeout.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallOptions {
    /// Safe to repeat (GET/HEAD/PUT/DELETE, or a POST known to be
    /// idempotent): retried on 429/503.
    pub idempotent: bool,
    /// Use [`ApiConfig::slow_timeout`] instead of [`ApiConfig::timeout`].
    pub slow: bool,
}

impl CallOptions {
    /// Not retried, ordinary timeout (the default, for POST and PATCH).
    pub fn once() -> Self {
        Self::default()
    }

    /// Retried on 429/503, ordinary timeout.
    pub fn idempotent() -> Self {
        Self {
            idempotent: true,
            slow: false,
        }
    }

    /// The same options with the slow-operation timeout.
    pub fn slow(self) -> Self {
        Self { slow: true, ..self }
    }
}

/// One credential header of an API client.
pub(crate) struct AuthHeader<'a> {
    pub name: &'static str,
    /// Text before the secret, such as `"Bearer "`.
    pub prefix: &'static str,
    pub secret: &'a Secret,
}

/// Checks and normalises a configured base URL, then appends `suffix`
/// (for example `/auth/v1`) unless the URL already ends with it. The result
/// has no trailing slash.
pub(crate) fn base_url(service: Service, raw: &str, suffix: &str) -> Result<Url, ApiError> {
    let trimmed = raw.trim();
    let mut url = Url::parse(trimmed).map_err(|e| {
        ApiError::config(
            service,
            format!("the URL '{trimmed}' is not valid ({e}); write it like https://example.com"),
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ApiError::config(
            service,
            format!("the URL '{trimmed}' must start with http:// or https://"),
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ApiError::config(
            service,
            "the URL must not contain a user name or password; credentials are configured \
             separately",
        ));
    }
    url.set_query(None);
    url.set_fragment(None);
    let path = url.path().trim_end_matches('/').to_owned();
    let suffix = suffix.trim_end_matches('/');
    if suffix.is_empty() || path.ends_with(suffix) {
        url.set_path(&path);
    } else {
        url.set_path(&format!("{path}{suffix}"));
    }
    Ok(url)
}

/// The base URL as the generated clients want it: no trailing slash.
pub(crate) fn base_str(url: &Url) -> String {
    url.as_str().trim_end_matches('/').to_owned()
}

/// Builds the `reqwest::Client` of one API: credential headers (sensitive,
/// registered with the redactor), connect and idle timeouts, no redirects
/// (a redirect could carry the credential headers to another host).
pub(crate) fn build_http_client(
    service: Service,
    config: &ApiConfig,
    auth: &[AuthHeader<'_>],
    redactor: &Redactor,
) -> Result<reqwest::Client, ApiError> {
    let mut headers = HeaderMap::new();
    for h in auth {
        let value = h.secret.expose().trim();
        if value.is_empty() {
            return Err(ApiError::config(
                service,
                format!("{} is empty", service.credential_setting()),
            ));
        }
        redactor.add(h.secret);
        redactor.add(&Secret::new(value));
        let mut header = HeaderValue::from_str(&format!("{}{value}", h.prefix)).map_err(|_| {
            ApiError::config(
                service,
                format!(
                    "{} contains characters that cannot be sent in an HTTP header (check for \
                     quotes or line breaks around the value)",
                    service.credential_setting()
                ),
            )
        })?;
        header.set_sensitive(true);
        headers.insert(HeaderName::from_static(h.name), header);
    }
    reqwest::Client::builder()
        .default_headers(headers)
        .user_agent(config.user_agent.as_str())
        .connect_timeout(config.connect_timeout)
        .read_timeout(config.slow_timeout.max(config.timeout))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| ApiError::config(service, format!("could not build the HTTP client: {e}")))
}

/// A generated client `C` plus what every call through it needs: the shared
/// `reqwest::Client` (for hand-written calls), timeouts, retry policy and the
/// redactor that scrubs error messages.
#[derive(Clone)]
pub struct Api<C> {
    client: C,
    http: reqwest::Client,
    base_url: Url,
    service: Service,
    config: ApiConfig,
    redactor: Redactor,
}

impl<C> std::fmt::Debug for Api<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("service", &self.service)
            .field("base_url", &self.base_url.as_str())
            .finish_non_exhaustive()
    }
}

impl<C> Api<C> {
    pub(crate) fn from_parts(
        client: C,
        http: reqwest::Client,
        base_url: Url,
        service: Service,
        config: ApiConfig,
        redactor: Redactor,
    ) -> Self {
        Self {
            client,
            http,
            base_url,
            service,
            config,
            redactor,
        }
    }

    /// The generated client, for calls that need no retry or error mapping.
    pub fn raw(&self) -> &C {
        &self.client
    }

    /// The `reqwest::Client` with this API's credential headers.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Base URL of the API (for example `https://x.supabase.co/storage/v1`).
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    pub fn service(&self) -> Service {
        self.service
    }

    pub fn config(&self) -> &ApiConfig {
        &self.config
    }

    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// Runs a call once (no retry) with the ordinary timeout. For POST and
    /// PATCH calls: `api.call(|c| c.v1_create_a_project(&body)).await?`.
    pub async fn call<'a, T, E, F, Fut>(&'a self, f: F) -> Result<T, ApiError>
    where
        F: Fn(&'a C) -> Fut,
        Fut: Future<Output = Result<ResponseValue<T>, ProgenitorError<E>>>,
        E: ErrorBody,
    {
        self.call_with(CallOptions::once(), f).await
    }

    /// Runs a call that is safe to repeat, retrying on 429/503:
    /// `api.idempotent(|c| c.v1_list_all_projects()).await?`.
    pub async fn idempotent<'a, T, E, F, Fut>(&'a self, f: F) -> Result<T, ApiError>
    where
        F: Fn(&'a C) -> Fut,
        Fut: Future<Output = Result<ResponseValue<T>, ProgenitorError<E>>>,
        E: ErrorBody,
    {
        self.call_with(CallOptions::idempotent(), f).await
    }

    /// Runs a call with explicit options, for example
    /// `api.call_with(CallOptions::once().slow(), |c| ...)`.
    pub async fn call_with<'a, T, E, F, Fut>(
        &'a self,
        options: CallOptions,
        f: F,
    ) -> Result<T, ApiError>
    where
        F: Fn(&'a C) -> Fut,
        Fut: Future<Output = Result<ResponseValue<T>, ProgenitorError<E>>>,
        E: ErrorBody,
    {
        let limit = self.timeout_for(options);
        let client = &self.client;
        let f = &f;
        with_retry(&self.config.retry, options.idempotent, move || async move {
            let attempt = async move {
                match f(client).await {
                    Ok(value) => Ok(value.into_inner()),
                    Err(err) => Err(self.map_error(err).await),
                }
            };
            tokio::time::timeout(limit, attempt)
                .await
                .unwrap_or_else(|_| Err(ApiError::timeout(self.service, limit)))
        })
        .await
    }

    /// Sends a hand-written request built on [`Api::http`]. Returns the
    /// response when its status is 2xx, else the mapped error.
    pub async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ApiError> {
        let response = request
            .send()
            .await
            .map_err(|e| ApiError::from_reqwest(self.service, e, &self.redactor))?;
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(ApiError::from_response(self.service, response, &self.redactor).await)
        }
    }

    /// Reads a response body of at most `max_bytes`; `Ok(None)` when it is
    /// larger (the rest is not read).
    pub async fn read_capped(
        &self,
        mut response: reqwest::Response,
        max_bytes: usize,
    ) -> Result<Option<Vec<u8>>, ApiError> {
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| ApiError::from_reqwest(self.service, e, &self.redactor))?
        {
            if body.len() + chunk.len() > max_bytes {
                return Ok(None);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Some(body))
    }

    /// The base URL with `segments` appended, each one percent-encoded on
    /// its own (a `/` inside a segment is encoded).
    pub fn url_with<'s>(&self, segments: impl IntoIterator<Item = &'s str>) -> Url {
        let mut url = self.base_url.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// Converts an error from the generated client (reading its body).
    pub async fn map_error<E: ErrorBody>(&self, err: ProgenitorError<E>) -> ApiError {
        ApiError::from_progenitor(self.service, err, &self.redactor).await
    }

    /// The time limit a call with `options` gets.
    pub fn timeout_for(&self, options: CallOptions) -> Duration {
        if options.slow {
            self.config.slow_timeout
        } else {
            self.config.timeout
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_appends_suffix_once() {
        let s = Service::Auth;
        assert_eq!(
            base_url(s, "https://x.supabase.co/", "/auth/v1")
                .unwrap()
                .as_str(),
            "https://x.supabase.co/auth/v1"
        );
        assert_eq!(
            base_url(s, "https://x.supabase.co/auth/v1/", "/auth/v1")
                .unwrap()
                .as_str(),
            "https://x.supabase.co/auth/v1"
        );
        assert_eq!(
            base_str(&base_url(s, "https://api.supabase.com", "").unwrap()),
            "https://api.supabase.com"
        );
        assert!(base_url(s, "ftp://x", "").is_err());
        assert!(base_url(s, "not a url", "").is_err());
        assert!(base_url(s, "https://u:p@x.co", "").is_err());
    }

    #[test]
    fn backoff_grows_with_jitter_and_respects_retry_after() {
        let p = RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(300),
            max_retry_after: Duration::from_secs(2),
        };
        for _ in 0..20 {
            let d1 = p.delay(1, None);
            assert!(d1 >= Duration::from_millis(50) && d1 <= Duration::from_millis(100));
            let d3 = p.delay(3, None);
            assert!(d3 >= Duration::from_millis(150) && d3 <= Duration::from_millis(300));
        }
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(1))),
            Duration::from_secs(1)
        );
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(60))),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn empty_or_unsendable_credentials_are_rejected_without_echo() {
        let r = Redactor::new();
        let c = ApiConfig::default();
        let empty = Secret::new("  ");
        let err = build_http_client(
            Service::Management,
            &c,
            &[AuthHeader {
                name: "authorization",
                prefix: "Bearer ",
                secret: &empty,
            }],
            &r,
        )
        .unwrap_err();
        assert!(err.to_string().contains("SUPABASE_ACCESS_TOKEN is empty"));
        let bad = Secret::new("tok\nen-secret-value");
        let err = build_http_client(
            Service::Management,
            &c,
            &[AuthHeader {
                name: "authorization",
                prefix: "Bearer ",
                secret: &bad,
            }],
            &r,
        )
        .unwrap_err();
        assert!(!err.to_string().contains("secret-value"));
    }
}
