//! A stream of JSON values (`policy eval` requests): objects on one line or spread over
//! several, several per line, or arrays of them. Values are cut out as soon as their last byte
//! arrives, so a pipe gets one decision per request as it is written, and each value keeps its
//! position in the stream for messages.

use trellis_policy::json::{self, Kind, LineIndex, Value};

/// The text of one top-level value and where it starts (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Chunk {
    pub(crate) line: usize,
    pub(crate) column: usize,
    pub(crate) text: String,
}

/// One request: its JSON value, or why it could not be read; `line` and `column` are where it
/// starts (or, for a syntax error, where the error is).
#[derive(Debug)]
pub(crate) struct Item {
    pub(crate) line: usize,
    pub(crate) column: usize,
    pub(crate) value: Result<Value, String>,
}

/// Cuts a text stream into top-level JSON values by tracking brackets and strings; the values
/// themselves are parsed (strictly) by [`Chunk::items`].
#[derive(Debug)]
pub(crate) struct Splitter {
    pending: String,
    start: (usize, usize),
    /// Position of the next character.
    line: usize,
    column: usize,
    depth: usize,
    in_string: bool,
    escape: bool,
    /// A top-level value that is not an object or array (an error, cut at whitespace).
    scalar: bool,
}

impl Default for Splitter {
    fn default() -> Self {
        Splitter {
            pending: String::new(),
            start: (1, 1),
            line: 1,
            column: 1,
            depth: 0,
            in_string: false,
            escape: false,
            scalar: false,
        }
    }
}

impl Splitter {
    /// Feeds `text` (any piece of the stream); complete values are appended to `out`.
    pub(crate) fn push(&mut self, text: &str, out: &mut Vec<Chunk>) {
        for c in text.chars() {
            self.step(c, out);
            if c == '\n' {
                self.line += 1;
                self.column = 1;
            } else {
                self.column += 1;
            }
        }
    }

    /// The end of the stream: what is left is one (broken) value, or several when a value
    /// was never closed and later lines start new ones (one JSON object per line, one of them
    /// cut short): each is reported on its own.
    pub(crate) fn finish(&mut self, out: &mut Vec<Chunk>) {
        while !self.pending.trim().is_empty() {
            let text = std::mem::take(&mut self.pending);
            let (line, column) = self.start;
            *self = Splitter::default();
            match next_value_line(&text) {
                Some((at, skipped_lines)) => {
                    out.push(Chunk {
                        line,
                        column,
                        text: text[..at].to_owned(),
                    });
                    self.line = line + skipped_lines;
                    self.push(&text[at..], out);
                }
                None => out.push(Chunk { line, column, text }),
            }
        }
        *self = Splitter::default();
    }

    fn step(&mut self, c: char, out: &mut Vec<Chunk>) {
        if self.pending.is_empty() {
            if c.is_whitespace() || c == '\u{FEFF}' {
                return;
            }
            self.start = (self.line, self.column);
            self.pending.push(c);
            match c {
                '{' | '[' => self.depth = 1,
                '"' => {
                    self.scalar = true;
                    self.in_string = true;
                }
                _ => self.scalar = true,
            }
            return;
        }
        if self.scalar && !self.in_string && (c.is_whitespace() || matches!(c, '{' | '[')) {
            self.emit(out);
            if !c.is_whitespace() {
                self.step(c, out);
            }
            return;
        }
        self.pending.push(c);
        if self.in_string {
            if c == '\n' {
                // JSON strings cannot span lines: the value is broken; report it now.
                self.emit(out);
            } else if self.escape {
                self.escape = false;
            } else if c == '\\' {
                self.escape = true;
            } else if c == '"' {
                self.in_string = false;
                if self.scalar {
                    self.emit(out);
                }
            }
            return;
        }
        match c {
            '"' => self.in_string = true,
            '{' | '[' => self.depth += 1,
            '}' | ']' => {
                self.depth = self.depth.saturating_sub(1);
                if self.depth == 0 {
                    self.emit(out);
                }
            }
            _ => {}
        }
    }

    fn emit(&mut self, out: &mut Vec<Chunk>) {
        let text = std::mem::take(&mut self.pending);
        out.push(Chunk {
            line: self.start.0,
            column: self.start.1,
            text,
        });
        self.depth = 0;
        self.in_string = false;
        self.escape = false;
        self.scalar = false;
    }
}

/// The byte offset of the first line after the first that starts (in column 1) with `{` or
/// `[`, and how many lines come before it.
fn next_value_line(text: &str) -> Option<(usize, usize)> {
    let mut offset = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if i > 0 && (line.starts_with('{') || line.starts_with('[')) {
            return Some((offset, i));
        }
        offset += line.len();
    }
    None
}

