//! torchvision's `fcn_resnet50` and `fcn_resnet101`: a ResNet trunk (`backbone`, `conv1` …
//! `layer4`) whose layers 3 and 4 are dilated instead of strided (output stride 8), an
//! `FCNHead` on layer 4 (`classifier`) and optionally another on layer 3
//! (`aux_classifier`), each upsampled bilinearly (`align_corners=False`) to the input's
//! size. `FCNHead(c)`: 3×3 convolution to c/4 channels without bias, batch norm, ReLU,
//! dropout 0.1, 1×1 convolution to the classes (children `0`, `1`, `2`, `3`, `4`). The
//! `state_dict` names are torchvision's (`backbone.layer3.0.conv2.weight`,
//! `classifier.4.bias`, `aux_classifier.0.weight`), so its weights, converted to
//! safetensors, load as they are.

use super::model::{Heads, Segmenter, Step};
use crate::error::{Error, Result};
use crate::models::resnet::{trunk, BlockKind};
use crate::nn::{Activation, BatchNorm, Conv2d, Dropout, Mode, Module, Sequential, Upsample};
use crate::ops::conv::Conv2dConfig;
use crate::ops::resample::InterpolateConfig;
use crate::tensor::{Rng, Tensor};

/// torchvision's `FCNHead(in_channels, classes)`.
pub fn fcn_head(c_in: usize, classes: usize, rng: &mut Rng) -> Result<Sequential> {
    let inter = c_in / 4;
    let conv3 =
        Conv2d::new(c_in, inter, [3, 3], Conv2dConfig::new().padding(1), rng)?.without_bias();
    Ok(Sequential::new()
        .push(conv3)
        .push(BatchNorm::new_2d(inter)?)
        .push(Activation::ReLU)
        .push(Dropout::new(0.1, rng.next_u64())?)
        .push(Conv2d::new(
            inter,
            classes,
            [1, 1],
            Conv2dConfig::new(),
            rng,
        )?))
}

/// `fcn_resnet50` (blocks `[3, 4, 6, 3]`) or `fcn_resnet101` (`[3, 4, 23, 3]`).
pub struct FcnResNet {
    backbone: Sequential,
    classifier: Sequential,
    aux_classifier: Option<Sequential>,
    classes: usize,
}

impl FcnResNet {
    /// The network with `blocks` bottleneck blocks per stage, `classes` outputs, and the
    /// auxiliary head if `aux`.
    pub fn new(blocks: [usize; 4], classes: usize, aux: bool, rng: &mut Rng) -> Result<FcnResNet> {
        let backbone = trunk(
            BlockKind::Bottleneck,
            blocks,
            false,
            [false, true, true],
            rng,
        )?;
        let aux_classifier = if aux {
            Some(fcn_head(1024, classes, rng)?)
        } else {
            None
        };
        let classifier = fcn_head(2048, classes, rng)?;
        Ok(FcnResNet {
            backbone,
            classifier,
            aux_classifier,
            classes,
        })
    }
}

impl Segmenter for FcnResNet {
    fn run(&self, x: &Tensor, step: &mut Step) -> Result<Heads> {
        let (h, w) = (x.dim(2), x.dim(3));
        let mut f = x.clone();
        let mut layer3 = None;
        for (name, layer) in self.backbone.children() {
            f = step(&format!("backbone.{name}"), layer, &f)?;
            if name == "layer3" {
                layer3 = Some(f.clone());
            }
        }
        let up = Upsample(InterpolateConfig::size(h, w).bilinear(false));
        let out = step("classifier", &self.classifier, &f)?;
        let out = step("upsample", &up, &out)?;
        let aux = match (&self.aux_classifier, layer3) {
            (Some(head), Some(l3)) => {
                let a = step("aux_classifier", head, &l3)?;
                Some(step("upsample", &up, &a)?)
            }
            (Some(_), None) => {
                return Err(Error::config("fcn_resnet", "the backbone has no layer3"))
            }
            _ => None,
        };
        Ok(Heads { out, aux })
    }
    fn classes(&self) -> usize {
        self.classes
    }
    fn in_channels(&self) -> usize {
        3
    }
}

impl Module for FcnResNet {
    fn kind(&self) -> &'static str {
        "FCN"
    }
    fn forward(&self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        Ok(super::model::heads(self, x, mode)?.out)
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        let mut c: Vec<(String, &dyn Module)> = vec![
            ("backbone".into(), &self.backbone),
            ("classifier".into(), &self.classifier),
        ];
        if let Some(a) = &self.aux_classifier {
            c.push(("aux_classifier".into(), a));
        }
        c
    }
}
