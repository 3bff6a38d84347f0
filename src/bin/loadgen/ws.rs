//! The client side of XMPP over WebSocket (RFC 7395), as a byte stream:
//! what [`conn`](super::conn) and the workloads read and write is the same
//! RFC 6120 stream as over TCP, so every workload runs unchanged over it.
//!
//! Outbound, what the client writes is cut into elements by the server's
//! own [`Reframer`] and each sent as one text message, the stream header
//! as `<open/>` and the end tag as `<close/>`. Inbound, each message
//! becomes stream bytes again through [`framing::inbound`] — the same
//! translation the server makes in the other direction.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use anyhow::{bail, Context as _, Result};
use bytes::BytesMut;
use futures_util::{Sink, Stream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use switchboard::xml::escape_attr;
use switchboard::xml::framing::{self, Inbound, Outbound, Reframer, FRAMING};

/// Opens the WebSocket on `tcp`: `GET path` with `Host: host` and the
/// `xmpp` subprotocol, which the server must accept.
pub async fn connect(tcp: TcpStream, addr: SocketAddr, host: &str, path: &str) -> Result<WsIo> {
    let mut request = format!("ws://{addr}{path}").into_client_request()?;
    let headers = request.headers_mut();
    headers.insert("Host", HeaderValue::from_str(host)?);
    headers.insert("Sec-WebSocket-Protocol", HeaderValue::from_static("xmpp"));
    let (ws, response) = tokio_tungstenite::client_async(request, tcp)
        .await
        .with_context(|| format!("WebSocket handshake with {addr}{path}"))?;
    let protocol = response.headers().get("Sec-WebSocket-Protocol");
    if protocol.and_then(|p| p.to_str().ok()) != Some("xmpp") {
        bail!("the server did not accept the xmpp subprotocol ({protocol:?})");
    }
    Ok(WsIo {
        ws,
        inbound: BytesMut::new(),
        reframer: Reframer::new(super::conn::MAX_STANZA),
        pending: VecDeque::new(),
        eof: false,
    })
}

/// A client WebSocket as the byte stream of an XMPP stream.
pub struct WsIo {
    ws: WebSocketStream<TcpStream>,
    /// Stream bytes translated from the server's messages, not yet read.
    inbound: BytesMut,
    reframer: Reframer,
    /// Messages cut from what the client wrote, not yet in the socket.
    pending: VecDeque<Message>,
    eof: bool,
}

/// The message for one frame of what the client wrote: the client's
/// `<open/>` carries `to` (the server's `from`/`id` rendering is not ours).
fn message(frame: &Outbound) -> String {
    match frame {
        Outbound::Open(h) => {
            let mut out = format!("<open xmlns='{FRAMING}'");
            for (key, value) in [
                ("to", &h.to),
                ("version", &h.version),
                ("xml:lang", &h.lang),
            ] {
                if let Some(v) = value {
                    out += &format!(" {key}='{}'", escape_attr(v));
                }
            }
            out + "/>"
        }
        other => other.websocket(),
    }
}

fn ws_error(e: tokio_tungstenite::tungstenite::Error) -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, e)
}

impl WsIo {
    fn translate(&mut self, text: &str) -> io::Result<()> {
        match framing::inbound(text) {
            Ok(Inbound::Open(header)) => self.inbound.extend_from_slice(header.as_bytes()),
            Ok(Inbound::Close) => self.inbound.extend_from_slice(b"</stream:stream>"),
            Ok(Inbound::Element) => self.inbound.extend_from_slice(text.as_bytes()),
            Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e.to_string())),
        }
        Ok(())
    }

    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.pending.is_empty() {
            ready!(Pin::new(&mut self.ws).poll_ready(cx)).map_err(ws_error)?;
            let msg = self.pending.pop_front().expect("not empty");
            Pin::new(&mut self.ws).start_send(msg).map_err(ws_error)?;
        }
        Poll::Ready(Ok(()))
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
                return Poll::Ready(Ok(()));
            }
            if this.eof {
                return Poll::Ready(Ok(()));
            }
            match ready!(Pin::new(&mut this.ws).poll_next(cx)) {
                None | Some(Ok(Message::Close(_))) => this.eof = true,
                Some(Ok(Message::Text(t))) => this.translate(t.as_str())?,
                Some(Ok(Message::Binary(_))) => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "a binary frame (RFC 7395 §3.2 allows text only)",
                    )))
                }
                // Pings are answered by the socket itself.
                Some(Ok(_)) => {}
                Some(Err(e)) => return Poll::Ready(Err(ws_error(e))),
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
        ready!(this.poll_pending(cx))?;
        let mut frames = Vec::new();
        this.reframer
            .push(data, &mut frames)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        for f in &frames {
            this.pending.push_back(Message::Text(message(f).into()));
        }
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        Pin::new(&mut this.ws).poll_flush(cx).map_err(ws_error)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        Pin::new(&mut this.ws).poll_close(cx).map_err(ws_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a client writes, as the messages it sends.
    fn messages(chunks: &[&str]) -> Vec<String> {
        let mut reframer = Reframer::new(10_000);
        let mut frames = Vec::new();
        for c in chunks {
            reframer.push(c.as_bytes(), &mut frames).unwrap();
        }
        frames.iter().map(message).collect()
    }

    #[test]
    fn a_clients_stream_is_sent_as_rfc_7395_messages() {
        let header = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
             xmlns:stream='http://etherx.jabber.org/streams' to='a.test' version='1.0' xml:lang='en'>";
        let got = messages(&[
            header,
            "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGEAYg==</auth>",
            header,
            "<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq><presence/>",
            "</stream:stream>",
        ]);
        let open = "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='a.test' version='1.0' xml:lang='en'/>";
        assert_eq!(
            got,
            [
                open,
                "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGEAYg==</auth>",
                open,
                r#"<iq xmlns="jabber:client" type="set" id="bind"><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>"#,
                r#"<presence xmlns="jabber:client"/>"#,
                "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>",
            ]
        );
    }
}
