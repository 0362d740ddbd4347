//! The `backups` group: `backup_database`, `list_backups`, `get_backup`,
//! `verify_backup`, `delete_backup`, `apply_retention` and
//! `restore_backup`, over [`crate::backup::service`]. Keys never pass
//! through tool arguments: encryption uses the passphrase or key file the
//! server was started with.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{Kind, Scope, ToolDef, tool};
use crate::api::generated::management::types::{ProjectRef, V1RestorePitrBody};
use crate::backup::compress::Compression;
use crate::backup::manifest::{Entry, Filter, Manifest};
use crate::backup::pipeline::Format;
use crate::backup::retention::{self, Policy};
use crate::backup::service::{self, BackupRequest, RestoreRequest};
use crate::groups::Group;
use crate::result::{ToolError, ToolOutput};
use crate::server::call::{Call, ProgressForwarder, parse_project_ref};

pub fn tools() -> Vec<ToolDef> {
    vec![
        tool("backup_database", Group::Backups, Kind::Write)
            .title("Back up the database")
            .description("pg_dump streamed through zstd/gzip and AES-256-GCM (when a backup key is configured and `encrypt`) into the backup directory, verified, recorded in the manifest with row counts. Full, schema-only, data-only or a subset.")
            .long_running()
            .handler(backup_database),
        tool("list_backups", Group::Backups, Kind::Read)
            .title("List backups")
            .description("Backups in the manifest, newest first: id, time, kind, sizes, compression, encryption, tags. Filter by instance, database, tag, time.")
            .handler(list_backups),
        tool("get_backup", Group::Backups, Kind::Read)
            .title("Get a backup")
            .description("One backup's manifest entry (id or unique id prefix), with row counts and extensions.")
            .handler(get_backup),
        tool("verify_backup", Group::Backups, Kind::Read)
            .title("Verify a backup")
            .description("Re-read a backup: SHA-256 against the manifest, decryption (every chunk authenticated), decompression, and pg_restore --list for custom format.")
            .long_running()
            .handler(verify_backup),
        tool("delete_backup", Group::Backups, Kind::Destructive)
            .title("Delete a backup")
            .description("Delete a backup's file and its manifest entry.")
            .handler(delete_backup),
        tool("apply_retention", Group::Backups, Kind::Write)
            .title("Apply a retention policy")
            .description("Keep the last N and/or N daily/weekly/monthly backups and/or those younger than max_age, per instance and database; delete the rest. `dry_run` (default) only shows the plan.")
            .assess(assess_retention)
            .handler(apply_retention),
        tool("list_cloud_backups", Group::Backups, Kind::Read)
            .title("List cloud backups")
            .description("A cloud project's daily backups and point-in-time recovery window, from the Management API.")
            .scope(Scope::Project)
            .handler(list_cloud_backups),
        tool("restore_cloud_pitr", Group::Backups, Kind::Destructive)
            .title("Point-in-time restore (cloud)")
            .description("Restore a cloud project's database to a moment inside its PITR window (Management API). Replaces the current data; needs confirmation.")
            .scope(Scope::Project)
            .handler(restore_cloud_pitr),
        tool("restore_backup", Group::Backups, Kind::Write)
            .title("Restore a backup")
            .description("Restore into a new database (`new_database`, dropped again if the restore fails) or over the instance's database (needs confirmation). Checks version, extensions and hash first; compares row counts after.")
            .assess(assess_restore)
            .long_running()
            .handler(restore_backup),
    ]
}

/// The `compression` argument of the backup tools.
pub(super) fn parse_compression(s: Option<&str>) -> Result<Compression, ToolError> {
    match s {
        None => Ok(Compression::default()),
        Some(s) => s
            .parse()
            .map_err(|e: crate::backup::compress::CompressError| {
                ToolError::invalid(e.to_string())
                    .suggestion("Use zstd, zstd:<1-22>, gzip, gzip:<0-9> or none.")
            }),
    }
}

