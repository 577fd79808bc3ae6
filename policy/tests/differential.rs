//! Differential tests: the engine against the naive evaluator of `tests/naive` on random but
//! meaningful policies and requests over a small universe (a few principals, paths over a tiny
//! alphabet, a dozen condition keys), so that random draws collide often enough to match.
//!
//! Explanations (`policy explain`) are held to the same answers: the decision and the matching
//! statements that `explain` reports equal `decide`'s.
//!
//! Also two properties of the evaluation itself: a matching Deny never yields Allow, and the
//! order of statements never changes the decision.

use crate::harness;
use crate::naive;

use harness::{EngineLayer, SERVICE_ARN};
use naive::NaiveLayer;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{json, Map, Value};
use trellis_policy::{Effect, PolicyKind};

const A: &str = "111122223333";
const B: &str = "444455556666";
const SESSION: &str = "arn:aws:sts::111122223333:assumed-role/checkout/task-1";
const SESSION2: &str = "arn:aws:sts::111122223333:assumed-role/checkout/task-2";
const BILLING: &str = "arn:aws:sts::111122223333:assumed-role/billing/task-1";
const ROLE: &str = "arn:aws:iam::111122223333:role/checkout";
const PATH_ROLE: &str = "arn:aws:iam::111122223333:role/team/checkout";
const USER: &str = "arn:aws:iam::111122223333:user/ana";
const ROOT: &str = "arn:aws:iam::111122223333:root";
const B_USER: &str = "arn:aws:iam::444455556666:user/ana";
const B_SESSION: &str = "arn:aws:sts::444455556666:assumed-role/checkout/task-1";

const TEAM: &str = "aws:PrincipalTag/team";
const HEADER: &str = "vpc-lattice-svcs:RequestHeader/x-h";
const QUERY: &str = "vpc-lattice-svcs:RequestQueryString/q";
const PORT: &str = "vpc-lattice-svcs:Port";
const TIME: &str = "aws:CurrentTime";
const SECURE: &str = "aws:SecureTransport";
const SOURCE_IP: &str = "aws:SourceIp";
const PRINCIPAL_ARN: &str = "aws:PrincipalArn";
const BINARY: &str = "vpc-lattice-svcs:RequestHeader/x-bin";

/// One operator family: its operators, the keys it is used with and the policy values.
struct Family {
    ops: &'static [&'static str],
    keys: &'static [&'static str],
    values: &'static [&'static str],
}

const FAMILIES: &[Family] = &[
    Family {
        ops: &[
            "StringEquals",
            "StringNotEquals",
            "StringEqualsIgnoreCase",
            "StringNotEqualsIgnoreCase",
            "StringLike",
            "StringNotLike",
        ],
        keys: &[TEAM, HEADER, QUERY],
        values: &[
            "a",
            "b",
            "ab",
            "A",
            "a*",
            "*",
            "?b",
            "",
            "${aws:PrincipalTag/team}",
            "${aws:PrincipalTag/team, 'b'}",
            "x${*}",
            "a${aws:PrincipalTag/team}",
        ],
    },
    Family {
        ops: &[
            "NumericEquals",
            "NumericNotEquals",
            "NumericLessThan",
            "NumericLessThanEquals",
            "NumericGreaterThan",
            "NumericGreaterThanEquals",
        ],
        keys: &[PORT],
        values: &["80", "443", "443.5", "1000"],
    },
    Family {
        ops: &[
            "DateEquals",
            "DateNotEquals",
            "DateLessThan",
            "DateLessThanEquals",
            "DateGreaterThan",
            "DateGreaterThanEquals",
        ],
        keys: &[TIME],
        values: &[
            "2026-11-23T12:00:00Z",
            "1795435200",
            "2030-01-01",
            "2026-11-23T14:00:00+02:00",
        ],
    },
    Family {
        ops: &["Bool"],
        keys: &[SECURE],
        values: &["true", "false"],
    },
    Family {
        ops: &["IpAddress", "NotIpAddress"],
        keys: &[SOURCE_IP],
        values: &["10.0.0.0/8", "10.1.2.3", "2001:db8::/32", "0.0.0.0/0"],
    },
    Family {
        ops: &["ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"],
        keys: &[PRINCIPAL_ARN],
        values: &[
            "arn:aws:iam::*:role/checkout",
            ROLE,
            "arn:aws:iam::111122223333:*",
            "arn:aws:iam::${aws:PrincipalAccount}:role/*",
            "arn:aws:iam::?11122223333:user/an?",
        ],
    },
    Family {
        ops: &["BinaryEquals"],
        keys: &[BINARY],
        values: &["AAEC", "/w=="],
    },
];

