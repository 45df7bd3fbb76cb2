# The course's task runner. `make lab` and `make test` set everything up first.
# Setup is idempotent: the virtual environment is rebuilt only when the content of
# requirements.txt (the pins) or pyproject.toml (the packages and their extras) changes.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
# Named by the content setup installs from, not by its files' times, which a fresh
# clone, a checkout or a copy sets anew (the hub image writes the same name).
SETUP_KEY := $(shell cat requirements.txt pyproject.toml | cksum | tr ' ' -)
STAMP  := $(VENV)/.installed-$(SETUP_KEY)
KERNEL := autoencoders-course

# Tests and grading read data from here when nothing else is set.
COURSE_DATA_DIR ?= $(if $(wildcard ../shared/data),$(abspath ../shared/data),)
export COURSE_DATA_DIR

PYTEST_ARGS ?= -n 2 --dist loadfile --no-loadscope-reorder --durations=40
# Two workers already keep both cores busy: each TensorFlow process (notebook kernels,
# grading kernels and checkers) gets one thread instead of one per core.
TEST_THREADS ?= TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1 OMP_NUM_THREADS=1
# COURSE_WEIGHTS=require: a notebook whose shipped weights are missing or stale fails
TEST_ENV := $(TEST_THREADS) COURSE_MODE=fast COURSE_WEIGHTS=require MPLBACKEND=Agg

.PHONY: setup lab lab-source test test-quick test-colab test-image test-gradescope lint strip clean help site hub-proxy

help:
	@echo "make lab    set up and open your own copy of the course (work/) in JupyterLab"
	@echo "make lab-source   authors and instructors: open notebooks/ (the answer key)"
	@echo "make test   set up and run the whole test suite (lint, helpers, grading, notebooks)"
	@echo "     [TESTS=\"notebooks/10_x tests/test_x.py\"]   pytest on these paths only"
	@echo "make test-quick   the suite without notebook runs and grading kernels (~1 min)"
	@echo "make test-colab   every notebook in a Colab-like environment (Python 3.13)"
	@echo "make test-image   only the hub's images, built with podman and run (root; apt podman mmdebstrap runc)"
	@echo "make test-gradescope   only Gradescope's autograder, in a Gradescope-like image (as test-image)"
	@echo "make hub-proxy   JupyterHub's proxy from npm into build/hub (the hub test)"
	@echo "make lint   ruff only;  make strip  store notebooks/ in their stored form (no outputs)"
	@echo "make clean  remove the virtual environment"
	@echo "make site   the course website in build/site/html (every notebook run in full mode)"
	@echo "make release | solutions | sample-class | collect | autograde [SHARD=I/N] | merge-shards"
	@echo "     | feedback | grades | report | similarity | lms-export LMS=canvas|moodle FROM=<csv>"
	@echo "     | lms-feedback [LMS=canvas|moodle] | gradescope (build/gradescope/<ASSIGNMENT>/autograder.zip)"
	@echo "make slurm-cluster [CPUS=n]   a one-node Slurm cluster here, to try deploy/slurm/ (root; docs/schedulers.md)"
	@echo "make bench-notebooks | bench-reference | bench-grading | bench-slurm | bench-similarity   (docs/results.md)"
	@echo "make weights [NOTEBOOKS=\"04 08\"]   retrain the shipped pre-trained weights (full mode)"

# Setup installs with uv (what pip would install, with the bytecode compiled as pip does:
# a grading user cannot write it), pip if uv cannot: about 35 s against pip's 110 s here.
UV_VERSION := 0.13.9
setup: $(STAMP)

$(STAMP):
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), \
		"Python 3.11 is required, found " + sys.version.split()[0]'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet uv==$(UV_VERSION) && $(BIN)/uv pip install --quiet \
		--compile-bytecode --python $(BIN)/python -r requirements.txt -e ".[dev]" \
		|| $(BIN)/python -m pip install --quiet -r requirements.txt -e ".[dev]"
	$(BIN)/python -m pip check
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL) \
		--display-name "Python 3 (autoencoders course)"
	rm -f $(VENV)/.installed*
	touch $(STAMP)

# Students: your own copy of the student version, in work/ (git-ignored). It is made
# from release/ on first use; later runs add new notebooks and never write over yours.
# nbgrader's instructor tools are off there (scripts/student_lab/).
WORK ?= work
# Jupyter refuses to run as root (a container, say) unless told it may.
LAB_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)
lab: setup
	$(BIN)/python scripts/workspace.py --work $(WORK)
	cd $(WORK) && JUPYTER_CONFIG_PATH=$(abspath scripts/student_lab) \
		$(abspath $(BIN))/jupyter lab $(LAB_ROOT)

