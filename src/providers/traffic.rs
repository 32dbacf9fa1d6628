//! Frames and messages between the broker and its remote providers, counted as they pass:
//! how well protocol version 2 batches messages (several results or tasks per frame) shows as
//! messages per frame.

use std::sync::atomic::{AtomicU64, Ordering};

/// Frames and messages exchanged with remote providers (WebSocket and WebTransport) since the
/// broker started, read with [`Wasimoff::provider_traffic`](crate::Wasimoff::provider_traffic)
/// and served as `wasimoff_provider_frames_total` / `wasimoff_provider_messages_total` by
/// `GET …/api/v1/metrics`. More messages than frames means batches (protocol version 2).
///
/// ```
/// let traffic = wasimoff::ProviderTraffic::default();
/// assert_eq!(traffic.messages_received, 0);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProviderTraffic {
    /// Frames received from providers.
    pub frames_received: u64,
    /// Messages in those frames.
    pub messages_received: u64,
    /// Frames sent to providers.
    pub frames_sent: u64,
    /// Messages in those frames.
    pub messages_sent: u64,
}

/// The counters behind [`ProviderTraffic`], shared by every session.
#[derive(Debug, Default)]
pub(crate) struct Traffic {
    frames_received: AtomicU64,
    messages_received: AtomicU64,
    frames_sent: AtomicU64,
    messages_sent: AtomicU64,
}

impl Traffic {
    /// A frame of `messages` came from a provider.
    pub(crate) fn received(&self, messages: usize) {
        self.frames_received.fetch_add(1, Ordering::Relaxed);
        self.messages_received.fetch_add(messages as u64, Ordering::Relaxed);
    }

    /// A frame of `messages` went to a provider.
    pub(crate) fn sent(&self, messages: usize) {
        self.frames_sent.fetch_add(1, Ordering::Relaxed);
        self.messages_sent.fetch_add(messages as u64, Ordering::Relaxed);
    }

    /// The counts so far.
    pub(crate) fn read(&self) -> ProviderTraffic {
        ProviderTraffic {
            frames_received: self.frames_received.load(Ordering::Relaxed),
            messages_received: self.messages_received.load(Ordering::Relaxed),
            frames_sent: self.frames_sent.load(Ordering::Relaxed),
            messages_sent: self.messages_sent.load(Ordering::Relaxed),
        }
    }
}
