#!/usr/bin/env bash
# Serve a class from N app processes behind Debian's nginx, with sticky sessions:
#
#   scripts/serve_class.sh N [--listen 0.0.0.0] [--port P] [--max-jobs J] [...]
#
# Starts N `streamlit run app.py` replicas on free loopback ports and nginx in front of them,
# prints the URL to give the students, and stops everything it started on Ctrl-C, SIGTERM or
# any failure. `scripts/serve_class.sh --help` lists the options; docs/deploy.md says how
# many replicas and cores a class needs. The work is done by scripts/serve_class.py (it owns
# the processes, their cleanup and the port choice); this wrapper picks the interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${PYTHON:-python3}" scripts/serve_class.py "$@"
