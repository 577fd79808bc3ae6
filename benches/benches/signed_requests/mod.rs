//! The signed request the SigV4 benches verify, shared by the criterion (`sigv4`) and
//! instruction-count (`iai_sigv4`) benches so both measure the same work. Each bench declares
//! `mod sigv4_support` (the proxy's test signer) at its root.

use http::HeaderValue;

use crate::sigv4_support::{lattice_request, sign, time, Mode, WireRequest};

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
