//! The store's byte quota ([`Limits::store_bytes`](crate::Limits::store_bytes)): how many bytes
//! the stored content takes, when each was last used, which content tasks still need (pins),
//! and which content to evict, least recently used first, to make room for an upload.
//!
//! Content is evictable when no alias names it and no pin holds it. Pure bookkeeping: the
//! store deletes the evicted blobs itself.

use crate::digest::Digest;
use std::collections::{HashMap, HashSet};

/// Byte accounting, recency and pins of the stored content.
#[derive(Debug, Default)]
pub(super) struct Quota {
    /// The most bytes the content may take.
    limit: u64,
    /// Bytes taken by stored content and by uploads being written.
    used: u64,
    /// Counts uses, so that a higher tick means a later use.
    clock: u64,
    last_used: HashMap<Digest, u64>,
    pins: HashMap<Digest, usize>,
}

/// An upload does not fit, even with everything evictable evicted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct DoesNotFit {
    /// Bytes that are free or could be made free.
    pub(super) available: u64,
    /// The quota.
    pub(super) limit: u64,
}

impl Quota {
    /// An empty quota of `limit` bytes.
    pub(super) fn new(limit: u64) -> Quota {
        Quota { limit, ..Quota::default() }
    }

    /// Counts content that is already stored (found on disk when a directory store opens), as
    /// used in the order given.
    pub(super) fn add_existing(&mut self, digest: Digest, size: u64) {
        self.used += size;
        self.touch(digest);
    }

    /// Marks `digest` as used now.
    pub(super) fn touch(&mut self, digest: Digest) {
        self.clock += 1;
        self.last_used.insert(digest, self.clock);
    }

    /// Holds `digest` against eviction; every `pin` needs one [`Quota::unpin`].
    pub(super) fn pin(&mut self, digest: Digest) {
        *self.pins.entry(digest).or_default() += 1;
    }

    /// Releases one pin of `digest`.
    pub(super) fn unpin(&mut self, digest: Digest) {
        if let Some(count) = self.pins.get_mut(&digest) {
            *count -= 1;
            if *count == 0 {
                self.pins.remove(&digest);
            }
        }
    }

    /// Bytes taken now.
    pub(super) fn used(&self) -> u64 {
        self.used
    }

    /// The quota.
    pub(super) fn limit(&self) -> u64 {
        self.limit
    }

    /// Reserves `size` bytes for a new upload, choosing what to evict for it from `stored`
    /// (digests and sizes of the stored content) minus what `aliased` names or a pin holds,
    /// least recently used first. The chosen content is no longer counted; the caller removes
    /// it from its index.
    pub(super) fn reserve(
        &mut self,
        size: u64,
        stored: impl IntoIterator<Item = (Digest, u64)>,
        aliased: &HashSet<Digest>,
    ) -> Result<Vec<Digest>, DoesNotFit> {
        let mut evictable: Vec<(u64, Digest, u64)> = stored
            .into_iter()
            .filter(|(digest, _)| !aliased.contains(digest) && !self.pins.contains_key(digest))
            .map(|(digest, size)| (self.last_used.get(&digest).copied().unwrap_or(0), digest, size))
            .collect();
        let evictable_bytes: u64 = evictable.iter().map(|(_, _, size)| size).sum();
        let available = self.limit.saturating_sub(self.used.saturating_sub(evictable_bytes));
        if size > available {
            return Err(DoesNotFit { available, limit: self.limit });
        }
        evictable.sort_unstable();
        let mut evicted = Vec::new();
        for (_, digest, bytes) in evictable {
            if self.used + size <= self.limit {
                break;
            }
            self.used -= bytes;
            self.last_used.remove(&digest);
            evicted.push(digest);
        }
        self.used += size;
        Ok(evicted)
    }

    /// Gives back a reservation whose upload was not stored (it failed, or the same content
    /// arrived meanwhile).
    pub(super) fn release(&mut self, size: u64) {
        self.used = self.used.saturating_sub(size);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(n: u8) -> Digest {
        Digest::of(&[n])
    }

    fn stored(quota: &mut Quota, files: &[(u8, u64)]) -> HashMap<Digest, u64> {
        files
            .iter()
            .map(|&(n, size)| {
                quota.add_existing(digest(n), size);
                (digest(n), size)
            })
            .collect()
    }

    #[test]
    fn the_least_recently_used_content_goes_first_and_only_as_much_as_needed() {
        let mut quota = Quota::new(100);
        let sizes = stored(&mut quota, &[(1, 30), (2, 30), (3, 30)]);
        quota.touch(digest(1));
        assert_eq!(quota.reserve(40, sizes.clone(), &HashSet::new()), Ok(vec![digest(2)]));
        assert_eq!(quota.used(), 100);
        let sizes = sizes.into_iter().filter(|(digest, _)| *digest != self::digest(2));
        assert_eq!(quota.reserve(50, sizes, &HashSet::new()), Ok(vec![digest(3), digest(1)]));
        assert_eq!(quota.used(), 90);
    }

    #[test]
    fn aliased_and_pinned_content_is_never_evicted() {
        let mut quota = Quota::new(100);
        let sizes = stored(&mut quota, &[(1, 30), (2, 30), (3, 30)]);
        quota.pin(digest(1));
        let aliased = HashSet::from([digest(2)]);
        assert_eq!(quota.reserve(41, sizes.clone(), &aliased), Err(DoesNotFit { available: 40, limit: 100 }));
        assert_eq!(quota.used(), 90, "a refused upload evicts nothing");
        assert_eq!(quota.reserve(40, sizes, &aliased), Ok(vec![digest(3)]));
    }

    #[test]
    fn pins_count_and_reservations_can_be_released() {
        let mut quota = Quota::new(10);
        let stored = stored(&mut quota, &[(1, 10)]);
        quota.pin(digest(1));
        quota.pin(digest(1));
        quota.unpin(digest(1));
        assert_eq!(quota.reserve(5, stored.clone(), &HashSet::new()), Err(DoesNotFit { available: 0, limit: 10 }));
        quota.unpin(digest(1));
        assert_eq!(quota.reserve(5, stored, &HashSet::new()), Ok(vec![digest(1)]));
        quota.release(5);
        assert_eq!(quota.used(), 0);
        assert_eq!(quota.reserve(11, [], &HashSet::new()), Err(DoesNotFit { available: 10, limit: 10 }));
    }
}
