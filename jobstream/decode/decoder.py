"""Decode: lines into snapshots (msgspec Structs); bad lines into :class:`Reject` records.

One :class:`SnapshotDecoder` holds every msgspec decoder it needs, built once:

* the **fast path** decodes a whole chunk with one decoder in a tight loop; clean input
  pays nothing for fault isolation;
* when anything in a chunk fails, the chunk is redone **line by line**: a cheap probe
  tells what each line is (a job in snake_case or camelCase, with or without ``job_type``,
  or a list page) and the one decoder that fits gives the snapshot or the reason it is bad.

The fast path adapts to the input: after a camelCase line it tries the camelCase decoder
first, so a file written by the TypeScript SDK stays on the fast path too.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import Any, Literal, TypeVar

import msgspec
import orjson

from ..errors import LineError
from ..io.framing import DEFAULT_MAX_LINE_BYTES, OVERSIZED_PREFIX, Chunk, OversizedLine, is_blank
from . import models as m

__all__ = ["Reject", "SnapshotDecoder", "LineError", "decode_line", "Snapshot", "Model"]

Model = Literal["full", "view", "lean"]
#: What a decoder gives for one job: the full schema's job (``model="full"``, legacy FT as a
#: CompletionJob, a job type from the future as an OtherJob), or a projection (``"view"``, ``"lean"``).
#: A camelCase line gives the camelCase twin, a subclass of the same class.
Snapshot = m.ClassifierJob | m.CompletionJob | m.OtherJob | m.JobView | m.JobLean


class Reject(msgspec.Struct, kw_only=True, gc=False, tag_field="kind", tag="line"):
    """A line that was not accepted: where it was, why, and its bytes.

    (``kind`` tells it from a :class:`~jobstream.run.reader.SourceFailure` when rejects cross
    processes; the NDJSON ``--errors`` records do not carry it.)"""

    source: str
    line: int
    offset: int
    error: str
    raw: bytes

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.error}"

    def to_json(self) -> bytes:
        """The NDJSON record ``--errors`` writes: raw bytes as text (invalid UTF-8 escaped)."""
        return orjson.dumps(
            {
                "source": self.source,
                "line": self.line,
                "offset": self.offset,
                "error": self.error,
                "raw": self.raw.decode("utf-8", "backslashreplace"),
            }
        )


# --------------------------------------------------------------------------- dec hooks


def _inner_error(exc: msgspec.ValidationError) -> str:
    # "Expected `str | null`, got `int` - at `$.project`" -> "... at `.project`": the outer
    # path is appended by msgspec when the hook re-raises.
    return str(exc).replace(" - at `$", " - at `")


def _open_union(known: Any, unknown: type, default_tag: str | None) -> Callable[[Any], Any]:
    tag = known.__struct_config__.tag

    def convert(obj: Any) -> Any:
        if not isinstance(obj, dict):
            raise TypeError(f"Expected `object`, got `{type(obj).__name__}`")
        kind = obj.get("type", default_tag)
        if kind != tag:
            return unknown(obj)
        try:
            return msgspec.convert(obj, known)
        except msgspec.ValidationError as exc:
            raise ValueError(_inner_error(exc)) from None

    return convert


_HOOKS: dict[Any, Callable[[Any], Any]] = {
    # SDK dumps lose an integration's `type`: an untyped integration is a wandb one.
    m.Integration: _open_union(m.WandbIntegration, m.UnknownIntegration, "wandb"),
    m._CamelIntegration: _open_union(m.WandbIntegrationCamel, m.UnknownIntegration, "wandb"),
    m.Repository: _open_union(m.GithubRepository, m.UnknownRepository, None),
    m._CamelRepository: _open_union(m.GithubRepositoryCamel, m.UnknownRepository, None),
}


def _dec_hook(tp: Any, obj: Any) -> Any:
    hook = _HOOKS.get(tp)
    if hook is None:
        raise NotImplementedError(f"no decoder for {tp!r}")
    return hook(obj)


def _enc_hook(obj: Any) -> Any:
    if isinstance(obj, dict):
        return dict(obj)
    raise NotImplementedError(f"cannot encode {type(obj).__name__}")


# --------------------------------------------------------------------------- probe


class _Probe(msgspec.Struct, gc=False):
    """What a line is, read cheaply: only presence of a few keys."""

    object: Any = None
    data: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    id: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    created_at: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    modified_at: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    createdAt: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    modifiedAt: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    job_type: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    jobType: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    classifier_targets: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    classifierTargets: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET


_probe = msgspec.json.Decoder(_Probe)
_NULL = b"null"


def _present(raw: msgspec.Raw | msgspec.UnsetType) -> bool:
    return raw is not msgspec.UNSET and bytes(raw) != _NULL


def _is_camel(p: _Probe) -> bool:
    if p.created_at is not msgspec.UNSET or p.modified_at is not msgspec.UNSET:
        return False
    return p.createdAt is not msgspec.UNSET or p.modifiedAt is not msgspec.UNSET or p.jobType is not msgspec.UNSET


# --------------------------------------------------------------------------- integral floats

_FLOAT_TYPE_ERROR = re.compile(r"Expected `[^`]*int[^`]*`, got `float`")


def _integralize(obj: Any) -> Any:
    """Integral floats (``1717000000.0``) to ints, everywhere in a decoded JSON value.

    Iterative, so a deeply nested value cannot exhaust the Python stack.
    """
    if isinstance(obj, float):
        return int(obj) if obj.is_integer() else obj
    if not isinstance(obj, (dict, list)):
        return obj
    todo: list[Any] = [obj]
    while todo:
        node = todo.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for k, v in list(items):
            if isinstance(v, float):
                if v.is_integer():
                    node[k] = int(v)
            elif isinstance(v, (dict, list)):
                todo.append(v)
    return obj


# --------------------------------------------------------------------------- nesting depth

# msgspec guards its recursion with the interpreter's recursion limit (1000 by default),
# counted from wherever the decoder is called.  A job object nests 4 levels, so only
# garbage comes near the bound; such a line is a reject, never a RecursionError.  (The
# bound is the interpreter's: a line within a few levels of it may fare differently at
# different call depths.  Making it exact would mean moving the process-wide limit around
# every decode, which msgspec's own bookkeeping does not survive on every error path.)

_T = TypeVar("_T")


def _bounded(decode: Callable[[Any], _T], data: Any) -> _T:
    """``decode(data)``, with a line nested too deeply for msgspec a :class:`LineError`."""
    try:
        return decode(data)
    except RecursionError:
        raise LineError(f"JSON is nested too deeply (about {sys.getrecursionlimit()} levels or more)") from None


# --------------------------------------------------------------------------- the decoder


def _strip_cr(line: bytes) -> bytes:
    """A line's bytes without the ``\\r`` of a CRLF ending (and no more)."""
    return line[:-1] if line.endswith(b"\r") else line


