# Shared by the bench/ scripts (sourced, not run): timing helpers, the strata binary, and the
# PostgreSQL telemetry table.

now() { date +%s.%N; }
calc() { echo "$*" | bc -l; }
min() { calc "if ($1 < $2) $1 else $2"; }
say() { printf '%s  %s\n' "$(date +%T)" "$*" >&2; }

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
