"""The course on a real JupyterHub, from release to feedback, driven in Chromium.

A JupyterHub (``.venv/bin/jupyterhub``, its proxy from npm in ``build/hub/``:
``make hub-proxy``) runs on loopback as root with ``LocalProcessSpawner``, fixed
passwords, and the course's hub settings (``deploy/jupyterhub/jupyterhub_config.py``):
Unix users ``instructor``, ``alice``, ``bob`` and ``mallory`` (created if missing, homes
in a temporary folder), the instructor's clone of the course in ``~/course``, one
exchange folder. Headless Chromium (Playwright) then does what people do:

1. the instructor releases notebook 05 from Formgrader;
2. alice fetches it in the Assignment List, writes a correct ``psnr``, validates
   (Success) and submits; bob submits the stub; mallory submits a correct ``psnr`` whose
   cell displays script payloads (a PNG whose width is ``320 onload=...``, HTML with an
   ``onerror`` image, markdown with a ``javascript:`` link);
3. the instructor collects and autogrades every submission from Formgrader's buttons,
   opens each submission there (no payload may run: each calls ``alert`` with a marker,
   the page's dialogs are recorded, the link is clicked), writes a comment, generates
   and releases feedback;
4. alice fetches her feedback: 3/3 and the hidden test's message, not its code.

While Formgrader grades, the same submissions are graded by the course's own grader
(``python -m instructor autograde --skip-canary``, what ``make autograde
SKIP_CANARY=1`` runs; the canary has tests of its own) in a second copy of the course,
and the scores are compared. Screenshots go to the test's temporary folder (printed).

Needs root (``useradd``, the hub's spawner), Chromium, Playwright and the proxy: without
them the test is skipped with a message, except under ``CI=true``, where it fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from instructor.workflow.sample_class import make_notebook
from tests import needs
from tests.course_copy import ROOT, fresh_copy, gradebook_scores

pytestmark = pytest.mark.grading

A = "05_denoising_autoencoders"
NB = f"{A}.ipynb"
INSTRUCTOR = "instructor"
STUDENTS = ("alice", "bob", "mallory")
PASSWORDS = {name: f"{name}-course-hub" for name in (INSTRUCTOR, *STUDENTS)}
PROXY = ROOT / "build" / "hub" / "node_modules" / ".bin" / "configurable-http-proxy"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]

#: mallory's answer cell: the correct psnr, then three displays that each call
#: ``alert`` with a marker of their own if a browser runs them.
XSS_CODE = '''

import base64 as _b64

from IPython.display import HTML as _HTML
from IPython.display import display as _display

_PNG = _b64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
_display({"image/png": _PNG}, raw=True,
         metadata={"image/png": {"width": "320 onload=alert('XSS-PNG')", "height": "10"}})
_display(_HTML("<img src='x' onerror=\\"alert('XSS-IMG')\\"> an image that fails"))
'''
XSS_MARKDOWN = "My notes: [read me](javascript:alert('XSS-LINK'))"
MARKERS = ("XSS-PNG", "XSS-IMG", "XSS-LINK")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _missing() -> str | None:
    """What this machine lacks for the hub test, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package (pip install -e .[dev])"
    if not CHROMIUM:
        return "Chromium (Debian: apt install chromium)"
    if not PROXY.exists():
        return "configurable-http-proxy (make hub-proxy: npm install into build/hub)"
    if not Path(sys.executable).with_name("jupyterhub").exists():
        return "jupyterhub (pip install -e .[dev])"
    if os.geteuid() != 0:
        return "root (the hub starts each user's server as that user)"
    return None


#: The comment of the users this test creates: it changes no other user.
TEST_USER = "autoencoders course hub test"


def _user(name: str, home: Path) -> pwd.struct_passwd:
    """The Unix user ``name`` with ``home`` as home folder (created if missing; a user of
    that name that this test did not create stops it)."""
    try:
        found = pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--no-create-home", "--home-dir", str(home), "--comment",
                        TEST_USER, "--shell", "/bin/bash", name], check=True)
    else:
        if found.pw_gecos != TEST_USER:
            pytest.fail(f"a user {name!r} exists that the hub test did not create: "
                        "run the test on a machine without it")
        subprocess.run(["usermod", "--home", str(home), name], check=True)
    home.mkdir(parents=True, exist_ok=True)
    user = pwd.getpwnam(name)
    os.chown(home, user.pw_uid, user.pw_gid)
    return user


