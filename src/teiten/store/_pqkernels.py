"""Compiled kernels of the packet-file Parquet encoder (`teiten.store.parquet`).

Each kernel encodes one column of one row group into the bytes of a Parquet page body, with
the GIL released, so that encoder threads run beside the decoder. Bit layouts follow the
Parquet format specification (``Encodings.md``): the RLE/bit-packing hybrid packs values
least-significant bit first, in groups of eight; ``DELTA_BINARY_PACKED`` uses blocks of 128
values in four miniblocks of 32.
"""

from __future__ import annotations

import numpy as np

from teiten.core.aot import njit

#: ``dict_bytes``' word of a table entry holding a value longer than 7 bytes (a short value's
#: word has its length, at most 7, in the low byte)
_LONG = np.uint64(0xFF)


@njit(inline="always", cache=True)
def _valid(bitmap, bit_offset, i):  # type: ignore[no-untyped-def]
    j = bit_offset + i
    return (bitmap[j >> 3] >> (j & 7)) & 1


@njit(inline="always", cache=True)
def _varint(out, pos, value):  # type: ignore[no-untyped-def]
    v = np.uint64(value)
    while v >= 0x80:
        out[pos] = np.uint8((v & np.uint64(0x7F)) | np.uint64(0x80))
        v >>= np.uint64(7)
        pos += 1
    out[pos] = np.uint8(v)
    return pos + 1


@njit(inline="always", cache=True)
def _put_byte_array(out, pos, data, a, b):  # type: ignore[no-untyped-def]
    # one PLAIN BYTE_ARRAY value: data[a:b] after its 4-byte little-endian length
    ln = b - a
    out[pos] = ln & 0xFF
    out[pos + 1] = (ln >> 8) & 0xFF
    out[pos + 2] = (ln >> 16) & 0xFF
    out[pos + 3] = (ln >> 24) & 0xFF
    out[pos + 4:pos + 4 + ln] = data[a:b]
    return pos + 4 + ln


@njit(cache=True, nogil=True)
def compact(values, bitmap, bit_offset, n, has_nulls, out):  # type: ignore[no-untyped-def]
    """Copy the non-null values of an integer column into ``out`` (int32 or int64, the
    Parquet physical type: unsigned values keep their bits); the number copied."""
    m = 0
    for i in range(n):
        if has_nulls and not _valid(bitmap, bit_offset, i):
            continue
        out[m] = values[i]
        m += 1
    return m


@njit(cache=True, nogil=True)
def fixed_bytes(data, width, bitmap, bit_offset, n, has_nulls):  # type: ignore[no-untyped-def]
    """PLAIN bytes of a FIXED_LEN_BYTE_ARRAY column: the non-null values back to back."""
    out = np.empty(n * width, np.uint8)
    pos = 0
    for i in range(n):
        if has_nulls and not _valid(bitmap, bit_offset, i):
            continue
        out[pos:pos + width] = data[i * width:(i + 1) * width]
        pos += width
    return out[:pos]


@njit(cache=True, nogil=True)
def byte_array(offsets, data, bitmap, bit_offset, n, has_nulls):  # type: ignore[no-untyped-def]
    """PLAIN bytes of a BYTE_ARRAY column: each non-null value as a 4-byte little-endian
    length and its bytes."""
    size = 0
    for i in range(n):
        if has_nulls and not _valid(bitmap, bit_offset, i):
            continue
        size += 4 + offsets[i + 1] - offsets[i]
    out = np.empty(size, np.uint8)
    pos = 0
    for i in range(n):
        if has_nulls and not _valid(bitmap, bit_offset, i):
            continue
        pos = _put_byte_array(out, pos, data, offsets[i], offsets[i + 1])
    return out


@njit(cache=True, nogil=True)
def dict_small(values, table_size, bitmap, bit_offset, n, has_nulls):  # type: ignore[no-untyped-def]
    """Dictionary-encode an integer column whose values are below ``table_size`` (8 or 16
    bits): (dictionary values in order of first appearance, int32 index of each non-null
    value)."""
    slot = np.full(table_size, -1, np.int32)
    dictionary = np.empty(min(n, table_size), np.int64)
    indices = np.empty(n, np.int32)
    nd = 0
    m = 0
    for i in range(n):
        if has_nulls and not _valid(bitmap, bit_offset, i):
            continue
        v = np.int64(values[i])
        s = slot[v]
        if s < 0:
            s = nd
            slot[v] = nd
            dictionary[nd] = v
            nd += 1
        indices[m] = s
        m += 1
    return dictionary[:nd], indices[:m]