const ALL_KEYS: &[&str] = &[
    TEAM,
    HEADER,
    QUERY,
    PORT,
    TIME,
    SECURE,
    SOURCE_IP,
    PRINCIPAL_ARN,
    BINARY,
];

fn one_or_list(values: Vec<&'static str>) -> Value {
    if values.len() == 1 {
        json!(values[0])
    } else {
        json!(values)
    }
}

/// One `(operator, key, values)` entry drawn from every family, with set prefixes and
/// `IfExists`, or a `Null` test on any key.
fn condition_entry() -> impl Strategy<Value = (String, String, Value)> {
    let typed = (0..FAMILIES.len()).prop_flat_map(|f| {
        let fam = &FAMILIES[f];
        (
            select(fam.ops),
            select(fam.keys),
            prop::collection::vec(select(fam.values), 1..=2),
            select(&["", "", "ForAnyValue:", "ForAllValues:"][..]),
            select(&["", "", "IfExists"][..]),
        )
            .prop_map(|(op, key, values, prefix, suffix)| {
                (
                    format!("{prefix}{op}{suffix}"),
                    key.to_string(),
                    one_or_list(values),
                )
            })
    });
    let null = (select(ALL_KEYS), select(&["true", "false"][..]))
        .prop_map(|(key, v)| ("Null".to_string(), key.to_string(), json!(v)));
    prop_oneof![4 => typed, 1 => null]
}

fn condition() -> impl Strategy<Value = Option<Value>> {
    let count = prop_oneof![2 => Just(0usize), 2 => Just(1usize), 1 => Just(2usize)];
    count
        .prop_flat_map(|n| prop::collection::vec(condition_entry(), n))
        .prop_map(|entries| {
            if entries.is_empty() {
                return None;
            }
            let mut ops = Map::new();
            for (op, key, values) in entries {
                if let Value::Object(keys) = ops.entry(op).or_insert_with(|| json!({})) {
                    keys.insert(key, values);
                }
            }
            Some(Value::Object(ops))
        })
}

fn principal_element() -> impl Strategy<Value = (&'static str, Value)> {
    select(vec![
        ("Principal", json!("*")),
        ("Principal", json!({"AWS": "*"})),
        ("Principal", json!({"AWS": A})),
        ("Principal", json!({"AWS": ROOT})),
        ("Principal", json!({"AWS": ROLE})),
        ("Principal", json!({"AWS": PATH_ROLE})),
        ("Principal", json!({"AWS": SESSION})),
        ("Principal", json!({"AWS": USER})),
        ("Principal", json!({"AWS": B})),
        ("Principal", json!({"AWS": [USER, SESSION2]})),
        ("Principal", json!({"Service": "vpc-lattice.amazonaws.com"})),
        ("NotPrincipal", json!({"AWS": [SESSION, ROLE, A]})),
        ("NotPrincipal", json!({"AWS": [USER, A]})),
        ("NotPrincipal", json!({"AWS": ROLE})),
        ("NotPrincipal", json!({"AWS": A})),
    ])
}

fn action_element() -> impl Strategy<Value = (&'static str, Value)> {
    (
        select(&["Action", "Action", "Action", "NotAction"][..]),
        prop::collection::vec(
            select(
                &[
                    "vpc-lattice-svcs:Invoke",
                    "vpc-lattice-svcs:*",
                    "*",
                    "vpc-lattice-svcs:Connect",
                    "VPC-LATTICE-SVCS:invoke",
                    "vpc-lattice-svcs:Inv?ke",
                    "vpc-lattice-svcs:*oke",
                    "s3:*",
                ][..],
            ),
            1..=2,
        ),
    )
        .prop_map(|(name, values)| (name, one_or_list(values)))
}

