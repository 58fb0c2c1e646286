//! Charts drawn with `plotters`: training curves from a run's `metrics.csv`
//! ([`metrics_png`], [`metrics_svg`]) and the confusion matrix as a labelled heat map
//! ([`confusion_image`]).

use super::{draw_bitmap, ensure_font, text_error, FONT};
use crate::error::{Error, Result};
use crate::train::EpochMetrics;
use image::RgbImage;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

const TRAIN_COLOUR: RGBColor = RGBColor(31, 119, 180);
const TEST_COLOUR: RGBColor = RGBColor(214, 39, 40);

/// Draws loss (left) and accuracy in % (right) per epoch, training and test, on `root`.
fn draw_metrics<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    rows: &[EpochMetrics],
) -> std::result::Result<(), String> {
    root.fill(&WHITE).map_err(text_error)?;
    let panels = root.split_evenly((1, 2));
    let last = rows.last().map_or(1, |r| r.epoch).max(2) as f64;
    let first = rows.first().map_or(1, |r| r.epoch) as f64;
    let x_range = first - 0.2..last + 0.2;
    type Pick = fn(&EpochMetrics) -> f64;
    fn value(r: &EpochMetrics, name: &str) -> f64 {
        r.get(name).unwrap_or(f64::NAN)
    }
    let loss: [(&str, Pick); 2] = [
        ("training", |r| value(r, "train_loss")),
        ("test", |r| value(r, "test_loss")),
    ];
    let acc: [(&str, Pick); 2] = [
        ("training", |r| 100.0 * value(r, "train_accuracy")),
        ("test", |r| 100.0 * value(r, "test_accuracy")),
    ];
    for (panel, (title, series)) in panels.iter().zip([("loss", loss), ("accuracy (%)", acc)]) {
        let values: Vec<f64> = series
            .iter()
            .flat_map(|(_, f)| rows.iter().map(f))
            .filter(|v| v.is_finite())
            .collect();
        let hi = values.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let lo = values.iter().cloned().fold(f64::INFINITY, f64::min);
        let (lo, hi) = if values.is_empty() {
            (0.0, if title == "loss" { 1.0 } else { 100.0 })
        } else if title == "loss" {
            (0.0, (hi * 1.1).max(1e-3))
        } else {
            (
                (lo - 0.1 * (hi - lo).max(1.0)).max(0.0),
                (hi + 0.1 * (hi - lo).max(1.0)).min(100.5),
            )
        };
        let mut chart = ChartBuilder::on(panel)
            .caption(title, (FONT, 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(55)
            .build_cartesian_2d(x_range.clone(), lo..hi)
            .map_err(text_error)?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .x_labels(rows.len().clamp(2, 10))
            .x_label_formatter(&|x| format!("{x:.0}"))
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 15))
            .draw()
            .map_err(text_error)?;
        for ((name, pick), colour) in series.iter().zip([TRAIN_COLOUR, TEST_COLOUR]) {
            // a diverged epoch (NaN loss) is left out rather than drawn at the edge
            let points: Vec<(f64, f64)> = rows
                .iter()
                .map(|r| (r.epoch as f64, pick(r)))
                .filter(|p| p.1.is_finite())
                .collect();
            chart
                .draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))
                .map_err(text_error)?
                .label(*name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
                });
            chart
                .draw_series(points.iter().map(|&p| Circle::new(p, 3, colour.filled())))
                .map_err(text_error)?;
        }
        chart
            .configure_series_labels()
            .label_font((FONT, 14))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(if title == "loss" {
                SeriesLabelPosition::UpperRight
            } else {
                SeriesLabelPosition::LowerRight
            })
            .draw()
            .map_err(text_error)?;
    }
    Ok(())
}

fn check_rows(rows: &[EpochMetrics], (w, h): (u32, u32)) -> Result<()> {
    if rows.is_empty() {
        return Err(Error::config(
            "plot",
            "no epochs to plot (metrics.csv is empty or missing)",
        ));
    }
    if w < 200 || h < 150 || w > 10_000 || h > 10_000 {
        return Err(Error::config(
            "plot",
            format!("a size of {w}×{h} pixels is not sensible; use 200×150 to 10000×10000"),
        ));
    }
    Ok(())
}

/// The training curves as a `size = (width, height)` picture.
pub fn metrics_png(rows: &[EpochMetrics], size: (u32, u32)) -> Result<RgbImage> {
    check_rows(rows, size)?;
    draw_bitmap("plot", size, |root| draw_metrics(root, rows))
}

