//! One client connection: TCP, optional STARTTLS, SASL, resource binding —
//! the path every XMPP client takes — then raw stanza I/O. Over WebSocket
//! (RFC 7395, [`ws`](super::ws)) the same negotiation runs on the framed
//! stream, without STARTTLS: TLS would be the HTTP connection's.
//!
//! Framing reuses the server's own [`Framer`]: it is strict (restricted XML,
//! size limit) and fast, so a server that sends something odd shows up as an
//! error here instead of being skipped.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use tokio::io::{AsyncRead, AsyncWriteExt};
use tokio::net::TcpStream;

use switchboard::net::Transport;
use switchboard::xml::{ns, read_frame, Frame, Framer, Stanza};

use super::scram::{self, Mech, Scram};
use super::ws;

/// How stanzas larger than this are refused; generous, the bench sends
/// small ones.
pub const MAX_STANZA: usize = 1 << 20;
/// Every step of a login must finish within this.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TlsMode {
    /// STARTTLS (RFC 6120 §5), required.
    Starttls,
    /// No TLS: only for servers configured to allow it.
    None,
}

/// What carries the XMPP stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Wire {
    /// RFC 6120 over TCP (c2s).
    Tcp,
    /// RFC 7395 XMPP over WebSocket, at `/xmpp-websocket` of an HTTP port.
    Websocket,
}

/// The HTTP path of the WebSocket endpoint (Switchboard's and Prosody's
/// default alike).
pub const WS_PATH: &str = "/xmpp-websocket";

/// Where and how clients log in.
#[derive(Clone)]
pub struct Target {
    pub addr: SocketAddr,
    pub wire: Wire,
    /// The domain of the accounts (the stream's `to`, the TLS name).
    pub domain: String,
    pub tls: TlsMode,
    pub tls_config: Option<Arc<rustls::ClientConfig>>,
    pub mech: Mech,
    pub password: String,
}