def _valid_utf8(data: bytes, start: int = 0, end: int | None = None) -> bool:
    """Whether ``data[start:end]`` is UTF-8: msgspec does not check inside fields it skips."""
    if data.isascii():  # the whole buffer: a superset, and the common case
        return True
    try:
        str(memoryview(data)[start:end], "utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _scan(data: bytes, start: int, end: int, max_line_bytes: int) -> tuple[int, bool]:
    """Count the lines of ``data[start:end]``, and tell whether each is one ``{...}`` object.

    One ``find`` (memchr) per line.  *framed* is True when every newline sits between ``}``
    (or ``}\\r``) and ``{``, the window starts with ``{`` and ends with ``}``, and no line
    is over *max_line_bytes*: then a JSON value cannot span two lines, and a line cannot be
    blank.
    """
    find = data.find
    lines = 0
    framed = end > start and data[start] == 123  # "{"
    pos = start
    while True:
        nl = find(b"\n", pos, end)
        if nl < 0:
            break
        lines += 1
        if framed and (
            nl - pos > max_line_bytes
            or (data[nl - 1] != 125 and not (data[nl - 1] == 13 and data[nl - 2] == 125))  # "}" or "}\r"
            or (nl + 1 < end and data[nl + 1] != 123)
        ):
            framed = False
        pos = nl + 1
    if pos < end:  # a last line without its newline
        lines += 1
        framed = framed and end - pos <= max_line_bytes and data[end - 1] == 125
    return lines, framed


def _describe(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return f"invalid UTF-8 at byte {exc.start}"
    text = str(exc)
    if text.startswith("Input data was truncated"):
        return "JSON is malformed: truncated (line ends inside a value)"
    return text


class SnapshotDecoder:
    """Decodes NDJSON lines into snapshots of one model family.

    ``model="full"`` gives the complete schema (:class:`~jobstream.decode.models.ClassifierJob` /
    :class:`~jobstream.decode.models.CompletionJob`); ``model="view"`` the lean
    :class:`~jobstream.decode.models.JobView` the reducer reads, which is faster to decode.
    Reuse one instance: it holds the msgspec decoders.
    """

    def __init__(self, model: Model = "full", *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
        if model not in ("full", "view", "lean"):
            raise ValueError(f"model must be 'full', 'view' or 'lean', not {model!r}")
        self.model = model
        self.max_line_bytes = max_line_bytes
        #: chunks decoded whole by the fast path, and line by line
        self.fast_chunks = 0
        self.slow_chunks = 0

        def dec(tp: Any) -> msgspec.json.Decoder[Snapshot]:
            return msgspec.json.Decoder(tp, dec_hook=_dec_hook)

        #: decoders for a job type this version does not know (the views read any type)
        self._other: tuple[msgspec.json.Decoder[Snapshot], msgspec.json.Decoder[Snapshot]] | None = None
        if model == "full":
            self._tagged = (dec(m.JobUnion), dec(m.JobUnionCamel))
            self._other = (dec(m.OtherJob), dec(m.OtherJobCamel))
            self._untagged = (
                (dec(m._UntaggedCompletionJob), dec(m._UntaggedCompletionJobCamel)),
                (dec(m._UntaggedClassifierJob), dec(m._UntaggedClassifierJobCamel)),
            )
        else:
            view = (dec(m.JobView), dec(m.JobViewCamel)) if model == "view" else (dec(m.JobLean), dec(m.JobLeanCamel))
            self._tagged = view
            self._untagged = (view, view)
        # the decoder the fast path tries first: snake_case, or camelCase after a camel line
        self._fast = self._tagged[0].decode
        self._fast_lines = self._tagged[0].decode_lines
        self._skip_fast = 0  # chunks left to go line by line after one that failed whole

    # -- single lines --------------------------------------------------------------

    def decode_object(self, raw: bytes) -> Snapshot:
        """Decode one JSON object (a job) into a snapshot; raise :class:`LineError`."""
        return self._decode_job(raw, self._probe(raw))

    @staticmethod
    def _probe(raw: bytes) -> _Probe:
        try:
            probe: _Probe = _bounded(_probe.decode, raw)
        except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as exc:
            raise LineError(_describe(exc)) from None
        return probe

    def _pick(self, probe: _Probe) -> tuple[msgspec.json.Decoder[Snapshot], bool]:
        """The one decoder that fits the line: key style, and the stated (or inferred) job type."""
        camel = _is_camel(probe)
        stated = probe.jobType if camel else probe.job_type
        if stated is msgspec.UNSET or bytes(stated) == _NULL:
            # no job type stated (``null`` is the SDKs' way of saying so): inferred
            targets = probe.classifierTargets if camel else probe.classifier_targets
            return self._untagged[_present(targets)][camel], camel
        if self._other is not None and bytes(stated)[:1] == b'"':
            try:
                name = msgspec.json.decode(stated)
            except msgspec.DecodeError:
                name = None
            if isinstance(name, str) and name not in m.KNOWN_JOB_TYPES:
                return self._other[camel], camel  # a job type from the future: kept
        return self._tagged[camel], camel

    def _decode_job(self, raw: bytes, probe: _Probe) -> Snapshot:
        decoder, camel = self._pick(probe)
        try:
            snap = _bounded(decoder.decode, raw)
        except msgspec.ValidationError as exc:
            if not _FLOAT_TYPE_ERROR.search(str(exc)):
                raise LineError(_describe(exc)) from None
            # Integral floats where the schema says int: parse untyped (big ints stay exact),
            # make them ints, and decode the re-encoded line with the same decoder, so errors
            # keep their paths and undecoded fields (``msgspec.Raw``) work as on any line.
            try:
                fixed = msgspec.json.encode(_integralize(_bounded(msgspec.json.decode, raw)))
                snap = _bounded(decoder.decode, fixed)
            except (msgspec.ValidationError, msgspec.DecodeError, TypeError, ValueError, OverflowError) as exc2:
                raise LineError(_describe(exc2)) from None
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            raise LineError(_describe(exc)) from None
        if self._fast is not self._tagged[camel].decode:
            self._fast = self._tagged[camel].decode
            self._fast_lines = self._tagged[camel].decode_lines
        return snap

    def decode_line(self, line: bytes) -> list[Snapshot]:
        """Decode one line: a job gives one snapshot, a list page each of its jobs.

        Raises :class:`LineError` with the reason when the line is bad.
        """
        if len(line) > self.max_line_bytes:
            raise LineError(f"line is {len(line)} bytes, over the {self.max_line_bytes}-byte limit")
        if not line.isascii():
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise LineError(_describe(exc)) from None
        probe = self._probe(line)
        if probe.object == "list" and probe.data is not msgspec.UNSET and probe.id is msgspec.UNSET:
            return self._decode_page(line)
        return [self._decode_job(line, probe)]

    def _decode_page(self, line: bytes) -> list[Snapshot]:
        try:
            items = _bounded(_page.decode, line).data
        except msgspec.ValidationError as exc:
            raise LineError(_describe(exc)) from None
        out: list[Snapshot] = []
        for i, item in enumerate(items):
            try:
                out.append(self.decode_object(bytes(item)))
            except LineError as exc:
                msg = str(exc).replace(" - at `$", f" - at `$.data[{i}]")
                if msg == str(exc):
                    msg = f"{exc} - at `$.data[{i}]`"
                raise LineError(msg) from None
        return out

    # -- chunks ----------------------------------------------------------------------

    def decode_chunk(
        self, chunk: Chunk, first_line: int, rejects: list[Reject]
    ) -> tuple[list[Snapshot], int, int, int]:
        """Decode every line of *chunk*, whose first line has the number *first_line*.

        Returns ``(snapshots, lines, accepted, blank)``: the snapshots in line order, the
        number of lines in the chunk (every newline, blank lines too), and how many of them
        were accepted and blank; the others are appended to *rejects*, in line order.

        The fast path decodes the whole chunk in one msgspec ``decode_lines`` call, with no
        line objects made.  It is taken only when the result provably equals decoding line
        by line: the chunk is valid UTF-8, every line is one ``{...}`` object (a newline
        only ever between ``}`` and ``{``, which no JSON value can hold inside it), no line
        is over the limit, and ``decode_lines`` returns one object per line.  Anything else
        goes line by line, where each line gets its own verdict and reason.
        """
        data, start, end = chunk.data, chunk.start, chunk.end
        lines, framed = _scan(data, start, end, self.max_line_bytes)
        if framed and _valid_utf8(data, start, end):
            if self._skip_fast:
                self._skip_fast -= 1
            else:
                try:
                    objs = self._fast_lines(memoryview(data)[start:end])
                except Exception:  # noqa: BLE001 - any failure: the lines say why, one by one
                    objs = None
                if objs is not None and len(objs) == lines:
                    self.fast_chunks += 1
                    return objs, lines, lines, 0
                self._skip_fast = 2  # a messy stretch: try whole chunks again a little later
        self.slow_chunks += 1
        return self._by_line(chunk, first_line, rejects)

    def _by_line(self, chunk: Chunk, first_line: int, rejects: list[Reject]) -> tuple[list[Snapshot], int, int, int]:
        """Line by line, in time linear in the lines: the snapshot decoder over the lines in one
        C loop (the common case), and a line it fails on done on its own, for its verdict and
        reason, before the loop goes on with the next line."""
        lines = chunk.tobytes().split(b"\n")
        if lines[-1] == b"":
            lines.pop()
        out: list[Snapshot] = []
        if not lines:
            return out, 0, 0, 0
        accepted = blank = 0
        fast = self._fast if _valid_utf8(chunk.data, chunk.start, chunk.end) else None
        if fast is not None and max(map(len, lines)) > self.max_line_bytes:
            fast = None  # a line over the limit: every line gets the checks of the slow path
        it = iter(lines)
        done = 0  # lines handled so far
        offset, offset_at = chunk.offset, 0  # the byte offset of line offset_at
        while done < len(lines):
            if fast is not None:
                before = len(out)
                try:
                    out.extend(map(fast, it))  # list.extend keeps what came before a failure
                except Exception:  # noqa: BLE001 - any failure: the line says why, alone
                    failed = True
                else:
                    failed = False
                got = len(out) - before
                accepted += got
                done += got
                if not failed:
                    break
                where = done  # the line the loop failed on (consumed from *it*)
            else:
                where = done
                next(it)
            line = lines[where]
            if is_blank(line):
                blank += 1
            else:
                try:
                    out.extend(self.decode_line(line))
                    accepted += 1
                except LineError as exc:
                    offset += sum(map(len, lines[offset_at:where])) + (where - offset_at)
                    offset_at = where
                    rejects.append(
                        Reject(
                            source=chunk.source,
                            line=first_line + where,
                            offset=offset,
                            error=str(exc),
                            raw=self._raw(line),
                        )
                    )
            done = where + 1
            if fast is not None:
                fast = self._fast  # a camelCase line switches it
        return out, len(lines), accepted, blank

    def _raw(self, line: bytes) -> bytes:
        """What a reject keeps of its line: all of it, or an oversized line's first bytes."""
        return line[:OVERSIZED_PREFIX] if len(line) > self.max_line_bytes else _strip_cr(line)

    def reject_oversized(self, frame: OversizedLine, line: int) -> Reject:
        return Reject(
            source=frame.source,
            line=line,
            offset=frame.offset,
            error=f"line is {frame.length} bytes, over the {self.max_line_bytes}-byte limit",
            raw=frame.prefix,
        )


class _PageRaw(msgspec.Struct, gc=False):
    data: list[msgspec.Raw]


_page = msgspec.json.Decoder(_PageRaw)

_default_decoder: SnapshotDecoder | None = None


def decode_line(line: bytes) -> list[Snapshot]:
    """Decode one NDJSON line with the full schema (convenience; raises :class:`LineError`)."""
    global _default_decoder
    if _default_decoder is None:
        _default_decoder = SnapshotDecoder("full")
    return _default_decoder.decode_line(line)


def encode(snapshot: Snapshot) -> bytes:
    """Encode a snapshot back to JSON (in the key style it was decoded from)."""
    return msgspec.json.encode(snapshot, enc_hook=_enc_hook)
