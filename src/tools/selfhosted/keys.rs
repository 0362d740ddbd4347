//! `decode_jwt` and `verify_jwt`. A token comes as an argument or, better,
//! by variable name from the `.env` (so it never passes through the
//! conversation); the secret from a file, an environment variable of the
//! server, the `.env`'s `JWT_SECRET` or the configured JWT secret. Neither
//! is ever part of a result or an error.

use std::path::Path;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{env_path, read_env};
use crate::result::{ErrorCode, ToolError, ToolOutput};
use crate::secret::Secret;
use crate::selfhosted::files;
use crate::selfhosted::jwt::{self, JwtError, Role};
use crate::server::call::Call;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DecodeArgs {
    /// The JWT. Prefer `variable`, which reads it from the .env.
    #[serde(default)]
    pub token: Option<String>,
    /// A variable of the .env holding the JWT, e.g. ANON_KEY or SERVICE_ROLE_KEY.
    #[serde(default)]
    pub variable: Option<String>,
    /// The .env file for `variable` (default: the server's --env-file).
    #[serde(default)]
    pub path: Option<String>,
}

/// The token to work on and where it came from.
fn token(
    call: &Call,
    token: Option<String>,
    variable: Option<&str>,
    path: Option<&str>,
) -> Result<(Secret, String), ToolError> {
    match (token, variable) {
        (Some(_), Some(_)) => Err(ToolError::invalid(
            "give either `token` or `variable`, not both",
        )
        .suggestion("Use `variable` to read the key from the .env.")),
        (Some(t), None) => {
            if t.len() > 16 * 1024 {
                return Err(ToolError::invalid(
                    "`token` is longer than 16 KiB: not an API key",
                ));
            }
            Ok((Secret::new(t.trim()), "the token given".to_owned()))
        }
        (None, Some(var)) => {
            let p = env_path(call, path)?;
            let file = read_env(&p)?;
            let value = file
                .resolved_value(var)
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| {
                    ToolError::new(
                        ErrorCode::NotFound,
                        format!("{var} is not set in {}", p.display()),
                    )
                    .suggestion("Check the variable name (ANON_KEY, SERVICE_ROLE_KEY).")
                })?;
            Ok((
                Secret::new(value.trim()),
                format!("{var} in {}", p.display()),
            ))
        }
        (None, None) => Err(ToolError::invalid(
            "no token: give `variable` (e.g. ANON_KEY) or `token`",
        )
        .suggestion(
            "`variable` reads the key from the .env, so it never appears in the conversation.",
        )),
    }
}

fn jwt_error(e: JwtError) -> ToolError {
    ToolError::invalid(e.to_string())
        .suggestion("Check that the value is a complete JWT (three dot-separated parts).")
}

pub(super) async fn decode_jwt(call: Call, a: DecodeArgs) -> Result<ToolOutput, ToolError> {
    let (t, from) = token(&call, a.token, a.variable.as_deref(), a.path.as_deref())?;
    let d = jwt::decode(t.expose()).map_err(jwt_error)?;
    let mut v = d.describe(jwt::now());
    if let Value::Object(m) = &mut v {
        m.insert("source".into(), Value::from(from));
        m.insert("verified".into(), Value::Bool(false));
    }
    Ok(ToolOutput::trusted(v))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyArgs {
    /// The JWT. Prefer `variable`, which reads it from the .env.
    #[serde(default)]
    pub token: Option<String>,
    /// A variable of the .env holding the JWT, e.g. ANON_KEY or SERVICE_ROLE_KEY.
    #[serde(default)]
    pub variable: Option<String>,
    /// The .env file (default: the server's --env-file); its JWT_SECRET is the secret unless one is given.
    #[serde(default)]
    pub path: Option<String>,
    /// A file holding the JWT secret (or a .env with JWT_SECRET).
    #[serde(default)]
    pub secret_file: Option<String>,
    /// Name of an environment variable of the server holding the JWT secret.
    #[serde(default)]
    pub secret_env: Option<String>,
    /// The role the key must have: anon or service_role (default: from `variable`).
    #[serde(default)]
    pub role: Option<String>,
}

fn secret(call: &Call, a: &VerifyArgs) -> Result<(Secret, String), ToolError> {
    if a.secret_file.is_some() && a.secret_env.is_some() {
        return Err(ToolError::invalid(
            "give either `secret_file` or `secret_env`, not both",
        ));
    }
    if let Some(f) = &a.secret_file {
        let s = files::read_secret(Path::new(f))
            .map_err(|e| ToolError::new(ErrorCode::NotFound, e.to_string()))?;
        return Ok((s, format!("the file {f}")));
    }
    if let Some(name) = &a.secret_env {
        let v = std::env::var(name).ok().filter(|v| !v.is_empty()).ok_or_else(|| {
            ToolError::new(
                ErrorCode::NotFound,
                format!("the environment variable {name} is not set for the server"),
            )
            .suggestion("Set it where the server starts, or use `secret_file` or the .env's JWT_SECRET.")
        })?;
        return Ok((Secret::new(v), format!("the environment variable {name}")));
    }
    if a.path.is_some() || call.instance.env_file.is_some() {
        let p = env_path(call, a.path.as_deref())?;
        let file = read_env(&p)?;
        if let Some(v) = file.resolved_value("JWT_SECRET").filter(|v| !v.is_empty()) {
            return Ok((Secret::new(v), format!("JWT_SECRET in {}", p.display())));
        }
    }
    if let Some(s) = &call.instance.jwt_secret {
        return Ok((s.clone(), "the configured JWT secret".to_owned()));
    }
    Err(
        ToolError::new(ErrorCode::NotConfigured, "no JWT secret to verify with")
            .suggestion("Pass `secret_file`, `secret_env`, or `path` of a .env with JWT_SECRET."),
    )
}

pub(super) async fn verify_jwt(call: Call, a: VerifyArgs) -> Result<ToolOutput, ToolError> {
    let expected_role = match (&a.role, a.variable.as_deref()) {
        (Some(r), _) => Some(Role::parse(r).ok_or_else(|| {
            ToolError::invalid(format!("`role` {r} is not known"))
                .suggestion("Use anon or service_role.")
        })?),
        (None, Some("ANON_KEY")) => Some(Role::Anon),
        (None, Some("SERVICE_ROLE_KEY")) => Some(Role::ServiceRole),
        _ => None,
    };
    let (t, token_from) = token(
        &call,
        a.token.clone(),
        a.variable.as_deref(),
        a.path.as_deref(),
    )?;
    let decoded = jwt::decode(t.expose()).map_err(jwt_error)?;
    let (s, secret_from) = secret(&call, &a)?;
    let now = jwt::now();
    let (mut problems, notes) = jwt::judge(&decoded, expected_role, now);
    let signature = match jwt::verify(t.expose(), s.expose().as_bytes()) {
        Ok(_) => "valid",
        Err(JwtError::Signature) => {
            problems.insert(0, "the signature does not match this secret: the key was signed with another JWT_SECRET".to_owned());
            "invalid"
        }
        Err(e) => {
            problems.insert(0, e.to_string());
            "invalid"
        }
    };
    let valid = problems.is_empty();
    let mut out = ToolOutput::trusted(json!({
        "valid": valid,
        "signature": signature,
        "token_from": token_from,
        "secret_from": secret_from,
        "problems": problems,
        "notes": notes,
        "key": decoded.describe(now),
    }));
    if !valid {
        out = out.warn("The key is not valid for this instance; fix_env (or `supabase-mcp env fix`) signs new keys with JWT_SECRET.");
    }
    Ok(out)
}
