//! The path of every tool call: lookup, argument checks, instance and
//! project injection, rate limit, confirmation of destructive calls, the
//! handler under timeout and cancellation, then secret scrubbing, the output
//! budget, the untrusted-data boundary and the audit log.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rmcp::RoleServer;
use rmcp::model::{CallToolResult, ContentBlock, ProgressToken};
use rmcp::service::Peer;
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

use crate::audit::Entry;
use crate::confirm::{Check, binding};
use crate::result::{Envelope, ErrorCode, Status, ToolError, ToolOutput};
use crate::server::State;
use crate::server::call::Call;
use crate::server::catalog::Hidden;
use crate::spill::{Format, RowCollector};
use crate::tools::{Kind, Scope};
use crate::untrusted;

/// Everything about one incoming call besides its name and arguments.
pub struct Incoming {
    pub cancel: CancellationToken,
    pub progress: Option<(Peer<RoleServer>, ProgressToken)>,
}

impl Incoming {
    pub fn detached() -> Self {
        Self {
            cancel: CancellationToken::new(),
            progress: None,
        }
    }
}

/// Outcome of the pipeline before it becomes an MCP result.
#[derive(Debug)]
pub enum Outcome {
    Ok(ToolOutput),
    Confirm {
        token: String,
        action: String,
        ttl: Duration,
    },
    Err(ToolError),
}

/// Time limit of a long-running tool (backup, restore) when the caller sets none.
const LONG_RUNNING_LIMIT: Duration = Duration::from_secs(7 * 24 * 3600);

/// Runs one call. `None` means the tool does not exist at all (a protocol error).
pub async fn run(
    state: &Arc<State>,
    name: &str,
    args: Option<Map<String, Value>>,
    incoming: Incoming,
) -> Option<CallToolResult> {
    let started = Instant::now();
    let Some((def, _)) = state.catalog.get(name) else {
        let hidden = state.catalog.hidden(name)?;
        let err = hidden_error(name, hidden);
        return Some(finish(state, err_outcome(err), false));
    };
    let def = def.clone();
    let mut args = args.unwrap_or_default();
    let instance_name = match args.remove("instance") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => {
            return Some(finish(
                state,
                err_outcome(ToolError::invalid("`instance` must be a string")),
                false,
            ));
        }
    };
    let token = match args.remove("confirmation_token") {
        Some(Value::String(s)) => Some(s),
        _ => None,
    };
    let outcome = prepare_and_run(
        state,
        &def,
        instance_name.as_deref(),
        token,
        &mut args,
        incoming,
    )
    .await;
    let instance = instance_name
        .or_else(|| state.config.instances.first().map(|i| i.name.clone()))
        .unwrap_or_default();
    if def.kind != Kind::Read {
        let (label, code) = match &outcome {
            Outcome::Ok(_) => ("ok", None),
            Outcome::Confirm { .. } => ("confirmation_required", None),
            Outcome::Err(e) => (
                "error",
                serde_json::to_value(e.code)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned)),
            ),
        };
        let entry = Entry {
            ts: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            instance: &instance,
            tool: def.name,
            arguments: Value::Object(args),
            outcome: label,
            error_code: code,
            duration_ms: started.elapsed().as_millis(),
        };
        if let Err(e) = state.audit.record(entry) {
            tracing::warn!("{e}");
        }
    }
    let untrusted = matches!(&outcome, Outcome::Ok(o) if o.untrusted);
    Some(finish(state, outcome, untrusted))
}

fn err_outcome(e: ToolError) -> Outcome {
    Outcome::Err(e)
}

fn hidden_error(name: &str, why: &Hidden) -> ToolError {
    match why {
        Hidden::ReadOnly => ToolError::new(ErrorCode::ReadOnly, format!("`{name}` changes data and the server runs read-only"))
            .suggestion("Restart the server without --read-only to use write tools."),
        Hidden::GroupDisabled(g) => ToolError::new(ErrorCode::NotConfigured, format!("`{name}` belongs to the `{g}` group, which is not enabled"))
            .suggestion(format!("Add `{g}` to --features (or use --features all).")),
        Hidden::Scoped => ToolError::new(ErrorCode::NotConfigured, format!("`{name}` is an account-level tool, hidden because the server is scoped to one project"))
            .suggestion("Restart without --project-ref to use account-level tools."),
        Hidden::NotSelected => ToolError::new(ErrorCode::NotConfigured, format!("`{name}` is disabled by --tools / --disable-tools"))
            .suggestion("Adjust --tools or --disable-tools."),
    }
}

