//! The retention policy for backups: its configuration (serde, a compact
//! `key=value` form, validation) and [`plan`], a pure function deciding
//! which manifest entries to keep and which to delete, with the reasons.
//! Deleting is left to the caller.
//!
//! Semantics (grandfather-father-son, as restic's `forget` does it):
//! - backups are grouped by (instance, database); every rule applies within
//!   one group, so one database's backups never evict another's;
//! - `keep_last = N` keeps the N newest backups;
//! - `daily`/`weekly`/`monthly = N` keep the newest backup of each of the N
//!   most recent calendar days / ISO weeks / months *that have backups*
//!   (days without backups do not use up the count). Buckets are UTC, since
//!   `created_at` is UTC;
//! - `max_age` keeps every backup at most that old at `now` (a backup exactly
//!   `max_age` old is kept); older ones are deleted *unless another rule keeps
//!   them*;
//! - the rules are independent and a backup is kept when **any** rule keeps
//!   it (the union; unlike borg, a backup kept by one rule still counts
//!   towards the others). Nothing makes a rule delete what another keeps, so
//!   adding a rule can only keep more;
//! - safety: the newest backup of every group is always kept (reason
//!   `newest`), so a `max_age`-only policy never deletes the last backup of a
//!   database whose backups stopped running;
//! - a policy that keeps nothing (no rule, or every count 0) is an error
//!   unless `allow_keep_nothing = true`; such a policy deletes every backup,
//!   the newest included;
//! - ties: within a bucket the backup with the latest `created_at` wins, then
//!   the greatest id.
//!
//! The caller chooses which entries to pass: to keep full and schema-only
//! backups apart, plan them separately.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::manifest::Entry;

/// The longest `max_age` accepted, in hours (100 years).
const MAX_AGE_LIMIT_HOURS: u64 = 100 * 366 * 24;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RetentionError {
    #[error(
        "max_age `{value}` is not valid: {reason}; write a positive whole number and a unit: \
         h (hours), d (days) or w (weeks), e.g. `30d`"
    )]
    InvalidMaxAge { value: String, reason: String },
    #[error(
        "the retention policy keeps nothing, so every backup would be deleted: set keep_last, \
         daily, weekly, monthly or max_age, or set allow_keep_nothing = true to delete all \
         backups on purpose"
    )]
    KeepsNothing,
    #[error("retention policy `{input}` is not valid: {reason}")]
    InvalidPolicy { input: String, reason: String },
    #[error("backup id `{0}` appears more than once in the entries to plan")]
    DuplicateId(String),
}

/// The unit of a [`MaxAge`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgeUnit {
    Hours,
    Days,
    Weeks,
}

impl AgeUnit {
    fn hours(self) -> u64 {
        match self {
            AgeUnit::Hours => 1,
            AgeUnit::Days => 24,
            AgeUnit::Weeks => 7 * 24,
        }
    }

    fn suffix(self) -> char {
        match self {
            AgeUnit::Hours => 'h',
            AgeUnit::Days => 'd',
            AgeUnit::Weeks => 'w',
        }
    }
}

/// A maximum age such as `12h`, `30d` or `8w`; serialized as that string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxAge {
    amount: u32,
    unit: AgeUnit,
}

impl MaxAge {
    pub fn new(amount: u32, unit: AgeUnit) -> Result<Self, RetentionError> {
        let age = MaxAge { amount, unit };
        let invalid = |reason: &str| RetentionError::InvalidMaxAge {
            value: age.to_string(),
            reason: reason.into(),
        };
        if amount == 0 {
            return Err(invalid("it must be greater than zero"));
        }
        if u64::from(amount) * unit.hours() > MAX_AGE_LIMIT_HOURS {
            return Err(invalid("it must be at most 100 years"));
        }
        Ok(age)
    }

    pub fn amount(&self) -> u32 {
        self.amount
    }

    pub fn unit(&self) -> AgeUnit {
        self.unit
    }

    /// The age as a duration.
    pub fn duration(&self) -> TimeDelta {
        // Bounded by MAX_AGE_LIMIT_HOURS in `new`, so this cannot overflow.
        TimeDelta::hours(i64::from(self.amount) * self.unit.hours() as i64)
    }
}

