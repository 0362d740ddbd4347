//! Network restrictions of a cloud project: the IPv4 and IPv6 CIDR ranges
//! allowed to connect to its database and pooler. Changes replace the list,
//! or add to and remove from it; every range is checked, and a change that
//! would shut everyone out (an empty allow-list, or one address family
//! left empty) is refused or warned about loudly.
//!
//! Upstream semantics: a project where restrictions were never applied
//! accepts every address (empty lists, status `stored`); once applied, only
//! the listed ranges may connect, so `0.0.0.0/0` and `::/0` mean "no
//! restriction" and an empty list for a family refuses that family.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use reqwest::Method;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::common::{api, api_error, args_of, project_label, project_ref, send_json, typed};
use crate::api::CallOptions;
use crate::api::generated::management::types::{
    NetworkRestrictionsPatchRequest, NetworkRestrictionsPatchRequestAdd,
    NetworkRestrictionsPatchRequestRemove, NetworkRestrictionsResponse,
};
use crate::groups::Group;
use crate::result::{ToolError, ToolOutput};
use crate::server::call::Call;
use crate::tools::{Kind, Scope, ToolDef, tool};

/// Most ranges one call may name.
const MAX_RANGES: usize = 1_000;

pub fn tools() -> Vec<ToolDef> {
    vec![
        tool("get_network_restrictions", Group::Management, Kind::Read)
            .title("Get network restrictions")
            .description("IPv4/IPv6 CIDR ranges allowed to connect to a cloud project's database.")
            .scope(Scope::Project)
            .handler(get_network_restrictions),
        tool(
            "update_network_restrictions",
            Group::Management,
            Kind::Write,
        )
        .title("Update network restrictions")
        .description(
            "Replace, add to or remove from the CIDR ranges allowed to reach the database.",
        )
        .scope(Scope::Project)
        .assess(assess_update)
        .handler(update_network_restrictions),
    ]
}

// ---------------------------------------------------------------------------
// CIDR ranges

/// Why a range is not a CIDR range.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CidrError {
    #[error("`{0}` has no prefix length (write it as address/length, e.g. 203.0.113.7/32)")]
    NoPrefix(String),
    #[error("`{0}` does not start with an IPv4 or IPv6 address")]
    BadAddress(String),
    #[error("`{0}` has a prefix length that is not a number")]
    BadPrefix(String),
    #[error("`{range}` has a prefix length above {max}, the most an {family} address has")]
    PrefixTooLong {
        range: String,
        max: u8,
        family: &'static str,
    },
}

/// One parsed range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Cidr {
    pub fn parse(raw: &str) -> Result<Cidr, CidrError> {
        let s = raw.trim();
        let Some((addr, prefix)) = s.split_once('/') else {
            return Err(CidrError::NoPrefix(s.to_owned()));
        };
        let addr: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| CidrError::BadAddress(s.to_owned()))?;
        let prefix = prefix.trim();
        if prefix.is_empty() || !prefix.chars().all(|c| c.is_ascii_digit()) || prefix.len() > 3 {
            return Err(CidrError::BadPrefix(s.to_owned()));
        }
        let prefix: u8 = prefix
            .parse()
            .map_err(|_| CidrError::BadPrefix(s.to_owned()))?;
        let (max, family) = match addr {
            IpAddr::V4(_) => (32, "IPv4"),
            IpAddr::V6(_) => (128, "IPv6"),
        };
        if prefix > max {
            return Err(CidrError::PrefixTooLong {
                range: s.to_owned(),
                max,
                family,
            });
        }
        Ok(Cidr { addr, prefix })
    }

    pub fn is_v4(&self) -> bool {
        self.addr.is_ipv4()
    }

    /// The range with host bits cleared (`192.168.1.5/24` → `192.168.1.0/24`).
    pub fn network(&self) -> Cidr {
        let addr = match self.addr {
            IpAddr::V4(a) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask))
            }
            IpAddr::V6(a) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask))
            }
        };
        Cidr {
            addr,
            prefix: self.prefix,
        }
    }

    /// Every address of its family.
    pub fn is_everything(&self) -> bool {
        self.prefix == 0
    }

    /// A range no client on the internet comes from (private, loopback,
    /// link-local, unique-local, documentation-only ranges excepted).
    pub fn is_private(&self) -> bool {
        let n = self.network();
        match n.addr {
            IpAddr::V4(a) => {
                n.prefix >= 8 && (a.is_private() || a.is_loopback() || a.is_link_local())
            }
            IpAddr::V6(a) => {
                let seg = a.segments()[0];
                n.prefix >= 7
                    && (a.is_loopback() || (seg & 0xfe00) == 0xfc00 || (seg & 0xffc0) == 0xfe80)
            }
        }
    }
}

