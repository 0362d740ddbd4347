//! The `account` group (cloud projects, through the Management API).

use super::ToolDef;

pub fn tools() -> Vec<ToolDef> {
    Vec::new()
}