impl fmt::Display for MaxAge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.amount, self.unit.suffix())
    }
}

impl FromStr for MaxAge {
    type Err = RetentionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: &str| RetentionError::InvalidMaxAge {
            value: s.to_string(),
            reason: reason.into(),
        };
        let t = s.trim();
        let Some(last) = t.chars().last() else {
            return Err(invalid("it is empty"));
        };
        let unit = match last {
            'h' | 'H' => AgeUnit::Hours,
            'd' | 'D' => AgeUnit::Days,
            'w' | 'W' => AgeUnit::Weeks,
            'm' | 'M' | 'y' | 'Y' => {
                return Err(invalid(
                    "months and years vary in length; use monthly = N for months, \
                     or days or weeks",
                ));
            }
            c if c.is_ascii_digit() => return Err(invalid("the unit is missing")),
            _ => return Err(invalid("the unit is unknown")),
        };
        let digits = &t[..t.len() - last.len_utf8()];
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid("the number must be a whole number of digits"));
        }
        let amount: u32 = digits
            .parse()
            .map_err(|_| invalid("the number is too large"))?;
        MaxAge::new(amount, unit).map_err(|_| {
            if amount == 0 {
                invalid("it must be greater than zero")
            } else {
                invalid("it must be at most 100 years")
            }
        })
    }
}

impl Serialize for MaxAge {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for MaxAge {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// How many backups to keep. See the module documentation for the rules.
/// Unknown fields are refused: a misspelt rule must not silently keep less.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Keep the N newest backups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_last: Option<u32>,
    /// Keep the newest backup of each of the last N days that have backups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily: Option<u32>,
    /// Keep the newest backup of each of the last N ISO weeks that have backups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weekly: Option<u32>,
    /// Keep the newest backup of each of the last N months that have backups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly: Option<u32>,
    /// Keep every backup at most this old (`12h`, `30d`, `8w`); older ones
    /// go unless another rule keeps them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub max_age: Option<MaxAge>,
    /// Accept a policy that keeps nothing (it deletes every backup).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_keep_nothing: bool,
}

impl Policy {
    /// Whether no rule keeps anything.
    pub fn keeps_nothing(&self) -> bool {
        [self.keep_last, self.daily, self.weekly, self.monthly]
            .iter()
            .all(|n| n.unwrap_or(0) == 0)
            && self.max_age.is_none()
    }

    /// Refuses a policy that keeps nothing unless `allow_keep_nothing`.
    pub fn validate(&self) -> Result<(), RetentionError> {
        if self.keeps_nothing() && !self.allow_keep_nothing {
            return Err(RetentionError::KeepsNothing);
        }
        Ok(())
    }

