//! The store's shared tier: blobs under `wasimoff:blob:{digest}`, aliases in the hash
//! `wasimoff:aliases`. The local store calls it; see the module documentation of `backend`.

use super::{PREFIX, unavailable};
use crate::digest::Digest;
use crate::store::StoreError;
use bytes::Bytes;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;

/// The files every replica shares.
#[derive(Clone)]
pub(crate) struct SharedFiles {
    connection: ConnectionManager,
}

impl std::fmt::Debug for SharedFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedFiles(redis)")
    }
}

fn blob_key(digest: &Digest) -> String {
    format!("{PREFIX}:blob:{digest}")
}

fn aliases_key() -> String {
    format!("{PREFIX}:aliases")
}

fn store_error(error: redis::RedisError) -> StoreError {
    StoreError::Unavailable(unavailable(&error))
}

/// A digest Redis holds; one that does not parse counts as missing.
fn parse_digest(text: Option<String>) -> Option<Digest> {
    text.and_then(|text| text.parse().ok())
}

impl SharedFiles {
    /// The tier reached through `connection`.
    pub(crate) fn new(connection: ConnectionManager) -> SharedFiles {
        SharedFiles { connection }
    }

    /// Stores `bytes` (unless Redis has them) and points `aliases` at them; answers whether
    /// the content was new to Redis, and the aliases that pointed at other content before,
    /// with their old digests.
    pub(crate) async fn put(
        &self,
        digest: &Digest,
        bytes: &Bytes,
        aliases: &[String],
    ) -> Result<(bool, Vec<(String, Digest)>), StoreError> {
        let mut connection = self.connection.clone();
        let mut pipe = redis::pipe();
        pipe.atomic().cmd("SET").arg(blob_key(digest)).arg(bytes.as_ref()).arg("NX");
        for alias in aliases {
            pipe.hget(aliases_key(), alias).hset(aliases_key(), alias, digest.to_string()).ignore();
        }
        let answers: Vec<Option<String>> = pipe.query_async(&mut connection).await.map_err(store_error)?;
        let mut answers = answers.into_iter();
        let created = answers.next().flatten().is_some();
        let replaced = aliases
            .iter()
            .zip(answers)
            .filter_map(|(alias, previous)| parse_digest(previous).filter(|old| old != digest).map(|old| (alias.clone(), old)))
            .collect();
        Ok((created, replaced))
    }

    /// The digest `name` points at.
    pub(crate) async fn alias(&self, name: &str) -> Result<Option<Digest>, StoreError> {
        let previous: Option<String> = self.connection.clone().hget(aliases_key(), name).await.map_err(store_error)?;
        Ok(parse_digest(previous))
    }

    /// The content of `digest`, if Redis holds it.
    pub(crate) async fn blob(&self, digest: &Digest) -> Result<Option<Bytes>, StoreError> {
        let bytes: Option<Vec<u8>> = self.connection.clone().get(blob_key(digest)).await.map_err(store_error)?;
        Ok(bytes.map(Bytes::from))
    }

    /// Deletes alias `name`; answers the digest it pointed at.
    pub(crate) async fn delete_alias(&self, name: &str) -> Result<Option<Digest>, StoreError> {
        let mut connection = self.connection.clone();
        let (previous,): (Option<String>,) = redis::pipe()
            .atomic()
            .hget(aliases_key(), name)
            .hdel(aliases_key(), name)
            .ignore()
            .query_async(&mut connection)
            .await
            .map_err(store_error)?;
        Ok(parse_digest(previous))
    }

    /// Every alias and the digest it points at, sorted by name.
    pub(crate) async fn aliases(&self) -> Result<Vec<(String, Digest)>, StoreError> {
        let all: Vec<(String, String)> = self.connection.clone().hgetall(aliases_key()).await.map_err(store_error)?;
        let mut aliases: Vec<_> = all.into_iter().filter_map(|(name, digest)| Some((name, digest.parse().ok()?))).collect();
        aliases.sort();
        Ok(aliases)
    }
}
