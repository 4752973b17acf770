# onmt_moe — two commands do everything: `make demo` and `make test`.
PYTHON      ?= python3
VENV        ?= .venv
# Pick your own torch build here, e.g. TORCH_SPEC="torch==2.13.0 --index-url <your CUDA wheel index>".
TORCH_SPEC  ?= torch==2.13.0
BIN         := $(VENV)/bin
PY          := $(BIN)/python
# pip byte-compiles what it installs. Keep it: where PYTHONDONTWRITEBYTECODE=1 (as on CI here), Python
# never caches what it compiles, and with `pip --no-compile` every onmt_* process of the tests compiled
# torch again (measured: the suite took 14 min 22 s instead of about 7 min 30 s).
PIP         := $(PY) -m pip install -q

.PHONY: install test lint docs demo demo-glycan install-glycan bench bench-quality bench-paper bench-levers bench-glycan-real bench-glycan-twin clean-venv install-extras install-predict data-large data-small data-paper compare-benchmark model-real bench-real finetune-real analyze realism

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip
	$(PIP) $(TORCH_SPEC)
	$(PIP) --no-deps OpenNMT-py==3.5.1
	$(PIP) -r requirements.txt
	$(PIP) --no-deps -e .
	$(PY) -m onmt_moe.plugin.autoload install
	touch $@

# onmt_moe_predict's MS/MS readers (matchms); its tests run under `make test`.
# torch/numpy/scipy/pandas/rdkit/networkx stay pinned; matchms and sparsestack go in with --no-deps
# (their metadata would downgrade scipy and networkx, see requirements-predict.txt).
# The pins every extra installs against (written once, after the core install).
$(VENV)/extras-pin.txt: $(VENV)/.installed
	$(PY) -m pip freeze | grep -iE '^(torch|numpy|scipy|pandas|rdkit|networkx)==' > $@

$(VENV)/.predict-installed: $(VENV)/extras-pin.txt requirements-predict.txt requirements-predict-nodeps.txt
	$(PIP) -c $(VENV)/extras-pin.txt -r requirements-predict.txt
	$(PIP) --no-deps -r requirements-predict-nodeps.txt
	touch $@

install-predict: $(VENV)/.predict-installed

test: install install-predict
	OMP_NUM_THREADS=1 $(PY) -m pytest -q -n 2 --dist loadfile tests

# Lint (pyflakes, statement errors, import order) and formatting, both configured in ruff.toml.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(PY) scripts/check_links.py

demo: install
	$(PY) scripts/demo.py

# docs/results.md from the tables in benchmark/results/ (tests/test_docs.py checks it is up to date)
docs: install
	$(PY) scripts/make_results_doc.py

# one multi-task glycan model (structure, spectrum, text, retrieval) on CPU; needs the glycan extras
demo-glycan: install install-glycan
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-2} $(PY) scripts/demo_glycan.py

# the analysis tools on a run folder: parameters (MoE active), gradient-norm summary, profile with PROFILE=1,
# into RUN/analysis/:  make analyze RUN=runs/glycan_demo [PROFILE=1]
analyze: install
	@test -n "$(RUN)" || { echo "usage: make analyze RUN=runs/NAME [PROFILE=1]" >&2; exit 2; }
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-2} $(PY) scripts/analyze_model.py --run $(RUN) $(if $(filter 1 yes true,$(PROFILE)),--profile)

# only the glycan extras (glypy, glycowork; no torch involvement), torch stays pinned
install-glycan: $(VENV)/extras-pin.txt
	$(PIP) -c $(VENV)/extras-pin.txt -r requirements-glycan.txt

bench: install
	$(PY) scripts/bench_moe.py
	$(PY) scripts/bench_generate_input.py

bench-quality: install
	OMP_NUM_THREADS=1 $(PY) scripts/bench_quality.py

# The paper's Table 1 at CPU scale (7 inputs x dense/MoE/MoE-no-tag); resumable in <= 2.5 h pieces:
# run it again until it prints the whole table. PAPER_DATA: every modality simulated for the demo's
# small-molecule list (`make data-paper`, same molecules, seed and NMR draws as `make demo`); point it at
# `make data-large` output for benchmark-like molecules (slower to learn; see docs/demo_recipe.md).
PAPER_DATA  ?= data/paper_small
PAPER_N     ?= 30000
PAPER_STEPS ?= 2000
PAPER_SEEDS ?= 1,2
data-paper: install
	@if [ -f $(PAPER_DATA)/summary.json ]; then echo "$(PAPER_DATA) exists"; else \
	OMP_NUM_THREADS=1 $(PY) scripts/simulate_dataset.py --out $(PAPER_DATA) --n $(PAPER_N) --seed 0 --fast \
		--workers 2 --chunk-size 5000 --max-heavy 14 --smiles-file data/demo/small_tier_molecules.smi.gz --quiet; fi
bench-paper: install data-paper
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-2} $(PY) scripts/bench_paper.py --data $(PAPER_DATA) --steps $(PAPER_STEPS) --seeds $(PAPER_SEEDS) --max_hours 2.5

