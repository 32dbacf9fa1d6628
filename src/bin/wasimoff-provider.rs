//! `wasimoff-provider URL [--workers N] [--name NAME] [--transport auto|websocket|webtransport]
//! [--token TOKEN]`: joins a broker as a native provider and runs its tasks with wasmtime.
//! `--token` (or the `WASIMOFF_PROVIDER_TOKEN` environment variable, which keeps it out of
//! the process list) is presented in the hello; a broker that knows it trusts the provider. URL is the broker's
//! WebSocket endpoint, for example `ws://127.0.0.1:4080/wasimoff/provider/ws`; with the
//! default transport `auto` the provider asks `…/provider/info` next to it whether the broker
//! offers WebTransport, uses it if so and falls back to WebSocket. Reconnects with backoff when
//! the connection drops; exits when the broker refuses it.

use std::time::Duration;
use wasimoff::native::{NativeProvider, ProviderError, TransportChoice};

const USAGE: &str = "usage: wasimoff-provider URL [--workers N] [--name NAME] [--transport auto|websocket|webtransport] [--token TOKEN]";

/// The environment variable read for the token when `--token` is not given.
const TOKEN_VARIABLE: &str = "WASIMOFF_PROVIDER_TOKEN";

fn parse() -> Result<NativeProvider, String> {
    let mut args = std::env::args().skip(1);
    let url = args.next().filter(|a| !a.starts_with("--")).ok_or(USAGE)?;
    if !(url.starts_with("ws://") || url.starts_with("wss://")) {
        return Err(format!(
            "URL must be the broker's WebSocket endpoint, such as ws://HOST:4080/wasimoff/provider/ws (wss:// over TLS), not {url:?}"
        ));
    }
    let mut provider = NativeProvider::new(url);
    if let Ok(token) = std::env::var(TOKEN_VARIABLE)
        && !token.is_empty()
    {
        provider = provider.token(token);
    }
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(USAGE)?;
        provider = match flag.as_str() {
            "--workers" => provider.workers(value.parse().map_err(|_| format!("--workers takes a number, not {value:?}"))?),
            "--name" => provider.name(value),
            "--transport" => provider.transport(value.parse::<TransportChoice>()?),
            "--token" => provider.token(value),
            _ => return Err(USAGE.into()),
        };
    }
    Ok(provider)
}

#[tokio::main]
async fn main() {
    let provider = match parse() {
        Ok(provider) => provider,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    let mut backoff = Duration::from_millis(500);
    loop {
        match provider.clone().run().await {
            Ok(()) => {
                eprintln!("the broker closed the connection; reconnecting");
                backoff = Duration::from_millis(500);
            }
            Err(ProviderError::Refused(reason)) => {
                eprintln!("the broker refused this provider: {reason}");
                std::process::exit(1);
            }
            Err(error) => eprintln!("{error}; reconnecting in {} ms", backoff.as_millis()),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}
