//! The captioning models: a CNN encoder and an LSTM language model.
//!
//! - [`Encoder`]: a zoo network cut before its pooling head (`avgpool`), or the small
//!   network [`small_encoder`] (four 3×3 convolution, batch-norm, ReLU, 2×2 max-pool
//!   blocks); it maps images `[n, c, h, w]` to a feature map `[n, C, h', w']`.
//! - [`ShowTell`] (Vinyals et al. 2015): the feature map averaged to `[n, C]`, projected
//!   to the embedding (`img_proj`) and fed as the LSTM's first input; then the word
//!   embeddings (`embed`) of `<start> w_1 … w_T`; the outputs after each word go through
//!   dropout and `fc` to scores over the vocabulary, the next word's.
//! - [`Attend`] (Xu et al. 2015, soft attention): `a [n, P, C]` (`P = h'·w'`) initialises
//!   `h_0 = init_h(ā)`, `c_0 = init_c(ā)`; at step `t` `e = full_att(relu(enc_att(a) +
//!   dec_att(h)))`, `α = softmax_P(e)`, `z = σ(f_beta(h)) ⊙ Σ_p α_p a_p`, `(h, c) =
//!   cell([embed(w_t), z], (h, c))`, scores `fc(dropout(h))`. Its loss adds the doubly
//!   stochastic regulariser `λ·mean_{n,p} (1 − Σ_t α_{t,p})²`.
//!
//! Parameter names follow the PyTorch modules of `scripts/fixtures_caption_model.py`
//! (`decoder.lstm.weight_ih_l0`, `decoder.cell.weight_hh`, …).

use super::text::PAD;
use crate::error::{Error, Result};
use crate::models::build;
use crate::nn::{
    Activation, BatchNorm, Conv2d, Dropout, Embedding, LSTMCell, Linear, LstmConfig, Mode, Module,
    Pool, Sequential, LSTM,
};
use crate::ops::conv::Conv2dConfig;
use crate::ops::index::Indices;
use crate::ops::pool::Pool2dConfig;
use crate::tensor::{Rng, Tensor};

/// Which language model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Architecture {
    /// Show and Tell: the image fed once, first.
    ShowTell,
    /// Show, Attend and Tell: soft attention over the feature map at every step.
    Attend,
}

impl std::str::FromStr for Architecture {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "show-tell" | "showtell" => Ok(Architecture::ShowTell),
            "attend" | "attention" | "show-attend-tell" => Ok(Architecture::Attend),
            _ => Err(Error::Parse {
                what: "caption model",
                msg: format!("unknown caption model '{s}'; expected show-tell or attend"),
            }),
        }
    }
}

impl std::fmt::Display for Architecture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Architecture::ShowTell => "show-tell",
            Architecture::Attend => "attend",
        })
    }
}

/// The sizes of a captioning model.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelConfig {
    /// The language model.
    pub architecture: Architecture,
    /// `small` ([`small_encoder`]) or a zoo network's name.
    pub encoder: String,
    /// Input channels of the small encoder (1 grey, 3 colour).
    pub channels: usize,
    /// Tokens in the vocabulary `V`.
    pub vocab: usize,
    /// Word embedding size `E`.
    pub embed: usize,
    /// LSTM hidden size `H`.
    pub hidden: usize,
    /// Attention size `A` (attention model).
    pub attention: usize,
    /// Dropout before `fc`.
    pub dropout: f32,
    /// Weight `λ` of the doubly stochastic regulariser (attention model).
    pub alpha_c: f32,
    /// Seed of the initialisation and the dropout masks.
    pub seed: u64,
}

