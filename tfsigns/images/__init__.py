"""The images a network reads, without TensorFlow: the SIGNS data set and the course's shaping of it
(signs: load_dataset, convert_to_one_hot, random_mini_batches), your own photos read as cameras write
them (photos), the hand framed and cropped (framing), and shifts of photos as a phone in a room
makes them (shifts)."""
