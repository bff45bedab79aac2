"""msgspec Structs for the job objects of Mistral's fine-tuning API (``GET /v1/fine_tuning/jobs``),
as the official SDKs model them, with what real logs need (see "Forgiving, not lax" in the README).

Three families of types live here:

* the **full schema**: :class:`ClassifierJob` and :class:`CompletionJob` (legacy ``"FT"``
  decodes as :class:`LegacyFTJob`, a :class:`CompletionJob`), a tagged union on ``job_type``,
  with every nested type;
* **camelCase twins** of every Struct (the TypeScript SDK's rendering), derived from the
  snake_case classes so they never drift: a twin subclasses its original, so
  ``isinstance(job, ClassifierJob)`` holds whatever the key style of the line;
* **projections** (:class:`JobView`): only the fields the reducer reads, which is what the
  fast paths decode.

Only ``id``, ``status``, ``created_at`` and ``modified_at`` are required; real logs omit the
rest.  Unknown fields are ignored, unknown status strings are kept, and an integration or
repository of unknown ``type`` is kept as its raw object (:class:`UnknownIntegration`,
:class:`UnknownRepository`).
"""

from __future__ import annotations

import abc
import enum
import types
import typing
from typing import Annotated, Any, Literal, TypeVar, Union, cast

import msgspec

__all__ = [
    "Status",
    "TERMINAL_STATUSES",
    "STATUS_RANK",
    "UNKNOWN_RANK",
    "status_rank",
    "JobType",
    "Metric",
    "Checkpoint",
    "Event",
    "JobMetadata",
    "TrainingParameters",
    "CompletionTrainingParameters",
    "ClassifierTarget",
    "Integration",
    "WandbIntegration",
    "UnknownIntegration",
    "Repository",
    "GithubRepository",
    "UnknownRepository",
    "Job",
    "ClassifierJob",
    "CompletionJob",
    "LegacyFTJob",
    "OtherJob",
    "KNOWN_JOB_TYPES",
    "MAX_TIMESTAMP",
    "JobUnion",
    "JobView",
    "JobLean",
    "CheckpointView",
    "EventView",
]


class Status(str, enum.Enum):
    """The status values the API documents.  Statuses are an open set: Structs keep ``str``."""

    QUEUED = "QUEUED"
    STARTED = "STARTED"
    VALIDATING = "VALIDATING"
    VALIDATED = "VALIDATED"
    RUNNING = "RUNNING"
    FAILED_VALIDATION = "FAILED_VALIDATION"
    FAILED = "FAILED"
    SUCCESS = "SUCCESS"
    CANCELLED = "CANCELLED"
    CANCELLATION_REQUESTED = "CANCELLATION_REQUESTED"

    def __str__(self) -> str:
        return self.value


TERMINAL_STATUSES: frozenset[str] = frozenset({"SUCCESS", "FAILED", "FAILED_VALIDATION", "CANCELLED"})

#: Lifecycle order used to break ties between observations made in the same second.
STATUS_RANK: dict[str, int] = {
    "QUEUED": 0,
    "STARTED": 1,
    "VALIDATING": 2,
    "VALIDATED": 3,
    "RUNNING": 4,
    # unknown statuses rank 5: after RUNNING, before CANCELLATION_REQUESTED
    "CANCELLATION_REQUESTED": 6,
    "FAILED_VALIDATION": 7,
    "FAILED": 7,
    "SUCCESS": 7,
    "CANCELLED": 7,
}
UNKNOWN_RANK = 5


def status_rank(status: str) -> int:
    """Lifecycle rank of *status*; an unknown status sits between RUNNING and CANCELLATION_REQUESTED."""
    return STATUS_RANK.get(status, UNKNOWN_RANK)


JobType = Literal["classifier", "completion", "FT"]
#: The ``job_type`` values this version knows; any other string is kept as :class:`OtherJob`.
KNOWN_JOB_TYPES: frozenset[str] = frozenset({"classifier", "completion", "FT"})

#: Every integer in the schema: bounded to 64 bits, so states can cross processes (msgpack)
#: and a wild value is a reject with its path, not a crash later.
Int = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]

#: The latest time jobstream accepts: 9999-12-31T23:59:59Z, the last second every output
#: (ISO-8601, ``--by day``, tables) can render.
from ..times import MAX_TIMESTAMP  # noqa: E402

