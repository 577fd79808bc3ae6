//! One request, one reading (CONTRACT §3), proven through the real binary: for every hostile
//! request of the corpus, either Trellis refuses it before the upstream (a 4xx of its own, the
//! upstream never receives a byte), or the method, path, host, watched headers and query that
//! the upstream acted on are exactly what the policy decided on.
//!
//! Two independent upstreams read each request: Python's wsgiref (as WSGI frameworks see it)
//! and hyper. Pass one sends the request under an allow-all policy and records the upstream's
//! reading. Pass two loads a policy that also denies, per case and per attribute, any request
//! whose policy-side value differs from that reading, and resends the identical bytes: the
//! upstream's 200 proves agreement; a 403 names the differing attribute by statement `Sid`
//! (the access log's `matchedStatements`). Nothing is taken from Trellis's own account of
//! what it parsed: only its decision and the upstream's reading are compared.
//!
//! - One policy serves all cases: each case's statements also require `RequestHeader/x-case`
//!   to be the case's number (a line the test adds first to every request; a `NoMarker` deny
//!   catches a policy that does not see it), so each pass loads one policy.
//! - Both passes' policies read the same headers (a never-matching deny names them all), so a
//!   refusal that depends on which headers a loaded policy reads cannot differ between passes.
//! - A decoding upstream's path (`PATH_INFO`) is compared re-encoded (`upstreams::View`):
//!   `/p1%3Adelete` held by the policy while the framework routes `/p1:delete` is a gap.
//! - Compared are the method, the path, every host value the upstream could act on, the watched
//!   headers (present with the same value, or absent for both), the caller (the identity
//!   header the upstream gets against `aws:PrincipalArn`/`aws:PrincipalType`), and the query
//!   as sets of values per key, including every key the raw target might carry in any decoding.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a panic is a failed test"
)]

mod corpus;
mod hyper_upstream;
mod policy;
mod upstreams;
mod wire;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use sha2::Digest;
use trellis_e2e::net::{copy_example, eventually, free_addr, get, Running};

use policy::Check;
use upstreams::{Upstream, View};
use wire::{send, Wire};

const SERVICE_ARN: &str =
    "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0";

/// How long one run of the corpus against one upstream may take (each exchange is bounded
/// too, see `wire`); requests past it are not sent and count as failures.
const RUN_BUDGET: Duration = Duration::from_secs(120);

/// A `trellis run` in front of one upstream, with a service policy this test rewrites.
struct Sidecar {
    proc: Running,
    /// When requests stop being sent.
    deadline: Instant,
    addr: SocketAddr,
    admin: SocketAddr,
    policy: PathBuf,
    _dir: tempfile::TempDir,
}

impl Sidecar {
    fn start(upstream: SocketAddr, policy_text: &str) -> Sidecar {
        let dir = tempfile::tempdir().unwrap();
        let policy = dir.path().join("service-policy.json");
        std::fs::write(&policy, policy_text).unwrap();
        let principals = dir.path().join("principals.json");
        copy_example("principals.json", &principals);
        let (addr, admin) = (free_addr(), free_addr());
        let (addr_s, admin_s) = (addr.to_string(), admin.to_string());
        let upstream = format!("http://{upstream}");
        let (policy_s, principals_s) = (
            policy.display().to_string(),
            principals.display().to_string(),
        );
        let mut proc = Running::start(&[
            "run",
            "--listen",
            &addr_s,
            "--admin",
            &admin_s,
            "--upstream",
            &upstream,
            "--service-arn",
            SERVICE_ARN,
            "--service-policy",
            &policy_s,
            "--principals",
            &principals_s,
            "--access-log",
            "stdout",
            "--reload-poll",
            "0",
        ]);
        proc.wait_ready(admin);
        Sidecar {
            proc,
            deadline: Instant::now() + RUN_BUDGET,
            addr,
            admin,
            policy,
            _dir: dir,
        }
    }

