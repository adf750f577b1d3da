//! The parser's core: lines into words, words into sections, and the state a proxy section
//! accumulates until [`Parser::finish`] checks and assembles the whole configuration.
//! Each kind of line is parsed in its own module (`global`, `proxy`, `settings`, `bind`,
//! `server`, `acl`, `rules`).

use std::collections::HashMap;
use std::sync::Arc;

use super::acl::Acl;
use super::keywords::{listed, IGNORED_SECTIONS, SECTIONS};
use super::lex::{split_line, Word};
use super::rules::HttpRule;
use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Frontend,
    Backend,
    Listen,
}

impl Kind {
    pub(super) fn name(self) -> &'static str {
        match self {
            Kind::Frontend => "frontend",
            Kind::Backend => "backend",
            Kind::Listen => "listen",
        }
    }
    pub(super) fn has_front(self) -> bool {
        self != Kind::Backend
    }
    pub(super) fn has_back(self) -> bool {
        self != Kind::Frontend
    }
}

/// A position in a file, kept for errors found after the line was read.
#[derive(Debug, Clone)]
pub(super) struct Pos {
    pub(super) file: Arc<str>,
    pub(super) line: usize,
    pub(super) col: usize,
}

impl Pos {
    /// `file:line`, as TLS settings carry it for errors found when files are loaded.
    pub(super) fn origin(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }
}

#[derive(Debug)]
pub(super) struct PendingServer {
    pub(super) name: String,
    pub(super) address: String,
    pub(super) pos: Pos,
    pub(super) params: ServerParams,
}

/// A proxy section being read.
#[derive(Debug)]
pub(super) struct ProxyBuild {
    pub(super) kind: Kind,
    pub(super) name: String,
    pub(super) pos: Pos,
    pub(super) settings: ProxySettings,
    pub(super) binds: Vec<(Bind, Pos)>,
    pub(super) acls: HashMap<String, Vec<Acl>>,
    /// Named ACL terms used by conditions, with their positions, checked by `finish`.
    pub(super) acl_refs: Vec<(String, Pos)>,
    pub(super) anon_acls: usize,
    /// `use_backend` rules with the position of the backend name.
    pub(super) use_backends: Vec<(UseBackend, Pos)>,
    pub(super) default_backend: Option<(String, Pos)>,
    pub(super) servers: Vec<PendingServer>,
    pub(super) http_request: Vec<(HttpRule, Pos)>,
    pub(super) http_response: Vec<(HttpRule, Pos)>,
    pub(super) redirects: Vec<(HttpRule, Pos)>,
    pub(super) tcp_rules: Vec<(TcpRule, Pos)>,
}

#[derive(Debug, Default)]
enum Section {
    #[default]
    None,
    Global,
    Defaults(Option<String>),
    Proxy(Box<ProxyBuild>),
    Ignored,
}

/// Accumulates files into one configuration.
#[derive(Debug, Default)]
pub(super) struct Parser {
    pub(super) diags: Vec<Diagnostic>,
    pub(super) global: Global,
    defaults: ProxySettings,
    named_defaults: HashMap<String, ProxySettings>,
    section: Section,
    pub(super) proxies: Vec<ProxyBuild>,
    file: Arc<str>,
    pub(super) line: usize,
    pub(super) offline: bool,
}

impl Parser {
    pub(super) fn new(resolve: bool) -> Parser {
        Parser {
            offline: !resolve,
            ..Parser::default()
        }
    }

    pub(super) fn diag(&mut self, severity: Severity, col: usize, message: String) {
        self.diags.push(Diagnostic {
            severity,
            file: self.file.clone(),
            line: self.line,
            col,
            message,
        });
    }
    pub(super) fn err(&mut self, col: usize, message: impl Into<String>) {
        self.diag(Severity::Error, col, message.into());
    }
    pub(super) fn warn(&mut self, col: usize, message: impl Into<String>) {
        self.diag(Severity::Warning, col, message.into());
    }
    /// A keyword its table lists and its dispatcher does not handle: a bug, reported rather
    /// than ignored (the keyword tables' tests load every listed keyword).
    pub(super) fn unhandled(&mut self, w: &Word) {
        self.err(
            w.col,
            format!(
                "'{}' is listed as supported but not handled (a bug in lbproxy)",
                w.text
            ),
        );
    }
    pub(super) fn pos(&self, col: usize) -> Pos {
        Pos {
            file: self.file.clone(),
            line: self.line,
            col,
        }
    }

    pub(super) fn parse_file(&mut self, name: &str, text: &str) {
        self.file = Arc::from(name);
        for (i, line) in text.lines().enumerate() {
            self.line = i + 1;
            let words = match split_line(line) {
                Ok(w) => w,
                Err((msg, col)) => {
                    self.err(col, msg);
                    continue;
                }
            };
            if words.is_empty() {
                continue;
            }
            self.statement(&words);
        }
        // Sections do not continue across files.
        self.close_section();
    }

    fn close_section(&mut self) {
        match std::mem::take(&mut self.section) {
            Section::Proxy(p) => self.proxies.push(*p),
            Section::Defaults(Some(name)) => {
                self.named_defaults.insert(name, self.defaults.clone());
            }
            _ => {}
        }
    }

