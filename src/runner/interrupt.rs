//! The host side of the runner's interruption checks (`wasimoff_provider_core::interrupt`):
//! the shared memory of flags, one byte per running task; a thread that raises a task's flag
//! at its deadline; and [`Stop`], with which whoever waits for a task raises its flag when it
//! stops waiting. A guest whose flag is raised traps at its next loop header or call-making
//! function entry, so a task stops within microseconds of either, without ever yielding.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use wasimoff_provider_core::interrupt::{FLAGS_IMPORT, IMPORT_MODULE};
use wasmtime::{Engine, Linker, MemoryType, SharedMemory, Store};

/// Flags in the one page of the flags memory. Slot 0 is never handed out: a module's start
/// function (never rewritten, but the default of the slot global) checks a flag nobody sets.
const SLOTS: u32 = 1 << 16;

struct State {
    /// Slots handed back, to be reused first.
    free: Vec<u32>,
    /// The lowest slot never handed out.
    unused: u32,
    /// Armed slots whose flag is not raised yet, with their deadlines.
    deadlines: Vec<(u32, Instant)>,
    /// When the thread wakes next, if it sleeps with a timeout.
    wake_at: Option<Instant>,
    stopped: bool,
}

struct Inner {
    flags: SharedMemory,
    state: Mutex<State>,
    wake: Condvar,
}

impl Inner {
    fn flag(&self, slot: u32) -> &AtomicU8 {
        let cell = &self.flags.data()[slot as usize];
        // SAFETY: the byte lies in the shared memory, which never moves and lives as long as
        // `self.flags`; guests and this module only access it atomically (a wasm load of a
        // shared memory is atomic at byte granularity), as `SharedMemory::data` requires.
        unsafe { AtomicU8::from_ptr(cell.get()) }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The flags memory and the deadline thread; stops the thread when dropped.
pub(crate) struct Interrupts {
    inner: Arc<Inner>,
}

enum StopState {
    Idle,
    Armed(u32),
    Stopped,
    Ended,
}

/// Stops a task from outside: raises its flag if it runs now, or keeps it from starting.
#[derive(Clone)]
pub(crate) struct Stop {
    inner: Arc<Inner>,
    state: Arc<Mutex<StopState>>,
}

/// A task's armed flag and deadline; disarmed when dropped.
pub(crate) struct Armed {
    stop: Stop,
    slot: u32,
}

impl Interrupts {
    /// Creates the flags memory for `engine` and starts the deadline thread.
    pub(crate) fn start(engine: &Engine) -> Result<Interrupts, String> {
        let flags = SharedMemory::new(engine, MemoryType::shared(1, 1)).map_err(|e| format!("cannot create the interrupt flags: {e}"))?;
        let state = State { free: Vec::new(), unused: 1, deadlines: Vec::new(), wake_at: None, stopped: false };
        let inner = Arc::new(Inner { flags, state: Mutex::new(state), wake: Condvar::new() });
        let thread = inner.clone();
        std::thread::Builder::new()
            .name("wasimoff-runner-deadlines".into())
            .spawn(move || raise_at_deadlines(&thread))
            .map_err(|e| format!("cannot start the deadline thread: {e}"))?;
        Ok(Interrupts { inner })
    }

    /// Defines the flags memory in `linker`; `store` is any store of the linker's engine.
    pub(crate) fn define<T: 'static>(&self, linker: &mut Linker<T>, store: &Store<T>) -> wasmtime::Result<()> {
        linker.define(store, IMPORT_MODULE, FLAGS_IMPORT, self.inner.flags.clone())?;
        Ok(())
    }

    /// A stop for one task, to be armed when it runs.
    pub(crate) fn stop(&self) -> Stop {
        Stop { inner: self.inner.clone(), state: Arc::new(Mutex::new(StopState::Idle)) }
    }
}

impl Drop for Interrupts {
    fn drop(&mut self) {
        self.inner.lock().stopped = true;
        self.inner.wake.notify_one();
    }
}

impl Stop {
    fn lock(&self) -> MutexGuard<'_, StopState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Claims a flag for the task and raises it after `timeout`. `None` when the task was
    /// stopped already, or when every flag is taken.
    pub(crate) fn arm(&self, timeout: Duration) -> Option<Armed> {
        let mut stop = self.lock();
        if let StopState::Stopped = *stop {
            return None;
        }
        let mut state = self.inner.lock();
        let slot = match state.free.pop() {
            Some(slot) => slot,
            None if state.unused < SLOTS => {
                state.unused += 1;
                state.unused - 1
            }
            None => return None,
        };
        if let Some(deadline) = Instant::now().checked_add(timeout) {
            state.deadlines.push((slot, deadline));
            if state.wake_at.is_none_or(|wake_at| deadline < wake_at) {
                self.inner.wake.notify_one();
            }
        }
        *stop = StopState::Armed(slot);
        Some(Armed { stop: self.clone(), slot })
    }

