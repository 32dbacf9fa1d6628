//! The store's shared tier: blobs under `wasimoff:blob:{digest}`, aliases in the hash
//! `wasimoff:aliases`. The local store calls it; see the module documentation of `backend`.
//!
//! The blobs stay within [`Limits::store_bytes`](crate::Limits::store_bytes) of the uploading
//! replica, as the local store does (`store/quota.rs`), but accounted in Redis so that every
//! replica sees the same: each blob's size in the hash `wasimoff:blob_sizes`, their sum in
//! `wasimoff:blob_bytes`, and each blob's last use (upload or fetch, Redis's clock in
//! milliseconds) in the sorted set `wasimoff:blob_uses`. An upload of new content is one Lua
//! script: if it does not fit, it evicts the least recently used blobs that no alias names and
//! no pin holds (`pins.rs`: tasks queued or running anywhere), and if even evicting all of
//! those would not make room it stores nothing, evicts nothing and answers
//! [`StoreError::Full`].

use super::pins::pins_key;
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
    /// The most bytes the blobs may take, as this replica uploads them.
    limit: u64,
}

impl std::fmt::Debug for SharedFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedFiles(redis)")
    }
}

fn blob_key(digest: &Digest) -> String {
    format!("{PREFIX}:blob:{digest}")
}

/// The hash of every accounted blob's size.
fn sizes_key() -> String {
    format!("{PREFIX}:blob_sizes")
}

/// The sorted set of every accounted blob's last use.
fn uses_key() -> String {
    format!("{PREFIX}:blob_uses")
}

/// The bytes all accounted blobs take.
fn bytes_key() -> String {
    format!("{PREFIX}:blob_bytes")
}

/// Stores a blob unless Redis has it, evicting for it what it must (see the module
/// documentation), marks it used, and points aliases at it. KEYS: the blob, the sizes, the
/// uses, the bytes, the pins, the aliases. ARGV: the digest, the content, the limit, the blob
/// key prefix, the aliases. Answers whether it fit, whether it was new, the bytes available
/// (when it did not fit), and each alias's previous digest.
const PUT_SCRIPT: &str = r"
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local digest, size, limit = ARGV[1], string.len(ARGV[2]), tonumber(ARGV[3])
local created = 0
if redis.call('EXISTS', KEYS[1]) == 1 then
  local stored = redis.call('STRLEN', KEYS[1])
  if redis.call('HSETNX', KEYS[2], digest, stored) == 1 then redis.call('INCRBY', KEYS[4], stored) end
else
  local used = tonumber(redis.call('GET', KEYS[4]) or '0')
  if used + size > limit then
    redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now)
    local aliased = {}
    for _, named in ipairs(redis.call('HVALS', KEYS[6])) do aliased[named] = true end
    local victims, freed, start = {}, 0, 0
    while used - freed + size > limit do
      local page = redis.call('ZRANGE', KEYS[3], start, start + 99)
      if #page == 0 then break end
      for _, candidate in ipairs(page) do
        if not aliased[candidate] and not redis.call('ZSCORE', KEYS[5], candidate) then
          victims[#victims + 1] = candidate
          freed = freed + tonumber(redis.call('HGET', KEYS[2], candidate) or '0')
          if used - freed + size <= limit then break end
        end
      end
      start = start + 100
    end
    if used - freed + size > limit then return {0, 0, limit - used + freed, {}} end
    for _, victim in ipairs(victims) do
      redis.call('DEL', ARGV[4] .. victim)
      redis.call('HDEL', KEYS[2], victim)
      redis.call('ZREM', KEYS[3], victim)
    end
    if freed > 0 then redis.call('DECRBY', KEYS[4], freed) end
  end
  redis.call('SET', KEYS[1], ARGV[2])
  redis.call('HSET', KEYS[2], digest, size)
  redis.call('INCRBY', KEYS[4], size)
  created = 1
end
redis.call('ZADD', KEYS[3], now, digest)
local previous = {}
for i = 5, #ARGV do
  previous[#previous + 1] = redis.call('HGET', KEYS[6], ARGV[i])
  redis.call('HSET', KEYS[6], ARGV[i], digest)
end
return {1, created, 0, previous}
";

/// Reads a blob and marks it used. KEYS: the blob, the uses. ARGV: the digest.
const BLOB_SCRIPT: &str = r"
local bytes = redis.call('GET', KEYS[1])
if bytes then
  local time = redis.call('TIME')
  redis.call('ZADD', KEYS[2], 'XX', tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000), ARGV[1])
end
return bytes
";

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
    /// The tier reached through `connection`, whose blobs this replica keeps within `limit` bytes.
    pub(crate) fn new(connection: ConnectionManager, limit: u64) -> SharedFiles {
        SharedFiles { connection, limit }
    }

    /// Stores `bytes` (unless Redis has them; evicting for them, or refused with
    /// [`StoreError::Full`]) and points `aliases` at them; answers whether the content was new
    /// to Redis, and the aliases that pointed at other content before, with their old digests.
    pub(crate) async fn put(
        &self,
        digest: &Digest,
        bytes: &Bytes,
        aliases: &[String],
    ) -> Result<(bool, Vec<(String, Digest)>), StoreError> {
        let mut connection = self.connection.clone();
        let mut script = redis::cmd("EVAL");
        script.arg(PUT_SCRIPT).arg(6).arg(blob_key(digest)).arg(sizes_key()).arg(uses_key()).arg(bytes_key());
        script.arg(pins_key()).arg(aliases_key()).arg(digest.to_string()).arg(bytes.as_ref()).arg(self.limit);
        script.arg(format!("{PREFIX}:blob:")).arg(aliases);
        let (fits, created, available, previous): (bool, bool, i64, Vec<Option<String>>) =
            script.query_async(&mut connection).await.map_err(store_error)?;
        if !fits {
            let available = u64::try_from(available).unwrap_or_default();
            return Err(StoreError::Full { size: bytes.len() as u64, available, limit: self.limit });
        }
        let replaced = aliases
            .iter()
            .zip(previous)
            .filter_map(|(alias, previous)| parse_digest(previous).filter(|old| old != digest).map(|old| (alias.clone(), old)))
            .collect();
        Ok((created, replaced))
    }

    /// The digest `name` points at.
    pub(crate) async fn alias(&self, name: &str) -> Result<Option<Digest>, StoreError> {
        let previous: Option<String> = self.connection.clone().hget(aliases_key(), name).await.map_err(store_error)?;
        Ok(parse_digest(previous))
    }

    /// The content of `digest`, if Redis holds it; marks it used.
    pub(crate) async fn blob(&self, digest: &Digest) -> Result<Option<Bytes>, StoreError> {
        let mut script = redis::cmd("EVAL");
        script.arg(BLOB_SCRIPT).arg(2).arg(blob_key(digest)).arg(uses_key()).arg(digest.to_string());
        let bytes: Option<Vec<u8>> = script.query_async(&mut self.connection.clone()).await.map_err(store_error)?;
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