/// A TLS client configuration trusting only `ca_file` (the dev CA of the
/// server under test).
pub fn tls_config(ca_file: &Path) -> Result<Arc<rustls::ClientConfig>> {
    let pem = std::fs::read(ca_file).with_context(|| format!("reading {}", ca_file.display()))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut &pem[..]) {
        roots.add(cert?)?;
    }
    if roots.is_empty() {
        bail!("no certificate in {}", ca_file.display());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A bound client stream.
pub struct Conn {
    pub io: Transport,
    pub framer: Framer,
}

/// Logs `user` in with `resource`: the whole negotiation, timed out step by
/// step.
pub async fn login(target: &Target, user: &str, resource: &str) -> Result<Conn> {
    let tcp = tokio::time::timeout(STEP_TIMEOUT, TcpStream::connect(target.addr))
        .await
        .map_err(|_| anyhow!("connect timed out"))?
        .with_context(|| format!("connecting to {}", target.addr))?;
    tcp.set_nodelay(true)?;
    let mut io = match target.wire {
        Wire::Tcp => Transport::Plain(tcp),
        Wire::Websocket => {
            let ws = ws::connect(tcp, target.addr, &target.domain, WS_PATH);
            let ws = tokio::time::timeout(STEP_TIMEOUT, ws)
                .await
                .map_err(|_| anyhow!("WebSocket handshake timed out"))??;
            Transport::Framed(Box::new(ws))
        }
    };
    let mut framer = Framer::new(MAX_STANZA);
    let mut features = open(&mut io, &mut framer, &target.domain).await?;
    if target.tls == TlsMode::Starttls && target.wire == Wire::Tcp {
        if !features.contains("<starttls") {
            bail!("the server offers no STARTTLS");
        }
        send(
            &mut io,
            format!("<starttls xmlns='{}'/>", ns::TLS).as_bytes(),
        )
        .await?;
        let answer = next(&mut io, &mut framer).await?;
        if answer.name() != "proceed" {
            bail!("STARTTLS refused: {}", text(&answer));
        }
        let config = target
            .tls_config
            .clone()
            .ok_or_else(|| anyhow!("STARTTLS needs a CA file (--ca)"))?;
        io = io
            .into_tls_client(config, &target.domain)
            .await
            .context("TLS handshake")?;
        framer.reset();
        features = open(&mut io, &mut framer, &target.domain).await?;
    }
    let offered = format!("<mechanism>{}</mechanism>", target.mech.name());
    if !features.contains(&offered) {
        bail!("the server does not offer {}", target.mech.name());
    }
    authenticate(&mut io, &mut framer, target, user).await?;
    framer.reset();
    let features = open(&mut io, &mut framer, &target.domain).await?;
    if !features.contains("<bind") {
        bail!("no resource binding offered after SASL");
    }
    let bind = format!(
        "<iq type='set' id='bind'><bind xmlns='{}'><resource>{resource}</resource></bind></iq>",
        ns::BIND
    );
    send(&mut io, bind.as_bytes()).await?;
    loop {
        let s = next(&mut io, &mut framer).await?;
        if s.name() == "iq" && s.id() == Some("bind") {
            if s.type_() != Some("result") || !text(&s).contains("<jid>") {
                bail!("bind failed: {}", text(&s));
            }
            break;
        }
    }
    Ok(Conn { io, framer })
}

async fn authenticate(
    io: &mut Transport,
    framer: &mut Framer,
    target: &Target,
    user: &str,
) -> Result<()> {
    let mech = target.mech.name();
    let auth = |data: &str| {
        format!(
            "<auth xmlns='{}' mechanism='{mech}'>{}</auth>",
            ns::SASL,
            B64.encode(data)
        )
    };
    let response = |data: &str| {
        format!(
            "<response xmlns='{}'>{}</response>",
            ns::SASL,
            B64.encode(data)
        )
    };
    if target.mech == Mech::Plain {
        send(io, auth(&scram::plain(user, &target.password)).as_bytes()).await?;
        let s = next(io, framer).await?;
        if s.name() != "success" {
            bail!("PLAIN failed: {}", text(&s));
        }
        return Ok(());
    }
    let mut exchange = Scram::new(target.mech, user, &target.password);
    send(io, auth(&exchange.client_first()).as_bytes()).await?;
    let challenge = next(io, framer).await?;
    if challenge.name() != "challenge" {
        bail!("SCRAM failed at client-first: {}", text(&challenge));
    }
    let server_first = payload(&challenge)?;
    let client_final = exchange.client_final(&server_first)?;
    send(io, response(&client_final).as_bytes()).await?;
    let s = next(io, framer).await?;
    let server_final = match s.name() {
        "success" => payload(&s)?,
        // Servers may send the signature in a last challenge (RFC 6120 §6.4.3).
        "challenge" => {
            let v = payload(&s)?;
            send(io, format!("<response xmlns='{}'/>", ns::SASL).as_bytes()).await?;
            let done = next(io, framer).await?;
            if done.name() != "success" {
                bail!("SCRAM failed: {}", text(&done));
            }
            v
        }
        _ => bail!("SCRAM failed: {}", text(&s)),
    };
    exchange.verify_server_final(&server_final)
}

/// Sends our stream header and reads the server's header and features.
async fn open(io: &mut Transport, framer: &mut Framer, domain: &str) -> Result<String> {
    let header = format!(
        "<?xml version='1.0'?><stream:stream xmlns='{}' xmlns:stream='{}' to='{domain}' \
         version='1.0' xml:lang='en'>",
        ns::CLIENT,
        ns::STREAM
    );
    send(io, header.as_bytes()).await?;
    match frame(io, framer).await? {
        Frame::Open(_) => {}
        other => bail!("expected the server's stream header, got {other:?}"),
    }
    let features = next(io, framer).await?;
    if features.name() != "features" {
        bail!("expected stream features, got {}", text(&features));
    }
    Ok(text(&features))
}

async fn frame<R: AsyncRead + Unpin>(io: &mut R, framer: &mut Framer) -> Result<Frame> {
    tokio::time::timeout(STEP_TIMEOUT, read_frame(io, framer))
        .await
        .map_err(|_| anyhow!("the server did not answer within {STEP_TIMEOUT:?}"))?
        .map_err(|e| anyhow!("reading: {e:?}"))
}

/// The next element; a stream error or end is an error.
async fn next<R: AsyncRead + Unpin>(io: &mut R, framer: &mut Framer) -> Result<Stanza> {
    match frame(io, framer).await? {
        Frame::Element(s) if s.name() == "error" && s.ns() == Some(ns::STREAM) => {
            bail!("stream error: {}", text(&s))
        }
        Frame::Element(s) => Ok(s),
        Frame::Close => bail!("the server closed the stream"),
        Frame::Open(_) => bail!("unexpected stream header"),
    }
}

pub async fn send(io: &mut Transport, data: &[u8]) -> Result<()> {
    io.write_all(data).await?;
    io.flush().await?;
    Ok(())
}

pub fn text(s: &Stanza) -> String {
    String::from_utf8_lossy(s.bytes()).into_owned()
}

/// The base64 text of a SASL element, decoded (`=` is an empty payload).
fn payload(s: &Stanza) -> Result<String> {
    let t = text(s);
    let inner = match (t.find('>'), t.rfind("</")) {
        (Some(a), Some(b)) if a < b && !t[..=a].ends_with("/>") => t[a + 1..b].trim(),
        _ => "",
    };
    if inner.is_empty() || inner == "=" {
        return Ok(String::new());
    }
    let bytes = B64.decode(inner).context("SASL payload is not base64")?;
    Ok(String::from_utf8(bytes)?)
}
