//! `wasimoff sweep`: one task per parameter value, each repeated, as one job.

use crate::results::{self, ResultOptions};
use crate::{Failure, Outcome, file_name};
use clap::Args;
use std::path::Path;
use wasimoff_client::Client;
use wasimoff_client::api::{FileSource, JobRequest, TaskRequest};

/// The sweep's options.
#[derive(Args)]
pub(crate) struct SweepArgs {
    /// The module: a local file (uploaded first, under its file name) or the name of a stored file.
    #[arg(long)]
    binary: String,
    /// The argument vector, argv[0] included, split at spaces; `{n}` becomes the parameter.
    #[arg(long, allow_hyphen_values = true)]
    args: String,
    /// The parameter's values: `A..B` (both included, like the shell's `{A..B}`) or `A,B,C`.
    #[arg(long, value_name = "VALUES")]
    n: Option<String>,
    /// How often each value runs.
    #[arg(long, default_value_t = 1)]
    repeat: usize,
    #[command(flatten)]
    results: ResultOptions,
}

/// The values of `--n`: `A..B` inclusive, or a comma-separated list.
fn values(spec: &str) -> Result<Vec<String>, Failure> {
    let bad = || Failure::Local(format!("--n {spec:?}: give a range A..B of integers or a list A,B,C"));
    if let Some((from, to)) = spec.split_once("..") {
        let from: i64 = from.trim().parse().map_err(|_| bad())?;
        let to: i64 = to.trim().parse().map_err(|_| bad())?;
        if from > to {
            return Err(bad());
        }
        return Ok((from..=to).map(|n| n.to_string()).collect());
    }
    let list: Vec<String> = spec.split(',').map(|value| value.trim().to_string()).filter(|value| !value.is_empty()).collect();
    if list.is_empty() { Err(bad()) } else { Ok(list) }
}

/// The job of a sweep over `binary`: for each value, `repeat` tasks with `{n}` replaced.
fn job(binary: FileSource, template: &str, values: &[String], repeat: usize) -> JobRequest {
    let tasks = values
        .iter()
        .flat_map(|value| {
            let args: Vec<String> = template.split_whitespace().map(|word| word.replace("{n}", value)).collect();
            std::iter::repeat_n(TaskRequest { args: Some(args), ..TaskRequest::default() }, repeat)
        })
        .collect();
    JobRequest { parent: Some(TaskRequest { binary: Some(binary), ..TaskRequest::default() }), tasks }
}

/// Runs the sweep.
pub(crate) async fn sweep(client: &Client, args: SweepArgs) -> Result<Outcome, Failure> {
    let values = match &args.n {
        Some(spec) => values(spec)?,
        None => vec![String::new()],
    };
    let path = Path::new(&args.binary);
    let binary = if path.is_file() {
        let bytes = tokio::fs::read(path).await.map_err(|error| Failure::Local(format!("cannot read {}: {error}", path.display())))?;
        let name = file_name(path)?;
        let stored = client.upload(bytes, &[&name]).await?;
        eprintln!("uploaded {} as {name} ({})", path.display(), stored.reference);
        FileSource::Ref(stored.reference)
    } else {
        FileSource::Ref(args.binary.clone())
    };
    let job = job(binary, &args.args, &values, args.repeat);
    results::run_job(client, &job, &args.results).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_include_both_ends_and_lists_are_taken_as_they_are() {
        assert_eq!(values("8..12").ok(), Some(["8", "9", "10", "11", "12"].map(String::from).to_vec()));
        assert_eq!(values("3,a, 5").ok(), Some(["3", "a", "5"].map(String::from).to_vec()));
        assert!(values("9..2").is_err() && values("x..3").is_err() && values(",").is_err());
    }

    #[test]
    fn a_sweep_is_one_job_with_a_task_per_value_and_repetition() {
        let values = ["8", "9"].map(String::from);
        let job = job(FileSource::Ref("tsp.wasm".into()), "tsp rand {n}", &values, 2);
        let args: Vec<Vec<String>> = job.tasks.iter().filter_map(|task| task.args.clone()).collect();
        assert_eq!(args, [["tsp", "rand", "8"], ["tsp", "rand", "8"], ["tsp", "rand", "9"], ["tsp", "rand", "9"]]);
        assert_eq!(job.parent.and_then(|parent| parent.binary), Some(FileSource::Ref("tsp.wasm".into())));
    }
}
