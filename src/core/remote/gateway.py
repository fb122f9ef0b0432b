# The remote half of a gateway: frames in and out over the protocol fds, channels, and the
# executor that runs remote_exec code. Runs on CPython 3.6+ with nothing but the standard
# library. It is not imported: the local side sends CONFIG, codec.py and this file as one source
# that the bootstrap line exec()s, so names here share one namespace with codec.py.
# Invariant: only the reader thread dispatches incoming frames; any thread may send.

import collections
import io
import os
import _signal as signal  # the module without its enum wrappers: 1-3 ms less start-up
import struct
import sys
import _thread
import threading
import time
import weakref

_monotonic = time.monotonic

# Where the standard library lives (threading is never frozen, so it has a real file).
_STDLIB_DIR = os.path.dirname(threading.__file__)


_stdlib_lock = threading.RLock()


def _from_stdlib(module):
    return os.path.dirname(getattr(module, "__file__", None) or "").startswith(_STDLIB_DIR)


def _stdlib(name):
    """Import a standard module on first use, from the standard library even when the current
    directory (first on sys.path for remote code, as for `python -c`) has a file of that name:
    a workspace's own traceback.py must not replace the one that reports its errors."""
    module = sys.modules.get(name)
    if module is not None and _from_stdlib(module):
        __import__(name)  # waits while another thread is still importing it
        return sys.modules[name]
    with _stdlib_lock:  # one sys.path swap at a time
        module = sys.modules.get(name)
        if module is not None and _from_stdlib(module):
            __import__(name)
            return sys.modules[name]
        saved_path = sys.path[:]
        shadow = sys.modules.pop(name, None)
        sys.path[:] = [_STDLIB_DIR] + [p for p in saved_path if p not in ("", ".", _STDLIB_DIR)]
        try:
            __import__(name)
            return sys.modules[name]
        finally:
            sys.path[:] = saved_path
            if shadow is not None:
                # the remote code keeps what it imported under that name
                sys.modules[name] = shadow


PROTOCOL_VERSION = 1
MAX_PAYLOAD = 1 << 30
_HEADER = struct.Struct(">BII")

(HELLO, STATUS, RECONFIGURE, GATEWAY_TERMINATE, CHANNEL_EXEC, CHANNEL_DATA, CHANNEL_CLOSE,
 CHANNEL_CLOSE_ERROR, CHANNEL_LAST_MESSAGE, STDOUT, STDERR, INTERRUPT, TRACE, KILL) = range(14)

_OWN_FILENAME = "<execnet-remote>"
_builtin_TimeoutError = TimeoutError


class RemoteError(Exception):
    """The other side closed the channel with an error (for us: the local side's message)."""

    def __init__(self, formatted):
        Exception.__init__(self, formatted)
        self.formatted = formatted

    def __str__(self):
        return self.formatted

    def __repr__(self):
        return "%s: %s" % (self.__class__.__name__, self.formatted)


class TimeoutError(_builtin_TimeoutError):  # noqa: A001 - execnet's name, still a builtin subclass
    """A receive() or waitclose() ran out of time; the channel stays usable."""


class ExecKilled(BaseException):
    """Raised in the thread of an exec the local side killed (channel.kill()), until it ends. A
    BaseException, so that `except Exception` does not keep the code alive."""

    def __str__(self):
        return BaseException.__str__(self) or "killed by the local side"


class _EndMarker(object):
    def __repr__(self):
        return "<end of channel>"


ENDMARKER = _EndMarker()
NO_ENDMARKER = object()


def _background(target, *args):
    """Run target(*args) in a thread of the gateway's own; returns a lock released when it
    returns. Unlike threading.Thread.start(), this does not wait until the new thread runs: a
    gateway starts several, and each wait is a trip through the scheduler. (_thread is looked
    up at each call: the green execmodels patch it.)"""
    done = _thread.allocate_lock()
    done.acquire()

    def run():
        try:
            target(*args)
        finally:
            done.release()

    _thread.start_new_thread(run, ())
    return done


# ---------------------------------------------------------------------------------------------
# execution models: how threads, locks and the protocol fds behave

class _ThreadModel(object):
    """execmodel=thread (and main_thread_only): OS threads and blocking fds."""

    name = "thread"
    read = staticmethod(os.read)
    write = staticmethod(os.write)

    def prepare_fd(self, fd):
        pass

    def writev(self, fd, parts):
        return os.writev(fd, parts)

    def current(self):
        return threading.get_ident()

    def interrupt(self, gateway, task):
        if task.is_main:
            cid = task.channel.id
            gateway._sigint_target = cid
            main = threading.main_thread().ident
            # Aimed at the main thread itself, so that a blocking call there (sleep, select) is
            # interrupted rather than the signal landing in this thread. A signal that lands just
            # before the main thread enters a blocking call is only noticed when the call ends,
            # so repeat it until the handler has taken it.
            signal.pthread_kill(main, signal.SIGINT)

            def repeat():
                for _ in range(100):
                    time.sleep(0.05)
                    if gateway._sigint_target != cid:
                        return
                    signal.pthread_kill(main, signal.SIGINT)

            thread = threading.Thread(target=repeat, name="interrupt-%d" % cid)
            thread.daemon = True
            thread.start()
        else:
            def deliver():
                for _ in range(500):
                    with gateway._running_cond:
                        if task.finished or task not in gateway._running:
                            return
                        if not _in_gateway(sys._current_frames().get(task.runner)):
                            self._raise_in(task, KeyboardInterrupt)
                            return
                    time.sleep(0.01)

            thread = threading.Thread(target=deliver, name="interrupt-%d" % task.channel.id)
            thread.daemon = True
            thread.start()

    def kill(self, gateway, task):
        """Raise ExecKilled in the exec's thread (the main thread's SIGINT handler raises it
        for a killed exec); the caller repeats it until the exec ends."""
        if task.is_main:
            signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
        elif not _in_gateway(sys._current_frames().get(task.runner)):
            self._raise_in(task, task.kill_exc)

    @staticmethod
    def _raise_in(task, exc_class):
        # lands when the thread next runs Python code, not inside a blocking call
        ctypes = _stdlib("ctypes")
        ident = task.runner
        tid = ctypes.c_ulong(ident) if sys.version_info >= (3, 7) else ctypes.c_long(ident)
        ctypes.pythonapi.PyThreadState_SetAsyncExc(tid, ctypes.py_object(exc_class))


def _in_gateway(frame):
    """Whether a thread runs the gateway's own code now (writing a frame, say): an exception
    raised there could cut a frame in two, so interrupts and kills wait for the code's own."""
    return frame is not None and frame.f_code.co_filename.startswith("<execnet-")


class _GreenModel(_ThreadModel):
    """execmodel=gevent / eventlet: the library's green threads, cooperative fds.

    The standard library is monkey-patched first, so the gateway's own threads, locks and
    sleeps (and those of remote code) become green; the protocol fds are made non-blocking and
    read and written through the library's cooperative calls."""

    def __init__(self, name):
        self.name = name
        if name == "gevent":
            from gevent import monkey
            monkey.patch_all()
            import gevent
            import gevent.os
            self._read, self._write = gevent.os.nb_read, gevent.os.nb_write
            self._getcurrent = gevent.getcurrent
            self._spawn_raw = gevent.spawn_raw
        else:
            import eventlet
            eventlet.monkey_patch()
            import eventlet.green.os
            import eventlet.greenthread
            self._read, self._write = eventlet.green.os.read, eventlet.green.os.write
            self._getcurrent = eventlet.greenthread.getcurrent
            self._spawn_raw = eventlet.spawn_n

    def prepare_fd(self, fd):
        os.set_blocking(fd, False)

    def read(self, fd, n):
        return self._read(fd, n)

    def write(self, fd, data):
        return self._write(fd, data)

    def writev(self, fd, parts):
        return self._write(fd, b"".join(parts))

    def current(self):
        return self._getcurrent()

    def interrupt(self, gateway, task):
        target = task.runner
        # throw into the green thread from the hub the next time it is suspended
        self._spawn_raw(target.throw, KeyboardInterrupt)

    def kill(self, gateway, task):
        self._spawn_raw(task.runner.throw, task.kill_exc)


def _make_execmodel(name):
    if name in ("gevent", "eventlet"):
        return _GreenModel(name)
    return _ThreadModel()


_model = _ThreadModel()


# ---------------------------------------------------------------------------------------------
# tracing (EXECNET_DEBUG=1: a file per process, =2: the original stderr)

