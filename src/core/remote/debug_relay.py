# Runs inside a gateway (through remote_exec) to debug a program on its host. It finds debugpy (the
# interpreter's own, or a copy shipped into a per-user cache), starts debugpy's adapter as a child
# that speaks DAP on its stdin/stdout, and carries DAP between the adapter and the channel, one
# message per item (the JSON body, as bytes). The adapter starts the program itself (through
# debugpy's launcher) and listens on 127.0.0.1 only; nothing here opens a port.
# Items to the local side: ("hello", info), ("found", folder, complete) for each ("find", key),
# then DAP bodies, ("spawned", pid) or ("spawn-failed", message) for each ("spawn", ...), the
# terminal output of what it spawned as ("output", bytes), then ("exit", status, stderr).
# Items from the local side: ("find", key) when the interpreter has no debugpy of its own (its
# cached copy), ("shipped", key) once a copy has landed, ("start",), then DAP bodies and, for a
# program with a terminal (debugpy's runInTerminal, which the local side answers by asking for it
# here), ("spawn", args, cwd, env) and the terminal's ("stdin", bytes), ("eof",), ("interrupt",);
# then the end of its sending (the session is over).
# Invariant: when nothing more comes from the local side (the session ended, the local side is
# gone, the gateway terminates) the adapter's input ends, and what is left of it, the launcher and
# the program is killed before the exec returns: nothing outlives the session.

import importlib.util
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time

MARKER = ".execnet-bundle"
_HEADER = b"Content-Length: %d\r\n\r\n"
_END = object()
_GRACE = 2.0


def _cache_root():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "execnet")


def _complete(folder, key):
    """A shipped debugpy counts once its marker holds the bundle's key (written last)."""
    try:
        with open(os.path.join(folder, MARKER)) as f:
            return f.read().strip() == key
    except (OSError, ValueError):
        return False


def _has_own_debugpy():
    try:
        return importlib.util.find_spec("debugpy") is not None
    except (ImportError, ValueError):
        return False


