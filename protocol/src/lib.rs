//! The one protocol between a wasimoff broker and its providers, shared by the broker, the
//! native provider and — compiled to wasm — the browser provider. Documented in
//! docs/PROTOCOL.md.
//!
//! Every frame holds MessagePack-encoded messages: [`ToProvider`] from the broker,
//! [`ToBroker`] from a provider; one per frame in protocol version 1, one or more one after
//! another in version 2 (several results or tasks carried by one WebSocket message). Binary fields (modules, stdin, files, output, artifacts) are
//! MessagePack `bin`, never base64. Requests and responses carry a task `id`; events
//! (worker count changes, evictions, heartbeats) stand alone.
//!
//! ```
//! use wasimoff_protocol::{Hello, ProviderKind, ToBroker, decode, encode, MAX_FRAME_BYTES};
//! let hello = ToBroker::Hello(Hello { versions: vec![1], kind: ProviderKind::Native, name: "n1".into(), workers: 2, prefetch: 1, token: None });
//! let frame = encode(&hello).unwrap();
//! assert_eq!(decode::<ToBroker>(&frame, MAX_FRAME_BYTES).unwrap(), hello);
//! ```

pub mod api;
mod names;

pub use names::{ProviderId, ProviderIdParseError, TaskErrorKind, Transport};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

/// The newest protocol version this crate speaks: a frame may hold several messages, one after
/// another ([`encode_all`], [`decode_all`]).
pub const VERSION: u32 = 2;

/// Every protocol version this crate speaks, oldest first. Version 1: one message per frame.
pub const VERSIONS: [u32; 2] = [1, VERSION];

/// A frame of several messages (protocol version 2) takes no more once it is this long, so a
/// batch never delays a message by much: a task's module bytes go out in a frame of their own,
/// or nearly.
pub const BATCH_BYTES: usize = 64 * 1024;

/// Whether frames of protocol `version` may hold several messages.
pub fn batches(version: u32) -> bool {
    version >= 2
}

/// The largest frame either side accepts unless configured otherwise: room for a module of
/// the default upload limit (64 MiB) plus the task around it.
pub const MAX_FRAME_BYTES: usize = 80 << 20;

/// Why a frame could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    /// The frame is larger than the receiver accepts.
    #[error("frame of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The frame's size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The frame is not a valid message.
    #[error("malformed frame: {0}")]
    Malformed(String),
}

/// Encodes a message as one frame.
pub fn encode<T: Serialize>(message: &T) -> Result<Vec<u8>, ProtocolError> {
    rmp_serde::to_vec_named(message).map_err(|e| ProtocolError::Malformed(e.to_string()))
}

/// Decodes a frame of exactly one message, refusing frames over `limit` bytes before parsing
/// them; bytes after the message are malformed.
pub fn decode<T: DeserializeOwned>(frame: &[u8], limit: usize) -> Result<T, ProtocolError> {
    let mut messages = decode_all(frame, limit)?;
    match messages.len() {
        1 => Ok(messages.remove(0)),
        n => Err(ProtocolError::Malformed(format!("{n} messages in a frame that holds one"))),
    }
}

/// Decodes a frame of one or more messages, one after another (protocol version 2), refusing
/// frames over `limit` bytes before parsing them. An empty frame is malformed.
///
/// ```
/// use wasimoff_protocol::{ToProvider, decode_all, encode, MAX_FRAME_BYTES};
/// let mut frame = encode(&ToProvider::Ping { nonce: 1 }).unwrap();
/// frame.extend(encode(&ToProvider::Cancel { id: 7 }).unwrap());
/// let messages: Vec<ToProvider> = decode_all(&frame, MAX_FRAME_BYTES).unwrap();
/// assert_eq!(messages, [ToProvider::Ping { nonce: 1 }, ToProvider::Cancel { id: 7 }]);
/// ```
pub fn decode_all<T: DeserializeOwned>(frame: &[u8], limit: usize) -> Result<Vec<T>, ProtocolError> {
    if frame.len() > limit {
        return Err(ProtocolError::TooLarge { size: frame.len(), limit });
    }
    if frame.is_empty() {
        return Err(ProtocolError::Malformed("an empty frame".into()));
    }
    let mut rest = frame;
    let mut messages = Vec::new();
    while !rest.is_empty() {
        // Reading through `&mut &[u8]` advances `rest` past each message.
        let mut deserializer = rmp_serde::Deserializer::new(&mut rest);
        messages.push(T::deserialize(&mut deserializer).map_err(|e| ProtocolError::Malformed(e.to_string()))?);
    }
    Ok(messages)
}

/// Picks the newest version both sides speak, or says why there is none.
///
/// ```
/// assert_eq!(wasimoff_protocol::negotiate(&[1, 2, 3]), Ok(2));
/// assert_eq!(wasimoff_protocol::negotiate(&[1]), Ok(1));
/// assert!(wasimoff_protocol::negotiate(&[7]).is_err());
/// ```
pub fn negotiate(offered: &[u32]) -> Result<u32, String> {
    VERSIONS
        .into_iter()
        .rev()
        .find(|version| offered.contains(version))
        .ok_or_else(|| format!("incompatible protocol: the broker speaks versions {VERSIONS:?}, the provider offered {offered:?}"))
}

