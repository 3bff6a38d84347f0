//! The unbuffered server against tokio-rustls as the client, over real
//! loopback sockets.

use std::path::Path;
use std::time::Duration;

use rustls_pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;
use crate::net::{certs, tls};

const DOMAIN: &str = "tls.test";

fn server_config(dir: &Path) -> Arc<rustls::ServerConfig> {
    certs::write_dev_certs(dir, &[DOMAIN]).unwrap();
    tls::server_config(dir, &[DOMAIN]).unwrap()
}

fn client_config(dir: &Path) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(dir.join("ca.crt")).unwrap();
    for c in rustls_pemfile::certs(&mut &pem[..]) {
        roots.add(c.unwrap()).unwrap();
    }
    Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth(),
    )
}

/// A listener whose first connection is accepted as TLS by `ServerTls`.
async fn listen(
    config: Arc<rustls::ServerConfig>,
) -> (
    std::net::SocketAddr,
    tokio::task::JoinHandle<io::Result<ServerTls>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        ServerTls::accept(tcp, config).await
    });
    (addr, task)
}

async fn connect(
    addr: std::net::SocketAddr,
    config: Arc<rustls::ClientConfig>,
) -> io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    tokio_rustls::TlsConnector::from(config)
        .connect(ServerName::try_from(DOMAIN).unwrap(), tcp)
        .await
}

/// A tokio-rustls client and our server, handshake done, over loopback.
async fn connected(dir: &Path) -> (tokio_rustls::client::TlsStream<TcpStream>, ServerTls) {
    let (addr, server) = listen(server_config(dir)).await;
    let client = connect(addr, client_config(dir)).await.unwrap();
    (client, server.await.unwrap().unwrap())
}

fn holds_nothing(t: &ServerTls) -> bool {
    t.incoming.capacity() == 0 && t.plain.capacity() == 0 && t.outgoing.capacity() == 0
}

#[tokio::test]
async fn exchanges_data_and_keeps_no_buffer_between_messages() {
    let dir = tempfile::tempdir().unwrap();
    let (mut client, mut server) = connected(dir.path()).await;
    assert_eq!(server.server_name(), Some(DOMAIN));
    assert!(server.peer_certificates().is_none());

    for round in 0..3 {
        let msg = format!("<message id='{round}'><body>hello</body></message>");
        client.write_all(msg.as_bytes()).await.unwrap();
        client.flush().await.unwrap();
        let mut got = vec![0u8; msg.len()];
        server.read_exact(&mut got).await.unwrap();
        assert_eq!(got, msg.as_bytes());
        server.write_all(b"<ok/>").await.unwrap();
        server.flush().await.unwrap();
        let mut back = [0u8; 5];
        client.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"<ok/>");
        assert!(holds_nothing(&server), "round {round}");
    }
}

#[tokio::test]
async fn large_writes_span_records_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let (mut client, mut server) = connected(dir.path()).await;
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();

    let expected = big.clone();
    let reader = tokio::spawn(async move {
        let mut got = vec![0u8; expected.len()];
        client.read_exact(&mut got).await.unwrap();
        assert!(got == expected, "server to client");
        client.write_all(&expected).await.unwrap();
        client.flush().await.unwrap();
        client
    });
    // Several times the high-water mark: the writer must wait for the
    // socket instead of buffering it all.
    server.write_all(&big).await.unwrap();
    server.flush().await.unwrap();
    let _client = reader.await.unwrap();
    let mut got = vec![0u8; big.len()];
    server.read_exact(&mut got).await.unwrap();
    assert!(got == big, "client to server");
    assert!(holds_nothing(&server));
}

/// Delivers what it is given a few bytes at a time, so the server sees
/// records cut anywhere, the handshake's included.
struct Trickle(TcpStream);

impl AsyncRead for Trickle {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Trickle {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let n = data.len().min(7);
        Pin::new(&mut self.0).poll_write(cx, &data[..n])
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

#[tokio::test]
async fn records_cut_in_pieces_are_put_together() {
    let dir = tempfile::tempdir().unwrap();
    let (addr, server) = listen(server_config(dir.path())).await;
    let tcp = TcpStream::connect(addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let mut client = tokio_rustls::TlsConnector::from(client_config(dir.path()))
        .connect(ServerName::try_from(DOMAIN).unwrap(), Trickle(tcp))
        .await
        .unwrap();
    let mut server = server.await.unwrap().unwrap();
    let msg = b"<message><body>one byte at a time, nearly</body></message>";
    let reader = tokio::spawn(async move {
        let mut got = vec![0u8; msg.len() * 20];
        server.read_exact(&mut got).await.unwrap();
        (server, got)
    });
    for _ in 0..20 {
        client.write_all(msg).await.unwrap();
        client.flush().await.unwrap();
        tokio::task::yield_now().await;
    }
    let (server, got) = reader.await.unwrap();
    assert_eq!(got, msg.repeat(20));
    assert!(holds_nothing(&server));
}

#[tokio::test]
async fn close_notify_reads_as_end_of_stream() {
    let dir = tempfile::tempdir().unwrap();
    let (mut client, mut server) = connected(dir.path()).await;
    client.write_all(b"last words").await.unwrap();
    client.shutdown().await.unwrap();
    let mut got = Vec::new();
    server.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, b"last words");
    // And our own close reaches the client as its end of stream.
    server.shutdown().await.unwrap();
    let mut rest = Vec::new();
    client.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty());
}

#[tokio::test]
async fn a_client_that_rejects_us_fails_the_handshake() {
    let dir = tempfile::tempdir().unwrap();
    let (addr, server) = listen(server_config(dir.path())).await;
    // Trusts another CA.
    let other = tempfile::tempdir().unwrap();
    certs::write_dev_certs(other.path(), &[DOMAIN]).unwrap();
    assert!(connect(addr, client_config(other.path())).await.is_err());
    let result = tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .unwrap()
        .unwrap();
    assert!(result.is_err());
}

#[tokio::test]
async fn plain_text_instead_of_a_client_hello_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (addr, server) = listen(server_config(dir.path())).await;
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"<?xml version='1.0'?><stream:stream to='tls.test'>")
        .await
        .unwrap();
    let result = tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(result.err().unwrap().kind(), io::ErrorKind::InvalidData);
    // The peer gets an alert and the end of the connection, not silence.
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut rest))
        .await
        .unwrap();
    assert_eq!(rest.first(), Some(&21), "an alert record: {rest:?}");
}
