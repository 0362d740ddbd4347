//! The `selfhosted` tools end to end through the MCP server: `.env` checks,
//! generated secrets, JWT decoding and verification, fixes written to a
//! copy (or in place after confirmation), the https conversion, connection
//! strings and project names. Every response is scanned for the secret
//! values of the files involved: none may appear.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::{Value, json};
use supabase_mcp::selfhosted::{EnvFile, mask};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/selfhosted")
        .join(name)
}

/// A copy of a fixture in a fresh directory.
fn copy(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join(".env");
    std::fs::copy(fixture(name), &p).unwrap();
    (dir, p)
}

/// Values of secret variables (6+ characters) in `.env` files.
fn secrets_of(paths: &[&Path]) -> Vec<String> {
    let mut out = Vec::new();
    for p in paths {
        let Ok(f) = EnvFile::read(p) else { continue };
        for a in f.assignments() {
            if mask::is_secret_var(&a.key) && a.value.len() >= 6 {
                out.push(a.value.clone());
            }
        }
    }
    out
}

fn assert_no_secrets(r: &Value, secrets: &[String]) {
    let text = r.to_string();
    for s in secrets {
        assert!(
            !text.contains(s.as_str()),
            "a secret value is in the result: {r}"
        );
    }
}

async fn server(extra: &[&str]) -> Server {
    let mut args = vec!["--features", "selfhosted"];
    args.extend_from_slice(extra);
    Server::start(None, &args).await
}

fn ok(r: &Value) -> Value {
    assert_eq!(status(r), "ok", "{r}");
    data(r).clone()
}

fn err(r: &Value) -> Value {
    assert!(is_error(r), "{r}");
    r["structuredContent"]["error"].clone()
}

fn p(path: &Path) -> String {
    path.display().to_string()
}

#[tokio::test]
async fn the_group_lists_its_tools_with_short_descriptions() {
    let mut s = server(&[]).await;
    let tools = s.tools().await;
    for name in [
        "validate_env",
        "generate_secrets",
        "decode_jwt",
        "verify_jwt",
        "convert_protocols",
        "validate_project_name",
        "build_connection_strings",
        "fix_env",
    ] {
        let t = tools
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("{name} not listed"));
        let d = t["description"].as_str().unwrap();
        assert!(!d.contains('\n') && d.len() <= 120, "{name}: {d}");
    }
    let fix = tools.iter().find(|t| t["name"] == "fix_env").unwrap();
    assert!(fix["inputSchema"]["properties"]["in_place"].is_object());
}

#[tokio::test]
async fn validate_env_reports_dokploy_keys_without_showing_them() {
    let mut s = server(&[]).await;
    let path = fixture("dokploy_broken.env");
    let r = s.call("validate_env", json!({"path": p(&path)})).await;
    assert_no_secrets(&r, &secrets_of(&[&path]));
    let d = ok(&r);
    assert_eq!(d["valid"], false);
    assert_eq!(d["summary"]["errors"], 1);
    let f = &d["findings"][0];
    assert_eq!(f["id"], "dokploy_broken_keys");
    assert_eq!(f["severity"], "error");
    assert_eq!(f["fixable"], true);
    assert!(f["current"].as_str().unwrap().contains("iss=dokploy"));
    assert!(text(&r).contains("dokploy_broken_keys"));
}

#[tokio::test]
async fn validate_env_every_fixture_is_scrubbed_and_filtered() {
    let mut s = server(&[]).await;
    for name in [
        "default_passwords.env",
        "weak_secrets.env",
        "mixed_protocols.env",
        "fake_smtp.env",
        "missing_logflare.env",
        "expired_key.env",
        "wrong_signature.env",
        "bad_project_name.env",
        "infra_changed.env",
    ] {
        let path = fixture(name);
        let r = s.call("validate_env", json!({"path": p(&path)})).await;
        assert_no_secrets(&r, &secrets_of(&[&path]));
        assert!(!ok(&r)["findings"].as_array().unwrap().is_empty(), "{name}");
    }
    let r = s
        .call(
            "validate_env",
            json!({"path": p(&fixture("fake_smtp.env")), "min_severity": "error"}),
        )
        .await;
    let d = ok(&r);
    assert_eq!(d["valid"], true);
    assert_eq!(d["findings"], json!([]));
    let r = s
        .call(
            "validate_env",
            json!({"path": p(&fixture("clean.env")), "project_name": "My App"}),
        )
        .await;
    assert_eq!(ok(&r)["findings"][0]["expected"], "my-app");
    let bad = s
        .call(
            "validate_env",
            json!({"path": p(&fixture("clean.env")), "min_severity": "loud"}),
        )
        .await;
    assert_eq!(err(&bad)["code"], "invalid_arguments");
}

