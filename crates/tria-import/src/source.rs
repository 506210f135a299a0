//! The upload's bytes as read: capped at the size limit, counted and hashed (so the write pass can
//! tell it read what the validating pass read), with a UTF-8 byte order mark dropped.

use std::hash::{DefaultHasher, Hasher};
use std::io::{self, Read};

use crate::ImportError;

const UTF8_BOM: &[u8] = &[0xEF, 0xBB, 0xBF];

/// What was read: the byte count and a digest of the bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Fingerprint {
    pub(crate) bytes: u64,
    pub(crate) digest: u64,
}

pub(crate) struct Tracked<R> {
    inner: R,
    /// Bytes read ahead to look for a byte order mark, served before `inner`.
    head: [u8; 4],
    head_start: usize,
    head_end: usize,
    read: u64,
    limit: u64,
    hasher: DefaultHasher,
    over_limit: bool,
}

impl<R: Read> Tracked<R> {
    /// Opens the upload: refuses an empty or UTF-16 one and drops a UTF-8 byte order mark.
    pub(crate) fn open(inner: R, limit: u64) -> Result<Self, ImportError> {
        let mut tracked =
            Self { inner, head: [0; 4], head_start: 0, head_end: 0, read: 0, limit, hasher: DefaultHasher::new(), over_limit: false };
        let mut head = [0u8; 4];
        let mut filled = 0;
        while filled < head.len() {
            match tracked.read_counted(&mut head[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(tracked.error(e)),
            }
        }
        let head_bytes = &head[..filled];
        if head_bytes.is_empty() {
            return Err(ImportError::Empty);
        }
        if head_bytes.starts_with(&[0xFF, 0xFE]) || head_bytes.starts_with(&[0xFE, 0xFF]) {
            return Err(ImportError::Utf16);
        }
        tracked.head = head;
        tracked.head_end = filled;
        if head_bytes.starts_with(UTF8_BOM) {
            tracked.head_start = UTF8_BOM.len();
            if filled == UTF8_BOM.len() && tracked.at_end()? {
                return Err(ImportError::Empty);
            }
        }
        Ok(tracked)
    }

    /// Whether nothing follows the head (only asked when the head was just a byte order mark).
    fn at_end(&mut self) -> Result<bool, ImportError> {
        let mut one = [0u8; 1];
        let n = self.read_counted(&mut one).map_err(|e| self.error(e))?;
        if n == 1 {
            self.head[self.head_end] = one[0];
            self.head_end += 1;
        }
        Ok(n == 0)
    }

    fn read_counted(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.limit {
            self.over_limit = true;
            return Err(io::Error::other(format!("the upload is larger than {} bytes", self.limit)));
        }
        self.hasher.write(&buf[..n]);
        Ok(n)
    }

    /// An I/O error as the import error it stands for (over the limit, or a real read failure).
    pub(crate) fn error(&self, err: io::Error) -> ImportError {
        if self.over_limit { ImportError::TooBig { limit: self.limit } } else { ImportError::Io(err) }
    }

    pub(crate) fn is_over_limit(&self) -> bool {
        self.over_limit
    }

    pub(crate) fn fingerprint(&self) -> Fingerprint {
        Fingerprint { bytes: self.read, digest: self.hasher.finish() }
    }
}

impl<R: Read> Read for Tracked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.head_start < self.head_end {
            let n = (self.head_end - self.head_start).min(buf.len());
            buf[..n].copy_from_slice(&self.head[self.head_start..self.head_start + n]);
            self.head_start += n;
            return Ok(n);
        }
        if self.over_limit {
            return Err(io::Error::other("the upload is over the size limit"));
        }
        self.read_counted(buf)
    }
}