class _Tracer(object):
    def __init__(self, level, errfd):
        self._level = level
        self._fd = None
        if level == 1:
            tempfile = _stdlib("tempfile")
            path = os.path.join(tempfile.gettempdir(), "execnet-debug-%d" % os.getpid())
            self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        elif level == 2:
            self._fd = errfd

    def __call__(self, *msg):
        if self._fd is None:
            return
        line = "[%s remote %d] %s\n" % (time.strftime("%H:%M:%S"), os.getpid(), " ".join(map(str, msg)))
        try:
            os.write(self._fd, line.encode("utf-8", "replace"))
        except OSError:
            pass


# ---------------------------------------------------------------------------------------------
# writing frames

class _FrameWriter(object):
    """Writes frames to the protocol fd from any thread, in order, batching small frames.

    A frame sent while the link is idle is written at once: idle means nothing is buffered and
    either a thread has blocked waiting for the other side since the last send (a request/reply
    exchange) or nothing was written for _IDLE seconds. Frames
    that follow closely are buffered and written out when the buffer reaches _FLUSH_BYTES, when
    a thread is about to block waiting for the other side (receive, waitclose, the reader between
    reads, the end of an exec) and otherwise by the flusher thread at most _FLUSH_DELAY seconds
    later. A loop of sends thus costs one write per ~64 KiB instead of one per item. Writing
    under the lock keeps frames in order and makes senders wait while the pipe is full.
    """

    _FLUSH_BYTES = 65536
    _FLUSH_DELAY = 0.0005
    _IDLE = 0.001

    def __init__(self, fd):
        self._fd = fd
        self._parts = []
        self._size = 0
        self._last_write = 0.0
        self._large = False           # _parts holds a payload of more than 4 KiB
        self._quiet = True            # a thread blocked waiting since the last send
        self._armed = False           # the flusher has been told there is something to write
        self._flusher_started = False  # started when first needed
        self._lock = threading.Lock()
        self._pending = threading.Event()
        self.error = None

    def send(self, msgtype, channel_id, payload=b"", _pack=_HEADER.pack):
        # the hot path of every channel.send and print: keep it to a few operations. `with`, not
        # acquire() then try: an interrupt or kill raised in the thread between the two would
        # leave the lock taken and the gateway silent for good
        size = len(payload)
        with self._lock:
            if self.error is not None:
                raise OSError("gateway connection lost: %s" % (self.error,))
            parts = self._parts
            if size > 4096:
                if size > MAX_PAYLOAD:
                    raise DumpError(
                        "cannot send a value of %d bytes: a frame holds at most %d bytes"
                        % (size, MAX_PAYLOAD)
                    )
                self._large = True
                parts.append(_pack(msgtype, channel_id, size))
                if type(payload) is _CodecSegments:
                    parts.extend(payload.parts)  # written from where they are, before we return
                else:
                    parts.append(payload)
            else:
                parts.append(_pack(msgtype, channel_id, size) + payload)
            self._size = total = self._size + size + 9
            quiet = self._quiet
            if quiet:
                self._quiet = False
            if total >= self._FLUSH_BYTES or (
                len(parts) <= 2 and (quiet or _monotonic() - self._last_write > self._IDLE)
            ):
                self._flush_locked()
                return
            if self._armed:
                return
            self._armed = True
            if not self._flusher_started:
                self._flusher_started = True
                _background(self._flusher)
        self._pending.set()

    def flush(self):
        """Write out what is buffered: the calling thread is about to wait for the other side."""
        self._quiet = True
        if self._parts:
            with self._lock:
                if self._parts and self.error is None:
                    self._flush_locked()

    def _flusher(self):
        pending = self._pending
        while True:
            pending.wait()
            pending.clear()
            time.sleep(self._FLUSH_DELAY)
            with self._lock:
                self._armed = False
                if not self._parts or self.error is not None:
                    continue
                try:
                    self._flush_locked()
                except OSError:
                    return

    def _flush_locked(self):
        parts = self._parts
        large = self._large
        self._parts = []
        self._size = 0
        self._large = False
        try:
            if large:
                self._writev(parts)
            else:
                # small frames only: one copy of at most ~64 KiB, one write
                self._write(b"".join(parts) if len(parts) > 1 else parts[0])
        except OSError as exc:
            self.error = exc
            raise
        self._last_write = _monotonic()

    def _write(self, data):
        view = memoryview(data)
        fd = self._fd
        while view:
            view = view[_model.write(fd, view):]

    def _writev(self, parts):
        """Large payloads from where they are, the small parts between them joined."""
        views = []
        run = []
        for part in parts:
            if len(part) > 4096:
                if run:
                    views.append(memoryview(b"".join(run)))
                    run = []
                views.append(memoryview(part))
            else:
                run.append(part)
        if run:
            views.append(memoryview(b"".join(run)))
        fd = self._fd
        i = 0
        while i < len(views):
            written = _model.writev(fd, views[i:i + 512])
            while written:
                first = views[i]
                if written >= len(first):
                    written -= len(first)
                    i += 1
                else:
                    views[i] = first[written:]
                    written = 0


# ---------------------------------------------------------------------------------------------
# reading large frames

_BIN32_SIZE = struct.Struct(">I")
_LONE_BINARY = object()


class _ReadInto(io.RawIOBase):
    """The raw side of io.BufferedReader.read(n), which allocates the bytes object it returns
    and has its raw stream read straight into it: first what the frame reader already holds
    (`head`), then the protocol fd, never beyond the frame's `left` bytes."""

    def __init__(self, fd, head, left):
        self._fd = fd
        self._head = head
        self._left = left
        self._readv = getattr(os, "readv", None) if _model.name == "thread" else None

    def readable(self):
        return True

    def readinto(self, b):
        n = min(len(b), self._left)
        head = self._head
        if head:
            n = min(n, len(head))
            b[:n] = head[:n]
            self._head = head[n:]
        elif self._readv is not None:
            n = self._readv(self._fd, [b[:n]])
        else:
            data = _model.read(self._fd, n)
            n = len(data)
            b[:n] = data
        self._left -= n
        return n


def _read_exactly(fd, head, size):
    """`size` bytes as one bytes object: `head`, then from fd; None if fd ends first."""
    data = io.BufferedReader(_ReadInto(fd, head, size), 16384).read(size)
    return data if len(data) == size else None


# ---------------------------------------------------------------------------------------------
# channels

