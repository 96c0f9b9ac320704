# hybridnet: each target sets itself up first (scripts/setup.sh is idempotent).
PARAMS ?= params/lab.yaml
VENV := .venv/bin

.PHONY: setup run test jupyter emulator-stop baselines clean

setup:
	@scripts/setup.sh

run: setup  ## run the runbook on the embedded emulator (and the lab when root)
	$(VENV)/hybridnet run --params $(PARAMS)

# Two workers (pytest-xdist), a module at a time each, each with its own test lab.
test: setup  ## the whole test suite, nbval included
	$(VENV)/python -m pytest --numprocesses 2 --dist loadfile

# JupyterLab on the runbook, root included: the emulator (and, as root, the lab's agent) as `run`
# starts them; on 127.0.0.1 only, with a token; prints the URL. JUPYTER_ARGS: e.g. --port 8890.
jupyter: setup  ## open the notebooks in JupyterLab (127.0.0.1, token), against the emulator and lab `run` uses
	$(VENV)/python -m hybridnet.jupyter --params $(PARAMS) $(JUPYTER_ARGS)

emulator-stop:
	$(VENV)/hybridnet emulator stop

baselines: setup  ## re-execute the notebooks in place: their outputs are nbval's expected results
	$(VENV)/python scripts/refresh_baselines.py

clean:
	-$(VENV)/hybridnet emulator stop
	rm -rf outputs/2*-run outputs/interactive