/// Parses a list of ranges, naming the argument in errors.
fn parse_list(param: &str, raw: &[String]) -> Result<Vec<Cidr>, ToolError> {
    if raw.len() > MAX_RANGES {
        return Err(ToolError::invalid(format!(
            "`{param}` has {} ranges; at most {MAX_RANGES} are accepted",
            raw.len()
        ))
        .suggestion("Merge neighbouring ranges into wider ones."));
    }
    let mut out: Vec<Cidr> = Vec::new();
    for r in raw {
        let c = Cidr::parse(r).map_err(|e| {
            ToolError::invalid(format!("`{param}`: {e}")).suggestion(
                "Write each range as address/prefix: 203.0.113.7/32 for one IPv4 address, 198.51.100.0/24 for a block, 2001:db8::/32 for IPv6.",
            )
        })?;
        if !out.contains(&c) {
            out.push(c);
        }
    }
    Ok(out)
}

fn strings(list: &[Cidr]) -> Vec<String> {
    list.iter().map(ToString::to_string).collect()
}

// ---------------------------------------------------------------------------
// Checks on a resulting allow-list

/// What an allow-list means, and what in it deserves a warning.
struct Review {
    summary: String,
    warnings: Vec<String>,
    /// Nobody at all can connect.
    lockout: bool,
}

fn review(v4: &[Cidr], v6: &[Cidr]) -> Review {
    let mut warnings = Vec::new();
    for c in v4.iter().chain(v6) {
        if c.network() != *c {
            warnings.push(format!(
                "{c} has host bits set; it covers the range {}",
                c.network()
            ));
        }
        if c.is_private() {
            warnings.push(format!(
                "{c} is a private or local range: clients reach the database from public addresses, so it matches nobody"
            ));
        }
    }
    let all4 = v4.iter().any(Cidr::is_everything);
    let all6 = v6.iter().any(Cidr::is_everything);
    let lockout = v4.is_empty() && v6.is_empty();
    let summary = if lockout {
        "no address may connect".to_owned()
    } else if all4 && all6 {
        "every address may connect (0.0.0.0/0 and ::/0 lift the restriction)".to_owned()
    } else {
        format!(
            "{} IPv4 and {} IPv6 range(s) may connect",
            v4.len(),
            v6.len()
        )
    };
    if lockout {
        warnings.push("the allow-list is empty: EVERY connection to the database and the pooler is refused, yours included, until the list is changed (here or in the dashboard)".to_owned());
    } else if v6.is_empty() {
        warnings.push("no IPv6 range is allowed: direct connections, which resolve to IPv6 unless the project has the IPv4 add-on, are REFUSED; add ::/0 or your IPv6 ranges".to_owned());
    } else if v4.is_empty() {
        warnings.push("no IPv4 range is allowed: every connection over IPv4 (most networks, and the pooler's IPv4 address) is REFUSED; add 0.0.0.0/0 or your IPv4 ranges".to_owned());
    }
    if all4 != all6 && !lockout && !(v4.is_empty() || v6.is_empty()) {
        warnings.push(format!(
            "{} is open to every address while {} is restricted",
            if all4 { "IPv4" } else { "IPv6" },
            if all4 { "IPv6" } else { "IPv4" }
        ));
    }
    Review {
        summary,
        warnings,
        lockout,
    }
}