/// Resource patterns: the service ARN followed by a glob over a tiny alphabet, plus the
/// documented whole-string forms and variables. Identity policies only get ARNs or `*`.
fn resource_entry(identity: bool) -> BoxedStrategy<String> {
    // Tails biased towards patterns that match some of the generated paths.
    let glob = prop_oneof![
        Just("*".to_string()),
        "[ab/]{0,3}\\*",
        "\\*[ab.]{0,2}",
        "[ab/*?.]{0,5}",
    ]
    .prop_map(|tail| format!("{SERVICE_ARN}/{tail}"));
    let fixed = select(vec![
        "*".to_string(),
        SERVICE_ARN.to_string(),
        format!("{SERVICE_ARN}/${{aws:PrincipalTag/team}}/*"),
        format!("{SERVICE_ARN}/${{aws:PrincipalTag/team, 'b'}}*"),
        "arn:aws:vpc-lattice:*:111122223333:service/svc-*/a*".to_string(),
    ]);
    if identity {
        prop_oneof![3 => glob, 1 => fixed].boxed()
    } else {
        let loose = select(vec!["*/a".to_string(), "*/*".to_string(), "*b".to_string()]);
        prop_oneof![3 => glob, 1 => fixed, 1 => loose].boxed()
    }
}

fn resource_element(identity: bool) -> impl Strategy<Value = (&'static str, Value)> {
    (
        select(&["Resource", "Resource", "Resource", "NotResource"][..]),
        prop::collection::vec(resource_entry(identity), 1..=2),
    )
        .prop_map(|(name, values)| {
            let v = if values.len() == 1 {
                json!(values[0])
            } else {
                json!(values)
            };
            (name, v)
        })
}

fn statement(identity: bool) -> impl Strategy<Value = Value> {
    (
        select(&["Allow", "Deny"][..]),
        principal_element(),
        action_element(),
        resource_element(identity),
        condition(),
    )
        .prop_map(move |(effect, principal, action, resource, condition)| {
            let mut s = Map::new();
            s.insert("Effect".into(), json!(effect));
            if !identity {
                s.insert(principal.0.into(), principal.1);
            }
            s.insert(action.0.into(), action.1);
            s.insert(resource.0.into(), resource.1);
            if let Some(c) = condition {
                s.insert("Condition".into(), c);
            }
            Value::Object(s)
        })
}

fn policy(identity: bool) -> impl Strategy<Value = Value> {
    (
        select(&["2012-10-17", "2012-10-17", "2012-10-17", "2008-10-17"][..]),
        prop::collection::vec(statement(identity), 1..=4),
    )
        .prop_map(|(version, statements)| json!({"Version": version, "Statement": statements}))
}

