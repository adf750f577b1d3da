//! One line of text as the preprocessor hands it on, with the place in the file each part
//! came from, so that tokens still point at the original `file:line:col`.
//!
//! Text copied from the file keeps its own columns; text an expansion produced (the value of
//! a `$NAME`, the copies of a `~SEQ`) points at the reference that produced it.

/// A 1-based line and column (in characters) of the file being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pos {
    pub line: u32,
    pub column: u32,
}

impl Pos {
    pub(crate) fn new(line: u32, column: u32) -> Self {
        Pos { line, column }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// Copied from the file: the piece's first character is at this place, the next ones
    /// follow it on the same line.
    File(Pos),
    /// Made by an expansion: every character points at the reference.
    Expanded(Pos),
}

#[derive(Debug, Clone, Copy)]
struct Piece {
    /// Byte offset in the text where the piece starts.
    start: usize,
    origin: Origin,
}

/// Text with the origin of each of its pieces. Never without a piece, even when empty.
#[derive(Debug, Clone)]
pub(crate) struct Mapped {
    text: String,
    pieces: Vec<Piece>,
}

impl Mapped {
    /// `text`, every character of which an expansion at `at` produced.
    pub(crate) fn expanded(text: &str, at: Pos) -> Self {
        Mapped {
            text: text.to_string(),
            pieces: vec![Piece {
                start: 0,
                origin: Origin::Expanded(at),
            }],
        }
    }

    /// Empty text that starts at `at` in the file.
    fn empty_at(at: Pos) -> Self {
        Mapped {
            text: String::new(),
            pieces: vec![Piece {
                start: 0,
                origin: Origin::File(at),
            }],
        }
    }

    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    pub(crate) fn len(&self) -> usize {
        self.text.len()
    }

    /// The piece holding byte `off` (the last one starting at or before it).
    fn piece_index(&self, off: usize) -> usize {
        self.pieces
            .partition_point(|p| p.start <= off)
            .saturating_sub(1)
    }

    /// Where byte `off` (a char boundary, or the end) came from.
    pub(crate) fn pos_at(&self, off: usize) -> Pos {
        let i = self.piece_index(off);
        let piece = self.pieces[i];
        match piece.origin {
            Origin::Expanded(at) => at,
            Origin::File(at) => {
                let chars = self
                    .text
                    .get(piece.start..off)
                    .map_or(0, |s| s.chars().count());
                Pos::new(at.line, advance(at.column, chars))
            }
        }
    }

    /// The origin of byte `off`, as the origin of a piece starting there.
    fn origin_at(&self, off: usize) -> Origin {
        let i = self.piece_index(off);
        match self.pieces[i].origin {
            Origin::Expanded(at) => Origin::Expanded(at),
            Origin::File(_) => Origin::File(self.pos_at(off)),
        }
    }

    /// Bytes `start..end` (char boundaries) with their origins.
    pub(crate) fn slice(&self, start: usize, end: usize) -> Mapped {
        let end = end.min(self.text.len());
        let start = start.min(end);
        let mut pieces = vec![Piece {
            start: 0,
            origin: self.origin_at(start),
        }];
        pieces.extend(
            self.pieces
                .iter()
                .filter(|p| p.start > start && p.start < end)
                .map(|p| Piece {
                    start: p.start - start,
                    origin: p.origin,
                }),
        );
        Mapped {
            text: self.text.get(start..end).unwrap_or_default().to_string(),
            pieces,
        }
    }

    /// Appends `other`, keeping its origins.
    fn append(&mut self, other: Mapped) {
        if other.text.is_empty() {
            return;
        }
        let base = self.text.len();
        // Pieces that start at the end are empty: the new ones replace them.
        while self.pieces.len() > 1 && self.pieces.last().is_some_and(|p| p.start >= base) {
            self.pieces.pop();
        }
        if self.text.is_empty() {
            self.pieces.clear();
        }
        self.text.push_str(&other.text);
        self.pieces.extend(other.pieces.into_iter().map(|p| Piece {
            start: p.start + base,
            origin: p.origin,
        }));
    }

    /// Replaces bytes `start..end` (a reference) by `value`, which then points at `at`.
    pub(crate) fn replace(&mut self, start: usize, end: usize, value: &str, at: Pos) {
        let mut out = self.slice(0, start);
        out.append(Mapped::expanded(value, at));
        out.append(self.slice(end, self.text.len()));
        *self = out;
    }

    /// Drops the text from byte `len` on.
    fn truncate(&mut self, len: usize) {
        self.text.truncate(len);
        while self.pieces.len() > 1 && self.pieces.last().is_some_and(|p| p.start >= len) {
            self.pieces.pop();
        }
    }

    /// A cursor for the places of increasing offsets, in time linear in the text.
    pub(crate) fn cursor(&self) -> Cursor<'_> {
        Cursor {
            mapped: self,
            piece: usize::MAX,
            off: 0,
            column: 0,
        }
    }
}

/// `column` moved on by `chars` characters, saturating.
fn advance(column: u32, chars: usize) -> u32 {
    column.saturating_add(u32::try_from(chars).unwrap_or(u32::MAX))
}

/// Places of offsets asked for in increasing order (see [`Mapped::cursor`]).
#[derive(Debug)]
pub(crate) struct Cursor<'m> {
    mapped: &'m Mapped,
    piece: usize,
    off: usize,
    column: u32,
}

