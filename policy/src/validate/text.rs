//! Rules on the policy text as a whole: size limits and the character set.

use super::Validator;
use crate::diagnostic::Span;
use crate::PolicyKind;

/// Lattice auth policy quota: 10 KB, not adjustable.
const AUTH_MAX_BYTES: usize = 10 * 1024;
/// IAM managed policy limit, whitespace not counted.
const IDENTITY_MAX_CHARS: usize = 6144;

impl Validator<'_> {
    pub(super) fn text_rules(&mut self, span: Span) {
        let Some(text) = self.text.get(span.start..span.end) else {
            return;
        };
        let at = Span::new(span.start, span.start + 1);
        match self.kind {
            PolicyKind::Auth if text.len() > AUTH_MAX_BYTES => self.warning(
                at,
                format!(
                    "the policy is {} bytes; a VPC Lattice auth policy may be at most {AUTH_MAX_BYTES} bytes (10 KB): merge statements or shorten it",
                    text.len()
                ),
            ),
            PolicyKind::Identity => {
                let n = text.chars().filter(|c| !c.is_whitespace()).count();
                if n > IDENTITY_MAX_CHARS {
                    self.warning(
                        at,
                        format!("the policy has {n} characters (whitespace not counted); an IAM managed policy may have at most {IDENTITY_MAX_CHARS}: split it or shorten it"),
                    );
                }
            }
            PolicyKind::Auth => {}
        }
        // Byte scan for the common all-ASCII case; characters are decoded only from the first
        // byte that is not plain ASCII text.
        let from = text
            .bytes()
            .position(|b| !matches!(b, b'\t' | b'\n' | b'\r' | 0x20..=0x7F))
            .unwrap_or(text.len());
        let mut bad = text[from..]
            .char_indices()
            .map(|(i, c)| (from + i, c))
            .filter(|&(_, c)| !matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{FF}'));
        if let Some((first, c)) = bad.next() {
            let more = bad.count();
            let start = span.start + first;
            let also = if more > 0 {
                format!(" ({more} more after it)")
            } else {
                String::new()
            };
            self.warning(
                Span::new(start, start + c.len_utf8()),
                format!(
                    "character U+{:04X} is outside what IAM accepts (tab, LF, CR and U+0020–U+00FF){also}: AWS would reject the policy; remove or replace it",
                    c as u32
                ),
            );
        }
    }
}
