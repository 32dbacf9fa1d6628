//! The wasimoff broker in front of a plain hyper 1 service (no axum), served with
//! hyper-util; connections keep upgrades enabled for the provider WebSocket. Providers also
//! reach the broker over WebTransport (HTTP/3) on the same port number, UDP, unless
//! `WASIMOFF_WEBTRANSPORT=off`.
//!
//! ```sh
//! cargo run --release --example hyper-host     # WASIMOFF_LISTEN, default 127.0.0.1:4081
//! ```

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use std::convert::Infallible;
use tower::ServiceBuilder;
use wasimoff::{Wasimoff, WebTransport};

async fn host(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let text = format!("hello from plain hyper at {}\n", request.uri().path());
    Ok(Response::new(Full::new(Bytes::from(text))))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listen = std::env::var("WASIMOFF_LISTEN").unwrap_or_else(|_| "127.0.0.1:4081".into());
    let mut builder = Wasimoff::builder();
    if std::env::var("WASIMOFF_WEBTRANSPORT").is_ok_and(|value| value == "off") {
        builder = builder.webtransport(WebTransport::disabled());
    }
    let (wasimoff_layer, broker) = builder.build_layer()?;
    let service = ServiceBuilder::new().layer(wasimoff_layer).service(tower::service_fn(host));

    let listener = tokio::net::TcpListener::bind(&listen).await?;
    let address = listener.local_addr()?;
    println!("hyper-host listening on http://{address}");
    println!("  *    /*               the host's plain hyper handler");
    for (method, path, what) in wasimoff::ROUTES {
        println!("  {method:<4} {}{path}  {what}", broker.prefix());
    }
    match broker.start_webtransport(address) {
        Ok(udp) => println!("  UDP  {udp}  WebTransport for providers (HTTP/3)"),
        Err(error) => println!("  UDP  off  WebTransport for providers: {error}; they use WebSocket"),
    }
    loop {
        let (stream, _) = listener.accept().await?;
        // Small protocol frames should leave at once, not wait for the previous one's ACK (Nagle).
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(service.clone());
        tokio::spawn(async move {
            let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service).with_upgrades();
            if let Err(error) = connection.await {
                eprintln!("connection error: {error}");
            }
        });
    }
}
