# Two commands: `make run` (embedded hub, demo) and `make test` (whole suite on PostgreSQL + Redis).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test venv services bench soak clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/zhongshu up

services:
	bash .ci/services.sh

test: $(STAMP) services
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP) services
	$(PY) -m bench.ledger

# the fault campaign: `make soak SEEDS=200` runs many seeds, `make soak SEED=N` replays one
soak: $(STAMP) services
	$(PY) -m bench.chaos $(if $(SEED),--seed $(SEED),--seeds $(or $(SEEDS),200)) $(SOAK_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis
