use std::path::PathBuf;

use super::*;

fn example(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/examples")).join(name)
}

fn config(dir: &std::path::Path) -> SnapshotConfig {
    SnapshotConfig {
        network_auth: AuthType::AwsIam,
        network_policy: Some(dir.join("network.json")),
        service_auth: AuthType::AwsIam,
        service_policy: Some(dir.join("service.json")),
        principals: Some(dir.join("principals.json")),
    }
}

fn setup() -> (tempfile::TempDir, SnapshotConfig) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        example("network-policy.json"),
        dir.path().join("network.json"),
    )
    .unwrap();
    std::fs::copy(
        example("service-policy.json"),
        dir.path().join("service.json"),
    )
    .unwrap();
    std::fs::copy(
        example("principals.json"),
        dir.path().join("principals.json"),
    )
    .unwrap();
    let c = config(dir.path());
    (dir, c)
}

fn reloads(metrics: &Metrics, file: &std::path::Path, result: &str) -> u64 {
    let text = metrics.encode().unwrap();
    let needle = format!(
        "trellis_policy_reloads_total{{file=\"{}\",result=\"{result}\"}} ",
        file.display()
    );
    text.lines()
        .find_map(|l| l.strip_prefix(&needle))
        .map_or(0, |v| v.parse().unwrap())
}

#[test]
fn the_examples_load_into_one_snapshot_and_mark_ready() {
    let (_dir, c) = setup();
    let metrics = Arc::new(Metrics::new("t").unwrap());
    let ready = Readiness::new();
    let handle =
        SnapshotHandle::load_initial(c.clone(), Arc::clone(&metrics), ready.clone()).unwrap();
    assert!(ready.is_ready());
    let s = handle.current();
    assert_eq!(s.principals().principals().len(), 2);
    assert_eq!(s.files().len(), 3);
    assert_eq!(s.files()[1].statements, 4);
    assert!(matches!(s.service().layer(), LayerPolicy::Policies(p) if p.len() == 1));
    let caller = s.caller(0).unwrap();
    assert_eq!(
        caller.identity.identity.to_str().unwrap(),
        "Principal=arn:aws:sts::111122223333:assumed-role/checkout/checkout-task-1; PrincipalOrgID=o-a1b2c3d4e5; SessionName=checkout-task-1; Type=AWS_IAM"
    );
    assert_eq!(
        caller.log.tags_json.as_deref(),
        Some("{\"team\":\"payments\"}")
    );
    assert_eq!(
        reloads(&metrics, c.service_policy.as_ref().unwrap(), "ok"),
        1
    );
    assert!(metrics
        .encode()
        .unwrap()
        .contains("trellis_policy_statements{layer=\"service\"} 4"));
}

#[test]
fn a_bad_policy_keeps_the_old_snapshot_and_counts_an_error_with_its_position() {
    let (dir, c) = setup();
    let metrics = Arc::new(Metrics::new("t").unwrap());
    let handle =
        SnapshotHandle::load_initial(c.clone(), Arc::clone(&metrics), Readiness::new()).unwrap();
    let before = handle.current();
    std::fs::write(
        dir.path().join("service.json"),
        "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [{\"Effect\": \"Perhaps\"}]\n}",
    )
    .unwrap();
    let errors = handle.reload().unwrap_err();
    let path = c.service_policy.clone().unwrap();
    assert!(
        errors
            .iter()
            .all(|e| e.0.starts_with(&format!("{}:", path.display()))),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.0.contains(":3:") && e.0.contains(": error: ")),
        "{errors:?}"
    );
    assert!(Arc::ptr_eq(&before, &handle.current()));
    assert_eq!(reloads(&metrics, &path, "error"), 1);
    assert_eq!(
        reloads(&metrics, c.network_policy.as_ref().unwrap(), "error"),
        0
    );
}

#[test]
fn a_failed_first_load_is_an_error_and_not_ready() {
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path());
    let metrics = Arc::new(Metrics::new("t").unwrap());
    let ready = Readiness::new();
    let errors = SnapshotHandle::load_initial(c, metrics, ready.clone()).unwrap_err();
    assert_eq!(errors.len(), 3);
    assert!(errors[0].0.contains("cannot read the file"));
    assert!(!ready.is_ready());
}