/// A CONTRACT §5 request over the same universe: signed and anonymous callers, present,
/// missing and multivalued keys.
fn request() -> impl Strategy<Value = Value> {
    let principal = select(vec![
        "anonymous",
        "anonymous",
        SESSION,
        SESSION2,
        BILLING,
        ROLE,
        USER,
        "arn:aws:iam::111122223333:user/bob",
        A,
        B_USER,
        B_SESSION,
    ]);
    let action = select(
        &[
            "vpc-lattice-svcs:Invoke",
            "vpc-lattice-svcs:Invoke",
            "vpc-lattice-svcs:Connect",
            "s3:GetObject",
            "VPC-Lattice-Svcs:INVOKE",
        ][..],
    );
    let path = "(/[ab.]{0,2}){0,3}".prop_map(|p| if p.is_empty() { "/".to_string() } else { p });
    let single = |values: &'static [&'static str]| prop::option::weighted(0.6, select(values));
    let context = (
        single(&["a", "b", "ab", "", "a*", "A"]),
        single(&["a", "b", "ab", "a*b", "*", "", "x*", "aa"]),
        prop::option::weighted(
            0.6,
            prop::collection::vec(select(&["a", "b", "ab", "A"][..]), 1..=3),
        ),
        single(&["80", "443", "999", "1000", "443.0", "x"]),
        single(&[
            "2026-11-23T12:00:00Z",
            "2026-11-23T11:59:59Z",
            "1795435201",
            "2031-01-01T00:00:00Z",
            "soon",
        ]),
        single(&["true", "false"]),
        single(&["10.1.2.3", "11.0.0.1", "2001:db8::1", "::1", "nope"]),
        single(&["AAEC", "AAED", "/w=="]),
    );
    // Sometimes the header arrives as a list (a plain operator never matches it), and
    // sometimes a checkout session names its role with a path in `aws:PrincipalArn`.
    let quirks = (prop::bool::weighted(0.15), prop::bool::weighted(0.3));
    (principal, action, path, context, quirks).prop_map(
        |(
            principal,
            action,
            path,
            (team, header, query, port, time, secure, ip, bin),
            (header_list, role_path),
        )| {
            let mut ctx = Map::new();
            let mut put = |k: &str, v: Option<&str>| {
                if let Some(v) = v {
                    ctx.insert(k.to_string(), json!(v));
                }
            };
            // Principal tags only exist for signed callers.
            if principal != "anonymous" {
                put(TEAM, team);
            }
            if !header_list {
                put(HEADER, header);
            }
            if role_path && (principal == SESSION || principal == SESSION2) {
                put(PRINCIPAL_ARN, Some(PATH_ROLE));
            }
            put(PORT, port);
            put(TIME, time);
            put(SECURE, secure);
            put(SOURCE_IP, ip);
            put(BINARY, bin);
            if let Some(q) = query {
                ctx.insert(QUERY.to_string(), json!(q));
            }
            if let (true, Some(h)) = (header_list, header) {
                ctx.insert(HEADER.to_string(), json!([h]));
            }
            json!({
                "principal": principal,
                "action": action,
                "resource": format!("{SERVICE_ARN}{path}"),
                "context": ctx,
            })
        },
    )
}

fn kind(identity: bool) -> Option<PolicyKind> {
    Some(if identity {
        PolicyKind::Identity
    } else {
        PolicyKind::Auth
    })
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(384))]

    /// `policy eval --policy`: same decision and same matching statements.
    #[test]
    fn single_policy_matches_naive(
        (is_identity, p) in any::<bool>().prop_flat_map(|i| (Just(i), policy(i))),
        declare in any::<bool>(),
        reqs in prop::collection::vec(request(), 4),
    ) {
        // The kind is declared (as `--identity-policy` does) or inferred (`policy check`).
        let declared = if declare { kind(is_identity) } else { None };
        let compiled = harness::compile(&p, declared).map_err(TestCaseError::fail)?;
        for r in &reqs {
            let engine = harness::engine_single(&compiled, r).map_err(TestCaseError::fail)?;
            let naive = harness::naive_single(&p, r).map_err(TestCaseError::fail)?;
            prop_assert_eq!(&engine, &naive, "policy {} request {}", p, r);
        }
    }
}

/// A layer drawn for the layered property: off, AWS_IAM with no policy, or a policy.
#[derive(Debug, Clone)]
enum LayerDraw {
    Off,
    NoPolicy,
    Policies(Vec<Value>),
}

fn layer(identity: bool) -> impl Strategy<Value = LayerDraw> {
    let count = if identity { 1..=2 } else { 1..=1 };
    prop_oneof![
        1 => Just(LayerDraw::Off),
        1 => Just(LayerDraw::NoPolicy),
        4 => (prop::collection::vec(policy(identity), count), any::<bool>()).prop_map(
            move |(mut ps, open)| {
                // Half the time the layer also allows everything it does not deny, so that
                // requests get past it and the later layers decide too.
                if open {
                    let mut all = json!({"Effect": "Allow", "Action": "*", "Resource": "*"});
                    if !identity {
                        all["Principal"] = json!("*");
                    }
                    if let Some(Value::Array(list)) = ps[0].get_mut("Statement") {
                        list.push(all);
                    }
                }
                LayerDraw::Policies(ps)
            }
        ),
    ]
}

