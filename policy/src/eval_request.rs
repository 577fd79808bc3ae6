//! CONTRACT §5 request lines, shared by `trellis policy eval` and the conformance runner.

use crate::decision::Effect;
use crate::json::{self, Kind, Value};
use crate::key::Key;
use crate::request::{Principal, Request};
use crate::MapContext;

/// One request line of `trellis policy eval` (CONTRACT §5), parsed and with the
/// principal-derived keys filled in (`aws:PrincipalArn`, `aws:PrincipalAccount`,
/// `aws:PrincipalType`) unless given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalRequest {
    pub name: Option<String>,
    pub expect: Option<Effect>,
    /// As given.
    pub principal: String,
    pub action: String,
    pub resource: String,
    pub context: MapContext,
    caller: Option<Caller>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Caller {
    arn: String,
    principal_arn: String,
    account: String,
}

const FIELDS: &str = "`principal`, `action`, `resource`, `context`, `expect` and `name`";

impl EvalRequest {
    /// Parses one JSON line.
    pub fn parse(line: &str) -> Result<EvalRequest, String> {
        let value = json::parse(line).map_err(|d| {
            format!(
                "the request is not valid JSON at column {}: {}",
                d.column, d.message
            )
        })?;
        EvalRequest::from_value(&value)
    }

    pub fn from_value(v: &Value) -> Result<EvalRequest, String> {
        let Some(members) = v.as_object() else {
            return Err(format!(
                "a request must be a JSON object with {FIELDS}, found {}",
                v.type_name()
            ));
        };
        let mut fields: [Option<&Value>; 6] = [None; 6];
        for (i, m) in members.iter().enumerate() {
            let slot = match m.key.as_str() {
                "principal" => 0,
                "action" => 1,
                "resource" => 2,
                "context" => 3,
                "expect" => 4,
                "name" => 5,
                other => {
                    return Err(format!(
                        "unknown request field `{other}`: a request has only {FIELDS}"
                    ))
                }
            };
            if members[..i].iter().any(|p| p.key == m.key) {
                return Err(format!(
                    "request field `{}` is given twice: keep one",
                    m.key
                ));
            }
            fields[slot] = Some(&m.value);
        }
        let [principal, action, resource, context, expect, name] = fields;
        let required = |v: Option<&Value>, field: &str, example: &str| -> Result<String, String> {
            match v {
                None => Err(format!(
                    "missing `{field}`: add e.g. `\"{field}\": \"{example}\"`"
                )),
                Some(v) => v
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("`{field}` must be a string, found {}", v.type_name())),
            }
        };
        let principal = required(
            principal,
            "principal",
            "arn:aws:sts::111122223333:assumed-role/checkout/task-1",
        )?;
        let action = required(action, "action", "vpc-lattice-svcs:Invoke")?;
        let resource = required(
            resource,
            "resource",
            "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0/orders",
        )?;
        let name = match name {
            None => None,
            Some(v) => Some(
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("`name` must be a string, found {}", v.type_name()))?,
            ),
        };
        let expect = match expect {
            None => None,
            Some(v) => Some(match v.as_str() {
                Some("Allow") => Effect::Allow,
                Some("Deny") => Effect::Deny,
                _ => {
                    return Err(format!(
                        "`expect` must be `\"Allow\"` or `\"Deny\"`, found {}",
                        describe(v)
                    ))
                }
            }),
        };
        let mut ctx = MapContext::new();
        if let Some(context) = context {
            fill_context(&mut ctx, context)?;
        }
        let (caller, kind) = derive(&principal)?;
        if !ctx.contains("aws:PrincipalType") {
            ctx.insert_one("aws:PrincipalType", kind);
        }
        if let Some(c) = &caller {
            if !ctx.contains("aws:PrincipalArn") {
                ctx.insert_one("aws:PrincipalArn", c.principal_arn.clone());
            }
            if !ctx.contains("aws:PrincipalAccount") {
                ctx.insert_one("aws:PrincipalAccount", c.account.clone());
            }
        }
        Ok(EvalRequest {
            name,
            expect,
            principal,
            action,
            resource,
            context: ctx,
            caller,
        })
    }

    /// The request to decide, borrowing from `self`.
    pub fn request(&self) -> Request<'_> {
        let principal = match &self.caller {
            None => Principal::Anonymous,
            Some(c) => Principal::Caller {
                arn: &c.arn,
                principal_arn: &c.principal_arn,
                account: &c.account,
            },
        };
        Request {
            principal,
            action: &self.action,
            resource: &self.resource,
        }
    }
}

