//! Arbitrary `Authorization` values, request targets (presigned queries) and headers through
//! the verifier: it must answer (anonymous, signed or an error) and never panic.
#![no_main]

use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use trellis_sigv4::{verify, StaticCredentials, StoredKey, VerifierConfig};

fuzz_target!(|data: &[u8]| {
    // Line 0: target; line 1: Authorization (if any); further lines: `name:value` headers.
    let mut lines = data.split(|&b| b == b'\n');
    let Some(Ok(target)) = lines.next().map(std::str::from_utf8) else { return };
    let mut headers = HeaderMap::new();
    if let Some(auth) = lines.next().filter(|a| !a.is_empty()) {
        if let Ok(v) = HeaderValue::from_bytes(auth) {
            headers.append("authorization", v);
        }
    }
    for line in lines {
        if let Some(i) = line.iter().position(|&b| b == b':') {
            if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(&line[..i]), HeaderValue::from_bytes(&line[i + 1..])) {
                headers.append(n, v);
            }
        }
    }
    let store: StaticCredentials = [StoredKey::new("AKIDEXAMPLE", "secret", None, None, 0)].into_iter().collect();
    let cfg = VerifierConfig::new("us-west-2");
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_440_938_160);
    let req = trellis_sigv4::RequestParts { method: "GET", target, headers: &headers, authority: Some("h") };
    if let Err(e) = verify(&cfg, &req, now, &store) {
        assert!(!e.message().contains("secret"));
    }
});
