//! Verifying a signed request allocates nothing once the thread's buffers and the key's
//! caches are warm: the hot path reuses its scratch space.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers outside `#[test]` fns: a failure is a test failure"
)]

use http::HeaderValue;
use trellis_sigv4::test_util::{lattice_request, sign, time, Mode, AKID, SECRET, TOKEN};
use trellis_sigv4::{verify, StaticCredentials, StoredKey, VerifierConfig};

/// dhat counts every heap block of the process; each of these test binaries runs one test
/// and starts no thread while it measures.
#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn allocations_during(f: impl FnOnce()) -> u64 {
    let before = dhat::HeapStats::get().total_blocks;
    f();
    dhat::HeapStats::get().total_blocks - before
}

#[test]
fn warm_header_verification_does_not_allocate() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let cfg = VerifierConfig::new("us-west-2");
    let store: StaticCredentials = [StoredKey::new(
        AKID,
        SECRET,
        Some(TOKEN.to_owned()),
        None,
        0,
    )]
    .into_iter()
    .collect();
    let mut req = lattice_request(
        "POST",
        "/orders/7/a%20b/../items?limit=20&q=a+b&cursor=x%2Fy",
    );
    req.headers
        .insert("content-type", HeaderValue::from_static("application/json"));
    sign(
        &mut req,
        Mode::Header,
        "us-west-2",
        None,
        Some(TOKEN),
        time("20261123T120000Z"),
    );
    let now = time("20261123T120100Z");
    let parts = req.parts();
    assert!(verify(&cfg, &parts, now, &store).is_ok());
    let n = allocations_during(|| {
        for _ in 0..10 {
            assert!(verify(&cfg, &parts, now, &store).is_ok());
        }
    });
    assert_eq!(n, 0);
    // The counter does see allocations.
    let probe = allocations_during(|| drop(std::hint::black_box(Vec::<u8>::with_capacity(8))));
    assert_eq!(probe, 1);
}
