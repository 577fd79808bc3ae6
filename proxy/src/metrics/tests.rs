use super::*;

#[test]
fn fixed_series_exist_from_the_start() {
    let m = Metrics::new("1.2.3").unwrap();
    let text = m.encode().unwrap();
    assert!(
        text.contains("trellis_build_info{version=\"1.2.3\"} 1"),
        "{text}"
    );
    for o in RequestOutcome::ALL {
        assert!(text.contains(&format!(
            "trellis_requests_total{{outcome=\"{}\"}} 0",
            o.label()
        )));
    }
    for r in AuthnResult::ALL {
        assert!(text.contains(&format!(
            "trellis_authn_total{{result=\"{}\"}} 0",
            r.label()
        )));
    }
    assert!(text.contains("trellis_access_log_dropped_total 0"));
    assert!(text
        .contains("trellis_request_duration_seconds_bucket{outcome=\"allowed\",le=\"0.0001\"} 0"));
    assert!(text.contains("trellis_auth_duration_seconds_bucket{le=\"0.000001\"} 0"));
    assert!(text.contains("trellis_auth_duration_seconds_bucket{le=\"0.005\"} 0"));
}

fn series(m: &Metrics, prefix: &str) -> Vec<String> {
    m.encode()
        .unwrap()
        .lines()
        .filter(|l| l.starts_with(prefix))
        .map(str::to_owned)
        .collect()
}

#[test]
fn statement_labels_are_capped_per_layer() {
    let m = Metrics::new("t").unwrap();
    let names: Vec<String> = (0..300).map(|i| format!("S{i}")).collect();
    let mut wanted: Vec<(PolicyLayer, &str, Decision)> = names
        .iter()
        .map(|n| (PolicyLayer::Service, n.as_str(), Decision::Allow))
        .collect();
    wanted.push((PolicyLayer::Network, "S299", Decision::Allow));
    let handles = m.statement_counters(&wanted).unwrap();
    handles[200].inc();
    handles[299].inc();
    handles[298].inc();
    handles[300].inc();
    let text = m.encode().unwrap();
    assert!(text.contains(
        "trellis_authz_decisions_total{decision=\"allow\",layer=\"service\",statement=\"S200\"} 1"
    ));
    // S0..S255 get their own series, S256.. share `other`.
    assert!(text.contains(
        "trellis_authz_decisions_total{decision=\"allow\",layer=\"service\",statement=\"other\"} 2"
    ));
    assert!(!text.contains("layer=\"service\",statement=\"S256\""));
    // Each layer has its own budget: the network layer still names S299.
    assert!(text.contains(
        "trellis_authz_decisions_total{decision=\"allow\",layer=\"network\",statement=\"S299\"} 1"
    ));
}

#[test]
fn only_the_decision_a_statement_can_make_gets_a_series() {
    let m = Metrics::new("t").unwrap();
    m.statement_counters(&[
        (PolicyLayer::Service, "AllowReads", Decision::Allow),
        (PolicyLayer::Service, "DenyAdmin", Decision::Deny),
        (PolicyLayer::Service, "none", Decision::Deny),
    ])
    .unwrap();
    assert_eq!(
        series(&m, "trellis_authz_decisions_total{"),
        [
            "trellis_authz_decisions_total{decision=\"allow\",layer=\"service\",statement=\"AllowReads\"} 0",
            "trellis_authz_decisions_total{decision=\"deny\",layer=\"service\",statement=\"DenyAdmin\"} 0",
            "trellis_authz_decisions_total{decision=\"deny\",layer=\"service\",statement=\"none\"} 0",
        ]
    );
    assert_eq!(Decision::of(trellis_policy::Effect::Allow), Decision::Allow);
    assert_eq!(Decision::of(trellis_policy::Effect::Deny), Decision::Deny);
}

#[test]
fn series_of_statements_no_longer_in_force_are_removed_and_their_budget_freed() {
    let m = Metrics::new("t").unwrap();
    let old: Vec<String> = (0..256).map(|i| format!("#h:{i:08x}")).collect();
    let wanted: Vec<(PolicyLayer, &str, Decision)> = old
        .iter()
        .map(|n| (PolicyLayer::Service, n.as_str(), Decision::Allow))
        .collect();
    m.statement_counters(&wanted).unwrap()[0].inc();
    // Every statement edited: 256 new labels, none of them `other`.
    let new: Vec<String> = (0..256).map(|i| format!("#h:{:08x}", i + 1000)).collect();
    let wanted: Vec<(PolicyLayer, &str, Decision)> = new
        .iter()
        .map(|n| (PolicyLayer::Service, n.as_str(), Decision::Allow))
        .chain(std::iter::once((
            PolicyLayer::Service,
            "Kept",
            Decision::Deny,
        )))
        .collect();
    m.statement_counters(&wanted).unwrap();
    let now = series(&m, "trellis_authz_decisions_total{");
    assert_eq!(now.len(), 257, "{now:?}");
    assert!(!now.iter().any(|l| l.contains("#h:00000000")));
    assert!(now.iter().any(|l| l.contains("#h:000003e8")));
    assert!(now.iter().any(|l| l.contains("statement=\"other\"")));
}

#[test]
fn policy_info_has_exactly_one_series_per_file_for_the_version_in_force() {
    let m = Metrics::new("t").unwrap();
    m.set_policy_versions([("/p/a.json", "aaaa"), ("/p/b.json", "bbbb")])
        .unwrap();
    m.set_policy_versions([("/p/a.json", "cccc"), ("/p/b.json", "bbbb")])
        .unwrap();
    assert_eq!(
        series(&m, "trellis_policy_info{"),
        [
            "trellis_policy_info{file=\"/p/a.json\",sha256=\"cccc\"} 1",
            "trellis_policy_info{file=\"/p/b.json\",sha256=\"bbbb\"} 1",
        ]
    );
}

