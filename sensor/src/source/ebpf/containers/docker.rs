//! The Docker Engine API (and podman's Docker-compatible API) over its Unix socket: a
//! container's name, image, image id, privilege and labels, from an event, the container
//! list or an inspect.
//!
//! Unversioned paths: the daemon serves them as its own API version, so one client works
//! from Docker 20.10 (API 1.41) on, and with podman's compat API.

use std::{path::Path, time::Duration};

use serde_json::Value;

use super::{http, ContainerMeta, PodMeta};

/// Docker's answer to `GET /containers/{id}/json` (404: not a container of this daemon).
pub fn inspect(sock: &Path, id: &str, timeout: Duration) -> Result<Option<Value>, http::HttpError> {
    json(sock, &format!("/containers/{}/json", encode(id)), timeout)
}

/// `GET path`, parsed; `None` on 404 or a body that is not JSON.
fn json(sock: &Path, path: &str, timeout: Duration) -> Result<Option<Value>, http::HttpError> {
    let r = http::get(sock, path, timeout)?;
    if r.status != 200 {
        return Ok(None);
    }
    Ok(serde_json::from_slice(&r.body).ok())
}

/// The containers of `GET /containers/json` (all of them with `all`), or those whose id
/// starts with `id`. Served from the daemon's in-memory view: unlike an inspect it does not
/// wait while the container is being started.
pub fn list(
    sock: &Path,
    id: Option<&str>,
    all: bool,
    timeout: Duration,
) -> Result<Vec<Value>, http::HttpError> {
    let mut path = format!("/containers/json?all={}", u8::from(all));
    if let Some(id) = id {
        path.push_str("&filters=");
        path.push_str(&encode(&format!(r#"{{"id":["{id}"]}}"#)));
    }
    Ok(match json(sock, &path, timeout)? {
        Some(Value::Array(v)) => v,
        _ => Vec::new(),
    })
}

/// The path of the container event stream: creations, renames and removals.
pub fn events_path() -> String {
    format!(
        "/events?filters={}",
        encode(r#"{"type":["container"],"event":["create","rename","destroy"]}"#)
    )
}

/// Percent-encode everything but unreserved characters (RFC 3986).
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `repository:tag` of an image reference: `busybox` → `busybox:latest`; a reference with a
/// digest (`repo@sha256:…`) stays as it is (it has no tag).
pub fn image_ref(image: &str) -> String {
    if image.is_empty() || image.contains('@') {
        return image.to_string();
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    if last.contains(':') {
        image.to_string()
    } else {
        format!("{image}:latest")
    }
}

/// An image id without its `sha256:` prefix (as the collector writes it).
pub fn image_id(id: &str) -> String {
    id.strip_prefix("sha256:").unwrap_or(id).to_string()
}

/// True for a reference that is an image id rather than a name (`docker run <id>`).
fn is_image_id(image: &str) -> bool {
    let hex = image.strip_prefix("sha256:").unwrap_or(image);
    hex.len() >= 12 && hex.bytes().all(|c| c.is_ascii_hexdigit())
}

/// The Kubernetes pod a container belongs to, from the labels the kubelet puts on it.
pub fn pod_of_labels<'a>(labels: impl Iterator<Item = (&'a str, &'a str)>) -> Option<PodMeta> {
    let (mut uid, mut name, mut ns) = (None, None, None);
    for (k, v) in labels {
        match k {
            "io.kubernetes.pod.uid" => uid = Some(v.to_string()),
            "io.kubernetes.pod.name" => name = Some(v.to_string()),
            "io.kubernetes.pod.namespace" => ns = Some(v.to_string()),
            _ => {}
        }
    }
    let name = name?;
    let namespace = ns.unwrap_or_default();
    Some(PodMeta {
        uid: uid.unwrap_or_else(|| format!("{namespace}/{name}")),
        name,
        namespace,
    })
}

fn str_of<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut cur = v;
    for k in path {
        cur = &cur[*k];
    }
    cur.as_str().unwrap_or("")
}

fn labels_of(v: &Value) -> impl Iterator<Item = (&str, &str)> {
    v.as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.as_str(), v.as_str()?)))
}

/// What a `create` event says (name, image as given, labels): all but the image id and the
/// privilege, which take an inspect.
pub fn meta_of_event(ev: &Value) -> Option<(String, ContainerMeta)> {
    if str_of(ev, &["Type"]) != "container" {
        return None;
    }
    let id = str_of(ev, &["Actor", "ID"]).to_string();
    let attrs = &ev["Actor"]["Attributes"];
    let meta = ContainerMeta {
        name: str_of(attrs, &["name"]).to_string(),
        image: image_ref(str_of(attrs, &["image"])),
        imageid: String::new(),
        privileged: false,
        pod: pod_of_labels(labels_of(attrs)),
        complete: false,
    };
    (!id.is_empty()).then_some((id, meta))
}

