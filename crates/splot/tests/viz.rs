//! Pictures: filter grids, feature maps, saliency, plots — checked pixel by pixel on inputs
//! whose pictures are known.

use image::Rgb;
use splot::nn::{Conv2d, Flatten, Linear, Sequential};
use splot::train::EpochMetrics;
use splot::viz::{self, features, filters, plot, saliency, GAP_COLOUR};
use splot::{Conv2dConfig, Rng, Tensor};

const WHITE: Rgb<u8> = Rgb([255, 255, 255]);
const BLACK: Rgb<u8> = Rgb([0, 0, 0]);

/// A `[out, in, k, k]` weight of zeros with a single 1 at `(o, i, r, c)`.
fn one_hot_weight(shape: [usize; 4], at: [usize; 4]) -> Tensor {
    let mut w = vec![0.0f32; shape.iter().product()];
    let [_, i, k, _] = shape;
    w[((at[0] * i + at[1]) * k + at[2]) * k + at[3]] = 1.0;
    Tensor::from_vec(w, &shape).unwrap()
}

#[test]
fn filter_grid_of_one_input_channel_is_a_square_grid() {
    // 6 filters 5×5 → 3 columns × 2 rows of 40×40 tiles with 2-pixel gaps
    let (scale, gap) = (8, 2);
    let w = one_hot_weight([6, 1, 5, 5], [4, 0, 1, 3]);
    let img = filters::filter_grid(&w, scale, gap).unwrap();
    assert_eq!(img.dimensions(), (3 * 40 + 2 * 2, 2 * 40 + 2));
    // tile 4 is at column 1, row 1; its maximum (row 1, column 3) is one white 8×8 block
    let (x0, y0) = (42, 42);
    for y in 0..40 {
        for x in 0..40 {
            let inside = (8..16).contains(&y) && (24..32).contains(&x);
            let want = if inside { WHITE } else { BLACK };
            assert_eq!(
                *img.get_pixel(x0 + x, y0 + y),
                want,
                "tile pixel ({x}, {y})"
            );
        }
    }
    // the gap columns and rows have the background colour
    for y in 0..img.height() {
        for x in [40, 41, 82, 83] {
            assert_eq!(*img.get_pixel(x, y), GAP_COLOUR);
        }
    }
    for x in 0..img.width() {
        assert_eq!(*img.get_pixel(x, 40), GAP_COLOUR);
        assert_eq!(*img.get_pixel(x, 41), GAP_COLOUR);
    }
    // the other tiles are all zeros: constant, so mid grey
    assert_eq!(*img.get_pixel(0, 0), Rgb([128, 128, 128]));
}

#[test]
fn filter_grid_normalises_each_tile_on_its_own() {
    // two 1×2 filters with very different ranges both span black → white
    let w = Tensor::from_vec(vec![-1.0, 1.0, 100.0, 300.0], &[2, 1, 1, 2]).unwrap();
    let img = filters::filter_grid(&w, 1, 1).unwrap();
    assert_eq!(img.dimensions(), (5, 1));
    let row: Vec<Rgb<u8>> = (0..5).map(|x| *img.get_pixel(x, 0)).collect();
    assert_eq!(row, [BLACK, WHITE, GAP_COLOUR, BLACK, WHITE]);
}

#[test]
fn filter_grid_of_three_channels_is_in_colour() {
    // one 1×1 filter per output; output 1 has its largest value in the green channel
    let w = Tensor::from_vec(vec![0.0, 0.0, 0.0, 0.0, 1.0, 0.0], &[2, 3, 1, 1]).unwrap();
    let img = filters::filter_grid(&w, 3, 1).unwrap();
    assert_eq!(img.dimensions(), (7, 3));
    assert_eq!(*img.get_pixel(5, 1), Rgb([0, 255, 0]));
    assert_eq!(*img.get_pixel(3, 0), GAP_COLOUR);
}

#[test]
fn filter_grid_of_many_input_channels_has_one_row_per_output() {
    let w = one_hot_weight([2, 4, 3, 3], [1, 2, 0, 0]);
    let img = filters::filter_grid(&w, 2, 1).unwrap();
    assert_eq!(img.dimensions(), (4 * 6 + 3, 2 * 6 + 1));
    // row 1, column 2: top-left 2×2 block white
    let (x0, y0) = (2 * 7, 7);
    assert_eq!(*img.get_pixel(x0, y0), WHITE);
    assert_eq!(*img.get_pixel(x0 + 1, y0 + 1), WHITE);
    assert_eq!(*img.get_pixel(x0 + 2, y0), BLACK);
    assert!(filters::filter_grid(&Tensor::zeros(&[2, 3]), 2, 1).is_err());
}

