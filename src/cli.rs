//! Command-line flags (argh; each field's `///` is its `--help` text) and their validation into a
//! typed [`Config`]. Owns every rule about what a flag value may be; it does no I/O beyond reading
//! the process arguments, so a bad value is reported before any work starts.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use argh::FromArgs;

use crate::config::{Config, Gate, UsageConfig, RESERVED_PATHS};
use crate::error::Error;
use crate::logging::LogFormat;
use crate::model::duration::parse_duration;
use crate::model::election::ElectionConfig;
use crate::model::resources::TrackedResources;
use crate::model::{label_selector, quantity};
use crate::views::capacity::{Shape, AVERAGE};
use crate::views::exposition::Families;
use crate::views::report::{GroupBy, Output, Sort};

/// Prometheus exporter reporting, per node, label group and cluster, the kube-scheduler-exact sum
/// of pod requests ("allocated") against node allocatable.
#[derive(FromArgs, Debug)]
#[allow(clippy::struct_excessive_bools)]
pub struct Flags {
    /// path to a kubeconfig file (default: $KUBECONFIG, then ~/.kube/config, then the in-cluster
    /// service account)
    #[argh(option)]
    pub kubeconfig: Option<String>,

    /// address to serve metrics on, `[HOST]:PORT` (default ":9101" = every interface; use
    /// "127.0.0.1:9101" to keep it local)
    #[argh(option, default = "String::from(\":9101\")")]
    pub metrics_addr: String,

    /// path of the metrics endpoint (default "/metrics")
    #[argh(option, default = "String::from(\"/metrics\")")]
    pub metrics_path: String,

    /// comma-separated resources to track (default "cpu,memory"); any resource name works, e.g.
    /// ephemeral-storage, hugepages-2Mi, nvidia.com/gpu, and "pods" (counted pods vs
    /// allocatable.pods)
    #[argh(option, default = "String::from(\"cpu,memory\")")]
    pub resources: String,

    /// comma-separated node label keys forming one label group, e.g.
    /// "topology.kubernetes.io/zone,node.kubernetes.io/instance-type" (repeatable)
    #[argh(option)]
    pub label_group: Vec<String>,

    /// label selector restricting the watched nodes (server-side), e.g. "node-pool=gpu,!spot"
    #[argh(option)]
    pub node_selector: Option<String>,

    /// do not export the per-node metric families (cluster and group families stay)
    #[argh(switch)]
    pub disable_node_metrics: bool,

    /// reference pod shape NAME=RESOURCE=QUANTITY,... (repeatable), e.g.
    /// "small=cpu=500m,memory=1Gi"; binpacking_*_shape_fit says how many more fit (the built-in
    /// shape "average" is the mean request of the counted non-DaemonSet pods)
    #[argh(option)]
    pub shape: Vec<String>,

    /// do not export binpacking_*_shape_fit
    #[argh(switch)]
    pub disable_shape_metrics: bool,

    /// do not export binpacking_*_largest_free, _stranded and _headroom_nodes
    #[argh(switch)]
    pub disable_free_metrics: bool,

    /// do not export binpacking_*_nodes_lower_bound and _removable_nodes
    #[argh(switch)]
    pub disable_compaction_metrics: bool,

    /// do not export binpacking_cluster_pending_pods, _pending_requested and _pending_pods_fit
    #[argh(switch)]
    pub disable_pending_metrics: bool,

    /// do not export binpacking_*_allocated_by_owner
    #[argh(switch)]
    pub disable_owner_metrics: bool,

    /// do not export binpacking_*_reserved (capacity minus allocatable)
    #[argh(switch)]
    pub disable_reserved_metrics: bool,

    /// do not export binpacking_*_limits, *_limits_ratio and *_unlimited_pods
    #[argh(switch)]
    pub disable_limits_metrics: bool,

    /// do not export binpacking_namespace_* (requests, limits and pods per namespace)
    #[argh(switch)]
    pub disable_namespace_metrics: bool,

    /// do not watch resource.k8s.io/v1 (DRA ResourceSlices, ResourceClaims, DeviceClasses) nor
    /// export the device families; without the API group or the permission they are off anyway
    #[argh(switch)]
    pub disable_device_metrics: bool,

    /// also export binpacking_group_namespace_*: per label group value and namespace (one series
    /// per group value, namespace and resource: mind the cardinality)
    #[argh(switch)]
    pub namespace_group_metrics: bool,

