//! The exporter's one error type. Each variant names what failed and carries the input, so `main`
//! can print the whole chain on one line and pick the exit code (2 for usage, 1 otherwise).

/// Any error kept as the source of ours, with its own chain.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Everything that can stop the exporter.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A flag value was rejected.
    #[error("invalid value {value:?} for {flag}: {reason}")]
    Usage {
        /// The flag, e.g. `--resync-period`.
        flag: String,
        /// The value given.
        value: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The kubeconfig could not be read or used.
    #[error("kubeconfig {source_desc}")]
    Kubeconfig {
        /// Where the configuration came from (path or "in-cluster").
        source_desc: String,
        /// What went wrong, with its own causes.
        #[source]
        source: BoxError,
    },
    /// The HTTP listener could not be opened.
    #[error("cannot listen on {addr}")]
    Listen {
        /// The address asked for.
        addr: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The web configuration file (TLS, basic auth) could not be used.
    #[error("web config {path}: {reason}")]
    WebConfig {
        /// The file given with `--web-config-file`.
        path: String,
        /// What is wrong, naming the field or file.
        reason: String,
    },
    /// `--check` found a problem (the report says which).
    #[error("check failed")]
    CheckFailed,
    /// The one-shot mode could not complete its first sync in time.
    #[error("no complete sync within {timeout_secs}s: {reason}")]
    SyncTimeout {
        /// The timeout.
        timeout_secs: u64,
        /// Why the watches were not synced.
        reason: String,
    },
    /// A thread, runtime or registry could not be started.
    #[error("cannot start {what}")]
    Start {
        /// What was being started.
        what: &'static str,
        /// Why, with its own causes.
        #[source]
        source: BoxError,
    },
}

impl Error {
    /// Process exit code for this error: 2 for usage errors, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage { .. } => 2,
            _ => 1,
        }
    }
}

/// An error and its sources on one line.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
