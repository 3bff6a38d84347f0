//! The HTTP front (`[http]`): one listener, plain or HTTPS, that serves
//! XMPP over WebSocket (RFC 7395, [`websocket`]), XMPP over BOSH
//! (XEP-0124/XEP-0206, [`bosh`]), the web visitors' tokens ([`visitor`]),
//! the chat page with its widget ([`page`]) and XEP-0363 file uploads
//! ([`upload`]). The XMPP framings hand their streams to the c2s
//! negotiation ([`crate::stream::c2s::serve_connection`]): no second
//! implementation of SASL, binding, stream management or sessions.
//!
//! Behind a reverse proxy, list the proxy in `trusted_proxies`: only then
//! are its `X-Forwarded-For` (the client's address, for the per-address
//! limit and the logs) and `X-Forwarded-Proto` (whether the browser's
//! connection is HTTPS) believed.

mod bosh;
mod page;
mod upload;
mod visitor;
mod websocket;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::routing::{get, post};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tracing::{debug, error, Instrument};

use crate::config::{GatewayConfigHandle, Settings};
use crate::net::Transport;
use crate::session::{SessionContext, SessionRouter};
use crate::slot::SlotKey;
use crate::stream::StreamContext;

pub use upload::{sweep as sweep_uploads, sweep_loop as sweep_uploads_loop};

/// What the HTTP handlers reach.
pub struct HttpContext<R> {
    pub settings: Arc<Settings>,
    pub streams: Arc<StreamContext>,
    pub sessions: Arc<SessionContext<R>>,
    /// The entries in force, which the chat page may be opened on.
    pub gateway: GatewayConfigHandle,
    streams_per_address: Slots,
    bosh: bosh::Sessions,
    /// XEP-0363 uploads, when `[upload]` is on.
    uploads: Option<upload::Files>,
}

impl<R: SessionRouter> HttpContext<R> {
    /// `upload_key`: what checks upload slots (the gateway's signing key),
    /// when `[upload]` is on.
    pub fn new(
        settings: Arc<Settings>,
        streams: Arc<StreamContext>,
        sessions: Arc<SessionContext<R>>,
        gateway: GatewayConfigHandle,
        upload_key: Option<SlotKey>,
    ) -> Arc<Self> {
        let per_address = settings.http.max_streams_per_address;
        let uploads = settings
            .upload
            .clone()
            .zip(upload_key)
            .map(|(config, key)| upload::Files::new(config, key));
        Arc::new(HttpContext {
            settings,
            streams,
            sessions,
            gateway,
            streams_per_address: Slots::new(per_address),
            bosh: bosh::Sessions::default(),
            uploads,
        })
    }
}

/// The routes.
fn app<R: SessionRouter>(ctx: Arc<HttpContext<R>>) -> Router {
    Router::new()
        .route("/xmpp-websocket", get(websocket::upgrade::<R>))
        .route(
            "/http-bind",
            post(bosh::request::<R>)
                .options(bosh::preflight)
                .get(bosh::info),
        )
        .route("/web/visitor", post(visitor::mint::<R>))
        .route("/chat", get(page::chat::<R>))
        .route("/web/{name}", get(page::asset))
        .route(
            "/upload/{id}/{name}",
            get(upload::get::<R>)
                .put(upload::put::<R>)
                .options(upload::preflight),
        )
        .with_state(ctx)
}

/// Who sent a request, as far as this server can tell.
#[derive(Debug, Clone, Copy)]
pub struct Client {
    pub addr: IpAddr,
    port: u16,
    /// Whether the browser's connection is protected: HTTPS to us or to a
    /// trusted proxy, or loopback.
    pub secure: bool,
}

impl Client {
    fn of<B>(req: &hyper::Request<B>, peer: SocketAddr, tls: bool, trusted: &[IpAddr]) -> Client {
        let direct = Client {
            addr: peer.ip(),
            port: peer.port(),
            secure: tls || peer.ip().is_loopback(),
        };
        if !trusted.contains(&peer.ip()) {
            return direct;
        }
        let header = |name: &str| {
            req.headers()
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .map(str::trim)
                .collect::<Vec<_>>()
        };
        // The rightmost address no trusted proxy added is the client's.
        let forwarded = header("x-forwarded-for")
            .into_iter()
            .rev()
            .filter_map(|a| a.parse::<IpAddr>().ok())
            .find(|a| !trusted.contains(a));
        let proto = header("x-forwarded-proto");
        Client {
            addr: forwarded.unwrap_or(direct.addr),
            port: if forwarded.is_some() { 0 } else { direct.port },
            secure: match proto.first() {
                Some(p) => p.eq_ignore_ascii_case("https"),
                None => direct.secure,
            },
        }
    }

