//! Instruction counts (callgrind) of one layered decision (service policy of 1, 100 or 10,000
//! statements plus the caller's identity policy), the request of the `policy` criterion bench.
//! Compiling the policies is setup and not counted.
//!
//! Needs valgrind and `cargo install iai-callgrind-runner --version 0.16.1`, then
//! `cargo bench -p trellis-benches --bench iai_policy`.

/// The allocator the `trellis` binary ships with.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;

use iai_callgrind::{library_benchmark, library_benchmark_group, main};
use trellis_benches::policy_workload::{auth_policy, identity_policy, Call};
use trellis_policy::{check, decide, CompiledPolicy, LayerPolicy, Layers, Matched, PolicyKind};

fn compiled(text: &str, kind: PolicyKind) -> CompiledPolicy {
    match check(text, Some(kind)).compile() {
        Some(p) => p,
        None => std::process::abort(),
    }
}

/// Returned by the bench so that it is dropped outside the measured function: dropping a
/// 10,000-statement policy costs a thousand times more than deciding with it.
///
/// The compiled service policy of `n` statements, the identity policy, the call and the
/// matched-statement buffer (preallocated, as the proxy reuses one per connection).
struct Loaded {
    service: [CompiledPolicy; 1],
    identity: [CompiledPolicy; 1],
    call: Call,
    matches: Vec<Matched>,
}

fn loaded(n: usize) -> Loaded {
    Loaded {
        service: [compiled(&auth_policy(n), PolicyKind::Auth)],
        identity: [compiled(&identity_policy(), PolicyKind::Identity)],
        call: Call::new(),
        matches: Vec::with_capacity(64),
    }
}

#[library_benchmark]
#[bench::statements_1(args = (1), setup = loaded)]
#[bench::statements_100(args = (100), setup = loaded)]
#[bench::statements_10000(args = (10_000), setup = loaded)]
fn policy_decide(mut l: Loaded) -> Loaded {
    let layers = Layers {
        network: LayerPolicy::Off,
        service: LayerPolicy::Policies(&l.service),
        identity: LayerPolicy::Policies(&l.identity),
    };
    let request = l.call.request();
    black_box(decide(
        black_box(&layers),
        &request,
        &l.call,
        &mut l.matches,
    ));
    l
}

library_benchmark_group!(name = policy; benchmarks = policy_decide);
main!(library_benchmark_groups = policy);
