//! One sign-in, start to finish: PKCE and `state`, the authorization URL,
//! the answer (from the loopback listener, or pasted by the user), and the
//! code exchange. Starting a sign-in returns its URL, so a caller (the
//! `login` command, or a test) decides how the browser gets there.

use std::collections::HashMap;
use std::time::Duration;

use url::Url;

use super::callback::{CallbackError, Listener, RedirectTarget, evaluate};
use super::endpoints::{EndpointError, Endpoints, TokenResponse};
use super::pkce::{Pkce, random_state};
use crate::secret::Secret;

#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error(transparent)]
    Callback(#[from] CallbackError),
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    #[error(
        "nothing was pasted; paste the address the browser was sent to after approving (or the \
         value of its `code` parameter)"
    )]
    NothingPasted,
}

/// What the authorization URL asks for besides the essentials.
#[derive(Debug, Clone, Default)]
pub struct AuthorizeOptions {
    /// Preselect this organization on the consent page.
    pub organization_slug: Option<String>,
}

/// The parts every sign-in has.
#[derive(Debug)]
struct Started {
    endpoints: Endpoints,
    pkce: Pkce,
    state: String,
    redirect_uri: String,
    url: Url,
}

impl Started {
    fn new(
        endpoints: Endpoints,
        redirect_uri: String,
        options: &AuthorizeOptions,
    ) -> Result<Self, FlowError> {
        let pkce = Pkce::generate();
        let state = random_state();
        let url = endpoints.authorize_url(
            &redirect_uri,
            &state,
            pkce.challenge(),
            options.organization_slug.as_deref(),
        )?;
        Ok(Self {
            endpoints,
            pkce,
            state,
            redirect_uri,
            url,
        })
    }

    async fn exchange(&self, code: &Secret) -> Result<TokenResponse, FlowError> {
        Ok(self
            .endpoints
            .exchange_code(code, self.pkce.verifier(), &self.redirect_uri)
            .await?)
    }
}

/// A sign-in whose answer comes to the loopback listener.
#[derive(Debug)]
pub struct LoopbackLogin {
    started: Started,
    listener: Listener,
}

impl LoopbackLogin {
    /// Binds the listener and builds the URL; nothing is sent yet.
    pub async fn start(
        endpoints: Endpoints,
        target: &RedirectTarget,
        options: &AuthorizeOptions,
    ) -> Result<Self, FlowError> {
        let listener = Listener::bind(target).await?;
        let started = Started::new(endpoints, listener.redirect_uri().to_owned(), options)?;
        Ok(Self { started, listener })
    }

    /// The URL the user opens.
    pub fn authorize_url(&self) -> &Url {
        &self.started.url
    }

    pub fn redirect_uri(&self) -> &str {
        &self.started.redirect_uri
    }

    /// Waits for the browser's redirect (at most `timeout`), then trades the
    /// code for tokens.
    pub async fn finish(self, timeout: Duration) -> Result<TokenResponse, FlowError> {
        let code = self.listener.wait(&self.started.state, timeout).await?;
        self.started.exchange(&code).await
    }
}

/// A sign-in for a machine whose browser is elsewhere: the user pastes the
/// address the browser was sent to (or only its code).
#[derive(Debug)]
pub struct PastedLogin {
    started: Started,
}

impl PastedLogin {
    pub fn start(
        endpoints: Endpoints,
        redirect_uri: &str,
        options: &AuthorizeOptions,
    ) -> Result<Self, FlowError> {
        let started = Started::new(endpoints, redirect_uri.trim().to_owned(), options)?;
        Ok(Self { started })
    }

    pub fn authorize_url(&self) -> &Url {
        &self.started.url
    }

    pub fn redirect_uri(&self) -> &str {
        &self.started.redirect_uri
    }

    /// Reads the pasted text and trades the code for tokens.
    pub async fn finish(self, pasted: &str) -> Result<TokenResponse, FlowError> {
        let code = code_from_paste(pasted, &self.started.state)?;
        self.started.exchange(&code).await
    }
}

/// The code in a pasted redirect address (whose `state` must match), in a
/// pasted query string, or the pasted code itself.
pub fn code_from_paste(pasted: &str, expected_state: &str) -> Result<Secret, FlowError> {
    let text = pasted.trim();
    if text.is_empty() {
        return Err(FlowError::NothingPasted);
    }
    let query = if let Ok(url) = Url::parse(text)
        && url.has_host()
    {
        Some(url.query().unwrap_or_default().to_owned())
    } else if text.contains("code=") || text.contains("error=") {
        Some(text.trim_start_matches('?').to_owned())
    } else {
        None
    };
    match query {
        Some(q) => {
            let params: HashMap<String, String> = url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect();
            Ok(evaluate(&params, expected_state)?)
        }
        // A bare code: the user copied only the code, so there is no state
        // to compare.
        None if !text.contains(char::is_whitespace) => Ok(Secret::new(text)),
        None => Err(FlowError::Callback(CallbackError::MissingCode)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pasted_answers() {
        let code =
            code_from_paste("  https://app.example.com/cb?code=abc%2B1&state=st\n", "st").unwrap();
        assert_eq!(code.expose(), "abc+1");
        assert_eq!(
            code_from_paste("code=xyz&state=st", "st").unwrap().expose(),
            "xyz"
        );
        assert_eq!(
            code_from_paste("just-the-code", "st").unwrap().expose(),
            "just-the-code"
        );
        assert!(matches!(
            code_from_paste("https://app.example.com/cb?code=abc&state=other", "st"),
            Err(FlowError::Callback(CallbackError::StateMismatch { .. }))
        ));
        assert!(matches!(
            code_from_paste(
                "https://app.example.com/cb?error=access_denied&state=st",
                "st"
            ),
            Err(FlowError::Callback(CallbackError::AccessDenied { .. }))
        ));
        assert!(matches!(
            code_from_paste("   ", "st"),
            Err(FlowError::NothingPasted)
        ));
        assert!(code_from_paste("two words", "st").is_err());
    }
}
