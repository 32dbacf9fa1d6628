//! One provider session, whatever carries its frames: `hello` within 10 s, version negotiation,
//! admission (a quarantined address is refused; the host's hook refuses or says trusted or
//! untrusted), joining the scheduler, `welcome`, then commands out, results and events in,
//! heartbeats, and leaving the cluster when it ends; a quarantine ends it with a `refused`
//! and a close giving the reason, and refuses its address for the cool-off time. Transports implement [`ProviderLink`]. Every session
//! runs in [`Sessions`], whose one shutdown signal closes them all with a going-away close.

use super::command_message;
use super::traffic::Traffic;
use crate::Wasimoff;
use crate::scheduler::{Command, NewProvider, TaskId, TaskResult};
use crate::trust::{Admission, AdmissionRequest, Trust};
use bytes::Bytes;
use http::HeaderMap;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;
use tracing::field::{Empty, display};
use wasimoff_protocol::{BATCH_BYTES, ProviderId, ToBroker, ToProvider, Transport, batches, decode_all, encode, negotiate};

/// Unanswered pings after which a provider is dropped.
const MISSED_PINGS: u32 = 2;

/// How long a new connection has to say hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// The close reason of every session when the broker shuts down.
const SHUTTING_DOWN: &str = "the broker is shutting down";

/// Every provider session of a broker: one shutdown signal they all select on, and a tracker
/// to wait until they have ended.
#[derive(Default)]
pub(crate) struct Sessions {
    stop: CancellationToken,
    tracker: TaskTracker,
    traffic: Traffic,
}

impl Sessions {
    /// Frames and messages exchanged by every session.
    pub(crate) fn traffic(&self) -> &Traffic {
        &self.traffic
    }

    /// Runs a connection, from its handshake to the end of its session, as one of them.
    pub(crate) fn spawn<F>(&self, connection: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.tracker.spawn(connection);
    }

    /// Closes every session (going away: 1001, "the broker is shutting down") and those that
    /// start from now on, and waits until they have ended.
    pub(crate) async fn close(&self) {
        self.stop.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }
}

/// Why the broker ends a session; each transport turns it into its own close signal with
/// the same number (a WebSocket close code, a WebTransport application error code).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CloseKind {
    /// 1001: the provider stopped answering heartbeats, or the broker is going away.
    Away,
    /// 1002: a frame out of order, such as a second `hello`.
    Protocol,
    /// 1003: a kind of frame the protocol does not use (WebSocket text).
    Unsupported,
    /// 1007: a frame that is not a valid message.
    Invalid,
    /// 1008: the broker refused the session (after a `refused` message).
    Policy,
    /// 1009: a frame over `Limits::provider_frame_bytes`.
    TooBig,
}

impl CloseKind {
    /// The close code, shared by every transport.
    pub(crate) fn code(self) -> u16 {
        match self {
            CloseKind::Away => 1001,
            CloseKind::Protocol => 1002,
            CloseKind::Unsupported => 1003,
            CloseKind::Invalid => 1007,
            CloseKind::Policy => 1008,
            CloseKind::TooBig => 1009,
        }
    }
}

/// What a link read from the provider.
pub(crate) enum Received {
    /// One whole frame: a MessagePack message, not yet decoded.
    Frame(Bytes),
    /// Something the protocol does not allow: close with this kind and reason.
    Violation(CloseKind, String),
    /// The provider went away.
    Closed,
}

/// A transport that carries whole frames between the broker and one provider.
pub(crate) trait ProviderLink: Send {
    /// How the cluster view names this transport.
    const TRANSPORT: Transport;

    /// Sends one frame; `false` once the link is gone.
    fn send(&mut self, frame: Vec<u8>) -> impl Future<Output = bool> + Send;

    /// The next frame from the provider, at most the link's frame limit long. Must be
    /// cancel-safe: the session drops it whenever a command or heartbeat comes first.
    fn receive(&mut self) -> impl Future<Output = Received> + Send;

    /// Ends the link, telling the provider why.
    fn close(&mut self, kind: CloseKind, reason: &str) -> impl Future<Output = ()> + Send;

    /// Ends the link after a session that ended without a reason to give: the provider
    /// left, its connection broke, or the scheduler removed it.
    fn end(self) -> impl Future<Output = ()> + Send;
}

/// How a session ends.
enum End {
    /// The broker closes the link with this kind and reason.
    Close(CloseKind, String),
    /// Nothing to tell the provider.
    Quietly,
}

/// The next frame decoded as messages.
enum Incoming {
    /// One or more messages (several only from a provider of protocol version 2).
    Messages(Vec<ToBroker>),
    Violation(CloseKind, String),
    Closed,
}

