//! `cargo fuzz run request_reading`: the whole "request → policy view + forwarded request"
//! path keeps one reading. A request head is read as the sidecar reads it (`settle`, then the
//! path, method and query rules) under every setting of the reading flags; when it is
//! accepted, the request the upstream would receive is written out, parsed again and read
//! again, and must give the same policy view: the same method, path, host, query values and
//! headers (less the ones the proxy itself writes after the decision, which a policy reads as
//! forwarded). Refusals are fine; a forwarded request read differently is a crash.
#![no_main]

use http::{HeaderValue, Request};
use libfuzzer_sys::fuzz_target;
use trellis::layers::identity_headers::rewrite;
use trellis::layers::normalize::{check_headers, normalize_request, HeaderLimits};
use trellis::normalize::PathRules;
use trellis::request_head::{is_proxy_written, settle, HeaderRules, Underscores, Xff};

/// What a policy decides on.
#[derive(Debug, PartialEq, Eq)]
struct View {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    /// Every header line, by name, in order.
    headers: Vec<(String, Vec<Vec<u8>>)>,
}

/// An HTTP/1.1 request head as a server parses it: `None` for what it would refuse.
fn parse(bytes: &[u8]) -> Option<Request<()>> {
    // Room for the head limit (`HeaderLimits`: 100 fields) and the headers the proxy adds.
    let mut slots = [httparse::EMPTY_HEADER; 128];
    let mut head = httparse::Request::new(&mut slots);
    let httparse::Status::Complete(_) = head.parse(bytes).ok()? else {
        return None;
    };
    let mut builder = Request::builder()
        .method(head.method?)
        .uri(head.path?)
        .version(http::Version::HTTP_11);
    for h in head.headers.iter() {
        builder = builder.header(h.name, HeaderValue::from_bytes(h.value).ok()?);
    }
    builder.body(()).ok()
}

/// Reads `req` as the stack does before authentication (after the head limits); returns the
/// view and the target the upstream receives.
fn read(req: &mut Request<()>, paths: PathRules, heads: &HeaderRules) -> Option<(View, String)> {
    settle(req, heads).ok()?;
    let normalized = normalize_request(req, paths).ok()?;
    let mut names: Vec<String> = req
        .headers()
        .keys()
        .map(|n| n.as_str().to_owned())
        .filter(|n| !is_proxy_written(n))
        .collect();
    names.sort();
    let headers = names
        .into_iter()
        .map(|n| {
            let lines = req
                .headers()
                .get_all(n.as_str())
                .iter()
                .map(|v| v.as_bytes().to_vec())
                .collect();
            (n, lines)
        })
        .collect();
    let view = View {
        method: req.method().as_str().to_owned(),
        path: normalized.path().to_owned(),
        query: normalized.query_pairs(),
        headers,
    };
    Some((view, normalized.path_and_query().to_owned()))
}

/// The request line and header lines the upstream receives.
fn write(req: &Request<()>, target: &str) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(req.method().as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in req.headers() {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, head)) = data.split_first() else {
        return;
    };
    let paths = PathRules {
        allow_semicolons: flags & 1 != 0,
    };
    let heads = HeaderRules {
        underscores: match (flags >> 1) % 3 {
            0 => Underscores::Drop,
            1 => Underscores::Reject,
            _ => Underscores::Allow,
        },
        xff: if flags & 8 != 0 { Xff::Append } else { Xff::Replace },
    };
    let Some(mut first) = parse(head) else {
        return;
    };
    // The proxy's own head limits apply to what callers send, not to the forwarded head (which
    // gains the headers the proxy adds).
    if check_headers(first.headers(), HeaderLimits::default()).is_err() {
        return;
    }
    let Some((view, target)) = read(&mut first, paths, &heads) else {
        return;
    };
    let Ok(service_target) = HeaderValue::from_str("ServiceArn=arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0; ServiceNetworkArn=") else {
        return;
    };
    rewrite(&mut first, &service_target, heads.xff);
    let forwarded = write(&first, &target);
    let mut again = parse(&forwarded).unwrap_or_else(|| {
        panic!(
            "the forwarded request does not parse: {:?}",
            String::from_utf8_lossy(&forwarded)
        )
    });
    let (second, _) = read(&mut again, paths, &heads).unwrap_or_else(|| {
        panic!(
            "the forwarded request is refused on a second reading: {:?}",
            String::from_utf8_lossy(&forwarded)
        )
    });
    assert_eq!(view, second, "forwarded as {:?}", String::from_utf8_lossy(&forwarded));
});
