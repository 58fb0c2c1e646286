//! LeNet-5 (LeCun, Bottou, Bengio, Haffner 1998) as the paper draws it, and a modern variant.
//!
//! The 1998 network on a 32×32 input (28×28 MNIST digits padded by 2):
//!
//! | layer | what                                                   | output      | trainable |
//! |-------|--------------------------------------------------------|-------------|-----------|
//! | C1    | 6 convolutions 5×5                                      | 6@28×28     | 156       |
//! | S2    | 2×2 sums × a trainable coefficient + a bias, per map    | 6@14×14     | 12        |
//! | C3    | 16 convolutions 5×5 wired by the S2→C3 table            | 16@10×10    | 1 516     |
//! | S4    | like S2                                                 | 16@5×5      | 32        |
//! | C5    | 120 convolutions 5×5                                    | 120@1×1     | 48 120    |
//! | F6    | fully connected                                         | 84          | 10 164    |
//! | out   | fully connected (the paper's RBF units replaced by a    | 10          | 850       |
//! |       | linear layer for a cross-entropy loss)                  |             |           |
//!
//! C1..F6 hold exactly 60 000 parameters. Every layer up to F6 is followed by the scaled
//! tanh `1.7159·tanh(2x/3)`. C3 is a real sparse connection: absent connections have no
//! weights at all (see [`ConnectionTableConv`]).

use crate::error::{Error, Result};
use crate::nn::{
    Activation, Conv2d, Dropout, Flatten, Linear, Mode, Module, Pool, Sequential, TensorKind,
};
use crate::ops::conv::Conv2dConfig;
use crate::ops::pool::Pool2dConfig;
use crate::tensor::{Rng, Tensor};

/// The input both variants expect: one channel, 32×32.
pub const INPUT: [usize; 3] = [1, 32, 32];

/// The lecture's S2→C3 connection table: for each C3 map, the S2 maps it reads.
pub const C3_TABLE: [&[usize]; 16] = [
    &[0, 1, 2],
    &[1, 2, 3],
    &[2, 3, 4],
    &[3, 4, 5],
    &[0, 4, 5],
    &[0, 1, 5],
    &[0, 1, 2, 3],
    &[1, 2, 3, 4],
    &[2, 3, 4, 5],
    &[0, 3, 4, 5],
    &[0, 1, 4, 5],
    &[0, 1, 2, 5],
    &[0, 1, 3, 4],
    &[1, 2, 4, 5],
    &[0, 2, 3, 5],
    &[0, 1, 2, 3, 4, 5],
];

/// LeNet-5's subsampling layer: per map, the sum of each 2×2 block times a trainable
/// coefficient plus a trainable bias (`weight [c]`, `bias [c]`).
pub struct Subsampling {
    /// Coefficient per map.
    pub weight: Tensor,
    /// Bias per map.
    pub bias: Tensor,
}

impl Subsampling {
    /// A layer for `maps` feature maps, initialised as the paper initialises every unit:
    /// uniform in `±2.4/F` with the fan-in `F = 4`.
    pub fn new(maps: usize, rng: &mut Rng) -> Self {
        let b = 2.4 / 4.0;
        Subsampling {
            weight: Tensor::rand_uniform(&[maps], -b, b, rng).with_grad(),
            bias: Tensor::rand_uniform(&[maps], -b, b, rng).with_grad(),
        }
    }
}

impl Module for Subsampling {
    fn infer(&self, input: &[usize]) -> Result<crate::nn::Inferred> {
        let c = self.weight.numel();
        if input.len() != 4 || input[1] != c {
            return Err(Error::shape(
                "Subsampling",
                format!("input must be [n, {c}, h, w], got {input:?}"),
            ));
        }
        let shape = crate::ops::pool::avg_pool2d_output_shape(input, &Pool2dConfig::new(2))?;
        Ok(crate::nn::Inferred::free(shape))
    }
    fn kind(&self) -> &'static str {
        "Subsampling"
    }
    fn forward(&self, x: &Tensor, _: Mode) -> Result<Tensor> {
        let c = self.weight.numel();
        if x.ndim() != 4 || x.dim(1) != c {
            return Err(Error::shape(
                "Subsampling",
                format!("input must be [n, {c}, h, w], got {:?}", x.shape()),
            ));
        }
        // sum of a 2×2 block = 4 · its average
        x.avg_pool2d(&Pool2dConfig::new(2))?
            .channel_affine(&self.weight.scale(4.0), &self.bias)
    }
    fn own_tensors(&self) -> Vec<(&'static str, Tensor, TensorKind)> {
        vec![
            ("weight", self.weight.clone(), TensorKind::Parameter),
            ("bias", self.bias.clone(), TensorKind::Parameter),
        ]
    }
}

