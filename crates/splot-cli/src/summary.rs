//! `splot summary MODEL`: each layer's output shape and parameter count, and totals.

use clap::Args;
use splot::nn::{format_summary, summary};
use splot::viz::diagram::summary_svg;
use splot::viz::{is_svg, save_text};
use splot::{Error, Result};
use std::path::PathBuf;

#[derive(Args)]
pub struct SummaryArgs {
    /// The network: lenet5, lenet5-relu, alexnet, alexnet-paper, vgg11…vgg19 (and _bn),
    /// googlenet, googlenet-aux, resnet18…resnet152, resnet20…resnet110, plain18…plain110.
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
