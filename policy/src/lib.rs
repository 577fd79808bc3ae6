//! The AWS IAM policy language as Amazon VPC Lattice evaluates it.
//!
//! Pure: no I/O, no async runtime, no locks.
//!
//! # Pipeline
//!
//! 1. [`json::parse`] — strict RFC 8259 with a byte [`Span`] on every value and key. Duplicate
//!    keys are *kept*, so that validation can reject `{"Effect":"Deny","Effect":"Allow"}`
//!    instead of silently keeping the last one.
//! 2. [`check`] / [`check_value`] — validation. Every diagnostic at once, in text order, with
//!    line and column: errors for what AWS rejects, warnings for what AWS accepts but can never
//!    match or is surely a mistake. The result, [`Checked`], holds the statements already in
//!    compiled form.
//! 3. [`Checked::compile`] — wildcards become `Exact/Prefix/Suffix/Contains/Glob` matchers
//!    (actions case-folded), CIDRs, dates, numbers and base64 are parsed, condition keys are
//!    lower-cased and parsed into [`Key`]/[`KeyKind`], variables are pre-split into literal and
//!    variable pieces, and statements are indexed by action, by principal (hash map on ARN /
//!    account / role-session prefix, plus a wildcard bucket) and by resource literal prefix.
//! 4. [`CompiledPolicy::evaluate`] — total (never fails at request time) and allocation-free:
//!    variables are matched piece by piece without building strings; every matching statement
//!    is collected; then deny > allow > implicit deny.
//! 5. [`decide`] — Lattice layering: an explicit deny in any layer wins (first in the order
//!    network, service, identity); otherwise every layer that is `AWS_IAM` must allow; the
//!    identity layer applies to signed callers only. [`decide_single`] lets one policy decide
//!    (`policy eval --policy`).
//!
//! # Example
//!
//! ```
//! use trellis_policy::{check, decide_single, MapContext, Principal, Reason, Request};
//!
//! let text = r#"{"Version": "2012-10-17", "Statement": {"Sid": "Public",
//!     "Effect": "Allow", "Principal": "*", "Action": "vpc-lattice-svcs:Invoke",
//!     "Resource": "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0/public/*",
//!     "Condition": {"StringEquals": {"vpc-lattice-svcs:RequestMethod": "GET"}}}}"#;
//! let checked = check(text, None); // kind inferred: it has a Principal, so an auth policy
//! assert!(checked.diagnostics.is_empty());
//! let policy = checked.compile().expect("no errors");
//!
//! let mut context = MapContext::new();
//! context.insert_one("vpc-lattice-svcs:RequestMethod", "GET");
//! let request = Request {
//!     principal: Principal::Anonymous,
//!     action: "vpc-lattice-svcs:Invoke",
//!     resource: "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0/public/a",
//! };
//! let mut matches = Vec::new(); // reuse it across requests: then nothing allocates
//! let decision = decide_single(&policy, &request, &context, &mut matches);
//! assert_eq!(decision.reason, Reason::Allowed);
//! assert_eq!(matches[0].sid.as_deref(), Some("Public"));
//! ```
//!
//! # Trellis decisions (where AWS is silent or Trellis is deliberately stricter)
//!
//! - **Stricter than IAM**: a malformed CIDR, number, date or base64 value in a condition is
//!   an *error*, not Access Analyzer's warning — a `Deny` that can never match is a silent
//!   hole. Numbers are exact decimals (`[+-]digits[.digits]`, compared by value without `f64`);
//!   dates are ISO 8601 or epoch seconds compared as instants.
//! - **NotPrincipal**: a caller is spared only if *every level* of its identity is listed (for
//!   a role session: the session ARN, the role and the account; for a user: the user and the
//!   account). Anonymous callers are spared only by `"*"`.
//! - **Plain operator on a multivalued request value** (a list, e.g.
//!   `RequestQueryString/<k>`): the condition is false whatever the operator's polarity, as
//!   iam-simulate does; AWS requires `ForAnyValue:`/`ForAllValues:` and `policy check` warns.
//! - **Principal matching**: an account id (or `…:root`) matches everyone in the account; a
//!   role ARN matches the role and its sessions (`assumed-role/NAME/…`, matched by role name
//!   since session ARNs drop the role path and role names are unique per account); a session
//!   ARN matches that session only.
//! - **Missing variables**: a positive operator's value does not match, a negated operator's
//!   does (negated operators are NOR over values), a `Resource` entry matches nothing.
//!   Substituted text is literal even in `Like` patterns.
//! - `ArnLike`/`ArnEquals` with the value `*` alone matches any ARN; any other value with fewer
//!   than six `:`-separated parts matches nothing (and `policy check` warns).
//! - An empty policy value list never matches a present key, whatever the operator's
//!   polarity (so `ForAllValues` and `…IfExists` with `[]` match only an absent key).
//! - A request value that does not parse for the operator (not a number, date, IP, ARN or
//!   base64) equals no policy value.
//! - [`eval_request`]: a bare role ARN given as the principal is treated as the role acting
//!   through a session (`aws:PrincipalType` = `AssumedRole`), since a role can only act that
//!   way; a session ARN's `aws:PrincipalArn` is `arn:…:iam::ACCT:role/ROLE` (the path is not
//!   in the session ARN; principal matching by role name makes that harmless).