#[test]
fn a_good_reload_swaps_everything_together() {
    let (dir, c) = setup();
    let metrics = Arc::new(Metrics::new("t").unwrap());
    let handle = SnapshotHandle::load_initial(c, Arc::clone(&metrics), Readiness::new()).unwrap();
    let principals = std::fs::read_to_string(dir.path().join("principals.json")).unwrap();
    let one: serde_json::Value = serde_json::from_str(&principals).unwrap();
    let mut one = one.clone();
    one["principals"].as_array_mut().unwrap().truncate(1);
    std::fs::write(dir.path().join("principals.json"), one.to_string()).unwrap();
    handle.reload().unwrap();
    assert_eq!(handle.current().principals().principals().len(), 1);
    assert_eq!((handle.files_source())().len(), 3);
}

#[test]
fn the_headers_policies_read_are_computed_per_load_from_every_layer() {
    let (dir, c) = setup();
    let metrics = Arc::new(Metrics::new("t").unwrap());
    let handle = SnapshotHandle::load_initial(c, Arc::clone(&metrics), Readiness::new()).unwrap();
    let names =
        |s: &Snapshot| -> Vec<String> { s.read_headers().iter().map(|n| n.to_string()).collect() };
    assert!(
        names(&handle.current()).is_empty(),
        "the examples read no header"
    );
    let mut principals: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("principals.json")).unwrap())
            .unwrap();
    principals["principals"][1]["policies"][0]["Statement"][0]["Condition"] =
        serde_json::json!({"StringEquals": {"vpc-lattice-svcs:RequestHeader/X-Tenant": "a"}});
    std::fs::write(dir.path().join("principals.json"), principals.to_string()).unwrap();
    let mut service: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("service.json")).unwrap())
            .unwrap();
    service["Statement"][0]["Condition"] =
        serde_json::json!({"StringNotLike": {"vpc-lattice-svcs:RequestHeader/host": "admin.*"}});
    std::fs::write(dir.path().join("service.json"), service.to_string()).unwrap();
    handle.reload().unwrap();
    assert_eq!(names(&handle.current()), ["host", "x-tenant"]);
}

fn series(metrics: &Metrics, prefix: &str) -> Vec<String> {
    metrics
        .encode()
        .unwrap()
        .lines()
        .filter(|l| l.starts_with(prefix))
        .map(str::to_owned)
        .collect()
}

fn label_of(statement: &serde_json::Value) -> String {
    labels::content_label(&labels::canonical(statement))
}

fn matched(layer: trellis_policy::Layer, index: u32, effect: trellis_policy::Effect) -> Matched {
    Matched {
        layer,
        index,
        sid: None,
        effect,
    }
}

#[test]
fn the_principals_file_reports_its_identity_statements() {
    let (_dir, c) = setup();
    let metrics = Arc::new(Metrics::new("t").unwrap());
    let handle = SnapshotHandle::load_initial(c, metrics, Readiness::new()).unwrap();
    let files = handle.current().files().to_vec();
    assert!(files[2].path.ends_with("principals.json"));
    assert_eq!(files[2].statements, 2);
}

#[test]
fn unnamed_statements_are_labelled_by_a_hash_of_their_text_not_their_position() {
    let (dir, c) = setup();
    let allow = serde_json::json!({"Effect": "Allow", "Principal": "*", "Action": "vpc-lattice-svcs:Invoke", "Resource": "*"});
    let deny = serde_json::json!({"Effect": "Deny", "Principal": "*", "Action": "vpc-lattice-svcs:Invoke", "Resource": "*/admin/*"});
    let write = |statements: serde_json::Value| {
        std::fs::write(
            dir.path().join("service.json"),
            serde_json::json!({"Version": "2012-10-17", "Statement": statements}).to_string(),
        )
        .unwrap();
    };
    write(serde_json::json!([allow.clone()]));
    let metrics = Arc::new(Metrics::new("t").unwrap());
    let handle = SnapshotHandle::load_initial(c, Arc::clone(&metrics), Readiness::new()).unwrap();
    let allow_label = label_of(&allow);
    let counters = handle.current().decision_counters(
        None,
        &[matched(
            trellis_policy::Layer::Service,
            0,
            trellis_policy::Effect::Allow,
        )],
        None,
    );
    counters[0].inc();
    // A statement inserted above it: the allow moves to position 1 and keeps its series.
    write(serde_json::json!([deny.clone(), allow.clone()]));
    handle.reload().unwrap();
    let counters = handle.current().decision_counters(
        None,
        &[matched(
            trellis_policy::Layer::Service,
            1,
            trellis_policy::Effect::Allow,
        )],
        None,
    );
    counters[0].inc();
    let service = series(&metrics, "trellis_authz_decisions_total{decision");
    let service: Vec<&String> = service
        .iter()
        .filter(|l| l.contains("layer=\"service\""))
        .collect();
    assert_eq!(
        service,
        [
            &format!("trellis_authz_decisions_total{{decision=\"allow\",layer=\"service\",statement=\"{allow_label}\"}} 2"),
            &format!("trellis_authz_decisions_total{{decision=\"deny\",layer=\"service\",statement=\"{}\"}} 0", label_of(&deny)),
            &"trellis_authz_decisions_total{decision=\"deny\",layer=\"service\",statement=\"none\"} 0".to_owned(),
        ]
    );
}