/// A convolution whose output maps each read only some input maps, given by a connection
/// table. Only the connections of the table have weights: `weight [connections, k, k]`,
/// one `k × k` kernel per (output map, input map) pair of the table, in table order (output
/// map by output map, each map's inputs as listed), and `bias [out maps]`.
///
/// The forward pass scatters the kernels into a dense `[out, in, k, k]` weight, with a
/// constant zero kernel at every absent connection, and runs one ordinary convolution. The
/// scatter is made of differentiable ops (concat with a zero row, `index_select`), so the
/// weight gradient flows back to the real connections only: an absent connection has no
/// parameter and receives no gradient.
pub struct ConnectionTableConv {
    table: Vec<Vec<usize>>,
    in_maps: usize,
    kernel: usize,
    /// For each (output map, input map) pair, row-major: its connection's index into
    /// `weight`, or the number of connections for "absent" (the zero row).
    dense_index: Vec<usize>,
    /// `[connections, k, k]`: the kernels of the table's connections, in table order.
    pub weight: Tensor,
    /// `[out maps]`.
    pub bias: Tensor,
}

impl ConnectionTableConv {
    /// A `kernel × kernel` convolution from `in_maps` maps wired by `table` (one entry per
    /// output map: the distinct input maps it reads), initialised like PyTorch's `Conv2d`
    /// with each map's own fan-in: kernels uniform in `±1/√(inputs·k²)`.
    pub fn new(in_maps: usize, table: &[&[usize]], kernel: usize, rng: &mut Rng) -> Result<Self> {
        let bad = table.is_empty()
            || table.iter().any(|s| {
                s.is_empty()
                    || s.iter().any(|&i| i >= in_maps)
                    || (1..s.len()).any(|a| s[..a].contains(&s[a]))
            });
        if bad || kernel == 0 {
            return Err(Error::config(
                "ConnectionTableConv",
                format!(
                    "every output map needs distinct inputs below {in_maps} and the kernel must be positive"
                ),
            ));
        }
        let k2 = kernel * kernel;
        let connections: usize = table.iter().map(|s| s.len()).sum();
        let mut dense_index = vec![connections; table.len() * in_maps];
        let mut kernels = Vec::with_capacity(connections * k2);
        let mut next = 0;
        for (j, inputs) in table.iter().enumerate() {
            let bound = 1.0 / ((inputs.len() * k2) as f32).sqrt();
            for &i in inputs.iter() {
                dense_index[j * in_maps + i] = next;
                next += 1;
                kernels.extend((0..k2).map(|_| rng.uniform(-bound, bound)));
            }
        }
        let weight = Tensor::from_vec(kernels, &[connections, kernel, kernel])?.with_grad();
        let b = 1.0 / ((table[0].len() * k2) as f32).sqrt();
        let bias = Tensor::rand_uniform(&[table.len()], -b, b, rng).with_grad();
        Ok(ConnectionTableConv {
            table: table.iter().map(|s| s.to_vec()).collect(),
            in_maps,
            kernel,
            dense_index,
            weight,
            bias,
        })
    }

    /// The number of connections (kernels) of the table.
    pub fn connections(&self) -> usize {
        self.weight.dim(0)
    }

    /// The dense `[out, in, k, k]` weight the forward pass convolves with: each
    /// connection's kernel at its place, zeros where the table has no connection.
    /// Differentiable with respect to `weight` (the zeros are constants).
    fn scatter_dense(&self) -> Result<Tensor> {
        let (k, k2) = (self.kernel, self.kernel * self.kernel);
        let rows = self.weight.reshape(&[self.connections(), k2])?; //   [connections, k²]
        let zero = Tensor::zeros(&[1, k2]); //                            [1, k²]
        Tensor::concat(&[&rows, &zero], 0)? //                            [connections + 1, k²]
            .index_select(0, &self.dense_index)? //                       [out·in, k²]
            .reshape(&[self.table.len(), self.in_maps, k, k]) //          [out, in, k, k]
    }

    /// The weights as a dense `[out, in, k, k]` tensor with zeros where the table has no
    /// connection (for pictures and checks; no graph).
    pub fn dense_weight(&self) -> Tensor {
        crate::autograd::no_grad(|| self.scatter_dense()).expect("dense shape")
    }
}

