//! Container identity and metadata.
//!
//! - [`cgroup`]: which container a process is in, from the names of its cgroup (the probes
//!   send them with every clone, exec and cgroup move);
//! - the runtime's metadata of a container (name, image, image id, privilege, Kubernetes
//!   pod): [`docker`] (the Docker Engine API and podman's compatible API over their Unix
//!   sockets, through [`http`]) and [`oci`] (containerd/CRI and CRI-O bundles);
//! - [`Runtimes`]: the lookups, off the record path. Two kinds of threads fill a shared
//!   table: one follows each Docker daemon's event stream and learns a container when it is
//!   created, before its first process runs, and one answers the builder's requests for
//!   containers it meets without knowing them (created before the sensor, or by a runtime
//!   without events). The builder never waits: it writes what the table holds when a record
//!   needs the container, and writes the Container again when its metadata arrives.

pub mod cgroup;
pub mod docker;
pub mod http;
pub mod oci;
mod resolver;

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use crossbeam_channel::{Receiver, Sender};
use sysflow_model::ContainerType;

pub use cgroup::{container_of_names, container_of_proc_cgroup, CgroupContainer, SHORT_ID};

/// What a runtime says about a container.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContainerMeta {
    /// The container's name (Docker's without the leading `/`).
    pub name: String,
    /// `repository:tag` of its image.
    pub image: String,
    /// The image id (hex, without `sha256:`); "" when the runtime does not say.
    pub imageid: String,
    pub privileged: bool,
    /// The Kubernetes pod, from the kubelet's labels.
    pub pod: Option<PodMeta>,
    /// False while only part is known (a Docker event carries no image id nor privilege).
    pub complete: bool,
}

/// A Kubernetes pod as the kubelet labels its containers (`io.kubernetes.pod.*`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PodMeta {
    /// `io.kubernetes.pod.uid` (or `namespace/name` when that label is missing).
    pub uid: String,
    pub name: String,
    pub namespace: String,
}

/// Where the container runtimes are (defaults in [`Default`]).
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Ask runtimes at all (off: ids only, no warning).
    pub enabled: bool,
    /// Docker Engine API sockets, tried in order: `$DOCKER_HOST` (a `unix://` one, as the
    /// docker CLI reads it), `/var/run/docker.sock`, podman's `/run/podman/podman.sock`.
    pub docker_sockets: Vec<PathBuf>,
    /// containerd state directories (OCI bundles of running containers).
    pub containerd_dirs: Vec<PathBuf>,
    /// containers/storage run directories (CRI-O bundles).
    pub crio_dirs: Vec<PathBuf>,
    /// Longest a single request to a runtime may take.
    pub timeout: Duration,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        let mut docker_sockets = Vec::new();
        if let Some(p) = std::env::var("DOCKER_HOST")
            .ok()
            .and_then(|h| h.strip_prefix("unix://").map(PathBuf::from))
        {
            docker_sockets.push(p);
        }
        for p in ["/var/run/docker.sock", "/run/podman/podman.sock"] {
            let p = PathBuf::from(p);
            if !docker_sockets.contains(&p) {
                docker_sockets.push(p);
            }
        }
        RuntimeConfig {
            enabled: true,
            docker_sockets,
            containerd_dirs: vec![PathBuf::from("/run/containerd")],
            crio_dirs: vec![
                PathBuf::from("/run/containers/storage"),
                PathBuf::from("/var/lib/containers/storage"),
            ],
            timeout: Duration::from_secs(2),
        }
    }
}

/// Most containers whose metadata is kept (removed on the runtime's `destroy` event; past
/// this, the oldest half is forgotten and looked up again if met).
const MAX_KNOWN: usize = 16384;
/// Pending requests and update notices: beyond these, a request is dropped (the container
/// stays `incomplete`, counted) and an update is found when the record is next written.
const QUEUE: usize = 1024;

/// The metadata table shared by the lookup threads and the builder.
#[derive(Default)]
struct Known {
    /// short id → metadata (and insertion order, for the bound).
    map: HashMap<String, (u64, Arc<ContainerMeta>)>,
    seq: u64,
}

impl Known {
    fn insert(&mut self, short: String, meta: ContainerMeta) -> bool {
        if self.map.get(&short).is_some_and(|(_, m)| **m == meta) {
            return false;
        }
        if self.map.len() >= MAX_KNOWN {
            let mut seqs: Vec<u64> = self.map.values().map(|(s, _)| *s).collect();
            seqs.sort_unstable();
            let cut = seqs[seqs.len() / 2];
            self.map.retain(|_, (s, _)| *s > cut);
        }
        self.seq += 1;
        self.map.insert(short, (self.seq, Arc::new(meta)));
        true
    }
}

