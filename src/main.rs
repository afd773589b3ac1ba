//! The exporter binary: flags → config → logger → kube client → watch thread (a current-thread
//! tokio runtime) and HTTP workers; signals stop both. Errors map to exit codes (2 usage, 1 other).

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use argh::FromArgs;
use kube_cluster_binpacking_exporter::cache::Cache;
use kube_cluster_binpacking_exporter::cli::{split_flag_values, Flags};
use kube_cluster_binpacking_exporter::config::Config;
use kube_cluster_binpacking_exporter::error::{error_chain, Error};
use kube_cluster_binpacking_exporter::ingest::leader;
use kube_cluster_binpacking_exporter::model::election::{ElectionConfig, LeaderState};
use kube_cluster_binpacking_exporter::model::health::WatchKind;
use kube_cluster_binpacking_exporter::model::label_groups::LabelGroups;
use kube_cluster_binpacking_exporter::self_metrics::SelfMetrics;
use kube_cluster_binpacking_exporter::serve::http::{Server, Site, Stopper};
use kube_cluster_binpacking_exporter::serve::web_security::WebSecurity;
use kube_cluster_binpacking_exporter::views::report::{self, Output, ReportOptions};
use kube_cluster_binpacking_exporter::{
    ingest::check, ingest::client, ingest::usage, ingest::watch, logging, serve::scrape,
};

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The malloc tunables a glibc build runs with: two arenas instead of eight per core (threads
/// that build large bodies each grew one), and freed memory at the top of the heap returned
/// above 128 KiB. Measured at 5,000 nodes / 150,000 pods: RSS after the scrapes 74.6 → 57.0 MiB,
/// against 52.4 MiB for the static musl binary (BENCHMARKS.md).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const GLIBC_TUNABLES: &str = "glibc.malloc.arena_max=2:glibc.malloc.trim_threshold=131072";

/// A glibc build (`cargo install`, `cargo build --release`) serving metrics executes itself
/// again, once, before any thread starts, with [`GLIBC_TUNABLES`] in its environment: glibc
/// reads them only when the process starts, and setting them needs no `unsafe`. An operator's own `GLIBC_TUNABLES` is kept as it is; if the
/// new image cannot be executed, the process goes on as it is. The static musl binary (the
/// image) has no such tunables and never re-executes.
fn glibc_malloc_tunables() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::os::unix::process::CommandExt;
        if std::env::var_os("GLIBC_TUNABLES").is_some() {
            return;
        }
        let Ok(exe) = std::env::current_exe() else {
            return;
        };
        let mut args = std::env::args_os();
        let mut command = std::process::Command::new(exe);
        if let Some(arg0) = args.next() {
            command.arg0(arg0);
        }
        // Returns only if the execution failed.
        let err = command
            .args(args)
            .env("GLIBC_TUNABLES", GLIBC_TUNABLES)
            .exec();
        let _ = writeln!(
            std::io::stderr(),
            "note: running without glibc malloc tunables ({err})"
        );
    }
}

fn main() -> ExitCode {
    // Not `env::args()`: it panics on an argument that is not UTF-8 (argh then names it).
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let command = args
        .first()
        .map_or("kube-cluster-binpacking-exporter", String::as_str);
    let rest = split_flag_values(&args[1.min(args.len())..]);
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    let flags = match Flags::from_args(&[command], &rest) {
        Ok(flags) => flags,
        Err(exit) => {
            return if exit.status.is_ok() {
                print_out(&exit.output);
                ExitCode::SUCCESS
            } else {
                print_err(&format!(
                    "{}\nRun with --help for usage.",
                    exit.output.trim_end()
                ));
                ExitCode::from(2)
            };
        }
    };
    // Invoked as a kubectl plugin, the binary is the one-shot viewer.
    let plugin = std::path::Path::new(command)
        .file_stem()
        .is_some_and(|n| n == "kubectl-binpacking");
    let mut flags = flags;
    flags.once |= plugin;
    if flags.version {
        print_out(&format!("kube-cluster-binpacking-exporter {VERSION}"));
        return ExitCode::SUCCESS;
    }
    // Only the long-running server: a one-shot run or a check ends before its heap matters.
    if !flags.once && !flags.check {
        glibc_malloc_tunables();
    }
    match Config::from_flags(&flags).and_then(run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            print_err(&format!("error: {}", error_chain(&err)));
            ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(1))
        }
    }
}

