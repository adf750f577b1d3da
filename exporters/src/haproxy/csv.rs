//! HAProxy's statistics CSV (`stats uri ...;csv`, `show stat` on the CLI socket), read by
//! its header's column names, so that an older HAProxy (fewer columns) or a newer one (more,
//! or in another order) reads the same way. Rows are handed out one at a time from a
//! reused buffer: a thousand-server CSV is never held as a table.

use std::borrow::Cow;

/// Why a statistics CSV cannot be read at all (a bad row is skipped and counted instead).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsvError {
    /// The text does not start with HAProxy's header line.
    #[error("not a HAProxy stats CSV: the first line should be \"# pxname,svname,...\", found {found:?}")]
    NoHeader {
        /// The first line (its first 80 characters).
        found: String,
    },
    /// A column every row needs is not in the header.
    #[error("the stats CSV header has no {0:?} column")]
    MissingColumn(&'static str),
}

/// What a row is, from the `type` column (or, without one, from `svname`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyKind {
    /// `type` 0, `svname` FRONTEND.
    Frontend,
    /// `type` 1, `svname` BACKEND.
    Backend,
    /// `type` 2.
    Server,
    /// `type` 3 (a listening socket of a frontend, with `option socket-stats`).
    Listener,
}

/// The header: column names and where each is.
#[derive(Debug, Clone)]
pub struct Header<'a> {
    columns: Vec<&'a str>,
    pxname: usize,
    svname: usize,
    kind: Option<usize>,
}

impl<'a> Header<'a> {
    /// The position of column `name`, if the CSV has it.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| *c == name)
    }

    /// The column names in order.
    pub fn columns(&self) -> &[&'a str] {
        &self.columns
    }
}

/// One row, borrowed from the text where no unquoting was needed.
#[derive(Debug)]
pub struct Row<'r, 'a> {
    fields: &'r [Cow<'a, str>],
    header: &'r Header<'a>,
}

impl<'a> Row<'_, 'a> {
    /// `pxname`: the proxy.
    pub fn proxy(&self) -> &str {
        &self.fields[self.header.pxname]
    }

    /// `svname`: FRONTEND, BACKEND or the server's name.
    pub fn service(&self) -> &str {
        &self.fields[self.header.svname]
    }

    /// What the row describes.
    pub fn kind(&self) -> Option<ProxyKind> {
        match self.header.kind.map(|i| &*self.fields[i]) {
            Some("0") => Some(ProxyKind::Frontend),
            Some("1") => Some(ProxyKind::Backend),
            Some("2") => Some(ProxyKind::Server),
            Some("3") => Some(ProxyKind::Listener),
            Some(_) => None,
            None => Some(match self.service() {
                "FRONTEND" => ProxyKind::Frontend,
                "BACKEND" => ProxyKind::Backend,
                _ => ProxyKind::Server,
            }),
        }
    }

    /// The field at column position `i`; `None` when empty (HAProxy leaves unknown values
    /// empty) or past the end.
    pub fn get(&self, i: usize) -> Option<&str> {
        self.fields.get(i).map(|f| &**f).filter(|f| !f.is_empty())
    }
}

/// What reading the rows found besides the rows themselves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadSummary {
    /// Rows handed to the caller.
    pub rows: usize,
    /// Rows skipped: fewer fields than the header names, or an unterminated quote.
    pub malformed: usize,
}

/// Reads the header of `text`.
pub fn header(text: &str) -> Result<Header<'_>, CsvError> {
    let first = text.lines().next().unwrap_or("");
    let Some(names) = first.strip_prefix('#') else {
        return Err(CsvError::NoHeader {
            found: first.chars().take(80).collect(),
        });
    };
    let columns: Vec<&str> = names
        .trim()
        .trim_end_matches(',')
        .split(',')
        .map(str::trim)
        .collect();
    let find = |name: &'static str| {
        columns
            .iter()
            .position(|c| *c == name)
            .ok_or(CsvError::MissingColumn(name))
    };
    let pxname = find("pxname")?;
    let svname = find("svname")?;
    let kind = columns.iter().position(|c| *c == "type");
    Ok(Header {
        columns,
        pxname,
        svname,
        kind,
    })
}

