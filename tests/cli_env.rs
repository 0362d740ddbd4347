//! `supabase-mcp env` and `supabase-mcp jwt` as scripts and people use
//! them: exit codes, `--format json`, files written (and not written), and
//! no secret in anything printed.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;
use supabase_mcp::selfhosted::{EnvFile, jwt, mask};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/selfhosted")
        .join(name)
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", self.stdout, self.stderr))
    }
    fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

fn run_with(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_supabase-mcp"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
    let mut child = cmd.spawn().unwrap();
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn run(args: &[&str]) -> Run {
    run_with(args, &[], None)
}

fn s(p: &Path) -> String {
    p.display().to_string()
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

fn assert_no_secrets(r: &Run, secrets: &[String]) {
    let all = r.all();
    for v in secrets {
        assert!(
            !all.contains(v.as_str()),
            "a secret value was printed:\n{all}"
        );
    }
}

#[test]
fn check_exit_codes() {
    for (name, code) in [
        ("clean.env", 0),
        ("fake_smtp.env", 1),
        ("dokploy_broken.env", 2),
        ("default_passwords.env", 2),
        ("expired_key.env", 2),
    ] {
        let path = fixture(name);
        let r = run(&["env", "check", &s(&path)]);
        assert_eq!(r.code, code, "{name}: {}", r.all());
        assert_no_secrets(&r, &secrets_of(&[&path]));
        assert!(
            !r.stdout.contains('\x1b'),
            "no colour when stdout is not a terminal"
        );
    }
    let r = run(&["env", "check", "/nonexistent/.env"]);
    assert_eq!(r.code, 3);
    assert!(r.stderr.contains("/nonexistent/.env"));
    // --min-severity error ignores warnings, for CI gates on errors only.
    let r = run(&[
        "env",
        "check",
        &s(&fixture("fake_smtp.env")),
        "--min-severity",
        "error",
    ]);
    assert_eq!(r.code, 0);
}

#[test]
fn check_text_is_readable() {
    let r = run(&["env", "check", &s(&fixture("mixed_protocols.env"))]);
    assert_eq!(r.code, 2);
    assert!(
        r.stdout.contains("3 errors, 1 warning, 0 notes"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("ERROR   API_EXTERNAL_URL (line"));
    assert!(
        r.stdout
            .contains("expected: https://supabase.tools.example.com")
    );
    assert!(r.stdout.contains("supabase-mcp env fix"));
    let clean = run(&["env", "check", &s(&fixture("clean.env"))]);
    assert!(clean.stdout.contains("No problems found."));
}

#[test]
fn check_json() {
    let path = fixture("weak_secrets.env");
    let r = run(&["env", "check", &s(&path), "--format", "json"]);
    assert_eq!(r.code, 2);
    assert_no_secrets(&r, &secrets_of(&[&path]));
    let v = r.json();
    assert_eq!(v["exit_code"], 2);
    assert_eq!(v["valid"], false);
    let ids: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"jwt_secret_short:JWT_SECRET"));
    assert!(ids.contains(&"password_url_chars:POSTGRES_PASSWORD"));
    let total: u64 = ["errors", "warnings", "info"]
        .iter()
        .map(|k| v["summary"][k].as_u64().unwrap())
        .sum();
    assert_eq!(total as usize, ids.len());
    let r = run(&[
        "env",
        "check",
        &s(&path),
        "--project-name",
        "Bad Name",
        "--format",
        "json",
    ]);
    assert!(r.json()["findings"].to_string().contains("bad-name"));
}

#[test]
fn fix_writes_a_copy() {
    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join(".env");
    std::fs::copy(fixture("default_passwords.env"), &env).unwrap();
    let original = std::fs::read_to_string(&env).unwrap();
    let fixed = dir.path().join(".env.fixed");

    let dry = run(&["env", "fix", &s(&env), "--all", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.all());
    assert!(dry.stdout.contains("Dry run"));
    assert!(!fixed.exists());

    let r = run(&["env", "fix", &s(&env), "--all"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_no_secrets(&r, &secrets_of(&[&env, &fixed]));
    assert!(r.stdout.contains("+JWT_SECRET="));
    assert_eq!(std::fs::read_to_string(&env).unwrap(), original);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&fixed).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    assert_eq!(
        run(&["env", "check", &s(&fixed), "--min-severity", "warning"]).code,
        0
    );

    let again = run(&["env", "fix", &s(&env), "--all"]);
    assert_eq!(again.code, 2);
    assert!(again.stderr.contains("--force"));
    let forced = run(&[
        "env",
        "fix",
        &s(&env),
        "--all",
        "--force",
        "--format",
        "json",
    ]);
    assert_eq!(forced.code, 0);
    assert_no_secrets(&forced, &secrets_of(&[&env, &fixed]));
    assert_eq!(forced.json()["written_to"], s(&fixed));

    let one = dir.path().join("one.env");
    let r = run(&[
        "env",
        "fix",
        &s(&env),
        "--rule",
        "default_secret",
        "--id",
        "demo_keys:ANON_KEY",
        "--out",
        &s(&one),
        "--format",
        "json",
    ]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.json()["applied"]
            .to_string()
            .contains("default_secret:VAULT_ENC_KEY")
    );

    let none = run(&["env", "fix", &s(&env)]);
    assert_eq!(none.code, 2);
    assert!(none.stderr.contains("fixable here"));
    let same = run(&["env", "fix", &s(&env), "--all", "--out", &s(&env)]);
    assert_eq!(same.code, 2);
    assert_eq!(std::fs::read_to_string(&env).unwrap(), original);
}

#[test]
fn generate_then_check() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("new.env");
    let r = run(&[
        "env",
        "generate",
        "--out",
        &s(&out),
        "--domain",
        "supabase.shop.example",
        "--site-url",
        "https://shop.example",
        "--project-name",
        "shop",
    ]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_no_secrets(&r, &secrets_of(&[&out]));
    assert!(r.stdout.contains("JWT_SECRET"));
    assert!(r.stdout.contains("role service_role, iss supabase"));
    // Only the mail settings are left to the user.
    let c = run(&["env", "check", &s(&out), "--format", "json"]);
    assert_eq!(c.code, 1, "{}", c.stdout);
    assert!(
        c.json()["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["rule"] == "fake_smtp")
    );
    let again = run(&["env", "generate", "--out", &s(&out)]);
    assert_eq!(again.code, 2);
    assert!(again.stderr.contains("already exists"));

    // From an existing file: everything but the secrets stays.
    let from = dir.path().join("from.env");
    let r = run(&[
        "env",
        "generate",
        "--from",
        &s(&fixture("clean.env")),
        "--out",
        &s(&from),
        "--format",
        "json",
    ]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_no_secrets(&r, &secrets_of(&[&from, &fixture("clean.env")]));
    assert_eq!(r.json()["check"]["errors"], 0);
    assert_eq!(run(&["env", "check", &s(&from)]).code, 0);
}

#[test]
fn protocols_show_then_write() {
    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join(".env");
    std::fs::copy(fixture("mixed_protocols.env"), &env).unwrap();
    let r = run(&["env", "protocols", &s(&env)]);
    assert_eq!(r.code, 0);
    assert!(
        r.stdout
            .contains("+API_EXTERNAL_URL=https://supabase.tools.example.com")
    );
    assert!(r.stdout.contains("Not written"));
    assert!(!dir.path().join(".env.fixed").exists());
    let out = dir.path().join("https.env");
    let r = run(&[
        "env",
        "protocols",
        &s(&env),
        "--write",
        "--out",
        &s(&out),
        "--format",
        "json",
    ]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(r.json()["written_to"], s(&out));
    assert_eq!(run(&["env", "check", &s(&out)]).code, 0);
    let done = run(&["env", "protocols", &s(&out)]);
    assert!(done.stdout.contains("already uses https"));
}

#[test]
fn connection_strings() {
    let dir = tempfile::tempdir().unwrap();
    let env = fixture("clean.env");
    let pf = dir.path().join("urls");
    let r = run(&[
        "env",
        "connection-strings",
        &s(&env),
        "--password-file",
        &s(&pf),
        "--host",
        "203.0.113.9",
    ]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_no_secrets(&r, &secrets_of(&[&env]));
    assert!(
        r.stdout
            .contains("postgres://postgres.tools:[YOUR-PASSWORD]@203.0.113.9:6543/postgres")
    );
    let password = EnvFile::read(&env)
        .unwrap()
        .value("POSTGRES_PASSWORD")
        .unwrap()
        .to_owned();
    assert!(
        std::fs::read_to_string(&pf)
            .unwrap()
            .contains(&format!("postgres:{password}@db:5432"))
    );
    let j = run(&["env", "connection-strings", &s(&env), "--format", "json"]);
    assert_eq!(j.json()["strings"][0]["name"], "direct_internal");
    assert_eq!(j.json()["external_host"], "supabase.tools.example.com");
}

#[test]
fn project_name_exit_codes() {
    let ok = run(&["env", "project-name", "tools"]);
    assert_eq!(ok.code, 0);
    let bad = run(&["env", "project-name", "My_Project", "--format", "json"]);
    assert_eq!(bad.code, 2);
    assert_eq!(bad.json()["suggestion"], "my-project");
    let text = run(&["env", "project-name", "postgres"]);
    assert!(text.stdout.contains("reserved") && text.stdout.contains("postgres-app"));
}

#[test]
fn jwt_generate_decode_verify() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "k8Vd2qLr0Zx9Ws4Pt7Nb1Mc6Yh3Jf5Ga0Ue8Ri2Oa";
    let sf = dir.path().join("jwt_secret");
    std::fs::write(&sf, format!("{secret}\n")).unwrap();
    let g = run(&[
        "jwt",
        "generate",
        "--secret-file",
        &s(&sf),
        "--role",
        "service_role",
        "--years",
        "2",
    ]);
    assert_eq!(g.code, 0, "{}", g.all());
    assert!(!g.all().contains(secret));
    let token = g.stdout.trim().to_owned();
    let d = jwt::verify(&token, secret.as_bytes()).unwrap();
    assert_eq!(d.role(), Some("service_role"));
    assert_eq!(d.exp().unwrap() - d.iat().unwrap(), 2 * 365 * 86_400);

    // Verify with the secret from the environment; the token from stdin.
    let v = run_with(
        &[
            "jwt",
            "verify",
            "-",
            "--secret-env",
            "MY_JWT_SECRET",
            "--format",
            "json",
        ],
        &[("MY_JWT_SECRET", secret)],
        Some(&token),
    );
    assert_eq!(v.code, 0, "{}", v.all());
    assert!(!v.all().contains(secret) && !v.all().contains(&token));
    assert_eq!(v.json()["signature"], "valid");
    let wrong = run_with(
        &["jwt", "verify", &token, "--secret-env", "MY_JWT_SECRET"],
        &[("MY_JWT_SECRET", "another-secret-another-secret-0123456789")],
        None,
    );
    assert_eq!(wrong.code, 2);
    assert!(wrong.stdout.contains("signature does not match"));
    let role = run(&[
        "jwt",
        "verify",
        &token,
        "--secret-file",
        &s(&sf),
        "--role",
        "anon",
    ]);
    assert_eq!(role.code, 2);

    // Decode shows claims, never the token.
    let dec = run(&["jwt", "decode", &token]);
    assert_eq!(dec.code, 0);
    assert!(dec.stdout.contains("\"role\": \"service_role\""));
    assert!(!dec.stdout.contains(&token));
    let broken = fixture("dokploy_broken.env");
    let dec = run(&[
        "jwt",
        "decode",
        "--dotenv",
        &s(&broken),
        "--variable",
        "ANON_KEY",
        "--format",
        "json",
    ]);
    assert_eq!(dec.code, 0, "{}", dec.all());
    assert!(
        dec.json()["looks_like"]
            .as_str()
            .unwrap()
            .contains("Dokploy")
    );
    assert_no_secrets(&dec, &secrets_of(&[&broken]));

    // The .env as the secret source, with --out.
    let clean = fixture("clean.env");
    let out = dir.path().join("anon.jwt");
    let g = run(&["jwt", "generate", "--dotenv", &s(&clean), "--out", &s(&out)]);
    assert_eq!(g.code, 0, "{}", g.all());
    assert_no_secrets(&g, &secrets_of(&[&clean]));
    let written = std::fs::read_to_string(&out).unwrap();
    assert!(!g.stdout.contains(written.trim()));
    let v = run(&["jwt", "verify", written.trim(), "--dotenv", &s(&clean)]);
    assert_eq!(v.code, 0, "{}", v.all());
    let v = run(&[
        "jwt",
        "verify",
        "--dotenv",
        &s(&clean),
        "--variable",
        "SERVICE_ROLE_KEY",
    ]);
    assert_eq!(v.code, 0, "{}", v.all());
    assert!(v.stdout.contains("role service_role"));

    // A short secret is refused; a missing one is explained.
    let short = dir.path().join("short");
    std::fs::write(&short, "tiny").unwrap();
    let r = run(&["jwt", "generate", "--secret-file", &s(&short)]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("at least 32") && !r.stderr.contains("tiny"));
    let r = run(&["jwt", "generate"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--secret-file"));
}