/// Writes to stdout without panicking on a closed pipe.
fn print_out(text: &str) {
    let _ = writeln!(std::io::stdout(), "{}", text.trim_end());
}

fn print_err(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}

fn run(config: Config) -> Result<(), Error> {
    // The one-shot mode keeps stderr for warnings and progress unless asked for more.
    let level = if config.once.is_some() && config.log_level == log::LevelFilter::Info {
        log::LevelFilter::Warn
    } else {
        config.log_level
    };
    logging::init(level, config.log_format);
    // A web configuration that does not load stops the exporter before it contacts the cluster.
    let web = match (
        &config.web_config_file,
        config.once.is_none() && !config.check,
    ) {
        (Some(path), true) => Some(Arc::new(WebSecurity::load(path).map_err(|reason| {
            Error::WebConfig {
                path: path.display().to_string(),
                reason,
            }
        })?)),
        _ => None,
    };
    let config = Arc::new(config);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| Error::Start {
            what: "tokio runtime",
            source: Box::new(source),
        })?;
    let resolved = runtime.block_on(client::resolve(config.kubeconfig.as_deref()))?;
    log::info!(
        "kubeconfig loaded source={:?} server={}",
        resolved.source,
        resolved.config.cluster_url
    );
    if config.check {
        return run_check(&runtime, resolved);
    }
    let metrics = SelfMetrics::new(VERSION).map_err(|e| Error::Start {
        what: "operational metrics",
        source: Box::new(e),
    })?;
    let electing = config.leader_election.is_some() && config.once.is_none();
    let namespaces_per_node = config.families.namespace_group && !config.label_groups.is_empty();
    let cache = Arc::new(Cache::new(
        config.resources.clone(),
        LabelGroups::new(&config.label_groups),
        metrics,
        if electing {
            LeaderState::electing()
        } else {
            LeaderState::default()
        },
    ));
    if namespaces_per_node {
        cache.write().keep_namespaces_per_node();
    }
    let default_namespace = resolved.config.default_namespace.clone();
    let kube_client = {
        let _guard = runtime.enter();
        client::build(resolved.config, cache.health.clone())?
    };
    if let Some(output) = config.once {
        return run_once(&runtime, kube_client, &config, &cache, output);
    }

    let tls = web.as_ref().is_some_and(|w| w.tls());
    let server = Server::start(Site::new(cache.clone(), config.clone(), web))?;
    log::info!(
        "serving metrics addr={} scheme={} path={} resources={}",
        server.addr,
        if tls { "https" } else { "http" },
        config.metrics_path,
        config.resources.names().join(",")
    );
    let stopper = server.stopper();
    let election = config
        .leader_election
        .clone()
        .filter(|_| electing)
        .map(|mut e| {
            if e.namespace.is_empty() {
                e.namespace = service_account_namespace().unwrap_or(default_namespace);
            }
            e
        });
    let watch_thread = spawn_watch_thread(runtime, kube_client, config, cache, election, stopper)?;
    server.join();
    if watch_thread.join().is_err() {
        log::error!("the watch thread panicked");
    }
    log::info!("stopped");
    Ok(())
}

