//! For tests and benches (feature `test-util`): reading raw HTTP request text into the parts
//! the verifier takes, signing with the reference signer (aws-sigv4), and small clock helpers.
//! Panics on malformed test input instead of returning errors, as test code does.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test support: a malformed fixture is a bug in the test, best reported by a panic"
)]

use std::time::{Duration, SystemTime};

use crate::RequestParts;
use http::{HeaderMap, HeaderName, HeaderValue};

/// A request as it would arrive on the wire.
#[derive(Debug, Clone)]
pub struct WireRequest {
    pub method: String,
    pub target: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl WireRequest {
    pub fn parts(&self) -> RequestParts<'_> {
        RequestParts {
            method: &self.method,
            target: &self.target,
            headers: &self.headers,
            authority: None,
        }
    }

    /// Parses `METHOD TARGET HTTP/1.1` + `Name:value` lines + blank line + body. The target may
    /// contain raw spaces (the suite's `get-space-*`), so the version is cut from the end.
    /// Returns `None` for obs-folded (multi-line) headers, which no HTTP/1.1 server accepts.
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        let text = bytes;
        let mut lines: Vec<&[u8]> = Vec::new();
        let mut rest = text;
        let body;
        loop {
            let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
                lines.push(rest);
                body = Vec::new();
                break;
            };
            let mut line = &rest[..nl];
            if line.ends_with(b"\r") {
                line = &line[..line.len() - 1];
            }
            rest = &rest[nl + 1..];
            if line.is_empty() && !lines.is_empty() {
                body = rest.to_vec();
                break;
            }
            lines.push(line);
        }
        let request_line = std::str::from_utf8(lines[0]).ok()?;
        let (method, rest) = request_line.split_once(' ')?;
        let target = rest.strip_suffix(" HTTP/1.1").unwrap_or(rest);
        let mut headers = HeaderMap::new();
        for line in &lines[1..] {
            if line.is_empty() {
                continue;
            }
            if line[0] == b' ' || line[0] == b'\t' {
                return None;
            }
            let colon = line.iter().position(|&b| b == b':')?;
            let name = HeaderName::from_bytes(&line[..colon]).ok()?;
            // Like httparse: surrounding whitespace is not part of the value.
            let value = HeaderValue::from_bytes(line[colon + 1..].trim_ascii()).ok()?;
            headers.append(name, value);
        }
        Some(Self {
            method: method.to_owned(),
            target: target.to_owned(),
            headers,
            body,
        })
    }
}

/// `YYYYMMDDTHHMMSSZ` or `YYYY-MM-DDTHH:MM:SSZ` → SystemTime.
pub fn time(s: &str) -> SystemTime {
    let d: String = s.chars().filter(char::is_ascii_digit).collect();
    let n = |r: std::ops::Range<usize>| d[r].parse::<i64>().unwrap();
    let (y, m, day) = (n(0..4), n(4..6), n(6..8));
    let (y2, m2) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * m2 + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + n(8..10) * 3600 + n(10..12) * 60 + n(12..14);
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs as u64)
}

pub fn sha256_hex(body: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub const AKID: &str = "AKIDEXAMPLE";
pub const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
pub const TOKEN: &str = "FQoGZXIvYXdzEXAMPLETOKEN//+/=";
pub const LATTICE_HOST: &str = "svc-0123456789abcdef0.7d67968.vpc-lattice-svcs.us-west-2.on.aws";

/// How the reference signer (aws-sigv4) should sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Header,
    Presigned,
}

/// Key, scope and placement of one aws-sigv4 signature for `vpc-lattice-svcs`.
#[derive(Debug, Clone, Copy)]
pub struct Signing<'a> {
    /// Access key id and secret.
    pub key: (&'a str, &'a str),
    pub token: Option<&'a str>,
    /// SigV4 credential-scope region (ignored for SigV4A).
    pub region: &'a str,
    /// `Some` signs with SigV4A for this region set.
    pub region_set: Option<&'a str>,
    pub at: SystemTime,
    pub mode: Mode,
}

impl<'a> Signing<'a> {
    /// SigV4 in the header with `key`, in us-west-2, now.
    pub fn header(key: (&'a str, &'a str)) -> Signing<'a> {
        Signing {
            key,
            token: None,
            region: "us-west-2",
            region_set: None,
            at: SystemTime::now(),
            mode: Mode::Header,
        }
    }
}

