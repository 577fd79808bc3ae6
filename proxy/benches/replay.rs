//! `trellis policy replay` speed over a generated log of varied callers, paths, queries and
//! headers, in the format `trellis run --decision-log` writes. Two measures:
//! - `parse_and_decide_10k_lines`: parsing and re-deciding lines with a candidate service
//!   policy (the example one), the loop's core;
//! - `cli_100k_lines`: the whole command as users run it (`trellis policy replay
//!   --decision-log FILE --service-policy … --network-policy … --principals … --format json`):
//!   reading the file, parsing, re-deciding all three layers with the example files plus one
//!   added `Deny`, grouping the flipped requests and printing the report.
//!
//! Target: ≥ 200,000 lines/s on one core.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "benchmark setup: a broken fixture is a bug best reported by a panic"
)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// The allocator of the `trellis` binary, so the figures are those of the command users run.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use trellis::decision_log::RecordedRequest;
use trellis::replay::{Candidates, Replayer};

const SERVICE_ARN: &str =
    "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0";
const LINES: usize = 10_000;
const CLI_LINES: usize = 100_000;

/// A log as `trellis run --decision-log` writes it: signed and anonymous callers, several
/// paths, a query on some, ten headers each.
fn generated_log() -> Vec<String> {
    generated(LINES)
}

fn generated(lines: usize) -> Vec<String> {
    let paths = [
        "/orders/7",
        "/public/index.html",
        "/admin/users",
        "/reports/q1",
    ];
    (0..lines)
        .map(|i| {
            // Anonymous, the example role session, the example user (the callers of
            // deploy/examples/principals.json, whose identity policies `--principals` replays).
            let principal = match i % 3 {
                0 => serde_json::Value::Null,
                1 => serde_json::json!({
                    "arn": "arn:aws:sts::111122223333:assumed-role/checkout/checkout-task-1",
                    "principalArn": "arn:aws:iam::111122223333:role/checkout",
                    "account": "111122223333", "type": "AssumedRole",
                    "sessionName": "checkout-task-1", "orgId": "o-a1b2c3d4e5",
                    "orgPaths": ["o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/"],
                    "tags": [["team", "payments"]]
                }),
                _ => serde_json::json!({
                    "arn": "arn:aws:iam::111122223333:user/ops-ana",
                    "principalArn": "arn:aws:iam::111122223333:user/ops-ana",
                    "account": "111122223333", "type": "User", "orgId": "o-a1b2c3d4e5",
                    "orgPaths": [], "tags": [["team", "platform"]]
                }),
            };
            let identity = if i % 3 == 0 { "Off" } else { "Allowed" };
            let mut headers = vec![
                serde_json::json!(["host", "orders.internal:8080"]),
                serde_json::json!(["user-agent", "aws-sdk-rust/1.3 os/linux lang/rust/1.85"]),
                serde_json::json!(["accept", "application/json"]),
                serde_json::json!(["x-amz-date", "20261123T133340Z"]),
                serde_json::json!(["x-amz-content-sha256", "UNSIGNED-PAYLOAD"]),
                serde_json::json!(["x-request-id", format!("req-{i:08}")]),
            ];
            headers.extend((0..4).map(|h| serde_json::json!([format!("x-extra-{h}"), "value"])));
            let allowed = i % 4 != 2;
            serde_json::json!({
                "v": 1, "time": 1_795_000_000u64 + i as u64, "principal": principal,
                "identityHeader": null, "identityTagsHeader": null,
                "method": if i % 5 == 0 { "POST" } else { "GET" },
                "path": paths[i % paths.len()],
                "query": if i % 2 == 0 { serde_json::json!(format!("page={i}&format=csv")) } else { serde_json::Value::Null },
                "headers": headers,
                "source": "10.0.3.7:51234", "local": "10.0.3.9:8080", "tls": false,
                "serviceArn": SERVICE_ARN, "serviceNetworkArn": null,
                "sourceVpc": "vpc-0abc", "sourceVpcOwner": "111122223333", "xff": "replace",
                "decision": if allowed { "Allow" } else { "Deny" },
                "reason": if allowed { "Allowed" } else { "ExplicitDeny" },
                "layer": if allowed { serde_json::Value::Null } else { serde_json::json!("service") },
                "layers": {"network": "Allowed", "service": if allowed { "Allowed" } else { "ExplicitDeny" }, "identity": identity},
                "statements": [{"layer": "service", "index": 1, "sid": "AllowCheckoutToOrders", "effect": "Allow"}]
            })
            .to_string()
        })
        .collect()
}

