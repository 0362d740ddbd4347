//! Every rule against good and bad files (`tests/fixtures/selfhosted/`).

use super::*;
use crate::selfhosted::finding::{FixAction, Severity};

fn fixture(name: &str) -> EnvFile {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/selfhosted")
        .join(name);
    EnvFile::read(&path).unwrap()
}

/// A fixed time (2030-01-01) so that expiry checks do not drift.
const NOW: i64 = 1_893_456_000;

fn report(file: &EnvFile) -> Report {
    let r = validate(
        file,
        &Options {
            project_name: None,
            now: Some(NOW),
        },
    );
    assert_no_secret(file, &r);
    r
}

fn check(name: &str) -> Report {
    report(&fixture(name))
}

/// No value of a secret variable (6+ characters) appears in the report.
fn assert_no_secret(file: &EnvFile, r: &Report) {
    let json = serde_json::to_string(r).unwrap();
    for a in file.assignments() {
        if mask::is_secret_var(&a.key) && a.value.len() >= 6 {
            assert!(!json.contains(&a.value), "{} leaked into the report", a.key);
        }
    }
}

fn ids(r: &Report) -> Vec<&str> {
    r.findings.iter().map(|f| f.id.as_str()).collect()
}

fn find<'a>(r: &'a Report, id: &str) -> &'a Finding {
    r.findings
        .iter()
        .find(|f| f.id == id)
        .unwrap_or_else(|| panic!("no finding {id} in {:?}", ids(r)))
}

#[test]
fn a_production_file_is_clean() {
    let r = check("clean.env");
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
    assert!(r.valid);
    assert_eq!(r.exit_code(), 0);
}

#[test]
fn dokploy_broken_keys_get_one_finding_that_regenerates() {
    let r = check("dokploy_broken.env");
    let f = find(&r, "dokploy_broken_keys");
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.action, Some(FixAction::ResignKeys));
    assert!(f.message.contains("identical"));
    assert!(f.message.contains("no `role` claim"));
    assert!(f.message.contains("`dokploy`"));
    // No per-key noise on top of it.
    assert!(
        !ids(&r).iter().any(|i| i.starts_with("jwt_")),
        "{:?}",
        ids(&r)
    );
    assert_eq!(r.exit_code(), 2);
}

#[test]
fn identical_keys_without_role_are_dokploy_keys() {
    let r = check("identical_no_role.env");
    let f = find(&r, "dokploy_broken_keys");
    assert!(f.message.contains("identical") && f.message.contains("no `role`"));
    assert!(!f.message.contains("issuer is `dokploy`"));
}

#[test]
fn issuer_dokploy_alone_is_detected() {
    let r = check("issuer_dokploy.env");
    let f = find(&r, "dokploy_broken_keys");
    assert!(f.message.contains("the issuer is `dokploy`"));
    assert!(!f.message.contains("identical"));
}

#[test]
fn expired_key() {
    let r = check("expired_key.env");
    let f = find(&r, "jwt_expired:ANON_KEY");
    assert_eq!(f.severity, Severity::Error);
    assert!(f.message.contains("2021-01-01"));
    assert!(f.current.as_deref().unwrap().contains("role=anon"));
    assert_eq!(ids(&r), vec!["jwt_expired:ANON_KEY"]);
}

#[test]
fn key_expiring_soon_is_a_warning() {
    let file = fixture("clean.env");
    // The fixture's keys expire in 2100: judge them a week before.
    let r = validate(
        &file,
        &Options {
            project_name: None,
            now: Some(4_102_444_800 - 7 * 86_400),
        },
    );
    assert_eq!(
        find(&r, "jwt_expiring:SERVICE_ROLE_KEY").severity,
        Severity::Warning
    );
    assert_eq!(r.exit_code(), 1);
}

#[test]
fn wrong_signature() {
    let r = check("wrong_signature.env");
    let f = find(&r, "jwt_signature:SERVICE_ROLE_KEY");
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(ids(&r), vec!["jwt_signature:SERVICE_ROLE_KEY"]);
}

