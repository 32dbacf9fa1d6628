//! The builder and the in-process handle.

use crate::api::{ClientApi, ClientRoutes, PROVIDER_WEBSOCKET, PROVIDER_WEBTRANSPORT};
use crate::backend::{Backend, Capacity, RedisBackend};
use crate::cluster::{ClusterState, LocalState};
use crate::jobs::Jobs;
use crate::layers::{ApiService, Body, WasimoffLayer};
use crate::limits::Limits;
use crate::prepare::prepare;
use crate::providers::{OriginPolicy, ProviderInfo, Sessions, WebTransport, WebTransportError, WebTransportState};
use crate::runner::LocalRunner;
use crate::scheduler::{Delivered, FallbackPolicy, JobId, Scheduler, StrikePolicy, TaskId};
use crate::store::{Storage, Store};
use crate::task::{Job, Task, TaskError, TaskErrorKind, TaskOutput};
use crate::throughput::Throughput;
use crate::trust::{AdmissionHook, AdmissionRequest, Quarantine};
use futures_util::{Stream, StreamExt};
use http::{Request, Response};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Weak;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use tokio_util::task::TaskTracker;
use tower::{Layer, Service};

/// The mount prefix used unless [`Builder::prefix`] says otherwise.
pub const DEFAULT_PREFIX: &str = "/wasimoff";

type ClientWrap = Arc<dyn Fn(ClientRoutes) -> ClientRoutes + Send + Sync>;

/// Why a broker could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The storage backend could not be opened.
    #[error("cannot open storage: {0}")]
    Storage(#[from] std::io::Error),
    /// The local runner could not start.
    #[error("cannot start the local runner: {0}")]
    Runner(String),
    /// The WebTransport settings are invalid (certificate lifetimes, PEM certificate or key).
    #[error("invalid WebTransport settings: {0}")]
    WebTransport(#[from] WebTransportError),
    /// The shared backend ([`Backend::Redis`]) cannot be reached or its URL is invalid.
    #[error("cannot use the shared backend: {0}")]
    Backend(String),
}

/// Configures a broker; see [`Wasimoff::builder`].
#[derive(Clone)]
pub struct Builder {
    limits: Limits,
    storage: Storage,
    prefix: String,
    client_wrap: Option<ClientWrap>,
    origins: OriginPolicy,
    fallback: FallbackPolicy,
    webtransport: WebTransport,
    admission: AdmissionHook,
    backend: Backend,
}

impl Default for Builder {
    fn default() -> Builder {
        Builder {
            limits: Limits::default(),
            storage: Storage::default(),
            prefix: DEFAULT_PREFIX.to_string(),
            client_wrap: None,
            origins: OriginPolicy::default(),
            fallback: FallbackPolicy::default(),
            webtransport: WebTransport::default(),
            admission: Arc::new(crate::trust::Admission::untrusted),
            backend: Backend::default(),
        }
    }
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("limits", &self.limits)
            .field("storage", &self.storage)
            .field("prefix", &self.prefix)
            .field("client_layer", &self.client_wrap.is_some())
            .field("origins", &self.origins)
            .field("fallback", &self.fallback)
            .field("webtransport", &self.webtransport)
            .field("backend", &self.backend)
            .finish()
    }
}

