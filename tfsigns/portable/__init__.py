"""What a reader runs at run time, outside tfsigns: photos read as cameras write them (photos), the hand
framed (framing), MediaPipe's hand pipeline and its 42 features (palm, hands), and the runner of an
exported reader (read). These modules import the standard library, NumPy, Pillow and a TensorFlow Lite
interpreter, and each other only relatively, so `python -m tfsigns.export` copies this folder beside the
models and its read.py runs where tfsigns is not installed; tfsigns runs the very same code."""