fn lenet() -> Sequential {
    splot::models::build("lenet5", 0.0, 1).unwrap().0
}

#[test]
fn layers_are_found_by_name_and_unknown_names_list_the_valid_ones() {
    let net = lenet();
    assert_eq!(filters::filter_layers(&net), ["c1", "c3", "c5"]);
    let (name, w) = filters::layer_filters(&net, None).unwrap();
    assert_eq!((name.as_str(), w.shape()), ("c1", &[6, 1, 5, 5][..]));
    // C3's sparse connection is shown dense, with zeros where the table has no connection
    let (_, w) = filters::layer_filters(&net, Some("c3")).unwrap();
    assert_eq!(w.shape(), &[16, 6, 5, 5]);
    assert_eq!(w.at(&[0, 3, 2, 2]).unwrap(), 0.0);
    assert_ne!(w.at(&[0, 0, 2, 2]).unwrap(), 0.0);
    for bad in ["c2", "s2", ""] {
        let e = filters::layer_filters(&net, Some(bad))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&format!("'{bad}'")) && e.contains("c1, c3, c5"),
            "{e}"
        );
    }
    // nested names are dotted, as in PyTorch
    let mut rng = Rng::seed(0);
    let nested = Sequential::new().push_named(
        "features",
        Sequential::new().push(Conv2d::new(3, 4, [3, 3], Conv2dConfig::new(), &mut rng).unwrap()),
    );
    assert_eq!(filters::filter_layers(&nested), ["features.0"]);
    assert_eq!(
        filters::layer_filters(&nested, Some("features.0"))
            .unwrap()
            .1
            .shape(),
        &[4, 3, 3, 3]
    );
}

#[test]
fn feature_maps_of_a_known_image() {
    // identity 1×1 convolution with two outputs: the second is the input negated
    let conv = Conv2d::new(1, 2, [1, 1], Conv2dConfig::new(), &mut Rng::seed(0))
        .unwrap()
        .without_bias();
    conv.weight.data_mut().copy_from_slice(&[1.0, -1.0]);
    let net = Sequential::new()
        .push_named("conv", conv)
        .push_named("flatten", Flatten::default());
    let mut x = vec![0.0f32; 16];
    x[5] = 3.0; // row 1, column 1
    let input = Tensor::from_vec(x, &[1, 1, 4, 4]).unwrap();
    let outs = features::layer_outputs(&net, &input).unwrap();
    assert_eq!(outs.len(), 2);
    let img = features::feature_grid(features::pick_layer(&outs, "conv").unwrap(), 2, 1).unwrap();
    // two 8×8 maps side by side with a 1-pixel gap
    assert_eq!(img.dimensions(), (17, 8));
    assert_eq!(*img.get_pixel(2, 2), WHITE); // the bright pixel in map 0
    assert_eq!(*img.get_pixel(0, 0), BLACK);
    assert_eq!(*img.get_pixel(9 + 2, 2), BLACK); // negated in map 1
    assert_eq!(*img.get_pixel(9, 0), WHITE);
    assert_eq!(*img.get_pixel(8, 3), GAP_COLOUR);
    // a vector output: 32 cells in a 6×6 block, normalised together
    let img = features::feature_grid(&outs[1].1, 1, 1).unwrap();
    assert_eq!(img.dimensions(), (6, 6));
    let e = features::pick_layer(&outs, "nope").unwrap_err().to_string();
    assert!(e.contains("'nope'") && e.contains("conv, flatten"), "{e}");
}

#[test]
fn read_digit_rejects_files_that_are_not_pictures() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.png");
    std::fs::write(&bad, b"not a picture").unwrap();
    let e = features::read_digit(&bad, [1, 32, 32])
        .unwrap_err()
        .to_string();
    assert!(e.contains("bad.png") && e.contains("decode"), "{e}");
    let ok = dir.path().join("ok.png");
    image::GrayImage::from_fn(20, 30, |x, _| image::Luma([if x == 10 { 0 } else { 255 }]))
        .save(&ok)
        .unwrap();
    assert_eq!(
        features::read_digit(&ok, [1, 32, 32]).unwrap().shape(),
        &[1, 1, 32, 32]
    );
}