def _open_the_way(paths) -> dict[Path, int]:
    """Let other users reach ``paths`` (the course's Python, its environment, the data):
    add the search bit (``o+x``, not read) to each folder above them that lacks it, as
    a hub host's ``/usr`` or ``/opt`` has it. Returns the modes to put back."""
    changed = {}
    for path in paths:
        for folder in reversed(Path(path).resolve().parents):
            mode = folder.stat().st_mode
            if not mode & 0o001 and folder not in changed:
                changed[folder] = mode & 0o7777
                folder.chmod(mode & 0o7777 | 0o001)
    return changed


def _chown_tree(folder: Path, user: pwd.struct_passwd) -> None:
    subprocess.run(["chown", "-R", "--no-dereference", f"{user.pw_uid}:{user.pw_gid}",
                    str(folder)], check=True)


HUB_CONFIG = '''
import json
from jupyterhub.auth import DummyAuthenticator

c = get_config()  # noqa: F821
load_subconfig({deploy!r})  # noqa: F821  the course's hub settings

PASSWORDS = json.loads({passwords!r})


class FixedPasswords(DummyAuthenticator):
    async def authenticate(self, handler, data):
        if PASSWORDS.get(data["username"]) == data["password"]:
            return data["username"]
        return None


c.JupyterHub.authenticator_class = FixedPasswords
c.Authenticator.allowed_users = set(PASSWORDS)
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {port}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.command = [{proxy!r}]
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
c.JupyterHub.db_url = "sqlite:///{folder}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{folder}/cookie_secret"
c.JupyterHub.pid_file = "{folder}/jupyterhub.pid"
c.Spawner.cmd = [{singleuser!r}]
c.Spawner.args = ["--LabApp.expose_app_in_browser=True"]  # the test reads the page's app
c.Spawner.start_timeout = 300
c.Spawner.http_timeout = 300
c.Spawner.environment = json.loads({environment!r})
'''


@pytest.fixture(scope="module")
def hub(tmp_path_factory, data_dir, canary_cache):
    """A running hub with its users; yields what the tests need."""
    needs.need("the hub test", _missing())
    shots = tmp_path_factory.mktemp("hub")
    with contextlib.ExitStack() as cleanup:  # undone in reverse order, whatever fails
        modes = _open_the_way([Path(sys.executable).resolve(), ROOT / ".venv", data_dir])
        cleanup.callback(lambda: [folder.chmod(mode) for folder, mode in modes.items()])
        # the users' homes and the exchange: a folder every user can reach (pytest's own
        # temporary folders are the root user's alone)
        base = Path(tempfile.mkdtemp(prefix="course-hub-"))
        cleanup.callback(shutil.rmtree, base, ignore_errors=True)
        base.chmod(0o755)
        users = {name: _user(name, base / "home" / name) for name in (INSTRUCTOR, *STUDENTS)}
        # the users' servers are the hub's children's children: stop any left
        cleanup.callback(subprocess.run, ["pkill", "-u", ",".join(
            str(u.pw_uid) for u in users.values())], check=False)
        (base / "home").chmod(0o755)
        exchange = base / "exchange"
        exchange.mkdir()
        exchange.chmod(0o777)
        course = fresh_copy(Path(users[INSTRUCTOR].pw_dir) / "course")
        _chown_tree(course, users[INSTRUCTOR])
        # the instructor's `make release`, in their clone: the student version with its
        # badge, and the assignment in the gradebook (Formgrader's Generate button would
        # write the release without the badge)
        subprocess.run(["runuser", "-u", INSTRUCTOR, "--", sys.executable, "-m",
                        "instructor", "release", "--assignment", A], cwd=course, check=True,
                       capture_output=True,
                       env={**os.environ, "HOME": users[INSTRUCTOR].pw_dir})
        folder = base / "hub"
        folder.mkdir()
        port, bin_dir = _free_port(), Path(sys.executable).parent
        environment = {
            "COURSE_DATA_DIR": str(data_dir), "COURSE_MODE": "fast",
            "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin",
            "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1",
            "OMP_NUM_THREADS": "1",
        }
        (folder / "jupyterhub_config.py").write_text(HUB_CONFIG.format(
            deploy=str(ROOT / "deploy" / "jupyterhub" / "jupyterhub_config.py"),
            passwords=json.dumps(PASSWORDS), port=port, hub_port=_free_port(),
            api_port=_free_port(), proxy=str(PROXY), folder=folder,
            singleuser=str(bin_dir / "jupyterhub-singleuser"),
            environment=json.dumps(environment)))
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("JUPYTER", "COURSE_"))}
        env.update(COURSE_ROOT=str(ROOT), HUB_INSTRUCTORS=INSTRUCTOR,
                   COURSE_EXCHANGE=str(exchange), PATH=f"{bin_dir}:{env.get('PATH', '')}")
        log = cleanup.enter_context((shots / "hub.log").open("w"))
        t0 = time.monotonic()
        server = subprocess.Popen([str(bin_dir / "jupyterhub"), "-f",
                                   str(folder / "jupyterhub_config.py")], cwd=folder,
                                  env=env, stdout=log, stderr=subprocess.STDOUT)
        cleanup.callback(_stop, server)
        url = f"http://127.0.0.1:{port}"
        for _ in range(1200):
            try:
                urllib.request.urlopen(f"{url}/hub/api/", timeout=1)
                break
            except OSError:
                assert server.poll() is None, (shots / "hub.log").read_text()[-4000:]
                time.sleep(0.1)
        started = time.monotonic() - t0
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield {"url": url, "browser": browser, "shots": shots, "course": course,
                   "exchange": exchange, "users": users, "started": started, "t0": t0,
                   "homes": {n: Path(u.pw_dir) for n, u in users.items()},
                   "log": shots / "hub.log", "timings": {},
                   "canary": canary_cache, "base": base, "data": data_dir}
            browser.close()
        print(f"\nhub test files (screenshots, hub log): {shots}")


