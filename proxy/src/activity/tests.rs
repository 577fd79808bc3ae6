use std::time::Duration;

use http_body_util::{BodyExt, Full};

use super::*;

const MINUTE: Duration = Duration::from_secs(60);
const SHORT: Duration = Duration::from_millis(10);

/// Sleeps past [`SHORT`], so a connection without a request in flight is then idle.
fn wait_past_short() {
    std::thread::sleep(Duration::from_millis(25));
}

#[test]
fn a_connection_with_a_request_in_flight_is_never_idle() {
    let state = InFlight::new();
    let guard = state.begin();
    wait_past_short();
    assert_eq!(state.idle_remaining(SHORT), SHORT);
    assert_eq!(state.idle_remaining(MINUTE), MINUTE);
    drop(guard);
    // Idleness starts when the request ends, not when it began.
    assert!(state.idle_remaining(MINUTE) > MINUTE - Duration::from_millis(20));
    wait_past_short();
    assert_eq!(state.idle_remaining(SHORT), Duration::ZERO);
}

#[test]
fn a_connection_that_never_asked_anything_is_idle_since_it_opened() {
    let state = InFlight::new();
    wait_past_short();
    assert!(state.idle_remaining(MINUTE) <= MINUTE - Duration::from_millis(25));
    assert_eq!(state.idle_remaining(SHORT), Duration::ZERO);
}

#[test]
fn idleness_starts_when_the_last_of_several_requests_ends() {
    let state = InFlight::new();
    let (a, b) = (state.begin(), state.begin());
    drop(a);
    wait_past_short();
    assert_eq!(
        state.idle_remaining(SHORT),
        SHORT,
        "one request is still in flight"
    );
    wait_past_short();
    drop(b);
    let left = state.idle_remaining(MINUTE);
    assert!(left > MINUTE - Duration::from_millis(20), "{left:?}");
}

#[tokio::test]
async fn a_request_stays_in_flight_until_its_response_body_is_dropped() {
    let state = InFlight::new();
    let response = async {
        Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(
            bytes::Bytes::from_static(b"body"),
        )))
    };
    let res = InFlightFuture::new(response, state.begin()).await.unwrap();
    wait_past_short();
    assert_eq!(
        state.idle_remaining(SHORT),
        SHORT,
        "the body is not sent yet"
    );
    let body = res.into_body();
    assert_eq!(body.size_hint().exact(), Some(4));
    let data = body.collect().await.unwrap().to_bytes();
    assert_eq!(&data[..], b"body");
    wait_past_short();
    assert_eq!(state.idle_remaining(SHORT), Duration::ZERO);
}

#[test]
fn a_request_abandoned_before_its_response_is_no_longer_in_flight() {
    let state = InFlight::new();
    let never = std::future::pending::<Result<http::Response<Full<bytes::Bytes>>, ()>>();
    let fut = InFlightFuture::new(never, state.begin());
    wait_past_short();
    assert_eq!(state.idle_remaining(SHORT), SHORT);
    drop(fut);
    wait_past_short();
    assert_eq!(state.idle_remaining(SHORT), Duration::ZERO);
}
