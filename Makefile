# edgetune — set up a fresh Debian machine and run the pipeline or the tests.
#   make repro   venv + Python deps + Debian TTS engines, then `dvc repro` on the default params, `dvc push`
#   make test    the same set-up, then the test suite
#   make review BASE=<git ref>   params/metrics diffs and both sides' plots → review/report.md
#   make bench   the benchmarks → bench/results.md
# Both are idempotent: stamps under .make/ skip the set-up once it is done.

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMPS := .make
# Stages call plain `python`: make sure it is the project's venv.
export PATH := $(abspath $(BIN)):$(PATH)
export TF_CPP_MIN_LOG_LEVEL := 3

# Debian packages: the TTS engines the synthetic dataset speaks with; chromium, in which the tests
# check that the plots HTML renders offline.
APT_PACKAGES := flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts chromium \
  festvox-czech-dita festvox-czech-krb festvox-czech-machac festvox-czech-ph festvox-suopuhe-lj festvox-suopuhe-mv \
  festvox-italp16k festvox-itapc16k festvox-ca-ona-hts
SUDO := $(shell [ "$$(id -u)" = 0 ] && echo "" || (command -v sudo >/dev/null && echo sudo || echo MISSING))

.PHONY: setup repro test bench review plots-template clean-setup
setup: $(STAMPS)/system.stamp $(STAMPS)/python.stamp

$(STAMPS)/system.stamp: Makefile
	@mkdir -p $(STAMPS)
	@missing=$$(echo $$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q "install ok installed" || echo $$p; done)); \
	if [ -n "$$missing" ]; then \
	  if [ "$(SUDO)" = MISSING ]; then \
	    echo "edgetune: please install these Debian packages by hand (needs root): apt-get install $$missing" >&2; exit 1; \
	  fi; \
	  echo "edgetune: installing Debian packages: $$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi
	@touch $@

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMPS)/python.stamp: requirements.txt $(BIN)/python
	@mkdir -p $(STAMPS)
	$(BIN)/python -m pip install -q -r requirements.txt
	@touch $@

# then pushes every cached output to the default remote (a local directory, .dvc/config): a clone's
# `dvc pull`, and `make review` of an older commit, find them there.
repro: setup
	$(BIN)/dvc repro
	$(BIN)/dvc push

test: setup
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python bench/run_all.py

# Compares BASE with the workspace (reproduce first): review/report.md + review/plots/*.png.
# BASE's cached outputs (plots/table.png, report/figures/…) are fetched from the remote first.
review: setup
	@[ -n "$(BASE)" ] || { echo "usage: make review BASE=<git ref>, e.g. BASE=HEAD~1 or BASE=origin/main" >&2; exit 2; }
	$(BIN)/python tools/review.py --base "$(BASE)"

# Only after changing a version pinned in assets/plots/package.json (needs Node + npm); the
# template it writes is committed, so nothing else needs Node.
plots-template:
	cd assets/plots && npm ci --ignore-scripts
	$(BIN)/python assets/plots/build.py

clean-setup:
	rm -rf $(STAMPS)
