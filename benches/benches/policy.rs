//! Decision time by policy size, and compile time.
//!
//! `cargo bench -p trellis-benches --bench policy -- --warm-up-time 1 --measurement-time 3`

/// The allocator the `trellis` binary ships with, so allocation-heavy work (policy
/// compilation) is measured as the binary runs it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::hint::black_box;
use trellis_benches::policy_workload::{auth_policy, identity_policy, Call};
use trellis_policy::{check, decide, CompiledPolicy, LayerPolicy, Layers, PolicyKind};

fn compiled(text: &str, kind: PolicyKind) -> CompiledPolicy {
    match check(text, Some(kind)).compile() {
        Some(p) => p,
        None => std::process::abort(),
    }
}

fn decision(c: &mut Criterion) {
    let identity = [compiled(&identity_policy(), PolicyKind::Identity)];
    let call = Call::new();
    let mut group = c.benchmark_group("decide");
    for n in [1usize, 100, 1_000, 10_000] {
        let service = [compiled(&auth_policy(n), PolicyKind::Auth)];
        let layers = Layers {
            network: LayerPolicy::Off,
            service: LayerPolicy::Policies(&service),
            identity: LayerPolicy::Policies(&identity),
        };
        let mut matches = Vec::with_capacity(64);
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| {
                let request = call.request();
                black_box(decide(black_box(&layers), &request, &call, &mut matches))
            })
        });
    }
    group.finish();
}

fn compile(c: &mut Criterion) {
    let text = auth_policy(10_000);
    let mut group = c.benchmark_group("compile");
    group.sample_size(20);
    // Text to compiled policy. Dropping the result is left out: a reload releases the old
    // snapshot later, off this path (the JSON tree built inside `check` is dropped inside).
    group.bench_function("check+compile 10000", |b| {
        b.iter_with_large_drop(|| check(black_box(&text), Some(PolicyKind::Auth)).compile())
    });
    group.bench_function("json 10000", |b| {
        b.iter(|| black_box(trellis_policy::json::parse(black_box(&text)).is_ok()))
    });
    group.bench_function("check 10000", |b| {
        b.iter(|| black_box(check(black_box(&text), Some(PolicyKind::Auth)).has_errors()))
    });
    let checked = check(&text, Some(PolicyKind::Auth));
    group.bench_function("index 10000", |b| b.iter(|| black_box(checked.compile())));
    group.finish();
}

criterion_group!(benches, decision, compile);
criterion_main!(benches);
