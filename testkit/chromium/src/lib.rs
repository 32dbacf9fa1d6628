//! A small driver for Debian's headless Chromium over the Chrome DevTools Protocol, for the tests
//! and benchmarks that look at pages in a real browser.
//!
//! [`Chromium::launch`] starts `/usr/bin/chromium` with a temporary profile and connects to its
//! DevTools websocket; [`Chromium::open`] gives a [`Page`] (one tab) to evaluate JavaScript in,
//! wait on, read the console of, screenshot and close. Every step fails with a panic that says
//! what went wrong, as tests want; nothing here is meant for production code.
//!
//! ```no_run
//! # async fn demo() {
//! let browser = wasimoff_chromium::Chromium::launch().await;
//! let page = browser.open("about:blank").await;
//! assert_eq!(page.evaluate("6 * 7").await, 42);
//! # }
//! ```

use base64::Engine;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::{Notify, oneshot};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long one step (a launch, a protocol call, a page load, a tab closing) may take.
const STEP: Duration = Duration::from_secs(30);

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;
type Reply = Result<Value, Value>;

/// A running headless Chromium with its own temporary profile; killed when dropped.
pub struct Chromium {
    connection: Arc<Connection>,
    child: Child,
    stderr_closed: mpsc::Receiver<()>,
    _profile: tempfile::TempDir,
}

/// One tab, bound to its DevTools session; clones drive the same tab.
#[derive(Clone)]
pub struct Page {
    connection: Arc<Connection>,
    target_id: String,
    session_id: String,
    session: Arc<Session>,
}

/// The browser-level websocket: replies are routed by `id`, events by `sessionId`.
struct Connection {
    sink: tokio::sync::Mutex<SplitSink<Socket, Message>>,
    next_id: AtomicU64,
    pending: Mutex<HashMap<u64, oneshot::Sender<Reply>>>,
    sessions: Mutex<HashMap<String, Arc<Session>>>,
}

/// What the reader task records for one attached tab.
#[derive(Default)]
struct Session {
    console: Mutex<Vec<String>>,
    loaded: Notify,
    detached: Notify,
}

impl Chromium {
    /// Starts `/usr/bin/chromium` headless on about:blank and connects to its DevTools websocket.
    pub async fn launch() -> Chromium {
        Chromium::launch_with_args(&[]).await
    }

