//! HTTP benchmark (not a test): `cargo bench --bench http`.
//!
//! Many concurrent keep-alive clients on loopback POST a trivial task to
//! `/wasimoff/api/v1/tasks` of a host app with the broker layer. Baseline, same run, same
//! client: a bare hyper handler that answers the same request with a body of the same size.

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use std::convert::Infallible;
use std::time::{Duration, Instant};
use wasimoff::{Upload, Wasimoff};

const CLIENTS: usize = 32;
const REQUESTS_PER_CLIENT: usize = 400;
const SINGLE_CLIENT_REQUESTS: usize = 3000;
const TRIVIAL_WAT: &str = r#"(module (memory (export "memory") 1) (func (export "_start")))"#;
const TASK: &str = r#"{"binary":{"ref":"trivial.wasm"}}"#;

async fn serve<S, B>(service: S) -> String
where
    S: tower::Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            let service = hyper_util::service::TowerToHyperService::new(service.clone());
            tokio::spawn(hyper::server::conn::http1::Builder::new().serve_connection(hyper_util::rt::TokioIo::new(stream), service));
        }
    });
    format!("http://{address}")
}

struct Measured {
    per_second: f64,
    latencies: Vec<Duration>,
}

async fn drive(url: &str, clients: usize, requests_per_client: usize) -> Measured {
    let client = reqwest::Client::builder().tcp_nodelay(true).build().expect("client");
    let started = Instant::now();
    let clients: Vec<_> = (0..clients)
        .map(|_| {
            let client = client.clone();
            let url = url.to_string();
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(requests_per_client);
                for _ in 0..requests_per_client {
                    let sent = Instant::now();
                    let response = client.post(&url).body(TASK).send().await.expect("request");
                    assert!(response.status().is_success());
                    response.bytes().await.expect("body");
                    latencies.push(sent.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for client in clients {
        latencies.extend(client.await.expect("client task"));
    }
    let per_second = latencies.len() as f64 / started.elapsed().as_secs_f64();
    latencies.sort();
    Measured { per_second, latencies }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1e6
}

#[tokio::main]
async fn main() {
    let broker = Wasimoff::builder().build().expect("broker");
    broker.store().put(wat::parse_str(TRIVIAL_WAT).expect("wat").into(), Upload::new().alias("trivial.wasm")).await.expect("upload");
    let host = axum::Router::new().route("/", axum::routing::get(|| async { "home" })).layer(broker.layer());
    let broker_base = serve(host).await;
    let task_url = format!("{broker_base}/wasimoff/api/v1/tasks");
    let sample = reqwest::Client::new().post(&task_url).body(TASK).send().await.expect("sample").bytes().await.expect("body");
    let body = Bytes::from(sample.to_vec());
    let bare = tower::service_fn(move |_request: Request<Incoming>| {
        let body = body.clone();
        async move { Ok::<_, Infallible>(Response::new(Full::new(body))) }
    });
    let bare_base = serve(bare).await;

    drive(&task_url, CLIENTS, REQUESTS_PER_CLIENT).await;
    drive(&bare_base, CLIENTS, REQUESTS_PER_CLIENT).await;
    let broker_run = drive(&task_url, CLIENTS, REQUESTS_PER_CLIENT).await;
    let bare_run = drive(&bare_base, CLIENTS, REQUESTS_PER_CLIENT).await;
    let broker_single = drive(&task_url, 1, SINGLE_CLIENT_REQUESTS).await;
    let bare_single = drive(&bare_base, 1, SINGLE_CLIENT_REQUESTS).await;

    println!(
        "HTTP benchmark: {CLIENTS} keep-alive clients x {REQUESTS_PER_CLIENT} requests, loopback, {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("response body: {} bytes: {}", sample.len(), String::from_utf8_lossy(&sample));
    println!("| server | requests/s | p50 | p90 | p99 |");
    println!("|---|---|---|---|---|");
    let runs = [
        ("trivial task via the broker layer, 32 clients", &broker_run),
        ("bare hyper handler, same body (baseline), 32 clients", &bare_run),
        ("trivial task via the broker layer, 1 client", &broker_single),
        ("bare hyper handler, same body (baseline), 1 client", &bare_single),
    ];
    for (name, run) in runs {
        println!(
            "| {name} | {:.0} | {:.0} µs | {:.0} µs | {:.0} µs |",
            run.per_second,
            percentile(&run.latencies, 0.5),
            percentile(&run.latencies, 0.9),
            percentile(&run.latencies, 0.99)
        );
    }
    println!(
        "broker/baseline, 32 clients: throughput {:.2}x, p50 latency {:.2}x; 1 client: p50 latency {:.2}x",
        broker_run.per_second / bare_run.per_second,
        percentile(&broker_run.latencies, 0.5) / percentile(&bare_run.latencies, 0.5),
        percentile(&broker_single.latencies, 0.5) / percentile(&bare_single.latencies, 0.5)
    );
    broker.shutdown().await;
}
