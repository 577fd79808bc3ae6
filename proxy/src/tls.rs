//! The listener's TLS configuration (`--tls-cert`, `--tls-key`): rustls with the `ring`
//! provider, ALPN `h2` then `http/1.1`.
//!
//! The certificate is served through a resolver holding the pair in force, so a renewed pair
//! (cert-manager rewrites a Secret volume; certificates last days to months) is taken by every
//! new handshake without a restart, while open connections keep theirs. A pair that does not
//! load leaves the old one in force.

mod expiry;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

pub use expiry::not_after;

/// The certificate or key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// A PEM file cannot be read or holds no usable item.
    #[error("cannot read {what} from `{path}`: {reason}; give a PEM file")]
    Pem {
        /// `certificate` or `private key`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// rustls refused the pair (e.g. the key does not match the certificate).
    #[error("invalid certificate or key: {0}; check that `--tls-key` belongs to `--tls-cert`")]
    Rustls(#[from] rustls::Error),
    /// The leaf certificate's validity cannot be read.
    #[error("cannot read the validity of the certificate in `{path}`: {reason}; give an X.509 certificate")]
    Validity {
        /// The file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
}

/// A server configuration from a certificate chain and its key (DER).
pub fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<rustls::ServerConfig>, TlsSetupError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn read_pem(
    cert: &Path,
    key: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsSetupError> {
    let pem_err = |what, path: &Path, reason: String| TlsSetupError::Pem {
        what,
        path: path.to_owned(),
        reason,
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| pem_err("certificate", cert, e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_err("certificate", cert, e.to_string()))?;
    if chain.is_empty() {
        return Err(pem_err(
            "certificate",
            cert,
            "no certificate found".to_owned(),
        ));
    }
    let key_der = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| pem_err("private key", key, e.to_string()))?;
    Ok((chain, key_der))
}

/// A server configuration from PEM files.
pub fn server_config_from_pem(
    cert: &Path,
    key: &Path,
) -> Result<Arc<rustls::ServerConfig>, TlsSetupError> {
    let (chain, key_der) = read_pem(cert, key)?;
    server_config(chain, key_der)
}

/// The pair in force and its leaf's notAfter.
#[derive(Debug)]
struct Loaded {
    key: Arc<CertifiedKey>,
    not_after: i64,
}

/// The certificate and key files and the pair loaded from them; the listener's
/// [`ResolvesServerCert`].
#[derive(Debug)]
pub struct ReloadableCert {
    cert: PathBuf,
    key: PathBuf,
    provider: Arc<rustls::crypto::CryptoProvider>,
    current: ArcSwap<Loaded>,
}

impl ReloadableCert {
    /// Loads the pair; `Err` when it cannot serve (unreadable, no certificate, a key that does
    /// not belong to the certificate, no readable validity).
    pub fn load(cert: &Path, key: &Path) -> Result<Arc<Self>, TlsSetupError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let loaded = load_pair(cert, key, &provider)?;
        Ok(Arc::new(Self {
            cert: cert.to_owned(),
            key: key.to_owned(),
            provider,
            current: ArcSwap::from_pointee(loaded),
        }))
    }

    /// Re-reads both files and swaps the pair in; on `Err` the pair in force stays. Blocking
    /// file I/O: run it off the request path.
    pub fn reload(&self) -> Result<(), TlsSetupError> {
        let loaded = load_pair(&self.cert, &self.key, &self.provider)?;
        self.current.store(Arc::new(loaded));
        Ok(())
    }

    /// The leaf certificate's notAfter in force, in unix seconds.
    pub fn not_after(&self) -> i64 {
        self.current.load().not_after
    }

    /// The files to watch.
    pub fn files(&self) -> Vec<PathBuf> {
        vec![self.cert.clone(), self.key.clone()]
    }

    /// The listener's configuration, resolving every handshake to the pair in force.
    pub fn server_config(self: &Arc<Self>) -> Result<Arc<rustls::ServerConfig>, TlsSetupError> {
        let resolver: Arc<dyn ResolvesServerCert> = Arc::clone(self) as _;
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::clone(&self.provider))
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(resolver);
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

impl ResolvesServerCert for ReloadableCert {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(&self.current.load().key))
    }
}

fn load_pair(
    cert: &Path,
    key: &Path,
    provider: &rustls::crypto::CryptoProvider,
) -> Result<Loaded, TlsSetupError> {
    let (chain, key_der) = read_pem(cert, key)?;
    let not_after = chain
        .first()
        .map(|leaf| not_after(leaf))
        .transpose()
        .map_err(|reason| TlsSetupError::Validity {
            path: cert.to_owned(),
            reason,
        })?
        .unwrap_or_default();
    // `from_der` also checks that the key belongs to the leaf, as `with_single_cert` does.
    let certified = CertifiedKey::from_der(chain, key_der, provider)?;
    Ok(Loaded {
        key: Arc::new(certified),
        not_after,
    })
}

#[cfg(test)]
mod tests;
