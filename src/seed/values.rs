//! The value generator: realistic text by column name (emails, names,
//! cities, prices...), values that fit the column's type (lengths, ranges,
//! numeric precision, enum labels, arrays, JSON) and the simple CHECK
//! rules. Deterministic for a given random generator state.

use rand::Rng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;

use super::catalog::{Column, Ty};
use super::checks::Rule;

const FIRST: &[&str] = &[
    "Ada",
    "Alan",
    "Grace",
    "Linus",
    "Margaret",
    "Ken",
    "Barbara",
    "Dennis",
    "Frances",
    "Edsger",
    "Radia",
    "Tim",
    "Hedy",
    "Donald",
    "Katherine",
    "John",
    "Sophie",
    "Yuki",
    "Amara",
    "Mateo",
    "Priya",
    "Lars",
    "Chloe",
    "Omar",
    "Ingrid",
    "Diego",
    "Mei",
    "Noah",
    "Leila",
    "Jonas",
];
const LAST: &[&str] = &[
    "Lovelace", "Turing", "Hopper", "Torvalds", "Hamilton", "Thompson", "Liskov", "Ritchie",
    "Allen", "Dijkstra", "Perlman", "Berners", "Lamarr", "Knuth", "Johnson", "McCarthy", "Wilson",
    "Tanaka", "Okafor", "Garcia", "Sharma", "Nilsson", "Martin", "Haddad", "Larsen", "Rossi",
    "Chen", "Schmidt", "Moreau", "Novak",
];
const CITIES: &[&str] = &[
    "Lisbon",
    "Berlin",
    "Osaka",
    "Toronto",
    "Nairobi",
    "Lima",
    "Oslo",
    "Melbourne",
    "Austin",
    "Seoul",
    "Dublin",
    "Porto",
    "Krakow",
    "Montreal",
    "Cape Town",
    "Singapore",
];
const COUNTRIES: &[(&str, &str)] = &[
    ("Portugal", "PT"),
    ("Germany", "DE"),
    ("Japan", "JP"),
    ("Canada", "CA"),
    ("Kenya", "KE"),
    ("Peru", "PE"),
    ("Norway", "NO"),
    ("Australia", "AU"),
    ("United States", "US"),
    ("South Korea", "KR"),
    ("Ireland", "IE"),
    ("Poland", "PL"),
    ("South Africa", "ZA"),
];
const WORDS: &[&str] = &[
    "quick", "garden", "river", "silver", "market", "bright", "harbor", "maple", "cloud", "stone",
    "ember", "orbit", "meadow", "pixel", "cedar", "lantern", "summit", "velvet", "copper",
    "willow", "canyon", "echo", "forest", "signal", "atlas", "breeze", "delta", "frost", "glow",
    "horizon",
];
const STREETS: &[&str] = &[
    "Main St",
    "Oak Ave",
    "Elm Rd",
    "Harbor Way",
    "Park Lane",
    "Mill Rd",
];
const DOMAINS: &[&str] = &["example.com", "example.org", "example.net"];
const STATUSES: &[&str] = &["active", "pending", "archived", "draft"];
const COLORS: &[&str] = &["red", "green", "blue", "orange", "purple", "teal"];
const CURRENCIES: &[&str] = &["USD", "EUR", "GBP", "JPY", "CAD"];

/// Seconds of 2025-01-01T00:00:00Z: generated times lie in the two years
/// before it, so runs do not depend on the clock.
const EPOCH_2025: i64 = 1_735_689_600;

fn pick<'a>(rng: &mut ChaCha8Rng, list: &[&'a str]) -> &'a str {
    list.choose(rng).copied().unwrap_or("x")
}