    /// poll the resource metrics API (metrics.k8s.io, as metrics-server serves it) for real
    /// usage beside the requests: binpacking_*_usage, *_pod_usage, *_allocated_unused (RBAC:
    /// manifests/usage/)
    #[argh(switch)]
    pub usage: bool,

    /// how often --usage polls the metrics API, on the watch thread and never per scrape
    /// (default "30s"; 1s to 1h)
    #[argh(option, default = "String::from(\"30s\")")]
    pub usage_interval: String,

    /// usage samples older than this are left out, and every usage series while the last
    /// successful poll is older (default "3m")
    #[argh(option, default = "String::from(\"3m\")")]
    pub usage_max_age: String,

    /// objects per page of the initial list of nodes and pods (default 500; 0 = no paging)
    #[argh(option, default = "500")]
    pub list_page_size: u32,

    /// fetch the initial state with a streaming list (a watch with sendInitialEvents, Kubernetes
    /// WatchList) instead of paged lists: no list page is ever buffered whole (needs the API
    /// server's WatchList feature)
    #[argh(switch)]
    pub streaming_list: bool,

    /// how often the aggregates are recomputed from the cached records to detect drift, like
    /// client-go's resync it makes no API call (default "5m"; "0s" disables)
    #[argh(option, default = "String::from(\"5m\")")]
    pub resync_period: String,

    /// scheduler feature gate PodLevelResources: auto (on for servers >= 1.34), on, off
    #[argh(option, default = "String::from(\"auto\")")]
    pub pod_level_resources: String,

    /// scheduler feature gate InPlacePodVerticalScaling (resize status in accounting): auto (on for
    /// servers >= 1.33), on, off
    #[argh(option, default = "String::from(\"auto\")")]
    pub in_place_pod_vertical_scaling: String,

    /// scheduler feature gate InPlacePodLevelResourcesVerticalScaling (pod-level resize status in
    /// accounting): auto (on for servers >= 1.36), on, off
    #[argh(option, default = "String::from(\"auto\")")]
    pub in_place_pod_level_resources_vertical_scaling: String,

    /// the 1.37 resize rule, a pod's container total as max(sum of spec, sum of actuated, sum of
    /// allocated) instead of a sum of per-container maxima: auto (on for servers >= 1.37), on, off
    #[argh(option, default = "String::from(\"auto\")")]
    pub status_max_of_sums: String,

    /// run leader election on a coordination.k8s.io Lease: every replica keeps its cache warm,
    /// only the leader publishes the binpacking series (standbys publish binpacking_leader_status 0)
    #[argh(switch)]
    pub leader_election: bool,

    /// namespace of the leader Lease (default: the service account's namespace, else the
    /// kubeconfig's default namespace)
    #[argh(option)]
    pub leader_election_namespace: Option<String>,

    /// name of the leader Lease (default "kube-cluster-binpacking-exporter")
    #[argh(option, default = "String::from(\"kube-cluster-binpacking-exporter\")")]
    pub leader_election_lease_name: String,

    /// how long the Lease stays valid without renewal (default "15s")
    #[argh(option, default = "String::from(\"15s\")")]
    pub leader_election_lease_duration: String,

    /// how long the leader tries to renew before it steps down (default "10s")
    #[argh(option, default = "String::from(\"10s\")")]
    pub leader_election_renew_deadline: String,

    /// how often candidates and the leader act on the Lease (default "2s")
    #[argh(option, default = "String::from(\"2s\")")]
    pub leader_election_retry_period: String,

    /// this replica's identity in the Lease (default: $POD_NAME or $HOSTNAME, plus the pid)
    #[argh(option)]
    pub leader_election_identity: Option<String>,

    /// number of HTTP worker threads (default 4)
    #[argh(option, default = "4")]
    pub http_workers: usize,

    /// TLS and basic authentication in the exporter-toolkit web configuration format
    /// (tls_server_config, basic_auth_users, http_server_config.headers); certificates are
    /// re-read when their files change
    #[argh(option)]
    pub web_config_file: Option<String>,

    /// log level: error, warn, info, debug, trace (default "info"; RUST_LOG overrides)
    #[argh(option, default = "String::from(\"info\")")]
    pub log_level: String,

    /// log format: text or json (one JSON object per line)
    #[argh(option, default = "String::from(\"text\")")]
    pub log_format: String,

    /// shorthand for --log-level debug
    #[argh(switch)]
    pub debug: bool,

