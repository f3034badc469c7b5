"""What a PAF head's maps mean: the skeleton, training targets and loss masks (encoding), and
peak finding, limb scoring and assembly of people (decoding)."""
