use super::*;

const SVC: &str = "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0";

fn parse(extra: &[&str]) -> Result<Config, ParseError> {
    let mut args = vec!["run", "--service-arn", SVC];
    args.extend_from_slice(extra);
    Config::parse_from(args)
}

fn invalid(extra: &[&str]) -> ConfigError {
    match parse(extra) {
        Err(ParseError::Invalid(e)) => e,
        other => panic!("expected an invalid value, got {other:?}"),
    }
}

#[test]
fn defaults_are_the_contracts() {
    let c = parse(&[]).unwrap();
    assert_eq!(c.listen, "0.0.0.0:8080".parse().unwrap());
    assert_eq!(c.upstream, "http://127.0.0.1:8081");
    assert_eq!(c.admin, Some("127.0.0.1:9901".parse().unwrap()));
    assert_eq!(c.snapshot.service_auth, AuthType::AwsIam);
    assert_eq!(c.snapshot.network_auth, AuthType::None);
    assert_eq!(c.identity_policies, IdentityPolicies::Enforce);
    assert_eq!(c.mode, Mode::Enforce);
    assert_eq!(c.access_log, AccessLogTarget::Stdout);
    assert_eq!(c.max_clock_skew, Duration::from_secs(300));
    assert_eq!(c.reload_poll, Some(Duration::from_secs(10)));
    assert_eq!(c.drain_timeout, Duration::from_secs(20));
    assert_eq!(c.service_arn.region(), "us-west-2");
    assert_eq!(c.auth_settings().verifier.region, "us-west-2");
    assert!(c.tls.is_none());
}

#[test]
fn a_network_policy_turns_network_auth_on_unless_told_otherwise() {
    let c = parse(&["--network-policy", "n.json"]).unwrap();
    assert_eq!(c.snapshot.network_auth, AuthType::AwsIam);
    let c = parse(&["--network-policy", "n.json", "--network-auth-type", "NONE"]).unwrap();
    assert_eq!(c.snapshot.network_auth, AuthType::None);
    assert_eq!(c.warnings().len(), 2);
}

#[test]
fn every_flag_is_read() {
    let c = parse(&[
        "--listen",
        "127.0.0.1:1",
        "--upstream",
        "https://svc.local:8443",
        "--admin",
        "off",
        "--service-network-arn",
        "arn:aws:vpc-lattice:us-west-2:111122223333:servicenetwork/sn-0123456789abcdef0",
        "--service-auth-type",
        "NONE",
        "--service-policy",
        "s.json",
        "--principals",
        "p.json",
        "--identity-policies",
        "ignore",
        "--mode",
        "audit",
        "--tls-cert",
        "c.pem",
        "--tls-key",
        "k.pem",
        "--access-log",
        "/var/log/t.json",
        "--max-clock-skew",
        "1m30s",
        "--source-vpc",
        "vpc-1",
        "--source-vpc-owner",
        "444455556666",
        "--reload-poll",
        "0",
        "--drain-timeout",
        "250ms",
    ])
    .unwrap();
    assert_eq!(c.admin, None);
    assert_eq!(c.snapshot.service_auth, AuthType::None);
    assert_eq!(c.identity_policies, IdentityPolicies::Ignore);
    assert_eq!(c.mode, Mode::Audit);
    assert_eq!(
        c.access_log,
        AccessLogTarget::File("/var/log/t.json".into())
    );
    assert_eq!(c.max_clock_skew, Duration::from_secs(90));
    assert_eq!(c.reload_poll, None);
    assert_eq!(c.drain_timeout, Duration::from_millis(250));
    assert_eq!(c.tls, Some(("c.pem".into(), "k.pem".into())));
    let s = c.auth_settings();
    assert!(!s.enabled);
    assert_eq!(s.source_vpc.as_deref(), Some("vpc-1"));
}

#[test]
fn invalid_values_name_their_flag() {
    let e = match Config::parse_from([
        "run",
        "--service-arn",
        "arn:aws:vpc-lattice:us-west-2:1111:service/svc-x",
    ]) {
        Err(ParseError::Invalid(e)) => e,
        other => panic!("{other:?}"),
    };
    assert_eq!(e.flag, "service-arn");
    assert!(e
        .to_string()
        .contains("must look like arn:aws:vpc-lattice:REGION:ACCOUNT:service/svc-ID"));
    assert_eq!(invalid(&["--listen", "localhost"]).flag, "listen");
    assert_eq!(invalid(&["--upstream", "ftp://x"]).flag, "upstream");
    assert_eq!(
        invalid(&["--drain-timeout", "5 minutes"]).flag,
        "drain-timeout"
    );
    assert_eq!(invalid(&["--reload-poll", "10"]).flag, "reload-poll");
    assert_eq!(invalid(&["--tls-cert", "c.pem"]).flag, "tls-key");
    assert_eq!(
        invalid(&[
            "--service-network-arn",
            "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0"
        ])
        .flag,
        "service-network-arn"
    );
}