def _stop(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=60)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


class Session:
    """One person's browser session on the hub."""

    def __init__(self, hub, name: str):
        self.hub, self.name = hub, name
        self.context = hub["browser"].new_context(viewport={"width": 1400, "height": 1000})
        self.page = self.context.new_page()
        self.dialogs: list[str] = []
        self.page.on("dialog", self._dialog)
        #: what the browser could not load (a failed request, a server's error), shown when
        #: JupyterLab reports an error
        self.failed: list[str] = []
        self.page.on("requestfailed", lambda r: self.failed.append(
            f"{r.method} {r.url}: {r.failure}"))
        self.page.on("response", lambda r: r.status >= 400 and self.failed.append(
            f"{r.request.method} {r.url}: {r.status} {r.status_text}"))
        self.base = f"{hub['url']}/user/{name}"

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def shot(self, name: str) -> None:
        if "/lab" in self.page.url:
            self.no_news()
        self.page.screenshot(path=str(self.hub["shots"] / f"{name}.png"))

    def log_in(self) -> Session:
        """Log in: the hub starts the user's server (wait for it with :meth:`ready`)."""
        page = self.page
        page.goto(f"{self.hub['url']}/hub/login")
        page.fill("#username_input", self.name)
        page.fill("#password_input", PASSWORDS[self.name])
        page.click("#login_submit")
        return self

    def ready(self) -> None:
        """Wait until the hub has sent the browser to JupyterLab, and JupyterLab is up."""
        page = self.page
        for _ in range(300):
            if page.url.startswith(f"{self.base}/lab"):
                break
            log = self.hub["log"].read_text()
            assert f"Error starting server {self.name}" not in log, log[-3000:]
            page.wait_for_timeout(1000)  # (the page's events arrive while it waits)
        page.wait_for_url(f"{self.base}/lab**", wait_until="domcontentloaded", timeout=60_000)
        self.shot(f"0-{self.name}-lab")
        page.wait_for_function("() => window.jupyterapp && window.jupyterapp.started",
                               timeout=120_000)
        page.wait_for_function("() => window.jupyterapp.commands.hasCommand("
                               "'nbgrader:open-assignment-list')", timeout=120_000)
        self.no_errors()

    def no_news(self) -> None:
        """JupyterLab asks once whether to fetch its news: no (exactly "No": "Notebook"
        is a button too)."""
        self.no_errors()
        news = self.page.get_by_role("button", name="No", exact=True)
        if news.count():
            news.first.click()

    def no_errors(self) -> None:
        """JupyterLab shows no error dialog (it would stand in front of every click)."""
        errors = self.page.locator(".jp-Dialog[aria-label^='Error']")
        assert not errors.count(), (errors.first.get_attribute("aria-label"), self.failed,
                                    self.hub["log"].read_text()[-3000:])

    def command(self, command: str, args: dict | None = None):
        return self.page.evaluate("([c, a]) => window.jupyterapp.commands.execute(c, a)",
                                  [command, args or {}])

    def assignment_list(self):
        self.command("nbgrader:open-assignment-list")
        tab = self.page.locator(".lm-TabBar-tab", has_text="Assignments")
        tab.first.wait_for(timeout=60_000)
        tab.first.click()  # in front, if it was open behind a notebook
        self.page.get_by_text("Downloaded assignments").first.wait_for(timeout=60_000)
        self.page.wait_for_timeout(1000)  # the lists load

    def click_button(self, name: str, timeout: float = 120_000) -> None:
        button = self.page.get_by_role("button", name=name, exact=True).first
        button.wait_for(timeout=timeout)
        button.click()