impl Chunk {
    /// The requests of this value: itself, or each element of an array.
    pub(crate) fn items(&self) -> Vec<Item> {
        match json::parse(&self.text) {
            Err(d) => {
                let (line, column) = self.absolute(d.line as usize, d.column as usize);
                vec![Item {
                    line,
                    column,
                    value: Err(format!("invalid JSON: {}", self.rebase(&d.message))),
                }]
            }
            Ok(Value {
                kind: Kind::Array(elements),
                ..
            }) => {
                let index = LineIndex::new(&self.text);
                elements
                    .into_iter()
                    .map(|value| {
                        let (l, c) = index.position(value.span.start);
                        let (line, column) = self.absolute(l as usize, c as usize);
                        Item {
                            line,
                            column,
                            value: Ok(value),
                        }
                    })
                    .collect()
            }
            Ok(value) => vec![Item {
                line: self.line,
                column: self.column,
                value: Ok(value),
            }],
        }
    }

    /// The parser's message with the position it names (`opened at LINE:COL`) made a
    /// position in the stream.
    fn rebase(&self, message: &str) -> String {
        const MARK: &str = "opened at ";
        let Some(at) = message.find(MARK).map(|i| i + MARK.len()) else {
            return message.to_owned();
        };
        let rest = &message[at..];
        let end = rest
            .find(|c: char| !c.is_ascii_digit() && c != ':')
            .unwrap_or(rest.len());
        let Some((line, column)) = rest[..end].split_once(':') else {
            return message.to_owned();
        };
        let (Ok(line), Ok(column)) = (line.parse(), column.parse()) else {
            return message.to_owned();
        };
        let (line, column) = self.absolute(line, column);
        format!("{}{line}:{column}{}", &message[..at], &rest[end..])
    }

    /// A position within the chunk's text as a position in the stream.
    fn absolute(&self, line: usize, column: usize) -> (usize, usize) {
        if line <= 1 {
            (self.line, self.column + column.saturating_sub(1))
        } else {
            (self.line + line - 1, column)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(pieces: &[&str]) -> Vec<Chunk> {
        let mut splitter = Splitter::default();
        let mut out = Vec::new();
        for p in pieces {
            splitter.push(p, &mut out);
        }
        splitter.finish(&mut out);
        out
    }

    fn at(chunks: &[Chunk]) -> Vec<(usize, usize, &str)> {
        chunks
            .iter()
            .map(|c| (c.line, c.column, c.text.as_str()))
            .collect()
    }

    #[test]
    fn values_spread_over_lines_or_sharing_one_are_cut_where_they_end() {
        let chunks = split(&[
            "{\"a\": 1,\n \"b\": \"}\"}\n",
            "\n  {\"c\": [1, {}]} {\"d\": \"\\\"\"}\n",
        ]);
        assert_eq!(
            at(&chunks),
            vec![
                (1, 1, "{\"a\": 1,\n \"b\": \"}\"}"),
                (4, 3, "{\"c\": [1, {}]}"),
                (4, 18, "{\"d\": \"\\\"\"}"),
            ]
        );
    }

    #[test]
    fn a_value_is_cut_as_soon_as_it_is_complete() {
        let mut splitter = Splitter::default();
        let mut out = Vec::new();
        splitter.push("{\"a\":\n", &mut out);
        assert!(out.is_empty());
        splitter.push("1}\n", &mut out);
        assert_eq!(out.len(), 1, "no need to wait for the end of the stream");
    }

    #[test]
    fn an_unclosed_value_does_not_swallow_the_lines_after_it() {
        let chunks = split(&["{\"a\": 1\n{\"b\": 2}\n{\"c\": 3}\n"]);
        assert_eq!(
            at(&chunks),
            vec![
                (1, 1, "{\"a\": 1\n"),
                (2, 1, "{\"b\": 2}"),
                (3, 1, "{\"c\": 3}")
            ]
        );
        assert!(chunks[0].items()[0].value.is_err());
    }

    #[test]
    fn a_string_broken_by_a_newline_is_reported_at_once() {
        let chunks = split(&["{\"a\": \"x\n{\"b\": 2}\n"]);
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[1].text, "{\"b\": 2}");
    }

    #[test]
    fn arrays_give_one_item_per_element_at_its_position() {
        let chunks = split(&["[\n  {\"a\": 1},\n  {\"b\": 2}\n]\n"]);
        let items = chunks[0].items();
        let positions: Vec<(usize, usize)> = items.iter().map(|i| (i.line, i.column)).collect();
        assert_eq!(positions, vec![(2, 3), (3, 3)]);
    }

    #[test]
    fn an_unclosed_value_names_where_it_opened_in_the_stream() {
        let chunks = split(&["{}\n\n   {\"bad\": 1\n"]);
        let items = chunks[1].items();
        let message = items[0].value.as_ref().unwrap_err();
        assert!(message.contains("opened at 3:4 "), "{message}");
    }

    #[test]
    fn syntax_errors_name_their_line_and_column_in_the_stream() {
        let chunks = split(&["{\"a\": 1}\n  {\"b\": 2,\n   \"c\" 3}\n"]);
        let items = chunks[1].items();
        assert_eq!((items[0].line, items[0].column), (3, 8));
        assert!(items[0]
            .value
            .as_ref()
            .is_err_and(|m| m.starts_with("invalid JSON: ")));
    }
}
