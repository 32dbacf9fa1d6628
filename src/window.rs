//! A job's tasks admitted a window at a time, with a window that follows the cluster's room.

use futures_util::Stream;
use futures_util::stream::{FuturesUnordered, StreamExt};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Interval, MissedTickBehavior};

/// How often the window is asked again while tasks wait to be admitted and none finishes.
const RECHECK: Duration = Duration::from_millis(200);

/// Runs the futures an iterator yields, at most `window()` of them at once (at least one), and
/// yields their outputs as they finish. `window` is asked at the start and again every
/// [`RECHECK`] while tasks wait (not per finished task: it reads the whole cluster), so a job
/// submitted before its workers joined widens when they join instead of keeping the window it
/// started with.
pub(crate) struct Windowed<I: Iterator, W> {
    waiting: I,
    admitted: FuturesUnordered<I::Item>,
    window: W,
    /// The window as last asked; `None` until asked, and again at each recheck.
    room: Option<usize>,
    /// Made on the first poll, inside the runtime (the stream may be made outside one).
    recheck: Option<Interval>,
}

/// The tasks `tasks` yields, run a window of `window()` at a time.
pub(crate) fn windowed<I: ExactSizeIterator, W: Fn() -> usize>(tasks: I, window: W) -> Windowed<I, W> {
    Windowed { waiting: tasks, admitted: FuturesUnordered::new(), window, room: None, recheck: None }
}

impl<I, W> Stream for Windowed<I, W>
where
    I: ExactSizeIterator + Unpin,
    I::Item: Future,
    W: Fn() -> usize + Unpin,
{
    type Item = <I::Item as Future>::Output;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            let window = &this.window;
            let room = *this.room.get_or_insert_with(|| window().max(1));
            while this.admitted.len() < room {
                match this.waiting.next() {
                    Some(task) => this.admitted.push(task),
                    None => break,
                }
            }
            if this.admitted.is_empty() {
                return Poll::Ready(None);
            }
            if let Poll::Ready(Some(output)) = this.admitted.poll_next_unpin(cx) {
                return Poll::Ready(Some(output));
            }
            if this.waiting.len() == 0 {
                return Poll::Pending;
            }
            let recheck = this.recheck.get_or_insert_with(|| {
                let mut recheck = tokio::time::interval_at(Instant::now() + RECHECK, RECHECK);
                recheck.set_missed_tick_behavior(MissedTickBehavior::Delay);
                recheck
            });
            if recheck.poll_tick(cx).is_pending() {
                return Poll::Pending;
            }
            this.room = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{RECHECK, windowed};
    use futures_util::StreamExt;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;
    use tokio::sync::Semaphore;

    /// Waits until `started` reaches `count`, for at most 30 s.
    async fn until_started(started: &AtomicUsize, count: usize) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while started.load(Ordering::SeqCst) < count {
            assert!(tokio::time::Instant::now() < deadline, "{count} tasks started");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test]
    async fn the_window_widens_while_the_admitted_tasks_still_wait() {
        let window = Arc::new(AtomicUsize::new(1));
        let started = Arc::new(AtomicUsize::new(0));
        let release = Arc::new(Semaphore::new(0));
        let (counter, gate) = (started.clone(), release.clone());
        let tasks = (0..10).map(move |index| {
            let (started, release) = (counter.clone(), gate.clone());
            async move {
                started.fetch_add(1, Ordering::SeqCst);
                release.acquire().await.expect("open").forget();
                index
            }
        });
        let limit = window.clone();
        let outputs = windowed(tasks, move || limit.load(Ordering::SeqCst));
        let collector = tokio::spawn(outputs.collect::<Vec<_>>());

        until_started(&started, 1).await;
        tokio::time::sleep(RECHECK * 3).await;
        assert_eq!(started.load(Ordering::SeqCst), 1, "a window of one admits one task");
        window.store(4, Ordering::SeqCst);
        until_started(&started, 4).await;
        tokio::time::sleep(RECHECK * 3).await;
        assert_eq!(started.load(Ordering::SeqCst), 4, "the wider window is taken up although no task finished");

        release.add_permits(10);
        let mut seen = collector.await.expect("join");
        seen.sort_unstable();
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
    }
}
