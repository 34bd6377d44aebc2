//! The HTTP side of the endpoint: routes, content negotiation, and limits on clients.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{HeaderValue, ACCEPT, ALLOW, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::encoding::{prometheus_text, text};

use super::{collect, State};

/// Clients served at once; more are closed at once (a scraper and two kubelet probes are the
/// usual load).
const MAX_CONNECTIONS: usize = 64;
/// Longest a client may take to send its request headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest a connection is kept, keep-alive included.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(60);

/// OpenMetrics text, what Prometheus asks for first.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The routes and what they read.
pub(super) struct App {
    state: Arc<State>,
    registry: prometheus_client::registry::Registry,
    connections: AtomicUsize,
}

impl App {
    pub fn new(state: Arc<State>) -> App {
        App {
            registry: collect::registry(state.clone()),
            state,
            connections: AtomicUsize::new(0),
        }
    }

    /// Answers one request.
    fn respond<B>(&self, req: &Request<B>) -> Response<Full<Bytes>> {
        if req.method() != Method::GET && req.method() != Method::HEAD {
            let mut r = reply(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD\n");
            r.headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            return r;
        }
        match req.uri().path() {
            "/metrics" => self.metrics(req),
            "/healthz" => reply(StatusCode::OK, "ok\n"),
            "/readyz" => match self.state.readiness() {
                Ok(what) => reply(StatusCode::OK, format!("ready: {what}\n")),
                Err(why) => reply(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("not ready: {why}\n"),
                ),
            },
            "/" => reply(
                StatusCode::OK,
                "sysflow-sensor: /metrics (Prometheus), /healthz (liveness), /readyz (readiness)\n",
            ),
            _ => reply(StatusCode::NOT_FOUND, "not found\n"),
        }
    }

    /// OpenMetrics text when the client accepts it (Prometheus does), else the Prometheus
    /// text format 0.0.4 (what `curl` gets).
    fn metrics<B>(&self, req: &Request<B>) -> Response<Full<Bytes>> {
        let openmetrics = req
            .headers()
            .get_all(ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.contains("application/openmetrics-text"));
        let mut body = String::with_capacity(8192);
        let (res, ctype) = if openmetrics {
            (text::encode(&mut body, &self.registry), OPENMETRICS)
        } else {
            (
                prometheus_text::encode(&mut body, &self.registry),
                prometheus_text::CONTENT_TYPE,
            )
        };
        if let Err(e) = res {
            tracing::warn!("metrics: cannot encode: {e}");
            return reply(StatusCode::INTERNAL_SERVER_ERROR, "cannot encode metrics\n");
        }
        let mut r = reply(StatusCode::OK, body);
        r.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(ctype));
        r
    }
}

fn reply(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// Accepts clients until the process ends.
pub(super) async fn serve(listener: std::net::TcpListener, app: Arc<App>) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("metrics: cannot serve: {e}");
            return;
        }
    };
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                // Out of descriptors and the like: say so, and do not spin.
                tracing::warn!("metrics: accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if app.connections.fetch_add(1, Relaxed) >= MAX_CONNECTIONS {
            app.connections.fetch_sub(1, Relaxed);
            continue;
        }
        let app = app.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(|req| {
                let r = app.respond(&req);
                async move { Ok::<_, Infallible>(r) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), svc);
            let _ = tokio::time::timeout(CONNECTION_TIMEOUT, conn).await;
            app.connections.fetch_sub(1, Relaxed);
        });
    }
}