class Channel(object):
    """execnet's Channel: a bidirectional pipe of values between the two sides."""

    RemoteError = RemoteError
    TimeoutError = TimeoutError

    def __init__(self, gateway, id):
        self.gateway = gateway
        self.id = id
        self._items = collections.deque()
        self._cond = threading.Condition(threading.Lock())
        self._closed = False          # no more sending: closed here or by the other side
        self._receiveclosed = threading.Event()   # nothing more will arrive
        self._remoteerrors = []
        self._executing = False
        self._callback_mode = False   # setcallback() was called: the gateway holds the callback

    def __repr__(self):
        flag = self.isclosed() and "closed" or "open"
        return "<Channel id=%d %s>" % (self.id, flag)

    def isclosed(self):
        """Return True if the channel is closed. A closed channel may still hold items."""
        return self._closed

    def send(self, item):
        """Send item to the other side; OSError if the channel is closed."""
        if self._closed:
            raise OSError("cannot send to %r" % (self,))
        gateway = self.gateway
        gateway._writer.send(CHANNEL_DATA, self.id, gateway._dumps(item))

    def receive(self, timeout=None):
        """Receive the next item; EOFError after the other side closed, RemoteError if it
        closed with an error, channel.TimeoutError when timeout seconds pass."""
        if self._callback_mode:
            raise OSError("cannot receive(), channel has receiver callback")
        cond = self._cond
        with cond:
            items = self._items
            if not items:
                self.gateway._writer.flush()
                if timeout is None:
                    while not items:
                        cond.wait()
                else:
                    deadline = time.monotonic() + timeout
                    while not items:
                        remaining = deadline - time.monotonic()
                        if remaining <= 0:
                            raise self.TimeoutError("no item after %r seconds" % (timeout,))
                        cond.wait(remaining)
            item = items[0]
            if item is ENDMARKER:
                raise self._getremoteerror() or EOFError()
            items.popleft()
            return item

    def __iter__(self):
        return self

    def __next__(self):
        try:
            return self.receive()
        except EOFError:
            raise StopIteration

    next = __next__

    def setcallback(self, callback, endmarker=NO_ENDMARKER):
        """Call callback(item) for every item (the queued ones at once, the rest in the
        receiver thread); receive() is refused afterwards. When the channel closes, the
        callback gets endmarker if one was given."""
        with self.gateway._receivelock:
            if self._callback_mode:
                raise OSError("%r has callback already registered" % (self,))
            self._callback_mode = True
            with self._cond:
                queued = list(self._items)
                self._items.clear()
            for item in queued:
                if item is ENDMARKER:
                    self._items.append(ENDMARKER)
                    if endmarker is not NO_ENDMARKER:
                        callback(endmarker)
                    return
                callback(item)
            # kept by the gateway: the callback receives even after remote code drops the channel
            self.gateway._callbacks[self.id] = (callback, endmarker)

    def makefile(self, mode="w", proxyclose=False):
        """A file-like object on the channel: 'w' sends each write, 'r' reads sent data."""
        if mode == "w":
            return ChannelFileWrite(self, proxyclose)
        if mode == "r":
            return ChannelFileRead(self, proxyclose)
        raise ValueError("mode %r not available" % (mode,))

    def close(self, error=None):
        """Close the channel, optionally with an error message for the other side.
        A channel tied to a running remote_exec closes when the code returns."""
        if self._executing:
            raise OSError("cannot explicitly close channel within remote_exec")
        if self._closed:
            return
        if error is not None:
            self.gateway._send(CHANNEL_CLOSE_ERROR, self.id, self.gateway._dumps(str(error)))
        else:
            self.gateway._send(CHANNEL_CLOSE, self.id)
        self.gateway._local_close(self.id, sendonly=False)

    def waitclose(self, timeout=None):
        """Wait until nothing more will arrive; re-raise the other side's error if any."""
        self.gateway._writer.flush()
        if not self._receiveclosed.wait(timeout):
            raise self.TimeoutError("Timeout after %r seconds" % (timeout,))
        error = self._getremoteerror()
        if error:
            raise error

    def _getremoteerror(self):
        if self._remoteerrors:
            return self._remoteerrors[0]
        return None

    def __del__(self):
        # execnet: remote code dropped the channel while it was open, so it closes (or, when a
        # callback still receives, says that nothing more comes from here): the other side's
        # waitclose() returns. Only lock-free steps here: this may run inside any allocation.
        try:
            if not (self._closed or self._receiveclosed.is_set()):
                self.gateway._dropped(self.id)
        except Exception:
            pass

    # called from the reader thread
    def _deliver(self, item):
        with self._cond:
            self._items.append(item)
            self._cond.notify()

    def _mark_closed(self, error, sendonly):
        if error is not None:
            self._remoteerrors.append(error)
        if not sendonly:
            self._closed = True
        if self._receiveclosed.is_set():
            return
        with self._cond:
            self._items.append(ENDMARKER)
            self._cond.notify_all()
        self._receiveclosed.set()
        callback = self.gateway._callbacks.pop(self.id, None)
        if callback is not None and callback[1] is not NO_ENDMARKER:
            callback[0](callback[1])


class ChannelFile(object):
    def __init__(self, channel, proxyclose=True):
        self.channel = channel
        self._proxyclose = proxyclose

    def isatty(self):
        return False

    def close(self):
        if self._proxyclose:
            self.channel.close()

    def __repr__(self):
        state = self.channel.isclosed() and "closed" or "open"
        return "<ChannelFile %d %s>" % (self.channel.id, state)


class ChannelFileWrite(ChannelFile):
    def write(self, out):
        self.channel.send(out)

    def flush(self):
        pass


class ChannelFileRead(ChannelFile):
    def __init__(self, channel, proxyclose=True):
        ChannelFile.__init__(self, channel, proxyclose)
        self._buffer = None

    def read(self, n):
        try:
            if self._buffer is None:
                self._buffer = self.channel.receive()
            while len(self._buffer) < n:
                self._buffer += self.channel.receive()
        except EOFError:
            self.close()
        if self._buffer is None:
            ret = ""
        else:
            ret = self._buffer[:n]
            self._buffer = self._buffer[n:]
        return ret

    def readline(self):
        if self._buffer is not None:
            i = self._buffer.find("\n")
            if i != -1:
                return self.read(i + 1)
            line = self.read(len(self._buffer) + 1)
        else:
            line = self.read(1)
        while line and line[-1] != "\n":
            c = self.read(1)
            if not c:
                break
            line += c
        return line


# ---------------------------------------------------------------------------------------------
# the remote's stdout/stderr

class _OutputStream(object):
    """What sys.stdout and its .buffer share: a write-only, unseekable, never-closed stream whose
    writes become output frames attributed to the exec running in the current thread."""

    def __init__(self, gateway, msgtype, fd):
        self._send = gateway._send_output
        self._msgtype = msgtype
        self._fd = fd

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        pass

    def fileno(self):
        return self._fd

    def isatty(self):
        return False

    def writable(self):
        return True

    def readable(self):
        return False

    def seekable(self):
        return False

    @property
    def closed(self):
        return False


class _StreamBytes(_OutputStream):
    """sys.stdout.buffer: raw bytes."""

    def write(self, data):
        data = bytes(data)
        if data:
            self._send(self._msgtype, data)
        return len(data)


class _StreamText(_OutputStream):
    """sys.stdout / sys.stderr: text, sent as utf-8."""

    encoding = "utf-8"
    errors = "surrogateescape"
    newlines = None
    line_buffering = True

    def __init__(self, gateway, msgtype, fd, name):
        _OutputStream.__init__(self, gateway, msgtype, fd)
        self.buffer = _StreamBytes(gateway, msgtype, fd)
        self.name = name

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError("write() argument must be str, not %s" % type(text).__name__)
        if text:
            self._send(self._msgtype, text.encode("utf-8", "surrogateescape"))
        return len(text)


# ---------------------------------------------------------------------------------------------
# the remote's stdin: per exec, fed from the local side over a channel of its own

class _StdinBytes(object):
    """sys.stdin.buffer of one exec. Items on its channel are the bytes typed or piped locally;
    None is one end of file (Ctrl-D on a terminal: the read waiting returns what it has, later
    reads wait for more); the channel's end is the last end of file."""

    name = "<stdin>"
    mode = "rb"

    def __init__(self, channel):
        self._channel = channel
        self._data = b""
        self._ended = channel is None

    def _more(self):
        """Wait for the next item: False at an end of file. Waits in slices, so that an
        interrupt aimed at a thread other than the main one lands while it waits."""
        if self._ended:
            return False
        channel = self._channel
        while True:
            try:
                item = channel.receive(0.25)
            except TimeoutError:
                continue
            except Exception:  # EOFError (the end), or RemoteError
                self._ended = True
                return False
            if item is None:
                return False
            self._data += item.encode("utf-8") if isinstance(item, str) else bytes(item)
            return True

    def _take(self, n):
        data, self._data = self._data[:n], self._data[n:]
        return data

    def read(self, size=-1):
        if size is None or size < 0:
            while self._more():
                pass
            return self._take(len(self._data))
        while len(self._data) < size and self._more():
            pass
        return self._take(size)

    def read1(self, size=-1):
        if not self._data:
            self._more()
        return self._take(len(self._data) if size is None or size < 0 else size)

    def readline(self, size=-1):
        if size is None:
            size = -1
        while True:
            end = self._data.find(b"\n") + 1
            if end or 0 <= size <= len(self._data) or not self._more():
                break
        end = end or len(self._data)
        if 0 <= size < end:
            end = size
        return self._take(end)

    def readlines(self, hint=-1):
        lines = []
        for line in iter(self.readline, self._take(0)):
            lines.append(line)
            if 0 < hint <= sum(map(len, lines)):
                break
        return lines

    def __iter__(self):
        return self

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    next = __next__

    def readable(self):
        return True

    def writable(self):
        return False

    def seekable(self):
        return False

    def isatty(self):
        return False

    def fileno(self):
        raise sys.modules["io"].UnsupportedOperation("stdin of remote code has no file descriptor")

    def close(self):
        pass

    def flush(self):
        pass

    @property
    def closed(self):
        return False

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        pass


