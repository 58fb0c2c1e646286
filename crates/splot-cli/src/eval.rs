//! `splot classify eval CHECKPOINT` (or `splot eval`): test accuracy, top-5, accuracy per
//! class and the confusion matrix of a classifier on the evaluation split of its data.

use clap::Args;
use splot::tasks::classify::{class_names, eval_loader, evaluate_loader, ClassifyData};
use splot::train::read_checkpoint;
use splot::viz::plot::confusion_image;
use splot::viz::save_png;
use splot::{CrossEntropyConfig, Result};
use std::path::PathBuf;

#[derive(Args)]
pub struct EvalArgs {
    /// A checkpoint written by `splot train` (e.g. runs/lenet5/best.safetensors).
    checkpoint: PathBuf,
    /// The data (any layout `train --data` takes; default: data/mnist); its evaluation
    /// split is used.
    #[arg(long)]
    data: Option<PathBuf>,
    /// The evaluation split, when it is not beside the training one (CSV or ImageFolder).
    #[arg(long)]
    val: Option<PathBuf>,
    /// Also draw the confusion matrix as a labelled heat map into this PNG file.
    #[arg(long)]
    confusion: Option<PathBuf>,
}

pub fn run(args: &EvalArgs) -> Result<()> {
    let ck = read_checkpoint(&args.checkpoint)?;
    let (net, input) = ck.build_model(&args.checkpoint)?;
    let names = class_names(&ck.task);
    let data = ClassifyData::open(args.data.as_deref(), args.val.as_deref())?;
    let classes = ck
        .task
        .get("classes")
        .and_then(|c| c.parse().ok())
        .unwrap_or(names.len());
    let loader = eval_loader(&ck.config.model, input, &data)?;
    let e = splot::run_in_pool(|| {
        evaluate_loader(
            &net,
            input[0],
            &loader,
            classes,
            &CrossEntropyConfig::default(),
        )
    })?;
    let top5 = e
        .top5
        .map_or(String::new(), |t| format!(", top-5 {:.2} %", 100.0 * t));
    println!(
        "{} after {} epochs: test accuracy {:.2} % (error {:.2} %){top5}, loss {:.4} on {} images of {}",
        ck.config.model,
        ck.progress.epoch,
        100.0 * e.accuracy,
        100.0 * (1.0 - e.accuracy),
        e.loss,
        data.val.len(),
        data.description
    );
    let name = |c: usize| names.get(c).cloned().unwrap_or_else(|| c.to_string());
    println!("\nper class:");
    for (c, a) in e.per_class_accuracy().iter().enumerate() {
        println!("  {}: {:6.2} %", name(c), 100.0 * a);
    }
    println!("\nconfusion matrix (rows: true class, columns: predicted):");
    print!("     ");
    (0..classes).for_each(|c| print!("{:>6}", name(c)));
    println!();
    for (t, row) in e.confusion.iter().enumerate() {
        print!("  {}: ", name(t));
        row.iter().for_each(|n| print!("{n:>6}"));
        println!();
    }
    if let Some(path) = &args.confusion {
        save_png(path, &confusion_image(&e.confusion)?)?;
        println!("\nconfusion matrix picture → {}", path.display());
    }
    Ok(())
}