/// The small encoder: four blocks `conv 3×3 (pad 1) → batch norm → ReLU → max-pool 2×2`
/// with `16, 32, 64, 128` channels: a 64×64 image gives a 4×4 map of 128 features. It
/// takes the image's `channels` and two more, the pixels' coordinates `x, y ∈ [−1, 1]`
/// ([`with_coordinates`], CoordConv, Liu et al. 2018), so that its features say where
/// things are even after pooling ("a 3 at the top left").
pub fn small_encoder(channels: usize, rng: &mut Rng) -> Result<Sequential> {
    let mut net = Sequential::new();
    let mut c_in = channels + 2;
    for (k, c) in [16usize, 32, 64, 128].into_iter().enumerate() {
        let conv =
            Conv2d::new(c_in, c, [3, 3], Conv2dConfig::new().padding(1), rng)?.without_bias();
        net = net.push_named(&format!("conv{k}"), conv);
        net = net.push_named(&format!("bn{k}"), BatchNorm::new_2d(c)?);
        net = net.push_named(&format!("relu{k}"), Activation::ReLU);
        net = net.push_named(&format!("pool{k}"), Pool::Max(Pool2dConfig::new(2)));
        c_in = c;
    }
    Ok(net)
}

/// `x [n, c, h, w]` with two more channels: each pixel's column and row mapped
/// linearly to `[−1, 1]` (`−1` at the left and top, 1 at the right and bottom).
pub fn with_coordinates(x: &Tensor) -> Result<Tensor> {
    let (n, h, w) = (x.dim(0), x.dim(2), x.dim(3));
    let at = |i: usize, size: usize| {
        if size > 1 {
            2.0 * i as f32 / (size - 1) as f32 - 1.0
        } else {
            0.0
        }
    };
    let mut planes = Vec::with_capacity(n * 2 * h * w);
    for _ in 0..n {
        planes.extend((0..h * w).map(|p| at(p % w, w)));
        planes.extend((0..h * w).map(|p| at(p / w, h)));
    }
    Tensor::concat(&[x, &Tensor::from_vec(planes, &[n, 2, h, w])?], 1)
}

/// A CNN that maps images to a feature map.
pub struct Encoder {
    net: Sequential,
    channels: usize,
    input_channels: usize,
    coordinates: bool,
}

impl Encoder {
    /// The encoder `name`: `small`, or a zoo network cut before its `avgpool`.
    pub fn new(name: &str, channels: usize, rng: &mut Rng) -> Result<Encoder> {
        if name == "small" {
            return Ok(Encoder {
                net: small_encoder(channels, rng)?,
                channels: 128,
                input_channels: channels,
                coordinates: true,
            });
        }
        let (zoo, input) = build(name, 0.0, rng.next_u64())?;
        let net = zoo.take_until("avgpool").ok_or_else(|| {
            Error::config(
                "caption",
                format!("encoder '{name}' has no avgpool layer to cut its head at; use small or a ResNet, VGG or AlexNet"),
            )
        })?;
        let probe = {
            let _g = crate::NoGradGuard::new();
            net.forward(&Tensor::zeros(&[1, input[0], 64, 64]), Mode::Eval)?
        };
        Ok(Encoder {
            channels: probe.dim(1),
            net,
            input_channels: input[0],
            coordinates: false,
        })
    }

    /// Features per position `C`.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Input channels the network takes.
    pub fn input_channels(&self) -> usize {
        self.input_channels
    }
}

impl Module for Encoder {
    fn kind(&self) -> &'static str {
        "Encoder"
    }
    fn forward(&self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        let x = crate::tasks::classify::match_channels(x, self.input_channels)?;
        if self.coordinates {
            self.net.forward(&with_coordinates(&x)?, mode)
        } else {
            self.net.forward(&x, mode)
        }
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        self.net.children()
    }
}

/// The recurrent state of a batch of partial captions, one row each.
#[derive(Clone)]
pub struct DecodeState {
    /// `[m, H]`.
    pub h: Tensor,
    /// `[m, H]`.
    pub c: Tensor,
    /// The attention model's features `a [m, P, C]` and `enc_att(a) [m, P, A]`.
    pub memory: Option<(Tensor, Tensor)>,
}

