//! A complete `.env` for Supabase's Docker Compose setup with freshly
//! generated secrets: the built-in template (the variables and defaults of
//! Supabase's self-hosting template), or any existing `.env` whose secrets
//! are replaced while everything else stays as it is.

use serde::Serialize;

use super::envfile::EnvFile;
use super::jwt::{self, JwtError, Role};
use super::project_name;
use super::secrets::{self, OPTIONAL_SECRETS, SECRETS, SecretsError};

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    #[error(transparent)]
    Jwt(#[from] JwtError),
    #[error(
        "`{0}` is not a domain name (give a host such as supabase.example.com, without a path)"
    )]
    Domain(String),
    #[error("`{0}` is not an http(s) URL")]
    SiteUrl(String),
    #[error("the project name `{name}` {problems}")]
    ProjectName { name: String, problems: String },
}

/// The built-in template. Secrets are left empty: they are generated.
pub const TEMPLATE: &str = r#"############
# Secrets: generated at random; keep this file private (mode 0600).
############

POSTGRES_PASSWORD=
JWT_SECRET=
ANON_KEY=
SERVICE_ROLE_KEY=
DASHBOARD_USERNAME=supabase
DASHBOARD_PASSWORD=
SECRET_KEY_BASE=
VAULT_ENC_KEY=
PG_META_CRYPTO_KEY=
LOGFLARE_PUBLIC_ACCESS_TOKEN=
LOGFLARE_PRIVATE_ACCESS_TOKEN=
S3_PROTOCOL_ACCESS_KEY_ID=
S3_PROTOCOL_ACCESS_KEY_SECRET=

############
# Public URLs: https:// for anything reachable from outside this machine.
############

SUPABASE_PUBLIC_URL=http://localhost:8000
API_EXTERNAL_URL=http://localhost:8000

############
# Database (keep as is unless the database runs elsewhere)
############

POSTGRES_HOST=db
POSTGRES_DB=postgres
POSTGRES_PORT=5432

############
# Supavisor, the connection pooler
############

POOLER_PROXY_PORT_TRANSACTION=6543
POOLER_DEFAULT_POOL_SIZE=20
POOLER_MAX_CLIENT_CONN=100
POOLER_TENANT_ID=your-tenant-id
POOLER_DB_POOL_SIZE=5

############
# Studio
############

STUDIO_DEFAULT_ORGANIZATION=Default Organization
STUDIO_DEFAULT_PROJECT=Default Project
STUDIO_PORT=3000
OPENAI_API_KEY=

############
# Auth
############

# The application users sign in to, and where they may be sent back to.
SITE_URL=http://localhost:3000
ADDITIONAL_REDIRECT_URLS=
JWT_EXPIRY=3600
DISABLE_SIGNUP=false

MAILER_URLPATHS_CONFIRMATION="/auth/v1/verify"
MAILER_URLPATHS_INVITE="/auth/v1/verify"
MAILER_URLPATHS_RECOVERY="/auth/v1/verify"
MAILER_URLPATHS_EMAIL_CHANGE="/auth/v1/verify"

ENABLE_EMAIL_SIGNUP=true
ENABLE_EMAIL_AUTOCONFIRM=false
# Placeholders: enter your mail provider's settings.
SMTP_ADMIN_EMAIL=admin@example.com
SMTP_HOST=supabase-mail
SMTP_PORT=2500
SMTP_USER=fake_mail_user
SMTP_PASS=fake_mail_password
SMTP_SENDER_NAME=fake_sender
ENABLE_ANONYMOUS_USERS=false

ENABLE_PHONE_SIGNUP=true
ENABLE_PHONE_AUTOCONFIRM=true

############
# Storage
############

GLOBAL_S3_BUCKET=stub
REGION=stub
STORAGE_TENANT_ID=stub
MINIO_ROOT_USER=supa-storage
MINIO_ROOT_PASSWORD=

############
# Edge Functions
############

FUNCTIONS_VERIFY_JWT=false

############
# PostgREST
############

PGRST_DB_SCHEMAS=public,storage,graphql_public

############
# Analytics (Logflare)
############

LOGFLARE_SINGLE_TENANT=true
LOGFLARE_SUPABASE_MODE=true
DOCKER_SOCKET_LOCATION=/var/run/docker.sock
GOOGLE_PROJECT_ID=GOOGLE_PROJECT_ID
GOOGLE_PROJECT_NUMBER=GOOGLE_PROJECT_NUMBER

