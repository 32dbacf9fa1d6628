//! # wasimoff
//!
//! A computation-offloading broker for WebAssembly (WASI preview 1) tasks that lives inside
//! your own hyper or axum server. Clients upload modules and submit tasks; the broker runs
//! them — in visitors' browsers once providers connect, and otherwise in its own sandboxed
//! wasmtime runner, so a task always completes.
//!
//! Mount it with [`layers::WasimoffLayer`] (from [`Builder::build_layer`]) in front of any
//! hyper or axum service, or nest [`Wasimoff::service`]; submit tasks in-process through the
//! [`Wasimoff`] handle. Files live in a content-addressed [`Store`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use wasimoff::{FileSource, Task, Upload, Wasimoff};
//!
//! let broker = Wasimoff::builder().build()?;
//! let stored = broker.store().put(std::fs::read("echo.wasm")?.into(), Upload::new().alias("echo.wasm")).await?;
//! let output = broker.run(Task::new(FileSource::reference("echo.wasm")).args(["echo", "hi"])).await?;
//! assert_eq!(output.status, 0);
//! # let _ = stored; Ok(()) }
//! ```
#![warn(missing_docs)]

mod api;
mod backend;
mod base64_bytes;
mod byte_fields;
mod cluster;
mod digest;
mod handle;
mod jobs;
pub mod layers;
mod limits;
pub mod native;
mod prepare;
mod providers;
mod runner;
mod scheduler;
mod store;
mod task;
mod throughput;
mod trust;
mod verify;
mod window;

pub use api::{ClientRoutes, PROVIDER_INFO, PROVIDER_WEBSOCKET, PROVIDER_WEBTRANSPORT, ROUTES};
pub use backend::Backend;
pub use cluster::{ClusterState, JobState, LocalState, ProviderState, VerificationStats};
pub use digest::{DIGEST_PREFIX, Digest, DigestParseError};
pub use handle::{BuildError, Builder, DEFAULT_PREFIX, Wasimoff};
pub use jobs::{JobHandle, JobPhase, JobStatus, SubmitJobError};
pub use limits::{EffectiveLimits, Limits, TaskLimits};
pub use prepare::BLOB_ARGV0;
pub use providers::{
    CertificateSource, InProcessProvider, OriginPolicy, ProviderInfo, ProviderTraffic, SelfSigned, WebTransport, WebTransportError,
    WebTransportInfo,
};
pub use scheduler::{FallbackPolicy, ProviderLimitReached};
pub use store::{FileInfo, FileKind, Storage, Store, StoreError, StoreUsage, Stored, Upload, check_alias, validate_wasm};
pub use task::{FileSource, Job, LOCAL, MountedFile, Task, TaskError, TaskErrorKind, TaskOutput};
pub use throughput::{RATE_WINDOW, THROUGHPUT_HISTORY, ThroughputHistory};
pub use trust::{Admission, AdmissionRequest, RemoteAddress, Trust};
pub use verify::{EXTRA_REPLICAS, MAX_REPLICAS, Verify};
pub use wasimoff_archive as archive;
pub use wasimoff_protocol as protocol;
