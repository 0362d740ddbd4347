//! Text output of `env` and `jwt` for people: findings grouped by
//! severity, diffs, connection strings. ANSI colours only when stdout is a
//! terminal and `NO_COLOR` is unset.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::Path;

use serde_json::Value;

use crate::selfhosted::connstrings::ConnStrings;
use crate::selfhosted::finding::Summary;
use crate::selfhosted::fix::{Change, Outcome};
use crate::selfhosted::project_name::NameCheck;
use crate::selfhosted::template::Generated;
use crate::selfhosted::{Report, Severity};

/// Whether to colour.
pub struct Style {
    color: bool,
}

impl Style {
    pub fn detect() -> Style {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style {
            color: !no_color && std::io::stdout().is_terminal(),
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
    fn red(&self, t: &str) -> String {
        self.paint("1;31", t)
    }
    fn yellow(&self, t: &str) -> String {
        self.paint("1;33", t)
    }
    fn cyan(&self, t: &str) -> String {
        self.paint("36", t)
    }
    fn green(&self, t: &str) -> String {
        self.paint("1;32", t)
    }
    fn dim(&self, t: &str) -> String {
        self.paint("2", t)
    }
    fn bold(&self, t: &str) -> String {
        self.paint("1", t)
    }

    fn severity(&self, s: Severity) -> String {
        let label = format!("{:<7}", s.name().to_uppercase());
        match s {
            Severity::Error => self.red(&label),
            Severity::Warning => self.yellow(&label),
            Severity::Info => self.cyan(&label),
        }
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn summary_line(s: &Summary) -> String {
    format!(
        "{}, {}, {}",
        plural(s.errors, "error", "errors"),
        plural(s.warnings, "warning", "warnings"),
        plural(s.info, "note", "notes")
    )
}

/// `env check`.
pub fn report(st: &Style, path: &Path, r: &Report) -> String {
    let mut out = String::new();
    let head = format!("{}: {}", path.display(), summary_line(&r.summary));
    let _ = writeln!(
        out,
        "{}",
        if r.summary.errors > 0 {
            st.red(&head)
        } else if r.summary.warnings > 0 {
            st.yellow(&head)
        } else {
            st.green(&head)
        }
    );
    for f in &r.findings {
        let place = match (&f.variable, f.line) {
            (Some(v), Some(l)) => format!("{v} (line {l})"),
            (Some(v), None) => v.clone(),
            (None, Some(l)) => format!("line {l}"),
            (None, None) => String::new(),
        };
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{} {}  {}",
            st.severity(f.severity),
            st.bold(&place),
            st.dim(&f.id)
        );
        let _ = writeln!(out, "        {}", f.message);
        if let Some(c) = &f.current {
            let _ = writeln!(out, "        {} {c}", st.dim("current: "));
        }
        if !f.expected.is_empty() {
            let _ = writeln!(out, "        {} {}", st.dim("expected:"), f.expected);
        }
        let _ = writeln!(out, "        {} {}", st.dim("fix:     "), f.fix);
    }
    let fixable = r.findings.iter().filter(|f| f.fixable).count();
    if fixable > 0 {
        let _ = writeln!(
            out,
            "\n{} can be fixed automatically: supabase-mcp env fix {} --all",
            plural(fixable, "finding", "findings"),
            path.display()
        );
    } else if r.findings.is_empty() {
        let _ = writeln!(out, "{}", st.green("No problems found."));
    }
    out
}

fn diff_block(st: &Style, diff: &str) -> String {
    let mut out = String::new();
    for line in diff.lines() {
        let colored = if line.starts_with("+++") || line.starts_with("---") {
            st.bold(line)
        } else if line.starts_with('+') {
            st.green(line)
        } else if line.starts_with('-') {
            st.red(line)
        } else {
            st.cyan(line)
        };
        let _ = writeln!(out, "{colored}");
    }
    out
}

fn notes_block(st: &Style, notes: &[String]) -> String {
    let mut out = String::new();
    if !notes.is_empty() {
        let _ = writeln!(out, "\n{}", st.bold("Notes:"));
        for n in notes {
            let _ = writeln!(out, "  • {n}");
        }
    }
    out
}

/// `env fix`.
pub fn fix(
    st: &Style,
    target: &Path,
    written: bool,
    o: &Outcome,
    diff: &str,
    after: &Summary,
) -> String {
    let mut out = String::new();
    if o.changes.is_empty() {
        let _ = writeln!(out, "Nothing to change; no file written.");
    } else if written {
        let _ = writeln!(
            out,
            "{} {} (mode 0600): {}",
            st.green("Wrote"),
            target.display(),
            plural(o.changes.len(), "change", "changes")
        );
    } else {
        let _ = writeln!(
            out,
            "Dry run: {} (nothing written)",
            plural(o.changes.len(), "change", "changes")
        );
    }
    if !o.changes.is_empty() {
        out.push_str(&diff_block(st, diff));
    }
    out.push_str(&notes_block(st, &o.notes));
    if !o.skipped.is_empty() {
        let _ = writeln!(out, "\n{}", st.bold("Not fixed automatically:"));
        for s in &o.skipped {
            let _ = writeln!(out, "  • {}: {}", s.id, s.reason);
        }
    }
    let _ = writeln!(
        out,
        "\nAfterwards: {} (supabase-mcp env check {})",
        summary_line(after),
        target.display()
    );
    out
}

/// `env generate`.
pub fn generated(st: &Style, path: &Path, g: &Generated, r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} {} (mode 0600)", st.green("Wrote"), path.display());
    let _ = writeln!(out, "  generated: {}", g.generated.join(", "));
    if !g.set.is_empty() {
        let _ = writeln!(out, "  set:       {}", g.set.join(", "));
    }
    for k in &g.keys {
        let _ = writeln!(
            out,
            "  {}: role {}, iss {}, expires {}",
            k.variable, k.role, k.iss, k.expires_at
        );
    }
    let open: Vec<&str> = r
        .findings
        .iter()
        .filter(|f| f.severity != Severity::Info)
        .map(|f| f.id.as_str())
        .collect();
    if !open.is_empty() {
        let _ = writeln!(
            out,
            "Still to set by hand (see `supabase-mcp env check {}`): {}",
            path.display(),
            open.join(", ")
        );
    }
    let _ = writeln!(
        out,
        "Keep the file private. Use it before the database volume is created: a new POSTGRES_PASSWORD does not change an existing database."
    );
    out
}

/// `env protocols`.
pub fn protocols(
    st: &Style,
    target: &Path,
    written: bool,
    changes: &[Change],
    diff: &str,
    notes: &[String],
) -> String {
    let mut out = String::new();
    if changes.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            st.green(
                "Every public URL already uses https:// (http:// remains only for local hosts)."
            )
        );
        return out;
    }
    out.push_str(&diff_block(st, diff));
    out.push_str(&notes_block(st, notes));
    if written {
        let _ = writeln!(
            out,
            "\n{} {} (mode 0600)",
            st.green("Wrote"),
            target.display()
        );
    } else {
        let _ = writeln!(
            out,
            "\nNot written: add --write to write {}.",
            target.display()
        );
    }
    out
}

