"""The checking process's side of the answer process (docs/grading.md, "The answer
process"): a graded function here (:meth:`AnswerChannel.function`) sends its arguments
there; a model comes back as a ``.keras`` file, loaded with ``safe_mode`` and no class of
the student's own, and proven to do through Keras' public API what the model there does
(:meth:`AnswerChannel.proof`: else review); one that is not Keras' own stays there behind a
:class:`RemoteModel`, whose reports are the student's claim (the checks that decide
points probe behaviour). Anything else a check asks of a proxy raises
:class:`~instructor.engine.answer.wire.Unreadable`: review.
"""

from __future__ import annotations

import base64
import select
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from instructor.engine import outcomes
from instructor.engine.answer import wire
from instructor.engine.answer.protocol import FrameTooLarge, read_frame, write_frame
from instructor.engine.answer.step import ROUTED_KEY, behaviour


class AnswerFailed(outcomes.GraderOutcome):
    """The answer process could not answer (its answer cells failed, it died, timed out).
    ``own``: the message is the grader's words (a timeout, the process gone), which no
    hidden input can reach; else it came from the student's process: a hidden test
    withholds it."""

    outcome = outcomes.ANSWER_FAILED

    def __init__(self, message: str, own: bool = False):
        super().__init__(message)
        self.own = own


class UsesCourseImplementation(outcomes.GraderOutcome):
    """The student's function reached the course's own implementation of the task."""

    outcome = outcomes.USES_COURSE_IMPLEMENTATION
    own = False


