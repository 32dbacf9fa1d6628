//! The driver's own tests: a page served on a loopback port, opened, evaluated, waited on,
//! screenshot and closed in a real headless Chromium.

use std::time::Duration;
use wasimoff_chromium::Chromium;

const TEST_PAGE: &str = r#"<!doctype html>
<html><head><title>loading</title></head>
<body style="margin:0;background:#2a6"><h1>wasimoff</h1>
<script>
document.title = "chromium driver";
console.log("hello from", "the page", 42);
setTimeout(() => { window.later = "ready"; }, 200);
setTimeout(() => { throw new Error("late boom"); }, 0);
</script></body></html>"#;

/// Serves [`TEST_PAGE`] at `/` on a loopback port and returns its URL.
async fn serve_test_page() -> String {
    let app = axum::Router::new().route("/", axum::routing::get(|| async { axum::response::Html(TEST_PAGE) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let address = listener.local_addr().expect("local address");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve the test page") });
    format!("http://{address}/")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_opens_a_page_evaluates_waits_and_reads_the_console() {
    let url = serve_test_page().await;
    let browser = Chromium::launch().await;
    let page = browser.open(&url).await;
    assert_eq!(page.evaluate("document.title").await, "chromium driver");
    assert_eq!(page.evaluate("Promise.resolve(6 * 7)").await, 42);
    assert_eq!(page.wait_for("window.later", Duration::from_secs(5)).await, "ready");
    let console = page.console();
    assert!(console.contains(&"log: hello from the page 42".to_string()), "console: {console:?}");
    assert!(console.iter().any(|line| line.starts_with("exception: Error: late boom")), "console: {console:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_screenshots_at_the_viewport_size_and_closes_tabs() {
    let url = serve_test_page().await;
    let browser = Chromium::launch_with_args(&["--disable-quic"]).await;
    let before = browser.pages().await;
    let page = browser.open(&url).await;
    assert_eq!(browser.pages().await, before + 1);

    page.set_viewport(320, 200).await;
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("shots/page.png");
    page.screenshot(&path).await;
    let png = std::fs::read(&path).expect("read the screenshot");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "PNG magic");
    let size = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    assert_eq!((size(16), size(20)), (320, 200), "IHDR width and height");

    page.close().await;
    assert_eq!(browser.pages().await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[should_panic(expected = "threw: Error: thrown on purpose")]
async fn chromium_evaluate_panics_with_the_exception() {
    let browser = Chromium::launch().await;
    let page = browser.open("about:blank").await;
    page.evaluate("throw new Error('thrown on purpose')").await;
}
