//! Whether a secret looks random: the example values published in the
//! Supabase and Dokploy templates, placeholder text, common passwords,
//! repeated or sequential characters, few distinct characters and a low
//! entropy estimate.

/// A value published with a template: never a secret.
pub struct KnownDefault {
    pub variable: &'static str,
    pub value: &'static str,
    pub source: &'static str,
}

const DOCKER: &str = "the Supabase Docker template";
const CLI: &str = "the Supabase CLI's local stack";

/// Example values of the self-hosting templates.
pub const KNOWN_DEFAULTS: &[KnownDefault] = &[
    KnownDefault {
        variable: "POSTGRES_PASSWORD",
        value: "your-super-secret-and-long-postgres-password",
        source: DOCKER,
    },
    KnownDefault {
        variable: "POSTGRES_PASSWORD",
        value: "postgres",
        source: CLI,
    },
    KnownDefault {
        variable: "JWT_SECRET",
        value: "your-super-secret-jwt-token-with-at-least-32-characters-long",
        source: DOCKER,
    },
    KnownDefault {
        variable: "JWT_SECRET",
        value: "super-secret-jwt-token-with-at-least-32-characters-long",
        source: CLI,
    },
    KnownDefault {
        variable: "DASHBOARD_PASSWORD",
        value: "this_password_is_insecure_and_should_be_updated",
        source: DOCKER,
    },
    KnownDefault {
        variable: "SECRET_KEY_BASE",
        value: "UpNVntn3cDxHJpq99YMc1T1AQgQpc8kfYTuRgBiYa15BLrx8etQoXz3gZv1/u2oq",
        source: DOCKER,
    },
    KnownDefault {
        variable: "VAULT_ENC_KEY",
        value: "your-32-character-encryption-key",
        source: DOCKER,
    },
    KnownDefault {
        variable: "VAULT_ENC_KEY",
        value: "your-encryption-key-32-chars-min",
        source: DOCKER,
    },
    KnownDefault {
        variable: "PG_META_CRYPTO_KEY",
        value: "your-encryption-key-32-chars-min",
        source: DOCKER,
    },
    KnownDefault {
        variable: "LOGFLARE_PUBLIC_ACCESS_TOKEN",
        value: "your-super-secret-and-long-logflare-key-public",
        source: DOCKER,
    },
    KnownDefault {
        variable: "LOGFLARE_PRIVATE_ACCESS_TOKEN",
        value: "your-super-secret-and-long-logflare-key-private",
        source: DOCKER,
    },
    KnownDefault {
        variable: "LOGFLARE_API_KEY",
        value: "your-super-secret-and-long-logflare-key",
        source: DOCKER,
    },
    KnownDefault {
        variable: "S3_PROTOCOL_ACCESS_KEY_ID",
        value: "625729a08b95bf1b7ff351a663f3a23c",
        source: DOCKER,
    },
    KnownDefault {
        variable: "S3_PROTOCOL_ACCESS_KEY_SECRET",
        value: "850181e4652dd023b7a98c58ae0d2d34bd487ee0cc3254aed6eda37307425907",
        source: DOCKER,
    },
    KnownDefault {
        variable: "MINIO_ROOT_PASSWORD",
        value: "secret1234",
        source: DOCKER,
    },
];

/// JWT secrets the templates publish: keys signed with them are public.
pub fn default_jwt_secrets() -> impl Iterator<Item = &'static str> {
    KNOWN_DEFAULTS
        .iter()
        .filter(|d| d.variable == "JWT_SECRET")
        .map(|d| d.value)
}

/// Where `value` was published, if it is any template's example value.
pub fn known_default(value: &str) -> Option<&'static KnownDefault> {
    KNOWN_DEFAULTS.iter().find(|d| d.value == value)
}

/// Text that marks a value as a placeholder rather than a secret.
const PLACEHOLDERS: &[&str] = &[
    "your-",
    "your_",
    "change",
    "example",
    "placeholder",
    "replace",
    "insecure",
    "xxxx",
    "super-secret",
    "must-",
    "<",
    ">",
];

/// Passwords every attacker tries first.
const COMMON: &[&str] = &[
    "password",
    "passw0rd",
    "p@ssw0rd",
    "postgres",
    "supabase",
    "admin",
    "administrator",
    "root",
    "changeme",
    "secret",
    "letmein",
    "qwerty",
    "welcome",
    "default",
    "test",
    "dokploy",
    "pass",
    "master",
    "iloveyou",
];

