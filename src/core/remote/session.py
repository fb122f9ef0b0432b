# The remote half of an interactive session (src/core/session.ts): a persistent `__main__`-like
# namespace where runs execute one after another, like Python's interactive mode, with rich
# display (display(), _repr_*_ MIME types, matplotlib figures as PNG) and input() answered by the
# local side. Sent with remote_exec on first use and kept in sys.modules under a key that changes
# with this source, so later calls send only a call. Any CPython 3.6 to 3.13, standard library
# only; matplotlib is used when the code imports it.
# Invariant: every item sent on a run's channel is a dict with a "kind"; what the code itself
# sends with `channel.send(x)` goes as {"kind": "item", "value": x}.

import ast
import builtins
import io
import os
import sys
import threading
import types

_OWN_FILENAME = "<execnet-session>"
_HIDDEN = (_OWN_FILENAME, "<execnet-remote>")
_BACKEND = "_execnet_inline"
_BACKEND_NAME = "module://" + _BACKEND

# the run the current thread executes (a _Run), if any
_local = threading.local()
_sessions = {}
_sessions_lock = threading.Lock()
_original = {}


def _std(name):
    """A standard module, from the standard library even when the code's folder has a
    traceback.py or codeop.py: load() puts the gateway's importer here."""
    __import__(name)
    return sys.modules[name]

# ---------------------------------------------------------------------------------------------
# sessions and runs


class _Session(object):
    def __init__(self, name):
        self.name = name
        self.count = 0
        self.sources = {}  # filename -> list of lines, for tracebacks of code that is no file
        self.namespace = None
        # the event loop of top-level await, made on its first use and kept, as a kernel's is
        self.loop = None
        self.reset()

    def reset(self):
        module = types.ModuleType("__main__")
        module.__dict__.update({"__builtins__": builtins, "display": display})
        self.module = module
        self.namespace = module.__dict__
        self.count = 0
        # pickle, dataclasses and `if __name__ == "__main__"` look here
        sys.modules["__main__"] = module


def _session(name):
    with _sessions_lock:
        session = _sessions.get(name)
        if session is None:
            session = _sessions[name] = _Session(name)
        return session


class _UserChannel(object):
    """`channel` in the session's namespace: the run's channel, with what the code sends
    wrapped so that it cannot be taken for a message of the session."""

    def __init__(self, channel):
        self._channel = channel

    def send(self, item):
        self._channel.send({"kind": "item", "value": item})

    def __getattr__(self, name):
        return getattr(self._channel, name)

    def __iter__(self):
        return iter(self._channel)

    def __repr__(self):
        return repr(self._channel)


class _Run(object):
    def __init__(self, channel, session, count):
        self.channel = channel
        self.session = session
        self.count = count
        self.shown = set()  # ids of figures displayed by this run

    def send(self, message):
        self.channel.send(message)

    def display(self, data, metadata=None, kind="display"):
        message = {"kind": kind, "data": data, "metadata": metadata or {}}
        if kind == "result":
            message["count"] = self.count
        self.send(message)

    def ask(self, prompt, password):
        """input() and getpass(): the local side answers on a channel of its own."""
        reply = self.channel.gateway.newchannel()
        self.send({"kind": "input", "prompt": prompt, "password": password, "reply": reply})
        value = reply.receive()
        if value is None:
            raise EOFError("end of input")
        return value


def _current():
    return getattr(_local, "run", None)


# ---------------------------------------------------------------------------------------------
# entry points (each one exec of the local side; `channel` is that exec's channel)


def load(channel, keep_as=None, cwd=None):
    """Install the hooks and register this module under `keep_as`, once per interpreter (called
    again through the registered module, it has nothing to do); the session starts in `cwd` when
    it has a directory of its own."""
    _enter(cwd)
    if keep_as is None or keep_as in sys.modules:
        return
    global _std
    _std = channel.gateway.stdlib
    _install_hooks()
    module = types.ModuleType(keep_as)
    for name in ("load", "run", "complete", "is_complete", "restart"):
        setattr(module, name, globals()[name])
    sys.modules[keep_as] = module