@njit(cache=True, nogil=True)
def dict_hash(values, bitmap, bit_offset, n, has_nulls, limit):  # type: ignore[no-untyped-def]
    """Dictionary-encode an integer column through an open-addressing hash table. Stops
    (returns an empty dictionary and ``-1`` as the count) once more than ``limit`` distinct
    values are seen: the column is then written plain."""
    size = 16
    bits = 4
    while size < 2 * n:
        size *= 2
        bits += 1
    shift = np.uint64(64 - bits)  # the hash's top bits index the table, whatever its size
    mask = size - 1
    keys = np.empty(size, np.int64)
    slot = np.full(size, -1, np.int32)
    dictionary = np.empty(min(n, limit) + 1, np.int64)
    indices = np.empty(n, np.int32)
    nd = 0
    m = 0
    for i in range(n):
        if has_nulls and not _valid(bitmap, bit_offset, i):
            continue
        v = np.int64(values[i])
        j = np.int64((np.uint64(v) * np.uint64(0x9E3779B97F4A7C15)) >> shift)
        while slot[j] >= 0 and keys[j] != v:
            j = (j + 1) & mask
        s = slot[j]
        if s < 0:
            if nd == limit:
                return dictionary[:0], indices[:0], -1
            s = nd
            slot[j] = nd
            keys[j] = v
            dictionary[nd] = v
            nd += 1
        indices[m] = s
        m += 1
    return dictionary[:nd], indices[:m], nd


@njit(cache=True, nogil=True)
def dict_bytes(offsets, data, bitmap, bit_offset, n, has_nulls):  # type: ignore[no-untyped-def]
    """Dictionary-encode a BYTE_ARRAY column: (PLAIN bytes of the dictionary, its size,
    int32 index of each non-null value).

    A value of at most 7 bytes (TCP option kinds, country codes) is its own key: its length
    and bytes in one word, kept in the table, so finding it is one probe and one comparison.
    Longer values are hashed and compared byte by byte with their first appearance.
    """
    size = 16
    bits = 4
    while size < 2 * n:
        size *= 2
        bits += 1
    mask = size - 1
    shift = np.uint64(64 - bits)
    slot = np.full(size, -1, np.int32)
    word = np.empty(size, np.uint64)  # a short entry's word; _LONG for a long one
    first = np.empty(n, np.int64)  # row of each dictionary entry's first appearance
    indices = np.empty(n, np.int32)
    nd = 0
    m = 0
    total = 0
    for i in range(n):
        if has_nulls and not _valid(bitmap, bit_offset, i):
            continue
        a, b = offsets[i], offsets[i + 1]
        if b - a <= 7:
            w = np.uint64(b - a)
            for k in range(a, b):
                w |= np.uint64(data[k]) << np.uint64(8 * (k - a + 1))
            j = np.int64((w * np.uint64(0x9E3779B97F4A7C15)) >> shift)
            while True:
                s = slot[j]
                if s < 0 or word[j] == w:
                    break
                j = (j + 1) & mask
        else:
            h = np.uint64(0xCBF29CE484222325)
            for k in range(a, b):
                h = (h ^ np.uint64(data[k])) * np.uint64(0x100000001B3)
            h = (h ^ np.uint64(b - a)) * np.uint64(0x100000001B3)
            j = np.int64(h >> np.uint64(16)) & mask
            w = _LONG
            while True:
                s = slot[j]
                if s < 0:
                    break
                if word[j] == _LONG:
                    r = first[s]
                    c, d = offsets[r], offsets[r + 1]
                    if d - c == b - a:
                        same = True
                        for k in range(b - a):
                            if data[a + k] != data[c + k]:
                                same = False
                                break
                        if same:
                            break
                j = (j + 1) & mask
        if s < 0:
            s = nd
            slot[j] = nd
            word[j] = w
            first[nd] = i
            nd += 1
            total += 4 + b - a
        indices[m] = s
        m += 1
    out = np.empty(total, np.uint8)
    pos = 0
    for e in range(nd):
        r = first[e]
        pos = _put_byte_array(out, pos, data, offsets[r], offsets[r + 1])
    return out, nd, indices[:m]


