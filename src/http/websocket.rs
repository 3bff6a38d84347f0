//! RFC 7395: XMPP over WebSocket at `/xmpp-websocket`. The upgrade is
//! axum's; [`WsIo`] turns the socket's text messages into the bytes of an
//! RFC 6120 stream and back ([`crate::xml::framing`]), and the c2s
//! negotiation and the session run over it as over TCP.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use bytes::BytesMut;
use futures_util::{Sink, Stream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tracing::info;

use super::{Client, HttpContext};
use crate::session::SessionRouter;
use crate::stream::c2s::{self, Connection};
use crate::xml::framing::{self, Inbound, Reframer};
use crate::xml::{StreamErrorCondition as Cond, TransportViolation};

/// The subprotocol RFC 7395 registers; a handshake without it is refused.
const SUBPROTOCOL: &str = "xmpp";

pub(super) async fn upgrade<R: SessionRouter>(
    State(ctx): State<std::sync::Arc<HttpContext<R>>>,
    Extension(client): Extension<Client>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let offered = headers
        .get_all("sec-websocket-protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == SUBPROTOCOL);
    if !offered {
        info!(client = %client.addr, "WebSocket without the xmpp subprotocol refused");
        return (
            StatusCode::BAD_REQUEST,
            "XMPP over WebSocket needs the 'xmpp' subprotocol (RFC 7395 §3.1)\n",
        )
            .into_response();
    }
    let Some(slot) = ctx.streams_per_address.take(client.addr) else {
        info!(client = %client.addr, "too many web streams from one address");
        return (
            StatusCode::TOO_MANY_REQUESTS,
            "too many XMPP streams from your address\n",
        )
            .into_response();
    };
    // The framing may wrap a stanza of the largest size in a little more.
    let max = ctx.settings.limits.max_stanza_bytes + 1024;
    let tasks = ctx.streams.tasks.clone();
    ws.protocols([SUBPROTOCOL])
        .max_message_size(max)
        .max_frame_size(max)
        // Most sessions are idle: read into small buffers, grown on demand
        // (the socket keeps its read buffer for the stream's life: 4 KB
        // cost about 4 KB of RSS per idle session, 1 KB under 10 KB in all).
        .read_buffer_size(1024)
        .write_buffer_size(0)
        .on_upgrade(move |socket| async move {
            let mut io = WsIo::new(socket, max);
            // The place is the stream's for as long as it lasts: the
            // negotiation hands the transport on to the session.
            io.slot = Some(slot);
            let conn = Connection::Framed {
                io: Box::new(io),
                secure: client.secure,
                transport: "websocket",
            };
            let (streams, sessions) = (ctx.streams.clone(), ctx.sessions.clone());
            tasks.spawn(c2s::serve_connection(
                streams,
                sessions,
                conn,
                client.addr_port(),
            ));
        })
}

/// A WebSocket as the byte stream of an XMPP stream.
pub struct WsIo {
    ws: WebSocket,
    /// Stream bytes translated from messages, not yet read.
    inbound: BytesMut,
    reframer: Reframer,
    /// Messages cut from what the server wrote, not yet in the socket.
    pending: VecDeque<Message>,
    eof: bool,
    /// The client address's place among its streams.
    slot: Option<super::Slot>,
}

impl WsIo {
    pub fn new(ws: WebSocket, max_element: usize) -> WsIo {
        WsIo {
            ws,
            inbound: BytesMut::new(),
            reframer: Reframer::new(max_element),
            pending: VecDeque::new(),
            eof: false,
            slot: None,
        }
    }

    fn translate(&mut self, text: &str) -> io::Result<()> {
        match framing::inbound(text) {
            Ok(Inbound::Open(header)) => self.inbound.extend_from_slice(header.as_bytes()),
            Ok(Inbound::Close) => self.inbound.extend_from_slice(b"</stream:stream>"),
            Ok(Inbound::Element) => self.inbound.extend_from_slice(text.as_bytes()),
            Err(e) => return Err(TransportViolation::io(e.condition(), e.to_string())),
        }
        Ok(())
    }

    /// Moves the pending messages into the socket's sink.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.pending.is_empty() {
            ready!(Pin::new(&mut self.ws).poll_ready(cx)).map_err(sink_error)?;
            let msg = self.pending.pop_front().expect("not empty");
            Pin::new(&mut self.ws).start_send(msg).map_err(sink_error)?;
        }
        Poll::Ready(Ok(()))
    }
}

fn sink_error(e: axum::Error) -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, e)
}

/// What a failed read of the socket means for the stream.
fn read_error(e: axum::Error) -> io::Error {
    let inner = e.into_inner();
    match inner.downcast_ref::<tungstenite::Error>() {
        Some(tungstenite::Error::Capacity(c)) => TransportViolation::io(
            Cond::PolicyViolation,
            format!("WebSocket message too large: {c}"),
        ),
        Some(tungstenite::Error::Utf8(_)) => {
            TransportViolation::io(Cond::NotWellFormed, "a text frame that is not UTF-8")
        }
        Some(tungstenite::Error::Protocol(p)) => {
            TransportViolation::io(Cond::BadFormat, format!("WebSocket protocol: {p}"))
        }
        _ => io::Error::new(io::ErrorKind::ConnectionAborted, inner),
    }
}

impl AsyncRead for WsIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.inbound.is_empty() {
                let n = this.inbound.len().min(buf.remaining());
                buf.put_slice(&this.inbound.split_to(n));
                if this.inbound.is_empty() {
                    // An idle session keeps no buffer.
                    this.inbound = BytesMut::new();
                }
                return Poll::Ready(Ok(()));
            }
            if this.eof {
                return Poll::Ready(Ok(()));
            }
            match ready!(Pin::new(&mut this.ws).poll_next(cx)) {
                None | Some(Ok(Message::Close(_))) => this.eof = true,
                Some(Ok(Message::Text(t))) => this.translate(t.as_str())?,
                Some(Ok(Message::Binary(_))) => {
                    return Poll::Ready(Err(TransportViolation::io(
                        Cond::BadFormat,
                        "XMPP over WebSocket uses text frames only (RFC 7395 §3.2)",
                    )))
                }
                // Pings are answered by the socket itself.
                Some(Ok(_)) => {}
                Some(Err(e)) => return Poll::Ready(Err(read_error(e))),
            }
        }
    }
}

impl AsyncWrite for WsIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        // Room first: a slow browser slows the writer down.
        ready!(this.poll_pending(cx))?;
        let mut frames = Vec::new();
        this.reframer
            .push(data, &mut frames)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        for f in frames {
            this.pending.push_back(Message::Text(f.websocket().into()));
        }
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        Pin::new(&mut this.ws).poll_flush(cx).map_err(sink_error)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        Pin::new(&mut this.ws).poll_close(cx).map_err(sink_error)
    }
}
