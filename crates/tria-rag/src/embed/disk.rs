//! Vectors of a fixed list of texts (e.g. the intent examples) kept on disk, so a restart does
//! not re-embed a thousand sentences: the file is named by a digest of the model id and every
//! text, so any change to either simply misses. The cache is an optimisation only: an
//! unreadable, short or unwritable file means "embed again", never an error.

use std::path::Path;

use sha2::{Digest, Sha256};

use super::{EmbedError, Embedder};

/// `embedder.embed_batch(texts)`, read from `cache_dir` when an earlier run stored the same
/// model's vectors for the same texts, and stored there otherwise.
pub fn embed_batch_cached(embedder: &dyn Embedder, texts: &[&str], cache_dir: &Path) -> Result<Vec<Vec<f32>>, EmbedError> {
    let dim = embedder.dimension();
    let mut digest = Sha256::new();
    digest.update(embedder.model_id().as_bytes());
    digest.update(dim.to_le_bytes());
    for text in texts {
        digest.update((text.len() as u64).to_le_bytes());
        digest.update(text.as_bytes());
    }
    let path = cache_dir.join(format!("{}.f32", hex::encode(digest.finalize())));
    if let Ok(bytes) = std::fs::read(&path)
        && bytes.len() == texts.len() * dim * 4
    {
        let floats: Vec<f32> = bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        return Ok(floats.chunks_exact(dim.max(1)).map(<[f32]>::to_vec).collect());
    }
    let vectors = embedder.embed_batch(texts)?;
    let bytes: Vec<u8> = vectors.iter().flatten().flat_map(|f| f.to_le_bytes()).collect();
    // Write to a temporary name and rename, so a concurrent reader never sees half a file.
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let stored = std::fs::create_dir_all(cache_dir).and_then(|()| std::fs::write(&tmp, &bytes)).and_then(|()| std::fs::rename(&tmp, &path));
    if let Err(e) = stored {
        tracing::debug!(error = %e, dir = %cache_dir.display(), "vector cache not written; the next start embeds again");
        let _ = std::fs::remove_file(&tmp);
    }
    Ok(vectors)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    struct Counting(AtomicUsize);

    impl Embedder for Counting {
        fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
            self.0.fetch_add(texts.len(), Ordering::SeqCst);
            Ok(texts.iter().map(|t| vec![t.len() as f32, 1.0, -2.5]).collect())
        }
        fn dimension(&self) -> usize {
            3
        }
        fn model_id(&self) -> &str {
            "counting"
        }
    }

    #[test]
    fn a_second_run_reads_the_vectors_and_a_changed_text_misses() {
        let dir = tempfile::tempdir().expect("tempdir");
        let embedder = Counting(AtomicUsize::new(0));
        let first = embed_batch_cached(&embedder, &["a", "bb"], dir.path()).expect("embed");
        let again = embed_batch_cached(&embedder, &["a", "bb"], dir.path()).expect("cached");
        assert_eq!(first, again);
        assert_eq!(embedder.0.load(Ordering::SeqCst), 2, "the second call embedded nothing");
        embed_batch_cached(&embedder, &["a", "bc"], dir.path()).expect("embed");
        assert_eq!(embedder.0.load(Ordering::SeqCst), 4, "a changed text is a miss");
    }

    #[test]
    fn a_corrupt_file_or_an_unwritable_dir_only_means_embedding_again() {
        let dir = tempfile::tempdir().expect("tempdir");
        let embedder = Counting(AtomicUsize::new(0));
        embed_batch_cached(&embedder, &["x"], dir.path()).expect("embed");
        for entry in std::fs::read_dir(dir.path()).expect("dir") {
            std::fs::write(entry.expect("entry").path(), b"short").expect("corrupt");
        }
        assert_eq!(embed_batch_cached(&embedder, &["x"], dir.path()).expect("embed"), vec![vec![1.0, 1.0, -2.5]]);
        let file = dir.path().join("not-a-dir");
        std::fs::write(&file, b"").expect("file");
        assert!(embed_batch_cached(&embedder, &["x"], &file.join("sub")).is_ok());
    }
}
