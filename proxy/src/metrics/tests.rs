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

#[test]
fn statement_labels_are_capped_per_layer_across_calls() {
    let m = Metrics::new("t").unwrap();
    let names: Vec<String> = (0..300).map(|i| format!("S{i}")).collect();
    let first: Vec<(PolicyLayer, &str)> = names[..200]
        .iter()
        .map(|n| (PolicyLayer::Service, n.as_str()))
        .collect();
    let second: Vec<(PolicyLayer, &str)> = names[200..]
        .iter()
        .map(|n| (PolicyLayer::Service, n.as_str()))
        .collect();
    m.statement_counters(&first).unwrap();
    let handles = m.statement_counters(&second).unwrap();
    // S200..S255 get their own series, S256.. share `other`.
    handles[0].allow.inc();
    handles[99].deny.inc();
    handles[98].deny.inc();
    let network = m
        .statement_counters(&[(PolicyLayer::Network, "S299")])
        .unwrap();
    network[0].allow.inc();
    let text = m.encode().unwrap();
    assert!(text.contains(
        "trellis_authz_decisions_total{decision=\"allow\",layer=\"service\",statement=\"S200\"} 1"
    ));
    assert!(text.contains(
        "trellis_authz_decisions_total{decision=\"deny\",layer=\"service\",statement=\"other\"} 2"
    ));
    // Each layer has its own budget: the network layer still names S299.
    assert!(text.contains(
        "trellis_authz_decisions_total{decision=\"allow\",layer=\"network\",statement=\"S299\"} 1"
    ));
    // Reusing a known label does not spend budget; a new one past the cap is `other`.
    let again = m
        .statement_counters(&[
            (PolicyLayer::Service, "S200"),
            (PolicyLayer::Service, "S999"),
        ])
        .unwrap();
    again[0].allow.inc();
    again[1].allow.inc();
    let text = m.encode().unwrap();
    assert!(text.contains(
        "trellis_authz_decisions_total{decision=\"allow\",layer=\"service\",statement=\"S200\"} 2"
    ));
    assert!(text.contains(
        "trellis_authz_decisions_total{decision=\"allow\",layer=\"service\",statement=\"other\"} 1"
    ));
    assert!(!text.contains("layer=\"service\",statement=\"S256\""));
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
