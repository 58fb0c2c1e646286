//! The `splot` command-line tool: one module per subcommand, each thin over the library.

mod pad;
mod summary;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// splot: convolutional neural networks in Rust, from the lecture to real training.
#[derive(Parser)]
#[command(name = "splot", version, about, long_about = None)]
struct Cli {
    /// Threads to use (default: SPLOT_NUM_THREADS, else every core).
    #[arg(long, global = true)]
    threads: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show how each padding mode invents the border of an image (the lecture's tables).
    Pad(pad::PadArgs),
    /// Print a network layer by layer: output shapes and parameter counts.
    Summary(summary::SummaryArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    splot::init_threads(cli.threads);
    let result = match cli.command {
        Command::Pad(args) => pad::run(&args),
        Command::Summary(args) => summary::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
