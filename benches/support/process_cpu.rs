//! CPU time per thread of this process and of every process it started (a Chromium and its
//! renderer, GPU, network and other child processes), read from `/proc`, so that a run can be
//! split by where the CPU went: far less distorted by other load on the machine than wall-clock
//! rates. Threads are grouped by the top-level child process they descend from (one Chromium),
//! the kind of their process (Chromium's `--type=`, with a utility's sub-type) and their name
//! (`comm`, truncated by Linux to 15 bytes: `DedicatedWorker` for `DedicatedWorker thread`).
//! Times come from `schedstat` (nanoseconds of run time); threads that ended between two
//! snapshots are not counted.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

/// Where a thread runs: `root` is the pid of the top-level child process it descends from
/// (`None`: this process itself), `process` the kind of its process, `thread` its name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Place {
    pub root: Option<u32>,
    pub process: String,
    pub thread: String,
}

/// Run time per thread (keyed by pid and tid) at one moment.
#[derive(Default)]
pub struct Snapshot {
    threads: HashMap<(u32, u32), (Place, Duration)>,
}

/// CPU time summed by [`Place`] over one or more intervals.
#[derive(Default, Clone)]
pub struct Split {
    pub spent: BTreeMap<Place, Duration>,
}

/// The direct child processes of this process.
pub fn children() -> HashSet<u32> {
    let me = std::process::id();
    parents().into_iter().filter(|(_, parent)| *parent == me).map(|(pid, _)| pid).collect()
}

/// Every process's parent.
fn parents() -> HashMap<u32, u32> {
    let mut parents = HashMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else { return parents };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|name| name.parse::<u32>().ok()) else { continue };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // The name (field 2) may hold spaces and parentheses: fields resume after the last ')'.
        let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        if let Some(parent) = rest.split_whitespace().nth(1).and_then(|p| p.parse().ok()) {
            parents.insert(pid, parent);
        }
    }
    parents
}

/// The kind of process `pid`: this one, `browser` (no `--type=`), or its `--type=`, with the
/// first part of a utility's sub-type (`utility:network` for `network.mojom.NetworkService`).
fn process_kind(pid: u32) -> String {
    if pid == std::process::id() {
        return "bench (broker)".into();
    }
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    // Chromium rewrites its process title: the arguments may be one string separated by spaces.
    let cmdline = String::from_utf8_lossy(&cmdline);
    let args: Vec<&str> = cmdline.split(|c: char| c == '\0' || c.is_whitespace()).collect();
    let flag = |name: &str| args.iter().find_map(|arg| arg.strip_prefix(name));
    match (flag("--type="), flag("--utility-sub-type=")) {
        (None, _) => "browser".into(),
        (Some(kind), Some(sub)) => format!("{kind}:{}", sub.split('.').next().unwrap_or_default()),
        (Some(kind), None) => kind.to_string(),
    }
}

impl Snapshot {
    /// Every thread of this process and of its descendants now.
    pub fn take() -> Snapshot {
        let me = std::process::id();
        let parents = parents();
        let root_of = |mut pid: u32| -> Option<Option<u32>> {
            if pid == me {
                return Some(None);
            }
            loop {
                let parent = *parents.get(&pid)?;
                if parent == me {
                    return Some(Some(pid));
                }
                if parent <= 1 {
                    return None;
                }
                pid = parent;
            }
        };
        let mut threads = HashMap::new();
        for &pid in parents.keys().chain([&me]) {
            let Some(root) = root_of(pid) else { continue };
            let process = process_kind(pid);
            let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { continue };
            for task in tasks.flatten() {
                let Some(tid) = task.file_name().to_str().and_then(|name| name.parse::<u32>().ok()) else { continue };
                let path = task.path();
                let thread = std::fs::read_to_string(path.join("comm")).unwrap_or_default().trim().to_string();
                let schedstat = std::fs::read_to_string(path.join("schedstat")).unwrap_or_default();
                let nanos: u64 = schedstat.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(0);
                let place = Place { root, process: process.clone(), thread };
                threads.insert((pid, tid), (place, Duration::from_nanos(nanos)));
            }
        }
        Snapshot { threads }
    }
}

impl Split {
    /// Adds what every thread alive at both snapshots ran between them.
    pub fn add(&mut self, before: &Snapshot, after: &Snapshot) {
        for (key, (place, total)) in &after.threads {
            let earlier = before.threads.get(key).map_or(Duration::ZERO, |(_, t)| *t);
            *self.spent.entry(place.clone()).or_default() += total.saturating_sub(earlier);
        }
    }

    /// The CPU time of threads under `root` (`None`: this process).
    pub fn total(&self, root: Option<u32>) -> Duration {
        self.spent.iter().filter(|(place, _)| place.root == root).map(|(_, t)| *t).sum()
    }

    /// Time of the threads under `root`, summed by (process kind, thread name), largest first.
    pub fn rows(&self, root: Option<u32>) -> Vec<(String, String, Duration)> {
        let mut rows: Vec<_> =
            self.spent.iter().filter(|(place, _)| place.root == root).map(|(p, t)| (p.process.clone(), p.thread.clone(), *t)).collect();
        rows.sort_by_key(|row| std::cmp::Reverse(row.2));
        rows
    }

    /// The time of every thread not under this process or one of `roots`.
    pub fn others(&self, roots: &[u32]) -> Duration {
        self.spent.iter().filter(|(place, _)| place.root.is_some_and(|r| !roots.contains(&r))).map(|(_, t)| *t).sum()
    }
}
