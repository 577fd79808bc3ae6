use super::*;

/// 2024-01-31T12:00:00Z.
const SIGNED_AT: u64 = 1_706_702_400;
const DATE: &str = "20240131T120000Z";
const SIG: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn at(secs_after_signing: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(SIGNED_AT + secs_after_signing)
}

fn query() -> String {
    format!("Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAEXAMPLE%2F20240131%2Fus-west-2%2Fsts%2Faws4_request&X-Amz-Date={DATE}&X-Amz-Expires=60&X-Amz-SignedHeaders=host%3Bx-k8s-aws-id&X-Amz-Security-Token=IQoJb3JpZ2luX2VjEXAMPLE%2B%2F%3D&X-Amz-Signature={SIG}")
}

fn token_for(url: &str) -> String {
    format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(url)
    )
}

fn good_url() -> String {
    format!("https://sts.us-west-2.amazonaws.com/?{}", query())
}

fn check(url: &str) -> Result<ParsedToken, TokenError> {
    parse(&token_for(url), at(30), Duration::from_secs(300))
}

fn refused(url: &str) -> String {
    let e = check(url).expect_err("the token should be refused");
    assert_eq!(e.kind, TokenErrorKind::Malformed, "{}", e.message);
    e.message.into_owned()
}

#[test]
fn a_token_as_aws_eks_get_token_makes_it_passes_every_local_check() {
    let t = check(&good_url()).unwrap();
    assert_eq!(t.host(), "sts.us-west-2.amazonaws.com");
    assert_eq!(t.path_and_query(), format!("/?{}", query()));
    assert_eq!(t.expires_at, at(15 * 60));
}

#[test]
fn padding_after_the_base64url_is_tolerated() {
    let token = format!("{}==", token_for(&good_url()));
    assert!(parse(&token, at(0), Duration::ZERO).is_ok());
}

#[test]
fn a_token_over_4096_bytes_is_refused_before_decoding() {
    let long = format!("{}&{}", good_url(), "x".repeat(4096));
    let token = token_for(&long);
    let e = parse(&token, at(0), Duration::ZERO).unwrap_err();
    assert!(e.message.contains("at most 4096 bytes"), "{}", e.message);
}

#[test]
fn a_token_without_the_prefix_or_not_base64url_is_malformed() {
    let e = parse("k8s-aws-v2.abc", at(0), Duration::ZERO).unwrap_err();
    assert!(e.message.contains("k8s-aws-v1."));
    let e = parse("k8s-aws-v1.!!!", at(0), Duration::ZERO).unwrap_err();
    assert!(e.message.contains("base64url"));
}

#[test]
fn plain_http_is_refused() {
    assert!(refused(&good_url().replacen("https", "http", 1)).contains("https"));
}

#[test]
fn a_host_outside_the_sts_allow_list_is_refused() {
    for host in [
        "sts.evil.example",
        "sts.amazonaws.com.evil.example",
        "evil.example",
        "sts.us-west-2.amazonaws.com.evil.example",
        "iam.amazonaws.com",
        "sts.cn-north-1.amazonaws.com",
        "sts.us-west-2.amazonaws.com.cn",
    ] {
        let url = format!("https://{host}/?{}", query());
        assert!(refused(&url).contains("not an STS endpoint"), "{host}");
    }
}

#[test]
fn sts_hosts_of_every_partition_fips_and_dual_stack_are_accepted() {
    for host in [
        "sts.amazonaws.com",
        "sts.us-east-1.amazonaws.com",
        "sts-fips.us-east-2.amazonaws.com",
        "sts.eu-central-1.api.aws",
        "sts.us-gov-west-1.amazonaws.com",
        "sts.cn-north-1.amazonaws.com.cn",
        "sts.ap-southeast-3.amazonaws.com",
    ] {
        assert!(is_sts_host(host), "{host}");
    }
}

#[test]
fn userinfo_before_an_sts_host_is_refused() {
    let url = format!("https://sts.amazonaws.com@evil.example/?{}", query());
    assert!(refused(&url).contains("user information"));
}

#[test]
fn a_port_is_refused() {
    let url = format!("https://sts.amazonaws.com:8443/?{}", query());
    assert!(refused(&url).contains("port"));
}

#[test]
fn a_path_other_than_the_root_is_refused() {
    let url = format!("https://sts.amazonaws.com/x?{}", query());
    assert!(refused(&url).contains("path"));
    let url = format!("https://sts.amazonaws.com?{}", query());
    assert!(refused(&url).contains("path"));
}

