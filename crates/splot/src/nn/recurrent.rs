//! Recurrent layers equal to PyTorch's: [`LSTM`] (`torch.nn.LSTM`: stacked, optionally
//! bidirectional, batch-first, dropout between layers, sequences of different lengths) and
//! [`LSTMCell`] (`torch.nn.LSTMCell`, one step at a time for decoding).
//!
//! Parameters are named and shaped as PyTorch's `state_dict` (`weight_ih_l0 [4H, I]`,
//! `weight_hh_l0 [4H, H]`, `bias_ih_l0`, `bias_hh_l0 [4H]`, `…_reverse` for the reverse
//! direction; the cell's `weight_ih`, `weight_hh`, `bias_ih`, `bias_hh`), gates in the
//! order `i, f, g, o`, initialised as PyTorch does: every tensor `U(−1/√H, 1/√H)`.
//! Each layer and direction is one op ([`Tensor::lstm_layer`]) with its backward through
//! time.

use super::{Mode, Module, TensorKind};
use crate::error::{Error, Result};
use crate::ops::recurrent::{LstmLayout, LstmWeights};
use crate::tensor::{Rng, Tensor};
use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

/// A parameter name made at run time (`weight_ih_l3_reverse`) as the `&'static str` that
/// [`Module::own_tensors`] returns: each distinct name is allocated once and kept.
fn interned(name: String) -> &'static str {
    static NAMES: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut names = NAMES
        .get_or_init(Default::default)
        .lock()
        .expect("name table poisoned");
    if let Some(&known) = names.get(name.as_str()) {
        return known;
    }
    let leaked: &'static str = Box::leak(name.into_boxed_str());
    names.insert(leaked);
    leaked
}

/// Settings of an [`LSTM`], PyTorch's arguments and defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LstmConfig {
    /// Features of each input step `I`.
    pub input_size: usize,
    /// Hidden units `H`.
    pub hidden_size: usize,
    /// Stacked layers (default 1).
    pub num_layers: usize,
    /// Whether the layers have biases `b_ih`, `b_hh` (default true).
    pub bias: bool,
    /// Input and output are `[N, T, ·]` instead of `[T, N, ·]` (default false; the state
    /// stays `[layers·directions, N, H]` either way, as in PyTorch).
    pub batch_first: bool,
    /// Dropout probability on the outputs of every layer but the last, in training
    /// (default 0).
    pub dropout: f32,
    /// A second direction per layer reading the sequences backwards; outputs of both are
    /// concatenated along the features (default false).
    pub bidirectional: bool,
}

impl LstmConfig {
    /// One layer from `input_size` to `hidden_size` features with PyTorch's defaults.
    pub fn new(input_size: usize, hidden_size: usize) -> Self {
        LstmConfig {
            input_size,
            hidden_size,
            num_layers: 1,
            bias: true,
            batch_first: false,
            dropout: 0.0,
            bidirectional: false,
        }
    }

    /// Sets the number of stacked layers.
    pub fn num_layers(mut self, layers: usize) -> Self {
        self.num_layers = layers;
        self
    }

    /// Sets whether the layers have biases.
    pub fn bias(mut self, bias: bool) -> Self {
        self.bias = bias;
        self
    }

    /// Sets batch-first input and output.
    pub fn batch_first(mut self, batch_first: bool) -> Self {
        self.batch_first = batch_first;
        self
    }

    /// Sets the dropout probability between layers.
    pub fn dropout(mut self, p: f32) -> Self {
        self.dropout = p;
        self
    }

    /// Sets bidirectional layers.
    pub fn bidirectional(mut self, bidirectional: bool) -> Self {
        self.bidirectional = bidirectional;
        self
    }

    /// Directions per layer: 1, or 2 when bidirectional.
    pub fn directions(&self) -> usize {
        if self.bidirectional {
            2
        } else {
            1
        }
    }
}

/// The parameters of one layer in one direction.
#[derive(Clone, Debug)]
pub struct LstmParams {
    /// `[4H, I]` (`I` = input size of the layer).
    pub weight_ih: Tensor,
    /// `[4H, H]`.
    pub weight_hh: Tensor,
    /// `(b_ih, b_hh)`, each `[4H]`, if the layer has biases.
    pub bias: Option<(Tensor, Tensor)>,
}

