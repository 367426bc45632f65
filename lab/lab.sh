#!/usr/bin/env bash
# The NodeLocal DNSCache before/after lab: lab/lab.sh up | run before | run after | down | all | status
# [-d SECS] [-c N per pod] [-l MS] [--hosts N] [--timeout-ms MS] [--services N]. Needs root. See lab/README.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec node --import tsx lab/lab.ts "$@"
