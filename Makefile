# The README's two commands are `make demo` and `make test`; both build .venv first.
VENV := .venv
PY := $(VENV)/bin/python
OUT ?= results

.PHONY: venv demo test quick lint bench notebooks notebooks-store clean interop

venv:
	@bash scripts/bootstrap.sh

demo: venv  ## the main job on the embedded default data
	$(VENV)/bin/spiking-mcc run --out $(OUT)

quick: venv
	$(VENV)/bin/spiking-mcc run --quick --out $(OUT)-quick

test: venv  ## lint + the whole test suite (what .ci/run calls)
	$(VENV)/bin/ruff check spiking_mcc conversion loihi_targets tests tests_interop benchmarks scripts
	$(PY) -m pytest

interop: venv  ## NIR with snnTorch, Norse, sinabs, SpikingJelly in a Python 3.11 env (docs/conversion.md, NIR)
	@bash scripts/interop_env.sh
	$(PY) scripts/interop_project.py export build/interop
	.venv-interop/bin/python -m pytest -c tests_interop/pytest.ini -q -rA tests_interop

bench: venv
	@for script in benchmarks/bench_*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

notebooks: venv  ## execute the notebooks (and check their stored outputs)
	$(PY) -m pytest tests/test_notebooks.py

notebooks-store: venv  ## re-execute notebooks/*.ipynb and store them with their outputs
	$(PY) scripts/execute_notebooks.py

clean:
	rm -rf $(VENV) .venv-interop build/interop results results-quick .pytest_cache
