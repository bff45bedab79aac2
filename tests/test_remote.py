"""Remote paths through fsspec, against real servers on 127.0.0.1: HTTP serving a directory,
and moto's S3 server.  jobstream's own code is never mocked."""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import servers
import zstandard
from helpers import one_line_error, run_jobstream

import jobstream
from jobstream.errors import SourceError
from jobstream.generate import generate
from jobstream.io.sources import Source, expand_sources


def messy_log(jobs: int, seed: int) -> bytes:
    lines = list(generate(jobs, seed=seed))
    lines.insert(3, b'{"id": "broken", "status": 1}')
    lines.insert(7, b"")
    lines.insert(11, b"{not json")
    return b"\xef\xbb\xbf" + b"\r\n".join(lines[:20]) + b"\r\n" + b"\n".join(lines[20:])  # BOM, CRLF, no final newline


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding logs/ (plain, zstd, gzip and a non-log) as both servers serve it."""
    root = tmp_path_factory.mktemp("site")
    logs = root / "logs"
    logs.mkdir()
    (logs / "a.ndjson").write_bytes(messy_log(12, 1))
    (logs / "b.ndjson.zst").write_bytes(zstandard.ZstdCompressor().compress(messy_log(8, 2)))
    (logs / "c.jsonl.gz").write_bytes(gzip.compress(messy_log(6, 3), mtime=0))
    (logs / "notes.txt").write_bytes(b"not a log\n")
    return root


@pytest.fixture(scope="module")
def http(site: Path) -> Iterator[str]:
    yield from servers.http_server(str(site))


@pytest.fixture(scope="module")
def s3(site: Path) -> Iterator[dict[str, str]]:
    """moto's S3 server with bucket ``jobs`` holding logs/; the environment that reaches it."""
    import boto3
    import fsspec

    for endpoint in servers.s3_server():
        env = dict(servers.S3_ENV, FSSPEC_S3_ENDPOINT_URL=endpoint)
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        fsspec.config.conf.setdefault("s3", {})["endpoint_url"] = endpoint  # fsspec read its env at import
        try:
            client = boto3.client("s3", endpoint_url=endpoint)
            client.create_bucket(Bucket="jobs")
            for f in sorted((site / "logs").iterdir()):
                client.put_object(Bucket="jobs", Key=f"logs/{f.name}", Body=f.read_bytes())
            yield env
        finally:
            fsspec.config.conf["s3"].pop("endpoint_url", None)
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def renamed(errors: bytes, url: str, local: str) -> list[dict[str, Any]]:
    """--errors records with the remote prefix swapped for the local directory."""
    out = []
    for line in errors.splitlines():
        rec = json.loads(line)
        rec["source"] = rec["source"].replace(url, local)
        out.append(rec)
    return out


class TestHttp:
    @pytest.mark.parametrize("cmd", [["summary"], ["jobs", "-f", "csv"], ["events"], ["validate"]])
    def test_a_directory_url_reads_like_the_local_directory(
        self, site: Path, http: str, tmp_path: Path, cmd: list[str]
    ) -> None:
        local = run_jobstream(*cmd, site / "logs", "--errors", tmp_path / "local.ndjson", timeout=120)
        remote = run_jobstream(*cmd, f"{http}/logs/", "--errors", tmp_path / "remote.ndjson", timeout=120)
        assert remote.returncode == local.returncode == (1 if cmd == ["validate"] else 0)
        assert remote.stdout == local.stdout
        assert (
            remote.stdout
            if cmd != ["validate"]
            # validate reports on stderr: PATH:LINE: reason
            else (remote.stderr.replace(f"{http}/logs".encode(), str(site / "logs").encode()) == local.stderr)
        )
        got = renamed((tmp_path / "remote.ndjson").read_bytes(), f"{http}/logs", str(site / "logs"))
        want = [json.loads(x) for x in (tmp_path / "local.ndjson").read_bytes().splitlines()]
        assert got == want and len(want) == 6  # two bad lines in each of the three logs
        assert b"Traceback" not in remote.stderr

    def test_rejects_name_the_url_at_their_true_line_and_offset(self, site: Path, http: str) -> None:
        rejects: list[Any] = []
        jobstream.fold_paths(f"{http}/logs/a.ndjson", on_reject=rejects.append)
        data = (site / "logs" / "a.ndjson").read_bytes()
        assert [r.source for r in rejects] == [f"{http}/logs/a.ndjson"] * 2
        assert [r.line for r in rejects] == [4, 12]
        for r in rejects:
            assert data[r.offset : r.offset + len(r.raw)] == r.raw

    def test_globs_and_listings_expand_sorted_to_log_files(self, http: str) -> None:
        names = [s.name for s in expand_sources(f"{http}/logs/")]
        assert names == [f"{http}/logs/{n}" for n in ("a.ndjson", "b.ndjson.zst", "c.jsonl.gz")]
        assert [s.name for s in expand_sources(f"{http}/logs")] == names  # the server's listing page
        assert [s.name for s in expand_sources(f"{http}/logs/*.ndjson*")] == names[:2]
        assert Source(names[0]).size() == len(messy_log(12, 1))
        assert Source(names[0]).is_remote and not Source("logs/a.ndjson").is_remote

    def test_a_missing_url_is_a_one_line_error_naming_it(self, http: str) -> None:
        proc = run_jobstream("summary", f"{http}/logs/missing.ndjson", timeout=120)
        assert proc.returncode == 1 and "missing.ndjson" in one_line_error(proc)
        proc = run_jobstream("summary", f"{http}/logs/*.nothing", timeout=120)
        assert proc.returncode == 1 and "no file matches" in one_line_error(proc)

    def test_tail_refuses_a_url_it_cannot_follow(self, http: str) -> None:
        proc = run_jobstream("tail", f"{http}/logs/a.ndjson", timeout=120)
        assert proc.returncode == 2 and b"cannot be followed" in proc.stderr and b"Traceback" not in proc.stderr