    /// print the version and exit
    #[argh(switch)]
    pub version: bool,

    /// sync once, print the cluster, label group and node (or namespace) figures to stdout and
    /// exit (also when the binary is invoked as the kubectl plugin kubectl-binpacking)
    #[argh(switch)]
    pub once: bool,

    /// output of --once: table (80 columns with bars; every name whole, on a line of its own
    /// when too long for its column), wide (allocated and allocatable apart, plus limits, free =
    /// allocatable - allocated and pods; as wide as the longest name), csv (one header row:
    /// scope,label_group,name,unschedulable,nodes,pods and per resource RESOURCE_allocated ...
    /// RESOURCE_free, the json's figures in its units; then one row per cluster, group value, node
    /// or namespace as the table lists them; RFC 4180 quoting), json or prometheus (default
    /// table)
    #[argh(option, default = "String::from(\"table\")")]
    pub output: String,

    /// order of the entries of each section of --once's table, wide and csv: name (default),
    /// utilization (highest first) or free (most allocatable - allocated first), both of the
    /// first resource of --resources; namespaces have no allocatable: utilization orders them by
    /// allocated, free is refused
    #[argh(option, default = "String::from(\"name\")")]
    pub sort: String,

    /// what --once's table, wide and csv list below the cluster total (default: every label
    /// group's values, then every node): "namespace" = one entry per namespace (allocated,
    /// limits, pods); comma-separated node label keys = one entry per value of that label group,
    /// added as if given to --label-group
    #[argh(option)]
    pub group_by: Option<String>,

    /// how long --once waits for the first full sync (default "2m")
    #[argh(option, default = "String::from(\"2m\")")]
    pub sync_timeout: String,

    /// diagnose and exit: load the kubeconfig, reach the API server, confirm list and watch
    /// permission on nodes and pods; exit 0 when all pass, 1 otherwise
    #[argh(switch)]
    pub check: bool,
}

/// Splits `--flag=value` into `--flag value` (argh only knows the second form; manifests and
/// users often write the first). Only the first `=` splits, so `--node-selector=a=b` works.
pub fn split_flag_values<S: AsRef<str>>(args: &[S]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut rest_are_values = false;
    for arg in args {
        let arg = arg.as_ref();
        let is_flag = |name: &str| {
            !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '-')
        };
        match arg.strip_prefix("--").and_then(|a| a.split_once('=')) {
            Some((name, value)) if !rest_are_values && is_flag(name) => {
                out.push(format!("--{name}"));
                out.push(value.to_owned());
            }
            _ => {
                rest_are_values |= arg == "--";
                out.push(arg.to_owned());
            }
        }
    }
    out
}

