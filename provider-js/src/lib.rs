//! The browser provider's core, compiled to wasm by wasm-pack and driven by `provider.js`:
//! it speaks the one broker protocol ([`wasimoff_protocol`]) for the JavaScript glue, keeps
//! the module cache bookkeeping, unpacks a task's rootfs, zips its artifacts and rewrites
//! modules so the browser can enforce memory limits. Transport, Web Workers and WASI stay in
//! JavaScript (`js/`).

mod action;
pub mod artifacts;
pub mod memory_limit;
pub mod module_cache;
pub mod rootfs;
pub mod session;

pub use action::Session;
