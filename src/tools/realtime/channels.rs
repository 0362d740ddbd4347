//! `list_channel_policies`: Realtime Authorization. Private channels
//! (Broadcast and Presence) are authorized by RLS policies on
//! `realtime.messages`: SELECT policies decide who may join and receive,
//! INSERT policies who may send. Each policy is restated in plain words;
//! a database without that table gets a "not set up" answer.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use crate::result::{ToolError, ToolOutput};
use crate::server::call::Call;
use crate::tools::introspect::col;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelPoliciesArgs {}

/// Who a policy applies to, in words.
pub fn who(roles: &[String]) -> String {
    if roles.is_empty() || roles.iter().any(|r| r == "public") {
        "every role".into()
    } else {
        roles
            .iter()
            .map(|r| format!("`{r}`"))
            .collect::<Vec<_>>()
            .join(" and ")
    }
}

/// What a policy command allows on a private channel.
pub fn action(command: &str) -> &'static str {
    match command {
        "SELECT" => "join private channels and receive their Broadcast and Presence messages",
        "INSERT" => "send Broadcast messages and track Presence on private channels",
        "UPDATE" => "update stored channel messages",
        "DELETE" => "delete stored channel messages",
        _ => "join, receive, send and track Presence on private channels",
    }
}

/// The condition of a policy, in words.
pub fn condition(expr: Option<&str>) -> String {
    let Some(e) = expr.map(str::trim).filter(|e| !e.is_empty()) else {
        return "on every channel".into();
    };
    if e.eq_ignore_ascii_case("true") {
        return "on every channel".into();
    }
    let lower = e.to_ascii_lowercase();
    let mut parts = Vec::new();
    if lower.contains("realtime.topic()") {
        parts.push("on channels whose topic (realtime.topic()) passes the check");
    }
    let presence = lower.contains("'presence'");
    let broadcast = lower.contains("'broadcast'");
    if lower.contains("extension") && presence != broadcast {
        parts.push(if presence {
            "for Presence only"
        } else {
            "for Broadcast only"
        });
    }
    if lower.contains("auth.uid()") || lower.contains("auth.jwt()") {
        parts.push("depending on the signed-in user");
    }
    if parts.is_empty() {
        format!("when `{e}` holds")
    } else {
        format!("{} (`{e}`)", parts.join(", "))
    }
}

/// One policy restated in a sentence.
pub fn describe(
    roles: &[String],
    command: &str,
    permissive: bool,
    using: Option<&str>,
    check: Option<&str>,
) -> String {
    let expr = if command == "INSERT" {
        check
    } else {
        using.or(check)
    };
    let sentence = format!(
        "{} may {} {}.",
        capitalize(&who(roles)),
        action(command),
        condition(expr)
    );
    if permissive {
        sentence
    } else {
        format!(
            "Restrictive: {} may {} only {}, in addition to a permissive policy that allows it.",
            who(roles),
            action(command),
            condition(expr)
        )
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

pub(super) async fn list_channel_policies(
    call: Call,
    _a: ChannelPoliciesArgs,
) -> Result<ToolOutput, ToolError> {
    let db = call.sql().await?;
    let table = db
        .query_one(
            "SELECT to_regclass('realtime.messages') IS NOT NULL AS exists, \
               coalesce((SELECT c.relrowsecurity FROM pg_class c WHERE c.oid = to_regclass('realtime.messages')), false) AS rls, \
               EXISTS (SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
                       WHERE n.nspname = 'realtime' AND p.proname = 'topic') AS has_topic",
            &[],
        )
        .await?;
    if !col::<bool>(&table, "exists")? {
        return Ok(ToolOutput::trusted(json!({
            "set_up": false,
            "reason": "the table realtime.messages does not exist: Realtime Authorization is not set up in this database",
            "meaning": "every Realtime channel is public: anyone with the anon key can join, listen and send on Broadcast and Presence",
            "next_step": "Run a Realtime version with Authorization (it creates realtime.messages), then add RLS policies on realtime.messages and connect clients with `private: true` channels.",
        })));
    }
    let rls: bool = col(&table, "rls")?;
    let rows = db
        .query(
            "SELECT p.policyname::text AS name, p.permissive = 'PERMISSIVE' AS permissive, p.roles::text[] AS roles, \
               p.cmd::text AS command, p.qual AS using_expr, p.with_check AS check_expr \
             FROM pg_policies p WHERE p.schemaname = 'realtime' AND p.tablename = 'messages' ORDER BY p.cmd, p.policyname",
            &[],
        )
        .await?;
    let mut policies = Vec::with_capacity(rows.len());
    let mut receive = false;
    let mut send = false;
    for r in &rows {
        let roles: Vec<String> = col(r, "roles")?;
        let command: String = col(r, "command")?;
        let permissive: bool = col(r, "permissive")?;
        let using: Option<String> = col(r, "using_expr")?;
        let check: Option<String> = col(r, "check_expr")?;
        if permissive {
            receive |= matches!(command.as_str(), "SELECT" | "ALL");
            send |= matches!(command.as_str(), "INSERT" | "ALL");
        }
        let mut p = json!({
            "name": col::<String>(r, "name")?,
            "command": command,
            "roles": roles,
            "permissive": permissive,
            "meaning": describe(&roles, &command, permissive, using.as_deref(), check.as_deref()),
        });
        if let Some(u) = using {
            p["using"] = json!(u);
        }
        if let Some(c) = check {
            p["with_check"] = json!(c);
        }
        policies.push(p);
    }
    let mut out = ToolOutput::untrusted(json!({
        "set_up": true,
        "rls_enabled": rls,
        "topic_function": col::<bool>(&table, "has_topic")?,
        "policies": policies,
        "summary": {
            "someone_may_receive": receive,
            "someone_may_send": send,
        },
        "note": "These policies govern private channels only (clients opt in with `private: true`); public channels skip them. \
                 service_role bypasses RLS.",
    }));
    if !rls {
        out = out.warn(
            "RLS is disabled on realtime.messages: private channels are not protected, any client may join and send. \
             Enable it: ALTER TABLE realtime.messages ENABLE ROW LEVEL SECURITY;",
        );
    } else if rows.is_empty() {
        out = out.warn(
            "RLS is on but realtime.messages has no policy: private channels refuse every client (only service_role gets in). \
             Add a SELECT policy to let users join, and an INSERT policy to let them send.",
        );
    } else {
        if !receive {
            out = out.warn("no permissive SELECT policy: nobody can join a private channel");
        }
        if !send {
            out = out.warn(
                "no permissive INSERT policy: clients can join private channels but not send Broadcast or track Presence",
            );
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_read_as_sentences() {
        let roles = vec!["authenticated".to_owned()];
        let s = describe(
            &roles,
            "SELECT",
            true,
            Some("(realtime.topic() = 'room-1'::text)"),
            None,
        );
        assert!(
            s.starts_with("`authenticated` may join private channels"),
            "{s}"
        );
        assert!(s.contains("topic"), "{s}");
        let s = describe(
            &["public".to_owned()],
            "INSERT",
            true,
            None,
            Some("(extension = 'presence'::text)"),
        );
        assert!(s.starts_with("Every role may send"), "{s}");
        assert!(s.contains("Presence only"), "{s}");
        let s = describe(&roles, "ALL", false, Some("true"), None);
        assert!(s.starts_with("Restrictive:"), "{s}");
        assert!(s.contains("on every channel"), "{s}");
    }
}
