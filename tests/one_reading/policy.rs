//! Service policies that ask Trellis's own decision whether the policy read a request as an
//! upstream did, without trusting Trellis's code to say so: Allow everything, plus, per corpus
//! case, one `Deny` per attribute that matches exactly when the policy's value differs from
//! the upstream's. A resend that is denied names (by `Sid`) the attribute that differed.
//!
//! Each case's statements are scoped to the case by `RequestHeader/x-case` (a marker line the
//! test adds to every request), so one policy serves the whole corpus and is loaded once.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use super::upstreams::View;

const MARKER: &str = "vpc-lattice-svcs:RequestHeader/x-case";
const METHOD: &str = "vpc-lattice-svcs:RequestMethod";
const PATH: &str = "vpc-lattice-svcs:RequestPath";
const NOT_EQUALS: &str = "StringNotEquals";

fn header_key(name: &str) -> String {
    format!("vpc-lattice-svcs:RequestHeader/{name}")
}

fn query_key(name: &str) -> String {
    format!("vpc-lattice-svcs:RequestQueryString/{name}")
}

/// A policy value matching `s` literally: `${` would start a policy variable.
fn literal(s: &str) -> String {
    s.replace("${", "${$}{")
}

fn literals(values: &[String]) -> Value {
    Value::from(values.iter().map(|v| literal(v)).collect::<Vec<_>>())
}

