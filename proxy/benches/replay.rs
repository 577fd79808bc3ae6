//! `trellis policy replay` speed: parsing and re-deciding decision-log lines with a candidate
//! service policy (the example one), over a generated log of varied callers, paths, queries and
//! headers. Target: ≥ 200,000 lines/s on one core.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "benchmark setup: a broken fixture is a bug best reported by a panic"
)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use trellis::decision_log::RecordedRequest;
use trellis::replay::{Candidates, Replayer};

const SERVICE_ARN: &str =
    "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0";
const LINES: usize = 10_000;

/// A log as `trellis run --decision-log` writes it: signed and anonymous callers, several
/// paths, a query on some, ten headers each.
fn generated_log() -> Vec<String> {
    let paths = [
        "/orders/7",
        "/public/index.html",
        "/admin/users",
        "/reports/q1",
    ];
    (0..LINES)
        .map(|i| {
            let principal = if i % 3 == 0 {
                serde_json::Value::Null
            } else {
                serde_json::json!({
                    "arn": format!("arn:aws:sts::111122223333:assumed-role/checkout/task-{}", i % 50),
                    "principalArn": "arn:aws:iam::111122223333:role/checkout",
                    "account": "111122223333", "type": "AssumedRole",
                    "sessionName": format!("task-{}", i % 50), "orgId": "o-a1b2c3d4e5",
                    "orgPaths": ["o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/"],
                    "tags": [["team", if i % 7 == 0 { "platform" } else { "payments" }]]
                })
            };
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
                "layers": {"network": "Off", "service": if allowed { "Allowed" } else { "ExplicitDeny" }, "identity": "Off"},
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

criterion_group!(benches, replay);
criterion_main!(benches);
