//! Newline-delimited JSON read from a stream of byte chunks, one value per line, as each
//! line completes.

use crate::Error;
use bytes::{Bytes, BytesMut};
use futures_util::stream::{self, BoxStream};
use futures_util::{Stream, StreamExt};
use serde::de::DeserializeOwned;

/// Each line of `chunks` parsed as a `T`; blank lines are skipped, a last line without a
/// newline counts. A chunk's error ends the stream after it is passed on.
pub(crate) fn lines<T, E>(chunks: impl Stream<Item = Result<Bytes, E>> + Send + 'static) -> BoxStream<'static, Result<T, Error>>
where
    T: DeserializeOwned + Send + 'static,
    E: Into<Error> + Send + 'static,
{
    let state = (chunks.boxed(), BytesMut::new(), false);
    stream::unfold(state, |(mut chunks, mut buffer, mut ended)| async move {
        loop {
            if let Some(end) = buffer.iter().position(|byte| *byte == b'\n') {
                let line = buffer.split_to(end + 1);
                if let Some(parsed) = parse(&line[..end]) {
                    return Some((parsed, (chunks, buffer, ended)));
                }
                continue;
            }
            if ended {
                let rest = buffer.split();
                return parse(&rest).map(|parsed| (parsed, (chunks, buffer, ended)));
            }
            match chunks.next().await {
                Some(Ok(chunk)) => buffer.extend_from_slice(&chunk),
                Some(Err(error)) => return Some((Err(error.into()), (chunks, BytesMut::new(), true))),
                None => ended = true,
            }
        }
    })
    .boxed()
}

/// A line's value, or `None` for a blank line.
fn parse<T: DeserializeOwned>(line: &[u8]) -> Option<Result<T, Error>> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    Some(serde_json::from_slice(line).map_err(|error| Error::Unexpected(format!("a result line that is not JSON: {error}"))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasimoff_protocol::api::{IndexedResult, TaskResult};

    /// A streamed job's answer as the broker sent it, cut at awkward places.
    const RECORDED: &str = concat!(
        r#"{"index":1,"result":{"status":0,"stdout":"cities: 9\n","stderr":"","elapsed_ms":1.25,"ran_on":"local"}}"#,
        "\n",
        r#"{"index":0,"error":{"kind":"timeout","message":"the task ran longer than its timeout of 200 ms and was stopped","stdout":"spinning\n","stderr":""}}"#,
        "\n\n",
        r#"{"index":2,"result":{"status":2,"stdout":"","stderr_base64":"/wA=","elapsed_ms":0.5,"ran_on":"p4"}}"#,
    );

    async fn read(cuts: &[usize]) -> Vec<Result<IndexedResult, Error>> {
        let mut chunks = Vec::new();
        let mut from = 0;
        for &cut in cuts.iter().chain([RECORDED.len()].iter()) {
            chunks.push(Ok::<_, Error>(Bytes::copy_from_slice(&RECORDED.as_bytes()[from..cut])));
            from = cut;
        }
        lines(stream::iter(chunks)).collect().await
    }

    #[tokio::test]
    async fn lines_parse_wherever_the_chunks_are_cut() {
        for cuts in [vec![], vec![1, 2, 3], vec![40, 113, 114, 250]] {
            let results: Vec<IndexedResult> = read(&cuts).await.into_iter().map(|line| line.expect("a result")).collect();
            assert_eq!(results.iter().map(|line| line.index).collect::<Vec<_>>(), [1, 0, 2]);
            let TaskResult::Error(failed) = &results[1].result else { panic!("a failure") };
            assert_eq!((failed.kind.as_str(), failed.output.stdout.as_deref()), ("timeout", Some("spinning\n")));
            let TaskResult::Result(exited) = &results[2].result else { panic!("an exit") };
            assert_eq!((exited.status, exited.output.stderr_base64.as_deref(), exited.ran_on.as_str()), (2, Some("/wA="), "p4"));
        }
    }

    #[tokio::test]
    async fn a_line_that_is_not_json_is_an_error() {
        let chunks = stream::iter([Ok::<_, Error>(Bytes::from_static(b"{\"index\": 1}\nnot json\n"))]);
        let lines: Vec<Result<IndexedResult, Error>> = lines(chunks).collect().await;
        assert_eq!(lines.len(), 2);
        assert!(lines.iter().all(|line| matches!(line, Err(Error::Unexpected(_)))), "{lines:?}");
    }
}
