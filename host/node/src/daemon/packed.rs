//! Large command payloads in Raft entries: a transition of thousands of steps or a
//! configuration of thousands of resources, carried as one compressed string.
//!
//! Such a payload as plain JSON is megabytes (4.2 MB for 32 nodes x 465 resources of probes),
//! and every follower's copy is encoded, encrypted, sent, decoded and written within one
//! AppendEntries call, which openraft gives up on after a heartbeat interval and sends again:
//! under load the entry never arrived and the followers, hearing nothing else, kept electing.
//! Packed, it is JSON compressed with zstd in base64, a few percent of the size and one string
//! to copy on the way; it is unpacked once per node, when the entry is applied.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::marker::PhantomData;
use std::sync::Arc;

/// Fast compression: the payloads are repetitive JSON, and packing is on the DC's path.
const ZSTD_LEVEL: i32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error("packed payload is not base64: {0}")]
    Base64(#[from] base64::DecodeError),
    #[error("packed payload does not decompress: {0}")]
    Zstd(#[source] std::io::Error),
    #[error("packed payload is not the expected JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// A `T` as compressed JSON in base64. Cloning shares the text.
pub struct Packed<T> {
    text: Arc<str>,
    value: PhantomData<fn() -> T>,
}

impl<T: Serialize + DeserializeOwned> Packed<T> {
    pub fn pack(value: &T) -> Packed<T> {
        let json = serde_json::to_vec(value).expect("commands serialise to JSON");
        let compressed = zstd::bulk::compress(&json, ZSTD_LEVEL).expect("compressing into memory cannot fail");
        Packed { text: BASE64.encode(compressed).into(), value: PhantomData }
    }

    pub fn unpack(&self) -> Result<T, PackError> {
        let compressed = BASE64.decode(self.text.as_bytes())?;
        let json = zstd::stream::decode_all(compressed.as_slice()).map_err(PackError::Zstd)?;
        Ok(serde_json::from_slice(&json)?)
    }

    /// Size of the packed text, bytes.
    pub fn len(&self) -> usize {
        self.text.len()
    }
}

impl<T> Clone for Packed<T> {
    fn clone(&self) -> Self {
        Packed { text: Arc::clone(&self.text), value: PhantomData }
    }
}

impl<T> std::fmt::Debug for Packed<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Packed({} bytes)", self.text.len())
    }
}

impl<T> Serialize for Packed<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

/// Only the text is read here; whether it unpacks is found when the entry is applied, where a
/// bad payload is refused like any other invalid command.
impl<'de, T> Deserialize<'de> for Packed<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(Packed { text: text.into(), value: PhantomData })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn a_packed_value_round_trips_through_json_and_is_smaller() {
        let value: BTreeMap<String, String> = (0..2000).map(|i| (format!("r{i}"), "wasm:atrium:dummy monitor 60000".to_string())).collect();
        let packed = Packed::pack(&value);
        let plain = serde_json::to_string(&value).unwrap();
        assert!(packed.len() * 5 < plain.len(), "{} packed vs {} plain", packed.len(), plain.len());
        let wire = serde_json::to_string(&packed).unwrap();
        let back: Packed<BTreeMap<String, String>> = serde_json::from_str(&wire).unwrap();
        assert_eq!(back.unpack().unwrap(), value);
    }

    #[test]
    fn a_damaged_payload_is_an_error_naming_the_layer() {
        let bad: Packed<Vec<u32>> = serde_json::from_str("\"not base64!\"").unwrap();
        assert!(matches!(bad.unpack(), Err(PackError::Base64(_))));
        let bad: Packed<Vec<u32>> = serde_json::from_str(&format!("\"{}\"", BASE64.encode(b"plain bytes"))).unwrap();
        assert!(matches!(bad.unpack(), Err(PackError::Zstd(_))));
        let not_a_list = Packed::pack(&"text".to_string());
        let bad: Packed<Vec<u32>> = serde_json::from_str(&serde_json::to_string(&not_a_list).unwrap()).unwrap();
        assert!(matches!(bad.unpack(), Err(PackError::Json(_))));
    }
}