# The demo's recipe levers (runs/levers.py), one at a time, scored on the validation split and on 400
# training molecules. Builds the demo corpus and, for the all_molecules lever, one of the whole bundled
# list; the with_ir_* / with_msms_* levers build theirs from `make data-paper` (all skipped when present).
# Resumable in <= 2.5 h pieces.
bench-levers: install data-paper
	$(PY) scripts/demo.py --data_only
	$(PY) scripts/demo.py --data data/demo_small_all --molecules 44432 --data_only
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-2} $(PY) scripts/bench_levers.py --max_hours 2.5

# Glycan structures from simulated spectra, scored on the three shared real LC-MS/MS sets (closed-set
# library of N/O glycans, reduced-end ion-trap simulator; onmt_moe/runs/glycan_real.py). Resumable.
# REAL_GLYCAN: the three real sets, committed under data/real_glycan (see its README). About 1.5 h on 2 cores.
REAL_GLYCAN ?= data/real_glycan
bench-glycan-real: install install-extras
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-2} $(PY) scripts/bench_glycan_real.py --real $(REAL_GLYCAN) --workers 2

# bench-glycan-real plus each real set's matched subset beside its simulated twin, scored by the same model
bench-glycan-twin: install install-extras
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-2} $(PY) scripts/bench_glycan_real.py --real $(REAL_GLYCAN) --workers 2 --twin

# Optional: the glycan dataset build (glycowork) and the full NMR simulator (csp5); torch stays pinned.
install-extras: install-predict $(VENV)/extras-pin.txt
	$(PIP) -c $(VENV)/extras-pin.txt -r requirements-glycan.txt -r requirements-simulate.txt

# Benchmark-scale simulated set: 200,000 MOSES molecules (molsets wheel data, read without
# importing molsets), benchmark-like filter, --fast NMR, chunks of 3,200 rows like the real set.
# Deterministic for SEED; progress and rejects are printed / written to $(LARGE_OUT).
LARGE_N   ?= 200000
LARGE_OUT ?= data/large
SEED      ?= 0
WORKERS   ?= 2
data-large: install
	$(PIP) --no-deps molsets==0.3.1
	OMP_NUM_THREADS=1 $(PY) scripts/simulate_dataset.py --out $(LARGE_OUT) --n $(LARGE_N) --seed $(SEED) \
		--fast --workers $(WORKERS) --source moses --tier benchmark --chunk-size 3200

# Faster-learning small tier (NOT benchmark-like): BRICS fragments of MOSES molecules, <= 13 heavy atoms.
SMALL_N   ?= 20000
data-small: install
	$(PIP) --no-deps molsets==0.3.1
	OMP_NUM_THREADS=1 $(PY) scripts/simulate_dataset.py --out data/small --n $(SMALL_N) --seed $(SEED) \
		--fast --workers $(WORKERS) --source moses --tier small --brics --chunk-size 3200

# A formula + 1H + 13C model of whole molecules chemists measure (onmt_moe/runs/model_real.py); a few hours on
# 2 cores, resumable: run it again after a stop. Then `make bench-real` scores it on measured spectra.
model-real: install
	$(PIP) --no-deps molsets==0.3.1
	$(PY) scripts/model_real.py

# A model scored on measured NMR (onmt_moe/runs/real_spectra.py): top-1/5/10 by decoding, input and size,
# into benchmark/results/real_spectra.{csv,md}. REAL_NMR: a TSV in data/real_nmr's layout.
MODEL    ?= runs/model_real
REAL_NMR ?= data/real_nmr/literature.tsv
bench-real: install install-predict
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-2} $(PY) benchmark/evaluate_real.py --model $(MODEL) --data $(REAL_NMR)

# model-real continued on measured spectra (scripts/finetune_real.py): the finetune part of REAL_FT,
# validated on its val part; the test molecules of REAL_NMR are never trained on. REAL_FT defaults to the
# committed literature set; add a larger TSV of the same layout (e.g. the nmrshiftdb2-based set that
# data/real_nmr/README.md describes) for about 1,000 examples. Resumable; then `make bench-real MODEL=runs/model_real_ft/model_step_N.pt`.
REAL_FT ?= data/real_nmr/literature.tsv
finetune-real: install install-predict
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-2} $(PY) scripts/finetune_real.py --data $(REAL_FT) --scored $(REAL_NMR)

# The simulator against measured spectra (scripts/simulator_realism.py) into benchmark/results/simulator_realism.csv:
# MS/MS vs MassBank (data/real_msms), NMR vs the literature set, IR vs NIST gas-phase spectra when IR_DIR names
# jcamp's data/infrared_spectra folder (git clone https://github.com/nzhagen/jcamp; see data/real_ir/README.md).
# Without IR_DIR the IR part is skipped and its rows in the table are kept. About a minute.
IR_DIR ?=
realism: install install-predict
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(PY) scripts/simulator_realism.py --ir_dir "$(IR_DIR)"

# Real benchmark example rows vs our simulation of the same molecules.
compare-benchmark: install
	OMP_NUM_THREADS=1 $(PY) scripts/compare_to_benchmark.py

clean-venv:
	rm -rf $(VENV)
