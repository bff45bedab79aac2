"""Deterministic generator of a realistic synthetic polling log of fine-tuning jobs.

The log is what a poller writes when it polls every job of an account while the job is
active and appends every response, one JSON object per line: detailed job objects (with
``events`` and ``checkpoints``), now and then the list form (without them), interleaved
across jobs in poll-time order.  The data mimics the real objects in ``tests/fixtures/realworld``
(real API responses and SDK dumps), including their oddities (legacy ``"FT"`` jobs, Python-SDK dumps
without ``job_type``/``object``/``auto_start``, events without ``data``, optional fields
null/absent/empty, metadata with every field null, a re-QUEUED classifier job without a new
event, several status changes in one second, ``valid_mean_token_accuracy`` above 1, SUCCESS
without ``fine_tuned_model``, per-step checkpoints whose validation metrics are 0.0 between
evaluations, ...).

Everything is derived from ``random.Random(seed)``: the same arguments give byte-identical
output.  It needs orjson, and msgspec through the schema's one camelCase rule (decode.models).
"""

from __future__ import annotations

import heapq
import math
import random
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import orjson

from .decode.models import camel_case

__all__ = ["generate", "write_log", "write_log_file", "LOG_START", "LOG_END"]

LOG_START = 1714521600  # 2024-05-01T00:00:00Z, earliest job creation
LOG_END = 1759276799  # 2025-09-30T23:59:59Z, the poller's last poll can be no later

_DOCS_ERA_END = 1718409600  # 2024-06-15: minimal objects (no auto_start/metadata/...)
_NODATA_ERA = (1719792000, 1725148800)  # 2024-07-01 .. 2024-09-01: events without data
_LEGACY_HP_END = 1725148800  # before: FT hyperparameters only steps/lr/epochs/fim_ratio
_DENSE_ERA = 1735689600  # 2025-01-01: per-step checkpoints become possible

# Creation windows per job type: legacy FT jobs are the older ones, classifiers the newest.
_WINDOWS = {
    "FT": (LOG_START, 1738281600),  # .. 2025-01-31
    "completion": (1722470400, 1758931200),  # 2024-08-01 .. 2025-09-27
    "classifier": (1743465600, 1758931200),  # 2025-04-01 .. 2025-09-27
}
_KIND_WEIGHTS = (("completion", 0.55), ("FT", 0.20), ("classifier", 0.25))

# model -> (seconds per training step, price per million train tokens, tokens per step)
_MODELS: dict[str, tuple[float, float, int]] = {
    "open-mistral-7b": (8.0, 2.0, 131072),
    "mistral-small-latest": (13.0, 4.0, 131072),
    "codestral-latest": (15.0, 4.0, 131072),
    "open-mistral-nemo": (10.0, 2.0, 131072),
    "pixtral-12b-latest": (7.5, 2.0, 129528),
    "ministral-8b-latest": (5.0, 1.0, 65536),
    "mistral-large-latest": (30.0, 9.0, 131072),
    "ministral-3b-latest": (2.3, 0.5, 65536),
}
_COMPLETION_MODELS = (
    ("open-mistral-7b", 3),
    ("mistral-small-latest", 4),
    ("codestral-latest", 2),
    ("open-mistral-nemo", 3),
    ("pixtral-12b-latest", 1),
    ("ministral-8b-latest", 2),
)
_FT_MODELS = (
    ("open-mistral-7b", 6),
    ("mistral-small-latest", 3),
    ("codestral-latest", 2),
    ("mistral-large-latest", 1),
    ("open-mistral-nemo", 1),
)
_CLASSIFIER_MODELS = (("ministral-3b-latest", 3), ("ministral-8b-latest", 1))

_STEPS = (
    (10, 3),
    (20, 2),
    (50, 4),
    (63, 1),
    (69, 1),
    (100, 8),
    (150, 3),
    (200, 4),
    (250, 2),
    (300, 1.5),
    (400, 0.7),
    (500, 0.5),
    (800, 0.15),
    (1000, 0.15),
)
_LEARNING_RATES = (0.0001, 0.0001, 0.0001, 5e-05, 4e-05, 7e-05, 2e-05, 1e-05, 0.0002, 3e-05)

