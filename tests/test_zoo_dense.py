"""The zoo's dense-prediction, detection, sequence, attention and CIFAR models.

Parameter counts equal the published ones (torchvision, Ultralytics, the
papers); torchvision's segmentation models keep its state-dict names; every
model in its reduced configuration converts from PyTorch and matches PyTorch
(max|cnnrt - torch| <= 1e-4 * max|torch|, per-pixel argmax for the dense
models) at batch 1 and 4; dense models also at a second resolution through an
ONNX export with dynamic height and width. The detection post-processing
(decoding, NMS) is checked against plain-loop references.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import cnnrt  # noqa: E402
from cnnrt.converters import zoo  # noqa: E402
from cnnrt.converters.zoo import dense, postprocess  # noqa: E402
from models import standardize_classifier  # noqa: E402

# One thread: on a shared two-core machine, two OpenMP threads spin against each other (10x slower).
torch.set_num_threads(1)

TOLERANCE = 1e-4
DENSE = ["unet", "fcn_resnet50", "deeplabv3_resnet50", "lraspp_mobilenet_v3_large"]
MINE = DENSE + ["yolov5n", "yolov5s", "yolo_c2f_n", "wavenet", "se_resnet50", "cbam_resnet50",
                "cifar10_3block", "cifar10_3block_bn", "cifar10_small"]


def count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def on_meta(build, **kwargs) -> torch.nn.Module:
    """Full-size models on the meta device: structure and counts without allocating weights."""
    with torch.device("meta"):
        return build(**kwargs)


# ----------------------------------------------------------------------------- structure


@pytest.mark.parametrize("name, kwargs, expected", [
    ("fcn_resnet50", {"aux_loss": True}, 35_322_218),        # torchvision FCN_ResNet50_Weights
    ("fcn_resnet50", {}, 32_957_013),                         # the same less the aux FCNHead(1024)
    ("deeplabv3_resnet50", {"aux_loss": True}, 42_004_074),   # torchvision DeepLabV3_ResNet50_Weights
    ("deeplabv3_resnet50", {}, 39_638_869),
    ("lraspp_mobilenet_v3_large", {}, 3_221_538),             # torchvision LRASPP weights
    ("se_resnet50", {}, 28_088_024),                          # SENet paper / timm seresnet50
    ("yolov5n", {}, 1_872_157),                               # Ultralytics YOLOv5 v6.0, 80 classes
    ("yolov5s", {}, 7_235_389),
    ("cifar10_3block", {}, 1_147_978),                        # the textbook exercise
])  # fmt: skip
def test_parameter_count(name: str, kwargs: dict, expected: int) -> None:
    assert count(on_meta(zoo.get(name).constructor, **kwargs)) == expected


def test_cifar_bn_variant_has_batchnorm_and_no_conv_bias() -> None:
    model = zoo.create("cifar10_3block_bn")
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 6 and all(c.bias is None for c in convs)
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules()) == 6


def test_segmentation_models_keep_torchvision_names() -> None:
    fcn = set(on_meta(dense.fcn_resnet50, aux_loss=True).state_dict())
    for key in ["backbone.conv1.weight", "backbone.layer4.2.bn3.running_var", "backbone.layer3.0.downsample.0.weight",
                "classifier.0.weight", "classifier.1.running_mean", "classifier.4.bias", "aux_classifier.4.weight"]:
        assert key in fcn, key
    assert not any(k.startswith(("backbone.fc", "backbone.avgpool")) for k in fcn)
    deeplab = set(on_meta(dense.deeplabv3_resnet50, aux_loss=True).state_dict())
    for key in ["classifier.0.convs.0.0.weight", "classifier.0.convs.3.1.running_mean", "classifier.0.convs.4.1.weight",
                "classifier.0.project.0.weight", "classifier.1.weight", "classifier.4.bias", "aux_classifier.0.weight"]:
        assert key in deeplab, key
    lraspp = set(on_meta(dense.lraspp_mobilenet_v3_large).state_dict())
    for key in ["backbone.0.0.weight", "backbone.4.block.2.fc1.weight", "backbone.13.block.1.0.weight",
                "backbone.16.1.running_var", "classifier.cbr.0.weight", "classifier.scale.1.weight",
                "classifier.low_classifier.bias", "classifier.high_classifier.weight"]:
        assert key in lraspp, key
    assert "aux_classifier.0.weight" not in set(on_meta(dense.fcn_resnet50).state_dict())


def test_dilated_backbones() -> None:
    backbone = on_meta(dense.fcn_resnet50).backbone
    # replace_stride_with_dilation=[False, True, True]: output stride 8, dilations 1,2 in layer3, 2,4 in layer4.
    assert backbone.layer2[0].conv2.stride == (2, 2)
    assert [b.conv2.dilation[0] for b in backbone.layer3] == [1, 2, 2, 2, 2, 2]
    assert [b.conv2.dilation[0] for b in backbone.layer4] == [2, 4, 4]
    assert backbone.layer3[0].conv2.stride == (1, 1) and backbone.layer3[0].downsample[0].stride == (1, 1)
    head = on_meta(dense.deeplabv3_resnet50).classifier[0]
    assert [head.convs[k][0].dilation[0] for k in (1, 2, 3)] == [12, 24, 36]
    features = on_meta(dense.lraspp_mobilenet_v3_large).backbone
    assert features["13"].block[1][0].dilation == (2, 2) and features["13"].block[1][0].stride == (1, 1)
    model = zoo.create("fcn_resnet50", reduced=True, aux_loss=True)
    with torch.no_grad():
        out = model(torch.randn(1, 3, 40, 56))
    assert set(out) == {"out", "aux"} and out["out"].shape == out["aux"].shape == (1, 5, 40, 56)


def test_wavenet_is_causal() -> None:
    model = zoo.create("wavenet", reduced=True)
    x = zoo.example_input("wavenet", reduced=True)
    y = x.clone()
    y[..., 40] += 1.0
    with torch.no_grad():
        a, b = model(x), model(y)
    assert a.shape == (1, 16, 64)
    assert torch.equal(a[..., :40], b[..., :40])
    assert (a[..., 40:] - b[..., 40:]).abs().amax() > 0
    assert model.receptive_field == 1 + 1 + 2 * (1 + 2 + 4 + 8 + 16)


# ----------------------------------------------------------------------------- cnnrt against PyTorch


class FirstOutput(torch.nn.Module):
    """torchvision's segmentation models return {"out": ...}; tests compare the tensor."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor):
        y = self.model(x)
        return y["out"] if isinstance(y, dict) else y