#[test]
fn usage_errors_are_not_value_errors() {
    assert!(matches!(
        Config::parse_from(["run"]),
        Err(ParseError::Usage(_))
    ));
    assert!(matches!(parse(&["--bogus"]), Err(ParseError::Usage(_))));
    assert!(matches!(
        parse(&["--mode", "loud"]),
        Err(ParseError::Usage(_))
    ));
}

#[test]
fn durations() {
    assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
    assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
    assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
    assert!(parse_duration("").is_err());
    assert!(parse_duration("s").is_err());
    assert!(parse_duration("-1s").is_err());
    assert!(parse_duration("10").is_err());
    assert!(parse_duration("1.5").is_err());
    assert!(parse_duration("1 s").is_err());
    assert!(parse_duration("1s ").is_err());
    assert!(parse_duration(".s").is_err());
    assert!(parse_duration("10d")
        .unwrap_err()
        .contains("unknown unit `d`"));
    assert!(parse_duration("10").unwrap_err().contains("needs a unit"));
}

#[test]
fn durations_are_written_as_go_and_kubernetes_write_them() {
    assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
    assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
    assert_eq!(parse_duration("10.0s"), Ok(Duration::from_secs(10)));
    assert_eq!(parse_duration(".5s"), Ok(Duration::from_millis(500)));
    assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
    assert_eq!(parse_duration("250µs"), Ok(Duration::from_micros(250)));
    assert_eq!(parse_duration("0.001ms"), Ok(Duration::from_micros(1)));
    assert_eq!(parse_duration("1h0.5m"), Ok(Duration::from_secs(3630)));
    assert_eq!(
        parse_duration("1.0000000000000000000001s"),
        Ok(Duration::from_secs(1))
    );
    assert!(parse_duration("99999999999999999999999999999999999h").is_ok());
}

#[test]
fn the_upstream_is_spoken_to_in_http1_unless_told_otherwise() {
    let c = parse(&[]).unwrap();
    assert_eq!(c.upstream_protocol, UpstreamProtocol::Http1);
    assert_eq!(
        c.proxy_config(None).stack.upstream.protocol,
        UpstreamProtocol::Http1
    );
    for (value, protocol) in [
        ("http1", UpstreamProtocol::Http1),
        ("http2", UpstreamProtocol::Http2),
        ("auto", UpstreamProtocol::Auto),
    ] {
        let c = parse(&["--upstream-protocol", value]).unwrap();
        assert_eq!(c.upstream_protocol, protocol);
        assert_eq!(c.proxy_config(None).stack.upstream.protocol, protocol);
        assert_eq!(protocol.as_str(), value);
    }
    assert!(matches!(
        parse(&["--upstream-protocol", "h2c"]),
        Err(ParseError::Usage(_))
    ));
}

#[test]
fn upstream_ca_is_a_pem_file_or_the_system_store_and_defaults_to_the_bundled_roots() {
    let https = ["--upstream", "https://svc.local:8443"];
    let c = parse(&https).unwrap();
    assert_eq!(c.upstream_roots, UpstreamRoots::Webpki);
    let c = parse(&[&https[..], &["--upstream-ca", "/etc/ca.pem"]].concat()).unwrap();
    assert_eq!(
        c.upstream_roots,
        UpstreamRoots::CaFile("/etc/ca.pem".into())
    );
    assert_eq!(
        c.proxy_config(None).stack.upstream.roots,
        UpstreamRoots::CaFile("/etc/ca.pem".into())
    );
    assert!(c.warnings().iter().all(|w| !w.contains("--upstream-ca")));
    let c = parse(&[&https[..], &["--upstream-ca", "system"]].concat()).unwrap();
    assert_eq!(c.upstream_roots, UpstreamRoots::Native);
    let e = invalid(&["--upstream-ca", " "]);
    assert_eq!(e.flag, "upstream-ca");
    assert!(e.to_string().contains("is empty"), "{e}");
}

#[test]
fn an_upstream_ca_with_a_plain_http_upstream_is_warned_about() {
    let c = parse(&["--upstream-ca", "/etc/ca.pem"]).unwrap();
    assert!(
        c.warnings()
            .iter()
            .any(|w| w.contains("`--upstream-ca` is inactive")),
        "{:?}",
        c.warnings()
    );
}