/// One `Deny` statement: matches when the policy's reading of `attribute` differs from the
/// upstream's.
#[derive(Debug, Clone)]
pub struct Check {
    pub sid: String,
    /// `method`, `path`, `host`, `header x-tenant`, `query action`.
    pub attribute: String,
    /// What the upstream read, for the failure message.
    pub upstream_read: String,
    /// `(operator, key, values)`, ANDed.
    conditions: Vec<(&'static str, String, Value)>,
}

/// The header Trellis writes itself; the caller's copy is removed before forwarding.
pub const IDENTITY_HEADER: &str = "x-amzn-lattice-identity";

/// The checks of case `case` against `view`. `query_names`: query keys the request may carry
/// (from its raw target); those the upstream did not read must be absent for the policy too.
pub fn checks(case: usize, view: &View, query_names: &[String]) -> Vec<Check> {
    let mut out = Vec::new();
    let mut add = |sid: String, attribute: &str, read: String, conditions| {
        out.push(Check {
            sid: format!("C{case}{sid}"),
            attribute: attribute.to_owned(),
            upstream_read: read,
            conditions,
        });
    };
    let one = |v: &String| literals(std::slice::from_ref(v));
    add(
        "Method".into(),
        "method",
        format!("{:?}", view.method),
        vec![(NOT_EQUALS, METHOD.into(), one(&view.method))],
    );
    let spellings: Vec<String> = view.policy_paths.iter().map(|p| format!("{p:?}")).collect();
    add(
        "Path".into(),
        "path",
        format!(
            "{:?}, which the policy would hold as {}",
            view.path_read,
            spellings.join(" or ")
        ),
        vec![(NOT_EQUALS, PATH.into(), literals(&view.policy_paths))],
    );
    if view.hosts.is_empty() {
        add(
            "NoHost".into(),
            "host",
            "no host".into(),
            vec![("Null", header_key("host"), json!("false"))],
        );
    }
    for (i, host) in view.hosts.iter().enumerate() {
        add(
            format!("Host{i}"),
            "host",
            format!("{host:?}"),
            vec![(NOT_EQUALS, header_key("host"), one(host))],
        );
    }
    for (i, (name, value)) in view.headers.iter().enumerate() {
        let attribute = format!("header {name}");
        let key = header_key(name);
        match value {
            // The identity header the upstream gets is Trellis's own (checked against the
            // principal below); the policy may lack it, but must not hold another value.
            Some(v) if name == IDENTITY_HEADER => add(
                format!("Header{i}"),
                &attribute,
                format!("{v:?}"),
                vec![
                    ("Null", key.clone(), json!("false")),
                    (NOT_EQUALS, key, one(v)),
                ],
            ),
            Some(v) => add(
                format!("Header{i}"),
                &attribute,
                format!("{v:?}"),
                vec![(NOT_EQUALS, key, one(v))],
            ),
            None => add(
                format!("Header{i}Absent"),
                &attribute,
                "no such header".into(),
                vec![("Null", key, json!("false"))],
            ),
        }
    }
    // Who the upstream believes the caller is must be who the policy decided for.
    let identity = view
        .headers
        .iter()
        .find(|(n, _)| n == IDENTITY_HEADER)
        .and_then(|(_, v)| v.as_deref());
    match identity {
        Some(v) => {
            let principal = v
                .split(';')
                .find_map(|f| f.trim().strip_prefix("Principal="))
                .unwrap_or("")
                .to_owned();
            add(
                "Caller".into(),
                "caller",
                format!(
                    "{principal:?} (aws:PrincipalArn {:?})",
                    principal_arn(&principal)
                ),
                vec![(
                    NOT_EQUALS,
                    "aws:PrincipalArn".into(),
                    json!([principal_arn(&principal)]),
                )],
            );
        }
        None => add(
            "Caller".into(),
            "caller",
            "an anonymous caller (no identity header)".into(),
            vec![(NOT_EQUALS, "aws:PrincipalType".into(), json!(["Anonymous"]))],
        ),
    }
    for (i, (name, values)) in view.query.iter().enumerate() {
        let attribute = format!("query {name}");
        add(
            format!("Query{i}Extra"),
            &attribute,
            format!("{values:?}, and the policy held a value beyond these"),
            vec![(
                "ForAnyValue:StringNotEquals",
                query_key(name),
                literals(values),
            )],
        );
        for (j, v) in values.iter().enumerate() {
            add(
                format!("Query{i}Value{j}"),
                &attribute,
                format!("{values:?}, and the policy lacked {v:?}"),
                vec![("ForAllValues:StringNotEquals", query_key(name), one(v))],
            );
        }
    }
    let read: BTreeSet<String> = view.query.keys().map(|k| k.to_lowercase()).collect();
    let mut absent: BTreeSet<String> = BTreeSet::new();
    for name in query_names {
        let folded = name.to_lowercase();
        if !name.is_empty() && !read.contains(&folded) && absent.insert(folded) {
            add(
                format!("QueryAbsent{}", absent.len() - 1),
                &format!("query {name}"),
                "no such key".into(),
                vec![("Null", query_key(name), json!("false"))],
            );
        }
    }
    out
}

/// `aws:PrincipalArn` for the identity header's `Principal`: the role ARN for an
/// assumed-role session (iam.md), the ARN itself otherwise.
fn principal_arn(principal: &str) -> String {
    let Some(rest) = principal.strip_prefix("arn:aws:sts::") else {
        return principal.to_owned();
    };
    match rest.split_once(":assumed-role/") {
        Some((account, role_session)) => {
            let role = role_session.split('/').next().unwrap_or("");
            format!("arn:aws:iam::{account}:role/{role}")
        }
        None => principal.to_owned(),
    }
}

/// Query keys a request target may carry, in every decoding a reader might apply: as
/// written, percent-decoded, and form-decoded (`+` as a space); pairs split on `&` and `;`.
pub fn query_names(target: &str) -> Vec<String> {
    let Some((_, query)) = target.split_once('?') else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for pair in query.split(['&', ';']) {
        let key = pair.split_once('=').map_or(pair, |(k, _)| k);
        let decoded = percent_decode(key.as_bytes());
        let form = percent_decode(key.replace('+', " ").as_bytes());
        for k in [key.to_owned(), decoded, form] {
            if !out.contains(&k) {
                out.push(k);
            }
        }
    }
    out
}

fn percent_decode(s: &[u8]) -> String {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let hex = |b: Option<&u8>| b.and_then(|b| char::from(*b).to_digit(16));
        if s[i] == b'%' {
            if let (Some(hi), Some(lo)) = (hex(s.get(i + 1)), hex(s.get(i + 2))) {
                out.push(u8::try_from(hi * 16 + lo).unwrap_or(0));
                i += 3;
                continue;
            }
        }
        out.push(s[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The policy document: Allow all callers; a `Deny` that never matches but reads every
/// watched header and every query key of the corpus (so which headers and query keys "a
/// loaded policy reads" does not change between the passes); with `checks`, also a `Deny` for
/// requests without the marker and the checks.
pub fn document(
    watched: &[&str],
    query_keys: &[String],
    checks: Option<&[(usize, Vec<Check>)]>,
) -> String {
    let mut reads = Map::new();
    reads.insert(METHOD.into(), json!("never a method"));
    for name in watched.iter().chain(&["host", "x-case"]) {
        reads.insert(header_key(name), json!("never a value"));
    }
    let mut query_reads = Map::new();
    for name in query_keys {
        query_reads.insert(query_key(name), json!("never a value"));
    }
    let mut statements = vec![
        json!({"Sid": "AllowAll", "Effect": "Allow", "Principal": "*",
               "Action": "vpc-lattice-svcs:Invoke", "Resource": "*"}),
        json!({"Sid": "ReadsWatchedHeaders", "Effect": "Deny", "Principal": "*",
               "Action": "vpc-lattice-svcs:Invoke", "Resource": "*",
               "Condition": {"StringEquals": reads, "ForAnyValue:StringEquals": query_reads}}),
    ];
    if let Some(cases) = checks {
        statements.push(
            json!({"Sid": "NoMarker", "Effect": "Deny", "Principal": "*",
            "Action": "vpc-lattice-svcs:Invoke", "Resource": "*",
            "Condition": {"Null": {MARKER: "true"}}}),
        );
        for (case, list) in cases {
            for c in list {
                let mut condition = Map::new();
                condition.insert("StringEquals".into(), json!({MARKER: case.to_string()}));
                for (op, key, values) in &c.conditions {
                    if let Value::Object(keys) = condition
                        .entry(*op)
                        .or_insert_with(|| Value::Object(Map::new()))
                    {
                        keys.insert(key.clone(), values.clone());
                    }
                }
                statements.push(json!({"Sid": c.sid, "Effect": "Deny", "Principal": "*",
                    "Action": "vpc-lattice-svcs:Invoke", "Resource": "*",
                    "Condition": condition}));
            }
        }
    }
    serde_json::to_string_pretty(&json!({"Version": "2012-10-17", "Statement": statements}))
        .unwrap_or_default()
}
