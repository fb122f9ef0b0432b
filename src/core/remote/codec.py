# Values on the wire (docs/protocol.md, "Values"): msgpack with ext types for tuple (1), set (2),
# frozenset (3), complex (4), channel (5) and ints beyond 64 bits (0x42). Invariant: a value
# encodes to the bytes the local side's serializer.ts writes for it (canonical form: smallest
# headers, floats as float 64), through the pure-Python path and the msgpack C extension alike.
#
# Not imported: the local side sends this file and gateway.py as one source that is exec'd in
# one namespace, on any CPython 3.6 to 3.13. So: no dependencies, nothing newer than 3.6, and
# private names start with _codec / _CODEC.

import struct as _codec_struct


class DataFormatError(Exception):
    """Bytes cannot be decoded (and, as DumpError, a value cannot be encoded)."""


class DumpError(DataFormatError):
    """A value cannot be serialized. A DataFormatError, as in execnet."""


DUMPS_FORMAT_VERSION = 1

_CODEC_EXT_TUPLE = 1
_CODEC_EXT_SET = 2
_CODEC_EXT_FROZENSET = 3
_CODEC_EXT_COMPLEX = 4
_CODEC_EXT_CHANNEL = 5
_CODEC_EXT_BIGINT = 0x42

_CODEC_SUPPORTED = (
    "supported: None, bool, int, float, complex, str, bytes, bytearray, memoryview, "
    "tuple, list, dict, set, frozenset, and channels"
)

# Header tables: a list index is cheaper than building or packing a header.
_CODEC_FIXSTR = [bytes((0xA0 | _n,)) for _n in range(32)]
_CODEC_STR8 = [b"\xd9" + bytes((_n,)) for _n in range(256)]
_CODEC_FIXARRAY = [bytes((0x90 | _n,)) for _n in range(16)]
_CODEC_FIXMAP = [bytes((0x80 | _n,)) for _n in range(16)]
_CODEC_BIN8 = [b"\xc4" + bytes((_n,)) for _n in range(256)]
# ints -128..255 at index i + 128, each in its canonical form
_CODEC_SMALL_INTS = (
    [b"\xd0" + bytes((_n & 0xFF,)) for _n in range(-128, -32)]
    + [bytes((_n & 0xFF,)) for _n in range(-32, 128)]
    + [b"\xcc" + bytes((_n,)) for _n in range(128, 256)]
)
_CODEC_FIXEXT = {1: 0xD4, 2: 0xD5, 4: 0xD6, 8: 0xD7, 16: 0xD8}
# binaries at least this long are not copied by a segmented codec's dumps (see _CodecSegments)
_CODEC_SEGMENT_MIN = 65536


class _CodecSegments(object):
    """What a segmented codec's dumps returns for a large binary: the pieces of its msgpack bytes,
    the header and then the caller's object itself, for the frame writer to write one after the
    other (os.writev) instead of copying 256 MiB to prepend 5 bytes. len() is the byte count."""

    __slots__ = ("parts", "nbytes")

    def __init__(self, head, body):
        self.parts = (head, body)
        self.nbytes = len(head) + body.nbytes

    def __len__(self):
        return self.nbytes


def _codec_segments(obj):
    """A large bytes, bytearray or memoryview as _CodecSegments (a memoryview as plain bytes)."""
    body = memoryview(obj)
    if body.format != "B" or body.ndim != 1:
        try:
            body = body.cast("B")
        except (TypeError, ValueError):  # not C-contiguous, or a format cast() does not take
            body = memoryview(body.tobytes())
    return _CodecSegments(_codec_len_head(body.nbytes, (), _CODEC_BIN8, 0xC5, 0xC6), body)


def _codec_ext_head(code, n):
    fix = _CODEC_FIXEXT.get(n)
    if fix is not None:
        return bytes((fix, code))
    if n < 0x100:
        return bytes((0xC7, n, code))
    if n < 0x10000:
        return _codec_struct.pack(">BHB", 0xC8, n, code)
    return _codec_struct.pack(">BIB", 0xC9, n, code)


_CODEC_TUPLE_HEAD = [_codec_ext_head(_CODEC_EXT_TUPLE, _n) for _n in range(256)]