/// What an entry of the container list says: all but the privilege.
pub fn meta_of_list_entry(v: &Value) -> Option<(String, ContainerMeta)> {
    let id = str_of(v, &["Id"]).to_string();
    let name = v["Names"]
        .as_array()
        .and_then(|n| n.first())
        .and_then(Value::as_str)
        .unwrap_or("");
    let meta = ContainerMeta {
        name: name.trim_start_matches('/').to_string(),
        image: image_ref(str_of(v, &["Image"])),
        imageid: image_id(str_of(v, &["ImageID"])),
        privileged: false,
        pod: pod_of_labels(labels_of(&v["Labels"])),
        complete: false,
    };
    (!id.is_empty()).then_some((id, meta))
}

/// Everything, from an inspect. An image given by id is named by its first repository tag
/// (one more request).
pub fn meta_of_inspect(v: &Value, sock: &Path, timeout: Duration) -> ContainerMeta {
    let mut image = str_of(v, &["Config", "Image"]).to_string();
    let imageid = image_id(str_of(v, &["Image"]));
    if is_image_id(&image) {
        if let Ok(Some(img)) = json(sock, &format!("/images/{}/json", encode(&image)), timeout) {
            if let Some(tag) = img["RepoTags"]
                .as_array()
                .and_then(|t| t.first())
                .and_then(Value::as_str)
            {
                image = tag.to_string();
            }
        }
    }
    ContainerMeta {
        name: str_of(v, &["Name"]).trim_start_matches('/').to_string(),
        image: image_ref(&image),
        imageid,
        privileged: v["HostConfig"]["Privileged"].as_bool().unwrap_or(false),
        pod: pod_of_labels(labels_of(&v["Config"]["Labels"])),
        complete: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ID: &str = "d2fcbe7e204ae1d2ecbf831aed49c87c7331561198764b3a3af0ab9ae1dcb32a";

    #[test]
    fn image_references_get_a_tag() {
        assert_eq!(image_ref("busybox"), "busybox:latest");
        assert_eq!(image_ref("local/busybox:1"), "local/busybox:1");
        assert_eq!(image_ref("localhost:5000/app"), "localhost:5000/app:latest");
        assert_eq!(image_ref("registry:5000/app:2.1"), "registry:5000/app:2.1");
        assert_eq!(image_ref("app@sha256:abcd"), "app@sha256:abcd");
        assert_eq!(image_id("sha256:fda0aa77"), "fda0aa77");
        assert!(is_image_id("sha256:fda0aa77c044"));
        assert!(!is_image_id("local/busybox:1"));
        assert_eq!(
            encode(r#"{"id":["ab"]}"#),
            "%7B%22id%22%3A%5B%22ab%22%5D%7D"
        );
    }

    /// The shapes below are Docker 20.10's answers (trimmed) as seen with curl on this VM.
    #[test]
    fn metadata_from_an_event_a_list_entry_and_an_inspect() {
        let ev = json!({"status":"create","id":ID,"from":"local/busybox:1","Type":"container",
            "Action":"create","Actor":{"ID":ID,"Attributes":{"image":"local/busybox:1",
            "io.kubernetes.pod.name":"web-0","io.kubernetes.pod.namespace":"shop",
            "io.kubernetes.pod.uid":"6f1e-22","name":"k8s_app_web-0"}}});
        let (id, m) = meta_of_event(&ev).expect("event");
        assert_eq!(id, ID);
        assert_eq!(
            (m.name.as_str(), m.image.as_str()),
            ("k8s_app_web-0", "local/busybox:1")
        );
        assert!(!m.complete);
        let pod = m.pod.expect("pod");
        assert_eq!(
            (pod.uid.as_str(), pod.name.as_str(), pod.namespace.as_str()),
            ("6f1e-22", "web-0", "shop")
        );
        assert!(meta_of_event(&json!({"Type":"network","Actor":{"ID":"x"}})).is_none());

        let entry = json!({"Id":ID,"Names":["/shady"],"Image":"busybox","ImageID":"sha256:fda0",
            "Labels":{},"State":"created"});
        let (_, m) = meta_of_list_entry(&entry).expect("entry");
        assert_eq!(
            (
                m.name.as_str(),
                m.image.as_str(),
                m.imageid.as_str(),
                m.pod.is_none()
            ),
            ("shady", "busybox:latest", "fda0", true)
        );

        let insp = json!({"Id":ID,"Name":"/shady","Image":"sha256:fda0",
            "Config":{"Image":"local/busybox:1","Labels":{"io.kubernetes.pod.name":"p"}},
            "HostConfig":{"Privileged":true}});
        let m = meta_of_inspect(
            &insp,
            Path::new("/nonexistent.sock"),
            Duration::from_millis(10),
        );
        assert_eq!(
            (
                m.name.as_str(),
                m.image.as_str(),
                m.imageid.as_str(),
                m.privileged,
                m.complete
            ),
            ("shady", "local/busybox:1", "fda0", true, true)
        );
        // No uid label: the pod is known by namespace and name.
        assert_eq!(m.pod.map(|p| p.uid), Some("/p".to_string()));
    }
}
