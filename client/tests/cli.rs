//! The `wasimoff` command line run as a process against a real broker, served over TCP by
//! axum (as examples/axum-host does, bearer token included) inside the test process.

use axum::Router;
use sha2::{Digest as _, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Once;
use tower_http::validate_request::ValidateRequestHeaderLayer;
use wasimoff::layers::Body;
use wasimoff::{Limits, Wasimoff};
use wasimoff_client::api::{IndexedResult, TaskResult};

/// A broker on a loopback port, running on its own runtime until dropped.
struct Broker {
    url: String,
    _runtime: tokio::runtime::Runtime,
}

/// Starts a broker; with `token`, its client routes require `Authorization: Bearer <token>`.
fn broker(token: Option<&str>) -> Broker {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime");
    let limits = Limits { timeout: std::time::Duration::from_secs(20), ..Limits::default() };
    let mut builder = Wasimoff::builder().limits(limits);
    if let Some(token) = token {
        let expected = format!("Bearer {token}");
        builder = builder.client_layer(ValidateRequestHeaderLayer::custom(move |request: &mut http::Request<Body>| {
            if request.headers().get(http::header::AUTHORIZATION).is_some_and(|value| value.as_bytes() == expected.as_bytes()) {
                return Ok(());
            }
            let mut denied = http::Response::new(Body::default());
            *denied.status_mut() = http::StatusCode::UNAUTHORIZED;
            Err(denied)
        }));
    }
    let (layer, _broker) = builder.build_layer().expect("a broker");
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("bind loopback");
    let url = format!("http://{}/wasimoff", listener.local_addr().expect("an address"));
    runtime.spawn(async move { axum::serve(listener, Router::new().layer(layer)).await });
    Broker { url, _runtime: runtime }
}

/// The path of a conformance fixture, built on first use.
fn fixture(name: &str) -> PathBuf {
    static BUILD: Once = Once::new();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    BUILD.call_once(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--quiet", "--release", "--target", "wasm32-wasip1", "--manifest-path"])
            .arg(fixtures.join("Cargo.toml"))
            .status()
            .expect("run cargo to build the fixtures");
        assert!(status.success(), "building the fixtures failed (is the wasm32-wasip1 target installed?)");
    });
    fixtures.join(format!("target/wasm32-wasip1/release/{name}.wasm"))
}

