"""A finished run's classifier as TensorFlow Lite, and the input contract an app reads it by (reader.json).

The network is built in test mode by its family's own builders (tfsigns.training.graph.logits: input
normalization, batch norm with its stored statistics, no dropout, the training flag a constant false) on the
run's checkpoint, in a tf.compat.v1 session, and converted from that session (TFLiteConverter.from_session),
which freezes the variables and folds the constants (batch norm becomes a scale and a shift). The graph
takes examples as rows, one photo's (64, 64, 3) pixels or one hand's 42 features, whatever the family's
layout, and gives softmax probabilities (m, C).
"""

from __future__ import annotations

import hashlib
import math
import os

import numpy as np

from tfsigns.backend import tf, v1
from tfsigns.config import LANDMARK_FAMILIES, TrainConfig
from tfsigns.hands.model import HandModel
from tfsigns.networks import get_network
from tfsigns.portable import framing, hands, palm, photos
from tfsigns.portable.hands import VERSION
from tfsigns.portable.native import quiet_native_stderr
from tfsigns.portable.read import FORMAT, Signs
from tfsigns.training.graph import image_shape
from tfsigns.training.inference import inference_logits, load_model
from tfsigns.training.runs import CheckpointError, finished_run, hand_model_of


def convert(run_dir: str | os.PathLike, quantize: str = "none") -> tuple[bytes, dict, dict]:
    """A finished run's export: its classifier as TensorFlow Lite (classifier_tflite), its reader.json, and
    the hand model files to copy beside them ({name: path}; none for a pixel run). CheckpointError (ModelError
    for the hand model's files) when the run cannot be exported, before the conversion."""
    metrics, _ = finished_run(run_dir)
    config, parameters, input_shape = load_model(run_dir)
    hand_model = hand_model_of(run_dir, metrics) if config.arch in LANDMARK_FAMILIES else None
    graph, x, probabilities = probabilities_graph(config, parameters, input_shape)
    tflite = classifier_tflite(graph, x, probabilities, quantize)
    return tflite, *reader_contract(metrics, config, hand_model, x, probabilities, tflite, quantize)


def probabilities_graph(config: TrainConfig, parameters: dict[str, np.ndarray], input_shape: tuple[int, ...]
                        ) -> tuple[tf.Graph, tf.Tensor, tf.Tensor]:
    """The model in test mode on trained parameters (as variables), as load_model gives them: a
    placeholder for one example as a row (1, *row shape) and its probabilities (1, C). The batch is fixed
    at one: LiteRT.js (the web page's runtime) runs only inputs of the model's own shape."""
    layout = get_network(config.arch).layout
    rows = image_shape(layout, input_shape) or input_shape
    with tf.Graph().as_default() as graph:
        x = v1.placeholder(tf.float32, [1, *rows], name="examples")
        X = tf.transpose(tf.reshape(x, [-1, math.prod(input_shape)])) if layout.examples_last else x
        Z = inference_logits(config, parameters, X)
        Z = tf.transpose(Z) if layout.examples_last else Z
        probabilities = tf.nn.softmax(Z, axis=-1, name="probabilities")
    return graph, x, probabilities


def classifier_tflite(graph: tf.Graph, x: tf.Tensor, probabilities: tf.Tensor, quantize: str = "none"
                      ) -> bytes:
    """The graph's x -> probabilities as a TensorFlow Lite flatbuffer, converted from a session of it:
    float32, or with weights stored as float16 ("float16") or int8 ("dynamic", dynamic-range quantization)."""
    with graph.as_default(), v1.Session(graph=graph) as session:
        session.run(v1.global_variables_initializer())
        converter = v1.lite.TFLiteConverter.from_session(session, [x], [probabilities])
        if quantize != "none":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantize == "float16":
            converter.target_spec.supported_types = [tf.float16]
        with quiet_native_stderr():  # grappler's notes on the variables' initializers, frozen away
            return converter.convert()


