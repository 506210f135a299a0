//! The bytes stored for a value: a small header (magic, format version, value kind, checksum)
//! followed by the bincode 2 payload. A format change bumps [`ENVELOPE_VERSION`], so old values
//! read as misses instead of being misread; a checksum catches bytes damaged in place.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The format of everything this build writes. Bump on any change to a cached type.
/// 2: L3 records carry answer evidence (passage ids with scores) instead of chunk ids.
/// 3: exact answers and L3 records carry the basis they were computed from (`AnswerBasis`).
pub const ENVELOPE_VERSION: u8 = 4;

const MAGIC: [u8; 2] = *b"TC";
const HEADER_LEN: usize = 2 + 1 + 1 + 4;

/// What is inside an envelope, so a key holding one kind is never decoded as another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Kind {
    Exact = 1,
    Semantic = 2,
    Component = 3,
}

/// Why stored bytes could not be read back; every case is a miss for the caller.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    #[error("not a tria cache envelope")]
    NotAnEnvelope,
    #[error("envelope version {0} is not {ENVELOPE_VERSION}")]
    Version(u8),
    #[error("envelope holds kind {found}, expected {expected}")]
    Kind { found: u8, expected: u8 },
    #[error("checksum mismatch")]
    Checksum,
    #[error("payload does not decode: {0}")]
    Decode(String),
    #[error("payload does not encode: {0}")]
    Encode(String),
}

fn config() -> bincode::config::Configuration {
    bincode::config::standard()
}

/// FNV-1a, 32 bits: cheap and enough to notice flipped or truncated bytes.
fn checksum(bytes: &[u8]) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for &b in bytes {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

pub(crate) fn encode<T: Serialize>(kind: Kind, value: &T) -> Result<Vec<u8>, EnvelopeError> {
    let payload = bincode::serde::encode_to_vec(value, config()).map_err(|e| EnvelopeError::Encode(e.to_string()))?;
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(&MAGIC);
    out.push(ENVELOPE_VERSION);
    out.push(kind as u8);
    out.extend_from_slice(&checksum(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    Ok(out)
}

pub(crate) fn decode<T: DeserializeOwned>(kind: Kind, bytes: &[u8]) -> Result<T, EnvelopeError> {
    if bytes.len() < HEADER_LEN || bytes[..2] != MAGIC {
        return Err(EnvelopeError::NotAnEnvelope);
    }
    if bytes[2] != ENVELOPE_VERSION {
        return Err(EnvelopeError::Version(bytes[2]));
    }
    if bytes[3] != kind as u8 {
        return Err(EnvelopeError::Kind { found: bytes[3], expected: kind as u8 });
    }
    let stored = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
    let payload = &bytes[HEADER_LEN..];
    if checksum(payload) != stored {
        return Err(EnvelopeError::Checksum);
    }
    let (value, used) = bincode::serde::decode_from_slice(payload, config()).map_err(|e| EnvelopeError::Decode(e.to_string()))?;
    if used != payload.len() {
        return Err(EnvelopeError::Decode(format!("{} trailing bytes", payload.len() - used)));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_damage() {
        let value = (String::from("hello"), 42u32, vec![1.5f32, -2.0]);
        let bytes = encode(Kind::Exact, &value).expect("encode");
        let back: (String, u32, Vec<f32>) = decode(Kind::Exact, &bytes).expect("decode");
        assert_eq!(back, value);

        assert!(matches!(decode::<(String, u32, Vec<f32>)>(Kind::Semantic, &bytes), Err(EnvelopeError::Kind { .. })));
        let mut old = bytes.clone();
        old[2] = 0;
        assert!(matches!(decode::<(String, u32, Vec<f32>)>(Kind::Exact, &old), Err(EnvelopeError::Version(0))));
        let mut flipped = bytes.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0xff;
        assert!(matches!(decode::<(String, u32, Vec<f32>)>(Kind::Exact, &flipped), Err(EnvelopeError::Checksum)));
        assert!(decode::<(String, u32, Vec<f32>)>(Kind::Exact, b"garbage!!").is_err());
        assert!(decode::<(String, u32, Vec<f32>)>(Kind::Exact, &bytes[..bytes.len() - 2]).is_err());
    }

    /// `tria_core::Answer` was `tria_cache::CachedAnswer` with the same fields in the same order;
    /// values stored before the move must still decode, so its encoding is its fields in order.
    #[test]
    fn an_answer_encodes_as_its_fields_in_order() {
        use tria_core::{Answer, IntentLabel, SourceRef};
        let source = SourceRef { id: "returns#1".into(), title: "Returns".into(), heading: "Returns › Refunds".into(), score: 0.8 };
        let mut answer =
            Answer::new("Within 30 days.", IntentLabel::PolicyQuestion, 0.9).with_sources(vec![source.clone()]).with_tokens(42);
        answer.model = Some("gpt-4o-mini".into());
        answer.cost_micro_usd = 750;
        let fields = (
            String::from("Within 30 days."),
            IntentLabel::PolicyQuestion,
            0.9f32,
            vec![source],
            42u32,
            Some(String::from("gpt-4o-mini")),
            750u64,
        );
        assert_eq!(encode(Kind::Exact, &answer).expect("encode"), encode(Kind::Exact, &fields).expect("encode"));
        let back: Answer = decode(Kind::Exact, &encode(Kind::Exact, &fields).expect("encode")).expect("decode");
        assert_eq!(back, answer);
    }
}
