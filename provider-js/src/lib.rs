//! The browser provider's wasm face, built by wasm-pack and driven by `provider.js`: the
//! provider core ([`wasimoff_provider_core`]) with its actions and results as plain JavaScript
//! values (through serde-wasm-bindgen), and the task error kinds as a frozen object so the
//! JavaScript glue names no kind itself. Transport, Web Workers and WASI stay in JavaScript
//! (`js/`).

mod session;

pub use session::{Session, error_kinds};