#[test]
fn swapped_keys() {
    let r = check("swapped_keys.env");
    assert!(find(&r, "jwt_role:ANON_KEY").message.contains("swapped"));
    assert!(
        find(&r, "jwt_role:SERVICE_ROLE_KEY")
            .message
            .contains("swapped")
    );
}

#[test]
fn identical_keys_with_a_role() {
    let mut f = fixture("clean.env");
    let anon = f.value("ANON_KEY").unwrap().to_owned();
    f.set("SERVICE_ROLE_KEY", &anon);
    let r = report(&f);
    find(&r, "jwt_keys_identical");
    find(&r, "jwt_role:SERVICE_ROLE_KEY");
    assert!(!ids(&r).contains(&"dokploy_broken_keys"));
}

#[test]
fn keys_that_are_not_jwts_or_not_hs256() {
    let mut f = fixture("clean.env");
    f.set("ANON_KEY", "not-a-jwt-at-all");
    f.set(
        "SERVICE_ROLE_KEY",
        "eyJhbGciOiJFUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.c2ln",
    );
    let r = report(&f);
    assert!(
        find(&r, "jwt_invalid:ANON_KEY")
            .message
            .contains("not a valid JWT")
    );
    assert!(
        find(&r, "jwt_invalid:SERVICE_ROLE_KEY")
            .message
            .contains("ES256")
    );
}

#[test]
fn template_defaults_are_errors() {
    let r = check("default_passwords.env");
    for var in [
        "POSTGRES_PASSWORD",
        "JWT_SECRET",
        "DASHBOARD_PASSWORD",
        "SECRET_KEY_BASE",
        "VAULT_ENC_KEY",
        "PG_META_CRYPTO_KEY",
        "LOGFLARE_PUBLIC_ACCESS_TOKEN",
        "LOGFLARE_PRIVATE_ACCESS_TOKEN",
        "S3_PROTOCOL_ACCESS_KEY_ID",
        "S3_PROTOCOL_ACCESS_KEY_SECRET",
    ] {
        let f = find(&r, &format!("default_secret:{var}"));
        assert_eq!(f.severity, Severity::Error, "{var}");
        assert_eq!(f.action, Some(FixAction::Regenerate(var.to_owned())));
        assert!(f.message.contains("example value"));
    }
    assert_eq!(
        find(&r, "default_secret:MINIO_ROOT_PASSWORD").severity,
        Severity::Warning
    );
    // The demo keys are signed with the public secret.
    find(&r, "demo_keys:ANON_KEY");
    find(&r, "demo_keys:SERVICE_ROLE_KEY");
    find(&r, "jwt_issuer:ANON_KEY");
    assert_eq!(
        find(&r, "template_default:POOLER_TENANT_ID").severity,
        Severity::Info
    );
}

#[test]
fn weak_secrets() {
    let r = check("weak_secrets.env");
    let f = find(&r, "jwt_secret_short:JWT_SECRET");
    assert_eq!(f.severity, Severity::Error);
    assert!(f.message.contains("16 characters"));
    assert_eq!(f.current.as_deref(), Some("sh… (16 characters)"));
    let pw = find(&r, "password_url_chars:POSTGRES_PASSWORD");
    assert!(pw.message.contains("`@`") && pw.message.contains("`/`") && pw.message.contains("`#`"));
    find(&r, "dashboard_password_digits:DASHBOARD_PASSWORD");
    assert!(
        find(&r, "secret_length:SECRET_KEY_BASE")
            .message
            .contains("at least 64")
    );
    assert!(
        find(&r, "secret_length:VAULT_ENC_KEY")
            .message
            .contains("exactly 32")
    );
    assert!(
        find(&r, "weak_secret:PG_META_CRYPTO_KEY")
            .message
            .contains("repeats")
    );
    find(&r, "compose_interpolation:LOGFLARE_PUBLIC_ACCESS_TOKEN");
}

