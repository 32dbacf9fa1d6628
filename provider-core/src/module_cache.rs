//! Which modules this provider holds, least recently used first out, so the broker can be
//! told what was dropped ([`wasimoff_protocol::ToBroker::Evicted`]).

use std::collections::VecDeque;

/// The digests of cached modules, most recently used last.
#[derive(Debug)]
pub struct ModuleCache {
    capacity: usize,
    digests: VecDeque<String>,
}

impl ModuleCache {
    /// A cache holding at most `capacity` modules (at least one).
    pub fn new(capacity: usize) -> ModuleCache {
        ModuleCache { capacity: capacity.max(1), digests: VecDeque::new() }
    }

    /// Whether `digest` is cached; marks it as just used.
    pub fn touch(&mut self, digest: &str) -> bool {
        let Some(index) = self.digests.iter().position(|d| d == digest) else { return false };
        if let Some(found) = self.digests.remove(index) {
            self.digests.push_back(found);
        }
        true
    }

    /// Adds `digest` and returns the digests evicted to make room.
    ///
    /// ```
    /// let mut cache = wasimoff_provider_core::module_cache::ModuleCache::new(2);
    /// assert!(cache.insert("sha256:a").is_empty());
    /// assert!(cache.insert("sha256:b").is_empty());
    /// assert!(cache.touch("sha256:a"));
    /// assert_eq!(cache.insert("sha256:c"), vec!["sha256:b".to_string()]);
    /// ```
    pub fn insert(&mut self, digest: &str) -> Vec<String> {
        if self.touch(digest) {
            return Vec::new();
        }
        self.digests.push_back(digest.to_string());
        let excess = self.digests.len().saturating_sub(self.capacity);
        self.digests.drain(..excess).collect()
    }

    /// Forgets `digest` (its module could not be compiled, say).
    pub fn remove(&mut self, digest: &str) {
        self.digests.retain(|d| d != digest);
    }

    /// How many modules are cached.
    pub fn len(&self) -> usize {
        self.digests.len()
    }

    /// Whether no module is cached.
    pub fn is_empty(&self) -> bool {
        self.digests.is_empty()
    }
}
