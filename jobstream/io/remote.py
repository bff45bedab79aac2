"""Remote inputs: ``s3://``, ``gs://``, ``az://``, ``https://`` ... through fsspec.

:mod:`jobstream.io.sources` sends here every name that has a protocol (``proto://``), and
only those: fsspec is imported when such a name is read, never at start-up.  A protocol's
own package (s3fs, gcsfs, adlfs, aiohttp for HTTP) is the user's to install; a missing one
is a :class:`~jobstream.errors.SourceError` naming it.  ``file://`` URLs are the local files
they name (read, split and followed like any local path).

Everything fsspec or a protocol package raises while listing, opening or reading becomes
a one-line :class:`~jobstream.errors.SourceError`, so a remote input that fails is
reported like a local one (a record naming where reading stopped), never a traceback.
"""

from __future__ import annotations

import io
import re
from typing import Any, BinaryIO

from ..errors import SourceError

__all__ = ["protocol_of", "local_path", "expand", "open_url", "size_of", "read_at"]

_PROTOCOL = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
#: The package a protocol needs, where it is not the package of its filesystem class.
_PACKAGES = {"http": "aiohttp", "https": "aiohttp", "sftp": "paramiko", "ssh": "paramiko"}
#: Names whose listing marks a directory (fsspec's ``type``).
_DIRECTORY = "directory"


def protocol_of(name: str) -> str | None:
    """The protocol of *name* (``s3`` for ``s3://bucket/key``), or None for a local path."""
    m = _PROTOCOL.match(name)
    return m.group(1).lower() if m else None


def _fsspec() -> Any:
    try:
        import fsspec
    except ImportError:  # pragma: no cover - a core dependency; a broken install
        raise SourceError("remote paths need fsspec: pip install fsspec") from None
    return fsspec


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def failure(exc: BaseException, url: str) -> SourceError:
    """*exc*, raised by fsspec or a protocol package about *url*, as one line."""
    if isinstance(exc, SourceError):
        return exc
    if isinstance(exc, FileNotFoundError):
        return SourceError("no such file or directory", path=url)
    if isinstance(exc, PermissionError):
        return SourceError(f"permission denied: {_one_line(exc)}", path=url)
    if isinstance(exc, IsADirectoryError):
        return SourceError("is a directory", path=url)
    return SourceError(f"{type(exc).__name__}: {_one_line(exc)}", path=url)


def filesystem(url: str) -> tuple[Any, str]:
    """The fsspec filesystem for *url* and the path within it; a missing package named."""
    proto = protocol_of(url) or "file"
    fsspec = _fsspec()
    try:
        return fsspec.core.url_to_fs(url)  # type: ignore[no-any-return]
    except ImportError as exc:
        package = _PACKAGES.get(proto)
        if package is None:
            from fsspec.registry import known_implementations

            cls = known_implementations.get(proto, {}).get("class", "")
            package = cls.split(".")[0] if cls and not cls.startswith("fsspec.") else None
        hint = f"the {package} package: pip install {package}" if package else f"a package: {_one_line(exc)}"
        raise SourceError(f"reading {proto}:// needs {hint}", path=url) from None
    except ValueError as exc:
        if "Protocol not known" in str(exc):
            raise SourceError(
                f"unknown protocol {proto}:// (fsspec knows s3, gs, az, http(s), file, ...)", path=url
            ) from None
        raise failure(exc, url) from None
    except Exception as exc:  # noqa: BLE001 - credentials, configuration: one line
        raise failure(exc, url) from None


def local_path(url: str) -> str:
    """The local path a ``file://`` URL names (fsspec's reading of it)."""
    from fsspec.implementations.local import LocalFileSystem

    return str(LocalFileSystem._strip_protocol(url))


def _url(fs: Any, path: str, template: str) -> str:
    """*path* (as *fs* lists it) as a URL with the protocol the user wrote."""
    if protocol_of(path) is not None:  # HTTP lists whole URLs
        return path
    proto = protocol_of(template) or "file"
    return f"{proto}://{path}"


