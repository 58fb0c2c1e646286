//! Captioning: BLEU-1…4 equal to nltk's `corpus_bleu` and CIDEr-D to pycocoevalcap's on a
//! committed fixture; both decoders' teacher-forced loss and every gradient equal to
//! PyTorch's for the same weights; beam search against greedy and exhaustive scoring; a
//! model that learns to caption synthetic pictures through the one training loop; and the
//! bad inputs (an image without a caption, an empty caption file, captions of only
//! unknown words, a checkpoint without its vocabulary).

use splot::data::{Image, MemoryDataset, Sample, Target};
use splot::io::safetensors::{copy_into_module, load};
use splot::nn::{self, Mode, Module};
use splot::tasks::caption::model::{Decoder, ModelConfig};
use splot::tasks::caption::{
    beam_search, greedy, load_captioner, loader, metrics, score_loader, text, Architecture,
    Caption, CaptionData, CaptionOptions, DecodeConfig, Vocabulary,
};
use splot::train::{fit, Outcome, TrainConfig};
use splot::{Rng, Tensor};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/caption")
        .join(name)
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(String::from).collect()
}

#[test]
fn bleu_and_cider_d_equal_nltk_and_pycocoevalcap() {
    let text = std::fs::read_to_string(fixture("metrics.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let corpora = json["corpora"].as_array().unwrap();
    assert_eq!(corpora.len(), 3);
    for (k, c) in corpora.iter().enumerate() {
        let refs: Vec<Vec<Vec<String>>> = c["references"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r.as_array()
                    .unwrap()
                    .iter()
                    .map(|s| words(s.as_str().unwrap()))
                    .collect()
            })
            .collect();
        let cands: Vec<Vec<String>> = c["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| words(s.as_str().unwrap()))
            .collect();
        let bleu = metrics::corpus_bleu(&refs, &cands, 4);
        for n in 0..4 {
            let want = c["bleu"][n].as_f64().unwrap();
            assert!(
                (bleu[n] - want).abs() < 1e-6,
                "corpus {k} BLEU-{}: {} vs nltk {want}",
                n + 1,
                bleu[n]
            );
        }
        let (cider, per) = metrics::cider_d(&refs, &cands);
        let want = c["cider"].as_f64().unwrap();
        assert!(
            (cider - want).abs() < 1e-6,
            "corpus {k} CIDEr-D {cider} vs {want}"
        );
        for (i, (a, b)) in per
            .iter()
            .zip(c["cider_per_image"].as_array().unwrap())
            .enumerate()
        {
            let b = b.as_f64().unwrap();
            assert!(
                (a - b).abs() < 1e-6,
                "corpus {k} image {i}: CIDEr-D {a} vs {b}"
            );
        }
    }
}

#[test]
fn digits_named_counts_exact_numerals() {
    let c = vec![
        words("a small 3 and a large 7"),
        words("the digits 7 and 7"),
        words("a 1"),
    ];
    let d = vec![vec![7, 3], vec![7], vec![1]];
    assert!((metrics::digits_named(&c, &d) - 2.0 / 3.0).abs() < 1e-12);
}

/// The fixture's decoder with its weights, the features (with a gradient) and tokens.
fn fixture_decoder(
    name: &str,
    arch: Architecture,
) -> (Decoder, Tensor, Vec<usize>, HashMap<String, Tensor>) {
    let path = fixture(&format!("{name}.safetensors"));
    let (tensors, meta) = load(&path).unwrap();
    let num = |k: &str| meta[k].parse::<usize>().unwrap();
    let cfg = ModelConfig {
        architecture: arch,
        encoder: "small".into(),
        channels: 1,
        vocab: num("vocab"),
        embed: num("embed"),
        hidden: num("hidden"),
        attention: num("attention"),
        dropout: 0.0,
        alpha_c: meta["alpha_c"].parse().unwrap(),
        seed: 0,
    };
    let decoder = Decoder::new(&cfg, num("channels"), &mut Rng::seed(5)).unwrap();
    let names: Vec<String> = nn::named_tensors(&decoder)
        .into_iter()
        .map(|t| t.name)
        .collect();
    let params: Vec<(String, Tensor)> = tensors
        .iter()
        .filter(|(n, _)| names.contains(n))
        .cloned()
        .collect();
    copy_into_module(&path, &params, &decoder).unwrap();
    let map: HashMap<String, Tensor> = tensors.into_iter().collect();
    let features = map["features"].clone().detach().with_grad();
    let tokens = map["tokens"].to_vec().iter().map(|&v| v as usize).collect();
    (decoder, features, tokens, map)
}

fn decoder_equals_pytorch(name: &str, arch: Architecture) {
    let (decoder, features, tokens, want) = fixture_decoder(name, arch);
    let len = tokens.len() / features.dim(0);
    let loss = decoder.loss(&features, &tokens, len, Mode::Train).unwrap();
    let expected = want["loss"].to_vec()[0];
    assert!(
        (loss.item().unwrap() - expected).abs() < 1e-5,
        "{name}: loss {} vs PyTorch {expected}",
        loss.item().unwrap()
    );
    let grads = loss.backward().unwrap();
    let mut checked = 0;
    for t in nn::named_tensors(&decoder)
        .iter()
        .map(|t| (t.name.clone(), t.tensor.clone()))
        .chain([("features".to_string(), features.clone())])
    {
        let (n, tensor) = t;
        let g = grads
            .get(&tensor)
            .map(|g| g.to_vec())
            .unwrap_or_else(|| vec![0.0; tensor.numel()]);
        splot::testing::assert_close(
            &format!("{name}: ∂loss/∂{n}"),
            &g,
            &want[&format!("grad.{n}")].to_vec(),
            1e-5,
            1e-4,
        )
        .unwrap();
        checked += 1;
    }
    assert!(checked >= 6);
}

#[test]
fn show_tell_loss_and_gradients_equal_pytorch() {
    decoder_equals_pytorch("show_tell", Architecture::ShowTell);
}

#[test]
fn attention_loss_and_gradients_equal_pytorch() {
    decoder_equals_pytorch("attend", Architecture::Attend);
}

// ---------------------------------------------------------------- synthetic pictures

const SIDE: usize = 32;
const PLACES: [(&str, usize, usize); 4] = [
    ("top left", 0, 0),
    ("top right", 0, 1),
    ("bottom left", 1, 0),
    ("bottom right", 1, 1),
];

/// A dark 32×32 picture with a bright square in one quarter (with noise), captioned
/// twice by where the square is.
fn picture(k: usize, rng: &mut Rng) -> Sample {
    let (place, r, c) = PLACES[k % 4];
    let mut data = vec![0u8; SIDE * SIDE];
    for y in 0..SIDE {
        for x in 0..SIDE {
            let inside = y / (SIDE / 2) == r
                && x / (SIDE / 2) == c
                && (3..13).contains(&(y % 16))
                && (3..13).contains(&(x % 16));
            let noise = rng.uniform(0.0, 40.0) as u8;
            data[y * SIDE + x] = if inside { 200 + noise / 2 } else { noise };
        }
    }
    Sample {
        image: Image::new(1, SIDE, SIDE, data).unwrap(),
        target: Target::Captions(vec![
            format!("a square at the {place}"),
            format!("the {place} is bright"),
        ]),
        id: k as u64,
    }
}

fn pictures(n: usize, seed: u64) -> Arc<MemoryDataset> {
    let mut rng = Rng::seed(seed);
    Arc::new(
        MemoryDataset::new((0..n).map(|k| picture(k, &mut rng)).collect(), Vec::new()).unwrap(),
    )
}

fn train_config(epochs: usize) -> TrainConfig {
    TrainConfig {
        model: "caption".into(),
        epochs,
        batch_size: 16,
        optimizer: splot::train::OptimizerKind::Adam,
        lr: 3e-3,
        weight_decay: 0.0,
        schedule: splot::optim::Schedule::Constant,
        seed: 3,
        ..Default::default()
    }
}

fn options(arch: Architecture) -> CaptionOptions {
    CaptionOptions {
        architecture: arch,
        image_size: SIDE,
        embed: 32,
        hidden: 48,
        attention: 16,
        max_len: 8,
        ..Default::default()
    }
}

fn vocab_of(data: &MemoryDataset) -> Vocabulary {
    use splot::data::Dataset;
    let caps: Vec<String> = (0..data.len())
        .flat_map(|i| match data.get(i).unwrap().target {
            Target::Captions(c) => c,
            _ => unreachable!(),
        })
        .collect();
    Vocabulary::build(caps.iter().map(String::as_str), 1).unwrap()
}

fn learns(arch: Architecture) {
    let (train, val) = (pictures(128, 1), pictures(16, 2));
    let vocab = vocab_of(&train);
    let config = train_config(20);
    let task = Caption::new(&config, &options(arch), vocab.clone()).unwrap();
    let tl = loader(task.captioner(), SIDE, train, 16, None, Some(&config)).unwrap();
    let vl = loader(task.captioner(), SIDE, val, 16, None, None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let outcome = fit(
        &task,
        &config,
        &tl,
        &vl,
        dir.path(),
        None,
        &AtomicBool::new(false),
        &mut |_| {},
    )
    .unwrap();
    let Outcome::Finished { best, .. } = outcome else {
        panic!("not finished")
    };
    assert!(best > 0.9, "{arch}: best val BLEU-4 {best}");
    // The checkpoint decodes the same captions, greedy and with beams.
    let back = load_captioner(&dir.path().join("last.safetensors")).unwrap();
    assert_eq!(back.vocab, vocab);
    let g = score_loader(task.captioner(), &vocab, &vl, None, 8).unwrap();
    let g2 = score_loader(&back.model, &back.vocab, &vl, None, 8).unwrap();
    assert_eq!(g.captions, g2.captions);
    let right = g
        .captions
        .iter()
        .enumerate()
        .filter(|(k, c)| c.contains(PLACES[k % 4].0))
        .count();
    assert!(
        right >= 15,
        "{arch}: {right} of 16 captions say where the square is: {:?}",
        g.captions
    );
    let beam = DecodeConfig {
        width: 3,
        max_len: 8,
        length_penalty: 0.7,
        k: 3,
    };
    let b = score_loader(&back.model, &back.vocab, &vl, Some(&beam), 8).unwrap();
    assert!(
        b.bleu[3] > 0.9,
        "{arch}: beam BLEU-4 {:?} {:?} greedy {:?}",
        b.bleu,
        b.captions,
        g.captions
    );
}

#[test]
fn show_tell_learns_where_the_square_is() {
    learns(Architecture::ShowTell);
}

#[test]
fn attention_learns_where_the_square_is() {
    learns(Architecture::Attend);
}

#[test]
fn beam_search_ranks_by_total_log_probability() {
    let train = pictures(8, 4);
    let vocab = vocab_of(&train);
    let task = Caption::new(&train_config(1), &options(Architecture::Attend), vocab).unwrap();
    let l = loader(task.captioner(), SIDE, train, 8, None, None).unwrap();
    let batch = l.epoch(0).next().unwrap().unwrap();
    let model = task.captioner();
    // Width 1 without length normalisation is greedy.
    let one = DecodeConfig {
        width: 1,
        max_len: 6,
        length_penalty: 0.0,
        k: 1,
    };
    let beams = beam_search(model, &batch.images, &one).unwrap();
    let greedy = greedy(model, &batch.images, 6).unwrap();
    for (b, g) in beams.iter().zip(&greedy) {
        assert_eq!(b[0].tokens, g.tokens);
        assert!((b[0].log_prob - g.log_prob).abs() < 1e-4);
    }
    // Wider beams: k results, best first, each log-probability that of its tokens.
    let wide = DecodeConfig {
        width: 4,
        max_len: 6,
        length_penalty: 0.0,
        k: 4,
    };
    let beams = beam_search(model, &batch.images.narrow(0, 0, 1).unwrap(), &wide).unwrap();
    let hyps = &beams[0];
    assert_eq!(hyps.len(), 4);
    for w in hyps.windows(2) {
        assert!(w[0].score >= w[1].score);
    }
    assert!(hyps[0].log_prob >= greedy[0].log_prob - 1e-4);
    let features = model
        .encoder
        .forward(&batch.images.narrow(0, 0, 1).unwrap(), Mode::Eval)
        .unwrap();
    for h in hyps {
        let mut state = model.decoder.start(&features).unwrap();
        let mut word = text::START;
        let mut total = 0.0;
        // Every caption ends with <end>, emitted or forced at the maximum length.
        for &t in h.tokens.iter().chain([&text::END]) {
            let (lp, next, _) = model.decoder.step(&state, &[word]).unwrap();
            total += lp.to_vec()[t];
            state = next;
            word = t;
        }
        assert!(
            (total - h.log_prob).abs() < 1e-3,
            "{total} vs {}",
            h.log_prob
        );
        assert_eq!(h.attention.len(), h.tokens.len());
    }
    assert!(beam_search(model, &batch.images, &DecodeConfig { k: 5, ..wide }).is_err());
}

// ---------------------------------------------------------------- bad input

fn write_png(path: &Path) {
    image::GrayImage::from_pixel(8, 8, image::Luma([9]))
        .save(path)
        .unwrap();
}

fn coco_dir(train_json: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("annotations")).unwrap();
    std::fs::create_dir_all(dir.path().join("images")).unwrap();
    write_png(&dir.path().join("images/a.png"));
    write_png(&dir.path().join("images/b.png"));
    std::fs::write(
        dir.path().join("annotations/captions_train.json"),
        train_json,
    )
    .unwrap();
    let good = r#"{"images": [{"id": 1, "file_name": "a.png", "width": 8, "height": 8}],
                   "annotations": [{"id": 1, "image_id": 1, "caption": "a dark square"}]}"#;
    std::fs::write(dir.path().join("annotations/captions_val.json"), good).unwrap();
    dir
}

#[test]
fn an_image_without_a_caption_is_named() {
    let dir = coco_dir(
        r#"{"images": [{"id": 1, "file_name": "a.png", "width": 8, "height": 8},
                       {"id": 7, "file_name": "b.png", "width": 8, "height": 8}],
            "annotations": [{"id": 1, "image_id": 1, "caption": "a dark square"}]}"#,
    );
    let e = CaptionData::open(dir.path()).err().unwrap().to_string();
    assert!(
        e.contains("image 7") && e.contains("b.png") && e.contains("no caption"),
        "{e}"
    );
    let ok = coco_dir(
        r#"{"images": [{"id": 1, "file_name": "a.png", "width": 8, "height": 8}],
            "annotations": [{"id": 1, "image_id": 1, "caption": "A dark square."}]}"#,
    );
    let data = CaptionData::open(ok.path()).unwrap();
    assert_eq!(data.train_captions(), ["A dark square."]);
}