/// State shared with the lookup threads.
struct Shared {
    known: Mutex<Known>,
    updates: Sender<String>,
    /// Into the request thread's queue (the builder's requests, and the event threads').
    requests: Sender<Request>,
    stop: AtomicBool,
    /// Set once the "no runtime" warning was logged.
    warned: AtomicBool,
    cfg: RuntimeConfig,
}

impl Shared {
    /// Record what is known of container `full_id` and tell the builder.
    fn learn(&self, full_id: &str, meta: ContainerMeta) {
        let short = full_id.get(..SHORT_ID).unwrap_or(full_id).to_string();
        let changed = self
            .known
            .lock()
            .map(|mut k| k.insert(short.clone(), meta))
            .unwrap_or(false);
        if changed {
            let _ = self.updates.try_send(short);
        }
    }

    fn forget(&self, full_id: &str) {
        let short = full_id.get(..SHORT_ID).unwrap_or(full_id);
        if let Ok(mut k) = self.known.lock() {
            k.map.remove(short);
        }
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// A lookup the builder asks for.
struct Request {
    full_id: String,
    ty: ContainerType,
}

/// The builder's handle on the lookup threads (see the module doc).
pub struct Runtimes {
    shared: Arc<Shared>,
    updates: Receiver<String>,
    /// Requests dropped because the queue was full.
    dropped: u64,
}

impl Runtimes {
    /// Start the lookup threads (one for requests, one per Docker socket for its events).
    /// Never fails: a runtime that is not there is found out, and warned about once, when a
    /// container is first looked up.
    pub fn start(cfg: RuntimeConfig) -> Runtimes {
        let (utx, urx) = crossbeam_channel::bounded(QUEUE);
        let (rtx, rrx) = crossbeam_channel::bounded(QUEUE);
        let shared = Arc::new(Shared {
            known: Mutex::new(Known::default()),
            updates: utx,
            requests: rtx,
            stop: AtomicBool::new(false),
            warned: AtomicBool::new(false),
            cfg,
        });
        if shared.cfg.enabled {
            resolver::spawn(&shared, rrx);
        }
        Runtimes {
            shared,
            updates: urx,
            dropped: 0,
        }
    }

    /// What is known of the container with this short id now.
    pub fn get(&self, short_id: &str) -> Option<Arc<ContainerMeta>> {
        let k = self.shared.known.lock().ok()?;
        k.map.get(short_id).map(|(_, m)| m.clone())
    }

    /// The bundle of a CRI container (containerd, CRI-O), read now: a small file on tmpfs
    /// that the runtime wrote before it created the container, so its first records carry
    /// the names (there is no event stream to learn them from ahead, as Docker has). Other
    /// types, and a container without a bundle, give `None`: ask with [`Runtimes::request`].
    pub fn lookup_now(&self, c: &CgroupContainer) -> Option<Arc<ContainerMeta>> {
        let cri = matches!(
            c.ty,
            ContainerType::Containerd | ContainerType::Crio | ContainerType::Cri
        );
        if !self.shared.cfg.enabled || !cri {
            return None;
        }
        let meta = resolver::bundle_meta(&self.shared.cfg, &c.full_id, &mut Vec::new())?;
        let short = c.short_id().to_string();
        let mut k = self.shared.known.lock().ok()?;
        k.insert(short.clone(), meta);
        k.map.get(&short).map(|(_, m)| m.clone())
    }

    /// Ask for the metadata of a container not known yet (never blocks).
    pub fn request(&mut self, c: &CgroupContainer) {
        if !self.shared.cfg.enabled {
            return;
        }
        let r = Request {
            full_id: c.full_id.clone(),
            ty: c.ty,
        };
        if self.shared.requests.try_send(r).is_err() {
            if self.dropped == 0 {
                tracing::warn!(
                    container = %c.short_id(),
                    "container lookups fall behind: this container and others stay incomplete"
                );
            }
            self.dropped += 1;
        }
    }

    /// Short ids of containers whose metadata changed since the last call.
    pub fn updated(&self) -> impl Iterator<Item = String> + '_ {
        self.updates.try_iter()
    }

    /// Requests dropped because the lookups fell behind.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

impl Drop for Runtimes {
    fn drop(&mut self) {
        // The threads see it at their next timeout (at most a second) and end.
        self.shared.stop.store(true, Ordering::Relaxed);
    }
}