/// Signs `method url` carrying `headers` (which must include `host`) the Lattice way:
/// `x-amz-content-sha256: UNSIGNED-PAYLOAD` sent and signed, every given header signed. Returns
/// the request as signed: the given headers plus the authentication headers, and for a presigned
/// URL the URI with the `X-Amz-*` query.
pub fn sign_request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    s: &Signing<'_>,
) -> http::Request<()> {
    use aws_credential_types::Credentials;
    use aws_sigv4::http_request::{
        sign, PayloadChecksumKind, SignableBody, SignableRequest, SignatureLocation,
        SigningSettings,
    };
    use aws_smithy_runtime_api::client::identity::Identity;

    let identity: Identity =
        Credentials::new(s.key.0, s.key.1, s.token.map(str::to_owned), None, "test").into();
    let mut settings = SigningSettings::default();
    settings.excluded_headers = None;
    let mut headers = headers.to_vec();
    match s.mode {
        Mode::Header => settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256,
        Mode::Presigned => {
            settings.signature_location = SignatureLocation::QueryParams;
            settings.expires_in = Some(Duration::from_secs(300));
            if !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("x-amz-content-sha256"))
            {
                headers.push(("x-amz-content-sha256", "UNSIGNED-PAYLOAD"));
            }
        }
    }
    let params: aws_sigv4::http_request::SigningParams<'_> = match s.region_set {
        None => aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(s.region)
            .name("vpc-lattice-svcs")
            .time(s.at)
            .settings(settings)
            .build()
            .unwrap()
            .into(),
        Some(set) => aws_sigv4::sign::v4a::SigningParams::builder()
            .identity(&identity)
            .region_set(set)
            .name("vpc-lattice-svcs")
            .time(s.at)
            .settings(settings)
            .build()
            .unwrap()
            .into(),
    };
    let signable = SignableRequest::new(
        method,
        url,
        headers.iter().copied(),
        SignableBody::UnsignedPayload,
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut signed = http::Request::builder().method(method).uri(url);
    for (k, v) in &headers {
        signed = signed.header(*k, *v);
    }
    let mut signed = signed.body(()).unwrap();
    instructions.apply_to_request_http1x(&mut signed);
    signed
}

/// Signs `req` in place with aws-sigv4 for `vpc-lattice-svcs` (see [`sign_request`]): SigV4
/// (`region_set: None`) or SigV4A, in the header or as a presigned URL, with the test key.
/// `host` must already be among the headers.
pub fn sign(
    req: &mut WireRequest,
    mode: Mode,
    region: &str,
    region_set: Option<&str>,
    token: Option<&str>,
    at: SystemTime,
) {
    let host = req.headers["host"].to_str().unwrap().to_owned();
    let uri = format!("https://{host}{}", req.target);
    let headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned()))
        .collect();
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let signing = Signing {
        key: (AKID, SECRET),
        token,
        region,
        region_set,
        at,
        mode,
    };
    let signed = sign_request(&req.method, &uri, &headers, &signing);
    // Only the headers signing added: a repeated header of the request stays as it was.
    for name in signed.headers().keys() {
        if !req.headers.contains_key(name) {
            for value in signed.headers().get_all(name) {
                req.headers.append(name.clone(), value.clone());
            }
        }
    }
    req.target = signed
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str().to_owned())
        .unwrap();
}

/// A GET with `host` only, ready for [`sign`].
pub fn lattice_request(method: &str, target: &str) -> WireRequest {
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_static(LATTICE_HOST));
    WireRequest {
        method: method.to_owned(),
        target: target.to_owned(),
        headers,
        body: Vec::new(),
    }
}

/// 5 signed headers (content-type, host, x-amz-content-sha256, x-amz-date, x-custom-id) and a
/// three-parameter query: what a service-to-service call typically looks like.
pub fn typical(mode: Mode, region_set: Option<&str>) -> WireRequest {
    let mut req = lattice_request(
        "POST",
        "/orders/7/items?limit=20&cursor=abc%2Fdef&expand=true",
    );
    req.headers
        .insert("content-type", HeaderValue::from_static("application/json"));
    req.headers.insert(
        "x-custom-id",
        HeaderValue::from_static("7f9c0e2a-1d2b-4c3e"),
    );
    sign(
        &mut req,
        mode,
        "us-west-2",
        region_set,
        None,
        time("20261123T120000Z"),
    );
    req
}
