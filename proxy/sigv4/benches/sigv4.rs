//! Verifying a typical signed request with a warm signing-key cache: SigV4 (header and
//! presigned) and SigV4A. Requests are signed once by aws-sigv4 (the reference signer).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "benchmark setup: a broken fixture is a bug best reported by a panic"
)]

/// The allocator the `trellis` binary ships with, so allocation-heavy work (policy
/// compilation) is measured as the binary runs it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use trellis_sigv4::test_util::{time, typical, Mode, AKID, SECRET};
use trellis_sigv4::{verify, Authenticated, StaticCredentials, StoredKey, VerifierConfig};

fn bench(c: &mut Criterion) {
    let cfg = VerifierConfig::new("us-west-2");
    let store: StaticCredentials = [StoredKey::new(AKID, SECRET, None, None, 0)]
        .into_iter()
        .collect();
    let now = time("20261123T120100Z");
    let mut group = c.benchmark_group("sigv4_verify");
    for (name, req) in [
        ("sigv4_header", typical(Mode::Header, None)),
        ("sigv4_presigned", typical(Mode::Presigned, None)),
        ("sigv4a_header", typical(Mode::Header, Some("*"))),
    ] {
        let parts = req.parts();
        // Warm the caches and make sure the bench measures a success.
        assert!(matches!(
            verify(&cfg, &parts, now, &store),
            Ok(Authenticated::Signed { .. })
        ));
        group.bench_function(name, |b| {
            b.iter(|| verify(black_box(&cfg), black_box(&parts), now, &store))
        });
    }
    group.finish();

    // The cryptographic floor under the same machine conditions: SHA-256 over a canonical
    // request of the typical size, then HMAC-SHA256 of a string to sign with a pre-keyed MAC.
    let creq = vec![b'a'; 340];
    let sts = vec![b'b'; 140];
    let keyed = <hmac::Hmac<sha2::Sha256> as hmac::KeyInit>::new_from_slice(&[7; 32]).unwrap();
    c.bench_function("sha256_hmac_floor", |b| {
        b.iter(|| {
            use hmac::Mac;
            use sha2::Digest;
            let h = sha2::Sha256::digest(black_box(&creq));
            let mut m = keyed.clone();
            m.update(black_box(&sts));
            m.update(&h);
            m.finalize().into_bytes()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