#[test]
fn weak_but_long_jwt_secret() {
    let mut f = fixture("clean.env");
    f.set("JWT_SECRET", &"ab".repeat(20));
    let r = report(&f);
    assert!(
        find(&r, "weak_secret:JWT_SECRET")
            .message
            .contains("repeats")
    );
    // Keys no longer match the secret either.
    find(&r, "jwt_signature:ANON_KEY");
}

#[test]
fn mixed_protocols() {
    let r = check("mixed_protocols.env");
    for var in [
        "API_EXTERNAL_URL",
        "SUPABASE_PUBLIC_URL",
        "ADDITIONAL_REDIRECT_URLS",
    ] {
        let f = find(&r, &format!("http_url:{var}"));
        assert_eq!(f.severity, Severity::Error);
        assert_eq!(f.action, Some(FixAction::Https(var.to_owned())));
    }
    assert_eq!(
        find(&r, "http_url:ADDITIONAL_REDIRECT_URLS").expected,
        "https://app.tools.example.com/*,http://localhost:3000/*"
    );
    assert_eq!(
        find(&r, "http_url:SUPABASE_PUBLIC_URL").expected,
        "https://supabase.tools.example.com"
    );
    assert_eq!(find(&r, "mixed_protocols").severity, Severity::Warning);
    assert!(!ids(&r).contains(&"http_url:SITE_URL"));
}

#[test]
fn http_is_fine_for_local_development() {
    let mut f = fixture("clean.env");
    f.set("SITE_URL", "http://localhost:3000");
    f.set("SUPABASE_PUBLIC_URL", "http://127.0.0.1:8000");
    f.set("API_EXTERNAL_URL", "http://localhost:8000");
    let r = report(&f);
    assert!(r.findings.is_empty(), "{:?}", ids(&r));
}

#[test]
fn values_that_are_not_urls() {
    let mut f = fixture("clean.env");
    f.set("SITE_URL", "app.example.com");
    f.set("API_EXTERNAL_URL", "ftp://x.example.com");
    let r = report(&f);
    find(&r, "invalid_url:SITE_URL");
    assert!(
        find(&r, "invalid_url:API_EXTERNAL_URL")
            .message
            .contains("ftp")
    );
}

#[test]
fn fake_smtp() {
    let r = check("fake_smtp.env");
    for var in [
        "SMTP_ADMIN_EMAIL",
        "SMTP_HOST",
        "SMTP_PORT",
        "SMTP_USER",
        "SMTP_PASS",
        "SMTP_SENDER_NAME",
    ] {
        let f = find(&r, &format!("fake_smtp:{var}"));
        assert_eq!(f.severity, Severity::Warning);
        assert!(!f.fixable);
    }
    assert!(r.valid);
    assert_eq!(r.exit_code(), 1);
    let mut f = fixture("clean.env");
    f.set("SMTP_PORT", "2587");
    assert_eq!(ids(&report(&f)), vec!["smtp_port:SMTP_PORT"]);
}

#[test]
fn missing_logflare_variables() {
    let r = check("missing_logflare.env");
    for var in [
        "LOGFLARE_PUBLIC_ACCESS_TOKEN",
        "LOGFLARE_PRIVATE_ACCESS_TOKEN",
    ] {
        let f = find(&r, &format!("missing_variable:{var}"));
        assert_eq!(f.severity, Severity::Error);
        assert_eq!(f.action, Some(FixAction::Regenerate(var.to_owned())));
    }
    let m = find(&r, "logflare_mode:LOGFLARE_SINGLE_TENANT");
    assert_eq!(m.severity, Severity::Info);
    assert_eq!(
        m.action,
        Some(FixAction::Set(
            "LOGFLARE_SINGLE_TENANT".into(),
            "true".into()
        ))
    );
    // The older single key is enough.
    let mut f = fixture("missing_logflare.env");
    f.set("LOGFLARE_API_KEY", "k3j9x0q8w7e6r5t4y3u2i1o0p9a8s7d6");
    assert!(
        !ids(&report(&f))
            .iter()
            .any(|i| i.starts_with("missing_variable"))
    );
    let mut f = fixture("clean.env");
    f.set("LOGFLARE_SUPABASE_MODE", "false");
    assert_eq!(
        find(&report(&f), "logflare_mode:LOGFLARE_SUPABASE_MODE").severity,
        Severity::Error
    );
}