class AnswerChannel:
    """Requests to the answer process over two pipes, one reply per request."""

    def __init__(self, requests: int, replies: int, timeout: float = 120.0,
                 max_bytes: int | None = None, custom_objects: dict | None = None):
        self.requests, self.replies = requests, replies
        self.timeout, self.max_bytes = timeout, max_bytes
        self.custom_objects = custom_objects or {}
        self.broken: str | None = None
        self.broken_own = False  # whether ``broken`` is in the grader's own words
        self.proxies: dict[int, RemoteObject] = {}
        self.descriptions: dict[int, dict] = {}
        self._folder = tempfile.TemporaryDirectory(prefix="answers-")  # gone with it
        self.folder = Path(self._folder.name)
        self.count = 0
        #: whether a model of the student's own class may be checked through a proxy
        #: (else the test needs review: its code could tell the probes from real use)
        self.own_classes = True
        #: whether a reply's models were the student's own (proxies, flagged) since reset
        self.proxied = False
        #: whether a call that changes an array it was given fails (a hidden test's: the
        #: test may compute what it expects from its arrays after the call)
        self.inputs_kept = False
        #: why a model returned in this test was not proven (:meth:`proof`): the test
        #: needs review, whatever caught the refusal
        self.unproven: str | None = None

    def ask(self, request: dict) -> dict:
        if self.broken:
            raise AnswerFailed(self.broken, own=self.broken_own)
        try:
            write_frame(self.requests, request)
            ready, _, _ = select.select([self.replies], [], [], self.timeout)
            if not ready:
                self.broken, self.broken_own = (
                    f"ran too long: your function ran longer than {self.timeout:g} s when "
                    "the grader called it (COURSE_CELL_TIMEOUT)"), True
                raise AnswerFailed(self.broken, own=True)
            reply = read_frame(self.replies, self.max_bytes)
        except (OSError, EOFError):
            self.broken, self.broken_own = "the process running your answer ended", True
            raise AnswerFailed(self.broken, own=True) from None
        except FrameTooLarge:
            limit = (self.max_bytes or 0) / 2 ** 20
            self.broken = (f"what your function returned is more than the grader's limit "
                           f"of {limit:g} MiB (COURSE_RECORD_MB); it was not read, and the "
                           "test fails")
            raise wire.RecordTooLarge(self.broken) from None
        except ValueError as err:  # not JSON: not a reply of the answer process's loop
            self.broken = f"the process running your answer sent an unreadable reply ({err})"
            raise AnswerFailed(self.broken) from None
        if "course" in reply:  # the stripped helpers' exception, never one by its name
            raise UsesCourseImplementation(str(reply["course"]))
        if "raised" in reply:
            ename, message = reply["raised"]
            raise type(str(ename), (Exception,), {"__module__": "answer"})(message)
        if "failed" in reply:
            raise AnswerFailed(reply["failed"])
        if "error" in reply:
            raise wire.Unreadable(reply["error"])
        return reply

    def function(self, task: str, name: str):
        """A stand-in for the graded function ``name`` of ``task``."""
        def graded(*args: Any, **kwargs: Any) -> Any:
            try:
                encoded = wire.Writer().encode([list(args), kwargs])
            except wire.NotData as err:
                raise wire.Unreadable(f"the test passes {err} to {name}") from None
            reply = self.ask({"op": "call", "task": task, "name": name, "args": encoded})
            changed_args = reply.get("changed_args", {})
            if changed_args and self.inputs_kept:
                which = sorted(int(position) + 1 for position in changed_args)
                raise AssertionError(CHANGED_INPUTS.format(name=name, which=which))
            for position, value in changed_args.items():
                target, changed = args[int(position)], wire.Reader().decode(value)
                # a read-only one (a dataset the test loaded, helpers.datasets.keep) stays
                if isinstance(target, np.ndarray) and target.shape == np.shape(changed) \
                        and target.flags.writeable:
                    np.copyto(target, changed, casting="unsafe")
            return self._result(reply)
        graded.__name__ = name
        return graded

    def _result(self, reply: dict) -> Any:
        """The call's value. Its models are Keras' own only if every one came as a file
        that loads here with Keras' and the course's classes alone and is proven to do
        what the model there does (:meth:`proof`; sharing layers, with a training step:
        then the checks ask the models there, through proxies without a note); else they
        are the student's own: proxies where the task allows, else review (``OWN_CLASS``)."""
        self.count += 1
        folder = self.folder / f"call-{self.count}"
        folder.mkdir()
        for name, data in reply.get("files", {}).items():
            if "/" in name or name.startswith("."):
                raise wire.Unreadable(f"a reply names a file {name!r}")
            (folder / name).write_bytes(base64.b64decode(data))
        models = list(_models(reply["result"]))
        if not models:
            return wire.Reader(folder, max_bytes=self.max_bytes).decode(reply["result"])
        own, unproven, shared = True, [], bool(reply.get("shared"))
        if all(isinstance(m.get("model"), str) for m in models):
            reader, copies = wire.Reader(folder, self.custom_objects, max_bytes=self.max_bytes), []
            try:  # each model loaded once: the copies the checks get are the ones proven
                value = reader.decode(reply["result"])
                copies = [(entry, reader.decode(entry)) for entry in models]
                unproven = [d for e, c in copies if (d := self.proof(e, c, full=shared))]
                own = bool(unproven)
            except wire.Unreadable:  # a class or function of its own: not loaded
                pass
            if not own and not shared:
                for entry, copy in copies:
                    self._hold(entry, copy)
                return value
        if own and not self.own_classes:
            self.unproven = OWN_CLASS + "".join(unproven[:1])
            raise wire.Unreadable(self.unproven, own=True)
        self.proxied = self.proxied or own  # the verdict rests on the student's own code
        return _ProxyReader(self, folder).decode(reply["result"])

    def proof(self, entry: dict, model, full: bool = False) -> str | None:
        """The one place that decides whether the loaded copy ``model`` is proven to do
        what the answer process's model (``entry``'s handle) does: None if every value of
        :func:`~instructor.engine.answer.step.behaviour` (``full`` or not) agrees on both,
        on a batch drawn as the tests' inputs are (uniform in [0, 1]), and the model there
        answers ``fit``, ``predict`` and ``evaluate`` with its class's own; else why not,
        and the test needs review (docs/grading.md, "The proof")."""
        rng = np.random.default_rng()
        try:  # a subclassed model (the course's VAE) has no inputs, but its build's shape
            shapes = [tuple(t.shape) for t in model.inputs] if getattr(model, "inputs", None) \
                else [tuple(model.get_build_config()["input_shape"])]
            batch = int(rng.integers(2, 17))
            xs = [rng.uniform(0, 1, (batch, *[d or 8 for d in s[1:]])).astype("float32")
                  for s in shapes]
            x = xs[0] if len(xs) == 1 else xs
            ys = [rng.uniform(0, 1, np.shape(o)).astype("float32")
                  for o in _as_list(model(x))]
            y = ys[0] if len(ys) == 1 else ys
            ours = {**behaviour(model, x, y, full), ROUTED_KEY: ""}
            start = {"weights": model.get_weights(), "rate": _rate(model)} if full else {}
        except Exception as err:  # noqa: BLE001 - fail closed: not proven
            return PROOF_FAILED.format(f"its copy raised {type(err).__name__}")
        try:  # the model there, from the weights and learning rate the copy has now
            theirs = self.method(int(entry["handle"]), "step", x, y, full=full, **start)
            # the copy's keys are the grader's words; the other side's are never quoted
            differ = [key for key in ours if not _agree(ours[key], theirs.get(key))]
            differ += ["what else it reported"] if theirs.keys() - ours.keys() else []
        except AnswerFailed as err:
            return PROOF_FAILED.format(f"{err}" if err.own else "your model failed there")
        except Exception:  # noqa: BLE001 - fail closed: not proven (a reply not a dict too)
            return PROOF_FAILED.format("your model raised an error where its copy did not")
        return DIFFERED.format(", ".join(sorted(differ))) if differ else None

    def _hold(self, entry: dict, model) -> None:
        """Wrap the copy's public methods that run Keras' predict, test and train functions
        (:data:`HELD`): the first call of any takes the full :meth:`proof` first, from the
        weights and learning rate the check gave the copy; not proven, each call of them
        is refused: review, whatever catches it."""
        held: dict = {"proven": False, "proving": False, "why": None}

        def wrap(method):
            def proven(*args: Any, **kwargs: Any) -> Any:
                if not (held["proven"] or held["proving"]):
                    held["proving"] = True
                    try:
                        held["why"] = held["why"] or self.proof(entry, model, full=True)
                    finally:
                        held["proving"] = False
                    if held["why"]:
                        self.unproven = OWN_CLASS + held["why"]
                        raise wire.Unreadable(self.unproven, own=True)
                    held["proven"] = True
                return method(*args, **kwargs)
            return proven

        for name in HELD:
            setattr(model, name, wrap(getattr(model, name)))

    def proxy(self, handle: int) -> RemoteObject:
        if handle not in self.proxies:
            if handle not in self.descriptions:
                found = self.ask({"op": "describe", "handle": handle})["objects"]
                self.descriptions.update({int(k): v for k, v in found.items()})
            info = self.descriptions[handle]
            self.proxies[handle] = _proxy_class(info["kinds"])(self, handle, info)
        return self.proxies[handle]

    def method(self, handle: int, name: str, *args: Any, **kwargs: Any) -> Any:
        reply = self.ask({"op": "method", "handle": handle, "name": name,
                          "args": wire.Writer().encode([list(args), kwargs])})
        return wire.Reader().decode(reply["value"])