/// The training curves as SVG text of `size = (width, height)`.
pub fn metrics_svg(rows: &[EpochMetrics], size: (u32, u32)) -> Result<String> {
    check_rows(rows, size)?;
    ensure_font();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        draw_metrics(&root, rows)
            .and_then(|_| root.present().map_err(text_error))
            .map_err(|e| Error::config("plot", format!("drawing failed: {e}")))?;
    }
    Ok(svg)
}

/// Side of one cell of the confusion picture, in pixels.
pub const CELL: u32 = 44;
/// Left edge of the cells (room for the row labels).
pub const CONFUSION_LEFT: u32 = 70;
/// Top edge of the cells (room for the title and column labels).
pub const CONFUSION_TOP: u32 = 70;

/// The top-left pixel of the cell for true class `row`, predicted class `col`.
pub fn confusion_cell(row: usize, col: usize) -> (u32, u32) {
    (
        CONFUSION_LEFT + col as u32 * CELL,
        CONFUSION_TOP + row as u32 * CELL,
    )
}

/// The colour of a cell holding fraction `t` of its row: white (0) to dark blue (1).
pub fn confusion_colour(t: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0);
    let mix = |dark: f64| (255.0 * (1.0 - t) + dark * t).round() as u8;
    RGBColor(mix(8.0), mix(48.0), mix(107.0))
}

/// The confusion matrix (`[true][predicted]` counts) as a heat map: each cell coloured by
/// its share of its row ([`confusion_colour`]) and labelled with its count; rows are the
/// true classes, columns the predicted ones.
pub fn confusion_image(confusion: &[Vec<usize>]) -> Result<RgbImage> {
    let n = confusion.len();
    if n == 0 || confusion.iter().any(|r| r.len() != n) {
        return Err(Error::shape(
            "confusion_image",
            format!(
                "need a square matrix, got {n} rows of lengths {:?}",
                confusion.iter().map(Vec::len).collect::<Vec<_>>()
            ),
        ));
    }
    let side = n as u32 * CELL;
    let size = (CONFUSION_LEFT + side + 20, CONFUSION_TOP + side + 20);
    draw_bitmap("confusion", size, |root| {
        root.fill(&WHITE).map_err(text_error)?;
        let centre = Pos::new(HPos::Center, VPos::Center);
        let label = TextStyle::from((FONT, 15).into_font()).pos(centre);
        let title = TextStyle::from((FONT, 16).into_font()).pos(centre);
        let mid = (CONFUSION_LEFT + side / 2) as i32;
        root.draw(&Text::new("predicted class", (mid, 18), title.clone()))
            .map_err(text_error)?;
        root.draw(&Text::new(
            "true",
            (22, CONFUSION_TOP as i32 - 20),
            title.clone(),
        ))
        .map_err(text_error)?;
        for (t, row) in confusion.iter().enumerate() {
            let total = row.iter().sum::<usize>().max(1) as f64;
            let (_, y) = confusion_cell(t, 0);
            root.draw(&Text::new(
                t.to_string(),
                (CONFUSION_LEFT as i32 - 18, (y + CELL / 2) as i32),
                label.clone(),
            ))
            .map_err(text_error)?;
            for (p, &count) in row.iter().enumerate() {
                let (x, y) = confusion_cell(t, p);
                if t == 0 {
                    root.draw(&Text::new(
                        p.to_string(),
                        ((x + CELL / 2) as i32, CONFUSION_TOP as i32 - 18),
                        label.clone(),
                    ))
                    .map_err(text_error)?;
                }
                let share = count as f64 / total;
                let (x, y) = (x as i32, y as i32);
                let c = CELL as i32;
                root.draw(&Rectangle::new(
                    [(x, y), (x + c, y + c)],
                    confusion_colour(share).filled(),
                ))
                .map_err(text_error)?;
                root.draw(&Rectangle::new(
                    [(x, y), (x + c, y + c)],
                    RGBColor(200, 200, 200),
                ))
                .map_err(text_error)?;
                if count > 0 {
                    let ink = if share > 0.5 { WHITE } else { BLACK };
                    let style = TextStyle::from((FONT, 13).into_font())
                        .pos(centre)
                        .color(&ink);
                    root.draw(&Text::new(count.to_string(), (x + c / 2, y + c / 2), style))
                        .map_err(text_error)?;
                }
            }
        }
        Ok(())
    })
}
