//! keepalived.conf, VRRP part, into typed configuration.
//!
//! An operator's existing keepalived.conf loads as it is: `global_defs`, `vrrp_script`,
//! `vrrp_track_process`, `track_file`, `vrrp_instance`, `vrrp_sync_group` and our own
//! `anycast_route` (see [`AnycastRoute`]) become
//! [`Config`]; keepalived keywords we do not implement (mail alerts, SNMP, LVS
//! `virtual_server` blocks, ...) become [`Warning`]s naming keyword and place; anything
//! keepalived would not know either is an error. Every error and warning carries
//! `file:line:col`.
//!
//! keepalived's line preprocessing comes first, so one file can serve every node:
//! conditional lines (`@ID`, `@^ID`, read as the config id of [`LoadOptions`]), parameter
//! definitions and substitution (`$NAME=`, `$NAME`, `${NAME}`) and `~SEQ`/`~LST` copies.
//!
//! ```
//! use vrrp_node::config::{self, InitialState};
//!
//! let text = "
//! vrrp_instance VI_1 {
//!     state MASTER
//!     interface eth0
//!     virtual_router_id 51
//!     priority 150
//!     virtual_ipaddress {
//!         198.18.0.100/24
//!     }
//! }
//! ";
//! let loaded = config::parse_str(text, "keepalived.conf").expect("valid config");
//! let vi = loaded.config.instance("VI_1").expect("VI_1");
//! assert_eq!(vi.state, InitialState::Master);
//! assert_eq!(vi.advert_int_cs, 100); // keepalived's default, 1 s
//!
//! let text = "vrrp_instance X {\n interface eth0\n virtual_router_id 300\n}";
//! let err = config::parse_str(text, "k.conf").expect_err("out of range");
//! assert_eq!(
//!     err.to_string(),
//!     "k.conf:3:20: expected an integer 1..255 for virtual_router_id, found \"300\""
//! );
//! ```

mod anycast;
mod build;
mod error;
mod lexer;
mod model;
mod pre;
mod tracked;
mod tree;

use std::path::Path;

pub use anycast::{AnycastRoute, DEFAULT_ANYCAST_PRIORITY};
pub use build::reference::{keyword_reference, Keyword, KeywordBlock, KeywordStatus};
pub use error::{ConfigError, ConfigErrors, ParamProblem, Span, Warning, WarningKind};
pub use model::{
    Authentication, Config, Family, GlobalDefs, InitialState, Notify, Scope, ScriptUser, SyncGroup,
    TrackInterface, TrackScript, VirtualIp, VrrpInstance, VrrpScript, VrrpVersion,
};
pub use tracked::{InitFile, ParamMatch, TrackRef, VrrpTrackFile, VrrpTrackProcess};

/// A configuration that loaded, with the warnings met on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedConfig {
    /// The typed configuration.
    pub config: Config,
    /// Keywords accepted but not implemented, values adjusted, settings without effect.
    pub warnings: Vec<Warning>,
}

/// How a configuration is read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoadOptions {
    /// keepalived's config id (`keepalived -i ID`): a line `@ID ...` is read when it is
    /// ID, a line `@^ID ...` when it is not (keepalived.conf(5), "Conditional
    /// configuration"); `${_INSTANCE}` is it. `None` (no id, or an empty one): every `@ID`
    /// line is left out and every `@^ID` line read.
    pub config_id: Option<String>,
}

impl Default for LoadOptions {
    /// The config id keepalived takes without `-i`: [`default_config_id`].
    fn default() -> Self {
        LoadOptions {
            config_id: default_config_id(),
        }
    }
}

impl LoadOptions {
    /// Reading as the node whose config id is `id` (`vrrpd -i ID`).
    pub fn with_config_id(id: impl Into<String>) -> Self {
        LoadOptions {
            config_id: Some(id.into()),
        }
    }
}

/// keepalived's default config id: the host name up to its first dot (the node name as
/// uname gives it), or `None` when it cannot be read.
pub fn default_config_id() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let first = name.trim().split('.').next().unwrap_or_default();
    (!first.is_empty()).then(|| first.to_string())
}

/// Reads and checks the keepalived.conf at `path`, following its `include`s (relative to the
/// including file's directory, globs allowed), as the node of [`LoadOptions::default`]. On
/// failure, the first error in file order; [`load_all`] has every one.
///
/// ```no_run
/// let loaded = vrrp_node::config::load(std::path::Path::new("/etc/keepalived/keepalived.conf"))?;
/// for w in &loaded.warnings {
///     eprintln!("warning: {w}");
/// }
/// # Ok::<(), vrrp_node::config::ConfigError>(())
/// ```
pub fn load(path: &Path) -> Result<LoadedConfig, ConfigError> {
    load_all(path).map_err(ConfigErrors::into_first)
}

/// [`load`], with every error the file has, each once, in file order.
///
/// A syntax error (an unterminated quote, braces that do not balance) ends the reading of
/// its file, since what follows cannot be told apart; every other error is reported and the
/// loading goes on with the next statement.
pub fn load_all(path: &Path) -> Result<LoadedConfig, ConfigErrors> {
    load_all_with(path, &LoadOptions::default())
}