#: Why a hidden test fails whose graded function changed the arrays it was given.
CHANGED_INPUTS = ("{name} changed the arrays it was given (arguments {which}, counting from "
                  "1) in place: it should leave its inputs unchanged")
#: Why a test of a task whose models must be Keras' own needs review.
OWN_CLASS = ("your function returned a model with code of your own, or one the grader could "
             "not prove to be Keras' own (a class or a function of yours, even one named "
             "like Keras' own, a Lambda layer, another model's function), which this task "
             "does not need; such a model could behave one way for the tests and another "
             "in use")


#: The copy's public methods whose first call waits for the full proof (:meth:`_hold`).
HELD = ("predict", "predict_on_batch", "evaluate", "test_on_batch", "train_on_batch", "fit")
#: Why a returned model's test needs review when its copy was not proven (:meth:`proof`).
DIFFERED = (" (here: its copy rebuilt from its saved file, given the same batch, differed "
            "in {})")
PROOF_FAILED = (" (here: the grader could not prove that its copy rebuilt from its saved "
                "file does what your model does: {})")


def _rate(model) -> float | None:
    """The copy's learning rate, if compiled with a plain one (a schedule's is not set)."""
    try:
        return float(np.asarray(model.optimizer.learning_rate))
    except (AttributeError, TypeError, ValueError):
        return None