    fn statement(&mut self, w: &[Word]) {
        let kw = w[0].text.as_str();
        if listed(SECTIONS, kw) {
            self.close_section();
            match kw {
                "global" => self.section = Section::Global,
                "defaults" => self.defaults_header(w),
                "frontend" | "backend" | "listen" => self.proxy_header(w),
                _ => {
                    self.unhandled(&w[0]);
                    self.section = Section::Ignored;
                }
            }
            return;
        }
        if IGNORED_SECTIONS.contains(&kw) {
            self.close_section();
            self.warn(
                w[0].col,
                format!("section '{kw}' is not supported; ignored"),
            );
            self.section = Section::Ignored;
            return;
        }
        match std::mem::take(&mut self.section) {
            Section::None => {
                self.err(w[0].col, format!("unknown keyword '{kw}' out of section"));
            }
            Section::Ignored => self.section = Section::Ignored,
            Section::Global => {
                self.global_kw(w);
                self.section = Section::Global;
            }
            Section::Defaults(name) => {
                let mut s = std::mem::take(&mut self.defaults);
                self.settings_kw(&mut s, w, "defaults", true);
                self.defaults = s;
                self.section = Section::Defaults(name);
            }
            Section::Proxy(mut p) => {
                self.proxy_kw(&mut p, w);
                self.section = Section::Proxy(p);
            }
        }
    }

    /// `defaults [NAME] [from NAME]`: a new defaults section starts from scratch (HAProxy
    /// resets it), unless it says `from NAME`.
    fn defaults_header(&mut self, w: &[Word]) {
        let mut name = None;
        let mut base = ProxySettings::default();
        let mut i = 1;
        while i < w.len() {
            if w[i].text == "from" {
                if let Some(d) = self.defaults_from(w, i) {
                    base = d;
                }
                i += 2;
            } else {
                name = Some(w[i].text.clone());
                i += 1;
            }
        }
        self.defaults = base;
        self.section = Section::Defaults(name);
    }

    /// The named defaults after `from` at `w[i]`.
    fn defaults_from(&mut self, w: &[Word], i: usize) -> Option<ProxySettings> {
        let Some(n) = w.get(i + 1) else {
            self.err(w[i].col, "'from' needs a defaults section name");
            return None;
        };
        let found = self.named_defaults.get(&n.text).cloned();
        if found.is_none() {
            self.err(n.col, format!("unknown defaults section '{}'", n.text));
        }
        found
    }

    /// `frontend|backend|listen NAME [from DEFAULTS] [ADDR]`.
    fn proxy_header(&mut self, w: &[Word]) {
        let kw = w[0].text.as_str();
        let kind = match kw {
            "frontend" => Kind::Frontend,
            "backend" => Kind::Backend,
            _ => Kind::Listen,
        };
        let Some(name) = w.get(1) else {
            self.err(w[0].col, format!("'{kw}' needs a name"));
            self.section = Section::Ignored;
            return;
        };
        if !valid_name(&name.text) {
            self.err(name.col, format!("invalid {kw} name '{}'", name.text));
        }
        let mut settings = self.defaults.clone();
        let mut rest = &w[2..];
        if rest.first().is_some_and(|x| x.text == "from") {
            if let Some(d) = self.defaults_from(w, 2) {
                settings = d;
            }
            rest = rest.get(2..).unwrap_or(&[]);
        }
        let mut p = Box::new(ProxyBuild {
            kind,
            name: name.text.clone(),
            pos: self.pos(name.col),
            settings,
            binds: Vec::new(),
            acls: HashMap::new(),
            acl_refs: Vec::new(),
            anon_acls: 0,
            use_backends: Vec::new(),
            default_backend: None,
            servers: Vec::new(),
            http_request: Vec::new(),
            http_response: Vec::new(),
            redirects: Vec::new(),
            tcp_rules: Vec::new(),
        });
        if let Some(first) = rest.first() {
            // Old syntax: `listen NAME ADDR:PORT`.
            if kind == Kind::Backend {
                self.err(
                    first.col,
                    format!("unexpected '{}' after backend name", first.text),
                );
            } else {
                self.bind_addrs(&mut p, first);
                if let Some(x) = rest.get(1) {
                    self.err(x.col, format!("unexpected '{}'", x.text));
                }
            }
        }
        self.section = Section::Proxy(p);
    }

    pub(super) fn arg<'w>(&mut self, w: &'w [Word], i: usize) -> Option<&'w str> {
        match w.get(i) {
            Some(x) => Some(x.text.as_str()),
            None => {
                self.err(w[0].col, format!("'{}' needs an argument", w[0].text));
                None
            }
        }
    }

    pub(super) fn num(&mut self, w: &[Word], i: usize, lo: u32, hi: u32) -> Option<u32> {
        let a = self.arg(w, i)?;
        match a.parse::<u32>() {
            Ok(n) if n >= lo && n <= hi => Some(n),
            _ => {
                let a = a.to_string();
                self.err(
                    w[i].col,
                    format!(
                        "'{}' needs an integer in {lo}..={hi}, found '{a}'",
                        w[0].text
                    ),
                );
                None
            }
        }
    }

    /// Closes the last section and hands the proxies to [`Parser::finish`].
    pub(super) fn finish_sections(&mut self) -> Vec<ProxyBuild> {
        self.close_section();
        std::mem::take(&mut self.proxies)
    }
}

fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
}
