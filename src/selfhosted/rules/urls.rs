//! Public URLs: `SITE_URL`, `API_EXTERNAL_URL`, `SUPABASE_PUBLIC_URL` and
//! `ADDITIONAL_REDIRECT_URLS` must use `https://` unless they point at a
//! local host; other URL variables get a warning for `http://`; a mix of
//! `http://` and `https://` public URLs gets one more warning; values that
//! are not URLs are errors.

use super::Context;
use crate::selfhosted::finding::{Finding, FixAction, Severity};
use crate::selfhosted::protocols::{self, REQUIRED_HTTPS};

pub(super) fn check(ctx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut public_http = Vec::new();
    let mut public_https = 0;
    for (name, value) in ctx.vars_in_order() {
        if !protocols::is_url_variable(name, value) || value.trim().is_empty() {
            continue;
        }
        let required = REQUIRED_HTTPS.contains(&name);
        let mut http_items = Vec::new();
        for item in protocols::items(value) {
            match item {
                Ok(u) if u.is_https() => {
                    if !u.is_local() {
                        public_https += 1;
                    }
                }
                Ok(u) if u.is_http() => {
                    if !u.is_local() {
                        http_items.push(u.text.clone());
                    }
                }
                Ok(u) => out.push(
                    ctx.finding("invalid_url", Severity::Error, name)
                        .message(format!(
                            "{name} has a `{}://` URL; Supabase's public URLs use http or https",
                            u.scheme
                        ))
                        .expected("https://<your-domain>")
                        .fix(format!("Set {name} to the https URL of your domain.")),
                ),
                Err(text) => out.push(
                    ctx.finding("invalid_url", Severity::Error, name)
                        .message(format!(
                            "{name} has `{}`, which is not a URL (scheme://host)",
                            crate::selfhosted::mask::shown(name, &text)
                        ))
                        .expected("https://<your-domain>")
                        .fix(format!(
                            "Set {name} to a full URL such as https://example.com."
                        )),
                ),
            }
        }
        if http_items.is_empty() {
            continue;
        }
        public_http.push(name.to_owned());
        let (converted, _) = protocols::to_https(value);
        let severity = if required {
            Severity::Error
        } else {
            Severity::Warning
        };
        out.push(
            ctx.finding("http_url", severity, name)
                .message(format!(
                    "{name} uses http:// for {}: browsers block mixed content, OAuth providers refuse http redirect URLs, and keys travel unencrypted",
                    http_items
                        .iter()
                        .filter_map(|t| protocols::items(t).into_iter().next())
                        .filter_map(Result::ok)
                        .map(|u| u.host)
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
                .expected(converted)
                .fix("Switch to https:// (convert_protocols, fix_env or `supabase-mcp env protocols`); http:// stays allowed for localhost.")
                .action(FixAction::Https(name.to_owned())),
        );
    }
    if !public_http.is_empty() && public_https > 0 {
        out.push(
            Finding::new("mixed_protocols", Severity::Warning, None)
                .message(format!(
                    "some public URLs use https:// and others http:// ({}): requests between them are blocked as mixed content",
                    public_http.join(", ")
                ))
                .expected("https:// for every public URL")
                .fix("Fix the http_url findings (fix_env with rule http_url converts them all)."),
        );
    }
    out
}