def _agree(ours: Any, theirs: Any) -> bool:
    """Whether two of :func:`~instructor.engine.answer.step.behaviour`'s values agree,
    numbers within float tolerance (values that cannot be compared: not equal)."""
    if isinstance(ours, str | None) or isinstance(theirs, str | None):
        return ours == theirs
    try:
        ours, theirs = _as_list(ours), _as_list(theirs)
        return len(ours) == len(theirs) and all(
            np.shape(a) == np.shape(b)
            and np.allclose(a, b, rtol=1e-4, atol=1e-5, equal_nan=True)
            for a, b in zip(ours, theirs, strict=True))
    except (TypeError, ValueError):
        return False


def _as_list(value: Any) -> list[np.ndarray]:
    values = value if isinstance(value, list | tuple) else [value]
    return [np.asarray(v, dtype="float64") for v in values]


def _models(value: Any):
    """The model entries of an encoded reply: ``model``, its file (None: not saved), and
    ``handle``, the model in the answer process (a model loaded here is built from
    Keras' and the course's classes alone)."""
    if isinstance(value, dict) and "model" in value:
        yield value
    elif isinstance(value, dict | list):
        for inner in value.values() if isinstance(value, dict) else value:
            yield from _models(inner)


class _ProxyReader(wire.Reader):
    """A reply's values as :class:`~instructor.engine.answer.wire.Reader` reads them, but its
    models left in the answer process: proxies."""

    def __init__(self, channel: AnswerChannel, folder: Path):
        super().__init__(folder, max_bytes=channel.max_bytes)
        self.channel = channel

    def decode(self, value: Any) -> Any:
        if isinstance(value, dict) and "model" in value:
            return self.channel.proxy(int(value["handle"]))
        return super().decode(value)


_CLASSES: dict[tuple, type] = {}


def _proxy_class(kinds: list[list[str]]) -> type:
    """A class whose MRO carries the names (and modules) the object reports, so that
    :func:`helpers.grading.model_checks.is_a` and ``keras_kind`` read them."""
    key = tuple(tuple(k) for k in kinds)
    if key not in _CLASSES:
        model = any(name in ("Model", "Functional", "Sequential") for name, _ in kinds)
        base: type = RemoteModel if model else RemoteObject
        for name, module in reversed(kinds[:-1]):  # the last one is `object`
            if name in ("RemoteObject", "RemoteModel"):
                continue
            base = type(name, (base,), {"__module__": module})
        _CLASSES[key] = base
    return _CLASSES[key]


def _shaped(shape) -> SimpleNamespace:
    return SimpleNamespace(shape=tuple(shape))