#[tokio::test]
async fn the_path_defaults_to_the_configured_env_file() {
    let path = fixture("mixed_protocols.env");
    let mut s = server(&["--env-file", &p(&path)]).await;
    let d = ok(&s.call("validate_env", json!({})).await);
    assert_eq!(d["path"], p(&path));
    assert!(
        d["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["id"] == "http_url:API_EXTERNAL_URL")
    );

    let mut bare = server(&[]).await;
    let e = err(&bare.call("validate_env", json!({})).await);
    assert_eq!(e["code"], "not_configured");
    assert!(e["suggestion"].as_str().unwrap().contains("--env-file"));
    let e = err(&bare
        .call("validate_env", json!({"path": "/nonexistent/.env"}))
        .await);
    assert_eq!(e["code"], "not_found");
}

#[tokio::test]
async fn generate_secrets_writes_a_private_file_and_returns_only_names() {
    let mut s = server(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("new.env");
    let r = s
        .call(
            "generate_secrets",
            json!({"out": p(&out), "domain": "supabase.shop.example", "site_url": "https://shop.example", "years": 3}),
        )
        .await;
    let d = ok(&r);
    assert_no_secrets(&r, &secrets_of(&[&out]));
    assert_eq!(d["path"], p(&out));
    assert_eq!(d["mode"], "0600");
    let generated: Vec<&str> = d["generated"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for v in [
        "JWT_SECRET",
        "POSTGRES_PASSWORD",
        "ANON_KEY",
        "SERVICE_ROLE_KEY",
        "VAULT_ENC_KEY",
    ] {
        assert!(generated.contains(&v), "{v}");
    }
    assert_eq!(d["keys"][1]["role"], "service_role");
    assert_eq!(d["check"]["errors"], 0);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    // The file validates without errors, and its keys verify with its secret.
    let v = ok(&s.call("validate_env", json!({"path": p(&out)})).await);
    assert_eq!(v["summary"]["errors"], 0, "{v}");
    let vr = s
        .call(
            "verify_jwt",
            json!({"path": p(&out), "variable": "SERVICE_ROLE_KEY"}),
        )
        .await;
    assert_no_secrets(&vr, &secrets_of(&[&out]));
    assert_eq!(ok(&vr)["valid"], true);
    // Never overwrites.
    let again = s.call("generate_secrets", json!({"out": p(&out)})).await;
    let e = err(&again);
    assert_eq!(e["code"], "invalid_arguments");
    assert!(e["message"].as_str().unwrap().contains("already exists"));
    let bad = s
        .call(
            "generate_secrets",
            json!({"out": p(&dir.path().join("x.env")), "project_name": "Bad_Name"}),
        )
        .await;
    assert!(err(&bad)["message"].as_str().unwrap().contains("uppercase"));
    assert!(!dir.path().join("x.env").exists());
}

#[tokio::test]
async fn decode_jwt_never_echoes_the_token() {
    let mut s = server(&[]).await;
    let path = fixture("clean.env");
    let secrets = secrets_of(&[&path]);
    let r = s
        .call(
            "decode_jwt",
            json!({"path": p(&path), "variable": "ANON_KEY"}),
        )
        .await;
    assert_no_secrets(&r, &secrets);
    let d = ok(&r);
    assert_eq!(d["claims"]["role"], "anon");
    assert_eq!(d["header"]["alg"], "HS256");
    assert_eq!(d["verified"], false);
    assert_eq!(d["expires_at"], "2100-01-01T00:00:00Z");

    let token = EnvFile::read(&path)
        .unwrap()
        .value("SERVICE_ROLE_KEY")
        .unwrap()
        .to_owned();
    let r = s.call("decode_jwt", json!({"token": token})).await;
    assert_no_secrets(&r, &secrets);
    assert_eq!(ok(&r)["claims"]["role"], "service_role");

    let both = s
        .call(
            "decode_jwt",
            json!({"token": "a.b.c", "variable": "ANON_KEY"}),
        )
        .await;
    assert_eq!(err(&both)["code"], "invalid_arguments");
    let junk = s
        .call("decode_jwt", json!({"token": "not-a-jwt-secret-value"}))
        .await;
    let e = err(&junk);
    assert!(!e.to_string().contains("not-a-jwt-secret-value"));
    let missing = s
        .call("decode_jwt", json!({"path": p(&path), "variable": "NOPE"}))
        .await;
    assert_eq!(err(&missing)["code"], "not_found");
}

#[tokio::test]
async fn verify_jwt_with_each_kind_of_secret() {
    let path = fixture("clean.env");
    let file = EnvFile::read(&path).unwrap();
    let jwt_secret = file.value("JWT_SECRET").unwrap().to_owned();
    let mut s = Server::start_with_env(
        None,
        &["--features", "selfhosted"],
        &[("SMCP_TEST_JWT_SECRET", jwt_secret.as_str())],
    )
    .await;
    let secrets = secrets_of(&[&path]);

    // From the .env itself.
    let r = s
        .call(
            "verify_jwt",
            json!({"path": p(&path), "variable": "ANON_KEY"}),
        )
        .await;
    assert_no_secrets(&r, &secrets);
    let d = ok(&r);
    assert_eq!(d["valid"], true);
    assert_eq!(d["signature"], "valid");
    assert!(
        d["secret_from"]
            .as_str()
            .unwrap()
            .starts_with("JWT_SECRET in")
    );

    // From an environment variable of the server, with a token argument.
    let token = file.value("SERVICE_ROLE_KEY").unwrap();
    let r = s
        .call(
            "verify_jwt",
            json!({"token": token, "secret_env": "SMCP_TEST_JWT_SECRET", "role": "service_role"}),
        )
        .await;
    assert_no_secrets(&r, &secrets);
    assert_eq!(ok(&r)["valid"], true);

    // From a file; the wrong role is a problem.
    let dir = tempfile::tempdir().unwrap();
    let sf = dir.path().join("jwt_secret");
    std::fs::write(&sf, format!("{jwt_secret}\n")).unwrap();
    let r = s
        .call(
            "verify_jwt",
            json!({"token": token, "secret_file": p(&sf), "role": "anon"}),
        )
        .await;
    assert_no_secrets(&r, &secrets);
    let d = ok(&r);
    assert_eq!(d["valid"], false);
    assert_eq!(d["signature"], "valid");
    assert!(
        d["problems"][0]
            .as_str()
            .unwrap()
            .contains("expected `anon`")
    );

    // A key signed with another secret.
    let wrong = fixture("wrong_signature.env");
    let r = s
        .call(
            "verify_jwt",
            json!({"path": p(&wrong), "variable": "SERVICE_ROLE_KEY"}),
        )
        .await;
    assert_no_secrets(&r, &secrets_of(&[&wrong]));
    let d = ok(&r);
    assert_eq!(d["valid"], false);
    assert_eq!(d["signature"], "invalid");
    assert!(
        !r["structuredContent"]["warnings"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // An expired key.
    let expired = fixture("expired_key.env");
    let d = ok(&s
        .call(
            "verify_jwt",
            json!({"path": p(&expired), "variable": "ANON_KEY"}),
        )
        .await);
    assert!(d["problems"].to_string().contains("expired on 2021-01-01"));

    let e = err(&s
        .call(
            "verify_jwt",
            json!({"token": token, "secret_env": "SMCP_TEST_NOT_SET"}),
        )
        .await);
    assert_eq!(e["code"], "not_found");
    let e = err(&s.call("verify_jwt", json!({"token": token})).await);
    assert_eq!(e["code"], "not_configured");
}

#[tokio::test]
async fn fix_env_writes_a_fixed_copy_and_keeps_the_original() {
    let mut s = server(&[]).await;
    let (dir, env) = copy("default_passwords.env");
    let original = std::fs::read_to_string(&env).unwrap();
    let r = s
        .call("fix_env", json!({"path": p(&env), "all": true}))
        .await;
    let fixed = dir.path().join(".env.fixed");
    assert_no_secrets(&r, &secrets_of(&[&env, &fixed]));
    let d = ok(&r);
    assert_eq!(d["written_to"], p(&fixed));
    assert_eq!(std::fs::read_to_string(&env).unwrap(), original);
    assert!(d["diff"].as_str().unwrap().contains("+JWT_SECRET="));
    assert_eq!(d["remaining"]["summary"]["errors"], 0);
    assert!(
        d["notes"]
            .to_string()
            .contains("POSTGRES_PASSWORD only takes effect")
    );
    // Comments and order are kept: only the changed variables' lines differ.
    let after = std::fs::read_to_string(&fixed).unwrap();
    assert_eq!(original.lines().count(), after.lines().count());
    let changed = d["changes"].as_array().unwrap().len();
    let differing = original
        .lines()
        .zip(after.lines())
        .filter(|(a, b)| a != b)
        .count();
    assert_eq!(differing, changed);
    for (a, b) in original.lines().zip(after.lines()) {
        if a.starts_with('#') || a.is_empty() {
            assert_eq!(a, b);
        }
    }
    // The fixed copy checks clean of errors.
    let v = ok(&s.call("validate_env", json!({"path": p(&fixed)})).await);
    assert_eq!(v["summary"]["errors"], 0);

    // An existing copy is only replaced when asked.
    let again = s
        .call("fix_env", json!({"path": p(&env), "all": true}))
        .await;
    assert!(
        err(&again)["message"]
            .as_str()
            .unwrap()
            .contains("already exists")
    );
    let r = s
        .call(
            "fix_env",
            json!({"path": p(&env), "all": true, "overwrite": true}),
        )
        .await;
    assert_eq!(status(&r), "ok");

    // Selections are checked against the file's findings.
    let e = err(&s
        .call(
            "fix_env",
            json!({"path": p(&env), "ids": ["http_url:SITE_URL"]}),
        )
        .await);
    assert!(
        e["suggestion"]
            .as_str()
            .unwrap()
            .contains("default_secret:JWT_SECRET")
    );
    let e = err(&s
        .call("fix_env", json!({"path": p(&env), "rules": ["nope"]}))
        .await);
    assert!(
        e["suggestion"]
            .as_str()
            .unwrap()
            .contains("dokploy_broken_keys")
    );
    let e = err(&s.call("fix_env", json!({"path": p(&env)})).await);
    assert_eq!(e["code"], "invalid_arguments");
}

#[tokio::test]
async fn fix_env_dry_run_and_one_rule() {
    let mut s = server(&[]).await;
    let (dir, env) = copy("dokploy_broken.env");
    let r = s
        .call(
            "fix_env",
            json!({"path": p(&env), "rules": ["dokploy_broken_keys"], "dry_run": true}),
        )
        .await;
    let d = ok(&r);
    assert_eq!(d["written_to"], Value::Null);
    assert!(!dir.path().join(".env.fixed").exists());
    let vars: Vec<&str> = d["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["variable"].as_str().unwrap())
        .collect();
    assert_eq!(vars, ["ANON_KEY", "SERVICE_ROLE_KEY"]);
    let out = dir.path().join("keys-fixed.env");
    let r = s
        .call(
            "fix_env",
            json!({"path": p(&env), "ids": ["dokploy_broken_keys"], "out": p(&out)}),
        )
        .await;
    assert_no_secrets(&r, &secrets_of(&[&env, &out]));
    assert_eq!(ok(&r)["remaining"]["summary"]["errors"], 0);
    let v = ok(&s.call("validate_env", json!({"path": p(&out)})).await);
    assert_eq!(v["findings"], json!([]));
}

#[tokio::test]
async fn fix_env_in_place_needs_confirmation_and_keeps_a_backup() {
    let mut s = server(&[]).await;
    let (dir, env) = copy("mixed_protocols.env");
    let original = std::fs::read_to_string(&env).unwrap();
    let args = json!({"path": p(&env), "rules": ["http_url"], "in_place": true});
    let first = s.call("fix_env", args.clone()).await;
    assert_eq!(status(&first), "confirmation_required", "{first}");
    assert_eq!(std::fs::read_to_string(&env).unwrap(), original);
    let mut confirmed = args.clone();
    confirmed["confirmation_token"] = data(&first)["confirmation_token"].clone();
    let r = s.call("fix_env", confirmed).await;
    let d = ok(&r);
    assert_eq!(d["written_to"], p(&env));
    let backup = PathBuf::from(d["backup"].as_str().unwrap());
    assert_eq!(backup.parent().unwrap(), dir.path());
    assert_eq!(std::fs::read_to_string(&backup).unwrap(), original);
    let now = std::fs::read_to_string(&env).unwrap();
    assert!(now.contains("API_EXTERNAL_URL=https://supabase.tools.example.com\n"));
    assert!(now.contains("http://localhost:3000/*"));
    // `out` and `in_place` together are refused.
    let both = s
        .call(
            "fix_env",
            json!({"path": p(&env), "all": true, "in_place": true, "out": "/tmp/x", "dry_run": true}),
        )
        .await;
    assert_eq!(err(&both)["code"], "invalid_arguments");
}

#[tokio::test]
async fn convert_protocols_shows_then_writes() {
    let mut s = server(&[]).await;
    let (dir, env) = copy("mixed_protocols.env");
    let r = s.call("convert_protocols", json!({"path": p(&env)})).await;
    let d = ok(&r);
    assert!(!dir.path().join(".env.fixed").exists());
    let diff = d["diff"].as_str().unwrap();
    assert!(diff.contains("-SUPABASE_PUBLIC_URL=http://supabase.tools.example.com:80\n+SUPABASE_PUBLIC_URL=https://supabase.tools.example.com\n"));
    assert!(diff.contains(
        "+ADDITIONAL_REDIRECT_URLS=https://app.tools.example.com/*,http://localhost:3000/*"
    ));
    assert!(
        r["structuredContent"]["warnings"][0]
            .as_str()
            .unwrap()
            .contains("apply")
    );
    let r = s
        .call("convert_protocols", json!({"path": p(&env), "apply": true}))
        .await;
    let fixed = dir.path().join(".env.fixed");
    assert_eq!(ok(&r)["written_to"], p(&fixed));
    let v = ok(&s.call("validate_env", json!({"path": p(&fixed)})).await);
    assert_eq!(v["findings"], json!([]));
    let done = ok(&s
        .call("convert_protocols", json!({"path": p(&fixed)}))
        .await);
    assert_eq!(done["changes"], json!([]));
}

#[tokio::test]
async fn read_only_mode_shows_but_does_not_write() {
    let mut s = server(&["--read-only"]).await;
    let (dir, env) = copy("mixed_protocols.env");
    let names: Vec<String> = s
        .tools()
        .await
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(names.contains(&"convert_protocols".to_owned()));
    assert!(!names.contains(&"fix_env".to_owned()));
    assert!(!names.contains(&"generate_secrets".to_owned()));
    assert_eq!(
        status(&s.call("convert_protocols", json!({"path": p(&env)})).await),
        "ok"
    );
    let e = err(&s
        .call("convert_protocols", json!({"path": p(&env), "apply": true}))
        .await);
    assert_eq!(e["code"], "read_only");
    assert!(!dir.path().join(".env.fixed").exists());
}

#[tokio::test]
async fn connection_strings_hide_the_password() {
    let mut s = server(&[]).await;
    let (dir, env) = copy("weak_secrets.env");
    let password = EnvFile::read(&env)
        .unwrap()
        .value("POSTGRES_PASSWORD")
        .unwrap()
        .to_owned();
    let pf = dir.path().join("urls.env");
    let r = s
        .call(
            "build_connection_strings",
            json!({"path": p(&env), "password_file": p(&pf)}),
        )
        .await;
    assert_no_secrets(&r, &secrets_of(&[&env]));
    let d = ok(&r);
    assert_eq!(d["external_host"], "supabase.tools.example.com");
    let urls: Vec<&str> = d["strings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["url"].as_str().unwrap())
        .collect();
    assert!(urls.contains(&"postgres://postgres:[YOUR-PASSWORD]@db:5432/postgres"));
    assert!(urls.contains(
        &"postgres://postgres.tools:[YOUR-PASSWORD]@supabase.tools.example.com:6543/postgres"
    ));
    let written = std::fs::read_to_string(&pf).unwrap();
    let encoded = supabase_mcp::config::dotenv::urlencode(&password);
    assert!(written.contains(&format!(
        "postgres.tools:{encoded}@supabase.tools.example.com:6543"
    )));
    assert!(
        !written.contains(&password),
        "the password is percent-encoded in URLs"
    );
    assert!(!r.to_string().contains(&encoded));
    let r = s
        .call(
            "build_connection_strings",
            json!({"path": p(&env), "host": "203.0.113.7"}),
        )
        .await;
    assert!(
        ok(&r)["strings"][3]["url"]
            .as_str()
            .unwrap()
            .contains("@203.0.113.7:6543/")
    );
    let e = err(&s
        .call(
            "build_connection_strings",
            json!({"path": p(&env), "host": "a/b"}),
        )
        .await);
    assert_eq!(e["code"], "invalid_arguments");
}

#[tokio::test]
async fn project_names() {
    let mut s = server(&[]).await;
    let d = ok(&s
        .call("validate_project_name", json!({"name": "My_Project"}))
        .await);
    assert_eq!(d["valid"], false);
    assert_eq!(d["suggestion"], "my-project");
    assert!(d["problems"].to_string().contains("uppercase"));
    let d = ok(&s
        .call("validate_project_name", json!({"name": "tools"}))
        .await);
    assert_eq!(d["valid"], true);
    assert!(d.get("suggestion").is_none_or(Value::is_null));
    let e = err(&s.call("validate_project_name", json!({})).await);
    assert_eq!(e["code"], "invalid_arguments");
}