fn engine_layer(draw: &LayerDraw, identity: bool) -> Result<EngineLayer, String> {
    Ok(match draw {
        LayerDraw::Off => EngineLayer::Off,
        LayerDraw::NoPolicy => EngineLayer::Policies(Vec::new()),
        LayerDraw::Policies(ps) => EngineLayer::Policies(
            ps.iter()
                .map(|p| harness::compile(p, kind(identity)))
                .collect::<Result<_, _>>()?,
        ),
    })
}

fn naive_layer(draw: &LayerDraw) -> NaiveLayer<'_> {
    match draw {
        LayerDraw::Off => NaiveLayer::Off,
        LayerDraw::NoPolicy => NaiveLayer::Policies(&[]),
        LayerDraw::Policies(ps) => NaiveLayer::Policies(ps),
    }
}

proptest! {
    #![proptest_config(config(192))]

    /// Lattice layering: same decision, reason and reported layer (and, for allowed
    /// requests, the same matching statements in every layer).
    #[test]
    fn layered_matches_naive(
        network in layer(false),
        service in layer(false),
        identity in layer(true),
        reqs in prop::collection::vec(request(), 4),
    ) {
        let e = (
            engine_layer(&network, false).map_err(TestCaseError::fail)?,
            engine_layer(&service, false).map_err(TestCaseError::fail)?,
            engine_layer(&identity, true).map_err(TestCaseError::fail)?,
        );
        for r in &reqs {
            let engine = harness::engine_layers(&e.0, &e.1, &e.2, r).map_err(TestCaseError::fail)?;
            let naive = harness::naive_layers(
                naive_layer(&network),
                naive_layer(&service),
                naive_layer(&identity),
                r,
            )
            .map_err(TestCaseError::fail)?;
            prop_assert_eq!(
                &engine.0, &naive.0,
                "network {:?} service {:?} identity {:?} request {}",
                network, service, identity, r
            );
            // An allowed request was evaluated by every layer, so every match is known.
            if engine.0.reason == "Allowed" {
                prop_assert_eq!(&engine.1, &naive.1, "matches for request {}", r);
            }
        }
    }

    /// A matching Deny never yields Allow: whenever the engine reports a matching Deny the
    /// decision is ExplicitDeny, and adding a Deny that matches everything always denies.
    #[test]
    fn matching_deny_never_yields_allow(p in policy(false), r in request()) {
        let compiled = harness::compile(&p, kind(false)).map_err(TestCaseError::fail)?;
        let req = trellis_policy::eval_request::EvalRequest::parse(&r.to_string())
            .map_err(TestCaseError::fail)?;
        let mut matches = Vec::new();
        let d = trellis_policy::decide_single(&compiled, &req.request(), &req.context, &mut matches);
        if matches.iter().any(|m| matches!(m.effect, Effect::Deny)) {
            prop_assert!(matches!(d.effect, Effect::Deny));
            prop_assert!(matches!(d.reason, trellis_policy::Reason::ExplicitDeny));
        }
        let mut with_deny = p.clone();
        if let Some(Value::Array(list)) = with_deny.get_mut("Statement") {
            list.push(json!({"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"}));
        }
        let compiled = harness::compile(&with_deny, kind(false)).map_err(TestCaseError::fail)?;
        let d = trellis_policy::decide_single(&compiled, &req.request(), &req.context, &mut matches);
        prop_assert!(matches!(d.effect, Effect::Deny));
        prop_assert!(matches!(d.reason, trellis_policy::Reason::ExplicitDeny));
    }

    /// The order of statements never changes the decision, and the same statements match.
    #[test]
    fn statement_order_never_changes_the_decision(
        p in policy(false),
        seed in any::<u64>(),
        reqs in prop::collection::vec(request(), 3),
    ) {
        let statements = p["Statement"].as_array().cloned().unwrap_or_default();
        // A permutation drawn from the seed (Fisher–Yates with a small LCG).
        let mut order: Vec<usize> = (0..statements.len()).collect();
        let mut state = seed;
        for i in (1..order.len()).rev() {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            order.swap(i, (state >> 33) as usize % (i + 1));
        }
        let mut shuffled = p.clone();
        shuffled["Statement"] = Value::Array(order.iter().map(|&i| statements[i].clone()).collect());
        let original = harness::compile(&p, kind(false)).map_err(TestCaseError::fail)?;
        let permuted = harness::compile(&shuffled, kind(false)).map_err(TestCaseError::fail)?;
        for r in &reqs {
            let (a, matched_a) = harness::engine_single(&original, r).map_err(TestCaseError::fail)?;
            let (b, matched_b) = harness::engine_single(&permuted, r).map_err(TestCaseError::fail)?;
            prop_assert_eq!(&a, &b, "policy {} permuted {} request {}", p, shuffled, r);
            let mut mapped: Vec<usize> = matched_b.iter().map(|&j| order[j]).collect();
            mapped.sort_unstable();
            prop_assert_eq!(matched_a, mapped);
        }
    }
}

