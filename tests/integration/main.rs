//! End-to-end tests of the broker: store, local runner, handle, and the conformance table.

mod batches;
mod browser;
#[cfg(feature = "webtransport")]
mod browser_webtransport;
mod conformance;
mod dashboard;
mod detached;
mod docs_examples;
mod examples;
mod executor;
mod fairness;
mod handle;
mod http_seed;
mod http_v1;
mod job_window;
mod layering;
mod many_providers;
mod native_provider;
mod openapi;
mod prefetch;
mod provider_assets;
mod providers;
mod redis_backend;
mod redis_depths;
mod redis_fairness;
mod redis_jobs;
mod redis_store;
mod redis_support;
mod scheduler;
mod store;
mod store_quota;
mod support;
mod task_spans;
mod trust;
#[cfg(feature = "webtransport")]
mod webtransport;