    fn addr_port(&self) -> SocketAddr {
        SocketAddr::new(self.addr, self.port)
    }
}

/// Open streams per client address, bounded.
struct Slots {
    max: usize,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One open stream's place; freed when dropped.
struct Slot {
    addr: IpAddr,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl Slots {
    fn new(max: usize) -> Slots {
        Slots {
            max,
            open: Arc::default(),
        }
    }

    fn take(&self, addr: IpAddr) -> Option<Slot> {
        let mut open = self.open.lock().expect("slots");
        let n = open.entry(addr).or_default();
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(Slot {
            addr,
            open: self.open.clone(),
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.open.lock().expect("slots");
        if let Some(n) = open.get_mut(&self.addr) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.addr);
            }
        }
    }
}

/// Accepts HTTP connections on `socket` until shutdown.
pub async fn accept_loop<R: SessionRouter>(
    ctx: Arc<HttpContext<R>>,
    socket: TcpListener,
    tls: bool,
) {
    let app = app(ctx.clone());
    let shutdown = ctx.streams.shutdown.clone();
    loop {
        let accepted = tokio::select! {
            a = socket.accept() => a,
            _ = shutdown.cancelled() => return,
        };
        match accepted {
            Ok((tcp, peer)) => {
                let _ = tcp.set_nodelay(true);
                let admitted = match ctx.streams.doorman.admit(peer.ip()) {
                    Ok(a) => a,
                    Err(why) => {
                        debug!(%peer, %why, "HTTP connection refused");
                        ctx.streams
                            .doorman
                            .answer_refusal(&ctx.streams.tasks, refuse(tcp, tls));
                        continue;
                    }
                };
                let span = tracing::info_span!("http", %peer);
                let conn = connection(ctx.clone(), app.clone(), tcp, peer, tls);
                // Its place at the door until the connection ends (or is
                // upgraded: a WebSocket stream is then counted by `Slots`).
                let conn = async move {
                    conn.await;
                    drop(admitted);
                };
                ctx.streams.tasks.spawn(conn.instrument(span));
            }
            Err(e) => {
                error!(error = %e, "HTTP accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

/// A connection the door refused: 429 on plain HTTP, before reading the
/// request; closed at once on HTTPS, whose handshake is the work the
/// limit spares.
async fn refuse(mut tcp: TcpStream, tls: bool) {
    use tokio::io::AsyncWriteExt;
    if tls {
        return;
    }
    let answer = "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\n\
                  Content-Length: 0\r\nConnection: close\r\n\r\n";
    let write = async {
        let _ = tcp.write_all(answer.as_bytes()).await;
        let _ = tcp.shutdown().await;
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), write).await;
}

/// One HTTP/1.1 connection, with upgrades (WebSocket).
async fn connection<R: SessionRouter>(
    ctx: Arc<HttpContext<R>>,
    app: Router,
    tcp: TcpStream,
    peer: SocketAddr,
    tls: bool,
) {
    let io = if tls {
        match Transport::Plain(tcp)
            .into_tls(ctx.streams.tls.clone())
            .await
        {
            Ok(io) => io,
            Err(e) => return debug!(error = %e, "TLS handshake failed"),
        }
    } else {
        Transport::Plain(tcp)
    };
    let trusted = ctx.settings.http.trusted_proxies.clone();
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        let client = Client::of(&req, peer, tls, &trusted);
        req.extensions_mut().insert(client);
        tower::ServiceExt::oneshot(app.clone(), req)
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(std::time::Duration::from_secs(30))
        .max_buf_size(64 * 1024)
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(conn);
    let shutdown = ctx.streams.shutdown.clone();
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                debug!(error = %e, "HTTP connection ended");
            }
        }
        _ = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), conn).await;
        }
    }
}
