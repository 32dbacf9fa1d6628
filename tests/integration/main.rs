//! End-to-end tests of the broker: store, local runner, handle, and the conformance table.

mod conformance;
mod handle;
mod store;
mod support;
