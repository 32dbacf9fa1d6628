//! Captured stdout/stderr with a cap. Writing past the cap keeps the bytes that fit and stops
//! the task with [`OutputLimitExceeded`], so a flood ends quickly and is reported, not hidden.

use bytes::{Bytes, BytesMut};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

/// The error that stops a task whose output crossed the cap.
#[derive(Debug, thiserror::Error)]
#[error("{stream} exceeded the output limit of {limit} bytes; the output is truncated")]
pub(crate) struct OutputLimitExceeded {
    pub(crate) stream: &'static str,
    pub(crate) limit: u64,
}

/// A capped in-memory pipe; clones share the buffer.
#[derive(Clone)]
pub(crate) struct CappedPipe {
    stream: &'static str,
    limit: u64,
    buffer: Arc<Mutex<BytesMut>>,
}

impl CappedPipe {
    pub(crate) fn new(stream: &'static str, limit: u64) -> CappedPipe {
        CappedPipe { stream, limit, buffer: Arc::default() }
    }

    /// What was captured so far.
    pub(crate) fn contents(&self) -> Bytes {
        self.buffer.lock().unwrap_or_else(PoisonError::into_inner).clone().freeze()
    }

    /// Appends what fits; says how many bytes were taken, or that the cap was crossed.
    fn append(&self, bytes: &[u8]) -> Result<usize, OutputLimitExceeded> {
        let mut buffer = self.buffer.lock().unwrap_or_else(PoisonError::into_inner);
        let room = usize::try_from(self.limit).unwrap_or(usize::MAX).saturating_sub(buffer.len());
        buffer.extend_from_slice(&bytes[..bytes.len().min(room)]);
        if bytes.len() > room {
            return Err(OutputLimitExceeded { stream: self.stream, limit: self.limit });
        }
        Ok(bytes.len())
    }
}

/// How much one write may carry; large writes are split by the WASI layer.
const WRITE_BUDGET: usize = 64 * 1024;

impl OutputStream for CappedPipe {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        self.append(&bytes).map(|_| ()).map_err(|e| StreamError::Trap(wasmtime::Error::new(e)))
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(WRITE_BUDGET)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CappedPipe {
    async fn ready(&mut self) {}
}

impl IsTerminal for CappedPipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CappedPipe {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl tokio::io::AsyncWrite for CappedPipe {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Poll::Ready(self.append(buf).map_err(std::io::Error::other))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