impl Config {
    /// Validates raw flags. Every error names the flag and the offending value.
    pub fn from_flags(flags: &Flags) -> Result<Config, Error> {
        let resources = parse_resources(&flags.resources)?;
        let shapes = parse_shapes(&flags.shape, &resources)?;
        let mut label_groups = parse_label_groups(&flags.label_group)?;
        let group_by = parse_group_by(flags.group_by.as_deref(), &mut label_groups)?;
        let sort = parse_sort(&flags.sort, &group_by)?;
        if let Some(selector) = &flags.node_selector {
            label_selector::validate(selector)
                .map_err(|reason| usage("--node-selector", selector, &reason.to_string()))?;
        }
        if !flags.metrics_path.starts_with('/') || flags.metrics_path.len() < 2 {
            return Err(usage(
                "--metrics-path",
                &flags.metrics_path,
                "must start with '/' and name a path other than '/'",
            ));
        }
        if RESERVED_PATHS.contains(&flags.metrics_path.as_str()) {
            return Err(usage(
                "--metrics-path",
                &flags.metrics_path,
                "is already served (/, /healthz, /readyz and /sync are taken)",
            ));
        }
        if flags.http_workers == 0 || flags.http_workers > 64 {
            return Err(usage(
                "--http-workers",
                &flags.http_workers.to_string(),
                "must be between 1 and 64",
            ));
        }
        let resync = parse_duration(&flags.resync_period)
            .map_err(|reason| usage("--resync-period", &flags.resync_period, &reason))?;
        let log_level = if flags.debug {
            log::LevelFilter::Debug
        } else {
            flags.log_level.parse().map_err(|_| {
                usage(
                    "--log-level",
                    &flags.log_level,
                    "expected error, warn, info, debug or trace",
                )
            })?
        };
        let usage_config = parse_usage(flags)?;
        let output = parse_output(&flags.output)?;
        let sync_timeout = parse_duration(&flags.sync_timeout)
            .map_err(|reason| usage("--sync-timeout", &flags.sync_timeout, &reason))?;
        let log_format = match flags.log_format.as_str() {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => return Err(usage("--log-format", other, "expected text or json")),
        };
        let [pod_level_resources, in_place_resize, pod_level_resize, max_of_sums] =
            parse_gates(flags)?;
        Ok(Config {
            kubeconfig: flags.kubeconfig.as_ref().map(PathBuf::from),
            metrics_addr: parse_listen_addr(&flags.metrics_addr)
                .map_err(|reason| usage("--metrics-addr", &flags.metrics_addr, &reason))?,
            metrics_path: flags.metrics_path.clone(),
            resources,
            label_groups,
            node_selector: flags.node_selector.clone().filter(|s| !s.is_empty()),
            families: Families {
                node: !flags.disable_node_metrics,
                shape_fit: !flags.disable_shape_metrics,
                free: !flags.disable_free_metrics,
                compaction: !flags.disable_compaction_metrics,
                pending: !flags.disable_pending_metrics,
                owner: !flags.disable_owner_metrics,
                reserved: !flags.disable_reserved_metrics,
                limits: !flags.disable_limits_metrics,
                namespace: !flags.disable_namespace_metrics,
                namespace_group: flags.namespace_group_metrics,
                devices: !flags.disable_device_metrics,
            },
            usage: usage_config,
            shapes,
            list_page_size: (flags.list_page_size > 0).then_some(flags.list_page_size),
            streaming_list: flags.streaming_list,
            resync_period: (!resync.is_zero()).then_some(resync),
            pod_level_resources,
            in_place_resize,
            pod_level_resize,
            max_of_sums,
            http_workers: flags.http_workers,
            web_config_file: match flags.web_config_file.as_deref() {
                Some("") => return Err(usage("--web-config-file", "", "must name a file")),
                other => other.map(PathBuf::from),
            },
            leader_election: parse_election(flags)?,
            log_level,
            log_format,
            check: flags.check,
            once: flags.once.then_some(output),
            sort,
            group_by,
            sync_timeout,
        })
    }
}

/// Every `--label-group`, each once: the same group given twice would yield every group series
/// twice.
fn parse_label_groups(values: &[String]) -> Result<Vec<Vec<String>>, Error> {
    let mut label_groups: Vec<Vec<String>> = Vec::new();
    for value in values {
        let group = parse_label_group("--label-group", value)?;
        if !label_groups.contains(&group) {
            label_groups.push(group);
        }
    }
    Ok(label_groups)
}

/// `--usage`, `--usage-interval`, `--usage-max-age`.
fn parse_usage(flags: &Flags) -> Result<Option<UsageConfig>, Error> {
    let interval = parse_duration(&flags.usage_interval)
        .map_err(|reason| usage("--usage-interval", &flags.usage_interval, &reason))?;
    if !(Duration::from_secs(1)..=Duration::from_secs(3600)).contains(&interval) {
        return Err(usage(
            "--usage-interval",
            &flags.usage_interval,
            "must be between 1s and 1h",
        ));
    }
    let max_age = parse_duration(&flags.usage_max_age)
        .map_err(|reason| usage("--usage-max-age", &flags.usage_max_age, &reason))?;
    if max_age < Duration::from_secs(1) {
        return Err(usage(
            "--usage-max-age",
            &flags.usage_max_age,
            "must be at least 1s",
        ));
    }
    Ok(flags.usage.then_some(UsageConfig { interval, max_age }))
}

fn usage(flag: &str, value: &str, reason: &str) -> Error {
    Error::Usage {
        flag: flag.to_owned(),
        value: value.to_owned(),
        reason: reason.to_owned(),
    }
}

/// The accounting gates: `--pod-level-resources`, `--in-place-pod-vertical-scaling`,
/// `--in-place-pod-level-resources-vertical-scaling`, `--status-max-of-sums`, in that order.
fn parse_gates(flags: &Flags) -> Result<[Gate; 4], Error> {
    Ok([
        parse_gate("--pod-level-resources", &flags.pod_level_resources)?,
        parse_gate(
            "--in-place-pod-vertical-scaling",
            &flags.in_place_pod_vertical_scaling,
        )?,
        parse_gate(
            "--in-place-pod-level-resources-vertical-scaling",
            &flags.in_place_pod_level_resources_vertical_scaling,
        )?,
        parse_gate("--status-max-of-sums", &flags.status_max_of_sums)?,
    ])
}