/// `--once`: syncs, prints the figures in the chosen format, exits.
fn run_once(
    runtime: &tokio::runtime::Runtime,
    kube_client: kube::Client,
    config: &Arc<Config>,
    cache: &Arc<Cache>,
    output: Output,
) -> Result<(), Error> {
    use std::io::IsTerminal;
    let show_progress = std::io::stderr().is_terminal() && std::io::stdout().is_terminal();
    let synced = async {
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(200));
        while cache.health.readiness().is_err() {
            tick.tick().await;
            if show_progress {
                let nodes = cache.health.watch(WatchKind::Nodes).listed();
                let pods = cache.health.watch(WatchKind::Pods).listed();
                let _ = write!(
                    std::io::stderr(),
                    "\rsyncing: {nodes} nodes, {pods} pods listed"
                );
            }
        }
        if show_progress {
            let _ = write!(std::io::stderr(), "\r{:60}\r", "");
        }
    };
    let usage_client = kube_client.clone();
    runtime.block_on(async {
        let _ = tokio::time::timeout(
            config.sync_timeout,
            // Boxed: the watches' future is large (clippy::large_futures).
            Box::pin(watch::run(
                kube_client,
                config.clone(),
                cache.clone(),
                synced,
            )),
        )
        .await;
    });
    if let Err(reason) = cache.health.readiness() {
        return Err(Error::SyncTimeout {
            timeout_secs: config.sync_timeout.as_secs(),
            reason,
        });
    }
    if let Some(settings) = config.usage {
        // One poll after the sync; a cluster without the API gets the warning and no usage.
        let outcome = runtime.block_on(usage::poll(&usage_client, config, settings, cache));
        if let usage::Outcome::Absent(s) | usage::Outcome::Forbidden(s) | usage::Outcome::Error(s) =
            outcome
        {
            log::warn!("{s}");
        }
    }
    let resources = scrape::resource_names(config);
    let snapshot = scrape::snapshot(cache, config);
    let options = ReportOptions {
        resources: &resources,
        sort: config.sort,
        group_by: &config.group_by,
    };
    let text = match output {
        Output::Table => report::table(&snapshot, &options).into_bytes(),
        Output::Wide => report::wide(&snapshot, &options).into_bytes(),
        Output::Csv => report::csv(&snapshot, &options).into_bytes(),
        Output::Json => report::json(&snapshot, &resources).into_bytes(),
        Output::Prometheus => {
            let mut out = Vec::new();
            scrape::encode(cache, config, &snapshot, &mut out);
            out
        }
    };
    let _ = std::io::stdout().write_all(&text);
    Ok(())
}

/// `--check`: prints the diagnosis; a failed step is exit status 1.
fn run_check(
    runtime: &tokio::runtime::Runtime,
    resolved: client::ResolvedConfig,
) -> Result<(), Error> {
    let server = resolved.config.cluster_url.to_string();
    let steps = runtime.block_on(async {
        let client = kube::Client::try_from(resolved.config).map_err(|e| Error::Kubeconfig {
            source_desc: resolved.source.clone(),
            source: Box::new(e),
        })?;
        Ok::<_, Error>(check::run(client, &resolved.source, &server).await)
    })?;
    let (report, passed) = check::report(&steps);
    print_out(&report);
    if passed {
        Ok(())
    } else {
        Err(Error::CheckFailed)
    }
}

/// Starts the thread whose current-thread runtime runs the watches and the leader election until
/// SIGTERM or SIGINT, then stops the HTTP server.
fn spawn_watch_thread(
    runtime: tokio::runtime::Runtime,
    kube_client: kube::Client,
    config: Arc<Config>,
    cache: Arc<Cache>,
    election: Option<ElectionConfig>,
    stopper: Stopper,
) -> Result<std::thread::JoinHandle<()>, Error> {
    std::thread::Builder::new()
        .name("watch".into())
        .spawn(move || {
            runtime.block_on(async {
                let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
                let until_stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
                    let _ = rx.wait_for(|s| *s).await;
                };
                let signals = async {
                    shutdown_signal().await;
                    let _ = stop_tx.send(true);
                };
                let elect = async {
                    if let Some(election) = election {
                        let on_stop = until_stopped(stop_rx.clone());
                        let ready = || cache.health.readiness().is_ok();
                        leader::run(kube_client.clone(), election, &cache.leader, ready, on_stop)
                            .await;
                    }
                };
                let watches = watch::run(
                    kube_client.clone(),
                    config,
                    cache.clone(),
                    until_stopped(stop_rx.clone()),
                );
                futures::join!(signals, watches, elect);
            });
            stopper.stop();
        })
        .map_err(|source| Error::Start {
            what: "watch thread",
            source: Box::new(source),
        })
}

/// The namespace of the pod's service account, when running in a cluster.
fn service_account_namespace() -> Option<String> {
    std::fs::read_to_string("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// Completes on SIGTERM or SIGINT.
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    if let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        tokio::select! {
            _ = term.recv() => log::info!("received SIGTERM"),
            _ = int.recv() => log::info!("received SIGINT"),
        }
    } else {
        log::warn!("cannot install signal handlers; stop with SIGKILL");
        std::future::pending::<()>().await;
    }
}