#[test]
fn idle_timeout_closes_connections_and_tunnels_and_must_be_positive() {
    let c = parse(&[]).unwrap();
    assert_eq!(c.idle_timeout, Duration::from_secs(60));
    let c = parse(&["--idle-timeout", "90s"]).unwrap();
    let p = c.proxy_config(None);
    assert_eq!(p.server.idle_timeout, Duration::from_secs(90));
    assert_eq!(
        p.stack.upstream.tunnel_idle_timeout,
        Duration::from_secs(90)
    );
    assert_eq!(invalid(&["--idle-timeout", "0"]).flag, "idle-timeout");
    assert_eq!(invalid(&["--idle-timeout", "soon"]).flag, "idle-timeout");
}

#[test]
fn max_connections_is_a_whole_number_from_one() {
    let c = parse(&[]).unwrap();
    assert_eq!(c.max_connections, 10_000);
    let c = parse(&["--max-connections", "1"]).unwrap();
    assert_eq!(c.proxy_config(None).server.max_connections, 1);
    for bad in ["0", "-1", "many", "1e4", "1000001"] {
        let e = invalid(&[&format!("--max-connections={bad}")]);
        assert_eq!(e.flag, "max-connections", "{bad}");
        assert!(e.to_string().contains(&format!("`{bad}`")), "{e}");
    }
}

#[test]
fn allow_path_semicolons_is_off_unless_given() {
    assert!(!parse(&[]).unwrap().path_rules.allow_semicolons);
    let c = parse(&["--allow-path-semicolons"]).unwrap();
    assert!(c.path_rules.allow_semicolons);
    assert!(
        c.proxy_config(None).stack.path_rules.allow_semicolons,
        "the setting reaches the stack"
    );
    assert!(matches!(
        parse(&["--allow-path-semicolons=maybe"]),
        Err(ParseError::Usage(_))
    ));
    let command = <RunArgs as clap::Args>::augment_args(clap::Command::new("run"));
    let arg = command
        .get_arguments()
        .find(|a| a.get_long() == Some("allow-path-semicolons"))
        .unwrap();
    assert_eq!(
        arg.get_env().and_then(|e| e.to_str()),
        Some("TRELLIS_ALLOW_PATH_SEMICOLONS")
    );
}

#[test]
fn header_rules_default_to_drop_and_replace_and_follow_their_flags() {
    let c = parse(&[]).unwrap();
    assert_eq!(c.header_rules.underscores, Underscores::Drop);
    assert_eq!(c.header_rules.xff, Xff::Replace);
    assert_eq!(c.proxy_config(None).stack.header_rules, c.header_rules);
    let c = parse(&["--headers-with-underscores", "reject", "--xff", "append"]).unwrap();
    assert_eq!(c.header_rules.underscores, Underscores::Reject);
    assert_eq!(c.header_rules.xff, Xff::Append);
    let c = parse(&["--headers-with-underscores", "allow"]).unwrap();
    assert_eq!(c.header_rules.underscores, Underscores::Allow);
    for bad in [
        &["--headers-with-underscores", "keep"][..],
        &["--xff", "prepend"][..],
    ] {
        match parse(bad) {
            Err(ParseError::Usage(e)) => {
                assert!(e.to_string().contains(bad[0]), "{e}");
            }
            other => panic!("{bad:?}: {other:?}"),
        }
    }
}

#[test]
fn shutdown_delay_defaults_to_zero_and_names_its_flag_when_invalid() {
    assert_eq!(parse(&[]).unwrap().shutdown_delay, Duration::ZERO);
    assert_eq!(
        parse(&["--shutdown-delay", "5s"]).unwrap().shutdown_delay,
        Duration::from_secs(5)
    );
    let e = invalid(&["--shutdown-delay", "soon"]);
    assert_eq!(e.flag, "shutdown-delay");
    assert!(e.to_string().starts_with("`--shutdown-delay`: "), "{e}");
}

#[test]
fn listen_and_admin_accept_host_names_resolved_at_start() {
    let c = parse(&["--listen", "localhost:18080", "--admin", "localhost:19901"]).unwrap();
    assert_eq!(c.listen, "127.0.0.1:18080".parse().unwrap());
    assert_eq!(c.admin, Some("127.0.0.1:19901".parse().unwrap()));
    let e = invalid(&["--listen", "localhost"]);
    assert_eq!(e.flag, "listen");
    assert!(e.message.contains("with a port"), "{e}");
    let e = invalid(&["--admin", "no-such-host.invalid:9901"]);
    assert_eq!(e.flag, "admin");
    assert!(e.message.contains("cannot resolve"), "{e}");
}

#[test]
fn a_value_from_the_environment_is_named_by_its_variable() {
    let e = invalid(&["--listen", "nowhere"]);
    let text = e.with_env_var("TRELLIS_LISTEN");
    assert!(
        text.starts_with("`TRELLIS_LISTEN` (the environment variable of `--listen`): "),
        "{text}"
    );
}