############
# Kong, the API gateway
############

KONG_HTTP_PORT=8000
KONG_HTTPS_PORT=8443

############
# imgproxy
############

IMGPROXY_ENABLE_WEBP_DETECTION=true
"#;

/// What to generate.
#[derive(Debug, Clone)]
pub struct Options {
    /// A `.env` to start from instead of the built-in template.
    pub base: Option<EnvFile>,
    /// Public domain: `SUPABASE_PUBLIC_URL` and `API_EXTERNAL_URL` become
    /// `https://<domain>`.
    pub domain: Option<String>,
    /// The application's URL (`SITE_URL`).
    pub site_url: Option<String>,
    /// Validity of the API keys.
    pub years: u32,
    /// Becomes `POOLER_TENANT_ID`.
    pub project_name: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            base: None,
            domain: None,
            site_url: None,
            years: jwt::DEFAULT_YEARS,
            project_name: None,
        }
    }
}

/// Claims of a generated key (never the key itself).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct KeyInfo {
    pub variable: &'static str,
    pub role: &'static str,
    pub iss: &'static str,
    pub issued_at: String,
    pub expires_at: String,
}

/// The generated file and what was put in it (names only).
#[derive(Debug, Clone)]
pub struct Generated {
    pub file: EnvFile,
    /// Variables given new random values or keys.
    pub generated: Vec<&'static str>,
    /// Other variables set from the options.
    pub set: Vec<&'static str>,
    pub keys: Vec<KeyInfo>,
}

