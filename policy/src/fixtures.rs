//! Test fixtures shared by the unit tests: build a policy, a request, a context.

use crate::{
    check, decide_single, CompiledPolicy, MapContext, PolicyKind, Principal, Reason, Request,
};

pub(crate) const SERVICE: &str =
    "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0";
pub(crate) const INVOKE: &str = "vpc-lattice-svcs:Invoke";

/// Compiles `text`, failing the test on any error.
#[track_caller]
pub(crate) fn compile(text: &str, kind: Option<PolicyKind>) -> CompiledPolicy {
    let checked = check(text, kind);
    assert!(!checked.has_errors(), "{:#?}", checked.diagnostics);
    checked.compile().expect("compiles")
}

/// An auth policy with one Allow statement for everyone, with `condition`.
pub(crate) fn with_condition(version: &str, condition: &str) -> CompiledPolicy {
    let text = format!(
        r#"{{"Version": "{version}", "Statement": {{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*", "Condition": {condition}}}}}"#
    );
    compile(&text, None)
}

pub(crate) fn ctx(pairs: &[(&str, &str)]) -> MapContext {
    let mut c = MapContext::new();
    for (k, v) in pairs {
        c.insert_one(k, *v);
    }
    c
}

pub(crate) fn anonymous(resource: &str) -> Request<'_> {
    Request {
        principal: Principal::Anonymous,
        action: INVOKE,
        resource,
    }
}

/// Whether the single Allow statement of `policy` matches under `context` (anonymous caller).
pub(crate) fn holds(policy: &CompiledPolicy, context: &MapContext) -> bool {
    let resource = format!("{SERVICE}/x");
    let mut matches = Vec::new();
    decide_single(policy, &anonymous(&resource), context, &mut matches).reason == Reason::Allowed
}

/// `condition` (2012-10-17) evaluated under `context`.
pub(crate) fn cond(condition: &str, context: &MapContext) -> bool {
    holds(&with_condition("2012-10-17", condition), context)
}
