//! Keywords of `frontend`, `backend` and `listen` sections that are not inherited
//! settings: `bind`, `acl`, `use_backend`, `default_backend`, `server`, rules.

use super::keywords::{
    listed, named, PROXY, PROXY_UNSUPPORTED, TCP_ACTIONS, TCP_ACTIONS_REFUSED, TCP_REQUEST,
};
use super::lex::Word;
use super::parse::{Parser, ProxyBuild};
use super::{TcpRule, TcpStage, UseBackend};

impl Parser {
    pub(super) fn proxy_kw(&mut self, p: &mut ProxyBuild, w: &[Word]) {
        let kw = w[0].text.as_str();
        let what = p.kind.name();
        if self.proxy_unlisted(w, what) {
            return;
        }
        let front_only = matches!(
            kw,
            "bind" | "use_backend" | "default_backend" | "tcp-request"
        );
        if (front_only && !p.kind.has_front()) || (kw == "server" && !p.kind.has_back()) {
            self.err(
                w[0].col,
                format!("'{kw}' is not allowed in a {what} section"),
            );
            return;
        }
        match kw {
            "bind" => self.bind_line(p, w),
            "acl" => {
                let Some(name) = w.get(1) else {
                    self.err(w[0].col, "'acl' needs a name");
                    return;
                };
                if let Some(acl) = self.acl_body(&w[2..], w[0].col) {
                    // Every definition of a name is kept: HAProxy ORs them.
                    p.acls.entry(name.text.clone()).or_default().push(acl);
                }
            }
            "use_backend" => self.use_backend(p, w),
            "default_backend" => match w.get(1) {
                Some(be) => p.default_backend = Some((be.text.clone(), self.pos(be.col))),
                None => self.err(w[0].col, "'default_backend' needs a backend name"),
            },
            "server" => self.server_line(p, w),
            "http-request" => self.http_rule(p, w, false),
            "http-response" => self.http_rule(p, w, true),
            "redirect" => self.redirect_rule(p, w),
            "tcp-request" => self.tcp_request(p, w),
            "http-after-response" | "tcp-response" => self.err(
                w[0].col,
                format!("'{kw}' is not supported (refused: its rules could guard something)"),
            ),
            _ => {
                let has_back = p.kind.has_back();
                self.settings_kw(&mut p.settings, w, what, has_back);
            }
        }
    }

    /// Reports a keyword that `PROXY` does not list (a warning when HAProxy knows it, else an
    /// error); returns whether it was one.
    pub(super) fn proxy_unlisted(&mut self, w: &[Word], what: &str) -> bool {
        let kw = w[0].text.as_str();
        if listed(PROXY, kw) {
            return false;
        }
        if PROXY_UNSUPPORTED.contains(&kw) {
            self.warn(w[0].col, format!("'{kw}' is not supported; ignored"));
        } else {
            let message = format!("unknown keyword '{kw}' in '{what}' section");
            self.err(w[0].col, message);
        }
        true
    }

    fn use_backend(&mut self, p: &mut ProxyBuild, w: &[Word]) {
        let Some(be) = w.get(1) else {
            self.err(w[0].col, "'use_backend' needs a backend name");
            return;
        };
        if be.text.contains("%[") {
            self.err(be.col, "dynamic 'use_backend' is not supported");
            return;
        }
        let cond = if w.len() > 2 {
            match self.condition(p, &w[2..]) {
                Some(c) => Some(c),
                None => return,
            }
        } else {
            None
        };
        p.use_backends.push((
            UseBackend {
                backend: be.text.clone(),
                cond,
            },
            self.pos(be.col),
        ));
    }

    /// `tcp-request connection|content accept|reject [COND]`; `inspect-delay` is a
    /// warning (nothing here waits for content), every other action an error.
    fn tcp_request(&mut self, p: &mut ProxyBuild, w: &[Word]) {
        let expected = "'connection', 'session', 'content' or 'inspect-delay'";
        let Some(stage_w) = w.get(1) else {
            self.err(w[0].col, format!("'tcp-request' needs {expected}"));
            return;
        };
        let stage_word = stage_w.text.as_str();
        if !listed(TCP_REQUEST, stage_word) {
            let message = format!("unknown 'tcp-request {stage_word}' (expected {expected})");
            self.err(stage_w.col, message);
            return;
        }
        let stage = match stage_word {
            "connection" | "session" => TcpStage::Connection,
            "content" => TcpStage::Content,
            "inspect-delay" => {
                self.warn(
                    w[0].col,
                    "'tcp-request inspect-delay' is not supported; ignored",
                );
                return;
            }
            _ => {
                self.unhandled(&w[1]);
                return;
            }
        };
        let accept = match w.get(2).map(|x| x.text.as_str()) {
            Some(a) if !listed(TCP_ACTIONS, a) => {
                let message = if named(TCP_ACTIONS_REFUSED, a) {
                    format!(
                        "'tcp-request {} {a}' is not supported (refused: it could guard something)",
                        w[1].text
                    )
                } else {
                    format!("unknown action '{a}' in 'tcp-request {}'", w[1].text)
                };
                self.err(w[2].col, message);
                return;
            }
            Some("accept") => true,
            Some("reject") => false,
            Some(_) => {
                self.unhandled(&w[2]);
                return;
            }
            None => {
                self.err(w[1].col, "'tcp-request' needs an action");
                return;
            }
        };
        let cond = if w.len() > 3 {
            match self.condition(p, &w[3..]) {
                Some(c) => Some(c),
                None => return,
            }
        } else {
            None
        };
        p.tcp_rules.push((
            TcpRule {
                stage,
                accept,
                cond,
            },
            self.pos(w[0].col),
        ));
    }
}
