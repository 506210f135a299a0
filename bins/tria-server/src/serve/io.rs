//! The socket under each connection, with two jobs hyper does not do for us:
//! - **The API's error shape for hyper's own replies.** A request hyper cannot parse (bad
//!   syntax, headers over the limit) is answered by hyper itself with a bare `400`/`431` and no
//!   body. Every other error of the API is JSON with `x-request-id`, so such a head is replaced
//!   as it is written by the same error as JSON, with a fresh request id.
//! - **Lingering close.** Closing a socket with unread bytes in its receive buffer makes the
//!   kernel send a reset, and a client still sending (the 413 for a body over the limit, the
//!   431, a 401 before the body was read) then loses the reply it was sent. When the
//!   connection ends, the write side is shut down and what the client still sends is read and
//!   discarded for a bounded time and size before the socket closes.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tria_core::ErrorCode;

use super::connection::ConnectionStats;

/// How long and how much a closing connection reads and discards at most.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Linger {
    pub time: Duration,
    pub bytes: usize,
    /// Sockets lingering at once at most; beyond it they close at once (each holds a descriptor).
    pub max_sockets: usize,
}

pub(crate) struct ServerIo {
    stream: Option<TcpStream>,
    /// A replacement response still to be written (see the module docs).
    pending: Vec<u8>,
    pending_from: usize,
    linger: Linger,
    stats: Arc<ConnectionStats>,
}

impl ServerIo {
    pub(crate) fn new(stream: TcpStream, linger: Linger, stats: Arc<ConnectionStats>) -> Self {
        Self { stream: Some(stream), pending: Vec::new(), pending_from: 0, linger, stats }
    }

    fn stream(&mut self) -> io::Result<&mut TcpStream> {
        self.stream.as_mut().ok_or_else(|| io::Error::from(io::ErrorKind::NotConnected))
    }

    /// Writes what is left of a replacement response; Ready(Ok) once it is all out.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.pending_from < self.pending.len() {
            let from = self.pending_from;
            let stream = match self.stream.as_mut() {
                Some(s) => s,
                None => return Poll::Ready(Err(io::Error::from(io::ErrorKind::NotConnected))),
            };
            let written = std::task::ready!(Pin::new(stream).poll_write(cx, &self.pending[from..]))?;
            if written == 0 {
                return Poll::Ready(Err(io::Error::from(io::ErrorKind::WriteZero)));
            }
            self.pending_from += written;
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for ServerIo {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        Pin::new(this.stream()?).poll_read(cx, buf)
    }
}

impl AsyncWrite for ServerIo {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        std::task::ready!(this.poll_pending(cx))?;
        if let Some(replacement) = json_error_for_bare_head(buf) {
            this.pending = replacement;
            this.pending_from = 0;
            // The bare head counts as written; what goes out is the replacement.
            let _ = this.poll_pending(cx)?;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(this.stream()?).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        std::task::ready!(this.poll_pending(cx))?;
        Pin::new(this.stream()?).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        std::task::ready!(this.poll_pending(cx))?;
        Pin::new(this.stream()?).poll_shutdown(cx)
    }
}

impl Drop for ServerIo {
    fn drop(&mut self) {
        let Some(mut stream) = self.stream.take() else { return };
        // The client already closed its side, or sent nothing more: a plain close is clean.
        let mut probe = [0u8; 1];
        match stream.try_read(&mut probe) {
            Ok(0) => return,
            Err(err) if err.kind() == io::ErrorKind::WouldBlock && self.pending.is_empty() => {}
            Err(_) if self.pending.is_empty() => return,
            _ => {}
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let stats = self.stats.clone();
        if stats.lingering.fetch_add(1, Ordering::Relaxed) >= self.linger.max_sockets {
            stats.lingering.fetch_sub(1, Ordering::Relaxed);
            return;
        }
        let linger = self.linger;
        let pending = std::mem::take(&mut self.pending);
        let pending_from = self.pending_from;
        runtime.spawn(async move {
            let _ = tokio::time::timeout(linger.time, async {
                if pending_from < pending.len() {
                    stream.write_all(&pending[pending_from..]).await?;
                }
                stream.shutdown().await?;
                let mut sink = [0u8; 8192];
                let mut discarded = 0;
                while discarded < linger.bytes {
                    match stream.read(&mut sink).await? {
                        0 => break,
                        n => discarded += n,
                    }
                }
                io::Result::Ok(())
            })
            .await;
            drop(stream);
            stats.lingering.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

/// When `buf` starts with a response head hyper made itself — a 4xx/5xx status line whose
/// headers have no `x-request-id` (the router puts one on every response it makes) — the same
/// status as the API's JSON error, with a request id and `connection: close`.
pub(crate) fn json_error_for_bare_head(buf: &[u8]) -> Option<Vec<u8>> {
    let rest = buf.strip_prefix(b"HTTP/1.1 ").or_else(|| buf.strip_prefix(b"HTTP/1.0 "))?;
    let status: u16 = std::str::from_utf8(rest.get(..3)?).ok()?.parse().ok()?;
    if !(400..600).contains(&status) {
        return None;
    }
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    if head.contains("\r\nx-request-id:") {
        return None;
    }
    let (code, message) = match status {
        431 => (ErrorCode::PayloadTooLarge, "the request's headers are larger than the server accepts"),
        414 => (ErrorCode::PayloadTooLarge, "the request's URI is longer than the server accepts"),
        413 => (ErrorCode::PayloadTooLarge, "the request is larger than the server accepts"),
        408 => (ErrorCode::Timeout, "the request did not arrive in time"),
        505 => (ErrorCode::MalformedRequest, "only HTTP/1.0, HTTP/1.1 and HTTP/2 are served"),
        400..=499 => (ErrorCode::MalformedRequest, "the request is not valid HTTP"),
        _ => (ErrorCode::Internal, "the server could not handle the request"),
    };
    let reason = http::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("Error");
    let body = serde_json::json!({ "error": { "code": code.as_str(), "message": message } }).to_string();
    let id = uuid::Uuid::new_v4();
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nx-request-id: {id}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body.as_bytes());
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::json_error_for_bare_head;

    #[test]
    fn hypers_bare_error_heads_become_json_errors_and_the_routers_responses_pass() {
        let bare = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        let replaced = String::from_utf8(json_error_for_bare_head(bare).expect("replaced")).expect("utf8");
        assert!(replaced.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"), "{replaced}");
        assert!(replaced.contains("\r\nx-request-id: "), "{replaced}");
        assert!(replaced.contains("content-type: application/json"), "{replaced}");
        assert!(
            replaced.ends_with(
                r#"{"error":{"code":"payload_too_large","message":"the request's headers are larger than the server accepts"}}"#
            )
        );
        assert!(json_error_for_bare_head(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n").is_some());
        // The router's own responses carry a request id; successes and 1xx are never touched.
        assert!(json_error_for_bare_head(b"HTTP/1.1 404 Not Found\r\nx-request-id: abc\r\n\r\n{}").is_none());
        assert!(json_error_for_bare_head(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_none());
        assert!(json_error_for_bare_head(b"HTTP/1.1 100 Continue\r\n\r\n").is_none());
        // Body bytes, HTTP/2 frames and partial heads pass as they are.
        assert!(json_error_for_bare_head(b"{\"reply\":\"HTTP/1.1 400\"}").is_none());
        assert!(json_error_for_bare_head(b"HTTP/1.1 400 Bad Request\r\ncontent-le").is_none());
    }
}
