"""The ``jobstream`` command line: help and docs, each command's output, inputs, ``-o``,
``--errors``, ``--strict``, ``--max-line-bytes`` and the columnar, Prometheus and report outputs.

CliRunner for every command and format; each output is parsed back and checked against the
library's answer for the same input.  Real subprocesses cover what CliRunner cannot: piped
stdin, ``| head``, gzip on stdin, terminals and exit codes of the real program.  Elsewhere:
filters in test_filters.py, times in test_times.py, ``generate`` in test_generate.py, ``tail``
in test_tail.py; signals, pipes and terminals in depth in test_program.py.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from helpers import (
    ALL_JOB_FIELDS,
    DEFAULT_JOB_FIELDS,
    EVENT_FIELDS,
    EXAMPLE_LOG,
    FORMATS,
    ISO_RE,
    ROOT,
    T0,
    expected_rows,
    invoke,
    no_traceback,
    on_pty,
    one_line_error,
    parse,
    parse_table,
    plain,
    poll,
    run_jobstream,
    summary_data,
    summary_of,
    table_of,
    to_iso,
    write_generated,
)

import jobstream
import jobstream.cli as cli_module
import jobstream.cli.options as cli_options
from jobstream.cli import cli
from jobstream.reduce.reducer import JobTable
from jobstream.reduce.summary import GROUP_KEYS


@pytest.fixture(scope="module")
def big_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Big enough (over 8 MiB, ~90 kB of events) to fill a pipe and earn a progress bar."""
    return write_generated(tmp_path_factory.mktemp("big") / "big.ndjson", 120, seed=5)