impl LstmParams {
    /// PyTorch's initialisation: every tensor `U(−1/√H, 1/√H)`, drawn in the order
    /// `weight_ih, weight_hh, bias_ih, bias_hh`.
    fn new(input: usize, hidden: usize, bias: bool, rng: &mut Rng) -> Self {
        let bound = 1.0 / (hidden as f32).sqrt();
        let mut u = |shape: &[usize]| Tensor::rand_uniform(shape, -bound, bound, rng).with_grad();
        let weight_ih = u(&[4 * hidden, input]);
        let weight_hh = u(&[4 * hidden, hidden]);
        let bias = bias.then(|| (u(&[4 * hidden]), u(&[4 * hidden])));
        LstmParams {
            weight_ih,
            weight_hh,
            bias,
        }
    }

    fn weights(&self) -> LstmWeights<'_> {
        LstmWeights {
            weight_ih: &self.weight_ih,
            weight_hh: &self.weight_hh,
            bias: self.bias.as_ref().map(|(a, b)| (a, b)),
        }
    }

    /// The tensors with names `weight_ih{suffix}`…
    fn named(&self, suffix: &str) -> Vec<(&'static str, Tensor, TensorKind)> {
        let p = TensorKind::Parameter;
        let name = |base: &str| interned(format!("{base}{suffix}"));
        let mut v = vec![
            (name("weight_ih"), self.weight_ih.clone(), p),
            (name("weight_hh"), self.weight_hh.clone(), p),
        ];
        if let Some((bih, bhh)) = &self.bias {
            v.push((name("bias_ih"), bih.clone(), p));
            v.push((name("bias_hh"), bhh.clone(), p));
        }
        v
    }
}

fn check_sizes(layer: &'static str, input: usize, hidden: usize) -> Result<()> {
    if input == 0 || hidden == 0 {
        return Err(Error::config(
            layer,
            format!("input size {input} and hidden size {hidden} must both be positive"),
        ));
    }
    // the widths are the user's: the weights `[4h, in]` and `[4h, h]` must fit in memory
    let gates = crate::tensor::size::mul(layer, "4 × hidden size", 4, hidden)?;
    crate::tensor::size::check_shape(layer, &[gates, input.max(hidden)])?;
    Ok(())
}

/// A multi-layer LSTM equal to `torch.nn.LSTM`.
///
/// Layer `k` (direction `d`) maps its input sequence to `h_t` with the recurrence of
/// [`crate::ops::recurrent`]; the input of layer `k > 0` is the output of layer `k − 1`
/// (both directions concatenated), with dropout in training when `dropout > 0`.
#[allow(clippy::upper_case_acronyms)]
pub struct LSTM {
    cfg: LstmConfig,
    /// Layer-major, then direction (forward, reverse), as PyTorch orders them.
    params: Vec<LstmParams>,
    rng: Mutex<Rng>,
}

/// What [`LSTM::forward_seq`] returns: the output sequence and the final state
/// `(h_n, c_n)`.
pub type LstmOutput = (Tensor, (Tensor, Tensor));

impl LSTM {
    /// A new LSTM, initialised as PyTorch does; dropout masks are drawn from a stream
    /// seeded from `rng` (see [`Module::reseed`]).
    pub fn new(cfg: LstmConfig, rng: &mut Rng) -> Result<Self> {
        check_sizes("LSTM", cfg.input_size, cfg.hidden_size)?;
        if cfg.num_layers == 0 {
            return Err(Error::config("LSTM", "num_layers must be at least 1"));
        }
        if !(0.0..=1.0).contains(&cfg.dropout) {
            return Err(Error::config(
                "LSTM",
                format!("dropout {} must lie in [0, 1]", cfg.dropout),
            ));
        }
        let dirs = cfg.directions();
        let mut params = Vec::with_capacity(cfg.num_layers * dirs);
        for layer in 0..cfg.num_layers {
            let input = if layer == 0 {
                cfg.input_size
            } else {
                cfg.hidden_size * dirs
            };
            check_sizes("LSTM", input, cfg.hidden_size)?;
            for _ in 0..dirs {
                params.push(LstmParams::new(input, cfg.hidden_size, cfg.bias, rng));
            }
        }
        let seed = rng.next_u64();
        Ok(LSTM {
            cfg,
            params,
            rng: Mutex::new(Rng::seed(seed)),
        })
    }

