"""What every command shares, without TensorFlow: results written atomically (files), the command
line's parser, help and settings files (cli), and figures rendered off-screen (plots)."""