def run(channel, name, source, filename, first_line=1, mode="exec"):
    """Run source in the session's namespace. mode "exec" shows the value of a final expression
    statement (a cell), "single" every expression statement at the top level (the REPL)."""
    session = _session(name)
    session.count += 1
    current = _Run(channel, session, session.count)
    outer = _current()
    _local.run = current
    namespace = session.namespace
    namespace["channel"] = _UserChannel(channel)
    try:
        try:
            _execute(current, source, filename, max(1, int(first_line)), mode)
        finally:
            _flush_figures(current)
    except SystemExit as exc:
        code = exc.code
        current.send({
            "kind": "exit",
            "code": 0 if code is None else code if isinstance(code, int) else 1,
            "message": "" if code is None or isinstance(code, int) else str(code),
        })
    except BaseException:
        exc_type, exc, tb = sys.exc_info()
        try:
            current.send(_error_message(exc_type, exc, tb))
        finally:
            del tb
    finally:
        _local.run = outer


def complete(channel, name, text):
    """Completions of `text` in the session's namespace, with rlcompleter's semantics."""
    rlcompleter = _std("rlcompleter")
    completer = rlcompleter.Completer(_session(name).namespace)
    found = []
    for state in range(1000):
        try:
            match = completer.complete(text, state)
        except Exception:
            break
        if match is None:
            break
        if match not in found:
            found.append(match)
    channel.send(found)


def is_complete(channel, source):
    """"complete", "incomplete" (the REPL shows a continuation prompt) or "invalid", as the
    interactive interpreter decides with codeop."""
    codeop = _std("codeop")
    try:
        code = codeop.compile_command(source, "<input>", "single")
    except (SyntaxError, OverflowError, ValueError):
        channel.send("invalid")
        return
    channel.send("incomplete" if code is None else "complete")


def restart(channel, name, cwd=None):
    """A fresh namespace (and execution count), back in the session's directory; figures of the
    old one are closed."""
    _enter(cwd)
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        try:
            pyplot.close("all")
        except Exception:
            pass
    _session(name).reset()


def _enter(cwd):
    # a directory that went away (a mirror deleted) leaves the session where it is: still usable
    if cwd:
        try:
            os.chdir(os.path.expanduser(cwd))
        except OSError:
            pass


# ---------------------------------------------------------------------------------------------
# executing


# `await` at the top level of a cell, a selection or a REPL line (Python 3.8+), as in Jupyter
_TOP_LEVEL_AWAIT = getattr(ast, "PyCF_ALLOW_TOP_LEVEL_AWAIT", 0)
_CO_COROUTINE = 0x80


def _execute(current, source, filename, first_line, mode):
    # blank lines in front: tracebacks and syntax errors name the lines of the file or cell
    padded = "\n" * (first_line - 1) + source
    _remember_source(current.session, filename, padded)
    session = current.session
    tree = compile(padded, filename, "exec", ast.PyCF_ONLY_AST | _TOP_LEVEL_AWAIT, True)
    if mode == "single":
        _evaluate(session, compile(ast.Interactive(body=tree.body), filename, "single",
                                   _TOP_LEVEL_AWAIT, True))
        return
    last = tree.body[-1] if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    if last is not None:
        tree.body.pop()
    _evaluate(session, compile(tree, filename, "exec", _TOP_LEVEL_AWAIT, True))
    if last is not None:
        value = _evaluate(session, compile(ast.Expression(last.value), filename, "eval",
                                           _TOP_LEVEL_AWAIT, True))
        _show_result(current, value)


def _evaluate(session, code):
    """Run compiled code in the session's namespace; code that awaits at the top level runs to
    its end on the session's event loop."""
    if not code.co_flags & _CO_COROUTINE:
        return eval(code, session.namespace)
    asyncio = _std("asyncio")
    if session.loop is None or session.loop.is_closed():
        session.loop = asyncio.new_event_loop()
    return session.loop.run_until_complete(eval(code, session.namespace))


def _show_result(current, value):
    if value is None:
        return
    current.session.namespace["_"] = value
    data, metadata = _bundle(value, current)
    current.display(data, metadata, kind="result")


