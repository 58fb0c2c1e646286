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
        let sums = x.avg_pool2d(&Pool2dConfig::new(2))?.scale(4.0);
        sums.mul(&self.weight.reshape(&[1, c, 1, 1])?)?
            .add(&self.bias.reshape(&[1, c, 1, 1])?)
    }
    fn own_tensors(&self) -> Vec<(&'static str, Tensor, TensorKind)> {
        vec![
            ("weight", self.weight.clone(), TensorKind::Parameter),
            ("bias", self.bias.clone(), TensorKind::Parameter),
        ]
    }
}

/// A convolution whose output maps each read only some input maps, given by a connection
/// table. Consecutive output maps with the same number of inputs form one grouped
/// convolution over their gathered inputs, so an absent connection has no weight and no
/// gradient. Parameters: `weight{r}` `[maps in run r, inputs per map, k, k]` and one `bias`.
pub struct ConnectionTableConv {
    table: Vec<Vec<usize>>,
    in_maps: usize,
    /// Runs of output maps: (first map, number of maps, inputs per map, gather indices).
    runs: Vec<(usize, usize, usize, Vec<usize>)>,
    /// One weight per run.
    pub weights: Vec<Tensor>,
    /// `[out maps]`.
    pub bias: Tensor,
    kernel: usize,
}

const RUN_NAMES: [&str; 8] = [
    "weight0", "weight1", "weight2", "weight3", "weight4", "weight5", "weight6", "weight7",
];

impl ConnectionTableConv {
    /// A `kernel × kernel` convolution from `in_maps` maps wired by `table` (one entry per
    /// output map: the input maps it reads), initialised like PyTorch's `Conv2d` with each
    /// map's own fan-in.
    pub fn new(in_maps: usize, table: &[&[usize]], kernel: usize, rng: &mut Rng) -> Result<Self> {
        let bad = table
            .iter()
            .any(|s| s.is_empty() || s.iter().any(|&i| i >= in_maps));
        if bad || kernel == 0 {
            return Err(Error::config(
                "ConnectionTableConv",
                format!(
                    "every output map needs inputs below {in_maps} and the kernel must be positive"
                ),
            ));
        }
        let mut runs: Vec<(usize, usize, usize, Vec<usize>)> = Vec::new();
        for (j, inputs) in table.iter().enumerate() {
            match runs.last_mut() {
                Some(run) if run.2 == inputs.len() => {
                    run.1 += 1;
                    run.3.extend_from_slice(inputs);
                }
                _ => runs.push((j, 1, inputs.len(), inputs.to_vec())),
            }
        }
        if runs.len() > RUN_NAMES.len() {
            return Err(Error::config(
                "ConnectionTableConv",
                format!(
                    "at most {} runs of equal fan-in are supported",
                    RUN_NAMES.len()
                ),
            ));
        }
        let weights = runs
            .iter()
            .map(|&(_, maps, fan_in, _)| {
                Tensor::kaiming_uniform(&[maps, fan_in, kernel, kernel], 5f32.sqrt(), rng)
                    .with_grad()
            })
            .collect();
        let b = 1.0 / ((table[0].len() * kernel * kernel) as f32).sqrt();
        let bias = Tensor::rand_uniform(&[table.len()], -b, b, rng).with_grad();
        Ok(ConnectionTableConv {
            table: table.iter().map(|s| s.to_vec()).collect(),
            in_maps,
            runs,
            weights,
            bias,
            kernel,
        })
    }

    /// The weights as a dense `[out, in, k, k]` tensor with zeros where the table has no
    /// connection (for pictures and checks).
    pub fn dense_weight(&self) -> Tensor {
        let (k2, out) = (self.kernel * self.kernel, self.table.len());
        let mut dense = vec![0.0f32; out * self.in_maps * k2];
        for ((first, maps, fan_in, _), w) in self.runs.iter().zip(&self.weights) {
            let w = w.data();
            for m in 0..*maps {
                for (slot, &i) in self.table[first + m].iter().enumerate() {
                    let src = &w[(m * fan_in + slot) * k2..][..k2];
                    dense[((first + m) * self.in_maps + i) * k2..][..k2].copy_from_slice(src);
                }
            }
        }
        Tensor::from_vec(dense, &[out, self.in_maps, self.kernel, self.kernel])
            .expect("dense shape")
    }
}

impl Module for ConnectionTableConv {
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
        let outs = self
            .runs
            .iter()
            .zip(&self.weights)
            .map(|((_, maps, _, gather), w)| {
                // [n, maps·fan_in, h, w] → grouped convolution, one group per output map
                x.index_select(1, gather)?
                    .conv2d(w, None, &Conv2dConfig::new().groups(*maps))
            })
            .collect::<Result<Vec<_>>>()?;
        let y = Tensor::concat(&outs.iter().collect::<Vec<_>>(), 1)?;
        y.add(&self.bias.reshape(&[1, self.table.len(), 1, 1])?)
    }
    fn filters(&self) -> Option<Tensor> {
        Some(self.dense_weight())
    }
    fn own_tensors(&self) -> Vec<(&'static str, Tensor, TensorKind)> {
        let mut v: Vec<_> = self
            .weights
            .iter()
            .zip(RUN_NAMES)
            .map(|(w, n)| (n, w.clone(), TensorKind::Parameter))
            .collect();
        v.push(("bias", self.bias.clone(), TensorKind::Parameter));
        v
    }
}

/// The 1998 LeNet-5 (see the module docs); input `[n, 1, 32, 32]`, output 10 logits.
pub fn lenet5(rng: &mut Rng) -> Result<Sequential> {
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
        .push_named("output", Linear::new(84, 10, rng)?)) //                          [n, 10]
}

/// The modern variant: full C3, ReLU, 2×2 max pooling, optional dropout before the last
/// layer; input `[n, 1, 32, 32]`, output 10 logits.
pub fn lenet5_relu(dropout: f32, rng: &mut Rng) -> Result<Sequential> {
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
    Ok(net.push_named("fc2", Linear::new(84, 10, rng)?)) //                            [n, 10]
}