/// Checks a domain name (with an optional port).
pub fn valid_domain(d: &str) -> bool {
    let host = match d.rsplit_once(':') {
        Some((h, p)) if p.parse::<u16>().is_ok() => h,
        _ => d,
    };
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// Builds the file: every secret new, both keys signed with the new
/// `JWT_SECRET`, URLs and tenant from the options.
pub fn generate(opts: &Options) -> Result<Generated, TemplateError> {
    let (iat, exp) = jwt::validity(opts.years)?;
    let domain = match &opts.domain {
        Some(d) => {
            let d = d.trim().trim_end_matches('/');
            let d = d
                .strip_prefix("https://")
                .or_else(|| d.strip_prefix("http://"))
                .unwrap_or(d)
                .to_ascii_lowercase();
            if !valid_domain(&d) {
                return Err(TemplateError::Domain(d));
            }
            Some(d)
        }
        None => None,
    };
    if let Some(u) = &opts.site_url
        && !(u.starts_with("https://") || u.starts_with("http://"))
    {
        return Err(TemplateError::SiteUrl(u.clone()));
    }
    if let Some(n) = &opts.project_name {
        let c = project_name::check(n);
        if !c.valid {
            return Err(TemplateError::ProjectName {
                name: n.clone(),
                problems: c.problems.join("; "),
            });
        }
    }

    let mut file = opts
        .base
        .clone()
        .unwrap_or_else(|| EnvFile::parse(TEMPLATE));
    let mut generated = Vec::new();
    let mut jwt_secret = String::new();
    for spec in SECRETS {
        let v = secrets::generate(spec.format)?;
        if spec.name == "JWT_SECRET" {
            jwt_secret = v.clone();
        }
        file.set(spec.name, &v);
        generated.push(spec.name);
    }
    for spec in OPTIONAL_SECRETS {
        if file.get(spec.name).is_some() {
            file.set(spec.name, &secrets::generate(spec.format)?);
            generated.push(spec.name);
        }
    }
    let mut keys = Vec::new();
    for role in [Role::Anon, Role::ServiceRole] {
        let token = jwt::sign(role, jwt_secret.as_bytes(), iat, exp)?;
        file.set(role.variable(), &token);
        generated.push(role.variable());
        keys.push(KeyInfo {
            variable: role.variable(),
            role: role.as_str(),
            iss: jwt::ISSUER,
            issued_at: jwt::iso(iat),
            expires_at: jwt::iso(exp),
        });
    }
    let mut set = Vec::new();
    if let Some(d) = &domain {
        let url = format!("https://{d}");
        for v in ["SUPABASE_PUBLIC_URL", "API_EXTERNAL_URL"] {
            file.set(v, &url);
            set.push(v);
        }
    }
    if let Some(u) = &opts.site_url {
        file.set("SITE_URL", u.trim_end_matches('/'));
        set.push("SITE_URL");
    }
    if let Some(n) = &opts.project_name {
        file.set("POOLER_TENANT_ID", n);
        set.push("POOLER_TENANT_ID");
    }
    Ok(Generated {
        file,
        generated,
        set,
        keys,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_parses_cleanly() {
        let f = EnvFile::parse(TEMPLATE);
        assert!(f.issues.is_empty());
        assert!(f.duplicates().is_empty());
        assert_eq!(f.render(), TEMPLATE);
    }

    #[test]
    fn generated_keys_verify_with_the_generated_secret() {
        let g = generate(&Options::default()).unwrap();
        let secret = g.file.value("JWT_SECRET").unwrap().to_owned();
        for (var, role) in [("ANON_KEY", "anon"), ("SERVICE_ROLE_KEY", "service_role")] {
            let d = jwt::verify(g.file.value(var).unwrap(), secret.as_bytes()).unwrap();
            assert_eq!(d.role(), Some(role));
        }
        assert_eq!(g.keys.len(), 2);
        assert!(g.generated.contains(&"VAULT_ENC_KEY"));
    }

    #[test]
    fn options_are_checked() {
        let bad = |o: Options| generate(&o).unwrap_err().to_string();
        assert!(
            bad(Options {
                domain: Some("a b".into()),
                ..Default::default()
            })
            .contains("not a domain")
        );
        assert!(
            bad(Options {
                site_url: Some("ftp://x".into()),
                ..Default::default()
            })
            .contains("http(s)")
        );
        assert!(
            bad(Options {
                project_name: Some("Bad_Name".into()),
                ..Default::default()
            })
            .contains("uppercase")
        );
        assert!(
            bad(Options {
                years: 0,
                ..Default::default()
            })
            .contains("1 to")
        );
        let g = generate(&Options {
            domain: Some("https://Supabase.Example.com/".into()),
            project_name: Some("shop".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            g.file.value("API_EXTERNAL_URL"),
            Some("https://supabase.example.com")
        );
        assert_eq!(g.file.value("POOLER_TENANT_ID"), Some("shop"));
    }

    #[test]
    fn generate_then_validate_is_clean() {
        use crate::selfhosted::{Severity, rules};
        for _ in 0..100 {
            let g = generate(&Options {
                domain: Some("supabase.shop.example".into()),
                site_url: Some("https://shop.example".into()),
                project_name: Some("shop".into()),
                ..Default::default()
            })
            .unwrap();
            let secret = g.file.value("JWT_SECRET").unwrap().as_bytes().to_vec();
            for role in [Role::Anon, Role::ServiceRole] {
                let d = jwt::verify(g.file.value(role.variable()).unwrap(), &secret).unwrap();
                assert_eq!(d.role(), Some(role.as_str()));
            }
            let r = rules::validate(&g.file, &rules::Options::default());
            // Only the mail settings, which cannot be generated, remain.
            assert_eq!(r.summary.errors, 0, "{:#?}", r.findings);
            assert!(
                r.findings
                    .iter()
                    .all(|f| f.rule == "fake_smtp" && f.severity == Severity::Warning)
            );
        }
    }

    #[test]
    fn a_base_file_keeps_everything_but_its_secrets() {
        use crate::selfhosted::{mask, rules};
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/selfhosted/clean.env");
        let base = EnvFile::read(&path).unwrap();
        let g = generate(&Options {
            base: Some(base.clone()),
            ..Default::default()
        })
        .unwrap();
        let r = rules::validate(&g.file, &rules::Options::default());
        assert!(r.findings.is_empty(), "{:#?}", r.findings);
        for a in base.assignments() {
            let new = g.file.value(&a.key).unwrap();
            if mask::is_secret_var(&a.key) && a.key != "SMTP_PASS" {
                assert_ne!(new, a.value, "{} kept", a.key);
            } else {
                assert_eq!(new, a.value, "{} changed", a.key);
            }
        }
        let (before, after) = (base.render(), g.file.render());
        assert_eq!(before.lines().count(), after.lines().count());
        for (b, a) in before.lines().zip(after.lines()) {
            if b.starts_with('#') || b.is_empty() {
                assert_eq!(a, b);
            }
        }
    }
}
