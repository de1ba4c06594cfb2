//! A client that talks exactly as the original PHP SDK
//! (`CloudStorageServerScripts`) does on the wire:
//! - one keep-alive connection per client object, `X-APIKey` on the first
//!   request of that connection only (later ones carry no key, just
//!   `Connection: keep-alive`);
//! - POST and DELETE without fields send the body `[]` with
//!   `Content-Type: application/json`; GET sends no body;
//! - over https, GetSSLInfo() first: connect without verification, capture
//!   the chain, require at least two certificates with the last one a
//!   self-signed root, save that root and the leaf; every later connection
//!   (the WebSocket too) verifies the peer against that root, without a
//!   host-name check, and requires the leaf to equal the saved one;
//! - when a kept connection fails, it reconnects once and resends the
//!   request, with the key (RunAPI's retry);
//! - StartMonitoring opens its own connection with the WebSocket class's
//!   handshake: `Connection: keep-alive, Upgrade`, `Origin` (the host URL),
//!   `Pragma: no-cache`, `Sec-WebSocket-Version: 13`, `X-APIKey`, and checks
//!   `Sec-WebSocket-Accept`.
//!
//! Read from cubiclesoft/cloud-storage-server `sdks/php/
//! sdk_cloud_storage_server_api_base.php` (RunAPI, GetSSLInfo,
//! InitWebSocket, InitSSLOpts) and cloud-storage-server-ext-scripts
//! `sdk/support/{sdk_cloud_storage_server_scripts,websocket}.php`.

use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use actix_codec::Framed;
use awc::ws::Codec;
use awc::BoxedSocket;

use super::{WsClient, DEADLINE};

/// RFC 6455's sample handshake key and the accept value it must produce
/// (the SDK sends a random key and checks the same derivation).
const WS_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const WS_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

trait Io: AsyncRead + AsyncWrite + Unpin {}
impl<T: AsyncRead + AsyncWrite + Unpin> Io for T {}

/// What GetSSLInfo() saves: the root (the SDK's CA file) and the leaf.
#[derive(Clone)]
pub struct SslInfo {
    pub root: CertificateDer<'static>,
    pub leaf: CertificateDer<'static>,
    /// The whole chain as presented.
    pub chain: Vec<CertificateDer<'static>>,
}

/// One SDK client object: one connection, the key sent once.
pub struct SdkClient {
    port: u16,
    key: String,
    ssl: Option<SslInfo>,
    conn: Option<BufReader<Box<dyn Io>>>,
    /// Requests sent on the current connection.
    pub sent_on_connection: usize,
    /// Connections opened so far (1 for a well-behaved keep-alive server).
    pub connections: usize,
}

impl SdkClient {
    /// `SetAccessInfo("http://127.0.0.1:PORT", KEY, "", "")` (the SDK adds
    /// `/scripts/v1/` itself).
    pub fn plain(port: u16, key: &str) -> Self {
        SdkClient {
            port,
            key: key.to_owned(),
            ssl: None,
            conn: None,
            sent_on_connection: 0,
            connections: 0,
        }
    }

    /// `SetAccessInfo("https://…", KEY, $cafile, $cert)` with what
    /// GetSSLInfo() saved.
    pub fn tls(port: u16, key: &str, ssl: SslInfo) -> Self {
        SdkClient {
            ssl: Some(ssl),
            ..SdkClient::plain(port, key)
        }
    }

    async fn connect(&mut self) -> BufReader<Box<dyn Io>> {
        self.connections += 1;
        self.sent_on_connection = 0;
        BufReader::new(self.open().await)
    }

    /// A new connection, verified (over TLS) as the SDK does.
    async fn open(&self) -> Box<dyn Io> {
        let tcp = TcpStream::connect(("127.0.0.1", self.port))
            .await
            .expect("connect");
        match &self.ssl {
            None => Box::new(tcp),
            Some(ssl) => Box::new(
                tls_connect(pinned_config(ssl), tcp)
                    .await
                    .expect("pinned TLS handshake"),
            ),
        }
    }