    /// The count rules in effect, e.g. `keep_last=7, daily=7`.
    fn count_rules(&self) -> String {
        [
            ("keep_last", self.keep_last),
            ("daily", self.daily),
            ("weekly", self.weekly),
            ("monthly", self.monthly),
        ]
        .iter()
        .filter_map(|(k, n)| n.filter(|n| *n > 0).map(|n| format!("{k}={n}")))
        .collect::<Vec<_>>()
        .join(", ")
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        for (k, n) in [
            ("keep_last", self.keep_last),
            ("daily", self.daily),
            ("weekly", self.weekly),
            ("monthly", self.monthly),
        ] {
            if let Some(n) = n {
                parts.push(format!("{k}={n}"));
            }
        }
        if let Some(a) = self.max_age {
            parts.push(format!("max_age={a}"));
        }
        if self.allow_keep_nothing {
            parts.push("allow_keep_nothing".into());
        }
        f.write_str(&parts.join(","))
    }
}

/// Parses `keep_last=7,daily=7,weekly=4,monthly=12,max_age=90d` (commas or
/// spaces between items; `allow_keep_nothing` alone or `=true`) and
/// validates the result.
impl FromStr for Policy {
    type Err = RetentionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: String| RetentionError::InvalidPolicy {
            input: s.to_string(),
            reason,
        };
        let mut policy = Policy::default();
        let mut seen = HashSet::new();
        for item in s.split([',', ' ']).filter(|i| !i.trim().is_empty()) {
            let (key, value) = match item.split_once('=') {
                Some((k, v)) => (k.trim(), Some(v.trim())),
                None => (item.trim(), None),
            };
            if !seen.insert(key.to_string()) {
                return Err(invalid(format!("`{key}` is given twice")));
            }
            let count = |v: Option<&str>| -> Result<Option<u32>, RetentionError> {
                let v = v.ok_or_else(|| invalid(format!("`{key}` needs a value, e.g. {key}=7")))?;
                v.parse::<u32>()
                    .map(Some)
                    .map_err(|_| invalid(format!("`{key}={v}`: the value must be a whole number")))
            };
            match key {
                "keep_last" => policy.keep_last = count(value)?,
                "daily" => policy.daily = count(value)?,
                "weekly" => policy.weekly = count(value)?,
                "monthly" => policy.monthly = count(value)?,
                "max_age" => {
                    let v = value.ok_or_else(|| {
                        invalid("`max_age` needs a value, e.g. max_age=30d".into())
                    })?;
                    policy.max_age = Some(v.parse()?);
                }
                "allow_keep_nothing" => {
                    policy.allow_keep_nothing = match value {
                        None | Some("true") => true,
                        Some("false") => false,
                        Some(v) => {
                            return Err(invalid(format!(
                                "`allow_keep_nothing={v}`: use true or false"
                            )));
                        }
                    }
                }
                other => {
                    return Err(invalid(format!(
                        "unknown rule `{other}`; rules are keep_last, daily, weekly, monthly, \
                         max_age and allow_keep_nothing"
                    )));
                }
            }
        }
        policy.validate()?;
        Ok(policy)
    }
}

/// Why a backup is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Reason {
    /// Among the `keep_last` newest; `rank` 1 is the newest.
    Last { rank: u32 },
    /// The newest backup of this UTC day.
    Daily { day: NaiveDate },
    /// The newest backup of this ISO week.
    Weekly { year: i32, week: u32 },
    /// The newest backup of this month.
    Monthly { year: i32, month: u32 },
    /// Not older than `max_age`.
    WithinMaxAge { max_age: MaxAge },
    /// The newest backup of its group, which is always kept.
    Newest,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Last { rank } => write!(f, "keep_last (#{rank} newest)"),
            Reason::Daily { day } => write!(f, "daily {day}"),
            Reason::Weekly { year, week } => write!(f, "weekly {year}-W{week:02}"),
            Reason::Monthly { year, month } => write!(f, "monthly {year}-{month:02}"),
            Reason::WithinMaxAge { max_age } => write!(f, "within max_age {max_age}"),
            Reason::Newest => f.write_str("newest backup of this database"),
        }
    }
}

/// A backup the plan keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Keep {
    pub id: String,
    pub instance: String,
    pub database: String,
    pub created_at: DateTime<Utc>,
    /// Every rule that keeps it, never empty.
    pub reasons: Vec<Reason>,
}

/// A backup the plan deletes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delete {
    pub id: String,
    pub instance: String,
    pub database: String,
    pub created_at: DateTime<Utc>,
    pub why: String,
}

/// The outcome of [`plan`]: every entry given is in exactly one list. Both
/// lists are ordered by (instance, database), then newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RetentionPlan {
    pub keep: Vec<Keep>,
    pub delete: Vec<Delete>,
}

/// Decides which `entries` to keep under `policy` at time `now`. Pure: no
/// I/O, no clock. Fails on an invalid policy or duplicate ids.
pub fn plan<'a>(
    entries: impl IntoIterator<Item = &'a Entry>,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<RetentionPlan, RetentionError> {
    policy.validate()?;
    let mut groups: BTreeMap<(&str, &str), Vec<&Entry>> = BTreeMap::new();
    let mut ids = HashSet::new();
    for e in entries {
        if !ids.insert(e.id.as_str()) {
            return Err(RetentionError::DuplicateId(e.id.clone()));
        }
        groups
            .entry((e.instance.as_str(), e.database.as_str()))
            .or_default()
            .push(e);
    }
    let mut out = RetentionPlan::default();
    for mut group in groups.into_values() {
        // Newest first; ties by the greatest id.
        group.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
        let reasons = group_reasons(&group, policy, now);
        for (e, reasons) in group.into_iter().zip(reasons) {
            if reasons.is_empty() {
                out.delete.push(Delete {
                    id: e.id.clone(),
                    instance: e.instance.clone(),
                    database: e.database.clone(),
                    created_at: e.created_at,
                    why: why_deleted(e, policy, now),
                });
            } else {
                out.keep.push(Keep {
                    id: e.id.clone(),
                    instance: e.instance.clone(),
                    database: e.database.clone(),
                    created_at: e.created_at,
                    reasons,
                });
            }
        }
    }
    Ok(out)
}