/// Calls `each` with every row of `text` after its header (see [`header`]); blank lines and
/// further `#` lines are skipped, malformed rows counted.
pub fn for_each_row<'a>(
    text: &'a str,
    header: &Header<'a>,
    mut each: impl FnMut(&Row<'_, 'a>),
) -> ReadSummary {
    let mut summary = ReadSummary::default();
    let mut fields: Vec<Cow<'a, str>> = Vec::with_capacity(header.columns.len() + 1);
    let needed = header
        .pxname
        .max(header.svname)
        .max(header.kind.unwrap_or(0))
        + 1;
    for line in text.lines().skip(1) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        fields.clear();
        if split_fields(line, &mut fields).is_err() || fields.len() < needed {
            summary.malformed += 1;
            continue;
        }
        summary.rows += 1;
        each(&Row {
            fields: &fields,
            header,
        });
    }
    summary
}

/// An unterminated quoted field.
#[derive(Debug)]
struct Unterminated;

/// Splits one CSV line; a field in double quotes may hold commas and `""` for a quote
/// (HAProxy quotes free-text fields such as `check_desc` when they need it).
fn split_fields<'a>(line: &'a str, out: &mut Vec<Cow<'a, str>>) -> Result<(), Unterminated> {
    let mut rest = line;
    loop {
        if let Some(quoted) = rest.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let end = loop {
                match chars.next() {
                    Some((i, '"')) => {
                        if quoted[i + 1..].starts_with('"') {
                            value.push('"');
                            chars.next();
                        } else {
                            break i + 1;
                        }
                    }
                    Some((_, c)) => value.push(c),
                    None => return Err(Unterminated),
                }
            };
            out.push(Cow::Owned(value));
            rest = &quoted[end..];
            match rest.strip_prefix(',') {
                Some(r) => rest = r,
                None => return Ok(()),
            }
        } else {
            match rest.find(',') {
                Some(i) => {
                    out.push(Cow::Borrowed(&rest[..i]));
                    rest = &rest[i + 1..];
                }
                None => {
                    out.push(Cow::Borrowed(rest));
                    return Ok(());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_fields_keep_their_commas_and_quotes() {
        let mut out = Vec::new();
        split_fields("a,\"b,c\",\"say \"\"hi\"\"\",,d", &mut out).expect("splits");
        let got: Vec<&str> = out.iter().map(|c| &**c).collect();
        assert_eq!(got, ["a", "b,c", "say \"hi\"", "", "d"]);
        assert!(split_fields("a,\"open", &mut Vec::new()).is_err());
    }

    #[test]
    fn columns_are_found_by_name_in_any_order_and_rows_by_type() {
        let text = "# svname,type,status,pxname\nFRONTEND,0,OPEN,fe\nweb1,2,UP,be\nshort\n";
        let h = header(text).expect("header");
        assert_eq!(h.column("status"), Some(2));
        let mut seen = Vec::new();
        let summary = for_each_row(text, &h, |r| {
            seen.push((r.proxy().to_string(), r.service().to_string(), r.kind()));
        });
        assert_eq!(
            seen,
            [
                ("fe".into(), "FRONTEND".into(), Some(ProxyKind::Frontend)),
                ("be".into(), "web1".into(), Some(ProxyKind::Server)),
            ]
        );
        assert_eq!(
            summary,
            ReadSummary {
                rows: 2,
                malformed: 1
            }
        );
    }

    #[test]
    fn a_page_that_is_not_the_csv_is_refused_by_name() {
        let err = header("<html><body>401 Unauthorized").expect_err("not csv");
        assert!(err.to_string().contains("not a HAProxy stats CSV"), "{err}");
        let err = header("# svname,status\n").expect_err("no pxname");
        assert_eq!(err, CsvError::MissingColumn("pxname"));
    }
}
