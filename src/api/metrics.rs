//! `GET /api/v1/metrics`: the cluster state and task counters in the Prometheus text
//! exposition format (version 0.0.4). The format is a few lines of text, so it is written
//! here rather than pulling in a metrics registry.

use super::reply;
use crate::Wasimoff;
use crate::layers::Body;
use http::{Response, StatusCode};
use std::fmt::Write;

fn metric(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(&str, f64)]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    for (labels, value) in samples {
        let _ = writeln!(out, "{name}{labels} {value}");
    }
}

/// The metrics page.
pub(super) fn metrics(broker: &Wasimoff) -> Response<Body> {
    let cluster = broker.cluster();
    let provider_workers: usize = cluster.providers.iter().map(|p| p.workers).sum();
    let provider_busy: usize = cluster.providers.iter().map(|p| p.busy).sum();
    let mut out = String::new();
    let outcomes: Vec<(String, f64)> =
        broker.outcome_counts().into_iter().map(|(outcome, count)| (format!("{{outcome=\"{outcome}\"}}"), count as f64)).collect();
    let outcomes: Vec<(&str, f64)> = outcomes.iter().map(|(labels, count)| (labels.as_str(), *count)).collect();
    metric(&mut out, "wasimoff_tasks_total", "counter", "Tasks finished, by outcome (exited or an error kind).", &outcomes);
    metric(&mut out, "wasimoff_queued_tasks", "gauge", "Tasks waiting for a worker.", &[("", cluster.queued as f64)]);
    metric(&mut out, "wasimoff_providers", "gauge", "Connected providers.", &[("", cluster.providers.len() as f64)]);
    metric(
        &mut out,
        "wasimoff_workers",
        "gauge",
        "Workers, local runner and providers.",
        &[("{runner=\"local\"}", cluster.local.workers as f64), ("{runner=\"providers\"}", provider_workers as f64)],
    );
    metric(
        &mut out,
        "wasimoff_busy_workers",
        "gauge",
        "Workers running a task.",
        &[("{runner=\"local\"}", cluster.local.busy as f64), ("{runner=\"providers\"}", provider_busy as f64)],
    );
    metric(
        &mut out,
        "wasimoff_tasks_per_second",
        "gauge",
        "Tasks finished per second over the last 10 s.",
        &[("", cluster.tasks_per_second)],
    );
    reply::with_type(StatusCode::OK, "text/plain; version=0.0.4; charset=utf-8", out)
}