#[test]
fn saliency_of_a_model_that_reads_one_pixel_lights_that_pixel() {
    // a linear layer over the flattened 5×5 input whose class-1 score reads pixel (3, 2)
    let lin = Linear::new(25, 2, &mut Rng::seed(0))
        .unwrap()
        .without_bias();
    {
        let mut w = lin.weight.data_mut();
        w.fill(0.0);
        w[25 + 3 * 5 + 2] = 2.0;
    }
    let net = Sequential::new().push(Flatten::default()).push(lin);
    let mut x = vec![0.5f32; 25];
    x[3 * 5 + 2] = 1.0; // class 1 scores 2, class 0 scores 0
    let input = Tensor::from_vec(x, &[1, 1, 5, 5]).unwrap();
    let (class, grad) = saliency::saliency(&net, &input).unwrap();
    assert_eq!(class, 1);
    let g = grad.to_vec();
    for (p, &v) in g.iter().enumerate() {
        assert_eq!(v, if p == 17 { 2.0 } else { 0.0 }, "pixel {p}");
    }
    let scale = 4u32;
    let img = saliency::saliency_overlay(&input, &grad, scale as usize).unwrap();
    assert_eq!(img.dimensions(), (20, 20));
    for y in 0..20u32 {
        for x in 0..20u32 {
            let lit = (x / scale, y / scale) == (2, 3);
            let px = *img.get_pixel(x, y);
            if lit {
                assert_eq!(px, WHITE, "({x}, {y})");
            } else {
                // the dimmed grey input: 0.5 is the smallest value → black
                assert_eq!(px, BLACK, "({x}, {y})");
            }
        }
    }
}

#[test]
fn saliency_through_a_convolution_with_one_tap() {
    // a 3×3 convolution whose only tap is the centre, then flatten + linear reading output
    // pixel (1, 1) of a 3×3 map: the score depends only on input pixel (2, 2) of the 5×5
    let conv = Conv2d::new(1, 1, [3, 3], Conv2dConfig::new(), &mut Rng::seed(0))
        .unwrap()
        .without_bias();
    {
        let mut w = conv.weight.data_mut();
        w.fill(0.0);
        w[4] = 1.0;
    }
    let lin = Linear::new(9, 1, &mut Rng::seed(0)).unwrap().without_bias();
    {
        let mut w = lin.weight.data_mut();
        w.fill(0.0);
        w[4] = -3.0;
    }
    let net = Sequential::new()
        .push(conv)
        .push(Flatten::default())
        .push(lin);
    let input = Tensor::full(&[1, 1, 5, 5], 0.1);
    let (_, grad) = saliency::saliency(&net, &input).unwrap();
    let m = saliency::magnitude(&grad);
    let hot: Vec<usize> = (0..25).filter(|&p| m[p] > 0.0).collect();
    assert_eq!(hot, [12]);
    assert_eq!(m[12], 3.0);
}

#[test]
fn heat_colour_map_runs_from_black_through_red_and_yellow_to_white() {
    assert_eq!(viz::heat(0.0), BLACK);
    assert_eq!(viz::heat(1.0 / 3.0), Rgb([255, 0, 0]));
    assert_eq!(viz::heat(2.0 / 3.0), Rgb([255, 255, 0]));
    assert_eq!(viz::heat(1.0), WHITE);
}

fn metrics(n: usize) -> Vec<EpochMetrics> {
    (1..=n)
        .map(|e| EpochMetrics {
            epoch: e,
            lr: 0.01,
            values: vec![
                ("train_loss".into(), 1.0 / e as f64),
                ("train_accuracy".into(), 0.9 + 0.01 * e as f64),
                ("test_loss".into(), 1.1 / e as f64),
                ("test_accuracy".into(), 0.88 + 0.01 * e as f64),
            ],
            seconds: 1.0,
            images_per_second: 1000.0,
        })
        .collect()
}

/// Number of pixels of roughly the given colour.
fn count_near(img: &image::RgbImage, colour: [u8; 3]) -> usize {
    img.pixels()
        .filter(|p| p.0.iter().zip(colour).all(|(&a, b)| a.abs_diff(b) < 40))
        .count()
}

