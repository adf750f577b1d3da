//! `keepalived.data`, what keepalived writes on its DATA signal (SIGUSR1): per VRRP
//! instance its state, interface, VRID, GARP delay and VIPs; per `vrrp_script` its status
//! and state. An indented text dump: ` VRRP Instance = NAME` opens an instance, its
//! properties are `   Key = value` three spaces in, list items (VIPs) five spaces in.

use super::{ParseError, TrackScript, Vip, VrrpInstance, VrrpState};

/// What the data file says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Data {
    /// Instances, counters empty (they are in keepalived.stats).
    pub instances: Vec<VrrpInstance>,
    /// Track scripts.
    pub scripts: Vec<TrackScript>,
}

/// An instance being read: fields seen so far.
#[derive(Debug, Default)]
struct Partial {
    iname: String,
    state: Option<VrrpState>,
    intf: Option<String>,
    vrid: Option<u8>,
    garp_delay: Option<u64>,
    vips: Vec<String>,
}

impl Partial {
    fn finish(self) -> Result<VrrpInstance, ParseError> {
        let missing = |what| ParseError::Missing {
            instance: self.iname.clone(),
            what,
        };
        let intf = self.intf.clone().ok_or_else(|| missing("Interface"))?;
        let vips = self
            .vips
            .iter()
            .filter_map(|v| Vip::parse(v, &intf))
            .collect();
        Ok(VrrpInstance {
            state: self.state.ok_or_else(|| missing("State"))?,
            vrid: self.vrid.ok_or_else(|| missing("Virtual Router ID"))?,
            iname: self.iname,
            intf,
            vips,
            counters: Vec::new(),
            garp_delay: self.garp_delay,
        })
    }
}

/// Where in the file a line is.
enum Section {
    Other,
    Instance(Partial),
    Script(TrackScript),
}

/// Reads a keepalived.data file.
pub fn parse(text: &str) -> Result<Data, ParseError> {
    let mut data = Data::default();
    let mut section = Section::Other;
    // The list a five-space line belongs to (`Virtual IP (2):` opens one).
    let mut list = "";
    for (n, line) in text.lines().enumerate() {
        if let Some(name) = top_level(line, " VRRP Instance = ") {
            close(
                &mut data,
                std::mem::replace(
                    &mut section,
                    Section::Instance(Partial {
                        iname: name.into(),
                        ..Partial::default()
                    }),
                ),
            )?;
            continue;
        }
        if let Some(name) = top_level(line, " VRRP Script = ") {
            close(
                &mut data,
                std::mem::replace(
                    &mut section,
                    Section::Script(TrackScript {
                        name: name.into(),
                        status: None,
                        state: None,
                    }),
                ),
            )?;
            continue;
        }
        if !line.starts_with("   ") {
            // A new top-level entry or a section banner ends the current one.
            close(&mut data, std::mem::replace(&mut section, Section::Other))?;
            continue;
        }
        if let Some(item) = line.strip_prefix("     ") {
            if let (Section::Instance(p), "Virtual IP") = (&mut section, list) {
                p.vips.push(item.trim().to_string());
            }
            continue;
        }
        let body = line.trim();
        if let Some(head) = body.strip_suffix(':') {
            // `Virtual IP (2):`, `Tracked scripts :` ...
            list = head.split(" (").next().unwrap_or(head).trim();
            continue;
        }
        list = "";
        let Some((key, value)) = body.split_once(" = ") else {
            continue;
        };
        match &mut section {
            Section::Instance(p) => instance_field(p, key, value.trim(), n + 1)?,
            Section::Script(s) => match key {
                "Status" => s.status = Some(value.trim().to_string()),
                "State" => s.state = Some(value.trim().to_string()),
                _ => {}
            },
            Section::Other => {}
        }
    }
    close(&mut data, section)?;
    Ok(data)
}

/// `prefix`'s value when `line` is a top-level entry starting with it.
fn top_level<'l>(line: &'l str, prefix: &str) -> Option<&'l str> {
    line.strip_prefix(prefix).map(str::trim)
}

fn close(data: &mut Data, section: Section) -> Result<(), ParseError> {
    match section {
        Section::Instance(p) => data.instances.push(p.finish()?),
        Section::Script(s) => data.scripts.push(s),
        Section::Other => {}
    }
    Ok(())
}

fn instance_field(p: &mut Partial, key: &str, value: &str, line: usize) -> Result<(), ParseError> {
    let number = |what: &str| {
        value
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| ParseError::NotANumber {
                file: "keepalived.data",
                line,
                what: format!("{} {what}", p.iname),
                found: value.to_string(),
            })
    };
    match key {
        "State" => {
            p.state =
                Some(
                    VrrpState::from_name(value).ok_or_else(|| ParseError::UnknownState {
                        instance: p.iname.clone(),
                        state: value.to_string(),
                    })?,
                );
        }
        // keepalived 1.x calls the interface "Listening device".
        "Interface" | "Listening device" => p.intf = Some(value.to_string()),
        "Virtual Router ID" => {
            let vrid = number("Virtual Router ID")?;
            p.vrid = Some(u8::try_from(vrid).map_err(|_| ParseError::NotANumber {
                file: "keepalived.data",
                line,
                what: format!("{} Virtual Router ID (1-255)", p.iname),
                found: value.to_string(),
            })?);
        }
        "Gratuitous ARP delay" => p.garp_delay = Some(number("Gratuitous ARP delay")?),
        _ => {}
    }
    Ok(())
}