impl Builder {
    /// Sets the path the broker is mounted at (default `/wasimoff`).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Builder {
        let prefix = prefix.into();
        self.prefix = format!("/{}", prefix.trim_matches('/'));
        self
    }

    /// Wraps the client routes (`…/api/…`: uploads, tasks, jobs, cluster; and the operator
    /// dashboard, `…/dashboard`) in a layer of the host's, for example authentication; provider
    /// routes are not wrapped.
    ///
    /// ```
    /// use http::{Request, Response, StatusCode};
    /// use tower_http::validate_request::ValidateRequestHeaderLayer;
    /// use wasimoff::layers::Body;
    /// let builder = wasimoff::Wasimoff::builder().client_layer(ValidateRequestHeaderLayer::custom(
    ///     |request: &mut Request<Body>| match request.headers().get("authorization") {
    ///         Some(value) if value == "Bearer secret" => Ok(()),
    ///         _ => Err(Response::builder().status(StatusCode::UNAUTHORIZED).body(Body::default()).unwrap()),
    ///     },
    /// ));
    /// ```
    pub fn client_layer<L>(mut self, layer: L) -> Builder
    where
        L: Layer<ClientRoutes> + Send + Sync + 'static,
        L::Service: Service<Request<Body>, Response = Response<Body>, Error = Infallible> + Clone + Send + 'static,
        <L::Service as Service<Request<Body>>>::Future: Send + 'static,
    {
        self.client_wrap = Some(Arc::new(move |routes| ClientRoutes::new(layer.layer(routes))));
        self
    }

    /// Sets which web origins may connect providers (default: the host's own and localhost).
    pub fn allowed_origins(mut self, origins: OriginPolicy) -> Builder {
        self.origins = origins;
        self
    }

    /// Sets the admission hook: for every connecting provider, after its hello, it decides
    /// from the hello (kind, name, `token`), the request's headers and the provider's address
    /// whether to refuse it or admit it trusted or untrusted. Default
    /// [`Admission::untrusted`]: browsers and native providers alike are untrusted, so tasks
    /// that ask for verification are checked against each other or the local runner.
    ///
    /// ```
    /// use wasimoff::{Admission, AdmissionRequest};
    /// let builder = wasimoff::Wasimoff::builder().admission(|request: &AdmissionRequest<'_>| {
    ///     match request.remote_address {
    ///         Some(address) if address.ip().is_loopback() => Admission::Trusted,
    ///         Some(_) => Admission::Untrusted,
    ///         None => Admission::Refuse("no address".into()),
    ///     }
    /// });
    /// ```
    pub fn admission(mut self, hook: impl Fn(&AdmissionRequest<'_>) -> crate::trust::Admission + Send + Sync + 'static) -> Builder {
        self.admission = Arc::new(hook);
        self
    }

    /// Sets when the broker runs tasks on its own runner (default: while no provider is
    /// connected).
    pub fn fallback(mut self, policy: FallbackPolicy) -> Builder {
        self.fallback = policy;
        self
    }

    /// Sets whether and where providers can connect over WebTransport (HTTP/3 on QUIC), next
    /// to WebSocket. Default: [`WebTransport::on_host_address`] with a self-signed
    /// certificate — the endpoint starts when the host calls
    /// [`Wasimoff::start_webtransport`] with its HTTP listener's address and listens on the
    /// same IP and port number over UDP. With [`WebTransport::bind`] it listens on that
    /// address from [`Builder::build`] on; [`WebTransport::disabled`] turns it off.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use wasimoff::{SelfSigned, WebTransport};
    /// let certificate = SelfSigned { validity: Duration::from_secs(7 * 24 * 3600), renew_before: Duration::from_secs(24 * 3600) };
    /// let (layer, broker) = wasimoff::Wasimoff::builder()
    ///     .webtransport(WebTransport::bind("0.0.0.0:4433".parse()?).certificate(certificate.into()))
    ///     .build_layer()?;
    /// # Ok(()) }
    /// ```
    pub fn webtransport(mut self, webtransport: WebTransport) -> Builder {
        self.webtransport = webtransport;
        self
    }

    /// Builds the broker and the layer that mounts it into a host app.
    pub fn build_layer(self) -> Result<(WasimoffLayer, Wasimoff), BuildError> {
        let broker = self.build()?;
        Ok((broker.layer(), broker))
    }

    /// Sets every limit at once.
    pub fn limits(mut self, limits: Limits) -> Builder {
        self.limits = limits;
        self
    }

    /// Chooses where the queue, the files and the results live: in this process (the
    /// default) or in Redis, shared by every replica of the host app that uses the same
    /// Redis ([`Backend::Redis`]; see `docs/ARCHITECTURE.md`). With Redis, [`Builder::build`]
    /// connects at once and fails with [`BuildError::Backend`] if it cannot; the
    /// [`Storage`] is then this replica's cache of the shared files.
    ///
    /// ```no_run
    /// let broker = wasimoff::Wasimoff::builder().backend(wasimoff::Backend::Redis("redis://127.0.0.1:6379".into())).build();
    /// ```
    pub fn backend(mut self, backend: Backend) -> Builder {
        self.backend = backend;
        self
    }

    /// Chooses where files are stored (memory by default).
    pub fn storage(mut self, storage: Storage) -> Builder {
        self.storage = storage;
        self
    }

    /// Opens the store and starts the local runner; with [`WebTransport::bind`] also the
    /// WebTransport endpoint (which needs a Tokio runtime; if it cannot start, a warning is
    /// logged and providers use WebSocket).
    pub fn build(self) -> Result<Wasimoff, BuildError> {
        let webtransport = WebTransportState::new(self.webtransport)?;
        let store = Store::open(&self.storage, &self.limits)?;
        let runner = LocalRunner::start(&self.limits, store.clone()).map_err(BuildError::Runner)?;
        let shared = match &self.backend {
            Backend::Memory => None,
            Backend::Redis(url) => {
                let (shared, files) = RedisBackend::connect(url, &self.limits, runner.handle()).map_err(BuildError::Backend)?;
                store.share(files);
                Some(shared)
            }
        };
        let strikes = StrikePolicy { limit: self.limits.strikes, window: self.limits.strike_window };
        let scheduler = Scheduler::new(self.fallback, strikes, runner.handle());
        crate::providers::local::attach(&scheduler, runner.clone());
        let capacity = Capacity { policy: self.fallback, local_slots: runner.slots() };
        if let Some(shared) = &shared {
            let (weak, replica) = (Arc::downgrade(&scheduler), shared.replica().to_string());
            shared.start(&scheduler, capacity, move || {
                weak.upgrade().map(|scheduler| mark(scheduler.providers(), &replica)).unwrap_or_default()
            });
        }
        let broker = Wasimoff {
            inner: Arc::new(Inner {
                store,
                runner,
                limits: self.limits,
                prefix: self.prefix,
                client_wrap: self.client_wrap,
                origins: self.origins,
                admission: self.admission,
                quarantine: Quarantine::default(),
                scheduler,
                capacity,
                tracker: TaskTracker::new(),
                sessions: Sessions::default(),
                admitted: AtomicUsize::new(0),
                throughput: Throughput::new(),
                outcomes: Default::default(),
                detached: Jobs::new(shared.as_deref()),
                webtransport,
                shared,
            }),
        };
        if let Some(shared) = &broker.inner.shared {
            crate::jobs::watch_orphans(broker.downgrade(), shared.claim_timeout() / 3, shared.runtime());
        }
        if let Some(address) = broker.inner.webtransport.address_at_build() {
            let _ = broker.inner.webtransport.start(&broker, address);
        }
        Ok(broker)
    }
}

