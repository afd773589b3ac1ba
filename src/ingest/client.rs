//! The Kubernetes client: where its configuration comes from (`--kubeconfig` → `KUBECONFIG` →
//! `~/.kube/config` → in-cluster service account, logged without secrets), and a thin tower layer
//! that tells the watch health when data arrives for the node and pod watches — kube's watcher
//! swallows bookmarks, so their bytes are the only sign of a live but quiet watch — and remembers
//! the `Retry-After` the API server asked for.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body::{Body as HttpBody, Frame, SizeHint};
use kube::client::{Body, ClientBuilder};
use kube::config::{KubeConfigOptions, Kubeconfig};
use tower::{Layer, Service};

use crate::error::Error;
use crate::model::health::{Health, WatchKind};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type DynBody = dyn HttpBody<Data = Bytes, Error = BoxError> + Send + Unpin;

/// A resolved client configuration and a description of where it came from.
pub struct ResolvedConfig {
    /// kube's configuration.
    pub config: kube::Config,
    /// "--kubeconfig /path", "KUBECONFIG …", "~/.kube/config" or "in-cluster service account".
    pub source: String,
}

/// Resolves the configuration in the documented order. A kubeconfig that is named but missing or
/// malformed is an error (exit 1); no configuration at all is an error too.
pub async fn resolve(flag: Option<&Path>) -> Result<ResolvedConfig, Error> {
    if let Some(path) = flag {
        return from_file(path, format!("--kubeconfig {}", path.display())).await;
    }
    if let Some(env) = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
        let desc = format!("KUBECONFIG={}", env.to_string_lossy());
        let kubeconfig = Kubeconfig::from_env()
            .map_err(|e| kubeconfig_error(&desc, e))?
            .ok_or_else(|| Error::Kubeconfig {
                source_desc: desc.clone(),
                source: "no file found".into(),
            })?;
        return from_kubeconfig(kubeconfig, desc).await;
    }
    if let Some(home) = std::env::var_os("HOME") {
        let path = PathBuf::from(home).join(".kube").join("config");
        if path.exists() {
            return from_file(&path, path.display().to_string()).await;
        }
    }
    let desc = "in-cluster service account".to_owned();
    kube::Config::incluster()
        .map(|config| ResolvedConfig {
            config,
            source: desc.clone(),
        })
        .map_err(|e| Error::Kubeconfig {
            source_desc: desc,
            source: format!(
                "{e}; no kubeconfig found either (use --kubeconfig, KUBECONFIG or ~/.kube/config)"
            )
            .into(),
        })
}

async fn from_file(path: &Path, desc: String) -> Result<ResolvedConfig, Error> {
    let kubeconfig = Kubeconfig::read_from(path).map_err(|e| kubeconfig_error(&desc, e))?;
    from_kubeconfig(kubeconfig, desc).await
}

async fn from_kubeconfig(kubeconfig: Kubeconfig, desc: String) -> Result<ResolvedConfig, Error> {
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(|e| kubeconfig_error(&desc, e))?;
    Ok(ResolvedConfig {
        config,
        source: desc,
    })
}

fn kubeconfig_error(desc: &str, err: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Kubeconfig {
        source_desc: desc.to_owned(),
        source: Box::new(err),
    }
}

/// Builds a client whose responses report activity to the watch health.
pub fn build(config: kube::Config, health: Arc<Health>) -> Result<kube::Client, Error> {
    let builder = ClientBuilder::try_from(config).map_err(|e| Error::Kubeconfig {
        source_desc: "client".into(),
        source: Box::new(e),
    })?;
    Ok(builder.with_layer(&ActivityLayer { health }).build())
}

/// When the API server's last `Retry-After` ends, in milliseconds since [`clock_start`].
static RETRY_NOT_BEFORE_MS: AtomicU64 = AtomicU64::new(0);

fn clock_start() -> std::time::Instant {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    *START.get_or_init(std::time::Instant::now)
}

fn now_ms() -> u64 {
    u64::try_from(clock_start().elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// How long every retry must still wait because the API server asked for it (`Retry-After`).
pub fn retry_after_remaining() -> Option<std::time::Duration> {
    let remaining = RETRY_NOT_BEFORE_MS
        .load(Ordering::Relaxed)
        .saturating_sub(now_ms());
    (remaining > 0).then(|| std::time::Duration::from_millis(remaining))
}

struct ActivityLayer {
    health: Arc<Health>,
}

impl<S> Layer<S> for ActivityLayer {
    type Service = Activity<S>;
    fn layer(&self, inner: S) -> Activity<S> {
        Activity {
            inner,
            health: self.health.clone(),
        }
    }
}

/// See the module header.
pub struct Activity<S> {
    inner: S,
    health: Arc<Health>,
}

/// Which watch a request feeds, from its path.
fn watch_of(path: &str) -> Option<WatchKind> {
    if path.ends_with("/nodes") {
        Some(WatchKind::Nodes)
    } else if path.ends_with("/pods") {
        Some(WatchKind::Pods)
    } else if path.ends_with("/resourceslices") {
        Some(WatchKind::ResourceSlices)
    } else if path.ends_with("/resourceclaims") {
        Some(WatchKind::ResourceClaims)
    } else if path.ends_with("/deviceclasses") {
        Some(WatchKind::DeviceClasses)
    } else {
        None
    }
}

impl<S> Service<Request<Body>> for Activity<S>
where
    S: Service<Request<Body>, Response = Response<Box<DynBody>>>,
    S::Future: Send + 'static,
{
    type Response = Response<ActivityBody>;
    type Error = S::Error;
    type Future =
        Pin<Box<dyn std::future::Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let watch = watch_of(req.uri().path());
        let health = self.health.clone();
        let fut = self.inner.call(req);
        Box::pin(async move {
            let resp = fut.await?;
            if let Some(secs) = resp
                .headers()
                .get(http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
            {
                let until = now_ms().saturating_add(secs.clamp(1, 300) * 1000);
                RETRY_NOT_BEFORE_MS.fetch_max(until, Ordering::Relaxed);
            }
            let ok = resp.status().is_success();
            Ok(resp.map(|inner| ActivityBody {
                inner,
                watch: watch.filter(|_| ok),
                health,
            }))
        })
    }
}

/// A response body that stamps the watch's last-activity time on every data frame.
pub struct ActivityBody {
    inner: Box<DynBody>,
    watch: Option<WatchKind>,
    health: Arc<Health>,
}

impl HttpBody for ActivityBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let poll = Pin::new(&mut self.inner).poll_frame(cx);
        if let (Poll::Ready(Some(Ok(frame))), Some(kind)) = (&poll, self.watch) {
            if frame.is_data() {
                self.health.heard(kind);
            }
        }
        poll
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
