//! A provider session over WebTransport: the one bidirectional stream the provider opens,
//! carrying length-prefixed frames.

use super::framing::{FrameReader, prefix};
use crate::providers::session::{CloseKind, ProviderLink, Received};
use std::time::Duration;
use wasimoff_protocol::Transport;
use wtransport::{Connection, RecvStream, SendStream, VarInt};

/// How long closing waits for the provider to acknowledge the last frames.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// The close code of a session that ended without a reason to give: the provider left, or
/// the broker removed it.
const ENDED: u32 = 0;

/// A provider's WebTransport session.
pub(super) struct WebTransportLink {
    connection: Connection,
    /// The provider's stream, accepted with the first `receive`.
    stream: Option<(SendStream, RecvStream)>,
    reader: FrameReader,
}

impl WebTransportLink {
    /// A link on an accepted session, refusing frames over `limit` bytes.
    pub(super) fn new(connection: Connection, limit: usize) -> WebTransportLink {
        WebTransportLink { connection, stream: None, reader: FrameReader::new(limit) }
    }
}

impl ProviderLink for WebTransportLink {
    const TRANSPORT: Transport = Transport::WebTransport;

    async fn send(&mut self, frame: Vec<u8>) -> bool {
        let (Some((send, _)), Some(length)) = (self.stream.as_mut(), prefix(frame.len())) else { return false };
        send.write_all(&length).await.is_ok() && send.write_all(&frame).await.is_ok()
    }

    async fn receive(&mut self) -> Received {
        if self.stream.is_none() {
            match self.connection.accept_bi().await {
                Ok(stream) => self.stream = Some(stream),
                Err(_) => return Received::Closed,
            }
        }
        let Some((_, recv)) = self.stream.as_mut() else { return Received::Closed };
        self.reader.next(recv).await
    }

    async fn close(&mut self, kind: CloseKind, reason: &str) {
        if let Some((send, _)) = self.stream.as_mut() {
            let _ = tokio::time::timeout(CLOSE_GRACE, send.finish()).await;
        }
        self.connection.close(VarInt::from_u32(kind.code().into()), reason.as_bytes());
    }

    /// Finishes the broker's side of the stream and gives the provider a moment to close the
    /// session itself (then it ends cleanly for a browser); dropping the link then closes it
    /// with code 0 if it is still open.
    async fn end(mut self) {
        if let Some((send, _)) = self.stream.as_mut() {
            let _ = tokio::time::timeout(CLOSE_GRACE, send.finish()).await;
            let _ = tokio::time::timeout(CLOSE_GRACE, self.connection.closed()).await;
        }
    }
}

impl Drop for WebTransportLink {
    /// Closes the QUIC connection, which would otherwise outlive the session, however the
    /// session ended (no-op if it is closed already).
    fn drop(&mut self) {
        self.connection.close(VarInt::from_u32(ENDED), b"");
    }
}
