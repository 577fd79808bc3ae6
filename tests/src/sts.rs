//! A local STS for identity-token tests, and tokens made the way `aws eks get-token` makes
//! them (aws-sigv4 presigning `GetCallerIdentity` with a signed `x-k8s-aws-id`).
//!
//! The double is not one that accepts anything: like STS it recomputes the presigned
//! request's SigV4 signature with the secret of the access key it names (independently of
//! the proxy's verifier: with aws-sigv4), over the `x-k8s-aws-id` it *received*, so a token
//! made for another audience fails; it refuses tokens older than 15 minutes, and answers
//! the JSON `GetCallerIdentityResponse` STS answers to `Accept: application/json`. It can be
//! told to misbehave (XML, redirect, stall, 5xx, throttling) for the regression tests.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a panic is a failed test"
)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Credentials the double knows: access key → (secret, session token, ARN STS returns).
#[derive(Debug, Clone)]
pub struct Caller {
    pub access_key: &'static str,
    pub secret: &'static str,
    pub session_token: Option<&'static str>,
    pub arn: &'static str,
    pub user_id: &'static str,
}

/// A role session (`ASIA…` key with a session token).
pub const CHECKOUT_ROLE: Caller = Caller {
    access_key: "ASIAEXAMPLECHECKOUT1",
    secret: "checkout/role/session/secret/EXAMPLE/0001",
    session_token: Some("IQoJb3JpZ2luX2VjEXAMPLE+token/with=chars"),
    arn: "arn:aws:sts::111122223333:assumed-role/checkout/checkout-pod-1",
    user_id: "AROAEXAMPLECHECKOUT:checkout-pod-1",
};

/// How the double answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// As STS.
    Honest,
    /// `200` with the XML document (what STS answers without `Accept: application/json`).
    Xml,
    /// `302` to another host.
    Redirect,
    /// Accepts and never answers.
    Stall,
    /// `500`.
    ServerError,
    /// `400 Throttling`.
    Throttle,
}

/// The running double.
#[derive(Debug, Clone)]
pub struct StsDouble {
    pub addr: SocketAddr,
    calls: Arc<AtomicUsize>,
    behaviour: Arc<Mutex<Behaviour>>,
    /// The `Host` of every call received.
    pub hosts: Arc<Mutex<Vec<String>>>,
}

impl StsDouble {
    /// Starts a double knowing `callers`.
    pub fn start(callers: &[Caller]) -> StsDouble {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let double = StsDouble {
            addr,
            calls: Arc::default(),
            behaviour: Arc::new(Mutex::new(Behaviour::Honest)),
            hosts: Arc::default(),
        };
        let known: Arc<HashMap<&'static str, Caller>> =
            Arc::new(callers.iter().map(|c| (c.access_key, c.clone())).collect());
        let d = double.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (d, known) = (d.clone(), Arc::clone(&known));
                std::thread::spawn(move || {
                    let _ = d.serve(stream, &known);
                });
            }
        });
        double
    }

    /// STS calls received so far.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// Changes how later calls are answered.
    pub fn behave(&self, b: Behaviour) {
        *self.behaviour.lock().unwrap() = b;
    }

    fn serve(
        &self,
        stream: TcpStream,
        known: &HashMap<&'static str, Caller>,
    ) -> std::io::Result<()> {
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut out = stream;
        let mut request_line = String::new();
        reader.read_line(&mut request_line)?;
        let mut headers: Vec<(String, String)> = Vec::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 || line == "\r\n" {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
            }
        }
        self.calls.fetch_add(1, Ordering::SeqCst);
        let header = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        self.hosts
            .lock()
            .unwrap()
            .push(header("host").unwrap_or_default());
        let target = request_line.split(' ').nth(1).unwrap_or("").to_owned();
        let behaviour = *self.behaviour.lock().unwrap();
        let (status, content_type, body, extra) = match behaviour {
            Behaviour::Stall => {
                std::thread::sleep(Duration::from_secs(30));
                return Ok(());
            }
            Behaviour::Redirect => (
                "302 Found",
                "text/plain",
                String::new(),
                "location: http://127.0.0.1:9/\r\n",
            ),
            Behaviour::ServerError => (
                "500 Internal Server Error",
                "application/json",
                error_json("InternalFailure", "internal"),
                "",
            ),
            Behaviour::Throttle => (
                "400 Bad Request",
                "application/json",
                error_json("Throttling", "Rate exceeded"),
                "",
            ),
            Behaviour::Honest | Behaviour::Xml => {
                match check(
                    &target,
                    &header("host").unwrap_or_default(),
                    header("x-k8s-aws-id").as_deref(),
                    known,
                ) {
                    Ok(caller) if behaviour == Behaviour::Xml => {
                        ("200 OK", "text/xml", xml(&caller), "")
                    }
                    Ok(caller) => ("200 OK", "application/json", json(&caller), ""),
                    Err((code, message)) => (
                        "403 Forbidden",
                        "application/json",
                        error_json(code, &message),
                        "",
                    ),
                }
            }
        };
        write!(
            out,
            "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n{extra}connection: close\r\n\r\n{body}",
            body.len()
        )
    }
}

fn json(c: &Caller) -> String {
    format!(
        r#"{{"GetCallerIdentityResponse":{{"GetCallerIdentityResult":{{"Account":"{}","Arn":"{}","UserId":"{}"}},"ResponseMetadata":{{"RequestId":"01234567-89ab-cdef-0123-456789abcdef"}}}}}}"#,
        &c.arn.split(':').nth(4).unwrap(),
        c.arn,
        c.user_id
    )
}

