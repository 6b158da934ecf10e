# ckptctl: `make demo` to see it work, `make test` to check it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SAMPLES := build/samples

.PHONY: install lock demo test lint format docs bench clean

install: $(STAMP)

# The dev environment is pinned: `make install` installs exactly the versions in $(LOCK), so
# every machine (and CI) tests the same packages. `make lock` re-resolves them on purpose.
LOCK  := requirements/dev.lock
HOLDS := requirements/holds.txt
LOCK_VENV := build/lock-venv

# Editable install with tensorflow-cpu and the dev tools, constrained to the lock. tf-keras
# (Keras 2, for the compatibility tests) declares a dependency on the full `tensorflow` wheel,
# so it goes in without dependencies, at the version the lock pins (TensorFlow's).
$(STAMP): pyproject.toml setup.py ckptctl/_scan.c ckptctl/_kernels.c $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -qq -c $(LOCK) pip
	$(BIN)/python -m pip install -qq -c $(LOCK) -e '.[tensorflow-cpu,dev]'
	$(BIN)/python -m pip install -qq --no-deps -c $(LOCK) tf-keras
	touch $(STAMP)

# Resolve the newest versions pyproject.toml allows (minus the holds in $(HOLDS)) in a
# throwaway venv with the newest pip, and pin them all in $(LOCK) (pip and setuptools too):
# tf-keras at TensorFlow's version, ckptctl itself left out. Run it on purpose, then review
# the diff, run `make test`, and commit both files.
lock:
	rm -rf $(LOCK_VENV)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install -qq --upgrade pip  # older resolvers give up on s3fs
	$(LOCK_VENV)/bin/python -m pip install -qq -c $(HOLDS) -e '.[tensorflow-cpu,dev]'
	$(LOCK_VENV)/bin/python -m pip install -qq --no-deps "tf-keras~=$$($(LOCK_VENV)/bin/python -c \
	  'from importlib.metadata import version; print(".".join(version("tensorflow-cpu").split(".")[:2]))').0"
	{ echo "# Pinned dev environment for \`make install\` (pip install -c), written by \`make lock\`."; \
	  echo "# Do not edit by hand: change pyproject.toml or $(HOLDS), then run \`make lock\`."; \
	  echo "# Resolved on $$($(LOCK_VENV)/bin/python -c 'import platform; print(platform.system(), platform.machine(), "Python", platform.python_version())')."; \
	  $(LOCK_VENV)/bin/python -m pip freeze --all --exclude ckptctl; } > $(LOCK).tmp
	mv $(LOCK).tmp $(LOCK)
	rm -rf $(LOCK_VENV)

demo: install
	@echo "--- training three small sample models, a checkpoint after each step"
	$(BIN)/python -m sample_models.train --out $(SAMPLES)
	@echo "--- what a checkpoint holds"
	$(BIN)/ckptctl inspect $(SAMPLES)/my_model
	@echo "--- its object graph"
	$(BIN)/ckptctl inspect $(SAMPLES)/custom_model --tree
	@echo "--- the model code restores it: every value, bit for bit, and the same outputs"
	$(BIN)/ckptctl restore $(SAMPLES)/my_model --model sample_models.models:MyModel \
	  --input-shape 4,20 --optimizer adam
	@echo "--- a model whose layer was renamed: ckptctl says what does not fit (exit 1)"
	$(BIN)/ckptctl restore $(SAMPLES)/my_model --model sample_models.broken:RenamedModel \
	  --input-shape 4,20; test $$? -eq 1
	@echo "--- the same restore, told about the rename"
	$(BIN)/ckptctl restore $(SAMPLES)/my_model --model sample_models.broken:RenamedModel \
	  --input-shape 4,20 --map dense1=encoder
	@echo "--- what the last training step changed (exit 1: they differ)"
	$(BIN)/ckptctl diff $(SAMPLES)/my_model/ckpt-2 $(SAMPLES)/my_model/ckpt-3 --model-only; \
	  test $$? -eq 1
	@echo
	@echo "--- now your own checkpoint (a directory, a prefix, or a Keras .weights.h5):"
	@echo "    $(BIN)/ckptctl inspect PATH/TO/YOUR/CHECKPOINT"

# The oldest versions pyproject.toml allows (requirements/oldest.txt), without TensorFlow:
# tests/test_oldest_versions.py runs ckptctl's TensorFlow-free commands under them.
OLDEST := build/oldest-venv
OLDEST_PINS := requirements/oldest.txt

$(OLDEST)/.installed: $(OLDEST_PINS)
	rm -rf $(OLDEST)
	$(PYTHON) -m venv $(OLDEST)
	$(OLDEST)/bin/python -m pip install -qq --only-binary=:all: -r $(OLDEST_PINS)
	touch $@

test: install $(OLDEST)/.installed
	CKPTCTL_OLDEST_PYTHON=$(OLDEST)/bin/python $(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# docs/CLI.md, the command-line reference, from each command's --help at 80 columns
# (tests/test_cli_reference.py fails while it is stale).
docs: install
	$(BIN)/python docs/cli_reference.py

# Benchmarks against TensorFlow's own tools: builds ~9 GB of checkpoints under bench/.data
# once (reused; `bench/run.py --rebuild` rewrites them), then prints the table.
bench: install
	$(BIN)/python bench/run.py

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache
