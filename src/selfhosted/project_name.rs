//! Project names and container prefixes of a self-hosted deployment. The
//! name ends up in container names, DNS names inside the Docker network,
//! volume paths and log labels, so it must be a DNS label: lowercase
//! letters, digits and hyphens, starting with a letter, at most 32
//! characters, not ending with a hyphen, and not a name the stack already
//! uses. Dokploy's container prefix is `<project>-supabase-<6 random>-supabase`.

use serde::Serialize;

pub const MAX_LEN: usize = 32;

/// Names that collide with roles, databases or the stack's own services.
pub const RESERVED: &[&str] = &[
    "postgres",
    "supabase",
    "admin",
    "root",
    "dokploy",
    "localhost",
    "db",
    "kong",
    "auth",
    "rest",
    "realtime",
    "storage",
    "meta",
    "studio",
    "analytics",
    "functions",
    "supavisor",
    "vector",
    "imgproxy",
];

/// What a project name touches (shown with every check).
pub const IMPACT: &[&str] = &[
    "container names and the DNS names services use to reach each other",
    "Docker volume and mount paths",
    "the Supavisor tenant and pooler user (postgres.<tenant>)",
    "log and metric labels",
    "certificate names when a custom certificate is used",
];

/// The result of checking a name.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct NameCheck {
    pub name: String,
    pub valid: bool,
    pub problems: Vec<String>,
    /// A valid name close to the one given (when it is not valid).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<String>,
}

/// Checks a project name against every rule.
pub fn check(name: &str) -> NameCheck {
    let mut problems = Vec::new();
    if name.is_empty() {
        problems.push("the name is empty".to_owned());
    }
    if name.chars().any(|c| c.is_ascii_uppercase()) {
        problems.push("has uppercase letters (use lowercase only)".to_owned());
    }
    let bad: Vec<String> = name
        .chars()
        .filter(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        .map(|c| match c {
            ' ' => "space".to_owned(),
            other => format!("`{other}`"),
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if !bad.is_empty() {
        problems.push(format!(
            "contains {} (only letters, digits and hyphens are allowed)",
            bad.join(", ")
        ));
    }
    if let Some(c) = name.chars().next()
        && !c.is_ascii_alphabetic()
    {
        problems.push("does not start with a letter".to_owned());
    }
    if name.ends_with('-') {
        problems.push("ends with a hyphen (not allowed in a DNS name)".to_owned());
    }
    if name.contains("--") {
        problems.push("has two hyphens in a row".to_owned());
    }
    let len = name.chars().count();
    if len > MAX_LEN {
        problems.push(format!("is {len} characters long (at most {MAX_LEN})"));
    }
    if RESERVED.contains(&name.to_ascii_lowercase().as_str()) {
        problems.push(format!(
            "`{name}` is reserved (a database role, service or platform name)"
        ));
    }
    let valid = problems.is_empty();
    NameCheck {
        name: name.to_owned(),
        valid,
        problems,
        suggestion: (!valid).then(|| sanitize(name)),
    }
}

/// Turns any text into a valid project name: lowercase, other characters
/// to hyphens, hyphens collapsed and trimmed, a leading `app-` when it
/// would not start with a letter, at most 32 characters, `-app` appended
/// to a reserved name.
pub fn sanitize(name: &str) -> String {
    let mut out = String::new();
    for c in name.trim().chars() {
        let c = c.to_ascii_lowercase();
        let mapped = if c.is_ascii_lowercase() || c.is_ascii_digit() {
            c
        } else {
            '-'
        };
        if mapped == '-' && (out.is_empty() || out.ends_with('-')) {
            continue;
        }
        out.push(mapped);
    }
    let mut out = out.trim_matches('-').to_owned();
    if out.is_empty() {
        return "app".to_owned();
    }
    if !out.starts_with(|c: char| c.is_ascii_lowercase()) {
        out = format!("app-{out}");
    }
    if RESERVED.contains(&out.as_str()) {
        out.push_str("-app");
    }
    if out.len() > MAX_LEN {
        out.truncate(MAX_LEN);
        out = out.trim_end_matches('-').to_owned();
    }
    out
}

/// The project name inside a Dokploy container prefix
/// (`<project>-supabase-<6 random>-supabase`), when it has that shape.
pub fn from_container_prefix(prefix: &str) -> Option<&str> {
    let rest = prefix.strip_suffix("-supabase")?;
    let (head, random) = rest.rsplit_once('-')?;
    let project = head.strip_suffix("-supabase")?;
    let random_ok = random.len() == 6
        && random
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    (random_ok && !project.is_empty()).then_some(project)
}

/// True when `prefix` has Dokploy's shape with a valid-looking project part
/// (`^[a-z][a-z0-9-]+-supabase-[a-z0-9]{6}-supabase$`).
pub fn valid_container_prefix(prefix: &str) -> bool {
    from_container_prefix(prefix).is_some_and(|p| {
        p.len() >= 2
            && p.starts_with(|c: char| c.is_ascii_lowercase())
            && p.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names_pass() {
        for n in [
            "tools",
            "facilitation-academy",
            "a1",
            "my-app-2",
            &"a".repeat(32),
        ] {
            let c = check(n);
            assert!(c.valid, "{n}: {:?}", c.problems);
            assert_eq!(c.suggestion, None);
        }
    }

    #[test]
    fn invalid_names_say_why_and_suggest() {
        let cases = [
            ("My_Project", "uppercase", "my-project"),
            ("my project", "space", "my-project"),
            ("1app", "start with a letter", "app-1app"),
            ("app-", "ends with a hyphen", "app"),
            ("a--b", "two hyphens", "a-b"),
            ("postgres", "reserved", "postgres-app"),
            ("Supabase", "reserved", "supabase-app"),
            ("", "empty", "app"),
            ("café.prod", "`é`", "caf-prod"),
        ];
        for (name, why, suggestion) in cases {
            let c = check(name);
            assert!(!c.valid, "{name}");
            assert!(
                c.problems.iter().any(|p| p.contains(why)),
                "{name}: {:?}",
                c.problems
            );
            assert_eq!(c.suggestion.as_deref(), Some(suggestion), "{name}");
            assert!(check(suggestion).valid, "{suggestion}");
        }
        let long = check(&"x".repeat(40));
        assert!(long.problems.iter().any(|p| p.contains("40 characters")));
        assert_eq!(long.suggestion.unwrap().len(), 32);
    }

    #[test]
    fn sanitized_names_are_always_valid() {
        for n in [
            "__",
            "-a-",
            "9",
            "A B C",
            "ÄÖÜ",
            "x".repeat(33).as_str(),
            "root",
            "db--1",
        ] {
            let s = sanitize(n);
            assert!(check(&s).valid, "{n} -> {s}");
        }
    }

    #[test]
    fn container_prefixes() {
        assert_eq!(
            from_container_prefix("tools-supabase-rkhivy-supabase"),
            Some("tools")
        );
        assert_eq!(
            from_container_prefix("facilitation-academy-supabase-dxrl5v-supabase"),
            Some("facilitation-academy")
        );
        assert!(valid_container_prefix("tools-supabase-rkhivy-supabase"));
        assert!(!valid_container_prefix("Tools-supabase-rkhivy-supabase"));
        assert!(!valid_container_prefix("tools-supabase-rkhi-supabase"));
        assert!(!valid_container_prefix("supabase"));
        assert_eq!(
            from_container_prefix("my_app-supabase-abc123-supabase"),
            Some("my_app")
        );
        assert!(!valid_container_prefix("my_app-supabase-abc123-supabase"));
    }
}
