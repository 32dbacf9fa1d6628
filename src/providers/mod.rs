//! Providers: the registry of connected providers and their sessions.
//!
//! A provider connects over WebSocket at `{prefix}/provider/ws` through the host's own HTTP
//! port (`websocket.rs`) or over WebTransport at `{prefix}/provider/wt` on UDP
//! (`webtransport/`), passes the `Origin` check and the provider limit (`admission.rs`), says
//! [`Hello`](wasimoff_protocol::Hello) with the protocol versions it speaks and its worker
//! count, and is welcomed or refused with a reason; one session (`session.rs`) serves both transports.
//! Frames are limited in size on both sides. `{prefix}/provider/info` (`info.rs`) tells
//! providers where to connect. In-process providers (`in_process.rs`) and the broker's own
//! runner (`local.rs`) take the same commands without a transport.

mod admission;
mod in_process;
mod info;
pub(crate) mod local;
mod origin;
mod session;
mod traffic;
mod websocket;
mod webtransport;

pub use in_process::InProcessProvider;
pub use info::{ProviderInfo, WebTransportInfo};
pub use origin::OriginPolicy;
pub(crate) use session::Sessions;
pub use traffic::ProviderTraffic;
pub(crate) use websocket::upgrade;
pub(crate) use webtransport::WebTransportState;
pub use webtransport::{CertificateSource, SelfSigned, WebTransport, WebTransportError};

use crate::Wasimoff;
use crate::scheduler::{Command, to_wire};
use wasimoff_protocol::ToProvider;

/// The protocol message for a scheduler command, with the module's bytes loaded if the
/// provider needs them.
pub(crate) async fn command_message(broker: &Wasimoff, command: Command) -> ToProvider {
    match command {
        Command::Cancel { task } => ToProvider::Cancel { id: task.0 },
        Command::Quarantine { reason } => ToProvider::Refused { reason },
        Command::Run { task, prepared, send_module } => {
            let module = match (&prepared.module.inline, send_module) {
                (_, false) => None,
                (Some(bytes), true) => Some(bytes.clone()),
                (None, true) => broker.store().get(&prepared.module.digest).await.ok(),
            };
            let limits = broker.limits();
            ToProvider::Run { id: task.0, task: to_wire(&prepared, module, limits.rootfs_bytes, limits.rootfs_entries) }
        }
    }
}
