//! TLS for PostgreSQL connections (rustls through `tokio-postgres-rustls`),
//! following libpq's `sslmode`:
//!
//! | sslmode | TLS | certificate check |
//! |---|---|---|
//! | `disable` | never | - |
//! | `prefer` (default) | when the server offers it | none |
//! | `require` | always | none (with a root file: as `verify-ca`, like libpq) |
//! | `verify-ca` | always | chain to a trusted root, host name not checked |
//! | `verify-full` | always | chain and host name |
//!
//! Trusted roots: the PEM file named by `sslrootcert`; else
//! `~/.postgresql/root.crt` when it exists; else (and for
//! `sslrootcert=system`) the system store plus the Mozilla roots.
//! The same connector type serves every mode, so one pool type fits all.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::connstr::{ConnParams, SslMode};

/// A TLS setup that cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error(
        "cannot read the root certificate file {path} (sslrootcert): {message}; check the path and that it is a PEM file"
    )]
    RootCertRead { path: PathBuf, message: String },
    #[error(
        "the root certificate file {path} (sslrootcert) holds no usable certificate; it must contain PEM `BEGIN CERTIFICATE` blocks"
    )]
    NoRootCerts { path: PathBuf },
    #[error(
        "no trusted root certificates found on this system for sslmode={mode}; pass sslrootcert=/path/to/ca.pem"
    )]
    NoSystemRoots { mode: &'static str },
    #[error("cannot set up TLS: {0}")]
    Setup(String),
}

/// The connector for `params`: its `sslmode` and `sslrootcert`.
pub fn connector(params: &ConnParams) -> Result<MakeRustlsConnect, TlsError> {
    connector_for(params.sslmode, params.sslrootcert.as_deref())
}

/// The connector for an SSL mode and an optional `sslrootcert` (a PEM path or `system`).
pub fn connector_for(mode: SslMode, rootcert: Option<&str>) -> Result<MakeRustlsConnect, TlsError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verification = match (mode, rootcert) {
        (SslMode::Disable | SslMode::Prefer, _) => None,
        // libpq: `require` with a root file (given, or the default one) verifies the chain.
        (SslMode::Require, None) => match default_root_file() {
            Some(path) => Some((file_roots(&path)?, false)),
            None => None,
        },
        (SslMode::Require | SslMode::VerifyCa, r) => Some((roots(mode, r)?, false)),
        (SslMode::VerifyFull, r) => Some((roots(mode, r)?, true)),
    };
    let verifier: Arc<dyn ServerCertVerifier> = match verification {
        None => Arc::new(NoVerification(provider.clone())),
        Some((roots, check_name)) => {
            let inner =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| TlsError::Setup(e.to_string()))?;
            if check_name {
                inner as Arc<dyn ServerCertVerifier>
            } else {
                Arc::new(ChainOnly(inner))
            }
        }
    };
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Setup(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

fn roots(mode: SslMode, rootcert: Option<&str>) -> Result<RootCertStore, TlsError> {
    let path = match rootcert {
        Some("system") => None,
        Some(p) => Some(PathBuf::from(p)),
        None => default_root_file(),
    };
    match path {
        Some(p) => file_roots(&p),
        None => system_roots(mode),
    }
}

/// `~/.postgresql/root.crt`, libpq's default, when it exists.
fn default_root_file() -> Option<PathBuf> {
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty())?;
    let p = PathBuf::from(home).join(".postgresql/root.crt");
    p.is_file().then_some(p)
}

fn file_roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let bytes = std::fs::read(path).map_err(|e| TlsError::RootCertRead {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    let mut store = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&bytes).flatten() {
        let _ = store.add(cert);
    }
    if store.is_empty() {
        return Err(TlsError::NoRootCerts {
            path: path.to_owned(),
        });
    }
    Ok(store)
}

fn system_roots(mode: SslMode) -> Result<RootCertStore, TlsError> {
    let mut store = RootCertStore::empty();
    store.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    store.add_parsable_certificates(webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().cloned());
    if store.is_empty() {
        return Err(TlsError::NoSystemRoots { mode: mode.name() });
    }
    Ok(store)
}

fn schemes(provider: &CryptoProvider) -> Vec<SignatureScheme> {
    provider
        .signature_verification_algorithms
        .supported_schemes()
}

/// `prefer` / `require` without roots: any certificate is accepted (as
/// libpq does), but the handshake signatures are still checked.
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        schemes(&self.0)
    }
}

/// `verify-ca`: the chain must verify; a host name mismatch is accepted.
/// (WebPKI checks the chain before the name, so a name error means the
/// chain was fine.)
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mode_builds_a_connector() {
        for mode in [
            SslMode::Disable,
            SslMode::Prefer,
            SslMode::Require,
            SslMode::VerifyCa,
            SslMode::VerifyFull,
        ] {
            connector_for(mode, None).unwrap();
            connector_for(mode, Some("system")).unwrap();
        }
    }

    #[test]
    fn a_missing_or_empty_root_file_is_explained() {
        let e = connector_for(SslMode::VerifyFull, Some("/nonexistent/ca.pem"))
            .err()
            .unwrap();
        assert!(matches!(e, TlsError::RootCertRead { .. }), "{e}");
        assert!(e.to_string().contains("/nonexistent/ca.pem"));
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate").unwrap();
        let e = connector_for(SslMode::VerifyCa, empty.to_str())
            .err()
            .unwrap();
        assert!(matches!(e, TlsError::NoRootCerts { .. }), "{e}");
        // prefer never reads the file.
        connector_for(SslMode::Prefer, Some("/nonexistent/ca.pem")).unwrap();
    }
}