# Authors and instructors: the source notebooks (solutions and hidden tests included);
# notebooks in notebooks/, release/ and solutions/ are saved without outputs.
lab-source: setup
	$(BIN)/jupyter lab $(LAB_ROOT) --config=scripts/author_lab_config.py notebooks/

lint: setup
	$(BIN)/ruff check .

# The whole suite (tests/suite.sh): the hub's images beside the Colab-like run, which
# executes every notebook once and records it, then pytest on the rest, the notebooks
# checked on those records (a notebook without a fresh one is executed by pytest).
# TESTS: pytest on these paths only, e.g. make test TESTS="notebooks/10_x tests/test_x.py"
# (REUSE_RUNS=0: notebooks executed by pytest even when the Colab-like run recorded them)
TESTS ?=
REUSE_RUNS ?= 1
test: setup lint hub-proxy
ifeq ($(strip $(TESTS)),)
	COLAB_PYTHON="$(COLAB_PYTHON)" bash tests/suite.sh
else
	$(TEST_ENV) REUSE_NOTEBOOK_RUNS=$(REUSE_RUNS) $(BIN)/python -m pytest $(PYTEST_ARGS) \
		--nbval-lax --nbval-current-env $(TESTS)
endif

# The hub's images built with podman on a Debian base made by mmdebstrap, and run
# (tests/test_image.py): that file alone; `make test` runs it beside the Colab-like run.
test-image: setup
	$(TEST_ENV) $(BIN)/python -m pytest -n 0 -s tests/test_image.py

# Gradescope's autograder (make gradescope) for 02 and 05 in a Gradescope-like image built
# with podman on the hub image's layers (tests/test_gradescope.py): each answer key graded
# by run_autograder, for 05 also the stub, a wrong answer and an attacker; `make test` runs
# it after test-image.
test-gradescope: setup
	$(TEST_ENV) $(BIN)/python -m pytest -n 0 -s tests/test_gradescope.py

# The hub test (tests/test_hub.py) runs a real JupyterHub: the hub comes with the dev
# extra, its proxy (configurable-http-proxy) from npm into build/hub/, never globally.
# Without npm the hub test is skipped (and fails under CI=true).
CHP_VERSION := 4.6.3
HUB_PROXY   := build/hub/node_modules/.bin/configurable-http-proxy
hub-proxy: $(HUB_PROXY)
$(HUB_PROXY):
	@if command -v npm >/dev/null; then \
		npm install --prefix build/hub --no-audit --no-fund --loglevel=error \
			configurable-http-proxy@$(CHP_VERSION); \
	else echo "no npm: the hub test (tests/test_hub.py) will be skipped"; fi

# The course as on Colab (tests/colab/run.py): Colab's freeze on Python 3.13 in
# .venv-colab, every notebook installed by its own setup cell, no preloaded package changed;
# each notebook that passed is recorded in build/notebook-runs/ for `make test`.
COLAB_PYTHON ?= $(or $(wildcard $(HOME)/.pyenv/versions/3.13.0/bin/python3.13),python3.13)
test-colab:
	$(COLAB_PYTHON) tests/colab/run.py $(COLAB_ARGS)

# The edit loop: everything but notebook runs and grading kernels (about a minute).
test-quick: setup lint
	$(TEST_ENV) $(BIN)/python -m pytest $(PYTEST_ARGS) \
		-m "not notebook and not grading" tests

# The course website (website/build.py): every notebook run in full mode with the course's
# weights (runs cached in build/site/runs/), as a student's copy shows it; build/site/html/.
# SITE_ARGS="08 --mode fast" builds one notebook's page from a fast run.
SITE_ARGS ?=
site: setup
	$(BIN)/python -m website.build $(SITE_ARGS)

# No outputs, the course kernel, JupyterLab's own JSON (scripts/notebook_form.py).
strip: setup
	$(BIN)/python scripts/notebook_form.py

clean:
	rm -rf $(VENV)

# ---------------------------------------------------------------- for instructors (nbgrader)
# docs/instructors.md. ASSIGNMENT: a name, comma-separated names, or all.
ASSIGNMENT ?= all
STUDENT    ?=
SHARD      ?=
FROM       ?= sample_class/02_stacked_autoencoders
JOBS       ?= 2
# fast mode: instructor/workflow/nbgrader_cli.py's NBGRADER_DEFAULTS, unless COURSE_MODE is set
INSTRUCTOR  = MPLBACKEND=Agg $(BIN)/python -m instructor

.PHONY: release solutions sample-class collect autograde merge-shards feedback grades
.PHONY: report similarity lms-export lms-feedback gradescope test-gradescope

release: setup          ## notebooks/ -> release/ (student version)
	$(INSTRUCTOR) release --assignment "$(ASSIGNMENT)"

