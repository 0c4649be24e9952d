//! The `kleene` command-line tool.

use clap::{Parser, Subcommand};

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
        command: DataCommand,
    },
}

#[derive(Subcommand)]
enum DataCommand {
    /// Every task with a one-line description.
    List,
}

fn main() {
    let cli = Cli::parse();
    match cli.command {
        Command::Data {
            command: DataCommand::List,
        } => {
            for info in kleene_langs::all_tasks() {
                println!("{:<28} {}", info.task.name(), info.task.description());
            }
        }
    }
}