proptest! {
    #![proptest_config(config(192))]

    /// A service policy alone (network off, anonymous caller or identity off) decides as the
    /// same policy does in `--policy` mode, with the denial reported at the service layer.
    #[test]
    fn service_layer_alone_agrees_with_single_policy(p in policy(false), r in request()) {
        let compiled = harness::compile(&p, kind(false)).map_err(TestCaseError::fail)?;
        let (single, _) = harness::engine_single(&compiled, &r).map_err(TestCaseError::fail)?;
        let service = EngineLayer::Policies(vec![compiled]);
        let (layered, _) = harness::engine_layers(&EngineLayer::Off, &service, &EngineLayer::Off, &r)
            .map_err(TestCaseError::fail)?;
        prop_assert_eq!(&layered.decision, &single.decision);
        prop_assert_eq!(&layered.reason, &single.reason);
        let want_layer = (single.reason != "Allowed").then(|| "service".to_string());
        prop_assert_eq!(layered.layer, want_layer);
    }
}

proptest! {
    #![proptest_config(config(192))]

    /// `policy explain --policy`: explain's decision and matching statements are decide's.
    #[test]
    fn explain_decides_as_decide_single(
        (is_identity, p) in any::<bool>().prop_flat_map(|i| (Just(i), policy(i))),
        reqs in prop::collection::vec(request(), 4),
    ) {
        let compiled = harness::compile(&p, kind(is_identity)).map_err(TestCaseError::fail)?;
        for r in &reqs {
            let decided = harness::engine_single(&compiled, r).map_err(TestCaseError::fail)?;
            let explained = harness::explained_single(&compiled, r).map_err(TestCaseError::fail)?;
            prop_assert_eq!(&explained, &decided, "policy {} request {}", p, r);
        }
    }

    /// `policy explain` with layers: explain's decision, reason and layer are decide's, and it
    /// reports as matching exactly the statements decide collects (every layer is evaluated
    /// by both, whatever the outcome).
    #[test]
    fn explain_decides_as_decide_with_layers(
        network in layer(false),
        service in layer(false),
        identity in layer(true),
        reqs in prop::collection::vec(request(), 4),
    ) {
        let e = (
            engine_layer(&network, false).map_err(TestCaseError::fail)?,
            engine_layer(&service, false).map_err(TestCaseError::fail)?,
            engine_layer(&identity, true).map_err(TestCaseError::fail)?,
        );
        for r in &reqs {
            let decided = harness::engine_layers(&e.0, &e.1, &e.2, r).map_err(TestCaseError::fail)?;
            let explained =
                harness::explained_layers(&e.0, &e.1, &e.2, r).map_err(TestCaseError::fail)?;
            prop_assert_eq!(
                &explained, &decided,
                "network {:?} service {:?} identity {:?} request {}",
                network, service, identity, r
            );
        }
    }
}
