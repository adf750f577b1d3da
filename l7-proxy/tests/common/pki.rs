//! A throw-away PKI for the TLS tests: a CA, leaf certificates signed by it (ECDSA P-256,
//! P-384, Ed25519 or RSA-2048), PEM files in a temporary directory removed with it, and a
//! rustls client that trusts the CA.

use std::path::PathBuf;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, SanType, SignatureAlgorithm,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

/// The key type of a leaf certificate.
#[derive(Debug, Clone, Copy)]
pub enum Alg {
    EcdsaP256,
    EcdsaP384,
    Ed25519,
    Rsa2048,
}

impl Alg {
    fn rcgen(self) -> &'static SignatureAlgorithm {
        match self {
            Alg::EcdsaP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            Alg::EcdsaP384 => &rcgen::PKCS_ECDSA_P384_SHA384,
            Alg::Ed25519 => &rcgen::PKCS_ED25519,
            Alg::Rsa2048 => &rcgen::PKCS_RSA_SHA256,
        }
    }
}

/// A certificate authority in memory.
pub struct Ca {
    ca_cert: rcgen::Certificate,
    ca_key: KeyPair,
}

/// A CA with a directory for its files (removed with it).
pub struct Pki {
    pub dir: tempfile::TempDir,
    /// The CA certificate (PEM), for `curl --cacert`, `ca-file`, ...
    pub ca: PathBuf,
    pub authority: Ca,
}

impl Pki {
    pub fn new() -> Pki {
        let dir = tempfile::tempdir().expect("temp dir");
        let authority = Ca::new();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, authority.ca_cert.pem()).expect("write CA");
        Pki { dir, ca, authority }
    }

    /// A PEM file `file` with a leaf for `names` (DNS names, or IP addresses), its chain
    /// (the CA) and its key, as HAProxy's `crt` takes it.
    pub fn leaf(&self, file: &str, names: &[&str], alg: Alg) -> PathBuf {
        self.authority
            .leaf_file(&self.dir.path().join(file), names, alg)
    }

    /// Writes `text` into the PKI's directory.
    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        path
    }
}

impl Ca {
    pub fn new() -> Ca {
        let ca_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("CA key");
        let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name
            .push(DnType::CommonName, "halb test CA");
        let ca_cert = p.self_signed(&ca_key).expect("CA cert");
        Ca { ca_cert, ca_key }
    }

    /// Writes a leaf for `names`, its chain and its key to `path`.
    pub fn leaf_file(&self, path: &std::path::Path, names: &[&str], alg: Alg) -> PathBuf {
        let (cert, key) = self.leaf_pem(names, alg);
        std::fs::write(path, format!("{cert}{}{key}", self.ca_cert.pem())).expect("write leaf");
        path.to_path_buf()
    }

    /// A leaf certificate and its key, as PEM text.
    pub fn leaf_pem(&self, names: &[&str], alg: Alg) -> (String, String) {
        let key = KeyPair::generate_for(alg.rcgen()).expect("leaf key");
        let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
        p.distinguished_name.push(DnType::CommonName, names[0]);
        for n in names {
            p.subject_alt_names
                .push(match n.parse::<std::net::IpAddr>() {
                    Ok(ip) => SanType::IpAddress(ip),
                    Err(_) => SanType::DnsName((*n).try_into().expect("dns name")),
                });
        }
        let cert = p
            .signed_by(&key, &self.ca_cert, &self.ca_key)
            .expect("leaf cert");
        (cert.pem(), key.serialize_pem())
    }

    /// A rustls client trusting the CA, offering `alpn`.
    pub fn client(&self, alpn: &[&[u8]]) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from(self.ca_cert.der().to_vec()))
            .expect("root");
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut c = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        c.alpn_protocols = alpn.iter().map(|a| a.to_vec()).collect();
        Arc::new(c)
    }

    /// A rustls server for a test backend, with a leaf for `names`.
    pub fn server(&self, names: &[&str]) -> Arc<rustls::ServerConfig> {
        let (cert, key) = self.leaf_pem(names, Alg::EcdsaP256);
        let cert = CertificateDer::from_pem_slice(cert.as_bytes()).expect("cert");
        let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).expect("key");
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let c = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .expect("server config");
        Arc::new(c)
    }
}

use rustls::pki_types::pem::PemObject;

/// The name tests connect to.
pub fn localhost() -> ServerName<'static> {
    ServerName::try_from("localhost").expect("name")
}
