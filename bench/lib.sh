# Shared by the bench/ scripts (sourced, not run): timing helpers, the strata binary, and the
# PostgreSQL telemetry table.

now() { date +%s.%N; }
calc() { echo "$*" | bc -l; }
min() { calc "if ($1 < $2) $1 else $2"; }
max() { calc "if ($1 > $2) $1 else $2"; }
say() { printf '%s  %s\n' "$(date +%T)" "$*" >&2; }

# settle: waits until the machine is idle before a timed run, so that no pair pays for the
# background work an earlier step left behind (InnoDB purging a million deleted rows takes one
# core for 10 s after a move; autovacuum after a bulk load). Idle: under 5% of all CPUs busy
# (user, system, irq; not steal or iowait) for 3 consecutive half-second windows. Gives up after
# SETTLE_MAX seconds (default 120) and says so. Adds the seconds waited to settled_total.
settled_total=0
settle() {
  local start=$SECONDS quiet=0 b0 t0 b1 t1
  stat_cpu() {
    local _ u n s i w x y
    read -r _ u n s i w x y _ </proc/stat
    echo "$((u + n + s + x + y)) $((u + n + s + i + w + x + y))"
  }
  read -r b0 t0 <<<"$(stat_cpu)"
  while ((quiet < 3)); do
    if ((SECONDS - start >= ${SETTLE_MAX:-120})); then
      say "settle: still busy after ${SETTLE_MAX:-120} s; measuring anyway"
      break
    fi
    sleep 0.5
    read -r b1 t1 <<<"$(stat_cpu)"
    if ((t1 > t0 && 100 * (b1 - b0) < 5 * (t1 - t0))); then quiet=$((quiet + 1)); else quiet=0; fi
    b0=$b1; t0=$t1
  done
  settled_total=$((settled_total + SECONDS - start))
}

# The strata binary: $STRATA, else build-bench/strata, else build/strata; absolute path.
find_strata() {
  local s="${STRATA:-}"
  if [[ -z "$s" ]]; then
    s=./build-bench/strata
    [[ -x "$s" ]] || s=./build/strata
  fi
  [[ -x "$s" ]] || { echo "build first: cmake --build build-bench --target strata" >&2; exit 2; }
  realpath "$s"
}

# load_pg TABLE ROWS: the telemetry table on PostgreSQL (needs a `pg` function running psql):
# id bigint key, vehicle_id, ts spread evenly over the last 90 days with an index, lat, lon,
# speed, heading, status, a ~60-byte payload. The key and the index are built after the rows.
load_pg() {
  pg <<EOF >/dev/null
SET client_min_messages = warning;
DROP TABLE IF EXISTS $1;
CREATE TABLE $1 (id bigint NOT NULL, vehicle_id int NOT NULL, ts timestamptz NOT NULL,
  lat double precision, lon double precision, speed real, heading int, status text, payload text);
INSERT INTO $1
SELECT g, g % 1000,
  now() - interval '90 days' + (g - 1) * (interval '90 days' / $2),
  52.0::float8 + (g % 10000) / 10000.0::float8, 13.0::float8 + (g % 7919) / 7919.0::float8,
  (g % 1300) / 10.0::float8, g % 360, (ARRAY['ok', 'ok', 'idle', 'moving', 'alarm'])[1 + g % 5],
  '{"fw":"v' || g % 17 || '","odo":' || g * 7 % 1000003 || ',"note":"'
    || left(md5(g::text), 26) || '"}'
FROM generate_series(1, $2) g;
ALTER TABLE $1 ADD PRIMARY KEY (id);
CREATE INDEX ${1}_ts ON $1 (ts);
ANALYZE $1;
EOF
}

# Impact on a concurrent workload, measured in interleaved windows: while PID runs, it is
# alternately stopped (SIGSTOP: the workload runs alone) and resumed (SIGCONT: the workload runs
# beside it) for WINDOW seconds each, until PID exits or SECS pass. The windows are written to
# FILE as "START END alone|during" (epoch seconds). Alone and during windows alternate every few
# seconds, so both see the same machine: this shared machine's own drift over minutes (pgbench's
# p99 alone moves by 2x between runs a minute apart) cancels out. PID is left running.
interleave() {  # PID WINDOW SECS FILE
  local pid=$1 win=$2 file=$4 state=alone t0 stop_at
  stop_at=$(calc "$(now) + $3")
  : >"$file"
  while kill -0 "$pid" 2>/dev/null && [[ $(calc "$(now) < $stop_at") == 1 ]]; do
    t0=$(now)
    if [[ $state == alone ]]; then kill -STOP "$pid" 2>/dev/null; else kill -CONT "$pid" 2>/dev/null; fi
    sleep "$win"
    echo "$t0 $(now) $state" >>"$file"
    if [[ $state == alone ]]; then state=during; else state=alone; fi
  done
  kill -CONT "$pid" 2>/dev/null || true
}

# "P99_MS COUNT" of the pgbench transactions (per-transaction logs LOG_PREFIX.*: latency in µs is
# field 3, the end time fields 5 and 6) that ended inside FILE's windows of STATE, leaving out the
# first 0.3 s of each window (transactions begun in the previous one).
p99_in() {  # LOG_PREFIX FILE STATE
  cat "$1".* | awk -v wf="$2" -v st="$3" '
    BEGIN { while ((getline line < wf) > 0) { split(line, f, " ")
              if (f[3] == st) { n++; a[n] = f[1] + 0.3; b[n] = f[2] } } }
    { t = $5 + $6 / 1e6
      for (i = 1; i <= n; i++) if (t >= a[i] && t < b[i]) { print $3; break } }' |
    sort -n | awk '{v[NR] = $1} END {
      i = int(NR * 0.99); if (i < NR * 0.99) i++; if (i < 1) i = 1
      printf "%.3f %d", (NR ? v[i] : 0) / 1000, NR }'
}
