//! Wildcard patterns (`*`, `?`) and policy-variable templates, compiled once and matched
//! without allocating.
//!
//! One matcher serves `Action` (case-folded), `Resource`, `String*` condition values and each
//! part of an ARN. Common shapes get a fast path (`Exact`, `Prefix`, `Suffix`, `Contains`,
//! `Any`); the rest use a linear-time glob that backtracks only to the last `*`.

mod template;

pub(crate) use template::{parse_template, Piece};

use crate::context::{Context, Values};

/// Where a fast-path matcher's literal sits among the pieces, and how to wrap it.
type Shape = (usize, fn(Box<str>) -> Matcher);

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Matcher {
    Any,
    Exact(Box<str>),
    Prefix(Box<str>),
    Suffix(Box<str>),
    Contains(Box<str>),
    /// General glob, or any pattern with variables (resolved from the context while matching).
    Glob(Box<[Piece]>),
}

impl Matcher {
    /// Builds the cheapest matcher for `pieces`. `fold` patterns must be lower-cased already
    /// and only get the byte-wise fast paths when ASCII.
    pub(crate) fn new(pieces: Vec<Piece>, fold: bool) -> Matcher {
        let pieces = template::merge_literals(pieces);
        let has_var = pieces.iter().any(|p| matches!(p, Piece::Var(_)));
        let ascii = pieces.iter().all(|p| match p {
            Piece::Lit(s) => s.is_ascii(),
            _ => true,
        });
        if has_var || (fold && !ascii) {
            return Matcher::Glob(pieces.into());
        }
        // Classify by shape, then move the literal out (no copy).
        let shape: Option<Shape> = match pieces.as_slice() {
            [] => return Matcher::Exact("".into()),
            [Piece::Star] => return Matcher::Any,
            [Piece::Lit(_)] => Some((0, Matcher::Exact)),
            [Piece::Lit(_), Piece::Star] => Some((0, Matcher::Prefix)),
            [Piece::Star, Piece::Lit(_)] => Some((1, Matcher::Suffix)),
            [Piece::Star, Piece::Lit(_), Piece::Star] => Some((1, Matcher::Contains)),
            _ => None,
        };
        match shape {
            Some((at, make)) => match pieces.into_iter().nth(at) {
                Some(Piece::Lit(s)) => make(s),
                _ => Matcher::Any,
            },
            None => Matcher::Glob(pieces.into()),
        }
    }

    /// Compiles a pattern without variables: `*` and `?` are wildcards.
    pub(crate) fn glob(text: &str, fold: bool) -> Matcher {
        let text = if fold {
            text.to_lowercase()
        } else {
            text.to_owned()
        };
        let pieces = template::split_wildcards(&text);
        Matcher::new(pieces, fold)
    }

    /// The text every matching value starts with (for indexing).
    pub(crate) fn literal_prefix(&self) -> &str {
        match self {
            Matcher::Exact(s) | Matcher::Prefix(s) => s,
            Matcher::Glob(pieces) => match pieces.first() {
                Some(Piece::Lit(s)) => s,
                _ => "",
            },
            _ => "",
        }
    }

    /// Whether `value` matches. A variable without a value and without a default makes the
    /// pattern match nothing (IAM: "null" equals no value).
    #[inline]
    pub(crate) fn matches(&self, value: &str, fold: bool, ctx: &dyn Context) -> bool {
        match self {
            Matcher::Any => true,
            Matcher::Exact(s) => {
                if fold {
                    eq_fold(s, value)
                } else {
                    **s == *value
                }
            }
            Matcher::Prefix(s) => {
                if fold {
                    value.len() >= s.len()
                        && value.as_bytes()[..s.len()].eq_ignore_ascii_case(s.as_bytes())
                } else {
                    value.starts_with(&**s)
                }
            }
            Matcher::Suffix(s) => {
                if fold {
                    value.len() >= s.len()
                        && value.as_bytes()[value.len() - s.len()..]
                            .eq_ignore_ascii_case(s.as_bytes())
                } else {
                    value.ends_with(&**s)
                }
            }
            Matcher::Contains(s) => {
                if fold {
                    value
                        .as_bytes()
                        .windows(s.len().max(1))
                        .any(|w| w.eq_ignore_ascii_case(s.as_bytes()))
                        || s.is_empty()
                } else {
                    value.contains(&**s)
                }
            }
            Matcher::Glob(pieces) => {
                let resolved = pieces.iter().all(|p| match p {
                    Piece::Var(v) => v.resolve(ctx).is_some(),
                    _ => true,
                });
                resolved && glob(pieces, value, fold, ctx)
            }
        }
    }
}

/// Exact comparison ignoring case (ASCII fast, Unicode lower-casing otherwise).
pub(crate) fn eq_fold(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

#[inline]
fn chars_eq(a: char, b: char, fold: bool) -> bool {
    a == b || (fold && a.to_lowercase().eq(b.to_lowercase()))
}

#[inline]
fn next_char(s: &str, at: usize) -> Option<char> {
    s.get(at..).and_then(|rest| rest.chars().next())
}

enum Unit<'a> {
    Text(&'a str),
    Star,
    One,
}

fn unit<'a>(piece: &'a Piece, ctx: &'a dyn Context) -> Unit<'a> {
    match piece {
        Piece::Lit(s) => Unit::Text(s),
        Piece::Star => Unit::Star,
        Piece::One => Unit::One,
        Piece::Var(v) => Unit::Text(v.resolve(ctx).unwrap_or("")),
    }
}

/// Anchored glob over pieces; text from variables is literal. On a mismatch it resumes after
/// the last `*`, one more character swallowed — O(pattern × value) worst case, no recursion.
fn glob(pieces: &[Piece], value: &str, fold: bool, ctx: &dyn Context) -> bool {
    let (mut pi, mut po, mut vi) = (0usize, 0usize, 0usize);
    let mut back: Option<(usize, usize)> = None;
    loop {
        let advanced = if let Some(piece) = pieces.get(pi) {
            match unit(piece, ctx) {
                Unit::Star => {
                    back = Some((pi + 1, vi));
                    pi += 1;
                    po = 0;
                    continue;
                }
                Unit::One => match next_char(value, vi) {
                    Some(c) => {
                        vi += c.len_utf8();
                        pi += 1;
                        continue;
                    }
                    None => false,
                },
                Unit::Text(t) => {
                    if po >= t.len() {
                        pi += 1;
                        po = 0;
                        continue;
                    }
                    match (next_char(t, po), next_char(value, vi)) {
                        (Some(a), Some(b)) if chars_eq(a, b, fold) => {
                            po += a.len_utf8();
                            vi += b.len_utf8();
                            continue;
                        }
                        _ => false,
                    }
                }
            }
        } else {
            vi == value.len()
        };
        if advanced {
            return true;
        }
        match back {
            Some((bpi, bvi)) => match next_char(value, bvi) {
                Some(c) => {
                    let nv = bvi + c.len_utf8();
                    back = Some((bpi, nv));
                    pi = bpi;
                    po = 0;
                    vi = nv;
                }
                None => return false,
            },
            None => return false,
        }
    }
}

/// The value of a single-valued key, for variable substitution (a list of one counts).
pub(crate) fn single_value<'c>(values: Values<'c>) -> Option<&'c str> {
    match values {
        Values::One(s) => Some(s),
        Values::Many(list) if list.len() == 1 => Some(list.get(0)),
        Values::Many(_) => None,
    }
}

#[cfg(test)]
mod tests;
