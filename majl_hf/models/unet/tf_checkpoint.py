"""A small reader of TensorFlow's V2 checkpoints (the "tensor bundle" format), with no TensorFlow.

A checkpoint ``PREFIX`` is ``PREFIX.index`` plus data shards ``PREFIX.data-0000i-of-0000n``.

* The ``.index`` is a LevelDB-style SSTable (``tensorflow/tsl/lib/io/table*``,
  ``tensorflow/core/util/tensor_bundle/tensor_bundle.{h,cc}``): a 48-byte footer (metaindex and index
  block handles as varints, zero padding, the little-endian magic ``0xdb4775248b80fb57``); the index
  block maps the last key of each data block to that block's handle; every block holds
  prefix-compressed entries ``varint shared | varint non_shared | varint value_len | key delta |
  value`` followed by ``uint32`` restart offsets and their count, and is followed on disk by a
  5-byte trailer (1 byte compression type, 4 bytes masked crc32c of contents + type byte).
* Each value is a serialized ``BundleEntryProto`` (dtype, shape, shard_id, offset, size, masked
  crc32c of the tensor bytes, slices); the empty key holds the ``BundleHeaderProto`` (num_shards,
  endianness, version). Both are decoded here with a tiny protobuf wire-format parser.
* A data shard holds the raw tensors (native byte order, little-endian here) at ``offset``, ``size``.

Only what TensorFlow itself writes by default is supported: uncompressed blocks (snappy-compressed
blocks raise a clear error), numeric dtypes (no string, variant or resource tensors) and unsliced
variables. Each tensor's crc32c is checked (a chunk-parallel NumPy crc32c, about a second for the
78 MB Spleeter shard); ``verify_checksums=False`` skips it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

TABLE_MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48  # 2 × max-size BlockHandle (2 × 20 bytes) + 8-byte magic
BLOCK_TRAILER_SIZE = 5
NO_COMPRESSION, SNAPPY_COMPRESSION = 0, 1
_MASK_DELTA = 0xA282EAD8

# tensorflow/core/framework/types.proto → NumPy dtype (numeric types only)
TF_DTYPES: dict[int, np.dtype] = {
    1: np.dtype("<f4"),  # DT_FLOAT
    2: np.dtype("<f8"),  # DT_DOUBLE
    3: np.dtype("<i4"),  # DT_INT32
    4: np.dtype("u1"),  # DT_UINT8
    5: np.dtype("<i2"),  # DT_INT16
    6: np.dtype("i1"),  # DT_INT8
    8: np.dtype("<c8"),  # DT_COMPLEX64
    9: np.dtype("<i8"),  # DT_INT64
    10: np.dtype("?"),  # DT_BOOL
    17: np.dtype("<u2"),  # DT_UINT16
    18: np.dtype("<c16"),  # DT_COMPLEX128
    19: np.dtype("<f2"),  # DT_HALF
    22: np.dtype("<u4"),  # DT_UINT32
    23: np.dtype("<u8"),  # DT_UINT64
}
_DTYPE_NAMES = {
    1: "float32",
    2: "float64",
    3: "int32",
    4: "uint8",
    5: "int16",
    6: "int8",
    7: "string",
    8: "complex64",
    9: "int64",
    10: "bool",
    14: "bfloat16",
    17: "uint16",
    18: "complex128",
    19: "float16",
    20: "resource",
    21: "variant",
    22: "uint32",
    23: "uint64",
}


class TFCheckpointError(ValueError):
    """The bytes are not a TensorFlow V2 checkpoint this reader can handle."""


# ----------------------------------------------------------------------------- crc32c (Castagnoli)
def _crc32c_table() -> np.ndarray:
    table = np.zeros(256, dtype=np.uint32)
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table[i] = c
    return table


_TABLE = _crc32c_table()
_TABLE_LIST = [int(v) for v in _TABLE]


def _crc32c_small(data: bytes) -> int:
    crc = 0xFFFFFFFF
    t = _TABLE_LIST
    for b in data:
        crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _apply(op: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Apply a GF(2)-linear map on 32-bit words, given as the images of the 32 unit vectors."""
    out = np.zeros_like(v)
    for j in range(32):
        out ^= np.where((v >> np.uint32(j)) & np.uint32(1), op[j], np.uint32(0))
    return out


