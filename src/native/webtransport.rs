//! The WebTransport link: a session pinned to the certificate hashes the broker publishes,
//! one bidirectional stream, each frame a 4-byte big-endian length and a MessagePack message
//! (docs/PROTOCOL.md).

use super::link::{Incoming, LEAVE_TIMEOUT, Link};
use crate::providers::WebTransportInfo;
use bytes::Bytes;
use tokio::sync::mpsc;
use tokio_util::task::AbortOnDropHandle;
use wtransport::endpoint::endpoint_side::Client;
use wtransport::error::StreamReadExactError;
use wtransport::tls::Sha256Digest;
use wtransport::{ClientConfig, Connection, Endpoint, RecvStream, SendStream};

/// The sending half of a WebTransport link; it owns the session.
pub(super) struct Writer {
    send: SendStream,
    connection: Connection,
    _endpoint: Endpoint<Client>,
}

impl Writer {
    /// Sends one length-prefixed frame.
    pub(super) async fn send(&mut self, frame: &[u8]) -> Result<(), String> {
        let length = u32::try_from(frame.len()).map_err(|_| format!("a frame of {} bytes is too large to send", frame.len()))?;
        self.send.write_all(&length.to_be_bytes()).await.map_err(|e| e.to_string())?;
        self.send.write_all(frame).await.map_err(|e| e.to_string())
    }

    /// Finishes our side of the stream, waiting a little for the broker to acknowledge it.
    pub(super) async fn finish(&mut self) {
        let _ = tokio::time::timeout(LEAVE_TIMEOUT, self.send.finish()).await;
    }

    /// Closes the session.
    pub(super) fn close(&self) {
        self.connection.close(0u32.into(), b"provider left");
    }
}

fn digest(hash: &str) -> Result<Sha256Digest, String> {
    let bytes: [u8; 32] = hex::decode(hash)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| format!("{hash:?} is not a SHA-256 certificate hash"))?;
    Ok(Sha256Digest::new(bytes))
}

/// Connects to the endpoint `offer` describes on `host`, trusting only its published
/// certificate hashes, and opens the session's stream.
pub(super) async fn connect(host: &str, offer: &WebTransportInfo, frame_limit: usize) -> Result<Link, String> {
    let hashes = offer.certificate_hashes.iter().map(|hash| digest(hash)).collect::<Result<Vec<_>, _>>()?;
    let bare_host = host.trim_start_matches('[').trim_end_matches(']');
    let address = tokio::net::lookup_host((bare_host, offer.port))
        .await
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host} has no address"))?;
    let bind = if address.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
    let config =
        ClientConfig::builder().with_bind_address(bind.parse().map_err(|e| format!("{e}"))?).with_server_certificate_hashes(hashes).build();
    let endpoint = Endpoint::client(config).map_err(|e| format!("cannot open a UDP socket: {e}"))?;
    let url = format!("https://{host}:{}{}", offer.port, offer.path);
    let connection = endpoint.connect(&url).await.map_err(|e| format!("{url}: {e}"))?;
    let (send, recv) = connection.open_bi().await.map_err(|e| e.to_string())?.await.map_err(|e| e.to_string())?;
    let (frames, incoming): (_, Incoming) = mpsc::channel(4);
    let reader = AbortOnDropHandle::new(tokio::spawn(read_frames(recv, frame_limit, frames)));
    Ok(Link::webtransport(Writer { send, connection, _endpoint: endpoint }, incoming, reader))
}

/// Reads frames to the stream's end, refusing a length over `limit` before reading the frame.
async fn read_frames(mut recv: RecvStream, limit: usize, frames: mpsc::Sender<Result<Bytes, String>>) {
    loop {
        let mut header = [0u8; 4];
        match recv.read_exact(&mut header).await {
            Ok(()) => {}
            Err(StreamReadExactError::FinishedEarly(0)) => return,
            Err(error) => {
                let _ = frames.send(Err(error.to_string())).await;
                return;
            }
        }
        let length = u32::from_be_bytes(header);
        let Some(length) = usize::try_from(length).ok().filter(|length| *length <= limit) else {
            let _ = frames.send(Err(format!("frame too large: {length} bytes, the limit is {limit}"))).await;
            return;
        };
        let mut frame = vec![0u8; length];
        if let Err(error) = recv.read_exact(&mut frame).await {
            let _ = frames.send(Err(error.to_string())).await;
            return;
        }
        if frames.send(Ok(Bytes::from(frame))).await.is_err() {
            return;
        }
    }
}
