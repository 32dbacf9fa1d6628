//! Frames on a WebTransport stream: a 4-byte big-endian length, then that many bytes.

use crate::providers::session::{CloseKind, Received};
use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt};

/// Bytes read into a frame's buffer at a time, so that a claimed length costs memory only
/// as its bytes arrive.
const CHUNK: usize = 64 * 1024;

/// The length prefix for a frame of `length` bytes; `None` above `u32::MAX`.
pub(super) fn prefix(length: usize) -> Option<[u8; 4]> {
    u32::try_from(length).ok().map(u32::to_be_bytes)
}

/// Reads frames from a stream, keeping a partly read frame across cancellations.
pub(super) struct FrameReader {
    limit: usize,
    header: [u8; 4],
    header_read: usize,
    body: Vec<u8>,
    body_read: usize,
}

impl FrameReader {
    /// A reader that refuses frames over `limit` bytes.
    pub(super) fn new(limit: usize) -> FrameReader {
        FrameReader { limit, header: [0; 4], header_read: 0, body: Vec::new(), body_read: 0 }
    }

    /// The next whole frame. Cancel-safe: bytes read before a cancellation stay here for
    /// the next call.
    pub(super) async fn next<R: AsyncRead + Unpin>(&mut self, stream: &mut R) -> Received {
        while self.header_read < self.header.len() {
            match stream.read(&mut self.header[self.header_read..]).await {
                Ok(0) | Err(_) => return Received::Closed,
                Ok(n) => self.header_read += n,
            }
        }
        let length = u32::from_be_bytes(self.header);
        let Some(length) = usize::try_from(length).ok().filter(|length| *length <= self.limit) else {
            return Received::Violation(CloseKind::TooBig, format!("frame too large: {length} bytes, the limit is {}", self.limit));
        };
        while self.body_read < length {
            let end = length.min(self.body_read + CHUNK);
            if self.body.len() < end {
                self.body.resize(end, 0);
            }
            match stream.read(&mut self.body[self.body_read..end]).await {
                Ok(0) | Err(_) => return Received::Closed,
                Ok(n) => self.body_read += n,
            }
        }
        self.header_read = 0;
        self.body_read = 0;
        let mut frame = std::mem::take(&mut self.body);
        frame.truncate(length);
        Received::Frame(Bytes::from(frame))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(parts: &[&[u8]]) -> Vec<u8> {
        parts.iter().flat_map(|part| prefix(part.len()).unwrap().into_iter().chain(part.iter().copied())).collect()
    }

    #[tokio::test]
    async fn frames_come_out_whole_and_in_order() {
        let bytes = framed(&[b"one", b"", &[7u8; 200_000]]);
        let mut stream = bytes.as_slice();
        let mut reader = FrameReader::new(1 << 20);
        for expected in [b"one".to_vec(), Vec::new(), vec![7u8; 200_000]] {
            match reader.next(&mut stream).await {
                Received::Frame(frame) => assert_eq!(frame, expected),
                _ => panic!("expected a frame"),
            }
        }
        assert!(matches!(reader.next(&mut stream).await, Received::Closed));
    }

    #[tokio::test]
    async fn a_length_over_the_limit_is_a_violation() {
        let bytes = framed(&[&[0u8; 11]]);
        match FrameReader::new(10).next(&mut bytes.as_slice()).await {
            Received::Violation(kind, reason) => {
                assert_eq!((kind, reason.as_str()), (CloseKind::TooBig, "frame too large: 11 bytes, the limit is 10"))
            }
            _ => panic!("expected a violation"),
        }
    }

    #[tokio::test]
    async fn a_stream_ending_inside_a_frame_is_closed() {
        let bytes = framed(&[b"cut short"]);
        let mut stream = &bytes[..8];
        assert!(matches!(FrameReader::new(100).next(&mut stream).await, Received::Closed));
    }
}
