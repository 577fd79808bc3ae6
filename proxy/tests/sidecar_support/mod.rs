//! The real auth layers over the example policies in a temporary directory, and a signer for
//! requests to the proxy (aws-sigv4, Lattice's unsigned-payload recipe).
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "each test binary uses only part of these shared helpers; a panic is a failed test"
)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::Request;
use trellis::admin::Readiness;
use trellis::auth::{Auth, AuthSettings, IdentityPolicies, Mode};
use trellis::metrics::Metrics;
use trellis::snapshot::{AuthType, SnapshotConfig, SnapshotHandle};
use trellis::stack::{auth_layers, AuthLayers};
use trellis_sigv4::VerifierConfig;

use super::sigv4_support::{sign_request, Mode as SigningMode, Signing};
use super::support::{full, TestBody, NETWORK_ARN, SERVICE_ARN};

pub const CHECKOUT: (&str, &str) = (
    "AKIAEXAMPLECHECKOUT1",
    "checkout/EXAMPLE/secret/key/do/not/use/0001",
);
pub const OPS: (&str, &str) = (
    "AKIAEXAMPLEOPSANA001",
    "ops-ana/EXAMPLE/secret/key/do/not/use/0002",
);
/// A platform user with no identity policy: the auth policies allow, identity does not.
pub const NOPOL: (&str, &str) = ("AKIAEXAMPLENOPOLICY1", "nopolicy/EXAMPLE/secret/0003");
/// A checkout key past its `expires_at`.
pub const EXPIRED: (&str, &str) = ("AKIAEXAMPLEEXPIRED01", "expired/EXAMPLE/secret/0004");
pub const CHECKOUT_SESSION: &str =
    "arn:aws:sts::111122223333:assumed-role/checkout/checkout-task-1";

pub fn example(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/examples")).join(name)
}

/// The example principals plus [`NOPOL`].
pub fn principals_text() -> String {
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(example("principals.json")).unwrap())
            .unwrap();
    v["principals"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "arn": "arn:aws:iam::111122223333:user/no-policy",
            "org_id": "o-a1b2c3d4e5",
            "tags": {"team": "platform"},
            "keys": [{"access_key_id": NOPOL.0, "secret_access_key": NOPOL.1}]
        }));
    v["principals"][0]["keys"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "access_key_id": EXPIRED.0, "secret_access_key": EXPIRED.1,
            "expires_at": "2020-01-01T00:00:00Z"
        }));
    serde_json::to_string_pretty(&v).unwrap()
}

/// A directory with `network.json`, `service.json` and `principals.json`.
pub fn policy_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_files(dir.path());
    dir
}

pub fn write_files(dir: &Path) {
    std::fs::copy(example("network-policy.json"), dir.join("network.json")).unwrap();
    std::fs::copy(example("service-policy.json"), dir.join("service.json")).unwrap();
    std::fs::write(dir.join("principals.json"), principals_text()).unwrap();
}

pub fn snapshot_config(dir: &Path) -> SnapshotConfig {
    SnapshotConfig {
        network_auth: AuthType::AwsIam,
        network_policy: Some(dir.join("network.json")),
        service_auth: AuthType::AwsIam,
        service_policy: Some(dir.join("service.json")),
        principals: Some(dir.join("principals.json")),
    }
}

pub fn settings(mode: Mode) -> AuthSettings {
    AuthSettings {
        verifier: VerifierConfig::new("us-west-2"),
        service_arn: SERVICE_ARN.into(),
        service_network_arn: Some(NETWORK_ARN.into()),
        source_vpc: Some("vpc-0abc".into()),
        source_vpc_owner: Some("111122223333".into()),
        identity_policies: IdentityPolicies::Enforce,
        mode,
        xff: Default::default(),
        sts: None,
        enabled: true,
    }
}

/// Builds the auth slot for `TestProxy::start_with`, keeping the snapshot handle in `out`.
pub fn make_auth(
    config: SnapshotConfig,
    settings: AuthSettings,
    out: &mut Option<SnapshotHandle>,
) -> impl FnOnce(&Arc<Metrics>) -> AuthLayers + '_ {
    move |metrics| {
        let handle =
            SnapshotHandle::load_initial(config, Arc::clone(metrics), Readiness::new()).unwrap();
        let layers = auth_layers(&Auth::new(handle.shared(), settings));
        *out = Some(handle);
        layers
    }
}

/// A request to `url` signed with `key` at `at` (SigV4 in the header, `x-amz-content-sha256:
/// UNSIGNED-PAYLOAD` sent and signed), with `extra` headers signed too.
pub fn signed_at(
    method: &str,
    url: &str,
    key: (&str, &str),
    at: SystemTime,
    extra: &[(&str, &str)],
) -> Request<TestBody> {
    signed_in("us-west-2", method, url, key, at, extra)
}

/// [`signed_at`] with the credential scope in `region`.
pub fn signed_in(
    region: &str,
    method: &str,
    url: &str,
    key: (&str, &str),
    at: SystemTime,
    extra: &[(&str, &str)],
) -> Request<TestBody> {
    let signing = Signing {
        region,
        at,
        ..Signing::header(key)
    };
    with_host(method, url, extra, &signing)
}

/// A presigned GET: the signature in the query (aws-sigv4 `QueryParams`), with
/// `x-amz-content-sha256: UNSIGNED-PAYLOAD` sent and signed.
pub fn presigned(url: &str, key: (&str, &str)) -> Request<TestBody> {
    let signing = Signing {
        mode: SigningMode::Presigned,
        ..Signing::header(key)
    };
    with_host("GET", url, &[], &signing)
}

/// `url` signed with its authority as `host` plus `extra`, as a request the stack takes.
fn with_host(
    method: &str,
    url: &str,
    extra: &[(&str, &str)],
    signing: &Signing<'_>,
) -> Request<TestBody> {
    let uri: http::Uri = url.parse().unwrap();
    let host = uri.authority().unwrap().as_str().to_owned();
    let mut headers: Vec<(&str, &str)> = vec![("host", host.as_str())];
    headers.extend_from_slice(extra);
    let (parts, ()) = sign_request(method, url, &headers, signing).into_parts();
    Request::from_parts(parts, full(""))
}

pub fn signed(method: &str, url: &str, key: (&str, &str)) -> Request<TestBody> {
    signed_at(method, url, key, SystemTime::now(), &[])
}

pub fn minutes_ago(m: u64) -> SystemTime {
    SystemTime::now() - Duration::from_secs(m * 60)
}
