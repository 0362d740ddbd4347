//! Feature groups: the named sets of tools users switch on and off with
//! `--features`, and the default set.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A feature group. The names are the ones users type (`--features a,b`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Group {
    /// Introspection, SQL and monitoring. Always on.
    Database,
    Migrations,
    Backups,
    Development,
    Auth,
    Storage,
    Functions,
    Realtime,
    /// Logs, advisors, monitoring.
    Debugging,
    Docs,
    /// Organizations and projects (cloud).
    Account,
    Branching,
    /// Self-hosted configuration: env, JWT keys, secrets.
    Selfhosted,
    Dokploy,
    /// Management API areas beyond the official server (cloud).
    Management,
}

impl Group {
    pub const ALL: [Group; 15] = [
        Group::Database,
        Group::Migrations,
        Group::Backups,
        Group::Development,
        Group::Auth,
        Group::Storage,
        Group::Functions,
        Group::Realtime,
        Group::Debugging,
        Group::Docs,
        Group::Account,
        Group::Branching,
        Group::Selfhosted,
        Group::Dokploy,
        Group::Management,
    ];

    /// Groups enabled when `--features` is not given.
    pub const DEFAULT: [Group; 6] = [
        Group::Database,
        Group::Development,
        Group::Debugging,
        Group::Docs,
        Group::Account,
        Group::Functions,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Group::Database => "database",
            Group::Migrations => "migrations",
            Group::Backups => "backups",
            Group::Development => "development",
            Group::Auth => "auth",
            Group::Storage => "storage",
            Group::Functions => "functions",
            Group::Realtime => "realtime",
            Group::Debugging => "debugging",
            Group::Docs => "docs",
            Group::Account => "account",
            Group::Branching => "branching",
            Group::Selfhosted => "selfhosted",
            Group::Dokploy => "dokploy",
            Group::Management => "management",
        }
    }

    pub fn valid_names() -> String {
        let mut names: Vec<&str> = Group::ALL.iter().map(|g| g.name()).collect();
        names.push("all");
        names.join(", ")
    }
}

impl fmt::Display for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GroupError {
    #[error("unknown feature group `{0}`; valid groups are: {valid}", valid = Group::valid_names())]
    Unknown(String),
}

impl FromStr for Group {
    type Err = GroupError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase();
        Group::ALL
            .iter()
            .copied()
            .find(|g| g.name() == s)
            .ok_or(GroupError::Unknown(s))
    }
}

/// Parses a list of group names (`all` expands to every group). `database`
/// is always included.
pub fn parse_groups<S: AsRef<str>>(names: &[S]) -> Result<Vec<Group>, GroupError> {
    let mut out = vec![Group::Database];
    for name in names {
        let name = name.as_ref().trim();
        if name.is_empty() {
            continue;
        }
        if name.eq_ignore_ascii_case("all") {
            out.extend(Group::ALL);
            continue;
        }
        out.push(name.parse()?);
    }
    out.sort();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_all() {
        assert_eq!(
            parse_groups(&["storage"]).unwrap(),
            vec![Group::Database, Group::Storage]
        );
        assert_eq!(parse_groups(&["all"]).unwrap().len(), Group::ALL.len());
        assert_eq!(
            parse_groups(&[" Auth ", ""]).unwrap(),
            vec![Group::Database, Group::Auth]
        );
    }

    #[test]
    fn unknown_name_lists_valid_ones() {
        let err = parse_groups(&["databse"]).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("`databse`"));
        assert!(msg.contains("dokploy") && msg.contains("all"));
    }
}