def _student_fetches(s: Session) -> Session:
    name, hub = s.name, s.hub
    s.ready()
    s.assignment_list()
    s.click_button("Fetch")
    s.page.get_by_role("button", name="Submit", exact=True).first.wait_for(timeout=120_000)
    s.shot(f"2-{name}-fetched")
    assert (hub["homes"][name] / A / NB).is_file()
    return s


def _student_submits(s: Session) -> None:
    s.assignment_list()
    s.click_button("Submit")
    s.page.wait_for_selector("#submitted_assignments_list .list_item", timeout=120_000)
    s.shot(f"4-{s.name}-submitted")


def _write_as(user: pwd.struct_passwd, path: Path, nb) -> None:
    nbformat.write(nb, path)
    os.chown(path, user.pw_uid, user.pw_gid)


@pytest.fixture(scope="module")
def round_trip(hub):
    """Everything, once, through the pages; the tests below read what it left."""
    course, t = hub["course"], hub["timings"]
    teacher = Session(hub, INSTRUCTOR).log_in()
    # everyone logs in at once: the hub starts the four servers side by side
    sessions = {name: Session(hub, name).log_in() for name in STUDENTS}
    teacher.ready()
    fg = teacher.page
    # 1. release from Formgrader (the student version in release/ is the course's own)
    fg.goto(f"{teacher.base}/formgrader")
    row = fg.locator("tr", has_text=A).first
    row.wait_for(timeout=120_000)
    teacher.shot("1-formgrader-assignments")
    row.locator("td.release a").click()
    fg.wait_for_selector("#success-modal", timeout=120_000)
    teacher.shot("1-formgrader-released")
    fg.locator("#success-modal button.close").first.click()
    assert (hub["exchange"] / "autoencoders" / "outbound" / A / NB).is_file()

    # 2. the students
    students = {name: _student_fetches(sessions[name]) for name in STUDENTS}
    alice = students["alice"]
    answer = make_notebook(A, "correct", course)
    solution = next(c for c in answer.cells
                    if (c.metadata.get("nbgrader") or {}).get("grade_id") == "psnr-solution")
    alice.page.goto(f"{alice.base}/lab/tree/{A}/{NB}")
    alice.page.wait_for_function(
        "p => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
        " return w && w.context && w.context.path === p && w.context.isReady &&"
        " w.content.widgets.length > 0; }", arg=f"{A}/{NB}", timeout=120_000, polling=500)
    alice.page.evaluate(
        """src => { const nb = window.jupyterapp.shell.currentWidget.content;
            const cell = nb.widgets.find(c => (c.model.getMetadata('nbgrader') || {})
                .grade_id === 'psnr-solution');
            cell.model.sharedModel.setSource(src);
            const i = nb.widgets.indexOf(cell);
            nb.activeCellIndex = i; return nb.scrollToItem(i, 'center'); }""", solution.source)
    alice.command("docmanager:save")
    alice.page.wait_for_function(
        "() => !window.jupyterapp.shell.currentWidget.context.model.dirty", timeout=60_000)
    alice.shot("3-alice-answers")
    t0 = time.monotonic()
    alice.page.locator(".jp-NotebookPanel-toolbar .validate-button >> visible=true") \
        .first.click()  # the notebook's own Validate button
    dialog = alice.page.locator(".jp-Dialog")
    dialog.wait_for(timeout=600_000)
    alice.page.wait_for_function(
        "() => !document.querySelector('.jp-Dialog').innerText.includes('Validating')",
        timeout=600_000)
    t["validate"] = time.monotonic() - t0
    validated = dialog.inner_text()
    alice.shot("3-alice-validated")
    dialog.get_by_role("button").last.click()
    _student_submits(alice)
    _student_submits(students["bob"])
    mallory = students["mallory"]
    evil = make_notebook(A, "correct", course)
    at = next(i for i, c in enumerate(evil.cells)
              if (c.metadata.get("nbgrader") or {}).get("grade_id") == "psnr-solution")
    evil.cells[at].source += XSS_CODE
    evil.cells.insert(at + 1, nbformat.v4.new_markdown_cell(XSS_MARKDOWN))
    _write_as(hub["users"]["mallory"], hub["homes"]["mallory"] / A / NB, evil)
    _student_submits(mallory)

    # 3. collect, autograde, read, comment, feedback: Formgrader's buttons
    fg.goto(f"{teacher.base}/formgrader")
    row = fg.locator("tr", has_text=A).first
    row.locator("td.collect a").wait_for(timeout=60_000)
    row.locator("td.collect a").click()
    fg.wait_for_selector("#success-modal", timeout=120_000)
    teacher.shot("5-formgrader-collected")
    fg.locator("#success-modal button.close").first.click()
    # the course's own grader on the same submissions, in a second copy of the course,
    # while Formgrader grades them (its scores are compared below)
    other = fresh_copy(hub["base"] / "cli" / "course")
    shutil.copytree(course / "submitted", other / "submitted")
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}
    env.update(COURSE_MODE="fast", MPLBACKEND="Agg", COURSE_CANARY_CACHE=str(hub["canary"]),
               COURSE_DATA_DIR=str(hub["data"]))
    cli_log = (hub["shots"] / "make-autograde.log").open("w")
    t_cli = time.monotonic()
    # (without the canary: tests/test_canary.py tests it, and here it would double the
    # grading work the time budget allows)
    cli = subprocess.Popen([sys.executable, "-m", "instructor", "autograde", "--assignment",
                            A, "--jobs", "2", "--skip-canary"], cwd=other, env=env,
                           stdout=cli_log, stderr=subprocess.STDOUT)
    fg.goto(f"{teacher.base}/formgrader/manage_submissions/{A}")
    logs, t["autograde"] = {}, {}
    for name in STUDENTS:
        fg.locator("tr", has_text=name).locator("td.autograde a").first.wait_for(
            timeout=60_000)
        t0 = time.monotonic()
        fg.locator("tr", has_text=name).locator("td.autograde a").first.click()
        modal = fg.locator("#success-modal, #error-modal").first
        modal.wait_for(timeout=900_000)
        t["autograde"][name] = time.monotonic() - t0
        logs[name] = modal.inner_text()
        teacher.shot(f"6-formgrader-autograded-{name}")
        modal.locator("button.close").first.click()
        fg.wait_for_selector("#success-modal, #error-modal", state="detached",
                             timeout=30_000)
    teacher.shot("6-formgrader-submissions")
    # each submission as Formgrader shows it: a comment on the first graded cell
    seen = {}
    fg.goto(f"{teacher.base}/formgrader/gradebook/{A}/{A}")
    fg.locator("td.name a >> visible=true").first.wait_for(timeout=60_000)
    teacher.shot("7-formgrader-manual-grading")
    with sqlite3.connect(course / "gradebook.db") as db:  # Formgrader's submission ids
        ids = dict(db.execute(
            "SELECT submitted_assignment.student_id, submitted_notebook.id "
            "FROM submitted_notebook JOIN submitted_assignment "
            "ON submitted_notebook.assignment_id = submitted_assignment.id").fetchall())
    for name in STUDENTS:
        before = len(teacher.dialogs)
        fg.goto(f"{teacher.base}/formgrader/submissions/{ids[name]}/")
        fg.wait_for_selector("textarea.comment", timeout=120_000)
        fg.wait_for_timeout(2000)  # images load, handlers (if any) fire
        # a javascript: link runs only when clicked: click every link that says so
        for anchor in fg.locator("#notebook a", has_text="read me").all():
            anchor.click(timeout=10_000, no_wait_after=True)
        fg.wait_for_timeout(1000)
        comment = fg.locator("textarea.comment").first
        comment.fill(f"Read by the instructor: {name}.")
        comment.blur()
        fg.wait_for_selector(".comment-saved >> visible=true", timeout=60_000)
        teacher.shot(f"7-formgrader-submission-{name}")
        seen[name] = {"dialogs": teacher.dialogs[before:], "url": fg.url,
                      "html": fg.content()}
    fg.goto(f"{teacher.base}/formgrader")
    row = fg.locator("tr", has_text=A).first
    for step in ("generate-feedback", "release-feedback"):
        row.locator(f"td.{step} a").wait_for(timeout=60_000)
        row.locator(f"td.{step} a").click()
        modal = fg.locator("#success-modal, #error-modal").first
        modal.wait_for(timeout=600_000)
        logs[step] = modal.inner_text()
        teacher.shot(f"8-formgrader-{step}")
        modal.locator("button.close").first.click()
        fg.wait_for_selector("#success-modal, #error-modal", state="detached",
                             timeout=30_000)

    # 4. alice reads her feedback
    alice.assignment_list()
    alice.click_button("Fetch Feedback")
    pages = []
    for _ in range(120):
        pages = sorted((hub["homes"]["alice"] / A / "feedback").glob(f"*/{A}.html"))
        if pages:
            break
        alice.page.wait_for_timeout(1000)
    assert pages, "alice's feedback did not arrive"
    relative = pages[0].relative_to(hub["homes"]["alice"]).as_posix()
    alice.page.goto(f"{alice.base}/files/{relative}")
    alice.page.wait_for_load_state()
    alice.shot("9-alice-feedback")
    feedback = alice.page.inner_text("body")
    t["browser"] = time.monotonic() - hub["t0"]

    cli.wait(timeout=900)
    cli_log.close()
    t["make autograde"] = time.monotonic() - t_cli
    cli_out = (hub["shots"] / "make-autograde.log").read_text()
    assert cli.returncode == 0, cli_out[-4000:]
    notes = {name: [(c / "autograded" / name / A / "GRADING_NOTES.txt").is_file()
                    for c in (course, other)] for name in STUDENTS}
    print(f"\nGRADING_NOTES.txt (Formgrader, the course's autograde): {notes}")
    t["total"] = time.monotonic() - hub["t0"]
    each = ", ".join(f"{n} {v:.1f} s" for n, v in t["autograde"].items())
    print(f"\nhub started in {hub['started']:.1f} s; Validate {t['validate']:.1f} s; "
          f"Formgrader's Autograde: {each}; the course's autograde (beside it) "
          f"{t['make autograde']:.1f} s; through the browser {t['browser']:.1f} s; "
          f"in all {t['total']:.1f} s; screenshots in {hub['shots']}")
    return {"validated": validated, "logs": logs, "notes": notes, "seen": seen,
            "feedback": feedback,
            "hub_scores": gradebook_scores(course),
            "cli_scores": gradebook_scores(other), "cli": cli_out,
            "course": course, "other": other, "timings": t}


