//! TLS settings as haproxy.cfg writes them (`bind ... ssl ...`, `server ... ssl ...`,
//! `ssl-default-*` in `global`), and the translation of OpenSSL's names and cipher-string
//! syntax into the protocol versions, suites and groups rustls offers.
//!
//! The rule throughout: a setting is honoured, narrowed (never widened), or refused. rustls
//! offers only TLS 1.2 and 1.3 with AEAD, forward-secret suites, so OpenSSL names for
//! anything weaker select nothing; a setting that would leave nothing to offer is an error.

use std::path::PathBuf;
use std::time::Duration;

/// A protocol version, as `ssl-min-ver`/`ssl-max-ver` name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    /// `SSLv3`.
    Ssl3,
    /// `TLSv1.0`.
    Tls10,
    /// `TLSv1.1`.
    Tls11,
    /// `TLSv1.2`.
    Tls12,
    /// `TLSv1.3`.
    Tls13,
}

impl TlsVersion {
    /// Parses HAProxy's spelling (`TLSv1.2`).
    pub fn parse(s: &str) -> Option<TlsVersion> {
        Some(match s {
            "SSLv3" => TlsVersion::Ssl3,
            "TLSv1.0" => TlsVersion::Tls10,
            "TLSv1.1" => TlsVersion::Tls11,
            "TLSv1.2" => TlsVersion::Tls12,
            "TLSv1.3" => TlsVersion::Tls13,
            _ => return None,
        })
    }
}

/// A TLS 1.2 suite rustls offers, by its OpenSSL name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cipher12 {
    /// `ECDHE-ECDSA-AES128-GCM-SHA256`.
    EcdheEcdsaAes128Gcm,
    /// `ECDHE-ECDSA-AES256-GCM-SHA384`.
    EcdheEcdsaAes256Gcm,
    /// `ECDHE-ECDSA-CHACHA20-POLY1305`.
    EcdheEcdsaChacha20,
    /// `ECDHE-RSA-AES128-GCM-SHA256`.
    EcdheRsaAes128Gcm,
    /// `ECDHE-RSA-AES256-GCM-SHA384`.
    EcdheRsaAes256Gcm,
    /// `ECDHE-RSA-CHACHA20-POLY1305`.
    EcdheRsaChacha20,
}

const CIPHERS12: [(&str, Cipher12); 6] = [
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        Cipher12::EcdheEcdsaAes128Gcm,
    ),
    (
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        Cipher12::EcdheEcdsaAes256Gcm,
    ),
    (
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        Cipher12::EcdheEcdsaChacha20,
    ),
    ("ECDHE-RSA-AES128-GCM-SHA256", Cipher12::EcdheRsaAes128Gcm),
    ("ECDHE-RSA-AES256-GCM-SHA384", Cipher12::EcdheRsaAes256Gcm),
    ("ECDHE-RSA-CHACHA20-POLY1305", Cipher12::EcdheRsaChacha20),
];

impl Cipher12 {
    fn ecdsa(self) -> bool {
        matches!(
            self,
            Cipher12::EcdheEcdsaAes128Gcm
                | Cipher12::EcdheEcdsaAes256Gcm
                | Cipher12::EcdheEcdsaChacha20
        )
    }
    fn aes128(self) -> bool {
        matches!(
            self,
            Cipher12::EcdheEcdsaAes128Gcm | Cipher12::EcdheRsaAes128Gcm
        )
    }
    fn aes256(self) -> bool {
        matches!(
            self,
            Cipher12::EcdheEcdsaAes256Gcm | Cipher12::EcdheRsaAes256Gcm
        )
    }
    fn chacha(self) -> bool {
        matches!(
            self,
            Cipher12::EcdheEcdsaChacha20 | Cipher12::EcdheRsaChacha20
        )
    }

