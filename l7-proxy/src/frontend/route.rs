//! Where a connection or a request goes: `tcp-request` verdicts and `use_backend` rules.

use std::sync::Arc;

use super::sample::Sampler;
use super::FrontendRt;
use crate::backend::Backend;
use crate::config::TcpStage;

impl FrontendRt {
    /// Chooses the backend: the first `use_backend` rule whose condition holds, else
    /// `default_backend`.
    pub fn route(&self, s: &Sampler<'_>) -> Option<&Arc<Backend>> {
        self.rules
            .iter()
            .find(|(cond, _)| s.holds(cond.as_ref()))
            .map(|(_, be)| be)
            .or(self.default.as_ref())
    }

    /// Whether the `tcp-request` rules of `stage` accept the connection: the first rule
    /// whose condition holds decides; none accepts.
    pub fn tcp_accepts(&self, stage: TcpStage, s: &Sampler<'_>) -> bool {
        self.cfg
            .tcp_rules
            .iter()
            .filter(|r| r.stage == stage)
            .find(|r| s.holds(r.cond.as_ref()))
            .is_none_or(|r| r.accept)
    }
}