#[test]
fn last_reload_success_follows_the_latest_load_of_each_file() {
    let m = Metrics::new("t").unwrap();
    m.policy_reload("/p/a.json", true).unwrap();
    m.policy_reload("/p/a.json", false).unwrap();
    m.policy_reload("/p/b.json", true).unwrap();
    assert_eq!(
        series(&m, "trellis_policy_last_reload_success{"),
        [
            "trellis_policy_last_reload_success{file=\"/p/a.json\"} 0",
            "trellis_policy_last_reload_success{file=\"/p/b.json\"} 1",
        ]
    );
    m.set_last_reload_success("/p/a.json", true);
    assert!(series(&m, "trellis_policy_last_reload_success{")[0].ends_with(" 1"));
}

#[test]
fn mode_is_one_for_the_running_mode_only() {
    let m = Metrics::new("t").unwrap();
    m.set_mode("audit").unwrap();
    assert_eq!(
        series(&m, "trellis_mode{"),
        [
            "trellis_mode{mode=\"audit\"} 1",
            "trellis_mode{mode=\"enforce\"} 0",
        ]
    );
}

#[test]
fn tls_metrics_appear_only_when_serving_tls_and_follow_reloads() {
    let m = Metrics::new("t").unwrap();
    assert!(series(&m, "trellis_tls_").is_empty());
    m.enable_tls(1_924_992_000).unwrap();
    assert!(series(&m, "trellis_tls_cert_not_after_seconds ")
        .contains(&"trellis_tls_cert_not_after_seconds 1924992000".to_owned()));
    m.tls_reload(false, 1_924_992_000).unwrap();
    m.tls_reload(true, 1_956_528_000).unwrap();
    assert_eq!(
        series(&m, "trellis_tls_"),
        [
            "trellis_tls_cert_last_reload_success 1",
            "trellis_tls_cert_not_after_seconds 1956528000",
            "trellis_tls_cert_reloads_total{result=\"error\"} 1",
            "trellis_tls_cert_reloads_total{result=\"ok\"} 1",
        ]
    );
}

#[test]
fn authn_labels_round_trip_and_unknown_is_malformed() {
    for r in AuthnResult::ALL {
        assert_eq!(AuthnResult::from_label(r.label()), r);
    }
    assert_eq!(AuthnResult::from_label("nonsense"), AuthnResult::Malformed);
}

#[cfg(target_os = "linux")]
#[test]
fn process_metrics_are_exported_for_dashboards() {
    let m = Metrics::new("t").unwrap();
    let text = m.encode().unwrap();
    for name in [
        "process_resident_memory_bytes ",
        "process_cpu_seconds_total ",
        "process_open_fds ",
        "process_start_time_seconds ",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(name)),
            "`{name}` missing from:\n{text}"
        );
    }
}

/// The exposition without the series that differ by design between the two registries: the
/// process's own figures and the per-worker connection counts.
fn request_exposition(m: &Metrics) -> String {
    m.encode()
        .unwrap()
        .lines()
        .filter(|l| !l.contains("process_") && !l.contains("trellis_worker_connections"))
        .map(|l| format!("{l}\n"))
        .collect()
}

fn count_some(shard: &RequestMetrics, allowed: u64) {
    for _ in 0..allowed {
        shard.requests(RequestOutcome::Allowed).inc();
        shard
            .request_duration(RequestOutcome::Allowed)
            .observe(0.000_5);
        shard.authn(AuthnResult::Signed).inc();
        shard.auth_duration().observe(0.000_25);
    }
    shard.requests(RequestOutcome::Denied).inc();
    shard.request_duration(RequestOutcome::Denied).observe(2.0);
}

#[test]
fn shards_read_as_one_set_of_counters() {
    let one = Metrics::new("t").unwrap();
    count_some(one.shard(0), 3);
    count_some(one.shard(0), 5);
    let two = Metrics::with_workers("t", 2).unwrap();
    assert_eq!(two.shard_count(), 2);
    count_some(two.shard(0), 3);
    count_some(two.shard(1), 5);
    let merged = request_exposition(&two);
    assert_eq!(merged, request_exposition(&one));
    assert!(merged.contains("trellis_requests_total{outcome=\"allowed\"} 8\n"));
    assert!(merged.contains("trellis_requests_total{outcome=\"denied\"} 2\n"));
    assert!(merged.contains("trellis_authn_total{result=\"signed\"} 8\n"));
    assert!(merged.contains(
        "trellis_request_duration_seconds_bucket{outcome=\"allowed\",le=\"0.0005\"} 8\n"
    ));
    assert!(
        merged.contains("trellis_request_duration_seconds_bucket{outcome=\"denied\",le=\"1\"} 0\n")
    );
    assert!(merged.contains("trellis_request_duration_seconds_count{outcome=\"denied\"} 2\n"));
    assert!(merged.contains("trellis_request_duration_seconds_sum{outcome=\"denied\"} 4\n"));
    assert!(merged.contains("trellis_auth_duration_seconds_count 8\n"));
}

#[test]
fn each_worker_counts_its_own_connections() {
    let m = Metrics::with_workers("t", 3).unwrap();
    m.shard(1).connections().inc();
    m.shard(1).connections().inc();
    m.shard(2).connections().inc();
    assert_eq!(
        series(&m, "trellis_worker_connections_total{"),
        [
            "trellis_worker_connections_total{worker=\"0\"} 0",
            "trellis_worker_connections_total{worker=\"1\"} 2",
            "trellis_worker_connections_total{worker=\"2\"} 1",
        ]
    );
}