def expand(url: str, suffixes: tuple[str, ...], has_magic: bool) -> list[tuple[str, int | None]]:
    """The files *url* names, with their sizes when the listing gives them, sorted.

    A glob pattern stands for its matches, a directory (on HTTP: a URL ending in ``/``, or
    an HTML page: a server's listing) for its log files (*suffixes*), anything else for itself.  A name
    that matches nothing, and a directory without log files, raise :class:`SourceError`.
    """
    fs, path = filesystem(url)
    try:
        if has_magic:
            found = fs.glob(path, detail=True)
            files = sorted(
                (_url(fs, name, url), info.get("size"))
                for name, info in found.items()
                if info.get("type") != _DIRECTORY
            )
            if not files:
                raise SourceError("no file matches this pattern", path=url)
            return files
        info: dict[str, Any] | None = None
        if not url.endswith("/"):
            info = fs.info(path)
        # an HTTP "file" that is an HTML page is a server's listing of a directory
        if info is not None and info.get("type") != _DIRECTORY and info.get("mimetype") != "text/html":
            return [(url, info.get("size"))]
        entries = fs.ls(path, detail=True)
    except SourceError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise failure(exc, url) from None
    files = sorted(
        (_url(fs, e["name"], url), e.get("size"))
        for e in entries
        if e.get("type") != _DIRECTORY and str(e["name"]).rstrip("/").endswith(suffixes)
    )
    if files:
        return files
    wanted = "no log files (" + ", ".join("*" + x for x in suffixes) + ")"
    if not entries:
        raise SourceError(f"{wanted}: the directory is empty", path=url)
    shown = ", ".join(str(e["name"]).rstrip("/").rsplit("/", 1)[-1] for e in entries[:5])
    more = ", ..." if len(entries) > 5 else ""
    raise SourceError(
        f"{wanted} among its {len(entries)} entr{'y' if len(entries) == 1 else 'ies'}: {shown}{more}", path=url
    )


def size_of(url: str) -> int | None:
    """The size of the file at *url*, or None when the server does not say."""
    fs, path = filesystem(url)
    try:
        size = fs.size(path)
    except Exception as exc:  # noqa: BLE001
        raise failure(exc, url) from None
    return None if size is None else int(size)


class _Remote(io.RawIOBase):
    """A remote file read forward, its errors made :class:`SourceError`, with a pushed-back head."""

    #: (for :func:`~jobstream.io.sources.consumed`: ``tell`` is the bytes read from the remote file)
    remote = True

    def __init__(self, url: str, fh: Any, head: bytes = b"") -> None:
        self._url = url
        self._fh = fh
        self._head = head
        self._pos = 0  # bytes handed out

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if self._head:
            cut = len(self._head) if size is None or size < 0 else size
            data, self._head = self._head[:cut], self._head[cut:]
        else:
            try:
                data = self._fh.read(size if size is not None and size >= 0 else -1)
            except Exception as exc:  # noqa: BLE001 - a network or service error mid-read
                raise failure(exc, self._url) from None
        self._pos += len(data)
        return bytes(data)

    read1 = read

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        try:
            self._fh.close()
        except Exception:  # noqa: BLE001 - closing a response cannot lose data
            pass
        super().close()


def open_url(url: str, head_bytes: int, start: int = 0) -> tuple[BinaryIO, bytes]:
    """Open the file at *url* for reading forward from *start*; returns it with its first
    *head_bytes* (still to be read from it).  From the start, HTTP is streamed in one
    request; a range (*start* > 0) needs a server that answers range requests."""
    fs, path = filesystem(url)
    try:
        kwargs: dict[str, Any] = {}
        if start == 0 and protocol_of(url) in ("http", "https"):
            kwargs["block_size"] = 0  # one streamed GET, no range requests
        fh = fs.open(path, "rb", **kwargs)
        if start:
            fh.seek(start)
        head = fh.read(head_bytes)
    except Exception as exc:  # noqa: BLE001
        raise failure(exc, url) from None
    return _Remote(url, fh, head), bytes(head)  # type: ignore[return-value]


def read_at(url: str, start: int, length: int) -> bytes:
    """*length* bytes of the file at *url* from *start* (fewer at its end)."""
    fs, path = filesystem(url)
    try:
        return bytes(fs.cat_file(path, start=start, end=start + length))
    except Exception as exc:  # noqa: BLE001
        raise failure(exc, url) from None