fn words(rng: &mut ChaCha8Rng, n: usize) -> String {
    (0..n)
        .map(|_| pick(rng, WORDS))
        .collect::<Vec<_>>()
        .join(" ")
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// One value for `col` as PostgreSQL input text, or `None` for NULL.
/// `ordinal` numbers the rows of this run (distinct per row); `unique`
/// asks for a value that differs from other rows' by construction where
/// the type allows.
pub fn value(
    rng: &mut ChaCha8Rng,
    col: &Column,
    rule: Option<&Rule>,
    ordinal: u64,
    unique: bool,
) -> Option<String> {
    if let Some(choices) = rule.and_then(|r| r.choices.as_ref())
        && let Some(c) = choices.choose(rng)
    {
        return Some(c.clone());
    }
    if !col.not_null && !unique && rng.random_ratio(1, 20) {
        return None;
    }
    Some(of_type(
        rng,
        &col.ty,
        &col.name.to_lowercase(),
        rule,
        ordinal,
        unique,
    ))
}

fn of_type(
    rng: &mut ChaCha8Rng,
    ty: &Ty,
    name: &str,
    rule: Option<&Rule>,
    ordinal: u64,
    unique: bool,
) -> String {
    match ty {
        Ty::Int { min, max } => {
            let lo = rule
                .and_then(|r| r.min)
                .map_or(*min, |m| (m.ceil() as i64).max(*min));
            let hi = rule
                .and_then(|r| r.max)
                .map_or(*max, |m| (m.floor() as i64).min(*max));
            if unique {
                return lo
                    .max(0)
                    .saturating_add(ordinal as i64 + 1)
                    .min(hi)
                    .to_string();
            }
            let (dlo, dhi) = int_range(name);
            let (a, b) = (dlo.max(lo), dhi.min(hi));
            if a <= b {
                rng.random_range(a..=b).to_string()
            } else if lo <= hi {
                rng.random_range(lo..=hi).to_string()
            } else {
                lo.to_string()
            }
        }
        Ty::Numeric { precision, scale } => {
            let scale = (*scale).min(6);
            let cap = precision
                .map(|p| 10f64.powi(p.saturating_sub(scale) as i32) - 10f64.powi(-(scale as i32)))
                .unwrap_or(1e9);
            let lo = rule.and_then(|r| r.min).unwrap_or(0.0).max(-cap);
            let (dlo, dhi) = float_range(name);
            let hi = rule.and_then(|r| r.max).unwrap_or(dhi).min(cap);
            let lo = lo.max(dlo.min(hi));
            let v = if lo < hi {
                rng.random_range(lo..=hi)
            } else {
                lo
            };
            let mut s = format!("{v:.prec$}", prec = scale as usize);
            if s.parse::<f64>().is_ok_and(|x| x > hi) {
                s = format!("{hi:.prec$}", prec = scale as usize);
            }
            s
        }
        Ty::Float => {
            let (dlo, dhi) = float_range(name);
            let lo = rule.and_then(|r| r.min).unwrap_or(dlo);
            let hi = rule.and_then(|r| r.max).unwrap_or(dhi).max(lo);
            format!(
                "{:.4}",
                if lo < hi {
                    rng.random_range(lo..=hi)
                } else {
                    lo
                }
            )
        }
        Ty::Bool => rng.random_bool(0.5).to_string(),
        Ty::Text { max_len } => {
            let max = rule
                .and_then(|r| r.max_len)
                .into_iter()
                .chain(*max_len)
                .min();
            let min = rule.and_then(|r| r.min_len).unwrap_or(0);
            let mut s = text_for(rng, name);
            if unique {
                let suffix = format!("-{}", ordinal + 1);
                if name.contains("email") {
                    s = s.replacen('@', &format!("{}@", ordinal + 1), 1);
                } else if let Some(m) = max {
                    let keep = m.saturating_sub(suffix.len());
                    s = s.chars().take(keep).collect::<String>() + &suffix;
                } else {
                    s.push_str(&suffix);
                }
            }
            while s.chars().count() < min {
                s.push_str(pick(rng, WORDS));
            }
            match max {
                Some(m) if s.chars().count() > m => {
                    // Keep the unique suffix, which sits at the end.
                    let n = s.chars().count();
                    s.chars().skip(n - m).collect()
                }
                _ => s,
            }
        }
        Ty::Uuid => {
            let b: [u8; 16] = rng.random();
            uuid::Builder::from_random_bytes(b).into_uuid().to_string()
        }
        Ty::Date => {
            let secs = if name.contains("birth") || name == "dob" {
                EPOCH_2025 - rng.random_range(18 * 365..80 * 365) * 86_400
            } else {
                EPOCH_2025 - rng.random_range(0..730) * 86_400
            };
            timestamp(secs).format("%Y-%m-%d").to_string()
        }
        Ty::Timestamp => {
            let secs = EPOCH_2025 - rng.random_range(0..730 * 86_400);
            timestamp(secs).format("%Y-%m-%d %H:%M:%S+00").to_string()
        }
        Ty::Time => format!(
            "{:02}:{:02}:00",
            rng.random_range(0..24),
            rng.random_range(0..60)
        ),
        Ty::Interval => format!("{} minutes", rng.random_range(1..1440)),
        Ty::Json => serde_json::json!({
            "source": pick(rng, &["web", "ios", "android"]),
            "tags": [pick(rng, WORDS), pick(rng, WORDS)],
            "score": rng.random_range(0..100),
        })
        .to_string(),
        Ty::Bytea => format!("\\x{:016x}", rng.random::<u64>()),
        Ty::Inet => format!("192.0.2.{}", rng.random_range(1..255)),
        Ty::Enum(labels) => labels.choose(rng).cloned().unwrap_or_default(),
        Ty::Array(inner) => {
            let n = rng.random_range(1..=3);
            let singular = name.trim_end_matches('s');
            let items: Vec<String> = (0..n)
                .map(|_| array_item(&of_type(rng, inner, singular, None, ordinal, false)))
                .collect();
            format!("{{{}}}", items.join(","))
        }
        Ty::Other(_) => String::new(),
    }
}

fn array_item(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn timestamp(secs: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(secs, 0).unwrap_or_default()
}

fn int_range(name: &str) -> (i64, i64) {
    if name.contains("age") && !name.contains("page") && !name.contains("image") {
        (18, 90)
    } else if name.contains("year") {
        (1990, 2025)
    } else if name.contains("rating") || name.contains("stars") {
        (1, 5)
    } else if name.contains("quantity") || name.contains("qty") || name.contains("count") {
        (1, 20)
    } else if name.contains("price") || name.contains("amount") || name.contains("cents") {
        (100, 100_000)
    } else {
        (1, 1000)
    }
}

fn float_range(name: &str) -> (f64, f64) {
    if name.contains("lat") {
        (-60.0, 70.0)
    } else if name.contains("lng") || name.contains("lon") {
        (-170.0, 170.0)
    } else if name.contains("rating") || name.contains("score") {
        (1.0, 5.0)
    } else if name.contains("percent") || name.contains("rate") {
        (0.0, 100.0)
    } else {
        (1.0, 999.0)
    }
}

fn text_for(rng: &mut ChaCha8Rng, name: &str) -> String {
    let first = pick(rng, FIRST);
    let last = pick(rng, LAST);
    let has = |k: &str| name.contains(k);
    if has("email") {
        format!(
            "{}.{}@{}",
            first.to_lowercase(),
            last.to_lowercase(),
            pick(rng, DOMAINS)
        )
    } else if has("first_name") || name == "firstname" || name == "given_name" {
        first.to_owned()
    } else if has("last_name") || name == "lastname" || name == "surname" || name == "family_name" {
        last.to_owned()
    } else if has("username") || name == "handle" || name == "login" {
        format!("{}_{}", first.to_lowercase(), last.to_lowercase())
    } else if has("phone") || has("mobile") {
        format!(
            "+1-555-{:03}-{:04}",
            rng.random_range(100..1000),
            rng.random_range(0..10_000)
        )
    } else if has("avatar") || has("image") || has("photo") {
        format!("https://images.example.com/{}.png", pick(rng, WORDS))
    } else if has("url") || has("website") || has("link") {
        format!(
            "https://{}.example.com/{}",
            pick(rng, WORDS),
            pick(rng, WORDS)
        )
    } else if has("country_code") || name == "iso2" {
        COUNTRIES.choose(rng).map_or("US", |c| c.1).to_owned()
    } else if has("country") {
        COUNTRIES
            .choose(rng)
            .map_or("United States", |c| c.0)
            .to_owned()
    } else if has("city") || has("town") {
        pick(rng, CITIES).to_owned()
    } else if has("address") || has("street") {
        format!("{} {}", rng.random_range(1..999), pick(rng, STREETS))
    } else if has("zip") || has("postal") || has("postcode") {
        format!("{:05}", rng.random_range(10_000..99_999))
    } else if has("company") || has("organization") || has("org_name") {
        format!(
            "{} {}",
            capitalised(pick(rng, WORDS)),
            pick(rng, &["Labs", "Inc", "GmbH", "Studio", "Co"])
        )
    } else if has("slug") {
        format!("{}-{}", pick(rng, WORDS), pick(rng, WORDS))
    } else if has("title") || has("subject") || has("headline") {
        capitalised(&words(rng, 4))
    } else if has("description")
        || has("bio")
        || has("body")
        || has("content")
        || has("notes")
        || has("comment")
        || has("summary")
        || has("message")
    {
        format!("{}.", capitalised(&words(rng, 12)))
    } else if has("currency") {
        pick(rng, CURRENCIES).to_owned()
    } else if has("color") || has("colour") {
        pick(rng, COLORS).to_owned()
    } else if has("status") || has("state") {
        pick(rng, STATUSES).to_owned()
    } else if has("ip") && name.len() <= 10 {
        format!("192.0.2.{}", rng.random_range(1..255))
    } else if has("name") {
        format!("{first} {last}")
    } else if has("tag") || has("category") || has("label") || has("kind") || has("type") {
        pick(rng, WORDS).to_owned()
    } else if has("code") || has("sku") {
        format!(
            "{}-{:04}",
            pick(rng, WORDS).to_uppercase(),
            rng.random_range(0..10_000)
        )
    } else {
        words(rng, 3)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn col(name: &str, ty: Ty) -> Column {
        Column {
            name: name.into(),
            num: 1,
            sql_type: "text".into(),
            ty,
            not_null: true,
            defaulted: false,
        }
    }

    #[test]
    fn values_fit_types_and_names() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for i in 0..200 {
            let v = value(
                &mut rng,
                &col("email", Ty::Text { max_len: Some(30) }),
                None,
                i,
                true,
            )
            .unwrap();
            assert!(v.contains('@') && v.chars().count() <= 30, "{v}");
            let v = value(
                &mut rng,
                &col("code", Ty::Text { max_len: Some(5) }),
                None,
                i,
                true,
            )
            .unwrap();
            assert!(v.chars().count() <= 5, "{v}");
            let v = value(
                &mut rng,
                &col(
                    "n",
                    Ty::Int {
                        min: -32768,
                        max: 32767,
                    },
                ),
                None,
                i,
                false,
            )
            .unwrap();
            assert!(v.parse::<i64>().unwrap() <= 32767);
            let v = value(
                &mut rng,
                &col(
                    "price",
                    Ty::Numeric {
                        precision: Some(5),
                        scale: 2,
                    },
                ),
                None,
                i,
                false,
            )
            .unwrap();
            assert!(v.parse::<f64>().unwrap() <= 999.99, "{v}");
            let r = Rule {
                min: Some(1.0),
                max: Some(5.0),
                ..Rule::default()
            };
            let v = value(
                &mut rng,
                &col(
                    "stars",
                    Ty::Int {
                        min: i32::MIN as i64,
                        max: i32::MAX as i64,
                    },
                ),
                Some(&r),
                i,
                false,
            )
            .unwrap();
            assert!((1..=5).contains(&v.parse::<i64>().unwrap()));
        }
    }

    #[test]
    fn same_seed_same_values() {
        let make = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            (0..20)
                .map(|i| {
                    value(
                        &mut rng,
                        &col("full_name", Ty::Text { max_len: None }),
                        None,
                        i,
                        false,
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(make(1), make(1));
        assert_ne!(make(1), make(2));
    }
}