#[test]
fn named_statements_get_only_their_effects_series_and_removed_ones_disappear() {
    let (dir, c) = setup();
    let metrics = Arc::new(Metrics::new("t").unwrap());
    let handle = SnapshotHandle::load_initial(c, Arc::clone(&metrics), Readiness::new()).unwrap();
    let all = series(&metrics, "trellis_authz_decisions_total{");
    assert!(all.iter().any(|l| l
        .contains("{decision=\"allow\",layer=\"service\",statement=\"AllowCheckoutToOrders\"}")));
    assert!(!all.iter().any(
        |l| l.contains("{decision=\"deny\",layer=\"service\",statement=\"AllowCheckoutToOrders\"}")
    ));
    assert!(all.iter().any(|l| l
        .contains("{decision=\"deny\",layer=\"service\",statement=\"DenyAdminOutsidePlatform\"}")));
    assert!(!all.iter().any(|l| l.contains(
        "{decision=\"allow\",layer=\"service\",statement=\"DenyAdminOutsidePlatform\"}"
    )));
    assert!(!all
        .iter()
        .any(|l| l.contains("decision=\"allow\"") && l.contains("statement=\"none\"")));
    let text = std::fs::read_to_string(dir.path().join("service.json"))
        .unwrap()
        .replace("DenyAdminOutsidePlatform", "DenyAdminUnlessPlatform");
    std::fs::write(dir.path().join("service.json"), text).unwrap();
    handle.reload().unwrap();
    let all = series(&metrics, "trellis_authz_decisions_total{");
    assert!(!all.iter().any(|l| l.contains("DenyAdminOutsidePlatform")));
    assert!(all.iter().any(|l| l.contains("DenyAdminUnlessPlatform")));
}

#[test]
fn unnamed_identity_statements_count_for_the_principal_whose_policy_matched() {
    let (dir, c) = setup();
    let path = dir.path().join("principals.json");
    let mut p: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut statements = Vec::new();
    for i in 0..2 {
        let statement = &mut p["principals"][i]["policies"][0]["Statement"][0];
        statement.as_object_mut().unwrap().remove("Sid");
        statements.push(statement.clone());
    }
    std::fs::write(&path, p.to_string()).unwrap();
    let metrics = Arc::new(Metrics::new("t").unwrap());
    let handle = SnapshotHandle::load_initial(c, Arc::clone(&metrics), Readiness::new()).unwrap();
    let identity = |principal| {
        handle.current().decision_counters(
            Some(principal),
            &[matched(
                trellis_policy::Layer::Identity,
                0,
                trellis_policy::Effect::Allow,
            )],
            None,
        )
    };
    identity(1)[0].inc();
    identity(1)[0].inc();
    identity(0)[0].inc();
    let all = series(
        &metrics,
        "trellis_authz_decisions_total{decision=\"allow\",layer=\"identity\"",
    );
    for (i, expected) in [(0, 1), (1, 2)] {
        let line = format!(
            "trellis_authz_decisions_total{{decision=\"allow\",layer=\"identity\",statement=\"{}\"}} {expected}",
            label_of(&statements[i])
        );
        assert!(all.contains(&line), "{line} not in {all:?}");
    }
}