impl DecodeState {
    /// The rows `rows` of the state (beams kept, reordered or repeated).
    pub fn select(&self, rows: &[usize]) -> Result<DecodeState> {
        Ok(DecodeState {
            h: self.h.index_select(0, rows)?,
            c: self.c.index_select(0, rows)?,
            memory: match &self.memory {
                Some((a, att)) => Some((a.index_select(0, rows)?, att.index_select(0, rows)?)),
                None => None,
            },
        })
    }
}

/// What one decoding step gives: scores over the vocabulary `[m, V]`, the next state and
/// (attention model) the attention weights `[m, P]`.
pub type StepOutput = (Tensor, DecodeState, Option<Tensor>);

/// Show and Tell's language model.
pub struct ShowTell {
    img_proj: Linear,
    embed: Embedding,
    lstm: LSTM,
    dropout: Dropout,
    fc: Linear,
}

/// Show, Attend and Tell's language model.
pub struct Attend {
    embed: Embedding,
    enc_att: Linear,
    dec_att: Linear,
    full_att: Linear,
    init_h: Linear,
    init_c: Linear,
    f_beta: Linear,
    cell: LSTMCell,
    dropout: Dropout,
    fc: Linear,
    alpha_c: f32,
}

/// `x [.., in]` through `layer`, any leading shape.
fn linear_nd(layer: &Linear, x: &Tensor) -> Result<Tensor> {
    let s = x.shape().to_vec();
    let last = s[s.len() - 1];
    let y = x
        .reshape(&[x.numel() / last, last])?
        .linear(&layer.weight, layer.bias.as_ref())?;
    let mut out = s;
    let k = out.len() - 1;
    out[k] = y.dim(1);
    y.reshape(&out)
}

/// `[n, C, h, w]` as `[n, h·w, C]`.
fn positions(features: &Tensor) -> Result<Tensor> {
    let (n, c) = (features.dim(0), features.dim(1));
    features
        .reshape(&[n, c, features.numel() / (n * c)])?
        .permute(&[0, 2, 1])
}

fn ids(values: &[usize], shape: &[usize]) -> Result<Indices> {
    Indices::new(values.to_vec(), shape)
}

impl ShowTell {
    fn new(cfg: &ModelConfig, channels: usize, rng: &mut Rng) -> Result<ShowTell> {
        Ok(ShowTell {
            img_proj: Linear::new(channels, cfg.embed, rng)?,
            embed: Embedding::new(cfg.vocab, cfg.embed, Some(PAD), rng)?,
            lstm: LSTM::new(
                LstmConfig::new(cfg.embed, cfg.hidden).batch_first(true),
                rng,
            )?,
            dropout: Dropout::new(cfg.dropout, rng.next_u64())?,
            fc: Linear::new(cfg.hidden, cfg.vocab, rng)?,
        })
    }

    /// Teacher forcing: `features [m, C, h, w]` (one row per caption) and `tokens`
    /// `[m, L]` (`<start> … <end>` and padding) give the scores `[m, L − 1, V]` of
    /// tokens `1..L`.
    pub fn teacher(
        &self,
        features: &Tensor,
        tokens: &[usize],
        len: usize,
        mode: Mode,
    ) -> Result<Tensor> {
        let m = features.dim(0);
        let pooled = features
            .reshape(&[m, features.dim(1), features.numel() / (m * features.dim(1))])?
            .mean(2, false)?;
        let img =
            self.img_proj
                .forward(&pooled, mode)?
                .reshape(&[m, 1, self.embed.weight.dim(1)])?;
        let inputs: Vec<usize> = (0..m)
            .flat_map(|k| tokens[k * len..k * len + len - 1].to_vec())
            .collect();
        let words = self.embed.lookup(&ids(&inputs, &[m, len - 1])?)?;
        let x = Tensor::concat(&[&img, &words], 1)?;
        let (out, _) = self.lstm.forward_seq(&x, None, None, mode)?;
        let out = out.narrow(1, 1, len - 1)?;
        let out = self.dropout.forward(&out, mode)?;
        linear_nd(&self.fc, &out)
    }