// ---------------------------------------------------------------------------
// Arguments and the plan of a change

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateArgs {
    /// Project ref (20 lowercase letters).
    #[serde(default)]
    pub project_id: Option<String>,
    /// The complete new allow-list (IPv4 and IPv6 CIDRs); replaces the current one.
    #[serde(default)]
    pub allowed_cidrs: Option<Vec<String>>,
    /// CIDRs to add to the current list.
    #[serde(default)]
    pub add: Option<Vec<String>>,
    /// CIDRs to remove from the current list.
    #[serde(default)]
    pub remove: Option<Vec<String>>,
    /// Confirms an empty allow-list, which refuses every database connection.
    #[serde(default)]
    pub deny_all: bool,
}

enum Change {
    Replace(Vec<Cidr>),
    Edit { add: Vec<Cidr>, remove: Vec<Cidr> },
}

fn plan(a: &UpdateArgs) -> Result<Change, ToolError> {
    match (&a.allowed_cidrs, &a.add, &a.remove) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => Err(ToolError::invalid(
            "`allowed_cidrs` replaces the whole list and cannot be combined with `add` or `remove`",
        )
        .suggestion("Pass either allowed_cidrs (the complete list) or add/remove (changes to the current list).")),
        (Some(list), None, None) => {
            let list = parse_list("allowed_cidrs", list)?;
            if list.is_empty() && !a.deny_all {
                return Err(ToolError::invalid("`allowed_cidrs` is empty, which would refuse every connection to the database")
                    .reason("an applied allow-list admits only the ranges it names; an empty one admits nobody, the project's own clients included")
                    .suggestion("To lift the restriction pass [\"0.0.0.0/0\", \"::/0\"]. To really shut every client out, pass deny_all: true."));
            }
            if !list.is_empty() && a.deny_all {
                return Err(ToolError::invalid("`deny_all` is true but `allowed_cidrs` names ranges")
                    .suggestion("Use deny_all only with an empty allowed_cidrs."));
            }
            Ok(Change::Replace(list))
        }
        (None, add, remove) => {
            let add = parse_list("add", add.as_deref().unwrap_or_default())?;
            let remove = parse_list("remove", remove.as_deref().unwrap_or_default())?;
            if add.is_empty() && remove.is_empty() {
                return Err(ToolError::invalid("nothing to change").suggestion(
                    "Pass allowed_cidrs (the complete new list), or add and/or remove.",
                ));
            }
            if let Some(c) = add.iter().find(|c| remove.contains(c)) {
                return Err(ToolError::invalid(format!("{c} is in both add and remove"))
                    .suggestion("Name each range once."));
            }
            Ok(Change::Edit { add, remove })
        }
    }
}

fn split(list: &[Cidr]) -> (Vec<Cidr>, Vec<Cidr>) {
    list.iter().partition(|c| c.is_v4())
}

fn assess_update(args: &Map<String, Value>) -> Option<String> {
    let a: UpdateArgs = args_of(args)?;
    let change = plan(&a).ok()?;
    let project = project_label(a.project_id.as_deref());
    Some(match change {
        Change::Replace(list) => {
            let (v4, v6) = split(&list);
            let r = review(&v4, &v6);
            let mut text = if r.lockout {
                format!(
                    "REFUSE EVERY DATABASE CONNECTION to {project}: the allow-list becomes empty"
                )
            } else {
                format!(
                    "replace the database allow-list of {project} with {}: {}",
                    strings(&list).join(", "),
                    r.summary
                )
            };
            for w in r.warnings.iter().filter(|_| !r.lockout) {
                text.push_str(&format!(". WARNING: {w}"));
            }
            text
        }
        Change::Edit { add, remove } => {
            let mut parts = Vec::new();
            if !add.is_empty() {
                parts.push(format!("allow {}", strings(&add).join(", ")));
            }
            if !remove.is_empty() {
                parts.push(format!("stop allowing {}", strings(&remove).join(", ")));
            }
            format!(
                "change the database allow-list of {project}: {} (connections from ranges no longer listed are refused)",
                parts.join("; ")
            )
        }
    })
}

// ---------------------------------------------------------------------------
// Handlers

fn parse_known(list: &[String]) -> Vec<Cidr> {
    list.iter().filter_map(|s| Cidr::parse(s).ok()).collect()
}

