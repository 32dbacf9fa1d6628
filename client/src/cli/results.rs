//! Streamed results: printed as NDJSON lines as they arrive, counted on a progress bar
//! (hidden when stderr is not a terminal), optionally written to a folder per task.

use crate::{Failure, Outcome};
use clap::Args;
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use wasimoff_client::api::{IndexedResult, JobRequest, TaskResult};
use wasimoff_client::{Client, OutputBytes, ResultStream, decode_base64};

/// How a job's results are handled.
#[derive(Args)]
pub(crate) struct ResultOptions {
    /// Write each task's stdout, stderr and artifacts to DIR/{index}/.
    #[arg(long, value_name = "DIR")]
    pub(crate) output: Option<PathBuf>,
    /// Submit the job detached: print its id and return at once.
    #[arg(long, conflicts_with = "output")]
    pub(crate) detach: bool,
}

/// Runs `job` as `options` say: detached, or with its results streamed.
pub(crate) async fn run_job(client: &Client, job: &JobRequest, options: &ResultOptions) -> Result<Outcome, Failure> {
    if options.detach {
        let accepted = client.submit_job(job).await?;
        println!("{}", accepted.id);
        eprintln!("detached; follow it with: wasimoff job status {}", accepted.id);
        return Ok(Outcome::Success);
    }
    let stream = client.stream_job(job).await?;
    collect(stream, job.tasks.len(), options.output.as_deref()).await
}

/// Prints, counts and (with `output`) writes every result of `stream`, `total` expected.
pub(crate) async fn collect(mut stream: ResultStream, total: usize, output: Option<&Path>) -> Result<Outcome, Failure> {
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} done, {msg} failed, {per_sec}, ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message("0");
    let mut failed = 0usize;
    while let Some(line) = stream.next().await {
        let line = line?;
        if !line.result.succeeded() {
            failed += 1;
            bar.set_message(failed.to_string());
        }
        if let Some(folder) = output {
            write_result(folder, &line)?;
        }
        let text = serde_json::to_string(&line).map_err(|error| Failure::Local(error.to_string()))?;
        bar.suspend(|| println!("{text}"));
        bar.inc(1);
    }
    bar.finish_and_clear();
    eprintln!("{} tasks: {} succeeded, {failed} failed", bar.position(), bar.position() as usize - failed);
    Ok(if failed > 0 { Outcome::TaskFailed } else { Outcome::Success })
}

/// Writes one task's `stdout`, `stderr` and `artifacts.zip` (for a task that exited, also its
/// `status`; for one that failed, `error`) into `folder/{index}/`.
fn write_result(folder: &Path, line: &IndexedResult) -> Result<(), Failure> {
    let dir = folder.join(line.index.to_string());
    let write = |name: &str, bytes: &[u8]| {
        std::fs::write(dir.join(name), bytes).map_err(|error| Failure::Local(format!("cannot write {}: {error}", dir.join(name).display())))
    };
    std::fs::create_dir_all(&dir).map_err(|error| Failure::Local(format!("cannot create {}: {error}", dir.display())))?;
    match &line.result {
        TaskResult::Result(exited) => {
            write("stdout", &exited.output.stdout_bytes()?)?;
            write("stderr", &exited.output.stderr_bytes()?)?;
            write("status", format!("{}\n", exited.status).as_bytes())?;
            if let Some(artifacts) = &exited.artifacts {
                write("artifacts.zip", &decode_base64(artifacts)?)?;
            }
        }
        TaskResult::Error(failure) => {
            write("stdout", &failure.output.stdout_bytes()?)?;
            write("stderr", &failure.output.stderr_bytes()?)?;
            write("error", format!("{}: {}\n", failure.kind, failure.message).as_bytes())?;
        }
    }
    Ok(())
}
