//! Which container a cgroup belongs to, from its name and its ancestors' names.
//!
//! Container runtimes name the cgroup of a container after its id:
//!
//! | runtime | cgroup (systemd driver) | cgroup (cgroupfs driver) |
//! |---|---|---|
//! | Docker | `system.slice/docker-<id>.scope` | `/docker/<id>` |
//! | containerd (CRI) | `kubepods-…-pod<uid>.slice/cri-containerd-<id>.scope` | `/kubepods/…/pod<uid>/<id>` |
//! | CRI-O | `kubepods-…-pod<uid>.slice/crio-<id>.scope` | `/kubepods/…/pod<uid>/crio-<id>` |
//! | podman | `machine.slice/libpod-<id>.scope` | `/libpod_parent/libpod-<id>` |
//! | LXC | `lxc.payload.<name>` | `/lxc/<name>` |
//!
//! `<id>` is the runtime's 64-hex-digit id. The monitor processes CRI-O and podman run beside
//! a container (`crio-conmon-<id>.scope`, `libpod-conmon-<id>.scope`) are not in it. A process
//! in a cgroup below a container's (systemd inside a container) is in that container: names
//! are tried leaf first, and the first that names a container wins (the innermost one, for
//! Docker in Docker).

use sysflow_model::ContainerType;

/// Length of a runtime's full container id (hex digits).
const FULL_ID: usize = 64;
/// Length of the short id the collector writes (`docker ps`'s).
pub const SHORT_ID: usize = 12;

/// A container as its cgroup names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupContainer {
    /// The runtime's full id (64 hex digits; an LXC container's name).
    pub full_id: String,
    /// The runtime type the naming scheme tells.
    pub ty: ContainerType,
}

impl CgroupContainer {
    /// The id SysFlow records carry: the first 12 hex digits (the collector's short id),
    /// or the whole name of an LXC container.
    pub fn short_id(&self) -> &str {
        if self.ty == ContainerType::Lxc {
            return &self.full_id;
        }
        self.full_id.get(..SHORT_ID).unwrap_or(&self.full_id)
    }
}

fn is_full_id(s: &str) -> bool {
    s.len() == FULL_ID && s.bytes().all(|c| c.is_ascii_hexdigit())
}

/// `<prefix><id><suffix>` with `suffix` optional → the id.
fn id_between<'a>(name: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = name.strip_prefix(prefix)?;
    let id = rest.strip_suffix(".scope").unwrap_or(rest);
    is_full_id(id).then_some(id)
}

/// The container of a cgroup given the names of the cgroup and its ancestors, leaf first
/// (as the probes send them, or a `/proc/<pid>/cgroup` path split and reversed).
pub fn container_of_names<'a, I>(names: I) -> Option<CgroupContainer>
where
    I: IntoIterator<Item = &'a str>,
{
    let names: Vec<&str> = names.into_iter().collect();
    for (i, &name) in names.iter().enumerate() {
        let parent = names.get(i + 1).copied().unwrap_or("");
        let found = |id: &str, ty| {
            Some(CgroupContainer {
                full_id: id.to_string(),
                ty,
            })
        };
        if name.starts_with("crio-conmon-") || name.starts_with("libpod-conmon-") {
            continue;
        }
        if let Some(id) = id_between(name, "docker-") {
            return found(id, ContainerType::Docker);
        }
        if let Some(id) = id_between(name, "cri-containerd-") {
            return found(id, ContainerType::Containerd);
        }
        if let Some(id) = id_between(name, "crio-") {
            return found(id, ContainerType::Crio);
        }
        // Podman has no type of its own in SysFlow v5's ContainerType.
        if let Some(id) = id_between(name, "libpod-") {
            return found(id, ContainerType::Custom);
        }
        if let Some(lxc) = name.strip_prefix("lxc.payload.") {
            return found(lxc, ContainerType::Lxc);
        }
        if matches!(parent, "lxc" | "lxc.payload") && !name.is_empty() {
            return found(name, ContainerType::Lxc);
        }
        if is_full_id(name) {
            // A bare id: Docker's `/docker/<id>` and any runtime's cgroupfs layout. Under a
            // Kubernetes pod the runtime is whichever CRI runtime the kubelet talks to.
            let in_pod = names[i + 1..]
                .iter()
                .any(|n| n.starts_with("kubepods") || n.starts_with("pod"));
            let ty = if in_pod {
                ContainerType::Cri
            } else {
                ContainerType::Docker
            };
            return found(name, ty);
        }
    }
    None
}