    /// Stops the task: raises its flag if it is armed, and keeps it from being armed later.
    pub(crate) fn stop(&self) {
        let mut stop = self.lock();
        match *stop {
            StopState::Armed(slot) => self.inner.flag(slot).store(1, Ordering::Relaxed),
            StopState::Ended => return,
            StopState::Idle | StopState::Stopped => {}
        }
        *stop = StopState::Stopped;
    }

    /// Marks the task ended, unless it was stopped first (then `false`: its result is unwanted).
    pub(crate) fn end(&self) -> bool {
        let mut stop = self.lock();
        if let StopState::Stopped = *stop {
            return false;
        }
        *stop = StopState::Ended;
        true
    }

    /// Whether the task was stopped.
    pub(crate) fn is_stopped(&self) -> bool {
        matches!(*self.lock(), StopState::Stopped)
    }

    /// Whether the task was stopped or ended.
    pub(crate) fn is_over(&self) -> bool {
        matches!(*self.lock(), StopState::Stopped | StopState::Ended)
    }
}

impl Armed {
    /// The value for the module's slot global.
    pub(crate) fn slot(&self) -> u32 {
        self.slot
    }

    /// Whether the flag was raised: the deadline passed or the task was stopped.
    pub(crate) fn raised(&self) -> bool {
        self.stop.inner.flag(self.slot).load(Ordering::Relaxed) != 0
    }
}

impl Drop for Armed {
    fn drop(&mut self) {
        let mut stop = self.stop.lock();
        if let StopState::Armed(_) = *stop {
            *stop = StopState::Idle;
        }
        let mut state = self.stop.inner.lock();
        if let Some(position) = state.deadlines.iter().position(|&(slot, _)| slot == self.slot) {
            state.deadlines.swap_remove(position);
        }
        self.stop.inner.flag(self.slot).store(0, Ordering::Relaxed);
        state.free.push(self.slot);
    }
}

/// The deadline thread: raises the flags whose deadline passed, then sleeps until the next.
fn raise_at_deadlines(inner: &Inner) {
    let mut state = inner.lock();
    while !state.stopped {
        let now = Instant::now();
        state.deadlines.retain(|&(slot, deadline)| {
            let passed = deadline <= now;
            if passed {
                inner.flag(slot).store(1, Ordering::Relaxed);
            }
            !passed
        });
        // With no deadline left, keep sleeping until the last planned wake-up if it is still
        // ahead: tasks armed meanwhile with a later deadline then need no wake-up call (back to
        // back tasks would otherwise wake this thread once each).
        let next = state.deadlines.iter().map(|&(_, deadline)| deadline).min();
        state.wake_at = next.or(state.wake_at.filter(|&wake_at| wake_at > now));
        state = match state.wake_at {
            Some(wake_at) => inner.wake.wait_timeout(state, wake_at - now).unwrap_or_else(PoisonError::into_inner).0,
            None => inner.wake.wait(state).unwrap_or_else(PoisonError::into_inner),
        };
    }
}
