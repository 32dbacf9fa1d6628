//! The connected providers, as the cluster view shows them.

use crate::cluster::ProviderState;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use wasimoff_protocol::ProviderKind;

/// One connected provider's record.
#[derive(Clone, Debug)]
struct Entry {
    kind: ProviderKind,
    name: String,
    transport: &'static str,
    workers: u32,
    busy: u32,
    tasks_done: u64,
    modules: usize,
}

/// Connected providers by id.
#[derive(Default)]
pub(crate) struct Registry {
    next: AtomicU64,
    entries: Mutex<BTreeMap<String, Entry>>,
}

/// Why a provider could not be registered.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Full(pub(crate) usize);

impl Registry {
    fn entries(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a provider, unless `limit` providers are connected already.
    pub(crate) fn add(&self, kind: ProviderKind, name: String, transport: &'static str, workers: u32, limit: usize) -> Result<String, Full> {
        let mut entries = self.entries();
        if entries.len() >= limit {
            return Err(Full(limit));
        }
        let id = format!("p{}", self.next.fetch_add(1, Ordering::Relaxed) + 1);
        entries.insert(id.clone(), Entry { kind, name, transport, workers, busy: 0, tasks_done: 0, modules: 0 });
        Ok(id)
    }

    /// Records a provider's new worker count.
    pub(crate) fn set_workers(&self, id: &str, workers: u32) {
        if let Some(entry) = self.entries().get_mut(id) {
            entry.workers = workers;
        }
    }

    /// Forgets a provider.
    pub(crate) fn remove(&self, id: &str) {
        self.entries().remove(id);
    }

    /// How many providers are connected.
    pub(crate) fn len(&self) -> usize {
        self.entries().len()
    }

    /// The providers as the cluster view shows them, by id.
    pub(crate) fn states(&self) -> Vec<ProviderState> {
        self.entries()
            .iter()
            .map(|(id, e)| ProviderState {
                id: id.clone(),
                kind: e.kind,
                name: e.name.clone(),
                transport: e.transport.to_string(),
                workers: e.workers as usize,
                busy: e.busy as usize,
                tasks_done: e.tasks_done,
                modules_cached: e.modules,
            })
            .collect()
    }
}