def _remember_source(session, filename, padded):
    """linecache gets the lines of code that is not a file here; lines of several runs of one
    file (selections, cells) add up, so each frame shows its line."""
    if filename[:1] != "<" and os.path.isfile(filename):
        return
    linecache = _std("linecache")
    new = padded.splitlines(True)
    lines = session.sources.get(filename) or []
    if len(lines) < len(new):
        lines.extend(["\n"] * (len(new) - len(lines)))
    for index, line in enumerate(new):
        if line.strip():
            lines[index] = line
    session.sources[filename] = lines
    linecache.cache[filename] = (sum(map(len, lines)), None, lines, filename)


def _error_message(exc_type, exc, tb):
    traceback = _std("traceback")
    report = traceback.TracebackException(exc_type, exc, tb)
    # our frames and the gateway's (the signal handler an interrupt raises in) are not the code's
    seen = set()
    chained = report
    while chained is not None and id(chained) not in seen:
        seen.add(id(chained))
        chained.stack[:] = [f for f in chained.stack if f.filename not in _HIDDEN]
        chained = chained.__cause__ or chained.__context__
    frames = [[f.filename, f.lineno, f.name] for f in report.stack]
    if isinstance(exc, SyntaxError) and exc.filename:
        frames.append([exc.filename, exc.lineno or 0, "<module>"])
    return {
        "kind": "error",
        "type": exc_type.__name__,
        "message": str(exc),
        "traceback": "".join(report.format()),
        "frames": frames,
    }


# ---------------------------------------------------------------------------------------------
# rich display

_REPRS = (
    ("_repr_html_", "text/html"),
    ("_repr_markdown_", "text/markdown"),
    ("_repr_svg_", "image/svg+xml"),
    ("_repr_png_", "image/png"),
    ("_repr_jpeg_", "image/jpeg"),
    ("_repr_json_", "application/json"),
    ("_repr_latex_", "text/latex"),
)


def _method(obj, name):
    # looked up on the type: an object whose __getattr__ answers every name has no _repr_html_
    if isinstance(obj, type) or getattr(type(obj), name, None) is None:
        return None
    method = getattr(obj, name, None)
    return method if callable(method) else None


