//! Shadow policies through the real stack: every request is also decided against the shadow
//! set, counted and logged, and the answer is always the enforced one.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a panic is a failed test"
)]

use crate::{sidecar_support, support};

use std::path::Path;
use std::sync::Arc;

use http::StatusCode;
use sidecar_support::*;
use support::*;
use trellis::admin::Readiness;
use trellis::auth::Auth;
use trellis::auth::Mode;
use trellis::snapshot::{ShadowConfig, SnapshotHandle};
use trellis::stack::auth_layers;

const SVC: &str = "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0";

/// The example service policy without `AllowPublicReads`, plus a deny of order deletions.
fn shadow_service_policy() -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[
  {{"Sid":"AllowCheckoutToOrders","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::111122223333:role/checkout"}},
    "Action":"vpc-lattice-svcs:Invoke","Resource":["{SVC}/orders","{SVC}/orders/*"]}},
  {{"Sid":"AllowPlatformEverywhere","Effect":"Allow","Principal":{{"AWS":"111122223333"}},
    "Action":"vpc-lattice-svcs:Invoke","Resource":"{SVC}/*","Condition":{{"StringEquals":{{"aws:PrincipalTag/team":"platform"}}}}}},
  {{"Sid":"DenyAdminOutsidePlatform","Effect":"Deny","Principal":"*","Action":"vpc-lattice-svcs:Invoke",
    "Resource":"{SVC}/admin/*","Condition":{{"StringNotEquals":{{"aws:PrincipalTag/team":"platform"}}}}}},
  {{"Sid":"DenyOrderDeletes","Effect":"Deny","Principal":"*","Action":"vpc-lattice-svcs:Invoke",
    "Resource":"{SVC}/orders/*","Condition":{{"StringEquals":{{"vpc-lattice-svcs:RequestMethod":"DELETE"}}}}}}
]}}"#
    )
}

async fn start(mode: Mode, dir: &Path) -> (TestProxy, SnapshotHandle) {
    std::fs::write(dir.join("shadow-service.json"), shadow_service_policy()).unwrap();
    let up = Upstream::echo().addr;
    let mut handle = None;
    let shadow = ShadowConfig {
        network_policy: None,
        service_policy: Some(dir.join("shadow-service.json")),
    };
    let config = snapshot_config(dir);
    let proxy = TestProxy::start_with(ProxyOptions::new(up), |metrics| {
        let h = SnapshotHandle::load_initial_with_shadow(
            config,
            shadow,
            Arc::clone(metrics),
            Readiness::new(),
        )
        .unwrap();
        let layers = auth_layers(&Auth::new(h.shared(), settings(mode)));
        handle = Some(h);
        layers
    })
    .await;
    (proxy, handle.unwrap())
}

fn series(enforced: &str, shadow: &str, layer: &str, statement: &str) -> String {
    format!("trellis_shadow_decisions_total{{enforced=\"{enforced}\",layer=\"{layer}\",shadow=\"{shadow}\",statement=\"{statement}\"}}")
}

/// Sums every `trellis_shadow_decisions_total` sample whose two decisions differ (or agree).
fn shadow_total(metrics: &str, differ: bool) -> u64 {
    metrics
        .lines()
        .filter(|l| l.starts_with("trellis_shadow_decisions_total{"))
        .filter(|l| {
            let allow_allow = l.contains("enforced=\"allow\"") && l.contains("shadow=\"allow\"");
            let deny_deny = l.contains("enforced=\"deny\"") && l.contains("shadow=\"deny\"");
            (allow_allow || deny_deny) != differ
        })
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum()
}

/// Sends the mix: 2 anonymous public reads (shadow: no allow), 3 checkout reads of an order
/// (both allow), 1 checkout delete (shadow: explicit deny), 1 checkout admin call (both deny).
async fn send_mix(proxy: &TestProxy) -> Vec<StatusCode> {
    let client = h1_client();
    let mut statuses = Vec::new();
    for _ in 0..2 {
        statuses.push(get(&client, &proxy.url("/public/index.html")).await.0);
    }
    for _ in 0..3 {
        let req = signed("GET", &proxy.url("/orders/7"), CHECKOUT);
        statuses.push(send(&client, req).await.0);
    }
    let req = signed("DELETE", &proxy.url("/orders/7"), CHECKOUT);
    statuses.push(send(&client, req).await.0);
    let req = signed("GET", &proxy.url("/admin/users"), CHECKOUT);
    statuses.push(send(&client, req).await.0);
    statuses
}

