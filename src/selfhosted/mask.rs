//! Which `.env` variables hold secrets, and how their values are shown: a
//! secret is never shown, only its first two characters and its length
//! (nothing for short ones); a URL's password is replaced.

/// Name parts that make a variable a secret (`SMTP_PASS`, `VAULT_ENC_KEY`,
/// `LOGFLARE_PUBLIC_ACCESS_TOKEN`, `SECRET_KEY_BASE`...).
const SECRET_PARTS: &[&str] = &[
    "PASSWORD",
    "PASS",
    "PASSWD",
    "PWD",
    "SECRET",
    "KEY",
    "TOKEN",
    "CREDENTIALS",
];

/// True when the variable's value must never be shown.
pub fn is_secret_var(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    upper
        .split(['_', '-', '.'])
        .any(|part| SECRET_PARTS.contains(&part))
}

/// A secret as it may be shown: `ab… (44 characters)`; values shorter than
/// 12 characters show only their length.
pub fn mask(value: &str) -> String {
    let n = value.chars().count();
    match n {
        0 => "(empty)".to_owned(),
        1 => "(1 character)".to_owned(),
        _ if n < 12 => format!("({n} characters)"),
        _ => {
            let head: String = value.chars().take(2).collect();
            format!("{head}… ({n} characters)")
        }
    }
}

/// The value of `name` as reports show it: masked when secret, a URL's
/// password replaced, long values shortened.
pub fn shown(name: &str, value: &str) -> String {
    if is_secret_var(name) {
        return mask(value);
    }
    let value = mask_url_passwords(value);
    if value.chars().count() > 200 {
        let head: String = value.chars().take(200).collect();
        return format!("{head}…");
    }
    value
}

/// Replaces the password of every `scheme://user:password@` in `text`.
pub fn mask_url_passwords(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(p) = rest.find("://") {
        let (before, after) = rest.split_at(p + 3);
        out.push_str(before);
        let end = after
            .find(|c: char| c.is_whitespace() || c == ',' || c == '/')
            .unwrap_or(after.len());
        let authority = &after[..end];
        match (authority.rfind('@'), authority.find(':')) {
            (Some(at), Some(colon)) if colon < at => {
                out.push_str(&authority[..colon]);
                out.push_str(":***");
                out.push_str(&authority[at..]);
            }
            _ => out.push_str(authority),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names() {
        for n in [
            "POSTGRES_PASSWORD",
            "SMTP_PASS",
            "JWT_SECRET",
            "ANON_KEY",
            "SERVICE_ROLE_KEY",
            "SECRET_KEY_BASE",
            "VAULT_ENC_KEY",
            "LOGFLARE_PRIVATE_ACCESS_TOKEN",
            "S3_PROTOCOL_ACCESS_KEY_SECRET",
        ] {
            assert!(is_secret_var(n), "{n}");
        }
        for n in [
            "SITE_URL",
            "POSTGRES_HOST",
            "JWT_EXPIRY",
            "DASHBOARD_USERNAME",
            "KONG_HTTP_PORT",
            "SMTP_PORT",
        ] {
            assert!(!is_secret_var(n), "{n}");
        }
    }

    #[test]
    fn masks_keep_only_a_prefix_and_length() {
        assert_eq!(mask(""), "(empty)");
        assert_eq!(mask("short"), "(5 characters)");
        let m = mask("abcdefghijklmnopqrstuvwxyz");
        assert_eq!(m, "ab… (26 characters)");
        assert!(!m.contains("cdef"));
        assert_eq!(
            shown("POSTGRES_PASSWORD", "hunter2hunter2"),
            "hu… (14 characters)"
        );
        assert_eq!(shown("SITE_URL", "https://a.test"), "https://a.test");
    }

    #[test]
    fn url_passwords_are_replaced() {
        assert_eq!(
            mask_url_passwords("postgres://u:pw@h:5432/d and ecto://a:b@c"),
            "postgres://u:***@h:5432/d and ecto://a:***@c"
        );
        assert_eq!(mask_url_passwords("https://h.test/x"), "https://h.test/x");
    }
}