def test_validate_says_success_for_a_correct_answer(round_trip):
    assert "Success! Your notebook passes all the tests." in round_trip["validated"], \
        round_trip["validated"][-2000:]


def test_no_payload_runs_in_formgraders_view_of_a_submission(round_trip):
    seen = round_trip["seen"]
    assert set(seen) == set(STUDENTS)
    ran = {name: v["dialogs"] for name, v in seen.items() if v["dialogs"]}
    assert not ran, f"scripts ran in Formgrader: {ran}"
    # the payloads were there to run: mallory's page shows her displays and her note
    assert "My notes" in seen["mallory"]["html"]


def test_formgraders_autograde_grades_as_the_course_does(round_trip):
    # mallory's answer imports IPython's display: her tests wait for the instructor's
    # review (docs/graded-work.md) and score 0 until then, on either path
    assert round_trip["hub_scores"] == {"alice": 3, "bob": 0, "mallory": 0}, \
        (round_trip["hub_scores"], round_trip["logs"])
    assert round_trip["cli_scores"] == round_trip["hub_scores"], round_trip["cli"][-3000:]
    for name in STUDENTS:
        # the course's markers: graded in the sandbox, tests checked outside the kernel
        graded = nbformat.read(round_trip["course"] / "autograded" / name / A / NB, 4)
        assert graded.metadata.kernelspec.name == "autoencoders-course"
        marks = graded.metadata["course_grading"]
        assert marks["isolation"] == "bubblewrap", marks
        assert "checks (waited for)" in marks["seconds"], marks
        # Formgrader says what its button leaves out; the course's own run does not
        assert "Graded by nbgrader's own Autograde" in round_trip["logs"][name]
        log = round_trip["other"] / "grading_logs" / f"{name}__{A}.log"
        assert "Graded by nbgrader's own Autograde" not in log.read_text()
    # why mallory's tests wait for review: said by the course's run only
    notes = round_trip["other"] / "autograded" / "mallory" / A / "GRADING_NOTES.txt"
    assert "needs the instructor's review" in notes.read_text()
    assert round_trip["notes"]["mallory"] == [False, True]


