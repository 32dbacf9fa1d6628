//! Finished tasks in one-second buckets over the last [`THROUGHPUT_HISTORY`]: the cluster view's
//! tasks-per-second rate and the throughput history the operator dashboard draws.

use serde::Serialize;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How far back the throughput history reaches.
pub const THROUGHPUT_HISTORY: Duration = Duration::from_secs(600);

/// The window over which `tasks_per_second` is averaged.
pub const RATE_WINDOW: Duration = Duration::from_secs(10);

/// Tasks finished in each of the last seconds, oldest first, ending with the last whole
/// second: at most [`THROUGHPUT_HISTORY`] entries, fewer while the broker is younger.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ThroughputHistory {
    /// Tasks that ran to an exit status (any status), per second.
    pub exited: Vec<u32>,
    /// Tasks that ended with an error (trap, timeout, …), per second.
    pub failed: Vec<u32>,
}

/// One second's count.
#[derive(Clone, Copy)]
struct Bucket {
    /// The second since start it counts, or `u64::MAX` while unused.
    second: u64,
    exited: u32,
    failed: u32,
}

impl Bucket {
    const UNUSED: Bucket = Bucket { second: u64::MAX, exited: 0, failed: 0 };
}

/// Counts finished tasks in a ring of one-second buckets.
pub(crate) struct Throughput {
    started: Instant,
    buckets: Mutex<Vec<Bucket>>,
}

impl Throughput {
    /// An empty history starting now.
    pub(crate) fn new() -> Throughput {
        Throughput { started: Instant::now(), buckets: Mutex::new(vec![Bucket::UNUSED; THROUGHPUT_HISTORY.as_secs() as usize]) }
    }

    fn second(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    /// Records one finished task: `exited` if it ran to an exit status, else it failed.
    pub(crate) fn record(&self, exited: bool) {
        let second = self.second();
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let len = buckets.len() as u64;
        let bucket = &mut buckets[(second % len) as usize];
        if bucket.second != second {
            *bucket = Bucket { second, exited: 0, failed: 0 };
        }
        if exited {
            bucket.exited = bucket.exited.saturating_add(1);
        } else {
            bucket.failed = bucket.failed.saturating_add(1);
        }
    }

    /// The bucket of `second`, empty if nothing finished in it.
    fn at(buckets: &[Bucket], second: u64) -> Bucket {
        let bucket = buckets[(second % buckets.len() as u64) as usize];
        if bucket.second == second { bucket } else { Bucket { second, exited: 0, failed: 0 } }
    }

    /// Tasks per second over [`RATE_WINDOW`] up to now (or since start, if that is shorter).
    pub(crate) fn per_second(&self) -> f64 {
        let now = self.second();
        let window = RATE_WINDOW.as_secs();
        let buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let count: u64 = (now.saturating_sub(window - 1)..=now)
            .map(|second| Throughput::at(&buckets, second))
            .map(|bucket| u64::from(bucket.exited) + u64::from(bucket.failed))
            .sum();
        let span = self.started.elapsed().as_secs_f64().clamp(1.0, window as f64);
        count as f64 / span
    }

    /// The counts of every whole second of the last [`THROUGHPUT_HISTORY`].
    pub(crate) fn history(&self) -> ThroughputHistory {
        let now = self.second();
        let first = now.saturating_sub(THROUGHPUT_HISTORY.as_secs());
        let buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let (exited, failed) =
            (first..now).map(|second| Throughput::at(&buckets, second)).map(|bucket| (bucket.exited, bucket.failed)).unzip();
        ThroughputHistory { exited, failed }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A history that started `seconds` ago.
    fn started_ago(seconds: u64) -> Throughput {
        let throughput = Throughput::new();
        Throughput {
            started: throughput.started.checked_sub(Duration::from_secs(seconds)).expect("an instant that long ago"),
            ..throughput
        }
    }

    #[test]
    fn the_history_ends_with_the_last_whole_second_and_reaches_back_ten_minutes() {
        let throughput = started_ago(3);
        assert_eq!(throughput.history(), ThroughputHistory { exited: vec![0; 3], failed: vec![0; 3] });
        throughput.record(true);
        throughput.record(false);
        assert_eq!(throughput.history().exited, [0, 0, 0], "the current second is not whole yet");

        let old = started_ago(THROUGHPUT_HISTORY.as_secs() + 50);
        old.record(true);
        let history = old.history();
        assert_eq!((history.exited.len(), history.failed.len()), (600, 600));
        assert!(history.exited.iter().all(|count| *count == 0));
    }

    #[test]
    fn the_rate_counts_the_current_window() {
        let throughput = started_ago(20);
        for exited in [true, true, false, true, false] {
            throughput.record(exited);
        }
        assert_eq!(throughput.per_second(), 0.5);
    }

    #[test]
    fn a_bucket_of_an_earlier_lap_is_not_counted_again() {
        let throughput = started_ago(THROUGHPUT_HISTORY.as_secs() + 5);
        throughput.buckets.lock().unwrap()[4] = Bucket { second: 4, exited: 9, failed: 1 };
        assert_eq!(throughput.per_second(), 0.0);
        assert!(throughput.history().exited.iter().all(|count| *count == 0));
    }
}
