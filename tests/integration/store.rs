//! The content-addressed store: digests, aliases, validation, limits, directory persistence.

use crate::support::{self, RawEntry, fixture, task};
use bytes::Bytes;
use wasimoff::{Digest, FileKind, FileSource, Limits, Storage, Store, StoreError, Task, TaskErrorKind, Upload, Wasimoff};

fn memory_store() -> Store {
    Store::open(&Storage::Memory, &Limits::default()).unwrap()
}

#[tokio::test]
async fn upload_returns_the_sha256_digest_and_kind() {
    let store = memory_store();
    let wasm = fixture("echo");
    let stored = store.put(wasm.clone(), Upload::new()).await.unwrap();
    assert_eq!(stored.file.digest, Digest::of(&wasm));
    assert_eq!(stored.file.kind, FileKind::Wasm);
    assert_eq!(stored.file.size, wasm.len() as u64);
    assert!(stored.replaced.is_empty());
    assert_eq!(store.resolve(&stored.file.digest.to_string()).unwrap(), stored.file);
    assert_eq!(store.get(&stored.file.digest).await.unwrap(), wasm);

    let data = store.put(Bytes::from_static(b"1,2,A\n"), Upload::new().alias("cities.csv")).await.unwrap();
    assert_eq!(data.file.kind, FileKind::Data);
    assert_eq!(store.resolve("cities.csv").unwrap().digest, data.file.digest);
}

#[tokio::test]
async fn invalid_wasm_is_refused_with_the_reason() {
    let store = memory_store();
    let error = store.put(Bytes::from_static(b"\0asm\x01\0\0\0\x01\x04"), Upload::new()).await.unwrap_err();
    assert!(matches!(error, StoreError::Invalid(_)), "{error:?}");
    assert!(error.to_string().starts_with("invalid WebAssembly module: "), "{error}");

    let error = store.put(Bytes::from_static(b"just text"), Upload::new().alias("prog.wasm")).await.unwrap_err();
    assert_eq!(error.to_string(), "not a WebAssembly module: it does not start with \\0asm");
    assert!(matches!(store.resolve("prog.wasm"), Err(StoreError::NotFound(_))), "a refused upload must not create the alias");
}

#[tokio::test]
async fn hostile_zips_are_refused_on_upload() {
    let store = memory_store();
    let cases = [
        (support::raw_zip(&[RawEntry::File("../evil", b"x")]), "zip entry \"../evil\" is refused: `..` would leave the task directory"),
        (support::raw_zip(&[RawEntry::File("/etc/x", b"x")]), "zip entry \"/etc/x\" is refused: absolute paths are not allowed"),
        (support::raw_zip(&[RawEntry::Symlink("link", "/etc/passwd")]), "zip entry \"link\" is a symbolic link; links are not allowed"),
        (support::raw_zip(&[RawEntry::Zeros("bomb", 300_000_000)]), "zip unpacks to more than 268435456 bytes"),
        (Bytes::from_static(b"PK\x03\x04garbage"), "not a readable zip archive"),
    ];
    for (zip, expected) in cases {
        let error = store.put(zip, Upload::new()).await.unwrap_err();
        assert!(error.to_string().starts_with(expected), "expected {expected:?}, got {error}");
    }
    let good = support::raw_zip(&[RawEntry::Dir("data/"), RawEntry::File("data/a.txt", b"a")]);
    assert_eq!(store.put(good, Upload::new()).await.unwrap().file.kind, FileKind::Zip);
}

#[tokio::test]
async fn too_many_zip_entries_are_refused() {
    let limits = Limits { rootfs_entries: 3, ..Limits::default() };
    let store = Store::open(&Storage::Memory, &limits).unwrap();
    let names: Vec<String> = (0..4).map(|i| format!("f{i}")).collect();
    let entries: Vec<RawEntry<'_>> = names.iter().map(|n| RawEntry::File(n, b"x")).collect();
    let error = store.put(support::raw_zip(&entries), Upload::new()).await.unwrap_err();
    assert_eq!(error.to_string(), "zip has more than 3 entries");
}

#[tokio::test]
async fn uploads_over_the_size_limit_are_refused() {
    let limits = Limits { upload_bytes: 1000, ..Limits::default() };
    let store = Store::open(&Storage::Memory, &limits).unwrap();
    let error = store.put(Bytes::from(vec![7u8; 1001]), Upload::new()).await.unwrap_err();
    assert_eq!(error, StoreError::TooLarge { size: 1001, limit: 1000 });
    assert_eq!(error.to_string(), "file of 1001 bytes exceeds the upload limit of 1000 bytes");
}

