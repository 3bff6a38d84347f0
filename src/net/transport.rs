//! The byte pipe a stream runs over: plain TCP until STARTTLS, then TLS —
//! as the server (c2s, inbound s2s) or as the client (outbound s2s).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client;

use super::server_tls::ServerTls;

pub enum Transport {
    Plain(TcpStream),
    /// We accepted TLS.
    Tls(Box<ServerTls>),
    /// We initiated TLS (outbound s2s).
    TlsClient(Box<client::TlsStream<TcpStream>>),
    /// A stream carried by a web framing (WebSocket, BOSH), translated to
    /// RFC 6120 bytes below this point. TLS, if any, is the HTTP
    /// connection's: a framed stream never upgrades.
    Framed(Box<dyn FramedIo>),
}

/// What a web framing gives the stream above it.
pub trait FramedIo: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> FramedIo for T {}

impl Transport {
    pub fn is_tls(&self) -> bool {
        !matches!(self, Transport::Plain(_))
    }

    /// Upgrades a plain connection (STARTTLS, or XEP-0368 direct TLS before
    /// any byte was read).
    pub async fn into_tls(self, config: Arc<rustls::ServerConfig>) -> io::Result<Transport> {
        match self {
            Transport::Plain(tcp) => {
                let tls = ServerTls::accept(tcp, config).await?;
                Ok(Transport::Tls(Box::new(tls)))
            }
            already => Ok(already),
        }
    }

    /// Starts TLS as the client (outbound STARTTLS, or XEP-0368 direct TLS
    /// right after connecting), sending `server_name` as SNI.
    pub async fn into_tls_client(
        self,
        config: Arc<rustls::ClientConfig>,
        server_name: &str,
    ) -> io::Result<Transport> {
        match self {
            Transport::Plain(tcp) => {
                let name = ServerName::try_from(server_name.trim_end_matches('.').to_string())
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
                let tls = tokio_rustls::TlsConnector::from(config)
                    .connect(name, tcp)
                    .await?;
                Ok(Transport::TlsClient(Box::new(tls)))
            }
            already => Ok(already),
        }
    }

    /// The SNI name the client asked for, if we accepted TLS.
    pub fn sni(&self) -> Option<String> {
        match self {
            Transport::Tls(t) => t.server_name().map(str::to_string),
            Transport::Plain(_) | Transport::TlsClient(_) | Transport::Framed(_) => None,
        }
    }

    /// The certificate chain the other side presented (end entity first),
    /// whichever side started TLS; None before TLS or when it showed none.
    /// Not verified: see `TrustStore::verify_peer`.
    pub fn peer_certificates(&self) -> Option<Vec<CertificateDer<'static>>> {
        let chain = match self {
            Transport::Plain(_) | Transport::Framed(_) => None,
            Transport::Tls(t) => t.peer_certificates(),
            Transport::TlsClient(t) => t.get_ref().1.peer_certificates(),
        }?;
        (!chain.is_empty()).then(|| chain.to_vec())
    }
}

/// Forwards an I/O call to whichever stream is inside.
macro_rules! each {
    ($self:expr, $method:ident($($arg:expr),*)) => {
        match $self.get_mut() {
            Transport::Plain(s) => Pin::new(s).$method($($arg),*),
            Transport::Tls(s) => Pin::new(s.as_mut()).$method($($arg),*),
            Transport::TlsClient(s) => Pin::new(s.as_mut()).$method($($arg),*),
            Transport::Framed(s) => Pin::new(s.as_mut()).$method($($arg),*),
        }
    };
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        each!(self, poll_read(cx, buf))
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        each!(self, poll_write(cx, buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self, poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self, poll_shutdown(cx))
    }
}
