//! The request headers the policies of a snapshot read, computed once per load: a request
//! carrying one of them on more than one line is refused (see
//! [`crate::request_head::repeated_read_header`]), since servers disagree on which line counts.

use http::HeaderName;
use trellis_policy::{CompiledPolicy, KeyKind};

/// Every header named by a `vpc-lattice-svcs:RequestHeader/<name>` key — in a condition or a
/// policy variable — of `policies`, each once. A name that is not a valid header name can
/// never be on a request and is left out.
pub(crate) fn read_headers<'p>(
    policies: impl IntoIterator<Item = &'p CompiledPolicy>,
) -> Box<[HeaderName]> {
    let mut out: Vec<HeaderName> = Vec::new();
    for policy in policies {
        for key in policy.keys_read() {
            if let KeyKind::RequestHeader(name) = key.kind {
                if let Ok(name) = HeaderName::from_bytes(name.as_bytes()) {
                    if !out.contains(&name) {
                        out.push(name);
                    }
                }
            }
        }
    }
    out.into_boxed_slice()
}

/// Every query key named by a `vpc-lattice-svcs:RequestQueryString/<key>` key of `policies`,
/// lower-cased (policies match query keys case-insensitively), each once: a request carrying one
/// of them in two letter cases is refused (see
/// [`crate::normalize::query_key_in_two_cases`]), since services read `a` and `A` apart.
pub(crate) fn read_query_keys<'p>(
    policies: impl IntoIterator<Item = &'p CompiledPolicy>,
) -> Box<[String]> {
    let mut out: Vec<String> = Vec::new();
    for policy in policies {
        for key in policy.keys_read() {
            if let KeyKind::RequestQueryString(name) = key.kind {
                let name = name.to_ascii_lowercase();
                if !out.contains(&name) {
                    out.push(name);
                }
            }
        }
    }
    out.into_boxed_slice()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(condition: &str) -> CompiledPolicy {
        let text = format!(
            r#"{{"Version": "2012-10-17", "Statement": {{"Effect": "Deny", "Principal": "*",
                "Action": "vpc-lattice-svcs:Invoke", "Resource": "*", "Condition": {condition}}}}}"#
        );
        trellis_policy::check(&text, None).compile().unwrap()
    }

    #[test]
    fn headers_read_by_conditions_and_variables_of_every_policy_are_listed_once() {
        let a = policy(
            r#"{"StringEquals": {"vpc-lattice-svcs:RequestHeader/X-Debug": "true",
                "vpc-lattice-svcs:RequestMethod": "GET"}}"#,
        );
        let b = policy(
            r#"{"StringLike": {"vpc-lattice-svcs:RequestHeader/host": "admin.*",
                "aws:PrincipalTag/tenant": "${vpc-lattice-svcs:RequestHeader/x-tenant}",
                "vpc-lattice-svcs:RequestHeader/x-debug": "t*"}}"#,
        );
        let names = read_headers([&a, &b]);
        let names: Vec<&str> = names.iter().map(HeaderName::as_str).collect();
        assert_eq!(names, ["x-debug", "host", "x-tenant"]);
        assert!(read_headers([]).is_empty());
        let q = policy(
            r#"{"ForAnyValue:StringEquals": {"vpc-lattice-svcs:RequestQueryString/Action": "drop",
                "vpc-lattice-svcs:requestquerystring/action": "x"}}"#,
        );
        assert_eq!(&*read_query_keys([&q, &a]), ["action".to_owned()]);
    }
}
