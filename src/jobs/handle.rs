//! [`JobHandle`]: one detached job as seen from Rust.

use super::registry::{JobPhase, ResultLine};
use super::{JobStatus, RETRY_PAUSE, now_ms};
use crate::Wasimoff;
use crate::task::{TaskError, TaskOutput};
use futures_util::{Stream, StreamExt};
use std::collections::VecDeque;
use std::sync::Arc;

/// A detached job, from [`Wasimoff::submit_job`] or [`Wasimoff::job`]: its status, its
/// results (finished ones replayed, the rest as they finish) and a way to cancel it. Cheap to
/// clone; it names the job, it does not keep it: once the job has expired
/// ([`Limits::job_retention`](crate::Limits::job_retention) after it ended), its methods
/// answer `None` or end. With the Redis backend a handle on any replica sees the same job;
/// calls that cannot reach Redis answer `backend_unavailable`, while [`JobHandle::wait`] and
/// [`JobHandle::results`] wait for it to come back.
///
/// ```no_run
/// # async fn demo(broker: wasimoff::Wasimoff) -> Result<(), Box<dyn std::error::Error>> {
/// use futures_util::StreamExt;
/// use wasimoff::{FileSource, Job, Task};
/// let job = Job { parent: Some(Task::new(FileSource::reference("tsp.wasm"))),
///                 tasks: (5..8).map(|n| Task::default().args(["tsp".to_string(), "rand".into(), n.to_string()])).collect() };
/// let handle = broker.submit_job(job).await?;
/// let id = handle.id().to_string();
/// // later, perhaps from another request (or another replica, with the Redis backend):
/// let handle = broker.job(&id).await?.expect("kept for Limits::job_retention after it ends");
/// let mut results = handle.results();
/// while let Some((index, result)) = results.next().await {
///     println!("task {index}: {:?}", result.map(|output| output.status));
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct JobHandle {
    broker: Wasimoff,
    id: String,
}

impl JobHandle {
    pub(super) fn new(broker: Wasimoff, id: String) -> JobHandle {
        JobHandle { broker, id }
    }

    /// The job's id: 32 hex digits, as its URL `…/api/v1/jobs/{id}` names it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let broker = wasimoff::Wasimoff::builder().build().unwrap();
    /// let job = broker.submit_job(wasimoff::Job::default()).await.unwrap();
    /// assert_eq!(job.id().len(), 32);
    /// let found = broker.job(job.id()).await.unwrap();
    /// assert_eq!(found.map(|found| found.id().to_string()), Some(job.id().to_string()));
    /// # }
    /// ```
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Its progress now; `None` once it expired.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let broker = wasimoff::Wasimoff::builder().build().unwrap();
    /// let job = broker.submit_job(wasimoff::Job::default()).await.unwrap();
    /// assert_eq!(job.status().await.unwrap().map(|status| status.id), Some(job.id().to_string()));
    /// # }
    /// ```
    pub async fn status(&self) -> Result<Option<JobStatus>, TaskError> {
        let jobs = self.broker.detached();
        let record = jobs.registry.record(&self.id, now_ms()).await?;
        Ok(record.map(|record| jobs.status(&self.broker, record)))
    }

    /// Its status and the results finished so far, in the order they finished.
    pub(crate) async fn snapshot(&self) -> Result<Option<(JobStatus, Vec<Arc<ResultLine>>)>, TaskError> {
        let jobs = self.broker.detached();
        let found = jobs.registry.lines(&self.id, 0, now_ms()).await?;
        Ok(found.map(|(record, lines)| (jobs.status(&self.broker, record), lines)))
    }

    /// Waits until it ends and answers its final status; `None` if it expired. Waits through
    /// an outage of the shared backend.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let broker = wasimoff::Wasimoff::builder().build().unwrap();
    /// let job = broker.submit_job(wasimoff::Job::default()).await.unwrap();
    /// assert_eq!(job.wait().await.map(|status| status.phase), Some(wasimoff::JobPhase::Done));
    /// # }
    /// ```
    pub async fn wait(&self) -> Option<JobStatus> {
        let jobs = self.broker.detached();
        loop {
            match jobs.registry.record(&self.id, now_ms()).await {
                Ok(None) => return None,
                Ok(Some(record)) if record.phase != JobPhase::Running => return Some(jobs.status(&self.broker, record)),
                Ok(Some(record)) => jobs.registry.wait(&self.id, record.done + record.failed).await,
                Err(_) => tokio::time::sleep(RETRY_PAUSE).await,
            }
        }
    }

    /// Every result as `(index, result)`: those finished already, in the order they finished,
    /// then the others as they finish; the stream ends when the job has ended and every
    /// result was yielded (or when the job expires). Dropping it does not cancel the job. The
    /// stream is `Unpin`, so `next()` works on it as it is.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use futures_util::StreamExt;
    /// use wasimoff::{FileSource, Job, Task, TaskErrorKind};
    /// let broker = wasimoff::Wasimoff::builder().build().unwrap();
    /// let job = broker.submit_job(Job { parent: None, tasks: vec![Task::new(FileSource::reference("nope.wasm"))] }).await.unwrap();
    /// let results: Vec<_> = job.results().collect().await;
    /// assert_eq!(results.len(), 1);
    /// assert_eq!(results[0].1.as_ref().map_err(|error| error.kind), Err(TaskErrorKind::NotFound));
    /// # }
    /// ```
    pub fn results(&self) -> impl Stream<Item = (usize, Result<TaskOutput, TaskError>)> + Send + Unpin + 'static {
        self.follow().map(|line| (line.index, line.result.clone().into_result())).boxed()
    }

    /// The result lines, replayed and then followed; see [`JobHandle::results`].
    pub(crate) fn follow(&self) -> impl Stream<Item = Arc<ResultLine>> + Send + 'static {
        let start = (self.broker.clone(), self.id.clone(), 0, VecDeque::new());
        futures_util::stream::unfold(start, |(broker, id, mut next, mut buffered)| async move {
            loop {
                if let Some(line) = buffered.pop_front() {
                    return Some((line, (broker, id, next, buffered)));
                }
                let registry = &broker.detached().registry;
                let (record, lines) = match registry.lines(&id, next, now_ms()).await {
                    Ok(found) => found?,
                    Err(_) => {
                        tokio::time::sleep(RETRY_PAUSE).await;
                        continue;
                    }
                };
                if lines.is_empty() {
                    if record.phase != JobPhase::Running {
                        return None;
                    }
                    registry.wait(&id, next).await;
                    continue;
                }
                next += lines.len();
                buffered.extend(lines);
            }
        })
    }

    /// Cancels the job: its tasks still queued or running are taken back and end with the
    /// error kind `cancelled`; results already finished stay. Answers the final status (at
    /// once for a job that has ended already); `None` if it expired. With the Redis backend
    /// it works from any replica: the replica that drives the job hears of it within a
    /// fraction of a second.
    ///
    /// ```no_run
    /// # async fn demo(job: wasimoff::JobHandle) -> Result<(), wasimoff::TaskError> {
    /// let status = job.cancel().await?.expect("not expired");
    /// assert_ne!(status.phase, wasimoff::JobPhase::Running);
    /// # Ok(()) }
    /// ```
    pub async fn cancel(&self) -> Result<Option<JobStatus>, TaskError> {
        let jobs = self.broker.detached();
        let token = jobs.driven().get(&self.id).map(|driven| driven.cancel.clone());
        match token {
            Some(token) => token.cancel(),
            None => jobs.registry.request_cancel(&self.id).await?,
        }
        Ok(self.wait().await)
    }
}
