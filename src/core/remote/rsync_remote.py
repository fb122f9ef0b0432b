# The receiving half of RSync (src/core/rsync.ts), sent with remote_exec and started as
# serve(channel, destdir, options). Its messages are described in docs/rsync.md. The gateway's
# reader thread queues items in a bounded inbox and the exec thread writes them, so a slow disk
# stalls the pipe and the sender waits: memory stays bounded on both sides.
# Invariant: every path from the wire is checked (relative, no '..', no symlink among its parents,
# listed as one kind only) before the filesystem is touched; file data is only ever written under
# a temporary name that is renamed into place once the file is complete; modes and times are set
# on what a path names itself, reached from the destination without following any symlink.

import collections
import errno
import hashlib
import os
import re
import shutil
import stat
import sys
import threading
import time

KIND_FILE, KIND_DIR, KIND_LINK, KIND_LINK_IN_TREE = 0, 1, 2, 3
# what a listed path is, whichever kind of link: a path listed twice must be the same each time
_KIND_CLASS = {KIND_FILE: "file", KIND_DIR: "directory", KIND_LINK: "symlink",
               KIND_LINK_IN_TREE: "symlink"}
HASH_NAME = "sha256"
_READ_CHUNK = 1 << 20
_INBOX_LIMIT = 8 << 20
_O_PATH = getattr(os, "O_PATH", 0)
_COPY_FILE_RANGE = getattr(os, "copy_file_range", None)
_SEEK_DATA = getattr(os, "SEEK_DATA", None)
_SEEK_HOLE = getattr(os, "SEEK_HOLE", None)
_SPARSE_MIN = 1 << 20            # larger files are copied by data segments, holes left holes
_REAP_MAX_SIZE = 16 << 20      # larger replaced files are freed at once, to give space back
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_BINARY = getattr(os, "O_BINARY", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_TMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_CLOEXEC | _O_BINARY
_UTIME_FD = os.utime in getattr(os, "supports_fd", ())
_FCHMOD = hasattr(os, "fchmod")
_UTIME_NOFOLLOW = os.utime in getattr(os, "supports_follow_symlinks", ())
_WINDOWS = sys.platform.startswith("win")
# Modes and times are set through descriptors opened from the destination one component at a
# time with O_NOFOLLOW (see Receiver.set_meta). With O_PATH (Linux) a component needs no read
# permission, and the change goes through /proc/self/fd, which reaches exactly that inode.
_ANCHORED = bool(_O_NOFOLLOW and _O_DIRECTORY) and os.open in getattr(os, "supports_dir_fd", ())
_PROC_FD = "/proc/self/fd/%d" if _O_PATH and os.path.isdir("/proc/self/fd") else None
_OPEN_DIR = (_O_PATH or os.O_RDONLY) | _O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC
_OPEN_ENTRY = (_O_PATH if _PROC_FD else os.O_RDONLY | os.O_NONBLOCK) | _O_NOFOLLOW | _O_CLOEXEC
# a wire path that is empty, absolute, or has an empty, '.' or '..' component, or a NUL
# a temporary name of ours: .NAME.PID.N.rsync-tmp
_TEMP_NAME = re.compile(r"\A\..*\.(\d+)\.\d+\.rsync-tmp\Z", re.S)
_UNSAFE_PATH = re.compile(r"\A\Z|\A/|//|/\Z|(?:\A|/)\.{1,2}(?:/|\Z)|\x00")


def _umask():
    """The process umask, read without changing it where the system tells (setting it to read it
    back would briefly affect files other threads create)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


class PathRefused(Exception):
    """A path from the wire that would land outside the destination."""


class ProtocolError(Exception):
    """A message this side does not understand: the sync stops."""


def _describe(exc):
    if isinstance(exc, EnvironmentError) and exc.strerror:
        return "%s: %s" % (errno.errorcode.get(exc.errno, type(exc).__name__), exc.strerror)
    return "%s: %s" % (type(exc).__name__, exc)


class _Stream(object):
    """A large file arriving in chunks: the open temporary file and what it will become."""

    __slots__ = ("rel", "final", "tmp", "fd", "size", "mode", "mtime", "pos", "failed", "sparse",
                 "mode_set")

    def __init__(self, rel, final, tmp, fd, size, mode, mtime):
        self.rel = rel
        self.final = final
        self.tmp = tmp
        self.fd = fd
        self.size = size
        self.mode = mode
        self.mtime = mtime
        self.pos = 0
        self.failed = False
        self.sparse = False
        self.mode_set = False


class Receiver(object):
    def __init__(self, channel, destdir, options):
        self.channel = channel
        self.send = channel.send
        self.root = os.path.abspath(os.path.expanduser(destdir))
        # a checked wire path is appended to this as it is ('/' is the separator everywhere
        # but on Windows, where the path is split and joined)
        self.prefix = None if _WINDOWS else os.path.join(self.root, "")
        self.umask = _umask()
        self.delete = bool(options.get("delete"))
        self.dry_run = bool(options.get("dry_run"))
        self.safe_dirs = {""}          # relative dirs known to be real directories
        self.touched = set()           # dirs whose entries changed: their mtime needs restoring
        self.made_writable = {}        # read-only dirs we opened up to write into -> their mode
        self.dirs = []                 # (rel, mode, mtime_ns, created) in listing order
        # missing directories are made when the first entry is written into them (or at the
        # end, if they stay empty): interleaved with their files, as rsync does, rather than
        # all ahead of the data
        self.pending_dirs = {}         # rel -> mode
        # files the listing found with other content: their old inodes are freed by the reaper
        self.replacing = set()
        self.reaper = _Reaper()
        self.listed = {}               # every listed path -> its kind (_KIND_CLASS)
        self.stream = None
        self.root_meta = None
        self.tmp_counter = 0
        self.pid = os.getpid()          # in our temporary names: whose they are
        self.swept = set()              # directories already rid of stale temporaries
        self.stats = {
            "files": 0, "bytes": 0, "meta": 0, "modes": 0, "links": 0, "dirs": 0,
            "deleted": 0, "errors": 0, "hashed": 0, "hashed_bytes": 0, "copied": 0, "stale": 0,
        }
        self.timings = {"compare": 0.0, "hash": 0.0, "write": 0.0, "copy": 0.0, "delete": 0.0,
                        "dirs": 0.0}
        self.started = time.time()
        if not self.dry_run:
            if not os.path.isdir(self.root):
                os.makedirs(self.root)
        self.source_prefix = self.same_source(options.get("source"))
        self.send(["local", self.source_prefix is not None])

    def same_source(self, source):
        """The sender's directory, if this side sees it too (same path, device and inode): then
        files are copied here, in the kernel, instead of travelling over the channel."""
        if not source or self.dry_run or self.prefix is None:
            return None
        try:
            st = os.stat(source["root"])
            if stat.S_ISDIR(st.st_mode) and st.st_dev == source["dev"] \
                    and st.st_ino == source["ino"]:
                return os.path.join(source["root"], "")
        except (OSError, KeyError, TypeError):
            pass
        return None

    # -- dispatch -----------------------------------------------------------------------------

    def handle(self, msg):
        """Handle one item; True once the sync is over."""
        if isinstance(msg, bytes):
            self.write_chunk(msg)
            return False
        if not isinstance(msg, list) or not msg or not isinstance(msg[0], str):
            raise ProtocolError("unexpected item %r" % (type(msg).__name__,))
        handler = self.HANDLERS.get(msg[0])
        if handler is None:
            raise ProtocolError("unknown message %r" % (msg[0],))
        return handler(self, *msg[1:])

    def error(self, rel, exc):
        self.stats["errors"] += 1
        message = exc if isinstance(exc, str) else _describe(exc)
        self.send(["error", rel if isinstance(rel, str) else repr(rel), message])

    # -- paths --------------------------------------------------------------------------------

    def parts_of(self, rel):
        """The components of a wire path; PathRefused for anything that could leave the tree."""
        if not isinstance(rel, str):
            raise PathRefused("refused: not a path")
        if _UNSAFE_PATH.search(rel):
            if not rel:
                raise PathRefused("refused: empty path")
            if rel.startswith("/"):
                raise PathRefused("refused: absolute path")
            if "\0" in rel:
                raise PathRefused("refused: NUL in the path")
            raise PathRefused("refused: empty, '.' or '..' component in the path")
        if _WINDOWS and ("\\" in rel or ":" in rel):
            raise PathRefused("refused: absolute or drive path")
        return rel.split("/")

    def path_of(self, rel, parts):
        if self.prefix is not None:
            return self.prefix + rel
        return os.path.join(self.root, *parts)

    def check_parents(self, parts, create):
        """Make sure every parent of the path is a real directory inside the destination (not a
        symlink, not a file); create missing ones when `create`. Returns False when a parent is
        missing and not created (dry run)."""
        parent = "/".join(parts[:-1])
        if parent in self.safe_dirs:
            return True
        if not create and parent in self.pending_dirs:
            return False
        path = self.root
        rel = ""
        for name in parts[:-1]:
            rel = rel + "/" + name if rel else name
            path = os.path.join(path, name)
            if rel in self.safe_dirs:
                continue
            try:
                st = os.lstat(path)
            except OSError as exc:
                if exc.errno not in (errno.ENOENT, errno.ENOTDIR):
                    raise
                if not create:
                    return False
                self.mkdir(path, rel, self.pending_dirs.pop(rel, 0o755))
                continue
            if stat.S_ISLNK(st.st_mode):
                raise PathRefused("refused: '%s' is a symlink; nothing is written through it" % rel)
            if not stat.S_ISDIR(st.st_mode):
                raise PathRefused("refused: '%s' is not a directory" % rel)
            self.safe_dirs.add(rel)
        return True

    def forget_dir(self, rel):
        """A directory at rel was removed or replaced: nothing below it is known any more."""
        if rel in self.safe_dirs:
            prefix = rel + "/"
            self.safe_dirs = {d for d in self.safe_dirs if d != rel and not d.startswith(prefix)}

    def set_meta(self, rel, mode, mtime, directory):
        """Give what rel names (a directory, or else a regular file) its mode (None: keep it)
        and mtime (None: keep it). It is reached from the destination one component at a time
        without following symlinks, so a link anywhere on the way, however it got there (a
        listing, another process), is refused rather than followed out of the destination."""
        parts = rel.split("/")
        if not _ANCHORED:
            path = self.path_of(rel, parts)
            self.check_parents(parts, False)
            st = os.lstat(path)
            self.check_kind(rel, st, directory)
            if mode is not None and stat.S_IMODE(st.st_mode) != mode:
                os.chmod(path, mode)
            if mtime is not None:
                os.utime(path, ns=(mtime, mtime))
            return
        fd = os.open(self.root, _OPEN_DIR & ~_O_NOFOLLOW)   # the root may be a link, by choice
        try:
            last = len(parts) - 1
            for depth, name in enumerate(parts):
                try:
                    inner = os.open(name, _OPEN_ENTRY if depth == last else _OPEN_DIR, dir_fd=fd)
                except OSError as exc:
                    if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                        raise
                    where = "/".join(parts[:depth + 1])
                    if stat.S_ISLNK(os.lstat(name, dir_fd=fd).st_mode):
                        raise PathRefused("refused: '%s' is a symlink; nothing is changed "
                                          "through it" % where)
                    raise PathRefused("refused: '%s' is not a directory" % where)
                os.close(fd)
                fd = inner
            st = os.fstat(fd)
            self.check_kind(rel, st, directory)
            target = _PROC_FD % fd if _PROC_FD else fd
            if mode is not None and stat.S_IMODE(st.st_mode) != mode:
                if _PROC_FD:
                    os.chmod(target, mode)
                else:
                    os.fchmod(fd, mode)
            if mtime is not None:
                os.utime(target, ns=(mtime, mtime))
        finally:
            os.close(fd)

    @staticmethod
    def check_kind(rel, st, directory):
        if stat.S_ISLNK(st.st_mode):
            raise PathRefused("refused: '%s' is a symlink; nothing is changed through it" % rel)
        if directory and not stat.S_ISDIR(st.st_mode):
            raise OSError(errno.EINVAL, "no longer a directory")
        if not directory and not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "no longer a regular file")

    def mkdir(self, path, rel, mode):
        self.with_writable_parent(path, lambda: os.mkdir(path, 0o700 | (mode & 0o777)))
        self.safe_dirs.add(rel)
        self.touch_parent(rel)

    def touch_parent(self, rel):
        index = rel.rfind("/")
        self.touched.add(rel[:index] if index >= 0 else "")

    def with_writable_parent(self, path, action):
        """Run action; if the parent directory refuses (read-only, as a non-root user), make it
        writable for the owner and try once more. The directory's mode is put back at the end."""
        try:
            return action()
        except OSError as exc:
            if exc.errno not in (errno.EACCES, errno.EPERM):
                raise
            parent = os.path.dirname(path)
            st = os.stat(parent)
            if st.st_mode & stat.S_IWUSR and st.st_mode & stat.S_IXUSR:
                raise
            os.chmod(parent, stat.S_IMODE(st.st_mode) | stat.S_IRWXU)
            self.made_writable.setdefault(parent, stat.S_IMODE(st.st_mode))
            return action()

    def remove(self, path, rel, st):
        """Remove what is at path (a file, a link, or a whole directory tree)."""
        if stat.S_ISDIR(st.st_mode):
            self.with_writable_parent(path, lambda: _rmtree(path))
            self.forget_dir(rel)
        else:
            self.with_writable_parent(path, lambda: os.unlink(path))
        self.touch_parent(rel)

    # -- comparing ----------------------------------------------------------------------------

    def on_list(self, seq, entries):
        started = time.perf_counter()
        want = []
        check = []
        changed = []
        safe_dirs = self.safe_dirs
        listed = self.listed
        prefix = self.prefix
        lstat = os.lstat
        for index, entry in enumerate(entries):
            try:
                rel, kind, size, mtime, mode, target = entry
            except (TypeError, ValueError):
                raise ProtocolError("malformed listing entry %r" % (entry,))
            if kind == 0 and type(rel) is str and prefix is not None:
                # the common case, inline: a file whose directory is already checked, so only
                # its name needs to be a plain component
                parent, _, name = rel.rpartition("/")
                if (parent in safe_dirs and name and name != "." and name != ".."
                        and "\0" not in name):
                    if listed.setdefault(rel, "file") != "file":
                        self.error(rel, self.listed_twice(rel, "file"))
                        continue
                    try:
                        st = lstat(prefix + rel)
                    except OSError as exc:
                        if exc.errno not in (errno.ENOENT, errno.ENOTDIR):
                            self.error(rel, exc)
                            continue
                        want.append(index)
                        continue
                    if st.st_mode == 0o100000 | mode and st.st_size == size:
                        sec, nsec = divmod(st.st_mtime_ns, 1000000000)
                        if sec * 1000.0 + nsec / 1000000.0 == mtime:
                            continue
                    try:
                        self.compare_file(index, rel, prefix + rel, size, mtime, mode, want,
                                          check, changed, st)
                    except EnvironmentError as exc:
                        self.error(rel, exc)
                    continue
            try:
                parts = self.parts_of(rel)
                what = _KIND_CLASS.get(kind)
                if what is None:
                    raise ProtocolError("unknown entry kind %r for %r" % (kind, rel))
                if listed.setdefault(rel, what) != what:
                    raise self.listed_twice(rel, what)
                is_link = kind == KIND_LINK or kind == KIND_LINK_IN_TREE
                if not self.check_parents(parts, is_link and not self.dry_run):
                    # the parent does not exist yet: everything below it is new
                    if kind == KIND_FILE:
                        want.append(index)
                    elif kind == KIND_DIR:
                        self.new_dir(index, rel, mode, mtime, changed)
                    else:
                        changed.append([index, "link"])
                    continue
                path = self.path_of(rel, parts)
                if kind == KIND_FILE:
                    self.compare_file(index, rel, path, size, mtime, mode, want, check, changed)
                elif kind == KIND_DIR:
                    self.compare_dir(index, rel, path, mtime, mode, changed)
                else:
                    self.compare_link(index, rel, path, kind, target, mtime, changed)
            except (PathRefused, EnvironmentError) as exc:
                self.error(rel, exc)
        self.timings["compare"] += time.perf_counter() - started
        self.send(["want", seq, want, check, changed])
        return False

    def listed_twice(self, rel, what):
        return PathRefused("refused: '%s' is listed twice, as a %s and as a %s"
                           % (rel, self.listed[rel], what))

    def compare_file(self, index, rel, path, size, mtime, mode, want, check, changed, st=None):
        if st is None:
            try:
                st = os.lstat(path)
            except OSError as exc:
                if exc.errno not in (errno.ENOENT, errno.ENOTDIR):
                    raise
                want.append(index)
                return
        if not stat.S_ISREG(st.st_mode) or st.st_size != size:
            if stat.S_ISREG(st.st_mode) and st.st_size <= _REAP_MAX_SIZE:
                self.replacing.add(rel)
            want.append(index)
            return
        if _mtime_ms(st.st_mtime_ns) != mtime:
            # same size, other time: the content may well be the same (a touch, a checkout);
            # the sender compares hashes and sends data only when they differ
            started = time.perf_counter()
            digest = hash_file(path)
            self.timings["hash"] += time.perf_counter() - started
            self.stats["hashed"] += 1
            self.stats["hashed_bytes"] += size
            if size <= _REAP_MAX_SIZE:
                self.replacing.add(rel)
            check.append([index, digest])
            return
        if stat.S_IMODE(st.st_mode) != mode:
            if not self.dry_run:
                self.set_meta(rel, mode, None, False)
            self.stats["modes"] += 1
            changed.append([index, "mode"])

    def compare_dir(self, index, rel, path, mtime, mode, changed):
        try:
            st = os.lstat(path)
        except OSError as exc:
            if exc.errno not in (errno.ENOENT, errno.ENOTDIR):
                raise
            st = None
        if st is not None and not stat.S_ISDIR(st.st_mode):
            # a file or a link where a directory belongs: replace it
            if not self.dry_run:
                self.remove(path, rel, st)
            st = None
        if st is None:
            self.new_dir(index, rel, mode, mtime, changed)
            return
        self.safe_dirs.add(rel)
        if stat.S_IMODE(st.st_mode) != mode:
            self.stats["modes"] += 1
            changed.append([index, "mode"])
        if stat.S_IMODE(st.st_mode) != mode or st.st_mtime_ns != mtime:
            self.touched.add(rel)
        self.dirs.append((rel, mode, mtime, False))

    def new_dir(self, index, rel, mode, mtime, changed):
        if not self.dry_run:
            self.pending_dirs[rel] = mode
            self.dirs.append((rel, mode, mtime, True))
        self.stats["dirs"] += 1
        changed.append([index, "mkdir"])

    def compare_link(self, index, rel, path, kind, target, mtime, changed):
        if not isinstance(target, str) or not target or "\0" in target:
            raise PathRefused("refused: bad link target for '%s'" % rel)
        if kind == KIND_LINK_IN_TREE:
            # a link into the source tree points at the same place in the destination
            target = os.path.join(self.root, *self.parts_of(target)) if target != "." else self.root
        try:
            st = os.lstat(path)
        except OSError as exc:
            if exc.errno not in (errno.ENOENT, errno.ENOTDIR):
                raise
            st = None
        if st is not None and stat.S_ISLNK(st.st_mode) and os.readlink(path) == target:
            return
        self.stats["links"] += 1
        changed.append([index, "link"])
        if self.dry_run:
            return
        if st is not None and stat.S_ISDIR(st.st_mode):
            self.remove(path, rel, st)
        tmp = self.with_writable_parent(path, lambda: self.make_temp(path, lambda t: os.symlink(target, t)))
        try:
            if _UTIME_NOFOLLOW:
                try:
                    os.utime(tmp, ns=(mtime, mtime), follow_symlinks=False)
                except (OSError, NotImplementedError):
                    pass
            os.rename(tmp, path)
        except BaseException:
            _unlink_quietly(tmp)
            raise
        self.touch_parent(rel)

    def on_end(self, root_mode, root_mtime):
        """The listing is complete: report what the destination has that the source does not."""
        self.root_meta = (root_mode, root_mtime)
        if self.delete:
            started = time.perf_counter()
            extras = []
            self.find_extras(self.root, "", extras)
            self.timings["compare"] += time.perf_counter() - started
            self.send(["extra", extras])
        return False

    def find_extras(self, path, rel, extras):
        try:
            entries = list(os.scandir(path))
        except OSError as exc:
            if exc.errno not in (errno.ENOENT, errno.ENOTDIR):
                self.error(rel or ".", exc)
            return
        listed = self.listed
        for entry in entries:
            sub = rel + "/" + entry.name if rel else entry.name
            if sub not in listed:
                extras.append([sub, entry.is_dir(follow_symlinks=False)])
            elif entry.is_dir(follow_symlinks=False):
                self.find_extras(entry.path, sub, extras)

    # -- writing ------------------------------------------------------------------------------

    def make_temp(self, final, create):
        """Create a fresh name beside final with create(tmp_path); return the name."""
        directory, name = os.path.split(final)
        if directory not in self.swept:
            self.swept.add(directory)
            self.sweep(directory)
        for _ in range(100):
            self.tmp_counter += 1
            tmp = os.path.join(directory, ".%s.%d.%d.rsync-tmp" % (name[:200], self.pid, self.tmp_counter))
            try:
                create(tmp)
                return tmp
            except OSError as exc:
                if exc.errno != errno.EEXIST:
                    raise
        raise OSError(errno.EEXIST, "no free temporary name beside %s" % final)

    def sweep(self, directory):
        """Remove the temporaries that a receiver which is no longer running (killed mid-sync)
        left in directory: ours by their name, stale by their pid."""
        try:
            entries = list(os.scandir(directory))
        except OSError:
            return
        for entry in entries:
            match = _TEMP_NAME.match(entry.name)
            if match is None or int(match.group(1)) == self.pid or _running(int(match.group(1))):
                continue
            try:
                if entry.is_file(follow_symlinks=False) or entry.is_symlink():
                    os.unlink(entry.path)
                    self.stats["stale"] += 1
            except OSError:
                pass

    def open_temp(self, final, mode):
        """A new temporary file beside final, created with mode when the umask leaves it whole
        (then no chmod is needed); returns (name, fd, whether mode is already set)."""
        exact = not (mode & ~0o777) and not (mode & self.umask)
        initial = mode if exact else 0o600
        box = []
        tmp = self.with_writable_parent(
            final, lambda: self.make_temp(final, lambda t: box.append(os.open(t, _TMP_FLAGS, initial))))
        return tmp, box[-1], exact

    def target_of(self, rel):
        """Checked destination path for a file about to be written."""
        parts = self.parts_of(rel)
        self.check_parents(parts, True)
        return self.path_of(rel, parts)

    def finish(self, fd, tmp, final, rel, mode, mtime, mode_set=False):
        """Give the complete temporary file its mode and time and rename it into place."""
        try:
            if _FCHMOD and not mode_set:
                os.fchmod(fd, mode)
            if _UTIME_FD:
                os.utime(fd, ns=(mtime, mtime))
        finally:
            os.close(fd)
        if not _FCHMOD and not mode_set:
            os.chmod(tmp, mode)
        if not _UTIME_FD:
            os.utime(tmp, ns=(mtime, mtime))
        old = None
        if rel in self.replacing and _O_PATH:
            # hold the file being replaced, so that the rename does not free its blocks: the
            # reaper does, beside the writing of the next files
            self.replacing.discard(rel)
            try:
                old = os.open(final, _O_PATH | _O_NOFOLLOW | _O_CLOEXEC)
            except OSError:
                pass
        try:
            os.rename(tmp, final)
        except OSError as exc:
            if old is not None:
                os.close(old)
                old = None
            if exc.errno not in (errno.EISDIR, errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR):
                raise
            # a directory sits where the file belongs
            self.remove(final, rel, os.lstat(final))
            os.rename(tmp, final)
        finally:
            if old is not None:
                self.reaper.close_later(old)
        self.touch_parent(rel)

    def on_files(self, files, blob):
        """Whole files: their bytes back to back in blob, (path, mode, mtime, length) in files."""
        started = time.perf_counter()
        view = memoryview(blob)
        offset = 0
        write = os.write
        for item in files:
            try:
                rel, mode, mtime, length = item
            except (TypeError, ValueError):
                raise ProtocolError("malformed file item")
            data = view[offset:offset + length]
            offset += length
            if len(data) != length:
                raise ProtocolError("file item %r runs past the data" % (rel,))
            tmp = fd = None
            try:
                final = self.target_of(rel)
                tmp, fd, mode_set = self.open_temp(final, mode)
                while data:
                    data = data[write(fd, data):]
                fd, closing = None, fd
                self.finish(closing, tmp, final, rel, mode, mtime, mode_set)
                self.stats["files"] += 1
                self.stats["bytes"] += length
            except (PathRefused, EnvironmentError) as exc:
                if fd is not None:
                    os.close(fd)
                if tmp is not None:
                    _unlink_quietly(tmp)
                self.error(rel, exc)
        self.timings["write"] += time.perf_counter() - started
        return False

    def on_copy(self, seq, items):
        """Files to copy from the sender's directory, which this side sees (see same_source):
        each only if it still has the listed size and mtime, else the sender sends it."""
        started = time.perf_counter()
        fallback = []
        if self.source_prefix is None:
            fallback = list(range(len(items)))
            items = ()
        for index, item in enumerate(items):
            try:
                rel, size, mtime = item
            except (TypeError, ValueError):
                raise ProtocolError("malformed copy item")
            src = tmp = fd = None
            try:
                self.parts_of(rel)
                try:
                    src = os.open(self.source_prefix + rel, os.O_RDONLY | _O_NOFOLLOW | _O_CLOEXEC)
                    st = os.fstat(src)
                except OSError:
                    fallback.append(index)
                    continue
                if not stat.S_ISREG(st.st_mode) or st.st_size != size \
                        or _mtime_ms(st.st_mtime_ns) != mtime:
                    # changed since the listing (or another file): the sender reads it again
                    fallback.append(index)
                    continue
                mode = stat.S_IMODE(st.st_mode)
                final = self.target_of(rel)
                tmp, fd, mode_set = self.open_temp(final, mode)
                _copy_data(src, fd, size)
                fd, closing = None, fd
                self.finish(closing, tmp, final, rel, mode, st.st_mtime_ns, mode_set)
                self.stats["files"] += 1
                self.stats["bytes"] += size
                self.stats["copied"] += 1
            except (PathRefused, EnvironmentError) as exc:
                if fd is not None:
                    os.close(fd)
                if tmp is not None:
                    _unlink_quietly(tmp)
                self.error(rel, exc)
            finally:
                if src is not None:
                    os.close(src)
        self.timings["copy"] += time.perf_counter() - started
        self.send(["copied", seq, fallback])
        return False

    def on_open(self, rel, size, mode, mtime):
        if self.stream is not None:
            raise ProtocolError("open of %r while %r is open" % (rel, self.stream.rel))
        started = time.perf_counter()
        try:
            final = self.target_of(rel)
            tmp, fd, mode_set = self.open_temp(final, mode)
            self.stream = _Stream(rel, final, tmp, fd, size, mode, mtime)
            self.stream.mode_set = mode_set
        except (PathRefused, EnvironmentError) as exc:
            self.stream = _Stream(rel, None, None, None, size, mode, mtime)
            self.stream.failed = True
            self.error(rel, exc)
        self.timings["write"] += time.perf_counter() - started
        return False

    def write_chunk(self, data):
        stream = self.stream
        if stream is None:
            raise ProtocolError("file data with no open file")
        if stream.failed:
            return
        started = time.perf_counter()
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(stream.fd, view):]
            stream.pos += len(data)
        except EnvironmentError as exc:
            self.fail_stream(exc)
        self.timings["write"] += time.perf_counter() - started

    def on_hole(self, length):
        """length zero bytes: skipped with a seek, so the file stays sparse."""
        stream = self.stream
        if stream is None:
            raise ProtocolError("hole with no open file")
        if stream.failed:
            return False
        try:
            os.lseek(stream.fd, length, os.SEEK_CUR)
            stream.pos += length
            stream.sparse = True
        except EnvironmentError as exc:
            self.fail_stream(exc)
        return False

    def fail_stream(self, exc):
        stream = self.stream
        stream.failed = True
        os.close(stream.fd)
        _unlink_quietly(stream.tmp)
        self.error(stream.rel, exc)

    def on_close(self, rel):
        stream = self.stream
        if stream is None or stream.rel != rel:
            raise ProtocolError("close of %r, which is not open" % (rel,))
        self.stream = None
        if stream.failed:
            return False
        started = time.perf_counter()
        try:
            if stream.pos != stream.size:
                raise OSError(errno.EIO, "got %d bytes of %d" % (stream.pos, stream.size))
            if stream.sparse:
                os.ftruncate(stream.fd, stream.size)
            fd, stream.fd = stream.fd, None
            self.finish(fd, stream.tmp, stream.final, rel, stream.mode, stream.mtime,
                        stream.mode_set)
            self.stats["files"] += 1
            self.stats["bytes"] += stream.size
        except EnvironmentError as exc:
            if stream.fd is not None:
                os.close(stream.fd)
            _unlink_quietly(stream.tmp)
            self.error(rel, exc)
        self.timings["write"] += time.perf_counter() - started
        return False

    def on_abort(self, rel, reason):
        """The sender could not finish the file (it vanished or changed): drop it."""
        stream = self.stream
        if stream is None or stream.rel != rel:
            raise ProtocolError("abort of %r, which is not open" % (rel,))
        self.stream = None
        if not stream.failed:
            os.close(stream.fd)
            _unlink_quietly(stream.tmp)
        return False

    def on_meta(self, items):
        """Files whose content is the same on both sides: only mode and time change."""
        started = time.perf_counter()
        for item in items:
            rel, mode, mtime = item
            try:
                self.parts_of(rel)
                self.set_meta(rel, mode, mtime, False)
                self.stats["meta"] += 1
            except (PathRefused, EnvironmentError) as exc:
                self.error(rel, exc)
        self.timings["write"] += time.perf_counter() - started
        return False

    def on_delete(self, paths):
        if not self.delete:
            raise ProtocolError("delete without the delete option")
        started = time.perf_counter()
        for rel in paths:
            try:
                parts = self.parts_of(rel)
                if rel in self.listed:
                    raise PathRefused("refused: '%s' is in the source listing" % rel)
                if not self.check_parents(parts, False):
                    continue
                path = os.path.join(self.root, *parts)
                try:
                    st = os.lstat(path)
                except OSError as exc:
                    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                        continue
                    raise
                self.remove(path, rel, st)
                self.stats["deleted"] += 1
            except (PathRefused, EnvironmentError) as exc:
                self.error(rel, exc)
        self.timings["delete"] += time.perf_counter() - started
        return False

    def on_done(self):
        """Everything is sent: give directories their modes and times (deepest first, since
        writing into a directory changes its time) and report."""
        if self.stream is not None:
            raise ProtocolError("done while %r is open" % (self.stream.rel,))
        started = time.perf_counter()
        if not self.dry_run:
            for rel in list(self.pending_dirs):
                # directories nothing was written into
                if rel in self.pending_dirs:
                    try:
                        self.check_parents(rel.split("/") + [""], True)
                    except (PathRefused, EnvironmentError) as exc:
                        self.error(rel, exc)
            for rel, mode, mtime, created in reversed(self.dirs):
                if created or rel in self.touched:
                    try:
                        self.set_meta(rel, mode, mtime, True)
                    except (PathRefused, EnvironmentError) as exc:
                        self.error(rel, exc)
            # directories we opened up that the listing does not cover get their mode back
            fixed = self.made_writable and {
                os.path.join(self.root, *rel.split("/")) for rel, _, _, _ in self.dirs}
            for path, mode in self.made_writable.items():
                if path not in fixed and path != self.root:
                    rel = os.path.relpath(path, self.root).replace(os.sep, "/")
                    try:
                        self.set_meta(rel, mode, None, True)
                    except (PathRefused, EnvironmentError) as exc:
                        self.error(rel, exc)
            root_meta = self.root_meta
            if root_meta is not None and root_meta[0] is not None:
                try:
                    st = os.stat(self.root)
                    if stat.S_IMODE(st.st_mode) != root_meta[0]:
                        os.chmod(self.root, root_meta[0])
                    if "" in self.touched or st.st_mtime_ns != root_meta[1]:
                        os.utime(self.root, ns=(root_meta[1], root_meta[1]))
                except EnvironmentError as exc:
                    self.error(".", exc)
        self.timings["dirs"] += time.perf_counter() - started
        summary = dict(self.stats)
        summary["timings"] = dict(self.timings)
        summary["elapsed"] = time.time() - self.started
        self.send(["summary", summary])
        return True

    def abort(self):
        """The channel closed before done: leave no temporary file behind."""
        stream = self.stream
        self.stream = None
        if stream is not None and not stream.failed:
            try:
                os.close(stream.fd)
            except OSError:
                pass
            _unlink_quietly(stream.tmp)

    HANDLERS = {
        "list": on_list,
        "end": on_end,
        "files": on_files,
        "copy": on_copy,
        "open": on_open,
        "hole": on_hole,
        "close": on_close,
        "abort": on_abort,
        "meta": on_meta,
        "delete": on_delete,
        "done": on_done,
    }


