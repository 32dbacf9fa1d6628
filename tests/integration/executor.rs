//! The tests' gated executor: an in-process provider that records the order in which the
//! broker gives it tasks and holds them while a test sets the scene.

use crate::support;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::{mpsc, watch};
use wasimoff::Wasimoff;
use wasimoff::protocol::ToProvider;

/// What the executor saw: each run's arguments after argv[0], and the tasks it was told to stop.
#[derive(Default)]
pub struct Seen {
    /// Each run's arguments after argv[0], in the order they were given.
    pub runs: Vec<String>,
    /// How many stop commands it got.
    pub cancelled: usize,
}

/// An in-process provider on `broker` with `workers` workers that holds every run while `open` is false
/// and answers each with its arguments (after argv[0]) joined by spaces on stdout.
pub fn executor(broker: &Wasimoff, workers: u32, open: watch::Receiver<bool>) -> Arc<Mutex<Seen>> {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut provider = broker.attach_provider("executor", workers).expect("attach");
    let record = seen.clone();
    let (held_sender, mut held) = mpsc::unbounded_channel::<(u64, String)>();
    tokio::spawn(async move {
        let mut open = open;
        loop {
            tokio::select! {
                message = provider.next() => match message {
                    Some(ToProvider::Run { id, task }) => {
                        let words = task.args[1..].join(" ");
                        record.lock().unwrap_or_else(PoisonError::into_inner).runs.push(words.clone());
                        let _ = held_sender.send((id, words));
                    }
                    Some(ToProvider::Cancel { .. }) => record.lock().unwrap_or_else(PoisonError::into_inner).cancelled += 1,
                    Some(_) => {}
                    None => return,
                },
                Ok(()) = open.changed(), if !*open.borrow() => {}
            }
            while *open.borrow()
                && let Ok((id, words)) = held.try_recv()
            {
                provider.answer(id, support::exited(&words));
            }
        }
    });
    seen
}

/// The runs so far.
pub fn runs(seen: &Mutex<Seen>) -> Vec<String> {
    seen.lock().unwrap_or_else(PoisonError::into_inner).runs.clone()
}
