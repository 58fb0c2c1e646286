//! The layer API: a [`Module`] trait whose `forward` takes the [`Mode`] explicitly (no hidden
//! global training flag), named parameters and buffers that follow PyTorch's `state_dict`
//! names (`features.0.weight`, `layer1.0.bn1.running_mean`), and parameter freezing.
//!
//! A module reports only its own tensors and its direct children; [`named_tensors`] walks the
//! tree and builds the dotted names, so every model gets the same naming for free.

mod container;
mod embedding;
mod infer;
mod layers;
mod norm_resample;
mod pool_norm;
mod recurrent;
mod summary;

pub use container::{Concat, Residual, Sequential};
pub use embedding::Embedding;
pub use infer::{concat_channels, infer_chain, product as infer_product, residual_sum, Inferred};
pub use layers::{Activation, Conv2d, ConvTranspose2d, Dropout, Flatten, Linear};
pub use norm_resample::{GroupNorm, InstanceNorm2d, LayerNorm, Upsample};
pub use pool_norm::{BatchNorm, LocalResponseNorm, Pool};
pub use recurrent::{LSTMCell, LstmConfig, LstmOutput, LstmParams, LSTM};
pub use summary::{format_count, format_summary, group_thousands, summary, SummaryRow};

use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Training or evaluation. Batch norm uses batch statistics and updates its running ones
/// only in `Train`; dropout is the identity in `Eval`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Training: batch statistics, dropout active.
    Train,
    /// Evaluation: running statistics, no dropout.
    Eval,
}

impl Mode {
    /// Whether this is `Train`.
    pub fn is_training(self) -> bool {
        self == Mode::Train
    }
}

/// Whether a named tensor is learned or only carried along (PyTorch's buffers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TensorKind {
    /// Learned by the optimiser.
    Parameter,
    /// State that is saved but not learned (batch norm's running statistics).
    Buffer,
}

/// A tensor of a module with its full dotted name.
#[derive(Clone, Debug)]
pub struct NamedTensor {
    /// `state_dict` name, e.g. `features.0.weight`.
    pub name: String,
    /// The tensor (a handle: updating its data updates the module).
    pub tensor: Tensor,
    /// Parameter or buffer.
    pub kind: TensorKind,
}

/// How a module combines its children, for diagrams.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Topology {
    /// One after another (or a single operation).
    Chain,
    /// A residual block `F(x) + shortcut(x)`: `shortcut` says which kind (`"identity"`,
    /// `"projection"`, `"zero-pad"`), `None` for a plain block without one.
    Residual {
        /// The kind of shortcut, or `None` for none.
        shortcut: Option<&'static str>,
    },
    /// Parallel branches on the same input, concatenated: each child is a branch.
    Branches,
}

/// A layer or a network.
pub trait Module: Send + Sync {
    /// The layer's type name as PyTorch spells it (`Conv2d`, `Sequential`…).
    fn kind(&self) -> &'static str;

    /// Computes the output for an input in the given mode.
    fn forward(&self, x: &Tensor, mode: Mode) -> Result<Tensor>;

    /// The module's own parameters and buffers (not its children's), with local names.
    fn own_tensors(&self) -> Vec<(&'static str, Tensor, TensorKind)> {
        Vec::new()
    }

    /// The direct children, with their local names.
    fn children(&self) -> Vec<(String, &dyn Module)> {
        Vec::new()
    }

    /// The layer's filters as a dense `[out, in, kh, kw]` tensor, for pictures
    /// ([`crate::viz::filters`]); `None` for layers without filters. By default the own
    /// parameter named `weight` when it has four dimensions.
    fn filters(&self) -> Option<Tensor> {
        self.own_tensors()
            .into_iter()
            .find(|(name, t, _)| *name == "weight" && t.ndim() == 4)
            .map(|(_, t, _)| t)
    }

    /// The output of the descendant at `path` (`f6`, `classifier.5`, dot-separated child
    /// names) when the module runs on `x`, computing only the layers that lead to it;
    /// `Ok(None)` when the module has no such descendant or cannot stop inside (only chains,
    /// [`Sequential`], can). Retrieval and probes take features this way.
    fn forward_to(&self, _x: &Tensor, _path: &str, _mode: Mode) -> Result<Option<Tensor>> {
        Ok(None)
    }