def _as_data(mime, value):
    if mime in ("image/png", "image/jpeg"):
        if isinstance(value, str):
            return _std("base64").b64decode(value)
        return bytes(value)
    if mime == "application/json":
        return value if isinstance(value, str) else _std("json").dumps(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _bundle(obj, current=None):
    """The MIME bundle Jupyter would show for obj: its _repr_*_ results and text/plain."""
    data = {}
    metadata = {}
    method = _method(obj, "_repr_mimebundle_")
    if method is not None:
        try:
            result = method(include=None, exclude=None)
        except Exception:
            result = None
        if isinstance(result, tuple) and len(result) == 2:
            result, extra = result
            metadata.update(extra or {})
        for mime, value in (result or {}).items():
            data[mime] = _as_data(mime, value)
    for name, mime in _REPRS:
        if mime in data:
            continue
        method = _method(obj, name)
        if method is None:
            continue
        try:
            value = method()
        except Exception:
            continue
        if isinstance(value, tuple) and len(value) == 2:
            value, extra = value
            if extra:
                metadata[mime] = extra
        if value is not None:
            data[mime] = _as_data(mime, value)
    figure = sys.modules.get("matplotlib.figure")
    if figure is not None and isinstance(obj, figure.Figure) and "image/png" not in data:
        data["image/png"], metadata["image/png"] = _png(obj)
        if current is not None:
            current.shown.add(id(obj))
    if "text/plain" not in data:
        data["text/plain"] = repr(obj)
    return data, metadata


def display(*objs, **options):
    """Show each object in the cell (or the REPL) with its richest representation; with
    raw=True an object is a MIME bundle {mime: data} already."""
    current = _current()
    raw = options.get("raw", False)
    for obj in objs:
        if raw:
            data, metadata = dict((m, _as_data(m, v)) for m, v in obj.items()), {}
        else:
            data, metadata = _bundle(obj, current)
        metadata.update(options.get("metadata") or {})
        if current is None:
            # a thread of its own: no cell to show it in
            print(data.get("text/plain", ""))
        else:
            current.display(data, metadata)


def _displayhook(value):
    current = _current()
    if current is None:
        return _original["displayhook"](value)
    _show_result(current, value)


def _input(prompt=""):
    current = _current()
    if current is None:
        return _original["input"](prompt)
    return current.ask(str(prompt), False)


def _getpass(prompt="Password: ", stream=None):
    current = _current()
    if current is None:
        return _original["getpass"](prompt, stream)
    return current.ask(str(prompt), True)


# ---------------------------------------------------------------------------------------------
# matplotlib: figures become PNG outputs on plt.show() and at the end of a run (Agg renders them)


class _MatplotlibHook(object):
    """On sys.meta_path: picks our backend when matplotlib is imported (unless MPLBACKEND says
    otherwise, as in Jupyter), and provides that backend's module. Nothing is imported before the
    code asks for matplotlib, and subprocesses are not affected."""

    def __init__(self):
        self._finding = False

    def find_spec(self, name, path=None, target=None):
        if name == _BACKEND:
            machinery = _std("importlib.machinery")
            return machinery.ModuleSpec(name, self)
        if name != "matplotlib" or self._finding:
            return None
        self._finding = True
        try:
            spec = _std("importlib.util").find_spec(name)
        finally:
            self._finding = False
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        load = spec.loader.exec_module

        def exec_module(module):
            load(module)
            if not os.environ.get("MPLBACKEND"):
                try:
                    module.use(_BACKEND_NAME)
                except Exception:
                    pass

        spec.loader.exec_module = exec_module
        return spec

    # the loader of the backend module
    def create_module(self, spec):
        return None

    def exec_module(self, module):
        from matplotlib.backend_bases import FigureManagerBase
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        def new_figure_manager_given_figure(num, figure):
            return FigureManagerBase(FigureCanvasAgg(figure), num)

        def new_figure_manager(num, *args, **kwargs):
            figure_class = kwargs.pop("FigureClass", Figure)
            return new_figure_manager_given_figure(num, figure_class(*args, **kwargs))

        def show(*args, **kwargs):
            _flush_figures(_current())

        def draw_if_interactive(*args, **kwargs):
            pass

        module.FigureCanvas = FigureCanvasAgg
        module.FigureManager = FigureManagerBase
        module.new_figure_manager = new_figure_manager
        module.new_figure_manager_given_figure = new_figure_manager_given_figure
        module.show = show
        module.draw_if_interactive = draw_if_interactive


def _png(figure):
    out = io.BytesIO()
    figure.canvas.print_figure(out, format="png", bbox_inches="tight")
    width, height = figure.get_size_inches() * figure.dpi
    return out.getvalue(), {"width": int(width), "height": int(height)}


def _flush_figures(current):
    """Show the open figures of our backend and close them (plt.show(), the end of a run)."""
    matplotlib = sys.modules.get("matplotlib")
    helpers = sys.modules.get("matplotlib._pylab_helpers")
    if matplotlib is None or helpers is None or current is None:
        return
    try:
        if matplotlib.get_backend() != _BACKEND_NAME:
            return
    except Exception:
        return
    pyplot = sys.modules.get("matplotlib.pyplot")
    for manager in helpers.Gcf.get_all_fig_managers():
        figure = manager.canvas.figure
        if id(figure) not in current.shown and (figure.axes or figure.images or figure.texts):
            current.shown.add(id(figure))
            data, metadata = _png(figure)
            current.display({"image/png": data, "text/plain": repr(figure)},
                            {"image/png": metadata})
        if pyplot is not None:
            pyplot.close(figure)


def _install_hooks():
    _original["displayhook"] = sys.displayhook
    _original["input"] = builtins.input
    sys.displayhook = _displayhook
    builtins.input = _input
    getpass = _std("getpass")
    _original["getpass"] = getpass.getpass
    getpass.getpass = _getpass
    sys.meta_path.insert(0, _MatplotlibHook())
    matplotlib = sys.modules.get("matplotlib")
    if matplotlib is not None and "matplotlib.pyplot" not in sys.modules and not os.environ.get("MPLBACKEND"):
        # imported before the session began, but no figure made yet: ours still applies
        try:
            matplotlib.use(_BACKEND_NAME)
        except Exception:
            pass