def _mtime_ms(ns):
    """A file's mtime as the sender's listing has it: milliseconds, the double Node computes
    (sec * 1e3 + nsec / 1e6). The same IEEE operations give the same double, so equal ms is
    equal ns but for times within a fraction of a microsecond of each other."""
    sec, nsec = divmod(ns, 1000000000)
    return sec * 1000.0 + nsec / 1000000.0


def hash_file(path):
    digest = hashlib.new(HASH_NAME)
    with open(path, "rb") as f:
        while True:
            block = f.read(_READ_CHUNK)
            if not block:
                break
            digest.update(block)
    return digest.digest()


def _copy_data(src, dst, size):
    """Copy size bytes from src to dst (fds), in the kernel where it can; a large sparse file's
    holes stay holes."""
    if size > _SPARSE_MIN and _SEEK_DATA is not None:
        position = 0
        while position < size:
            try:
                start = os.lseek(src, position, _SEEK_DATA)
            except OSError as exc:
                if exc.errno == errno.ENXIO:    # nothing but a hole up to the end
                    break
                raise
            if start >= size:
                break
            end = min(os.lseek(src, start, _SEEK_HOLE), size)
            _copy_range(src, dst, start, end - start)
            position = end
        os.ftruncate(dst, size)
    else:
        _copy_range(src, dst, 0, size)


