//! Everything that stops a run before or after it starts, each with what to do about it.

use std::path::PathBuf;

/// Why `trellis-load` could not run or could not write its results.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// `--help` or `--version` was asked for: the text to print, not an error.
    #[error("{0}")]
    Help(String),
    /// The command line did not parse (clap already formatted the message).
    #[error("{0}")]
    Usage(String),
    /// An option holds a value outside what it accepts.
    #[error("bad `--{option}`: {reason}")]
    Option {
        /// The option's long name.
        option: &'static str,
        /// What is wrong and what to give instead.
        reason: String,
    },
    /// The target URL cannot be used.
    #[error("bad URL `{url}`: {reason}; give one like `http://127.0.0.1:8080/path`")]
    Url {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A signing key is malformed. The value is not echoed: it holds a secret.
    #[error("bad {origin}: expected `ACCESS_KEY_ID:SECRET` (--key) or `ACCESS_KEY_ID SECRET` (--keys-file), the value is not shown because it holds a secret")]
    Key {
        /// Where the key came from: `--key` or `FILE line N`.
        origin: String,
    },
    /// The keys file cannot be read.
    #[error("cannot read --keys-file `{path}`: {source}; check the path and its permissions")]
    KeysFile {
        /// The file as given.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The host of the URL does not resolve.
    #[error("cannot resolve `{host}`: {source}; use an IP address such as 127.0.0.1")]
    Resolve {
        /// `host:port` from the URL.
        host: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// aws-sigv4 refused to sign a request built from the options.
    #[error("cannot sign `{method} {target}`: {reason}; check --paths, --header, --region and --service")]
    Sign {
        /// The method.
        method: String,
        /// The request target.
        target: String,
        /// aws-sigv4's message.
        reason: String,
    },
    /// The async runtime or a background thread could not be started.
    #[error(
        "cannot start the load generator's runtime: {0}; check the process limits (threads, files)"
    )]
    Runtime(std::io::Error),
    /// A result file cannot be written.
    #[error("cannot write `{path}`: {source}; check that its directory exists and is writable")]
    Write {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Not a single response came back.
    #[error("no request got a response from `{url}` ({connect} connect errors, {io} I/O errors, {timeout} timeouts); check that the server is up and reachable")]
    NoResponse {
        /// The target.
        url: String,
        /// Failed connects.
        connect: u64,
        /// Failed exchanges.
        io: u64,
        /// Timed-out requests.
        timeout: u64,
    },
}