fn restrictions_json(project: &str, r: &NetworkRestrictionsResponse) -> Value {
    let v4 = &r.config.db_allowed_cidrs;
    let v6 = &r.config.db_allowed_cidrs_v6;
    let applied = r.status.to_string() == "applied";
    let meaning = if !applied && v4.is_empty() && v6.is_empty() {
        "restrictions were never applied: every address may connect".to_owned()
    } else {
        let rv = review(&parse_known(v4), &parse_known(v6));
        if applied {
            rv.summary
        } else {
            format!("{} once applied (the change is still pending)", rv.summary)
        }
    };
    let mut m = Map::new();
    m.insert("project_id".into(), json!(project));
    m.insert("entitlement".into(), json!(r.entitlement.to_string()));
    m.insert("status".into(), json!(r.status.to_string()));
    m.insert("allowed_cidrs_v4".into(), json!(v4));
    m.insert("allowed_cidrs_v6".into(), json!(v6));
    m.insert("meaning".into(), json!(meaning));
    if let Some(old) = &r.old_config {
        m.insert(
            "previous".into(),
            json!({"allowed_cidrs_v4": old.db_allowed_cidrs, "allowed_cidrs_v6": old.db_allowed_cidrs_v6}),
        );
    }
    if let Some(t) = r.updated_at {
        m.insert("updated_at".into(), json!(t.to_rfc3339()));
    }
    if let Some(t) = r.applied_at {
        m.insert("applied_at".into(), json!(t.to_rfc3339()));
    }
    Value::Object(m)
}

async fn fetch(
    api: &crate::api::ManagementApi,
    project: &crate::api::generated::management::types::ProjectRef,
) -> Result<NetworkRestrictionsResponse, ToolError> {
    api.idempotent(|c| c.v1_get_network_restrictions(project))
        .await
        .map_err(api_error)
}

async fn get_network_restrictions(
    call: Call,
    a: super::common::ProjectArgs,
) -> Result<ToolOutput, ToolError> {
    let project = project_ref(&call, a.project_id.as_deref())?;
    let api = api(&call)?;
    let r = fetch(&api, &project).await?;
    let mut out = ToolOutput::untrusted(restrictions_json(project.as_str(), &r));
    if r.entitlement.to_string() == "disallowed" {
        out = out.warn("the project's plan does not include network restrictions");
    }
    Ok(out)
}

