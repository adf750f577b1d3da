//! The Prometheus text exposition format (version 0.0.4): families with `# HELP` and
//! `# TYPE`, samples written straight into each family's buffer (a scrape of a thousand
//! servers makes tens of thousands of samples: no allocation per sample).

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;

/// The content type of the format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A family's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up (reset by a restart of what counts).
    Counter,
    /// Goes up and down.
    Gauge,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        }
    }
}

/// One metric family: its samples in the order they were added.
#[derive(Debug)]
struct Family {
    name: Cow<'static, str>,
    help: Cow<'static, str>,
    kind: Kind,
    samples: String,
}

/// Families in the order they were first used; samples of one family stay together, as the
/// format requires.
#[derive(Debug, Default)]
pub struct Exposition {
    families: Vec<Family>,
    by_name: HashMap<Cow<'static, str>, usize>,
}

impl Exposition {
    /// An empty exposition.
    pub fn new() -> Exposition {
        Exposition::default()
    }

    /// Adds one sample of family `name` (created with `help` and `kind` on first use) with
    /// `labels` (name, value) and `value`.
    pub fn sample(
        &mut self,
        name: impl Into<Cow<'static, str>>,
        help: impl Into<Cow<'static, str>>,
        kind: Kind,
        labels: &[(&str, &str)],
        value: f64,
    ) {
        let name = name.into();
        let i = match self.by_name.get(&name) {
            Some(&i) => i,
            None => {
                self.families.push(Family {
                    name: name.clone(),
                    help: help.into(),
                    kind,
                    samples: String::new(),
                });
                self.by_name.insert(name, self.families.len() - 1);
                self.families.len() - 1
            }
        };
        let family = &mut self.families[i];
        write_sample(&mut family.samples, &family.name, labels, value);
    }

    /// Whether a family `name` has samples.
    pub fn has(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }

    /// The text: each family's HELP and TYPE lines, then its samples.
    pub fn render(&self) -> String {
        let len: usize = self
            .families
            .iter()
            .map(|f| f.samples.len() + f.name.len() * 2 + f.help.len() + 32)
            .sum();
        let mut out = String::with_capacity(len);
        for f in &self.families {
            out.push_str("# HELP ");
            out.push_str(&f.name);
            out.push(' ');
            escape_help(&mut out, &f.help);
            out.push_str("\n# TYPE ");
            out.push_str(&f.name);
            out.push(' ');
            out.push_str(f.kind.as_str());
            out.push('\n');
            out.push_str(&f.samples);
        }
        out
    }
}

fn write_sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: f64) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(k);
            out.push_str("=\"");
            escape_label_value(out, v);
            out.push('"');
        }
        out.push('}');
    }
    out.push(' ');
    write_value(out, value);
    out.push('\n');
}

/// Integers as integers (`12`, not `12.0`), the special values as the format spells them.
fn write_value(out: &mut String, value: f64) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        // Writing to a String cannot fail.
        let _ = write!(out, "{value}");
    }
}

fn escape_label_value(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn escape_help(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_keep_their_samples_together_with_help_and_type_first() {
        let mut e = Exposition::new();
        e.sample("a_up", "Up.", Kind::Gauge, &[("x", "1")], 1.0);
        e.sample("b_total", "B.", Kind::Counter, &[], 12.0);
        e.sample("a_up", "Up.", Kind::Gauge, &[("x", "2")], 0.0);
        assert_eq!(
            e.render(),
            "# HELP a_up Up.\n# TYPE a_up gauge\na_up{x=\"1\"} 1\na_up{x=\"2\"} 0\n\
             # HELP b_total B.\n# TYPE b_total counter\nb_total 12\n"
        );
    }

    #[test]
    fn label_values_and_help_are_escaped_and_fractions_kept() {
        let mut e = Exposition::new();
        e.sample(
            "t_seconds",
            "line\\one\ntwo",
            Kind::Gauge,
            &[("v", "a\"b\\c\nd")],
            0.005,
        );
        e.sample("t_seconds", "", Kind::Gauge, &[("v", "nan")], f64::NAN);
        let text = e.render();
        assert!(
            text.starts_with("# HELP t_seconds line\\\\one\\ntwo\n"),
            "{text}"
        );
        assert!(
            text.contains("t_seconds{v=\"a\\\"b\\\\c\\nd\"} 0.005\n"),
            "{text}"
        );
        assert!(text.contains("t_seconds{v=\"nan\"} NaN\n"), "{text}");
    }
}
