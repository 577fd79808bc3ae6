use super::*;
use std::time::{Duration, UNIX_EPOCH};

fn record() -> AccessRecord {
    AccessRecord {
        start_time: UNIX_EPOCH + Duration::from_secs(1_722_770_920),
        request_id: Some(HeaderValue::from_static("rid-1")),
        method: Method::GET,
        path: "/orders/7".into(),
        protocol: "HTTP/1.1",
        host: Some(HeaderValue::from_static("svc.local")),
        user_agent: None,
        source: Some("10.0.0.1:4000".parse().unwrap()),
        target: None,
        response_code: 403,
        duration_ms: 3,
        request_to_target_ms: 0,
        response_from_target_ms: 0,
        bytes_received: 120,
        bytes_sent: 300,
        service_arn: "arn:svc".into(),
        service_network_arn: None,
        authn: Some(AuthnResult::Signed),
        caller: Some(CallerLog {
            principal: "arn:aws:sts::1:assumed-role/r/s".into(),
            org_id: None,
            tags_json: Some("{\"team\":\"a\"}".into()),
        }),
        denied_layer: Some(PolicyLayer::Service),
        failure_reason: Some("ClientAccessDenied"),
        matched_statements: None,
        mode: "enforce",
        authorizer: "-",
        shadow: None,
    }
}

fn parse(r: &AccessRecord) -> serde_json::Value {
    let mut buf = Vec::new();
    r.write_json(&mut buf).unwrap();
    assert_eq!(buf.last(), Some(&b'\n'));
    assert_eq!(buf.iter().filter(|b| **b == b'\n').count(), 1);
    serde_json::from_slice(&buf).unwrap()
}

#[test]
fn line_has_lattice_field_names_and_dashes() {
    let v = parse(&record());
    let obj = v.as_object().unwrap();
    let names = [
        "startTime",
        "requestId",
        "requestMethod",
        "requestPath",
        "protocol",
        "hostHeader",
        "userAgent",
        "sourceIpPort",
        "targetIpPort",
        "responseCode",
        "duration",
        "requestToTargetDuration",
        "responseFromTargetDuration",
        "bytesReceived",
        "bytesSent",
        "serviceArn",
        "serviceNetworkArn",
        "callerPrincipal",
        "callerPrincipalOrgID",
        "callerPrincipalTags",
        "resolvedUser",
        "authDeniedReason",
        "failureReason",
        "authnResult",
        "matchedStatements",
        "mode",
        "authorizer",
        "shadowDecision",
        "shadowMatchedStatements",
    ];
    assert_eq!(obj.len(), names.len());
    for n in names {
        assert!(obj.contains_key(n), "{n}");
    }
    assert_eq!(v["startTime"], "2024-08-04T11:28:40Z");
    assert_eq!(v["userAgent"], "-");
    assert_eq!(v["targetIpPort"], "-");
    assert_eq!(v["serviceNetworkArn"], "-");
    assert_eq!(v["callerPrincipal"], "arn:aws:sts::1:assumed-role/r/s");
    assert_eq!(v["resolvedUser"], "arn:aws:sts::1:assumed-role/r/s");
    assert_eq!(v["callerPrincipalOrgID"], "-");
    assert_eq!(v["callerPrincipalTags"], "{\"team\":\"a\"}");
    assert_eq!(v["authDeniedReason"], "Service");
    assert_eq!(v["failureReason"], "ClientAccessDenied");
    assert_eq!(v["authnResult"], "signed");
    assert_eq!(v["matchedStatements"], "-");
    assert_eq!(v["responseCode"], 403);
    assert_eq!(v["requestToTargetDuration"], 0);
}

#[test]
fn anonymous_callers_resolve_to_anonymous() {
    let mut r = record();
    r.authn = Some(AuthnResult::Anonymous);
    r.caller = None;
    let v = parse(&r);
    assert_eq!(v["resolvedUser"], "Anonymous");
    assert_eq!(v["callerPrincipal"], "-");
}