fn parse_gate(flag: &str, value: &str) -> Result<Gate, Error> {
    match value {
        "auto" => Ok(Gate::Auto),
        "on" | "true" => Ok(Gate::On),
        "off" | "false" => Ok(Gate::Off),
        other => Err(usage(flag, other, "expected auto, on or off")),
    }
}

/// Parses the `--resources` list; names must be valid Kubernetes resource names and unique.
fn parse_resources(value: &str) -> Result<TrackedResources, Error> {
    let names: Vec<&str> = value.split(',').map(str::trim).collect();
    if names.iter().any(|n| n.is_empty()) {
        return Err(usage("--resources", value, "empty resource name"));
    }
    // TrackedResources refuses names the scheduler never accounts and repeated names.
    TrackedResources::new(&names).map_err(|e| usage("--resources", value, &e.to_string()))
}

/// Validates the leader election flags; `None` without `--leader-election`.
fn parse_election(flags: &Flags) -> Result<Option<ElectionConfig>, Error> {
    if !flags.leader_election {
        return Ok(None);
    }
    let duration = |flag: &str, value: &str| {
        parse_duration(value)
            .map_err(|reason| usage(flag, value, &reason))
            .and_then(|d| {
                if d.is_zero() {
                    Err(usage(flag, value, "must be above zero"))
                } else {
                    Ok(d)
                }
            })
    };
    let lease_duration = duration(
        "--leader-election-lease-duration",
        &flags.leader_election_lease_duration,
    )?;
    let renew_deadline = duration(
        "--leader-election-renew-deadline",
        &flags.leader_election_renew_deadline,
    )?;
    let retry_period = duration(
        "--leader-election-retry-period",
        &flags.leader_election_retry_period,
    )?;
    if renew_deadline >= lease_duration {
        return Err(usage(
            "--leader-election-renew-deadline",
            &flags.leader_election_renew_deadline,
            "must be shorter than --leader-election-lease-duration",
        ));
    }
    if retry_period >= renew_deadline {
        return Err(usage(
            "--leader-election-retry-period",
            &flags.leader_election_retry_period,
            "must be shorter than --leader-election-renew-deadline",
        ));
    }
    // Every Lease request ends within one retry period; a leader's term ends one renew deadline
    // after its last confirmed renewal was sent. The lease must outlast both, or a standby could
    // take over while the old leader still publishes.
    let request_timeout = retry_period;
    if lease_duration <= renew_deadline + request_timeout {
        return Err(usage(
            "--leader-election-lease-duration",
            &flags.leader_election_lease_duration,
            "must be longer than --leader-election-renew-deadline plus \
             --leader-election-retry-period (the deadline of each Lease request)",
        ));
    }
    let identity = flags.leader_election_identity.clone().unwrap_or_else(|| {
        let host = std::env::var("POD_NAME")
            .or_else(|_| std::env::var("HOSTNAME"))
            .unwrap_or_else(|_| "exporter".into());
        format!("{host}-{}", std::process::id())
    });
    Ok(Some(ElectionConfig {
        request_timeout,
        namespace: flags.leader_election_namespace.clone().unwrap_or_default(),
        lease_name: flags.leader_election_lease_name.clone(),
        identity,
        lease_duration,
        renew_deadline,
        retry_period,
    }))
}

fn parse_output(value: &str) -> Result<Output, Error> {
    match value {
        "table" => Ok(Output::Table),
        "wide" => Ok(Output::Wide),
        "csv" => Ok(Output::Csv),
        "json" => Ok(Output::Json),
        "prometheus" => Ok(Output::Prometheus),
        other => Err(usage(
            "--output",
            other,
            "expected table, wide, csv, json or prometheus",
        )),
    }
}

/// Parses `--group-by`; label keys become a label group (once) so the snapshot has its values.
fn parse_group_by(
    value: Option<&str>,
    label_groups: &mut Vec<Vec<String>>,
) -> Result<GroupBy, Error> {
    match value {
        None => Ok(GroupBy::Node),
        Some("namespace") => Ok(GroupBy::Namespace),
        Some(keys) => {
            let group = parse_label_group("--group-by", keys)?;
            let name = group.join(",");
            if !label_groups.contains(&group) {
                label_groups.push(group);
            }
            Ok(GroupBy::LabelGroup(name))
        }
    }
}