fn entry_json(e: &Entry, full: bool) -> Value {
    let mut v = serde_json::to_value(e).unwrap_or(Value::Null);
    if !full && let Some(m) = v.as_object_mut() {
        let tables = e.row_counts.len();
        m.remove("row_counts");
        m.remove("extensions");
        m.remove("extra");
        m.insert("tables".into(), json!(tables));
    }
    // The fingerprint's digests mean nothing to a reader: its size does.
    if let Some(m) = v.as_object_mut()
        && let Some(f) = m.remove(service::SCHEMA_FINGERPRINT)
    {
        let n = f.as_object().map(|o| o.len()).unwrap_or(0);
        m.insert("schema_objects".into(), json!(n));
    }
    v
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupArgs {
    /// `full` (default), `schema` (no data) or `data` (no schema).
    #[serde(default)]
    pub r#type: Option<String>,
    /// Only these schemas.
    #[serde(default)]
    pub schemas: Vec<String>,
    /// Leave out these schemas.
    #[serde(default)]
    pub exclude_schemas: Vec<String>,
    /// Only these tables (`schema.table`).
    #[serde(default)]
    pub tables: Vec<String>,
    /// Leave out these tables.
    #[serde(default)]
    pub exclude_tables: Vec<String>,
    /// Leave out the schemas Supabase manages (auth, storage, realtime...).
    #[serde(default)]
    pub exclude_supabase_managed: bool,
    /// `custom` (default; selective and parallel restore) or `plain` SQL.
    #[serde(default)]
    pub format: Option<String>,
    /// `zstd` (default, level 3), `zstd:19`, `gzip:6`, `none`.
    #[serde(default)]
    pub compression: Option<String>,
    /// Encrypt with the configured backup key (default: when one is configured).
    #[serde(default)]
    pub encrypt: Option<bool>,
    /// Labels to find the backup by.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Also save the roles and their attributes (no passwords).
    #[serde(default)]
    pub include_roles: bool,
}

async fn backup_database(call: Call, a: BackupArgs) -> Result<ToolOutput, ToolError> {
    let (schema_only, data_only) = match a.r#type.as_deref().unwrap_or("full") {
        "full" => (false, false),
        "schema" => (true, false),
        "data" => (false, true),
        other => {
            return Err(ToolError::invalid(format!("`type` {other} is not known"))
                .suggestion("Use full, schema or data."));
        }
    };
    let format = match a.format.as_deref().unwrap_or("custom") {
        "custom" => Format::Custom,
        "plain" => Format::Plain,
        other => {
            return Err(ToolError::invalid(format!("`format` {other} is not known"))
                .suggestion("Use custom or plain."));
        }
    };
    let cfg = &call.state.config.backup;
    let key_configured = cfg.passphrase.is_some() || cfg.key_file.is_some();
    let req = BackupRequest {
        schema_only,
        data_only,
        schemas: a.schemas,
        exclude_schemas: a.exclude_schemas,
        tables: a.tables,
        exclude_tables: a.exclude_tables,
        exclude_supabase_managed: a.exclude_supabase_managed,
        format,
        compression: parse_compression(a.compression.as_deref())?,
        encrypt: a.encrypt.unwrap_or(key_configured),
        tags: a.tags,
        include_roles: a.include_roles,
    };
    let started = std::time::Instant::now();
    let progress = ProgressForwarder::start(&call, 0u64, |n| {
        (n, None, format!("{} MiB dumped", n / (1024 * 1024)))
    });
    let result = service::create_backup(&call.state, &call.instance, &req, &call.cancel, |n| {
        progress.update(n)
    })
    .await;
    progress.finish().await;
    let entry = result?;
    let offsite = service::copy_offsite(cfg, &entry).await;
    let mut out = ToolOutput::trusted(json!({
        "backup": entry_json(&entry, false),
        "path": cfg.dir.join(&entry.file).display().to_string(),
        "verified": true,
        "offsite": offsite.as_ref().ok().cloned().flatten(),
        "duration_ms": started.elapsed().as_millis() as u64,
    }));
    if let Err(e) = offsite {
        out = out.warn(format!(
            "the backup is kept locally, but the copy to S3 failed: {}",
            e.message
        ));
    }
    if !req.encrypt {
        out = out.warn(if key_configured {
            "not encrypted (`encrypt: false`)"
        } else {
            "not encrypted: start the server with --backup-passphrase or --backup-key-file to encrypt backups"
        });
    }
    Ok(out)
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListBackupsArgs {
    /// Only backups of this database.
    #[serde(default)]
    pub database: Option<String>,
    /// Only backups with this tag.
    #[serde(default)]
    pub tag: Option<String>,
    /// Only backups made at or after this time (RFC 3339).
    #[serde(default)]
    pub since: Option<DateTime<Utc>>,
    /// Only backups made at or before this time (RFC 3339).
    #[serde(default)]
    pub until: Option<DateTime<Utc>>,
    /// Most backups to return (default 50).
    #[serde(default)]
    pub limit: Option<usize>,
    /// `local` (default) or `s3` (the S3 storage's manifest).
    #[serde(default)]
    pub location: Option<String>,
}

async fn list_backups(call: Call, a: ListBackupsArgs) -> Result<ToolOutput, ToolError> {
    let cfg = call.state.config.backup.clone();
    let m = match a.location.as_deref().unwrap_or("local") {
        "local" => service::load_manifest(&cfg)?,
        "s3" => Manifest {
            entries: service::offsite_entries(&cfg).await?,
            ..Default::default()
        },
        other => {
            return Err(
                ToolError::invalid(format!("`location` {other} is not known"))
                    .suggestion("Use local or s3."),
            );
        }
    };
    let filter = Filter {
        instance: Some(call.instance.name.clone()),
        database: a.database,
        tag: a.tag,
        since: a.since,
        until: a.until,
    };
    let mut all: Vec<&Entry> = m.list(&filter);
    all.reverse();
    let total = all.len();
    let limit = a.limit.unwrap_or(50).clamp(1, 1000);
    let items: Vec<Value> = all
        .iter()
        .take(limit)
        .map(|e| entry_json(e, false))
        .collect();
    let check = Manifest::check(&cfg.dir).ok();
    let mut out = ToolOutput::trusted(json!({
        "backups": items,
        "total": total,
        "directory": cfg.dir.display().to_string(),
    }));
    if let Some(c) = check {
        for m in &c.missing {
            out = out.warn(format!("backup {} has no file ({})", m.id, m.file));
        }
        for o in &c.orphans {
            out = out.warn(format!(
                "{o} is in the backup directory but not in the manifest"
            ));
        }
        for s in &c.size_mismatches {
            out = out.warn(format!(
                "backup {}: the file is {} bytes, the manifest says {}",
                s.id, s.actual, s.expected
            ));
        }
    }
    Ok(out)
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupIdArgs {
    /// Backup id, or a unique prefix of one.
    pub id: String,
}

async fn get_backup(call: Call, a: BackupIdArgs) -> Result<ToolOutput, ToolError> {
    let e = service::find_entry(&call.state.config.backup, &a.id)?;
    Ok(ToolOutput::trusted(json!({"backup": entry_json(&e, true)})))
}

async fn verify_backup(call: Call, a: BackupIdArgs) -> Result<ToolOutput, ToolError> {
    let (entry, v) = service::verify_backup(&call.state, &a.id, &call.cancel).await?;
    Ok(ToolOutput::trusted(json!({
        "id": entry.id,
        "ok": true,
        "sha256": v.sha256,
        "stored_bytes": v.stored_bytes,
        "raw_bytes": v.raw_bytes,
        "encrypted": v.encrypted,
        "toc_entries": v.toc_entries,
    })))
}

async fn delete_backup(call: Call, a: BackupIdArgs) -> Result<ToolOutput, ToolError> {
    let cfg = call.state.config.backup.clone();
    let entry = match service::find_entry(&cfg, &a.id) {
        Ok(e) => e,
        Err(local) => match service::offsite_entries(&cfg).await {
            Ok(list) => match list.into_iter().find(|e| e.id == a.id) {
                Some(e) => e,
                None => return Err(local),
            },
            Err(_) => return Err(local),
        },
    };
    let (c2, id) = (cfg.clone(), entry.id.clone());
    let local = tokio::task::spawn_blocking(move || service::delete_backup(&c2, &id))
        .await
        .map_err(|e| ToolError::internal(e.to_string()))?;
    let remote = service::delete_offsite(&cfg, &entry).await?;
    if let Err(e) = &local
        && !remote
    {
        return Err(e.clone());
    }
    Ok(ToolOutput::trusted(json!({
        "deleted": entry.id,
        "file": entry.file,
        "local": local.is_ok(),
        "offsite": remote,
    })))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetentionArgs {
    /// Keep the N newest backups.
    #[serde(default)]
    pub keep_last: Option<u32>,
    /// Keep the newest backup of each of the last N days that have backups.
    #[serde(default)]
    pub daily: Option<u32>,
    /// Same per ISO week.
    #[serde(default)]
    pub weekly: Option<u32>,
    /// Same per month.
    #[serde(default)]
    pub monthly: Option<u32>,
    /// Keep everything younger than this (`12h`, `30d`, `8w`).
    #[serde(default)]
    pub max_age: Option<String>,
    /// Only show the plan (default true).
    #[serde(default)]
    pub dry_run: Option<bool>,
}

fn assess_retention(args: &Map<String, Value>) -> Option<String> {
    (args.get("dry_run").and_then(Value::as_bool) == Some(false))
        .then(|| "deletes the backups the retention policy does not keep".to_owned())
}

async fn apply_retention(call: Call, a: RetentionArgs) -> Result<ToolOutput, ToolError> {
    let policy = Policy {
        keep_last: a.keep_last,
        daily: a.daily,
        weekly: a.weekly,
        monthly: a.monthly,
        max_age: match &a.max_age {
            Some(s) => Some(s.parse().map_err(|e: retention::RetentionError| {
                ToolError::invalid(e.to_string()).suggestion("Use e.g. 12h, 30d or 8w.")
            })?),
            None => None,
        },
        allow_keep_nothing: false,
    };
    let cfg = call.state.config.backup.clone();
    let m = service::load_manifest(&cfg)?;
    let mine: Vec<&Entry> = m.list(&Filter {
        instance: Some(call.instance.name.clone()),
        ..Default::default()
    });
    let plan = retention::plan(mine, &policy, Utc::now()).map_err(|e| {
        ToolError::invalid(e.to_string())
            .suggestion("Give at least one of keep_last, daily, weekly, monthly, max_age.")
    })?;
    let dry_run = a.dry_run.unwrap_or(true);
    let mut deleted = Vec::new();
    let mut failed = Vec::new();
    if !dry_run {
        for d in &plan.delete {
            let cfg = cfg.clone();
            let id = d.id.clone();
            match tokio::task::spawn_blocking(move || service::delete_backup(&cfg, &id)).await {
                Ok(Ok(e)) => deleted.push(e.id),
                Ok(Err(e)) => failed.push(format!("{}: {}", d.id, e.message)),
                Err(e) => failed.push(format!("{}: {e}", d.id)),
            }
        }
    }
    let mut out = ToolOutput::trusted(json!({
        "dry_run": dry_run,
        "keep": serde_json::to_value(&plan.keep).unwrap_or(Value::Null),
        "delete": serde_json::to_value(&plan.delete).unwrap_or(Value::Null),
        "deleted": deleted,
    }));
    for f in failed {
        out = out.warn(format!("not deleted: {f}"));
    }
    Ok(out)
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreArgs {
    /// Backup id, or a unique prefix of one.
    pub id: String,
    /// Create this database and restore into it. Without it, the backup is
    /// restored over the instance's database (destructive).
    #[serde(default)]
    pub new_database: Option<String>,
    /// Drop existing objects before recreating them.
    #[serde(default)]
    pub clean: bool,
    /// Do not restore object ownership.
    #[serde(default)]
    pub no_owner: bool,
    /// Parallel pg_restore jobs (custom format; default 1 = streamed).
    #[serde(default)]
    pub jobs: Option<u32>,
    /// Keep a newly created database when the restore fails.
    #[serde(default)]
    pub keep_on_failure: bool,
    /// Only restore these schemas (custom format).
    #[serde(default)]
    pub schemas: Vec<String>,
    /// First create the roles saved with the backup (existing ones are kept).
    #[serde(default)]
    pub restore_roles: bool,
}

fn assess_restore(args: &Map<String, Value>) -> Option<String> {
    let into_new = args.get("new_database").and_then(Value::as_str).is_some();
    (!into_new).then(|| {
        "restores over the instance's database, replacing the objects the backup contains"
            .to_owned()
    })
}

async fn restore_backup(call: Call, a: RestoreArgs) -> Result<ToolOutput, ToolError> {
    let jobs = a.jobs.unwrap_or(1);
    if !(1..=16).contains(&jobs) {
        return Err(ToolError::invalid("`jobs` must be from 1 to 16"));
    }
    let req = RestoreRequest {
        id: a.id,
        new_database: a.new_database,
        clean: a.clean,
        no_owner: a.no_owner,
        jobs,
        keep_on_failure: a.keep_on_failure,
        schemas: a.schemas,
        restore_roles: a.restore_roles,
    };
    let progress = ProgressForwarder::start(&call, service::RestoreProgress::default(), |p| {
        let mut message = format!(
            "{} of {} MiB of the archive read",
            p.bytes / (1024 * 1024),
            p.total_bytes / (1024 * 1024)
        );
        if p.tables_total > 0 {
            message.push_str(&format!(
                ", data of {} of {} tables restored",
                p.tables_done.min(p.tables_total),
                p.tables_total
            ));
        }
        // Bytes then tables: one number that grows whenever either does.
        (
            p.bytes + p.tables_done,
            Some(p.total_bytes.max(p.bytes) + p.tables_total.max(p.tables_done)),
            message,
        )
    });
    let result = service::restore_backup(&call.state, &call.instance, &req, &call.cancel, |p| {
        progress.update(p)
    })
    .await;
    progress.finish().await;
    let report = result?;
    let mut data = serde_json::to_value(&report).unwrap_or(Value::Null);
    data["row_counts_match"] = json!(report.tables_checked > 0);
    Ok(ToolOutput::untrusted(data))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CloudProjectArgs {
    /// Project ref (20 lowercase letters).
    #[serde(default)]
    pub project_id: Option<String>,
}

fn project_ref(call: &Call, given: Option<&str>) -> Result<ProjectRef, ToolError> {
    let Some(r) = given.or(call.instance.project_ref.as_deref()) else {
        return Err(ToolError::invalid("`project_id` is required")
            .suggestion("Pass project_id, or start the server with --project-ref."));
    };
    parse_project_ref(r)
}

async fn list_cloud_backups(call: Call, a: CloudProjectArgs) -> Result<ToolOutput, ToolError> {
    let project = project_ref(&call, a.project_id.as_deref())?;
    let api = call.state.clients.management(&call.instance)?;
    let b = api
        .idempotent(|c| c.v1_list_all_backups(&project))
        .await
        .map_err(ToolError::from)?;
    let mut data = serde_json::to_value(&b).unwrap_or(Value::Null);
    data["project_id"] = json!(project.as_str());
    Ok(ToolOutput::trusted(data))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PitrArgs {
    /// Project ref (20 lowercase letters).
    #[serde(default)]
    pub project_id: Option<String>,
    /// The moment to restore to (RFC 3339, e.g. 2026-11-25T08:00:00Z).
    pub recovery_time: DateTime<Utc>,
}

async fn restore_cloud_pitr(call: Call, a: PitrArgs) -> Result<ToolOutput, ToolError> {
    let project = project_ref(&call, a.project_id.as_deref())?;
    let target = a.recovery_time.timestamp();
    if a.recovery_time > Utc::now() {
        return Err(ToolError::invalid("`recovery_time` is in the future")
            .suggestion("Pick a moment inside the PITR window that list_cloud_backups shows."));
    }
    let api = call.state.clients.management(&call.instance)?;
    let backups = api
        .idempotent(|c| c.v1_list_all_backups(&project))
        .await
        .map_err(ToolError::from)?;
    if !backups.pitr_enabled {
        return Err(ToolError::invalid("point-in-time recovery is not enabled for this project")
            .suggestion("Enable the PITR add-on in the dashboard, or restore a daily backup from the dashboard."));
    }
    {
        let p = &backups.physical_backup_data;
        let earliest = p.earliest_physical_backup_date_unix;
        let latest = p.latest_physical_backup_date_unix;
        if earliest.is_some_and(|e| target < e) || latest.is_some_and(|l| target > l) {
            return Err(ToolError::invalid(format!(
                "{} is outside the recovery window",
                a.recovery_time.to_rfc3339()
            ))
            .reason(format!(
                "the window is {} .. {}",
                earliest
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| "?".into()),
                latest.map(|e| e.to_string()).unwrap_or_else(|| "?".into())
            ))
            .suggestion("Pick a moment inside the window (seconds since the epoch shown)."));
        }
    }
    let body = V1RestorePitrBody {
        recovery_time_target_unix: target,
    };
    api.call(|c| c.v1_restore_pitr_backup(&project, &body))
        .await
        .map_err(ToolError::from)?;
    Ok(ToolOutput::trusted(json!({
        "project_id": project.as_str(),
        "recovery_time_target_unix": target,
        "started": true,
        "next_step": "The project is restoring; watch its status with get_project (or the dashboard).",
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backups_and_restores_have_no_default_time_limit() {
        for t in tools() {
            let long = matches!(
                t.name,
                "backup_database" | "verify_backup" | "restore_backup"
            );
            assert_eq!(t.long_running, long, "{}", t.name);
        }
    }
}