def _copy_range(src, dst, offset, count):
    global _COPY_FILE_RANGE
    while count > 0:
        if _COPY_FILE_RANGE is not None:
            try:
                n = _COPY_FILE_RANGE(src, dst, count, offset, offset)
            except OSError as exc:
                if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                    raise
                _COPY_FILE_RANGE = None     # not here: read and write from now on
                continue
        else:
            block = os.pread(src, min(count, _READ_CHUNK), offset)
            n = len(block)
            view = memoryview(block)
            written = 0
            while written < n:
                written += os.pwrite(dst, view[written:], offset + written)
        if n == 0:
            raise OSError(errno.EIO, "the source file shrank while it was copied")
        offset += n
        count -= n


def _rmtree(path):
    """shutil.rmtree (which does not follow links), opening up read-only directories inside."""
    def retry(function, target, excinfo):
        try:
            os.chmod(os.path.dirname(target), stat.S_IRWXU)
            if os.path.isdir(target) and not os.path.islink(target):
                os.chmod(target, stat.S_IRWXU)
                shutil.rmtree(target)
            else:
                os.unlink(target)
        except FileNotFoundError:
            pass
    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=retry)
    else:
        shutil.rmtree(path, onerror=retry)


def _running(pid):
    """Whether a process with this pid exists (another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _unlink_quietly(path):
    try:
        os.unlink(path)
    except OSError:
        pass


class _Reaper(object):
    """Closes descriptors that hold replaced files, in a thread of its own. Freeing a file's
    blocks costs a fraction of a millisecond (more with online discard); here it overlaps the
    writing of the next files instead of adding to it. At most _BACKLOG wait; beyond that a
    descriptor is closed at once."""

    _BACKLOG = 256

    def __init__(self):
        self.fds = collections.deque()
        self.cond = threading.Condition(threading.Lock())
        self.thread = None
        self.ending = False

    def close_later(self, fd):
        with self.cond:
            if len(self.fds) < self._BACKLOG and not self.ending:
                self.fds.append(fd)
                self.cond.notify()
                if self.thread is None:
                    self.thread = threading.Thread(target=self.run, name="rsync-reaper")
                    self.thread.daemon = True
                    self.thread.start()
                return
        os.close(fd)

    def run(self):
        while True:
            with self.cond:
                while not self.fds and not self.ending:
                    self.cond.wait()
                if not self.fds:
                    return
                fd = self.fds.popleft()
            try:
                os.close(fd)
            except OSError:
                pass

    def end(self):
        """No more descriptors: the thread closes what it has, then ends."""
        with self.cond:
            self.ending = True
            self.cond.notify()


_END = object()


class _Inbox(object):
    """Items between the gateway's reader thread and the thread that writes the files, at most
    about `limit` bytes of them. The reader fills it from a channel callback and blocks when it
    is full, so the sender's pipe fills and it waits: bounded memory, while reading the next
    batch overlaps with writing the last one."""

    def __init__(self, limit):
        self.limit = limit
        self.items = collections.deque()
        self.size = 0
        self.cond = threading.Condition(threading.Lock())
        self.closed = False

    @staticmethod
    def weight(item):
        if isinstance(item, bytes):
            return len(item)
        if isinstance(item, list) and len(item) == 3 and item[0] == "files" \
                and isinstance(item[2], bytes):
            return len(item[2])
        return 4096

    def put(self, item):
        weight = 0 if item is _END else self.weight(item)
        with self.cond:
            while self.size > self.limit and not self.closed:
                self.cond.wait()
            if self.closed:
                return
            self.items.append((item, weight))
            self.size += weight
            self.cond.notify_all()

    def get(self):
        with self.cond:
            while not self.items:
                self.cond.wait()
            item, weight = self.items.popleft()
            self.size -= weight
            self.cond.notify_all()
            return item

    def close(self):
        """No more items are taken: a blocked or later put() returns at once."""
        with self.cond:
            self.closed = True
            self.items.clear()
            self.cond.notify_all()


def serve(channel, destdir, options=None, keep_as=None):
    """Receive one sync into destdir. The reader thread queues items (a channel callback); this
    (exec) thread handles them, and reports a broken protocol as its error.
    keep_as: register this module under that name in sys.modules, so that later syncs on the
    same gateway can call serve() without sending and compiling the source again."""
    if keep_as:
        import types
        module = types.ModuleType(keep_as)
        module.serve = serve
        sys.modules[keep_as] = module
    receiver = Receiver(channel, destdir, options or {})
    inbox = _Inbox(_INBOX_LIMIT)
    channel.setcallback(inbox.put, endmarker=_END)
    try:
        while True:
            item = inbox.get()
            if item is _END or receiver.handle(item):
                break
    finally:
        inbox.close()
        receiver.abort()
        receiver.reaper.end()
