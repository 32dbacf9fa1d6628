//! Names shared by the broker, the native provider and the browser provider: provider ids,
//! transports and task error kinds. Each has one spelling on the wire and in JSON.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A connected provider's id, unique per broker: `p1`, `p2`, … on the wire and in results'
/// `ran_on`.
///
/// ```
/// use wasimoff_protocol::ProviderId;
/// let id: ProviderId = "p7".parse().unwrap();
/// assert_eq!(id, ProviderId(7));
/// assert_eq!(id.to_string(), "p7");
/// assert!("local".parse::<ProviderId>().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProviderId(pub u64);

/// A string that is not a provider id (`p` followed by a number).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a provider id (p followed by a number)")]
pub struct ProviderIdParseError(pub String);

impl fmt::Display for ProviderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "p{}", self.0)
    }
}

impl FromStr for ProviderId {
    type Err = ProviderIdParseError;

    fn from_str(text: &str) -> Result<ProviderId, ProviderIdParseError> {
        text.strip_prefix('p')
            .filter(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|digits| digits.parse().ok())
            .map(ProviderId)
            .ok_or_else(|| ProviderIdParseError(text.to_string()))
    }
}

impl Serialize for ProviderId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ProviderId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ProviderId, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// How a provider is connected to the broker.
///
/// ```
/// use wasimoff_protocol::Transport;
/// assert_eq!(Transport::WebSocket.as_str(), "websocket");
/// assert_eq!("webtransport".parse::<Transport>(), Ok(Transport::WebTransport));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Transport {
    /// WebSocket through the host's HTTP port.
    #[serde(rename = "websocket")]
    WebSocket,
    /// WebTransport (HTTP/3 over QUIC) on UDP.
    #[serde(rename = "webtransport")]
    WebTransport,
    /// Inside the broker's process: in-process providers and the local runner.
    InProcess,
}

impl Transport {
    /// Every transport.
    pub const ALL: [Transport; 3] = [Transport::WebSocket, Transport::WebTransport, Transport::InProcess];

    /// The name used on the wire, in JSON and in metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::WebSocket => "websocket",
            Transport::WebTransport => "webtransport",
            Transport::InProcess => "in_process",
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Transport {
    type Err = String;

    fn from_str(text: &str) -> Result<Transport, String> {
        Transport::ALL.into_iter().find(|t| t.as_str() == text).ok_or_else(|| format!("unknown transport {text:?}"))
    }
}

/// Why a task did not run to an exit status: the same categories on every runner, with the
/// same snake_case names in frames, JSON and metrics.
///
/// ```
/// use wasimoff_protocol::TaskErrorKind;
/// assert_eq!(TaskErrorKind::MissingStart.as_str(), "missing_start");
/// assert_eq!("timeout".parse::<TaskErrorKind>(), Ok(TaskErrorKind::Timeout));
/// assert!("sleepy".parse::<TaskErrorKind>().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskErrorKind {
    /// The task description is unusable (no binary, bad env entry, limit above maximum, ...).
    InvalidTask,
    /// A referenced file is not stored.
    NotFound,
    /// The binary is not a valid WebAssembly module, or imports what WASI preview 1 lacks.
    InvalidModule,
    /// The module has no `_start` export of type `() -> ()`: it is not a WASI command.
    MissingStart,
    /// The module trapped (unreachable, out-of-bounds access, stack overflow, ...).
    Trap,
    /// The task ran past its wall-clock timeout and was stopped.
    Timeout,
    /// The task tried to grow its memory past the limit.
    MemoryLimit,
    /// The task wrote more than the output limit to stdout or stderr and was stopped.
    OutputLimit,
    /// The rootfs zip was refused (unsafe path, link, too many entries, too large, malformed).
    RootfsRejected,
    /// The requested artifacts exceed the artifact limit.
    ArtifactLimit,
    /// The queue is full; try again later.
    QueueFull,
    /// The broker is shutting down and takes no new tasks.
    ShuttingDown,
    /// The runner failed for a reason of its own (I/O, resources).
    Internal,
    /// The task asked for verification and its replicas' results reached no quorum.
    Unverified,
    /// The task's detached job was cancelled before the task finished.
    Cancelled,
    /// The shared backend (Redis) the broker keeps its queue and files in cannot be reached
    /// now; try again later.
    BackendUnavailable,
}

impl TaskErrorKind {
    /// Every kind, in a fixed order.
    pub const ALL: [TaskErrorKind; 16] = [
        TaskErrorKind::InvalidTask,
        TaskErrorKind::NotFound,
        TaskErrorKind::InvalidModule,
        TaskErrorKind::MissingStart,
        TaskErrorKind::Trap,
        TaskErrorKind::Timeout,
        TaskErrorKind::MemoryLimit,
        TaskErrorKind::OutputLimit,
        TaskErrorKind::RootfsRejected,
        TaskErrorKind::ArtifactLimit,
        TaskErrorKind::QueueFull,
        TaskErrorKind::ShuttingDown,
        TaskErrorKind::Internal,
        TaskErrorKind::Unverified,
        TaskErrorKind::Cancelled,
        TaskErrorKind::BackendUnavailable,
    ];

    /// The snake_case name used in frames, JSON and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskErrorKind::InvalidTask => "invalid_task",
            TaskErrorKind::NotFound => "not_found",
            TaskErrorKind::InvalidModule => "invalid_module",
            TaskErrorKind::MissingStart => "missing_start",
            TaskErrorKind::Trap => "trap",
            TaskErrorKind::Timeout => "timeout",
            TaskErrorKind::MemoryLimit => "memory_limit",
            TaskErrorKind::OutputLimit => "output_limit",
            TaskErrorKind::RootfsRejected => "rootfs_rejected",
            TaskErrorKind::ArtifactLimit => "artifact_limit",
            TaskErrorKind::QueueFull => "queue_full",
            TaskErrorKind::ShuttingDown => "shutting_down",
            TaskErrorKind::Internal => "internal",
            TaskErrorKind::Unverified => "unverified",
            TaskErrorKind::Cancelled => "cancelled",
            TaskErrorKind::BackendUnavailable => "backend_unavailable",
        }
    }
}

impl fmt::Display for TaskErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TaskErrorKind {
    type Err = String;

    fn from_str(text: &str) -> Result<TaskErrorKind, String> {
        TaskErrorKind::ALL.into_iter().find(|kind| kind.as_str() == text).ok_or_else(|| format!("unknown task error kind {text:?}"))
    }
}