    /// The settings.
    pub fn config(&self) -> &LstmConfig {
        &self.cfg
    }

    /// The parameters of layer `layer` in direction `reverse`, if they exist.
    pub fn params(&self, layer: usize, reverse: bool) -> Option<&LstmParams> {
        if reverse && !self.cfg.bidirectional {
            return None;
        }
        self.params
            .get(layer * self.cfg.directions() + usize::from(reverse))
    }

    /// Runs the sequences `x` (`[T, N, I]`, or `[N, T, I]` when batch-first) from the state
    /// `(h0, c0)` (each `[layers·directions, N, H]`; zeros when `None`). `lengths`, if
    /// given, is each sequence's length in `1..=T` (as `pack_padded_sequence(…,
    /// enforce_sorted=False)`): outputs past a sequence's length are 0, and its final state
    /// is the one at its last valid step. Dropout between layers only in [`Mode::Train`].
    ///
    /// Returns `(output, (h_n, c_n))`: `output` `[T, N, D·H]` (`[N, T, D·H]`) with `D` the
    /// directions; `h_n`, `c_n` `[layers·D, N, H]`, layer-major as in PyTorch. Unlike
    /// `pad_packed_sequence`, the output keeps all `T` steps (PyTorch's `total_length=T`).
    pub fn forward_seq(
        &self,
        x: &Tensor,
        state: Option<(&Tensor, &Tensor)>,
        lengths: Option<&[usize]>,
        mode: Mode,
    ) -> Result<LstmOutput> {
        let cfg = &self.cfg;
        let xs = x.shape();
        if xs.len() != 3 || xs[2] != cfg.input_size {
            let want = if cfg.batch_first {
                "[N, T, I]"
            } else {
                "[T, N, I]"
            };
            return Err(Error::shape(
                "LSTM",
                format!(
                    "input must be {want} with I = {}, got {xs:?}",
                    cfg.input_size
                ),
            ));
        }
        let n = if cfg.batch_first { xs[0] } else { xs[1] };
        let (h, count) = (cfg.hidden_size, self.params.len());
        let (h0, c0) = match state {
            Some((h0, c0)) => {
                for (name, s) in [("h0", h0), ("c0", c0)] {
                    if s.shape() != [count, n, h] {
                        return Err(Error::shape(
                            "LSTM",
                            format!(
                                "{name} must be [layers·directions, N, H] = [{count}, {n}, {h}] for input {xs:?}, got {:?}",
                                s.shape()
                            ),
                        ));
                    }
                }
                (per_layer(h0, count, n, h)?, per_layer(c0, count, n, h)?)
            }
            None => {
                let zeros = Tensor::zeros(&[n, h]);
                (vec![zeros.clone(); count], vec![zeros; count])
            }
        };
        let dirs = cfg.directions();
        let mut input = x.clone();
        let (mut hs, mut cs) = (Vec::with_capacity(count), Vec::with_capacity(count));
        for layer in 0..cfg.num_layers {
            let mut outs = Vec::with_capacity(dirs);
            for dir in 0..dirs {
                let k = layer * dirs + dir;
                let layout = LstmLayout {
                    batch_first: cfg.batch_first,
                    reverse: dir == 1,
                };
                let (o, hn, cn) = input.lstm_layer(
                    (&h0[k], &c0[k]),
                    &self.params[k].weights(),
                    lengths,
                    layout,
                )?;
                outs.push(o);
                hs.push(hn.reshape(&[1, n, h])?);
                cs.push(cn.reshape(&[1, n, h])?);
            }
            input = match outs.len() {
                1 => outs.pop().expect("one direction"),
                _ => Tensor::concat(&[&outs[0], &outs[1]], 2)?,
            };
            if mode.is_training() && cfg.dropout > 0.0 && layer + 1 < cfg.num_layers {
                let mut rng = self.rng.lock().expect("LSTM rng poisoned");
                input = input.dropout(cfg.dropout, true, &mut rng)?;
            }
        }
        let stack = |parts: &[Tensor]| {
            let refs: Vec<&Tensor> = parts.iter().collect();
            Tensor::concat(&refs, 0)
        };
        Ok((input, (stack(&hs)?, stack(&cs)?)))
    }
}