def test_alice_sees_three_of_three_and_the_hidden_tests_message_not_its_code(round_trip):
    text = round_trip["feedback"]
    assert "3 / 3" in text or "3.0 / 3.0" in text, text[:2000]
    assert "Hidden tests check other image shapes" in text
    assert "_hidden_psnr_tests" not in text and "BEGIN HIDDEN TESTS" not in text
    assert "Read by the instructor: alice." in text


def _nbgrader_menu(s: Session) -> list[str]:
    """Open JupyterLab's Nbgrader menu (as a person clicks it): its visible entries."""
    s.page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").first.click()
    menu = s.page.locator(".lm-Menu").last
    menu.wait_for(timeout=30_000)
    return [label.strip() for label in
            menu.locator(".lm-Menu-item:visible .lm-Menu-itemLabel").all_inner_texts()]


def test_the_instructor_opens_formgrader_from_jupyterlabs_menu_and_a_student_cannot(hub):
    teacher, alice = Session(hub, INSTRUCTOR).log_in(), Session(hub, "alice").log_in()
    teacher.ready()
    assert "Formgrader" in _nbgrader_menu(teacher)
    teacher.page.locator(".lm-Menu .lm-Menu-item:visible").get_by_text(
        "Formgrader", exact=True).first.click()
    # Formgrader in JupyterLab's own tab (a frame of the instructor's server): its list
    # of assignments, not a refused frame
    frame = teacher.page.frame_locator("#formgrader-iframe iframe")
    frame.locator("tr", has_text=A).first.wait_for(timeout=60_000)
    teacher.shot("10-formgrader-from-the-menu")
    # only the instructor's own pages may frame it: a page of another user's server on
    # the same origin (alice's), or one without a Referer, is refused
    policies, page = {}, f"{teacher.base}/formgrader/manage_assignments"
    for who, referer in (("own", f"{teacher.base}/lab"),
                         ("alice", f"{hub['url']}/user/alice/lab"), ("none", None)):
        answer = teacher.context.request.get(page, max_redirects=0, headers=(
            {"Referer": referer} if referer else {}))
        assert answer.status == 200, (who, answer.status)
        policies[who] = answer.headers["content-security-policy"]
    assert "frame-ancestors 'self'" in policies["own"], policies
    assert "frame-ancestors 'none'" in policies["alice"], policies
    assert "frame-ancestors 'none'" in policies["none"], policies
    # the rest of the instructor's server keeps the hub's header
    lab = teacher.context.request.get(f"{teacher.base}/lab",
                                      headers={"Referer": f"{teacher.base}/lab"})
    assert "frame-ancestors 'none'" in lab.headers["content-security-policy"]
    # a student's Nbgrader menu has the Assignment List and no Formgrader
    alice.ready()
    entries = _nbgrader_menu(alice)
    alice.shot("10-alice-nbgrader-menu")
    assert "Assignment List" in entries and "Formgrader" not in entries, entries
