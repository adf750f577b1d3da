//! The exporter side of halb: Prometheus metric families with the names, labels and values
//! that dashboards built for prometheus/haproxy_exporter and mehdy/keepalived-exporter use,
//! the status records `vrrpd` publishes, and the scrapers `lb-exporter` runs.
//!
//! Here: pure parts, each tested on captured output of the real programs: the text format
//! ([`text`]), HAProxy/lbproxy stats CSV ([`haproxy`]), keepalived's data, stats and JSON
//! files ([`keepalived`]), vrrpd's status ([`status`], [`vrrpd`]). Elsewhere: fetching them
//! (`fetch`: HTTP, the HAProxy CLI socket, keepalived's signals), scraping every source at
//! once with a deadline each (`scrape`), serving `/metrics` (`serve`).
//!
//! A leaf crate: no raw sockets, netlink or TLS; it depends on none of the daemons.

pub mod fetch;
pub mod haproxy;
pub mod keepalived;
pub mod scrape;
pub mod serve;
pub mod status;
pub mod text;
pub mod vrrpd;
