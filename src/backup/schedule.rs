//! Scheduled backups: when the configuration has a backup schedule, `serve`
//! runs a backup of the scheduled instance every interval (first one after
//! one interval), then applies the schedule's retention policy if it has
//! one. Each run is written to the audit log as `scheduled_backup` /
//! `scheduled_retention`, with its outcome.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::json;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::manifest::{Filter, Manifest};
use super::retention::{self, Policy};
use super::service::{self, BackupRequest};
use crate::audit::Entry;
use crate::server::State;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error(
        "backup interval `{0}` is not valid: use a number and a unit (s, m, h, d), e.g. 6h or 1d"
    )]
    Interval(String),
}

/// The schedule from the configuration.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub every: Duration,
    /// Instance to back up (default: the first).
    pub instance: Option<String>,
    pub tags: Vec<String>,
    pub retention: Option<Policy>,
}

/// `90s`, `15m`, `6h`, `1d` → a duration of at least one second.
pub fn parse_interval(s: &str) -> Result<Duration, ScheduleError> {
    let t = s.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| ScheduleError::Interval(s.to_owned()))?;
    let (n, unit) = t.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| ScheduleError::Interval(s.to_owned()))?;
    let secs = match unit {
        "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        "d" => n.saturating_mul(86_400),
        _ => return Err(ScheduleError::Interval(s.to_owned())),
    };
    if secs == 0 {
        return Err(ScheduleError::Interval(s.to_owned()));
    }
    Ok(Duration::from_secs(secs))
}

fn audit(
    state: &State,
    instance: &str,
    tool: &str,
    args: serde_json::Value,
    outcome: Result<(), String>,
    started: Instant,
) {
    let entry = Entry {
        ts: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        instance,
        tool,
        arguments: args,
        outcome: if outcome.is_ok() { "ok" } else { "error" },
        error_code: outcome.err(),
        duration_ms: started.elapsed().as_millis(),
    };
    if let Err(e) = state.audit.record(entry) {
        tracing::warn!("{e}");
    }
}

/// One scheduled run: a backup, then the retention policy.
pub async fn run_once(state: &Arc<State>, schedule: &Schedule, cancel: &CancellationToken) {
    let Some(inst) = state.config.instance(schedule.instance.as_deref()) else {
        tracing::warn!("scheduled backup: no such instance");
        return;
    };
    let inst = inst.clone();
    let cfg = &state.config.backup;
    let req = BackupRequest {
        encrypt: cfg.passphrase.is_some() || cfg.key_file.is_some(),
        tags: schedule.tags.clone(),
        ..Default::default()
    };
    let started = Instant::now();
    let made = service::create_backup(state, &inst, &req, cancel, |_| {}).await;
    let args = json!({"tags": schedule.tags, "every_secs": schedule.every.as_secs()});
    match &made {
        Ok(e) => {
            tracing::info!("scheduled backup {} done", e.id);
            if let Err(x) = service::copy_offsite(cfg, e).await {
                tracing::warn!(
                    "scheduled backup {}: the copy to S3 failed: {}",
                    e.id,
                    x.message
                );
            }
            audit(
                state,
                &inst.name,
                "scheduled_backup",
                json!({"id": e.id, "args": args}),
                Ok(()),
                started,
            );
        }
        Err(e) => {
            tracing::warn!("scheduled backup failed: {}", e.message);
            audit(
                state,
                &inst.name,
                "scheduled_backup",
                args,
                Err(e.message.clone()),
                started,
            );
            return;
        }
    }
    let Some(policy) = &schedule.retention else {
        return;
    };
    let started = Instant::now();
    let outcome = (|| {
        let m = Manifest::load(&cfg.dir).map_err(|e| e.to_string())?;
        let mine = m.list(&Filter {
            instance: Some(inst.name.clone()),
            ..Default::default()
        });
        let plan = retention::plan(mine, policy, Utc::now()).map_err(|e| e.to_string())?;
        let mut deleted = Vec::new();
        for d in &plan.delete {
            service::delete_backup(cfg, &d.id).map_err(|e| e.message)?;
            deleted.push(d.id.clone());
        }
        Ok::<_, String>(deleted)
    })();
    match outcome {
        Ok(deleted) => audit(
            state,
            &inst.name,
            "scheduled_retention",
            json!({"deleted": deleted}),
            Ok(()),
            started,
        ),
        Err(e) => {
            tracing::warn!("scheduled retention failed: {e}");
            audit(
                state,
                &inst.name,
                "scheduled_retention",
                json!({}),
                Err(e),
                started,
            )
        }
    }
}

/// Starts the schedule's loop; it stops when `cancel` fires.
pub fn spawn(state: Arc<State>, schedule: Schedule, cancel: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(schedule.every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tick.tick() => run_once(&state, &schedule, &cancel).await,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_interval("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_interval(" 6h ").unwrap(), Duration::from_secs(21_600));
        assert_eq!(parse_interval("1d").unwrap(), Duration::from_secs(86_400));
        for bad in ["", "6", "h", "0s", "5y", "-1h", "1.5h"] {
            assert!(parse_interval(bad).is_err(), "{bad}");
        }
    }
}