/// Why a value does not look like a random secret.
#[derive(Debug, Clone, PartialEq)]
pub enum Weakness {
    Default(&'static str),
    Placeholder(&'static str),
    Common,
    Repeated,
    Sequential,
    FewDistinct(usize),
    LowEntropy(u32),
}

impl Weakness {
    pub fn describe(&self) -> String {
        match self {
            Weakness::Default(source) => format!("is the example value of {source}"),
            Weakness::Placeholder(word) => format!("contains the placeholder text `{word}`"),
            Weakness::Common => "is a common password".to_owned(),
            Weakness::Repeated => "repeats a short pattern".to_owned(),
            Weakness::Sequential => {
                "contains a long run of repeated or consecutive characters".to_owned()
            }
            Weakness::FewDistinct(n) => format!("uses only {n} distinct characters"),
            Weakness::LowEntropy(bits) => {
                format!("has an estimated entropy of only about {bits} bits")
            }
        }
    }
}

/// Estimated entropy in bits: length × the Shannon entropy of its characters.
pub fn entropy_bits(value: &str) -> f64 {
    let chars: Vec<char> = value.chars().collect();
    if chars.is_empty() {
        return 0.0;
    }
    let mut counts: std::collections::HashMap<char, usize> = std::collections::HashMap::new();
    for c in &chars {
        *counts.entry(*c).or_default() += 1;
    }
    let n = chars.len() as f64;
    let per_char: f64 = counts
        .values()
        .map(|&k| {
            let p = k as f64 / n;
            -p * p.log2()
        })
        .sum();
    per_char * n
}

/// The first reason `value` does not look random, if any.
pub fn weakness(value: &str) -> Option<Weakness> {
    if let Some(d) = known_default(value) {
        return Some(Weakness::Default(d.source));
    }
    let lower = value.to_ascii_lowercase();
    if let Some(word) = PLACEHOLDERS.iter().find(|w| lower.contains(*w)) {
        return Some(Weakness::Placeholder(word));
    }
    let stem = lower.trim_end_matches(|c: char| c.is_ascii_digit() || c.is_ascii_punctuation());
    let stem = stem.trim_start_matches(|c: char| c.is_ascii_digit());
    if stem.is_empty() && lower.len() < 16 || COMMON.contains(&stem) {
        return Some(Weakness::Common);
    }
    let chars: Vec<char> = value.chars().collect();
    if is_periodic(&chars) {
        return Some(Weakness::Repeated);
    }
    if longest_run(&chars) >= 6 {
        return Some(Weakness::Sequential);
    }
    let distinct = chars.iter().collect::<std::collections::HashSet<_>>().len();
    let needed = (chars.len() / 4).clamp(4, 10);
    if distinct < needed {
        return Some(Weakness::FewDistinct(distinct));
    }
    let bits = entropy_bits(value);
    if bits < 50.0 {
        return Some(Weakness::LowEntropy(bits as u32));
    }
    None
}

/// True when the value is a shorter unit repeated (`abcabcabc`).
fn is_periodic(chars: &[char]) -> bool {
    let n = chars.len();
    (1..=n / 2).any(|p| n.is_multiple_of(p) && (p..n).all(|i| chars[i] == chars[i - p]))
}

/// Longest run of equal characters, or of characters that go up or down by
/// one (`aaaa`, `abcdef`, `987654`).
fn longest_run(chars: &[char]) -> usize {
    let mut best = usize::from(!chars.is_empty());
    for step in [-1i64, 0, 1] {
        let mut run = 1;
        for w in chars.windows(2) {
            if w[1] as i64 - w[0] as i64 == step {
                run += 1;
                best = best.max(run);
            } else {
                run = 1;
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_values_and_patterns_are_weak() {
        assert_eq!(
            weakness("your-super-secret-jwt-token-with-at-least-32-characters-long"),
            Some(Weakness::Default(DOCKER))
        );
        assert!(matches!(
            weakness("<must-change-this-value-please-now>"),
            Some(Weakness::Placeholder(_))
        ));
        assert_eq!(weakness("Password123!"), Some(Weakness::Common));
        assert_eq!(weakness("12345678"), Some(Weakness::Common));
        assert_eq!(
            weakness("abcabcabcabcabcabcabcabcabcabcab"[..30].as_ref()),
            Some(Weakness::Repeated)
        );
        assert_eq!(
            weakness("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
            Some(Weakness::Repeated)
        );
        assert_eq!(
            weakness("x9abcdefghq2w8e7r6t5y4u3i2o1p0zz"),
            Some(Weakness::Sequential)
        );
        assert!(matches!(
            weakness("ababababcdcdcdcdabababab9a9a9a9a"),
            Some(Weakness::FewDistinct(_))
        ));
    }

    #[test]
    fn random_looking_values_pass() {
        for v in [
            "T6Y/v7FU+HqPS3gd/TgeNpC3YnULnFxDfZJdv2JsbG4=",
            "jg0tkxzjrh7lzhca9x0hfg1zim5fhkct",
            "q2cfpdv7odqu5up3akspn5htncl9ew7tjggdebnuzogmps8o7kpb7m6wpufzwkac",
            "mnafidh3vtxoaw0ib7ztdqwvlnldq9wt",
        ] {
            assert_eq!(weakness(v), None, "{v}");
        }
    }

    #[test]
    fn entropy_grows_with_variety() {
        assert!(entropy_bits("aaaa") < 1.0);
        assert!((entropy_bits("abcd") - 8.0).abs() < 1e-9);
        assert!(entropy_bits("jg0tkxzjrh7lzhca9x0hfg1zim5fhkct") > 120.0);
    }
}