async fn prepare_and_run(
    state: &Arc<State>,
    def: &crate::tools::ToolDef,
    instance_name: Option<&str>,
    token: Option<String>,
    args: &mut Map<String, Value>,
    incoming: Incoming,
) -> Outcome {
    let cfg = &state.config;
    let Some(mut instance) = cfg.instance(instance_name).cloned() else {
        let names: Vec<&str> = cfg.instances.iter().map(|i| i.name.as_str()).collect();
        return err_outcome(
            ToolError::invalid(format!(
                "unknown instance `{}`",
                instance_name.unwrap_or("")
            ))
            .suggestion(format!("Use one of: {}.", names.join(", "))),
        );
    };

    // Project scoping: inject the configured project, refuse another one.
    if def.scope == Scope::Project
        && let Some(scoped) = cfg.scoped_project_ref()
    {
        match args.get("project_id") {
            Some(Value::String(p)) if p != scoped => {
                return err_outcome(
                    ToolError::invalid(format!(
                        "this server is scoped to project `{scoped}`; `{p}` is not allowed"
                    ))
                    .suggestion("Omit project_id: the scoped project is used automatically."),
                );
            }
            _ => {
                args.insert("project_id".into(), Value::String(scoped.to_owned()));
            }
        }
    }

    // Several projects allowed (`--project-ref a,b`): each call names one of them.
    let allowed = cfg.allowed_projects();
    if allowed.len() > 1 && matches!(def.scope, Scope::Project | Scope::Instance) {
        match args.get("project_id") {
            Some(Value::String(p)) if !allowed.iter().any(|a| a == p) => {
                return err_outcome(
                    ToolError::invalid(format!(
                        "project `{p}` is not one of the projects this server may act on"
                    ))
                    .suggestion(format!(
                        "Pass project_id as one of: {}.",
                        allowed.join(", ")
                    )),
                );
            }
            None if def.scope == Scope::Project => {
                return err_outcome(
                    ToolError::invalid(
                        "`project_id` is required: this server acts on several projects",
                    )
                    .suggestion(format!(
                        "Pass project_id as one of: {}.",
                        allowed.join(", ")
                    )),
                );
            }
            _ => {}
        }
    }

    // Instance tools (the database tools) take the official server's
    // `project_id` too: the configured project, or in an unscoped cloud
    // setup any project the token can reach (through the Management API,
    // since the configured database URL belongs to another project).
    if def.scope == Scope::Instance
        && let Some(value) = args.remove("project_id")
    {
        let Value::String(p) = value else {
            return err_outcome(ToolError::invalid("project_id must be a string"));
        };
        match (instance.project_ref.as_deref(), instance.mode) {
            (Some(configured), _) if configured != p => {
                return err_outcome(
                    ToolError::invalid(format!(
                        "this server is scoped to project `{configured}`; `{p}` is not allowed"
                    ))
                    .suggestion("Omit project_id: the scoped project is used automatically."),
                );
            }
            (Some(_), _) => {}
            (None, crate::config::Mode::Cloud) => {
                let valid = p.len() == 20 && p.chars().all(|c| c.is_ascii_lowercase());
                if !valid {
                    return err_outcome(
                        ToolError::invalid(format!("`{p}` is not a project ref")).suggestion(
                            "A project ref is 20 lowercase letters; list_projects shows them.",
                        ),
                    );
                }
                instance.project_ref = Some(p);
                instance.db_url = None;
                instance.pooler_url = None;
                instance.supabase_url = None;
            }
            (None, _) => {
                return err_outcome(
                    ToolError::invalid(
                        "project_id applies to cloud projects; this instance is self-hosted",
                    )
                    .suggestion("Omit project_id, or name a configured instance with `instance`."),
                );
            }
        }
    }

    // Timeout requested by the caller, within the configured maximum.
    let limits = &cfg.limits;
    let timeout = match args.get("timeout_secs") {
        // Backups and restores: bounded by cancellation, not by a clock.
        None | Some(Value::Null) if def.long_running => LONG_RUNNING_LIMIT,
        None | Some(Value::Null) => limits.query_timeout,
        Some(v) => match v.as_u64() {
            Some(s) if s >= 1 && Duration::from_secs(s) <= limits.max_query_timeout => {
                Duration::from_secs(s)
            }
            _ => {
                return err_outcome(
                    ToolError::invalid(format!(
                        "timeout_secs must be a whole number from 1 to {}",
                        limits.max_query_timeout.as_secs()
                    ))
                    .suggestion("Raise the server's --max-query-timeout to allow longer calls."),
                );
            }
        },
    };

    if let Err(wait) = state.rate.check(def.name) {
        return err_outcome(
            ToolError::new(
                ErrorCode::RateLimited,
                format!("`{}` was called too often", def.name),
            )
            .reason(format!(
                "the limit is {} calls per minute",
                limits.rate_limit_per_minute
            ))
            .suggestion(format!(
                "Wait {:.0} s, or raise --rate-limit.",
                wait.as_secs_f64().ceil()
            )),
        );
    }

    if let Some(action) = def.destructive_action(args) {
        if cfg.read_only {
            return err_outcome(
                ToolError::new(
                    ErrorCode::ReadOnly,
                    format!("refused: {action}; the server runs read-only"),
                )
                .suggestion("Restart the server without --read-only to make changes."),
            );
        }
        if !cfg.allow_destructive {
            let b = binding(def.name, &instance.name, args);
            match state.confirmations.check(token.as_deref(), &b) {
                Check::Confirmed => {}
                Check::Missing => {
                    let token = state.confirmations.issue(b);
                    return Outcome::Confirm {
                        token,
                        action,
                        ttl: state.confirmations.ttl(),
                    };
                }
                Check::Invalid => {
                    return err_outcome(
                        ToolError::new(ErrorCode::ConfirmationRequired, "the confirmation token is not valid for this call")
                            .reason("tokens are single-use, expire, and only confirm the exact arguments they were issued for")
                            .suggestion("Call the tool again without confirmation_token to get a fresh token."),
                    );
                }
            }
        }
    }

    let hint_instance = (def.scope == Scope::Project).then(|| instance.clone());
    let call = Call::new(
        state.clone(),
        instance,
        def.name,
        timeout,
        incoming.cancel.clone(),
        incoming.progress,
    );
    let mut fut = def.run(call, args.clone());
    // The handler enforces its own timeout (e.g. statement_timeout); this is the backstop.
    let deadline = timeout + Duration::from_secs(15);
    let done = |r: Result<ToolOutput, ToolError>| match r {
        Ok(out) => Outcome::Ok(out),
        Err(e) => Outcome::Err(e),
    };
    tokio::select! {
        r = &mut fut => match (r, &hint_instance) {
            (Err(e), Some(inst)) if crate::api::error::is_management_not_found(&e) => {
                Outcome::Err(with_closest_project(state, inst, args, e).await)
            }
            (r, _) => done(r),
        },
        _ = incoming.cancel.cancelled() => {
            // Give the handler a moment to clean up (e.g. cancel its query on the server).
            let _ = tokio::time::timeout(Duration::from_secs(5), fut).await;
            Outcome::Err(ToolError::new(ErrorCode::Cancelled, "the call was cancelled"))
        }
        _ = tokio::time::sleep(deadline) => Outcome::Err(
            ToolError::new(ErrorCode::Timeout, format!("`{}` did not finish within {} s", def.name, deadline.as_secs()))
                .suggestion("Narrow the request, or pass a larger timeout_secs where the tool accepts one.")),
    }
}

