//! The layer diagram of a network as SVG: the input and each layer as a box (name, kind,
//! output shape, parameters), top to bottom, joined by arrows. A top-level `Sequential`
//! that holds residual blocks or branch blocks (ResNet's `layer1`…) is opened so that each
//! block gets its own box. A residual block ([`Topology::Residual`]) gets a shortcut arrow
//! around it into a `+`, labelled with the kind of shortcut; a block of parallel branches
//! ([`Topology::Branches`], Inception) shows its branches side by side inside its box.

use crate::error::Result;
use crate::nn::{group_thousands, num_parameters, Module, Sequential, Topology};
use std::fmt::Write;

/// Width of a layer box.
pub const BOX_W: u32 = 380;
/// Height of a layer box.
pub const BOX_H: u32 = 50;
/// Vertical space between boxes (the arrow).
pub const STEP: u32 = 28;
const LEFT: u32 = 40;
const TOP: u32 = 20;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn fill(kind: &str) -> &'static str {
    match kind {
        k if k.contains("Conv") => "#cfe2f3",
        "Pool" | "Subsampling" => "#d9ead3",
        "Activation" | "ReLU" | "LeakyReLU" | "Tanh" | "LeCunTanh" | "Sigmoid" | "GELU" => {
            "#fff2cc"
        }
        "Linear" => "#fce5cd",
        "Residual" | "Concat" | "Sequential" => "#e6e0f3",
        "input" => "#ffffff",
        _ => "#eeeeee",
    }
}

fn shape_text(s: &[usize]) -> String {
    s.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("×")
}

/// The diagram of `net` for one input of shape `[c, h, w]` (see the module docs).
/// Errors as [`summary`] does when a layer cannot take its input.
pub fn summary_svg(net: &Sequential, input: &[usize]) -> Result<String> {
    let rows = diagram_rows(net, input)?;
    let n = rows.len() + 1;
    let (w, h) = (
        LEFT * 2 + BOX_W + 80,
        TOP * 2 + n as u32 * (BOX_H + STEP) - STEP + 30,
    );
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="DejaVu Sans, Verdana, sans-serif">"##
    );
    svg.push_str(
        r##"<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#444"/></marker></defs>
<rect width="100%" height="100%" fill="white"/>
"##,
    );
    let cx = LEFT + BOX_W / 2;
    let mut boxes: Vec<(String, String, &str, Option<&dyn Module>)> =
        vec![("input".into(), shape_text(input), "input", None)];
    for row in &rows {
        let params = if row.parameters > 0 {
            format!(" · {} parameters", group_thousands(row.parameters))
        } else {
            String::new()
        };
        boxes.push((
            format!("{}  ({})", row.name, row.layer.kind()),
            format!("{}{params}", shape_text(&row.output_shape[1..])),
            row.layer.kind(),
            Some(row.layer),
        ));
    }
    for (i, (title, detail, kind, layer)) in boxes.iter().enumerate() {
        let y = TOP + i as u32 * (BOX_H + STEP);
        let _ = writeln!(
            svg,
            r##"<g class="layer"><rect x="{LEFT}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="6" fill="{}" stroke="#444"/>"##,
            fill(kind)
        );
        let branches = layer
            .filter(|l| l.topology() == Topology::Branches)
            .map(|l| l.children())
            .unwrap_or_default();
        if branches.is_empty() {
            let _ = writeln!(
                svg,
                r##"<text x="{cx}" y="{}" text-anchor="middle" font-size="15">{}</text><text x="{cx}" y="{}" text-anchor="middle" font-size="13" fill="#333">{}</text></g>"##,
                y + 21,
                escape(title),
                y + 40,
                escape(detail)
            );
        } else {
            // parallel branches side by side, then their outputs concatenated
            let _ = writeln!(
                svg,
                r##"<text x="{cx}" y="{}" text-anchor="middle" font-size="12">{} → concat {}</text>"##,
                y + 13,
                escape(title),
                escape(detail)
            );
            let bw = (BOX_W - 10) / branches.len() as u32;
            for (k, (name, b)) in branches.iter().enumerate() {
                let bx = LEFT + 5 + k as u32 * bw;
                let _ = writeln!(
                    svg,
                    r##"<rect class="branch" x="{bx}" y="{}" width="{}" height="26" rx="4" fill="white" stroke="#888"/><text x="{}" y="{}" text-anchor="middle" font-size="11">{} {}</text>"##,
                    y + 19,
                    bw - 4,
                    bx + bw / 2,
                    y + 36,
                    escape(name),
                    escape(b.kind())
                );
            }
            svg.push_str("</g>\n");
        }
        if i + 1 < boxes.len() {
            let _ = writeln!(
                svg,
                r##"<line class="arrow" x1="{cx}" y1="{}" x2="{cx}" y2="{}" stroke="#444" stroke-width="1.5" marker-end="url(#arrow)"/>"##,
                y + BOX_H,
                y + BOX_H + STEP - 2
            );
        }
        if let Some(Topology::Residual {
            shortcut: Some(label),
        }) = layer.map(|l| l.topology())
        {
            // the shortcut: from the arrow into the block, around its right side, into a +
            let x1 = LEFT + BOX_W + 40;
            let (ya, yb) = (y - STEP / 2, y + BOX_H + STEP / 2);
            let _ = writeln!(
                svg,
                r##"<path class="shortcut" d="M{cx},{ya} H{x1} V{yb} H{}" fill="none" stroke="#c00" stroke-width="1.5" marker-end="url(#arrow)"/><circle cx="{cx}" cy="{yb}" r="8" fill="white" stroke="#c00"/><text x="{cx}" y="{}" text-anchor="middle" font-size="13" fill="#c00">+</text><text x="{}" y="{}" font-size="11" fill="#c00" transform="rotate(90 {} {})">{label}</text>"##,
                cx + 8,
                yb + 4,
                x1 + 6,
                y + BOX_H / 2,
                x1 + 6,
                y + BOX_H / 2
            );
        }
    }
    let total: usize = rows.iter().map(|r| r.parameters).sum();
    let _ = writeln!(
        svg,
        r##"<text x="{cx}" y="{}" text-anchor="middle" font-size="14">total parameters: {}</text>"##,
        h - 14,
        group_thousands(total)
    );
    svg.push_str("</svg>\n");
    Ok(svg)
}