def as_list(y) -> list[np.ndarray]:
    if isinstance(y, dict):
        return [y[k] for k in sorted(y)]
    if isinstance(y, (tuple, list)):
        return [t.numpy() if isinstance(t, torch.Tensor) else t for t in y]
    return [y.numpy() if isinstance(y, torch.Tensor) else y]


def compare(name: str, got, reference) -> dict:
    got, reference = as_list(got), as_list(reference)
    assert len(got) == len(reference), name
    worst, agreement = 0.0, 1.0
    for g, r in zip(got, reference):
        assert g.shape == r.shape, (name, g.shape, r.shape)
        worst = max(worst, float(np.abs(g.astype(np.float64) - r).max() / np.abs(r).max()))
        if name in DENSE or r.ndim == 2:
            agreement = min(agreement, float(np.mean(g.argmax(1) == r.argmax(1))))
    assert worst <= TOLERANCE, f"{name}: max|cnnrt - torch| / max|torch| = {worst:.2e}"
    assert agreement >= 0.999, f"{name}: argmax agrees at {agreement:.4f} of the positions"
    return {"max_rel_error": worst, "argmax_agreement": agreement}


@pytest.mark.parametrize("name", MINE)
def test_converts_and_matches_pytorch(name: str, tmp_path) -> None:
    model = FirstOutput(zoo.create(name, reduced=True, seed=1)).eval()
    if zoo.get(name).kind in ("classification", "attention"):
        with torch.no_grad():
            standardize_classifier(model, (16, *zoo.get(name).reduced_input_shape), seed=5)
    path = os.path.join(tmp_path, f"{name}.cnnrt")
    cnnrt.convert(model, path, example_input=zoo.example_input(name, reduced=True, batch=1))
    runtime = cnnrt.load(path, threads=2)
    results = []
    for batch in (1, 4, 16 if zoo.get(name).kind in ("classification", "attention") else 1):
        x = zoo.example_input(name, reduced=True, batch=batch, seed=7 + batch)
        with torch.no_grad():
            reference = model(x)
        results.append(compare(name, runtime.run(x.numpy()), reference))
    if zoo.get(name).kind in ("dense", "classification", "attention"):
        # Outputs that do not depend on the input would make the comparison pass trivially.
        assert len(np.unique(as_list(reference)[0].argmax(1))) > 1, name