/// The reasons to keep each entry of one group sorted newest first.
fn group_reasons(group: &[&Entry], policy: &Policy, now: DateTime<Utc>) -> Vec<Vec<Reason>> {
    let mut reasons: Vec<Vec<Reason>> = vec![Vec::new(); group.len()];
    let keep_last = policy.keep_last.unwrap_or(0) as usize;
    for (rank, r) in reasons.iter_mut().enumerate().take(keep_last) {
        r.push(Reason::Last {
            rank: u32::try_from(rank + 1).unwrap_or(u32::MAX),
        });
    }
    keep_newest_per_bucket(group, &mut reasons, policy.daily, |d| Reason::Daily {
        day: d.date_naive(),
    });
    keep_newest_per_bucket(group, &mut reasons, policy.weekly, |d| {
        let w = d.iso_week();
        Reason::Weekly {
            year: w.year(),
            week: w.week(),
        }
    });
    keep_newest_per_bucket(group, &mut reasons, policy.monthly, |d| Reason::Monthly {
        year: d.year(),
        month: d.month(),
    });
    if let Some(max_age) = policy.max_age {
        for (e, r) in group.iter().zip(reasons.iter_mut()) {
            if now.signed_duration_since(e.created_at) <= max_age.duration() {
                r.push(Reason::WithinMaxAge { max_age });
            }
        }
    }
    if !policy.keeps_nothing()
        && let Some(newest) = reasons.first_mut()
        && newest.is_empty()
    {
        newest.push(Reason::Newest);
    }
    reasons
}

/// Keeps the first (newest) entry of each of the first `count` distinct
/// buckets; `bucket` returns the reason, which also identifies the bucket.
fn keep_newest_per_bucket(
    group: &[&Entry],
    reasons: &mut [Vec<Reason>],
    count: Option<u32>,
    bucket: impl Fn(DateTime<Utc>) -> Reason,
) {
    let mut left = count.unwrap_or(0);
    let mut last: Option<Reason> = None;
    for (e, r) in group.iter().zip(reasons.iter_mut()) {
        if left == 0 {
            break;
        }
        let b = bucket(e.created_at);
        if last.as_ref() != Some(&b) {
            r.push(b.clone());
            last = Some(b);
            left -= 1;
        }
    }
}

