//! `ANON_KEY` and `SERVICE_ROLE_KEY`: valid HS256 JWTs signed with
//! `JWT_SECRET`, `role` `anon` / `service_role`, issuer `supabase`, `iat`
//! and `exp` present, not expired, and different from each other. Keys
//! from Dokploy's broken generator (identical keys without a `role`, or
//! issuer `dokploy`) get one finding of their own; the template's public
//! demo keys too.

use super::Context;
use crate::selfhosted::finding::{Finding, FixAction, Severity};
use crate::selfhosted::jwt::{self, Decoded, JwtError, Role};
use crate::selfhosted::mask;
use crate::selfhosted::strength;

/// Keys expiring sooner than this get a warning.
const EXPIRY_WARNING_DAYS: i64 = 30;

const RESIGN: &str = "Sign new keys with JWT_SECRET: fix_env or `supabase-mcp env fix` (then update every client that uses them).";

struct Key<'a> {
    role: Role,
    token: &'a str,
    decoded: Result<Decoded, JwtError>,
}

fn current(token: &str, d: Option<&Decoded>) -> String {
    let masked = mask::mask(token);
    match d {
        Some(d) => {
            let mut claims = Vec::new();
            claims.push(format!("role={}", d.role().unwrap_or("(none)")));
            claims.push(format!("iss={}", d.issuer().unwrap_or("(none)")));
            if let Some(exp) = d.exp() {
                claims.push(format!("exp={}", jwt::iso(exp)));
            }
            format!("{masked}; claims: {}", claims.join(", "))
        }
        None => masked,
    }
}

pub(super) fn check(ctx: &Context) -> Vec<Finding> {
    let keys: Vec<Key> = [Role::Anon, Role::ServiceRole]
        .into_iter()
        .filter_map(|role| {
            ctx.get(role.variable()).map(|token| Key {
                role,
                token,
                decoded: jwt::decode(token),
            })
        })
        .collect();
    let mut out = Vec::new();
    if let Some(f) = dokploy(ctx, &keys) {
        // One finding says it all: the keys are regenerated together.
        out.push(f);
        return out;
    }
    for k in &keys {
        out.extend(check_key(ctx, k));
    }
    if keys.len() == 2 && keys[0].token == keys[1].token {
        out.push(
            Finding::new("jwt_keys_identical", Severity::Error, None)
                .line(ctx.line("SERVICE_ROLE_KEY"))
                .message("ANON_KEY and SERVICE_ROLE_KEY are the same token: one of them has the wrong role")
                .expected("two different keys, with role anon and role service_role")
                .fix(RESIGN)
                .action(FixAction::ResignKeys),
        );
    }
    out
}

/// The signature of Dokploy's generator: issuer `dokploy`, or identical
/// keys without a `role` claim.
fn dokploy(ctx: &Context, keys: &[Key]) -> Option<Finding> {
    let decoded: Vec<&Decoded> = keys
        .iter()
        .filter_map(|k| k.decoded.as_ref().ok())
        .collect();
    let issuer_dokploy = decoded.iter().any(|d| d.issuer() == Some("dokploy"));
    let identical = keys.len() == 2 && keys[0].token == keys[1].token;
    let no_role = !decoded.is_empty() && decoded.iter().all(|d| d.role().is_none());
    if !(issuer_dokploy || identical && no_role) {
        return None;
    }
    let mut symptoms = Vec::new();
    if identical {
        symptoms.push("ANON_KEY and SERVICE_ROLE_KEY are identical");
    }
    if no_role {
        symptoms.push("the keys have no `role` claim");
    }
    if issuer_dokploy {
        symptoms.push("the issuer is `dokploy`, not `supabase`");
    }
    let shown = keys
        .first()
        .map(|k| current(k.token, k.decoded.as_ref().ok()))
        .unwrap_or_default();
    Some(
        Finding::new("dokploy_broken_keys", Severity::Error, None)
            .line(ctx.line("ANON_KEY"))
            .current(shown)
            .message(format!(
                "the API keys come from Dokploy's key generator, which makes keys Supabase rejects: {}",
                symptoms.join("; ")
            ))
            .expected("ANON_KEY with role anon and SERVICE_ROLE_KEY with role service_role, issuer supabase, both signed with JWT_SECRET")
            .fix("Regenerate both keys: fix_env (rule dokploy_broken_keys) or `supabase-mcp env fix --rule dokploy_broken_keys`.")
            .action(FixAction::ResignKeys),
    )
}

