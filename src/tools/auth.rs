//! The `auth` group: users, identities, sessions, MFA factors, the audit
//! log and the settings of a project's Auth service. Users and factors go
//! through the GoTrue admin API when a Supabase URL and service role key
//! are configured, and through SQL on the `auth` schema otherwise (or when
//! the API cannot be reached); sessions always through SQL. Every result
//! says which path it took (`via`), and none holds a password, a hash, a
//! token, a factor secret or a generated link.

mod audit;
mod common;
mod config;
mod env_config;
mod factors;
mod links;
mod password;
mod sessions;
mod user_sql;
mod users;

use super::{Kind, ToolDef, tool};
use crate::groups::Group;

pub fn tools() -> Vec<ToolDef> {
    let mut v = vec![
        tool("list_auth_users", Group::Auth, Kind::Read)
            .title("List Auth users")
            .description("Auth users, newest first; filter by email, phone, provider, creation time.")
            .handler(users::list_auth_users),
        tool("get_auth_user", Group::Auth, Kind::Read)
            .title("Get an Auth user")
            .description("One Auth user by id or email, with identities and MFA factors.")
            .handler(users::get_auth_user),
        tool("create_auth_user", Group::Auth, Kind::Write)
            .title("Create an Auth user")
            .description("Create a user (password from a server file/env var, or generated and not shown) or invite one.")
            .handler(users::create_auth_user),
        tool("update_auth_user", Group::Auth, Kind::Write)
            .title("Update an Auth user")
            .description("Change a user's email, phone, password (file/env), metadata, role or ban.")
            .handler(users::update_auth_user),
        tool("delete_auth_user", Group::Auth, Kind::Destructive)
            .title("Delete an Auth user")
            .description("Delete a user with its identities, sessions and factors (soft: keep it marked deleted).")
            .assess(|args| {
                let user = args.get("user_id").and_then(|v| v.as_str()).unwrap_or("?");
                let soft = args.get("soft").and_then(|v| v.as_bool()).unwrap_or(false);
                Some(if soft {
                    format!("mark Auth user {user} deleted: email, phone, identities and sessions removed")
                } else {
                    format!("delete Auth user {user} for good, with its identities, sessions and MFA factors")
                })
            })
            .handler(users::delete_auth_user),
        tool("generate_link", Group::Auth, Kind::Write)
            .title("Generate an Auth link")
            .description("Magic link, recovery, signup or email change link, saved to a private file (never shown).")
            .handler(links::generate_link),
        tool("list_user_factors", Group::Auth, Kind::Read)
            .title("List a user's MFA factors")
            .description("A user's MFA factors (type, status, name); secrets are never read.")
            .handler(factors::list_user_factors),
        tool("delete_user_factor", Group::Auth, Kind::Destructive)
            .title("Delete an MFA factor")
            .description("Remove one MFA factor of a user (e.g. a lost authenticator).")
            .handler(factors::delete_user_factor),
        tool("list_sessions", Group::Auth, Kind::Read)
            .title("List Auth sessions")
            .description("Sign-in sessions (all or one user's), most recently used first.")
            .handler(sessions::list_sessions),
        tool("revoke_sessions", Group::Auth, Kind::Destructive)
            .title("Revoke Auth sessions")
            .description("Sign a user out everywhere (or end one session): deletes sessions and refresh tokens.")
            .assess(|args| {
                let user = args.get("user_id").and_then(|v| v.as_str()).unwrap_or("?");
                Some(match args.get("session_id").and_then(|v| v.as_str()) {
                    Some(s) => format!("end session {s} of Auth user {user}"),
                    None => format!("sign Auth user {user} out of every session"),
                })
            })
            .handler(sessions::revoke_sessions),
        tool("auth_audit_log", Group::Auth, Kind::Read)
            .title("Auth audit log")
            .description("Auth events (logins, sign-ups, deletions...), newest first; filter by action, user, time.")
            .handler(audit::auth_audit_log),
    ];
    v.extend(config::tools());
    v
}
