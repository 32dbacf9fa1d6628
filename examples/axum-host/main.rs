//! An ordinary axum site — a home page, an about page, a small JSON API of its own — with
//! the wasimoff broker mounted at `/wasimoff`.
//!
//! ```sh
//! cargo run --release --example axum-host
//! WASIMOFF_LISTEN=0.0.0.0:8080 WASIMOFF_TOKEN=secret cargo run --release --example axum-host
//! ```
//!
//! `WASIMOFF_LISTEN` sets the address (default `127.0.0.1:4080`). With `WASIMOFF_TOKEN` set,
//! the broker's client routes (uploads, tasks, jobs, cluster, dashboard) require
//! `Authorization: Bearer <token>`; the site's own pages and the provider routes stay open.
//! `WASIMOFF_STORAGE=/some/dir` keeps uploads (and compiled modules) across restarts;
//! `WASIMOFF_STORE_BYTES` sets the store's quota in bytes (default 1 GiB);
//! `WASIMOFF_JOB_RETENTION_SECS` how long detached jobs keep their results after they end
//! (default 3600) and `WASIMOFF_MAX_DETACHED_JOBS` how many are kept at once (default 1000).
//! `WASIMOFF_REDIS=redis://host:6379` shares the queue, the files and the results with every
//! other replica on that Redis (tasks flow to the replicas with free workers);
//! `WASIMOFF_CLAIM_TIMEOUT_MS` sets how long a dead replica's tasks wait before another
//! takes them over (default 30000). `WASIMOFF_FALLBACK=never|always|when_no_providers`
//! sets when the broker's own runner runs tasks (default `when_no_providers`).
//! Providers also reach the broker over WebTransport (HTTP/3) on the same port number, UDP;
//! `WASIMOFF_WEBTRANSPORT=off` leaves them WebSocket only. With `WASIMOFF_PROVIDER_TOKEN`
//! set, native providers presenting that token (`wasimoff-provider URL --token <token>`) are
//! trusted: their results need no verification; every other provider stays untrusted, and one
//! presenting a wrong token is refused. The broker sees each provider's address (for the
//! admission hook and quarantines) through `ConnectInfo`.
//!
//! The home page carries the one-line provider snippet: a visitor who allows it runs tasks in
//! their browser. `/wasimoff/` is the provider page with workers, tasks and a log;
//! `/wasimoff/dashboard` the operator dashboard.
//!
//! Logs go to stderr, filtered by `RUST_LOG` (default `info`): `RUST_LOG=wasimoff=debug` adds
//! a line per task (its `task` span: task and job id, provider, outcome, queue, run and total
//! milliseconds), `tower_http=debug` a line per request and response.

use axum::Router;
use axum::extract::ConnectInfo;
use axum::response::Html;
use axum::routing::get;
use axum::serve::ListenerExt;
use http::{Request, Response, StatusCode};
use std::net::SocketAddr;
use tower_http::trace::TraceLayer;
use tower_http::validate_request::ValidateRequestHeaderLayer;
use tracing_subscriber::EnvFilter;
use wasimoff::layers::Body;
use wasimoff::{Admission, Backend, FallbackPolicy, Limits, RemoteAddress, Storage, Wasimoff, WebTransport};

async fn home() -> Html<&'static str> {
    Html(
        "<!doctype html><title>Example Site</title><h1>Example Site</h1>\
         <p>This site lends its visitors' idle CPU to compute jobs (it asks first).</p>\
         <ul><li><a href=\"/about\">About</a></li>\
         <li><a href=\"/wasimoff/\">Provider page</a>: workers, tasks and a log</li>\
         <li><a href=\"/wasimoff/dashboard\">Operator dashboard</a></li>\
         <li><a href=\"/wasimoff/api/v1/cluster\">Broker cluster view</a></li></ul>\
         <script type=\"module\" src=\"/wasimoff/provider.js\"></script>",
    )
}

async fn about() -> Html<&'static str> {
    Html("<!doctype html><title>About</title><h1>About</h1><p>An axum app with a wasimoff broker inside.</p>")
}

async fn hello() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({"hello": "from the host app"}))
}

/// Requires `Authorization: Bearer <token>` on the routes it wraps.
fn bearer(token: String) -> ValidateRequestHeaderLayer<impl Fn(&mut Request<Body>) -> Result<(), Response<Body>> + Clone> {
    let expected = format!("Bearer {token}");
    ValidateRequestHeaderLayer::custom(move |request: &mut Request<Body>| {
        if request.headers().get(http::header::AUTHORIZATION).is_some_and(|value| value.as_bytes() == expected.as_bytes()) {
            return Ok(());
        }
        let mut denied = Response::new(Body::default());
        *denied.status_mut() = StatusCode::UNAUTHORIZED;
        denied.headers_mut().insert(http::header::WWW_AUTHENTICATE, http::HeaderValue::from_static("Bearer"));
        Err(denied)
    })
}