async fn update_network_restrictions(call: Call, a: UpdateArgs) -> Result<ToolOutput, ToolError> {
    let project = project_ref(&call, a.project_id.as_deref())?;
    let change = plan(&a)?;
    let api = api(&call)?;
    let (result, changes, rv) = match change {
        Change::Replace(list) => {
            let (v4, v6) = split(&list);
            let rv = review(&v4, &v6);
            // Both lists always go out, empty ones included: the generated
            // body would leave an empty list out rather than send it.
            let body = json!({"dbAllowedCidrs": strings(&v4), "dbAllowedCidrsV6": strings(&v6)});
            let answer = send_json(
                &api,
                Method::POST,
                &[
                    "v1",
                    "projects",
                    project.as_str(),
                    "network-restrictions",
                    "apply",
                ],
                Some(&body),
                CallOptions::once(),
            )
            .await?;
            let r: NetworkRestrictionsResponse = typed(answer)?;
            let changes = vec![format!("allow-list replaced: {}", rv.summary)];
            (restrictions_json(project.as_str(), &r), changes, rv)
        }
        Change::Edit { add, remove } => {
            let current = fetch(&api, &project).await?;
            let never_applied = current.status.to_string() != "applied"
                && current.config.db_allowed_cidrs.is_empty()
                && current.config.db_allowed_cidrs_v6.is_empty();
            let mut list = parse_known(&current.config.db_allowed_cidrs);
            list.extend(parse_known(&current.config.db_allowed_cidrs_v6));
            let mut changes = Vec::new();
            let mut missing = Vec::new();
            for c in &remove {
                if let Some(i) = list.iter().position(|x| x == c) {
                    list.remove(i);
                } else {
                    missing.push(c.to_string());
                }
            }
            for c in &add {
                if !list.contains(c) {
                    list.push(*c);
                }
            }
            let (v4, v6) = split(&list);
            let mut rv = review(&v4, &v6);
            if rv.lockout && !a.deny_all {
                return Err(ToolError::invalid("this change would leave the allow-list empty, refusing every connection to the database")
                    .suggestion("Keep at least one range (0.0.0.0/0 and ::/0 lift the restriction), or pass deny_all: true to really shut every client out."));
            }
            if never_applied && !add.is_empty() {
                rv.warnings.insert(0, "until now every address could connect (no restriction was applied); from now on only the listed ranges can".to_owned());
            }
            if !missing.is_empty() {
                rv.warnings.push(format!(
                    "not in the current list, so not removed: {}",
                    missing.join(", ")
                ));
            }
            let removable: Vec<Cidr> = remove
                .iter()
                .filter(|c| !missing.contains(&c.to_string()))
                .copied()
                .collect();
            let (add4, add6) = split(&add);
            let (rem4, rem6) = split(&removable);
            let body = NetworkRestrictionsPatchRequest {
                add: (!add.is_empty()).then(|| NetworkRestrictionsPatchRequestAdd {
                    db_allowed_cidrs: strings(&add4),
                    db_allowed_cidrs_v6: strings(&add6),
                }),
                remove: (!removable.is_empty()).then(|| NetworkRestrictionsPatchRequestRemove {
                    db_allowed_cidrs: strings(&rem4),
                    db_allowed_cidrs_v6: strings(&rem6),
                }),
            };
            if !add.is_empty() {
                changes.push(format!("allowed {}", strings(&add).join(", ")));
            }
            if !removable.is_empty() {
                changes.push(format!(
                    "no longer allowed {}",
                    strings(&removable).join(", ")
                ));
            }
            if body.add.is_none() && body.remove.is_none() {
                return Err(ToolError::invalid(
                    "nothing to change: none of the ranges to remove is in the current list",
                )
                .suggestion("get_network_restrictions shows the current list."));
            }
            let r = api
                .call_with(CallOptions::once(), |c| {
                    c.v1_patch_network_restrictions(&project, &body)
                })
                .await
                .map_err(api_error)?;
            let v4: Vec<String> = r
                .config
                .db_allowed_cidrs
                .iter()
                .filter(|c| c.type_.to_string() == "v4")
                .map(|c| c.address.clone())
                .collect();
            let v6: Vec<String> = r
                .config
                .db_allowed_cidrs
                .iter()
                .filter(|c| c.type_.to_string() == "v6")
                .map(|c| c.address.clone())
                .collect();
            let data = json!({
                "project_id": project.as_str(),
                "entitlement": r.entitlement.to_string(),
                "status": r.status.to_string(),
                "allowed_cidrs_v4": v4,
                "allowed_cidrs_v6": v6,
                "meaning": rv.summary,
            });
            (data, changes, rv)
        }
    };
    let mut data = result;
    if let Value::Object(m) = &mut data {
        m.insert("changes".into(), json!(changes));
        m.insert(
            "next_step".into(),
            json!("Applying takes a moment; get_network_restrictions shows status `applied` when it is in force."),
        );
    }
    let mut out = ToolOutput::untrusted(data);
    for w in rv.warnings {
        out = out.warn(w);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Cidr {
        Cidr::parse(s).unwrap()
    }

    #[test]
    fn ranges_parse_and_normalise() {
        assert_eq!(c(" 203.0.113.7/32 ").to_string(), "203.0.113.7/32");
        assert_eq!(c("2001:DB8::/32").to_string(), "2001:db8::/32");
        assert_eq!(c("192.168.1.5/24").network().to_string(), "192.168.1.0/24");
        assert_eq!(c("0.0.0.0/0").network().to_string(), "0.0.0.0/0");
        assert_eq!(c("2001:db8::1/64").network().to_string(), "2001:db8::/64");
        assert!(c("0.0.0.0/0").is_everything() && c("::/0").is_everything());
        assert!(matches!(
            Cidr::parse("203.0.113.7"),
            Err(CidrError::NoPrefix(_))
        ));
        assert!(matches!(
            Cidr::parse("300.1.1.1/8"),
            Err(CidrError::BadAddress(_))
        ));
        assert!(matches!(
            Cidr::parse("example.com/8"),
            Err(CidrError::BadAddress(_))
        ));
        assert!(matches!(
            Cidr::parse("1.2.3.4/33"),
            Err(CidrError::PrefixTooLong { .. })
        ));
        assert!(matches!(
            Cidr::parse("::/129"),
            Err(CidrError::PrefixTooLong { .. })
        ));
        assert!(matches!(
            Cidr::parse("1.2.3.4/-1"),
            Err(CidrError::BadPrefix(_))
        ));
        assert!(matches!(
            Cidr::parse("1.2.3.4/"),
            Err(CidrError::BadPrefix(_))
        ));
        assert!(matches!(
            Cidr::parse("1.2.3.4/0024"),
            Err(CidrError::BadPrefix(_))
        ));
    }

    #[test]
    fn private_ranges_are_spotted() {
        for p in [
            "10.0.0.0/8",
            "192.168.0.0/16",
            "172.16.0.0/12",
            "127.0.0.1/32",
            "fd00::/8",
            "fe80::/10",
            "::1/128",
        ] {
            assert!(c(p).is_private(), "{p}");
        }
        for p in [
            "203.0.113.0/24",
            "0.0.0.0/0",
            "2001:db8::/32",
            "::/0",
            "8.0.0.0/7",
        ] {
            assert!(!c(p).is_private(), "{p}");
        }
    }

    #[test]
    fn reviews_warn_about_lockouts() {
        let r = review(&[], &[]);
        assert!(r.lockout);
        assert!(r.warnings[0].contains("EVERY connection"));
        let r = review(&[c("203.0.113.0/24")], &[]);
        assert!(!r.lockout);
        assert!(
            r.warnings.iter().any(|w| w.contains("IPv6")),
            "{:?}",
            r.warnings
        );
        let r = review(&[], &[c("2001:db8::/32")]);
        assert!(
            r.warnings.iter().any(|w| w.contains("IPv4")),
            "{:?}",
            r.warnings
        );
        let r = review(&[c("0.0.0.0/0")], &[c("::/0")]);
        assert!(r.summary.contains("every address"));
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
        let r = review(&[c("10.1.0.0/16")], &[c("::/0")]);
        assert!(
            r.warnings.iter().any(|w| w.contains("private")),
            "{:?}",
            r.warnings
        );
    }

    #[test]
    fn plans_refuse_ambiguous_or_empty_changes() {
        let a = |v: Value| serde_json::from_value::<UpdateArgs>(v).unwrap();
        assert!(plan(&a(json!({}))).is_err());
        assert!(plan(&a(json!({"allowed_cidrs": []}))).is_err());
        assert!(plan(&a(json!({"allowed_cidrs": [], "deny_all": true}))).is_ok());
        assert!(
            plan(&a(
                json!({"allowed_cidrs": ["1.2.3.4/32"], "deny_all": true})
            ))
            .is_err()
        );
        assert!(
            plan(&a(
                json!({"allowed_cidrs": ["1.2.3.4/32"], "add": ["5.6.7.8/32"]})
            ))
            .is_err()
        );
        assert!(plan(&a(json!({"add": ["1.2.3.4/32"], "remove": ["1.2.3.4/32"]}))).is_err());
        assert!(plan(&a(json!({"add": ["1.2.3.4"]}))).is_err());
        let args = json!({"allowed_cidrs": [], "deny_all": true});
        let text = assess_update(args.as_object().unwrap()).unwrap();
        assert!(
            text.starts_with("REFUSE EVERY DATABASE CONNECTION"),
            "{text}"
        );
        let args = json!({"allowed_cidrs": ["203.0.113.0/24"]});
        let text = assess_update(args.as_object().unwrap()).unwrap();
        assert!(text.contains("WARNING") && text.contains("IPv6"), "{text}");
        let args = json!({"allowed_cidrs": []});
        assert!(assess_update(args.as_object().unwrap()).is_none());
    }
}
