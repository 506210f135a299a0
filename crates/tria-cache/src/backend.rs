//! The seam every byte store sits behind: a few required methods, defaults for the rest.

use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;

/// Why a cache operation failed. Callers treat every error as a miss; none reaches a customer.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cache backend unavailable: {0}")]
    Unavailable(String),
    #[error("cache operation timed out after {0:?}")]
    Timeout(Duration),
    #[error("invalid cache configuration: {0}")]
    Config(String),
}

/// How a backend is doing, for `/health`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", content = "detail", rename_all = "snake_case")]
pub enum CacheHealth {
    Ok,
    /// Serving, but not from its primary store (e.g. Redis down, memory in use).
    Degraded(String),
    Down(String),
}

impl CacheHealth {
    /// `ok`, `degraded` or `down`, as `/health` shows components.
    pub fn as_str(&self) -> &'static str {
        match self {
            CacheHealth::Ok => "ok",
            CacheHealth::Degraded(_) => "degraded",
            CacheHealth::Down(_) => "down",
        }
    }
}

/// Counters a backend keeps about itself.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BackendStats {
    pub entries: u64,
    pub bytes: u64,
    pub evictions: u64,
    /// Operations served by the fallback store because the primary failed or was degraded.
    pub fallbacks: u64,
    /// Switches between primary and fallback, both directions.
    pub transitions: u64,
    pub degraded: bool,
}

/// A byte-oriented cache with per-entry time to live.
#[async_trait]
pub trait CacheBackend: Send + Sync {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError>;
    async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), CacheError>;
    async fn delete(&self, key: &str) -> Result<(), CacheError>;
    /// Deletes every key matching a Redis glob (`*`, `?`); returns how many went.
    async fn delete_matching(&self, pattern: &str) -> Result<u64, CacheError>;
    /// Deletes every key matching `pattern` that also matches `scope` (both Redis globs): how a
    /// caller's pattern is kept inside the keys it may touch. Returns how many went.
    async fn delete_matching_within(&self, scope: &str, pattern: &str) -> Result<u64, CacheError>;
    /// Keys matching a Redis glob, at most `limit` of them.
    async fn keys_matching(&self, pattern: &str, limit: usize) -> Result<Vec<String>, CacheError>;
    /// Atomically adds one to the counter at `key` (absent counts as 0) and returns the new value.
    async fn incr(&self, key: &str) -> Result<u64, CacheError>;
    /// A short name for logs and health output.
    fn name(&self) -> &'static str;

    async fn delete_prefix(&self, prefix: &str) -> Result<u64, CacheError> {
        self.delete_matching(&format!("{}*", glob_escape(prefix))).await
    }
    async fn health(&self) -> CacheHealth {
        CacheHealth::Ok
    }
    fn stats(&self) -> BackendStats {
        BackendStats::default()
    }
    /// Whether the backend is currently serving from its fallback; cheap, no I/O.
    fn is_degraded(&self) -> bool {
        false
    }
    /// Whether the backend can take commands right now, as far as it knows without I/O (e.g.
    /// its connection is up). A wrapper that sees `false` serves from elsewhere at once instead
    /// of spending a command timeout to find out.
    fn is_available(&self) -> bool {
        true
    }
    /// Whether values outlive this process (and so are shared with other instances).
    fn is_shared(&self) -> bool {
        false
    }
}

/// Escapes Redis glob metacharacters so a literal prefix matches only itself.
pub(crate) fn glob_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Redis glob matching (`*`, `?`, `[...]` as a literal-class subset, `\` escapes), for the
/// in-memory backend so both answer patterns the same way.
pub(crate) fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        let step = if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ti));
                    pi += 1;
                    continue;
                }
                '?' => Some(1),
                '\\' if pi + 1 < p.len() => (p[pi + 1] == t[ti]).then_some(2),
                '[' => class_match(&p[pi..], t[ti]),
                c => (c == t[ti]).then_some(1),
            }
        } else {
            None
        };
        match (step, star) {
            (Some(n), _) => {
                pi += n;
                ti += 1;
            }
            (None, Some((sp, st))) => {
                pi = sp + 1;
                ti = st + 1;
                star = Some((sp, st + 1));
            }
            (None, None) => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Matches `[abc]` / `[a-z]` at the start of `p`; returns the class length when `c` is in it.
fn class_match(p: &[char], c: char) -> Option<usize> {
    let end = p.iter().position(|&x| x == ']')?;
    let class = &p[1..end];
    let mut i = 0;
    let mut hit = false;
    while i < class.len() {
        if i + 2 < class.len() && class[i + 1] == '-' {
            hit |= class[i] <= c && c <= class[i + 2];
            i += 3;
        } else {
            hit |= class[i] == c;
            i += 1;
        }
    }
    hit.then_some(end + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_like_redis() {
        assert!(glob_match("tria:t1:*", "tria:t1:l2:v1:abc"));
        assert!(!glob_match("tria:t1:*", "tria:t2:l2:v1:abc"));
        assert!(glob_match("tria:*:l2:*", "tria:t2:l2:v1:abc"));
        assert!(glob_match("a?c", "abc"));
        assert!(glob_match("a[b-d]c", "acc"));
        assert!(!glob_match("a[b-d]c", "aec"));
        assert!(glob_match(&format!("{}*", glob_escape("x*y")), "x*yz"));
        assert!(!glob_match(&format!("{}*", glob_escape("x*y")), "xaaayz"));
    }
}
