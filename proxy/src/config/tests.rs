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
    assert!(parse_duration("1.5s").is_err());
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
