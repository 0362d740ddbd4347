//! Signing in to the Supabase Management API with OAuth (authorization code
//! with PKCE) and using the stored tokens in place of a personal access
//! token.
//!
//! - [`pkce`]: the code verifier, its S256 challenge, the `state` value;
//! - [`endpoints`]: the authorize URL, the token and revoke calls;
//! - [`callback`]: the loopback redirect listener and the redirect check;
//! - [`flow`]: one sign-in, start to finish (listener or pasted code);
//! - [`store`]: the login file (mode 0600) and the OS keyring;
//! - [`settings`]: the `[oauth]` config section and environment;
//! - [`refresh`]: the stored login as a credential, refreshed before expiry;
//! - [`hook`]: what the configuration calls.

pub mod callback;
pub mod endpoints;
pub mod flow;
pub mod hook;
pub mod pkce;
pub mod refresh;
pub mod settings;
pub mod store;

pub use endpoints::{ClientAuth, EndpointError, Endpoints, OAuthApp, TokenResponse};
pub use refresh::{REFRESH_MARGIN, RefreshError, TokenSource};
pub use settings::OAuthSettings;
pub use store::{Login, StoreChoice, StoreKind, TokenStore};