/// A project tool's "not found": when its `project_id` is not among the
/// projects the token sees, says so and names the closest ref (or the ref
/// of a project with that name). Best effort: any failure keeps `e` as is.
async fn with_closest_project(
    state: &Arc<State>,
    inst: &crate::config::Instance,
    args: &Map<String, Value>,
    e: ToolError,
) -> ToolError {
    let Some(Value::String(given)) = args.get("project_id") else {
        return e;
    };
    let Ok(api) = state.clients.management(inst) else {
        return e;
    };
    let listed = tokio::time::timeout(
        Duration::from_secs(5),
        api.idempotent(|c| c.v1_list_all_projects()),
    )
    .await;
    let Ok(Ok(projects)) = listed else {
        return e;
    };
    if projects.iter().any(|p| p.ref_.as_str() == given) {
        // The project exists: what was not found is inside it.
        return e;
    }
    let by_name = projects
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case(given.trim()));
    let closest = by_name.or_else(|| {
        projects
            .iter()
            .map(|p| {
                (
                    crate::api::catalog::edit_distance(given, p.ref_.as_str()),
                    p,
                )
            })
            .filter(|(d, _)| *d <= 6)
            .min_by_key(|(d, _)| *d)
            .map(|(_, p)| p)
    });
    let hint = match closest {
        Some(p) => format!(
            "No project `{given}` is visible to this token; did you mean `{}` ({})? list_projects shows every project.",
            p.ref_.as_str(),
            p.name
        ),
        None => format!(
            "No project `{given}` is visible to this token ({} projects are); list_projects shows their refs.",
            projects.len()
        ),
    };
    e.suggestion(hint)
}

