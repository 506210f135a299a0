use std::path::Path;

use tria_rag::embed::{dot, model_files};
use tria_rag::{EmbedError, EmbedderStatus, LocalEmbedder, LocalEmbedderOptions};

use crate::support::{embedder, models_dir};

#[test]
fn a_missing_models_dir_is_a_typed_error_naming_the_fetch_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = LocalEmbedder::load(&LocalEmbedderOptions::new(dir.path().join("nowhere"))).expect_err("no model");
    assert!(matches!(err, EmbedError::MissingFile { .. }), "{err:?}");
    assert!(err.to_string().contains("cargo xtask model fetch"), "{err}");
}

fn copy_model_except_runtime(to: &Path) {
    for file in model_files::ALL.iter().filter(|f| f.relative_path != model_files::ONNX_RUNTIME.relative_path) {
        let target = file.path_in(to);
        std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
        std::fs::copy(file.path_in(&models_dir()), target).expect("copy model file (run `cargo xtask model fetch`)");
    }
}

#[test]
fn a_missing_runtime_library_does_not_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_model_except_runtime(dir.path());
    let err = LocalEmbedder::load(&LocalEmbedderOptions::new(dir.path())).expect_err("no runtime");
    assert!(matches!(&err, EmbedError::MissingFile { what, .. } if what.contains("ONNX Runtime")), "{err:?}");
    assert!(err.to_string().contains("cargo xtask model fetch"));
}

#[test]
fn a_corrupt_runtime_library_is_caught_by_its_checksum() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_model_except_runtime(dir.path());
    let runtime = model_files::ONNX_RUNTIME.path_in(dir.path());
    std::fs::create_dir_all(runtime.parent().expect("parent")).expect("mkdir");
    std::fs::write(&runtime, b"not a shared library").expect("write");
    let err = LocalEmbedder::load(&LocalEmbedderOptions::new(dir.path())).expect_err("corrupt");
    assert!(matches!(err, EmbedError::Checksum { .. }), "{err:?}");
    assert!(err.to_string().contains("cargo xtask model fetch"));
}

#[test]
fn vectors_are_unit_length_and_similar_texts_are_close() {
    let e = embedder();
    assert_eq!(e.dimension(), 384);
    assert_eq!(e.model_id(), model_files::MODEL_ID);
    let v = e.embed_batch(&["How long do refunds take?", "When will I get my money back?", "Do you sell oat milk?", ""]).expect("embed");
    assert_eq!(v.len(), 4);
    for x in &v {
        assert_eq!(x.len(), 384);
        assert!((dot(x, x) - 1.0).abs() < 1e-3);
    }
    assert!(dot(&v[0], &v[1]) > dot(&v[0], &v[2]) + 0.1, "{} vs {}", dot(&v[0], &v[1]), dot(&v[0], &v[2]));
    // A batch gives the same vectors as one-by-one calls.
    let single = e.embed_one("Do you sell oat milk?").expect("embed");
    assert!(dot(&single, &v[2]) > 0.999);
    assert!(e.embed_batch(&[]).expect("empty").is_empty());
    assert!(EmbedderStatus::probe(e.as_ref()).is_ready());
}

#[test]
fn a_short_call_goes_ahead_of_a_bulk_call_instead_of_waiting_for_all_of_it() {
    use std::time::{Duration, Instant};
    let model = embedder();
    // Hundreds of batches: seconds of inference, against one message's few milliseconds.
    let texts: Vec<String> = (0..1500).map(|i| format!("Passage {i}: returns are accepted within 30 days of delivery")).collect();
    let bulk = std::thread::spawn({
        let model = model.clone();
        move || {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let embedded = model.embed_batch(&refs).map(|v| v.len());
            (embedded, Instant::now())
        }
    });
    std::thread::sleep(Duration::from_millis(200));
    let one = model.embed_one("How long do I have to return something?").expect("short call");
    let short_done = Instant::now();
    assert_eq!(one.len(), model.dimension());
    let (embedded, bulk_done) = bulk.join().expect("bulk thread");
    assert_eq!(embedded.expect("bulk call"), 1500, "the bulk call still embeds everything");
    // Had the short call waited for the session until the bulk call let go of it, both would
    // end together; it went between two batches, so the bulk call had most of its work ahead.
    assert!(bulk_done > short_done + Duration::from_millis(500), "the short call waited for the bulk call");
    // Batched or not, a text gets the same vector.
    let again = model.embed_batch(&["How long do I have to return something?"]).expect("again");
    assert!(one.iter().zip(&again[0]).all(|(a, b)| (a - b).abs() < 1e-5));
}
