//! Which shared blobs tasks still need: pins that expire. The sorted set `wasimoff:pins` holds
//! each pinned blob's digest with the time (Redis's clock, in milliseconds) until which it is
//! pinned; the shared tier's eviction (`files.rs`) skips pinned blobs and drops expired pins.
//!
//! A stored module is pinned when its task is queued (in the same script), for
//! [`Limits::claim_timeout`](crate::Limits::claim_timeout). Every replica then renews, every
//! third of that timeout, the pins of the modules of the tasks it submitted and still waits
//! for and of the tasks it claimed and runs. Pins are never deleted, only left to expire: a
//! blob needed by two tasks stays pinned while either lives, and a replica that dies stops
//! renewing, so its pins lapse within one claim timeout (its claimed tasks are taken over by
//! other replicas, which renew them from then on).

use super::PREFIX;
use crate::digest::Digest;
use redis::aio::ConnectionManager;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// The sorted set of pinned blobs and until when.
pub(super) fn pins_key() -> String {
    format!("{PREFIX}:pins")
}

/// Lua: pins `digest` in `pins` for `lease` milliseconds from now, unless it is pinned longer.
pub(super) const PIN_LUA: &str = r"
local function pin(pins, lease, digest)
  local time = redis.call('TIME')
  local expiry = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000) + tonumber(lease)
  redis.call('ZADD', pins, 'GT', expiry, digest)
end
";

/// Renews pins. KEYS: the pins. ARGV: the lease, the digests.
const RENEW_SCRIPT: &str = r"
for i = 2, #ARGV do pin(KEYS[1], ARGV[1], ARGV[i]) end
return 0
";

/// The stored modules this replica's live tasks need, each with how many tasks need it.
#[derive(Default)]
pub(super) struct Needed(Mutex<HashMap<Digest, usize>>);

impl Needed {
    fn lock(&self) -> MutexGuard<'_, HashMap<Digest, usize>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// One more task needs `digest`.
    pub(super) fn add(&self, digest: Digest) {
        *self.lock().entry(digest).or_default() += 1;
    }

    /// One task less needs `digest`.
    pub(super) fn remove(&self, digest: &Digest) {
        let mut needed = self.lock();
        if let Some(count) = needed.get_mut(digest) {
            *count -= 1;
            if *count == 0 {
                needed.remove(digest);
            }
        }
    }

    fn digests(&self) -> Vec<String> {
        self.lock().keys().map(Digest::to_string).collect()
    }
}

/// Milliseconds of `lease`, as a script argument.
pub(super) fn lease_millis(lease: Duration) -> u64 {
    u64::try_from(lease.as_millis()).unwrap_or(u64::MAX)
}

/// Renews the pins of everything `needed` holds for `lease`.
pub(super) async fn renew(connection: &mut ConnectionManager, needed: &Needed, lease: Duration) -> redis::RedisResult<()> {
    let digests = needed.digests();
    if digests.is_empty() {
        return Ok(());
    }
    let mut script = redis::cmd("EVAL");
    script.arg(format!("{PIN_LUA}{RENEW_SCRIPT}")).arg(1).arg(pins_key()).arg(lease_millis(lease)).arg(digests);
    script.query_async(connection).await
}