/// The container of a `/proc/<pid>/cgroup` text (any hierarchy that names one).
pub fn container_of_proc_cgroup(text: &str) -> Option<CgroupContainer> {
    text.lines().find_map(|line| {
        let path = line.splitn(3, ':').nth(2)?;
        container_of_names(path.rsplit('/').filter(|c| !c.is_empty()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn of(path: &str) -> Option<(String, ContainerType)> {
        container_of_names(path.rsplit('/').filter(|c| !c.is_empty()))
            .map(|c| (c.short_id().to_string(), c.ty))
    }

    #[test]
    fn each_runtimes_naming_scheme() {
        let short = || ID[..12].to_string();
        let cases = [
            (format!("/system.slice/docker-{ID}.scope"), ContainerType::Docker),
            (format!("/docker/{ID}"), ContainerType::Docker),
            (
                format!("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod0b1c2d3e_aaaa_bbbb_cccc_0123456789ab.slice/cri-containerd-{ID}.scope"),
                ContainerType::Containerd,
            ),
            (
                format!("/kubepods/besteffort/pod0b1c2d3e-aaaa-bbbb-cccc-0123456789ab/{ID}"),
                ContainerType::Cri,
            ),
            (
                format!("/kubepods.slice/kubepods-burstable.slice/x.slice/crio-{ID}.scope"),
                ContainerType::Crio,
            ),
            (format!("/kubepods/burstable/podx/crio-{ID}"), ContainerType::Crio),
            (format!("/machine.slice/libpod-{ID}.scope"), ContainerType::Custom),
            (format!("/libpod_parent/libpod-{ID}"), ContainerType::Custom),
            // podman on cgroup v2 with a sub-cgroup for the payload; systemd in a container.
            (format!("/machine.slice/libpod-{ID}.scope/container"), ContainerType::Custom),
            (format!("/docker/{ID}/system.slice/cron.service"), ContainerType::Docker),
        ];
        for (path, ty) in cases {
            assert_eq!(of(&path), Some((short(), ty)), "{path}");
        }
        assert_eq!(
            of("/lxc.payload.web1"),
            Some(("web1".into(), ContainerType::Lxc))
        );
        assert_eq!(of("/lxc/web2"), Some(("web2".into(), ContainerType::Lxc)));
    }

    #[test]
    fn docker_in_docker_is_the_inner_container() {
        let inner = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";
        assert_eq!(
            of(&format!("/docker/{ID}/docker/{inner}")),
            Some((inner[..12].to_string(), ContainerType::Docker))
        );
    }

    #[test]
    fn hosts_and_monitors_are_in_no_container() {
        for path in [
            "/",
            "/user.slice/user-0.slice/session-3.scope",
            "/system.slice/docker.service",
            "/system.slice/containerd.service",
            // This VM's harness: a 32-digit id is nobody's container id.
            "/process_api/e64c0768abe94bdf70263440b7678e2c",
            &format!("/machine.slice/libpod-conmon-{ID}.scope"),
            &format!("/kubepods.slice/crio-conmon-{ID}.scope"),
            // One digit short, one not hex.
            &format!("/docker/{}", &ID[1..]),
            &format!("/docker/{}g", &ID[1..]),
        ] {
            assert_eq!(of(path), None, "{path}");
        }
    }

    #[test]
    fn proc_cgroup_text_of_v1_and_v2_hosts() {
        let v1 = format!("12:pids:/docker/{ID}\n11:memory:/docker/{ID}\n0::/\n");
        let v2 = format!("0::/system.slice/docker-{ID}.scope\n");
        for text in [v1, v2] {
            let c = container_of_proc_cgroup(&text).expect("container");
            assert_eq!((c.full_id.as_str(), c.ty), (ID, ContainerType::Docker));
        }
        assert_eq!(container_of_proc_cgroup("0::/init.scope\n"), None);
    }
}
