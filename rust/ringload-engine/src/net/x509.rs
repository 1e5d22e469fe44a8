//! Just enough X.509 to find a certificate's public key: a walk over the DER of the
//! `TBSCertificate` to its `subjectPublicKeyInfo`, reading nothing else.
//!
//! The client certificate is the server's to judge; ringload only checks that the key it was
//! given is the certificate's. webpki's parser (what rustls's own check uses) refuses
//! certificates OpenSSL servers accept, such as X.509 v1 ones without the `version` field, so
//! that check is made here on the bytes instead.
//!
//! ```text
//! Certificate  ::= SEQUENCE { tbsCertificate TBSCertificate, signatureAlgorithm, signature }
//! TBSCertificate ::= SEQUENCE {
//!     version         [0] EXPLICIT Version DEFAULT v1,   -- absent in v1 certificates
//!     serialNumber    INTEGER,
//!     signature       AlgorithmIdentifier,               -- SEQUENCE
//!     issuer          Name,                              -- SEQUENCE
//!     validity        Validity,                          -- SEQUENCE
//!     subject         Name,                              -- SEQUENCE
//!     subjectPublicKeyInfo SubjectPublicKeyInfo,         -- SEQUENCE
//!     ... }
//! ```

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
/// `[0]`, constructed, context-specific: the explicit `version` field.
const VERSION: u8 = 0xa0;
/// A certificate is far below 4 GiB; more length bytes than this is not one.
const MAX_LENGTH_BYTES: usize = 4;

/// Why a certificate's DER could not be walked to its public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a DER X.509 certificate ({0})")]
pub struct NotACertificate(&'static str);

/// One DER element at the front of some input.
struct Element<'a> {
    tag: u8,
    /// Tag, length and contents: the element as encoded.
    whole: &'a [u8],
    contents: &'a [u8],
    /// What follows the element.
    rest: &'a [u8],
}

fn element<'a>(input: &'a [u8], what: &'static str) -> Result<Element<'a>, NotACertificate> {
    let truncated = NotACertificate(what);
    let (&tag, after_tag) = input.split_first().ok_or(truncated)?;
    // Multi-byte tags (low five bits all set) never occur in the fields walked here.
    if tag & 0x1f == 0x1f {
        return Err(NotACertificate(what));
    }
    let (&first, after_first) = after_tag.split_first().ok_or(truncated)?;
    let (length, after_length) = if first < 0x80 {
        (usize::from(first), after_first)
    } else {
        // 0x80 is BER's indefinite length, which DER forbids.
        let count = usize::from(first & 0x7f);
        if count == 0 || count > MAX_LENGTH_BYTES || after_first.len() < count {
            return Err(truncated);
        }
        let (bytes, after) = after_first.split_at(count);
        let length = bytes
            .iter()
            .fold(0usize, |length, &byte| (length << 8) | usize::from(byte));
        (length, after)
    };
    if after_length.len() < length {
        return Err(truncated);
    }
    let header = input.len() - after_length.len();
    Ok(Element {
        tag,
        whole: &input[..header + length],
        contents: &after_length[..length],
        rest: &after_length[length..],
    })
}

fn expect<'a>(
    input: &'a [u8],
    tag: u8,
    what: &'static str,
) -> Result<Element<'a>, NotACertificate> {
    let found = element(input, what)?;
    if found.tag != tag {
        return Err(NotACertificate(what));
    }
    Ok(found)
}

