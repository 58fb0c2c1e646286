//! `splot classify train|eval|predict`: classification in the shape of `yolo TASK MODE`.
//! `splot train`, `splot eval` and `splot predict` are the same commands.

use crate::{eval, predict, train};
use clap::Subcommand;
use splot::Result;

/// What to do with a classifier.
#[derive(Subcommand)]
pub enum Mode {
    /// Train a classifier on any classification data (MNIST by default).
    Train(Box<train::TrainArgs>),
    /// Accuracy, top-5, per-class accuracy and confusion matrix of a checkpoint.
    Eval(eval::EvalArgs),
    /// Classify pictures with a checkpoint or a zoo network.
    Predict(predict::PredictArgs),
}

/// Runs the mode.
pub fn run(mode: &Mode) -> Result<()> {
    match mode {
        Mode::Train(args) => train::run(args),
        Mode::Eval(args) => eval::run(args),
        Mode::Predict(args) => predict::run(args),
    }
}