#[test]
fn training_curves_have_the_size_asked_for_and_are_not_blank() {
    let img = plot::metrics_png(&metrics(5), (800, 400)).unwrap();
    assert_eq!(img.dimensions(), (800, 400));
    // the training (blue) and test (red) lines, and dark text and axes
    assert!(count_near(&img, [31, 119, 180]) > 200);
    assert!(count_near(&img, [214, 39, 40]) > 200);
    assert!(count_near(&img, [0, 0, 0]) > 500);
    // a single epoch still plots
    assert!(plot::metrics_png(&metrics(1), (400, 300)).is_ok());
    let svg = plot::metrics_svg(&metrics(3), (640, 320)).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("accuracy") && svg.contains("epoch"));
    assert!(svg.contains("width=\"640\""));
    // a run that diverged: NaN losses are left out, the picture is still drawn
    let mut nan = metrics(3);
    nan[2].set("train_loss", f64::NAN);
    nan[2].set("test_loss", f64::NAN);
    assert!(plot::metrics_png(&nan, (600, 300)).is_ok());
    nan.iter_mut()
        .for_each(|r| r.set("train_accuracy", f64::NAN));
    nan.iter_mut()
        .for_each(|r| r.set("test_accuracy", f64::NAN));
    assert!(plot::metrics_png(&nan, (600, 300)).is_ok());
    let e = plot::metrics_png(&[], (800, 400)).unwrap_err().to_string();
    assert!(e.contains("no epochs"), "{e}");
    assert!(plot::metrics_png(&metrics(2), (10, 10)).is_err());
}

#[test]
fn confusion_matrix_cells_are_coloured_by_their_share_of_the_row() {
    let mut m = vec![vec![0usize; 3]; 3];
    m[0][0] = 10;
    m[1][1] = 5;
    m[1][2] = 5;
    m[2][2] = 7;
    let img = plot::confusion_image(&m).unwrap();
    let side = 3 * plot::CELL;
    assert_eq!(
        img.dimensions(),
        (
            plot::CONFUSION_LEFT + side + 20,
            plot::CONFUSION_TOP + side + 20
        )
    );
    // sample a cell just inside its corner, away from the border and the number
    let at = |r, c| {
        let (x, y) = plot::confusion_cell(r, c);
        img.get_pixel(x + 3, y + 3).0
    };
    let colour = |t| {
        let c = plot::confusion_colour(t);
        [c.0, c.1, c.2]
    };
    assert_eq!(at(0, 0), colour(1.0));
    assert_eq!(at(0, 1), [255, 255, 255]);
    assert_eq!(at(1, 1), colour(0.5));
    assert_eq!(at(1, 2), colour(0.5));
    // labels are drawn: dark pixels left of the cells
    let dark_labels = (0..plot::CONFUSION_LEFT)
        .flat_map(|x| (plot::CONFUSION_TOP..plot::CONFUSION_TOP + side).map(move |y| (x, y)))
        .filter(|&(x, y)| img.get_pixel(x, y).0[0] < 100)
        .count();
    assert!(dark_labels > 20, "{dark_labels}");
    assert!(plot::confusion_image(&[vec![1, 2]]).is_err());
}

#[test]
fn pictures_are_written_atomically_and_bad_paths_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let img = image::RgbImage::from_pixel(3, 2, Rgb([1, 2, 3]));
    let path = dir.path().join("a.png");
    viz::save_png(&path, &img).unwrap();
    assert_eq!(image::open(&path).unwrap().to_rgb8(), img);
    let missing = dir.path().join("no/such/dir/a.png");
    let e = viz::save_png(&missing, &img).unwrap_err().to_string();
    assert!(e.contains("no/such/dir/a.png"), "{e}");
    assert!(viz::is_svg(std::path::Path::new("x.SVG")));
    assert!(!viz::is_svg(std::path::Path::new("x.png")));
}