def _codec_len_head(n, fixtable, head8, head16, head32):
    if n < len(fixtable):
        return fixtable[n]
    if head8 is not None and n < 0x100:
        return head8[n]
    if n < 0x10000:
        return _codec_struct.pack(">BH", head16, n)
    if n < 0x100000000:
        return _codec_struct.pack(">BI", head32, n)
    raise DumpError("a value of %d bytes or items is too large for msgpack" % n)


def _codec_bigint_data(obj):
    """Ints beyond 64 bits: shortest big-endian two's complement (msgpackr's bigint ext)."""
    size = ((obj if obj >= 0 else ~obj).bit_length() + 8) // 8
    return obj.to_bytes(size, "big", signed=True)


def _codec_bigint(obj):
    data = _codec_bigint_data(obj)
    return _codec_ext_head(_CODEC_EXT_BIGINT, len(data)) + data


_CODEC_PACK_INTS = [
    (0x10000, _codec_struct.Struct(">BH").pack, 0xCD),
    (0x100000000, _codec_struct.Struct(">BI").pack, 0xCE),
    (0x10000000000000000, _codec_struct.Struct(">BQ").pack, 0xCF),
]
_CODEC_PACK_NEG = [
    (-0x8000, _codec_struct.Struct(">Bh").pack, 0xD1),
    (-0x80000000, _codec_struct.Struct(">Bi").pack, 0xD2),
    (-0x8000000000000000, _codec_struct.Struct(">Bq").pack, 0xD3),
]


def _codec_int(obj):
    if -129 < obj < 256:
        return _CODEC_SMALL_INTS[obj + 128]
    if obj > 0:
        for limit, pack, head in _CODEC_PACK_INTS:
            if obj < limit:
                return pack(head, obj)
    else:
        for limit, pack, head in _CODEC_PACK_NEG:
            if obj >= limit:
                return pack(head, obj)
    return _codec_bigint(obj)


_CODEC_PACK_DOUBLE = _codec_struct.Struct(">d").pack


def _codec_complex(obj):
    data = b"\x92\xcb" + _CODEC_PACK_DOUBLE(obj.real) + b"\xcb" + _CODEC_PACK_DOUBLE(obj.imag)
    return b"\xc7\x13\x04" + data


_CODEC_NOTHING = object()


def _codec_base_value(obj):
    """Subclasses of the mapped types travel as their base type (execnet refuses them)."""
    # Call the base type's own conversions: a subclass may override __str__, __int__ or __iter__.
    if isinstance(obj, str):
        return str.__str__(obj)
    if isinstance(obj, int):
        return int.__int__(obj)
    if isinstance(obj, float):
        return float.__float__(obj)
    if isinstance(obj, complex):
        return complex(obj.real, obj.imag)
    if isinstance(obj, (bytes, bytearray)):
        return bytes(memoryview(obj))
    if isinstance(obj, tuple):
        return tuple.__getitem__(obj, slice(None))
    if isinstance(obj, list):
        return list.__getitem__(obj, slice(None))
    if isinstance(obj, dict):
        return dict(dict.items(obj))
    if isinstance(obj, frozenset):
        return frozenset(frozenset.__iter__(obj))
    if isinstance(obj, set):
        return set(set.__iter__(obj))
    return _CODEC_NOTHING


def _codec_type_name(obj):
    t = type(obj)
    name = getattr(t, "__qualname__", t.__name__)
    return name if t.__module__ == "builtins" else "%s.%s" % (t.__module__, name)


def _codec_path_to(root, target, depth=0):
    """Where `target` sits inside `root`, like "[2]['key']" (for error messages only)."""
    if root is target:
        return ""
    if depth > 50:
        return None
    items = ()
    if isinstance(root, (list, tuple)):
        items = (("[%d]" % i, v) for i, v in enumerate(root))
    elif isinstance(root, dict):
        items = (
            pair
            for k, v in root.items()
            for pair in (("[%r] (key)" % (k,), k), ("[%r]" % (k,), v))
        )
    elif isinstance(root, (set, frozenset)):
        items = (("{%r}" % (v,), v) for v in root)
    for label, value in items:
        if value is target:
            return label
        if isinstance(value, (list, tuple, dict, set, frozenset)):
            sub = _codec_path_to(value, target, depth + 1)
            if sub is not None:
                return label + sub
    return None


