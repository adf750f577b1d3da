//! The server side of `bind ... ssl`: certificates chosen by SNI, protocol settings,
//! client certificates, session resumption.

use std::collections::HashMap;
use std::sync::Arc;

use rustls::server::{ClientHello, ProducesTickets, ResolvesServerCert, StoresServerSessions};
use rustls::server::{ServerSessionMemoryCache, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;

use super::certs::{self, CertError};
use super::{files_error, provider_for, settings_error, versions_for, TlsError};
use crate::config::tls::{BindTls, ClientVerify};

/// Session-resumption state kept across reloads, so clients resume after a reload too:
/// the ticket keys (RFC 8446 §4.6.1, RFC 5077) and the cache of sessions by ID.
#[derive(Debug, Clone)]
pub struct Resumption {
    ticketer: Arc<dyn ProducesTickets>,
    cache: Arc<dyn StoresServerSessions>,
}

impl Resumption {
    /// Fresh ticket keys (rotated by rustls every 6 hours) and a cache of `cache_size`
    /// sessions (`tune.ssl.cachesize`).
    pub fn new(cache_size: usize) -> Result<Resumption, TlsError> {
        let ticketer = rustls::crypto::aws_lc_rs::Ticketer::new()
            .map_err(|e| settings_error("session tickets", e))?;
        Ok(Resumption {
            ticketer,
            cache: ServerSessionMemoryCache::new(cache_size.max(1)),
        })
    }
}

/// Certificates by name, as HAProxy picks them: the SNI's exact name, then a wildcard
/// for its parent domain, among them one whose key the client can verify (so an ECDSA
/// and an RSA certificate for one name serve old and new clients alike); else the first
/// certificate loaded, unless `strict-sni`.
#[derive(Debug)]
pub struct SniResolver {
    exact: HashMap<String, Vec<Arc<CertifiedKey>>>,
    wildcard: HashMap<String, Vec<Arc<CertifiedKey>>>,
    default: Arc<CertifiedKey>,
    strict: bool,
}

impl SniResolver {
    /// Loads every file the `crt` paths name.
    pub fn load(
        tls: &BindTls,
        provider: &rustls::crypto::CryptoProvider,
    ) -> Result<SniResolver, TlsError> {
        let mut exact: HashMap<String, Vec<Arc<CertifiedKey>>> = HashMap::new();
        let mut wildcard: HashMap<String, Vec<Arc<CertifiedKey>>> = HashMap::new();
        let mut default = None;
        for crt in &tls.crt {
            let files = certs::crt_files(crt).map_err(|e| files_error(&tls.origin, e))?;
            for f in files {
                let ck = Arc::new(
                    certs::certified_key(&f, provider).map_err(|e| files_error(&tls.origin, e))?,
                );
                let names = ck.cert.first().map(certs::dns_names).unwrap_or_default();
                for n in names {
                    match n.strip_prefix("*.") {
                        Some(parent) => wildcard
                            .entry(parent.to_string())
                            .or_default()
                            .push(ck.clone()),
                        None => exact.entry(n).or_default().push(ck.clone()),
                    }
                }
                default.get_or_insert(ck);
            }
        }
        let default = default.ok_or_else(|| {
            files_error(
                &tls.origin,
                CertError::NoCertificate {
                    path: tls.crt.first().cloned().unwrap_or_default(),
                },
            )
        })?;
        Ok(SniResolver {
            exact,
            wildcard,
            default,
            strict: tls.strict_sni,
        })
    }

    /// The certificate for `sni` (None only under `strict-sni`).
    fn pick(
        &self,
        sni: Option<&str>,
        usable: impl Fn(&CertifiedKey) -> bool,
    ) -> Option<Arc<CertifiedKey>> {
        let choose = |list: &Vec<Arc<CertifiedKey>>| {
            list.iter().find(|c| usable(c)).or(list.first()).cloned()
        };
        if let Some(name) = sni {
            let name = name.to_ascii_lowercase();
            if let Some(c) = self.exact.get(&name).and_then(choose) {
                return Some(c);
            }
            let parent = name.split_once('.').map(|(_, p)| p);
            if let Some(c) = parent.and_then(|p| self.wildcard.get(p)).and_then(choose) {
                return Some(c);
            }
        }
        (!self.strict).then(|| self.default.clone())
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        super::server_stream::note_sni(hello.server_name());
        let schemes = hello.signature_schemes();
        self.pick(hello.server_name(), |c| {
            c.key.choose_scheme(schemes).is_some()
        })
    }
}

/// The rustls configuration of one `bind ... ssl` line.
pub fn config(tls: &BindTls, resumption: &Resumption) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = provider_for(&tls.params);
    let versions = versions_for(&tls.params, &tls.origin)?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| settings_error(&tls.origin, e))?;
    let builder = match tls.verify {
        ClientVerify::None => builder.with_no_client_auth(),
        verify => {
            let Some(ca) = &tls.ca_file else {
                return Err(settings_error(&tls.origin, "'verify' needs a 'ca-file'"));
            };
            let roots = certs::roots(ca).map_err(|e| files_error(&tls.origin, e))?;
            let mut v =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
            if let Some(crl) = &tls.crl_file {
                v = v.with_crls(certs::crls(crl).map_err(|e| files_error(&tls.origin, e))?);
            }
            if verify == ClientVerify::Optional {
                v = v.allow_unauthenticated();
            }
            builder
                .with_client_cert_verifier(v.build().map_err(|e| settings_error(&tls.origin, e))?)
        }
    };
    let resolver = SniResolver::load(tls, &provider)?;
    let mut cfg = builder.with_cert_resolver(Arc::new(resolver));
    cfg.alpn_protocols = tls.alpn.iter().map(|a| a.as_bytes().to_vec()).collect();
    // HAProxy's default: the server's suite order wins (`prefer-client-ciphers` aside).
    cfg.ignore_client_order = true;
    cfg.session_storage = resumption.cache.clone();
    if tls.params.tickets != Some(false) {
        cfg.ticketer = resumption.ticketer.clone();
    }
    Ok(Arc::new(cfg))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(names: &[&str]) -> Arc<CertifiedKey> {
        let kp = rcgen::KeyPair::generate().expect("key");
        let cert =
            rcgen::CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .expect("params")
                .self_signed(&kp)
                .expect("cert");
        let der = rustls::pki_types::PrivateKeyDer::try_from(kp.serialize_der()).expect("der");
        let provider = rustls::crypto::aws_lc_rs::default_provider();
        let signing = provider
            .key_provider
            .load_private_key(der)
            .expect("signing key");
        Arc::new(CertifiedKey::new(vec![cert.der().clone()], signing))
    }

    #[test]
    fn exact_then_wildcard_then_first_unless_strict() {
        let a = key(&["a.test"]);
        let w = key(&["*.w.test"]);
        let mut r = SniResolver {
            exact: HashMap::from([("a.test".to_string(), vec![a.clone()])]),
            wildcard: HashMap::from([("w.test".to_string(), vec![w.clone()])]),
            default: a.clone(),
            strict: false,
        };
        let any = |_: &CertifiedKey| true;
        assert!(Arc::ptr_eq(&r.pick(Some("A.TEST"), any).expect("cert"), &a));
        assert!(Arc::ptr_eq(
            &r.pick(Some("x.w.test"), any).expect("cert"),
            &w
        ));
        // A wildcard covers one label only.
        assert!(Arc::ptr_eq(
            &r.pick(Some("y.x.w.test"), any).expect("cert"),
            &a
        ));
        assert!(Arc::ptr_eq(&r.pick(None, any).expect("cert"), &a));
        r.strict = true;
        assert!(r.pick(Some("nope.test"), any).is_none());
        assert!(r.pick(None, any).is_none());
    }
}