#: Every time in the schema: unix seconds from 1970-01-01 to the end of year 9999.  A time
#: outside that range is a reject with its path, never a crash in an output later.
Timestamp = Annotated[int, msgspec.Meta(ge=0, le=MAX_TIMESTAMP)]


class _Base(msgspec.Struct, kw_only=True, gc=False):
    """Common config: keyword-only construction; no reference cycles, so no GC tracking."""


# --------------------------------------------------------------------------- nested types


class Metric(_Base):
    train_loss: float | None = None
    valid_loss: float | None = None
    valid_mean_token_accuracy: float | None = None


class Checkpoint(_Base):
    metrics: Metric = msgspec.field(default_factory=Metric)
    step_number: Int | None = None
    created_at: Timestamp | None = None


class Event(_Base):
    """A job event; status changes are ``status-updated`` events with ``data = {"status": ...}``."""

    name: str | None = None
    created_at: Timestamp | None = None
    data: dict[str, Any] | None = None


class JobMetadata(_Base):
    expected_duration_seconds: Int | None = None
    cost: float | None = None
    cost_currency: str | None = None
    train_tokens_per_step: Int | None = None
    train_tokens: Int | None = None
    data_tokens: Int | None = None
    estimated_start_time: Timestamp | None = None


class TrainingParameters(_Base):
    """Hyperparameters of a classifier job (and the base of the completion ones)."""

    training_steps: Int | None = None
    learning_rate: float | None = 0.0001
    weight_decay: float | None = None
    warmup_fraction: float | None = None
    epochs: float | None = None
    seq_len: Int | None = None


class CompletionTrainingParameters(TrainingParameters):
    fim_ratio: float | None = None


class ClassifierTarget(_Base):
    name: str | None = None
    labels: list[str] = msgspec.field(default_factory=list)
    weight: float | None = None
    loss_function: str | None = None


# Integration, Repository and their camel twins are virtual bases with no methods: members are
# register()ed below, so isinstance() holds for a dict of an unknown type too, and the decoder's
# dec_hook dispatches on them.
class Integration(abc.ABC):  # noqa: B024 - a virtual base (see above)
    """Any integration: :class:`WandbIntegration` or, for an unknown ``type``, :class:`UnknownIntegration`."""


class WandbIntegration(_Base, tag_field="type", tag="wandb"):
    """A Weights & Biases integration.  SDK dumps drop ``type``: an untyped one is read as wandb."""

    project: str | None = None
    name: str | None = None
    run_name: str | None = None
    url: str | None = None


class UnknownIntegration(dict[str, Any]):
    """An integration of a ``type`` this version does not know, kept as its raw object."""


class Repository(abc.ABC):  # noqa: B024 - a virtual base, as Integration
    """Any repository: :class:`GithubRepository` or, for an unknown ``type``, :class:`UnknownRepository`."""


class GithubRepository(_Base, tag_field="type", tag="github"):
    name: str | None = None
    owner: str | None = None
    commit_id: str | None = None
    ref: str | None = None
    weight: float | None = 1.0


class UnknownRepository(dict[str, Any]):
    """A repository of a ``type`` this version does not know, kept as its raw object."""


Integration.register(WandbIntegration)
Integration.register(UnknownIntegration)
Repository.register(GithubRepository)
Repository.register(UnknownRepository)


# --------------------------------------------------------------------------- the job


class Job(_Base, tag_field="job_type"):
    """Fields both job kinds share.  Decode into :data:`JobUnion`, not into this base."""

    id: str
    status: str
    created_at: Timestamp
    modified_at: Timestamp
    auto_start: bool | None = None
    model: str | None = None
    training_files: list[str] = msgspec.field(default_factory=list)
    validation_files: list[str] | None = None
    #: ``"job"`` when present: a line that says it is something else is not a job
    object: Literal["job"] | None = None
    fine_tuned_model: str | None = None
    suffix: str | None = None
    integrations: list[Integration] | None = None
    trained_tokens: Int | None = None
    metadata: JobMetadata | None = None
    events: list[Event] | None = None
    checkpoints: list[Checkpoint] | None = None

    @property
    def stated_job_type(self) -> str | None:
        """The ``job_type`` the line stated (``"FT"`` included), or None when it had none."""
        tag = type(self).__struct_config__.tag
        return tag if isinstance(tag, str) else None

    @property
    def kind(self) -> str:
        """``"classifier"`` or ``"completion"`` (legacy FT jobs are completion jobs)."""
        raise NotImplementedError

    @property
    def has_classifier_targets(self) -> bool:
        return getattr(self, "classifier_targets", None) is not None


