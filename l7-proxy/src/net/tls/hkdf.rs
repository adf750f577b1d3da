//! TLS 1.3's key schedule (HKDF, RFC 5869, as RFC 8446 §7.1 uses it) over aws-lc's HMAC with
//! each secret's keyed state computed once.
//!
//! The provider's own HKDF re-keys HMAC at every expansion (aws-lc's `HKDF_expand` starts
//! with `HMAC_Init_ex`): two of the four hash blocks of a `Derive-Secret` go to hashing the
//! key's pads again, and a full handshake makes about twenty of them. rustls'
//! [`HkdfUsingHmac`] keys one HMAC per secret and signs every expansion from a copy of it
//! (aws-lc-rs' `hmac::Context::with_key` copies the keyed state), with the same aws-lc
//! SHA-2. Full handshakes spend 19% of lbproxy's CPU in SHA-512 blocks (the SHA-384 suite
//! both proxies prefer; aws-lc has no AVX SHA-512 on AMD CPUs), most of it here (issue 12).

use std::sync::OnceLock;

use aws_lc_rs::hmac as lc;
use rustls::crypto::hash::HashAlgorithm;
use rustls::crypto::hmac::{Hmac, Key, Tag};
use rustls::crypto::tls13::HkdfUsingHmac;
use rustls::{SupportedCipherSuite, Tls13CipherSuite};

/// HMAC over aws-lc, keyed once per key.
struct KeyedHmac(lc::Algorithm);

struct KeyedState(lc::Key);

impl Hmac for KeyedHmac {
    fn with_key(&self, key: &[u8]) -> Box<dyn Key> {
        Box::new(KeyedState(lc::Key::new(self.0, key)))
    }

    fn hash_output_len(&self) -> usize {
        self.0.digest_algorithm().output_len()
    }
}

impl Key for KeyedState {
    fn sign_concat(&self, first: &[u8], middle: &[&[u8]], last: &[u8]) -> Tag {
        let mut ctx = lc::Context::with_key(&self.0);
        ctx.update(first);
        for m in middle {
            ctx.update(m);
        }
        ctx.update(last);
        Tag::new(ctx.sign().as_ref())
    }

    fn tag_len(&self) -> usize {
        self.0.algorithm().digest_algorithm().output_len()
    }
}

static HMAC_SHA256: KeyedHmac = KeyedHmac(lc::HMAC_SHA256);
static HMAC_SHA384: KeyedHmac = KeyedHmac(lc::HMAC_SHA384);
static HKDF_SHA256: HkdfUsingHmac<'static> = HkdfUsingHmac(&HMAC_SHA256);
static HKDF_SHA384: HkdfUsingHmac<'static> = HkdfUsingHmac(&HMAC_SHA384);

/// `suite` with the keyed-once HKDF (the same suite for TLS 1.2).
pub fn with_keyed_hkdf(suite: SupportedCipherSuite) -> SupportedCipherSuite {
    keyed_suites()
        .iter()
        .find(|k| k.suite() == suite.suite())
        .copied()
        .unwrap_or(suite)
}

/// aws-lc-rs' TLS 1.3 suites with the keyed-once HKDF, made once for the process: rustls
/// takes suites as `&'static`, and configurations are built again at every reload.
fn keyed_suites() -> &'static [SupportedCipherSuite] {
    static KEYED: OnceLock<Vec<SupportedCipherSuite>> = OnceLock::new();
    KEYED.get_or_init(|| {
        rustls::crypto::aws_lc_rs::ALL_CIPHER_SUITES
            .iter()
            .filter_map(|suite| match suite {
                SupportedCipherSuite::Tls13(s) => Some(SupportedCipherSuite::Tls13(keyed(s)?)),
                _ => None,
            })
            .collect()
    })
}

/// `s` with the keyed-once HKDF of its hash; `None` for a hash without one here.
fn keyed(s: &'static Tls13CipherSuite) -> Option<&'static Tls13CipherSuite> {
    let hkdf: &'static HkdfUsingHmac<'static> = match s.common.hash_provider.algorithm() {
        HashAlgorithm::SHA256 => &HKDF_SHA256,
        HashAlgorithm::SHA384 => &HKDF_SHA384,
        _ => return None,
    };
    Some(Box::leak(Box::new(Tls13CipherSuite {
        common: rustls::CipherSuiteCommon {
            suite: s.common.suite,
            hash_provider: s.common.hash_provider,
            confidentiality_limit: s.common.confidentiality_limit,
        },
        hkdf_provider: hkdf,
        aead_alg: s.aead_alg,
        quic: s.quic,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::crypto::aws_lc_rs::cipher_suite as suites;
    use rustls::crypto::tls13::Hkdf;

    /// The keyed-once HKDF and the provider's give the same bytes (RFC 8446 §7.1 labels).
    #[test]
    fn expands_as_the_providers_hkdf_does() {
        for suite in [
            suites::TLS13_AES_128_GCM_SHA256,
            suites::TLS13_AES_256_GCM_SHA384,
        ] {
            let (SupportedCipherSuite::Tls13(ours), SupportedCipherSuite::Tls13(theirs)) =
                (with_keyed_hkdf(suite), suite)
            else {
                panic!("TLS 1.3 suites");
            };
            let (a, b): (&dyn Hkdf, &dyn Hkdf) = (ours.hkdf_provider, theirs.hkdf_provider);
            let secret = [7u8; 48];
            let (x, y) = (
                a.extract_from_secret(
                    Some(b"salt"),
                    &secret[..a.extract_from_zero_ikm(None).hash_len()],
                ),
                b.extract_from_secret(
                    Some(b"salt"),
                    &secret[..b.extract_from_zero_ikm(None).hash_len()],
                ),
            );
            let info: [&[u8]; 3] = [b"\x00\x30", b"\x0dtls13 derived", b"\x00"];
            let (mut p, mut q) = ([0u8; 80], [0u8; 80]);
            x.expand_slice(&info, &mut p).expect("80 bytes");
            y.expand_slice(&info, &mut q).expect("80 bytes");
            assert_eq!(p, q, "{:?}", ours.common.suite);
            assert_eq!(
                x.expand_block(&info).as_ref(),
                y.expand_block(&info).as_ref()
            );
            let okm = x.expand_block(&info);
            assert_eq!(
                a.hmac_sign(&okm, b"finished").as_ref(),
                b.hmac_sign(&okm, b"finished").as_ref()
            );
        }
    }

    #[test]
    fn a_suite_is_made_once_and_tls12_is_left_alone() {
        let suite = suites::TLS13_AES_256_GCM_SHA384;
        let (SupportedCipherSuite::Tls13(a), SupportedCipherSuite::Tls13(b)) =
            (with_keyed_hkdf(suite), with_keyed_hkdf(suite))
        else {
            panic!("TLS 1.3 suites");
        };
        assert!(std::ptr::eq(a, b));
        let tls12 = suites::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256;
        assert_eq!(with_keyed_hkdf(tls12).suite(), tls12.suite());
    }
}