    /// Replaces the service policy (by rename, as config tools do), forces a reload and waits
    /// until the admin endpoint reports the new file's SHA-256.
    fn load(&self, text: &str) {
        let staged = self.policy.with_extension("staged");
        std::fs::write(&staged, text).unwrap();
        std::fs::rename(&staged, &self.policy).unwrap();
        self.proc.signal("HUP");
        let sha = hex::encode(sha2::Sha256::digest(text.as_bytes()));
        let loaded = eventually(Duration::from_secs(15), || {
            get(self.admin, "/policy").body.contains(&sha).then_some(())
        });
        assert!(
            loaded.is_some(),
            "the generated policy was not loaded; stderr:\n{}\npolicy:\n{text}",
            self.proc.stderr()
        );
    }

    /// Sends `wire` unless the run is out of time.
    fn send(&self, wire: &Wire) -> Result<wire::Reply, String> {
        if Instant::now() > self.deadline {
            return Err(format!("not sent: the run took longer than {RUN_BUDGET:?}"));
        }
        Ok(send(self.addr, wire))
    }

    /// The `Sid`s of case `case`'s checks that matched, from the access log.
    fn matched_checks(&self, case: usize) -> Option<(Vec<String>, serde_json::Value)> {
        let prefix = format!("C{case}");
        eventually(Duration::from_secs(3), || {
            self.proc.stdout().lines().rev().find_map(|line| {
                let entry: serde_json::Value = serde_json::from_str(line).ok()?;
                let sids: Vec<String> = entry["matchedStatements"]
                    .as_str()?
                    .split(',')
                    .filter_map(|m| m.split_once('(')?.1.strip_suffix(')'))
                    .filter(|sid| {
                        sid.strip_prefix(&prefix)
                            .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_uppercase()))
                    })
                    .map(str::to_owned)
                    .collect();
                (!sids.is_empty()).then_some((sids, entry))
            })
        })
    }
}

/// Pass one's result for one request.
#[derive(Debug, Clone)]
enum First {
    /// Forwarded; the upstream read this.
    Read(View),
    /// Answered by Trellis itself without a byte reaching the upstream.
    Refused(String),
    /// Anything else breaks the invariant.
    Failed(String),
}

fn first_pass(sidecar: &Sidecar, upstream: &Upstream, wire: &Wire) -> First {
    let before = upstream.seen();
    let reply = match sidecar.send(wire) {
        Ok(reply) => reply,
        Err(why) => return First::Failed(why),
    };
    let reached = upstream.seen() != before;
    let body = reply.text();
    let first_line = body.lines().next().unwrap_or("").to_owned();
    match (reply.status, reached) {
        (200, true) => match upstream.view(&reply.body) {
            Some(view) => First::Read(view),
            None => First::Failed(format!("200 without the upstream's reading: {body:?}")),
        },
        (403, false) if reply.header("x-amzn-errortype") == Some("AccessDeniedException") => {
            First::Failed(format!("denied under an allow-all policy: {first_line}"))
        }
        (0, false) => First::Refused("connection closed without an answer".to_owned()),
        (status @ 400..=499, false) => First::Refused(format!("{status} {first_line}")),
        (status, true) => First::Failed(format!(
            "reached the upstream, and the caller got {status} {first_line:?}: the upstream received something it could not read as the proxy did"
        )),
        (status, false) => First::Failed(format!("{status} {first_line:?} from the proxy")),
    }
}

/// Pass two's result for one forwarded request.
#[derive(Debug, Clone)]
enum Second {
    Agreed,
    /// Denied by the checks of these attributes; the message says what differed.
    Differed(Vec<String>, String),
    Failed(String),
}

/// One request of pass two: its case number (marker), the bytes and the checks built from
/// the reading of pass one.
struct Resend<'a> {
    case: usize,
    wire: &'a Wire,
    view: &'a View,
    checks: Vec<Check>,
}

