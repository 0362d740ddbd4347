//! The public URL variables of a `.env` and their scheme: which must be
//! `https://`, which hosts may keep `http://` (localhost, loopback
//! addresses, `*.localhost`, `host.docker.internal`, and one-word Docker
//! service names such as `kong`), and the rewrite of `http://` to
//! `https://` that changes nothing else in the value.

/// Variables that must use `https://` outside local development.
pub const REQUIRED_HTTPS: &[&str] = &[
    "SITE_URL",
    "API_EXTERNAL_URL",
    "SUPABASE_PUBLIC_URL",
    "ADDITIONAL_REDIRECT_URLS",
];

/// One URL of a variable (a list variable has several, comma-separated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlItem {
    pub text: String,
    pub scheme: String,
    pub host: String,
    pub port: Option<String>,
}

impl UrlItem {
    pub fn is_http(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("http")
    }
    pub fn is_https(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("https")
    }
    /// A host that may be reached over plain HTTP.
    pub fn is_local(&self) -> bool {
        is_local_host(&self.host)
    }
}

/// Localhost, loopback, `*.localhost`, `host.docker.internal`, or a name
/// without dots (a Docker service name).
pub fn is_local_host(host: &str) -> bool {
    let h = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    h == "localhost"
        || h.ends_with(".localhost")
        || h == "host.docker.internal"
        || h == "::1"
        || h == "0.0.0.0"
        || h.starts_with("127.")
        || (!h.contains('.') && !h.contains(':') && !h.is_empty())
}

/// True for hosts that are IP addresses.
pub fn is_ip(host: &str) -> bool {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>()
        .is_ok()
}

/// The URLs of a variable: one, or a comma-separated list; empty items are
/// skipped. An item that is not `scheme://host...` is an `Err` with the item.
pub fn items(value: &str) -> Vec<Result<UrlItem, String>> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| parse(s).ok_or_else(|| s.to_owned()))
        .collect()
}

fn parse(text: &str) -> Option<UrlItem> {
    let (scheme, rest) = text.split_once("://")?;
    if scheme.is_empty()
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '+')
    {
        return None;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let close = v6.find(']')?;
        let port = v6[close + 1..].strip_prefix(':').map(str::to_owned);
        (format!("[{}]", &v6[..close]), port)
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p.to_owned())),
            None => (hostport.to_owned(), None),
        }
    };
    if host.is_empty() || host.contains(char::is_whitespace) {
        return None;
    }
    Some(UrlItem {
        text: text.to_owned(),
        scheme: scheme.to_owned(),
        host,
        port,
    })
}

/// Variables holding URLs: the four of [`REQUIRED_HTTPS`] plus any other
/// `*_URL`, `*_URLS`, `*_URI` variable with an `http(s)://` value.
pub fn is_url_variable(name: &str, value: &str) -> bool {
    REQUIRED_HTTPS.contains(&name)
        || (["_URL", "_URLS", "_URI", "_URIS"]
            .iter()
            .any(|s| name.ends_with(s))
            && (value.contains("http://") || value.contains("https://")))
}

/// A value rewritten to `https://` (public hosts only; `:80` dropped) and
/// notes about what could not be decided automatically.
pub fn to_https(value: &str) -> (String, Vec<String>) {
    let mut notes = Vec::new();
    let mut out = String::with_capacity(value.len() + 8);
    for (i, raw) in value.split(',').enumerate() {
        if i > 0 {
            out.push(',');
        }
        let lead = &raw[..raw.len() - raw.trim_start().len()];
        let trail = &raw[raw.trim_end().len()..];
        let item = raw.trim();
        out.push_str(lead);
        match parse(item) {
            Some(u) if u.is_http() && !u.is_local() => {
                let rest = &item[u.scheme.len() + 3..];
                let rest = match &u.port {
                    Some(p) if p == "80" => rest.replacen(&format!("{}:80", u.host), &u.host, 1),
                    _ => rest.to_owned(),
                };
                out.push_str("https://");
                out.push_str(&rest);
                if let Some(p) = u.port.as_deref().filter(|p| *p != "80") {
                    notes.push(format!(
                        "{} keeps port {p}: check that this port serves HTTPS (Kong's HTTPS port is 8443; behind a TLS proxy the URL usually has no port)",
                        u.host
                    ));
                }
                if is_ip(&u.host) {
                    notes.push(format!(
                        "{} is an IP address: HTTPS needs a certificate for it, so a domain name is usually better",
                        u.host
                    ));
                }
            }
            _ => out.push_str(item),
        }
        out.push_str(trail);
    }
    (out, notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_hosts() {
        for h in [
            "localhost",
            "127.0.0.1",
            "[::1]",
            "app.localhost",
            "kong",
            "host.docker.internal",
        ] {
            assert!(is_local_host(h), "{h}");
        }
        for h in ["example.com", "10.0.0.5", "supabase.dokploy.example"] {
            assert!(!is_local_host(h), "{h}");
        }
    }

    #[test]
    fn items_of_a_list() {
        let v = items("https://a.test/*, http://localhost:3000/**,,nonsense");
        assert_eq!(v.len(), 3);
        let a = v[0].as_ref().unwrap();
        assert!(a.is_https());
        assert_eq!(a.host, "a.test");
        let b = v[1].as_ref().unwrap();
        assert!(b.is_http() && b.is_local());
        assert_eq!(b.port.as_deref(), Some("3000"));
        assert_eq!(v[2], Err("nonsense".to_owned()));
        let w = items("https://*.example.com/cb");
        assert_eq!(w[0].as_ref().unwrap().host, "*.example.com");
    }

    #[test]
    fn rewrites_only_the_scheme_of_public_urls() {
        let (v, notes) = to_https("http://a.test/*, http://localhost:3000/*,https://b.test");
        assert_eq!(
            v,
            "https://a.test/*, http://localhost:3000/*,https://b.test"
        );
        assert!(notes.is_empty());
        let (v, _) = to_https("http://a.test:80/x");
        assert_eq!(v, "https://a.test/x");
        let (v, notes) = to_https("http://203.0.113.5:8000");
        assert_eq!(v, "https://203.0.113.5:8000");
        assert_eq!(notes.len(), 2);
        assert_eq!(to_https("").0, "");
    }

    #[test]
    fn url_variables() {
        assert!(is_url_variable("SITE_URL", ""));
        assert!(is_url_variable(
            "GOTRUE_EXTERNAL_REDIRECT_URI",
            "http://x.test"
        ));
        assert!(!is_url_variable("DATABASE_URL", "postgres://x"));
        assert!(!is_url_variable("POSTGRES_HOST", "http://x"));
    }
}