struct Inner {
    store: Store,
    runner: LocalRunner,
    limits: Limits,
    prefix: String,
    client_wrap: Option<ClientWrap>,
    origins: OriginPolicy,
    admission: AdmissionHook,
    quarantine: Quarantine,
    scheduler: Arc<Scheduler>,
    /// The runners' share of the scheduler's room: the local runner's as the fallback allows.
    capacity: Capacity,
    tracker: TaskTracker,
    sessions: Sessions,
    admitted: AtomicUsize,
    throughput: Throughput,
    outcomes: [AtomicU64; 1 + TaskErrorKind::ALL.len()],
    detached: Jobs,
    webtransport: WebTransportState,
    /// The Redis backend, with [`Backend::Redis`].
    shared: Option<Arc<RedisBackend>>,
}

/// Marks `providers` as connected to `replica`.
fn mark(providers: Vec<crate::cluster::ProviderState>, replica: &str) -> Vec<crate::cluster::ProviderState> {
    providers.into_iter().map(|provider| crate::cluster::ProviderState { replica: Some(replica.to_string()), ..provider }).collect()
}

/// The broker handle: submit tasks and jobs in-process, reach the store, shut down.
/// Cheap to clone; all clones drive the same broker.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use wasimoff::{FileSource, Task, Upload, Wasimoff};
/// let broker = Wasimoff::builder().build()?;
/// broker.store().put(std::fs::read("tsp.wasm")?.into(), Upload::new().alias("tsp.wasm")).await?;
/// let output = broker.run(Task::new(FileSource::reference("tsp.wasm")).args(["tsp", "rand", "8"])).await?;
/// println!("{}", String::from_utf8_lossy(&output.stdout));
/// broker.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Wasimoff {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Wasimoff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wasimoff")
            .field("prefix", &self.inner.prefix)
            .field("store", &self.inner.store)
            .field("limits", &self.inner.limits)
            .finish()
    }
}

/// Takes a task back from the scheduler if its submitter stops waiting.
struct CancelOnDrop<'a> {
    scheduler: &'a Scheduler,
    id: Option<TaskId>,
}

impl CancelOnDrop<'_> {
    fn disarm(mut self) {
        self.id = None;
    }
}