def reader_contract(metrics: dict, config: TrainConfig, hand_model: HandModel | None, x: tf.Tensor,
                    probabilities: tf.Tensor, tflite: bytes, quantize: str) -> tuple[dict, dict]:
    """reader.json for the export of a run (its metrics.json and config, the hand model it was trained
    through, checked by hand_model_of; its graph's input and output), and the hand model files to copy
    beside it ({name: path}; none for a pixel run)."""
    signs, outputs = Signs.of(metrics), int(probabilities.shape[-1])
    if signs.outputs != outputs:
        raise CheckpointError(f"its network has {outputs} outputs, but its metrics.json names "
                              f"{signs.outputs}")
    unknown = ({} if signs.unknown is None else {"unknown": {
        "output": signs.unknown, "threshold": signs.threshold, "meaning": "the output after the signs': 'a "
        "sign I don't know', learnt from made-up hand shapes; where its probability is at least the "
        "threshold, the answer is no sign, else the most probable of the signs"}})
    contract = {
        "format": FORMAT,
        "family": config.arch,
        "signs": list(signs.names),
        "signs_meaning": "the hand signs this reader names (ASL's digits by their digit; a taught sign by "
                         "the name it was taught), in the order of the classifier's outputs",
        **unknown,
        "test_accuracy": metrics.get("test_accuracy"),
        "classifier": {
            "file": "classifier.tflite", "sha256": hashlib.sha256(tflite).hexdigest(), "quantize": quantize,
            "input": {"shape": [1, *x.shape[1:]], "dtype": "float32"},
            "output": {"shape": [1, outputs], "dtype": "float32",
                       "meaning": "softmax probabilities: the signs', in the order of signs, then the "
                                  "unknown sign's where 'unknown' is given"},
        },
        "photo": {"orientation": "EXIF applied (turned upright as a viewer shows it)",
                  "colour": "8-bit RGB; transparent pixels on white; greyscale repeated in R, G and B; "
                            "16-bit greyscale scaled from 0-65535 (photos._to_rgb)",
                  "most_pixels": "Pillow's Image.MAX_IMAGE_PIXELS (about 89 million): larger is refused"},
        "hand_models": {},
    }
    if hand_model is None:
        contract["input"] = {
            "kind": "pixels", "size": int(x.shape[1]),
            "steps": [f"the photo's largest centred square, resized to {int(x.shape[1])}x{int(x.shape[2])} "
                      "RGB (Pillow, bicubic, antialiased; photos.load_image)",
                      "each value divided by 255: float32 in [0, 1], (rows, columns, RGB) row-major",
                      "framing 'hand': the wall made plain and the square cropped to the hand (framing.py)"
                      if config.framing == "hand" else "no framing",
                      "the classifier (input normalization is inside it)"],
            "framing": config.framing,
        }
        if config.framing == "hand":  # the rule's numbers, for an app that ports framing.py
            contract["input"]["framing_rule"] = {
                "mask_low": framing.MASK_LOW, "mask_high": framing.MASK_HIGH, "plain": framing.PLAIN,
                "edge_quantile": framing.EDGE_QUANTILE, "margin": framing.MARGIN,
                "hand_pixels": framing.HAND_PIXELS}
        return contract, {}
    paths = hand_model.paths  # the files hand_model_of found to be the run's own
    contract["hand_models"] = {path.name: hand_model.sha256[path.name] for path in paths.values()}
    words = ("image", "region", "feature_rule", "handedness")
    contract["input"] = {
        "kind": "landmarks", "features": VERSION, "hand_model": hand_model.complexity,
        **{word: str(metrics["input"].get(word, "")) for word in words},
        "presence_threshold": hand_model.threshold,
        "hand_model_files": [paths["palm"].name, paths["landmark"].name],
        "frame_longest_side": photos.FRAME_SIDE, "min_side": hands.MIN_SIDE,
        "palm": {"input": palm.PALM_SIZE, "letterbox": "black", "threshold": palm.PALM_THRESHOLD,
                 "nms_iou": palm.NMS_IOU, "region_scale": palm.PALM_SCALE,
                 "region_shift_y": palm.PALM_SHIFT_Y, "anchor_strides": list(palm.STRIDES),
                 "anchors_per_layer": palm.ANCHORS_PER_LAYER, "score_clip": palm.SCORE_CLIP,
                 "most_palms": palm.MOST_PALMS, "rotation_keypoints": [palm.WRIST, palm.MIDDLE_BASE]},
        "landmarks": {"input": hands.LANDMARK_SIZE, "border": "the image's edge pixels repeated",
                      "outputs": hands.OUTPUTS},
        "tracking": {"scale": palm.TRACK_SCALE, "shift_y": palm.TRACK_SHIFT_Y,
                     "rule": "the next frame's region from this frame's landmarks (palm.landmarks_rect)"},
        "whole_image_share": hands.WHOLE_IMAGE_SHARE, "feature_unit_metres": hands.UNIT,
        "no_hand": {"class": None, "sign": None, "hand": False, "probabilities": None},
        "unknown_sign": {"class": None, "sign": None, "hand": True},
        "steps": ["the frame upright (EXIF) in 8-bit RGB, its long side at most "
                  f"{photos.FRAME_SIDE} pixels (photos.load_frame)",
                  "palms: the frame letterboxed on black into 192x192, RGB / 255, the palm model; anchors "
                  "decoded and merged (palm.py); none found, or the best one's region shows no hand: the "
                  "same in square tiles (hands.find_palms)",
                  "the best palm's rotated square region, 224x224 bilinear, / 255, the landmark model; "
                  "also the whole frame where that region is large or shows no hand (hands.best_hand)",
                  f"presence below {hand_model.threshold}: no hand, no answer",
                  "features: world landmarks' x and y less the wrist's, / 0.1 m, 42 float32 (hands.features)",
                  "the classifier; the unknown sign's output at least its threshold: no sign "
                  "(unknown_sign); else the most probable of the signs"],
    }
    return contract, {path.name: path for path in paths.values()}