def export_dynamic_resolution(model: torch.nn.Module, x: torch.Tensor, path: str) -> None:
    torch.onnx.export(model, (x,), path, dynamo=False, opset_version=17, input_names=["input"],
                      output_names=["output"], dynamic_axes={"input": {0: "batch", 2: "height", 3: "width"},
                                                             "output": {0: "batch", 2: "height", 3: "width"}})


@pytest.mark.parametrize("name", DENSE)
def test_dense_at_two_resolutions(name: str, tmp_path) -> None:
    """Bilinear upsampling to the input's (or a feature map's) size reads that tensor's height
    and width at run time (Shape -> Gather/Slice -> Concat -> Resize sizes): the converter
    gives the cnnrt Resize that tensor as its Reference input (docs/ops.md, Resize)."""
    model = FirstOutput(zoo.create(name, reduced=True, seed=2)).eval()
    onnx_path = os.path.join(tmp_path, f"{name}.onnx")
    export_dynamic_resolution(model, zoo.example_input(name, reduced=True), onnx_path)
    path = os.path.join(tmp_path, f"{name}.cnnrt")
    cnnrt.convert(onnx_path, path)
    runtime = cnnrt.load(path, threads=2)
    generator = torch.Generator().manual_seed(3)
    for shape in [(1, 3, 64, 64), (4, 3, 96, 80), (2, 3, 64, 64)]:
        x = torch.randn(shape, generator=generator)
        with torch.no_grad():
            reference = model(x)
        compare(name, runtime.run(x.numpy()), reference)


# ----------------------------------------------------------------------------- detection post-processing


def decode_reference(outputs, anchors, strides) -> tuple[np.ndarray, np.ndarray]:
    boxes, scores = [], []
    for raw, scale_anchors, stride in zip(outputs, anchors, strides):
        n, channels, h, w = raw.shape
        per_anchor = channels // len(scale_anchors)
        image_boxes = [[] for _ in range(n)]
        image_scores = [[] for _ in range(n)]
        for b in range(n):
            for a, (anchor_w, anchor_h) in enumerate(scale_anchors):
                for i in range(h):
                    for j in range(w):
                        v = 1 / (1 + np.exp(-raw[b, a * per_anchor:(a + 1) * per_anchor, i, j].astype(np.float64)))
                        cx, cy = (2 * v[0] - 0.5 + j) * stride, (2 * v[1] - 0.5 + i) * stride
                        bw, bh = (2 * v[2]) ** 2 * anchor_w, (2 * v[3]) ** 2 * anchor_h
                        image_boxes[b].append([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2])
                        image_scores[b].append(v[4] * v[5:])
        boxes.append(np.array(image_boxes))
        scores.append(np.array(image_scores))
    return np.concatenate(boxes, axis=1), np.concatenate(scores, axis=1)


