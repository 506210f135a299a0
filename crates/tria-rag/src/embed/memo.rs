//! Remembers the vectors of the last few texts, so one chat message embedded for intent, for
//! retrieval and for the semantic cache costs one model call.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use super::{EmbedError, Embedder};

pub struct Memoized {
    inner: Arc<dyn Embedder>,
    capacity: usize,
    recent: Mutex<VecDeque<(String, Vec<f32>)>>,
}

impl std::fmt::Debug for Memoized {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Memoized").field("model_id", &self.inner.model_id()).field("capacity", &self.capacity).finish()
    }
}

impl Memoized {
    pub fn new(inner: Arc<dyn Embedder>, capacity: usize) -> Self {
        Self { inner, capacity: capacity.max(1), recent: Mutex::new(VecDeque::new()) }
    }

    fn recall(&self, text: &str) -> Option<Vec<f32>> {
        let recent = self.recent.lock().ok()?;
        recent.iter().find(|(t, _)| t == text).map(|(_, v)| v.clone())
    }

    fn remember(&self, text: &str, vector: &[f32]) {
        if let Ok(mut recent) = self.recent.lock() {
            if recent.len() >= self.capacity {
                recent.pop_front();
            }
            recent.push_back((text.to_owned(), vector.to_vec()));
        }
    }
}

impl Embedder for Memoized {
    fn model_id(&self) -> &str {
        self.inner.model_id()
    }

    fn dimension(&self) -> usize {
        self.inner.dimension()
    }

    fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        // Batches (indexing) go straight through; the memo is for single queries.
        if texts.len() != 1 {
            return self.inner.embed_batch(texts);
        }
        self.embed_one(texts[0]).map(|v| vec![v])
    }

    fn embed_one(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        if let Some(v) = self.recall(text) {
            return Ok(v);
        }
        let v = self.inner.embed_one(text)?;
        self.remember(text, &v);
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    struct Counting(AtomicUsize);

    impl Embedder for Counting {
        fn model_id(&self) -> &str {
            "counting"
        }
        fn dimension(&self) -> usize {
            1
        }
        fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
            self.0.fetch_add(texts.len(), Ordering::SeqCst);
            Ok(texts.iter().map(|t| vec![t.len() as f32]).collect())
        }
    }

    #[test]
    fn repeated_queries_hit_the_model_once() {
        let inner = Arc::new(Counting(AtomicUsize::new(0)));
        let memo = Memoized::new(inner.clone(), 2);
        assert_eq!(memo.embed_one("abc").expect("embed"), [3.0]);
        assert_eq!(memo.embed_one("abc").expect("embed"), [3.0]);
        assert_eq!(inner.0.load(Ordering::SeqCst), 1);
        memo.embed_one("x").expect("embed");
        memo.embed_one("y").expect("embed"); // evicts "abc"
        memo.embed_one("abc").expect("embed");
        assert_eq!(inner.0.load(Ordering::SeqCst), 4);
    }
}
