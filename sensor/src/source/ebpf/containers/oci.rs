//! containerd (CRI) and CRI-O containers, from the OCI bundle the runtime writes for each
//! running container: `config.json`'s annotations carry what the kubelet's CRI request said
//! (container name, image, pod name, namespace and uid).
//!
//! containerd's API is gRPC (and CRI-O's CRI too): a client would bring tonic, prost, hyper and
//! tokio for what the bundle, a file the runtime keeps while the container runs, already
//! says. The bundle is read through the host's runtime state directories (`/run/containerd`,
//! `/run/containers/storage`), which a sensor in a container needs mounted read-only
//! (docs/container.md).

use std::{
    fs,
    io::Read,
    path::{Path, PathBuf},
};

use serde_json::Value;

use super::{docker::image_id, docker::image_ref, ContainerMeta, PodMeta};

/// Largest `config.json` read (they are a few KiB).
const MAX_CONFIG: u64 = 4 << 20;

/// The bundle `config.json` of container `id` under a containerd state directory (runtime
/// v2 or v1 shims, any namespace: `k8s.io` for CRI, `moby` for Docker, `default` for ctr).
pub fn containerd_bundle(root: &Path, id: &str) -> Option<PathBuf> {
    for shim in [
        "io.containerd.runtime.v2.task",
        "io.containerd.runtime.v1.linux",
    ] {
        let Ok(namespaces) = fs::read_dir(root.join(shim)) else {
            continue;
        };
        for ns in namespaces.flatten() {
            let p = ns.path().join(id).join("config.json");
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// The bundle `config.json` of container `id` under a containers/storage directory (CRI-O's
/// and podman's `/run/containers/storage`).
pub fn crio_bundle(root: &Path, id: &str) -> Option<PathBuf> {
    let p = root
        .join("overlay-containers")
        .join(id)
        .join("userdata/config.json");
    p.is_file().then_some(p)
}

/// Read and parse a bundle's `config.json`.
pub fn read_config(path: &Path) -> Option<Value> {
    let mut text = Vec::new();
    fs::File::open(path)
        .ok()?
        .take(MAX_CONFIG)
        .read_to_end(&mut text)
        .ok()?;
    serde_json::from_slice(&text).ok()
}

/// Metadata from an OCI runtime spec: its annotations (containerd CRI's
/// `io.kubernetes.cri.*`, CRI-O's `io.kubernetes.cri-o.*` and `io.kubernetes.pod.*`), and
/// the privilege from the spec itself (a privileged container has every capability and no
/// masked paths). `None` when the annotations name neither a container nor an image.
pub fn meta_of_spec(spec: &Value) -> Option<ContainerMeta> {
    let a = &spec["annotations"];
    let get = |k: &str| a[k].as_str().unwrap_or("");
    let first = |ks: &[&str]| {
        ks.iter()
            .map(|k| get(k))
            .find(|v| !v.is_empty())
            .unwrap_or("")
            .to_string()
    };
    let name = first(&[
        "io.kubernetes.cri.container-name",
        "io.kubernetes.container.name",
        "io.kubernetes.cri-o.Name",
    ]);
    let image = first(&[
        "io.kubernetes.cri.image-name",
        "io.kubernetes.cri-o.ImageName",
        "io.kubernetes.cri-o.Image",
    ]);
    if name.is_empty() && image.is_empty() {
        return None;
    }
    // CRI-O: `sha256:<hex>` or `repo@sha256:<hex>`.
    let imageref = get("io.kubernetes.cri-o.ImageRef");
    let imageid = image_id(imageref.rsplit('@').next().unwrap_or(""));
    let pod_name = first(&["io.kubernetes.cri.sandbox-name", "io.kubernetes.pod.name"]);
    let pod = (!pod_name.is_empty()).then(|| {
        let namespace = first(&[
            "io.kubernetes.cri.sandbox-namespace",
            "io.kubernetes.pod.namespace",
        ]);
        let uid = first(&["io.kubernetes.cri.sandbox-uid", "io.kubernetes.pod.uid"]);
        PodMeta {
            uid: if uid.is_empty() {
                format!("{namespace}/{pod_name}")
            } else {
                uid
            },
            name: pod_name,
            namespace,
        }
    });
    let caps = spec["process"]["capabilities"]["bounding"]
        .as_array()
        .map(|c| c.iter().any(|c| c.as_str() == Some("CAP_SYS_ADMIN")))
        .unwrap_or(false);
    let masked = spec["linux"]["maskedPaths"]
        .as_array()
        .is_some_and(|m| !m.is_empty());
    Some(ContainerMeta {
        name,
        image: image_ref(&image),
        imageid,
        privileged: caps && !masked,
        pod,
        complete: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn containerd_cri_annotations() {
        let spec = json!({"ociVersion":"1.0.2","process":{"capabilities":{"bounding":["CAP_CHOWN"]}},
            "linux":{"maskedPaths":["/proc/kcore"]},
            "annotations":{"io.kubernetes.cri.container-type":"container",
            "io.kubernetes.cri.container-name":"nginx",
            "io.kubernetes.cri.image-name":"docker.io/library/nginx:1.25",
            "io.kubernetes.cri.sandbox-name":"web-7d9f","io.kubernetes.cri.sandbox-namespace":"default",
            "io.kubernetes.cri.sandbox-uid":"b1a7f6a2-0d1c-4b5e-9a7e-3c2d1e0f9a8b"}});
        let m = meta_of_spec(&spec).expect("meta");
        assert_eq!(
            (m.name.as_str(), m.image.as_str(), m.privileged),
            ("nginx", "docker.io/library/nginx:1.25", false)
        );
        let p = m.pod.expect("pod");
        assert_eq!(
            (p.name.as_str(), p.namespace.as_str(), p.uid.as_str()),
            (
                "web-7d9f",
                "default",
                "b1a7f6a2-0d1c-4b5e-9a7e-3c2d1e0f9a8b"
            )
        );
    }

    #[test]
    fn crio_annotations_and_privilege() {
        let spec = json!({"process":{"capabilities":{"bounding":["CAP_CHOWN","CAP_SYS_ADMIN"]}},
            "linux":{},
            "annotations":{"io.kubernetes.container.name":"app",
            "io.kubernetes.cri-o.ImageName":"quay.io/acme/app",
            "io.kubernetes.cri-o.ImageRef":"quay.io/acme/app@sha256:9f86d081884c",
            "io.kubernetes.pod.name":"app-0","io.kubernetes.pod.namespace":"prod",
            "io.kubernetes.pod.uid":"u-1"}});
        let m = meta_of_spec(&spec).expect("meta");
        assert_eq!(
            (
                m.name.as_str(),
                m.image.as_str(),
                m.imageid.as_str(),
                m.privileged
            ),
            ("app", "quay.io/acme/app:latest", "9f86d081884c", true)
        );
        assert_eq!(m.pod.map(|p| p.uid), Some("u-1".to_string()));
        // Docker's own bundles (namespace moby) carry no such annotations.
        assert!(meta_of_spec(&json!({"annotations":{}})).is_none());
        assert!(meta_of_spec(&json!({})).is_none());
    }

    #[test]
    fn bundles_are_found_in_any_namespace() {
        let root = std::env::temp_dir().join(format!("sfx-oci-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let dir = root.join("io.containerd.runtime.v2.task/k8s.io").join(ID);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("config.json"), b"{\"annotations\":{}}").unwrap();
        assert_eq!(containerd_bundle(&root, ID), Some(dir.join("config.json")));
        assert_eq!(containerd_bundle(&root, &ID[1..]), None);
        assert!(read_config(&dir.join("config.json")).is_some());
        let c = root.join("overlay-containers").join(ID).join("userdata");
        fs::create_dir_all(&c).unwrap();
        fs::write(c.join("config.json"), b"not json").unwrap();
        assert_eq!(crio_bundle(&root, ID), Some(c.join("config.json")));
        assert!(read_config(&c.join("config.json")).is_none());
        let _ = fs::remove_dir_all(&root);
    }
}
