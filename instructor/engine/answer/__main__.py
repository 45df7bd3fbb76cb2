"""A student's answer cells, run in a process of their own that answers data requests
(docs/grading.md, "The answer process"), under the grading sandbox; nothing imports it::

    python -P -m instructor.engine.answer REQUESTS_FD REPLIES_FD STRIPPED_DIR \
        [REPORT_FD CELL_TIMEOUT OUTPUT_BYTES] < SOURCES

Standard input brings the setup sources, then each task's context and answer cells (a
namespace per task); replies are data (:class:`.wire.Writer`), never objects or code.
IPython's ``run_cell`` is not used: it keeps all a cell prints in its history.
"""

from __future__ import annotations

import ast
import base64
import contextlib
import functools
import io
import json
import os
import signal
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

from . import lazy, protocol
from .protocol import error_message
from .step import ROUTED_KEY, arrays, behaviour, shadowed

#: Why a name of the notebook's other cells is missing here.
ALONE = ("the grader runs your answer cells on their own: define everything your answer "
         "uses inside them")
#: How much of what the student's code prints the log keeps.
LOG_BYTES = 2 ** 20


class Answers:
    """The answer process's state: namespaces per task, and the objects it handed out."""

    def __init__(self, work: Path):
        self.work = work
        self.base: dict = {"__name__": "__main__"}
        self.setup_error: str | None = None
        self.tasks: dict[str, dict] = {}
        self.errors: dict[str, str] = {}
        self.objects: dict[int, object] = {}
        self.calls = 0
        self.shell = None
        #: where the answer cells' outputs go (None: nowhere), their caps, cells done
        self.report: int | None = None
        self.cell_timeout, self.output_bytes = 0, LOG_BYTES
        self.reported: set[int] = set()

    def _ipython(self) -> None:
        """What notebook code may expect of IPython (``get_ipython()``, ``display``, magics)."""
        try:
            from IPython.core.interactiveshell import InteractiveShell
            from IPython.display import display
        except ImportError:
            return
        self.shell = InteractiveShell.instance()
        self.shell.enable_gui = lambda gui=None: None  # %matplotlib: no event loop here
        history: list[str] = [""]
        self.base.update(get_ipython=lambda: self.shell, display=display, In=history,
                         _ih=history, Out={}, _oh={})

    def _run(self, source: str, name: str, namespace: dict, outputs=None) -> None:
        """Run one cell; with ``outputs``, its last expression shown, as in a kernel."""
        if self.shell is not None:
            namespace.get("In", []).append(source)
            source = self.shell.transform_cell(source)
        tree = ast.parse(source, name)
        shown = outputs is not None and tree.body and isinstance(tree.body[-1], ast.Expr)
        last = ast.Interactive([tree.body.pop()]) if shown else None
        exec(compile(tree, name, "exec"), namespace)  # noqa: S102
        if last is not None:
            exec(compile(last, name, "single"), namespace)  # noqa: S102

    def parses(self, source: str) -> bool:
        """Whether ``source`` is Python, as :meth:`_run` would run it."""
        try:
            ast.parse(self.shell.transform_cell(source) if self.shell else source)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return False
        return True

    def run_setup(self, sources: list[str]) -> None:
        self._ipython()
        for source in sources:
            try:
                self._run(source, "<grade-setup>", self.base)
            except Exception as err:  # noqa: BLE001 - reported with every request
                self.setup_error = error_message(err)
                return

    def run_tasks(self, tasks: dict) -> None:
        """Each task's context cells, then its answer cells. A failed context cell fails
        every call; of the answer cells the last one decides: one that runs supersedes a draft."""
        for task, sources in tasks.items():
            namespace = dict(self.base)
            self.tasks[task] = namespace
            context_error = answer_error = None
            for kind in ("context", "answers"):
                if kind == "answers":
                    _register_course_classes(namespace)
                for item in sources.get(kind, []):
                    index, source = item if isinstance(item, list) else (None, item)
                    outputs = None
                    if index is not None and index not in self.reported:
                        outputs = CellOutputs(index, self.report, self.output_bytes)
                        self.reported.add(index)
                    try:
                        with _captured(outputs, self.cell_timeout):
                            self._run(source, f"<{kind} {task}>", namespace, outputs)
                        if kind == "answers":
                            answer_error = None
                    except (Exception, CellTimeoutError) as err:  # noqa: BLE001 - reported
                        if outputs is not None:
                            outputs.error(err)
                        if kind == "answers":
                            answer_error = f"{error_message(err)} (in your answer cell)"
                        else:
                            context_error = context_error or error_message(err)
                    if outputs is not None:
                        outputs.end()
            if context_error or answer_error:
                self.errors[task] = context_error or answer_error

    def handle(self, request: dict) -> dict:
        op = request.get("op")
        try:
            if op == "call":
                return self._call(request)
            if op == "describe":
                return {"objects": self._describe(int(request["handle"]))}
            if op == "method":
                return self._method(request)
        except Exception as err:  # noqa: BLE001 - the student's code raised: say what
            if type(err) is _course_exception():  # the stripped helpers' own, by identity
                return {"course": str(err)[:2000]}
            return {"raised": [type(err).__name__, str(err)[:2000]]}
        return {"error": f"unknown request {op!r}"}

    def _call(self, request: dict) -> dict:
        task, name = request["task"], request["name"]
        if self.setup_error:
            return {"failed": f"the setup cell failed in the answer process ({self.setup_error})"}
        if task in self.errors:
            return {"failed": self.errors[task]}
        function = self.tasks.get(task, {}).get(name)
        if not callable(function):
            return {"failed": f"your answer cells do not define {name} ({ALONE})"}
        wire = _wire()
        args, kwargs = wire.Reader().decode(request["args"])
        import numpy as np

        copies = [np.array(a, copy=True) if isinstance(a, np.ndarray) else None for a in args]
        try:
            result = function(*args, **kwargs)
        except NameError as err:  # it passed in the kernel: the name is another cell's
            return {"failed": f"{error_message(err)} ({ALONE})"}
        reply = self._encode_result(result)
        changed = {str(i): wire.Writer().encode(a) for i, (a, c) in enumerate(zip(args, copies))
                   if c is not None and not (isinstance(a, np.ndarray) and a.shape == c.shape
                                             and np.array_equal(a, c, equal_nan=True))}
        if changed:
            reply["changed_args"] = changed
        return reply

    def _encode_result(self, result) -> dict:
        """The result as data, its models as ``.keras`` files. Whether a model is Keras'
        own the checking process decides (it loads the file and proves the copy); one
        whose saving raises (its own code may run then) stays here, asked by its handle."""
        wire = _wire()
        self.calls += 1
        folder = Path(tempfile.mkdtemp(prefix=f"result-{self.calls}-", dir=self.work))
        writer = wire.Writer(folder, "r")
        try:
            encoded = writer.encode(result)
        except wire.NotData as err:  # not data: the instructor decides
            return {"error": f"your function returned {err}, which the grader cannot "
                             "check outside your notebook"}
        for model, entry in writer.models:  # the checker may ask for it by its handle
            entry["handle"] = self.remember(model)
        saved = True
        try:
            for model, entry in writer.models:
                entry["variables"] = _as_trained(model)
            writer.save_models()
        except Exception:  # noqa: BLE001 - whatever saving raised: not saved
            saved = False
            for _model, entry in writer.models:  # they stay here; arrays travel
                entry["model"] = None
        reply = {"result": encoded, "files": {
            path.name: base64.b64encode(path.read_bytes()).decode()
            for path in folder.iterdir() if saved or path.suffix == ".npy"}}
        return {**reply, "shared": True} if writer.shared else reply

    def remember(self, obj) -> int:
        handle = id(obj)
        self.objects[handle] = obj
        return handle

    def _describe(self, handle: int) -> dict:
        """The object ``handle`` and its layers, for the checker's proxies (a mere claim)."""
        found: dict[str, dict] = {}
        todo = [self.objects[handle]]
        while todo:
            obj = todo.pop()
            key = self.remember(obj)
            if str(key) in found:
                continue
            info = describe(obj)
            info["layers"] = [self.remember(layer) for layer in getattr(obj, "layers", [])
                              or []]
            todo.extend(self.objects[h] for h in info["layers"])
            found[str(key)] = info
        return found

    def _method(self, request: dict) -> dict:
        obj = self.objects[int(request["handle"])]
        name = request["name"]
        args, kwargs = _wire().Reader().decode(request.get("args", [[], {}]))
        if name not in METHODS:
            return {"error": f"the checker cannot ask for {name!r}"}
        return {"value": _wire().Writer().encode(METHODS[name](obj, *args, **kwargs))}


