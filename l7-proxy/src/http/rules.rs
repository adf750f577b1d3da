//! Running `http-request` and `http-response` rules: header edits accumulate; `allow` ends
//! the list; `deny`, `return` and `redirect` answer in the proxy's name; `use-service` hands
//! the request to a service of the proxy.

use std::collections::HashMap;
use std::sync::Arc;

use super::builtin;
use super::h1::headers::{Edited, HeaderEdits};
use super::h1::request::RequestHead;
use super::h1::response::ResponseHead;
use crate::config::{HttpAction, HttpRule, Service};
use crate::frontend::sample::Sampler;
use crate::net::ConnInfo;

/// What the rules decided.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Go on (with the edits made).
    Continue,
    /// Answer with this generated response.
    Reply {
        /// The raw response.
        raw: Vec<u8>,
        /// Its status.
        status: u16,
        /// `deny` (counted, and the connection closes).
        denied: bool,
    },
    /// A service answers (`use-service`).
    Service(Service),
}

/// What one rule does once its condition held.
enum Step {
    Reply(Verdict),
    Set(String, String),
    Add(String, String),
    Del(String),
    Allow,
}

/// Runs the rules in order; `step` evaluates one rule against the message as edited so
/// far (`None`: its condition does not hold).
fn run(
    rules: &[HttpRule],
    edits: &mut HeaderEdits,
    step: impl Fn(&HttpRule, &HeaderEdits) -> Option<Step>,
) -> Verdict {
    for r in rules {
        match step(r, edits) {
            None => {}
            Some(Step::Reply(v)) => return v,
            Some(Step::Set(n, v)) => edits.set(&n, v),
            Some(Step::Add(n, v)) => edits.add(&n, v),
            Some(Step::Del(n)) => edits.del(&n),
            Some(Step::Allow) => break,
        }
    }
    Verdict::Continue
}

/// One rule's step; values are computed before the edit (they may read the field being
/// replaced).
fn step(
    a: &HttpAction,
    s: &Sampler<'_>,
    req: &RequestHead,
    errorfiles: &HashMap<u16, Arc<[u8]>>,
) -> Step {
    match a {
        HttpAction::SetHeader(n, f) => Step::Set(n.clone(), s.format(f)),
        HttpAction::AddHeader(n, f) => Step::Add(n.clone(), s.format(f)),
        HttpAction::DelHeader(n) => Step::Del(n.clone()),
        HttpAction::Allow => Step::Allow,
        HttpAction::Redirect(rd) => Step::Reply(Verdict::Reply {
            raw: builtin::redirect(rd, s, req),
            status: rd.code,
            denied: false,
        }),
        HttpAction::Deny(r) => Step::Reply(Verdict::Reply {
            raw: builtin::reply(r, s, errorfiles, true),
            status: r.status,
            denied: true,
        }),
        HttpAction::Return(r) => Step::Reply(Verdict::Reply {
            raw: builtin::reply(r, s, errorfiles, false),
            status: r.status,
            denied: false,
        }),
        HttpAction::UseService(svc) => Step::Reply(Verdict::Service(*svc)),
    }
}

/// Runs `rules` on a request; header edits go into `edits`.
pub fn request(
    rules: &[HttpRule],
    conn: &ConnInfo,
    head: &RequestHead,
    edits: &mut HeaderEdits,
    errorfiles: &HashMap<u16, Arc<[u8]>>,
) -> Verdict {
    run(rules, edits, |r, edits| {
        let view = Edited { msg: head, edits };
        let s = Sampler {
            conn,
            req: Some(&view),
            res: None,
        };
        s.holds(r.cond.as_ref())
            .then(|| step(&r.action, &s, head, errorfiles))
    })
}

/// Runs `rules` on a response; header edits go into `edits`.
pub fn response(
    rules: &[HttpRule],
    conn: &ConnInfo,
    req: &RequestHead,
    resp: &ResponseHead,
    edits: &mut HeaderEdits,
    errorfiles: &HashMap<u16, Arc<[u8]>>,
) -> Verdict {
    run(rules, edits, |r, edits| {
        let view = Edited { msg: resp, edits };
        let s = Sampler {
            conn,
            req: Some(req),
            res: Some(&view),
        };
        s.holds(r.cond.as_ref())
            .then(|| step(&r.action, &s, req, errorfiles))
    })
}
