//! The lookup threads of [`super::Runtimes`]: one answers requests, one per Docker socket
//! follows the daemon's container events.

use std::{
    path::Path,
    sync::{atomic::Ordering, Arc},
    thread,
    time::Duration,
};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use sysflow_model::ContainerType;

use super::{docker, http, oci, ContainerMeta, Request, RuntimeConfig, Shared};

/// How often a blocked thread looks at the stop flag.
const TICK: Duration = Duration::from_secs(1);
/// Longest wait between two attempts to reach a Docker daemon that is not there (yet).
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Most running containers read when a daemon is first reached.
const MAX_PREFETCH: usize = 4096;

pub(super) fn spawn(shared: &Arc<Shared>, requests: Receiver<Request>) {
    let s = shared.clone();
    let spawned = thread::Builder::new()
        .name("sf-containers".into())
        .spawn(move || serve(&s, &requests));
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start the container lookup thread: containers are reported by id only");
        return;
    }
    // An event thread hands each new container to the request thread for the inspect, so
    // it stays free while an inspect waits for a container being started.
    for sock in shared.cfg.docker_sockets.clone() {
        let (s, tx) = (shared.clone(), shared.requests.clone());
        let spawned = thread::Builder::new()
            .name("sf-docker-events".into())
            .spawn(move || follow(&s, &sock, &tx));
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot start a Docker event thread");
        }
    }
}