fn why_deleted(e: &Entry, policy: &Policy, now: DateTime<Utc>) -> String {
    if policy.keeps_nothing() {
        return "the policy keeps nothing (allow_keep_nothing)".into();
    }
    let rules = policy.count_rules();
    match policy.max_age {
        Some(max_age) => {
            let age = now.signed_duration_since(e.created_at);
            let age = if age.num_days() >= 1 {
                format!("{}d", age.num_days())
            } else {
                format!("{}h", age.num_hours())
            };
            if rules.is_empty() {
                format!("older than max_age {max_age} (age {age})")
            } else {
                format!("older than max_age {max_age} (age {age}) and not selected by {rules}")
            }
        }
        None => format!("not selected by {rules}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::manifest::{DumpFormat, Encryption, Kind};
    use chrono::{TimeZone, Weekday};

    fn entry(id: &str, instance: &str, database: &str, created_at: DateTime<Utc>) -> Entry {
        Entry {
            id: id.to_string(),
            instance: instance.into(),
            database: database.into(),
            created_at,
            kind: Kind::Full,
            format: DumpFormat::Custom,
            server_version: "17.4".into(),
            pg_dump_version: "17.4".into(),
            extensions: vec![],
            raw_bytes: 10,
            stored_bytes: 5,
            sha256: "00".repeat(32),
            file: format!("{id}.dump"),
            row_counts: Default::default(),
            compression: "none".into(),
            encryption: Encryption::None,
            tags: vec![],
            includes_roles: false,
            extra: Default::default(),
        }
    }

    /// 03:00 UTC on 2025-01-01 plus `days`.
    fn day(days: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, 1, 3, 0, 0).unwrap() + TimeDelta::days(days)
    }

    /// One backup a day at 03:00 UTC, 2025-01-01 to 2026-02-04 (a Wednesday).
    fn history(instance: &str, database: &str, count: i64) -> Vec<Entry> {
        (0..count)
            .map(|i| {
                entry(
                    &format!("{instance}-{database}-{i:04}"),
                    instance,
                    database,
                    day(i),
                )
            })
            .collect()
    }

    fn last(h: &[Entry]) -> DateTime<Utc> {
        h.iter().map(|e| e.created_at).max().unwrap()
    }

    fn run(entries: &[Entry], policy: &str, now: DateTime<Utc>) -> RetentionPlan {
        let policy: Policy = policy.parse().unwrap();
        let p = plan(entries, &policy, now).unwrap();
        // Every entry is in exactly one list; every kept one has a reason.
        let mut all: Vec<&str> = p
            .keep
            .iter()
            .map(|k| k.id.as_str())
            .chain(p.delete.iter().map(|d| d.id.as_str()))
            .collect();
        all.sort();
        let mut given: Vec<&str> = entries.iter().map(|e| e.id.as_str()).collect();
        given.sort();
        assert_eq!(all, given);
        assert!(p.keep.iter().all(|k| !k.reasons.is_empty()));
        p
    }

    fn kept_dates(p: &RetentionPlan) -> Vec<NaiveDate> {
        p.keep.iter().map(|k| k.created_at.date_naive()).collect()
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn synthetic_history_is_what_the_tests_assume() {
        let h = history("prod", "postgres", 400);
        assert_eq!(last(&h).date_naive(), date(2026, 2, 4));
        assert_eq!(last(&h).weekday(), Weekday::Wed);
    }

    #[test]
    fn keep_last_keeps_the_n_newest() {
        let h = history("prod", "postgres", 400);
        let p = run(&h, "keep_last=10", last(&h));
        assert_eq!(p.keep.len(), 10);
        assert_eq!(p.delete.len(), 390);
        assert_eq!(p.keep[0].id, "prod-postgres-0399");
        assert_eq!(p.keep[9].id, "prod-postgres-0390");
        assert_eq!(p.keep[0].reasons, vec![Reason::Last { rank: 1 }]);
        assert_eq!(p.delete[0].why, "not selected by keep_last=10");
    }

    #[test]
    fn daily_weekly_monthly_counts() {
        let h = history("prod", "postgres", 400);
        let now = last(&h);
        assert_eq!(run(&h, "daily=7", now).keep.len(), 7);

        let weekly = run(&h, "weekly=4", now);
        assert_eq!(
            kept_dates(&weekly),
            vec![
                date(2026, 2, 4),
                date(2026, 2, 1),
                date(2026, 1, 25),
                date(2026, 1, 18)
            ]
        );

        let monthly = run(&h, "monthly=12", now);
        assert_eq!(
            kept_dates(&monthly),
            vec![
                date(2026, 2, 4),
                date(2026, 1, 31),
                date(2025, 12, 31),
                date(2025, 11, 30),
                date(2025, 10, 31),
                date(2025, 9, 30),
                date(2025, 8, 31),
                date(2025, 7, 31),
                date(2025, 6, 30),
                date(2025, 5, 31),
                date(2025, 4, 30),
                date(2025, 3, 31),
            ]
        );
        assert_eq!(
            monthly.keep[1].reasons,
            vec![Reason::Monthly {
                year: 2026,
                month: 1
            }]
        );
    }

    #[test]
    fn counts_larger_than_history_keep_one_per_bucket_that_has_backups() {
        let h = history("prod", "postgres", 400);
        let now = last(&h);
        // Jan 2025 to Feb 2026.
        assert_eq!(run(&h, "monthly=24", now).keep.len(), 14);
        // ISO weeks: 2025-W01..W52, then 2026-W01 (which starts Mon
        // 2025-12-29) to 2026-W06.
        let weekly = run(&h, "weekly=100", now);
        assert_eq!(weekly.keep.len(), 58);
        // The newest of each week is its Sunday, except the current week.
        let not_sunday: Vec<NaiveDate> = kept_dates(&weekly)
            .into_iter()
            .filter(|d| d.weekday() != Weekday::Sun)
            .collect();
        assert_eq!(not_sunday, vec![date(2026, 2, 4)]);
        assert!(kept_dates(&weekly).contains(&date(2026, 1, 4)));
        assert!(!kept_dates(&weekly).contains(&date(2025, 12, 31)));
        assert_eq!(run(&h, "daily=1000", now).keep.len(), 400);
    }

    #[test]
    fn combined_rules_keep_the_union() {
        let h = history("prod", "postgres", 400);
        let p = run(&h, "daily=7,weekly=4,monthly=12", last(&h));
        // 7 days (Jan 29..Feb 4) + weeks ending Jan 25 and Jan 18 + 10 months
        // before January 2026 (Jan 31 is already a daily).
        assert_eq!(p.keep.len(), 19);
        assert_eq!(p.delete.len(), 381);
        let newest = &p.keep[0];
        assert_eq!(
            newest.reasons,
            vec![
                Reason::Daily {
                    day: date(2026, 2, 4)
                },
                Reason::Weekly {
                    year: 2026,
                    week: 6
                },
                Reason::Monthly {
                    year: 2026,
                    month: 2
                },
            ]
        );
    }

    #[test]
    fn daily_days_without_backups_do_not_count() {
        // Every third day only: days 0, 3, ..., 399.
        let h: Vec<Entry> = (0..400)
            .step_by(3)
            .map(|i| entry(&format!("e{i:04}"), "prod", "postgres", day(i)))
            .collect();
        let p = run(&h, "daily=5", last(&h));
        assert_eq!(p.keep.len(), 5);
        let dates = kept_dates(&p);
        assert_eq!(dates.first().map(|d| (*d - dates[4]).num_days()), Some(12));
    }

    #[test]
    fn several_backups_a_day_newest_wins_and_rules_are_independent() {
        let mut h = Vec::new();
        for d in 0..10 {
            for (i, hour) in [1, 13, 23].into_iter().enumerate() {
                let t = day(d) - TimeDelta::hours(3) + TimeDelta::hours(hour);
                h.push(entry(&format!("d{d:02}-{i}"), "prod", "postgres", t));
            }
        }
        let now = last(&h);
        let daily = run(&h, "daily=7", now);
        assert_eq!(daily.keep.len(), 7);
        assert!(daily.keep.iter().all(|k| k.id.ends_with("-2")), "{daily:?}");

        let last7 = run(&h, "keep_last=7", now);
        let ids: Vec<&str> = last7.keep.iter().map(|k| k.id.as_str()).collect();
        assert_eq!(
            ids,
            vec![
                "d09-2", "d09-1", "d09-0", "d08-2", "d08-1", "d08-0", "d07-2"
            ]
        );
        // Union: the 7 newest, plus the newest of days 6..3.
        assert_eq!(run(&h, "keep_last=7,daily=7", now).keep.len(), 11);
    }

    #[test]
    fn same_timestamp_ties_go_to_the_greatest_id() {
        let t = day(0);
        let h = vec![
            entry("20250101T030000Z-aaaaaa", "prod", "postgres", t),
            entry("20250101T030000Z-ffffff", "prod", "postgres", t),
            entry("20250101T030000Z-cccccc", "prod", "postgres", t),
        ];
        let p = run(&h, "daily=1", t);
        assert_eq!(p.keep.len(), 1);
        assert_eq!(p.keep[0].id, "20250101T030000Z-ffffff");
        // The input order does not matter.
        let mut rev = h.clone();
        rev.reverse();
        assert_eq!(run(&rev, "daily=1", t), p);
    }

    #[test]
    fn max_age_keeps_what_is_young_enough() {
        let h = history("prod", "postgres", 400);
        let now = last(&h) + TimeDelta::hours(1);
        let p = run(&h, "max_age=30d", now);
        assert_eq!(p.keep.len(), 30);
        assert_eq!(p.delete.len(), 370);
        assert!(
            p.delete[0]
                .why
                .starts_with("older than max_age 30d (age 30d)"),
            "{}",
            p.delete[0].why
        );
        // Exactly max_age old is still kept.
        assert_eq!(run(&h, "max_age=30d", last(&h)).keep.len(), 31);
        assert_eq!(run(&h, "max_age=2w", last(&h)).keep.len(), 15);
        assert_eq!(run(&h, "max_age=36h", last(&h)).keep.len(), 2);
    }

    #[test]
    fn max_age_does_not_delete_what_another_rule_keeps() {
        let h = history("prod", "postgres", 400);
        let now = last(&h) + TimeDelta::hours(1);
        let p = run(&h, "max_age=30d,monthly=12", now);
        // 30 young ones (Jan 6..Feb 4, holding both 2026 monthlies) + 10 months.
        assert_eq!(p.keep.len(), 40);
        let oldest = p.keep.last().unwrap();
        assert_eq!(oldest.created_at.date_naive(), date(2025, 3, 31));
        assert!(
            p.delete[0].why.contains("not selected by monthly=12"),
            "{}",
            p.delete[0].why
        );
    }

    #[test]
    fn newest_backup_of_a_group_survives_max_age() {
        let mut h = history("prod", "postgres", 400);
        // A database whose backups stopped a year ago.
        h.extend((0..3).map(|i| entry(&format!("old-{i}"), "prod", "legacy", day(i))));
        let now = last(&h) + TimeDelta::hours(1);
        let p = run(&h, "max_age=30d", now);
        let legacy: Vec<&Keep> = p.keep.iter().filter(|k| k.database == "legacy").collect();
        assert_eq!(legacy.len(), 1);
        assert_eq!(legacy[0].id, "old-2");
        assert_eq!(legacy[0].reasons, vec![Reason::Newest]);
        assert_eq!(
            p.keep.iter().filter(|k| k.database == "postgres").count(),
            30
        );
    }

    #[test]
    fn groups_are_planned_separately() {
        let mut h = history("prod", "postgres", 400);
        // Newer backups of other databases on the same days must not evict
        // prod/postgres's daily backups.
        for (inst, db) in [("prod", "app"), ("staging", "postgres")] {
            for d in 395..400 {
                h.push(entry(
                    &format!("{inst}-{db}-{d}"),
                    inst,
                    db,
                    day(d) + TimeDelta::hours(5),
                ));
            }
        }
        let p = run(&h, "daily=3", last(&h));
        let count = |inst: &str, db: &str| {
            p.keep
                .iter()
                .filter(|k| k.instance == inst && k.database == db)
                .count()
        };
        assert_eq!(count("prod", "postgres"), 3);
        assert_eq!(count("prod", "app"), 3);
        assert_eq!(count("staging", "postgres"), 3);
        assert_eq!(p.keep.len(), 9);
        // Ordered by group, newest first within a group.
        let groups: Vec<(&str, &str)> = p
            .keep
            .iter()
            .map(|k| (k.instance.as_str(), k.database.as_str()))
            .collect();
        let mut sorted = groups.clone();
        sorted.sort();
        assert_eq!(groups, sorted);
        assert!(p.keep[0].created_at > p.keep[1].created_at);
    }

    #[test]
    fn policy_keeping_nothing_is_refused_unless_allowed() {
        assert_eq!(
            Policy::default().validate(),
            Err(RetentionError::KeepsNothing)
        );
        let zeros = Policy {
            keep_last: Some(0),
            daily: Some(0),
            weekly: Some(0),
            monthly: Some(0),
            ..Policy::default()
        };
        assert_eq!(zeros.validate(), Err(RetentionError::KeepsNothing));
        let h = history("prod", "postgres", 10);
        assert_eq!(
            plan(&h, &zeros, last(&h)),
            Err(RetentionError::KeepsNothing)
        );
        assert_eq!("".parse::<Policy>(), Err(RetentionError::KeepsNothing));
        assert_eq!(
            "daily=0".parse::<Policy>(),
            Err(RetentionError::KeepsNothing)
        );

        let allowed = Policy {
            allow_keep_nothing: true,
            ..zeros
        };
        let p = plan(&h, &allowed, last(&h)).unwrap();
        assert!(p.keep.is_empty());
        assert_eq!(p.delete.len(), 10);
        assert_eq!(run(&h, "allow_keep_nothing", last(&h)).delete.len(), 10);
    }

    #[test]
    fn max_age_parsing() {
        let ok = |s: &str| s.parse::<MaxAge>().unwrap();
        assert_eq!(ok("30d").duration(), TimeDelta::days(30));
        assert_eq!(ok("12h").duration(), TimeDelta::hours(12));
        assert_eq!(ok(" 8w ").duration(), TimeDelta::weeks(8));
        assert_eq!(ok("8W").to_string(), "8w");
        assert_eq!(ok("36600d").duration(), TimeDelta::days(36600));
        for bad in [
            "",
            "30",
            "d",
            "0d",
            "-1d",
            "+1d",
            "1.5d",
            "30 d",
            "30m",
            "1y",
            "3x",
            "1e3d",
            "4294967296d",
            "36601d",
        ] {
            assert!(
                matches!(
                    bad.parse::<MaxAge>(),
                    Err(RetentionError::InvalidMaxAge { .. })
                ),
                "{bad:?} should be refused"
            );
        }
        let msg = "30m".parse::<MaxAge>().unwrap_err().to_string();
        assert!(msg.contains("monthly"), "{msg}");
    }

    #[test]
    fn policy_parsing_and_errors() {
        let p: Policy = "keep_last=3, daily=7 weekly=4,monthly=12,max_age=90d"
            .parse()
            .unwrap();
        assert_eq!(
            p,
            Policy {
                keep_last: Some(3),
                daily: Some(7),
                weekly: Some(4),
                monthly: Some(12),
                max_age: Some(MaxAge::new(90, AgeUnit::Days).unwrap()),
                allow_keep_nothing: false,
            }
        );
        assert_eq!(p.to_string().parse::<Policy>().unwrap(), p);
        for bad in [
            "dayly=7",
            "daily",
            "daily=-1",
            "daily=seven",
            "daily=7,daily=8",
            "max_age",
            "allow_keep_nothing=yes",
        ] {
            assert!(
                matches!(
                    bad.parse::<Policy>(),
                    Err(RetentionError::InvalidPolicy { .. })
                ),
                "{bad:?}: {:?}",
                bad.parse::<Policy>()
            );
        }
        assert!(matches!(
            "max_age=30".parse::<Policy>(),
            Err(RetentionError::InvalidMaxAge { .. })
        ));
    }

    #[test]
    fn policy_serde() {
        let p: Policy = serde_json::from_str(r#"{"daily": 7, "max_age": "8w"}"#).unwrap();
        assert_eq!(p.daily, Some(7));
        assert_eq!(p.max_age, Some(MaxAge::new(8, AgeUnit::Weeks).unwrap()));
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            serde_json::json!({"daily": 7, "max_age": "8w"})
        );
        assert!(serde_json::from_str::<Policy>(r#"{"dayly": 7}"#).is_err());
        assert!(serde_json::from_str::<Policy>(r#"{"max_age": "8 weeks"}"#).is_err());
        let toml_policy: Policy =
            toml::from_str("keep_last = 5\nallow_keep_nothing = false\n").unwrap();
        assert_eq!(toml_policy.keep_last, Some(5));
    }

    #[test]
    fn duplicate_ids_are_refused() {
        let t = day(0);
        let h = vec![
            entry("same", "prod", "postgres", t),
            entry("same", "prod", "app", t),
        ];
        let policy: Policy = "daily=1".parse().unwrap();
        assert_eq!(
            plan(&h, &policy, t),
            Err(RetentionError::DuplicateId("same".into()))
        );
    }

    #[test]
    fn future_backups_count_as_young() {
        let h = history("prod", "postgres", 5);
        // The clock is behind the newest backups.
        let p = run(&h, "max_age=1d", day(2));
        assert_eq!(p.keep.len(), 4);
    }
}
