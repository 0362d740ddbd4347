//! Infrastructure values the template's services rely on: the database
//! host, name and port, the pooler, Kong and Studio ports. A change is a
//! warning (it is right for an external database or several instances on
//! one host, and wrong otherwise); ports must be numbers and must not clash.

use super::Context;
use crate::selfhosted::finding::{Finding, FixAction, Severity};

/// Variable, template value, why it matters.
pub const IMMUTABLE: &[(&str, &str, &str)] = &[
    (
        "POSTGRES_HOST",
        "db",
        "the services reach the database by its Docker service name `db`",
    ),
    (
        "POSTGRES_DB",
        "postgres",
        "Supabase's schemas and roles live in the `postgres` database",
    ),
    (
        "POSTGRES_PORT",
        "5432",
        "the services connect to the database on this port",
    ),
    (
        "POOLER_PROXY_PORT_TRANSACTION",
        "6543",
        "clients use it for Supavisor's transaction mode",
    ),
    (
        "KONG_HTTP_PORT",
        "8000",
        "the public URLs and the proxy in front point at Kong's port",
    ),
    (
        "KONG_HTTPS_PORT",
        "8443",
        "the proxy in front points at Kong's HTTPS port",
    ),
    (
        "STUDIO_PORT",
        "3000",
        "Kong forwards the dashboard to Studio on this port",
    ),
];

const PORTS: &[&str] = &[
    "POSTGRES_PORT",
    "POOLER_PROXY_PORT_TRANSACTION",
    "KONG_HTTP_PORT",
    "KONG_HTTPS_PORT",
    "STUDIO_PORT",
];

pub(super) fn check(ctx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    for (name, default, why) in IMMUTABLE {
        let Some(value) = ctx.get(name) else {
            continue;
        };
        if PORTS.contains(name) && !matches!(value.parse::<u16>(), Ok(p) if p > 0) {
            out.push(
                ctx.finding("invalid_port", Severity::Error, name)
                    .message(format!("{name} is not a port number (1-65535)"))
                    .expected(*default)
                    .fix(format!("Set {name}={default}."))
                    .action(FixAction::Set((*name).to_owned(), (*default).to_owned())),
            );
            continue;
        }
        if value != *default {
            out.push(
                ctx.finding("infrastructure_changed", Severity::Warning, name)
                    .message(format!(
                        "{name} differs from the template's `{default}`: {why}. Keep the change only for an external database or several instances on one host"
                    ))
                    .expected(*default)
                    .fix(format!("Restore {name}={default} unless the change is intended."))
                    .action(FixAction::Set((*name).to_owned(), (*default).to_owned())),
            );
        }
    }
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for name in PORTS {
        let Some(value) = ctx.get(name) else {
            continue;
        };
        if let Some((other, _)) = seen.iter().find(|(_, v)| *v == value) {
            out.push(
                ctx.finding("port_conflict", Severity::Error, name)
                    .message(format!(
                        "{name} and {other} are both {value}: two services cannot listen on one port"
                    ))
                    .expected("a port of its own")
                    .fix(format!("Give {name} a port no other service uses.")),
            );
        }
        seen.push((name, value));
    }
    out
}