class _StdinText(_StdinBytes):
    """sys.stdin of one exec: its _StdinBytes decoded as utf-8."""

    mode = "r"
    encoding = "utf-8"
    errors = "surrogateescape"
    newlines = None

    def __init__(self, channel):
        _StdinBytes.__init__(self, channel)
        self.buffer = _StdinBytes.__new__(_StdinBytes)
        self.buffer.__dict__ = self.__dict__  # one buffer of bytes, read as text or as bytes

    def _take(self, n):
        # never split a character: take up to the end of the last whole one
        data = _StdinBytes._take(self, n)
        while data and not self._ended_whole(data):
            if not self._data and not self._more():
                break
            data += _StdinBytes._take(self, 1)
        return data.decode("utf-8", "surrogateescape")

    @staticmethod
    def _ended_whole(data):
        tail = data[-4:]
        for i in range(len(tail)):
            byte = tail[-1 - i]
            if byte < 0x80:
                return True
            if byte >= 0xC0:
                return i + 1 >= (2 if byte < 0xE0 else 3 if byte < 0xF0 else 4)
        return True


_NO_STDIN = _StdinText(None)


class _StdinProxy(object):
    """sys.stdin: the stdin of the exec running in this thread (end of file when it has none)."""

    def __init__(self, gateway):
        self._context = gateway._context

    def _current(self):
        return getattr(self._context, "stdin", None) or _NO_STDIN

    def __getattr__(self, name):
        return getattr(self._current(), name)

    def __iter__(self):
        return self._current()

    def __next__(self):
        return self._current().__next__()

    next = __next__

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        pass


# ---------------------------------------------------------------------------------------------
# the gateway

class _ExecTask(object):
    __slots__ = ("channel", "request", "runner", "is_main", "stdin", "killed", "kill_exc", "finished",
                 "interrupted")

    def __init__(self, channel, request):
        self.channel = channel
        self.request = request
        self.runner = None
        self.is_main = False
        stdin = request.get("stdin")
        self.stdin = _StdinText(stdin) if isinstance(stdin, Channel) else None
        self.killed = False           # channel.kill() asked to end it
        self.kill_exc = ExecKilled    # what is raised in its thread, saying what the kill did
        self.finished = False         # the code returned or raised: nothing more is raised in it
        self.interrupted = False      # an interrupt came before the code started: it gets it then


