//! `supabase-mcp tools`: the enabled tools and what their schemas cost.

use crate::server::State;

/// Rough token estimate of a JSON text (about 4 bytes per token).
pub fn tokens(bytes: usize) -> usize {
    bytes.div_ceil(4)
}

/// The report printed by the command.
pub fn report(state: &State, json: bool) -> String {
    let tools = state.catalog.tools();
    if json {
        return serde_json::to_string_pretty(&serde_json::json!({ "tools": tools }))
            .unwrap_or_default();
    }
    let mut out = String::new();
    let mut total = 0;
    out.push_str(&format!(
        "{:<28} {:<12} {:<12} {:>8}\n",
        "tool", "group", "kind", "tokens"
    ));
    for t in &tools {
        let bytes = serde_json::to_string(t).map(|s| s.len()).unwrap_or(0);
        total += bytes;
        let (def, _) = match state.catalog.get(&t.name) {
            Some(x) => x,
            None => continue,
        };
        let kind = match def.kind {
            crate::tools::Kind::Read => "read",
            crate::tools::Kind::Write => "write",
            crate::tools::Kind::Destructive => "destructive",
        };
        out.push_str(&format!(
            "{:<28} {:<12} {:<12} {:>8}\n",
            t.name,
            def.group.name(),
            kind,
            tokens(bytes)
        ));
    }
    let list_bytes = serde_json::to_string(&serde_json::json!({ "tools": tools }))
        .map(|s| s.len())
        .unwrap_or(total);
    out.push_str(&format!(
        "\n{} tools; tools/list is {} bytes (about {} tokens)\n",
        tools.len(),
        list_bytes,
        tokens(list_bytes)
    ));
    out
}
