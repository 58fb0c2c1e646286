//! The `splot` command-line tool: one module per subcommand, each thin over the library.

mod caption;
mod classify;
mod data;
mod eval;
mod features;
mod filters;
mod finetune;
mod network;
mod pad;
mod plot;
mod predict;
mod retrieve;
mod saliency;
mod segment;
mod stylize;
mod stylize_fast;
mod summary;
mod train;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

// Training allocates and frees tensors of the same few sizes every step; mimalloc keeps
// those pages instead of returning them to the system and faulting them in again (glibc's
// default costs LeNet-5 training about a quarter of its speed).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Keeps freed memory with the allocator instead of handing it back to the system: the
/// next step allocates the same sizes again, and fresh pages would be faulted in and
/// zeroed each time (7 % of a resnet18 forward pass).
fn keep_freed_memory() {
    // SAFETY: sets an option of the allocator; 15 is `mi_option_purge_delay` (mimalloc v2
    // and v3), whose -1 means "never purge".
    unsafe { libmimalloc_sys::mi_option_set(15, -1) };
}

/// splot: convolutional neural networks in Rust, from the lecture to real training.
#[derive(Parser)]
#[command(name = "splot", version, about, long_about = None)]
struct Cli {
    /// Threads to use (default: SPLOT_NUM_THREADS, else every core).
    #[arg(long, global = true)]
    threads: Option<usize>,
    /// Under `mpirun`: synchronise batch-norm statistics over the ranks (SyncBatchNorm)
    /// instead of keeping them per rank.
    #[arg(long, global = true)]
    sync_bn: bool,
    /// Under `mpirun`: seconds a rank waits for the others in one reduction before ending
    /// the job (a rank died or hangs).
    #[arg(long, global = true, default_value_t = 300.0, value_name = "SECONDS")]
    dist_timeout: f64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Classification: `splot classify train|eval|predict`.
    Classify {
        #[command(subcommand)]
        mode: classify::Mode,
    },
    /// Train a classifier (LeNet-5 on MNIST by default); the same as `classify train`.
    Train(train::TrainArgs),
    /// Fine-tune a classifier from a checkpoint or a zoo network's weights under a new head
    /// (freezing, a learning rate for the head, a linear probe, gradual unfreezing).
    Finetune(finetune::FinetuneArgs),
    /// Store a layer's L2-normalised features of a data set's images (retrieval).
    Index(retrieve::IndexArgs),
    /// The nearest neighbours of a picture in an index, or an index's precision@k and mAP.
    Search(retrieve::SearchArgs),
    /// Paint a picture in the style of another (Gatys et al., over VGG19).
    Stylize(stylize::StylizeCommand),
    /// Test accuracy, per-class accuracy and confusion matrix of a checkpoint (`classify eval`).
    Eval(eval::EvalArgs),
    /// Classify pictures with a checkpoint (`classify predict`).
    Predict(predict::PredictArgs),
    /// Show how each padding mode invents the border of an image (the lecture's tables).
    Pad(pad::PadArgs),
    /// Print a network layer by layer: output shapes and parameter counts.
    Summary(summary::SummaryArgs),
    /// Draw a layer's learned filters as a grid of tiles (PNG).
    Filters(filters::FiltersArgs),
    /// Draw the feature maps a picture produces at a layer (PNG).
    Features(features::FeaturesArgs),
    /// Draw which input pixels decide the top class: a gradient heat map (PNG).
    Saliency(saliency::SaliencyArgs),
    /// Draw a run's training curves: loss and accuracy per epoch (PNG or SVG).
    Plot(plot::PlotArgs),
    /// Image captioning: `splot caption train|eval|predict`.
    Caption {
        #[command(subcommand)]
        mode: caption::Mode,
    },
    /// Semantic segmentation: `splot segment train|eval|predict`.
    Segment {
        #[command(subcommand)]
        mode: segment::Mode,
    },
    /// Make splot's offline data sets (`data scenes`: digit scenes in VOC and COCO layouts).
    Data(data::DataArgs),
}

fn main() -> ExitCode {
    keep_freed_memory();
    let cli = Cli::parse();
    splot::init_threads(cli.threads);
    if let Err(e) = start_ranks(&cli) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let result = match cli.command {
        Command::Classify { mode } => classify::run(&mode),
        Command::Train(args) => train::run(&args),
        Command::Finetune(args) => finetune::run(&args),
        Command::Index(args) => retrieve::index(&args),
        Command::Search(args) => retrieve::search_run(&args),
        Command::Stylize(args) => stylize::run_command(&args),
        Command::Eval(args) => eval::run(&args),
        Command::Predict(args) => predict::run(&args),
        Command::Pad(args) => pad::run(&args),
        Command::Summary(args) => summary::run(&args),
        Command::Filters(args) => filters::run(&args),
        Command::Features(args) => features::run(&args),
        Command::Saliency(args) => saliency::run(&args),
        Command::Plot(args) => plot::run(&args),
        Command::Data(args) => data::run(&args),
        Command::Caption { mode } => caption::run(&mode),
        Command::Segment { mode } => segment::run(&mode),
    };
    match result {
        Ok(()) => {
            #[cfg(feature = "mpi")]
            splot::dist::mpi::finalize();
            ExitCode::SUCCESS
        }
        Err(e) => {
            match splot::dist::current() {
                Some((group, _)) => eprintln!("error: rank {}: {e}", group.rank()),
                None => eprintln!("error: {e}"),
            }
            // One rank's error ends every rank, so that none waits for it.
            splot::dist::abort_if_distributed(1);
            ExitCode::FAILURE
        }
    }
}

/// Joins the other ranks when an MPI launcher started this process among several.
fn start_ranks(cli: &Cli) -> splot::Result<()> {
    let Some(ranks) = splot::dist::launched_ranks() else {
        return Ok(());
    };
    if !(cli.dist_timeout.is_finite() && cli.dist_timeout > 0.0) {
        return Err(splot::Error::config(
            "--dist-timeout",
            format!(
                "must be a positive number of seconds, got {}",
                cli.dist_timeout
            ),
        ));
    }
    let options = splot::dist::Options {
        sync_batch_norm: cli.sync_bn,
        timeout: std::time::Duration::from_secs_f64(cli.dist_timeout),
    };
    #[cfg(feature = "mpi")]
    {
        let _ = ranks;
        splot::dist::mpi::init(options).map(|_| ())
    }
    #[cfg(not(feature = "mpi"))]
    {
        let _ = options;
        Err(splot::Error::config(
            "distributed",
            format!(
                "this process was started by an MPI launcher as one of {ranks} ranks, but this \
                 splot was built without the `mpi` feature, so each rank would train alone on all \
                 the data; build it with `cargo build --release -p splot-cli --features mpi` \
                 (needs libopenmpi-dev)"
            ),
        ))
    }
}