#[test]
fn identity_tokens_are_off_without_an_sts_audience() {
    assert!(parse(&[]).unwrap().sts.is_none());
}

#[test]
fn sts_audience_enables_identity_tokens_with_a_10000_token_cache() {
    let c = parse(&["--sts-audience", "svc-0123456789abcdef0"]).unwrap();
    let sts = c.sts.unwrap();
    assert_eq!(sts.audience, "svc-0123456789abcdef0");
    assert_eq!(sts.cache_entries, 10_000);
    assert!(sts.endpoint.is_none());
}

#[test]
fn sts_endpoint_is_https_or_http_to_a_loopback_address_only() {
    let ok = |e: &str| {
        parse(&["--sts-audience", "svc-1", "--sts-endpoint", e])
            .unwrap()
            .sts
            .unwrap()
            .endpoint
            .unwrap()
    };
    assert_eq!(
        ok("https://vpce-1.sts.us-west-2.vpce.amazonaws.com").host(),
        Some("vpce-1.sts.us-west-2.vpce.amazonaws.com")
    );
    assert_eq!(ok("http://127.0.0.1:8443").port_u16(), Some(8443));
    assert_eq!(ok("http://[::1]:8443").port_u16(), Some(8443));
    for bad in [
        "http://10.0.0.1:80",
        "ftp://127.0.0.1",
        "https://sts.amazonaws.com/x",
        "not a url",
    ] {
        let e = invalid(&["--sts-audience", "svc-1", "--sts-endpoint", bad]);
        assert_eq!(e.flag, "sts-endpoint", "{bad}");
    }
}

#[test]
fn sts_endpoint_without_an_audience_is_refused() {
    let e = invalid(&["--sts-endpoint", "https://sts.amazonaws.com"]);
    assert_eq!(e.flag, "sts-endpoint");
    assert!(e.message.contains("--sts-audience"));
}

#[test]
fn a_bad_sts_audience_or_cache_names_its_flag() {
    assert_eq!(invalid(&["--sts-audience", "a b"]).flag, "sts-audience");
    assert_eq!(invalid(&["--sts-audience", ""]).flag, "sts-audience");
    assert_eq!(invalid(&["--sts-cache", "0"]).flag, "sts-cache");
    assert_eq!(invalid(&["--sts-cache", "many"]).flag, "sts-cache");
    let c = parse(&["--sts-audience", "svc-1", "--sts-cache", "5"]).unwrap();
    assert_eq!(c.sts.unwrap().cache_entries, 5);
}

#[test]
fn shadow_policy_flags_fill_the_shadow_config_and_default_to_none() {
    assert!(parse(&[]).unwrap().shadow.is_empty());
    let c = parse(&[
        "--service-policy",
        "s.json",
        "--shadow-service-policy",
        "candidate-s.json",
        "--shadow-network-policy",
        "candidate-n.json",
    ])
    .unwrap();
    assert_eq!(
        c.shadow.service_policy.as_deref(),
        Some(std::path::Path::new("candidate-s.json"))
    );
    assert_eq!(
        c.shadow.network_policy.as_deref(),
        Some(std::path::Path::new("candidate-n.json"))
    );
    assert_eq!(c.shadow.files().len(), 2);
    // Shadow files are not enforced files.
    assert_eq!(c.snapshot.files(), vec![std::path::PathBuf::from("s.json")]);
}

#[test]
fn a_shadow_policy_that_is_the_enforced_file_itself_names_its_flag() {
    let e = invalid(&[
        "--service-policy",
        "s.json",
        "--shadow-service-policy",
        "s.json",
    ]);
    assert_eq!(e.flag, "shadow-service-policy");
    assert!(
        e.message.contains("enforced policy file itself"),
        "{}",
        e.message
    );
    let e = invalid(&[
        "--network-policy",
        "n.json",
        "--shadow-network-policy",
        "n.json",
    ]);
    assert_eq!(e.flag, "shadow-network-policy");
}

#[test]
fn the_decision_log_is_off_unless_given_and_an_empty_path_is_refused_naming_the_flag() {
    assert_eq!(parse(&[]).unwrap().decision_log, None);
    let c = parse(&["--decision-log", "/var/log/trellis/decisions.jsonl"]).unwrap();
    assert_eq!(
        c.decision_log,
        Some(PathBuf::from("/var/log/trellis/decisions.jsonl"))
    );
    assert_eq!(
        c.proxy_config(None).decision_log,
        Some(PathBuf::from("/var/log/trellis/decisions.jsonl"))
    );
    match parse(&["--decision-log", ""]) {
        Err(ParseError::Usage(e)) => assert!(e.to_string().contains("--decision-log")),
        other => panic!("expected a usage error, got {other:?}"),
    }
}
