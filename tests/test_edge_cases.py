"""Edge cases found by review: each once broke an invariant (no line lost, order/chunking independence)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import orjson
import pytest

import jobstream
from jobstream.decode.decoder import LineError, Reject, SnapshotDecoder
from jobstream.io.framing import iter_chunks
from jobstream.reduce.reducer import fold


def line(**fields: Any) -> bytes:
    obj = {"id": "j1", "status": "RUNNING", "job_type": "completion", "created_at": 100, "modified_at": 200}
    obj.update(fields)
    return orjson.dumps(obj)


def outcome(path: Path, **kwargs: Any) -> tuple[Any, ...]:
    rejects: list[Reject] = []
    reader = jobstream.read(path, on_reject=rejects.append, **kwargs)
    snaps = list(reader)
    st = reader.stats
    return (
        sorted(s.id for s in snaps) if not kwargs.get("dedupe") else sorted({s.id for s in snaps}),
        (st.lines, st.accepted, st.rejected, st.blank),
        [(r.line, r.error) for r in rejects],
    )


class TestBigNumbers:
    @pytest.mark.parametrize(
        "raw",
        [
            b'{"id":"j1","status":"RUNNING","job_type":"completion","created_at":100,"modified_at":1e20}',
            b'{"id":"j1","status":"RUNNING","job_type":"completion","created_at":100,"modified_at":1e300}',
            b'{"id":"j1","status":"RUNNING","job_type":"completion","created_at":100,"modified_at":1180591620717411303424}',
            b'{"id":"j1","status":"RUNNING","job_type":"completion","created_at":2.0,"modified_at":1180591620717411303424}',
        ],
    )
    @pytest.mark.parametrize("model", ["full", "view", "lean"])
    def test_numbers_beyond_64_bits_are_rejected_with_their_path(self, raw: bytes, model: str) -> None:
        with pytest.raises(LineError, match=r"\$\.modified_at"):
            SnapshotDecoder(model).decode_line(raw)  # type: ignore[arg-type]

    def test_integral_float_retry_keeps_other_big_ints_exact(self) -> None:
        raw = line(trained_tokens=2.0, metadata={"train_tokens": -9223372036854775808})
        (snap,) = SnapshotDecoder("full").decode_line(raw)
        assert snap.metadata.train_tokens == -9223372036854775808 and snap.trained_tokens == 2

    def test_parallel_fold_survives_a_line_with_a_huge_int(self, tmp_path: Path) -> None:
        p = tmp_path / "log.ndjson"
        huge = line().replace(b'"modified_at":200', b'"modified_at":1180591620717411303424')  # 2**70
        assert huge != line()
        p.write_bytes(b"\n".join([line(id=f"j{i}") for i in range(20)] + [huge]) + b"\n")
        single = jobstream.fold_paths([p], workers=1)
        multi = jobstream.fold_paths([p], workers=2, min_parallel_bytes=1, range_bytes=64)
        assert multi.table == single.table and single.stats.rejected == multi.stats.rejected == 1


class TestKeyStylesAndPages:
    def test_acceptance_does_not_depend_on_the_lines_before(self, tmp_path: Path) -> None:
        camel = orjson.dumps({"id": "c", "status": "RUNNING", "jobType": "completion", "createdAt": 1, "modifiedAt": 2})
        snake = line(id="s")
        mixed = orjson.dumps(
            {"id": "w", "status": "RUNNING", "jobType": "completion", "createdAt": 1, "modifiedAt": 2, "created_at": 1}
        )
        p = tmp_path / "log.ndjson"
        p.write_bytes(b"\n".join([camel, mixed, snake, mixed]) + b"\n")
        expected = (["c", "s"], (4, 2, 2, 0))
        for model in ("full", "view", "lean"):
            got = outcome(p, model=model)
            assert got[:2] == expected and [n for n, _ in got[2]] == [2, 4]

    @pytest.mark.parametrize("block", [8, 1 << 20])
    def test_an_object_with_an_id_is_a_job_even_if_it_says_list(self, tmp_path: Path, block: int) -> None:
        odd = line(id="x", object="list", data=[])
        p = tmp_path / "log.ndjson"
        p.write_bytes(odd + b'\n"\xff"\n')
        ids, counts, rejects = outcome(p, block_size=block, model="view")
        assert ids == ["x"] and counts == (2, 1, 1, 0) and [n for n, _ in rejects] == [2]


class TestParallelBookkeeping:
    def test_same_file_named_twice_keeps_true_line_numbers(self, tmp_path: Path) -> None:
        p = tmp_path / "log.ndjson"
        p.write_bytes(b"\n".join([line(id="a"), b"BAD", line(id="b")] + [line(id=f"c{i}") for i in range(10)]) + b"\n")
        for workers in (1, 2):
            rejects: list[Reject] = []
            jobstream.fold_paths(
                [p, p], workers=workers, on_reject=rejects.append, min_parallel_bytes=1, range_bytes=64
            )
            assert [r.line for r in rejects] == [2, 2]

    def test_a_range_never_reads_past_its_limit_even_mid_bom(self) -> None:
        frames = list(iter_chunks(io.BytesIO(b"\xef\nA\nB\nC\n"), "s", block_size=1, limit=2))
        assert [f.tobytes() for f in frames] == [b"\xef\n"]  # type: ignore[union-attr]


class TestDeterminism:
    def test_signed_zero_does_not_make_the_fold_order_dependent(self) -> None:
        dec = SnapshotDecoder("view")
        (a,) = dec.decode_line(line(metadata={"cost": 0.0, "cost_currency": "USD"}))
        (b,) = dec.decode_line(line(metadata={"cost": -0.0, "cost_currency": "USD"}))
        cost = lambda t: orjson.dumps(t.get("j1").cost)  # noqa: E731
        assert cost(fold([a, b])) == cost(fold([b, a])) == cost(fold([a]).merge(fold([b])))

    @pytest.mark.parametrize("block", [7, 64, 1 << 20])
    def test_oversized_reject_keeps_the_same_prefix_however_it_was_caught(self, tmp_path: Path, block: int) -> None:
        p = tmp_path / "log.ndjson"
        big = b'{"id":"' + b"a" * 300 + b'"}'
        p.write_bytes(line() + b"\n" + big + b"\n" + line(id="j2"))
        rejects: list[Reject] = []
        reader = jobstream.read(p, on_reject=rejects.append, max_line_bytes=100, block_size=block)
        list(reader)
        assert [r.raw for r in rejects] == [big[:256]]
        assert reader.stats.bytes == p.stat().st_size

    def test_only_the_crlf_carriage_return_is_stripped_from_raw(self, tmp_path: Path) -> None:
        p = tmp_path / "log.ndjson"
        p.write_bytes(b"{bad\r\r\n")
        got: list[Reject] = []
        list(jobstream.read(p, on_reject=got.append))
        assert got[0].raw == b"{bad\r"
