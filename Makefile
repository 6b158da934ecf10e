# ckptctl: `make demo` to see it work, `make test` to check it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SAMPLES := build/samples

.PHONY: install demo test lint format bench clean

install: $(STAMP)

# Editable install with tensorflow-cpu and the dev tools. tf-keras (Keras 2, for the
# compatibility tests) declares a dependency on the full `tensorflow` wheel, so it goes in
# without dependencies, at the version matching the installed TensorFlow.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -qq -e '.[tensorflow-cpu,dev]'
	$(BIN)/python -m pip install -qq --no-deps "tf-keras~=$$($(BIN)/python -c \
	  'from importlib.metadata import version; print(".".join(version("tensorflow-cpu").split(".")[:2]))').0"
	touch $(STAMP)

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

test: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Benchmarks against TensorFlow's own tools: builds ~6.7 GB of checkpoints under bench/.data
# once (reused; `bench/run.py --rebuild` rewrites them), then prints the table.
bench: install
	$(BIN)/python bench/run.py

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache
