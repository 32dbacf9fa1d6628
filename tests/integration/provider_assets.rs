//! The provider bundle served by the layer: the page at the prefix root, `provider.js`, its
//! worker, core and style sheet, with content types and revalidation by `ETag`.

use crate::support::{self, client};
use http::StatusCode;
use reqwest::redirect::Policy;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_layer_serves_the_provider_page_and_bundle() {
    let (_broker, base) = support::http_broker().await;
    let no_redirects = reqwest::Client::builder().redirect(Policy::none()).build().unwrap();
    let bare = no_redirects.get(format!("{base}/wasimoff")).send().await.unwrap();
    assert_eq!(bare.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(bare.headers()["location"], "/wasimoff/");

    let page = client().get(format!("{base}/wasimoff/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    assert!(page.text().await.unwrap().contains(r#"import { start, mountPanel } from "./provider.js";"#));

    for (path, content_type, starts_with) in [
        ("provider.js", "text/javascript; charset=utf-8", &b"// "[..]),
        ("provider-worker.js", "text/javascript; charset=utf-8", b"// "),
        ("provider-core.wasm", "application/wasm", b"\0asm"),
        ("provider.css", "text/css; charset=utf-8", b"/* "),
    ] {
        let response = client().get(format!("{base}/wasimoff/{path}")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(response.headers()["content-type"], content_type, "{path}");
        assert_eq!(response.headers()["cache-control"], "no-cache", "{path}");
        assert_eq!(response.headers()["x-content-type-options"], "nosniff", "{path}");
        let etag = response.headers()["etag"].clone();
        assert!(response.bytes().await.unwrap().starts_with(starts_with), "{path}");

        let again = client().get(format!("{base}/wasimoff/{path}")).header("if-none-match", etag.clone()).send().await.unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{path}");
        assert_eq!(again.headers()["etag"], etag);
        assert!(again.bytes().await.unwrap().is_empty());
    }

    let plain = client().get(format!("{base}/wasimoff/provider-core.wasm")).send().await.unwrap().bytes().await.unwrap();
    let gzipped = client().get(format!("{base}/wasimoff/provider-core.wasm")).header("accept-encoding", "br, gzip").send().await.unwrap();
    assert_eq!(gzipped.headers()["content-encoding"], "gzip");
    assert_eq!(gzipped.headers()["vary"], "accept-encoding");
    let etag = gzipped.headers()["etag"].clone();
    assert!(etag.to_str().unwrap().ends_with("-gzip\""), "{etag:?}");
    let compressed = gzipped.bytes().await.unwrap();
    assert!(compressed.len() * 2 < plain.len(), "{} of {} bytes", compressed.len(), plain.len());
    let mut unzipped = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&compressed[..]), &mut unzipped).unwrap();
    assert_eq!(unzipped, plain);
    let again = client()
        .get(format!("{base}/wasimoff/provider-core.wasm"))
        .header("accept-encoding", "gzip")
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    let refused =
        client().get(format!("{base}/wasimoff/provider-core.wasm")).header("accept-encoding", "gzip;q=0, identity").send().await.unwrap();
    assert!(refused.headers().get("content-encoding").is_none());

    let post = client().post(format!("{base}/wasimoff/provider.js")).send().await.unwrap();
    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(post.headers()["allow"], "GET, HEAD");
    let outside = client().get(format!("{base}/provider.js")).send().await.unwrap();
    assert_eq!(outside.status(), StatusCode::NOT_FOUND, "the host app's own 404 outside the prefix");
}
