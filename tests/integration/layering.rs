//! The crate's module layering, read from the sources: which top-level module of `src/` refers
//! to which (`crate::…` paths). Prints the graph and checks the rules of docs/ARCHITECTURE.md:
//! the scheduler is pure state (no runner, providers, HTTP or wasmtime), the runner knows no
//! scheduler, and the core modules have no import cycle.
//!
//! `cargo nextest run --release -E 'test(module_layering)' --no-capture` shows the graph.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeSet<String>>;

fn rust_files(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// The top-level module a file belongs to: `src/scheduler/state.rs` → `scheduler`.
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).expect("below src");
    let first = relative.components().next().expect("a component").as_os_str().to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

/// Top-level modules named after `crate::` in `text`, also inside `use crate::{a, b::c}`.
fn referenced(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (start, _) in text.match_indices("crate::") {
        let rest = &text[start + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let inner = &group[..group.find('}').unwrap_or(group.len())];
            for item in inner.split(',') {
                let name: String = item.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                found.insert(name);
            }
        } else {
            found.insert(rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect());
        }
    }
    found.retain(|name| name.chars().next().is_some_and(|c| c.is_ascii_lowercase()));
    found
}

fn graph() -> Graph {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|file| module_of(&src, file)).collect();
    let mut graph = Graph::new();
    for file in &files {
        let from = module_of(&src, file);
        let text = std::fs::read_to_string(file).expect("read");
        let edges = graph.entry(from.clone()).or_default();
        for to in referenced(&text) {
            if to != from && modules.contains(&to) {
                edges.insert(to);
            }
        }
    }
    graph
}

/// Whether `to` is reachable from `from` using only modules in `within`.
fn reaches(graph: &Graph, from: &str, to: &str, within: &BTreeSet<&str>) -> bool {
    let mut seen = BTreeSet::new();
    let mut stack = vec![from.to_string()];
    while let Some(module) = stack.pop() {
        for next in graph.get(&module).into_iter().flatten() {
            if next == to {
                return true;
            }
            if within.contains(next.as_str()) && seen.insert(next.clone()) {
                stack.push(next.clone());
            }
        }
    }
    false
}

#[test]
fn module_layering() {
    let graph = graph();
    for (module, edges) in &graph {
        println!("{module} -> {}", edges.iter().cloned().collect::<Vec<_>>().join(", "));
    }
    let uses = |from: &str, to: &str| graph.get(from).is_some_and(|edges| edges.contains(to));
    for forbidden in ["runner", "providers", "api", "layers", "handle", "native", "store"] {
        assert!(!uses("scheduler", forbidden), "the scheduler is pure state, but it refers to crate::{forbidden}");
    }
    for forbidden in ["scheduler", "providers", "api", "layers", "handle"] {
        assert!(!uses("runner", forbidden), "the runner is one executor, but it refers to crate::{forbidden}");
    }
    let scheduler = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/scheduler");
    let mut files = Vec::new();
    rust_files(&scheduler, &mut files);
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read");
        assert!(!text.contains("wasmtime"), "{} mentions wasmtime: the scheduler must not know any executor", file.display());
    }
    let core: BTreeSet<&str> = ["scheduler", "runner", "store", "prepare", "task", "limits", "digest", "cluster", "wire"].into();
    for module in &core {
        assert!(!reaches(&graph, module, module, &core), "crate::{module} is part of an import cycle among {core:?}");
    }
}
