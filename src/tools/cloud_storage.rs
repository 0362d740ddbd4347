//! The `storage` group's cloud tools (through the Management API).

use super::ToolDef;

pub fn tools() -> Vec<ToolDef> {
    Vec::new()
}
