//! Drives arbitrary paths, queries, SignedHeaders lists and header values into the
//! canonicaliser: the Authorization template is valid up to the signature, so every input
//! reaches canonical URI/query/header construction. Must never panic.
#![no_main]

use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use trellis_sigv4::{verify, StaticCredentials, StoredKey, VerifierConfig};

fuzz_target!(|data: &[u8]| {
    // Line 0: target; line 1: SignedHeaders; further lines: `name:value` headers.
    let mut lines = data.split(|&b| b == b'\n');
    let Some(Ok(target)) = lines.next().map(std::str::from_utf8) else { return };
    let Some(Ok(signed)) = lines.next().map(std::str::from_utf8) else { return };
    let mut headers = HeaderMap::new();
    for line in lines {
        if let Some(i) = line.iter().position(|&b| b == b':') {
            if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(&line[..i]), HeaderValue::from_bytes(&line[i + 1..])) {
                headers.append(n, v);
            }
        }
    }
    headers.insert("x-amz-date", HeaderValue::from_static("20150830T123600Z"));
    headers.insert("x-amz-content-sha256", HeaderValue::from_static("UNSIGNED-PAYLOAD"));
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-west-2/vpc-lattice-svcs/aws4_request, SignedHeaders={signed}, Signature={}",
        "0".repeat(64)
    );
    let Ok(auth) = HeaderValue::from_str(&auth) else { return };
    headers.insert("authorization", auth);
    let store: StaticCredentials = [StoredKey::new("AKIDEXAMPLE", "secret", None, None, 0)].into_iter().collect();
    let cfg = VerifierConfig::new("us-west-2");
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_440_938_160);
    for method in ["GET", "POST"] {
        let req = trellis_sigv4::RequestParts { method, target, headers: &headers, authority: Some("h") };
        let _ = verify(&cfg, &req, now, &store);
    }
});
