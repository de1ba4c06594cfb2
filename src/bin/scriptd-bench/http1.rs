//! A bare HTTP/1.1 keep-alive client for the accept scenario: one tokio
//! TcpStream per client, a pre-built request, and a reply reader that only
//! finds the status, Content-Length and body. awc (service stack, codec,
//! pool) was a large share of `accept`'s samples, on the cores the server
//! uses too (BENCHMARKS.md § Profile-driven fixes, 15); this costs about a
//! `send` and a `recv` per request, which is
//! what a load generator such as wrk costs. It is not a general client:
//! no chunked replies, no redirects.

use anyhow::{bail, Context as _};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::server::Target;

/// One keep-alive connection.
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

/// A request serialized once and sent as many times as wanted.
pub struct Request(Vec<u8>);

impl Request {
    /// `POST path` with the target's key and a JSON body.
    pub fn post_json(target: &Target, path: &str, body: &str) -> Request {
        Request(
            format!(
                "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nX-APIKey: {}\r\n\
                 Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                target.port,
                target.key,
                body.len()
            )
            .into_bytes(),
        )
    }
}

impl Conn {
    /// Connects to the target.
    pub async fn connect(target: &Target) -> anyhow::Result<Conn> {
        let stream = TcpStream::connect(("127.0.0.1", target.port)).await?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: Vec::with_capacity(4096),
        })
    }

    /// Sends `request` and reads the whole reply: its status and body.
    pub async fn send(&mut self, request: &Request) -> anyhow::Result<(u16, Vec<u8>)> {
        self.stream.write_all(&request.0).await?;
        let head_end = loop {
            if let Some(at) = find(&self.buf, b"\r\n\r\n") {
                break at + 4;
            }
            self.fill().await?;
        };
        let head = std::str::from_utf8(&self.buf[..head_end]).context("reply head")?;
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .context("status line")?;
        let Some(length) = head.lines().find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        }) else {
            bail!("reply without Content-Length");
        };
        while self.buf.len() < head_end + length {
            self.fill().await?;
        }
        let body = self.buf[head_end..head_end + length].to_vec();
        self.buf.drain(..head_end + length);
        Ok((status, body))
    }

    async fn fill(&mut self) -> anyhow::Result<()> {
        let mut chunk = [0u8; 4096];
        let n = self.stream.read(&mut chunk).await?;
        if n == 0 {
            bail!("connection closed");
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