#[test]
fn a_fragment_is_refused() {
    assert!(refused(&format!("{}#x", good_url())).contains("fragment"));
}

#[test]
fn query_keys_repeated_in_another_case_are_refused_cve_2022_2385() {
    let url = format!("{}&action=GetCallerIdentity", good_url());
    assert!(refused(&url).contains("more than once"));
    let url = good_url().replace(
        "Action=GetCallerIdentity",
        "Action=AssumeRole&aCtIoN=GetCallerIdentity",
    );
    assert!(refused(&url).contains("more than once"));
}

#[test]
fn a_percent_encoded_key_counts_as_the_key_it_decodes_to() {
    let url = format!("{}&%41ction=GetCallerIdentity", good_url());
    assert!(refused(&url).contains("more than once"));
}

#[test]
fn a_query_key_outside_the_allow_list_is_refused() {
    let url = format!("{}&RoleArn=x", good_url());
    assert!(refused(&url).contains("`RoleArn`"));
}

#[test]
fn an_action_other_than_get_caller_identity_is_refused() {
    let url = good_url().replace("GetCallerIdentity", "AssumeRole");
    assert!(refused(&url).contains("GetCallerIdentity"));
}

#[test]
fn another_api_version_is_refused() {
    let url = good_url().replace("2011-06-15", "2012-01-01");
    assert!(refused(&url).contains("2011-06-15"));
}

#[test]
fn an_unsigned_audience_header_is_refused() {
    let url = good_url().replace("host%3Bx-k8s-aws-id", "host");
    assert!(refused(&url).contains("x-k8s-aws-id"));
}

#[test]
fn an_unsigned_host_is_refused() {
    let url = good_url().replace("host%3Bx-k8s-aws-id", "x-k8s-aws-id");
    assert!(refused(&url).contains("`host`"));
}

#[test]
fn a_scope_for_another_service_is_refused() {
    let url = good_url().replace("%2Fsts%2F", "%2Fiam%2F");
    assert!(refused(&url).contains("sts/aws4_request"));
}

#[test]
fn x_amz_expires_over_900_is_refused() {
    let url = good_url().replace("X-Amz-Expires=60", "X-Amz-Expires=901");
    assert!(refused(&url).contains("up to 900"));
    let url = good_url().replace("X-Amz-Expires=60", "X-Amz-Expires=900");
    assert!(check(&url).is_ok());
    let url = good_url().replace("X-Amz-Expires=60", "X-Amz-Expires=%2B60");
    assert!(refused(&url).contains("X-Amz-Expires"));
}

#[test]
fn a_missing_required_parameter_is_refused() {
    let url = good_url().replace(&format!("&X-Amz-Signature={SIG}"), "");
    assert!(refused(&url).contains("x-amz-signature"));
}

#[test]
fn a_signature_that_is_not_64_hex_digits_is_refused() {
    let url = good_url().replace(SIG, "abc");
    assert!(refused(&url).contains("64 hex"));
}

#[test]
fn a_token_older_than_15_minutes_is_expired_whatever_its_expires() {
    let token = token_for(&good_url());
    assert!(parse(&token, at(15 * 60), Duration::ZERO).is_ok());
    let e = parse(&token, at(15 * 60 + 1), Duration::ZERO).unwrap_err();
    assert_eq!(e.kind, TokenErrorKind::Expired);
    let long = token_for(&good_url().replace("X-Amz-Expires=60", "X-Amz-Expires=900"));
    assert_eq!(
        parse(&long, at(16 * 60), Duration::ZERO).unwrap_err().kind,
        TokenErrorKind::Expired
    );
}

#[test]
fn a_token_dated_beyond_the_clock_skew_is_refused() {
    let token = token_for(&good_url());
    let before = SystemTime::UNIX_EPOCH + Duration::from_secs(SIGNED_AT - 400);
    let e = parse(&token, before, Duration::from_secs(300)).unwrap_err();
    assert!(e.message.contains("clock skew"), "{}", e.message);
    let within = SystemTime::UNIX_EPOCH + Duration::from_secs(SIGNED_AT - 200);
    assert!(parse(&token, within, Duration::from_secs(300)).is_ok());
}

#[test]
fn a_credential_dated_another_day_than_x_amz_date_is_refused() {
    let url = good_url().replace("%2F20240131%2F", "%2F20240130%2F");
    assert!(refused(&url).contains("differ"));
}

#[test]
fn a_bad_percent_escape_is_refused() {
    let url = format!(
        "{}&Version=%zz",
        good_url().replace("&Version=2011-06-15", "")
    );
    assert!(refused(&url).contains("percent-escape"));
}