    fn step_lstm(&self, x: &Tensor, h: &Tensor, c: &Tensor) -> Result<(Tensor, Tensor, Tensor)> {
        let (m, hs) = (h.dim(0), h.dim(1));
        let x = x.reshape(&[m, 1, x.dim(1)])?;
        let (out, (hn, cn)) = self.lstm.forward_seq(
            &x,
            Some((&h.reshape(&[1, m, hs])?, &c.reshape(&[1, m, hs])?)),
            None,
            Mode::Eval,
        )?;
        Ok((
            out.reshape(&[m, hs])?,
            hn.reshape(&[m, hs])?,
            cn.reshape(&[m, hs])?,
        ))
    }
}

impl Attend {
    fn new(cfg: &ModelConfig, channels: usize, rng: &mut Rng) -> Result<Attend> {
        Ok(Attend {
            embed: Embedding::new(cfg.vocab, cfg.embed, Some(PAD), rng)?,
            enc_att: Linear::new(channels, cfg.attention, rng)?,
            dec_att: Linear::new(cfg.hidden, cfg.attention, rng)?,
            full_att: Linear::new(cfg.attention, 1, rng)?,
            init_h: Linear::new(channels, cfg.hidden, rng)?,
            init_c: Linear::new(channels, cfg.hidden, rng)?,
            f_beta: Linear::new(cfg.hidden, channels, rng)?,
            cell: LSTMCell::new(cfg.embed + channels, cfg.hidden, true, rng)?,
            dropout: Dropout::new(cfg.dropout, rng.next_u64())?,
            fc: Linear::new(cfg.hidden, cfg.vocab, rng)?,
            alpha_c: cfg.alpha_c,
        })
    }

    fn start(&self, features: &Tensor, mode: Mode) -> Result<DecodeState> {
        let a = positions(features)?;
        let mean = a.mean(1, false)?;
        Ok(DecodeState {
            h: self.init_h.forward(&mean, mode)?,
            c: self.init_c.forward(&mean, mode)?,
            memory: Some((a.clone(), linear_nd(&self.enc_att, &a)?)),
        })
    }

    /// One step from the words `words [m, E]` (embedded): scores, next state, `α [m, P]`.
    fn step(&self, state: &DecodeState, words: &Tensor, mode: Mode) -> Result<StepOutput> {
        let (a, att1) = state
            .memory
            .as_ref()
            .expect("the attention model's state has its memory");
        let (m, p, a_dim) = (att1.dim(0), att1.dim(1), att1.dim(2));
        let att2 = self
            .dec_att
            .forward(&state.h, mode)?
            .reshape(&[m, 1, a_dim])?;
        let e = linear_nd(&self.full_att, &att1.add(&att2)?.relu())?.reshape(&[m, p])?;
        let alpha = e.softmax(1)?;
        let context = alpha.reshape(&[m, 1, p])?.bmm(a)?.reshape(&[m, a.dim(2)])?;
        let gate = self.f_beta.forward(&state.h, mode)?.sigmoid();
        let z = gate.mul(&context)?;
        let x = Tensor::concat(&[words, &z], 1)?;
        let (h, c) = self.cell.step(&x, Some((&state.h, &state.c)))?;
        let scores = self.fc.forward(&self.dropout.forward(&h, mode)?, mode)?;
        let next = DecodeState {
            h,
            c,
            memory: state.memory.clone(),
        };
        Ok((scores, next, Some(alpha)))
    }