/// `env connection-strings`.
pub fn connection_strings(st: &Style, c: &ConnStrings, password_file: Option<&Path>) -> String {
    let mut out = String::new();
    for s in &c.strings {
        let scope = if s.from == "docker_network" {
            "inside the Docker network"
        } else {
            "from outside"
        };
        let _ = writeln!(out, "{}  {}, {} mode", st.bold(s.name), scope, s.mode);
        let _ = writeln!(out, "  {}", s.url);
        let _ = writeln!(out, "  {}", st.dim(&format!("for {}", s.use_for)));
    }
    let _ = writeln!(
        out,
        "\nOutside host: {} ({}). Replace [YOUR-PASSWORD] with POSTGRES_PASSWORD, percent-encoded.",
        c.external_host, c.external_host_from
    );
    if let Some(p) = password_file {
        let _ = writeln!(
            out,
            "The strings with the password are in {} (mode 0600).",
            p.display()
        );
    }
    out.push_str(&notes_block(st, &c.notes));
    out
}

/// `env project-name`.
pub fn project_name(st: &Style, c: &NameCheck) -> String {
    let mut out = String::new();
    if c.valid {
        let _ = writeln!(
            out,
            "{} `{}` is a valid project name.",
            st.green("✓"),
            c.name
        );
        return out;
    }
    let _ = writeln!(
        out,
        "{} `{}` is not a valid project name:",
        st.red("✗"),
        c.name
    );
    for p in &c.problems {
        let _ = writeln!(out, "  • {p}");
    }
    if let Some(s) = &c.suggestion {
        let _ = writeln!(out, "Suggestion: {}", st.bold(s));
    }
    out
}

fn json_line(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// `jwt decode`.
pub fn decoded(st: &Style, v: &Value) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}\n{}", st.bold("Header"), json_line(&v["header"]));
    let _ = writeln!(out, "{}\n{}", st.bold("Claims"), json_line(&v["claims"]));
    if let Some(t) = v["issued_at"].as_str() {
        let _ = writeln!(out, "issued:  {t}");
    }
    if let Some(t) = v["expires_at"].as_str() {
        let expired = v["expired"].as_bool() == Some(true);
        let _ = writeln!(
            out,
            "expires: {t}{}",
            if expired {
                st.red(" (expired)")
            } else {
                String::new()
            }
        );
    }
    if let Some(l) = v["looks_like"].as_str() {
        let _ = writeln!(out, "verdict: {l}");
    }
    let _ = writeln!(
        out,
        "{}",
        st.dim("Not verified: `supabase-mcp jwt verify` checks the signature.")
    );
    out
}

/// `jwt verify`.
pub fn verified(st: &Style, v: &Value) -> String {
    let mut out = String::new();
    if v["valid"].as_bool() == Some(true) {
        let _ = writeln!(
            out,
            "{} signature valid (secret from {}), role {}",
            st.green("✓"),
            v["secret_from"].as_str().unwrap_or(""),
            v["key"]["claims"]["role"].as_str().unwrap_or("?")
        );
    } else {
        let _ = writeln!(out, "{} not valid:", st.red("✗"));
        for p in v["problems"].as_array().into_iter().flatten() {
            let _ = writeln!(out, "  • {}", p.as_str().unwrap_or(""));
        }
    }
    for n in v["notes"].as_array().into_iter().flatten() {
        let _ = writeln!(out, "  note: {}", n.as_str().unwrap_or(""));
    }
    if let Some(t) = v["key"]["expires_at"].as_str() {
        let _ = writeln!(out, "  expires {t}");
    }
    out
}