async fn next_messages(link: &mut impl ProviderLink, limit: usize, traffic: &Traffic) -> Incoming {
    match link.receive().await {
        Received::Frame(frame) => match decode_all::<ToBroker>(&frame, limit) {
            Ok(messages) => {
                traffic.received(messages.len());
                Incoming::Messages(messages)
            }
            Err(error) => Incoming::Violation(CloseKind::Invalid, error.to_string()),
        },
        Received::Violation(kind, reason) => Incoming::Violation(kind, reason),
        Received::Closed => Incoming::Closed,
    }
}

async fn send(link: &mut impl ProviderLink, traffic: &Traffic, message: &ToProvider) -> bool {
    match encode(message) {
        Ok(frame) => {
            traffic.sent(1);
            link.send(frame).await
        }
        Err(error) => {
            tracing::error!(%error, "cannot encode a message to a provider");
            false
        }
    }
}

/// Sends `refused`; the link is then closed with the same reason.
async fn refuse(link: &mut impl ProviderLink, traffic: &Traffic, reason: &str) -> End {
    send(link, traffic, &ToProvider::Refused { reason: reason.to_string() }).await;
    End::Close(CloseKind::Policy, reason.to_string())
}

/// The largest frame a provider may send, as configured.
pub(crate) fn frame_limit(broker: &Wasimoff) -> usize {
    usize::try_from(broker.limits().provider_frame_bytes).unwrap_or(usize::MAX)
}

/// Who is connecting: the connection request's headers and the provider's address, if known.
#[derive(Debug, Default)]
pub(crate) struct Peer {
    /// The request's headers.
    pub(crate) headers: HeaderMap,
    /// The provider's address.
    pub(crate) address: Option<SocketAddr>,
}

/// Runs a provider's session on `link` from its first frame to its end, in a
/// `provider_session` span (fields `transport`, `address` if known, and `provider`, its id,
/// once it joined).
pub(crate) async fn run<L: ProviderLink>(broker: Wasimoff, mut link: L, peer: Peer) {
    let span = tracing::info_span!("provider_session", transport = %L::TRANSPORT, address = Empty, provider = Empty);
    if let Some(address) = peer.address {
        span.record("address", display(address));
    }
    async move {
        match session(&broker, &mut link, &peer).await {
            End::Close(kind, reason) => link.close(kind, &reason).await,
            End::Quietly => link.end().await,
        }
    }
    .instrument(span)
    .await
}

fn going_away() -> End {
    End::Close(CloseKind::Away, SHUTTING_DOWN.to_string())
}

/// Hello, welcome and the session proper; returns how the link ends.
async fn session<L: ProviderLink>(broker: &Wasimoff, link: &mut L, peer: &Peer) -> End {
    let limit = frame_limit(broker);
    let stop = broker.sessions().stop.clone();
    let traffic = broker.sessions().traffic();
    let hello = tokio::select! {
        biased;
        () = stop.cancelled() => return going_away(),
        hello = tokio::time::timeout(HELLO_TIMEOUT, next_messages(link, limit, traffic)) => hello,
    };
    let hello = match hello {
        Ok(Incoming::Messages(messages)) => match <[ToBroker; 1]>::try_from(messages) {
            Ok([ToBroker::Hello(hello)]) => hello,
            Ok(_) => return refuse(link, traffic, "the first message must be hello").await,
            Err(_) => return refuse(link, traffic, "the first frame must hold the hello alone").await,
        },
        Ok(Incoming::Violation(kind, reason)) => return End::Close(kind, reason),
        Ok(Incoming::Closed) => return End::Quietly,
        Err(_) => return refuse(link, traffic, "no hello within 10 s").await,
    };
    let version = match negotiate(&hello.versions) {
        Ok(version) => version,
        Err(reason) => return refuse(link, traffic, &reason).await,
    };
    if let Some(left) = peer.address.and_then(|address| broker.quarantine().remaining(address.ip())) {
        return refuse(link, traffic, &format!("this address is quarantined for another {} s", left.as_secs().max(1))).await;
    }
    let request = AdmissionRequest { hello: &hello, headers: &peer.headers, remote_address: peer.address };
    let trust = match (broker.admission())(&request) {
        Admission::Refuse(reason) => return refuse(link, traffic, &reason).await,
        Admission::Trusted => Trust::Trusted,
        Admission::Untrusted => Trust::Untrusted,
    };
    let scheduler = broker.scheduler().clone();
    let prefetch = hello.prefetch.min(broker.limits().provider_prefetch);
    let joining =
        NewProvider { kind: hello.kind, name: hello.name, transport: L::TRANSPORT, workers: hello.workers, prefetch, local: false, trust };
    let joined = scheduler.join(joining, broker.limits().max_providers);
    let (id, commands) = match joined {
        Ok(joined) => joined,
        Err(full) => return refuse(link, traffic, &full.to_string()).await,
    };
    tracing::Span::current().record("provider", display(id));
    tracing::info!(kind = ?hello.kind, workers = hello.workers, ?trust, "provider joined");
    let welcome = ToProvider::Welcome {
        version,
        provider_id: id,
        heartbeat_ms: u64::try_from(broker.limits().provider_heartbeat.as_millis()).unwrap_or(u64::MAX),
        max_frame_bytes: broker.limits().provider_frame_bytes,
        prefetch,
    };
    let (end, why) = if send(link, traffic, &welcome).await {
        tokio::select! {
            biased;
            () = stop.cancelled() => (going_away(), "was closed by the broker's shutdown"),
            ended = serve(broker, Serving { id, version, limit, peer }, link, commands) => ended,
        }
    } else {
        (End::Quietly, "disconnected")
    };
    scheduler.leave(id, why);
    tracing::info!(why = %why, "provider left");
    end
}

