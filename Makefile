# Two commands for a fresh machine with Python 3.11+ and make: `make crawl` and `make test`.
# Both create ./.venv and install cascrawl into it on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: setup crawl demo test test-fast docs docs-serve export serve bench bench-crawl bench-realpages api-contract mutation clean

# Old pips (23.x) cannot resolve the lxml[html-clean] extras scrapy pulls in: upgrade pip first.
$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,docs]'
	touch $(INSTALLED)

setup: $(INSTALLED)

## crawl www.cas.cn into ./cascrawl.db (extra options: make crawl ARGS="--section syky --max-pages 2")
crawl: $(INSTALLED)
	$(BIN)/cascrawl crawl $(ARGS)

## serve the bundled fixture copy of the site on 127.0.0.1 and crawl it into ./cascrawl-demo.db
demo: $(INSTALLED)
	$(BIN)/cascrawl demo $(ARGS)

## print the stored articles as JSON lines
export: $(INSTALLED)
	$(BIN)/cascrawl export $(ARGS)

## the read API and the operator page on http://127.0.0.1:8000/ (make serve ARGS="--db sqlite:///other.db --port 8080")
serve: $(INSTALLED)
	$(BIN)/cascrawl serve $(ARGS)

## run the test suite (offline; PostgreSQL tests need 127.0.0.1:5432, the browser test /usr/bin/chromium; see docs/development.md)
## in TEST_WORKERS processes (pytest-xdist): most tests wait on crawls in child processes, so more workers than
## cores pay; worksteal: an idle worker takes tests queued at a busy one. One process: TEST_WORKERS=0.
TEST_WORKERS ?= 4
test: $(INSTALLED)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal $(ARGS)

## the fast subset, after every change: no child process, no PostgreSQL, Redis or browser (markers: pyproject.toml)
test-fast: $(INSTALLED)
	$(BIN)/python -m pytest -m "not slow and not postgres and not redis and not browser" $(ARGS)

## the documentation site, built offline from docs/ into ./site (open site/index.html; --strict: a broken link fails)
docs: $(INSTALLED)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

## the documentation site on http://127.0.0.1:8001/, rebuilt on every change
docs-serve: $(INSTALLED)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr 127.0.0.1:8001

## storage throughput on SQLite and PostgreSQL (10,000 synthetic articles; extra options: ARGS="--batch-size 1000")
bench: $(INSTALLED)
	$(BIN)/python scripts/bench_storage.py $(ARGS)

## the OpenAPI schema is the contract: schemathesis against `cascrawl serve` of the demo database (make demo first;
## ARGS="--db URL --max-examples 500 --seed N")
api-contract: $(INSTALLED)
	$(BIN)/python scripts/api_contract.py $(ARGS)

## crawl throughput: cascrawl against a bare Scrapy spider on a generated 3,000-article copy (ARGS="--articles 1000 --rounds 1")
bench-crawl: $(INSTALLED)
	$(BIN)/python scripts/bench_crawl.py $(ARGS)

## extraction on ../shared/realpages (real pages, hand-made labels) against the installed peers; prints the table
bench-realpages: $(INSTALLED)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python scripts/bench_realpages.py $(ARGS)

## mutation testing of the fast pure modules (mutmut; slow: not part of `make test` or CI); prints the score
MUTATION_CHILDREN ?= 2
mutation: $(INSTALLED)
	$(BIN)/python -m pip install --quiet -e '.[test,mutation]'
	$(BIN)/mutmut run --max-children $(MUTATION_CHILDREN) > mutmut.log 2>&1 || { tail -c 3000 mutmut.log; exit 1; }
	$(BIN)/python scripts/mutation_score.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache mutants mutmut.log site
