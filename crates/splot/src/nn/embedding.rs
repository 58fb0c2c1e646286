//! An embedding table: token or class ids to learned vectors (captioning's word vectors).

use super::{Mode, Module, TensorKind};
use crate::error::{Error, Result};
use crate::ops::index::Indices;
use crate::tensor::{Rng, Tensor};

/// A table of `num_embeddings` learned vectors of `dim` values, `weight [V, D]`, looked up
/// by id (`torch.nn.Embedding`). Initialised as PyTorch does, `N(0, 1)`, with the padding
/// row (if any) zeroed; that row receives no gradient, so it stays zero while training.
pub struct Embedding {
    /// `[num_embeddings, dim]`.
    pub weight: Tensor,
    /// The id whose row is padding (no gradient), if any.
    pub padding_idx: Option<usize>,
}

impl Embedding {
    /// A table of `num_embeddings` vectors of `dim` values, initialised as PyTorch does.
    pub fn new(
        num_embeddings: usize,
        dim: usize,
        padding_idx: Option<usize>,
        rng: &mut Rng,
    ) -> Result<Self> {
        if num_embeddings == 0 || dim == 0 {
            return Err(Error::config(
                "Embedding",
                format!("{num_embeddings} embeddings of {dim} values: both must be positive"),
            ));
        }
        if let Some(p) = padding_idx.filter(|&p| p >= num_embeddings) {
            return Err(Error::config(
                "Embedding",
                format!("padding index {p} is out of range for {num_embeddings} embeddings"),
            ));
        }
        crate::tensor::size::check_shape("Embedding", &[num_embeddings, dim])?;
        let weight = Tensor::randn(&[num_embeddings, dim], 0.0, 1.0, rng);
        if let Some(p) = padding_idx {
            weight.data_mut()[p * dim..][..dim].fill(0.0);
        }
        Ok(Embedding {
            weight: weight.with_grad(),
            padding_idx,
        })
    }

    /// The vectors of `ids` (any shape): `[..ids.shape, D]`.
    pub fn lookup(&self, ids: &Indices) -> Result<Tensor> {
        Tensor::embedding(&self.weight, ids, self.padding_idx)
    }
}

impl Module for Embedding {
    fn kind(&self) -> &'static str {
        "Embedding"
    }
    /// `x` holds the ids as whole numbers (see [`Indices::from_tensor`]).
    fn forward(&self, x: &Tensor, _: Mode) -> Result<Tensor> {
        self.lookup(&Indices::from_tensor(x)?)
    }
    fn own_tensors(&self) -> Vec<(&'static str, Tensor, TensorKind)> {
        vec![("weight", self.weight.clone(), TensorKind::Parameter)]
    }
}