/// Parses `--sort`; namespaces, having no allocatable, have no free to sort by.
fn parse_sort(value: &str, group_by: &GroupBy) -> Result<Sort, Error> {
    match value {
        "name" => Ok(Sort::Name),
        "utilization" => Ok(Sort::Utilization),
        "free" if *group_by == GroupBy::Namespace => Err(usage(
            "--sort",
            value,
            "namespaces have no allocatable, so no free (with --group-by namespace use name or \
             utilization)",
        )),
        "free" => Ok(Sort::Free),
        other => Err(usage("--sort", other, "expected name, utilization or free")),
    }
}

/// Parses every `--shape`; names must be unique.
fn parse_shapes(values: &[String], tracked: &TrackedResources) -> Result<Vec<Shape>, Error> {
    let mut shapes: Vec<Shape> = Vec::new();
    for value in values {
        let shape =
            parse_shape(value, tracked).map_err(|reason| usage("--shape", value, &reason))?;
        if shapes.iter().any(|s| s.name == shape.name) {
            return Err(usage(
                "--shape",
                value,
                "a shape of this name is already defined",
            ));
        }
        shapes.push(shape);
    }
    Ok(shapes)
}

/// Parses `NAME=RESOURCE=QUANTITY,...` into a shape over the tracked resources.
fn parse_shape(value: &str, tracked: &TrackedResources) -> Result<Shape, String> {
    let (name, spec) = value
        .split_once('=')
        .ok_or("expected NAME=RESOURCE=QUANTITY,...")?;
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
    {
        return Err(format!(
            "{name:?} is not a shape name (letters, digits, - _ .)"
        ));
    }
    if name == AVERAGE {
        return Err(format!("{AVERAGE:?} is the built-in shape"));
    }
    let mut requests = vec![0; tracked.len()];
    for part in spec.split(',') {
        let (resource, quantity) = part
            .split_once('=')
            .ok_or_else(|| format!("{part:?}: expected RESOURCE=QUANTITY"))?;
        let index = tracked.index_of(resource).ok_or_else(|| {
            format!("{resource:?} is not a tracked resource (add it to --resources)")
        })?;
        if resource == "pods" {
            return Err("pods cannot be part of a shape (every pod takes one slot)".into());
        }
        let nanos = quantity::parse_non_negative_nanos(quantity)
            .map_err(|e| format!("{quantity:?}: {e}"))?;
        let amount = if resource == "cpu" {
            quantity::milli_ceil(nanos)
        } else {
            quantity::units_ceil(nanos)
        };
        requests[index] =
            u64::try_from(amount).map_err(|_| format!("{quantity:?} is out of range"))?;
    }
    if requests.iter().all(|&v| v == 0) {
        return Err("a shape needs at least one non-zero request".into());
    }
    Ok(Shape {
        name: name.to_owned(),
        requests,
    })
}

/// Parses one `--label-group` (or `--group-by`, named by `flag`) value into its label keys.
fn parse_label_group(flag: &str, value: &str) -> Result<Vec<String>, Error> {
    let mut keys: Vec<String> = Vec::new();
    for key in value.split(',').map(str::trim) {
        if let Err(reason) = label_selector::validate_key(key) {
            return Err(usage(flag, value, &reason));
        }
        if keys.iter().any(|k| k == key) {
            return Err(usage(flag, value, &format!("{key:?} listed twice")));
        }
        keys.push(key.to_owned());
    }
    Ok(keys)
}

