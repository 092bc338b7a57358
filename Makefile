# Two commands set everything up on a fresh machine:
#   make demo   virtualenv + install + the main job on CPU with the tiny preset (SHC headlines)
#   make test   virtualenv + install (with the dev extra) + the whole test suite
PYTHON   ?= python3
VENV     ?= .venv
BIN      := $(VENV)/bin
DATA_DIR ?= ../shared/data/mahanews
# The demo runs on the short headlines (SHC): the whole study, teacher included, in minutes.
# The LPC paragraphs (make demo VARIANT=lpc) take several times as long: longer sequences.
VARIANT  ?= shc
# torch goes in first so that pip never pulls the multi-GB CUDA build onto a CPU-only machine.
# Outside this workplace's CPU wheel mirror, use e.g. TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_SPEC  ?= torch==2.13.0
TORCH_INDEX ?=
HAS_GPU := $(shell command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 && echo 1)

.PHONY: demo test install install-dev lint bench bench-timing clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.torch: | $(BIN)/python
ifeq ($(HAS_GPU),1)
	$(BIN)/pip install -q "$(TORCH_SPEC)"
else
	$(BIN)/pip install -q "$(TORCH_SPEC)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
endif
	touch $@

$(VENV)/.installed: pyproject.toml $(VENV)/.torch
	$(BIN)/pip install -q -e .
	@if [ -z "$(HAS_GPU)" ] && $(BIN)/pip list 2>/dev/null | grep -qi '^nvidia-'; then \
		echo "warning: CUDA packages were installed on a machine without a GPU"; fi
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/pip install -q -e '.[dev]'
	# The reference implementation, for the parity test only: it does not import as released on
	# Python 3.11 (the test patches a copy), and its pinned requirements must not touch ours.
	$(BIN)/pip install -q --no-deps nn-pruning==0.1.2
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# Each demo is a new study (the tiny teacher is cached, so only the first run trains it).
DEMO_NAME ?= demo-$(shell date +%Y%m%d-%H%M%S)
# Two trials side by side, one thread each: they train together and measure one at a time
# (trainables/measure/lock.py). Measured on a busy 2-core machine: 4-6x the training steps per
# second of one trial on two threads.
DEMO_TRIALS ?= 2

demo: install
	$(BIN)/python -m study.run --grid paper --preset tiny --data-dir $(DATA_DIR) \
		--variant $(VARIANT) --storage-path $(CURDIR)/results --name $(DEMO_NAME) \
		--max-concurrent $(DEMO_TRIALS) --cpus-per-trial 1

test: install-dev
	$(BIN)/python -m pytest -q

lint: install-dev
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: install
	$(BIN)/python -m trainables.commands.bench

# speedup noise and measuring time: by batch count vs by budget (trainables/measure/budget.py)
bench-timing: install
	OMP_NUM_THREADS=1 $(BIN)/python -m trainables.commands.bench_timing

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
