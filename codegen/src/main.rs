//! `cargo codegen`: writes, checks and compares the generated API clients.
//! See `codegen/README.md` for the commands.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};

use codegen::drift::{self, FailOn};
use codegen::output::{self, Selection};
use codegen::preprocess::Options;
use codegen::{Api, document, generate, upstream};

/// Generates the typed API clients in `generated/` from the specs in `specs/`.
#[derive(Debug, Parser)]
#[command(
    name = "cargo codegen",
    bin_name = "cargo codegen",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    /// Regenerate in memory and fail if `generated/` differs from the result.
    #[arg(long)]
    check: bool,
    /// Generate (or check) only this API: management, auth, storage or dokploy.
    #[arg(long, value_parser = parse_api)]
    api: Option<Api>,
    /// Print what preprocessing rewrote for each API.
    #[arg(short, long, global = true)]
    verbose: bool,
    /// Workspace root holding `specs/` and `generated/` (defaults to this checkout).
    #[arg(long, global = true)]
    root: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Compare one of our specs with the upstream document it was written from.
    Drift {
        /// The API whose spec to compare.
        #[arg(long, value_parser = parse_api)]
        api: Api,
        /// The unmodified upstream document (JSON or YAML, OpenAPI 3.0 or 3.1).
        #[arg(long)]
        upstream: PathBuf,
        /// Our spec (defaults to `specs/<file>` for the API).
        #[arg(long)]
        spec: Option<PathBuf>,
        /// When to exit with status 1.
        #[arg(long, value_enum, default_value_t = FailOnArg::Missing)]
        fail_on: FailOnArg,
    },
    /// Preprocess an unmodified upstream document and generate a client from it.
    Upstream {
        /// Which API the document describes (used in labels).
        #[arg(long, value_parser = parse_api)]
        api: Api,
        /// The unmodified upstream document.
        #[arg(long)]
        upstream: PathBuf,
        /// Write the formatted client here.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Keep only the operations listed in this file (operationId or `METHOD /path` per line).
        #[arg(long, conflicts_with = "ours")]
        ops: Option<PathBuf>,
        /// Keep only the operations of our spec, named with our operationIds.
        #[arg(long)]
        ours: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FailOnArg {
    /// An operation we use is missing upstream.
    Missing,
    /// Also anything we use removed, retyped or newly required upstream.
    Changes,
    /// Always exit 0.
    Never,
}

impl From<FailOnArg> for FailOn {
    fn from(value: FailOnArg) -> Self {
        match value {
            FailOnArg::Missing => FailOn::Missing,
            FailOnArg::Changes => FailOn::Changes,
            FailOnArg::Never => FailOn::Never,
        }
    }
}

fn parse_api(s: &str) -> Result<Api, String> {
    s.parse::<Api>().map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let root = cli.root.clone().unwrap_or_else(output::workspace_root);
    match cli.command {
        None => generate_all(&root, cli.api, cli.check, cli.verbose),
        Some(Command::Drift {
            api,
            upstream,
            spec,
            fail_on,
        }) => {
            let spec = spec.unwrap_or_else(|| root.join(api.spec_path()));
            let report = drift::run(api, &spec, &upstream)?;
            print!("{report}");
            Ok(if report.should_fail(fail_on.into()) {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        Some(Command::Upstream {
            api,
            upstream,
            out,
            ops,
            ours,
        }) => generate_upstream(
            &root,
            api,
            &upstream,
            out.as_deref(),
            ops.as_deref(),
            ours,
            cli.verbose,
        ),
    }
}

fn generate_all(root: &Path, api: Option<Api>, check: bool, verbose: bool) -> Result<ExitCode> {
    let started = Instant::now();
    let selection = match (api, check) {
        (Some(api), _) => Selection::Only(api),
        (None, false) => Selection::All,
        (None, true) => Selection::Present,
    };
    let plan = output::plan(root, selection)?;
    for note in &plan.notes {
        eprintln!("note: {note}");
    }
    for module in &plan.generated {
        let lines = module.code.lines().count();
        println!(
            "{:<10} {:>4} operations {:>7} lines  ({})",
            module.api.name(),
            module.operations,
            lines,
            module.spec_path
        );
        if verbose {
            print!("{}", module.report);
        }
        for dropped in &module.report.dropped {
            eprintln!("warning: {}: dropped {dropped}", module.api);
        }
    }
    if check {
        let stale = output::check(root, &plan)?;
        if stale.is_empty() {
            println!("generated/ is up to date ({:.1?})", started.elapsed());
            return Ok(ExitCode::SUCCESS);
        }
        eprintln!("generated/ is stale:");
        for s in &stale {
            eprintln!("  {s}");
        }
        eprintln!("run `cargo codegen` to regenerate");
        return Ok(ExitCode::FAILURE);
    }
    let changed = output::write(root, &plan)?;
    if changed.is_empty() {
        println!("generated/ unchanged ({:.1?})", started.elapsed());
    } else {
        for c in &changed {
            println!("wrote {c}");
        }
        println!("done in {:.1?}", started.elapsed());
    }
    Ok(ExitCode::SUCCESS)
}

fn generate_upstream(
    root: &Path,
    api: Api,
    path: &Path,
    out: Option<&Path>,
    ops: Option<&Path>,
    ours: bool,
    verbose: bool,
) -> Result<ExitCode> {
    let started = Instant::now();
    let options = if ours {
        let spec = root.join(api.spec_path());
        upstream::options_from_ours(&document::load(&spec)?)
    } else if let Some(ops) = ops {
        let text = std::fs::read_to_string(ops)
            .with_context(|| format!("cannot read allowlist {}", ops.display()))?;
        Options {
            allowlist: Some(upstream::parse_allowlist(&text)),
            ..Options::default()
        }
    } else {
        Options::default()
    };
    let generated = upstream::generate(api.name(), path, &options)?;
    if verbose || !generated.report.notes.is_empty() {
        print!("{}", generated.report);
    }
    for dropped in &generated.report.dropped {
        eprintln!("warning: dropped {dropped}");
    }
    let code = generate::format_tokens(api.name(), generated.tokens)?;
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let code = format!(
        "// generated by `cargo codegen upstream --api {api}`, do not edit\n// upstream: {file_name} sha256:{}\n\n{code}",
        document::sha256_hex(&bytes)
    );
    let lines = code.lines().count();
    println!(
        "{api}: {} operations, {lines} lines from {} ({:.1?})",
        generated.operations,
        path.display(),
        started.elapsed()
    );
    if let Some(out) = out {
        if out.extension().is_none_or(|e| e != "rs") {
            bail!("--out must name a .rs file");
        }
        std::fs::write(out, code).with_context(|| format!("cannot write {}", out.display()))?;
        println!("wrote {}", out.display());
    }
    Ok(ExitCode::SUCCESS)
}
