# Two entry points for a newcomer on a fresh machine; each does its own setup.
#   make demo   - set up and run the main example
#   make test   - set up and run the whole test suite, then the layer check
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test bench lines clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) examples/demo.py

test: $(STAMP)
	$(PY) -m pytest tests -q -n 2
	@if [ -f ../shared/tools/check_layers.py ]; then \
	  $(PY) ../shared/tools/check_layers.py . && echo "layer check: ok"; fi

# torch (CPU build) is optional: without it the torch.func column shows "-".
bench: $(STAMP)
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q -e '.[bench]' || \
	  echo "torch is not installable here: the torch.func column will show '-'"
	$(PY) benchmarks/run.py

lines:
	@wc -l functorch_lite/core/*.py functorch_lite/interpreters/*.py | tail -1

clean:
	rm -rf $(VENV)
