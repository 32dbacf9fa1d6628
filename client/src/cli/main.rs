//! `wasimoff`: the command line of a wasimoff broker's client API — uploads, seed run
//! configurations, jobs and parameter sweeps with a progress bar, detached jobs, and the
//! cluster view. Exit status: 0 when every task exited with status 0, 1 when any task failed
//! or exited non-zero, 2 when a request failed (printed as `error: KIND: MESSAGE`).

mod cluster;
mod results;
mod sweep;

use clap::{Args, Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use wasimoff_client::api::{JobRequest, JobStatus, RunConfiguration, SeedResult};
use wasimoff_client::{Client, DEFAULT_BROKER, Error};

/// The command line.
#[derive(Parser)]
#[command(name = "wasimoff", version, about = "Run WebAssembly tasks on a wasimoff broker")]
struct Cli {
    /// The broker's URL, including its mount prefix.
    #[arg(long, global = true, env = "WASIMOFF_BROKER", default_value = DEFAULT_BROKER)]
    broker: String,
    /// A bearer token for a host that guards the client routes.
    #[arg(long, global = true, env = "WASIMOFF_TOKEN", hide_env_values = true)]
    token: Option<String>,
    #[command(subcommand)]
    command: Command,
}

/// The subcommands.
#[derive(Subcommand)]
enum Command {
    /// Store a file (a module, a rootfs zip, data) under its file name or the given aliases.
    Upload {
        /// The file.
        file: PathBuf,
        /// The name to store it under (repeatable); default: the file's name.
        #[arg(long)]
        alias: Vec<String>,
    },
    /// Run a seed run configuration and print the broker's JSON answer.
    Run {
        /// The run configuration: {"bin", "envs"?, "exec": [{"args", "envs", "stdin", "loadfs", "datafile"}], "trace"?}.
        config: PathBuf,
    },
    /// Run a job ({"parent"?, "tasks": [...]}) with streamed results, or manage a detached job.
    Job(JobArgs),
    /// Run a parameter sweep: one task per value of {n}, each repeated.
    Sweep(sweep::SweepArgs),
    /// Show the cluster once: providers, the local runner, the queue, jobs, verification.
    Cluster {
        /// Print the broker's JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show the cluster live, redrawn every interval (Ctrl-C stops).
    Top {
        /// Seconds between redraws.
        #[arg(long, default_value_t = 1.0)]
        interval: f64,
    },
}

/// `wasimoff job JOB.json` or `wasimoff job status|results|cancel ID`.
#[derive(Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_value_name = "ACTION")]
struct JobArgs {
    #[command(subcommand)]
    action: Option<JobAction>,
    /// The job file.
    file: Option<PathBuf>,
    #[command(flatten)]
    results: results::ResultOptions,
}

/// What to do with a detached job.
#[derive(Subcommand)]
enum JobAction {
    /// Print a detached job's progress.
    Status {
        /// The job's id.
        id: String,
    },
    /// Stream a detached job's results.
    Results {
        /// The job's id.
        id: String,
        /// Write each task's stdout, stderr and artifacts to DIR/{index}/.
        #[arg(long, value_name = "DIR")]
        output: Option<PathBuf>,
    },
    /// Cancel a detached job.
    Cancel {
        /// The job's id.
        id: String,
    },
}

/// How a command ended, before it becomes the exit status.
enum Outcome {
    /// Everything succeeded.
    Success,
    /// A task failed or exited non-zero.
    TaskFailed,
}

/// A command's failure: a broker error or a local one, printed as `error: …`.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error(transparent)]
    Client(#[from] Error),
    #[error("{0}")]
    Local(String),
}

#[tokio::main]
async fn main() -> ExitCode {
    restore_default_sigpipe();
    let cli = Cli::parse();
    let mut client = Client::new(cli.broker);
    if let Some(token) = cli.token.filter(|token| !token.is_empty()) {
        client = client.token(token);
    }
    match execute(&client, cli.command).await {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::TaskFailed) => ExitCode::from(1),
        Err(failure) => {
            eprintln!("error: {failure}");
            ExitCode::from(2)
        }
    }
}

async fn execute(client: &Client, command: Command) -> Result<Outcome, Failure> {
    match command {
        Command::Upload { file, alias } => upload(client, &file, alias).await,
        Command::Run { config } => run(client, &config).await,
        Command::Job(JobArgs { action: Some(action), .. }) => job_action(client, action).await,
        Command::Job(JobArgs { action: None, file: Some(file), results }) => {
            let job: JobRequest = read_json(&file)?;
            results::run_job(client, &job, &results).await
        }
        Command::Job(JobArgs { action: None, file: None, .. }) => {
            Err(Failure::Local("give a job file, or status|results|cancel ID".into()))
        }
        Command::Sweep(sweep) => sweep::sweep(client, sweep).await,
        Command::Cluster { json } => cluster::once(client, json).await,
        Command::Top { interval } => cluster::top(client, interval).await,
    }
}

/// Reads and parses a JSON file, naming the file in errors.
fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, Failure> {
    let bytes = std::fs::read(path).map_err(|error| Failure::Local(format!("cannot read {}: {error}", path.display())))?;
    serde_json::from_slice(&bytes).map_err(|error| Failure::Local(format!("{} is not valid: {error}", path.display())))
}

/// The name a file is stored under by default: its file name.
fn file_name(path: &Path) -> Result<String, Failure> {
    path.file_name()
        .and_then(|name| name.to_str())
        .map(str::to_string)
        .ok_or_else(|| Failure::Local(format!("{} has no file name to store it under; give --alias", path.display())))
}

async fn upload(client: &Client, file: &Path, aliases: Vec<String>) -> Result<Outcome, Failure> {
    let bytes = tokio::fs::read(file).await.map_err(|error| Failure::Local(format!("cannot read {}: {error}", file.display())))?;
    let aliases = if aliases.is_empty() { vec![file_name(file)?] } else { aliases };
    let names: Vec<&str> = aliases.iter().map(String::as_str).collect();
    let stored = client.upload(bytes, &names).await?;
    let kind = serde_json::to_value(stored.kind).ok().and_then(|value| value.as_str().map(str::to_string)).unwrap_or_default();
    println!("{} {kind} {} bytes as {}", stored.reference, stored.size, stored.aliases.join(", "));
    for (alias, old) in &stored.replaced {
        eprintln!("{alias} named {old} before");
    }
    Ok(Outcome::Success)
}

/// `wasimoff run CONFIG.json`: the broker's answer as it came, like the seed's client.
async fn run(client: &Client, path: &Path) -> Result<Outcome, Failure> {
    let config: RunConfiguration = read_json(path)?;
    let answer = client.run_configuration(&config).await?;
    println!("{}", String::from_utf8_lossy(&answer));
    let results: Vec<SeedResult> = serde_json::from_slice(&answer)
        .map_err(|error| Failure::Local(format!("the broker's answer is not a list of results: {error}")))?;
    let failed = results.iter().any(|result| !matches!(result, SeedResult::Result(output) if output.status == 0));
    Ok(if failed { Outcome::TaskFailed } else { Outcome::Success })
}

async fn job_action(client: &Client, action: JobAction) -> Result<Outcome, Failure> {
    match action {
        JobAction::Status { id } => {
            print_status(&client.job_status(&id).await?);
            Ok(Outcome::Success)
        }
        JobAction::Results { id, output } => {
            let total = client.job_status(&id).await?.tasks;
            let stream = client.job_results(&id).await?;
            results::collect(stream, total, output.as_deref()).await
        }
        JobAction::Cancel { id } => {
            print_status(&client.cancel_job(&id).await?);
            Ok(Outcome::Success)
        }
    }
}

/// Prints a detached job's phase and counts (after a cancel: what it ended as; a job that
/// had already finished stays `done`).
fn print_status(status: &JobStatus) {
    let phase = serde_json::to_value(status.status).ok().and_then(|value| value.as_str().map(str::to_string)).unwrap_or_default();
    println!("job {}: {phase}", status.id);
    println!(
        "tasks {}: {} queued, {} running, {} done, {} failed",
        status.tasks, status.queued, status.running, status.done, status.failed
    );
}

/// Lets a closed pipe end the process quietly, as command-line tools do (`wasimoff top | head`),
/// instead of Rust's default of ignoring SIGPIPE, which turns the next `println!` into a panic.
fn restore_default_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first in `main`, before any other thread exists; SIG_DFL is a valid disposition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
