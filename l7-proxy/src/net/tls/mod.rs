//! TLS with rustls and its aws-lc-rs provider: the server side of `bind ... ssl`
//! ([`server`]), the client side of `server ... ssl` ([`client`]), and certificate loading
//! ([`certs`]). Settings come from [`crate::config::tls`]; each is honoured, or the
//! configuration is refused.

pub mod certs;
pub mod client;
mod hkdf;
mod record_buf;
pub mod server;
pub mod server_stream;

use std::sync::Arc;

use rustls::crypto::{aws_lc_rs, CryptoProvider};
use rustls::{CipherSuite, SupportedCipherSuite, SupportedProtocolVersion};

use crate::config::tls::{Cipher12, Cipher13, Curve, TlsParams};
pub use certs::CertError;

/// Why a TLS configuration could not be built; `origin` is the line (`file:line`).
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A certificate, key, CA or CRL file.
    #[error("{origin}: {source}")]
    Files {
        /// The configuration line.
        origin: String,
        /// What went wrong with which file.
        #[source]
        source: CertError,
    },
    /// Settings rustls refuses together.
    #[error("{origin}: {message}")]
    Settings {
        /// The configuration line.
        origin: String,
        /// What rustls said.
        message: String,
    },
}

/// What a TLS client connection negotiated, for the `ssl_fc*` fetches and the logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsInfo {
    /// SNI sent by the client.
    pub sni: Option<String>,
    /// `TLSv1.2` or `TLSv1.3`.
    pub protocol: &'static str,
    /// ALPN protocol chosen.
    pub alpn: Option<Vec<u8>>,
    /// The suite, by its OpenSSL name.
    pub cipher: &'static str,
}

impl TlsInfo {
    /// Reads what a finished handshake negotiated.
    pub fn of<T: server_stream::Transport>(s: &server_stream::ServerStream<T>) -> TlsInfo {
        let c = s.session();
        TlsInfo {
            sni: s.sni().map(str::to_string),
            protocol: match c.protocol_version() {
                Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3",
                _ => "TLSv1.2",
            },
            alpn: c.alpn_protocol().map(<[u8]>::to_vec),
            cipher: c
                .negotiated_cipher_suite()
                .map(|s| openssl_name(s.suite()))
                .unwrap_or(""),
        }
    }

    /// Whether the client chose HTTP/2.
    pub fn is_h2(&self) -> bool {
        self.alpn.as_deref() == Some(b"h2")
    }
}

/// OpenSSL's name of a suite (what HAProxy's `ssl_fc_cipher` returns).
fn openssl_name(s: CipherSuite) -> &'static str {
    match s {
        CipherSuite::TLS13_AES_128_GCM_SHA256 => "TLS_AES_128_GCM_SHA256",
        CipherSuite::TLS13_AES_256_GCM_SHA384 => "TLS_AES_256_GCM_SHA384",
        CipherSuite::TLS13_CHACHA20_POLY1305_SHA256 => "TLS_CHACHA20_POLY1305_SHA256",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 => "ECDHE-ECDSA-AES128-GCM-SHA256",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 => "ECDHE-ECDSA-AES256-GCM-SHA384",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 => {
            "ECDHE-ECDSA-CHACHA20-POLY1305"
        }
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => "ECDHE-RSA-AES128-GCM-SHA256",
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => "ECDHE-RSA-AES256-GCM-SHA384",
        CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 => "ECDHE-RSA-CHACHA20-POLY1305",
        _ => "",
    }
}

fn suite12(c: Cipher12) -> SupportedCipherSuite {
    use aws_lc_rs::cipher_suite as s;
    match c {
        Cipher12::EcdheEcdsaAes128Gcm => s::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        Cipher12::EcdheEcdsaAes256Gcm => s::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        Cipher12::EcdheEcdsaChacha20 => s::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        Cipher12::EcdheRsaAes128Gcm => s::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        Cipher12::EcdheRsaAes256Gcm => s::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        Cipher12::EcdheRsaChacha20 => s::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    }
}

fn suite13(c: Cipher13) -> SupportedCipherSuite {
    use aws_lc_rs::cipher_suite as s;
    match c {
        Cipher13::Aes128Gcm => s::TLS13_AES_128_GCM_SHA256,
        Cipher13::Aes256Gcm => s::TLS13_AES_256_GCM_SHA384,
        Cipher13::Chacha20 => s::TLS13_CHACHA20_POLY1305_SHA256,
    }
}

/// The aws-lc-rs provider narrowed to the suites and groups `p` names (in its order);
/// what `p` leaves unset keeps the provider's defaults. TLS 1.3 suites key their HKDF once
/// per secret ([`hkdf`]).
pub fn provider_for(p: &TlsParams) -> Arc<CryptoProvider> {
    let mut provider = aws_lc_rs::default_provider();
    if p.ciphers.is_some() || p.ciphersuites.is_some() {
        let defaults = provider.cipher_suites.clone();
        let is13 = |s: &SupportedCipherSuite| s.version() == &rustls::version::TLS13;
        let mut suites: Vec<SupportedCipherSuite> = match &p.ciphersuites {
            Some(list) => list.iter().map(|c| suite13(*c)).collect(),
            None => defaults.iter().filter(|s| is13(s)).copied().collect(),
        };
        match &p.ciphers {
            Some(list) => suites.extend(list.iter().map(|c| suite12(*c))),
            None => suites.extend(defaults.iter().filter(|s| !is13(s)).copied()),
        }
        provider.cipher_suites = suites;
    }
    provider.cipher_suites = provider
        .cipher_suites
        .into_iter()
        .map(hkdf::with_keyed_hkdf)
        .collect();
    if let Some(curves) = &p.curves {
        use aws_lc_rs::kx_group as g;
        provider.kx_groups = curves
            .iter()
            .map(|c| match c {
                Curve::X25519 => g::X25519,
                Curve::P256 => g::SECP256R1,
                Curve::P384 => g::SECP384R1,
                Curve::X25519MlKem768 => g::X25519MLKEM768,
            })
            .collect();
    }
    Arc::new(provider)
}

/// The protocol versions `p` allows (config validation made sure there is one).
pub fn versions_for(
    p: &TlsParams,
    origin: &str,
) -> Result<Vec<&'static SupportedProtocolVersion>, TlsError> {
    let (v12, v13) = p.versions().map_err(|message| TlsError::Settings {
        origin: origin.to_string(),
        message,
    })?;
    let mut v = Vec::new();
    if v13 {
        v.push(&rustls::version::TLS13);
    }
    if v12 {
        v.push(&rustls::version::TLS12);
    }
    Ok(v)
}

fn settings_error(origin: &str, e: impl std::fmt::Display) -> TlsError {
    TlsError::Settings {
        origin: origin.to_string(),
        message: e.to_string(),
    }
}

fn files_error(origin: &str, source: CertError) -> TlsError {
    TlsError::Files {
        origin: origin.to_string(),
        source,
    }
}
