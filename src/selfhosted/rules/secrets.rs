//! Secrets: template example values, weak values (low entropy, repeated,
//! common), lengths (`JWT_SECRET` ≥ 32, `SECRET_KEY_BASE` ≥ 64,
//! `VAULT_ENC_KEY` exactly 32, passwords and tokens ≥ 32), characters that
//! break the URLs Compose builds from `POSTGRES_PASSWORD`, `$` that Compose
//! would interpolate, and a dashboard password made only of digits.

use super::Context;
use crate::selfhosted::finding::{Finding, FixAction, Severity};
use crate::selfhosted::secrets::spec;
use crate::selfhosted::strength;

/// Length rule of a secret.
#[derive(Clone, Copy)]
enum Length {
    AtLeast(usize, Severity),
    Exactly(usize),
}

struct Policy {
    name: &'static str,
    length: Length,
    /// Severity of a template example value.
    default_severity: Severity,
    why: &'static str,
}

const POLICIES: &[Policy] = &[
    Policy {
        name: "JWT_SECRET",
        length: Length::AtLeast(32, Severity::Error),
        default_severity: Severity::Error,
        why: "anyone who knows it can sign API keys and user sessions (PostgREST also refuses secrets shorter than 32 characters)",
    },
    Policy {
        name: "POSTGRES_PASSWORD",
        length: Length::AtLeast(32, Severity::Warning),
        default_severity: Severity::Error,
        why: "it protects the database superuser and every service role",
    },
    Policy {
        name: "DASHBOARD_PASSWORD",
        length: Length::AtLeast(32, Severity::Warning),
        default_severity: Severity::Error,
        why: "it protects Studio, which has full access to the database",
    },
    Policy {
        name: "SECRET_KEY_BASE",
        length: Length::AtLeast(64, Severity::Error),
        default_severity: Severity::Error,
        why: "Realtime and Supavisor sign sessions with it and refuse keys shorter than 64 characters",
    },
    Policy {
        name: "VAULT_ENC_KEY",
        length: Length::Exactly(32),
        default_severity: Severity::Error,
        why: "Supavisor uses it as an AES-256 key, which is exactly 32 bytes",
    },
    Policy {
        name: "PG_META_CRYPTO_KEY",
        length: Length::AtLeast(32, Severity::Warning),
        default_severity: Severity::Error,
        why: "Studio encrypts connection strings with it",
    },
    Policy {
        name: "LOGFLARE_PUBLIC_ACCESS_TOKEN",
        length: Length::AtLeast(32, Severity::Warning),
        default_severity: Severity::Error,
        why: "it grants access to log ingestion",
    },
    Policy {
        name: "LOGFLARE_PRIVATE_ACCESS_TOKEN",
        length: Length::AtLeast(32, Severity::Warning),
        default_severity: Severity::Error,
        why: "it grants access to all logs",
    },
    Policy {
        name: "LOGFLARE_API_KEY",
        length: Length::AtLeast(32, Severity::Warning),
        default_severity: Severity::Error,
        why: "it grants access to all logs",
    },
    Policy {
        name: "S3_PROTOCOL_ACCESS_KEY_ID",
        length: Length::AtLeast(16, Severity::Warning),
        default_severity: Severity::Error,
        why: "with the template's keys anyone can use Storage's S3 endpoint",
    },
    Policy {
        name: "S3_PROTOCOL_ACCESS_KEY_SECRET",
        length: Length::AtLeast(32, Severity::Warning),
        default_severity: Severity::Error,
        why: "with the template's keys anyone can use Storage's S3 endpoint",
    },
    Policy {
        name: "MINIO_ROOT_PASSWORD",
        length: Length::AtLeast(16, Severity::Warning),
        default_severity: Severity::Warning,
        why: "it protects MinIO when Storage uses it",
    },
];

/// Characters that break `scheme://user:${POSTGRES_PASSWORD}@host` URLs,
/// which the Compose file builds without encoding.
const URL_BREAKING: &[char] = &[
    '@', ':', '/', '?', '#', '[', ']', '%', '&', '=', '+', ' ', '"', '\'', '\\', '^', '{', '}',
    '|', '<', '>', ',', ';', '`',
];

fn regenerate_text(name: &str) -> String {
    let format = spec(name).map(|s| s.format.describe()).unwrap_or_default();
    format!("Generate a new value ({format}): fix_env or `supabase-mcp env fix`.")
}

