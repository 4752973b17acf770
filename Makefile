# onmt_moe — two commands do everything: `make demo` and `make test`.
PYTHON      ?= python3
VENV        ?= .venv
# Pick your own torch build here, e.g. TORCH_SPEC="torch==2.13.0 --index-url <your CUDA wheel index>".
TORCH_SPEC  ?= torch==2.13.0
BIN         := $(VENV)/bin
PY          := $(BIN)/python

.PHONY: install test demo bench bench-quality clean-venv install-extras data-large data-small compare-benchmark

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH_SPEC)
	$(PY) -m pip install -q --no-deps OpenNMT-py==3.5.1
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	$(PY) -m onmt_moe.autoload install
	touch $@

test: install
	OMP_NUM_THREADS=1 $(PY) -m pytest -q tests

demo: install
	$(PY) scripts/demo.py

bench: install
	$(PY) scripts/bench_moe.py
	$(PY) scripts/bench_generate_input.py

bench-quality: install
	OMP_NUM_THREADS=1 $(PY) scripts/bench_quality.py

# Optional: the glycan dataset build (glycowork) and the full NMR simulator (csp5); torch stays pinned.
install-extras: install
	echo "torch==$$($(PY) -c 'import torch; print(torch.__version__)')" > $(VENV)/torch-pin.txt
	$(PY) -m pip install -q -c $(VENV)/torch-pin.txt -r requirements-glycan.txt -r requirements-simulate.txt

# Benchmark-scale simulated set: 200,000 MOSES molecules (molsets wheel data, read without
# importing molsets), benchmark-like filter, --fast NMR, chunks of 3,200 rows like the real set.
# Deterministic for SEED; progress and rejects are printed / written to $(LARGE_OUT).
LARGE_N   ?= 200000
LARGE_OUT ?= data/large
SEED      ?= 0
WORKERS   ?= 2
data-large: install
	$(PY) -m pip install -q --no-deps molsets==0.3.1
	OMP_NUM_THREADS=1 $(PY) scripts/simulate_dataset.py --out $(LARGE_OUT) --n $(LARGE_N) --seed $(SEED) \
		--fast --workers $(WORKERS) --source moses --tier benchmark --chunk-size 3200

# Faster-learning small tier (NOT benchmark-like): BRICS fragments of MOSES molecules, <= 13 heavy atoms.
SMALL_N   ?= 20000
data-small: install
	$(PY) -m pip install -q --no-deps molsets==0.3.1
	OMP_NUM_THREADS=1 $(PY) scripts/simulate_dataset.py --out data/small --n $(SMALL_N) --seed $(SEED) \
		--fast --workers $(WORKERS) --source moses --tier small --brics --chunk-size 3200

# Real benchmark example rows vs our simulation of the same molecules.
compare-benchmark: install
	OMP_NUM_THREADS=1 $(PY) scripts/compare_to_benchmark.py

clean-venv:
	rm -rf $(VENV)
