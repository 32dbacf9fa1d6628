//! Replays every HTTP example of docs/API.md, in order, and checks the documented answers.

use crate::support::{self, client};
use serde_json::Value;
use wasimoff::Limits;

struct Exchange {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: String,
    status: u16,
    response: String,
}

/// The contents of the next ```http block after `from`, and where it ended.
fn next_block(text: &str, from: usize) -> Option<(String, usize)> {
    let start = text[from..].find("```http\n")? + from + "```http\n".len();
    let end = text[start..].find("```")? + start;
    Some((text[start..end].to_string(), end + 3))
}

fn split_head_body(block: &str) -> (Vec<&str>, String) {
    let mut head = Vec::new();
    let mut lines = block.lines();
    for line in lines.by_ref() {
        if line.is_empty() {
            break;
        }
        head.push(line);
    }
    let body: Vec<&str> = lines.collect();
    let body = if body.is_empty() { String::new() } else { body.join("\n") + "\n" };
    (head, body)
}

fn exchanges(doc: &str) -> Vec<Exchange> {
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(marker) = doc[at..].find("<!-- example -->") {
        let (request, after) = next_block(doc, at + marker).expect("a request block");
        let (response, after) = next_block(doc, after).expect("a response block");
        at = after;
        let (head, body) = split_head_body(&request);
        let (method, path) = head[0].split_once(' ').expect("METHOD PATH");
        let headers = head[1..].iter().map(|h| h.split_once(": ").map(|(k, v)| (k.to_string(), v.to_string())).expect("header")).collect();
        let (status_head, response_body) = split_head_body(&response);
        let status = status_head[0].split(' ').nth(1).and_then(|s| s.parse().ok()).expect("HTTP/1.1 CODE");
        found.push(Exchange { method: method.into(), path: path.into(), headers, body, status, response: response_body });
    }
    found
}

const ANY_NUMBER: [&str; 3] = ["elapsed_ms", "unixnano", "tasks_per_second"];

fn matches(expected: &Value, actual: &Value, key: &str) -> bool {
    match (expected, actual) {
        (Value::String(text), _) if text == "…" => true,
        (Value::String(text), Value::String(actual)) if text.contains('…') => {
            let (prefix, suffix) = text.split_once('…').unwrap_or_default();
            actual.starts_with(prefix) && actual.ends_with(suffix)
        }
        (Value::Number(_), Value::Number(_)) if ANY_NUMBER.contains(&key) => true,
        (Value::Object(e), Value::Object(a)) => {
            e.len() == a.len() && e.iter().all(|(k, v)| a.get(k).is_some_and(|actual| matches(v, actual, k)))
        }
        (Value::Array(e), Value::Array(a)) => e.len() == a.len() && e.iter().zip(a).all(|(e, a)| matches(e, a, key)),
        _ => expected == actual,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_http_example_in_api_md_answers_as_documented() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/API.md")).unwrap();
    let examples = exchanges(&doc);
    assert!(examples.len() >= 10, "found only {} examples", examples.len());
    let (_broker, base) = support::http_broker_with(Limits { concurrency: 2, ..support::test_limits() }).await;
    let mut problems = Vec::new();
    for example in examples {
        let method = reqwest::Method::from_bytes(example.method.as_bytes()).unwrap();
        let mut request = client().request(method, format!("{base}{}", example.path)).body(example.body.clone());
        for (name, value) in &example.headers {
            request = request.header(name, value);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let label = format!("{} {}", example.method, example.path);
        if status != example.status {
            problems.push(format!("{label}: status {status}, documented {}: {text}", example.status));
            continue;
        }
        let same = match serde_json::from_str::<Value>(&example.response) {
            Ok(expected) => serde_json::from_str::<Value>(&text).is_ok_and(|actual| matches(&expected, &actual, "")),
            Err(_) => text.trim_end() == example.response.trim_end(),
        };
        if !same {
            problems.push(format!("{label}: answered {text}\n  documented {}", example.response.trim_end()));
        }
    }
    assert!(problems.is_empty(), "docs/API.md differs from the broker:\n{}", problems.join("\n"));
}
