//! Instruction counts (callgrind) of verifying the typical signed request of the `sigv4`
//! criterion bench with a warm signing-key cache: SigV4 in the `Authorization` header and
//! presigned. Counts do not move with the machine's load, so they show small regressions that
//! wall-clock benches on a shared machine cannot.
//!
//! Needs valgrind and `cargo install iai-callgrind-runner --version 0.16.1`, then
//! `cargo bench -p trellis-sigv4 --features iai --bench iai_sigv4`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "benchmark setup: a broken fixture is a bug best reported by a panic"
)]

/// The allocator the `trellis` binary ships with.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;
use std::time::SystemTime;

use iai_callgrind::{library_benchmark, library_benchmark_group, main};
use trellis_sigv4::test_util::{time, typical, Mode, WireRequest, AKID, SECRET};
use trellis_sigv4::{verify, Authenticated, StaticCredentials, StoredKey, VerifierConfig};

/// Everything `verify` takes, with the key's signing-key cache already filled by one
/// verification (setup is not counted).
struct Warm {
    cfg: VerifierConfig,
    req: WireRequest,
    store: StaticCredentials,
    now: SystemTime,
}

fn warm(mode: Mode) -> Warm {
    let w = Warm {
        cfg: VerifierConfig::new("us-west-2"),
        req: typical(mode, None),
        store: [StoredKey::new(AKID, SECRET, None, None, 0)]
            .into_iter()
            .collect(),
        now: time("20261123T120100Z"),
    };
    assert!(
        verifies(&w),
        "the bench must measure a successful verification"
    );
    w
}

fn verifies(w: &Warm) -> bool {
    matches!(
        verify(&w.cfg, &w.req.parts(), w.now, &w.store),
        Ok(Authenticated::Signed { .. })
    )
}

#[library_benchmark]
#[bench::header(args = (Mode::Header), setup = warm)]
#[bench::presigned(args = (Mode::Presigned), setup = warm)]
fn sigv4_verify(w: Warm) -> Warm {
    black_box(verifies(black_box(&w)));
    // Returned so that the request and the key store are dropped outside the measured function.
    w
}

library_benchmark_group!(name = sigv4; benchmarks = sigv4_verify);
main!(library_benchmark_groups = sigv4);
