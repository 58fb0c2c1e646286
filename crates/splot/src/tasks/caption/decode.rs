//! Decoding captions from a trained model, in evaluation mode without gradients.
//!
//! - [`greedy`]: every image of a batch at once, the most probable word at each step,
//!   until `<end>` or `max_len` words.
//! - [`beam_search`]: per image, `width` partial captions; at each step every live beam
//!   is extended by every word and the `width` best by total log-probability are kept;
//!   a beam that emits `<end>` is finished. It stops when `width` beams are finished or
//!   at `max_len` words (unfinished beams then count as they are). Finished captions are
//!   ranked by `log p / len^α` (`α` the length normalisation: 0 none, 1 the mean per
//!   token; `len` counts the words and `<end>`), and the `k` best are returned.

use super::model::{CaptionModel, DecodeState};
use super::text::{END, START};
use crate::error::{Error, Result};
use crate::nn::Module;
use crate::tensor::Tensor;

/// Settings of a decoding.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DecodeConfig {
    /// Beams (1 with [`greedy`]).
    pub width: usize,
    /// The most words of a caption, `<end>` not counted.
    pub max_len: usize,
    /// Length normalisation `α` of the beams' ranking.
    pub length_penalty: f32,
    /// Captions returned per image.
    pub k: usize,
}

impl Default for DecodeConfig {
    /// Width 3, 30 words, `α = 0.7`, the best caption only.
    fn default() -> Self {
        DecodeConfig {
            width: 3,
            max_len: 30,
            length_penalty: 0.7,
            k: 1,
        }
    }
}

/// One decoded caption.
#[derive(Clone, Debug, PartialEq)]
pub struct Hypothesis {
    /// Token ids, without `<start>` and `<end>`.
    pub tokens: Vec<usize>,
    /// Total log-probability (the `<end>` token's included when it was emitted).
    pub log_prob: f32,
    /// The ranking score `log_prob / len^α`.
    pub score: f32,
    /// The attention weights `[P]` of each word (attention model), in order.
    pub attention: Vec<Vec<f32>>,
}

fn check(cfg: &DecodeConfig) -> Result<()> {
    if cfg.width == 0 || cfg.max_len == 0 || cfg.k == 0 || cfg.k > cfg.width {
        return Err(Error::config(
            "caption decode",
            format!(
                "beam width {}, maximum length {} and k {} must be positive, with k ≤ width",
                cfg.width, cfg.max_len, cfg.k
            ),
        ));
    }
    Ok(())
}

/// The features `[n, C, h, w]` of `images` (evaluation mode).
pub fn encode(model: &CaptionModel, images: &Tensor) -> Result<Tensor> {
    model.encoder.forward(images, crate::nn::Mode::Eval)
}

/// The most probable word at each step for every image of `images` at once; a caption
/// that reaches `max_len` words ends there (its log-probability counts `<end>`).
pub fn greedy(model: &CaptionModel, images: &Tensor, max_len: usize) -> Result<Vec<Hypothesis>> {
    let _g = crate::NoGradGuard::new();
    let n = images.dim(0);
    let features = encode(model, images)?;
    let mut state = model.decoder.start(&features)?;
    let mut words = vec![START; n];
    let mut out: Vec<Hypothesis> = (0..n)
        .map(|_| Hypothesis {
            tokens: Vec::new(),
            log_prob: 0.0,
            score: 0.0,
            attention: Vec::new(),
        })
        .collect();
    let mut done = vec![false; n];
    for _ in 0..=max_len {
        let (logp, next, alpha) = model.decoder.step(&state, &words)?;
        let v = logp.dim(1);
        let lp = logp.to_vec();
        let alpha = alpha.map(|a| a.to_vec());
        for k in 0..n {
            if done[k] {
                continue;
            }
            let row = &lp[k * v..(k + 1) * v];
            if out[k].tokens.len() == max_len {
                // No room for another word: the caption ends here.
                out[k].log_prob += row[END];
                done[k] = true;
                continue;
            }
            let (best, &p) = row
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .expect("a vocabulary");
            out[k].log_prob += p;
            words[k] = best;
            if best == END {
                done[k] = true;
            } else {
                out[k].tokens.push(best);
                if let Some(a) = &alpha {
                    let p = a.len() / n;
                    out[k].attention.push(a[k * p..(k + 1) * p].to_vec());
                }
            }
        }
        if done.iter().all(|&d| d) {
            break;
        }
        state = next;
    }
    for h in &mut out {
        h.score = h.log_prob;
    }
    Ok(out)
}

