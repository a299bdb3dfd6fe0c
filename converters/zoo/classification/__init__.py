"""Classification architectures of the zoo, registered in `cnnrt.converters.zoo.registry`.

Reduced configurations (for tests): 10 classes, narrower (`width_mult`, a
cnnrt addition where torchvision has none) and 64x64 inputs, except where the
architecture needs more: AlexNet and VGG keep 224x224 (their adaptive pooling
to 6x6 / 7x7 is then an identity), Inception-v3 takes its minimum 75x75.
(At 32x32 the last stages see 1x1 maps, BatchNorm statistics come from a few
values per channel, and float32 rounding is amplified beyond testing.)
"""

from __future__ import annotations

from ..registry import register
from .classic import (AlexNet, LeNet5, VGG, alexnet, lenet5, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn,
                      vgg19, vgg19_bn)
from .convnext import ConvNeXt, convnext_tiny
from .densenet import DenseNet, densenet121
from .efficientnet import EfficientNet, efficientnet_b0, efficientnet_b7
from .inception import GoogLeNet, Inception3, googlenet, inception_v3
from .mobile import (MobileNetV1, MobileNetV2, MobileNetV3, ShuffleNetV2, SqueezeNet, mobilenet_v1, mobilenet_v2,
                     mobilenet_v3_large, mobilenet_v3_small, shufflenet_v2_x1_0, squeezenet1_1)
from .regnet import RegNet, regnet_x_400mf, regnet_y_400mf
from .resnet import ResNet, resnet18, resnet34, resnet50, resnet101, resnet152
from .xception import Xception, xception

IMAGE_224 = (3, 224, 224)
IMAGE_64 = (3, 64, 64)
_NARROW_CLASSIFIER = {"num_classes": 10, "width_mult": 0.0625, "classifier_hidden": 64}

# name: (constructor, full input, reduced kwargs, reduced input)
ARCHITECTURES = {
    "lenet5": (lenet5, (1, 32, 32), {}, (1, 32, 32)),
    "alexnet": (alexnet, IMAGE_224, dict(_NARROW_CLASSIFIER, width_mult=0.125), IMAGE_224),
    **{name: (constructor, IMAGE_224, _NARROW_CLASSIFIER, IMAGE_224)
       for name, constructor in [("vgg11", vgg11), ("vgg11_bn", vgg11_bn), ("vgg13", vgg13),
                                 ("vgg13_bn", vgg13_bn), ("vgg16", vgg16), ("vgg16_bn", vgg16_bn),
                                 ("vgg19", vgg19), ("vgg19_bn", vgg19_bn)]},
    "googlenet": (googlenet, IMAGE_224, {"num_classes": 10, "width_mult": 0.25, "transform_input": True},
                  IMAGE_64),
    "inception_v3": (inception_v3, (3, 299, 299), {"num_classes": 10, "width_mult": 0.25}, (3, 75, 75)),
    "resnet18": (resnet18, IMAGE_224, {"num_classes": 10, "width_mult": 0.25}, IMAGE_64),
    "resnet34": (resnet34, IMAGE_224, {"num_classes": 10, "width_mult": 0.25}, IMAGE_64),
    "resnet50": (resnet50, IMAGE_224, {"num_classes": 10, "width_mult": 0.125}, IMAGE_64),
    "resnet101": (resnet101, IMAGE_224, {"num_classes": 10, "width_mult": 0.125}, IMAGE_64),
    "resnet152": (resnet152, IMAGE_224, {"num_classes": 10, "width_mult": 0.125}, IMAGE_64),
    "densenet121": (densenet121, IMAGE_224, {"num_classes": 10, "growth_rate": 8, "num_init_features": 16},
                    IMAGE_64),
    "squeezenet1_1": (squeezenet1_1, IMAGE_224, {"num_classes": 10}, IMAGE_64),
    "shufflenet_v2_x1_0": (shufflenet_v2_x1_0, IMAGE_224,
                           {"num_classes": 10, "stages_out_channels": (24, 48, 96, 192, 256)}, IMAGE_64),
    "mobilenet_v1": (mobilenet_v1, IMAGE_224, {"num_classes": 10, "width_mult": 0.5}, IMAGE_64),
    "mobilenet_v2": (mobilenet_v2, IMAGE_224, {"num_classes": 10, "width_mult": 0.5}, IMAGE_64),
    "mobilenet_v3_large": (mobilenet_v3_large, IMAGE_224, {"num_classes": 10, "width_mult": 0.5}, IMAGE_64),
    "mobilenet_v3_small": (mobilenet_v3_small, IMAGE_224, {"num_classes": 10, "width_mult": 0.5}, IMAGE_64),
    "xception": (xception, (3, 299, 299), {"num_classes": 10, "width_mult": 0.125}, IMAGE_64),
    "efficientnet_b0": (efficientnet_b0, IMAGE_224, {"num_classes": 10, "width_mult": 0.5}, IMAGE_64),
    "efficientnet_b7": (efficientnet_b7, (3, 600, 600), {"num_classes": 10, "width_mult": 0.25}, IMAGE_64),
    "convnext_tiny": (convnext_tiny, IMAGE_224, {"num_classes": 10, "width_mult": 0.25, "layer_scale": 1.0},
                      IMAGE_64),
    "regnet_y_400mf": (regnet_y_400mf, IMAGE_224, {"num_classes": 10, "width_mult": 0.5}, IMAGE_64),
    "regnet_x_400mf": (regnet_x_400mf, IMAGE_224, {"num_classes": 10, "width_mult": 0.5}, IMAGE_64),
}



def _batchnorm_batch_size(shape: tuple[int, ...]) -> int:
    """Images per batch for re-estimating BatchNorm: 32 at 64x64, fewer for larger inputs
    (8 at least). The deepest layers of a 64x64 network see 2x2 maps; with fewer samples
    their statistics are noisy enough that a test input far from them amplifies float32
    rounding a thousandfold (EfficientNet-B7)."""
    return max(8, min(32, 32 * 64 * 64 // (shape[-1] * shape[-2])))


for _name, (_constructor, _input, _reduced_kwargs, _reduced_input) in ARCHITECTURES.items():
    register(_name, _constructor, _input, _reduced_kwargs, _reduced_input, "classification",
             bn_batch_size=_batchnorm_batch_size(_reduced_input))

__all__ = [
    "ARCHITECTURES", "LeNet5", "AlexNet", "VGG", "GoogLeNet", "Inception3", "ResNet", "DenseNet", "SqueezeNet",
    "ShuffleNetV2", "MobileNetV1", "MobileNetV2", "MobileNetV3", "Xception", "EfficientNet", "ConvNeXt", "RegNet",
    "lenet5", "alexnet", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn",
    "googlenet", "inception_v3", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "densenet121",
    "squeezenet1_1", "shufflenet_v2_x1_0", "mobilenet_v1", "mobilenet_v2", "mobilenet_v3_large",
    "mobilenet_v3_small", "xception", "efficientnet_b0", "efficientnet_b7", "convnext_tiny", "regnet_y_400mf",
    "regnet_x_400mf",
]
