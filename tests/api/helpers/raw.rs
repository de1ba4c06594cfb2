//! Raw HTTP over TCP, for what a well-behaved client library would not
//! send: one response read by hand, connections from chosen loopback
//! addresses, and whether the server closed a connection.

use std::net::SocketAddr;
use std::time::Instant;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use super::DEADLINE;

/// A parsed HTTP response from a raw connection.
pub struct Raw {
    pub status: u16,
    pub head: String,
    pub body: Value,
}

/// Reads one response (head, then the body by Content-Length or to EOF).
pub async fn read_response(stream: &mut TcpStream) -> Raw {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let deadline = Instant::now() + DEADLINE;
    let head_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let n = tokio::time::timeout(left, stream.read(&mut chunk))
            .await
            .expect("a response before the deadline")
            .expect("read");
        assert!(
            n > 0,
            "connection closed before a response: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    let length = head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse::<usize>().ok())?
    });
    let mut body = buf[head_end..].to_vec();
    while length.is_none_or(|len| body.len() < len) {
        let left = deadline.saturating_duration_since(Instant::now());
        let n = tokio::time::timeout(left, stream.read(&mut chunk))
            .await
            .expect("the body before the deadline")
            .unwrap_or(0);
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let body = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into()));
    Raw { status, head, body }
}

/// Sends `request` on a new connection from `from` and reads the response.
pub async fn raw_from(from: &str, port: u16, request: &[u8]) -> (TcpStream, Raw) {
    let mut stream = connect_from(from, port).await;
    stream.write_all(request).await.expect("write request");
    let raw = read_response(&mut stream).await;
    (stream, raw)
}

/// A connection to the server from the loopback address `from`.
pub async fn connect_from(from: &str, port: u16) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    let local: SocketAddr = format!("{from}:0").parse().expect("address");
    socket.bind(local).expect("bind a loopback source address");
    socket
        .connect(SocketAddr::from(([127, 0, 0, 1], port)))
        .await
        .expect("connect")
}

/// Whether the server closed the connection (EOF) within the deadline.
pub async fn closed(stream: &mut TcpStream) -> bool {
    let mut byte = [0u8; 1024];
    let deadline = Instant::now() + DEADLINE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut byte)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}
