"""COCO keypoint results written as they come: ``results.json`` and ``images.json`` of ``pafpose infer``.

Records are appended to hidden partial files as frames finish and the two files are completed
on :meth:`CocoResultsStream.close` (also after Ctrl-C or SIGTERM), so memory stays flat on an
endless stream and finished frames are never lost. A write that fails (a full disk, a file-size
limit) raises OSError naming the final file and leaves no temporaries.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import UserError
from ..io.outputs import make_temp_file

__all__ = ["CocoResultsStream", "describe_os_error"]


def describe_os_error(err: OSError) -> str:
    """``PATH: reason`` of an OSError."""
    return f"{err.filename}: {err.strerror}" if err.filename else str(err.strerror or err)


class CocoResultsStream:
    """``results.json`` and ``images.json`` written as they grow, completed by :meth:`close`.

    Image ids: a numeric file name keeps its number when it is larger than every id so far,
    else the next free id; only the largest id is remembered, so the cost per frame is constant.
    A write that fails (full disk, file-size limit) raises OSError naming the final file, and
    both temporaries are removed; the stream is then :attr:`failed` and writes nothing more.
    """

    def __init__(self, folder: Path, first_id: int = 1):
        self.folder = Path(folder)
        self.next_id = first_id
        self.failed: str | None = None
        self._files = {}
        try:
            for name in ("results.json", "images.json"):
                fd, tmp = make_temp_file(self.folder / name, suffix=".partial")
                self._files[name] = (os.fdopen(fd, "w"), Path(tmp), [True])
                self._write(name, "[")
        except OSError as err:
            raise self._failure(err, name) from None

    def _write(self, name: str, text: str, flush: bool = False) -> None:
        f = self._files[name][0]
        try:
            f.write(text)
            if flush:
                f.flush()
        except OSError as err:
            raise self._failure(err, name) from None

    def _failure(self, err: OSError, name: str) -> OSError:
        """``err`` naming the final file; the temporaries are removed."""
        failure = OSError(err.errno, err.strerror, str(self.folder / name))
        self.failed = describe_os_error(failure)
        self.discard()
        return failure

    def _append(self, name: str, records: list[dict]) -> None:
        first = self._files[name][2]
        text = "".join(("\n" if first[0] and not i else ",\n") + json.dumps(r, separators=(",", ":"))
                       for i, r in enumerate(records))
        if records:
            first[0] = False
        self._write(name, text, flush=True)

    def add(self, name: str, source: str, frame: int | None, people) -> int:
        """Record one image or frame's people; returns its image id."""
        from .evaluate import people_to_coco_results

        if self.failed:
            raise UserError(f"COCO results not written: {self.failed}")
        stem = name.rsplit("/", 1)[-1]  # not Path: it interns every name it parses
        image_id = int(stem) if stem.isdigit() and int(stem) >= self.next_id else self.next_id
        self.next_id = image_id + 1
        self._append("images.json", [{"id": image_id, "file_name": name, "source": source,
                                      **({"frame": frame} if frame is not None else {})}])
        self._append("results.json", people_to_coco_results(people, image_id))
        return image_id

    def close(self) -> None:
        """Complete both files and move them into place (nothing, once :attr:`failed`)."""
        if self.failed:
            return
        for name, (f, tmp, _) in self._files.items():
            if f.closed:
                continue
            self._write(name, "\n]\n")
            try:
                f.close()
                os.replace(tmp, self.folder / name)
            except OSError as err:
                raise self._failure(err, name) from None

    def discard(self) -> None:
        for f, tmp, _ in self._files.values():
            try:
                f.close()
            except OSError:  # the buffered tail could not be flushed: it is being thrown away
                pass
            tmp.unlink(missing_ok=True)