    /// Like [`Chromium::launch`], with `extra` command-line flags after the usual ones.
    pub async fn launch_with_args(extra: &[&str]) -> Chromium {
        let profile = tempfile::tempdir().expect("create a profile directory for Chromium");
        let mut child = Command::new("/usr/bin/chromium")
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"])
            .args(["--disable-component-update", "--disable-sync", "--remote-debugging-port=0"])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(extra)
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start /usr/bin/chromium (apt-get install chromium)");
        let stderr = child.stderr.take().expect("Chromium's stderr is piped");
        let (found, listening) = oneshot::channel();
        let (closed, stderr_closed) = mpsc::channel();
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            let mut lines = BufReader::new(stderr).lines().map_while(Result::ok);
            let url = lines.by_ref().find_map(|line| match line.strip_prefix("DevTools listening on ") {
                Some(url) => Some(url.to_string()),
                None => {
                    seen.push(line);
                    None
                }
            });
            let _ = found.send(url.ok_or_else(|| seen.join("\n")));
            lines.for_each(drop);
            let _ = closed.send(());
        });
        let url = timeout(STEP, listening).await.expect("Chromium listens for DevTools within 30 s");
        let url = url.expect("the stderr reader answers");
        let url = url.unwrap_or_else(|seen| panic!("Chromium exited before it listened for DevTools:\n{seen}"));

        let config = WebSocketConfig::default().max_message_size(Some(64 << 20)).max_frame_size(Some(64 << 20));
        let (socket, _) = tokio_tungstenite::connect_async_with_config(url.as_str(), Some(config), true)
            .await
            .expect("connect to Chromium's DevTools websocket");
        let (sink, stream) = socket.split();
        let connection = Arc::new(Connection {
            sink: tokio::sync::Mutex::new(sink),
            next_id: AtomicU64::new(1),
            pending: Mutex::default(),
            sessions: Mutex::default(),
        });
        tokio::spawn(connection.clone().read(stream));
        Chromium { connection, child, stderr_closed, _profile: profile }
    }

    /// Opens `url` in a new tab and returns once its load event has fired.
    pub async fn open(&self, url: &str) -> Page {
        let created = self.connection.call(None, "Target.createTarget", json!({"url": "about:blank"})).await;
        let target_id = created["targetId"].as_str().expect("Target.createTarget returns a targetId").to_string();
        let attach = json!({"targetId": target_id, "flatten": true});
        let attached = self.connection.call(None, "Target.attachToTarget", attach).await;
        let session_id = attached["sessionId"].as_str().expect("Target.attachToTarget returns a sessionId").to_string();
        let session = Arc::new(Session::default());
        self.connection.sessions.lock().unwrap().insert(session_id.clone(), session.clone());
        let page = Page { connection: self.connection.clone(), target_id, session_id, session: session.clone() };
        page.call("Page.enable", json!({})).await;
        page.call("Runtime.enable", json!({})).await;

        let loaded = session.loaded.notified();
        tokio::pin!(loaded);
        loaded.as_mut().enable();
        let navigated = page.call("Page.navigate", json!({"url": url})).await;
        if let Some(error) = navigated["errorText"].as_str() {
            panic!("open {url}: {error}");
        }
        timeout(STEP, loaded).await.unwrap_or_else(|_| panic!("{url} fired no load event within 30 s"));
        page
    }

    /// How many page targets (tabs) the browser has open.
    pub async fn pages(&self) -> usize {
        let targets = self.connection.call(None, "Target.getTargets", json!({})).await;
        let targets = targets["targetInfos"].as_array().expect("Target.getTargets returns targetInfos");
        targets.iter().filter(|target| target["type"] == "page").count()
    }
}

impl Drop for Chromium {
    /// Kills the browser and waits until it and its helper processes, which all inherit its stderr,
    /// have closed that pipe (at most 5 s), so that the profile is removed once nothing writes there.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = self.stderr_closed.recv_timeout(Duration::from_secs(5));
    }
}

impl Page {
    async fn call(&self, method: &str, params: Value) -> Value {
        self.connection.call(Some(&self.session_id), method, params).await
    }

    /// The value of `expression` in the page, promises awaited; panics with the exception if it threw.
    pub async fn evaluate(&self, expression: &str) -> Value {
        let params = json!({"expression": expression, "awaitPromise": true, "returnByValue": true});
        let reply = self.call("Runtime.evaluate", params).await;
        if let Some(details) = reply.get("exceptionDetails") {
            panic!("{expression} threw: {}", exception_text(details));
        }
        reply["result"].get("value").cloned().unwrap_or(Value::Null)
    }

    /// Evaluates `expression` every 50 ms until it is truthy and returns that value; panics after `limit`.
    pub async fn wait_for(&self, expression: &str, limit: Duration) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            let value = self.evaluate(expression).await;
            if truthy(&value) {
                return value;
            }
            assert!(Instant::now() < deadline, "{expression} is still {value} after {limit:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Writes a PNG of the viewport to `path`, creating its parent directories.
    pub async fn screenshot(&self, path: &Path) {
        let shot = self.call("Page.captureScreenshot", json!({"format": "png"})).await;
        let data = shot["data"].as_str().expect("Page.captureScreenshot returns data");
        let png = base64::engine::general_purpose::STANDARD.decode(data).expect("the screenshot is base64");
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await.unwrap_or_else(|e| panic!("create {}: {e}", parent.display()));
        }
        tokio::fs::write(path, png).await.unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }

