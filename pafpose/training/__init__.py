"""Training: configuration, the masked L2 loss, resumable sampling, distributed set-up and the loop."""
