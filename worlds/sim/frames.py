"""Server -> client frames: the per-tick frame of each client, built from shared fragments.

Tick frame (JSON shown; msgpack carries the same map). Keys other than t/tick/ack appear only
when non-empty::

    {"t": "tick", "tick": 1234, "ack": 57,
     "upd":   [[id, x, y, facing], ...],        # positions of visible entities that moved or
                                                #   entered this tick (never your own entity)
     "enter": [{"id", "k", "name", "lvl", "cls", "hp", "mhp", "app", "mv"}, ...],
     "leave": [id, ...],
     "chg":   [{"id": 7, "hp": 80}, ...],       # only the fields that changed (yours included)
     "ev":    [{"e": "chat" | "emote" | "pong" | "zone" | "error", ...}, ...],
     "you":   {"cor": 3, "x": 10.5, "y": 4.25, "f": 2}}   # correction: snap back to here

Positions have two decimals. An entity in ``enter`` always has its position in ``upd`` of the
same frame.

Why it is fast: each entity's ``upd`` record is rendered once per tick for all viewers, as a
fixed-width row of a NumPy byte matrix (JSON numbers padded with leading spaces, msgpack with
fixed-size number formats). Sorting the visible (viewer, entity) pairs by viewer and gathering
rows gives every client's ``upd`` list as one slice of a single buffer. ``enter`` fragments are
cached per entity until its public fields change; events are encoded once per encoding.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import ormsgpack

IntArray = npt.NDArray[np.signedinteger[Any]]
FloatArray = npt.NDArray[np.floating[Any]]

ENCODINGS = ("json", "msgpack")
_MSGPACK_RECORD = np.dtype(
    [
        ("array", "u1"),
        ("id_tag", "u1"),
        ("id", ">u4"),
        ("x_tag", "u1"),
        ("x", ">f8"),
        ("y_tag", "u1"),
        ("y", ">f8"),
        ("facing", "u1"),
    ]
)
_MSGPACK_RECORD_SIZE = _MSGPACK_RECORD.itemsize


def encode_value(value: Any, encoding: str) -> bytes:
    if encoding == "json":
        return orjson.dumps(value)
    return ormsgpack.packb(value)


class Fragment:
    """A value to be embedded in frames, encoded at most once per encoding."""

    __slots__ = ("_json", "_msgpack", "value")

    def __init__(self, value: Any) -> None:
        self.value = value
        self._json: bytes | None = None
        self._msgpack: bytes | None = None

    def encoded(self, encoding: str) -> bytes:
        if encoding == "json":
            if self._json is None:
                self._json = orjson.dumps(self.value)
            return self._json
        if self._msgpack is None:
            self._msgpack = ormsgpack.packb(self.value)
        return self._msgpack


@dataclass
class ClientExtras:
    """Everything in one client's frame besides ``upd``, collected during a tick."""

    enter: list[Fragment] = field(default_factory=list)
    leave: list[int] = field(default_factory=list)
    chg: list[Fragment] = field(default_factory=list)
    events: list[Fragment] = field(default_factory=list)
    you: dict[str, Any] | None = None


@dataclass
class UpdateTable:
    """``upd`` records of some clients: a client's list is ``blob[start*size : end*size]``
    with ``start, end = starts[slot], ends[slot]``."""

    blob: bytes
    record_size: int
    starts: IntArray
    ends: IntArray