/// Runs `wasimoff --broker URL ARGS…` without a token from the environment.
fn wasimoff(broker: &Broker, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wasimoff"))
        .arg("--broker")
        .arg(&broker.url)
        .args(args)
        .env_remove("WASIMOFF_TOKEN")
        .env_remove("WASIMOFF_BROKER")
        .output()
        .expect("run wasimoff")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn path_arg(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

const TSP_RAND_3: &str = "cities: 3\nbest distance: 1584.42\nroute: Glenholt -> Juniper -> Saltash -> Glenholt\n";

#[test]
fn upload_then_run_a_seed_configuration_prints_the_seed_answer() {
    let broker = broker(None);
    let tsp = fixture("tsp");
    let bytes = std::fs::read(&tsp).expect("the tsp fixture");
    let uploaded = wasimoff(&broker, &["upload", path_arg(&tsp)]);
    let digest = hex::encode(Sha256::digest(&bytes));
    assert_eq!(text(&uploaded.stdout), format!("sha256:{digest} wasm {} bytes as tsp.wasm\n", bytes.len()));
    assert!(uploaded.status.success());

    let dir = tempfile::tempdir().expect("a temporary folder");
    let config = dir.path().join("tsp.json");
    std::fs::write(
        &config,
        r#"{"bin": "tsp.wasm", "exec": [{"args": ["rand", "3"]}, {"args": ["read"], "stdin": "0,0,Origin\n3,0,East\n"}]}"#,
    )
    .expect("write the configuration");
    let run = wasimoff(&broker, &["run", path_arg(&config)]);
    assert_eq!(
        text(&run.stdout),
        concat!(
            r#"[{"result":{"status":0,"stdout":"cities: 3\nbest distance: 1584.42\nroute: Glenholt -> Juniper -> Saltash -> Glenholt\n","stderr":""}},"#,
            r#"{"result":{"status":0,"stdout":"cities: 2\nbest distance: 6.00\nroute: Origin -> East -> Origin\n","stderr":""}}]"#,
            "\n"
        )
    );
    assert_eq!((run.status.code(), text(&run.stderr)), (Some(0), String::new()));

    std::fs::write(&config, r#"{"bin": "tsp.wasm", "exec": [{"args": ["nonsense"]}, {"args": ["rand", "3"]}]}"#).expect("write");
    let run = wasimoff(&broker, &["run", path_arg(&config)]);
    assert_eq!(
        text(&run.stdout),
        format!(
            "[{},{}]\n",
            r#"{"result":{"status":2,"stdout":"","stderr":"usage: tsp rand N [SEED] | tsp read < cities.csv\n"}}"#,
            r#"{"result":{"status":0,"stdout":"cities: 3\nbest distance: 1584.42\nroute: Glenholt -> Juniper -> Saltash -> Glenholt\n","stderr":""}}"#
        )
    );
    assert_eq!(run.status.code(), Some(1), "a task that exited non-zero fails the command");
}

#[test]
fn a_sweep_streams_results_and_writes_each_tasks_output() {
    let broker = broker(None);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let out = dir.path().join("out");
    let tsp = fixture("tsp");
    let sweep = wasimoff(
        &broker,
        &["sweep", "--binary", path_arg(&tsp), "--args", "tsp rand {n}", "--n", "3..4", "--repeat", "2", "--output", path_arg(&out)],
    );
    assert_eq!(sweep.status.code(), Some(0), "{}", text(&sweep.stderr));
    let mut lines: Vec<IndexedResult> =
        text(&sweep.stdout).lines().map(|line| serde_json::from_str(line).expect("one result per line")).collect();
    lines.sort_by_key(|line| line.index);
    assert_eq!(lines.iter().map(|line| line.index).collect::<Vec<_>>(), [0, 1, 2, 3]);
    let TaskResult::Result(first) = &lines[1].result else { panic!("tsp rand 3 exits") };
    assert_eq!((first.status, first.output.stdout.as_deref()), (0, Some(TSP_RAND_3)));
    let stderr = text(&sweep.stderr);
    assert!(stderr.starts_with(&format!("uploaded {} as tsp.wasm (sha256:", tsp.display())), "{stderr}");
    assert!(stderr.ends_with(")\n4 tasks: 4 succeeded, 0 failed\n"), "{stderr}");

    let read = |index: usize, name: &str| text(&std::fs::read(out.join(index.to_string()).join(name)).expect("a written file"));
    assert_eq!((read(0, "stdout"), read(0, "stderr"), read(0, "status")), (TSP_RAND_3.to_string(), String::new(), "0\n".to_string()));
    assert_eq!(read(1, "stdout"), TSP_RAND_3);
    assert!(read(3, "stdout").starts_with("cities: 4\n"));
    assert!(!out.join("0/artifacts.zip").exists());
}

#[test]
fn a_job_writes_artifacts_and_a_failed_task_fails_the_command() {
    let broker = broker(None);
    for name in ["files", "trap"] {
        let uploaded = wasimoff(&broker, &["upload", path_arg(&fixture(name)), "--alias", &format!("{name}.wasm")]);
        assert!(uploaded.status.success(), "{}", text(&uploaded.stderr));
    }
    let dir = tempfile::tempdir().expect("a temporary folder");
    let job = dir.path().join("job.json");
    std::fs::write(
        &job,
        r#"{"tasks": [{"binary": {"ref": "files.wasm"}, "args": ["files", "write", "/out.txt", "hello"], "artifacts": ["/out.txt"]},
                      {"binary": {"ref": "trap.wasm"}}]}"#,
    )
    .expect("write the job");
    let out = dir.path().join("out");
    let run = wasimoff(&broker, &["job", path_arg(&job), "--output", path_arg(&out)]);
    assert_eq!(run.status.code(), Some(1), "a failed task fails the command");
    assert_eq!(text(&run.stderr), "2 tasks: 1 succeeded, 1 failed\n");
    assert_eq!(text(&std::fs::read(out.join("0/stdout")).expect("stdout")), "wrote 5 bytes to /out.txt\n");
    let zip = std::fs::read(out.join("0/artifacts.zip")).expect("the artifacts");
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).expect("a zip");
    let mut content = String::new();
    std::io::Read::read_to_string(&mut archive.by_name("out.txt").expect("out.txt in the zip"), &mut content).expect("read");
    assert_eq!(content, "hello");
    assert_eq!(text(&std::fs::read(out.join("1/error")).expect("the error")), "trap: wasm trap: wasm `unreachable` instruction executed\n");
    assert!(!out.join("1/status").exists());
}

