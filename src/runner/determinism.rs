//! Deterministic execution (a task's `"deterministic": true`): what the guest can observe of
//! randomness and time is a function of the task's seed, the same on every runner (the browser's
//! WASI layer in provider-js/js/wasi/clock.js, random.js and poll.js does the same).
//!
//! - `random_get` takes, for each byte it returns, the low byte of the next 32-bit word of the
//!   ChaCha20 keystream (RFC 8439 block function, 64-bit block counter from 0, nonce 0) keyed
//!   with the seed in little-endian order followed by 24 zero bytes. That is `chacha20`'s
//!   `ChaCha20Rng` as wasmtime-wasi draws bytes from it (`next_u32() as u8` per byte).
//! - One virtual clock of nanoseconds starts at 0; every `clock_time_get` returns it (realtime as
//!   [`REALTIME_START_NS`] plus it) and then advances it by [`CLOCK_STEP_NS`]. `poll_oneoff` with
//!   clock subscriptions only moves it forward to the first deadline instead of sleeping.
//! - File times the host took from its own clock (creation, writes, reads, "now") read as
//!   [`REALTIME_START_NS`]; times the task set explicitly read back as set.
//!
//! The wasmtime side needs three WASI functions shadowed (on a linker of its own, so that other
//! tasks run exactly the functions they always did): `poll_oneoff`, and `fd_filestat_get` and
//! `path_filestat_get`, which call wasmtime-wasi's own function and rewrite the times.

use super::execute::TaskState;
use chacha20::ChaCha20Rng;
use chacha20::rand_core::SeedableRng;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};
use wasmtime::{AsContextMut, Caller, Extern, Linker};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::clocks::{HostMonotonicClock, HostWallClock};
use wasmtime_wasi::p1::wasi_snapshot_preview1::{self as p1, WasiSnapshotPreview1};

/// The virtual realtime clock's start: 2000-01-01T00:00:00Z, in nanoseconds since the epoch.
pub(crate) const REALTIME_START_NS: u64 = 946_684_800_000_000_000;

/// How far the virtual clock moves on every read.
pub(crate) const CLOCK_STEP_NS: u64 = 1_000;

/// The generator behind `random_get` for `seed`.
pub(crate) fn generator(seed: u64) -> ChaCha20Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    ChaCha20Rng::from_seed(key)
}

/// One task's virtual time in nanoseconds, shared by its clocks and its `poll_oneoff`.
#[derive(Clone, Default)]
struct VirtualTime(Arc<AtomicU64>);

impl VirtualTime {
    /// The time now, then one step later.
    fn read(&self) -> u64 {
        self.0.fetch_add(CLOCK_STEP_NS, Ordering::Relaxed)
    }

    fn now(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    fn advance_to(&self, at: u64) {
        self.0.fetch_max(at, Ordering::Relaxed);
    }
}

struct VirtualWallClock(VirtualTime);

impl HostWallClock for VirtualWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_nanos(1)
    }

    fn now(&self) -> Duration {
        Duration::from_nanos(REALTIME_START_NS.saturating_add(self.0.read()))
    }
}

struct VirtualMonotonicClock(VirtualTime);

impl HostMonotonicClock for VirtualMonotonicClock {
    fn resolution(&self) -> u64 {
        1
    }

    fn now(&self) -> u64 {
        self.0.read()
    }
}

/// A deterministic task's state next to its WASI context.
pub(crate) struct Determinism {
    time: VirtualTime,
    /// File times from this host time on (up to the host's "now") came from the host's clock.
    host_clock_since: SystemTime,
}

impl Determinism {
    /// Gives `wasi` the seeded generators and the virtual clocks. `host_clock_since` is a host
    /// time before the task's directory and every file in it were made.
    pub(crate) fn configure(wasi: &mut WasiCtxBuilder, seed: u64, host_clock_since: SystemTime) -> Determinism {
        let time = VirtualTime::default();
        wasi.secure_random(generator(seed))
            .insecure_random(generator(seed.rotate_left(32)))
            .insecure_random_seed(u128::from(seed))
            .wall_clock(VirtualWallClock(time.clone()))
            .monotonic_clock(VirtualMonotonicClock(time.clone()));
        Determinism { time, host_clock_since }
    }

    /// A file time as the task sees it.
    fn file_time(&self, ns: u64) -> u64 {
        let since = self.host_clock_since.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_nanos();
        let until = (SystemTime::now() + Duration::from_secs(1)).duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_nanos();
        if (since..=until).contains(&u128::from(ns)) { REALTIME_START_NS } else { ns }
    }
}