def nms_reference(boxes, scores, iou_threshold, classes) -> list[int]:
    """Visit boxes best first; keep one unless a kept box of its class overlaps it too much."""
    def iou(p, q):
        w = max(0.0, min(p[2], q[2]) - max(p[0], q[0]))
        h = max(0.0, min(p[3], q[3]) - max(p[1], q[1]))
        union = (p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - w * h
        return w * h / union if union > 0 else 0.0

    keep: list[int] = []
    for k in sorted(range(len(scores)), key=lambda k: (-scores[k], k)):
        if all(classes[k] != classes[m] or iou(boxes[k], boxes[m]) <= iou_threshold for m in keep):
            keep.append(k)
    return keep


def test_decode_matches_reference() -> None:
    rng = np.random.default_rng(0)
    anchors = postprocess.DEFAULT_ANCHORS
    outputs = [rng.normal(size=(2, 3 * (5 + 4), h, w)).astype(np.float32) * 2 for h, w in [(8, 6), (4, 3), (2, 1)]]
    boxes, scores = postprocess.decode_yolo(outputs, anchors, (8, 16, 32))
    expected_boxes, expected_scores = decode_reference(outputs, anchors, (8, 16, 32))
    assert boxes.shape == (2, 3 * (48 + 12 + 2), 4) and scores.shape == (2, 186, 4)
    np.testing.assert_allclose(boxes, expected_boxes, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(scores, expected_scores, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("iou_threshold", [0.3, 0.5, 0.7])
def test_nms_matches_reference(seed: int, iou_threshold: float) -> None:
    rng = np.random.default_rng(seed)
    n = 120
    centres = rng.uniform(0, 100, size=(n, 2))
    sizes = rng.uniform(5, 40, size=(n, 2))
    boxes = np.concatenate([centres - sizes / 2, centres + sizes / 2], axis=1)
    boxes[0:n - 1:17] = boxes[1:n:17]                    # exact duplicates: IoU 1
    scores = rng.uniform(size=n).round(2)                # ties: the lower index goes first
    classes = rng.integers(0, 3, size=n)
    for cls in (classes, np.zeros(n, dtype=np.int64)):
        got = postprocess.nms(boxes, scores, iou_threshold, cls)
        assert got.tolist() == nms_reference(boxes, scores, iou_threshold, cls)
    assert postprocess.nms(boxes, scores, iou_threshold).tolist() == nms_reference(
        boxes, scores, iou_threshold, np.zeros(n))
    assert postprocess.nms(np.zeros((0, 4)), np.zeros(0)).tolist() == []


def test_postprocess_thresholds_and_classes() -> None:
    rng = np.random.default_rng(5)
    outputs = [rng.normal(size=(3, 3 * 7, 64 // s, 64 // s)).astype(np.float32) * 3 for s in (8, 16, 32)]
    boxes, scores = postprocess.decode_yolo(outputs)
    for image, detections in enumerate(postprocess.postprocess(outputs, score_threshold=0.3, iou_threshold=0.5)):
        best = scores[image].max(axis=1)
        candidates = np.nonzero(best > 0.3)[0]
        labels = scores[image].argmax(axis=1)[candidates]
        keep = nms_reference(boxes[image][candidates], best[candidates], 0.5, labels)
        assert detections.shape == (len(keep), 6)
        np.testing.assert_allclose(detections[:, :4], boxes[image][candidates[keep]], rtol=1e-6)
        np.testing.assert_allclose(detections[:, 4], best[candidates[keep]], rtol=1e-6)
        assert detections[:, 5].tolist() == labels[keep].tolist()
        assert (np.diff(detections[:, 4]) <= 0).all()
    many = postprocess.postprocess(outputs, score_threshold=0.3, multi_label=True, max_detections=5)
    assert all(len(d) <= 5 for d in many)


def test_yolo_detections_from_cnnrt_match_pytorch(tmp_path) -> None:
    model = zoo.create("yolov5n", reduced=True, seed=3)
    x = zoo.example_input("yolov5n", reduced=True, batch=2, seed=4)
    path = os.path.join(tmp_path, "yolo.cnnrt")
    cnnrt.convert(model, path, example_input=x[:1])
    got = cnnrt.load(path, threads=2).run(x.numpy())
    with torch.no_grad():
        reference = [t.numpy() for t in model(x)]
    assert isinstance(got, dict) and len(got) == 3
    raw = [got[k] for k in sorted(got)]
    # Random weights give low scores: take the highest threshold that still
    # leaves detections in the reference, so the comparison is not vacuous.
    threshold = next(t for t in (0.2, 0.1, 0.05, 0.02, 0.01, 0.005)
                     if sum(len(d) for d in postprocess.postprocess(reference, score_threshold=t)) > 0)
    expected = postprocess.postprocess(reference, score_threshold=threshold)
    for mine, theirs in zip(postprocess.postprocess(raw, score_threshold=threshold), expected):
        assert mine.shape == theirs.shape
        np.testing.assert_allclose(mine, theirs, rtol=1e-3, atol=1e-2)
    assert sum(len(d) for d in expected) > 0