class RecordRenderer:
    """Renders one zone's ``upd`` records, one fixed-width row per slot, once per tick.

    JSON rows are ``,[id,x,y,f]`` with numbers right-aligned in fixed columns (leading spaces
    are insignificant whitespace in JSON, leading zeros would be invalid). The text of every
    possible coordinate (hundredths of a tile, up to the map size) comes from a lookup table
    built once, and the text of each slot's entity id is cached when the slot is filled, so a
    tick only gathers and copies bytes. When a coordinate with its leading comma is 8 bytes
    (zones 1,000 to 9,999 tiles wide) the table holds it as one uint64 word: gathering words is
    about twice as fast as gathering 7-byte void items. msgpack rows are fixarray(4): uint32
    id, float64 x, float64 y, fixint facing (25 bytes).
    """

    ID_COLUMNS = 10

    def __init__(self, width: int, height: int) -> None:
        self.x_text = _fixed_point_table(width)
        self.y_text = self.x_text if height == width else _fixed_point_table(height)
        # ",1023.45" as one word when both coordinates fit exactly in 8 bytes.
        self.words = self.x_text.shape[1] == self.y_text.shape[1] == 7
        self.x_words = _comma_words(self.x_text) if self.words else None
        self.y_words = _comma_words(self.y_text) if self.words else None
        self.id_text = np.zeros((0, self.ID_COLUMNS), np.uint8)
        self.id_width = 1
        # The rows of the previous tick, reused: only coordinates and facing change per tick.
        self._rows: npt.NDArray[np.void] | None = None
        self._ids_changed = True

    def grow(self, capacity: int) -> None:
        extra = capacity - len(self.id_text)
        if extra > 0:
            blank = np.full((extra, self.ID_COLUMNS), 32, np.uint8)
            self.id_text = np.concatenate([self.id_text, blank])

    def set_entity_id(self, slot: int, entity_id: int) -> None:
        text = str(entity_id).encode()
        self.id_text[slot] = np.frombuffer(text.rjust(self.ID_COLUMNS), np.uint8)
        self.id_width = max(self.id_width, len(text))
        self._ids_changed = True

    def _json_layout(self) -> np.dtype[np.void]:
        head: list[tuple[str, Any] | tuple[str, Any, Any]] = [
            ("head", np.uint8, (2 + self.id_width,))  # ,[id
        ]
        if self.words:
            coordinates: list[tuple[str, Any] | tuple[str, Any, Any]] = [
                ("x", np.uint64),  # ,xxxx.xx
                ("y", np.uint64),
            ]
        else:
            coordinates = [
                ("x_comma", np.uint8),
                ("x", np.void, self.x_text.shape[1]),
                ("y_comma", np.uint8),
                ("y", np.void, self.y_text.shape[1]),
            ]
        tail = [("f_comma", np.uint8), ("facing", np.uint8), ("close", np.uint8)]
        return np.dtype(head + coordinates + tail)

    def json_rows(
        self,
        xs: FloatArray,
        ys: FloatArray,
        facing: IntArray,
        changed: npt.NDArray[np.bool_] | None = None,
    ) -> npt.NDArray[np.uint8]:
        """One row per slot, valid until the next call (the buffer is reused). ``changed``:
        the slots whose position or facing may differ from the previous call (None: all);
        only their rows are rewritten."""
        layout = self._json_layout()
        rows = self._rows
        if rows is None or rows.dtype != layout or len(rows) != len(xs):
            changed = None
            rows = self._rows = np.empty(len(xs), layout)
            if not self.words:
                rows["x_comma"] = rows["y_comma"] = ord(",")
            rows["f_comma"] = ord(",")
            rows["close"] = ord("]")
            self._ids_changed = True
        if self._ids_changed:
            rows["head"][:, :2] = np.frombuffer(b",[", np.uint8)
            rows["head"][:, 2:] = self.id_text[: len(xs), self.ID_COLUMNS - self.id_width :]
            self._ids_changed = False
        where: slice | IntArray = slice(None)
        if changed is not None:
            where = np.flatnonzero(changed)
            end = int(where[-1]) + 1 if len(where) else 0
            if 2 * len(where) > end:
                # Dense (slots are handed out lowest first): rewriting the whole prefix as a
                # contiguous slice is cheaper than scattering to the changed rows.
                where = slice(0, end)
            xs, ys, facing = xs[where], ys[where], facing[where]
        if self.x_words is not None and self.y_words is not None:
            rows["x"][where] = self.x_words[_hundredths(xs, len(self.x_words))]
            rows["y"][where] = self.y_words[_hundredths(ys, len(self.y_words))]
        else:
            rows["x"][where] = _void_items(self.x_text)[_hundredths(xs, len(self.x_text))]
            rows["y"][where] = _void_items(self.y_text)[_hundredths(ys, len(self.y_text))]
        rows["facing"][where] = facing + 48
        return rows.view(np.uint8).reshape(len(rows), layout.itemsize)

    @staticmethod
    def msgpack_rows(
        entity_ids: IntArray, xs: FloatArray, ys: FloatArray, facing: IntArray
    ) -> npt.NDArray[np.uint8]:
        records = np.empty(len(xs), _MSGPACK_RECORD)
        records["array"] = 0x94
        records["id_tag"] = 0xCE
        records["id"] = entity_ids
        records["x_tag"] = 0xCB
        records["x"] = np.rint(xs * 100.0) / 100.0
        records["y_tag"] = 0xCB
        records["y"] = np.rint(ys * 100.0) / 100.0
        records["facing"] = facing
        return records.view(np.uint8).reshape(len(xs), _MSGPACK_RECORD_SIZE)