def _course_exception() -> type | None:
    """The stripped helpers' exception class itself (not a student's namesake)."""
    module = sys.modules.get("helpers.grading")
    return getattr(module, "UsesCourseImplementation", None) if module else None


def _wire():
    """:mod:`.wire`, imported once ``helpers`` is (the stripped copy's)."""
    from . import wire

    return wire


def _register_course_classes(namespace: dict) -> None:
    """Register with Keras the classes the setup and context cells defined (``namespace``
    before any answer cell runs) as :data:`.protocol.KERAS_PACKAGE`'s, as files name them."""
    for name, value in namespace.items():
        # type(value): isinstance would read a lazy module's __class__, loading it whole
        if issubclass(type(value), type) and hasattr(value, "get_config"):  # Keras' kind
            from keras.saving import register_keras_serializable

            register_keras_serializable(protocol.KERAS_PACKAGE, name)(value)


def _as_trained(model) -> list:
    """Set ``model``'s compile configuration (its file records it) to the loss and
    optimizer its training uses (not ``model.loss``, which a second ``compile`` may leave
    behind); return each weight's trainable flag and constraint, which no file holds."""
    config = getattr(model, "_compile_config", None)
    if hasattr(config, "config"):  # Keras 3's compiled loss, or tf_keras'
        compiled = getattr(model, "_compile_loss", None) or getattr(model, "compiled_loss", None)
        model._compile_config = type(config)(**{
            **config.config, "optimizer": model.optimizer,
            "loss": getattr(compiled, "_user_loss", getattr(compiled, "_user_losses", None)),
            "loss_weights": getattr(getattr(model, "_compile_loss", None), "_user_loss_weights",
                                    config.config.get("loss_weights"))})
    return [[bool(v.trainable), (c := getattr(v, "constraint", None)) and [
        type(c).__name__, c.get_config()]] for v in model.weights]


