//! The order names are listed in: the order of JavaScript's
//! `localeCompare` (the Unicode root collation), which the Supabase CLI's
//! generator sorts with. Spaces and punctuation come before digits, digits
//! before letters, letters compare without regard to case first, and then
//! lowercase before uppercase; equal keys fall back to the bytes, so the
//! order is total and the output deterministic.

use std::cmp::Ordering;

/// Punctuation and symbols in the root collation's order.
const PUNCTUATION: &str = " _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$";

/// The primary weight of a character: (class, value).
fn primary(c: char) -> (u8, u32) {
    if let Some(i) = PUNCTUATION.find(c) {
        return (0, i as u32);
    }
    if c.is_ascii_digit() {
        return (2, c as u32);
    }
    if c.is_ascii_alphabetic() {
        return (3, c.to_ascii_lowercase() as u32);
    }
    if c.is_alphabetic() {
        let lower = c.to_lowercase().next().unwrap_or(c);
        return (4, lower as u32);
    }
    if c.is_numeric() {
        return (2, c as u32);
    }
    // Other symbols: after the listed punctuation, before digits.
    (1, c as u32)
}

/// `a` compared with `b` as `a.localeCompare(b)` orders them.
pub fn locale_cmp(a: &str, b: &str) -> Ordering {
    let pa = a.chars().map(primary);
    let pb = b.chars().map(primary);
    match pa.cmp(pb) {
        Ordering::Equal => {}
        other => return other,
    }
    // Same letters: lowercase first, at the first difference in case.
    for (x, y) in a.chars().zip(b.chars()) {
        if x != y {
            match (x.is_lowercase(), y.is_lowercase()) {
                (true, false) => return Ordering::Less,
                (false, true) => return Ordering::Greater,
                _ => {}
            }
        }
    }
    a.cmp(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(mut v: Vec<&str>) -> Vec<&str> {
        v.sort_by(|a, b| locale_cmp(a, b));
        v
    }

    #[test]
    fn orders_like_locale_compare() {
        assert_eq!(
            sorted(vec![
                "users",
                "user_roles",
                "Accounts",
                "accounts",
                "a1",
                "a_b",
                "b"
            ]),
            vec![
                "a_b",
                "a1",
                "accounts",
                "Accounts",
                "b",
                "user_roles",
                "users"
            ]
        );
        assert_eq!(sorted(vec!["ab", "a"]), vec!["a", "ab"]);
        assert_eq!(locale_cmp("same", "same"), Ordering::Equal);
    }
}