/// Turns an outcome into the MCP result: scrubbed, within budget, fenced.
pub fn finish(state: &State, outcome: Outcome, untrusted: bool) -> CallToolResult {
    let redactor = &state.config.redactor;
    let (env, is_error) = match outcome {
        Outcome::Ok(out) => {
            let mut data = out.data;
            redactor.scrub_json(&mut data);
            let mut warnings = out.warnings;
            // Text and structured content both carry the envelope: each gets half the budget.
            let budget = state.config.limits.output_budget_bytes / 2 - 1024;
            if data.to_string().len() > budget {
                match fit_budget(state, data, budget) {
                    Ok((fitted, warning)) => {
                        data = fitted;
                        warnings.push(warning);
                    }
                    Err(e) => {
                        return finish(state, Outcome::Err(e), false);
                    }
                }
            }
            (
                Envelope {
                    status: Status::Ok,
                    data,
                    warnings: warnings.iter().map(|w| redactor.scrub(w)).collect(),
                    error: None,
                },
                false,
            )
        }
        Outcome::Confirm { token, action, ttl } => {
            let action = redactor.scrub(&action);
            (
                Envelope {
                    status: Status::ConfirmationRequired,
                    data: json!({
                        "action": action,
                        "confirmation_token": token,
                        "expires_in_secs": ttl.as_secs(),
                        "next_step": "Show the user what will happen and ask them. If they agree, call the same tool again with the same arguments plus confirmation_token."
                    }),
                    warnings: Vec::new(),
                    error: None,
                },
                false,
            )
        }
        Outcome::Err(mut e) => {
            e.message = redactor.scrub(&e.message);
            e.reason = e.reason.map(|r| redactor.scrub(&r));
            e.suggestion = e.suggestion.map(|s| redactor.scrub(&s));
            (
                Envelope {
                    status: Status::Error,
                    data: Value::Null,
                    warnings: Vec::new(),
                    error: Some(e),
                },
                true,
            )
        }
    };
    let structured = serde_json::to_value(&env).unwrap_or(Value::Null);
    // Serialized from the struct, so `status` comes first.
    let body = serde_json::to_string(&env).unwrap_or_default();
    let text = match (&env.error, untrusted) {
        (Some(e), _) => e.to_text(),
        (None, true) => untrusted::wrap(&body, &untrusted::new_tag()),
        (None, false) => body,
    };
    let mut result = if is_error {
        CallToolResult::error(vec![ContentBlock::text(text)])
    } else {
        CallToolResult::success(vec![ContentBlock::text(text)])
    };
    result.structured_content = Some(structured);
    result
}

/// Moves the largest array in `data` to a spill file and keeps a preview.
fn fit_budget(state: &State, mut data: Value, budget: usize) -> Result<(Value, String), ToolError> {
    let spill_err = |e: crate::spill::SpillError| {
        ToolError::new(
            ErrorCode::Io,
            "the result is too large and could not be written to a spill file",
        )
        .reason(e.to_string())
        .suggestion("Check that --data-dir is writable, or narrow the request.")
    };
    let target: Option<&mut Vec<Value>> = match &mut data {
        Value::Array(a) => Some(a),
        Value::Object(m) => m
            .values_mut()
            .filter_map(|v| match v {
                Value::Array(a) => Some(a),
                _ => None,
            })
            .max_by_key(|a| a.len()),
        _ => None,
    };
    let items: Vec<Value> = match target {
        Some(a) => std::mem::take(a),
        None => vec![std::mem::take(&mut data)],
    };
    let total = items.len();
    let mut collector = RowCollector::always_spill(
        state.spill.clone(),
        Format::Jsonl,
        Vec::new(),
        20,
        budget / 2,
    )
    .map_err(spill_err)?;
    for it in items {
        collector.push(it).map_err(spill_err)?;
    }
    let collected = collector.finish().map_err(spill_err)?;
    let Some(spill) = collected.spill else {
        return Err(ToolError::internal(
            "the result could not be reduced to the output budget",
        ));
    };
    let warning = format!(
        "result too large for the {} byte budget: {} items written to {}; read more with get_result_page(result_id=\"{}\")",
        state.config.limits.output_budget_bytes, total, spill.path, spill.result_id
    );
    let mut preview = collected.rows;
    let mut size = 0;
    preview.retain(|r| {
        size += r.to_string().len();
        size <= budget / 2
    });
    let shown = preview.len();
    let fitted = match data {
        Value::Object(mut m) => {
            if let Some((_, slot)) = m
                .iter_mut()
                .find(|(_, v)| matches!(v, Value::Array(a) if a.is_empty()))
            {
                *slot = Value::Array(preview);
            }
            m.insert(
                "spill".into(),
                serde_json::to_value(&spill).unwrap_or(Value::Null),
            );
            m.insert("shown".into(), json!(shown));
            Value::Object(m)
        }
        _ => json!({"items": preview, "shown": shown, "spill": spill}),
    };
    Ok((fitted, warning))
}
