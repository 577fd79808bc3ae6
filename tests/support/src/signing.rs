//! The reference signer: aws-sigv4 as `trellis_sigv4::test_util` drives it (SigV4 and SigV4A,
//! in the header or presigned, Lattice's unsigned-payload recipe), plus the form the blocking
//! wire clients of the end-to-end tests send.

use std::time::SystemTime;

pub use trellis_sigv4::test_util::{sign_request, Mode, Signing};

/// The headers of `method url` signed in the header by `key` at `at` for `vpc-lattice-svcs` in
/// us-west-2: `host` (the URL's authority), `x-amz-date`, `x-amz-content-sha256:
/// UNSIGNED-PAYLOAD` and `authorization`.
pub fn signed_headers(
    method: &str,
    url: &str,
    key: (&str, &str),
    at: SystemTime,
) -> Vec<(String, String)> {
    let uri: http::Uri = url.parse().unwrap();
    let host = uri.authority().unwrap().as_str().to_owned();
    let signing = Signing {
        at,
        ..Signing::header(key)
    };
    sign_request(method, url, &[("host", host.as_str())], &signing)
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned()))
        .collect()
}