    /// How the module combines its children (for diagrams); a chain unless said otherwise.
    fn topology(&self) -> Topology {
        Topology::Chain
    }

    /// The output shape for an input of shape `input`, and the multiply-accumulates the
    /// forward pass would compute (see [`crate::ops::cost`]), found from the shapes alone:
    /// nothing of the input's size is allocated, so `splot summary` describes inputs far
    /// larger than memory. Errors are those `forward` would return for such an input.
    ///
    /// The zoo's layers have shape rules; by default a layer runs `forward` in evaluation
    /// mode on a zero input of that shape, after checking that it fits in memory
    /// ([`crate::tensor::size`]).
    fn infer(&self, input: &[usize]) -> Result<Inferred> {
        let x = Tensor::try_full(self.kind(), input, 0.0)?;
        let (out, multiply_adds) = crate::ops::cost::count_multiply_adds(|| {
            crate::no_grad(|| self.forward(&x, Mode::Eval))
        });
        Ok(Inferred {
            shape: out?.shape().to_vec(),
            multiply_adds,
        })
    }

    /// Restarts the module's own random stream (dropout masks) from `seed`; modules without
    /// randomness ignore it. See [`reseed`].
    fn reseed(&self, _seed: u64) {}

    /// Makes a normalisation layer use its running statistics and leave them unchanged in
    /// `Train` mode too (`true`), or go back to batch statistics (`false`): what freezing a
    /// batch-norm layer for fine-tuning means (torchvision's `FrozenBatchNorm2d`). Layers
    /// without running statistics ignore it; it does not recurse (see
    /// [`crate::train::freeze`]).
    fn freeze_statistics(&self, _frozen: bool) {}
}

/// Restarts every random stream in `module` and its descendants from `seed`, each layer
/// from its own seed derived from `seed` and its position, so that training is a function
/// of the seed and the step alone (exact resume from a checkpoint).
pub fn reseed(module: &dyn Module, seed: u64) {
    fn walk(m: &dyn Module, seed: u64, counter: &mut u64) {
        *counter += 1;
        m.reseed(seed ^ counter.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        for (_, child) in m.children() {
            walk(child, seed, counter);
        }
    }
    walk(module, seed, &mut 0);
}

/// Every parameter and buffer of `module` and its descendants, in definition order, with
/// dotted `state_dict` names.
pub fn named_tensors(module: &dyn Module) -> Vec<NamedTensor> {
    fn walk(m: &dyn Module, prefix: &str, out: &mut Vec<NamedTensor>) {
        for (name, tensor, kind) in m.own_tensors() {
            out.push(NamedTensor {
                name: format!("{prefix}{name}"),
                tensor,
                kind,
            });
        }
        for (name, child) in m.children() {
            walk(child, &format!("{prefix}{name}."), out);
        }
    }
    let mut out = Vec::new();
    walk(module, "", &mut out);
    out
}

/// The learned parameters of `module`, with names.
pub fn parameters(module: &dyn Module) -> Vec<NamedTensor> {
    named_tensors(module)
        .into_iter()
        .filter(|t| t.kind == TensorKind::Parameter)
        .collect()
}

/// Number of scalar parameters (trainable or frozen).
pub fn num_parameters(module: &dyn Module) -> usize {
    parameters(module).iter().map(|p| p.tensor.numel()).sum()
}

/// Freezes (`false`) or unfreezes (`true`) every parameter of `module`: frozen parameters
/// receive no gradient and add no nodes to the graph.
pub fn set_trainable(module: &dyn Module, trainable: bool) {
    for p in parameters(module) {
        p.tensor.set_requires_grad(trainable);
    }
}

/// The descendant at a dotted path (`"features.3"`), or an error listing the children.
pub fn submodule<'a>(module: &'a dyn Module, path: &str) -> Result<&'a dyn Module> {
    let mut m = module;
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let children = m.children();
        let names: Vec<String> = children.iter().map(|(n, _)| n.clone()).collect();
        m = children
            .into_iter()
            .find(|(n, _)| n == part)
            .map(|(_, c)| c)
            .ok_or_else(|| {
                Error::config(
                    "submodule",
                    format!("no child '{part}' in path '{path}'; children are {names:?}"),
                )
            })?;
    }
    Ok(m)
}