/// Parses `[HOST]:PORT`; an empty host means every IPv4 interface.
fn parse_listen_addr(value: &str) -> Result<SocketAddr, String> {
    if let Some(port) = value.strip_prefix(':') {
        let port: u16 = port
            .parse()
            .map_err(|_| format!("{port:?} is not a port number"))?;
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port));
    }
    value.parse().map_err(|_| {
        "expected [HOST]:PORT with a numeric host, e.g. :9101 or 127.0.0.1:9101".into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn flags(args: &[&str]) -> Result<Flags, argh::EarlyExit> {
        let args = split_flag_values(args);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Flags::from_args(&["exporter"], &args)
    }

    #[test]
    fn flag_equals_value_is_accepted() {
        let c = config(&[
            "--metrics-addr=127.0.0.1:9999",
            "--node-selector=a=b,c!=d",
            "--debug",
        ])
        .unwrap();
        assert_eq!(c.metrics_addr.port(), 9999);
        assert_eq!(c.node_selector.as_deref(), Some("a=b,c!=d"));
        assert_eq!(
            split_flag_values(&["--resources", "--x=y", "--", "--a=b"]),
            ["--resources", "--x", "y", "--", "--a=b"]
        );
    }

    fn config(args: &[&str]) -> Result<Config, Error> {
        Config::from_flags(&flags(args).expect("flags parse"))
    }

    #[test]
    fn a_metrics_path_that_collides_with_another_endpoint_is_refused() {
        for path in ["/healthz", "/readyz", "/sync"] {
            let err = config(&["--metrics-path", path]).unwrap_err().to_string();
            assert!(
                err.contains("--metrics-path") && err.contains("already served"),
                "{err}"
            );
        }
        assert!(config(&["--metrics-path", "/"]).is_err());
        assert_eq!(
            config(&["--metrics-path", "/m"]).unwrap().metrics_path,
            "/m"
        );
    }

    #[test]
    fn the_same_label_group_given_twice_is_kept_once() {
        let c = config(&[
            "--label-group",
            "zone,pool",
            "--label-group",
            "zone,pool",
            "--label-group",
            "zone",
        ])
        .unwrap();
        assert_eq!(c.label_groups, [vec!["zone", "pool"], vec!["zone"]]);
    }

    #[test]
    fn defaults_match_the_original_exporter() {
        let c = config(&[]).unwrap();
        assert_eq!(c.metrics_addr, "0.0.0.0:9101".parse().unwrap());
        assert_eq!(c.metrics_path, "/metrics");
        assert_eq!(c.resources.names(), ["cpu", "memory"]);
        assert_eq!(c.list_page_size, Some(500));
        assert_eq!(c.resync_period, Some(Duration::from_secs(300)));
        assert!(c.families.node && c.families.shape_fit && c.families.pending);
        assert!(c.shapes.is_empty());
        assert_eq!(c.log_level, log::LevelFilter::Info);
        assert_eq!(c.log_format, LogFormat::Text);
    }

    #[test]
    fn bad_values_name_the_flag_and_the_value() {
        let cases: &[(&[&str], &str, &str)] = &[
            (&["--resync-period", "5x"], "--resync-period", "5x"),
            (
                &["--resources", "cpu,,memory"],
                "--resources",
                "cpu,,memory",
            ),
            (&["--resources", "cpu,cpu"], "--resources", "cpu,cpu"),
            (&["--resources", "c pu"], "--resources", "c pu"),
            (
                &["--metrics-addr", "localhost"],
                "--metrics-addr",
                "localhost",
            ),
            (&["--metrics-path", "metrics"], "--metrics-path", "metrics"),
            (&["--log-format", "xml"], "--log-format", "xml"),
            (&["--log-level", "loud"], "--log-level", "loud"),
            (
                &["--node-selector", "a in (b"],
                "--node-selector",
                "a in (b",
            ),
            (&["--label-group", "zone,,x"], "--label-group", "zone,,x"),
            (
                &["--pod-level-resources", "maybe"],
                "--pod-level-resources",
                "maybe",
            ),
            (
                &["--in-place-pod-level-resources-vertical-scaling", "yes"],
                "--in-place-pod-level-resources-vertical-scaling",
                "yes",
            ),
            (&["--status-max-of-sums", "1"], "--status-max-of-sums", "1"),
            (&["--http-workers", "0"], "--http-workers", "0"),
            (&["--shape", "x=gpu=1"], "--shape", "x=gpu=1"),
            (&["--shape", "average=cpu=1"], "--shape", "average=cpu=1"),
            (&["--shape", "x=cpu=abc"], "--shape", "x=cpu=abc"),
            (&["--shape", "x=cpu=0"], "--shape", "x=cpu=0"),
            (&["--shape", "x"], "--shape", "x"),
            (&["--output", "yaml"], "--output", "yaml"),
            (&["--sort", "size"], "--sort", "size"),
            (
                &["--sort", "free", "--group-by", "namespace"],
                "--sort",
                "free",
            ),
            (&["--group-by", "zone,,x"], "--group-by", "zone,,x"),
            (&["--group-by", ""], "--group-by", ""),
            (&["--group-by", "zone,zone"], "--group-by", "zone,zone"),
            (&["--sync-timeout", "soon"], "--sync-timeout", "soon"),
            (
                &[
                    "--leader-election",
                    "--leader-election-renew-deadline",
                    "20s",
                ],
                "--leader-election-renew-deadline",
                "20s",
            ),
            (
                &["--leader-election", "--leader-election-retry-period", "0s"],
                "--leader-election-retry-period",
                "0s",
            ),
        ];
        for (args, flag, value) in cases {
            let err = config(args).expect_err(flag).to_string();
            assert!(err.contains(flag) && err.contains(value), "{err}");
        }
    }

    #[test]
    fn extended_resource_names_and_label_groups_are_accepted() {
        let c = config(&[
            "--resources",
            "cpu,memory,nvidia.com/gpu,hugepages-2Mi,ephemeral-storage,pods",
            "--label-group",
            "topology.kubernetes.io/zone,node.kubernetes.io/instance-type",
            "--label-group",
            "node-pool",
            "--metrics-addr",
            "127.0.0.1:0",
            "--list-page-size",
            "0",
            "--resync-period",
            "0s",
            "--debug",
        ])
        .unwrap();
        assert_eq!(c.resources.len(), 6);
        assert_eq!(c.label_groups.len(), 2);
        assert_eq!(c.label_groups[0][1], "node.kubernetes.io/instance-type");
        assert_eq!(c.list_page_size, None);
        assert_eq!(c.resync_period, None);
        assert_eq!(c.log_level, log::LevelFilter::Debug);
    }

    #[test]
    fn shapes_are_parsed_in_scheduler_units() {
        let c = config(&[
            "--resources",
            "memory,cpu,nvidia.com/gpu",
            "--shape",
            "small=cpu=500m,memory=1Gi",
            "--shape",
            "gpu=nvidia.com/gpu=1,cpu=0.1",
            "--disable-pending-metrics",
        ])
        .unwrap();
        assert_eq!(c.shapes[0].name, "small");
        assert_eq!(c.shapes[0].requests, [1 << 30, 500, 0]);
        assert_eq!(c.shapes[1].requests, [0, 100, 1]);
        assert!(!c.families.pending && c.families.free);
    }

    #[test]
    fn once_layout_flags_become_typed_and_group_by_keys_a_label_group() {
        let c = config(&[]).unwrap();
        assert_eq!((c.sort, &c.group_by), (Sort::Name, &GroupBy::Node));
        let c = config(&[
            "--output",
            "csv",
            "--once",
            "--sort",
            "utilization",
            "--group-by",
            "namespace",
        ])
        .unwrap();
        assert_eq!(c.once, Some(Output::Csv));
        assert_eq!(
            (c.sort, &c.group_by),
            (Sort::Utilization, &GroupBy::Namespace)
        );
        assert!(c.label_groups.is_empty());
        let c = config(&[
            "--label-group",
            "zone",
            "--group-by",
            "zone, pool",
            "--sort=free",
            "--output=wide",
        ])
        .unwrap();
        assert_eq!(c.group_by, GroupBy::LabelGroup("zone,pool".into()));
        assert_eq!(c.label_groups, [vec!["zone"], vec!["zone", "pool"]]);
        assert_eq!(c.sort, Sort::Free);
        let c = config(&["--label-group", "zone", "--group-by", "zone"]).unwrap();
        assert_eq!(c.label_groups, [vec!["zone"]]);
    }

    #[test]
    fn gates_follow_the_server_version_on_auto() {
        assert!(!Gate::Auto.resolve(Some(33), 34));
        assert!(Gate::Auto.resolve(Some(34), 34));
        assert!(Gate::Auto.resolve(None, 34));
        assert!(Gate::On.resolve(Some(20), 34));
        assert!(!Gate::Off.resolve(Some(40), 34));
        // The 1.36 and 1.37 switches (InPlacePodLevelResourcesVerticalScaling, max of sums).
        assert!(!Gate::Auto.resolve(Some(35), 36) && Gate::Auto.resolve(Some(36), 36));
        assert!(!Gate::Auto.resolve(Some(36), 37) && Gate::Auto.resolve(Some(37), 37));
        let config = config(&[
            "--in-place-pod-level-resources-vertical-scaling",
            "off",
            "--status-max-of-sums",
            "on",
        ])
        .unwrap();
        assert_eq!(
            (
                config.pod_level_resize,
                config.max_of_sums,
                config.in_place_resize
            ),
            (Gate::Off, Gate::On, Gate::Auto)
        );
    }
}
