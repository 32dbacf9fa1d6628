//! Shared test helpers: the fixtures (built from `fixtures/` for wasm32-wasip1 on first use),
//! brokers with chosen limits, and zip builders that do not check what they write.

use bytes::Bytes;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Once;
use wasimoff::{FileSource, Limits, Task, Upload, Wasimoff};
use zip::write::SimpleFileOptions;

pub const FIXTURES: [&str; 11] = ["cat", "echo", "exit", "files", "flood", "membomb", "sockets", "spin", "trap", "tsp", "wasi"];

fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The bytes of fixture `name`, building all fixtures once per test process.
pub fn fixture(name: &str) -> Bytes {
    static BUILD: Once = Once::new();
    BUILD.call_once(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = std::process::Command::new(cargo)
            .args(["build", "--quiet", "--release", "--target", "wasm32-wasip1", "--manifest-path"])
            .arg(project_root().join("fixtures/Cargo.toml"))
            .status()
            .expect("run cargo to build the fixtures");
        assert!(status.success(), "building the fixtures failed (is the wasm32-wasip1 target installed?)");
    });
    let path = project_root().join(format!("fixtures/target/wasm32-wasip1/release/{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display())).into()
}

/// Limits for tests: the defaults with a shorter timeout.
pub fn test_limits() -> Limits {
    Limits { timeout: std::time::Duration::from_secs(20), ..Limits::default() }
}

/// A broker with every fixture uploaded under `NAME.wasm`.
pub async fn broker_with(limits: Limits) -> Wasimoff {
    let broker = Wasimoff::builder().limits(limits).build().expect("build broker");
    upload_fixtures(&broker).await;
    broker
}

/// Uploads every fixture under `NAME.wasm`.
pub async fn upload_fixtures(broker: &Wasimoff) {
    for name in FIXTURES {
        broker.store().put(fixture(name), Upload::new().alias(format!("{name}.wasm"))).await.expect("upload fixture");
    }
}

pub async fn broker() -> Wasimoff {
    broker_with(test_limits()).await
}

/// A task running fixture `name` with `args` (argv[0] included).
pub fn task(name: &str, args: &[&str]) -> Task {
    Task::new(FileSource::reference(format!("{name}.wasm"))).args(args.iter().copied())
}

/// One entry of a zip written without any checks.
pub enum RawEntry<'a> {
    File(&'a str, &'a [u8]),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
    Zeros(&'a str, u64),
}

/// Writes a zip exactly as told, hostile names and links included.
pub fn raw_zip(entries: &[RawEntry<'_>]) -> Bytes {
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated).large_file(true);
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for entry in entries {
        match entry {
            RawEntry::File(name, content) => {
                writer.start_file(*name, options).unwrap();
                writer.write_all(content).unwrap();
            }
            RawEntry::Dir(name) => writer.add_directory(*name, options).unwrap(),
            RawEntry::Symlink(name, target) => writer.add_symlink(*name, *target, options).unwrap(),
            RawEntry::Zeros(name, count) => {
                writer.start_file(*name, options).unwrap();
                let block = vec![0u8; 1 << 20];
                let mut left = *count;
                while left > 0 {
                    let n = left.min(block.len() as u64) as usize;
                    writer.write_all(&block[..n]).unwrap();
                    left -= n as u64;
                }
            }
        }
    }
    writer.finish().unwrap().into_inner().into()
}

/// The entries of a zip as (name, content) pairs, in archive order.
pub fn unzip(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("valid zip");
    (0..archive.len())
        .map(|i| {
            let mut file = archive.by_index(i).unwrap();
            let mut content = Vec::new();
            std::io::Read::read_to_end(&mut file, &mut content).unwrap();
            (file.name().unwrap().to_string(), content)
        })
        .collect()
}

/// Serves `app` on a fresh loopback port; returns `http://127.0.0.1:PORT`.
pub async fn serve(app: axum::Router) -> String {
    use axum::serve::ListenerExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let address = listener.local_addr().unwrap();
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    format!("http://{address}")
}

/// A host app (two routes of its own) with `broker` mounted through its layer.
pub fn host_app(broker: &Wasimoff) -> axum::Router {
    axum::Router::new()
        .route("/", axum::routing::get(|| async { "host home" }))
        .route("/api/hello", axum::routing::post(|body: String| async move { format!("host got {body}") }))
        .layer(broker.layer())
}

/// A broker with the fixtures uploaded, served inside a host app; returns it and the base URL.
pub async fn http_broker_with(limits: Limits) -> (Wasimoff, String) {
    let broker = broker_with(limits).await;
    let base = serve(host_app(&broker)).await;
    (broker, base)
}

pub async fn http_broker() -> (Wasimoff, String) {
    http_broker_with(test_limits()).await
}

pub fn client() -> reqwest::Client {
    reqwest::Client::new()
}

/// Decodes standard base64.
pub fn b64(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(text).expect("base64")
}

/// Encodes standard base64.
pub fn to_b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Serves any tower service with plain hyper (HTTP/1.1, upgrades on), as a non-axum host
/// would; returns `http://127.0.0.1:PORT`.
pub async fn serve_with_hyper<S, B>(service: S) -> String
where
    S: tower::Service<http::Request<hyper::body::Incoming>, Response = http::Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            let _ = stream.set_nodelay(true);
            let service = hyper_util::service::TowerToHyperService::new(service.clone());
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .with_upgrades()
                    .await;
            });
        }
    });
    format!("http://{address}")
}

/// Runs `task` on `broker` in the background.
pub fn spawn_run(broker: &Wasimoff, task: Task) -> tokio::task::JoinHandle<Result<wasimoff::TaskOutput, wasimoff::TaskError>> {
    let broker = broker.clone();
    tokio::spawn(async move { broker.run(task).await })
}

/// What a provider answers for a task that exited with status 0 after 1 ms, writing `stdout`.
pub fn exited(stdout: &str) -> wasimoff::protocol::Outcome {
    wasimoff::protocol::Outcome::Exited {
        status: 0,
        stdout: stdout.as_bytes().to_vec().into(),
        stderr: Default::default(),
        artifacts: None,
        missing_artifacts: vec![],
        elapsed_us: 1000,
    }
}
