//! Wildcards (iam.md §2) and policy variables (§7), straight from the definitions.

use super::{CtxVal, NaiveRequest};

/// One element of a pattern after variable substitution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tok {
    /// `*`: any run of characters, the empty run included.
    Star,
    /// `?`: exactly one character.
    One,
    /// Anything else, compared literally (a substituted value is always literal).
    Lit(char),
}

/// Whether `pattern` matches the whole of `text`: recursive backtracking on the definition.
pub fn glob(pattern: &[Tok], text: &[char]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((Tok::Star, rest)) => (0..=text.len()).any(|i| glob(rest, &text[i..])),
        Some((Tok::One, rest)) => !text.is_empty() && glob(rest, &text[1..]),
        Some((Tok::Lit(c), rest)) => text.first() == Some(c) && glob(rest, &text[1..]),
    }
}

pub fn matches(pattern: &[Tok], text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    glob(pattern, &chars)
}

/// Actions: `*` and `?` are wildcards, and the comparison ignores case (iam.md §3).
pub fn action_matches(pattern: &str, action: &str) -> bool {
    let tokens: Vec<Tok> = pattern
        .to_lowercase()
        .chars()
        .map(|c| match c {
            '*' => Tok::Star,
            '?' => Tok::One,
            c => Tok::Lit(c),
        })
        .collect();
    matches(&tokens, &action.to_lowercase())
}

/// Turns a policy string into tokens: `${…}` variables substituted when `vars` (Version
/// 2012-10-17), `*`/`?` wildcards when `wildcards`. `None` when a variable has no value and no
/// default: such an entry matches nothing (iam.md §7, "Policy variables with no value").
pub fn expand(text: &str, req: &NaiveRequest, vars: bool, wildcards: bool) -> Option<Vec<Tok>> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if vars && c == '$' && chars.get(i + 1) == Some(&'{') {
            let close = chars[i + 2..].iter().position(|&c| c == '}')? + i + 2;
            let inner: String = chars[i + 2..close].iter().collect();
            match inner.as_str() {
                "*" => out.push(Tok::Lit('*')),
                "?" => out.push(Tok::Lit('?')),
                "$" => out.push(Tok::Lit('$')),
                _ => {
                    let (key, default) = match inner.split_once(", '") {
                        Some((k, d)) => (k, Some(d.strip_suffix('\'')?)),
                        None => (inner.as_str(), None),
                    };
                    let value = match req.get(key) {
                        Some(CtxVal::One(v)) => v.clone(),
                        Some(CtxVal::Many(_)) | None => default?.to_string(),
                    };
                    out.extend(value.chars().map(Tok::Lit));
                }
            }
            i = close + 1;
            continue;
        }
        out.push(match c {
            '*' if wildcards => Tok::Star,
            '?' if wildcards => Tok::One,
            c => Tok::Lit(c),
        });
        i += 1;
    }
    Some(out)
}

/// The literal text of tokens produced with `wildcards == false`.
pub fn literal(tokens: &[Tok]) -> String {
    tokens
        .iter()
        .map(|t| match t {
            Tok::Star => '*',
            Tok::One => '?',
            Tok::Lit(c) => *c,
        })
        .collect()
}