class RemoteGateway(object):
    """The remote end of one gateway. `channel.gateway` in remote code is this object."""

    _startcount = 2

    def __init__(self, config, rfd, wfd, errfd):
        self.id = config.get("id") or "gw"
        self.execmodel = config.get("execmodel") or "thread"
        self._trace = _Tracer(config.get("debug") or 0, errfd)
        self._rfd = rfd
        self._writer = _FrameWriter(wfd)
        # Weak: a channel remote code drops closes itself (Channel.__del__, then _reap). Exec
        # channels live in their task; data for a channel nobody has been handed yet in _unclaimed.
        self._channels = weakref.WeakValueDictionary()
        self._unclaimed = {}
        self._callbacks = {}          # channel id -> (callback, endmarker)
        self._drops = collections.deque()   # ids of channels dropped while open
        self._gone = set()            # ... and closed for that: their late data is dropped
        self._wake = None             # write end of the pipe that wakes _reap
        self._channels_lock = threading.Lock()
        self._nextid = 2
        self._receivelock = threading.RLock()
        self._dumps, self._loads = make_codec(Channel, self._channel_in_value, segmented=True)
        self._context = threading.local()
        self._running = []            # _ExecTask, in start order
        self._starting = {}           # channel id -> _ExecTask scheduled, not running yet
        self._running_cond = threading.Condition()
        self._main_queue = collections.deque()
        self._main_cond = threading.Condition()
        self._main_busy = False       # the main thread runs, or is reserved for, an exec
        self._main_running = None     # the _ExecTask the main thread runs, if any
        self._sigint_target = None    # channel id an INTERRUPT asked the main thread to stop
        self._terminating = False
        self._spawned = {}            # child pid -> channel id of the exec that started it
        self._own_main = sys.modules.get("__main__")
        self._mains = []              # the __main__ modules of the runs going on, oldest first

    def __repr__(self):
        return "<RemoteGateway %s pid=%d>" % (self.id, os.getpid())

    @staticmethod
    def stdlib(name):
        """A standard-library module, never a file of that name in the working directory or in a
        script's folder: for the helper modules the local side ships (the session, relays)."""
        return _stdlib(name)

    # -- channels ------------------------------------------------------------------------

    def newchannel(self):
        """A new channel of this gateway (even ids: the local side allocates odd ones)."""
        self._start_reaper()
        with self._channels_lock:
            cid = self._nextid
            self._nextid += 2
            channel = self._channels[cid] = Channel(self, cid)
        return channel

    def _getchannel(self, cid):
        channel = self._channels.get(cid)
        if channel is None:
            with self._channels_lock:
                channel = self._channels.get(cid)
                if channel is None:
                    channel = self._channels[cid] = Channel(self, cid)
        return channel

    def _channel_in_value(self, cid):
        """A channel reference in a received value: remote code gets the channel now."""
        self._start_reaper()
        channel = self._getchannel(cid)
        self._unclaimed.pop(cid, None)
        return channel

    def _local_close(self, cid, error=None, sendonly=False):
        channel = self._channels.get(cid)
        if channel is None:
            # dropped by remote code: only a callback may still be waiting for the end
            self._unclaimed.pop(cid, None)
            callback = self._callbacks.pop(cid, None)
            if callback is not None and callback[1] is not NO_ENDMARKER:
                callback[0](callback[1])
            return
        if not sendonly:
            self._channels.pop(cid, None)
            self._unclaimed.pop(cid, None)
        channel._mark_closed(error, sendonly)

    def _start_reaper(self):
        """The thread that closes channels remote code dropped (started with the first channel
        that can be dropped while open: exec channels close when their code returns)."""
        if self._wake is not None:
            return
        with self._channels_lock:
            if self._wake is not None:
                return
            r, w = os.pipe()
            os.set_blocking(w, False)
            _model.prepare_fd(r)
            thread = threading.Thread(target=self._reap, args=(r,), name="channel-reaper")
            thread.daemon = True
            thread.start()
            self._wake = w

    def _dropped(self, cid):
        """Channel.__del__: lock-free, as the collector may run while this thread holds a lock."""
        wake = self._wake
        if wake is None or self._terminating:
            return
        self._drops.append(cid)
        try:
            os.write(wake, b"x")
        except OSError:
            pass  # the pipe is full: the reaper has wake-ups enough

    def _reap(self, r):
        drops = self._drops
        while True:
            try:
                if not _model.read(r, 4096):
                    return
            except OSError:
                return
            while drops:
                cid = drops.popleft()
                with self._receivelock:
                    receiving = cid in self._callbacks
                    if not receiving:
                        self._gone.add(cid)
                try:
                    self._send(CHANNEL_LAST_MESSAGE if receiving else CHANNEL_CLOSE, cid)
                except OSError:
                    return

    # -- sending -------------------------------------------------------------------------

    def _send(self, msgtype, cid, payload=b""):
        self._writer.send(msgtype, cid, payload)

    def _send_output(self, msgtype, data):
        try:
            self._writer.send(msgtype, getattr(self._context, "channel_id", 0), data)
        except OSError:
            pass

    # -- receiving -----------------------------------------------------------------------

    def _reader(self):
        """Reader thread: parse frames from the protocol fd and dispatch them."""
        fd = self._rfd
        read = _model.read
        unpack_from = _HEADER.unpack_from
        buf = bytearray()
        reason = "EOF"
        try:
            flush = self._writer.flush
            # Read into one preallocated buffer: os.read(fd, 262144) mallocs and frees 256 KiB per
            # call, which in a thread's malloc arena means trimming and page faults every time.
            readv = getattr(os, "readv", None) if _model.name == "thread" else None
            rbuf = memoryview(bytearray(262144))
            while True:
                flush()
                if readv is not None:
                    n = readv(fd, [rbuf])
                    data = rbuf[:n]
                else:
                    data = read(fd, 262144)
                    n = len(data)
                if not n:
                    if buf:
                        reason = "truncated frame"
                    break
                buf += data
                pos = 0
                end = len(buf)
                while end - pos >= 9:
                    msgtype, cid, size = unpack_from(buf, pos)
                    if size > MAX_PAYLOAD:
                        raise DataFormatError(
                            "a frame of %d bytes exceeds the %d-byte limit" % (size, MAX_PAYLOAD)
                        )
                    start = pos + 9
                    stop = start + size
                    if stop > end:
                        if size > 262144:
                            payload, value = self._read_large(buf, start, size, msgtype)
                            if payload is None:
                                reason = "truncated frame"
                                return
                            pos = end = 0
                            del buf[:]
                            if payload is _LONE_BINARY:
                                self._deliver(cid, value)
                            else:
                                self._dispatch(msgtype, cid, payload)
                            if self._terminating:
                                return
                        break
                    self._dispatch(msgtype, cid, bytes(buf[start:stop]))
                    if self._terminating:
                        return
                    pos = stop
                if pos:
                    del buf[:pos]
        except Exception as exc:
            reason = "%s: %s" % (type(exc).__name__, exc)
            self._trace("reader failed:", reason)
            if isinstance(exc, DataFormatError):
                # the input cannot be followed any more; the output still works: say why
                self._send_output(STDERR, ("corrupt input: %s\n" % reason).encode("utf-8", "replace"))
        finally:
            if not self._terminating:
                self._trace("connection lost:", reason)
                self._on_lost_connection()

    def _read_large(self, buf, start, size, msgtype):
        """The rest of a large frame whose start is in buf[start:]: (payload, None), or for
        CHANNEL_DATA holding one binary alone (_LONE_BINARY, its bytes); (None, None) at EOF.
        Either is read straight into the bytes object it ends up as, nothing copied after."""
        if msgtype == CHANNEL_DATA:
            while len(buf) - start < 5:  # the binary's header may not have arrived yet
                data = _model.read(self._rfd, 5 - (len(buf) - start))
                if not data:
                    return None, None
                buf += data
            if buf[start] == 0xC6 and _BIN32_SIZE.unpack_from(buf, start + 1)[0] == size - 5:
                value = _read_exactly(self._rfd, bytes(buf[start + 5:]), size - 5)
                return (_LONE_BINARY, value) if value is not None else (None, None)
        return _read_exactly(self._rfd, bytes(buf[start:]), size), None

    def _dispatch(self, msgtype, cid, payload):
        if msgtype == CHANNEL_DATA:
            try:
                item = self._loads(payload)
            except DataFormatError as exc:
                self._unreadable(cid, exc)
                return
            self._deliver(cid, item)
        elif msgtype == CHANNEL_EXEC:
            try:
                request = self._loads(payload)
            except DataFormatError as exc:
                self._unreadable(cid, exc)
                return
            self._schedule(self._getchannel(cid), request)
        elif msgtype == CHANNEL_CLOSE:
            with self._receivelock:
                self._local_close(cid)
        elif msgtype == CHANNEL_CLOSE_ERROR:
            error = self._loads(payload)
            if isinstance(error, dict):
                error = error.get("traceback") or error.get("message") or ""
            with self._receivelock:
                self._local_close(cid, RemoteError(str(error)))
        elif msgtype == CHANNEL_LAST_MESSAGE:
            with self._receivelock:
                self._local_close(cid, sendonly=True)
        elif msgtype == STATUS:
            self._send(CHANNEL_DATA, cid, self._dumps(self._status()))
            self._send(CHANNEL_CLOSE, cid)
        elif msgtype == INTERRUPT:
            self._interrupt(cid)
        elif msgtype == KILL:
            self._kill(cid)
        elif msgtype == RECONFIGURE:
            pass
        elif msgtype == GATEWAY_TERMINATE:
            self._terminate()
        else:
            raise DataFormatError("unknown message type %d" % msgtype)

    def _unreadable(self, cid, exc):
        """A payload that cannot be decoded fails its channel alone (both sides hear why): the
        frames around it are intact, so the gateway goes on."""
        text = "<Channel id=%d> received an item this side cannot read: %s" % (cid, exc)
        self._trace(text)
        try:
            self._send(CHANNEL_CLOSE_ERROR, cid, self._dumps(text))
        except OSError:
            pass
        with self._receivelock:
            self._local_close(cid, RemoteError(text))

    def _deliver(self, cid, item):
        """An item for a channel: to its callback, or into its queue."""
        channel = self._channels.get(cid)
        if channel is None and cid not in self._callbacks:
            if cid in self._gone:
                return  # sent before the other side heard that remote code dropped it
            # data ahead of the value that hands the channel to remote code: keep both
            channel = self._unclaimed[cid] = self._getchannel(cid)
        with self._receivelock:
            callback = self._callbacks.get(cid)
            if callback is None:
                if channel is not None:
                    channel._deliver(item)
                return
            try:
                callback[0](item)
            except Exception as exc:
                self._callback_failed(cid, exc)

    def _callback_failed(self, cid, exc):
        traceback = _stdlib("traceback")
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        self._trace("exception during callback:", text)
        try:
            self._send(CHANNEL_CLOSE_ERROR, cid, self._dumps(text))
        except OSError:
            pass
        self._local_close(cid, RemoteError(text))

    def _status(self):
        with self._running_cond:
            executing = len(self._running)
        return {
            "numchannels": len(self._channels),
            "numexecuting": executing,
            "execmodel": self.execmodel,
            "pid": os.getpid(),
        }

    # -- executing -----------------------------------------------------------------------

    def _schedule(self, channel, request):
        task = _ExecTask(channel, request)
        channel._executing = True
        with self._running_cond:
            self._starting[channel.id] = task
        with self._main_cond:
            if self.execmodel == "main_thread_only" or not (self._main_busy or request.get("aside")):
                self._main_busy = True
                self._main_queue.append(task)
                self._main_cond.notify()
                return
        thread = threading.Thread(target=self._run_guarded, args=(task,), name="exec-%d" % channel.id)
        thread.daemon = True
        thread.start()

    def serve_main(self):
        """Run execs in the main thread (GUI loops and signals want it) until terminated."""
        cond = self._main_cond
        queue = self._main_queue
        while True:
            with cond:
                while not queue:
                    cond.wait()
                task = queue.popleft()
            task.is_main = True
            self._main_running = task
            try:
                self._run_guarded(task)
            finally:
                self._main_running = None

    def _run_guarded(self, task):
        try:
            self._run_task(task)
        except BaseException as exc:
            # An interrupt or kill that arrived as the exec was already ending (or any failure
            # of ours around it): the thread must live on, and the exec must still count as
            # ended on both sides.
            self._trace("exec thread: %r after channel" % (exc,), task.channel.id)
            with self._running_cond:
                if task in self._running:
                    self._running.remove(task)
                    self._running_cond.notify_all()
            if task.is_main:
                with self._main_cond:
                    self._main_busy = bool(self._main_queue)
            task.channel._executing = False
            self._close_exec_channel(task.channel, None)
            try:
                self._writer.flush()
            except OSError:
                pass

    def _run_task(self, task):
        channel = task.channel
        task.runner = _model.current()
        context = self._context
        context.channel_id = channel.id
        context.stdin = task.stdin
        with self._running_cond:
            self._starting.pop(channel.id, None)
            self._running.append(task)
            early = task.interrupted
        self._trace("exec start on channel", channel.id, task.is_main and "(main thread)" or "")
        if early:
            # it lands once the code runs: both models wait until the thread is out of our code
            _model.interrupt(self, task)
        error_info = None
        try:
            try:
                self._execute(channel, task.request)
            finally:
                # the code is done: interrupts and kills must not land in the reporting below
                task.finished = True
        except BaseException:
            exc_type, exc, tb = sys.exc_info()
            try:
                error_info = _error_info(exc_type, exc, tb, getattr(context, "source", None))
            except BaseException as failure:
                # the exec's end must reach the other side even if its report cannot be made
                error_info = {
                    "type": exc_type.__name__,
                    "message": str(exc),
                    "traceback": "%s: %s\n(no traceback: %r)\n" % (exc_type.__name__, exc, failure),
                    "frames": [],
                    "exit_code": None,
                }
            del tb
            self._trace("exec failed on channel", channel.id, error_info["type"])
        finally:
            channel._executing = False
            context.channel_id = 0
            context.source = None
            context.stdin = None
            if task.stdin is not None:
                try:
                    task.stdin._channel.close()
                except OSError:
                    pass
            if task.is_main:
                # free before the other side hears the end, so its next exec gets the main thread
                with self._main_cond:
                    self._main_busy = bool(self._main_queue)
            # not running any more before the other side hears it ended: a status request
            # right after the close must not count it
            with self._running_cond:
                self._running.remove(task)
                self._running_cond.notify_all()
        self._close_exec_channel(channel, error_info)
        try:
            self._writer.flush()
        except OSError:
            pass

    def _execute(self, channel, request):
        if request.get("module"):
            source, filename = _module_source(request["module"])
        else:
            source = request.get("source") or ""
            filename = request.get("filename") or "<remote exec>"
        # tracebacks show the failing lines, of files and of plain source strings alike: the
        # RemoteError's text puts the source back into linecache when it is made. A named file
        # goes there now, so that code printing its own tracebacks shows its lines too; a plain
        # string only when linecache is loaded already (importing it costs the first exec ~10 ms)
        self._context.source = (filename, source)
        if request.get("filename") or request.get("module") or "linecache" in sys.modules:
            _remember_source(filename, source)
        code = compile(source, filename, "exec", dont_inherit=True)
        namespace = {"channel": channel, "__name__": "__channelexec__", "__file__": filename}
        # a run of a script: what `python FILE ARGS` would give it, while it runs
        saved_cwd = saved_argv = path0 = None
        if request.get("cwd"):
            saved_cwd = os.getcwd()
            os.chdir(os.path.expanduser(request["cwd"]))
        if request.get("argv") is not None:
            saved_argv = sys.argv
            sys.argv = [str(arg) for arg in request["argv"]]
        if request.get("path0") is not None:
            path0 = self._enter_path0(request["path0"])
        main = None
        if request.get("main"):
            # its own module, registered as __main__ while it runs (pickle and multiprocessing
            # look functions up there); runs at once share it with the newest
            main = type(sys)("__main__")
            main.__dict__.update(channel=channel, __file__=filename)
            namespace = main.__dict__
            self._mains.append(main)
            sys.modules["__main__"] = main
        try:
            exec(code, namespace)
            call = request.get("call")
            if call:
                function = namespace.get(call)
                if function is None:
                    raise NameError("remote_exec: %r is not defined in the source" % (call,))
                function(channel, **(request.get("kwargs") or {}))
        finally:
            # what comes after the run (other execs, the session's helpers) sees the gateway's own
            # working directory, path and argv, not files of the script's folder named like modules
            if main is not None:
                self._mains.remove(main)
                if sys.modules.get("__main__") is main:
                    sys.modules["__main__"] = self._mains[-1] if self._mains else self._own_main
            if path0 is not None and path0 in sys.path:
                sys.path.remove(path0)
            if saved_argv is not None:
                sys.argv = saved_argv
            if saved_cwd is not None:
                try:
                    os.chdir(saved_cwd)
                except OSError:
                    pass

    def _enter_path0(self, path0):
        """sys.path[0] becomes the script's directory, as for `python FILE`, and modules loaded
        from there before are forgotten, so that the run imports them as they are now. Installed
        packages (a venv's site-packages) stay loaded. Returns the entry to take out at the end."""
        path0 = os.path.abspath(os.path.expanduser(path0))
        sys.path.insert(0, path0)
        prefix = os.path.join(path0, "")
        for name, module in list(sys.modules.items()):
            filename = getattr(module, "__file__", None) or ""
            inner = filename[len(prefix):]
            if filename.startswith(prefix) and filename.endswith(".py") and "-packages" not in inner:
                sys.modules.pop(name, None)
        _stdlib("importlib").invalidate_caches()
        return path0

    def _close_exec_channel(self, channel, error_info):
        # the exec's thread and a kill may both close it: the first one does
        with self._receivelock:
            if channel._closed:
                return
            try:
                if error_info is None:
                    self._send(CHANNEL_CLOSE, channel.id)
                else:
                    self._send(CHANNEL_CLOSE_ERROR, channel.id, self._dumps(error_info))
            except OSError:
                pass
            self._local_close(channel.id, sendonly=False)

    def _interrupt(self, cid):
        with self._running_cond:
            task = None
            for candidate in self._running:
                if candidate.channel.id == cid and not candidate.finished:
                    task = candidate
            if task is None:
                starting = self._starting.get(cid)
                if starting is not None:
                    starting.interrupted = True
                return
            self._trace("interrupt exec on channel", cid)
            _model.interrupt(self, task)

    def _kill(self, cid):
        with self._running_cond:
            task = None
            for candidate in self._running:
                if candidate.channel.id == cid:
                    task = candidate
            if task is None or task.killed:
                return
            task.killed = True
        thread = threading.Thread(target=self._end_killed, args=(task,), name="kill-%d" % cid)
        thread.daemon = True
        thread.start()

    def _end_killed(self, task):
        """KILL: end the processes the exec started, give its stdin an end, and raise ExecKilled
        in its thread until it ends. Its channel closes when it does, or after a second anyway
        (the thread is then left to its fate: Python cannot stop a thread that will not stop)."""
        channel = task.channel
        self._trace("kill exec on channel", channel.id)
        ended = _end_processes(self, channel.id)
        note = "%d process%s it started ended" % (ended, "" if ended == 1 else "es") if ended else ""
        message = "killed by the local side%s" % (note and " (%s)" % note)
        task.kill_exc = type("ExecKilled", (ExecKilled,), {"__str__": lambda self: message})
        if task.stdin is not None:
            with self._receivelock:
                self._local_close(task.stdin._channel.id)
        deadline = _monotonic() + 1.0
        cond = self._running_cond
        with cond:
            while task in self._running:
                if task.finished:
                    # it is reporting how it ended: let it
                    cond.wait(0.1)
                    continue
                _model.kill(self, task)
                if _monotonic() < deadline:
                    cond.wait(0.1)
                    continue
                if not channel._closed:
                    self._trace("killed exec on channel", channel.id, "does not end: left running")
                    self._close_exec_channel(channel, {
                        "type": "ExecKilled",
                        "message": "killed by the local side (%sits thread did not end and is "
                                   "left running)" % (note and note + "; "),
                        "traceback": "",
                        "frames": [],
                        "exit_code": None,
                    })
                    self._writer.flush()
                cond.wait(1.0)

    def _on_sigint(self, signum, frame):
        # Only an interrupt or a kill we were asked for, aimed at the exec running in the main
        # thread, raises; not inside the gateway's own code (the sender tries again).
        running = self._main_running
        if running is None or running.finished:
            self._sigint_target = None
            return
        if _in_gateway(frame):
            return
        target, self._sigint_target = self._sigint_target, None
        if running.killed:
            raise running.kill_exc()
        if target is not None and running.channel.id == target:
            raise KeyboardInterrupt()

    def _fd_owner(self):
        """The exec that fd-level output (os.write, subprocesses) is attributed to."""
        running = self._running
        if running:
            try:
                return running[-1].channel.id
            except IndexError:
                pass
        return 0

    # -- ending --------------------------------------------------------------------------

    def _close_all_channels(self):
        with self._receivelock:
            for cid in list(self._channels) + list(self._callbacks):
                self._local_close(cid)

    def _terminate(self):
        """GATEWAY_TERMINATE: close every channel (blocked receives raise EOFError), wait for
        running execs to return, then exit. The local side kills us if that takes too long."""
        self._terminating = True
        self._trace("terminate requested")
        self._close_all_channels()
        # Over ssh or a socket the local side cannot kill us when the execs take too long: it
        # ends our input instead. Keep reading it, and go when it ends.
        watcher = threading.Thread(target=self._exit_on_eof, name="eof-watch")
        watcher.daemon = True
        watcher.start()
        with self._running_cond:
            while self._running:
                self._running_cond.wait()
        self._exit(0)

    def _exit_on_eof(self):
        try:
            while _model.read(self._rfd, 65536):
                pass
        except OSError:
            pass
        self._trace("input closed while terminating: exit now")
        self._exit(1, kill_group=True)

    def _on_lost_connection(self):
        """The local side is gone: nobody can receive results. Give execs a moment, then go."""
        self._terminating = True
        self._close_all_channels()
        deadline = time.monotonic() + 1.0
        with self._running_cond:
            while self._running and time.monotonic() < deadline:
                self._running_cond.wait(deadline - time.monotonic())
        self._exit(0, kill_group=True)

    def _exit(self, status, kill_group=False):
        _restore_output_fds()
        for done in _output_threads:  # what they still read goes out before we do
            if done.acquire(timeout=0.2):
                done.release()
        try:
            self._writer.flush()
        except OSError:
            pass
        self._trace("exit", status)
        if kill_group:
            _end_own_group()
        os._exit(status)