/// `[count, n, h]` as `count` tensors `[n, h]` (through `split`, so gradients flow).
fn per_layer(state: &Tensor, count: usize, n: usize, h: usize) -> Result<Vec<Tensor>> {
    state
        .split(0, &vec![1; count])?
        .iter()
        .map(|t| t.reshape(&[n, h]))
        .collect()
}

impl Module for LSTM {
    fn kind(&self) -> &'static str {
        "LSTM"
    }
    /// The output sequence from a zero state (see [`LSTM::forward_seq`]).
    fn forward(&self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        Ok(self.forward_seq(x, None, None, mode)?.0)
    }
    fn own_tensors(&self) -> Vec<(&'static str, Tensor, TensorKind)> {
        let dirs = self.cfg.directions();
        self.params
            .iter()
            .enumerate()
            .flat_map(|(k, p)| {
                let reverse = if k % dirs == 1 { "_reverse" } else { "" };
                p.named(&format!("_l{}{reverse}", k / dirs))
            })
            .collect()
    }
    fn reseed(&self, seed: u64) {
        *self.rng.lock().expect("LSTM rng poisoned") = Rng::seed(seed);
    }
}

/// One LSTM step equal to `torch.nn.LSTMCell`, for decoding a sequence step by step
/// (captioning, beam search): parameters `weight_ih [4H, I]`, `weight_hh [4H, H]`,
/// `bias_ih`, `bias_hh [4H]`.
pub struct LSTMCell {
    params: LstmParams,
}

impl LSTMCell {
    /// A cell from `input_size` to `hidden_size` features, with biases when `bias`,
    /// initialised as PyTorch does.
    pub fn new(input_size: usize, hidden_size: usize, bias: bool, rng: &mut Rng) -> Result<Self> {
        check_sizes("LSTMCell", input_size, hidden_size)?;
        Ok(LSTMCell {
            params: LstmParams::new(input_size, hidden_size, bias, rng),
        })
    }

    /// The parameters.
    pub fn params(&self) -> &LstmParams {
        &self.params
    }

    /// Hidden units `H`.
    pub fn hidden_size(&self) -> usize {
        self.params.weight_hh.dim(1)
    }

    /// One step: `x` `[N, I]` and the state `(h, c)` (each `[N, H]`; zeros when `None`)
    /// give the next state `(h', c')` (the recurrence of [`crate::ops::recurrent`], one
    /// fused op).
    pub fn step(&self, x: &Tensor, state: Option<(&Tensor, &Tensor)>) -> Result<(Tensor, Tensor)> {
        let (xs, i) = (x.shape(), self.params.weight_ih.dim(1));
        if xs.len() != 2 || xs[1] != i {
            return Err(Error::shape(
                "LSTMCell",
                format!("input must be [N, I] with I = {i}, got {xs:?}"),
            ));
        }
        let (n, h) = (xs[0], self.hidden_size());
        let zeros;
        let (h0, c0) = match state {
            Some(s) => s,
            None => {
                zeros = Tensor::zeros(&[n, h]);
                (&zeros, &zeros)
            }
        };
        for (name, s) in [("h", h0), ("c", c0)] {
            if s.shape() != [n, h] {
                return Err(Error::shape(
                    "LSTMCell",
                    format!(
                        "{name} must be [N, H] = [{n}, {h}] for input {xs:?}, got {:?}",
                        s.shape()
                    ),
                ));
            }
        }
        let (_, h1, c1) = x.reshape(&[1, n, i])?.lstm_layer(
            (h0, c0),
            &self.params.weights(),
            None,
            LstmLayout::default(),
        )?;
        Ok((h1, c1))
    }
}

impl Module for LSTMCell {
    fn kind(&self) -> &'static str {
        "LSTMCell"
    }
    /// `h'` of one step from a zero state (see [`LSTMCell::step`]).
    fn forward(&self, x: &Tensor, _: Mode) -> Result<Tensor> {
        Ok(self.step(x, None)?.0)
    }
    fn own_tensors(&self) -> Vec<(&'static str, Tensor, TensorKind)> {
        self.params.named("")
    }
}