    /// Teacher forcing: the scores `[m, L − 1, V]` and the regulariser
    /// `λ·mean_{m,p} (1 − Σ_t α_{t,p})²` over each caption's own steps.
    pub fn teacher(
        &self,
        features: &Tensor,
        tokens: &[usize],
        len: usize,
        mode: Mode,
    ) -> Result<(Tensor, Tensor)> {
        let m = features.dim(0);
        let mut state = self.start(features, mode)?;
        let p = state.memory.as_ref().map_or(0, |(a, _)| a.dim(1));
        let mut scores = Vec::with_capacity(len - 1);
        let mut alpha_sum: Option<Tensor> = None;
        for t in 0..len - 1 {
            let w: Vec<usize> = (0..m).map(|k| tokens[k * len + t]).collect();
            let live: Vec<f32> = (0..m)
                .map(|k| f32::from(tokens[k * len + t + 1] != PAD))
                .collect();
            let words = self.embed.lookup(&ids(&w, &[m])?)?;
            let (s, next, alpha) = self.step(&state, &words, mode)?;
            let alpha = alpha
                .expect("attention weights")
                .mul(&Tensor::from_vec(live, &[m, 1])?)?;
            alpha_sum = Some(match alpha_sum {
                Some(sum) => sum.add(&alpha)?,
                None => alpha,
            });
            scores.push(s.reshape(&[m, 1, s.dim(1)])?);
            state = next;
        }
        let refs: Vec<&Tensor> = scores.iter().collect();
        let scores = Tensor::concat(&refs, 1)?;
        let sum = alpha_sum.unwrap_or_else(|| Tensor::zeros(&[m, p]));
        let reg = sum
            .neg()
            .add_scalar(1.0)
            .square()
            .mean_all()
            .scale(self.alpha_c);
        Ok((scores, reg))
    }
}

/// The language model of either architecture.
// One decoder per model: the variants' size difference costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum Decoder {
    /// Show and Tell.
    ShowTell(ShowTell),
    /// Show, Attend and Tell.
    Attend(Attend),
}

impl Decoder {
    /// A new decoder for features of `channels` values per position.
    pub fn new(cfg: &ModelConfig, channels: usize, rng: &mut Rng) -> Result<Decoder> {
        Ok(match cfg.architecture {
            Architecture::ShowTell => Decoder::ShowTell(ShowTell::new(cfg, channels, rng)?),
            Architecture::Attend => Decoder::Attend(Attend::new(cfg, channels, rng)?),
        })
    }

    /// The masked cross-entropy of `tokens` (`[m, len]`, `<start> … <end>` then
    /// [`PAD`]) given `features [m, C, h, w]` under teacher forcing, mean over the
    /// tokens that are not padding (plus the attention model's regulariser).
    pub fn loss(
        &self,
        features: &Tensor,
        tokens: &[usize],
        len: usize,
        mode: Mode,
    ) -> Result<Tensor> {
        if len < 2 {
            return Err(Error::shape(
                "caption",
                "a caption needs at least <start> and <end>",
            ));
        }
        let m = features.dim(0);
        let (scores, reg) = match self {
            Decoder::ShowTell(d) => (d.teacher(features, tokens, len, mode)?, None),
            Decoder::Attend(d) => {
                let (s, r) = d.teacher(features, tokens, len, mode)?;
                (s, Some(r))
            }
        };
        let v = scores.dim(2);
        let targets: Vec<usize> = (0..m)
            .flat_map(|k| tokens[k * len + 1..k * len + len].to_vec())
            .collect();
        let cfg = crate::ops::loss::CrossEntropyConfig {
            ignore_index: Some(PAD),
            ..Default::default()
        };
        let ce = scores
            .reshape(&[m * (len - 1), v])?
            .cross_entropy(&targets, &cfg)?;
        match reg {
            Some(r) => ce.add(&r),
            None => Ok(ce),
        }
    }

    /// The state before the first word, for images' `features [n, C, h, w]`.
    pub fn start(&self, features: &Tensor) -> Result<DecodeState> {
        match self {
            Decoder::ShowTell(d) => {
                let n = features.dim(0);
                let pooled = features
                    .reshape(&[n, features.dim(1), features.numel() / (n * features.dim(1))])?
                    .mean(2, false)?;
                let img = d.img_proj.forward(&pooled, Mode::Eval)?;
                let zeros = Tensor::zeros(&[n, d.lstm.config().hidden_size]);
                let (_, h, c) = d.step_lstm(&img, &zeros, &zeros)?;
                Ok(DecodeState { h, c, memory: None })
            }
            Decoder::Attend(d) => d.start(features, Mode::Eval),
        }
    }