#[test]
fn padding_picture_shows_each_value_as_its_grey_and_frames_the_original() {
    use splot::viz::pad::{cell_origin, padding_picture, CELL, FRAME_COLOUR};
    use splot::{Padding2d, PaddingMode};
    let image = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[1, 1, 2, 2]).unwrap();
    let modes = [PaddingMode::Zeros, PaddingMode::Replicate];
    let img = padding_picture(&image, Padding2d::same(1), &modes).unwrap();
    let dims = (4, 4);
    // two panels side by side
    let (x1, _) = cell_origin(1, dims, 3, 3);
    assert!(img.width() >= x1 + CELL && img.width() < x1 + CELL + 40);
    // sample each cell near its corner, away from the number and the frame
    let at = |panel, r, c| {
        let (x, y) = cell_origin(panel, dims, r, c);
        img.get_pixel(x + 5, y + 5).0
    };
    // zeros: the border is 0 = the smallest value shown = black; the 4 is white
    assert_eq!(at(0, 0, 0), [0, 0, 0]);
    assert_eq!(at(0, 2, 2), [255, 255, 255]);
    // replicate: the top-left corner copies the 1 → grey 1/4 of the way
    assert_eq!(at(1, 0, 0), [64, 64, 64]);
    assert_eq!(at(1, 3, 3), [255, 255, 255]);
    // the red frame lies on the edge of the original 2×2, not on the border cells' insides
    let (fx, fy) = cell_origin(0, dims, 1, 1);
    let red = [FRAME_COLOUR.0, FRAME_COLOUR.1, FRAME_COLOUR.2];
    for d in [0, CELL / 2, 2 * CELL - 1] {
        assert_eq!(img.get_pixel(fx, fy + d).0, red, "left edge +{d}");
        assert_eq!(img.get_pixel(fx + d, fy).0, red, "top edge +{d}");
        assert_eq!(
            img.get_pixel(fx + 2 * CELL, fy + d).0,
            red,
            "right edge +{d}"
        );
    }
    // a mode that cannot pad that much is the same clear error as in pad2d
    let e = padding_picture(&image, Padding2d::same(2), &[PaddingMode::Reflect])
        .unwrap_err()
        .to_string();
    assert!(e.contains("reflect"), "{e}");
}

#[test]
fn diagram_shows_every_layer_residual_shortcuts_and_branches() {
    use splot::nn::{Activation, Concat, Residual};
    use splot::viz::diagram::summary_svg;
    let mut rng = Rng::seed(0);
    let same = Conv2dConfig::new().padding(1);
    let net = Sequential::new()
        .push_named("stem", Conv2d::new(1, 4, [3, 3], same, &mut rng).unwrap())
        .push_named(
            "block",
            Residual::identity(
                Sequential::new()
                    .push(Conv2d::new(4, 4, [3, 3], same, &mut rng).unwrap())
                    .push(Activation::ReLU),
            ),
        )
        .push_named(
            "inception",
            Concat::new()
                .branch_named(
                    "1x1",
                    Conv2d::new(4, 2, [1, 1], Conv2dConfig::new(), &mut rng).unwrap(),
                )
                .branch_named("3x3", Conv2d::new(4, 3, [3, 3], same, &mut rng).unwrap()),
        )
        .push_named("flatten", Flatten::default());
    let svg = summary_svg(&net, &[1, 6, 6]).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert_eq!(svg.matches("class=\"layer\"").count(), 5); // input + 4 layers
    assert_eq!(svg.matches("class=\"arrow\"").count(), 4);
    assert_eq!(svg.matches("class=\"shortcut\"").count(), 1);
    assert_eq!(svg.matches("class=\"branch\"").count(), 2);
    for text in [
        "stem  (Conv2d)",
        "4×6×6 · 40 parameters",
        "block  (Residual)",
        "inception  (Concat)",
        "1x1 Conv2d",
        "flatten  (Flatten)",
        "180",
    ] {
        assert!(svg.contains(text), "missing '{text}' in\n{svg}");
    }
    // a layer that cannot take its input is the summary's error, naming the layer
    let e = summary_svg(&net, &[2, 6, 6]).unwrap_err().to_string();
    assert!(e.contains("stem"), "{e}");
}

#[test]
fn zoo_diagrams_open_stages_and_draw_shortcuts_and_branches() {
    use splot::viz::diagram::summary_svg;
    let svg = |name: &str| {
        let (net, input) = splot::models::build(name, 0.0, 0).unwrap();
        summary_svg(&net, &input).unwrap()
    };
    let r18 = svg("resnet18");
    assert_eq!(
        r18.matches("class=\"shortcut\"").count(),
        8,
        "one shortcut per basic block"
    );
    assert_eq!(r18.matches(">projection<").count(), 3);
    assert!(r18.contains("layer2.0  (BasicBlock)") && r18.contains("128×28×28"));
    assert_eq!(
        svg("plain18").matches("class=\"shortcut\"").count(),
        0,
        "plain nets have none"
    );
    assert_eq!(svg("resnet20").matches(">zero-pad<").count(), 2);
    let g = svg("googlenet");
    assert_eq!(
        g.matches("class=\"branch\"").count(),
        9 * 4,
        "four branches per Inception module"
    );
}