@njit(cache=True, nogil=True)
def compact_indices(indices, bitmap, bit_offset, n, has_nulls):  # type: ignore[no-untyped-def]
    """The int32 indices of the non-null rows of a dictionary array."""
    out = np.empty(n, np.int32)
    m = 0
    for i in range(n):
        if has_nulls and not _valid(bitmap, bit_offset, i):
            continue
        out[m] = indices[i]
        m += 1
    return out[:m]


@njit(cache=True, nogil=True)
def bit_packed(values, width, prefix_width):  # type: ignore[no-untyped-def]
    """The RLE/bit-packing hybrid encoding of ``values`` (non-negative, < 2**width): one RLE
    run when they are all the same, else one bit-packed run. With ``prefix_width`` the bit
    width comes first as one byte (the layout of dictionary indices in a data page)."""
    n = values.shape[0]
    groups = (n + 7) // 8
    body = groups * width  # bytes of the bit-packed run
    out = np.zeros(1 + 10 + body + 8, np.uint8)
    pos = 0
    if prefix_width:
        out[0] = width
        pos = 1
    if n == 0:
        return out[:pos]
    same = True
    for i in range(1, n):
        if values[i] != values[0]:
            same = False
            break
    if same:  # one RLE run: the count, then the value in whole bytes
        pos = _varint(out, pos, n << 1)
        v = np.uint64(values[0])
        for _ in range((width + 7) // 8):
            out[pos] = np.uint8(v & np.uint64(0xFF))
            v >>= np.uint64(8)
            pos += 1
        return out[:pos]
    pos = _varint(out, pos, (groups << 1) | 1)
    # the last group's padding values are zeros, as the zeroed buffer already holds
    acc = np.uint64(0)
    nbits = np.uint64(0)
    w = np.uint64(width)
    p = pos
    for i in range(n):
        acc, nbits, word, full = _pack(acc, nbits, np.uint64(values[i]), w)
        if full:
            _put64(out, p, word)
            p += 8
    # the rest: the accumulator's unused high bits are zeros, and ``out`` has 8 spare bytes
    _put64(out, p, acc)
    return out[:pos + body]


@njit(cache=True, nogil=True)
def def_levels(bitmap, bit_offset, n):  # type: ignore[no-untyped-def]
    """Definition levels (max level 1) of a column with nulls, in the RLE/bit-packing hybrid
    with the 4-byte length prefix of a v1 data page: one bit-packed run of the validity bits."""
    groups = (n + 7) // 8
    out = np.zeros(4 + 10 + groups, np.uint8)
    pos = _varint(out, 4, (groups << 1) | 1)
    if bit_offset & 7 == 0:
        start = bit_offset >> 3
        nbytes = (n + 7) // 8
        out[pos:pos + nbytes] = bitmap[start:start + nbytes]
        if n & 7:
            out[pos + nbytes - 1] &= np.uint8((1 << (n & 7)) - 1)
        pos += nbytes
    else:
        for i in range(n):
            if _valid(bitmap, bit_offset, i):
                out[pos + (i >> 3)] |= np.uint8(1 << (i & 7))
        pos += groups
    size = pos - 4
    out[0] = size & 0xFF
    out[1] = (size >> 8) & 0xFF
    out[2] = (size >> 16) & 0xFF
    out[3] = (size >> 24) & 0xFF
    return out[:pos]


@njit(inline="always", cache=True)
def _pack(acc, nbits, v, width):  # type: ignore[no-untyped-def]
    """Append ``v`` (below ``2**width``, ``width`` <= 64) to the 64-bit accumulator ``acc``
    holding ``nbits`` bits. Returns the new accumulator and bit count, and whether the 64
    bits ``word`` are full (then the caller writes them with :func:`_put64`).

    Scalars only: an inlined helper that takes the output array and branches makes Numba
    count a reference to it on every call (an atomic increment and decrement per value)."""
    word = acc | (v << nbits)
    nbits += width
    if nbits < 64:
        return word, nbits, word, False
    nbits -= np.uint64(64)
    rest = (v >> (width - nbits)) if nbits else np.uint64(0)  # the bits that did not fit
    return rest, nbits, word, True


@njit(inline="always", cache=True)
def _put64(out, pos, word):  # type: ignore[no-untyped-def]
    """``word`` little-endian into ``out[pos:pos + 8]`` (straight-line, no branch)."""
    out[pos] = np.uint8(word & np.uint64(0xFF))
    out[pos + 1] = np.uint8((word >> np.uint64(8)) & np.uint64(0xFF))
    out[pos + 2] = np.uint8((word >> np.uint64(16)) & np.uint64(0xFF))
    out[pos + 3] = np.uint8((word >> np.uint64(24)) & np.uint64(0xFF))
    out[pos + 4] = np.uint8((word >> np.uint64(32)) & np.uint64(0xFF))
    out[pos + 5] = np.uint8((word >> np.uint64(40)) & np.uint64(0xFF))
    out[pos + 6] = np.uint8((word >> np.uint64(48)) & np.uint64(0xFF))
    out[pos + 7] = np.uint8(word >> np.uint64(56))


@njit(cache=True, nogil=True)
def delta_binary_packed(values, bitmap, bit_offset, n, has_nulls):  # type: ignore[no-untyped-def]
    """DELTA_BINARY_PACKED bytes of the non-null values of an integer column (blocks of 128
    values, four miniblocks of 32), and their minimum and maximum."""
    v = np.empty(n, np.int64)
    m = 0
    for i in range(n):
        if has_nulls and not _valid(bitmap, bit_offset, i):
            continue
        v[m] = values[i]
        m += 1
    lo = np.int64(0)
    hi = np.int64(0)
    if m:
        lo = v[0]
        hi = v[0]
        for i in range(m):
            if v[i] < lo:
                lo = v[i]
            if v[i] > hi:
                hi = v[i]
    blocks = (max(m - 1, 0) + 127) // 128
    # every delta lies in [lo - hi, hi - lo], so delta - (the block's least) is below
    # 2 * (hi - lo) + 1: the widest miniblock needs that many bits, not 64 (a block then takes
    # 16 bytes a bit, after at most 14 bytes of minimum and widths)
    span = np.uint64(hi) - np.uint64(lo)
    bound = 64
    if span < np.uint64(1) << np.uint64(62):
        bound = 1
        while (np.uint64(1) << np.uint64(bound)) <= np.uint64(2) * span:
            bound += 1
    out = np.empty(32 + blocks * (14 + 16 * bound) + 8, np.uint8)
    pos = _varint(out, 0, 128)
    pos = _varint(out, pos, 4)
    pos = _varint(out, pos, m)
    first = v[0] if m else np.int64(0)
    pos = _varint(out, pos, (np.uint64(first) << np.uint64(1)) ^ np.uint64(first >> 63))
    deltas = np.empty(128, np.int64)
    for b in range(blocks):
        start = 1 + b * 128
        count = min(128, m - start)
        mn = np.int64(0)
        for k in range(count):
            d = v[start + k] - v[start + k - 1]  # wraps like the reader's int64 arithmetic
            deltas[k] = d
            if k == 0 or d < mn:
                mn = d
        pos = _varint(out, pos, (np.uint64(mn) << np.uint64(1)) ^ np.uint64(mn >> 63))
        widths_at = pos
        pos += 4
        for mb in range(4):
            lo_k = mb * 32
            if lo_k >= count:
                out[widths_at + mb] = 0
                continue
            top = np.uint64(0)
            for k in range(lo_k, min(lo_k + 32, count)):
                top |= np.uint64(deltas[k] - mn)
            width = 0
            while top:
                width += 1
                top >>= np.uint64(1)
            out[widths_at + mb] = width
            # 32 values: 4 * width bytes, so the accumulator's rest is whole bytes
            acc = np.uint64(0)
            nbits = np.uint64(0)
            w = np.uint64(width)
            for k in range(lo_k, lo_k + 32):
                u = np.uint64(deltas[k] - mn) if k < count else np.uint64(0)
                acc, nbits, word, full = _pack(acc, nbits, u, w)
                if full:
                    _put64(out, pos, word)
                    pos += 8
            if nbits:  # 32 bits left (32 values make 4 * width bytes); ``out`` has 8 spare
                _put64(out, pos, acc)
                pos += 4
    return out[:pos], lo, hi