    /// One step in evaluation mode: the words `words` (one id per row) give
    /// log-probabilities of the next `[m, V]`, the next state and (attention) `α`.
    pub fn step(&self, state: &DecodeState, words: &[usize]) -> Result<StepOutput> {
        let m = words.len();
        match self {
            Decoder::ShowTell(d) => {
                let x = d.embed.lookup(&ids(words, &[m])?)?;
                let (out, h, c) = d.step_lstm(&x, &state.h, &state.c)?;
                let scores = d.fc.forward(&out, Mode::Eval)?;
                Ok((
                    scores.log_softmax(1)?,
                    DecodeState { h, c, memory: None },
                    None,
                ))
            }
            Decoder::Attend(d) => {
                let x = d.embed.lookup(&ids(words, &[m])?)?;
                let (scores, next, alpha) = d.step(state, &x, Mode::Eval)?;
                Ok((scores.log_softmax(1)?, next, alpha))
            }
        }
    }
}

impl Module for Decoder {
    fn kind(&self) -> &'static str {
        match self {
            Decoder::ShowTell(_) => "ShowTell",
            Decoder::Attend(_) => "Attend",
        }
    }
    /// Not a single-input layer: use [`Decoder::loss`] or [`Decoder::step`].
    fn forward(&self, _: &Tensor, _: Mode) -> Result<Tensor> {
        Err(Error::config(
            "caption",
            "a caption decoder takes features and tokens: use its loss or step",
        ))
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        fn named<'a>(v: Vec<(&str, &'a dyn Module)>) -> Vec<(String, &'a dyn Module)> {
            v.into_iter().map(|(n, m)| (n.to_string(), m)).collect()
        }
        match self {
            Decoder::ShowTell(d) => named(vec![
                ("img_proj", &d.img_proj),
                ("embed", &d.embed),
                ("lstm", &d.lstm),
                ("dropout", &d.dropout),
                ("fc", &d.fc),
            ]),
            Decoder::Attend(d) => named(vec![
                ("embed", &d.embed),
                ("enc_att", &d.enc_att),
                ("dec_att", &d.dec_att),
                ("full_att", &d.full_att),
                ("init_h", &d.init_h),
                ("init_c", &d.init_c),
                ("f_beta", &d.f_beta),
                ("cell", &d.cell),
                ("dropout", &d.dropout),
                ("fc", &d.fc),
            ]),
        }
    }
}

/// An encoder and a decoder: children `encoder` and `decoder`.
pub struct CaptionModel {
    /// The CNN.
    pub encoder: Encoder,
    /// The language model.
    pub decoder: Decoder,
    /// Its settings.
    pub config: ModelConfig,
}

impl CaptionModel {
    /// A new model, initialised from `cfg.seed`.
    pub fn new(cfg: &ModelConfig) -> Result<CaptionModel> {
        let mut rng = Rng::seed(cfg.seed);
        let encoder = Encoder::new(&cfg.encoder, cfg.channels, &mut rng)?;
        let decoder = Decoder::new(cfg, encoder.channels(), &mut rng)?;
        Ok(CaptionModel {
            encoder,
            decoder,
            config: cfg.clone(),
        })
    }
}

impl CaptionModel {
    /// The `[h', w']` of the encoder's feature map for `size × size` images (the
    /// attention maps' grid).
    pub fn encoder_grid(&self, size: usize) -> Result<[usize; 2]> {
        let _g = crate::NoGradGuard::new();
        let x = Tensor::zeros(&[1, self.encoder.input_channels(), size, size]);
        let f = self.encoder.forward(&x, Mode::Eval)?;
        Ok([f.dim(2), f.dim(3)])
    }
}

impl Module for CaptionModel {
    fn kind(&self) -> &'static str {
        "CaptionModel"
    }
    /// The encoder's feature map of images `x`.
    fn forward(&self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        self.encoder.forward(x, mode)
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![
            ("encoder".to_string(), &self.encoder as &dyn Module),
            ("decoder".to_string(), &self.decoder as &dyn Module),
        ]
    }
}