class TestS3:
    @pytest.mark.parametrize("cmd", [["summary"], ["events", "-f", "csv"], ["validate"]])
    def test_a_bucket_prefix_reads_like_the_local_directory(
        self, site: Path, s3: dict[str, str], tmp_path: Path, cmd: list[str]
    ) -> None:
        local = run_jobstream(*cmd, site / "logs", "--errors", tmp_path / "local.ndjson", timeout=120)
        remote = run_jobstream(
            *cmd, "s3://jobs/logs/", "--errors", tmp_path / "remote.ndjson", env=dict(os.environ, **s3), timeout=120
        )
        assert remote.returncode == local.returncode, remote.stderr
        assert remote.stdout == local.stdout
        assert (
            remote.stdout
            if cmd != ["validate"]
            else (remote.stderr.replace(b"s3://jobs/logs", str(site / "logs").encode()) == local.stderr)
        )
        got = renamed((tmp_path / "remote.ndjson").read_bytes(), "s3://jobs/logs", str(site / "logs"))
        assert got == [json.loads(x) for x in (tmp_path / "local.ndjson").read_bytes().splitlines()]

    def test_glob_and_library_calls(self, site: Path, s3: dict[str, str]) -> None:
        sources = expand_sources("s3://jobs/logs/*.ndjson*")
        assert [s.name for s in sources] == ["s3://jobs/logs/a.ndjson", "s3://jobs/logs/b.ndjson.zst"]
        assert [s.size() for s in sources] == [(site / "logs" / n).stat().st_size for n in ("a.ndjson", "b.ndjson.zst")]
        remote = jobstream.fold_paths("s3://jobs/logs/")
        local = jobstream.fold_paths(site / "logs")
        assert remote.table == local.table and remote.stats == local.stats

    def test_a_missing_key_is_a_one_line_error(self, s3: dict[str, str]) -> None:
        proc = run_jobstream("jobs", "s3://jobs/logs/nope.ndjson", env=dict(os.environ, **s3), timeout=120)
        assert proc.returncode == 1 and "s3://jobs/logs/nope.ndjson" in one_line_error(proc)
        with pytest.raises(SourceError, match="no such file"):
            expand_sources("s3://jobs/elsewhere/x.ndjson")


class TestProtocols:
    @pytest.mark.parametrize(
        "url, package",
        [("gs://bucket/logs/", "gcsfs"), ("az://container/x.ndjson", "adlfs"), ("abfs://container/x.ndjson", "adlfs")],
    )
    def test_a_missing_protocol_package_is_one_line_naming_it(self, url: str, package: str) -> None:
        if importlib.util.find_spec(package) is not None:
            pytest.skip(f"{package} is installed here")
        proc = run_jobstream("summary", url, timeout=120)
        line = one_line_error(proc)
        assert proc.returncode == 1 and url in line and f"pip install {package}" in line

    def test_an_unknown_protocol_is_one_line(self) -> None:
        proc = run_jobstream("events", "nope://x/y.ndjson", timeout=120)
        assert proc.returncode == 1 and "unknown protocol nope://" in one_line_error(proc)

    def test_file_urls_are_local_paths_with_globs(self, site: Path) -> None:
        url = (site / "logs").as_uri()
        assert expand_sources(url) == expand_sources(site / "logs")
        assert expand_sources(url + "/*.ndjson") == [Source(str(site / "logs" / "a.ndjson"))]
        assert jobstream.fold_paths(url).table == jobstream.fold_paths(site / "logs").table

    def test_fsspec_is_imported_only_for_a_url(self, site: Path, http: str) -> None:
        code = (
            "import sys, jobstream, jobstream.cli\n"
            "jobstream.fold_paths(sys.argv[1])\n"
            "print('fsspec' in sys.modules, 'dask' in sys.modules)\n"
            "jobstream.fold_paths(sys.argv[2])\n"
            "print('fsspec' in sys.modules)\n"
        )
        proc = subprocess.run(
            [sys.executable, "-c", code, str(site / "logs"), f"{http}/logs/a.ndjson"], capture_output=True, timeout=60
        )
        assert proc.stdout.split() == [b"False", b"False", b"True"], proc.stderr
