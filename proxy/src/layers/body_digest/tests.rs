use std::collections::VecDeque;
use std::convert::Infallible;

use http_body_util::{BodyExt, Empty, Full};

use super::*;
use crate::metrics::RequestOutcome;

fn sha(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// One step of a [`Scripted`] body.
#[derive(Clone, Copy)]
enum Step {
    Data(&'static str),
    Trailers,
    /// The caller has sent nothing new yet.
    Pending,
}

/// A caller's body that plays `steps`; with `knows_end` it reports its end as soon as the last
/// step has been played (a `Content-Length` body), else only by returning `None` (chunked).
struct Scripted {
    steps: VecDeque<Step>,
    knows_end: bool,
}

impl Scripted {
    fn new(steps: Vec<Step>, knows_end: bool) -> Self {
        Self {
            steps: steps.into(),
            knows_end,
        }
    }
}

impl Body for Scripted {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.steps.pop_front() {
            None => Poll::Ready(None),
            Some(Step::Data(d)) => {
                Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(d.as_bytes())))))
            }
            Some(Step::Trailers) => {
                let mut t = HeaderMap::new();
                t.insert("x-checksum", "1".parse().unwrap());
                Poll::Ready(Some(Ok(Frame::trailers(t))))
            }
            Some(Step::Pending) => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.knows_end && self.steps.is_empty()
    }
}

/// What one poll of the checked body gave.
#[derive(Debug, PartialEq, Eq)]
enum Got {
    Data(String),
    Trailers,
    Pending,
    Error(String),
    End,
}

/// Polls `body` until its end or its first error, recording every answer.
fn play<B>(mut body: DigestChecked<B>) -> Vec<Got>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BodyError>,
{
    let waker = futures_util::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    let mut got = Vec::new();
    for _ in 0..100 {
        match Pin::new(&mut body).poll_frame(&mut cx) {
            Poll::Pending => got.push(Got::Pending),
            Poll::Ready(None) => {
                got.push(Got::End);
                assert!(body.is_end_stream(), "ended but not end of stream");
                return got;
            }
            Poll::Ready(Some(Err(e))) => {
                got.push(Got::Error(e.to_string()));
                return got;
            }
            Poll::Ready(Some(Ok(f))) => match f.into_data() {
                Ok(d) => got.push(Got::Data(String::from_utf8(d.to_vec()).unwrap())),
                Err(f) => {
                    assert!(f.is_trailers());
                    got.push(Got::Trailers);
                }
            },
        }
    }
    panic!("body never ended: {got:?}");
}

fn checked<B: Body<Data = Bytes>>(body: B, signed: [u8; 32]) -> (DigestChecked<B>, Verdict) {
    DigestChecked::checked(body, signed, None).unwrap()
}

fn data(s: &str) -> Got {
    Got::Data(s.to_owned())
}

const MISMATCH: &str =
    "The provided 'x-amz-content-sha256' header does not match what was computed.";

#[test]
fn a_matching_digest_passes_every_byte_in_order() {
    let steps = vec![Step::Data("ab"), Step::Data("cd"), Step::Data("ef")];
    let (body, verdict) = checked(Scripted::new(steps, false), sha(b"abcdef"));
    assert_eq!(
        play(body),
        vec![data("ab"), data("cd"), data("ef"), Got::End]
    );
    assert_eq!(verdict.mismatch(), None);
}

#[test]
fn a_mismatch_never_yields_the_final_chunk_and_errors() {
    let steps = vec![Step::Data("ab"), Step::Data("cd"), Step::Data("XX")];
    let (body, verdict) = checked(Scripted::new(steps, false), sha(b"abcdef"));
    assert_eq!(
        play(body),
        vec![data("ab"), data("cd"), Got::Error(MISMATCH.to_owned())]
    );
    assert_eq!(
        verdict.mismatch(),
        Some(DigestMismatch {
            signed: sha(b"abcdef"),
            computed: sha(b"abcdXX"),
        })
    );
}

#[test]
fn the_last_chunk_is_held_while_the_callers_body_has_not_ended() {
    // Chunked: after "cd" the caller may still send more, so "cd" waits for the end.
    let steps = vec![Step::Data("ab"), Step::Data("cd"), Step::Pending];
    let (body, _) = checked(Scripted::new(steps, false), sha(b"abcd"));
    assert_eq!(
        play(body),
        vec![data("ab"), Got::Pending, data("cd"), Got::End]
    );
}

#[test]
fn a_chunk_after_which_the_body_reports_its_end_is_checked_before_release() {
    // Content-Length bodies announce their end: nothing is held back longer than needed.
    let steps = vec![Step::Data("ab"), Step::Pending, Step::Data("cd")];
    let (body, _) = checked(Scripted::new(steps.clone(), true), sha(b"abcd"));
    assert_eq!(
        play(body),
        vec![Got::Pending, data("ab"), data("cd"), Got::End]
    );
    let (body, _) = checked(Scripted::new(steps, true), sha(b"abXX"));
    assert_eq!(
        play(body),
        vec![Got::Pending, Got::Error(MISMATCH.to_owned())]
    );
}