@pytest.fixture(scope="module")
def gz_log(small_log: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("gz") / "small.ndjson.gz"
    path.write_bytes(gzip.compress(small_log.read_bytes(), mtime=0))
    return path


@pytest.fixture(scope="module")
def corrupt_gz(gz_log: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("corrupt") / "truncated.ndjson.gz"
    path.write_bytes(gz_log.read_bytes()[:5000])
    return path


BAD_LINES = {  # line number -> bytes; a blank line sits at 5 and shifts nothing
    3: b'{"bad": 1}',
    6: b"not json",
    9: b'\xff\xfe{"id": ',
}


@pytest.fixture(scope="module")
def dirty_log(small_log: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[dict[str, Any]]]:
    """A log with bad lines at known line numbers, its clean twin, and the rejects expected."""
    good = small_log.read_bytes().splitlines()[:14]
    lines: list[bytes] = []
    expected = []
    offset = 0
    for lineno in range(1, 19):
        if lineno in BAD_LINES:
            line = BAD_LINES[lineno]
            expected.append({"line": lineno, "offset": offset, "raw": line.decode("utf-8", "backslashreplace")})
        elif lineno == 5:
            line = b""
        else:
            line = good.pop(0)
        lines.append(line)
        offset += len(line) + 1
    folder = tmp_path_factory.mktemp("dirty")
    dirty, clean = folder / "dirty.ndjson", folder / "clean.ndjson"
    dirty.write_bytes(b"\n".join(lines) + b"\n")
    clean.write_bytes(b"\n".join(line for i, line in enumerate(lines, 1) if i not in BAD_LINES) + b"\n")
    for e in expected:
        e["source"] = str(dirty)
    return dirty, clean, expected


# --------------------------------------------------------------------------- help and docs


class TestHelpAndDocs:
    @pytest.mark.parametrize("name", sorted(cli.commands))
    def test_every_command_has_help_with_an_example(self, name: str) -> None:
        result = invoke(name, "--help")
        assert result.exit_code == 0
        assert "Example" in result.stdout
        assert f"jobstream {name}" in result.stdout
        assert result.stderr == ""

    def test_every_command_appears_in_readme(self) -> None:
        readme = ROOT / "README.md"
        assert readme.is_file(), "README.md is missing at the repository root"
        text = readme.read_text(encoding="utf-8")
        missing = [name for name in sorted(cli.commands) if f"`jobstream {name}`" not in text]
        assert not missing, f"README.md does not list: {', '.join(f'`jobstream {n}`' for n in missing)}"

    def test_group_help_lists_every_command_with_examples(self) -> None:
        result = invoke("--help")
        assert result.exit_code == 0
        assert "Examples" in result.stdout
        for name in cli.commands:
            assert name in result.stdout

    def test_cli_reference_is_up_to_date_with_every_commands_help(self) -> None:
        from jobstream.cli import docs

        reference = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
        assert reference == docs.render(), "docs/cli.md is out of date: python -m jobstream.cli.docs > docs/cli.md"
        names = sorted(cli.commands)
        assert docs.command_names() == names
        for name in [None, *names]:
            args = ["--help"] if name is None else [name, "--help"]
            real = CliRunner().invoke(cli, args, prog_name="jobstream", terminal_width=docs.WIDTH)
            assert real.exit_code == 0
            heading = "## jobstream" if name is None else f"## jobstream {name}"
            assert f"\n{heading}\n\n```text\n{real.stdout}```\n" in reference, name

    def test_cli_reference_matches_the_program_on_a_wide_terminal(self) -> None:
        from jobstream.cli import docs

        env = dict(os.environ, COLUMNS="120")
        proc = run_jobstream("tail", "--help", env=env, timeout=30)
        assert proc.returncode == 0
        assert proc.stdout.decode() == docs.help_text("tail") + "\n"

    @pytest.mark.parametrize(
        "shell, marker",
        [
            ("bash", "complete -o nosort -F _jobstream_completion jobstream"),
            ("zsh", "#compdef jobstream"),
            ("fish", "complete --no-files --command jobstream"),
        ],
    )
    def test_shell_completion_script_is_produced(self, shell: str, marker: str) -> None:
        env = dict(os.environ, _JOBSTREAM_COMPLETE=f"{shell}_source")
        proc = run_jobstream(env=env, timeout=30)
        assert proc.returncode == 0 and proc.stderr == b""
        assert marker in proc.stdout.decode()
        readme = (ROOT / "README.md").read_text(encoding="utf-8")
        assert f"_JOBSTREAM_COMPLETE={shell}_source jobstream" in readme

    def test_bash_completion_completes_commands_and_option_values(self) -> None:
        def complete(words: str, cword: int) -> list[str]:
            env = dict(os.environ, _JOBSTREAM_COMPLETE="bash_complete", COMP_WORDS=words, COMP_CWORD=str(cword))
            proc = run_jobstream(env=env, timeout=30)
            assert proc.returncode == 0
            return [line.split(",", 1)[1] for line in proc.stdout.decode().splitlines()]

        assert complete("jobstream su", 1) == ["summary"]
        assert complete("jobstream summary --color ", 3) == ["auto", "always", "never"]
        assert complete("jobstream summary --by ", 3) == list(GROUP_KEYS)

    def test_version_prints_the_package_version(self) -> None:
        result = invoke("--version")
        assert result.exit_code == 0
        assert result.stdout.strip() == f"jobstream, version {jobstream.__version__}"


# --------------------------------------------------------------------------- summary


class TestSummary:
    @pytest.mark.parametrize("fmt", ["json", "ndjson"])
    def test_machine_formats_match_library(self, small_log: Path, fmt: str) -> None:
        result = invoke("summary", small_log, "-f", fmt)
        assert result.exit_code == 0
        assert result.stderr == ""
        if fmt == "ndjson":
            assert len(result.stdout.splitlines()) == 1
        assert json.loads(result.stdout) == summary_of(small_log)

    def test_default_format_off_a_terminal_is_json(self, small_log: Path) -> None:
        result = invoke("summary", small_log)
        assert json.loads(result.stdout) == json.loads(invoke("summary", small_log, "-f", "json").stdout)

    def test_json_has_the_documented_keys(self, small_log: Path, table: JobTable) -> None:
        data = json.loads(invoke("summary", small_log, "-f", "json").stdout)
        assert {"snapshots", "rejected", "jobs", "by_status", "by_job_type", "by_model"} <= set(data)
        assert data["jobs"] == len(table.jobs())
        assert data["rejected"] == 0
        assert sum(data["by_status"].values()) == data["jobs"]

    def test_snapshots_counts_job_objects_read_as_a_user_reads_it(self, realworld_dir: Path, tmp_path: Path) -> None:
        # a real 32-line poll log of one job: 32 snapshots (3 distinct observations)
        data = json.loads(invoke("summary", realworld_dir / "cookbook_synthetic_data_poll.ndjson", "-f", "json").stdout)
        assert (data["jobs"], data["snapshots"], data["lines"], data["observations"]) == (1, 32, 32, 3)
        # a list page holds one snapshot per element
        jobs = [json.loads(x) for x in (realworld_dir / "cookbook_ft_api_list.ndjson").read_bytes().splitlines()]
        page = tmp_path / "page.ndjson"
        page.write_bytes(orjson.dumps({"object": "list", "total": 32, "data": jobs}) + b"\n")
        data = json.loads(invoke("summary", page, "-f", "json").stdout)
        assert (data["snapshots"], data["lines"]) == (32, 1)

    def test_readme_sample_figures_are_what_summary_prints(self) -> None:
        readme = (ROOT / "README.md").read_text()
        found = re.search(r"\((\d+) snapshots of (\d+) jobs\)", readme)
        assert found, "the README names the sample's size"
        data = json.loads(invoke("summary", EXAMPLE_LOG, "-f", "json").stdout)
        assert (data["snapshots"], data["jobs"]) == (int(found.group(1)), int(found.group(2)))

    def test_csv_is_a_tidy_table_holding_every_figure_of_the_json(self, small_log: Path) -> None:
        result = invoke("summary", small_log, "--by", "model", "-f", "csv")
        assert result.exit_code == 0
        rows = list(csv.DictReader(io.StringIO(result.stdout)))
        assert set(rows[0]) == {"group", "figure", "key", "value"}
        data = json.loads(invoke("summary", small_log, "--by", "model", "-f", "json").stdout)

        def rebuilt(group: str) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for r in rows:
                if r["group"] != group:
                    continue
                value = None if r["value"] == "" else float(r["value"])
                if r["key"]:
                    out.setdefault(r["figure"], {})[r["key"]] = value
                else:
                    out[r["figure"]] = value
            return out

        def numeric(d: dict[str, Any]) -> dict[str, Any]:
            return {
                k: numeric(v) if isinstance(v, dict) else (None if v is None else float(v))
                for k, v in d.items()
                if k not in ("groups", "group_by")
            }

        assert rebuilt("(all)") == numeric(data)  # max, count, cost, by_status: nothing left out
        for key, group in data["groups"].items():
            assert rebuilt(key) == numeric(group)

    def test_csv_no_headers_omits_the_header_row(self, small_log: Path) -> None:
        with_head = invoke("summary", small_log, "--by", "day", "-f", "csv").stdout.splitlines()
        without = invoke("summary", small_log, "--by", "day", "-f", "csv", "--no-headers").stdout.splitlines()
        assert with_head[0] == "group,figure,key,value"
        assert without == with_head[1:]

    def test_table_reports_counts_rate_and_lines(self, small_log: Path) -> None:
        result = invoke("summary", small_log, "-f", "table")
        assert result.exit_code == 0
        out = result.stdout
        res = jobstream.fold_paths([small_log])
        s, st = res.table.summary(), res.stats
        assert re.search(rf"^jobs\s+{s.jobs}$", out, re.M)
        assert re.search(rf"^snapshots\s+{st.snapshots} read in {st.lines} line\(s\) \(0 rejected\)$", out, re.M)
        assert re.search(rf"^observations\s+{s.observations}$", out, re.M)
        for counts in (s.by_status, s.by_job_type, s.by_model):
            for key, n in counts.items():
                assert re.search(rf"^  {re.escape(key)}\s+{n}  [█▏▎▍▌▋▊▉]+$", out, re.M), key  # with its bar
        assert s.success_rate is not None
        assert f"{s.success_rate * 100:.1f}% ({s.succeeded} of {s.finished} finished)" in out
        assert f"{s.trained_tokens:,}" in out

    @pytest.mark.parametrize("by", GROUP_KEYS)
    def test_by_gives_the_figures_per_group(self, small_log: Path, table: JobTable, by: str) -> None:
        result = invoke("summary", small_log, "--by", by, "-f", "json")
        assert result.exit_code == 0
        data = json.loads(result.stdout)
        lib = table.summary(by=by)
        assert data["group_by"] == by
        per_group = {k: summary_data(g) for k, g in lib.groups.items()}  # no read counts per group
        assert data["groups"] == per_group
        assert sum(g["jobs"] for g in data["groups"].values()) == data["jobs"]

    def test_by_model_csv_has_the_jobs_of_each_model(self, small_log: Path, table: JobTable) -> None:
        rows = list(csv.DictReader(io.StringIO(invoke("summary", small_log, "--by", "model", "-f", "csv").stdout)))
        lib = table.summary(by="model")
        jobs = {r["group"]: int(r["value"]) for r in rows if r["figure"] == "jobs"}
        assert jobs == {"(all)": lib.jobs, **{k: g.jobs for k, g in lib.groups.items()}}

    def test_by_table_is_one_row_per_group_and_a_total(self, small_log: Path, table: JobTable) -> None:
        out = invoke("summary", small_log, "--by", "status", "-f", "table").stdout.splitlines()
        lib = table.summary(by="status")
        assert out[0].split()[:3] == ["STATUS", "JOBS", "FINISHED"]
        body = out[1:-1]  # the last line says what was read
        assert [line.split()[0] for line in body] == [*lib.groups, "(total)"]
        assert [int(line.split()[1]) for line in body] == [g.jobs for g in lib.groups.values()] + [lib.jobs]
        no_head = invoke("summary", small_log, "--by", "status", "-f", "table", "--no-headers").stdout.splitlines()
        assert [line.split() for line in no_head] == [line.split() for line in out[1:]]

    def test_by_rejects_unknown_key(self, small_log: Path) -> None:
        result = invoke("summary", small_log, "--by", "colour")
        assert result.exit_code == 2
        assert "--by" in result.stderr

    def test_filters_restrict_the_jobs_counted(self, small_log: Path, table: JobTable) -> None:
        data = json.loads(invoke("summary", small_log, "--status", "success", "-f", "json").stdout)
        kept = [j for j in table.jobs() if j.status == "SUCCESS"]
        stats = jobstream.fold_paths([small_log]).stats
        assert data == summary_data(table.summary(jobs=kept), stats)
        assert data["by_status"] == {"SUCCESS": len(kept)}

    def test_realworld_fixtures_match_library(self, realworld_dir: Path) -> None:
        data = json.loads(invoke("summary", realworld_dir, "-f", "json").stdout)
        assert data == summary_of(realworld_dir)
        assert (data["jobs"], data["lines"], data["rejected"]) == (41, 90, 0)  # SOURCES.md totals

    def test_camel_case_fixtures_read_like_snake_case(self, realworld_dir: Path) -> None:
        result = invoke("summary", realworld_dir / "camel", "-f", "json")
        assert result.exit_code == 0
        data = json.loads(result.stdout)
        assert data["rejected"] == 0
        assert data["jobs"] > 0

    # regression: adversarial review of #13 and #10 (failed on main at dbff749 as its docstring says)
    @pytest.mark.parametrize("fmt", ["json", "ndjson", "parquet"])
    def test_summary_survives_trained_token_totals_beyond_64_bits(self, tmp_path: Path, fmt: str) -> None:
        """Each line's trained_tokens is within the documented 64-bit bound, but their total is not:
        orjson raises "Integer exceeds 64-bit range" (a traceback from the default `summary -f json`)
        and pyarrow OverflowError for parquet.  Every output must survive any accepted value."""
        path = tmp_path / "tokens.ndjson"
        path.write_bytes(b"".join(poll(f"t{i}", "SUCCESS", T0 + 1, trained_tokens=2**63 - 1) for i in range(3)))
        args: list[Any] = ["summary", path, "-f", fmt]
        if fmt == "parquet":
            args += ["--by", "model", "-o", tmp_path / "out.parquet"]
        proc = run_jobstream(*args)
        no_traceback(proc)
        assert proc.returncode == 0


# --------------------------------------------------------------------------- jobs


class TestJobs:
    @pytest.mark.parametrize("fmt", FORMATS)
    def test_each_format_matches_library(self, small_log: Path, table: JobTable, fmt: str) -> None:
        result = invoke("jobs", small_log, "-f", fmt)
        assert result.exit_code == 0
        assert result.stderr == ""
        assert parse(fmt, result.stdout) == expected_rows(table.jobs(), DEFAULT_JOB_FIELDS, fmt)

    @pytest.mark.parametrize("fmt", FORMATS)
    def test_fields_all_gives_every_column(self, small_log: Path, table: JobTable, fmt: str) -> None:
        rows = parse(fmt, invoke("jobs", small_log, "--fields", "all", "-f", fmt).stdout)
        assert list(rows[0]) == ALL_JOB_FIELDS
        assert rows == expected_rows(table.jobs(), ALL_JOB_FIELDS, fmt)

    def test_fields_picks_columns_in_the_order_given(self, small_log: Path, table: JobTable) -> None:
        fields = ["status", "id", "observations", "queue_wait"]
        rows = parse("ndjson", invoke("jobs", small_log, "--fields", " status, id,observations,queue_wait").stdout)
        assert [list(r) for r in rows] == [fields] * len(rows)
        assert rows == expected_rows(table.jobs(), fields, "ndjson")

    def test_unknown_field_is_a_usage_error(self, small_log: Path) -> None:
        result = invoke("jobs", small_log, "--fields", "id,colour")
        assert result.exit_code == 2
        assert result.stdout == ""
        assert "colour" in result.stderr and "--fields" in result.stderr

    def test_default_format_off_a_terminal_is_ndjson(self, small_log: Path) -> None:
        assert invoke("jobs", small_log).stdout == invoke("jobs", small_log, "-f", "ndjson").stdout

    def test_rows_are_ordered_by_creation_time_then_id(self, small_log: Path) -> None:
        rows = parse("ndjson", invoke("jobs", small_log).stdout)
        keys = [(r["created_at"], r["id"]) for r in rows]
        assert keys == sorted(keys)
        assert len({r["id"] for r in rows}) == len(rows)

    def test_table_times_are_iso_utc(self, small_log: Path) -> None:
        rows = parse_table(invoke("jobs", small_log, "-f", "table", "--fields", "id,created_at,modified_at").stdout)
        assert all(ISO_RE.match(r["created_at"]) and ISO_RE.match(r["modified_at"]) for r in rows)

    @pytest.mark.parametrize("fmt", ["json", "ndjson", "csv"])
    def test_iso_gives_iso_times_in_machine_formats(self, small_log: Path, table: JobTable, fmt: str) -> None:
        result = invoke("jobs", small_log, "--fields", "all", "--iso", "-f", fmt)
        rows = parse(fmt, result.stdout)
        assert rows == expected_rows(table.jobs(), ALL_JOB_FIELDS, fmt, iso=True)
        assert all(ISO_RE.match(r["created_at"]) for r in rows)

    def test_machine_formats_give_unix_seconds(self, small_log: Path) -> None:
        rows = parse("json", invoke("jobs", small_log, "-f", "json").stdout)
        assert all(isinstance(r["created_at"], int) for r in rows)

    @pytest.mark.parametrize("fmt", ["table", "csv"])
    def test_no_headers_omits_the_header_row(self, small_log: Path, table: JobTable, fmt: str) -> None:
        with_head = invoke("jobs", small_log, "-f", fmt, "--fields", "id,status").stdout.splitlines()
        without = invoke("jobs", small_log, "-f", fmt, "--fields", "id,status", "--no-headers").stdout.splitlines()
        assert len(with_head) == len(table.jobs()) + 1
        assert len(without) == len(table.jobs())
        assert without[0].split(",")[0].split()[0] == table.jobs()[0].id

    def test_empty_selection_gives_an_empty_array(self, small_log: Path) -> None:
        result = invoke("jobs", small_log, "--job", "no-such-job", "-f", "json")
        assert result.exit_code == 0
        assert json.loads(result.stdout) == []

    def test_fields_with_no_names_is_a_usage_error(self, tmp_path: Path) -> None:
        """Found by an adversarial review: ``--fields ' , '`` (no names) is a usage error, not an empty selection."""
        res = CliRunner().invoke(
            cli_module.cli, ["jobs", str(write_generated(tmp_path / "in.ndjson", 5, seed=2)), "--fields", " , "]
        )
        assert res.exit_code == 2


# --------------------------------------------------------------------------- events


class TestEvents:
    @pytest.mark.parametrize("fmt", FORMATS)
    def test_each_format_matches_library(self, small_log: Path, table: JobTable, fmt: str) -> None:
        result = invoke("events", small_log, "-f", fmt)
        assert result.exit_code == 0
        assert result.stderr == ""
        assert parse(fmt, result.stdout) == expected_rows(table.events(), EVENT_FIELDS, fmt)

    def test_rows_have_the_documented_columns(self, small_log: Path) -> None:
        rows = parse("ndjson", invoke("events", small_log).stdout)
        assert {tuple(r) for r in rows} == {tuple(EVENT_FIELDS)}
        assert list(csv.reader(io.StringIO(invoke("events", small_log, "-f", "csv").stdout)))[0] == EVENT_FIELDS

    def test_rows_are_sorted_by_time_then_job_id(self, small_log: Path) -> None:
        rows = parse("json", invoke("events", small_log, "-f", "json").stdout)
        keys = [(r["at"], r["job_id"]) for r in rows]
        assert keys == sorted(keys)

    def test_each_job_starts_from_no_status(self, small_log: Path) -> None:
        rows = parse("ndjson", invoke("events", small_log).stdout)
        first: dict[str, dict[str, Any]] = {}
        for r in rows:
            first.setdefault(r["job_id"], r)
        assert all(r["from_status"] is None for r in first.values())
        assert all(r["from_status"] != r["to_status"] for r in rows)

    @pytest.mark.parametrize("fmt", ["json", "ndjson", "csv"])
    def test_iso_gives_iso_times_in_machine_formats(self, small_log: Path, table: JobTable, fmt: str) -> None:
        rows = parse(fmt, invoke("events", small_log, "--iso", "-f", fmt).stdout)
        assert rows == expected_rows(table.events(), EVENT_FIELDS, fmt, iso=True)

    def test_table_times_are_iso_utc_even_without_iso_flag(self, small_log: Path, table: JobTable) -> None:
        plain = invoke("events", small_log, "-f", "table").stdout
        assert plain == invoke("events", small_log, "-f", "table", "--iso").stdout
        assert [r["at"] for r in parse_table(plain)] == [to_iso(c.at) for c in table.events()]


# --------------------------------------------------------------------------- -o/--output


class TestOutputFile:
    def test_output_writes_the_file_and_nothing_to_stdout(
        self, small_log: Path, table: JobTable, tmp_path: Path
    ) -> None:
        out = tmp_path / "jobs.csv"
        result = invoke("jobs", small_log, "-f", "csv", "-o", out)
        assert result.exit_code == 0
        assert result.stdout == ""
        assert parse("csv", out.read_text()) == expected_rows(table.jobs(), DEFAULT_JOB_FIELDS, "csv")

    def test_output_defaults_to_a_machine_format(self, small_log: Path, tmp_path: Path) -> None:
        out = tmp_path / "summary.json"
        invoke("summary", small_log, "-o", out)
        assert json.loads(out.read_text()) == summary_of(small_log)

    def test_output_replaces_an_existing_file_and_leaves_no_temp_file(self, small_log: Path, tmp_path: Path) -> None:
        out = tmp_path / "events.ndjson"
        out.write_text("old contents\n")
        out.chmod(0o640)
        result = invoke("events", small_log, "-o", out)
        assert result.exit_code == 0
        assert out.read_text() == invoke("events", small_log).stdout
        assert sorted(p.name for p in tmp_path.iterdir()) == ["events.ndjson"]
        assert stat.S_IMODE(out.stat().st_mode) == 0o640

    def test_new_output_file_gets_the_usual_permissions(self, small_log: Path, tmp_path: Path) -> None:
        old = os.umask(0o022)
        try:
            invoke("jobs", small_log, "-o", tmp_path / "jobs.ndjson")
        finally:
            os.umask(old)
        assert stat.S_IMODE((tmp_path / "jobs.ndjson").stat().st_mode) == 0o644

    @pytest.mark.parametrize("how", ["file", "directory", "glob"])
    def test_output_refuses_to_overwrite_an_input(self, small_log: Path, tmp_path: Path, how: str) -> None:
        log = tmp_path / "in.ndjson"
        shutil.copy(small_log, log)
        before = log.read_bytes()
        arg = {"file": log, "directory": tmp_path, "glob": tmp_path / "*.ndjson"}[how]
        result = invoke("jobs", arg, "-o", log)
        assert result.exit_code == 1
        assert "refusing to overwrite input file" in one_line_error(result.stderr)
        assert log.read_bytes() == before
        assert [p.name for p in tmp_path.iterdir()] == ["in.ndjson"]

    def test_errors_file_refuses_to_overwrite_an_input(self, small_log: Path, tmp_path: Path) -> None:
        log = tmp_path / "in.ndjson"
        shutil.copy(small_log, log)
        before = log.read_bytes()
        for command in ("summary", "validate"):
            result = invoke(command, log, "--errors", log)
            assert result.exit_code == 1
            assert "refusing to overwrite input file" in one_line_error(result.stderr)
            assert log.read_bytes() == before

    def test_errors_file_inside_an_input_directory_is_not_read_back(self, dirty_log: Any, tmp_path: Path) -> None:
        dirty, _, expected = dirty_log
        shutil.copy(dirty, tmp_path / "dirty.ndjson")
        result = invoke("summary", tmp_path, "--errors", tmp_path / "rejects.ndjson", "-f", "json")
        assert result.exit_code == 0
        assert json.loads(result.stdout)["rejected"] == len(expected)

    def test_missing_output_directory_is_a_one_line_error(self, small_log: Path, tmp_path: Path) -> None:
        result = invoke("jobs", small_log, "-o", tmp_path / "nope" / "jobs.csv")
        assert result.exit_code == 1
        line = one_line_error(result.stderr)
        assert "nope" in line and ".tmp" not in line

    def test_dash_output_means_stdout(self, small_log: Path) -> None:
        assert invoke("events", small_log, "-o", "-").stdout == invoke("events", small_log).stdout

    @pytest.mark.parametrize("args", [["events", "--errors", "{p}"], ["events", "-", "-o", "{p}"]])
    def test_a_file_redirected_into_stdin_is_never_overwritten(self, tmp_path: Path, args: list[str]) -> None:
        """Found by an adversarial review: a file redirected into stdin is an input: ``-o`` or
        ``--errors`` naming it is refused."""
        p = write_generated(tmp_path / "in.ndjson", 5, seed=2)
        before = p.read_bytes()
        with open(p, "rb") as stdin:
            proc = run_jobstream(*[a.format(p=p) for a in args], stdin=stdin)
        assert proc.returncode == 1 and b"refusing to overwrite input file" in proc.stderr
        assert p.read_bytes() == before

    def test_output_into_a_fifo_writes_into_it(self, tmp_path: Path) -> None:
        """Found by an adversarial review: ``-o`` naming a FIFO writes into it (never replaces it with a file)."""
        p = write_generated(tmp_path / "in.ndjson", 5, seed=2)
        fifo = tmp_path / "fifo"
        os.mkfifo(fifo)
        reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
        res = CliRunner().invoke(cli_module.cli, ["events", str(p), "-o", str(fifo), "-f", "ndjson"])
        out, _ = reader.communicate(timeout=30)
        assert res.exit_code == 0 and stat.S_ISFIFO(os.stat(fifo).st_mode)
        assert len(out.splitlines()) == len(jobstream.fold_paths([p]).table.events())

    # regression: adversarial review of #13 and #10 (failed on main at dbff749 as its docstring says)
    def test_output_to_a_symlink_writes_through_it_and_keeps_the_link(self, tmp_path: Path) -> None:
        """`-o link.json` where link.json -> real.json: main replaces the *link* with a regular file
        (os.replace on the link's own path) and leaves real.json stale.  With `-o /dev/stdout` and
        stdout redirected to a file, the same code path replaced the system's /dev/stdout symlink
        with a regular file (run as root).  Only the harmless tmp_path variant is tested here."""
        real = tmp_path / "real.json"
        real.write_text("old\n")
        link = tmp_path / "link.json"
        link.symlink_to(real)
        proc = run_jobstream("summary", EXAMPLE_LOG, "-o", link)
        no_traceback(proc)
        assert proc.returncode == 0
        assert link.is_symlink(), "the symlink was replaced by a regular file"
        assert json.loads(real.read_text())["jobs"] == 10


# --------------------------------------------------------------------------- rejects


class TestRejects:
    def test_errors_file_records_each_rejected_line(self, dirty_log: Any, tmp_path: Path) -> None:
        dirty, _, expected = dirty_log
        errors = tmp_path / "rejects.ndjson"
        result = invoke("events", dirty, "--errors", errors)
        assert result.exit_code == 0
        records = [json.loads(line) for line in errors.read_text().splitlines()]
        assert [list(r) for r in records] == [["source", "line", "offset", "error", "raw"]] * len(expected)
        assert [{k: r[k] for k in ("source", "line", "offset", "raw")} for r in records] == expected
        assert all(r["error"] for r in records)
        assert dirty.read_bytes()[records[1]["offset"] :].startswith(BAD_LINES[6])
        assert f"written to {errors}" in result.stderr

    def test_a_one_line_note_on_stderr_when_lines_are_rejected(self, dirty_log: Any) -> None:
        dirty, _, expected = dirty_log
        result = invoke("summary", dirty, "-f", "json")
        assert result.exit_code == 0
        assert len(result.stderr.splitlines()) == 1
        assert f"{len(expected)} line(s) rejected" in result.stderr
        assert f"{dirty}:3:" in result.stderr
        assert json.loads(result.stdout)["rejected"] == len(expected)

    def test_no_note_when_every_line_is_accepted(self, small_log: Path) -> None:
        assert invoke("events", small_log).stderr == ""

    def test_rejected_lines_do_not_change_the_answer(self, dirty_log: Any) -> None:
        dirty, clean, _ = dirty_log
        assert invoke("jobs", dirty, "--fields", "all").stdout == invoke("jobs", clean, "--fields", "all").stdout
        assert invoke("events", dirty).stdout == invoke("events", clean).stdout

    @pytest.mark.parametrize("command", ["summary", "jobs", "events"])
    def test_strict_stops_at_the_first_reject_with_exit_1(self, dirty_log: Any, command: str) -> None:
        dirty, _, _ = dirty_log
        result = invoke(command, dirty, "--strict")
        assert result.exit_code == 1
        assert result.stdout == ""
        assert one_line_error(result.stderr).startswith(f"Error: {dirty}:3: ")

    def test_strict_with_clean_input_succeeds(self, dirty_log: Any) -> None:
        _, clean, _ = dirty_log
        result = invoke("summary", clean, "--strict", "-f", "json")
        assert result.exit_code == 0
        assert result.stderr == ""

    def test_errors_dash_is_a_usage_error(self, tmp_path: Path) -> None:
        """Found by an adversarial review: ``--errors -`` is a usage error, not a file named ``-``."""
        res = CliRunner().invoke(
            cli_module.cli, ["summary", str(write_generated(tmp_path / "in.ndjson", 5, seed=2)), "--errors", "-"]
        )
        assert res.exit_code == 2 and not (Path.cwd() / "-").exists()


# --------------------------------------------------------------------------- validate


class TestValidate:
    def test_clean_input_exits_0_with_a_count(self, small_log: Path) -> None:
        result = invoke("validate", small_log)
        n = len(small_log.read_bytes().splitlines())
        assert result.exit_code == 0
        assert result.stdout == ""
        assert result.stderr == f"{n} line(s) checked in 1 source(s): {n} accepted, 0 rejected\n"

    def test_bad_lines_exit_1_with_path_line_reason(self, dirty_log: Any) -> None:
        dirty, _, expected = dirty_log
        result = invoke("validate", dirty)
        assert result.exit_code == 1
        assert result.stdout == ""
        lines = result.stderr.splitlines()
        assert len(lines) == len(expected) + 1
        for line, e in zip(lines[:-1], expected, strict=True):
            assert re.match(rf"^{re.escape(str(dirty))}:{e['line']}: \S", line), line
        assert lines[-1].endswith(f"{len(expected)} rejected")

    def test_quiet_prints_only_the_count(self, dirty_log: Any) -> None:
        dirty, _, expected = dirty_log
        result = invoke("validate", dirty, "--quiet")
        assert result.exit_code == 1
        assert len(result.stderr.splitlines()) == 1
        assert f"{len(expected)} rejected" in result.stderr

    def test_errors_file_holds_the_rejects(self, dirty_log: Any, tmp_path: Path) -> None:
        dirty, _, expected = dirty_log
        errors = tmp_path / "rejects.ndjson"
        assert invoke("validate", dirty, "-q", "--errors", errors).exit_code == 1
        assert [json.loads(line)["line"] for line in errors.read_text().splitlines()] == [e["line"] for e in expected]

    def test_realworld_fixtures_are_valid(self, realworld_dir: Path) -> None:
        result = invoke("validate", realworld_dir, realworld_dir / "camel")
        assert result.exit_code == 0, result.stderr
        assert result.stderr.endswith(" 0 rejected\n")

    def test_stdin_is_validated(self, dirty_log: Any) -> None:
        dirty, _, expected = dirty_log
        result = invoke("validate", input=dirty.read_bytes())
        assert result.exit_code == 1
        assert f"{len(expected)} rejected" in result.stderr

    # regression: adversarial review of #13 and #10 (failed on main at dbff749 as its docstring says)
    def test_validate_strict_stops_at_the_first_reject(self, tmp_path: Path) -> None:
        """`validate --strict` is offered ("Stop at the first rejected line, exit 1.") but
        exports.validate never passes read.strict on: every line is still checked and printed."""
        path = tmp_path / "bad.ndjson"
        path.write_bytes(b'{"id":1}\n{"id":2}\n{"id":3}\n')
        proc = run_jobstream("validate", path, "--strict")
        err = no_traceback(proc)
        assert proc.returncode == 1
        assert ":1:" in err and ":2:" not in err and ":3:" not in err, err


# --------------------------------------------------------------------------- inputs (CliRunner)


class TestInputs:
    def test_dash_reads_stdin(self, small_log: Path) -> None:
        result = invoke("events", "-", input=small_log.read_bytes())
        assert result.exit_code == 0
        assert result.stdout == invoke("events", small_log).stdout

    @pytest.mark.parametrize("command", ["summary", "jobs", "events"])
    def test_no_path_with_piped_stdin_reads_stdin(self, small_log: Path, command: str) -> None:
        result = invoke(command, input=small_log.read_bytes())
        assert result.exit_code == 0
        assert result.stdout == invoke(command, small_log).stdout

    @pytest.mark.parametrize("command", ["summary", "jobs", "events", "validate"])
    def test_no_path_on_a_terminal_is_a_usage_hint(self, monkeypatch: pytest.MonkeyPatch, command: str) -> None:
        monkeypatch.setattr(cli_options, "sys_stdin_isatty", lambda: True)
        result = invoke(command)
        assert result.exit_code == 2
        assert result.stdout == ""
        assert "no input" in result.stderr and f"| jobstream {command}" in result.stderr

    def test_directory_reads_its_ndjson_files(self, small_log: Path, tmp_path: Path) -> None:
        lines = small_log.read_bytes().splitlines(keepends=True)
        (tmp_path / "a.ndjson").write_bytes(b"".join(lines[::2]))
        (tmp_path / "b.jsonl.gz").write_bytes(gzip.compress(b"".join(lines[1::2])))
        (tmp_path / "notes.txt").write_text("not a log\n")
        result = invoke("jobs", tmp_path, "--fields", "all")
        assert result.exit_code == 0
        assert result.stderr == ""
        assert result.stdout == invoke("jobs", small_log, "--fields", "all").stdout

    def test_glob_and_several_paths_fold_together(self, small_log: Path, tmp_path: Path) -> None:
        lines = small_log.read_bytes().splitlines(keepends=True)
        half = len(lines) // 2
        (tmp_path / "part1.ndjson").write_bytes(b"".join(lines[:half]))
        (tmp_path / "part2.ndjson").write_bytes(b"".join(lines[half:]))
        whole = invoke("events", small_log).stdout
        assert invoke("events", tmp_path / "part*.ndjson").stdout == whole
        assert invoke("events", tmp_path / "part2.ndjson", tmp_path / "part1.ndjson").stdout == whole

    def test_gzip_file_reads_like_plain(self, small_log: Path, gz_log: Path) -> None:
        result = invoke("events", gz_log)
        assert result.exit_code == 0
        assert result.stdout == invoke("events", small_log).stdout

    def test_missing_file_is_a_one_line_error(self, tmp_path: Path) -> None:
        result = invoke("summary", tmp_path / "missing.ndjson")
        assert result.exit_code == 1
        assert "missing.ndjson" in one_line_error(result.stderr)

    def test_glob_matching_nothing_is_a_one_line_error(self, tmp_path: Path) -> None:
        result = invoke("jobs", tmp_path / "*.ndjson")
        assert result.exit_code == 1
        assert "no file matches" in one_line_error(result.stderr)

    def test_corrupt_gzip_is_a_one_line_error(self, corrupt_gz: Path) -> None:
        result = invoke("events", corrupt_gz)
        assert result.exit_code == 1
        assert str(corrupt_gz) in one_line_error(result.stderr)

    def test_a_corrupt_file_among_others_is_reported_and_the_rest_is_read(
        self, small_log: Path, corrupt_gz: Path, tmp_path: Path
    ) -> None:
        logs = tmp_path / "logs"
        logs.mkdir()
        (logs / "a.ndjson").write_bytes(small_log.read_bytes())
        (logs / "b.ndjson.gz").write_bytes(corrupt_gz.read_bytes())
        errors = tmp_path / "rejects.ndjson"
        result = invoke("summary", logs, "-f", "json", "--errors", errors)
        assert result.exit_code == 1
        assert json.loads(result.stdout)["jobs"] == len(table_of(small_log))  # the good file still counts
        line = one_line_error(result.stderr)
        assert "b.ndjson.gz" in line and "gzip" in line
        (record,) = [json.loads(x) for x in errors.read_text().splitlines()]
        assert record["source"].endswith("b.ndjson.gz") and record["raw"] == "" and "gzip" in record["error"]

    def test_unknown_option_is_a_usage_error(self, small_log: Path) -> None:
        result = invoke("summary", small_log, "--colour")
        assert result.exit_code == 2
        assert result.stdout == ""
        assert "No such option" in result.stderr

    # regression: adversarial review of #13 and #10 (failed on main at dbff749 as its docstring says)
    def test_no_path_and_stdin_from_dev_null_is_not_a_green_empty_run(self) -> None:
        """`jobstream validate $LOGDIR` from cron or CI with LOGDIR unset: no PATH, and stdin is
        /dev/null (not a pipe, not a terminal), so main reads it as an empty log: "0 line(s) checked",
        exit 0.  The sibling of #13 item 12 ("Nothing to read passes green"); README: "With no PATH it
        reads *piped* stdin".  It should be the same usage error as on a terminal."""
        proc = run_jobstream("validate", stdin=subprocess.DEVNULL)
        no_traceback(proc)
        assert proc.returncode != 0, proc.stderr


# --------------------------------------------------------------------------- the real program


class TestProgram:
    def test_piped_stdin_summary_json(self, small_log: Path) -> None:
        proc = subprocess.run(
            f"cat '{small_log}' | '{sys.executable}' -m jobstream summary -f json",
            shell=True,
            capture_output=True,
            timeout=30,
        )
        assert proc.returncode == 0
        assert proc.stderr == b""
        assert json.loads(proc.stdout) == summary_of(small_log)

    def test_gzip_on_stdin_is_detected(self, small_log: Path, gz_log: Path) -> None:
        with gz_log.open("rb") as fh:
            proc = run_jobstream("events", stdin=fh)
        assert proc.returncode == 0
        assert proc.stdout.decode() == invoke("events", small_log).stdout

    def test_gzip_file(self, small_log: Path, gz_log: Path) -> None:
        proc = run_jobstream("jobs", gz_log, "-f", "csv")
        assert proc.returncode == 0
        assert proc.stdout.decode() == invoke("jobs", small_log, "-f", "csv").stdout

    @pytest.mark.parametrize("args", [["events"], ["jobs", "-f", "table", "--fields", "all"]], ids=["events", "jobs"])
    def test_closed_pipe_exits_0_quietly(self, big_log: Path, args: list[str]) -> None:
        producer = subprocess.Popen(
            [sys.executable, "-m", "jobstream", *args, str(big_log)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        head = subprocess.run(["head", "-n", "3"], stdin=producer.stdout, capture_output=True, timeout=30)
        assert producer.stdout is not None and producer.stderr is not None
        producer.stdout.close()
        err = producer.stderr.read()
        producer.stderr.close()
        assert producer.wait(timeout=30) == 0
        assert err == b""
        assert len(head.stdout.splitlines()) == 3

    def test_missing_file_exits_1_with_one_line(self, tmp_path: Path) -> None:
        proc = run_jobstream("summary", tmp_path / "missing.ndjson")
        assert proc.returncode == 1
        assert proc.stdout == b""
        assert "missing.ndjson" in one_line_error(proc.stderr)

    def test_corrupt_gzip_exits_1_with_one_line(self, corrupt_gz: Path) -> None:
        proc = run_jobstream("summary", corrupt_gz)
        assert proc.returncode == 1
        assert "gzip" in one_line_error(proc.stderr)

    def test_corrupt_gzip_on_stdin_exits_1_with_one_line(self, corrupt_gz: Path) -> None:
        with corrupt_gz.open("rb") as fh:
            proc = run_jobstream("events", stdin=fh)
        assert proc.returncode == 1
        assert "<stdin>" in one_line_error(proc.stderr)

    def test_bad_option_exits_2(self, small_log: Path) -> None:
        proc = run_jobstream("events", small_log, "--format", "xml")
        assert proc.returncode == 2
        assert proc.stdout == b""
        assert b"Traceback" not in proc.stderr
        assert b"'xml' is not one of" in proc.stderr

    def test_strict_exits_1_naming_file_and_line(self, dirty_log: Any) -> None:
        dirty, _, _ = dirty_log
        proc = run_jobstream("jobs", dirty, "--strict")
        assert proc.returncode == 1
        assert one_line_error(proc.stderr).startswith(f"Error: {dirty}:3: ")

    def test_validate_exit_codes(self, small_log: Path, dirty_log: Any) -> None:
        assert run_jobstream("validate", small_log).returncode == 0
        proc = run_jobstream("validate", dirty_log[0])
        assert proc.returncode == 1
        assert proc.stderr.decode().startswith(f"{dirty_log[0]}:3: ")

    def test_version(self) -> None:
        proc = run_jobstream("--version")
        assert proc.returncode == 0
        assert jobstream.__version__ in proc.stdout.decode()

    def test_table_is_the_default_on_a_terminal(self, small_log: Path, table: JobTable) -> None:
        code, terminal, err = on_pty(["jobs", small_log, "--fields", "id,status,created_at"], "stdout")
        assert code == 0
        assert err == b""
        shown = plain(terminal.decode().replace("\r\n", "\n"))  # statuses may be coloured on a terminal
        assert parse_table(shown) == expected_rows(table.jobs(), ["id", "status", "created_at"], "table")

    def test_progress_bar_only_when_stderr_is_a_terminal(self, big_log: Path) -> None:
        code, bar, out = on_pty(["summary", big_log, "-f", "json"], "stderr")
        assert code == 0
        assert b"reading" in bar and b"100%" in bar
        assert json.loads(out)["jobs"] == 120
        code, bar, out = on_pty(["summary", big_log, "-f", "json", "--no-progress"], "stderr")
        assert code == 0
        assert bar == b""
        assert json.loads(out)["jobs"] == 120
        proc = run_jobstream("summary", big_log, "-f", "json")
        assert proc.stderr == b""


class TestMaxLineBytes:
    def write(self, tmp_path: Path) -> Path:
        ok = b'{"id":"a","status":"QUEUED","created_at":1,"modified_at":2}'
        long = b'{"id":"' + b"x" * 300 + b'","status":"QUEUED","created_at":1,"modified_at":2}'
        p = tmp_path / "log.ndjson"
        p.write_bytes(ok + b"\n" + long + b"\n")
        return p

    @pytest.mark.parametrize("command", ["summary", "jobs", "events"])
    def test_lines_over_the_limit_are_rejected_by_the_exports(self, tmp_path: Path, command: str) -> None:
        p = self.write(tmp_path)
        errors = tmp_path / "rejects.ndjson"
        res = CliRunner().invoke(
            cli_module.cli, [command, str(p), "--max-line-bytes", "100", "--errors", str(errors), "-f", "json"]
        )
        assert res.exit_code == 0, res.output
        (rej,) = [json.loads(x) for x in errors.read_text().splitlines()]
        assert rej["line"] == 2 and "over the 100-byte limit" in rej["error"]
        default = CliRunner().invoke(cli_module.cli, [command, str(p), "-f", "json"])
        assert default.exit_code == 0 and "rejected" not in default.stderr

    def test_validate_honours_the_limit(self, tmp_path: Path) -> None:
        p = self.write(tmp_path)
        res = CliRunner().invoke(cli_module.cli, ["validate", str(p), "--max-line-bytes", "100"])
        assert res.exit_code == 1 and f"{p}:2: line is" in res.stderr
        assert CliRunner().invoke(cli_module.cli, ["validate", str(p)]).exit_code == 0

    def test_a_non_positive_limit_is_a_usage_error(self, tmp_path: Path) -> None:
        res = CliRunner().invoke(cli_module.cli, ["summary", str(self.write(tmp_path)), "--max-line-bytes", "0"])
        assert res.exit_code == 2


class TestColumnarPromReportCommands:
    """The CLI's side of the outputs: formats, extensions and commands wired to the library."""

    def test_events_and_jobs_parquet_by_extension_match_ndjson(self, small_log: Path, tmp_path: Path) -> None:
        import pyarrow.parquet as pq

        for what in ("events", "jobs"):
            path = tmp_path / f"{what}.parquet"
            assert invoke(what, small_log, "-o", path).exit_code == 0
            got = pq.read_table(path).to_pylist()
            ndjson = parse("ndjson", invoke(what, small_log, "--iso").stdout)
            assert len(got) == len(ndjson) > 0
            key = "job_id" if what == "events" else "id"
            assert [r[key] for r in got] == [r[key] for r in ndjson]

    def test_arrow_ipc_and_feather_extensions(self, small_log: Path, tmp_path: Path) -> None:
        import pyarrow.feather as feather

        for name in ("e.arrow", "e.feather"):
            assert invoke("events", small_log, "-o", tmp_path / name).exit_code == 0
            assert feather.read_table(tmp_path / name).num_rows == len(table_of(small_log).events())

    def test_summary_prom_file_parses_and_matches(self, small_log: Path, tmp_path: Path) -> None:
        from prometheus_client.parser import text_string_to_metric_families

        path = tmp_path / "jobstream.prom"
        assert invoke("summary", small_log, "-o", path).exit_code == 0
        families = {f.name: f for f in text_string_to_metric_families(path.read_text())}
        assert families["jobstream_jobs"].samples[0].value == len(table_of(small_log))

    def test_summary_parquet_needs_by(self, small_log: Path, tmp_path: Path) -> None:
        result = invoke("summary", small_log, "-o", tmp_path / "s.parquet")
        assert result.exit_code == 2 and "--by" in result.stderr
        assert invoke("summary", small_log, "--by", "model", "-o", tmp_path / "s.parquet").exit_code == 0

    def test_checkpoints_rows_are_the_librarys(self, small_log: Path, table: JobTable) -> None:
        rows = parse("ndjson", invoke("checkpoints", small_log).stdout)
        expected = table.checkpoints()
        assert len(rows) == len(expected) > 0
        assert [(r["job_id"], r["step"], r["train_loss"]) for r in rows] == [
            (c.job_id, c.step, c.train_loss) for c in expected
        ]
        csv_rows = list(csv.DictReader(io.StringIO(invoke("checkpoints", small_log, "-f", "csv").stdout)))
        assert list(csv_rows[0]) == [
            "job_id",
            "step",
            "created_at",
            "train_loss",
            "valid_loss",
            "valid_mean_token_accuracy",
        ]

    def test_checkpoints_follow_the_job_filters(self, small_log: Path, table: JobTable) -> None:
        job = next(c.job_id for c in table.checkpoints())
        rows = parse("ndjson", invoke("checkpoints", small_log, "--job", job).stdout)
        assert rows and {r["job_id"] for r in rows} == {job}

    def test_report_html_and_chart_files(self, small_log: Path, tmp_path: Path) -> None:
        html = tmp_path / "report.html"
        result = invoke("report", small_log, "-o", html)
        assert result.exit_code == 0, result.stderr
        text = html.read_text()
        assert (
            text.startswith("<!DOCTYPE html>")
            and "<svg" in text
            and "http://" not in text.replace("http://www.w3.org", "")
        )
        charts = tmp_path / "charts"
        assert invoke("report", small_log, "--format", "svg", "-o", charts).exit_code == 0
        assert sorted(p.suffix for p in charts.iterdir()) and all(p.suffix == ".svg" for p in charts.iterdir())

    def test_report_refuses_to_overwrite_an_input(self, small_log: Path) -> None:
        result = invoke("report", small_log, "-o", small_log)
        assert result.exit_code == 1 and "refusing to overwrite input" in result.stderr
