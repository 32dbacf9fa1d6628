//! Providers: the registry of connected providers and their sessions over WebSocket.
//!
//! A provider connects to `{prefix}/provider/ws` through the host's own HTTP port, passes the
//! `Origin` check and the provider limit, says [`Hello`](wasimoff_protocol::Hello) with the
//! protocol versions it speaks and its worker count, and is welcomed or refused with a reason.
//! Frames are limited in size on both sides.

mod origin;
mod websocket;

pub use origin::OriginPolicy;
pub(crate) use websocket::upgrade;