#[tokio::test]
async fn full_queue_drops_and_counts() {
    let dropped = IntCounter::new("d", "d").unwrap();
    // A writer that never completes a write keeps the queue full.
    let (reader, writer) = tokio::io::duplex(1);
    let (log, _w) = spawn_with_writer(Box::new(writer), 2, dropped.clone());
    for _ in 0..50 {
        log.submit(record());
    }
    assert!(dropped.get() >= 47, "dropped {}", dropped.get());
    drop(reader);
}

#[tokio::test]
async fn shutdown_flushes_queued_lines() {
    let dropped = IntCounter::new("d", "d").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    let (log, writer) = spawn(&AccessLogTarget::File(path.clone()), 16, dropped)
        .await
        .unwrap();
    for _ in 0..5 {
        log.submit(record());
    }
    writer.shutdown().await.unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 5);
    log.submit(record());
    assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 5);
}

#[test]
fn start_time_is_reformatted_when_the_second_changes() {
    let at = |s: u64| UNIX_EPOCH + Duration::from_secs(s);
    for t in [
        at(1_722_770_920),
        at(1_722_770_920) + Duration::from_millis(999),
        at(1_722_770_921),
        at(0),
        at(1_722_770_920),
    ] {
        let mut out = Vec::new();
        push_start_time(&mut out, t);
        assert_eq!(String::from_utf8(out).unwrap(), format_start_time(t));
    }
}

async fn lines_in(path: &std::path::Path, n: usize) -> usize {
    // Bounded: the writer flushes within its flush delay.
    for _ in 0..200 {
        let count = std::fs::read_to_string(path).map_or(0, |t| t.lines().count());
        if count >= n {
            return count;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    std::fs::read_to_string(path).map_or(0, |t| t.lines().count())
}

#[tokio::test]
async fn reopening_after_a_rename_writes_new_lines_to_a_new_file_at_the_path() {
    let dropped = IntCounter::new("d", "d").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    let rotated = dir.path().join("access.log.1");
    let (log, writer) = spawn(&AccessLogTarget::File(path.clone()), 16, dropped.clone())
        .await
        .unwrap();
    log.submit(record());
    assert_eq!(lines_in(&path, 1).await, 1);
    // logrotate: rename, then `postrotate kill -HUP`.
    std::fs::rename(&path, &rotated).unwrap();
    log.submit(record());
    assert_eq!(lines_in(&rotated, 2).await, 2, "still the open file");
    writer.reopener().reopen();
    for _ in 0..200 {
        if path.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    log.submit(record());
    log.submit(record());
    writer.shutdown().await.unwrap();
    assert_eq!(
        std::fs::read_to_string(&rotated).unwrap().lines().count(),
        2
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 2);
    assert_eq!(dropped.get(), 0);
}

#[tokio::test]
async fn a_reopen_that_cannot_open_the_file_keeps_writing_to_the_old_one() {
    let dropped = IntCounter::new("d", "d").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("logs");
    std::fs::create_dir(&sub).unwrap();
    let path = sub.join("access.log");
    let moved = dir.path().join("moved");
    let (log, writer) = spawn(&AccessLogTarget::File(path.clone()), 16, dropped)
        .await
        .unwrap();
    log.submit(record());
    assert_eq!(lines_in(&path, 1).await, 1);
    // The directory is gone: the new file cannot be created.
    std::fs::rename(&sub, &moved).unwrap();
    writer.reopener().reopen();
    tokio::time::sleep(Duration::from_millis(50)).await;
    log.submit(record());
    writer.shutdown().await.unwrap();
    assert_eq!(
        std::fs::read_to_string(moved.join("access.log"))
            .unwrap()
            .lines()
            .count(),
        2
    );
}

#[test]
fn strings_with_quotes_backslashes_and_control_characters_read_back_as_sent() {
    let mut r = record();
    r.path = "/a\"b\\c\u{1}\n\td/é".into();
    r.caller.as_mut().unwrap().tags_json = Some("{\"team\":\"a\\\\b\"}".into());
    let v = parse(&r);
    assert_eq!(v["requestPath"], "/a\"b\\c\u{1}\n\td/é");
    assert_eq!(v["callerPrincipalTags"], "{\"team\":\"a\\\\b\"}");
    assert_eq!(v["responseCode"], 403);
    assert_eq!(v["startTime"], "2024-08-04T11:28:40Z");
}
