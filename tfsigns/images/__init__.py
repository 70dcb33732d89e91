"""The images a network trains on, without TensorFlow: the SIGNS data set and the course's shaping of it
(signs: load_dataset, convert_to_one_hot, random_mini_batches), scenes, and shifts of photos as a phone in
a room makes them (shifts). Your own photos are read by tfsigns.portable.photos, which an export copies."""
