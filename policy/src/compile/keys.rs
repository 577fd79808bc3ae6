//! Which condition keys a compiled policy can read: what a caller of the crate needs to know
//! about a policy's inputs without evaluating it (the proxy refuses a request whose header a
//! policy reads when that header is ambiguous).

use crate::condition::PolicyValues;
use crate::key::Key;
use crate::pattern::{Matcher, Piece};
use crate::statement::Statement;

/// Pushes the keys of the variables in `m` to `out`.
fn matcher_keys<'p>(m: &'p Matcher, out: &mut Vec<Key<'p>>) {
    if let Matcher::Glob(pieces) = m {
        for piece in pieces.iter() {
            if let Piece::Var(v) = piece {
                push(v.key.key(), out);
            }
        }
    }
}

fn push<'p>(key: Key<'p>, out: &mut Vec<Key<'p>>) {
    if !out.contains(&key) {
        out.push(key);
    }
}

/// Pushes every key `s` reads: its condition keys and the variables of its action, resource
/// and condition values.
pub(super) fn statement_keys<'p>(s: &'p Statement, out: &mut Vec<Key<'p>>) {
    for m in s.action.items.iter().chain(&s.resource.items) {
        matcher_keys(m, out);
    }
    for c in &s.conditions {
        push(c.key.key(), out);
        match &c.values {
            PolicyValues::Str { matchers, .. } => {
                for m in matchers {
                    matcher_keys(m, out);
                }
            }
            PolicyValues::Arn(patterns) => {
                for parts in patterns.iter().filter_map(|p| p.0.as_deref()) {
                    for m in parts {
                        matcher_keys(m, out);
                    }
                }
            }
            PolicyValues::Num(_)
            | PolicyValues::Date(_)
            | PolicyValues::Bool(_)
            | PolicyValues::Binary(_)
            | PolicyValues::Ip(_)
            | PolicyValues::Null(_) => {}
        }
    }
}
