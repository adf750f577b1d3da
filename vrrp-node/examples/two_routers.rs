//! Two VRRP routers from Rust code: the sans-IO state machine (`vrrp_node::fsm`) driven by a
//! simulated clock and a simulated link, with a VIP handler of our own. No sockets, no root.
//!
//! `cargo run -p vrrp-node --example two_routers` prints each state change and VIP action:
//! lb1 (priority 200) becomes Master, lb2 stays Backup; lb1 shuts down (priority 0 advert) and
//! lb2 takes over within Skew_Time; lb1 comes back and preempts. A real program does the
//! same with its own clock and sockets: see `vrrp_node::driver` for the tokio one vrrpd runs.

use std::collections::VecDeque;
use std::error::Error;
use std::net::IpAddr;

use vrrp_node::fsm::{
    Action, Advert, Duration, Event, Instant, Observation, RouterConfig, State, VirtualRouter,
};
use vrrp_proto::Version;

/// What the application does when its router gains or loses the virtual address.
trait VipHandler {
    fn install(&mut self, router: &str, at: Instant);
    fn remove(&mut self, router: &str, at: Instant);
}

/// A handler that only prints; a real one would add the address (rtnetlink), update a
/// service registry, move a floating IP at a cloud provider...
struct PrintingVips {
    vip: &'static str,
}

impl VipHandler for PrintingVips {
    fn install(&mut self, router: &str, at: Instant) {
        println!("{:>8} {router}: install {}", ms(at), self.vip);
    }
    fn remove(&mut self, router: &str, at: Instant) {
        println!("{:>8} {router}: remove {}", ms(at), self.vip);
    }
}

struct Node {
    name: &'static str,
    addr: IpAddr,
    vr: VirtualRouter,
}

/// The simulated link: adverts sent at `now` arrive at every other node at `now`.
struct Lab<H: VipHandler> {
    nodes: Vec<Node>,
    vips: H,
    now: Instant,
    /// (state changes in order: router, new state)
    transitions: Vec<(&'static str, State)>,
}

impl<H: VipHandler> Lab<H> {
    /// Carries out every queued action of every node, delivering adverts, until none is left.
    fn drain(&mut self) {
        let mut adverts = VecDeque::new();
        loop {
            for i in 0..self.nodes.len() {
                while let Some(action) = self.nodes[i].vr.poll_action() {
                    self.act(i, action, &mut adverts);
                }
            }
            let Some((from, advert)) = adverts.pop_front() else {
                return;
            };
            for (i, node) in self.nodes.iter_mut().enumerate() {
                if i != from {
                    node.vr.handle(self.now, Event::Advert(advert));
                }
            }
        }
    }

    fn act(&mut self, i: usize, action: Action, adverts: &mut VecDeque<(usize, Advert)>) {
        let node = &self.nodes[i];
        match action {
            Action::SendAdvert {
                priority,
                max_advert_interval,
            } => adverts.push_back((
                i,
                Advert {
                    source: node.addr,
                    version: Version::V3,
                    vrid: node.vr.config().vrid,
                    priority,
                    max_advert_interval,
                },
            )),
            Action::InstallVips => self.vips.install(node.name, self.now),
            Action::RemoveVips => self.vips.remove(node.name, self.now),
            Action::Observe(Observation::StateChanged { from, to, reason }) => {
                println!(
                    "{:>8} {}: {from} -> {to} ({reason:?})",
                    ms(self.now),
                    node.name
                );
                self.transitions.push((node.name, to));
            }
            // Gratuitous ARPs and notify scripts: nothing to do on a simulated link.
            _ => {}
        }
    }

    /// Runs the timers until `until`.
    fn run_until(&mut self, until: Instant) {
        loop {
            let next = self.nodes.iter().filter_map(|n| n.vr.next_deadline()).min();
            match next {
                Some(t) if t <= until => {
                    self.now = t;
                    for node in &mut self.nodes {
                        node.vr.handle_timeout(t);
                    }
                    self.drain();
                }
                _ => break,
            }
        }
        self.now = until;
    }

    fn event(&mut self, node: usize, event: Event) {
        self.nodes[node].vr.handle(self.now, event);
        self.drain();
    }
}

fn ms(t: Instant) -> String {
    format!("{}ms", t.as_micros() / 1000)
}

fn router(vrid: u8, priority: u8, addr: &str) -> Result<(IpAddr, VirtualRouter), Box<dyn Error>> {
    let addr: IpAddr = addr.parse()?;
    let mut cfg = RouterConfig::new(vrid, Version::V3, priority, addr);
    cfg.advert_interval_cs = 100;
    Ok((addr, VirtualRouter::new(cfg)?))
}

pub fn main() -> Result<(), Box<dyn Error>> {
    let (a_addr, a) = router(51, 200, "198.18.0.1")?;
    let (b_addr, b) = router(51, 100, "198.18.0.2")?;
    let mut lab = Lab {
        nodes: vec![
            Node {
                name: "lb1",
                addr: a_addr,
                vr: a,
            },
            Node {
                name: "lb2",
                addr: b_addr,
                vr: b,
            },
        ],
        vips: PrintingVips {
            vip: "198.18.0.100/24",
        },
        now: Instant::ZERO,
        transitions: Vec::new(),
    };
    let secs = |s: u64| Instant::ZERO + Duration::from_secs(s);
    lab.event(0, Event::Startup);
    lab.event(1, Event::Startup);
    lab.run_until(secs(5));
    println!("{:>8} lb1: shutting down", ms(lab.now));
    lab.event(0, Event::Shutdown);
    lab.run_until(secs(10));
    println!("{:>8} lb1: starting again", ms(lab.now));
    lab.event(0, Event::Startup);
    lab.run_until(secs(15));

    use State::{Backup, Initialize, Master};
    let want = [
        ("lb1", Backup),
        ("lb2", Backup),
        ("lb1", Master),
        ("lb1", Initialize),
        ("lb2", Master),
        ("lb1", Backup),
        ("lb1", Master),
        ("lb2", Backup),
    ];
    if lab.transitions != want {
        return Err(format!("unexpected transitions: {:?}", lab.transitions).into());
    }
    println!("{} transitions, as expected", want.len());
    Ok(())
}