/// Adds the deterministic versions of `poll_oneoff`, `fd_filestat_get` and `path_filestat_get`
/// to `linker` (which must allow shadowing), over the ones of wasmtime-wasi.
pub(crate) fn shadow(linker: &mut Linker<TaskState>) -> wasmtime::Result<()> {
    const MODULE: &str = "wasi_snapshot_preview1";
    linker.func_wrap_async(MODULE, "fd_filestat_get", |mut caller: Caller<'_, TaskState>, (fd, out): (i32, i32)| {
        Box::new(async move {
            let errno = call_wasi(&mut caller, async |wasi, memory| p1::fd_filestat_get(wasi, memory, fd, out).await).await?;
            rewrite_file_times(&mut caller, errno, out)
        })
    })?;
    linker.func_wrap_async(
        MODULE,
        "path_filestat_get",
        |mut caller: Caller<'_, TaskState>, (fd, flags, path, len, out): (i32, i32, i32, i32, i32)| {
            Box::new(async move {
                let errno =
                    call_wasi(&mut caller, async |wasi, memory| p1::path_filestat_get(wasi, memory, fd, flags, path, len, out).await)
                        .await?;
                rewrite_file_times(&mut caller, errno, out)
            })
        },
    )?;
    linker.func_wrap_async(
        MODULE,
        "poll_oneoff",
        |mut caller: Caller<'_, TaskState>, (subs, events, count, used): (i32, i32, i32, i32)| {
            Box::new(async move {
                if let Some(answered) = poll_virtual(&mut caller, subs, events, count, used) {
                    return Ok(answered);
                }
                call_wasi(&mut caller, async |wasi, memory| p1::poll_oneoff(wasi, memory, subs, events, count, used).await).await
            })
        },
    )?;
    Ok(())
}

/// Calls a function of wasmtime-wasi's preview 1 as its own linker does.
async fn call_wasi(
    caller: &mut Caller<'_, TaskState>,
    call: impl AsyncFnOnce(&mut wasmtime_wasi::p1::WasiP1Ctx, &mut wiggle::GuestMemory<'_>) -> wasmtime::Result<i32>,
) -> wasmtime::Result<i32> {
    let fuel = caller.as_context_mut().hostcall_fuel();
    let Some(Extern::Memory(memory)) = caller.get_export("memory") else { wasmtime::bail!("missing required memory export") };
    let (bytes, state) = memory.data_and_store_mut(caller);
    let wasi = state.wasi();
    wasi.set_hostcall_fuel(fuel);
    call(wasi, &mut wiggle::GuestMemory::Unshared(bytes)).await
}

/// The guest's memory and the task's determinism, if it has both.
fn memory_and_determinism<'a>(caller: &'a mut Caller<'_, TaskState>) -> Option<(&'a mut [u8], &'a Determinism)> {
    let Some(Extern::Memory(memory)) = caller.get_export("memory") else { return None };
    let (bytes, state) = memory.data_and_store_mut(caller);
    Some((bytes, state.determinism()?))
}

const FILESTAT_TIMES: [usize; 3] = [40, 48, 56];

/// Rewrites atim, mtim and ctim of the filestat a successful call wrote at `out`.
fn rewrite_file_times(caller: &mut Caller<'_, TaskState>, errno: i32, out: i32) -> wasmtime::Result<i32> {
    if errno != 0 {
        return Ok(errno);
    }
    if let Some((bytes, determinism)) = memory_and_determinism(caller) {
        for offset in FILESTAT_TIMES {
            let at = out as u32 as usize + offset;
            if let Some(field) = bytes.get_mut(at..at + 8) {
                let time = determinism.file_time(u64::from_le_bytes(field.try_into()?));
                field.copy_from_slice(&time.to_le_bytes());
            }
        }
    }
    Ok(errno)
}

const SUBSCRIPTION_BYTES: usize = 48;
const EVENT_BYTES: usize = 32;
const EVENTTYPE_CLOCK: u8 = 0;
const CLOCK_REALTIME: u32 = 0;
const CLOCK_MONOTONIC: u32 = 1;
const SUBSCRIPTION_CLOCK_ABSTIME: u16 = 1;

/// A clock subscription: its userdata and its deadline on the virtual monotonic clock.
struct ClockSubscription {
    userdata: u64,
    deadline: u64,
    relative: bool,
}

fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