solutions: setup        ## notebooks/ -> solutions/ (answer key)
	$(INSTRUCTOR) solutions --assignment "$(ASSIGNMENT)"

sample-class: setup     ## synthetic submissions in sample_class/<assignment>/
	$(INSTRUCTOR) sample-class --assignment "$(if $(filter all,$(ASSIGNMENT)),02_stacked_autoencoders,$(ASSIGNMENT))"

collect: setup          ## FROM (folder or zip) -> submitted/<student>/<ASSIGNMENT>/
	$(INSTRUCTOR) collect --assignment "$(ASSIGNMENT)" "$(FROM)"

autograde: setup        ## grade everyone (or STUDENT=id) into gradebook.db, JOBS at a time
	$(INSTRUCTOR) autograde --assignment "$(ASSIGNMENT)" --jobs "$(JOBS)" $(if $(STUDENT),--student "$(STUDENT)") $(if $(SHARD),--shard "$(SHARD)") $(if $(SKIP_CANARY),--skip-canary) $(if $(RERUN_CANARY),--rerun-canary)

merge-shards: setup     ## after autograde SHARD=1/N ... SHARD=N/N: results into the course
	$(INSTRUCTOR) merge-shards $(if $(DROP_OLDER),--drop-older)

feedback: setup         ## feedback/<student>/<assignment>/ (HTML without hidden tests)
	$(INSTRUCTOR) feedback --assignment "$(ASSIGNMENT)" $(if $(STUDENT),--student "$(STUDENT)")

grades: setup           ## grades.csv
	$(INSTRUCTOR) grades --to grades.csv

report: setup           ## reports/<ASSIGNMENT>/index.html: the class at a glance (+ CSV)
	$(INSTRUCTOR) report --assignment "$(ASSIGNMENT)"

similarity: setup       ## similar answers per task, side by side in the report
	$(INSTRUCTOR) similarity --assignment "$(ASSIGNMENT)"

lms-export: setup       ## LMS=canvas|moodle FROM=<its gradebook CSV> -> lms/<ASSIGNMENT>_<LMS>.csv
	$(INSTRUCTOR) lms-export --assignment "$(ASSIGNMENT)" --lms "$(LMS)" "$(FROM)" $(if $(MAPPING),--mapping "$(MAPPING)") $(if $(OVERWRITE),--overwrite) $(if $(TASKS),--tasks) $(if $(POINTS),--points "$(POINTS)") $(if $(COLUMN),--column "$(COLUMN)") $(if $(ALLOW_STALE),--allow-stale)

lms-feedback: setup     ## [LMS=canvas|moodle] feedback/ -> lms/<ASSIGNMENT>_feedback_<LMS>.zip (bulk upload)
	$(INSTRUCTOR) lms-feedback --assignment "$(ASSIGNMENT)" $(if $(LMS),--lms "$(LMS)")

gradescope: setup       ## build/gradescope/<ASSIGNMENT>/autograder.zip (ASSIGNMENT=all: each graded one)
	$(INSTRUCTOR) gradescope --assignment "$(ASSIGNMENT)"

# A one-node Slurm cluster on this machine until Ctrl-C (in the background: SIGTERM,
# kill %1), to try deploy/slurm/ on (root;
# apt-get install slurmctld slurmd slurm-client munge): docs/schedulers.md.
CPUS ?=
.PHONY: slurm-cluster
slurm-cluster:
	$(PYTHON) scripts/slurm_cluster.py $(if $(CPUS),--cpus $(CPUS))

# ---------------------------------------------------------------- benchmarks (docs/results.md)
ROWS ?=

.PHONY: bench-notebooks bench-reference bench-grading bench-slurm bench-similarity

bench-notebooks: setup  ## fast-mode time and kernel peak memory of every notebook
	MPLBACKEND=Agg $(BIN)/python benchmarks/notebook_runs.py

bench-reference: setup  ## source recipes vs course recipes (long: ROWS="vanilla vae_mse")
	$(BIN)/python benchmarks/reference_results.py $(ROWS)

bench-grading: setup    ## autograde a synthetic class of 30
	MPLBACKEND=Agg $(BIN)/python benchmarks/autograde_class.py

bench-slurm: setup      ## a class of 120 through a one-node Slurm array and on one machine (root; slurm-wlm, munge)
	MPLBACKEND=Agg $(BIN)/python benchmarks/slurm_class.py

bench-similarity: setup ## similar answers among 1,000 generated answers to one task
	$(BIN)/python benchmarks/similarity_class.py

# ---------------------------------------------------------------- pre-trained weights
NOTEBOOKS ?=

.PHONY: weights
weights: setup          ## retrain the shipped weights in full mode (long: NOTEBOOKS="04 08")
	MPLBACKEND=Agg $(BIN)/python scripts/train_weights.py $(NOTEBOOKS)
