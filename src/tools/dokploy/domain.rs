//! `dokploy_manage_domain`: the public host name of a Supabase compose
//! service. Domains route to the `kong` service (the API gateway) on its
//! port 8000, with a Let's Encrypt certificate for HTTPS; adding or changing
//! one also points `API_EXTERNAL_URL`, `SUPABASE_PUBLIC_URL` and `SITE_URL`
//! at it through the same path as `dokploy_update_env` (old env saved).

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::common::{
    api, api_error, args_of, body, check_id, compose, param, redeploy, s, shape_error,
};
use super::env::{apply, check};
use crate::api::generated::dokploy::types;
use crate::api::{CallOptions, DokployApi};
use crate::groups::Group;
use crate::result::{ErrorCode, ToolError, ToolOutput};
use crate::selfhosted::EnvFile;
use crate::selfhosted::template::valid_domain;
use crate::server::call::Call;
use crate::tools::{Kind, ToolDef, tool};

/// The template's API gateway service and its HTTP port.
const KONG: &str = "kong";
const KONG_PORT: u16 = 8000;

pub fn tools() -> Vec<ToolDef> {
    vec![
        tool("dokploy_manage_domain", Group::Dokploy, Kind::Write)
            .title("Supabase domain on Dokploy")
            .description("Add, change or remove the domain routed to a Supabase compose service's kong (HTTPS via Let's Encrypt); updates the public URLs in its env.")
            .assess(assess_domain)
            .handler(manage_domain),
    ]
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Add,
    Update,
    Remove,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DomainArgs {
    /// Compose service id.
    pub compose_id: String,
    /// add, update or remove.
    pub action: Action,
    /// Host name, e.g. api.example.com (add and update).
    #[serde(default)]
    pub host: Option<String>,
    /// Domain id (update and remove; remove also finds it by host).
    #[serde(default)]
    pub domain_id: Option<String>,
    /// HTTPS with a Let's Encrypt certificate (default true).
    #[serde(default = "yes")]
    pub https: bool,
    /// Set API_EXTERNAL_URL, SUPABASE_PUBLIC_URL and SITE_URL to the new host (default true).
    #[serde(default = "yes")]
    pub update_urls: bool,
    /// SITE_URL (the app's address) when it is not the API host.
    #[serde(default)]
    pub site_url: Option<String>,
    /// Queue a redeployment so routing and env apply (default true).
    #[serde(default = "yes")]
    pub redeploy: bool,
}

fn yes() -> bool {
    true
}

pub(super) fn check_host(raw: Option<&str>) -> Result<String, ToolError> {
    let Some(h) = raw.map(str::trim).filter(|h| !h.is_empty()) else {
        return Err(
            ToolError::invalid("`host` is required to add or update a domain")
                .suggestion("Pass the host name, e.g. api.example.com."),
        );
    };
    let h = h.trim_end_matches('/').to_ascii_lowercase();
    if h.contains("://") || h.contains(':') || !valid_domain(&h) || !h.contains('.') {
        return Err(
            ToolError::invalid(format!("`{}` is not a host name", h.escape_debug()))
                .reason("a domain is a plain host name: no scheme, port or path")
                .suggestion(
                    "Pass e.g. api.example.com; its DNS record must point at the Dokploy server.",
                ),
        );
    }
    Ok(h)
}

pub(super) fn check_site_url(raw: Option<&str>) -> Result<Option<String>, ToolError> {
    let Some(u) = raw.map(str::trim).filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    match url::Url::parse(u) {
        Ok(url) if url.scheme() == "https" || url.scheme() == "http" => {
            Ok(Some(u.trim_end_matches('/').to_owned()))
        }
        _ => Err(ToolError::invalid(format!(
            "site_url `{}` is not an http(s) URL",
            u.escape_debug()
        ))
        .suggestion("Pass the app's address, e.g. https://app.example.com.")),
    }
}

fn assess_domain(args: &Map<String, Value>) -> Option<String> {
    let a: DomainArgs = args_of(args)?;
    let host = a.host.as_deref().unwrap_or("").trim().to_ascii_lowercase();
    let what = match a.action {
        Action::Add => format!(
            "add domain {host} (kong:{KONG_PORT}{}) to",
            if a.https {
                ", HTTPS via Let's Encrypt"
            } else {
                ", plain HTTP"
            }
        ),
        Action::Update => format!(
            "change domain {} to {host} on",
            a.domain_id.as_deref().unwrap_or("?")
        ),
        Action::Remove => format!(
            "remove domain {} from",
            a.domain_id
                .as_deref()
                .map(str::to_owned)
                .unwrap_or(host.clone())
        ),
    };
    let urls = if a.update_urls && a.action != Action::Remove {
        ", set API_EXTERNAL_URL, SUPABASE_PUBLIC_URL and SITE_URL to it (env saved as a version first)"
    } else {
        ""
    };
    Some(format!(
        "{what} compose service `{}`{urls}{}",
        a.compose_id.trim(),
        if a.redeploy { ", then redeploy it" } else { "" }
    ))
}

async fn domains(api: &DokployApi, id: &str) -> Result<Vec<Value>, ToolError> {
    let typed: types::DomainByComposeIdComposeId = param("compose_id", id)?;
    match api
        .idempotent(|c| c.domain_by_compose_id(&typed))
        .await
        .map_err(api_error)?
    {
        Value::Array(a) => Ok(a),
        Value::Null => Ok(Vec::new()),
        _ => Err(shape_error("the domain list is not a JSON array")),
    }
}

fn domain_body(host: &str, https: bool) -> Value {
    json!({
        "host": host,
        "path": "/",
        "port": KONG_PORT,
        "https": https,
        "certificateType": if https { "letsencrypt" } else { "none" },
        "serviceName": KONG,
        "domainType": "compose",
    })
}

async fn manage_domain(call: Call, a: DomainArgs) -> Result<ToolOutput, ToolError> {
    let id = check_id("compose_id", &a.compose_id)?;
    let site_url = check_site_url(a.site_url.as_deref())?;
    let host = match a.action {
        Action::Remove => a.host.as_deref().map(|h| check_host(Some(h))).transpose()?,
        _ => Some(check_host(a.host.as_deref())?),
    };
    let domain_id = a
        .domain_id
        .as_deref()
        .map(|d| check_id("domain_id", d))
        .transpose()?;
    let api = api(&call)?;
    let c = compose(&call, &api, &id).await?;
    let existing = domains(&api, &id).await?;
    let find_by_id = |d: &str| existing.iter().find(|x| s(x, "domainId") == d);
    let mut warnings = Vec::new();
    let (action, domain) = match a.action {
        Action::Add => {
            let h = host.clone().unwrap_or_default();
            if let Some(d) = existing.iter().find(|x| s(x, "host") == h) {
                return Err(ToolError::invalid(format!(
                    "compose service `{id}` already has domain {h}"
                ))
                .suggestion(format!(
                    "Use action update with domain_id {}.",
                    s(d, "domainId")
                )));
            }
            let mut v = domain_body(&h, a.https);
            v["composeId"] = json!(id);
            let b: types::DomainCreateBody = body("domain.create", v)?;
            let created = api
                .call(|cl| cl.domain_create(&b))
                .await
                .map_err(api_error)?;
            (
                "added",
                json!({"domain_id": s(&created, "domainId"), "host": h}),
            )
        }
        Action::Update => {
            let Some(did) = domain_id.clone() else {
                return Err(ToolError::invalid("`domain_id` is required to update a domain")
                    .suggestion("dokploy_manage_domain needs the id; Dokploy's domain tab (or action add) shows it."));
            };
            if find_by_id(&did).is_none() {
                return Err(ToolError::new(
                    ErrorCode::NotFound,
                    format!("compose service `{id}` has no domain {did}"),
                )
                .suggestion(format!("Its domains: {}.", hosts(&existing))));
            }
            let h = host.clone().unwrap_or_default();
            let mut v = domain_body(&h, a.https);
            v["domainId"] = json!(did);
            let b: types::DomainUpdateBody = body("domain.update", v)?;
            api.call_with(CallOptions::idempotent(), |cl| cl.domain_update(&b))
                .await
                .map_err(api_error)?;
            ("updated", json!({"domain_id": did, "host": h}))
        }
        Action::Remove => {
            let found = match (&domain_id, &host) {
                (Some(d), _) => find_by_id(d),
                (None, Some(h)) => existing.iter().find(|x| s(x, "host") == h),
                (None, None) => {
                    return Err(ToolError::invalid("name the domain to remove")
                        .suggestion("Pass domain_id or host."));
                }
            };
            let Some(d) = found else {
                return Err(ToolError::new(
                    ErrorCode::NotFound,
                    format!("compose service `{id}` has no such domain"),
                )
                .suggestion(format!("Its domains: {}.", hosts(&existing))));
            };
            let did = s(d, "domainId").to_owned();
            let removed_host = s(d, "host").to_owned();
            let b: types::DomainDeleteBody = body("domain.delete", json!({"domainId": did}))?;
            api.call(|cl| cl.domain_delete(&b))
                .await
                .map_err(api_error)?;
            warnings.push(format!(
                "the env's public URLs are unchanged; if they pointed at {removed_host}, set new ones with dokploy_update_env"
            ));
            ("removed", json!({"domain_id": did, "host": removed_host}))
        }
    };
    let mut env_result = Value::Null;
    if a.update_urls && a.action != Action::Remove {
        let h = host.clone().unwrap_or_default();
        let url = format!("{}://{h}", if a.https { "https" } else { "http" });
        let mut file = EnvFile::parse(&c.env);
        for v in ["API_EXTERNAL_URL", "SUPABASE_PUBLIC_URL"] {
            file.set(v, &url);
        }
        file.set("SITE_URL", site_url.as_deref().unwrap_or(&url));
        let after = file.render();
        let checked = check(&c.env, &after, c.deployed);
        if checked.changes.is_empty() {
            env_result = json!({"changed": false});
        } else {
            match apply(&call, &api, &c, &after, checked, None).await {
                Ok(applied) => {
                    warnings.extend(applied.warnings);
                    env_result = json!({
                        "changed": true,
                        "changes": applied.changes,
                        "saved_version": applied.saved_version,
                    });
                }
                Err(e) => {
                    return Err(ToolError::new(e.code, format!(
                        "the domain was {action}, but the env's URLs could not be updated: {}",
                        e.message
                    ))
                    .suggestion("Set API_EXTERNAL_URL, SUPABASE_PUBLIC_URL and SITE_URL with dokploy_update_env, then redeploy."));
                }
            }
        }
    }
    if !a.https {
        warnings.push(
            "plain HTTP: Supabase's auth redirects and browsers expect HTTPS in production"
                .to_owned(),
        );
    }
    let mut redeployed = false;
    if a.redeploy {
        match redeploy(&api, &id, "Domain change").await {
            Ok(()) => redeployed = true,
            Err(e) => warnings.push(format!(
                "the redeployment could not be queued ({}); run dokploy_restart_service so routing applies",
                e.message
            )),
        }
    } else {
        warnings.push(
            "routing and env apply after the next redeploy (dokploy_restart_service)".to_owned(),
        );
    }
    let mut out = ToolOutput::untrusted(json!({
        "compose_id": id,
        "action": action,
        "domain": domain,
        "env": env_result,
        "redeployed": redeployed,
        "next_step": "the certificate is issued once DNS points at the Dokploy server; dokploy_monitor_health shows the containers",
    }));
    for w in warnings {
        out = out.warn(w);
    }
    Ok(out)
}

fn hosts(list: &[Value]) -> String {
    if list.is_empty() {
        return "none".to_owned();
    }
    list.iter()
        .map(|d| format!("{} ({})", s(d, "host"), s(d, "domainId")))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_checked() {
        assert_eq!(
            check_host(Some(" API.Example.com/ ")).unwrap(),
            "api.example.com"
        );
        assert!(check_host(Some("https://api.example.com")).is_err());
        assert!(check_host(Some("api.example.com:8000")).is_err());
        assert!(check_host(Some("localhost")).is_err());
        assert!(check_host(None).is_err());
        assert!(check_site_url(Some("ftp://x")).is_err());
        assert_eq!(
            check_site_url(Some("https://app.example.com/"))
                .unwrap()
                .as_deref(),
            Some("https://app.example.com")
        );
    }

    #[test]
    fn confirmations_name_the_change() {
        let a = json!({"compose_id": "c1", "action": "add", "host": "api.example.com"});
        let t = assess_domain(a.as_object().unwrap()).unwrap();
        assert!(
            t.contains("api.example.com") && t.contains("Let's Encrypt") && t.contains("redeploy"),
            "{t}"
        );
    }
}
