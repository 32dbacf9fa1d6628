//! The native provider: a server joins a broker as a provider over the same protocol and runs
//! tasks with the same wasmtime runner the broker uses locally.
//!
//! It drives the provider core the browser provider drives too
//! ([`wasimoff_provider_core`]): modules kept least recently used first out (the broker told
//! with `evicted`), the broker's frame limit honoured, and tasks the broker sends beyond the
//! workers (bounded prefetch) queued until a worker frees. Modules compile on the runner's threads,
//! so the session keeps answering pings while a large module compiles. It connects like the
//! browser: over WebTransport when the broker offers it (`{prefix}/provider/info`), falling
//! back to WebSocket at any error or after 3 s of silence.
//!
//! ```no_run
//! # async fn demo() -> Result<(), wasimoff::native::ProviderError> {
//! wasimoff::native::NativeProvider::new("ws://127.0.0.1:4080/wasimoff/provider/ws").workers(4).run().await
//! # }
//! ```

mod connect;
#[cfg(feature = "webtransport")]
mod info;
mod link;
mod session;
#[cfg(feature = "webtransport")]
mod webtransport;

use crate::Limits;
use crate::runner::LocalRunner;
use crate::store::{Storage, Store};
use std::fmt;
use std::str::FromStr;
use wasimoff_provider_core::Config;

/// Why a provider session ended or could not start.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The broker could not be reached.
    #[error("cannot connect to the broker: {0}")]
    Connect(String),
    /// The broker refused the provider.
    #[error("the broker refused this provider: {0}")]
    Refused(String),
    /// The connection broke or the broker sent something unexpected.
    #[error("connection lost: {0}")]
    Connection(String),
    /// The local runner could not start.
    #[error("cannot start the runner: {0}")]
    Runner(String),
}

/// Which transport the provider uses.
///
/// ```
/// use wasimoff::native::TransportChoice;
/// assert_eq!("webtransport".parse::<TransportChoice>(), Ok(TransportChoice::WebTransport));
/// assert_eq!(TransportChoice::Auto.to_string(), "auto");
/// assert!("carrier-pigeon".parse::<TransportChoice>().is_err());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TransportChoice {
    /// WebTransport when the broker offers it, else (or when it fails) WebSocket.
    #[default]
    Auto,
    /// WebSocket only.
    WebSocket,
    /// WebTransport only: an error if the broker does not offer it or it fails.
    WebTransport,
}

impl TransportChoice {
    const ALL: [TransportChoice; 3] = [TransportChoice::Auto, TransportChoice::WebSocket, TransportChoice::WebTransport];

    /// The name taken by `--transport`.
    pub fn as_str(self) -> &'static str {
        match self {
            TransportChoice::Auto => "auto",
            TransportChoice::WebSocket => "websocket",
            TransportChoice::WebTransport => "webtransport",
        }
    }
}

impl fmt::Display for TransportChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TransportChoice {
    type Err = String;

    fn from_str(text: &str) -> Result<TransportChoice, String> {
        TransportChoice::ALL
            .into_iter()
            .find(|choice| choice.as_str() == text)
            .ok_or_else(|| format!("unknown transport {text:?}: auto, websocket or webtransport"))
    }
}

/// A native provider. See the module documentation.
#[derive(Clone, Debug)]
pub struct NativeProvider {
    url: String,
    workers: usize,
    name: String,
    limits: Limits,
    transport: TransportChoice,
    token: Option<String>,
}

impl NativeProvider {
    /// A provider for the broker's WebSocket URL (`ws://HOST/wasimoff/provider/ws`), with one
    /// worker per core. The WebTransport endpoint is looked up next to it, at
    /// `http://HOST/wasimoff/provider/info`.
    pub fn new(url: impl Into<String>) -> NativeProvider {
        let limits = Limits::default();
        let name = std::env::var("HOSTNAME").unwrap_or_else(|_| "native".into());
        NativeProvider { url: url.into(), workers: limits.concurrency, name, limits, transport: TransportChoice::Auto, token: None }
    }

    /// Sets the number of workers (tasks run at once).
    pub fn workers(mut self, workers: usize) -> NativeProvider {
        self.workers = workers.max(1);
        self
    }

    /// Sets the name shown in the broker's cluster view.
    pub fn name(mut self, name: impl Into<String>) -> NativeProvider {
        self.name = name.into();
        self
    }

    /// Sets how many modules the provider keeps (default [`Limits::cached_modules`], 64); the
    /// least recently used goes first and the broker is told.
    pub fn cached_modules(mut self, count: usize) -> NativeProvider {
        self.limits.cached_modules = count.max(1);
        self
    }

    /// Sets the transport (default [`TransportChoice::Auto`]).
    pub fn transport(mut self, transport: TransportChoice) -> NativeProvider {
        self.transport = transport;
        self
    }

    /// Presents `token` in the hello; a broker whose admission hook knows it trusts this
    /// provider ([`Admission::trust_token`](crate::Admission::trust_token)).
    pub fn token(mut self, token: impl Into<String>) -> NativeProvider {
        self.token = Some(token.into());
        self
    }

    /// Connects, says hello, and runs tasks until the broker closes the connection.
    pub async fn run(self) -> Result<(), ProviderError> {
        // The runner keeps more compiled modules than the core so that it never drops one
        // the core still holds; the core's evictions drop them from the runner.
        let runner_limits = Limits { concurrency: self.workers, cached_modules: self.limits.cached_modules + self.workers, ..self.limits };
        let store = Store::open(&Storage::Memory, &runner_limits).map_err(|e| ProviderError::Runner(e.to_string()))?;
        let runner = LocalRunner::start(&runner_limits, store).map_err(ProviderError::Runner)?;
        let frame_limit = usize::try_from(self.limits.provider_frame_bytes).unwrap_or(usize::MAX);
        let link = connect::open(&self.url, self.transport, frame_limit).await?;
        let workers = u32::try_from(self.workers).unwrap_or(u32::MAX);
        let config = Config { token: self.token, ..Config::native(self.limits.cached_modules) };
        session::run(link, runner, config, &self.name, workers).await
    }
}