/// What kind of machine a provider is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ProviderKind {
    /// A web browser running `provider.js`.
    Browser,
    /// The native provider binary (wasmtime).
    Native,
}

/// The first message of a provider.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// Protocol versions the provider speaks.
    pub versions: Vec<u32>,
    /// Browser or native.
    pub kind: ProviderKind,
    /// A human-readable name (user agent, host name).
    pub name: String,
    /// Tasks it can run at once.
    pub workers: u32,
    /// Tasks per worker it can queue beyond its workers (bounded prefetch); the broker's
    /// `welcome` says how many it will send. Absent (0) from providers that predate prefetch:
    /// they get no more tasks than workers.
    #[serde(default)]
    pub prefetch: u32,
    /// A secret the broker's admission hook may check to trust this provider (the native
    /// provider's `--token`). Absent from providers that present none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// Messages from a provider to the broker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToBroker {
    /// Opens the session; must be the first frame.
    Hello(Hello),
    /// Event: the provider now has `count` workers.
    Workers {
        /// The new worker count.
        count: u32,
    },
    /// Response to [`ToProvider::Run`] with the same `id`.
    Result {
        /// The task's id.
        id: u64,
        /// What happened.
        outcome: Outcome,
    },
    /// Event: the provider dropped these modules from its cache.
    Evicted {
        /// The modules' digests, `sha256:<hex>`.
        digests: Vec<String>,
    },
    /// Response to [`ToProvider::Ping`].
    Pong {
        /// The ping's nonce.
        nonce: u64,
    },
}

/// Messages from the broker to a provider.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[allow(
    clippy::large_enum_variant,
    reason = "`Run` is the common message; each is decoded once and moved once, boxing it would add an allocation per task"
)]
pub enum ToProvider {
    /// Accepts the session.
    Welcome {
        /// The version both sides now speak.
        version: u32,
        /// The id the broker gave this provider.
        provider_id: ProviderId,
        /// How often the broker pings; a provider that misses pings is dropped.
        heartbeat_ms: u64,
        /// The largest frame the broker accepts.
        max_frame_bytes: u64,
        /// Tasks per worker the broker may send beyond the provider's workers: the smaller of
        /// the hello's `prefetch` and the broker's `Limits::provider_prefetch`. The provider
        /// queues them and starts each as a worker frees. Absent (0) from older brokers.
        #[serde(default)]
        prefetch: u32,
    },
    /// Refuses the session, then the broker closes the connection.
    Refused {
        /// Why, for the provider's log.
        reason: String,
    },
    /// Request: run this task and answer with [`ToBroker::Result`] of the same `id`.
    Run {
        /// The task's id, unique per broker.
        id: u64,
        /// The task.
        task: WireTask,
    },
    /// Event: stop task `id`; no result is expected.
    Cancel {
        /// The task's id.
        id: u64,
    },
    /// Request: answer with [`ToBroker::Pong`].
    Ping {
        /// Echoed back.
        nonce: u64,
    },
}

/// Limits a task runs under.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireLimits {
    /// Wall-clock timeout.
    pub timeout_ms: u64,
    /// Linear memory limit.
    pub memory_bytes: u64,
    /// Bytes kept of each of stdout and stderr.
    pub output_bytes: u64,
    /// Total size of collected artifacts.
    pub artifact_bytes: u64,
    /// Unpacked size of the rootfs.
    pub rootfs_bytes: u64,
    /// Entries in the rootfs.
    pub rootfs_entries: u64,
}

/// A task as a provider receives it: everything resolved and checked by the broker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireTask {
    /// The module's digest, `sha256:<hex>`: the provider's cache key.
    pub module: String,
    /// The module's bytes, sent only if the broker believes the provider lacks them.
    pub module_bytes: Option<ByteBuf>,
    /// argv, argv\[0\] included.
    pub args: Vec<String>,
    /// Environment as `(key, value)`.
    pub envs: Vec<(String, String)>,
    /// Standard input.
    pub stdin: ByteBuf,
    /// A zip to unpack as `/`.
    pub rootfs: Option<ByteBuf>,
    /// Files placed at normalised relative paths after the rootfs.
    pub files: Vec<(String, ByteBuf)>,
    /// Normalised relative paths to collect, with the path as requested.
    pub artifacts: Vec<(String, String)>,
    /// The limits.
    pub limits: WireLimits,
    /// Present: run deterministically, `random_get` seeded with this value and the clocks
    /// virtual (docs/PROTOCOL.md). Absent from brokers that predate it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

/// The outcome of a task on a provider.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Ran to an exit status.
    Exited {
        /// The exit status.
        status: i32,
        /// Standard output.
        stdout: ByteBuf,
        /// Standard error.
        stderr: ByteBuf,
        /// The artifacts zip, if artifacts were requested.
        artifacts: Option<ByteBuf>,
        /// Requested artifacts that did not exist.
        missing_artifacts: Vec<String>,
        /// Instantiation to exit, in microseconds.
        elapsed_us: u64,
    },
    /// Did not run to an exit status.
    Failed {
        /// The error kind; a frame naming an unknown kind is malformed.
        kind: TaskErrorKind,
        /// A human-readable explanation.
        message: String,
        /// Standard output before the failure.
        stdout: ByteBuf,
        /// Standard error before the failure.
        stderr: ByteBuf,
    },
}