#[test]
fn a_single_chunk_body_with_a_mismatch_yields_nothing() {
    let (body, _) = checked(Full::new(Bytes::from_static(b"tampered")), sha(b"original"));
    assert_eq!(play(body), vec![Got::Error(MISMATCH.to_owned())]);
}

#[test]
fn empty_chunks_never_release_the_held_chunk() {
    let steps = vec![Step::Data("ab"), Step::Data(""), Step::Data("")];
    let (body, _) = checked(Scripted::new(steps, false), sha(b"other"));
    assert_eq!(play(body), vec![Got::Error(MISMATCH.to_owned())]);
}

#[test]
fn trailers_follow_the_held_chunk_once_the_digest_matches() {
    let steps = vec![Step::Data("ab"), Step::Data("cd"), Step::Trailers];
    let (body, _) = checked(Scripted::new(steps, false), sha(b"abcd"));
    assert_eq!(
        play(body),
        vec![data("ab"), data("cd"), Got::Trailers, Got::End]
    );
    let steps = vec![Step::Data("ab"), Step::Data("cd"), Step::Trailers];
    let (body, _) = checked(Scripted::new(steps, false), sha(b"abXX"));
    assert_eq!(
        play(body),
        vec![data("ab"), Got::Error(MISMATCH.to_owned())]
    );
}

#[test]
fn a_failed_body_keeps_failing_when_polled_again() {
    let (mut body, _) = checked(Full::new(Bytes::from_static(b"x")), sha(b"y"));
    let waker = futures_util::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    for _ in 0..3 {
        assert!(matches!(
            Pin::new(&mut body).poll_frame(&mut cx),
            Poll::Ready(Some(Err(_)))
        ));
        assert!(!body.is_end_stream());
    }
}

#[test]
fn an_empty_body_with_the_empty_string_digest_passes() {
    let (body, verdict) = checked(Empty::<Bytes>::new(), sha(b""));
    assert!(body.is_end_stream());
    assert_eq!(play(body), vec![Got::End]);
    assert_eq!(verdict.mismatch(), None);
}

#[test]
fn an_empty_body_with_another_digest_is_refused_before_anything_is_sent() {
    let err = DigestChecked::checked(Empty::<Bytes>::new(), sha(b"x"), None).unwrap_err();
    assert_eq!(
        err,
        DigestMismatch {
            signed: sha(b"x"),
            computed: sha(b""),
        }
    );
}

#[test]
fn an_empty_body_that_ends_without_announcing_it_is_still_checked() {
    let (body, _) = checked(Scripted::new(vec![Step::Pending], false), sha(b"x"));
    assert_eq!(
        play(body),
        vec![Got::Pending, Got::Error(MISMATCH.to_owned())]
    );
}

#[test]
fn a_request_without_a_signed_digest_passes_through_unchecked() {
    let req = Request::new(Full::new(Bytes::from_static(b"anything")));
    let (req, verdict) = check_request(req, None).unwrap();
    assert!(verdict.is_none());
    assert_eq!(play(req.into_body()), vec![data("anything"), Got::End]);
}

#[test]
fn a_request_with_a_signed_digest_is_checked() {
    let mut req = Request::new(Full::new(Bytes::from_static(b"tampered")));
    req.extensions_mut()
        .insert(SignedBodyDigest(sha(b"original")));
    let outcome = Outcome::new();
    let (req, verdict) = check_request(req, Some(&outcome)).unwrap();
    assert_eq!(play(req.into_body()), vec![Got::Error(MISMATCH.to_owned())]);
    assert!(verdict.unwrap().mismatch().is_some());
    // The record shows the failure even if the upstream had already answered.
    let failure = outcome.failure().unwrap();
    assert_eq!(
        (failure.outcome, failure.reason),
        (RequestOutcome::BadRequest, "ClientProtocolError")
    );
}

#[test]
fn the_size_hint_counts_the_held_chunk() {
    let (mut body, _) = checked(
        Scripted::new(vec![Step::Data("ab"), Step::Pending], false),
        sha(b"ab"),
    );
    let waker = futures_util::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    assert!(Pin::new(&mut body).poll_frame(&mut cx).is_pending());
    assert_eq!(body.size_hint().lower(), 2);
}

#[tokio::test]
async fn a_large_body_in_many_chunks_matches_and_streams_whole() {
    let chunks: Vec<Bytes> = (0..64u8).map(|i| Bytes::from(vec![i; 16 * 1024])).collect();
    let mut hasher = Sha256::new();
    for c in &chunks {
        hasher.update(c);
    }
    let stream = futures_util::stream::iter(
        chunks
            .clone()
            .into_iter()
            .map(|c| Ok::<_, Infallible>(Frame::data(c))),
    );
    let (body, _) = checked(
        http_body_util::StreamBody::new(stream),
        hasher.finalize().into(),
    );
    let got = body.collect().await.unwrap().to_bytes();
    assert_eq!(got, chunks.concat());
}