fn xml(c: &Caller) -> String {
    format!("<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult><Arn>{}</Arn><UserId>{}</UserId><Account>111122223333</Account></GetCallerIdentityResult></GetCallerIdentityResponse>", c.arn, c.user_id)
}

fn error_json(code: &str, message: &str) -> String {
    format!(
        r#"{{"Error":{{"Code":"{code}","Message":"{message}","Type":"Sender"}},"RequestId":"01234567-89ab-cdef-0123-456789abcdef"}}"#
    )
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            out.push(
                u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap(), 16).unwrap(),
            );
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// `YYYYMMDDTHHMMSSZ` as a time.
fn amz_date(s: &str) -> Option<SystemTime> {
    let n = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (n(0..4)?, n(4..6)?, n(6..8)?);
    let (hh, mm, ss) = (n(9..11)?, n(11..13)?, n(13..15)?);
    // Days from civil (Howard Hinnant).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hh * 3600 + mm * 60 + ss;
    Some(UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).ok()?))
}

/// What STS checks: a known key, the signature over the received `x-k8s-aws-id`, the
/// 15 minutes.
fn check(
    target: &str,
    host: &str,
    audience: Option<&str>,
    known: &HashMap<&'static str, Caller>,
) -> Result<Caller, (&'static str, String)> {
    let query = target
        .strip_prefix("/?")
        .ok_or(("InvalidAction", "path".to_owned()))?;
    let params: HashMap<String, String> = query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_owned(), decode(v)))
        .collect();
    let p = |k: &str| params.get(k).cloned().unwrap_or_default();
    let access_key = p("X-Amz-Credential")
        .split('/')
        .next()
        .unwrap_or("")
        .to_owned();
    let caller = known.get(access_key.as_str()).ok_or((
        "InvalidClientTokenId",
        "The security token included in the request is invalid.".to_owned(),
    ))?;
    let date = amz_date(&p("X-Amz-Date")).ok_or(("IncompleteSignature", "date".to_owned()))?;
    if SystemTime::now() > date + Duration::from_secs(900) {
        return Err(("ExpiredToken", "Token expired".to_owned()));
    }
    let expires: u64 = p("X-Amz-Expires")
        .parse()
        .map_err(|_| ("IncompleteSignature", "expires".to_owned()))?;
    let region = p("X-Amz-Credential")
        .split('/')
        .nth(2)
        .unwrap_or("")
        .to_owned();
    let signed: Vec<String> = p("X-Amz-SignedHeaders")
        .split(';')
        .map(str::to_owned)
        .collect();
    let mut headers: Vec<(&str, &str)> = vec![("host", host)];
    if signed.iter().any(|h| h == "x-k8s-aws-id") {
        headers.push(("x-k8s-aws-id", audience.unwrap_or("")));
    }
    let expected = presign(
        caller,
        &region,
        host,
        &headers,
        date,
        Duration::from_secs(expires),
    );
    let expected_sig = expected
        .iter()
        .find(|(k, _)| k == "X-Amz-Signature")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    if expected_sig != p("X-Amz-Signature") {
        return Err((
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided."
                .to_owned(),
        ));
    }
    Ok(caller.clone())
}

/// aws-sigv4's presigned query parameters (unencoded) for `GetCallerIdentity` on `host`.
fn presign(
    caller: &Caller,
    region: &str,
    host: &str,
    headers: &[(&str, &str)],
    at: SystemTime,
    expires: Duration,
) -> Vec<(String, String)> {
    use aws_credential_types::Credentials;
    use aws_sigv4::http_request::{
        sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
    };
    use aws_smithy_runtime_api::client::identity::Identity;

    let identity: Identity = Credentials::new(
        caller.access_key,
        caller.secret,
        caller.session_token.map(str::to_owned),
        None,
        "test",
    )
    .into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(expires);
    let params: aws_sigv4::http_request::SigningParams<'_> =
        aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name("sts")
            .time(at)
            .settings(settings)
            .build()
            .unwrap()
            .into();
    let url = format!("https://{host}/?Action=GetCallerIdentity&Version=2011-06-15");
    let signable = SignableRequest::new(
        "GET",
        url,
        headers.iter().copied(),
        SignableBody::Bytes(b""),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    instructions
        .params()
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.to_string()))
        .collect()
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The presigned URL `aws eks get-token --cluster-name <audience>` would make at `at` for
/// `host` (`sts.us-west-2.amazonaws.com`), signing `expires` (60 s there).
pub fn presigned_url(
    caller: &Caller,
    audience: &str,
    host: &str,
    at: SystemTime,
    expires: Duration,
) -> String {
    let region = host
        .strip_prefix("sts.")
        .and_then(|r| r.strip_suffix(".amazonaws.com"))
        .unwrap_or("us-east-1");
    let params = presign(
        caller,
        region,
        host,
        &[("host", host), ("x-k8s-aws-id", audience)],
        at,
        expires,
    );
    let mut url = format!("https://{host}/?Action=GetCallerIdentity&Version=2011-06-15");
    for (k, v) in params {
        url.push('&');
        url.push_str(&k);
        url.push('=');
        url.push_str(&encode(&v));
    }
    url
}

/// `k8s-aws-v1.` + base64url (no padding) of `url`.
pub fn token_of(url: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = url.as_bytes();
    let mut out = String::from("k8s-aws-v1.");
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// A token as `aws eks get-token` makes it now, for `audience`.
pub fn token(caller: &Caller, audience: &str) -> String {
    token_of(&presigned_url(
        caller,
        audience,
        "sts.us-west-2.amazonaws.com",
        SystemTime::now(),
        Duration::from_secs(60),
    ))
}