class _Adapter(object):
    """debugpy's adapter in a session of its own; the program it launches leads its own
    process group in that session (debugpy's launcher puts it there)."""

    def __init__(self, folder):
        env = dict(os.environ)
        if folder:
            env["PYTHONPATH"] = os.pathsep.join(p for p in (folder, env.get("PYTHONPATH")) if p)
        # pydevd's warning about frozen modules on 3.11+ would reach the program's stderr
        env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
        options = {"start_new_session": True} if os.name == "posix" else {}
        self.env = env
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "debugpy.adapter"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0, env=env, **options)
        self.program = None
        # debugpy's launcher, when the program has a terminal: it leads a session of its own
        self.launcher = None
        self.stderr = b""
        self.inbox = queue.Queue()
        for target in (self._write, self._read_stderr):
            thread = threading.Thread(target=target, name="debug-relay")
            thread.daemon = True
            thread.start()

    def _write(self):
        stdin = self.proc.stdin
        try:
            while True:
                body = self.inbox.get()
                if body is _END:
                    break
                stdin.write(_HEADER % len(body) + body)
        except (OSError, ValueError):
            pass
        finally:
            try:
                stdin.close()
            except OSError:
                pass

    def _read_stderr(self):
        try:
            while True:
                data = self.proc.stderr.read(65536)
                if not data:
                    return
                self.stderr = (self.stderr + data)[-4000:]
        except (OSError, ValueError):
            return

    def messages(self):
        """The adapter's DAP messages (bodies), until its output ends."""
        out = self.proc.stdout
        buffer = b""
        while True:
            end = buffer.find(b"\r\n\r\n")
            while end < 0:
                data = out.read(65536)
                if not data:
                    return
                buffer += data
                end = buffer.find(b"\r\n\r\n")
            length = None
            for line in buffer[:end].split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if length is None:
                raise ValueError("DAP header without Content-Length: %r" % buffer[:end])
            buffer = buffer[end + 4:]
            while len(buffer) < length:
                data = out.read(max(65536, length - len(buffer)))
                if not data:
                    return
                buffer += data
            body, buffer = buffer[:length], buffer[length:]
            if b'"process"' in body:
                self._note_program(body)
            yield body

    def _note_program(self, body):
        try:
            message = json.loads(body.decode("utf-8"))
        except ValueError:
            return
        if message.get("type") == "event" and message.get("event") == "process":
            self.program = (message.get("body") or {}).get("systemProcessId")

    def spawn(self, channel, args, cwd, env):
        """Start what debugpy's runInTerminal asks for (its launcher, which starts the program),
        its stdin and output being the local side's terminal. It gets the environment the adapter
        would give it (a shipped debugpy on its path)."""
        merged = dict(self.env)
        for name, value in (env or {}).items():
            if value is None:
                merged.pop(name, None)
            else:
                merged[name] = value
        options = {"start_new_session": True} if os.name == "posix" else {}
        try:
            self.launcher = subprocess.Popen(
                list(args), cwd=cwd or None, env=merged, stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, bufsize=0, **options)
        except (OSError, ValueError) as error:
            channel.send(("spawn-failed", "%s: %s" % (args[0] if args else "?", error)))
            return
        channel.send(("spawned", self.launcher.pid))
        thread = threading.Thread(target=self._read_terminal, args=(channel,), name="debug-tty")
        thread.daemon = True
        thread.start()

    def _read_terminal(self, channel):
        out = self.launcher.stdout
        try:
            while True:
                data = out.read(65536)
                if not data:
                    return
                channel.send(("output", data))
        except (OSError, ValueError, EOFError):
            return

    def terminal_input(self, item):
        """The terminal's typed text, its end of file, or Ctrl+C (SIGINT to the program)."""
        launcher = self.launcher
        if launcher is None:
            return
        try:
            if item[0] == "stdin":
                launcher.stdin.write(item[1])
            elif item[0] == "eof":
                launcher.stdin.close()
            elif item[0] == "interrupt" and self.program and self._ours(self.program):
                os.killpg(self.program, signal.SIGINT)
        except (OSError, ValueError):
            pass

    def _ours(self, group):
        """A process group of the adapter's session or the launcher's: the pid may have been
        reused."""
        sessions = [self.proc.pid] + ([self.launcher.pid] if self.launcher else [])
        try:
            return os.getsid(group) in sessions and os.getpgid(group) == group
        except OSError:
            return False

    def end(self):
        """Close the adapter's input (it then ends the program and exits), and kill what is
        still there after a grace period."""
        self.inbox.put(_END)
        deadline = time.time() + _GRACE
        while self.proc.poll() is None and time.time() < deadline:
            time.sleep(0.02)
        self.kill()

    def kill(self):
        proc = self.proc
        if os.name != "posix":
            if proc.poll() is None:
                proc.kill()
            return
        launcher = self.launcher
        for group in (self.program, launcher and launcher.pid, proc.pid):
            if group and self._ours(group):
                try:
                    os.killpg(group, signal.SIGKILL)
                except OSError:
                    pass
        for child in (launcher, proc):
            if child is not None and child.poll() is None:
                try:
                    child.kill()
                except OSError:
                    pass
        if launcher is not None:
            launcher.wait()


def serve(channel, keep_as=None):
    """One debug session. keep_as: register this module under that name in sys.modules, so that
    later sessions on the same gateway need not send and compile the source again."""
    if keep_as:
        import types
        module = types.ModuleType(keep_as)
        module.serve = serve
        sys.modules[keep_as] = module
    channel.send(("hello", {
        "executable": sys.executable,
        "version": list(sys.version_info[:3]),
        "debugpy": _has_own_debugpy(),
    }))
    items = queue.Queue()
    channel.setcallback(items.put, endmarker=_END)
    folder = None
    while True:
        item = items.get()
        if item is _END:
            return
        if item[0] == "find":
            # a copy shipped earlier, under the name the local side's copy has
            folder = os.path.join(_cache_root(), item[1])
            channel.send(("found", folder, _complete(folder, item[1])))
        elif item[0] == "shipped":
            # the local side's copy has landed whole: mark it complete
            with open(os.path.join(folder, MARKER), "w") as f:
                f.write(item[1])
        elif item[0] == "start":
            break
    adapter = _Adapter(folder)

    def forward():
        while True:
            item = items.get()
            if item is _END:
                break
            if not isinstance(item, (tuple, list)):
                adapter.inbox.put(item)
            elif item[0] == "spawn":
                adapter.spawn(channel, item[1], item[2], item[3])
            else:
                adapter.terminal_input(item)
        adapter.end()

    forwarder = threading.Thread(target=forward, name="debug-relay-in")
    forwarder.daemon = True
    forwarder.start()
    try:
        for body in adapter.messages():
            channel.send(body)
    finally:
        adapter.end()
    status = adapter.proc.wait()
    try:
        channel.send(("exit", status, adapter.stderr.decode("utf-8", "replace")))
    except (OSError, ValueError):
        pass