#[test]
fn broker_errors_show_their_kind_and_message() {
    let broker = broker(None);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let broken = dir.path().join("broken.wasm");
    std::fs::write(&broken, "definitely not wasm").expect("write");
    let upload = wasimoff(&broker, &["upload", path_arg(&broken)]);
    assert_eq!(upload.status.code(), Some(2));
    assert_eq!(text(&upload.stderr), "error: invalid_file: not a WebAssembly module: it does not start with \\0asm\n");
    assert_eq!(text(&upload.stdout), "");
}

#[test]
fn a_bad_token_is_refused_with_a_clear_message_and_a_good_one_is_let_in() {
    let broker = broker(Some("s3cret"));
    let refused = wasimoff(&broker, &["--token", "wrong", "cluster"]);
    assert_eq!(refused.status.code(), Some(2));
    assert_eq!(
        text(&refused.stderr),
        "error: unauthorized: the broker refused the request (401 Unauthorized): give a valid token with --token or WASIMOFF_TOKEN\n"
    );
    let allowed = Command::new(env!("CARGO_BIN_EXE_wasimoff"))
        .args(["cluster", "--broker", &broker.url])
        .env("WASIMOFF_TOKEN", "s3cret")
        .output()
        .expect("run wasimoff");
    assert_eq!(allowed.status.code(), Some(0), "{}", text(&allowed.stderr));
    let table = text(&allowed.stdout);
    assert_eq!(table.lines().next(), Some(format!("broker     {}", broker.url).as_str()));
    assert!(table.contains("\nproviders  0: 0 workers, 0 busy\njobs       0\n"), "{table}");
}

#[test]
fn a_detached_sweep_is_followed_by_its_id() {
    let broker = broker(None);
    let tsp = fixture("tsp");
    let sweep =
        wasimoff(&broker, &["sweep", "--binary", path_arg(&tsp), "--args", "tsp rand {n}", "--n", "3", "--repeat", "2", "--detach"]);
    assert_eq!(sweep.status.code(), Some(0), "{}", text(&sweep.stderr));
    let id = text(&sweep.stdout).trim().to_string();
    assert_eq!(id.len(), 32, "the job id alone on stdout: {id:?}");
    assert!(text(&sweep.stderr).ends_with(&format!("detached; follow it with: wasimoff job status {id}\n")));

    let results = wasimoff(&broker, &["job", "results", &id]);
    assert_eq!(results.status.code(), Some(0), "{}", text(&results.stderr));
    let mut lines: Vec<IndexedResult> =
        text(&results.stdout).lines().map(|line| serde_json::from_str(line).expect("one result per line")).collect();
    lines.sort_by_key(|line| line.index);
    assert_eq!(lines.iter().map(|line| line.index).collect::<Vec<_>>(), [0, 1]);
    for line in &lines {
        let TaskResult::Result(result) = &line.result else { panic!("tsp rand 3 exits") };
        assert_eq!((result.status, result.output.stdout.as_deref()), (0, Some(TSP_RAND_3)));
    }
    assert!(text(&results.stderr).ends_with("2 tasks: 2 succeeded, 0 failed\n"), "{}", text(&results.stderr));

    let status = wasimoff(&broker, &["job", "status", &id]);
    assert_eq!(status.status.code(), Some(0), "{}", text(&status.stderr));
    assert_eq!(text(&status.stdout), format!("job {id}: done\ntasks 2: 0 queued, 0 running, 2 done, 0 failed\n"));

    let cancel = wasimoff(&broker, &["job", "cancel", &id]);
    assert_eq!(cancel.status.code(), Some(0), "{}", text(&cancel.stderr));
    assert_eq!(
        text(&cancel.stdout),
        format!("job {id}: done\ntasks 2: 0 queued, 0 running, 2 done, 0 failed\n"),
        "a finished job stays done"
    );

    let missing = wasimoff(&broker, &["job", "status", "0123456789abcdef0123456789abcdef"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).starts_with("error: not_found: "), "{}", text(&missing.stderr));
}

#[test]
fn a_closed_pipe_ends_the_command_quietly() {
    use std::os::unix::process::ExitStatusExt as _;
    let broker = broker(None);
    let mut top = Command::new(env!("CARGO_BIN_EXE_wasimoff"))
        .args(["--broker", &broker.url, "top", "--interval", "0.05"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start wasimoff top");
    drop(top.stdout.take());
    let ended = top.wait_with_output().expect("wait for wasimoff top");
    const SIGPIPE: i32 = 13;
    assert_eq!((ended.status.signal(), text(&ended.stderr)), (Some(SIGPIPE), String::new()));
}
