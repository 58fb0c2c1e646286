//! A network printed as its shape flow, layer by layer (like darknet's cfg printout or
//! Keras' `model.summary()`): each top-level layer's name, kind, output shape, parameters and
//! multiply-accumulates (see [`crate::ops::cost`]).

use super::{num_parameters, Module, Sequential};
use crate::error::Result;

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
    /// Multiply-accumulates of its convolutions and linear layers for one image.
    pub multiply_adds: u64,
}

/// Infers each layer's output shape for one input `[1, c, h, w]` ([`Module::infer`]: from
/// the shapes alone, so an input far larger than memory is described too) and reports
/// each layer; errors name the layer that cannot take its input. An input whose number of
/// values overflows is an [`Error::TooLarge`](crate::Error::TooLarge).
pub fn summary(net: &Sequential, input: &[usize]) -> Result<Vec<SummaryRow>> {
    let mut shape = vec![1];
    shape.extend_from_slice(input);
    if crate::tensor::size::checked_numel(&shape).is_none() {
        return Err(crate::Error::TooLarge {
            op: "summary",
            bytes: crate::tensor::size::shape_bytes(&shape),
            shape,
            limit: crate::tensor::size::max_tensor_bytes(),
        });
    }
    let mut rows = Vec::new();
    for (name, layer) in net.children() {
        let out = layer
            .infer(&shape)
            .map_err(|e| e.in_layer(format!("{name} ({})", layer.kind())))?;
        shape = out.shape;
        rows.push(SummaryRow {
            name,
            kind: layer.kind(),
            output_shape: shape.clone(),
            parameters: num_parameters(layer),
            multiply_adds: out.multiply_adds,
        });
    }
    Ok(rows)
}

/// `1234567` → `1.23 M`: three significant digits with k, M, G, T.
pub fn format_count(n: u64) -> String {
    let units = [(1e12, " T"), (1e9, " G"), (1e6, " M"), (1e3, " k")];
    let x = n as f64;
    for (scale, unit) in units {
        if x >= scale {
            let v = x / scale;
            let digits = if v >= 100.0 {
                0
            } else if v >= 10.0 {
                1
            } else {
                2
            };
            return format!("{v:.digits$}{unit}");
        }
    }
    n.to_string()
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
            "{:<16} {:<20} {:>16} {:>12} {:>10}",
            "layer", "kind", "output", "parameters", "mult-adds"
        ),
        format!("{:<16} {:<20} {:>16} {:>12}", "input", "", shape(input), ""),
    ];
    for r in rows {
        lines.push(format!(
            "{:<16} {:<20} {:>16} {:>12} {:>10}",
            r.name,
            r.kind,
            shape(&r.output_shape[1..]),
            group_thousands(r.parameters),
            format_count(r.multiply_adds)
        ));
    }
    let total: usize = rows.iter().map(|r| r.parameters).sum();
    lines.push(format!("total parameters: {}", group_thousands(total)));
    let macs: u64 = rows.iter().map(|r| r.multiply_adds).sum();
    lines.push(format!(
        "total multiply-adds per image: {} ({})",
        format_count(macs),
        group_thousands(macs as usize)
    ));
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
