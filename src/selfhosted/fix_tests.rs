//! Fixes: what they change, that nothing else changes, and that no secret
//! shows in the list of changes.

use super::*;
use crate::selfhosted::finding::Severity;
use crate::selfhosted::rules::{Options, validate};

fn fixture(name: &str) -> EnvFile {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/selfhosted")
        .join(name);
    EnvFile::read(&path).unwrap()
}

const NOW: i64 = 1_893_456_000;

fn report(f: &EnvFile) -> Report {
    validate(
        f,
        &Options {
            project_name: None,
            now: Some(NOW),
        },
    )
}

fn rules(r: &[&str]) -> Selection {
    Selection {
        rules: r.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

/// Lines of `after` that differ from `before`, by variable name.
fn changed_lines(before: &str, after: &str) -> Vec<String> {
    let b: Vec<&str> = before.lines().collect();
    let a: Vec<&str> = after.lines().collect();
    let mut out = Vec::new();
    for (i, line) in a.iter().enumerate() {
        if b.get(i) != Some(line) {
            out.push(line.split('=').next().unwrap_or("").trim().to_owned());
        }
    }
    out
}

/// No value of a secret variable of either file appears in the outcome's
/// changes or diff.
fn assert_masked(before: &EnvFile, o: &Outcome) {
    let text = format!(
        "{}{}",
        serde_json::to_string(&o.changes).unwrap(),
        diff_text("a", "b", &o.changes)
    );
    for f in [before, &o.file] {
        for a in f.assignments() {
            if mask::is_secret_var(&a.key) && a.value.len() >= 6 {
                assert!(!text.contains(&a.value), "{} shown unmasked", a.key);
            }
        }
    }
}

#[test]
fn fixing_everything_in_the_template_defaults() {
    let before = fixture("default_passwords.env");
    let r = report(&before);
    let o = apply(
        &before,
        &r,
        &Selection {
            all: true,
            ..Default::default()
        },
        5,
    )
    .unwrap();
    assert_masked(&before, &o);
    let after = report(&o.file);
    assert_eq!(after.summary.errors, 0, "{:#?}", after.findings);
    assert_eq!(after.summary.warnings, 0, "{:#?}", after.findings);
    // Same lines, same order: only values changed.
    let (b, a) = (before.render(), o.file.render());
    assert_eq!(b.lines().count(), a.lines().count());
    let mut changed = changed_lines(&b, &a);
    changed.sort();
    let mut expected: Vec<String> = o.changes.iter().map(|c| c.variable.clone()).collect();
    expected.sort();
    assert_eq!(changed, expected);
    assert!(a.starts_with("############\n# Secrets\n"));
    assert!(
        o.notes
            .iter()
            .any(|n| n.contains("POSTGRES_PASSWORD only takes effect"))
    );
    assert!(o.notes.iter().any(|n| n.contains("session")));
    // The keys were signed with the new secret.
    let secret = o.file.value("JWT_SECRET").unwrap();
    assert_ne!(Some(secret), before.value("JWT_SECRET"));
    let d = jwt::verify(o.file.value("SERVICE_ROLE_KEY").unwrap(), secret.as_bytes()).unwrap();
    assert_eq!(d.role(), Some("service_role"));
}

#[test]
fn dokploy_keys_are_regenerated_with_the_existing_secret() {
    let before = fixture("dokploy_broken.env");
    let r = report(&before);
    let o = apply(&before, &r, &rules(&["dokploy_broken_keys"]), 5).unwrap();
    assert_masked(&before, &o);
    assert_eq!(o.applied, vec!["dokploy_broken_keys"]);
    let vars: Vec<&str> = o.changes.iter().map(|c| c.variable.as_str()).collect();
    assert_eq!(vars, vec!["ANON_KEY", "SERVICE_ROLE_KEY"]);
    assert_eq!(o.file.value("JWT_SECRET"), before.value("JWT_SECRET"));
    let secret = before.value("JWT_SECRET").unwrap().as_bytes();
    for (var, role) in [("ANON_KEY", "anon"), ("SERVICE_ROLE_KEY", "service_role")] {
        let d = jwt::verify(o.file.value(var).unwrap(), secret).unwrap();
        assert_eq!(d.role(), Some(role));
        assert_eq!(d.issuer(), Some("supabase"));
    }
    assert!(report(&o.file).findings.is_empty());
}

#[test]
fn a_new_jwt_secret_re_signs_the_keys() {
    let before = fixture("weak_secrets.env");
    let r = report(&before);
    let o = apply(
        &before,
        &r,
        &Selection {
            ids: vec!["jwt_secret_short:JWT_SECRET".into()],
            ..Default::default()
        },
        5,
    )
    .unwrap();
    let vars: Vec<&str> = o.changes.iter().map(|c| c.variable.as_str()).collect();
    assert!(
        vars.contains(&"JWT_SECRET")
            && vars.contains(&"ANON_KEY")
            && vars.contains(&"SERVICE_ROLE_KEY")
    );
    let after = report(&o.file);
    assert!(
        !after
            .findings
            .iter()
            .any(|f| f.variable.as_deref() == Some("JWT_SECRET"))
    );
    assert!(
        !after.findings.iter().any(|f| f.rule.starts_with("jwt_")),
        "{:?}",
        after.findings
    );
    // Other weak secrets were not touched.
    assert_eq!(o.file.value("VAULT_ENC_KEY"), before.value("VAULT_ENC_KEY"));
}

#[test]
fn re_signing_with_a_weak_secret_replaces_the_secret_too() {
    let mut before = fixture("expired_key.env");
    before.set("JWT_SECRET", "tooshort");
    let before = EnvFile::parse(&before.render());
    let r = report(&before);
    let o = apply(&before, &r, &rules(&["jwt_expired"]), 2).unwrap();
    assert!(o.changes.iter().any(|c| c.variable == "JWT_SECRET"));
    assert!(
        o.notes
            .iter()
            .any(|n| n.contains("JWT_SECRET was missing or weak"))
    );
    let secret = o.file.value("JWT_SECRET").unwrap().as_bytes();
    let d = jwt::verify(o.file.value("ANON_KEY").unwrap(), secret).unwrap();
    assert_eq!(d.exp().unwrap() - d.iat().unwrap(), 2 * 365 * 86_400);
}

#[test]
fn https_fix_changes_only_the_scheme_and_keeps_local_urls() {
    let before = fixture("mixed_protocols.env");
    let r = report(&before);
    let o = apply(&before, &r, &rules(&["http_url"]), 5).unwrap();
    assert_eq!(
        o.file.value("ADDITIONAL_REDIRECT_URLS"),
        Some("https://app.tools.example.com/*,http://localhost:3000/*")
    );
    assert_eq!(
        o.file.value("SUPABASE_PUBLIC_URL"),
        Some("https://supabase.tools.example.com")
    );
    let c = o
        .changes
        .iter()
        .find(|c| c.variable == "API_EXTERNAL_URL")
        .unwrap();
    assert_eq!(
        c.before.as_deref(),
        Some("http://supabase.tools.example.com")
    );
    assert_eq!(c.after, "https://supabase.tools.example.com");
    assert_eq!(c.because, vec!["http_url:API_EXTERNAL_URL"]);
    assert!(report(&o.file).findings.is_empty());
    let diff = diff_text(".env", ".env.fixed", &o.changes);
    assert!(diff.contains("-API_EXTERNAL_URL=http://supabase.tools.example.com\n+API_EXTERNAL_URL=https://supabase.tools.example.com\n"));
}

#[test]
fn quoting_and_inline_comments_are_kept() {
    let mut f = fixture("clean.env");
    f.set("VAULT_ENC_KEY", "shorter-than-32");
    f.set("API_EXTERNAL_URL", "http://supabase.tools.example.com");
    let before = EnvFile::parse(&f.render());
    let o = apply(
        &before,
        &report(&before),
        &Selection {
            all: true,
            ..Default::default()
        },
        5,
    )
    .unwrap();
    let text = o.file.render();
    let vault = text
        .lines()
        .find(|l| l.starts_with("VAULT_ENC_KEY="))
        .unwrap();
    assert!(
        vault.starts_with("VAULT_ENC_KEY='") && vault.ends_with('\'') && vault.len() == 15 + 32 + 1
    );
    assert!(
        text.contains("API_EXTERNAL_URL=https://supabase.tools.example.com  # the Kong domain\n")
    );
    assert!(text.contains("export FUNCTIONS_VERIFY_JWT=true\n"));
}

#[test]
fn missing_variables_are_appended_under_a_header() {
    let before = fixture("missing_logflare.env");
    let o = apply(
        &before,
        &report(&before),
        &Selection {
            all: true,
            ..Default::default()
        },
        5,
    )
    .unwrap();
    let text = o.file.render();
    assert!(text.starts_with(&before.render()));
    let tail = &text[before.render().len()..];
    assert!(tail.starts_with("\n# Added by supabase-mcp env fix\n"));
    for v in [
        "LOGFLARE_PUBLIC_ACCESS_TOKEN",
        "LOGFLARE_PRIVATE_ACCESS_TOKEN",
        "LOGFLARE_SINGLE_TENANT",
        "LOGFLARE_SUPABASE_MODE",
    ] {
        assert!(tail.contains(&format!("\n{v}=")), "{v}");
        let c = o.changes.iter().find(|c| c.variable == v).unwrap();
        assert_eq!(c.kind, "added");
    }
    assert!(
        report(&o.file).findings.is_empty(),
        "{:?}",
        report(&o.file).findings
    );
}

#[test]
fn selections_are_checked() {
    let f = fixture("fake_smtp.env");
    let r = report(&f);
    assert!(matches!(
        apply(&f, &r, &Selection::default(), 5),
        Err(FixError::NothingSelected)
    ));
    assert!(matches!(
        apply(&f, &r, &rules(&["no_such_rule"]), 5),
        Err(FixError::UnknownRule(_))
    ));
    let ids = Selection {
        ids: vec!["http_url:SITE_URL".into()],
        ..Default::default()
    };
    assert!(matches!(
        apply(&f, &r, &ids, 5),
        Err(FixError::UnknownId(_))
    ));
    assert!(matches!(
        apply(
            &f,
            &r,
            &Selection {
                all: true,
                ..Default::default()
            },
            0
        ),
        Err(FixError::Jwt(_))
    ));
    // Fake SMTP cannot be fixed automatically: named findings are skipped with the reason.
    let o = apply(&f, &r, &rules(&["fake_smtp"]), 5).unwrap();
    assert!(o.changes.is_empty());
    assert_eq!(o.skipped.len(), 6);
    assert!(o.skipped[0].reason.contains("mail provider"));
    assert_eq!(report(&o.file).summary.warnings, r.summary.warnings);
    assert!(r.findings.iter().all(|f| f.severity == Severity::Warning));
}
