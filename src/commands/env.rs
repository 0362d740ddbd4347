//! `env` and `jwt`: self-hosted `.env` checks, fixes, secrets and JWT keys
//! from the command line. Text output is coloured only on a terminal with
//! `NO_COLOR` unset; `--format json` prints one JSON document. No secret is
//! ever printed, except the key `jwt generate` was asked to make.
//!
//! Exit codes of `env check`: 0 clean (notes only), 1 warnings, 2 errors,
//! 3 the file could not be read. `env project-name` and `jwt verify`: 0
//! valid, 2 not valid. Other failures exit 2 with the reason on stderr.

mod render;

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::cli::{EnvCommand, JwtCommand};
use crate::secret::Secret;
use crate::selfhosted::files::{self, PRIVATE_MODE};
use crate::selfhosted::fix::{self, Selection};
use crate::selfhosted::jwt::{self, Role};
use crate::selfhosted::{
    EnvFile, Options, Severity, connstrings, project_name, strength, template, validate,
};
use render::Style;

fn print_json(v: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

fn json_format(format: &str) -> bool {
    format == "json"
}

fn read(path: &Path) -> anyhow::Result<EnvFile> {
    Ok(EnvFile::read(path)?)
}

pub async fn env(cmd: EnvCommand) -> anyhow::Result<ExitCode> {
    let style = Style::detect();
    match cmd {
        EnvCommand::Check {
            path,
            format,
            project_name,
            min_severity,
        } => {
            let file = match EnvFile::read(&path) {
                Ok(f) => f,
                Err(e) => {
                    eprintln!("error: {e}");
                    return Ok(ExitCode::from(3));
                }
            };
            let min = Severity::parse(&min_severity).unwrap_or(Severity::Info);
            let mut report = validate(
                &file,
                &Options {
                    project_name,
                    now: None,
                },
            );
            report.findings.retain(|f| f.severity <= min);
            let report = crate::selfhosted::Report::new(report.findings);
            let code = report.exit_code();
            if json_format(&format) {
                print_json(&json!({
                    "path": path.display().to_string(),
                    "valid": report.valid,
                    "summary": report.summary,
                    "findings": report.findings,
                    "exit_code": code,
                }))?;
            } else {
                print!("{}", render::report(&style, &path, &report));
            }
            Ok(ExitCode::from(code))
        }
        EnvCommand::Fix {
            path,
            out,
            rules,
            ids,
            all,
            force,
            dry_run,
            years,
            format,
        } => {
            let file = read(&path)?;
            let report = validate(&file, &Options::default());
            let sel = Selection { ids, rules, all };
            let o = match fix::apply(&file, &report, &sel, years) {
                Ok(o) => o,
                Err(e) => {
                    let fixable: Vec<&str> = report
                        .findings
                        .iter()
                        .filter(|f| f.fixable)
                        .map(|f| f.id.as_str())
                        .collect();
                    bail!(
                        "{e}\nhint: use --all, --rule RULE or --id ID; fixable here: {}",
                        if fixable.is_empty() {
                            "none".to_owned()
                        } else {
                            fixable.join(", ")
                        }
                    );
                }
            };
            let target = out.unwrap_or_else(|| files::sibling(&path, ".fixed"));
            if target == path {
                bail!("--out is the file itself: `env fix` only writes copies");
            }
            let write = !dry_run && !o.changes.is_empty();
            if write {
                files::write_atomic(&target, &o.file.render(), force, PRIVATE_MODE).map_err(
                    |e| match e {
                        files::FilesError::Exists(p) => {
                            anyhow::anyhow!(
                                "{p} already exists; pass --force to replace it or --out PATH"
                            )
                        }
                        other => other.into(),
                    },
                )?;
            }
            let after = validate(&o.file, &Options::default());
            let diff = fix::diff_text(
                &path.display().to_string(),
                &target.display().to_string(),
                &o.changes,
            );
            if json_format(&format) {
                print_json(&json!({
                    "path": path.display().to_string(),
                    "written_to": write.then(|| target.display().to_string()),
                    "applied": o.applied,
                    "skipped": o.skipped,
                    "changes": o.changes,
                    "diff": diff,
                    "notes": o.notes,
                    "remaining": after.summary,
                }))?;
            } else {
                print!(
                    "{}",
                    render::fix(&style, &target, write, &o, &diff, &after.summary)
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        EnvCommand::Generate {
            out,
            from,
            domain,
            site_url,
            project_name,
            years,
            format,
        } => {
            let base = match &from {
                Some(p) => Some(read(p)?),
                None => None,
            };
            let g = template::generate(&template::Options {
                base,
                domain,
                site_url,
                years,
                project_name,
            })?;
            files::write_atomic(&out, &g.file.render(), false, PRIVATE_MODE).map_err(
                |e| match e {
                    files::FilesError::Exists(p) => {
                        anyhow::anyhow!("{p} already exists; choose another path with --out")
                    }
                    other => other.into(),
                },
            )?;
            let report = validate(&g.file, &Options::default());
            if json_format(&format) {
                print_json(&json!({
                    "path": out.display().to_string(),
                    "mode": "0600",
                    "generated": g.generated,
                    "set": g.set,
                    "keys": g.keys,
                    "check": report.summary,
                }))?;
            } else {
                print!("{}", render::generated(&style, &out, &g, &report));
            }
            Ok(ExitCode::SUCCESS)
        }
        EnvCommand::Protocols {
            path,
            write,
            out,
            force,
            format,
        } => {
            let file = read(&path)?;
            let report = validate(&file, &Options::default());
            let has_http = report.findings.iter().any(|f| f.rule == "http_url");
            let o = if has_http {
                Some(fix::apply(
                    &file,
                    &report,
                    &Selection {
                        rules: vec!["http_url".into()],
                        ..Default::default()
                    },
                    jwt::DEFAULT_YEARS,
                )?)
            } else {
                None
            };
            let target = out.unwrap_or_else(|| files::sibling(&path, ".fixed"));
            if target == path {
                bail!("--out is the file itself: `env protocols` only writes copies");
            }
            let written = match (&o, write) {
                (Some(o), true) => {
                    files::write_atomic(&target, &o.file.render(), force, PRIVATE_MODE).map_err(
                        |e| match e {
                            files::FilesError::Exists(p) => anyhow::anyhow!(
                                "{p} already exists; pass --force to replace it or --out PATH"
                            ),
                            other => other.into(),
                        },
                    )?;
                    true
                }
                _ => false,
            };
            let changes = o.as_ref().map(|o| o.changes.clone()).unwrap_or_default();
            let diff = fix::diff_text(
                &path.display().to_string(),
                &target.display().to_string(),
                &changes,
            );
            let notes = o.as_ref().map(|o| o.notes.clone()).unwrap_or_default();
            if json_format(&format) {
                print_json(&json!({
                    "path": path.display().to_string(),
                    "changes": changes,
                    "diff": diff,
                    "notes": notes,
                    "written_to": written.then(|| target.display().to_string()),
                }))?;
            } else {
                print!(
                    "{}",
                    render::protocols(&style, &target, written, &changes, &diff, &notes)
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        EnvCommand::ConnectionStrings {
            path,
            host,
            password_file,
            force,
            format,
        } => {
            let file = read(&path)?;
            let c = connstrings::build(&file, host.as_deref());
            if let Some(pf) = &password_file {
                let Some(password) = file
                    .resolved_value("POSTGRES_PASSWORD")
                    .filter(|p| !p.is_empty())
                else {
                    bail!("POSTGRES_PASSWORD is not set in {}", path.display());
                };
                let password = Secret::new(password);
                let mut text = String::from(
                    "# Connection strings with the database password: keep private.\n",
                );
                for s in &c.strings {
                    text.push_str(&format!(
                        "{}={}\n",
                        s.name.to_ascii_uppercase(),
                        connstrings::with_password(s, password.expose())
                    ));
                }
                files::write_atomic(pf, &text, force, PRIVATE_MODE).map_err(|e| match e {
                    files::FilesError::Exists(p) => {
                        anyhow::anyhow!("{p} already exists; pass --force to replace it")
                    }
                    other => other.into(),
                })?;
            }
            if json_format(&format) {
                let mut v = serde_json::to_value(&c)?;
                if let Some(m) = v.as_object_mut() {
                    m.insert(
                        "password_file".into(),
                        json!(password_file.as_ref().map(|p| p.display().to_string())),
                    );
                }
                print_json(&v)?;
            } else {
                print!(
                    "{}",
                    render::connection_strings(&style, &c, password_file.as_deref())
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        EnvCommand::ProjectName { name, format } => {
            let c = project_name::check(&name);
            if json_format(&format) {
                print_json(&json!({
                    "name": c.name,
                    "valid": c.valid,
                    "problems": c.problems,
                    "suggestion": c.suggestion,
                }))?;
            } else {
                print!("{}", render::project_name(&style, &c));
            }
            Ok(if c.valid {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            })
        }
    }
}

/// The JWT secret from exactly one source.
fn secret(
    secret_file: Option<&Path>,
    secret_env: Option<&str>,
    dotenv: Option<&Path>,
) -> anyhow::Result<(Secret, String)> {
    match (secret_file, secret_env, dotenv) {
        (Some(f), None, _) => Ok((files::read_secret(f)?, format!("the file {}", f.display()))),
        (None, Some(var), _) => {
            let v = std::env::var(var)
                .ok()
                .filter(|v| !v.is_empty())
                .with_context(|| format!("the environment variable {var} is not set"))?;
            Ok((Secret::new(v), format!("the environment variable {var}")))
        }
        (None, None, Some(p)) => {
            let file = read(p)?;
            let v = file
                .resolved_value("JWT_SECRET")
                .filter(|v| !v.is_empty())
                .with_context(|| format!("JWT_SECRET is not set in {}", p.display()))?;
            Ok((Secret::new(v), format!("JWT_SECRET in {}", p.display())))
        }
        (Some(_), Some(_), _) => bail!("give either --secret-file or --secret-env, not both"),
        (None, None, None) => {
            bail!("no JWT secret: give --secret-file FILE, --secret-env VAR or --dotenv PATH")
        }
    }
}

/// The token: the argument, stdin for `-`, or a variable of a `.env`.
fn token(
    arg: Option<String>,
    dotenv: Option<&Path>,
    variable: Option<&str>,
) -> anyhow::Result<(Secret, String)> {
    match (arg.as_deref(), variable) {
        (Some(_), Some(_)) => bail!("give either TOKEN or --variable, not both"),
        (Some("-"), None) => {
            let mut s = String::new();
            std::io::stdin()
                .take(64 * 1024)
                .read_to_string(&mut s)
                .context("cannot read the token from stdin")?;
            Ok((Secret::new(s.trim()), "stdin".into()))
        }
        (Some(t), None) => Ok((Secret::new(t.trim()), "the argument".into())),
        (None, Some(var)) => {
            let p = dotenv.context("--variable needs --dotenv")?;
            let v = read(p)?
                .resolved_value(var)
                .filter(|v| !v.trim().is_empty())
                .with_context(|| format!("{var} is not set in {}", p.display()))?;
            Ok((Secret::new(v.trim()), format!("{var} in {}", p.display())))
        }
        (None, None) => {
            bail!("no token: give TOKEN, `-` for stdin, or --dotenv PATH --variable NAME")
        }
    }
}

pub async fn jwt(cmd: JwtCommand) -> anyhow::Result<ExitCode> {
    let style = Style::detect();
    match cmd {
        JwtCommand::Generate {
            secret_file,
            secret_env,
            dotenv,
            role,
            years,
            out,
        } => {
            let (s, from) = secret(
                secret_file.as_deref(),
                secret_env.as_deref(),
                dotenv.as_deref(),
            )?;
            if s.expose().len() < 32 {
                bail!(
                    "the JWT secret from {from} is {} characters long; Supabase needs at least 32 (`supabase-mcp env generate` makes one)",
                    s.expose().len()
                );
            }
            if let Some(w) = strength::weakness(s.expose()) {
                eprintln!("warning: the JWT secret {}", w.describe());
            }
            let role = Role::parse(&role).context("role must be anon or service_role")?;
            let (iat, exp) = jwt::validity(years)?;
            let key = Secret::new(jwt::sign(role, s.expose().as_bytes(), iat, exp)?);
            match out {
                Some(path) => {
                    files::write_atomic(
                        &path,
                        &format!("{}\n", key.expose()),
                        false,
                        PRIVATE_MODE,
                    )?;
                    println!(
                        "Wrote the {} key to {} (0600): iss supabase, expires {}.",
                        role.as_str(),
                        path.display(),
                        jwt::iso(exp)
                    );
                }
                None => println!("{}", key.expose()),
            }
            Ok(ExitCode::SUCCESS)
        }
        JwtCommand::Decode {
            token: arg,
            dotenv,
            variable,
            format,
        } => {
            let (t, _) = token(arg, dotenv.as_deref(), variable.as_deref())?;
            let d = jwt::decode(t.expose())?;
            let v = d.describe(jwt::now());
            if json_format(&format) {
                print_json(&v)?;
            } else {
                print!("{}", render::decoded(&style, &v));
            }
            Ok(ExitCode::SUCCESS)
        }
        JwtCommand::Verify {
            token: arg,
            secret_file,
            secret_env,
            dotenv,
            variable,
            role,
            format,
        } => {
            let expected = match (role.as_deref(), variable.as_deref()) {
                (Some(r), _) => Role::parse(r),
                (None, Some("ANON_KEY")) => Some(Role::Anon),
                (None, Some("SERVICE_ROLE_KEY")) => Some(Role::ServiceRole),
                _ => None,
            };
            let (t, token_from) = token(arg, dotenv.as_deref(), variable.as_deref())?;
            let d = jwt::decode(t.expose())?;
            let (s, secret_from) = secret(
                secret_file.as_deref(),
                secret_env.as_deref(),
                dotenv.as_deref(),
            )?;
            let now = jwt::now();
            let (mut problems, notes) = jwt::judge(&d, expected, now);
            let signature_ok = match jwt::verify(t.expose(), s.expose().as_bytes()) {
                Ok(_) => true,
                Err(e) => {
                    problems.insert(0, e.to_string());
                    false
                }
            };
            let valid = problems.is_empty();
            let v = json!({
                "valid": valid,
                "signature": if signature_ok { "valid" } else { "invalid" },
                "token_from": token_from,
                "secret_from": secret_from,
                "problems": problems,
                "notes": notes,
                "key": d.describe(now),
            });
            if json_format(&format) {
                print_json(&v)?;
            } else {
                print!("{}", render::verified(&style, &v));
            }
            Ok(if valid {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            })
        }
    }
}
