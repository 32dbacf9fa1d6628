//! Serde for `Bytes` fields as byte strings (MessagePack `bin`) through `serde_bytes`, for
//! records that may leave the process, such as a queued task.

use bytes::Bytes;
use serde::{Deserialize, Deserializer, Serializer};
use serde_bytes::ByteBuf;

pub(crate) fn serialize<S: Serializer>(bytes: &Bytes, serializer: S) -> Result<S::Ok, S::Error> {
    serde_bytes::serialize(bytes.as_ref(), serializer)
}

pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Bytes, D::Error> {
    ByteBuf::deserialize(deserializer).map(|buf| Bytes::from(buf.into_vec()))
}

/// An optional `Bytes` field.
pub(crate) mod option {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(bytes: &Option<Bytes>, serializer: S) -> Result<S::Ok, S::Error> {
        serde_bytes::serialize(&bytes.as_deref(), serializer)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Bytes>, D::Error> {
        Option::<ByteBuf>::deserialize(deserializer).map(|buf| buf.map(|buf| Bytes::from(buf.into_vec())))
    }
}

/// A list of `(path, bytes)` pairs.
pub(crate) mod named {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(files: &[(String, Bytes)], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(files.iter().map(|(path, bytes)| (path, serde_bytes::Bytes::new(bytes))))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<(String, Bytes)>, D::Error> {
        let files = Vec::<(String, ByteBuf)>::deserialize(deserializer)?;
        Ok(files.into_iter().map(|(path, buf)| (path, Bytes::from(buf.into_vec()))).collect())
    }
}