#[test]
fn an_empty_caption_file_is_an_error_naming_it() {
    let dir = coco_dir("");
    let e = CaptionData::open(dir.path()).err().unwrap().to_string();
    assert!(
        e.contains("captions_train.json") && e.contains("not a COCO annotation file"),
        "{e}"
    );
    let none = coco_dir(r#"{"images": [], "annotations": []}"#);
    let e = CaptionData::open(none.path()).err().unwrap().to_string();
    assert!(e.contains("lists no image"), "{e}");
    assert!(Vocabulary::build(Vec::<&str>::new(), 1)
        .err()
        .unwrap()
        .to_string()
        .contains("no training captions"));
}

#[test]
fn captions_of_only_unknown_words_are_left_out() {
    let vocab = Vocabulary::build(["a square at the top left"], 1).unwrap();
    assert_eq!(
        vocab.encode("zebras grazing"),
        [text::START, text::UNK, text::UNK, text::END]
    );
    let mut rng = Rng::seed(0);
    let mut s = picture(0, &mut rng);
    s.target = Target::Captions(vec!["zebras grazing".into(), "a square".into()]);
    let data = Arc::new(MemoryDataset::new(vec![s.clone()], Vec::new()).unwrap());
    let task = Caption::new(
        &train_config(1),
        &options(Architecture::ShowTell),
        vocab.clone(),
    )
    .unwrap();
    let l = loader(task.captioner(), SIDE, data, 1, None, None).unwrap();
    let batch = l.epoch(0).next().unwrap().unwrap();
    let (tokens, owners) = splot::tasks::caption::batch_tokens(&vocab, &batch).unwrap();
    assert_eq!((tokens.lengths.clone(), owners), (vec![4], vec![0]));
    s.target = Target::Captions(vec!["zebras grazing".into()]);
    let data = Arc::new(MemoryDataset::new(vec![s], Vec::new()).unwrap());
    let l = loader(task.captioner(), SIDE, data, 1, None, None).unwrap();
    let batch = l.epoch(0).next().unwrap().unwrap();
    let e = splot::tasks::caption::batch_loss(task.captioner(), &vocab, &batch, Mode::Train)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("only unknown words"), "{e}");
}

#[test]
fn a_checkpoint_without_its_vocabulary_is_refused() {
    let train = pictures(16, 5);
    let vocab = vocab_of(&train);
    let config = train_config(1);
    let task = Caption::new(&config, &options(Architecture::ShowTell), vocab).unwrap();
    let tl = loader(
        task.captioner(),
        SIDE,
        train.clone(),
        16,
        None,
        Some(&config),
    )
    .unwrap();
    let vl = loader(task.captioner(), SIDE, train, 16, None, None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    fit(
        &task,
        &config,
        &tl,
        &vl,
        dir.path(),
        None,
        &AtomicBool::new(false),
        &mut |_| {},
    )
    .unwrap();
    let path = dir.path().join("last.safetensors");
    assert!(load_captioner(&path).is_ok());
    let (tensors, mut meta) = load(&path).unwrap();
    meta.remove("task.vocab");
    let broken = dir.path().join("no_vocab.safetensors");
    splot::io::safetensors::save(&broken, &tensors, &meta).unwrap();
    let e = load_captioner(&broken).err().unwrap().to_string();
    assert!(
        e.contains("no_vocab.safetensors") && e.contains("no vocabulary"),
        "{e}"
    );
}