class ClassifierJob(Job, tag="classifier"):
    hyperparameters: TrainingParameters = msgspec.field(default_factory=TrainingParameters)
    classifier_targets: list[ClassifierTarget] | None = None

    @property
    def kind(self) -> str:
        return "classifier"


class CompletionJob(Job, tag="completion"):
    hyperparameters: CompletionTrainingParameters = msgspec.field(default_factory=CompletionTrainingParameters)
    repositories: list[Repository] | None = None

    @property
    def kind(self) -> str:
        return "completion"


class LegacyFTJob(CompletionJob, tag="FT"):
    """``job_type: "FT"`` from older API responses: a completion fine-tuning job."""


class OtherJob(Job, tag=False, kw_only=True):
    """A job whose ``job_type`` this version does not know (a future kind of job).

    Kept, not rejected, as the SDKs keep unknown enum values: the common fields are
    checked, the type is reported as stated (``kind`` is the ``job_type`` string).
    """

    job_type: str

    @property
    def stated_job_type(self) -> str | None:
        return self.job_type

    @property
    def kind(self) -> str:
        return self.job_type


class _UntaggedClassifierJob(ClassifierJob, tag=False):
    """A classifier job read from a line without ``job_type`` (it carried ``classifier_targets``)."""


class _UntaggedCompletionJob(CompletionJob, tag=False):
    """A completion job read from a line without ``job_type``."""


JobUnion = ClassifierJob | CompletionJob | LegacyFTJob


# --------------------------------------------------------------------------- projections


class CheckpointView(_Base):
    metrics: Metric = msgspec.field(default_factory=Metric)
    step_number: Int | None = None
    created_at: Timestamp | None = None


class _EventDataView(_Base):
    status: Any = None


class EventView(_Base):
    name: str | None = None
    created_at: Timestamp | None = None
    data: _EventDataView | None = None


class _MetadataView(_Base):
    cost: float | None = None
    cost_currency: str | None = None


class _Projection:
    """What the projections answer alike: the job type as stated, and as the fold reads it.

    A mixin, not a Struct: its annotations declare what it reads, they add no fields."""

    __slots__ = ()
    job_type: str | None
    classifier_targets: Any | msgspec.UnsetType

    @property
    def stated_job_type(self) -> str | None:
        return self.job_type

    @property
    def has_classifier_targets(self) -> bool:
        targets = self.classifier_targets
        return targets is not msgspec.UNSET and targets is not None

    @property
    def kind(self) -> str:
        """As stated (``"FT"`` is completion), else inferred from ``classifier_targets``."""
        jt = self.job_type
        if jt is not None:
            return "completion" if jt == "FT" else jt
        return "classifier" if self.has_classifier_targets else "completion"


class JobView(_Base, _Projection):
    """The fields the reducer reads, with the full schema's types: what ``summary`` decodes."""

    id: str
    status: str
    created_at: Timestamp
    modified_at: Timestamp
    job_type: str | None = None
    model: str | None = None
    fine_tuned_model: str | None = None
    trained_tokens: Int | None = None
    metadata: _MetadataView | None = None
    integrations: list[Integration] | None = None
    events: list[EventView] | None = None
    checkpoints: list[CheckpointView] | None = None
    #: only its presence matters to the reducer: any JSON value, not checked further (kept as
    #: plain data, not ``msgspec.Raw``, which would pin the whole input block it came from)
    classifier_targets: Any | msgspec.UnsetType = msgspec.UNSET


class JobLean(_Base, _Projection):
    """What ``summary`` and ``events`` read: a :class:`JobView` without checkpoints,
    integrations and ``fine_tuned_model`` (those read as None), so it decodes faster."""

    id: str
    status: str
    created_at: Timestamp
    modified_at: Timestamp
    job_type: str | None = None
    model: str | None = None
    trained_tokens: Int | None = None
    metadata: _MetadataView | None = None
    events: list[EventView] | None = None
    classifier_targets: Any | msgspec.UnsetType = msgspec.UNSET

    # not decoded: fixed class attributes, so the reducer reads "absent"
    fine_tuned_model = None
    integrations = None
    checkpoints = None


# --------------------------------------------------------------------------- camelCase twins


