#!/usr/bin/env bash
# A five-minute tour of dvlin on the embedded defaults: init, commit, modify, commit, status,
# log, show, tag, checkout of the old version, a byte-for-byte comparison, the lock, du.
# Usage: bash examples/quickstart.sh [WORKDIR]   (default: a new temporary folder)
set -euo pipefail

DVLIN=${DVLIN:-dvlin}
work=${1:-$(mktemp -d -t dvlin-quickstart.XXXXXX)}
mkdir -p "$work"
cd "$work"
echo "# working in $work"

run() { echo; echo "\$ dvlin $*"; $DVLIN "$@"; }

# Some data: a folder of event files, one CSV table among them.
mkdir -p data/events/2026-10
python3 - <<'PY'
import os, random
rng = random.Random(42)
for day in range(1, 31):
    with open(f"data/events/2026-10/{day:02d}.csv", "w") as f:
        f.write("event_id,user,amount\n")
        for i in range(200):
            f.write(f"{day * 1000 + i},u{rng.randint(1, 50)},{rng.randint(1, 500)}\n")
with open("data/events/README.txt", "w") as f:
    f.write("October events, one CSV per day.\n")
PY

run init
run commit data/events --name events -m "october dump" --meta source=warehouse
cp -r data/events expected_v1   # kept aside only to prove the checkout below is exact
echo "late arrivals" >> data/events/README.txt
mkdir -p data/events/2026-11
printf 'event_id,user,amount\n99001,u7,42\n' > data/events/2026-11/01.csv
run status
run commit data/events --name events -m "november"
run log events
run show events@v1
run tag events@v2 release-2026-11
run ls
run checkout events@v1 --to old_events
echo
diff -r expected_v1 old_events && echo "# old_events is byte-identical to events@v1"
echo
echo "\$ cat dvlin.lock   # pins the data next to the code: commit it to git"
cat dvlin.lock
run lock --check
run du
run status --json
echo
echo "# done: see $work"
