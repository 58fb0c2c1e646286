//! `splot summary MODEL`: each layer's output shape and parameter count, and totals.

use clap::Args;
use splot::nn::{format_summary, summary};
use splot::tasks::segment;
use splot::viz::diagram::summary_svg;
use splot::viz::{is_svg, save_text};
use splot::{Error, Result};
use std::path::PathBuf;

#[derive(Args)]
pub struct SummaryArgs {
    /// The network: lenet5, lenet5-relu, alexnet, alexnet-paper, vgg11…vgg19 (and _bn),
    /// googlenet, googlenet-aux, resnet18…resnet152, resnet20…resnet110, plain18…plain110;
    /// segmentation networks: fcn32s, fcn16s, fcn8s (and -small), fcn_resnet50,
    /// fcn_resnet101, multiscale (21 classes; the small ones take one channel).
    model: String,
    /// Input size as C×H×W (or CxHxW); default: what the network was designed for.
    #[arg(long)]
    input: Option<String>,
    /// Also draw the network as a diagram of boxes and arrows into this SVG file.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Parses "3×224×224" or "3x224x224".
pub fn parse_input_shape(text: &str) -> Result<Vec<usize>> {
    let dims: Vec<usize> = text
        .split(['×', 'x', 'X', ','])
        .map(|d| d.trim().parse::<usize>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| Error::Parse {
            what: "--input",
            msg: format!("'{text}' is not C×H×W"),
        })?;
    if dims.len() != 3 || dims.contains(&0) {
        return Err(Error::Parse {
            what: "--input",
            msg: format!("'{text}' must be three positive sizes C×H×W"),
        });
    }
    Ok(dims)
}

pub fn run(args: &SummaryArgs) -> Result<()> {
    if let Some(path) = &args.out {
        if !is_svg(path) {
            return Err(Error::Parse {
                what: "--out",
                msg: format!(
                    "{}: the diagram is SVG; name the file *.svg",
                    path.display()
                ),
            });
        }
    }
    if segment::NAMES.contains(&args.model.as_str()) {
        return segmentation(args);
    }
    let (net, default_input) = splot::models::build(&args.model, 0.0, 0)?;
    let input = match &args.input {
        Some(text) => parse_input_shape(text)?,
        None => default_input.to_vec(),
    };
    let rows = summary(&net, &input)?;
    print!("{}", format_summary(&rows, &input));
    if let Some(path) = &args.out {
        save_text(path, &summary_svg(&net, &input)?)?;
        println!("diagram → {}", path.display());
    }
    Ok(())
}

/// A segmentation network's summary: every layer its forward pass runs, in order (a
/// network of skips and scales is not a chain). No diagram: the boxes-and-arrows drawing
/// is of chains.
fn segmentation(args: &SummaryArgs) -> Result<()> {
    if args.out.is_some() {
        return Err(Error::Parse {
            what: "--out",
            msg: format!(
                "{} is not a chain of layers; its diagram cannot be drawn",
                args.model
            ),
        });
    }
    let small = args.model.ends_with("-small") || args.model == "multiscale";
    let mut spec = segment::ModelSpec {
        name: args.model.clone(),
        classes: 21,
        channels: if small { 1 } else { 3 },
        aux: args.model.starts_with("fcn_resnet"),
        dropout: 0.0,
        seed: 0,
    };
    let input = match &args.input {
        Some(text) => parse_input_shape(text)?,
        None => segment::model::default_input(&spec).to_vec(),
    };
    if small {
        spec.channels = input[0];
    }
    let net = segment::build(&spec)?;
    let rows = segment::model::summary(net.as_ref(), &input)?;
    print!("{}", format_summary(&rows, &input));
    Ok(())
}