    /// The host URL given to SetAccessInfo (the WebSocket's `Origin`).
    fn host_url(&self) -> String {
        let scheme = if self.ssl.is_some() { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// One API call, as the SDK sends it; returns the HTTP status and JSON.
    pub async fn call(&mut self, method: &str, api: &str, fields: Option<Value>) -> (u16, Value) {
        let reused = self.conn.is_some();
        let mut conn = match self.conn.take() {
            Some(conn) => conn,
            None => self.connect().await,
        };
        let (status, keep, bytes) = match self.exchange(&mut conn, method, api, &fields).await {
            Ok(reply) => reply,
            // RunAPI: the server closed the kept connection; reconnect and
            // rerun the request (with the key, as on any first request).
            Err(_) if reused => {
                conn = self.connect().await;
                self.exchange(&mut conn, method, api, &fields)
                    .await
                    .expect("reply on a new connection")
            }
            Err(err) => panic!("reply on a new connection: {err}"),
        };
        self.sent_on_connection += 1;
        if keep {
            self.conn = Some(conn);
        }
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, value)
    }

    /// Sends one request on `conn` and reads its response.
    async fn exchange(
        &self,
        conn: &mut BufReader<Box<dyn Io>>,
        method: &str,
        api: &str,
        fields: &Option<Value>,
    ) -> std::io::Result<(u16, bool, Vec<u8>)> {
        let mut head = format!(
            "{method} /scripts/v1/{api} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: keep-alive\r\n",
            self.port
        );
        // An empty key: a client that never presents one.
        if self.sent_on_connection == 0 && !self.key.is_empty() {
            head.push_str(&format!("X-APIKey: {}\r\n", self.key));
        }
        let body = match (method, fields) {
            ("GET", _) => None,
            (_, Some(fields)) => Some(fields.to_string()),
            (_, None) => Some("[]".to_owned()),
        };
        if let Some(body) = &body {
            head.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        head.push_str("\r\n");
        head.push_str(body.as_deref().unwrap_or(""));
        let exchange = async {
            conn.get_mut().write_all(head.as_bytes()).await?;
            conn.get_mut().flush().await?;
            read_response(conn).await
        };
        actix_rt::time::timeout(DEADLINE, exchange)
            .await
            .expect("reply within the deadline")
    }

    /// Whether the server closed the idle connection (EOF within `within`).
    pub async fn closed_by_server(&mut self, within: std::time::Duration) -> bool {
        let Some(conn) = self.conn.as_mut() else {
            return true;
        };
        let mut byte = [0u8; 1];
        match actix_rt::time::timeout(within, conn.read(&mut byte)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                self.conn = None;
                true
            }
            Ok(Ok(_)) | Err(_) => false,
        }
    }

    /// `StartMonitoring($name)`: its own WebSocket connection to
    /// `ws(s)://HOST/scripts/v1` (key on the upgrade), verified like every
    /// other connection of this client.
    pub async fn monitor(&self, name: &str, sequence: i64) -> (WsClient, Value) {
        self.monitor_at("/scripts/v1", name, sequence).await
    }

    /// StartMonitoring with the upgrade sent to `path` (the first, stand-alone
    /// SDK connected to `/scripts`).
    pub async fn monitor_at(&self, path: &str, name: &str, sequence: i64) -> (WsClient, Value) {
        let mut io = self.open().await;
        let handshake = format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
             User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:60.0) Gecko/20100101 Firefox/60.0\r\n\
             Accept: text/html, application/xhtml+xml, */*\r\n\
             X-APIKey: {key}\r\nConnection: keep-alive, Upgrade\r\nOrigin: {origin}\r\n\
             Pragma: no-cache\r\nSec-WebSocket-Key: {WS_KEY}\r\n\
             Sec-WebSocket-Version: 13\r\nUpgrade: websocket\r\n\r\n",
            port = self.port,
            key = self.key,
            origin = self.host_url(),
        );
        let head = async {
            io.write_all(handshake.as_bytes()).await?;
            io.flush().await?;
            read_head(&mut io).await
        };
        let head = actix_rt::time::timeout(DEADLINE, head)
            .await
            .expect("upgrade reply within the deadline")
            .expect("upgrade reply");
        let status = head.lines().next().unwrap_or_default();
        assert!(status.contains(" 101 "), "the upgrade is accepted: {head}");
        let accept = head.lines().find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("sec-websocket-accept")
                .then(|| value.trim().to_owned())
        });
        assert_eq!(accept.as_deref(), Some(WS_ACCEPT), "{head}");
        let socket: BoxedSocket = Box::new(io);
        let mut ws = WsClient {
            framed: Framed::new(socket, Codec::new().client_mode()),
        };
        let request = json!({"api_method": "GET", "api_path": "/scripts/v1/monitor",
                             "api_sequence": sequence, "name": name});
        let reply = ws.call(request, &mut Vec::new()).await;
        (ws, reply)
    }
}

/// The response head up to the blank line, read byte by byte so that no
/// WebSocket frame after it is consumed.
async fn read_head(io: &mut Box<dyn Io>) -> std::io::Result<String> {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        if io.read(&mut byte).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        head.push(byte[0]);
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

/// Reads one HTTP/1.1 response: status, whether the connection stays
/// open, and the body (Content-Length or chunked).
async fn read_response(conn: &mut BufReader<Box<dyn Io>>) -> std::io::Result<(u16, bool, Vec<u8>)> {
    let mut line = String::new();
    conn.read_line(&mut line).await?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
    let (mut length, mut chunked, mut keep) = (None, false, true);
    loop {
        let mut header = String::new();
        conn.read_line(&mut header).await?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':').unwrap_or((header, ""));
        let (name, value) = (name.to_ascii_lowercase(), value.trim().to_ascii_lowercase());
        match name.as_str() {
            "content-length" => length = value.parse::<usize>().ok(),
            "transfer-encoding" => chunked = value.contains("chunked"),
            "connection" => keep = !value.contains("close"),
            _ => {}
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            conn.read_line(&mut size).await?;
            let size = usize::from_str_radix(size.trim(), 16).map_err(std::io::Error::other)?;
            let mut chunk = vec![0; size + 2];
            conn.read_exact(&mut chunk).await?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(length) = length {
        body.resize(length, 0);
        conn.read_exact(&mut body).await?;
    }
    Ok((status, keep, body))
}

async fn tls_connect(
    config: Arc<ClientConfig>,
    tcp: TcpStream,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let name = ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into());
    tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
}

fn provider() -> Arc<CryptoProvider> {
    scriptd::http::tls::provider()
}

fn config_with(verifier: Arc<dyn ServerCertVerifier>) -> Arc<ClientConfig> {
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// GetSSLInfo(): connects without verification and captures the chain;
/// `Err` says why the SDK would refuse it.
pub async fn get_ssl_info(port: u16) -> Result<SslInfo, String> {
    let capture = Arc::new(Capture::default());
    let tcp = TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| e.to_string())?;
    let tls = tls_connect(config_with(capture.clone()), tcp)
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    // WebBrowser::Process($host . "/"): the call must get an HTTP answer,
    // whatever its status.
    let mut conn: BufReader<Box<dyn Io>> = BufReader::new(Box::new(tls));
    let request =
        format!("GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: keep-alive\r\n\r\n");
    let answer = async {
        conn.get_mut().write_all(request.as_bytes()).await?;
        conn.get_mut().flush().await?;
        read_response(&mut conn).await
    };
    actix_rt::time::timeout(DEADLINE, answer)
        .await
        .map_err(|_| "no answer to GET / in time".to_owned())?
        .map_err(|e| format!("GET /: {e}"))?;
    let chain = capture.chain.lock().expect("chain").clone();
    if chain.len() < 2 {
        return Err(format!("{} certificate(s); at least 2 needed", chain.len()));
    }
    let root = chain.last().cloned().ok_or("no root")?;
    if !is_self_signed(&root) {
        return Err("the last certificate is not a self-signed root".into());
    }
    Ok(SslInfo {
        leaf: chain[0].clone(),
        root,
        chain,
    })
}

/// Verification as the SDK configures it after GetSSLInfo().
pub fn pinned_config(ssl: &SslInfo) -> Arc<ClientConfig> {
    config_with(pinned(ssl))
}

/// The SDK's `ciphers` list as a PHP linked to OpenSSL 1.0 offers it:
/// TLS 1.2 only, and of that list the suites rustls implements.
pub fn pinned_config_tls12(ssl: &SslInfo) -> Arc<ClientConfig> {
    use rustls::CipherSuite as S;
    const SDK_TLS12: [S; 6] = [
        S::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        S::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        S::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        S::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        S::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        S::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    ];
    let mut sdk = (*provider()).clone();
    sdk.cipher_suites
        .retain(|suite| SDK_TLS12.contains(&suite.suite()));
    let mut config = ClientConfig::builder_with_provider(Arc::new(sdk))
        .with_protocol_versions(&[&rustls::version::TLS12])
        .expect("TLS 1.2")
        .dangerous()
        .with_custom_certificate_verifier(pinned(ssl))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

fn pinned(ssl: &SslInfo) -> Arc<Pinned> {
    let mut roots = RootCertStore::empty();
    roots.add(ssl.root.clone()).expect("root parses");
    let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .expect("verifier");
    Arc::new(Pinned {
        inner,
        leaf: ssl.leaf.clone(),
    })
}

/// Accepts any peer and records its chain (GetSSLInfo's first connect).
#[derive(Debug, Default)]
struct Capture {
    chain: Mutex<Vec<CertificateDer<'static>>>,
}

impl ServerCertVerifier for Capture {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let mut chain = vec![end_entity.clone().into_owned()];
        chain.extend(intermediates.iter().map(|c| c.clone().into_owned()));
        *self.chain.lock().expect("chain") = chain;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algs = &provider().signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algs = &provider().signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Peer verification against the saved root, no host-name check, and the
/// leaf must be the saved one.
#[derive(Debug)]
struct Pinned {
    inner: Arc<WebPkiServerVerifier>,
    leaf: CertificateDer<'static>,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // webpki checks the chain before the name, so a name error means
        // the chain itself verified.
        match self
            .inner
            .verify_server_cert(end_entity, intermediates, name, ocsp, now)
        {
            Ok(_) => {}
            Err(rustls::Error::InvalidCertificate(CertificateError::NotValidForName)) => {}
            Err(rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext {
                ..
            })) => {}
            Err(err) => return Err(err),
        }
        if end_entity.as_ref() != self.leaf.as_ref() {
            return Err(rustls::Error::General(
                "the leaf is not the saved one".into(),
            ));
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Whether a certificate's issuer equals its subject (read from the DER:
/// Certificate → tbsCertificate → [version], serial, signature, issuer,
/// validity, subject).
pub fn is_self_signed(cert: &CertificateDer<'_>) -> bool {
    let Some((_, tbs)) = der_inner(cert.as_ref()).and_then(|c| der_first(c)) else {
        return false;
    };
    let mut rest = tbs;
    let mut items = Vec::new();
    while let Some((item, after)) = der_item(rest) {
        items.push(item);
        rest = after;
    }
    // An explicit version ([0], tag 0xA0) shifts the fields by one.
    let skip = usize::from(items.first().is_some_and(|i| i[0] == 0xA0));
    match (items.get(skip + 2), items.get(skip + 4)) {
        (Some(issuer), Some(subject)) => issuer == subject,
        _ => false,
    }
}

/// The content of the outer DER item.
fn der_inner(bytes: &[u8]) -> Option<&[u8]> {
    let (item, _) = der_item(bytes)?;
    let (header, len) = der_header(item)?;
    item.get(header..header + len)
}

/// The first item inside `bytes` and its content.
fn der_first(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let (item, _) = der_item(bytes)?;
    let (header, len) = der_header(item)?;
    Some((item, item.get(header..header + len)?))
}

/// One whole DER item (tag, length, content) and what follows it.
fn der_item(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let (header, len) = der_header(bytes)?;
    let end = header.checked_add(len)?;
    Some((bytes.get(..end)?, bytes.get(end..)?))
}

/// Header size and content length of the DER item at the start of `bytes`.
fn der_header(bytes: &[u8]) -> Option<(usize, usize)> {
    let first = *bytes.get(1)?;
    if first < 0x80 {
        return Some((2, usize::from(first)));
    }
    let count = usize::from(first & 0x7F);
    let len = bytes
        .get(2..2 + count)?
        .iter()
        .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
    Some((2 + count, len))
}