    /// Whether this suite is in the set an OpenSSL alias (`HIGH`, `aRSA`, `AESGCM`...)
    /// names; `None` for a word that is not an alias.
    fn in_alias(self, alias: &str) -> Option<bool> {
        Some(match alias {
            // Every suite rustls has is ECDHE, AEAD, TLS 1.2+ and "HIGH".
            "ALL" | "DEFAULT" | "HIGH" | "ECDHE" | "EECDH" | "kECDHE" | "kEECDH" | "ECDH"
            | "AEAD" | "TLSv1.2" | "FIPS" => true,
            "aRSA" => !self.ecdsa(),
            "aECDSA" | "ECDSA" => self.ecdsa(),
            "AESGCM" | "AES" => !self.chacha(),
            "AES128" => self.aes128(),
            "AES256" => self.aes256(),
            "CHACHA20" => self.chacha(),
            "SHA256" => !self.aes256(),
            "SHA384" => self.aes256(),
            // Sets that hold only suites rustls does not have.
            "MEDIUM"
            | "LOW"
            | "EXPORT"
            | "EXP"
            | "NULL"
            | "eNULL"
            | "aNULL"
            | "ADH"
            | "AECDH"
            | "COMPLEMENTOFDEFAULT"
            | "COMPLEMENTOFALL"
            | "MD5"
            | "RC4"
            | "DES"
            | "3DES"
            | "IDEA"
            | "SEED"
            | "CAMELLIA"
            | "ARIA"
            | "PSK"
            | "SRP"
            | "DSS"
            | "aDSS"
            | "kRSA"
            | "RSA"
            | "DH"
            | "DHE"
            | "EDH"
            | "kDHE"
            | "kEDH"
            | "SHA1"
            | "SHA"
            | "SSLv3"
            | "TLSv1"
            | "TLSv1.0"
            | "AESCCM"
            | "AESCCM8"
            | "CBC"
            | "kECDH"
            | "aECDH"
            | "kECDHr"
            | "kECDHe"
            | "GOST"
            | "kPSK"
            | "aPSK"
            | "CHACHA20-POLY1305-OLD" => false,
            _ => return None,
        })
    }
}

/// A TLS 1.3 suite rustls offers, by its IANA/OpenSSL name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cipher13 {
    /// `TLS_AES_128_GCM_SHA256`.
    Aes128Gcm,
    /// `TLS_AES_256_GCM_SHA384`.
    Aes256Gcm,
    /// `TLS_CHACHA20_POLY1305_SHA256`.
    Chacha20,
}

/// A key exchange group rustls (aws-lc-rs) offers, by its OpenSSL name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    /// `X25519`.
    X25519,
    /// `P-256` (`prime256v1`, `secp256r1`).
    P256,
    /// `P-384` (`secp384r1`).
    P384,
    /// `X25519MLKEM768`: the post-quantum hybrid.
    X25519MlKem768,
}

/// What a list of OpenSSL names came to: the selection, and the names that select
/// nothing rustls offers (worth a warning, as OpenSSL itself ignores them silently).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection<T> {
    /// What will be offered, in preference order.
    pub chosen: Vec<T>,
    /// Names dropped.
    pub dropped: Vec<String>,
}

/// Parses an OpenSSL cipher string for TLS 1.2 (`ciphers`, `ssl-default-bind-ciphers`):
/// names and aliases joined with `+` (intersection), separated by `:`, `,` or blanks;
/// `!X` removes for good, `-X` removes, `+X` moves to the end; `@STRENGTH` and
/// `@SECLEVEL=n` are accepted. Errors when nothing rustls offers is left.
pub fn parse_ciphers12(s: &str) -> Result<Selection<Cipher12>, String> {
    let mut chosen: Vec<Cipher12> = Vec::new();
    let mut banned: Vec<Cipher12> = Vec::new();
    let mut dropped = Vec::new();
    for tok in s.split([':', ',', ' ']).filter(|t| !t.is_empty()) {
        if tok.starts_with('@') {
            continue;
        }
        let (op, body) = match tok.as_bytes()[0] {
            b'!' | b'-' | b'+' => (tok.as_bytes()[0], &tok[1..]),
            _ => (0, tok),
        };
        let Some(matched) = select12(body) else {
            dropped.push(tok.to_string());
            continue;
        };
        match op {
            b'!' => {
                chosen.retain(|c| !matched.contains(c));
                banned.extend(matched);
            }
            b'-' => chosen.retain(|c| !matched.contains(c)),
            b'+' => {
                let (moved, kept): (Vec<_>, Vec<_>) =
                    chosen.iter().partition(|c| matched.contains(c));
                chosen = kept;
                chosen.extend(moved);
            }
            _ => {
                if matched.is_empty() {
                    dropped.push(tok.to_string());
                }
                for c in matched {
                    if !chosen.contains(&c) && !banned.contains(&c) {
                        chosen.push(c);
                    }
                }
            }
        }
    }
    if chosen.is_empty() {
        return Err(format!(
            "no TLS 1.2 cipher in '{s}' is offered by rustls (it offers {})",
            CIPHERS12.map(|(n, _)| n).join(", ")
        ));
    }
    Ok(Selection { chosen, dropped })
}

