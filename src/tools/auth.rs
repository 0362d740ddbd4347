//! The `auth` group: users, identities, sessions, MFA factors and the
//! audit log of a project's Auth service (GoTrue admin API, or SQL on the
//! `auth` schema where the API cannot be reached).

use super::ToolDef;

pub fn tools() -> Vec<ToolDef> {
    Vec::new()
}