#[tokio::test]
async fn shadow_counters_count_exactly_the_requests_whose_shadow_decision_differs() {
    let dir = policy_dir();
    let (proxy, _h) = start(Mode::Enforce, dir.path()).await;
    let statuses = send_mix(&proxy).await;
    // Every answer is the enforced one: only the admin call is denied.
    let ok = StatusCode::OK;
    assert_eq!(
        statuses,
        [ok, ok, ok, ok, ok, ok, StatusCode::FORBIDDEN],
        "the shadow policy changed an answer"
    );
    let lines = proxy.log.wait_for(7).await;
    let m = proxy.metrics.encode().unwrap();
    assert_eq!(shadow_total(&m, true), 3, "{m}");
    assert_eq!(shadow_total(&m, false), 4, "{m}");
    assert_eq!(sample(&m, &series("allow", "deny", "service", "none")), 2);
    assert_eq!(
        sample(
            &m,
            &series("allow", "allow", "service", "AllowCheckoutToOrders")
        ),
        3
    );
    assert_eq!(
        sample(&m, &series("allow", "deny", "service", "DenyOrderDeletes")),
        1
    );
    assert_eq!(
        sample(
            &m,
            &series("deny", "deny", "service", "DenyAdminOutsidePlatform")
        ),
        1
    );
    // The enforced decision series are untouched by the shadow ones.
    assert_eq!(
        sample(
            &m,
            "trellis_authz_decisions_total{decision=\"allow\",layer=\"service\",statement=\"AllowPublicReads\"}"
        ),
        2
    );
    assert_eq!(sample(&m, "trellis_requests_total{outcome=\"allowed\"}"), 6);
    assert_eq!(sample(&m, "trellis_requests_total{outcome=\"denied\"}"), 1);

    let by_path = |method: &str, path: &str| {
        lines
            .iter()
            .filter(|l| l["requestMethod"] == method && l["requestPath"] == path)
            .collect::<Vec<_>>()
    };
    for l in by_path("GET", "/public/index.html") {
        assert_eq!(l["shadowDecision"], "deny");
        assert_eq!(
            l["shadowMatchedStatements"],
            "network#1(AllowAnonymousPublicReads)"
        );
        assert_eq!(
            l["matchedStatements"],
            "network#1(AllowAnonymousPublicReads),service#0(AllowPublicReads)"
        );
    }
    for l in by_path("GET", "/orders/7") {
        assert_eq!(l["shadowDecision"], "allow");
        assert_eq!(
            l["shadowMatchedStatements"],
            "network#0(AllowOrgMembers),service#0(AllowCheckoutToOrders),identity#0(InvokeOrdersService)"
        );
    }
    let delete = by_path("DELETE", "/orders/7");
    assert_eq!(delete.len(), 1);
    assert_eq!(delete[0]["shadowDecision"], "deny");
    assert_eq!(delete[0]["responseCode"], 200);
    assert!(delete[0]["shadowMatchedStatements"]
        .as_str()
        .unwrap()
        .contains("service#3(DenyOrderDeletes)"));
    let admin = by_path("GET", "/admin/users");
    assert_eq!(admin[0]["shadowDecision"], "deny");
    assert_eq!(admin[0]["responseCode"], 403);
}

#[tokio::test]
async fn in_audit_mode_the_shadow_decision_is_recorded_beside_the_forwarded_denial() {
    let dir = policy_dir();
    let (proxy, _h) = start(Mode::Audit, dir.path()).await;
    let statuses = send_mix(&proxy).await;
    // Audit forwards everything, the enforced denial included; the shadow changes nothing.
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    let lines = proxy.log.wait_for(7).await;
    let m = proxy.metrics.encode().unwrap();
    assert_eq!(shadow_total(&m, true), 3, "{m}");
    assert_eq!(shadow_total(&m, false), 4, "{m}");
    assert_eq!(
        sample(
            &m,
            &series("deny", "deny", "service", "DenyAdminOutsidePlatform")
        ),
        1
    );
    let admin = lines
        .iter()
        .find(|l| l["requestPath"] == "/admin/users")
        .unwrap();
    assert_eq!(admin["responseCode"], 200);
    assert_eq!(admin["authDeniedReason"], "Service");
    assert_eq!(admin["shadowDecision"], "deny");
}