/// A partial caption of a beam.
#[derive(Clone)]
struct Beam {
    tokens: Vec<usize>,
    log_prob: f32,
    attention: Vec<Vec<f32>>,
}

/// The `cfg.k` best captions of each image of `images` by beam search (see the
/// [module](self)), best first.
pub fn beam_search(
    model: &CaptionModel,
    images: &Tensor,
    cfg: &DecodeConfig,
) -> Result<Vec<Vec<Hypothesis>>> {
    check(cfg)?;
    let _g = crate::NoGradGuard::new();
    let features = encode(model, images)?;
    let start = model.decoder.start(&features)?;
    (0..images.dim(0))
        .map(|i| beam_one(model, &start.select(&[i])?, cfg))
        .collect()
}

fn ranked(beam: Beam, ended: bool, alpha: f32) -> Hypothesis {
    let len = beam.tokens.len() + usize::from(ended);
    Hypothesis {
        score: beam.log_prob / (len.max(1) as f32).powf(alpha),
        tokens: beam.tokens,
        log_prob: beam.log_prob,
        attention: beam.attention,
    }
}

fn beam_one(
    model: &CaptionModel,
    start: &DecodeState,
    cfg: &DecodeConfig,
) -> Result<Vec<Hypothesis>> {
    let w = cfg.width;
    let mut state = start.clone();
    let mut beams = vec![Beam {
        tokens: Vec::new(),
        log_prob: 0.0,
        attention: Vec::new(),
    }];
    let mut words = vec![START];
    let mut finished: Vec<Hypothesis> = Vec::new();
    for step in 0..=cfg.max_len {
        let (logp, next, alpha) = model.decoder.step(&state, &words)?;
        let v = logp.dim(1);
        let lp = logp.to_vec();
        let alpha = alpha.map(|a| a.to_vec());
        let p = alpha.as_ref().map_or(0, |a| a.len() / beams.len());
        if step == cfg.max_len {
            // No room for another word: every live beam ends here.
            for (b, mut beam) in std::mem::take(&mut beams).into_iter().enumerate() {
                beam.log_prob += lp[b * v + END];
                finished.push(ranked(beam, true, cfg.length_penalty));
            }
            break;
        }
        // The best `live` extensions of all live beams (a partial selection, then sorted).
        let live = w - finished.len();
        let mut cand: Vec<(f32, usize, usize)> = Vec::with_capacity(beams.len() * v);
        for (b, beam) in beams.iter().enumerate() {
            for (t, &l) in lp[b * v..(b + 1) * v].iter().enumerate() {
                cand.push((beam.log_prob + l, b, t));
            }
        }
        let keep = live.min(cand.len());
        cand.select_nth_unstable_by(keep - 1, |a, b| b.0.total_cmp(&a.0));
        cand.truncate(keep);
        cand.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        let mut rows = Vec::with_capacity(keep);
        let mut next_beams = Vec::with_capacity(keep);
        let mut next_words = Vec::with_capacity(keep);
        for (score, b, t) in cand {
            let mut beam = beams[b].clone();
            beam.log_prob = score;
            if t == END {
                finished.push(ranked(beam, true, cfg.length_penalty));
                continue;
            }
            beam.tokens.push(t);
            if let Some(a) = &alpha {
                beam.attention.push(a[b * p..(b + 1) * p].to_vec());
            }
            rows.push(b);
            next_beams.push(beam);
            next_words.push(t);
        }
        if next_beams.is_empty() {
            beams = next_beams;
            break;
        }
        state = next.select(&rows)?;
        beams = next_beams;
        words = next_words;
    }
    finished.extend(
        beams
            .into_iter()
            .map(|b| ranked(b, false, cfg.length_penalty)),
    );
    finished.sort_by(|a, b| b.score.total_cmp(&a.score));
    finished.truncate(cfg.k);
    Ok(finished)
}