impl Drop for CancelOnDrop<'_> {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            self.scheduler.cancel(id);
        }
    }
}

/// Releases an admission slot when the task is done or abandoned.
struct Admission<'a>(&'a AtomicUsize);

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Wasimoff {
    /// A builder with default limits and in-memory storage.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The file store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// Runs one task and waits for its result. Dropping the future cancels the task. The task
    /// is a job of its own: it takes turns with the tasks of every other job of its
    /// [`priority`](Task::priority).
    pub async fn run(&self, task: Task) -> Result<TaskOutput, TaskError> {
        self.run_in(task, self.inner.scheduler.new_job()).await
    }

    /// Runs one task of `job`.
    async fn run_in(&self, task: Task, job: JobId) -> Result<TaskOutput, TaskError> {
        let inner = &self.inner;
        if inner.tracker.is_closed() {
            return Err(TaskError::new(TaskErrorKind::ShuttingDown, "the broker is shutting down"));
        }
        if inner.admitted.fetch_add(1, Ordering::AcqRel) >= self.capacity() {
            inner.admitted.fetch_sub(1, Ordering::AcqRel);
            return Err(TaskError::new(
                TaskErrorKind::QueueFull,
                format!("the queue is full ({} tasks waiting); try again later", inner.limits.queue_length),
            ));
        }
        let _admission = Admission(&inner.admitted);
        let result = inner
            .tracker
            .track_future(async {
                let prepared = prepare(task, &inner.store, &inner.limits).await?;
                if let Some(shared) = &inner.shared {
                    return shared.run(prepared, job).await;
                }
                let (id, result) = inner.scheduler.submit(prepared, job);
                let cancel_on_drop = CancelOnDrop { scheduler: &inner.scheduler, id: Some(id) };
                let delivered = result.await;
                cancel_on_drop.disarm();
                match delivered {
                    Ok(Delivered { result, span }) => {
                        tracing::debug!(parent: &span, "task finished");
                        result.into_result()
                    }
                    Err(_) => Err(TaskError::new(TaskErrorKind::Internal, "the scheduler dropped the task")),
                }
            })
            .await;
        inner.throughput.record(result.is_ok());
        let outcome = match &result {
            Ok(_) => 0,
            Err(error) => 1 + TaskErrorKind::ALL.iter().position(|kind| *kind == error.kind).unwrap_or(0),
        };
        inner.outcomes[outcome].fetch_add(1, Ordering::Relaxed);
        result
    }

    /// Finished tasks by outcome: `exited`, then every error kind, in a fixed order.
    pub fn outcome_counts(&self) -> Vec<(&'static str, u64)> {
        std::iter::once("exited")
            .chain(TaskErrorKind::ALL.iter().map(|kind| kind.as_str()))
            .zip(&self.inner.outcomes)
            .map(|(name, count)| (name, count.load(Ordering::Relaxed)))
            .collect()
    }

    /// Tasks admitted at once: every worker (local and providers') plus the queue.
    fn capacity(&self) -> usize {
        self.inner.limits.concurrency + self.inner.scheduler.provider_workers() + self.inner.limits.queue_length
    }

    /// Whether [`Wasimoff::shutdown`] was called.
    pub(crate) fn is_shutting_down(&self) -> bool {
        self.inner.tracker.is_closed()
    }

    /// Whether a submission now would be refused with `queue_full`.
    pub fn queue_is_full(&self) -> bool {
        self.inner.admitted.load(Ordering::Acquire) >= self.capacity()
    }

    /// Runs a job and yields `(index, result)` as each task finishes. Dropping the stream
    /// cancels the tasks still queued or running. The job's tasks take turns with other jobs'
    /// (see [`Wasimoff::run_job`]).
    pub fn run_job_unordered(&self, job: Job) -> impl Stream<Item = (usize, Result<TaskOutput, TaskError>)> + Send + 'static {
        self.run_job_as(job, self.inner.scheduler.new_job())
    }

    /// Runs `job`'s tasks as scheduler job `id`, like [`Wasimoff::run_job_unordered`].
    pub(crate) fn run_job_as(&self, job: Job, id: JobId) -> impl Stream<Item = (usize, Result<TaskOutput, TaskError>)> + Send + 'static {
        let parent = job.parent.unwrap_or_default();
        let (broker, window) = (self.clone(), self.clone());
        let tasks = job.tasks.into_iter().enumerate().map(move |(index, task)| {
            let broker = broker.clone();
            let task = task.inherit(&parent);
            async move { (index, broker.run_in(task, id).await) }
        });
        crate::window::windowed(tasks, move || window.job_window())
    }

    /// How many of a job's tasks are admitted at once, asked again as the job runs: twice what
    /// the runners hold now (the local concurrency while the fallback policy lets the local
    /// runner run tasks, the providers' workers and prefetch), so a job alone keeps every
    /// worker and provider queue full; but never more than every worker plus half the queue,
    /// so one job neither has its own tasks refused with `queue_full` nor takes every
    /// admission slot from the jobs submitted after it. With a shared backend the other replicas' providers count as well
    /// (their workers, twice over for their prefetch), and their local runners' slots that
    /// their fallback policies let run tasks.
    fn job_window(&self) -> usize {
        let inner = &self.inner;
        let (peers, peer_local) = inner.shared.as_ref().map_or((0, 0), |shared| (shared.peer_workers(), shared.peer_local_slots()));
        let local = inner.capacity.local(&inner.scheduler) + peer_local;
        let runners = local + inner.scheduler.provider_capacity() + 2 * peers;
        let share = local + inner.scheduler.provider_workers() + peers + inner.limits.queue_length / 2;
        (runners * 2).min(share).max(1)
    }

    /// What the broker is doing now.
    pub fn cluster(&self) -> ClusterState {
        let inner = &self.inner;
        let providers = match &inner.shared {
            Some(shared) => {
                let mut providers = mark(inner.scheduler.providers(), shared.replica());
                providers.extend(shared.peer_providers());
                providers
            }
            None => inner.scheduler.providers(),
        };
        ClusterState {
            providers,
            local: LocalState { workers: inner.runner.slots(), busy: inner.runner.busy(), tasks_done: inner.scheduler.local_done() },
            queued: inner.scheduler.queued() + inner.shared.as_ref().map_or(0, |shared| shared.shared_waiting()),
            jobs: match &inner.shared {
                Some(shared) => shared.jobs(inner.scheduler.jobs()),
                None => inner.scheduler.jobs(),
            },
            queue_capacity: inner.limits.queue_length,
            tasks_per_second: inner.throughput.per_second(),
            throughput: inner.throughput.history(),
            verification: inner.scheduler.verification(),
        }
    }

    /// The mount prefix, for example `/wasimoff`.
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// A layer that serves this broker under its prefix in front of a host service.
    pub fn layer(&self) -> WasimoffLayer {
        WasimoffLayer::new(self.clone())
    }

    /// This broker as a service with paths relative to its mount point, for
    /// `Router::nest_service(prefix, …)`.
    pub fn service(&self) -> ApiService {
        ApiService::new(self.clone())
    }

    /// Attaches a provider inside this process with `workers` workers; refused once
    /// [`Limits::max_providers`] providers are connected.
    pub fn attach_provider(
        &self,
        name: &str,
        workers: u32,
    ) -> Result<crate::providers::InProcessProvider, crate::scheduler::ProviderLimitReached> {
        crate::providers::InProcessProvider::attach(self, name, workers)
    }

    /// Which origins may connect providers.
    pub(crate) fn origin_policy(&self) -> &OriginPolicy {
        &self.inner.origins
    }

    /// The host's admission hook.
    pub(crate) fn admission(&self) -> &AdmissionHook {
        &self.inner.admission
    }

    /// Addresses of quarantined providers.
    pub(crate) fn quarantine(&self) -> &Quarantine {
        &self.inner.quarantine
    }

    /// The scheduler, which also knows the connected providers.
    pub(crate) fn scheduler(&self) -> &Arc<Scheduler> {
        &self.inner.scheduler
    }

    /// Frames and messages exchanged with remote providers so far.
    pub fn provider_traffic(&self) -> crate::ProviderTraffic {
        self.inner.sessions.traffic().read()
    }

    /// The provider sessions over every transport.
    pub(crate) fn sessions(&self) -> &Sessions {
        &self.inner.sessions
    }

    /// The client routes, wrapped in the host's [`Builder::client_layer`] if one was given.
    pub(crate) fn client_routes(&self) -> ClientRoutes {
        let routes = ClientRoutes::new(ClientApi { broker: self.clone() });
        match &self.inner.client_wrap {
            Some(wrap) => wrap(routes),
            None => routes,
        }
    }

    /// Runs a job's tasks, each inheriting what it leaves out from the parent, and returns
    /// their results in order. At most twice as many of its tasks as the runners hold when it
    /// starts (the local concurrency, the providers' workers and prefetch) wait at once, and
    /// never more than every worker plus half the queue, so a large job does not fill the
    /// queue by itself and still keeps every provider's queue full. Its tasks share the workers
    /// fairly with other jobs: the highest [`priority`](Task::priority) first, and among jobs of
    /// one priority one task of each in turn, so a small job submitted behind a large one waits
    /// for the tasks already given to workers, not for the large job.
    pub async fn run_job(&self, job: Job) -> Vec<Result<TaskOutput, TaskError>> {
        let mut results: Vec<_> = self.run_job_unordered(job).collect().await;
        results.sort_unstable_by_key(|(index, _)| *index);
        results.into_iter().map(|(_, result)| result).collect()
    }

    /// The detached jobs.
    pub(crate) fn detached(&self) -> &Jobs {
        &self.inner.detached
    }

    /// Runs `future` on the current Tokio runtime; shutdown waits for it.
    pub(crate) fn spawn_tracked(&self, future: impl Future<Output = ()> + Send + 'static) {
        self.inner.tracker.spawn(future);
    }

    /// Starts the WebTransport endpoint for providers, unless it runs already, and returns
    /// the UDP address it listens on. With the default [`WebTransport::on_host_address`]
    /// it binds `http_address` — pass the address the host's TCP listener is bound to, and
    /// providers reach WebTransport on the same IP and port number. With
    /// [`WebTransport::bind`] the configured address is used instead. Call it inside a
    /// Tokio runtime.
    ///
    /// An error (disabled, feature off, UDP port taken…) is also logged as a warning; the
    /// broker keeps serving and providers connect over WebSocket.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// let (layer, broker) = wasimoff::Wasimoff::builder().build_layer()?;
    /// let app = axum::Router::new().layer(layer);
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:4080").await?;
    /// if let Ok(udp) = broker.start_webtransport(listener.local_addr()?) {
    ///     println!("WebTransport for providers on UDP {udp}");
    /// }
    /// axum::serve(listener, app).await?;
    /// # Ok(()) }
    /// ```
    pub fn start_webtransport(&self, http_address: SocketAddr) -> Result<SocketAddr, WebTransportError> {
        self.inner.webtransport.start(self, http_address)
    }

    /// Where and how providers connect, as served at `GET {prefix}/provider/info`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let broker = wasimoff::Wasimoff::builder().build().unwrap();
    /// let info = broker.provider_info();
    /// assert_eq!(info.websocket, "/wasimoff/provider/ws");
    /// assert_eq!(info.webtransport, None); // until start_webtransport
    /// # }
    /// ```
    pub fn provider_info(&self) -> ProviderInfo {
        let prefix = self.prefix();
        ProviderInfo {
            protocol_version: wasimoff_protocol::VERSION,
            websocket: format!("{prefix}{PROVIDER_WEBSOCKET}"),
            webtransport: self.inner.webtransport.info(format!("{prefix}{PROVIDER_WEBTRANSPORT}")),
        }
    }

    /// A handle that does not keep the broker alive.
    pub(crate) fn downgrade(&self) -> WeakWasimoff {
        WeakWasimoff(Arc::downgrade(&self.inner))
    }

    /// Stops taking tasks, waits until every task already submitted has finished (with a
    /// shared backend, also those this replica claimed from other replicas), then
    /// closes every provider session on both transports with a going-away close (1001, "the
    /// broker is shutting down"), waits until they have ended, and closes the WebTransport
    /// endpoint.
    pub async fn shutdown(&self) {
        self.inner.tracker.close();
        self.inner.tracker.wait().await;
        if let Some(shared) = &self.inner.shared {
            shared.drain().await;
        }
        self.inner.sessions.close().await;
        self.inner.webtransport.stop().await;
    }
}

/// A broker handle that does not keep the broker alive, for its own background tasks.
pub(crate) struct WeakWasimoff(Weak<Inner>);

impl WeakWasimoff {
    /// The broker, unless every handle is gone.
    pub(crate) fn upgrade(&self) -> Option<Wasimoff> {
        self.0.upgrade().map(|inner| Wasimoff { inner })
    }
}