    /// Makes the viewport `width` × `height` CSS pixels at a device scale factor of 1.
    pub async fn set_viewport(&self, width: u32, height: u32) {
        let params = json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false});
        self.call("Emulation.setDeviceMetricsOverride", params).await;
    }

    /// Closes the tab as a user would and returns once its session has detached.
    pub async fn close(&self) {
        let detached = self.session.detached.notified();
        tokio::pin!(detached);
        detached.as_mut().enable();
        self.connection.call(None, "Target.closeTarget", json!({"targetId": self.target_id})).await;
        timeout(STEP, detached).await.expect("the closed tab detaches within 30 s");
    }

    /// The console messages and uncaught exceptions seen so far, as "level: text" ("exception: …").
    pub fn console(&self) -> Vec<String> {
        self.session.console.lock().unwrap().clone()
    }
}

impl Connection {
    /// Sends one request and waits for its reply; panics on a protocol error.
    async fn call(&self, session: Option<&str>, method: &str, params: Value) -> Value {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut request = json!({"id": id, "method": method, "params": params});
        if let Some(session) = session {
            request["sessionId"] = session.into();
        }
        let (sender, receiver) = oneshot::channel();
        self.pending.lock().unwrap().insert(id, sender);
        self.sink.lock().await.send(Message::text(request.to_string())).await.expect("send to Chromium");
        let reply = timeout(STEP, receiver).await.unwrap_or_else(|_| panic!("{method}: no reply within 30 s"));
        let reply = reply.unwrap_or_else(|_| panic!("{method}: Chromium closed the connection"));
        reply.unwrap_or_else(|error| panic!("{method} failed: {error}"))
    }

    /// Routes every incoming message until the socket closes, then fails the calls still waiting.
    async fn read(self: Arc<Self>, mut stream: SplitStream<Socket>) {
        while let Some(Ok(message)) = stream.next().await {
            if let Message::Text(text) = message {
                self.dispatch(serde_json::from_str(text.as_str()).expect("Chromium sends JSON"));
            }
        }
        self.pending.lock().unwrap().clear();
    }

    fn dispatch(&self, message: Value) {
        if let Some(id) = message["id"].as_u64() {
            if let Some(sender) = self.pending.lock().unwrap().remove(&id) {
                let _ = sender.send(message.get("error").cloned().map_or_else(|| Ok(message["result"].clone()), Err));
            }
            return;
        }
        let params = &message["params"];
        let method = message["method"].as_str().unwrap_or_default();
        if method == "Target.detachedFromTarget" {
            if let Some(session) = self.sessions.lock().unwrap().remove(params["sessionId"].as_str().unwrap_or_default()) {
                session.detached.notify_waiters();
            }
            return;
        }
        let Some(session) = message["sessionId"].as_str().and_then(|id| self.sessions.lock().unwrap().get(id).cloned()) else {
            return;
        };
        let line = match method {
            "Page.loadEventFired" => return session.loaded.notify_waiters(),
            "Runtime.consoleAPICalled" => {
                let args = params["args"].as_array().map(Vec::as_slice).unwrap_or_default();
                let text = args.iter().map(describe).collect::<Vec<_>>().join(" ");
                format!("{}: {text}", params["type"].as_str().unwrap_or("log"))
            }
            "Runtime.exceptionThrown" => format!("exception: {}", exception_text(&params["exceptionDetails"])),
            _ => return,
        };
        session.console.lock().unwrap().push(line);
    }
}

/// A console argument as text: strings bare, other values as JSON, objects by their description.
fn describe(object: &Value) -> String {
    match object.get("value") {
        Some(Value::String(text)) => text.clone(),
        Some(value) => value.to_string(),
        None => {
            let text = ["unserializableValue", "description", "type"].iter().find_map(|key| object[*key].as_str());
            text.unwrap_or_default().to_string()
        }
    }
}

fn exception_text(details: &Value) -> String {
    match details["exception"]["description"].as_str() {
        Some(description) => description.to_string(),
        None => format!("{} {}", details["text"].as_str().unwrap_or("Uncaught"), describe(&details["exception"])),
    }
}

/// JavaScript truthiness of a returned value (undefined and NaN arrive as null).
fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(flag) => *flag,
        Value::Number(number) => number.as_f64() != Some(0.0),
        Value::String(text) => !text.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}
