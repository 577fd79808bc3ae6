//! Byte offset → (line, column), for messages people read in an editor.

/// The byte-order mark: the JSON reader accepts it at the start of a document only, and it
/// takes no column.
pub(crate) const BOM: char = '\u{FEFF}';

/// Line starts of a text, so positions are found by binary search rather than by rescanning.
///
/// Lines end at `\n` (a `\r` before it belongs to the line end). Columns count characters,
/// not bytes, because that is what editors show.
#[derive(Debug, Clone)]
pub struct LineIndex<'t> {
    text: &'t str,
    starts: Vec<usize>,
}

impl<'t> LineIndex<'t> {
    pub fn new(text: &'t str) -> LineIndex<'t> {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { text, starts }
    }

    /// 1-based line and column of `offset` (clamped to the text).
    pub fn position(&self, offset: usize) -> (u32, u32) {
        let offset = offset.min(self.text.len());
        let line = match self.starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.starts[line];
        // A leading byte-order mark is invisible in editors: it takes no column.
        let start = if line == 0 && self.text.starts_with(BOM) {
            start + BOM.len_utf8().min(offset)
        } else {
            start
        };
        let column = self.text.as_bytes()[start..offset]
            .iter()
            .filter(|&&b| (b & 0xC0) != 0x80)
            .count();
        (to_u32(line + 1), to_u32(column + 1))
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_is_one_based_and_counts_characters() {
        let text = "ab\n\u{e9}\u{e9}x\r\nz";
        let index = LineIndex::new(text);
        assert_eq!(index.position(0), (1, 1));
        assert_eq!(index.position(1), (1, 2));
        assert_eq!(index.position(3), (2, 1));
        // `x` after two two-byte characters is column 3.
        assert_eq!(index.position(7), (2, 3));
        assert_eq!(index.position(text.len() - 1), (3, 1));
        assert_eq!(index.position(text.len() + 10), (3, 2));
    }
}