#[tokio::test]
async fn bad_alias_names_are_refused() {
    let store = memory_store();
    for name in ["", "a/b", "sha256:abc", "..", "tab\there"] {
        let error = store.put(Bytes::from_static(b"x"), Upload::new().alias(name)).await.unwrap_err();
        assert!(matches!(error, StoreError::InvalidAlias { .. }), "{name:?}: {error:?}");
    }
    assert!(matches!(store.resolve("sha256:nothex"), Err(StoreError::Invalid(_))));
}

#[tokio::test]
async fn re_uploading_an_alias_moves_it_and_reports_the_old_digest() {
    let store = memory_store();
    let first = store.put(fixture("echo"), Upload::new().alias("prog.wasm")).await.unwrap();
    let same = store.put(fixture("echo"), Upload::new().alias("prog.wasm")).await.unwrap();
    assert!(same.replaced.is_empty(), "the same content again changes nothing");
    let second = store.put(fixture("exit"), Upload::new().alias("prog.wasm")).await.unwrap();
    assert_eq!(second.replaced, vec![("prog.wasm".to_string(), first.file.digest)]);
    assert_eq!(store.resolve("prog.wasm").unwrap().digest, second.file.digest);
    assert_eq!(store.get(&first.file.digest).await.unwrap(), fixture("echo"), "old content stays addressable");
    assert_eq!(store.aliases(), vec![("prog.wasm".to_string(), second.file.digest)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_task_keeps_the_bytes_it_was_submitted_with() {
    let limits = Limits { concurrency: 1, ..support::test_limits() };
    let broker = support::broker_with(limits).await;
    broker.store().put(fixture("echo"), Upload::new().alias("prog.wasm")).await.unwrap();
    let blocker = broker.clone();
    let busy = tokio::spawn(async move { blocker.run(task("spin", &["spin"]).limits(short(400))).await });
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let queued = support::spawn_run(&broker, Task::new(FileSource::reference("prog.wasm")).args(["prog", "old"]));
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    broker.store().put(fixture("exit"), Upload::new().alias("prog.wasm")).await.unwrap();
    let output = queued.await.unwrap().unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout), "argc=2\nargv[0]=prog\nargv[1]=old\n");
    assert_eq!(busy.await.unwrap().unwrap_err().kind, TaskErrorKind::Timeout);
    let now = broker.run(Task::new(FileSource::reference("prog.wasm")).args(["prog", "5"])).await.unwrap();
    assert_eq!(now.status, 5, "new submissions see the moved alias");
}

fn short(timeout_ms: u64) -> wasimoff::TaskLimits {
    wasimoff::TaskLimits { timeout_ms: Some(timeout_ms), ..Default::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_store_survives_a_restart_with_compiled_modules() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::Directory(dir.path().to_path_buf());
    let digest = {
        let broker = Wasimoff::builder().storage(storage.clone()).build().unwrap();
        let stored = broker.store().put(fixture("tsp"), Upload::new().alias("tsp.wasm")).await.unwrap();
        let output = broker.run(task("tsp", &["tsp", "rand", "5"])).await.unwrap();
        assert_eq!(output.status, 0);
        broker.shutdown().await;
        stored.file.digest
    };
    let compiled: Vec<String> =
        std::fs::read_dir(dir.path().join("compiled")).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert_eq!(compiled.len(), 1, "{compiled:?}");
    assert!(compiled[0].starts_with(&digest.hex()) && compiled[0].ends_with(".cwasm"), "{compiled:?}");

    let broker = Wasimoff::builder().storage(storage).build().unwrap();
    assert_eq!(broker.store().resolve("tsp.wasm").unwrap().digest, digest);
    assert_eq!(broker.store().resolve("tsp.wasm").unwrap().kind, FileKind::Wasm);
    assert!(broker.store().resolve("tsp.wasm").unwrap().wasi_command, "read again from the file's first sections");
    let output = broker.run(task("tsp", &["tsp", "rand", "5"])).await.unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout).lines().next(), Some("cities: 5"));
}

#[tokio::test]
async fn an_unknown_reference_is_not_found() {
    let broker = support::broker().await;
    let error = broker.run(Task::new(FileSource::reference("nope.wasm"))).await.unwrap_err();
    assert_eq!(error.kind, TaskErrorKind::NotFound);
    assert_eq!(error.to_string(), "not_found: no stored file named \"nope.wasm\"");
    let missing = Digest::of(b"never stored").to_string();
    let error = broker.run(Task::new(FileSource::reference(missing))).await.unwrap_err();
    assert_eq!(error.kind, TaskErrorKind::NotFound);
}

