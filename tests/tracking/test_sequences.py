"""SequenceTracking: one tracker per sequence, 30 fps clocks for untimed images, cuts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tracking_helpers import body, frame

from pafpose.tracking import CutDetector, OneEuroSmoother, PoseTracker, SequenceTracking


@dataclass(frozen=True)
class Source:
    kind: str
    path: Path


RED, GREEN = (30, 30, 200), (40, 160, 40)


def _scene(seed: int) -> np.ndarray:
    """A picture of coloured blocks, different for every seed."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, (6, 8, 3)).astype(np.uint8)
    return np.repeat(np.repeat(blocks, 80, axis=0), 80, axis=1)


def _ids(people) -> list[int]:
    return [p.track_id for p in people]


def test_a_cut_ends_every_track_and_whoever_stands_there_after_is_someone_new():
    video = Source("video", Path("clip.mp4"))
    for cuts, same_after_cut in ((True, False), (False, True)):
        seq = SequenceTracking(PoseTracker, OneEuroSmoother, cuts=cuts)
        person = [body((300, 300))]
        before = {_ids(seq.update(video, f / 30, _scene(1), person))[0] for f in range(5)}
        after = {_ids(seq.update(video, f / 30, _scene(2), person))[0] for f in range(5, 10)}
        assert len(before) == 1 and len(after) == 1
        assert (before == after) == same_after_cut


def test_black_frames_and_camera_shake_are_not_cuts():
    detector = CutDetector()
    scene = _scene(3)
    assert not detector(scene)  # the first frame is no cut
    for dx in (4, -6, 8, -3):  # shake
        assert not detector(np.roll(scene, dx, axis=1))
    assert not detector(np.zeros_like(scene)) and not detector(np.zeros_like(scene))  # black
    assert not detector(scene)  # the same shot after the black frames
    assert detector(_scene(4))  # another shot


def test_untimed_image_sequences_get_a_30_fps_clock_one_tracker_per_folder_and_cuts():
    seq = SequenceTracking(PoseTracker, image_sequences=True)
    images = [Source("image", Path(f"walk/{i:03d}.jpg")) for i in range(4)]
    other = Source("image", Path("other/000.jpg"))
    ids = [_ids(seq.update(src, None, _scene(1), [body((300 + 2 * i, 300))]))[0] for i, src in enumerate(images)]
    assert ids == [0, 0, 0, 0]
    assert _ids(seq.update(other, None, _scene(1), [body((300, 300))])) == [0]  # its own tracker
    assert seq.num_sequences == 2
    seq.end(images[-1])  # a folder's images stay one sequence
    cut = Source("image", Path("walk/004.jpg"))
    assert _ids(seq.update(cut, None, _scene(9), [body((308, 300))])) == [1]  # a cut in the folder


def test_single_images_and_videos_are_forgotten_when_they_end_and_no_tracker_passes_through():
    seq = SequenceTracking(PoseTracker)
    photo, video = Source("image", Path("a.jpg")), Source("video", Path("v.mp4"))
    seq.update(photo, None, None, [body((100, 300))])
    seq.update(video, 0.0, None, [body((100, 300))])
    seq.end(photo)
    seq.end(video)
    assert seq.num_sequences == 0
    people = [body((100, 300))]
    assert SequenceTracking(None).update(video, 0.0, None, people) is people
    assert people[0].track_id == -1


def test_looks_come_from_the_frame_through_sequence_tracking():
    # Away for 3 s; back in other clothes: a new id (the frame reached the tracker).
    video = Source("video", Path("clip.mp4"))
    seq = SequenceTracking(PoseTracker)
    people = [body((150, 300)), body((450, 300))]
    for f in range(10):
        first = _ids(seq.update(video, f / 30, frame(people, [RED, GREEN]), people))
    for f in range(10, 100):
        seq.update(video, f / 30, frame(people[1:], [GREEN]), people[1:])
    back = [body((200, 300)), body((450, 300))]
    again = _ids(seq.update(video, 100 / 30, frame(back, [(200, 60, 30), GREEN]), back))
    assert again[1] == first[1] and again[0] not in first


def test_camera_shift_follows_a_pan_and_ignores_a_jump_to_another_picture():
    from pafpose.tracking import cuts

    texture = np.random.default_rng(5).integers(0, 256, (480, 640, 3)).astype(np.uint8)
    texture = np.ascontiguousarray(np.repeat(np.repeat(texture[::8, ::8], 8, 0), 8, 1))
    shift = cuts.CameraShift()
    shift(texture)
    dx, dy = shift(np.roll(texture, 12, axis=1))
    assert abs(dx - 12) < 3 and abs(dy) < 3  # a pan: the picture moved 12 px right
    assert np.allclose(shift(_scene(2)), 0)  # another picture: no shift, not a wild jump


def test_camera_shift_follows_a_fast_pan_at_a_low_frame_rate():
    # A pan across a 640-pixel frame in a second, filmed at 10 fps: 200 pixels a frame (a third
    # of the frame; half of it still overlaps the previous picture).
    from pafpose.tracking import cuts

    wide = np.random.default_rng(6).integers(0, 256, (60, 280, 3)).astype(np.uint8)
    wide = np.ascontiguousarray(np.repeat(np.repeat(wide, 8, 0), 8, 1))  # 480 x 2240
    shift = cuts.CameraShift()
    moved = [shift(np.ascontiguousarray(wide[:, x:x + 640])) for x in range(0, 1600, 200)]
    assert np.allclose(moved[0], 0)
    for dx, dy in moved[1:]:  # the picture moves left as the camera pans right
        assert abs(dx + 200) < 4 and abs(dy) < 4
