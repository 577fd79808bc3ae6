//! Policy variables: `${key}`, `${key, 'default'}` and the escapes `${*}` `${?}` `${$}`.

use super::single_value;
use crate::context::Context;
use crate::key::KeyName;

/// One piece of a compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    Lit(Box<str>),
    Star,
    One,
    Var(Var),
}

/// A policy variable: the key whose value is substituted (as literal text) and its default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Var {
    pub(crate) key: KeyName,
    pub(crate) written: Box<str>,
    pub(crate) default: Option<Box<str>>,
}

impl Var {
    /// The substituted text: the key's single value, else the default, else none ("null").
    #[inline]
    pub(crate) fn resolve<'c>(&'c self, ctx: &'c dyn Context) -> Option<&'c str> {
        match ctx.get(&self.key.key()).and_then(single_value) {
            Some(v) => Some(v),
            None => self.default.as_deref(),
        }
    }
}

/// A malformed `${…}`: byte range within the text and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TemplateError {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) message: String,
}

/// Splits `text` into pieces. `wildcards`: whether `*`/`?` are wildcards (false for
/// `StringEquals`); `variables`: whether `${…}` is a variable (Version 2012-10-17 only).
pub(crate) fn parse_template(
    text: &str,
    wildcards: bool,
    variables: bool,
) -> Result<Vec<Piece>, TemplateError> {
    let mut pieces = Vec::new();
    let mut lit = String::new();
    let bytes = text.as_bytes();
    // Literal runs are copied as slices; only `*`, `?` and `${` stop a run.
    let mut run_start = 0;
    let mut at = 0;
    while at < bytes.len() {
        let b = bytes[at];
        let special = (wildcards && (b == b'*' || b == b'?'))
            || (variables && b == b'$' && bytes.get(at + 1) == Some(&b'{'));
        if !special {
            at += 1;
            continue;
        }
        lit.push_str(&text[run_start..at]);
        if b == b'$' {
            let (piece, used) = variable(text, at)?;
            match piece {
                Piece::Lit(s) => lit.push_str(&s),
                other => {
                    flush(&mut lit, &mut pieces);
                    pieces.push(other);
                }
            }
            at += used;
        } else {
            flush(&mut lit, &mut pieces);
            pieces.push(if b == b'*' { Piece::Star } else { Piece::One });
            at += 1;
        }
        run_start = at;
    }
    lit.push_str(&text[run_start..]);
    flush(&mut lit, &mut pieces);
    Ok(pieces)
}

fn flush(lit: &mut String, pieces: &mut Vec<Piece>) {
    if !lit.is_empty() {
        pieces.push(Piece::Lit(std::mem::take(lit).into()));
    }
}

/// Parses the variable starting at `text[at..]` (which starts with `${`).
fn variable(text: &str, at: usize) -> Result<(Piece, usize), TemplateError> {
    let body = &text[at + 2..];
    let err = |start: usize, end: usize, message: String| TemplateError {
        start,
        end,
        message,
    };
    for (escape, lit) in [("*}", "*"), ("?}", "?"), ("$}", "$")] {
        if body.starts_with(escape) {
            return Ok((Piece::Lit(lit.into()), 4));
        }
    }
    let name_len = body.find([',', '}']).ok_or_else(|| {
        err(
            at,
            text.len(),
            format!(
                "variable `{}` has no closing `}}`: write it as `${{key}}`",
                &text[at..]
            ),
        )
    })?;
    let name = &body[..name_len];
    if name.is_empty() {
        return Err(err(
            at,
            at + 3,
            "empty variable `${}`: name a condition key, e.g. `${aws:username}`, or write `${$}` for a literal `$`".into(),
        ));
    }
    if name.contains(char::is_whitespace) {
        return Err(err(
            at,
            at + 2 + name_len,
            format!("variable name `{name}` contains a space: remove it (a default is written `${{key, 'default'}}`)"),
        ));
    }
    if name.contains(['$', '{']) {
        return Err(err(
            at,
            at + 2 + name_len,
            format!("variable `${{{name}` is not closed before the next variable: add `}}`"),
        ));
    }
    let after = &body[name_len..];
    let (default, used) = if after.starts_with('}') {
        (None, 2 + name_len + 1)
    } else {
        let quoted = after.strip_prefix(", '").ok_or_else(|| {
            err(
                at,
                at + 2 + name_len + 1,
                format!("default of variable `{name}` must be written `, 'text'` (comma, one space, single quotes)"),
            )
        })?;
        let close = quoted.find('\'').ok_or_else(|| {
            err(
                at,
                text.len(),
                format!(
                    "default of variable `{name}` has no closing `'`: write `${{{name}, 'text'}}`"
                ),
            )
        })?;
        if !quoted[close + 1..].starts_with('}') {
            return Err(err(
                at,
                text.len(),
                format!("variable `{name}` has no closing `}}` after its default: write `${{{name}, 'text'}}`"),
            ));
        }
        let default = &quoted[..close];
        (Some(default.into()), 2 + name_len + 3 + close + 2)
    };
    Ok((
        Piece::Var(Var {
            key: KeyName::new(name),
            written: name.into(),
            default,
        }),
        used,
    ))
}

/// Splits a pattern without variables at `*` and `?`.
pub(crate) fn split_wildcards(text: &str) -> Vec<Piece> {
    parse_template(text, true, false).unwrap_or_default()
}

/// Joins adjacent literals and collapses runs of `*` (same meaning, fewer steps).
pub(crate) fn merge_literals(pieces: Vec<Piece>) -> Vec<Piece> {
    let mergeable = pieces.windows(2).any(|w| {
        matches!(
            (&w[0], &w[1]),
            (Piece::Lit(_), Piece::Lit(_)) | (Piece::Star, Piece::Star)
        )
    });
    if !mergeable {
        return pieces;
    }
    let mut out: Vec<Piece> = Vec::with_capacity(pieces.len());
    for piece in pieces {
        match (out.last_mut(), piece) {
            (Some(Piece::Lit(prev)), Piece::Lit(s)) => {
                let mut joined = String::from(std::mem::take(prev));
                joined.push_str(&s);
                *prev = joined.into();
            }
            (Some(Piece::Star), Piece::Star) => {}
            (_, piece) => out.push(piece),
        }
    }
    out
}
