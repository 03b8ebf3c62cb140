# localbatch: the two commands of the README are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint unit bench docs install clean

# Install the package and its test tools into a private virtual environment, once per
# change of pyproject.toml. PIP_CONSTRAINT keeps the official SDK's old setup script working.
$(STAMP): pyproject.toml constraints/build.txt
	$(PYTHON) -m venv $(VENV)
	PIP_CONSTRAINT=$(CURDIR)/constraints/build.txt $(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# First README command: run the split -> count -> merge example end to end on the
# embedded local OSS root.
# The default image is built locally once (no registry needed), in the Docker engine when
# one answers and for the daemon-less sandbox runtime. Without an engine, the sandbox needs
# bubblewrap and building the image needs debootstrap and root: as root they are installed
# here, otherwise `localbatch run` / `localbatch images build` say what to install or run.
demo: $(STAMP)
	@docker info >/dev/null 2>&1 || { command -v bwrap >/dev/null && command -v debootstrap >/dev/null; } \
		|| [ "$$(id -u)" != 0 ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq bubblewrap debootstrap >/dev/null; }
	@if docker info >/dev/null 2>&1 || [ "$$(id -u)" = 0 ]; then $(BIN)/localbatch images build; fi
	$(BIN)/python examples/logcount/stage.py
	$(BIN)/localbatch run examples/logcount/job.json
	$(BIN)/localbatch oss cat oss://localbatch-demo/logcount/result/result.json

lint: $(STAMP)
	$(BIN)/ruff check localbatch tests bench
	$(BIN)/ruff format --check localbatch tests bench
	$(BIN)/mypy

# Second README command: linters, then the whole test suite.
test: lint
	$(BIN)/pytest -q -ra

unit: $(STAMP)
	$(BIN)/pytest -q -ra tests/unit tests/conformance

bench: $(STAMP)
	$(BIN)/python -m bench

# The parts of README.md and docs/ written from the code (command list, error catalogues,
# instance types, tables of contents); a test fails while they are out of date.
docs: $(STAMP)
	$(BIN)/python -m localbatch.docgen

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