/// The certificate's `subjectPublicKeyInfo`, as encoded (SEQUENCE tag and length included):
/// the bytes rustls's `SigningKey::public_key()` gives for the matching private key.
pub fn subject_public_key_info(certificate: &[u8]) -> Result<&[u8], NotACertificate> {
    let certificate = expect(certificate, SEQUENCE, "no certificate SEQUENCE")?;
    let tbs = expect(certificate.contents, SEQUENCE, "no TBSCertificate")?;
    let mut fields = tbs.contents;
    if fields.first() == Some(&VERSION) {
        fields = element(fields, "a broken version field")?.rest;
    }
    for (tag, what) in [
        (INTEGER, "no serial number"),
        (SEQUENCE, "no signature algorithm"),
        (SEQUENCE, "no issuer"),
        (SEQUENCE, "no validity"),
        (SEQUENCE, "no subject"),
    ] {
        fields = expect(fields, tag, what)?.rest;
    }
    Ok(expect(fields, SEQUENCE, "no subject public key info")?.whole)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A DER element: tag, minimal length, contents.
    fn tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let length = contents.len();
        if length < 0x80 {
            out.push(length as u8);
        } else {
            let bytes: Vec<u8> = length
                .to_be_bytes()
                .into_iter()
                .skip_while(|&b| b == 0)
                .collect();
            out.push(0x80 | bytes.len() as u8);
            out.extend(bytes);
        }
        out.extend(contents);
        out
    }

    fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
        tlv(SEQUENCE, &parts.concat())
    }

    /// An EC P-256 SubjectPublicKeyInfo's shape: algorithm OIDs, then the point as a BIT STRING.
    fn spki() -> Vec<u8> {
        let ec_public_key = tlv(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]);
        let prime256v1 = tlv(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]);
        let mut point = vec![0x00, 0x04];
        point.extend((0..64).map(|i| i as u8));
        seq(&[seq(&[ec_public_key, prime256v1]), tlv(0x03, &point)])
    }

    /// A certificate with the fields the walk passes over; `version` is `Some(2)` for v3.
    /// The subject is long enough that the TBSCertificate's length takes two bytes.
    fn certificate(version: Option<u8>) -> Vec<u8> {
        let name = |cn: &str| {
            let common_name = tlv(0x06, &[0x55, 0x04, 0x03]);
            seq(&[tlv(0x31, &seq(&[common_name, tlv(0x0c, cn.as_bytes())]))])
        };
        let algorithm = seq(&[tlv(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02])]);
        let time = |t: &str| tlv(0x17, t.as_bytes());
        let mut tbs = Vec::new();
        if let Some(v) = version {
            tbs.push(tlv(VERSION, &tlv(INTEGER, &[v])));
        }
        tbs.extend([
            tlv(INTEGER, &[0x52, 0x0b, 0x12, 0x74]),
            algorithm.clone(),
            name("ringload test CA"),
            seq(&[time("260101000000Z"), time("260103000000Z")]),
            name(&"load-client ".repeat(12)),
            spki(),
        ]);
        if version.is_some() {
            // [3] extensions: skipped, like everything after the key.
            tbs.push(tlv(0xa3, &seq(&[seq(&[tlv(0x06, &[0x55, 0x1d, 0x13])])])));
        }
        seq(&[seq(&tbs), algorithm, tlv(0x03, &[0x00, 0x30, 0x00])])
    }

    #[test]
    fn a_v1_certificate_without_the_version_field() {
        let der = certificate(None);
        assert_eq!(der[1], 0x82, "long-form lengths are walked too");
        assert_eq!(subject_public_key_info(&der), Ok(&spki()[..]));
    }

    #[test]
    fn a_v3_certificate_with_the_version_field() {
        let der = certificate(Some(2));
        assert_eq!(subject_public_key_info(&der), Ok(&spki()[..]));
    }

    /// Made by `openssl x509 -req` for one P-256 key: without extensions (v1, as most mTLS
    /// tutorials make client certificates), and with `-extfile` (v3).
    const OPENSSL_V1: &str = "-----BEGIN CERTIFICATE-----
MIIBATCBqAIBATAKBggqhkjOPQQDAjANMQswCQYDVQQDDAJjYTAeFw0yNjEyMDYx
MjQzNTdaFw0zNjEyMDMxMjQzNTdaMA0xCzAJBgNVBAMMAnYxMFkwEwYHKoZIzj0C
AQYIKoZIzj0DAQcDQgAEme/T60B83XBLLlnuRnW08AEvw/MYBbM8MfKt/N1XQI2Z
i0G9h7WWQ3XcwmMLyuZfHB+p5QL8Xj6y3Qx6NmxRcTAKBggqhkjOPQQDAgNIADBF
AiBtdBZ7kjD4vWNbvehuZcmmB6TEGRfEixwd7owmw+GxgQIhAPI6m+CotE1A58R7
Vz9NAPjV1QGeeUcKZFKe4vsjEi8o
-----END CERTIFICATE-----";
    const OPENSSL_V3: &str = "-----BEGIN CERTIFICATE-----
