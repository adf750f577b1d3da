//! Loading certificates and keys as HAProxy does: a `crt` is a PEM file holding the
//! certificate, its chain and the private key (RSA, ECDSA P-256/P-384, Ed25519), or a
//! directory of such files; a key missing from the PEM is looked for in `<file>.key`.
//! Every failure names the file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;

/// Why certificates or keys could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file holds no certificate.
    #[error("{path}: no certificate found (expected PEM 'BEGIN CERTIFICATE')")]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// Neither the file nor `<file>.key` holds a private key.
    #[error("{path}: no private key found (in the file or in {path}.key)")]
    NoKey {
        /// The file.
        path: PathBuf,
    },
    /// The PEM text is malformed.
    #[error("{path}: invalid PEM: {reason}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The key is of a kind the crypto provider cannot sign with, or is corrupt.
    #[error("{path}: unusable private key: {reason}")]
    BadKey {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The key is not the certificate's.
    #[error("{path}: the private key does not match the certificate")]
    KeyMismatch {
        /// The file.
        path: PathBuf,
    },
    /// A directory given as `crt` holds no certificate file.
    #[error("{path}: directory holds no certificate")]
    EmptyDirectory {
        /// The directory.
        path: PathBuf,
    },
}

fn read(path: &Path) -> Result<Vec<u8>, CertError> {
    std::fs::read(path).map_err(|source| CertError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn pem_error(path: &Path, e: impl std::fmt::Display) -> CertError {
    CertError::Pem {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// Every certificate in a PEM file, in order.
pub fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, CertError> {
    let pem = read(path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(path, e))?;
    if certs.is_empty() {
        return Err(CertError::NoCertificate {
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

/// Every revocation list in a PEM file.
pub fn crls(path: &Path) -> Result<Vec<CertificateRevocationListDer<'static>>, CertError> {
    let pem = read(path)?;
    CertificateRevocationListDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(path, e))
}

/// Roots from a PEM bundle (`ca-file`); `@system-ca` reads Debian's bundle.
pub fn roots(path: &Path) -> Result<rustls::RootCertStore, CertError> {
    let path = if path == Path::new("@system-ca") {
        Path::new("/etc/ssl/certs/ca-certificates.crt")
    } else {
        path
    };
    let mut store = rustls::RootCertStore::empty();
    for c in certificates(path)? {
        store.add(c).map_err(|e| pem_error(path, e))?;
    }
    Ok(store)
}

/// One `crt` PEM file: the chain and its key, checked to belong together.
pub fn certified_key(path: &Path, provider: &CryptoProvider) -> Result<CertifiedKey, CertError> {
    let chain = certificates(path)?;
    let pem = read(path)?;
    let key = match PrivateKeyDer::from_pem_slice(&pem) {
        Ok(k) => k,
        Err(rustls::pki_types::pem::Error::NoItemsFound) => {
            let mut side = path.as_os_str().to_owned();
            side.push(".key");
            let side = PathBuf::from(side);
            match std::fs::read(&side) {
                Ok(k) => PrivateKeyDer::from_pem_slice(&k).map_err(|_| CertError::NoKey {
                    path: path.to_path_buf(),
                })?,
                Err(_) => {
                    return Err(CertError::NoKey {
                        path: path.to_path_buf(),
                    })
                }
            }
        }
        Err(e) => return Err(pem_error(path, e)),
    };
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| CertError::BadKey {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    let ck = CertifiedKey::new(chain, signing);
    // A key whose public half differs from the certificate's: found here, not at the first
    // handshake (rustls compares the SubjectPublicKeyInfo).
    match ck.keys_match() {
        Ok(()) => Ok(ck),
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            Err(CertError::KeyMismatch {
                path: path.to_path_buf(),
            })
        }
        // The key type cannot tell its public half (nothing to compare): accept.
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => Ok(ck),
        Err(e) => Err(CertError::BadKey {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }),
    }
}

/// The files a `crt` names: itself, or the certificate files of a directory (sorted; the
/// side files HAProxy keeps beside certificates are skipped).
pub fn crt_files(path: &Path) -> Result<Vec<PathBuf>, CertError> {
    let meta = std::fs::metadata(path).map_err(|source| CertError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let entries = std::fs::read_dir(path).map_err(|source| CertError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    const SIDE_FILES: [&str; 5] = ["key", "ocsp", "issuer", "sctl", "crt-list"];
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .filter(|p| {
            !p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| SIDE_FILES.contains(&e))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(CertError::EmptyDirectory {
            path: path.to_path_buf(),
        });
    }
    Ok(files)
}

/// The DNS names a leaf certificate is valid for (its subjectAltName entries), lower-cased;
/// wildcards keep their `*.` prefix.
pub fn dns_names(leaf: &CertificateDer<'_>) -> Vec<String> {
    match webpki::EndEntityCert::try_from(leaf) {
        Ok(ee) => ee
            .valid_dns_names()
            .map(|n| n.to_ascii_lowercase())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Shared across the certificates of a listener so one file's error names the file.
pub type Loaded = Vec<(PathBuf, Arc<CertifiedKey>)>;
