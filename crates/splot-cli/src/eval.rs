//! `splot eval CHECKPOINT`: test accuracy, accuracy per class and the confusion matrix.

use clap::Args;
use splot::data::Mnist;
use splot::train::{evaluate, read_checkpoint};
use splot::viz::plot::confusion_image;
use splot::viz::save_png;
use splot::Result;
use std::path::PathBuf;

#[derive(Args)]
pub struct EvalArgs {
    /// A checkpoint written by `splot train` (e.g. runs/lenet5/best.safetensors).
    checkpoint: PathBuf,
    /// Directory of the MNIST files (default: data/mnist).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Also draw the confusion matrix as a labelled heat map into this PNG file.
    #[arg(long)]
    confusion: Option<PathBuf>,
}

pub fn run(args: &EvalArgs) -> Result<()> {
    let ck = read_checkpoint(&args.checkpoint)?;
    let (net, _) = ck.build_model(&args.checkpoint)?;
    let dir = match &args.data {
        Some(d) => d.clone(),
        None => Mnist::locate()?,
    };
    let test = Mnist::load_test(&dir)?;
    let e = evaluate(&net, &test, 10)?;
    println!(
        "{} after {} epochs: test accuracy {:.2} % (error {:.2} %), loss {:.4} on {} images",
        ck.config.model,
        ck.progress.epoch,
        100.0 * e.accuracy,
        100.0 * (1.0 - e.accuracy),
        e.loss,
        test.len()
    );
    println!("\nper class:");
    for (c, a) in e.per_class_accuracy().iter().enumerate() {
        println!("  {c}: {:6.2} %", 100.0 * a);
    }
    println!("\nconfusion matrix (rows: true class, columns: predicted):");
    print!("     ");
    (0..10).for_each(|c| print!("{c:>6}"));
    println!();
    for (t, row) in e.confusion.iter().enumerate() {
        print!("  {t}: ");
        row.iter().for_each(|n| print!("{n:>6}"));
        println!();
    }
    if let Some(path) = &args.confusion {
        save_png(path, &confusion_image(&e.confusion)?)?;
        println!("\nconfusion matrix picture → {}", path.display());
    }
    Ok(())
}
