//! A provider inside the host process: the same scheduler, credits and messages as a remote
//! provider, without a transport. Useful for custom executors and for measuring dispatch.

use super::command_message;
use crate::Wasimoff;
use crate::scheduler::{Command, NewProvider, ProviderLimitReached, TaskId, TaskResult};
use crate::trust::Trust;
use tokio::sync::mpsc;
use wasimoff_protocol::{Outcome, ProviderId, ProviderKind, ToProvider, Transport};

/// A provider attached in-process with [`Wasimoff::attach_provider`], without prefetch: it
/// gets no more tasks than its workers. It receives
/// [`ToProvider::Run`] and [`ToProvider::Cancel`] messages and answers runs with
/// [`InProcessProvider::answer`]. Dropping it detaches it; its unanswered tasks are re-queued.
/// It is trusted: the host's own code answers, so its results need no verification.
///
/// ```no_run
/// # async fn demo(broker: wasimoff::Wasimoff) {
/// use wasimoff::protocol::{Outcome, ToProvider};
/// let mut provider = broker.attach_provider("in-process", 4).unwrap();
/// while let Some(message) = provider.next().await {
///     if let ToProvider::Run { id, .. } = message {
///         let outcome = Outcome::Exited { status: 0, stdout: Default::default(), stderr: Default::default(),
///             artifacts: None, missing_artifacts: vec![], elapsed_us: 0 };
///         provider.answer(id, outcome);
///     }
/// }
/// # }
/// ```
pub struct InProcessProvider {
    broker: Wasimoff,
    id: ProviderId,
    commands: mpsc::UnboundedReceiver<Command>,
}

impl std::fmt::Debug for InProcessProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcessProvider").field("id", &self.id).finish()
    }
}

impl InProcessProvider {
    pub(crate) fn attach(broker: &Wasimoff, name: &str, workers: u32) -> Result<InProcessProvider, ProviderLimitReached> {
        let limit = broker.limits().max_providers;
        let joining = NewProvider {
            kind: ProviderKind::Native,
            name: name.to_string(),
            transport: Transport::InProcess,
            workers,
            prefetch: 0,
            local: false,
            trust: Trust::Trusted,
        };
        let (id, commands) = broker.scheduler().join(joining, limit)?;
        Ok(InProcessProvider { broker: broker.clone(), id, commands })
    }

    /// The provider's id, as results name it.
    pub fn id(&self) -> ProviderId {
        self.id
    }

    /// The next message for this provider; `None` once the broker is gone.
    pub async fn next(&mut self) -> Option<ToProvider> {
        let command = self.commands.recv().await?;
        Some(command_message(&self.broker, command).await)
    }

    /// Answers the run with this `id`.
    pub fn answer(&self, id: u64, outcome: Outcome) {
        self.broker.scheduler().result(self.id, TaskId(id), TaskResult::from_outcome(self.id.to_string(), outcome));
    }

    /// Announces a new worker count.
    pub fn set_workers(&self, workers: u32) {
        self.broker.scheduler().set_workers(self.id, workers);
    }
}

impl Drop for InProcessProvider {
    fn drop(&mut self) {
        self.broker.scheduler().leave(self.id, "was detached");
    }
}