fn describe(v: &Value) -> String {
    match &v.kind {
        Kind::String(s) => format!("`{s}`"),
        _ => v.type_name().to_owned(),
    }
}

fn fill_context(ctx: &mut MapContext, context: &Value) -> Result<(), String> {
    let Some(members) = context.as_object() else {
        return Err(format!(
            "`context` must be an object mapping condition keys to a string or a list of strings, found {}",
            context.type_name()
        ));
    };
    for (i, m) in members.iter().enumerate() {
        if members[..i]
            .iter()
            .any(|p| p.key.eq_ignore_ascii_case(&m.key))
        {
            return Err(format!(
                "context key `{}` is given twice (key names are case-insensitive): keep one",
                m.key
            ));
        }
        let scalar = |v: &Value| -> Result<String, String> {
            match &v.kind {
                Kind::String(s) => Ok(s.clone()),
                Kind::Number(n) => Ok(n.clone()),
                Kind::Bool(b) => Ok(b.to_string()),
                _ => Err(format!(
                    "context key `{}` must be a string, number, boolean or a list of them, found {}; omit a key that does not apply",
                    m.key,
                    v.type_name()
                )),
            }
        };
        match &m.value.kind {
            Kind::Array(items) => {
                let values = items.iter().map(scalar).collect::<Result<Vec<_>, _>>()?;
                ctx.insert_many(&m.key, values);
            }
            _ => {
                let value = scalar(&m.value)?;
                let lower = m.key.to_ascii_lowercase();
                if Key::parse(&lower).is_multivalued() {
                    ctx.insert_many(&m.key, [value]);
                } else {
                    ctx.insert_one(&m.key, value);
                }
            }
        }
    }
    Ok(())
}

/// The caller and its `aws:PrincipalType` from the `principal` field.
fn derive(principal: &str) -> Result<(Option<Caller>, &'static str), String> {
    if principal == "anonymous" {
        return Ok((None, "Anonymous"));
    }
    let caller = |arn: String, principal_arn: String, account: &str| Caller {
        arn,
        principal_arn,
        account: account.to_owned(),
    };
    if principal.len() == 12 && principal.bytes().all(|b| b.is_ascii_digit()) {
        let root = format!("arn:aws:iam::{principal}:root");
        return Ok((Some(caller(root.clone(), root, principal)), "Account"));
    }
    let bad = || {
        format!(
            "principal `{principal}` is not `anonymous`, a 12-digit account id, or an IAM user, role or root ARN, an `assumed-role` session ARN or a `federated-user` ARN"
        )
    };
    let [_, partition, service, _, account, resource] =
        crate::scalar::principal_arn_parts(principal).ok_or_else(bad)?;
    let own = || caller(principal.to_owned(), principal.to_owned(), account);
    match (service, resource.split_once('/')) {
        ("iam", None) if resource == "root" => Ok((Some(own()), "Account")),
        ("iam", Some(("user", rest))) if !rest.is_empty() => Ok((Some(own()), "User")),
        // A role acts only through a session, so a bare role ARN is an `AssumedRole` caller.
        ("iam", Some(("role", rest))) if !rest.is_empty() => Ok((Some(own()), "AssumedRole")),
        ("sts", Some(("assumed-role", rest))) => match rest.split_once('/') {
            Some((role, session)) if !role.is_empty() && !session.is_empty() => {
                let role_arn = format!("arn:{partition}:iam::{account}:role/{role}");
                Ok((
                    Some(caller(principal.to_owned(), role_arn, account)),
                    "AssumedRole",
                ))
            }
            _ => Err(bad()),
        },
        ("sts", Some(("federated-user", rest))) if !rest.is_empty() => {
            Ok((Some(own()), "FederatedUser"))
        }
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests;
