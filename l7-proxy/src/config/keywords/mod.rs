//! The keywords of haproxy.cfg by context, as the tables the parser dispatches on:
//! `handled` lists every keyword a dispatcher has an arm for (with its status and an
//! example), `warned` the ones HAProxy knows that are warned and ignored by name, `refused`
//! the ones it knows that are errors by name. A dispatcher looks its keyword up in these
//! tables before its `match`, so a keyword handled but not listed is unknown, and one listed
//! but not handled an error (`tests/keyword_tables.rs` loads every keyword;
//! `docs/keywords.md` is generated from [`keyword_reference`]).

mod handled;
mod refused;
mod warned;

pub(super) use handled::*;
pub(super) use refused::*;
pub(super) use warned::*;

/// What lbproxy does with a keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeywordStatus {
    /// Implemented.
    Supported,
    /// Accepted with a warning naming it; ignored (or approximated, as its note says).
    Warned,
    /// An error: it would guard something lbproxy cannot honour.
    Refused,
}

/// One keyword of a context, as the reference gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyword {
    /// The keyword; a trailing `*` stands for any rest (`tune.*`).
    pub name: &'static str,
    /// What is done with it.
    pub status: KeywordStatus,
    /// A use of it as it stands in its context.
    pub example: String,
    /// What else to know (where it applies, what it is approximated by).
    pub note: &'static str,
}

/// One entry of a parser's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Kw {
    name: &'static str,
    status: KeywordStatus,
    example: &'static str,
    note: &'static str,
}

impl Kw {
    pub(super) const fn new(
        name: &'static str,
        status: KeywordStatus,
        example: &'static str,
    ) -> Self {
        Kw {
            name,
            status,
            example,
            note: "",
        }
    }
    /// With a note.
    pub(super) const fn note(self, note: &'static str) -> Self {
        Kw { note, ..self }
    }

    fn matches(&self, keyword: &str) -> bool {
        match self.name.strip_suffix('*') {
            Some(prefix) => keyword.starts_with(prefix),
            None => self.name == keyword,
        }
    }

    fn keyword(&self) -> Keyword {
        Keyword {
            name: self.name,
            status: self.status,
            example: self.example.to_string(),
            note: self.note,
        }
    }
}

/// Whether `list` (of names, a trailing `*` standing for any rest) names `keyword`.
pub(super) fn named(list: &[&str], keyword: &str) -> bool {
    list.iter().any(|n| match n.strip_suffix('*') {
        Some(prefix) => keyword.starts_with(prefix),
        None => *n == keyword,
    })
}

/// Whether `table` lists `keyword`.
pub(super) fn listed(table: &[Kw], keyword: &str) -> bool {
    table.iter().any(|k| k.matches(keyword))
}

/// The keywords of one context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeywordContext {
    /// Where they stand: `global`, `proxy`, `bind`, ...
    pub name: &'static str,
    /// Handled keywords in the order of the parser's tables, then those warned and those
    /// refused by name.
    pub keywords: Vec<Keyword>,
}

/// Every context of haproxy.cfg and its keywords. A keyword not listed in its context is an
/// error.
pub fn keyword_reference() -> Vec<KeywordContext> {
    let no_values = |names: &'static [&'static str]| names.iter().map(|n| (*n, false)).collect();
    vec![
        context("section", SECTIONS, no_values(IGNORED_SECTIONS), &[]),
        context("global", GLOBAL, no_values(GLOBAL_UNSUPPORTED), &[]),
        context("proxy", PROXY, no_values(PROXY_UNSUPPORTED), &[]),
        context("option", OPTIONS, no_values(OPTION_UNSUPPORTED), &[]),
        context("bind", BIND, BIND_UNSUPPORTED.to_vec(), &[]),
        context("server", SERVER, SERVER_UNSUPPORTED.to_vec(), &[]),
        context("tls", TLS, Vec::new(), &[]),
        context(
            "http-request",
            HTTP_REQUEST,
            no_values(HARMLESS_ACTIONS),
            HTTP_ACTIONS_REFUSED,
        ),
        context(
            "http-response",
            HTTP_RESPONSE,
            no_values(HARMLESS_ACTIONS),
            HTTP_ACTIONS_REFUSED,
        ),
        context("tcp-request", TCP_REQUEST, Vec::new(), &[]),
        context(
            "tcp-request action",
            TCP_ACTIONS,
            Vec::new(),
            TCP_ACTIONS_REFUSED,
        ),
        context("fetch", FETCHES, Vec::new(), &[]),
        context("converter", CONVERTERS, Vec::new(), &[]),
    ]
}

fn context(
    name: &'static str,
    handled: &[Kw],
    warned: Vec<(&'static str, bool)>,
    refused: &[&'static str],
) -> KeywordContext {
    let by_name = |name: &'static str, status, takes_value: bool| Keyword {
        name,
        status,
        example: if takes_value {
            format!("{name} 1")
        } else {
            name.to_string()
        },
        note: "",
    };
    let warned = warned
        .into_iter()
        .map(|(n, v)| by_name(n, KeywordStatus::Warned, v));
    let refused = refused
        .iter()
        .map(|n| by_name(n, KeywordStatus::Refused, false));
    KeywordContext {
        name,
        keywords: handled
            .iter()
            .map(Kw::keyword)
            .chain(warned)
            .chain(refused)
            .collect(),
    }
}
