//! What the browser's own threads cost per message, by where a page keeps its socket (not a
//! test): `cargo bench --bench hops`. Needs /usr/bin/chromium.
//!
//! The bench is a WebSocket peer that sends a 16-byte binary message, waits for it to come
//! back, pauses 1 ms (threads go idle between tasks, as a provider's do) and sends the next.
//! Nothing runs a task: what it measures is the round trip and the CPU a page spends carrying
//! a message to the thread that would run a task and back, which bounds from below what any
//! provider page built that way adds to a task. Four peers, interleaved in rounds whose order
//! rotates:
//! - `main`: the socket on the page's main thread, which posts each message to a Web Worker
//!   and sends what the worker posts back (how `provider.js` is built);
//! - `worker`: the socket in a dedicated worker, relaying to a worker it started itself (the
//!   main thread out of the path);
//! - `direct`: the socket in the worker that would run the task, answering itself;
//! - `native`: a tokio-tungstenite client in this process (no browser).
//!
//! Prints round-trip percentiles and CPU µs per message by process and thread (`/proc`).
//! Env: `BENCH_MESSAGES` (measured per peer and round, default 2000), `BENCH_ROUNDS` (default 3).

#[path = "support/process_cpu.rs"]
#[allow(dead_code)]
mod process_cpu;

use axum::extract::Path;
use axum::response::IntoResponse;
use futures_util::{SinkExt, StreamExt};
use process_cpu::{Snapshot, Split};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use wasimoff_chromium::Chromium;

const WARM_UP: usize = 300;
const PAUSE: Duration = Duration::from_millis(1);
const PEERS: [&str; 4] = ["main", "worker", "direct", "native"];

/// Answers every message on `socket` with itself (`SOCKET` is the bench's WebSocket URL).
const ANSWER: &str = "const socket = new WebSocket(SOCKET); socket.binaryType = 'arraybuffer';";

/// The page or worker script named `name`, for a bench listening at `socket`.
fn script(name: &str, socket: &str) -> Option<(&'static str, String)> {
    let open = ANSWER.replace("SOCKET", &format!("{socket:?}"));
    let relay = "const worker = new Worker('/task.js');\n\
                 socket.onmessage = (event) => worker.postMessage(event.data, [event.data]);\n\
                 worker.onmessage = (event) => socket.send(event.data);";
    let body = match name {
        "main.html" => return Some(("text/html", format!("<script>{open}\n{relay}</script>"))),
        "worker.html" => return Some(("text/html", "<script>new Worker('/relay.js');</script>".into())),
        "direct.html" => return Some(("text/html", "<script>new Worker('/direct.js');</script>".into())),
        "task.js" => "onmessage = (event) => postMessage(event.data, [event.data]);".into(),
        "relay.js" => format!("{open}\n{relay}"),
        "direct.js" => format!("{open}\nsocket.onmessage = (event) => socket.send(event.data);"),
        _ => return None,
    };
    Some(("text/javascript", body))
}

/// Round trips of one peer, and the CPU every thread spent while they were measured.
#[derive(Default)]
struct Run {
    trips: Vec<Duration>,
    cpu: Split,
}

/// Drives the next connection on `listener`: `WARM_UP` round trips, then `messages` measured
/// and added to `run`.
async fn measure(listener: &TcpListener, messages: usize, run: &mut Run) {
    let (stream, _) = listener.accept().await.expect("the peer connects");
    stream.set_nodelay(true).expect("TCP_NODELAY");
    let mut socket = tokio_tungstenite::accept_async(stream).await.expect("WebSocket handshake");
    let mut before = Snapshot::take();
    for count in 0..WARM_UP + messages {
        if count == WARM_UP {
            before = Snapshot::take();
        }
        let sent = Instant::now();
        socket.send(Message::binary(vec![count as u8; 16])).await.expect("send");
        loop {
            match socket.next().await.expect("the peer stays").expect("a message") {
                Message::Binary(echo) => {
                    assert_eq!(echo.len(), 16, "the message comes back whole");
                    break;
                }
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("unexpected {other:?}"),
            }
        }
        if count >= WARM_UP {
            run.trips.push(sent.elapsed());
        }
        tokio::time::sleep(PAUSE).await;
    }
    run.cpu.add(&before, &Snapshot::take());
}