def _kinds(obj) -> list[list[str]]:
    return [[c.__name__, c.__module__] for c in type(obj).__mro__]


def describe(obj) -> dict:
    """What a proxy of a Keras model or layer reports: its classes, attributes, weights."""
    from helpers.grading import model_checks

    info: dict = {"kinds": _kinds(obj), "name": str(getattr(obj, "name", ""))}
    attrs = {}
    for attr in ("units", "filters", "kernel_size", "padding", "pool_size", "size",
                 "strides", "rate"):
        value = getattr(obj, attr, None)
        if isinstance(value, int | str | tuple | list) and not isinstance(value, bool):
            attrs[attr] = list(value) if isinstance(value, tuple) else value
    activation = getattr(obj, "activation", None)
    if activation is not None:
        attrs["activation"] = getattr(activation, "__name__", None) or type(activation).__name__
    kernel = getattr(obj, "kernel", None)
    if kernel is not None and hasattr(kernel, "shape"):
        attrs["kernel_shape"] = [int(d) for d in kernel.shape]
    attrs["activity_regularizer"] = getattr(obj, "activity_regularizer", None) is not None
    info["attrs"] = attrs
    info["weights"] = [[int(d) for d in w.shape] for w in getattr(obj, "weights", None) or []]
    try:
        info["inputs"] = [[None if d is None else int(d) for d in t.shape]
                          for t in (getattr(obj, "inputs", None) or [])]
    except (AttributeError, ValueError, TypeError):
        info["inputs"] = None
    optimizer = getattr(obj, "optimizer", None)
    if optimizer is not None:
        optimizer = getattr(optimizer, "inner_optimizer", None) or optimizer
        info["optimizer"] = _kinds(optimizer)
        settings = model_checks.optimizer_settings(optimizer).items()
        info["optimizer_settings"] = {k: v for k, v in settings
                                      if v is None or isinstance(v, bool | int | float | str)}
    loss = getattr(obj, "loss", None)
    if loss is not None:
        info["loss"] = model_checks.loss_name(obj)
    return info


def _fit(model, *args, **kwargs):
    kwargs["verbose"] = 0
    return {k: [float(x) for x in v] for k, v in model.fit(*args, **kwargs).history.items()}


def _train_on_batch(model, *args, **kwargs):
    logs = model.train_on_batch(*args, **kwargs)
    if isinstance(logs, dict):
        return {k: float(v) for k, v in logs.items()}
    return logs if isinstance(logs, float | int) else [float(v) for v in logs]


