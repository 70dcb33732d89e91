"""The hand model as tfsigns trains through it: MediaPipe's palm detector and hand-landmark model
(TensorFlow Lite files, found and verified by files, loaded by model) and the features of many photos and of
SIGNS, cached (features). The pipeline on one photo is tfsigns.portable.hands'. No TensorFlow session."""