/// Who a welcomed session serves and how.
struct Serving<'a> {
    id: ProviderId,
    /// The negotiated protocol version: from 2 on, frames carry several messages.
    version: u32,
    /// The largest frame the provider may send.
    limit: usize,
    peer: &'a Peer,
}

/// The welcomed provider's session: tasks out, results and events in, heartbeats, until
/// either side leaves. Returns how and why it ended.
async fn serve(
    broker: &Wasimoff,
    serving: Serving<'_>,
    link: &mut impl ProviderLink,
    mut commands: mpsc::UnboundedReceiver<Command>,
) -> (End, &'static str) {
    let Serving { id, version, limit, peer } = serving;
    let scheduler = broker.scheduler();
    let traffic = broker.sessions().traffic();
    let mut heartbeat = tokio::time::interval(broker.limits().provider_heartbeat);
    // After a late tick (a long send, a busy runtime) the next comes a full interval later:
    // the default burst of catch-up ticks would drop a provider before it could answer.
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    heartbeat.tick().await;
    let mut unanswered = 0u32;
    let mut nonce = 0u64;
    loop {
        tokio::select! {
            incoming = next_messages(link, limit, traffic) => match incoming {
                Incoming::Messages(messages) => {
                    for message in messages {
                        match message {
                            ToBroker::Workers { count } => scheduler.set_workers(id, count),
                            ToBroker::Pong { .. } => unanswered = 0,
                            ToBroker::Evicted { digests } => scheduler.evicted(id, &digests),
                            ToBroker::Result { id: task, outcome } => {
                                scheduler.result(id, TaskId(task), TaskResult::from_outcome(id.to_string(), outcome));
                            }
                            ToBroker::Hello(_) => {
                                return (End::Close(CloseKind::Protocol, "hello twice".into()), "broke the protocol");
                            }
                        }
                    }
                }
                Incoming::Violation(kind, reason) => return (End::Close(kind, reason), "broke the protocol"),
                Incoming::Closed => return (End::Quietly, "disconnected"),
            },
            command = commands.recv() => {
                let Some(command) = command else { return (End::Quietly, "was removed") };
                let (frame, messages, quarantine) = batch(broker, command, &mut commands, batches(version)).await;
                if messages > 0 {
                    traffic.sent(messages);
                    if !link.send(frame).await {
                        return (End::Quietly, "disconnected");
                    }
                }
                if let Some(reason) = quarantine {
                    if let Some(address) = peer.address {
                        broker.quarantine().add(address.ip(), broker.limits().quarantine_cooloff);
                    }
                    tracing::warn!(provider = %id, address = ?peer.address, %reason, "provider quarantined");
                    return (refuse(link, traffic, &reason).await, "was quarantined");
                }
            }
            _ = heartbeat.tick() => {
                if unanswered >= MISSED_PINGS {
                    return (End::Close(CloseKind::Away, "missed heartbeats".into()), "stopped answering heartbeats");
                }
                nonce += 1;
                unanswered += 1;
                if !send(link, traffic, &ToProvider::Ping { nonce }).await {
                    return (End::Quietly, "disconnected");
                }
            }
        }
    }
}

/// One frame for `first` and, when the session `batches`, for every command already waiting
/// behind it up to [`BATCH_BYTES`]: the scheduler answers a provider's batch of results with
/// a batch of tasks, carried by one message. Returns the frame and how many messages it
/// holds; stops at a quarantine, returning its reason too.
async fn batch(
    broker: &Wasimoff,
    first: Command,
    commands: &mut mpsc::UnboundedReceiver<Command>,
    batches: bool,
) -> (Vec<u8>, usize, Option<String>) {
    let mut frame = Vec::new();
    let mut messages = 0;
    let mut next = Some(first);
    while let Some(command) = next.take() {
        if let Command::Quarantine { reason } = command {
            return (frame, messages, Some(reason));
        }
        match encode(&command_message(broker, command).await) {
            Ok(message) => {
                frame.extend(message);
                messages += 1;
            }
            Err(error) => tracing::error!(%error, "cannot encode a message to a provider"),
        }
        if batches && frame.len() < BATCH_BYTES {
            next = commands.try_recv().ok();
        }
    }
    (frame, messages, None)
}
