//! # wasimoff
//!
//! A computation-offloading broker for WebAssembly (WASI preview 1) tasks that lives inside
//! your own hyper or axum server. Clients upload modules and submit tasks; the broker runs
//! them — in visitors' browsers once providers connect, and otherwise in its own sandboxed
//! wasmtime runner, so a task always completes.
//!
//! This release holds the core: the content-addressed [`Store`], the local wasmtime runner
//! and the in-process [`Wasimoff`] handle.
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

pub mod archive;
mod base64_bytes;
mod digest;
mod handle;
mod limits;
mod prepare;
mod runner;
mod store;
mod task;

pub use digest::{DIGEST_PREFIX, Digest, DigestParseError};
pub use handle::{BuildError, Builder, Wasimoff};
pub use limits::{EffectiveLimits, Limits, TaskLimits};
pub use prepare::BLOB_ARGV0;
pub use store::{FileInfo, FileKind, Storage, Store, StoreError, Stored, Upload, check_alias, validate_wasm};
pub use task::{FileSource, Job, MountedFile, Task, TaskError, TaskErrorKind, TaskOutput};