/// The suites one `+`-joined term names; `None` when a word is unknown.
fn select12(term: &str) -> Option<Vec<Cipher12>> {
    let mut set: Vec<Cipher12> = CIPHERS12.iter().map(|(_, c)| *c).collect();
    for word in term.split('+') {
        if let Some((_, c)) = CIPHERS12.iter().find(|(n, _)| *n == word) {
            set.retain(|x| x == c);
            continue;
        }
        // A known OpenSSL suite name rustls does not offer (DHE-*, AES*-SHA...).
        if word.contains('-')
            && word
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-')
        {
            set.clear();
            continue;
        }
        let mut known = true;
        set.retain(|c| match c.in_alias(word) {
            Some(v) => v,
            None => {
                known = false;
                false
            }
        });
        if !known {
            return None;
        }
    }
    Some(set)
}

/// Parses a TLS 1.3 suite list (`ciphersuites`): names separated by `:`.
pub fn parse_ciphers13(s: &str) -> Result<Selection<Cipher13>, String> {
    let mut chosen = Vec::new();
    let mut dropped = Vec::new();
    for name in s.split(':').filter(|t| !t.is_empty()) {
        let c = match name {
            "TLS_AES_128_GCM_SHA256" => Cipher13::Aes128Gcm,
            "TLS_AES_256_GCM_SHA384" => Cipher13::Aes256Gcm,
            "TLS_CHACHA20_POLY1305_SHA256" => Cipher13::Chacha20,
            "TLS_AES_128_CCM_SHA256" | "TLS_AES_128_CCM_8_SHA256" => {
                dropped.push(name.to_string());
                continue;
            }
            other => return Err(format!("unknown TLS 1.3 cipher suite '{other}'")),
        };
        if !chosen.contains(&c) {
            chosen.push(c);
        }
    }
    if chosen.is_empty() {
        return Err(format!(
            "no TLS 1.3 suite in '{s}' is offered by rustls (it offers TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256)"
        ));
    }
    Ok(Selection { chosen, dropped })
}

/// Parses a group list (`curves`, `ecdhe`): names separated by `:`.
pub fn parse_curves(s: &str) -> Result<Selection<Curve>, String> {
    let mut chosen = Vec::new();
    let mut dropped = Vec::new();
    for name in s.split(':').filter(|t| !t.is_empty()) {
        let c = match name {
            "X25519" | "x25519" => Curve::X25519,
            "P-256" | "prime256v1" | "secp256r1" => Curve::P256,
            "P-384" | "secp384r1" => Curve::P384,
            "X25519MLKEM768" => Curve::X25519MlKem768,
            "P-521" | "secp521r1" | "X448" | "x448" | "brainpoolP256r1" | "brainpoolP384r1"
            | "brainpoolP512r1" | "ffdhe2048" | "ffdhe3072" | "ffdhe4096" => {
                dropped.push(name.to_string());
                continue;
            }
            other => return Err(format!("unknown curve '{other}'")),
        };
        if !chosen.contains(&c) {
            chosen.push(c);
        }
    }
    if chosen.is_empty() {
        return Err(format!(
            "no group in '{s}' is offered by rustls (it offers X25519, P-256, P-384, X25519MLKEM768)"
        ));
    }
    Ok(Selection { chosen, dropped })
}

/// Protocol settings shared by `bind ... ssl` and `server ... ssl`; unset fields take the
/// `ssl-default-bind-*` / `ssl-default-server-*` values of `global`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsParams {
    /// `ssl-min-ver`.
    pub min_ver: Option<TlsVersion>,
    /// `ssl-max-ver`.
    pub max_ver: Option<TlsVersion>,
    /// `no-tlsv12`, `no-tlsv13` (and the versions rustls never offers).
    pub disabled: Vec<TlsVersion>,
    /// `ciphers` (TLS 1.2).
    pub ciphers: Option<Vec<Cipher12>>,
    /// `ciphersuites` (TLS 1.3).
    pub ciphersuites: Option<Vec<Cipher13>>,
    /// `curves`.
    pub curves: Option<Vec<Curve>>,
    /// `no-tls-tickets` sets `Some(false)`; tickets are on by default.
    pub tickets: Option<bool>,
}