class EnterRowTable:
    """Each entity's JSON ``enter`` record (with its leading comma), padded to whole rows of
    the ``upd`` row width and kept in one byte table until the entity's public fields change.

    A tick gathers the rows of the entering entities with one ``take_rows``; only entities
    without rows (new, changed, or after a row width change) are rendered, in one batch.
    Forgotten rows stay as garbage until it outweighs the live rows, then the table is
    compacted.
    """

    def __init__(self) -> None:
        self._reset(0)

    def _reset(self, width: int) -> None:
        self.width = width
        self.table = np.zeros((0, max(width, 1)), np.uint8)
        self.used = 0  # rows of ``table`` in use (live or garbage)
        self.garbage = 0
        self.first = np.zeros(0, np.int64)  # per slot: first row, and row count (0: none)
        self.count = np.zeros(0, np.int64)

    def forget(self, slot: int) -> None:
        """The entity in ``slot`` changed (or the slot was emptied / refilled)."""
        if slot < len(self.count) and self.count[slot]:
            self.garbage += int(self.count[slot])
            self.count[slot] = 0

    def rows(
        self, slots: IntArray, width: int, text_of: Callable[[int], bytes]
    ) -> tuple[npt.NDArray[np.uint8], IntArray]:
        """The rows of the (distinct) ``slots``, slot after slot, and each slot's row count.
        ``text_of(slot)`` renders a record that has no rows yet."""
        if width != self.width:
            self._reset(width)
        if len(self.count) <= int(slots.max(initial=-1)):
            extra = int(slots.max()) + 1 - len(self.count)
            self.first = np.concatenate([self.first, np.zeros(extra, np.int64)])
            self.count = np.concatenate([self.count, np.zeros(extra, np.int64)])
        missing = slots[self.count[slots] == 0]
        if len(missing):
            self._add(missing, [text_of(slot) for slot in missing.tolist()])
        counts = self.count[slots]
        return take_rows(self.table[: self.used], _row_index(counts, self.first[slots])), counts

    def _add(self, slots: IntArray, texts: list[bytes]) -> None:
        width = self.width
        padded = [text.ljust(-(-len(text) // width) * width) for text in texts]
        counts = np.fromiter(map(len, padded), np.int64, count=len(padded)) // width
        needed = int(counts.sum())
        if self.garbage > needed and 2 * self.garbage > self.used:
            self._compact()
        if self.used + needed > len(self.table):
            grown = np.empty((max(2 * len(self.table), self.used + needed, 64), width), np.uint8)
            grown[: self.used] = self.table[: self.used]
            self.table = grown
        block = np.frombuffer(b"".join(padded), np.uint8).reshape(-1, width)
        self.table[self.used : self.used + needed] = block
        self.first[slots] = self.used + np.cumsum(counts) - counts
        self.count[slots] = counts
        self.used += needed

    def _compact(self) -> None:
        live = np.flatnonzero(self.count)
        counts = self.count[live]
        kept = take_rows(self.table[: self.used], _row_index(counts, self.first[live]))
        self.table[: len(kept)] = kept
        self.first[live] = np.cumsum(counts) - counts
        self.used = len(kept)
        self.garbage = 0


def take_rows(table: npt.NDArray[np.uint8], index: npt.NDArray[Any]) -> npt.NDArray[np.uint8]:
    """``table[index]`` for a 2-D byte table, several times faster: rows are gathered as
    single fixed-size items instead of as rows of one-byte elements."""
    width = table.shape[1]
    return np.take(_void_items(table), index).view(np.uint8).reshape(-1, width)


def _void_items(table: npt.NDArray[np.uint8]) -> npt.NDArray[np.void]:
    """A 2-D byte table as a 1-D array of fixed-size items (one per row), without copying."""
    return np.ascontiguousarray(table).view(np.dtype((np.void, table.shape[1]))).ravel()


def _hundredths(values: FloatArray, table_length: int) -> IntArray:
    return np.clip(np.rint(values * 100.0).astype(np.int64), 0, table_length - 1)


def _comma_words(text: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint64]:
    """Each 7-byte row of ``text`` with a leading comma, as one native-order 8-byte word."""
    with_comma = np.empty((len(text), 8), np.uint8)
    with_comma[:, 0] = ord(",")
    with_comma[:, 1:] = text
    return with_comma.view(np.uint64).ravel()


def _fixed_point_table(side: int) -> npt.NDArray[np.uint8]:
    """Row v is the text of v/100 with two decimals, right-aligned: ``" 12.05"``."""
    values = np.arange(side * 100 + 1, dtype=np.int64)
    int_width = len(str(side))
    return np.concatenate(
        [
            _digits(values // 100, int_width),
            np.full((len(values), 1), ord("."), np.uint8),
            _digits(values % 100 + 100, 3)[:, 1:],
        ],
        axis=1,
    )


def _digits(values: IntArray, width: int) -> npt.NDArray[np.uint8]:
    """The last ``width`` decimal digits of each (non-negative) value as text, right-aligned
    with leading spaces (leading zeros would make invalid JSON numbers). Gathered four digits
    at a time from a table: only whole-array operations along the values, none per digit."""
    chunks = -(-width // 4)
    text = np.empty((len(values), chunks), _DIGIT_CHUNKS.dtype)
    rest = values.astype(np.int64)
    for chunk in range(chunks - 1, -1, -1):
        above, low = np.divmod(rest, 10_000)
        index = low + 10_000 * (above == 0)  # the top chunk of a value is space-padded
        if chunk < chunks - 1:
            index[rest == 0] = 20_000  # above the top chunk: spaces only
        text[:, chunk] = np.take(_DIGIT_CHUNKS, index)
        rest = above
    return text.view(np.uint8).reshape(len(values), chunks * 4)[:, chunks * 4 - width :]


# 4-byte items: "0000".."9999", then "   0".."9999", then "    ".
_DIGIT_CHUNKS = np.frombuffer(
    b"".join(b"%04d" % value for value in range(10_000))
    + b"".join(b"%4d" % value for value in range(10_000))
    + b"    ",
    np.dtype((np.void, 4)),
)


class FrameBatch(Mapping[str, bytes]):
    """The encoded frames of one tick: ``conn_id -> bytes``, stored as a few large buffers.

    Most frames are slices of one buffer built with vector operations; use ``spans()`` to send
    them without copying (e.g. to forward one buffer per gateway process), or treat the batch as
    a read-only dict (each lookup copies that frame out).
    """

    def __init__(self) -> None:
        self._buffers: list[bytes | memoryview] = []
        self._conn_ids: list[list[str]] = []
        self._starts: list[list[int]] = []
        self._ends: list[list[int]] = []
        self._single: dict[str, bytes] = {}
        self._index: dict[str, tuple[int, int]] | None = None
        self._count = 0

    def add_buffer(
        self, buffer: bytes | memoryview, conn_ids: list[str], starts: list[int], ends: list[int]
    ) -> None:
        self._buffers.append(buffer)
        self._conn_ids.append(conn_ids)
        self._starts.append(starts)
        self._ends.append(ends)
        self._count += len(conn_ids)
        self._index = None

    def add(self, conn_id: str, frame: bytes) -> None:
        self._single[conn_id] = frame
        self._count += 1

    def spans(self) -> Iterator[tuple[str, bytes | memoryview, int, int]]:
        """``(conn_id, buffer, start, end)`` for every frame; the frame is buffer[start:end]
        (``buffer`` is bytes or a read-only-by-contract memoryview: do not write to it)."""
        for buffer, conn_ids, starts, ends in zip(
            self._buffers, self._conn_ids, self._starts, self._ends, strict=True
        ):
            for conn_id, start, end in zip(conn_ids, starts, ends, strict=True):
                yield conn_id, buffer, start, end
        for conn_id, frame in self._single.items():
            yield conn_id, frame, 0, len(frame)

    def total_bytes(self) -> int:
        total = sum(len(frame) for frame in self._single.values())
        for starts, ends in zip(self._starts, self._ends, strict=True):
            total += sum(ends) - sum(starts)
        return total

    def _build_index(self) -> dict[str, tuple[int, int]]:
        if self._index is None:
            self._index = {}
            for number, (conn_ids, starts, ends) in enumerate(
                zip(self._conn_ids, self._starts, self._ends, strict=True)
            ):
                for position, conn_id in enumerate(conn_ids):
                    self._index[conn_id] = (number, position)
                del starts, ends
        return self._index

    def __getitem__(self, conn_id: str) -> bytes:
        frame = self._single.get(conn_id)
        if frame is not None:
            return frame
        number, position = self._build_index()[conn_id]
        start = self._starts[number][position]
        end = self._ends[number][position]
        return bytes(self._buffers[number][start:end])

    def __contains__(self, conn_id: object) -> bool:
        return conn_id in self._single or conn_id in self._build_index()

    def __iter__(self) -> Iterator[str]:
        for conn_ids in self._conn_ids:
            yield from conn_ids
        yield from self._single

    def __len__(self) -> int:
        return self._count


def _row_index(blocks: IntArray, first_rows: IntArray) -> IntArray:
    """Blocks of consecutive rows: block i has ``blocks[i]`` rows starting at ``first_rows[i]``.
    Returns every row of every block, in order."""
    total = int(blocks.sum())
    offsets = np.cumsum(blocks) - blocks
    return np.repeat(first_rows - offsets, blocks) + np.arange(total)


@dataclass
class RowBlocks:
    """One kind of list (upd, enter or leave) for the clients of a batch: the table rows of all
    items, client after client, and how many rows each client has (client order)."""

    rows: IntArray
    per_client: IntArray


def assemble_json_frames(
    *,
    tick: int,
    table: npt.NDArray[np.uint8],
    acks: IntArray,
    upd: RowBlocks,
    enter: RowBlocks,
    leave: RowBlocks,
) -> tuple[memoryview, list[int], list[int]]:
    """Frames ``{"t":"tick","tick":N,"ack":A,"upd":[..],"enter":[..],"leave":[..]}`` for many
    clients at once, with vector operations only.

    ``table`` rows are all the same width; every item row starts with a comma (the first of
    each list gets blanked). Rows appended here: per-client headers, the separators
    ``],"enter":[`` / ``],"leave":[`` and the closing ``]}``; spaces pad each to the row width.
    Returns one buffer and each client's byte range, in client order.
    """
    width = table.shape[1]
    clients = len(acks)
    ack_width = len(str(int(acks.max(initial=0))))
    prefix = b'{"t":"tick","tick":%d,"ack":' % tick
    opener = b',"upd":['
    header_length = len(prefix) + ack_width + len(opener)
    header_rows = -(-header_length // width)
    template = prefix + b" " * (header_rows * width - len(prefix) - len(opener)) + opener
    headers = np.empty((clients, header_rows * width), np.uint8)
    headers[:] = np.frombuffer(template, np.uint8)
    headers[:, len(prefix) : len(prefix) + ack_width] = _digits(acks, ack_width)
    fixed = [b'],"enter":[', b'],"leave":[', b"]}"]
    if max(len(text) for text in fixed) > width:
        raise ValueError("row width too small for the frame separators")
    fixed_rows = np.frombuffer(b"".join(text.ljust(width) for text in fixed), np.uint8)
    header_base = len(table)
    enter_separator = header_base + clients * header_rows
    leave_separator = enter_separator + 1
    closing = enter_separator + 2
    source = np.concatenate([table, headers.reshape(-1, width), fixed_rows.reshape(-1, width)])

    has_enter = enter.per_client > 0
    has_leave = leave.per_client > 0
    block = (
        header_rows
        + upd.per_client
        + has_enter * (1 + enter.per_client)
        + has_leave * (1 + leave.per_client)
        + 1
    )
    first = np.cumsum(block) - block
    index = np.empty(int(block.sum()), np.int64)
    index[(first[:, None] + np.arange(header_rows)).ravel()] = header_base + np.arange(
        clients * header_rows
    )
    position = first + header_rows
    index[_row_index(upd.per_client, position)] = upd.rows
    blank = [position[upd.per_client > 0]]
    position = position + upd.per_client
    index[position[has_enter]] = enter_separator
    position = position + has_enter
    index[_row_index(enter.per_client, position)] = enter.rows
    blank.append(position[has_enter])
    position = position + enter.per_client
    index[position[has_leave]] = leave_separator
    position = position + has_leave
    index[_row_index(leave.per_client, position)] = leave.rows
    blank.append(position[has_leave])
    position = position + leave.per_client
    index[position] = closing
    rows = take_rows(source, index)
    rows[np.concatenate(blank), 0] = ord(" ")
    return rows.data.cast("B"), (first * width).tolist(), (position * width + 2).tolist()


def assemble_msgpack_frames(
    *,
    tick: int,
    records: npt.NDArray[np.uint8],
    acks: IntArray,
    upd: RowBlocks,
) -> tuple[memoryview, list[int], list[int]]:
    """msgpack frames ``{t, tick, ack, _, upd}`` for clients whose frame is only ``upd``.
    msgpack has no insignificant whitespace, so the header is padded to whole rows by the
    ignorable key ``"_"`` holding zero bytes."""
    width = records.shape[1]
    head = b"\x85\xa1t\xa4tick\xa4tick\xce" + struct.pack(">I", tick) + b"\xa3ack\xce"
    ack_at = len(head)
    pad_key = b"\xa1_\xc4"
    upd_key = b"\xa3upd\xdd"
    fixed = len(head) + 4 + len(pad_key) + 1 + len(upd_key) + 4
    pad = -fixed % width
    header_rows = (fixed + pad) // width
    template = head + b"\0" * 4 + pad_key + bytes([pad]) + b"\0" * pad + upd_key + b"\0" * 4
    clients = len(acks)
    headers = np.empty((clients, header_rows * width), np.uint8)
    headers[:] = np.frombuffer(template, np.uint8)
    headers[:, ack_at : ack_at + 4] = acks.astype(">u4").view(np.uint8).reshape(-1, 4)
    headers[:, -4:] = upd.per_client.astype(">u4").view(np.uint8).reshape(-1, 4)
    source = np.concatenate([records, headers.reshape(-1, width)])
    block = header_rows + upd.per_client
    first = np.cumsum(block) - block
    index = np.empty(int(block.sum()), np.int64)
    index[(first[:, None] + np.arange(header_rows)).ravel()] = len(records) + np.arange(
        clients * header_rows
    )
    index[_row_index(upd.per_client, first + header_rows)] = upd.rows
    rows = take_rows(source, index)
    return rows.data.cast("B"), (first * width).tolist(), ((first + block) * width).tolist()


def json_tick_frame(
    tick: int,
    ack: int,
    table: UpdateTable | None,
    slot: int,
    extras: ClientExtras | None,
    force: bool = False,
) -> bytes | None:
    """The client's frame, or None if it has nothing new (no upd, no extras, not forced)."""
    parts = [b'{"t":"tick","tick":%d,"ack":%d' % (tick, ack)]
    has_content = force
    if table is not None:
        start, end = int(table.starts[slot]), int(table.ends[slot])
        if end > start:
            size = table.record_size
            # Every row starts with a comma; skip the first one.
            parts.append(b',"upd":[%b]' % table.blob[start * size + 1 : end * size])
            has_content = True
    if extras is not None:
        has_content = True
        if extras.enter:
            parts.append(b',"enter":[%b]' % b",".join([f.encoded("json") for f in extras.enter]))
        if extras.leave:
            parts.append(b',"leave":' + orjson.dumps(extras.leave))
        if extras.chg:
            parts.append(b',"chg":[%b]' % b",".join([f.encoded("json") for f in extras.chg]))
        if extras.events:
            parts.append(b',"ev":[%b]' % b",".join([f.encoded("json") for f in extras.events]))
        if extras.you is not None:
            parts.append(b',"you":' + orjson.dumps(extras.you))
    if not has_content:
        return None
    parts.append(b"}")
    return b"".join(parts)


def msgpack_tick_frame(
    tick: int,
    ack: int,
    table: UpdateTable | None,
    slot: int,
    extras: ClientExtras | None,
    force: bool = False,
) -> bytes | None:
    """Same frame as ``json_tick_frame``, as a msgpack map."""
    body: list[bytes] = []
    keys = 3
    if table is not None:
        start, end = int(table.starts[slot]), int(table.ends[slot])
        if end > start:
            size = table.record_size
            body.append(b"\xa3upd\xdd" + struct.pack(">I", end - start))
            body.append(table.blob[start * size : end * size])
            keys += 1
    if extras is not None:
        for key, fragments in (
            (b"\xa5enter", extras.enter),
            (b"\xa3chg", extras.chg),
            (b"\xa2ev", extras.events),
        ):
            if fragments:
                body.append(key + _msgpack_array_header(len(fragments)))
                body.extend(f.encoded("msgpack") for f in fragments)
                keys += 1
        if extras.leave:
            body.append(b"\xa5leave" + ormsgpack.packb(extras.leave))
            keys += 1
        if extras.you is not None:
            body.append(b"\xa3you" + ormsgpack.packb(extras.you))
            keys += 1
    elif keys == 3 and not force:
        return None
    header = bytes([0x80 | keys]) + b"\xa1t\xa4tick\xa4tick\xce" + struct.pack(">I", tick)
    header += b"\xa3ack\xce" + struct.pack(">I", ack)
    return header + b"".join(body)


def _msgpack_array_header(length: int) -> bytes:
    if length < 16:
        return bytes([0x90 | length])
    if length < 65536:
        return b"\xdc" + struct.pack(">H", length)
    return b"\xdd" + struct.pack(">I", length)


# -- standalone frames (the adapter encodes them with codec.encode_frame) --------------------


def welcome_frame(
    *,
    protocol_version: int,
    tick_hz: int,
    tick: int,
    you: dict[str, Any],
    zone: dict[str, Any],
    limits: dict[str, Any],
) -> dict[str, Any]:
    return {
        "t": "welcome",
        "v": protocol_version,
        "tick_hz": tick_hz,
        "tick": tick,
        "you": you,
        "zone": zone,
        "limits": limits,
    }


def error_frame(code: str, message: str, **details: Any) -> dict[str, Any]:
    return {"t": "error", "code": code, "msg": message, **details}


def bye_frame(reason: str, message: str = "") -> dict[str, Any]:
    return {"t": "bye", "reason": reason, "msg": message}