#[tokio::test]
async fn a_data_file_is_not_runnable() {
    let broker = support::broker().await;
    broker.store().put(Bytes::from_static(b"hello"), Upload::new().alias("hello.txt")).await.unwrap();
    let error = broker.run(Task::new(FileSource::reference("hello.txt"))).await.unwrap_err();
    assert_eq!(error.kind, TaskErrorKind::InvalidModule);
    assert_eq!(error.message, "hello.txt is not a WebAssembly module (stored as Data)");
}

/// A WASI reactor of about `bytes` bytes: memory, `_initialize` and many functions, no `_start`.
fn large_reactor(bytes: usize) -> Bytes {
    use wasm_encoder::{CodeSection, ExportKind, ExportSection, Function, FunctionSection, Instruction, MemorySection, MemoryType};
    use wasm_encoder::{Module, TypeSection, ValType};
    let mut types = TypeSection::new();
    types.ty().function([], []);
    types.ty().function([ValType::I32], [ValType::I32]);
    let mut body = Function::new([]);
    for step in 0..20 {
        body.instruction(&Instruction::LocalGet(0));
        body.instruction(&Instruction::I32Const(1_000_003 * step));
        body.instruction(&Instruction::I32Add);
        body.instruction(&Instruction::LocalSet(0));
    }
    body.instruction(&Instruction::LocalGet(0));
    body.instruction(&Instruction::End);
    let count = u32::try_from(bytes / body.byte_len()).unwrap();
    let mut functions = FunctionSection::new();
    let mut code = CodeSection::new();
    functions.function(0);
    let mut initialize = Function::new([]);
    initialize.instruction(&Instruction::End);
    code.function(&initialize);
    for _ in 0..count {
        functions.function(1);
        code.function(&body);
    }
    let mut memory = MemorySection::new();
    memory.memory(MemoryType { minimum: 1, maximum: None, memory64: false, shared: false, page_size_log2: None });
    let mut exports = ExportSection::new();
    exports.export("memory", ExportKind::Memory, 0).export("_initialize", ExportKind::Func, 0).export("step", ExportKind::Func, 1);
    let mut module = Module::new();
    module.section(&types).section(&functions).section(&memory).section(&exports).section(&code);
    module.finish().into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_module_without_a_runnable_start_is_refused_before_any_runner_compiles_it() {
    let broker = support::broker().await;
    let reactor = large_reactor(30 << 20);
    let started = std::time::Instant::now();
    let stored = broker.store().put(reactor.clone(), Upload::new().alias("reactor.wasm")).await.unwrap();
    let uploaded = started.elapsed();
    assert!(!stored.file.wasi_command, "a reactor is not a command");
    assert!(broker.store().resolve("echo.wasm").unwrap().wasi_command);

    let started = std::time::Instant::now();
    let error = broker.run(Task::new(FileSource::reference("reactor.wasm"))).await.unwrap_err();
    let by_reference = started.elapsed();
    assert_eq!(error.kind, TaskErrorKind::MissingStart);
    assert_eq!(error.message, "reactor.wasm exports no `_start` function without parameters or results: it is not a WASI command");

    let started = std::time::Instant::now();
    let error = broker.run(Task::new(FileSource::blob(reactor.clone()))).await.unwrap_err();
    let inline = started.elapsed();
    assert_eq!(error.kind, TaskErrorKind::MissingStart);
    assert_eq!(error.message, "the module exports no `_start` function: it is not a WASI command");
    eprintln!("{} byte reactor: upload {uploaded:?}, run by reference {by_reference:?}, run inline {inline:?}", reactor.len());

    let mistyped = wat::parse_str(r#"(module (func (export "_start") (param i32)))"#).unwrap();
    broker.store().put(mistyped.clone().into(), Upload::new().alias("mistyped.wasm")).await.unwrap();
    let error = broker.run(Task::new(FileSource::reference("mistyped.wasm"))).await.unwrap_err();
    assert_eq!(error.kind, TaskErrorKind::MissingStart);
    let error = broker.run(Task::new(FileSource::blob(mistyped))).await.unwrap_err();
    assert_eq!(error.kind, TaskErrorKind::MissingStart);
    assert_eq!(error.message, "the module's `_start` takes or returns values; a WASI command's `_start` takes and returns nothing");
}
