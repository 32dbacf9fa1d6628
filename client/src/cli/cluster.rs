//! `wasimoff cluster` and `wasimoff top`: the cluster view as a table.

use crate::{Failure, Outcome};
use std::fmt::Write as _;
use std::time::Duration;
use wasimoff_client::Client;
use wasimoff_client::api::ClusterView;

/// `wasimoff cluster`: the view once, as a table or as the broker's JSON.
pub(crate) async fn once(client: &Client, json: bool) -> Result<Outcome, Failure> {
    let cluster = client.cluster().await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&cluster).map_err(|error| Failure::Local(error.to_string()))?);
    } else {
        print!("{}", render(client.base(), &cluster));
    }
    Ok(Outcome::Success)
}

/// `wasimoff top`: the view redrawn every `interval` seconds until interrupted.
pub(crate) async fn top(client: &Client, interval: f64) -> Result<Outcome, Failure> {
    let interval = Duration::try_from_secs_f64(interval)
        .ok()
        .filter(|interval| !interval.is_zero())
        .ok_or_else(|| Failure::Local(format!("--interval {interval}: give a positive number of seconds")))?;
    loop {
        let cluster = client.cluster().await?;
        print!("\x1b[2J\x1b[H{}", render(client.base(), &cluster));
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = tokio::signal::ctrl_c() => return Ok(Outcome::Success),
        }
    }
}

/// The view as text: a summary, then providers and jobs as tables.
fn render(base: &str, cluster: &ClusterView) -> String {
    let mut text = String::new();
    let workers: usize = cluster.providers.iter().map(|provider| provider.workers).sum();
    let busy: usize = cluster.providers.iter().map(|provider| provider.busy).sum();
    let _ = writeln!(text, "broker     {base}");
    let _ = writeln!(text, "throughput {:.1} tasks/s", cluster.tasks_per_second);
    let _ = writeln!(text, "queue      {} waiting (capacity {})", cluster.queued, cluster.queue_capacity);
    let local = &cluster.local;
    let _ = writeln!(text, "local      {} workers, {} busy, {} done", local.workers, local.busy, local.tasks_done);
    let _ = writeln!(text, "providers  {}: {workers} workers, {busy} busy", cluster.providers.len());
    if !cluster.providers.is_empty() {
        let _ = writeln!(
            text,
            "  {:<6} {:<8} {:<12} {:<10} {:>7} {:>5} {:>8} {:>7}  NAME",
            "ID", "KIND", "TRANSPORT", "TRUST", "WORKERS", "BUSY", "DONE", "STRIKES"
        );
        for provider in &cluster.providers {
            let _ = writeln!(
                text,
                "  {:<6} {:<8} {:<12} {:<10} {:>7} {:>5} {:>8} {:>7}  {}{}",
                provider.id,
                name(provider.kind),
                name(provider.transport),
                name(provider.trust),
                provider.workers,
                provider.busy,
                provider.tasks_done,
                provider.strikes,
                provider.name,
                if provider.quarantined { " (quarantined)" } else { "" }
            );
        }
    }
    let _ = writeln!(text, "jobs       {}", cluster.jobs.len());
    if !cluster.jobs.is_empty() {
        let _ = writeln!(text, "  {:>6} {:>8} {:>7} {:>7}", "JOB", "PRIORITY", "QUEUED", "RUNNING");
        for job in &cluster.jobs {
            let _ = writeln!(text, "  {:>6} {:>8} {:>7} {:>7}", job.job, job.priority, job.queued, job.running);
        }
    }
    let stats = &cluster.verification;
    let _ = writeln!(
        text,
        "verified   {}, {} disagreements, {} unverified, {} spot checks, {} strikes, {} quarantines",
        stats.verified, stats.disagreements, stats.unverified, stats.spot_checks, stats.strikes, stats.quarantines
    );
    text
}

/// A unit enum's JSON name (`browser`, `websocket`, `trusted`, …).
fn name(value: impl serde::Serialize) -> String {
    serde_json::to_value(value).ok().and_then(|value| value.as_str().map(str::to_string)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_view_renders_as_a_table() {
        let cluster: ClusterView = serde_json::from_str(
            r#"{"providers": [{"id": "p3", "kind": "native", "name": "box", "transport": "websocket", "workers": 4, "busy": 2,
                "tasks_done": 10, "modules_cached": 1, "trust": "trusted", "verified": 0, "strikes": 1, "quarantined": false}],
                "local": {"workers": 2, "busy": 0, "tasks_done": 9}, "queued": 3,
                "jobs": [{"job": 7, "priority": 0, "queued": 3, "running": 2}], "queue_capacity": 1024, "tasks_per_second": 12.5,
                "verification": {"verified": 1, "disagreements": 0, "unverified": 0, "spot_checks": 0, "strikes": 1, "quarantines": 0}}"#,
        )
        .expect("a recorded cluster view");
        assert_eq!(
            render("http://b/wasimoff", &cluster),
            "broker     http://b/wasimoff\n\
             throughput 12.5 tasks/s\n\
             queue      3 waiting (capacity 1024)\n\
             local      2 workers, 0 busy, 9 done\n\
             providers  1: 4 workers, 2 busy\n  \
             ID     KIND     TRANSPORT    TRUST      WORKERS  BUSY     DONE STRIKES  NAME\n  \
             p3     native   websocket    trusted          4     2       10       1  box\n\
             jobs       1\n     \
             JOB PRIORITY  QUEUED RUNNING\n       \
             7        0       3       2\n\
             verified   1, 0 disagreements, 0 unverified, 0 spot checks, 1 strikes, 0 quarantines\n"
        );
    }
}
