//! One connection to the broker, whichever the transport: frames go out with [`Link::send`];
//! a reader task reads the connection to its end and hands frames to [`Link::next`].

use bytes::Bytes;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::task::AbortOnDropHandle;
use wasimoff_protocol::Transport;

/// How long leaving waits for the broker to take our end and to finish its side.
pub(super) const LEAVE_TIMEOUT: Duration = Duration::from_secs(2);

/// Frames from the reader task: each whole frame, or why the connection broke.
pub(super) type Incoming = mpsc::Receiver<Result<Bytes, String>>;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The sending half of a connection.
enum Writer {
    WebSocket(SplitSink<Socket, Message>),
    #[cfg(feature = "webtransport")]
    WebTransport(super::webtransport::Writer),
}

/// A connection to the broker.
pub(super) struct Link {
    transport: Transport,
    writer: Writer,
    frames: Incoming,
    _reader: AbortOnDropHandle<()>,
}

impl Link {
    #[cfg(feature = "webtransport")]
    pub(super) fn webtransport(writer: super::webtransport::Writer, frames: Incoming, reader: AbortOnDropHandle<()>) -> Link {
        Link { transport: Transport::WebTransport, writer: Writer::WebTransport(writer), frames, _reader: reader }
    }

    /// The transport this link uses.
    pub(super) fn transport(&self) -> Transport {
        self.transport
    }

    /// Sends one frame.
    pub(super) async fn send(&mut self, frame: Vec<u8>) -> Result<(), String> {
        match &mut self.writer {
            Writer::WebSocket(sink) => sink.send(Message::Binary(frame.into())).await.map_err(|e| e.to_string()),
            #[cfg(feature = "webtransport")]
            Writer::WebTransport(writer) => writer.send(&frame).await,
        }
    }

    /// The next frame; `None` once the broker ended the connection cleanly. Cancel-safe.
    pub(super) async fn next(&mut self) -> Option<Result<Bytes, String>> {
        self.frames.recv().await
    }

    /// Leaves: ends our side (a WebSocket close, or finishing the WebTransport stream), reads
    /// the broker's side to its end, then closes the connection.
    pub(super) async fn close(mut self) {
        match &mut self.writer {
            Writer::WebSocket(sink) => {
                let close = CloseFrame { code: CloseCode::Normal, reason: "provider left".into() };
                let _ = tokio::time::timeout(LEAVE_TIMEOUT, sink.send(Message::Close(Some(close)))).await;
            }
            #[cfg(feature = "webtransport")]
            Writer::WebTransport(writer) => writer.finish().await,
        }
        let _ = tokio::time::timeout(LEAVE_TIMEOUT, async { while self.frames.recv().await.is_some() {} }).await;
        #[cfg(feature = "webtransport")]
        if let Writer::WebTransport(writer) = &self.writer {
            writer.close();
        }
    }
}

/// Opens a WebSocket to `url`, refusing messages over `frame_limit` bytes.
pub(super) async fn websocket(url: &str, frame_limit: usize) -> Result<Link, String> {
    let config = WebSocketConfig::default().max_message_size(Some(frame_limit)).max_frame_size(Some(frame_limit));
    let (socket, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), false).await.map_err(|e| e.to_string())?;
    let (sink, stream) = socket.split();
    let (frames, incoming) = mpsc::channel(4);
    let reader = AbortOnDropHandle::new(tokio::spawn(read_websocket(stream, frames)));
    Ok(Link { transport: Transport::WebSocket, writer: Writer::WebSocket(sink), frames: incoming, _reader: reader })
}

/// Hands every binary message on until the socket closes; text messages are not frames.
async fn read_websocket(mut stream: SplitStream<Socket>, frames: mpsc::Sender<Result<Bytes, String>>) {
    while let Some(message) = stream.next().await {
        let frame = match message {
            Ok(Message::Binary(bytes)) => Ok(bytes),
            Ok(Message::Close(_)) => return,
            Ok(_) => continue,
            Err(error) => Err(error.to_string()),
        };
        let broken = frame.is_err();
        if frames.send(frame).await.is_err() || broken {
            return;
        }
    }
}