def _evaluate(model, *args, **kwargs):
    kwargs["verbose"] = 0
    result = model.evaluate(*args, **kwargs)
    return float(result) if isinstance(result, float | int) else [float(v) for v in result]


def _losses(model, x):
    import keras

    model(x)
    return [float(keras.ops.convert_to_numpy(v)) for v in model.losses]


def _regularize(layer, z):
    import keras

    return float(keras.ops.convert_to_numpy(layer.activity_regularizer(
        keras.ops.convert_to_tensor(z))))


#: What the checker may ask of a model or a layer.
METHODS = {
    "call": lambda obj, x, **kw: arrays(obj(x, **kw)),
    "predict": lambda obj, x, **kw: arrays(obj.predict(x, verbose=0, **kw)),
    "get_weights": lambda obj: [arrays(w) for w in obj.get_weights()],
    "set_weights": lambda obj, weights: obj.set_weights(weights),
    "set_learning_rate": lambda obj, value: setattr(obj.optimizer, "learning_rate",
                                                    float(value)),
    "learning_rate": lambda obj: float(obj.optimizer.learning_rate),
    "train_on_batch": _train_on_batch,
    "reset_metrics": lambda obj: obj.reset_metrics(),
    "evaluate": _evaluate,
    "fit": _fit,
    "losses": _losses,
    "regularize": _regularize,
    "step": lambda obj, *args, **kw: {**behaviour(obj, *args, **kw),
                                      ROUTED_KEY: ", ".join(shadowed(obj))},
}


class CellTimeoutError(BaseException):
    """An answer cell past its timeout; a ``BaseException``, past ``except Exception``."""

    def __init__(self, seconds: int):
        super().__init__(f"this cell ran longer than {seconds} s and was stopped (an "
                         "infinite loop, or far too much work?) (COURSE_CELL_TIMEOUT)")


class CellOutputs:
    """One answer cell's outputs as a kernel would send them, kept up to ``limit``
    bytes and one more, then dropped: the grader, which trusts nothing of this process,
    sees the cell past its cap. Each goes to the report (:class:`.protocol.Report`) as it
    comes, a stream's writes batched (:data:`FLUSH_SECONDS`, :data:`FLUSH_CHARS`)."""

    def __init__(self, index: int, fd: int | None, limit: int):
        self.index, self.fd, self.left = index, fd, limit
        self.cut = False  # past the cap, or ended
        self.lock = threading.RLock()  # the cell's threads print too
        self.pending: list[str] = []  # a stream's writes not yet sent, and its name
        self.name, self.size, self.since = "stdout", 0, 0.0
        self._send({})

    def _send(self, message: dict) -> None:
        """``message``, after the stream's pending writes."""
        with self.lock:
            if self.pending:
                text, self.pending, self.size = "".join(self.pending), [], 0
                self._write({"output": {"output_type": "stream", "name": self.name,
                                        "text": text}})
            if message is not None:
                self._write(message)

    def _write(self, message: dict) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):  # closed by the student's code
                protocol.write_frame(self.fd, {"cell": self.index, **message})

    def flush(self) -> None:
        self._send(None)

    def _fits(self, text: str) -> bool:
        """Whether ``text`` is kept; the first output past the cap leaves one byte past it."""
        if self.cut:
            return False
        if len(text) > self.left:
            self.cut = True
            self._stream("stderr", text[:self.left + 1])
            return False
        self.left -= len(text)
        return True

    def stream(self, name: str, text: str) -> None:
        with self.lock:
            if text and self._fits(text):
                self._stream(name, text)

    def _stream(self, name: str, text: str) -> None:
        if self.pending and name != self.name:
            self.flush()
        if not self.pending:
            self.name, self.since = name, time.monotonic()
        self.pending.append(text)
        self.size += len(text)
        if self.size >= FLUSH_CHARS or time.monotonic() - self.since >= FLUSH_SECONDS:
            self.flush()

    def result(self, value) -> None:
        from IPython.core.interactiveshell import InteractiveShell

        data, metadata = InteractiveShell.instance().display_formatter.format(value)
        self.publish(data, metadata, "execute_result")

    def publish(self, data, metadata=None, kind: str = "display_data", **_ignored) -> None:
        data = {str(k): base64.b64encode(v).decode() if isinstance(v, bytes) else v
                for k, v in dict(data or {}).items()}  # binary data as a kernel sends it
        output = {"output_type": kind, "data": data, "metadata": dict(metadata or {})}
        if kind == "execute_result":
            output["execution_count"] = None
        text = json.dumps(output, default=str)  # whatever it holds, as JSON
        with self.lock:
            if self._fits(text):
                self._send({"output": json.loads(text)})

    def error(self, err: BaseException) -> None:
        """The cell's error, its traceback from the cell's own frames down."""
        frames = [line for line in traceback.format_tb(err.__traceback__)
                  if __file__ not in line][-40:]
        self._error(type(err).__name__, str(err)[:2000], frames)

    def _error(self, ename: str, evalue: str, frames: list[str] = ()) -> None:
        self._send({"output": {"output_type": "error", "ename": ename, "evalue": evalue,
                               "traceback": [*frames, f"{ename}: {evalue}"]}})

    def end(self) -> None:
        with self.lock:
            self._send({"end": True})
            self.cut = True  # a later write (a thread, a handler that kept the stream): dropped