fn replay(c: &mut Criterion) {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../deploy/examples/service-policy.json"),
    )
    .unwrap();
    let candidates = Candidates {
        service: Some(trellis_policy::check(&text, None).compile().unwrap()),
        ..Candidates::default()
    };
    let log = generated_log();
    let mut group = c.benchmark_group("policy_replay");
    group.throughput(Throughput::Elements(LINES as u64));
    group.bench_function("parse_and_decide_10k_lines", |b| {
        let mut replayer = Replayer::new(&candidates);
        b.iter(|| {
            let mut changed = 0u32;
            for line in &log {
                let record = RecordedRequest::parse(line).unwrap();
                changed += u32::from(replayer.replay(&record).unwrap().changed());
            }
            changed
        });
    });
    group.finish();
}

/// The example files in a directory, with a candidate service policy that adds a `Deny` of
/// CSV reports (so some decisions flip and are grouped).
fn candidate_files(dir: &std::path::Path) {
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/examples");
    for name in ["network-policy.json", "principals.json"] {
        std::fs::copy(examples.join(name), dir.join(name)).unwrap();
    }
    let mut policy: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(examples.join("service-policy.json")).unwrap(),
    )
    .unwrap();
    policy["Statement"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "Sid": "DenyCsvReports", "Effect": "Deny", "Principal": "*",
            "Action": "vpc-lattice-svcs:Invoke", "Resource": format!("{SERVICE_ARN}/reports/*"),
            "Condition": {"ForAnyValue:StringEquals": {"vpc-lattice-svcs:RequestQueryString/format": "csv"}}
        }));
    std::fs::write(dir.join("service-policy.json"), policy.to_string()).unwrap();
}

fn cli(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    candidate_files(dir.path());
    let log = dir.path().join("decisions.jsonl");
    let mut text = generated(CLI_LINES).join("\n");
    text.push('\n');
    std::fs::write(&log, text).unwrap();
    let f = |n: &str| dir.path().join(n).display().to_string();
    let args = [
        "trellis".to_owned(),
        "policy".to_owned(),
        "replay".to_owned(),
        "--decision-log".to_owned(),
        log.display().to_string(),
        "--service-policy".to_owned(),
        f("service-policy.json"),
        "--network-policy".to_owned(),
        f("network-policy.json"),
        "--principals".to_owned(),
        f("principals.json"),
        "--format".to_owned(),
        "json".to_owned(),
    ];
    let mut group = c.benchmark_group("policy_replay");
    group.throughput(Throughput::Elements(CLI_LINES as u64));
    group.sample_size(10);
    group.bench_function("cli_100k_lines", |b| {
        b.iter(|| assert_eq!(trellis::cli::main_with_args(&args), 0));
    });
    // The same, timed by the CPU time of this thread (the command runs on it alone): on a
    // shared machine, wall time also counts the time other processes held the core.
    #[cfg(target_os = "linux")]
    group.bench_function("cli_100k_lines_thread_cpu_time", |b| {
        b.iter_custom(|iterations| {
            let cpu = || {
                let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
                std::time::Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
            };
            let start = cpu();
            for _ in 0..iterations {
                assert_eq!(trellis::cli::main_with_args(&args), 0);
            }
            cpu() - start
        });
    });
    group.finish();
}

criterion_group!(benches, replay, cli);
criterion_main!(benches);