/// [`load_all`] with `options`, e.g. another config id.
///
/// ```no_run
/// use vrrp_node::config::{self, LoadOptions};
///
/// let path = std::path::Path::new("/etc/keepalived/keepalived.conf");
/// let loaded = config::load_all_with(path, &LoadOptions::with_config_id("lb2"))?;
/// # Ok::<(), vrrp_node::config::ConfigErrors>(())
/// ```
pub fn load_all_with(path: &Path, options: &LoadOptions) -> Result<LoadedConfig, ConfigErrors> {
    let bytes = std::fs::read(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let text = tree::decode(&bytes, path)?;
    parse_with_name(&text, path, options)
}

/// Parses `text` as if it were the file `virtual_file_name` (the name used in errors and the
/// base for relative `include`s). On failure, the first error in file order;
/// [`parse_str_all`] has every one.
///
/// ```
/// let loaded = vrrp_node::config::parse_str("global_defs {\n router_id lb1\n}", "k.conf")?;
/// assert_eq!(loaded.config.global.router_id.as_deref(), Some("lb1"));
/// # Ok::<(), vrrp_node::config::ConfigError>(())
/// ```
pub fn parse_str(text: &str, virtual_file_name: &str) -> Result<LoadedConfig, ConfigError> {
    parse_str_all(text, virtual_file_name).map_err(ConfigErrors::into_first)
}

/// [`parse_str`], with every error, each once, in file order.
///
/// ```
/// let text = "vrrp_instance X {\n interface eth0\n virtual_router_id 300\n priority 300\n}";
/// let errors = vrrp_node::config::parse_str_all(text, "k.conf").expect_err("two errors");
/// let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
/// assert_eq!(
///     lines,
///     [
///         "k.conf:3:20: expected an integer 1..255 for virtual_router_id, found \"300\"",
///         "k.conf:4:11: expected an integer 1..255 for priority, found \"300\"",
///     ]
/// );
/// ```
pub fn parse_str_all(text: &str, virtual_file_name: &str) -> Result<LoadedConfig, ConfigErrors> {
    parse_with_name(text, Path::new(virtual_file_name), &LoadOptions::default())
}

/// [`parse_str_all`] with `options`.
///
/// ```
/// use vrrp_node::config::{self, LoadOptions};
///
/// let text = "$PRIO=150\n@lb1 $PRIO=200\nvrrp_instance VI_1 {\n interface eth0\n \
///             virtual_router_id 51\n priority $PRIO\n}\n";
/// let lb1 = config::parse_str_all_with(text, "k.conf", &LoadOptions::with_config_id("lb1"))?;
/// let lb2 = config::parse_str_all_with(text, "k.conf", &LoadOptions::with_config_id("lb2"))?;
/// assert_eq!(lb1.config.instances[0].priority, 200);
/// assert_eq!(lb2.config.instances[0].priority, 150);
/// # Ok::<(), vrrp_node::config::ConfigErrors>(())
/// ```
pub fn parse_str_all_with(
    text: &str,
    virtual_file_name: &str,
    options: &LoadOptions,
) -> Result<LoadedConfig, ConfigErrors> {
    parse_with_name(text, Path::new(virtual_file_name), options)
}

fn parse_with_name(
    text: &str,
    name: &Path,
    options: &LoadOptions,
) -> Result<LoadedConfig, ConfigErrors> {
    let mut loader = tree::Loader::new(options.config_id.clone());
    let parsed = loader.parse_text(text, name);
    let mut errors = std::mem::take(&mut loader.errors);
    errors.append(&mut loader.pre.errors);
    let mut warnings = std::mem::take(&mut loader.warnings);
    warnings.append(&mut loader.pre.warnings);
    let built = match parsed {
        // A syntax error in the top file: nothing of it can be trusted to build.
        Err(e) => {
            errors.push(e);
            None
        }
        Ok(nodes) => match build::build(&nodes, &mut warnings) {
            Ok(config) => Some(config),
            Err(build_errors) => {
                errors.extend(build_errors);
                None
            }
        },
    };
    error::sort_in_file_order(&mut errors, &loader.files);
    match (built, ConfigErrors::from_vec(errors)) {
        (Some(config), None) => Ok(LoadedConfig { config, warnings }),
        (_, Some(errors)) => Err(errors),
        // build returns either a configuration or at least one error.
        (None, None) => Err(ConfigError::Invalid {
            span: Span::nowhere(),
            message: "configuration not built".into(),
        }
        .into()),
    }
}

/// Splits a notify/script command line into argv as keepalived does (whitespace, honouring
/// single and double quotes and backslash escapes).
///
/// ```
/// assert_eq!(
///     vrrp_node::config::split_command_line("/bin/n.sh \"a b\" c"),
///     vec!["/bin/n.sh", "a b", "c"]
/// );
/// ```
pub fn split_command_line(s: &str) -> Vec<String> {
    build::split_command_line(s)
}
