//! Where a subcommand's network comes from: a checkpoint written by `splot train`, or a zoo
//! network (`--model NAME`) with safetensors weights (`--weights FILE`, torchvision names).

use clap::Args;
use splot::io::safetensors::{load_module_with, LoadOptions};
use splot::nn::Sequential;
use splot::train::read_checkpoint;
use splot::{Error, Result};
use std::path::{Path, PathBuf};

/// Loads the network from `checkpoint`, or from `model` + `weights`; returns it, the input
/// shape `[c, h, w]` it expects, and the file it came from. `command` names the subcommand
/// in the error when neither is given.
pub fn load(
    command: &'static str,
    checkpoint: Option<&Path>,
    model: Option<&str>,
    weights: Option<&Path>,
) -> Result<(Sequential, [usize; 3], PathBuf)> {
    match (checkpoint, model, weights) {
        (Some(path), None, None) => {
            let (net, input) = read_checkpoint(path)?.build_model(path)?;
            Ok((net, input, path.to_path_buf()))
        }
        (None, Some(model), Some(weights)) => {
            let (net, input) = splot::models::build(model, 0.0, 0)?;
            let (_, report) = load_module_with(weights, &net, &LoadOptions::default())?;
            report_filled(weights, &report.filled);
            Ok((net, input, weights.to_path_buf()))
        }
        _ => Err(Error::Parse {
            what: command,
            msg: "give a checkpoint of `splot train`, or --model NAME --weights FILE".into(),
        }),
    }
}

/// Says on stderr which batch norm counters a weights file lacked and were set to 0.
pub fn report_filled(weights: &Path, filled: &[String]) {
    if !filled.is_empty() {
        eprintln!(
            "{}: {} buffer(s) missing from the file set to 0, as PyTorch does: {}",
            weights.display(),
            filled.len(),
            filled.join(", ")
        );
    }
}

/// Splits positional paths into the checkpoint (first, unless a zoo network is given) and
/// the pictures, of which exactly `pictures` are wanted (`None`: at least one).
pub fn split_inputs<'a>(
    command: &'static str,
    inputs: &'a [PathBuf],
    zoo: bool,
    pictures: Option<usize>,
) -> Result<(Option<&'a Path>, &'a [PathBuf])> {
    let (checkpoint, rest) = if zoo {
        (None, inputs)
    } else {
        match inputs.split_first() {
            Some((c, rest)) => (Some(c.as_path()), rest),
            None => (None, inputs),
        }
    };
    let ok = match pictures {
        Some(n) => rest.len() == n,
        None => !rest.is_empty(),
    };
    if !ok {
        let want = pictures.map_or("at least one picture".to_string(), |n| {
            format!("{n} picture(s)")
        });
        return Err(Error::Parse {
            what: command,
            msg: format!(
                "expected {}{want}, got {} path(s)",
                if zoo { "" } else { "a checkpoint and " },
                inputs.len()
            ),
        });
    }
    Ok((checkpoint, rest))
}

/// The network and the one picture of `features` and `saliency`.
#[derive(Args)]
pub struct OnePicture {
    /// A checkpoint written by `splot train`, then a PNG or JPEG picture (prepared as
    /// `splot predict` prepares it); with --model/--weights, only the picture.
    #[arg(required = true, num_args = 1..=2)]
    inputs: Vec<PathBuf>,
    /// A zoo network (alexnet, resnet18, …), with --weights.
    #[arg(long, requires = "weights")]
    model: Option<String>,
    /// The zoo network's weights: safetensors with torchvision's tensor names.
    #[arg(long, requires = "model")]
    weights: Option<PathBuf>,
}

impl OnePicture {
    /// The network, the input shape it expects, and the picture's path.
    pub fn load(&self, command: &'static str) -> Result<(Sequential, [usize; 3], &Path)> {
        let (checkpoint, pictures) =
            split_inputs(command, &self.inputs, self.model.is_some(), Some(1))?;
        let (net, input, _) = load(
            command,
            checkpoint,
            self.model.as_deref(),
            self.weights.as_deref(),
        )?;
        Ok((net, input, &pictures[0]))
    }
}
