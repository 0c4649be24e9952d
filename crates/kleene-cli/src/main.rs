//! The `kleene` command-line tool.

use clap::{Parser, Subcommand};

mod data;
mod eval;
mod model;
mod report;
mod sweep;
mod sweep_slurm;
mod train;

#[derive(Parser)]
#[command(
    name = "kleene",
    version,
    about = "Formal languages, sequence models, length generalization"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Data: list tasks, generate splits, check files.
    Data {
        #[command(subcommand)]
        command: data::DataCommand,
    },
    /// Models: list every kind and mixer with its defaults, show one with its size.
    Model {
        #[command(subcommand)]
        command: model::ModelCommand,
    },
    /// Train a model as a TOML run config says, then evaluate it.
    Train(train::TrainArgs),
    /// Re-evaluate a finished run directory.
    Eval(eval::EvalArgs),
    /// One table over several runs (mean, min, max).
    Report(report::ReportArgs),
    /// Run a grid of configs (or one shard of it), skipping finished runs.
    Sweep(sweep::SweepArgs),
}

/// Runs a subcommand that returns a Result: errors go to stderr with exit code 1.
fn exit_with(result: Result<(), Box<dyn std::error::Error>>) -> ! {
    match result {
        Ok(()) => std::process::exit(0),
        Err(e) => {
            eprintln!("error: {e}");
            // A stop asked for by a signal exits as shells report a death by it (130 for
            // Ctrl-C, 143 for SIGTERM), after its checkpoint and message.
            match e.downcast_ref::<kleene_train::TrainError>() {
                Some(
                    kleene_train::TrainError::Interrupted { signal, .. }
                    | kleene_train::TrainError::InterruptedBeforeRun { signal, .. },
                ) => std::process::exit(128 + signal),
                _ => std::process::exit(1),
            }
        }
    }
}

fn main() {
    kleene_train::alloc::tune_cpu_allocator();
    let cli = Cli::parse();
    match cli.command {
        Command::Data { command } => std::process::exit(data::run(command)),
        Command::Model { command } => std::process::exit(model::run(command)),
        Command::Train(args) => {
            kleene_train::interrupt::install();
            exit_with(train::run(args))
        }
        Command::Eval(args) => exit_with(eval::run(args)),
        Command::Report(args) => exit_with(report::run(args)),
        Command::Sweep(args) => {
            kleene_train::interrupt::install();
            exit_with(sweep::run(args))
        }
    }
}
