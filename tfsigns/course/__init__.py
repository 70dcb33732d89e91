"""The lessons' own functions, for learners to read beside the notebooks: the TensorFlow warm-ups
(basics: linear_function, sigmoid, cost, one_hot_matrix, ones), the softmax math in NumPy (softmax),
and convolution step by step in NumPy, forward and backward (convolution)."""
