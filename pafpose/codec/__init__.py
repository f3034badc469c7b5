"""What a PAF head's maps mean, both ways.

``skeleton`` (keypoint and limb order, flips) -> ``targets`` (Gaussian heatmaps, PAFs) and
``masks`` (the loss mask W) -> ``head`` (:class:`HeadSpec`, the one description of a head, and
:class:`PafCodec`, which encodes people into its maps and decodes them back with ``decode``:
peaks, PAF line integrals, matching, assembly into ``people``).
"""