_TARGETS = (
    (
        "intent",
        (
            "social_post",
            "email_sendemail",
            "datetime_query",
            "play_music",
            "email_query",
            "news_query",
            "weather_query",
            "calendar_query",
            "general_quirky",
            "qa_factoid",
            "play_radio",
            "calendar_set",
            "qa_definition",
            "calendar_remove",
            "transport_query",
            "cooking_recipe",
        ),
    ),
    ("moderation", ("toxicity", "safe", "identity_attack", "sexual_explicit", "obscene", "insult", "threat")),
    (
        "food",
        (
            "plant-based-foods-and-beverages",
            "meats-and-their-products",
            "sweet-snacks",
            "snacks",
            "dairies",
            "plant-based-foods",
            "cereals-and-potatoes",
            "beverages",
        ),
    ),
    (
        "country_label",
        ("united-states", "italy", "germany", "france", "switzerland", "united-kingdom", "spain", "belgium"),
    ),
    ("sentiment", ("positive", "negative", "neutral", "mixed")),
    ("language", ("en", "fr", "de", "es", "it", "pt", "nl", "pl", "ja", "zh")),
    (
        "topic",
        (
            "billing",
            "technical_issue",
            "account",
            "feature_request",
            "bug_report",
            "onboarding",
            "cancellation",
            "other",
        ),
    ),
    ("priority", ("low", "medium", "high", "urgent")),
)
_PROJECTS = (
    "test_api",
    "intent-classifier",
    "moderation-classifier",
    "product-classifier",
    "ft-experiments",
    "support-bot",
    "docstral",
    "code-assist",
    "ultrachat",
    "economist_style_guide",
    "legal-summaries",
    "mistralai",
    "sql-gen",
)
_RUN_NAMES = (
    "economist_style_guide",
    "rapper",
    "socrates",
    "call_assistant",
    "docstral",
    "ultrachat_",
    "finetuning",
    "sweep",
    "baseline",
    "lr_search",
    "run",
)
_SUFFIXES = ("my-great-model", "support", "v2", "prod", "sql", "legal", "chat-en")
_REPO_NAMES = ("mistral-finetune", "backend", "data-pipelines", "sdk-python", "monorepo", "web-app", "infra")
_OWNERS = ("acme-corp", "mistralai", "jdoe", "octo-labs", "datafoundry")

_TERMINAL = frozenset(("SUCCESS", "FAILED", "FAILED_VALIDATION", "CANCELLED"))


# --------------------------------------------------------------------------- helpers


def _pick(rng: random.Random, weighted: tuple[tuple[Any, float], ...]) -> Any:
    total = sum(w for _, w in weighted)
    x = rng.random() * total
    for value, w in weighted:
        x -= w
        if x < 0:
            return value
    return weighted[-1][0]