impl Module for ConnectionTableConv {
    fn infer(&self, input: &[usize]) -> Result<crate::nn::Inferred> {
        if input.len() != 4 || input[1] != self.in_maps {
            return Err(Error::shape(
                "ConnectionTableConv",
                format!("input must be [n, {}, h, w], got {input:?}", self.in_maps),
            ));
        }
        // the forward pass convolves with the dense weight: the same shapes and products
        let (k, out) = (self.kernel, self.table.len());
        let dense = [out, self.in_maps, k, k];
        let g =
            crate::ops::conv::conv2d_geometry(input, &dense, Some(&[out]), &Conv2dConfig::new())?;
        Ok(crate::nn::Inferred {
            shape: vec![g.n, g.oc, g.oh, g.ow],
            multiply_adds: crate::nn::infer_product(&[g.n, g.oc, g.oh, g.ow, g.ckk()]),
        })
    }
    fn kind(&self) -> &'static str {
        "ConnectionTableConv"
    }
    fn forward(&self, x: &Tensor, _: Mode) -> Result<Tensor> {
        if x.ndim() != 4 || x.dim(1) != self.in_maps {
            return Err(Error::shape(
                "ConnectionTableConv",
                format!(
                    "input must be [n, {}, h, w], got {:?}",
                    self.in_maps,
                    x.shape()
                ),
            ));
        }
        x.conv2d(
            &self.scatter_dense()?,
            Some(&self.bias),
            &Conv2dConfig::new(),
        )
    }
    fn filters(&self) -> Option<Tensor> {
        Some(self.dense_weight())
    }
    fn own_tensors(&self) -> Vec<(&'static str, Tensor, TensorKind)> {
        vec![
            ("weight", self.weight.clone(), TensorKind::Parameter),
            ("bias", self.bias.clone(), TensorKind::Parameter),
        ]
    }
}

/// The 1998 LeNet-5 (see the module docs); input `[n, 1, 32, 32]`, output 10 logits.
pub fn lenet5(rng: &mut Rng) -> Result<Sequential> {
    lenet5_with_classes(10, rng)
}

/// LeNet-5 with `classes` outputs (the 10 digits by default); input `[n, 1, 32, 32]`.
pub fn lenet5_with_classes(classes: usize, rng: &mut Rng) -> Result<Sequential> {
    let act = Activation::LeCunTanh;
    Ok(Sequential::new()
        .push_named("c1", Conv2d::new(1, 6, [5, 5], Conv2dConfig::new(), rng)?) //   [n, 6, 28, 28]
        .push_named("c1_act", act)
        .push_named("s2", Subsampling::new(6, rng)) //                               [n, 6, 14, 14]
        .push_named("s2_act", act)
        .push_named("c3", ConnectionTableConv::new(6, &C3_TABLE, 5, rng)?) //         [n, 16, 10, 10]
        .push_named("c3_act", act)
        .push_named("s4", Subsampling::new(16, rng)) //                              [n, 16, 5, 5]
        .push_named("s4_act", act)
        .push_named(
            "c5",
            Conv2d::new(16, 120, [5, 5], Conv2dConfig::new(), rng)?,
        ) // [n, 120, 1, 1]
        .push_named("c5_act", act)
        .push_named("flatten", Flatten::default()) //                                 [n, 120]
        .push_named("f6", Linear::new(120, 84, rng)?) //                              [n, 84]
        .push_named("f6_act", act)
        .push_named("output", Linear::new(84, classes, rng)?)) //                     [n, classes]
}

/// The modern variant: full C3, ReLU, 2×2 max pooling, optional dropout before the last
/// layer; input `[n, 1, 32, 32]`, output 10 logits.
pub fn lenet5_relu(dropout: f32, rng: &mut Rng) -> Result<Sequential> {
    lenet5_relu_with_classes(dropout, 10, rng)
}

/// The modern variant with `classes` outputs; input `[n, 1, 32, 32]`.
pub fn lenet5_relu_with_classes(dropout: f32, classes: usize, rng: &mut Rng) -> Result<Sequential> {
    let pool = Pool::Max(Pool2dConfig::new(2));
    let mut net = Sequential::new()
        .push_named(
            "conv1",
            Conv2d::new(1, 6, [5, 5], Conv2dConfig::new(), rng)?,
        ) //    [n, 6, 28, 28]
        .push_named("relu1", Activation::ReLU)
        .push_named("pool1", pool) //                                                    [n, 6, 14, 14]
        .push_named(
            "conv2",
            Conv2d::new(6, 16, [5, 5], Conv2dConfig::new(), rng)?,
        ) //   [n, 16, 10, 10]
        .push_named("relu2", Activation::ReLU)
        .push_named("pool2", pool) //                                                    [n, 16, 5, 5]
        .push_named(
            "conv3",
            Conv2d::new(16, 120, [5, 5], Conv2dConfig::new(), rng)?,
        ) // [n, 120, 1, 1]
        .push_named("relu3", Activation::ReLU)
        .push_named("flatten", Flatten::default()) //                                    [n, 120]
        .push_named("fc1", Linear::new(120, 84, rng)?) //                                [n, 84]
        .push_named("relu4", Activation::ReLU);
    if dropout > 0.0 {
        net = net.push_named("dropout", Dropout::new(dropout, rng.next_u64())?);
    }
    Ok(net.push_named("fc2", Linear::new(84, classes, rng)?)) //                       [n, classes]
}