class RemoteObject:
    """A Keras layer in the answer process: what it reports, and its weights."""

    def __init__(self, channel: AnswerChannel, handle: int, info: dict):
        object.__setattr__(self, "_channel", channel)
        object.__setattr__(self, "_handle", handle)
        object.__setattr__(self, "_info", info)

    def _ask(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self._channel.method(self._handle, name, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        attrs = self._info.get("attrs", {})
        if name in ("units", "filters", "padding", "rate") and name in attrs:
            return attrs[name]
        if name in ("kernel_size", "pool_size", "size", "strides") and name in attrs:
            value = attrs[name]
            return tuple(value) if isinstance(value, list) else value
        if name == "activation" and "activation" in attrs:
            return SimpleNamespace(__name__=attrs["activation"])  # as the answer process names it
        if name == "kernel" and "kernel_shape" in attrs:
            return _shaped(attrs["kernel_shape"])
        if name == "activity_regularizer":
            if not attrs.get("activity_regularizer"):
                return None
            return lambda z: np.float32(self._ask("regularize", np.asarray(z)))
        if name == "name":
            return self._info.get("name", "")
        if name == "weights":
            return [_shaped(s) for s in self._info.get(name, [])]
        if name == "layers":
            return [self._channel.proxy(h) for h in self._info.get("layers", [])]
        raise wire.Unreadable(
            f"the check asked a model of your own class (it lives in the process that "
            f"runs your answer) for {name!r}, which the grader does not forward")

    def get_weights(self) -> list[np.ndarray]:
        return list(self._ask("get_weights"))

    def set_weights(self, weights) -> None:
        self._ask("set_weights", [np.asarray(w) for w in weights])

    def __call__(self, x, **kwargs: Any) -> Any:
        self._info["last_input"] = np.asarray(x)
        return self._ask("call", np.asarray(x), **kwargs)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._info.get('name', '')!r} (in the answer process)>"


class _Optimizer:
    """The optimizer of a model in the answer process: its reported class, and its
    learning rate (which a check may set)."""

    def __init__(self, model: RemoteModel):
        self._model = model

    @property
    def learning_rate(self) -> float:
        return self._model._ask("learning_rate")

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        self._model._ask("set_learning_rate", float(value))

    def get_config(self) -> dict:
        """Adam's update settings that are not its defaults, as the answer process reports
        them (the student's claim; the step probes judge the behaviour)."""
        return dict(self._model._info.get("optimizer_settings") or {})


class RemoteModel(RemoteObject):
    """A Keras model in the answer process (see the module docstring)."""

    def __getattr__(self, name: str) -> Any:
        if name == "optimizer":
            kinds = self._info.get("optimizer")
            if kinds is None:
                return None
            name, module = (kinds[0][0], kinds[0][1]) if kinds else ("Optimizer", "")
            return type(name, (_Optimizer,), {"__module__": module})(self)
        if name == "loss":
            return self._info.get("loss")
        if name == "inputs":
            shapes = self._info.get("inputs")
            if shapes is None:
                raise AttributeError("inputs")
            return [_shaped(s) for s in shapes]
        if name == "losses":  # after a call, as Keras records them: of its last input
            last = self._info.get("last_input")
            if last is None:
                raise wire.Unreadable("the check asked for the losses of a model "
                                             "of your own class without calling it")
            return [np.float32(v) for v in self._ask("losses", last)]
        return super().__getattr__(name)

    def predict(self, x, verbose=0, **kwargs: Any) -> Any:
        return self._ask("predict", np.asarray(x), **kwargs)

    def train_on_batch(self, x, y=None, **kwargs: Any) -> Any:
        return self._ask("train_on_batch", np.asarray(x), None if y is None else np.asarray(y),
                         **kwargs)

    def reset_metrics(self) -> None:
        self._ask("reset_metrics")

    def evaluate(self, x, y=None, verbose=0, **kwargs: Any) -> Any:
        return self._ask("evaluate", np.asarray(x), None if y is None else np.asarray(y),
                         **kwargs)

    def fit(self, x, y=None, verbose=0, **kwargs: Any) -> SimpleNamespace:
        if "validation_data" in kwargs:
            kwargs["validation_data"] = tuple(np.asarray(v) for v in kwargs["validation_data"])
        history = self._ask("fit", np.asarray(x), None if y is None else np.asarray(y), **kwargs)
        return SimpleNamespace(history=history)
