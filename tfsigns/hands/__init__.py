"""The hand model: MediaPipe's palm detector and hand-landmark model (TensorFlow Lite files, found
and verified by files), the palm detector's geometry (palm), the pipeline on one image (model), and
the features a landmark reader learns from (features). No TensorFlow session: below the training code."""