/// Opens `url` in a new tab of `chromium`, measures the peer it connects into `run`, and
/// closes the tab.
async fn in_page(chromium: &Chromium, listener: &TcpListener, url: &str, messages: usize, run: &mut Run) {
    let ((), page) = tokio::join!(measure(listener, messages, run), chromium.open(url));
    page.close().await;
}

/// A WebSocket client on its own thread and runtime that answers every message with itself.
fn native_peer(url: String) {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async move {
            let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str()).await.expect("connect");
            while let Some(Ok(message)) = socket.next().await {
                if message.is_binary() && socket.send(message).await.is_err() {
                    break;
                }
            }
        });
    });
}

fn percentile(sorted: &[Duration], q: f64) -> f64 {
    sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)].as_secs_f64() * 1e6
}

#[tokio::main]
async fn main() {
    let messages = std::env::var("BENCH_MESSAGES").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    let rounds = std::env::var("BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    let sockets = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let socket_url = format!("ws://{}/", sockets.local_addr().expect("address"));
    let pages = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", pages.local_addr().expect("address"));
    let served = socket_url.clone();
    let app = axum::Router::new().route(
        "/{name}",
        axum::routing::get(move |Path(name): Path<String>| async move {
            match script(&name, &served) {
                Some((kind, body)) => ([(http::header::CONTENT_TYPE, kind)], body).into_response(),
                None => http::StatusCode::NOT_FOUND.into_response(),
            }
        }),
    );
    tokio::spawn(async move { axum::serve(pages, app).await.expect("serve") });
    let chromium = Chromium::launch().await;
    // Chromium's first page pays for its start-up: one untimed run before the rounds.
    in_page(&chromium, &sockets, &format!("{base}/main.html"), 1, &mut Run::default()).await;

    let mut runs: Vec<(&str, Run)> = PEERS.iter().map(|peer| (*peer, Run::default())).collect();
    for round in 0..rounds {
        for i in 0..PEERS.len() {
            let (peer, run) = &mut runs[(round + i) % PEERS.len()];
            if *peer == "native" {
                native_peer(socket_url.clone());
                measure(&sockets, messages, run).await;
            } else {
                in_page(&chromium, &sockets, &format!("{base}/{peer}.html"), messages, run).await;
            }
        }
    }

    println!("round trips of a 16-byte WebSocket message, {messages} per peer and round, {rounds} rounds, 1 ms apart");
    println!("| peer | p50 | p90 | p99 | CPU per message | largest threads (µs per message) |");
    println!("|---|---|---|---|---|---|");
    for (peer, Run { trips, cpu }) in &mut runs {
        trips.sort();
        let count = trips.len() as f64;
        let per = |time: Duration| time.as_secs_f64() * 1e6 / count;
        // One Chromium: its threads and the bench's, by process kind and thread name.
        let mut rows: Vec<_> = cpu.spent.iter().collect();
        rows.sort_by_key(|(_, time)| std::cmp::Reverse(**time));
        let total: Duration = rows.iter().map(|(_, time)| **time).sum();
        let largest: Vec<String> = rows
            .iter()
            .filter(|(_, time)| per(**time) >= 5.0)
            .map(|(place, time)| format!("{}/{} {:.0}", place.process, place.thread, per(**time)))
            .collect();
        println!(
            "| {peer} | {:.0} µs | {:.0} µs | {:.0} µs | {:.0} µs | {} |",
            percentile(trips, 0.5),
            percentile(trips, 0.9),
            percentile(trips, 0.99),
            per(total),
            largest.join(", ")
        );
    }
}