def _uuid(rng: random.Random) -> str:
    """A uuid4-formatted id drawn from ``rng``."""
    n = rng.getrandbits(128)
    n = (n & ~(0xF << 76)) | (4 << 76)  # version 4
    n = (n & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    h = f"{n:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _hex(rng: random.Random, digits: int) -> str:
    return f"{rng.getrandbits(4 * digits):0{digits}x}"


def _yyyymmdd(ts: int) -> str:
    return time.strftime("%Y%m%d", time.gmtime(ts))


_CAMEL_CACHE: dict[str, str] = {}


def _camel_key(key: str) -> str:
    """:func:`~jobstream.decode.models.camel_case`, remembered (the generator asks for the same keys often)."""
    out = _CAMEL_CACHE.get(key)
    if out is None:
        out = _CAMEL_CACHE[key] = camel_case(key)
    return out


def _camelize(obj: Any) -> Any:
    """Convert every object key recursively (used for nested values; never for event data)."""
    if isinstance(obj, dict):
        return {_camel_key(k): _camelize(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_camelize(v) for v in obj]
    return obj


def _same(obj: Any) -> Any:
    return obj


# Top-level key orders seen in real responses.
_ORDER_MODERN = (
    "id",
    "auto_start",
    "model",
    "status",
    "created_at",
    "modified_at",
    "training_files",
    "hyperparameters",
    "classifier_targets",
    "validation_files",
    "object",
    "fine_tuned_model",
    "suffix",
    "integrations",
    "trained_tokens",
    "metadata",
    "job_type",
    "repositories",
    "events",
    "checkpoints",
)
_ORDER_LEGACY = (
    "id",
    "auto_start",
    "hyperparameters",
    "model",
    "status",
    "job_type",
    "created_at",
    "modified_at",
    "training_files",
    "validation_files",
    "object",
    "fine_tuned_model",
    "suffix",
    "integrations",
    "trained_tokens",
    "repositories",
    "metadata",
    "events",
    "checkpoints",
)
_ORDER_DOCS = (
    "id",
    "hyperparameters",
    "fine_tuned_model",
    "model",
    "status",
    "job_type",
    "created_at",
    "modified_at",
    "training_files",
    "validation_files",
    "object",
    "integrations",
    "events",
    "checkpoints",
)


class _Burst:
    """What the jobs one user submits together (a sweep) share."""

    def __init__(self, seed: int, kind: str, accounts: list[tuple[str, str]]) -> None:
        rng = random.Random(seed)
        self.account, self.currency = rng.choice(accounts)
        if kind == "classifier":
            self.model = _pick(rng, _CLASSIFIER_MODELS)
        elif kind == "FT":
            self.model = _pick(rng, _FT_MODELS)
        else:
            self.model = _pick(rng, _COMPLETION_MODELS)
        self.training_files = [_uuid(rng) for _ in range(_pick(rng, ((1, 8), (2, 1), (3, 1))))]
        self.validation_file = _uuid(rng)
        self.steps = _pick(rng, _STEPS)
        self.project = rng.choice(_PROJECTS)
        self.run_name = rng.choice(_RUN_NAMES)
        self.wandb = rng.random() < 0.25
        self.data_tokens = int(math.exp(rng.uniform(math.log(1.2e5), math.log(4e7))))
        self.classifier_data_tokens = int(math.exp(rng.uniform(math.log(1e5), math.log(3e6))))
        n_targets = _pick(rng, ((1, 7), (2, 2), (3, 1)))
        self.targets = rng.sample(range(len(_TARGETS)), n_targets)


class _Job:
    """One job: its static fields, its timeline of changes and the times it is polled.

    All times in the plan are relative to the job's creation.
    """

    def __init__(self, seed: int, kind: str, burst: _Burst, nominal_created: int, outcome: str, variant: int) -> None:
        rng = random.Random(seed)
        self.rng = rng
        self.kind = kind
        self.id = _uuid(rng)
        era = nominal_created
        self.docs_era = kind == "FT" and era < _DOCS_ERA_END
        self.legacy_hp = kind == "FT" and era < _LEGACY_HP_END
        self.order = _ORDER_DOCS if self.docs_era else _ORDER_LEGACY if kind == "FT" else _ORDER_MODERN
        self.sdk_dump = rng.random() < 0.03 and not self.docs_era
        in_nodata = _NODATA_ERA[0] <= era < _NODATA_ERA[1]
        self.event_data = not (rng.random() < (0.5 if in_nodata else 0.015))
        self.model = burst.model
        self.account = burst.account
        spd, price, tps = _MODELS[self.model]

        # ---- static fields
        self.auto_start = kind != "classifier" and not (outcome == "never_started" or rng.random() < 0.02)
        self.training_files = list(burst.training_files)
        vf = rng.random()
        if vf < 0.72:
            self.validation_files: Any = [burst.validation_file]
        elif vf < 0.87:
            self.validation_files = []
        elif vf < 0.97:
            self.validation_files = None
        else:
            self.validation_files = ...  # absent
        has_valid = bool(self.validation_files) and self.validation_files is not ...
        steps = burst.steps
        if variant and rng.random() < 0.3:
            steps = _pick(rng, _STEPS)
        lr = rng.choice(_LEARNING_RATES) if variant else 0.0001
        if kind == "classifier":
            lr = rng.choice((4e-05, 5e-05, 7e-05, 0.0001))
        seq_len = rng.choice((16384, 32768, 8192, 32768)) if rng.random() < 0.9 else None
        if kind == "classifier":
            seq_len = 16384
        self.hp_static: dict[str, Any]
        if self.docs_era:
            self.hp_static = {"training_steps": steps, "learning_rate": lr}
        elif self.legacy_hp:
            self.hp_static = {"training_steps": steps, "learning_rate": lr, "epochs": None, "fim_ratio": None}
        else:
            self.hp_static = {
                "training_steps": steps,
                "learning_rate": lr,
                "weight_decay": 0.1 if rng.random() < 0.9 else None,
                "warmup_fraction": 0.05 if rng.random() < 0.9 else None,
                "epochs": None,
                "seq_len": seq_len,
            }
            if kind != "classifier":
                fim = None
                if self.model == "codestral-latest" and rng.random() < 0.5:
                    fim = rng.choice((0.9, 0.5, 0.0))
                self.hp_static["fim_ratio"] = fim

        self.classifier_targets: list[dict[str, Any]] | None = None
        if kind == "classifier":
            n = len(burst.targets)
            targets = []
            for ti in burst.targets:
                name, labels = _TARGETS[ti]
                k = rng.randint(min(3, len(labels)), len(labels))
                targets.append(
                    {
                        "name": name,
                        "labels": list(labels[:k]),
                        "weight": round(1.0 / n, 4) if rng.random() < 0.5 else 1.0,
                        "loss_function": (
                            "multi_class" if name in ("moderation", "topic") and rng.random() < 0.7 else "single_class"
                        ),
                    }
                )
            self.classifier_targets = targets

        r = rng.random()
        self.suffix: Any = None if r < 0.85 else (rng.choice(_SUFFIXES) if r < 0.95 else ...)
        if self.docs_era:
            self.suffix = ...
        self.wandb = burst.wandb or (kind == "FT" and rng.random() < 0.1)
        r = rng.random()
        self.no_integrations: Any = [] if r < 0.86 else (None if r < 0.96 else ...)
        self.wandb_project = burst.project
        r = rng.random()
        self.wandb_run = f"{burst.run_name}_v{variant}" if r < 0.6 else None if r < 0.8 else burst.run_name
        self.wandb_url_final = f"https://wandb.ai/{self.account[:6]}/{burst.project}/runs/{_hex(rng, 8)}"
        self.wandb_url_late = rng.random() < 0.6  # url appears when RUNNING (else never)

        self.repositories: Any = ...
        if kind != "classifier" and not self.docs_era:
            r = rng.random()
            p_repo = 0.35 if self.model == "codestral-latest" else 0.05
            if kind == "completion" and r < p_repo:
                self.repositories = [
                    {
                        "type": "github",
                        "name": rng.choice(_REPO_NAMES),
                        "owner": rng.choice(_OWNERS),
                        "commit_id": _hex(rng, 40),
                        "ref": rng.choice(("main", "main", "dev", None)),
                        "weight": rng.choice((1.0, 1.0, 0.5, 2.0)),
                    }
                ]
            else:
                r = rng.random()
                self.repositories = [] if r < 0.9 else (None if r < 0.96 else ...)

        r = rng.random()
        self.meta_style = (
            "absent"
            if self.docs_era
            else ("normal" if r < 0.88 else "allnull" if r < 0.93 else "null" if r < 0.97 else "absent")
        )
        self.has_auto_start = not self.docs_era and not self.sdk_dump
        self.has_trained_tokens = not self.docs_era
        self.currency = burst.currency

        # ---- training quantities
        self.tps = tps if kind != "FT" or rng.random() < 0.9 else 131072
        self.train_tokens = steps * self.tps
        data_tokens = burst.classifier_data_tokens if kind == "classifier" else burst.data_tokens
        self.data_tokens = int(data_tokens * rng.uniform(0.98, 1.02))
        self.epochs = self.train_tokens / self.data_tokens
        cost = self.train_tokens / 1e6 * price
        self.cost = round(cost, 2) if kind == "classifier" else round(cost, 4)
        sec_per_step = spd * rng.uniform(0.8, 1.25)
        run_est = steps * sec_per_step
        self.expected_duration = max(60, int(round(run_est * rng.uniform(0.8, 1.6) / 10.0)) * 10)
        self.ftm_null = rng.random() < 0.03

        # ---- lifecycle (relative seconds)
        ch: list[tuple[int, tuple[Any, ...]]] = []
        ch.append((0, ("status", "QUEUED", True)))
        t = 0
        terminal_t: int | None = None
        self.active_spans: list[tuple[int, int]] = []  # QUEUED/RUNNING spans, for cutting
        final_status = None

        def cancel_at(tc: int) -> int:
            ch.append((tc, ("status", "CANCELLATION_REQUESTED", True)))
            tz = tc + (0 if rng.random() < 0.2 else rng.randint(1, 90))
            ch.append((tz, ("status", "CANCELLED", True)))
            return tz

        if outcome == "cancelled" and rng.random() < 0.2:
            # cancelled while still waiting in the queue
            tc = rng.randint(0, 3)
            terminal_t = cancel_at(tc)
            final_status = "CANCELLED"
            t = terminal_t
        else:
            if self.docs_era:
                t = rng.randint(1, 5)
                self.active_spans.append((0, t))
                ch.append((t, ("validated",)))
            else:
                tv = 0 if rng.random() < 0.35 else rng.randint(1, 4)
                ch.append((tv, ("status", "VALIDATING", True)))
                self.active_spans.append((0, tv))
                dur = 0 if rng.random() < 0.25 else int(math.exp(rng.uniform(0, math.log(90))))
                t = tv + dur
                if outcome == "failed_validation":
                    ch.append((t, ("status", "FAILED_VALIDATION", True)))
                    terminal_t = t
                    final_status = "FAILED_VALIDATION"
                else:
                    ch.append((t, ("status", "VALIDATED", True)))
                    ch.append((t, ("validated",)))
                    if not self.auto_start:
                        if outcome == "never_started":
                            final_status = "VALIDATED"
                            terminal_t = t  # poller gives up after a while
                        else:
                            quick = rng.random() < 0.5
                            wait = rng.randint(3, 20) if quick else rng.randint(20, 900)
                            t += wait
                            # user starts it: QUEUED again, without a new event
                            ch.append((t, ("status", "QUEUED", False)))
                            ch.append((t, ("est", t + rng.randint(30, 400))))
                            q = rng.randint(2, 180)
                            self.active_spans.append((t, t + q))
                            t += q
                    else:
                        q = 0 if rng.random() < 0.3 else rng.randint(1, 5)
                        if rng.random() < 0.12:  # busy queue
                            q = rng.randint(60, 2400)
                            ch.append((t + 1, ("est", t + q + rng.randint(-60, 120))))
                        t += q
            if final_status is None:
                # RUNNING
                ch.append((t, ("status", "RUNNING", True)))
                ch.append((t, ("est", None)))
                url_delay = rng.randint(5, 40)
                run_start = t
                if outcome == "failed":
                    stop_frac = rng.uniform(0.05, 0.9)
                elif outcome == "cancelled":
                    stop_frac = rng.uniform(0.03, 0.9)
                else:
                    stop_frac = 1.0
                # checkpoints
                dense = era >= _DENSE_ERA and steps <= 100 and rng.random() < 0.25
                if dense:
                    every = 1
                else:
                    n_target = rng.randint(3, 15)
                    every = max(1, int(round(steps / n_target)))
                    if steps % 10 == 0 and every > 1 and every % 10 and steps >= 100:
                        every = max(10, every // 10 * 10)
                ck_steps = list(range(every, steps + 1, every))
                if not ck_steps or ck_steps[-1] != steps:
                    ck_steps.append(steps)
                eval_every = max(1, steps // 10)
                self._metric_params(rng)
                last_ck = run_start
                stop_step = steps * stop_frac
                prev_t = run_start
                for s in ck_steps:
                    if s > stop_step:
                        break
                    ct = run_start + int(s * sec_per_step * rng.uniform(0.97, 1.03)) + 5
                    ct = max(ct, prev_t)
                    prev_t = ct
                    evaluated = (not dense) or s % eval_every == 0 or s == steps
                    metrics = self._metrics(rng, s / steps, has_valid, evaluated, dense)
                    ch.append((ct, ("ckpt", *metrics, s)))
                    last_ck = ct
                end = run_start + int(steps * stop_frac * sec_per_step) + rng.randint(10, 60)
                end = max(end, last_ck + rng.randint(5, 40))
                self.active_spans.append((run_start, end))
                if self.wandb and self.wandb_url_late:
                    ch.append((min(run_start + url_delay, end), ("url",)))
                if outcome == "failed":
                    ch.append((end, ("status", "FAILED", True)))
                    final_status = "FAILED"
                    terminal_t = end
                elif outcome == "cancelled":
                    terminal_t = cancel_at(end)
                    final_status = "CANCELLED"
                else:
                    ch.append((end, ("status", "SUCCESS", True)))
                    ch.append((end, ("success",)))
                    final_status = "SUCCESS"
                    terminal_t = end
        assert terminal_t is not None
        self.final_status = final_status
        self.terminal_t = terminal_t
        ch.sort(key=lambda c: c[0])  # stable: same-second changes keep their order
        self.changes = ch

        # ---- polls: every 10-60 s while active, a few more once it's over
        base = rng.choice((10, 15, 20, 20, 30, 30, 45, 60, 60))
        polls = [0]
        p = 0
        while p < terminal_t:
            p += min(60, max(10, base + rng.randint(-2, 5)))
            polls.append(p)
        if final_status == "VALIDATED":  # never started: polled a while, then given up
            extra = rng.randint(2, 8)
        else:
            extra = rng.choice((0, 1, 1, 2, 2, 3, 4))
        for _ in range(extra):
            p += min(60, max(10, base + rng.randint(-2, 5)))
            polls.append(p)
        self.polls = polls

    # ------------------------------------------------------------------ metrics
    def _metric_params(self, rng: random.Random) -> None:
        if self.kind == "classifier":
            self.l0 = rng.uniform(0.05, 0.8)
            self.linf = self.l0 * rng.uniform(0.002, 0.05)
            self.decay = rng.uniform(5, 12)
        else:
            self.l0 = rng.uniform(1.0, 2.6)
            self.linf = self.l0 * rng.uniform(0.25, 0.6)
            self.decay = rng.uniform(2.5, 8.0)
        self.acc_over_one = self.kind == "FT" and rng.random() < 0.35
        self.acc_scale = rng.uniform(2.05, 2.2)
        self.acc_base = rng.uniform(0.85, 0.97)
        self.noise = rng.uniform(0.02, 0.09)
        self.overfit = rng.uniform(0.0, 0.15) if rng.random() < 0.2 else 0.0
        self.null_valid_style = rng.random() < 0.5  # no validation: null, else 0.0

    def _metrics(
        self, rng: random.Random, frac: float, has_valid: bool, evaluated: bool, dense: bool
    ) -> tuple[float | None, float | None, float | None]:
        curve = self.linf + (self.l0 - self.linf) * math.exp(-self.decay * frac)
        train = round(max(1e-6, curve * (1.0 + rng.gauss(0.0, self.noise))), 6)
        if not has_valid:
            if dense or not self.null_valid_style:
                return train, 0.0, 0.0
            return train, None, None
        if not evaluated:
            return train, 0.0, 0.0
        vcurve = self.linf * 1.05 + (self.l0 - self.linf) * math.exp(-self.decay * 0.9 * frac)
        vcurve *= 1.0 + self.overfit * frac * frac
        valid = round(max(1e-6, vcurve * (1.0 + rng.gauss(0.0, 0.01))), 6)
        if self.kind == "classifier":
            acc = min(1.0006, 1.0 - valid * 0.3 + rng.gauss(0.0, 0.002))
        elif self.acc_over_one:
            acc = valid * self.acc_scale
        else:
            acc = self.acc_base - 0.25 * valid + rng.gauss(0.0, 0.004)
        return train, valid, round(max(0.0, acc), 6)

    # ------------------------------------------------------------------ output
    def lines(self, created: int, log_end: int, camel: bool, changes_only: bool = False) -> Iterator[tuple[int, bytes]]:
        """Yield (poll time, serialised snapshot) for every poll up to ``log_end``.

        With ``changes_only``, a poll whose response is byte-identical to the last one
        yielded from the same endpoint (list page or detailed GET) is skipped.  Every
        random draw is still made, so the job and the lines kept are the same either way.
        """
        rng = self.rng
        conv: Callable[[Any], Any] = _camelize if camel else _same
        key: Callable[[str], str] = _camel_key if camel else (lambda k: k)
        kind = self.kind
        ev_name, ev_created, ev_data = "name", key("created_at"), "data"
        docs = self.docs_era

        # static values, already in output form
        training_files = self.training_files
        validation_files = self.validation_files
        targets = conv(self.classifier_targets) if self.classifier_targets is not None else ...
        repos = conv(self.repositories) if self.repositories is not ... else ...
        hp = dict(self.hp_static)

        def hyper() -> Any:
            return conv(hp)

        hp_out = hyper()

        def integrations(url: str | None) -> Any:
            if not self.wandb:
                return self.no_integrations
            w: dict[str, Any] = {
                "type": "wandb",
                "project": self.wandb_project,
                "name": None,
                "run_name": self.wandb_run,
                "url": url,
            }
            if docs or kind == "FT" and self.legacy_hp:
                del w["url"]
            if self.sdk_dump:
                del w["type"]
            return [conv(w)]

        integ_out = integrations(None)

        meta: dict[str, Any] = {
            "expected_duration_seconds": None,
            "cost": 0.0 if kind == "classifier" else None,
            "cost_currency": None,
            "train_tokens_per_step": None,
            "train_tokens": None,
            "data_tokens": None,
            "estimated_start_time": None,
        }
        if self.meta_style == "allnull":
            meta["cost"] = None

        def metadata() -> Any:
            if self.meta_style == "absent":
                return ...
            if self.meta_style == "null":
                return None
            return conv(meta)

        meta_out = metadata()

        status = "QUEUED"
        modified = created
        events: list[dict[str, Any]] = []
        ckpts: list[dict[str, Any]] = []
        ftm: str | None = None
        trained: int | None = None
        show_targets = not self.sdk_dump
        changes = self.changes
        ci = 0
        k_metrics = key("metrics")
        k_step = key("step_number")
        k_created = key("created_at")
        k_tl, k_vl, k_acc = key("train_loss"), key("valid_loss"), key("valid_mean_token_accuracy")
        keymap = {k: key(k) for k in self.order}
        order = self.order
        list_p = 0.08
        first_create_form = rng.random() < 0.7
        last_sent: dict[bool, bytes] = {}  # endpoint (list form?) -> last line yielded

        for i, rel in enumerate(self.polls):
            t = created + rel
            if t > log_end:
                return
            # apply every change that happened by now
            while ci < len(changes) and changes[ci][0] <= rel:
                ct_rel, op = changes[ci]
                ci += 1
                ct = created + ct_rel
                modified = max(modified, ct)
                name = op[0]
                if name == "status":
                    status = op[1]
                    if op[2]:
                        if self.event_data:
                            data = {"status": status}
                            ev = (
                                {ev_name: "status-updated", ev_data: data, ev_created: ct}
                                if docs
                                else {ev_name: "status-updated", ev_created: ct, ev_data: data}
                            )
                        else:
                            ev = {ev_name: "status-updated", ev_created: ct}
                        events.append(ev)
                elif name == "validated":
                    show_targets = True
                    if "epochs" in hp:
                        hp["epochs"] = self.epochs
                        hp_out = hyper()
                    if self.meta_style != "allnull":
                        meta.update(
                            {
                                "expected_duration_seconds": self.expected_duration,
                                "cost": self.cost,
                                "cost_currency": self.currency,
                                "train_tokens_per_step": self.tps,
                                "train_tokens": self.train_tokens,
                                "data_tokens": self.data_tokens,
                            }
                        )
                        meta_out = metadata()
                elif name == "est":
                    if self.meta_style == "normal":
                        meta["estimated_start_time"] = None if op[1] is None else created + op[1]
                        meta_out = metadata()
                elif name == "url":
                    integ_out = integrations(self.wandb_url_final)
                elif name == "ckpt":
                    ckpts.append({k_metrics: {k_tl: op[1], k_vl: op[2], k_acc: op[3]}, k_step: op[4], k_created: ct})
                elif name == "success":
                    if not self.ftm_null:
                        prefix = ("ft:classifier:" if kind == "classifier" else "ft:") + self.model
                        ftm = f"{prefix}:{self.account}:{_yyyymmdd(created)}:{self.id[:8]}"
                    jitter = rng.uniform(0.97, 1.03) if kind != "FT" else 1.0
                    trained = int(self.train_tokens * jitter)
            if i == 0:
                list_form = first_create_form
            else:
                list_form = rng.random() < list_p
            d: dict[str, Any] = {
                "id": self.id,
                "model": self.model,
                "status": status,
                "created_at": created,
                "modified_at": modified,
                "training_files": training_files,
                "hyperparameters": hp_out,
                "fine_tuned_model": ftm,
                "integrations": integ_out,
            }
            if validation_files is not ...:
                d["validation_files"] = validation_files
            if self.has_auto_start:
                d["auto_start"] = self.auto_start
            if not self.sdk_dump:
                d["object"] = "job"
                d["job_type"] = kind
            if self.suffix is not ...:
                d["suffix"] = self.suffix
            if self.has_trained_tokens:
                d["trained_tokens"] = trained
            if meta_out is not ...:
                d["metadata"] = meta_out
            if repos is not ...:
                d["repositories"] = repos
            if targets is not ... and show_targets and (i > 0 or not self.sdk_dump):
                d["classifier_targets"] = targets
            if integ_out is ...:
                del d["integrations"]
            if not list_form:
                d["events"] = events[:] if self.sdk_dump else events[::-1]
                d["checkpoints"] = ckpts[::-1]
            out = {keymap[k]: d[k] for k in order if k in d}
            line = orjson.dumps(out)
            if changes_only:
                if last_sent.get(list_form) == line:
                    continue
                last_sent[list_form] = line
            yield t, line


# --------------------------------------------------------------------------- public API

_Row = tuple[int, int, str, int, int, str, int]


def _plan(jobs: int, seed: int) -> tuple[list[_Row], dict[int, _Burst]]:
    """Draw, from the master rng, every job's creation time, kind and seeds.

    Returns rows (created_at, draw index, kind, job seed, burst seed, outcome, variant) in draw
    order, and the bursts by seed.
    """
    rng = random.Random(seed)
    accounts = [(_hex(rng, 8), "EUR" if rng.random() < 0.2 else "USD") for _ in range(40)]
    rows: list[_Row] = []
    bursts: dict[int, _Burst] = {}
    n = 0
    while n < jobs:
        kind = _pick(rng, _KIND_WEIGHTS)
        lo, hi = _WINDOWS[kind]
        size = min(jobs - n, 1 + min(7, int(rng.expovariate(0.6))))
        start = rng.randint(lo, hi)
        burst_seed = rng.getrandbits(64)
        bursts[burst_seed] = _Burst(burst_seed, kind, accounts)
        t = start
        for variant in range(size):
            r = rng.random()
            if kind == "classifier":
                outcome = (
                    "success"
                    if r < 0.74
                    else "failed_validation"
                    if r < 0.80
                    else "failed"
                    if r < 0.86
                    else "cancelled"
                    if r < 0.93
                    else "unfinished"
                )
            elif kind == "completion":
                outcome = (
                    "success"
                    if r < 0.72
                    else "failed_validation"
                    if r < 0.78
                    else "failed"
                    if r < 0.85
                    else "cancelled"
                    if r < 0.92
                    else "never_started"
                    if r < 0.945
                    else "unfinished"
                )
            else:
                outcome = (
                    "success"
                    if r < 0.76
                    else "failed_validation"
                    if r < 0.82
                    else "failed"
                    if r < 0.91
                    else "cancelled"
                )
            rows.append((t, n, kind, rng.getrandbits(64), burst_seed, outcome, variant))
            t += rng.randint(2, 600)
            n += 1
    return rows, bursts


def generate(jobs: int, seed: int = 0, camel: bool = False, *, changes_only: bool = False) -> Iterator[bytes]:
    """Yield a synthetic polling log of ``jobs`` jobs, one NDJSON line (no newline) per poll.

    Lines of all jobs are interleaved in poll-time order.  Same arguments give byte-identical
    output.  With ``camel=True`` every object key is written camelCase (TypeScript SDK form),
    the content being otherwise identical to ``camel=False``.

    By default every poll is logged, so most lines repeat an earlier line byte for byte (a
    job polled every 10-60 s changes far less often).  With ``changes_only=True`` the poller
    logs a response only when it differs from the last response it logged for that job from
    the same endpoint (list page or detailed GET), as an exporter that logs changes does:
    the same jobs and timeline, the unchanged re-polls dropped.  The result is a
    subsequence of the default log, folds to the same :class:`~jobstream.JobTable`, and has
    almost no byte-identical repeats; most of its lines carry a new ``modified_at``.
    """
    if jobs <= 0:
        return
    rows, bursts = _plan(jobs, seed)
    starts: list[tuple[int, int, _Job | None, tuple[Any, ...]]] = []
    for row in rows:
        created, n, kind, jseed, bseed, outcome, variant = row
        if outcome == "unfinished":
            # still QUEUED or RUNNING when the log ends: the log ends inside an active span
            job = _Job(jseed, kind, bursts[bseed], LOG_END, "success", variant)
            spans = [s for s in job.active_spans if s[1] > s[0]]
            a, b = spans[-1] if jseed % 4 else spans[0]
            inside = [p for p in job.polls if a <= p < b]
            if not inside:
                inside = [p for p in job.polls if spans[-1][0] <= p < spans[-1][1]] or [0]
            cut = inside[(jseed >> 8) % len(inside)]
            starts.append((LOG_END - cut, n, job, row))
        else:
            starts.append((created, n, None, row))
    starts.sort(key=lambda s: (s[0], s[1]))

    heap: list[tuple[int, int, int, bytes, Iterator[tuple[int, bytes]]]] = []
    nxt = 0
    total = len(starts)
    while heap or nxt < total:
        if nxt < total and (not heap or starts[nxt][0] <= heap[0][0]):
            created, _, planned, row = starts[nxt]
            _, _, kind, jseed, bseed, outcome, variant = row
            if planned is None:
                planned = _Job(jseed, kind, bursts[bseed], created, outcome, variant)
            it = planned.lines(created, LOG_END, camel, changes_only)
            first = next(it, None)
            if first is not None:
                heapq.heappush(heap, (first[0], nxt, 0, first[1], it))
            nxt += 1
            continue
        t, idx, seq, line, it = heapq.heappop(heap)
        yield line
        following = next(it, None)
        if following is not None:
            heapq.heappush(heap, (following[0], idx, seq + 1, following[1], it))


class Writable(Protocol):
    """Anything with ``write(bytes)``: a binary file, a ``GzipFile``, ``sys.stdout.buffer``."""

    def write(self, data: bytes, /) -> object: ...


def write_log(out: Writable, jobs: int, seed: int = 0, camel: bool = False, *, changes_only: bool = False) -> int:
    """Write ``generate(jobs, seed, camel, changes_only=...)`` to ``out``, one line each;
    return the line count."""
    count = 0
    write = out.write
    for line in generate(jobs, seed, camel, changes_only=changes_only):
        write(line + b"\n")
        count += 1
    return count


def write_log_file(path: str, jobs: int, seed: int = 0, camel: bool = False, *, changes_only: bool = False) -> int:
    """:func:`write_log` to the file *path*, atomically (a temporary file renamed into place),
    gzip-compressed when the name ends in ``.gz`` (deterministic: no timestamp in the header)."""
    import gzip

    from .out.sinks import atomic_file

    with atomic_file(path) as raw:
        if not path.endswith(".gz"):
            return write_log(raw, jobs, seed, camel, changes_only=changes_only)
        with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
            return write_log(gz, jobs, seed, camel, changes_only=changes_only)