#[test]
fn missing_and_empty_required_variables() {
    let f = EnvFile::parse("POSTGRES_HOST=db\nSITE_URL=\n");
    let r = report(&f);
    let site = find(&r, "missing_variable:SITE_URL");
    assert!(site.message.contains("empty") && !site.fixable);
    let port = find(&r, "missing_variable:POSTGRES_PORT");
    assert_eq!(
        port.action,
        Some(FixAction::Set("POSTGRES_PORT".into(), "5432".into()))
    );
    find(&r, "missing_variable:ANON_KEY");
    assert!(!ids(&r).contains(&"missing_variable:POSTGRES_HOST"));
}

#[test]
fn bad_project_names() {
    let r = check("bad_project_name.env");
    let f = find(&r, "project_name:CONTAINER_PREFIX");
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.expected, "my-project");
    let c = find(&r, "project_name:COMPOSE_PROJECT_NAME");
    assert!(c.message.contains("reserved"));
    let given = validate(
        &fixture("clean.env"),
        &Options {
            project_name: Some("Shop Prod".into()),
            now: Some(NOW),
        },
    );
    assert_eq!(find(&given, "project_name").expected, "shop-prod");
    let mut f = fixture("clean.env");
    f.set("CONTAINER_PREFIX", "tools-supabase");
    find(&report(&f), "container_prefix:CONTAINER_PREFIX");
}

#[test]
fn infrastructure_changes() {
    let r = check("infra_changed.env");
    let host = find(&r, "infrastructure_changed:POSTGRES_HOST");
    assert_eq!(host.severity, Severity::Warning);
    assert_eq!(
        host.action,
        Some(FixAction::Set("POSTGRES_HOST".into(), "db".into()))
    );
    find(&r, "infrastructure_changed:KONG_HTTP_PORT");
    assert_eq!(
        find(&r, "invalid_port:STUDIO_PORT").severity,
        Severity::Error
    );
    assert!(
        find(&r, "port_conflict:POOLER_PROXY_PORT_TRANSACTION")
            .message
            .contains("POSTGRES_PORT")
    );
}

#[test]
fn syntax_and_duplicates() {
    let r = check("syntax_and_duplicates.env");
    let s = r.findings.iter().find(|f| f.rule == "syntax").unwrap();
    assert!(s.id.starts_with("syntax:line-"));
    assert!(
        !s.message.contains("this line is not"),
        "the line's text is never quoted"
    );
    find(&r, "duplicate_variable:POSTGRES_DB");
}

#[test]
fn findings_are_ordered_errors_first() {
    let r = check("default_passwords.env");
    let sev: Vec<Severity> = r.findings.iter().map(|f| f.severity).collect();
    let mut sorted = sev.clone();
    sorted.sort();
    assert_eq!(sev, sorted);
    assert_eq!(
        r.summary.errors,
        sev.iter().filter(|s| **s == Severity::Error).count()
    );
}

#[test]
fn values_agree_with_dotenvy() {
    // The parser reads the fixtures exactly as the import in config::dotenv does.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/selfhosted");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("syntax")
        {
            continue;
        }
        let ours = EnvFile::read(&path).unwrap().resolved();
        let theirs = crate::config::dotenv::read_vars(&path).unwrap();
        assert_eq!(ours, theirs, "{}", path.display());
    }
}