impl Cursor<'_> {
    pub(crate) fn pos(&mut self, off: usize) -> Pos {
        let i = self.mapped.piece_index(off);
        let piece = self.mapped.pieces[i];
        let Origin::File(at) = piece.origin else {
            return self.mapped.pos_at(off);
        };
        if i != self.piece || off < self.off {
            self.piece = i;
            self.off = piece.start;
            self.column = at.column;
        }
        let chars = self
            .mapped
            .text
            .get(self.off..off)
            .map_or(0, |s| s.chars().count());
        self.column = advance(self.column, chars);
        self.off = off;
        Pos::new(at.line, self.column)
    }
}

/// Builds the text of a file line one character at a time.
struct Builder {
    mapped: Mapped,
    /// Where the next character continues the last piece.
    next: Option<Pos>,
}

impl Builder {
    fn new(at: Pos) -> Self {
        Builder {
            mapped: Mapped::empty_at(at),
            next: None,
        }
    }

    fn push(&mut self, c: char, at: Pos) {
        if self.next != Some(at) {
            let start = self.mapped.text.len();
            let piece = Piece {
                start,
                origin: Origin::File(at),
            };
            if self.mapped.text.is_empty() {
                self.mapped.pieces = vec![piece];
            } else {
                self.mapped.pieces.push(piece);
            }
        }
        self.mapped.text.push(c);
        self.next = Some(Pos::new(at.line, advance(at.column, 1)));
    }
}

/// Blanks as the lexer knows them (the line end is not one).
pub(crate) fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t' || c == '\r' || c == '\x0b' || c == '\x0c'
}

/// A file line as keepalived reads it (keepalived.conf(5), "Quoted strings", and comments
/// that "can start anywhere in a line"): without its leading and trailing blanks and
/// without its comment (`#` or `!` outside double quotes, to the end of the line); `\#` and
/// `\!` outside quotes are a plain `#` and `!`. A final `\` (a definition continued on the
/// next line) stays. Quotes follow the lexer: `"` opens one anywhere, inside it `\`
/// escapes the next character.
pub(crate) fn decomment(raw: &str, line: u32) -> Mapped {
    let chars: Vec<char> = raw.chars().collect();
    let start = chars.iter().take_while(|c| is_blank(**c)).count();
    let at = |i: usize| Pos::new(line, advance(1, i));
    let mut b = Builder::new(at(start));
    let mut quoted = false;
    let mut i = start;
    while let Some(&c) = chars.get(i) {
        if quoted {
            b.push(c, at(i));
            match c {
                '\\' => {
                    if let Some(&n) = chars.get(i + 1) {
                        b.push(n, at(i + 1));
                        i += 1;
                    }
                }
                '"' => quoted = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        match c {
            '#' | '!' => break,
            '\\' if matches!(chars.get(i + 1), Some('#' | '!')) => {
                b.push(chars[i + 1], at(i + 1));
                i += 2;
                continue;
            }
            '"' => quoted = true,
            _ => {}
        }
        b.push(c, at(i));
        i += 1;
    }
    let mut mapped = b.mapped;
    let kept = mapped.text.trim_end_matches(is_blank).len();
    mapped.truncate(kept);
    mapped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(m: &Mapped) -> Vec<(u32, u32)> {
        let mut cur = m.cursor();
        m.text
            .char_indices()
            .map(|(i, _)| {
                let p = cur.pos(i);
                (p.line, p.column)
            })
            .collect()
    }

    #[test]
    fn decomment_keeps_columns() {
        let m = decomment("  ab # c", 3);
        assert_eq!(m.text(), "ab");
        assert_eq!(cols(&m), [(3, 3), (3, 4)]);
        let m = decomment("a\\#b \"x # y\" ! z  ", 1);
        assert_eq!(m.text(), "a#b \"x # y\"");
        assert_eq!(
            m.pos_at(1),
            Pos::new(1, 3),
            "the # after its removed backslash"
        );
        assert_eq!(m.pos_at(2), Pos::new(1, 4));
        let m = decomment("\t\tval \\", 7);
        assert_eq!(m.text(), "val \\");
        assert_eq!(m.pos_at(0), Pos::new(7, 3));
        assert_eq!(decomment("   ", 1).text(), "");
        assert_eq!(decomment("\"a \\\" # b\" c", 1).text(), "\"a \\\" # b\" c");
    }

    #[test]
    fn replace_points_the_value_at_the_reference() {
        let mut m = decomment("  x ${A} y", 2);
        let at = m.pos_at(2);
        m.replace(2, 6, "long value", at);
        assert_eq!(m.text(), "x long value y");
        assert_eq!(m.pos_at(2), Pos::new(2, 5));
        assert_eq!(m.pos_at(8), Pos::new(2, 5));
        assert_eq!(m.pos_at(13), Pos::new(2, 10), "y stays where it was");
        let mut cur = m.cursor();
        assert_eq!(cur.pos(0), Pos::new(2, 3));
        assert_eq!(cur.pos(13), Pos::new(2, 10));
        let tail = m.slice(13, m.len());
        assert_eq!((tail.text(), tail.pos_at(0)), ("y", Pos::new(2, 10)));
        let mut empty = decomment("$A", 4);
        empty.replace(0, 2, "", Pos::new(4, 1));
        assert_eq!((empty.text(), empty.pos_at(0)), ("", Pos::new(4, 1)));
    }
}