impl TlsParams {
    /// Takes what is unset here from `d`.
    pub fn inherit(&mut self, d: &TlsParams) {
        self.min_ver = self.min_ver.or(d.min_ver);
        self.max_ver = self.max_ver.or(d.max_ver);
        for v in &d.disabled {
            if !self.disabled.contains(v) {
                self.disabled.push(*v);
            }
        }
        if self.ciphers.is_none() {
            self.ciphers.clone_from(&d.ciphers);
        }
        if self.ciphersuites.is_none() {
            self.ciphersuites.clone_from(&d.ciphersuites);
        }
        if self.curves.is_none() {
            self.curves.clone_from(&d.curves);
        }
        self.tickets = self.tickets.or(d.tickets);
    }

    /// Which of TLS 1.2 and 1.3 are offered; an error when the settings leave neither.
    /// A minimum below TLS 1.2 is narrowed to TLS 1.2 (rustls has nothing older).
    pub fn versions(&self) -> Result<(bool, bool), String> {
        let min = self.min_ver.unwrap_or(TlsVersion::Tls12);
        let max = self.max_ver.unwrap_or(TlsVersion::Tls13);
        let on = |v: TlsVersion| min <= v && v <= max && !self.disabled.contains(&v);
        let (v12, v13) = (on(TlsVersion::Tls12), on(TlsVersion::Tls13));
        if !v12 && !v13 {
            return Err(format!(
                "these settings leave no protocol version rustls offers (TLSv1.2, TLSv1.3): min {min:?}, max {max:?}, disabled {:?}",
                self.disabled
            ));
        }
        Ok((v12, v13))
    }
}

/// `verify` on a `bind` line: client certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientVerify {
    /// No client certificate is asked for (the default).
    #[default]
    None,
    /// Asked for, checked against `ca-file` when sent.
    Optional,
    /// Required and checked against `ca-file`.
    Required,
}

/// `ssl` and its options on a `bind` line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BindTls {
    /// `crt`: PEM files (chain and key, as HAProxy loads them) or directories of them.
    pub crt: Vec<PathBuf>,
    /// `alpn`: protocols in preference order.
    pub alpn: Vec<String>,
    /// Versions, suites, groups, tickets.
    pub params: TlsParams,
    /// `verify`.
    pub verify: ClientVerify,
    /// `ca-file`: roots for client certificates.
    pub ca_file: Option<PathBuf>,
    /// `crl-file`: revocation lists for client certificates.
    pub crl_file: Option<PathBuf>,
    /// `strict-sni`: refuse a handshake whose SNI matches no certificate.
    pub strict_sni: bool,
    /// Where the line is (`file:line`), for errors found when certificates are loaded.
    pub origin: String,
}

/// The name sent as SNI to a TLS server (`sni`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerSni {
    /// `sni str(NAME)`.
    Fixed(String),
    /// `sni req.hdr(host)`: the client's Host, without its port.
    RequestHost,
    /// `sni ssl_fc_sni`: the name the client sent us.
    ClientSni,
}

/// `ssl` and its options on a `server` line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerTls {
    /// `verify required` (`Some(true)`) or `verify none`; unset takes `ssl-server-verify`
    /// (required by default).
    pub verify: Option<bool>,
    /// `ca-file` (`@system-ca` for the system's roots).
    pub ca_file: Option<PathBuf>,
    /// `crl-file`.
    pub crl_file: Option<PathBuf>,
    /// `sni`.
    pub sni: Option<ServerSni>,
    /// `verifyhost`: the name the certificate must carry (default: the SNI).
    pub verifyhost: Option<String>,
    /// `crt`: a client certificate (PEM with key) presented to the server.
    pub crt: Option<PathBuf>,
    /// `alpn`: only `http/1.1` is spoken to servers.
    pub alpn: Vec<String>,
    /// Versions, suites, groups.
    pub params: TlsParams,
    /// Where the line is (`file:line`), for errors found when files are loaded.
    pub origin: String,
}

