//! The recursive-descent parser behind [`super::parse`]. Errors are (offset, message); the
//! caller turns them into a positioned diagnostic.

use super::{Kind, Member, Value};
use crate::diagnostic::{LineIndex, Span, BOM};

/// Nesting deeper than this is refused, so hostile input cannot exhaust the stack.
const MAX_DEPTH: usize = 128;

pub(super) fn document(text: &str) -> PResult<Value> {
    let mut parser = Parser {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        depth: 0,
    };
    parser.document()
}

pub(super) type PResult<T> = Result<T, (usize, String)>;

struct Parser<'t> {
    text: &'t str,
    bytes: &'t [u8],
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn document(&mut self) -> PResult<Value> {
        // A UTF-8 byte-order mark is how some Windows editors save files; it is not content.
        if self.text.starts_with(BOM) {
            self.pos = BOM.len_utf8();
        }
        self.skip_ws();
        if self.pos >= self.bytes.len() {
            return Err((
                self.pos,
                "the document is empty: expected a JSON object such as `{\"Version\": \"2012-10-17\", \"Statement\": []}`".into(),
            ));
        }
        let value = self.value()?;
        self.skip_ws();
        if self.pos < self.bytes.len() {
            return Err((
                self.pos,
                format!(
                    "unexpected {} after the end of the JSON value: remove it, or wrap several values in an array",
                    self.describe_here()
                ),
            ));
        }
        Ok(value)
    }

    fn skip_ws(&mut self) {
        while let Some(&b) = self.bytes.get(self.pos) {
            if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    fn describe_here(&self) -> String {
        match self.text.get(self.pos..).and_then(|s| s.chars().next()) {
            None => "end of input".into(),
            Some(BOM) => "UTF-8 byte-order mark U+FEFF (invisible): remove it, and save the file as UTF-8 without BOM".into(),
            Some(c) if c.is_control() => format!("control character U+{:04X}", c as u32),
            Some(c) if c.is_whitespace() || matches!(c, '\u{200B}'..='\u{200F}' | '\u{2060}') => {
                format!("invisible character U+{:04X}", c as u32)
            }
            Some(c) => format!("`{c}`"),
        }
    }

    fn value(&mut self) -> PResult<Value> {
        let start = self.pos;
        let kind = match self.bytes.get(self.pos) {
            None => {
                return Err((
                    self.pos,
                    "unexpected end of input: expected a value; the document is cut short".into(),
                ))
            }
            Some(b'{') => self.nested(Self::object)?,
            Some(b'[') => self.nested(Self::array)?,
            Some(b'"') => Kind::String(self.string()?),
            Some(b't') => self.literal("true", Kind::Bool(true))?,
            Some(b'f') => self.literal("false", Kind::Bool(false))?,
            Some(b'n') => self.literal("null", Kind::Null)?,
            Some(b'-' | b'0'..=b'9') => Kind::Number(self.number()?),
            Some(b'\'') => {
                return Err((
                    self.pos,
                    "JSON strings use double quotes: replace `'` with `\"`".into(),
                ))
            }
            Some(_) => {
                return Err((
                    self.pos,
                    format!(
                        "unexpected {}: expected a value (object, array, string, number, true, false or null)",
                        self.describe_here()
                    ),
                ))
            }
        };
        Ok(Value {
            kind,
            span: Span::new(start, self.pos),
        })
    }

    fn nested(&mut self, f: fn(&mut Self) -> PResult<Kind>) -> PResult<Kind> {
        if self.depth >= MAX_DEPTH {
            return Err((
                self.pos,
                format!("nesting deeper than {MAX_DEPTH} levels: a policy never needs this, flatten the document"),
            ));
        }
        self.depth += 1;
        let kind = f(self);
        self.depth -= 1;
        kind
    }

    fn literal(&mut self, word: &str, kind: Kind) -> PResult<Kind> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(kind)
        } else {
            Err((
                self.pos,
                format!(
                    "unexpected {}: expected a value; literals are lower-case `true`, `false`, `null`, and strings need double quotes",
                    self.describe_here()
                ),
            ))
        }
    }

    fn object(&mut self) -> PResult<Kind> {
        let open = self.pos;
        self.pos += 1;
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            return Ok(Kind::Object(Vec::new()));
        }
        // Policy objects have a handful of members: one allocation instead of two or three.
        let mut members = Vec::with_capacity(4);
        loop {
            self.skip_ws();
            let key_start = self.pos;
            match self.bytes.get(self.pos) {
                Some(b'"') => {}
                Some(b'}') => {
                    return Err((
                        self.pos,
                        "trailing comma before `}`: remove the last `,`".into(),
                    ))
                }
                None => return Err(self.unclosed(open, '}')),
                _ => {
                    return Err((
                        self.pos,
                        format!(
                            "unexpected {}: expected a key in double quotes",
                            self.describe_here()
                        ),
                    ))
                }
            }
            let key = self.string()?;
            let key_span = Span::new(key_start, self.pos);
            self.skip_ws();
            match self.bytes.get(self.pos) {
                Some(b':') => self.pos += 1,
                None => return Err(self.unclosed(open, '}')),
                _ => {
                    return Err((
                        self.pos,
                        format!(
                            "unexpected {} after key `{key}`: expected `:`",
                            self.describe_here()
                        ),
                    ))
                }
            }
            self.skip_ws();
            let value = self.value()?;
            members.push(Member {
                key,
                key_span,
                value,
            });
            self.skip_ws();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Kind::Object(members));
                }
                None => return Err(self.unclosed(open, '}')),
                _ => {
                    return Err((
                        self.pos,
                        format!(
                            "unexpected {}: expected `,` or `}}` (is a comma missing?)",
                            self.describe_here()
                        ),
                    ))
                }
            }
        }
    }

    fn array(&mut self) -> PResult<Kind> {
        let open = self.pos;
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&b']') {
            self.pos += 1;
            return Ok(Kind::Array(items));
        }
        loop {
            self.skip_ws();
            match self.bytes.get(self.pos) {
                Some(b']') => {
                    return Err((
                        self.pos,
                        "trailing comma before `]`: remove the last `,`".into(),
                    ))
                }
                None => return Err(self.unclosed(open, ']')),
                _ => {}
            }
            items.push(self.value()?);
            self.skip_ws();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Kind::Array(items));
                }
                None => return Err(self.unclosed(open, ']')),
                _ => {
                    return Err((
                        self.pos,
                        format!(
                            "unexpected {}: expected `,` or `]` (is a comma missing?)",
                            self.describe_here()
                        ),
                    ))
                }
            }
        }
    }

    fn unclosed(&self, open: usize, close: char) -> (usize, String) {
        let (line, column) = LineIndex::new(self.text).position(open);
        (
            self.pos,
            format!("unexpected end of input: the value opened at {line}:{column} is never closed; add `{close}`"),
        )
    }

    fn string(&mut self) -> PResult<String> {
        let open = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let run_start = self.pos;
            self.pos += plain_run(self.bytes.get(self.pos..).unwrap_or_default());
            out.push_str(&self.text[run_start..self.pos]);
            match self.bytes.get(self.pos) {
                None => {
                    let (line, column) = LineIndex::new(self.text).position(open);
                    return Err((
                        self.pos,
                        format!("unexpected end of input: the string opened at {line}:{column} is never closed; add `\"`"),
                    ));
                }
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => self.escape(&mut out)?,
                Some(&b) => {
                    return Err((
                        self.pos,
                        format!(
                            "control character U+{b:04X} inside a string: escape it (`\\n`, `\\t`, `\\u{b:04x}`)"
                        ),
                    ))
                }
            }
        }
    }

    fn escape(&mut self, out: &mut String) -> PResult<()> {
        let at = self.pos;
        self.pos += 1;
        let c = match self.bytes.get(self.pos) {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                self.pos += 1;
                let hi = self.hex4(at)?;
                let c = if (0xD800..0xDC00).contains(&hi) {
                    if !self.bytes[self.pos..].starts_with(b"\\u") {
                        return Err((
                            at,
                            format!("lone surrogate `\\u{hi:04x}`: a high surrogate must be followed by a `\\uDC00`-`\\uDFFF` escape"),
                        ));
                    }
                    self.pos += 2;
                    let lo = self.hex4(at)?;
                    if !(0xDC00..0xE000).contains(&lo) {
                        return Err((
                            at,
                            format!("invalid surrogate pair `\\u{hi:04x}\\u{lo:04x}`: the second escape must be in `\\uDC00`-`\\uDFFF`"),
                        ));
                    }
                    char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                } else if (0xDC00..0xE000).contains(&hi) {
                    None
                } else {
                    char::from_u32(hi)
                };
                match c {
                    Some(c) => {
                        out.push(c);
                        return Ok(());
                    }
                    None => {
                        return Err((
                            at,
                            format!("lone surrogate `\\u{hi:04x}`: it is not a character; remove it"),
                        ))
                    }
                }
            }
            _ => {
                return Err((
                    at,
                    format!(
                        "invalid escape `\\{}`: JSON allows only `\\\"`, `\\\\`, `\\/`, `\\b`, `\\f`, `\\n`, `\\r`, `\\t` and `\\uXXXX`",
                        self.text.get(self.pos..).and_then(|s| s.chars().next()).unwrap_or(' ')
                    ),
                ))
            }
        };
        self.pos += 1;
        out.push(c);
        Ok(())
    }

    fn hex4(&mut self, at: usize) -> PResult<u32> {
        let digits = self
            .bytes
            .get(self.pos..self.pos + 4)
            .filter(|d| d.iter().all(u8::is_ascii_hexdigit));
        match digits {
            Some(d) => {
                let mut n = 0u32;
                for &b in d {
                    n = n * 16 + char::from(b).to_digit(16).unwrap_or(0);
                }
                self.pos += 4;
                Ok(n)
            }
            None => Err((
                at,
                "invalid `\\u` escape: it needs exactly four hexadecimal digits".into(),
            )),
        }
    }

    fn number(&mut self) -> PResult<String> {
        let start = self.pos;
        let bad = |p: &Self, what: &str| {
            (
                start,
                format!(
                    "invalid number `{}`: {what}",
                    &p.text[start..p.pos.max(start + 1).min(p.text.len())]
                ),
            )
        };
        if self.bytes.get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        match self.bytes.get(self.pos) {
            Some(b'0') => {
                self.pos += 1;
                if self.bytes.get(self.pos).is_some_and(u8::is_ascii_digit) {
                    return Err(bad(
                        self,
                        "leading zeros are not allowed in JSON; write it as a string if the zeros matter",
                    ));
                }
            }
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(bad(self, "a digit must follow `-`")),
        }
        if self.bytes.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            if !self.bytes.get(self.pos).is_some_and(u8::is_ascii_digit) {
                return Err(bad(self, "a digit must follow the decimal point"));
            }
            self.digits();
        }
        if matches!(self.bytes.get(self.pos), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.bytes.get(self.pos), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if !self.bytes.get(self.pos).is_some_and(u8::is_ascii_digit) {
                return Err(bad(self, "a digit must follow the exponent"));
            }
            self.digits();
        }
        Ok(self.text[start..self.pos].to_owned())
    }

    fn digits(&mut self) {
        while self.bytes.get(self.pos).is_some_and(u8::is_ascii_digit) {
            self.pos += 1;
        }
    }
}

/// Length of the leading run of bytes that need no attention inside a string (anything but
/// `"`, `\\` and control characters), eight bytes at a time: strings are most of a policy.
fn plain_run(bytes: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |w: u64| w.wrapping_sub(ONES) & !w & HIGH;
    let mut at = 0;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        let quote = has_zero(w ^ (ONES * u64::from(b'"')));
        let backslash = has_zero(w ^ (ONES * u64::from(b'\\')));
        // A byte below 0x20 (bytes of 0x80 and above never flag: `!w` clears their high bit).
        let control = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
        if quote | backslash | control != 0 {
            break;
        }
        at += 8;
    }
    at + bytes[at..]
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .unwrap_or(bytes.len() - at)
}

#[cfg(test)]
mod tests {
    use super::plain_run;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn plain_run_agrees_with_a_byte_by_byte_scan(
            bytes in prop::collection::vec(prop::sample::select(vec![b'a', b'"', b'\\', 0x1f, 0x20, 0x00, 0x80, 0xff, 0x21, 0x5b]), 0..40)
        ) {
            let naive = bytes.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20).unwrap_or(bytes.len());
            prop_assert_eq!(plain_run(&bytes), naive);
        }
    }
}
