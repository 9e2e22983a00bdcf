# The README's commands. Everything is installed on first use and cached outside the repo:
#   the virtualenv under $(FAIRSHARE_CACHE)/venv/<hash of pyproject.toml>, the Go-built control plane under
#   $(FAIRSHARE_CACHE)/bin/<component>-<version>, the mypyc-compiled core under
#   $(FAIRSHARE_CACHE)/core-compiled/<hash of its sources>, Go's module and build caches where Go keeps them.
SHELL := /bin/bash
FAIRSHARE_CACHE ?= $(HOME)/.cache/fairshare
export FAIRSHARE_CACHE
PYTHON ?= python3
# Keyed by the dependency lists only, so editing tool settings in pyproject.toml does not rebuild torch's venv.
VENV_KEY := $(shell $(PYTHON) -c 'import hashlib, json, tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; print(hashlib.sha256(json.dumps([p["dependencies"], p.get("optional-dependencies", {})], sort_keys=True).encode()).hexdigest()[:12])')
VENV ?= $(FAIRSHARE_CACHE)/venv/$(VENV_KEY)
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
UP_ARGS ?=

.PHONY: up down test lint venv core toolchain system-deps clean-cache scale-check

## up: the embedded default: local control plane with kwok GPU nodes, the operator, sample tenants and jobs
up: venv core system-deps toolchain
	$(VENV)/bin/fairshare up $(UP_ARGS)

## down: stop everything `make up` started
down: venv
	$(VENV)/bin/fairshare down

## test: the whole suite (unit, integration on the real local control plane, e2e), as CI runs it
test: venv core system-deps toolchain
	@set +e; $(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests; that is a failure here" >&2; exit 1; fi; \
	exit $$rc

## scale-check: Kueue's baseline shape at a tenth (1,500 jobs, 30 tenants) on the local control plane, the
## operator's wall time and time to admission against bare pods' on the same run (benchmarks/thresholds.yaml, ci)
scale-check: venv core toolchain
	PYTHONPATH=operator:benchmarks timeout 900 $(PY) benchmarks/kueue_harness.py --scale 0.1 --systems bare,operator --check ci

## lint: ruff, mypy on the pure core and the SDK, and the import contracts (a pure core; no torch outside the trainer)
lint: venv
	$(VENV)/bin/ruff check operator tests benchmarks trainer_image charts
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

venv: $(VENV)/.deps-installed
	@# Re-point the editable install at this checkout (cheap), so a cached venv serves any clone.
	@$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .

# No prerequisite: the venv's path is the hash of the dependency lists, so a new clone (newer mtimes) reuses it.
$(VENV)/.deps-installed:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel
	$(PY) -m pip install --quiet -e '.[dev,trainer]'
	touch $@

## core: compile the scheduling core with mypyc (cached by a hash of its sources; it runs as Python without it)
core: venv
	$(PY) -m fairshare.corebuild

## system-deps: Debian's prometheus (server and promtool), used by the metrics and dashboard tests
system-deps:
	@command -v promtool >/dev/null 2>&1 || { \
	  echo "Installing Debian's prometheus (promtool)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }

## toolchain: build (once, cached by version) etcd, kube-apiserver, controller-manager, scheduler, kubectl, kwok, helm
toolchain: venv
	$(VENV)/bin/fairshare toolchain

clean-cache:
	rm -rf $(FAIRSHARE_CACHE)