pub(super) fn check(ctx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    for p in POLICIES {
        let Some(value) = ctx.get(p.name) else {
            continue;
        };
        if let Some(f) = strength_finding(ctx, p, value) {
            out.push(f);
        }
        let raw = ctx.file.get(p.name);
        if raw.is_some_and(|a| a.interpolates() && a.value.replace("\\$", "").contains('$')) {
            out.push(
                ctx.finding("compose_interpolation", Severity::Warning, p.name)
                    .message(format!(
                        "{} contains `$`, which Docker Compose replaces with another variable's value",
                        p.name
                    ))
                    .expected("no `$`, or the value in single quotes")
                    .fix(format!(
                        "Put the value in single quotes, or {}",
                        regenerate_text(p.name).to_lowercase()
                    ))
                    .action(FixAction::Regenerate(p.name.to_owned())),
            );
        }
    }
    if let Some(pw) = ctx.get("POSTGRES_PASSWORD") {
        let mut bad: Vec<String> = pw
            .chars()
            .filter(|c| URL_BREAKING.contains(c))
            .map(|c| {
                if c == ' ' {
                    "space".to_owned()
                } else {
                    format!("`{c}`")
                }
            })
            .collect();
        bad.sort();
        bad.dedup();
        if !bad.is_empty() {
            out.push(
                ctx.finding("password_url_chars", Severity::Error, "POSTGRES_PASSWORD")
                    .message(format!(
                        "POSTGRES_PASSWORD contains {}: the Compose file puts the password into connection URLs unencoded (Supavisor, Analytics, Realtime), which then fail to parse",
                        bad.join(", ")
                    ))
                    .expected("letters and digits only (URL-safe)")
                    .fix(format!(
                        "{} On an existing database, change the roles' password in the database as well.",
                        regenerate_text("POSTGRES_PASSWORD")
                    ))
                    .action(FixAction::Regenerate("POSTGRES_PASSWORD".into())),
            );
        }
    }
    if let Some(pw) = ctx.get("DASHBOARD_PASSWORD")
        && pw.chars().all(|c| c.is_ascii_digit())
    {
        out.push(
            ctx.finding("dashboard_password_digits", Severity::Error, "DASHBOARD_PASSWORD")
                .message("DASHBOARD_PASSWORD has only digits: Kong reads it as a number and the dashboard login fails")
                .expected("at least one letter")
                .fix(regenerate_text("DASHBOARD_PASSWORD"))
                .action(FixAction::Regenerate("DASHBOARD_PASSWORD".into())),
        );
    }
    out
}

/// One finding about a secret's strength: the template value, a length
/// error, a weak value, or a length warning (in that order).
fn strength_finding(ctx: &Context, p: &Policy, value: &str) -> Option<Finding> {
    let len = value.len();
    let action = FixAction::Regenerate(p.name.to_owned());
    let expected = match p.length {
        Length::AtLeast(n, _) => format!("at least {n} random characters"),
        Length::Exactly(n) => format!("exactly {n} random characters (ASCII)"),
    };
    if let Some(d) = strength::known_default(value) {
        return Some(
            ctx.finding("default_secret", p.default_severity, p.name)
                .message(format!(
                    "{} is the example value of {}, which is public: {}",
                    p.name, d.source, p.why
                ))
                .expected(expected)
                .fix(regenerate_text(p.name))
                .action(action),
        );
    }
    let length_problem = match p.length {
        Length::AtLeast(n, sev) if len < n => Some((
            sev,
            format!(
                "{} is {len} characters long; at least {n} are needed",
                p.name
            ),
        )),
        Length::Exactly(n) if len != n => Some((
            Severity::Error,
            format!("{} is {len} bytes long; it must be exactly {n}", p.name),
        )),
        _ => None,
    };
    let rule = if p.name == "JWT_SECRET" {
        "jwt_secret_short"
    } else {
        "secret_length"
    };
    if let Some((Severity::Error, message)) = &length_problem {
        return Some(
            ctx.finding(rule, Severity::Error, p.name)
                .message(format!("{message}: {}", p.why))
                .expected(expected)
                .fix(regenerate_text(p.name))
                .action(action),
        );
    }
    if let Some(w) = strength::weakness(value) {
        return Some(
            ctx.finding("weak_secret", p.default_severity, p.name)
                .message(format!(
                    "{} {}: it does not look randomly generated, and {}",
                    p.name,
                    w.describe(),
                    p.why
                ))
                .expected(expected)
                .fix(regenerate_text(p.name))
                .action(action),
        );
    }
    length_problem.map(|(sev, message)| {
        ctx.finding(rule, sev, p.name)
            .message(message)
            .expected(expected)
            .fix(regenerate_text(p.name))
            .action(action)
    })
}