/// TLS settings of `global`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalTls {
    /// `ssl-default-bind-ciphers|ciphersuites|curves|options`.
    pub bind_defaults: TlsParams,
    /// `ssl-default-server-*`.
    pub server_defaults: TlsParams,
    /// `ssl-server-verify required|none` (default required).
    pub server_verify: bool,
    /// `tune.ssl.cachesize`: sessions kept for resumption by ID (default 20000).
    pub cache_size: usize,
    /// `tune.ssl.lifetime`: how long a session may be resumed (default 300 s).
    pub lifetime: Duration,
    /// `ca-base`: directory for relative `ca-file`/`crl-file` paths.
    pub ca_base: Option<PathBuf>,
    /// `crt-base`: directory for relative `crt` paths.
    pub crt_base: Option<PathBuf>,
}

impl Default for GlobalTls {
    fn default() -> Self {
        GlobalTls {
            bind_defaults: TlsParams::default(),
            server_defaults: TlsParams::default(),
            server_verify: true,
            cache_size: 20_000,
            lifetime: Duration::from_secs(300),
            ca_base: None,
            crt_base: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mozilla_intermediate_keeps_the_ecdhe_gcm_and_chacha_suites_in_order() {
        let s = parse_ciphers12("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384")
            .expect("valid");
        assert_eq!(s.chosen.len(), 6);
        assert_eq!(s.chosen[0], Cipher12::EcdheEcdsaAes128Gcm);
        assert_eq!(
            s.dropped,
            ["DHE-RSA-AES128-GCM-SHA256", "DHE-RSA-AES256-GCM-SHA384"]
        );
    }

    #[test]
    fn aliases_and_operators() {
        let s = parse_ciphers12("HIGH:!aNULL:!MD5").expect("valid");
        assert_eq!(s.chosen.len(), 6);
        let s = parse_ciphers12("EECDH+AESGCM:EECDH+CHACHA20:!aRSA").expect("valid");
        assert!(s.chosen.iter().all(|c| c.ecdsa()));
        assert_eq!(s.chosen.len(), 3);
        let s = parse_ciphers12("ALL:+CHACHA20").expect("valid");
        assert!(s.chosen[4].chacha() && s.chosen[5].chacha());
        let s = parse_ciphers12("ECDHE-RSA-AES256-GCM-SHA384:!ECDHE-RSA-AES256-GCM-SHA384:HIGH")
            .expect("valid");
        assert!(
            !s.chosen.contains(&Cipher12::EcdheRsaAes256Gcm),
            "! bans for good"
        );
        assert!(parse_ciphers12("RC4-SHA:DES-CBC3-SHA").is_err());
        assert!(parse_ciphers12("MEDIUM:LOW").is_err());
        let s = parse_ciphers12("HIGH:FROBNICATE").expect("HIGH still selects");
        assert_eq!(s.dropped, ["FROBNICATE"]);
    }

    #[test]
    fn tls13_suites_and_curves() {
        let s = parse_ciphers13("TLS_AES_256_GCM_SHA384:TLS_AES_128_CCM_SHA256").expect("valid");
        assert_eq!(s.chosen, [Cipher13::Aes256Gcm]);
        assert!(parse_ciphers13("TLS_AES_128_CCM_8_SHA256").is_err());
        assert!(parse_ciphers13("TLS_FROB").is_err());
        let c = parse_curves("X25519:P-256:X448").expect("valid");
        assert_eq!(c.chosen, [Curve::X25519, Curve::P256]);
        assert!(parse_curves("X448").is_err());
        assert!(parse_curves("P-999").is_err());
    }

    #[test]
    fn versions_narrow_never_widen() {
        let v = |min, max, disabled: &[TlsVersion]| {
            TlsParams {
                min_ver: min,
                max_ver: max,
                disabled: disabled.to_vec(),
                ..TlsParams::default()
            }
            .versions()
        };
        assert_eq!(v(None, None, &[]), Ok((true, true)));
        assert_eq!(v(Some(TlsVersion::Tls10), None, &[]), Ok((true, true)));
        assert_eq!(v(Some(TlsVersion::Tls13), None, &[]), Ok((false, true)));
        assert_eq!(v(None, Some(TlsVersion::Tls12), &[]), Ok((true, false)));
        assert!(v(None, Some(TlsVersion::Tls11), &[]).is_err());
        assert!(v(None, None, &[TlsVersion::Tls12, TlsVersion::Tls13]).is_err());
    }
}