fn check_key(ctx: &Context, k: &Key) -> Vec<Finding> {
    let var = k.role.variable();
    let mut out = Vec::new();
    let base = |rule: &'static str, sev: Severity, d: Option<&Decoded>| {
        Finding::new(rule, sev, Some(var))
            .line(ctx.line(var))
            .current(current(k.token, d))
            .fix(RESIGN)
            .action(FixAction::ResignKeys)
    };
    let d = match &k.decoded {
        Ok(d) => d,
        Err(e) => {
            out.push(
                base("jwt_invalid", Severity::Error, None)
                    .message(format!("{var} is not a valid JWT ({e})"))
                    .expected("an HS256 JWT signed with JWT_SECRET"),
            );
            return out;
        }
    };
    if d.alg() != Some("HS256") {
        out.push(
            base("jwt_invalid", Severity::Error, Some(d))
                .message(format!(
                    "{var} is signed with {}; keys made from JWT_SECRET use HS256",
                    d.alg().unwrap_or("no algorithm")
                ))
                .expected("an HS256 JWT signed with JWT_SECRET"),
        );
        return out;
    }
    // Demo keys: signed with a JWT secret the templates publish.
    if strength::default_jwt_secrets().any(|s| jwt::signed_with(k.token, s.as_bytes())) {
        out.push(
            base("demo_keys", Severity::Error, Some(d))
                .message(format!(
                    "{var} is signed with the example JWT secret of a Supabase template: anyone can make keys that this instance accepts"
                ))
                .expected("a key signed with your own random JWT_SECRET"),
        );
    } else if let Some(secret) = ctx.get("JWT_SECRET") {
        match jwt::verify(k.token, secret.as_bytes()) {
            Ok(_) => {}
            Err(JwtError::Signature) => out.push(
                base("jwt_signature", Severity::Error, Some(d))
                    .message(format!(
                        "{var} was not signed with this JWT_SECRET: every request with it fails with `invalid JWT`"
                    ))
                    .expected("a key whose HS256 signature verifies with JWT_SECRET"),
            ),
            Err(e) => out.push(
                base("jwt_invalid", Severity::Error, Some(d))
                    .message(format!("{var} could not be verified: {e}"))
                    .expected("an HS256 JWT signed with JWT_SECRET"),
            ),
        }
    }
    let expected_role = k.role.as_str();
    match d.role() {
        Some(r) if r == expected_role => {}
        Some(r) => {
            let swapped = Role::parse(r).is_some();
            out.push(
                base("jwt_role", Severity::Error, Some(d))
                    .message(if swapped {
                        format!("{var} has role `{r}`: the anon and service_role keys are swapped")
                    } else {
                        format!("{var} has role `{r}`; Supabase expects `{expected_role}`")
                    })
                    .expected(format!("role `{expected_role}`")),
            );
        }
        None => out.push(
            base("jwt_role", Severity::Error, Some(d))
                .message(format!(
                    "{var} has no `role` claim: PostgREST and Kong cannot tell which role it grants"
                ))
                .expected(format!("role `{expected_role}`")),
        ),
    }
    match d.issuer() {
        Some(jwt::ISSUER) => {}
        other => out.push(
            base("jwt_issuer", Severity::Warning, Some(d))
                .message(format!(
                    "{var} has issuer {}; Supabase's keys use `supabase`",
                    other.map_or("(none)".to_owned(), |i| format!("`{i}`"))
                ))
                .expected("iss `supabase`"),
        ),
    }
    let missing: Vec<&str> = [("iat", d.iat()), ("exp", d.exp())]
        .into_iter()
        .filter(|(_, v)| v.is_none())
        .map(|(n, _)| n)
        .collect();
    if !missing.is_empty() {
        out.push(
            base("jwt_claims", Severity::Warning, Some(d))
                .message(format!(
                    "{var} has no numeric {} claim",
                    missing.join(" or ")
                ))
                .expected("numeric iat and exp (Unix seconds)"),
        );
    }
    if let Some(exp) = d.exp() {
        if exp <= ctx.now {
            out.push(
                base("jwt_expired", Severity::Error, Some(d))
                    .message(format!(
                        "{var} expired on {}: every request with it is refused",
                        jwt::iso(exp)
                    ))
                    .expected("exp in the future"),
            );
        } else if exp - ctx.now < EXPIRY_WARNING_DAYS * 86_400 {
            out.push(
                base("jwt_expiring", Severity::Warning, Some(d))
                    .message(format!("{var} expires on {}", jwt::iso(exp)))
                    .expected(format!("exp more than {EXPIRY_WARNING_DAYS} days away")),
            );
        }
    }
    out
}