def camel_case(name: str) -> str:
    """The one snake -> camel rule: ``valid_mean_token_accuracy`` -> ``validMeanTokenAccuracy``."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


class _CamelIntegration(abc.ABC):  # noqa: B024 - a virtual base, as Integration
    """Integration inside a camelCase line (decoded into the camel twin of WandbIntegration)."""


class _CamelRepository(abc.ABC):  # noqa: B024 - a virtual base, as Integration
    """Repository inside a camelCase line."""


_ABC_TWINS: dict[Any, Any] = {Integration: _CamelIntegration, Repository: _CamelRepository}
_TWINS: dict[type[msgspec.Struct], type[msgspec.Struct]] = {}
_S = TypeVar("_S", bound=msgspec.Struct)


def _twin_type(tp: Any) -> Any:
    """Map a field annotation to the annotation its camelCase twin uses."""
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        return camel_twin(tp)
    if tp in _ABC_TWINS:
        return _ABC_TWINS[tp]
    origin = typing.get_origin(tp)
    if origin is None:
        return tp
    args = tuple(_twin_type(a) for a in typing.get_args(tp))
    if origin is Union or origin is types.UnionType:
        return Union[args]  # noqa: UP007 - a union of a runtime tuple of types: `X | Y` cannot spell it
    if origin is Literal:
        return tp
    return origin[args] if len(args) > 1 else origin[args[0]]


def camel_twin(cls: type[_S]) -> type[_S]:
    """The camelCase twin of Struct *cls*: every field redeclared under its camel name.

    msgspec's ``rename`` does not reach inherited fields or nested types, so the twin
    redeclares every field with the twin of its type.  It subclasses *cls*.
    """
    if cls in _TWINS:
        return cast("type[_S]", _TWINS[cls])
    config = cls.__struct_config__
    fields: list[Any] = []
    for f in msgspec.structs.fields(cls):
        tp = _twin_type(f.type)
        if f.default_factory is not msgspec.NODEFAULT:
            factory = f.default_factory
            if isinstance(factory, type) and issubclass(factory, msgspec.Struct):
                factory = camel_twin(factory)
            fields.append((f.name, tp, msgspec.field(default_factory=factory)))
        elif f.default is not msgspec.NODEFAULT:
            fields.append((f.name, tp, f.default))
        else:
            fields.append((f.name, tp))
    names = {f.name for f in msgspec.structs.fields(cls)}
    if {"id", "created_at", "modified_at"} <= names:
        # A line with a snake_case timestamp key is a snake_case line (see the decoder's
        # probe), whatever camelCase keys it also has: the twin refuses such keys, however
        # they are spelled (``"created\\u005fat"``), so no line decodes as camelCase on
        # one path and as snake_case on another.
        for key in ("created_at", "modified_at"):
            fields.append((f"snake_{key}_", msgspec.UnsetType, msgspec.field(default=msgspec.UNSET, name=key)))
    kwargs: dict[str, Any] = {}
    if config.tag_field is not None:
        kwargs["tag_field"] = camel_case(config.tag_field)
        kwargs["tag"] = config.tag if config.tag is not None else False
    twin = msgspec.defstruct(
        cls.__name__ + "Camel",
        fields,
        bases=(cls,),
        module=cls.__module__,
        rename="camel",
        kw_only=True,
        gc=False,
        **kwargs,
    )
    _TWINS[cls] = twin
    return cast("type[_S]", twin)


# Derive the twins the decoder uses (nested ones are derived on the way).
ClassifierJobCamel = camel_twin(ClassifierJob)
CompletionJobCamel = camel_twin(CompletionJob)
LegacyFTJobCamel = camel_twin(LegacyFTJob)
_UntaggedClassifierJobCamel = camel_twin(_UntaggedClassifierJob)
_UntaggedCompletionJobCamel = camel_twin(_UntaggedCompletionJob)
OtherJobCamel = camel_twin(OtherJob)
JobUnionCamel = ClassifierJobCamel | CompletionJobCamel | LegacyFTJobCamel
JobViewCamel = camel_twin(JobView)
JobLeanCamel = camel_twin(JobLean)
WandbIntegrationCamel = camel_twin(WandbIntegration)
GithubRepositoryCamel = camel_twin(GithubRepository)
_CamelIntegration.register(WandbIntegrationCamel)
_CamelIntegration.register(UnknownIntegration)
_CamelRepository.register(GithubRepositoryCamel)
_CamelRepository.register(UnknownRepository)
