//! The statistics through the `metrics` facade, for whatever recorder the process installed
//! (lbproxy's `--metrics-addr` installs `metrics-exporter-prometheus`; an embedding service
//! its own). The request path keeps its plain atomic counters, which the CSV and the pages
//! need anyway; [`record`] copies their values into the facade under the names of HAProxy's
//! built-in exporter, so recording costs the request path nothing and the facade's series
//! are the `use-service prometheus-exporter` ones.

use metrics::Label;

use super::prometheus::for_each_sample;
use super::StatsView;

/// Sets every series of `view` in the installed recorder: counters to their totals
/// (`absolute`), gauges to their values. Without a recorder this does nothing but read.
pub fn record(view: &StatsView) {
    let process = view.process();
    let rows = view.rows();
    for_each_sample(&process, &rows, |s| {
        let labels: Vec<Label> = s
            .labels
            .iter()
            .map(|(k, v)| Label::new(*k, v.to_string()))
            .collect();
        let name = s.name.to_string();
        if s.counter {
            metrics::describe_counter!(name.clone(), s.help);
            // Counters are whole numbers here: totals of events and bytes.
            metrics::counter!(name, labels).absolute(s.value as u64);
        } else {
            metrics::describe_gauge!(name.clone(), s.help);
            metrics::gauge!(name, labels).set(s.value);
        }
    });
}
