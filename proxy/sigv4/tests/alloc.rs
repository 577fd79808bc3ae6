//! Verifying a signed request allocates nothing once the thread's buffers and the key's
//! caches are warm: the hot path reuses its scratch space.
// Test helpers outside `#[test]` fns may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use http::HeaderValue;
use trellis_sigv4::test_util::{lattice_request, sign, time, Mode, AKID, SECRET, TOKEN};
use trellis_sigv4::{verify, StaticCredentials, StoredKey, VerifierConfig};

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

/// Counts allocations made by the current thread (other test threads do not interfere).
struct Counting;

// SAFETY: delegates every call to the system allocator unchanged; only counts.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

#[test]
fn warm_header_verification_does_not_allocate() {
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
    // The counter does see this thread's allocations.
    let probe = allocations_during(|| drop(std::hint::black_box(Vec::<u8>::with_capacity(8))));
    assert_eq!(probe, 1);
}
