//! The operator dashboard: `GET {prefix}/dashboard` is one self-contained page
//! (`dashboard/index.html`, its script and style inline, embedded at compile time) that follows
//! `GET {prefix}/api/v1/cluster/events`: server-sent events, each a cluster snapshot
//! ([`ClusterState`](crate::ClusterState), the JSON of `GET {prefix}/api/v1/cluster`) once a
//! second. Both are client routes, so the host's client layer guards them.

use super::jobs::JobList;
use super::reply;
use crate::Wasimoff;
use crate::layers::{Body, BodyError};
use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use http::{HeaderValue, Response, StatusCode};
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use std::time::Duration;
use tokio::time::MissedTickBehavior;

/// The dashboard's path below the prefix.
pub(super) const DASHBOARD: &str = "/dashboard";

/// How often the event stream sends a snapshot.
const SNAPSHOT_INTERVAL: Duration = Duration::from_secs(1);

/// The page.
const PAGE: &str = include_str!("dashboard/index.html");

/// `GET /dashboard`: the page, revalidated on every visit.
pub(super) fn page() -> Response<Body> {
    let mut response = reply::with_type(StatusCode::OK, "text/html; charset=utf-8", PAGE);
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// Two server-sent events carrying `broker`'s state now: `cluster` (the cluster view) and
/// `jobs` (the detached jobs kept, as `GET /api/v1/jobs` answers; left out while the shared
/// backend is unreachable).
async fn snapshot(broker: &Wasimoff) -> Result<Frame<Bytes>, BodyError> {
    let cluster = serde_json::to_string(&broker.cluster()).map_err(BodyError::new)?;
    let mut events = format!("event: cluster\ndata: {cluster}\n\n");
    if let Ok(jobs) = broker.detached_jobs().await {
        let jobs = serde_json::to_string(&JobList { jobs }).map_err(BodyError::new)?;
        events.push_str(&format!("event: jobs\ndata: {jobs}\n\n"));
    }
    Ok(Frame::data(Bytes::from(events)))
}

/// `GET /api/v1/cluster/events`: a snapshot at once, then one a second, until the client
/// goes away or the broker shuts down.
pub(super) fn events(broker: &Wasimoff) -> Response<Body> {
    let mut ticks = tokio::time::interval(SNAPSHOT_INTERVAL);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let frames = futures_util::stream::unfold((broker.clone(), ticks), |(broker, mut ticks)| async move {
        ticks.tick().await;
        if broker.is_shutting_down() {
            return None;
        }
        Some((snapshot(&broker).await, (broker, ticks)))
    });
    let mut response = Response::new(StreamBody::new(frames).boxed_unsync());
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}