#[tokio::test]
async fn without_shadow_policies_the_shadow_fields_are_dashes_and_nothing_is_counted() {
    let up = Upstream::echo().addr;
    let dir = policy_dir();
    let mut handle = None;
    let proxy = TestProxy::start_with(
        ProxyOptions::new(up),
        make_auth(
            snapshot_config(dir.path()),
            settings(Mode::Enforce),
            &mut handle,
        ),
    )
    .await;
    let (status, _, _) = get(&h1_client(), &proxy.url("/public/index.html")).await;
    assert_eq!(status, StatusCode::OK);
    let lines = proxy.log.wait_for(1).await;
    assert_eq!(lines[0]["shadowDecision"], "-");
    assert_eq!(lines[0]["shadowMatchedStatements"], "-");
    let m = proxy.metrics.encode().unwrap();
    assert!(!m.contains("trellis_shadow_decisions_total"), "{m}");
}

#[tokio::test]
async fn a_reloaded_shadow_file_decides_the_next_requests_and_a_bad_one_keeps_the_last_good() {
    let dir = policy_dir();
    let (proxy, handle) = start(Mode::Enforce, dir.path()).await;
    let client = h1_client();
    assert_eq!(
        get(&client, &proxy.url("/public/index.html")).await.0,
        StatusCode::OK
    );
    // The candidate now allows public reads too.
    let with_reads = shadow_service_policy().replacen(
        "[\n",
        &format!("[\n  {{\"Sid\":\"AllowAllReads\",\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"vpc-lattice-svcs:Invoke\",\"Resource\":\"{SVC}/public/*\"}},\n"),
        1,
    );
    std::fs::write(dir.path().join("shadow-service.json"), with_reads).unwrap();
    handle.reload().unwrap();
    assert_eq!(
        get(&client, &proxy.url("/public/index.html")).await.0,
        StatusCode::OK
    );
    // A broken candidate beside a changed enforced policy: the enforced one is put in force,
    // the candidate keeps its last good version.
    std::fs::write(dir.path().join("shadow-service.json"), "{\"Version\":").unwrap();
    std::fs::write(
        dir.path().join("service.json"),
        format!(r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"AllowNothingPublic","Effect":"Deny","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"{SVC}/public/*"}}]}}"#),
    )
    .unwrap();
    assert!(handle.reload().is_ok());
    assert_eq!(
        get(&client, &proxy.url("/public/index.html")).await.0,
        StatusCode::FORBIDDEN
    );
    let lines = proxy.log.wait_for(3).await;
    assert_eq!(lines[0]["shadowDecision"], "deny");
    assert_eq!(lines[1]["shadowDecision"], "allow");
    assert_eq!(lines[2]["shadowDecision"], "allow");
    assert_eq!(
        lines[2]["shadowMatchedStatements"],
        "network#1(AllowAnonymousPublicReads),service#0(AllowAllReads)"
    );
    let m = proxy.metrics.encode().unwrap();
    assert_eq!(sample(&m, &series("allow", "deny", "service", "none")), 1);
    assert_eq!(
        sample(&m, &series("deny", "allow", "service", "AllowAllReads")),
        1
    );
    let shadow_file = dir.path().join("shadow-service.json").display().to_string();
    assert_eq!(
        sample(
            &m,
            &format!("trellis_policy_last_reload_success{{file=\"{shadow_file}\"}}")
        ),
        0
    );
    assert_eq!(
        sample(
            &m,
            &format!("trellis_policy_reloads_total{{file=\"{shadow_file}\",result=\"error\"}}")
        ),
        1
    );
    // `/policy` lists the shadow file (its last good version) beside the enforced ones.
    let files = handle.current().files().to_vec();
    assert!(files
        .iter()
        .any(|f| f.path == dir.path().join("shadow-service.json")));
}

#[test]
fn a_bad_shadow_file_at_start_stops_the_start_with_its_position() {
    let dir = policy_dir();
    std::fs::write(
        dir.path().join("shadow-service.json"),
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/33"}}}]}"#,
    )
    .unwrap();
    let metrics = Arc::new(trellis::metrics::Metrics::new("test").unwrap());
    let errors = SnapshotHandle::load_initial_with_shadow(
        snapshot_config(dir.path()),
        ShadowConfig {
            network_policy: None,
            service_policy: Some(dir.path().join("shadow-service.json")),
        },
        metrics,
        Readiness::new(),
    )
    .expect_err("a bad shadow file must stop the start: there is no last good version");
    assert!(
        errors
            .iter()
            .any(|e| e.0.contains("shadow-service.json:1:") && e.0.contains("error")),
        "{errors:?}"
    );
}
