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