MIIBYDCCAQagAwIBAgIBAjAKBggqhkjOPQQDAjANMQswCQYDVQQDDAJjYTAeFw0y
NjEyMDYxMjQzNTdaFw0zNjEyMDMxMjQzNTdaMA0xCzAJBgNVBAMMAnYxMFkwEwYH
KoZIzj0CAQYIKoZIzj0DAQcDQgAEme/T60B83XBLLlnuRnW08AEvw/MYBbM8MfKt
/N1XQI2Zi0G9h7WWQ3XcwmMLyuZfHB+p5QL8Xj6y3Qx6NmxRcaNXMFUwEwYDVR0l
BAwwCgYIKwYBBQUHAwIwHQYDVR0OBBYEFMy2AI9bsy+k7Si3Jm65Jom82PboMB8G
A1UdIwQYMBaAFMKV0sTpfsibtji6XvmKF7uCULcTMAoGCCqGSM49BAMCA0gAMEUC
IQDQryaytbnCdzV6AMxKtkWpOIfEIxaxBNJcZmhdrEtaBgIgR5cnQeCbmE0TpH9m
e8W+EpRTrzH7hWNTNlxUCaui8qA=
-----END CERTIFICATE-----";
    /// `openssl pkey -pubout` of that key.
    const OPENSSL_PUBLIC_KEY: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEme/T60B83XBLLlnuRnW08AEvw/MY
BbM8MfKt/N1XQI2Zi0G9h7WWQ3XcwmMLyuZfHB+p5QL8Xj6y3Qx6NmxRcQ==
-----END PUBLIC KEY-----";

    #[test]
    fn openssl_certificates_of_both_versions() {
        use rustls_pki_types::pem::PemObject;
        use rustls_pki_types::{CertificateDer, SubjectPublicKeyInfoDer};
        let key = SubjectPublicKeyInfoDer::from_pem_slice(OPENSSL_PUBLIC_KEY.as_bytes()).unwrap();
        for pem in [OPENSSL_V1, OPENSSL_V3] {
            let der = CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
            assert_eq!(subject_public_key_info(&der), Ok(key.as_ref()));
        }
    }

    #[test]
    fn input_that_is_not_a_certificate_is_an_error_not_a_panic() {
        let der = certificate(Some(2));
        // Every truncation, and every byte changed, of a valid certificate.
        for end in 0..der.len() {
            let _ = subject_public_key_info(&der[..end]);
        }
        for at in 0..der.len() {
            for byte in [0x00, 0x30, 0x7f, 0x80, 0x84, 0x88, 0xa0, 0xff] {
                let mut changed = der.clone();
                changed[at] = byte;
                let _ = subject_public_key_info(&changed);
            }
        }
        for garbage in [
            &b""[..],
            b"\x30",
            b"\x30\x80\x00\x00",                 // indefinite length
            b"\x30\x84\xff\xff\xff\xff",         // longer than the input
            b"\x30\x89\x01\x02\x03\x04\x05\x06", // more length bytes than any certificate
            b"\x1f\x01\x00",                     // a multi-byte tag
            b"-----BEGIN CERTIFICATE-----",
            b"\x30\x03\x02\x01\x00", // a SEQUENCE holding an INTEGER, not a TBSCertificate
        ] {
            assert!(subject_public_key_info(garbage).is_err(), "{garbage:?}");
        }
        assert_eq!(
            subject_public_key_info(&der[..der.len() - 1]),
            Err(NotACertificate("no certificate SEQUENCE"))
        );
        let mut no_key = certificate(None);
        let key = spki();
        let at = no_key.windows(key.len()).position(|w| w == key).unwrap();
        no_key[at] = INTEGER;
        assert_eq!(
            subject_public_key_info(&no_key),
            Err(NotACertificate("no subject public key info"))
        );
    }
}
