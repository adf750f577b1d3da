//! The client side of `server ... ssl`: verification (`verify`, `ca-file`, `crl-file`,
//! `verifyhost`), the SNI sent (`sni`), a client certificate (`crt`).

use std::net::IpAddr;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, SignatureScheme};

use super::certs;
use super::{files_error, provider_for, settings_error, versions_for, TlsError};
use crate::config::tls::{ServerSni, ServerTls};

/// What a TLS connection to one server needs.
#[derive(Debug, Clone)]
pub struct UpstreamTls {
    /// The rustls configuration (its session cache resumes connections to the server).
    pub config: Arc<ClientConfig>,
    /// Where the SNI comes from; `None` sends none.
    pub sni: Option<ServerSni>,
}

impl UpstreamTls {
    /// Builds it from a server line's settings.
    pub fn new(t: &ServerTls) -> Result<UpstreamTls, TlsError> {
        let o = &t.origin;
        let provider = provider_for(&t.params);
        let versions = versions_for(&t.params, o)?;
        let verifier: Arc<dyn ServerCertVerifier> = if t.verify.unwrap_or(true) {
            let Some(ca) = &t.ca_file else {
                return Err(settings_error(o, "'verify required' needs a 'ca-file'"));
            };
            let roots = certs::roots(ca).map_err(|e| files_error(o, e))?;
            let mut b =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone());
            if let Some(crl) = &t.crl_file {
                b = b.with_crls(certs::crls(crl).map_err(|e| files_error(o, e))?);
            }
            let name = match &t.verifyhost {
                Some(h) => NameCheck::Fixed(
                    ServerName::try_from(h.clone())
                        .map_err(|e| settings_error(o, format!("verifyhost '{h}': {e}")))?,
                ),
                None if t.sni.is_some() => NameCheck::Sent,
                // HAProxy checks the name only when `sni` or `verifyhost` gives one.
                None => NameCheck::None,
            };
            Arc::new(Verify {
                inner: b.build().map_err(|e| settings_error(o, e))?,
                name,
            })
        } else {
            Arc::new(NoVerify(provider.clone()))
        };
        let builder = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&versions)
            .map_err(|e| settings_error(o, e))?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let mut cfg = match &t.crt {
            Some(path) => {
                let chain = certs::certificates(path).map_err(|e| files_error(o, e))?;
                let pem = std::fs::read(path).map_err(|source| {
                    files_error(
                        o,
                        certs::CertError::Read {
                            path: path.clone(),
                            source,
                        },
                    )
                })?;
                let key =
                    <PrivateKeyDer as rustls::pki_types::pem::PemObject>::from_pem_slice(&pem)
                        .map_err(|_| {
                            files_error(o, certs::CertError::NoKey { path: path.clone() })
                        })?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| settings_error(o, format!("{}: {e}", path.display())))?
            }
            None => builder.with_no_client_auth(),
        };
        cfg.alpn_protocols = t.alpn.iter().map(|a| a.as_bytes().to_vec()).collect();
        Ok(UpstreamTls {
            config: Arc::new(cfg),
            sni: t.sni.clone(),
        })
    }

    /// The name to connect with: the SNI (a DNS name), or the server's address, for which
    /// rustls sends no SNI (RFC 6066 §3: literal addresses are not sent).
    pub fn server_name(
        &self,
        ip: IpAddr,
        host: Option<&str>,
        client_sni: Option<&str>,
    ) -> ServerName<'static> {
        let wanted = match &self.sni {
            Some(ServerSni::Fixed(n)) => Some(n.as_str()),
            Some(ServerSni::RequestHost) => host.map(strip_port),
            Some(ServerSni::ClientSni) => client_sni,
            None => None,
        };
        wanted
            .and_then(|n| ServerName::try_from(n.to_string()).ok())
            .unwrap_or(ServerName::IpAddress(ip.into()))
    }
}

/// `host[:port]` or `[v6]:port` without the port.
fn strip_port(h: &str) -> &str {
    if let Some(rest) = h.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match h.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => h,
    }
}

/// Which name a server certificate is checked against.
#[derive(Debug)]
enum NameCheck {
    /// The name connected with (the SNI).
    Sent,
    /// `verifyhost`.
    Fixed(ServerName<'static>),
    /// Chain only.
    None,
}

/// Full verification of the chain, with the name check `verifyhost`/`sni` ask for.
#[derive(Debug)]
struct Verify {
    inner: Arc<WebPkiServerVerifier>,
    name: NameCheck,
}

impl ServerCertVerifier for Verify {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let name = match &self.name {
            NameCheck::Fixed(n) => n,
            _ => server_name,
        };
        match self
            .inner
            .verify_server_cert(end_entity, intermediates, name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if matches!(self.name, NameCheck::None) => Ok(ServerCertVerified::assertion()),
            r => r,
        }
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(m, c, d)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(m, c, d)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// `verify none`: any certificate is accepted (as asked), but the handshake signatures are
/// still checked, so the key exchange is bound to the certificate presented.
#[derive(Debug)]
struct NoVerify(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_stripped_from_hosts() {
        assert_eq!(strip_port("a.test:8443"), "a.test");
        assert_eq!(strip_port("a.test"), "a.test");
        assert_eq!(strip_port("[::1]:443"), "::1");
    }
}