#![forbid(unsafe_code)]
#![deny(clippy::allow_attributes_without_reason)]

mod compile;
mod condition;
mod context;
mod decision;
mod diagnostic;
pub mod eval_request;
pub mod explain;
#[cfg(test)]
mod fixtures;
mod hash;
pub mod json;
mod key;
mod layered;
mod operator;
mod pattern;
mod principal;
mod request;
mod scalar;
mod source;
mod statement;
mod validate;

pub use compile::{CompiledPolicy, StatementInfo};
pub use context::{Context, MapContext, ValueList, Values};
pub use decision::{Decision, Effect, Layer, Matched, Reason};
pub use diagnostic::{Diagnostic, Severity, Span};
pub use hash::{FxHashMap, FxHasher};
pub use key::{GlobalKey, Key, KeyKind};
pub use layered::{decide, decide_single, LayerPolicy, Layers};
pub use request::{Principal, Request};

use statement::Statement;
use std::sync::Arc;

/// Which element rules apply: auth (resource) policies have `Principal`; identity policies
/// must not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    Auth,
    Identity,
}

impl PolicyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyKind::Auth => "auth",
            PolicyKind::Identity => "identity",
        }
    }
}

/// The result of validation: the diagnostics, and the statements ready to compile.
#[derive(Debug, Clone)]
pub struct Checked {
    pub kind: PolicyKind,
    pub diagnostics: Vec<Diagnostic>,
    statements: Option<Arc<[Statement]>>,
}

impl Checked {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// `None` iff [`Checked::has_errors`]. Infallible otherwise.
    pub fn compile(&self) -> Option<CompiledPolicy> {
        if self.has_errors() {
            return None;
        }
        let statements = self.statements.clone()?;
        Some(CompiledPolicy::new(self.kind, statements))
    }
}

/// Parse + validate in one go; all diagnostics at once, errors and warnings, in text order.
/// `kind: None` infers it (any statement with Principal/NotPrincipal → Auth, else Identity).
pub fn check(text: &str, kind: Option<PolicyKind>) -> Checked {
    match json::parse(text) {
        Ok(value) => check_value(&value, text, kind),
        Err(diagnostic) => Checked {
            kind: kind.unwrap_or(PolicyKind::Identity),
            diagnostics: vec![diagnostic],
            statements: None,
        },
    }
}

/// The same for a policy embedded in a larger JSON document (the principals file):
/// positions are relative to `text`, the whole document.
pub fn check_value(value: &json::Value, text: &str, kind: Option<PolicyKind>) -> Checked {
    check_value_for(value, text, kind, None)
}

/// [`check`] for the policy of one service (`policy check --service-arn`): also warns about
/// statements that can never apply to `service_arn`'s requests (a `Resource` of another
/// service, account or region, a documentation placeholder) and about `aws:PrincipalArn`,
/// `aws:PrincipalAccount` and `aws:PrincipalOrgID` values no caller can have.
pub fn check_for_service(text: &str, kind: Option<PolicyKind>, service_arn: &str) -> Checked {
    match json::parse(text) {
        Ok(value) => check_value_for(&value, text, kind, Some(service_arn)),
        Err(diagnostic) => Checked {
            kind: kind.unwrap_or(PolicyKind::Identity),
            diagnostics: vec![diagnostic],
            statements: None,
        },
    }
}

fn check_value_for(
    value: &json::Value,
    text: &str,
    kind: Option<PolicyKind>,
    service_arn: Option<&str>,
) -> Checked {
    let kind = kind.unwrap_or_else(|| validate::infer_kind(value));
    let outcome = validate::validate(value, text, kind, service_arn);
    let has_errors = outcome.diagnostics.iter().any(Diagnostic::is_error);
    Checked {
        kind,
        diagnostics: outcome.diagnostics,
        statements: (!has_errors).then(|| outcome.statements.into()),
    }
}