_CODEC_SAFE_DEPTH = 200  # the local side's own limit (MAX_ENCODE_DEPTH); it reads up to 512
_CODEC_DEPTH_CAP = 100000
_CODEC_CONTAINERS = (list, tuple, dict, set, frozenset)


def _codec_depth(root):
    """How deep containers nest in root, counted without recursion (for the message about a
    value too deep to encode); _CODEC_DEPTH_CAP for one that contains itself."""
    deepest = 0
    stack = [(root, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > deepest:
            deepest = depth
            if deepest >= _CODEC_DEPTH_CAP:
                return _CODEC_DEPTH_CAP
        children = (
            list(value.keys()) + list(value.values()) if isinstance(value, dict) else value
        )
        for child in children:
            if isinstance(child, _CODEC_CONTAINERS):
                stack.append((child, depth + 1))
    return deepest if isinstance(root, _CODEC_CONTAINERS) else 0


def _codec_dump_error(root, exc):
    """A DumpError for a failure while encoding `root`, naming where the bad part sits."""
    if isinstance(exc, _CodecRefused):
        bad = exc.args[0]
        path = _codec_path_to(root, bad)
        where = "a part of the value" if path is None else "value" + path
        return DumpError(
            "cannot serialize %s: %s is not supported (%s)"
            % (where, _codec_type_name(bad), _CODEC_SUPPORTED)
        )
    if isinstance(exc, RecursionError):
        depth = _codec_depth(root)
        return DumpError(
            "cannot serialize value: it is nested %s levels deep; up to %d levels travel "
            "either way%s" % (
                "more than %d" % depth if depth >= _CODEC_DEPTH_CAP else depth,
                _CODEC_SAFE_DEPTH,
                " (does it contain itself?)" if depth >= _CODEC_DEPTH_CAP else "",
            )
        )
    if isinstance(exc, UnicodeEncodeError) and isinstance(exc.object, str):
        path = _codec_path_to(root, exc.object)
        return DumpError(
            "cannot serialize %s: a str with a lone surrogate (%r at index %d), which UTF-8 "
            "cannot carry" % ("value" if path is None else "value" + path, exc.object[exc.start], exc.start)
        )
    return DumpError("cannot serialize value: %s: %s" % (type(exc).__name__, exc))


class _CodecRefused(Exception):
    """Internal: the value (args[0]) is not in the mapping."""


def _codec_make_pure_dumps(channel_class, segment_min=None):
    fixstr = _CODEC_FIXSTR
    str8 = _CODEC_STR8
    small_ints = _CODEC_SMALL_INTS
    fixarray = _CODEC_FIXARRAY
    fixmap = _CODEC_FIXMAP
    bin8 = _CODEC_BIN8
    tuple_head = _CODEC_TUPLE_HEAD
    pack_double = _CODEC_PACK_DOUBLE
    pack_u16 = _codec_struct.Struct(">BH").pack
    pack_u32 = _codec_struct.Struct(">BI").pack
    int_ = _codec_int
    len_head = _codec_len_head
    ext_head = _codec_ext_head
    join = b"".join
    # a segmented codec's dumps encodes again without segments what holds a large binary inside
    plain = None if segment_min is None else _codec_make_pure_dumps(channel_class)
    if segment_min is None:
        segment_min = 1 << 64  # never

    def array(seq):
        n = len(seq)
        head = fixarray[n] if n < 16 else len_head(n, fixarray, None, 0xDC, 0xDD)
        return head + join(map(enc, seq))

    def enc(obj):
        t = type(obj)
        if t is str:
            b = obj.encode()  # utf-8, without naming it: faster
            n = len(b)
            if n < 32:
                return fixstr[n] + b
            if n < 256:
                return str8[n] + b
            return len_head(n, fixstr, str8, 0xDA, 0xDB) + b
        if t is int:
            if -129 < obj < 256:
                return small_ints[obj + 128]
            if 0 < obj < 0x10000:
                return pack_u16(0xCD, obj)
            if 0 < obj < 0x100000000:
                return pack_u32(0xCE, obj)
            return int_(obj)
        if t is tuple:
            n = len(obj)
            if n == 2:
                # pairs are the most common tuple: skip map() and join()
                body = b"\x92" + enc(obj[0]) + enc(obj[1])
            else:
                body = (fixarray[n] if n < 16 else len_head(n, fixarray, None, 0xDC, 0xDD)) + join(
                    map(enc, obj)
                )
            n = len(body)
            return (tuple_head[n] if n < 256 else ext_head(_CODEC_EXT_TUPLE, n)) + body
        if t is float:
            return b"\xcb" + pack_double(obj)
        if t is list:
            return array(obj)
        if t is dict:
            n = len(obj)
            head = fixmap[n] if n < 16 else len_head(n, fixmap, None, 0xDE, 0xDF)
            parts = [head]
            append = parts.append
            for k, v in obj.items():
                append(enc(k))
                append(enc(v))
            return join(parts)
        if obj is None:
            return b"\xc0"
        if obj is True:
            return b"\xc3"
        if obj is False:
            return b"\xc2"
        if t is bytes or t is bytearray or t is memoryview:
            if (obj.nbytes if t is memoryview else len(obj)) >= segment_min:
                # sent alone, it goes out as it is; a container's join refuses it (TypeError),
                # and dumps encodes the container again without segments
                return _codec_segments(obj)
            if t is memoryview:
                obj = obj.tobytes()
            n = len(obj)
            return (bin8[n] if n < 256 else len_head(n, (), bin8, 0xC5, 0xC6)) + obj
        if t is set or t is frozenset:
            body = array(list(obj))
            code = _CODEC_EXT_SET if t is set else _CODEC_EXT_FROZENSET
            return ext_head(code, len(body)) + body
        if t is complex:
            return _codec_complex(obj)
        if t is channel_class:
            body = int_(int(obj.id))
            return ext_head(_CODEC_EXT_CHANNEL, len(body)) + body
        base = _codec_base_value(obj)
        if base is _CODEC_NOTHING:
            raise _CodecRefused(obj)
        return enc(base)

    def dumps(obj):
        try:
            return enc(obj)
        except (_CodecRefused, RecursionError, UnicodeEncodeError) as exc:
            raise _codec_dump_error(obj, exc)
        except TypeError:
            if plain is None:
                raise
            return plain(obj)

    return dumps


def _codec_decode_error(exc, data):
    if isinstance(exc, DataFormatError):
        return exc
    if not len(data):
        return DataFormatError("empty input: no value")
    if isinstance(exc, (IndexError, _codec_struct.error)):
        return DataFormatError("truncated data: %d bytes end inside a value" % len(data))
    if isinstance(exc, UnicodeDecodeError):
        return DataFormatError("a str is not valid UTF-8 (or the data is truncated): %s" % exc)
    if isinstance(exc, TypeError):
        return DataFormatError("a dict key or set member is not hashable: %s" % exc)
    if isinstance(exc, RecursionError):
        return DataFormatError("containers nested too deeply")
    return DataFormatError("corrupt data: %s: %s" % (type(exc).__name__, exc))


_codec_leaves = []


def _codec_leaf_table():
    """(table, length): the first-byte handlers (see _codec_make_pure_loads) of values that
    hold no other value, made once per process and shared by every codec's table, and the
    reader of a length field that containers use too."""
    if _codec_leaves:
        return _codec_leaves[0]
    H = [None] * 256
    S = _codec_struct.Struct

    def const(value):
        def handler(data, i):
            return value, i

        return handler

    def fixstr(n):
        def handler(data, i):
            j = i + n
            return data[i:j].decode(), j

        return handler

    def length(fmt):
        size = S(fmt).size
        unpack = S(fmt).unpack_from

        def read(data, i):
            n = unpack(data, i)[0]
            i += size
            if n > len(data) - i:
                raise IndexError  # truncated; also keeps a bogus count from allocating
            return n, i

        return read

    def number(fmt):
        size = S(fmt).size
        unpack = S(fmt).unpack_from

        def handler(data, i):
            return unpack(data, i)[0], i + size

        return handler

    def sized_str(fmt):
        read = length(fmt)

        def handler(data, i):
            n, i = read(data, i)
            return data[i : i + n].decode(), i + n

        return handler

    def sized_bin(fmt):
        read = length(fmt)

        def handler(data, i):
            n, i = read(data, i)
            return data[i : i + n], i + n

        return handler

    def invalid(data, i):
        raise DataFormatError("invalid msgpack byte 0xc1 at byte %d" % (i - 1))

    for b in range(0x80):
        H[b] = const(b)
    for b in range(32):
        H[0xA0 | b] = fixstr(b)
    for b in range(0xE0, 0x100):
        H[b] = const(b - 0x100)
    H[0xC0] = const(None)
    H[0xC1] = invalid
    H[0xC2] = const(False)
    H[0xC3] = const(True)
    H[0xC4] = sized_bin(">B")
    H[0xC5] = sized_bin(">H")
    H[0xC6] = sized_bin(">I")
    for b, fmt in zip(range(0xCA, 0xD4), (">f", ">d", ">B", ">H", ">I", ">Q", ">b", ">h", ">i", ">q")):
        H[b] = number(fmt)
    H[0xD9] = sized_str(">B")
    H[0xDA] = sized_str(">H")
    H[0xDB] = sized_str(">I")
    _codec_leaves.append((H, length))
    return _codec_leaves[0]


def _codec_make_pure_loads(get_channel):
    # One handler per first byte: handler(data, i) decodes the value whose first byte is at i - 1
    # and returns (value, index after it). A table call beats a chain of range tests. Containers
    # and ext types are this codec's own (they decode through its table, channels through its
    # get_channel); the rest is shared.
    leaves, length = _codec_leaf_table()
    H = list(leaves)
    S = _codec_struct.Struct
    EXT_TUPLE = _CODEC_EXT_TUPLE

    # Containers loop inline rather than call a helper: one Python frame per nesting level.
    def fixarray(n):
        def handler(data, i):
            items = []
            append = items.append
            for _ in range(n):
                v, i = H[data[i]](data, i + 1)
                append(v)
            return items, i

        return handler

    def fixmap(n):
        def handler(data, i):
            d = {}
            for _ in range(n):
                k, i = H[data[i]](data, i + 1)
                d[k], i = H[data[i]](data, i + 1)
            return d, i

        return handler

    def sized_array(fmt):
        read = length(fmt)

        def handler(data, i):
            n, i = read(data, i)
            items = []
            append = items.append
            for _ in range(n):
                v, i = H[data[i]](data, i + 1)
                append(v)
            return items, i

        return handler

    def sized_map(fmt):
        read = length(fmt)

        def handler(data, i):
            n, i = read(data, i)
            d = {}
            for _ in range(n):
                k, i = H[data[i]](data, i + 1)
                d[k], i = H[data[i]](data, i + 1)
            return d, i

        return handler

    def bad_ext(code, at, what):
        return DataFormatError("ext type %d at byte %d: %s" % (code, at, what))

    def ext(data, i, n, code):
        """The value of an ext with `n` data bytes at `i`; returns (value, end)."""
        end = i + n
        if code == EXT_TUPLE or code == _CODEC_EXT_SET or code == _CODEC_EXT_FROZENSET:
            h = data[i] if n else 0
            if not 0x90 <= h < 0xA0 and h != 0xDC and h != 0xDD:
                raise bad_ext(code, i - 1, "data is not a msgpack array")
            items, j = H[h](data, i + 1)
            if j != end:
                raise bad_ext(code, i - 1, "data is not one msgpack array")
            if code == EXT_TUPLE:
                return tuple(items), end
            return (set(items) if code == _CODEC_EXT_SET else frozenset(items)), end
        if code == _CODEC_EXT_BIGINT:
            if not n:
                raise bad_ext(code, i - 1, "no data")
            if end > len(data):
                raise IndexError
            return int.from_bytes(data[i:end], "big", signed=True), end
        if code == _CODEC_EXT_COMPLEX:
            h = data[i] if n else 0
            parts, j = H[h](data, i + 1) if h == 0x92 else (None, None)
            if j != end:
                raise bad_ext(code, i - 1, "data is not [real, imag]")
            return complex(parts[0], parts[1]), end
        if code == _CODEC_EXT_CHANNEL:
            cid, j = H[data[i]](data, i + 1) if n else (None, None)
            if type(cid) is not int or j != end:
                raise bad_ext(code, i - 1, "data is not a channel id")
            if get_channel is None:
                raise DataFormatError(
                    "channel reference (id %d) at byte %d where no channels can be received"
                    % (cid, i - 2)
                )
            return get_channel(cid), end
        raise DataFormatError(
            "unknown extension type %d (%d bytes of data) at byte %d" % (code, n, i - 1)
        )

    def fixext(n):
        def handler(data, i):
            code = data[i]
            h = data[i + 1]
            if code == EXT_TUPLE and 0x90 <= h < 0xA0:
                # the hot path, channel.send((i, "x" * 16)): a small tuple, decoded inline
                end = i + 1 + n
                i += 2
                items = []
                append = items.append
                for _ in range(h & 0x0F):
                    v, i = H[data[i]](data, i + 1)
                    append(v)
                if i != end:
                    raise bad_ext(code, end - n - 1, "data is not one msgpack array")
                return tuple(items), i
            return ext(data, i + 1, n, code)

        return handler

    def ext8(data, i):
        n = data[i]
        code = data[i + 1]
        h = data[i + 2]
        if code == EXT_TUPLE and 0x90 <= h < 0xA0:
            end = i + 2 + n
            i += 3
            items = []
            append = items.append
            for _ in range(h & 0x0F):
                v, i = H[data[i]](data, i + 1)
                append(v)
            if i != end:
                raise bad_ext(code, end - n - 1, "data is not one msgpack array")
            return tuple(items), i
        return ext(data, i + 2, n, code)

    def ext_sized(fmt):
        size = S(fmt).size
        unpack = S(fmt).unpack_from

        def handler(data, i):
            n = unpack(data, i)[0]
            return ext(data, i + size + 1, n, data[i + size])

        return handler

    for b in range(16):
        H[0x80 | b] = fixmap(b)
        H[0x90 | b] = fixarray(b)
    H[0xC7] = ext8
    H[0xC8] = ext_sized(">H")
    H[0xC9] = ext_sized(">I")
    for b, n in zip(range(0xD4, 0xD9), (1, 2, 4, 8, 16)):
        H[b] = fixext(n)
    H[0xDC] = sized_array(">H")
    H[0xDD] = sized_array(">I")
    H[0xDE] = sized_map(">H")
    H[0xDF] = sized_map(">I")

    def loads(data, start=0):
        if type(data) is not bytes:
            # slicing bytes gives bytes, with .decode() for strs
            data = bytes(data)
        try:
            value, end = H[data[start]](data, start + 1)
        except Exception as exc:
            raise _codec_decode_error(exc, data)
        if end != len(data):
            if end > len(data):
                raise DataFormatError("truncated data: %d bytes end inside a value" % len(data))
            raise DataFormatError("trailing bytes: the value ends at byte %d of %d" % (end, len(data)))
        return value

    return loads


def _codec_make_c_codec(channel_class, get_channel, msgpack, segment_min=None):
    """dumps/loads through the msgpack C extension (msgpack >= 1.0), same bytes as the pure path."""
    ExtType = msgpack.ExtType
    Packer = msgpack.Packer
    unpackb = msgpack.unpackb
    ExtraData = msgpack.ExtraData
    FormatError = msgpack.FormatError
    StackError = msgpack.StackError
    pool = []  # idle Packers: pack() is not re-entrant, and default() packs nested tuples

    def packb(obj):
        try:
            packer = pool.pop()
        except IndexError:
            packer = Packer(default=default, strict_types=True, use_bin_type=True)
        data = packer.pack(obj)
        pool.append(packer)  # only after success: a failed packer is dropped
        return data

    def default(obj):
        t = type(obj)
        if t is tuple:
            return ExtType(_CODEC_EXT_TUPLE, packb(list(obj)))
        if t is set:
            return ExtType(_CODEC_EXT_SET, packb(list(obj)))
        if t is frozenset:
            return ExtType(_CODEC_EXT_FROZENSET, packb(list(obj)))
        if t is int:
            # beyond 64 bits (the packer calls default for those)
            return ExtType(_CODEC_EXT_BIGINT, _codec_bigint_data(obj))
        if t is complex:
            return ExtType(_CODEC_EXT_COMPLEX, _codec_complex(obj)[3:])
        if t is channel_class:
            return ExtType(_CODEC_EXT_CHANNEL, packb(int(obj.id)))
        base = _codec_base_value(obj)
        if base is _CODEC_NOTHING:
            raise _CodecRefused(obj)
        # The packer calls default() once per object: what needs an ext must come back as one.
        t = type(base)
        if t is int:
            if -0x8000000000000000 <= base < 0x10000000000000000:
                return base
            return default(base)
        if t is tuple or t is set or t is frozenset or t is complex:
            return default(base)
        return base

    tuple_head = _CODEC_TUPLE_HEAD
    bin8 = _CODEC_BIN8

    def dumps(obj):
        t = type(obj)
        try:
            if t is tuple:
                # channel.send((i, "x" * 16)) is the hot path: skip default() and an ExtType,
                # and packb's own frame
                try:
                    packer = pool.pop()
                except IndexError:
                    packer = Packer(default=default, strict_types=True, use_bin_type=True)
                body = packer.pack(list(obj))
                pool.append(packer)
                n = len(body)
                return (tuple_head[n] if n < 256 else _codec_ext_head(_CODEC_EXT_TUPLE, n)) + body
            if t is bytes or t is bytearray or t is memoryview:
                n = len(obj)
                if segment_min is not None and n >= segment_min:
                    return _codec_segments(obj)
                if t is bytes:
                    # the packer would copy a large bytes into its growing buffer, twice as slow
                    return (bin8[n] if n < 256 else _codec_len_head(n, (), bin8, 0xC5, 0xC6)) + obj
            return packb(obj)
        except (_CodecRefused, RecursionError, UnicodeEncodeError) as exc:
            raise _codec_dump_error(obj, exc)
        except (ValueError, TypeError, OverflowError) as exc:
            if "recursion" in str(exc):
                # the packer's own nesting limit (511 levels)
                exc = RecursionError()
            raise _codec_dump_error(obj, exc)

    # unpackb keeps its parse stack (~40 KiB) on the C stack, and an ext's data is unpacked by a
    # nested unpackb: 200 nested tuples crash an 8 MiB stack. Past a few levels the pure decoder,
    # which only uses Python frames, takes over. Shared by all threads, the count can only be
    # too high (falling back earlier), never too low.
    nesting = [0]
    pure_loads = _codec_make_pure_loads(get_channel)

    def array_in(code, data):
        if nesting[0] >= 4:
            items = pure_loads(data)
        else:
            nesting[0] += 1
            try:
                items = unpackb(data, raw=False, strict_map_key=False, ext_hook=ext_hook)
            finally:
                nesting[0] -= 1
        if type(items) is not list:
            raise DataFormatError("ext type %d: data is not one msgpack array" % code)
        return items

    def ext_hook(code, data):
        if code == _CODEC_EXT_TUPLE:
            return tuple(array_in(code, data))
        if code == _CODEC_EXT_SET:
            return set(array_in(code, data))
        if code == _CODEC_EXT_FROZENSET:
            return frozenset(array_in(code, data))
        if code == _CODEC_EXT_BIGINT:
            if not data:
                raise DataFormatError("ext type 0x42 (int) with no data")
            return int.from_bytes(data, "big", signed=True)
        if code == _CODEC_EXT_COMPLEX:
            parts = array_in(code, data)
            if len(parts) != 2:
                raise DataFormatError("ext type 4 (complex): data is not [real, imag]")
            return complex(parts[0], parts[1])
        if code == _CODEC_EXT_CHANNEL:
            cid = unpackb(data)
            if type(cid) is not int:
                raise DataFormatError("ext type 5 (channel): data is not a channel id")
            if get_channel is None:
                raise DataFormatError("channel reference (id %d) where no channels can be received" % cid)
            return get_channel(cid)
        raise DataFormatError("unknown extension type %d (%d bytes of data)" % (code, len(data)))

    def loads(data, start=0):
        size = len(data)
        if start:
            data = memoryview(data)[start:]
        try:
            return unpackb(data, raw=False, strict_map_key=False, ext_hook=ext_hook)
        except DataFormatError:
            raise
        except ExtraData as exc:
            raise DataFormatError(
                "trailing bytes: the value ends at byte %d of %d" % (size - len(exc.extra), size)
            )
        except UnicodeDecodeError as exc:
            raise DataFormatError("a str is not valid UTF-8: %s" % exc)
        except StackError:
            raise DataFormatError("containers nested too deeply")
        except FormatError:
            raise DataFormatError("invalid msgpack data (a 0xc1 byte)")
        except ValueError as exc:
            # unpackb limits every count to the input's length: a bigger one is a truncation
            if size == start:
                raise DataFormatError("empty input: no value")
            if "incomplete" in str(exc) or "exceeds max_" in str(exc):
                raise DataFormatError("truncated data: %d bytes end inside a value" % size)
            raise DataFormatError("corrupt data: %s" % (str(exc) or type(exc).__name__,))
        except Exception as exc:
            raise _codec_decode_error(exc, data)

    return dumps, loads


_codec_msgpack = []  # the msgpack module found at the first make_codec, or None


def _codec_import_msgpack():
    # looked for once per process: a failed import is not cached by Python, and costs a
    # path search every time
    if not _codec_msgpack:
        _codec_msgpack.append(_codec_find_msgpack())
    return _codec_msgpack[0]


def _codec_find_msgpack():
    try:
        import msgpack
    except ImportError:
        return None
    version = getattr(msgpack, "version", (0,))
    if tuple(version[:1]) < (1,) or not hasattr(msgpack, "Packer"):
        return None
    try:
        from msgpack import _cmsgpack  # noqa: F401 - the C extension, not the fallback
    except ImportError:
        return None
    return msgpack


def make_codec(channel_class=None, get_channel=None, use_c=None, segmented=False):
    """Return (dumps, loads). dumps(obj) -> bytes (raw msgpack, no version byte);
    loads(bytes|bytearray|memoryview) -> obj.

    Objects whose exact type is channel_class encode as ext 5 with int(obj.id); ext 5 decodes
    via get_channel(id). use_c: None = the msgpack C extension if importable, False = pure
    Python, True = require it (ImportError otherwise). segmented: dumps returns a large bytes,
    bytearray or memoryview as _CodecSegments, its header and the object itself (for a writer
    that writes the pieces before the object can change).
    """
    segment_min = _CODEC_SEGMENT_MIN if segmented else None
    msgpack = None
    if use_c or use_c is None:
        msgpack = _codec_import_msgpack()
        if msgpack is None and use_c:
            raise ImportError("the msgpack C extension (msgpack >= 1.0) is not available")
    if msgpack is not None:
        return _codec_make_c_codec(channel_class, get_channel, msgpack, segment_min)
    return _codec_make_pure_dumps(channel_class, segment_min), _codec_make_pure_loads(get_channel)


_codec_plain = []


def _codec_plain_codec():
    if not _codec_plain:
        _codec_plain.extend(make_codec())
    return _codec_plain


def dumps(obj):
    """Serialize obj: one format-version byte, then msgpack. Channels cannot be dumped."""
    return bytes((DUMPS_FORMAT_VERSION,)) + _codec_plain_codec()[0](obj)


def loads(data):
    """The inverse of dumps (and of the local side's dumps); DataFormatError names the problem."""
    if not len(data):
        raise DataFormatError("loads: empty input (expected a version byte and a value)")
    if data[0] != DUMPS_FORMAT_VERSION:
        raise DataFormatError(
            "loads: format version %d is not supported (this side reads version %d)"
            % (data[0], DUMPS_FORMAT_VERSION)
        )
    if len(data) == 1:
        raise DataFormatError("loads: truncated data: a version byte but no value")
    try:
        return _codec_plain_codec()[1](data, 1)
    except DataFormatError as exc:
        raise DataFormatError("loads: %s" % exc)
