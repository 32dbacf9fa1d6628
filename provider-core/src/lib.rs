//! The provider's side of the wasimoff protocol, free of I/O so that the browser provider
//! (compiled to wasm by `provider-js/`) and the native provider (`wasimoff::native`) drive the
//! same code: frames in, [`Action`]s out, results encoded as frames. It keeps the module cache
//! (least recently used out, the broker told with `evicted`), honours the broker's frame limit,
//! unpacks a task's rootfs and zips its artifacts where the executor cannot, and rewrites
//! modules so a browser can enforce memory limits ([`memory_limit`]) and reuse memories
//! between tasks ([`memory_import`]), and so wasmtime can interrupt them cheaply ([`interrupt`]).

pub mod artifacts;
pub mod interrupt;
pub mod memory_import;
pub mod memory_limit;
pub mod module_cache;
pub mod rootfs;
mod session;

pub use session::{Action, Config, Core, RESULT_HOLD_MS, RunTask};
pub use wasimoff_protocol::{ProviderKind, TaskErrorKind};
