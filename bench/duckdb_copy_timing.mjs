// The DuckDB half of bench/parquet_vs_duckdb: builds the telemetry rows in an in-memory table
// (not timed), then times COPY ... TO parquet (zstd). Uses the @duckdb/node-api installed under
// tests/tools. Usage: node duckdb_copy_timing.mjs ROWS OUT.parquet THREADS LEVEL
import { createRequire } from 'module';
import { fileURLToPath } from 'url';
import path from 'path';
import fs from 'fs';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', 'tests', 'tools', 'package.json'));
const { DuckDBInstance } = require('@duckdb/node-api');

const [rows, out, threads, level] = process.argv.slice(2);
const instance = await DuckDBInstance.create(':memory:');
const conn = await instance.connect();
await conn.run(`SET threads=${Number(threads)}`);
await conn.run(`CREATE TABLE t AS SELECT
    i AS id,
    (i * 2654435761) % 1000 AS vehicle_id,
    make_timestamp(1767225600000000 + i * 1000) AS ts,
    ((i * 48271) % 2000)::DOUBLE / 10.0::DOUBLE AS speed,
    48.0::DOUBLE + ((i * 69621) % 1000000)::DOUBLE / 1e6::DOUBLE AS lat,
    11.0::DOUBLE + ((i * 40692) % 1000000)::DOUBLE / 1e6::DOUBLE AS lon,
    ['ok', 'idle', 'moving', 'charging', 'fault'][((i * 31 + i // 1000) % 5) + 1] AS status,
    CASE WHEN i % 17 = 0 THEN NULL
         ELSE printf('{"seq":%d,"t":%d,"b":%d,"fw":"1.%d"}', i, (i * 37) % 120, (i * 13) % 100, i % 7)
    END AS payload
  FROM range(${Number(rows)}) r(i)`);
const start = process.hrtime.bigint();
await conn.run(`COPY t TO '${out}' (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL ${Number(level)})`);
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
console.log(`duckdb_seconds ${seconds.toFixed(3)}`);
console.log(`duckdb_rows_per_second ${(Number(rows) / seconds).toFixed(0)}`);
console.log(`duckdb_bytes ${fs.statSync(out).size}`);
