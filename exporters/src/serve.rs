//! The exporter's HTTP server: the Prometheus text on the telemetry path, a landing page on
//! `/`, 404 elsewhere. Each request scrapes every source afresh, as the exporters it
//! replaces do.

use std::sync::Arc;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tracing::{debug, warn};

use crate::scrape::Collector;
use crate::text::CONTENT_TYPE;

/// Serves `collector` on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, telemetry_path: String, collector: Arc<Collector>) {
    let telemetry_path: Arc<str> = telemetry_path.into();
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                warn!("accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let (collector, path) = (Arc::clone(&collector), Arc::clone(&telemetry_path));
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let (collector, path) = (Arc::clone(&collector), Arc::clone(&path));
                async move { Ok::<_, std::convert::Infallible>(answer(req, &path, &collector).await) }
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                debug!(%peer, "connection: {e}");
            }
        });
    }
}

async fn answer<B>(
    req: Request<B>,
    telemetry_path: &str,
    collector: &Collector,
) -> Response<Full<Bytes>> {
    let reply = |status: StatusCode, kind: &str, body: String| {
        let mut r = Response::new(Full::new(Bytes::from(body)));
        *r.status_mut() = status;
        if let Ok(v) = kind.parse() {
            r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
        }
        r
    };
    if req.method() != hyper::Method::GET && req.method() != hyper::Method::HEAD {
        return reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "GET only\n".into(),
        );
    }
    match req.uri().path() {
        p if p == telemetry_path => reply(StatusCode::OK, CONTENT_TYPE, collector.collect().await),
        "/" => reply(
            StatusCode::OK,
            "text/html; charset=utf-8",
            landing(telemetry_path, collector),
        ),
        _ => reply(StatusCode::NOT_FOUND, "text/plain", "not found\n".into()),
    }
}

fn landing(telemetry_path: &str, collector: &Collector) -> String {
    let sources: String = collector
        .sources
        .iter()
        .map(|s| format!("<li>{}</li>", html_escape(&s.name)))
        .collect();
    format!(
        "<html><head><title>lb-exporter</title></head><body><h1>lb-exporter</h1>\
         <p><a href=\"{path}\">Metrics</a></p><p>Sources:</p><ul>{sources}</ul></body></html>\n",
        path = html_escape(telemetry_path)
    )
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