/// One box of the diagram.
struct DiagramRow<'a> {
    name: String,
    layer: &'a dyn Module,
    output_shape: Vec<usize>,
    parameters: usize,
}

/// The top-level layers of `net`, with every top-level `Sequential` that holds residual or
/// branch blocks opened into its children, each with its output shape for one input.
fn diagram_rows<'a>(net: &'a Sequential, input: &[usize]) -> Result<Vec<DiagramRow<'a>>> {
    let mut shape = vec![1];
    shape.extend_from_slice(input);
    // shapes only (Module::infer): no tensor of the input's size is allocated
    let mut x = shape;
    let mut rows = Vec::new();
    let opens = |m: &dyn Module| {
        m.kind() == "Sequential"
            && m.children()
                .iter()
                .any(|(_, c)| c.topology() != Topology::Chain)
    };
    for (name, layer) in net.children() {
        if opens(layer) {
            for (child_name, child) in layer.children() {
                let full = format!("{name}.{child_name}");
                x = child
                    .infer(&x)
                    .map_err(|e| e.in_layer(format!("{full} ({})", child.kind())))?
                    .shape;
                rows.push(DiagramRow {
                    name: full,
                    layer: child,
                    output_shape: x.clone(),
                    parameters: num_parameters(child),
                });
            }
        } else {
            x = layer
                .infer(&x)
                .map_err(|e| e.in_layer(format!("{name} ({})", layer.kind())))?
                .shape;
            rows.push(DiagramRow {
                name,
                layer,
                output_shape: x.clone(),
                parameters: num_parameters(layer),
            });
        }
    }
    Ok(rows)
}