_linecache_lock = threading.Lock()


_GROUP_GRACE = 1.0


def _end_own_group():
    """Nobody is left to clean up after us (the local side is gone): a gateway that leads its
    own process group (popen, ssh) takes what remote code started along, ourselves last: SIGTERM,
    then SIGKILL after _GROUP_GRACE seconds for what ignores it. (Any thread may call this, so
    the others are signalled one by one rather than ignoring SIGTERM here.)"""
    try:
        group = os.getpgrp()
        if group != os.getpid():
            return
        others = _others_in_group(group)
        if others is None:
            os.killpg(group, signal.SIGTERM)  # no /proc: all at once, ourselves included
            return
        deadline = _monotonic() + _GROUP_GRACE
        for pid in others:
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass
        while others and _monotonic() < deadline:
            time.sleep(0.05)
            others = _others_in_group(group)
        os.killpg(group, signal.SIGKILL)
    except OSError:
        pass


def _others_in_group(group):
    """Pids of the live processes in the group other than us; None where /proc cannot tell."""
    me = os.getpid()
    try:
        names = os.listdir("/proc")
    except OSError:
        return None
    found = []
    for name in names:
        if not name.isdigit() or int(name) == me:
            continue
        try:
            with open("/proc/%s/stat" % name, "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # fields: state ppid pgrp ...; a zombie is as good as gone
        if len(fields) > 2 and int(fields[2]) == group and fields[0] != b"Z":
            found.append(int(name))
    return found


def _die_with_parent(parent):
    """Linux: have the kernel SIGKILL us when the process that started us ends, whatever we are
    doing: a C call that holds the GIL (a long regex) never sees the end of its input. If that
    process (pid `parent`, unless 0) is already gone, go now."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import _ctypes  # ctypes itself costs ~2 ms to import; this is all prctl needs

        class _Int(_ctypes._SimpleCData):
            _type_ = "i"

        class _Function(_ctypes.CFuncPtr):
            _flags_ = _ctypes.FUNCFLAG_CDECL
            _restype_ = _Int

        prctl = _Function(_ctypes.dlsym(_ctypes.dlopen(None, 2), "prctl"))
        prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:
        return
    if parent and os.getppid() != parent:
        os._exit(1)


def _remember_source(filename, source):
    linecache = _stdlib("linecache")
    with _linecache_lock:
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)


def _error_info(exc_type, exc, tb, source=None):
    """What the local side needs of a failed exec. `source` is its (filename, text): execs
    running at once may share a name such as "<remote exec>", so the failing one's text goes
    back into linecache, under the lock, while its traceback is formatted."""
    traceback = _stdlib("traceback")
    while tb is not None and tb.tb_frame.f_code.co_filename == _OWN_FILENAME:
        tb = tb.tb_next
    # and from the first frame of ours on, what the code called in the gateway: channel.receive()
    # and the lock it waited on when an interrupt came, the SIGINT handler that raised it
    own = [t.tb_frame.f_code.co_filename == _OWN_FILENAME for t in _walk_tb(tb)]
    limit = own.index(True) if True in own else len(own)
    with _linecache_lock:
        if source is not None:
            filename, text = source
            _stdlib("linecache").cache[filename] = (len(text), None, text.splitlines(True), filename)
        text = "".join(traceback.format_exception(exc_type, exc, tb, limit=limit or None))
        frames = [[f[0], f[1], f[2]] for f in traceback.extract_tb(tb, limit=limit or None)]
    if not text.startswith("Traceback"):
        # a SyntaxError in the sent source has no frame left once the engine's are dropped
        text = "Traceback (most recent call last):\n" + text
    if isinstance(exc, SyntaxError) and exc.filename:
        frames.append([exc.filename, exc.lineno or 0, "<module>"])
    exit_code = None
    if isinstance(exc, SystemExit):
        # like the interpreter's own exit: None is 0, an int is itself, anything else 1
        code = exc.code
        exit_code = 0 if code is None else int(code) if isinstance(code, int) else 1
    return {
        "type": exc_type.__name__,
        "message": str(exc),
        "traceback": text,
        "frames": frames,
        "exit_code": exit_code,
    }


def _walk_tb(tb):
    while tb is not None:
        yield tb
        tb = tb.tb_next


def _module_source(name):
    spec = _stdlib("importlib.util").find_spec(name)
    if spec is None or spec.loader is None:
        raise ImportError("no module named %r on the remote sys.path" % (name,), name=name)
    source = spec.loader.get_source(name)
    if source is None:
        raise ImportError("module %r has no source to run" % (name,), name=name)
    return source, spec.origin or name


# ---------------------------------------------------------------------------------------------
# the processes execs start

def _inherit_context(gateway):
    """Threads an exec starts belong to it: their prints are its output, their sys.stdin its
    stdin, the processes they start its processes."""
    context = gateway._context
    start = threading.Thread.start

    def start_in_context(thread):
        cid = getattr(context, "channel_id", 0)
        if cid:
            stdin = getattr(context, "stdin", None)
            run = thread.run

            def run_in_context():
                context.channel_id = cid
                context.stdin = stdin
                run()

            thread.run = run_in_context
        start(thread)

    start_in_context.__doc__ = start.__doc__
    threading.Thread.start = start_in_context


def _track_spawns(gateway):
    """Note which exec started each child process (os.fork, os.posix_spawn and the spawn
    subprocess uses, patched on its first import), so that killing an exec ends what it
    started and nothing another exec started."""
    spawned = gateway._spawned
    context = gateway._context

    def wrap(function):
        def spawn(*args, **kwargs):
            pid = function(*args, **kwargs)
            cid = getattr(context, "channel_id", 0)
            if cid and pid:  # fork() is 0 in the child
                if len(spawned) > 4096:
                    for old in [p for p, c in spawned.items() if c != cid][:2048]:
                        del spawned[old]
                spawned[pid] = cid
            return pid
        spawn.__name__ = function.__name__
        spawn.__doc__ = function.__doc__
        return spawn

    for name in ("fork", "posix_spawn", "posix_spawnp"):
        if hasattr(os, name):
            setattr(os, name, wrap(getattr(os, name)))

    class PatchOnImport(object):
        """A finder that only answers for _posixsubprocess, once: the module is loaded as
        usual, then patched."""

        def find_spec(self, name, path=None, target=None):
            if name != "_posixsubprocess":
                return None
            sys.meta_path.remove(self)
            for finder in sys.meta_path:
                spec = getattr(finder, "find_spec", lambda *a: None)(name, path, target)
                if spec is not None:
                    spec.loader = PatchingLoader(spec.loader)
                    return spec
            return None

    class PatchingLoader(object):
        def __init__(self, loader):
            self.loader = loader

        def create_module(self, spec):
            return self.loader.create_module(spec)

        def exec_module(self, module):
            self.loader.exec_module(module)
            module.fork_exec = wrap(module.fork_exec)

    if "_posixsubprocess" in sys.modules:
        module = sys.modules["_posixsubprocess"]
        module.fork_exec = wrap(module.fork_exec)
    else:
        sys.meta_path.insert(0, PatchOnImport())


def _process_tree():
    """{parent pid: [child pids]} of every process we can see."""
    children = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        names = None
    if names is not None:
        for name in names:
            if name.isdigit():
                try:
                    with open("/proc/%s/stat" % name, "rb") as f:
                        stat = f.read()
                except OSError:
                    continue
                fields = stat[stat.rfind(b")") + 2:].split()
                if fields and fields[0] != b"Z":
                    children.setdefault(int(fields[1]), []).append(int(name))
        return children
    ps = _stdlib("subprocess").run(["ps", "-A", "-o", "pid=", "-o", "ppid="],
                                   stdout=-1, stderr=-3, check=False)
    for line in ps.stdout.decode("ascii", "replace").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit():
            children.setdefault(int(parts[1]), []).append(int(parts[0]))
    return children


def _end_processes(gateway, cid):
    """End the child processes exec `cid` started, with everything below them: SIGTERM, then
    SIGKILL for what is still there after half a second. A child no exec is known to have
    started (os.system) counts as cid's when cid is the only exec running. Returns how many
    processes were ended."""
    tree = _process_tree()
    mine = tree.get(os.getpid(), [])
    spawned = gateway._spawned
    for pid in [p for p in spawned if p not in mine]:
        spawned.pop(pid, None)
    with gateway._running_cond:
        alone = [task.channel.id for task in gateway._running] == [cid]
    victims = [pid for pid in mine if spawned.get(pid, cid if alone else None) == cid]
    direct = set(victims)
    for pid in victims:  # grows while it is walked: the whole tree below
        victims.extend(tree.get(pid, ()))
    count = len(victims)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in victims:
            try:
                os.kill(pid, sig)
            except OSError:
                pass
        deadline = _monotonic() + 0.5
        while True:
            for pid in list(direct):  # our children: reap them, or they stay as zombies
                try:
                    if os.waitpid(pid, os.WNOHANG)[0]:
                        direct.discard(pid)
                except ChildProcessError:
                    direct.discard(pid)
            alive = [pid for pid in victims if _alive(pid)]
            if not alive or _monotonic() > deadline:
                break
            time.sleep(0.02)
        if not alive:
            break
        victims = alive
    return count


def _alive(pid):
    """Running, not a zombie."""
    if os.path.isdir("/proc/self"):
        try:
            with open("/proc/%d/stat" % pid, "rb") as f:
                stat = f.read()
        except OSError:
            return False
        return stat[stat.rfind(b")") + 2:][:1] != b"Z"
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


# ---------------------------------------------------------------------------------------------
# start-up

_output_threads = []
_saved_fds = {}


def _pump_output(gateway, fd, msgtype):
    while True:
        try:
            data = _model.read(fd, 65536)
        except OSError:
            return
        if not data:
            return
        try:
            gateway._send(msgtype, gateway._fd_owner(), data)
        except OSError:
            return


def _restore_output_fds():
    devnull = os.open(os.devnull, os.O_WRONLY)
    for fd in (1, 2):
        try:
            os.dup2(devnull, fd)
        except OSError:
            pass
    os.close(devnull)


def _apply_config(config):
    if config.get("nice"):
        os.nice(int(config["nice"]))
    env = config.get("env") or {}
    for name, value in env.items():
        os.environ[name] = value
    if "PYTHONPATH" in env:
        # the interpreter read PYTHONPATH before we set it: do what it would have done
        entries = [p for p in env["PYTHONPATH"].split(os.pathsep) if p]
        sys.path[1:1] = [p for p in entries if p not in sys.path]
    if config.get("dont_write_bytecode"):
        sys.dont_write_bytecode = True
    chdir = config.get("chdir")
    if chdir:
        chdir = os.path.expanduser(chdir)
        if not os.path.isdir(chdir):
            os.makedirs(chdir)
        os.chdir(chdir)
    global _model
    model = config.get("execmodel") or "thread"
    try:
        _model = _make_execmodel(model)
    except ImportError as exc:
        raise ImportError("execmodel=%s needs the %s module on the remote: %s" % (model, model, exc))


# platform.python_implementation()'s names, without importing platform (slow) at start-up
_IMPLEMENTATIONS = {"cpython": "CPython", "pypy": "PyPy", "ironpython": "IronPython", "jython": "Jython"}


def _hello_info(config):
    return {
        "protocol": PROTOCOL_VERSION,
        "executable": sys.executable,
        "version": list(sys.version_info[:3]),
        "version_string": sys.version,
        "implementation": _IMPLEMENTATIONS.get(sys.implementation.name, sys.implementation.name),
        "platform": sys.platform,
        "pid": os.getpid(),
        "cwd": os.getcwd(),
        "hostname": os.uname().nodename,
        "execmodel": config.get("execmodel") or "thread",
    }


def _main(config):
    if config.get("die_with_parent") is not None:
        _die_with_parent(config["die_with_parent"])
    # Move the protocol off fds 0/1 so that nothing remote code does with them can corrupt it.
    rfd = os.dup(0)
    wfd = os.dup(1)
    errfd = os.dup(2)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    dumps_hello = make_codec()[0]
    path0 = globals().get("_boot_path0")
    if path0 is not None:
        # what `python -c` puts first on sys.path, back for the remote code (see the bootstrap)
        sys.path.insert(0, path0)
    try:
        _apply_config(config)
        hello = _hello_info(config)
    except Exception as exc:
        message = "%s: %s" % (type(exc).__name__, exc)
        payload = dumps_hello({"error": message})
        os.write(wfd, _HEADER.pack(HELLO, 0, len(payload)) + payload)
        os._exit(1)

    _model.prepare_fd(rfd)
    _model.prepare_fd(wfd)
    gateway = RemoteGateway(config, rfd, wfd, errfd)
    for fd, msgtype, name in ((1, STDOUT, "<stdout>"), (2, STDERR, "<stderr>")):
        r, w = os.pipe()
        os.dup2(w, fd)
        os.close(w)
        _model.prepare_fd(r)
        _output_threads.append(_background(_pump_output, gateway, r, msgtype))
    sys.stdout = _StreamText(gateway, STDOUT, 1, name="<stdout>")
    sys.stderr = _StreamText(gateway, STDERR, 2, name="<stderr>")
    sys.stdin = _StdinProxy(gateway)
    _inherit_context(gateway)
    _track_spawns(gateway)
    signal.signal(signal.SIGINT, gateway._on_sigint)

    boot = globals()
    if not boot.get("_boot_cached", True) and "_boot_code" in boot:
        # hand our compiled code back: the next start of this interpreter skips compiling
        import marshal
        hello["code"] = _stdlib("importlib.util").MAGIC_NUMBER + marshal.dumps(boot["_boot_code"])
    # the reader first: it gets going while HELLO travels, ready for the first exec
    _background(gateway._reader)
    gateway._send(HELLO, 0, gateway._dumps(hello))
    gateway._writer.flush()
    gateway._trace("gateway up", hello["executable"], hello["version"])
    gateway.serve_main()


# ---------------------------------------------------------------------------------------------
# warm start: an interpreter that has everything loaded forks a gateway per request

_WARM_RECORD = struct.Struct(">BIii")
_WARM_FORKED, _WARM_EXITED, _WARM_KILLED, _WARM_FAILED = 1, 2, 3, 4


def _serve_warm(config):
    """The warm interpreter: forks a ready gateway for each request on stdin, and reports each
    child's pid and exit status on stdout. Each child leads its own session, connects to the
    local side's socket and becomes an ordinary gateway there. Exits when stdin ends (the local
    side is gone) or when it has had no child for `idle` seconds."""
    import select
    import socket
    if config.get("die_with_parent") is not None:
        _die_with_parent(config["die_with_parent"])
    make_codec()  # load the codec (and the msgpack C extension, if any) once, for every child
    address = config["socket"]
    idle = float(config.get("idle") or 2.0)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    children = {}
    pending = b""
    idle_since = _monotonic()
    warm_pid = os.getpid()

    def report(kind, token, pid, value):
        os.write(1, _WARM_RECORD.pack(kind, token, pid, value))

    while True:
        timeout = None if children else max(0.0, idle - (_monotonic() - idle_since))
        try:
            ready = select.select([0, wake_r], [], [], timeout)[0]
        except InterruptedError:
            ready = []
        if wake_r in ready:
            try:
                os.read(wake_r, 512)
            except OSError:
                pass
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            token = children.pop(pid, 0)
            if os.WIFSIGNALED(status):
                report(_WARM_KILLED, token, pid, os.WTERMSIG(status))
            else:
                report(_WARM_EXITED, token, pid, os.WEXITSTATUS(status))
            if not children:
                idle_since = _monotonic()
        if 0 in ready:
            data = os.read(0, 65536)
            if not data:
                os._exit(0)
            pending += data
            while len(pending) >= 4:
                size = struct.unpack(">I", pending[:4])[0]
                if len(pending) < 4 + size:
                    break
                request, pending = pending[4:4 + size], pending[4 + size:]
                token = struct.unpack(">I", request[:4])[0]
                try:
                    pid = os.fork()
                except OSError as exc:
                    report(_WARM_FAILED, token, 0, exc.errno or 0)
                    continue
                if pid == 0:
                    _become_gateway(address, token, request[4:], (wake_r, wake_w, socket, warm_pid))
                children[pid] = token
                report(_WARM_FORKED, token, pid, 0)
        if not children and timeout is not None and _monotonic() - idle_since >= idle:
            os._exit(0)


def _become_gateway(address, token, literal, inherited):
    """In a child of the warm interpreter: connect to the local side and run as a gateway."""
    wake_r, wake_w, socket, warm_pid = inherited
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.close(wake_r)
        os.close(wake_w)
        os.setsid()
        config = eval(compile(literal, "<config>", "eval"), {})  # our own literal, as in the bootstrap
        if config.get("die_with_parent") is not None:
            config["die_with_parent"] = warm_pid  # forked: with the warm interpreter, we go too
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(address)
        sock.sendall(struct.pack(">I", token))
        fd = sock.detach()
        os.dup2(fd, 0)
        os.dup2(fd, 1)
        os.close(fd)
        globals()["_boot_cached"] = True  # the local side has our compiled code already
        if config.get("cwd"):
            os.chdir(config["cwd"])  # where the local side is now, as a spawned child would be
        _main(config)
    finally:
        os._exit(1)


if CONFIG.get("warm"):  # noqa: F821 - CONFIG is prepended by the local side
    _serve_warm(CONFIG)  # noqa: F821
else:
    _main(CONFIG)  # noqa: F821
