//! `GET /api/v1/metrics`: the cluster state and task counters for Prometheus, in its text
//! exposition format (version 0.0.4) written by `prometheus-client`. The values live in the
//! broker ([`Wasimoff::cluster`], [`Wasimoff::outcome_counts`]); a collector reads them at
//! each scrape, so nothing is counted twice.

use super::reply;
use crate::Wasimoff;
use crate::layers::Body;
use http::{Response, StatusCode};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::prometheus_text::{self, CONTENT_TYPE};
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

/// The broker's metrics, read when scraped.
#[derive(Debug)]
struct BrokerCollector(Wasimoff);

impl Collector for BrokerCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let broker = &self.0;
        let help = "Tasks finished, by outcome (exited or an error kind).";
        let mut family = encoder.encode_descriptor("wasimoff_tasks", help, None, MetricType::Counter)?;
        for (outcome, count) in broker.outcome_counts() {
            ConstCounter::new(count).encode(family.encode_family(&[("outcome", outcome)])?)?;
        }

        let cluster = broker.cluster();
        gauge(&mut encoder, "wasimoff_queued_tasks", "Tasks waiting for a worker.", cluster.queued)?;
        gauge(&mut encoder, "wasimoff_providers", "Connected providers.", cluster.providers.len())?;
        let provider_workers: usize = cluster.providers.iter().map(|p| p.workers).sum();
        let provider_busy: usize = cluster.providers.iter().map(|p| p.busy).sum();
        by_runner(&mut encoder, "wasimoff_workers", "Workers, local runner and providers.", cluster.local.workers, provider_workers)?;
        by_runner(&mut encoder, "wasimoff_busy_workers", "Workers running a task.", cluster.local.busy, provider_busy)?;
        gauge(&mut encoder, "wasimoff_tasks_per_second", "Tasks finished per second over the last 10 s.", cluster.tasks_per_second)?;

        let verification = cluster.verification;
        let counters = [
            (
                "wasimoff_verified_tasks",
                "Tasks accepted after verification (a quorum, a confirming check, a trusted result).",
                verification.verified,
            ),
            ("wasimoff_verification_disagreements", "Verified tasks whose results disagreed at least once.", verification.disagreements),
            ("wasimoff_verification_spot_checks", "Results re-run on a trusted runner by spot checks.", verification.spot_checks),
            ("wasimoff_verification_strikes", "Strikes given to providers whose result lost a verification vote.", verification.strikes),
            ("wasimoff_verification_quarantines", "Providers quarantined after too many strikes.", verification.quarantines),
        ];
        let traffic = broker.provider_traffic();
        let frames = [("received", traffic.frames_received), ("sent", traffic.frames_sent)];
        let messages = [("received", traffic.messages_received), ("sent", traffic.messages_sent)];
        for (name, help, values) in [
            ("wasimoff_provider_frames", "Frames received from and sent to remote providers.", frames),
            ("wasimoff_provider_messages", "Protocol messages in those frames (several per frame in protocol version 2).", messages),
        ] {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            for (direction, value) in values {
                ConstCounter::new(value).encode(family.encode_family(&[("direction", direction)])?)?;
            }
        }
        for (name, help, value) in counters {
            ConstCounter::new(value).encode(encoder.encode_descriptor(name, help, None, MetricType::Counter)?)?;
        }
        Ok(())
    }
}

/// A gauge without labels.
fn gauge<N>(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: N) -> std::fmt::Result
where
    ConstGauge<N>: EncodeMetric,
{
    ConstGauge::new(value).encode(encoder.encode_descriptor(name, help, None, MetricType::Gauge)?)
}

/// A gauge with one value for the local runner and one for the providers (label `runner`).
fn by_runner(encoder: &mut DescriptorEncoder, name: &str, help: &str, local: usize, providers: usize) -> std::fmt::Result {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (runner, value) in [("local", local), ("providers", providers)] {
        ConstGauge::new(value).encode(family.encode_family(&[("runner", runner)])?)?;
    }
    Ok(())
}

/// The metrics page.
pub(super) fn metrics(broker: &Wasimoff) -> Response<Body> {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(BrokerCollector(broker.clone())));
    let mut text = String::new();
    match prometheus_text::encode(&mut text, &registry) {
        Ok(()) => reply::with_type(StatusCode::OK, CONTENT_TYPE, text),
        Err(error) => {
            reply::with_type(StatusCode::INTERNAL_SERVER_ERROR, "text/plain; charset=utf-8", format!("cannot encode the metrics: {error}"))
        }
    }
}
