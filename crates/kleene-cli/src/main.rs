//! The `kleene` command-line tool.

use clap::{Parser, Subcommand};

mod data;

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
}

fn main() {
    let cli = Cli::parse();
    match cli.command {
        Command::Data { command } => std::process::exit(data::run(command)),
    }
}
