"""What a PAF head's maps mean, both ways.

``skeleton`` (keypoint and limb order, flips) -> ``spec`` (:class:`HeadSpec`, the one description
of a head, and the map geometry: cell <-> pixel, map sizes) -> ``targets`` (Gaussian heatmaps,
PAFs) and ``masks`` (the loss mask W) -> ``head`` (:class:`PafCodec`, which encodes people into
a head's maps and decodes them back with the ``decode`` package: peaks, PAF line integrals,
matching, recovery, assembly into ``people``).
"""