fn serve(s: &Shared, rx: &Receiver<Request>) {
    while !s.stopped() {
        match rx.recv_timeout(TICK) {
            Ok(r) => lookup(s, &r),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// Look container `r` up in the runtimes its cgroup scheme points to, then in the others.
fn lookup(s: &Shared, r: &Request) {
    let short = r.full_id.get(..super::SHORT_ID).unwrap_or(&r.full_id);
    let complete = s
        .known
        .lock()
        .map(|k| k.map.get(short).is_some_and(|(_, m)| m.complete))
        .unwrap_or(false);
    if complete || r.ty == ContainerType::Lxc {
        return;
    }
    let mut reachable = Vec::new();
    let mut errors = Vec::new();
    let files_first = matches!(
        r.ty,
        ContainerType::Containerd | ContainerType::Crio | ContainerType::Cri
    );
    if files_first && from_bundles(s, &r.full_id, &mut reachable) {
        return;
    }
    for sock in &s.cfg.docker_sockets {
        match from_docker(s, sock, &r.full_id) {
            Ok(found) => {
                if found {
                    return;
                }
                reachable.push(sock.display().to_string());
            }
            Err(e) if e.is_unreachable() => errors.push(e.to_string()),
            Err(e) => {
                tracing::debug!(container = %short, error = %e, "Docker API lookup failed");
                reachable.push(sock.display().to_string());
            }
        }
    }
    if !files_first && from_bundles(s, &r.full_id, &mut reachable) {
        return;
    }
    // Once: a host whose runtime cannot be reached (or does not know its containers) would
    // otherwise warn for every container.
    if !s.warned.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            container = %short,
            asked = %reachable.join(", "),
            unreachable = %errors.join("; "),
            "no container runtime reachable that knows this container: containers are \
             reported by id only (mount the runtime's socket; see docs/container.md)"
        );
    } else {
        tracing::debug!(container = %short, asked = %reachable.join(", "), "container unknown to the runtimes");
    }
}

/// From a containerd or CRI-O bundle; true when found.
fn from_bundles(s: &Shared, id: &str, reachable: &mut Vec<String>) -> bool {
    match bundle_meta(&s.cfg, id, reachable) {
        Some(meta) => {
            s.learn(id, meta);
            true
        }
        None => false,
    }
}

/// What the bundle of container `id` in containerd's or CRI-O's state directories says;
/// the directories that hold bundles are added to `reachable`.
pub(super) fn bundle_meta(
    cfg: &RuntimeConfig,
    id: &str,
    reachable: &mut Vec<String>,
) -> Option<ContainerMeta> {
    let dirs = cfg
        .containerd_dirs
        .iter()
        .map(|d| (d, oci::containerd_bundle(d, id)))
        .chain(cfg.crio_dirs.iter().map(|d| (d, oci::crio_bundle(d, id))));
    for (dir, bundle) in dirs {
        // Where the runtime keeps bundles, not merely its run directory.
        if bundle_dir_exists(dir) {
            reachable.push(dir.display().to_string());
        }
        if let Some(meta) = bundle
            .and_then(|p| oci::read_config(&p))
            .and_then(|spec| oci::meta_of_spec(&spec))
        {
            return Some(meta);
        }
    }
    None
}

fn bundle_dir_exists(dir: &Path) -> bool {
    [
        "io.containerd.runtime.v2.task",
        "io.containerd.runtime.v1.linux",
        "overlay-containers",
    ]
    .iter()
    .any(|d| dir.join(d).is_dir())
}

/// From a Docker daemon: the list entry first (answered even while the container is being
/// started), then the inspect (which waits for the start to finish). True when found.
fn from_docker(s: &Shared, sock: &Path, id: &str) -> Result<bool, http::HttpError> {
    let t = s.cfg.timeout;
    let mut found = false;
    let short = id.get(..super::SHORT_ID).unwrap_or(id);
    let known = s
        .known
        .lock()
        .map(|k| k.map.contains_key(short))
        .unwrap_or(false);
    if !known {
        if let Some((full, meta)) = docker::list(sock, Some(id), true, t)?
            .iter()
            .find_map(docker::meta_of_list_entry)
        {
            s.learn(&full, meta);
            found = true;
        }
    }
    // One retry: an inspect can wait for the whole start of a container on a loaded host.
    for attempt in 0..2 {
        match docker::inspect(sock, id, t) {
            Ok(Some(v)) => {
                s.learn(id, docker::meta_of_inspect(&v, sock, t));
                return Ok(true);
            }
            Ok(None) => return Ok(found || known),
            Err(http::HttpError::Timeout(_)) if attempt == 0 => continue,
            Err(e) => return if found || known { Ok(true) } else { Err(e) },
        }
    }
    Ok(found || known)
}

/// Follow one Docker daemon's container events for as long as the sensor runs, reconnecting
/// when it restarts; learn every running container when it is reached.
fn follow(s: &Shared, sock: &Path, requests: &Sender<Request>) {
    let mut backoff = TICK;
    while !s.stopped() {
        let mut stream = match http::Stream::open(sock, &docker::events_path(), s.cfg.timeout) {
            Ok(st) => st,
            Err(e) => {
                if !e.is_unreachable() {
                    tracing::debug!(socket = %sock.display(), error = %e, "Docker event stream");
                }
                sleep_unless_stopped(s, backoff);
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        backoff = TICK;
        tracing::debug!(socket = %sock.display(), "following Docker container events");
        prefetch(s, sock, requests);
        while !s.stopped() {
            match stream.next_line(TICK) {
                Ok(Some(line)) => on_event(s, &line, requests),
                Ok(None) => {}
                Err(e) => {
                    tracing::debug!(socket = %sock.display(), error = %e, "Docker event stream ended");
                    break;
                }
            }
        }
    }
}

fn sleep_unless_stopped(s: &Shared, d: Duration) {
    let mut left = d;
    while !s.stopped() && !left.is_zero() {
        let step = left.min(TICK);
        thread::sleep(step);
        left -= step;
    }
}

/// The running containers: their list entries now, the rest by request.
fn prefetch(s: &Shared, sock: &Path, requests: &Sender<Request>) {
    let Ok(list) = docker::list(sock, None, false, s.cfg.timeout) else {
        return;
    };
    for (id, meta) in list
        .iter()
        .take(MAX_PREFETCH)
        .filter_map(docker::meta_of_list_entry)
    {
        s.learn(&id, meta);
        let _ = requests.try_send(Request {
            full_id: id,
            ty: ContainerType::Docker,
        });
    }
}

fn on_event(s: &Shared, line: &str, requests: &Sender<Request>) {
    let Ok(ev) = serde_json::from_str::<serde_json::Value>(line) else {
        return;
    };
    let action = ev["Action"].as_str().unwrap_or("");
    let Some((id, meta)) = docker::meta_of_event(&ev) else {
        return;
    };
    match action {
        "create" | "rename" => {
            if action == "rename" {
                s.forget(&id);
            }
            s.learn(&id, meta);
            let _ = requests.try_send(Request {
                full_id: id,
                ty: ContainerType::Docker,
            });
        }
        "destroy" => s.forget(&id),
        _ => {}
    }
}