#[test]
fn a_rejected_file_reports_failure_until_fixed_and_info_names_the_version_in_force() {
    let (_dir, c) = setup();
    let metrics = Arc::new(Metrics::new("t").unwrap());
    let handle =
        SnapshotHandle::load_initial(c.clone(), Arc::clone(&metrics), Readiness::new()).unwrap();
    let service = c.service_policy.clone().unwrap();
    let success = |m: &Metrics| {
        series(m, "trellis_policy_last_reload_success{")
            .into_iter()
            .find(|l| l.contains(&format!("file=\"{}\"", service.display())))
            .unwrap()
    };
    let info = |m: &Metrics| {
        series(m, "trellis_policy_info{")
            .into_iter()
            .filter(|l| l.contains(&format!("file=\"{}\"", service.display())))
            .collect::<Vec<_>>()
    };
    let first_sha = handle.current().files()[1].sha256.clone();
    assert!(success(&metrics).ends_with(" 1"));
    assert_eq!(
        info(&metrics),
        [format!(
            "trellis_policy_info{{file=\"{}\",sha256=\"{first_sha}\"}} 1",
            service.display()
        )]
    );
    let good = std::fs::read_to_string(&service).unwrap();
    std::fs::write(&service, "{").unwrap();
    handle.reload().unwrap_err();
    handle.reload().unwrap_err();
    assert!(success(&metrics).ends_with(" 0"));
    // The network file is fine: its own load did not fail.
    assert!(series(&metrics, "trellis_policy_last_reload_success{")
        .iter()
        .any(|l| l.contains("network.json") && l.ends_with(" 1")));
    assert_eq!(info(&metrics).len(), 1);
    assert!(info(&metrics)[0].contains(&first_sha));
    std::fs::write(&service, good.replace("orders-service", "orders-v2")).unwrap();
    handle.reload().unwrap();
    assert!(success(&metrics).ends_with(" 1"));
    let second_sha = handle.current().files()[1].sha256.clone();
    assert_ne!(first_sha, second_sha);
    assert_eq!(info(&metrics).len(), 1);
    assert!(info(&metrics)[0].contains(&second_sha));
}

#[test]
fn keys_whose_id_contains_example_are_warned_about_with_principal_and_key_id() {
    let (_dir, c) = setup();
    let metrics = Arc::new(Metrics::new("t").unwrap());
    let handle = SnapshotHandle::load_initial(c, Arc::clone(&metrics), Readiness::new()).unwrap();
    let warnings = handle.current().example_key_warnings();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].starts_with("trellis: warning: principal `arn:aws:sts::111122223333:assumed-role/checkout/checkout-task-1` has access key `AKIAEXAMPLECHECKOUT1`"), "{}", warnings[0]);
    assert!(warnings[1].contains(
        "`arn:aws:iam::111122223333:user/ops-ana` has access key `AKIAEXAMPLEOPSANA001`"
    ));
    assert!(!warnings.iter().any(|w| w.contains("secret")));
    assert!(series(&metrics, "trellis_principals_example_keys ")
        .contains(&"trellis_principals_example_keys 2".to_owned()));
}

#[test]
fn a_reload_tells_the_callers_reporter_what_it_warned_about_rejected_and_put_in_force() {
    let (dir, c) = setup();
    let seen = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = Arc::clone(&seen);
    let reporter = Reporter::new(move |r| sink.lock().unwrap().push(r.to_string()));
    let metrics = Arc::new(Metrics::new("t").unwrap());
    let handle = SnapshotHandle::load_initial_reporting(
        c.clone(),
        ShadowConfig::default(),
        metrics,
        Readiness::new(),
        reporter,
    )
    .unwrap();
    let take = || std::mem::take(&mut *seen.lock().unwrap());
    let example_keys = take();
    assert!(
        !example_keys.is_empty()
            && example_keys
                .iter()
                .all(|l| l.starts_with("trellis: warning: principal `") && l.contains("EXAMPLE")),
        "{example_keys:?}"
    );

    let service = c.service_policy.clone().unwrap();
    std::fs::write(
        &service,
        r#"{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]}"#,
    )
    .unwrap();
    handle.reload().unwrap();
    let reloaded = take();
    let warning = format!("{}:1:1: warning: missing `Version`", service.display());
    assert!(reloaded[0].starts_with(&warning), "{reloaded:?}");
    assert_eq!(reloaded[1], "trellis: policies and principals reloaded");
    assert_eq!(&reloaded[2..], &example_keys[..]);

    std::fs::copy(example("service-policy.json"), &service).unwrap();
    std::fs::write(dir.path().join("network.json"), "{").unwrap();
    let errors = handle.reload().unwrap_err();
    let rejected = take();
    let (last, lines) = rejected.split_last().unwrap();
    assert_eq!(
        last,
        "trellis: reload rejected; the previous policies and principals stay in force"
    );
    assert_eq!(
        lines,
        errors.iter().map(|e| e.0.clone()).collect::<Vec<_>>(),
        "every error is reported before the verdict"
    );
    assert!(lines.iter().all(|l| l.contains(": error: ")), "{lines:?}");
}