fn second_pass(
    sidecar: &Sidecar,
    upstream: &Upstream,
    query_keys: &[String],
    resends: &[Resend<'_>],
) -> Vec<Second> {
    let per_case: Vec<(usize, Vec<Check>)> =
        resends.iter().map(|r| (r.case, r.checks.clone())).collect();
    sidecar.load(&policy::document(
        hyper_upstream::WATCHED,
        query_keys,
        Some(&per_case),
    ));
    resends
        .iter()
        .map(|r| {
            let reply = match sidecar.send(r.wire) {
                Ok(reply) => reply,
                Err(why) => return Second::Failed(why),
            };
            match reply.status {
                200 => match upstream.view(&reply.body) {
                    Some(again) if again == *r.view => Second::Agreed,
                    again => Second::Failed(format!(
                        "the resend was read differently: first {:?}, then {again:?}",
                        r.view
                    )),
                },
                403 if reply.header("x-amzn-errortype") == Some("AccessDeniedException") => {
                    match sidecar.matched_checks(r.case) {
                        Some((sids, entry)) => {
                            let mut attributes = Vec::new();
                            let mut parts = Vec::new();
                            for sid in &sids {
                                let Some(c) = r.checks.iter().find(|c| &c.sid == sid) else {
                                    continue;
                                };
                                if !attributes.contains(&c.attribute) {
                                    attributes.push(c.attribute.clone());
                                }
                                parts.push(format!(
                                    "{} differs (the upstream read: {}; statement {sid})",
                                    c.attribute, c.upstream_read
                                ));
                            }
                            let logged = format!(
                                "[Trellis logged requestMethod={} requestPath={} hostHeader={}]",
                                entry["requestMethod"], entry["requestPath"], entry["hostHeader"]
                            );
                            Second::Differed(attributes, format!("{} {logged}", parts.join("; ")))
                        }
                        None => Second::Failed(format!(
                            "denied by a statement outside the case's checks (`NoMarker`: the policy did not see the `x-case` line): {}",
                            reply.text().trim()
                        )),
                    }
                }
                status => Second::Failed(format!(
                    "forwarded under the allow-all policy but answered {status} {:?} under the checking policy",
                    reply.text().lines().next().unwrap_or("")
                )),
            }
        })
        .collect()
}

/// Runs every case against `upstream`; one result per case: `Ok(how it held)` or
/// `Err(what broke)`.
fn run_corpus(upstream: &Upstream, cases: &[corpus::Case]) -> Vec<Result<String, String>> {
    let mut query_keys: Vec<String> = Vec::new();
    for case in cases {
        for key in policy::query_names(&case.wire.target()) {
            if !query_keys.contains(&key) {
                query_keys.push(key);
            }
        }
    }
    let sidecar = Sidecar::start(
        upstream.addr(),
        &policy::document(hyper_upstream::WATCHED, &query_keys, None),
    );
    let wires: Vec<Wire> = cases
        .iter()
        .enumerate()
        .map(|(i, c)| c.wire.with_marker(&(i + 1).to_string()))
        .collect();
    let firsts: Vec<First> = wires
        .iter()
        .map(|w| first_pass(&sidecar, upstream, w))
        .collect();
    let resends: Vec<Resend<'_>> = firsts
        .iter()
        .enumerate()
        .filter_map(|(i, f)| match f {
            First::Read(view) => Some(Resend {
                case: i + 1,
                wire: &wires[i],
                view,
                checks: policy::checks(i + 1, view, &policy::query_names(&cases[i].wire.target())),
            }),
            _ => None,
        })
        .collect();
    let mut seconds: HashMap<usize, Second> = resends
        .iter()
        .map(|r| r.case)
        .zip(second_pass(&sidecar, upstream, &query_keys, &resends))
        .collect();
    firsts
        .iter()
        .enumerate()
        .map(|(i, f)| match f {
            First::Refused(why) => Ok(format!("refused: {why}")),
            First::Failed(why) => Err(why.clone()),
            First::Read(_) => match seconds.remove(&(i + 1)) {
                Some(Second::Agreed) => Ok("read alike".to_owned()),
                Some(Second::Differed(_, why) | Second::Failed(why)) => Err(why),
                None => Err("forwarded, but not resent".to_owned()),
            },
        })
        .collect()
}

#[test]
fn every_hostile_request_is_refused_or_read_by_the_upstream_as_the_policy_read_it() {
    let cases = corpus::corpus();
    let upstreams = [Upstream::wsgi(), Upstream::hyper()];
    let results: Vec<Vec<Result<String, String>>> = std::thread::scope(|s| {
        let runs: Vec<_> = upstreams
            .iter()
            .map(|u| s.spawn(|| run_corpus(u, &cases)))
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    let mut table = String::new();
    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        table.push_str(&format!("{:<34}", case.name));
        for (u, upstream) in upstreams.iter().enumerate() {
            match &results[u][i] {
                Ok(how) => table.push_str(&format!(" | {}: {how}", upstream.name())),
                Err(why) => {
                    table.push_str(&format!(" | {}: FAILED", upstream.name()));
                    failures.push(format!(
                        "case `{}` via {}: {why}\n    request: {}",
                        case.name,
                        upstream.name(),
                        case.wire.show()
                    ));
                }
            }
        }
        table.push('\n');
    }
    eprintln!("{table}");
    assert!(
        failures.is_empty(),
        "{} of {} case/upstream pairs break \"refused before the upstream, or read as the policy read it\":\n{}",
        failures.len(),
        cases.len() * upstreams.len(),
        failures.join("\n")
    );
}

#[test]
fn the_comparison_denies_a_request_whose_upstream_reading_was_altered() {
    let upstream = Upstream::hyper();
    let sidecar = Sidecar::start(
        upstream.addr(),
        &policy::document(hyper_upstream::WATCHED, &[], None),
    );
    let base = corpus::corpus()
        .into_iter()
        .find(|c| c.name == "plain")
        .unwrap()
        .wire;
    let target = base.target();
    let First::Read(read) = first_pass(&sidecar, &upstream, &base.with_marker("1")) else {
        panic!("the plain request was not forwarded");
    };
    let tenant = read
        .headers
        .iter()
        .position(|(n, _)| n == "x-tenant")
        .unwrap();
    // (attribute expected to differ, the altered reading); the first is left as read.
    type Alter = fn(&mut View);
    let alterations: [(&str, Alter); 10] = [
        ("", |_| {}),
        ("method", |v| v.method = "POST".into()),
        ("path", |v| v.policy_paths = vec!["/orders/8".into()]),
        ("host", |v| v.hosts = vec!["admin.example.com".into()]),
        ("host", |v| v.hosts.clear()),
        ("header x-tenant", |v| {
            let i = v.headers.iter().position(|(n, _)| n == "x-tenant").unwrap();
            v.headers[i].1 = Some("admin".into());
        }),
        ("header x-tenant", |v| {
            let i = v.headers.iter().position(|(n, _)| n == "x-tenant").unwrap();
            v.headers[i].1 = None;
        }),
        ("caller", |v| {
            let i = v
                .headers
                .iter()
                .position(|(n, _)| n == "x-amzn-lattice-identity")
                .unwrap();
            v.headers[i].1 = Some("Principal=arn:aws:iam::111122223333:role/admin".into());
        }),
        ("query x", |v| {
            v.query.get_mut("x").unwrap().push("2".into())
        }),
        ("query x", |v| {
            v.query.remove("x");
        }),
    ];
    assert_eq!(read.headers[tenant].1.as_deref(), Some("public"));
    let views: Vec<View> = alterations
        .iter()
        .map(|(_, alter)| {
            let mut v = read.clone();
            alter(&mut v);
            v
        })
        .collect();
    let wires: Vec<Wire> = (1..=views.len())
        .map(|case| base.with_marker(&case.to_string()))
        .collect();
    let resends: Vec<Resend<'_>> = views
        .iter()
        .enumerate()
        .map(|(i, view)| Resend {
            case: i + 1,
            wire: &wires[i],
            view,
            checks: policy::checks(i + 1, view, &policy::query_names(&target)),
        })
        .collect();
    let seconds = second_pass(&sidecar, &upstream, &[], &resends);
    for ((expected, _), second) in alterations.iter().zip(&seconds) {
        match second {
            Second::Agreed => assert!(expected.is_empty(), "not denied: {expected}"),
            Second::Differed(attributes, why) => {
                assert_eq!(attributes, &vec![(*expected).to_owned()], "{why}");
            }
            Second::Failed(why) => panic!("{expected}: {why}"),
        }
    }
}