def _zero_shift_ops(max_bits: int = 40) -> list[np.ndarray]:
    """ops[k]: the raw crc state after feeding 2**k zero bytes, as a linear map of the state."""
    unit = np.uint32(1) << np.arange(32, dtype=np.uint32)
    one = _TABLE[unit & np.uint32(0xFF)] ^ (unit >> np.uint32(8))
    ops = [one]
    for _ in range(max_bits - 1):
        ops.append(_apply(ops[-1], ops[-1]))
    return ops


_SHIFT_OPS: list[np.ndarray] | None = None


def _shift(v: np.ndarray, n: int) -> np.ndarray:
    """Raw crc state ``v`` advanced over ``n`` zero bytes."""
    global _SHIFT_OPS
    if _SHIFT_OPS is None:
        _SHIFT_OPS = _zero_shift_ops()
    k = 0
    while n:
        if n & 1:
            v = _apply(_SHIFT_OPS[k], v)
        n >>= 1
        k += 1
    return v


def crc32c(data) -> int:
    """CRC-32C (Castagnoli) of ``data``, as ``crc32c::Value`` in TensorFlow.

    Large inputs are split into equal chunks whose raw (zero-initialised) CRCs are computed side by
    side in NumPy and then combined pairwise (CRC linearity: raw(A‖B) = shift_|B|(raw(A)) ⊕ raw(B);
    leading zero bytes leave a zero-initialised CRC unchanged, so the input is zero-padded in front).
    """
    buf = np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8)
    n = buf.size
    if n < 4096:
        return _crc32c_small(buf.tobytes())
    chunk = 1 << max(8, (n.bit_length() + 1) // 2)  # ~sqrt(n) bytes per chunk, a power of two
    count = 1 << (-(-n // chunk) - 1).bit_length()  # chunks, rounded up to a power of two
    padded = np.zeros(count * chunk, dtype=np.uint8)
    padded[count * chunk - n :] = buf
    rows = padded.reshape(count, chunk)
    state = np.zeros(count, dtype=np.uint32)
    table = _TABLE
    for i in range(chunk):
        state = table[(state ^ rows[:, i]) & np.uint32(0xFF)] ^ (state >> np.uint32(8))
    length = chunk
    while state.size > 1:
        state = _shift(state[0::2], length) ^ state[1::2]
        length *= 2
    init = _shift(np.array([0xFFFFFFFF], dtype=np.uint32), n)
    return int((init[0] ^ state[0]) ^ np.uint32(0xFFFFFFFF))


def mask_crc(crc: int) -> int:
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF


def unmask_crc(masked: int) -> int:
    rot = (masked - _MASK_DELTA) & 0xFFFFFFFF
    return ((rot >> 17) | (rot << 15)) & 0xFFFFFFFF


# ----------------------------------------------------------------------------- varints and protobuf
def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise TFCheckpointError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise TFCheckpointError("varint longer than 64 bits")


def _proto_fields(buf: bytes) -> list[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) of a serialized protobuf message: ints for varint / fixed
    fields, bytes for length-delimited ones."""
    fields = []
    pos = 0
    while pos < len(buf):
        tag, pos = _varint(buf, pos)
        num, wire = tag >> 3, tag & 7
        if wire == 0:
            val, pos = _varint(buf, pos)
        elif wire == 1:
            val = struct.unpack_from("<Q", buf, pos)[0]
            pos += 8
        elif wire == 2:
            n, pos = _varint(buf, pos)
            val = bytes(buf[pos : pos + n])
            if len(val) != n:
                raise TFCheckpointError("truncated length-delimited protobuf field")
            pos += n
        elif wire == 5:
            val = struct.unpack_from("<I", buf, pos)[0]
            pos += 4
        else:
            raise TFCheckpointError(f"unsupported protobuf wire type {wire}")
        fields.append((num, wire, val))
    return fields


def _signed64(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


@dataclass(frozen=True)
class BundleEntry:
    """One ``BundleEntryProto``."""

    name: str
    dtype: int
    shape: tuple[int, ...]
    shard_id: int
    offset: int
    size: int
    crc32c: int  # masked, as stored
    has_slices: bool

    @property
    def dtype_name(self) -> str:
        return _DTYPE_NAMES.get(self.dtype, f"dtype{self.dtype}")


def _parse_shape(buf: bytes) -> tuple[int, ...]:
    dims = []
    for num, _, val in _proto_fields(buf):
        if num == 2:  # repeated Dim dim
            size = 0
            for dnum, _, dval in _proto_fields(val):
                if dnum == 1:
                    size = _signed64(dval)
            dims.append(size)
        elif num == 3 and val:  # unknown_rank
            raise TFCheckpointError("tensor of unknown rank")
    return tuple(dims)


def _parse_entry(name: str, buf: bytes) -> BundleEntry:
    dtype = shard_id = offset = size = crc = 0
    shape: tuple[int, ...] = ()
    has_slices = False
    for num, _, val in _proto_fields(buf):
        if num == 1:
            dtype = val
        elif num == 2:
            shape = _parse_shape(val)
        elif num == 3:
            shard_id = val
        elif num == 4:
            offset = val
        elif num == 5:
            size = val
        elif num == 6:
            crc = val
        elif num == 7:
            has_slices = True
    return BundleEntry(name, dtype, shape, shard_id, offset, size, crc, has_slices)


def _parse_header(buf: bytes) -> dict:
    header = {"num_shards": 0, "endianness": 0, "version": {}}
    for num, _, val in _proto_fields(buf):
        if num == 1:
            header["num_shards"] = val
        elif num == 2:
            header["endianness"] = val  # 0 LITTLE, 1 BIG
        elif num == 3:
            header["version"] = {
                ("producer", "min_consumer")[n - 1] if n < 3 else "bad_consumers": v for n, _, v in _proto_fields(val)
            }
    return header


# ----------------------------------------------------------------------------- SSTable
def _read_block(index: bytes, offset: int, size: int, verify: bool) -> bytes:
    end = offset + size
    if end + BLOCK_TRAILER_SIZE > len(index):
        raise TFCheckpointError("block handle points past the end of the index file")
    contents = bytes(index[offset:end])
    ctype = index[end]
    if verify:
        stored = struct.unpack_from("<I", index, end + 1)[0]
        if unmask_crc(stored) != _crc32c_small(contents + bytes([ctype])):
            raise TFCheckpointError(f"index block at {offset}: crc32c mismatch")
    if ctype == SNAPPY_COMPRESSION:
        raise TFCheckpointError("the index uses snappy-compressed blocks, which this reader does not support")
    if ctype != NO_COMPRESSION:
        raise TFCheckpointError(f"unknown block compression type {ctype}")
    return contents


def _block_entries(block: bytes) -> list[tuple[bytes, bytes]]:
    if len(block) < 4:
        raise TFCheckpointError("block too short")
    num_restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    limit = len(block) - 4 * (num_restarts + 1)
    if limit < 0:
        raise TFCheckpointError("bad restart count in block")
    entries = []
    pos = 0
    key = b""
    while pos < limit:
        shared, pos = _varint(block, pos)
        non_shared, pos = _varint(block, pos)
        value_len, pos = _varint(block, pos)
        if shared > len(key) or pos + non_shared + value_len > limit:
            raise TFCheckpointError("corrupt block entry")
        key = key[:shared] + block[pos : pos + non_shared]
        pos += non_shared
        entries.append((key, block[pos : pos + value_len]))
        pos += value_len
    return entries


def _table_items(index: bytes, verify: bool) -> list[tuple[bytes, bytes]]:
    if len(index) < FOOTER_SIZE:
        raise TFCheckpointError("index file shorter than an SSTable footer")
    footer = index[-FOOTER_SIZE:]
    if struct.unpack_from("<Q", footer, 40)[0] != TABLE_MAGIC:
        raise TFCheckpointError("not an SSTable (bad magic number): not a TF V2 checkpoint .index")
    pos = 0
    _meta_off, pos = _varint(footer, pos)
    _meta_size, pos = _varint(footer, pos)
    idx_off, pos = _varint(footer, pos)
    idx_size, pos = _varint(footer, pos)
    items = []
    for _last_key, handle in _block_entries(_read_block(index, idx_off, idx_size, verify)):
        off, p = _varint(handle, 0)
        size, _ = _varint(handle, p)
        items.extend(_block_entries(_read_block(index, off, size, verify)))
    return items


# ----------------------------------------------------------------------------- public API
def read_index(index_bytes: bytes, verify_checksums: bool = True) -> tuple[dict, dict[str, BundleEntry]]:
    """Parse a ``.index`` file: (header dict, {name: BundleEntry}) in key order."""
    header = None
    entries: dict[str, BundleEntry] = {}
    for key, value in _table_items(bytes(index_bytes), verify_checksums):
        if key == b"":
            header = _parse_header(value)
            continue
        name = key.decode("utf-8")
        entries[name] = _parse_entry(name, value)
    if header is None:
        raise TFCheckpointError("index has no BundleHeaderProto (empty key)")
    if header["endianness"] != 0:
        raise TFCheckpointError("big-endian checkpoints are not supported")
    return header, entries


def list_variables(index_bytes: bytes) -> list[tuple[str, list[int], str]]:
    """(name, shape, dtype name) of every variable, sorted by name as ``tf.train.list_variables``."""
    _, entries = read_index(index_bytes)
    return [(e.name, list(e.shape), e.dtype_name) for e in entries.values()]


def read_tf_checkpoint(index_bytes: bytes, data_shards, verify_checksums: bool = True) -> dict[str, np.ndarray]:
    """All variables of a checkpoint as NumPy arrays (copies, native byte order).

    Args:
        index_bytes: the ``.index`` file.
        data_shards: the bytes of the single ``.data-00000-of-00001`` shard, or a sequence of the
            shards' bytes in shard order.
        verify_checksums: check each tensor's crc32c against the index (and each index block's).
    """
    header, entries = read_index(index_bytes, verify_checksums)
    if isinstance(data_shards, (bytes, bytearray, memoryview)):
        data_shards = [data_shards]
    data_shards = list(data_shards)
    if header["num_shards"] != len(data_shards):
        raise TFCheckpointError(f"the index names {header['num_shards']} data shard(s), {len(data_shards)} given")
    out = {}
    for name, e in entries.items():
        if e.has_slices:
            raise TFCheckpointError(f"{name}: partitioned (sliced) variables are not supported")
        if e.dtype not in TF_DTYPES:
            raise TFCheckpointError(f"{name}: unsupported dtype {e.dtype_name}")
        dt = TF_DTYPES[e.dtype]
        count = int(np.prod(e.shape, dtype=np.int64))
        if count * dt.itemsize != e.size:
            raise TFCheckpointError(
                f"{name}: {e.size} bytes stored, {count * dt.itemsize} expected for {e.shape} {dt}"
            )
        shard = data_shards[e.shard_id]
        raw = memoryview(shard)[e.offset : e.offset + e.size]
        if len(raw) != e.size:
            raise TFCheckpointError(f"{name}: data shard {e.shard_id} too short")
        if verify_checksums and crc32c(raw) != unmask_crc(e.crc32c):
            raise TFCheckpointError(f"{name}: crc32c of the tensor bytes does not match the index")
        out[name] = np.frombuffer(raw, dtype=dt).astype(dt.newbyteorder("="), copy=True).reshape(e.shape)
    return out


def read_tf_checkpoint_files(prefix: str | Path, verify_checksums: bool = True) -> dict[str, np.ndarray]:
    """:func:`read_tf_checkpoint` on files ``PREFIX.index`` and ``PREFIX.data-*-of-*``."""
    prefix = Path(prefix)
    index = prefix.with_name(prefix.name + ".index").read_bytes()
    header, _ = read_index(index, verify_checksums=False)
    n = header["num_shards"]
    shards = [prefix.with_name(f"{prefix.name}.data-{i:05d}-of-{n:05d}").read_bytes() for i in range(n)]
    return read_tf_checkpoint(index, shards, verify_checksums)


__all__ = [
    "BundleEntry",
    "TFCheckpointError",
    "crc32c",
    "list_variables",
    "read_index",
    "read_tf_checkpoint",
    "read_tf_checkpoint_files",
]