#: How long, and how much, a stream's writes wait to be sent together.
FLUSH_SECONDS, FLUSH_CHARS = 0.1, 64 * 1024


class _Stream(io.TextIOBase):
    """A ``sys.stdout`` or ``sys.stderr`` whose writes go to ``sink`` and never fail."""

    encoding, errors = "utf-8", "replace"  # what code that inspects sys.stdout expects

    def __init__(self, sink, flush=None):
        super().__init__()
        self.sink, self._flush = sink, flush

    def flush(self) -> None:
        if self._flush is not None:
            self._flush()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.sink(str(text))
        return len(text)


@contextlib.contextmanager
def _captured(outputs: CellOutputs | None, timeout: int):
    """While a cell runs: its timeout (0: none), and its outputs into ``outputs`` (None: log)."""
    from IPython.core.interactiveshell import InteractiveShell

    publisher = InteractiveShell.instance().display_pub
    saved = sys.stdout, sys.stderr, sys.displayhook, publisher.publish

    def stop(_signum, _frame):
        raise CellTimeoutError(timeout)

    previous = signal.signal(signal.SIGALRM, stop)
    if outputs is not None:
        sys.stdout, sys.stderr = (_Stream(functools.partial(outputs.stream, name),
                                          outputs.flush) for name in ("stdout", "stderr"))
        sys.displayhook = lambda value: value is None or outputs.result(value)
        publisher.publish = outputs.publish
    signal.alarm(max(0, int(timeout)))
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        sys.stdout, sys.stderr, sys.displayhook, publisher.publish = saved


def capped_log(fd: int, limit: int = LOG_BYTES) -> _Stream:
    """The process's stdout and stderr: the first ``limit`` bytes to the log, the rest
    dropped; a write never fails (the file cap would make ``print`` raise)."""
    left = limit

    def sink(text: str) -> None:
        nonlocal left
        if left > 0:
            data = text.encode("utf-8", "replace")[:left]
            left -= len(data)
            try:
                os.write(fd, data)
            except OSError:
                left = 0

    return _Stream(sink)


def main() -> None:
    requests, replies, stripped = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    work = Path.cwd()
    log = os.open(work / "answers.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    sys.stdout = sys.stderr = capped_log(log)
    if stripped:
        from .activation import activate

        activate(Path(stripped))
    lazy.install()
    answers = Answers(work)
    if len(sys.argv) > 4:
        answers.report = int(sys.argv[4])
        answers.cell_timeout, answers.output_bytes = int(sys.argv[5]), int(sys.argv[6])
    answers.run_setup((protocol.told() or {}).get("setup", []))  # the grader's
    tasks = (protocol.told() or {}).get("tasks", {})
    # before any student code runs, if a cell that can run names one
    lazy.load([s for t in tasks.values() for kind in ("context", "answers")
               for s in (i[1] if isinstance(i, list) else i for i in t.get(kind, []))
               if answers.parses(s)])
    answers.run_tasks(tasks)
    if answers.report is not None:
        with contextlib.suppress(OSError):
            protocol.write_frame(answers.report, {"done": True})
    while True:
        try:
            request = protocol.read_frame(requests)
        except EOFError:
            return
        try:
            reply = answers.handle(request)
            protocol.write_frame(replies, reply)
        except Exception:  # noqa: BLE001 - a reply that cannot be sent: say so, go on
            traceback.print_exc()
            protocol.write_frame(replies, {"failed": "the answer process could not send its reply"})


if __name__ == "__main__":
    main()
