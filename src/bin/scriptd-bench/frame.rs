//! A bare WebSocket monitor client for the push scenario: a tokio
//! TcpStream, a hand-written upgrade request and a frame reader that only
//! finds frame boundaries. awc's client (decoder, codec, actix service
//! stack) cost CPU per received push on the cores the server uses too, so
//! with 1000 sockets the load generator set the tail (BENCHMARKS.md §
//! Figures the code refers to); this one
//! costs about a `recv` per push. It is not a general client: no
//! fragmentation, no extensions, and close/errors simply end the stream.

use anyhow::Context as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::server::Target;

/// One monitor socket and its read buffer.
pub struct Socket {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Start of unread bytes in `buf` (frames already returned end here).
    start: usize,
}

/// Opens `/scripts/v1` with the target's key and completes the upgrade.
pub async fn connect(target: &Target) -> anyhow::Result<Socket> {
    let mut stream = TcpStream::connect(("127.0.0.1", target.port)).await?;
    stream.set_nodelay(true)?;
    let request = format!(
        "GET /scripts/v1 HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nX-APIKey: {}\r\n\r\n",
        target.port, target.key
    );
    stream.write_all(request.as_bytes()).await?;
    let mut socket = Socket {
        stream,
        buf: Vec::with_capacity(4096),
        start: 0,
    };
    let head_end = loop {
        if let Some(at) = find(&socket.buf, b"\r\n\r\n") {
            break at + 4;
        }
        anyhow::ensure!(socket.fill().await? > 0, "closed during the upgrade");
    };
    let head = String::from_utf8_lossy(&socket.buf[..head_end]).into_owned();
    anyhow::ensure!(head.starts_with("HTTP/1.1 101"), "upgrade refused: {head}");
    socket.start = head_end;
    Ok(socket)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

impl Socket {
    /// Reads more bytes; 0 at end of stream.
    async fn fill(&mut self) -> std::io::Result<usize> {
        // Frames already returned are dropped (usually all of the buffer).
        self.buf.drain(..self.start);
        self.start = 0;
        self.buf.reserve(4096);
        self.stream.read_buf(&mut self.buf).await
    }

    /// Sends one masked text frame (clients must mask; the key is fixed,
    /// which the protocol allows for a benchmark's own traffic).
    pub async fn send_text(&mut self, text: &str) -> anyhow::Result<()> {
        self.send(0x1, text.as_bytes()).await
    }

    async fn send(&mut self, opcode: u8, payload: &[u8]) -> anyhow::Result<()> {
        const MASK: [u8; 4] = [0x12, 0x34, 0x56, 0x78];
        let mut frame = vec![0x80 | opcode];
        match payload.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n if n <= 0xffff => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        frame.extend_from_slice(&MASK);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
        self.stream.write_all(&frame).await?;
        Ok(())
    }

    /// The next text frame's payload (answering pings), or `None` when the
    /// socket closed. The slice is valid until the next call.
    pub async fn next_text(&mut self) -> anyhow::Result<Option<&[u8]>> {
        loop {
            match self.parse()? {
                Some((opcode, range)) => match opcode {
                    0x1 | 0x2 => return Ok(Some(&self.buf[range])),
                    0x8 => return Ok(None),
                    0x9 => {
                        let ping = self.buf[range].to_vec();
                        self.send(0xA, &ping).await?;
                    }
                    _ => {}
                },
                None => {
                    if self.fill().await? == 0 {
                        return Ok(None);
                    }
                }
            }
        }
    }

    /// The opcode and payload range of the next complete frame in the
    /// buffer, consuming it; `None` if it is not all here yet.
    fn parse(&mut self) -> anyhow::Result<Option<(u8, std::ops::Range<usize>)>> {
        let data = &self.buf[self.start..];
        if data.len() < 2 {
            return Ok(None);
        }
        anyhow::ensure!(data[0] & 0x80 != 0, "fragmented frames are not supported");
        anyhow::ensure!(data[1] & 0x80 == 0, "server frames must not be masked");
        let (len, header) = match data[1] & 0x7f {
            126 if data.len() >= 4 => (usize::from(u16::from_be_bytes([data[2], data[3]])), 4),
            127 if data.len() >= 10 => {
                let bytes: [u8; 8] = data[2..10].try_into().context("length")?;
                (usize::try_from(u64::from_be_bytes(bytes))?, 10)
            }
            126 | 127 => return Ok(None),
            n => (usize::from(n), 2),
        };
        if data.len() < header + len {
            return Ok(None);
        }
        let opcode = data[0] & 0x0f;
        let begin = self.start + header;
        self.start = begin + len;
        Ok(Some((opcode, begin..begin + len)))
    }
}
