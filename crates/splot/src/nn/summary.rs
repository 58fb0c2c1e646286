//! A network printed as its shape flow, layer by layer (like darknet's cfg printout or
//! Keras' `model.summary()`): each top-level layer's name, kind, output shape and parameters.

use super::{num_parameters, Mode, Module, Sequential};
use crate::error::Result;
use crate::tensor::Tensor;

/// One line of a summary.
#[derive(Clone, Debug, PartialEq)]
pub struct SummaryRow {
    /// The layer's name in the network (`c1`, `layer1`…).
    pub name: String,
    /// Its kind (`Conv2d`…).
    pub kind: &'static str,
    /// Its output shape for the given input, batch dimension included.
    pub output_shape: Vec<usize>,
    /// Its parameters (trainable or frozen).
    pub parameters: usize,
}

/// Runs a zero input of shape `[1, c, h, w]` through `net` without recording gradients and
/// reports each layer; errors name the layer that cannot take its input.
pub fn summary(net: &Sequential, input: &[usize]) -> Result<Vec<SummaryRow>> {
    let mut shape = vec![1];
    shape.extend_from_slice(input);
    let outs = crate::no_grad(|| net.forward_trace(&Tensor::zeros(&shape), Mode::Eval))?;
    Ok(net
        .children()
        .into_iter()
        .zip(outs)
        .map(|((name, layer), out)| SummaryRow {
            name,
            kind: layer.kind(),
            output_shape: out.shape().to_vec(),
            parameters: num_parameters(layer),
        })
        .collect())
}

/// The summary as a table with a total line.
pub fn format_summary(rows: &[SummaryRow], input: &[usize]) -> String {
    let shape = |s: &[usize]| {
        s.iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join("×")
    };
    let mut lines = vec![
        format!(
            "{:<16} {:<20} {:>16} {:>12}",
            "layer", "kind", "output", "parameters"
        ),
        format!("{:<16} {:<20} {:>16} {:>12}", "input", "", shape(input), ""),
    ];
    for r in rows {
        lines.push(format!(
            "{:<16} {:<20} {:>16} {:>12}",
            r.name,
            r.kind,
            shape(&r.output_shape[1..]),
            group_thousands(r.parameters)
        ));
    }
    let total: usize = rows.iter().map(|r| r.parameters).sum();
    lines.push(format!("total parameters: {}", group_thousands(total)));
    lines.join("\n") + "\n"
}

/// `60000` → `60 000`.
pub fn group_thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(ch);
    }
    out
}
