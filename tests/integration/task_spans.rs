//! Tracing: each task's `task` span with its fields, captured in-process, and the axum-host's
//! `RUST_LOG`-filtered log on stderr with provider sessions, tasks on a provider and requests.

use crate::support::{self, client, fixture, task, to_b64};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing_subscriber::fmt::MakeWriter;

/// Log output kept in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

/// The fields of span `name` on a log line (`name{a=1 b=x}: …`), in order.
fn span_fields(line: &str, name: &str) -> Vec<(String, String)> {
    let start = line.find(&format!("{name}{{")).unwrap_or_else(|| panic!("no {name} span in {line}")) + name.len() + 1;
    let end = start + line[start..].find("}:").expect("the span's fields end");
    line[start..end].split(' ').map(|field| field.split_once('=').expect("name=value")).map(|(k, v)| (k.into(), v.into())).collect()
}

/// Checks a finished task's span fields: names in order, the given values, durations that add up.
fn check_task_span(line: &str, expected: &[(&str, &str)]) {
    let fields = span_fields(line, "task");
    let names: Vec<&str> = fields.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["task", "job", "provider", "outcome", "queue_ms", "run_ms", "total_ms"], "{line}");
    let values: BTreeMap<&str, &str> = fields.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
    for (name, value) in expected {
        assert_eq!(values[name], *value, "{name} in {line}");
    }
    let ms = |name: &str| values[name].parse::<f64>().unwrap_or_else(|_| panic!("{name} is a number in {line}"));
    assert!(ms("queue_ms") >= 0.0 && ms("run_ms") >= 0.0, "{line}");
    assert!((ms("queue_ms") + ms("run_ms") - ms("total_ms")).abs() < 0.0015, "queue and run make the total: {line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_task_has_a_span_with_its_ids_provider_outcome_and_durations() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .without_time()
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);
    let broker = support::broker().await;
    broker.run(task("echo", &["echo", "traced"])).await.expect("echo runs");
    broker.run(task("trap", &["trap"])).await.expect_err("trap fails");

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let finished: Vec<&str> = log.lines().filter(|line| line.ends_with("wasimoff::handle: task finished")).collect();
    assert_eq!(finished.len(), 2, "one line per task:\n{log}");
    assert!(finished[0].starts_with("DEBUG task{task=1 job=1 provider=local outcome=exited queue_ms="), "{}", finished[0]);
    check_task_span(finished[0], &[("task", "1"), ("job", "1"), ("provider", "local"), ("outcome", "exited")]);
    check_task_span(finished[1], &[("task", "2"), ("job", "2"), ("provider", "local"), ("outcome", "trap")]);
}

/// The lines an example wrote to stderr so far.
type Lines = Arc<Mutex<Vec<String>>>;

/// Starts axum-host on a free port with `RUST_LOG=rust_log` and WebSocket only; returns it,
/// its base URL and its stderr lines as they come.
fn axum_host(rust_log: &str) -> (Child, String, Lines) {
    let exe = std::env::current_exe().unwrap();
    let examples = exe.parent().and_then(|deps| deps.parent()).unwrap().join("examples");
    let mut child = Command::new(examples.join("axum-host"))
        .env("WASIMOFF_LISTEN", "127.0.0.1:0")
        .env("WASIMOFF_WEBTRANSPORT", "off")
        .env("RUST_LOG", rust_log)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start axum-host");
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = stdout.next().expect("a banner line").unwrap();
    let base = first.rsplit(' ').next().unwrap().to_string();
    std::thread::spawn(move || stdout.for_each(drop));
    let lines = Lines::default();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    std::thread::spawn({
        let lines = lines.clone();
        move || stderr.lines().map_while(Result::ok).for_each(|line| lines.lock().unwrap().push(line))
    });
    (child, base, lines)
}

/// The first stderr line containing every one of `parts`, waiting up to 10 s for it.
async fn wait_for_line(lines: &Lines, parts: &[&str]) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(line) = lines.lock().unwrap().iter().find(|line| parts.iter().all(|part| line.contains(part))) {
            return line.clone();
        }
        assert!(Instant::now() < deadline, "no line with {parts:?} in:\n{}", lines.lock().unwrap().join("\n"));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_host_logs_provider_sessions_tasks_and_requests_as_rust_log_asks() {
    let (mut host, base, lines) = axum_host("wasimoff=debug,tower_http=debug");
    let url = format!("{}/wasimoff/provider/ws", base.replace("http://", "ws://"));
    let mut provider = Command::new(env!("CARGO_BIN_EXE_wasimoff-provider"))
        .args([url.as_str(), "--workers", "1", "--name", "traced", "--transport", "websocket"])
        .stderr(Stdio::null())
        .spawn()
        .expect("start wasimoff-provider");
    let joined = wait_for_line(&lines, &["provider joined"]).await;
    let session = span_fields(&joined, "provider_session");
    let id = session.iter().find(|(name, _)| name == "provider").map(|(_, id)| id.clone()).expect("the provider's id");
    assert_eq!(session[0], ("transport".into(), "websocket".into()), "{joined}");
    assert_eq!(session[1].0, "address", "{joined}");
    assert!(session[1].1.starts_with("127.0.0.1:"), "{joined}");
    assert!(joined.contains("wasimoff::providers::session: provider joined kind=Native workers=1 trust=Untrusted"), "{joined}");

    let task = json!({"binary": {"blob": to_b64(&fixture("echo"))}, "args": ["echo", "traced"]});
    let result: Value = client().post(format!("{base}/wasimoff/api/v1/tasks")).json(&task).send().await.unwrap().json().await.unwrap();
    assert_eq!(result["result"]["ran_on"], id.as_str(), "{result}");
    let finished = wait_for_line(&lines, &["task finished", &format!("provider={id}")]).await;
    check_task_span(&finished, &[("provider", &id), ("outcome", "exited")]);
    assert!(
        finished.contains("request{method=POST uri=/wasimoff/api/v1/tasks version=HTTP/1.1}:"),
        "the task runs in its request's span: {finished}"
    );
    wait_for_line(&lines, &["tower_http::trace::on_response: finished processing request", "status=200"]).await;

    let _ = provider.kill();
    let _ = provider.wait();
    let left = wait_for_line(&lines, &["provider left"]).await;
    assert!(left.ends_with("wasimoff::providers::session: provider left why=disconnected"), "{left}");
    assert!(lines.lock().unwrap().iter().all(|line| !line.contains("axum-host listening")), "the banner stays on stdout");
    let _ = host.kill();
    let _ = host.wait();
}