/// Hands the client's address (axum's `ConnectInfo`) to the broker as [`RemoteAddress`].
async fn remote_address(mut request: Request<axum::body::Body>, next: axum::middleware::Next) -> axum::response::Response {
    if let Some(ConnectInfo(address)) = request.extensions().get::<ConnectInfo<SocketAddr>>().copied() {
        request.extensions_mut().insert(RemoteAddress(address));
    }
    next.run(request).await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let colours = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(colours).init();
    let listen = std::env::var("WASIMOFF_LISTEN").unwrap_or_else(|_| "127.0.0.1:4080".into());
    let mut builder = Wasimoff::builder();
    if let Ok(dir) = std::env::var("WASIMOFF_STORAGE") {
        builder = builder.storage(Storage::Directory(dir.into()));
    }
    if std::env::var("WASIMOFF_WEBTRANSPORT").is_ok_and(|value| value == "off") {
        builder = builder.webtransport(WebTransport::disabled());
    }
    let mut limits = Limits::default();
    if let Ok(bytes) = std::env::var("WASIMOFF_STORE_BYTES") {
        limits.store_bytes = bytes.parse().map_err(|e| format!("WASIMOFF_STORE_BYTES={bytes:?}: {e}"))?;
    }
    if let Ok(millis) = std::env::var("WASIMOFF_CLAIM_TIMEOUT_MS") {
        let millis = millis.parse().map_err(|e| format!("WASIMOFF_CLAIM_TIMEOUT_MS={millis:?}: {e}"))?;
        limits.claim_timeout = std::time::Duration::from_millis(millis);
    }
    if let Ok(url) = std::env::var("WASIMOFF_REDIS") {
        builder = builder.backend(Backend::Redis(url));
    }
    if let Ok(policy) = std::env::var("WASIMOFF_FALLBACK") {
        builder = builder.fallback(match policy.as_str() {
            "never" => FallbackPolicy::Never,
            "always" => FallbackPolicy::Always,
            "when_no_providers" => FallbackPolicy::WhenNoProviders,
            _ => return Err(format!("WASIMOFF_FALLBACK={policy:?}: expected never, always or when_no_providers").into()),
        });
    }
    if let Ok(seconds) = std::env::var("WASIMOFF_JOB_RETENTION_SECS") {
        let seconds = seconds.parse().map_err(|e| format!("WASIMOFF_JOB_RETENTION_SECS={seconds:?}: {e}"))?;
        limits.job_retention = std::time::Duration::from_secs(seconds);
    }
    if let Ok(count) = std::env::var("WASIMOFF_MAX_DETACHED_JOBS") {
        limits.max_detached_jobs = count.parse().map_err(|e| format!("WASIMOFF_MAX_DETACHED_JOBS={count:?}: {e}"))?;
    }
    builder = builder.limits(limits);
    let token = std::env::var("WASIMOFF_TOKEN").ok().filter(|token| !token.is_empty());
    if let Some(token) = token.clone() {
        builder = builder.client_layer(bearer(token));
    }
    if let Ok(provider_token) = std::env::var("WASIMOFF_PROVIDER_TOKEN")
        && !provider_token.is_empty()
    {
        builder = builder.admission(Admission::trust_token(provider_token));
    }
    let (wasimoff_layer, broker) = builder.build_layer()?;

    let app = Router::new()
        .route("/", get(home))
        .route("/about", get(about))
        .route("/api/hello", get(hello))
        .layer(wasimoff_layer)
        .layer(TraceLayer::new_for_http())
        .layer(axum::middleware::from_fn(remote_address));

    let listener = tokio::net::TcpListener::bind(&listen).await?;
    let address = listener.local_addr()?;
    println!("axum-host listening on http://{address}");
    println!("  GET  /                the site's home page");
    println!("  GET  /about           the site's about page");
    println!("  GET  /api/hello       the site's own JSON API");
    let auth = if token.is_some() { " (Authorization: Bearer <WASIMOFF_TOKEN>)" } else { "" };
    println!("broker mounted at {}{auth}:", broker.prefix());
    for (method, path, what) in wasimoff::ROUTES {
        println!("  {method:<4} {}{path}  {what}", broker.prefix());
    }

    println!(
        "  GET  {}/  the provider page; any page joins with <script type=\"module\" src=\"{}/provider.js\">",
        broker.prefix(),
        broker.prefix()
    );
    match broker.start_webtransport(address) {
        Ok(udp) => println!("  UDP  {udp}  WebTransport for providers (HTTP/3)"),
        Err(error) => println!("  UDP  off  WebTransport for providers: {error}; they use WebSocket"),
    }

    // Small protocol frames should leave at once, not wait for the previous one's ACK (Nagle).
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let shutdown_broker = broker.clone();
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async move {
            let _ = tokio::signal::ctrl_c().await;
            println!("shutting down: draining running tasks");
            shutdown_broker.shutdown().await;
        })
        .await?;
    Ok(())
}
