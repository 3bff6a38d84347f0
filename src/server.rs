//! The server: the wiring of the layers, listeners, accept loops and
//! graceful shutdown (modelled on mini-redis: a cancellation token every
//! task watches, and a task tracker the shutdown waits on, within a bound).
//! Each layer gets a context of what it uses, and the router as traits.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, error, info, warn};

use crate::config::{
    accounts, ConfigError, GatewayConfig, GatewayConfigHandle, Settings, WatchError, Watcher,
};
use crate::gateway::directory::Directory;
use crate::gateway::{self, Gateway};
use crate::http::{self, HttpContext};
use crate::limit::{Doorman, LoginGuard};
use crate::net::{certs, pki, resolve, tls};
use crate::router::{Pool, Router};
use crate::session::SessionContext;
use crate::slot::SlotKey;
use crate::store::{Store, StoreError};
use crate::stream::s2s::{self, S2sContext};
use crate::stream::web_login::WebKeys;
use crate::stream::{self, c2s, component, StreamContext};
use crate::xml::ns;

/// What the accept loops hand each connection.
struct Wiring {
    router: Arc<Router>,
    /// Signs the upload slots the gateway grants; the HTTP front checks
    /// them with it.
    upload_key: Option<SlotKey>,
    streams: Arc<StreamContext>,
    sessions: Arc<SessionContext<Router>>,
    http: Arc<HttpContext<Router>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("database: {0}")]
    Store(#[from] StoreError),
    #[error("TLS: {0}")]
    Tls(#[from] tls::TlsError),
    #[error("development certificates: {0}")]
    Certs(#[from] certs::CertError),
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("watching the gateway configuration: {0}")]
    Watch(#[from] WatchError),
    #[error("s2s name resolution: {0}")]
    Resolver(#[from] resolve::ResolveError),
    #[error("the key {path}: {source}")]
    Key {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the upload directory {path}: {source}")]
    UploadDir {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

#[derive(Clone, Copy)]
enum Role {
    C2s,
    S2s,
    Component,
    /// The HTTP front; `direct_tls` is HTTPS.
    Http,
}

struct Listener {
    name: &'static str,
    socket: TcpListener,
    direct_tls: bool,
    role: Role,
}

pub struct Server {
    wiring: Arc<Wiring>,
    listeners: Vec<Listener>,
    gateway: Gateway,
    gateway_rx: gateway::Inbox,
    gateway_cfg: GatewayConfigHandle,
    watcher: Watcher,
}

impl Server {
    /// Opens the store, loads (or, on first start, creates) certificates,
    /// and binds every listener, so that errors surface before "ready".
    pub async fn bind(settings: Settings) -> Result<Server, ServerError> {
        // agents.toml and routing.toml first: a contact center without
        // valid ones should not start, and says which line is wrong.
        let gateway_cfg = GatewayConfigHandle::load(&settings)?;
        let watcher = Watcher::start(settings.clone(), gateway_cfg.clone())?;
        let settings = Arc::new(settings);
        // Listening before anything slow (the store, certificates): after a
        // crash, a peer that reconnects at once waits in the backlog until
        // the accept loops run, rather than being refused and bouncing
        // what it had for us to its senders.
        let mut listeners = Vec::new();
        for (addrs, direct_tls, name, role) in [
            (&settings.c2s.listen, false, "c2s", Role::C2s),
            (&settings.c2s.direct_tls, true, "direct_tls", Role::C2s),
            (&settings.s2s.listen, false, "s2s", Role::S2s),
            (&settings.s2s.direct_tls, true, "s2s_direct_tls", Role::S2s),
            (
                &settings.component.listen,
                false,
                "component",
                Role::Component,
            ),
            (&settings.http.listen, false, "http", Role::Http),
            (&settings.http.listen_tls, true, "https", Role::Http),
        ] {
            for addr in addrs {
                let socket = TcpListener::bind(addr)
                    .await
                    .map_err(|source| ServerError::Bind {
                        addr: *addr,
                        source,
                    })?;
                listeners.push(Listener {
                    name,
                    socket,
                    direct_tls,
                    role,
                });
            }
        }
        let store = Store::connect_with(&settings.database_url, settings.durability).await?;
        warn_of_account_mismatches(&store, &settings, &gateway_cfg.current()).await;
        let domains = settings.domains();
        let missing = tls::uncovered_domains(&settings.cert_dir, &domains);
        if !missing.is_empty() {
            warn!(
                dir = %settings.cert_dir.display(),
                domains = ?missing,
                "NO CERTIFICATE FOR THESE DOMAINS: writing DEVELOPMENT certificates signed by a local CA. \
                 Clients will not trust them. Never run production like this."
            );
            let missing: Vec<&str> = missing.iter().map(String::as_str).collect();
            certs::write_dev_certs(&settings.cert_dir, &missing)?;
        }
        // The agent domain first: a client that names no domain gets its
        // certificate. The web domain's is for HTTPS and its visitors.
        let mut ours = vec![
            settings.agent_domain.as_str(),
            settings.support_domain.as_str(),
        ];
        ours.extend(settings.web_domain());
        let tls = tls::server_config(&settings.cert_dir, &ours)?;
        let certs = Arc::new(tls::resolver(&settings.cert_dir, &ours)?);
        let trust = pki::TrustStore::load(settings.ca_file.as_deref())?;
        let resolver = resolve::S2sResolver::new(
            settings.s2s.hosts.clone(),
            settings.s2s.nameservers.clone(),
        )?;
        let s2s = Arc::new(S2sContext::new(settings.clone(), trust, certs, resolver)?);
        let shutdown = CancellationToken::new();
        let tasks = TaskTracker::new();
        let (gateway, gateway_rx) = Gateway::new(4096);
        let upload = settings.upload.as_ref();
        let support = gateway.domain_handler(&settings.support_domain, upload);
        let router = Arc::new_cyclic(|weak| {
            let pool = Pool::new(s2s.clone(), weak.clone(), shutdown.clone(), tasks.clone());
            Router::new(
                settings.clone(),
                store.clone(),
                Box::new(pool),
                vec![support],
            )
        });
        let sessions = Arc::new(SessionContext::new(
            router.clone(),
            &settings,
            store.clone(),
            tasks.clone(),
            shutdown.clone(),
        ));
        let web = match &settings.web {
            Some(w) => {
                let key = secret_key(&settings.cert_dir, "web-visitors.key")?;
                Some(Arc::new(WebKeys::new(w.clone(), key)))
            }
            None => None,
        };
        let streams = Arc::new(StreamContext {
            settings: settings.clone(),
            tls,
            store,
            s2s,
            web,
            doorman: Doorman::new(settings.limits.door),
            logins: LoginGuard::new(settings.limits.logins),
            shutdown,
            tasks,
        });
        let upload_key = match &settings.upload {
            Some(u) => {
                std::fs::create_dir_all(&u.directory).map_err(|source| ServerError::UploadDir {
                    path: u.directory.clone(),
                    source,
                })?;
                Some(SlotKey::new(&secret_key(&settings.cert_dir, "upload.key")?))
            }
            None => None,
        };
        let http = HttpContext::new(
            settings,
            streams.clone(),
            sessions.clone(),
            gateway_cfg.clone(),
            upload_key.clone(),
        );
        let wiring = Arc::new(Wiring {
            router,
            upload_key,
            streams,
            sessions,
            http,
        });
        Ok(Server {
            wiring,
            listeners,
            gateway,
            gateway_rx,
            gateway_cfg,
            watcher,
        })
    }

    /// `name=address` for every listener, as actually bound.
    pub fn addresses(&self) -> Vec<(&'static str, SocketAddr)> {
        self.listeners
            .iter()
            .filter_map(|l| Some((l.name, l.socket.local_addr().ok()?)))
            .collect()
    }

    /// The web chat page's address, when there is an HTTP listener and a
    /// web domain.
    pub fn chat_url(&self) -> Option<String> {
        self.wiring.streams.settings.web.as_ref()?;
        Some(format!("{}/chat", self.http_base()?))
    }

    /// Where browsers and clients reach the HTTP front: `public_url`, or
    /// the first HTTP listener as bound.
    fn http_base(&self) -> Option<String> {
        let settings = &self.wiring.streams.settings;
        let base = if settings.http.public_url.is_empty() {
            let (name, addr) = self
                .addresses()
                .into_iter()
                .find(|(n, _)| *n == "http" || *n == "https")?;
            format!(
                "{}://{addr}",
                if name == "https" { "https" } else { "http" }
            )
        } else {
            settings.http.public_url.clone()
        };
        Some(base)
    }

    /// Serves until `signal` completes, then closes every stream with
    /// `<system-shutdown/>` and waits for them, at most the configured grace.
    pub async fn run(self, signal: impl Future<Output = ()>) {
        let wiring = self.wiring.clone();
        let ctx = &wiring.streams;
        let dir = Arc::new(Directory::from_config(self.gateway_cfg.current()));
        let upload = match (&ctx.settings.upload, &wiring.upload_key, self.http_base()) {
            (Some(config), Some(key), Some(base_url)) => {
                ctx.tasks.spawn(http::sweep_uploads_loop(
                    config.clone(),
                    ctx.shutdown.clone(),
                ));
                Some(gateway::UploadService {
                    config: config.clone(),
                    key: key.clone(),
                    base_url,
                })
            }
            _ => None,
        };
        let env = gateway::Env {
            out: wiring.router.clone(),
            store: ctx.store.clone(),
            clock: gateway::ports::Clock::system(),
            support_domain: ctx.settings.support_domain.clone(),
            agent_domain: ctx.settings.agent_domain.clone(),
            web_domain: ctx.settings.web_domain().map(str::to_string),
            tasks: ctx.tasks.clone(),
            upload,
        };
        ctx.tasks.spawn(gateway::run(
            env,
            self.gateway.clone(),
            self.gateway_rx,
            dir,
            ctx.shutdown.clone(),
        ));
        ctx.tasks.spawn(self.watcher.run(ctx.shutdown.clone()));
        ctx.tasks.spawn(forward_reloads(
            self.gateway_cfg,
            self.gateway,
            ctx.store.clone(),
            ctx.settings.clone(),
            ctx.shutdown.clone(),
        ));
        for l in self.listeners {
            ctx.tasks.spawn(accept_loop(wiring.clone(), l));
        }
        signal.await;
        info!("shutting down");
        ctx.shutdown.cancel();
        ctx.tasks.close();
        if tokio::time::timeout(ctx.settings.shutdown_grace, ctx.tasks.wait())
            .await
            .is_err()
        {
            warn!("some connections did not close in time");
        }
        ctx.store.close().await;
        info!("stopped");
    }
}

/// Hands each applied reload of agents.toml / routing.toml to the gateway,
/// and warns of what the new agents and the accounts disagree on.
async fn forward_reloads(
    cfg: GatewayConfigHandle,
    gateway: Gateway,
    store: Store,
    settings: Arc<Settings>,
    shutdown: CancellationToken,
) {
    let mut generations = cfg.subscribe();
    loop {
        tokio::select! {
            changed = generations.changed() => if changed.is_err() { return },
            _ = shutdown.cancelled() => return,
        }
        let config = cfg.current();
        let dir = Arc::new(Directory::from_config(config.clone()));
        gateway.send(gateway::Event::Reload(dir)).await;
        warn_of_account_mismatches(&store, &settings, &config).await;
    }
}

/// Logs each agent without an account and each account that is no agent
/// (`config::accounts`), one `warn!` a line as `switchboard check` prints
/// them. Serving does not depend on it: a failure to list is a warning too.
async fn warn_of_account_mismatches(store: &Store, settings: &Settings, config: &GatewayConfig) {
    let jids = match store.list_accounts().await {
        Ok(jids) => jids,
        Err(e) => {
            warn!(error = %e, "agents not compared with accounts");
            return;
        }
    };
    let file = &settings.gateway.agents_file;
    for w in accounts::compare(&config.agents, file, &settings.agent_domain, &jids) {
        warn!("{w}");
    }
}

/// A key kept beside the certificates (made on first start) so that what
/// it signs outlives a restart: `web-visitors.key` signs the chat page's
/// visitor tokens, `upload.key` the upload slots.
fn secret_key(cert_dir: &std::path::Path, name: &str) -> Result<Vec<u8>, ServerError> {
    let path = cert_dir.join(name);
    let err = |source| ServerError::Key {
        path: path.clone(),
        source,
    };
    match std::fs::read(&path) {
        Ok(key) if key.len() >= 32 => return Ok(key),
        Ok(_) => {
            return Err(err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "shorter than 32 bytes",
            )))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(err(e)),
    }
    let key: [u8; 32] = rand::random();
    std::fs::create_dir_all(cert_dir).map_err(err)?;
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(err)?;
    f.write_all(&key).map_err(err)?;
    Ok(key.to_vec())
}

async fn accept_loop(wiring: Arc<Wiring>, l: Listener) {
    if let Role::Http = l.role {
        return http::accept_loop(wiring.http.clone(), l.socket, l.direct_tls).await;
    }
    let ctx = &wiring.streams;
    loop {
        let accepted = tokio::select! {
            a = l.socket.accept() => a,
            _ = ctx.shutdown.cancelled() => return,
        };
        match accepted {
            Ok((tcp, peer)) => {
                let _ = tcp.set_nodelay(true);
                let (streams, router) = (ctx.clone(), wiring.router.clone());
                let (default_ns, from) = match l.role {
                    Role::C2s => (ns::CLIENT, &ctx.settings.agent_domain),
                    Role::S2s => (ns::SERVER, &ctx.settings.support_domain),
                    _ => (ns::COMPONENT, &ctx.settings.agent_domain),
                };
                let admitted = match ctx.doorman.admit(peer.ip()) {
                    Ok(a) => a,
                    Err(why) => {
                        debug!(%peer, listener = l.name, %why, "connection refused");
                        let refusal =
                            stream::refuse(tcp, default_ns, from.clone(), l.direct_tls, why);
                        ctx.doorman.answer_refusal(&ctx.tasks, refusal);
                        continue;
                    }
                };
                // The connection's place at the door goes with its reading,
                // through negotiation into the session, and frees when it ends.
                match l.role {
                    Role::C2s => {
                        let sessions = wiring.sessions.clone();
                        let conn = c2s::Connection::Tcp {
                            tcp,
                            direct_tls: l.direct_tls,
                            admitted,
                        };
                        ctx.tasks
                            .spawn(c2s::serve_connection(streams, sessions, conn, peer))
                    }
                    Role::S2s => ctx.tasks.spawn(s2s::inbound::serve(
                        streams,
                        router,
                        tcp,
                        peer,
                        l.direct_tls,
                        admitted,
                    )),
                    Role::Component => ctx
                        .tasks
                        .spawn(component::serve(streams, router, tcp, peer, admitted)),
                    Role::Http => unreachable!("served by http::accept_loop"),
                };
            }
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                error!(error = %e, listener = l.name, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}