/// Answers a `poll_oneoff` whose subscriptions are all valid realtime or monotonic clocks in
/// virtual time: no sleep, the clock moves to the earliest deadline and every clock due then
/// fires (a lone relative clock with `nbytes` 1, as wasmtime's own sleep does). Anything else
/// (descriptors, invalid values, memory out of bounds) is left to wasmtime-wasi: `None`.
fn poll_virtual(caller: &mut Caller<'_, TaskState>, subs: i32, events: i32, count: i32, used: i32) -> Option<i32> {
    let (bytes, determinism) = memory_and_determinism(caller)?;
    let (subs, events, count, used) = (subs as u32 as usize, events as u32 as usize, count as u32 as usize, used as u32 as usize);
    if count == 0 || events.checked_add(count.checked_mul(EVENT_BYTES)?)? > bytes.len() || used + 4 > bytes.len() {
        return None;
    }
    let time = &determinism.time;
    let mut clocks = Vec::with_capacity(count);
    for i in 0..count {
        let at = subs.checked_add(i.checked_mul(SUBSCRIPTION_BYTES)?)?;
        let sub = bytes.get(at..at.checked_add(SUBSCRIPTION_BYTES)?)?;
        let id = u32::from_le_bytes(sub[16..20].try_into().ok()?);
        let flags = u16::from_le_bytes(sub[40..42].try_into().ok()?);
        if sub[8] != EVENTTYPE_CLOCK || flags & !SUBSCRIPTION_CLOCK_ABSTIME != 0 || !matches!(id, CLOCK_REALTIME | CLOCK_MONOTONIC) {
            return None;
        }
        let timeout = u64_at(sub, 24)?;
        let relative = flags & SUBSCRIPTION_CLOCK_ABSTIME == 0;
        let deadline = match (relative, id) {
            (true, _) => time.now().saturating_add(timeout),
            (false, CLOCK_MONOTONIC) => timeout,
            (false, _) => timeout.saturating_sub(REALTIME_START_NS),
        };
        clocks.push(ClockSubscription { userdata: u64_at(sub, 0)?, deadline, relative });
    }
    let lone_sleep = count == 1 && clocks[0].relative;
    time.advance_to(clocks.iter().map(|clock| clock.deadline).min()?);
    let now = time.now();
    let mut written = 0;
    for clock in clocks.iter().filter(|clock| clock.deadline <= now) {
        let event = &mut bytes[events + written * EVENT_BYTES..][..EVENT_BYTES];
        event[0..8].copy_from_slice(&clock.userdata.to_le_bytes());
        event[8..10].fill(0);
        event[10] = EVENTTYPE_CLOCK;
        event[16..24].copy_from_slice(&u64::from(lone_sleep).to_le_bytes());
        event[24..26].fill(0);
        written += 1;
    }
    bytes[used..used + 4].copy_from_slice(&(written as u32).to_le_bytes());
    Some(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chacha20::rand_core::Rng;

    /// RFC 8439 appendix A.1, test vector 1: the keystream of the all-zero key and nonce.
    const RFC8439_ZERO_KEY_BLOCK0: &str =
        "76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586";

    /// RFC 8439 appendix A.1, test vector 2: the same key's block 1.
    const RFC8439_ZERO_KEY_BLOCK1: &str =
        "9f07e7be5551387a98ba977c732d080dcb0f29a048e3656912c6533e32ee7aed29b721769ce64e43d57133b074d839d531ed1f28510afb45ace10a1f4b794d6f";

    #[test]
    fn the_generator_is_the_chacha20_keystream_keyed_with_the_seed() {
        let mut keystream = [0u8; 128];
        generator(0).fill_bytes(&mut keystream);
        assert_eq!(hex::encode(&keystream[..64]), RFC8439_ZERO_KEY_BLOCK0);
        assert_eq!(hex::encode(&keystream[64..]), RFC8439_ZERO_KEY_BLOCK1);
    }

    /// The vector provider-js/js/test/wasi.test.js checks too: random_get's bytes for a seed.
    #[test]
    fn random_get_takes_the_low_byte_of_each_word() {
        let mut rng = generator(0x0123_4567_89ab_cdef);
        let bytes: Vec<u8> = (0..16).map(|_| rng.next_u32() as u8).collect();
        assert_eq!(hex::encode(bytes), "810cfb77c76716afc0a8322ba5857d1c");
        let mut zero = generator(0);
        let low: Vec<u8> = (0..4).map(|_| zero.next_u32() as u8).collect();
        assert_eq!(low, [0x76, 0xa0, 0x40, 0x53]);
    }

    #[test]
    fn host_clock_file_times_read_as_the_start_and_others_as_set() {
        let determinism = Determinism { time: VirtualTime::default(), host_clock_since: SystemTime::now() - Duration::from_secs(5) };
        let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_nanos() as u64;
        assert_eq!(determinism.file_time(now), REALTIME_START_NS);
        assert_eq!(determinism.file_time(1_000_000_000), 1_000_000_000);
        assert_eq!(determinism.file_time(u64::MAX), u64::MAX);
    }

    #[test]
    fn the_virtual_clock_steps_on_every_read() {
        let time = VirtualTime::default();
        let wall = VirtualWallClock(time.clone());
        let monotonic = VirtualMonotonicClock(time.clone());
        assert_eq!(monotonic.now(), 0);
        assert_eq!(wall.now(), Duration::from_nanos(REALTIME_START_NS + CLOCK_STEP_NS));
        time.advance_to(1_000_000);
        assert_eq!(monotonic.now(), 1_000_000);
        time.advance_to(5);
        assert_eq!(time.now(), 1_000_000 + CLOCK_STEP_NS, "never back");
    }
}
